// libringdb's C++ API (ringdb/client.h) over the data path (libclient/session.h). The
// synchronous calls describe their request in place (no Operation, no copy of the key or
// value: the payload goes from the caller's memory straight into the segment).
#include "ringdb/client.h"
#include "ringdb/version.h"

#include <cassert>
#include <chrono>
#include <cstring>
#include <deque>
#include <initializer_list>
#include <map>
#include <set>
#include <utility>

#include "libclient/connection.h"
#include "libclient/notifier.h"
#include "libclient/session.h"
#include "shm/batch.h"
#include "shm/wire.h"

namespace ringdb {

using libclient::kNoContext;
using libclient::RequestSpec;
using libclient::ResultSink;
using libclient::SubmitMode;
using shm::Opcode;
using shm::WireStatus;

// The daemon's codes travel unchanged: the public numbers are the wire's (both come from
// shm/status_codes.h); a code on the wire is passed on by a cast.
static_assert(static_cast<int>(Status::kTrxTooOld) == static_cast<int>(WireStatus::kTrxTooOld));
static_assert(kBatchEntriesMax == shm::kBatchEntriesMax);

const char* status_name(Status status) {
#define RINGDB_STATUS_NAME(name, camel, number, message) \
  case Status::k##camel:                                 \
    return #name;
  switch (status) { RINGDB_ALL_STATUS_CODES(RINGDB_STATUS_NAME) }
#undef RINGDB_STATUS_NAME
  return "UNKNOWN_STATUS";  // a newer daemon's code
}

const char* status_message(Status status) {
#define RINGDB_STATUS_MESSAGE(name, camel, number, message) \
  case Status::k##camel:                                    \
    return message;
  switch (status) { RINGDB_ALL_STATUS_CODES(RINGDB_STATUS_MESSAGE) }
#undef RINGDB_STATUS_MESSAGE
  return "a status code this library does not know (from a newer daemon?)";
}

const char* version() {
  return RINGDB_VERSION_STRING;
}

std::string last_error_detail() {
  return libclient::error_detail();
}

struct Client::Impl : libclient::Session {
  using Session::Session;

  // Client::completion_fd's notifier, made at the first call; published once, never reset
  // before the Impl goes (submit_as reads it without the mutex). Declared first among the
  // members, so destroyed last of them but before the Session it follows.
  sync::Mutex notifier_mu;
  std::unique_ptr<libclient::CompletionNotifier> notifier_owned GUARDED_BY(notifier_mu);
  std::atomic<libclient::CompletionNotifier*> notifier{nullptr};

  // Watch events, assembled into whole commits (one reader at a time: events_mu, held while
  // it waits; unwatch() takes only cancel_mu, so it never waits for a reader's timeout).
  sync::Mutex events_mu;
  std::map<uint32_t, WatchEvent> partial GUARDED_BY(events_mu);  // by watch: a commit's start
  std::deque<WatchEvent> ready GUARDED_BY(events_mu);
  sync::Mutex cancel_mu;
  std::set<uint32_t> cancelled GUARDED_BY(cancel_mu);  // their late events are dropped

