#!/bin/bash
# The migration of issue 12 behind a real Dovecot: real passwords until MFA, app passwords
# only after it.
#
# Usage: dovecot_migration.sh /path/to/apppass /path/to/pam_apppass.so
# Exit: 0 pass, 1 fail, 77 skipped (needs root: Dovecot, and a real system user).
#
# The IMAP service's PAM stack is the documented migration stack (README, pam_apppass(8)),
# under pam_wrapper so /etc/pam.d is never touched (see dovecot_lib.sh):
#
#   auth    [success=done ignore=ignore default=die]  pam_apppass.so unenrolled=ignore db=STORE
#   auth    required  pam_unix.so nodelay
#   account required  pam_unix.so
#
# (nodelay: pam_unix's 2 s failure delay only slows the test.) A real system user, made
# with useradd and given a real password with chpasswd (removed at the end), then:
# - unenrolled: reads mail over IMAP (LOGIN, SELECT, FETCH) with the real password, which
#   pam_unix checks after pam_apppass.so answered PAM_IGNORE (its "ignored ...
#   reason=not-enrolled" line); a wrong password is refused;
# - after `apppass mfa enroll` + `mfa confirm` (oathtool's code): the real password is
#   refused at once (the same Dovecot, no restart, no cache) and an app password reads
#   mail;
# - control: the same enrolled user under the old migration stack
#   `auth [success=done default=ignore] pam_apppass.so` logs in with the real password, so
#   the refusal above is the new stack's doing (apppass doctor flags the old one);
# - after `apppass mfa reset`: the real password reads mail again and the app password is
#   refused.
set -euo pipefail

HERE=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source-path=SCRIPTDIR source=dovecot_lib.sh
source "$HERE/dovecot_lib.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/users.sh
source "$HERE/../lib/users.sh"
dl_start "$@" migration
require_root_users
command -v chpasswd >/dev/null || dl_fatal "chpasswd not installed"

PAM_UNIX=""
for d in /lib/*/security /usr/lib/*/security /lib/security /lib64/security; do
    if [[ -f $d/pam_unix.so ]]; then PAM_UNIX=$d/pam_unix.so; break; fi
done
[[ -n $PAM_UNIX ]] || dl_fatal "pam_unix.so not found"

# Dovecot first: a user cannot be removed while a process of theirs runs.
migration_cleanup() {
    local rc=$?
    stop_dovecot
    users_cleanup
    dl_cleanup "$rc"
}
trap migration_cleanup EXIT

make_test_user MAILUSER dvmig || dl_fatal "useradd"
REAL_PW="Real-Pass-$RANDOM-$$"
printf '%s:%s\n' "$MAILUSER" "$REAL_PW" | chpasswd || dl_fatal "chpasswd"
pass "system user $MAILUSER with a real password (useradd, chpasswd)"

ap init >/dev/null || dl_fatal "apppass init"

# write_stack NEW|OLD: the imap service file. NEW is the documented migration stack; OLD
# is the stack the README recommended before issue 12 (its control).
write_stack() {
    mkdir -p "$PAMDIR"
    : >"$PAMDIR/other"
    if [[ $1 == NEW ]]; then
        cat >"$PAMDIR/imap" <<EOF
auth    [success=done ignore=ignore default=die] $PAM_SO unenrolled=ignore db=$STORE
auth    required $PAM_UNIX nodelay
account required $PAM_UNIX
EOF
    else
        cat >"$PAMDIR/imap" <<EOF
auth    [success=done default=ignore] $PAM_SO db=$STORE
auth    required $PAM_UNIX nodelay
account required $PAM_UNIX
EOF
    fi
}

# A message in the user's Maildir (home $TMP/home/USER, uid 65534: write_dovecot_conf).
deliver() {
    local md=$TMP/home/$MAILUSER/Maildir
    mkdir -p "$md/new" "$md/cur" "$md/tmp"
    printf 'From: admin@example.org\r\nTo: %s@example.org\r\nSubject: migration-test\r\n\r\nhello\r\n' \
        "$MAILUSER" >"$md/new/1.test"
    chown -R 65534:65534 "$TMP/home/$MAILUSER"
}

