// The process driver: forks the client processes of one measured system, moves them through
// set-up, warm-up, measurement and stop, prints a progress line a second, and collects their
// histograms and the context switches of the clients and the server side.
//
// The parent and the clients share one MAP_SHARED anonymous mapping made before the fork:
// a control line holding the phase (written by the parent only) and one slot per client
// (written by that client only; see Histogram for why that needs no locked instruction).
// A client reads the phase once per request: a line that changes four times per run stays
// in its cache.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tools/bench/histogram.h"

namespace ringdb::bench {

enum class Phase : int { kSetup = 0, kWarmup = 1, kMeasure = 2, kStop = 3 };

inline uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

struct alignas(64) ClientSlot {
  Histogram histogram;
  std::atomic<uint64_t> errors{0};   // requests that ended in an unexpected status
  std::atomic<uint64_t> retries{0};  // counter: attempts aborted and retried (measured window)
  std::atomic<int> state{0};         // 0 setting up, 1 ready, 2 failed
  std::atomic<pid_t> peer_pid{0};    // a server process this client started (baselines)
  char error[256] = {};              // why it failed
};

struct alignas(64) Control {
  std::atomic<int> phase{0};
};

// A client's view of the run: whether to go on, and where its latencies go.
class Recorder {
 public:
  Recorder(const Control* control, ClientSlot* slot) : control_(control), slot_(slot) {}

  Phase phase() const {
    return static_cast<Phase>(control_->phase.load(std::memory_order_acquire));
  }
  bool running() const { return phase() != Phase::kStop; }
  // Records a request that took end_ns - start_ns, if the measurement window is open.
  void record(uint64_t start_ns, uint64_t end_ns) {
    if (phase() == Phase::kMeasure) slot_->histogram.record(end_ns - start_ns);
  }
  void error() { slot_->errors.fetch_add(1, std::memory_order_relaxed); }
  // An attempt aborted and retried (counted in the measurement window only).
  void retry() {
    if (phase() == Phase::kMeasure) slot_->retries.fetch_add(1, std::memory_order_relaxed);
  }
  // Tells the parent that set-up is done; then waits for the warm-up to start. False if the
  // run was stopped instead.
  bool ready_and_wait();
  // Reports a failure (set-up or a broken connection); the client should then return 1.
  void fail(const std::string& why);
  void set_peer_pid(pid_t pid) { slot_->peer_pid.store(pid, std::memory_order_release); }

 private:
  const Control* control_;
  ClientSlot* slot_;
};

// Runs in each forked client: index 0..clients-1. Returns the process's exit code.
using ClientBody = std::function<int(int index, Recorder& recorder)>;

struct RunSpec {
  std::string system;  // "ringdb", "redis", "shm-floor", "unix-socket"
  int clients = 1;
  double warmup_s = 1;
  double duration_s = 5;
  bool quiet = false;
  std::vector<int> client_cpus;    // pin client i to client_cpus[i % size]; empty: no pinning
  std::vector<pid_t> server_pids;  // the daemon side (besides the clients' peer_pids)
};

struct RunResult {
  bool ok = false;
  std::string error;
  HistogramCounts histogram;
  double measured_s = 0;
  uint64_t errors = 0;
  uint64_t retries = 0;
  uint64_t client_switches = 0;  // over the window, all clients
  uint64_t server_switches = 0;  // over the window, the daemon side
  uint64_t server_cpu_ns = 0;    // utime + stime of the daemon side over the window
  uint64_t worker_cpu_ns = 0;    // of ringdbd's worker threads alone (0 for other servers)

  double ops_per_s() const {
    return measured_s > 0 ? static_cast<double>(histogram.count) / measured_s : 0;
  }
};

// Forks spec.clients processes running `body`, measures, and collects. Every client has
// exited when it returns.
RunResult run_clients(const RunSpec& spec, const ClientBody& body);

}  // namespace ringdb::bench
