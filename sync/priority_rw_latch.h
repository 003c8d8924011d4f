// PriorityRwLatch: a reader-writer latch with two priorities, after XtraDB's priority RW lock.
//
// What it is for. Most acquirers (client requests) are regular. A few background acquirers
// must not be starved by a flood of regular ones: purge, the checkpointer and index
// structure changes take it at Priority::kHigh. A stream of overlapping regular shared (S)
// holds can never keep a high-priority exclusive (X) request waiting indefinitely.
//
// Waiter classes, served in this order when the latch is released:
//   1. the high-priority next-writer   } an X acquirer that found only S holders reserves
//   2. the regular next-writer         } the latch (kNextWriter) and waits for them to drain;
//                                        there is at most one, so 1 and 2 never compete
//   3. high-priority X waiters (FIFO, by ticket), handed the latch one at a time
//   4. high-priority S waiters, all granted together
//   5. regular waiters (S and X), all woken together to compete for the latch again
// Classes 1-4 receive the latch by handoff: the releaser updates the state word on their
// behalf, so nobody can slip in between. Class 5 is woken, not handed the latch.
//
// Waiter-presence flags. kHighWaiters is set while any high-priority request waits (ticketed
// X or S). A regular request that sees it neither spins nor takes the latch: it goes straight
// to sleep behind the high-priority waiters, even if its S could be granted at once. This is
// what stops overlapping regular S holds from starving a high-priority X (the seed's
// correctness point). kWaiters is set while anyone sleeps, and sends the releaser through the
// slow path.
//
// Where a regular acquirer can still overtake a high-priority one (each is bounded):
//   a) A regular X that reserved the next-writer slot before the high-priority X arrived is
//      served first (class 2 before class 3, as in XtraDB: inherent to a single reservation).
//      Bound: one regular X hold, after the S holds present when it reserved.
//   b) Between a high-priority request failing its fast path and its setting kHighWaiters
//      under the wait mutex, regular requests are granted as usual (the seed's "spinning
//      window"). Bound: it closes as soon as the high-priority thread runs its next few
//      instructions; from then on no regular request is granted until it is.
//   c) A regular S that passed its fast-path check holds the latch until it releases it:
//      once kHighWaiters is set, the high-priority X waits at most for the S holders present
//      at that moment (each a finite critical section) and for case a).
// So a high-priority X waits for at most: the current holders, one reserved regular X, and
// the high-priority X waiters ahead of it; never for regular requests that arrive after it.
// A regular waiter (class 5) has no such bound: it may lose the race after each wake-up
// (tests/sync/priority_test.cc shows both). Regular X does reserve the next-writer slot
// against S holders, so a pure reader flood does not starve a regular writer either.
//
// State word (32 bits, the only word the fast paths touch):
//   bits 0..23  kReaderMask  number of S holders (plus S grants handed to waiters)
//   bit 24      kWriter      an X holder (or an X handed to a waiter)
//   bit 25      kNextWriter  an X acquirer has reserved the latch and waits for S to drain;
//                            blocks every new S
//   bit 26      kHighWaiters high-priority requests sleep (presence flag)
//   bit 27      kWaiters     someone sleeps (presence flag): releases take the slow path
// Fast paths: lock_shared = one CAS adding a reader; lock (uncontended) = one CAS 0 -> kWriter;
// unlock_shared = one fetch_sub (slow path only if it was the last reader and kWaiters is
// set); unlock = one CAS kWriter -> 0.
//
// Slow path. The waiter bookkeeping (counts, tickets, grants) is guarded by an internal
// sync::Mutex. A waiter registers under it with one CAS that either takes the latch (if its
// class may) or sets the presence flags: since both releases and registrations change the
// same word, a release either sees the flag (and dispatches under the mutex) or happened
// before the registration (which then takes the latch). No wake-up is lost. Sleepers park on
// one futex word per class (never on a pointer to their own stack), so the latch works in
// memory shared between processes.
//
// Memory order: every acquisition is an acquire CAS (or, for a handoff, the waiter's acquire
// load of its class word, which the dispatcher bumped with release after its acq_rel CAS on
// the state word read the previous holder's release); every release is a release RMW.
//
// Not recursive; an S holder must not request X (self-deadlock, as with any RW lock).
// Thread safety: this is the synchronisation. Process safety: see Sharing.
#pragma once

