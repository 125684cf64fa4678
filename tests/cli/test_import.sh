#!/bin/bash
# cli_import: 'apppass mfa import', end to end, with genuine files of the other modules.
#
# Usage: test_import.sh /path/to/apppass     (as root: it chowns files to test owners;
#        exits 77, "skipped", otherwise)
#
# - google-authenticator files are made by Debian's google-authenticator program; the
#   default path ~USER/.google_authenticator is found through a fake passwd file
#   (nss_wrapper), so no system account is touched.
# - The pam_oath usersfile is written by hand and proven genuine by logging in with the
#   real pam_oath.so (pam_wrapper + pamtester, no change to /etc/pam.d); a login through
#   the real pam_google_authenticator.so marks a code as used in its file.
# - Codes come from oathtool. Checked: import with a code on stdin and as an argument,
#   'mfa status' (source), 'create' afterwards, and refusals: wrong code, a code the other
#   module already accepted, counter-based (HOTP) and 60-second enrollments, unsafe modes,
#   foreign owners, symlinks, FIFOs, huge, empty and garbage files, an already confirmed
#   user. No secret, PIN or scratch code ever appears in the tool's output.
# Prints "ok - ..." / "not ok - ..." per check and "N passed, N failed"; exits 1 when
# anything failed. Environment: APPPASS_TEST_PRELOAD (the ASan runtime, when sanitized).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_setup "$@"
chmod 755 "$TMP"  # the fake users' home directories live here

if [[ $(id -u) -ne 0 ]]; then
    echo "# skipped: must run as root (it gives files to other owners)"
    exit 77
fi
require_tools oathtool google-authenticator pamtester
PAMDIR=
for d in /lib/x86_64-linux-gnu/security /usr/lib/x86_64-linux-gnu/security \
    "/lib/$(gcc -print-multiarch 2>/dev/null)/security" /usr/lib64/security /lib/security; do
    if [[ -e $d/pam_oath.so && -e $d/pam_google_authenticator.so ]]; then PAMDIR=$d; break; fi
done
[[ -n $PAMDIR ]] || { echo "not ok - pam_oath.so / pam_google_authenticator.so not found"; exit 1; }

# Every output of the tool is collected, to check at the end that no secret was printed.
ALL_OUTPUT=$TMP/all-output
eval "orig_$(declare -f run)"
run() {
    orig_run "$@"
    cat "$TMP/out" "$TMP/err" >>"$ALL_OUTPUT"
}

DB=$TMP/store
db=(--db "$DB")
ALLOW_STDERR=1
expect_ok "init a store" "${db[@]}" init
ALLOW_STDERR=0

# Fake accounts for the tool (nss_wrapper): alice (uid 2001) and erin (uid 2002) have
# homes under $TMP; nobody else exists.
mkdir -p "$TMP/home/alice" "$TMP/home/erin"
cat >"$TMP/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
alice:x:2001:2001:Alice:$TMP/home/alice:/bin/false
erin:x:2002:2002:Erin:$TMP/home/erin:/bin/false
EOF
printf 'root:x:0:\nalice:x:2001:\nerin:x:2002:\n' >"$TMP/group"
chown 2001:2001 "$TMP/home/alice"
chown 2002:2002 "$TMP/home/erin"
chmod 700 "$TMP/home/alice" "$TMP/home/erin"
RUN_AS=(env "LD_PRELOAD=${APPPASS_TEST_PRELOAD:+$APPPASS_TEST_PRELOAD:}libnss_wrapper.so"
    "NSS_WRAPPER_PASSWD=$TMP/passwd" "NSS_WRAPPER_GROUP=$TMP/group")
check "nss_wrapper gives the fake account alice" \
    test "$(env "${RUN_AS[@]:1}" getent passwd alice | cut -d: -f3,6)" = "2001:$TMP/home/alice"

# PAM services for the real pam_oath and pam_google_authenticator (pam_wrapper).
mkdir "$TMP/pam.d"
: >"$TMP/pam.d/other"
pam_login() {  # pam_login SERVICE USER CODE: a login through the real module
    echo "$3" | env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 \
        "PAM_WRAPPER_SERVICE_DIR=$TMP/pam.d" pamtester "$1" "$2" authenticate >/dev/null 2>&1
}

