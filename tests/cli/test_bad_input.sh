#!/bin/bash
# cli_bad_input: hostile input and broken stores against the admin tool.
#
# Usage: test_bad_input.sh /path/to/apppass
#
# Part 1, bad input: user names, labels, scopes, durations, limits and TOTP codes that are
# empty, huge, not UTF-8 or full of control characters. Each must exit non-zero with one
# clear "apppass: ..." line on stderr, print nothing on stdout, and leave the store exactly
# as it was (list --revoked --json and an mdb_dump of both LMDB environments compared).
#   - A NUL byte cannot pass through argv (C strings end at NUL), so NUL is only tried on
#     stdin (mfa confirm); the validators' NUL check is left to the unit tests.
#   - Linux refuses to exec with one argument longer than MAX_ARG_STRLEN (128 KiB), so a
#     1 MiB value never reaches the tool as one argument: the largest one that does
#     (128 KiB - 1) is tried instead, and 1 MiB is tried spread over 16 --scope values
#     and on stdin.
# Part 2, broken stores: missing, not a store, symlinked, unsafe modes, foreign owner,
# FIFOs, corrupt or truncated data.mdb, newer schema, corrupt records, unreadable by a
# non-root user. Each must exit 5 with one line naming the problem, within seconds.
# Anything killed by a signal, timed out, or reported by a sanitizer is a failure.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_setup "$@"
# shellcheck source-path=SCRIPTDIR source=../lib/stage.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/stage.sh"

require_tools oathtool mdb_dump mdb_load mkfifo setpriv

DB=$TMP/store
db=(--db "$DB")

# A store with one confirmed user (alice) who has one app password, so that every
# command gets as far as its input checks.
new_store_with_user "$DB" alice
"$APPPASS" "${db[@]}" create alice --name base --scope imap >/dev/null
"$APPPASS" "${db[@]}" mfa enroll pending-user >/dev/null

snapshot() {
    {
        "$APPPASS" "${db[@]}" list --revoked --json
        "$APPPASS" "${db[@]}" mfa status alice --json
        "$APPPASS" "${db[@]}" mfa status pending-user --json
        mdb_dump -a "$DB"
        mdb_dump -a "$DB/usage"
    } 2>&1
}
snapshot >"$TMP/baseline"

# bad CODES DESC ARGS...: expect_fail with any message, plus "the store is unchanged",
# reported as one check.
bad() {
    local codes=$1 desc=$2
    shift 2
    local before=$FAILED
    expect_fail "$codes" "" "$desc" "$@" >"$TMP/result"
    if [[ $FAILED -eq $before ]]; then
        snapshot >"$TMP/now"
        if cmp -s "$TMP/baseline" "$TMP/now"; then
            cat "$TMP/result"
        else
            PASSED=$((PASSED - 1))
            not_ok "$desc" "the store changed:" "$(diff "$TMP/baseline" "$TMP/now" | head -n 10)"
            cp "$TMP/now" "$TMP/baseline"  # report each change once
        fi
    else
        cat "$TMP/result"
    fi
}

big() { head -c "$1" /dev/zero | tr '\0' "${2:-a}"; }
MAX_ARG=$((128 * 1024 - 1))   # the longest single argument Linux passes to exec

# ---------------------------------------------------------------------------------------
note "bad user names (exit 2 from every command that takes USER)"
declare -A USERS=(
    [empty]=""
    ["257 bytes"]="$(big 257)"
    ["128 KiB - 1 (largest argv string)"]="$(big "$MAX_ARG")"
    ["invalid UTF-8 \\xff\\xfe"]=$'\xff\xfe'
    ["truncated UTF-8"]=$'al\xc3'
    ["overlong UTF-8 /"]=$'\xc0\xaf'
    ["UTF-8 surrogate"]=$'\xed\xa0\x80'
    ["above U+10FFFF"]=$'\xf4\x90\x80\x80'
    [tab]=$'a\tb'
    [newline]=$'alice\nroot'
    ["carriage return"]=$'alice\rx'
    ["ANSI escape"]=$'\e[31mred'
    [DEL]=$'a\x7fb'
    ["\\x01"]=$'\x01'
)
for what in "${!USERS[@]}"; do
    u=${USERS[$what]}
    bad 2 "user $what: mfa enroll" "${db[@]}" mfa enroll "$u" --json
    bad 2 "user $what: mfa confirm" "${db[@]}" mfa confirm "$u" 123456
    bad 2 "user $what: mfa status" "${db[@]}" mfa status "$u" --json
    bad 2 "user $what: mfa reset" "${db[@]}" mfa reset "$u"
    bad 2 "user $what: create" "${db[@]}" create "$u" --name x --scope imap --json
    # list's USER is optional: an empty one means everyone, so skip it there.
    [[ -n $u ]] && bad 2 "user $what: list" "${db[@]}" list "$u" --json
    bad 2 "user $what: revoke" "${db[@]}" revoke "$u" --all
