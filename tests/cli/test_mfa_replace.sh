#!/bin/bash
# cli_mfa_replace: `apppass mfa replace` and the `mfa confirm` that finishes it (a new
# phone; common/mfa_replace.h), end to end, against a real apppassd (root, foreground, on
# a socket in a temporary directory, over a temporary store) that also answers CODE (the
# verifier's check of a login's second factor) to show which app's codes work.
#   - as root for USER (on the store): a wrong current code is refused (exit 4) and
#     changes nothing; with a right one (on stdin) the new secret is printed once
#     (--json as enroll's) and `mfa status` shows the replacement pending (text and
#     replacement_pending); the old app's codes still work; a wrong code of the new app
#     is refused and leaves it pending; `mfa confirm USER` with a code of the new app
#     swaps them: the old app's codes are refused from then on, the new one's accepted,
#     the app passwords and recovery codes kept (a recovery code still works); with
#     nothing pending, confirm only re-checks the current app (a code of another secret
#     is refused); the throttle's lockout message reaches the user unchanged; no
#     confirmed enrollment: the core's message, exit 4;
#   - as a user (a real system user, through apppassd's MFA_REPLACE and
#     MFA_REPLACE_CONFIRM): the same flow for themselves, codes on stdin only (a code in
#     argv is refused, exit 2; on a terminal the prompt names the app, echo off),
#     --issuer refused, another user's name refused as a name
#     nobody has (exit 3, the same message); the user's `mfa status --json` is root's;
#     the daemon's log holds no secret or code.
# Usage: test_mfa_replace.sh APPPASS APPPASSD
# Root only (exit 77 otherwise). Codes are TOTP codes of the real clock; each secret's
# codes are used in increasing steps, so the test may wait up to 30 s for the next one.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 APPPASS APPPASSD" >&2
    exit 2
fi
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/users.sh
source "$LIB_DIR/../lib/users.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/stage.sh
source "$LIB_DIR/../lib/stage.sh"
# shellcheck source-path=SCRIPTDIR source=daemon_lib.sh
source "$LIB_DIR/daemon_lib.sh"
require_root_users
require_tools oathtool setpriv cmp
ROOT_APPPASS=$(realpath -e "$1")
APPPASSD=$(realpath -e "$2")

TMP=$(mktemp -d)
chmod 0711 "$TMP"  # the user reaches the staged tool and the socket through it
cleanup() {
    stop_daemon
    users_cleanup
    rm -rf "$TMP"
}
trap cleanup EXIT

make_test_user ALICE mralice
make_test_user BOB mrbob
CAROL=mrcarol$$  # root's case: a store user only
DB=$TMP/store
mkdir -m 0755 "$TMP/run"
SOCK=$TMP/run/apppassd.sock
root() { env -u LD_PRELOAD "$ROOT_APPPASS" --db "$DB" "$@"; }
root init >/dev/null 2>&1

start_daemon "$APPPASSD" "$DB" "$SOCK"

# expect_outcome DESC USER CODE OUTCOME: the daemon answers CODE for USER's CODE (the
# check of a login's second factor) with OUTCOME (accepted, wrong-code, recovery-code).
expect_outcome() {
    local got
    got=$(daemon_code_check "$SOCK" "$2" "$3")
    if grep -qP "^OK\t\d+\toutcome=$4(\t|$)" <<<"$got"; then ok "$1"; else
        not_ok "$1" "answer $got, expected outcome=$4"
    fi
}

