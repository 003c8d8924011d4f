#include "daemon/durability/recovery.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string_view>

#include "daemon/base/log.h"
#include "sync/latch_stats.h"

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

// Replays one log record into the writer's batch, in log order. A refused operation leaves
// the batch to be aborted (recovery fails).
bool replay(Engine& engine, BatchedWriter& writer, const wal::Record& record, std::string* error) {
  Transaction* txn = writer.txn(error);
  if (txn == nullptr) return false;
  size_t bytes = 0;
  for (const auto& op : record.ops) {
    const Status s = op.kind == wal::OpKind::kPut ? engine.put(*txn, op.key, op.value)
                                                  : engine.del(*txn, op.key);
    if (s != Status::kOk && !(s == Status::kNotFound && op.kind != wal::OpKind::kPut)) {
      *error = std::string("the engine refused an operation: ") + status_name(s);
      return false;
    }
    bytes += op.key.size() + op.value.size();
  }
  return writer.end_item(bytes, error);
}

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
  BatchedWriter replayer(engine, kRecordsPerTxn);
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
            return replay(engine, replayer, r, why);
          },
          &report->log, error)) {
    return false;
  }
  if (!replayer.flush(error)) return false;
  report->in_checkpoint += report->log.skipped;
  engine.advance_trx_ids(std::max(checkpoint.next_trx, max_txn + 1));
  report->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return true;
}

}  // namespace ringdb::daemon
