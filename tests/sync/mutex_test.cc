// Mutex: try_lock results, is_locked, MutexGuard and the std lock adaptors, mutual exclusion
// and no lost update under stress, no lost wake-up for sleeping lockers (both for Mutex and for
// WordMutex, its 4-byte form), no sleeper left behind by uncontended use, and the statistics a
// Mutex records into a LatchStats.
// Threads reach a point by polling what the API shows (sleepers(), atomics), never by sleeping.
#include "sync/mutex.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "sync/latch_stats.h"
#include "tests/sync/test_util.h"

namespace ringdb::sync {
namespace {

using test::wait_until;

// Result of mu.try_lock() from a new thread (released again if it succeeded).
bool try_lock_from_other_thread(Mutex& mu) {
  std::atomic<bool> acquired{false};
  std::thread([&] {
    if (mu.try_lock()) {
      acquired.store(true);
      mu.unlock();
    }
  }).join();
  return acquired.load();
}

// Threads running one body each. join() waits for them with a deadline: a latch that loses a
// wake-up leaves a thread asleep for good, and since threads blocked on a latch in the test's
// frame cannot be abandoned, join() then reports the failure and aborts rather than hang.
class Workers {
 public:
  Workers() = default;
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;
  ~Workers() { join(); }

  template <typename Body>
  void start(int n, Body body) {
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this, body, i] {
        body(i);
        finished_.fetch_add(1);
      });
    }
  }

  void join() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (finished_.load() < threads_.size()) {
      if (std::chrono::steady_clock::now() > deadline) {
        FAIL_CHECK((threads_.size() - finished_.load()) << " threads still blocked after 60 s");
        std::abort();
      }
      std::this_thread::yield();
    }
    for (auto& t : threads_)
      t.join();
    threads_.clear();
    finished_.store(0);
  }

 private:
  std::vector<std::thread> threads_;
  std::atomic<size_t> finished_{0};
};

TEST_CASE("Mutex: a new mutex is unlocked and has no sleepers") {
  Mutex mu;
  CHECK_FALSE(mu.is_locked());
  CHECK(mu.sleepers() == 0);
}

TEST_CASE("Mutex: try_lock succeeds when free") {
  Mutex mu;
  REQUIRE(mu.try_lock());
  CHECK(mu.is_locked());
  mu.unlock();
  CHECK_FALSE(mu.is_locked());
}

TEST_CASE("Mutex: try_lock fails while held") {
  Mutex mu;
  mu.lock();
  CHECK_FALSE(mu.try_lock());
  CHECK(mu.is_locked());
  mu.unlock();
}

TEST_CASE("Mutex: try_lock fails while another thread holds it") {
  Mutex mu;
  mu.lock();
  CHECK_FALSE(try_lock_from_other_thread(mu));
  mu.unlock();
}

TEST_CASE("Mutex: try_lock succeeds in another thread once released") {
  Mutex mu;
  mu.lock();
  mu.unlock();
  CHECK(try_lock_from_other_thread(mu));
  CHECK_FALSE(mu.is_locked());
}

TEST_CASE("Mutex: a process-shared mutex locks and unlocks in one process") {
  Mutex mu(Sharing::kProcessShared);
  mu.lock();
  CHECK(mu.is_locked());
  CHECK_FALSE(mu.try_lock());
  mu.unlock();
  CHECK_FALSE(mu.is_locked());
}

TEST_CASE("Mutex: MutexGuard unlocks at the end of its scope") {
  Mutex mu;
  {
    MutexGuard guard(mu);
    CHECK(mu.is_locked());
  }
  CHECK_FALSE(mu.is_locked());
}

TEST_CASE("Mutex: works with std::lock_guard") {
  Mutex mu;
  {
    std::lock_guard<Mutex> guard(mu);
    CHECK(mu.is_locked());
  }
  CHECK_FALSE(mu.is_locked());
}

TEST_CASE("Mutex: works with std::unique_lock") {
  Mutex mu;
  {
    std::unique_lock<Mutex> lock(mu);
    CHECK(mu.is_locked());
    lock.unlock();
    CHECK_FALSE(mu.is_locked());
    lock.lock();
    CHECK(mu.is_locked());
  }
  CHECK_FALSE(mu.is_locked());
  {
    std::unique_lock<Mutex> held(mu);
    std::unique_lock<Mutex> other(mu, std::try_to_lock);
    CHECK_FALSE(other.owns_lock());
  }
  std::unique_lock<Mutex> lock(mu, std::try_to_lock);
  CHECK(lock.owns_lock());
}

TEST_CASE("Mutex: uncontended use registers no sleeper") {
  Mutex mu;
  uint32_t sleepers_max = 0;
  for (int i = 0; i < 1000; ++i) {
    mu.lock();
    sleepers_max = std::max(sleepers_max, mu.sleepers());
    mu.unlock();
    if (mu.try_lock()) mu.unlock();
  }
  CHECK(sleepers_max == 0);
  CHECK(mu.sleepers() == 0);
  CHECK_FALSE(mu.is_locked());
}

