#!/usr/bin/python3
"""Python point-get latency: the ringdb binding against redis-py on a local Redis's unix socket,
measured in the same run (issue 17's target: ringdb's p50 at least 10x lower).

Spawns a private ringdbd (started with --ready-fd) and a private redis-server (unix socket,
no persistence: gets do not touch the disk either way) in a temporary directory, loads the
same keys into both, then times single gets from one Python thread with perf_counter_ns,
alternating the two systems in rounds so that a noisy machine hits both alike. Prints a table
and, with --json, the figures for machines. Run it with the interpreter the binding was built
for, the package on PYTHONPATH:

    PYTHONPATH=build/python /usr/bin/python3 tools/bench/python_get.py \
        --ringdbd build/daemon/ringdbd --json /tmp/python_get.json
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import redis

import ringdb


def start_ringdbd(binary, directory):
    read_end, write_end = os.pipe()
    socket = os.path.join(directory, "ringdb.sock")
    log = open(os.path.join(directory, "ringdbd.log"), "wb")
    process = subprocess.Popen(
        [binary, "--socket", socket, "--admin-socket", os.path.join(directory, "admin.sock"),
         "--data-dir", os.path.join(directory, "data"), "--ready-fd", str(write_end)],
        pass_fds=(write_end,), stderr=log)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as ready:
        if ready.read(6) != b"ready\n":
            sys.exit("ringdbd did not start; its log: " + os.path.join(directory, "ringdbd.log"))
    return process, socket


def start_redis(binary, directory):
    socket = os.path.join(directory, "redis.sock")
    process = subprocess.Popen(
        [binary, "--save", "", "--appendonly", "no", "--port", "0", "--unixsocket", socket,
         "--unixsocketperm", "700", "--dir", directory, "--daemonize", "no",
         "--logfile", os.path.join(directory, "redis.log")])
    client = redis.Redis(unix_socket_path=socket)
    deadline = time.monotonic() + 30
    while True:  # redis-server has no readiness signal: ask until it answers
        try:
            client.ping()
            return process, client
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                sys.exit("redis-server did not start")
            time.sleep(0.01)


def percentile(sorted_ns, p):
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * p / 100))]


def time_gets(get, keys):
    samples = []
    clock = time.perf_counter_ns
    for key in keys:
        t0 = clock()
        get(key)
        samples.append(clock() - t0)
    samples.sort()
    return {"p50": percentile(samples, 50), "p90": percentile(samples, 90),
            "p99": percentile(samples, 99), "mean": statistics.fmean(samples)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ringdbd", default=shutil.which("ringdbd") or "ringdbd")
    parser.add_argument("--redis-server", default="redis-server")
    parser.add_argument("--keys", type=int, default=100000)
    parser.add_argument("--value-size", type=int, default=100)
    parser.add_argument("--ops", type=int, default=100000, help="gets per system per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="ringdb-pybench-")
    servers = []
    try:
        daemon, socket = start_ringdbd(args.ringdbd, directory)
        servers.append(daemon)
        redis_server, rclient = start_redis(args.redis_server, directory)
        servers.append(redis_server)
        db = ringdb.connect(socket)

        keys = [b"key:%010d" % i for i in range(args.keys)]
        value = b"v" * args.value_size
        db.put_many(((k, value) for k in keys), durability=ringdb.ASYNC)
        pipe = rclient.pipeline(transaction=False)
        for i, k in enumerate(keys):
            pipe.set(k, value)
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
        assert db.get(keys[-1]) == value and rclient.get(keys[-1]) == value

        rng = random.Random(42)
        systems = {"ringdb": db.get, "redis-py": rclient.get}
        rounds = {name: [] for name in systems}
        for _ in range(args.rounds):
            order = [rng.choice(keys) for _ in range(args.ops)]
            for name, get in systems.items():
                time_gets(get, order[: args.ops // 10])  # warm-up
                rounds[name].append(time_gets(get, order))
        db.close()
    finally:
        for server in servers:
            server.kill()
            server.wait()
        shutil.rmtree(directory, ignore_errors=True)

    result = {"benchmark": "python_get", "keys": args.keys, "value_size": args.value_size,
              "ops_per_round": args.ops, "rounds": args.rounds,
              "python": sys.version.split()[0], "load_before": os.getloadavg()[0]}
    print(f"python get, {args.keys} keys of {args.value_size} B, {args.ops} gets x "
          f"{args.rounds} rounds (medians of the rounds), Python {result['python']}")
    print(f"{'':10} {'p50 ns':>9} {'p90 ns':>9} {'p99 ns':>9} {'mean ns':>9}")
    for name, per_round in rounds.items():
        med = {f: statistics.median(r[f] for r in per_round) for f in ("p50", "p90", "p99", "mean")}
        result[name] = med
        result[name + "_rounds"] = per_round
        print(f"{name:10} {med['p50']:9.0f} {med['p90']:9.0f} {med['p99']:9.0f} {med['mean']:9.0f}")
    ratio = result["redis-py"]["p50"] / result["ringdb"]["p50"]
    result["p50_ratio_redis_over_ringdb"] = ratio
    print(f"redis-py p50 / ringdb p50: {ratio:.1f}x (target >= 10x)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
