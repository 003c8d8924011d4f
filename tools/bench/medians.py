#!/usr/bin/env python3
"""Medians of ringdb-bench JSON lines (as tools/bench/transport_runs.sh and commit_runs.sh
write them), per case and system, as a Markdown table; then, per case, ringdb's median
throughput over each other system's.  usage: medians.py FILE"""
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
    print("| case | system | ringdb ops/s / system ops/s (medians) |")
    print("|---|---|---|")
    for (case, system), rows in groups.items():
        ringdb = groups.get((case, "ringdb"))
        other = statistics.median(r["ops_per_s"] for r in rows)
        if system == "ringdb" or not ringdb or other == 0:
            continue
        ratio = statistics.median(r["ops_per_s"] for r in ringdb) / other
        print(f"| {case} | {system} | {ratio:.2f}x |")


if __name__ == "__main__":
    main(sys.argv[1])
