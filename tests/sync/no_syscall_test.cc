// Uncontended Mutex and PriorityRwLatch operations, and EventCount notifies with nobody
// waiting, make no system call: a forked child
// installs a seccomp filter that kills it on any futex(2) call, then locks and unlocks a
// million times. Without the property the child dies of SIGSYS and the test fails.
#include <doctest/doctest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>

#include "sync/event_count.h"
#include "sync/mutex.h"
#include "sync/priority_rw_latch.h"

namespace ringdb::sync {
namespace {

// Returns false if the filter could not be installed.
bool forbid_futex() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

// Runs `body` in a child that may not call futex(2); returns the child's wait status.
template <typename Body>
int run_without_futex(Body body) {
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (!forbid_futex()) _exit(77);
    body();
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  return status;
}

void check_clean_exit(int status) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
    MESSAGE("skipped: seccomp filters are not available here");
    return;
  }
  INFO("child ended by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0)
                                << " (SIGSYS = a futex call)");
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

constexpr int kRounds = 1'000'000;

TEST_CASE("No system call: uncontended Mutex lock, try_lock and unlock") {
  check_clean_exit(run_without_futex([] {
    Mutex mu;
    for (int i = 0; i < kRounds; ++i) {
      mu.lock();
      mu.unlock();
      if (mu.try_lock()) mu.unlock();
    }
  }));
}

TEST_CASE("No system call: uncontended PriorityRwLatch S and X at both priorities") {
  check_clean_exit(run_without_futex([] {
    PriorityRwLatch latch;
    for (int i = 0; i < kRounds; ++i) {
      const Priority p = (i & 1) != 0 ? Priority::kHigh : Priority::kRegular;
      latch.lock_shared(p);
      latch.lock_shared(p);
      latch.unlock_shared();
      latch.unlock_shared();
      latch.lock(p);
      latch.unlock();
    }
  }));
}

TEST_CASE("No system call: the filter itself catches a futex call") {
  // Proves the two tests above can fail.
  const int status = run_without_futex([] {
    std::atomic<uint32_t> word{0};
    futex_wake(&word, 1, Sharing::kProcessPrivate);
  });
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) return;
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGSYS);
}

TEST_CASE("No system call: EventCount notify with nobody waiting, and a cancelled wait") {
  check_clean_exit(run_without_futex([] {
    EventCount ec;
    for (int i = 0; i < kRounds; ++i) {
      ec.notify_one();
      ec.notify_all();
      ec.prepare_wait();
      ec.cancel_wait();
    }
  }));
}

}  // namespace
}  // namespace ringdb::sync
