#!/bin/bash
# The `pam` part of tests/bench/run-benchmarks: whole PAM transactions (bench_pam.cc).
# Makes a real system user whose password is a yescrypt hash in /etc/shadow for the
# pam_unix stack, runs BUILD/tests/bench/bench_pam with this build's pam_apppass.so, the
# floor-0 build's (when NOFLOOR_BUILD has one) and pam_bench_argon2.so, and removes the
# user and its files on exit, whatever happens. Root only.
#
# Usage: tests/bench/bench_pam.sh --out FILE.json [--quick] [--build DIR]
#          [--nofloor-build DIR] [bench_pam options...]
#   --build          the build dir (default build-bench)
#   --nofloor-build  a build with -DAPPPASS_VERIFY_FLOOR_US=0 (default build-bench-nofloor;
#                    its rows are left out when it has no pam_apppass.so)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/users.sh
source "$here/../lib/users.sh"

build=build-bench nofloor=build-bench-nofloor out="" pass=()
while (($#)); do
    case $1 in
        --build) build=$2; shift 2 ;;
        --nofloor-build) nofloor=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) pass+=("$1"); shift ;;
    esac
done
[[ -n $out ]] || { echo "usage: $0 --out FILE.json [--quick] [--build DIR] [--nofloor-build DIR]" >&2; exit 2; }
if [[ $(id -u) -ne 0 ]]; then echo "bench_pam.sh: root only" >&2; exit 77; fi
build=$(cd "$build" && pwd)
prog=$build/tests/bench/bench_pam
args=(--out "$out" --module "$build/pam_module/pam_apppass.so"
      --argon2-module "$build/tests/bench/pam_bench_argon2.so")
if [[ -f $nofloor/pam_module/pam_apppass.so ]]; then
    args+=(--nofloor-module "$(cd "$nofloor" && pwd)/pam_module/pam_apppass.so")
else
    echo "bench_pam.sh: no $nofloor/pam_module/pam_apppass.so: floor-0 rows left out" >&2
fi

tmp=$(mktemp -d /tmp/apppass-bench-pam-sh.XXXXXX)
cleanup() { users_cleanup; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# The pam_unix user: a random password, hashed with yescrypt (Debian's default).
unixuser=""
make_test_user unixuser apbench
head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$tmp/password"
chmod 0600 "$tmp/password"
printf '%s:%s\n' "$unixuser" "$(cat "$tmp/password")" | chpasswd -c YESCRYPT
hash=$(getent shadow "$unixuser" | cut -d: -f2)
if [[ ${hash:0:3} != "\$y\$" ]]; then
    echo "bench_pam.sh: $unixuser's hash is not yescrypt: ${hash:0:4}..." >&2
    exit 1
fi
args+=(--unix-user "$unixuser" --unix-password-file "$tmp/password")
"$prog" "${args[@]}" "${pass[@]}"
