#!/usr/bin/env bash
# End-to-end speed of what users run, each timed as a whole process (build first: cargo build
# --release). Prints medians of RUNS runs: wall time, CPU time (user + sys) and rows per
# CPU-second ("per core"), so a busy shared machine shows in the wall figures but not in the CPU
# ones. Cases:
#   catalog   the README's catalog sweep to a CSV file (8,400 rows) and one `eval`
#   wide      POINTS points (10 models x 10 chips x contexts), every column, CSV to a file
#   narrow    the same grid, eight columns (--columns)
#   threads   the wide case with RAYON_NUM_THREADS=1 and =2, to a file and to /dev/null: the
#             speed-up of a second thread
#   rss       peak RSS of a 10^7-point sweep, eight columns to /dev/null (BIG=1 only: minutes)
# Usage: scripts/bench-e2e.sh [RUNS] [KVSIM] [POINTS]   (env: BIG=1, CASES="catalog wide ...")
set -euo pipefail
runs=${1:-5}
kvsim=${2:-target/release/kvsim}
points=${3:-100000}
cases=${CASES:-catalog wide narrow threads}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Runs "$@" RUNS times; prints "wall_median cpu_median maxrss_kb_median".
time_runs() {
  local walls=() cpus=() rss=()
  for _ in $(seq "$runs"); do
    /usr/bin/time -f '%e %U %S %M' -o "$out/time" "$@" >/dev/null 2>"$out/err" || {
      cat "$out/err" >&2
      return 1
    }
    read -r e u s m <"$out/time"
    walls+=("$e")
    cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')")
    rss+=("$m")
  done
  printf '%s %s %s\n' \
    "$(printf '%s\n' "${walls[@]}" | median)" \
    "$(printf '%s\n' "${cpus[@]}" | median)" \
    "$(printf '%s\n' "${rss[@]}" | median)"
}

report() { # name rows wall cpu rss
  awk -v n="$1" -v r="$2" -v w="$3" -v c="$4" -v m="$5" 'BEGIN {
    printf "%-34s %9d rows  wall %7.3f s (%9.0f rows/s)  cpu %7.3f s (%9.0f rows/cpu-s)  rss %6.1f MB\n",
      n, r, w, r / w, c, r / c, m / 1024 }'
}

models=llama-3.1-8b,qwen3-8b,llama-3.1-70b,qwen3-32b,deepseek-v3,kimi-k2-instruct,gpt-oss-120b,gemma-3-27b,qwen3-next-80b-a3b,mimo-v2-flash
chips=h100-sxm,h200,b200,b300,gb200,mi300x,mi355x,ascend-910c,ascend-950pr,l40s
ctx_n=$((points / 100))
grid=(sweep --model "$models" --chip "$chips" --context "1k..$((ctx_n))k:+1k" --max-points "$points")
narrow=model,chip,context,kv_bytes_per_token_per_chip,kv_budget_bytes_per_chip,sessions_per_deployment,sessions_per_chip,max_concurrency

echo "kvsim: $("$kvsim" --version 2>/dev/null || echo "$kvsim"); $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
for c in $cases; do
  case $c in
  catalog)
    read -r w cpu m < <(time_runs "$kvsim" sweep --model all --chip all --context 8k..1M:x2 --output "$out/sweep.csv")
    report "catalog sweep, full CSV" $(($(wc -l <"$out/sweep.csv") - 1)) "$w" "$cpu" "$m"
    read -r w cpu m < <(time_runs "$kvsim" eval --model deepseek-v3 --chip h200 --context 32k --tp 8 --format json)
    report "one eval (process start to exit)" 1 "$w" "$cpu" "$m"
    ;;
  wide)
    read -r w cpu m < <(time_runs "$kvsim" "${grid[@]}" --output "$out/wide.csv")
    report "wide: every column, CSV" $(($(wc -l <"$out/wide.csv") - 1)) "$w" "$cpu" "$m"
    ;;
  narrow)
    read -r w cpu m < <(time_runs "$kvsim" "${grid[@]}" --columns "$narrow" --output "$out/narrow.csv")
    report "narrow: 8 columns, CSV" $(($(wc -l <"$out/narrow.csv") - 1)) "$w" "$cpu" "$m"
    ;;
  threads)
    # To a file (what users run; on a slow disk its writes bound the wall time) and to /dev/null
    # (kvsim's own work: computing, formatting and handing over the rows).
    for t in 1 2; do
      read -r w cpu m < <(RAYON_NUM_THREADS=$t time_runs "$kvsim" "${grid[@]}" --output "$out/t.csv")
      report "wide, $t thread(s), file" $(($(wc -l <"$out/t.csv") - 1)) "$w" "$cpu" "$m"
    done
    for t in 1 2; do
      read -r w cpu m < <(RAYON_NUM_THREADS=$t time_runs "$kvsim" "${grid[@]}")
      report "wide, $t thread(s), /dev/null" "$points" "$w" "$cpu" "$m"
    done
    ;;
  rss)
    read -r w cpu m < <(runs=1 time_runs "$kvsim" sweep --model "$models" --chip "$chips" --context 1..100000:+1 --max-points 10000000 --columns "$narrow")
    report "10^7 points, 8 columns, /dev/null" 10000000 "$w" "$cpu" "$m"
    ;;
  esac
done
