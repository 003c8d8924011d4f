// WatchHub: the change feed (issue 16). Every watch of every session, and the one reader
// that turns the write-ahead log into their events.
//
// Where events come from. The log is the order of commits (writers of a key reach it in
// their commit order: first updater wins), it survives restarts unchanged, and a position in
// it (an LSN) means the same thing for ever. So a watch is a cursor in the log: its events
// are the log's records from its position on, filtered by its key range, and a watcher that
// comes back resumes from the position after the last commit it saw (events carry it).
// Records are read only below the *gate*: the log's durable end, lowered to the oldest record
// whose commit a worker has not applied yet (Server::oldest_unapplied_lsn, as checkpoints
// use it). So an event is never seen before its commit is on disk and visible to readers;
// a durability-none commit never reaches the log and is never delivered.
//
// One reader for everyone. The hub reads each record once, at its `head`, and hands it to
// every watcher that stands there (a *live* watcher). A watcher whose ring was full, or that
// started from an earlier position, *lags*: it reads the log with a tail of its own, from the
// feed thread only, until it reaches the head and is live again. A watcher never holds
// anything back: not writers, not the log's removal (bounded by --watch-retain), not
// memory. When the records it needs are gone, it gets a COMPACTED event and ends.
//
// Who delivers. pump() is called by a worker right after it applied log completions (the
// commits just became visible: the watcher's event follows the committer's answer within
// microseconds, with no thread hand-off) and by the hub's own feed thread, woken when the log
// wrote records nobody waits for (async commits), when a watch starts, and every millisecond
// while a watcher lags. pump() never waits for the hub's lock: a caller that finds it taken
// leaves a note that makes the holder go round once more.
//
// Bounds: watches per session (TOO_MANY_WATCHES), watches in all (4096), records read per
// pump by a worker (256), events a session's ring holds (--event-ring); a value larger than a
// quarter of the ring travels without its bytes (kEventValueOmitted).
//
// Thread safety: every public member may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/service/client_session.h"
#include "daemon/wal/tail.h"
#include "shm/events.h"
#include "shm/wire.h"
#include "sync/event_count.h"
#include "sync/fence.h"
#include "sync/mutex.h"
#include "sync/thread_annotations.h"

namespace ringdb::daemon {

// The keys a watch follows: as a scan's range (start inclusive, end exclusive, each empty for
// no bound) and prefix.
struct WatchRange {
  std::string start;
  std::string end;
  std::string prefix;
  bool matches(std::string_view key) const {
    return key.starts_with(prefix) && (start.empty() || key >= start) && (end.empty() || key < end);
  }
};

struct WatchHubStats {
  uint64_t watches = 0;       // now
  uint64_t lagging = 0;       // now
  uint64_t started = 0;       // total
  uint64_t events = 0;        // delivered, total
  uint64_t event_bytes = 0;   // total
  uint64_t records_read = 0;  // by the head, total
  uint64_t compacted = 0;     // watches ended by COMPACTED, total
  uint64_t head = 0;          // the head's position
  uint64_t gate = 0;          // the last gate the hub saw
};

struct WatcherRow {
  uint64_t session = 0;
  uint32_t watch = 0;
  WatchRange range;
  bool keys_only = false;
  uint64_t position = 0;   // the next record it reads
  uint64_t lag_bytes = 0;  // of log between it and the head
  uint64_t events = 0;
  bool lagging = false;
};

class WatchHub {
 public:
  static constexpr uint32_t kWatchesMax = 4096;
  static constexpr uint32_t kHeadRecordsPerPump = 256;

  struct Options {
    std::string wal_dir;
    uint32_t watches_per_session_max = 16;
  };
  // `gate`: every record below it is durable and its commit applied (any thread).
  // `on_corrupt_session`: a session misused its event area; the hub marked it corrupt.
  WatchHub(Options options, std::function<uint64_t()> gate,
           std::function<void()> on_corrupt_session);
  ~WatchHub();  // stop()
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  void start();  // the feed thread
  void stop();

  // WATCH: events of `range` from position `from` (shm::kWatchFromNow: the log's current end).
  // kOk with *id and *position (where it starts); kCompacted with *position = the oldest
  // position the log holds; kInvalidArgument if no record starts at `from`; kTooManyWatches.
  shm::WireStatus add(const std::shared_ptr<ClientSession>& session, WatchRange range,
                      bool keys_only, uint64_t from, uint32_t* id, uint64_t* position)
      EXCLUDES(mu_);
  // UNWATCH: kOk, or kNotFound for no such watch of this session.
  shm::WireStatus remove(const ClientSession& session, uint32_t id) EXCLUDES(mu_);
  // The session is leaving: its watches end and the hub forgets it (it touches its segment
  // no more once this returns).
  void drop(const ClientSession& session) EXCLUDES(mu_);

