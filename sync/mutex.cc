#include "sync/mutex.h"

#include "sync/latch_stats.h"
#include "sync/spin.h"

namespace ringdb::sync {

void mutex_word::lock_slow(std::atomic<uint32_t>& state, Sharing sharing) {
  // Test-and-test-and-set with bounded backoff: read until it looks free, then CAS.
  Backoff backoff;
  uint32_t s = state.load(std::memory_order_relaxed);
  for (;;) {
    if ((s & kLocked) == 0) {
      if (state.compare_exchange_weak(s, s | kLocked, std::memory_order_acquire,
                                      std::memory_order_relaxed))
        return;
      continue;
    }
    if (!backoff.spin()) break;
    s = state.load(std::memory_order_relaxed);
  }
  // Register as a sleeper first, so that an unlock from here on sees us and wakes one.
  s = state.fetch_add(kSleeper, std::memory_order_relaxed) + kSleeper;
  for (;;) {
    if ((s & kLocked) == 0) {
      // Take the lock and deregister in one step.
      if (state.compare_exchange_weak(s, (s - kSleeper) | kLocked, std::memory_order_acquire,
                                      std::memory_order_relaxed))
        return;
      continue;
    }
    // Returns at once if the word moved on since we read `s`: no wake-up is lost.
    futex_wait(&state, s, sharing);
    s = state.load(std::memory_order_relaxed);
  }
}

void Mutex::lock_slow() {
  const int64_t wait_start_ns = stats_ != nullptr ? now_ns() : 0;
  mutex_word::lock_slow(state_, sharing_);
  if (stats_ != nullptr) {
    const int64_t now = now_ns();
    stats_->record_contended(now - wait_start_ns);
    hold_start_ns_ = now;
  }
}

void Mutex::on_acquired_uncontended() {
  stats_->record_uncontended();
  hold_start_ns_ = now_ns();
}

void Mutex::on_release() {
  stats_->record_hold(now_ns() - hold_start_ns_);
}

}  // namespace ringdb::sync
