// Latch statistics: the log2 histogram and its percentiles, the registry of latch classes,
// the rate-limited slow-latch warning, and statistics recorded by PriorityRwLatch.
#include "sync/latch_stats.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "sync/priority_rw_latch.h"
#include "tests/sync/test_util.h"

namespace ringdb::sync {
namespace {

using namespace std::chrono_literals;

bool registered(const std::string& name) {
  for (const LatchStatsSnapshot& s : LatchRegistry::global().snapshot())
    if (s.name == name) return true;
  return false;
}

TEST_CASE("LogHistogram: an empty histogram reads as zeros") {
  LogHistogram h;
  const HistogramSummary s = h.summary();
  CHECK(s.count == 0);
  CHECK(s.p50_ns == 0);
  CHECK(s.p99_ns == 0);
  CHECK(s.max_ns == 0);
}

TEST_CASE("LogHistogram: percentiles are within a factor of 2, the maximum is exact") {
  LogHistogram h;
  for (int i = 0; i < 98; ++i)
    h.record(1000);  // bucket [512, 1024)... 1000 -> [512,1023]
  h.record(100'000);
  h.record(123'456);
  const HistogramSummary s = h.summary();
  CHECK(s.count == 100);
  CHECK(s.total_ns == 98 * 1000 + 100'000 + 123'456);
  CHECK(s.p50_ns >= 1000);
  CHECK(s.p50_ns < 2000);
  CHECK(s.p99_ns >= 100'000);
  CHECK(s.p99_ns < 200'000);
  CHECK(s.max_ns == 123'456);
  CHECK(h.quantile_ns(1.0) == 123'456);  // capped at the exact maximum
  h.reset();
  CHECK(h.summary().count == 0);
}

TEST_CASE("LogHistogram: zero and negative durations land in the first bucket") {
  LogHistogram h;
  h.record(0);
  h.record(-5);
  CHECK(h.summary().count == 2);
  CHECK(h.summary().max_ns == 0);
  CHECK(h.quantile_ns(0.5) == 0);
}

TEST_CASE("LatchRegistry: a LatchStats is listed while it lives") {
  {
    LatchStats stats("test.registry.alive");
    CHECK(registered("test.registry.alive"));
  }
  CHECK_FALSE(registered("test.registry.alive"));
}

TEST_CASE("LatchRegistry: top_contended orders by contended acquisitions") {
  LatchStats calm("test.top.calm");
  LatchStats busy("test.top.busy");
  LatchStats busiest("test.top.busiest");
  for (int i = 0; i < 3; ++i)
    busy.record_contended(100);
  for (int i = 0; i < 5; ++i)
    busiest.record_contended(100);
  calm.record_uncontended();
  const auto top = LatchRegistry::global().top_contended(2);
  REQUIRE(top.size() == 2);
  CHECK(top[0].name == "test.top.busiest");
  CHECK(top[0].contended == 5);
  CHECK(top[1].name == "test.top.busy");
  CHECK(top[0].contended_share() == doctest::Approx(1.0));
}

TEST_CASE("LatchStats: reset clears the counters") {
  LatchStats stats("test.reset");
  stats.record_contended(10);
  stats.record_hold(10);
  stats.reset();
  const LatchStatsSnapshot s = stats.snapshot();
  CHECK(s.acquisitions == 0);
  CHECK(s.contended == 0);
  CHECK(s.wait.count == 0);
  CHECK(s.hold.count == 0);
}

std::atomic<int> g_warnings{0};
std::atomic<uint64_t> g_suppressed_reported{0};

void counting_sink(const LatchWarning& w) {
  g_warnings.fetch_add(1);
  g_suppressed_reported.store(w.suppressed_since_last);
}

TEST_CASE("LatchStats: slow waits and holds warn at most once per interval") {
  g_warnings = 0;
  set_latch_warning_sink(&counting_sink);
  LatchStatsOptions options;
  options.wait_warn_threshold = 1ms;
  options.hold_warn_threshold = 1ms;
  options.warn_interval = std::chrono::hours(1);  // the test never reaches the next interval
  LatchStats stats("test.warn", options);
  stats.record_hold(500'000);  // under the threshold: no warning
  CHECK(g_warnings.load() == 0);
  for (int i = 0; i < 100; ++i)
    stats.record_hold(5'000'000);
  for (int i = 0; i < 10; ++i)
    stats.record_contended(5'000'000);
  CHECK(g_warnings.load() == 1);
  CHECK(stats.snapshot().warnings == 110);  // emitted + suppressed
  set_latch_warning_sink(nullptr);
}

TEST_CASE("LatchStats: the next warning reports how many were suppressed") {
  g_warnings = 0;
  set_latch_warning_sink(&counting_sink);
  LatchStatsOptions options;
  options.hold_warn_threshold = 1ms;
  options.warn_interval = 0ns;  // every warning may pass: the count since the last is reported
  LatchStats stats("test.warn.suppressed", options);
  stats.record_hold(5'000'000);
  stats.record_hold(5'000'000);
  CHECK(g_warnings.load() == 2);
  CHECK(g_suppressed_reported.load() == 0);
  set_latch_warning_sink(nullptr);
}

TEST_CASE("PriorityRwLatch: statistics record S and X acquisitions and holds") {
  LatchStats stats("test.latch");
  PriorityRwLatch latch(&stats);
  latch.lock_shared();
  latch.lock_shared(Priority::kHigh);
  latch.unlock_shared();
  latch.unlock_shared();
  latch.lock();
  latch.unlock();
  CHECK(latch.try_lock_shared());
  latch.unlock_shared();
  LatchStatsSnapshot s = stats.snapshot();
  CHECK(s.acquisitions == 4);
  CHECK(s.hold.count == 4);  // shared holds timed through the per-thread table
  CHECK(s.contended == 0);

  latch.lock();
  std::thread reader([&] {
    latch.lock_shared();
    latch.unlock_shared();
  });
  test::wait_until([&] { return latch.waiters().regular == 1; }, "the reader sleeps");
  latch.unlock();
  reader.join();
  s = stats.snapshot();
  CHECK(s.contended == 1);
  CHECK(s.wait.count == 1);
}

}  // namespace
}  // namespace ringdb::sync
