// Engine: snapshot-isolated transactions over the ordered index (daemon/index/btree.h) and MVCC
// (mvcc/). In-process; ringdbd's workers call it.
//
// Isolation: snapshot isolation. A transaction reads the snapshot taken when it began plus
// its own writes; its writes are invisible to others until it commits, and then visible to
// every later snapshot at once (mvcc/trx_sys.h). Write-write conflicts are first updater
// wins, without waiting: writing a key whose newest version belongs to another active
// transaction, or was committed after this transaction's snapshot, returns kConflict, after
// which the transaction can only abort. Reads never block on writers and never take a
// transaction id.
//
// Durability: a transaction that wrote something is logged before it becomes visible.
// prepare_commit() hands out its redo (what it leaves each key it wrote), without ending it:
// its writes stay invisible and its keys held (others writing them get kConflict), so the
// write-ahead log can make the redo durable meanwhile; commit() then makes it visible. Since
// writers of one key are serialized that way, the log's order is a valid commit order for
// replay.
//
// Limits (EngineOptions): key and value size (kTooLarge), memory for stored data
// (kOutOfMemory on puts; reads and deletes keep working, so space can be reclaimed), read
// views = concurrent transactions plus sessions (kTooManyViews).
//
// Thread safety: Engine methods may be called concurrently. A Transaction or Session is used
// by one thread at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "daemon/engine/status.h"
#include "daemon/index/btree.h"
#include "mvcc/mvcc_manager.h"
#include "mvcc/purge.h"
#include "mvcc/trx_sys.h"
#include "mvcc/version.h"
#include "sync/mutex.h"
#include "sync/thread_annotations.h"

namespace ringdb::daemon {

// The largest key and value sizes any configuration may set (--key-size-max,
// --value-size-max): also what an offline check of a checkpoint accepts.
inline constexpr size_t kKeySizeMaxLimit = size_t{64} << 10;
inline constexpr size_t kValueSizeMaxLimit = size_t{64} << 20;

struct EngineOptions {
  size_t key_size_max = 1024;                   // bytes; keys must be non-empty
  size_t value_size_max = size_t{1} << 20;      // 1 MiB
  size_t memory_limit_bytes = size_t{1} << 30;  // versions, chains and keys held in memory
  uint32_t views_max = 4096;                    // concurrent transactions + sessions
  uint32_t index_node_keys_max = 64;
  // Purge runs this often in its own thread while work is left (and sleeps while none is);
  // 0 = no thread (call run_purge() yourself).
  std::chrono::milliseconds purge_interval{10};
};

enum class TxnMode : uint8_t { kReadWrite, kReadOnly };

class Engine;

class Transaction {
 public:
  mvcc::Csn snapshot_csn() const { return view_->snapshot(); }
  bool read_only() const { return mode_ == TxnMode::kReadOnly; }
  // Its id, once it wrote something (mvcc::kNoTrx before): for the log's records.
  mvcc::TrxId id() const { return id_; }
  // After a write answered kConflict because another transaction's uncommitted write held
  // the key: that transaction (mvcc::kNoTrx if the conflict was a commit after the snapshot).
  mvcc::TrxId blocked_by() const { return blocked_by_; }

 private:
  friend class Engine;
  TxnMode mode_ = TxnMode::kReadWrite;
  bool failed_ = false;
  mvcc::ReadView* view_ = nullptr;
  mvcc::TrxId id_ = mvcc::kNoTrx;
  std::vector<mvcc::VersionChain*> write_set_;  // each chain once
  // Every version it wrote, stamped directly at commit: once it is visible, others may stack
  // newer versions on its chains, so a walk from the head could miss them.
  std::vector<mvcc::Version*> versions_;
  uint32_t locks_ = 0;  // of those, locks (Engine::hold)
  mvcc::TrxId blocked_by_ = mvcc::kNoTrx;
};

// A client session: keeps one read view between autocommit reads (AC-NL-RO reuse).
class Session {
 private:
  friend class Engine;
  mvcc::ReadView* view_ = nullptr;
  uint64_t id_ = 0;
};

// Fills the engine with keys in increasing order: a checkpoint's load at recovery
// (daemon/durability/recovery.cc). Each key's chain is made with its one version already
// committed and appended to the index's rightmost leaf (BTree::Appender): no transaction, no
// lookup and no history for purge per key. Every key loaded has one commit sequence number,
// taken when the load began; a reader whose snapshot includes it sees each key from the moment
// it is added (recovery has no reader). REQUIRES: no other thread writes the engine while it
// lives. Engine::begin_bulk_load makes one.
class BulkLoad {
 public:
  // kOk; kInvalidArgument (an empty key, or one not greater than every key in the engine);
  // kTooLarge; kOutOfMemory. Nothing is added unless kOk.
  Status add(std::string_view key, std::string_view value);

