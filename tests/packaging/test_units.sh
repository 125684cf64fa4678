#!/bin/bash
# systemd_units: the systemd units of apppassd and apppass-web (packaging/systemd) are
# valid, hardened as documented, and agree with the code. Reads the source tree; installs
# nothing, needs no running systemd (systemd-analyze works offline on unit files).
#
# Usage: test_units.sh SRC_DIR APPPASSD APPPASS [APPPASS_WEB]
#
#   - systemd-analyze verify of apppassd.socket + apppassd.service prints nothing (an
#     unknown key is only a warning there, so any output fails), with ExecStart pointed at
#     the built APPPASSD and MANPATH at packaging/man (Documentation=man:apppassd(8));
#   - the socket is broker::kDefaultSocket (common/broker_client.h), 0666 in a 0755
#     directory, removed on stop, wanted by sockets.target; the service requires it and
#     has no [Install] section (socket-activated only; the package enables the socket);
#   - the service runs /usr/sbin/apppassd as root (the store is root-only) with an empty
#     capability bounding set, the store kStoreDefaultDir (common/store.h) its only
#     writable path, AF_UNIX only, a system call filter, no core files, and without
#     PrivateUsers= (a user namespace would map every client's SO_PEERCRED uid to nobody);
#   - systemd-analyze security --offline=true rates it at most 1.0, and the figure is the
#     one README.md and docs/design.md state;
#   - (root only) the built APPPASSD, run under strace without any capability and with
#     no_new_privs (as the unit runs it) on a throwaway store (made and
#     loosened to the pre-issue-11 modes with APPPASS) and asked every request kind as
#     root and as nobody (an accepted and a refused verification, a policy change, a
#     malformed and an oversized line, SIGTERM; with APPPASS_UNITS_PAM_PRELOAD the
#     portal's SIGNIN through the PAM service apppass-web, pam_unix under pam_wrapper: a
#     right password of a real user made here, a wrong one, an unknown user), makes no
#     system call that the service's SystemCallFilter= lines refuse (syscall_filter.py):
#     under systemd such a call would fail with EPERM;
#   - apppass-web.service: systemd-analyze verify (ExecStart pointed at the built
#     APPPASS_WEB, or a stand-in while there is none), runs /usr/sbin/apppass-web with
#     /etc/apppass/web.conf as the user apppass-web (the name the package's postinst makes
#     and apppassd's --portal-user default), no capability, nothing writable, AF_UNIX
#     AF_INET AF_INET6 only, loopback peers only, a system call filter, no core files,
#     after the broker's socket, wanted by multi-user.target; systemd-analyze security
#     rates it at most 1.0, and docs/design.md states the figure; (root, with APPPASS_WEB)
#     the built apppass-web, run as nobody under strace against the traced apppassd
#     (pages, a static file, a refused POST, a malformed request, SIGTERM), makes no
#     system call that apppass-web.service's filter refuses.
# Prints "ok - ..." / "not ok - ..." per check and "N passed, N failed"; exits 1 when
# anything failed.
set -euo pipefail

