// Helpers shared by the shm tests: replayable seeds for randomized cases, fork()ed children
// that never return into the test runner, and reaping them under a watchdog (a hang becomes
// a killed child and a failure, never a stuck run).
#pragma once

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "tests/support/seed.h"

namespace ringdb::shm::test {

using ringdb::test::test_seed;

// Forks a child that runs body() and leaves with its result through _exit(), never
// returning into the test runner. The child dumps no core (some children die on purpose).
template <typename Body>
pid_t fork_child(Body body) {
  // Unflushed output would be inherited, and written again if the child flushed it.
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    _exit(body());
  }
  return pid;
}

// Reaps `children` and returns their wait statuses, in order. A watchdog kills them all if
// they have not finished within `limit`; the limit only turns a hang into a failure.
inline std::vector<int> wait_for_children(const std::vector<pid_t>& children,
                                          std::chrono::seconds limit = std::chrono::seconds(120)) {
  std::mutex mu;
  std::condition_variable cv;
  bool reaped = false;
  std::thread watchdog([&] {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, limit, [&] { return reaped; })) {
      for (pid_t pid : children)
        kill(pid, SIGKILL);
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
  {
    std::lock_guard lock(mu);
    reaped = true;
  }
  cv.notify_all();
  watchdog.join();
  return statuses;
}

inline int wait_for_child(pid_t child) {
  return wait_for_children({child}).front();
}

// Checks that every child exited with 0.
inline void check_clean_exits(const std::vector<int>& statuses) {
  for (size_t i = 0; i < statuses.size(); ++i) {
    const int status = statuses[i];
    CAPTURE(i);
    INFO("signalled: " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0)
                       << " (9 = killed by the watchdog: a hang)");
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
}

}  // namespace ringdb::shm::test
