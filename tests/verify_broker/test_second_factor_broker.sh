#!/bin/bash
# second_factor_broker: the issue-12 checks of a verifier that is not root, through the
# real apppassd (common/second_factor_broker.h, driven by second_factor_check run as real
# users made by the test with useradd/setpriv):
#   - a member of --group: ENROLLED yes/no; CODE accepted, the same code again
#     reused-code, a wrong one wrong-code, a recovery code recovery-code (codes_left 9)
#     and refused the second time, a user without an enrollment not-enrolled, throttled
#     after 5 wrong codes (even a right code); each with the caller's decision line equal
#     to the daemon's (which adds the caller); ACCOUNT ok, account-locked, account-expired,
#     unknown-account for real system accounts
#   - a user outside the group: unavailable for all three ("not allowed to verify"), and
#     nothing spent or counted
#   - the daemon stopped: unavailable for all three, well within 2 s
#
#   test_second_factor_broker.sh APPPASS APPPASSD SECOND_FACTOR_CHECK
# Root only (creates users and a group; exit 77 otherwise).
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: $0 APPPASS APPPASSD SECOND_FACTOR_CHECK" >&2
    exit 2
fi
HERE=$(dirname "${BASH_SOURCE[0]}")
LIB=$HERE/../lib
# shellcheck source-path=SCRIPTDIR source=../lib/users.sh
source "$LIB/users.sh"
require_root_users
APPPASS=$(realpath -e "$1")
APPPASSD=$(realpath -e "$2")
CHECKER=$(realpath -e "$3")

# shellcheck source-path=SCRIPTDIR source=../lib/broker.sh
source "$LIB/broker.sh"
broker_tmp  # the test users reach the staged program and the socket
# shellcheck source-path=SCRIPTDIR source=../lib/report.sh
source "$LIB/report.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/store.sh
source "$LIB/store.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/stage.sh
source "$LIB/stage.sh"
require_tools oathtool setpriv chpasswd usermod chage "$PY"

make_test_group GRP sfgroup
make_test_user MEMBER sfmember "$GRP"
make_test_user OUTSIDER sfoutsider
make_test_user ACC_OK sfaccok
make_test_user ACC_LOCKED sfacclock
make_test_user ACC_EXPIRED sfaccexp
for u in "$ACC_OK" "$ACC_LOCKED" "$ACC_EXPIRED"; do
    printf '%s:Not-a-secret-%s\n' "$u" "$$" | chpasswd
done
usermod -L "$ACC_LOCKED"
chage -E 0 "$ACC_EXPIRED"

PROG=$(stage_program "$TMP/prog" "$CHECKER")
SOCK=$TMP/apppassd.sock
STORE=$TMP/store
RESULT=$TMP/result

# ask USER ARGS... [< CODE]: the checker as USER; its key=value lines in $RESULT.
ask() {
    local user=$1
    shift
    timeout 20 setpriv --reuid="$user" --regid="$user" --init-groups -- \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LD_LIBRARY_PATH="$TMP/prog/lib" \
        ASAN_OPTIONS="${ASAN_OPTIONS:-}" "$PROG" "$SOCK" "$@" >"$RESULT" 2>&1 || true
}
# field KEY: a value of the last answer.
field() { sed -n "s/^$1=//p" "$RESULT" | head -n 1; }
# answered DESC KEY=VALUE...: every pair is in the last answer, and it took under 2 s.
answered() {
    local desc=$1 pair why=
    shift
    for pair in "$@"; do
        grep -qxF -- "$pair" "$RESULT" || why="${why}no $pair; "
    done
    [[ $(field ms) -lt 2000 ]] || why="${why}took $(field ms) ms; "
    if [[ -z $why ]]; then ok "$desc"; else not_ok "$desc" "$why" "$(cat "$RESULT")"; fi
}

# The store: alice enrolled (secret known), her recovery codes; bob not enrolled; tina
# enrolled (for the throttle).
tool --db "$STORE" init >/dev/null 2>&1
SECRET=$(tool --db "$STORE" mfa enroll alice --json | json_get secret)
code_at() { oathtool --totp -b -N "@$(($2 * 30))" "$1"; }
STEP=$(($(date +%s) / 30))
tool --db "$STORE" mfa confirm alice "$(code_at "$SECRET" $((STEP - 1)))" >/dev/null
RECOVERY=$(tool --db "$STORE" mfa recovery-codes alice --json |
    "$PY" -c 'import json, sys; print(json.load(sys.stdin)["recovery_codes"][0])')
SECRET_T=$(tool --db "$STORE" mfa enroll tina --json | json_get secret)
tool --db "$STORE" mfa confirm tina "$(code_at "$SECRET_T" $((STEP - 1)))" >/dev/null

broker_start_quiet "$STORE" "$SOCK" "$GRP"
check "apppassd listens on $SOCK" test -S "$SOCK"

# --- A user outside the group first: nothing may be spent or counted by their asking.
CODE_NOW=$(code_at "$SECRET" "$STEP")
ask "$OUTSIDER" code alice sshd 192.0.2.7 <<<"$CODE_NOW"
answered "CODE by a user outside $GRP: unavailable, the daemon refused" "outcome=unavailable" \
    "detail=the apppass service refused to check the code: not allowed to verify" \
    "log=error service=sshd user=alice rhost=192.0.2.7 factor=totp reason=unavailable detail=\"the apppass service refused to check the code: not allowed to verify\""