  // Whether any watch exists (one load: workers ask after each drain).
  bool active() const { return watch_count_.load(std::memory_order_relaxed) != 0; }
  // Delivers what the gate allows to the live watchers (see above).
  void pump() EXCLUDES(mu_);
  // A worker applied the log completions of records up to (starting at) `lsn`: pump(). The
  // writer publishes the durable LSN just after it posts completions, so the gate may not
  // include them yet; then the hub notes it, and the writer's next log_advanced() wakes the
  // feed thread (a Dekker pair: the worker notes, then reads the durable LSN; the writer
  // stores it, then reads the note).
  void pump_applied(uint64_t lsn) EXCLUDES(mu_);
  // The writer made records durable (after it stored the durable LSN). `unawaited`: some have
  // nobody waiting (async commits), whose events only the feed thread delivers.
  void log_advanced(bool unawaited) {
    if (!active()) return;
    sync::full_fence();  // the durable LSN (stored by the caller), then the note
    if (unawaited || behind_.exchange(false, std::memory_order_relaxed)) wake_.notify_all();
  }

  WatchHubStats stats() const EXCLUDES(mu_);
  std::vector<WatcherRow> watchers() const EXCLUDES(mu_);

 private:
  struct Outlet;  // one session's event ring
  struct Watcher {
    uint32_t id = 0;
    Outlet* outlet = nullptr;
    WatchRange range;
    bool keys_only = false;
    uint64_t position = 0;  // the next record to read
    uint32_t next_op = 0;   // of the record at `position`: ops already delivered
    bool lagging = false;   // behind the head: reads the log with `tail`, on the feed thread
    std::unique_ptr<wal::LogTail> tail;
    uint64_t events = 0;
    // Ending: it owes its last event (kCompacted, sequence = the oldest position kept; or
    // kEnded), then leaves (outlet = nullptr once the event is written).
    bool ending = false;
    shm::EventType end_type = shm::EventType::kCompacted;
    uint64_t end_sequence = 0;
  };
  struct Outlet {
    std::shared_ptr<ClientSession> session;
    shm::EventWriter writer;
    uint32_t value_max = 0;  // values larger than this travel without their bytes
    std::vector<std::unique_ptr<Watcher>> watchers;
    uint32_t next_id = 1;
    bool corrupt = false;
  };
  enum class Delivery { kWhole, kFull, kCorrupt };

  // pump_locked() now and again while others asked for it meanwhile; without
  // wait_for_lock, a held lock leaves the work to its holder.
  void run_pumps(bool catch_up, bool wait_for_lock) EXCLUDES(mu_);
  void pump_locked(bool catch_up) REQUIRES(mu_);
  // The head reads records up to the gate and hands them to the live watchers.
  void advance_head(uint64_t gate, uint32_t records_max) REQUIRES(mu_);
  // A lagging watcher reads from its own tail up to the head.
  void catch_up(Watcher& w) REQUIRES(mu_);
  // The events of `record` for watcher `w`, from its next_op on.
  Delivery deliver(Watcher& w, const wal::Record& record) REQUIRES(mu_);
  void end_watch(Watcher& w, shm::EventType type, uint64_t sequence) REQUIRES(mu_);
  void finish_ending(Watcher& w) REQUIRES(mu_);
  void end_outlet(Outlet& o) REQUIRES(mu_);
  void publish_all() REQUIRES(mu_);
  void feed_thread();
  uint64_t lagging_locked() const REQUIRES(mu_);

  const Options options_;
  const std::function<uint64_t()> gate_;
  const std::function<void()> on_corrupt_session_;

  mutable sync::Mutex mu_;
  std::map<const ClientSession*, std::unique_ptr<Outlet>> outlets_ GUARDED_BY(mu_);
  wal::LogTail head_tail_ GUARDED_BY(mu_);
  bool head_open_ GUARDED_BY(mu_) = false;
  uint64_t head_ GUARDED_BY(mu_) = 0;
  uint64_t last_gate_ GUARDED_BY(mu_) = 0;
  WatchHubStats stats_ GUARDED_BY(mu_);
  std::atomic<uint32_t> watch_count_{0};
  std::atomic<bool> again_{false};        // a pump was asked for: the lock's holder goes again
  std::atomic<bool> any_lagging_{false};  // after the last pump: the feed thread polls
  std::atomic<bool> behind_{false};       // pump_applied() found its records past the gate
  std::atomic<uint64_t> head_seen_{0};    // head_, for pump_applied()

  sync::EventCount wake_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ringdb::daemon
