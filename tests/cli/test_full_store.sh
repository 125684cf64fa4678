#!/bin/bash
# cli_full_store: a full store and a full disk. Writes that cannot get space fail with a
# clear message and change nothing; readers keep verifying.
#
# Usage: test_full_store.sh APPPASS PAM_MODULE PAM_WRAPPER_LIBRARY STORE_TAMPER
#
#   map      a store made with 'init --map-size 128K' is filled with 'create' until LMDB's
#            map is full (MDB_MAP_FULL); then 'mfa enroll' of new users until that fails
#            too, and 'revoke'. Each failure: exit 5, one line saying the store is full
#            and how to raise the map size; data.mdb byte for byte as before, the same
#            last transaction id, 'list' and 'check' unchanged, the passwords made so far
#            accepted by pam_apppass under pamtester. 'init --map-size 1M' then lets the
#            next create through.
#   efbig    under a file size limit (ulimit -f 8: writes past 8 KiB fail with EFBIG, and
#            SIGXFSZ, which the tool ignores) every write (create, mfa enroll, mfa
#            confirm, revoke, mfa reset) fails with exit 5 and a clear line, nothing
#            committed; reads (list, check) still work under the limit.
#   enospc   only where a mount namespace and tmpfs are permitted (else a note and the
#            rest still runs): the store on a tiny tmpfs, the filesystem filled, create
#            fails with "no space left", nothing changed, passwords still verify; space
#            freed, the next create succeeds; 120 read transactions at once on the full
#            filesystem do not crash (lock.mdb has its blocks since init).
#
# STORE_TAMPER (readers N) holds N read transactions at once, as N concurrent verifiers
# would. APPPASS_TEST_PRELOAD (the ASan runtime when sanitized) is preloaded before
# pam_wrapper for pamtester only.
set -euo pipefail

