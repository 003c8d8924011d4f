#include "daemon/durability/recovery.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>

#include "daemon/base/log.h"
#include "sync/event_count.h"
#include "sync/latch_stats.h"
#include "sync/mutex.h"
#include "sync/thread_annotations.h"
#include "sync/thread_name.h"

namespace ringdb::daemon {
namespace {

// Says where recovery is, at most once per interval.
class ProgressLine {
 public:
  explicit ProgressLine(const RecoveryProgress& options)
      : options_(options), next_ns_(sync::now_ns() + options.interval.count()) {}
  // Call once per item; `line` is built only when a line is due.
  template <typename MakeLine>
  void tick(MakeLine make_line) {
    if (++items_ % 4096 != 0 || sync::now_ns() < next_ns_) return;
    next_ns_ = sync::now_ns() + options_.interval.count();
    const std::string line = make_line(items_);
    if (options_.report) {
      options_.report(line);
    } else {
      log(LogLevel::kInfo, "%s", line.c_str());
    }
  }

 private:
  const RecoveryProgress& options_;
  int64_t next_ns_;
  uint64_t items_ = 0;
};

// Writes into the engine in transactions of at most `items_max` items (log records) or
// kBytesMax bytes of keys and values. Recovery only: one thread applies the items
// in order with no reader and no other writer, so no conflict can occur, a transaction reads
// its own writes (a delete after a put in the same batch sees the put), and the final state
// is the one item-by-item transactions would leave; only the commit sequence numbers, which
// no reader sees, are coarser. What it saves: a transaction's begin and commit (a view, an
// id, a CSN, a history entry) per item.
class BatchedWriter {
 public:
  static constexpr size_t kBytesMax = size_t{16} << 20;

  BatchedWriter(Engine& engine, size_t items_max) : engine_(engine), items_max_(items_max) {}
  ~BatchedWriter() {
    if (txn_) engine_.abort(std::move(txn_));
  }
  BatchedWriter(const BatchedWriter&) = delete;
  BatchedWriter& operator=(const BatchedWriter&) = delete;

  // The batch's transaction, begun on first use; nullptr (and *error) if the engine refused.
  Transaction* txn(std::string* error) {
    if (!txn_ && engine_.begin(TxnMode::kReadWrite, &txn_) != Status::kOk) {
      *error = "cannot begin a transaction";
      return nullptr;
    }
    return txn_.get();
  }
  // Ends an item of `bytes`: commits once the batch is full.
  bool end_item(size_t bytes, std::string* error) {
    bytes_ += bytes;
    if (++items_ >= items_max_ || bytes_ >= kBytesMax) return flush(error);
    return true;
  }
  // Commits what is batched (at the end of the input).
  bool flush(std::string* error) {
    items_ = 0;
    bytes_ = 0;
    if (!txn_) return true;
    if (const Status s = engine_.commit(std::move(txn_)); s != Status::kOk) {
      *error = std::string("the engine refused the commit: ") + status_name(s);
      return false;
    }
    return true;
  }

 private:
  Engine& engine_;
  const size_t items_max_;
  std::unique_ptr<Transaction> txn_;
  size_t items_ = 0;
  size_t bytes_ = 0;
};

// Log records: 256 to a transaction.
constexpr size_t kRecordsPerTxn = 256;

// Applies one logged operation into the writer's batch. A refused operation leaves the batch
// to be aborted (recovery fails).
bool apply(Engine& engine, Transaction& txn, const wal::Op& op, std::string* error) {
  const Status s =
      op.kind == wal::OpKind::kPut ? engine.put(txn, op.key, op.value) : engine.del(txn, op.key);
  if (s != Status::kOk && !(s == Status::kNotFound && op.kind != wal::OpKind::kPut)) {
    *error = std::string("the engine refused an operation: ") + status_name(s);
    return false;
  }
  return true;
}

// The log's replay on two threads: the reader's, and a helper. Each key belongs to one of them
// (by a hash of the key), which applies all its operations in log order, so every key ends as
// a replay on one thread would leave it; the order between keys of different threads is seen
// by nobody (recovery has no reader). Each thread batches its own operations into its own
// transactions (BatchedWriter): their keys are disjoint, so they never conflict. The helper's
// operations reach it copied, in chunks of about kChunkBytes, through a queue of at most
// kChunksMax chunks (the reader waits while it is full). Measured (bench_recovery, a 1 GiB
// log, 2 CPUs): 2.9-3.1 s/GiB replayed on one thread, 2.2-2.5 on two.
class SplitReplay {
 public:
  explicit SplitReplay(Engine& engine)
      : engine_(engine), mine_(engine, kRecordsPerTxn), helper_([this] { helper_loop(); }) {}
  // Stops the helper (if finish() did not) and waits for it.
  ~SplitReplay() {
    {
      sync::MutexGuard guard(mu_);
      stop_ = true;
    }
    changed_.notify_all();
    helper_.join();
  }
  SplitReplay(const SplitReplay&) = delete;
  SplitReplay& operator=(const SplitReplay&) = delete;

