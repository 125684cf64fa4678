#!/bin/bash
# apppassd SIGKILLed while CREATE requests are in flight (issue 11: "the store has the
# password whole or not at all"). Each round: USERS real test users, each freshly enrolled
# by the admin tool, send two CREATEs each through the daemon (their own account, a TOTP
# code each) at once; the daemon is killed at a random moment; then, with the daemon
# down, `apppass list --json` reads every record whole, every create the daemon
# acknowledged is there, and `apppass check` is clean; the restarted daemon accepts every
# acknowledged password.
# Usage: test_broker_kill.sh APPPASSD APPPASS [ROUNDS]. Root only (exit 77 otherwise).
set -euo pipefail
APPPASSD=$1
APPPASS=$2
ROUNDS=${3:-10}
USERS=4
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/setup.sh
source "$HERE/../lib/setup.sh"
# shellcheck source=../lib/users.sh
source "$HERE/../lib/users.sh"
# shellcheck source=../lib/broker.sh
source "$HERE/../lib/broker.sh"
require_root_users
require_tools setpriv useradd oathtool "$PY"

broker_setup KILL
NAMES=()
LETTERS=(a b c d e f g h)
for i in $(seq "$USERS"); do
    make_test_user NAME "brkkill${LETTERS[$i - 1]}" # sets NAME
    NAMES+=("$NAME")
    mkdir -m 0700 "$TMP/u$i"
    chown "$NAME" "$TMP/u$i"
done
tool --db "$DB" init >/dev/null 2>&1

# start_daemon: apppassd in the background; waits for its "listening" line (python
# starts slowly on a busy machine: no client probes it).
STARTS=0
start_daemon() {
    STARTS=$((STARTS + 1))
    "$APPPASSD" --db "$DB" --socket "$SOCK" 2>>"$LOG" &
    DAEMON_PID=$!
    local _
    for _ in $(seq 200); do
        [[ $(grep -c 'listening on' "$LOG") -ge $STARTS ]] && return 0
        sleep 0.025
    done
    echo "apppassd did not start"; cat "$LOG"; return 1
}

# fresh_enrollment I: user I's MFA reset (its app passwords revoked) and enrolled again,
# confirmed with the code of the step before the current one, so the next two steps are
# left for two CREATEs. The secret is in $TMP/uI/secret (the user's own).
fresh_enrollment() {
    local user=${NAMES[$1 - 1]} dir=$TMP/u$1 step
    tool --db "$DB" mfa reset "$user" >/dev/null 2>&1 || true
    tool --db "$DB" mfa enroll "$user" --json | grep -o '"secret":"[A-Z2-7]*"' | cut -d'"' -f4 \
        >"$dir/secret"
    chown "$user" "$dir/secret"
    step=$(($(date +%s) / 30))
    tool --db "$DB" mfa confirm "$user" \
        "$(oathtool --totp -b -N "@$(((step - 1) * 30))" "$(cat "$dir/secret")")" >/dev/null
    echo "$step"
}

# count_sent: SENT = the creates the clients have sent so far (builtins only).
count_sent() {
    local f line lines
    SENT=0
    for f in "$TMP"/u*/acked; do
        mapfile -t lines <"$f"
        for line in "${lines[@]}"; do [[ $line == sent* ]] && SENT=$((SENT + 1)); done
    done
    return 0
}
# A descriptor that never has input (a FIFO opened read-write, so nobody else holds it):
# `read -t` on it is a sleep without a fork.
mkfifo "$TMP/nap"
exec {NAP}<>"$TMP/nap"

