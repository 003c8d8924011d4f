// The pending set (daemon/service/pending_set.h): order and statuses, the capacity bound, when a
// post rings the worker, and a stress test of posters against a worker that sleeps on a real
// futex doorbell with the wake-up protocol (shm/doorbell.h): every completion delivered exactly
// once with its status, and no wake-up lost (a lost one hangs the test, which its timeout fails).
#include "daemon/service/pending_set.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <span>
#include <thread>
#include <vector>

#include "shm/doorbell.h"
#include "sync/mutex.h"

namespace ringdb::daemon {
namespace {

// The set carries any status word: the tests use plain numbers.
wal::Completion c(uint64_t request, uint32_t status, uint64_t lsn = wal::Completion::kNoLsn) {
  return wal::Completion{request, static_cast<wal::LogStatus>(status), lsn};
}
std::span<const wal::Completion> one(uint64_t request, uint32_t status,
                                     uint64_t lsn = wal::Completion::kNoLsn) {
  static thread_local wal::Completion single;
  single = c(request, status, lsn);
  return {&single, 1};
}
uint32_t code(const wal::Completion& completion) {
  return static_cast<uint32_t>(completion.status);
}

TEST_CASE("PendingSet: completions come out in posting order with their statuses") {
  PendingSet set(16, nullptr, [] {});
  CHECK_FALSE(set.maybe_nonempty());
  REQUIRE(set.post(one(7, 0)));
  const wal::Completion batch[] = {c(8, 2), c(9, 13)};
  REQUIRE(set.post(batch));
  CHECK(set.maybe_nonempty());
  std::vector<wal::Completion> out;
  set.drain(&out);
  REQUIRE(out.size() == 3);
  CHECK((out[0].request == 7 && code(out[0]) == 0));
  CHECK((out[1].request == 8 && code(out[1]) == 2));
  CHECK((out[2].request == 9 && code(out[2]) == 13));
  CHECK_FALSE(set.maybe_nonempty());
  set.drain(&out);
  CHECK(out.empty());
}

TEST_CASE("PendingSet: the oldest unapplied LSN covers posted and drained-unapplied entries") {
  PendingSet set(16, nullptr, [] {});
  CHECK(set.oldest_unapplied_lsn() == wal::Completion::kNoLsn);
  const wal::Completion batch[] = {c(1, 0, 300), c(2, 0, 200)};
  REQUIRE(set.post(batch));
  CHECK(set.oldest_unapplied_lsn() == 200);
  std::vector<wal::Completion> out;
  set.drain(&out);
  CHECK(set.oldest_unapplied_lsn() == 200);  // drained, not applied yet
  REQUIRE(set.post(one(3, 0, 500)));
  CHECK(set.oldest_unapplied_lsn() == 200);
  set.applied();
  CHECK(set.oldest_unapplied_lsn() == 500);
  set.drain(&out);
  set.applied();
  CHECK(set.oldest_unapplied_lsn() == wal::Completion::kNoLsn);
}

TEST_CASE("PendingSet: a post that does not fit fails whole; draining makes room") {
  PendingSet set(4, nullptr, [] {});
  const wal::Completion three[] = {c(1, 0), c(2, 0), c(3, 0)};
  REQUIRE(set.post(three));
  const wal::Completion two[] = {c(4, 0), c(5, 0)};
  CHECK_FALSE(set.post(two));  // nothing of it is posted
  REQUIRE(set.post(one(4, 0)));
  CHECK_FALSE(set.post(one(5, 0)));
  std::vector<wal::Completion> out;
  set.drain(&out);
  CHECK(out.size() == 4);
  CHECK(out.capacity() >= 4);
  CHECK(set.post(two));
}

TEST_CASE("PendingSet: a post rings the worker only when it says it sleeps") {
  std::atomic<uint32_t> sleeping{0};
  int rings = 0;
  PendingSet set(8, &sleeping, [&] { ++rings; });
  REQUIRE(set.post(one(1, 0)));
  CHECK(rings == 0);
  sleeping.store(1);
  REQUIRE(set.post(one(2, 0)));
  const wal::Completion batch[] = {c(3, 0), c(4, 0), c(5, 0)};
  REQUIRE(set.post(batch));
  CHECK(rings == 2);  // one per post, not per completion
  sleeping.store(0);
  REQUIRE(set.post(one(6, 0)));
  CHECK(rings == 2);
}

TEST_CASE("PendingSet: posts go through while the worker holds its own mutex") {
  // The seed's point: the worker's lock, held for a long stretch, is not the set's.
  sync::Mutex worker_mutex;
  PendingSet set(1024, nullptr, [] {});
  sync::MutexGuard busy(worker_mutex);
  std::thread poster([&] {
    for (uint32_t i = 0; i < 1000; ++i)
      REQUIRE(set.post(one(i, 0)));
  });
  poster.join();
  std::vector<wal::Completion> out;
  set.drain(&out);
  CHECK(out.size() == 1000);
}

TEST_CASE("PendingSet stress: posters and a sleeping worker; each completion once, none lost") {
  constexpr uint32_t kPosters = 3;
  constexpr uint32_t kPerPoster = 20000;
  constexpr uint32_t kCapacity = 64;  // small: posters meet a full set often
  shm::BoardWorker line{};
  shm::Doorbell bell{};
  std::atomic<uint64_t> rung{0};  // doorbell rings by the posters
  PendingSet set(kCapacity, &line.need_wakeup, [&] {
    shm::ring(bell);
    rung.fetch_add(1, std::memory_order_relaxed);
  });
  auto status_of = [](uint64_t request) { return static_cast<uint32_t>(request * 2654435761u); };

  std::vector<uint8_t> seen(size_t{kPosters} * kPerPoster, 0);
  uint64_t delivered = 0, duplicates = 0, wrong_status = 0, sleeps = 0;
  std::thread worker([&] {
    std::vector<wal::Completion> out;
    while (delivered < seen.size()) {
      set.drain(&out);
      for (const wal::Completion& c : out) {
        if (seen[c.request]++ != 0) ++duplicates;
        if (code(c) != status_of(c.request)) ++wrong_status;
        ++delivered;
      }
      if (!out.empty()) continue;
      // The worker's half of the wake-up protocol, as in Worker::Loop::sleep.
      const uint32_t b = shm::announce_sleep(line, bell);
      if (!set.maybe_nonempty()) {
        ++sleeps;
        shm::sleep(bell, b);
      }
      shm::end_sleep(line);
    }
  });
  std::vector<std::thread> posters;
  for (uint32_t p = 0; p < kPosters; ++p) {
    posters.emplace_back([&, p] {
      wal::Completion batch[4];
      for (uint32_t i = 0; i < kPerPoster;) {
        const uint32_t n = std::min<uint32_t>(1 + i % 4, kPerPoster - i);
        for (uint32_t j = 0; j < n; ++j) {
          const uint64_t request = uint64_t{p} * kPerPoster + i + j;
          batch[j] = c(request, status_of(request));
        }
        if (set.post(std::span(batch, n))) {
          i += n;
        } else {
          std::this_thread::yield();  // full: the worker drains it
        }
      }
    });
  }
  for (auto& t : posters)
    t.join();
  worker.join();
  CHECK(delivered == seen.size());
  CHECK(duplicates == 0);
  CHECK(wrong_status == 0);
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i] != 1) FAIL_CHECK("request " << i << " delivered " << int{seen[i]} << " times");
  }
  MESSAGE("worker slept " << sleeps << " times; posters rang " << rung.load() << " times");
}

}  // namespace
}  // namespace ringdb::daemon
