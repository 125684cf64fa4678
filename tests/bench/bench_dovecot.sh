#!/bin/bash
# The `dovecot` part of tests/bench/run-benchmarks: a real Dovecot IMAP server on
# 127.0.0.1 (tests/integration/dovecot_lib.sh: own config, base_dir and port, PAM under
# pam_wrapper, no auth cache, no failure delay) and a bounded local load client
# (imap_load.py: a few threads, connect + LOGIN + LOGOUT for a fixed time). Two phases,
# the same Dovecot config and client: the imap PAM service is pam_apppass.so (app
# passwords of 20 users, 10 with --quick), then pam_unix.so with a real system user whose password is a
# yescrypt hash in /etc/shadow (made here, removed on exit). Logins per second and LOGIN
# latency; every LOGIN must succeed (exit 1 otherwise). Root only (exit 77 otherwise).
#
# Usage: tests/bench/bench_dovecot.sh --out FILE.json [--quick] [--build DIR]
#          [--seconds S] [--clients N]
#   --build    the build dir (default build-bench); --seconds per phase (10, --quick 2);
#   --clients  concurrent IMAP connections (4)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

build=build-bench out="" quick=false seconds="" clients=4
while (($#)); do
    case $1 in
        --build) build=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --quick) quick=true; shift ;;
        --seconds) seconds=$2; shift 2 ;;
        --clients) clients=$2; shift 2 ;;
        *) echo "usage: $0 --out FILE.json [--quick] [--build DIR] [--seconds S] [--clients N]" >&2; exit 2 ;;
    esac
done
[[ -n $out ]] || { echo "usage: $0 --out FILE.json [--quick] [--build DIR]" >&2; exit 2; }
[[ -n $seconds ]] || { if $quick; then seconds=2; else seconds=10; fi; }
out=$(realpath -m "$out")
build=$(cd "$build" && pwd)

# shellcheck source-path=SCRIPTDIR source=../integration/dovecot_lib.sh
source "$HERE/../integration/dovecot_lib.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/users.sh
source "$HERE/../lib/users.sh"
dl_start "$build/tools/apppass/apppass" "$build/pam_module/pam_apppass.so" bench-dovecot
require_root_users

# Dovecot first: a user cannot be removed while a process of theirs runs.
bench_cleanup() {
    local rc=$?
    stop_dovecot
    users_cleanup
    dl_cleanup "$rc"
}
trap bench_cleanup EXIT

PAM_UNIX=/usr/lib/x86_64-linux-gnu/security/pam_unix.so
[[ -f $PAM_UNIX ]] || dl_fatal "no $PAM_UNIX"

# ---- accounts ----------------------------------------------------------------
ap init >/dev/null || dl_fatal "apppass init"
umask 077
: >"$TMP/apppass.creds"
nusers=20
! $quick || nusers=10
for i in $(seq 0 $((nusers - 1))); do
    user=imapuser$i
    enroll_mfa "$user" || dl_fatal "enroll $user"
    pw=$(create_pw "$user" phone imap) || dl_fatal "create $user"
    printf '%s\t%s\n' "$user" "${pw#* }" >>"$TMP/apppass.creds"
done
unixuser=""
make_test_user unixuser apbimap || dl_fatal "useradd"
unixpw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s:%s\n' "$unixuser" "$unixpw" | chpasswd -c YESCRYPT || dl_fatal "chpasswd"
hash=$(getent shadow "$unixuser" | cut -d: -f2)
[[ ${hash:0:3} == "\$y\$" ]] || dl_fatal "$unixuser's hash is not yescrypt"
printf '%s\t%s\n' "$unixuser" "$unixpw" >"$TMP/unix.creds"
umask 022

