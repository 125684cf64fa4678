#!/bin/bash
# End-to-end check of libapppass.so inside a real Postfix smtpd, driven by swaks.
#
# Usage: test_postfix.sh /path/to/libapppass.so /path/to/apppass
# Exit: 0 pass, 1 fail, 77 skipped (needs root: Postfix's master runs as root, and smtpd
# must start as root to chroot and become user postfix, which is what this proves).
#
# A throwaway Postfix instance runs from a private config directory (postfix -c DIR
# start) with its queue, data directory and log file in a temp dir, listening on a free
# port of 127.0.0.1; DIR/sasl/smtpd.conf names our store and import_environment points
# SASL_PATH at a directory holding only our plugin (or, with APPPASS_POSTFIX_SASL_PATH
# set, at that directory: the package test uses the system's plugin directory, where the
# stock PLAIN and LOGIN sit next to ours). The system's /etc/postfix is only
# read (for its checksum, compared at the end) and never changed.
#
# smtpd opens the store as root in sasl_server_init, then chroots to the queue directory
# and runs as user postfix. The store is deliberately left unreadable by user postfix,
# so every accepted login proves that the descriptors opened before the chroot are all
# that is needed.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 /path/to/libapppass.so /path/to/apppass" >&2
    exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "skip - must run as root to start Postfix"
    exit 77
fi

PLUGIN=$(realpath -e "$1")
APPPASS=$(realpath -e "$2")
for tool in postfix postconf swaks oathtool runuser; do
    command -v "$tool" >/dev/null || { echo "not ok - $tool not installed"; exit 1; }
done
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)

TMP=$(mktemp -d /tmp/apppass-postfix.XXXXXX)
chmod 0755 "$TMP"
CONF=$TMP/etc            # config_directory: main.cf, master.cf, sasl/smtpd.conf
SPOOL=$TMP/spool         # queue_directory, also smtpd's chroot
DATA=$TMP/data           # data_directory
LOG=$TMP/maillog         # maillog_file (no syslog needed)
STORE=$TMP/store
PLUGINS=$TMP/plugins     # SASL_PATH for smtpd: our plugin only
SMTPD_SASL_PATH=${APPPASS_POSTFIX_SASL_PATH:-$PLUGINS}

etc_sum() { find /etc/postfix -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum | sha256sum; }
ETC_BEFORE=$(etc_sum)
STARTED=no

show_log() {
    [[ -f $LOG ]] || return 0
    echo "---- tail of $LOG ----"
    tail -n 40 "$LOG" | sed 's/^/#   /' || true
    echo "----"
}

stop_postfix() {
    [[ $STARTED == yes ]] || return 0
    STARTED=no
    local pid=""
    [[ -s $SPOOL/pid/master.pid ]] && pid=$(tr -d ' \n' <"$SPOOL/pid/master.pid")
    postfix -c "$CONF" stop >/dev/null 2>&1 || true
    # Wait for the master (and with it its children) so nothing holds the temp dir.
    if [[ -n $pid ]]; then
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
}

cleanup() {
    local rc=$?
    stop_postfix
    if [[ $rc -ne 0 && $rc -ne 77 ]]; then show_log; fi
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

FAILED=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; FAILED=$((FAILED + 1)); }

# Sanitizer builds: CTest passes the ASan runtime in APPPASS_TEST_PRELOAD; it must come
# first in LD_PRELOAD of the (unsanitized) Postfix daemons that load our plugin. A report
# from smtpd is written after its chroot, so it goes to a directory inside the chroot that
# user postfix may write; the test fails if anything lands there.
PRELOAD_ENV=""
ASAN_REPORTS=$SPOOL/asan-reports
if [[ -n ${APPPASS_TEST_PRELOAD:-} ]]; then
    PRELOAD_ENV="LD_PRELOAD=$APPPASS_TEST_PRELOAD ASAN_OPTIONS=${ASAN_OPTIONS:-}:log_path=/asan-reports/asan"
    if [[ -n ${UBSAN_OPTIONS:-} ]]; then PRELOAD_ENV+=" UBSAN_OPTIONS=$UBSAN_OPTIONS:log_path=/asan-reports/ubsan"; fi
