#!/bin/bash
# The fail2ban filter and jail in packaging/fail2ban, checked against real log lines.
#
#   test_fail2ban.sh APPPASS PAM_MODULE PAM_WRAPPER_LIBRARY PAMTESTER SASL_PLUGIN|-
#
# Where the lines come from:
# - pam_apppass.so: pamtester under pam_wrapper (service files in a throwaway directory,
#   never /etc/pam.d), one attempt per outcome (the TOTP step's wrong, throttled and
#   missing codes included), with PAM_RHOST set by 'pamtester -I'.
#   pam_wrapper replaces pam_syslog: at PAM_WRAPPER_DEBUGLEVEL=3 it prints only the
#   message ("PWRAP_TRACE[...] - SYSLOG(85): refused ..."), without the prefix libpam
#   adds. So the lines are taken twice:
#     (a) from that trace, with the prefix put back as libpam 1.5's pam_vsyslog writes it
#         ("pam_apppass(SERVICE:auth): MESSAGE", sent by syslog(3) with the program's
#         name as ident) and the host name a syslog daemon adds: a reconstruction;
#     (b) as root, for real: PAM_WRAPPER_USE_SYSLOG=1 makes pam_wrapper hand the call to
#         libpam's own pam_vsyslog, which sends it to /dev/log. In a private mount
#         namespace (unshare -m) /dev is a small tmpfs with a few device nodes bound in
#         and a socket at /dev/log that this script reads; the system's /dev and syslog
#         are never touched. The only change made to those datagrams is the one rsyslog
#         makes when it writes its traditional file format: the host name inserted after
#         the timestamp.
#   The test checks that (a) and (b) agree message for message (so the reconstruction is
#   honest) and feeds fail2ban the real lines (b) when it could take them.
# - the SASL plugin (unless SASL_PLUGIN is "-"; root only): a throwaway Postfix on
#   127.0.0.1 (own config directory, maillog_file in the temp dir; /etc/postfix is only
#   read) loads only our plugin; swaks logs in with XCLIENT so that smtpd, and through it
#   the plugin, sees a different documentation address per attempt. Its maillog is what
#   Postfix really writes.
#
# Then fail2ban itself: fail2ban-regex with the filter (matched count, the exact hosts,
# which lines must not match, the hostile user name), fail2ban-client -t/-d with the
# shipped jail (parses, disabled by default), and a real fail2ban-server (private socket,
# pid file and in-memory database, the "dummy" action writing to a file: no firewall)
# that must ban exactly the addresses that failed maxretry times, and never the address
# a hostile user name tries to plant.
#
# Environment: APPPASS_TEST_PRELOAD (optional) goes in front of pam_wrapper in LD_PRELOAD
# for pamtester and into Postfix's daemons (sanitizer builds).
set -uo pipefail

# ---- the syslog capture, run by this same script inside a private mount namespace -----
# __capture ATTEMPTS RAW: runs the attempts with libpam's real pam_vsyslog, writes every
# datagram received on /dev/log to RAW (one a line).
if [[ ${1:-} == __capture ]]; then
    set -e
    attempts=$2 raw=$3 nsdev=$4
    # A tmpfs with the few device nodes the programs need, then moved over /dev.
    mount -t tmpfs -o mode=0755,size=1m apppass-dev "$nsdev"
    for n in null zero full random urandom tty; do
        [[ -e /dev/$n ]] || continue
        : >"$nsdev/$n"
        mount --bind "/dev/$n" "$nsdev/$n"
    done
    ln -s /proc/self/fd "$nsdev/fd"
    ln -s /proc/self/fd/0 "$nsdev/stdin"
    ln -s /proc/self/fd/1 "$nsdev/stdout"
    ln -s /proc/self/fd/2 "$nsdev/stderr"
    mount --move "$nsdev" /dev
    "$APPPASS_PY" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
with open(sys.argv[1], "ab", buffering=0) as out:
    open(sys.argv[1] + ".ready", "w").close()
    while True:
        out.write(s.recv(65536).replace(b"\n", b" ") + b"\n")
' "$raw" &
    listener=$!
    for _ in $(seq 100); do [[ -e $raw.ready ]] && break; sleep 0.05; done
    [[ -e $raw.ready ]] || { kill "$listener"; echo "syslog listener did not start" >&2; exit 1; }
    want=0
    while IFS=$'\t' read -r service user rhost pwfile _; do
        args=()
        [[ $rhost == - ]] || args=(-I "rhost=$rhost")
        env LD_PRELOAD="$APPPASS_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$APPPASS_SERVICES" \
            PAM_WRAPPER_USE_SYSLOG=1 PAM_WRAPPER_DEBUGLEVEL=0 \
            "$APPPASS_PAMTESTER" -v "${args[@]}" "$service" "$user" authenticate \
            <"$pwfile" >/dev/null 2>>"$raw.stderr" || true
        want=$((want + 1))
        # Datagrams are queued when syslog(3) returns: wait until this one is written, so
        # lines and attempts stay in order.
        for _ in $(seq 200); do
            [[ $(wc -l <"$raw") -ge $want ]] && break
            sleep 0.01
        done
    done <"$attempts"
    kill "$listener"
    wait "$listener" 2>/dev/null || true
    exit 0
