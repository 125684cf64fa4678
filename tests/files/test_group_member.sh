#!/bin/bash
# files_group_member: the three attacks of issue 11, replayed as a member of the group
# the verifiers used to share the store with. Each attack started by opening a store file
# as that member: holding LMDB's writer lock (lock.mdb, read-write), rewriting the
# transaction id in lock.mdb, changing bytes of a usage page (usage/data.mdb). The store
# is now root's alone, so each first step fails with "Permission denied", and the store
# directory cannot even be listed.
#
#   test_group_member.sh APPPASS
#
# A real group and a real user in it (tests/lib/users.sh: useradd, removed at the end),
# the real tools run as that user with setpriv (dd, ls, mdb_stat). Then a store with the
# old group-accessible modes (root:GROUP 0750, key and data.mdb 0640, the lock and usage
# files 0660): there the same first steps succeed (so this test can fail), 'apppass check'
# flags every group-accessible entry with the fix, and one admin command ('apppass list')
# makes the store root's alone again, after which the member is locked out.
#
# Root only (useradd, setpriv): exit 77 otherwise.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 APPPASS" >&2
    exit 2
fi
APPPASS=$(realpath -e "$1")
# shellcheck source-path=SCRIPTDIR source=../lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/setup.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/users.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/users.sh"
require_root_users
require_tools oathtool dd ls mdb_stat stat setpriv
TMP=$(mktemp -d /tmp/apppass-grp.XXXXXX)
trap 'users_cleanup; rm -rf "$TMP"' EXIT
# The member must reach the store directory itself: the refusal must come from the store.
chmod 0755 "$TMP"

make_test_group GRP apgrp
make_test_user MEMBER apmem "$GRP"
check "set-up: $MEMBER is in group $GRP" grep -qw "$GRP" <(as_user "$MEMBER" id -Gn)

DB=$TMP/store
store_with_passwords "$DB"
FILES=(key mfa.key data.mdb lock.mdb usage/data.mdb usage/lock.mdb)

# as MEMBER: runs a command as the member; its output in $TMP/as.out, status in AS_RC.
as() {
    AS_RC=0
    as_user "$MEMBER" "$@" >"$TMP/as.out" 2>&1 || AS_RC=$?
}
# denied DESC CMD...: CMD as the member fails with "Permission denied".
denied() {
    local desc=$1
    shift
    as "$@"
    if [[ $AS_RC -ne 0 ]] && grep -q "Permission denied" "$TMP/as.out"; then ok "$desc"; else
        not_ok "$desc" "exit $AS_RC" "$(head -n 5 "$TMP/as.out")"; fi
}
# allowed DESC CMD...: CMD as the member succeeds (the old store: the attacks' first step).
allowed() {
    local desc=$1
    shift
    as "$@"
    if [[ $AS_RC -eq 0 ]]; then ok "$desc"; else not_ok "$desc" "exit $AS_RC" "$(head -n 5 "$TMP/as.out")"; fi
}
# modes: "REL MODE OWNER:GROUP" of every entry, one per line.
modes() {
    local rel
    for rel in . key mfa.key data.mdb lock.mdb usage usage/data.mdb usage/lock.mdb; do
        printf '%s %s\n' "$rel" "$(stat -c '%a %U:%G' "$DB/$rel")"
    done
}
ROOT_ONLY=". 700 root:root
key 600 root:root
mfa.key 600 root:root
data.mdb 600 root:root
lock.mdb 600 root:root
usage 700 root:root
usage/data.mdb 600 root:root
usage/lock.mdb 600 root:root"

