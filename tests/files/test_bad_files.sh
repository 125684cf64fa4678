#!/bin/bash
# files_bad_files: every file of a store made unsafe, one at a time, against all three
# components: the PAM module (pamtester under pam_wrapper), the SASL plugin (sasl_probe:
# the real libsasl2 in process) and the admin tool.
#
#   test_bad_files.sh APPPASS PAM_MODULE PAM_WRAPPER_LIBRARY PAMTESTER SASL_PROBE SASL_PLUGIN
#
# Files: the store directory, key, data.mdb, lock.mdb. Kinds: a symlink to a valid file
# (for data.mdb, lock.mdb and the directory: to another store with the same key that
# holds one more app password, so a read through the link would accept it), group-
# readable, group- or world-writable, owned by another uid, a FIFO, a directory, a
# symlink to /dev/zero, a character device, empty, truncated. Each must be refused by all
# three within the timeout: PAM_AUTHINFO_UNAVAIL with one "error ... reason=unavailable"
# line naming the file, SASL_UNAVAIL, exit 5 from the tool; the other store's password
# never accepted. The modes an earlier apppass gave the store (group-readable; lock.mdb
# group-writable) are the exception for the tool: it makes the store root's alone.
# The usage database is bookkeeping (a login does not depend on it): a bad usage file
# must not be opened, written through, or hang anything, and the login still succeeds.
#
# Needs root (chown, mknod). Environment: APPPASS_TEST_PRELOAD (optional) goes in front
# of pam_wrapper in LD_PRELOAD for pamtester and sasl_probe's foreign children.
set -euo pipefail

