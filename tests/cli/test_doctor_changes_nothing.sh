#!/bin/bash
# cli_doctor_changes_nothing: `apppass doctor` only reads (tools/apppass/doctor/doctor.h).
# A store with a confirmed user, an app password and reader slots in lock.mdb used by
# earlier readers (LMDB rewrites lock.mdb whenever a reader opens the store), then the
# same store set back to schema 1 (which an admin open would upgrade): after the doctor
# has run every check on it (the store, who can open it, a PAM service and a Postfix
# config that name it, the built SASL plugin loaded by libsasl2), no file of the store
# appeared, vanished or changed: same bytes (data.mdb and lock.mdb of both LMDB
# environments included), inode, owner, mode, size and modification time. The schema 1
# store still reads as schema 1. A control shows the comparison sees an admin open.
#
# Usage: test_doctor_changes_nothing.sh APPPASS PAM_MODULE SASL_PLUGIN STORE_TAMPER
set -euo pipefail

if [[ $# -ne 4 ]]; then
    echo "usage: $0 APPPASS PAM_MODULE SASL_PLUGIN STORE_TAMPER" >&2
    exit 2
fi
APPPASS=$(realpath -e "$1")
MODULE=$(realpath -e "$2")
PLUGIN=$(realpath -e "$3")
TAMPER=$(realpath -e "$4")
TMP=$(mktemp -d)
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DB=$TMP/store
new_store_with_user "$DB" alice
tool --db "$DB" create alice --name phone --scope imap >/dev/null

PAM=$TMP/pam.d
mkdir "$PAM"
printf 'auth required %s db=%s\naccount required %s db=%s\n' "$MODULE" "$DB" "$MODULE" "$DB" \
    >"$PAM/imap"
PF=$TMP/postfix
mkdir -p "$PF/sasl"
printf 'smtpd_sasl_auth_enable = yes\n' >"$PF/main.cf"
printf 'apppass_db: %s\nmech_list: PLAIN LOGIN\n' "$DB" >"$PF/sasl/smtpd.conf"
SASL=$TMP/sasl2
mkdir "$SASL"
ln -s "$PLUGIN" "$SASL/libapppass.so"
printf '#!/bin/sh\necho\n' >"$TMP/doveconf"   # Dovecot's auth worker runs as root
chmod 0755 "$TMP/doveconf"
DOCTOR=(--db "$DB" doctor --pam-dir "$PAM" --postfix-dir "$PF" --sasl-dir "$SASL"
        --doveconf "$TMP/doveconf")

# Every file and directory of the store: path, inode, mode, owner, group, size, mtime,
# and the bytes of every regular file.
snapshot() {
    (cd "$DB" && find . -printf '%p %i %m %u %g %s %T@\n' | sort &&
        find . -type f -print0 | sort -z | xargs -0 sha256sum)
}

# doctor_changes_nothing DESC: runs the doctor (text, then --json) and compares.
doctor_changes_nothing() {
    snapshot >"$TMP/before"
    run "${DOCTOR[@]}"
    local why
    why=$(crash_reason)
    if [[ -z $why && ! -s $TMP/out ]]; then why="no output"; fi
    cp "$TMP/out" "$TMP/report"
    run "${DOCTOR[@]}" --json
    [[ -z $why ]] && why=$(crash_reason)
    snapshot >"$TMP/after"
    if [[ -z $why ]] && ! cmp -s "$TMP/before" "$TMP/after"; then
        why="the store changed: $(diff "$TMP/before" "$TMP/after" | head -n 8)"
    fi
    if [[ -z $why ]]; then ok "$1"; else not_ok "$1" "$why" "$(run_details)"; fi
}

# Earlier readers leave their marks in lock.mdb's reader table.
"$TAMPER" "$DB" readers 3
doctor_changes_nothing "schema 2 store: the doctor changes no byte, inode, mode or mtime"
check "schema 2: the doctor read it (opens for verifying and administration)" \
    grep -qE '^ok: the store opens for verifying \(schema version 2\)$' "$TMP/report"
check "schema 2: the doctor checked mfa.key for administration" \
    grep -qE '^ok: the store opens for administration' "$TMP/report"
check "schema 2: the doctor asked libsasl2 about the plugin" \
    grep -qE '^ok: .*libapppass\.so outranks the stock PLAIN and LOGIN' "$TMP/report"
check "schema 2: the doctor read the PAM service" grep -qE '^ok: imap line 1: ' "$TMP/report"

# The same store as apppass before record tags wrote it: an admin open upgrades it.
"$TAMPER" "$DB" put meta schema 1
doctor_changes_nothing "schema 1 store: the doctor changes no byte, inode, mode or mtime"
UPGRADE_RE='^ok: the store opens for verifying \(schema version 1, .*admin command upgrades it\)$'
check "schema 1: the doctor reads schema 1 and says the next admin command upgrades it" \
    grep -qE "$UPGRADE_RE" "$TMP/report"
run "${DOCTOR[@]}"
check "schema 1: still schema 1 after the doctor (no upgrade)" \
    grep -qE '^ok: the store opens for verifying \(schema version 1,' "$TMP/out"

# Control: an admin command does change the store (it upgrades schema 1), and the
# snapshot sees it.
snapshot >"$TMP/before"
tool --db "$DB" list >/dev/null
snapshot >"$TMP/after"
check "control: an admin open (apppass list) changes the snapshot" \
    not cmp -s "$TMP/before" "$TMP/after"
run "${DOCTOR[@]}"
check "control: after the admin open the store is schema 2" \
    grep -qE '^ok: the store opens for verifying \(schema version 2\)$' "$TMP/out"

finish
