// The wake-up protocol (docs/PROTOCOL.md section 3), one copy for every side that uses it:
// clients and the log's completions wake a worker, the worker goes to sleep.
//
// A worker about to sleep stores need_wakeup = 1 on its board line, makes a full fence, reads
// its doorbell word, looks once more for work, and futex-waits on the word it read. Whoever
// gives it work publishes the work, makes a full fence, and rings the doorbell only if it
// reads need_wakeup != 0. The two fences make a Dekker pair: either the producer sees the
// flag and rings (the bell moves, so the wait returns at once or is woken), or the worker's
// second look sees the work. A busy worker thus costs its producers no system call.
//
// Thread and process safety: any thread of any process that maps the board and doorbells.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "shm/wire.h"
#include "sync/fence.h"
#include "sync/futex.h"

namespace ringdb::shm {

// Wakes the worker waiting on `bell` (or makes its next wait return at once).
inline void ring(Doorbell& bell) {
  bell.bell.fetch_add(1, std::memory_order_release);
  sync::futex_wake(&bell.bell, 1, sync::Sharing::kProcessShared);
}

// The producer's half, after the work is published.
inline void wake_if_sleeping(const std::atomic<uint32_t>& need_wakeup, Doorbell& bell) {
  sync::full_fence();
  if (need_wakeup.load(std::memory_order_relaxed) != 0) ring(bell);
}

// The worker's half. Returns the doorbell word to pass to sleep() after the second look.
inline uint32_t announce_sleep(BoardWorker& line, const Doorbell& bell) {
  line.need_wakeup.store(1, std::memory_order_relaxed);
  sync::full_fence();
  return bell.bell.load(std::memory_order_acquire);
}
// Waits until the doorbell moves past `seen`, or `timeout` passes (negative: none). A spurious
// return is harmless: look again.
inline void sleep(Doorbell& bell, uint32_t seen,
                  std::chrono::nanoseconds timeout = std::chrono::nanoseconds{-1}) {
  static_cast<void>(sync::futex_wait(&bell.bell, seen, sync::Sharing::kProcessShared, timeout));
}
inline void end_sleep(BoardWorker& line) {
  line.need_wakeup.store(0, std::memory_order_relaxed);
}

}  // namespace ringdb::shm