# The current code of a base32 or hex secret, or the next one ("next": 30 s ahead,
# within the one step of drift that is accepted).
totp_b32() { oathtool --totp -b "$1" ${2:+-N "@$(($(date +%s) + 30))"}; }
totp_hex() { oathtool --totp "$1" ${2:+-N "@$(($(date +%s) + 30))"}; }

# A well-formed 6-digit code that is valid for no step within +-10 steps of now.
wrong_code() {
    "$PY" - "$1" <<'EOF'
import base64, hashlib, hmac, struct, sys, time
key = bytes.fromhex(sys.argv[1])
def code(counter):
    h = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)
step = int(time.time()) // 30
valid = {code(c) for c in range(step - 10, step + 11)}
x = (int(code(step)) + 1) % 1000000
while "%06d" % x in valid:
    x = (x + 1) % 1000000
print("%06d" % x)
EOF
}
b32_to_hex() { "$PY" -c 'import base64,sys; s=sys.argv[1]; print(base64.b32decode(s + "=" * (-len(s) % 8)).hex())' "$1"; }

SECRETS=$TMP/secrets  # every secret, PIN and scratch code, one a line
status_json() { "$APPPASS" "${db[@]}" mfa status "$1" --json >"$TMP/out"; }

# genuine FILE [google-authenticator options...]: a new state file.
genuine() {
    local f=$1
    shift
    google-authenticator -f -q -Q NONE -l test@apppass -i apppass-test -s "$f" "$@" >/dev/null
    head -n 1 "$f" >>"$SECRETS"
    grep -E '^[0-9]{8}$' "$f" >>"$SECRETS" || true
}

# ---------------------------------------------------------------------------------------
note "google-authenticator: the user's own file at the default path"
GA_ALICE=$TMP/home/alice/.google_authenticator
genuine "$GA_ALICE" -t -d -r 3 -R 30 -w 3 -e 5
chown 2001:2001 "$GA_ALICE"
check "google-authenticator wrote a TOTP file with DISALLOW_REUSE, mode 0400" \
    test "$(stat -c %a "$GA_ALICE")" = 400 -a "$(grep -c -e '^" TOTP_AUTH$' -e '^" DISALLOW_REUSE$' "$GA_ALICE")" = 2
A_B32=$(head -n 1 "$GA_ALICE")
A_HEX=$(b32_to_hex "$A_B32")

expect_fail 4 "wrong code" "a wrong code is refused (exit 4)" \
    "${db[@]}" mfa import alice "$(wrong_code "$A_HEX")" --google-authenticator
expect_fail 4 "6 digits" "a scratch code is not a TOTP code (exit 4)" \
    "${db[@]}" mfa import alice "$(grep -m1 -E '^[0-9]{8}$' "$GA_ALICE")" --google-authenticator
expect_fail 2 "no code" "no code on stdin (exit 2)" "${db[@]}" mfa import alice --google-authenticator
status_json alice
jcheck "the refusals stored nothing" 'assert j["state"] == "none" and j["source"] is None, j'

printf '%s\n' "$(totp_b32 "$A_B32")" >"$TMP/code"
RUN_STDIN=$TMP/code
expect_ok "import alice from ~alice/.google_authenticator, code on stdin" \
    "${db[@]}" mfa import alice --google-authenticator
RUN_STDIN=/dev/null
check "it says where the enrollment came from" \
    grep -qF "imported from $GA_ALICE (google-authenticator)" "$TMP/out"
check "and prints the 10 recovery codes the import made" \
    test "$(grep -cE '^  [a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$' "$TMP/out")" = 10