ask "$OUTSIDER" enrolled alice
answered "ENROLLED by a user outside $GRP: unavailable (and counted as enrolled)" \
    "status=unavailable" "enrolled=yes" \
    "detail=the apppass service refused to say whether the user is enrolled: not allowed to verify"
ask "$OUTSIDER" account "$ACC_OK"
answered "ACCOUNT by a user outside $GRP: unavailable" "state=unavailable" \
    "detail=the apppass service refused to check the account: not allowed to verify"

# --- A member of the group.
ask "$MEMBER" enrolled alice
answered "ENROLLED alice (confirmed): yes" "status=ok" "enrolled=yes"
ask "$MEMBER" enrolled bob
answered "ENROLLED bob (none): no" "status=ok" "enrolled=no"

ask "$MEMBER" code alice sshd 192.0.2.7 <<<"$CODE_NOW"
answered "CODE alice, a current code: accepted (the outsider's try spent nothing)" \
    "outcome=accepted" "codes_left=-1" \
    "log=accepted service=sshd user=alice rhost=192.0.2.7 factor=totp"
check "... the daemon logged the same decision line, with the caller" \
    grep -q "accepted service=sshd user=alice rhost=192.0.2.7 factor=totp caller_uid=$(id -u "$MEMBER") caller_pid=[0-9]*$" "$TMP/apppassd.out"
ask "$MEMBER" code alice sshd 192.0.2.7 <<<"$CODE_NOW"
answered "CODE alice, the same code again (another process): reused-code" "outcome=reused-code" \
    "log=refused service=sshd user=alice rhost=192.0.2.7 factor=totp reason=reused-code"
# A code of none of the steps in the window.
WRONG=000000
for s in -1 0 1; do
    [[ $(code_at "$SECRET" $((STEP + s))) != "$WRONG" ]] || WRONG=999999
done
ask "$MEMBER" code alice sshd "" <<<"$WRONG"
answered "CODE alice, a wrong code: wrong-code (no rhost: '-')" "outcome=wrong-code" \
    "log=refused service=sshd user=alice rhost=- factor=totp reason=wrong-code"
ask "$MEMBER" code alice sshd 192.0.2.7 <<<"$RECOVERY"
answered "CODE alice, a recovery code: recovery-code, 9 left" "outcome=recovery-code" \
    "codes_left=9" \
    "log=accepted service=sshd user=alice rhost=192.0.2.7 factor=totp reason=recovery-code codes_left=9"
ask "$MEMBER" code alice sshd 192.0.2.7 <<<"$RECOVERY"
answered "CODE alice, the same recovery code again: wrong-code" "outcome=wrong-code"
check "no code and no recovery code in the daemon's log" \
    bash -c '! grep -qF -e "$2" -e "$3" "$1"' _ "$TMP/apppassd.out" "$CODE_NOW" "$RECOVERY"
ask "$MEMBER" code bob sshd "" <<<"123456"
answered "CODE bob (no enrollment): not-enrolled" "outcome=not-enrolled" \
    "log=refused service=sshd user=bob rhost=- factor=totp reason=not-enrolled"
ask "$MEMBER" code alice sshd "" <<<""
answered "CODE with an empty code: bad-input" "outcome=bad-input"

# The throttle: 5 wrong codes, then even a right one is refused.
WRONG_T=000000
for s in -1 0 1 2; do
    [[ $(code_at "$SECRET_T" $((STEP + s))) != "$WRONG_T" ]] || WRONG_T=999999
done
for _ in 1 2 3 4 5; do ask "$MEMBER" code tina sshd "" <<<"$WRONG_T"; done
answered "CODE tina: the fifth wrong code is still wrong-code" "outcome=wrong-code"
ask "$MEMBER" code tina sshd "" <<<"$(code_at "$SECRET_T" $(($(date +%s) / 30)))"
answered "CODE tina after 5 wrong codes: throttled, even with a right code" "outcome=throttled"

ask "$MEMBER" account "$ACC_OK"
answered "ACCOUNT of a user with a password: ok" "state=ok" "detail="
ask "$MEMBER" account "$ACC_LOCKED"
answered "ACCOUNT of a user locked with usermod -L: account-locked" "state=account-locked"
ask "$MEMBER" account "$ACC_EXPIRED"
answered "ACCOUNT of a user expired with chage -E 0: account-expired" "state=account-expired"
ask "$MEMBER" account "nosuchuser$$"
answered "ACCOUNT of a name NSS does not know: unknown-account" "state=unknown-account"

# --- The daemon stopped.
kill "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
ask "$MEMBER" code alice sshd "" <<<"$CODE_NOW"
answered "CODE with apppassd stopped: unavailable at once" "outcome=unavailable"
check "... saying it is not running" grep -q "^detail=the apppass service is not running" "$RESULT"
ask "$MEMBER" enrolled alice
answered "ENROLLED with apppassd stopped: unavailable, counted as enrolled" \
    "status=unavailable" "enrolled=yes"
ask "$MEMBER" account "$ACC_OK"
answered "ACCOUNT with apppassd stopped: unavailable" "state=unavailable"
finish
