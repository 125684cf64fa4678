#!/bin/bash
# End-to-end check of pam_apppass.so behind a real Dovecot IMAP server.
#
# Usage: dovecot_imap.sh /path/to/apppass /path/to/pam_apppass.so
# Exit: 0 pass, 1 fail, 77 skipped (needs root: Dovecot's master and auth
# worker must run as root for PAM, and a daemonized instance needs it too).
#
# Nothing outside a private temp dir is touched: Dovecot runs as a throwaway
# instance with its own config, and pam_wrapper points libpam at our own
# service files instead of /etc/pam.d.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 /path/to/apppass /path/to/pam_apppass.so" >&2
    exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "skip - must run as root to start Dovecot"
    exit 77
fi

APPPASS=$(realpath -e "$1")
PAM_SO=$(realpath -e "$2")      # PAM service files need an absolute path
for tool in dovecot oathtool; do
    command -v "$tool" >/dev/null || { echo "not ok - $tool not installed" >&2; exit 1; }
done
# Prefer the system interpreter: imaplib is all we need and a pyenv shim on
# PATH may not be usable by CTest's environment.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)

# Under /tmp on purpose: Dovecot's unix sockets live below base_dir and a long
# $TMPDIR could push them past the 108-byte sun_path limit.
TMP=$(mktemp -d /tmp/apppass-imap.XXXXXX)
# The imap process runs as uid 65534 and must traverse TMP to reach its home.
chmod 0755 "$TMP"
BASE_DIR=$TMP/run
LOG=$TMP/dovecot.log
CONF=$TMP/dovecot.conf
STORE=$TMP/store
PAMDIR=$TMP/pam.d

show_log() {
    [[ -f $LOG ]] || return 0
    echo "---- pam_apppass messages (last 15) ----"
    grep -o 'SYSLOG([0-9]*): .*' "$LOG" | tail -n 15 || true
    echo "---- tail of $LOG ----"
    grep -v -e 'PWRAP_' -e ': Error: $' "$LOG" | tail -n 30 || true
    echo "----"
}

cleanup() {
    local rc=$?
    if [[ $rc -ne 0 ]]; then show_log; fi
    if [[ -s $BASE_DIR/master.pid ]]; then
        local pid
        pid=$(cat "$BASE_DIR/master.pid")
        kill -TERM "$pid" 2>/dev/null || true
        # Wait for the master to go so its children release the temp dir.
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    # pam_wrapper copies the service dir to /tmp/pam.? in every process it is
    # preloaded into, and Dovecot's children exit without running its
    # destructor. Remove only the copies of our own (uniquely named) files.
    local d
    for d in /tmp/pam.?; do
        if [[ -f $d/imap ]] && cmp -s "$d/imap" "$PAMDIR/imap"; then
            rm -rf "$d" || true
        fi
    done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

fatal() {
    echo "not ok - $*"
    exit 1
}

# Ask the kernel for an unused loopback port; the tiny window before Dovecot
# binds it is acceptable for a test.
PORT=$("$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')

# ---- apppass store and accounts -------------------------------------------

json_get() {   # json_get KEY < json
    "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

ap() {
    "$APPPASS" --db "$STORE" "$@"
}

# Called under ||, where set -e is off, so every step checks its own status.
enroll_mfa() {   # app passwords may only be issued to users with confirmed MFA
    local user=$1 out secret code
    out=$(ap mfa enroll "$user" --json) || return 1
    secret=$(json_get secret <<<"$out") || return 1
    code=$(oathtool --totp -b "$secret") || return 1
    ap mfa confirm "$user" "$code" >/dev/null
}

ap init >/dev/null || fatal "apppass init"
enroll_mfa alice || fatal "apppass mfa enroll/confirm alice"
enroll_mfa bob || fatal "apppass mfa enroll/confirm bob"   # bob gets no app passwords

create_pw() {   # create_pw NAME [SCOPE...] -> prints "ID PASSWORD"
    local name=$1 out id pw s
    shift
    local args=()
    for s in "$@"; do args+=(--scope "$s"); done
    out=$(ap create alice --name "$name" "${args[@]}" --json) || return 1
    id=$(json_get id <<<"$out") || return 1
    pw=$(json_get password <<<"$out") || return 1
    printf '%s %s\n' "$id" "$pw"
}

out=$(create_pw mail-client imap) || fatal "apppass create --scope imap"
read -r IMAP_ID IMAP_PW <<<"$out"
out=$(create_pw pop-only pop3) || fatal "apppass create --scope pop3"
read -r POP_ID POP_PW <<<"$out"
out=$(create_pw any-service) || fatal "apppass create (no scope)"
read -r ANY_ID ANY_PW <<<"$out"
[[ -n $IMAP_ID && -n $POP_ID && -n $ANY_ID && -n $IMAP_PW && -n $POP_PW && -n $ANY_PW ]] || fatal "apppass create returned an empty id or password"

# ---- PAM services seen through pam_wrapper --------------------------------

mkdir -p "$PAMDIR"
for svc in imap pop3; do
    cat >"$PAMDIR/$svc" <<EOF
auth    required $PAM_SO db=$STORE
account required $PAM_SO db=$STORE
EOF
done
: >"$PAMDIR/other"

# ---- throwaway Dovecot ------------------------------------------------------

# Sanitizer builds: CTest passes the ASan runtime in APPPASS_TEST_PRELOAD; it
# must come first in LD_PRELOAD of the (unsanitized) Dovecot processes, which
# then also need their address-space limit lifted for ASan's shadow memory.
DOVECOT_ENV="LD_PRELOAD=libpam_wrapper.so"
VSZ_LINE=""
if [[ -n ${APPPASS_TEST_PRELOAD:-} ]]; then
    DOVECOT_ENV="LD_PRELOAD=$APPPASS_TEST_PRELOAD:libpam_wrapper.so"
    for var in ASAN_OPTIONS UBSAN_OPTIONS; do
        if [[ -n ${!var:-} ]]; then DOVECOT_ENV+=" $var=${!var}"; fi
    done
    VSZ_LINE="default_vsz_limit = 0"
fi

mkdir -p "$TMP/state" "$TMP/home"
chown 65534:65534 "$TMP/home"   # Dovecot creates each user's home/Maildir as 65534

cat >"$CONF" <<EOF
base_dir = $BASE_DIR
state_dir = $TMP/state
instance_name = apppass-test-$$
log_path = $LOG
# Logs every PAM failure with libpam's reason; the refusal checks read it.
auth_verbose = yes

protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $PORT
  }
  inet_listener imaps {
    port = 0
  }
}

# Every refusal would otherwise cost 2 s plus an anvil penalty per client IP.
# Even at 0 a refusal waits for the auth process's 500 ms failure-flush timer.
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}

