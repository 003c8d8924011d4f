// futex wrappers: wait returns at once on a changed value, times out, is woken by a wake,
// and works across processes on a shared mapping.
#include "sync/futex.h"

#include <doctest/doctest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <new>
#include <thread>

#include "tests/sync/test_util.h"

namespace ringdb::sync {
namespace {

using namespace std::chrono_literals;

TEST_CASE("futex_wait: returns kValueChanged when the word differs from the expected value") {
  std::atomic<uint32_t> word{5};
  CHECK(futex_wait(&word, 4, Sharing::kProcessPrivate) == FutexWaitResult::kValueChanged);
  CHECK(futex_wait(&word, 4, Sharing::kProcessShared) == FutexWaitResult::kValueChanged);
}

TEST_CASE("futex_wait: times out when nobody wakes it") {
  std::atomic<uint32_t> word{0};
  CHECK(futex_wait(&word, 0, Sharing::kProcessPrivate, 1ms) == FutexWaitResult::kTimedOut);
}

TEST_CASE("futex_wake: with no waiter wakes nobody") {
  std::atomic<uint32_t> word{0};
  CHECK(futex_wake(&word, 1, Sharing::kProcessPrivate) == 0);
  CHECK(futex_wake_all(&word, Sharing::kProcessShared) == 0);
}

TEST_CASE("futex_wake: wakes a thread sleeping on the word") {
  std::atomic<uint32_t> word{0};
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    while (word.load() == 0)
      futex_wait(&word, 0, Sharing::kProcessPrivate);
    done = true;
  });
  word.store(1);
  // The waiter may not be asleep yet: keep waking until it reports (no timing assumption).
  test::wait_until(
      [&] {
        futex_wake(&word, 1, Sharing::kProcessPrivate);
        return done.load();
      },
      "the waiter ran");
  waiter.join();
}

TEST_CASE("futex: process-shared wait and wake across fork()") {
  void* memory = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(memory != MAP_FAILED);
  auto* word = new (memory) std::atomic<uint32_t>(0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    while (word->load() == 0)
      futex_wait(word, 0, Sharing::kProcessShared);
    _exit(word->load() == 42 ? 0 : 1);
  }
  word->store(42);
  int status = 0;
  // Wake until the child has exited: waitpid with WNOHANG between wakes.
  test::wait_until(
      [&] {
        futex_wake(word, 1, Sharing::kProcessShared);
        return waitpid(child, &status, WNOHANG) == child;
      },
      "the child exited");
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  munmap(memory, 4096);
}

}  // namespace
}  // namespace ringdb::sync
