#!/bin/bash
# cli_completion: packaging/bash-completion/apppass against the real tool.
#
# Usage: test_completion.sh /path/to/apppass
#
# Each case runs the completion function in a fresh bash (--norc, set -u) with COMP_WORDS
# and COMP_CWORD set as bash sets them (the tool's path as the command word, the cursor on
# the last word, "--db=DIR" split at '=') and compares COMPREPLY with what it must be:
# subcommands, options, directories and files, user names from a throwaway store (made
# with the tool) or from getent passwd (a stand-in getent function), app password ids and
# labels from the store. Then the drift check: for every command path in 'apppass --help'
# (and 'apppass SUB --help', 'apppass mfa SUB --help') the completed subcommands and
# options must be exactly the ones the help lists. Last, bash-completion's own loader
# must find the file by its name in a completions directory.
# Prints "ok - ..." / "not ok - ..." per check and "N passed, N failed"; exits 1 when
# anything failed.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_setup "$@"
COMPLETION=$(realpath -e "$LIB_DIR/../../packaging/bash-completion/apppass")

require_tools oathtool

# ---- a store: alice with two active app passwords and a revoked one, bob with one ------
DB=$TMP/store
ap() { "$APPPASS" --db "$DB" "$@"; }
ap init >/dev/null 2>&1
for user in alice bob; do enroll_user "$DB" "$user"; done
ID_LAPTOP=$(ap create alice --name laptop --all-services --json | json_get id)
ID_PHONE=$(ap create alice --name "iPhone mail" --scope imap --json | json_get id)
ID_OLD=$(ap create alice --name old --scope imap --json | json_get id)
ID_BOB=$(ap create bob --name desktop --scope smtp --json | json_get id)
ap revoke alice "$ID_OLD" >/dev/null
ok "store set up with the tool (alice: 2 active, 1 revoked; bob: 1)"

# Some directories and files to complete.
mkdir -p "$TMP/c/dir1" "$TMP/c/dir2" "$TMP/c/d i r"
: >"$TMP/c/file1"
: >"$TMP/c/dfile"

# A stand-in for getent: two login accounts, a system account and nobody.
FAKE_GETENT='getent() {
    [[ $1 == passwd ]] || return 2
    printf "%s\n" "zed:x:1001:1001::/home/zed:/bin/sh" "yves:x:1002:1002::/home/yves:/bin/sh" \
        "daemon:x:1:1::/usr/sbin:/usr/sbin/nologin" "nobody:x:65534:65534::/nonexistent:/bin/false"
}'

# comp [PRELUDE] -- WORD...: completes with COMP_WORDS=(APPPASS WORD...), the cursor at
# the end of the last word, after running PRELUDE (shell code). Sorted COMPREPLY, one a
# line, in $TMP/reply; the completion's stderr in $TMP/comp.err.
comp() {
    local prelude=""
    if [[ $1 != -- ]]; then prelude=$1; shift; fi
    shift
    "$BASH" --norc --noprofile -c '
        set -u
        script=$1 prelude=$2
        shift 2
        source "$script"
        eval "$prelude"
        COMP_WORDS=("$@")
        COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        _apppass "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        for r in "${COMPREPLY[@]}"; do printf "%s\n" "$r"; done
    ' bash "$COMPLETION" "$prelude" "$APPPASS" "$@" 2>"$TMP/comp.err" | LC_ALL=C sort >"$TMP/reply"
}

# expect DESC "WANT..." [PRELUDE] -- WORD...: COMPREPLY must be exactly WANT (any order;
# "" for nothing), with nothing on stderr. WANT is separated by '|' when it has one, else
# by spaces.
expect() {
    local desc=$1 want=$2
    shift 2
    comp "$@"
    local want_sorted
    local sep=' '
    [[ $want == *"|"* ]] && sep='|'
    want_sorted=$(tr "$sep" '\n' <<<"$want" | sed '/^$/d' | LC_ALL=C sort)
    if [[ -s $TMP/comp.err ]]; then
        not_ok "$desc" "stderr: $(cat "$TMP/comp.err")"
    elif [[ $(cat "$TMP/reply") == "$want_sorted" ]]; then
        ok "$desc"
    else
        not_ok "$desc" "want: $(tr '\n' '|' <<<"$want_sorted")" "got:  $(tr '\n' '|' <"$TMP/reply")"
    fi
}

check "the completion script is valid bash" "$BASH" -n "$COMPLETION"

