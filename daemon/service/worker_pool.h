// WorkerPool: ringdbd's workers, one per worker core (placement.h), and their pending sets.
// The pending sets exist from construction on, so that the log writer can be given them
// (completion_sinks()) before the workers start, since the workers need the writer; the
// workers run from start() to stop().
//
// Thread safety: construction, start() and stop() on the control thread; the accessors
// (stats, depths, the oldest unapplied LSN, wake, stall) from any thread once started.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "daemon/service/pending_set.h"
#include "daemon/service/worker.h"
#include "daemon/wal/completion.h"
#include "shm/wire.h"

namespace ringdb::daemon {

class WorkerPool {
 public:
  // `lines` and `bells`: the board line and doorbell of each worker (`count` of each);
  // `parked_max`: the most commits one worker can park (each pending set's capacity).
  WorkerPool(size_t count, shm::BoardWorker* lines, shm::Doorbell* bells, uint32_t parked_max);
  ~WorkerPool();  // stop()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  size_t size() const { return pending_.size(); }
  // The pending sets, indexed by worker, for the log writer (they live as long as the pool).
  std::vector<wal::CompletionSink*> completion_sinks() const;

  // Starts the workers; env_for(w) gives worker w's environment, to which the pool adds its
  // index, board line, doorbell and pending set.
  void start(const std::function<WorkerEnv(size_t w)>& env_for);
  // Asks every worker to answer what is queued with SHUTTING_DOWN, and waits for them.
  // Idempotent.
  void stop();
  bool running() const { return !workers_.empty() && !stopped_; }

  void wake_all();
  // Every worker has caught up with session-table version `version` (none serves a session
  // removed at or before it).
  bool all_seen(uint64_t version) const;

  const Worker& worker(size_t w) const { return *workers_[w]; }
  std::vector<const WorkerStats*> stats() const;
  std::vector<uint32_t> pending_depths() const;
  // The lowest LSN of a durable log record whose commit no worker has applied yet
  // (wal::Completion::kNoLsn if none).
  uint64_t oldest_unapplied_lsn() const;
  // Test hook (--test-hooks): worker `w` stalls, awake, for `ms`. false if no such worker.
  bool stall_for_test(size_t w, int64_t ms);

 private:
  shm::BoardWorker* const lines_;
  shm::Doorbell* const bells_;
  std::vector<std::unique_ptr<PendingSet>> pending_;
  std::vector<std::unique_ptr<Worker>> workers_;
  bool stopped_ = false;
};

}  // namespace ringdb::daemon