fi

PORT=$("$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')

# ---- apppass store and accounts -------------------------------------------

json_get() {   # json_get KEY < json
    "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
ap() { "$APPPASS" --db "$STORE" "$@"; }

enroll_mfa() {
    local user=$1 out secret code
    out=$(ap mfa enroll "$user" --json) || return 1
    secret=$(json_get secret <<<"$out") || return 1
    code=$(oathtool --totp -b "$secret") || return 1
    ap mfa confirm "$user" "$code" >/dev/null
}

create_pw() {   # create_pw NAME [SCOPE...] -> prints "ID PASSWORD"; no SCOPE: --all-services
    local name=$1 out id pw s
    shift
    local args=(--all-services)
    [[ $# -eq 0 ]] || args=()
    for s in "$@"; do args+=(--scope "$s"); done
    out=$(ap create alice --name "$name" "${args[@]}" --json) || return 1
    id=$(json_get id <<<"$out") || return 1
    pw=$(json_get password <<<"$out") || return 1
    printf '%s %s\n' "$id" "$pw"
}

ap init >/dev/null 2>&1 || fatal "apppass init"
enroll_mfa alice || fatal "apppass mfa enroll/confirm alice"
out=$(create_pw mail-app smtp imap) || fatal "apppass create --scope smtp --scope imap"
read -r MAIL_ID MAIL_PW <<<"$out"
out=$(create_pw laptop) || fatal "apppass create --all-services"
read -r ANY_ID ANY_PW <<<"$out"
out=$(create_pw imap-only imap) || fatal "apppass create --scope imap"
read -r IMAP_ID IMAP_PW <<<"$out"

# The store stays root-only: user postfix cannot open it by path.
chmod 0700 "$STORE"
if runuser -u postfix -- test -r "$STORE/data.mdb"; then
    fatal "user postfix can read the store by path; the test would prove nothing"
fi
pass "the store is not readable by user postfix (only descriptors opened as root can reach it)"

# ---- throwaway Postfix --------------------------------------------------------

mkdir -p "$CONF/sasl" "$SPOOL" "$DATA" "$PLUGINS" "$ASAN_REPORTS"
ln -s "$PLUGIN" "$PLUGINS/libapppass.so"
chown postfix "$DATA" "$ASAN_REPORTS"
chmod 0700 "$ASAN_REPORTS"

cat >"$CONF/sasl/smtpd.conf" <<EOF
mech_list: PLAIN LOGIN
apppass_db: $STORE
EOF

cat >"$CONF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $SPOOL
data_directory = $DATA
maillog_file = $LOG
maillog_file_prefixes = $TMP
myhostname = apppass-test.localdomain
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = loopback-only
inet_protocols = ipv4
smtpd_banner = \$myhostname ESMTP
smtpd_peername_lookup = no
smtpd_error_sleep_time = 0
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
smtpd_sasl_security_options = noanonymous
smtpd_tls_security_level = none
smtpd_tls_auth_only = no
smtpd_relay_restrictions = permit_sasl_authenticated, reject
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C SASL_PATH=$SMTPD_SASL_PATH $PRELOAD_ENV
EOF

cat >"$CONF/master.cf" <<EOF
127.0.0.1:$PORT inet n - y - - smtpd
anvil     unix  -       -       y       -       1       anvil
postlog   unix-dgram n  -       n       -       1       postlogd
EOF

postfix -c "$CONF" check >"$TMP/check.out" 2>&1 || { cat "$TMP/check.out"; fatal "postfix check"; }
if ! postfix -c "$CONF" start >"$TMP/start.out" 2>&1; then
    cat "$TMP/start.out"
    fatal "postfix -c $CONF start"
fi
STARTED=yes

wait_ready() {
    "$PY" "$(dirname "${BASH_SOURCE[0]}")/../lib/wait_greeting.py" "$PORT" 220 15
}
if ! wait_ready; then
    fatal "postfix did not answer on 127.0.0.1:$PORT within 15 s"
fi
pass "postfix smtpd answers on 127.0.0.1:$PORT"

# ---- swaks ----------------------------------------------------------------------

# auth MECH USER PASS: prints the server's reply code to the AUTH exchange (235, 535, ...).
auth() {
    local out code
    out=$(swaks --server "127.0.0.1:$PORT" --auth "$1" --auth-user "$2" --auth-password "$3" \
                --quit-after AUTH --timeout 20 2>&1) || true
    # The last server reply line of the exchange (swaks prints server lines as "<-" or "<~").
    code=$(grep -E '^<(-|\*\*|~) +[0-9]{3}[ -]' <<<"$out" | grep -v -E '^<(-|\*\*|~) +(220|221|250|334)' |
           tail -n 1 | sed -E 's/^<(-|\*\*|~) +([0-9]{3}).*/\2/')
    if [[ -z $code ]]; then
        while IFS= read -r l; do echo "#   swaks: $l"; done <<<"$out" >&2
        code=none
    fi
    echo "$code"
}

expect() {   # expect CODE DESCRIPTION MECH USER PASS
    local want=$1 what=$2 got
    got=$(auth "$3" "$4" "$5")
    if [[ $got == "$want" ]]; then pass "$what ($want)"; else fail "$what (got $got, want $want)"; fi
}

WRONG=abcd-efgh-jkmn-pqrs-tuvw
[[ ${WRONG^^} != "${ANY_PW^^}" ]] || WRONG=wxyz-wxyz-wxyz-wxyz-wxyz

for mech in PLAIN LOGIN; do
    expect 235 "$mech: smtp-scoped app password accepted" "$mech" alice "$MAIL_PW"
    expect 235 "$mech: --all-services app password accepted" "$mech" alice "$ANY_PW"
    expect 535 "$mech: wrong app password refused" "$mech" alice "$WRONG"
    expect 535 "$mech: imap-only app password refused on smtp" "$mech" alice "$IMAP_PW"
    expect 535 "$mech: unknown user refused" "$mech" nosuchuser "$ANY_PW"
done

# The smtpd that answered is still running (it serves up to max_use clients): it has our
# plugin mapped (and, in sanitizer builds, the ASan runtime), and it runs as postfix.
MASTER_PID=$(tr -d ' \n' <"$SPOOL/pid/master.pid" 2>/dev/null || true)
SMTPD_PID=$(pgrep -P "${MASTER_PID:-1}" -x smtpd | head -n 1 || true)
if [[ -n $SMTPD_PID ]] && grep -q -F "$PLUGIN" "/proc/$SMTPD_PID/maps"; then
    pass "smtpd (pid $SMTPD_PID) has $(basename "$PLUGIN") loaded"
else
    fail "smtpd (pid ${SMTPD_PID:-?}) has $(basename "$PLUGIN") loaded"
fi
if [[ -n ${APPPASS_TEST_PRELOAD:-} ]]; then
    if [[ -n $SMTPD_PID ]] && grep -q -F "$(realpath "$APPPASS_TEST_PRELOAD")" "/proc/$SMTPD_PID/maps"; then
        pass "smtpd runs with the ASan runtime preloaded"
    else
        fail "smtpd runs with the ASan runtime preloaded"
    fi
fi
if [[ -n $SMTPD_PID && $(stat -c %U "/proc/$SMTPD_PID") == postfix ]]; then
    pass "smtpd runs as user postfix (chrooted to $SPOOL)"
else
    fail "smtpd runs as user postfix"
fi

# Last use, as the admin tool reports it.
last_use() {   # last_use ID -> "SERVICE RHOST"
    ap list alice --json | "$PY" -c '
import json, sys
for e in json.load(sys.stdin):
    if str(e["id"]) == sys.argv[1]:
        print(e.get("last_service") or "-", e.get("last_rhost") or "-")' "$1"
}
USE=$(last_use "$MAIL_ID" || true)
if [[ $USE == "smtp "* ]]; then
    pass "apppass list: last use of the smtp password is service smtp (rhost ${USE#smtp })"
else
    fail "apppass list: last use of the smtp password is service smtp (got '$USE')"
fi
USE=$(last_use "$IMAP_ID" || true)
if [[ $USE == "- -" ]]; then pass "apppass list: the refused imap-only password has no last use"; else fail "imap-only password shows a use: '$USE'"; fi

# Revocation takes effect on the next login, in the same smtpd processes.
if ap revoke alice "$ANY_ID" >/dev/null; then pass "apppass revoke"; else fail "apppass revoke"; fi
for mech in PLAIN LOGIN; do
    expect 535 "$mech: revoked app password refused" "$mech" alice "$ANY_PW"
done
expect 235 "the other app password still works after the revoke" PLAIN alice "$MAIL_PW"
# A password created while smtpd runs (the store grew: smtpd maps the new size through
# its descriptor, inside the chroot).
out=$(create_pw new-phone smtp) || fatal "apppass create while postfix runs"
read -r _ NEW_PW <<<"$out"
expect 235 "an app password created while smtpd runs is accepted" LOGIN alice "$NEW_PW"

# ---- the log ----------------------------------------------------------------------

sleep 0.3   # postlogd writes asynchronously
grep_log() { grep -q -F -- "$1" "$LOG"; }
# Refusals are SASL_LOG_FAIL lines, which smtpd logs as warnings. (Accepted logins are
# SASL_LOG_NOTE lines, which smtpd logs only when verbose; they show as "auth=1" and as
# the last use above.)
for line in "SASL authentication failure: apppass: refused service=smtp user=alice rhost=127.0.0.1 reason=wrong-password" \
            "refused service=smtp user=alice rhost=127.0.0.1 reason=out-of-scope id=$IMAP_ID name=imap-only" \
            "refused service=smtp user=alice rhost=127.0.0.1 reason=revoked id=$ANY_ID name=laptop" \
            "refused service=smtp user=nosuchuser rhost=127.0.0.1 reason=unknown-user"; do
    if grep_log "$line"; then pass "maillog has '$line'"; else fail "maillog has '$line'"; fi
done
n=$(grep -c -E 'disconnect from .* auth=1 ' "$LOG" || true)
if [[ $n -eq 6 ]]; then pass "smtpd logged the 6 successful AUTHs (auth=1)"; else fail "smtpd logged $n successful AUTHs, want 6"; fi
leaked=no
for pw in "$MAIL_PW" "$ANY_PW" "$IMAP_PW" "$NEW_PW"; do
    if grep -qiF -e "$pw" -e "${pw//-/}" "$LOG"; then leaked=yes; fi
done
if [[ $leaked == no ]]; then pass "no app password appears in the maillog"; else fail "an app password appears in the maillog"; fi
if grep -q -E 'fatal|panic' "$LOG"; then
    fail "no fatal or panic in the maillog"
    grep -E 'fatal|panic' "$LOG" | sed 's/^/#   /'
else
    pass "no fatal or panic in the maillog"
fi

stop_postfix
if compgen -G "$ASAN_REPORTS/*" >/dev/null; then
    fail "no sanitizer report from the Postfix daemons"
    cat "$ASAN_REPORTS"/* | sed 's/^/#   /'
else
    pass "no sanitizer report from the Postfix daemons"
fi
if [[ $(etc_sum) == "$ETC_BEFORE" ]]; then pass "/etc/postfix is unchanged"; else fail "/etc/postfix changed"; fi

if [[ $FAILED -ne 0 ]]; then
    echo "FAIL - $FAILED check(s) failed"
    exit 1
fi
echo "PASS - all checks passed"
