#!/bin/bash
# cli_hooks: the hooks that `apppass revoke` and `apppass mfa reset` run (tools/apppass/hooks.h),
# driven through the real tool with --hooks-dir on a throwaway store.
#
# Usage: test_hooks.sh /path/to/apppass
#
# Covers: which files run (name filter, executable bit, regular files only), which are
# refused (group/world-writable, foreign owner, symlink) and which directories (symlink,
# group-writable), order, argv and the exact environment, stdin/stdout/cwd, no inherited
# descriptors, the 10 s timeout (the hook's whole process group is killed), exit 7 with
# one warning per failed hook, exit 0 without a hooks directory, and that no other
# command runs hooks. Prints "ok - ..." / "not ok - ..." and "N passed, N failed".
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_setup "$@"

require_tools oathtool

DB=$TMP/store
H=$TMP/hooks            # the hooks directory of most checks
REC=$TMP/record         # hooks append what they saw here
db=(--db "$DB" --hooks-dir "$H")

"$APPPASS" --db "$DB" init >/dev/null 2>&1
# A confirmed user whose app passwords the checks revoke.
enroll() { enroll_user "$DB" "$1"; }
enroll alice
# new_pw [USER]: creates an app password (a fresh name each time, even from a $(...)
# subshell); prints its id.
new_pw() {
    local name
    name=pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    "$APPPASS" --db "$DB" create "${1:-alice}" --name "$name" --scope imap --json |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

# fresh_hooks: an empty, safe hooks directory and no record.
fresh_hooks() {
    rm -rf "$H" "$REC"
    mkdir -m 0755 "$H"
}
# hook NAME BODY [MODE]: a /bin/sh hook in $H.
hook() {
    printf '#!/bin/sh\n%s\n' "$2" >"$H/$1"
    chmod "${3:-0755}" "$H/$1"
}
# A hook that appends its name to $REC.
RECORD_BODY="echo \"\${0##*/}\" >>'$REC'"
recorded() { if [[ -e $REC ]]; then tr '\n' ' ' <"$REC" | sed 's/ $//'; fi; }

# expect_hooks_ok DESC EXPECTED_RECORD ARGS...: exit 0, nothing on stderr, and the hooks
# that ran (in order) are EXPECTED_RECORD (space-separated, "" for none).
expect_hooks_ok() {
    local desc=$1 want=$2
    shift 2
    run "$@"
    local why got
    why=$(crash_reason)
    got=$(recorded)
    if [[ -z $why && $RC -ne 0 ]]; then why="exit $RC, expected 0"; fi
    if [[ -z $why && -s $TMP/err ]]; then why="unexpected output on stderr"; fi
    if [[ -z $why && $got != "$want" ]]; then why="hooks run: '$got', expected '$want'"; fi
    if [[ -z $why ]]; then ok "$desc"; else not_ok "$desc" "$why" "$(run_details)"; fi
}

# expect_hook_failure DESC REGEX WARNINGS EXPECTED_RECORD ARGS...: exit 7, exactly
# WARNINGS lines on stderr, all "apppass: warning: ...", one matching REGEX; stdout still
# reports the change; the hooks that ran are EXPECTED_RECORD.
expect_hook_failure() {
    local desc=$1 regex=$2 nwarn=$3 want=$4
    shift 4
    run "$@"
    local why got
    why=$(crash_reason)
    got=$(recorded)
    if [[ -z $why && $RC -ne 7 ]]; then why="exit $RC, expected 7"; fi
    if [[ -z $why && $(wc -l <"$TMP/err") -ne $nwarn ]]; then why="expected $nwarn line(s) on stderr"; fi
    if [[ -z $why ]] && grep -qv '^apppass: warning: ' "$TMP/err"; then why="a stderr line is not a warning"; fi
    if [[ -z $why ]] && ! grep -qE -- "$regex" "$TMP/err"; then why="no warning matches /$regex/"; fi
    if [[ -z $why ]] && ! grep -qE '^(Revoked|MFA enrollment)' "$TMP/out"; then why="stdout does not report the change"; fi
    if [[ -z $why && $got != "$want" ]]; then why="hooks run: '$got', expected '$want'"; fi
    if [[ -z $why ]]; then ok "$desc"; else not_ok "$desc" "$why" "$(run_details)"; fi
}

is_revoked() {   # is_revoked ID
    "$APPPASS" --db "$DB" list alice --revoked --json | "$PY" -c '
import json, sys
sys.exit(0 if any(e["id"] == sys.argv[1] and e["revoked"] for e in json.load(sys.stdin)) else 1)' "$1"
}

# ---------------------------------------------------------------------------------------
note "no hooks directory, empty directory"
rm -rf "$H" "$REC"
expect_hooks_ok "revoke with a missing hooks dir: exit 0, silent" "" "${db[@]}" revoke alice "$(new_pw)"
check "stdout reports the revocation" grep -q "^Revoked 1 app password of alice: " "$TMP/out"
fresh_hooks
expect_hooks_ok "revoke with an empty hooks dir: exit 0, silent" "" "${db[@]}" revoke alice "$(new_pw)"
expect_fail 2 "hooks-dir" "an empty --hooks-dir is a usage error" --db "$DB" --hooks-dir "" list
run --help
check "--help names --hooks-dir and its default" grep -q -- "--hooks-dir.*/etc/apppass/hooks.d" "$TMP/out"
check "--help documents exit status 7" grep -q "7 done, but a hook failed" "$TMP/out"

# ---------------------------------------------------------------------------------------
note "which files run, and in which order"
fresh_hooks
for name in 10-a 2-b B Z a ok_1-X; do hook "$name" "$RECORD_BODY"; done
# Ignored by the name filter, though executable.
for name in x.sample x.dpkg-old x.dpkg-dist 'x~' .hidden x.sh '#x#' 'x y'; do hook "$name" "$RECORD_BODY"; done
hook not-executable "$RECORD_BODY" 0644
mkdir -m 0755 "$H/subdir"
mkfifo -m 0700 "$H/fifo"
expect_hooks_ok "only [A-Za-z0-9_-] names with an x bit run, in byte order" \
    "10-a 2-b B Z a ok_1-X" "${db[@]}" revoke alice "$(new_pw)"

# ---------------------------------------------------------------------------------------
note "argv, environment, stdin, stdout, cwd"
fresh_hooks
cat >"$H/show" <<EOF
#!/bin/sh
printf '%s\n' "\$0" "\$@" >'$TMP/argv'
tr '\0' '\n' </proc/\$\$/environ | sort >'$TMP/env'
readlink /proc/\$\$/fd/0 >'$TMP/stdin'
pwd >'$TMP/cwd'
EOF
chmod 0755 "$H/show"
id1=$(new_pw)
id2=$(new_pw)
expect_hooks_ok "revoke --all runs the hook" "" "${db[@]}" revoke alice --all
# revoke --all lists the ids in id order.
{ printf '%s\n' "$H/show" revoke alice; printf '%s\n' "$id1" "$id2" | LC_ALL=C sort; } >"$TMP/argv.want"
check "argv is HOOK revoke USER ID... (separate entries)" cmp -s "$TMP/argv" "$TMP/argv.want"
printf '%s\n' "APPPASS_DB=$DB" APPPASS_EVENT=revoke APPPASS_USER=alice \
    PATH=/usr/sbin:/usr/bin:/sbin:/bin | sort >"$TMP/env.want"
if cmp -s "$TMP/env" "$TMP/env.want"; then
    ok "the environment is exactly PATH, APPPASS_EVENT, APPPASS_USER, APPPASS_DB"
else
    not_ok "the environment is exactly PATH, APPPASS_EVENT, APPPASS_USER, APPPASS_DB" \
        "$(diff "$TMP/env.want" "$TMP/env" || true)"
fi
check "stdin is /dev/null" test "$(cat "$TMP/stdin")" = /dev/null
check "cwd is /" test "$(cat "$TMP/cwd")" = /
hook talk 'echo "to stdout"; echo "to stderr" >&2'
run "${db[@]}" revoke alice "$(new_pw)"
printf '%s\n' "to stdout" "to stderr" >"$TMP/err.want"
check "a hook's stdout and stderr go to apppass's stderr; its stdout stays its own" \
    test "$RC" -eq 0 -a "$(cmp -s "$TMP/err" "$TMP/err.want" && echo same)" = same -a \
    "$(grep -c . "$TMP/out")" -eq 1
rm -f "$H/talk"

# A user name that a shell would misread reaches the hook as one argv entry, unexpanded.
enroll "o'brien \$(touch $TMP/pwned) *"
user="o'brien \$(touch $TMP/pwned) *"
id=$(new_pw "$user")
expect_hooks_ok "revoke of a user with quotes, \$( ) and * in the name" "" "${db[@]}" revoke "$user" "$id"
printf '%s\n' "$H/show" revoke "$user" "$id" >"$TMP/argv.want"
check "... the user is one argv entry, byte for byte" cmp -s "$TMP/argv" "$TMP/argv.want"
check "... APPPASS_USER is the same" grep -qxF "APPPASS_USER=$user" "$TMP/env"
check "... and nothing was run through a shell" test ! -e "$TMP/pwned"

# mfa reset: event mfa-reset, no ids.
new_pw >/dev/null
expect_hooks_ok "mfa reset runs the hooks" "" "${db[@]}" mfa reset alice
printf '%s\n' "$H/show" mfa-reset alice >"$TMP/argv.want"
check "mfa reset: argv is HOOK mfa-reset USER" cmp -s "$TMP/argv" "$TMP/argv.want"
check "mfa reset: APPPASS_EVENT=mfa-reset" grep -qx "APPPASS_EVENT=mfa-reset" "$TMP/env"
enroll alice

# A relative --hooks-dir and --db are made absolute (hooks run in /).
rm -f "$TMP/argv"
run_in_tmp() { (cd "$TMP" && run --db store --hooks-dir hooks "$@"); }
id=$(new_pw)
run_in_tmp revoke alice "$id"
check "relative --hooks-dir works; the hook sees HOOK and APPPASS_DB as absolute paths" \
    test "$RC" -eq 0 -a "$(head -n 1 "$TMP/argv" 2>/dev/null)" = "$H/show" -a \
    -n "$(grep -xF "APPPASS_DB=$DB" "$TMP/env")"

# ---------------------------------------------------------------------------------------
note "no descriptor is inherited"
fresh_hooks
# The hook execs a program that prints every descriptor it was started with and its
# target (the one listdir itself opens is closed again before readlink, so skipped).
# Its stdout is apppass's stderr, $TMP/err.
cat >"$H/fds" <<EOF
#!/bin/sh
exec '$PY' -I -S -c 'import os
for n in sorted(os.listdir("/proc/self/fd"), key=int):
    try:
        print(n, os.readlink("/proc/self/fd/" + n))
    except OSError:
        pass'
EOF
chmod 0755 "$H/fds"
run "${db[@]}" revoke alice "$(new_pw)"
printf '%s\n' "0 /dev/null" "1 $TMP/err" "2 $TMP/err" >"$TMP/fds.want"
if [[ $RC -eq 0 ]] && cmp -s "$TMP/err" "$TMP/fds.want"; then
    ok "the hook inherits only 0 (/dev/null), 1 and 2 (apppass's stderr): no store descriptor"
else
    not_ok "the hook inherits only 0 (/dev/null), 1 and 2 (apppass's stderr): no store descriptor" \
        "$(run_details)"
fi
# Even a descriptor that is not close-on-exec (here one apppass itself inherited, open on
# the store's data.mdb) does not reach a hook.
{ run "${db[@]}" revoke alice "$(new_pw)"; } 7<"$DB/data.mdb"
if [[ $RC -eq 0 ]] && cmp -s "$TMP/err" "$TMP/fds.want"; then
    ok "a descriptor open without close-on-exec in apppass does not reach the hook"
else
    not_ok "a descriptor open without close-on-exec in apppass does not reach the hook" "$(run_details)"
fi

# ---------------------------------------------------------------------------------------
note "failing hooks: exit 7, one warning each, the change stands, later hooks still run"
fresh_hooks
hook 1-fails "$RECORD_BODY; exit 3"
hook 2-signal "$RECORD_BODY; kill -TERM \$\$"
hook 3-ok "$RECORD_BODY"
printf 'echo no interpreter line\n' >"$H/4-noexec"; chmod 0755 "$H/4-noexec"
id=$(new_pw)
rm -f "$REC"
expect_hook_failure "a hook exiting 3, one killed, one that cannot start: exit 7, three warnings" \
    "^apppass: warning: hook $H/1-fails failed: exit status 3 " 3 "1-fails 2-signal 3-ok" \
    "${db[@]}" revoke alice "$id"
check "... the signal is named" grep -qE "hook $H/2-signal failed: killed by signal 15" "$TMP/err"
check "... a file that cannot be executed is reported" grep -qE "hook $H/4-noexec failed: cannot start" "$TMP/err"
check "... the revocation stands" is_revoked "$id"
new_pw >/dev/null
rm -f "$REC"
expect_hook_failure "mfa reset with a failing hook: exit 7" "1-fails failed: exit status 3" 3 \
    "1-fails 2-signal 3-ok" "${db[@]}" mfa reset alice
enroll alice

# ---------------------------------------------------------------------------------------
note "unsafe hooks and directories are refused"
fresh_hooks
hook 1-group-writable "$RECORD_BODY" 0775
hook 2-world-writable "$RECORD_BODY" 0757
hook 3-ok "$RECORD_BODY"
ln -s "$H/3-ok" "$H/4-symlink"
expect_hook_failure "group-/world-writable and symlinked hooks are refused, the safe one runs" \
    "hook $H/1-group-writable was not run: .*unsafe permissions 0775" 3 "3-ok" \
    "${db[@]}" revoke alice "$(new_pw)"
check "... the world-writable one is named" grep -q "hook $H/2-world-writable was not run: .*unsafe permissions 0757" "$TMP/err"
check "... the symlink is named" grep -q "hook $H/4-symlink was not run: it is a symbolic link" "$TMP/err"

if [[ $(id -u) -eq 0 ]]; then
    fresh_hooks
    hook foreign "$RECORD_BODY"
    chown 65534 "$H/foreign"
    expect_hook_failure "a hook owned by another user is refused" \
        "hook $H/foreign was not run: .*owned by uid 65534" 1 "" "${db[@]}" revoke alice "$(new_pw)"
else
    note "skip - the foreign-owner check needs root (to chown)"
fi

fresh_hooks
hook 1-record "$RECORD_BODY"
mv "$H" "$TMP/real-hooks"
ln -s "$TMP/real-hooks" "$H"
id=$(new_pw)
expect_hook_failure "a hooks dir that is a symlink is refused: no hook runs" \
    "no hooks were run: .*$H is a symbolic link" 1 "" "${db[@]}" revoke alice "$id"
check "... the revocation stands" is_revoked "$id"
rm -f "$H"
mv "$TMP/real-hooks" "$H"
chmod 0775 "$H"
expect_hook_failure "a group-writable hooks dir is refused: no hook runs" \
    "no hooks were run: .*$H has unsafe permissions 0775" 1 "" "${db[@]}" revoke alice "$(new_pw)"
chmod 0757 "$H"
expect_hook_failure "a world-writable hooks dir is refused: no hook runs" \
    "no hooks were run: .*$H has unsafe permissions 0757" 1 "" "${db[@]}" revoke alice "$(new_pw)"
rm -rf "$H"
printf 'not a directory\n' >"$H"
expect_hook_failure "a hooks dir that is a file is refused" "no hooks were run: .*$H" 1 "" \
    "${db[@]}" revoke alice "$(new_pw)"
rm -f "$H"

# ---------------------------------------------------------------------------------------
note "timeout: 10 s, then the hook's process group is killed"
fresh_hooks
hook 1-sleeps "sleep 60 & echo \$! >'$TMP/sleep.pid'; wait; echo finished >>'$REC'"
hook 2-after "$RECORD_BODY"
start=$(date +%s)
RUN_TIMEOUT=60
expect_hook_failure "a hook sleeping 60 s is killed: exit 7, one warning" \
    "hook $H/1-sleeps failed: timed out after 10 s" 1 "2-after" "${db[@]}" revoke alice "$(new_pw)"
elapsed=$(($(date +%s) - start))
check "... after about 10 s (took ${elapsed} s)" test "$elapsed" -ge 9 -a "$elapsed" -le 15
# Killed means gone, or a zombie that init has not reaped yet (its parent was killed).
killed() { [[ $1 =~ ^[0-9]+$ ]] && { [[ ! -e /proc/$1 ]] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }; }
sleep_pid=$(cat "$TMP/sleep.pid" 2>/dev/null || echo none)
check "... its child (sleep, pid $sleep_pid) was killed with it" killed "$sleep_pid"

# ---------------------------------------------------------------------------------------
note "no other command runs hooks"
fresh_hooks
hook record "echo \"\$1\" >>'$REC'"
ALLOW_STDERR=1
expect_hooks_ok "init (existing store)" "" "${db[@]}" init
ALLOW_STDERR=0
"$APPPASS" --db "$DB" mfa enroll carol --json >/dev/null
expect_hooks_ok "mfa status" "" "${db[@]}" mfa status alice
expect_hooks_ok "create" "" "${db[@]}" create alice --name other-commands --scope imap
expect_hooks_ok "list" "" "${db[@]}" list alice
id=$(new_pw)
expect_fail 3 "" "revoke of an unknown id fails (exit 3)" "${db[@]}" revoke alice ffffffff
check "... and runs no hook" test ! -e "$REC"
expect_fail 3 "" "mfa reset of an unknown user fails (exit 3)" "${db[@]}" mfa reset nobody
check "... and runs no hook" test ! -e "$REC"
expect_hooks_ok "revoke runs it" "revoke" "${db[@]}" revoke alice "$id"

finish
