// The log-bucketed latency histogram: bucket arithmetic, snapshots, quantiles.
#include "tools/bench/histogram.h"

#include <bit>
#include <cassert>
#include <cmath>

namespace ringdb::bench {

// Values below 2 * kSubBuckets are their own bucket. A larger value with its highest bit at
// position msb falls in power-of-two group (msb - kSubBucketBits + 1), sub-bucket given by
// the kSubBucketBits bits below the highest.
int Histogram::bucket_of(uint64_t value_ns) {
  if (value_ns < 2 * kSubBuckets) return static_cast<int>(value_ns);
  int msb = 63 - std::countl_zero(value_ns);
  int shift = msb - kSubBucketBits;
  uint64_t sub = (value_ns >> shift) - kSubBuckets;
  int bucket = (msb - kSubBucketBits + 1) * static_cast<int>(kSubBuckets) + static_cast<int>(sub);
  assert(bucket < kBucketCount);
  return bucket;
}

uint64_t Histogram::bucket_low_ns(int bucket) {
  assert(bucket >= 0 && bucket < kBucketCount);
  auto b = static_cast<uint64_t>(bucket);
  if (b < 2 * kSubBuckets) return b;
  int shift = bucket / static_cast<int>(kSubBuckets) - 1;
  return (kSubBuckets + b % kSubBuckets) << shift;
}

uint64_t Histogram::bucket_width_ns(int bucket) {
  if (bucket < static_cast<int>(2 * kSubBuckets)) return 1;
  return uint64_t{1} << (bucket / static_cast<int>(kSubBuckets) - 1);
}

void Histogram::snapshot(HistogramCounts* out) const {
  for (size_t i = 0; i < buckets_.size(); ++i) {
    out->buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  }
  out->count = count_.load(std::memory_order_relaxed);
  out->max_ns = max_ns_.load(std::memory_order_relaxed);
}

void HistogramCounts::add(const HistogramCounts& other) {
  for (size_t i = 0; i < buckets.size(); ++i)
    buckets[i] += other.buckets[i];
  count += other.count;
  if (other.max_ns > max_ns) max_ns = other.max_ns;
}

HistogramCounts HistogramCounts::minus(const HistogramCounts& earlier) const {
  HistogramCounts d;
  for (size_t i = 0; i < buckets.size(); ++i) {
    d.buckets[i] = buckets[i] >= earlier.buckets[i] ? buckets[i] - earlier.buckets[i] : 0;
  }
  d.count = count >= earlier.count ? count - earlier.count : 0;
  d.max_ns = max_ns;
  return d;
}

uint64_t HistogramCounts::quantile_ns(double q) const {
  uint64_t total = 0;
  for (uint64_t c : buckets)
    total += c;
  if (total == 0) return 0;
  if (q >= 1) return max_ns;
  // The rank of the q-quantile, 1-based: the smallest value with at least q * total at or
  // below it.
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBucketCount; ++i) {
    seen += buckets[static_cast<size_t>(i)];
    if (seen >= rank) {
      uint64_t mid = Histogram::bucket_low_ns(i) + Histogram::bucket_width_ns(i) / 2;
      return max_ns != 0 && mid > max_ns ? max_ns : mid;
    }
  }
  return max_ns;
}

}  // namespace ringdb::bench
