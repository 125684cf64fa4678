#!/bin/bash
# apppassd on a real socket in a temp directory, with a real store, driven by a protocol
# client (broker_client.py) run as root and as real test users (useradd; tests/lib/users.sh):
#   - the daemon: --help, --version, refuses to run as a user, SIGTERM exits 0 and removes
#     its socket; a stale socket file is replaced, a live daemon's never
#   - handshake: its VERSION first; another major (FAIL 0 version) or no version line
#     (FAIL 0 invalid) closes the connection
#   - VERIFY: root and members of --group (supplementary group, SO_PEERGROUPS; or primary
#     gid) get outcomes; a user in neither gets FAIL denied
#   - LIST and MFA_STATUS answer for the caller's own user only; POLICY_SET is root's
#   - a committed REVOKE runs the --hooks-dir hooks with the tool's arguments and
#     environment (refused ones run none); a failing hook is logged, the revoke stands
#   - CREATE, REVOKE, MFA_ENROLL, MFA_CONFIRM as a user: a current code each (reused,
#     missing, wrong: denied), another user's id or name not_found, every change audited
#     without a secret
#   - malformed lines and unknown kinds get their FAIL and the connection goes on; a line
#     over 8192 bytes gets FAIL 0 too_long, the connection is closed, the daemon serves on
#   - a slow client (half a line, then nothing) is dropped at the deadline, the per-uid cap
#     refuses a ninth connection, and root is still answered at once meanwhile
#   - 1,000 connections at once, each one VERIFY: every answer right; RSS printed, bounded
#   - protocol 1.1: VERIFY says enrolled=; CODE, ENROLLED and ACCOUNT for root and members
#     of --group only (others FAIL denied), each answer and its log line; a user record
#     that does not decode is unavailable for all (never "not enrolled"); MFA_CONFIRM and
#     MFA_RECOVERY answer recovery codes as ITEM lines, audited, never logged
# Usage: test_broker.sh APPPASSD APPPASS STORE_TAMPER. Root only (exit 77 otherwise).
set -euo pipefail
APPPASSD=$1
APPPASS=$2
STORE_TAMPER=$3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/setup.sh
source "$HERE/../lib/setup.sh"
# shellcheck source=../lib/users.sh
source "$HERE/../lib/users.sh"
# shellcheck source=../lib/broker.sh
source "$HERE/../lib/broker.sh"
# shellcheck source=../lib/stage.sh
source "$HERE/../lib/stage.sh"
require_root_users
require_tools setpriv useradd oathtool "$PY"

broker_setup

make_test_group GROUP brkgrp
make_test_user MEMBER brkmember "$GROUP"
make_test_user OTHER brkother

# start_daemon ARGS...: apppassd in the background on $SOCK, store $DB, log $LOG; waits
# until it answers.
start_daemon() {
    "$APPPASSD" --db "$DB" --socket "$SOCK" --group "$GROUP" "$@" 2>>"$LOG" &
    DAEMON_PID=$!
    broker_wait
}

