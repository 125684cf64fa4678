#!/bin/bash
# The `broker` part of tests/bench/run-benchmarks: verification round trips through
# apppassd and self-service CREATEs through it (bench_broker.cc). Makes the real non-root
# users the self-service CREATEs come from (tests/lib/users.sh; each creates once, with a
# fresh TOTP code) and removes them on exit, whatever happens. Root only.
#
# Usage: tests/bench/bench_broker.sh --out FILE.json [--quick] [--build DIR]
#   --build  the build dir (default build-bench)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/users.sh
source "$here/../lib/users.sh"

build=build-bench out="" quick=()
while (($#)); do
    case $1 in
        --build) build=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --quick) quick=(--quick); shift ;;
        *) echo "usage: $0 --out FILE.json [--quick] [--build DIR]" >&2; exit 2 ;;
    esac
done
[[ -n $out ]] || { echo "usage: $0 --out FILE.json [--quick] [--build DIR]" >&2; exit 2; }
require_root_users
build=$(cd "$build" && pwd)
trap users_cleanup EXIT
trap 'exit 130' INT TERM

n=30
((${#quick[@]} == 0)) || n=5
names=()
for i in $(seq 1 "$n"); do
    make_test_user u "apbself${i}x"
    names+=("$u")
done
"$build/tests/bench/bench_broker" --apppassd "$build/tools/apppassd/apppassd" --out "$out" \
    "${quick[@]}" --self-users "$(IFS=,; echo "${names[*]}")"
