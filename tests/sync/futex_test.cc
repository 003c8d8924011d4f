// futex wrappers: each FutexWaitResult (value changed, timed out, woken, interrupted), the
// count futex_wake returns, futex_wake_all, and process-shared wait and wake across fork().
// A waiter is proved to be blocked in the kernel by a wake that reports it (a wake without a
// change to the word only sends the waiter back to sleep) or by /proc/self/task/<tid>/syscall,
// never by sleeping.
#include "sync/futex.h"

#include <doctest/doctest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include "tests/sync/test_util.h"

namespace ringdb::sync {
namespace {

using namespace std::chrono_literals;
using test::wait_until;

constexpr Sharing kPrivate = Sharing::kProcessPrivate;
constexpr Sharing kShared = Sharing::kProcessShared;

// A thread that waits on `word` while it is 0, counting the waits that returned kWoken.
class Waiter {
 public:
  explicit Waiter(std::atomic<uint32_t>& word) : thread_([this, &word] { run(word); }) {}
  ~Waiter() { thread_.join(); }
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  pid_t tid() const { return tid_.load(); }  // 0 until the thread runs
  bool done() const { return done_.load(); }
  uint32_t woken() const { return woken_.load(); }
  uint32_t interrupted() const { return interrupted_.load(); }
  pthread_t native_handle() { return thread_.native_handle(); }

 private:
  void run(std::atomic<uint32_t>& word) {
    tid_.store(static_cast<pid_t>(syscall(SYS_gettid)));
    while (word.load() == 0) {
      const FutexWaitResult r = futex_wait(&word, 0, kPrivate);
      if (r == FutexWaitResult::kWoken) woken_.fetch_add(1);
      if (r == FutexWaitResult::kInterrupted) interrupted_.fetch_add(1);
    }
    done_.store(true);
  }

