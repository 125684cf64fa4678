#!/bin/bash
# cli_doctor: `apppass doctor` on a throwaway deployment: a store made by `apppass init`
# for a temporary group, a private PAM directory with a good Dovecot stack, a private
# Postfix directory with a good sasl/smtpd.conf, and a private SASL plugin directory with
# the built libapppass.so beside the stock PLAIN and LOGIN plugins.
#
# Usage: test_doctor.sh APPPASS PAM_MODULE SASL_PLUGIN SASL_STOCK_DIR APPPASSD
#
# apppassd runs on a socket of the test's own (doctor --socket), serving a store of its own (the
# broker check asks it to show the policy; the store under test is never its).
# The healthy deployment exits 0 with the expected ok lines; then one fault at a time
# (store modes, a symlinked key, PAM stacks and options: among them the pam-auth-update
# profile's old and new forms, an enrolled user's real password reaching pam_unix, the TOTP
# step skippable or before the password; smtpd.conf, the plugin, the user Dovecot's auth
# worker runs as, a system account in the store without account=nss / apppass_account:
# nss, apppassd's socket: its mode and directory, no daemon, a stale socket, a daemon that
# never answers; apppass-web: its portal user (root, unknown, a verifier, not the unit's
# user; from apppassd.service and a drop-in), its PAM service (pam_permit, missing) and
# web.conf (off loopback, trusting every client)), each restored afterwards: the finding names the problem,
# the next line gives the fix, and the exit status is 8 for a problem, 0 for warnings
# alone. --json is checked with python3. Root only (exit 77 otherwise): it creates and
# deletes a group (the group apppassd answers verifications for), and tries the store as
# the dovecot and postfix users (the store is root's alone: neither may open it). Nothing under
# /etc/pam.d, /etc/postfix or /etc/dovecot is read or written (every directory is given);
# the temporary group and user (a login account, uid 1000 and up, made by useradd) are
# deleted on exit, which also removes the dovecot user from the group.
set -euo pipefail

if [[ $# -ne 5 ]]; then
    echo "usage: $0 APPPASS PAM_MODULE SASL_PLUGIN SASL_STOCK_DIR APPPASSD" >&2
    exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "# skipped: needs root (creates a group, tries the store as other users)"
    exit 77
fi
APPPASS=$(realpath -e "$1")
MODULE=$(realpath -e "$2")
PLUGIN=$(realpath -e "$3")
STOCK=$(realpath -e "$4")
APPPASSD=$(realpath -e "$5")
TMP=$(mktemp -d)
# The dovecot and postfix users must be able to reach the store for the trials to mean
# anything (the store directory itself is 0700: the refusal must come from the store).
chmod 0755 "$TMP"
GRP="apppass-dr$$"
DAEMON_PID=
FAKE_PID=
LOGIN_USER=
WEB_USER=
cleanup() {
    [[ -z $WEB_USER ]] || userdel "$WEB_USER" >/dev/null 2>&1 || true
    [[ -z $DAEMON_PID ]] || { kill "$DAEMON_PID" 2>/dev/null; wait "$DAEMON_PID" 2>/dev/null; } || true
    [[ -z $FAKE_PID ]] || { kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; } || true
    [[ -z $LOGIN_USER ]] || userdel "$LOGIN_USER" >/dev/null 2>&1 || true
    getent group "$GRP" >/dev/null && groupdel "$GRP"
    rm -rf "$TMP"
}
trap cleanup EXIT
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

groupadd "$GRP"
DB=$TMP/store
"$APPPASS" --db "$DB" init >/dev/null

# --- A healthy deployment.
PAM=$TMP/pam.d
mkdir "$PAM"
: >"$PAM/other"
for svc in imap pop3; do
    printf 'auth    required %s db=%s\naccount required %s db=%s\n' "$MODULE" "$DB" "$MODULE" "$DB" >"$PAM/$svc"
done
cat >"$PAM/common-auth" <<'EOF'
auth	[success=1 default=ignore]	pam_unix.so nullok
auth	requisite			pam_deny.so
auth	required			pam_permit.so
auth	optional			pam_cap.so
EOF
printf '@include common-auth\n' >"$PAM/sshd"
printf '@include common-auth\n' >"$PAM/login"

PF=$TMP/postfix
mkdir -p "$PF/sasl"
cat >"$PF/main.cf" <<'EOF'
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
smtpd_sasl_security_options = noanonymous
EOF
cat >"$PF/master.cf" <<'EOF'
# service type  private unpriv  chroot  wakeup  maxproc command + args
smtp      inet  n       -       y       -       -       smtpd
submission inet n       -       y       -       -       smtpd
  -o smtpd_tls_security_level=encrypt
EOF
GOOD_CONF="apppass_db: $DB
mech_list: PLAIN LOGIN"
printf '%s\n' "$GOOD_CONF" >"$PF/sasl/smtpd.conf"

SASL=$TMP/sasl2
mkdir "$SASL"
ln -s "$PLUGIN" "$SASL/libapppass.so"
ln -s "$STOCK/libplain.so" "$SASL/libplain.so"
ln -s "$STOCK/liblogin.so" "$SASL/liblogin.so"

# Dovecot's auth worker: root (doveconf prints an empty user, as Debian's default does)
# unless $TMP/worker names a user (set_worker). A stand-in for doveconf, so the system's Dovecot config
# does not matter.
cat >"$TMP/doveconf" <<EOF
#!/bin/sh
case "\$*" in
*auth-worker/user*) cat "$TMP/worker" 2>/dev/null || echo ;;
*) echo ;;
esac
EOF
chmod 0755 "$TMP/doveconf"
set_worker() { if [[ -n $1 ]]; then echo "$1" >"$TMP/worker"; else rm -f "$TMP/worker"; fi; }

# apppassd on a socket of our own, in a directory it makes (0755), for a store of its own.
SOCK=$TMP/run/apppassd.sock
"$APPPASS" --db "$TMP/dstore" init --group "$GRP" >/dev/null
start_daemon() {
    "$APPPASSD" --db "$TMP/dstore" --socket "$SOCK" --group "$GRP" >>"$TMP/apppassd.log" 2>&1 &
    DAEMON_PID=$!
    for _ in $(seq 100); do [[ -S $SOCK ]] && return 0; sleep 0.1; done
    echo "not ok - apppassd did not start: $(tail -n 3 "$TMP/apppassd.log")"
    exit 1
}
stop_daemon() {
    kill "$DAEMON_PID"
    wait "$DAEMON_PID" || true
    DAEMON_PID=
}
start_daemon

