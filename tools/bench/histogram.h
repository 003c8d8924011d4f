// A log-bucketed latency histogram in nanoseconds, and its plain snapshot.
//
// Buckets: values below 64 have one bucket each; above, each power of two is split into 32
// equal sub-buckets, so a bucket's width is at most 1/32 of its lower bound (a reported
// percentile, the bucket's midpoint, is within 1.6% of a recorded value). 1920 buckets
// cover the whole uint64_t range.
//
// Process safety: Histogram lives in a MAP_SHARED mapping. One process writes it (the
// client that owns it) with relaxed load+store pairs, which are plain moves on x86: no
// locked instruction on the measured path. Any process may snapshot() it at any time; a
// snapshot taken while the writer runs may be off by the few records in progress, which
// only matters for the once-a-second progress line.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace ringdb::bench {

inline constexpr int kSubBucketBits = 5;
inline constexpr uint64_t kSubBuckets = 1u << kSubBucketBits;  // 32
inline constexpr int kBucketCount = (64 - kSubBucketBits + 1) * static_cast<int>(kSubBuckets);

struct HistogramCounts {
  std::array<uint64_t, kBucketCount> buckets{};
  uint64_t count = 0;
  uint64_t max_ns = 0;

  void add(const HistogramCounts& other);
  // this - earlier, bucket by bucket (max_ns is this one's).
  HistogramCounts minus(const HistogramCounts& earlier) const;
  // The value at quantile q (0..1): the midpoint of the bucket holding it (max_ns for q=1).
  // 0 when empty.
  uint64_t quantile_ns(double q) const;
};

class Histogram {
 public:
  Histogram() = default;
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // REQUIRES: called by the histogram's one writer only.
  void record(uint64_t value_ns) {
    bump(buckets_[static_cast<size_t>(bucket_of(value_ns))]);
    bump(count_);
    if (value_ns > max_ns_.load(std::memory_order_relaxed)) {
      max_ns_.store(value_ns, std::memory_order_relaxed);
    }
  }

  void snapshot(HistogramCounts* out) const;

  static int bucket_of(uint64_t value_ns);
  static uint64_t bucket_low_ns(int bucket);
  static uint64_t bucket_width_ns(int bucket);

 private:
  static void bump(std::atomic<uint64_t>& counter) {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  std::array<std::atomic<uint64_t>, kBucketCount> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> max_ns_{0};
};

}  // namespace ringdb::bench