# No cache: a revoked password must be refused on the very next login.
auth_cache_size = 0

passdb {
  driver = pam
  args = %s
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$TMP/home/%u
}
mail_location = maildir:~/Maildir

# pam_wrapper replaces pam_syslog() with its own logging, and shows messages
# with a facility (LOG_AUTHPRIV | level) only at trace level 3. Its output
# lands in the Dovecot log, where show_log picks out the module's lines.
# Trace level also logs PAM_AUTHTOK in clear: fine for throwaway passwords only.
import_environment = TZ $DOVECOT_ENV PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$PAMDIR PAM_WRAPPER_DEBUGLEVEL=3
$VSZ_LINE
EOF

# The master inherits pam_wrapper's trace chatter on stderr; keep it aside.
if ! dovecot -c "$CONF" 2>"$TMP/start.err"; then
    grep -v 'PWRAP_' "$TMP/start.err" || true
    fatal "dovecot failed to start"
fi

# Ready means an IMAP greeting, not just an open socket.
wait_ready() {
    "$PY" - "$PORT" <<'EOF'
import socket, sys, time
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2) as s:
            if s.recv(64).startswith(b"* OK"):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
EOF
}
wait_ready || fatal "dovecot did not answer on 127.0.0.1:$PORT within 10 s"
echo "ok - dovecot listens on 127.0.0.1:$PORT"

# ---- IMAP client -------------------------------------------------------------

# imap_login USER PASS: 0 = logged in, 1 = refused with [AUTHENTICATIONFAILED],
# 2 = anything else. A crashing auth worker yields "[UNAVAILABLE] Temporary
# authentication failure", which must not pass for a refusal. The password
# goes through the environment so quoting never matters.
imap_login() {
    IMAP_USER=$1 IMAP_PASS=$2 "$PY" - "$PORT" <<'EOF'
import imaplib, os, sys
try:
    conn = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]), timeout=10)
    conn.login(os.environ["IMAP_USER"], os.environ["IMAP_PASS"])
except imaplib.IMAP4.error as e:
    if "[AUTHENTICATIONFAILED]" in str(e):
        sys.exit(1)
    print("  server said:", e, file=sys.stderr)
    sys.exit(2)
except Exception as e:
    print("  client error:", repr(e), file=sys.stderr)
    sys.exit(2)
try:
    conn.logout()
except Exception:
    pass
