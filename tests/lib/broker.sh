# shellcheck shell=bash disable=SC2034  # TMP, CLIENT, SOCK, DB, LOG, FAKE_PID: for the scripts
# A real apppassd for a shell test, on a socket in a private temporary directory, spoken to
# by tests/broker/broker_client.py. Sourced after setup.sh and users.sh (needs $PY,
# $APPPASSD and users_cleanup); the script sets -euo pipefail.
#   broker_tmp [SIGNAL]: TMP, a new directory (0711: test users reach what is staged in it);
#     DAEMON_PID and FAKE_PID empty. On exit the daemon in $DAEMON_PID (if any) gets SIGNAL
#     (default TERM), a fake one in $FAKE_PID TERM, each is waited for, the test users are
#     removed and TMP too.
#   broker_setup [SIGNAL]: broker_tmp, and in TMP the client staged for the test users
#     (CLIENT) and the daemon's paths SOCK, DB and LOG.
#   broker_wait: waits (about 5 s) until the daemon on $SOCK answers root's POLICY_SHOW;
#     else says so, shows $LOG and returns 1.
#   broker_start_quiet DB SOCK GROUP: apppassd (without LD_PRELOAD) in the background
#     (DAEMON_PID), its output in $TMP/apppassd.out; waits (about 10 s) for its socket.

broker_tmp() {
    TMP=$(mktemp -d)
    DAEMON_PID=
    FAKE_PID=
    BROKER_STOP_SIGNAL=${1:-TERM}
    trap broker_cleanup EXIT
    chmod 0711 "$TMP"
}

broker_setup() {
    broker_tmp "$@"
    mkdir -m 0755 "$TMP/stage"
    CLIENT=$TMP/stage/broker_client.py
    cp "$(dirname "${BASH_SOURCE[0]}")/../broker/broker_client.py" "$CLIENT"
    chmod 0755 "$CLIENT"
    SOCK=$TMP/run/apppassd.sock
    DB=$TMP/db
    LOG=$TMP/daemon.log
}

# The EXIT trap of broker_tmp.
broker_cleanup() {
    if [[ -n $DAEMON_PID ]]; then
        kill -"$BROKER_STOP_SIGNAL" "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
    fi
    if [[ -n $FAKE_PID ]]; then
        kill "$FAKE_PID" 2>/dev/null || true
        wait "$FAKE_PID" 2>/dev/null || true
    fi
    users_cleanup
    rm -rf "$TMP"
}

broker_wait() {
    local _
    for _ in $(seq 100); do
        [[ -S $SOCK ]] && printf 'POLICY_SHOW\t1\n' | "$PY" "$CLIENT" talk "$SOCK" >/dev/null 2>&1 &&
            return 0
        sleep 0.05
    done
    echo "apppassd did not start"
    cat "$LOG"
    return 1
}

broker_start_quiet() {
    env -u LD_PRELOAD "$APPPASSD" --db "$1" --socket "$2" --group "$3" >"$TMP/apppassd.out" 2>&1 &
    DAEMON_PID=$!
    local _
    for _ in $(seq 100); do
        [[ -S $2 ]] && return 0
        sleep 0.1
    done
}
