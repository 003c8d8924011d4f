// ringdb-bench: measures ringdbd through libringdb (latency percentiles, throughput, context
// switches per request), with baselines measured in the same run: shm-floor and
// unix-socket round trips for `ping`, a private redis-server with --compare redis, LMDB with
// synchronous commits for `commit` with --compare lmdb.
// `ringdb-bench --help` lists the options; docs/BENCHMARKS.md records the figures.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ringdb/client.h"
#include "tools/bench/background_load.h"
#include "tools/bench/baselines.h"
#include "tools/bench/driver.h"
#include "tools/bench/fs_info.h"
#include "tools/bench/lmdb_load.h"
#include "tools/bench/memory_run.h"
#include "tools/bench/options.h"
#include "tools/bench/proc_stats.h"
#include "tools/bench/redis_client.h"
#include "tools/bench/report.h"
#include "tools/bench/ringdb_load.h"
#include "tools/bench/scan_flood.h"
#include "tools/bench/server_process.h"
#include "tools/bench/wal_counters.h"
#include "tools/bench/watch_run.h"

namespace ringdb::bench {
namespace {

class Reporter {
 public:
  explicit Reporter(const Options& options) : options_(options) {}
  void add(Result r) {
    if (options_.json) print_json(r, stdout);
    results_.push_back(std::move(r));
  }
  void finish() const {
    if (!options_.json) print_table(results_, stdout);
  }
  const std::vector<Result>& results() const { return results_; }

