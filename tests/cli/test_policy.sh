#!/bin/bash
# cli_policy: `apppass policy show [--json]`, `policy set KEY VALUE` and `policy reset` on a
# throwaway store (common/policy.h).
#
# Usage: test_policy.sh APPPASS STORE_TAMPER
#
# The defaults (text and JSON with native types), every key set and shown back in its
# normal form, bad keys and values refused (exit 2, one line, the store unchanged), usage
# errors, create bound by the stored max_active (no per-command override), and a corrupt
# policy record: show, set and create refuse it (exit 5), check names it, reset clears it.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 APPPASS STORE_TAMPER" >&2
    exit 2
fi
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_setup "$1"
TAMPER=$(realpath -e "$2")
require_tools oathtool cmp

DB=$TMP/store
db=(--db "$DB")
new_store_with_user "$DB" alice

# shows DESC EXPECTED: `policy show` prints exactly EXPECTED.
shows() {
    run "${db[@]}" policy show
    if [[ $RC -eq 0 && ! -s $TMP/err ]] && [[ $(cat "$TMP/out") == "$1" ]]; then
        ok "$2"
    else
        not_ok "$2" "$(run_details)" "want: $(tr '\n' '|' <<<"$1")"
    fi
}

# -----------------------------------------------------------------------------------------
note "defaults"
DEFAULTS='self_enroll no
self_service_scopes imap pop3 smtp sieve
max_active 25
default_expiry never
max_expiry never'
shows "$DEFAULTS" "policy show prints the defaults, one 'key value' line each, in order"
expect_ok "policy show --json" "${db[@]}" policy show --json
jcheck "JSON: the keys in order, native types, null for never" '
assert list(j) == ["self_enroll", "self_service_scopes", "max_active", "default_expiry", "max_expiry"], list(j)
assert j["self_enroll"] is False
assert j["self_service_scopes"] == ["imap", "pop3", "smtp", "sieve"]
assert j["max_active"] == 25 and type(j["max_active"]) is int
assert j["default_expiry"] is None and j["max_expiry"] is None'
check "JSON is one line" test "$(wc -l <"$TMP/out")" -eq 1

# -----------------------------------------------------------------------------------------
note "set and show"
# sets KEY VALUE SHOWN: set prints one confirmation line with the stored form.
sets() {
    run "${db[@]}" policy set "$1" "$2"
    if [[ $RC -eq 0 && ! -s $TMP/err ]] && [[ $(cat "$TMP/out") == "Policy $1 is now $3." ]]; then
        ok "policy set $1 '$2' (now $3)"
    else
        not_ok "policy set $1 '$2'" "$(run_details)" "want: Policy $1 is now $3."
    fi
}
sets self_enroll yes yes
sets self_enroll off no
sets self_enroll true yes
sets self_service_scopes "imap  submission" "imap submission"
sets max_active 3 3
sets max_expiry 2w 14d
sets default_expiry 36h 36h
sets default_expiry 86400 1d
shows 'self_enroll yes
self_service_scopes imap submission
max_active 3
default_expiry 1d
max_expiry 14d' "policy show after set"
expect_ok "policy show --json after set" "${db[@]}" policy show --json
jcheck "JSON after set" '
assert j == {"self_enroll": True, "self_service_scopes": ["imap", "submission"], "max_active": 3,
             "default_expiry": "1d", "max_expiry": "14d"}, j'

# -----------------------------------------------------------------------------------------
note "bad keys and values (exit 2, one line, nothing changed)"
cp "$DB/data.mdb" "$TMP/data.before"
bad() {  # REGEX DESC ARGS...
    local regex=$1 desc=$2
    shift 2
    expect_fail 2 "$regex" "$desc" "${db[@]}" policy "$@"
    check "$desc: the store is unchanged" cmp -s "$DB/data.mdb" "$TMP/data.before"
}
for k in max-active MAX_ACTIVE bogus "" "max_active " policy; do
    bad "unknown policy key.*self_enroll self_service_scopes max_active default_expiry max_expiry" \
        "set unknown key '$k'" set "$k" 1
