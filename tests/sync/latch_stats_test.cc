// Latch statistics: LogHistogram buckets and percentiles, the registry of latch classes and
// top_contended, reset, the rate-limited slow-latch warning and its sink, the per-thread
// table of shared-hold start times, and the statistics PriorityRwLatch records.
// The randomized percentile test prints its seed; RINGDB_TEST_SEED=<n> replays it.
#include "sync/latch_stats.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sync/priority_rw_latch.h"
#include "tests/support/seed.h"
#include "tests/sync/test_util.h"

namespace ringdb::sync {
namespace {

using namespace std::chrono_literals;

bool registered(const std::string& name) {
  for (const LatchStatsSnapshot& s : LatchRegistry::global().snapshot())
    if (s.name == name) return true;
  return false;
}

// Busy-waits (watching the clock, no other thread involved) so a hold has a known minimum.
void spin_for_ns(int64_t ns) {
  const int64_t start_ns = now_ns();
  while (now_ns() - start_ns < ns) {
  }
}

using ringdb::test::test_seed;

// ---- LogHistogram ----

TEST_CASE("LogHistogram: an empty histogram reads as zeros") {
  LogHistogram h;
  const HistogramSummary s = h.summary();
  CHECK(s.count == 0);
  CHECK(s.total_ns == 0);
  CHECK(s.p50_ns == 0);
  CHECK(s.p99_ns == 0);
  CHECK(s.max_ns == 0);
  CHECK(h.quantile_ns(0.0) == 0);
  CHECK(h.quantile_ns(1.0) == 0);
}

// The upper bound reported for the bucket holding `ns`: the minimum quantile, with a far
// larger value recorded so that the cap at the maximum does not hide the bucket.
int64_t bucket_upper_of(int64_t ns) {
  LogHistogram h;
  h.record(ns);
  h.record(int64_t{1} << 62);
  return h.quantile_ns(0.0);
}

TEST_CASE("LogHistogram: bucket b >= 1 holds [2^(b-1), 2^b)") {
  for (int b = 1; b <= 61; ++b) {
    CAPTURE(b);
    const int64_t lowest = int64_t{1} << (b - 1);
    const int64_t highest = (int64_t{1} << b) - 1;
    const int64_t upper = bucket_upper_of(lowest);
    CHECK(bucket_upper_of(highest) == upper);
    CHECK(upper >= highest);
    CHECK(upper <= highest + 1);
    CHECK(bucket_upper_of(highest + 1) > upper);  // the next bucket
  }
}

TEST_CASE("LogHistogram: zero and negative durations land in bucket 0") {
  LogHistogram h;
  h.record(0);
  h.record(-5);
  CHECK(h.summary().count == 2);
  CHECK(h.summary().max_ns == 0);
  CHECK(h.quantile_ns(0.5) == 0);
  CHECK(bucket_upper_of(0) == 0);
  CHECK(bucket_upper_of(1) > 0);
}

TEST_CASE("LogHistogram: the maximum and total are exact; the top quantile is the maximum") {
  LogHistogram h;
  for (int i = 0; i < 98; ++i)
    h.record(1000);
  h.record(100'000);
  h.record(123'456);
  const HistogramSummary s = h.summary();
  CHECK(s.count == 100);
  CHECK(s.total_ns == 98 * 1000 + 100'000 + 123'456);
  CHECK(s.max_ns == 123'456);
  CHECK(h.quantile_ns(1.0) == 123'456);
  CHECK(s.p50_ns >= 1000);
  CHECK(s.p50_ns < 2000);
  CHECK(s.p99_ns >= 100'000);
  CHECK(s.p99_ns < 200'000);
}

TEST_CASE("LogHistogram: percentiles of a uniform distribution are within a factor of 2") {
  constexpr int64_t kValues = 10000;
  constexpr int64_t kStepNs = 100;  // records 100 ns, 200 ns, ..., 1 ms
  LogHistogram h;
  for (int64_t i = 1; i <= kValues; ++i)
    h.record(i * kStepNs);
  const HistogramSummary s = h.summary();
  CHECK(s.count == kValues);
  CHECK(s.total_ns == kStepNs * kValues * (kValues + 1) / 2);
  CHECK(s.max_ns == kValues * kStepNs);
  const int64_t p50_true = kValues / 2 * kStepNs;
  const int64_t p99_true = kValues * 99 / 100 * kStepNs;
  CHECK(s.p50_ns >= p50_true);
  CHECK(s.p50_ns < 2 * p50_true);
  CHECK(s.p99_ns >= p99_true);
  CHECK(s.p99_ns < 2 * p99_true);
}

TEST_CASE("LogHistogram: percentiles of random log-uniform durations are within a factor of 2") {
  const uint64_t seed = test_seed("latch_stats");
  MESSAGE("seed " << seed << " (replay: RINGDB_TEST_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> exponent(0.0, 40.0);
  constexpr size_t kValues = 20000;
  std::vector<int64_t> values;
  LogHistogram h;
  for (size_t i = 0; i < kValues; ++i) {
    const auto ns = static_cast<int64_t>(std::exp2(exponent(rng)));
    values.push_back(ns);
    h.record(ns);
  }
  std::sort(values.begin(), values.end());
  // The value of rank ceil(q * n), as the histogram defines its quantiles.
  auto true_quantile = [&](double q) {
    const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(kValues)));
    return values[std::max<size_t>(rank, 1) - 1];
  };
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    CAPTURE(q);
    const int64_t expected = true_quantile(q);
    const int64_t got = h.quantile_ns(q);
    CHECK(got >= expected / 2);
    CHECK(got <= 2 * expected);
  }
  CHECK(h.summary().max_ns == values.back());
  CHECK(h.quantile_ns(1.0) == values.back());
}

TEST_CASE("LogHistogram: reset empties it") {
  LogHistogram h;
  h.record(5000);
  h.reset();
  const HistogramSummary s = h.summary();
  CHECK(s.count == 0);
  CHECK(s.total_ns == 0);
  CHECK(s.max_ns == 0);
  CHECK(s.p99_ns == 0);
}

TEST_CASE("LogHistogram: concurrent records are all counted") {
  constexpr int kThreads = 4;
  constexpr int kRecords = 10000;
  LogHistogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&h, t] {
      for (int i = 0; i < kRecords; ++i)
        h.record(t + 1);
    });
  for (auto& t : threads)
    t.join();
  const HistogramSummary s = h.summary();
  CHECK(s.count == kThreads * kRecords);
  CHECK(s.total_ns == int64_t{kRecords} * (1 + 2 + 3 + 4));
  CHECK(s.max_ns == kThreads);
}

// ---- Clocks ----

TEST_CASE("coarse_now_ns: never ahead of now_ns, and behind by no more than a few ticks") {
  const int64_t coarse = coarse_now_ns();
  const int64_t fine = now_ns();
  CHECK(coarse <= fine);
  CHECK(fine - coarse < 1'000'000'000);  // generous: ticks are 1-4 ms; allows preemption
  CHECK(coarse_now_ns() >= coarse);
}

// ---- Registry ----

TEST_CASE("LatchRegistry: a LatchStats is listed while it lives") {
  const size_t before = LatchRegistry::global().size();
  {
    LatchStats stats("test.registry.alive");
    CHECK(registered("test.registry.alive"));
    CHECK(LatchRegistry::global().size() == before + 1);
  }
  CHECK_FALSE(registered("test.registry.alive"));
  CHECK(LatchRegistry::global().size() == before);
}

TEST_CASE("LatchRegistry: a snapshot carries each class's counters") {
  LatchStats stats("test.registry.counters");
  stats.record_uncontended();
  stats.record_contended(300);
  for (const LatchStatsSnapshot& s : LatchRegistry::global().snapshot()) {
    if (s.name != "test.registry.counters") continue;
    CHECK(s.acquisitions == 2);
    CHECK(s.contended == 1);
    CHECK(s.wait.total_ns == 300);
  }
  CHECK(registered("test.registry.counters"));
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
  CHECK(top[0].contended_share() == doctest::Approx(1.0));
  CHECK(top[1].name == "test.top.busy");
  CHECK(top[1].contended == 3);
}

TEST_CASE("LatchRegistry: top_contended breaks ties by total wait") {
  LatchStats short_waits("test.tie.short");
  LatchStats long_waits("test.tie.long");
  short_waits.record_contended(100);
  long_waits.record_contended(100'000);
  const auto top = LatchRegistry::global().top_contended(2);
  REQUIRE(top.size() == 2);
  CHECK(top[0].name == "test.tie.long");
  CHECK(top[1].name == "test.tie.short");
}

TEST_CASE("LatchRegistry: top_contended with n above the class count lists every class") {
  LatchStats stats("test.top.all");
  const size_t live = LatchRegistry::global().size();
  CHECK(LatchRegistry::global().top_contended(live + 10).size() == live);
  CHECK(LatchRegistry::global().top_contended(0).empty());
}

// ---- LatchStats ----

TEST_CASE("LatchStats: record_contended counts an acquisition and its wait") {
  LatchStats stats("test.record");
  stats.record_uncontended();
  stats.record_contended(2000);
  stats.record_hold(700);
  const LatchStatsSnapshot s = stats.snapshot();
  CHECK(s.name == "test.record");
  CHECK(s.acquisitions == 2);
  CHECK(s.contended == 1);
  CHECK(s.contended_share() == doctest::Approx(0.5));
  CHECK(s.wait.count == 1);
  CHECK(s.wait.max_ns == 2000);
  CHECK(s.hold.count == 1);
  CHECK(s.hold.max_ns == 700);
}

TEST_CASE("LatchStats: reset clears the counters and keeps the class registered") {
  LatchStatsOptions options;
  options.hold_warn_threshold = 1ms;
  LatchStats stats("test.reset", options);
  stats.record_uncontended();
  stats.record_contended(10);
  stats.record_hold(10);
  stats.reset();
  const LatchStatsSnapshot s = stats.snapshot();
  CHECK(s.acquisitions == 0);
  CHECK(s.contended == 0);
  CHECK(s.wait.count == 0);
  CHECK(s.hold.count == 0);
  CHECK(s.warnings == 0);
  CHECK(s.contended_share() == 0.0);
  CHECK(registered("test.reset"));
}

// ---- Warnings ----

// The sink runs on the thread that records, which in these tests is the test's own thread;
// the atomics keep it safe regardless.
std::atomic<uint64_t> g_warnings{0};
std::atomic<LatchWarning::Kind> g_last_kind{LatchWarning::Kind::kWait};
std::atomic<int64_t> g_last_duration_ns{0};
std::atomic<int64_t> g_last_threshold_ns{0};
std::atomic<uint64_t> g_last_suppressed{0};
std::array<std::atomic<char>, 64> g_last_latch{};

void recording_sink(const LatchWarning& w) {
  g_last_kind.store(w.kind);
  g_last_duration_ns.store(w.duration_ns);
  g_last_threshold_ns.store(w.threshold_ns);
  g_last_suppressed.store(w.suppressed_since_last);
  for (size_t i = 0; i < g_last_latch.size(); ++i)
    g_last_latch[i].store(i < w.latch.size() && i + 1 < g_last_latch.size() ? w.latch[i] : '\0');
  g_warnings.fetch_add(1);
}

std::string last_latch() {
  std::string name;
  for (const auto& c : g_last_latch) {
    if (c.load() == '\0') break;
    name += c.load();
  }
  return name;
}

// Installs recording_sink for one test and restores the default sink even if it fails.
class RecordingSink {
 public:
  RecordingSink() {
    g_warnings.store(0);
    g_last_suppressed.store(0);
    set_latch_warning_sink(&recording_sink);
  }
  ~RecordingSink() { set_latch_warning_sink(nullptr); }
  RecordingSink(const RecordingSink&) = delete;
  RecordingSink& operator=(const RecordingSink&) = delete;
};

// Thresholds of 1 ms, and an interval the test never reaches: exactly one warning passes.
LatchStatsOptions one_warning_per_test() {
  LatchStatsOptions options;
  options.wait_warn_threshold = 1ms;
  options.hold_warn_threshold = 1ms;
  options.warn_interval = std::chrono::hours(1);
  return options;
}

constexpr int64_t kSlowNs = 5'000'000;  // over the 1 ms thresholds

TEST_CASE("LatchStats warning: a slow hold is reported with its latch, duration and threshold") {
  RecordingSink sink;
  LatchStats stats("test.warn.hold", one_warning_per_test());
  stats.record_hold(kSlowNs);
  REQUIRE(g_warnings.load() == 1);
  CHECK(g_last_kind.load() == LatchWarning::Kind::kHold);
  CHECK(g_last_duration_ns.load() == kSlowNs);
  CHECK(g_last_threshold_ns.load() == 1'000'000);
  CHECK(g_last_suppressed.load() == 0);
  CHECK(last_latch() == "test.warn.hold");
}

TEST_CASE("LatchStats warning: a slow wait is reported as a wait") {
  RecordingSink sink;
  LatchStats stats("test.warn.wait", one_warning_per_test());
  stats.record_contended(kSlowNs);
  REQUIRE(g_warnings.load() == 1);
  CHECK(g_last_kind.load() == LatchWarning::Kind::kWait);
  CHECK(g_last_duration_ns.load() == kSlowNs);
}

TEST_CASE("LatchStats warning: durations up to the threshold do not warn") {
  RecordingSink sink;
  LatchStats stats("test.warn.under", one_warning_per_test());
  stats.record_hold(500'000);
  stats.record_hold(1'000'000);  // equal to the threshold: not over it
  stats.record_contended(1'000'000);
  CHECK(g_warnings.load() == 0);
  CHECK(stats.snapshot().warnings == 0);
}

TEST_CASE("LatchStats warning: at most one per interval; the rest are counted as suppressed") {
  RecordingSink sink;
  LatchStats stats("test.warn.limit", one_warning_per_test());
  for (int i = 0; i < 100; ++i)
    stats.record_hold(kSlowNs);
  for (int i = 0; i < 10; ++i)
    stats.record_contended(kSlowNs);  // waits and holds share the class's limit
  CHECK(g_warnings.load() == 1);
  CHECK(stats.snapshot().warnings == 110);  // emitted + suppressed
}

TEST_CASE("LatchStats warning: each latch class has its own rate limit") {
  RecordingSink sink;
  LatchStats first("test.warn.first", one_warning_per_test());
  LatchStats second("test.warn.second", one_warning_per_test());
  for (int i = 0; i < 10; ++i) {
    first.record_hold(kSlowNs);
    second.record_hold(kSlowNs);
  }
  CHECK(g_warnings.load() == 2);
}

TEST_CASE("LatchStats warning: reset re-arms the rate limit") {
  RecordingSink sink;
  LatchStats stats("test.warn.rearm", one_warning_per_test());
  stats.record_hold(kSlowNs);
  stats.record_hold(kSlowNs);
  CHECK(g_warnings.load() == 1);
  stats.reset();
  stats.record_hold(kSlowNs);
  CHECK(g_warnings.load() == 2);
  CHECK(g_last_suppressed.load() == 0);  // reset also forgot the suppressed one
}

TEST_CASE("LatchStats warning: each warning reports how many were suppressed before it") {
  RecordingSink sink;
  LatchStatsOptions options = one_warning_per_test();
  options.warn_interval = 1ms;
  LatchStats stats("test.warn.suppressed", options);
  uint64_t accounted = 0;  // warnings emitted plus those they reported as suppressed
  test::wait_until(
      [&] {
        const uint64_t before = g_warnings.load();
        stats.record_hold(kSlowNs);
        if (g_warnings.load() == before) return false;  // suppressed
        // Just emitted, so none is pending: every warning so far is accounted for.
        accounted += 1 + g_last_suppressed.load();
        CHECK(accounted == stats.snapshot().warnings);
        return g_last_suppressed.load() > 0;
      },
      "a warning after the interval reports the suppressed ones");
  CHECK(g_warnings.load() >= 2);
}

TEST_CASE("LatchStats warning: the default sink writes one line to stderr") {
  set_latch_warning_sink(nullptr);
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  const int saved_stderr = dup(STDERR_FILENO);
  REQUIRE(saved_stderr >= 0);
  REQUIRE(dup2(pipe_fds[1], STDERR_FILENO) == STDERR_FILENO);
  {
    LatchStats stats("test.warn.default", one_warning_per_test());
    stats.record_hold(kSlowNs);
    stats.record_hold(kSlowNs);
  }
  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stderr);
  close(pipe_fds[1]);
  std::string out;
  char buf[512];
  ssize_t n = 0;
  while ((n = read(pipe_fds[0], buf, sizeof(buf))) > 0)
    out.append(buf, static_cast<size_t>(n));
  close(pipe_fds[0]);
  CAPTURE(out);
  CHECK(out.find("test.warn.default") != std::string::npos);
  CHECK(out.find("hold") != std::string::npos);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
}

// ---- Shared-hold table ----

TEST_CASE("Shared-hold table: a noted start is taken once") {
  int latch = 0;
  detail::note_shared_hold_start(&latch, 1234);
  CHECK(detail::take_shared_hold_start(&latch) == 1234);
  CHECK(detail::take_shared_hold_start(&latch) == -1);
}

TEST_CASE("Shared-hold table: starts are per thread") {
  int latch = 0;
  detail::note_shared_hold_start(&latch, 1234);
  std::atomic<int64_t> seen{0};
  std::thread([&] { seen.store(detail::take_shared_hold_start(&latch)); }).join();
  CHECK(seen.load() == -1);
  CHECK(detail::take_shared_hold_start(&latch) == 1234);
}

TEST_CASE("Shared-hold table: holds beyond kSharedHoldSlots are not remembered") {
  std::array<int, detail::kSharedHoldSlots + 1> latches{};
  for (size_t i = 0; i < latches.size(); ++i)
    detail::note_shared_hold_start(&latches[i], static_cast<int64_t>(i));
  CHECK(detail::take_shared_hold_start(&latches.back()) == -1);
  for (size_t i = 0; i + 1 < latches.size(); ++i)
    CHECK(detail::take_shared_hold_start(&latches[i]) == static_cast<int64_t>(i));
}

// ---- PriorityRwLatch statistics ----

TEST_CASE("PriorityRwLatch statistics: S and X acquisitions of both priorities are counted") {
  LatchStats stats("test.latch.acquisitions");
  PriorityRwLatch latch(&stats);
  latch.lock_shared();
  latch.lock_shared(Priority::kHigh);
  latch.unlock_shared();
  latch.unlock_shared();
  latch.lock();
  latch.unlock();
  latch.lock(Priority::kHigh);
  latch.unlock();
  REQUIRE(latch.try_lock_shared());
  CHECK_FALSE(latch.try_lock());  // a failed try is no acquisition
  latch.unlock_shared();
  REQUIRE(latch.try_lock());
  latch.unlock();
  const LatchStatsSnapshot s = stats.snapshot();
  CHECK(s.acquisitions == 6);
  CHECK(s.contended == 0);
  CHECK(s.hold.count == 6);
}

TEST_CASE("PriorityRwLatch statistics: shared holds are timed through the per-thread table") {
  constexpr int64_t kHoldMinNs = 100'000;
  LatchStats stats("test.latch.shared_hold");
  PriorityRwLatch latch(&stats);
  latch.lock_shared();
  spin_for_ns(kHoldMinNs);
  latch.unlock_shared();
  const LatchStatsSnapshot s = stats.snapshot();
  CHECK(s.hold.count == 1);
  CHECK(s.hold.max_ns >= kHoldMinNs);
  CHECK(detail::take_shared_hold_start(&latch) == -1);  // the table forgot it
}

TEST_CASE("PriorityRwLatch statistics: exclusive holds are timed") {
  constexpr int64_t kHoldMinNs = 100'000;
  LatchStats stats("test.latch.exclusive_hold");
  PriorityRwLatch latch(&stats);
  latch.lock();
  spin_for_ns(kHoldMinNs);
  latch.unlock();
  const LatchStatsSnapshot s = stats.snapshot();
  CHECK(s.hold.count == 1);
  CHECK(s.hold.max_ns >= kHoldMinNs);
}

TEST_CASE("PriorityRwLatch statistics: S holds of two threads are each timed") {
  LatchStats stats("test.latch.two_readers");
  PriorityRwLatch latch(&stats);
  latch.lock_shared();
  std::thread([&] {
    latch.lock_shared();
    latch.unlock_shared();
  }).join();
  latch.unlock_shared();
  const LatchStatsSnapshot s = stats.snapshot();
  CHECK(s.acquisitions == 2);
  CHECK(s.hold.count == 2);
}

TEST_CASE("PriorityRwLatch statistics: S holds beyond the per-thread table count but go untimed") {
  constexpr size_t kLatches = detail::kSharedHoldSlots + 1;
  LatchStats stats("test.latch.untimed");
  std::vector<std::unique_ptr<PriorityRwLatch>> latches;
  for (size_t i = 0; i < kLatches; ++i)
    latches.push_back(std::make_unique<PriorityRwLatch>(&stats));
  for (auto& latch : latches)
    latch->lock_shared();
  for (auto& latch : latches)
    latch->unlock_shared();
  const LatchStatsSnapshot s = stats.snapshot();
  CHECK(s.acquisitions == kLatches);
  CHECK(s.hold.count == detail::kSharedHoldSlots);
}

TEST_CASE("PriorityRwLatch statistics: a reader that had to sleep counts as contended") {
  LatchStats stats("test.latch.contended");
  PriorityRwLatch latch(&stats);
  latch.lock();
  std::atomic<bool> finished{false};
  std::thread reader([&] {
    latch.lock_shared();
    latch.unlock_shared();
    finished.store(true);
  });
  test::wait_until([&] { return latch.waiters().regular == 1; }, "the reader sleeps");
  latch.unlock();
  test::wait_until([&] { return finished.load(); }, "the reader is woken");  // not a hang
  reader.join();
  const LatchStatsSnapshot s = stats.snapshot();
  CHECK(s.acquisitions == 2);
  CHECK(s.contended == 1);
  CHECK(s.wait.count == 1);
  CHECK(s.wait.max_ns > 0);
  CHECK(s.hold.count == 2);
}

TEST_CASE("PriorityRwLatch statistics: a writer that had to sleep counts as contended") {
  LatchStats stats("test.latch.contended_x");
  PriorityRwLatch latch(&stats);
  latch.lock_shared();
  std::atomic<bool> finished{false};
  std::thread writer([&] {
    latch.lock(Priority::kHigh);
    latch.unlock();
    finished.store(true);
  });
  test::wait_until([&] { return latch.waiters().next_writer == 1; }, "the writer sleeps");
  latch.unlock_shared();
  test::wait_until([&] { return finished.load(); }, "the writer is woken");  // not a hang
  writer.join();
  const LatchStatsSnapshot s = stats.snapshot();
  CHECK(s.acquisitions == 2);
  CHECK(s.contended == 1);
  CHECK(s.hold.count == 2);
}

}  // namespace
}  // namespace ringdb::sync
