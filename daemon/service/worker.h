// Worker: one thread pinned to one core, serving the request rings of that core's share of
// CPUs in every session (placement.h). Its loop:
//   0. drain its pending set: the commits the write-ahead log has made durable (or failed),
//      each parked since its redo was logged; commit or abort each and answer;
//   1. if the session table changed, attach new sessions' rings and detach removed ones
//      (acknowledging each detach to the control thread);
//   2. poll its rings: the recently busy ones every round, the others a few per round, so
//      hundreds of idle sessions cost little on the busy path; take up to a batch from each
//      ready ring, and for each request copy it out, check it, execute it against the engine
//      and post the answer;
//   3. after `spin_us` without work (2 ms while commits it parked wait for the log, whose
//      completion comes within an fdatasync), sleep on its doorbell (the wake-up protocol,
//      shm/doorbell.h and docs/PROTOCOL.md section 3). Idle polling pauses the CPU, or
//      yields it when the worker shares its CPU (`yield_when_idle`).
// A commit that wrote something is parked rather than answered: its redo goes to the log
// (wal::LogWriter), whose writer thread posts the outcome straight into this worker's pending
// set, one post per batch; the set has a mutex of its own (daemon/service/pending_set.h).
// The worker pool (worker_pool.h) owns the pending sets: the log writer needs them before the
// workers start.
//
// Thread safety: start/stop/join are for the control thread (through the pool); wake() and
// the accessors below for any thread; everything else runs on the worker's own thread.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "daemon/engine/engine.h"
#include "daemon/service/pending_set.h"
#include "daemon/service/session_table.h"
#include "daemon/service/watch_hub.h"
#include "daemon/wal/writer.h"
#include "shm/request.h"
#include "shm/wire.h"
#include "sync/latch_stats.h"

namespace ringdb::daemon {

struct WorkerEnv {
  Engine* engine = nullptr;
  SessionTable* sessions = nullptr;
  shm::BoardWorker* board = nullptr;  // this worker's line on the board
  shm::Doorbell* doorbell = nullptr;
  std::vector<uint32_t> rings;  // ring indexes this worker serves
  uint32_t index = 0;
  int core = -1;  // -1: not pinned
  int node = 0;
  uint32_t spin_us = 50;
  // Its CPU is not its own (Placement::workers_share_cpus): while it has nothing to do it
  // yields the CPU instead of pausing, so that a client or daemon thread there runs.
  bool yield_when_idle = false;
  shm::RequestLimits limits;
  uint32_t scan_result_bytes_max = 2u << 20;
  std::function<void()> notify_control;  // a session needs the control thread's attention
  wal::LogWriter* log = nullptr;         // nullptr: commits are not logged (memory only)
  PendingSet* pending = nullptr;         // where the log posts this worker's completions
  WatchHub* watches = nullptr;           // nullptr: no watches (WATCH answers INVALID_ARGUMENT)
};

// A worker's counters, written by the worker alone (relaxed), read by the admin socket.
struct WorkerStats {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> invalid_requests{0};
  std::atomic<uint64_t> sleeps{0};
  std::atomic<uint64_t> sleep_ns{0};              // time asleep on the doorbell
  std::atomic<uint64_t> rounds{0};                // polling rounds over the rings
  std::atomic<uint64_t> work_rounds{0};           // rounds that found a request
  std::atomic<uint64_t> commits_parked{0};        // total
  std::atomic<uint64_t> parked_now{0};            // commits waiting for the log right now
  std::atomic<uint32_t> asleep{0};                // 1 while it sleeps on its doorbell
  std::atomic<uint64_t> scan_slices{0};           // scan calls into the engine (a scan takes >= 1)
  std::atomic<uint64_t> scans_paused{0};          // times a scan yielded to the next session
  std::atomic<uint64_t> slices_stepped_aside{0};  // of those, slices cut short for waiting work
  std::atomic<uint64_t> turns_in_debt{0};         // turns a session skipped: it had used its share
  // Writes that met a key held by a commit waiting for the log and waited for it (hot keys).
  std::atomic<uint64_t> writes_waited{0};
  // Requests by opcode (0: could not be decoded) and answers by status.
  std::array<std::atomic<uint64_t>, shm::kOpcodeMax + 1> by_opcode{};
  std::array<std::atomic<uint64_t>, shm::kWireStatusMax + 1> by_status{};
  // Service time in the daemon (from taking the request off its ring to posting the answer;
  // for a logged commit, until its completion is applied), by opcode. Sampled: one request
  // in kLatencySample (two clock reads would cost each 400 ns round trip ~10%); every commit
  // that waits for the log is timed.
  static constexpr uint32_t kLatencySample = 16;
  std::array<sync::LogHistogram, shm::kOpcodeMax + 1> latency;
};

// A single writer's relaxed increment: no locked instruction on the worker's hot path.
inline void bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

class Worker {
 public:
  explicit Worker(WorkerEnv env);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  // Asks the worker to answer what is queued with SHUTTING_DOWN and exit.
  void stop();
  void join();
  // Makes a sleeping worker look at its rings and the session table.
  void wake();
  // The worker thread's id, once it runs (0 before): for the watchdog's test hook.
  pid_t tid() const { return tid_.load(std::memory_order_acquire); }
  // The thread's id, once it has started (waits for it: the admin socket may ask before the
  // thread ran its first line).
  pid_t wait_tid() const {
    tid_.wait(0, std::memory_order_acquire);
    return tid();
  }
  // Completions posted and not yet drained.
  uint32_t pending_depth() const { return env_.pending->size(); }
  // The lowest LSN among the log records whose completions this worker has not applied yet
  // (wal::Completion::kNoLsn if none). Any thread.
  uint64_t oldest_unapplied_lsn() const {
    return std::min(env_.pending->oldest_unapplied_lsn(),
                    async_floor_.load(std::memory_order_acquire));
  }

  const WorkerStats& stats() const { return stats_; }
  // The session-table version this worker has caught up with: it serves no session that
  // was removed at or before it.
  uint64_t seen_version() const { return seen_version_.load(std::memory_order_acquire); }

 private:
  struct Loop;  // the thread's own state, allocated by the thread (first touch on its node)
  void run();

  WorkerEnv env_;
  WorkerStats stats_;
  // While an async commit is between its append to the log and its commit (visible): a bound
  // below its record's LSN (the durable LSN before the append), else Completion::kNoLsn.
  std::atomic<uint64_t> async_floor_{wal::Completion::kNoLsn};
  std::atomic<bool> stop_{false};
  std::atomic<pid_t> tid_{0};
  std::atomic<uint64_t> seen_version_{0};
  std::thread thread_;
};

}  // namespace ringdb::daemon
