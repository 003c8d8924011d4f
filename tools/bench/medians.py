#!/usr/bin/env python3
"""Medians of ringdb-bench JSON lines (as tools/bench/transport_runs.sh and commit_runs.sh
write them), per case and system, as a Markdown table; then, per case and other system, the
ratios within each run (throughput ringdb / other, p50 other / ringdb) and their median.
usage: medians.py FILE"""
import json
import statistics
import sys
from collections import OrderedDict

FIELDS = ["ops_per_s", "p50_ns", "p99_ns", "p999_ns", "max_ns",
          "ctx_switches_per_req_client", "ctx_switches_per_req_daemon", "daemon_cpu_pct",
          "daemon_ctx_switches_per_s"]


def main(path):
    groups = OrderedDict()
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                groups.setdefault((r.get("case", r["workload"]), r["system"]), []).append(r)
    print("| case | system | runs | " + " | ".join(FIELDS) + " |")
    print("|---" * (len(FIELDS) + 3) + "|")
    for (case, system), rows in groups.items():
        cells = []
        for field in FIELDS:
            m = statistics.median(r[field] for r in rows)
            cells.append(f"{m:.4f}" if isinstance(m, float) and m < 10 else f"{m:.0f}")
        print(f"| {case} | {system} | {len(rows)} | " + " | ".join(cells) + " |")
    print()
    # Ratios within each run (the systems of one run share its minute of the machine), then
    # their median: throughput ringdb / other, and p50 other / ringdb (how many times lower).
    print("| case | system | ops/s ratio, median (per run) | p50 ratio, median (per run) |")
    print("|---|---|---|---|")
    for (case, system), rows in groups.items():
        ringdb = {r.get("run"): r for r in groups.get((case, "ringdb"), [])}
        if system == "ringdb" or not ringdb:
            continue
        pairs = [(ringdb[r.get("run")], r) for r in rows if r.get("run") in ringdb]
        ops = [a["ops_per_s"] / b["ops_per_s"] for a, b in pairs if b["ops_per_s"] > 0]
        p50 = [b["p50_ns"] / a["p50_ns"] for a, b in pairs if a["p50_ns"] > 0]

        def cell(values):
            if not values:
                return "-"
            runs = ", ".join(f"{v:.2f}" for v in values)
            return f"{statistics.median(values):.2f}x ({runs})"

        print(f"| {case} | {system} | {cell(ops)} | {cell(p50)} |")


if __name__ == "__main__":
    main(sys.argv[1])
