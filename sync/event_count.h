// EventCount: lets threads of one process sleep until another thread reports that the
// condition they check may have changed (after folly::EventCount). Users: libringdb's
// blocking submit (waiting for a free request context or request-area space without
// polling) and the daemon's background threads (the log writer, the checkpointer, purge, the
// admin server's slow-command thread), which sleep until there is work or a tick is due.
//
// Protocol (a waiter, then a notifier):
//   waiter:   key = prepare_wait(); if (condition()) { cancel_wait(); done; } wait(key);
//             then check the condition again (a wake-up says "maybe", never "yes").
//   notifier: make the condition true (under the lock that guards it), then notify_*().
// No wake-up is lost: the waiter registers (`waiters_`, seq_cst) before it reads `epoch_`
// (seq_cst); the notifier bumps `epoch_` (seq_cst) before it reads `waiters_` (seq_cst).
// Either the notifier sees the waiter and makes the FUTEX_WAKE system call, or the waiter's
// read of `epoch_` comes after the bump: then its condition check sees the change, or its
// FUTEX_WAIT finds `epoch_ != key` and returns at once. A notifier with no waiter makes no
// system call.
//
// Fairness: none. A woken waiter competes with threads that never slept; one that loses goes
// back to sleep. A wait may have a timeout (a tick, or a client that looks at its session's
// liveness between waits).
//
// State: `epoch_` (futex word; wraps harmlessly, only equality with a key matters) and
// `waiters_` (threads between prepare_wait and the end of wait/cancel_wait).
//
// Thread safety: every method may be called concurrently. Process-private futex: the object
// lives in one process's own memory, never in a shared segment.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "sync/futex.h"

namespace ringdb::sync {

class EventCount {
 public:
  using Key = uint32_t;

  Key prepare_wait() {
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    return epoch_.load(std::memory_order_seq_cst);
  }
  void cancel_wait() { waiters_.fetch_sub(1, std::memory_order_relaxed); }
  // Sleeps until a notify after prepare_wait() returned `key`, or `timeout` (negative: none).
  // Returns false on timeout. REQUIRES: prepare_wait() returned `key`, and neither wait nor
  // cancel_wait ran since.
  bool wait(Key key, std::chrono::nanoseconds timeout = std::chrono::nanoseconds{-1}) {
    const FutexWaitResult r = futex_wait(&epoch_, key, Sharing::kProcessPrivate, timeout);
    waiters_.fetch_sub(1, std::memory_order_relaxed);
    return r != sync::FutexWaitResult::kTimedOut;
  }

  void notify_one() { notify(1); }
  void notify_all() { notify(INT32_MAX); }

 private:
  void notify(int count) {
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    if (waiters_.load(std::memory_order_seq_cst) != 0) {
      futex_wake(&epoch_, count, Sharing::kProcessPrivate);
    }
  }

  std::atomic<uint32_t> epoch_{0};
  std::atomic<uint32_t> waiters_{0};
};

}  // namespace ringdb::sync
