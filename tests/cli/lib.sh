# shellcheck shell=bash
# Helpers shared by the cli_* tests. Sourced (not run) after the script has set:
#   APPPASS  absolute path of the tool under test
#   TMP      a private temporary directory (removed by the script's trap)
# Every check prints "ok - DESC" or "not ok - DESC" (with "#   " detail lines);
# finish prints "N passed, N failed" and returns non-zero when anything failed.

PASSED=0
FAILED=0
# Prefer the system interpreter: a pyenv shim on PATH may not work under CTest.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The app password format (display form) and a pattern that finds one anywhere.
# shellcheck disable=SC2034  # used by the scripts
PW_RE='^[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){4}$'
PW_ANY='[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){4}'

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

# tool ARGS...: the admin tool, without whatever LD_PRELOAD the test runs its PAM and SASL
# programs with (pam_wrapper, a sanitizer runtime).
tool() { env -u LD_PRELOAD "$APPPASS" "$@"; }

# json_get KEY: a top-level field of the JSON on stdin.
json_get() { "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# new_store_with_user DB USER: a new store DB with USER enrolled in MFA and confirmed with
# the current code (oathtool).
new_store_with_user() {
    local secret
    tool --db "$1" init >/dev/null 2>&1
    secret=$(tool --db "$1" mfa enroll "$2" --json | json_get secret)
    tool --db "$1" mfa confirm "$2" "$(oathtool --totp -b "$secret")" >/dev/null
}

# not COMMAND...: succeeds when COMMAND fails (for check).
not() { ! "$@"; }

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

# run ARGS...: runs the tool; sets RC and leaves its output in $TMP/out and $TMP/err.
# Stdin is $RUN_STDIN (default /dev/null). $RUN_AS (array) and $RUN_TIMEOUT (seconds,
# default 60) wrap the call. A run that hangs ends with status 124 (a failure).
RUN_STDIN=/dev/null
RUN_TIMEOUT=60
RUN_AS=()
run() {
    RC=0
    timeout -k 5 "$RUN_TIMEOUT" "${RUN_AS[@]}" "$APPPASS" "$@" \
        <"$RUN_STDIN" >"$TMP/out" 2>"$TMP/err" || RC=$?
}

# Why the last run counts as a crash, or nothing: killed by a signal or the timeout,
# not executable, or a sanitizer / C++ runtime report on stderr.
crash_reason() {
    if [[ $RC -ge 124 ]]; then
        echo "exit status $RC (signal, timeout, sanitizer or exec failure)"
    elif grep -qE 'Sanitizer|runtime error:|terminate called|Segmentation fault|Aborted|core dumped' "$TMP/err"; then
        echo "sanitizer or runtime report on stderr"
    fi
}

# Detail lines describing the last run, for "not ok" output.
run_details() {
    printf 'exit %s\n' "$RC"
    printf 'stdout: %s\n' "$(head -c 600 "$TMP/out" | head -n 5 | cat -v)"
    printf 'stderr: %s\n' "$(head -c 600 "$TMP/err" | head -n 8 | cat -v)"
}

# Empty when stderr is exactly one clear line: "apppass: ...", newline-terminated,
# printable (no control characters, so hostile input cannot reach a terminal), short.
one_line_problem() {
    local f=$TMP/err
    if [[ ! -s $f ]]; then echo "stderr is empty"; return; fi
    if [[ $(wc -l <"$f") -ne 1 || $(tail -c 1 "$f" | od -An -tx1 | tr -d ' ') != 0a ]]; then
        echo "stderr is not exactly one line"; return
    fi
    if [[ $(head -c 9 "$f") != "apppass: " ]]; then echo "stderr does not start with 'apppass: '"; return; fi
    if LC_ALL=C grep -q '[[:cntrl:]]' "$f"; then echo "stderr has control characters"; return; fi
    if [[ $(wc -c <"$f") -gt 400 ]]; then echo "stderr line is longer than 400 bytes"; return; fi
    if [[ $(wc -c <"$f") -lt 20 ]]; then echo "stderr message is too short to be clear"; return; fi
}

# expect_ok DESC ARGS...: exit 0, nothing on stderr (unless ALLOW_STDERR=1: init may
# print a note there), no crash.
ALLOW_STDERR=0
expect_ok() {
    local desc=$1
    shift
    run "$@"
    local why
    why=$(crash_reason)
    if [[ -z $why && $RC -ne 0 ]]; then why="exit $RC, expected 0"; fi
    if [[ -z $why && -s $TMP/err && $ALLOW_STDERR != 1 ]]; then why="unexpected output on stderr"; fi
    if [[ -z $why ]]; then ok "$desc"; else not_ok "$desc" "$why" "$(run_details)"; fi
}

# expect_fail CODE REGEX DESC ARGS...: exit CODE (a space-separated list allows any of
# them), one clear line on stderr matching the extended REGEX (case-insensitive; ''
# for any), nothing on stdout, no crash.
expect_fail() {
    local codes=$1 regex=$2 desc=$3
    shift 3
    run "$@"
    local why
    why=$(crash_reason)
    if [[ -z $why && " $codes " != *" $RC "* ]]; then why="exit $RC, expected $codes"; fi
    if [[ -z $why ]]; then why=$(one_line_problem); fi
    if [[ -z $why && -n $regex ]] && ! grep -qiE -- "$regex" "$TMP/err"; then
        why="message does not match /$regex/"
    fi
    if [[ -z $why && -s $TMP/out ]]; then why="unexpected output on stdout"; fi
    if [[ -z $why ]]; then ok "$desc"; else not_ok "$desc" "$why" "$(run_details)"; fi
}

# jcheck DESC PYTHON [ARG...]: parses $TMP/out as one JSON document and runs PYTHON
# with j = the document (see jsoncheck.py for the helpers it can use).
jcheck() {
    local desc=$1 code=$2
    shift 2
    if "$PY" "$LIB_DIR/jsoncheck.py" "$TMP/out" "$code" "$@" >"$TMP/pyerr" 2>&1; then
        ok "$desc"
    else
        not_ok "$desc" "$(tail -n 3 "$TMP/pyerr")" "json: $(head -c 300 "$TMP/out")"
    fi
}

# Does FILE contain a string shaped like an app password?
has_password_shape() { grep -qE -- "$PW_ANY" "$1"; }

# no_listed_password LIST FILE...: none of the passwords in LIST (one a line) appears in
# any FILE, in display form or normalized (no dashes), in any case.
no_listed_password() {
    local list=$1 p
    shift
    while IFS= read -r p; do
        grep -aqiF -e "$p" -e "${p//-/}" -- "$@" && return 1
    done <"$list"
    return 0
}