# talk [USER] [talk options...] < lines: the replies (as USER, else root).
talk() {
    if [[ ${1:-} != -* && -n ${1:-} ]]; then
        local user=$1
        shift
        as_user "$user" "$PY" "$CLIENT" talk "$SOCK" "$@"
    else
        "$PY" "$CLIENT" talk "$SOCK" "$@"
    fi
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# --- The program itself ---
check "--help names every option" \
    bash -c '"$1" --help | grep -q -- --max-per-uid' _ "$APPPASSD"
check "--version" bash -c '"$1" --version | grep -q "^apppassd [0-9]"' _ "$APPPASSD"
STAGED=$(stage_program "$TMP/stage" "$APPPASSD")
RC=0
as_user "$OTHER" env LD_LIBRARY_PATH="$TMP/stage/lib" "$STAGED" --db "$DB" --socket "$TMP/x.sock" \
    >"$TMP/out" 2>&1 || RC=$?
check "refuses to run as a user other than root (exit 1, says why)" \
    bash -c '[[ $1 -eq 1 ]] && grep -q "must run as root" "$2"' _ "$RC" "$TMP/out"

store_with_passwords "$DB"  # alice: PW (imap smtp), OLD_PW revoked
enroll_user "$DB" "$MEMBER"
MEMBER_ID=$(tool --db "$DB" create "$MEMBER" --name laptop --scope imap --json | json_get id)
tool --db "$DB" create "$MEMBER" --name phone --scope smtp >/dev/null

# Hooks (hooks.h): one records what it was given, one fails; both run after a REVOKE.
HOOKS=$TMP/hooks
mkdir -m 0755 "$HOOKS"
printf '#!/bin/sh\necho "args=$* event=$APPPASS_EVENT user=$APPPASS_USER db=$APPPASS_DB" >>%s\n' \
    "$TMP/hooks.out" >"$HOOKS/10-record"
printf '#!/bin/sh\nexit 3\n' >"$HOOKS/20-fail"
chmod 0755 "$HOOKS/10-record" "$HOOKS/20-fail"

start_daemon --timeout 2 --hooks-dir "$HOOKS"
check "the socket is 0666 (the daemon decides by SO_PEERCRED)" \
    bash -c '[[ $(stat -c %a "$1") == 666 ]]' _ "$SOCK"

# --- Handshake ---
OUT=$(printf 'POLICY_SHOW\t1\n' | talk)
check "handshake: the daemon's VERSION 1 2 comes first" test "$(head -n 1 <<<"$OUT")" = $'VERSION\t1\t2'
OUT=$(printf 'POLICY_SHOW\t1\n' | talk --version 'VERSION\t2\t0' --wait-eof)
check "another major version: FAIL 0 version, connection closed" \
    bash -c 'grep -q "^FAIL	0	version	" <<<"$1" && [[ $(tail -n 1 <<<"$1") == EOF ]] &&
             ! grep -q "^OK" <<<"$1"' _ "$OUT"
OUT=$(printf 'POLICY_SHOW\t1\n' | talk --version 'HELLO' --wait-eof)
check "no version line: FAIL 0 invalid, connection closed" \
    bash -c 'grep -q "^FAIL	0	invalid	" <<<"$1" && [[ $(tail -n 1 <<<"$1") == EOF ]]' _ "$OUT"

# --- VERIFY and who may send it ---
verify_lines() {
    printf 'VERIFY\t1\tuser=alice\tpassword=%s\tservice=imap\trhost=192.0.2.7\n' "$PW"
    printf 'VERIFY\t2\tuser=alice\tpassword=%s\tservice=imap\n' "$OLD_PW"
    printf 'VERIFY\t3\tuser=alice\tpassword=%s\tservice=pop3\n' "$PW"
    printf 'VERIFY\t4\tuser=alice\tpassword=wrong\tservice=imap\n'
}
OUT=$(verify_lines | talk)
check "VERIFY as root: accepted (with id and name), revoked, out-of-scope, wrong-password" \
    bash -c 'grep -q "^OK	1	outcome=accepted	id=[0-9a-f]*	name=phone	enrolled=yes$" <<<"$1" &&
             grep -q "^OK	2	outcome=revoked	id=" <<<"$1" &&
             grep -q "^OK	3	outcome=out-of-scope	id=" <<<"$1" &&
             grep -q "^OK	4	outcome=wrong-password	enrolled=yes$" <<<"$1"' _ "$OUT"
check "VERIFY is logged as a decision line with the caller" \
    grep -q "accepted service=imap user=alice rhost=192.0.2.7 id=.* caller_uid=0 " "$LOG"
check "VERIFY records the last use (as root, in the usage database)" \
    bash -c '"$1" --db "$2" list alice --json | grep -q "\"last_rhost\":\"192.0.2.7\""' _ "$APPPASS" "$DB"
OUT=$(verify_lines | talk "$MEMBER")
check "VERIFY by a member of --group (supplementary group, SO_PEERGROUPS): answered" \
    bash -c 'grep -q "^OK	1	outcome=accepted	" <<<"$1" && grep -q "^OK	4	outcome=wrong-password	enrolled=yes$" <<<"$1"' _ "$OUT"
OUT=$(verify_lines | setpriv --reuid="$OTHER" --regid="$GROUP" --clear-groups \
    "$PY" "$CLIENT" talk "$SOCK")
check "VERIFY by a process whose gid is --group: answered" \
    grep -q "^OK	1	outcome=accepted	" <<<"$OUT"
OUT=$(verify_lines | talk "$OTHER")
check "VERIFY by a user in neither: FAIL denied, no outcome" \
    bash -c 'grep -q "^FAIL	1	denied	not allowed to verify$" <<<"$1" && ! grep -q outcome= <<<"$1"' _ "$OUT"
printf 'VERIFY\t1\tuser=alice\tservice=imap\n' | talk >"$TMP/out"
check "VERIFY without a password: FAIL invalid" grep -q "^FAIL	1	invalid	VERIFY needs password=" "$TMP/out"
OUT=$({
    printf 'VERIFY\t1\tuser=%s\tpassword=%s\tservice=imap\n' "$OTHER" "$PW"
    printf 'VERIFY\t2\tuser=bad\\x01name\tpassword=%s\tservice=imap\n' "$PW"
} | talk)
check "VERIFY (minor 1): a user without an enrollment is enrolled=no (unknown-user, bad-input)" \
    bash -c 'grep -q "^OK	1	outcome=unknown-user	enrolled=no$" <<<"$1" &&
             grep -q "^OK	2	outcome=bad-input	detail=.*	enrolled=no$" <<<"$1"' _ "$OUT"

# --- ENROLLED (minor 1): the enrollment probe, with the rights of VERIFY ---
enrolled_lines() {
    printf 'ENROLLED\t1\tuser=alice\n'
    printf 'ENROLLED\t2\tuser=%s\n' "$OTHER"
    printf 'ENROLLED\t3\tuser=nosuchuser%s\n' "$$"
    printf 'ENROLLED\t4\tuser=bad\\x01name\n'
    printf 'ENROLLED\t5\n'
}
OUT=$(enrolled_lines | talk)
check "ENROLLED as root: alice (confirmed) yes; a user without one, an unknown and a bad name no" \
    bash -c 'grep -q "^OK	1	enrolled=yes$" <<<"$1" && grep -q "^OK	2	enrolled=no$" <<<"$1" &&
             grep -q "^OK	3	enrolled=no$" <<<"$1" && grep -q "^OK	4	enrolled=no$" <<<"$1"' _ "$OUT"
check "ENROLLED without user=: FAIL invalid" grep -q "^FAIL	5	invalid	ENROLLED needs user=$" <<<"$OUT"
OUT=$(enrolled_lines | talk "$MEMBER")
check "ENROLLED by a member of --group: answered" \
    bash -c 'grep -q "^OK	1	enrolled=yes$" <<<"$1" && grep -q "^OK	2	enrolled=no$" <<<"$1"' _ "$OUT"
OUT=$(enrolled_lines | talk "$OTHER")
check "ENROLLED by a user in neither: FAIL denied, no answer, logged" \
    bash -c '[[ $(grep -c "^FAIL	[1-4]	denied	not allowed to verify$" <<<"$1") -eq 4 ]] &&
             ! grep -q enrolled= <<<"$1" &&
             grep -q "refused ENROLLED from uid=$3 pid=[0-9]*: not root and not in group" "$2"' \
    _ "$OUT" "$LOG" "$(id -u "$OTHER")"

# --- ACCOUNT (minor 1): the account state of a system user (NSS, shadow), as root ---
make_test_user ACC_OK brkaccok
make_test_user ACC_LOCKED brkacclock
make_test_user ACC_EXPIRED brkaccexp
for u in "$ACC_OK" "$ACC_LOCKED" "$ACC_EXPIRED"; do
    printf '%s:Not-a-secret-%s\n' "$u" "$$" | chpasswd
done
usermod -L "$ACC_LOCKED"
chage -E 0 "$ACC_EXPIRED"  # expired on 1970-01-01
account_lines() {
    printf 'ACCOUNT\t1\tuser=%s\n' "$ACC_OK"
    printf 'ACCOUNT\t2\tuser=%s\n' "$ACC_LOCKED"
    printf 'ACCOUNT\t3\tuser=%s\n' "$ACC_EXPIRED"
    printf 'ACCOUNT\t4\tuser=nosuchuser%s\n' "$$"
    printf 'ACCOUNT\t5\n'
}
OUT=$(account_lines | talk)
check "ACCOUNT as root: ok, account-locked (usermod -L), account-expired (chage -E 0), unknown-account" \
    bash -c 'grep -q "^OK	1	state=ok$" <<<"$1" && grep -q "^OK	2	state=account-locked$" <<<"$1" &&
             grep -q "^OK	3	state=account-expired$" <<<"$1" &&
             grep -q "^OK	4	state=unknown-account$" <<<"$1"' _ "$OUT"
check "ACCOUNT without user=: FAIL invalid" grep -q "^FAIL	5	invalid	ACCOUNT needs user=$" <<<"$OUT"
check "ACCOUNT checks are logged with the caller" \
    bash -c 'grep -q "account user=$2 state=ok caller_uid=0 caller_pid=[0-9]*$" "$1" &&
             grep -q "account user=$3 state=account-locked caller_uid=0 " "$1"' \
    _ "$LOG" "$ACC_OK" "$ACC_LOCKED"
OUT=$(account_lines | talk "$MEMBER")
check "ACCOUNT by a member of --group (who cannot read /etc/shadow): answered as root" \
    bash -c 'grep -q "^OK	1	state=ok$" <<<"$1" && grep -q "^OK	2	state=account-locked$" <<<"$1" &&
             grep -q "^OK	3	state=account-expired$" <<<"$1"' _ "$OUT"
OUT=$(account_lines | talk "$OTHER")
check "ACCOUNT by a user in neither: FAIL denied, no state" \
    bash -c '[[ $(grep -c "^FAIL	[1-4]	denied	not allowed to verify$" <<<"$1") -eq 4 ]] &&
             ! grep -q state= <<<"$1"' _ "$OUT"
usermod -U "$ACC_LOCKED"
OUT=$(printf 'ACCOUNT\t1\tuser=%s\n' "$ACC_LOCKED" | talk "$MEMBER")
check "... and unlocked (usermod -U) it is ok again: read at each request" grep -q "^OK	1	state=ok$" <<<"$OUT"

# --- Self-service reads act on the caller's own user ---
OUT=$(printf 'LIST\t7\nMFA_STATUS\t8\n' | talk "$MEMBER")
check "LIST as a user: their own app passwords only (count, user, items)" \
    bash -c 'grep -q "^OK	7	count=2	user=$2$" <<<"$1" &&
             [[ $(grep -c "^ITEM	7	" <<<"$1") -eq 2 ]] &&
             grep -q "^ITEM	7	id=$3	name=laptop	scopes=imap	created=[0-9T:Z-]*	state=active$" <<<"$1"' \
    _ "$OUT" "$MEMBER" "$MEMBER_ID"
check "MFA_STATUS as a user: their own enrollment (and, minor 1, how many recovery codes are left)" \
    grep -Eq "^OK	8	user=$MEMBER	state=confirmed	enrolled=.*	confirmed=.*	source=apppass	recovery_codes_left=[0-9]+$" <<<"$OUT"
OUT=$(printf 'LIST\t1\tuser=alice\nMFA_STATUS\t2\tuser=alice\n' | talk "$OTHER")
check "LIST and MFA_STATUS as another user: nothing of anyone else, whatever user= says" \
    bash -c 'grep -q "^OK	1	count=0	user=$2$" <<<"$1" && grep -q "^OK	2	user=$2	state=none$" <<<"$1" &&
             ! grep -q "^ITEM" <<<"$1"' _ "$OUT" "$OTHER"
OUT=$(printf 'LIST\t1\trevoked=yes\n' | talk)
check "LIST revoked=yes as root: root's own (none), not alice's" grep -q "^OK	1	count=0	user=root$" <<<"$OUT"
OUT=$(printf 'POLICY_SET\t1\tkey=max_active\tvalue=3\nPOLICY_SHOW\t2\n' | talk "$OTHER")
check "POLICY_SET by a user: FAIL denied (audited); POLICY_SHOW: anyone" \
    bash -c 'grep -q "^FAIL	1	denied	only root may change the policy" <<<"$1" &&
             grep -q "^OK	2	self_enroll=" <<<"$1" &&
             grep -q "change op=policy-set uid=$3 user=$4 key=max_active value=3 result=denied" "$2"' \
    _ "$OUT" "$LOG" "$(id -u "$OTHER")" "$OTHER"

# --- Self-service changes: a TOTP code each, the caller's own account only, audited ---
SECRET=$(tool --db "$DB" mfa enroll "$OTHER" --json | grep -o '"secret":"[A-Z2-7]*"' | cut -d'"' -f4)
STEP=$(($(date +%s) / 30))
code() { oathtool --totp -b -N "@$(($2 * 30))" "$1"; }
tool --db "$DB" mfa confirm "$OTHER" "$(code "$SECRET" $((STEP - 1)))" >/dev/null
OTHER_UID=$(id -u "$OTHER")
OUT=$(printf 'CREATE\t1\tname=tablet\tscopes=imap\tcode=%s\n' "$(code "$SECRET" "$STEP")" | talk "$OTHER")
check "CREATE as a user with a current code: OK with id, user, name, scopes, created, password" \
    grep -Eq "^OK	1	id=[0-9a-f]+	user=$OTHER	name=tablet	scopes=imap	created=[0-9T:Z-]+	password=$PW_ANY$" \
    <<<"$OUT"
NEW_ID=$(grep -o 'id=[0-9a-f]*' <<<"$OUT" | head -n 1 | cut -d= -f2)
NEW_PW=$(grep -Eo "$PW_ANY" <<<"$OUT" | head -n 1)
check "... audited: change op=create uid= user= id= result=ok, and the password is in no log line" \
    bash -c 'grep -q "change op=create uid=$2 user=$3 id=$4 result=ok$" "$1" && ! grep -q -- "$5" "$1"' \
    _ "$LOG" "$OTHER_UID" "$OTHER" "$NEW_ID" "$NEW_PW"
OUT=$(printf 'VERIFY\t1\tuser=%s\tpassword=%s\tservice=imap\n' "$OTHER" "$NEW_PW" | talk)
check "... and the new password verifies" grep -q "^OK	1	outcome=accepted	id=$NEW_ID	name=tablet	enrolled=yes$" <<<"$OUT"
OUT=$({
    printf 'CREATE\t2\tname=again\tscopes=imap\tcode=%s\n' "$(code "$SECRET" "$STEP")"
    printf 'CREATE\t3\tname=again\tscopes=imap\n'
    printf 'REVOKE\t4\tid=%s\tcode=000000\n' "$NEW_ID"
    printf 'REVOKE\t5\tid=%s\tcode=%s\n' "$MEMBER_ID" "$(code "$SECRET" $((STEP + 1)))"
    printf 'REVOKE\t6\tname=laptop\tcode=%s\n' "$(code "$SECRET" $((STEP + 1)))"
} | talk "$OTHER")
check "a reused code, no code, a wrong code: FAIL denied each" \
    bash -c 'grep -q "^FAIL	2	denied	wrong or reused verification code" <<<"$1" &&
             grep -q "^FAIL	3	denied	" <<<"$1" && grep -q "^FAIL	4	denied	" <<<"$1"' _ "$OUT"
check "another user's id or name: FAIL not_found (never denied), and theirs stays active" \
    bash -c 'grep -q "^FAIL	5	not_found	" <<<"$1" && grep -q "^FAIL	6	not_found	" <<<"$1" &&
             "$2" --db "$3" list "$4" --json | grep -q "\"id\":\"$5\""' \
    _ "$OUT" "$APPPASS" "$DB" "$MEMBER" "$MEMBER_ID"
check "refusals are audited too (result and detail, no code)" \
    bash -c 'grep -q "change op=create uid=$2 user=$3 result=denied detail=\"wrong or reused verification code\"" "$1" &&
             grep -q "change op=revoke uid=$2 user=$3 result=not_found detail=" "$1"' \
    _ "$LOG" "$OTHER_UID" "$OTHER"
OUT=$(printf 'REVOKE\t7\tid=%s\tcode=%s\n' "$NEW_ID" "$(code "$SECRET" $((STEP + 1)))" | talk "$OTHER")
check "REVOKE of one's own id with a fresh code: OK revoked=ID, audited" \
    bash -c 'grep -q "^OK	7	revoked=$2$" <<<"$1" &&
             grep -q "change op=revoke uid=$4 user=$5 id=$2 result=ok$" "$3"' \
    _ "$OUT" "$NEW_ID" "$LOG" "$OTHER_UID" "$OTHER"
OUT=$(printf 'VERIFY\t1\tuser=%s\tpassword=%s\tservice=imap\n' "$OTHER" "$NEW_PW" | talk)
check "... and the password is refused from then on" grep -q "^OK	1	outcome=revoked	" <<<"$OUT"
for _ in $(seq 100); do grep -q "hook $HOOKS/20-fail" "$LOG" && break; sleep 0.05; done
check "... the hooks ran after it, as after apppass revoke: EVENT USER IDS, APPPASS_* (once)" \
    bash -c '[[ $(cat "$1") == "args=revoke $2 $3 event=revoke user=$2 db=$4" ]]' \
    _ "$TMP/hooks.out" "$OTHER" "$NEW_ID" "$DB"
check "... a failing hook: one warning line, the revoke stands (OK sent, refused above)" \
    bash -c '[[ $(grep -c "hook $2/20-fail failed: exit status 3" "$1") -eq 1 ]] &&
             grep -q "revoke of user $3: hook $2/20-fail failed: exit status 3" "$1"' \
    _ "$LOG" "$HOOKS" "$OTHER"

# Self-enrollment: refused while the policy forbids it; root turns it on through the broker.
make_test_user THIRD brkthird
OUT=$(printf 'MFA_ENROLL\t1\n' | talk "$THIRD")
check "MFA_ENROLL while self_enroll is no: FAIL denied" grep -q "^FAIL	1	denied	" <<<"$OUT"
OUT=$(printf 'POLICY_SET\t1\tkey=self_enroll\tvalue=yes\nPOLICY_SHOW\t2\n' | talk)
check "POLICY_SET by root: OK, audited, POLICY_SHOW says so" \
    bash -c 'grep -q "^OK	1$" <<<"$1" && grep -q "^OK	2	self_enroll=yes	" <<<"$1" &&
             grep -q "change op=policy-set uid=0 user=root key=self_enroll value=yes result=ok$" "$2"' \
    _ "$OUT" "$LOG"
OUT=$(printf 'MFA_ENROLL\t1\n' | talk "$THIRD")
SECRET3=$(grep -o 'secret=[A-Z2-7]*' <<<"$OUT" | head -n 1 | cut -d= -f2)
check "MFA_ENROLL as a user: OK with secret and otpauth uri" \
    bash -c 'grep -q "^OK	1	secret=[A-Z2-7]*	uri=otpauth://totp/" <<<"$1" && [[ -n $2 ]]' _ "$OUT" "$SECRET3"
OUT=$(printf 'ENROLLED\t1\tuser=%s\n' "$THIRD" | talk "$MEMBER")
check "ENROLLED while the enrollment is pending: no" grep -q "^OK	1	enrolled=no$" <<<"$OUT"
# fresh_step: the current TOTP step, after waiting out the last 5 s of one, so that codes
# of the step before, this one and the next all stay valid (one step of drift) for a while.
fresh_step() {
    if [[ $(($(date +%s) % 30)) -ge 25 ]]; then sleep $((30 - $(date +%s) % 30)); fi
    echo $(($(date +%s) / 30))
}
STEP3=$(fresh_step)
OUT=$({
    printf 'MFA_STATUS\t1\n'
    printf 'MFA_CONFIRM\t2\tcode=%s\n' "$(code "$SECRET3" $((STEP3 - 1)))"
    printf 'MFA_STATUS\t3\n'
} | talk "$THIRD")
check "MFA_STATUS pending (no recovery_codes_left), MFA_CONFIRM with a current code, then confirmed" \
    bash -c 'grep -q "^OK	1	user=$2	state=pending	" <<<"$1" && ! grep -q "^OK	1.*recovery_codes_left" <<<"$1" &&
             grep -q "^OK	2	count=10$" <<<"$1" &&
             grep -q "^OK	3	user=$2	state=confirmed	.*	recovery_codes_left=10$" <<<"$1"' _ "$OUT" "$THIRD"
RC_RE='[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}'
check "MFA_CONFIRM of a pending enrollment: its 10 recovery codes, one ITEM each, before the OK" \
    bash -c '[[ $(grep -Ec "^ITEM	2	recovery_code=$2$" <<<"$1") -eq 10 &&
                $(grep -c "^ITEM" <<<"$1") -eq 10 ]] &&
             [[ $(grep -n "^OK	2" <<<"$1" | cut -d: -f1) -gt $(grep -n "^ITEM	2" <<<"$1" | tail -n 1 | cut -d: -f1) ]]' \
    _ "$OUT" "$RC_RE"
