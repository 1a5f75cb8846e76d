#!/usr/bin/env bash
# Times `git diff --no-index` (histogram and the default Myers) on the same
# synthetic inputs as benches/diff.rs, as a process (so the figure includes
# process start, reading both files and writing the patch to /dev/null).
#
#   scripts/diff_vs_git.sh [RUNS]
#
# Prints the median wall time of RUNS runs (default 11) per input and algorithm.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-11}
DIR=target/diff-inputs
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
DIFF_BENCH_WRITE_INPUTS=$DIR cargo bench --bench diff -q >/dev/null
command -v git >/dev/null || { echo "git not found: nothing to time"; exit 0; }
median_ms() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m/1e6}'; }
printf "%-12s %14s %14s\n" input "git-histogram" "git-myers"
for shape in 10k-few 10k-many 100k-few 100k-many 1M-few 1M-many; do
  old=$DIR/$shape.old new=$DIR/$shape.new
  row=()
  for algo in --histogram --diff-algorithm=myers; do
    times=$(for _ in $(seq "$RUNS"); do
      s=$(date +%s%N)
      git diff --no-index --no-color "$algo" "$old" "$new" >/dev/null || true
      e=$(date +%s%N)
      echo $((e - s))
    done)
    row+=("$(echo "$times" | median_ms) ms")
  done
  printf "%-12s %14s %14s\n" "$shape" "${row[0]}" "${row[1]}"
done
