// Spinning helpers shared by the latches: a CPU pause and a bounded exponential backoff.
//
// Spinning only pays when the holder is running on another core and releases soon. On a
// machine with fewer cores than runnable threads the holder is often preempted, so every spin
// loop in sync/ is bounded (`kSpinRoundsMax` rounds, at most `kBackoffPausesMax` pauses each)
// and then parks in the kernel.
#pragma once

#include <cstdint>

namespace ringdb::sync {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#else
  asm volatile("" ::: "memory");
#endif
}

// Asks for the cache line at `p` in a state that allows writing (x86 PREFETCHW), so that a
// line another core wrote, and that this core will read and then write, crosses once. A
// hint: no fault, whatever `p` is.
inline void prefetch_for_write(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" ::"m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 1);
#endif
}

// Bounded exponential backoff: round k pauses min(2^k, kBackoffPausesMax) times.
class Backoff {
 public:
  static constexpr uint32_t kSpinRoundsMax = 12;
  static constexpr uint32_t kBackoffPausesMax = 128;

  // Pauses for the current round; returns false once the spin budget is spent.
  bool spin() {
    if (round_ >= kSpinRoundsMax) return false;
    uint32_t pauses = 1u << round_;
    if (pauses > kBackoffPausesMax) pauses = kBackoffPausesMax;
    for (uint32_t i = 0; i < pauses; ++i)
      cpu_relax();
    ++round_;
    return true;
  }

 private:
  uint32_t round_ = 0;
};

}  // namespace ringdb::sync
