#!/bin/bash
# A real OpenSSH server asks for the password and then a TOTP code (issue 12):
#
#   auth    required pam_unix.so nodelay
#   auth    required pam_apppass.so totp db=STORE
#
# Usage: sshd_totp.sh /path/to/apppass /path/to/pam_apppass.so
# Exit: 0 pass, 1 fail, 77 skipped (needs root and a private mount namespace).
#
# sshd is the system's /usr/sbin/sshd (openssh-server), run by this script in the
# foreground (-D -e) with its own sshd_config, host key, pid file and a free port on
# 127.0.0.1, keyboard-interactive only. A real system user made here (useradd, chpasswd;
# removed at the end) is enrolled on a throwaway store (apppass init, mfa enroll, mfa
# confirm with an oathtool code) and logs in with python3-paramiko (tests/lib/ssh_kbdint.py,
# answers on stdin), which then runs `id -un` on the server.
#
# How sshd reads this test's PAM configuration, not the system's: sshd runs in a private
# mount namespace (unshare -m, propagation private) in which $TMP/pam.d is bind-mounted
# over /etc/pam.d, so the real libpam reads the service `sshd` (the name sshd gives
# pam_start) from $TMP/pam.d/sshd; the rest of the system sees nothing of it. libpam reads
# the file at each pam_start, so each new connection sees the stack as the test last wrote
# it: the same sshd first runs pam_unix alone (the password alone logs in), then the TOTP
# stack (the same password now needs a code). PAM runs in sshd's privileged monitor (root),
# where pam_unix reads /etc/shadow and pam_apppass opens the store in-process.
#
# The log lines are libpam's real syslog datagrams ("pam_apppass(sshd:auth): refused
# service=sshd ... factor=totp reason=..."): in the same namespace /dev is a small tmpfs
# with a few device nodes bound in and a socket at /dev/log that a listener of this script
# copies to $TMP/syslog (as tests/integration/test_fail2ban.sh does). pam_wrapper cannot
# do this for sshd: sshd authenticates in a child that empties its environment
# (auth-pam.c, sshpam_thread: environ[0] = NULL), and pam_wrapper, which reads
# PAM_WRAPPER_DEBUGLEVEL and PAM_WRAPPER_USE_SYSLOG from the environment at each message,
# then drops every line the modules log (its service directory would still work).
#
# Codes: each TOTP step is accepted once and only after the last one spent, with one step
# of drift. The enrollment is confirmed with the code of step T-1 (T = now), the logins
# then use T (accepted, then reused) and T+1 (with a wrong password): all valid until T+2
# begins, at least 30 s after the confirmation, so the test never waits for a step (it
# waits at most 3 s when the confirmation would fall on a step's very end).
set -euo pipefail

# ---- inside the private mount namespace: the PAM files, /dev/log, then sshd -----------
# __sshd TMP PORT: binds TMP/pam.d over /etc/pam.d, moves a tmpfs with a few device nodes
# and a /dev/log socket over /dev (its datagrams go to TMP/syslog, one a line; the
# listener's pid to TMP/syslog.pid), then becomes sshd. Environment: APPPASS_PY, and
# APPPASS_SSHD_PRELOAD (the sanitizer runtime, or empty).
if [[ ${1:-} == __sshd ]]; then
    tmp=$2 port=$3
    mount --bind "$tmp/pam.d" /etc/pam.d
    mkdir "$tmp/dev"
    mount -t tmpfs -o mode=0755,size=1m apppass-dev "$tmp/dev"
    for n in null zero full random urandom tty; do
        [[ -e /dev/$n ]] || continue
        : >"$tmp/dev/$n"
        mount --bind "/dev/$n" "$tmp/dev/$n"
    done
    ln -s /proc/self/fd "$tmp/dev/fd"
    ln -s /proc/self/fd/0 "$tmp/dev/stdin"
    ln -s /proc/self/fd/1 "$tmp/dev/stdout"
    ln -s /proc/self/fd/2 "$tmp/dev/stderr"
    mount --move "$tmp/dev" /dev
    "$APPPASS_PY" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
with open(sys.argv[1], "ab", buffering=0) as out:
    with open(sys.argv[1] + ".pid", "w") as f:
        f.write(str(os.getpid()))
    while True:
        out.write(s.recv(65536).replace(b"\n", b" ") + b"\n")
' "$tmp/syslog" </dev/null >/dev/null &
    for _ in $(seq 100); do [[ -s $tmp/syslog.pid ]] && break; sleep 0.05; done
    [[ -s $tmp/syslog.pid ]] || { echo "the syslog listener did not start" >&2; exit 1; }
    # Sanitizer builds: the runtime goes first in LD_PRELOAD of the unsanitized sshd.
    exec env ${APPPASS_SSHD_PRELOAD:+LD_PRELOAD="$APPPASS_SSHD_PRELOAD"} \
        /usr/sbin/sshd -D -e -f "$tmp/sshd_config" -p "$port" </dev/null