DOCTOR=(--db "$DB" doctor --socket "$SOCK" --group "$GRP" --pam-dir "$PAM" --postfix-dir "$PF" --sasl-dir "$SASL"
        --doveconf "$TMP/doveconf")

# finding LEVEL MSG_RE [FIX_RE]: $TMP/out has a "LEVEL: " line matching MSG_RE (extended
# regex) and, with FIX_RE, the line after it is "  fix: " matching FIX_RE.
finding() {
    "$PY" - "$TMP/out" "$@" <<'EOF'
import re, sys
path, level, msg = sys.argv[1:4]
fix = sys.argv[4] if len(sys.argv) > 4 else None
lines = open(path, encoding="utf-8").read().split("\n")
for i, l in enumerate(lines):
    if l.startswith(level + ": ") and re.search(msg, l[len(level) + 2:]):
        if fix is None:
            sys.exit(0)
        if i + 1 < len(lines) and lines[i + 1].startswith("  fix: ") and re.search(fix, lines[i + 1][7:]):
            sys.exit(0)
sys.exit(1)
EOF
}

# expect DESC RC LEVEL MSG_RE [FIX_RE]: runs the doctor; exit status RC and the finding.
expect() {
    local desc=$1 rc=$2
    shift 2
    run "${DOCTOR[@]}"
    local why
    why=$(crash_reason)
    if [[ -z $why && $RC -ne $rc ]]; then why="exit $RC, expected $rc"; fi
    if [[ -z $why ]] && ! finding "$@"; then why="no '$1' finding /$2/${3:+ with fix /$3/}"; fi
    if [[ -z $why && -s $TMP/err ]]; then why="unexpected output on stderr"; fi
    if [[ -z $why ]]; then ok "$desc"; else not_ok "$desc" "$why" "$(grep -v '^ok:' "$TMP/out" | head -n 12)"; fi
}

# Every line of a text report is a finding, a fix, or the summary.
well_formed() {
    ! grep -vqE '^((ok|warning|problem): .+|  fix: .+|summary: [0-9]+ problems?, [0-9]+ warnings?, [0-9]+ ok)$' "$TMP/out" &&
        ! LC_ALL=C grep -q '[[:cntrl:]]' <(tr -d '\n' <"$TMP/out")
}

# What the doctor must never change: owners, modes and the contents of the keys and data.
snapshot() {
    (cd "$DB" && find . -printf '%p %m %u %g\n' | sort && sha256sum key mfa.key data.mdb usage/data.mdb)
}
snapshot >"$TMP/before"

# shellcheck disable=SC2016  # the sed expression is meant literally
q() { printf '%s' "$1" | sed 's/[][\.*^$(){}+?|]/\\&/g'; }   # a literal for a regex

# rc_is DESC CODE: the last run exited with CODE.
rc_is() { if [[ $RC -eq $2 ]]; then ok "$1"; else not_ok "$1" "$(run_details)"; fi; }
QDB=$(q "$DB")
QSOCK=$(q "$SOCK")

# --- Healthy.
run "${DOCTOR[@]}"
if [[ $RC -eq 0 && -z $(crash_reason) && ! -s $TMP/err ]]; then ok "healthy deployment: exit 0"; else
    not_ok "healthy deployment: exit 0" "$(run_details)" "$(grep -v '^ok:' "$TMP/out" | head)"; fi
check "healthy: no problem or warning lines" not grep -qE '^(problem|warning):' "$TMP/out"
check "healthy: every line is a finding, a fix or the summary" well_formed
check "healthy: summary says 0 problems, 0 warnings" grep -qE '^summary: 0 problems, 0 warnings, [0-9]+ ok$' "$TMP/out"
for want in \
    "$QDB \(the store directory\) is root:root 0700" \
    "$QDB/key \(the password-hash key\) is root:root 0600" \
    "$QDB/mfa\.key \(the key that seals TOTP secrets\) is root:root 0600" \
    "$QDB/data\.mdb \(the credentials database\) is root:root 0600" \
    "$QDB/lock\.mdb \(.*\) is root:root 0600" \
    "$QDB/usage \(the last-use directory\) is root:root 0700" \
    "$QDB/usage/data\.mdb \(.*\) is root:root 0600" \
    "$QDB/usage/lock\.mdb \(.*\) is root:root 0600" \
    "the store opens for verifying \(schema version 2\)" \
    "the store opens for administration" \
    "imap line 1: 'auth required .*pam_apppass\.so': only app passwords are accepted \(app passwords need scope imap or all services; store $QDB\)" \
    "imap line 2: 'account required .*pam_apppass\.so'" \
    "pop3 line 1: 'auth required .*pam_apppass\.so': only app passwords are accepted" \
    "Postfix \(smtp, submission\) reads .*/sasl/smtpd\.conf, which names the store $QDB" \
    ".*/sasl/smtpd\.conf: mech_list is PLAIN LOGIN" \
    ".*/sasl2/libapppass\.so outranks the stock PLAIN and LOGIN .*PLAIN: apppass, plain; LOGIN: apppass, login" \
    "$QSOCK is a socket owned by root, mode 0666" \
    "apppassd answers at $QSOCK \(protocol 1\.[0-9]+\)"; do
    check "healthy: ok: $want" finding ok "^$want"
done
if getent passwd postfix >/dev/null; then
    check "healthy: postfix user tried for real, and needs no access" \
        finding ok "^user postfix cannot open the store \(tried as postfix\), as it should: .*as root"
fi
if getent passwd dovecot >/dev/null; then
    check "healthy: dovecot user needs no access while the auth worker runs as root" \
        finding ok "^user dovecot cannot open the store \(tried as dovecot\), as it should: Dovecot's auth worker runs PAM as root"
fi

