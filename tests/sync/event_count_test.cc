// EventCount (sync/event_count.h): a wait returns at once after a notify that followed its
// prepare_wait, times out when nothing comes, and, under stress, no wake-up is lost between a
// waiter's check of its condition and its sleep (a lost one hangs the test, which its timeout
// fails).
#include "sync/event_count.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace ringdb::sync {
namespace {

TEST_CASE("EventCount: a notify after prepare_wait makes the wait return at once") {
  EventCount ec;
  const EventCount::Key key = ec.prepare_wait();
  ec.notify_one();
  CHECK(ec.wait(key, std::chrono::seconds(60)));  // would time out (and fail) if lost
}

TEST_CASE("EventCount: a wait with nothing coming times out") {
  EventCount ec;
  const EventCount::Key key = ec.prepare_wait();
  CHECK_FALSE(ec.wait(key, std::chrono::milliseconds(1)));
}

TEST_CASE("EventCount stress: consumers sleep until items come; none is left behind") {
  constexpr int kConsumers = 3;
  constexpr uint64_t kItems = 200000;
  EventCount ec;
  std::atomic<uint64_t> produced{0};
  std::atomic<uint64_t> consumed{0};
  std::atomic<uint64_t> sleeps{0};
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&] {
      for (;;) {
        uint64_t taken = consumed.load();
        if (taken == kItems) return;
        if (taken < produced.load()) {
          consumed.compare_exchange_weak(taken, taken + 1);
          continue;
        }
        // The condition (an item to take) is checked after prepare_wait: a notify for an item
        // produced after the check makes the wait return.
        const EventCount::Key key = ec.prepare_wait();
        if (consumed.load() < produced.load() || consumed.load() == kItems) {
          ec.cancel_wait();
          continue;
        }
        sleeps.fetch_add(1, std::memory_order_relaxed);
        ec.wait(key);  // no timeout: a lost wake-up hangs here
      }
    });
  }
  std::thread producer([&] {
    for (uint64_t i = 0; i < kItems; ++i) {
      produced.fetch_add(1);
      ec.notify_one();
      if (i % 64 == 0) std::this_thread::yield();  // let consumers catch up and sleep
    }
    // The last items may be taken by one consumer while the others sleep: wake them all.
    while (consumed.load() < kItems)
      std::this_thread::yield();
    ec.notify_all();
  });
  producer.join();
  for (auto& t : consumers)
    t.join();
  CHECK(consumed.load() == kItems);
  MESSAGE("consumers slept " << sleeps.load() << " times");
}

}  // namespace
}  // namespace ringdb::sync