expect_ok "mfa status --json" "${db[@]}" mfa status alice --json
jcheck "status: confirmed now, source google-authenticator" '
keys(j, "user", "state", "enrolled", "confirmed", "source", "recovery_codes_left", "replacement_pending")
assert j["state"] == "confirmed" and j["source"] == "google-authenticator", j
assert j["recovery_codes_left"] == 10, j
assert near_now(j["enrolled"], 120) == near_now(j["confirmed"], 120)'
expect_ok "mfa status (text)" "${db[@]}" mfa status alice
check "text status names the source" grep -q "confirmed on .* (imported from google-authenticator)" "$TMP/out"
expect_ok "create works for the imported user" "${db[@]}" create alice --name phone --scope imap --json
jcheck "create printed a password" 'assert re.fullmatch(ARGS[0], j["password"]), j' "$PW_RE"
expect_fail 4 "already used" "the code of the import is used up (mfa confirm, exit 4)" \
    "${db[@]}" mfa confirm alice "$(cat "$TMP/code")"
expect_fail 4 "reset" "importing a confirmed user is refused (exit 4)" \
    "${db[@]}" mfa import alice "$(totp_b32 "$A_B32" next)" --google-authenticator
expect_fail 4 "reset" "enrolling over an imported enrollment is refused" "${db[@]}" mfa enroll alice
check "the file was read, not changed" test "$(head -n 1 "$GA_ALICE")" = "$A_B32"
check "the secret is not in data.mdb (base32 or raw)" "$PY" -c '
import base64, sys
s = sys.argv[1]; data = open(sys.argv[2], "rb").read()
sys.exit(s.encode() in data or base64.b32decode(s + "=" * (-len(s) % 8)) in data)' "$A_B32" "$DB/data.mdb"

note "google-authenticator: refusals by owner"
GA_ERIN=$TMP/home/erin/.google_authenticator
cp "$GA_ALICE" "$GA_ERIN"
chown 2001:2001 "$GA_ERIN"  # alice's file in erin's home
expect_fail 4 "owned by uid 2001" "a file owned by another user is refused (exit 4)" \
    "${db[@]}" mfa import erin "$(totp_b32 "$A_B32")" --google-authenticator
chown 2002:2002 "$GA_ERIN"
expect_ok "the same file owned by erin is accepted" \
    "${db[@]}" mfa import erin "$(totp_b32 "$A_B32")" --google-authenticator
expect_fail 3 "no system account named frank" "no account to find ~frank (exit 3)" \
    "${db[@]}" mfa import frank 123456 --google-authenticator
expect_fail 3 "does not exist" "a FILE that does not exist (exit 3)" \
    "${db[@]}" mfa import ivan 123456 --google-authenticator "$TMP/home/nothing-here"

# ---------------------------------------------------------------------------------------
note "google-authenticator: a code already used for a login through pam_google_authenticator"
GA_CAROL=$TMP/carol.ga  # an admin-kept file (secret=... user=root), owned by root
genuine "$GA_CAROL" -t -d -u -w 3 -e 2
C_B32=$(head -n 1 "$GA_CAROL")
echo "auth required $PAMDIR/pam_google_authenticator.so secret=$GA_CAROL user=root" >"$TMP/pam.d/gatest"
CODE=$(totp_b32 "$C_B32")
check "the real pam_google_authenticator accepts the file and a code" pam_login gatest carol "$CODE"
check "and records its time step as used (DISALLOW_REUSE)" \
    grep -qE '^" DISALLOW_REUSE [0-9]+$' "$GA_CAROL"
expect_fail 4 "already used" "the code used for that login is refused (exit 4)" \
    "${db[@]}" mfa import carol "$CODE" --google-authenticator "$GA_CAROL"
expect_ok "the next code is accepted" \
    "${db[@]}" mfa import carol "$(totp_b32 "$C_B32" next)" --google-authenticator "$GA_CAROL"
check "pam_google_authenticator still reads its file (the import changed nothing)" \
    grep -qF "$C_B32" "$GA_CAROL"

note "google-authenticator: enrollments apppass cannot use"
GA_HOTP=$TMP/hotp.ga
genuine "$GA_HOTP" -c -u -w 3 -e 2
expect_fail 4 "HOTP" "a counter-based (HOTP) file is refused (exit 4)" \
    "${db[@]}" mfa import henry 123456 --google-authenticator "$GA_HOTP"
GA_60=$TMP/60.ga
genuine "$GA_60" -t -D -u -S 60 -w 3 -e 0
expect_fail 4 "60" "a 60-second file is refused (exit 4)" \
    "${db[@]}" mfa import henry "$(oathtool --totp=sha1 -s 60 -b "$(head -n 1 "$GA_60")")" \
    --google-authenticator "$GA_60"