# --- --json.
run "${DOCTOR[@]}" --json
rc_is "--json: exit 0" 0
jcheck "--json: an array of {check,status,message,fix}, fix null exactly for ok findings here" '
assert isinstance(j, list) and len(j) >= 15, j
for f in j:
    keys(f, "check", "status", "message", "fix")
    assert f["check"] in ("store", "access", "pam", "postfix", "sasl", "broker", "web"), f
    assert f["status"] in ("ok", "warning", "problem"), f
    assert isinstance(f["message"], str) and f["message"] and "\n" not in f["message"], f
    assert f["fix"] is None or (isinstance(f["fix"], str) and f["fix"]), f
    assert f["status"] == "ok" and f["fix"] is None, f
assert [f["check"] for f in j] == sorted((f["check"] for f in j), key=["store", "access", "pam", "postfix", "sasl", "broker", "web"].index)
'
"$APPPASS" "${DOCTOR[@]}" | grep -cE '^(ok|warning|problem): ' >"$TMP/count" || true
jcheck "--json: one element per text finding" 'assert len(j) == int(ARGS[0]), (len(j), ARGS[0])' "$(cat "$TMP/count")"
chmod 0644 "$DB/key"
run "${DOCTOR[@]}" --json
rc_is "--json with a problem: exit 8" 8
jcheck "--json: the problem has status problem and a fix" '
p = [f for f in j if f["status"] == "problem" and f["message"].startswith(ARGS[0] + "/key ")]
assert len(p) == 1, j
assert p[0]["check"] == "store" and p[0]["fix"] == "chmod 0600 " + ARGS[0] + "/key", p
' "$DB"
chmod 0600 "$DB/key"

# --- The store, one fault at a time.
chmod 0644 "$DB/key"
expect "key 0644: problem, its group and everyone can read it; fix chmod 0600" 8 problem \
    "^$QDB/key \(the password-hash key\) has mode 0644, expected 0600: its group can read it, everyone can read it$" "^chmod 0600 $QDB/key$"
chmod 0600 "$DB/key"

chmod 0640 "$DB/mfa.key"
expect "mfa.key 0640: problem, its group can read it; fix chmod 0600" 8 problem \
    "^$QDB/mfa\.key .* has mode 0640, expected 0600: its group can read it$" "^chmod 0600 $QDB/mfa\.key$"
check "mfa.key 0640: the store does not open for administration" \
    finding problem "^the store does not open for administration: .*mfa\.key has unsafe permissions 0640$" "fix the store problems above"
chmod 0600 "$DB/mfa.key"

chmod 0660 "$DB/data.mdb"
expect "data.mdb group-writable: problem, its group can read and write it; fix chmod 0600" 8 problem \
    "^$QDB/data\.mdb .* has mode 0660, expected 0600: its group can read it, its group can write it$" "^chmod 0600 $QDB/data\.mdb$"
chmod 0600 "$DB/data.mdb"

# The reader table as apppass made it before the store became root-only.
chmod 0660 "$DB/lock.mdb"
chgrp "$GRP" "$DB/lock.mdb"
expect "lock.mdb 0660 root:GROUP (an older store): problem, its group can read and write it" 8 problem \
    "^$QDB/lock\.mdb .* has mode 0660, expected 0600: its group can read it, its group can write it$" "^chmod 0600 $QDB/lock\.mdb$"
check "lock.mdb of another group: warning, fix chgrp root" \
    finding warning "^$QDB/lock\.mdb .* has group $GRP, expected root$" "^chgrp root $QDB/lock\.mdb$"
check "an older store: one problem for the store, fix: run any admin command" \
    finding problem "^the store is not root's alone: its group or everyone can reach 1 of its entries" \
    "^run any admin command as root to tighten it, e.g. 'apppass --db $QDB list'$"
check "lock.mdb 0660: root's verifiers refuse the store (problem)" \
    finding problem "^the store does not open for verifying: .*lock\.mdb has unsafe permissions 0660$"
chgrp root "$DB/lock.mdb"
chmod 0600 "$DB/lock.mdb"

chmod 0400 "$DB/lock.mdb"
expect "lock.mdb 0400: warning only (root is not affected); exit 0" 0 warning \
    "^$QDB/lock\.mdb .* has mode 0400, expected 0600: its owner cannot write it \(root is not affected\)$" \
    "^chmod 0600 $QDB/lock\.mdb$"
chmod 0600 "$DB/lock.mdb"

mv "$DB/key" "$DB/key.real"
ln -s key.real "$DB/key"
expect "symlinked key: problem, names the link; fix replaces it with the file" 8 problem \
    "^$QDB/key \(the password-hash key\) is a symbolic link" "cp --remove-destination .*$QDB/key && chmod 0600 $QDB/key"
rm "$DB/key"
mv "$DB/key.real" "$DB/key"

run --db "$TMP/nowhere" doctor --group "$GRP" --pam-dir "$PAM" --postfix-dir "$PF" --sasl-dir "$SASL" --doveconf "$TMP/doveconf"
rc_is "missing store: exit 8" 8
check "missing store: problem; fix apppass init" \
    finding problem "^store $(q "$TMP/nowhere") does not exist$" "apppass --db $(q "$TMP/nowhere") init"

# --- Who can open the store: nobody but root. Dovecot's auth worker as the dovecot user
# verifies through the broker, which answers members of the group only.
if getent passwd dovecot >/dev/null; then
    set_worker dovecot
    expect "auth worker runs as dovecot, not in the group: problem; fix adduser" 8 problem \
        "^user dovecot \(the user Dovecot's auth worker runs as\) is not in group $GRP: apppassd refuses its verifications" \
        "^adduser dovecot $GRP, then restart Dovecot$"
    check "auth worker as dovecot: it cannot open the store (tried as dovecot), as it should" \
        finding ok "^user dovecot \(the user Dovecot's auth worker runs as\) cannot open the store \(tried as dovecot\), as it should: it verifies through the broker"
    gpasswd -a dovecot "$GRP" >/dev/null
    expect "auth worker runs as dovecot, in the group: ok, apppassd answers it" 0 ok \
        "^user dovecot \(the user Dovecot's auth worker runs as\) is in group $GRP, so apppassd answers its verifications$"
    # The store as an older apppass made it (group GRP, 0750/0640/0660): the member
    # opens it, which is exactly what issue 11 forbids.
    chmod 0750 "$DB"
    chmod 0640 "$DB/key" "$DB/data.mdb"
    chmod 0660 "$DB/lock.mdb"
    chgrp "$GRP" "$DB" "$DB/key" "$DB/data.mdb" "$DB/lock.mdb"
    expect "an older group store: problem, dovecot can open it (tried as dovecot); fix: an admin command" 8 problem \
        "^user dovecot \(the user Dovecot's auth worker runs as\) can open the store \(tried as dovecot: $QDB\): it must be root's alone" \
        "^run any admin command as root to tighten the store, e.g. 'apppass --db $QDB list'$"
    chgrp root "$DB" "$DB/key" "$DB/data.mdb" "$DB/lock.mdb"
    chmod 0700 "$DB"
    chmod 0600 "$DB/key" "$DB/data.mdb" "$DB/lock.mdb"
    gpasswd -d dovecot "$GRP" >/dev/null
    set_worker ""