# ---- phases ------------------------------------------------------------------
# run_phase NAME AUTH_LINE ACCOUNT_LINE CREDS: the imap service, a fresh Dovecot (pam_wrapper
# reads the service files when a process starts), a warm-up login, the load.
run_phase() {
    mkdir -p "$PAMDIR"
    : >"$PAMDIR/other"
    printf 'auth    required %s\naccount required %s\n' "$2" "$3" >"$PAMDIR/imap"
    write_dovecot_conf "$CONF" "%s" "auth_cache_size = 0"
    # pam_wrapper's trace (level 3) writes lines per login into the log: not the figure.
    sed -i 's/PAM_WRAPPER_DEBUGLEVEL=3/PAM_WRAPPER_DEBUGLEVEL=0/' "$CONF"
    start_dovecot >/dev/null
    local warm
    warm=$(head -n 1 "$4")
    imap_login "${warm%%$'\t'*}" "${warm#*$'\t'}" || dl_fatal "$1: warm-up login failed"
    if ! "$PY" "$HERE/imap_load.py" "$PORT" "$seconds" "$clients" "$4" >"$TMP/$1.json"; then
        cat "$TMP/$1.json" >&2 || true
        dl_fatal "$1: not every IMAP LOGIN succeeded"
    fi
    stop_dovecot
    # pam_wrapper's copies of this phase's service dir (dl_cleanup removes only those of
    # the last phase's files): Dovecot's children exit without removing theirs.
    local d
    for d in /tmp/pam.?; do
        if [[ -f $d/imap ]] && cmp -s "$d/imap" "$PAMDIR/imap"; then rm -rf "$d"; fi
    done
}
run_phase apppass "$PAM_SO db=$STORE" "$PAM_SO db=$STORE" "$TMP/apppass.creds"
run_phase unix "$PAM_UNIX nodelay" "$PAM_UNIX" "$TMP/unix.creds"

"$PY" - "$TMP/apppass.json" "$TMP/unix.json" "$out" "$seconds" "$clients" "$quick" \
    "$(dovecot --version)" "$nusers" <<'PYEOF'
import json, sys
a, u = (json.load(open(p)) for p in sys.argv[1:3])
out, seconds, clients, quick, version = sys.argv[3], float(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "true", sys.argv[7]
nusers = int(sys.argv[8])
def row(name, r, other):
    return {"name": name, "n": r["logins"], "p50_us": r["p50_us"], "p99_us": r["p99_us"],
            "extra": {"logins_per_s": round(r["logins_per_s"], 1),
                      "throughput_ratio_to_other": round(r["logins_per_s"] / other["logins_per_s"], 2),
                      "seconds": round(r["seconds"], 2), "clients": r["clients"]}}
result = {
    "part": "dovecot", "title": "Real Dovecot: IMAP LOGIN per second", "order": 80,
    "config": {"seconds_per_phase": seconds, "clients": clients, "quick": quick,
               "dovecot": version, "apppass_users": nusers, "auth_cache": "off"},
    "rows": [row("IMAP LOGIN, pam_apppass", a, u), row("IMAP LOGIN, pam_unix (yescrypt)", u, a)],
    "targets": [],
    "notes": [
        f"Dovecot {version} on 127.0.0.1 (passdb pam, no auth cache, auth_failure_delay 0, "
        "PAM under pam_wrapper); a local client with %d threads, each connect + LOGIN + "
        "LOGOUT in a loop for %g s per phase. p50/p99: LOGIN command to its tagged OK. "
        "Every LOGIN succeeded." % (clients, seconds),
        "A login also costs Dovecot's own work (imap-login, the auth process, a new imap "
        "process per session): the apppass figure is bounded by that, not by the module.",
        "The pam_unix phase logs in one real system user whose password is a yescrypt hash "
        "in /etc/shadow (made and removed by the bench)."]}
with open(out, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
for r in result["rows"]:
    print(f'{r["name"]:36s} {r["extra"]["logins_per_s"]:8.1f} logins/s  p50 {r["p50_us"]:9.0f} us  '
          f'p99 {r["p99_us"]:9.0f} us  ({r["n"]} logins, ratio {r["extra"]["throughput_ratio_to_other"]})')
PYEOF