  bool is_cancelled(uint32_t watch) EXCLUDES(cancel_mu) {
    sync::MutexGuard guard(cancel_mu);
    return cancelled.contains(watch);
  }
  // Reads what the event area holds into `ready`; hands its bytes back to the daemon.
  void drain_events() REQUIRES(events_mu);
};

void Client::Impl::drain_events() {
  shm::Event e;
  while (events().next(&e)) {
    if (is_cancelled(e.watch)) {
      partial.erase(e.watch);
      continue;
    }
    if (e.type == shm::EventType::kCompacted || e.type == shm::EventType::kEnded) {
      partial.erase(e.watch);
      WatchEvent end;
      end.type = e.type == shm::EventType::kCompacted ? WatchEvent::Type::kCompacted
                                                      : WatchEvent::Type::kEnded;
      end.watch = e.watch;
      end.sequence = e.sequence;
      ready.push_back(std::move(end));
      continue;
    }
    WatchEvent& commit = partial[e.watch];
    if ((e.flags & shm::kEventTxnFirst) != 0) commit.changes.clear();
    commit.watch = e.watch;
    commit.sequence = e.sequence;
    Change change;
    change.deleted = e.type == shm::EventType::kDelete;
    change.key.assign(e.key);
    change.value.assign(e.value);
    change.value_omitted = (e.flags & shm::kEventValueOmitted) != 0;
    commit.changes.push_back(std::move(change));
    if ((e.flags & shm::kEventTxnLast) != 0) {
      ready.push_back(std::move(commit));
      partial.erase(e.watch);
    }
  }
  events().consume();
}

namespace {

// A sync commit's answer: the log position after its record, 8 bytes (0: none given).
uint64_t log_position_of(const std::string& result) {
  uint64_t position = 0;
  if (result.size() == sizeof position) std::memcpy(&position, result.data(), sizeof position);
  return position;
}

RequestSpec spec_of(Opcode opcode, std::string_view key = {}, std::string_view value = {}) {
  RequestSpec spec;
  spec.opcode = opcode;
  spec.parts[0] = key;
  spec.parts[1] = value;
  return spec;
}

// A write's request with its durability flag (none for kSync, the daemon's default).
RequestSpec durable_spec(Opcode opcode, Durability durability, std::string_view key = {},
                         std::string_view value = {}) {
  RequestSpec spec = spec_of(opcode, key, value);
  if (durability == Durability::kAsync) spec.flags = shm::kFlagDurabilityAsync;
  if (durability == Durability::kNone) spec.flags = shm::kFlagDurabilityNone;
  return spec;
}

RequestSpec scan_spec(const ScanOptions& options) {
  RequestSpec spec = spec_of(Opcode::kScan, options.start, options.end);
  spec.parts[2] = options.prefix;
  spec.limit = options.limit;
  spec.flags = options.reverse ? shm::kFlagReverse : 0;
  return spec;
}

// Which of an Operation's result fields its opcode fills.
ResultSink sink_for(Opcode opcode, std::string* value, std::vector<KeyValue>* items,
                    bool* truncated, uint64_t* result_u64, uint32_t* result_count) {
  ResultSink sink;
  // get: the value; a write that may commit (put, del, batch): a sync commit's log position.
  if (opcode == Opcode::kGet || opcode == Opcode::kPut || opcode == Opcode::kDel ||
      opcode == Opcode::kBatch) {
    sink.value = value;
  }
  if (opcode == Opcode::kScan) {
    sink.items = items;
    sink.truncated = truncated;
  }
  sink.result_u64 = result_u64;
  if (opcode == Opcode::kBatch) sink.result_count = result_count;
  return sink;
}

Status run_in_transaction(libclient::Session& session, uint64_t handle, RequestSpec spec,
                          const ResultSink& sink) {
  if (handle == 0) return Status::kUnknownTransaction;  // committed or aborted already
  spec.txn = handle;
  return session.run(spec, sink);
}

}  // namespace

// ---- Operation --------------------------------------------------------------------------

// An Operation owns a copy of its payload (the caller's key may be gone by submit time);
// `spec` views it. Heap-allocated, so moving the Operation moves no bytes the views see.
struct Operation::Request {
  RequestSpec spec;
  std::string storage;

