# shellcheck shell=bash
# A throwaway Dovecot IMAP server for the integration tests, authenticating through
# pam_apppass.so under pam_wrapper. Sourced (not run) by dovecot_imap.sh,
# dovecot_cache.sh and dovecot_broker.sh, which use `set -euo pipefail`.
#
# Nothing outside a private temp dir is touched: Dovecot runs as a throwaway instance
# with its own config, base_dir and state_dir on 127.0.0.1, and pam_wrapper points
# libpam at our own service files instead of /etc/pam.d.
#
#   dl_start "$@" NAME        checks the arguments (APPPASS PAM_SO) and root (else exit
#                             77); makes TMP (removed on exit, Dovecot stopped first) and
#                             sets APPPASS PAM_SO PY TMP BASE_DIR LOG CONF STORE PAMDIR
#                             HOOKS PORT
#   ap ARGS...                the admin tool on $STORE, with the hooks in $HOOKS (none
#                             until a test creates the directory: never the system's)
#   enroll_mfa USER           enroll and confirm (oathtool)
#   create_pw USER NAME [SCOPE...]          prints "ID PASSWORD"
#   write_pam_services SERVICE...           pam_apppass.so on $STORE for each service
#   write_dovecot_conf FILE PASSDB_ARGS AUTH_CACHE_SETTINGS
#   start_dovecot             starts it from $CONF and waits for the IMAP greeting
#   stop_dovecot              stops it (dl_cleanup does too)
#   imap_login / accepts / refuses / pam_failure_since / module_lines_since
#   pass / fail / finish      "ok - ..." / "not ok - ..." lines, FAILED count, summary

dl_fatal() {
    echo "not ok - $*"
    exit 1
}

