#include "shm/bus_guard.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace ringdb::shm {
namespace {

struct Range {
  std::atomic<uintptr_t> base{0};  // 0: free
  std::atomic<size_t> size{0};
  std::atomic<bool> poisoned{false};
};

Range g_ranges[BusGuard::kRangesMax];
std::mutex g_table_mutex;
std::atomic<int> g_notify_fd{-1};  // serialises add/remove; the handler does not take it

void on_sigbus(int signo, siginfo_t* info, void*) {
  // Only a fault (si_code > 0) has an address. In a SIGBUS sent with kill() or sigqueue() the
  // same bytes are the sender's pid and uid, or whatever it wrote: they select no range.
  const bool fault = info->si_code > 0;
  const auto addr = fault ? reinterpret_cast<uintptr_t>(info->si_addr) : 0;
  for (Range& r : g_ranges) {
    const uintptr_t base = r.base.load(std::memory_order_acquire);
    if (base == 0 || addr < base || addr - base >= r.size.load(std::memory_order_relaxed)) {
      continue;
    }
    void* p = mmap(reinterpret_cast<void*>(base), r.size.load(std::memory_order_relaxed),
                   PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
      r.poisoned.store(true, std::memory_order_release);
      if (const int fd = g_notify_fd.load(std::memory_order_acquire); fd >= 0) {
        const uint64_t one = 1;
        [[maybe_unused]] const ssize_t n = write(fd, &one, sizeof one);  // async-signal-safe
      }
      return;  // the access is retried on the anonymous pages
    }
    break;
  }
  // Not ours (or we could not repair it): die of it as if no handler were installed. A fault
  // recurs when the access is retried; a sent signal does not, so it is raised again (it is
  // delivered at once: SA_NODEFER).
  signal(signo, SIG_DFL);
  if (!fault) raise(signo);
}

}  // namespace

void BusGuard::install() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action = {};
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, nullptr);
  });
}

void BusGuard::set_notify_fd(int eventfd) {
  g_notify_fd.store(eventfd, std::memory_order_release);
}

int BusGuard::add(void* base, size_t size) {
  std::lock_guard lock(g_table_mutex);
  for (int i = 0; i < kRangesMax; ++i) {
    Range& r = g_ranges[i];
    if (r.base.load(std::memory_order_relaxed) != 0) continue;
    r.poisoned.store(false, std::memory_order_relaxed);
    r.size.store(size, std::memory_order_relaxed);
    r.base.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
    return i;
  }
  return -1;
}

void BusGuard::remove(int handle) {
  if (handle < 0) return;
  std::lock_guard lock(g_table_mutex);
  g_ranges[handle].base.store(0, std::memory_order_release);
}

bool BusGuard::poisoned(int handle) {
  return handle >= 0 && g_ranges[handle].poisoned.load(std::memory_order_acquire);
}

}  // namespace ringdb::shm