fi

if [[ $# -ne 5 ]]; then
    echo "usage: $0 APPPASS PAM_MODULE PAM_WRAPPER_LIBRARY PAMTESTER SASL_PLUGIN|-" >&2
    exit 2
fi
APPPASS=$1 MODULE=$2 WRAPPER=$3 PAMTESTER=$4 PLUGIN=$5
for f in "$APPPASS" "$MODULE" "$WRAPPER" "$PAMTESTER"; do
    case $f in /*) ;; *) echo "$0: not an absolute path: $f" >&2; exit 2 ;; esac
    [[ -r $f ]] || { echo "$0: cannot read $f" >&2; exit 2; }
done
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
F2B_SRC=$(cd "$HERE/../../packaging/fail2ban" && pwd)
FILTER=$F2B_SRC/filter.d/apppass.conf
JAIL=$F2B_SRC/jail.d/apppass.conf
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
for tool in fail2ban-regex fail2ban-client oathtool; do
    command -v "$tool" >/dev/null || { echo "not ok - $tool is not installed (.ci/install-deps)"; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/apppass-fail2ban.XXXXXX")
chmod 0755 "$TMP"  # Postfix's daemons (user postfix) read below it
F2B_PIDFILE=$TMP/f2b/run/fail2ban.pid
POSTFIX_CONF=""
POSTFIX_STARTED=no
stop_postfix() {
    [[ $POSTFIX_STARTED == yes ]] || return 0
    POSTFIX_STARTED=no
    local pid=""
    [[ -s $TMP/spool/pid/master.pid ]] && pid=$(tr -d ' \n' <"$TMP/spool/pid/master.pid")
    postfix -c "$POSTFIX_CONF" stop >/dev/null 2>&1 || true
    if [[ -n $pid ]]; then
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
}
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    local pid
    if [[ -s $F2B_PIDFILE ]]; then
        fail2ban-client -c "$TMP/f2b/etc" stop >/dev/null 2>&1 || true
        pid=$(cat "$F2B_PIDFILE" 2>/dev/null || true)
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
    fi
    stop_postfix
    rm -rf -- "$TMP"
}
trap cleanup EXIT

PASSED=0
FAILED=0
ok() { echo "ok - $1"; PASSED=$((PASSED + 1)); }
not_ok() {
    echo "not ok - $1"
    FAILED=$((FAILED + 1))
    shift
    local d
    for d in "$@"; do sed 's/^/#   /' <<<"$d"; done
}
note() { echo "# $*"; }
finish() {
    echo "$PASSED passed, $FAILED failed"
    [[ $FAILED -eq 0 ]]
    exit
}
fatal() { not_ok "$@"; finish; }

HOST=$(hostname -s 2>/dev/null || true)
[[ -n $HOST ]] || HOST=localhost

PRELOAD=$WRAPPER
[[ -z ${APPPASS_TEST_PRELOAD:-} ]] || PRELOAD=$APPPASS_TEST_PRELOAD:$WRAPPER

# ---- a store: alice with four app passwords, bob with one ---------------------------
STORE=$TMP/store
ap() { env -u LD_PRELOAD "$APPPASS" --db "$STORE" "$@"; }
json_get() { "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
PWDIR=$TMP/passwords  # one file per password, fed to pamtester's stdin
mkdir -m 0700 "$PWDIR"
new_password() {  # FILE-NAME CREATE-ARGS...: writes the password to $PWDIR/FILE-NAME, prints the id
    local name=$1 json
    shift
    json=$(ap create "$@" --json) || return 1
    json_get password <<<"$json" >"$PWDIR/$name" || return 1
    json_get id <<<"$json"
}
setup_store() {
    local user secret
    ap init >/dev/null 2>&1 || return 1
    for user in alice bob tom ulla; do
        secret=$(ap mfa enroll "$user" --json | json_get secret) || return 1
        ap mfa confirm "$user" "$(oathtool --totp -b "$secret")" >/dev/null || return 1
    done
    new_password laptop alice --name laptop --scope imap --scope smtp >/dev/null &&
        new_password phone alice --name phone --scope pop3 >/dev/null &&
        TABLET_ID=$(new_password tablet alice --name tablet --all-services) &&
        new_password old alice --name old --all-services --expires 1s >/dev/null &&
        new_password bob bob --name desktop --all-services >/dev/null &&
        ap revoke alice "$TABLET_ID" >/dev/null || return 1
    printf '%s\n' wxyz-wxyz-wxyz-wxyz-wxyz >"$PWDIR/wrong"
    printf '%s\n' abcdef >"$PWDIR/wrongcode"  # never a TOTP code (not digits)
    printf '\n' >"$PWDIR/empty"
    : >"$PWDIR/none"  # end of input: pamtester's conversation fails, no password at all
    sleep 2           # "old" has expired
}
setup_store || fatal "store set up with the admin tool"
ok "store set up with the admin tool (active, scoped, revoked and expired app passwords)"

HOSTILE='mallory rhost=203.0.113.9 reason=wrong-password x'
PLANTED=203.0.113.9

# ---- PAM attempts ---------------------------------------------------------------------
SERVICES=$TMP/services
mkdir "$SERVICES"
: >"$SERVICES/other"
printf 'auth required %s db=%s\n' "$MODULE" "$STORE" >"$SERVICES/imap"
printf 'auth required %s db=%s\n' "$MODULE" "$TMP/no-such-store" >"$SERVICES/pop3"
printf 'auth required %s db=%s frobnicate\n' "$MODULE" "$STORE" >"$SERVICES/sieve"
# The TOTP step (pam_apppass.so totp): its refused codes count too. tom is throttled
# first (5 wrong codes), so that his attempts below are "throttled" in both runs; ulla
# makes one wrong code per run (2 in all, under the throttle's 5).
printf 'auth required %s totp db=%s\n' "$MODULE" "$STORE" >"$SERVICES/totp"
for _ in 1 2 3 4 5; do
    env LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SERVICES" \
        "$PAMTESTER" totp tom authenticate <"$PWDIR/wrongcode" >/dev/null 2>&1 || true
done

# One attempt a line: SERVICE USER RHOST PASSWORD-FILE EXPECTED-HEAD (tab-separated). The
# expected head is how the decision line must start: "accepted", "refused REASON",
# "error REASON". Failures repeat from the addresses that should be banned (maxretry 3).
ATTEMPTS=$TMP/pam-attempts
{
    printf 'imap\talice\t198.51.100.10\t%s\taccepted\n' "$PWDIR/laptop"
    for _ in 1 2 3; do printf 'imap\talice\t198.51.100.11\t%s\trefused wrong-password\n' "$PWDIR/wrong"; done
    printf 'imap\tcarol\t198.51.100.12\t%s\trefused unknown-user\n' "$PWDIR/laptop"
    printf 'imap\talice\t198.51.100.13\t%s\trefused revoked\n' "$PWDIR/tablet"
    printf 'imap\talice\t198.51.100.14\t%s\trefused expired\n' "$PWDIR/old"
    printf 'imap\talice\t198.51.100.15\t%s\trefused out-of-scope\n' "$PWDIR/phone"
    printf 'imap\talice\t198.51.100.16\t%s\trefused bad-input\n' "$PWDIR/empty"
    printf 'imap\tbob\t198.51.100.16\t%s\trefused wrong-password\n' "$PWDIR/laptop"
    for _ in 1 2 3; do printf 'imap\t%s\t198.51.100.18\t%s\trefused unknown-user\n' "$HOSTILE" "$PWDIR/wrong"; done
    printf 'imap\talice\t198.51.100.19\t%s\trefused no-password\n' "$PWDIR/none"
    for _ in 1 2 3; do printf 'imap\talice\t-\t%s\trefused wrong-password\n' "$PWDIR/wrong"; done
    printf 'pop3\talice\t198.51.100.20\t%s\terror unavailable\n' "$PWDIR/laptop"
    printf 'sieve\talice\t198.51.100.21\t%s\terror bad-option\n' "$PWDIR/laptop"
    printf 'imap\tbob\t198.51.100.22\t%s\taccepted\n' "$PWDIR/bob"
    printf 'totp\tulla\t198.51.100.23\t%s\trefused wrong-code\n' "$PWDIR/wrongcode"
    for _ in 1 2 3; do printf 'totp\ttom\t198.51.100.24\t%s\trefused throttled\n' "$PWDIR/wrongcode"; done
    printf 'totp\tulla\t198.51.100.25\t%s\trefused no-code\n' "$PWDIR/none"
} >"$ATTEMPTS"

# (a) pam_wrapper's trace, the prefix and host name put back (see the header).
PAM_TRACE_LOG=$TMP/pam-trace.log
: >"$PAM_TRACE_LOG"
trace_ok=yes
n=0
while IFS=$'\t' read -r service user rhost pwfile _; do
    n=$((n + 1))
    args=()
    [[ $rhost == - ]] || args=(-I "rhost=$rhost")
    env LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SERVICES" PAM_WRAPPER_DEBUGLEVEL=3 \
        "$PAMTESTER" -v "${args[@]}" "$service" "$user" authenticate \
        <"$pwfile" >"$TMP/out" 2>"$TMP/err"
    if grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error' "$TMP/err"; then
        trace_ok=no
        not_ok "sanitizer report from pamtester (attempt $n)" "$(cat "$TMP/err")"
    fi
    mapfile -t msgs < <(sed -n 's/^.*PWRAP_TRACE\[[^]]*\] - SYSLOG(\([0-9]*\)): /\1 /p' "$TMP/err")
    if [[ ${#msgs[@]} -ne 1 ]]; then
        trace_ok=no
        not_ok "attempt $n ($service, $rhost) logs exactly one line" "${msgs[@]}"
        continue
    fi
    # libpam 1.5 pam_vsyslog: syslog(LOG_AUTHPRIV|prio, "%s %s", "MODULE(SERVICE:auth):", msg),
    # ident = program name (pamtester calls no openlog). rsyslog's file format adds the host.
    printf '%s %s pamtester: pam_apppass(%s:auth): %s\n' "$(LC_ALL=C date '+%b %e %H:%M:%S')" "$HOST" \
        "$service" "${msgs[0]#* }" >>"$PAM_TRACE_LOG"
    printf '%s\n' "${msgs[0]%% *}" >>"$TMP/pam-trace.pri"
done <"$ATTEMPTS"
[[ $trace_ok == yes ]] && ok "pamtester: $n attempts, one decision line each (pam_wrapper trace)"

# Each attempt did what it was meant to: its line starts with the expected head, and every
# decision is logged at facility authpriv (10 << 3), where the jail's logpath looks.
check_heads() {  # LOG DESC
    local log=$1 desc=$2 bad="" i=0 line head
    while IFS=$'\t' read -r _ _ _ _ head; do
        i=$((i + 1))
        line=$(sed -n "${i}p" "$log")
        local msg=${line#*": pam_apppass("*":auth): "}
        local result=${head%% *} reason=${head#* }
        if [[ $msg != "$result service="* ]]; then bad+="line $i: want '$head': $line"$'\n'; continue; fi
        if [[ $result != accepted && $msg != *" reason=$reason"* ]]; then bad+="line $i: want '$head': $line"$'\n'; fi
    done <"$ATTEMPTS"
    if [[ -z $bad && $(wc -l <"$log") -eq $(wc -l <"$ATTEMPTS") ]]; then ok "$desc"; else not_ok "$desc" "$bad"; fi
}
check_heads "$PAM_TRACE_LOG" "each PAM attempt logged the expected decision (accepted, 10 refusal reasons, 2 errors)"
if ! grep -qv '^8[0-7]$' "$TMP/pam-trace.pri"; then
    ok "every decision line is logged at facility authpriv"
else
    not_ok "every decision line is logged at facility authpriv" "$(sort -u "$TMP/pam-trace.pri")"
fi
if grep -qF 'user=mallory\x20rhost\x3d203.0.113.9\x20reason\x3dwrong-password\x20x rhost=198.51.100.18 ' "$PAM_TRACE_LOG"; then
    ok "the hostile user name is logged escaped (spaces and '=' as \\xHH)"
else
    not_ok "the hostile user name is logged escaped" "$(grep -F mallory "$PAM_TRACE_LOG")"
fi

# (b) libpam's own pam_vsyslog to a private /dev/log (root and unshare needed).
PAM_LOG=$PAM_TRACE_LOG
PAM_LOG_KIND="reconstructed from pam_wrapper's trace"
if [[ $(id -u) -eq 0 ]] && command -v unshare >/dev/null && unshare -m --propagation private true 2>/dev/null; then
    RAW=$TMP/syslog.raw
    : >"$RAW"
    mkdir "$TMP/nsdev"
    APPPASS_PY=$PY APPPASS_PRELOAD=$PRELOAD APPPASS_SERVICES=$SERVICES APPPASS_PAMTESTER=$PAMTESTER \
        unshare -m --propagation private "$BASH" "${BASH_SOURCE[0]}" __capture "$ATTEMPTS" "$RAW" "$TMP/nsdev" \
        >"$TMP/capture.out" 2>&1
    rc=$?
    if grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error' "$RAW.stderr" 2>/dev/null; then
        not_ok "sanitizer report from pamtester (syslog run)" "$(cat "$RAW.stderr")"
    fi
    # "<85>Nov 22 03:00:00 pamtester: pam_apppass(imap:auth): refused ..." as sent by
    # syslog(3); rsyslog writes "Nov 22 03:00:00 HOST pamtester: ...".
    PAM_SYSLOG_LOG=$TMP/pam-syslog.log
    sed -E 's/^<[0-9]+>([A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8}) /\1 '"$HOST"' /' "$RAW" >"$PAM_SYSLOG_LOG"
    if [[ $rc -eq 0 && $(wc -l <"$RAW") -eq $(wc -l <"$ATTEMPTS") ]] && ! grep -qv '^<8[0-7]>' "$RAW"; then
        ok "libpam's pam_vsyslog sent one authpriv datagram per attempt to a private /dev/log"
        check_heads "$PAM_SYSLOG_LOG" "each PAM attempt's real syslog line has the expected decision"
        # Same lines but for the time stamp: the reconstruction in (a) is exactly what
        # libpam writes.
        if diff <(sed -E 's/^.{15} //' "$PAM_TRACE_LOG") <(sed -E 's/^.{15} //' "$PAM_SYSLOG_LOG") >"$TMP/diff"; then
            ok "pam_wrapper's trace plus 'pam_apppass(SERVICE:auth): ' equals what libpam sends to syslog"
        else
            not_ok "pam_wrapper's trace plus 'pam_apppass(SERVICE:auth): ' equals what libpam sends to syslog" \
                "$(cat "$TMP/diff")"
        fi
        PAM_LOG=$PAM_SYSLOG_LOG
        PAM_LOG_KIND="real syslog lines"
    else
        not_ok "libpam's pam_vsyslog sent one authpriv datagram per attempt to a private /dev/log" \
            "exit $rc" "$(cat "$TMP/capture.out")" "$(cat "$RAW")"
    fi
else
    note "not root or no mount namespaces: the PAM lines are reconstructed from pam_wrapper's trace only"
fi
note "PAM log ($PAM_LOG_KIND):"
sed 's/^/#   /' "$PAM_LOG"

# ---- the SASL plugin inside a real Postfix ------------------------------------------
MAIL_LOG=$TMP/maillog
: >"$MAIL_LOG"
# SMTP attempts: USER PASSWORD-FILE CLIENT-ADDRESS EXPECTED-REPLY (tab-separated).
SMTP_ATTEMPTS=$TMP/smtp-attempts
{
    printf 'alice\t%s\t198.51.100.40\t235\n' "$PWDIR/laptop"
    for _ in 1 2 3; do printf 'alice\t%s\t198.51.100.41\t535\n' "$PWDIR/wrong"; done
    printf 'carol\t%s\t198.51.100.42\t535\n' "$PWDIR/laptop"
    printf 'alice\t%s\t198.51.100.43\t535\n' "$PWDIR/tablet"
    printf 'alice\t%s\t198.51.100.44\t535\n' "$PWDIR/phone"
    for _ in 1 2 3; do printf '%s\t%s\t198.51.100.48\t535\n' "$HOSTILE" "$PWDIR/wrong"; done
} >"$SMTP_ATTEMPTS"
SASL=no
if [[ $PLUGIN == - ]]; then
    note "no SASL plugin given: only PAM lines are checked"
elif [[ $(id -u) -ne 0 ]]; then
    note "not root: Postfix cannot be started, only PAM lines are checked"
elif ! command -v postfix >/dev/null || ! command -v swaks >/dev/null; then
    not_ok "postfix and swaks are installed (.ci/install-deps)"
else
    SASL=yes
fi
if [[ $SASL == yes ]]; then
    POSTFIX_CONF=$TMP/postfix
    mkdir -p "$POSTFIX_CONF/sasl" "$TMP/spool" "$TMP/data" "$TMP/plugins"
    ln -s "$(realpath -e "$PLUGIN")" "$TMP/plugins/libapppass.so"
    chown postfix "$TMP/data"
    preload_env=""
    if [[ -n ${APPPASS_TEST_PRELOAD:-} ]]; then
        # Reports from the chrooted smtpd land in $TMP/spool/asan (see tests/sasl/test_postfix.sh).
        mkdir -p "$TMP/spool/asan" && chown postfix "$TMP/spool/asan"
        preload_env="LD_PRELOAD=$APPPASS_TEST_PRELOAD ASAN_OPTIONS=${ASAN_OPTIONS:-}:log_path=/asan/asan"
        [[ -z ${UBSAN_OPTIONS:-} ]] || preload_env+=" UBSAN_OPTIONS=$UBSAN_OPTIONS:log_path=/asan/ubsan"
    fi
    port=$("$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf 'mech_list: PLAIN LOGIN\napppass_db: %s\n' "$STORE" >"$POSTFIX_CONF/sasl/smtpd.conf"
    cat >"$POSTFIX_CONF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $TMP/spool
data_directory = $TMP/data
maillog_file = $MAIL_LOG
maillog_file_prefixes = $TMP
myhostname = $HOST.localdomain
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = loopback-only
inet_protocols = ipv4
smtpd_peername_lookup = no
smtpd_error_sleep_time = 0
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_auth_rate_limit = 0
# swaks tells smtpd the client address to use (XCLIENT), so each attempt has its own.
smtpd_authorized_xclient_hosts = 127.0.0.1
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
smtpd_sasl_security_options = noanonymous
smtpd_tls_security_level = none
smtpd_tls_auth_only = no
smtpd_relay_restrictions = permit_sasl_authenticated, reject
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C SASL_PATH=$TMP/plugins $preload_env
EOF
    cat >"$POSTFIX_CONF/master.cf" <<EOF
127.0.0.1:$port inet n - y - - smtpd
anvil     unix  -       -       y       -       1       anvil
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    if ! postfix -c "$POSTFIX_CONF" start >"$TMP/postfix.out" 2>&1; then
        not_ok "postfix -c DIR start" "$(cat "$TMP/postfix.out")"
        SASL=no
    else
        POSTFIX_STARTED=yes
        "$PY" "$(dirname "${BASH_SOURCE[0]}")/../lib/wait_greeting.py" "$port" 220 15 ||
            { not_ok "postfix answers on 127.0.0.1"; SASL=no; }
    fi
fi
if [[ $SASL == yes ]]; then
    bad=""
    while IFS=$'\t' read -r user pwfile addr want; do
        out=$(swaks --server "127.0.0.1:$port" --xclient-addr "$addr" --auth PLAIN --auth-user "$user" \
                    --auth-password "$(cat "$pwfile")" --quit-after AUTH --timeout 20 </dev/null 2>&1)
        got=$(grep -E '^<(-|\*\*|~) +(235|535|454)[ -]' <<<"$out" | tail -n 1 | sed -E 's/^<(-|\*\*|~) +([0-9]{3}).*/\2/')
        [[ $got == "$want" ]] || bad+="$user from $addr: got '${got:-none}', want $want"$'\n'
    done <"$SMTP_ATTEMPTS"
    if [[ -z $bad ]]; then ok "swaks: $(wc -l <"$SMTP_ATTEMPTS") AUTH attempts through Postfix got the expected replies"
    else not_ok "swaks: AUTH attempts through Postfix got the expected replies" "$bad"; fi
    stop_postfix  # postlogd has written everything once the daemons are gone
    if compgen -G "$TMP/spool/asan/*" >/dev/null; then
        not_ok "no sanitizer report from Postfix's daemons" "$(cat "$TMP"/spool/asan/*)"
    fi
    n=$(grep -c 'warning: SASL authentication failure: apppass: refused ' "$MAIL_LOG" || true)
    want=$(grep -c $'\t535$' "$SMTP_ATTEMPTS")
    if [[ $n -eq $want ]] && grep -qF 'refused service=smtp user=mallory\x20rhost\x3d203.0.113.9\x20reason\x3dwrong-password\x20x rhost=198.51.100.48 reason=unknown-user' "$MAIL_LOG"; then
        ok "Postfix logged the plugin's $want refusals as 'warning: SASL authentication failure: apppass: refused ...'"
    else
        not_ok "Postfix logged the plugin's $want refusals" "found $n" "$(cat "$MAIL_LOG")"
    fi
    note "Postfix maillog:"
    sed 's/^/#   /' "$MAIL_LOG"
fi

# ---- what fail2ban should make of it ----------------------------------------------------
# The refusal reasons that count as guessing (filter.d/apppass.conf says why).
COUNTED='wrong-password|unknown-user|revoked|expired|out-of-scope|bad-input|wrong-code|reused-code|throttled'
# Every refusal that counts as guessing and has a real rhost, in log order.
expected_hosts() {
    grep -hE ": refused service=\S+ user=\S+ rhost=[0-9a-f.:]+ (factor=totp )?reason=($COUNTED)( |\$)" "$@" |
        sed -E 's/.* rhost=(\S+) (factor=totp )?reason=.*/\1/'
}
ALL_LOG=$TMP/all.log
cat "$PAM_LOG" "$MAIL_LOG" >"$ALL_LOG"
expected_hosts "$PAM_LOG" "$MAIL_LOG" | sort >"$TMP/want-hosts"
# Cross-check the grep above against the attempt tables.
want_pam=$(grep -cE $'\t'"(refused ($COUNTED))\$" "$ATTEMPTS" || true)
want_pam=$((want_pam - 3))  # the three from rhost=- do not count
want_smtp=0
[[ $SASL == yes ]] && want_smtp=$(grep -c $'\t535$' "$SMTP_ATTEMPTS")
if [[ $(wc -l <"$TMP/want-hosts") -eq $((want_pam + want_smtp)) ]]; then
    ok "the logs hold $((want_pam + want_smtp)) refusals with a remote address that count as guessing"
else
    not_ok "the logs hold $((want_pam + want_smtp)) refusals that count as guessing" "$(cat "$TMP/want-hosts")"
fi

# fail2ban-regex reads "before = common.conf" from the filter's own directory, as an
# installed filter does in /etc/fail2ban/filter.d: a private copy of that directory with
# the system's common.conf and our filter (a symlink, so the file under test is ours).
F2B=$TMP/f2b
mkdir -p "$F2B/etc/filter.d" "$F2B/etc/jail.d" "$F2B/etc/action.d" "$F2B/run"
cp -a /etc/fail2ban/fail2ban.conf /etc/fail2ban/jail.conf /etc/fail2ban/paths-*.conf "$F2B/etc/"
cp -a /etc/fail2ban/filter.d/common.conf "$F2B/etc/filter.d/"
cp -a /etc/fail2ban/action.d/dummy.conf "$F2B/etc/action.d/"
ln -s "$FILTER" "$F2B/etc/filter.d/apppass.conf"
ln -s "$JAIL" "$F2B/etc/jail.d/apppass.conf"

regex() {  # OUTFILE LOG [OPTIONS...]: fail2ban-regex with our filter
    local out=$1 log=$2
    shift 2
    fail2ban-regex "$@" "$log" "$F2B/etc/filter.d/apppass.conf" >"$out" 2>"$out.err"
}
if regex "$TMP/regex.out" "$ALL_LOG"; then
    summary=$(grep -E '^Lines: ' "$TMP/regex.out")
    total=$(wc -l <"$ALL_LOG")
    want=$(wc -l <"$TMP/want-hosts")
    if [[ $summary == "Lines: $total lines, 0 ignored, $want matched, $((total - want)) missed" ]]; then
        ok "fail2ban-regex: $want of $total lines matched (${summary#Lines: })"
    else
        not_ok "fail2ban-regex: $want of $total lines matched" "$summary" "$(cat "$TMP/regex.out")"
    fi
else
    not_ok "fail2ban-regex runs with the filter" "$(cat "$TMP/regex.out" "$TMP/regex.out.err")"
fi
regex "$TMP/ips" "$ALL_LOG" -o ip
sort "$TMP/ips" >"$TMP/got-hosts"
if diff "$TMP/want-hosts" "$TMP/got-hosts" >"$TMP/diff"; then
    ok "fail2ban-regex: the matched hosts are exactly the refused clients' addresses ($(sort -u "$TMP/got-hosts" | tr '\n' ' '))"
else
    not_ok "fail2ban-regex: the matched hosts are exactly the refused clients' addresses" "$(cat "$TMP/diff")"
fi
if grep -qxF "$PLANTED" "$TMP/ips"; then
    not_ok "fail2ban-regex: the address in the hostile user name ($PLANTED) is never matched"
else
    ok "fail2ban-regex: the address in the hostile user name ($PLANTED) is never matched"
fi
regex "$TMP/matched" "$ALL_LOG" -o msg
bad=$(grep -vE ": refused service=\S+ user=\S+ rhost=[0-9a-f.:]+ (factor=totp )?reason=($COUNTED)( |\$)" "$TMP/matched" || true)
if [[ -z $bad ]]; then ok "fail2ban-regex: every matched line is a counted refusal with a real rhost"
else not_ok "fail2ban-regex: every matched line is a counted refusal with a real rhost" "$bad"; fi
for what in "accepted service=" "error service=" "rhost=- " "reason=no-password" "reason=no-code" "reason=unavailable" "reason=bad-option" "SASL PLAIN authentication failed"; do
    if ! grep -qF -- "$what" "$ALL_LOG"; then
        [[ $what == "SASL PLAIN authentication failed" && $SASL != yes ]] && continue
        not_ok "the logs have a '$what' line to test against"
    elif grep -qF -- "$what" "$TMP/matched"; then
        not_ok "fail2ban-regex: no '$what' line matches" "$(grep -F -- "$what" "$TMP/matched")"
    else
        ok "fail2ban-regex: no '$what' line matches ($(grep -cF -- "$what" "$ALL_LOG") in the logs)"
    fi
done

# The filter relies on the escaping: the same hostile line as it would read unescaped
# ("\x20" and "\x3d" written raw) would get the planted address banned, while every
# real line, escaped, never does (checked above).
grep -F 'user=mallory\x20' "$PAM_LOG" | head -n 1 | sed -e 's/\\x20/ /g' -e 's/\\x3d/=/g' >"$TMP/forged.log"
regex "$TMP/forged-ips" "$TMP/forged.log" -o ip
if [[ -s $TMP/forged.log && $(cat "$TMP/forged-ips") == "$PLANTED" ]]; then
    ok "the escaping is what protects: the hostile line unescaped would match $PLANTED"
else
    not_ok "the hostile line unescaped would match $PLANTED" "$(cat "$TMP/forged.log")" "$(cat "$TMP/forged-ips")"
fi

# ---- the jail -------------------------------------------------------------------------
# As shipped: parses, and is disabled.
cat >"$F2B/etc/fail2ban.local" <<EOF
[DEFAULT]
loglevel = INFO
logtarget = $F2B/fail2ban.log
socket = $F2B/run/fail2ban.sock
pidfile = $F2B_PIDFILE
dbfile = :memory:
EOF
if fail2ban-client -c "$F2B/etc" -t >"$TMP/t.out" 2>&1 && fail2ban-client -c "$F2B/etc" -d >"$TMP/d.out" 2>&1; then
    if grep -qF "['add', 'apppass'" "$TMP/d.out"; then
        not_ok "the shipped jail parses and is disabled (enabled = false)" "$(grep apppass "$TMP/d.out")"
    else
        ok "the shipped jail parses (fail2ban-client -t) and is disabled (enabled = false)"
    fi
else
    not_ok "the shipped jail parses (fail2ban-client -t)" "$(cat "$TMP/t.out" "$TMP/d.out")"
fi

# Enabled the way the jail's comment says (a jail.d/apppass.local), reading both logs, with
# the dummy action (writes +IP to a file; no firewall) and no address ignored, so
# Postfix's loopback test addresses count too.
cat >"$F2B/etc/jail.d/apppass.local" <<EOF
[apppass]
enabled   = true
logpath   = $PAM_LOG
            $MAIL_LOG
backend   = polling
banaction = dummy
action    = dummy[target="$F2B/banned"]
ignoreself = false
ignoreip  =
maxretry  = 3
findtime  = 1h
EOF
if ! fail2ban-client -c "$F2B/etc" -d >"$TMP/d.out" 2>&1 || ! grep -qF "['add', 'apppass'" "$TMP/d.out"; then
    not_ok "the jail, enabled by jail.d/apppass.local, is loaded" "$(cat "$TMP/d.out")"
elif ! grep -qF "'addfailregex', '^service=" "$TMP/d.out"; then
    not_ok "the enabled jail uses filter.d/apppass.conf" "$(grep apppass "$TMP/d.out")"
else
    ok "the jail, enabled by jail.d/apppass.local, loads filter.d/apppass.conf"
fi

# A real fail2ban-server: addresses with at least maxretry (3) counted failures are banned.
uniq -c "$TMP/want-hosts" | awk '$1 >= 3 { print $2 }' | sort >"$TMP/want-banned"
if fail2ban-client -c "$F2B/etc" -x start >"$TMP/start.out" 2>&1; then
    want_failed=$(wc -l <"$TMP/want-hosts")
    status="" failed="" banned=""
    # The filter counts a failure before the actions thread bans its address: wait for
    # both (at most 30 s), or a check right after the last count misses the last ban.
    for _ in $(seq 300); do
        status=$(fail2ban-client -c "$F2B/etc" status apppass 2>&1) || true
        failed=$(sed -n 's/.*Total failed:[[:space:]]*//p' <<<"$status")
        banned=$(sed -n 's/.*Banned IP list:[[:space:]]*//p' <<<"$status" | tr '[:blank:]' '\n' | sed '/^$/d' | sort)
        [[ $failed == "$want_failed" && $banned == "$(cat "$TMP/want-banned")" ]] && break
        sleep 0.1
    done
    if [[ $failed == "$want_failed" && $banned == "$(cat "$TMP/want-banned")" ]]; then
        ok "fail2ban-server banned exactly the clients with 3 failures: $(tr '\n' ' ' <"$TMP/want-banned")"
    else
        not_ok "fail2ban-server banned exactly the clients with 3 failures" \
            "want: $(tr '\n' ' ' <"$TMP/want-banned")" "$status" "$(tail -n 20 "$F2B/fail2ban.log")"
    fi
    if grep -qxF "+$PLANTED" "$F2B/banned" 2>/dev/null || grep -qxF "$PLANTED" <<<"$banned"; then
        not_ok "fail2ban-server did not ban $PLANTED, named three times in a hostile user name"
    else
        ok "fail2ban-server did not ban $PLANTED, named three times in a hostile user name"
    fi
    fail2ban-client -c "$F2B/etc" stop >/dev/null 2>&1 || true
else
    not_ok "fail2ban-server starts with a private socket, pid file and database" "$(cat "$TMP/start.out")"
fi

finish
