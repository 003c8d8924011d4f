// Process-shared latches: fork()ed processes use a Mutex and a PriorityRwLatch built with
// Sharing::kProcessShared by placement new in a MAP_SHARED|MAP_ANONYMOUS mapping. Stress
// cases check no lost update, exclusion and consistent reads across processes; hand-off
// cases check that a process sleeping on a latch is woken by another process's release.
// Children touch only the mapping and the latches, and leave by _exit(), never returning
// into the test runner. A watchdog kills children that hang, so a hang fails the test.
#include <doctest/doctest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "sync/futex.h"
#include "sync/mutex.h"
#include "sync/priority_rw_latch.h"

namespace ringdb::sync {
namespace {

using namespace std::chrono_literals;

constexpr int kProcesses = 4;
constexpr int kIterations = 25000;

// Child exit codes.
constexpr int kChildOk = 0;
constexpr int kChildInconsistent = 1;  // a != b under the latch, or a write not yet visible
constexpr int kChildTimedOut = 2;      // a bounded poll in the child gave up

struct SharedRegion {
  Mutex mutex{Sharing::kProcessShared};
  PriorityRwLatch latch{Sharing::kProcessShared};
  uint64_t counter = 0;  // guarded by `mutex`
  uint64_t a = 0;        // guarded by `latch`; a == b whenever no X holder is inside
  uint64_t b = 0;
  std::atomic<uint32_t> child_holds{0};  // set by a child once it holds a latch
  std::atomic<uint32_t> started{0};      // stress children that reached the start line
};
static_assert(sizeof(SharedRegion) <= 4096, "the region fits the one page mapped");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "atomics work across processes");

class SharedMapping {
 public:
  SharedMapping() {
    memory_ = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(memory_ != MAP_FAILED);
    region_ = new (memory_) SharedRegion;
  }
  ~SharedMapping() {
    region_->~SharedRegion();
    munmap(memory_, kBytes);
  }
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;

  SharedRegion& region() { return *region_; }

 private:
  static constexpr size_t kBytes = 4096;
  void* memory_ = nullptr;
  SharedRegion* region_ = nullptr;
};

// Forks a child that runs body() and leaves with its result.
template <typename Body>
pid_t fork_child(Body body) {
  // Unflushed output would be inherited, and written again if the child flushed it.
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) _exit(body());  // never return into the test runner
  return pid;
}

// Reaps every child and returns their wait statuses. A watchdog thread kills the children if
// they have not all finished within `limit`, so a hang shows up as a signalled child.
std::vector<int> wait_for_children(const std::vector<pid_t>& children,
                                   std::chrono::seconds limit = 120s) {
  std::atomic<uint32_t> reaped{0};
  std::thread watchdog([&] {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (reaped.load() == 0) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= 0ns) {
        for (pid_t pid : children)
          kill(pid, SIGKILL);
        return;
      }
      futex_wait(&reaped, 0, Sharing::kProcessPrivate, left);
    }
  });
  std::vector<int> statuses;
  for (pid_t pid : children) {
    int status = 0;
    pid_t r = 0;
    do {
      r = waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    statuses.push_back(r == pid ? status : -1);
  }
  reaped.store(1);
  futex_wake_all(&reaped, Sharing::kProcessPrivate);
  watchdog.join();
  return statuses;
}

void check_clean_exits(const std::vector<int>& statuses) {
  for (size_t i = 0; i < statuses.size(); ++i) {
    const int status = statuses[i];
    CAPTURE(i);
    INFO("signalled: " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0)
                       << " (9 = killed by the watchdog: a hang)");
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == kChildOk);
  }
}

// In a child: polls `condition` for up to 60 s (no doctest here: it is the parent's).
template <typename Condition>
bool child_poll(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// In the parent, while children run: polls `condition`; on timeout the children are killed.
template <typename Condition>
void parent_poll(const std::vector<pid_t>& children, Condition condition, const char* what) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      for (pid_t pid : children) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
      FAIL("timed out waiting until " << std::string(what));  // a char* would print as an address
    }
    std::this_thread::yield();
  }
}

// In a stress child: waits until every stress child has started, so that they contend
// (forking one at a time would otherwise let each finish before the next begins).
bool start_together(SharedRegion& r) {
  r.started.fetch_add(1);
  return child_poll([&] { return r.started.load() == uint32_t{kProcesses}; });
}

TEST_CASE("Cross-process Mutex stress: exclusion and no lost update") {
  SharedMapping mapping;
  SharedRegion& r = mapping.region();
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    children.push_back(fork_child([&r] {
      if (!start_together(r)) return kChildTimedOut;
      for (int i = 0; i < kIterations; ++i) {
        r.mutex.lock();
        ++r.counter;
        // Now and then give up the CPU while holding it, so that the other processes exhaust
        // their spinning and sleep: the cross-process futex path is exercised too.
        if (i % 64 == 0) sched_yield();
        r.mutex.unlock();
      }
      return kChildOk;
    }));
  }
  check_clean_exits(wait_for_children(children));
  CHECK(r.counter == uint64_t{kProcesses} * kIterations);
  CHECK(r.mutex.sleepers() == 0);
  CHECK_FALSE(r.mutex.is_locked());
}

TEST_CASE("Cross-process Mutex: a child sleeping on it is woken by the parent's unlock") {
  SharedMapping mapping;
  SharedRegion& r = mapping.region();
  r.mutex.lock();
  const pid_t child = fork_child([&r] {
    r.mutex.lock();
    ++r.counter;
    r.mutex.unlock();
    return kChildOk;
  });
  parent_poll(
      {child}, [&] { return r.mutex.sleepers() >= 1; }, "the child sleeps on the mutex");
  r.mutex.unlock();
  check_clean_exits(wait_for_children({child}));
  CHECK(r.counter == 1);
  CHECK(r.mutex.sleepers() == 0);
}

