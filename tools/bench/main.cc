// ringdb-bench: measures ringdbd through libringdb (latency percentiles, throughput, context
// switches per request), with baselines measured in the same run: shm-floor and
// unix-socket round trips for `ping`, a private redis-server with --compare redis.
// `ringdb-bench --help` lists the options; docs/BENCHMARKS.md records the figures.
#include <signal.h>
#include <sys/socket.h>

#include <cstdio>
#include <string>
#include <vector>

#include "ringdb/client.h"
#include "tools/bench/baselines.h"
#include "tools/bench/driver.h"
#include "tools/bench/options.h"
#include "tools/bench/proc_stats.h"
#include "tools/bench/redis_client.h"
#include "tools/bench/report.h"
#include "tools/bench/ringdb_load.h"
#include "tools/bench/server_process.h"

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

bool run_ringdb(const Options& o, const char* argv0, Reporter* reporter, std::string* error) {
  ServerProcess daemon;
  std::string socket_path = o.socket_path;
  pid_t daemon_pid = -1;
  if (o.spawn) {
    if (!daemon.start_ringdbd(o, argv0, error)) return false;
    socket_path = daemon.socket_path();
    daemon_pid = daemon.pid();
  } else {
    if (socket_path.empty()) socket_path = default_socket_path();
    daemon_pid = socket_peer_pid(socket_path.c_str(), SOCK_SEQPACKET);
    if (daemon_pid <= 0) {
      std::fprintf(stderr,
                   "ringdb-bench: no pid for the daemon at %s: its context switches "
                   "are not counted\n",
                   socket_path.c_str());
    }
  }
  bool preload = o.workload == Workload::kGet || o.workload == Workload::kMixed;
  if (preload && !preload_ringdb(socket_path, o, error)) return false;
  IdleSessions idle;
  if (o.idle_sessions > 0 && !idle.start(socket_path, o.idle_sessions, error)) return false;
  RunSpec spec = base_spec("ringdb", o);
  if (daemon_pid > 0) spec.server_pids.push_back(daemon_pid);
  RunResult run = run_clients(spec, [&](int index, Recorder& recorder) {
    return ringdb_client(index, recorder, socket_path, o);
  });
  idle.stop();
  if (!check(run, "ringdb", error)) return false;
  reporter->add(make_result("ringdb", o, o.depth, run));
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

bool run_redis(const Options& o, Reporter* reporter, std::string* error) {
  ServerProcess redis;
  std::vector<int> cpus = parse_cpu_list(o.daemon_cores);
  if (cpus.empty()) cpus = default_daemon_cpus();
  if (!redis.start_redis(cpus, error)) return false;
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

}  // namespace
}  // namespace ringdb::bench

int main(int argc, char** argv) {
  using namespace ringdb::bench;
  Options options;
  std::string error;
  bool help = false;
  if (!parse_options(argc, argv, &options, &error, &help)) {
    std::fprintf(help ? stdout : stderr, "%s%s", help ? "" : "ringdb-bench: ", error.c_str());
    if (!help) std::fprintf(stderr, "\n");
    return help ? 0 : 2;
  }
  signal(SIGPIPE, SIG_IGN);  // a dead server shows as a failed write, not a killed client
  Reporter reporter(options);
  bool ok = run_ringdb(options, argv[0], &reporter, &error);
  if (ok && options.workload == Workload::kPing) ok = run_baselines(options, &reporter, &error);
  if (ok && options.compare_redis && options.workload != Workload::kIdle) {
    ok = run_redis(options, &reporter, &error);
  }
  reporter.finish();
  if (!ok) {
    std::fprintf(stderr, "ringdb-bench: %s\n", error.c_str());
    return 1;
  }
  return 0;
}
