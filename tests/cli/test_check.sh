#!/bin/bash
# cli_check: `apppass check` on real stores made with the real tool, then broken one
# invariant at a time with store_tamper (LMDB written directly, or pages overwritten).
#
# Usage: test_check.sh APPPASS STORE_TAMPER
#
# A clean store (confirmed, pending and reset users; active, revoked and expired app
# passwords) exits 0 with the right counts, as text and --json. Each break is made on a
# fresh copy of the clean store: check must exit 8, name the table and key (user, id) in
# a "problem:" line with a "fix:", and never crash itself (garbage pages crash only its
# forked reader, which becomes a finding). Warnings alone exit 0; a store that cannot be
# opened exits 5 with one line on stderr. Last, 10,000 credentials are checked and the
# time is printed (not asserted).
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 APPPASS STORE_TAMPER" >&2
    exit 2
fi
APPPASS=$(realpath -e "$1")
TAMPER=$(realpath -e "$2")
TMP=$(mktemp -d)
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v oathtool >/dev/null || { echo "not ok - oathtool is not installed"; exit 1; }

CLEAN=$TMP/clean
totp() { oathtool --totp -b "$1"; }
# enroll_confirm DB USER
enroll_confirm() { enroll_user "$1" "$2"; }
# create DB USER NAME [ARGS...]: prints the new id.
create() {
    local db=$1 user=$2 name=$3
    shift 3
    "$APPPASS" --db "$db" create "$user" --name "$name" --json "$@" >"$TMP/create.json"
    "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMP/create.json"
}

"$APPPASS" --db "$CLEAN" init >/dev/null 2>&1
enroll_confirm "$CLEAN" alice
enroll_confirm "$CLEAN" bob
enroll_confirm "$CLEAN" dave
"$APPPASS" --db "$CLEAN" mfa enroll carol >/dev/null   # pending
A1=$(create "$CLEAN" alice "iPhone mail" --scope imap --scope smtp)
A2=$(create "$CLEAN" alice laptop --all-services)
A3=$(create "$CLEAN" alice old --scope imap)
"$APPPASS" --db "$CLEAN" revoke alice "$A3" >/dev/null
B1=$(create "$CLEAN" bob phone --scope imap)
B2=$(create "$CLEAN" bob short --scope imap --expires 1)
D1=$(create "$CLEAN" dave tablet --scope smtp)
"$APPPASS" --db "$CLEAN" mfa reset dave >/dev/null      # revokes D1, deletes the enrollment
sleep 2                                                  # B2 expires

# --- The clean store.
expect_ok "a clean store passes" --db "$CLEAN" check
if grep -qE "^store $CLEAN: 3 users, 6 app passwords \(3 active, 2 revoked, 1 expired\), 0 problems, 0 warnings$" "$TMP/out"; then
    ok "the summary counts users and app passwords by state"
else
    not_ok "the summary counts users and app passwords by state" "$(run_details)"
fi
check "a clean store prints only the summary" test "$(wc -l <"$TMP/out")" -eq 1
expect_ok "check --json on a clean store" --db "$CLEAN" check --json
jcheck "the JSON has counts and an empty list of findings" '
assert set(j) == {"store","users","credentials","usage_records","problems","warnings","findings"}, j
assert j["users"] == 3 and j["problems"] == 0 and j["warnings"] == 0 and j["findings"] == []
assert j["credentials"] == {"total": 6, "active": 3, "revoked": 2, "expired": 1}, j["credentials"]
'
expect_ok "check with a trailing slash on --db" --db "$CLEAN/" check

# broken NAME: a fresh copy of the clean store in $DB.
broken() {
    DB=$TMP/$1
    rm -rf "$DB"
    cp -a "$CLEAN" "$DB"
}

# expect_problem REGEX DESC: check on $DB exits 8, does not crash, and prints a problem
# line matching REGEX (extended, anchored after "problem: ") that has a fix.
expect_problem() {
    local regex=$1 desc=$2
    run --db "$DB" check
    local why
    why=$(crash_reason)
    if [[ -z $why && $RC -ne 8 ]]; then why="exit $RC, expected 8"; fi
    if [[ -z $why ]] && ! grep -E "^problem: $regex" "$TMP/out" | grep -qE "; fix: .+"; then
        why="no problem line matching /$regex/ with a fix"
    fi
    if [[ -z $why ]] && ! grep -qE "^store .*, [1-9][0-9]* problems?, " "$TMP/out"; then
        why="the summary does not count the problem"
    fi
    if [[ -z $why ]]; then ok "$desc"; else not_ok "$desc" "$why" "$(cat "$TMP/out")" "$(run_details)"; fi
}