else
    note "no dovecot user: auth-worker checks skipped"
fi

# --- PAM.
printf 'auth required %s db=%s\n' "$MODULE" "$DB" >"$PAM/sshd"
expect "pam.d/sshd stacks the module: warning (interactive logins); exit 0" 0 warning \
    "^sshd line 1: stacks pam_apppass\.so for sshd, an interactive login" "only in the mail services' files"
printf '@include common-auth\n' >"$PAM/sshd"

printf 'auth required %s db=%s\n' "$MODULE" "$DB" >>"$PAM/common-auth"
expect "common-auth stacks the module: warning naming the services that include it" 0 warning \
    "^common-auth line 5: stacks pam_apppass\.so for every service that includes common-auth" "pam-auth-update"
sed -i '$d' "$PAM/common-auth"

# The shape the pam-auth-update profile (packaging/pam-configs/apppass) gives common-auth:
# a pam_succeed_if guard lets only mail services reach the module; an enrolled user's
# real password never reaches pam_unix (default=die), everyone else's does (ignore=ignore).
cp "$PAM/common-auth" "$TMP/common-auth.orig"
profile() {  # profile CONTROL ARGS: common-auth as pam-auth-update writes it with the profile
    {
        printf 'auth [success=ignore default=1] pam_succeed_if.so quiet service in dovecot:imap:pop3:smtp\n'
        printf 'auth %s %s %s db=%s\n' "$1" "$MODULE" "$2" "$DB"
        sed 's/\[success=1 default=ignore\]/[success=2 default=ignore]/' "$TMP/common-auth.orig"
    } >"$PAM/common-auth"
}
profile '[success=3 ignore=ignore default=die]' 'unenrolled=ignore try_first_pass'
expect "common-auth guarded for mail services (pam-auth-update profile): ok, no warning; exit 0" 0 ok \
    "^common-auth line 2: only services dovecot, imap, pop3, smtp reach pam_apppass\.so \(pam_succeed_if\)$"
check "guarded common-auth: no interactive-login warning, no warning at all" not grep -qE '^(warning|problem):' "$TMP/out"
check "guarded common-auth: enrolled users only with app passwords, anyone else on to pam_unix" \
    finding ok "^common-auth line 2: .*a user with a confirmed MFA enrollment logs in only with an app password; anyone else goes on to pam_unix\.so \(common-auth line 3\)"
sed -i '1s/service in dovecot:/service in sshd:dovecot:/' "$PAM/common-auth"
expect "guard that lets sshd through: warning naming sshd; fix edits the guard" 0 warning \
    "^common-auth line 2: lets sshd use app passwords" "take sshd out of the 'service in' list of pam_succeed_if\.so \(common-auth line 1\)"
# The profile of older packages: every refusal falls through to pam_unix.
profile '[success=3 default=ignore]' 'try_first_pass'
expect "the old profile form: warning, real passwords still pass; fix re-runs pam-auth-update; exit 0" 0 warning \
    "^common-auth line 2: '.*\[success=3 default=ignore\] .*pam_apppass\.so': every refusal goes on to pam_unix\.so \(common-auth line 3\), so a user's real password still passes, also once their MFA enrollment is confirmed" \
    "now writes '\[success=end ignore=ignore default=die\] pam_apppass\.so unenrolled=ignore': run 'pam-auth-update --enable apppass'"
profile '[success=3 default=ignore]' 'unenrolled=ignore try_first_pass'
expect "the old control with unenrolled=ignore: problem, an enrolled user's real password passes" 8 problem \
    "^common-auth line 2: .* with unenrolled=ignore: an enrolled user's real password still passes: pam_apppass refuses it, and the stack goes on to pam_unix\.so \(common-auth line 3\), which accepts it"
cp "$TMP/common-auth.orig" "$PAM/common-auth"

printf 'auth sufficient %s db=%s\nauth required pam_permit.so\n' "$MODULE" "$DB" >"$PAM/pop3"
expect "sufficient followed by pam_permit: problem, anyone gets in" 8 problem \
    "^pop3 line 1: after 'auth sufficient .*pam_apppass\.so' refuses, pam_permit\.so \(pop3 line 2\) can accept the login without asking for a password: anyone gets in$" \
    "auth required pam_apppass\.so"

printf 'auth sufficient %s db=%s\n@include common-auth\n' "$MODULE" "$DB" >"$PAM/pop3"
expect "sufficient followed by common-auth: warning, every real password still reaches pam_unix" 0 warning \
    "^pop3 line 1: 'auth sufficient .*pam_apppass\.so': every refusal goes on to pam_unix\.so \(common-auth line 1\), so a user's real password still passes" \
    "^use 'auth \[success=done ignore=ignore default=die\] pam_apppass\.so unenrolled=ignore' followed by the password module"
printf 'auth sufficient %s db=%s unenrolled=ignore\n@include common-auth\n' "$MODULE" "$DB" >"$PAM/pop3"
expect "sufficient with unenrolled=ignore followed by common-auth: problem" 8 problem \
    "^pop3 line 1: .* with unenrolled=ignore: an enrolled user's real password still passes"

