#include "tools/bench/background_load.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringdb::bench {

BackgroundLoad::~BackgroundLoad() {
  stop();
}

bool BackgroundLoad::start(int processes, std::string* error) {
  for (int i = 0; i < processes; ++i) {
    const pid_t pid = fork();
    if (pid < 0) {
      *error = std::string("fork: ") + strerror(errno);
      stop();
      return false;
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      // Integer work the compiler cannot drop, no memory traffic, no system calls.
      volatile unsigned long x = 1;
      for (;;)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    }
    pids_.push_back(pid);
  }
  return true;
}

void BackgroundLoad::stop() {
  for (const pid_t pid : pids_)
    kill(pid, SIGKILL);
  for (const pid_t pid : pids_)
    waitpid(pid, nullptr, 0);
  pids_.clear();
}

}  // namespace ringdb::bench
