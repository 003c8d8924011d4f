// Checkpoints (issue 5; file format in docs/STORAGE.md): a consistent snapshot of all data,
// written in the background through a read view while writers go on, from which recovery
// starts instead of replaying the whole write-ahead log; the log below it is then removed.
//
// The cut. A snapshot is a CSN; the log's records carry transaction ids and LSNs. To tell at
// recovery which records the snapshot already holds, a checkpoint is taken in three steps:
//   1. D := the log's durable LSN. Every record below D was notified before D was published
//      (wal::LogWriter::Notify), so its completion sits in a worker's pending set, or was
//      applied (committed) already.
//   2. M := the lowest LSN of a record whose commit is not applied yet (the pending sets'
//      unapplied completions, and each worker's async commit between append and commit).
//   3. The cut (mvcc::TrxSys::cut): the snapshot's view, next_trx and the active ids.
// A record whose transaction is not in the snapshot either has LSN >= D (not durable at 1),
// or was durable at 1 and still unapplied at 2 (LSN >= M): replay from wal_lsn = min(D, M)
// sees it. Records from there whose transaction IS in the snapshot (id < next_trx, not
// active) are skipped, so that replay never writes an older value over a newer one the
// snapshot holds (a memory-only commit made after them, say) and never applies part of one.
//
// Publication: the file is written as ckpt-<seq>.tmp, fdatasync'ed, renamed to
// ckpt-<seq 16 hex>.rdb, and the directory fsync'ed. Two checkpoints are kept, so that a
// newest one found damaged at start still leaves the previous one and the log after it; log
// segments below the older one's wal_lsn are removed after each publication.
//
// Bounds: the snapshot is read in scans of at most 4096 keys or 8 MiB, and written through a
// 1 MiB buffer; a checkpoint holds one read view for its duration (purge keeps the versions
// it needs: history grows meanwhile — a long checkpoint under heavy writes costs memory).
//
// Thread safety: Checkpointer's public members may be called from any thread; checkpoints
// never overlap (run_mu_). The free functions have no shared state.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "daemon/engine/engine.h"
#include "daemon/wal/writer.h"
#include "sync/event_count.h"
#include "sync/mutex.h"
#include "sync/thread_annotations.h"

namespace ringdb::daemon {

// What a checkpoint file says about itself.
struct CheckpointInfo {
  std::string path;
  uint64_t seq = 0;              // 1, 2, 3...: newer is larger
  uint64_t wal_lsn = 0;          // recovery replays the log from here
  uint64_t next_trx = 0;         // the cut: ids >= it are not in the snapshot
  std::vector<uint64_t> active;  // ids < next_trx not in the snapshot, ascending
  uint64_t snapshot_csn = 0;     // for people: the snapshot's place in the commit order
  uint64_t created_ns = 0;       // CLOCK_REALTIME
  uint64_t keys = 0;             // from the trailer (after a full read)
  uint64_t data_bytes = 0;       // key and value bytes

  // Whether the snapshot holds the effects of transaction `txn` (a log record's).
  bool contains(uint64_t txn) const;
};

// The checkpoints in `dir` whose header is intact, newest first (their bodies are checked by
// load_checkpoint). The others are logged as not usable. Leftover *.tmp files (a checkpoint
// cut short by a crash) are removed. With `unusable`, the call only looks: the unusable ones
// are listed there ("PATH: why"), not logged, and nothing is removed.
bool list_checkpoints(const std::string& dir, std::vector<CheckpointInfo>* out, std::string* error,
                      std::vector<std::string>* unusable = nullptr);

// Reads a whole checkpoint file and checks its structure and checksum; only if all is well,
// hands each key and value to `apply` (in key order). Keys and values longer than the limits
// make it invalid. false with `error` if it is invalid, unreadable or `apply` refused.
struct CheckpointLimits {
  size_t key_size_max = 0;
  size_t value_size_max = 0;
};
bool load_checkpoint(const std::string& path, const CheckpointLimits& limits,
                     const std::function<bool(std::string_view key, std::string_view value,
                                              std::string* error)>& apply,
                     CheckpointInfo* info, std::string* error);

struct CheckpointResult {
  CheckpointInfo info;
  bool skipped = false;  // nothing changed since the last one: none written
  double seconds = 0;
  uint64_t file_bytes = 0;
  std::vector<std::string> wal_removed;          // log segments removed after it
  std::vector<std::string> checkpoints_removed;  // older checkpoints removed after it
};

// What Checkpointer::backup copied.
struct BackupResult {
  CheckpointInfo checkpoint;  // the checkpoint it holds (taken for it)
  uint64_t log_end = 0;       // the copy's log ends here: the durable LSN after the checkpoint
  size_t segments = 0;        // log segments copied
  uint64_t bytes = 0;         // bytes copied, all files
  double seconds = 0;
};

struct CheckpointerOptions {
  std::string dir;                        // where checkpoints live (created if missing)
  std::string wal_dir;                    // the log's directory, trimmed after each checkpoint
  std::chrono::milliseconds interval{0};  // 0: not by time
  uint64_t wal_bytes = 0;                 // 0: not by log growth
  // Log kept behind the durable end for watchers that resume (segments are removed only
  // below both this and the older checkpoint's start).
  uint64_t log_retain_bytes = 0;
  // Test hook: runs between the snapshot's scans with the number of keys written so far.
  std::function<void(uint64_t keys)> between_scans;
};

class Checkpointer {
 public:
  // `oldest_unapplied_lsn`: step 2 of the cut (Server::oldest_unapplied_lsn).
  Checkpointer(CheckpointerOptions options, Engine* engine, wal::LogWriter* log,
               std::function<uint64_t()> oldest_unapplied_lsn);
  ~Checkpointer();  // stop()
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Lists the directory (sequence numbers go on after the newest); false with error.
  bool open(std::string* error);
  // Starts the background thread, which checkpoints on the configured triggers.
  void start();
  // Stops the thread; a checkpoint in progress is abandoned (its .tmp removed). Idempotent.
  void stop();

