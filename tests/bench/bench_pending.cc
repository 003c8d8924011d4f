// bench_pending: the latency of notify_io_complete — a completion thread posting "this request
// is done, with this status" to a worker — while the worker holds its own mutex for long
// stretches (executing a batch of requests), in the two designs of the seed
// (kv_engine MB-25822, ../shared/seeds/kv_engine-MB-25822-pending-io-mutex.txt):
//
//   Notify/own_mutex/HOLD_US    the pending set has its own mutex (daemon/service/pending_set.h)
//   Notify/worker_mutex/HOLD_US the pending set is guarded by the worker's main mutex, the
//                               design before the seed: a post waits for the worker's stretch
//
// The worker thread holds its mutex for HOLD_US, releases it, drains the set, and takes it
// again at once. The benchmark thread posts one completion per iteration and records how long
// the post took, then pauses 1-32 µs (uniformly random) so that posts land all over the
// worker's stretches. Counters: notify_p50_ns, notify_p99_ns, notify_max_ns.
//
// Run: build/tests/bench/bench_pending [--benchmark_format=json]
//      or meson test -C build --benchmark bench_pending (JSON)
// Figures and the machine: docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "daemon/service/pending_set.h"
#include "sync/latch_stats.h"
#include "sync/mutex.h"

namespace {

using ringdb::daemon::PendingSet;
using ringdb::daemon::wal::Completion;
using ringdb::daemon::wal::LogStatus;
using ringdb::sync::Mutex;
using ringdb::sync::MutexGuard;
using ringdb::sync::now_ns;

constexpr uint32_t kCapacity = 1 << 16;

void spin_for(int64_t ns) {
  const int64_t until = now_ns() + ns;
  while (now_ns() < until) {
  }
}

// The design the seed replaced: the pending list lives under the worker's main mutex.
class WorkerMutexPending {
 public:
  explicit WorkerMutexPending(Mutex& worker_mutex) : mu_(worker_mutex) {
    entries_.reserve(kCapacity);
  }
  bool post(uint64_t request, LogStatus status) {
    MutexGuard guard(mu_);
    if (entries_.size() >= kCapacity) return false;
    entries_.push_back(Completion{request, status});
    return true;
  }
  // The worker calls this while it holds the mutex already.
  void drain_locked(std::vector<Completion>* out) NO_THREAD_SAFETY_ANALYSIS {
    out->clear();
    entries_.swap(*out);
  }

 private:
  Mutex& mu_;
  std::vector<Completion> entries_;
};

template <bool kOwnMutex>
void BM_Notify(benchmark::State& state) {
  const int64_t hold_ns = state.range(0) * 1000;
  Mutex worker_mutex;
  PendingSet own(kCapacity, nullptr, [] {});
  WorkerMutexPending shared(worker_mutex);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> drained{0};
  std::thread worker([&] {
    std::vector<Completion> out;
    out.reserve(kCapacity);
    while (!stop.load(std::memory_order_relaxed)) {
      {
        MutexGuard guard(worker_mutex);
        spin_for(hold_ns);  // executing a batch of requests
        if constexpr (!kOwnMutex) shared.drain_locked(&out);
      }
      if constexpr (kOwnMutex) own.drain(&out);
      drained.fetch_add(out.size(), std::memory_order_relaxed);
    }
  });

  std::mt19937_64 rng(42);
  std::vector<int64_t> latencies;
  latencies.reserve(static_cast<size_t>(state.max_iterations));
  uint64_t request = 0;
  for (auto _ : state) {
    const int64_t start = now_ns();
    bool posted;
    if constexpr (kOwnMutex) {
      const Completion c{request, LogStatus::kOk};
      posted = own.post({&c, 1});
    } else {
      posted = shared.post(request, LogStatus::kOk);
    }
    latencies.push_back(now_ns() - start);
    if (!posted) state.SkipWithError("the pending set is full");
    ++request;
    state.PauseTiming();
    spin_for(1000 + static_cast<int64_t>(rng() % 31000));
    state.ResumeTiming();
  }
  stop = true;
  worker.join();

  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) {
    return static_cast<double>(
        latencies[static_cast<size_t>(q * static_cast<double>(latencies.size() - 1))]);
  };
  state.counters["notify_p50_ns"] = at(0.50);
  state.counters["notify_p99_ns"] = at(0.99);
  state.counters["notify_max_ns"] = static_cast<double>(latencies.back());
  state.counters["drained"] = static_cast<double>(drained.load());
}

BENCHMARK(BM_Notify<true>)
    ->Name("Notify/own_mutex")
    ->Arg(100)
    ->Arg(1000)
    ->Iterations(5000)
    ->UseRealTime();
// Fewer iterations: each post here waits milliseconds on average (sync::Mutex, like the
// pthread mutex of the seed, lets the worker take it back before a woken poster runs).
BENCHMARK(BM_Notify<false>)
    ->Name("Notify/worker_mutex")
    ->Arg(100)
    ->Arg(1000)
    ->Iterations(1000)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