CONFIRM_CODES=$(grep -Eo "recovery_code=$RC_RE" <<<"$OUT" | cut -d= -f2)
OUT=$(printf 'MFA_CONFIRM\t1\tcode=%s\n' "$(code "$SECRET3" "$STEP3")" | talk "$THIRD")
check "MFA_CONFIRM again (a re-check of a confirmed enrollment): OK, no new codes" \
    bash -c 'grep -q "^OK	1$" <<<"$1" && ! grep -q "^ITEM" <<<"$1"' _ "$OUT"
OUT=$(printf 'ENROLLED\t1\tuser=%s\n' "$THIRD" | talk "$MEMBER")
check "ENROLLED once confirmed: yes" grep -q "^OK	1	enrolled=yes$" <<<"$OUT"
check "enroll and confirm audited, the secret in no log line" \
    bash -c 'grep -q "change op=mfa-enroll uid=[0-9]* user=$2 result=ok$" "$1" &&
             grep -q "change op=mfa-confirm uid=[0-9]* user=$2 result=ok$" "$1" && ! grep -q "$3" "$1"' \
    _ "$LOG" "$THIRD" "$SECRET3"

# --- MFA_RECOVERY (minor 1): new recovery codes for oneself, with a current TOTP code ---
OUT=$(printf 'MFA_RECOVERY\t1\tcode=%s\n' "$(code "$SECRET3" "$STEP3")" | talk "$THIRD")
check "MFA_RECOVERY with the code just spent: FAIL denied, no codes" \
    bash -c 'grep -q "^FAIL	1	denied	wrong or reused verification code" <<<"$1" && ! grep -q "^ITEM" <<<"$1"' \
    _ "$OUT"