note "google-authenticator: unsafe and broken files"
GA_IVAN=$TMP/ivan.ga  # ivan has no account: only root may own his file
genuine "$GA_IVAN" -t -d -u -w 3 -e 3
I_B32=$(head -n 1 "$GA_IVAN")
unsafe_case() {  # unsafe_case EXIT REGEX DESC: import ivan from $GA_IVAN (a valid code)
    expect_fail "$1" "$2" "$3" "${db[@]}" mfa import ivan "$(totp_b32 "$I_B32")" --google-authenticator "$GA_IVAN"
}
chmod 0620 "$GA_IVAN"
unsafe_case 4 "0620.*chmod" "group-writable (exit 4)"
chmod 0602 "$GA_IVAN"
unsafe_case 4 "0602.*chmod" "world-writable (exit 4)"
chmod 0604 "$GA_IVAN"
unsafe_case 4 "0604.*chmod" "world-readable: everyone knows that secret (exit 4)"
chmod 0400 "$GA_IVAN"
chown 4242 "$GA_IVAN"
unsafe_case 4 "owned by uid 4242" "owned by a stranger (exit 4)"
chown 0 "$GA_IVAN"
ln -s "$GA_IVAN" "$TMP/link.ga"
expect_fail 4 "symbolic link" "a symlink is refused (exit 4)" \
    "${db[@]}" mfa import ivan "$(totp_b32 "$I_B32")" --google-authenticator "$TMP/link.ga"
mkfifo -m 600 "$TMP/fifo.ga"
expect_fail 4 "regular file" "a FIFO is refused without hanging (exit 4)" \
    "${db[@]}" mfa import ivan 123456 --google-authenticator "$TMP/fifo.ga"
{ cat "$GA_IVAN"; head -c 65536 /dev/zero | tr '\0' '\n'; } >"$TMP/huge.ga"
chmod 600 "$TMP/huge.ga"
expect_fail 2 "64 KiB" "a file over 64 KiB is refused (exit 2)" \
    "${db[@]}" mfa import ivan "$(totp_b32 "$I_B32")" --google-authenticator "$TMP/huge.ga"
install -m 600 /dev/null "$TMP/empty.ga"
expect_fail 2 "empty" "an empty file is refused (exit 2)" \
    "${db[@]}" mfa import ivan 123456 --google-authenticator "$TMP/empty.ga"
head -c 3000 /dev/urandom >"$TMP/garbage.ga"
chmod 600 "$TMP/garbage.ga"
expect_fail 2 "" "a garbage file is refused (exit 2)" \
    "${db[@]}" mfa import ivan 123456 --google-authenticator "$TMP/garbage.ga"
{ cat "$GA_IVAN"; echo '" DIGITS 8'; } >"$TMP/digits.ga"
chmod 600 "$TMP/digits.ga"
expect_fail 4 "DIGITS" "an option apppass does not know is refused (exit 4)" \
    "${db[@]}" mfa import ivan "$(totp_b32 "$I_B32")" --google-authenticator "$TMP/digits.ga"
status_json ivan
jcheck "none of that enrolled ivan" 'assert j["state"] == "none", j'
expect_ok "the same file, once safe, is accepted" \
    "${db[@]}" mfa import ivan "$(totp_b32 "$I_B32")" --google-authenticator "$GA_IVAN"