done
note "1 MiB in one argument cannot be passed to exec (E2BIG): checking that, not the tool"
RC=0
"$APPPASS" "${db[@]}" mfa enroll "$(big 1048576)" >/dev/null 2>&1 || RC=$?
check "1 MiB user name: exec refuses it before the tool runs (exit 126)" test "$RC" -eq 126

# ---------------------------------------------------------------------------------------
note "bad labels"
declare -A LABELS=(
    [empty]=""
    ["65 bytes"]="$(big 65)"
    ["128 KiB - 1 (largest argv string)"]="$(big "$MAX_ARG")"
    ["invalid UTF-8 \\xff\\xfe"]=$'\xff\xfe'
    ["truncated UTF-8"]=$'phone\xe2\x82'
    ["overlong UTF-8"]=$'\xe0\x80\xaf'
    [tab]=$'iPhone\tmail'
    [newline]=$'iPhone\nmail'
    ["ANSI escape"]=$'\e]0;title\a'
    [DEL]=$'x\x7f'
)
for what in "${!LABELS[@]}"; do
    l=${LABELS[$what]}
    bad 2 "label $what: create" "${db[@]}" create alice --name "$l" --scope imap --json
    # revoke --name: an invalid label cannot match anything (2 or 3 are both fine).
    bad "2 3" "label $what: revoke --name" "${db[@]}" revoke alice --name "$l"
done

# ---------------------------------------------------------------------------------------
note "bad scopes"
declare -A SCOPES=(
    [uppercase]=IMAP
    ["with a space"]="im ap"
    [empty]=""
    ["leading dash"]="-imap"
    ["leading dot"]=".imap"
    [slash]="imap/smtp"
    ["33 characters"]="$(big 33 s)"
    ["128 KiB - 1"]="$(big "$MAX_ARG" s)"
    [newline]=$'imap\n'
    ["non-ASCII"]="imäp"
    ["invalid UTF-8"]=$'\xff'
)
for what in "${!SCOPES[@]}"; do
    v=${SCOPES[$what]}
    # "--scope=VALUE" only where VALUE would look like an option ("--scope=" alone is
    # CLI11's own "value missing", so the empty scope goes as a separate argument).
    if [[ $v == -* ]]; then opt=("--scope=$v"); else opt=(--scope "$v"); fi
    bad 2 "scope $what" "${db[@]}" create alice --name x "${opt[@]}" --json
done
bad 2 "scope given as --scope= (no value)" "${db[@]}" create alice --name x --scope= --json
seventeen=()
for i in $(seq 1 17); do seventeen+=(--scope "s$i"); done
bad 2 "17 scopes (more than 16)" "${db[@]}" create alice --name x "${seventeen[@]}"
mib=()
for i in $(seq 1 16); do mib+=(--scope "$(big 65536 s)"); done
bad 2 "1 MiB of scopes (16 x 64 KiB)" "${db[@]}" create alice --name x "${mib[@]}"
bad 2 "a good scope then a bad one" "${db[@]}" create alice --name x --scope imap --scope SMTP