# dl_start APPPASS PAM_SO NAME: the common prologue (see above).
dl_start() {
    if [[ $# -ne 3 ]]; then
        echo "usage: $0 /path/to/apppass /path/to/pam_apppass.so" >&2
        exit 2
    fi
    if [[ $(id -u) -ne 0 ]]; then
        echo "skip - must run as root to start Dovecot"
        exit 77
    fi
    APPPASS=$(realpath -e "$1")
    PAM_SO=$(realpath -e "$2")      # PAM service files need an absolute path
    local tool
    for tool in dovecot doveadm oathtool; do
        command -v "$tool" >/dev/null || { echo "not ok - $tool not installed" >&2; exit 1; }
    done
    # Prefer the system interpreter: imaplib is all we need and a pyenv shim on
    # PATH may not be usable by CTest's environment.
    PY=/usr/bin/python3
    [[ -x $PY ]] || PY=$(command -v python3)

    # Under /tmp on purpose: Dovecot's unix sockets live below base_dir and a long
    # $TMPDIR could push them past the 108-byte sun_path limit.
    TMP=$(mktemp -d "/tmp/apppass-$3.XXXXXX")
    # The imap process runs as uid 65534 and must traverse TMP to reach its home.
    chmod 0755 "$TMP"
    BASE_DIR=$TMP/run
    LOG=$TMP/dovecot.log
    CONF=$TMP/dovecot.conf
    STORE=$TMP/store
    PAMDIR=$TMP/pam.d
    HOOKS=$TMP/hooks
    trap dl_cleanup EXIT
    trap "exit 130" INT
    trap "exit 143" TERM

    # Ask the kernel for an unused loopback port; the tiny window before Dovecot
    # binds it is acceptable for a test.
    PORT=$("$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
}

show_log() {
    [[ -f $LOG ]] || return 0
    echo "---- pam_apppass messages (last 15) ----"
    grep -o 'SYSLOG([0-9]*): .*' "$LOG" | tail -n 15 || true
    echo "---- tail of $LOG ----"
    grep -v -e 'PWRAP_' -e ': Error: $' "$LOG" | tail -n 30 || true
    echo "----"
}

# stop_dovecot: stops the instance started from $CONF, if running, and waits for its
# master to go (so its children release the temp dir).
stop_dovecot() {
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
        rm -f "$BASE_DIR/master.pid"
    fi
}

dl_cleanup() {   # dl_cleanup [RC]: the EXIT trap; RC defaults to the exit status
    local rc=$?
    [[ $# -eq 0 ]] || rc=$1
    if [[ $rc -ne 0 ]]; then show_log; fi
    stop_dovecot
    # pam_wrapper copies the service dir to /tmp/pam.? in every process it is
    # preloaded into, and Dovecot's children exit without running its
    # destructor. Remove only the copies of our own (uniquely named) files.
    local d
    for d in /tmp/pam.?; do
        if [[ -f $d/imap && -f $PAMDIR/imap ]] && cmp -s "$d/imap" "$PAMDIR/imap"; then
            rm -rf "$d" || true
        fi
    done
    rm -rf "$TMP"
    exit "$rc"
}

# ---- apppass store and accounts -------------------------------------------

json_get() {   # json_get KEY < json
    "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

ap() {
    "$APPPASS" --db "$STORE" --hooks-dir "$HOOKS" "$@"
}

# Called under ||, where set -e is off, so every step checks its own status.
enroll_mfa() {   # app passwords may only be issued to users with confirmed MFA
    local user=$1 out secret code
    out=$(ap mfa enroll "$user" --json) || return 1
    secret=$(json_get secret <<<"$out") || return 1
    code=$(oathtool --totp -b "$secret") || return 1
    ap mfa confirm "$user" "$code" >/dev/null
}

create_pw() {   # create_pw USER NAME [SCOPE...] -> prints "ID PASSWORD"; no SCOPE: --all-services
    local user=$1 name=$2 out id pw s
    shift 2
    local args=(--all-services)
    [[ $# -eq 0 ]] || args=()
    for s in "$@"; do args+=(--scope "$s"); done
    out=$(ap create "$user" --name "$name" "${args[@]}" --json) || return 1
    id=$(json_get id <<<"$out") || return 1
    pw=$(json_get password <<<"$out") || return 1
    [[ -n $id && -n $pw ]] || return 1
    printf '%s %s\n' "$id" "$pw"
}

# ---- PAM services seen through pam_wrapper --------------------------------

write_pam_services() {   # write_pam_services SERVICE...
    mkdir -p "$PAMDIR"
    local svc
    for svc in "$@"; do
        cat >"$PAMDIR/$svc" <<EOF
auth    required $PAM_SO db=$STORE
account required $PAM_SO db=$STORE
EOF
    done
    : >"$PAMDIR/other"
}

# ---- throwaway Dovecot ------------------------------------------------------

# write_dovecot_conf FILE PASSDB_ARGS AUTH_CACHE_SETTINGS: a config for one instance
# with base_dir, state_dir and log below $TMP (FILE other than $CONF gets its own
# base_dir, for an instance that is never started). DL_EXTRA_ENV, when set, is more
# VAR=VALUE words for Dovecot's import_environment.
write_dovecot_conf() {
    local file=$1 passdb_args=$2 cache=$3 base=$BASE_DIR
    [[ $file == "$CONF" ]] || base=$file.run
    # Sanitizer builds: CTest passes the ASan runtime in APPPASS_TEST_PRELOAD; it
    # must come first in LD_PRELOAD of the (unsanitized) Dovecot processes, which
    # then also need their address-space limit lifted for ASan's shadow memory.
    local env="LD_PRELOAD=libpam_wrapper.so${DL_EXTRA_ENV:+ $DL_EXTRA_ENV}" vsz="" var
    if [[ -n ${APPPASS_TEST_PRELOAD:-} ]]; then
        env="LD_PRELOAD=$APPPASS_TEST_PRELOAD:libpam_wrapper.so${DL_EXTRA_ENV:+ $DL_EXTRA_ENV}"
        for var in ASAN_OPTIONS UBSAN_OPTIONS; do
            if [[ -n ${!var:-} ]]; then env+=" $var=${!var}"; fi
        done
        vsz="default_vsz_limit = 0"
    fi

    mkdir -p "$TMP/state" "$TMP/home"
    chown 65534:65534 "$TMP/home"   # Dovecot creates each user's home/Maildir as 65534

    cat >"$file" <<EOF
base_dir = $base
state_dir = $TMP/state
instance_name = apppass-test-$$-${file##*/}
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

$cache

passdb {
  driver = pam
  args = $passdb_args
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
import_environment = TZ $env PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$PAMDIR PAM_WRAPPER_DEBUGLEVEL=3
$vsz
EOF
}

# Ready means an IMAP greeting, not just an open socket.
wait_ready() {
    "$PY" "$(dirname "${BASH_SOURCE[0]}")/../lib/wait_greeting.py" "$PORT" "* OK" 10
}

start_dovecot() {
    # The master inherits pam_wrapper's trace chatter on stderr; keep it aside.
    if ! dovecot -c "$CONF" 2>"$TMP/start.err"; then
        grep -v 'PWRAP_' "$TMP/start.err" || true
        dl_fatal "dovecot failed to start"
    fi
    wait_ready || dl_fatal "dovecot did not answer on 127.0.0.1:$PORT within 10 s"
    echo "ok - dovecot listens on 127.0.0.1:$PORT"
}

# ---- IMAP client and checks ------------------------------------------------

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

finish() {
    if [[ $FAILED -ne 0 ]]; then
        echo "FAIL - $FAILED check(s) failed"
        exit 1
    fi
    echo "PASS - all checks passed"
}

OUTCOME=("logged in" "refused" "error")

log_size() { stat -c %s "$LOG"; }

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

# module_lines_since OFFSET: pam_apppass's decision lines logged after OFFSET (through
# pam_wrapper they read "SYSLOG(PRIO): accepted service=..."; see show_log).
module_lines_since() {
    tail -c +$(($1 + 1)) "$LOG" | grep -oE 'SYSLOG\([0-9]+\): (accepted|refused|error) service=.*' || true
}

refuses() {   # refuses DESCRIPTION USER PASS
    local got=0 offset reason
    offset=$(log_size)
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
