// PriorityRwLatch priorities: the order in which the five waiter classes are served, handoff
// to high-priority waiters, and starvation. A high-priority X is compared with a regular X in
// the same scenarios, so the difference is demonstrated rather than assumed:
//   - under a relay of overlapping regular S holds, both are granted with no S granted after
//     them (X reserves the latch whatever its priority): the reader flood starves neither;
//   - behind a crowd of regular S and X waiters, the high-priority X is handed the latch
//     before any of them, every time; a regular X has no such bound (overtakes are counted
//     and printed).
// Bounds are counts of grants, not times, so the tests do not depend on machine speed.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sync/priority_rw_latch.h"
#include "tests/sync/test_util.h"

namespace ringdb::sync {
namespace {

using test::wait_until;

enum class Mode { kShared, kExclusive };

// A thread that takes the latch, records when, and holds it until told to release.
class Acquirer {
 public:
  Acquirer(PriorityRwLatch& latch, Mode mode, Priority priority, std::atomic<int>& sequence)
      : thread_([this, &latch, mode, priority, &sequence] {
          if (mode == Mode::kExclusive) {
            latch.lock(priority);
          } else {
            latch.lock_shared(priority);
          }
          order_ = sequence.fetch_add(1);
          holders_at_grant_ = latch.shared_holders();
          acquired_.store(true, std::memory_order_release);
          wait_until([this] { return release_.load(); }, "told to release");
          if (mode == Mode::kExclusive) {
            latch.unlock();
          } else {
            latch.unlock_shared();
          }
        }) {}
  ~Acquirer() {
    release_ = true;
    thread_.join();
  }

  bool acquired() const { return acquired_.load(std::memory_order_acquire); }
  void wait_acquired(const char* what) const {
    wait_until([this] { return acquired(); }, what);
  }
  void release() { release_ = true; }
  uint32_t holders_at_grant() const { return holders_at_grant_; }