if [[ $# -ne 6 ]]; then
    echo "usage: $0 APPPASS PAM_MODULE PAM_WRAPPER_LIBRARY PAMTESTER SASL_PROBE SASL_PLUGIN" >&2
    exit 2
fi
APPPASS=$(realpath -e "$1")
MODULE=$(realpath -e "$2")
WRAPPER=$3
PAMTESTER=$4
PROBE=$(realpath -e "$5")
PLUGIN=$(realpath -e "$6")
if [[ $(id -u) -ne 0 ]]; then
    echo "# skipped: needs root (chown, mknod)"
    exit 77
fi
# shellcheck source-path=SCRIPTDIR source=../lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/setup.sh"
setup_tmp /tmp/apppass-files.XXXXXX
for t in oathtool mkfifo mknod timeout; do
    command -v "$t" >/dev/null || { echo "not ok - $t is not installed"; exit 1; }
done

# Each component gets this long; a refusal takes milliseconds, a hang ends at the limit.
LIMIT=20
preload=$WRAPPER
[[ -n ${APPPASS_TEST_PRELOAD:-} ]] && preload=$APPPASS_TEST_PRELOAD:$WRAPPER
services=$TMP/services
mkdir "$services"
: >"$services/other"

# --- The good store: alice with one app password for imap and smtp. The other store is
# a copy (same key) holding one more password of alice's, so reading its data.mdb
# through a link would accept OTHER_PW.
GOOD=$TMP/good
new_store_with_user "$GOOD" alice
PW=$(tool --db "$GOOD" create alice --name phone --scope imap --scope smtp --json | json_get password)
OTHER=$TMP/other
cp -a "$GOOD" "$OTHER"
OTHER_PW=$(tool --db "$OTHER" create alice --name evil --scope imap --scope smtp --json | json_get password)

# pam DB PASSWORD: pamtester authenticates alice for service imap against store DB.
# Sets PAM_RC (124: hung), the log lines in $TMP/pamlog, pamtester's stderr in $TMP/pamerr.
pam() {
    printf 'auth required %s db=%s\naccount required %s db=%s\n' "$MODULE" "$1" "$MODULE" "$1" \
        >"$services/imap"
    PAM_RC=0
    printf '%s\n' "$2" | timeout -k 5 "$LIMIT" env LD_PRELOAD="$preload" PAM_WRAPPER=1 \
        PAM_WRAPPER_SERVICE_DIR="$services" PAM_WRAPPER_DEBUGLEVEL=4 \
        "$PAMTESTER" -v imap alice authenticate >/dev/null 2>"$TMP/pamerr" || PAM_RC=$?
    sed -n 's/^.*SYSLOG([0-9]*): //p' "$TMP/pamerr" >"$TMP/pamlog"
}

# sasl DB PASSWORD...: PLAIN for alice with each password. Sets SASL_RC (124: hung); the
# answers and log lines are in $TMP/sasl.
sasl() {
    local db=$1 args=() p
    shift
    for p in "$@"; do args+=(alice "$p"); done
    SASL_RC=0
    timeout -k 5 "$LIMIT" "$PROBE" "$PLUGIN" "$db" "${args[@]}" >"$TMP/sasl" 2>&1 || SASL_RC=$?
}

sanitizer_report() { grep -qE 'runtime error:|ERROR: AddressSanitizer|LeakSanitizer' "$@"; }

# --- The baseline: both stores work, and each knows only its own passwords.
pam "$GOOD" "$PW"
check "baseline: PAM accepts the good store's password" test "$PAM_RC" -eq 0
pam "$GOOD" "$OTHER_PW"
check "baseline: PAM refuses the other store's password on the good store" test "$PAM_RC" -ne 0
pam "$OTHER" "$OTHER_PW"
check "baseline: PAM accepts the other store's password on the other store" test "$PAM_RC" -eq 0
sasl "$GOOD" "$PW" "$OTHER_PW"
check "baseline: SASL accepts the good password, refuses the other's" \
    grep -qz 'alice SASL_OK.alice SASL_BADAUTH' "$TMP/sasl"
sasl "$OTHER" "$OTHER_PW"
check "baseline: SASL accepts the other store's password on the other store" \
    grep -q '^alice SASL_OK' "$TMP/sasl"

# refused DESC DB FILE_REGEX: all three components refuse store DB as unavailable with a
# message matching FILE_REGEX, within the limit, and never accept either password. With
# TIGHTENS=1 (a mode an earlier apppass gave the store) the admin tool instead makes the
# store root's alone, and PAM accepts afterwards.
TIGHTENS=0
refused() {
    local desc=$1 db=$2 regex=$3 why=""
    SECONDS=0
    pam "$db" "$PW"
    if [[ $PAM_RC -eq 124 ]]; then why="pamtester hung (killed after ${LIMIT}s)"
    elif [[ $PAM_RC -eq 0 ]]; then why="pamtester accepted the password"
    elif ! grep -q 'Authentication service cannot retrieve authentication info' "$TMP/pamerr"; then
        why="not PAM_AUTHINFO_UNAVAIL: $(grep '^pamtester' "$TMP/pamerr" | tail -1)"
    elif [[ $(wc -l <"$TMP/pamlog") -ne 1 ]] ||
        ! grep -qE "error service=imap user=alice .*reason=unavailable detail=.*$regex" "$TMP/pamlog"; then
        why="want one 'reason=unavailable' line matching /$regex/: $(cat "$TMP/pamlog")"
    elif sanitizer_report "$TMP/pamerr"; then why="sanitizer report: $(cat "$TMP/pamerr")"
    fi
    if [[ -z $why ]]; then
        pam "$db" "$OTHER_PW"
        [[ $PAM_RC -ne 0 ]] || why="pamtester accepted the other store's password"
    fi
    if [[ -z $why ]]; then ok "$desc: PAM refuses (PAM_AUTHINFO_UNAVAIL, one log line)"
    else not_ok "$desc: PAM" "$why"; fi

    why=""
    sasl "$db" "$PW" "$OTHER_PW"
    if [[ $SASL_RC -eq 124 ]]; then why="sasl_probe hung (killed after ${LIMIT}s)"
    elif [[ $SASL_RC -ne 0 ]]; then why="sasl_probe failed ($SASL_RC): $(cat "$TMP/sasl")"
    elif ! grep -qz 'alice SASL_UNAVAIL.alice SASL_UNAVAIL' "$TMP/sasl"; then
        why="want SASL_UNAVAIL twice: $(cat "$TMP/sasl")"
    elif [[ $(grep -cE "^log: apppass: error service=smtp .*reason=unavailable detail=.*$regex" "$TMP/sasl") -ne 2 ]]; then
        why="want one 'reason=unavailable' line matching /$regex/ per login: $(cat "$TMP/sasl")"
    elif sanitizer_report "$TMP/sasl"; then why="sanitizer report: $(cat "$TMP/sasl")"
    fi
    if [[ -z $why ]]; then ok "$desc: SASL refuses (SASL_UNAVAIL)"
    else not_ok "$desc: SASL" "$why"; fi

    RUN_TIMEOUT=$LIMIT
    run --db "$db" list alice --json
    if [[ $TIGHTENS -eq 1 ]]; then
        # A mode an earlier apppass gave the store: the admin tool makes it root's alone.
        if [[ $RC -eq 0 ]] && grep -q "^apppass: made root-only: " "$TMP/err"; then
            ok "$desc: apppass makes it root's alone (exit 0, one line per entry)"
        else
            not_ok "$desc: apppass" "exit $RC (want 0, tightened)" "$(cat "$TMP/err")"
        fi
        pam "$db" "$PW"
        check "$desc: tightened, PAM accepts again" test "$PAM_RC" -eq 0
    elif [[ $RC -eq 5 ]] && grep -qE "$regex" "$TMP/err" && [[ $(wc -l <"$TMP/err") -eq 1 ]]; then
        ok "$desc: apppass exits 5 with one line naming it"
    else
        not_ok "$desc: apppass" "exit $RC (want 5)" "$(cat "$TMP/err")"
    fi
    check "$desc: no hang (${SECONDS}s for all three)" test "$SECONDS" -lt "$LIMIT"
}

fresh() {
    rm -rf "${TMP:?}/c/$1"
    mkdir -p "$TMP/c"
    cp -a "$GOOD" "$TMP/c/$1"
    echo "$TMP/c/$1"
}

# replace DIR FILE KIND: makes DIR/FILE (a regular file of the store) bad in one way.
replace() {
    local d=$1 f=$2 kind=$3 size
    case $kind in
    symlink-other) rm "$d/$f"; ln -s "$OTHER/$f" "$d/$f" ;;
    symlink-same) mv "$d/$f" "$d/$f.real"; ln -s "$f.real" "$d/$f" ;;
    group-readable) chmod g+r "$d/$f" ;;
    group-writable) chmod g+w "$d/$f" ;;
    world-writable) chmod o+w "$d/$f" ;;
    foreign-owner) chown 4242:4242 "$d/$f" ;;
    fifo) rm "$d/$f"; mkfifo -m 0640 "$d/$f" ;;
    directory) rm "$d/$f"; mkdir -m 0750 "$d/$f" ;;
    dev-zero-symlink) rm "$d/$f"; ln -s /dev/zero "$d/$f" ;;
    char-device) rm "$d/$f"; mknod -m 0640 "$d/$f" c 1 5 ;;
    empty) : >"$d/$f" ;;
    truncated) size=$(stat -c %s "$d/$f"); truncate -s $((size / 2)) "$d/$f" ;;
    *) echo "unknown kind $kind" >&2; exit 2 ;;
    esac
}

