// Mutex: try_lock results, guards, std compatibility, exclusion and no lost update under
// stress, sleepers registered and all woken (no lost wake-up), and statistics.
#include "sync/mutex.h"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "sync/latch_stats.h"
#include "tests/sync/test_util.h"

namespace ringdb::sync {
namespace {

using test::wait_until;

TEST_CASE("Mutex: try_lock succeeds when free and fails while held, from any thread") {
  Mutex mu;
  REQUIRE(mu.try_lock());
  CHECK(mu.is_locked());
  CHECK_FALSE(mu.try_lock());
  bool other = true;
  std::thread([&] { other = mu.try_lock(); }).join();
  CHECK_FALSE(other);
  mu.unlock();
  CHECK_FALSE(mu.is_locked());
  std::thread([&] {
    other = mu.try_lock();
    if (other) mu.unlock();
  }).join();
  CHECK(other);
}

TEST_CASE("Mutex: MutexGuard unlocks at the end of its scope") {
  Mutex mu;
  {
    MutexGuard guard(mu);
    CHECK(mu.is_locked());
  }
  CHECK_FALSE(mu.is_locked());
}

TEST_CASE("Mutex: works with std::lock_guard and std::unique_lock") {
  Mutex mu;
  {
    std::lock_guard<Mutex> guard(mu);
    CHECK(mu.is_locked());
  }
  std::unique_lock<Mutex> lock(mu, std::try_to_lock);
  CHECK(lock.owns_lock());
}

TEST_CASE("Mutex: uncontended use registers no sleeper") {
  Mutex mu;
  for (int i = 0; i < 1000; ++i) {
    mu.lock();
    mu.unlock();
  }
  CHECK(mu.sleepers() == 0);
}

TEST_CASE("Mutex stress: exclusion and no lost update") {
  Mutex mu;
  uint64_t counter = 0;
  bool inside = false;
  std::atomic<int> violations{0};
  constexpr int kThreads = 8;
  constexpr int kIterations = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIterations; ++i) {
        MutexGuard guard(mu);
        if (inside) violations.fetch_add(1);
        inside = true;
        ++counter;
        test::busy_work(static_cast<unsigned>(i % 32));
        inside = false;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  CHECK(violations.load() == 0);
  CHECK(counter == uint64_t{kThreads} * kIterations);
  CHECK(mu.sleepers() == 0);
}

TEST_CASE("Mutex: every sleeping thread runs after the holder releases (no lost wake-up)") {
  Mutex mu;
  constexpr uint32_t kSleepers = 6;
  std::atomic<uint32_t> done{0};
  mu.lock();
  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < kSleepers; ++i) {
    threads.emplace_back([&] {
      mu.lock();
      done.fetch_add(1);
      mu.unlock();
    });
  }
  wait_until([&] { return mu.sleepers() == kSleepers; }, "every thread sleeps");
  CHECK(done.load() == 0);
  mu.unlock();
  for (auto& t : threads)
    t.join();
  CHECK(done.load() == kSleepers);
  CHECK(mu.sleepers() == 0);
}

TEST_CASE("Mutex: statistics count acquisitions, contention and holds") {
  LatchStats stats("test.mutex");
  Mutex mu(&stats);
  for (int i = 0; i < 10; ++i) {
    mu.lock();
    mu.unlock();
  }
  CHECK(mu.try_lock());
  mu.unlock();
  LatchStatsSnapshot s = stats.snapshot();
  CHECK(s.acquisitions == 11);
  CHECK(s.contended == 0);
  CHECK(s.hold.count == 11);

  // Force one contended acquisition: hold it until the other thread sleeps.
  mu.lock();
  std::thread waiter([&] {
    mu.lock();
    mu.unlock();
  });
  wait_until([&] { return mu.sleepers() == 1; }, "the waiter sleeps");
  mu.unlock();
  waiter.join();
  s = stats.snapshot();
  CHECK(s.acquisitions == 13);
  CHECK(s.contended == 1);
  CHECK(s.wait.count == 1);
  CHECK(s.wait.max_ns > 0);
  CHECK(s.hold.count == 13);
}

}  // namespace
}  // namespace ringdb::sync
