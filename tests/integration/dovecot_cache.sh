#!/bin/bash
# Revocation reaches Dovecot's auth cache: a real Dovecot with caching ON, the hooks of
# `apppass revoke` / `apppass mfa reset`, and the shipped example hook
# packaging/hooks.d/dovecot-auth-cache-flush.
#
# Usage: dovecot_cache.sh /path/to/apppass /path/to/pam_apppass.so
# Exit: 0 pass, 1 fail, 77 skipped (needs root to start Dovecot).
#
# First it shows the cache is really on and the test can fail: a cached app password
# that is revoked WITHOUT the hook keeps logging in. Then, with the example hook in the
# hooks directory (a wrapper pointing it at this instance's dovecot.conf), a revoked
# cached password and an mfa-reset user's cached password are refused on the very next
# login. A hook that fails makes apppass exit 7 with a warning naming it. Private temp
# dir, 127.0.0.1 and pam_wrapper only (see dovecot_lib.sh).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=dovecot_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/dovecot_lib.sh"
dl_start "$@" cache
FLUSH_HOOK=$(realpath -e "$(dirname "${BASH_SOURCE[0]}")/../../packaging/hooks.d/dovecot-auth-cache-flush")

# ---- store and accounts ------------------------------------------------------

ap init >/dev/null || dl_fatal "apppass init"
enroll_mfa alice || dl_fatal "apppass mfa enroll/confirm alice"
enroll_mfa carol || dl_fatal "apppass mfa enroll/confirm carol"
out=$(create_pw alice no-hook) || dl_fatal "apppass create"
read -r NOHOOK_ID NOHOOK_PW <<<"$out"
out=$(create_pw alice with-hook) || dl_fatal "apppass create"
read -r HOOK_ID HOOK_PW <<<"$out"
out=$(create_pw alice failing-hook) || dl_fatal "apppass create"
read -r FAILHOOK_ID FAILHOOK_PW <<<"$out"
out=$(create_pw alice keeps-working) || dl_fatal "apppass create"
read -r _ KEEP_PW <<<"$out"
out=$(create_pw carol phone) || dl_fatal "apppass create"
read -r _ CAROL_PW <<<"$out"

# ---- Dovecot with its auth cache on --------------------------------------------

write_pam_services imap
# cache_key: the pam passdb's own option before the service name. Dovecot turns it
# into "%u<TAB>%s<TAB>%w" (user first), which is what `doveadm auth cache flush USER`
# matches; %w gives each app password its own entry.
write_dovecot_conf "$CONF" "cache_key=%u%s%w %s" "auth_cache_size = 1M
auth_cache_ttl = 1 hour"
start_dovecot

# ---- helpers -------------------------------------------------------------------

# A refused login of an unknown user: its decision line marks a point in the log.
SENTINEL_N=0
log_sentinel() {
    SENTINEL_N=$((SENTINEL_N + 1))
    local user=sentinel$SENTINEL_N _
    imap_login "$user" x >/dev/null 2>&1 || true
    for _ in $(seq 30); do
        if grep -qE "SYSLOG\([0-9]+\): refused service=imap user=$user " "$LOG"; then return 0; fi
        sleep 0.1
    done
    return 1
}

# accepted_by DESCRIPTION USER PASS WHO: logs in, and WHO is "pam" (pam_apppass decided:
# an accepted line for USER was logged) or "cache" (no decision line for USER at all:
# Dovecot answered from its cache without calling PAM).
accepted_by() {
    local desc=$1 user=$2 pw=$3 who=$4 got=0 offset lines
    offset=$(log_size)
    imap_login "$user" "$pw" || got=$?
    if [[ $got -ne 0 ]]; then
        fail "$desc (got: ${OUTCOME[got]})"
        return
    fi
    log_sentinel || { fail "$desc (no sentinel line in the log)"; return; }
    lines=$(module_lines_since "$offset" | grep -F " user=$user " || true)
    if [[ $who == pam ]] && grep -q "accepted service=imap user=$user " <<<"$lines"; then
        pass "$desc"
    elif [[ $who == cache && -z $lines ]]; then
        pass "$desc"
    else
        fail "$desc (expected an answer from $who; module lines: ${lines:-none})"
    fi
}

