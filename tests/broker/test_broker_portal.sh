#!/bin/bash
# apppassd's web-portal side (protocol 1.2, issue 13) on a real socket with a real store,
# a real PAM stack (pam_unix under pam_wrapper: service files in a throwaway directory,
# never /etc/pam.d) and real users made by the test (useradd, chpasswd; tests/lib/users.sh):
#   - the portal kinds (SIGNIN ... SIGNOUT) only from --portal-user's uid: root and other
#     users get FAIL denied; the portal uid without a live session gets FAIL denied
#     reason=expired for every self-service kind
#   - SIGNIN through PAM: right password -> next=code (confirmed MFA), next=enroll (none,
#     self_enroll=yes) or FAIL reason=no_mfa (self_enroll=no); a wrong password, an unknown
#     user and an account PAM refuses (expired) all get the same reply reason=wrong
#   - throttling: 5 failures per user name, 20 per client address, then reason=throttled
#     even with the right password; another client/user is not affected
#   - SIGNIN_CODE with a TOTP code (oathtool) -> a session; a wrong code reason=wrong; a
#     sign-in token from another client address or made up: reason=expired
#   - SIGNIN_ENROLL + SIGNIN_CONFIRM: a secret, 10 recovery codes, a session; later a sign-in
#     with a recovery code (recovery_code_used=yes)
#   - with a session: LIST, CREATE and REVOKE without a code; another user's id not_found;
#     SESSION (user, idle_left, expires_in); SIGNOUT ends it
#   - MFA_REPLACE with a current code -> a new secret, `apppass check` clean meanwhile, the
#     old secret still works until MFA_REPLACE_CONFIRM with a code of the new one; recovery
#     codes kept; the session goes on; an admin's `mfa reset` ends the session
#   - the log lines (decision format, service=apppass-web, rhost=the client) and audit lines
# Usage: test_broker_portal.sh APPPASSD APPPASS PAM_WRAPPER_PRELOAD. Root only (exit 77).
set -euo pipefail
APPPASSD=$1
APPPASS=$2
PRELOAD=$3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/setup.sh
source "$HERE/../lib/setup.sh"
# shellcheck source=../lib/users.sh
source "$HERE/../lib/users.sh"
# shellcheck source=../lib/broker.sh
source "$HERE/../lib/broker.sh"
require_root_users
require_tools setpriv useradd chpasswd chage oathtool "$PY"
PAM_UNIX=
for d in /lib/x86_64-linux-gnu/security /usr/lib/x86_64-linux-gnu/security /lib/security; do
    [[ -e $d/pam_unix.so ]] && PAM_UNIX=$d/pam_unix.so && break
done
[[ -n $PAM_UNIX ]] || { echo "not ok - pam_unix.so not found"; exit 1; }

broker_setup
PASS=Corr3ct-horse-42

make_test_user PORTAL brkweb
make_test_user ALICE brkpalice
make_test_user BOB brkpbob
make_test_user CAROL brkpcarol
make_test_user DAVE brkpdave
make_test_user OTHER brkpother
for u in "$ALICE" "$BOB" "$CAROL" "$DAVE"; do echo "$u:$PASS" | chpasswd; done
chage -E 0 "$DAVE"  # PAM's account step refuses him

mkdir -m 0755 "$TMP/pam.d"
printf 'auth required %s nodelay\naccount required %s\n' "$PAM_UNIX" "$PAM_UNIX" \
    >"$TMP/pam.d/apppass-web"
: >"$TMP/pam.d/other"

tool() { env -u LD_PRELOAD "$APPPASS" "$@"; }
tool --db "$DB" init >/dev/null 2>&1
# alice is enrolled (confirmed with the code of the step before now: the next two steps are
# hers to use); zed has an app password of his own.
now_step() { echo $(($(date +%s) / 30)); }
code_at() { oathtool --totp -b "$1" -N "@$(($2 * 30))"; }
ALICE_SECRET=$(tool --db "$DB" mfa enroll "$ALICE" --json | json_get secret)
tool --db "$DB" mfa confirm "$ALICE" "$(code_at "$ALICE_SECRET" $(($(now_step) - 1)))" >/dev/null
ALICE_STEP=$(($(now_step) - 1))
enroll_user "$DB" zed
ZED_ID=$(tool --db "$DB" create zed --name laptop --scope imap --json | json_get id)

env LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$TMP/pam.d" \
    "$APPPASSD" --db "$DB" --socket "$SOCK" --group root --portal-user "$PORTAL" 2>>"$LOG" &
DAEMON_PID=$!
broker_wait

# req USER LINE...: the request lines (printf-style tabs as \t) sent as USER; the replies.
req() {
    local user=$1
    shift
    printf '%b\n' "$@" | as_user "$user" "$PY" "$CLIENT" talk "$SOCK"
}
portal() { req "$PORTAL" "$@"; }
# fld KEY: the value of KEY= in the OK or FAIL line on stdin.
fld() {
    awk -F'\t' -v k="$1" '/^(OK|FAIL)\t/ { for (i = 3; i <= NF; i++)
        if (index($i, k "=") == 1) print substr($i, length(k) + 2) }'
}
signin() {  # signin USER PASSWORD CLIENT
    portal "SIGNIN\t1\tuser=$1\tpassword=$2\tclient=$3"
}

# --- Who may send the portal kinds ---
KINDS=(SIGNIN SIGNIN_CODE SIGNIN_ENROLL SIGNIN_CONFIRM SESSION SIGNOUT)
bad=
for k in "${KINDS[@]}"; do
    out=$(req "$OTHER" "$k\t1\tuser=$ALICE\tpassword=$PASS\tclient=192.0.2.1")
    grep -q $'^FAIL\t1\tdenied\t' <<<"$out" || bad+="$k as a user: $out; "
    out=$(printf '%b\n' "$k\t1\tuser=$ALICE\tpassword=$PASS\tclient=192.0.2.1" | "$PY" "$CLIENT" talk "$SOCK")
    grep -q $'^FAIL\t1\tdenied\t' <<<"$out" || bad+="$k as root: $out; "
done
check "every portal kind from another uid (a user, root): FAIL denied" test -z "$bad"
bad=
for k in LIST MFA_STATUS CREATE REVOKE MFA_RECOVERY MFA_ENROLL MFA_CONFIRM MFA_REPLACE MFA_REPLACE_CONFIRM; do
    out=$(portal "$k\t1\tname=x\tscopes=imap\tid=abc" "$k\t2\tsession=$(printf '%064d' 7)")
    [[ $(grep -c $'^FAIL\t[12]\tdenied\tsession expired; sign in again\treason=expired$' <<<"$out") -eq 2 ]] ||
        bad+="$k: $out; "
done
check "self-service kinds from the portal uid without a live session: FAIL denied reason=expired" test -z "$bad"

# --- SIGNIN ---
OUT=$(signin "$ALICE" "$PASS" 192.0.2.7)
check "SIGNIN, right password, confirmed MFA: OK signin= (64 hex) next=code" \
    grep -qE $'^OK\t1\tsignin=[0-9a-f]{64}\tnext=code$' <<<"$OUT"
TOKEN=$(fld signin <<<"$OUT")
W1=$(signin "$ALICE" wrong-password 192.0.2.7 | grep ^FAIL)
W2=$(signin "nosuchuser$$" "$PASS" 192.0.2.7 | grep ^FAIL)
W3=$(signin "$DAVE" "$PASS" 192.0.2.7 | grep ^FAIL)
check "wrong password, unknown user, account refused by PAM: the same FAIL reason=wrong" \
    bash -c '[[ $1 == $2 && $2 == $3 && $1 == "FAIL	1	denied	wrong user name or password	reason=wrong" ]]' \
    _ "$W1" "$W2" "$W3"
check "a wrong password is logged for fail2ban (service=apppass-web, rhost=the client)" \
    grep -q "refused service=apppass-web user=$ALICE rhost=192.0.2.7 reason=wrong-password" "$LOG"
OUT=$(signin "$BOB" "$PASS" 192.0.2.7)
check "SIGNIN, no MFA, self_enroll=no: FAIL denied reason=no_mfa" \
    grep -q $'^FAIL\t1\tdenied\tself-enrollment is turned off; ask your administrator to set up MFA\treason=no_mfa$' <<<"$OUT"
