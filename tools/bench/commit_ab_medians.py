#!/usr/bin/env python3
"""Medians of a tools/bench/commit_ab.sh run: one Markdown row per case and build, then B/A.

  tools/bench/commit_ab_medians.py FILE.jsonl
"""
import json
import statistics
import sys


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    sides = sorted({r["side"] for r in rows})
    print("| clients | build | commits/s per run | median | p50 µs | p99 µs | commits per batch "
          "| daemon CPU % |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sorted({r["clients"] for r in rows}):
        medians = {}
        for side in sides:
            rs = [r["r"] for r in rows if r["clients"] == n and r["side"] == side]
            med = lambda k: statistics.median(x[k] for x in rs)
            medians[side] = med("ops_per_s")
            runs = ", ".join(str(round(x["ops_per_s"])) for x in rs)
            print(f"| {n} | {side} | {runs} | {med('ops_per_s'):.0f} | {med('p50_ns') / 1e3:.0f} "
                  f"| {med('p99_ns') / 1e3:.0f} | {med('batch_records_avg'):.1f} "
                  f"| {med('daemon_cpu_pct'):.0f} |")
        if len(sides) == 2:
            print(f"| {n} | {sides[1]}/{sides[0]} | | {medians[sides[1]] / medians[sides[0]]:.2f}x "
                  "| | | | |")
    print("load averages before each run:", [r["load"] for r in rows])


if __name__ == "__main__":
    main()
