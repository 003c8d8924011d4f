#include "daemon/service/stall_hook.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "sync/clock.h"
#include "sync/spin.h"

namespace ringdb::daemon {
namespace {

std::atomic<int64_t> g_stall_until_ns{0};
static_assert(std::atomic<int64_t>::is_always_lock_free);  // read in a signal handler
// Static TLS of the executable (initial-exec): safe to read in a signal handler.
thread_local std::atomic<uint32_t>* t_asleep = nullptr;

// Runs on the stalled thread. Only lock-free atomics, clock_gettime (async-signal-safe) and
// a pause instruction.
void spin_until_deadline(int) {
  if (t_asleep != nullptr) t_asleep->store(0, std::memory_order_relaxed);
  while (sync::now_ns() < g_stall_until_ns.load(std::memory_order_relaxed))
    sync::cpu_relax();
}

int stall_signal() {
  return SIGRTMIN + 1;
}

}  // namespace

void register_stall_target(std::atomic<uint32_t>* asleep) {
  t_asleep = asleep;
}

bool stall_thread_for_test(pid_t tid, int64_t ms) {
  static std::once_flag installed;
  std::call_once(installed, [] {
    struct sigaction action = {};
    action.sa_handler = spin_until_deadline;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: an interrupted futex wait returns
    sigaction(stall_signal(), &action, nullptr);
  });
  const int64_t until = sync::now_ns() + ms * 1'000'000;
  int64_t previous = g_stall_until_ns.load(std::memory_order_relaxed);
  while (previous < until && !g_stall_until_ns.compare_exchange_weak(previous, until)) {
  }
  return syscall(SYS_tgkill, getpid(), tid, stall_signal()) == 0;
}

}  // namespace ringdb::daemon