sys.exit(0)
EOF
}

FAILED=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; FAILED=$((FAILED + 1)); }

OUTCOME=("logged in" "refused" "error")

accepts() {   # accepts DESCRIPTION USER PASS
    local got=0
    imap_login "$2" "$3" || got=$?
    if [[ $got -eq 0 ]]; then pass "$1"; else fail "$1 (got: ${OUTCOME[got]})"; fi
}

# Dovecot answers [AUTHENTICATIONFAILED] for any PAM error, so a refusal only
# counts if the auth worker logged PAM_AUTH_ERR, not e.g. an unusable store.
pam_failure_since() {   # pam_failure_since OFFSET USER -> libpam's error text
    local line _
    for _ in $(seq 20); do   # the log process may lag the reply a little
        line=$(tail -c +$(($1 + 1)) "$LOG" | grep -F "pam($2," |
               grep -o 'pam_authenticate() failed: .*' | tail -n 1 || true)
        if [[ -n $line ]]; then
            echo "${line#pam_authenticate() failed: }"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

refuses() {   # refuses DESCRIPTION USER PASS
    local got=0 offset reason
    offset=$(stat -c %s "$LOG")
    imap_login "$2" "$3" || got=$?
    if [[ $got -ne 1 ]]; then
        fail "$1 (got: ${OUTCOME[got]})"
        return
    fi
    reason=$(pam_failure_since "$offset" "$2") || reason="nothing logged"
    if [[ $reason == "Authentication failure"* ]]; then
        pass "$1"
    else
        fail "$1 (refused, but PAM said: $reason)"
    fi
}

# Input is normalized: case, spaces and dashes do not matter.
accepts "imap-scoped app password logs in over IMAP" alice "$IMAP_PW"
accepts "same password in upper case logs in" alice "${IMAP_PW^^}"
accepts "same password without dashes logs in" alice "${IMAP_PW//-/}"
accepts "same password with spaces for dashes logs in" alice "${IMAP_PW//-/ }"

# The well-formed wrong password differs from ours with overwhelming
# probability; make sure.
WRONG=abcd-efgh-jkmn-pqrs-tuvw
[[ ${WRONG^^} != "${IMAP_PW^^}" ]] || WRONG=wxyz-wxyz-wxyz-wxyz-wxyz
refuses "well-formed wrong password is refused" alice "$WRONG"
refuses "junk password is refused" alice "x"
refuses "password of only dashes is refused" alice "----"

# Scopes: an empty scope list means any service.
refuses "pop3-only app password is refused over IMAP" alice "$POP_PW"
accepts "unscoped app password logs in over IMAP" alice "$ANY_PW"

# Last use is recorded with service and client address.
last_use() {   # last_use ID -> "SERVICE RHOST"
    ap list alice --json | "$PY" -c '
import json, sys
for e in json.load(sys.stdin):
    if str(e["id"]) == sys.argv[1]:
        print(e.get("last_service") or "-", e.get("last_rhost") or "-")' "$1"
}
USE=$(last_use "$IMAP_ID" || true)
if [[ $USE == "imap 127.0.0.1" ]]; then
    pass "list shows last_service=imap last_rhost=127.0.0.1"
else
    fail "list shows last_service=imap last_rhost=127.0.0.1 (got '$USE')"
fi

# Revocation takes effect at once.
if ap revoke alice "$IMAP_ID" >/dev/null; then pass "apppass revoke"; else fail "apppass revoke"; fi
refuses "revoked app password is refused at once" alice "$IMAP_PW"
accepts "other app password still logs in after revoke" alice "$ANY_PW"

# Users without app passwords; a password is bound to its owner.
refuses "user without app passwords is refused (even with another user's)" bob "$ANY_PW"
refuses "user unknown to the store is refused" nosuchuser "$ANY_PW"

# The module logs its decisions, never a password.
module_lines=$(grep -o 'SYSLOG([0-9]*): .*' "$LOG" || true)
leaked=no
for pw in "$IMAP_PW" "$POP_PW" "$ANY_PW"; do
    if grep -qiF -e "$pw" -e "${pw//-/}" <<<"$module_lines"; then leaked=yes; fi
done
if [[ -z $module_lines ]]; then
    fail "pam_apppass logged its decisions (no lines found)"
elif [[ $leaked == yes ]]; then
    fail "pam_apppass logged its decisions without any password (a password leaked)"
else
    pass "pam_apppass logged its decisions without any password"
fi

if [[ $FAILED -ne 0 ]]; then
    echo "FAIL - $FAILED check(s) failed"
    exit 1
fi
echo "PASS - all checks passed"