#include <atomic>
#include <cstdint>

#include "sync/futex.h"
#include "sync/mutex.h"
#include "sync/thread_annotations.h"

namespace ringdb::sync {

class LatchStats;

enum class Priority : uint8_t { kRegular = 0, kHigh = 1 };

// Sleeping waiters by class, for tests and diagnostics (a consistent cut).
struct LatchWaiters {
  uint32_t next_writer = 0;  // 0 or 1: the reserved X sleeps until S holders drain
  bool next_writer_high = false;
  uint32_t high_x = 0;
  uint32_t high_s = 0;
  uint32_t regular = 0;
};

class CAPABILITY("latch") PriorityRwLatch {
 public:
  // Upper bound of concurrent S holders (the reader field's width).
  static constexpr uint32_t kReadersMax = (1u << 24) - 1;

  PriorityRwLatch() = default;
  explicit PriorityRwLatch(Sharing sharing) : sharing_(sharing), wait_mu_(sharing) {}
  // A process-private latch that records into `stats` (may be nullptr).
  explicit PriorityRwLatch(LatchStats* stats) : stats_(stats) {}
  PriorityRwLatch(const PriorityRwLatch&) = delete;
  PriorityRwLatch& operator=(const PriorityRwLatch&) = delete;

  void lock(Priority priority = Priority::kRegular) ACQUIRE() {
    uint32_t expected = 0;
    if (state_.compare_exchange_strong(expected, kWriter, std::memory_order_acquire,
                                       std::memory_order_relaxed)) [[likely]] {
      if (stats_ != nullptr) [[unlikely]]
        on_acquired(false, true, 0);
      return;
    }
    lock_slow(priority);
  }

  // Takes X if its class may have it now (never reserves, never waits).
  bool try_lock(Priority priority = Priority::kRegular) TRY_ACQUIRE(true);

  void unlock() RELEASE() {
    if (stats_ != nullptr) [[unlikely]]
      on_release_exclusive();
    uint32_t expected = kWriter;
    if (state_.compare_exchange_strong(expected, 0, std::memory_order_release,
                                       std::memory_order_relaxed)) [[likely]]
      return;
    unlock_slow();
  }

  void lock_shared(Priority priority = Priority::kRegular) ACQUIRE_SHARED() {
    uint32_t s = state_.load(std::memory_order_relaxed);
    if ((s & blocks_shared(priority)) == 0 &&
        state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire,
                                     std::memory_order_relaxed)) [[likely]] {
      if (stats_ != nullptr) [[unlikely]]
        on_acquired(false, false, 0);
      return;
    }
    lock_shared_slow(priority);
  }

  bool try_lock_shared(Priority priority = Priority::kRegular) TRY_ACQUIRE_SHARED(true);

  void unlock_shared() RELEASE_SHARED() {
    if (stats_ != nullptr) [[unlikely]]
      on_release_shared();
    uint32_t prev = state_.fetch_sub(1, std::memory_order_release);
    if ((prev & kReaderMask) == 1 && (prev & kWaiters) != 0) [[unlikely]]
      dispatch(0);
  }

  LatchWaiters waiters() const;
  bool has_high_priority_waiters() const {
    return (state_.load(std::memory_order_relaxed) & kHighWaiters) != 0;
  }
  // Racy snapshots for tests and diagnostics.
  uint32_t shared_holders() const { return state_.load(std::memory_order_relaxed) & kReaderMask; }
  // True while an X acquirer has reserved the latch (it waits for S holders to drain).
  bool has_next_writer() const {
    return (state_.load(std::memory_order_relaxed) & kNextWriter) != 0;
  }
  bool is_locked_exclusive() const {
    return (state_.load(std::memory_order_relaxed) & kWriter) != 0;
  }

  void assert_held() const ASSERT_CAPABILITY(this) {}
  void assert_held_shared() const ASSERT_SHARED_CAPABILITY(this) {}

