#!/usr/bin/env bash
# The measurements behind docs/BENCHMARKS.md "Transport (issue 4)": every case three times,
# cases interleaved (run 1 of each, then run 2 ...) so that a noisy minute on a shared machine
# does not land on one case only. Writes one JSON object per line to OUT, each tagged with its
# case and run, then prints the medians per case and system (tools/bench/medians.py).
#   tools/bench/transport_runs.sh [BUILD_DIR [OUT]]
set -euo pipefail
build=${1:-build}
out=${2:-docs/bench/transport-$(date +%F).json}
bench="$build/tools/bench/ringdb-bench"
duration=${DURATION:-5}
runs=${RUNS:-3}

cases=(
  "ping-d1|ping --spawn --clients 1 --depth 1"
  "get-d1|get --spawn --clients 1 --depth 1 --compare redis"
  "get-d32|get --spawn --clients 1 --depth 32 --compare redis"
  "get-c2-d32|get --spawn --clients 2 --depth 32 --compare redis"
  "idle0-get-d1|get --spawn --clients 1 --depth 1 --idle-sessions 0"
  "idle256-get-d1|get --spawn --clients 1 --depth 1 --idle-sessions 256"
  "idle0-get-d32|get --spawn --clients 1 --depth 32 --idle-sessions 0"
  "idle256-get-d32|get --spawn --clients 1 --depth 32 --idle-sessions 256"
)

: >"$out"
for run in $(seq 1 "$runs"); do
  for c in "${cases[@]}"; do
    name=${c%%|*}
    args=${c#*|}
    echo "== run $run: $name: ringdb-bench $args --duration $duration --json --quiet" >&2
    # shellcheck disable=SC2086  # args is a word list on purpose
    "$bench" $args --duration "$duration" --json --quiet |
      sed "s/^{/{\"case\":\"$name\",\"run\":$run,\"load_avg\":\"$(cut -d' ' -f1 /proc/loadavg)\",/" >>"$out"
  done
done
python3 "$(dirname "$0")/medians.py" "$out"