broken no-ids
"$TAMPER" "$DB" del ids "$A1"
expect_problem "creds id $A1 \(user alice\): has no ids entry: the password still verifies" \
    "a credential without its ids entry is named (id, user)"
expect_problem "user_ids alice/$A1: names an id that ids does not have" \
    "... and so is its user_ids entry"

broken no-creds
"$TAMPER" "$DB" drop-cred "$A2"
expect_problem "ids $A2: points to no credential record" "an ids entry without a credential record"

broken orphan
"$TAMPER" "$DB" del ids "$B1"
"$TAMPER" "$DB" del user_ids "bob/$B1"
expect_problem "creds id $B1 \(user bob\): has no ids entry" "an orphaned credential record (no ids entry)"
expect_problem "creds id $B1 \(user bob\): is missing from user_ids" "... and missing from user_ids"

broken wrong-user
"$TAMPER" "$DB" del user_ids "alice/$A2"
"$TAMPER" "$DB" put user_ids "bob/$A2" ""
expect_problem "user_ids bob/$A2: lists the credential of another user \(alice\)" \
    "user_ids listing another user's credential"
expect_problem "creds id $A2 \(user alice\): is missing from user_ids" "... and its own user's list lacks it"

broken cred-user
"$TAMPER" "$DB" cred-field "$A1" user '"bob"'
expect_problem "user_ids alice/$A1: lists the credential of another user \(bob\)" \
    "a credential record naming another user than its user_ids entry"

broken bad-json
"$TAMPER" "$DB" cred-raw "$A1" '{"v":1,"id":'
expect_problem "creds hash [0-9a-f]{16}: a credential record does not decode: corrupt credential record: not a JSON object" \
    "an undecodable credential record"

broken damaged
"$TAMPER" "$DB" cred-damage "$A1"
expect_problem "creds hash [0-9a-f]{16}: a credential record is damaged \(its integrity tag does not match\): verifying its password fails as unavailable; fix: restore data.mdb" \
    "a credential record with one bit flipped (still decodes, as an active password) is damaged"

broken new-version
"$TAMPER" "$DB" cred-field "$B1" v 99
expect_problem "creds hash [0-9a-f]{16}: a credential record does not decode: credential record has format version 99, newer than this apppass understands.*; fix: upgrade apppass" \
    "a credential record of an unknown (newer) version"

broken bad-field
"$TAMPER" "$DB" cred-field "$A1" scopes '["IMAP server"]'
expect_problem "creds id $A1 \(user alice\): the scope \"IMAP server\" is not valid" "a credential with an invalid scope"

broken dup-label
"$TAMPER" "$DB" cred-field "$A2" name '"iPhone mail"'
expect_problem "creds id ($A1|$A2) \(user alice\): has the same label \"iPhone mail\" as active id ($A1|$A2)" \
    "two active credentials of one user with one label"

broken no-enrollment
"$TAMPER" "$DB" del users bob
expect_problem "creds id $B1 \(user bob\): is not revoked, but its user has no MFA enrollment \(create requires a confirmed one, mfa reset revokes first\); fix: apppass revoke bob $B1$" \
    "an active credential whose user has no enrollment"

broken pending
"$TAMPER" "$DB" cred-field "$A1" user '"carol"'
"$TAMPER" "$DB" del user_ids "alice/$A1"
"$TAMPER" "$DB" put user_ids "carol/$A1" ""
expect_problem "creds id $A1 \(user carol\): is not revoked, but its user's MFA enrollment is pending" \
    "an active credential whose user's enrollment is only pending"

broken bad-user
"$TAMPER" "$DB" put users carol 'not json'
expect_problem "users carol: the MFA enrollment does not decode" "an undecodable enrollment record"

