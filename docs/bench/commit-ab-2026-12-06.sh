#!/usr/bin/env bash
# Interleaved A/B of the commit path: before (main) and after (rooms), same cases, same minute.
set -u
out=/tmp/bench/ab.jsonl; : > $out
for run in 1 2 3; do
  for n in 1 16 64; do
    for side in before after; do
      case $side in before) b=/work/main/build-test/release;; after) b=/work/rooms/build-test/release;; esac
      load=$(cut -d' ' -f1 /proc/loadavg)
      r=$(timeout 120 $b/tools/bench/ringdb-bench --duration 5 commit --spawn --clients $n --keys-per-commit 1 --json --quiet 2>/dev/null)
      echo "{\"side\":\"$side\",\"clients\":$n,\"run\":$run,\"load\":$load,\"r\":$r}" >> $out
    done
  done
done