declare -A message=(
    [symlink-other]="symbolic link" [symlink-same]="symbolic link"
    [group-readable]="unsafe permissions" [group-writable]="unsafe permissions"
    [world-writable]="unsafe permissions"
    [foreign-owner]="owned by uid 4242" [fifo]="not a regular file"
    [directory]="not a regular file" [dev-zero-symlink]="symbolic link"
    [char-device]="not a regular file"
)

# --- key, data.mdb, lock.mdb
for f in key data.mdb lock.mdb; do
    for kind in symlink-other symlink-same group-readable group-writable world-writable \
        foreign-owner fifo directory dev-zero-symlink char-device empty truncated; do
        # The store is root's alone: verifiers refuse any access by the group. Modes an
        # earlier apppass gave the store (the group read every file and wrote lock.mdb)
        # are tightened by the admin tool; any other is refused by it too.
        TIGHTENS=0
        [[ $kind == group-readable || ( $f == lock.mdb && $kind == group-writable ) ]] && TIGHTENS=1
        # LMDB rebuilds an empty or truncated reader table: not a fault (checked below).
        [[ $f == lock.mdb && ( $kind == empty || $kind == truncated ) ]] && continue
        d=$(fresh "$f-$kind")
        replace "$d" "$f" "$kind"
        regex="${f//./\\.}.*${message[$kind]:-}"
        case $f/$kind in
        key/empty | key/truncated) regex="key.*wrong size" ;;
        data.mdb/empty) regex="data\.mdb is empty" ;;
        data.mdb/truncated) regex="data\.mdb is truncated" ;;
        esac
        refused "$f is $kind" "$d" "$regex"
    done