broken bad-schema
"$TAMPER" "$DB" put meta schema 7
expect_problem 'meta schema: schema version is "7", this apppass understands 1' "an unknown schema version"

broken no-schema
"$TAMPER" "$DB" del meta schema
expect_problem "meta schema: the store has no schema version" "a missing schema version"

broken bad-map-size
"$TAMPER" "$DB" put meta map_size 12x
expect_problem 'meta map_size: map_size "12x" is not a size' "a malformed map_size setting"

broken short-key
head -c 16 "$CLEAN/key" >"$DB/key"
expect_problem "files key: key file $DB/key has the wrong size" "a key file of the wrong size"

broken other-mfa-key
head -c 32 /dev/urandom >"$DB/mfa.key"
expect_problem "users alice: the TOTP secret does not open with mfa.key" "enrollments sealed with another mfa.key"

broken garbage
"$TAMPER" "$DB" garbage-pages 1
expect_problem "lmdb [^:]+: (table .* is damaged|table .* cannot be|the table .* is missing|store pages are corrupt)" \
    "garbage bytes in every data page"
for seed in 2 3 4 5 6 7 8 9; do
    broken garbage
    "$TAMPER" "$DB" garbage-pages "$seed"
    expect_problem "lmdb " "garbage data pages, seed $seed: a problem, no crash of the tool"
done

broken huge-node
"$TAMPER" "$DB" huge-node "$A1"
expect_problem "lmdb ids: table ids is damaged: entry [0-9]+ claims 2147483647 bytes beyond the end of data.mdb" \
    "a node claiming a 2 GiB value is reported, never copied"

# Garbage that makes LMDB itself read off its map: for a store made by init and one
# enrollment these seeds crash the reader (found by trying 150 seeds; 5 crashed). Only
# the forked reader dies; check reports it and exits 8.
SMALL=$TMP/small
"$APPPASS" --db "$SMALL" init >/dev/null 2>&1
enroll_confirm "$SMALL" alice
crashed=0
for seed in 42 58 60 86 103; do
    DB=$TMP/crash
    rm -rf "$DB"
    cp -a "$SMALL" "$DB"
    "$TAMPER" "$DB" garbage-pages "$seed"
    expect_problem "lmdb " "garbage pages that crash LMDB, seed $seed: a problem, no crash of the tool"
    grep -qE "^problem: lmdb data.mdb: store pages are corrupt \(reading them crashed with SIG(SEGV|BUS)\)" "$TMP/out" &&
        crashed=$((crashed + 1))
done
check "a reader crash is reported as 'store pages are corrupt (reading them crashed with SIGSEGV)' ($crashed of 5 seeds)" \
    test "$crashed" -ge 1

# --- Warnings alone exit 0.
broken usage
"$TAMPER" "$DB/usage" put usage 0badc0de '{"v":1,"time":1700000000,"service":"imap","rhost":""}'
expect_ok "a last-use record of an unknown id is only a warning" --db "$DB" check
check "... printed as a warning" grep -qE '^warning: usage 0badc0de: a last-use record of an id the store does not have' "$TMP/out"
check "... and counted" grep -qE ', 0 problems, 1 warning$' "$TMP/out"

broken invisible
"$TAMPER" "$DB" copy-user alice $'\u202e'ecila
"$TAMPER" "$DB" cred-field "$A2" name '"lap\u200btop"'
expect_ok "names with invisible characters (stored before they were refused) are only warnings" --db "$DB" check
check "... the user name, escaped, with the character and the fix" grep -qE \
    '^warning: users \\xe2\\x80\\xaeecila: the user name contains U\+202E, .*; fix: renaming is not supported: revoke its app passwords and reset its MFA enrollment .*; recreate the account under a visible name$' "$TMP/out"
check "... the label, with the credential's id and user" grep -qE \
    "^warning: creds id $A2 \\(user alice\\): the label \"lap\\\\xe2\\\\x80\\\\x8btop\" contains U\\+200B, .*; fix: revoke it and create a new one with a visible name: apppass revoke alice $A2\$" "$TMP/out"
check "... and counted" grep -qE ', 0 problems, 2 warnings$' "$TMP/out"

