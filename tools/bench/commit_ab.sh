#!/usr/bin/env bash
# A/B of the durable commit path between two builds (e.g. before and after a change): every
# case with each build, interleaved (run 1 of each case with A then B, then run 2 ...), so
# that a noisy minute on a shared machine falls on both. No baseline store: the comparison is
# the two builds. Writes one JSON object per line to OUT ({"side", "clients", "run", "load",
# "r": ringdb-bench's JSON}) and prints the medians with tools/bench/commit_ab_medians.py.
#   tools/bench/commit_ab.sh BUILD_A BUILD_B [OUT]
# Environment: DURATION (5), RUNS (3), CLIENTS ("1 16 64"), KEYS_PER_COMMIT (1).
set -euo pipefail
a=$1
b=$2
out=${3:-docs/bench/commit-ab-$(date +%F).jsonl}
: >"$out"
for run in $(seq 1 "${RUNS:-3}"); do
  for n in ${CLIENTS:-1 16 64}; do
    for side in A B; do
      build=$a
      [ "$side" = B ] && build=$b
      load=$(cut -d' ' -f1 /proc/loadavg)
      echo "== run $run: $n clients, build $side ($build)" >&2
      r=$(timeout 120 "$build/tools/bench/ringdb-bench" --duration "${DURATION:-5}" commit --spawn \
        --clients "$n" --keys-per-commit "${KEYS_PER_COMMIT:-1}" --json --quiet)
      echo "{\"side\":\"$side\",\"clients\":$n,\"run\":$run,\"load\":$load,\"r\":$r}" >>"$out"
    done
  done
done
python3 "$(dirname "$0")/commit_ab_medians.py" "$out"