 private:
  const Options& options_;
  std::vector<Result> results_;
};

RunSpec base_spec(const std::string& system, const Options& o) {
  RunSpec spec;
  spec.system = system;
  spec.clients = o.workload == Workload::kIdle ? 0 : o.clients;
  spec.warmup_s = o.workload == Workload::kIdle ? 0 : o.warmup_s;
  spec.duration_s = o.duration_s;
  spec.quiet = o.quiet;
  spec.client_cpus = o.client_cpus;
  return spec;
}

bool check(const RunResult& run, const std::string& system, std::string* error) {
  if (!run.ok) *error = system + ": " + run.error;
  return run.ok;
}

// Where a commit run's durable writes go, and on what: said on stderr before the run (also
// with --quiet: the figures mean little without it) and kept in the results.
struct DataPlace {
  std::string dir;
  FilesystemInfo fs;
};

DataPlace announce_place(const char* system, const std::string& dir, const char* what) {
  DataPlace place{dir, dir.empty() ? FilesystemInfo{} : filesystem_of(dir)};
  std::fprintf(stderr, "ringdb-bench: %s: %s in %s (%s)\n", system, what,
               dir.empty() ? "a directory not known here (--socket)" : dir.c_str(),
               describe(place.fs).c_str());
  if (place.fs.ok && place.fs.type == "tmpfs") {
    std::fprintf(stderr, "ringdb-bench: %s: warning: on tmpfs, fdatasync writes nothing\n", system);
  }
  return place;
}

// Workloads whose writes are durable commits: their runs report the log's batches and where
// the writes went, with the fsync floor beside them.
bool durable_workload(const Options& o) {
  return o.workload == Workload::kCommit || o.workload == Workload::kCounter;
}

bool run_ringdb(const Options& o, const char* argv0, Reporter* reporter, std::string* error) {
  ServerProcess daemon;
  std::string socket_path = o.socket_path;
  pid_t daemon_pid = -1;
  DataPlace place;
  if (o.spawn) {
    if (!daemon.start_ringdbd(o, argv0, error)) return false;
    socket_path = daemon.socket_path();
    daemon_pid = daemon.pid();
    if (durable_workload(o)) {
      place = announce_place("ringdb", daemon.data_dir() + "/wal", "the daemon's log");
    }
  } else {
    if (socket_path.empty()) socket_path = default_socket_path();
    daemon_pid = socket_peer_pid(socket_path.c_str(), SOCK_SEQPACKET);
    if (daemon_pid <= 0) {
      std::fprintf(stderr,
                   "ringdb-bench: no pid for the daemon at %s: its context switches "
                   "are not counted\n",
                   socket_path.c_str());
    }
    if (durable_workload(o)) place = announce_place("ringdb", "", "the daemon's log");
  }
  bool preload = o.workload == Workload::kGet || o.workload == Workload::kMixed ||
                 o.noisy_neighbour;  // (the flood's scans read the keys)
  if (preload && !preload_ringdb(socket_path, o, error)) return false;
  IdleSessions idle;
  if (o.idle_sessions > 0 && !idle.start(socket_path, o.idle_sessions, error)) return false;
  // (Stopped, with their figures on stderr, when run_ringdb returns.)
  Watchers watchers, stalled;
  if (o.watchers > 0 && !watchers.start(socket_path, o.watchers, o.watch_prefix, true, error)) {
    return false;
  }
  if (o.stalled_watchers > 0 &&
      !stalled.start(socket_path, o.stalled_watchers, o.watch_prefix, false, error)) {
    return false;
  }
  RunSpec spec = base_spec("ringdb", o);
  if (daemon_pid > 0) spec.server_pids.push_back(daemon_pid);
  // The log's counters around the run: batch size and fsyncs per commit.
  std::string admin_socket = o.spawn ? daemon.admin_socket_path() : o.admin_socket;
  if (admin_socket.empty() && !socket_path.empty())
    admin_socket = socket_path.substr(0, socket_path.rfind('/') + 1) + "admin.sock";
  WalCounters wal_before, wal_after;
  std::string wal_error;
  bool have_wal = durable_workload(o) && read_wal_counters(admin_socket, &wal_before, &wal_error);
  const auto client_body = [&](int index, Recorder& recorder) {
    return ringdb_client(index, recorder, socket_path, o);
  };
  if (o.noisy_neighbour) {
    // Alone first, then beside the flood: both in this run, on this daemon.
    RunResult alone = run_clients(spec, client_body);
    if (!check(alone, "ringdb alone", error)) return false;
    ScanFlood flood;
    if (!flood.start(socket_path, o.noise_depth, error)) return false;
    RunResult noisy = run_clients(spec, client_body);
    const uint64_t scans = flood.stop();
    idle.stop();
    if (!check(noisy, "ringdb beside the scan flood", error)) return false;
    Result quiet_result = make_result("ringdb alone", o, o.depth, alone);
    Result noisy_result = make_result("ringdb noisy", o, o.depth, noisy);
    std::fprintf(stderr,
                 "ringdb-bench: beside a session keeping %d maximal scans in flight (%llu scans "
                 "completed): p99 %.1f us against %.1f us alone (%.2fx), p50 %.1f us against "
                 "%.1f us\n",
                 o.noise_depth, static_cast<unsigned long long>(scans),
                 static_cast<double>(noisy_result.p99_ns) / 1e3,
                 static_cast<double>(quiet_result.p99_ns) / 1e3,
                 static_cast<double>(noisy_result.p99_ns) /
                     static_cast<double>(std::max<uint64_t>(1, quiet_result.p99_ns)),
                 static_cast<double>(noisy_result.p50_ns) / 1e3,
                 static_cast<double>(quiet_result.p50_ns) / 1e3);
    reporter->add(std::move(quiet_result));
    reporter->add(std::move(noisy_result));
    return true;
  }
  RunResult run = run_clients(spec, client_body);
  have_wal = have_wal && read_wal_counters(admin_socket, &wal_after, &wal_error);
  if (durable_workload(o) && !have_wal) {
    std::fprintf(stderr, "ringdb-bench: no log counters (%s): batch size unknown\n",
                 wal_error.c_str());
  }
  idle.stop();
  if (!check(run, "ringdb", error)) return false;
  Result result = make_result("ringdb", o, o.depth, run);
  if (have_wal && wal_after.records > wal_before.records) {
    const double records = static_cast<double>(wal_after.records - wal_before.records);
    result.batch_records_avg = records / static_cast<double>(std::max<uint64_t>(
                                             1, wal_after.batches - wal_before.batches));
    result.fsyncs_per_commit = static_cast<double>(wal_after.fsyncs - wal_before.fsyncs) / records;
  }
  result.data_dir = place.dir;
  result.filesystem = describe(place.fs);
  reporter->add(std::move(result));
  return true;
}

bool run_baselines(const Options& o, Reporter* reporter, std::string* error) {
  BaselineCpus cpus = default_baseline_cpus();
  if (!o.client_cpus.empty()) cpus.client_cpu = -1;  // the driver pinned the clients
  std::vector<int> daemon_cpus = parse_cpu_list(o.daemon_cores);
  if (!daemon_cpus.empty()) cpus.server_cpu = daemon_cpus.front();
  RunResult shm = run_clients(base_spec("shm-floor", o), [cpus](int index, Recorder& recorder) {
    return shm_floor_client(index, recorder, cpus);
  });
  if (!check(shm, "shm-floor", error)) return false;
  reporter->add(make_result("shm-floor", o, 1, shm));
  RunResult sock = run_clients(base_spec("unix-socket", o), [cpus](int index, Recorder& r) {
    return unix_socket_client(index, r, cpus);
  });
  if (!check(sock, "unix-socket", error)) return false;
  reporter->add(make_result("unix-socket", o, 1, sock));
  return true;
}

// The fsync floor: one client, a 4 KiB write + fdatasync in a loop, in a new directory under
// /tmp (where a spawned ringdbd and LMDB keep their data).
bool run_fsync_floor(const Options& o, Reporter* reporter, std::string* error) {
  std::string dir = "/tmp/ringdb-bench-fsync-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    *error = std::string("mkdtemp: ") + std::strerror(errno);
    return false;
  }
  DataPlace place = announce_place("fsync-floor", dir, "a 4 KiB write + fdatasync in a loop");
  RunSpec spec = base_spec("fsync-floor", o);
  spec.clients = 1;
  RunResult run = run_clients(spec, [&](int index, Recorder& recorder) {
    return fsync_floor_client(index, recorder, dir);
  });
  rmdir(dir.c_str());
  if (!check(run, "fsync-floor", error)) return false;
  Result result = make_result("fsync-floor", o, 1, run);
  result.clients = 1;
  result.keys_per_commit = 0;
  result.retries_per_commit = -1;
  result.data_dir = place.dir;
  result.filesystem = describe(place.fs);
  reporter->add(std::move(result));
  return true;
}

bool run_redis(const Options& o, Reporter* reporter, std::string* error) {
  ServerProcess redis;
  if (!start_redis_where_ringdbd_runs(o, &redis, error)) return false;
  bool preload = o.workload == Workload::kGet || o.workload == Workload::kMixed;
  if (preload && !preload_redis(redis.socket_path(), o, error)) return false;
  RunSpec spec = base_spec("redis", o);
  spec.server_pids.push_back(redis.pid());
  const std::string& socket_path = redis.socket_path();
  RunResult run = run_clients(spec, [&](int index, Recorder& recorder) {
    return redis_client(index, recorder, socket_path, o);
  });
  if (!check(run, "redis", error)) return false;
  reporter->add(make_result("redis", o, o.depth, run));
  return true;
}

bool run_lmdb(const Options& o, Reporter* reporter, std::string* error) {
  LmdbDir dir;
  if (!dir.create(error)) return false;
  DataPlace place = announce_place("lmdb", dir.path(),
                                   "the environment (synchronous commits, shared by all "
                                   "clients)");
  const std::string& path = dir.path();
  RunResult run = run_clients(base_spec("lmdb", o), [&](int index, Recorder& recorder) {
    return lmdb_client(index, recorder, path, o);
  });
  if (!check(run, "lmdb", error)) return false;
  Result result = make_result("lmdb", o, 1, run);
  result.data_dir = place.dir;
  result.filesystem = describe(place.fs);
  reporter->add(std::move(result));
  return true;
}

// The comparison means something only if both systems synced to the same filesystem.
void check_same_filesystem(const std::vector<Result>& results) {
  const std::string unknown = describe(FilesystemInfo{});
  for (const Result& r : results) {
    if (r.filesystem != results.front().filesystem && r.filesystem != unknown &&
        results.front().filesystem != unknown) {
      std::fprintf(stderr,
                   "ringdb-bench: warning: %s wrote to %s but %s to %s: not the same filesystem\n",
                   results.front().system.c_str(), results.front().filesystem.c_str(),
                   r.system.c_str(), r.filesystem.c_str());
    }
  }
}

}  // namespace
}  // namespace ringdb::bench