  void assign(Opcode opcode, std::initializer_list<std::string_view> parts) {
    spec.opcode = opcode;
    size_t total = 0;
    for (std::string_view p : parts)
      total += p.size();
    storage.reserve(total);
    for (std::string_view p : parts)
      storage.append(p);
    size_t at = 0;
    size_t i = 0;
    for (std::string_view p : parts) {
      spec.parts[i++] = std::string_view(storage.data() + at, p.size());
      at += p.size();
    }
  }
};

Operation Operation::ping() {
  Operation op;
  op.request_ = std::make_unique<Request>();
  op.request_->assign(Opcode::kPing, {});
  return op;
}

Operation Operation::get(std::string_view key) {
  Operation op;
  op.request_ = std::make_unique<Request>();
  op.request_->assign(Opcode::kGet, {key});
  return op;
}

Operation Operation::put(std::string_view key, std::string_view value) {
  Operation op;
  op.request_ = std::make_unique<Request>();
  op.request_->assign(Opcode::kPut, {key, value});
  return op;
}

Operation Operation::del(std::string_view key) {
  Operation op;
  op.request_ = std::make_unique<Request>();
  op.request_->assign(Opcode::kDel, {key});
  return op;
}

Operation Operation::scan(const ScanOptions& options) {
  Operation op;
  op.request_ = std::make_unique<Request>();
  op.request_->assign(Opcode::kScan, {options.start, options.end, options.prefix});
  op.request_->spec.limit = options.limit;
  op.request_->spec.flags = options.reverse ? shm::kFlagReverse : 0;
  return op;
}

Operation::Operation() = default;

Operation::~Operation() {
  // Its context would stay in flight for good, and its answer land in freed memory's stead.
  assert(context_ == kNoContext && "an Operation was destroyed while submitted");
}

// A submitted Operation may move: its context goes with it.
Operation::Operation(Operation&& other) noexcept
    : request_(std::move(other.request_)),
      context_(std::exchange(other.context_, kNoContext)),
      status_(other.status_),
      value_(std::move(other.value_)),
      items_(std::move(other.items_)),
      truncated_(other.truncated_),
      result_u64_(other.result_u64_),
      result_count_(other.result_count_) {}

Operation& Operation::operator=(Operation&& other) noexcept {
  assert(context_ == kNoContext && "an Operation was overwritten while submitted");
  request_ = std::move(other.request_);
  context_ = std::exchange(other.context_, kNoContext);
  status_ = other.status_;
  value_ = std::move(other.value_);
  items_ = std::move(other.items_);
  truncated_ = other.truncated_;
  result_u64_ = other.result_u64_;
  result_count_ = other.result_count_;
  return *this;
}

Operation Operation::batch(const Batch& batch, Durability durability) {
  Operation op;
  op.request_ = std::make_unique<Request>();
  op.request_->storage = batch.payload();
  op.request_->spec = durable_spec(Opcode::kBatch, durability, op.request_->storage);
  return op;
}

void Operation::set_transaction(const Transaction& txn) {
  if (!request_ || request_->spec.opcode == Opcode::kBatch) return;
  request_->spec.txn = txn.handle();
  // Inside a transaction its commit says how durable (set_durability is ignored).
  request_->spec.flags &=
      static_cast<uint8_t>(~(shm::kFlagDurabilityAsync | shm::kFlagDurabilityNone));
}

void Operation::set_durability(Durability durability) {
  if (!request_) return;
  RequestSpec& spec = request_->spec;
  if (spec.opcode != Opcode::kPut && spec.opcode != Opcode::kDel && spec.opcode != Opcode::kBatch)
    return;
  spec.flags = durable_spec(spec.opcode, durability).flags;
}

// ---- Batch ------------------------------------------------------------------------------

Batch& Batch::add(shm::BatchKind kind, std::string_view key, std::string_view value, uint64_t csn) {
  if (shm::is_condition(kind)) {
    shm::append_batch_entry(&condition_list_, kind, key, value, csn);
    ++conditions_;
  } else {
    shm::append_batch_entry(&operation_list_, kind, key, value, csn);
    ++operations_;
  }
  return *this;
}

Batch& Batch::if_absent(std::string_view key) {
  return add(shm::BatchKind::kIfAbsent, key, {}, 0);
}

Batch& Batch::if_present(std::string_view key) {
  return add(shm::BatchKind::kIfPresent, key, {}, 0);
}

Batch& Batch::if_equals(std::string_view key, std::string_view value) {
  return add(shm::BatchKind::kIfEquals, key, value, 0);
}

Batch& Batch::if_unchanged_since(std::string_view key, uint64_t csn) {
  return add(shm::BatchKind::kIfUnchangedSince, key, {}, csn);
}

Batch& Batch::put(std::string_view key, std::string_view value) {
  return add(shm::BatchKind::kPut, key, value, 0);
}

Batch& Batch::del(std::string_view key) {
  return add(shm::BatchKind::kDel, key, {}, 0);
}

void Batch::clear() {
  condition_list_.clear();
  operation_list_.clear();
  conditions_ = operations_ = 0;
}

std::string Batch::payload() const {
  return shm::batch_payload(conditions_, condition_list_, operations_, operation_list_);
}

// ---- Client -----------------------------------------------------------------------------

Status Client::connect(const ConnectOptions& options, std::unique_ptr<Client>* out,
                       std::string* error) {
  if (out == nullptr) return Status::kInvalidArgument;
  const std::string path =
      options.socket_path.empty() ? default_socket_path() : options.socket_path;
  std::unique_ptr<libclient::Connection> connection;
  if (Status s = libclient::Connection::open(path, options.daemon_uids, &connection, error);
      s != Status::kOk) {
    return s;
  }
  out->reset(new Client(
      std::make_unique<Impl>(std::move(connection), options.keep_threads_off_worker_cpus)));
  return Status::kOk;
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() = default;

uint64_t Client::session_id() const {
  return impl_->session_id();
}

const std::string& Client::daemon_version() const {
  return impl_->daemon_version();
}

void Client::set_timeout(int64_t timeout_ms) {
  impl_->set_timeout(std::chrono::milliseconds(std::max<int64_t>(timeout_ms, 0)));
}

int64_t Client::timeout_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(impl_->timeout()).count();
}

Status Client::ping() {
  return impl_->run(spec_of(Opcode::kPing), {});
}

Status Client::get(std::string_view key, std::string* value) {
  ResultSink sink;
  sink.value = value;
  return impl_->run(spec_of(Opcode::kGet, key), sink);
}

Status Client::get(std::string_view key, std::string* value, uint64_t* commit_sequence) {
  ResultSink sink;
  sink.value = value;
  sink.result_u64 = commit_sequence;
  return impl_->run(spec_of(Opcode::kGet, key), sink);
}

Status Client::apply(const Batch& batch, BatchResult* result, Durability durability) {
  const std::string payload = batch.payload();
  uint64_t u64 = 0;
  uint32_t count = 0;
  std::string position;
  ResultSink sink;
  sink.result_u64 = &u64;
  sink.result_count = &count;
  sink.value = &position;
  const Status s = impl_->run(durable_spec(Opcode::kBatch, durability, payload), sink);
  if (result != nullptr) {
    *result = BatchResult{};
    if (s == Status::kOk) {
      result->commit_sequence = u64;
      result->log_position = log_position_of(position);
    }
    if (s == Status::kConditionFailed) {
      result->failed_condition = count;
      result->failed_key_sequence = u64;
    }
  }
  return s;
}

Status Client::put(std::string_view key, std::string_view value, Durability durability) {
  return impl_->run(durable_spec(Opcode::kPut, durability, key, value), {});
}

Status Client::del(std::string_view key, Durability durability) {
  return impl_->run(durable_spec(Opcode::kDel, durability, key), {});
}

Status Client::scan(const ScanOptions& options, std::vector<KeyValue>* items, bool* truncated) {
  ResultSink sink;
  sink.items = items;
  sink.truncated = truncated;
  return impl_->run(scan_spec(options), sink);
}

uint64_t Operation::log_position() const {
  return request_ != nullptr && request_->spec.opcode != Opcode::kGet ? log_position_of(value_) : 0;
}

Status Client::watch(const WatchOptions& options, uint32_t* id, uint64_t* position) {
  if (id == nullptr) return Status::kInvalidArgument;
  RequestSpec spec = spec_of(Opcode::kWatch, options.start, options.end);
  spec.parts[2] = options.prefix;
  spec.txn = options.from;
  spec.flags = options.keys_only ? shm::kFlagKeysOnly : 0;
  uint64_t u64 = 0;
  uint32_t count = 0;
  ResultSink sink;
  sink.result_u64 = &u64;
  sink.result_count = &count;
  const Status s = impl_->run(spec, sink);
  if (position != nullptr && (s == Status::kOk || s == Status::kCompacted)) *position = u64;
  if (s == Status::kOk) *id = count;
  return s;
}

Status Client::unwatch(uint32_t id) {
  if (id == 0) return Status::kNotFound;
  RequestSpec spec = spec_of(Opcode::kUnwatch);
  spec.limit = id;
  const Status s = impl_->run(spec, {});
  if (s == Status::kOk) {
    sync::MutexGuard guard(impl_->cancel_mu);
    impl_->cancelled.insert(id);
  }
  return s;
}

Status Client::next_event(WatchEvent* event, int64_t timeout_ms) {
  if (event == nullptr) return Status::kInvalidArgument;
  const int64_t deadline = timeout_ms < 0
                               ? -1
                               : std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch() +
                                     std::chrono::milliseconds(timeout_ms))
                                     .count();
  sync::MutexGuard guard(impl_->events_mu);
  for (;;) {
    impl_->drain_events();
    while (!impl_->ready.empty()) {
      WatchEvent e = std::move(impl_->ready.front());
      impl_->ready.pop_front();
      if (impl_->is_cancelled(e.watch)) continue;  // (unwatched after it was read)
      *event = std::move(e);
      return Status::kOk;
    }
    if (const Status s = impl_->wait_for_events(deadline); s != Status::kOk) return s;
  }
}

