// Latch statistics: acquisitions, contention, wait- and hold-time histograms, slow-latch
// warnings, and a process-wide registry of named latch classes.
//
// A LatchStats object describes one latch *class* ("index.node", "wal.buffer"): many latches
// may point at the same LatchStats, the way InnoDB's performance schema aggregates per
// instrument. A latch built without a LatchStats (the default) never reads a clock and never
// touches these counters: statistics off costs one predictable branch on a member already in
// the latch's cache line (bench_sync measures it).
//
// Recording is lock-free (relaxed atomics). Counters are not a consistent cut: a snapshot
// taken while latches run may see an acquisition counted before its wait time. That is fine
// for monitoring and never affects the latches.
//
// Thread safety: every member function may be called concurrently. A LatchStats must outlive
// every latch that points at it. Stats are per process: a latch placed in memory shared
// between processes cannot carry them (its pointer would mean nothing in the other process).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sync/clock.h"

namespace ringdb::sync {

struct HistogramSummary {
  uint64_t count = 0;
  int64_t total_ns = 0;
  int64_t p50_ns = 0;  // upper bound of the log2 bucket holding the median, capped at max_ns
  int64_t p99_ns = 0;
  int64_t max_ns = 0;
};

// Log2-bucketed histogram of nanosecond durations: bucket 0 holds 0 ns, bucket b >= 1 holds
// [2^(b-1), 2^b). Percentiles are therefore exact to within a factor of 2, which is what a
// contention report needs; the maximum is exact.
class LogHistogram {
 public:
  static constexpr size_t kBuckets = 64;

  void record(int64_t ns);
  HistogramSummary summary() const;
  // Value at quantile q in [0, 1]: the upper bound of the bucket where it falls.
  int64_t quantile_ns(double q) const;
  void reset();
  // Adds this histogram's counts into `target` (merging per-thread histograms for a report).
  void merge_into(LogHistogram* target) const;
  // The bucket counts, for differences between two reads (a rate window's percentiles).
  using Counts = std::array<uint64_t, kBuckets>;
  void add_counts(Counts* out) const;
  // The sum of every duration recorded (a histogram's _sum).
  int64_t total_ns() const { return total_ns_.load(std::memory_order_relaxed); }
  // The upper bound of bucket b, and the value at quantile q of `counts` (0 if empty).
  static int64_t bucket_upper_ns(size_t b);
  static int64_t quantile_of(const Counts& counts, double q);

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<int64_t> total_ns_{0};
  std::atomic<int64_t> max_ns_{0};
};

struct LatchStatsOptions {
  // A wait or a hold longer than this logs a warning (rate-limited per latch class).
  std::chrono::nanoseconds wait_warn_threshold = std::chrono::milliseconds(10);
  std::chrono::nanoseconds hold_warn_threshold = std::chrono::milliseconds(10);
  // At most one warning per latch class per interval; the rest are counted as suppressed.
  std::chrono::nanoseconds warn_interval = std::chrono::seconds(1);
};

struct LatchStatsSnapshot {
  std::string name;
  uint64_t acquisitions = 0;
  uint64_t contended = 0;  // acquisitions that could not be granted on the first attempt
  HistogramSummary wait;   // contended acquisitions only (an uncontended wait is 0)
  HistogramSummary hold;
  uint64_t warnings = 0;  // warnings emitted plus suppressed

  double contended_share() const {
    return acquisitions == 0 ? 0.0
                             : static_cast<double>(contended) / static_cast<double>(acquisitions);
  }
};

struct LatchWarning {
  enum class Kind : uint8_t { kWait, kHold };
  std::string_view latch;
  Kind kind;
  int64_t duration_ns;
  int64_t threshold_ns;
  uint64_t suppressed_since_last;  // warnings of this latch class dropped by the rate limit
};

// Where warnings go. The default writes one line to stderr. Must be thread-safe and must not
// take any latch that carries statistics.
using LatchWarningSink = void (*)(const LatchWarning&);
// nullptr restores the default sink.
void set_latch_warning_sink(LatchWarningSink sink);

class LatchStats {
 public:
  // Registers the class in LatchRegistry::global() under `name`.
  explicit LatchStats(std::string name, LatchStatsOptions options = {});
  ~LatchStats();
  LatchStats(const LatchStats&) = delete;
  LatchStats& operator=(const LatchStats&) = delete;

  const std::string& name() const { return name_; }

  void record_uncontended() { acquisitions_.fetch_add(1, std::memory_order_relaxed); }
  void record_contended(int64_t wait_ns);
  void record_hold(int64_t hold_ns);

  LatchStatsSnapshot snapshot() const;
  void reset();

 private:
  void maybe_warn(LatchWarning::Kind kind, int64_t duration_ns, int64_t threshold_ns);

  const std::string name_;
  const LatchStatsOptions options_;
  alignas(64) std::atomic<uint64_t> acquisitions_{0};
  std::atomic<uint64_t> contended_{0};
  std::atomic<uint64_t> warnings_{0};
  std::atomic<uint64_t> suppressed_{0};
  std::atomic<int64_t> next_warn_ns_{0};
  LogHistogram wait_;
  LogHistogram hold_;
};

// All live LatchStats of this process, for `ringdb-admin latches`.
class LatchRegistry {
 public:
  static LatchRegistry& global();

  std::vector<LatchStatsSnapshot> snapshot() const;
  // The `n` classes with the most contended acquisitions (ties: more total wait first).
  std::vector<LatchStatsSnapshot> top_contended(size_t n) const;
  size_t size() const;

 private:
  friend class LatchStats;
  LatchRegistry() = default;
  void add(LatchStats* stats);
  void remove(LatchStats* stats);

  struct Impl;
  static Impl& impl();
};

namespace detail {
// Hold timing for shared holds: a shared latch has many holders, so the start time lives in
// a small per-thread table keyed by latch address. A thread holding more than
// kSharedHoldSlots timed shared latches at once goes untimed for the extra ones (counted
// in the acquisition, not in the hold histogram).
inline constexpr size_t kSharedHoldSlots = 16;
void note_shared_hold_start(const void* latch, int64_t start_ns);
// Returns the start time and forgets it, or -1 if this thread recorded none for `latch`.
int64_t take_shared_hold_start(const void* latch);
}  // namespace detail

}  // namespace ringdb::sync
