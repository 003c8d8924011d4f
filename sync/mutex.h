// Mutex: a futex-based exclusive latch that makes no system call when uncontended.
//
// Design (after the "ideal" lock of Berkeley DB's mutex README, which a futex makes real):
//   lock:   one CAS 0 -> kLocked. On failure, test-and-test-and-set with bounded
//           exponential backoff (sync/spin.h), then register as a sleeper and park on the
//           futex until the lock word changes.
//   unlock: one atomic subtract clears kLocked; only if the word shows sleepers does it make
//           the FUTEX_WAKE system call, for exactly one of them.
// Woken sleepers compete with newcomers (barging): throughput over strict FIFO. A sleeper
// that loses parks again; with the holder's critical sections finite, everyone progresses
// in practice, but there is no FIFO guarantee. Use PriorityRwLatch where order matters.
//
// State word (32 bits):
//   bit 0       kLocked
//   bits 1..31  number of threads registered to sleep (registered before they park, so
//               unlock never misses one; a sleeper deregisters when it wakes)
//
// Memory order: acquiring CASes use acquire, unlock uses release, so a critical section
// happens-before the next. Sleeper registration is relaxed-then-futex: the futex syscall
// compares the whole word, so a sleeper whose view is stale returns at once and retries.
//
// Process sharing: with Sharing::kProcessShared the object may be placed (by placement new)
// in memory mapped by several processes; its only pointer (statistics) stays null in that
// mode, so nothing in it is process-specific. A process that
// dies holding it leaves it held: the daemon never shares a Mutex with an untrusted client.
//
// Not recursive. Thread safety: this is the synchronisation; see the annotations.
//
// WordMutex is the same lock in its state word alone (4 bytes): process-private, no
// statistics. For locks that exist by the million, such as a version chain's (one per key).
#pragma once

#include <atomic>
#include <cstdint>

#include "sync/futex.h"
#include "sync/thread_annotations.h"

namespace ringdb::sync {

class LatchStats;

// The state word's protocol (above), shared by Mutex and WordMutex.
namespace mutex_word {
inline constexpr uint32_t kLocked = 1;
inline constexpr uint32_t kSleeper = 2;
// Tries to take the lock in one CAS from free.
inline bool try_fast(std::atomic<uint32_t>& state) {
  uint32_t expected = 0;
  return state.compare_exchange_strong(expected, kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed);
}
// Spins with backoff, then sleeps on the futex, until it holds the lock.
void lock_slow(std::atomic<uint32_t>& state, Sharing sharing);
// Releases the lock; wakes one sleeper if any registered.
inline void unlock(std::atomic<uint32_t>& state, Sharing sharing) {
  // The holder knows bit 0 is set, so subtracting it clears it: one `lock xadd` (a
  // fetch_and whose result is used compiles to a CAS loop on x86).
  const uint32_t prev = state.fetch_sub(kLocked, std::memory_order_release);
  if ((prev & ~kLocked) != 0) [[unlikely]]
    futex_wake(&state, 1, sharing);
}
}  // namespace mutex_word

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  explicit Mutex(Sharing sharing) : sharing_(sharing) {}
  // A process-private mutex that records into `stats` (may be nullptr: no statistics).
  explicit Mutex(LatchStats* stats) : stats_(stats) {}
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() {
    if (mutex_word::try_fast(state_)) [[likely]] {
      if (stats_ != nullptr) [[unlikely]]
        on_acquired_uncontended();
      return;
    }
    lock_slow();
  }

  bool try_lock() TRY_ACQUIRE(true) {
    uint32_t s = state_.load(std::memory_order_relaxed);
    while ((s & kLocked) == 0) {
      if (state_.compare_exchange_weak(s, s | kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        if (stats_ != nullptr) [[unlikely]]
          on_acquired_uncontended();
        return true;
      }
    }
    return false;
  }

  void unlock() RELEASE() {
    if (stats_ != nullptr) [[unlikely]]
      on_release();
    mutex_word::unlock(state_, sharing_);
  }

  // For tests and diagnostics: a racy snapshot.
  bool is_locked() const { return (state_.load(std::memory_order_relaxed) & kLocked) != 0; }
  uint32_t sleepers() const { return state_.load(std::memory_order_relaxed) >> 1; }

  // Tells the thread-safety analysis that the caller holds this mutex.
  void assert_held() const ASSERT_CAPABILITY(this) {}

 private:
  static constexpr uint32_t kLocked = mutex_word::kLocked;

  void lock_slow();
  void on_acquired_uncontended();
  void on_release();

  std::atomic<uint32_t> state_{0};
  Sharing sharing_ = Sharing::kProcessPrivate;
  LatchStats* stats_ = nullptr;
  int64_t hold_start_ns_ = 0;  // written by the holder only
};

class CAPABILITY("mutex") WordMutex {
 public:
  WordMutex() = default;
  WordMutex(const WordMutex&) = delete;
  WordMutex& operator=(const WordMutex&) = delete;

  void lock() ACQUIRE() {
    if (!mutex_word::try_fast(state_)) [[unlikely]]
      mutex_word::lock_slow(state_, Sharing::kProcessPrivate);
  }
  void unlock() RELEASE() { mutex_word::unlock(state_, Sharing::kProcessPrivate); }
  // For tests and diagnostics: racy snapshots.
  bool is_locked() const {
    return (state_.load(std::memory_order_relaxed) & mutex_word::kLocked) != 0;
  }
  uint32_t sleepers() const { return state_.load(std::memory_order_relaxed) >> 1; }
  void assert_held() const ASSERT_CAPABILITY(this) {}

 private:
  std::atomic<uint32_t> state_{0};
};
static_assert(sizeof(WordMutex) == 4);

// Scoped guard (a Mutex or a WordMutex): locks on construction, unlocks on destruction.
template <typename M>
class SCOPED_CAPABILITY MutexGuard {
 public:
  explicit MutexGuard(M& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexGuard() RELEASE() { mu_.unlock(); }
  MutexGuard(const MutexGuard&) = delete;
  MutexGuard& operator=(const MutexGuard&) = delete;

 private:
  M& mu_;
};

}  // namespace ringdb::sync