# Old app passwords made without a scope (before create required --scope or
# --all-services): they keep working, list shows them as "(unscoped)", check warns about
# each active one with the fix. The revoked one (A3) and the --all-services one (A2) are
# not reported.
broken unscoped
"$TAMPER" "$DB" cred-field "$A1" scopes '[]'
"$TAMPER" "$DB" cred-field "$A3" scopes '[]'
expect_ok "an active app password without scopes is only a warning (exit 0)" --db "$DB" check
check "... naming its id, user and label, with the fix" grep -qE \
    "^warning: creds id $A1 \\(user alice\\): the app password \"iPhone mail\" has no scopes and was not made with --all-services \\(made before create required one\\): it is valid for every service; fix: revoke it and create it again with --scope \\(e\\.g\\. --scope imap --scope smtp\\) or --all-services: apppass revoke alice $A1\$" "$TMP/out"
check "... only that one (not the revoked one, not the --all-services one)" grep -qE ', 0 problems, 1 warning$' "$TMP/out"
expect_ok "list --json of the old unscoped one" --db "$DB" list alice --json
jcheck "... scopes [] and all_services false; the --all-services one says true" '
by = {e["id"]: e for e in j}
assert by[ARGS[0]]["scopes"] == [] and by[ARGS[0]]["all_services"] is False, by[ARGS[0]]
assert by[ARGS[1]]["scopes"] == [] and by[ARGS[1]]["all_services"] is True, by[ARGS[1]]' "$A1" "$A2"
expect_ok "list (table) of the old unscoped one" --db "$DB" list alice
check "... shows it as (unscoped), and the other as all services" bash -c \
    'grep -qE "^$2 +alice +iPhone mail +\(unscoped\) " "$1" && grep -qE "^$3 +alice +laptop +all services " "$1"' \
    _ "$TMP/out" "$A1" "$A2"
run --db "$DB" check --json
check "--json with only a warning exits 0" test "$RC" -eq 0
jcheck "--json lists the warning" "
f = [x for x in j['findings'] if x['table'] == 'creds']
assert len(f) == 1 and f[0]['status'] == 'warning' and f[0]['key'] == 'id $A1 (user alice)', f
assert 'has no scopes' in f[0]['message'] and 'apppass revoke alice $A1' in f[0]['fix'], f
assert j['problems'] == 0 and j['warnings'] == 1
"

broken json
"$TAMPER" "$DB" del ids "$A1"
run --db "$DB" check --json
check "--json exits 8 too" test "$RC" -eq 8
jcheck "--json lists the finding with table, key, message and fix" "
f = [x for x in j['findings'] if x['table'] == 'creds']
assert f and f[0]['status'] == 'problem' and f[0]['key'] == 'id $A1 (user alice)', j['findings']
assert 'no ids entry' in f[0]['message'] and f[0]['fix'], f[0]
assert j['problems'] == len([x for x in j['findings'] if x['status'] == 'problem']) >= 2
"

# --- Stores that cannot be opened: exit 5, one line on stderr.
expect_fail 5 "does not exist" "a missing store exits 5" --db "$TMP/nothing" check
broken not-lmdb
head -c 65536 /dev/urandom >"$DB/data.mdb"
expect_fail 5 "" "a data.mdb that is not an LMDB file exits 5" --db "$DB" check
broken no-lock
rm "$DB/lock.mdb"
expect_fail 5 "lock.mdb .*does not exist" "a missing reader table exits 5 (check never recreates it)" --db "$DB" check
check "... and it is not recreated" test ! -e "$DB/lock.mdb"
broken symlink
mv "$DB/data.mdb" "$DB/real.mdb"
ln -s real.mdb "$DB/data.mdb"
expect_fail 5 "symlink" "a symlinked data.mdb exits 5" --db "$DB" check

# --- 10,000 credentials.
broken big
"$TAMPER" "$DB" bulk alice 10000
start=$(date +%s%N)
expect_ok "a store with 10,000 more credentials is clean" --db "$DB" check
end=$(date +%s%N)
check "... and counted" grep -qE '^store .*: 503 users, 10006 app passwords \(10003 active, 2 revoked, 1 expired\), 0 problems' "$TMP/out"
note "check of 10,006 credentials took $(((end - start) / 1000000)) ms"

finish