 private:
  friend class Engine;
  BulkLoad(Engine* engine, mvcc::Csn csn, BTree* index)
      : engine_(engine), csn_(csn), appender_(index) {}

  Engine* const engine_;
  const mvcc::Csn csn_;
  BTree::Appender appender_;
};

// One key's final state in a transaction's redo. The views point into the engine's versions
// and stay valid until the transaction ends.
struct RedoOp {
  bool tombstone = false;  // a deletion
  std::string_view key;
  std::string_view value;  // empty for a deletion
};

// A condition on a key, evaluated in a transaction's snapshot (Engine::evaluate): the key has
// no visible value (kAbsent), has one (kPresent), has exactly `value` (kEquals), or has a
// visible value committed at or before `csn` (kUnchangedSince: no commit has changed or
// deleted it since; false for an absent key, whose deletion time is not kept).
enum class ConditionKind : uint8_t { kAbsent, kPresent, kEquals, kUnchangedSince };
struct Condition {
  ConditionKind kind = ConditionKind::kPresent;
  std::string_view key;
  std::string_view value;        // kEquals
  mvcc::Csn csn = mvcc::kNoCsn;  // kUnchangedSince
};

// The keys start <= key < end that begin with `prefix`, ascending, or descending from the
// largest if `reverse`; at most `limit` visible ones. Empty start/end/prefix: no bound.
struct ScanOptions {
  std::string start;
  std::string end;
  std::string prefix;
  size_t limit = 100;  // must be >= 1: every scan is bounded
  bool reverse = false;
  // Also stops once the results hold this many key and value bytes (after the item that
  // reached it: at least one item is returned).
  size_t bytes_max = SIZE_MAX;
  // Also stops after visiting this many index entries (visible or not): a bound on one call's
  // work, for a caller that goes on later from ScanProgress::next_key.
  size_t visits_max = SIZE_MAX;
  // Also stops, as visits_max does, when this says so: asked every kStepAsideEvery visits (a
  // caller that shares its thread lets waiting work go first). Empty: never asked.
  std::function<bool()> step_aside;
  static constexpr uint64_t kStepAsideEvery = 8;
};

// Where a scan stopped (Engine::scan).
struct ScanProgress {
  bool more = false;  // the range holds more: after the last item returned or at next_key
  // visits_max stopped it: the range goes on at this key (inclusive); not looked at yet.
  bool cut = false;
  std::string next_key;
  uint64_t visited = 0;  // index entries visited
};

struct KeyValue {
  std::string key;
  std::string value;
  bool operator==(const KeyValue&) const = default;
};

// A transaction whose uncommitted write turned other writers away (CONFLICT): what an
// operator needs to find a stuck client that holds keys others want (ringdb-admin contention).
struct Contention {
  mvcc::TrxId holder = mvcc::kNoTrx;
  uint64_t conflicts = 0;  // writers turned away by its uncommitted writes
  std::string key;         // the last such key (its first kContentionKeyShown bytes)
  int64_t first_ns = 0;    // the first and last of them (coarse monotonic clock)
  int64_t last_ns = 0;
};
inline constexpr size_t kContentionKeyShown = 64;
// The table keeps this many holders, the most recently contended.
inline constexpr size_t kContentionMax = 64;

struct EngineStats {
  size_t memory_used_bytes = 0;
  size_t memory_limit_bytes = 0;
  size_t keys = 0;         // index entries (live keys plus deleted ones purge has not removed)
  size_t index_bytes = 0;  // the index's nodes and long keys (not charged to the limit)
  uint64_t history_length = 0;
  int64_t oldest_view_age_ns = 0;
  uint32_t active_views = 0;
  uint64_t trx_started = 0, trx_committed = 0, trx_aborted = 0, trx_conflicted = 0;
  mvcc::PurgeStats purge;
  bool purge_idle = false;  // the purge thread sleeps until a transaction leaves work
};

class Engine final : private mvcc::DeadChainHandler {
 public:
  friend class BulkLoad;  // check_key, charge
  explicit Engine(EngineOptions options = {});
  // REQUIRES: no open transaction or session.
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Transactions. begin: kOk or kTooManyViews.
  Status begin(TxnMode mode, std::unique_ptr<Transaction>* txn);
  // kOk, kNotFound. `csn` (if given): the commit sequence number of the version read
  // (mvcc::kNoCsn for the transaction's own write).
  Status get(Transaction& txn, std::string_view key, std::string* value, mvcc::Csn* csn = nullptr);
  // kOk, kConflict, kOutOfMemory, kTooLarge, kInvalidArgument, kTransactionDone.
  Status put(Transaction& txn, std::string_view key, std::string_view value);
  // As put; kNotFound (and no write) if the key has no visible value.
  Status del(Transaction& txn, std::string_view key);
  // Conditional writes (a conditional batch: the worker's kBatch). evaluate: whether
  // `condition` holds in txn's snapshot (*holds), and the commit sequence number of the
  // version it looked at (*csn; kNoCsn if none, or txn's own write); kOk, kInvalidArgument,
  // kTooLarge (the key), kTransactionDone. It changes nothing: a condition that must still
  // hold when txn commits needs hold() too.
  Status evaluate(Transaction& txn, const Condition& condition, bool* holds, mvcc::Csn* csn);
  // Keeps `key` as txn's snapshot sees it until txn ends, without writing it: a lock version
  // heads its chain (readers pass over it), so that another transaction's write of the key
  // gets kConflict, as if txn had written it, and a commit of the key after txn's snapshot
  // makes this kConflict (evaluate() looked at an old state: retry with a new snapshot).
  // Nothing is logged for it, and it leaves the chain when txn commits or aborts. A key txn
  // has written is held already (a no-op). kOk, kConflict, kOutOfMemory, and put's others.
  Status hold(Transaction& txn, std::string_view key);
  // The transactions whose uncommitted writes turned writers away, most recently contended
  // first (at most kContentionMax; a holder that ended may still be listed: see ClientSession).
  std::vector<Contention> contention() const EXCLUDES(contention_mu_);
  // kOk (possibly with no results), kInvalidArgument. Replaces *out's contents.
  // `progress` (if given): whether the range holds more. When the limit or bytes_max stopped
  // the scan, it looks one visible key further to tell (more: true, go on after the last
  // item); when visits_max or step_aside did, more and cut are true and the range goes on at
  // next_key.
  Status scan(Transaction& txn, const ScanOptions& options, std::vector<KeyValue>* out,
              ScanProgress* progress = nullptr);
  // The redo of txn's writes, each key it wrote once, in the order it first wrote them (empty
  // if it wrote nothing): kOk, or kTransactionDone if it failed earlier (abort it). The
  // transaction stays open and its writes invisible until commit() or abort().
  Status prepare_commit(const Transaction& txn, std::vector<RedoOp>* redo) const;
  // kOk, or kTransactionDone (then it was aborted). Releases the transaction either way.
  // `commit_csn`, if given, receives its place in the commit order (kNoCsn if it wrote
  // nothing).
  Status commit(std::unique_ptr<Transaction> txn, mvcc::Csn* commit_csn = nullptr);
  void abort(std::unique_ptr<Transaction> txn);