done
TIGHTENS=0

# An empty or truncated lock.mdb holds no state LMDB needs: it is rebuilt, logins work.
for kind in empty truncated; do
    d=$(fresh "lock-$kind")
    replace "$d" lock.mdb "$kind"
    pam "$d" "$PW"
    check "lock.mdb $kind: rebuilt, PAM accepts" test "$PAM_RC" -eq 0
done

# --- The store directory itself.
d=$TMP/c/dir-symlink-other
ln -s "$OTHER" "$d"
refused "store directory is a symlink to another store" "$d" "symbolic link"
d=$TMP/c/dir-symlink-dev-zero
ln -s /dev/zero "$d"
refused "store directory is a symlink to /dev/zero" "$d" "symbolic link"
d=$(fresh dir-group-writable); chmod g+w "$d"
refused "store directory is group-writable" "$d" "unsafe permissions"
d=$(fresh dir-world-writable); chmod o+w "$d"
refused "store directory is world-writable" "$d" "unsafe permissions"
d=$(fresh dir-foreign-owner); chown 4242 "$d"
refused "store directory owned by another uid" "$d" "owned by uid 4242"
d=$TMP/c/dir-fifo
mkfifo -m 0750 "$d"
refused "store directory is a FIFO" "$d" "not a directory"
d=$TMP/c/dir-file
: >"$d"
refused "store directory is a regular file" "$d" "not a directory"
d=$(fresh dir-group-readable); chmod g+rx "$d"
TIGHTENS=1 refused "store directory is group-readable (0750, as earlier versions made it)" "$d" "unsafe permissions"
d=$TMP/c/dir-empty
mkdir -m 0700 "$d"
refused "store directory is empty" "$d" "no data.mdb"

# --- The usage database: a bad file is not opened and never written through; the
# decision stands (last use is bookkeeping), with one warning.
usage_case() {
    local desc=$1 d=$2 before after
    before=$(md5sum "$OTHER/usage/data.mdb" "$OTHER/usage/lock.mdb")
    SECONDS=0
    pam "$d" "$PW"
    if [[ $PAM_RC -eq 0 ]] && grep -q 'accepted service=imap user=alice' "$TMP/pamlog" &&
        grep -q 'could not record last use' "$TMP/pamlog"; then
        ok "$desc: PAM accepts, warns that last use was not recorded"
    else
        not_ok "$desc: PAM" "exit $PAM_RC" "$(cat "$TMP/pamlog")"
    fi
    sasl "$d" "$PW"
    if [[ $SASL_RC -eq 0 ]] && grep -q '^alice SASL_OK' "$TMP/sasl" &&
        grep -q 'last use will not be recorded' "$TMP/sasl"; then
        ok "$desc: SASL accepts, warns that last use will not be recorded"
    else
        not_ok "$desc: SASL" "exit $SASL_RC" "$(cat "$TMP/sasl")"
    fi
    after=$(md5sum "$OTHER/usage/data.mdb" "$OTHER/usage/lock.mdb")
    check "$desc: nothing written through to the other store's usage" test "$before" = "$after"
    check "$desc: no hang (${SECONDS}s)" test "$SECONDS" -lt "$LIMIT"
}
for f in data.mdb lock.mdb; do
    for kind in symlink-other world-writable foreign-owner fifo directory char-device; do
        d=$(fresh "usage-$f-$kind")
        replace "$d/usage" "$f" "$kind"
        usage_case "usage/$f is $kind" "$d"
    done
done
d=$(fresh usage-dir-symlink); rm -rf "$d/usage"; ln -s "$OTHER/usage" "$d/usage"
usage_case "usage directory is a symlink to another store's" "$d"
d=$(fresh usage-dir-fifo); rm -rf "$d/usage"; mkfifo -m 0750 "$d/usage"
usage_case "usage directory is a FIFO" "$d"

finish
