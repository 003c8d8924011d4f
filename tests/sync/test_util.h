// Helpers shared by the sync tests: bounded polling of a condition (never a sleep used as
// synchronisation) and a tiny busy critical section.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

namespace ringdb::sync::test {

// Polls `condition` (yielding between looks) until it holds; fails the test after `limit`.
// The limit only turns a hang into a clear failure: no test relies on its length.
template <typename Condition>
void wait_until(Condition condition, const char* what,
                std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline)
      FAIL("timed out waiting until " << std::string(what));  // doctest prints char* as a pointer
    std::this_thread::yield();
  }
}

// A few hundred nanoseconds of work the compiler cannot remove.
inline void busy_work(unsigned rounds = 64) {
  volatile unsigned sink = 0;
  for (unsigned i = 0; i < rounds; ++i)
    sink = sink + i;
}

}  // namespace ringdb::sync::test
