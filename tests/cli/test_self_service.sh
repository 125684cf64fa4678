#!/bin/bash
# Self-service end to end (issue 11 item 4): real system users run `apppass`, which talks
# to a real apppassd (root, foreground, on a socket in a temporary directory, over a
# temporary store) and acts on their own account only.
#   - a user self-enrolls once root allows it (`policy set self_enroll yes`), confirms with
#     an oathtool code on stdin, creates an imap app password, logs in with it (pamtester
#     and the PAM module, in-process as root), lists it (table and JSON: the same output
#     as root's `list USER`), revokes it, and the login is refused;
#   - refused with a clear message, the right exit code and nothing changed (root's
#     `list --revoked --json` and `mfa status --json` the same before and after): a reused
#     code, a wrong code, no code (empty stdin), another user's id, another user's name
#     (the same answer as a name nobody has), a scope outside self_service_scopes, more
#     than max_active, and the daemon not running (exit 5 and its message);
#   - the code is read at a "Verification code: " prompt on a terminal (tty_prompt.py: a
#     pseudo-terminal) with echo off, echo back on afterwards, also after Ctrl-C; there is
#     no --code option; root-only commands run by a user say so (exit 4);
#   - recovery codes (issue 12): `mfa confirm` prints the user's 10 codes once, in the
#     format of root's `mfa recovery-codes USER`; `mfa status` counts them (as root's);
#     `mfa recovery-codes` (a code on stdin) makes 10 new ones, text and --json as root's;
#     the daemon then accepts a new one once (CODE, asked as root) and refuses the old;
#     a reused code, a code in argv or another user's name change nothing; no recovery
#     code in the daemon's log.
# Usage: test_self_service.sh APPPASS APPPASSD PAM_MODULE PAM_WRAPPER_LIBRARY
# Root only (exit 77 otherwise): it makes system users (tests/lib/users.sh). Codes are
# TOTP codes of the real clock: each change needs a step after the last one used and a
# code is valid one step either side of now, so three changes fit in one or two 30 s
# steps (the test waits up to 30 s). A refused change spends no code (self_service.h):
# the refusals use the next valid code and the change after them uses it again.
set -euo pipefail