if [[ $# -ne 3 && $# -ne 4 ]]; then
    echo "usage: $0 SRC_DIR APPPASSD APPPASS [APPPASS_WEB]" >&2
    exit 2
fi
SRC=$(realpath -e "$1")
APPPASSD=$(realpath -e "$2")
APPPASS=$(realpath -e "$3")
APPPASS_WEB=""
if [[ $# -eq 4 ]]; then APPPASS_WEB=$(realpath -e "$4"); fi
# shellcheck source-path=SCRIPTDIR source=../lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/setup.sh"
# shellcheck source=../lib/users.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/users.sh"
# shellcheck source=../lib/stage.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/stage.sh"
DAEMON_PID=""  # apppassd itself (a child of strace)
STRACE_PID=""
WEB_STRACE_PID=""  # strace of apppass-web
TMP=$(mktemp -d)
cleanup() {
    if [[ -n $DAEMON_PID ]]; then kill "$DAEMON_PID" 2>/dev/null || true; fi
    if [[ -n $STRACE_PID ]]; then kill "$STRACE_PID" 2>/dev/null || true; fi
    if [[ -n $WEB_STRACE_PID ]]; then
        pkill -TERM -P "$WEB_STRACE_PID" 2>/dev/null || true
        kill "$WEB_STRACE_PID" 2>/dev/null || true
    fi
    users_cleanup
    rm -rf "$TMP"
}
trap cleanup EXIT
require_tools systemd-analyze man
export LC_ALL=C.UTF-8

UNITS=$SRC/packaging/systemd
SOCKET=$UNITS/apppassd.socket
SERVICE=$UNITS/apppassd.service

# value FILE KEY: the values of KEY= in FILE, one per line, in order (comments skipped).
value() { sed -n "s/^$2=//p" "$1"; }
# has FILE KEY VALUE: KEY=VALUE is a line of FILE.
has() { grep -qxF -- "$2=$3" "$1"; }
# expect DESC FILE KEY VALUE
expect() {
    if has "$2" "$3" "$4"; then ok "$1"; else
        not_ok "$1" "want $3=$4 in ${2##*/}, found: $(value "$2" "$3" | tr '\n' ' ')"
    fi
}

# ---- systemd-analyze verify ----------------------------------------------------------

mkdir -p "$TMP/units" "$TMP/man/man8"
cp "$SOCKET" "$TMP/units/"
sed "s|^ExecStart=/usr/sbin/apppassd\\b|ExecStart=$APPPASSD|" "$SERVICE" >"$TMP/units/apppassd.service"
cp "$SRC/packaging/man/apppassd.8" "$TMP/man/man8/"
RC=0
(cd "$TMP/units" && MANPATH=$TMP/man systemd-analyze verify apppassd.socket apppassd.service) \
    >"$TMP/verify.out" 2>&1 || RC=$?
if [[ $RC -eq 0 && ! -s $TMP/verify.out ]]; then
    ok "systemd-analyze verify apppassd.socket apppassd.service: no error, no warning"
else
    not_ok "systemd-analyze verify apppassd.socket apppassd.service: no error, no warning" \
        "exit $RC" "$(cat "$TMP/verify.out")"
fi

# ---- the socket ------------------------------------------------------------------------

default_socket=$(sed -n 's/.*kDefaultSocket = "\([^"]*\)".*/\1/p' "$SRC/common/broker_client.h")
check "common/broker_client.h names the default socket ($default_socket)" test -n "$default_socket"
expect "apppassd.socket listens on broker::kDefaultSocket" "$SOCKET" ListenStream "$default_socket"
check "apppassd.socket has exactly one ListenStream" test "$(value "$SOCKET" ListenStream | wc -l)" -eq 1
expect "apppassd.socket: mode 0666 (the daemon decides who may ask what, by SO_PEERCRED)" \
    "$SOCKET" SocketMode 0666
expect "apppassd.socket: its directory 0755" "$SOCKET" DirectoryMode 0755
expect "apppassd.socket: owned by root" "$SOCKET" SocketUser root
expect "apppassd.socket: removed when stopped" "$SOCKET" RemoveOnStop yes
expect "apppassd.socket: wanted by sockets.target (what enabling it means)" "$SOCKET" WantedBy sockets.target
check "apppassd.socket: one socket, one service (no Accept=yes)" not has "$SOCKET" Accept yes

# ---- the service -----------------------------------------------------------------------

expect "apppassd.service runs /usr/sbin/apppassd" "$SERVICE" ExecStart /usr/sbin/apppassd
expect "apppassd.service requires its socket" "$SERVICE" Requires apppassd.socket
check "apppassd.service has no [Install] section (socket-activated; the socket is enabled)" \
    not grep -q '^\[Install\]' "$SERVICE"
check "apppassd.service runs as root (no User=, no DynamicUser=: the store is root-only)" \
    not grep -Eq '^(User|DynamicUser)=' "$SERVICE"
check "apppassd.service has no PrivateUsers= (it would turn every peer's uid into nobody)" \
    not grep -q '^PrivateUsers=' "$SERVICE"
expect "apppassd.service: no capabilities (an empty bounding set)" "$SERVICE" CapabilityBoundingSet ''
default_store=$(sed -n 's/.*kDefaultStoreDir = "\([^"]*\)".*/\1/p' "$SRC/common/store.h")
check "common/store.h names the default store ($default_store)" test -n "$default_store"
expect "apppassd.service: the store (kDefaultStoreDir) is its only writable path" \
    "$SERVICE" ReadWritePaths "-$default_store"
check "apppassd.service: one ReadWritePaths" test "$(value "$SERVICE" ReadWritePaths | wc -l)" -eq 1
for kv in ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
          PrivateNetwork=yes RestrictAddressFamilies=AF_UNIX NoNewPrivileges=yes \
          SystemCallFilter=@system-service SystemCallArchitectures=native \
          MemoryDenyWriteExecute=yes LockPersonality=yes RestrictNamespaces=yes \
          RestrictSUIDSGID=yes UMask=0077 LimitCORE=0; do
    expect "apppassd.service: $kv" "$SERVICE" "${kv%%=*}" "${kv#*=}"
done

# ---- systemd-analyze security ----------------------------------------------------------

RC=0
(cd "$TMP/units" && systemd-analyze security --offline=true --no-pager apppassd.service) \
    >"$TMP/security.out" 2>&1 || RC=$?
exposure=$(sed -n 's/.*Overall exposure level for apppassd\.service: \([0-9.]*\) .*/\1/p' "$TMP/security.out")
if [[ -n $exposure ]]; then
    note "systemd-analyze security --offline=true: exposure $exposure"
    grep '✗' "$TMP/security.out" | sed 's/  */ /g; s/^/#   left: /' || true
    check "the exposure ($exposure) is at most 1.0" awk -v e="$exposure" 'BEGIN { exit !(e <= 1.0) }'
    for doc in README.md docs/design.md; do
        check "$doc states the exposure systemd-analyze reports ($exposure)" \
            grep -q "exposure $exposure\\b" "$SRC/$doc"
    done
else
    not_ok "systemd-analyze security --offline=true rates apppassd.service" "exit $RC" \
        "$(tail -n 5 "$TMP/security.out")"
fi

# ---- apppass-web.service ------------------------------------------------------------------

WEB=$UNITS/apppass-web.service
if [[ -z $APPPASS_WEB ]]; then
    # No apppass-web built here: verify checks that ExecStart names an executable.
    APPPASS_WEB=$TMP/apppass-web-standin
    printf '#!/bin/sh\nexit 0\n' >"$APPPASS_WEB"
    chmod 0755 "$APPPASS_WEB"
    note "apppass-web.service: verified with a stand-in for the program (none built)"
fi
sed "s|^ExecStart=/usr/sbin/apppass-web\\b|ExecStart=$APPPASS_WEB|" "$WEB" >"$TMP/units/apppass-web.service"
cp "$SRC/packaging/man/apppass-web.8" "$TMP/man/man8/"
RC=0
(cd "$TMP/units" && MANPATH=$TMP/man systemd-analyze verify apppassd.socket apppass-web.service) \
    >"$TMP/verify-web.out" 2>&1 || RC=$?
if [[ $RC -eq 0 && ! -s $TMP/verify-web.out ]]; then
    ok "systemd-analyze verify apppass-web.service: no error, no warning"
else
    not_ok "systemd-analyze verify apppass-web.service: no error, no warning" \
        "exit $RC" "$(cat "$TMP/verify-web.out")"
fi
expect "apppass-web.service runs /usr/sbin/apppass-web with /etc/apppass/web.conf" \
    "$WEB" ExecStart "/usr/sbin/apppass-web --config /etc/apppass/web.conf"
portal_user=$(sed -n 's/^USER=//p' "$SRC/packaging/debian/apppass-web.postinst")
check "the package's postinst makes the user apppass-web" test "$portal_user" = apppass-web
expect "apppass-web.service runs as the user the package makes ($portal_user)" "$WEB" User "$portal_user"
expect "apppass-web.service: its group" "$WEB" Group "$portal_user"
# The broker accepts the portal's requests from --portal-user, by default this user.
if "$APPPASSD" --help 2>&1 | grep -q -- '--portal-user'; then
    check "apppassd --help: --portal-user defaults to $portal_user" \
        bash -c '"$1" --help 2>&1 | grep -- --portal-user | grep -qw -- "$2"' _ "$APPPASSD" "$portal_user"
else
    note "SKIP the broker's default portal user: this apppassd has no --portal-user"
fi
expect "apppass-web.service: no capabilities (an empty bounding set)" "$WEB" CapabilityBoundingSet ''
check "apppass-web.service: nothing writable (no ReadWritePaths=, StateDirectory=, ...)" \
    not grep -Eq '^(ReadWritePaths|StateDirectory|CacheDirectory|LogsDirectory|RuntimeDirectory)=' "$WEB"
expect "apppass-web.service: wants the broker's socket" "$WEB" Wants "apppassd.socket network-online.target"
expect "apppass-web.service: after the broker's socket" "$WEB" After "apppassd.socket network-online.target"
expect "apppass-web.service: wanted by multi-user.target (systemctl enable)" "$WEB" WantedBy multi-user.target
for kv in ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
          "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" IPAddressAllow=localhost IPAddressDeny=any \
          NoNewPrivileges=yes SystemCallFilter=@system-service SystemCallArchitectures=native \
          MemoryDenyWriteExecute=yes LockPersonality=yes RestrictNamespaces=yes PrivateUsers=yes \
          RestrictSUIDSGID=yes UMask=0077 LimitCORE=0; do
    expect "apppass-web.service: $kv" "$WEB" "${kv%%=*}" "${kv#*=}"
done
RC=0
(cd "$TMP/units" && systemd-analyze security --offline=true --no-pager apppass-web.service) \
    >"$TMP/security-web.out" 2>&1 || RC=$?
exposure=$(sed -n 's/.*Overall exposure level for apppass-web\.service: \([0-9.]*\) .*/\1/p' "$TMP/security-web.out")
if [[ -n $exposure ]]; then
    note "systemd-analyze security --offline=true apppass-web.service: exposure $exposure"
    grep '✗' "$TMP/security-web.out" | sed 's/  */ /g; s/^/#   left: /' || true
    check "apppass-web.service: the exposure ($exposure) is at most 1.0" \
        awk -v e="$exposure" 'BEGIN { exit !(e <= 1.0) }'
    check "docs/design.md states the exposure of apppass-web.service ($exposure)" \
        grep -q "apppass-web.service.*exposure $exposure\\b" "$SRC/docs/design.md"
else
    not_ok "systemd-analyze security --offline=true rates apppass-web.service" "exit $RC" \
        "$(tail -n 5 "$TMP/security-web.out")"
fi

# ---- the daemon's system calls against the filter ---------------------------------------

if [[ $(id -u) -ne 0 ]]; then
    note "SKIP the system calls of apppassd: it runs as root only"
    finish
    exit
fi
require_tools strace oathtool setpriv
fatal_units() {
    not_ok "$@"
    finish || true
    exit 1
}
chmod 0755 "$TMP"
DB=$TMP/store
SOCK=$TMP/apppassd.sock
tool --db "$DB" init >/dev/null 2>"$TMP/err"
# An app password for alice (an accepted verification records last use: a write).
enroll_user "$DB" alice
PW=$(tool --db "$DB" create alice --name phone --all-services --json | json_get password)
# The modes a store had before issue 11 (group-readable): the daemon's first open
# tightens them (chmod, chown to group root).
chmod g+rx "$DB" "$DB/usage"
chmod g+r "$DB/key" "$DB/data.mdb"
chgrp -R nogroup "$DB"
# LeakSanitizer cannot run under ptrace (it exits 1 at the end instead of checking): in a
# sanitizer build the traced daemon checks everything else, not leaks.
# The portal's sign-in (protocol 1.2): with APPPASS_UNITS_PAM_PRELOAD (pam_wrapper, and
# the sanitizer runtime first in a sanitizer build), apppassd runs the PAM service
# apppass-web from a throwaway directory (Debian's common-auth and common-account with
# absolute module paths: pam_unix reading /etc/shadow as root) for the portal user
# daemon, so the PAM path's system calls are in the trace too.
TRACE_ENV=()
PORTAL_ARGS=()
PAM_UNIX=""
if [[ -n ${APPPASS_UNITS_PAM_PRELOAD:-} ]] && "$APPPASSD" --help 2>&1 | grep -q -- --portal-pam-service; then
    for d in /lib/x86_64-linux-gnu/security /usr/lib/x86_64-linux-gnu/security /lib/security; do
        [[ -e $d/pam_unix.so ]] && PAM_UNIX=$d/pam_unix.so && break
    done
fi
if [[ -n $PAM_UNIX ]]; then
    mods=${PAM_UNIX%/*}
    mkdir "$TMP/pam.d"
    : >"$TMP/pam.d/other"
    # nodelay: a refused password would otherwise wait 2 s (pam_unix's failure delay).
    printf '%s\n' "auth [success=1 default=ignore] $mods/pam_unix.so nullok nodelay" \
        "auth requisite $mods/pam_deny.so" "auth required $mods/pam_permit.so" \
        "account [success=1 new_authtok_reqd=done default=ignore] $mods/pam_unix.so" \
        "account requisite $mods/pam_deny.so" "account required $mods/pam_permit.so" \
        >"$TMP/pam.d/apppass-web"
    TRACE_ENV=(-E "LD_PRELOAD=$APPPASS_UNITS_PAM_PRELOAD" -E PAM_WRAPPER=1
               -E "PAM_WRAPPER_SERVICE_DIR=$TMP/pam.d")
    PORTAL_ARGS=(--portal-user daemon --portal-pam-service apppass-web)
else
    note "SKIP the portal's sign-in through PAM: no APPPASS_UNITS_PAM_PRELOAD, or an apppassd without a portal"
fi
# As the unit runs it: root without any capability (CapabilityBoundingSet= empty) and
# NoNewPrivileges; strace, also without, traces its own child.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    setpriv --bounding-set=-all --inh-caps=-all --no-new-privs \
    strace -f -qq "${TRACE_ENV[@]}" -o "$TMP/trace" "$APPPASSD" --db "$DB" --socket "$SOCK" \
    --group nogroup "${PORTAL_ARGS[@]}" >"$TMP/daemon.out" 2>&1 &
STRACE_PID=$!
for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.1; done
DAEMON_PID=$(cat "/proc/$STRACE_PID/task/$STRACE_PID/children" 2>/dev/null | awk '{print $1}')
if [[ -S $SOCK && -n $DAEMON_PID ]]; then
    ok "apppassd (pid $DAEMON_PID, under strace) listens on its socket"
else
    fatal_units "apppassd (under strace) listens on its socket" "$(cat "$TMP/daemon.out")"
fi

# ask [RUNNER...]: the handshake, then the request lines on stdin; prints the replies.
ask() {
    "$@" "$PY" -c '
import socket, sys
reqs = sys.stdin.buffer.read()
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"VERSION\t1\t0\n" + reqs)
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    c = s.recv(65536)
    if not c:
        break
    out += c
sys.stdout.write(out.decode(errors="replace"))
' "$SOCK"
}
{
    printf 'VERIFY\t1\tuser=alice\tpassword=%s\tservice=imap\n' "$PW"
    printf 'VERIFY\t2\tuser=alice\tpassword=abcd-efgh-jkmn-pqrs-tuvw\tservice=imap\n'
    printf 'POLICY_SHOW\t3\nPOLICY_SET\t4\tkey=max_active\tvalue=10\nLIST\t5\nMFA_STATUS\t6\n'
    printf 'FROB\t7\nLIST\t8\tuser=\x01\n'
    # Protocol 1.1: a wrong code (a write: the failure counted), the probe, the account
    # check (NSS and /etc/shadow, read as root without a capability).
    printf 'CODE\t9\tuser=alice\tcode=000000\tservice=sshd\nENROLLED\t10\tuser=alice\n'
    printf 'ACCOUNT\t11\tuser=root\n'
} | ask >"$TMP/root.out" 2>&1 || true
{
    printf 'LIST\t1\nMFA_STATUS\t2\nMFA_ENROLL\t3\nMFA_CONFIRM\t4\tcode=123456\n'
    printf 'CREATE\t5\tname=x\tscopes=imap\tcode=123456\nREVOKE\t6\tall=yes\tcode=123456\n'
    printf 'POLICY_SET\t7\tkey=max_active\tvalue=3\nMFA_RECOVERY\t8\tcode=123456\n'
    printf 'CODE\t9\tuser=alice\tcode=000000\tservice=sshd\n'
    head -c 9000 /dev/zero | tr '\0' x
    echo
} | ask setpriv --reuid=nobody --regid=nogroup --clear-groups >"$TMP/nobody.out" 2>&1 || true
if [[ -n $PAM_UNIX ]]; then
    # A system user with a real password (made here, removed on exit): the right password
    # (no MFA, self_enroll off: reason=no_mfa, which only a right password gets), a wrong
    # one, an unknown user.
    make_test_user SIGNIN_USER unitsweb
    echo "$SIGNIN_USER:Units-pw-$$" | chpasswd
    {
        printf 'SIGNIN\t1\tuser=%s\tpassword=Units-pw-%s\tclient=192.0.2.1\n' "$SIGNIN_USER" "$$"
        printf 'SIGNIN\t2\tuser=%s\tpassword=wrong-%s\tclient=192.0.2.1\n' "$SIGNIN_USER" "$$"
        printf 'SIGNIN\t3\tuser=nosuch-%s\tpassword=x\tclient=192.0.2.1\n' "$$"
    } | ask setpriv --reuid=daemon --regid=daemon --clear-groups >"$TMP/portal.out" 2>&1 || true
    sed 's/^/# as the portal (daemon): /' "$TMP/portal.out"
    check "apppassd, without capabilities, checked a right password through PAM (pam_unix): reason=no_mfa" \
        grep -qP '^FAIL\t1\tdenied\t.*reason=no_mfa' "$TMP/portal.out"
    check "apppassd, without capabilities: a wrong password and an unknown user are reason=wrong" \
        bash -c 'grep -qP "^FAIL\t2\tdenied\t.*reason=wrong" "$1" && grep -qP "^FAIL\t3\tdenied\t.*reason=wrong" "$1"' _ "$TMP/portal.out"
fi
sed 's/^/# as root: /' "$TMP/root.out"
sed 's/^/# as nobody: /' "$TMP/nobody.out"
check "apppassd accepted alice's app password (a write: last use)" grep -qP '^OK\t1\toutcome=accepted' "$TMP/root.out"
check "apppassd changed the policy for root (a write transaction)" grep -qP '^OK\t4$' "$TMP/root.out"
check "apppassd answered nobody's oversized line too_long" grep -qP '^FAIL\t0\ttoo_long' "$TMP/nobody.out"
check "apppassd checked a login code and an account for root (protocol 1.1)" \
    bash -c 'grep -qP "^OK\t9\toutcome=wrong-code" "$1" && grep -qP "^OK\t11\tstate=" "$1"' _ "$TMP/root.out"
# The built apppass-web (when there is one), under strace, as nobody (the unit runs it as
# its own user), against this apppassd: pages, a static file, a refused POST, a malformed
# request, SIGTERM. Its system calls are checked against apppass-web.service's filter below.
if [[ $APPPASS_WEB != "$TMP/apppass-web-standin" ]]; then
    WEB_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # strace runs as nobody too, so that setpriv's own calls (setresuid, capset) are not
    # in the trace: only apppass-web's, from its exec on.
    mkdir "$TMP/webtrace"
    chown nobody "$TMP/webtrace"
    # nobody runs a copy of the program and of the built catalogues (it refuses to start
    # without them): the build tree may be unreachable for it (a clone in /root).
    WEB_COPY=$(stage_program "$TMP/webstage" "$APPPASS_WEB")
    cp -r "${APPPASS_WEB_LOCALE_DIR:-/usr/share/locale}" "$TMP/webstage/locale"
    chmod -R a+rX "$TMP/webstage/locale"
    printf 'locale_dir = %s\n' "$TMP/webstage/locale" >"$TMP/web.conf"
    chmod 0644 "$TMP/web.conf"
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        env LD_LIBRARY_PATH="$TMP/webstage/lib" strace -f -qq -o "$TMP/webtrace/trace" \
        "$WEB_COPY" --config "$TMP/web.conf" --broker "$SOCK" --listen "127.0.0.1:$WEB_PORT" >"$TMP/web.out" 2>&1 &
    WEB_STRACE_PID=$!
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$WEB_PORT/signin" && break
        sleep 0.1
    done
    web_code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$WEB_PORT/signin" || true)
    # Any HTTP answer will do: the point is the system calls of serving it.
    check "apppass-web (under strace, as nobody) answers GET /signin (HTTP $web_code)" \
        grep -qx '[1-5][0-9][0-9]' <<<"$web_code"
    curl -s -o /dev/null "http://127.0.0.1:$WEB_PORT/static/style.css" || true
    curl -s -o /dev/null "http://127.0.0.1:$WEB_PORT/" || true
    curl -s -o /dev/null -d 'user=alice&password=x&csrf=wrong' "http://127.0.0.1:$WEB_PORT/signin" || true
    printf 'GARBAGE\r\n\r\n' | "$PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.stdin.buffer.read()); s.recv(4096)' "$WEB_PORT" 2>/dev/null || true
    web_pid=$(cat "/proc/$WEB_STRACE_PID/task/$WEB_STRACE_PID/children" 2>/dev/null | awk '{print $1}')
    if [[ -n $web_pid ]]; then kill -TERM "$web_pid"; fi
    RC=0
    wait "$WEB_STRACE_PID" || RC=$?
    WEB_STRACE_PID=""
    WEB_TRACED=yes
    check "apppass-web exited 0 on SIGTERM (exit $RC)" test "$RC" -eq 0
fi
kill -TERM "$DAEMON_PID"
DAEMON_PID=""
RC=0
wait "$STRACE_PID" || RC=$?  # strace exits with its tracee's status
STRACE_PID=""
check "apppassd exited 0 on SIGTERM (exit $RC)" test "$RC" -eq 0
if [[ -n $PAM_UNIX ]]; then
    check "the traced apppassd's PAM sign-in read /etc/shadow itself (pam_unix as root, no helper)" \
        bash -c 'grep -q "open[a-z]*(.*\"/etc/shadow\"" "$1" && ! grep -q "unix_chkpwd" "$1"' _ "$TMP/trace"
fi
if "$PY" "$(dirname "${BASH_SOURCE[0]}")/syscall_filter.py" "$SERVICE" "$TMP/trace" >"$TMP/calls" 2>&1; then
    sed 's/^/# /' "$TMP/calls"
    refused=$(sed -n 's/^refused [0-9]*: *//p' "$TMP/calls")
    if [[ -z $refused ]]; then
        ok "apppassd made no system call that apppassd.service's SystemCallFilter= refuses"
    else
        not_ok "apppassd made no system call that apppassd.service's SystemCallFilter= refuses" \
            "refused under systemd (EPERM): $refused"
    fi
else
    not_ok "syscall_filter.py read the filter and the trace" "$(cat "$TMP/calls")"
fi

if [[ ${WEB_TRACED:-no} == yes ]]; then
    if "$PY" "$(dirname "${BASH_SOURCE[0]}")/syscall_filter.py" "$WEB" "$TMP/webtrace/trace" >"$TMP/web-calls" 2>&1; then
        sed 's/^/# apppass-web: /' "$TMP/web-calls"
        refused=$(sed -n 's/^refused [0-9]*: *//p' "$TMP/web-calls")
        if [[ -z $refused ]]; then
            ok "apppass-web made no system call that apppass-web.service's SystemCallFilter= refuses"
        else
            not_ok "apppass-web made no system call that apppass-web.service's SystemCallFilter= refuses" \
                "refused under systemd (EPERM): $refused"
        fi
    else
        not_ok "syscall_filter.py read apppass-web's filter and trace" "$(cat "$TMP/web-calls")"
    fi
fi

finish