  // Sessions and autocommit operations. open_session: kOk or kTooManyViews.
  Status open_session(std::unique_ptr<Session>* session, uint64_t id);
  void close_session(std::unique_ptr<Session> session);
  // The AC-NL-RO fast path: reuses the session's view; no transaction id, no allocation.
  Status get(Session& session, std::string_view key, std::string* value);
  // The same get, handing the value over instead of copying it into a string: on kOk,
  // `sink(context, value)` is called once, while the session's view is still active, and the
  // bytes are valid during that call only (an answer is written from them straight into
  // shared memory), with the commit sequence number of the version. Use get_with() for a
  // lambda (value, csn).
  using ValueSink = void (*)(void* context, std::string_view value, mvcc::Csn csn);
  Status get(Session& session, std::string_view key, ValueSink sink, void* context);
  template <typename Fn>
  Status get_with(Session& session, std::string_view key, Fn&& fn) {
    return get(
        session, key,
        [](void* f, std::string_view value, mvcc::Csn csn) {
          (*static_cast<std::remove_reference_t<Fn>*>(f))(value, csn);
        },
        &fn);
  }
  Status put(Session& session, std::string_view key, std::string_view value);
  Status del(Session& session, std::string_view key);

  // A checkpoint's snapshot: a read-only transaction whose view is taken at a cut
  // (mvcc::TrxSys::cut): *cut says which transactions it contains, by id, so that recovery
  // can tell the log's records it holds from those it does not. kOk or kTooManyViews.
  Status begin_checkpoint(std::unique_ptr<Transaction>* txn, mvcc::TrxSys::Cut* cut);
  // Commit sequence numbers go from `after` + 1 to `last` (mvcc::TrxSys::start_csns): a
  // daemon's run numbers its commits above every number an earlier run handed out
  // (daemon/durability/csn_epoch.h), so that kUnchangedSince compares numbers of one order.
  // REQUIRES: nothing committed yet.
  void start_csns(mvcc::Csn after, mvcc::Csn last) { trx_sys_.start_csns(after, last); }
  // Hot keys (the worker's waiting writers): mark_logged() says txn's redo is in the log, so
  // it ends (commit or abort) within a log write; waits_for_log(holder) whether a transaction
  // that turned a writer away (Transaction::blocked_by) is such a one, still open; ended(id)
  // whether it committed or aborted since.
  void mark_logged(const Transaction& txn) { trx_sys_.mark_logged(txn.id_); }
  bool waits_for_log(mvcc::TrxId holder) const {
    const mvcc::TrxSys::Lookup l = trx_sys_.lookup(holder);
    return l.state == mvcc::TrxSys::State::kActive && l.logged;
  }
  bool ended(mvcc::TrxId id) const {
    return trx_sys_.lookup(id).state != mvcc::TrxSys::State::kActive;
  }
  // Commits and aborts so far: a cheap test for "did any transaction end?".
  uint64_t ended_count() const { return trx_sys_.committed_count() + trx_sys_.aborted_count(); }
  // A bulk load (BulkLoad says what it does and requires), its keys committed as one
  // transaction would commit them, now.
  std::unique_ptr<BulkLoad> begin_bulk_load();
  // Recovery: transaction ids go on from at least `id`. REQUIRES: no open transaction.
  void advance_trx_ids(mvcc::TrxId id) { trx_sys_.advance_next_id(id); }
  mvcc::TrxId next_trx_id() const { return trx_sys_.next_id(); }