if [[ ${1:-} == --enospc-inner ]]; then INNER=1; shift; else INNER=0; fi
if [[ $# -ne 4 ]]; then
    echo "usage: $0 APPPASS PAM_MODULE PAM_WRAPPER_LIBRARY STORE_TAMPER" >&2
    exit 2
fi
APPPASS=$(realpath -e "$1")
MODULE=$(realpath -e "$2")
WRAPPER=$(realpath -e "$3")
TAMPER=$(realpath -e "$4")
if [[ $INNER -eq 0 ]]; then
    TMP=$(mktemp -d)
    cleanup() { rm -rf "$TMP"; }
    trap cleanup EXIT
else
    TMP=$ENOSPC_SCRATCH   # the outer run's; the store goes on $ENOSPC_FS, a tmpfs
fi
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PAMTESTER=$(command -v pamtester) || { echo "not ok - pamtester is not installed"; exit 1; }
command -v oathtool >/dev/null || { echo "not ok - oathtool is not installed"; exit 1; }
command -v mdb_stat >/dev/null || { echo "not ok - mdb_stat (lmdb-utils) is not installed"; exit 1; }

HOOKS=$TMP/no-hooks   # missing: no hooks run
PASSWORDS=$TMP/passwords
totp() { oathtool --totp -b "$1"; }
json_field() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# Service files for pamtester: the module on DB, no last-use writes in the efbig part.
SERVICES=$TMP/services
mkdir -p "$SERVICES"
: >"$SERVICES/other"

# accepted_all DB USER [sample]: every password in $PASSWORDS is accepted by pam_apppass
# (with "sample": the first, every 16th and the last, to keep sanitized runs short).
accepted_all() {
    local db=$1 user=$2 sample=${3:-} pw preload=$WRAPPER extra=() n=0 total
    total=$(wc -l <"$PASSWORDS")
    printf 'auth required %s db=%s\naccount required %s db=%s\n' "$MODULE" "$db" "$MODULE" "$db" >"$SERVICES/imap"
    if [[ -n ${APPPASS_TEST_PRELOAD:-} ]]; then
        preload=$APPPASS_TEST_PRELOAD:$WRAPPER
        extra=(PAM_WRAPPER_DISABLE_DEEPBIND=1 ASAN_OPTIONS=detect_leaks=0:abort_on_error=1)
    fi
    while IFS= read -r pw; do
        n=$((n + 1))
        if [[ $sample == sample && $n -ne 1 && $n -ne $total && $((n % 16)) -ne 0 ]]; then continue; fi
        if ! printf '%s\n' "$pw" | env LD_PRELOAD="$preload" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SERVICES" \
            "${extra[@]}" "$PAMTESTER" imap "$user" authenticate >/dev/null 2>"$TMP/pamerr"; then
            echo "# refused: a password of $user ($(head -c 300 "$TMP/pamerr"))"
            return 1
        fi
    done <"$PASSWORDS"
}

# snapshot DB NAME: what must not change when a write fails.
snapshot() {
    local db=$1 name=$2
    "$APPPASS" --db "$db" list --revoked --json >"$TMP/$name.list"
    { "$APPPASS" --db "$db" check || true; } | sed -E 's/^store [^:]*:/store:/' >"$TMP/$name.check"
    mdb_stat -e "$db" | grep -E 'Last transaction ID|Number of pages used' >"$TMP/$name.txn"
    sha256sum <"$db/data.mdb" >"$TMP/$name.sum"
}

# keep DB: a copy of the store as it is now, to compare with after a failed write (taking
# the snapshot only then keeps the fill loops short).
keep() {
    rm -rf "$TMP/prev"
    cp -a "$1" "$TMP/prev"
}

# unchanged DB DESC [bytes]: the store is as the "before" snapshot (data.mdb byte for byte
# too with "bytes"), and check is clean.
unchanged() {
    local db=$1 desc=$2 bytes=${3:-}
    snapshot "$db" after
    local why=""
    cmp -s "$TMP/before.list" "$TMP/after.list" || why="list changed"
    [[ -z $why ]] && { cmp -s "$TMP/before.txn" "$TMP/after.txn" || why="a transaction was committed: $(cat "$TMP/after.txn")"; }
    [[ -z $why ]] && { grep -q ', 0 problems' "$TMP/after.check" || why="check: $(cat "$TMP/after.check")"; }
    [[ -z $why ]] && { cmp -s "$TMP/before.check" "$TMP/after.check" || why="check output changed"; }
    [[ -z $why && $bytes == bytes ]] && { cmp -s "$TMP/before.sum" "$TMP/after.sum" || why="data.mdb bytes changed"; }
    if [[ -z $why ]]; then ok "$desc"; else not_ok "$desc" "$why"; fi
}

# new_store DB [INIT-ARGS...]: a store with alice enrolled and confirmed.
new_store() {
    local db=$1
    shift
    "$APPPASS" --db "$db" init "$@" >/dev/null 2>&1
    "$APPPASS" --db "$db" mfa enroll alice --json >"$TMP/enroll.json"
    "$APPPASS" --db "$db" mfa confirm alice "$(totp "$(json_field "$TMP/enroll.json" secret)")" >/dev/null
    "$APPPASS" --db "$db" policy set max_active 1000 >/dev/null  # more than the default 25
    : >"$PASSWORDS"
}

# create_one DB NAME: runs create (under $LIMIT, a ulimit -f value, when set); on success
# appends the password to $PASSWORDS. Sets RC, output in $TMP/out and $TMP/err.
LIMIT=""
create_one() {
    run_limited --db "$1" --hooks-dir "$HOOKS" create alice --name "$2" --scope imap --json
    if [[ $RC -eq 0 ]]; then json_field "$TMP/out" password >>"$PASSWORDS"; fi
}
run_limited() {
    RC=0
    if [[ -n $LIMIT ]]; then
        (ulimit -f "$LIMIT" && exec timeout -k 5 60 "$APPPASS" "$@") <"$RUN_STDIN" >"$TMP/out" 2>"$TMP/err" || RC=$?
    else
        run "$@"
    fi
}

# refused_cleanly DESC REGEX: the last run exited 5 with one clear line matching REGEX.
refused_cleanly() {
    local desc=$1 regex=$2 why
    why=$(crash_reason)
    [[ -z $why && $RC -ne 5 ]] && why="exit $RC, expected 5"
    [[ -z $why ]] && why=$(one_line_problem)
    [[ -z $why ]] && { grep -qE -- "$regex" "$TMP/err" || why="message does not match /$regex/"; }
    if [[ -z $why ]]; then ok "$desc"; else not_ok "$desc" "$why" "$(run_details)"; fi
}

if [[ $INNER -eq 1 ]]; then
    # --- enospc (inside the mount namespace, the store on a 1 MiB tmpfs).
    DB=$ENOSPC_FS/store
    new_store "$DB"
    for i in 1 2 3; do create_one "$DB" "before $i"; done
    dd if=/dev/zero of="$ENOSPC_FS/filler" bs=4k 2>/dev/null || true
    check "the filesystem is full" test "$(df --output=avail -B1 "$ENOSPC_FS" | tail -1)" -lt 4096
    # Each read transaction takes a slot in lock.mdb; slots past its first page were
    # holes before init allocated them, and a reader writing there died with SIGBUS.
    RC=0
    "$TAMPER" "$DB" readers 120 2>"$TMP/err" || RC=$?
    check "120 concurrent read transactions on a full filesystem: no SIGBUS (exit $RC)" test "$RC" -eq 0
    made=0
    for i in $(seq 1 300); do
        keep "$DB"   # into $TMP, which is not on the full filesystem
        create_one "$DB" "full $i"
        [[ $RC -ne 0 ]] && break
        made=$((made + 1))
    done
    cp "$TMP/out" "$TMP/out.keep"; cp "$TMP/err" "$TMP/err.keep"
    snapshot "$TMP/prev" before
    cp "$TMP/out.keep" "$TMP/out"; cp "$TMP/err.keep" "$TMP/err"
    note "creates that still fitted in free pages of data.mdb: $made"
    refused_cleanly "create on a full filesystem fails: exit 5, 'no space left'" \
        "no space left on the filesystem \(No space left on device\); nothing was changed\. Free some space"
    unchanged "$DB" "... and changes nothing (list, last transaction, check)"
    check "... existing passwords are still accepted (pamtester, last use not writable)" accepted_all "$DB" alice sample
    rm -f "$ENOSPC_FS/filler"
    create_one "$DB" "after space was freed"
    check "with space freed, the next create succeeds" test "$RC" -eq 0
    check "... and is accepted" accepted_all "$DB" alice
    run --db "$DB" check
    check "... and check is clean" test "$RC" -eq 0
    finish
    exit $?
fi

# --- init allocates the reader tables (no holes a reader could fault on when the disk
# is full; the enospc part below shows the SIGBUS that a hole caused).
DB=$TMP/alloc
"$APPPASS" --db "$DB" init >/dev/null 2>&1
for f in lock.mdb usage/lock.mdb; do
    read -r size blocks unit < <(stat -c '%s %b %B' "$DB/$f")
    check "init allocated every block of $f ($blocks x $unit bytes for $size)" test $((blocks * unit)) -ge "$size"
done

# --- map: a store whose map is 128 KiB.
DB=$TMP/map
new_store "$DB" --map-size 128K
# Most of the map is filled directly (consistent records without passwords, in one
# transaction) to keep sanitized runs short; the tool's own creates fill the rest.
"$TAMPER" "$DB" bulk alice 60
made=0
for i in $(seq 1 400); do
    keep "$DB"
    create_one "$DB" "phone $i"
    [[ $RC -ne 0 ]] && break
    made=$((made + 1))
done
cp "$TMP/out" "$TMP/out.keep"; cp "$TMP/err" "$TMP/err.keep"
snapshot "$TMP/prev" before
cp "$TMP/out.keep" "$TMP/out"; cp "$TMP/err.keep" "$TMP/err"
note "a 128 KiB map held 60 + $made app passwords"
check "the store filled up after some creates" test "$made" -gt 5 -a "$made" -lt 400
refused_cleanly "create into a full map: exit 5, says so and how to raise the map size" \
    "the store is full: $DB/data\.mdb reached its map size of 128 KiB; nothing was changed\. Raise the store's map size with 'apppass init --map-size SIZE'"
unchanged "$DB" "... and changes nothing (data.mdb bytes, last transaction, list, check)" bytes
check "... passwords made before are still accepted (pamtester; first, every 16th, last)" accepted_all "$DB" alice sample

# An enrollment touches one table, so freed pages may still hold it (dozens did here);
# the unit test unit_store_check runs enrollments into a full map until one fails, and
# the efbig part below fails every write. Here: done whole, or refused cleanly.
snapshot "$DB" before
run_limited --db "$DB" mfa enroll carol
if [[ $RC -eq 0 ]]; then
    run --db "$DB" check
    check "mfa enroll on a full map: done whole (freed pages sufficed), check clean" test "$RC" -eq 0
else
    refused_cleanly "mfa enroll on a full map fails the same way" "the store is full: .*nothing was changed"
    unchanged "$DB" "... and changes nothing" bytes
fi

snapshot "$DB" before
run_limited --db "$DB" --hooks-dir "$HOOKS" revoke alice --name "phone 1"
if [[ $RC -eq 0 ]]; then
    ok "revoke on a full map: done whole (freed pages sufficed)"
    sed -i 1d "$PASSWORDS"   # "phone 1" is revoked now
    run --db "$DB" check
    check "... check clean after the revoke" test "$RC" -eq 0
else
    refused_cleanly "revoke on a full map: refused cleanly" "the store is full: .*nothing was changed"
    unchanged "$DB" "... and changes nothing" bytes
fi

expect_ok "init --map-size 1M raises the map of the full store" --db "$DB" init --map-size 1M
check "... and says so" grep -q "its map size is now 1048576 bytes" "$TMP/out"
create_one "$DB" "after raising"
check "after raising the map size, create succeeds" test "$RC" -eq 0
expect_ok "... check clean" --db "$DB" check
check "... every password is accepted, the new one too" accepted_all "$DB" alice
expect_fail 2 "map size" "init --map-size below the minimum is refused" --db "$DB" init --map-size 4K
# Grow data.mdb past 128 KiB (pages are reused first), then try to shrink the map below it.
for i in $(seq 1 60); do
    [[ $(mdb_stat -e "$DB" | sed -n 's/.*Number of pages used: //p') -gt 33 ]] && break
    create_one "$DB" "grow $i"
done
expect_fail 2 "already uses [0-9]+ bytes" "init --map-size smaller than data.mdb is refused" --db "$DB" init --map-size 128K
expect_fail 2 "map-size takes a size" "init --map-size garbage is refused" --db "$DB" init --map-size lots

# --- efbig: a file size limit of 8 KiB (the two meta pages); every write is refused.
DB=$TMP/efbig
new_store "$DB"
for i in 1 2; do create_one "$DB" "before $i"; done
"$APPPASS" --db "$DB" mfa enroll bob --json >"$TMP/bob.json"
BOB_CODE=$(totp "$(json_field "$TMP/bob.json" secret)")
LIMIT=8
EFBIG_RE="the file size limit \(ulimit -f\) is reached; nothing was changed"
snapshot "$DB" before
create_one "$DB" "under the limit"
refused_cleanly "create under ulimit -f: exit 5 (not killed by SIGXFSZ), a clear line" "$EFBIG_RE"
unchanged "$DB" "... and changes nothing"
for cmd in "mfa enroll carol" "mfa confirm bob $BOB_CODE" "revoke alice --name before\ 1" "mfa reset alice"; do
    eval "args=($cmd)"
    run_limited --db "$DB" --hooks-dir "$HOOKS" "${args[@]}"
    refused_cleanly "${args[0]} ${args[1]} under ulimit -f fails cleanly" "$EFBIG_RE"
    unchanged "$DB" "... and changes nothing"
done
run_limited --db "$DB" list --json
check "list still works under the limit" test "$RC" -eq 0
run_limited --db "$DB" check
check "check still works under the limit" test "$RC" -eq 0
LIMIT=""
check "the passwords are still accepted" accepted_all "$DB" alice
create_one "$DB" "without the limit"
check "without the limit the next create succeeds" test "$RC" -eq 0

# --- enospc: a tiny tmpfs in a private mount namespace, where permitted.
MNT=$TMP/tmpfs
mkdir "$MNT" "$TMP/inner"
inner=0
unshare -m --propagation private bash -c '
    mount -t tmpfs -o size=1m,mode=0700 tmpfs "$1" 2>/dev/null || exit 99
    ENOSPC_FS=$1 ENOSPC_SCRATCH=$2 exec bash "${@:3}"' _ "$MNT" "$TMP/inner" \
    "${BASH_SOURCE[0]}" --enospc-inner "$APPPASS" "$MODULE" "$WRAPPER" "$TAMPER" \
    >"$TMP/inner.out" 2>&1 || inner=$?
if [[ $inner -ne 99 ]] && ! grep -q "^unshare: " "$TMP/inner.out"; then
    # The inner run's checks count here.
    while IFS= read -r line; do
        case $line in
            "ok - "*) ok "enospc: ${line#ok - }" ;;
            "not ok - "*) not_ok "enospc: ${line#not ok - }" ;;
            "#"*) echo "$line" ;;
        esac
    done <"$TMP/inner.out"
    if [[ $inner -ne 0 ]] && ! grep -q "^not ok" "$TMP/inner.out"; then
        not_ok "enospc: the inner run failed (status $inner)" "$(tail -n 5 "$TMP/inner.out")"
    fi
else
    note "skipped enospc: mount namespaces or tmpfs mounts are not permitted here (EFBIG above covers a write that gets no space)"
fi

finish