printf 'auth [success=done default=ignore] %s db=%s\nauth required pam_unix.so\naccount required pam_unix.so\n' \
    "$MODULE" "$DB" >"$PAM/pop3"
expect "the older migration stack: warning, a refusal falls through to pam_unix" 0 warning \
    "^pop3 line 1: .*: every refusal goes on to pam_unix\.so \(pop3 line 2\), so a user's real password still passes"
printf 'auth [success=done ignore=ignore default=die] %s db=%s unenrolled=ignore\nauth required pam_unix.so\naccount required pam_unix.so\n' \
    "$MODULE" "$DB" >"$PAM/pop3"
expect "README's rollout stack: ok, enrolled users only with app passwords" 0 ok \
    "^pop3 line 1: .*: a user with a confirmed MFA enrollment logs in only with an app password; anyone else goes on to pam_unix\.so \(pop3 line 2\)"
check "README's rollout stack: no warning or problem" not grep -qE '^(warning|problem):' "$TMP/out"
printf 'auth [success=done default=die] %s db=%s unenrolled=ignore\nauth required pam_unix.so\n' "$MODULE" "$DB" >"$PAM/pop3"
expect "unenrolled=ignore without ignore=ignore: warning, users not enrolled cannot log in" 0 warning \
    "^pop3 line 1: .* with unenrolled=ignore: the control answers PAM_IGNORE with 'die'" "ignore=ignore"

# The TOTP step, in an interactive service (no warning about app passwords there).
printf '@include common-auth\nauth required %s totp db=%s\n' "$MODULE" "$DB" >"$PAM/sshd"
expect "sshd: common-auth, then the TOTP step: ok; exit 0" 0 ok \
    "^sshd line 2: 'auth required .*pam_apppass\.so totp': the verification code is asked after pam_unix\.so \(common-auth line 1\); a wrong one refuses the login"
check "the TOTP step in sshd: no warning (about app passwords in interactive logins or else)" \
    not grep -qE '^(warning|problem): sshd' "$TMP/out"
printf '@include common-auth\nauth sufficient %s totp db=%s\n' "$MODULE" "$DB" >"$PAM/sshd"
expect "sshd: sufficient TOTP step: problem, the second factor can be skipped" 8 problem \
    "^sshd line 2: .*: the second factor can be skipped" "auth required pam_apppass\.so totp"
printf 'auth required %s totp db=%s\n@include common-auth\n' "$MODULE" "$DB" >"$PAM/sshd"
expect "sshd: the TOTP step before the password: warning; exit 0" 0 warning \
    "^sshd line 1: .* comes before the password module pam_unix\.so \(common-auth line 1\)"
# tests/integration/sshd_totp.sh's stack: a wrong password goes on to the code.
printf 'auth required pam_unix.so nodelay\nauth required %s totp db=%s\n' "$MODULE" "$DB" >"$PAM/sshd"
expect "sshd: 'required pam_unix' then the TOTP step: warning, the code is asked after a wrong password; exit 0" 0 warning \
    "^sshd line 2: 'auth required .*pam_apppass\.so totp': 'auth required pam_unix\.so' \(sshd line 1\) refuses a wrong password, but the stack goes on, so the verification code is still asked, checked and counted before the login fails: anyone who knows a user name can use up that user's 5 code tries and lock their codes for 10 minutes$" \
    "^make the password module 'requisite' \('auth requisite pam_unix\.so'"
check "... and no ok line for that step" not finding ok "^sshd line 2: "
printf 'auth requisite pam_unix.so nodelay\nauth required %s totp db=%s\n' "$MODULE" "$DB" >"$PAM/sshd"
expect "sshd: 'requisite pam_unix' then the TOTP step: ok" 0 ok \
    "^sshd line 2: .*: the verification code is asked after pam_unix\.so \(sshd line 1\)"
check "... and no warning or problem for sshd" not grep -qE '^(warning|problem): sshd' "$TMP/out"
# 'optional pam_unix': a wrong password is ignored, and the code alone logs in.
printf 'auth optional pam_unix.so nodelay\nauth required %s totp db=%s\n' "$MODULE" "$DB" >"$PAM/sshd"
expect "sshd: 'optional pam_unix' then the TOTP step: problem, the code alone logs in; exit 8" 8 problem \
    "^sshd line 2: 'auth required .*pam_apppass\.so totp': a wrong password is ignored: 'auth optional pam_unix\.so' \(sshd line 1\) refuses it, but that does not fail the login, and nothing after the verification code fails it either: the verification code alone logs in$" \
    "^make the password module 'requisite' \('auth requisite pam_unix\.so'.* follow '\[success=1 default=ignore\] pam_unix\.so' with 'auth requisite pam_deny\.so'"
check "... and no ok line for that step" not finding ok "^sshd line 2: "
printf '@include common-auth\n' >"$PAM/sshd"

printf 'auth [success=done default=ok] %s db=%s\n' "$MODULE" "$DB" >"$PAM/pop3"
expect "default=ok: problem, a refusal counts as success" 8 problem \
    "^pop3 line 1: .* counts a refusal by pam_apppass as success"

printf 'auth optional %s db=%s\n' "$MODULE" "$DB" >"$PAM/pop3"
expect "optional as the only auth module: warning" 0 warning "^pop3 line 1: .*'optional'" "auth required pam_apppass\.so"

printf 'auth required %s db=%s frobnicate\n' "$MODULE" "$DB" >"$PAM/pop3"
expect "unknown module option: problem naming it" 8 problem \
    "^pop3 line 1: option 'frobnicate': unknown option: pam_apppass refuses every login" "the options are db=DIR scope=NAME"
check "unknown module option: no ok line for that line" not finding ok "^pop3 line 1:"

printf 'auth required %s db=/srv/elsewhere\n' "$MODULE" >"$PAM/pop3"
expect "db= pointing at another store: problem" 8 problem \
    "^pop3 line 1: the module reads the store /srv/elsewhere, but this doctor checked $QDB$" "^set db=$QDB in "
printf 'auth    required %s db=%s\naccount required %s db=%s\n' "$MODULE" "$DB" "$MODULE" "$DB" >"$PAM/pop3"

