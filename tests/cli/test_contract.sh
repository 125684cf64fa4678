#!/bin/bash
# cli_contract: the admin tool's command-line contract, end to end, on a throwaway store.
#
# Usage: test_contract.sh /path/to/apppass
#
# Covers init, mfa enroll/confirm/status/reset (codes from oathtool), create (--scope or --all-services required, scopes,
# expiry, password format, limits, duplicate names), list (table and JSON), revoke (by
# id, name, all), --help everywhere, usage errors and exit codes. JSON shapes are checked
# with python3: exact key sets, types, ISO 8601 UTC times, null where nothing is set.
# Prints "ok - ..." / "not ok - ..." per check and "N passed, N failed"; exits 1 when
# anything failed.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_setup "$@"

require_tools oathtool cmp sha256sum

DB=$TMP/store
db=(--db "$DB")
PASSWORDS=$TMP/passwords   # every password the tool printed, one per line

# The current TOTP code of a base32 secret, from oathtool (the reference implementation).
totp() { oathtool --totp -b "$1"; }

# A well-formed 6-digit code that is valid for no step within +-10 steps of now.
wrong_code() {
    "$PY" - "$1" <<'EOF'
import base64, hashlib, hmac, struct, sys, time
s = sys.argv[1]
key = base64.b32decode(s + "=" * (-len(s) % 8))
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

# json_get KEY: a top-level string field of the JSON in $TMP/out.
json_get() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$TMP/out" "$1"; }

# enroll_confirm USER: enroll and confirm with a current code; prints the secret.
enroll_confirm() {
    "$APPPASS" "${db[@]}" mfa enroll "$1" --json >"$TMP/enroll.json"
    local secret
    secret=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$TMP/enroll.json")
    "$APPPASS" "${db[@]}" mfa confirm "$1" "$(totp "$secret")" >/dev/null
    echo "$secret"
}

# no_password_in DESC FILE...: none of FILEs holds a password-shaped string.
no_password_in() {
    local desc=$1 f
    shift
    for f in "$@"; do
        if has_password_shape "$f"; then not_ok "$desc" "password-shaped string in $(basename "$f")"; return; fi
    done
    ok "$desc"
}

# ---------------------------------------------------------------------------------------
note "init"
# init may add a note on stderr.
ALLOW_STDERR=1
expect_ok "init creates a new store" "${db[@]}" init
check "init says it initialized the store" grep -q "Initialized" "$TMP/out"
# Root's alone (issue 11): no access for the group or anyone else.
modes=$(cd "$DB" && stat -c '%n=%a:%U:%G' . key mfa.key data.mdb lock.mdb usage usage/data.mdb usage/lock.mdb | tr '\n' ' ')
check "store files have the documented modes ($modes)" \
    test "$modes" = ".=700:root:root key=600:root:root mfa.key=600:root:root data.mdb=600:root:root lock.mdb=600:root:root usage=700:root:root usage/data.mdb=600:root:root usage/lock.mdb=600:root:root "
cp -p "$DB/key" "$TMP/key.before"
cp -p "$DB/mfa.key" "$TMP/mfa.key.before"
expect_ok "init on an existing store exits 0" "${db[@]}" init
check "second init says the store is already initialized" grep -qi "already initialized" "$TMP/out"
check "second init leaves key byte for byte" cmp -s "$DB/key" "$TMP/key.before"
check "second init leaves mfa.key byte for byte" cmp -s "$DB/mfa.key" "$TMP/mfa.key.before"
mkdir -m 0700 "$TMP/empty-dir"
expect_ok "init in an existing empty directory" --db "$TMP/empty-dir" init
# --group: accepted for old scripts, ignored with a warning (the store is root-only).
expect_ok "init --group (old scripts) still exits 0" --db "$TMP/grouped" init --group daemon
check "init --group warns on stderr that it is ignored" \
    grep -q "^apppass: warning: --group daemon is ignored: the store is root-only" "$TMP/err"
check "init --group: the store is still root:root 0700" test "$(stat -c '%a %U:%G' "$TMP/grouped")" = "700 root:root"
ALLOW_STDERR=0
expect_fail 5 "" "init where the parent directory is missing fails with exit 5" \
    --db "$TMP/no/such/dir" init

# ---------------------------------------------------------------------------------------
note "mfa status / enroll / confirm"
expect_ok "mfa status of an unknown user" "${db[@]}" mfa status alice --json
jcheck "mfa status --json: state none, nothing enrolled" '
keys(j, "user", "state", "enrolled", "confirmed", "source", "recovery_codes_left", "replacement_pending")
assert j["user"] == "alice" and j["state"] == "none"
assert j["enrolled"] is None and j["confirmed"] is None and j["source"] is None
assert j["recovery_codes_left"] is None'
expect_ok "mfa status (text) of an unknown user" "${db[@]}" mfa status alice
check "text status says not enrolled" grep -q "not enrolled" "$TMP/out"

expect_fail 4 "MFA" "create before any enrollment is refused (exit 4)" \
    "${db[@]}" create alice --name early --scope imap --json
no_password_in "refused create printed nothing password-shaped" "$TMP/out" "$TMP/err"
expect_fail 3 "enroll" "mfa confirm without an enrollment: exit 3" "${db[@]}" mfa confirm alice 123456
expect_fail 3 "" "mfa reset of an unknown user: exit 3" "${db[@]}" mfa reset alice

expect_ok "mfa enroll --json" "${db[@]}" mfa enroll alice --json
jcheck "enroll JSON: user, base32 secret, otpauth URI carrying the secret" '
import urllib.parse
keys(j, "user", "secret", "uri")
assert j["user"] == "alice"
assert isinstance(j["secret"], str) and re.fullmatch(r"[A-Z2-7]{26,}", j["secret"]), j["secret"]
u = urllib.parse.urlparse(j["uri"])
assert u.scheme == "otpauth" and u.netloc == "totp", j["uri"]
q = urllib.parse.parse_qs(u.query)
assert q["secret"] == [j["secret"]] and q["digits"] == ["6"] and q["period"] == ["30"], q
assert q["algorithm"] == ["SHA1"] and q["issuer"][0], q
assert urllib.parse.unquote(u.path).endswith(":alice"), u.path'
SECRET1=$(json_get secret)
expect_ok "mfa status of a pending user" "${db[@]}" mfa status alice --json
jcheck "status JSON: pending, enrolled now, not confirmed" '
keys(j, "user", "state", "enrolled", "confirmed", "source", "recovery_codes_left", "replacement_pending")
assert j["state"] == "pending" and j["source"] == "apppass", j
near_now(j["enrolled"])
assert j["confirmed"] is None and j["recovery_codes_left"] is None'
expect_fail 4 "MFA" "create while MFA is pending is refused (exit 4)" "${db[@]}" create alice --name early --scope imap
no_password_in "refused create (pending) printed nothing password-shaped" "$TMP/out" "$TMP/err"
check "the TOTP secret is not stored in clear in data.mdb" not grep -aqF -- "$SECRET1" "$DB/data.mdb"
check "nor as raw bytes" "$PY" -c '
import base64, sys
s = sys.argv[1]; raw = base64.b32decode(s + "=" * (-len(s) % 8))
sys.exit(raw in open(sys.argv[2], "rb").read())' "$SECRET1" "$DB/data.mdb"

expect_ok "re-enrolling a pending user starts over" "${db[@]}" mfa enroll alice --json
SECRET=$(json_get secret)
check "re-enrollment makes a new secret" test "$SECRET" != "$SECRET1"
expect_ok "mfa enroll (text, not a terminal) prints the secret and URI" "${db[@]}" mfa enroll carol
check "text enroll output has the secret and an otpauth:// URI" \
    grep -qE "^Secret.*[A-Z2-7]{26}" "$TMP/out"
check "text enroll output has the URI" grep -q "otpauth://totp/" "$TMP/out"

expect_fail 4 "code" "a wrong code is refused (exit 4)" "${db[@]}" mfa confirm alice "$(wrong_code "$SECRET")"
expect_fail 4 "code" "a current code of the replaced secret is refused" "${db[@]}" mfa confirm alice "$(totp "$SECRET1")"
expect_fail 4 "digits" "a code that is not 6 digits is refused" "${db[@]}" mfa confirm alice 12ab56
expect_fail 4 "digits" "a 7-digit code is refused" "${db[@]}" mfa confirm alice 1234567
"$APPPASS" "${db[@]}" mfa status alice --json >"$TMP/out"
jcheck "wrong codes leave the enrollment pending" 'assert j["state"] == "pending"'

expect_fail 4 "no confirmed MFA" "mfa recovery-codes of a pending user: exit 4" \
    "${db[@]}" mfa recovery-codes alice
CODE=$(totp "$SECRET")
expect_ok "mfa confirm with the code as argument" "${db[@]}" mfa confirm alice "$CODE"
check "confirm says confirmed" grep -q "confirmed" "$TMP/out"
grep -E '^  [a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$' "$TMP/out" | tr -d ' ' >"$TMP/codes.confirm" || true
check "confirm prints 10 recovery codes (xxxx-xxxx-xxxx), each once" \
    test "$(sort -u "$TMP/codes.confirm" | grep -cvE '[01ilo]')" = 10
check "and tells the user to store them safely" grep -q "Store them safely" "$TMP/out"
check "no recovery code is stored in clear" "$PY" -c '
import sys
data = open(sys.argv[2], "rb").read()
for c in open(sys.argv[1]).read().split():
    for form in (c, c.replace("-", "")):
        if form.encode() in data: sys.exit("found " + form)' "$TMP/codes.confirm" "$DB/data.mdb"
expect_fail 4 "already used" "the same code a second time is refused (exit 4)" \
    "${db[@]}" mfa confirm alice "$CODE"
expect_ok "mfa status of a confirmed user" "${db[@]}" mfa status alice --json
jcheck "status JSON: confirmed, with both times" '
keys(j, "user", "state", "enrolled", "confirmed", "source", "recovery_codes_left", "replacement_pending")
assert j["state"] == "confirmed", j
assert near_now(j["enrolled"]) <= near_now(j["confirmed"])
assert j["recovery_codes_left"] == 10, j'
expect_ok "mfa status (text) of a confirmed user" "${db[@]}" mfa status alice
check "text status says confirmed" grep -q "confirmed" "$TMP/out"
check "text status counts the recovery codes" grep -q "^alice: 10 recovery codes left$" "$TMP/out"

note "mfa recovery-codes"
expect_ok "mfa recovery-codes --json" "${db[@]}" mfa recovery-codes alice --json
jcheck "recovery-codes JSON: user and 10 distinct codes of the alphabet" '
keys(j, "user", "recovery_codes")
assert j["user"] == "alice", j
c = strs(j["recovery_codes"])
assert len(c) == 10 and len(set(c)) == 10, c
assert all(re.fullmatch(r"[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}", x) for x in c), c
assert not set(c) & set(open(ARGS[0]).read().split()), "the new codes repeat old ones"' "$TMP/codes.confirm"
expect_ok "mfa recovery-codes (text)" "${db[@]}" mfa recovery-codes alice
check "text: 10 codes and the line telling the user to store them" \
    test "$(grep -cE '^  [a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$' "$TMP/out")" = 10
check "text: store them safely" grep -q "Store them safely" "$TMP/out"
expect_fail 4 "no confirmed MFA" "mfa recovery-codes of an unknown user: exit 4" \
    "${db[@]}" mfa recovery-codes nobody-here
expect_fail 2 "USER" "mfa recovery-codes without USER: exit 2" "${db[@]}" mfa recovery-codes
"$APPPASS" "${db[@]}" mfa status alice --json >"$TMP/out"
jcheck "still 10 left" 'assert j["recovery_codes_left"] == 10, j'
expect_fail 4 "reset" "enrolling an already-confirmed user is refused (exit 4)" \
    "${db[@]}" mfa enroll alice --json
"$APPPASS" "${db[@]}" mfa status alice --json >"$TMP/out"
jcheck "the refused enrollment left alice confirmed" 'assert j["state"] == "confirmed"'

"$APPPASS" "${db[@]}" mfa enroll bob --json >"$TMP/out"
BOB_SECRET=$(json_get secret)
printf '%s\n' "$(totp "$BOB_SECRET")" >"$TMP/code"
RUN_STDIN=$TMP/code
expect_ok "mfa confirm --json with the code on stdin" "${db[@]}" mfa confirm bob --json
RUN_STDIN=/dev/null
jcheck "confirm JSON: user, state and the 10 recovery codes" '
keys(j, "user", "state", "recovery_codes")
assert j["user"] == "bob" and j["state"] == "confirmed", j
assert len(set(strs(j["recovery_codes"]))) == 10, j'
# A re-check of a confirmed enrollment (the next step's code: one step of drift) makes no
# new codes and keeps the old.
expect_ok "mfa confirm --json of a confirmed user (a re-check)" \
    "${db[@]}" mfa confirm bob "$(oathtool --totp -b "$BOB_SECRET" -N "$(date -u -d @$(($(date +%s) + 30)) '+%Y-%m-%d %H:%M:%S UTC')")" --json
jcheck "a re-check makes no recovery codes" 'assert j["recovery_codes"] == [], j'
"$APPPASS" "${db[@]}" mfa status bob --json >"$TMP/out"
jcheck "bob keeps his 10" 'assert j["recovery_codes_left"] == 10, j'
"$APPPASS" "${db[@]}" mfa status bob --json >"$TMP/out"
jcheck "bob is confirmed" 'assert j["state"] == "confirmed"'
expect_fail 2 "code" "mfa confirm with nothing on stdin: exit 2" "${db[@]}" mfa confirm carol

# ---------------------------------------------------------------------------------------
note "create"
# No password is valid everywhere by accident: a scope or --all-services is required.
expect_fail 2 "^apppass: choose the services this password is for with --scope \(e\.g\. --scope imap --scope smtp\), or --all-services$" \
    "create without --scope or --all-services is refused (exit 2), saying what to choose" \
    "${db[@]}" create alice --name laptop --json
no_password_in "refused create (no scope) printed nothing password-shaped" "$TMP/out" "$TMP/err"
expect_fail 2 "all-services|scope" "--all-services with --scope is refused (exit 2)" \
    "${db[@]}" create alice --name laptop --all-services --scope imap --json
"$APPPASS" "${db[@]}" list alice --json >"$TMP/out"
jcheck "the refused creates stored nothing" 'assert j == [], j'
expect_ok "create --json --all-services without expiry" "${db[@]}" create alice --name laptop --all-services --json
jcheck "create JSON shape" '
keys(j, "id", "user", "name", "password", "scopes", "all_services", "created", "expires")
assert re.fullmatch(r"[0-9a-f]{8}", j["id"]), j["id"]
assert j["user"] == "alice" and j["name"] == "laptop"
assert re.fullmatch(ARGS[0], j["password"]), j["password"]
assert strs(j["scopes"]) == [] and j["all_services"] is True, j
near_now(j["created"])
assert j["expires"] is None' "$PW_RE"
LAPTOP_ID=$(json_get id)
json_get password >>"$PASSWORDS"

expect_ok "create with scopes" "${db[@]}" create alice --name phone --scope smtp --scope imap --scope imap --json
jcheck "scopes are kept, once each" '
keys(j, "id", "user", "name", "password", "scopes", "all_services", "created", "expires")
assert sorted(strs(j["scopes"])) == ["imap", "smtp"], j["scopes"]
assert j["all_services"] is False
assert j["expires"] is None'
PHONE_ID=$(json_get id)
json_get password >>"$PASSWORDS"

expect_ok "create --expires 90d" "${db[@]}" create alice --name tablet --scope imap --expires 90d --json
jcheck "expires is created + 90 days" '
c = near_now(j["created"])
assert iso(j["expires"]) - c == 90 * 86400, (j["created"], j["expires"])
assert abs(iso(j["expires"]) - (NOW + 90 * 86400)) < 300'
json_get password >>"$PASSWORDS"
for spec in 12h:43200 2w:1209600 30m:1800 45s:45 3600:3600; do
    expect_ok "create --expires ${spec%%:*}" "${db[@]}" create alice --name "exp-${spec%%:*}" --scope imap --expires "${spec%%:*}" --json
    jcheck "expires is created + ${spec#*:} seconds" \
        'assert iso(j["expires"]) - iso(j["created"]) == int(ARGS[0])' "${spec#*:}"
    json_get password >>"$PASSWORDS"
done
expect_ok "create --expires never" "${db[@]}" create alice --name desktop --scope imap --expires never --json
jcheck "--expires never gives null" 'assert j["expires"] is None'
json_get password >>"$PASSWORDS"

expect_ok "create (text output)" "${db[@]}" create alice --name "Outlook 2016" --scope imap
check "text output shows the password once, in its format" \
    test "$(grep -cE "^ *$PW_ANY *\$" "$TMP/out")" -eq 1
check "text output says it is shown once" grep -q "only this once" "$TMP/out"
grep -oE -- "$PW_ANY" "$TMP/out" >>"$PASSWORDS"

check "every password printed has the documented format" not grep -vqE -- "$PW_RE" "$PASSWORDS"
check "all passwords are different" test "$(sort -u "$PASSWORDS" | wc -l)" -eq "$(wc -l <"$PASSWORDS")"
check "passwords are not in data.mdb (display or normalized form)" \
    no_listed_password "$PASSWORDS" "$DB/data.mdb" "$DB/usage/data.mdb"

expect_fail 6 "laptop" "a duplicate active name is refused (exit 6)" "${db[@]}" create alice --name laptop --all-services --json
no_password_in "refused duplicate printed nothing password-shaped" "$TMP/out" "$TMP/err"
expect_ok "the same name for another user is fine" "${db[@]}" create bob --name laptop --scope imap --json
BOB_LAPTOP_ID=$(json_get id)
json_get password >>"$PASSWORDS"

expect_ok "create --expires 1s (to expire)" "${db[@]}" create alice --name shortlived --scope imap --expires 1 --json
json_get password >>"$PASSWORDS"
sleep 2
expect_ok "an expired password's name can be used again" "${db[@]}" create alice --name shortlived --scope imap --json
json_get password >>"$PASSWORDS"

note "limits"
enroll_confirm dave >/dev/null
limit_ok=1
for i in $(seq 1 25); do
    if ! "$APPPASS" "${db[@]}" create dave --name "d$i" --scope imap >/dev/null 2>"$TMP/err"; then
        limit_ok=0
        not_ok "creating dave's password $i of 25" "$(cat "$TMP/err")"
        break
    fi
done
[[ $limit_ok -eq 1 ]] && ok "25 active passwords for one user"
expect_fail 4 "limit|active" "the 26th is refused (exit 4)" "${db[@]}" create dave --name d26 --scope imap --json
no_password_in "refused 26th printed nothing password-shaped" "$TMP/out" "$TMP/err"
# The cap is the stored policy's max_active: no single command can raise it.
expect_fail 2 "max-active" "create has no --max-active" "${db[@]}" create dave --name d26 --scope imap --max-active 26
expect_ok "policy set max_active 26" "${db[@]}" policy set max_active 26
expect_ok "max_active 26 allows the 26th" "${db[@]}" create dave --name d26 --scope imap
expect_fail 4 "limit|active" "max_active 26 refuses the 27th" "${db[@]}" create dave --name d27 --scope imap
expect_ok "policy set max_active 2" "${db[@]}" policy set max_active 2
expect_ok "max_active 2 allows bob's second" "${db[@]}" create bob --name second --scope imap
expect_fail 4 "limit|active" "max_active 2 refuses bob's third" "${db[@]}" create bob --name third --scope imap
expect_ok "policy set max_active 26 again" "${db[@]}" policy set max_active 26
expect_ok "bob's third within the limit" "${db[@]}" create bob --name third --scope imap

# ---------------------------------------------------------------------------------------
note "list"
expect_ok "list --json (everyone)" "${db[@]}" list --json
jcheck "list JSON: exact keys and types for every entry" '
assert isinstance(j, list) and j
for e in j:
    keys(e, "id", "user", "name", "scopes", "all_services", "created", "expires", "last_used", "last_service", "last_rhost")
    assert re.fullmatch(r"[0-9a-f]{8}", e["id"]) and isinstance(e["user"], str) and isinstance(e["name"], str)
    strs(e["scopes"])
    near_now(e["created"])
    iso_or_null(e["expires"])
    assert e["last_used"] is None and e["last_service"] is None and e["last_rhost"] is None, e
assert len({e["id"] for e in j}) == len(j)
users = {e["user"] for e in j}
assert users == {"alice", "bob", "dave"}, users
assert sum(e["user"] == "dave" for e in j) == 26'
cp "$TMP/out" "$TMP/list-all.json"
expect_ok "list alice --json" "${db[@]}" list alice --json
jcheck "list USER shows only that user, with the right entries" '
assert j and all(e["user"] == "alice" for e in j)
by = {e["id"]: e for e in j}
assert ARGS[0] in by and by[ARGS[0]]["name"] == "laptop" and by[ARGS[0]]["expires"] is None
assert by[ARGS[0]]["scopes"] == [] and by[ARGS[0]]["all_services"] is True
assert sorted(by[ARGS[1]]["scopes"]) == ["imap", "smtp"] and by[ARGS[1]]["all_services"] is False
t = [e for e in j if e["name"] == "tablet"][0]
assert iso(t["expires"]) - iso(t["created"]) == 90 * 86400' "$LAPTOP_ID" "$PHONE_ID"
expect_ok "list (table, everyone)" "${db[@]}" list
check "table has a header line" grep -qE "^ID +USER +NAME +SCOPES +CREATED +EXPIRES" "$TMP/out"
check "table has one line per password plus the header" \
    test "$(wc -l <"$TMP/out")" -eq "$(( $("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/list-all.json") + 1 ))"
check "table lists alice's laptop, for all services" grep -qE "^$LAPTOP_ID +alice +laptop +all services " "$TMP/out"
check "table lists alice's phone with its scopes" grep -qE "^$PHONE_ID +alice +phone +imap,smtp " "$TMP/out"
cp "$TMP/out" "$TMP/list-all.txt"
expect_ok "list alice (table)" "${db[@]}" list alice
tail -n +2 "$TMP/out" >"$TMP/rows"
check "table of alice has no other user" not grep -vqE "^[0-9a-f]{8} +alice " "$TMP/rows"
cp "$TMP/out" "$TMP/list-alice.txt"
expect_ok "list of a user without passwords (table)" "${db[@]}" list carol
check "says there are none" grep -qi "no app passwords" "$TMP/out"
expect_ok "list of a user without passwords (JSON)" "${db[@]}" list nobody-here --json
jcheck "an empty JSON array" 'assert j == []'
check "list never prints a password (table or JSON)" no_listed_password "$PASSWORDS" \
    "$TMP/list-all.json" "$TMP/list-all.txt" "$TMP/list-alice.txt" "$TMP/out"
no_password_in "list output has nothing password-shaped" "$TMP/list-all.json" "$TMP/list-all.txt"

# ---------------------------------------------------------------------------------------
note "revoke"
expect_ok "revoke by id" "${db[@]}" revoke alice "$LAPTOP_ID"
check "revoke names the id" grep -q "$LAPTOP_ID" "$TMP/out"
"$APPPASS" "${db[@]}" list alice --json >"$TMP/out"
jcheck "a revoked password is gone from list" 'assert ARGS[0] not in [e["id"] for e in j]' "$LAPTOP_ID"
expect_ok "list --revoked --json" "${db[@]}" list alice --revoked --json
jcheck "list --revoked shows it with its revocation time" '
by = {e["id"]: e for e in j}
for e in j:
    keys(e, "id", "user", "name", "scopes", "all_services", "created", "expires", "last_used", "last_service", "last_rhost", "revoked")
near_now(by[ARGS[0]]["revoked"])
assert by[ARGS[1]]["revoked"] is None' "$LAPTOP_ID" "$PHONE_ID"
no_password_in "list --revoked has nothing password-shaped" "$TMP/out"
expect_fail 3 "" "revoking it again: exit 3" "${db[@]}" revoke alice "$LAPTOP_ID"
expect_fail 3 "" "revoking an unknown id: exit 3" "${db[@]}" revoke alice deadbeef
expect_fail 3 "" "revoking another user's id: exit 3" "${db[@]}" revoke alice "$BOB_LAPTOP_ID"
"$APPPASS" "${db[@]}" list bob --json >"$TMP/out"
jcheck "bob's password survived" 'assert ARGS[0] in [e["id"] for e in j]' "$BOB_LAPTOP_ID"
expect_ok "a revoked name can be used again" "${db[@]}" create alice --name laptop --all-services --json
json_get password >>"$PASSWORDS"
expect_ok "revoke --name" "${db[@]}" revoke alice --name phone
check "revoke --name names the id" grep -q "$PHONE_ID" "$TMP/out"
expect_fail 3 "" "revoke --name of an unknown label: exit 3" "${db[@]}" revoke alice --name "no such label"
expect_fail 2 "ID|--name|--all" "revoke without a selector: exit 2" "${db[@]}" revoke alice
expect_fail 2 "ID|--name|--all" "revoke with an id and --all: exit 2" "${db[@]}" revoke alice "$PHONE_ID" --all
expect_fail 2 "ID|--name|--all" "revoke with --name and --all: exit 2" "${db[@]}" revoke alice --name laptop --all
expect_ok "revoke --all" "${db[@]}" revoke dave --all
check "revoke --all counts them" grep -q "Revoked 26 app passwords" "$TMP/out"
"$APPPASS" "${db[@]}" list dave --json >"$TMP/out"
jcheck "dave has none left" 'assert j == []'
expect_fail 3 "" "revoke --all with nothing left: exit 3" "${db[@]}" revoke dave --all
expect_fail 3 "" "revoke --all of an unknown user: exit 3" "${db[@]}" revoke nobody-here --all

# ---------------------------------------------------------------------------------------
note "mfa reset"
"$APPPASS" "${db[@]}" list alice --json >"$TMP/out"
ALICE_ACTIVE=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/out")
expect_ok "mfa reset" "${db[@]}" mfa reset alice
check "reset says how many were revoked ($ALICE_ACTIVE)" grep -q "$ALICE_ACTIVE app passwords revoked" "$TMP/out"
"$APPPASS" "${db[@]}" list alice --json >"$TMP/out"
jcheck "reset revoked all of alice's passwords" 'assert j == []'
"$APPPASS" "${db[@]}" list alice --revoked --json >"$TMP/out"
jcheck "they are kept as revoked" 'assert j and all(e["revoked"] is not None for e in j)'
"$APPPASS" "${db[@]}" mfa status alice --json >"$TMP/out"
jcheck "state is none after reset" '
keys(j, "user", "state", "enrolled", "confirmed", "source", "recovery_codes_left", "replacement_pending")
assert j["state"] == "none" and j["enrolled"] is None and j["confirmed"] is None
assert j["recovery_codes_left"] is None'
expect_fail 4 "MFA" "create after reset is refused (exit 4)" "${db[@]}" create alice --name again --scope imap
no_password_in "refused create (after reset) printed nothing password-shaped" "$TMP/out" "$TMP/err"
expect_fail 3 "" "a second reset: exit 3" "${db[@]}" mfa reset alice
"$APPPASS" "${db[@]}" list bob --json >"$TMP/out"
jcheck "bob is untouched by alice's reset" 'assert len(j) == 3'
expect_ok "alice can enroll again after reset" "${db[@]}" mfa enroll alice --json
expect_ok "mfa reset of a pending enrollment" "${db[@]}" mfa reset alice
check "it revoked nothing" grep -q "0 app passwords revoked" "$TMP/out"

# ---------------------------------------------------------------------------------------
note "UTF-8 user names"
USER_U='jürgen.müller@exämple.org'
enroll_confirm "$USER_U" >/dev/null
expect_ok "create for a UTF-8 user name" "${db[@]}" create "$USER_U" --name 'Télé 📱' --scope imap --json
jcheck "the name round-trips exactly" 'assert j["user"] == ARGS[0] and j["name"] == ARGS[1]' "$USER_U" 'Télé 📱'
json_get password >>"$PASSWORDS"
expect_ok "list the UTF-8 user" "${db[@]}" list "$USER_U" --json
jcheck "list shows it exactly" 'assert [e["user"] for e in j] == [ARGS[0]] and j[0]["name"] == ARGS[1]' "$USER_U" 'Télé 📱'

# ---------------------------------------------------------------------------------------
note "--help and usage errors"
for cmd in "" init mfa "mfa enroll" "mfa confirm" "mfa status" "mfa recovery-codes" "mfa reset" create list revoke; do
    # shellcheck disable=SC2086  # $cmd is one or two words on purpose
    expect_ok "apppass ${cmd:+$cmd }--help" --db "$TMP/no-store" $cmd --help
    check "help of '${cmd:-apppass}' names it and has a usage line" \
        grep -q "Usage: apppass${cmd:+ $cmd}" "$TMP/out"
done
# shellcheck disable=SC2086
expect_ok "-h works too" mfa enroll -h
expect_ok "--version" --version
check "--version prints the version" grep -qE "^apppass [0-9]+\.[0-9]+" "$TMP/out"
"$APPPASS" --help >"$TMP/out"
check "top-level help documents the exit codes" grep -q "5 store unavailable" "$TMP/out"

expect_fail 2 "command|subcommand" "no command: exit 2" "${db[@]}"
expect_fail 2 "frobnicate" "unknown command: exit 2 naming it" "${db[@]}" frobnicate
expect_fail 2 "frobnicate" "unknown mfa subcommand: exit 2 naming it" "${db[@]}" mfa frobnicate
expect_fail 2 "subcommand" "mfa without a subcommand: exit 2" "${db[@]}" mfa
expect_fail 2 "--frob" "unknown option to list: exit 2" "${db[@]}" list --frob
expect_fail 2 "--frob" "unknown option to create: exit 2" "${db[@]}" create bob --name x --frob
expect_fail 2 "--frob" "unknown global option: exit 2" --frob "${db[@]}" list
expect_fail 2 "--name" "create without --name: exit 2" "${db[@]}" create bob
expect_fail 2 "USER" "create without USER: exit 2" "${db[@]}" create --name x
expect_fail 2 "USER" "mfa enroll without USER: exit 2" "${db[@]}" mfa enroll
expect_fail 2 "USER" "revoke without USER: exit 2" "${db[@]}" revoke
expect_fail 2 "--db" "--db without a value: exit 2" --db
expect_fail 2 "" "an extra argument: exit 2" "${db[@]}" list bob extra
expect_fail 2 "" "--json where it does not exist: exit 2" "${db[@]}" revoke bob --all --json

finish