if [[ $# -ne 4 ]]; then
    echo "usage: $0 APPPASS APPPASSD PAM_MODULE PAM_WRAPPER_LIBRARY" >&2
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
require_tools oathtool pamtester setpriv
ROOT_APPPASS=$(realpath -e "$1")
APPPASSD=$(realpath -e "$2")
MODULE=$(realpath -e "$3")
WRAPPER=$(realpath -e "$4")

TMP=$(mktemp -d)
chmod 0711 "$TMP"  # the users reach the staged tool and the socket through it
cleanup() {
    stop_daemon
    users_cleanup
    rm -rf "$TMP"
}
trap cleanup EXIT

make_test_user ALICE ssalice
make_test_user BOB ssbob
DB=$TMP/store
mkdir -m 0755 "$TMP/run"
SOCK=$TMP/run/apppassd.sock

# root ARGS...: the admin tool as root on the store (in-process).
root() { env -u LD_PRELOAD "$ROOT_APPPASS" --db "$DB" "$@"; }
# code_check USER CODE: daemon_lib.sh's on this test's socket.
code_check() { daemon_code_check "$SOCK" "$@"; }
# The form of a recovery code (recovery_codes.h) and of the text that shows them, with
# each code replaced by CODE and root's hint by the user's (for comparing formats).
RC_RE='[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}'
codes_of() { grep -Eo "$RC_RE" "$1"; }
shape_of() { sed -E "s/$RC_RE/CODE/g; s/(apppass mfa recovery-codes) [^' ]+/\1/g" "$1"; }
root init >/dev/null 2>&1

start_daemon "$APPPASSD" "$DB" "$SOCK"

# The users run a staged copy of the tool (the build tree may be out of their reach), in
# a clean environment, on the daemon's socket: run/expect_ok/expect_fail (lib.sh) use
# APPPASS and RUN_AS.
APPPASS=$(stage_program "$TMP/stage" "$ROOT_APPPASS")
as() {
    RUN_AS=(setpriv --reuid="$1" --regid="$1" --init-groups -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin
        LD_LIBRARY_PATH="$TMP/stage/lib" LC_ALL=C.UTF-8 TZ=UTC
        "ASAN_OPTIONS=${ASAN_OPTIONS:-}" "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}")
}
S=(--socket "$SOCK")
as "$ALICE"

# The PAM service imap of the store, for pam_wrapper only; login USER PASSWORD.
mkdir "$TMP/pam.d"
: >"$TMP/pam.d/other"
printf 'auth required %s db=%s\naccount required %s db=%s\n' "$MODULE" "$DB" "$MODULE" "$DB" \
    >"$TMP/pam.d/imap"
login() {
    local preload=$WRAPPER extra=()
    if [[ -n ${APPPASS_TEST_PRELOAD:-} ]]; then
        preload=$APPPASS_TEST_PRELOAD:$WRAPPER
        extra=(PAM_WRAPPER_DISABLE_DEEPBIND=1 ASAN_OPTIONS=detect_leaks=0:abort_on_error=1)
    fi
    printf '%s\n' "$2" | env LD_PRELOAD="$preload" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$TMP/pam.d" \
        "${extra[@]}" pamtester -I rhost=192.0.2.7 imap "$1" authenticate >"$TMP/pamout" 2>&1
}

# --- TOTP codes -----------------------------------------------------------------------
# A code is accepted for the step before, at and after now (one step of drift), and only
# for a step after the last one accepted. LAST_STEP is the step of the last code accepted.
SECRET=""
LAST_STEP=0
code_for() { oathtool --totp -b "$SECRET" --now "@$(($1 * 30 + 15))"; }
# next_code [peek]: CODE = a code for the first usable step after LAST_STEP that stays
# valid for at least 10 s; waits for the clock when the next one is still two steps
# ahead. LAST_STEP becomes that step, unless "peek" (for a change that is refused).
next_code() {
    local s
    s=$(usable_step "$LAST_STEP")
    [[ ${1:-} == peek ]] || LAST_STEP=$s
    CODE=$(code_for "$s")
}
# with_code [peek]: RUN_STDIN is a file holding the next code (next_code) and a newline.
with_code() {
    next_code "$@"
    printf '%s\n' "$CODE" >"$TMP/code"
    RUN_STDIN=$TMP/code
}
# with_stdin TEXT: RUN_STDIN is a file holding TEXT and a newline.
with_stdin() {
    printf '%s\n' "$1" >"$TMP/stdin"
    RUN_STDIN=$TMP/stdin
}

# snapshot: the store as root sees it (every app password and both enrollments).
snapshot() {
    root list --revoked --json
    root mfa status "$ALICE" --json
    root mfa status "$BOB" --json
}
# unchanged DESC: the store is as the last `snapshot >"$TMP/before"` left it.
unchanged() {
    snapshot >"$TMP/after"
    if cmp -s "$TMP/before" "$TMP/after"; then ok "$1: nothing changed"; else
        not_ok "$1: nothing changed" "$(diff "$TMP/before" "$TMP/after" | head -n 10)"
    fi
}

# --- the policy, status and enrollment ----------------------------------------------------
root policy set max_expiry 30d >/dev/null
for args in "policy show" "policy show --json"; do
    # shellcheck disable=SC2086  # word splitting wanted
    expect_ok "$args as a user (POLICY_SHOW)" "${S[@]}" $args
    # shellcheck disable=SC2086
    root $args >"$TMP/root-policy"
    check "$args as a user is root's, byte for byte" cmp -s "$TMP/out" "$TMP/root-policy"
done
root policy set max_expiry never >/dev/null


expect_ok "a user's mfa status before enrolling" "${S[@]}" mfa status
check "it says the user is not enrolled" grep -qx "$ALICE: not enrolled" "$TMP/out"
expect_ok "mfa status --json" "${S[@]}" mfa status --json
jcheck "mfa status --json: the caller, state none" \
    'assert j["user"] == ARGS[0] and j["state"] == "none" and j["enrolled"] is None' "$ALICE"

snapshot >"$TMP/before"
expect_fail 4 "enroll" "self-enrollment is refused while the policy says no" "${S[@]}" mfa enroll
unchanged "refused self-enrollment"
root policy set self_enroll yes >/dev/null
expect_ok "self-enrollment once root allows it (mfa enroll --json)" "${S[@]}" mfa enroll --json
jcheck "mfa enroll --json: the caller, a secret and its otpauth:// URI" \
    'assert j["user"] == ARGS[0] and len(j["secret"]) >= 16 and j["uri"].startswith("otpauth://totp/") and j["secret"] in j["uri"]' \
    "$ALICE"
SECRET=$(json_get secret <"$TMP/out")
expect_ok "mfa status: pending" "${S[@]}" mfa status
check "it says pending and how to confirm" grep -q "pending since .*apppass mfa confirm" "$TMP/out"

with_code
expect_ok "mfa confirm with a current code on stdin" "${S[@]}" mfa confirm
check "it says confirmed" grep -qx "MFA enrollment of $ALICE confirmed." "$TMP/out"
cp "$TMP/out" "$TMP/confirmed"
codes_of "$TMP/confirmed" >"$TMP/confirm-codes"
check "... and prints 10 different recovery codes, once (indented, one a line)" \
    bash -c '[[ $(grep -Ec "^  $2$" "$1") -eq 10 && $(sort -u "$3" | wc -l) -eq 10 ]]' \
    _ "$TMP/confirmed" "$RC_RE" "$TMP/confirm-codes"
# Root's form of the same: a confirmation of a user root enrolled.
cat_secret=$(root mfa enroll "carol$$" --json | json_get secret)
root mfa confirm "carol$$" "$(oathtool --totp -b "$cat_secret")" >"$TMP/root-confirmed"
check "... in the format of root's mfa confirm (codes and the hint's USER aside)" \
    cmp -s <(shape_of "$TMP/confirmed" | sed "s/$ALICE/USER/g") \
    <(shape_of "$TMP/root-confirmed" | sed "s/carol$$/USER/g")
expect_ok "mfa status after confirming" "${S[@]}" mfa status
check "it counts the recovery codes" grep -qx "$ALICE: 10 recovery codes left" "$TMP/out"
expect_ok "mfa status --json after confirming" "${S[@]}" mfa status --json
jcheck "mfa status --json: confirmed, 10 recovery codes left" \
    'assert j["state"] == "confirmed" and j["confirmed"] is not None and j["recovery_codes_left"] == 10'
root mfa status "$ALICE" --json >"$TMP/root-status"
expect_ok "the user's mfa status --json" "${S[@]}" mfa status --json
check "the user's mfa status --json is root's, byte for byte" cmp -s "$TMP/out" "$TMP/root-status"

# --- create (the code typed at a prompt), log in, list ------------------------------------
# tty_run MODE INPUT ARGS...: the user runs the tool on a pseudo-terminal (tty_prompt.py;
# setpriv keeps the terminal); the report (JSON) in $TMP/out.
tty_run() {
    "$PY" "$LIB_DIR/tty_prompt.py" "$1" "$2" "${RUN_AS[@]}" "$APPPASS" "${S[@]}" "${@:3}" >"$TMP/out" || true
}
next_code
tty_run type "$CODE" create --name phone --scope imap --json
jcheck "create with the code typed at the prompt: echo off, not echoed, echo back on" \
    'assert j["prompted"] and j["echo_at_prompt"] is False and not j["echoed"] and j["status"] == 0 and j["echo_after"] is True, j'
"$PY" -c 'import json, sys; print(next(l for l in json.load(sys.stdin)["output"].splitlines() if l.startswith("{")))' \
    <"$TMP/out" >"$TMP/created"
cp "$TMP/created" "$TMP/out"
jcheck "create --json: the caller's, imap only, a password" \
    'assert j["user"] == ARGS[0] and j["name"] == "phone" and j["scopes"] == ["imap"] and re.match(ARGS[1], j["password"])' \
    "$ALICE" "$PW_RE"
PW=$(json_get password <"$TMP/out")
ID=$(json_get id <"$TMP/out")
if login "$ALICE" "$PW"; then ok "a login with it is accepted (pamtester, service imap)"; else
    not_ok "a login with it is accepted (pamtester, service imap)" "$(cat "$TMP/pamout")"
fi

expect_ok "list (table)" "${S[@]}" list
check "the table shows it with its last use" grep -qE "^$ID +$ALICE +phone +imap .* imap +192\.0\.2\.7$" "$TMP/out"
cp "$TMP/out" "$TMP/user-table"
expect_ok "list --json" "${S[@]}" list --json
jcheck "list --json: just that one, with its last use" \
    'assert len(j) == 1 and j[0]["id"] == ARGS[0] and j[0]["user"] == ARGS[1] and j[0]["last_service"] == "imap" and j[0]["last_rhost"] == "192.0.2.7"' \
    "$ID" "$ALICE"
cp "$TMP/out" "$TMP/user-json"
root list "$ALICE" >"$TMP/root-table"
root list "$ALICE" --json >"$TMP/root-json"
check "the user's list is root's list USER, byte for byte" cmp -s "$TMP/user-table" "$TMP/root-table"
check "the user's list --json is root's list USER --json, byte for byte" \
    cmp -s "$TMP/user-json" "$TMP/root-json"
expect_ok "list USER with the user's own name" "${S[@]}" list "$ALICE" --json
check "list USER (own name) is list" cmp -s "$TMP/out" "$TMP/user-json"

# --- recovery codes: new ones with a code; the daemon takes a new one once, not an old one ---
OLD_RC=$(head -n 1 "$TMP/confirm-codes")
with_code
expect_ok "mfa recovery-codes with a current code on stdin" "${S[@]}" mfa recovery-codes
cp "$TMP/out" "$TMP/recovery"
codes_of "$TMP/recovery" >"$TMP/recovery-codes"
check "it prints 10 new recovery codes, none of the old" \
    bash -c '[[ $(sort -u "$1" | wc -l) -eq 10 && -z $(comm -12 <(sort "$1") <(sort "$2")) ]]' \
    _ "$TMP/recovery-codes" "$TMP/confirm-codes"
root mfa recovery-codes "carol$$" >"$TMP/root-recovery"
check "... in the format of root's mfa recovery-codes USER (codes and the hint's USER aside)" \
    cmp -s <(shape_of "$TMP/recovery" | sed "s/$ALICE/USER/g") \
    <(shape_of "$TMP/root-recovery" | sed "s/carol$$/USER/g")
NEW_RC=$(head -n 1 "$TMP/recovery-codes")
OUT=$(code_check "$ALICE" "$OLD_RC")
check "the daemon refuses a code of the old set (CODE: wrong-code)" grep -qP '^OK\t1\toutcome=wrong-code$' <<<"$OUT"
OUT=$(code_check "$ALICE" "$NEW_RC")
check "the daemon accepts a new one (CODE: recovery-code, 9 left)" \
    grep -qP '^OK\t1\toutcome=recovery-code\tcodes_left=9$' <<<"$OUT"
OUT=$(code_check "$ALICE" "$NEW_RC")
check "... once" grep -qP '^OK\t1\toutcome=wrong-code$' <<<"$OUT"
expect_ok "mfa status: one fewer" "${S[@]}" mfa status
check "it says 9 recovery codes left" grep -qx "$ALICE: 9 recovery codes left" "$TMP/out"
root mfa status "$ALICE" --json >"$TMP/root-status"
expect_ok "the user's mfa status --json, 9 left" "${S[@]}" mfa status --json
check "... is root's, byte for byte" cmp -s "$TMP/out" "$TMP/root-status"

snapshot >"$TMP/before"
with_stdin "$(code_for "$LAST_STEP")"
expect_fail 4 "code" "mfa recovery-codes with a reused code: refused (exit 4)" "${S[@]}" mfa recovery-codes
with_stdin 123456
expect_fail 2 "command line" "mfa recovery-codes refuses a code given as an argument" \
    "${S[@]}" mfa recovery-codes 123456
RUN_STDIN=/dev/null
expect_fail 3 "not found" "mfa recovery-codes for another user's name: not found (exit 3)" \
    "${S[@]}" mfa recovery-codes "$BOB"
unchanged "refused mfa recovery-codes"
OUT=$(code_check "$ALICE" "$(sed -n 2p "$TMP/recovery-codes")")
check "... and the codes made before still work (CODE: recovery-code, 8 left)" \
    grep -qP '^OK\t1\toutcome=recovery-code\tcodes_left=8$' <<<"$OUT"
with_code
expect_ok "mfa recovery-codes --json" "${S[@]}" mfa recovery-codes --json
jcheck "mfa recovery-codes --json: the caller and 10 codes, as root's {user, recovery_codes}" \
    'assert sorted(j) == ["recovery_codes", "user"] and j["user"] == ARGS[0] and len(set(j["recovery_codes"])) == 10 and all(re.fullmatch(ARGS[1], c) for c in j["recovery_codes"])' \
    "$ALICE" "$RC_RE"
LAST_RC=$("$PY" -c 'import json, sys; print(json.load(sys.stdin)["recovery_codes"][0])' <"$TMP/out")

# --- refusals: each changes nothing (and spends no code) -----------------------------------
# Bob, enrolled by root, has an app password of his own.
bob_secret=$(root mfa enroll "$BOB" --json | json_get secret)
root mfa confirm "$BOB" "$(oathtool --totp -b "$bob_secret")" >/dev/null
BOB_ID=$(root create "$BOB" --name bobs --scope imap --json | json_get id)
snapshot >"$TMP/before"

with_stdin "$(code_for "$LAST_STEP")"
expect_fail 4 "code" "create with a reused code: refused (exit 4)" "${S[@]}" create --name x1 --scope imap
unchanged "reused code"
next_code peek
with_stdin "$(printf '%06d' $(((10#$CODE + 1) % 1000000)))"
expect_fail 4 "code" "create with a wrong code: refused (exit 4)" "${S[@]}" create --name x2 --scope imap
unchanged "wrong code"
RUN_STDIN=/dev/null
expect_fail 2 "no verification code" "create with no code (empty stdin): exit 2" \
    "${S[@]}" create --name x3 --scope imap
expect_fail 2 "no verification code" "revoke with no code (empty stdin): exit 2" "${S[@]}" revoke --all
unchanged "no code"
expect_fail 2 "--code" "there is no --code option" "${S[@]}" create --name x4 --scope imap --code 123456
# Empty stdin: these fail before a code is asked for, with what to do.
expect_fail 2 "^apppass: choose the services this password is for with --scope \(e\.g\. --scope imap --scope smtp\)$" \
    "create without --scope: exit 2, before a code is asked" "${S[@]}" create --name x9
expect_fail 2 "^apppass: --all-services is for the administrator: choose the services this password is for with --scope" \
    "create --all-services as a user: exit 2, before a code is asked" "${S[@]}" create --name x9 --all-services
unchanged "no scope, or --all-services as a user"
with_stdin 123456
expect_fail 2 "command line" "mfa confirm refuses a code given as an argument" "${S[@]}" mfa confirm 123456

with_code peek
expect_fail 3 "not found|no (active |such )?app password" "revoke another user's id: not found (exit 3)" "${S[@]}" revoke "$BOB_ID"
unchanged "another user's id"
with_code peek
expect_fail 2 "ftp|scope" "create with a scope outside self_service_scopes: exit 2" \
    "${S[@]}" create --name x5 --scope ftp
unchanged "scope outside self_service_scopes"

# Another user's name gets what a name nobody has gets (the tool answers: no code asked).
RUN_STDIN=/dev/null
expect_fail 3 "not found" "revoke with another user's name: not found (exit 3)" "${S[@]}" revoke "$BOB" --all
sed "s/$BOB/NAME/g" "$TMP/err" >"$TMP/err-bob"
expect_fail 3 "not found" "revoke with a name nobody has: not found (exit 3)" "${S[@]}" revoke nosuchuser$$ --all
sed "s/nosuchuser$$/NAME/g" "$TMP/err" >"$TMP/err-none"
check "the two answers are the same (no existence oracle)" cmp -s "$TMP/err-bob" "$TMP/err-none"
for cmd in "list $BOB" "create $BOB --name x6 --scope imap" "mfa status $BOB"; do
    # shellcheck disable=SC2086  # word splitting wanted
    expect_fail 3 "not found" "$cmd (another user's): not found (exit 3)" "${S[@]}" $cmd
done
unchanged "another user's name"

for cmd in init check "mfa reset $BOB" "mfa import $BOB --oath" "policy set max_active 5"; do
    # shellcheck disable=SC2086
    expect_fail 4 "needs root.*SELF-SERVICE" "$cmd as a user: needs root (exit 4)" "${S[@]}" $cmd
done
unchanged "root-only commands"

root policy set max_active 1 >/dev/null
snapshot >"$TMP/before"
with_code peek
expect_fail 4 "active|limit" "a second over max_active 1: refused (exit 4)" "${S[@]}" create --name x7 --scope imap
unchanged "max_active"
tty_run interrupt "" revoke --name phone
jcheck "Ctrl-C at the prompt: prompted with echo off, killed by SIGINT, echo back on" \
    'assert j["prompted"] and j["echo_at_prompt"] is False and j["status"] == -2 and j["echo_after"] is True, j'
unchanged "Ctrl-C at the prompt"

# --- revoke; the login is refused -----------------------------------------------------------
with_code
REVOKE_CODE=$CODE
expect_ok "revoke --name phone with a code on stdin" "${S[@]}" revoke --name phone
check "it names what was revoked" grep -qx "Revoked 1 app password of $ALICE: $ID" "$TMP/out"
if login "$ALICE" "$PW"; then not_ok "the revoked app password is refused" "$(cat "$TMP/pamout")"; else
    ok "the revoked app password is refused"
fi
expect_ok "list after revoking" "${S[@]}" list
check "list says there are none" grep -qx "No app passwords." "$TMP/out"
expect_ok "list --revoked --json" "${S[@]}" list --revoked --json
jcheck "list --revoked --json: it, with its revocation time" \
    'assert [x["id"] for x in j] == [ARGS[0]] and near_now(j[0]["revoked"])' "$ID"
root list "$BOB" --json >"$TMP/bob"
check "bob's app password is still there, active" grep -q "\"id\":\"$BOB_ID\"" "$TMP/bob"

# One that root made for every service (--all-services): the user's list says so, exactly
# as root's does (apppassd's ITEM carries all_services=yes).
root create "$ALICE" --name desk --all-services >/dev/null
expect_ok "list --json with an --all-services one" "${S[@]}" list --json
jcheck "list --json: all_services true, no scopes" \
    'assert len(j) == 1 and j[0]["name"] == "desk" and j[0]["scopes"] == [] and j[0]["all_services"] is True, j'
root list "$ALICE" --json >"$TMP/root-json"
check "... byte for byte root's list USER --json" cmp -s "$TMP/out" "$TMP/root-json"
expect_ok "list (table) with an --all-services one" "${S[@]}" list
check "... shows 'all services'" grep -qE "^[0-9a-f]{8} +$ALICE +desk +all services " "$TMP/out"
root list "$ALICE" >"$TMP/root-table"
check "... byte for byte root's list USER" cmp -s "$TMP/out" "$TMP/root-table"

# --- the daemon not running -------------------------------------------------------------------
NOT_RUNNING='^apppass: the apppass service is not running \(.+\); ask your administrator$'
expect_fail 5 "$NOT_RUNNING" "no daemon on --socket: exit 5" --socket "$TMP/run/nothing.sock" list
check "the message names the socket" grep -qF "$TMP/run/nothing.sock" "$TMP/err"
stop_daemon
snapshot >"$TMP/before"
with_code peek
expect_fail 5 "$NOT_RUNNING" "create with the daemon stopped: exit 5" "${S[@]}" create --name x8 --scope imap
expect_fail 5 "$NOT_RUNNING" "list with the daemon stopped: exit 5" "${S[@]}" list
unchanged "daemon stopped"

if grep -aqF -e "$PW" -e "$REVOKE_CODE" -e "$OLD_RC" -e "$NEW_RC" -e "$LAST_RC" "$TMP/daemon.log"; then
    not_ok "the daemon's log holds no password, code or recovery code"
else
    ok "the daemon's log holds no password, code or recovery code"
fi
finish