uint64_t Client::feed_position() {
  return impl_->events().feed_end();
}

Status Client::begin(std::unique_ptr<Transaction>* txn, bool read_only) {
  if (txn == nullptr) return Status::kInvalidArgument;
  // Allocated before BEGIN is sent: a bad_alloc afterwards would leave the daemon's
  // transaction open with nobody holding its handle.
  std::unique_ptr<Transaction> t(new Transaction(this, 0));
  RequestSpec spec = spec_of(Opcode::kBegin);
  spec.flags = read_only ? shm::kFlagReadOnly : 0;
  ResultSink sink;
  sink.result_u64 = &t->handle_;
  if (Status s = impl_->run(spec, sink); s != Status::kOk) return s;
  *txn = std::move(t);
  return Status::kOk;
}

Status Client::completion_fd(int* fd, std::string* error) {
  if (fd == nullptr) return Status::kInvalidArgument;
  *fd = -1;
  sync::MutexGuard guard(impl_->notifier_mu);
  if (!impl_->notifier_owned) {
    const Status s =
        libclient::CompletionNotifier::start(impl_.get(), &impl_->notifier_owned, error);
    if (s != Status::kOk) return s;
    impl_->notifier.store(impl_->notifier_owned.get(), std::memory_order_release);
  }
  *fd = impl_->notifier_owned->fd();
  return Status::kOk;
}