OUT=$({
    printf 'MFA_RECOVERY\t1\n'
    printf 'MFA_RECOVERY\t2\tcode=%s\n' "$(head -n 1 <<<"$CONFIRM_CODES")"
} | talk "$THIRD")
check "MFA_RECOVERY without a code or with a recovery code (not a TOTP code): FAIL denied" \
    bash -c 'grep -q "^FAIL	1	denied	" <<<"$1" && grep -q "^FAIL	2	denied	" <<<"$1" &&
             ! grep -q "^ITEM" <<<"$1"' _ "$OUT"
OUT=$(printf 'MFA_RECOVERY\t4\tcode=%s\n' "$(code "$SECRET3" $((STEP3 + 1)))" | talk "$THIRD")
RECOVERY_CODES=$(grep -Eo "recovery_code=$RC_RE" <<<"$OUT" | cut -d= -f2)
check "MFA_RECOVERY with a fresh code: 10 new codes (ITEM recovery_code=), OK count=10" \
    bash -c '[[ $(grep -Ec "^ITEM	4	recovery_code=$2$" <<<"$1") -eq 10 ]] && grep -q "^OK	4	count=10$" <<<"$1" &&
             [[ $(sort -u <<<"$3" | wc -l) -eq 10 ]]' _ "$OUT" "$RC_RE" "$RECOVERY_CODES"
