// Thin wrappers over futex(2) for 32-bit atomic words.
//
// A futex word is a std::atomic<uint32_t>; the kernel compares and sleeps on its address.
// Sharing::kProcessPrivate uses FUTEX_PRIVATE_FLAG (cheaper: the kernel keys the wait on the
// virtual address). Sharing::kProcessShared omits it, so the word may live in memory mapped
// by several processes (the kernel keys the wait on the physical page); both sides of a wait
// and its wake must use the same mode.
//
// Thread safety: all functions are safe to call concurrently. They never allocate.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace ringdb::sync {

// Whether a primitive may be used by more than one process through shared memory.
enum class Sharing : uint8_t { kProcessPrivate = 0, kProcessShared = 1 };

enum class FutexWaitResult : uint8_t {
  kWoken,         // a wake arrived (or a spurious wake-up: callers re-check their condition)
  kValueChanged,  // *word != expected on entry: nothing to wait for
  kTimedOut,
  kInterrupted,  // a signal handler ran
};

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
static_assert(std::atomic<uint32_t>::is_always_lock_free);

// Sleeps while *word == expected, until woken or `timeout` passes (relative, monotonic).
// A negative timeout means no timeout.
FutexWaitResult futex_wait(const std::atomic<uint32_t>* word, uint32_t expected, Sharing sharing,
                           std::chrono::nanoseconds timeout = std::chrono::nanoseconds{-1});

// Wakes at most `count` waiters on `word`; returns how many were woken.
int futex_wake(const std::atomic<uint32_t>* word, int count, Sharing sharing);

// Wakes every waiter on `word`.
int futex_wake_all(const std::atomic<uint32_t>* word, Sharing sharing);

// One word of futex_wait_any().
struct FutexWaitEntry {
  const std::atomic<uint32_t>* word;
  uint32_t expected;
  Sharing sharing;
};
inline constexpr size_t kFutexWaitAnyMax = 128;  // the kernel's FUTEX_WAITV_MAX

enum class FutexWaitAnyResult : uint8_t {
  kWoken,         // one of the words was woken (or spuriously): re-check them all
  kValueChanged,  // a word differed from its expected value on entry
  kTimedOut,
  kInterrupted,
  kUnsupported,  // the kernel predates FUTEX_WAITV (Linux 5.16)
};

// Sleeps while every entry's word equals its expected value, until a wake on any of them or
// `timeout` (relative, monotonic; negative: none). At most kFutexWaitAnyMax entries.
FutexWaitAnyResult futex_wait_any(const FutexWaitEntry* entries, size_t count,
                                  std::chrono::nanoseconds timeout);

}  // namespace ringdb::sync
