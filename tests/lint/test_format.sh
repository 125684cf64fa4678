#!/bin/bash
# Format check: every tracked .c, .cc and .h file is exactly as clang-format writes it with
# the tree's .clang-format. Prints "ok - FILE" or "not ok - FILE" per file, then a
# summary with the command that fixes the files named; exits non-zero when any differs.
# Usage: test_format.sh SOURCE_DIR
# CLANG_FORMAT names the program (default: clang-format-14, Debian 12's, else clang-format):
# another version formats some constructs differently.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 SOURCE_DIR" >&2
    exit 2
fi
cd "$1"
cf=${CLANG_FORMAT:-}
if [[ -z $cf ]]; then
    cf=$(command -v clang-format-14 || command -v clang-format || true)
fi
if [[ -z $cf ]] || ! command -v "$cf" >/dev/null; then
    echo "not ok - clang-format is not installed (.ci/install-deps test installs it)"
    exit 1
fi
if [[ ! -f .clang-format ]]; then
    echo "not ok - $PWD/.clang-format is missing"
    exit 1
fi
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "not ok - $PWD is not a git work tree: the tracked files cannot be listed"
    exit 1
fi

mapfile -d '' files < <(git ls-files -z -- '*.c' '*.cc' '*.h')
if [[ ${#files[@]} -eq 0 ]]; then
    echo "not ok - git ls-files found no C or C++ file"
    exit 1
fi
bad=()
for f in "${files[@]}"; do
    if "$cf" --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "ok - $f"
    else
        echo "not ok - $f"
        bad+=("$f")
    fi
done
echo "# $("$cf" --version)"
echo "$((${#files[@]} - ${#bad[@]})) passed, ${#bad[@]} failed"
if [[ ${#bad[@]} -gt 0 ]]; then
    echo "# not formatted: ${bad[*]}"
    echo "# fix with: $cf -i ${bad[*]}"
    exit 1
fi
