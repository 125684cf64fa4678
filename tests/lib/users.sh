# shellcheck shell=bash
# Real system users and groups that a test makes and removes (issue 11: commands run as
# those users with setpriv). Names carry the test's pid, so tests running side by side
# never share one. Sourced. Needs root (useradd); tests call require_root_users first.
#
#   require_root_users: skips the test (exit 77 with a reason) unless root with useradd.
#   make_test_group VAR BASE: creates system group BASE<pid> and sets VAR to its name.
#   make_test_user VAR BASE [GROUP...]: creates system user BASE<pid> (own group, no home,
#     nologin shell, supplementary GROUPs) and sets VAR to its name. BASE is at most 16
#     lower-case letters. (Not in $(...): the name must be remembered for cleanup.)
#   as_user NAME CMD...: runs CMD as NAME with NAME's groups (setpriv --init-groups),
#     in a clean environment but for PATH and LD_LIBRARY_PATH.
#   users_cleanup: removes every user and group made here; call it from the EXIT trap.
TEST_USERS=()
TEST_GROUPS=()

require_root_users() {
    if [[ $(id -u) -ne 0 ]] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
        echo "ok - # SKIP needs root, useradd and setpriv"
        exit 77
    fi
}

make_test_group() {
    local name="$2$$"
    groupadd --system "$name" >/dev/null || return 1
    TEST_GROUPS+=("$name")
    printf -v "$1" '%s' "$name"
}

make_test_user() {
    local var=$1 name="$2$$" groups
    shift 2
    groups=$(IFS=,; echo "$*")
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin ${groups:+--groups "$groups"} "$name" >/dev/null || return 1
    TEST_USERS+=("$name")
    printf -v "$var" '%s' "$name"
}

as_user() {
    local name=$1
    shift
    setpriv --reuid="$name" --regid="$name" --init-groups -- \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ${LD_LIBRARY_PATH:+LD_LIBRARY_PATH="$LD_LIBRARY_PATH"} "$@"
}

users_cleanup() {
    local u g
    for u in "${TEST_USERS[@]}"; do userdel "$u" >/dev/null 2>&1 || true; done
    for g in "${TEST_GROUPS[@]}"; do groupdel "$g" >/dev/null 2>&1 || true; done
    TEST_USERS=()
    TEST_GROUPS=()
}
