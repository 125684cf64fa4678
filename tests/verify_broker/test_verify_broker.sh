#!/bin/bash
# verify_broker: the PAM module (pamtester under pam_wrapper) and the SASL plugin
# (sasl_login, the real libsasl2) run as real users other than root (useradd, setpriv),
# so they verify through apppassd, never in-process.
#
#   test_verify_broker.sh APPPASS PAM_MODULE SASL_PLUGIN SASL_LOGIN PAM_WRAPPER PAMTESTER APPPASSD
#
# Part 1, a deliberately broken daemon (tests/lib/fake_broker.py): not running, accepts
# and hangs, sends its version and hangs, closes at once, sends garbage, answers another
# request's id. Each login is refused as unavailable (PAM_AUTHINFO_UNAVAIL, SASL_UNAVAIL)
# in under 2 s (measured), with exactly one decision line saying why.
# Part 2, the real apppassd (--db STORE --socket PATH --group GROUP) on a temporary socket
# (skipped when APPPASSD is "-"): a member of GROUP logs in with an app password, a wrong
# and a revoked one are refused, each with the in-process decision line; a user outside
# GROUP gets no answer (refused as unavailable).
# Part 3 (issue 12), the same daemon: the SASL plugin as the member with
# apppass_unenrolled: pwcheck over a sasldb and apppass_account: nss: an unenrolled user's
# real password is accepted by the password check, the enrolled member's is refused (the
# daemon's reply says enrolled), and the member's app password is refused once the account
# is locked (usermod -L; the daemon's ACCOUNT check) and accepted again after usermod -U.
# Root only (creates users and a group; exit 77 otherwise).
#
# Environment: APPPASS_TEST_PRELOAD (optional) goes in front of pam_wrapper in LD_PRELOAD
# for pamtester (the ASan runtime when the module is sanitized).
set -euo pipefail