check "... all different from the ones the confirmation made" \
    bash -c '[[ -z $(comm -12 <(sort <<<"$1") <(sort <<<"$2")) ]]' _ "$CONFIRM_CODES" "$RECOVERY_CODES"
check "... audited (mfa-recovery-codes, done and refused), no code in any log line" \
    bash -c 'grep -q "change op=mfa-recovery-codes uid=$2 user=$3 result=ok$" "$1" &&
             grep -q "change op=mfa-recovery-codes uid=$2 user=$3 result=denied detail=" "$1" &&
             ! grep -qF -e "$(head -n 1 <<<"$4")" -e "$(head -n 1 <<<"$5")" "$1"' \
    _ "$LOG" "$(id -u "$THIRD")" "$THIRD" "$CONFIRM_CODES" "$RECOVERY_CODES"
OUT=$(printf 'MFA_RECOVERY\t1\tcode=123456\n' | talk "$ACC_OK")
check "MFA_RECOVERY by a user without MFA: FAIL denied (MFA is not set up)" \
    grep -q "^FAIL	1	denied	MFA is not set up for this account$" <<<"$OUT"

# --- CODE (minor 1): the TOTP step of a login, for a verifier, checked in the store ---
# carol and dave: enrolled by root (codes known), store users only.
SECRET_C=$(tool --db "$DB" mfa enroll carol --json | json_get secret)
SECRET_D=$(tool --db "$DB" mfa enroll dave --json | json_get secret)
STEPC=$(fresh_step)
tool --db "$DB" mfa confirm carol "$(code "$SECRET_C" $((STEPC - 1)))" >/dev/null
tool --db "$DB" mfa confirm dave "$(code "$SECRET_D" $((STEPC - 1)))" >/dev/null
CODE_NOW=$(code "$SECRET_C" "$STEPC")
OLD_RC=$(head -n 1 <<<"$CONFIRM_CODES")
NEW_RC=$(sed -n 2p <<<"$RECOVERY_CODES")
OUT=$({
    printf 'CODE\t1\tuser=carol\tcode=%s\tservice=sshd\trhost=192.0.2.7\n' "$CODE_NOW"
    printf 'CODE\t2\tuser=carol\tcode=%s\tservice=sshd\n' "$CODE_NOW"
    printf 'CODE\t3\tuser=%s\tcode=%s\tservice=sshd\n' "$THIRD" "$OLD_RC"
    printf 'CODE\t4\tuser=%s\tcode=%s\tservice=sshd\n' "$THIRD" "$NEW_RC"
    printf 'CODE\t5\tuser=%s\tcode=%s\tservice=sshd\n' "$THIRD" "$NEW_RC"
    printf 'CODE\t6\tuser=nosuchuser%s\tcode=123456\tservice=sshd\n' "$$"
    printf 'CODE\t7\tuser=carol\tcode=\tservice=sshd\n'
    printf 'CODE\t8\tuser=carol\tservice=sshd\n'
    printf 'CODE\t9\tcode=123456\tservice=sshd\n'
    printf 'CODE\t10\tuser=carol\tcode=123456\n'
} | talk "$MEMBER")
check "CODE by a member: a current code accepted, then reused-code" \
    bash -c 'grep -q "^OK	1	outcome=accepted$" <<<"$1" && grep -q "^OK	2	outcome=reused-code$" <<<"$1"' _ "$OUT"
