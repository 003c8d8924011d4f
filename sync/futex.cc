#include "sync/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <climits>
#include <ctime>

namespace ringdb::sync {
namespace {

int op_for(int op, Sharing sharing) {
  return sharing == Sharing::kProcessPrivate ? (op | FUTEX_PRIVATE_FLAG) : op;
}

long futex(const std::atomic<uint32_t>* word, int op, uint32_t val, const timespec* timeout) {
  // The kernel reads the word; it never writes it for FUTEX_WAIT/FUTEX_WAKE.
  return syscall(SYS_futex, reinterpret_cast<const uint32_t*>(word), op, val, timeout, nullptr, 0);
}

}  // namespace

FutexWaitResult futex_wait(const std::atomic<uint32_t>* word, uint32_t expected, Sharing sharing,
                           std::chrono::nanoseconds timeout) {
  timespec ts{};
  const timespec* tsp = nullptr;
  if (timeout.count() >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
    tsp = &ts;
  }
  if (futex(word, op_for(FUTEX_WAIT, sharing), expected, tsp) == 0) return FutexWaitResult::kWoken;
  switch (errno) {
    case EAGAIN:
      return FutexWaitResult::kValueChanged;
    case ETIMEDOUT:
      return FutexWaitResult::kTimedOut;
    case EINTR:
      return FutexWaitResult::kInterrupted;
    default:
      // EFAULT/EINVAL/ENOSYS mean a programming error (bad address or misaligned word).
      assert(false && "futex_wait failed");
      return FutexWaitResult::kWoken;
  }
}

int futex_wake(const std::atomic<uint32_t>* word, int count, Sharing sharing) {
  long woken = futex(word, op_for(FUTEX_WAKE, sharing), static_cast<uint32_t>(count), nullptr);
  assert(woken >= 0 && "futex_wake failed");
  return static_cast<int>(woken);
}

int futex_wake_all(const std::atomic<uint32_t>* word, Sharing sharing) {
  return futex_wake(word, INT_MAX, sharing);
}

}  // namespace ringdb::sync

namespace ringdb::sync {

FutexWaitAnyResult futex_wait_any(const FutexWaitEntry* entries, size_t count,
                                  std::chrono::nanoseconds timeout) {
  assert(count > 0 && count <= kFutexWaitAnyMax);
  futex_waitv waiters[kFutexWaitAnyMax] = {};
  for (size_t i = 0; i < count; ++i) {
    waiters[i].val = entries[i].expected;
    waiters[i].uaddr = reinterpret_cast<uintptr_t>(entries[i].word);
    waiters[i].flags = FUTEX_32 | (entries[i].sharing == Sharing::kProcessPrivate
                                       ? static_cast<uint32_t>(FUTEX_PRIVATE_FLAG)
                                       : 0u);
  }
  // FUTEX_WAITV takes an absolute time on the clock it is given.
  timespec deadline{};
  const timespec* tsp = nullptr;
  if (timeout.count() >= 0) {
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    const int64_t ns = deadline.tv_nsec + timeout.count() % 1'000'000'000;
    deadline.tv_sec += static_cast<time_t>(timeout.count() / 1'000'000'000 + ns / 1'000'000'000);
    deadline.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    tsp = &deadline;
  }
  const long r =
      syscall(SYS_futex_waitv, waiters, static_cast<unsigned>(count), 0u, tsp, CLOCK_MONOTONIC);
  if (r >= 0) return FutexWaitAnyResult::kWoken;
  switch (errno) {
    case EAGAIN:
      return FutexWaitAnyResult::kValueChanged;
    case ETIMEDOUT:
      return FutexWaitAnyResult::kTimedOut;
    case EINTR:
      return FutexWaitAnyResult::kInterrupted;
    case ENOSYS:
      return FutexWaitAnyResult::kUnsupported;
    default:
      assert(false && "futex_waitv failed");
      return FutexWaitAnyResult::kWoken;
  }
}

}  // namespace ringdb::sync
