// libringdb's C++ API: a connection to ringdbd over shared-memory rings.
//
//   std::unique_ptr<ringdb::Client> client;
//   if (ringdb::Client::connect({}, &client) != ringdb::Status::kOk) ...
//   client->put("k", "v");
//   std::string v;
//   client->get("k", &v);
//
// Errors are Status codes (ringdb/ringdb.h lists them); nothing here throws except
// std::bad_alloc from the standard containers it fills.
//
// Thread safety:
//   - Client: safe for concurrent use by many threads; each thread submits to the request
//     ring of the CPU it runs on.
//   - Transaction: one thread at a time (it may move between threads); its requests run one
//     after another.
//   - Operation: one thread at a time; while submitted it belongs to the client until wait()
//     or poll() returns true.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ringdb/ringdb.h"

namespace ringdb {

// The codes of <ringdb/status_codes.h>, which says what each means; the same numbers as the
// C ABI's ringdb_status.
#define RINGDB_CPP_STATUS(name, camel, number, message) k##camel = RINGDB_##name,
enum class [[nodiscard]] Status : int{RINGDB_ALL_STATUS_CODES(RINGDB_CPP_STATUS)};
#undef RINGDB_CPP_STATUS

// "OK", "NOT_FOUND", ... (the names ringdb-cli prints).
const char* status_name(Status status);
// What `status` means, in a sentence for a person ("another transaction wrote this key first
// (first updater wins); only abort is useful now"); static storage. For kTooLarge,
// last_error_detail() says which part and the limit.
const char* status_message(Status status);

// This library's version ("0.1.0"); <ringdb/version.h> has the one a program was compiled
// against, Client::daemon_version() the daemon's.
const char* version();

// What the last answer this thread received exceeded, when it was kTooLarge: which part (a
// key, a value, the transaction's log record) and the daemon's limit, in a sentence; empty
// otherwise (each answer this thread reads sets it).
std::string last_error_detail();

// The socket a client connects to when none is given: $RINGDB_SOCKET if set, else
// /run/ringdb/ringdb.sock for root and $XDG_RUNTIME_DIR/ringdb/ringdb.sock (or
// /tmp/ringdb-$UID/ringdb.sock) for other users. ringdbd uses the same default.
std::string default_socket_path();

// How durable a commit is when its answer comes: kSync (the default), its log record is on
// disk; kAsync, it is queued for the log (visible at once; lost if the daemon or the machine
// dies before the next write, or if the disk is full then); kNone, not logged at all (lost
// at the next restart).
enum class Durability : uint8_t { kSync = RINGDB_SYNC, kAsync = RINGDB_ASYNC, kNone = RINGDB_NONE };

struct ConnectOptions {
  std::string socket_path;  // empty: default_socket_path()
  // Who may answer on the socket: the daemon's user (SO_PEERCRED) must be root, this
  // process's user, or one of these; otherwise connect() sends nothing and returns
  // kUntrustedDaemon (another user's process could have put its socket in the daemon's place).
  std::vector<uint32_t> daemon_uids;
  // The first time a thread waits for an answer, libringdb takes the CPUs the daemon's
  // workers are pinned to out of that thread's affinity (sched_setaffinity; no privilege
  // needed). A worker polls its CPU without sleeping while requests come, so a client thread
  // placed there waits up to a time slice, milliseconds, for every answer. A thread is left
  // alone if that would leave it no CPU (the application pinned it to a worker CPU), and an
  // affinity the application sets later is kept. Threads and processes that thread starts
  // afterwards inherit the narrowed affinity, as with any sched_setaffinity. false, or
  // RINGDB_KEEP_OFF_WORKER_CPUS=0 in the environment: libringdb never changes a thread's
  // affinity.
  bool keep_threads_off_worker_cpus = true;
};

struct KeyValue {
  std::string key;
  std::string value;
};

struct ScanOptions {
  std::string start;     // keys >= start; empty: unbounded
  std::string end;       // keys < end; empty: unbounded
  std::string prefix;    // keys that begin with prefix
  uint32_t limit = 100;  // >= 1
  bool reverse = false;
};

// What a Cursor iterates over: the keys of a range or prefix, ascending or descending.
struct CursorOptions {
  std::string start;   // keys >= start; empty: unbounded
  std::string end;     // keys < end; empty: unbounded
  std::string prefix;  // keys that begin with prefix
  bool reverse = false;
  // Items fetched per request to the daemon (1 to the daemon's scan limit, 100 000 by
  // default); a page also stops at the daemon's answer byte limit (--scan-result-bytes-max).
  uint32_t page_items = 1000;
};

class Client;
class Cursor;
class Transaction;
namespace shm {
enum class BatchKind : uint8_t;  // the wire's entry kinds (the library's own header)
}

// Entries in one Batch, conditions and operations together.
inline constexpr uint32_t kBatchEntriesMax = RINGDB_BATCH_ENTRIES_MAX;

// A conditional batch (Client::apply): conditions on keys and a list of puts and deletes,
// applied atomically, in one request, if every condition holds — etcd's Txn without its
// else branch, RocksDB's WriteBatch with preconditions. The conditions are evaluated on one
// snapshot, before the batch's own writes, and still hold when it commits (the daemon holds
// their keys meanwhile). The operations run in the order added; a later one on the same key
// wins; deleting a key that has no value is no error.
//
//   ringdb::Batch b;
//   b.if_equals("balance/a", "100").put("balance/a", "70").put("balance/b", "30");
//   ringdb::BatchResult r;
//   if (client->apply(b, &r) == ringdb::Status::kConditionFailed) ... r.failed_condition
//
// Limits: at most kBatchEntriesMax entries (conditions and operations together; more:
// kTooLarge), its encoding (24 bytes per entry plus keys and values) within the daemon's
// request area, keys and values within the daemon's limits; everything it writes within one
// log record (docs/PROTOCOL.md, "Conditional batches"). A Batch is a plain value: build it on
// one thread at a time.
class Batch {
 public:
  // Conditions: the key has no value; has one; has exactly `value`; has a value that no
  // commit changed after commit sequence number `csn` (Transaction::commit_sequence(),
  // BatchResult::commit_sequence, or a get's Operation::commit_sequence(); false for a key with
  // no value, and for any key after the daemon restarted since `csn` was handed out).
  Batch& if_absent(std::string_view key);
  Batch& if_present(std::string_view key);
  Batch& if_equals(std::string_view key, std::string_view value);
  Batch& if_unchanged_since(std::string_view key, uint64_t csn);
  // Operations.
  Batch& put(std::string_view key, std::string_view value);
  Batch& del(std::string_view key);

