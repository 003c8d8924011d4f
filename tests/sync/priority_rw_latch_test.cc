// PriorityRwLatch semantics (exclusion, try-lock results, guards, reservation) and stress
// tests: many threads of both priorities with invariants checked on shared data; every
// blocked thread must eventually run (a lost wake-up hangs the test into its timeout).
#include "sync/priority_rw_latch.h"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "tests/support/seed.h"
#include "tests/sync/test_util.h"

namespace ringdb::sync {
namespace {

using test::busy_work;
using test::wait_until;

// Runs `fn` on another thread and returns its result.
template <typename Fn>
auto on_other_thread(Fn fn) {
  decltype(fn()) result{};
  std::thread t([&] { result = fn(); });
  t.join();
  return result;
}

TEST_CASE("PriorityRwLatch: try_lock and try_lock_shared succeed on a free latch") {
  PriorityRwLatch latch;
  REQUIRE(latch.try_lock());
  CHECK(latch.is_locked_exclusive());
  latch.unlock();
  REQUIRE(latch.try_lock_shared());
  CHECK(latch.shared_holders() == 1);
  latch.unlock_shared();
  REQUIRE(latch.try_lock(Priority::kHigh));
  latch.unlock();
  REQUIRE(latch.try_lock_shared(Priority::kHigh));
  latch.unlock_shared();
}

TEST_CASE("PriorityRwLatch: shared holders coexist") {
  PriorityRwLatch latch;
  latch.lock_shared();
  CHECK(on_other_thread([&] {
    if (!latch.try_lock_shared()) return false;
    latch.unlock_shared();
    return true;
  }));
  CHECK(on_other_thread([&] {
    latch.lock_shared(Priority::kHigh);  // must not block
    const bool both = latch.shared_holders() == 2;
    latch.unlock_shared();
    return both;
  }));
  latch.unlock_shared();
  CHECK(latch.shared_holders() == 0);
}

TEST_CASE("PriorityRwLatch: X excludes S and X at both priorities") {
  PriorityRwLatch latch;
  latch.lock();
  for (Priority p : {Priority::kRegular, Priority::kHigh}) {
    CHECK_FALSE(on_other_thread([&] { return latch.try_lock_shared(p); }));
    CHECK_FALSE(on_other_thread([&] { return latch.try_lock(p); }));
  }
  latch.unlock();
  CHECK(latch.try_lock());
  latch.unlock();
}

TEST_CASE("PriorityRwLatch: S excludes X") {
  PriorityRwLatch latch;
  latch.lock_shared();
  CHECK_FALSE(on_other_thread([&] { return latch.try_lock(); }));
  CHECK_FALSE(on_other_thread([&] { return latch.try_lock(Priority::kHigh); }));
  latch.unlock_shared();
}

TEST_CASE("PriorityRwLatch: guards release at the end of their scope") {
  PriorityRwLatch latch;
  {
    ExclusiveGuard guard(latch, Priority::kHigh);
    CHECK(latch.is_locked_exclusive());
  }
  CHECK_FALSE(latch.is_locked_exclusive());
  {
    SharedGuard a(latch);
    SharedGuard b(latch, Priority::kHigh);
    CHECK(latch.shared_holders() == 2);
  }
  CHECK(latch.shared_holders() == 0);
}

TEST_CASE("PriorityRwLatch: works with std::unique_lock and std::shared_lock") {
  PriorityRwLatch latch;
  {
    std::unique_lock<PriorityRwLatch> lock(latch);
    CHECK(latch.is_locked_exclusive());
  }
  {
    std::shared_lock<PriorityRwLatch> lock(latch);
    CHECK(latch.shared_holders() == 1);
  }
  CHECK(latch.try_lock());
  latch.unlock();
}

TEST_CASE("PriorityRwLatch: an X request reserves the latch and blocks new S at both priorities") {
  PriorityRwLatch latch;
  latch.lock_shared();
  std::atomic<bool> writer_done{false};
  std::thread writer([&] {
    latch.lock();
    latch.unlock();
    writer_done = true;
  });
  wait_until([&] { return latch.has_next_writer(); }, "the writer reserved the latch");
  CHECK_FALSE(on_other_thread([&] { return latch.try_lock_shared(); }));
  CHECK_FALSE(on_other_thread([&] { return latch.try_lock_shared(Priority::kHigh); }));
  CHECK_FALSE(writer_done.load());
  latch.unlock_shared();  // the last S holder leaves: the writer gets X
  writer.join();
  CHECK(writer_done.load());
  CHECK(latch.try_lock_shared());
  latch.unlock_shared();
}

TEST_CASE("PriorityRwLatch: a sleeping next-writer is granted when the last S holder leaves") {
  PriorityRwLatch latch;
  latch.lock_shared();
  latch.lock_shared();  // two holders (the latch does not track owners)
  std::atomic<bool> writer_done{false};
  std::thread writer([&] {
    latch.lock();
    writer_done = true;
    latch.unlock();
  });
  wait_until([&] { return latch.waiters().next_writer == 1; }, "the next-writer sleeps");
  latch.unlock_shared();
  CHECK_FALSE(writer_done.load());  // one S holder remains
  CHECK(latch.waiters().next_writer == 1);
  latch.unlock_shared();
  writer.join();
  CHECK(writer_done.load());
  CHECK(latch.waiters().next_writer == 0);
}

TEST_CASE("PriorityRwLatch: sleeping S and X waiters all run after a long X hold") {
  PriorityRwLatch latch;
  latch.lock();
  constexpr int kThreads = 6;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const Priority p = (i % 3 == 0) ? Priority::kHigh : Priority::kRegular;
      if (i % 2 == 0) {
        latch.lock(p);
        latch.unlock();
      } else {
        latch.lock_shared(p);
        latch.unlock_shared();
      }
      done.fetch_add(1);
    });
  }
  wait_until(
      [&] {
        LatchWaiters w = latch.waiters();
        return w.high_x + w.high_s + w.regular == kThreads;
      },
      "every thread sleeps");
  CHECK(done.load() == 0);
  latch.unlock();
  for (auto& t : threads)
    t.join();
  CHECK(done.load() == kThreads);
  LatchWaiters w = latch.waiters();
  CHECK(w.high_x + w.high_s + w.regular + w.next_writer == 0);
  CHECK_FALSE(latch.has_high_priority_waiters());
}