ACKED=0
REFUSED=0
INTERRUPTED=0
BAD=0
for round in $(seq "$ROUNDS"); do
    STEPS=()
    for i in $(seq "$USERS"); do STEPS+=("$(fresh_enrollment "$i")"); done
    start_daemon
    CLIENTS=()
    for i in $(seq "$USERS"); do
        : >"$TMP/u$i/acked"
        chown "${NAMES[$i - 1]}" "$TMP/u$i/acked"
        as_user "${NAMES[$i - 1]}" "$PY" "$CLIENT" creates "$SOCK" "$TMP/u$i/secret" "$TMP/u$i/acked" \
            "r$round" "${STEPS[$i - 1]}" $((STEPS[i - 1] + 1)) >/dev/null 2>&1 &
        CLIENTS+=($!)
    done
    # Killed right after a random one of the creates was sent, or 0-9 ms later: polled
    # with builtins only (no fork), since a create takes a few milliseconds.
    target=$((RANDOM % (2 * USERS) + 1))
    pause=$((RANDOM % 10))
    for _ in $(seq 2000); do
        count_sent
        [[ $SENT -ge $target ]] && break
        read -r -t 0.002 -u "$NAP" || true
    done
    ((pause > 0)) && { read -r -t "0.00$pause" -u "$NAP" || true; }
    kill -KILL "$DAEMON_PID"
    wait "$DAEMON_PID" 2>/dev/null || true
    DAEMON_PID=
    for pid in "${CLIENTS[@]}"; do wait "$pid" || true; done

    # The daemon is down: the admin tool reads the store in-process.
    sent=$(cat "$TMP"/u*/acked | grep -c '^sent ' || true)
    acked=$(cat "$TMP"/u*/acked | grep -c '^ok ' || true)
    refused=$(cat "$TMP"/u*/acked | grep -c '^fail ' || true)
    ACKED=$((ACKED + acked))
    REFUSED=$((REFUSED + refused))
    if [[ $sent -gt $((acked + refused)) ]]; then INTERRUPTED=$((INTERRUPTED + 1)); fi
    if ! tool --db "$DB" list --json >"$TMP/list.json" 2>"$TMP/err"; then
        not_ok "round $round: apppass list reads the store" "$(cat "$TMP/err")"
        BAD=$((BAD + 1))
        continue
    fi
    if ! "$PY" - "$TMP/list.json" "$TMP"/u*/acked <<'EOF'; then
import json, sys
items = json.load(open(sys.argv[1]))
ids = set()
for it in items:
    for key in ("id", "user", "name", "scopes", "created"):
        assert it.get(key) not in (None, ""), "a record without %s: %r" % (key, it)
    ids.add(it["id"])
for path in sys.argv[2:]:
    for line in open(path):
        if not line.startswith("ok "):
            continue
        acked = line.split()[1]
        assert acked in ids, "acknowledged create %s is missing" % acked
EOF
        not_ok "round $round: every record whole, every acknowledged create there"
        BAD=$((BAD + 1))
        continue
    fi
    if ! tool --db "$DB" check >"$TMP/check" 2>&1; then
        not_ok "round $round: apppass check is clean" "$(cat "$TMP/check")"
        BAD=$((BAD + 1))
        continue
    fi
    start_daemon
    n=0
    for i in $(seq "$USERS"); do
        while read -r what _ pw; do
            if [[ $what == ok ]]; then
                n=$((n + 1))
                printf 'VERIFY\t%s\tuser=%s\tpassword=%s\tservice=imap\n' "$n" "${NAMES[$i - 1]}" "$pw"
            fi
        done <"$TMP/u$i/acked"
    done >"$TMP/verify"
    "$PY" "$CLIENT" talk "$SOCK" <"$TMP/verify" >"$TMP/verified"
    if [[ $(grep -c '^VERIFY' "$TMP/verify") -ne $(grep -c $'^OK\t[0-9]*\toutcome=accepted\t' "$TMP/verified") ]]; then
        not_ok "round $round: every acknowledged password is accepted" "$(cat "$TMP/verified")"
        BAD=$((BAD + 1))
    fi
    kill -TERM "$DAEMON_PID"
    wait "$DAEMON_PID" || { not_ok "round $round: SIGTERM exits 0"; BAD=$((BAD + 1)); }
    DAEMON_PID=
done
note "$ROUNDS rounds, $((ROUNDS * USERS * 2)) creates, $ACKED acknowledged, $REFUSED refused," \
    "$INTERRUPTED rounds with a create in flight at the kill"
check "after every SIGKILL: records whole, acknowledged creates kept, check clean, passwords accepted" \
    test "$BAD" -eq 0
check "kills landed while creates were in flight (sent, not answered)" test "$INTERRUPTED" -gt 0
check "and some creates were acknowledged (the daemon worked between kills)" test "$ACKED" -gt 0
finish
