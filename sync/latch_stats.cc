#include "sync/latch_stats.h"

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <limits>

#include "sync/mutex.h"

namespace ringdb::sync {
namespace {

size_t bucket_of(int64_t ns) {
  if (ns <= 0) return 0;
  return static_cast<size_t>(64 - std::countl_zero(static_cast<uint64_t>(ns)));
}

int64_t bucket_upper_ns(size_t bucket) {
  if (bucket == 0) return 0;
  if (bucket >= 63) return std::numeric_limits<int64_t>::max();
  return (int64_t{1} << bucket) - 1;
}

void update_max(std::atomic<int64_t>& max, int64_t value) {
  int64_t seen = max.load(std::memory_order_relaxed);
  while (value > seen && !max.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

void default_warning_sink(const LatchWarning& w) {
  std::fprintf(stderr,
               "ringdb: WARNING latch '%.*s': %s of %" PRId64 " us exceeds %" PRId64 " us (%" PRIu64
               " similar warnings suppressed)\n",
               static_cast<int>(w.latch.size()), w.latch.data(),
               w.kind == LatchWarning::Kind::kWait ? "wait" : "hold", w.duration_ns / 1000,
               w.threshold_ns / 1000, w.suppressed_since_last);
}

std::atomic<LatchWarningSink> g_warning_sink{&default_warning_sink};

}  // namespace

void LogHistogram::record(int64_t ns) {
  if (ns < 0) ns = 0;  // a clock that stepped back; steady_clock should not
  buckets_[bucket_of(ns)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  total_ns_.fetch_add(ns, std::memory_order_relaxed);
  update_max(max_ns_, ns);
}

int64_t LogHistogram::quantile_ns(double q) const {
  std::array<uint64_t, kBuckets> counts{};
  uint64_t total = 0;
  for (size_t b = 0; b < kBuckets; ++b) {
    counts[b] = buckets_[b].load(std::memory_order_relaxed);
    total += counts[b];
  }
  if (total == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<uint64_t>(q * static_cast<double>(total) + 0.999999);
  rank = std::clamp<uint64_t>(rank, 1, total);
  uint64_t seen = 0;
  for (size_t b = 0; b < kBuckets; ++b) {
    seen += counts[b];
    if (seen >= rank) return std::min(bucket_upper_ns(b), max_ns_.load(std::memory_order_relaxed));
  }
  return max_ns_.load(std::memory_order_relaxed);
}

HistogramSummary LogHistogram::summary() const {
  HistogramSummary s;
  s.count = count_.load(std::memory_order_relaxed);
  s.total_ns = total_ns_.load(std::memory_order_relaxed);
  s.p50_ns = quantile_ns(0.50);
  s.p99_ns = quantile_ns(0.99);
  s.max_ns = max_ns_.load(std::memory_order_relaxed);
  return s;
}

void LogHistogram::merge_into(LogHistogram* target) const {
  for (size_t b = 0; b < kBuckets; ++b)
    target->buckets_[b].fetch_add(buckets_[b].load(std::memory_order_relaxed),
                                  std::memory_order_relaxed);
  target->count_.fetch_add(count_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  target->total_ns_.fetch_add(total_ns_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  update_max(target->max_ns_, max_ns_.load(std::memory_order_relaxed));
}

void LogHistogram::add_counts(Counts* out) const {
  for (size_t b = 0; b < kBuckets; ++b)
    (*out)[b] += buckets_[b].load(std::memory_order_relaxed);
}

int64_t LogHistogram::bucket_upper_ns(size_t b) {
  return sync::bucket_upper_ns(b);
}

int64_t LogHistogram::quantile_of(const Counts& counts, double q) {
  uint64_t total = 0;
  for (uint64_t c : counts)
    total += c;
  if (total == 0) return 0;
  auto rank =
      static_cast<uint64_t>(std::clamp(q, 0.0, 1.0) * static_cast<double>(total) + 0.999999);
  rank = std::clamp<uint64_t>(rank, 1, total);
  uint64_t seen = 0;
  for (size_t b = 0; b < kBuckets; ++b) {
    seen += counts[b];
    if (seen >= rank) return sync::bucket_upper_ns(b);
  }
  return sync::bucket_upper_ns(kBuckets - 1);
}

void LogHistogram::reset() {
  for (auto& b : buckets_)
    b.store(0, std::memory_order_relaxed);
  count_.store(0, std::memory_order_relaxed);
  total_ns_.store(0, std::memory_order_relaxed);
  max_ns_.store(0, std::memory_order_relaxed);
}

void set_latch_warning_sink(LatchWarningSink sink) {
  g_warning_sink.store(sink != nullptr ? sink : &default_warning_sink, std::memory_order_release);
}

LatchStats::LatchStats(std::string name, LatchStatsOptions options)
    : name_(std::move(name)), options_(options) {
  LatchRegistry::global().add(this);
}

LatchStats::~LatchStats() {
  LatchRegistry::global().remove(this);
}

void LatchStats::record_contended(int64_t wait_ns) {
  acquisitions_.fetch_add(1, std::memory_order_relaxed);
  contended_.fetch_add(1, std::memory_order_relaxed);
  wait_.record(wait_ns);
  const int64_t threshold = options_.wait_warn_threshold.count();
  if (wait_ns > threshold) [[unlikely]]
    maybe_warn(LatchWarning::Kind::kWait, wait_ns, threshold);
}

void LatchStats::record_hold(int64_t hold_ns) {
  hold_.record(hold_ns);
  const int64_t threshold = options_.hold_warn_threshold.count();
  if (hold_ns > threshold) [[unlikely]]
    maybe_warn(LatchWarning::Kind::kHold, hold_ns, threshold);
}

void LatchStats::maybe_warn(LatchWarning::Kind kind, int64_t duration_ns, int64_t threshold_ns) {
  warnings_.fetch_add(1, std::memory_order_relaxed);
  const int64_t now = now_ns();
  int64_t next = next_warn_ns_.load(std::memory_order_relaxed);
  if (now < next || !next_warn_ns_.compare_exchange_strong(
                        next, now + options_.warn_interval.count(), std::memory_order_relaxed)) {
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint64_t suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
  g_warning_sink.load(std::memory_order_acquire)(
      LatchWarning{name_, kind, duration_ns, threshold_ns, suppressed});
}

LatchStatsSnapshot LatchStats::snapshot() const {
  LatchStatsSnapshot s;
  s.name = name_;
  s.acquisitions = acquisitions_.load(std::memory_order_relaxed);
  s.contended = contended_.load(std::memory_order_relaxed);
  s.wait = wait_.summary();
  s.hold = hold_.summary();
  s.warnings = warnings_.load(std::memory_order_relaxed);
  return s;
}

void LatchStats::reset() {
  acquisitions_.store(0, std::memory_order_relaxed);
  contended_.store(0, std::memory_order_relaxed);
  warnings_.store(0, std::memory_order_relaxed);
  suppressed_.store(0, std::memory_order_relaxed);
  next_warn_ns_.store(0, std::memory_order_relaxed);
  wait_.reset();
  hold_.reset();
}

struct LatchRegistry::Impl {
  mutable Mutex mu;
  std::vector<LatchStats*> latches GUARDED_BY(mu);
};

LatchRegistry::Impl& LatchRegistry::impl() {
  // Never destroyed: LatchStats objects with static storage may unregister during exit.
  static Impl* const instance = new Impl;
  return *instance;
}

LatchRegistry& LatchRegistry::global() {
  static LatchRegistry registry;
  return registry;
}

void LatchRegistry::add(LatchStats* stats) {
  Impl& i = impl();
  MutexGuard guard(i.mu);
  i.latches.push_back(stats);
}

void LatchRegistry::remove(LatchStats* stats) {
  Impl& i = impl();
  MutexGuard guard(i.mu);
  std::erase(i.latches, stats);
}

size_t LatchRegistry::size() const {
  Impl& i = impl();
  MutexGuard guard(i.mu);
  return i.latches.size();
}

std::vector<LatchStatsSnapshot> LatchRegistry::snapshot() const {
  Impl& i = impl();
  MutexGuard guard(i.mu);
  std::vector<LatchStatsSnapshot> out;
  out.reserve(i.latches.size());
  for (const LatchStats* stats : i.latches)
    out.push_back(stats->snapshot());
  return out;
}

std::vector<LatchStatsSnapshot> LatchRegistry::top_contended(size_t n) const {
  std::vector<LatchStatsSnapshot> all = snapshot();
  std::sort(all.begin(), all.end(), [](const LatchStatsSnapshot& a, const LatchStatsSnapshot& b) {
    if (a.contended != b.contended) return a.contended > b.contended;
    return a.wait.total_ns > b.wait.total_ns;
  });
  if (all.size() > n) all.resize(n);
  return all;
}

namespace detail {
namespace {
struct SharedHolds {
  std::array<const void*, kSharedHoldSlots> latch{};
  std::array<int64_t, kSharedHoldSlots> start_ns{};
};
thread_local SharedHolds t_shared_holds;
}  // namespace

void note_shared_hold_start(const void* latch, int64_t start_ns) {
  SharedHolds& h = t_shared_holds;
  for (size_t i = 0; i < kSharedHoldSlots; ++i) {
    if (h.latch[i] == nullptr) {
      h.latch[i] = latch;
      h.start_ns[i] = start_ns;
      return;
    }
  }
}

int64_t take_shared_hold_start(const void* latch) {
  SharedHolds& h = t_shared_holds;
  for (size_t i = 0; i < kSharedHoldSlots; ++i) {
    if (h.latch[i] == latch) {
      h.latch[i] = nullptr;
      return h.start_ns[i];
    }
  }
  return -1;
}
}  // namespace detail

}  // namespace ringdb::sync
