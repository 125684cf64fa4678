#!/bin/bash
# Self-service and verification through apppassd behind a real Dovecot (issue 11).
#
# Usage: dovecot_broker.sh /path/to/apppass /path/to/pam_apppass.so /path/to/apppassd
# Exit: 0 pass, 1 fail, 77 skipped (needs root: Dovecot, apppassd and test users).
#
# apppassd (root) serves a temporary store on a socket in the temp dir, --group a test
# group. Dovecot's auth worker runs as a test user that is NOT root but is in that group
# (`service auth-worker { user = ... extra_groups = ... }`), so pam_apppass.so cannot open
# the store and verifies through the broker (`broker=SOCKET`). A second real user, as
# themselves and only through the broker, self-enrolls (root allowed it with `policy set
# self_enroll yes`), creates an imap app password, logs in over IMAP with it and sees its
# last use in `apppass list`. With apppassd stopped, the login fails and the module logs
# that the service is unavailable; with apppassd started again it is accepted again. Then
# the user revokes it and the next login is refused. The auth worker's user cannot read
# any file of the store. Private temp dir, 127.0.0.1 and pam_wrapper only
# (see dovecot_lib.sh).
#
# Codes are TOTP codes of the real clock: each change needs a step after the last one
# used, and a code is valid one step either side of now, so the three changes (confirm,
# create, revoke) fit in one or two 30 s steps (the test may wait up to 30 s).
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: $0 /path/to/apppass /path/to/pam_apppass.so /path/to/apppassd" >&2
    exit 2
fi
HERE=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source-path=SCRIPTDIR source=dovecot_lib.sh
source "$HERE/dovecot_lib.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/users.sh
source "$HERE/../lib/users.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/stage.sh
source "$HERE/../lib/stage.sh"
APPPASSD=$(realpath -e "$3")
dl_start "$1" "$2" broker
require_root_users
command -v setpriv >/dev/null || dl_fatal "setpriv not installed"

DAEMON_PID=""
stop_daemon() {
    if [[ -n $DAEMON_PID ]]; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
        DAEMON_PID=""
    fi
}
# Dovecot first: a user with running processes (the auth worker) cannot be removed.
broker_cleanup() {
    local rc=$?
    stop_dovecot
    stop_daemon
    if [[ -n ${WORKER:-} ]]; then
        for _ in $(seq 50); do pgrep -u "$WORKER" >/dev/null || break; sleep 0.1; done
    fi
    users_cleanup
    dl_cleanup "$rc"
}
trap broker_cleanup EXIT

make_test_group GRP dvverify || dl_fatal "groupadd"
make_test_user WORKER dvworker "$GRP" || dl_fatal "useradd (auth worker)"
make_test_user MAILER dvuser || dl_fatal "useradd (mail user)"

# The users reach staged copies (the build tree may be out of their reach).
USER_APPPASS=$(stage_program "$TMP/stage" "$APPPASS") || dl_fatal "staging apppass"
STAGED_PAM=$(stage_program "$TMP/pam" "$PAM_SO") || dl_fatal "staging pam_apppass.so"
# The staged module's private libraries (libapppass-shared.so): its RUNPATH names the
# build tree, which the non-root auth worker may not reach (a clone in /root).
DL_EXTRA_ENV="LD_LIBRARY_PATH=$TMP/pam/lib"
SOCK=$TMP/apppassd.sock
S=(--socket "$SOCK")

# me ARGS...: apppass as the mail user, in a clean environment, through the broker; stdin
# is passed on (the verification code).
me() {
    setpriv --reuid="$MAILER" --regid="$MAILER" --init-groups -- \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LD_LIBRARY_PATH="$TMP/stage/lib" \
        LC_ALL=C.UTF-8 TZ=UTC "ASAN_OPTIONS=${ASAN_OPTIONS:-}" "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}" \
        "$USER_APPPASS" "${S[@]}" "$@"
}

# ---- the store (root) and apppassd ---------------------------------------------------

ap init >/dev/null || dl_fatal "apppass init"
ap policy set self_enroll yes >/dev/null || dl_fatal "apppass policy set self_enroll yes"
start_daemon() {
    rm -f "$SOCK"
    env -u LD_PRELOAD "$APPPASSD" --db "$STORE" --socket "$SOCK" --group "$GRP" \
        >>"$TMP/apppassd.log" 2>&1 &
    DAEMON_PID=$!
    for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.1; done
    [[ -S $SOCK ]] || dl_fatal "apppassd did not listen on $SOCK: $(tail -n 5 "$TMP/apppassd.log")"
}
start_daemon
pass "apppassd listens on $SOCK (--group $GRP)"

# ---- Dovecot: PAM in an auth worker that is not root ----------------------------------

mkdir -p "$PAMDIR"
# debug: the module logs which way it verifies (in-process or through the broker).
printf 'auth    required %s db=%s broker=%s debug\naccount required %s\n' \
    "$STAGED_PAM" "$STORE" "$SOCK" "$STAGED_PAM" >"$PAMDIR/imap"