# reads_mail DESCRIPTION PASSWORD: logs in, selects INBOX and fetches the message's subject.
reads_mail() {
    local got=0
    IMAP_USER=$MAILUSER IMAP_PASS=$2 "$PY" - "$PORT" <<'EOF' || got=$?
import imaplib, os, sys
try:
    conn = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]), timeout=10)
    conn.login(os.environ["IMAP_USER"], os.environ["IMAP_PASS"])
except imaplib.IMAP4.error as e:
    sys.exit(1 if "[AUTHENTICATIONFAILED]" in str(e) else 2)
except Exception as e:
    print("  client error:", repr(e), file=sys.stderr)
    sys.exit(2)
typ, _ = conn.select("INBOX", readonly=True)
typ2, data = conn.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
conn.logout()
ok = typ == "OK" and typ2 == "OK" and b"migration-test" in b"".join(
    p[1] if isinstance(p, tuple) else b"" for p in data)
sys.exit(0 if ok else 3)
EOF
    case $got in
        0) pass "$1" ;;
        3) fail "$1 (logged in, but could not read the message)" ;;
        *) fail "$1 (got: ${OUTCOME[got]})" ;;
    esac
}

# module_line OFFSET TEXT: pam_apppass logged TEXT after OFFSET (through pam_wrapper's
# trace: "SYSLOG(PRIO): ...").
module_line() {
    local _
    for _ in $(seq 20); do   # the log process may lag the reply a little
        # not grep -q: an early exit would SIGPIPE tail, a failure under pipefail
        if tail -c +$(($1 + 1)) "$LOG" | grep -F -- "$2" >/dev/null; then
            pass "pam_apppass logged '$2'"
            return
        fi
        sleep 0.1
    done
    fail "pam_apppass logged '$2'"
}

write_stack NEW
write_dovecot_conf "$CONF" "%s" "auth_cache_size = 0"
deliver
start_dovecot

# ---- unenrolled: the real password -------------------------------------------------------
offset=$(log_size)
reads_mail "unenrolled: $MAILUSER reads mail with the real password (pam_unix decides)" "$REAL_PW"
module_line "$offset" "ignored service=imap user=$MAILUSER rhost=127.0.0.1 reason=not-enrolled"
refuses "unenrolled: a wrong real password is refused" "$MAILUSER" "Wrong-$REAL_PW"

# ---- enrolled: app passwords only ---------------------------------------------------------
enroll_mfa "$MAILUSER" || dl_fatal "apppass mfa enroll/confirm $MAILUSER"
pass "apppass mfa enroll + mfa confirm $MAILUSER (oathtool's code)"
offset=$(log_size)
refuses "after mfa confirm: the real password is refused at once" "$MAILUSER" "$REAL_PW"
module_line "$offset" "refused service=imap user=$MAILUSER rhost=127.0.0.1 reason=wrong-password"
out=$(create_pw "$MAILUSER" phone imap) || dl_fatal "apppass create --scope imap"
read -r APP_ID APP_PW <<<"$out"
reads_mail "after mfa confirm: the app password reads mail" "$APP_PW"

# The control: the pre-issue-12 stack lets the enrolled user's real password through.
stop_dovecot
write_stack OLD
start_dovecot
reads_mail "control: under [success=done default=ignore] the enrolled user's real password still logs in" "$REAL_PW"
stop_dovecot
write_stack NEW
start_dovecot
refuses "back on the migration stack: the real password is refused again" "$MAILUSER" "$REAL_PW"

# ---- mfa reset: the real password again ------------------------------------------------------
ap mfa reset "$MAILUSER" >/dev/null || dl_fatal "apppass mfa reset"
pass "apppass mfa reset $MAILUSER"
reads_mail "after mfa reset: the real password reads mail again" "$REAL_PW"
refuses "after mfa reset: the app password (id $APP_ID) is refused" "$MAILUSER" "$APP_PW"

# No password in what the modules log (pam_apppass's and pam_unix's syslog lines; at this
# trace level pam_wrapper itself prints PAM items, passwords included, so the rest of the
# log is no evidence either way).
module_lines=$(grep -o 'SYSLOG([0-9]*): .*' "$LOG" || true)
if [[ -z $module_lines ]]; then
    fail "the modules logged their decisions (no lines found)"
elif grep -qF -e "$REAL_PW" -e "$APP_PW" -e "${APP_PW//-/}" <<<"$module_lines"; then
    fail "no password appears in the modules' log lines"
else
    pass "no password appears in the modules' log lines"
fi

finish
