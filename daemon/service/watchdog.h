// Watchdog: notices a worker that is awake and completes no polling round for `limit_ms`
// (NDB's watchdog, ../shared/seeds/ndb-WL1498-multithreaded-nodes.txt). It reports the
// worker once (and again when it makes progress), and with `abort_on_stall` aborts the daemon
// so that a supervisor restarts it and recovery runs. A sleeping worker is never stalled.
// Its verdict also gates the daemon's keep-alive to systemd (Server::set_alive_hook), so
// that systemd's WatchdogSec= restarts a daemon whose worker hangs.
//
// Thread safety: check() on the control thread, once a tick.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "daemon/service/worker_pool.h"

namespace ringdb::daemon {

class Watchdog {
 public:
  // `cores`: the worker cores, for the report. limit_ms 0: off.
  Watchdog(uint64_t limit_ms, bool abort_on_stall, std::vector<int> cores)
      : limit_ms_(limit_ms), abort_on_stall_(abort_on_stall), cores_(std::move(cores)) {}

  bool enabled() const { return limit_ms_ > 0; }
  // Looks at every worker; false while one is stalled (reported and not moving again).
  bool check(const WorkerPool& pool, int64_t now_ns);

 private:
  // Each worker as last seen: its rounds, since when unchanged, whether it was reported.
  struct Seen {
    uint64_t rounds = 0;
    int64_t same_since_ns = 0;
    bool reported = false;
  };
  const uint64_t limit_ms_;
  const bool abort_on_stall_;
  const std::vector<int> cores_;
  std::vector<Seen> seen_;
};

}  // namespace ringdb::daemon
