# shellcheck shell=bash disable=SC2034  # TMP, CLIENT, SOCK, DB, LOG: for the scripts
# A real apppassd for a shell test, on a socket in a private temporary directory, spoken to
# by tests/broker/broker_client.py. Sourced after setup.sh and users.sh (needs $PY and
# users_cleanup); the script sets -euo pipefail.
#   broker_setup [SIGNAL]: TMP, a new directory (0711: test users reach what is staged in
#     it) with the client staged for them (CLIENT); the daemon's paths SOCK, DB and LOG in
#     it; DAEMON_PID empty. On exit the daemon in $DAEMON_PID (if any) gets SIGNAL
#     (default TERM) and is waited for, the test users are removed and TMP too.
#   broker_wait: waits (about 5 s) until the daemon on $SOCK answers root's POLICY_SHOW;
#     else says so, shows $LOG and returns 1.

broker_setup() {
    TMP=$(mktemp -d)
    DAEMON_PID=
    BROKER_STOP_SIGNAL=${1:-TERM}
    trap broker_cleanup EXIT
    chmod 0711 "$TMP"
    mkdir -m 0755 "$TMP/stage"
    CLIENT=$TMP/stage/broker_client.py
    cp "$(dirname "${BASH_SOURCE[0]}")/../broker/broker_client.py" "$CLIENT"
    chmod 0755 "$CLIENT"
    SOCK=$TMP/run/apppassd.sock
    DB=$TMP/db
    LOG=$TMP/daemon.log
}

# The EXIT trap of broker_setup.
broker_cleanup() {
    if [[ -n $DAEMON_PID ]]; then
        kill -"$BROKER_STOP_SIGNAL" "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
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