tool --db "$DB" policy set self_enroll yes >/dev/null
OUT=$(signin "$BOB" "$PASS" 192.0.2.8)
check "SIGNIN, no MFA, self_enroll=yes: next=enroll" grep -q $'\tnext=enroll$' <<<"$OUT"
BOB_TOKEN=$(fld signin <<<"$OUT")

# --- SIGNIN_CODE ---
OUT=$(portal "SIGNIN_CODE\t1\tsignin=$TOKEN\tcode=000000\tclient=192.0.2.7")
check "SIGNIN_CODE, wrong code: FAIL reason=wrong" grep -q $'^FAIL\t1\tdenied\twrong or reused verification code\treason=wrong$' <<<"$OUT"
C=$(code_at "$ALICE_SECRET" $((ALICE_STEP + 1)))
OUT=$(portal "SIGNIN_CODE\t1\tsignin=$TOKEN\tcode=$C\tclient=192.0.2.99")
check "SIGNIN_CODE from another client address: FAIL reason=expired" grep -q $'reason=expired$' <<<"$OUT"
OUT=$(portal "SIGNIN_CODE\t1\tsignin=$TOKEN\tcode=$C\tclient=192.0.2.7")
check "SIGNIN_CODE with a TOTP code: OK session= user= recovery_codes_left=10 (made by mfa confirm)" \
    grep -qE $'^OK\t1\tsession=[0-9a-f]{64}\tuser='"$ALICE"$'\trecovery_codes_left=10$' <<<"$OUT"
SESSION=$(fld session <<<"$OUT")
ALICE_STEP=$((ALICE_STEP + 1))
OUT=$(portal "SIGNIN_CODE\t1\tsignin=$TOKEN\tcode=$C\tclient=192.0.2.7")
check "the sign-in token is used up: FAIL reason=expired" grep -q $'reason=expired$' <<<"$OUT"
check "the code step is logged: accepted service=apppass-web ... factor=totp" \
    grep -q "accepted service=apppass-web user=$ALICE rhost=192.0.2.7 factor=totp" "$LOG"

# --- The session ---
OUT=$(portal "SESSION\t1\tsession=$SESSION\tclient=192.0.2.7")
check "SESSION: OK user= idle_left=900 expires_in=" \
    grep -qE $'^OK\t1\tuser='"$ALICE"$'\tidle_left=900\texpires_in=(2879[0-9]|28800)$' <<<"$OUT"
OUT=$(portal "CREATE\t1\tsession=$SESSION\tname=web\tscopes=imap")
check "CREATE with a session, no code: OK with the password" grep -qE $'^OK\t1\tid=.*\tpassword=' <<<"$OUT"
NEW_ID=$(fld id <<<"$OUT")
OUT=$(portal "LIST\t1\tsession=$SESSION")
check "LIST with a session: the session user's passwords" \
    bash -c 'grep -q "^ITEM	1	id=$2	name=web	" <<<"$1" && grep -q "^OK	1	count=1	user=$3$" <<<"$1"' _ "$OUT" "$NEW_ID" "$ALICE"
OUT=$(portal "REVOKE\t1\tsession=$SESSION\tid=$ZED_ID")
check "REVOKE of another user's id with a session: not_found" grep -q $'^FAIL\t1\tnot_found\t' <<<"$OUT"
OUT=$(portal "REVOKE\t1\tsession=$SESSION\tid=$NEW_ID")
check "REVOKE with a session, no code: OK" grep -q $'^OK\t1\trevoked='"$NEW_ID"'$' <<<"$OUT"
OUT=$(portal "MFA_RECOVERY\t1\tsession=$SESSION")
check "MFA_RECOVERY with a session still needs a code" grep -q $'^FAIL\t1\tdenied\twrong or reused' <<<"$OUT"
check "changes through a session are audited with the portal's uid and the user" \
    grep -q "change op=create uid=$(id -u "$PORTAL") user=$ALICE id=$NEW_ID result=ok" "$LOG"