check "CODE: a recovery code voided by MFA_RECOVERY is wrong-code, a new one recovery-code (9 left), once" \
    bash -c 'grep -q "^OK	3	outcome=wrong-code$" <<<"$1" &&
             grep -q "^OK	4	outcome=recovery-code	codes_left=9$" <<<"$1" &&
             grep -q "^OK	5	outcome=wrong-code$" <<<"$1"' _ "$OUT"
check "CODE: a user without an enrollment not-enrolled, an empty code bad-input (with detail)" \
    bash -c 'grep -q "^OK	6	outcome=not-enrolled$" <<<"$1" && grep -q "^OK	7	outcome=bad-input	detail=" <<<"$1"' _ "$OUT"
check "CODE without code=, user= or service=: FAIL invalid each" \
    bash -c 'grep -q "^FAIL	8	invalid	CODE needs code=$" <<<"$1" && grep -q "^FAIL	9	invalid	CODE needs user=$" <<<"$1" &&
             grep -q "^FAIL	10	invalid	CODE needs service=$" <<<"$1"' _ "$OUT"
MEMBER_UID=$(id -u "$MEMBER")
check "CODE decisions logged as the shims log them (factor=totp), with the caller; no code in the log" \
    bash -c 'grep -q "accepted service=sshd user=carol rhost=192.0.2.7 factor=totp caller_uid=$2 caller_pid=[0-9]*$" "$1" &&
             grep -q "refused service=sshd user=carol rhost=- factor=totp reason=reused-code caller_uid=$2 " "$1" &&
             grep -q "accepted service=sshd user=$3 rhost=- factor=totp reason=recovery-code codes_left=9 caller_uid=$2 " "$1" &&
             ! grep -qF -e "code=" -e "$4" -e "$5" "$1"' _ "$LOG" "$MEMBER_UID" "$THIRD" "$CODE_NOW" "$NEW_RC"