# attacks DESC_SUFFIX: every first step, as the member, denied.
attacks() {
    local s=$1 f
    # (a) the writer lock: LMDB takes it in lock.mdb, which must be opened read-write.
    denied "$s: holding the writer lock: lock.mdb cannot be opened for writing" \
        dd if=/dev/zero of="$DB/lock.mdb" bs=1 count=0 conv=notrunc status=none
    denied "$s: the environment cannot be opened (mdb_stat -e)" mdb_stat -e "$DB"
    # (b) the transaction id in lock.mdb: read it, write it.
    denied "$s: lock.mdb cannot be read" dd if="$DB/lock.mdb" of=/dev/null bs=4096 count=1 status=none
    # (c) a usage leaf page: usage/data.mdb for reading or writing, its reader table too.
    denied "$s: usage/data.mdb cannot be opened for writing" \
        dd if=/dev/zero of="$DB/usage/data.mdb" bs=1 count=0 conv=notrunc status=none
    denied "$s: the usage environment cannot be opened (mdb_stat -e)" mdb_stat -e "$DB/usage"
    # Every store file, both ways.
    for f in "${FILES[@]}"; do
        denied "$s: $f cannot be read" dd if="$DB/$f" of=/dev/null bs=4096 count=1 status=none
        denied "$s: $f cannot be opened for writing" \
            dd if=/dev/zero of="$DB/$f" bs=1 count=0 conv=notrunc status=none
    done
    denied "$s: the store directory cannot be listed" ls "$DB"
    denied "$s: the usage directory cannot be listed" ls "$DB/usage"
}

# --- The store as 'apppass init' makes it.
check "new store: every entry is root's alone" diff <(modes) <(printf '%s\n' "$ROOT_ONLY")
attacks "new store"

# --- A store with the modes apppass gave before issue 11, the group the member's.
chmod 0750 "$DB" "$DB/usage"
chmod 0640 "$DB/key" "$DB/data.mdb"
chmod 0660 "$DB/lock.mdb" "$DB/usage/data.mdb" "$DB/usage/lock.mdb"
chgrp "$GRP" "$DB" "$DB/key" "$DB/data.mdb" "$DB/lock.mdb" "$DB/usage" "$DB/usage/data.mdb" \
    "$DB/usage/lock.mdb"
BEFORE=$(sha256sum "$DB/key" "$DB/data.mdb")
# What the attacks had: their first steps succeed (proof that the checks above can fail).
allowed "old store: the member can open lock.mdb for writing (the attacks' first step)" \
    dd if=/dev/zero of="$DB/lock.mdb" bs=1 count=0 conv=notrunc status=none
allowed "old store: the member can open the usage database for writing" \
    dd if=/dev/zero of="$DB/usage/data.mdb" bs=1 count=0 conv=notrunc status=none
allowed "old store: the member can list the store and open the environment" mdb_stat -e "$DB"

# apppass check: a problem per group-accessible entry, with the fix; exit 8.
run --db "$DB" check
if [[ $RC -eq 8 ]]; then ok "old store: apppass check exits 8"; else not_ok "old store: apppass check exits 8" "exit $RC" "$(cat "$TMP/out" "$TMP/err")"; fi
for rel in key data.mdb lock.mdb usage/data.mdb usage/lock.mdb; do
    check "old store: check flags $rel as group-accessible, fix: run an admin command" \
        grep -qE "^problem: files $rel: .*/$rel is group- or world-accessible .*; fix: run any admin command as root to tighten it, e.g. 'apppass --db .* list'" "$TMP/out"
done
check "old store: check flags the directory too" grep -qE "^problem: files \.: .*group- or world-accessible" "$TMP/out"
check "old store: check says it read no further" grep -qE "^warning: files: the records were not checked" "$TMP/out"

# One admin command tightens it, one stderr line per entry changed.
run --db "$DB" list alice
if [[ $RC -eq 0 ]]; then ok "old store: apppass list works (and tightens)"; else not_ok "old store: apppass list works (and tightens)" "exit $RC" "$(cat "$TMP/err")"; fi
check "old store: list names alice's password" grep -q "phone" "$TMP/out"
check "old store: one 'made root-only' line per changed entry (7)" \
    test "$(grep -c "^apppass: made root-only: $DB.*-> 0[67]00 root:root$" "$TMP/err")" -eq 7
check "old store: the line says what it was" grep -q "^apppass: made root-only: $DB/lock.mdb: 0660 root:$GRP -> 0600 root:root$" "$TMP/err"
check "tightened: every entry is root's alone" diff <(modes) <(printf '%s\n' "$ROOT_ONLY")
check "tightened: key and data unchanged" test "$BEFORE" = "$(sha256sum "$DB/key" "$DB/data.mdb")"
run --db "$DB" check
check "tightened: apppass check is clean (exit 0)" test "$RC" -eq 0
run --db "$DB" list alice
check "tightened: the next admin command changes nothing" not test -s "$TMP/err"
attacks "tightened store"

finish