  std::atomic<pid_t> tid_{0};
  std::atomic<bool> done_{false};
  std::atomic<uint32_t> woken_{0};
  std::atomic<uint32_t> interrupted_{0};
  std::thread thread_;  // last: starts once the counters exist
};

enum class ThreadState : uint8_t { kBlockedOnWord, kOther, kUnknown };

// Whether thread `tid` of this process is off the CPU inside futex(2) on `word`, as
// /proc/self/task/<tid>/syscall shows ("<nr> <arg1> ..." while blocked, "running" on a CPU).
ThreadState futex_state(pid_t tid, const void* word) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
  std::FILE* file = std::fopen(path, "r");
  if (file == nullptr) return ThreadState::kUnknown;
  long nr = -1;
  unsigned long long arg1 = 0;
  const int fields = std::fscanf(file, "%ld %llx", &nr, &arg1);
  std::fclose(file);
  if (fields == 2 && nr == SYS_futex && arg1 == reinterpret_cast<uintptr_t>(word))
    return ThreadState::kBlockedOnWord;
  return ThreadState::kOther;
}

// Changes the word, then wakes until every waiter has seen the change and left.
void release_all(std::atomic<uint32_t>& word, const std::vector<const Waiter*>& waiters) {
  word.store(1);
  wait_until(
      [&] {
        futex_wake_all(&word, kPrivate);
        for (const Waiter* w : waiters)
          if (!w->done()) return false;
        return true;
      },
      "every waiter saw the change");
}

TEST_CASE("futex_wait: returns kValueChanged when the word differs from the expected value") {
  std::atomic<uint32_t> word{5};
  CHECK(futex_wait(&word, 4, kPrivate) == FutexWaitResult::kValueChanged);
  CHECK(futex_wait(&word, 4, kShared) == FutexWaitResult::kValueChanged);
  CHECK(futex_wait(&word, 4, kPrivate, 1ms) == FutexWaitResult::kValueChanged);
}

TEST_CASE("futex_wait: returns kTimedOut when nobody wakes it") {
  std::atomic<uint32_t> word{0};
  const auto start = std::chrono::steady_clock::now();
  CHECK(futex_wait(&word, 0, kPrivate, 1ms) == FutexWaitResult::kTimedOut);
  CHECK(futex_wait(&word, 0, kShared, 1ms) == FutexWaitResult::kTimedOut);
  CHECK(std::chrono::steady_clock::now() - start >= 2ms);  // it really waited
}

TEST_CASE("futex_wait: a zero timeout returns kTimedOut at once") {
  std::atomic<uint32_t> word{0};
  CHECK(futex_wait(&word, 0, kPrivate, 0ns) == FutexWaitResult::kTimedOut);
}

TEST_CASE("futex_wake: with no waiter wakes nobody") {
  std::atomic<uint32_t> word{0};
  CHECK(futex_wake(&word, 1, kPrivate) == 0);
  CHECK(futex_wake(&word, 1, kShared) == 0);
  CHECK(futex_wake_all(&word, kPrivate) == 0);
  CHECK(futex_wake_all(&word, kShared) == 0);
}

TEST_CASE("futex_wake: reports the waiter it woke") {
  std::atomic<uint32_t> word{0};
  Waiter waiter(word);
  // Returns 0 until the waiter is in the kernel; it never exceeds the count asked for.
  wait_until(
      [&] {
        const int woken = futex_wake(&word, 1, kPrivate);
        CHECK(woken <= 1);
        return woken == 1;
      },
      "a wake reports the blocked waiter");
  CHECK_FALSE(waiter.done());  // the word did not change: it sleeps again
  release_all(word, {&waiter});
}

TEST_CASE("futex_wait: returns kWoken when a wake arrives") {
  std::atomic<uint32_t> word{0};
  Waiter waiter(word);
  wait_until([&] { return futex_wake(&word, 1, kPrivate) == 1; }, "a wake reports the waiter");
  wait_until([&] { return waiter.woken() >= 1; }, "the waiter's wait returns kWoken");
  release_all(word, {&waiter});
}

TEST_CASE("futex_wake: a waiter blocked on the word leaves once the word changes and a wake") {
  std::atomic<uint32_t> word{0};
  Waiter waiter(word);
  wait_until([&] { return waiter.tid() != 0; }, "the waiter runs");
  if (futex_state(waiter.tid(), &word) == ThreadState::kUnknown) {
    MESSAGE("skipped: /proc/self/task/<tid>/syscall is not readable here");
    release_all(word, {&waiter});
    return;
  }
  wait_until([&] { return futex_state(waiter.tid(), &word) == ThreadState::kBlockedOnWord; },
             "the waiter blocks in futex(2) on the word");
  CHECK_FALSE(waiter.done());
  // release_all wakes until the waiter reports; with the waiter blocked, the first wake does.
  release_all(word, {&waiter});
  CHECK(waiter.done());
}

TEST_CASE("futex_wake_all: wakes every thread blocked on the word") {
  constexpr int kWaiters = 4;
  std::atomic<uint32_t> word{0};
  std::vector<std::unique_ptr<Waiter>> waiters;
  for (int i = 0; i < kWaiters; ++i)
    waiters.push_back(std::make_unique<Waiter>(word));
  // Woken waiters go back to sleep: eventually one call finds all of them blocked at once.
  wait_until([&] { return futex_wake_all(&word, kPrivate) == kWaiters; },
             "one futex_wake_all wakes all the waiters");
  std::vector<const Waiter*> all;
  for (const auto& w : waiters)
    all.push_back(w.get());
  release_all(word, all);
}

void ignore_signal(int) {}

TEST_CASE("futex_wait: returns kInterrupted when a signal handler runs") {
  struct sigaction action {};
  struct sigaction previous {};
  action.sa_handler = &ignore_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: the wait must report the interruption
  REQUIRE(sigaction(SIGUSR1, &action, &previous) == 0);
  std::atomic<uint32_t> word{0};
  {
    Waiter waiter(word);
    // A signal that lands outside the wait interrupts nothing: signal until one lands inside.
    wait_until(
        [&] {
          pthread_kill(waiter.native_handle(), SIGUSR1);
          return waiter.interrupted() >= 1;
        },
        "a signal interrupts the wait");
    release_all(word, {&waiter});
  }
  REQUIRE(sigaction(SIGUSR1, &previous, nullptr) == 0);
}

TEST_CASE("futex: process-shared wait and wake across fork()") {
  constexpr size_t kMapBytes = 4096;
  void* memory =
      mmap(nullptr, kMapBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(memory != MAP_FAILED);
  auto* word = new (memory) std::atomic<uint32_t>(0);
  std::fflush(stdout);  // the child must not inherit unflushed output and write it again
  std::fflush(stderr);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Only the mapping and futex(2) here: never return into the test runner.
    while (word->load() == 0)
      futex_wait(word, 0, kShared);
    _exit(word->load() == 42 ? 0 : 1);
  }
  // The child is blocked once a process-shared wake reports it (keyed on the shared page).
  wait_until([&] { return futex_wake(word, 1, kShared) == 1; }, "the child blocks on the word");
  word->store(42);
  int status = 0;
  wait_until(
      [&] {
        futex_wake(word, 1, kShared);
        return waitpid(child, &status, WNOHANG) == child;
      },
      "the child exits");
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  munmap(memory, kMapBytes);
}

}  // namespace
}  // namespace ringdb::sync
