#!/usr/bin/env bash
# The measurements behind docs/BENCHMARKS.md "Durable commits: ringdb-bench commit against
# LMDB": every case (clients x keys per commit) three times, cases interleaved (run 1 of each,
# then run 2 ...) so that a noisy minute on a shared machine does not land on one case only.
# Each run is `ringdb-bench commit --spawn ... --compare lmdb --json --quiet`: ringdb, then
# LMDB with synchronous commits, in the same run. Writes one JSON object per line to OUT, each
# tagged with its case, run and the load average before it, then prints the medians per case
# and system with the ringdb/LMDB throughput ratio (tools/bench/medians.py).
#   tools/bench/commit_runs.sh [BUILD_DIR [OUT]]
# Environment: DURATION (5), RUNS (3), CLIENTS ("1 4 16 64"), KEYS_PER_COMMIT ("1 4"), EXTRA
# (options added to every case).
set -euo pipefail
build=${1:-build}
out=${2:-docs/bench/commit-$(date +%F).json}
bench="$build/tools/bench/ringdb-bench"
duration=${DURATION:-5}
runs=${RUNS:-3}
extra=${EXTRA:-}

: >"$out"
for run in $(seq 1 "$runs"); do
  for k in ${KEYS_PER_COMMIT:-1 4}; do
    for n in ${CLIENTS:-1 4 16 64}; do
      name="commit-c$n-k$k"
      args="commit --spawn --clients $n --keys-per-commit $k --compare lmdb $extra"
      echo "== run $run: $name: ringdb-bench --duration $duration $args --json --quiet" >&2
      load=$(cut -d' ' -f1 /proc/loadavg)
      # A run that fails or hangs is reported and tried again, once.
      for attempt in 1 2; do
        rc=0
        # shellcheck disable=SC2086  # args is a word list on purpose
        result=$(timeout 120 "$bench" --duration "$duration" $args --json --quiet) || rc=$?
        if [ "$rc" -eq 0 ]; then
          sed "s/^{/{\"case\":\"$name\",\"run\":$run,\"load_avg\":$load,/" <<<"$result" >>"$out"
          break
        fi
        echo "== run $run: $name: attempt $attempt FAILED (exit $rc)" >&2
      done
    done
  done
done
python3 "$(dirname "$0")/medians.py" "$out"