  // Applies the record's operations of this thread's keys, hands the others to the helper.
  bool replay(const wal::Record& record, std::string* error) {
    Transaction* txn = mine_.txn(error);
    if (txn == nullptr) return false;
    size_t bytes = 0;
    for (const wal::Op& op : record.ops) {
      if (helper_owns(op.key)) {
        encode(op);
        continue;
      }
      if (!apply(engine_, *txn, op, error)) return false;
      bytes += op.key.size() + op.value.size();
    }
    if (chunk_.size() >= kChunkBytes && !hand_over(error)) return false;
    return mine_.end_item(bytes, error);
  }

  // After the last record: the helper applies what is left and commits, then this thread
  // commits its own batch.
  bool finish(std::string* error) {
    if (!chunk_.empty() && !hand_over(error)) return false;
    {
      sync::MutexGuard guard(mu_);
      ended_ = true;
    }
    changed_.notify_all();
    bool failed = false;
    wait_until([&] {
      mu_.assert_held();
      if (!helper_done_) return false;
      failed = !helper_error_.empty();
      if (failed) *error = helper_error_;
      return true;
    });
    if (failed) return false;
    return mine_.flush(error);
  }

 private:
  static constexpr size_t kChunkBytes = size_t{1} << 20;
  static constexpr size_t kChunksMax = 4;
  static constexpr size_t kOpsPerTxn = 2 * kRecordsPerTxn;  // records hold 1-4 operations
  // An operation in a chunk: kind (1 byte), key and value sizes (4 bytes each), then the bytes.
  static constexpr size_t kOpHeaderBytes = 9;

  static bool helper_owns(std::string_view key) {
    const size_t hash = std::hash<std::string_view>{}(key);
    return (hash & 1) != 0;
  }

  void encode(const wal::Op& op) {
    char header[kOpHeaderBytes];
    header[0] = static_cast<char>(op.kind);
    const auto key_size = static_cast<uint32_t>(op.key.size());
    const auto value_size = static_cast<uint32_t>(op.value.size());
    std::memcpy(header + 1, &key_size, 4);
    std::memcpy(header + 5, &value_size, 4);
    chunk_.append(header, kOpHeaderBytes);
    chunk_.append(op.key);
    chunk_.append(op.value);
  }

  // Queues the chunk for the helper, waiting while the queue is full. False if the helper
  // failed (its error in *error).
  bool hand_over(std::string* error) {
    bool failed = false;
    wait_until([&] {
      mu_.assert_held();
      if (helper_done_) {  // only a failure ends it early
        *error = helper_error_;
        failed = true;
        return true;
      }
      if (chunks_.size() >= kChunksMax) return false;
      chunks_.push_back(std::move(chunk_));
      return true;
    });
    if (failed) return false;
    changed_.notify_all();
    chunk_.clear();
    return true;
  }

  void helper_loop() {
    sync::name_this_thread("ringdb-replay");
    BatchedWriter writer(engine_, kOpsPerTxn);
    std::string error;
    std::string chunk;
    bool ok = true;
    Next next = Next::kChunk;
    while (ok && (next = next_chunk(&chunk)) == Next::kChunk) {
      for (size_t at = 0; ok && at < chunk.size();) {
        uint32_t key_size = 0;
        uint32_t value_size = 0;
        std::memcpy(&key_size, chunk.data() + at + 1, 4);
        std::memcpy(&value_size, chunk.data() + at + 5, 4);
        const wal::Op op{
            static_cast<wal::OpKind>(chunk[at]),
            std::string_view(chunk.data() + at + kOpHeaderBytes, key_size),
            std::string_view(chunk.data() + at + kOpHeaderBytes + key_size, value_size)};
        at += kOpHeaderBytes + size_t{key_size} + value_size;
        Transaction* txn = writer.txn(&error);
        ok = txn != nullptr && apply(engine_, *txn, op, &error) &&
             writer.end_item(op.key.size() + op.value.size(), &error);
      }
    }
    // Stopped (the reader failed): the batch is aborted (~BatchedWriter), not committed.
    ok = ok && next == Next::kEnded && writer.flush(&error);
    {
      sync::MutexGuard guard(mu_);
      helper_done_ = true;
      if (!ok) helper_error_ = error.empty() ? "stopped" : error;
    }
    changed_.notify_all();
  }

