#!/usr/bin/env bash
# The measurements behind docs/BENCHMARKS.md "Durable commits at the disk's pace (issue 15)":
# each case RUNS times, cases interleaved (run 1 of each, then run 2 ...), one JSON object per
# line in OUT tagged with its case, run and the load average before it; then the medians per
# case and system with the ratios within each run (tools/bench/medians.py).
#   tools/bench/durable_runs.sh [BUILD_DIR [OUT]]
# Environment: DURATION (5), RUNS (3), CASES (a subset of the names below, space-separated),
# RINGDBD (a ringdbd to measure instead of BUILD_DIR's, e.g. an older build for "before").
# Cases:
#   lone-txn, lone-batch, lone-batch-k4: one client, begin/put/commit or one batch of 1 or 4
#     puts, sync, beside LMDB and the fsync floor;
#   c64-txn, c64-batch: 64 unpinned clients, the same;
#   counter-txn, counter-batch: 16 clients incrementing one key (transactions or
#     compare-and-set batches), sync, beside the fsync floor;
#   mixed-G-cN-dD-DUR: mixed with G% gets, N clients, depth D, durability DUR, beside Redis
#     with the matching persistence (G in 95 50, N in 1 4, D in 1 32, DUR in sync async none).
set -euo pipefail
build=${1:-build}
out=${2:-docs/bench/durable-$(date +%F).json}
bench="$build/tools/bench/ringdb-bench"
duration=${DURATION:-5}
runs=${RUNS:-3}
ringdbd_arg=()
if [ -n "${RINGDBD:-}" ]; then ringdbd_arg=(--ringdbd "$RINGDBD"); fi

args_of() {
  case "$1" in
    lone-txn) echo "commit --compare lmdb" ;;
    lone-batch) echo "commit --compare lmdb --batch" ;;
    lone-batch-k4) echo "commit --compare lmdb --batch --keys-per-commit 4" ;;
    c64-txn) echo "commit --compare lmdb --clients 64" ;;
    c64-batch) echo "commit --compare lmdb --clients 64 --batch" ;;
    counter-txn) echo "counter --clients 16" ;;
    counter-batch) echo "counter --clients 16 --batch" ;;
    mixed-*)
      IFS=- read -r _ g c d dur <<<"$1"
      echo "mixed --get-percent $g --clients ${c#c} --depth ${d#d} --durability $dur --compare redis"
      ;;
    *) echo "unknown case $1" >&2; return 1 ;;
  esac
}

default_cases="lone-txn lone-batch lone-batch-k4 c64-txn c64-batch counter-txn counter-batch"
for g in 95 50; do
  for c in 1 4; do
    for d in 1 32; do
      for dur in sync async none; do default_cases+=" mixed-$g-c$c-d$d-$dur"; done
    done
  done
done

: >"$out"
for run in $(seq 1 "$runs"); do
  for name in ${CASES:-$default_cases}; do
    args="$(args_of "$name") --spawn"
    echo "== run $run: $name: ringdb-bench --duration $duration $args --json --quiet" >&2
    load=$(cut -d' ' -f1 /proc/loadavg)
    for attempt in 1 2; do
      rc=0
      # shellcheck disable=SC2086  # args is a word list on purpose
      result=$(timeout 300 "$bench" --duration "$duration" $args "${ringdbd_arg[@]}" --json \
        --quiet) || rc=$?
      if [ "$rc" -eq 0 ]; then
        sed "s/^{/{\"case\":\"$name\",\"run\":$run,\"load_avg\":$load,/" <<<"$result" >>"$out"
        break
      fi
      echo "== run $run: $name: attempt $attempt FAILED (exit $rc)" >&2
    done
  done
done
python3 "$(dirname "$0")/medians.py" "$out"
