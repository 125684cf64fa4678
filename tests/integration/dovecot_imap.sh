#!/bin/bash
# End-to-end check of pam_apppass.so behind a real Dovecot IMAP server.
#
# Usage: dovecot_imap.sh /path/to/apppass /path/to/pam_apppass.so
# Exit: 0 pass, 1 fail, 77 skipped (needs root: Dovecot's master and auth
# worker must run as root for PAM, and a daemonized instance needs it too).
#
# Nothing outside a private temp dir is touched: Dovecot runs as a throwaway
# instance with its own config, and pam_wrapper points libpam at our own
# service files instead of /etc/pam.d.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=dovecot_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/dovecot_lib.sh"
dl_start "$@" imap

# ---- apppass store and accounts -------------------------------------------

ap init >/dev/null || dl_fatal "apppass init"
enroll_mfa alice || dl_fatal "apppass mfa enroll/confirm alice"
enroll_mfa bob || dl_fatal "apppass mfa enroll/confirm bob"   # bob gets no app passwords

out=$(create_pw alice mail-client imap) || dl_fatal "apppass create --scope imap"
read -r IMAP_ID IMAP_PW <<<"$out"
out=$(create_pw alice pop-only pop3) || dl_fatal "apppass create --scope pop3"
read -r _ POP_PW <<<"$out"
out=$(create_pw alice any-service) || dl_fatal "apppass create --all-services"
read -r _ ANY_PW <<<"$out"

# ---- Dovecot without an auth cache -----------------------------------------

write_pam_services imap pop3
# No cache: a revoked password must be refused on the very next login.
write_dovecot_conf "$CONF" "%s" "auth_cache_size = 0"
start_dovecot

# Input is normalized: case, spaces and dashes do not matter.
accepts "imap-scoped app password logs in over IMAP" alice "$IMAP_PW"
accepts "same password in upper case logs in" alice "${IMAP_PW^^}"
accepts "same password without dashes logs in" alice "${IMAP_PW//-/}"
accepts "same password with spaces for dashes logs in" alice "${IMAP_PW//-/ }"

# The well-formed wrong password differs from ours with overwhelming
# probability; make sure.
WRONG=abcd-efgh-jkmn-pqrs-tuvw
[[ ${WRONG^^} != "${IMAP_PW^^}" ]] || WRONG=wxyz-wxyz-wxyz-wxyz-wxyz
refuses "well-formed wrong password is refused" alice "$WRONG"
refuses "junk password is refused" alice "x"
refuses "password of only dashes is refused" alice "----"

# Scopes: --all-services means any service.
refuses "pop3-only app password is refused over IMAP" alice "$POP_PW"
accepts "--all-services app password logs in over IMAP" alice "$ANY_PW"

# Last use is recorded with service and client address.
last_use() {   # last_use ID -> "SERVICE RHOST"
    ap list alice --json | "$PY" -c '
import json, sys
for e in json.load(sys.stdin):
    if str(e["id"]) == sys.argv[1]:
        print(e.get("last_service") or "-", e.get("last_rhost") or "-")' "$1"
}
USE=$(last_use "$IMAP_ID" || true)
if [[ $USE == "imap 127.0.0.1" ]]; then
    pass "list shows last_service=imap last_rhost=127.0.0.1"
else
    fail "list shows last_service=imap last_rhost=127.0.0.1 (got '$USE')"
fi

# Revocation takes effect at once.
if ap revoke alice "$IMAP_ID" >/dev/null; then pass "apppass revoke"; else fail "apppass revoke"; fi
refuses "revoked app password is refused at once" alice "$IMAP_PW"
accepts "other app password still logs in after revoke" alice "$ANY_PW"

# Users without app passwords; a password is bound to its owner.
refuses "user without app passwords is refused (even with another user's)" bob "$ANY_PW"
refuses "user unknown to the store is refused" nosuchuser "$ANY_PW"

# The module logs its decisions, never a password.
module_lines=$(grep -o 'SYSLOG([0-9]*): .*' "$LOG" || true)
leaked=no
for pw in "$IMAP_PW" "$POP_PW" "$ANY_PW"; do
    if grep -qiF -e "$pw" -e "${pw//-/}" <<<"$module_lines"; then leaked=yes; fi
done
if [[ -z $module_lines ]]; then
    fail "pam_apppass logged its decisions (no lines found)"
elif [[ $leaked == yes ]]; then
    fail "pam_apppass logged its decisions without any password (a password leaked)"
else
    pass "pam_apppass logged its decisions without any password"
fi

finish