# Mail users who are people's system accounts (uid 1000 and up): locking one should stop
# its app passwords, so account=nss (PAM) and apppass_account: nss (SASL) are suggested.
# Enrolling a user changes the store: first make sure no run so far changed it, then
# take the snapshot again.
snapshot >"$TMP/mid"
if cmp -s "$TMP/before" "$TMP/mid"; then ok "the doctor changed nothing so far"; else
    not_ok "the doctor changed nothing so far" "$(diff "$TMP/before" "$TMP/mid" | head)"; fi
expect "no system accounts in the store: no account=nss suggestion" 0 ok "^imap line 1:"
check "... none for PAM or SASL" not grep -qE "account=nss|apppass_account" "$TMP/out"
LOGIN_USER=apdr$$
useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$LOGIN_USER"
command -v oathtool >/dev/null && enroll_user "$DB" "$LOGIN_USER"
snapshot >"$TMP/before"
LOGIN_UID=$(id -u "$LOGIN_USER")
if [[ $LOGIN_UID -ge 1000 ]] && command -v oathtool >/dev/null; then
    expect "a system account (uid $LOGIN_UID) in the store: warning, account=nss suggested for imap" 0 warning         "^imap: 1 user of the store is a system account \(uid 1000 and up: $LOGIN_USER\), but no account line of this service has 'pam_apppass\.so account=nss'"         "^add 'account required pam_apppass\.so account=nss' to the account lines of imap"
    check "... and apppass_account: nss for Postfix's smtpd.conf" finding warning         ".*/sasl/smtpd\.conf: 1 user of the store is a system account \(uid 1000 and up: $LOGIN_USER\), but apppass_account is not nss"         "^add 'apppass_account: nss' to .*/sasl/smtpd\.conf, then postfix reload$"
    printf 'auth    required %s db=%s\naccount required %s db=%s account=nss\n' "$MODULE" "$DB" "$MODULE" "$DB" >"$PAM/imap"
    printf '%s\n' "$GOOD_CONF" "apppass_account: nss" >"$PF/sasl/smtpd.conf"
    run "${DOCTOR[@]}"
    check "account=nss on imap's account line: no suggestion for imap" not finding warning "^imap: .*account=nss"
    check "... still one for pop3" finding warning "^pop3: 1 user of the store is a system account"
    check "apppass_account: nss in smtpd.conf: no suggestion for it" not finding warning "apppass_account"
    # (Whether smtpd can then reach apppassd is checked further down.)
    printf '%s\n' "$GOOD_CONF" >"$PF/sasl/smtpd.conf"
    printf 'auth    required %s db=%s account=nss\naccount required %s db=%s\n' "$MODULE" "$DB" "$MODULE" "$DB" >"$PAM/imap"
    expect "account=nss on the auth line: warning, it does nothing there" 0 warning \
        "^imap line 1: account=nss on an auth line does nothing" "^put it on the service's account line"
    printf 'auth    required %s db=%s\naccount required %s db=%s\n' "$MODULE" "$DB" "$MODULE" "$DB" >"$PAM/imap"
else
    note "useradd gave uid $LOGIN_UID (< 1000) or no oathtool: the account=nss suggestion is not checked"
fi
tool --db "$DB" mfa reset "$LOGIN_USER" >/dev/null 2>&1 || true
userdel "$LOGIN_USER" >/dev/null 2>&1 || true
LOGIN_USER=
snapshot >"$TMP/before"

# --- Postfix's smtpd.conf.
printf 'mech_list: PLAIN LOGIN\n' >"$PF/sasl/smtpd.conf"
expect "smtpd.conf without apppass_db: problem; fix names the store" 8 problem \
    "smtpd\.conf does not name the store \(no apppass_db\)" "apppass_db: $QDB"
printf 'apppass_db: /srv/other-store\nmech_list: PLAIN LOGIN\n' >"$PF/sasl/smtpd.conf"
expect "smtpd.conf pointing elsewhere: problem" 8 problem \
    "smtpd\.conf names the store /srv/other-store, but this doctor checked $QDB$" "apppass_db: $QDB"
printf '%s\n' "apppass_db: $DB" "mech_list: PLAIN LOGIN CRAM-MD5" >"$PF/sasl/smtpd.conf"
expect "mech_list with CRAM-MD5: warning naming it; exit 0" 0 warning \
    "mech_list also offers CRAM-MD5: only PLAIN and LOGIN can carry an app password" "mech_list: PLAIN LOGIN"
printf '%s\n' "apppass_db: $DB" "mech_list:" >"$PF/sasl/smtpd.conf"
expect "smtpd.conf line libsasl2 refuses (empty value): problem" 8 problem \
    "smtpd\.conf: line 2: empty value for mech_list: libsasl2 refuses the file"
# Issue 12's options, read with the plugin's own parser.
printf '%s\n' "$GOOD_CONF" "apppass_unenrolled: pwcheck" "pwcheck_method: saslauthd" \
    >"$PF/sasl/smtpd.conf"
expect "smtpd.conf with apppass_unenrolled: pwcheck: fine" 0 ok \
    "smtpd\.conf, which names the store $QDB$"
# apppass_account: nss: smtpd (chrooted in this master.cf, as user postfix) must reach
# apppassd inside its chroot, and apppassd must answer user postfix.
QUEUE=$TMP/spool
cp "$PF/main.cf" "$TMP/main.cf.good"
printf 'queue_directory = %s\n' "$QUEUE" >>"$PF/main.cf"
printf '%s\n' "$GOOD_CONF" "apppass_account: nss" "apppass_broker: $SOCK" >"$PF/sasl/smtpd.conf"
expect "apppass_account: nss, no apppassd socket in smtpd's chroot: problem; fix bind-mounts it" 8 problem \
    "smtpd\.conf sets apppass_account: nss, and smtpd \(smtp, submission\) runs chrooted to $(q "$QUEUE"): it asks apppassd at $QSOCK, which it finds at $(q "$QUEUE$SOCK"), where there is no socket" \
    "mount --bind $(q "$TMP/run") $(q "$QUEUE$TMP/run")"
expect "apppass_account: nss, user postfix not in the verifiers' group: problem" 8 problem \
    "apppassd, which answers members of group $GRP only, and user postfix is not one" "^adduser postfix $GRP"