  // One checkpoint now, in the caller's thread (after any running one). `force`: even if
  // nothing changed since the last one. false with error if it failed (nothing published).
  bool run(bool force, CheckpointResult* result, std::string* error) EXCLUDES(run_mu_);

  // An online, consistent copy of the data into `target`, a directory it creates (0700; it
  // must not exist): a checkpoint taken now, the log from that checkpoint's replay start to the
  // durable end right after it (the last segment cut there, the rest of its size zeros: a
  // clean end), and `csn_epoch_file` if it exists. `ringdbd --data-dir target` starts from it
  // as from the original at that moment; `ringdb-admin verify target` checks it. Writers go on
  // meanwhile; other checkpoints (and so log trimming) wait until it is done. Every file and
  // directory of the copy is synced before it returns. On failure the partial copy is left
  // for the operator to remove (false with error).
  bool backup(const std::string& target, const std::string& csn_epoch_file, BackupResult* result,
              std::string* error) EXCLUDES(run_mu_);

  uint64_t completed() const { return completed_.load(std::memory_order_relaxed); }
  // The last checkpoint this process published (false if none yet).
  bool last(CheckpointResult* result) const EXCLUDES(last_mu_);
  // Why the latest checkpoint attempt failed ("" if it succeeded, or none was tried): the
  // daemon's health shows it (a full disk, say).
  std::string failure() const EXCLUDES(last_mu_);
  bool running() const { return running_.load(std::memory_order_relaxed); }

 private:
  void loop();
  bool run_locked(bool force, CheckpointResult* result, std::string* error) REQUIRES(run_mu_);
  bool write_snapshot(const CheckpointInfo& header, Transaction& snapshot, CheckpointResult* result,
                      std::string* error) REQUIRES(run_mu_);
  bool prune(CheckpointResult* result, std::string* error) REQUIRES(run_mu_);

  const CheckpointerOptions options_;
  Engine* const engine_;
  wal::LogWriter* const log_;
  const std::function<uint64_t()> oldest_unapplied_lsn_;

  sync::Mutex run_mu_;  // one checkpoint at a time
  uint64_t next_seq_ GUARDED_BY(run_mu_) = 1;
  uint64_t last_durable_lsn_ GUARDED_BY(run_mu_) = 0;  // at the last checkpoint's cut
  uint64_t last_committed_ GUARDED_BY(run_mu_) = 0;    // the engine's commit count then
  bool have_last_ GUARDED_BY(run_mu_) = false;
  std::atomic<uint64_t> started_ns_{0};  // steady clock, the last checkpoint's start
  std::atomic<bool> stopping_{false};
  sync::EventCount wake_;  // stop() wakes the thread from its tick
  std::atomic<uint64_t> completed_{0};
  std::atomic<bool> running_{false};
  mutable sync::Mutex last_mu_;
  CheckpointResult last_ GUARDED_BY(last_mu_);
  bool has_last_result_ GUARDED_BY(last_mu_) = false;
  std::string failure_ GUARDED_BY(last_mu_);
  std::thread thread_;
};

}  // namespace ringdb::daemon