  uint32_t conditions() const { return conditions_; }
  uint32_t operations() const { return operations_; }
  void clear();

 private:
  friend class Client;
  friend class Operation;
  Batch& add(shm::BatchKind kind, std::string_view key, std::string_view value, uint64_t csn);
  std::string payload() const;
  std::string condition_list_;
  std::string operation_list_;
  uint32_t conditions_ = 0;
  uint32_t operations_ = 0;
};

struct BatchResult {
  uint64_t commit_sequence = 0;  // kOk: the commit's place in the commit order (0: no write)
  // kOk with durability sync: the log position after the commit (a watch event whose
  // sequence is at least this has passed it; watching from it gives the later commits).
  // 0 for async, none, or a batch that wrote nothing.
  uint64_t log_position = 0;
  uint32_t failed_condition = 0;  // kConditionFailed: which, counting the conditions from 0
  // kConditionFailed: the commit sequence number of that key's value (0: it has none).
  uint64_t failed_key_sequence = 0;
};

// Watches: a resumable, ordered feed of committed changes (docs/PROTOCOL.md, "Watches").
// A watch follows a key range from a position in the daemon's log; its events are the
// commits that changed keys in the range, each whole, in commit order, delivered through the
// session's shared memory once they are on disk and visible. Positions are stable across
// restarts: a watcher that stores the last event's `sequence` and comes back with it (a new
// session, a new daemon) gets every later commit exactly once, as long as the log still holds
// it (--watch-retain); else kCompacted. Durability-none commits are never logged, so never
// delivered; async ones once their log write is on disk.
inline constexpr uint64_t kWatchFromNow = UINT64_MAX;

struct WatchOptions {
  std::string start;   // keys >= start; empty: unbounded
  std::string end;     // keys < end; empty: unbounded
  std::string prefix;  // keys that begin with prefix
  // Where it starts: kWatchFromNow, the commits made from now on; a WatchEvent's sequence,
  // every commit after that one; 0, from the oldest commit the log holds.
  uint64_t from = kWatchFromNow;
  bool keys_only = false;  // events without values
};

struct Change {
  bool deleted = false;
  std::string key;
  std::string value;  // empty for a delete, with keys_only, or when value_omitted
  // The value is larger than a quarter of the session's event ring (ringdbd --event-ring):
  // read it with get() (a later commit may have changed it since).
  bool value_omitted = false;
};

struct WatchEvent {
  enum class Type : uint8_t {
    kCommit,     // a commit's changes in the watch's range
    kCompacted,  // the watch ended: the log no longer holds its next commit
    kEnded,      // the watch ended: the daemon could not read its log on (it says why)
  };
  Type type = Type::kCommit;
  uint32_t watch = 0;  // the watch's id
  // kCommit: the log position after this commit: a watch from it gets every later commit.
  // kCompacted: the oldest position the log holds (read a snapshot, then watch from now).
  uint64_t sequence = 0;
  std::vector<Change> changes;  // kCommit: in the order the commit wrote them
};

// One request that can be kept in flight with others (Client::submit, wait, poll).
// Build it with one of the factories, submit it, wait for it, read the result.
class Operation {
 public:
  static Operation ping();
  static Operation get(std::string_view key);
  static Operation put(std::string_view key, std::string_view value);
  static Operation del(std::string_view key);
  static Operation scan(const ScanOptions& options);
  // Autocommit only (set_transaction is ignored for it).
  static Operation batch(const Batch& batch, Durability durability = Durability::kSync);