: >"$PAMDIR/other"
write_dovecot_conf "$CONF" "%s" "auth_cache_size = 0"
# Dovecot gives a service only the groups it names: extra_groups is how the worker gets
# the verifier group. drop_priv_before_exec (for pam_wrapper only): pam_wrapper copies the
# PAM services when the process starts, and the copy must belong to the worker's user; a
# worker that starts as that user then reads its config from the config socket, which
# that user must be able to open.
cat >>"$CONF" <<EOF
service auth-worker {
  user = $WORKER
  extra_groups = $GRP
  drop_priv_before_exec = yes
}
service config {
  unix_listener config {
    user = $WORKER
  }
}
EOF
start_dovecot

readable=()
while IFS= read -r f; do
    if as_user "$WORKER" test -r "$f"; then readable+=("$f"); fi
done < <(find "$STORE")
if [[ ${#readable[@]} -eq 0 && -n $(find "$STORE" -type f) ]]; then
    pass "the auth worker's user ($WORKER, in $GRP) can read no file of the store"
else
    fail "the auth worker's user can read no file of the store (readable: ${readable[*]})"
fi

# ---- TOTP codes --------------------------------------------------------------------------

SECRET=""
LAST_STEP=0
# next_code: prints a code for the first usable step after LAST_STEP that stays valid for
# at least 10 s (waiting for the clock when that step is still two ahead); LAST_STEP
# becomes that step.
next_code() {
    local now t s
    while :; do
        now=$(date +%s)
        t=$((now / 30))
        s=$((LAST_STEP + 1))
        ((s >= t - 1)) || s=$((t - 1))
        ((s != t - 1 || now % 30 <= 20)) || s=$t
        ((s > t + 1)) || break
        sleep $((30 - now % 30))
    done
    LAST_STEP=$s
    oathtool --totp -b "$SECRET" --now "@$((s * 30 + 15))"
}

# ---- self-service through the broker ---------------------------------------------------

out=$(me mfa enroll --json </dev/null) || dl_fatal "mfa enroll --json as $MAILER"
SECRET=$(json_get secret <<<"$out")
[[ -n $SECRET ]] || dl_fatal "mfa enroll --json gave no secret"
pass "$MAILER self-enrolls through apppassd"
next_code >"$TMP/code"
if me mfa confirm <"$TMP/code" >/dev/null; then pass "mfa confirm (code on stdin)"; else
    dl_fatal "mfa confirm as $MAILER"
fi
next_code >"$TMP/code"
out=$(me create --name phone --scope imap --json <"$TMP/code") || dl_fatal "create as $MAILER"
PW_ID=$(json_get id <<<"$out")
PW=$(json_get password <<<"$out")
[[ -n $PW_ID && -n $PW ]] || dl_fatal "create --json gave no id or password"
pass "$MAILER creates an imap app password (code on stdin)"

offset=$(log_size)
accepts "IMAP login with it: the non-root auth worker verifies through apppassd" "$MAILER" "$PW"
# grep without -q reads to the end: an early exit would SIGPIPE tail (pipefail).
if tail -c +$((offset + 1)) "$LOG" | grep -F "verify=broker $SOCK" >/dev/null; then
    pass "the module verified through the broker (its debug line says so)"
else
    fail "the module verified through the broker (no 'verify=broker $SOCK' debug line)"
fi
refuses "IMAP login with a wrong password is refused" "$MAILER" "abcd-efgh-jkmn-pqrs-tuvw"

USE=$(me list --json </dev/null | "$PY" -c '
import json, sys
for e in json.load(sys.stdin):
    if str(e["id"]) == sys.argv[1]:
        print(e.get("name"), e.get("last_service") or "-", e.get("last_rhost") or "-",
              "used" if e.get("last_used") else "never")' "$PW_ID" || true)
if [[ $USE == "phone imap 127.0.0.1 used" ]]; then
    pass "$MAILER's list shows it with its last use (imap from 127.0.0.1)"
else
    fail "$MAILER's list shows it with its last use (got '$USE')"
fi

# ---- apppassd stopped: fail closed; started again: verifies again ----------------------

stop_daemon
offset=$(log_size)
start=$(date +%s%N)
got=0
imap_login "$MAILER" "$PW" || got=$?
ms=$((($(date +%s%N) - start) / 1000000))
if [[ $got -ne 0 ]]; then
    pass "with apppassd stopped the login fails (${OUTCOME[got]}, ${ms} ms)"
else
    fail "with apppassd stopped the login fails (it logged in)"
fi
line=""
for _ in $(seq 20); do   # the log process may lag the reply a little
    line=$(module_lines_since "$offset" | grep -E "^SYSLOG\([0-9]+\): error service=imap user=$MAILER .*reason=unavailable detail=\"the apppass service is not running" || true)
    [[ -z $line ]] || break
    sleep 0.1
done
if [[ -n $line ]]; then
    pass "the module logged the service as unavailable"
else
    fail "the module logged the service as unavailable (lines: $(module_lines_since "$offset"))"
fi
start_daemon
accepts "apppassd started again: the login is accepted again" "$MAILER" "$PW"

# ---- revoke ----------------------------------------------------------------------------------

next_code >"$TMP/code"
if me revoke --name phone <"$TMP/code" >/dev/null; then pass "$MAILER revokes it (code on stdin)"; else
    fail "$MAILER revokes it (code on stdin)"
fi
refuses "the revoked app password is refused at once" "$MAILER" "$PW"

if grep -aqiF -e "$PW" "$TMP/apppassd.log"; then
    fail "apppassd's output holds no password"
else
    pass "apppassd's output holds no password"
fi
finish