Status Client::submit_as(Operation* op, bool wait_for_room, bool notify) {
  if (op == nullptr || !op->request_ || op->context_ != kNoContext) {
    return Status::kInvalidArgument;
  }
  op->value_.clear();
  op->items_.clear();
  op->truncated_ = false;
  op->result_u64_ = 0;
  op->result_count_ = 0;
  op->status_ = impl_->submit(op->request_->spec,
                              wait_for_room ? SubmitMode::kWait : SubmitMode::kTry, &op->context_);
  if (op->status_ == Status::kOk && notify) {
    if (libclient::CompletionNotifier* n = impl_->notifier.load(std::memory_order_acquire)) {
      n->add(op->context_);
    }
  }
  return op->status_;
}

Status Client::submit(Operation* op) {
  return submit_as(op, true, true);
}

Status Client::try_submit(Operation* op) {
  return submit_as(op, false, true);
}

Status Client::execute(std::span<Operation* const> ops) {
  for (Operation* op : ops) {
    if (op == nullptr || !op->request_ || op->context_ != kNoContext) {
      return Status::kInvalidArgument;
    }
  }
  // ops[waited, submitted) may be in flight (those whose submit failed are not).
  size_t submitted = 0;
  size_t waited = 0;
  Status transport = Status::kOk;
  auto wait_oldest = [&] {
    const Status s = wait(ops[waited++]);
    // A timeout is that op's alone; a lost session ends them all.
    if (s != Status::kOk && s != Status::kTimedOut && transport == Status::kOk) transport = s;
  };
  while (submitted < ops.size()) {
    Operation* op = ops[submitted];
    // A transaction runs one request at a time: its operations go alone.
    const bool alone = op->request_->spec.txn != 0;
    if (alone) {
      while (waited < submitted)
        wait_oldest();
    }
    // (Waited for here: the completion notifier need not follow them.)
    Status s = transport != Status::kOk ? transport : submit_as(op, false, false);
    if (s == Status::kTooManyInFlight || s == Status::kRingFull) {
      if (waited < submitted) {  // room comes back as ours complete
        wait_oldest();
        continue;
      }
      s = submit_as(op, true, false);  // none of ours in flight: wait for others' to finish
    }
    op->status_ = s;  // if it was never sent, why (wait() leaves it: nothing in flight)
    ++submitted;
    if (alone) wait_oldest();
  }
  while (waited < submitted)
    wait_oldest();
  return transport;
}