TEST_CASE("Cross-process Mutex: a parent thread sleeping on it is woken by a child's unlock") {
  SharedMapping mapping;
  SharedRegion& r = mapping.region();
  const pid_t child = fork_child([&r] {
    r.mutex.lock();
    r.child_holds.store(1);
    // Release once the parent sleeps; release anyway on timeout so the parent never hangs.
    const bool parent_slept = child_poll([&] { return r.mutex.sleepers() >= 1; });
    r.mutex.unlock();
    return parent_slept ? kChildOk : kChildTimedOut;
  });
  parent_poll(
      {child}, [&] { return r.child_holds.load() == 1; }, "the child holds the mutex");
  // Locks in a thread (started after the fork), so that a lost wake-up fails the test below
  // instead of hanging it.
  std::atomic<bool> acquired{false};
  std::thread locker([&] {
    r.mutex.lock();  // sleeps until the child releases
    ++r.counter;
    r.mutex.unlock();
    acquired.store(true);
  });
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!acquired.load()) {
    if (std::chrono::steady_clock::now() > deadline) {
      FAIL_CHECK("the child's unlock never woke the parent");
      std::abort();  // the locker is asleep for good: it can be neither joined nor abandoned
    }
    std::this_thread::yield();
  }
  locker.join();
  check_clean_exits(wait_for_children({child}));
  CHECK(r.counter == 1);
}

// One child's share of the reader/writer mix: every 4th operation writes.
int reader_writer_mix(SharedRegion& r, int child) {
  if (!start_together(r)) return kChildTimedOut;
  for (int i = 0; i < kIterations; ++i) {
    // Child 0 is high priority throughout; the others use it for one operation in 8.
    const Priority p = (child == 0 || i % 8 == 0) ? Priority::kHigh : Priority::kRegular;
    if (i % 4 == 0) {
      r.latch.lock(p);
      const bool consistent = r.a == r.b;
      ++r.a;
      if (i % 64 == 0) sched_yield();  // readers and writers now sleep on the latch
      ++r.b;
      r.latch.unlock();
      if (!consistent) return kChildInconsistent;
    } else {
      r.latch.lock_shared(p);
      const bool consistent = r.a == r.b;
      r.latch.unlock_shared();
      if (!consistent) return kChildInconsistent;
    }
  }
  return kChildOk;
}

TEST_CASE("Cross-process PriorityRwLatch stress: readers see consistent data, no lost update") {
  SharedMapping mapping;
  SharedRegion& r = mapping.region();
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p)
    children.push_back(fork_child([&r, p] { return reader_writer_mix(r, p); }));
  check_clean_exits(wait_for_children(children));
  CHECK(r.a == uint64_t{kProcesses} * (kIterations / 4));
  CHECK(r.b == r.a);
  CHECK_FALSE(r.latch.is_locked_exclusive());
  CHECK(r.latch.shared_holders() == 0);
  CHECK_FALSE(r.latch.has_high_priority_waiters());
}

TEST_CASE("Cross-process PriorityRwLatch: a high-priority writer in a child gets the latch") {
  SharedMapping mapping;
  SharedRegion& r = mapping.region();
  r.latch.lock_shared();
  const pid_t child = fork_child([&r] {
    r.latch.lock(Priority::kHigh);
    ++r.a;
    ++r.b;
    r.latch.unlock();
    return kChildOk;
  });
  parent_poll(
      {child}, [&] { return r.latch.waiters().next_writer == 1; },
      "the child's X reserves the latch and sleeps");
  CHECK(r.latch.has_next_writer());
  r.latch.unlock_shared();  // the last reader leaves: the child is handed X
  check_clean_exits(wait_for_children({child}));
  CHECK(r.a == 1);
  CHECK(r.b == 1);
}

TEST_CASE("Cross-process PriorityRwLatch: high-priority readers in children are granted") {
  constexpr int kReaders = 2;
  SharedMapping mapping;
  SharedRegion& r = mapping.region();
  r.latch.lock();
  std::vector<pid_t> children;
  for (int i = 0; i < kReaders; ++i) {
    children.push_back(fork_child([&r] {
      r.latch.lock_shared(Priority::kHigh);
      const bool written = r.a == 1 && r.b == 1;  // the parent's X finished first
      r.latch.unlock_shared();
      return written ? kChildOk : kChildInconsistent;
    }));
  }
  parent_poll(
      children, [&] { return r.latch.waiters().high_s == kReaders; }, "both readers sleep");
  ++r.a;
  ++r.b;
  r.latch.unlock();
  check_clean_exits(wait_for_children(children));
  CHECK(r.latch.shared_holders() == 0);
}

TEST_CASE("Cross-process PriorityRwLatch: a regular reader in a child is woken") {
  SharedMapping mapping;
  SharedRegion& r = mapping.region();
  r.latch.lock();
  const pid_t child = fork_child([&r] {
    r.latch.lock_shared();
    const bool written = r.a == 1 && r.b == 1;
    r.latch.unlock_shared();
    return written ? kChildOk : kChildInconsistent;
  });
  parent_poll(
      {child}, [&] { return r.latch.waiters().regular == 1; }, "the reader sleeps");
  ++r.a;
  ++r.b;
  r.latch.unlock();
  check_clean_exits(wait_for_children({child}));
}

}  // namespace
}  // namespace ringdb::sync
