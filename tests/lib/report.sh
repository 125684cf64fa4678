# shellcheck shell=bash
# Reporting for the shell tests. Every check prints "ok - DESC" or "not ok - DESC" (with
# "#   " detail lines); finish prints "N passed, N failed" and returns non-zero when
# anything failed. Sourced; sets an ERR trap that reports a command failing outside a
# check (set -e then ends the script).

PASSED=0
FAILED=0

ok() {
    PASSED=$((PASSED + 1))
    echo "ok - $1"
}

# not_ok DESC [DETAIL...]
not_ok() {
    FAILED=$((FAILED + 1))
    echo "not ok - $1"
    shift
    local arg line
    for arg in "$@"; do
        while IFS= read -r line; do printf '#   %s\n' "$line"; done <<<"$arg"
    done
}

# check DESC COMMAND...: ok when COMMAND succeeds.
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

note() { echo "# $*"; }

# not COMMAND...: succeeds when COMMAND fails (for check).
not() { ! "$@"; }

# require_tools TOOL...: a missing one is a failure ("not ok", exit 1), not a skip.
require_tools() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || { echo "not ok - $t is not installed"; exit 1; }
    done
}

# A command outside a check failed (set -e is about to end the script): say where, and
# still print the summary.
on_error() {
    FAILED=$((FAILED + 1))
    echo "not ok - unexpected failure (status $1) at line $2: $3"
    echo "$PASSED passed, $FAILED failed"
}
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR

finish() {
    echo "$PASSED passed, $FAILED failed"
    [[ $FAILED -eq 0 ]]
}