mkdir -p "$QUEUE$TMP/run"
"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$QUEUE$SOCK"
gpasswd -a postfix "$GRP" >/dev/null
expect "apppass_account: nss, socket in the chroot, postfix in the group: ok" 0 ok \
    "smtpd\.conf sets apppass_account: nss: smtpd can ask apppassd at $QSOCK$"
gpasswd -d postfix "$GRP" >/dev/null
cp "$TMP/main.cf.good" "$PF/main.cf"
printf '%s\n' "$GOOD_CONF" "apppass_unenrolled: ignore" >"$PF/sasl/smtpd.conf"
expect "apppass_unenrolled: ignore (the PAM word): problem in the plugin's words" 8 problem \
    "smtpd\.conf: apppass_unenrolled: 'ignore' is not deny or pwcheck: the plugin refuses every SMTP login"
rm "$PF/sasl/smtpd.conf"
expect "SMTP AUTH on, smtpd.conf missing: problem" 8 problem \
    "^Postfix \(smtp, submission\) offers SMTP AUTH through Cyrus SASL, but .*smtpd\.conf does not exist" "apppass_db: $QDB"
printf '%s\n' "$GOOD_CONF" >"$PF/sasl/smtpd.conf"
mv "$PF/main.cf" "$PF/main.cf.off"
expect "no main.cf: ok, postfix not installed" 0 ok "^postfix not installed"
mv "$PF/main.cf.off" "$PF/main.cf"

# --- The SASL plugin.
mv "$SASL/libapppass.so" "$TMP/plugin.off"
expect "plugin missing while smtpd.conf names the store: problem" 8 problem \
    "libapppass\.so is not installed, but Postfix's SASL config names the store" "libsasl2-modules-apppass"
mv "$TMP/plugin.off" "$SASL/libapppass.so"

ln -sf "$MODULE" "$SASL/libapppass.so"   # a shared object that is not a SASL plugin
expect "a libapppass.so that is not the plugin: problem, it did not register PLAIN and LOGIN, and why" 8 problem \
    "libapppass\.so did not register PLAIN and LOGIN for an application that names the store $QDB: it does not export sasl_server_plug_init$" "saslpluginviewer"
ln -sf "$PLUGIN" "$SASL/libapppass.so"

# Another plugin that outranks ours for PLAIN (a higher hash strength sorts first in
# libsasl2's list): built here from a few lines of C.
if CC=$(command -v cc || command -v gcc); then
    cat >"$TMP/rank.c" <<'CEOF'
#include <sasl/sasl.h>
#include <sasl/saslplug.h>
static int New(void *g, sasl_server_params_t *p, const char *c, unsigned l, void **ctx) {
  (void)g; (void)p; (void)c; (void)l; *ctx = 0; return SASL_OK;
}
static int Step(void *c, sasl_server_params_t *p, const char *in, unsigned inlen, const char **out,
                unsigned *outlen, sasl_out_params_t *o) {
  (void)c; (void)p; (void)in; (void)inlen; (void)out; (void)outlen; (void)o; return SASL_BADAUTH;
}
static sasl_server_plug_t plugs[] = {{"PLAIN", 0,
    SASL_SEC_NOANONYMOUS | SASL_SEC_PASS_CREDENTIALS | SASL_SET_HASH_STRENGTH_BITS(512),
    SASL_FEAT_WANT_CLIENT_FIRST, 0, New, Step, 0, 0, 0, 0, 0, 0, 0}};
int sasl_server_plug_init(const sasl_utils_t *u, int max, int *out, sasl_server_plug_t **list, int *n) {
  (void)u; (void)max; *out = SASL_SERVER_PLUG_VERSION; *list = plugs; *n = 1; return SASL_OK;
}
CEOF
    "$CC" -shared -fPIC -o "$SASL/libzzrank.so" "$TMP/rank.c"
    expect "another plugin outranks ours for PLAIN: problem naming it" 8 problem \
        "^libsasl2 ranks the PLAIN of plugin zzrank ahead of libapppass\.so's: Postfix uses that one" "zzrank"
    check "another plugin outranks ours for PLAIN: LOGIN is still ours (no LOGIN problem)" \
        not finding problem "LOGIN"
    rm "$SASL/libzzrank.so"
else
    note "no C compiler: the outranking-plugin check is skipped"
fi

# --- apppassd's socket.
chmod 0600 "$SOCK"
expect "socket 0600: warning, users cannot connect; exit 0" 0 warning \
    "^$QSOCK is mode 0600: users other than root cannot connect" "^chmod 0666 $QSOCK "
chmod 0666 "$SOCK"
chmod 0777 "$TMP/run"
expect "socket directory 0777: problem, another socket could take its place" 8 problem \
    "^$(q "$TMP/run") \(the socket's directory\) is root:root 0777: others than root could put another socket" \
    "^chown root:root $(q "$TMP/run") && chmod 0755 $(q "$TMP/run")$"
chmod 0755 "$TMP/run"
stop_daemon
rm -f "$SOCK"
expect "apppassd not running (no socket): problem; fix starts apppassd.socket" 8 problem \
    "^apppassd not reachable at $QSOCK: No such file or directory" "^systemctl enable --now apppassd\.socket$"
"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK"
expect "a stale socket nobody listens on: problem, not running" 8 problem \
    "^apppassd not reachable at $QSOCK: the apppass service is not running \(connect $QSOCK: Connection refused\)" \
    "^systemctl enable --now apppassd\.socket$"
rm -f "$SOCK"
env -u LD_PRELOAD "$PY" "$(dirname "${BASH_SOURCE[0]}")/../lib/fake_broker.py" "$SOCK" hang &
FAKE_PID=$!
for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.1; done
expect "a daemon that never answers: problem within the 1.5 s deadline" 8 problem \
    "^apppassd not reachable at $QSOCK: no answer from the apppass service within 1\.5 s" \
    "^systemctl enable --now apppassd\.socket$"
kill "$FAKE_PID"
wait "$FAKE_PID" || true
FAKE_PID=
rm -f "$SOCK" "$SOCK.log"
start_daemon

