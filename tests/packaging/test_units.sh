#!/bin/bash
# systemd_units: the systemd units of apppassd (packaging/systemd) are valid, hardened as
# documented, and agree with the code. Reads the source tree; installs nothing, needs no
# running systemd (systemd-analyze works offline on unit files).
#
# Usage: test_units.sh SRC_DIR APPPASSD
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
#     one README.md and docs/design.md state.
# Prints "ok - ..." / "not ok - ..." per check and "N passed, N failed"; exits 1 when
# anything failed.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 SRC_DIR APPPASSD" >&2
    exit 2
fi
SRC=$(realpath -e "$1")
APPPASSD=$(realpath -e "$2")
# shellcheck source-path=SCRIPTDIR source=../lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/setup.sh"
setup_tmp
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

finish
