#!/usr/bin/env python3
"""What an append + fdatasync costs into preallocated space, by how it was preallocated.

The log's segments are made with posix_fallocate (daemon/wal/writer.cc, new_segment): their
blocks are unwritten extents, and the first write into each block makes the next fdatasync
convert an extent too (an ext4 journal commit). This measures an append + fdatasync loop, as
a lone sync commit does, into a 64 MiB file (a) posix_fallocate'd and (b) written with zeros
first, alternating, for appends of RECORD bytes: with 4 KiB appends every sync converts a
block, with commit-sized ones (160 bytes) one sync in 25 does.

  tools/bench/fdatasync_extents.py [DIR [COUNT [RECORD]]]   (/var/tmp, 2000 per run, 4096)
"""
import os
import sys
import time

directory = sys.argv[1] if len(sys.argv) > 1 else "/var/tmp"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
record = int(sys.argv[3]) if len(sys.argv) > 3 else 4096


def run(mode):
    path = os.path.join(directory, f"ringdb-extents-{mode}")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    size = 64 << 20
    if mode == "fallocate":
        os.posix_fallocate(fd, 0, size)
    else:
        for off in range(0, size, 1 << 20):
            os.pwrite(fd, b"\0" * (1 << 20), off)
    os.fsync(fd)
    block = b"x" * record
    took = []
    for i in range(count):
        start = time.perf_counter_ns()
        os.pwrite(fd, block, i * record)
        os.fdatasync(fd)
        took.append(time.perf_counter_ns() - start)
    os.close(fd)
    os.unlink(path)
    took.sort()
    at = lambda q: took[min(len(took) - 1, int(q * len(took)))] / 1000
    print(f"{record:5d} B {mode:9s} p50 {at(0.5):6.0f} us  "
          f"p99 {at(0.99):7.0f} us  max {took[-1] / 1000:8.0f} us", flush=True)


for _ in range(2):
    for mode in ("fallocate", "zeroed"):
        run(mode)
