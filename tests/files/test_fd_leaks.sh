#!/bin/bash
# files_fd_leaks: no descriptor into the store reaches a program that a host process (PAM
# module and SASL plugin loaded, fd_leaks) or the admin tool (its revocation hooks)
# executes; the descriptor count stays constant over many authentications.
#
#   test_fd_leaks.sh APPPASS PAM_MODULE PAM_WRAPPER_LIBRARY SASL_PLUGIN FD_LEAKS FD_LIST ROUNDS
#
# Environment: APPPASS_TEST_PRELOAD (optional) goes in front of pam_wrapper in LD_PRELOAD.
set -euo pipefail

if [[ $# -ne 7 ]]; then
    echo "usage: $0 APPPASS PAM_MODULE PAM_WRAPPER_LIBRARY SASL_PLUGIN FD_LEAKS FD_LIST ROUNDS" >&2
    exit 2
fi
APPPASS=$(realpath -e "$1")
MODULE=$(realpath -e "$2")
WRAPPER=$3
PLUGIN=$(realpath -e "$4")
FD_LEAKS=$(realpath -e "$5")
FD_LIST=$(realpath -e "$6")
ROUNDS=$7
# shellcheck source-path=SCRIPTDIR source=../lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/setup.sh"
setup_tmp /tmp/apppass-fdleaks.XXXXXX
require_tools oathtool

S=$TMP/store
store_with_passwords "$S"
json=$(tool --db "$S" create alice --name tablet --all-services --json)
TABLET_ID=$(json_get id <<<"$json")

services=$TMP/services
mkdir "$services"
: >"$services/other"
printf 'auth required %s db=%s\n' "$MODULE" "$S" >"$services/imap"
printf 'auth required %s db=%s\n' "$MODULE" "$TMP/missing" >"$services/imapbad"

preload=$WRAPPER
[[ -n ${APPPASS_TEST_PRELOAD:-} ]] && preload=$APPPASS_TEST_PRELOAD:$WRAPPER
# The host process: PAM (pam_wrapper) and SASL in one process.
rc=0
env LD_PRELOAD="$preload" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$services" \
    "$FD_LEAKS" "$PLUGIN" "$S" "$PW" "$OLD_PW" "$FD_LIST" "$ROUNDS" >"$TMP/out" 2>"$TMP/err" || rc=$?
cat "$TMP/out"
if [[ $rc -eq 0 ]]; then
    ok "fd_leaks: every check passed"
else
    not_ok "fd_leaks exited with $rc" "$(tail -20 "$TMP/err")"
fi
if grep -qE 'runtime error:|ERROR: AddressSanitizer|LeakSanitizer' "$TMP/err"; then
    not_ok "sanitizer report from fd_leaks" "$(cat "$TMP/err")"
fi

# The tool's hooks: a hook that lists its descriptors (fd_list prints to stdout, which is
# the tool's stderr for hooks) while the tool revokes with the store open.
H=$TMP/hooks
mkdir -m 0755 "$H"
install -m 0755 "$FD_LIST" "$H/list-fds"
RUN_TIMEOUT=60
run --db "$S" --hooks-dir "$H" revoke alice "$TABLET_ID"
check "revoke with a hook exits 0" test "$RC" -eq 0
if grep -qE '^[0-9]+ ' "$TMP/err"; then
    ok "the hook ran and listed its descriptors ($(grep -cE '^[0-9]+ ' "$TMP/err"))"
else
    not_ok "the hook did not list its descriptors" "$(cat "$TMP/err")"
fi
if grep -E '^[0-9]+ ' "$TMP/err" | grep -qF "$S/"; then
    not_ok "a hook holds a descriptor into the store" "$(grep -F "$S/" "$TMP/err")"
else
    ok "no store descriptor reaches a hook"
fi
finish