TEST_CASE_TEMPLATE("Mutex stress: one holder at a time and no lost update", M, Mutex, WordMutex) {
  constexpr int kThreads = 8;
  constexpr int kIterations = 12500;
  M mu;
  uint64_t counter = 0;  // plain: only the mutex orders the increments
  bool inside = false;   // plain: set while a thread is in the critical section
  std::atomic<int> overlaps{0};
  std::atomic<int> started{0};
  Workers workers;
  workers.start(kThreads, [&](int) {
    // Start together, so that the threads contend rather than run one after another.
    started.fetch_add(1);
    wait_until([&] { return started.load() == kThreads; }, "every thread started");
    for (int i = 0; i < kIterations; ++i) {
      MutexGuard guard(mu);
      if (inside) overlaps.fetch_add(1);
      inside = true;
      ++counter;
      test::busy_work(static_cast<unsigned>(i % 32));
      // Now and then give up the CPU while holding the mutex: with more threads than cores
      // the others then exhaust their spinning and sleep, so the futex path is exercised too.
      if (i % 64 == 0) std::this_thread::yield();
      inside = false;
    }
  });
  workers.join();
  CHECK(overlaps.load() == 0);
  CHECK(counter == uint64_t{kThreads} * kIterations);
  CHECK(mu.sleepers() == 0);
  CHECK_FALSE(mu.is_locked());
}

TEST_CASE("Mutex stress: try_lock and lock mixed keep exclusion") {
  constexpr int kThreads = 4;
  constexpr int kIterations = 10000;
  Mutex mu;
  uint64_t counter = 0;
  std::atomic<uint64_t> acquisitions{0};
  std::atomic<int> started{0};
  Workers workers;
  workers.start(kThreads, [&](int t) {
    started.fetch_add(1);
    wait_until([&] { return started.load() == kThreads; }, "every thread started");
    for (int i = 0; i < kIterations; ++i) {
      if ((i + t) % 2 == 0) {
        if (!mu.try_lock()) continue;
      } else {
        mu.lock();
      }
      ++counter;
      acquisitions.fetch_add(1, std::memory_order_relaxed);
      if (i % 64 == 0) std::this_thread::yield();  // let the lock() callers sleep
      mu.unlock();
    }
  });
  workers.join();
  CHECK(counter == acquisitions.load());
  CHECK(counter >= uint64_t{kThreads} * kIterations / 2);  // every lock() succeeded
  CHECK(mu.sleepers() == 0);
}

TEST_CASE_TEMPLATE("Mutex: every sleeping locker runs after the holder releases (no lost wake-up)",
                   M, Mutex, WordMutex) {
  constexpr uint32_t kSleepers = 6;
  M mu;
  std::atomic<uint32_t> done{0};
  mu.lock();
  Workers workers;
  workers.start(static_cast<int>(kSleepers), [&](int) {
    mu.lock();
    done.fetch_add(1);
    mu.unlock();
  });
  wait_until([&] { return mu.sleepers() >= kSleepers; }, "every locker sleeps");
  CHECK(done.load() == 0);
  mu.unlock();
  workers.join();
  CHECK(done.load() == kSleepers);
  CHECK(mu.sleepers() == 0);
  CHECK_FALSE(mu.is_locked());
}

TEST_CASE("Mutex statistics: acquisitions are counted exactly in one thread") {
  LatchStats stats("test.mutex.acquisitions");
  Mutex mu(&stats);
  for (int i = 0; i < 10; ++i) {
    mu.lock();
    mu.unlock();
  }
  REQUIRE(mu.try_lock());
  CHECK_FALSE(mu.try_lock());  // a failed try_lock is no acquisition
  mu.unlock();
  const LatchStatsSnapshot s = stats.snapshot();
  CHECK(s.acquisitions == 11);
  CHECK(s.contended == 0);
  CHECK(s.wait.count == 0);
}

TEST_CASE("Mutex statistics: an acquisition that had to sleep counts as contended") {
  LatchStats stats("test.mutex.contended");
  Mutex mu(&stats);
  mu.lock();
  Workers locker;
  locker.start(1, [&](int) {
    mu.lock();
    mu.unlock();
  });
  wait_until([&] { return mu.sleepers() >= 1; }, "the locker sleeps");
  mu.unlock();
  locker.join();
  const LatchStatsSnapshot s = stats.snapshot();
  CHECK(s.acquisitions == 2);
  CHECK(s.contended == 1);
  CHECK(s.wait.count == 1);
  CHECK(s.wait.max_ns > 0);
  CHECK(s.contended_share() == doctest::Approx(0.5));
}

TEST_CASE("Mutex statistics: every release records its hold time") {
  constexpr int64_t kHoldMinNs = 100'000;
  LatchStats stats("test.mutex.hold");
  Mutex mu(&stats);
  mu.lock();
  mu.unlock();
  mu.lock();
  // Hold it for a known minimum: watch the clock, not a sleep (no other thread is involved).
  const int64_t start_ns = now_ns();
  while (now_ns() - start_ns < kHoldMinNs) {
  }
  mu.unlock();
  const LatchStatsSnapshot s = stats.snapshot();
  CHECK(s.hold.count == 2);
  CHECK(s.hold.max_ns >= kHoldMinNs);
  CHECK(s.hold.total_ns >= kHoldMinNs);
}

}  // namespace
}  // namespace ringdb::sync