Status Client::wait(Operation* op) {
  if (op == nullptr) return Status::kInvalidArgument;
  if (op->context_ == kNoContext) return Status::kOk;  // nothing in flight: already complete
  const ResultSink sink = sink_for(op->request_->spec.opcode, &op->value_, &op->items_,
                                   &op->truncated_, &op->result_u64_, &op->result_count_);
  Status answer = Status::kOk;
  const Status transport = impl_->wait(&op->context_, sink, &answer,
                                       libclient::Session::worth_spinning(op->request_->spec));
  op->status_ = transport == Status::kOk ? answer : transport;
  return transport;
}

bool Client::poll(Operation* op) {
  if (op == nullptr || op->context_ == kNoContext) return true;
  const ResultSink sink = sink_for(op->request_->spec.opcode, &op->value_, &op->items_,
                                   &op->truncated_, &op->result_u64_, &op->result_count_);
  Status transport = Status::kOk;
  Status answer = Status::kOk;
  if (!impl_->poll(&op->context_, sink, &transport, &answer)) return false;
  op->status_ = transport == Status::kOk ? answer : transport;
  return true;
}

// ---- Transaction ------------------------------------------------------------------------

Transaction::~Transaction() {
  if (open()) abort();
}

Status Transaction::get(std::string_view key, std::string* value) {
  ResultSink sink;
  sink.value = value;
  return run_in_transaction(*client_->impl_, handle_, spec_of(Opcode::kGet, key), sink);
}

Status Transaction::put(std::string_view key, std::string_view value) {
  return run_in_transaction(*client_->impl_, handle_, spec_of(Opcode::kPut, key, value), {});
}

Status Transaction::del(std::string_view key) {
  return run_in_transaction(*client_->impl_, handle_, spec_of(Opcode::kDel, key), {});
}

Status Transaction::scan(const ScanOptions& options, std::vector<KeyValue>* items,
                         bool* truncated) {
  ResultSink sink;
  sink.items = items;
  sink.truncated = truncated;
  return run_in_transaction(*client_->impl_, handle_, scan_spec(options), sink);
}

Status Transaction::commit(Durability durability) {
  uint64_t csn = 0;
  std::string position;
  ResultSink sink;
  sink.result_u64 = &csn;
  sink.value = &position;
  // Over whatever the answer: committed, or failed and aborted by the daemon, or the
  // session is gone (which aborts it).
  const Status s = run_in_transaction(*client_->impl_, std::exchange(handle_, 0),
                                      durable_spec(Opcode::kCommit, durability), sink);
  if (s == Status::kOk) {
    commit_csn_ = csn;
    log_position_ = log_position_of(position);
  }
  return s;
}

void Transaction::abort() {
  (void)run_in_transaction(*client_->impl_, std::exchange(handle_, 0), spec_of(Opcode::kAbort), {});
}

// The asynchronous path's form of the calls above: `op` runs inside this transaction.
Status Transaction::run(Operation* op) {
  if (!open()) return Status::kUnknownTransaction;
  op->set_transaction(*this);
  if (Status s = client_->submit(op); s != Status::kOk) return s;
  if (Status s = client_->wait(op); s != Status::kOk) return s;
  return op->status();
}

}  // namespace ringdb
