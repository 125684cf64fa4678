#!/bin/bash
# The stacks of issue 12 as pam_apppass(8) documents them, driven by pamtester under
# pam_wrapper (service files in a throwaway directory, never /etc/pam.d) with the REAL
# pam_unix and real system users made here with useradd + chpasswd and removed at the end
# (tests/lib/users.sh). Stores, enrollments, recovery codes and app passwords are made with
# the admin tool; TOTP codes with oathtool from the enrolled secret, on the real clock.
#
#   test_totp_stack.sh APPPASS_TOOL PAM_MODULE PAM_WRAPPER_LIBRARY PAMTESTER PAM_UNIX PAM_EXEC
#                      APPPASSD|-
#
# 1. TOTP as the second factor:
#      auth required pam_unix.so
#      auth required pam_apppass.so totp db=STORE
#    password + current code succeeds; a wrong code, the same code again in a second
#    process (reused), a recovery code used twice, another user's code, and a right code
#    after 5 wrong ones (throttled) are refused, each with its reason in the log line.
#    Codes: the confirmation spends the current step, so a login uses the NEXT step's code
#    (one step of drift is accepted): no test waits for the clock.
# 2. The migration stack:
#      auth [success=done ignore=ignore default=die] pam_apppass.so unenrolled=ignore db=STORE
#      auth required pam_unix.so
#    an unenrolled user gets in with their real password (pam_unix alone); once their MFA
#    is confirmed, that password is refused and pam_unix is never reached (a pam_exec
#    marker between the two lines is never written, and pam_unix's own failure line never
#    appears), while their app password works; after `mfa reset` the real password works
#    again. Control: the unsafe form [success=done default=ignore] lets the enrolled user's
#    real password through, so the refusal above is the stack's doing.
# 3. account=nss:  account required pam_apppass.so account=nss
#    a normal user ok; after usermod -L PAM_PERM_DENIED; after usermod -e 1970-01-02 or
#    chage -E 0 PAM_ACCT_EXPIRED; after userdel PAM_USER_UNKNOWN; each with its log line.
#    As a user that is not root and no apppassd: refused (an error line) within 2 s.
# 4. Not root, through the real apppassd (--group GROUP; skipped when APPPASSD is "-"): a
#    member of GROUP runs pamtester for themselves (pam_unix checks their own password
#    through unix_chkpwd): password + code accepted, the code again reused-code, an
#    unenrolled member under unenrolled=ignore in on the password alone; account=nss ok,
#    then PAM_PERM_DENIED after usermod -L.
#
# Root only (useradd, pam_unix reading /etc/shadow): exit 77 otherwise.
# Environment: APPPASS_TEST_PRELOAD (optional) goes in front of pam_wrapper in LD_PRELOAD.
set -euo pipefail