# ---------------------------------------------------------------------------------------
note "pam_oath usersfile (written by hand, checked with the real pam_oath)"
USERS=$TMP/users.oath
hexkey() { head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
D_HEX=$(hexkey)
B_HEX=$(hexkey)
E_HEX=$(hexkey)
G_HEX=$(hexkey)
printf '%s\n' "$D_HEX" "$B_HEX" "$E_HEX" "$G_HEX" s3cretPIN >>"$SECRETS"
cat >"$USERS" <<EOF
# pam_oath usersfile: TYPE USER PIN SECRET [COUNTER [LAST-OTP [TIME]]]
HOTP	bob	-	$B_HEX
HOTP/T60	erin	-	$E_HEX

HOTP/T30/8	gina	s3cretPIN	$G_HEX
HOTP/T30	dave2	-	$B_HEX
HOTP/T30	dave	s3cretPIN	$D_HEX
EOF
chmod 600 "$USERS"
echo "auth required $PAMDIR/pam_oath.so usersfile=$USERS window=1 digits=6" >"$TMP/pam.d/oathtest"
CODE=$(totp_hex "$D_HEX")
check "the real pam_oath accepts dave's entry with PIN and code" pam_login oathtest dave "s3cretPIN$CODE"
check "and records the code it accepted" grep -qE "^HOTP/T30	dave	s3cretPIN	$D_HEX	[0-9]+	$CODE	" "$USERS"
expect_fail 4 "already used" "the code pam_oath accepted is refused (exit 4)" \
    "${db[@]}" mfa import dave "$CODE" --oath "$USERS"
expect_fail 4 "wrong code" "a wrong code is refused (exit 4)" \
    "${db[@]}" mfa import dave "$(wrong_code "$D_HEX")" --oath "$USERS"
printf '%s\n' "$(totp_hex "$D_HEX" next)" >"$TMP/code"
RUN_STDIN=$TMP/code
expect_ok "import dave from the usersfile, code on stdin" "${db[@]}" mfa import dave --oath "$USERS"
RUN_STDIN=/dev/null
expect_ok "mfa status --json" "${db[@]}" mfa status dave --json
jcheck "status: confirmed, source oath" 'assert j["state"] == "confirmed" and j["source"] == "oath", j'
expect_ok "create works for dave" "${db[@]}" create dave --name laptop --scope imap
check "create printed a password" grep -qE -- "$PW_ANY" "$TMP/out"
expect_fail 4 "counter-based" "a counter-based (HOTP) entry is refused (exit 4)" \
    "${db[@]}" mfa import bob 123456 --oath "$USERS"
expect_fail 4 "HOTP/T60" "a 60-second entry is refused (exit 4)" \
    "${db[@]}" mfa import erin 123456 --oath "$USERS"
expect_fail 4 "HOTP/T30/8" "an 8-digit entry is refused (exit 4)" \
    "${db[@]}" mfa import gina 12345678 --oath "$USERS"
expect_fail 3 "no entry for zoe" "a user without an entry (exit 3)" \
    "${db[@]}" mfa import zoe 123456 --oath "$USERS"
chmod 660 "$USERS"
expect_fail 4 "chmod" "a group-writable usersfile is refused (exit 4)" \
    "${db[@]}" mfa import dave2 "$(totp_hex "$B_HEX")" --oath "$USERS"
chmod 600 "$USERS"
ln -s "$USERS" "$TMP/link.oath"
expect_fail 4 "symbolic link" "a symlinked usersfile is refused (exit 4)" \
    "${db[@]}" mfa import dave2 "$(totp_hex "$B_HEX")" --oath "$TMP/link.oath"
if [[ ! -e /etc/users.oath ]]; then
    expect_fail 3 "/etc/users.oath does not exist" "--oath without FILE reads /etc/users.oath (exit 3)" \
        "${db[@]}" mfa import dave2 123456 --oath
fi

# ---------------------------------------------------------------------------------------
note "usage"
expect_fail 2 "google-authenticator.*oath" "no source named (exit 2)" "${db[@]}" mfa import dave2 123456
expect_fail 2 "excludes" "both sources named (exit 2)" \
    "${db[@]}" mfa import dave2 123456 --oath "$USERS" --google-authenticator "$GA_IVAN"
expect_fail 3 "before the option" "a code taken as FILE gets a hint (exit 3)" \
    "${db[@]}" mfa import dave2 --oath 123456
expect_fail 2 "" "a bad user name (exit 2)" "${db[@]}" mfa import $'bad\tname' 123456 --oath "$USERS"
expect_ok "mfa import --help" mfa import --help
check "help names both sources" grep -q -e "--google-authenticator" "$TMP/out"

note "no secret in any output"
check "no secret, PIN or scratch code was printed" not grep -aqiFf "$SECRETS" "$ALL_OUTPUT"
check "the collected output is not empty (the check above saw something)" test -s "$ALL_OUTPUT"

finish
