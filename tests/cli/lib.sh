# shellcheck shell=bash
# Helpers shared by the cli_* tests, over tests/lib/setup.sh (reporting, the store
# fixture, TMP). Sourced; the script then calls cli_setup "$@" (or, with other arguments,
# sets APPPASS, the absolute path of the tool under test, and calls setup_tmp).

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/setup.sh
source "$LIB_DIR/../lib/setup.sh"

# cli_setup ARGS...: the set-up of a script whose only argument is the tool: APPPASS
# (absolute) and TMP.
cli_setup() {
    if [[ $# -ne 1 ]]; then
        echo "usage: $0 /path/to/apppass" >&2
        exit 2
    fi
    # shellcheck disable=SC2034  # used by the script
    APPPASS=$(realpath -e "$1")
    # shellcheck disable=SC2119  # no template: mktemp's default directory
    setup_tmp
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
