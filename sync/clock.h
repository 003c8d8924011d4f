// Clocks, one copy for every room: monotonic time for latencies and timeouts (now_ns), a
// cheaper coarse one for ages shown to people (coarse_now_ns), and wall-clock time for what
// is written down for people or other processes (realtime_ns: file headers, start times).
//
// Thread safety: any thread. None of them makes a system call (the vDSO serves all three).
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>

namespace ringdb::sync {

// Monotonic nanoseconds (CLOCK_MONOTONIC).
inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Monotonic nanoseconds at the kernel tick's resolution (CLOCK_MONOTONIC_COARSE, 1-4 ms):
// a few ns instead of a few tens under a hypervisor. For ages shown to people, not latencies.
inline int64_t coarse_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Nanoseconds since the Unix epoch (CLOCK_REALTIME): it may step, so never for intervals.
inline uint64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace ringdb::sync