# run_ap ARGS...: the admin tool; sets RC, OUT and ERR.
run_ap() {
    RC=0
    ap "$@" >"$TMP/ap.out" 2>"$TMP/ap.err" || RC=$?
    OUT=$(cat "$TMP/ap.out")
    ERR=$(cat "$TMP/ap.err")
}

is_revoked() {   # is_revoked USER ID: the store says so
    ap list "$1" --revoked --json | "$PY" -c '
import json, sys
sys.exit(0 if any(str(e["id"]) == sys.argv[1] and e.get("revoked") for e in json.load(sys.stdin)) else 1)' "$2"
}

# The example hook pointed at this instance, installed the way the hook's header says
# (a wrapper per Dovecot instance setting DOVEADM_CONFIG): the shipped file itself runs.
install_flush_hook() {   # install_flush_hook DOVEADM_CONFIG
    [[ -d $HOOKS ]] || mkdir -m 0755 "$HOOKS"
    cat >"$HOOKS/dovecot-auth-cache-flush" <<EOF
#!/bin/sh
DOVEADM_CONFIG='$1' exec /bin/sh '$FLUSH_HOOK' "\$@"
EOF
    chmod 0755 "$HOOKS/dovecot-auth-cache-flush"
}

# ---- 1. the cache is on: a revocation without the hook does not reach it ------

accepted_by "first login with an app password is decided by pam_apppass" alice "$NOHOOK_PW" pam
accepted_by "second login with it is answered from Dovecot's cache (PAM not called)" alice "$NOHOOK_PW" cache
mkdir -m 0755 "$HOOKS"   # empty: no hooks
run_ap revoke alice "$NOHOOK_ID"
if [[ $RC -eq 0 && -z $ERR ]] && is_revoked alice "$NOHOOK_ID"; then
    pass "revoke with an empty hooks dir: exit 0, revoked in the store"
else
    fail "revoke with an empty hooks dir (exit $RC, stderr: $ERR)"
fi
accepted_by "WITHOUT the hook the revoked password still logs in from the cache" alice "$NOHOOK_PW" cache

# ---- 2. with the example hook, the very next login is refused -----------------

accepted_by "another app password logs in (decided by PAM)" alice "$HOOK_PW" pam
accepted_by "... and is cached" alice "$HOOK_PW" cache
accepted_by "a third app password logs in (and is cached)" alice "$KEEP_PW" pam
install_flush_hook "$CONF"
run_ap revoke alice "$HOOK_ID"
if [[ $RC -eq 0 && -z $ERR ]]; then
    pass "revoke with the flush hook: exit 0, nothing on stderr"
else
    fail "revoke with the flush hook (exit $RC, stderr: $ERR)"
fi
refuses "WITH the hook the revoked password is refused on the very next login" alice "$HOOK_PW"
refuses "the flush covers all of alice's entries: the one revoked earlier is refused now" alice "$NOHOOK_PW"
accepted_by "alice's unrevoked password still logs in (asked PAM again)" alice "$KEEP_PW" pam

# ---- 3. mfa reset runs the hooks too (event mfa-reset) ---------------------------

accepted_by "carol logs in" carol "$CAROL_PW" pam
accepted_by "carol's login is cached" carol "$CAROL_PW" cache
cat >"$HOOKS/00-record" <<EOF
#!/bin/sh
{ printf '%s\n' "\$0" "\$@"; echo "event=\$APPPASS_EVENT user=\$APPPASS_USER"; } >'$TMP/record'
EOF
chmod 0755 "$HOOKS/00-record"
run_ap mfa reset carol
expected=$(printf '%s\n' "$HOOKS/00-record" mfa-reset carol "event=mfa-reset user=carol")
if [[ $RC -eq 0 && -z $ERR && $(cat "$TMP/record" 2>/dev/null) == "$expected" ]]; then
    pass "mfa reset: exit 0, hooks ran with argv 'mfa-reset carol' and APPPASS_EVENT=mfa-reset"
