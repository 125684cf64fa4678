#!/bin/bash
# valgrind_memcheck: the PAM module under pamtester (pam_wrapper preloaded) and the SASL
# plugin under sasl_probe (real libsasl2 in process), run by valgrind's memcheck for every
# outcome: accepted (PAM also acct_mgmt), wrong, revoked, store unavailable, and for SASL
# PLAIN and LOGIN. Any memcheck error or definite leak fails (--error-exitcode=99, so it
# is told apart from pamtester's own exit 1 for a refusal), and so does a descriptor
# into the store open at exit (--track-fds=yes) other than the ones the PAM module keeps
# on purpose: it keeps its store across pam_end until the process exits (issue 14,
# common/store_cache.h), so after a refusal exactly data.mdb and lock.mdb are open, each
# once (a second environment would open lock.mdb again), and after an accepted login also
# the usage database it records last use in (usage/lock.mdb once, usage/data.mdb twice:
# LMDB's writable environment has a second descriptor for its meta page writes). An
# unusable store leaves none; the SASL plugin none after sasl_server_done.
#
#   test_valgrind.sh APPPASS PAM_MODULE PAM_WRAPPER_LIBRARY PAMTESTER SASL_PROBE SASL_PLUGIN VALGRIND
#
# No suppressions are needed on Debian 12 (valgrind 3.19, Linux-PAM 1.5.2, Cyrus SASL
# 2.1.28, pam_wrapper 1.1.4): the runs are clean as they are.
set -euo pipefail

if [[ $# -ne 7 ]]; then
    echo "usage: $0 APPPASS PAM_MODULE PAM_WRAPPER_LIBRARY PAMTESTER SASL_PROBE SASL_PLUGIN VALGRIND" >&2
    exit 2
fi
APPPASS=$(realpath -e "$1")
MODULE=$(realpath -e "$2")
WRAPPER=$3
PAMTESTER=$4
PROBE=$(realpath -e "$5")
PLUGIN=$(realpath -e "$6")
VALGRIND=$7
# shellcheck source-path=SCRIPTDIR source=../lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/setup.sh"
setup_tmp /tmp/apppass-valgrind.XXXXXX
require_tools oathtool

S=$TMP/store
store_with_passwords "$S"
WRONG=abcd-efgh-jkmn-pqrs-tuvw

services=$TMP/services
mkdir "$services"
: >"$services/other"
printf 'auth required %s db=%s\naccount required %s db=%s\n' "$MODULE" "$S" "$MODULE" "$S" \
    >"$services/imap"
printf 'auth required %s db=%s\n' "$MODULE" "$TMP/missing" >"$services/imapbad"

VG=("$VALGRIND" --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --track-fds=yes --log-file="$TMP/vg.%p")

# memcheck DESC WANT_RC COMMAND...: runs COMMAND (already under valgrind); checks its exit
# status, the memcheck log (no error, no definite leak) and that the store files open at
# exit are exactly $KEPT (paths under the store, sorted; none when unset).
memcheck() {
    local desc=$1 want=$2 rc=0 why="" log
    shift 2
    rm -f "$TMP"/vg.*
    "$@" >"$TMP/out" 2>&1 || rc=$?
    log=$(cat "$TMP"/vg.* 2>/dev/null || true)
    if [[ $rc -eq 99 ]] || grep -q 'ERROR SUMMARY: [1-9]' <<<"$log"; then
        why="memcheck errors"
    elif [[ $rc -ne $want ]]; then why="exit $rc, want $want: $(tail -5 "$TMP/out")"
    elif ! grep -q 'definitely lost: 0 bytes\|All heap blocks were freed' <<<"$log"; then
        why="definite leak"
    else
        local kept
        kept=$({ grep -F 'Open file descriptor' <<<"$log" || true; } | { grep -F ": $S/" || true; } |
            sed "s|^.*: $S/||" | sort | xargs echo)
        if [[ $kept != "${KEPT:-}" ]]; then
            why="store descriptors open at exit: '$kept', want '${KEPT:-}'"
        fi
    fi
    if [[ -z $why ]]; then ok "$desc"
    else not_ok "$desc: $why" "$(grep -vE '^==[0-9]+== +(at|by) ' <<<"$log" | tail -40)"; fi
}

pam() {  # PASSWORD SERVICE OPERATION...
    local pw=$1
    shift
    printf '%s\n' "$pw" | env LD_PRELOAD="$WRAPPER" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$services" \
        "${VG[@]}" "$PAMTESTER" -v "$@"
}
KEPT="data.mdb lock.mdb usage/data.mdb usage/data.mdb usage/lock.mdb" \
    memcheck "PAM: accepted, then acct_mgmt" 0 pam "$PW" imap alice authenticate acct_mgmt
KEPT="data.mdb lock.mdb" memcheck "PAM: wrong password" 1 pam "$WRONG" imap alice authenticate
KEPT="data.mdb lock.mdb" memcheck "PAM: revoked password" 1 pam "$OLD_PW" imap alice authenticate
KEPT="data.mdb lock.mdb" memcheck "PAM: unknown user" 1 pam "$PW" imap bob authenticate
memcheck "PAM: store unavailable" 1 pam "$PW" imapbad alice authenticate

sasl() { "${VG[@]}" "$PROBE" "$@"; }
memcheck "SASL PLAIN: accepted, wrong, revoked, unknown user" 0 \
    sasl "$PLUGIN" "$S" alice "$PW" alice "$WRONG" alice "$OLD_PW" bob "$PW"
check "SASL PLAIN: the answers were right" \
    grep -qz 'alice SASL_OK.alice SASL_BADAUTH.alice SASL_BADAUTH.bob SASL_BADAUTH' "$TMP/out"
memcheck "SASL LOGIN: accepted, wrong" 0 sasl --login "$PLUGIN" "$S" alice "$PW" alice "$WRONG"
check "SASL LOGIN: the answers were right" grep -qz 'alice SASL_OK.alice SASL_BADAUTH' "$TMP/out"
memcheck "SASL: store unavailable" 0 sasl "$PLUGIN" "$TMP/missing" alice "$PW"
check "SASL: unavailable store refused" grep -q 'alice SASL_UNAVAIL' "$TMP/out"
finish
