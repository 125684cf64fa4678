#!/bin/bash
# bench_smoke: the benchmark command (tests/bench/run-benchmarks) works end to end, at
# tiny sizes, on the current build, installing nothing and writing only into the build
# dir: every part of its own runs and the report and the plot are written. Asserts no
# figure. Root only (the store is root-only): exit 77 otherwise.
#
# Usage: test_bench_smoke.sh SOURCE_DIR BUILD_DIR OUT_DIR
set -euo pipefail
# shellcheck source=../lib/report.sh
source "$(dirname "$0")/../lib/report.sh"
src=$1 build=$2 out=$3
if [[ $(id -u) -ne 0 ]]; then echo "# skipped: root only"; exit 77; fi

rm -rf "$out"
log=$(mktemp /tmp/apppass-bench-smoke.XXXXXX)
trap 'rm -f "$log"' EXIT
rc=0
bash "$src/tests/bench/run-benchmarks" --quick --no-install --build-dir "$build" --out "$out" \
    --parts sizes,sasl,procs,admin,memory >"$log" 2>&1 || rc=$?
if ((rc == 0)); then ok "run-benchmarks --quick exits 0"; else not_ok "run-benchmarks --quick exits 0 (got $rc)" "$(tail -40 "$log")"; fi
md=$out/benchmarks.md
check "docs written: benchmarks.md" test -s "$md"
if [[ -s $out/benchmarks.png ]] && [[ $(head -c 8 "$out/benchmarks.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]]; then
    ok "the plot written: benchmarks.png is a PNG"
else
    not_ok "the plot written: benchmarks.png is a PNG"
fi
for section in "## This run" "## Targets (issue 14)" "## In-process verification against store size" \
    "## SASL PLAIN: apppass against the stock PLAIN over sasldb" "## Verifying processes at once" \
    "## Admin operations and store size" "## Memory a verifying process gains from pam_apppass" \
    "## apppass-web under load (issue 13)"; do
    check "the report has '$section'" grep -qxF "$section" "$md"
done
check "the Targets table has the verification ratio" grep -q "verification work p50 at 10k / 1k stored" "$md"
check "the machine is described (nproc, commit)" grep -q "| CPUs (nproc) | $(nproc) |" "$md"
check "the issue 13 section is kept verbatim" \
    bash -c "diff <(sed -n '/^## apppass-web under load (issue 13)\$/,\$p' '$src/docs/benchmarks.md') <(sed -n '/^## apppass-web under load (issue 13)\$/,\$p' '$md')"
check "the stores are removed" test ! -e "$build/bench-stores/n1000_p1"
finish