# --- TOTP codes ---------------------------------------------------------------------------
# A code is accepted for the step before, at and after now, and only for a step after the
# last one accepted of that secret. LAST[SECRET] is that step.
declare -A LAST=()
# next_code SECRET [peek]: CODE = a code of SECRET for its first usable step that stays
# valid for at least 10 s (waiting for the clock when needed); the step counts as used
# unless "peek" (for a code that is refused).
next_code() {
    local secret=$1 s
    s=$(usable_step "${LAST[$secret]:-0}")
    [[ ${2:-} == peek ]] || LAST[$secret]=$s
    CODE=$(oathtool --totp -b "$secret" --now "@$((s * 30 + 15))")
}
# wrong CODE: a six-digit code that is not CODE.
wrong() { printf '%06d' $(((10#$1 + 1) % 1000000)); }
# stdin_code TEXT: RUN_STDIN is a file holding TEXT and a newline.
stdin_code() {
    printf '%s\n' "$1" >"$TMP/code"
    RUN_STDIN=$TMP/code
}
# snapshot USER: what root sees of USER (app passwords, enrollment).
snapshot() {
    root list "$1" --revoked --json
    root mfa status "$1" --json
}
unchanged() {
    snapshot "$2" >"$TMP/after"
    if cmp -s "$TMP/before" "$TMP/after"; then ok "$1: nothing changed"; else
        not_ok "$1: nothing changed" "$(diff "$TMP/before" "$TMP/after" | head -n 10)"
    fi
}
# enroll USER: root enrolls and confirms USER (SECRET, the recovery codes in
# $TMP/USER-rc) and makes an app password for them.
enroll() {
    SECRET=$(root mfa enroll "$1" --json | json_get secret)
    next_code "$SECRET"
    root mfa confirm "$1" "$CODE" --json |
        "$PY" -c 'import json, sys; print("\n".join(json.load(sys.stdin)["recovery_codes"]))' \
            >"$TMP/$1-rc"
    root create "$1" --name phone --scope imap >/dev/null
}

# === root, for USER, on the store ===========================================================
APPPASS=$ROOT_APPPASS
RUN_AS=(env -u LD_PRELOAD)
D=(--db "$DB")
RUN_STDIN=/dev/null
expect_fail 4 "^apppass: MFA is not set up for this account$" \
    "replace for a user without MFA: the core's message, exit 4" "${D[@]}" mfa replace "$CAROL" 123456
expect_fail 2 "USER is required" "replace without USER as root: exit 2" "${D[@]}" mfa replace

enroll "$CAROL"
OLD=$SECRET
snapshot "$CAROL" >"$TMP/before"
next_code "$OLD" peek
expect_fail 4 "^apppass: wrong or reused verification code$" \
    "replace with a wrong current code: refused (exit 4)" "${D[@]}" mfa replace "$CAROL" "$(wrong "$CODE")"
unchanged "a wrong current code" "$CAROL"

next_code "$OLD"
stdin_code "$CODE"
expect_ok "replace with a current code on stdin (--json)" "${D[@]}" mfa replace "$CAROL" --json
jcheck "replace --json: {user, secret, uri} as enroll's, a new secret" \
    'assert sorted(j) == ["secret", "uri", "user"] and j["user"] == ARGS[0] and j["secret"] != ARGS[1] and j["uri"].startswith("otpauth://totp/") and j["secret"] in j["uri"]' \
    "$CAROL" "$OLD"
NEW=$(json_get secret <"$TMP/out")
RUN_STDIN=/dev/null
expect_ok "mfa status while the replacement is pending" "${D[@]}" mfa status "$CAROL"
check "it says a new app is pending and how to confirm it" \
    grep -qE "^$CAROL: new authenticator app pending since .*'apppass mfa confirm $CAROL'" "$TMP/out"
expect_ok "mfa status --json while pending" "${D[@]}" mfa status "$CAROL" --json
jcheck "mfa status --json: still confirmed, 10 recovery codes, replacement_pending a time" \
    'assert j["state"] == "confirmed" and j["recovery_codes_left"] == 10 and near_now(j["replacement_pending"])'
next_code "$OLD"
expect_outcome "the old app's codes still work while the new one is pending (CODE: accepted)" \
    "$CAROL" "$CODE" accepted

snapshot "$CAROL" >"$TMP/before"
next_code "$NEW" peek
expect_fail 4 "^apppass: wrong or reused verification code$" \
    "confirm with a wrong code of the new app: refused (exit 4)" "${D[@]}" mfa confirm "$CAROL" "$(wrong "$CODE")"
unchanged "a wrong code of the new app" "$CAROL"
next_code "$OLD" peek
expect_fail 4 "^apppass: wrong or reused verification code$" \
    "confirm with a code of the old app: refused (exit 4)" "${D[@]}" mfa confirm "$CAROL" "$CODE"
unchanged "a code of the old app" "$CAROL"

root list "$CAROL" --json >"$TMP/passwords"
next_code "$NEW"
expect_ok "confirm with a code of the new app" "${D[@]}" mfa confirm "$CAROL" "$CODE"
check "it says the new app is confirmed, nothing kept lost" \
    grep -qxF "New authenticator app of $CAROL confirmed; the old one's codes are no longer accepted (app passwords and recovery codes kept)." "$TMP/out"
check "... and prints no recovery codes" test "$(wc -l <"$TMP/out")" -eq 1
expect_ok "mfa status --json after the swap" "${D[@]}" mfa status "$CAROL" --json
jcheck "confirmed now, nothing pending, the 10 recovery codes kept" \
    'assert j["state"] == "confirmed" and near_now(j["confirmed"]) and j["replacement_pending"] is None and j["recovery_codes_left"] == 10'
root list "$CAROL" --json >"$TMP/passwords-after"
check "the app passwords are kept" cmp -s "$TMP/passwords" "$TMP/passwords-after"
next_code "$OLD"
expect_outcome "the old app's codes are refused from then on (CODE: wrong-code)" "$CAROL" "$CODE" wrong-code
next_code "$NEW"
expect_outcome "the new app's codes work (CODE: accepted)" "$CAROL" "$CODE" accepted
expect_outcome "a recovery code made before still works (CODE: recovery-code)" \
    "$CAROL" "$(head -n 1 "$TMP/$CAROL-rc")" recovery-code

# Nothing pending: confirm re-checks the current app only.
snapshot "$CAROL" >"$TMP/before"
OTHER=$(root mfa enroll "other$$" --json | json_get secret)
expect_fail 4 "^apppass: wrong code" \
    "confirm with nothing pending and a code of another secret: refused (exit 4)" \
    "${D[@]}" mfa confirm "$CAROL" "$(oathtool --totp -b "$OTHER")"
unchanged "confirm with nothing pending" "$CAROL"

# The throttle's lockout: its own message, unchanged.
enroll "dave$$"
for _ in 1 2 3 4 5; do root mfa replace "dave$$" 000000 >/dev/null 2>&1 || true; done
next_code "$SECRET" peek
expect_fail 4 "^apppass: too many wrong verification codes" \
    "replace after five wrong codes: the lockout's message (exit 4)" "${D[@]}" mfa replace "dave$$" "$CODE"

# === a user, for themselves, through apppassd ===============================================
enroll "$ALICE"
A_OLD=$SECRET
enroll "$BOB"
APPPASS=$(stage_program "$TMP/stage" "$ROOT_APPPASS")
RUN_AS=(setpriv --reuid="$ALICE" --regid="$ALICE" --init-groups -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin
    LD_LIBRARY_PATH="$TMP/stage/lib" LC_ALL=C.UTF-8 TZ=UTC
    "ASAN_OPTIONS=${ASAN_OPTIONS:-}" "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}")
S=(--socket "$SOCK")

snapshot "$ALICE" >"$TMP/before"
next_code "$A_OLD" peek
stdin_code "$(wrong "$CODE")"
expect_fail 4 "^apppass: wrong or reused verification code$" \
    "a user's replace with a wrong current code: refused (exit 4)" "${S[@]}" mfa replace
stdin_code "$CODE"
expect_fail 2 "not taken from the command line.*'apppass mfa replace'" \
    "a user's replace with the code in argv: refused (exit 2)" "${S[@]}" mfa replace "$CODE"
expect_fail 2 "--issuer is for root" "a user's replace --issuer: refused (exit 2)" \
    "${S[@]}" mfa replace --issuer x
expect_fail 3 "not found" "replace with another user's name: not found (exit 3)" "${S[@]}" mfa replace "$BOB"
sed "s/$BOB/NAME/g" "$TMP/err" >"$TMP/err-bob"
expect_fail 3 "not found" "replace with a name nobody has: not found (exit 3)" \
    "${S[@]}" mfa replace "nosuch$$"
sed "s/nosuch$$/NAME/g" "$TMP/err" >"$TMP/err-none"
check "the two answers are the same (no existence oracle)" cmp -s "$TMP/err-bob" "$TMP/err-none"
expect_fail 3 "not found" "confirm with another user's name: not found (exit 3)" "${S[@]}" mfa confirm "$BOB"
# On a terminal: the prompt names the app, echo off (tty_prompt.py).
TTY_PROMPT="Verification code (current authenticator app): " "$PY" "$LIB_DIR/tty_prompt.py" \
    type "$(wrong "$CODE")" "${RUN_AS[@]}" "$APPPASS" "${S[@]}" mfa replace >"$TMP/out" || true
jcheck "a user's replace on a terminal: the current app's prompt, echo off, refused, echo back on" \
    'assert j["prompted"] and j["echo_at_prompt"] is False and not j["echoed"] and j["status"] == 4 and j["echo_after"] is True, j'
unchanged "the user's refused replace" "$ALICE"

next_code "$A_OLD"
stdin_code "$CODE"
expect_ok "a user's replace with a current code on stdin (MFA_REPLACE)" "${S[@]}" mfa replace
check "it says a new app is made, the current one working until it is confirmed" \
    grep -qx "New authenticator app for $ALICE: the current one keeps working until this one is confirmed." "$TMP/out"
check "... shows the otpauth:// URI and how to confirm" \
    bash -c 'grep -q "^URI: otpauth://totp/" "$1" && grep -qx "  apppass mfa confirm" "$1"' _ "$TMP/out"
A_NEW=$(sed -n 's/^Secret (for manual entry): //p' "$TMP/out")
check "... and a new secret" bash -c '[[ ${#1} -ge 16 && $1 != "$2" ]]' _ "$A_NEW" "$A_OLD"
RUN_STDIN=/dev/null
expect_ok "the user's mfa status while pending" "${S[@]}" mfa status
check "it says a new app is pending, confirmed with 'apppass mfa confirm'" \
    grep -qE "^$ALICE: new authenticator app pending since .*'apppass mfa confirm'\)?$" "$TMP/out"
expect_ok "the user's mfa status --json while pending" "${S[@]}" mfa status --json
root mfa status "$ALICE" --json >"$TMP/root-status"
check "... is root's, byte for byte (replacement_pending too)" cmp -s "$TMP/out" "$TMP/root-status"
check "... which has replacement_pending" grep -q '"replacement_pending":"' "$TMP/out"
next_code "$A_OLD"
expect_outcome "the old app still works while pending (CODE: accepted)" "$ALICE" "$CODE" accepted

snapshot "$ALICE" >"$TMP/before"
next_code "$A_NEW" peek
stdin_code "$(wrong "$CODE")"
expect_fail 4 "^apppass: wrong or reused verification code$" \
    "the user's confirm with a wrong code of the new app: refused (exit 4)" "${S[@]}" mfa confirm
unchanged "the user's wrong code of the new app" "$ALICE"

root list "$ALICE" --json >"$TMP/passwords"
next_code "$A_NEW"
stdin_code "$CODE"
expect_ok "the user's confirm with a code of the new app (MFA_REPLACE_CONFIRM, --json)" \
    "${S[@]}" mfa confirm --json
jcheck "confirm --json: confirmed, no new recovery codes" \
    'assert j == {"user": ARGS[0], "state": "confirmed", "recovery_codes": []}, j' "$ALICE"
RUN_STDIN=/dev/null
expect_ok "the user's mfa status --json after the swap" "${S[@]}" mfa status --json
jcheck "nothing pending, the 10 recovery codes kept" \
    'assert j["state"] == "confirmed" and j["replacement_pending"] is None and j["recovery_codes_left"] == 10'
root list "$ALICE" --json >"$TMP/passwords-after"
check "the user's app passwords are kept" cmp -s "$TMP/passwords" "$TMP/passwords-after"
next_code "$A_OLD"
expect_outcome "the old app's codes are refused (CODE: wrong-code)" "$ALICE" "$CODE" wrong-code
next_code "$A_NEW"
expect_outcome "the new app's codes work (CODE: accepted)" "$ALICE" "$CODE" accepted
root mfa status "$BOB" --json >"$TMP/bob"
check "bob's enrollment is untouched" grep -q '"replacement_pending":null' "$TMP/bob"

if grep -aqF -e "$A_NEW" -e "$A_OLD" "$TMP/daemon.log"; then
    not_ok "the daemon's log holds no secret"
else
    ok "the daemon's log holds no secret"
fi
finish