if [[ $# -ne 7 ]]; then
    echo "usage: $0 APPPASS PAM_MODULE SASL_PLUGIN SASL_LOGIN PAM_WRAPPER PAMTESTER APPPASSD" >&2
    exit 2
fi
HERE=$(dirname "${BASH_SOURCE[0]}")
LIB=$HERE/../lib
# shellcheck source-path=SCRIPTDIR source=../lib/users.sh
source "$LIB/users.sh"
require_root_users
APPPASS=$(realpath -e "$1")
MODULE=$(realpath -e "$2")
PLUGIN=$(realpath -e "$3")
SASL_LOGIN=$(realpath -e "$4")
WRAPPER=$(realpath -e "$5")
PAMTESTER=$(realpath -e "$6")
APPPASSD=$7
[[ $APPPASSD == - ]] || APPPASSD=$(realpath -e "$APPPASSD")

# shellcheck source-path=SCRIPTDIR source=../lib/broker.sh
source "$LIB/broker.sh"
broker_tmp  # the test users reach the staged programs, the services and the socket
# shellcheck source-path=SCRIPTDIR source=../lib/report.sh
source "$LIB/report.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/store.sh
source "$LIB/store.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/stage.sh
source "$LIB/stage.sh"
require_tools oathtool setpriv saslpasswd2 chpasswd usermod

make_test_group GRP apppassv
make_test_user MEMBER apppassm "$GRP"
make_test_user OUTSIDER apppasso

# What the users run, where they can read it (the build tree may be in /root, 0700).
PAM_MOD=$(stage_program "$TMP/pam" "$MODULE")
stage_program "$TMP/sasl" "$PLUGIN" >/dev/null
LOGIN_PROG=$(stage_program "$TMP/prog" "$SASL_LOGIN")
LIBS=$TMP/pam/lib:$TMP/sasl/lib:$TMP/prog/lib
SOCK=$TMP/apppassd.sock
STORE=$TMP/store

# PAM: one service, module as a user verifies through the broker on $SOCK.
SERVICES=$TMP/services
mkdir "$SERVICES"
: >"$SERVICES/other"
printf 'auth required %s db=%s broker=%s\naccount required %s\n' "$PAM_MOD" "$STORE" "$SOCK" \
    "$PAM_MOD" >"$SERVICES/imap"
chmod -R a+rX "$SERVICES"
PRELOAD=$WRAPPER
[[ -z ${APPPASS_TEST_PRELOAD:-} ]] || PRELOAD=$APPPASS_TEST_PRELOAD:$WRAPPER

# SASL: the application "verify" reads $TMP/conf/verify.conf.
mkdir "$TMP/conf"
printf 'mech_list: PLAIN LOGIN\napppass_db: %s\napppass_broker: %s\n' "$STORE" "$SOCK" \
    >"$TMP/conf/verify.conf"
chmod -R a+rX "$TMP/conf"

# pam_as USER PASSWORD: pamtester as USER for service imap; sets RC and MS (elapsed) and
# leaves the module's log lines in $TMP/log.
pam_as() {
    local start end
    start=$(date +%s%N)
    RC=0
    printf '%s\n' "$2" | timeout 20 setpriv --reuid="$1" --regid="$1" --init-groups -- \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LD_LIBRARY_PATH="$LIBS" LD_PRELOAD="$PRELOAD" \
        PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SERVICES" PAM_WRAPPER_DEBUGLEVEL=4 \
        ASAN_OPTIONS="${ASAN_OPTIONS:-}" "$PAMTESTER" -v -I rhost=192.0.2.7 imap "$1" authenticate \
        >"$TMP/out" 2>"$TMP/err" || RC=$?
    end=$(date +%s%N)
    MS=$(((end - start) / 1000000))
    sed -n 's/^.*SYSLOG([0-9]*): //p' "$TMP/err" | grep -E '^(accepted|refused|error) ' >"$TMP/log" || true
}

# sasl_as USER MECH PASSWORD: sasl_login as USER; sets SRC (the SASL code name) and MS,
# and leaves the plugin's decision lines in $TMP/log.
sasl_as() {
    RC=0
    printf '%s\n' "$3" | timeout 20 setpriv --reuid="$1" --regid="$1" --init-groups -- \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LD_LIBRARY_PATH="$LIBS" \
        ASAN_OPTIONS="${ASAN_OPTIONS:-}" "$LOGIN_PROG" "$TMP/sasl/bin" "$TMP/conf" verify "$2" "$1" \
        >"$TMP/out" 2>"$TMP/err" || RC=$?
    SRC=$(sed -n 's/^rc=\(\S*\) ms=.*/\1/p' "$TMP/out")
    MS=$(sed -n 's/^rc=\S* ms=\([0-9]*\)$/\1/p' "$TMP/out")
    grep -E '^apppass: (accepted|refused|error) ' "$TMP/out" | sed 's/^apppass: //' >"$TMP/log" || true
}

# judge DESC WANT_RC GOT_RC MAX_MS PATTERN: the result, the time and one decision line
# matching PATTERN (extended regex).
judge() {
    local desc=$1 want=$2 got=$3 max=$4 pattern=$5 why=
    if [[ $got != "$want" ]]; then why="got $got, want $want"
    elif [[ -z $MS || $MS -ge $max ]]; then why="took ${MS:-?} ms, bound $max ms"
    elif [[ $(wc -l <"$TMP/log") -ne 1 ]]; then why="$(wc -l <"$TMP/log") decision lines, want 1"
    elif ! grep -qE -- "$pattern" "$TMP/log"; then why="the line does not match /$pattern/"
    fi
    if [[ -z $why ]]; then ok "$desc (${MS} ms)"; else
        not_ok "$desc" "$why" "log: $(cat "$TMP/log")" "$(tail -n 5 "$TMP/err")"; fi
}

# fake MODE [LINE...]: the broken daemon on $SOCK, replacing the last one.
fake() {
    if [[ -n $FAKE_PID ]]; then kill "$FAKE_PID" 2>/dev/null || true; wait "$FAKE_PID" 2>/dev/null || true; fi
    rm -f "$SOCK" "$SOCK.log"
    env -u LD_PRELOAD "$PY" "$LIB/fake_broker.py" "$SOCK" "$@" &
    FAKE_PID=$!
    for _ in $(seq 100); do [[ -S $SOCK ]] && return 0; sleep 0.1; done
    echo "not ok - the fake broker did not start"; exit 1
}
stop_fake() {
    if [[ -n $FAKE_PID ]]; then kill "$FAKE_PID" 2>/dev/null || true; wait "$FAKE_PID" 2>/dev/null || true; fi
    FAKE_PID=
    rm -f "$SOCK" "$SOCK.log"
}

# --- Part 1: a broken daemon. pamtester's status is 1 on any failure: that the module
# answered PAM_AUTHINFO_UNAVAIL is read from its line ("error ... reason=unavailable",
# written for that code only; tests/faults checks the code itself).
WRONG=abcd-efgh-jkmn-pqrs-tuvw
unavailable() {  # DESC DETAIL_RE
    pam_as "$MEMBER" "$WRONG"
    judge "PAM as $MEMBER, $1: refused" 1 "$RC" 2000 \
        "^error service=imap user=$MEMBER rhost=192\.0\.2\.7 reason=unavailable detail=\".*$2"
    local mech
    for mech in PLAIN LOGIN; do
        sasl_as "$MEMBER" "$mech" "$WRONG"
        judge "SASL $mech as $MEMBER, $1: SASL_UNAVAIL" SASL_UNAVAIL "$SRC" 2000 \
            "^error service=smtp user=$MEMBER rhost=192\.0\.2\.7 reason=unavailable detail=\".*$2"
    done
}
stop_fake
unavailable "apppassd not running" "the apppass service is not running \(connect $SOCK: No such file or directory\)"
fake hang
unavailable "apppassd accepts and hangs" "no answer from the apppass service within 1\.5 s"
fake version-hang
unavailable "apppassd sends its version, then hangs" "no answer from the apppass service within 1\.5 s"
fake close
unavailable "apppassd closes at once" "closed the connection before answering"
fake garbage
unavailable "apppassd sends garbage" "malformed reply from the apppass service"
fake reply 'OK\t{other}\toutcome=accepted\tid=1'
unavailable "apppassd answers another request's id" "malformed reply from the apppass service"
stop_fake

# --- Part 2: the real daemon.
if [[ $APPPASSD == - ]]; then
    echo "ok - # SKIP the real apppassd: not built"
    finish
    exit $?
fi
new_store_with_user "$STORE" "$MEMBER"
json=$(tool --db "$STORE" create "$MEMBER" --name phone --scope imap --scope smtp --json)
PW=$(json_get password <<<"$json")
ID=$(json_get id <<<"$json")
json=$(tool --db "$STORE" create "$MEMBER" --name old --scope imap --scope smtp --json)
OLD_PW=$(json_get password <<<"$json")
OLD_ID=$(json_get id <<<"$json")
tool --db "$STORE" revoke "$MEMBER" "$OLD_ID" >/dev/null
new_user_pw() {  # the outsider has an app password too: refused all the same
    enroll_user "$STORE" "$OUTSIDER"
    OUT_PW=$(tool --db "$STORE" create "$OUTSIDER" --name phone --all-services --json | json_get password)
}
new_user_pw

broker_start_quiet "$STORE" "$SOCK" "$GRP"
check "apppassd listens on $SOCK" test -S "$SOCK"

pam_as "$MEMBER" "$PW"
judge "PAM as $MEMBER (in $GRP): the app password is accepted" 0 "$RC" 2000 \
    "^accepted service=imap user=$MEMBER rhost=192\.0\.2\.7 id=$ID name=phone$"
pam_as "$MEMBER" "$WRONG"
judge "PAM as $MEMBER: a wrong password is refused" 1 "$RC" 2000 \
    "^refused service=imap user=$MEMBER rhost=192\.0\.2\.7 reason=wrong-password$"
pam_as "$MEMBER" "$OLD_PW"
judge "PAM as $MEMBER: a revoked password is refused" 1 "$RC" 2000 \
    "^refused service=imap user=$MEMBER rhost=192\.0\.2\.7 reason=revoked id=$OLD_ID name=old$"
pam_as "$OUTSIDER" "$OUT_PW"
judge "PAM as $OUTSIDER (not in $GRP): no answer, refused as unavailable" 1 "$RC" 2000 \
    "^error service=imap user=$OUTSIDER rhost=192\.0\.2\.7 reason=unavailable detail=\"the apppass service refused to verify: "
for mech in PLAIN LOGIN; do
    sasl_as "$MEMBER" "$mech" "$PW"
    judge "SASL $mech as $MEMBER: accepted" SASL_OK "$SRC" 2000 \
        "^accepted service=smtp user=$MEMBER rhost=192\.0\.2\.7 id=$ID name=phone$"
    sasl_as "$MEMBER" "$mech" "$WRONG"
    judge "SASL $mech as $MEMBER: a wrong password is refused" SASL_BADAUTH "$SRC" 2000 \
        "^refused service=smtp user=$MEMBER rhost=192\.0\.2\.7 reason=wrong-password$"
    sasl_as "$MEMBER" "$mech" "$OLD_PW"
    judge "SASL $mech as $MEMBER: a revoked password is refused" SASL_BADAUTH "$SRC" 2000 \
        "^refused service=smtp user=$MEMBER rhost=192\.0\.2\.7 reason=revoked id=$OLD_ID name=old$"
    sasl_as "$OUTSIDER" "$mech" "$OUT_PW"
    judge "SASL $mech as $OUTSIDER (not in $GRP): refused as unavailable" SASL_UNAVAIL "$SRC" 2000 \
        "^error service=smtp user=$OUTSIDER rhost=192\.0\.2\.7 reason=unavailable detail=\"the apppass service refused to verify: "
done
# The daemon recorded the member's last use, as an in-process login would: the first
# login (imap); the smtp ones came within the interval (60 s), and the throttle is time
# only since issue 14.
check "apppass list: the daemon recorded the last use" \
    grep -q '"last_service": *"imap"' <(tool --db "$STORE" list "$MEMBER" --json)
# Revoked now: the next login through the daemon is refused.
tool --db "$STORE" revoke "$MEMBER" "$ID" >/dev/null
pam_as "$MEMBER" "$PW"
judge "PAM as $MEMBER: refused once revoked" 1 "$RC" 2000 "reason=revoked id=$ID name=phone$"
# --- Part 3 (issue 12): the SASL plugin's apppass_unenrolled: pwcheck and apppass_account:
# nss through the daemon. Whether a user is enrolled comes from the VERIFY reply
# (enrolled=yes|no); the account check is the daemon's ACCOUNT (it reads /etc/shadow as
# root, which the member cannot). The real password of the unenrolled user is in a sasldb
# the member can read, checked by libsasl's own checkpass in the member's process.
MIG_PW=$(tool --db "$STORE" create "$MEMBER" --name mig --scope smtp --json | json_get password)
printf '%s:%s\n' "$MEMBER" "Member-Real-Pass-1" | chpasswd   # useradd's "!" reads as locked
SASLDB=$TMP/sasldb2
for u in "$MEMBER:Member-Real-Pass-1" "carol:Carol-Real-Pass-2"; do
    printf '%s' "${u#*:}" | saslpasswd2 -p -c -f "$SASLDB" -u test.example "${u%%:*}"
done
chown "$MEMBER" "$SASLDB"
ln -sf "$(compgen -G "/usr/lib/*/sasl2/libsasldb.so" | head -n 1)" "$TMP/sasl/bin/libsasldb.so"
printf '%s\n' "mech_list: PLAIN LOGIN" "apppass_db: $STORE" "apppass_broker: $SOCK" \
    "apppass_unenrolled: pwcheck" "pwcheck_method: auxprop" "auxprop_plugin: sasldb" \
    "sasldb_path: $SASLDB" "apppass_account: nss" >"$TMP/conf/migrate.conf"
chmod a+r "$TMP/conf/migrate.conf"
# sasl_app APP PROCESS_USER MECH LOGIN_USER PASSWORD: like sasl_as, for application APP,
# run as PROCESS_USER, logging in LOGIN_USER.
sasl_app() {
    printf '%s\n' "$5" | timeout 20 setpriv --reuid="$2" --regid="$2" --init-groups -- \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LD_LIBRARY_PATH="$LIBS" \
        ASAN_OPTIONS="${ASAN_OPTIONS:-}" "$LOGIN_PROG" "$TMP/sasl/bin" "$TMP/conf" "$1" "$3" "$4" \
        >"$TMP/out" 2>"$TMP/err" || true
    SRC=$(sed -n 's/^rc=\(\S*\) ms=.*/\1/p' "$TMP/out")
    MS=$(sed -n 's/^rc=\S* ms=\([0-9]*\)$/\1/p' "$TMP/out")
    grep -E '^apppass: (accepted|refused|error) ' "$TMP/out" | sed 's/^apppass: //' >"$TMP/log" || true
}
for mech in PLAIN LOGIN; do
    sasl_app migrate "$MEMBER" "$mech" carol Carol-Real-Pass-2
    judge "SASL $mech through apppassd, pwcheck: unenrolled carol's sasldb password is accepted" \
        SASL_OK "$SRC" 2000 "^accepted service=smtp user=carol rhost=192\.0\.2\.7 path=pwcheck$"
    sasl_app migrate "$MEMBER" "$mech" "$MEMBER" Member-Real-Pass-1
    judge "SASL $mech through apppassd, pwcheck: enrolled $MEMBER's sasldb password is refused (the reply said enrolled)" \
        SASL_BADAUTH "$SRC" 2000 "^refused service=smtp user=$MEMBER rhost=192\.0\.2\.7 reason=wrong-password$"
    sasl_app migrate "$MEMBER" "$mech" "$MEMBER" "$MIG_PW"
    judge "SASL $mech through apppassd, account nss: $MEMBER's app password is accepted" \
        SASL_OK "$SRC" 2000 "^accepted service=smtp user=$MEMBER rhost=192\.0\.2\.7 id=.* name=mig$"
done
usermod -L "$MEMBER"
sasl_app migrate "$MEMBER" PLAIN "$MEMBER" "$MIG_PW"
judge "SASL through apppassd, account nss: after usermod -L the app password is refused" \
    SASL_NOAUTHZ "$SRC" 2000 "^refused service=smtp user=$MEMBER rhost=192\.0\.2\.7 reason=account-locked id=.* name=mig$"
usermod -U "$MEMBER"
sasl_app migrate "$MEMBER" LOGIN "$MEMBER" "$MIG_PW"
judge "SASL through apppassd, account nss: after usermod -U it is accepted again" \
    SASL_OK "$SRC" 2000 "^accepted service=smtp user=$MEMBER rhost=192\.0\.2\.7 id=.* name=mig$"
finish