  Operation();
  ~Operation();
  Operation(Operation&&) noexcept;
  Operation& operator=(Operation&&) noexcept;
  Operation(const Operation&) = delete;
  Operation& operator=(const Operation&) = delete;

  // Runs the operation inside `txn` instead of autocommit (before submit).
  void set_transaction(const Transaction& txn);
  // An autocommit put or del, or a batch: how durable before the answer (before submit;
  // kSync by default). Ignored for other operations and inside a transaction.
  void set_durability(Durability durability);

  // Valid after wait() (or poll() returned true).
  Status status() const { return status_; }
  const std::string& value() const { return value_; }            // get
  const std::vector<KeyValue>& items() const { return items_; }  // scan
  bool truncated() const { return truncated_; }                  // scan
  // get: the commit sequence number of the value's version (0: the transaction's own write);
  // batch: as BatchResult's commit_sequence, or failed_key_sequence.
  uint64_t commit_sequence() const { return result_u64_; }
  uint32_t failed_condition() const { return result_count_; }  // batch, kConditionFailed
  // An autocommit put or del, or a batch, committed with durability sync: the log position
  // after it (as BatchResult's log_position); 0 otherwise.
  uint64_t log_position() const;

 private:
  friend class Client;
  struct Request;
  std::unique_ptr<Request> request_;
  uint32_t context_ = UINT32_MAX;  // while submitted
  Status status_ = Status::kOk;
  std::string value_;
  std::vector<KeyValue> items_;
  bool truncated_ = false;
  uint64_t result_u64_ = 0;
  uint32_t result_count_ = 0;
};

class Client {
 public:
  // Connects to the daemon. On failure returns the reason's Status and, if `error` is not
  // null, a sentence for a person.
  static Status connect(const ConnectOptions& options, std::unique_ptr<Client>* out,
                        std::string* error = nullptr);
  // Closes the session; the daemon aborts its open transactions.
  // REQUIRES: no Operation submitted and not yet waited for.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  uint64_t session_id() const;
  // The daemon's software version, as it said when the session began ("0.1.0").
  const std::string& daemon_version() const;

  // A limit on how long a call waits for the daemon (0, the default: none; negative counts
  // as 0): for an answer, and for a free request context or request-area room when the
  // session's are all in use. Past it the call returns kTimedOut. The request is abandoned,
  // not cancelled: the daemon still runs it, so a write or commit that timed out may have
  // happened (read back to know), and a transaction whose request timed out answers
  // kTransactionBusy until the daemon is done with it. Each wait has the limit on its own
  // (execute() may take longer in all). Watches' next_event() has its own. Any thread.
  void set_timeout(int64_t timeout_ms);
  int64_t timeout_ms() const;

