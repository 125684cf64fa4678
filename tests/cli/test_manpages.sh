#!/bin/bash
# cli_manpages: the man pages render cleanly and say what the code does.
#
# Usage: test_manpages.sh /path/to/apppass SRC_DIR /path/to/apppassd
#
# For each of packaging/man/{apppass,apppassd,pam_apppass,sasl_apppass,apppass-web}.8:
#   - groff -man -Tutf8 -ww renders it without a warning, man -l and man --warnings do
#     too, and lexgrog finds its NAME line (what apropos and lintian read);
# and then (manpage_check.py, see its header):
#   - apppass(8) and `apppass --help` / `apppass CMD [SUB] --help` list the same
#     commands, options and positionals, both ways; every exit code of tools/apppass/cli.h is in
#     apppass(8) EXIT STATUS and in `apppass --help`, and nothing else is;
#   - pam_apppass(8) OPTIONS lists exactly the options pam_module/pam_options.cc accepts, and
#     LOGGING exactly the reasons the module logs;
#   - sasl_apppass(8) OPTIONS lists exactly kSaslOptionKeys, and LOGGING exactly the
#     reasons the plugin logs;
#   - apppassd(8) and `apppassd --help` list the same options (and defaults), its WHO MAY
#     ASK WHAT the request kinds of the protocol, LIMITS its line limit, EXIT STATUS the
#     exit codes of tools/apppassd/main.cc;
#   - each page carries the project's version.
# Prints "ok - ..." / "not ok - ..." per check and "N passed, N failed"; exits 1 when
# anything failed.
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: $0 /path/to/apppass SRC_DIR /path/to/apppassd" >&2
    exit 2
fi
APPPASS=$(realpath -e "$1")
SRC=$(realpath -e "$2")
APPPASSD=$(realpath -e "$3")
TMP=$(mktemp -d)
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in groff man lexgrog; do
    command -v "$tool" >/dev/null || { echo "not ok - $tool is not installed (groff-base, man-db)"; exit 1; }
done

PAGES=(apppass.8 apppassd.8 pam_apppass.8 sasl_apppass.8 apppass-web.8)
export LC_ALL=C.UTF-8 MANWIDTH=80

for name in "${PAGES[@]}"; do
    page=$SRC/packaging/man/$name
    if [[ ! -f $page ]]; then
        not_ok "$name exists" "missing: $page"
        continue
    fi
    # -ww: every warning groff knows; -z: no output, only the diagnostics.
    if groff -man -Tutf8 -ww -z "$page" >"$TMP/groff.out" 2>"$TMP/groff.err" && [[ ! -s $TMP/groff.err ]]; then
        ok "$name: groff -man -Tutf8 -ww renders it without warnings"
    else
        not_ok "$name: groff -man -Tutf8 -ww renders it without warnings" "$(head -n 20 "$TMP/groff.err")"
    fi
    if man --warnings -l "$page" >"$TMP/man.out" 2>"$TMP/man.err" && [[ ! -s $TMP/man.err ]] &&
        grep -q '^NAME' "$TMP/man.out" && [[ $(wc -l <"$TMP/man.out") -gt 40 ]]; then
        ok "$name: man --warnings -l shows it without warnings"
    else
        not_ok "$name: man --warnings -l shows it without warnings" \
            "$(head -n 10 "$TMP/man.err")" "$(head -n 5 "$TMP/man.out")"
    fi
    base=${name%.8}
    if lexgrog "$page" >"$TMP/lexgrog.out" 2>&1 &&
        grep -q "^$page: \"$base - " "$TMP/lexgrog.out"; then
        ok "$name: lexgrog reads its NAME line"
    else
        not_ok "$name: lexgrog reads its NAME line" "$(cat "$TMP/lexgrog.out")"
    fi
done

# The content checks: one "ok"/"not ok" line each, details on "#" lines.
"$PY" "$LIB_DIR/manpage_check.py" "$APPPASS" "$SRC" "$APPPASSD" >"$TMP/check.out" 2>"$TMP/check.err" || true
if [[ -s $TMP/check.err ]]; then
    not_ok "manpage_check.py ran without errors" "$(tail -n 15 "$TMP/check.err")"
fi
while IFS= read -r line; do
    case $line in
    "ok - "*) PASSED=$((PASSED + 1)); echo "$line" ;;
    "not ok - "*) FAILED=$((FAILED + 1)); echo "$line" ;;
    *) echo "$line" ;;
    esac
done <"$TMP/check.out"
# manpage_check.py makes at least one check per command, option list and page.
if [[ $(grep -c '^ok - \|^not ok - ' "$TMP/check.out") -lt 30 ]]; then
    not_ok "manpage_check.py made its checks" "only $(grep -c '^ok - \|^not ok - ' "$TMP/check.out") results"
fi

finish