  void run_purge() { purger_.run_once(); }
  EngineStats stats() const;
  const EngineOptions& options() const { return options_; }

 private:
  Status check_key(std::string_view key) const;
  bool charge(size_t bytes);
  void uncharge(size_t bytes);
  Status write(Transaction& txn, std::string_view key, std::string_view value, bool tombstone,
               bool lock = false);
  // At commit: takes txn's locks out of their chains. REQUIRES: its other versions stamped.
  void release_locks(Transaction& txn);
  void note_contention(mvcc::TrxId holder, std::string_view key) EXCLUDES(contention_mu_);
  mvcc::VersionChain* find_or_create_chain(std::string_view key,
                                           const mvcc::VersionChain::FirstVersion* first,
                                           bool* created, Status* status);
  // The version of `key` that `view` sees, or nullptr (none, or a delete).
  const mvcc::Version* visible(const mvcc::ReadView& view, std::string_view key) const;
  // The commit sequence number of a version `view` sees (kNoCsn: the view's own write).
  mvcc::Csn version_csn(const mvcc::ReadView& view, const mvcc::Version& version) const;
  void end_transaction(Transaction& txn);

  // DeadChainHandler
  void remove_dead_chain(mvcc::VersionChain* chain) override;
  static void prefetch_newest(const void* payload);
  void on_reclaimed(size_t bytes) override { uncharge(bytes); }

  const EngineOptions options_;
  mvcc::TrxSys trx_sys_;
  mvcc::MvccManager mvcc_;
  BTree index_;
  std::atomic<size_t> memory_used_{0};
  std::atomic<uint64_t> conflicts_{0};
  mutable sync::Mutex contention_mu_;  // on the conflict path only
  std::vector<Contention> contention_ GUARDED_BY(contention_mu_);
  mvcc::Purger purger_;  // last: its thread uses the members above
};

}  // namespace ringdb::daemon
