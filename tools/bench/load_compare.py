#!/usr/bin/python3
"""Bulk load through libringdb's C ABI against `redis-cli --pipe`, same data, same run
(issue 17's target: the C ABI at least at redis-cli --pipe's rate, with sync durability).

Both servers are private, in a directory on the disk under test (--dir), durable alike:
ringdbd's puts are RINGDB_SYNC (each acknowledged once its log record is on disk; group commit
shares fsyncs), Redis runs with appendonly yes, appendfsync always (it fsyncs its AOF before
it answers a batch of commands). ringdb's loaders are ringdb-c-load (tools/bench/c_load.c,
ringdb_execute with many puts in flight per call) and `ringdb-cli import` of the same data as
a dump (issue 18: durable when it exits, its last put sync); Redis's is redis-cli --pipe fed
the same keys and values as RESP. Rounds alternate the three; medians are reported.

    tools/bench/load_compare.py --build build --keys 1000000 --dir /var/tmp --json /tmp/load.json
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def start_ringdbd(binary, directory):
    read_end, write_end = os.pipe()
    socket = os.path.join(directory, "ringdb.sock")
    process = subprocess.Popen(
        [binary, "--socket", socket, "--admin-socket", os.path.join(directory, "admin.sock"),
         "--data-dir", os.path.join(directory, "data"), "--ready-fd", str(write_end)],
        pass_fds=(write_end,), stderr=open(os.path.join(directory, "ringdbd.log"), "wb"))
    os.close(write_end)
    with os.fdopen(read_end, "rb") as ready:
        if ready.read(6) != b"ready\n":
            sys.exit("ringdbd did not start (" + directory + "/ringdbd.log)")
    return process, socket


def start_redis(directory):
    socket = os.path.join(directory, "redis.sock")
    process = subprocess.Popen(
        ["redis-server", "--save", "", "--appendonly", "yes", "--appendfsync", "always",
         "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700", "--dir", directory,
         "--daemonize", "no", "--logfile", os.path.join(directory, "redis.log")])
    deadline = time.monotonic() + 30
    while subprocess.run(["redis-cli", "-s", socket, "ping"], capture_output=True).stdout != b"PONG\n":
        if time.monotonic() > deadline or process.poll() is not None:
            sys.exit("redis-server did not start")
        time.sleep(0.01)  # redis-server has no readiness signal: ask until it answers
    return process, socket


def resp_file(path, keys, key_bytes, value_bytes):
    """The same data as ringdb-c-load writes, as RESP SET commands for redis-cli --pipe."""
    value = b"v" * value_bytes
    head = b"*3\r\n$3\r\nSET\r\n$%d\r\n" % key_bytes
    tail = b"\r\n$%d\r\n" % value_bytes + value + b"\r\n"
    with open(path, "wb") as f:
        for i in range(keys):
            f.write(head + b"k" + str(i).zfill(key_bytes - 1).encode() + tail)


def dump_file(path, keys, key_bytes, value_bytes):
    """The same data as a ringdb-cli dump (keys and values are printable: written bare)."""
    value = b"v" * value_bytes
    with open(path, "wb") as f:
        f.write(b"# ringdb-dump 1\n")
        for i in range(keys):
            f.write(b"k" + str(i).zfill(key_bytes - 1).encode() + b" " + value + b"\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build", help="the build directory")
    parser.add_argument("--keys", type=int, default=1000000)
    parser.add_argument("--key-bytes", type=int, default=16)
    parser.add_argument("--value-bytes", type=int, default=100)
    parser.add_argument("--ops-per-call", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default="/var/tmp", help="where both servers keep their data")
    parser.add_argument("--json")
    args = parser.parse_args()
    ringdbd = os.path.join(args.build, "daemon", "ringdbd")
    loader = os.path.join(args.build, "tools", "bench", "ringdb-c-load")
    cli = os.path.join(args.build, "tools", "cli", "ringdb-cli")

    work = tempfile.mkdtemp(prefix="ringdb-load-", dir=args.dir)
    resp = os.path.join(work, "data.resp")
    resp_file(resp, args.keys, args.key_bytes, args.value_bytes)
    dump = os.path.join(work, "data.dump")
    dump_file(dump, args.keys, args.key_bytes, args.value_bytes)
    rates = {"ringdb": [], "ringdb-cli import": [], "redis-cli --pipe": []}
    try:
        for r in range(args.rounds):
            d = os.path.join(work, "ringdb-%d" % r)
            os.mkdir(d)
            daemon, socket = start_ringdbd(ringdbd, d)
            out = subprocess.run(
                [loader, socket, str(args.keys), str(args.key_bytes), str(args.value_bytes),
                 "sync", str(args.ops_per_call)], capture_output=True, text=True, check=True)
            rates["ringdb"].append(json.loads(out.stdout)["keys_per_second"])
            daemon.kill()
            daemon.wait()
            shutil.rmtree(d)

            d = os.path.join(work, "cli-%d" % r)
            os.mkdir(d)
            daemon, socket = start_ringdbd(ringdbd, d)
            with open(dump, "rb") as data:
                t0 = time.monotonic()
                subprocess.run([cli, "--socket", socket, "import"], stdin=data,
                               capture_output=True, check=True)
                seconds = time.monotonic() - t0
            rates["ringdb-cli import"].append(args.keys / seconds)
            daemon.kill()
            daemon.wait()
            shutil.rmtree(d)

            d = os.path.join(work, "redis-%d" % r)
            os.mkdir(d)
            server, socket = start_redis(d)
            with open(resp, "rb") as data:
                t0 = time.monotonic()
                subprocess.run(["redis-cli", "-s", socket, "--pipe"], stdin=data,
                               capture_output=True, check=True)
                seconds = time.monotonic() - t0
            size = subprocess.run(["redis-cli", "-s", socket, "dbsize"], capture_output=True,
                                  text=True, check=True).stdout.strip()
            if int(size) != args.keys:
                sys.exit("redis holds %s keys, not %d" % (size, args.keys))
            rates["redis-cli --pipe"].append(args.keys / seconds)
            server.kill()
            server.wait()
            shutil.rmtree(d)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("bulk load, %d keys of %d B + %d B values, sync durability, %d rounds (median)"
          % (args.keys, args.key_bytes, args.value_bytes, args.rounds))
    result = {"benchmark": "load_compare", "keys": args.keys, "key_bytes": args.key_bytes,
              "value_bytes": args.value_bytes, "ops_per_call": args.ops_per_call,
              "dir": args.dir, "rounds": rates}
    for name, per_round in rates.items():
        result[name] = statistics.median(per_round)
        print("%-18s %10.0f keys/s   (rounds: %s)"
              % (name, result[name], ", ".join("%.0f" % x for x in per_round)))
    result["ratio_ringdb_over_redis"] = result["ringdb"] / result["redis-cli --pipe"]
    result["ratio_cli_import_over_redis"] = result["ringdb-cli import"] / result["redis-cli --pipe"]
    print("ringdb C ABI / redis-cli --pipe: %.2fx (target >= 1)" % result["ratio_ringdb_over_redis"])
    print("ringdb-cli import / redis-cli --pipe: %.2fx (target >= 1)"
          % result["ratio_cli_import_over_redis"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
