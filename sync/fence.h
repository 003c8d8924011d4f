#pragma once

#include <atomic>

namespace ringdb::sync {

// A sequentially consistent fence, for the Dekker-style handshakes of the wake-up protocol
// (publish, fence, read the other side's flag). GCC's ThreadSanitizer does not model fences
// and warns about them (-Wtsan, an error with -Werror); ours pair with fences in another
// process, which TSan cannot see either way, so nothing is lost by silencing it. The builtin,
// not std::atomic_thread_fence: GCC reports the warning inside <atomic>, where a pragma at
// the call site would not reach.
inline void full_fence() {
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#pragma GCC diagnostic pop
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

// Acquire and release fences, for seqlock-style readers and writers (the index's optimistic
// reads: btree.cc). Silenced under GCC's TSan as above: there every datum such a fence orders
// is itself an atomic, so TSan reports no race it cannot order.
inline void acquire_fence() {
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
#pragma GCC diagnostic pop
#else
  std::atomic_thread_fence(std::memory_order_acquire);
#endif
}

inline void release_fence() {
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
  __atomic_thread_fence(__ATOMIC_RELEASE);
#pragma GCC diagnostic pop
#else
  std::atomic_thread_fence(std::memory_order_release);
#endif
}

}  // namespace ringdb::sync