OUT=$(printf 'MFA_STATUS\t1\n' | talk "$THIRD")
check "MFA_STATUS: recovery_codes_left=9 after one was used" grep -q "	recovery_codes_left=9$" <<<"$OUT"
CODE_NEXT=$(code "$SECRET_C" $((STEPC + 1)))
OUT=$(printf 'CODE\t1\tuser=carol\tcode=%s\tservice=sshd\n' "$CODE_NEXT" | talk "$OTHER")
check "CODE by a user in neither: FAIL denied, no outcome (and the code not spent)" \
    bash -c 'grep -q "^FAIL	1	denied	not allowed to verify$" <<<"$1" && ! grep -q outcome= <<<"$1"' _ "$OUT"
OUT=$(printf 'CODE\t1\tuser=carol\tcode=%s\tservice=sshd\n' "$CODE_NEXT" | talk)
check "... which root can then use: accepted" grep -q "^OK	1	outcome=accepted$" <<<"$OUT"
# The throttle: after 5 wrong codes every code is refused, a right one too.
WRONG_D=000000
for s in -1 0 1 2; do [[ $(code "$SECRET_D" $((STEPC + s))) != "$WRONG_D" ]] || WRONG_D=999999; done
OUT=$({
    for i in 1 2 3 4 5; do printf 'CODE\t%d\tuser=dave\tcode=%s\tservice=sshd\n' "$i" "$WRONG_D"; done
    printf 'CODE\t6\tuser=dave\tcode=%s\tservice=sshd\n' "$(code "$SECRET_D" "$STEPC")"
} | talk "$MEMBER")
check "CODE: 5 wrong codes, then throttled (with a detail) even for a right one" \
    bash -c '[[ $(grep -c "^OK	[1-5]	outcome=wrong-code$" <<<"$1") -eq 5 ]] &&
             grep -q "^OK	6	outcome=throttled	detail=." <<<"$1"' _ "$OUT"
check "... logged as refused reason=throttled" \
    grep -q "refused service=sshd user=dave rhost=- factor=totp reason=throttled detail=.* caller_uid=$MEMBER_UID " "$LOG"
OUT=$("$PY" -c 'import sys; sys.stdout.write("CODE\t1\tuser=x\tservice=sshd\tcode=" + "1" * 9000 + "\n")' | talk "$MEMBER" --wait-eof)
check "CODE over 8192 bytes: FAIL 0 too_long, connection closed" \
    bash -c 'grep -q "^FAIL	0	too_long	" <<<"$1" && [[ $(tail -n 1 <<<"$1") == EOF ]]' _ "$OUT"

# --- A user record that does not decode: unavailable, never "not enrolled" ---
"$STORE_TAMPER" "$DB" put users zed$$ 'not a record'
OUT=$({
    printf 'ENROLLED\t1\tuser=zed%s\n' "$$"
    printf 'CODE\t2\tuser=zed%s\tcode=123456\tservice=sshd\n' "$$"
    printf 'VERIFY\t3\tuser=zed%s\tpassword=%s\tservice=imap\n' "$$" "$PW"
} | talk "$MEMBER")
check "an unreadable user record: ENROLLED FAIL unavailable, CODE and VERIFY outcome=unavailable" \
    bash -c 'grep -q "^FAIL	1	unavailable	cannot read the enrollment of zed$2: " <<<"$1" &&
             grep -q "^OK	2	outcome=unavailable	detail=" <<<"$1" &&
             grep -q "^OK	3	outcome=unavailable	detail=.*	enrolled=no$" <<<"$1"' _ "$OUT" "$$"
check "... each logged as an error" \
    bash -c 'grep -q "enrolled user=zed$2 unreadable detail=\".*caller_uid=" "$1" &&
             grep -q "error service=sshd user=zed$2 rhost=- factor=totp reason=unavailable detail=" "$1"' \
    _ "$LOG" "$$"
OUT=$(printf 'ENROLLED\t1\tuser=alice\n' | talk "$MEMBER")
check "... and the others are still answered" grep -q "^OK	1	enrolled=yes$" <<<"$OUT"