# --- apppass-web (the web check): a portal user of our own (a system user, deleted on
# exit), units in a directory of our own (--systemd-dir), web.conf (--web-conf), and the
# PAM service apppass-web in the private PAM directory, as the package ships it.
WEB_USER="apwd$$"
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$WEB_USER"
SD=$TMP/systemd
mkdir -p "$SD"
printf '[Service]\nExecStart=/usr/sbin/apppassd --portal-user %s\n' "$WEB_USER" >"$SD/apppassd.service"
printf '[Service]\nExecStart=/usr/sbin/apppass-web --config /etc/apppass/web.conf\nUser=%s\n' \
    "$WEB_USER" >"$SD/apppass-web.service"
WEBCONF=$TMP/web.conf
PACKAGED_CONF=$(dirname "${BASH_SOURCE[0]}")/../../packaging/config/web.conf
{ cat "$PACKAGED_CONF"; echo "imap_host = mail.example.org"; } >"$WEBCONF"
printf 'account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\naccount\trequisite\tpam_deny.so\naccount\trequired\tpam_permit.so\n' \
    >"$PAM/common-account"
cp "$(dirname "${BASH_SOURCE[0]}")/../../packaging/pam.d/apppass-web" "$PAM/apppass-web"
DOCTOR_PLAIN=("${DOCTOR[@]}")
DOCTOR+=(--web-conf "$WEBCONF" --systemd-dir "$SD")
QWEB=$(q "$WEBCONF")
run "${DOCTOR[@]}"
rc_is "apppass-web set up as packaged: exit 0" 0
check "apppass-web as packaged: no problem or warning" not grep -qE '^(problem|warning):' "$TMP/out"
for want in "^the portal user $WEB_USER \(uid [0-9]+\) exists, is not root and is not a verifier$" \
            "^$(q "$PAM")/apppass-web: a sign-in on the page needs the password \(pam_unix\.so\)$" \
            "^$QWEB is valid \(listen 127\.0\.0\.1:8088, plain HTTP on loopback\)$"; do
    check "apppass-web as packaged: ok /$want/" finding ok "$want"
done
printf 'auth sufficient pam_permit.so\n@include common-auth\n@include common-account\n' >"$PAM/apppass-web"
expect "PAM service apppass-web with pam_permit sufficient: problem, anyone signs in" 8 problem \
    "^$(q "$PAM")/apppass-web: the sign-in succeeds without a right password \(apppass-web line 1: auth sufficient pam_permit\.so\)" \
    "^make $(q "$PAM")/apppass-web '@include common-auth'"
rm "$PAM/apppass-web"
expect "no PAM service apppass-web: problem, libpam would use 'other'" 8 problem \
    "^no $(q "$PAM")/apppass-web: libpam uses the 'other' service" "apt-get install --reinstall apppass-web"
cp "$(dirname "${BASH_SOURCE[0]}")/../../packaging/pam.d/apppass-web" "$PAM/apppass-web"
cp "$WEBCONF" "$TMP/web.conf.good"
sed -i 's/^listen = .*/listen = 0.0.0.0:8088/' "$WEBCONF"
expect "web.conf: plain HTTP off loopback: problem" 8 problem \
    "^$QWEB: listen 0\.0\.0\.0:8088 is not a loopback address, and there is no TLS" \
    "^listen on 127\.0\.0\.1 behind a TLS reverse proxy"
cp "$TMP/web.conf.good" "$WEBCONF"
sed -i 's|^trusted_proxies = .*|trusted_proxies = 0.0.0.0/0|' "$WEBCONF"
expect "web.conf: trusted_proxies 0.0.0.0/0: problem, every client trusted" 8 problem \
    "^$QWEB: trusted_proxies: 0\.0\.0\.0/0 trusts every client"
cp "$TMP/web.conf.good" "$WEBCONF"
# The portal user from a drop-in that replaces ExecStart=.
mkdir "$SD/apppassd.service.d"
printf '[Service]\nExecStart=\nExecStart=/usr/sbin/apppassd --portal-user=root\n' >"$SD/apppassd.service.d/portal.conf"
expect "apppassd --portal-user=root (in a drop-in): problem" 8 problem "^the portal user root is root"
printf '[Service]\nExecStart=\nExecStart=/usr/sbin/apppassd --portal-user nosuch-%s\n' "$$" >"$SD/apppassd.service.d/portal.conf"
expect "apppassd --portal-user of no user: problem, the broker refuses the page" 8 problem \
    "^no user nosuch-$$ \(apppassd's --portal-user\)" "^adduser --system --group"
rm -r "$SD/apppassd.service.d"
printf '[Service]\nUser=www-data\n' >"$SD/apppass-web.service"
expect "apppass-web.service runs as another user than the broker trusts: problem" 8 problem \
    "^apppass-web\.service runs as www-data, but apppassd trusts $WEB_USER"
printf '[Service]\nUser=%s\n' "$WEB_USER" >"$SD/apppass-web.service"
usermod -a -G "$GRP" "$WEB_USER"
expect "the portal user in the verifiers' group: problem" 8 problem \
    "^the portal user $WEB_USER is in group $GRP: it could ask apppassd to verify" "^gpasswd -d $WEB_USER $GRP$"
gpasswd -d "$WEB_USER" "$GRP" >/dev/null
run "${DOCTOR[@]}"
rc_is "apppass-web restored: exit 0" 0
DOCTOR=("${DOCTOR_PLAIN[@]}" --web-conf "$TMP/no-web.conf" --systemd-dir "$TMP/no-systemd")
if [[ -e /usr/sbin/apppass-web ]]; then
    note "SKIP apppass-web not installed: /usr/sbin/apppass-web exists on this machine"
else
    expect "apppass-web not installed (no program, unit or web.conf): one ok line" 0 ok \
        "^apppass-web is not installed"
fi
DOCTOR=("${DOCTOR_PLAIN[@]}")

# --- Back to healthy, and nothing was changed by any run.
run "${DOCTOR[@]}"
rc_is "restored deployment: exit 0 again" 0
snapshot >"$TMP/after"
if cmp -s "$TMP/before" "$TMP/after"; then ok "the doctor changed no owner, mode, key or data"; else
    not_ok "the doctor changed no owner, mode, key or data" "$(diff "$TMP/before" "$TMP/after" | head)"; fi

finish