  enum class Next : uint8_t { kChunk, kEnded, kStopped };
  // The next chunk (kChunk, in *chunk); kEnded once the queue is empty and ended.
  Next next_chunk(std::string* chunk) {
    Next next = Next::kChunk;
    wait_until([&] {
      mu_.assert_held();
      if (stop_) {
        next = Next::kStopped;
      } else if (!chunks_.empty()) {
        *chunk = std::move(chunks_.front());
        chunks_.pop_front();
      } else if (ended_) {
        next = Next::kEnded;
      } else {
        return false;
      }
      return true;
    });
    if (next == Next::kChunk) changed_.notify_all();  // room in the queue
    return next;
  }

  // Waits until `done` returns true: it is called with mu_ held, at first and after each
  // change another thread notifies.
  template <typename Done>
  void wait_until(Done done) {
    for (;;) {
      const sync::EventCount::Key key = changed_.prepare_wait();
      {
        sync::MutexGuard guard(mu_);
        if (done()) {
          changed_.cancel_wait();
          return;
        }
      }
      changed_.wait(key);
    }
  }

  Engine& engine_;
  BatchedWriter mine_;  // this thread's batch
  std::string chunk_;   // the helper's operations, being filled
  sync::Mutex mu_;
  sync::EventCount changed_;  // any change below
  std::deque<std::string> chunks_ GUARDED_BY(mu_);
  bool ended_ GUARDED_BY(mu_) = false;        // no chunk will follow
  bool stop_ GUARDED_BY(mu_) = false;         // give up (the reader failed)
  bool helper_done_ GUARDED_BY(mu_) = false;  // it left its loop
  std::string helper_error_ GUARDED_BY(mu_);  // why it failed ("" if it did not)
  std::thread helper_;                        // last: it uses the members above
};

}  // namespace

bool recover(Engine& engine, const std::string& checkpoint_dir, const std::string& wal_dir,
             RecoveryReport* report, std::string* error, const RecoveryProgress& progress,
             wal::RecoveryMode wal_mode) {
  const auto started = std::chrono::steady_clock::now();
  *report = RecoveryReport{};
  CheckpointInfo& checkpoint = report->checkpoint;
  std::vector<CheckpointInfo> candidates;
  if (!list_checkpoints(checkpoint_dir, &candidates, error)) return false;
  const CheckpointLimits limits{engine.options().key_size_max, engine.options().value_size_max};
  for (const CheckpointInfo& candidate : candidates) {
    const auto loading = std::chrono::steady_clock::now();
    // The engine is empty and the checkpoint's keys ascend (load_checkpoint checks it): they
    // fill the index left to right, committed at once (Engine::BulkLoad).
    const std::unique_ptr<BulkLoad> loader = engine.begin_bulk_load();
    bool engine_failed = false;
    std::string why;
    ProgressLine line(progress);
    const bool loaded = load_checkpoint(
        candidate.path, limits,
        [&](std::string_view key, std::string_view value, std::string* e) {
          if (const Status s = loader->add(key, value); s != Status::kOk) {
            *e = std::string("the engine refused a key: ") + status_name(s);
            engine_failed = true;
            return false;
          }
          line.tick([&](uint64_t keys) {
            return "recovery: loading " + candidate.path + ": " + std::to_string(keys) +
                   " keys so far";
          });
          return true;
        },
        &checkpoint, &why);
    if (loaded) {
      report->checkpoint_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - loading).count();
      break;
    }
    if (engine_failed || loaded) {  // the engine holds part of it: no fallback possible
      *error = "loading checkpoint " + candidate.path + ": " + why;
      return false;
    }
    // Found bad before anything was applied: the previous one (and the log kept after it).
    report->unusable_checkpoints.push_back(why);
    checkpoint = CheckpointInfo{};
  }
  uint64_t max_txn = 0;
  const uint64_t from = checkpoint.seq != 0 ? checkpoint.wal_lsn : 0;
  SplitReplay replayer(engine);
  ProgressLine line(progress);
  wal::RecoveryOptions log_options;
  log_options.from_lsn = from;
  log_options.empty_lsn = from;
  log_options.mode = wal_mode;
  if (!wal::recover(
          wal_dir, log_options,
          [&](const wal::Record& r, std::string* why) {
            max_txn = std::max(max_txn, r.txn);
            line.tick([&](uint64_t records) {
              return "recovery: replaying the log: " + std::to_string(records) +
                     " records so far, at LSN " + std::to_string(r.lsn);
            });
            if (checkpoint.seq != 0 && checkpoint.contains(r.txn)) {
              ++report->in_checkpoint;
              return true;
            }
            ++report->replayed;
            return replayer.replay(r, why);
          },
          &report->log, error)) {
    return false;
  }
  if (!replayer.finish(error)) return false;
  report->in_checkpoint += report->log.skipped;
  engine.advance_trx_ids(std::max(checkpoint.next_trx, max_txn + 1));
  report->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return true;
}

}  // namespace ringdb::daemon