# --- Malformed, unknown, oversized ---
OUT=$(printf 'FROB\t5\nVERIFY\tx\n\t\nLIST\t6\tbad key=1\nVERIFY\t9\tuser=a\tuser=b\nPOLICY_SHOW\t10\n' | talk)
check "unknown kind: FAIL unknown_request with its id" grep -q "^FAIL	5	unknown_request	" <<<"$OUT"
check "malformed lines: FAIL invalid each (id 0 when unreadable)" \
    bash -c '[[ $(grep -c "^FAIL	0	invalid	" <<<"$1") -eq 2 ]] && grep -q "^FAIL	6	invalid	" <<<"$1" &&
             grep -q "^FAIL	9	invalid	" <<<"$1"' _ "$OUT"
check "... and the connection goes on (the next request answered)" grep -q "^OK	10	self_enroll=" <<<"$OUT"
OUT=$("$PY" -c 'import sys; sys.stdout.write("VERIFY\t1\tuser=" + "a" * 9000 + "\n")' | talk --wait-eof)
check "a line over 8192 bytes: FAIL 0 too_long, connection closed" \
    bash -c 'grep -q "^FAIL	0	too_long	" <<<"$1" && [[ $(tail -n 1 <<<"$1") == EOF ]]' _ "$OUT"
OUT=$(printf 'POLICY_SHOW\t1\n' | talk)
check "the daemon still serves after that" grep -q "^OK	1	" <<<"$OUT"
check "the daemon is still the same process" kill -0 "$DAEMON_PID"

# --- Slow clients, the per-uid cap ---
as_user "$OTHER" "$PY" "$CLIENT" hold "$SOCK" 8 6 >"$TMP/hold" 2>&1 &
HOLD=$!
for _ in $(seq 100); do grep -q '^extra:' "$TMP/hold" && break; sleep 0.05; done
T0=$(date +%s%N)
OUT=$(printf 'VERIFY\t1\tuser=alice\tpassword=%s\tservice=imap\n' "$PW" | talk)
MS=$((($(date +%s%N) - T0) / 1000000))
wait "$HOLD" || true
note "root's VERIFY while 8 connections stalled: ${MS} ms; $(tr '\n' ';' <"$TMP/hold")"
check "a stalled client does not hold up others: root answered (${MS} ms < 1000)" \
    bash -c 'grep -q "^OK	1	outcome=accepted" <<<"$1" && [[ $2 -lt 1000 ]]' _ "$OUT" "$MS"
check "a ninth connection of one uid (not a verifier): FAIL 0 unavailable (too many connections)" \
    grep -q "^extra: FAIL	0	unavailable	too many connections" "$TMP/hold"
check "stalled clients are dropped at the deadline (--timeout 2)" \
    bash -c 'grep -Eq "^dropped 8 of 8, last after [23]\.[0-9] s" "$1"' _ "$TMP/hold"

# --- 1,000 connections at once ---
RSS0=$(rss_kib "$DAEMON_PID")
RC=0
"$PY" "$CLIENT" flood "$SOCK" 1000 alice imap <<<"$PW" >"$TMP/flood" || RC=$?
RSS1=$(rss_kib "$DAEMON_PID")
note "flood: $(cat "$TMP/flood"); daemon VmRSS ${RSS0} KiB before, ${RSS1} KiB after"
check "1,000 concurrent VERIFY connections: every answer right" \
    bash -c '[[ $1 -eq 0 ]] && grep -q "^answered 1000 right 1000 wrong 0" "$2"' _ "$RC" "$TMP/flood"
# Under ASan freed memory waits in its quarantine (up to 256 MiB) before it is reused.
RSS_LIMIT=16
if [[ $(env -u LD_PRELOAD ldd "$APPPASSD") == *libasan* ]]; then RSS_LIMIT=96; fi
check "memory bounded: VmRSS grew by less than $RSS_LIMIT MiB ($((RSS1 - RSS0)) KiB)" \
    test $((RSS1 - RSS0)) -lt $((RSS_LIMIT * 1024))

# --- Stop and restart ---
RC=0
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || RC=$?
DAEMON_PID=
check "SIGTERM: exit 0, socket removed" bash -c '[[ $1 -eq 0 && ! -e $2 ]]' _ "$RC" "$SOCK"
"$PY" -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SOCK"
start_daemon
check "a stale socket file (nobody answers) is replaced" kill -0 "$DAEMON_PID"
RC=0
"$APPPASSD" --db "$DB" --socket "$SOCK" 2>"$TMP/err" || RC=$?
check "a second daemon on a live socket refuses to start and leaves it alone" \
    bash -c '[[ $1 -ne 0 ]] && grep -q "already answers" "$2" && [[ -S $3 ]]' _ "$RC" "$TMP/err" "$SOCK"
OUT=$(printf 'POLICY_SHOW\t1\n' | talk)
check "... and the first still answers" grep -q "^OK	1	" <<<"$OUT"
: >"$TMP/notsock"
RC=0
"$APPPASSD" --db "$DB" --socket "$TMP/notsock" 2>"$TMP/err" || RC=$?
check "a file that is not a socket is never replaced" \
    bash -c '[[ $1 -ne 0 && -f $2 ]] && grep -q "not a socket" "$3"' _ "$RC" "$TMP/notsock" "$TMP/err"

finish
