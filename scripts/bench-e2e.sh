#!/usr/bin/env bash
# End-to-end speed of what users run: the README's catalog sweep to a CSV file, and one `eval`,
# each timed as a whole process (build first: cargo build --release). Prints the median of N runs.
# Usage: scripts/bench-e2e.sh [RUNS] [KVSIM]
set -euo pipefail
runs=${1:-7}
kvsim=${2:-target/release/kvsim}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

time_runs() {
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
  done | median
}

sweep=$(time_runs "$kvsim" sweep --model all --chip all --context 8k..1M:x2 --output "$out/sweep.csv")
rows=$(($(wc -l <"$out/sweep.csv") - 1))
eval=$(time_runs "$kvsim" eval --model deepseek-v3 --chip h200 --context 32k --tp 8 --format json)
printf 'catalog sweep: %d rows in %.3f s (median of %d) = %.0f rows/s\n' "$rows" "$sweep" "$runs" "$(awk -v r="$rows" -v t="$sweep" 'BEGIN {print r / t}')"
printf 'one eval (process start to exit): %.4f s (median of %d)\n' "$eval" "$runs"