# ---- cases ------------------------------------------------------------------------------
expect "subcommands" "init mfa create list revoke doctor check policy" -- ""
expect "subcommands starting with 'c'" "create check" -- c
expect "global options" "--help --db --hooks-dir --socket --version" -- --
expect "global options after --db DIR" "--help --db --hooks-dir --socket --version" -- --db "$DB" --
expect "'mfa ' subcommands" "enroll confirm replace import status recovery-codes reset" -- mfa ""
expect "'--db DIR mfa ' subcommands" "enroll confirm replace import status recovery-codes reset" -- --db "$DB" mfa ""
expect "'mfa replace alice --' options" "--help --issuer --json" -- mfa replace alice --
expect "'mfa replace ' offers store users and login accounts" "alice bob yves zed" "$FAKE_GETENT" \
    -- --db "$DB" mfa replace ""
expect "'mfa replace alice ' completes nothing for CODE" "" -- --db "$DB" mfa replace alice ""
expect "'mfa import alice --' options" "--help --google-authenticator --oath --json" -- mfa import alice --
expect "'mfa recovery-codes ' offers store users and login accounts" "alice bob yves zed" \
    "$FAKE_GETENT" -- --db "$DB" mfa recovery-codes ""
expect "'create alice --' options" "--help --name --scope --all-services --expires --json" -- create alice --
expect "'create alice --name x --' options (a value is not a positional)" \
    "--help --name --scope --all-services --expires --json" -- create alice --name x --
expect "'revoke alice ' completes alice's active ids from the store" "$ID_LAPTOP $ID_PHONE" \
    -- --db "$DB" revoke alice ""
expect "'--db=DIR revoke alice ' (split at '=' as bash does)" "$ID_LAPTOP $ID_PHONE" \
    -- --db = "$DB" revoke alice ""
expect "'revoke bob ' completes bob's id only" "$ID_BOB" -- --db "$DB" revoke bob ""
expect "'revoke alice ID' completes a prefix" "$ID_LAPTOP" -- --db "$DB" revoke alice "${ID_LAPTOP:0:7}"
expect "'revoke alice --all ' still completes ids" "$ID_LAPTOP $ID_PHONE" -- --db "$DB" revoke alice --all ""
expect "'revoke alice --name ' completes labels, quoted" 'iPhone\ mail|laptop' -- --db "$DB" revoke alice --name ""
expect "'revoke alice --name iPhone\\ m' completes the label with a space" 'iPhone\ mail|' \
    -- --db "$DB" revoke alice --name 'iPhone\ m'
expect "'revoke ' completes the store's users (getent not asked)" "alice bob" "$FAKE_GETENT" \
    -- --db "$DB" revoke ""
expect "'list a' completes a store user" "alice" -- --db "$DB" list a
expect "'revoke ' on an unreadable store falls back to getent passwd (UID_MIN and up, not nobody)" \
    "yves zed" "$FAKE_GETENT" -- --db "$TMP/no-such-store" revoke ""
expect "'mfa enroll ' offers store users and login accounts" "alice bob yves zed" "$FAKE_GETENT" \
    -- --db "$DB" mfa enroll ""
expect "'create z' offers login accounts" "zed" "$FAKE_GETENT" -- --db "$DB" create z
expect "'mfa confirm alice ' completes nothing for CODE" "" -- --db "$DB" mfa confirm alice ""
expect "'--db ' completes directories" "$TMP/c/dir1 $TMP/c/dir2" -- --db "$TMP/c/dir"
expect "'--socket ' completes file names" "$TMP/c/dir1 $TMP/c/dir2" -- --socket "$TMP/c/dir"
# (Raw names: with -o filenames, readline quotes what it inserts.)
expect "'--db DIR/' completes directories only" "$TMP/c/dir1|$TMP/c/dir2|$TMP/c/d i r" \
    -- --db "$TMP/c/"
expect "'--db=' completes directories (value only, bash keeps '--db=')" "$TMP/c/dir1 $TMP/c/dir2" \
    -- --db = "$TMP/c/dir"
expect "'--db=' with the cursor right after '=' completes directories" "dir1|dir2|d i r" "cd '$TMP/c'" -- --db =
expect "'--hooks-dir ' completes directories" "$TMP/c/dir1 $TMP/c/dir2" -- --hooks-dir "$TMP/c/dir"
expect "'doctor --pam-dir ' completes directories" "$TMP/c/dir1 $TMP/c/dir2" -- doctor --pam-dir "$TMP/c/dir"
expect "'mfa import alice --oath ' completes files" "$TMP/c/file1" -- mfa import alice --oath "$TMP/c/fi"
expect "'mfa import alice --oath -' (optional value) completes options" "-h --help --google-authenticator --oath --json" \
    -- mfa import alice --oath -
