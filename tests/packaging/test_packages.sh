#!/bin/bash
# packaging_debs: build the Debian packages, install them on this machine, check the
# installed files at their real paths end to end, purge them and check that nothing is
# left and the system's PAM configuration is unchanged.
#
# Usage: test_packages.sh SRC_DIR PAM_WRAPPER_LIBRARY PAMTESTER
#
# Root only, and only on a machine where none of the packages is installed and there is
# no /var/lib/apppass or /etc/apppass (it refuses otherwise, rather than touch a real
# deployment). CTest registers it only with -DAPPPASS_PACKAGING_TESTS=ON (.ci/test).
#
#   1. packaging/build-deb builds the packages; lintian reports no error, and every
#      warning it reports is explained in packaging/README.md.
#   2. Snapshot: /etc/pam.d, /usr/share/pam-configs, /var/lib/pam, /etc/group,
#      /etc/gshadow, /etc/passwd (bytes) and dpkg's package states.
#   3. apt-get install of the five packages (not the -dbgsym ones).
#   4. The files at their real paths, with owners and modes: the module in the multiarch
#      PAM directory, the plugin in libsasl2's, the tool and the daemon in /usr/sbin, man
#      pages (man -w finds them), examples, bash completion, the pam-auth-update profile,
#      the hooks directory; the apppass group and the store /var/lib/apppass made by
#      postinst; /etc/pam.d untouched but for apppass-web's own service, /var/lib/pam
#      untouched (the profile is "Default: no").
#      The systemd units in /lib/systemd/system pass systemd-analyze verify; the package
#      enabled the socket (its link in sockets.target.wants) and not the service;
#      /usr/sbin/apppassd --version runs, and the installed daemon, run in the foreground
#      on a private socket, answers the handshake and a request and exits 0 on SIGTERM.
#      Where systemd is the running init, the socket is active and answers.
#      apppass-web: the program, its assets and catalogues, man page, nginx example, the
#      PAM service and web.conf (conffiles), the unit (verified, not enabled), and the
#      system user apppass-web made by postinst (no home, no shell, not root); the
#      doctor's web check on it.
#   5. End to end with the installed files: /usr/sbin/apppass enrolls, confirms (oathtool)
#      and creates app passwords in /var/lib/apppass; pamtester logs in through the
#      installed module, under pam_wrapper, with the installed example stack
#      (examples/pam.d-imap, module path made absolute); wrong and revoked passwords are
#      refused, and the decision lines say why. The pam-auth-update profile, enabled in a
#      copy of the system's PAM configuration (pam-auth-update --root), accepts an app
#      password for imap and skips the module entirely for sshd and su. The other example
#      stacks (pop3, migration, saslauthd's smtp). A revocation runs the example hook
#      installed into /etc/apppass/hooks.d. `apppass doctor` on the result. tests/sasl/test_postfix.sh runs a real Postfix with the installed
#      plugin and tool.
#   6. apt-get purge: no file of the packages is left, no /var/lib/apppass, /etc/apppass
#      or group apppass (when postinst created it), no user or group apppass-web, no link
#      or deb-systemd-helper state of the socket or of apppass-web.service, and every
#      snapshot of step 2 (/etc/passwd and /etc/group included) is byte for byte what it
#      was.
# An EXIT trap purges the packages and removes what the test made, whatever happened.
# Prints "ok - ..." / "not ok - ..." per check and "N passed, N failed"; exits 1 when
# anything failed.
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: $0 SRC_DIR PAM_WRAPPER_LIBRARY PAMTESTER" >&2
    exit 2
fi
SRC=$(realpath -e "$1")
WRAPPER=$(realpath -e "$2")
PAMTESTER=$(realpath -e "$3")

PACKAGES=(apppass libpam-apppass libsasl2-modules-apppass libapppass-shared apppass-web)
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
PAM_DIR=/usr/lib/$MULTIARCH/security
SASL_DIR=/usr/lib/$MULTIARCH/sasl2
STORE=/var/lib/apppass
APP=/usr/sbin/apppass
DAEMON=/usr/sbin/apppassd
UNIT_DIR=/lib/systemd/system
SOCKET_LINK=/etc/systemd/system/sockets.target.wants/apppassd.socket
DSH_STATE=/var/lib/systemd/deb-systemd-helper-enabled
TESTUSER=pkgtest-alice
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 TZ=UTC

TMP=$(mktemp -d "${TMPDIR:-/tmp}/apppass-packages.XXXXXX")
chmod 0755 "$TMP"
INSTALLED=no
# shellcheck source-path=SCRIPTDIR source=../lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/setup.sh"

apt_get() { apt-get -y -q -o DPkg::Lock::Timeout=600 "$@"; }