 private:
  static constexpr uint32_t kReaderMask = (1u << 24) - 1;
  static constexpr uint32_t kWriter = 1u << 24;
  static constexpr uint32_t kNextWriter = 1u << 25;
  static constexpr uint32_t kHighWaiters = 1u << 26;
  static constexpr uint32_t kWaiters = 1u << 27;

  // State bits that stop a new S request of this priority.
  static constexpr uint32_t blocks_shared(Priority p) {
    return p == Priority::kHigh ? (kWriter | kNextWriter) : (kWriter | kNextWriter | kHighWaiters);
  }
  // State bits that stop a new X request of this priority from taking or reserving.
  static constexpr uint32_t blocks_exclusive(Priority p) { return blocks_shared(p); }

  enum class Grab : uint8_t { kNone, kAcquired, kReserved };

  // What a dispatch decided: the new state word and which classes it served.
  struct Dispatch {
    uint32_t state = 0;
    bool grant_next_writer = false;
    bool grant_high_x = false;
    bool grant_high_s = false;
    bool wake_regular = false;
  };

  template <typename TryGrab, typename Sleep>
  void spin_then_sleep(Priority priority, TryGrab try_grab, Sleep sleep);
  void lock_slow(Priority priority);
  void lock_shared_slow(Priority priority);
  void unlock_slow();
  Grab try_grab_exclusive(uint32_t& s, Priority priority);
  bool try_grab_shared(uint32_t& s, Priority priority);
  void wait_for_readers_to_drain(bool high);
  bool sleep_for_exclusive(Priority priority);
  bool sleep_for_shared(Priority priority);
  void dispatch(uint32_t release);
  Dispatch plan_dispatch_locked(uint32_t s) const REQUIRES(wait_mu_);

  void on_acquired(bool contended, bool exclusive, int64_t wait_start_ns);
  void on_release_exclusive();
  void on_release_shared();

  std::atomic<uint32_t> state_{0};
  Sharing sharing_ = Sharing::kProcessPrivate;
  LatchStats* stats_ = nullptr;
  int64_t x_hold_start_ns_ = 0;  // written by the X holder only

  // Slow path. Each futex word is bumped (under wait_mu_) whenever its class is served.
  mutable Mutex wait_mu_;
  std::atomic<uint32_t> next_writer_word_{0};
  std::atomic<uint32_t> high_x_served_{0};  // tickets below this value have been granted
  std::atomic<uint32_t> high_s_word_{0};
  std::atomic<uint32_t> regular_word_{0};
  uint32_t next_writer_sleeping_ GUARDED_BY(wait_mu_) = 0;
  bool next_writer_high_ GUARDED_BY(wait_mu_) = false;
  uint32_t high_x_next_ticket_ GUARDED_BY(wait_mu_) = 0;
  uint32_t high_s_sleeping_ GUARDED_BY(wait_mu_) = 0;
  uint32_t regular_sleeping_ GUARDED_BY(wait_mu_) = 0;
};

class SCOPED_CAPABILITY ExclusiveGuard {
 public:
  explicit ExclusiveGuard(PriorityRwLatch& latch, Priority priority = Priority::kRegular)
      ACQUIRE(latch)
      : latch_(latch) {
    latch_.lock(priority);
  }
  ~ExclusiveGuard() RELEASE() { latch_.unlock(); }
  ExclusiveGuard(const ExclusiveGuard&) = delete;
  ExclusiveGuard& operator=(const ExclusiveGuard&) = delete;

 private:
  PriorityRwLatch& latch_;
};

class SCOPED_CAPABILITY SharedGuard {
 public:
  explicit SharedGuard(PriorityRwLatch& latch, Priority priority = Priority::kRegular)
      ACQUIRE_SHARED(latch)
      : latch_(latch) {
    latch_.lock_shared(priority);
  }
  ~SharedGuard() RELEASE() { latch_.unlock_shared(); }
  SharedGuard(const SharedGuard&) = delete;
  SharedGuard& operator=(const SharedGuard&) = delete;

 private:
  PriorityRwLatch& latch_;
};

}  // namespace ringdb::sync