done
for v in maybe YES "" 2 " yes"; do bad "self_enroll must be yes or no" "self_enroll '$v'" set self_enroll "$v"; done
for v in "" "   " "imap imap" IMAP "imap sm/tp" "$(printf 'imap\tsmtp')" "$(printf '%0.sa' {1..33})"; do
    bad "self_service_scopes" "self_service_scopes '$v'" set self_service_scopes "$v"
done
for v in 0 1001 -1 +5 abc "" "25 " 1.5 1e3 99999999999999999999; do
    bad "max_active must be a number from 1 to 1000" "max_active '$v'" set max_active "$v"
done
for k in default_expiry max_expiry; do
    for v in "" 0 -5d 90x Never NEVER 40000d " 90d"; do
        bad "$k must be a duration" "$k '$v'" set "$k" "$v"
    done
done
bad "default_expiry \(1d\) is longer than max_expiry \(12h\)" "max_expiry shorter than default_expiry" \
    set max_expiry 12h
bad "longer than max_expiry" "default_expiry longer than max_expiry" set default_expiry 15d
bad "" "a value with an escape byte" set max_active "$(printf '\033[31m')"
check "the escape byte is not echoed" not grep -q "$(printf '\033')" "$TMP/err"
bad "required|VALUE" "set without a value" set max_active
bad "required|KEY" "set without a key" set
bad "" "set with an extra argument" set max_active 3 4
bad "subcommand" "policy alone" 
bad "unknown command 'policy frob'" "an unknown policy subcommand" frob
bad "" "show with an argument" show extra

# -----------------------------------------------------------------------------------------
note "create is bound by the stored max_active (admin commands included)"
sets max_active 2 2
expect_ok "1st of 2" "${db[@]}" create alice --name a --scope imap
expect_ok "2nd of 2" "${db[@]}" create alice --name b --scope imap
expect_fail 4 "2 active app passwords \(the limit\)" "the 3rd is refused (exit 4)" \
    "${db[@]}" create alice --name c --scope imap --json
expect_fail 2 "max-active" "create has no --max-active to raise it" \
    "${db[@]}" create alice --name c --scope imap --max-active 1000
sets max_active 3 3
expect_ok "raised to 3: the 3rd is created" "${db[@]}" create alice --name c --scope imap
expect_ok "lowered to 1 with 3 active" "${db[@]}" policy set max_active 1
expect_ok "check: over the limit is a warning, not a problem" "${db[@]}" check
check "check names the limit and the fix" grep -q "more than the limit of 1 (policy max_active).*policy set max_active" "$TMP/out"
expect_ok "policy reset" "${db[@]}" policy reset
check "reset says so" grep -qx "Policy reset to the defaults." "$TMP/out"
shows "$DEFAULTS" "after reset: the defaults"
expect_ok "reset when there is nothing to reset" "${db[@]}" policy reset

# -----------------------------------------------------------------------------------------
note "a corrupt policy record is refused, never read as a looser rule"
for rec in 'garbage' '{"version":2}' \
    '{"version":1,"self_enroll":false,"self_service_scopes":["imap"],"max_active":0,"default_expiry":null,"max_expiry":null}'; do
    "$TAMPER" "$DB" put meta policy "$rec"
    expect_fail 5 "corrupt policy record.*policy reset" "show refuses '${rec:0:20}...' (exit 5)" "${db[@]}" policy show
    expect_fail 5 "corrupt policy record" "set refuses it" "${db[@]}" policy set max_active 1000
    expect_fail 5 "corrupt policy record" "create refuses it" "${db[@]}" create alice --name d --scope imap --json
    run "${db[@]}" check
    if [[ $RC -eq 8 ]] && grep -q "^problem: meta policy: corrupt policy record" "$TMP/out"; then
        ok "check reports it as a problem (exit 8)"
    else
        not_ok "check reports it as a problem (exit 8)" "$(run_details)"
    fi
done
expect_ok "policy reset clears it" "${db[@]}" policy reset
shows "$DEFAULTS" "the defaults again"
expect_ok "create works again" "${db[@]}" create alice --name d --scope imap

finish