purge_packages() {
    local present=() p
    for p in "${PACKAGES[@]}"; do
        if dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^[a-z][a-zA-Z]'; then
            present+=("$p")
        fi
    done
    [[ ${#present[@]} -eq 0 ]] || apt_get purge "${present[@]}" >"$TMP/purge.log" 2>&1
}

DAEMON_PID=""
cleanup() {
    local rc=$?
    trap - ERR
    if [[ -n $DAEMON_PID ]]; then kill "$DAEMON_PID" 2>/dev/null || true; fi
    if [[ $INSTALLED == yes ]]; then
        # A file of ours in a package's directory would keep dpkg from removing it.
        rm -f /etc/apppass/hooks.d/dovecot-auth-cache-flush
        echo "# cleanup: purging the packages"
        purge_packages || { echo "# cleanup: apt-get purge failed:"; sed 's/^/#   /' "$TMP/purge.log"; rc=1; }
    fi
    rm -rf -- "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 0. preconditions ----------------------------------------------------------------

fatal() {
    not_ok "$1" "${@:2}"
    finish || true
    exit 1
}
[[ $(id -u) -eq 0 ]] || fatal "runs as root (it installs packages)"
for tool in apt-get dpkg-query dpkg-deb lintian oathtool man python3 pam-auth-update systemd-analyze; do
    command -v "$tool" >/dev/null || fatal "$tool is installed"
done
for p in "${PACKAGES[@]}"; do
    if dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^[a-z][a-zA-Z]'; then
        fatal "$p is not installed before the test" "it is: the test would purge a real installation"
    fi
done
for path in "$STORE" /etc/apppass "$SOCKET_LINK" /etc/pam.d/apppass-web; do
    [[ ! -e $path && ! -L $path ]] ||
        fatal "$path does not exist before the test" "it does: the test would touch a real deployment"
done
GROUP_BEFORE=no
if getent group apppass >/dev/null; then GROUP_BEFORE=yes; fi
note "group apppass exists before the test: $GROUP_BEFORE"
# apppass-web's postinst makes this user, and its postrm removes only a user it made.
if getent passwd apppass-web >/dev/null || getent group apppass-web >/dev/null; then
    fatal "no user or group apppass-web before the test" "there is: the test would remove it"
fi

# ---- 1. build and lintian ------------------------------------------------------------

DEBS=$TMP/debs
if "$SRC/packaging/build-deb" "$DEBS" >"$TMP/build.out" 2>"$TMP/build.err"; then
    ok "packaging/build-deb builds the packages"
else
    fatal "packaging/build-deb builds the packages" "$(tail -n 30 "$TMP/build.err")"
fi
VERSION=$(dpkg-parsechangelog -l "$SRC/packaging/debian/changelog" -S Version)
ARCH=$(dpkg --print-architecture)
DEBFILES=()
for p in "${PACKAGES[@]}"; do DEBFILES+=("$DEBS/${p}_${VERSION}_${ARCH}.deb"); done
for f in "${DEBFILES[@]}"; do
    [[ -f $f ]] || fatal "build-deb made ${f##*/}" "$(ls "$DEBS")"
done
ok "build-deb made ${#DEBFILES[@]} packages (+ $(find "$DEBS" -name '*-dbgsym_*' | wc -l) -dbgsym) and a .changes file"

lintian --pedantic --display-info "$DEBS/apppass_${VERSION}_${ARCH}.changes" >"$TMP/lintian.out" 2>"$TMP/lintian.err" || true
sed 's/^/# lintian: /' "$TMP/lintian.out"
check "lintian reports no errors" not grep -q '^E: ' "$TMP/lintian.out"
unexplained=""
while read -r tag; do
    grep -qF -- "$tag" "$SRC/packaging/README.md" || unexplained+=" $tag"
done < <(sed -n 's/^[WI]: [^ ]*: \([a-z0-9-]*\).*/\1/p' "$TMP/lintian.out" | sort -u)
if [[ -z $unexplained ]]; then
    ok "every lintian warning and info tag is explained in packaging/README.md"
else
    not_ok "every lintian warning and info tag is explained in packaging/README.md" "not explained:$unexplained"
fi

# What each package ships, for the checks after install and after purge.
for f in "${DEBFILES[@]}"; do
    dpkg-deb --fsys-tarfile "$f" | tar -t | sed 's|^\./|/|; s|/$||' | grep -v '^/\?$'
done | sort -u >"$TMP/shipped"

# ---- 2. snapshot -----------------------------------------------------------------------

# snapshot DIR-OR-FILE...: one line per file: mode, owner, size, checksum, path.
snapshot() {
    local p
    for p in "$@"; do
        [[ -e $p ]] || { echo "absent $p"; continue; }
        find "$p" -printf '%M %u:%g %s %p\n' | sort -k4
        find "$p" -type f -print0 | sort -z | xargs -0 -r sha256sum
    done
}
SNAP_PATHS=(/etc/pam.d /usr/share/pam-configs /var/lib/pam /etc/group /etc/gshadow /etc/passwd /etc/shadow)
# snap_file PATH: where the snapshot of PATH is kept.
snap_file() { echo "$TMP/snap${1//\//_}"; }
for p in "${SNAP_PATHS[@]}"; do snapshot "$p" >"$(snap_file "$p").before"; done
dpkg_state() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}:${Architecture} ${Version}\n' | grep -v '^[up]n ' | sort; }
dpkg_state >"$TMP/dpkg.before"
# Paths shipped that exist already (directories such as /usr/share/man/man8).
while IFS= read -r p; do
    if [[ -e $p || -L $p ]]; then echo "$p"; fi
done <"$TMP/shipped" >"$TMP/existing.before"

# ---- 3. install ------------------------------------------------------------------------

INSTALLED=yes
if apt_get install --no-install-recommends "${DEBFILES[@]}" >"$TMP/install.log" 2>&1; then
    ok "apt-get install of ${PACKAGES[*]}"
else
    fatal "apt-get install of ${PACKAGES[*]}" "$(tail -n 30 "$TMP/install.log")"
fi
sed -n '/apppass/p' "$TMP/install.log" | grep -iv '^\(Get\|Selecting\|Preparing\|Unpacking\)' | sed 's/^/# install: /' || true
for p in "${PACKAGES[@]}"; do
    check "$p is installed (ii)" bash -c "dpkg-query -W -f='\${db:Status-Abbrev}' $p | grep -q '^ii'"
done

# ---- 4. installed files -----------------------------------------------------------------

# has_file PATH MODE OWNER:GROUP: exists as a regular file with that mode and owner.
has_file() {
    local got
    got=$(stat -c '%F %a %U:%G' "$1" 2>/dev/null || echo missing)
    if [[ $got == "regular file $2 $3" || ($got == "regular empty file $2 $3") ]]; then
        ok "$1 ($2 $3)"
    else
        not_ok "$1 ($2 $3)" "found: $got"
    fi
}
has_dir() {
    local got
    got=$(stat -c '%F %a %U:%G' "$1" 2>/dev/null || echo missing)
    if [[ $got == "directory $2 $3" ]]; then ok "$1/ ($2 $3)"; else not_ok "$1/ ($2 $3)" "found: $got"; fi
}

has_file "$PAM_DIR/pam_apppass.so" 644 root:root
has_file "$SASL_DIR/libapppass.so" 644 root:root
has_file "$APP" 755 root:root
has_file "$DAEMON" 755 root:root
# The private library the three share (one LMDB environment per store per process).
has_file "/usr/lib/$MULTIARCH/apppass/libapppass-shared.so" 644 root:root
for bin in "$PAM_DIR/pam_apppass.so" "$SASL_DIR/libapppass.so" "$APP" "$DAEMON"; do
    check "$bin finds libapppass-shared.so in /usr/lib/$MULTIARCH/apppass (RUNPATH)" \
        bash -c "ldd $bin | grep -q '=> /usr/lib/$MULTIARCH/apppass/libapppass-shared.so '"
done
for page in apppass apppassd pam_apppass sasl_apppass; do
    has_file "/usr/share/man/man8/$page.8.gz" 644 root:root
    check "man -w $page finds the installed page" \
        bash -c "[[ \$(man -w $page 2>/dev/null) == /usr/share/man/man8/$page.8.gz ]]"
done
check "man apppass renders the installed page" bash -c "MANWIDTH=80 man apppass 2>/dev/null | grep -q '^EXIT STATUS'"
has_file /usr/share/pam-configs/apppass 644 root:root
check "the pam-auth-update profile is installed with Default: no" \
    grep -qx 'Default: no' /usr/share/pam-configs/apppass
# The safe form: an enrolled user's real password never reaches pam_unix (default=die),
# everyone else's does (ignore=ignore, unenrolled=ignore); never the older
# [success=end default=ignore], which let every real password through.
check "the profile writes [success=end ignore=ignore default=die] pam_apppass.so unenrolled=ignore" \
    test "$(grep -cP '^\t\[success=end ignore=ignore default=die\]\tpam_apppass\.so unenrolled=ignore( |$)' /usr/share/pam-configs/apppass)" -eq 2
check "the profile has no line that lets a refusal fall through (default=ignore on pam_apppass)" \
    not grep -qP 'default=ignore\]\tpam_apppass' /usr/share/pam-configs/apppass
has_file /usr/share/bash-completion/completions/apppass 644 root:root
EX=/usr/share/doc/apppass/examples
for f in README pam.d-imap pam.d-pop3 pam.d-imap-migration dovecot-auth-apppass.conf.ext \
         postfix-sasl-smtpd.conf saslauthd-default saslauthd-pam.d-smtp \
         saslauthd-postfix-sasl-smtpd.conf; do
    has_file "$EX/$f" 644 root:root
done
has_file "$EX/hooks.d/dovecot-auth-cache-flush" 755 root:root
check "the fail2ban filter and jail are among the examples" \
    bash -c "ls $EX/fail2ban/filter.d/*.conf $EX/fail2ban/jail.d/*.conf >/dev/null"
has_file /usr/share/doc/apppass/copyright 644 root:root
has_dir /etc/apppass/hooks.d 755 root:root
check "pam_apppass.so exports the PAM entry points" \
    bash -c "nm -D --defined-only $PAM_DIR/pam_apppass.so | grep -q ' T pam_sm_authenticate$'"

# The broker's systemd units, enabled as the package promises (deb-systemd-helper makes
# the links whether or not systemd runs).
has_file "$UNIT_DIR/apppassd.socket" 644 root:root
has_file "$UNIT_DIR/apppassd.service" 644 root:root
RC=0
systemd-analyze verify "$UNIT_DIR/apppassd.socket" "$UNIT_DIR/apppassd.service" >"$TMP/verify.out" 2>&1 || RC=$?
if [[ $RC -eq 0 && ! -s $TMP/verify.out ]]; then
    ok "systemd-analyze verify of the installed units: no error, no warning (binary, man page found)"
else
    not_ok "systemd-analyze verify of the installed units: no error, no warning (binary, man page found)" \
        "exit $RC" "$(cat "$TMP/verify.out")"
fi
if [[ -L $SOCKET_LINK && $(readlink "$SOCKET_LINK") == "$UNIT_DIR/apppassd.socket" ]]; then
    ok "the package enabled apppassd.socket ($SOCKET_LINK)"
else
    not_ok "the package enabled apppassd.socket ($SOCKET_LINK)" "found: $(ls -l "$SOCKET_LINK" 2>&1)"
fi
check "the package did not enable apppassd.service (socket-activated only)" \
    bash -c "[[ -z \$(find /etc/systemd/system -name apppassd.service) ]]"
if version=$("$DAEMON" --version 2>&1) && [[ $version == "apppassd ${VERSION%%-*}" ]]; then
    ok "$DAEMON --version: $version"
else
    not_ok "$DAEMON --version says apppassd ${VERSION%%-*}" "got: $version"
fi

# apppass-web: the program, its files, its PAM service and configuration (conffiles), its
# unit (not enabled: the admin enables it), and the system user postinst made.
WEB=/usr/sbin/apppass-web
has_file "$WEB" 755 root:root
check "$WEB runs (--help)" bash -c "$WEB --help >/dev/null 2>&1"
has_dir /usr/share/apppass-web/static 755 root:root
for asset in style.css copy.js; do has_file "/usr/share/apppass-web/static/$asset" 644 root:root; done
for lang in ro it; do
    has_file "/usr/share/locale/$lang/LC_MESSAGES/apppass-web.mo" 644 root:root
done
has_file /usr/share/man/man8/apppass-web.8.gz 644 root:root
check "man -w apppass-web finds the installed page" \
    bash -c "[[ \$(man -w apppass-web 2>/dev/null) == /usr/share/man/man8/apppass-web.8.gz ]]"
has_file /usr/share/doc/apppass-web/examples/nginx-apppass-web.conf 644 root:root
has_file /usr/share/doc/apppass-web/copyright 644 root:root
has_file /etc/pam.d/apppass-web 644 root:root
check "/etc/pam.d/apppass-web is the system's password stack (common-auth, common-account)" \
    bash -c "grep -qx '@include common-auth' /etc/pam.d/apppass-web && grep -qx '@include common-account' /etc/pam.d/apppass-web"
has_file /etc/apppass/web.conf 644 root:root
check "web.conf listens on loopback and trusts the local proxy" \
    bash -c "grep -qx 'listen = 127.0.0.1:[0-9]*' /etc/apppass/web.conf && grep -qx 'trusted_proxies = 127.0.0.1 ::1' /etc/apppass/web.conf"
check "/etc/pam.d/apppass-web and /etc/apppass/web.conf are conffiles" \
    bash -c "dpkg-query -W -f='\${Conffiles}\n' apppass-web | grep -q ' /etc/pam.d/apppass-web ' &&
             dpkg-query -W -f='\${Conffiles}\n' apppass-web | grep -q ' /etc/apppass/web.conf '"
has_file "$UNIT_DIR/apppass-web.service" 644 root:root
RC=0
systemd-analyze verify "$UNIT_DIR/apppass-web.service" >"$TMP/verify.out" 2>&1 || RC=$?
if [[ $RC -eq 0 && ! -s $TMP/verify.out ]]; then
    ok "systemd-analyze verify of the installed apppass-web.service: no error, no warning"
else
    not_ok "systemd-analyze verify of the installed apppass-web.service: no error, no warning" \
        "exit $RC" "$(cat "$TMP/verify.out")"
fi
check "the package did not enable apppass-web.service (the admin does, after web.conf)" \
    bash -c "[[ -z \$(find /etc/systemd/system -name apppass-web.service) ]]"
if entry=$(getent passwd apppass-web); then
    IFS=: read -r _ _ web_uid web_gid _ web_home web_shell <<<"$entry"
    check "user apppass-web is a system user, not root (uid $web_uid)" \
        bash -c "[[ $web_uid -gt 0 && $web_uid -lt 1000 ]]"
    check "user apppass-web: home /nonexistent (not created), shell nologin" \
        bash -c "[[ $web_home == /nonexistent && ! -e /nonexistent && $web_shell == /usr/sbin/nologin ]]"
    check "user apppass-web: its own group apppass-web" \
        bash -c "[[ \$(getent group $web_gid | cut -d: -f1) == apppass-web ]]"
    check "user apppass-web is not in group apppass (it could verify anyone's passwords)" \
        bash -c "! id -nG apppass-web | tr ' ' '\n' | grep -qx apppass"
else
    not_ok "postinst made the user apppass-web"
fi

# The group and the store, made by postinst.
if getent group apppass >/dev/null; then
    GID=$(getent group apppass | cut -d: -f3)
    check "group apppass exists and is a system group (gid $GID < 1000)" test "$GID" -lt 1000
else
    not_ok "group apppass exists"
fi
# The store is root's alone (issue 11); the group only says who may ask apppassd to verify.
has_dir "$STORE" 700 root:root
has_file "$STORE/key" 600 root:root
has_file "$STORE/mfa.key" 600 root:root
has_file "$STORE/data.mdb" 600 root:root
has_file "$STORE/lock.mdb" 600 root:root
has_dir "$STORE/usage" 700 root:root
has_file "$STORE/usage/data.mdb" 600 root:root
has_file "$STORE/usage/lock.mdb" 600 root:root
has_file "$STORE/.created-by-package" 644 root:root
want_marker=store
[[ $GROUP_BEFORE == yes ]] || want_marker=$'store\ngroup'
check "the marker lists what postinst created ($(tr '\n' ' ' <<<"$want_marker"))" \
    bash -c "[[ \$(grep -v '^#' $STORE/.created-by-package) == \"$want_marker\" ]]"
check "the store opens: apppass list" bash -c "$APP list >/dev/null"
# apppass-web adds its own service file; nothing else there changes (the directory's own
# line is left out: its size may change with an entry more).
check "/etc/pam.d is unchanged by the install but for apppass-web's own service (the profile is Default: no)" \
    cmp -s <(snapshot /etc/pam.d | grep -v -e ' /etc/pam.d/apppass-web$' -e ' /etc/pam.d$') \
    <(grep -v ' /etc/pam.d$' "$(snap_file /etc/pam.d).before")
check "pam-auth-update registered the profile (/var/lib/pam/seen)" grep -qx apppass /var/lib/pam/seen
check "apppass is not in /etc/pam.d/common-auth" not grep -q pam_apppass /etc/pam.d/common-auth

# ---- 5. end to end ----------------------------------------------------------------------

totp() { oathtool --totp -b "$1"; }
json_get() { "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

if enroll=$("$APP" mfa enroll "$TESTUSER" --json 2>"$TMP/err"); then
    ok "installed apppass: mfa enroll $TESTUSER in $STORE"
    SECRET=$(json_get secret <<<"$enroll")
else
    fatal "installed apppass: mfa enroll $TESTUSER in $STORE" "$(cat "$TMP/err")"
fi
check "installed apppass: mfa confirm with a code from oathtool" \
    bash -c "$APP mfa confirm $TESTUSER \$(oathtool --totp -b $SECRET) >/dev/null"
create() {  # NAME [ARGS...]: prints the password
    "$APP" create "$TESTUSER" --name "$@" --json | json_get password
}
if PW_IMAP=$(create phone --scope imap); then ok "installed apppass: create --scope imap"; else
    not_ok "installed apppass: create --scope imap"
fi
if PW_ANY=$(create laptop --all-services); then ok "installed apppass: create --all-services"; else
    not_ok "installed apppass: create --all-services"
fi
WRONG=abcd-efgh-jkmn-pqrs-tuvw

# pam_wrapper: libpam reads service files from $SERVICES, never /etc/pam.d.
SERVICES=$TMP/services
mkdir "$SERVICES"
: >"$SERVICES/other"
# absolute FILE: module names made absolute (pam_wrapper's libpam needs full paths).
absolute() { sed -E "s#(^|[[:space:]])(pam_[a-z_]+\\.so)#\\1$PAM_DIR/\\2#" "$1"; }
absolute "$EX/pam.d-imap" >"$SERVICES/imap"
check "the installed example pam.d-imap names the installed module" \
    grep -q "^auth *required *$PAM_DIR/pam_apppass.so" "$SERVICES/imap"

# pam PASSWORD SERVICE: pamtester $PAM_OPS (default: authenticate, then acct_mgmt); sets
# RC, the module's log lines in $TMP/log.
PAM_OPS="authenticate acct_mgmt"
pam() {
    RC=0
    # shellcheck disable=SC2086  # PAM_OPS is a list of operations
    printf '%s\n' "$1" |
        env LD_PRELOAD="$WRAPPER" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SERVICES" \
            PAM_WRAPPER_DEBUGLEVEL=4 "$PAMTESTER" -v "$2" "$TESTUSER" $PAM_OPS \
            >"$TMP/pam.out" 2>"$TMP/pam.err" || RC=$?
    # pam_wrapper prints pam_syslog lines without libpam's "pam_apppass(...)" prefix: the
    # module's decision lines are the ones that start with the result.
    sed -n 's/^.*SYSLOG([0-9]*): //p' "$TMP/pam.err" |
        grep -E '^(accepted|refused|error) ' >"$TMP/log" || true
}
# expect_pam DESC WANT(ok|fail) PASSWORD SERVICE LOG_REGEX ('' = no line of the module)
expect_pam() {
    local desc=$1 want=$2 why=""
    pam "$3" "$4"
    if [[ $want == ok && $RC -ne 0 ]]; then why="pamtester failed (exit $RC)"; fi
    if [[ $want == fail && $RC -eq 0 ]]; then why="pamtester succeeded"; fi
    if [[ -z $why && -n $5 ]] && ! grep -Eq -- "$5" "$TMP/log"; then why="no log line matching /$5/"; fi
    if [[ -z $why && -z $5 && -s $TMP/log ]]; then why="pam_apppass logged, but should not have run"; fi
    if [[ -z $why ]]; then ok "$desc"; else not_ok "$desc" "$why" "$(cat "$TMP/log")" "$(tail -n 3 "$TMP/pam.out")"; fi
}
expect_pam "pamtester + installed module: imap app password accepted" ok "$PW_IMAP" imap \
    "accepted service=imap user=$TESTUSER .* name=phone"
expect_pam "pamtester + installed module: wrong password refused" fail "$WRONG" imap \
    "refused service=imap user=$TESTUSER .*reason=wrong-password"
# The other installed example stacks: pop3 (scopes), the migration stack, saslauthd's smtp.
absolute "$EX/pam.d-pop3" >"$SERVICES/pop3"
absolute "$EX/pam.d-imap-migration" >"$SERVICES/imap-migration"
absolute "$EX/saslauthd-pam.d-smtp" >"$SERVICES/smtp"
expect_pam "example pam.d-pop3: an app password for every service is accepted" ok "$PW_ANY" pop3 \
    "accepted service=pop3 user=$TESTUSER .* name=laptop"
expect_pam "example pam.d-pop3: an imap-only app password is refused" fail "$PW_IMAP" pop3 \
    "refused service=pop3 user=$TESTUSER .*reason=out-of-scope .*name=phone"
# Its account stage is pam_unix's, and the test user is no system user: authenticate only.
PAM_OPS=authenticate
expect_pam "example pam.d-imap-migration: an app password is accepted" ok "$PW_ANY" imap-migration \
    "accepted service=imap-migration user=$TESTUSER .* name=laptop"
expect_pam "example pam.d-imap-migration: the enrolled user's wrong password is refused by pam_apppass (default=die)" \
    fail "$WRONG" imap-migration "refused service=imap-migration user=$TESTUSER .*reason=wrong-password"
PAM_OPS="authenticate acct_mgmt"
expect_pam "example saslauthd-pam.d-smtp: an app password is accepted for smtp" ok "$PW_ANY" smtp \
    "accepted service=smtp user=$TESTUSER .* name=laptop"
check "installed apppass: list shows the last use (service imap)" \
    bash -c "$APP list $TESTUSER --json | grep -q '\"last_service\":\"imap\"'"
if "$APP" revoke "$TESTUSER" --name phone >/dev/null 2>"$TMP/err"; then
    ok "installed apppass: revoke --name phone (no hooks installed)"
else
    not_ok "installed apppass: revoke --name phone (no hooks installed)" "$(cat "$TMP/err")"
fi
expect_pam "pamtester + installed module: revoked password refused" fail "$PW_IMAP" imap \
    "refused service=imap user=$TESTUSER .*reason=revoked"

# The pam-auth-update profile, enabled in a copy of the system's configuration.
ROOT=$TMP/root
mkdir -p "$ROOT/etc" "$ROOT/usr/share" "$ROOT/var/lib"
cp -a /etc/pam.d "$ROOT/etc/"
cp -a /usr/share/pam-configs "$ROOT/usr/share/"
cp -a /var/lib/pam "$ROOT/var/lib/"
if pam-auth-update --root "$ROOT" --enable apppass >"$TMP/pau.out" 2>&1 &&
    grep -q pam_apppass "$ROOT/etc/pam.d/common-auth"; then
    ok "pam-auth-update --enable apppass adds the module to common-auth (in a copy)"
else
    not_ok "pam-auth-update --enable apppass adds the module to common-auth (in a copy)" \
        "$(cat "$TMP/pau.out")" "$(grep -v '^#' "$ROOT/etc/pam.d/common-auth")"
fi
grep -v '^#' "$ROOT/etc/pam.d/common-auth" | grep . | sed 's/^/# common-auth with the profile: /'
check "the profile's line in common-auth: success jumps past pam_unix, ignore=ignore default=die, unenrolled=ignore" \
    grep -qP '^auth\t\[success=[0-9]+ ignore=ignore default=die\]\tpam_apppass\.so unenrolled=ignore' "$ROOT/etc/pam.d/common-auth"
# Each service gets common-auth's lines itself: under pam_wrapper, libpam resolves
# "@include common-auth" in the real /etc/pam.d, not in $SERVICES.
for svc in imap sshd su; do
    { absolute "$ROOT/etc/pam.d/common-auth"; echo "account required $PAM_DIR/pam_apppass.so"; } \
        >"$SERVICES/$svc"
done
expect_pam "profile enabled: an app password logs in to imap through common-auth" ok "$PW_ANY" imap \
    "accepted service=imap user=$TESTUSER .* name=laptop"
expect_pam "profile enabled: the same app password is refused for sshd, module not run" fail "$PW_ANY" sshd ''
expect_pam "profile enabled: a wrong password of the enrolled user is refused by pam_apppass (default=die: never pam_unix)" \
    fail "$WRONG" imap "refused service=imap user=$TESTUSER .*reason=wrong-password"
expect_pam "profile enabled: the same app password is refused for su, module not run" fail "$PW_ANY" su ''
check "the real /etc/pam.d/common-auth still has no pam_apppass" not grep -q pam_apppass /etc/pam.d/common-auth

# The installed example hook, in the real hooks directory, run by a revocation.
HOOK=/etc/apppass/hooks.d/dovecot-auth-cache-flush
install -o root -g root -m 0755 "$EX/hooks.d/dovecot-auth-cache-flush" "$HOOK"
if create tablet --scope imap >/dev/null; then
    RC=0
    "$APP" revoke "$TESTUSER" --name tablet >"$TMP/out" 2>"$TMP/err" || RC=$?
    sed 's/^/# revoke with the hook: /' "$TMP/err"
    if [[ $RC -eq 0 ]] && ! grep -q 'warning' "$TMP/err"; then
        ok "revoke runs the installed example hook from /etc/apppass/hooks.d (exit 0)"
    else
        not_ok "revoke runs the installed example hook from /etc/apppass/hooks.d (exit 0)" "exit $RC" "$(cat "$TMP/err")"
    fi
else
    not_ok "installed apppass: create tablet (for the hook)"
fi
rm -f "$HOOK"

# broker_ask SOCKET: sends the handshake and the request lines read from stdin (ids 1..N),
# prints every reply line after the daemon's VERSION line, until the final OK or FAIL of
# the last request. Secrets go through stdin, never argv. Exit 1 on a closed connection
# or no answer within 5 s.
broker_ask() {
    "$PY" - "$1" 3<&0 <<'PYEOF'
import os, socket, sys
requests = os.fdopen(3).read().splitlines()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(("VERSION\t1\t0\n" + "".join(r + "\n" for r in requests)).encode())
buf, last = b"", str(len(requests))
while True:
    chunk = s.recv(65536)
    if not chunk:
        sys.exit(1)
    buf += chunk
    lines = buf.split(b"\n")
    done = any(l.split(b"\t")[:2] in ([b"OK", last.encode()], [b"FAIL", last.encode()]) for l in lines[:-1])
    if done:
        for l in lines[1:-1]:
            print(l.decode(errors="replace"))
        break
PYEOF
}

# The installed daemon in the foreground, as on a system without systemd, on a private
# socket and the installed store: root may verify; it stops cleanly on SIGTERM.
DSOCK=$TMP/apppassd.sock
"$DAEMON" --db "$STORE" --socket "$DSOCK" >"$TMP/apppassd.out" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 100); do [[ -S $DSOCK ]] && break; sleep 0.1; done
if [[ -S $DSOCK ]]; then
    ok "the installed apppassd listens on its --socket ($(stat -c %a "$DSOCK"))"
    RC=0
    printf 'VERIFY\t1\tuser=%s\tpassword=%s\tservice=imap\nPOLICY_SHOW\t2\n' "$TESTUSER" "$PW_ANY" |
        broker_ask "$DSOCK" >"$TMP/broker.out" 2>&1 || RC=$?
    sed 's/^/# apppassd: /' "$TMP/broker.out"
    check "the installed apppassd verifies an app password for root (outcome=accepted)" \
        grep -qP '^OK\t1\t.*outcome=accepted' "$TMP/broker.out"
    check "the installed apppassd shows the policy (self_enroll=no by default)" \
        grep -qP '^OK\t2\t.*self_enroll=no' "$TMP/broker.out"
    # apppass doctor on the installed deployment, with its broker running (no systemd
    # here to start apppassd.socket: doctor asks the foreground daemon's socket).
    RC=0
    "$APP" --socket "$DSOCK" doctor >"$TMP/doctor.out" 2>&1 || RC=$?
    sed 's/^/# doctor: /' "$TMP/doctor.out"
    if [[ $RC -eq 0 ]]; then ok "apppass doctor exits 0 on the installed deployment"; else
        not_ok "apppass doctor exits 0 on the installed deployment" "exit $RC"
    fi
    check "apppass doctor: the installed portal user apppass-web is fine" \
        grep -q '^ok: the portal user apppass-web (uid [0-9]*) exists, is not root and is not a verifier$' "$TMP/doctor.out"
    check "apppass doctor: the installed PAM service apppass-web needs the password" \
        grep -q '^ok: /etc/pam.d/apppass-web: a sign-in on the page needs the password' "$TMP/doctor.out"
    check "apppass doctor: no problem with the installed web.conf" \
        bash -c "! grep '^problem:' $TMP/doctor.out | grep -q web.conf"
else
    not_ok "the installed apppassd listens on its --socket" "$(tail -n 5 "$TMP/apppassd.out")"
fi
kill -TERM "$DAEMON_PID" 2>/dev/null || true
RC=0
wait "$DAEMON_PID" || RC=$?
DAEMON_PID=""
sed 's/^/# apppassd stderr: /' "$TMP/apppassd.out"
check "the installed apppassd exits 0 on SIGTERM (exit $RC)" test "$RC" -eq 0
check "the installed apppassd removed its socket" test ! -e "$DSOCK"

# Under a running systemd (not in a container), the package started the socket.
if [[ -d /run/systemd/system ]]; then
    check "systemd: apppassd.socket is active" systemctl is-active --quiet apppassd.socket
    RC=0
    printf 'POLICY_SHOW\t1\n' | broker_ask /run/apppass/apppassd.sock >"$TMP/broker.out" 2>&1 || RC=$?
    check "systemd: apppassd answers on /run/apppass/apppassd.sock (socket-activated)" \
        grep -qP '^OK\t1\t' "$TMP/broker.out"
else
    note "SKIP the socket-activated daemon: systemd is not the running init here"
fi

# A real Postfix with the installed plugin and tool (its own store and config), loading
# plugins from the system's SASL directory, next to the stock PLAIN and LOGIN.
POSTFIX_TEST=$SRC/tests/sasl/test_postfix.sh
if [[ -f $POSTFIX_TEST ]]; then
    RC=0
    env -u APPPASS_TEST_PRELOAD APPPASS_POSTFIX_SASL_PATH="$SASL_DIR" bash "$POSTFIX_TEST" "$SASL_DIR/libapppass.so" "$APP" \
        >"$TMP/postfix.out" 2>&1 || RC=$?
    sed 's/^/# postfix: /' "$TMP/postfix.out"
    if [[ $RC -eq 0 ]]; then ok "tests/sasl/test_postfix.sh passes with the installed plugin and tool"; else
        not_ok "tests/sasl/test_postfix.sh passes with the installed plugin and tool" "exit $RC"
    fi
else
    note "SKIP Postfix: tests/sasl/test_postfix.sh does not exist"
fi

# ---- 6. purge ----------------------------------------------------------------------------

if purge_packages; then
    ok "apt-get purge ${PACKAGES[*]}"
    INSTALLED=no
else
    not_ok "apt-get purge ${PACKAGES[*]}" "$(tail -n 30 "$TMP/purge.log")"
fi
dpkg_state >"$TMP/dpkg.after"
if cmp -s "$TMP/dpkg.before" "$TMP/dpkg.after"; then
    ok "dpkg's package states are what they were"
else
    not_ok "dpkg's package states are what they were" "$(diff "$TMP/dpkg.before" "$TMP/dpkg.after" | head -n 20)"
fi
left=""
while IFS= read -r p; do
    if [[ -e $p || -L $p ]] && ! grep -qxF -- "$p" "$TMP/existing.before"; then left+=" $p"; fi
done <"$TMP/shipped"
if [[ -z $left ]]; then ok "no file or directory of the packages is left"; else
    not_ok "no file or directory of the packages is left" "left:$left"
fi
for path in "$STORE" /etc/apppass /usr/share/doc/apppass "$SOCKET_LINK" "$DSH_STATE/apppassd.socket.dsh-also" \
            /etc/pam.d/apppass-web /usr/share/doc/apppass-web /usr/share/apppass-web \
            "$DSH_STATE/apppass-web.service.dsh-also"; do
    check "$path is gone" bash -c "[[ ! -e $path && ! -L $path ]]"
done
check "user apppass-web (created by postinst) is gone" not getent passwd apppass-web
check "group apppass-web (created by postinst) is gone" not getent group apppass-web
if [[ $GROUP_BEFORE == no ]]; then
    check "group apppass (created by postinst) is gone" not getent group apppass
else
    check "group apppass (there before) is still there" getent group apppass
fi
for p in "${SNAP_PATHS[@]}"; do
    f=$(snap_file "$p")
    snapshot "$p" >"$f.after"
    if cmp -s "$f.before" "$f.after"; then
        ok "$p is byte for byte what it was (contents, modes, owners)"
    else
        not_ok "$p is byte for byte what it was (contents, modes, owners)" \
            "$(diff "$f.before" "$f.after" | head -n 20)"
    fi
done

finish
