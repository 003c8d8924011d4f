#include "sync/priority_rw_latch.h"

#include <cassert>

#include "sync/latch_stats.h"
#include "sync/spin.h"

namespace ringdb::sync {
namespace {

constexpr std::memory_order kAcquire = std::memory_order_acquire;
constexpr std::memory_order kRelaxed = std::memory_order_relaxed;

// Sleeps until `word` no longer reads `seen`.
void wait_for_change(const std::atomic<uint32_t>& word, uint32_t seen, Sharing sharing) {
  while (word.load(kAcquire) == seen)
    futex_wait(&word, seen, sharing);
}

}  // namespace

// ---- Grabbing: one class rule each, applied with a CAS on the caller's view `s` ----------

bool PriorityRwLatch::try_grab_shared(uint32_t& s, Priority priority) {
  while ((s & blocks_shared(priority)) == 0) {
    // No overflow: kReadersMax exceeds PID_MAX_LIMIT (2^22), the most tasks Linux can run.
    assert((s & kReaderMask) < kReadersMax);
    if (state_.compare_exchange_weak(s, s + 1, kAcquire, kRelaxed)) return true;
  }
  return false;
}

PriorityRwLatch::Grab PriorityRwLatch::try_grab_exclusive(uint32_t& s, Priority priority) {
  while ((s & blocks_exclusive(priority)) == 0) {
    const bool readers = (s & kReaderMask) != 0;
    const uint32_t next = readers ? (s | kNextWriter) : (s | kWriter);
    if (state_.compare_exchange_weak(s, next, kAcquire, kRelaxed))
      return readers ? Grab::kReserved : Grab::kAcquired;
  }
  return Grab::kNone;
}

bool PriorityRwLatch::try_lock(Priority priority) {
  uint32_t s = state_.load(kRelaxed);
  while ((s & (blocks_exclusive(priority) | kReaderMask)) == 0) {
    if (state_.compare_exchange_weak(s, s | kWriter, kAcquire, kRelaxed)) {
      if (stats_ != nullptr) on_acquired(false, true, 0);
      return true;
    }
  }
  return false;
}

bool PriorityRwLatch::try_lock_shared(Priority priority) {
  uint32_t s = state_.load(kRelaxed);
  if (!try_grab_shared(s, priority)) return false;
  if (stats_ != nullptr) on_acquired(false, false, 0);
  return true;
}

// ---- Acquisition slow paths -------------------------------------------------------------

// The shape both slow paths share: spin on `try_grab(s)` with backoff (unless behind
// high-priority waiters), then `sleep()`; start over when a regular waiter is woken without
// the latch.
template <typename TryGrab, typename Sleep>
void PriorityRwLatch::spin_then_sleep(Priority priority, TryGrab try_grab, Sleep sleep) {
  for (;;) {
    Backoff backoff;
    uint32_t s = state_.load(kRelaxed);
    for (;;) {
      if (try_grab(s)) return;
      // Behind high-priority waiters a regular request neither spins nor takes the latch.
      if (priority == Priority::kRegular && (s & kHighWaiters) != 0) break;
      if (!backoff.spin()) break;
      s = state_.load(kRelaxed);
    }
    if (sleep()) return;
  }
}

void PriorityRwLatch::lock_slow(Priority priority) {
  const int64_t wait_start_ns = stats_ != nullptr ? now_ns() : 0;
  spin_then_sleep(
      priority,
      [&](uint32_t& s) {
        const Grab grab = try_grab_exclusive(s, priority);
        if (grab == Grab::kReserved) wait_for_readers_to_drain(priority == Priority::kHigh);
        return grab != Grab::kNone;
      },
      [&] { return sleep_for_exclusive(priority); });
  if (stats_ != nullptr) on_acquired(true, true, wait_start_ns);
}

void PriorityRwLatch::lock_shared_slow(Priority priority) {
  const int64_t wait_start_ns = stats_ != nullptr ? now_ns() : 0;
  spin_then_sleep(
      priority, [&](uint32_t& s) { return try_grab_shared(s, priority); },
      [&] { return sleep_for_shared(priority); });
  if (stats_ != nullptr) on_acquired(true, false, wait_start_ns);
}

// We own kNextWriter: no new S can enter. Wait for the S holders to leave, then turn the
// reservation into kWriter.
void PriorityRwLatch::wait_for_readers_to_drain(bool high) {
  Backoff backoff;
  uint32_t s = state_.load(kRelaxed);
  for (;;) {
    assert((s & kNextWriter) != 0);
    if ((s & kReaderMask) == 0) {
      if (state_.compare_exchange_weak(s, (s & ~kNextWriter) | kWriter, kAcquire, kRelaxed)) return;
      continue;
    }
    if (!backoff.spin()) break;
    s = state_.load(kRelaxed);
  }

  uint32_t seen;
  {
    MutexGuard guard(wait_mu_);
    s = state_.load(kRelaxed);
    for (;;) {
      if ((s & kReaderMask) == 0) {
        if (state_.compare_exchange_weak(s, (s & ~kNextWriter) | kWriter, kAcquire, kRelaxed))
          return;
        continue;
      }
      // The last reader to leave will see kWaiters and dispatch.
      if (state_.compare_exchange_weak(s, s | kWaiters, kRelaxed, kRelaxed)) break;
    }
    next_writer_sleeping_ = 1;
    next_writer_high_ = high;
    seen = next_writer_word_.load(kRelaxed);
  }
  // The dispatcher turns kNextWriter into kWriter for us before bumping the word.
  wait_for_change(next_writer_word_, seen, sharing_);
}

// Registers as a waiter (or takes the latch if it became available). Returns true when the
// caller holds X; false when a regular waiter was woken to compete again.
bool PriorityRwLatch::sleep_for_exclusive(Priority priority) {
  const bool high = priority == Priority::kHigh;
  const uint32_t flags = kWaiters | (high ? kHighWaiters : 0);
  wait_mu_.lock();
  uint32_t s = state_.load(kRelaxed);
  for (;;) {
    const Grab grab = try_grab_exclusive(s, priority);
    if (grab != Grab::kNone) {
      wait_mu_.unlock();
      if (grab == Grab::kReserved) wait_for_readers_to_drain(high);
      return true;
    }
    // Setting the flags with a CAS on the same word orders us against every release.
    if (state_.compare_exchange_weak(s, s | flags, kRelaxed, kRelaxed)) break;
  }

  if (high) {
    const uint32_t ticket = high_x_next_ticket_++;
    wait_mu_.unlock();
    // Granted once the served counter passes our ticket: the dispatcher has set kWriter, or
    // kNextWriter if S holders remained, on our behalf.
    for (;;) {
      const uint32_t served = high_x_served_.load(kAcquire);
      if (static_cast<int32_t>(served - ticket) > 0) break;
      futex_wait(&high_x_served_, served, sharing_);
    }
    if ((state_.load(kRelaxed) & kNextWriter) != 0) wait_for_readers_to_drain(true);
    return true;
  }

  ++regular_sleeping_;
  const uint32_t seen = regular_word_.load(kRelaxed);
  wait_mu_.unlock();
  wait_for_change(regular_word_, seen, sharing_);
  return false;
}

// As sleep_for_exclusive, for S. High-priority S waiters are granted all together.
bool PriorityRwLatch::sleep_for_shared(Priority priority) {
  const bool high = priority == Priority::kHigh;
  const uint32_t flags = kWaiters | (high ? kHighWaiters : 0);
  wait_mu_.lock();
  uint32_t s = state_.load(kRelaxed);
  for (;;) {
    if (try_grab_shared(s, priority)) {
      wait_mu_.unlock();
      return true;
    }
    if (state_.compare_exchange_weak(s, s | flags, kRelaxed, kRelaxed)) break;
  }
  uint32_t seen;
  std::atomic<uint32_t>* word;
  if (high) {
    ++high_s_sleeping_;
    word = &high_s_word_;
  } else {
    ++regular_sleeping_;
    word = &regular_word_;
  }
  seen = word->load(kRelaxed);
  wait_mu_.unlock();
  wait_for_change(*word, seen, sharing_);
  // A high-priority S was granted (the dispatcher added it to the readers); a regular one
  // was only woken.
  return high;
}

// ---- Release and dispatch ---------------------------------------------------------------

void PriorityRwLatch::unlock_slow() {
  dispatch(kWriter);
}

// Hands the latch to the waiters whose turn it is. `release` is the bit the caller gives up
// in the same CAS (kWriter for an X release, 0 after the last S holder left).
void PriorityRwLatch::dispatch(uint32_t release) {
  Dispatch d;
  wait_mu_.lock();
  uint32_t s = state_.load(kRelaxed);
  for (;;) {
    d = plan_dispatch_locked(s & ~release);
    if (d.state == s && release == 0) break;
    if (state_.compare_exchange_weak(s, d.state, std::memory_order_acq_rel, kRelaxed)) break;
  }
  // Publish the grants: each waiter reads its word with acquire after our CAS above.
  if (d.grant_next_writer) {
    next_writer_sleeping_ = 0;
    next_writer_word_.fetch_add(1, std::memory_order_release);
  }
  if (d.grant_high_x) high_x_served_.fetch_add(1, std::memory_order_release);
  if (d.grant_high_s) {
    high_s_sleeping_ = 0;
    high_s_word_.fetch_add(1, std::memory_order_release);
  }
  if (d.wake_regular) {
    regular_sleeping_ = 0;
    regular_word_.fetch_add(1, std::memory_order_release);
  }
  wait_mu_.unlock();

  if (d.grant_next_writer) futex_wake(&next_writer_word_, 1, sharing_);
  // Tickets: only the next one proceeds, but we cannot pick its sleeper out of the futex
  // queue, so all high-priority X sleepers look (they are few: background acquirers).
  if (d.grant_high_x) futex_wake_all(&high_x_served_, sharing_);
  if (d.grant_high_s) futex_wake_all(&high_s_word_, sharing_);
  if (d.wake_regular) futex_wake_all(&regular_word_, sharing_);
}

// Decides, from state `s` (with the caller's release applied) and the sleeper counts, who
// gets the latch next. Pure: the counts change only after the CAS succeeds.
PriorityRwLatch::Dispatch PriorityRwLatch::plan_dispatch_locked(uint32_t s) const {
  Dispatch d;
  uint32_t next_writer = next_writer_sleeping_;
  uint32_t high_x = high_x_next_ticket_ - high_x_served_.load(kRelaxed);
  uint32_t high_s = high_s_sleeping_;
  uint32_t regular = regular_sleeping_;
  const uint32_t readers = s & kReaderMask;

  if ((s & kWriter) != 0) {
    // Someone holds X (it barged in after the last S left): it dispatches when it releases.
  } else if ((s & kNextWriter) != 0) {
    // Classes 1 and 2: the reservation blocks everything else.
    if (readers == 0 && next_writer != 0) {
      s = (s & ~kNextWriter) | kWriter;
      d.grant_next_writer = true;
      next_writer = 0;
    }
  } else if (high_x != 0) {
    // Class 3: the next ticket gets X, or the reservation if S holders remain.
    s |= readers == 0 ? kWriter : kNextWriter;
    d.grant_high_x = true;
    --high_x;
  } else {
    if (high_s != 0) {
      // Class 4: all high-priority S waiters at once.
      s += high_s;
      d.grant_high_s = true;
      high_s = 0;
    }
    if (regular != 0) {
      // Class 5: no high-priority waiter is left; wake the regular ones to compete.
      d.wake_regular = true;
      regular = 0;
    }
  }

  s &= ~(kWaiters | kHighWaiters);
  if (high_x != 0 || high_s != 0) s |= kHighWaiters;
  if (next_writer != 0 || high_x != 0 || high_s != 0 || regular != 0) s |= kWaiters;
  d.state = s;
  return d;
}

LatchWaiters PriorityRwLatch::waiters() const {
  MutexGuard guard(wait_mu_);
  LatchWaiters w;
  w.next_writer = next_writer_sleeping_;
  w.next_writer_high = next_writer_high_;
  w.high_x = high_x_next_ticket_ - high_x_served_.load(kRelaxed);
  w.high_s = high_s_sleeping_;
  w.regular = regular_sleeping_;
  return w;
}

// ---- Statistics -------------------------------------------------------------------------

void PriorityRwLatch::on_acquired(bool contended, bool exclusive, int64_t wait_start_ns) {
  const int64_t now = now_ns();
  if (contended) {
    stats_->record_contended(now - wait_start_ns);
  } else {
    stats_->record_uncontended();
  }
  if (exclusive) {
    x_hold_start_ns_ = now;
  } else {
    detail::note_shared_hold_start(this, now);
  }
}

void PriorityRwLatch::on_release_exclusive() {
  stats_->record_hold(now_ns() - x_hold_start_ns_);
}

void PriorityRwLatch::on_release_shared() {
  const int64_t start = detail::take_shared_hold_start(this);
  if (start >= 0) stats_->record_hold(now_ns() - start);
}

}  // namespace ringdb::sync