# ---------------------------------------------------------------------------------------
note "bad --expires"
for e in 0 -1 5x "" " 90d" "90d " 1.5d d 90D 0x10 +5 -5d 90dd never2 NEVER 36601d 5300w \
    99999999999999999999 9223372036854775807s 9223372036854775807w "$(big 1000 9)"; do
    shown=$e
    [[ ${#shown} -gt 24 ]] && shown="${shown:0:12}... (${#e} chars)"
    if [[ $e == -* ]]; then opt=("--expires=$e"); else opt=(--expires "$e"); fi
    bad 2 "--expires '$shown'" "${db[@]}" create alice --name x --scope imap "${opt[@]}" --json
done
bad 2 "--expires -1 (separate argument)" "${db[@]}" create alice --name x --scope imap --expires -1
bad 2 "--expires without a value" "${db[@]}" create alice --name x --scope imap --expires
bad 2 "--expires= (no value)" "${db[@]}" create alice --name x --scope imap --expires=

note "bad policy max_active (create has no --max-active: the cap is the stored policy's)"
bad 2 "create --max-active" "${db[@]}" create alice --name x --scope imap --max-active=5
for m in 0 -1 1001 abc "" 1.5 99999999999999999999; do
    bad 2 "policy set max_active '$m'" "${db[@]}" policy set max_active "$m"
done

# ---------------------------------------------------------------------------------------
note "bad codes (a wrong or malformed code is refused, exit 4; none at all is exit 2)"
for c in 12345 1234567 abcdef 12345a "123 456" -12345 "$(big 1000 1)"; do
    bad 4 "code '${c:0:16}' (${#c} chars) as argument" "${db[@]}" mfa confirm pending-user "--" "$c"
done
bad 2 "empty code argument and nothing on stdin" "${db[@]}" mfa confirm pending-user ""
big 1048576 7 >"$TMP/code"
RUN_STDIN=$TMP/code
bad 4 "1 MiB code on stdin (no newline)" "${db[@]}" mfa confirm pending-user
{ big 1048576 7; echo; } >"$TMP/code"
bad 4 "1 MiB code line on stdin" "${db[@]}" mfa confirm pending-user
printf '123\000456\n' >"$TMP/code"
bad 4 "a NUL byte inside the code on stdin" "${db[@]}" mfa confirm pending-user
printf '\xff\xfe\xfd\xfc\xfb\xfa\n' >"$TMP/code"
bad 4 "6 bytes of invalid UTF-8 on stdin" "${db[@]}" mfa confirm pending-user
printf '\n' >"$TMP/code"
bad "2 4" "an empty line on stdin" "${db[@]}" mfa confirm pending-user
RUN_STDIN=/dev/null

note "valid edge cases are accepted (these change the store)"
expect_ok "a 256-byte user name" "${db[@]}" mfa enroll "$(big 256)" --json
expect_ok "a 64-byte label" "${db[@]}" create alice --name "$(big 64 L)" --scope imap --json
expect_ok "a 64-byte label of 4-byte UTF-8 characters" "${db[@]}" create alice --name "$(printf '😀%.0s' $(seq 16))" --scope imap --json
sixteen=()
for i in $(seq 10 25); do sixteen+=(--scope "s$i$(big 29 x)"); done
expect_ok "16 scopes of 32 characters" "${db[@]}" create alice --name sixteen "${sixteen[@]}" --json
expect_ok "--expires 36600d (100 years)" "${db[@]}" create alice --name century --scope imap --expires 36600d --json
expect_ok "policy set max_active 1000" "${db[@]}" policy set max_active 1000
expect_ok "a create under max_active 1000" "${db[@]}" create alice --name many --all-services --json

# ---------------------------------------------------------------------------------------
note "broken stores (exit 5, one line naming the problem)"
# fresh NAME: a new, valid store at $TMP/NAME with a confirmed alice; prints its path.
fresh() {
    rm -rf "${TMP:?}/$1"
    cp -a "$DB" "$TMP/$1"
    echo "$TMP/$1"
}

# broken REGEX DESC DIR: list and a write (mfa enroll) both exit 5 with that message.
broken() {
    local regex=$1 desc=$2 dir=$3
    expect_fail 5 "$regex" "$desc: list" --db "$dir" list --json
    expect_fail 5 "$regex" "$desc: mfa enroll" --db "$dir" mfa enroll bob --json
}

broken "does not exist" "missing store directory" "$TMP/missing"
mkdir -m 0700 "$TMP/empty"
broken "no data.mdb|apppass store" "an empty directory" "$TMP/empty"
mkdir -m 0700 "$TMP/other"
echo hello >"$TMP/other/notes.txt"
broken "no data.mdb|apppass store" "a directory that is not a store" "$TMP/other"
: >"$TMP/plainfile"
broken "not a directory" "a regular file as --db" "$TMP/plainfile"

d=$(fresh key-symlink); mv "$d/key" "$d/key.real"; ln -s key.real "$d/key"
broken "key.*symbolic link" "key is a symlink" "$d"
d=$(fresh key-symlink-out); mv "$d/key" "$TMP/stolen-key"; ln -s "$TMP/stolen-key" "$d/key"
broken "key.*symbolic link" "key is a symlink out of the store" "$d"
d=$(fresh mfakey-symlink); mv "$d/mfa.key" "$d/mfa.real"; ln -s mfa.real "$d/mfa.key"
broken "mfa.key.*symbolic link" "mfa.key is a symlink" "$d"
d=$(fresh data-symlink); mv "$d/data.mdb" "$d/real.mdb"; ln -s real.mdb "$d/data.mdb"
broken "data.mdb.*symbolic link" "data.mdb is a symlink" "$d"
d=$(fresh key-0644); chmod 0644 "$d/key"
broken "key.*(unsafe|permission).*chmod" "key is mode 0644" "$d"
d=$(fresh key-0660); chmod 0660 "$d/key"
broken "key.*(unsafe|permission).*chmod" "key is mode 0660 (group-writable)" "$d"
d=$(fresh mfakey-0640); chmod 0640 "$d/mfa.key"
broken "mfa.key.*(unsafe|permission).*chmod" "mfa.key is mode 0640 (group could read TOTP secrets)" "$d"
d=$(fresh data-0666); chmod 0666 "$d/data.mdb"
broken "data.mdb.*(unsafe|permission).*chmod" "data.mdb is mode 0666" "$d"
d=$(fresh lock-0666); chmod 0666 "$d/lock.mdb"
broken "lock.mdb.*(unsafe|permission).*chmod" "lock.mdb is mode 0666" "$d"
d=$(fresh dir-0777); chmod 0777 "$d"
broken "(unsafe|permission).*chmod" "store directory is mode 0777" "$d"
d=$(fresh key-foreign); chown 4242 "$d/key"
broken "key.*owned by" "key owned by another user" "$d"
d=$(fresh data-foreign); chown 4242:4242 "$d/data.mdb"
broken "data.mdb.*owned by" "data.mdb owned by another user" "$d"
d=$(fresh dir-foreign); chown 4242 "$d"
broken "owned by" "store directory owned by another user" "$d"
d=$(fresh key-missing); rm "$d/key"
broken "key.*missing" "key is missing" "$d"
d=$(fresh mfakey-missing); rm "$d/mfa.key"
broken "mfa.key.*missing" "mfa.key is missing" "$d"
d=$(fresh key-short); head -c 16 /dev/urandom >"$d/key.new"; chmod 0600 "$d/key.new"; mv "$d/key.new" "$d/key"
broken "key.*size" "key is 16 bytes" "$d"
d=$(fresh key-dir); rm "$d/key"; mkdir -m 0750 "$d/key"
broken "key.*regular file" "key is a directory" "$d"
d=$(fresh data-dir); rm "$d/data.mdb"; mkdir -m 0750 "$d/data.mdb"
broken "data.mdb.*regular file" "data.mdb is a directory" "$d"

RUN_TIMEOUT=10
d=$(fresh data-fifo); rm "$d/data.mdb"; mkfifo -m 0640 "$d/data.mdb"
SECONDS=0
broken "data.mdb.*(regular file|FIFO)" "data.mdb is a FIFO" "$d"
check "the FIFO did not make it hang (${SECONDS}s)" test "$SECONDS" -lt 10
d=$(fresh key-fifo); rm "$d/key"; mkfifo -m 0640 "$d/key"
broken "key.*(regular file|FIFO)" "key is a FIFO" "$d"
d=$(fresh mfakey-fifo); rm "$d/mfa.key"; mkfifo -m 0600 "$d/mfa.key"
broken "mfa.key.*(regular file|FIFO)" "mfa.key is a FIFO" "$d"
d=$(fresh lock-fifo); rm "$d/lock.mdb"; mkfifo -m 0660 "$d/lock.mdb"
broken "lock.mdb.*(regular file|FIFO)" "lock.mdb is a FIFO" "$d"
RUN_TIMEOUT=60

d=$(fresh data-corrupt); dd if=/dev/urandom of="$d/data.mdb" bs=8192 count=1 conv=notrunc status=none
broken "corrupt|not an apppass store|LMDB" "data.mdb with its first 8 KiB overwritten" "$d"
d=$(fresh data-zeroed); dd if=/dev/zero of="$d/data.mdb" bs=8192 count=1 conv=notrunc status=none
broken "corrupt|not an apppass store|LMDB" "data.mdb with its first 8 KiB zeroed" "$d"
d=$(fresh data-truncated); truncate -s 4096 "$d/data.mdb"
broken "corrupt|not an apppass store|LMDB|truncated" "data.mdb truncated to one page" "$d"
d=$(fresh data-text); printf 'this is not a database\n' >"$d/data.mdb"
broken "corrupt|not an apppass store|LMDB" "data.mdb is a text file" "$d"
d=$(fresh data-empty); : >"$d/data.mdb"
broken "corrupt|not an apppass store|LMDB|table" "data.mdb is empty" "$d"
d=$(fresh schema-99)
mdb_dump -p -s meta "$d" | sed 's/^ 2$/ 99/' | mdb_load -s meta "$d" 2>/dev/null
broken "schema" "store of a newer schema version" "$d"
d=$(fresh user-record-garbage)
printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n alice\n garbage\nDATA=END\n' | mdb_load -s users "$d"
expect_fail 5 "corrupt" "a corrupt user record: mfa status" --db "$d" mfa status alice --json
expect_fail 5 "corrupt" "a corrupt user record: create" --db "$d" create alice --name y --scope imap --json
no_pw=1; has_password_shape "$TMP/out" && no_pw=0; has_password_shape "$TMP/err" && no_pw=0
check "no password printed for a user with a corrupt record" test "$no_pw" -eq 1

d=$(fresh dir-symlink-target); ln -s "$d" "$TMP/dir-symlink"
broken "symbolic link" "store directory is a symlink" "$TMP/dir-symlink"
ln -sfn "$TMP/nowhere" "$TMP/dangling"
broken "symbolic link|does not exist" "store directory is a dangling symlink" "$TMP/dangling"
expect_fail 5 "symbolic link" "init refuses a symlinked store directory" --db "$TMP/dir-symlink" init
expect_fail 5 "not a directory" "init refuses a regular file as --db" --db "$TMP/plainfile" init
d=$(fresh init-key-symlink); mv "$d/key" "$d/key.real"; ln -s key.real "$d/key"
expect_fail 5 "symbolic link" "init on a store whose key is a symlink (refused, not replaced)" --db "$d" init
check "init did not replace the symlinked key" test -L "$d/key"

note "as an unprivileged user (uid 65534)"
# Run by a user other than root, the tool opens no store at all (self-service: it asks
# apppassd, here on a socket where nothing listens; tests/cli/test_self_service.sh has
# the daemon). uid 65534 runs a copy of the tool and of its private library
# (tests/lib/stage.sh: the build tree may be out of its reach) and reaches the stores
# through TMP, opened up here. When it cannot run the copy, the set-up check says so and
# fails, and so does every case after it.
chmod 0755 "$TMP"
REAL_APPPASS=$APPPASS
APPPASS=$(stage_program "$TMP/stage" "$REAL_APPPASS")
RUN_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups env "LD_LIBRARY_PATH=$TMP/stage/lib")
expect_ok "set-up: uid 65534 runs the staged copy of the tool" --version
NO_SERVICE=(--socket "$TMP/no-such.sock")
NOT_RUNNING='^apppass: the apppass service is not running \(.*no-such\.sock.*\); ask your administrator$'
d=$(fresh nobody-open); chmod -R a+rwX "$d"
store_sums=$(find "$d" -type f -exec sha256sum {} + | sort)
expect_fail 5 "$NOT_RUNNING" "a store everyone could open is not opened: list asks the service" \
    --db "$d" "${NO_SERVICE[@]}" list --json
expect_fail 3 "not found" "mfa enroll of another user: not found, before anything is asked" \
    --db "$d" "${NO_SERVICE[@]}" mfa enroll bob --json
expect_fail 4 "init needs root" "init needs root" --db "$TMP/nobody-dir/sub" init
expect_fail 4 "check needs root" "check needs root" --db "$d" check
check "the store was not touched" test "$(find "$d" -type f -exec sha256sum {} + | sort)" = "$store_sums"
RUN_AS=()
APPPASS=$REAL_APPPASS

finish