fi

if [[ $# -ne 2 ]]; then
    echo "usage: $0 /path/to/apppass /path/to/pam_apppass.so" >&2
    exit 2
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/report.sh
source "$HERE/../lib/report.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/users.sh
source "$HERE/../lib/users.sh"
require_root_users
if ! unshare -m --propagation private true 2>/dev/null; then
    echo "ok - # SKIP needs a private mount namespace (unshare -m)"
    exit 77
fi
APPPASS=$(realpath -e "$1")
PAM_SO=$(realpath -e "$2")   # service files need an absolute path
SSHD=/usr/sbin/sshd          # sshd re-executes itself: an absolute path is required
CLIENT=$HERE/../lib/ssh_kbdint.py
require_tools ssh-keygen oathtool chpasswd usermod timeout mount
[[ -x $SSHD ]] || { echo "not ok - $SSHD is not installed (openssh-server)"; exit 1; }
# The system interpreter: Debian's python3-paramiko (a pyenv python may come first on PATH).
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
"$PY" -c 'import paramiko' 2>/dev/null || { echo "not ok - python3-paramiko is not installed"; exit 1; }

TMP=$(mktemp -d /tmp/apppass-sshd.XXXXXX)
LOG=$TMP/sshd.log    # sshd's own messages (-e)
SYSLOG=$TMP/syslog   # libpam's syslog datagrams, one a line
STORE=$TMP/store
PAMDIR=$TMP/pam.d
OUT=$TMP/client.out
SSHD_PID=""
MADE_PRIVSEP_DIR=no
SSH_USER=""
RECOVERY=""
: >"$SYSLOG"

show_log() {
    echo "---- syslog (last 15) ----"
    tail -n 15 "$SYSLOG" 2>/dev/null || true
    echo "---- sshd (last 25) ----"
    tail -n 25 "$LOG" 2>/dev/null || true
    echo "----"
}

stop_sshd() {
    local pid
    if [[ -n $SSHD_PID ]]; then
        kill -TERM "$SSHD_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SSHD_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SSHD_PID" 2>/dev/null || true
        wait "$SSHD_PID" 2>/dev/null || true
        SSHD_PID=""
    fi
    if [[ -s $SYSLOG.pid ]]; then   # the listener outlives sshd (its parent)
        pid=$(cat "$SYSLOG.pid")
        kill -TERM "$pid" 2>/dev/null || true
        rm -f "$SYSLOG.pid"
    fi
}

cleanup() {
    local rc=$?
    if [[ $rc -ne 0 ]]; then show_log; fi
    stop_sshd
    # A user with processes (a session still closing) cannot be removed.
    if [[ -n $SSH_USER ]]; then
        for _ in $(seq 50); do pgrep -u "$SSH_USER" >/dev/null || break; sleep 0.1; done
    fi
    users_cleanup
    rm -rf "$TMP"
    if [[ $MADE_PRIVSEP_DIR == yes ]]; then rmdir /run/sshd 2>/dev/null || true; fi
    exit "$rc"
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

# ---- the user, the store, the enrollment -----------------------------------

make_test_user SSH_USER sshtotp
usermod --shell /bin/sh "$SSH_USER"   # sshd runs the command with the user's shell
PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s:%s\n' "$SSH_USER" "$PASSWORD" | chpasswd
WRONG_PASSWORD="not-$PASSWORD"

ap() { "$APPPASS" --db "$STORE" --hooks-dir "$TMP/hooks" "$@"; }
json_get() { "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
ap init >/dev/null
SECRET=$(ap mfa enroll "$SSH_USER" --json | json_get secret)
code_at() {   # code_at STEP: the user's code for that 30 s step (the secret on stdin)
    oathtool --totp -b -N "@$(($1 * 30))" - <<<"$SECRET"
}

# ---- sshd ------------------------------------------------------------------

if [[ ! -d /run/sshd ]]; then
    mkdir -m 0755 /run/sshd   # else "Missing privilege separation directory"
    MADE_PRIVSEP_DIR=yes
fi
ssh-keygen -q -t ed25519 -N '' -C apppass-test -f "$TMP/host_ed25519"
PORT=$("$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
cat >"$TMP/sshd_config" <<EOF
ListenAddress 127.0.0.1
HostKey $TMP/host_ed25519
PidFile $TMP/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication no
AuthenticationMethods keyboard-interactive
AllowUsers $SSH_USER
PermitRootLogin no
UseDNS no
PrintMotd no
# VERBOSE: sshd logs a failed keyboard-interactive login ("Failed ... for USER") too.
LogLevel VERBOSE
EOF
# A newer sshd (9.8+) would penalize 127.0.0.1 for the refusals below.
if "$SSHD" -t -f "$TMP/sshd_config" -o PerSourcePenalties=no 2>/dev/null; then
    echo "PerSourcePenalties no" >>"$TMP/sshd_config"
fi

# write_service STACK: the `sshd` service file with STACK as its auth lines.
write_service() {
    mkdir -p "$PAMDIR"
    printf '%s\n' "auth required pam_deny.so" "account required pam_deny.so" \
        "password required pam_deny.so" "session required pam_deny.so" >"$PAMDIR/other"
    cat >"$PAMDIR/sshd" <<EOF
$1
account required pam_unix.so
session required pam_unix.so
EOF
}
write_service "auth    required pam_unix.so nodelay"

# sshd's stderr goes to a pipe: its privilege-separated pre-auth child runs with a
# file-size limit of 0, and a line it wrote to a regular file would kill it (SIGXFSZ).
APPPASS_PY=$PY APPPASS_SSHD_PRELOAD=${APPPASS_TEST_PRELOAD:-} \
    unshare -m --propagation private "$BASH" "${BASH_SOURCE[0]}" __sshd "$TMP" "$PORT" \
    </dev/null 2> >(exec cat >"$LOG") &
SSHD_PID=$!   # unshare execs bash, which execs sshd
if "$PY" "$HERE/../lib/wait_greeting.py" "$PORT" "SSH-2.0-" 10 && kill -0 "$SSHD_PID" 2>/dev/null; then
    ok "sshd listens on 127.0.0.1:$PORT (own config, host key, pid file; the test's PAM files and /dev/log)"
else
    not_ok "sshd listens on 127.0.0.1:$PORT" "$(tail -n 10 "$LOG")"
    exit 1
fi

# ---- logins ----------------------------------------------------------------

# login ANSWER...: logs in as the user with the answers (stdin of the client) and runs
# `id -un`. Sets RC (0 accepted, 1 refused, 2 error), PROMPTS (the prompts, ", "-joined)
# and the offsets of both logs before the attempt (for since).
login() {
    LOG_AT=$(stat -c %s "$LOG")
    SYSLOG_AT=$(stat -c %s "$SYSLOG")
    RC=0
    printf '%s\n' "$@" | timeout 60 "$PY" "$CLIENT" "$PORT" "$SSH_USER" "id -un" >"$OUT" 2>&1 || RC=$?
    PROMPTS=$(sed -n 's/^prompt\t//p' "$OUT" | paste -sd, - | sed 's/,/, /g')
}

since() {   # since sshd|syslog: what that log got since the attempt began
    if [[ $1 == sshd ]]; then tail -c +$((LOG_AT + 1)) "$LOG"; else tail -c +$((SYSLOG_AT + 1)) "$SYSLOG"; fi
}

# verdict: sshd's word on this login ("Accepted"/"Failed keyboard-interactive/pam for
# USER"), waited for (a bounded 3 s).
verdict() {
    local line
    for _ in $(seq 30); do
        line=$(since sshd | grep -oE "(Accepted|Failed) keyboard-interactive/pam for $SSH_USER " | tail -n 1 || true)
        if [[ -n $line ]]; then
            echo "${line%% *}"
            return 0
        fi
        sleep 0.1
    done
    echo "nothing"
}

# syslog_lines PATTERN: the messages (after "MODULE(sshd:auth): ") of this attempt's
# datagrams that match PATTERN, waited for (a bounded 3 s): they were sent before sshd's
# verdict, but the listener may lag.
syslog_lines() {
    local got
    for _ in $(seq 30); do
        got=$(since syslog | grep -oE "$1" || true)
        if [[ -n $got ]]; then break; fi
        sleep 0.1
    done
    sed -E 's/^[a-z_]+\(sshd:auth\): //' <<<"$got"
}

details() { echo "client exit $RC; prompts: ${PROMPTS:-none}"; cat "$OUT"; }

# expect_login DESC PROMPTS ANSWER...: accepted after exactly PROMPTS, `id -un` ran.
expect_login() {
    local desc=$1 prompts=$2 v
    shift 2
    login "$@"
    v=$(verdict)
    if [[ $RC -eq 0 && $PROMPTS == "$prompts" && $v == Accepted ]] &&
        grep -qxF "out	$SSH_USER" "$OUT" && grep -qxF "status	0" "$OUT"; then
        ok "$desc"
    else
        not_ok "$desc" "$(details)" "sshd: $v"
    fi
}

# expect_refusal DESC PROMPTS ANSWER...: refused after exactly PROMPTS (every prompt is
# asked even when the password was wrong), and sshd says it failed.
expect_refusal() {
    local desc=$1 prompts=$2 v
    shift 2
    login "$@"
    v=$(verdict)
    if [[ $RC -eq 1 && $PROMPTS == "$prompts" && $v == Failed ]]; then
        ok "$desc"
    else
        not_ok "$desc" "$(details)" "sshd: $v"
    fi
}

# expect_module_line LINE: pam_apppass logged exactly LINE for this attempt (perhaps with
# a detail="..." after it).
expect_module_line() {
    local got
    got=$(syslog_lines 'pam_apppass\(sshd:auth\): .*')
    if [[ $got == "$1" || $got == "$1 detail=\""* ]]; then
        ok "  logged: $1"
    else
        not_ok "  logged: $1" "got: ${got:-nothing}"
    fi
}

PW_ONLY="Password: "
PW_CODE="Password: , Verification code: "
WHO="service=sshd user=$SSH_USER rhost=127.0.0.1 factor=totp"

# The password module alone: the password alone logs in; a wrong one is refused.
expect_login "pam_unix alone: the password alone logs in and runs a command" "$PW_ONLY" "$PASSWORD"
expect_refusal "pam_unix alone: a wrong password is refused" "$PW_ONLY" "$WRONG_PASSWORD"
got=$(syslog_lines 'pam_unix\(sshd:auth\): authentication failure; .*')
if [[ $got == *" user=$SSH_USER" ]]; then
    ok "  logged (pam_unix, through the test's /dev/log): authentication failure ... user=$SSH_USER"
else
    not_ok "  logged (pam_unix, through the test's /dev/log): authentication failure" "got: ${got:-nothing}"
fi

# The TOTP stack, read by the next connection of the same sshd.
write_service "auth    required pam_unix.so nodelay
auth    required $PAM_SO totp db=$STORE"

# Confirm with the code of step T-1, at least 3 s before T ends (see the header).
now=$(date +%s)
if ((30 - now % 30 < 3)); then
    sleep $((30 - now % 30))
    now=$(date +%s)
fi
T=$((now / 30))
ap mfa confirm "$SSH_USER" "$(code_at $((T - 1)))" >/dev/null
CODE=$(code_at "$T")
NEXT_CODE=$(code_at $((T + 1)))
# A well-formed code that no step from T-1 to T+2 has.
WRONG_CODE=$CODE
window=" $(code_at $((T - 1))) $CODE $NEXT_CODE $(code_at $((T + 2))) "
while [[ $window == *" $WRONG_CODE "* ]]; do
    WRONG_CODE=$(printf '%06d' $(((10#$WRONG_CODE + 1) % 1000000)))
done

expect_refusal "totp stack: the password alone (no code) is refused" "$PW_CODE" "$PASSWORD"
expect_module_line "refused $WHO reason=bad-input"
expect_login "totp stack: password + current code logs in and runs a command" "$PW_CODE" "$PASSWORD" "$CODE"
expect_module_line "accepted $WHO"
expect_refusal "totp stack: the same code again (a second connection, same step) is refused" \
    "$PW_CODE" "$PASSWORD" "$CODE"
expect_module_line "refused $WHO reason=reused-code"
expect_refusal "totp stack: a wrong code is refused" "$PW_CODE" "$PASSWORD" "$WRONG_CODE"
expect_module_line "refused $WHO reason=wrong-code"
# The code is right (and now spent), the password is not: pam_unix fails the stack.
expect_refusal "totp stack: a wrong password is refused even with the right code" \
    "$PW_CODE" "$WRONG_PASSWORD" "$NEXT_CODE"
expect_module_line "accepted $WHO"

# Recovery codes (new ones void those mfa confirm made): one passes the TOTP step once.
RECOVERY=$(ap mfa recovery-codes "$SSH_USER" --json |
    "$PY" -c 'import json, sys; print(json.load(sys.stdin)["recovery_codes"][0])')
expect_login "totp stack: password + a recovery code logs in" "$PW_CODE" "$PASSWORD" "$RECOVERY"
expect_module_line "accepted $WHO reason=recovery-code codes_left=9"
expect_refusal "totp stack: the same recovery code again is refused" "$PW_CODE" "$PASSWORD" "$RECOVERY"
expect_module_line "refused $WHO reason=wrong-code"

# No password or recovery code in anything logged to syslog.
if grep -qF -e "$PASSWORD" -e "$WRONG_PASSWORD" ${RECOVERY:+-e "$RECOVERY"} "$SYSLOG"; then
    not_ok "no password or recovery code in the syslog lines"
else
    ok "no password or recovery code in the syslog lines"
fi

finish