int main(int argc, char** argv) {
  using namespace ringdb::bench;
  Options options;
  std::string error;
  if (const int rc = parse_options(argc, argv, &options); rc >= 0) return rc;
  signal(SIGPIPE, SIG_IGN);  // a dead server shows as a failed write, not a killed client
  if (options.workload == Workload::kMemory) {
    MemoryFigures ringdb_figures;
    MemoryFigures redis_figures;
    bool ok = measure_ringdb_memory(options, argv[0], &ringdb_figures, &error);
    if (ok) print_memory(ringdb_figures, options.json);
    if (ok && options.compare_redis) {
      ok = measure_redis_memory(options, &redis_figures, &error);
      if (ok) print_memory(redis_figures, options.json);
    }
    if (!ok) std::fprintf(stderr, "ringdb-bench: %s\n", error.c_str());
    return ok ? 0 : 1;
  }
  if (options.workload == Workload::kWatch) {
    BackgroundLoad load;
    WatchFigures ringdb_figures, redis_figures;
    bool ok = load.start(options.background_load, &error) &&
              measure_ringdb_watch(options, argv[0], &ringdb_figures, &error);
    if (ok) print_watch(ringdb_figures, options.json);
    if (ok && options.compare_redis) {
      ok = measure_redis_watch(options, &redis_figures, &error);
      if (ok) print_watch(redis_figures, options.json);
    }
    if (!ok) std::fprintf(stderr, "ringdb-bench: %s\n", error.c_str());
    return ok ? 0 : 1;
  }
  Reporter reporter(options);
  BackgroundLoad load;  // for the whole run, every system measured
  bool ok = load.start(options.background_load, &error);
  ok = ok && run_ringdb(options, argv[0], &reporter, &error);
  if (ok && options.workload == Workload::kPing) ok = run_baselines(options, &reporter, &error);
  if (ok && durable_workload(options)) ok = run_fsync_floor(options, &reporter, &error);
  if (ok && options.compare_redis && options.workload != Workload::kIdle) {
    ok = run_redis(options, &reporter, &error);
  }
  if (ok && options.compare_lmdb) ok = run_lmdb(options, &reporter, &error);
  if (ok && durable_workload(options)) check_same_filesystem(reporter.results());
  reporter.finish();
  if (!ok) {
    std::fprintf(stderr, "ringdb-bench: %s\n", error.c_str());
    return 1;
  }
  return 0;
}