  Status ping();
  // Autocommit operations: each runs as its own transaction. A put or del whose key is held by
  // another commit waiting for its log write waits for it and goes on after it; kConflict only
  // when a client's transaction in progress holds the key.
  Status get(std::string_view key, std::string* value);
  // The same, with the commit sequence number of the value's version (for
  // Batch::if_unchanged_since).
  Status get(std::string_view key, std::string* value, uint64_t* commit_sequence);
  Status put(std::string_view key, std::string_view value,
             Durability durability = Durability::kSync);
  Status del(std::string_view key, Durability durability = Durability::kSync);
  // *truncated (if given): the range holds more keys than were returned (options.limit or the
  // daemon's per-answer byte limit stopped the scan); go on from just after the last key
  // (forward: start = last key + '\0'; reverse: end = last key).
  Status scan(const ScanOptions& options, std::vector<KeyValue>* items, bool* truncated = nullptr);

  // A conditional batch, in one request: kOk (applied, durable as asked), kConditionFailed
  // (nothing written; `result` says which condition), kConflict (a key it writes or holds is
  // held by a client's transaction in progress; a commit waiting for its log write is waited
  // for instead, up to 1 s), kTooLarge, kInvalidArgument (an empty key), kOutOfMemory,
  // kDiskFull, or a transport error.
  Status apply(const Batch& batch, BatchResult* result = nullptr,
               Durability durability = Durability::kSync);

  // Starts a snapshot-isolated transaction.
  Status begin(std::unique_ptr<Transaction>* txn, bool read_only = false);

  // A cursor over one snapshot taken now (see Cursor). It holds a read-only transaction of
  // its own until destroyed: one of the session's transactions, which keeps old versions
  // from purge while it lives and is ended by the daemon (kTrxTooOld) past
  // --transaction-age-max-ms. kOk, kInvalidArgument (page_items 0), or begin()'s errors.
  Status open_cursor(const CursorOptions& options, std::unique_ptr<Cursor>* out);

  // Starts a watch (see WatchOptions): kOk with *id and *position (where it starts: the log's
  // end for kWatchFromNow); kCompacted (*position: the oldest position the log holds);
  // kInvalidArgument (`from` is no position of this daemon's log); kTooManyWatches (the
  // session's limit, ringdbd --watches-per-session-max, or the daemon's).
  Status watch(const WatchOptions& options, uint32_t* id, uint64_t* position = nullptr);
  // Ends a watch: kOk, or kNotFound. Events of it still on their way are dropped.
  Status unwatch(uint32_t id);
  // The next event of any of the session's watches, waiting up to `timeout_ms` (negative:
  // without limit): kOk, kTimedOut, or the session's end (kDisconnected, kShuttingDown).
  // One commit's changes for one watch always come as one event. Any thread; one at a time.
  Status next_event(WatchEvent* event, int64_t timeout_ms = -1);
  // The log position the daemon's feed had reached when it last wrote to this session's
  // events: how far behind a watcher is = this minus the last sequence it handled.
  uint64_t feed_position();

  // Asynchronous form: submit() sends `op` and returns once it is in a ring (waiting, asleep
  // after a short spin, while the ring or the session's in-flight limit is full); try_submit()
  // returns kRingFull or kTooManyInFlight instead of waiting. wait() blocks until the answer
  // is there; poll() returns true if it is (and completes `op` like wait()). A submitted op
  // must be waited for (or polled to completion) before it is destroyed or submitted again.
  Status submit(Operation* op);
  Status try_submit(Operation* op);
  Status wait(Operation* op);
  bool poll(Operation* op);
  // Runs every operation of `ops` (built, not submitted) and returns when all are complete,
  // keeping as many in flight as the session allows: one call for a whole batch of gets or
  // writes, at the speed of the pipeline rather than of round trips. Each op's status() says
  // how it went (one whose submit failed, e.g. kTooLarge, has that status). Autocommit
  // operations overlap and may execute in any order; operations inside a transaction run one
  // after another (a transaction runs one request at a time). Returns kOk, or the transport
  // error that ended the session (the status of every op not complete by then);
  // kInvalidArgument, running none, if an op is null, empty or already submitted.
  Status execute(std::span<Operation* const> ops);
  // A descriptor an event loop can wait on (epoll, poll, select, asyncio's add_reader): an
  // eventfd that becomes readable when an op submitted with submit() or try_submit() after
  // the first call completes, or when the session ends. Then read it (8 bytes, to re-arm)
  // and poll() the ops in flight. It may be readable with none complete (a spurious wake:
  // poll again later). The same descriptor on every call; it belongs to the client (closed
  // with it). A library thread follows the ops (the first call starts it). kOk, or
  // kConnectFailed with a reason in *error (no descriptor left).
  Status completion_fd(int* fd, std::string* error = nullptr);

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  Status submit_as(Operation* op, bool wait_for_room, bool notify);
  friend class Transaction;
  std::unique_ptr<Impl> impl_;
};

// A transaction: snapshot isolation, first updater wins (kConflict, after which only
// abort() is useful). Destroying an open transaction aborts it.
class Transaction {
 public:
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status get(std::string_view key, std::string* value);
  Status put(std::string_view key, std::string_view value);
  Status del(std::string_view key);
  Status scan(const ScanOptions& options, std::vector<KeyValue>* items, bool* truncated = nullptr);
  // A cursor in this transaction's snapshot, seeing its own writes as of each page's fetch.
  // The transaction must outlive it and runs one request at a time: use it between the
  // cursor's pages only (a request while the cursor fetches gets kTransactionBusy).
  Status open_cursor(const CursorOptions& options, std::unique_ptr<Cursor>* out);
  // Both end the transaction whatever the outcome. commit: kOk, or kTransactionDone (it had
  // failed and was aborted), kDiskFull (it could not be logged and was aborted), or a
  // transport error.
  Status commit(Durability durability = Durability::kSync);
  void abort();

