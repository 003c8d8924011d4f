// ringdb-bench's watch measurements (issue 16).
//
// `ringdb-bench watch`: how long after a sync commit's answer a watcher hears of it. One
// committer thread puts a key (a sync put, the default durability) and records when its
// answer came; one watcher thread, in another session, watches the key's prefix and records
// when the event came; the committer waits for that event before its next put, so every
// sample is a lone commit with nobody queued. Both threads unpinned, in this process, on one
// clock. Figures: event time minus answer time (negative when the event came first), and
// event time minus the put's start. With --compare redis the same with Redis keyspace
// notifications: SET on one connection, the subscriber's message (SUBSCRIBE
// __keyspace@0__:KEY, notify-keyspace-events K$) on another, Redis with the persistence
// --durability matches.
//
// `--watchers N` (any workload against a spawned or given ringdbd): N more sessions, each
// with one watch on --watch-prefix, each drained by a thread of its own; at the end their
// events and their largest lag (the daemon's feed position minus the watcher's last
// sequence, sampled at each event) are printed on stderr. A prefix no key has ("idle/") makes
// idle watchers: what their mere presence costs the writers. `--stalled-watchers N`: N
// sessions watching the prefix whose clients never read: their rings fill and they lag.
//
// Thread safety: one run at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ringdb/client.h"
#include "tools/bench/options.h"

namespace ringdb::bench {

struct WatchFigures {
  std::string system;
  uint64_t samples = 0;
  // Signed nanoseconds, percentiles of the samples.
  int64_t after_answer_p50 = 0, after_answer_p90 = 0, after_answer_p99 = 0;
  int64_t after_start_p50 = 0, after_start_p99 = 0;
};

bool measure_ringdb_watch(const Options& options, const char* argv0, WatchFigures* out,
                          std::string* error);
bool measure_redis_watch(const Options& options, WatchFigures* out, std::string* error);
// One line of the table, or one JSON object per line with --json.
void print_watch(const WatchFigures& figures, bool json);

// --watchers: sessions that watch while a workload runs.
class Watchers {
 public:
  ~Watchers() { stop(); }
  // `read`: false makes stalled watchers, whose clients never read (their rings fill).
  bool start(const std::string& socket_path, int count, const std::string& prefix, bool read,
             std::string* error);
  // Stops the threads and prints what they saw on stderr.
  void stop();

 private:
  struct One {
    std::unique_ptr<Client> client;
    std::thread thread;
    uint64_t events = 0;
    uint64_t lag_max = 0;   // bytes of log
    uint64_t lag_last = 0;  // at its last event
  };
  std::vector<std::unique_ptr<One>> watchers_;
  std::atomic<bool> stop_{false};
};

}  // namespace ringdb::bench