// Shared data for the stress tests: written only under X, read under S.
struct Guarded {
  uint64_t a = 0;
  uint64_t b = 0;  // a == b whenever nobody holds X
  bool writer_inside = false;
};

void stress(unsigned seed, int threads, int iterations, int high_percent) {
  PriorityRwLatch latch;
  Guarded data;
  std::atomic<int> readers_inside{0};
  std::atomic<uint64_t> writes{0};
  std::atomic<uint64_t> violations{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937 rng(seed + static_cast<unsigned>(t));
      std::uniform_int_distribution<int> percent(0, 99);
      for (int i = 0; i < iterations; ++i) {
        const Priority p = percent(rng) < high_percent ? Priority::kHigh : Priority::kRegular;
        const int kind = percent(rng);
        if (kind < 30) {
          latch.lock(p);
          if (data.writer_inside || readers_inside.load() != 0) violations.fetch_add(1);
          data.writer_inside = true;
          ++data.a;
          busy_work(static_cast<unsigned>(percent(rng)));
          ++data.b;
          data.writer_inside = false;
          writes.fetch_add(1);
          latch.unlock();
        } else if (kind < 35 && latch.try_lock(p)) {
          if (data.writer_inside || readers_inside.load() != 0) violations.fetch_add(1);
          ++data.a;
          ++data.b;
          writes.fetch_add(1);
          latch.unlock();
        } else {
          const bool held = kind < 40 ? latch.try_lock_shared(p) : (latch.lock_shared(p), true);
          if (!held) continue;
          readers_inside.fetch_add(1);
          if (data.writer_inside || data.a != data.b) violations.fetch_add(1);
          busy_work(static_cast<unsigned>(percent(rng)));
          readers_inside.fetch_sub(1);
          latch.unlock_shared();
        }
      }
    });
  }
  for (auto& t : pool)
    t.join();
  CHECK(violations.load() == 0);
  CHECK(data.a == writes.load());  // no lost update
  CHECK(data.b == writes.load());
  LatchWaiters w = latch.waiters();
  CHECK(w.high_x + w.high_s + w.regular + w.next_writer == 0);
  CHECK(latch.shared_holders() == 0);
  CHECK_FALSE(latch.is_locked_exclusive());
}

using ringdb::test::test_seed;

TEST_CASE("PriorityRwLatch stress: regular threads, mixed S and X") {
  const unsigned seed = test_seed("priority_rw_latch stress");
  INFO("seed=" << seed);
  stress(seed, 8, 20000, 0);
}

TEST_CASE("PriorityRwLatch stress: both priorities, mixed S and X") {
  const unsigned seed = test_seed("priority_rw_latch stress");
  INFO("seed=" << seed);
  stress(seed, 8, 20000, 20);
}

TEST_CASE("PriorityRwLatch stress: high priority only") {
  const unsigned seed = test_seed("priority_rw_latch stress");
  INFO("seed=" << seed);
  stress(seed, 6, 10000, 100);
}

}  // namespace
}  // namespace ringdb::sync
