#!/bin/bash
# Runs one libFuzzer target: replays every seed of its corpus once, then fuzzes for
# SECONDS starting from the seeds, and prints one figure line (executions, exec/s,
# coverage, corpus size). Fails on any crash, leak, timeout, sanitizer report or failed
# correctness check; with MIN_EXEC_PER_SEC > 0 also when the target is slower than that.
# The speed asserted is executions per second of CPU the fuzzer used (exec/cpu-s), which
# a busy machine does not change; the wall-clock exec/s is printed beside it.
# A crashing input is kept next to the test (./TARGET-crash-*, ./TARGET-leak-*, ...) for
#   TARGET ARTIFACT     (reproduces it)
#
#   run_fuzz.sh FUZZER SEED_DIR SECONDS MIN_EXEC_PER_SEC [DICT]
set -uo pipefail

# All in one function, read whole before it runs: editing this file while a long run
# reads it cannot change what that run does.
main() {
fuzzer=$1 seeds=$2 seconds=$3 min_rate=$4 dict=${5:-}
name=$(basename "$fuzzer")
failed=0
ok() { echo "ok - $1"; }
not_ok() {
    failed=1
    echo "not ok - $1"
    shift
    local line
    for arg in "$@"; do
        while IFS= read -r line; do printf '#   %s\n' "$line"; done <<<"$arg"
    done
}

# The store the fuzzers make, and the working corpus, live in a private directory (on
# tmpfs when there is one: an acceptance writes the usage database).
base=/tmp
[[ -d /dev/shm && -w /dev/shm ]] && base=/dev/shm
work=$(mktemp -d "$base/apppass-$name.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
export TMPDIR=$work
mkdir "$work/corpus"
cp "$seeds"/* "$work/corpus/"
nseeds=$(find "$seeds" -type f | wc -l)

opts=(-timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1
      "-artifact_prefix=$PWD/$name-")
[[ -n $dict ]] && opts+=("-dict=$dict")

# 1. Replay: each seed once (files as arguments: no mutation).
if out=$("$fuzzer" "${opts[@]}" "$seeds"/* 2>&1); then
    ok "$name: replayed $nseeds seeds"
else
    not_ok "$name: replaying the seeds" "$(tail -n 40 <<<"$out")"
fi

# 2. Fuzz from the seeds.
log=$work/fuzz.log
# CPU seconds used by this shell's children ("times" in this shell, not a subshell: its
# second line is the children's user and system time, e.g. "0m1.250s 0m0.310s").
cpu() { awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.2f", t }' "$1"; }
times >"$work/times0"
"$fuzzer" "${opts[@]}" -max_total_time="$seconds" "$work/corpus" >"$log" 2>&1
rc=$?
times >"$work/times1"
cpu_s=$(awk -v a="$(cpu "$work/times1")" -v b="$(cpu "$work/times0")" 'BEGIN { printf "%.2f", a - b }')
stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
execs=$(stat number_of_executed_units)
rate=$(stat average_exec_per_sec)
rss=$(stat peak_rss_mb)
# The last status line: "#N  DONE   cov: C ft: F corp: K/SIZE ..."
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
cpu_rate=$(awk -v n="${execs:-0}" -v c="$cpu_s" 'BEGIN { printf "%d", (c > 0 ? n / c : 0) }')
echo "figures: $name seconds=$seconds execs=${execs:-?} exec/s=${rate:-?} cpu_s=$cpu_s" \
     "exec/cpu-s=$cpu_rate cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?} seeds=$nseeds" \
     "peak_rss_mb=${rss:-?} load=$(cut -d' ' -f1-3 /proc/loadavg)"
if [[ $rc -eq 0 ]] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
    ok "$name: ${seconds} s of fuzzing, no crash, leak, timeout or failed check"
else
    not_ok "$name: fuzzing (exit $rc)" "$(grep -E -B2 -A30 'ERROR:|runtime error:|fuzz check failed' "$log" | head -n 60)" \
        "artifacts: $(ls "$PWD/$name-"* 2>/dev/null | tr '\n' ' ')"
fi
if [[ $min_rate -gt 0 ]]; then
    if [[ $cpu_rate -ge $min_rate ]]; then
        ok "$name: $cpu_rate executions per CPU second >= $min_rate (wall clock: ${rate:-?} exec/s)"
    else
        not_ok "$name: $cpu_rate executions per CPU second < $min_rate (wall clock: ${rate:-?} exec/s)"
    fi
fi
return $failed
}
main "$@"
exit
