# shellcheck shell=bash disable=SC2034  # PW_RE, PW_ANY, RC, PW, OLD_*: for the scripts
# The store fixture of the shell tests: the admin tool ($APPPASS, set by the script) on
# throwaway stores, users enrolled in MFA with the current code (oathtool). Sourced.

# Prefer the system interpreter: a pyenv shim on PATH may not work under CTest.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
# The app password format (display form) and a pattern that finds one anywhere.
PW_RE='^[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){4}$'
PW_ANY='[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){4}'

# tool ARGS...: the admin tool, without whatever LD_PRELOAD the test runs its PAM and SASL
# programs with (pam_wrapper, a sanitizer runtime).
tool() { env -u LD_PRELOAD "$APPPASS" "$@"; }

# json_get KEY: a top-level field of the JSON on stdin.
json_get() { "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# run ARGS...: runs the tool; sets RC and leaves its output in $TMP/out and $TMP/err.
# Stdin is $RUN_STDIN (default /dev/null). $RUN_AS (array) and $RUN_TIMEOUT (seconds,
# default 60) wrap the call. A run that hangs ends with status 124 (a failure).
RUN_STDIN=/dev/null
RUN_TIMEOUT=60
RUN_AS=()
run() {
    RC=0
    timeout -k 5 "$RUN_TIMEOUT" "${RUN_AS[@]}" "$APPPASS" "$@" \
        <"$RUN_STDIN" >"$TMP/out" 2>"$TMP/err" || RC=$?
}

# enroll_user DB USER: USER enrolled in MFA on the store DB and confirmed with the
# current code.
enroll_user() {
    local secret
    secret=$(tool --db "$1" mfa enroll "$2" --json | json_get secret)
    tool --db "$1" mfa confirm "$2" "$(oathtool --totp -b "$secret")" >/dev/null
}

# new_store_with_user DB USER: a new store DB with USER enrolled (enroll_user).
new_store_with_user() {
    tool --db "$1" init >/dev/null 2>&1
    enroll_user "$1" "$2"
}

# store_with_passwords DB: a new store DB with alice enrolled, her app password "phone"
# (scopes imap and smtp) in PW, and "old" (the same scopes), revoked, in OLD_PW and OLD_ID.
store_with_passwords() {
    local json
    new_store_with_user "$1" alice
    PW=$(tool --db "$1" create alice --name phone --scope imap --scope smtp --json |
        json_get password)
    json=$(tool --db "$1" create alice --name old --scope imap --scope smtp --json)
    OLD_PW=$(json_get password <<<"$json")
    OLD_ID=$(json_get id <<<"$json")
    tool --db "$1" revoke alice "$OLD_ID" >/dev/null
}