expect "'create alice --scope ' completes services" "imap pop3 smtp sieve submission" -- create alice --scope ""
expect "'create alice --expires 3' completes durations" "30d 365d" -- create alice --expires 3
expect "'init --group ro' completes groups" "root" -- init --group ro
expect "'doctor --' options" "--help --group --pam-dir --postfix-dir --sasl-dir --systemd-dir --doveconf --web-conf --socket --json" -- doctor --
expect "'check --' options" "--help --json" -- check --
expect "'policy ' subcommands" "show set reset" -- policy ""
expect "'policy show --' options" "--help --json" -- policy show --
expect "'policy set ' completes the keys" \
    "self_enroll self_service_scopes max_active default_expiry max_expiry" -- policy set ""
expect "'policy set self_enroll ' completes yes/no" "yes no" -- policy set self_enroll ""
expect "'policy set max_expiry 3' completes durations" "30d 365d" -- policy set max_expiry 3
expect "'policy set max_active ' completes nothing" "" -- policy set max_active ""
expect "'init --' options" "--help --group --map-size" -- init --
expect "'init --map-size ' completes sizes" "1G 2G 4G 8G 16G" -- init --map-size ""

# ---- drift: every subcommand and option in --help, and nothing else ---------------------
help_options() {  # PATH-WORDS...: the options in the Options: section of 'apppass PATH --help'
    "$APPPASS" "$@" --help | awk '/^Options:/ { s = 1; next } /^[^ ]/ { s = 0 }
        s && /^  -/ { n = split($1, a, ","); for (i = 1; i <= n; i++) print a[i] }' | LC_ALL=C sort
}
help_subcommands() {
    "$APPPASS" "$@" --help | awk '/^Subcommands:/ { s = 1; next } /^[^ ]/ { s = 0 }
        s && /^  [a-z]/ { print $1 }' | LC_ALL=C sort
}
drift() {  # PATH-WORDS...
    local label=${*:-(top level)} want
    want=$(help_options "$@")
    if [[ -z $want ]]; then
        not_ok "drift: 'apppass $* --help' lists options"
        return
    fi
    comp -- "$@" -
    if [[ $(cat "$TMP/reply") == "$want" ]]; then
        ok "drift: options of '$label' are exactly those of --help: $(tr '\n' ' ' <<<"$want")"
    else
        not_ok "drift: options of '$label' are exactly those of --help" "help: $(tr '\n' ' ' <<<"$want")" \
            "completion: $(tr '\n' ' ' <"$TMP/reply")"
    fi
    want=$(help_subcommands "$@")
    comp -- "$@" ""
    if [[ -z $want ]]; then
        return
    elif [[ $(cat "$TMP/reply") == "$want" ]]; then
        ok "drift: subcommands of '$label' are exactly those of --help: $(tr '\n' ' ' <<<"$want")"
    else
        not_ok "drift: subcommands of '$label' are exactly those of --help" "help: $(tr '\n' ' ' <<<"$want")" \
            "completion: $(tr '\n' ' ' <"$TMP/reply")"
    fi
}
paths=0
drift
paths=$((paths + 1))
for sub in $(help_subcommands); do
    drift "$sub"
    paths=$((paths + 1))
    for subsub in $(help_subcommands "$sub"); do
        drift "$sub" "$subsub"
        paths=$((paths + 1))
    done
done
if [[ $paths -ge 11 ]]; then
    ok "drift: $paths command paths checked"
else
    not_ok "drift: at least 11 command paths checked, found $paths"
fi

# ---- loading ----------------------------------------------------------------------------
if "$BASH" --norc --noprofile -c 'source "$1"; complete -p apppass' bash "$COMPLETION" 2>&1 |
    grep -qx 'complete -F _apppass apppass'; then
    ok "sourcing the file registers 'complete -F _apppass apppass'"
else
    not_ok "sourcing the file registers 'complete -F _apppass apppass'"
fi
# bash-completion loads completions/NAME on first use; a user completions directory
# (BASH_COMPLETION_USER_DIR) stands in for the system one the package installs into.
BC=/usr/share/bash-completion/bash_completion
if [[ -r $BC ]]; then
    mkdir -p "$TMP/bc/completions"
    ln -s "$COMPLETION" "$TMP/bc/completions/apppass"
    out=$(BASH_COMPLETION_USER_DIR=$TMP/bc "$BASH" --norc --noprofile -c '
        source "$1"
        __load_completion apppass && complete -p apppass' bash "$BC" 2>&1 || true)
    if [[ $out == "complete -F _apppass apppass" ]]; then
        ok "bash-completion's loader finds completions/apppass and registers it"
    else
        not_ok "bash-completion's loader finds completions/apppass and registers it" "$out"
    fi
else
    not_ok "bash-completion is installed (.ci/install-deps)"
fi

finish