  bool open() const { return handle_ != 0; }
  uint64_t handle() const { return handle_; }
  // The commit's place in the daemon's commit order (after a successful commit that wrote).
  uint64_t commit_sequence() const { return commit_csn_; }
  // After a successful sync commit that wrote: the log position after it (see BatchResult).
  uint64_t log_position() const { return log_position_; }

 private:
  friend class Client;
  Transaction(Client* client, uint64_t handle) : client_(client), handle_(handle) {}
  Status run(Operation* op);
  Client* client_;
  uint64_t handle_;
  uint64_t commit_csn_ = 0;
  uint64_t log_position_ = 0;
};

// Iterates over a range in key order (or reverse), in one snapshot, fetching pages of
// CursorOptions::page_items from the daemon as it goes: the daemon's per-answer limits (items,
// bytes) are paged through transparently, however large the range.
//
//   ringdb::CursorOptions options;
//   options.prefix = "user/";
//   std::unique_ptr<ringdb::Cursor> cursor;
//   client->open_cursor(options, &cursor);
//   while (cursor->next() == ringdb::Status::kOk) use(cursor->key(), cursor->value());
//   if (cursor->status() != ringdb::Status::kOk) ... (an error ended it early)
//
// One thread at a time.
class Cursor {
 public:
  ~Cursor();
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  // Moves to the next item: kOk (key() and value() hold it); kNotFound at the end of the
  // range; or the error that ended it (a transport error, kTrxTooOld, kUnknownTransaction...),
  // after which next() keeps returning it.
  Status next();
  // The current item; valid until the next call to next().
  std::string_view key() const { return page_[at_ - 1].key; }
  std::string_view value() const { return page_[at_ - 1].value; }
  // kOk while going or at the normal end; the error that ended the cursor otherwise.
  Status status() const { return failed_; }

 private:
  friend class Client;
  friend class Transaction;
  Cursor(Transaction* txn, std::unique_ptr<Transaction> own, const CursorOptions& options);
  Status fetch();
  Transaction* txn_;
  std::unique_ptr<Transaction> own_;  // an autocommit cursor's snapshot
  ScanOptions next_page_;             // the rest of the range
  std::vector<KeyValue> page_;
  size_t at_ = 0;  // items of page_ already returned
  bool more_ = true;
  Status failed_ = Status::kOk;
};

// Runs fn(Transaction&) -> Status in a new transaction and commits it, again from the start
// while the attempt ends in kConflict (from fn or from commit), at most `attempts` times,
// backing off between attempts (ringdb_conflict_backoff). Returns the last attempt's Status.
template <typename Fn>
Status run_transaction(Client& client, Fn&& fn, int attempts = 16) {
  Status status = Status::kConflict;
  for (int i = 0; i < attempts; ++i) {
    std::unique_ptr<Transaction> txn;
    status = client.begin(&txn);
    if (status != Status::kOk) return status;
    status = fn(*txn);
    if (status == Status::kOk) status = txn->commit();
    if (status != Status::kConflict && status != Status::kTransactionDone) return status;
    txn.reset();  // aborts the failed attempt before the wait, so others can go on
    if (i + 1 < attempts) ringdb_conflict_backoff(static_cast<unsigned>(i));
  }
  return status;
}

}  // namespace ringdb
