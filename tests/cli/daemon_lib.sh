# shellcheck shell=bash
# What the cli tests that run a real apppassd share (test_self_service.sh,
# test_mfa_replace.sh). Sourced after lib.sh (report functions, PY, TMP).
#   start_daemon APPPASSD DB SOCK: runs APPPASSD (root, foreground) on the store DB and the
#     socket SOCK, its output in $TMP/daemon.log, DAEMON_PID its pid; reports whether it
#     listens and ends the test when it does not.
#   stop_daemon: stops it (nothing when it is not running).
#   daemon_code_check SOCK USER CODE: the daemon's answer to a CODE request (protocol 1.1, the
#     verifier's check of a login's second factor) for USER, asked as root: the OK line,
#     e.g. "OK<TAB>1<TAB>outcome=recovery-code<TAB>codes_left=9".
#   usable_step LAST: the step of the first TOTP code after step LAST that the store
#     accepts now (one step of drift either side) and that stays valid for at least 10 s;
#     waits for the clock when that is still two steps ahead.

DAEMON_PID=""

start_daemon() {
    "$1" --db "$2" --socket "$3" >"$TMP/daemon.log" 2>&1 &
    DAEMON_PID=$!
    for _ in $(seq 100); do [[ -S $3 ]] && break; sleep 0.1; done
    if [[ -S $3 ]]; then
        ok "apppassd listens on $3"
    else
        not_ok "apppassd listens on $3" "$(tail -n 5 "$TMP/daemon.log")"
        finish
        exit 1
    fi
}

stop_daemon() {
    if [[ -n $DAEMON_PID ]]; then
        kill "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
        DAEMON_PID=""
    fi
}

daemon_code_check() {
    "$PY" - "$1" "$2" "$3" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"VERSION\t1\t1\nCODE\t1\tuser=%s\tcode=%s\tservice=sshd\n"
          % (sys.argv[2].encode(), sys.argv[3].encode()))
buf = b""
while b"\nOK\t" not in buf and b"\nFAIL\t" not in buf:
    chunk = s.recv(4096)
    if not chunk:
        break
    buf += chunk
print(buf.decode().split("\n")[1])
PYEOF
}

usable_step() {
    local now t s
    while :; do
        now=$(date +%s)
        t=$((now / 30))
        s=$(($1 + 1))
        ((s >= t - 1)) || s=$((t - 1))
        ((s != t - 1 || now % 30 <= 20)) || s=$t
        ((s > t + 1)) || break
        sleep $((30 - now % 30))
    done
    echo "$s"
}