if [[ $# -ne 7 ]]; then
    echo "usage: $0 APPPASS_TOOL PAM_MODULE PAM_WRAPPER_LIBRARY PAMTESTER PAM_UNIX PAM_EXEC APPPASSD|-" >&2
    exit 2
fi
APPPASS=$1
MODULE=$2
WRAPPER=$3
PAMTESTER=$4
PAM_UNIX=$5
PAM_EXEC=$6
APPPASSD=$7
for f in "$APPPASS" "$MODULE" "$WRAPPER" "$PAMTESTER" "$PAM_UNIX" "$PAM_EXEC" \
    $([[ $APPPASSD == - ]] || echo "$APPPASSD"); do
    case $f in /*) ;; *) echo "$0: not an absolute path: $f" >&2; exit 2 ;; esac
    [[ -r $f ]] || { echo "$0: cannot read $f" >&2; exit 2; }
done
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/setup.sh
source "$HERE/../lib/setup.sh"
# shellcheck source=../lib/users.sh
source "$HERE/../lib/users.sh"
# shellcheck source=../lib/stage.sh
source "$HERE/../lib/stage.sh"
require_root_users
require_tools oathtool chpasswd usermod chage userdel "$PY"
export LC_ALL=C

TMP=$(mktemp -d "${TMPDIR:-/tmp}/apppass-totp-stack.XXXXXX")
DAEMON_PID=
cleanup() {
    if [[ -n $DAEMON_PID ]]; then
        kill -TERM "$DAEMON_PID" 2>/dev/null
        wait "$DAEMON_PID" 2>/dev/null
    fi
    users_cleanup
    rm -rf "$TMP"
}
trap cleanup EXIT

DB=$TMP/store
SERVICES=$TMP/services
MARK=$TMP/pam_unix-reached
mkdir "$SERVICES"
: >"$SERVICES/other"
printf 'auth required %s\nauth required %s totp db=%s\n' "$PAM_UNIX" "$MODULE" "$DB" \
    >"$SERVICES/totp"
printf 'auth [success=done ignore=ignore default=die] %s unenrolled=ignore db=%s\nauth required %s\n' \
    "$MODULE" "$DB" "$PAM_UNIX" >"$SERVICES/mig"
# The same with a marker between the two lines: pam_exec touches it when the stack goes on
# to pam_unix.
printf 'auth [success=done ignore=ignore default=die] %s unenrolled=ignore db=%s\nauth optional %s quiet /usr/bin/touch %s\nauth required %s\n' \
    "$MODULE" "$DB" "$PAM_EXEC" "$MARK" "$PAM_UNIX" >"$SERVICES/migmark"
# The unsafe form doctor warns about (control): a refusal falls through to pam_unix.
printf 'auth [success=done default=ignore] %s unenrolled=ignore db=%s\nauth required %s\n' \
    "$MODULE" "$DB" "$PAM_UNIX" >"$SERVICES/migunsafe"
printf 'account required %s account=nss db=%s\n' "$MODULE" "$DB" >"$SERVICES/acct"
# totp with unenrolled=ignore: users who have not enrolled get in with the password alone.
printf 'auth required %s\nauth required %s totp unenrolled=ignore db=%s\n' "$PAM_UNIX" "$MODULE" "$DB" \
    >"$SERVICES/totpignore"

preload=$WRAPPER
if [[ -n ${APPPASS_TEST_PRELOAD:-} ]]; then
    # Sanitizer builds: the ASan runtime intercepts crypt(), but resolves the real one only
    # from libraries loaded at start-up; pamtester does not link libcrypt (pam_unix dlopens
    # it), so without it in the preload pam_unix's crypt() calls address 0 (SEGV).
    # Dovecot and sshd link libcrypt themselves.
    # awk reads all of ldconfig's output: an early exit would kill ldconfig with SIGPIPE,
    # which pipefail turns into a failure.
    libcrypt=$(ldconfig -p | awk '/libcrypt\.so\.1 / && !found {print $NF; found = 1}')
    [[ -n $libcrypt ]] || { echo "not ok - libcrypt.so.1 not found for the sanitizer preload"; exit 1; }
    preload=$APPPASS_TEST_PRELOAD:$libcrypt:$WRAPPER
fi

# Every secret this script has seen (passwords, codes); none may show up in a log line.
SECRETS=()

# pam INPUT SERVICE USER OPERATION...: pamtester with INPUT (lines) on stdin. Sets RC and
# SECS; pamtester's output in $TMP/out, our module's decision lines in $TMP/log,
# pam_unix's lines in $TMP/unix.
pam() {
    local input=$1 t0 t1
    shift
    rm -f "$MARK"
    t0=$(date +%s%N)
    RC=0
    printf '%b' "$input" |
        timeout -k 5 60 env LD_PRELOAD="$preload" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SERVICES" \
            PAM_WRAPPER_DEBUGLEVEL=4 "$PAMTESTER" -v "$@" >"$TMP/out" 2>"$TMP/err" || RC=$?
    t1=$(date +%s%N)
    SECS=$(((t1 - t0) / 1000000))ms
    sed -n 's/^.*SYSLOG([0-9]*): //p' "$TMP/err" >"$TMP/all"
    grep -E '^(accepted|refused|ignored|error) ' "$TMP/all" >"$TMP/log" || true
    grep -v -E '^(accepted|refused|ignored|error) ' "$TMP/all" >"$TMP/unix" || true
    if grep -q -e 'runtime error' -e 'ERROR: AddressSanitizer' "$TMP/err"; then
        not_ok "sanitizer report from pamtester $*" "$(cat "$TMP/err")"
    fi
}

# expect DESC WANT_RC LINE_REGEX [PAM_MESSAGE]: the last pam run exited WANT_RC (0 or
# non-zero), our module logged exactly one decision line, matching LINE_REGEX, and no
# secret; PAM_MESSAGE (optional) is pamtester's report of the PAM code.
expect() {
    local desc=$1 want=$2 regex=$3 message=${4:-} why="" s
    if [[ $want == 0 && $RC != 0 ]]; then why="pamtester failed (exit $RC)"; fi
    if [[ $want != 0 && $RC == 0 ]]; then why="pamtester succeeded"; fi
    if [[ -z $why ]] && ! grep -E -q -- "$regex" "$TMP/log"; then why="no decision line matching /$regex/"; fi
    if [[ -z $why && $(wc -l <"$TMP/log") -ne 1 ]]; then why="want exactly one decision line of the module"; fi
    if [[ -z $why && -n $message ]] && ! grep -F -q -- "$message" "$TMP/err" "$TMP/out"; then
        why="pamtester does not report '$message'"
    fi
    for s in "${SECRETS[@]}"; do
        if [[ -z $why ]] && grep -F -q -- "$s" "$TMP/all"; then why="a secret is in a log line"; fi
    done
    if [[ -z $why ]]; then
        ok "$desc ($SECS)"
    else
        not_ok "$desc: $why" "out: $(cat "$TMP/out")" "log: $(cat "$TMP/all")"
    fi
}

# unix_reached: pam_unix ran in the last pam run (the migmark stack's marker exists).
unix_reached() { [[ -e $MARK ]]; }
# unix_failed: pam_unix logged its own failure line in the last pam run.
unix_failed() { grep -q 'authentication failure' "$TMP/unix"; }

# --- Users and the store.
tool --db "$DB" init >/dev/null
declare -A PW SECRET CONFIRMED_AT
# system_user VAR BASE: a real user with a random real password in PW[name].
system_user() {  # VAR BASE [GROUP...]
    local var=$1 name
    make_test_user "$@"
    name=${!var}
    PW[$name]="Real-$RANDOM$RANDOM-Pw"
    SECRETS+=("${PW[$name]}")
    printf '%s:%s\n' "$name" "${PW[$name]}" | chpasswd
}
# enroll NAME: MFA enrolled and confirmed with the current code (which spends its step).
enroll() {
    local now
    SECRET[$1]=$(tool --db "$DB" mfa enroll "$1" --json | json_get secret)
    now=$(date +%s)
    tool --db "$DB" mfa confirm "$1" "$(code_at "$1" "$now")" >/dev/null
    CONFIRMED_AT[$1]=$now
}
# code_at NAME EPOCH: NAME's TOTP code at EPOCH.
code_at() { oathtool --totp -b "${SECRET[$1]}" -N "@$2"; }
# next_code NAME: the code of the step after the one spent at confirmation.
next_code() { code_at "$1" $((CONFIRMED_AT[$1] + 30)); }
# window NAME: every code NAME could log in with now or soon (steps -1..+2).
window() {
    local now d
    now=$(date +%s)
    for d in -30 0 30 60; do code_at "$1" $((now + d)); done
}
# wrong_code NAME: a 6-digit code that is none of NAME's codes of the window.
wrong_code() {
    local c t=$(($(date +%s) - 3600))
    while :; do
        c=$(code_at "$1" "$t")
        if ! window "$1" | grep -q -x -- "$c"; then
            echo "$c"
            return
        fi
        t=$((t - 30))
    done
}

system_user ALICE totpalice
system_user BOB totpbob
system_user CAROL totpcarol
system_user ERIN totperin
system_user FRANK totpfrank
ok "five real users made with useradd and chpasswd"

# ===================================================================================
# 1. auth required pam_unix.so + auth required pam_apppass.so totp

enroll "$ALICE"
code=$(next_code "$ALICE")
SECRETS+=("$code")
pam "${PW[$ALICE]}\n$code\n" totp "$ALICE" authenticate
expect "password + current code: accepted" 0 "^accepted service=totp user=$ALICE rhost=- factor=totp\$"
if grep -F -q 'Verification code: ' "$TMP/out" "$TMP/err"; then
    ok "the module asked 'Verification code: ' through the conversation"
else
    not_ok "the module asked 'Verification code: ' through the conversation" "$(cat "$TMP/out")"
fi

pam "${PW[$ALICE]}\n$code\n" totp "$ALICE" authenticate
expect "the same code again, in a second process: refused" 1 \
    "^refused service=totp user=$ALICE rhost=- factor=totp reason=reused-code\$" "Authentication failure"

wrong=$(wrong_code "$ALICE")
pam "${PW[$ALICE]}\n$wrong\n" totp "$ALICE" authenticate
expect "a wrong code: refused" 1 "^refused service=totp user=$ALICE rhost=- factor=totp reason=wrong-code\$"

# Recovery codes: made by the admin tool, shown once.
tool --db "$DB" mfa recovery-codes "$ALICE" --json >"$TMP/recovery.json"
mapfile -t RECOVERY < <("$PY" - "$TMP/recovery.json" <<'EOF'
import json, re, sys
# Every string in the answer that has the form of a recovery code (recovery_codes.h).
def walk(v):
    if isinstance(v, str):
        if re.fullmatch(r"[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}", v):
            yield v
    elif isinstance(v, list):
        for x in v: yield from walk(x)
    elif isinstance(v, dict):
        for x in v.values(): yield from walk(x)
for c in walk(json.load(open(sys.argv[1]))): print(c)
EOF
)
check "apppass mfa recovery-codes made 10 codes" test "${#RECOVERY[@]}" -eq 10
SECRETS+=("${RECOVERY[@]}")
pam "${PW[$ALICE]}\n${RECOVERY[0]}\n" totp "$ALICE" authenticate
expect "a recovery code: accepted, 9 left" 0 \
    "^accepted service=totp user=$ALICE rhost=- factor=totp reason=recovery-code codes_left=9\$"
pam "${PW[$ALICE]}\n${RECOVERY[0]}\n" totp "$ALICE" authenticate
expect "the same recovery code again: refused" 1 \
    "^refused service=totp user=$ALICE rhost=- factor=totp reason=wrong-code\$"
# Typed the way people type them: upper case, spaces for dashes.
typed=$(tr 'a-z-' 'A-Z ' <<<"${RECOVERY[1]}")
pam "${PW[$ALICE]}\n$typed\n" totp "$ALICE" authenticate
expect "another recovery code, upper case with spaces: accepted, 8 left" 0 \
    "^accepted service=totp user=$ALICE rhost=- factor=totp reason=recovery-code codes_left=8\$"

# Each wrong code counts towards alice's throttle (5), and a right one clears the count:
# from here on at most 3 in a row.
pam "${PW[$ALICE]}\nnot a code\n" totp "$ALICE" authenticate
expect "something that is no code at all: refused" 1 \
    "^refused service=totp user=$ALICE rhost=- factor=totp reason=(wrong-code|bad-input)"
pam "${PW[$ALICE]}\n\n" totp "$ALICE" authenticate
expect "an empty code: refused" 1 "^refused service=totp user=$ALICE rhost=- factor=totp reason=bad-input"

# Another user's code: bob's current code, typed by alice.
enroll "$BOB"
bob_code=$(next_code "$BOB")
SECRETS+=("$bob_code")
if window "$ALICE" | grep -q -x -- "$bob_code"; then
    note "bob's code is one of alice's by chance; skipped"
else
    pam "${PW[$ALICE]}\n$bob_code\n" totp "$ALICE" authenticate
    expect "another user's code: refused" 1 \
        "^refused service=totp user=$ALICE rhost=- factor=totp reason=wrong-code\$"
fi
# ... which is still good for bob himself (it was not spent on alice).
pam "${PW[$BOB]}\n$bob_code\n" totp "$BOB" authenticate
expect "that code for its own user: accepted" 0 "^accepted service=totp user=$BOB rhost=- factor=totp\$"
# The module is asked even after a wrong real password (required: PAM does not tell which
# factor failed), and the stack fails.
pam "Wrong-${PW[$BOB]}\n$(wrong_code "$BOB")\n" totp "$BOB" authenticate
expect "a wrong real password: the stack fails whatever the code" 1 \
    "^refused service=totp user=$BOB rhost=- factor=totp reason=wrong-code\$"
check "a wrong real password: pam_unix refused it" unix_failed
# A recovery code is bound to its user too.
pam "${PW[$BOB]}\n${RECOVERY[2]}\n" totp "$BOB" authenticate
expect "another user's recovery code: refused" 1 \
    "^refused service=totp user=$BOB rhost=- factor=totp reason=wrong-code\$"

# unenrolled=ignore: an unenrolled user is not asked and gets in on the password alone; an
# enrolled one is still asked.
pam "${PW[$FRANK]}\n" totpignore "$FRANK" authenticate
expect "totp unenrolled=ignore: an unenrolled user, password alone: in" 0 \
    "^ignored service=totpignore user=$FRANK rhost=- factor=totp reason=not-enrolled\$"
check "totp unenrolled=ignore: the unenrolled user was not asked for a code" \
    not grep -F -q 'Verification code' "$TMP/err"
pam "${PW[$ALICE]}\n$(wrong_code "$ALICE")\n" totpignore "$ALICE" authenticate
expect "totp unenrolled=ignore: an enrolled user is still asked, and a wrong code refused" 1 \
    "^refused service=totpignore user=$ALICE rhost=- factor=totp reason=wrong-code\$"

# A user without an enrollment (unenrolled=deny, the default): asked, then refused.
pam "${PW[$FRANK]}\n123456\n" totp "$FRANK" authenticate
expect "an unenrolled user under unenrolled=deny: refused" 1 \
    "^refused service=totp user=$FRANK rhost=- factor=totp reason=not-enrolled\$"

# Throttling: 5 wrong codes, then even the right code is refused for the window.
enroll "$CAROL"
for i in 1 2 3 4 5; do
    pam "${PW[$CAROL]}\n$(wrong_code "$CAROL")\n" totp "$CAROL" authenticate
    expect "wrong code $i of 5: refused" 1 \
        "^refused service=totp user=$CAROL rhost=- factor=totp reason=wrong-code\$"
done
carol_code=$(next_code "$CAROL")
SECRETS+=("$carol_code")
pam "${PW[$CAROL]}\n$carol_code\n" totp "$CAROL" authenticate
expect "after 5 wrong codes the right code is refused: throttled" 1 \
    "^refused service=totp user=$CAROL rhost=- factor=totp reason=throttled"
# The throttle is per user: bob still gets in, with a recovery code of his own.
tool --db "$DB" mfa recovery-codes "$BOB" --json >"$TMP/recovery-bob.json"
bob_recovery=$("$PY" -c 'import json,re,sys
def walk(v):
    if isinstance(v, str) and re.fullmatch(r"[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){2}", v): yield v
    elif isinstance(v, list):
        for x in v: yield from walk(x)
    elif isinstance(v, dict):
        for x in v.values(): yield from walk(x)
print(next(walk(json.load(open(sys.argv[1])))))' "$TMP/recovery-bob.json")
SECRETS+=("$bob_recovery")
pam "${PW[$BOB]}\n$bob_recovery\n" totp "$BOB" authenticate
expect "the throttle is per user: bob is not throttled" 0 \
    "^accepted service=totp user=$BOB rhost=- factor=totp reason=recovery-code codes_left=9\$"

# ===================================================================================
# 2. The migration stack.

pam "${PW[$ERIN]}\n" migmark "$ERIN" authenticate
expect "unenrolled user, real password: in through pam_unix alone" 0 \
    "^ignored service=migmark user=$ERIN rhost=- reason=not-enrolled\$"
check "unenrolled user: the stack went on to pam_unix (marker written)" unix_reached
pam "${PW[$ERIN]}\n" mig "$ERIN" authenticate
expect "unenrolled user, real password, the documented stack: in" 0 \
    "^ignored service=mig user=$ERIN rhost=- reason=not-enrolled\$"
pam "Wrong-${PW[$ERIN]}\n" mig "$ERIN" authenticate
expect "unenrolled user, wrong password: refused by pam_unix" 1 \
    "^ignored service=mig user=$ERIN rhost=- reason=not-enrolled\$"
check "control: pam_unix logs its failure when it is reached" unix_failed

enroll "$ERIN"
app=$(tool --db "$DB" create "$ERIN" --name phone --scope mig --scope migmark --json | json_get password)
SECRETS+=("$app")
pam "${PW[$ERIN]}\n" migmark "$ERIN" authenticate
expect "enrolled user, real password: refused" 1 \
    "^refused service=migmark user=$ERIN rhost=- reason=wrong-password\$"
check "enrolled user, real password: pam_unix never reached (no marker)" not unix_reached
pam "${PW[$ERIN]}\n" mig "$ERIN" authenticate
expect "enrolled user, real password, the documented stack: refused" 1 \
    "^refused service=mig user=$ERIN rhost=- reason=wrong-password\$"
pam "Wrong-${PW[$ERIN]}\n" mig "$ERIN" authenticate
expect "enrolled user, wrong password: refused" 1 "^refused service=mig user=$ERIN rhost=- reason=wrong-password\$"
check "enrolled user, wrong password: pam_unix never reached (no failure line of its own)" not unix_failed
pam "$app\n" mig "$ERIN" authenticate
expect "enrolled user, app password: accepted" 0 "^accepted service=mig user=$ERIN rhost=- id="
pam "$app\n" migmark "$ERIN" authenticate
expect "enrolled user, app password (marker stack): accepted" 0 "^accepted service=migmark user=$ERIN "
check "app password: decided by the module alone (no marker)" not unix_reached
pam "${PW[$ERIN]}\n" migunsafe "$ERIN" authenticate
expect "control, the unsafe [success=done default=ignore] form: the real password gets through" 0 \
    "^refused service=migunsafe user=$ERIN rhost=- reason=wrong-password\$"
pam "\n" mig "$ERIN" authenticate
expect "enrolled user, empty password: refused, not handed on" 1 \
    "^refused service=mig user=$ERIN rhost=- reason=bad-input"
check "enrolled user, empty password: pam_unix never reached" not unix_failed

tool --db "$DB" mfa reset "$ERIN" >/dev/null
pam "${PW[$ERIN]}\n" mig "$ERIN" authenticate
expect "after mfa reset: the real password works again" 0 "^ignored service=mig user=$ERIN rhost=- reason=not-enrolled\$"
pam "$app\n" mig "$ERIN" authenticate
check "after mfa reset: the app password (revoked by the reset) does not" test "$RC" != 0

# ===================================================================================
# 3. account=nss

pam "" acct "$FRANK" acct_mgmt
if [[ $RC == 0 && ! -s $TMP/log ]]; then
    ok "account=nss: a normal user passes, no log line ($SECS)"
else
    not_ok "account=nss: a normal user passes, no log line" "$(cat "$TMP/err")"
fi
usermod -L "$FRANK"
pam "" acct "$FRANK" acct_mgmt
expect "account=nss: after usermod -L: PAM_PERM_DENIED" 1 \
    "^refused service=acct user=$FRANK rhost=- reason=account-locked\$" "Permission denied"
usermod -U "$FRANK"
pam "" acct "$FRANK" acct_mgmt
check "account=nss: after usermod -U: passes again" test "$RC" = 0
usermod -e 1970-01-02 "$FRANK"
pam "" acct "$FRANK" acct_mgmt
expect "account=nss: after usermod -e 1970-01-02: PAM_ACCT_EXPIRED" 1 \
    "^refused service=acct user=$FRANK rhost=- reason=account-expired\$" "User account has expired"
chage -E -1 "$FRANK"
chage -E 0 "$FRANK"
pam "" acct "$FRANK" acct_mgmt
expect "account=nss: after chage -E 0: PAM_ACCT_EXPIRED" 1 \
    "^refused service=acct user=$FRANK rhost=- reason=account-expired\$" "User account has expired"
chage -E -1 "$FRANK"
pam "" acct "$FRANK" acct_mgmt
check "account=nss: after chage -E -1: passes again" test "$RC" = 0

# Not root, the module cannot read /etc/shadow and asks apppassd (ACCOUNT); with none
# running: refused (acct_mgmt has no PAM_AUTHINFO_UNAVAIL), an error line, within 2 s.
# The module is staged where the user can load it (the build tree may be in /root).
chmod 0711 "$TMP"
chmod 0755 "$SERVICES"
STAGED=$(stage_program "$TMP/stage" "$MODULE")
printf 'account required %s account=nss broker=%s/no-apppassd.sock\n' "$STAGED" "$TMP" \
    >"$SERVICES/acctuser"
t0=$(date +%s%N)
RC=0
as_user "$FRANK" env LD_LIBRARY_PATH="$TMP/stage/lib" LD_PRELOAD="$preload" PAM_WRAPPER=1 \
    PAM_WRAPPER_SERVICE_DIR="$SERVICES" PAM_WRAPPER_DEBUGLEVEL=4 \
    "$PAMTESTER" -v acctuser "$FRANK" acct_mgmt </dev/null >"$TMP/out" 2>"$TMP/err" || RC=$?
ms=$((($(date +%s%N) - t0) / 1000000))
SECS=${ms}ms
sed -n 's/^.*SYSLOG([0-9]*): //p' "$TMP/err" >"$TMP/all"
grep -E '^(accepted|refused|ignored|error) ' "$TMP/all" >"$TMP/log" || true
expect "account=nss as a user (not root), no apppassd: refused" 1 \
    "^error service=acctuser user=$FRANK rhost=- reason=unavailable detail=" "Authentication failure"
check "account=nss as a user, no apppassd: decided within 2 s ($SECS)" test "$ms" -lt 2000
userdel "$FRANK"
pam "" acct "$FRANK" acct_mgmt
expect "account=nss: after userdel: PAM_USER_UNKNOWN" 1 \
    "^refused service=acct user=$FRANK rhost=- reason=unknown-account\$" \
    "User not known to the underlying authentication module"

# ===================================================================================
# 4. Not root: the same through the real apppassd.

if [[ $APPPASSD == - ]]; then
    echo "ok - # SKIP not root through apppassd: apppassd is not built"
    finish
    exit $?
fi
make_test_group GRP totpgrp
system_user GINA totpgina "$GRP"
system_user HANK totphank "$GRP"
SOCK=$TMP/run/apppassd.sock
env -u LD_PRELOAD "$APPPASSD" --db "$DB" --socket "$SOCK" --group "$GRP" >"$TMP/apppassd.out" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.1; done
check "apppassd listens on $SOCK (--group $GRP)" test -S "$SOCK"
printf 'auth required %s\nauth required %s totp broker=%s\naccount required %s account=nss broker=%s\n' \
    "$PAM_UNIX" "$STAGED" "$SOCK" "$STAGED" "$SOCK" >"$SERVICES/totpuser"
printf 'auth required %s\nauth required %s totp unenrolled=ignore broker=%s\n' \
    "$PAM_UNIX" "$STAGED" "$SOCK" >"$SERVICES/totpuserignore"
# pam_as USER INPUT SERVICE OPERATION...: pamtester run by USER for USER.
pam_as() {
    local user=$1 input=$2 service=$3 t0
    shift 3
    t0=$(date +%s%N)
    RC=0
    printf '%b' "$input" |
        as_user "$user" env LD_LIBRARY_PATH="$TMP/stage/lib" LD_PRELOAD="$preload" PAM_WRAPPER=1 \
            PAM_WRAPPER_SERVICE_DIR="$SERVICES" PAM_WRAPPER_DEBUGLEVEL=4 \
            "$PAMTESTER" -v "$service" "$user" "$@" >"$TMP/out" 2>"$TMP/err" || RC=$?
    SECS=$((($(date +%s%N) - t0) / 1000000))ms
    sed -n 's/^.*SYSLOG([0-9]*): //p' "$TMP/err" >"$TMP/all"
    grep -E '^(accepted|refused|ignored|error) ' "$TMP/all" >"$TMP/log" || true
}
enroll "$GINA"
code=$(next_code "$GINA")
SECRETS+=("$code")
pam_as "$GINA" "${PW[$GINA]}\n$code\n" totpuser authenticate acct_mgmt
expect "as $GINA (not root, in $GRP): password + code accepted through apppassd, account ok" 0 \
    "^accepted service=totpuser user=$GINA rhost=- factor=totp\$"
pam_as "$GINA" "${PW[$GINA]}\n$code\n" totpuser authenticate
expect "as $GINA: the same code again: reused-code" 1 \
    "^refused service=totpuser user=$GINA rhost=- factor=totp reason=reused-code\$"
pam_as "$HANK" "${PW[$HANK]}\n" totpuserignore authenticate
expect "as $HANK (not enrolled), unenrolled=ignore: in on the password alone, not asked" 0 \
    "^ignored service=totpuserignore user=$HANK rhost=- factor=totp reason=not-enrolled\$"
check "as $HANK: no code was asked" not grep -F -q 'Verification code' "$TMP/err"
usermod -L "$GINA"
pam_as "$GINA" "" totpuser acct_mgmt
expect "as $GINA, account=nss through apppassd after usermod -L: PAM_PERM_DENIED" 1 \
    "^refused service=totpuser user=$GINA rhost=- reason=account-locked\$" "Permission denied"
usermod -U "$GINA"

finish