 private:
  std::atomic<bool> acquired_{false};
  std::atomic<bool> release_{false};
  int order_ = -1;
  uint32_t holders_at_grant_ = 0;
  std::thread thread_;  // last: starts after the fields above exist
};

TEST_CASE("Priority order: regular next-writer, then high X, then high S, then regular") {
  PriorityRwLatch latch;
  std::atomic<int> sequence{0};
  latch.lock_shared();

  Acquirer next_writer(latch, Mode::kExclusive, Priority::kRegular, sequence);
  wait_until([&] { return latch.waiters().next_writer == 1; }, "regular X sleeps as next-writer");
  CHECK_FALSE(latch.waiters().next_writer_high);
  Acquirer high_x(latch, Mode::kExclusive, Priority::kHigh, sequence);
  wait_until([&] { return latch.waiters().high_x == 1; }, "high X sleeps");
  Acquirer high_s(latch, Mode::kShared, Priority::kHigh, sequence);
  wait_until([&] { return latch.waiters().high_s == 1; }, "high S sleeps");
  Acquirer regular_s(latch, Mode::kShared, Priority::kRegular, sequence);
  wait_until([&] { return latch.waiters().regular == 1; }, "regular S sleeps");

  latch.unlock_shared();
  next_writer.wait_acquired("class 2: the regular next-writer");
  CHECK_FALSE(high_x.acquired());
  CHECK_FALSE(high_s.acquired());
  CHECK_FALSE(regular_s.acquired());

  next_writer.release();
  high_x.wait_acquired("class 3: the high-priority X");
  CHECK_FALSE(high_s.acquired());
  CHECK_FALSE(regular_s.acquired());

  high_x.release();
  high_s.wait_acquired("class 4: the high-priority S");
  regular_s.wait_acquired("class 5: the regular S, compatible with the high S");
  // The high S was granted before the regular S was even woken: it was counted among the
  // holders when the regular S got in.
  CHECK(regular_s.holders_at_grant() == 2);
}

TEST_CASE("Priority order: high next-writer, then high X, then a regular X that waited first") {
  PriorityRwLatch latch;
  std::atomic<int> sequence{0};
  latch.lock_shared();

  Acquirer next_writer(latch, Mode::kExclusive, Priority::kHigh, sequence);
  wait_until([&] { return latch.waiters().next_writer == 1; }, "high X sleeps as next-writer");
  CHECK(latch.waiters().next_writer_high);
  Acquirer regular_x(latch, Mode::kExclusive, Priority::kRegular, sequence);
  wait_until([&] { return latch.waiters().regular == 1; }, "regular X sleeps");
  Acquirer high_x(latch, Mode::kExclusive, Priority::kHigh, sequence);
  wait_until([&] { return latch.waiters().high_x == 1; }, "second high X sleeps");

  latch.unlock_shared();
  next_writer.wait_acquired("class 1: the high-priority next-writer");
  CHECK_FALSE(regular_x.acquired());
  CHECK_FALSE(high_x.acquired());

  next_writer.release();
  high_x.wait_acquired("class 3: high X, although it arrived after the regular X");
  CHECK_FALSE(regular_x.acquired());

  high_x.release();
  regular_x.wait_acquired("class 5: the regular X");
}

TEST_CASE("Priority order: high-priority X waiters are served in arrival order") {
  PriorityRwLatch latch;
  std::atomic<int> sequence{0};
  latch.lock();
  std::vector<std::unique_ptr<Acquirer>> waiters;
  for (uint32_t i = 0; i < 4; ++i) {
    waiters.push_back(
        std::make_unique<Acquirer>(latch, Mode::kExclusive, Priority::kHigh, sequence));
    wait_until([&] { return latch.waiters().high_x == i + 1; }, "the next high X sleeps");
  }
  latch.unlock();
  for (size_t i = 0; i < waiters.size(); ++i) {
    waiters[i]->wait_acquired("the next ticket");
    for (size_t j = i + 1; j < waiters.size(); ++j)
      CHECK_FALSE(waiters[j]->acquired());
    waiters[i]->release();
  }
}

TEST_CASE("Priority handoff: a high-priority X waiter gets the latch before anyone can take it") {
  PriorityRwLatch latch;
  std::atomic<int> sequence{0};
  for (int round = 0; round < 50; ++round) {
    latch.lock();
    Acquirer waiter(latch, Mode::kExclusive, Priority::kHigh, sequence);
    wait_until([&] { return latch.waiters().high_x == 1; }, "high X sleeps");
    latch.unlock();
    // The release handed X to the waiter in the same atomic step.
    CHECK_FALSE(latch.try_lock());
    CHECK_FALSE(latch.try_lock(Priority::kHigh));
    CHECK_FALSE(latch.try_lock_shared(Priority::kHigh));
    waiter.wait_acquired("the handed-off X");
  }
}

TEST_CASE("Priority handoff: a regular X waiter can be overtaken (no handoff, reported)") {
  PriorityRwLatch latch;
  std::atomic<int> sequence{0};
  int overtaken = 0;
  constexpr int kRounds = 50;
  for (int round = 0; round < kRounds; ++round) {
    latch.lock();
    Acquirer waiter(latch, Mode::kExclusive, Priority::kRegular, sequence);
    wait_until([&] { return latch.waiters().regular == 1; }, "regular X sleeps");
    latch.unlock();
    // Woken, not handed the latch: a newcomer may barge in first.
    if (latch.try_lock()) {
      ++overtaken;
      CHECK_FALSE(waiter.acquired());
      latch.unlock();
    }
    waiter.wait_acquired("the regular X");
  }
  MESSAGE("a sleeping regular X was overtaken in " << overtaken << " of " << kRounds
                                                   << " releases");
}

// A relay of two regular readers keeps S held without a gap: each takes its next S while the
// other still holds one, and lets go only when the other holds, or when the other is stuck
// behind an announced writer. A writer at `priority` takes X `rounds` times meanwhile.
// Invariant checked on every S grant: a reader that saw a writer's reservation before asking
// is granted only after that writer was granted X (and so after it released). Only the
// reservation counts as an announcement: it comes strictly before the writer's grant.
void relay_flood(Priority priority, int rounds) {
  PriorityRwLatch latch;
  std::atomic<bool> stop{false};
  std::array<std::atomic<bool>, 2> holding{};
  std::array<std::atomic<bool>, 2> requesting{};
  std::atomic<uint64_t> writer_grants{0};
  std::atomic<uint64_t> reservations_seen{0};
  std::atomic<uint64_t> grants{0};
  std::atomic<uint64_t> overlapping{0};
  std::atomic<uint64_t> overtakes{0};
  auto announced = [&] {
    return latch.has_next_writer() || latch.is_locked_exclusive() ||
           latch.has_high_priority_waiters();
  };

  auto reader = [&](size_t me) {
    const size_t other = 1 - me;
    while (!stop.load()) {
      const uint64_t writer_grants_before = writer_grants.load();
      const bool reserved = latch.has_next_writer();
      requesting[me] = true;
      latch.lock_shared();
      requesting[me] = false;
      if (reserved) {
        reservations_seen.fetch_add(1);
        if (writer_grants.load() == writer_grants_before) overtakes.fetch_add(1);
      }
      if (holding[other].load()) overlapping.fetch_add(1);
      holding[me] = true;
      grants.fetch_add(1);
      while (!holding[other].load() && !(requesting[other].load() && announced()) && !stop.load())
        std::this_thread::yield();
      holding[me] = false;
      latch.unlock_shared();
    }
  };
  std::thread r0(reader, 0);
  std::thread r1(reader, 1);

  for (int round = 0; round < rounds; ++round) {
    const uint64_t start = grants.load();
    wait_until([&] { return grants.load() >= start + 8; }, "the relay runs");
    latch.lock(priority);
    writer_grants.fetch_add(1);
    CHECK_FALSE(holding[0].load());
    CHECK_FALSE(holding[1].load());
    latch.unlock();
  }
  stop = true;
  r0.join();
  r1.join();

  MESSAGE("writer priority " << std::string(priority == Priority::kHigh ? "high" : "regular")
                             << ": " << rounds << " X grants amid " << grants.load()
                             << " S grants, " << overlapping.load()
                             << " of them overlapping another; " << reservations_seen.load()
                             << " asked after seeing a reservation");
  CHECK(overtakes.load() == 0);
  CHECK(overlapping.load() > 0);
}

TEST_CASE("Priority flood: a high-priority X is never overtaken by overlapping regular S") {
  relay_flood(Priority::kHigh, 200);
}

TEST_CASE("Priority flood: a regular X is not starved by readers either (it reserves too)") {
  relay_flood(Priority::kRegular, 200);
}

// A crowd of regular S and X threads hammers the latch; the probe asks for X once the crowd
// is asleep behind a held X. Returns how many crowd grants happened before the probe's.
uint64_t crowd_grants_before_probe(Priority probe_priority) {
  PriorityRwLatch latch;
  constexpr uint32_t kCrowd = 4;
  constexpr int kIterations = 200;
  std::atomic<uint64_t> crowd_grants{0};
  std::atomic<uint64_t> before_probe{~uint64_t{0}};

  latch.lock();
  std::vector<std::thread> crowd;
  for (uint32_t i = 0; i < kCrowd; ++i) {
    crowd.emplace_back([&, i] {
      for (int n = 0; n < kIterations; ++n) {
        if (i % 2 == 0) {
          latch.lock();
          crowd_grants.fetch_add(1);
          latch.unlock();
        } else {
          latch.lock_shared();
          crowd_grants.fetch_add(1);
          latch.unlock_shared();
        }
      }
    });
  }
  wait_until([&] { return latch.waiters().regular == kCrowd; }, "the crowd sleeps");
  std::thread probe([&] {
    latch.lock(probe_priority);
    before_probe = crowd_grants.load();
    latch.unlock();
  });
  if (probe_priority == Priority::kHigh) {
    wait_until([&] { return latch.waiters().high_x == 1; }, "the probe sleeps");
  } else {
    wait_until([&] { return latch.waiters().regular == kCrowd + 1; }, "the probe sleeps");
  }
  latch.unlock();
  probe.join();
  for (auto& t : crowd)
    t.join();
  CHECK(crowd_grants.load() == kCrowd * kIterations);
  return before_probe.load();
}

TEST_CASE("Priority crowd: a high-priority X goes before every regular waiter, every time") {
  for (int round = 0; round < 20; ++round) {
    CHECK(crowd_grants_before_probe(Priority::kHigh) == 0);
  }
}

TEST_CASE("Priority crowd: a regular X competes with the crowd (overtakes reported)") {
  uint64_t worst = 0;
  uint64_t total = 0;
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    const uint64_t overtaken = crowd_grants_before_probe(Priority::kRegular);
    worst = std::max(worst, overtaken);
    total += overtaken;
  }
  MESSAGE("a regular X in the crowd was overtaken by " << total / kRounds << " grants on average, "
                                                       << worst << " at worst (a high X: 0)");
}

}  // namespace
}  // namespace ringdb::sync
