#!/usr/bin/env bash
# One full `evaluate` of every catalog model (H100, 32k tokens, as `evaluate per model` in
# benches/evaluate.rs), timed in-process by examples/evaluate_loop over N calls per run.
# ROUNDS rounds each visit every model in turn, so a shared machine's slow minutes (this VM's
# speed swings about 2x) touch every model alike. Prints per model the minimum and the median CPU
# time per call (user + sys over N, start-up of about a millisecond included) and, last, the
# largest minimum: the catalog's worst case on the machine undisturbed.
# Usage: scripts/bench-models.sh [ROUNDS] [N]
set -euo pipefail
rounds=${1:-5}
n=${2:-400000}
cargo build --release --quiet --example evaluate_loop --bin kvsim
loop=target/release/examples/evaluate_loop
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

models=$(target/release/kvsim models --format json |
  python3 -c 'import json, sys; print(" ".join(m["id"] for m in json.load(sys.stdin)))')
echo "$(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ); $rounds rounds x $n calls"
for _ in $(seq "$rounds"); do
  for m in $models; do
    # Models the example cannot evaluate (none today) are skipped, not fatal.
    if /usr/bin/time -f '%U %S' -o "$out/time" "$loop" "$m" full "$n" >/dev/null 2>"$out/err"; then
      awk -v n="$n" '{printf "%.4f\n", ($1 + $2) / n * 1e6}' "$out/time" >>"$out/$m"
    fi
  done
done
for m in $models; do
  [ -s "$out/$m" ] || continue
  sort -g "$out/$m" | awk -v m="$m" '{a[NR]=$1} END {printf "%-24s min %6.3f us  median %6.3f us\n", m, a[1], a[int((NR+1)/2)]}'
done | tee "$out/table"
sort -k3 -g "$out/table" | tail -1 | awk '{printf "largest minimum: %s %s us\n", $1, $3}'
