# shellcheck shell=bash
# The common set-up of the shell tests: reporting (report.sh), the store fixture
# (store.sh) and a private temporary directory. Sourced.
#   setup_tmp [TEMPLATE]: sets TMP to a new directory (mktemp -d [TEMPLATE]) that is
#   removed when the script exits (a script with more to clean sets its own EXIT trap).
TESTLIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/report.sh
source "$TESTLIB_DIR/report.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/store.sh
source "$TESTLIB_DIR/store.sh"

setup_tmp() {
    TMP=$(mktemp -d "$@")
    trap 'rm -rf "$TMP"' EXIT
}
