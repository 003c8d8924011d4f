#!/usr/bin/env bash
# The measurement behind docs/BENCHMARKS.md "Backups beside writers (issue 18)": one client's
# sync puts (ringdb-bench put, unpinned) against a ringdbd holding KEYS keys, alone and while
# `ringdb-admin backup` runs back to back, cases interleaved RUNS times; one JSON object per
# line in OUT, tagged with its case and run; then the medians per case.
#   tools/bench/backup_pause.sh [BUILD_DIR [OUT]]
# Environment: DURATION (8), RUNS (3), KEYS (1000000), VALUE (100 bytes), RINGDBD (a ringdbd
# to measure instead of BUILD_DIR's, e.g. an older build for "before"), ONCE (1: one backup,
# started 2 s into the measured time, instead of backups back to back).
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
out=${2:-docs/bench/backup-pause-$(date +%F).jsonl}
duration=${DURATION:-8}
runs=${RUNS:-3}
keys=${KEYS:-1000000}
value=${VALUE:-100}
work=$(mktemp -d /tmp/ringdb-backup-pause-XXXXXX)
daemon_pid=
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
export LD_LIBRARY_PATH="$build/libclient"
cli=("$build/tools/cli/ringdb-cli" --socket "$work/s.sock")
admin=("$build/tools/admin/ringdb-admin" --socket "$work/a.sock" --timeout-ms 600000)

mkfifo "$work/ready"
"${RINGDBD:-$build/daemon/ringdbd}" --data-dir "$work/data" --socket "$work/s.sock" \
  --admin-socket "$work/a.sock" --ready-fd 3 3>"$work/ready" 2>"$work/daemon.log" &
daemon_pid=$!
read -rt 60 _ <"$work/ready"

# The keys ringdb-bench writes (key00000000..), loaded through a dump, then checkpointed.
python3 - "$keys" "$value" >"$work/dump" <<'PY'
import sys
keys, size = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout
out.write("# ringdb-dump 1\n")
v = "v" * size
for i in range(keys):
    out.write('"key%08d" "%s"\n' % (i, v))
PY
"${cli[@]}" import --durability async <"$work/dump" >/dev/null
"${admin[@]}" checkpoint >/dev/null
: >"$out"
for run in $(seq 1 "$runs"); do
  for case in alone backups; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    rm -f "$work/stop"
    if [ "$case" = backups ]; then
      # Copies are removed after the run: deleting 150 MiB files meanwhile would add the
      # file system's own work to what is measured.
      if [ "${ONCE:-0}" = 1 ]; then
        (sleep 3; "${admin[@]}" --json backup "$work/copy" >>"$work/backups.jsonl") &
      else
        (n=0; while [ ! -e "$work/stop" ]; do
           "${admin[@]}" --json backup "$work/copy$n" >>"$work/backups.jsonl"; n=$((n + 1))
         done) &
      fi
      looper=$!
    fi
    line=$("$build/tools/bench/ringdb-bench" put --socket "$work/s.sock" --keys "$keys" \
      --value-size "$value" --duration "$duration" --warmup 1 --json --quiet | head -1)
    touch "$work/stop"
    if [ "$case" = backups ]; then wait "$looper"; rm -rf "$work"/copy*; fi
    echo "{\"case\":\"$case\",\"run\":$run,\"load\":$load,\"result\":$line}" >>"$out"
  done
done
python3 - "$out" "$work/backups.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for case in ("alone", "backups"):
    r = [x["result"] for x in rows if x["case"] == case]
    med = lambda k: statistics.median(x[k] for x in r) / 1000
    print(f"{case:8s} puts/s {statistics.median(x['ops_per_s'] for x in r):8.0f}  "
          f"p50 {med('p50_ns'):7.1f} us  p99 {med('p99_ns'):7.1f} us  "
          f"p99.9 {med('p999_ns'):7.1f} us  max {med('max_ns'):8.1f} us  "
          f"(max per run: {', '.join('%.1f' % (x['max_ns'] / 1000) for x in r)} us)")
b = [json.loads(l) for l in open(sys.argv[2])]
print(f"backups: {len(b)}, median {statistics.median(x['seconds'] for x in b):.2f} s each, "
      f"{statistics.median(x['bytes'] for x in b) / 2**20:.0f} MiB")
PY
