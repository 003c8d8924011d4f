#!/usr/bin/env bash
# The measurements behind docs/BENCHMARKS.md's transport tables (issues 4 and 13): every case three times,
# cases interleaved (run 1 of each, then run 2 ...) so that a noisy minute on a shared machine
# does not land on one case only. Writes one JSON object per line to OUT, each tagged with its
# case and run, then prints the medians per case and system (tools/bench/medians.py).
#   tools/bench/transport_runs.sh [BUILD_DIR [OUT]]
# Environment: DURATION (5), RUNS (3), EXTRA (options added to every case, e.g.
# "--client-cpus 0"), CASES (a regular expression selecting cases by name), STRACE (1; 0 skips
# the strace step).
set -euo pipefail
build=${1:-build}
out=${2:-docs/bench/transport-$(date +%F).json}
bench="$build/tools/bench/ringdb-bench"
duration=${DURATION:-5}
runs=${RUNS:-3}
extra=${EXTRA:-}
select=${CASES:-.}

# Every CPU for the "a worker per CPU" cases.
all_cpus="0-$(($(nproc) - 1))"
busy="--background-load $(nproc)"  # a busy host: a CPU-bound process per CPU

# Unpinned clients and --spawn defaults first (idle, then a busy host), pinned second (issue 13).
cases=(
  "ping-d1|ping --spawn --clients 1 --depth 1"
  "ping-d32|ping --spawn --clients 1 --depth 32"
  "get-d1|get --spawn --clients 1 --depth 1 --compare redis"
  "get-d32|get --spawn --clients 1 --depth 32 --compare redis"
  "get-c2-d32|get --spawn --clients 2 --depth 32 --compare redis"
  "get-c4-d32|get --spawn --clients 4 --depth 32 --compare redis"
  "get-c2-d32-cores-all|get --spawn --clients 2 --depth 32 --cores $all_cpus"
  "busy-ping-d1|ping --spawn --clients 1 --depth 1 $busy"
  "busy-get-d1|get --spawn --clients 1 --depth 1 --compare redis $busy"
  "busy-get-d32|get --spawn --clients 1 --depth 32 --compare redis $busy"
  "pinned-get-c2-d32-cpu0|get --spawn --clients 2 --depth 32 --client-cpus 0 --compare redis"
  "idle256-get-d1|get --spawn --clients 1 --depth 1 --idle-sessions 256"
  "idle256-get-d32|get --spawn --clients 1 --depth 32 --idle-sessions 256"
  "idle-daemon|idle --spawn --duration 10"
  "idle-daemon-256|idle --spawn --duration 10 --idle-sessions 256"
)

: >"$out"
for run in $(seq 1 "$runs"); do
  for c in "${cases[@]}"; do
    name=${c%%|*}
    args="${c#*|} $extra"
    [[ $name =~ $select ]] || continue
    echo "== run $run: $name: ringdb-bench --duration $duration $args --json --quiet" >&2
    load=$(cut -d' ' -f1 /proc/loadavg)
    # A run that fails or hangs (see docs/BENCHMARKS.md) is reported and tried again, once.
    for attempt in 1 2; do
      # shellcheck disable=SC2086  # args is a word list on purpose; a later --duration wins
      rc=0
      result=$(timeout 60 "$bench" --duration "$duration" $args --json --quiet) || rc=$?
      if [ "$rc" -eq 0 ]; then
        sed "s/^{/{\"case\":\"$name\",\"run\":$run,\"load_avg\":$load,/" <<<"$result" >>"$out"
        break
      fi
      echo "== run $run: $name: attempt $attempt FAILED (exit $rc)" >&2
    done
  done
done
python3 "$(dirname "$0")/medians.py" "$out"

# System calls of the daemon under a get load: strace attached for 10 s in the middle of a
# 16 s run (ptrace slows every system call, so the request rate under strace is lower; the
# count per request is what matters).
if [ "${STRACE:-1}" = 1 ] && command -v strace >/dev/null; then
  dir=$(mktemp -d /tmp/ringdb-strace-XXXXXX)
  mkdir "$dir/data"
  "$build/daemon/ringdbd" --socket "$dir/s.sock" --admin-socket "$dir/a.sock" \
    --data-dir "$dir/data" --log-level warn &
  daemon=$!
  sleep 1
  # shellcheck disable=SC2086  # extra is a word list on purpose
  timeout 60 "$bench" get --socket "$dir/s.sock" --clients 1 --depth 32 --duration 16 $extra \
    --json --quiet >"$dir/bench.json" &
  bench_pid=$!
  sleep 4
  timeout -s INT 10 strace -c -f -p "$daemon" -o "$dir/strace.txt" || true
  wait "$bench_pid" || echo "== the get load failed or hung: the strace figures are not valid" >&2
  kill "$daemon"
  wait "$daemon" || true
  echo "== strace -c -f -p <ringdbd> for 10 s of: ringdb-bench get --clients 1 --depth 32 $extra"
  cat "$dir/strace.txt" "$dir/bench.json"
  rm -rf "$dir"
fi
