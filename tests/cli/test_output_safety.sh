#!/bin/bash
# Output safety of the admin tool (tools/ and common/text.h TerminalSafe, common/usage.h):
#   - a login through the real libpam (pamtester under pam_wrapper, the PAM module) from a
#     remote host whose name carries terminal escapes (an OSC 52 clipboard write, a screen
#     clear, a bidi override) is recorded, and 'apppass list' shows it with no raw escape
#     byte; the usage record itself holds printable ASCII only ('list --json');
#   - a last-use record written raw, as an older apppass did, is shown escaped too;
#   - a user "\u202eecila" (which would list as "alice") and a label with a zero-width
#     space are refused with one clear line naming the character; lookups still answer.
# Usage: test_output_safety.sh APPPASS PAM_MODULE PAM_WRAPPER_LIBRARY STORE_TAMPER
# APPPASS_TEST_PRELOAD (the ASan runtime when sanitized) is preloaded before pam_wrapper
# for pamtester only.
set -euo pipefail

if [[ $# -ne 4 ]]; then
    echo "usage: $0 APPPASS PAM_MODULE PAM_WRAPPER_LIBRARY STORE_TAMPER" >&2
    exit 2
fi
APPPASS=$(realpath -e "$1")
MODULE=$(realpath -e "$2")
WRAPPER=$(realpath -e "$3")
TAMPER=$(realpath -e "$4")
TMP=$(mktemp -d)
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PAMTESTER=$(command -v pamtester) || { echo "not ok - pamtester is not installed"; exit 1; }
command -v oathtool >/dev/null || { echo "not ok - oathtool is not installed"; exit 1; }

DB=$TMP/store
new_store_with_user "$DB" alice
SERVICES=$TMP/services
mkdir -p "$SERVICES"
: >"$SERVICES/other"
printf 'auth required %s db=%s\naccount required %s db=%s\n' "$MODULE" "$DB" "$MODULE" "$DB" \
    >"$SERVICES/imap"

# login PASSWORD RHOST: one PAM login of alice for service imap from RHOST.
login() {
    local preload=$WRAPPER extra=()
    if [[ -n ${APPPASS_TEST_PRELOAD:-} ]]; then
        preload=$APPPASS_TEST_PRELOAD:$WRAPPER
        extra=(PAM_WRAPPER_DISABLE_DEEPBIND=1 ASAN_OPTIONS=detect_leaks=0:abort_on_error=1)
    fi
    printf '%s\n' "$1" | env LD_PRELOAD="$preload" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SERVICES" \
        "${extra[@]}" "$PAMTESTER" -I "rhost=$2" imap alice authenticate >"$TMP/pamout" 2>&1
}

# raw_bytes FILE: why FILE holds bytes a terminal acts on or that hide text (C0 other
# than newline, DEL, C1 in UTF-8, U+202E, U+200B), or nothing.
raw_bytes() {
    "$PY" - "$1" <<'EOF'
import sys
data = open(sys.argv[1], 'rb').read()
bad = [b for b in data if (b < 0x20 and b != 0x0a) or b == 0x7f]
if bad:
    print('control bytes %s' % sorted(set(bad)))
text = data.decode('utf-8', 'replace')
for ch in text:
    if 0x80 <= ord(ch) <= 0x9f or ch in '\u202e\u200b\ufffd':
        print('character U+%04X' % ord(ch))
        break
EOF
}

# --- an rhost with terminal escapes, through a real login ---------------------------------
tool --db "$DB" create alice --name "Phone mail" --scope imap --json >"$TMP/created"
PW=$(json_get password <"$TMP/created")
ID=$(json_get id <"$TMP/created")
EVIL=$(printf 'h\033]52;c;ZXZpbA==\a\033[2J\342\200\256x')
if login "$PW" "$EVIL"; then
    ok "a login from a host with terminal escapes in its name is accepted"
else
    not_ok "a login from a host with terminal escapes in its name is accepted" "$(cat "$TMP/pamout")"
fi

expect_ok "list after that login" --db "$DB" list alice
why=$(raw_bytes "$TMP/out")
if [[ -z $why ]]; then ok "list prints no raw escape byte"; else not_ok "list prints no raw escape byte" "$why"; fi
check "list shows the host escaped" grep -qF 'h\x1b]52;c;ZXZpbA==\x07\x1b[2J\xe2\x80\xaex' "$TMP/out"
check "list shows the password's row" grep -q "^$ID  alice  Phone mail " "$TMP/out"

expect_ok "list --json after that login" --db "$DB" list alice --json
jcheck "the usage record holds the host as printable ASCII" \
    'assert j[0]["last_rhost"] == "h\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J\\xe2\\x80\\xaex", j[0]["last_rhost"]; assert j[0]["last_service"] == "imap"'

# --- a raw record, as an older apppass wrote it -------------------------------------------
# JSON as nlohmann::json writes it (control characters as \u00XX, other bytes raw), put
# into the usage database with LMDB directly (store_tamper).
RAW=$(printf '{"v":1,"time":1700000000,"service":"im\\u001bap","rhost":"old\\u001b]52;c;ZXZpbA==\\u0007\342\200\256\302\23331m"}')
"$TAMPER" "$DB/usage" put usage "$ID" "$RAW"
expect_ok "list with a raw last-use record" --db "$DB" list alice
why=$(raw_bytes "$TMP/out")
if [[ -z $why ]]; then ok "list escapes a raw record"; else not_ok "list escapes a raw record" "$why"; fi
check "list shows the raw record's host escaped" grep -qF 'old\x1b]52;c;ZXZpbA==\x07\u202e\u009b31m' "$TMP/out"
check "list shows the raw record's service escaped" grep -qF 'im\x1bap' "$TMP/out"
expect_ok "list --json with a raw last-use record" --db "$DB" list alice --json
jcheck "list --json keeps the raw record (JSON-escaped)" \
    'assert j[0]["last_rhost"] == "old\x1b]52;c;ZXZpbA==\x07\u202e\u009b31m", repr(j[0]["last_rhost"])'

# --- names and labels with format characters ----------------------------------------------
RLO_USER=$(printf '\342\200\256ecila')
expect_fail 2 'user name contains U\+202E' "mfa enroll of a user \\u202eecila is refused" \
    --db "$DB" mfa enroll "$RLO_USER"
why=$(raw_bytes "$TMP/err")
if [[ -z $why ]]; then ok "the refusal prints the name escaped"; else not_ok "the refusal prints the name escaped" "$why"; fi
expect_fail 2 'name contains U\+200B' "a label with a zero-width space is refused" \
    --db "$DB" create alice --name "$(printf 'Phone\342\200\213mail')" --scope imap
expect_fail 2 'user name contains U\+202E' "create for a user \\u202eecila is refused" \
    --db "$DB" create "$RLO_USER" --name phone --scope imap
expect_ok "mfa status of a user \\u202eecila answers" --db "$DB" mfa status "$RLO_USER"
check "mfa status prints the name escaped" grep -qxF '\u202eecila: not enrolled' "$TMP/out"
expect_ok "list of a user \\u202eecila answers" --db "$DB" list "$RLO_USER"
check "list prints the name escaped" grep -qxF 'No app passwords for \u202eecila.' "$TMP/out"

finish