portal "SIGNOUT\t1\tsession=$SESSION" >"$TMP/out"
check "SIGNOUT: OK" grep -q $'^OK\t1$' "$TMP/out"
OUT=$(portal "SESSION\t1\tsession=$SESSION\tclient=192.0.2.7" "LIST\t2\tsession=$SESSION")
check "after SIGNOUT the session is gone (SESSION and LIST: reason=expired)" \
    bash -c '[[ $(grep -c "reason=expired$" <<<"$1") -eq 2 ]]' _ "$OUT"
check "SIGNOUT of an unknown session: OK" bash -c 'grep -q "^OK	1$" <<<"$1"' _ \
    "$(portal "SIGNOUT\t1\tsession=$(printf '%064d' 1)")"

# --- SIGNIN_ENROLL, SIGNIN_CONFIRM (bob) ---
OUT=$(portal "SIGNIN_ENROLL\t1\tsignin=$BOB_TOKEN")
check "SIGNIN_ENROLL: OK secret= uri= issuer= account=" \
    grep -qE $'^OK\t1\tsecret=[A-Z2-7]+\turi=otpauth://totp/.*\tissuer=.*\taccount='"$BOB"'$' <<<"$OUT"
BOB_SECRET=$(fld secret <<<"$OUT")
BOB_STEP=$(now_step)
OUT=$(portal "SIGNIN_CONFIRM\t1\tsignin=$BOB_TOKEN\tcode=$(code_at "$BOB_SECRET" "$BOB_STEP")\tclient=192.0.2.8")
check "SIGNIN_CONFIRM: 10 recovery codes as ITEM lines, then OK session= user=" \
    bash -c '[[ $(grep -c "^ITEM	1	recovery_code=" <<<"$1") -eq 10 ]] &&
             grep -qE "^OK	1	session=[0-9a-f]{64}	user=$2$" <<<"$1"' _ "$OUT" "$BOB"
RECOVERY=$(grep -m1 $'^ITEM' <<<"$OUT" | sed 's/.*recovery_code=//')
BOB_SESSION=$(fld session <<<"$OUT")
check "SIGNIN_CONFIRM is audited as mfa-confirm" \
    grep -q "change op=mfa-confirm uid=$(id -u "$PORTAL") user=$BOB result=ok" "$LOG"
OUT=$(signin "$BOB" "$PASS" 192.0.2.8)
check "bob signs in again: next=code" grep -q $'\tnext=code$' <<<"$OUT"
OUT=$(portal "SIGNIN_CODE\t1\tsignin=$(fld signin <<<"$OUT")\tcode=$RECOVERY\tclient=192.0.2.8")
check "SIGNIN_CODE with a recovery code: recovery_codes_left=9 recovery_code_used=yes" \
    grep -qE $'^OK\t1\tsession=[0-9a-f]{64}\tuser='"$BOB"$'\trecovery_codes_left=9\trecovery_code_used=yes$' <<<"$OUT"

# --- MFA_REPLACE (bob's first session) ---
OUT=$(portal "MFA_REPLACE\t1\tsession=$BOB_SESSION\tcode=$(code_at "$BOB_SECRET" $((BOB_STEP + 1)))")
check "MFA_REPLACE with a current code: OK secret= uri= issuer= account=" \
    grep -qE $'^OK\t1\tsecret=[A-Z2-7]+\turi=otpauth://.*\taccount='"$BOB"'$' <<<"$OUT"
NEW_SECRET=$(fld secret <<<"$OUT")
check "apppass check accepts a pending replacement" tool --db "$DB" check
OUT=$(portal "MFA_REPLACE_CONFIRM\t1\tsession=$BOB_SESSION\tcode=000000")
check "MFA_REPLACE_CONFIRM with a wrong code: FAIL denied" grep -q $'^FAIL\t1\tdenied\twrong or reused' <<<"$OUT"
OUT=$(portal "MFA_REPLACE_CONFIRM\t1\tsession=$BOB_SESSION\tcode=$(code_at "$NEW_SECRET" "$(now_step)")")
check "MFA_REPLACE_CONFIRM with a code of the new app: OK" grep -q $'^OK\t1$' <<<"$OUT"
OUT=$(portal "MFA_STATUS\t1\tsession=$BOB_SESSION")
check "after the replacement: the session goes on, recovery codes kept (9)" \
    grep -q $'\trecovery_codes_left=9$' <<<"$OUT"
