// BackgroundLoad: ringdb-bench --background-load N (issue 13's busy host, used by issue 12's
// noisy-neighbour figures): N processes that burn CPU at normal priority, unpinned, for the
// whole run (every measured system, baselines included), so that a busy-host table can be
// reproduced. They die with the benchmark (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace ringdb::bench {

class BackgroundLoad {
 public:
  BackgroundLoad() = default;
  ~BackgroundLoad();  // stop()
  BackgroundLoad(const BackgroundLoad&) = delete;
  BackgroundLoad& operator=(const BackgroundLoad&) = delete;

  bool start(int processes, std::string* error);
  void stop();

 private:
  std::vector<pid_t> pids_;
};

}  // namespace ringdb::bench
