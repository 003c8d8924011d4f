// bench_sync: sync/ latches side by side with the standard and POSIX ones, in one run.
//
//   Uncontended/*     one thread, lock+unlock: Mutex vs std::mutex; PriorityRwLatch S and X
//                     vs std::shared_mutex and pthread_rwlock_t; statistics off vs on.
//   Contended/*       2 and 4 threads on one lock, a short critical section; also a
//                     read-mostly mix (90% S, 10% X).
//   HighXWait/*       the wait of an X request amid a continuous flood of overlapping
//                     regular S holds (3 reader threads), as counters wait_p50_ns,
//                     wait_p99_ns, wait_max_ns (and censored, see below).
//
// Run: build/tests/bench/bench_sync [--benchmark_format=json]
//      or meson test -C build --benchmark bench_sync (JSON)
// Figures and the machine: docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "sync/latch_stats.h"
#include "sync/mutex.h"
#include "sync/priority_rw_latch.h"

namespace {

using ringdb::sync::LatchStats;
using ringdb::sync::Mutex;
using ringdb::sync::Priority;
using ringdb::sync::PriorityRwLatch;

// Uniform adapters: exclusive() and shared() lock, release_*() unlock.
template <Priority P = Priority::kRegular>
struct Latch {
  PriorityRwLatch latch;
  Latch() = default;
  explicit Latch(LatchStats* stats) : latch(stats) {}
  void exclusive() { latch.lock(P); }
  void release_exclusive() { latch.unlock(); }
  void shared() { latch.lock_shared(); }
  void release_shared() { latch.unlock_shared(); }
};

struct StdShared {
  std::shared_mutex mu;
  void exclusive() { mu.lock(); }
  void release_exclusive() { mu.unlock(); }
  void shared() { mu.lock_shared(); }
  void release_shared() { mu.unlock_shared(); }
};

template <bool kPreferWriter>
struct PthreadRw {
  pthread_rwlock_t rw;
  PthreadRw() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    if (kPreferWriter)
      pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&rw, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  ~PthreadRw() { pthread_rwlock_destroy(&rw); }
  void exclusive() { pthread_rwlock_wrlock(&rw); }
  void release_exclusive() { pthread_rwlock_unlock(&rw); }
  void shared() { pthread_rwlock_rdlock(&rw); }
  void release_shared() { pthread_rwlock_unlock(&rw); }
};

template <typename M>
struct Exclusive {
  M mu;
  Exclusive() = default;
  explicit Exclusive(LatchStats* stats) : mu(stats) {}
  void exclusive() { mu.lock(); }
  void release_exclusive() { mu.unlock(); }
};

LatchStats& bench_stats() {
  static LatchStats stats("bench.latch");
  return stats;
}

// ---- Uncontended ----------------------------------------------------------------------

template <typename L, bool kWithStats = false>
L& fresh_lock() {
  if constexpr (kWithStats) {
    static L lock(&bench_stats());
    return lock;
  } else {
    static L lock;
    return lock;
  }
}

template <typename L, bool kWithStats = false>
void BM_Uncontended_X(benchmark::State& state) {
  L& lock = fresh_lock<L, kWithStats>();
  for (auto _ : state) {
    lock.exclusive();
    benchmark::ClobberMemory();
    lock.release_exclusive();
  }
}

template <typename L, bool kWithStats = false>
void BM_Uncontended_S(benchmark::State& state) {
  L& lock = fresh_lock<L, kWithStats>();
  for (auto _ : state) {
    lock.shared();
    benchmark::ClobberMemory();
    lock.release_shared();
  }
}

BENCHMARK(BM_Uncontended_X<Exclusive<Mutex>>)->Name("Uncontended/Mutex");
BENCHMARK(BM_Uncontended_X<Exclusive<Mutex>, true>)->Name("Uncontended/Mutex_stats");
BENCHMARK(BM_Uncontended_X<Exclusive<std::mutex>>)->Name("Uncontended/std_mutex");
BENCHMARK(BM_Uncontended_S<Latch<>>)->Name("Uncontended/Latch_S");
BENCHMARK(BM_Uncontended_S<Latch<>, true>)->Name("Uncontended/Latch_S_stats");
BENCHMARK(BM_Uncontended_S<StdShared>)->Name("Uncontended/std_shared_mutex_S");
BENCHMARK(BM_Uncontended_S<PthreadRw<false>>)->Name("Uncontended/pthread_rwlock_S");
BENCHMARK(BM_Uncontended_X<Latch<>>)->Name("Uncontended/Latch_X");
BENCHMARK(BM_Uncontended_X<Latch<>, true>)->Name("Uncontended/Latch_X_stats");
BENCHMARK(BM_Uncontended_X<StdShared>)->Name("Uncontended/std_shared_mutex_X");
BENCHMARK(BM_Uncontended_X<PthreadRw<false>>)->Name("Uncontended/pthread_rwlock_X");

// ---- Contended ------------------------------------------------------------------------

// A critical section of a few dozen nanoseconds on data the lock protects.
struct Protected {
  alignas(64) uint64_t counter = 0;
};

inline void critical_section(Protected& p) {
  for (int i = 0; i < 8; ++i)
    benchmark::DoNotOptimize(++p.counter);
}

template <typename L, bool kWithStats = false>
void BM_Contended_X(benchmark::State& state) {
  L& lock = fresh_lock<L, kWithStats>();
  static Protected data;
  for (auto _ : state) {
    lock.exclusive();
    critical_section(data);
    lock.release_exclusive();
  }
}

// 90% shared holds that read, 10% exclusive holds that write.
template <typename L>
void BM_Contended_ReadMostly(benchmark::State& state) {
  L& lock = fresh_lock<L>();
  static Protected data;
  uint32_t n = static_cast<uint32_t>(state.thread_index()) * 7;
  for (auto _ : state) {
    if (++n % 10 == 0) {
      lock.exclusive();
      critical_section(data);
      lock.release_exclusive();
    } else {
      lock.shared();
      benchmark::DoNotOptimize(data.counter);
      lock.release_shared();
    }
  }
}

#define RINGDB_CONTENDED(fn, name) BENCHMARK(fn)->Name(name)->Threads(2)->Threads(4)->UseRealTime()

RINGDB_CONTENDED(BM_Contended_X<Exclusive<Mutex>>, "Contended/Mutex");
RINGDB_CONTENDED((BM_Contended_X<Exclusive<Mutex>, true>), "Contended/Mutex_stats");
RINGDB_CONTENDED(BM_Contended_X<Exclusive<std::mutex>>, "Contended/std_mutex");
RINGDB_CONTENDED(BM_Contended_X<Latch<>>, "Contended/Latch_X");
RINGDB_CONTENDED(BM_Contended_X<StdShared>, "Contended/std_shared_mutex_X");
RINGDB_CONTENDED(BM_Contended_X<PthreadRw<false>>, "Contended/pthread_rwlock_X");
RINGDB_CONTENDED(BM_Contended_ReadMostly<Latch<>>, "Contended/Latch_read_mostly");
RINGDB_CONTENDED(BM_Contended_ReadMostly<StdShared>, "Contended/std_shared_mutex_read_mostly");
RINGDB_CONTENDED(BM_Contended_ReadMostly<PthreadRw<false>>, "Contended/pthread_rwlock_read_mostly");

// ---- X wait under a reader flood -------------------------------------------------------

constexpr int kFloodReaders = 3;
// A writer starved this long makes the readers stand down until it gets in, only so that
// the benchmark terminates; such a wait is counted as censored (its true length is longer).
constexpr int64_t kStarvationCapNs = 20'000'000;

using ringdb::sync::now_ns;

template <typename L>
void BM_HighXWait(benchmark::State& state) {
  L lock;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> writer_waiting_since{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < kFloodReaders; ++r) {
    readers.emplace_back([&] {
      volatile uint64_t sink = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const int64_t since = writer_waiting_since.load(std::memory_order_relaxed);
        if (since != 0 && now_ns() - since > kStarvationCapNs) continue;  // stand down
        lock.shared();
        for (int i = 0; i < 100; ++i)
          sink = sink + 1;  // a few hundred ns inside
        lock.release_shared();
      }
    });
  }
  std::vector<int64_t> waits;
  waits.reserve(static_cast<size_t>(state.max_iterations));
  int64_t censored = 0;
  for (auto _ : state) {
    const int64_t start = now_ns();
    writer_waiting_since.store(start, std::memory_order_relaxed);
    lock.exclusive();
    const int64_t waited = now_ns() - start;
    writer_waiting_since.store(0, std::memory_order_relaxed);
    lock.release_exclusive();
    waits.push_back(waited);
    if (waited > kStarvationCapNs) ++censored;
    // Let the flood close in again before the next request.
    const int64_t pause_until = now_ns() + 20'000;
    while (now_ns() < pause_until) {
    }
  }
  stop = true;
  for (auto& t : readers)
    t.join();
  std::sort(waits.begin(), waits.end());
  auto at = [&](double q) {
    return static_cast<double>(
        waits[static_cast<size_t>(q * static_cast<double>(waits.size() - 1))]);
  };
  state.counters["wait_p50_ns"] = at(0.50);
  state.counters["wait_p99_ns"] = at(0.99);
  state.counters["wait_max_ns"] = static_cast<double>(waits.back());
  state.counters["censored"] = static_cast<double>(censored);
}

#define RINGDB_FLOOD(type, name) \
  BENCHMARK(BM_HighXWait<type>)->Name(name)->Iterations(2000)->UseRealTime()

RINGDB_FLOOD(Latch<Priority::kHigh>, "HighXWait/Latch_high");
RINGDB_FLOOD(Latch<Priority::kRegular>, "HighXWait/Latch_regular");
RINGDB_FLOOD(StdShared, "HighXWait/std_shared_mutex");
RINGDB_FLOOD(PthreadRw<false>, "HighXWait/pthread_rwlock_default");
RINGDB_FLOOD(PthreadRw<true>, "HighXWait/pthread_rwlock_prefer_writer");

}  // namespace

int main(int argc, char** argv) {
  // glibc skips atomic instructions in pthread_mutex_lock while the process has never had a
  // second thread (__libc_single_threaded). ringdbd always has many threads, so compare
  // under the same condition: start and join one thread before measuring anything.
  std::thread([] {}).join();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