check "MFA_REPLACE and its confirmation are audited" \
    bash -c 'grep -q "change op=mfa-replace uid=.* user=$2 result=ok" "$1" &&
             grep -q "change op=mfa-replace-confirm uid=.* user=$2 result=ok" "$1"' _ "$LOG" "$BOB"
check "apppass check is clean after the swap" tool --db "$DB" check
OUT=$(signin "$BOB" "$PASS" 192.0.2.8)
T=$(fld signin <<<"$OUT")
OUT=$(portal "SIGNIN_CODE\t1\tsignin=$T\tcode=$(code_at "$BOB_SECRET" $((BOB_STEP + 1)))\tclient=192.0.2.8" \
    "SIGNIN_CODE\t2\tsignin=$T\tcode=$(code_at "$NEW_SECRET" $(($(now_step) + 1)))\tclient=192.0.2.8")
check "after the swap the old app's code is refused and the new one's accepted" \
    bash -c 'grep -q "^FAIL	1	denied	.*reason=wrong$" <<<"$1" && grep -q "^OK	2	session=" <<<"$1"' _ "$OUT"
tool --db "$DB" mfa reset "$BOB" >/dev/null
OUT=$(portal "SESSION\t1\tsession=$BOB_SESSION\tclient=192.0.2.8")
check "an admin's mfa reset ends the user's sessions (reason=expired)" grep -q $'reason=expired$' <<<"$OUT"

# --- Throttling ---
for _ in 1 2 3 4 5; do signin "$CAROL" wrong 192.0.2.20 >/dev/null; done
OUT=$(signin "$CAROL" "$PASS" 192.0.2.21)
check "5 failures for a user name: the right password is then refused reason=throttled" \
    grep -q $'^FAIL\t1\tdenied\ttoo many attempts; try again later\treason=throttled$' <<<"$OUT"
check "the throttled attempt is logged for fail2ban" \
    grep -q "refused service=apppass-web user=$CAROL rhost=192.0.2.21 reason=throttled" "$LOG"
for i in $(seq 20); do signin "ghost$i$$" wrong 192.0.2.30 >/dev/null; done
OUT=$(signin "$ALICE" "$PASS" 192.0.2.30)
check "20 failures from a client address: refused reason=throttled for any user" grep -q $'reason=throttled$' <<<"$OUT"
OUT=$(signin "$ALICE" "$PASS" 192.0.2.31)
check "another client address is not affected" grep -q $'\tnext=code$' <<<"$OUT"

# --- The fail2ban filter reads the sign-in refusals (when fail2ban is installed) ---
if command -v fail2ban-regex >/dev/null; then
    mkdir -p "$TMP/f2b/filter.d"
    cp /etc/fail2ban/filter.d/common.conf "$HERE/../../packaging/fail2ban/filter.d/apppass.conf" \
        "$TMP/f2b/filter.d/"
    grep -E '^apppassd\[[0-9]+\]: (refused|accepted) service=apppass-web ' "$LOG" |
        sed 's/^/Dec  7 13:00:00 mail /' >"$TMP/f2b/syslog"
    WANT=$(grep -cE ' refused service=apppass-web user=\S+ rhost=\S+ (factor=totp )?reason=(wrong-password|throttled|wrong-code)' "$TMP/f2b/syslog")
    GOT=$(fail2ban-regex "$TMP/f2b/syslog" "$TMP/f2b/filter.d/apppass.conf" 2>&1 |
        sed -n 's/^Lines: .* \([0-9]*\) matched.*/\1/p')
    check "fail2ban's filter counts the portal's wrong passwords, codes and throttled attempts ($WANT), nothing else" \
        bash -c '[[ $1 -gt 20 && $1 == "$2" ]]' _ "$WANT" "$GOT"
else
    note "fail2ban-regex is not installed: the filter is checked by tests/integration"
fi

finish
