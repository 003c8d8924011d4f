// The process driver: fork, phases, progress, collection.
#include "tools/bench/driver.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <thread>

#include "tools/bench/proc_stats.h"

namespace ringdb::bench {
namespace {

constexpr double kSetupTimeout_s = 60;  // connecting, forking a baseline's server
constexpr double kExitTimeout_s = 15;   // draining in-flight requests after the stop

void sleep_s(double s) {
  if (s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

double seconds_since(uint64_t start_ns) {
  return static_cast<double>(now_ns() - start_ns) / 1e9;
}

// The shared mapping: Control, then the slots.
struct Shared {
  Control* control = nullptr;
  ClientSlot* slots = nullptr;
  size_t bytes = 0;

  bool map(int clients) {
    bytes = sizeof(Control) + sizeof(ClientSlot) * static_cast<size_t>(clients);
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    control = new (p) Control;
    slots = reinterpret_cast<ClientSlot*>(static_cast<char*>(p) + sizeof(Control));
    for (int i = 0; i < clients; ++i)
      new (&slots[i]) ClientSlot;
    return true;
  }
  ~Shared() {
    if (control != nullptr) munmap(control, bytes);
  }
};

struct Children {
  std::vector<pid_t> pids;
  std::vector<bool> reaped;
  std::vector<int> status;

  // Reaps those that exited; returns the index of one that failed, or -1.
  int poll_failed() {
    for (size_t i = 0; i < pids.size(); ++i) {
      if (reaped[i]) continue;
      int st = 0;
      if (waitpid(pids[i], &st, WNOHANG) == pids[i]) {
        reaped[i] = true;
        status[i] = st;
      }
      if (reaped[i] && !(WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 0)) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }
  bool all_reaped() const {
    return std::all_of(reaped.begin(), reaped.end(), [](bool r) { return r; });
  }
  void kill_all() {
    for (size_t i = 0; i < pids.size(); ++i) {
      if (!reaped[i]) kill(pids[i], SIGKILL);
    }
  }
};

struct Counters {
  uint64_t client_switches = 0;
  uint64_t server_switches = 0;
  uint64_t server_cpu_ns = 0;
  uint64_t worker_cpu_ns = 0;
};

Counters read_counters(const Children& children, const Shared& shared, int clients,
                       const std::vector<pid_t>& server_pids) {
  Counters c;
  for (pid_t pid : children.pids)
    c.client_switches += read_process_counters(pid).switches();
  std::vector<pid_t> servers = server_pids;
  for (int i = 0; i < clients; ++i) {
    pid_t peer = shared.slots[i].peer_pid.load(std::memory_order_acquire);
    if (peer > 0) servers.push_back(peer);
  }
  for (pid_t pid : servers) {
    ProcessCounters p = read_process_counters(pid);
    c.server_switches += p.switches();
    c.server_cpu_ns += p.cpu_ns;
    c.worker_cpu_ns += p.worker_cpu_ns;
  }
  return c;
}

HistogramCounts merged(const Shared& shared, int clients) {
  HistogramCounts all;
  auto one = std::make_unique<HistogramCounts>();
  for (int i = 0; i < clients; ++i) {
    shared.slots[i].histogram.snapshot(one.get());
    all.add(*one);
  }
  return all;
}

std::string failure_of(const Shared& shared, const Children& children, int index) {
  std::string why(shared.slots[index].error);
  if (why.empty()) {
    int st = children.status[static_cast<size_t>(index)];
    why = WIFSIGNALED(st) ? "killed by signal " + std::to_string(WTERMSIG(st))
                          : "exit code " + std::to_string(WEXITSTATUS(st));
  }
  return "client " + std::to_string(index) + ": " + why;
}

// Waits for every client to be ready; false (with *error) if one failed or time ran out.
bool wait_ready(const Shared& shared, Children& children, int clients, std::string* error) {
  uint64_t start = now_ns();
  for (;;) {
    int ready = 0;
    for (int i = 0; i < clients; ++i) {
      int st = shared.slots[i].state.load(std::memory_order_acquire);
      if (st == 2) {
        *error = "client " + std::to_string(i) + ": " + shared.slots[i].error;
        return false;
      }
      ready += st == 1;
    }
    if (ready == clients) return true;
    int failed = children.poll_failed();
    if (failed >= 0) {
      *error = failure_of(shared, children, failed);
      return false;
    }
    if (seconds_since(start) > kSetupTimeout_s) {
      *error = "clients not ready after " + std::to_string(kSetupTimeout_s) + " s";
      return false;
    }
    sleep_s(0.002);
  }
}

void reap_all(Children& children) {
  uint64_t start = now_ns();
  while (!children.all_reaped() && seconds_since(start) < kExitTimeout_s) {
    children.poll_failed();
    sleep_s(0.002);
  }
  if (!children.all_reaped()) {
    std::fprintf(stderr, "ringdb-bench: clients still running %.0f s after the stop: killed\n",
                 kExitTimeout_s);
    children.kill_all();
    for (size_t i = 0; i < children.pids.size(); ++i) {
      if (!children.reaped[i]) waitpid(children.pids[i], nullptr, 0);
    }
  }
}

void progress(const RunSpec& spec, double t_s, double dt_s, const HistogramCounts& delta) {
  std::fprintf(stderr, "  %-11s %5.1f s  %10.0f req/s  p99 %9.2f us\n", spec.system.c_str(), t_s,
               static_cast<double>(delta.count) / dt_s,
               static_cast<double>(delta.quantile_ns(0.99)) / 1e3);
}

// The measurement window with its progress lines; false (with *error) if a client died.
bool measure(const RunSpec& spec, const Shared& shared, Children& children, RunResult* r,
             uint64_t* start_out) {
  auto last = std::make_unique<HistogramCounts>();
  uint64_t start = now_ns();
  *start_out = start;
  shared.control->phase.store(static_cast<int>(Phase::kMeasure), std::memory_order_release);
  uint64_t last_ns = start;
  while (seconds_since(start) < spec.duration_s) {
    double left = spec.duration_s - seconds_since(start);
    sleep_s(std::min(1.0, left));
    int failed = children.poll_failed();
    if (failed >= 0) {
      r->error = failure_of(shared, children, failed);
      return false;
    }
    if (!spec.quiet) {
      auto now = std::make_unique<HistogramCounts>(merged(shared, spec.clients));
      uint64_t t = now_ns();
      progress(spec, seconds_since(start), static_cast<double>(t - last_ns) / 1e9,
               now->minus(*last));
      last = std::move(now);
      last_ns = t;
    }
  }
  return true;
}

}  // namespace

bool Recorder::ready_and_wait() {
  slot_->state.store(1, std::memory_order_release);
  while (phase() == Phase::kSetup)
    usleep(1000);
  return phase() != Phase::kStop;
}

void Recorder::fail(const std::string& why) {
  std::snprintf(slot_->error, sizeof slot_->error, "%s", why.c_str());
  slot_->state.store(2, std::memory_order_release);
}

RunResult run_clients(const RunSpec& spec, const ClientBody& body) {
  RunResult r;
  Shared shared;
  if (!shared.map(spec.clients)) {
    r.error = std::string("mmap: ") + std::strerror(errno);
    return r;
  }
  Children children;
  std::fflush(nullptr);  // nothing buffered may be written twice
  for (int i = 0; i < spec.clients; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // a killed benchmark leaves no client spinning
      if (!spec.client_cpus.empty()) {
        pin_to_cpu(spec.client_cpus[static_cast<size_t>(i) % spec.client_cpus.size()]);
      }
      Recorder recorder(shared.control, &shared.slots[i]);
      int code = body(i, recorder);
      std::fflush(nullptr);
      _exit(code);
    }
    if (pid < 0) {
      r.error = std::string("fork: ") + std::strerror(errno);
      break;
    }
    children.pids.push_back(pid);
    children.reaped.push_back(false);
    children.status.push_back(0);
  }
  Control& control = *shared.control;
  bool ok = r.error.empty() && wait_ready(shared, children, spec.clients, &r.error);
  if (ok) {
    control.phase.store(static_cast<int>(Phase::kWarmup), std::memory_order_release);
    sleep_s(spec.warmup_s);
    Counters before = read_counters(children, shared, spec.clients, spec.server_pids);
    uint64_t start = 0;
    ok = measure(spec, shared, children, &r, &start);
    Counters after = read_counters(children, shared, spec.clients, spec.server_pids);
    control.phase.store(static_cast<int>(Phase::kStop), std::memory_order_release);
    r.measured_s = seconds_since(start);
    r.client_switches = after.client_switches - before.client_switches;
    r.server_switches = after.server_switches - before.server_switches;
    r.server_cpu_ns = after.server_cpu_ns - before.server_cpu_ns;
    r.worker_cpu_ns = after.worker_cpu_ns - before.worker_cpu_ns;
  }
  control.phase.store(static_cast<int>(Phase::kStop), std::memory_order_release);
  reap_all(children);
  if (ok) {
    for (size_t i = 0; i < children.pids.size(); ++i) {
      int st = children.status[i];
      if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        r.error = failure_of(shared, children, static_cast<int>(i));
        ok = false;
        break;
      }
    }
  }
  r.histogram = merged(shared, spec.clients);
  for (int i = 0; i < spec.clients; ++i) {
    r.errors += shared.slots[i].errors.load();
    r.retries += shared.slots[i].retries.load();
  }
  r.ok = ok;
  return r;
}

}  // namespace ringdb::bench