else
    fail "mfa reset ran the hooks (exit $RC, stderr: $ERR, record: $(tr '\n' ' ' 2>/dev/null <"$TMP/record"))"
fi
refuses "after mfa reset carol's cached app password is refused at once" carol "$CAROL_PW"
rm -f "$HOOKS/00-record"

# ---- 4. a failing hook: the revocation stands, exit 7, one warning -------------

accepted_by "an app password logs in" alice "$FAILHOOK_PW" pam
accepted_by "... and is cached" alice "$FAILHOOK_PW" cache
install_flush_hook "$TMP/no-such-dovecot.conf"
run_ap revoke alice "$FAILHOOK_ID"
warn_re="^apppass: warning: hook $HOOKS/dovecot-auth-cache-flush failed: exit status 1 "
warnings=$(grep -c '^apppass: warning:' "$TMP/ap.err" || true)
if [[ $RC -eq 7 ]] && grep -qE "$warn_re" "$TMP/ap.err" && [[ $warnings -eq 1 ]] &&
   [[ $OUT == "Revoked 1 app password of alice: $FAILHOOK_ID" ]] && is_revoked alice "$FAILHOOK_ID"; then
    pass "a failing hook: exit 7, one warning naming it and its status, the revocation stands"
else
    fail "a failing hook (exit $RC, stdout: $OUT, stderr: $ERR)"
fi
# This is why exit 7 matters: the cache was not flushed...
accepted_by "... and the cache was not flushed: the password still logs in" alice "$FAILHOOK_PW" cache
# ... until someone does what the warning asks.
doveadm -c "$CONF" auth cache flush alice >/dev/null 2>&1 || true
refuses "after a flush by hand it is refused" alice "$FAILHOOK_PW"

# ---- 5. the example hook on its own --------------------------------------------

hook_by_hand() {   # hook_by_hand DOVEADM_CONFIG PATH ARGS...: sets RC, OUT (stdout+stderr)
    local conf=$1 path=$2
    shift 2
    RC=0
    OUT=$(env -i PATH="$path" DOVEADM_CONFIG="$conf" /bin/sh "$FLUSH_HOOK" "$@" 2>&1) || RC=$?
}
SYS_PATH=/usr/sbin:/usr/bin:/sbin:/bin
hook_by_hand "$CONF" "$SYS_PATH" revoke -dash-user 1234abcd
if [[ $RC -eq 0 && -z $OUT ]]; then
    pass "hook: a user name starting with '-' is flushed, not taken for an option"
else
    fail "hook with user '-dash-user' (exit $RC: $OUT)"
fi
write_dovecot_conf "$TMP/idle.conf" "%s" ""   # an instance that is never started
hook_by_hand "$TMP/idle.conf" "$SYS_PATH" revoke alice
if [[ $RC -eq 0 && $OUT == *"not running"* ]]; then
    pass "hook: Dovecot not running: exit 0 with a note"
else
    fail "hook with Dovecot not running (exit $RC: $OUT)"
fi
mkdir -p "$TMP/nobin"
hook_by_hand "" "$TMP/nobin" revoke alice
if [[ $RC -eq 0 && $OUT == *"not installed"* ]]; then
    pass "hook: Dovecot not installed (no doveadm on PATH): exit 0 with a note"
else
    fail "hook without doveadm (exit $RC: $OUT)"
fi
hook_by_hand "$TMP/no-such-dovecot.conf" "$SYS_PATH" revoke alice
if [[ $RC -ne 0 && $OUT == *"DOVEADM_CONFIG"* ]]; then
    pass "hook: an unreadable DOVEADM_CONFIG is an error, not a silent success"
else
    fail "hook with a missing DOVEADM_CONFIG (exit $RC: $OUT)"
fi

finish
