#include "daemon/service/worker.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <climits>
#include <cstring>
#include <deque>
#include <string>
#include <thread>
#include <unordered_map>

#include "daemon/base/log.h"
#include "daemon/service/placement.h"
#include "daemon/service/stall_hook.h"
#include "shm/answer.h"
#include "shm/batch.h"
#include "shm/doorbell.h"
#include "shm/ring.h"
#include "sync/fence.h"
#include "sync/futex.h"
#include "sync/latch_stats.h"
#include "sync/spin.h"
#include "sync/thread_name.h"

namespace ringdb::daemon {

using shm::Opcode;
using shm::WireStatus;

// Engine statuses travel on the wire with the same numbers.
static_assert(static_cast<int>(Status::kOk) == static_cast<int>(WireStatus::kOk));
static_assert(static_cast<int>(Status::kNotFound) == static_cast<int>(WireStatus::kNotFound));
static_assert(static_cast<int>(Status::kConflict) == static_cast<int>(WireStatus::kConflict));
static_assert(static_cast<int>(Status::kOutOfMemory) == static_cast<int>(WireStatus::kOutOfMemory));
static_assert(static_cast<int>(Status::kTooLarge) == static_cast<int>(WireStatus::kTooLarge));
static_assert(static_cast<int>(Status::kInvalidArgument) ==
              static_cast<int>(WireStatus::kInvalidArgument));
static_assert(static_cast<int>(Status::kTooManyViews) ==
              static_cast<int>(WireStatus::kTooManyViews));
static_assert(static_cast<int>(Status::kTransactionDone) ==
              static_cast<int>(WireStatus::kTransactionDone));

namespace {

constexpr uint32_t kBatchMax = 32;      // requests taken from one ring before the next
constexpr uint32_t kPrefetchAhead = 4;  // contexts prefetched ahead of the one executed
// Fair sharing between sessions (docs/ARCHITECTURE.md, "Sharing a worker"): deficit round
// robin by cost. Each polling round credits a session that has work with kQuantum; each
// request costs kRequestCost plus the key and value bytes it moves plus kVisitCost per index
// entry a scan visits; a session in debt waits for later rounds (a session alone never
// waits: its debt only makes empty rounds). A scan runs in slices of at most kSliceVisits
// entries and kSliceBytes of items; one not finished keeps its read view and context and
// goes on in its session's next turn, so a long scan never holds the worker for long.
constexpr int64_t kQuantum = 16 << 10;
constexpr int64_t kRequestCost = 256;
constexpr int64_t kVisitCost = 16;
constexpr size_t kSliceVisits = 1024;
constexpr size_t kSliceBytes = 16 << 10;
// A slice steps aside (ends early) when another session's request waits and that session has
// been served no more than the scanning one (by total cost, `served`), or a durable commit's
// completion waits: a get beside a scan flood waits for about kStepAsideEvery entries, not a
// slice. A session's `served` is kept within kServedLag of the most served one, so that one
// idle for long cannot claim the worker for long on its return.
constexpr uint64_t kServedLag = 4 * kQuantum;
// Hot rings a step-aside check looks at, in turn: with hundreds of hot rings a check stays a
// few loads, and a waiting request is seen within hot.size() / kStepAsideLooks checks.
constexpr size_t kStepAsideLooks = 8;
constexpr uint32_t kColdPerRound = 8;         // idle rings looked at per round
constexpr uint64_t kHotRounds = 1024;         // a ring stays hot this many rounds after work
constexpr uint32_t kIdleRoundsPerClock = 64;  // idle rounds between clock reads
// While commits wait for the log, an idle worker polls this long before it sleeps (instead of
// --spin-us): their completion comes within an fdatasync, and a worker woken from its doorbell
// sleep, an idle CPU woken by another, added 40-100 µs to every lone durable commit (p50 of a
// sync put 256-299 µs -> 190-240 µs on the 2-vCPU VM). Bounded for a slow disk.
constexpr int64_t kParkedSpinNs = 2'000'000;
// A transaction the daemon runs for one request (an autocommit put or del, a batch) whose write
// a commit after its snapshot turned away (CONFLICT from the engine) runs again on a new
// snapshot, at most this many times in all.
constexpr int kOwnAttempts = 4;
// Hot keys: a write turned away (CONFLICT) by another transaction's uncommitted write that only
// waits for the log does not fail at once. An autocommit put or del, or a batch, runs again
// once that transaction has ended (a new snapshot: it goes on after that commit); a write in a
// client's transaction is answered CONFLICT then, so that its retry starts when the key is
// free instead of meeting the same holder. A write waits at most this long in all (a holder
// ends within a log write; a disk slower than this makes the write CONFLICT).
constexpr int64_t kWaitForHolderMaxNs = 1'000'000'000;
// While writes wait, a sleeping worker looks again this often: the holder may be another
// worker's commit, whose completion wakes that worker, not this one.
constexpr int64_t kWaitingSleepNs = 1'000'000;

WireStatus wire(Status s) {
  return static_cast<WireStatus>(s);
}

// A batch's condition entry as the engine's condition (decode_batch admits only these).
ConditionKind condition_kind(shm::BatchKind kind) {
  switch (kind) {
    case shm::BatchKind::kIfAbsent:
      return ConditionKind::kAbsent;
    case shm::BatchKind::kIfPresent:
      return ConditionKind::kPresent;
    case shm::BatchKind::kIfEquals:
      return ConditionKind::kEquals;
    default:
      return ConditionKind::kUnchangedSince;
  }
}

// What an executed request answers (written to the context by shm::write_answer).
struct Answer : shm::AnswerContent<std::vector<KeyValue>> {
  bool parked = false;  // a commit waiting for the log: answered when its completion comes
  bool posted = false;  // already answered, from inside the engine (an autocommit get)
  // A write turned away by a holder that waits for the log (kWaitForHolderMaxNs): the request
  // waits for it to end, then runs again (autocommit) or is answered with `status`.
  mvcc::TrxId wait_for = mvcc::kNoTrx;
};

}  // namespace

struct Worker::Loop {
  struct Attached;
  // One ring of one session; its consumer position lives as long as the attachment.
  struct Ring {
    Attached* owner = nullptr;
    shm::RingConsumer consumer;
    uint64_t last_work_round = 0;
    bool hot = false;
  };
  // A scan between slices: its context stays claimed, its snapshot open.
  struct PausedScan {
    uint32_t index = 0;                // its context
    ScanOptions options;               // what is left of the range
    uint32_t limit = 0;                // the request's item limit
    std::vector<KeyValue> items;       // found so far
    size_t bytes = 0;                  // their key and value bytes
    std::unique_ptr<Transaction> own;  // autocommit: a read-only transaction for the snapshot
    uint64_t handle = 0;               // in a client's transaction: its handle, claimed
    Transaction* txn = nullptr;        // the one scanned (own, or the claimed one)
    int64_t started_ns = 0;            // if timed
    // Once every item is found: the answer is copied into its context a slice per turn.
    bool writing = false;
    bool more = false;  // the range holds more (kResultTruncated)
    shm::AnswerLayout layout;
    size_t copied = 0;        // items copied
    size_t copied_bytes = 0;  // their encoded bytes
  };
  struct Attached {
    std::shared_ptr<ClientSession> session;
    std::unique_ptr<Session> engine_session;  // for autocommit requests, opened on first use
    std::vector<Ring> rings;                  // sized once at attach: pointers stay valid
    int64_t deficit = 0;                      // fair sharing: the work it may still do
    uint64_t served = 0;                      // the cost of all its work (see kServedLag)
    uint64_t credited_round = 0;              // the round that last credited it
    std::deque<PausedScan> paused;            // its scans between slices, oldest first
    // Its finished scans' items, freed in its turns (free_some), as its work: freeing a 2 MiB
    // answer's tens of thousands of strings at once would hold the worker for long.
    std::deque<std::vector<KeyValue>> discard;
    // Work of its own besides its rings' requests: scans between slices, items to free.
    bool has_deferred() const { return !paused.empty() || !discard.empty(); }
  };

  Worker& worker;
  const WorkerEnv& env;
  uint64_t table_version = UINT64_MAX;
  std::vector<std::unique_ptr<Attached>> attached;
  std::vector<Ring*> rings;  // every attached ring, for the cold sweep
  std::vector<Ring*> hot;    // rings with recent work, polled every round
  size_t cold_cursor = 0;
  uint64_t round = 0;
  // Scratch reused by every request: payloads, results.
  std::vector<char> payload;
  std::string value;
  std::vector<KeyValue> items;
  uint32_t current_index = 0;    // the context being executed
  uint64_t served_max = 0;       // the largest Attached::served
  bool stepped_aside = false;    // the last scan slice ended early for waiting work
  size_t step_aside_cursor = 0;  // where the next step-aside check looks in `hot`
  // Commits whose redo is in the log, by the token the log's completion names.
  struct Parked {
    std::shared_ptr<ClientSession> session;  // kept alive: the session may end meanwhile
    uint32_t index;                          // its context, still claimed
    std::unique_ptr<Transaction> txn;
    int64_t started_ns;  // for the commit's service time
    uint8_t opcode;
  };
  std::unordered_map<uint64_t, Parked> parked;
  // Requests waiting for a transaction that holds their key to end (kWaitForHolderMaxNs), oldest
  // first; their contexts stay claimed.
  struct Waiting {
    Attached* owner;
    uint32_t index;
    mvcc::TrxId holder;
    bool rerun;  // autocommit: run again; else answer `status`
    WireStatus status;
    int64_t deadline_ns;
    int64_t started_ns;  // if timed
    uint8_t opcode;
  };
  std::deque<Waiting> waiting;
  uint64_t waiting_seen_ended = 0;  // Engine::ended_count() when `waiting` was last looked at
  uint32_t sample = 0;              // every WorkerStats::kLatencySample-th request is timed
  int64_t started_ns = 0;           // the current request's start, if timed (else 0)
  uint8_t current_opcode = 0;
  uint64_t next_token = 0;
  std::vector<wal::Completion> completions;
  std::vector<RedoOp> redo;
  std::vector<wal::Op> log_ops;
  std::vector<shm::BatchEntry> batch;

  explicit Loop(Worker& w) : worker(w), env(w.env_) {}

  void refresh();
  bool poll_round();
  // Frees about kSliceBytes of a.discard, charged to `a`.
  void free_some(Attached& a);
  // Brings the context published `ahead` slots after the ring's next one into the cache, so
  // that the misses on a batch's contexts overlap instead of coming one per request.
  void prefetch_context(const Ring& ring, uint32_t ahead);
  // Charges `a` for work done (its deficit and its total served).
  void charge(Attached& a, int64_t cost);
  // Whether a scan slice of `a` should end now for waiting work (kServedLag's comment).
  bool should_step_aside(const Attached& a);
  bool drain(Ring& ring);
  void execute(Attached& a, uint32_t index);
  // Decodes, runs and answers the request in claimed context `index`; `rerun`: again, after
  // waiting for a holder (counted once, and its wait keeps its first deadline).
  void run_request(Attached& a, uint32_t index, const Waiting* rerun);
  // For a write that met CONFLICT in `txn`: if its holder waits for the log, the request will
  // wait for it (`answer` says so).
  void wait_for_holder(const Transaction& txn, Answer* answer);
  // Runs again, or answers, the waiting requests whose holder has ended or whose wait is over.
  void retry_waiting(bool all);
  // Starts a scan request: its first slice now; false if it paused (answered later).
  WireStatus start_scan(Attached& a, const shm::Request& rq, Answer* answer);
  // One slice of a scan; true when it is done (then answered and its transaction let go).
  bool scan_slice(Attached& a, PausedScan& scan);
  // Lets go of a scan's transaction (the own one aborted, a client's released).
  void end_scan(Attached& a, PausedScan& scan);
  WireStatus dispatch(Attached& a, const shm::Request& request, Answer* answer);
  // A conditional batch (shm/batch.h): its conditions on a snapshot, its writes, its condition
  // keys held (Engine::hold), then committed as commit requests are.
  WireStatus run_batch(Attached& a, const shm::Request& request, Answer* answer);
  // Runs `body` (the request's reads and writes) in a transaction of its own and commits it
  // (commit_or_park), again on a new snapshot when a commit after the snapshot, or a holder
  // that has just ended, turned a write away (kOwnAttempts in all). A holder that waits for
  // the log makes the request wait (wait_for_holder); a client's transaction in progress
  // makes it CONFLICT. `body` returns kOk to commit, or the answer's status.
  WireStatus run_own_transaction(Attached& a, uint8_t flags, Answer* answer,
                                 const std::function<WireStatus(Transaction&)>& body);
  WireStatus with_transaction(ClientSession& s, uint64_t handle,
                              const std::function<WireStatus(Transaction&)>& fn);
  void post(ClientSession& s, uint32_t index, const Answer& answer);
  // For an answer copied in parts (write_scan_answer): where its result goes.
  shm::AnswerLayout plan(ClientSession& s, uint32_t index, const Answer& answer);
  // An answer's fields are written: counted, its context released, DONE published.
  void done(ClientSession& s, uint32_t index, WireStatus status);
  // Copies a finished scan's items into its answer, a slice per call; true when answered.
  bool write_scan_answer(Attached& a, PausedScan& scan);
  // Commits txn now (memory only, nothing to log, or durability async or none) or logs its
  // redo and parks it (sync). `flags`: the request's, with its durability level.
  WireStatus commit_or_park(Attached& a, std::unique_ptr<Transaction> txn, uint8_t flags,
                            Answer* answer);
  // Applies what the log reported for parked commits, and answers them.
  // Returns the LSN of the last record it committed (wal::Completion::kNoLsn: none).
  uint64_t complete_parked();
  // A request queued on the ring, or (its session's first ring) the session's deferred work.
  bool has_work(Ring& r);
  bool any_ready();
  void sleep();
  void drain_for_shutdown();
  void detach_all();
};

Worker::Worker(WorkerEnv env) : env_(std::move(env)) {
  assert(env_.pending != nullptr);
}

Worker::~Worker() {
  join();
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::stop() {
  stop_.store(true, std::memory_order_release);
  wake();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::wake() {
  shm::ring(*env_.doorbell);
}

void Worker::run() {
  sync::name_this_thread(("ringdb-worker" + std::to_string(env_.index)).c_str());
  if (env_.core >= 0 && !pin_current_thread({env_.core})) {
    fatal("worker %u: cannot pin to core %d: %s", env_.index, env_.core, strerror(errno));
  }
  register_stall_target(&stats_.asleep);
  tid_.store(gettid(), std::memory_order_release);
  tid_.notify_all();  // (wait_tid)
  // Allocated here, after pinning: its pages are first touched on this worker's node.
  auto loop = std::make_unique<Loop>(*this);
  uint64_t idle_rounds = 0;
  int64_t last_work_ns = sync::now_ns();
  const int64_t spin_ns = int64_t{env_.spin_us} * 1000;
  for (;;) {
    if (env_.pending->maybe_nonempty()) {
      const uint64_t applied = loop->complete_parked();
      // The commits just became visible: their watchers hear of them now, from this thread.
      if (env_.watches != nullptr && env_.watches->active() && applied != wal::Completion::kNoLsn) {
        env_.watches->pump_applied(applied);
      }
      idle_rounds = 0;
    }
    if (!loop->waiting.empty()) loop->retry_waiting(/*all=*/loop->round % 1024 == 0);
    if (env_.sessions->version() != loop->table_version) loop->refresh();
    if (stop_.load(std::memory_order_acquire)) break;
    if (loop->poll_round()) {
      idle_rounds = 0;
      continue;
    }
    if (env_.yield_when_idle) {
      sched_yield();
    } else {
      sync::cpu_relax();
    }
    if (++idle_rounds % kIdleRoundsPerClock != 0) continue;
    const int64_t now = sync::now_ns();
    if (idle_rounds == kIdleRoundsPerClock) last_work_ns = now;     // first check since work
    if (!loop->waiting.empty()) loop->retry_waiting(/*all=*/true);  // (deadlines)
    const bool expecting = !loop->parked.empty() || !loop->waiting.empty();
    if (now - last_work_ns >= (expecting ? kParkedSpinNs : spin_ns)) {
      loop->sleep();
      idle_rounds = 0;
    }
  }
  loop->drain_for_shutdown();
  loop->detach_all();
}

void Worker::Loop::refresh() {
  uint64_t version;
  auto current = env.sessions->snapshot(&version);
  // Detach sessions that left the table: close the engine session, drop the rings, ack.
  bool changed = false;
  for (auto& a : attached) {
    const bool present =
        std::any_of(current.begin(), current.end(), [&](auto& s) { return s == a->session; });
    if (present) continue;
    for (PausedScan& scan : a->paused)  // (their contexts die with the session)
      end_scan(*a, scan);
    std::erase_if(waiting, [&](const Waiting& w) { return w.owner == a.get(); });
    if (a->engine_session) env.engine->close_session(std::move(a->engine_session));
    a.reset();
    changed = true;
  }
  std::erase_if(attached, [](auto& a) { return a == nullptr; });
  for (auto& s : current) {
    const bool known =
        std::any_of(attached.begin(), attached.end(), [&](auto& a) { return a->session == s; });
    if (known) continue;
    auto a = std::make_unique<Attached>();
    a->session = s;
    for (uint32_t r : env.rings) {
      a->rings.push_back(
          Ring{a.get(), shm::RingConsumer(s->ring(r), s->geometry().sizes.ring_slots)});
    }
    attached.push_back(std::move(a));
    changed = true;
  }
  if (changed) {
    rings.clear();
    hot.clear();
    for (auto& a : attached) {
      for (Ring& r : a->rings) {
        r.hot = has_work(r);  // a scan between slices may have nothing queued behind it
        rings.push_back(&r);
        if (r.hot) hot.push_back(&r);
      }
    }
    cold_cursor = 0;
  }
  table_version = version;
  worker.seen_version_.store(version, std::memory_order_release);
  env.sessions->refreshed();
}

bool Worker::Loop::poll_round() {
  ++round;
  bump(worker.stats_.rounds);
  bool worked = false;
  for (Ring* r : hot)
    worked |= drain(*r);
  // A few idle rings per round: a request on an idle session waits at most
  // rings / kColdPerRound rounds, and hundreds of idle sessions cost the busy ones little.
  const size_t n = rings.size();
  for (uint32_t i = 0; i < kColdPerRound && i < n; ++i) {
    Ring* r = rings[cold_cursor++ % n];
    if (r->hot || !has_work(*r)) continue;
    worked |= drain(*r);
    r->hot = true;
    hot.push_back(r);
  }
  if (round % 256 == 0) {
    std::erase_if(hot, [&](Ring* r) {
      if (round - r->last_work_round < kHotRounds) return false;
      r->hot = false;
      return true;
    });
  }
  if (worked) bump(worker.stats_.work_rounds);
  return worked;
}

bool Worker::Loop::drain(Ring& ring) {
  Attached& a = *ring.owner;
  ClientSession& s = *a.session;
  if (s.corrupt()) return false;  // the control thread is disconnecting it
  if (!a.has_deferred() && !ring.consumer.ready()) return false;
  if (a.credited_round != round) {  // its turn in this round: a share, its debt kept
    a.deficit = std::min<int64_t>(a.deficit, 0) + kQuantum;
    a.credited_round = round;
    a.served = std::max(a.served, served_max - std::min(served_max, kServedLag));
  }
  ring.last_work_round = round;
  if (a.deficit <= 0) {
    bump(worker.stats_.turns_in_debt);
    return true;  // work is waiting: not idle
  }
  // Scans already under way first, oldest first; then new requests. A slice that stepped
  // aside ends the session's turn.
  stepped_aside = false;
  while (a.deficit > 0 && !a.discard.empty())
    free_some(a);
  while (a.deficit > 0 && !a.paused.empty()) {
    if (!scan_slice(a, a.paused.front())) break;  // paused again: its share is used
    a.paused.pop_front();
  }
  uint32_t taken = 0;
  uint32_t index;
  for (uint32_t ahead = 0; ahead < kPrefetchAhead; ++ahead)
    prefetch_context(ring, ahead);
  while (a.deficit > 0 && !stepped_aside && taken < kBatchMax && !s.corrupt() &&
         ring.consumer.try_pop(&index)) {
    ++taken;
    prefetch_context(ring, kPrefetchAhead - 1);
    execute(a, index);
  }
  if (taken != 0) ring.consumer.wake_producers();  // a client thread may sleep for room
  bump(worker.stats_.requests, taken);
  if (s.corrupt()) env.notify_control();
  return true;
}

void Worker::Loop::prefetch_context(const Ring& ring, uint32_t ahead) {
  uint32_t index;
  const ClientSession& s = *ring.owner->session;
  if (!ring.consumer.peek(ahead, &index) || index >= s.geometry().sizes.context_count) return;
  // The header is read, then written (the answer, the state); the inline payload only read.
  const auto* context = reinterpret_cast<const std::byte*>(s.context(index));
  sync::prefetch_for_write(context);
  __builtin_prefetch(context + sizeof(shm::ContextHeader));
}

void Worker::Loop::free_some(Attached& a) {
  size_t freed = 0;
  while (!a.discard.empty() && freed < kSliceBytes) {
    std::vector<KeyValue>& front = a.discard.front();
    for (; !front.empty() && freed < kSliceBytes; front.pop_back())
      freed += sizeof(KeyValue) + front.back().key.size() + front.back().value.size();
    if (front.empty()) a.discard.pop_front();
  }
  charge(a, static_cast<int64_t>(freed));
}

void Worker::Loop::charge(Attached& a, int64_t cost) {
  a.deficit -= cost;
  a.served += static_cast<uint64_t>(cost);
  served_max = std::max(served_max, a.served);
}

bool Worker::Loop::should_step_aside(const Attached& a) {
  if (env.pending->maybe_nonempty()) return true;  // durable commits to answer
  const size_t n = hot.size();
  for (size_t i = 0; i < std::min(n, kStepAsideLooks); ++i) {
    const Ring* r = hot[step_aside_cursor++ % n];
    if (r->owner != &a && r->owner->served <= a.served && r->consumer.ready()) return true;
  }
  return false;
}

void Worker::Loop::execute(Attached& a, uint32_t index) {
  ClientSession& s = *a.session;
  if (index >= s.geometry().sizes.context_count) {
    s.mark_corrupt("a ring holds a context index out of range");
    return;
  }
  if (!s.claim_context(index)) {
    s.mark_corrupt("a context was submitted while the daemon was executing it");
    return;
  }
  run_request(a, index, nullptr);
}

void Worker::Loop::run_request(Attached& a, uint32_t index, const Waiting* rerun) {
  ClientSession& s = *a.session;
  shm::Request request;
  const char* why = nullptr;
  Answer answer;
  started_ns = rerun != nullptr                              ? rerun->started_ns
               : ++sample % WorkerStats::kLatencySample == 0 ? sync::now_ns()
                                                             : 0;
  // (Decoded again on a rerun: the daemon keeps no copy of a waiting request, and a client
  // that rewrote its context meanwhile only changes what it asked for.)
  answer.status =
      shm::decode_request(s.geometry(), s.base(), index, env.limits, &payload, &request, &why);
  const uint8_t opcode =
      answer.status == WireStatus::kOk ? static_cast<uint8_t>(request.opcode) : uint8_t{0};
  if (rerun == nullptr) bump(worker.stats_.by_opcode[opcode]);
  if (answer.status == WireStatus::kOk) {
    current_index = index;
    current_opcode = opcode;
    // (A scan charges its slices itself.)
    if (request.opcode != Opcode::kScan && rerun == nullptr) {
      charge(a, kRequestCost + static_cast<int64_t>(request.key.size() + request.value.size()));
    }
    answer.status = dispatch(a, request, &answer);
    if (answer.wait_for != mvcc::kNoTrx) {
      if (rerun == nullptr) bump(worker.stats_.writes_waited);
      waiting.push_back(
          Waiting{&a, index, answer.wait_for, /*rerun=*/request.txn == 0, answer.status,
                  rerun != nullptr ? rerun->deadline_ns : sync::now_ns() + kWaitForHolderMaxNs,
                  started_ns, opcode});
      return;
    }
    if (answer.parked) return;  // answered later: by the log's completion, or the last slice
  } else if (answer.status == WireStatus::kTooLarge) {
    answer.too_large = request.too_large;
    answer.too_large_limit = request.too_large_limit;
  } else if (answer.status == WireStatus::kInvalidRequest) {
    bump(worker.stats_.invalid_requests);
    log(LogLevel::kDebug, "session %lu: invalid request in context %u: %s",
        static_cast<unsigned long>(s.id()), index, why);
  }
  if (!answer.posted) post(s, index, answer);
  if (started_ns != 0) worker.stats_.latency[opcode].record(sync::now_ns() - started_ns);
}

void Worker::Loop::wait_for_holder(const Transaction& txn, Answer* answer) {
  // (Without a log nothing waits for one. A client's transaction in progress is not waited
  // for: it may stay open for long.)
  const mvcc::TrxId holder = txn.blocked_by();
  if (env.log != nullptr && holder != mvcc::kNoTrx && env.engine->waits_for_log(holder))
    answer->wait_for = holder;
}

WireStatus Worker::Loop::run_own_transaction(Attached& a, uint8_t flags, Answer* answer,
                                             const std::function<WireStatus(Transaction&)>& body) {
  Engine& engine = *env.engine;
  WireStatus status = WireStatus::kConflict;
  for (int attempt = 0; attempt < kOwnAttempts && status == WireStatus::kConflict; ++attempt) {
    std::unique_ptr<Transaction> txn;
    if (const Status st = engine.begin(TxnMode::kReadWrite, &txn); st != Status::kOk) {
      return wire(st);
    }
    status = body(*txn);
    if (status == WireStatus::kOk) return commit_or_park(a, std::move(txn), flags, answer);
    const mvcc::TrxId holder = txn->blocked_by();
    if (status == WireStatus::kConflict) wait_for_holder(*txn, answer);
    engine.abort(std::move(txn));
    // Again only if a commit after the snapshot (or one just ended) turned the write away.
    if (answer->wait_for != mvcc::kNoTrx || (holder != mvcc::kNoTrx && !engine.ended(holder))) {
      break;
    }
  }
  return status;
}

void Worker::Loop::retry_waiting(bool all) {
  const uint64_t ended = env.engine->ended_count();
  if (!all && ended == waiting_seen_ended) {
    // Nothing ended: only deadlines can have passed (looked at now and then by the caller).
    return;
  }
  waiting_seen_ended = ended;
  const int64_t now = sync::now_ns();
  // Oldest first; a rerun that must wait again goes to the back.
  for (size_t n = waiting.size(); n > 0; --n) {
    Waiting w = waiting.front();
    waiting.pop_front();
    const bool over = now >= w.deadline_ns;
    if (!over && !env.engine->ended(w.holder)) {
      waiting.push_back(w);
      continue;
    }
    ClientSession& s = *w.owner->session;
    if (w.rerun && !over) {
      run_request(*w.owner, w.index, &w);
      continue;
    }
    Answer answer;
    answer.status = w.rerun ? WireStatus::kConflict : w.status;
    post(s, w.index, answer);
    if (w.started_ns != 0) worker.stats_.latency[w.opcode].record(sync::now_ns() - w.started_ns);
  }
}

WireStatus Worker::Loop::with_transaction(ClientSession& s, uint64_t handle,
                                          const std::function<WireStatus(Transaction&)>& fn) {
  Transaction* txn = nullptr;
  if (const WireStatus st = s.claim_transaction(handle, &txn); st != WireStatus::kOk) return st;
  const WireStatus st = fn(*txn);
  s.release_transaction(handle);
  return st;
}

// One case per opcode, each a few lines: the protocol's meaning in one place, read as a
// table (docs/PROTOCOL.md section 2).
WireStatus Worker::Loop::dispatch(Attached& a, const shm::Request& rq, Answer* answer) {
  ClientSession& s = *a.session;
  Engine& engine = *env.engine;
  const bool autocommit = rq.txn == 0;
  if (autocommit && !a.engine_session &&
      (rq.opcode == Opcode::kGet || rq.opcode == Opcode::kPut || rq.opcode == Opcode::kDel)) {
    if (const Status st = engine.open_session(&a.engine_session, s.id()); st != Status::kOk) {
      return wire(st);
    }
  }
  if (autocommit && env.log != nullptr &&
      (rq.opcode == Opcode::kPut || rq.opcode == Opcode::kDel)) {
    // A logged autocommit write: a transaction of its own, committed through the log.
    return run_own_transaction(a, rq.flags, answer, [&](Transaction& t) {
      return wire(rq.opcode == Opcode::kPut ? engine.put(t, rq.key, rq.value)
                                            : engine.del(t, rq.key));
    });
  }
  switch (rq.opcode) {
    case Opcode::kPing:
      return WireStatus::kOk;
    case Opcode::kGet:
      if (autocommit) {
        // Answered from inside the engine's read: the value goes from its version into the
        // context or the response area, with no copy in between.
        return wire(
            engine.get_with(*a.engine_session, rq.key, [&](std::string_view v, mvcc::Csn csn) {
              answer->value = v;
              answer->u64 = csn;
              post(s, current_index, *answer);
              answer->posted = true;
            }));
      }
      return with_transaction(s, rq.txn, [&](Transaction& t) {
        const WireStatus st = wire(engine.get(t, rq.key, &value, &answer->u64));
        answer->value = value;  // (read only if st is kOk)
        return st;
      });
    case Opcode::kPut:
    case Opcode::kDel:
      if (autocommit) {  // (not logged: a transaction of the engine's own, never waited for)
        return wire(rq.opcode == Opcode::kPut ? engine.put(*a.engine_session, rq.key, rq.value)
                                              : engine.del(*a.engine_session, rq.key));
      }
      return with_transaction(s, rq.txn, [&](Transaction& t) {
        const Status st =
            rq.opcode == Opcode::kPut ? engine.put(t, rq.key, rq.value) : engine.del(t, rq.key);
        if (st == Status::kConflict) wait_for_holder(t, answer);
        return wire(st);
      });
    case Opcode::kScan:
      return start_scan(a, rq, answer);
    case Opcode::kBegin:
      return s.begin_transaction(engine, (rq.flags & shm::kFlagReadOnly) != 0, &answer->u64);
    case Opcode::kCommit:
    case Opcode::kAbort: {
      Transaction* txn = nullptr;
      if (const WireStatus st = s.claim_transaction(rq.txn, &txn); st != WireStatus::kOk) {
        return st;
      }
      if (rq.opcode == Opcode::kCommit && env.log != nullptr) {
        return commit_or_park(a, s.take_transaction(rq.txn), rq.flags, answer);
      }
      return s.end_transaction(engine, rq.txn, rq.opcode == Opcode::kCommit, &answer->u64);
    }
    case Opcode::kBatch:
      return run_batch(a, rq, answer);
    case Opcode::kWatch: {
      if (env.watches == nullptr) return WireStatus::kInvalidArgument;
      uint32_t id = 0;
      const WireStatus st = env.watches->add(
          a.session, WatchRange{std::string(rq.key), std::string(rq.value), std::string(rq.prefix)},
          (rq.flags & shm::kFlagKeysOnly) != 0, rq.txn, &id, &answer->u64);
      answer->count = id;
      return st;
    }
    case Opcode::kUnwatch:
      if (env.watches == nullptr) return WireStatus::kNotFound;
      return env.watches->remove(s, rq.limit);
  }
  return WireStatus::kInvalidRequest;  // decode_request admits only the opcodes above
}

WireStatus Worker::Loop::run_batch(Attached& a, const shm::Request& rq, Answer* answer) {
  uint32_t conditions = 0;
  const char* why = nullptr;
  shm::Request decoded;  // (for TOO_LARGE's detail)
  const WireStatus st = shm::decode_batch(rq.key, env.limits, &batch, &conditions, &decoded, &why);
  if (st == WireStatus::kTooLarge) {
    answer->too_large = decoded.too_large;
    answer->too_large_limit = decoded.too_large_limit;
  }
  if (st == WireStatus::kInvalidRequest) {
    bump(worker.stats_.invalid_requests);
    log(LogLevel::kDebug, "session %lu: invalid batch in context %u: %s",
        static_cast<unsigned long>(a.session->id()), current_index, why);
  }
  if (st != WireStatus::kOk) return st;
  Engine& engine = *env.engine;
  const bool writes = batch.size() > conditions;
  return run_own_transaction(a, rq.flags, answer, [&](Transaction& txn) {
    for (uint32_t i = 0; i < conditions; ++i) {
      const shm::BatchEntry& e = batch[i];
      const Condition c{condition_kind(e.kind), e.key, e.value, e.csn};
      bool holds = false;
      mvcc::Csn csn = mvcc::kNoCsn;
      if (const Status found = engine.evaluate(txn, c, &holds, &csn); found != Status::kOk) {
        return wire(found);
      }
      if (!holds) {
        answer->failed_condition = i;
        answer->u64 = csn;
        return WireStatus::kConditionFailed;
      }
    }
    Status status = Status::kOk;
    for (size_t i = conditions; i < batch.size() && status == Status::kOk; ++i) {
      const shm::BatchEntry& e = batch[i];
      if (e.kind == shm::BatchKind::kPut) {
        status = engine.put(txn, e.key, e.value);
      } else if (status = engine.del(txn, e.key); status == Status::kNotFound) {
        status = Status::kOk;  // deleting what is not there changes nothing
      }
    }
    // The conditions must still hold at the commit: their keys are held until then (a batch
    // of conditions alone writes nothing; what its snapshot saw is its answer).
    for (uint32_t i = 0; writes && i < conditions && status == Status::kOk; ++i)
      status = engine.hold(txn, batch[i].key);
    return wire(status);
  });
}

WireStatus Worker::Loop::commit_or_park(Attached& a, std::unique_ptr<Transaction> txn,
                                        uint8_t flags, Answer* answer) {
  Engine& engine = *env.engine;
  if (const Status st = engine.prepare_commit(*txn, &redo); st != Status::kOk) {
    engine.abort(std::move(txn));
    return wire(st);
  }
  auto commit_now = [&] {
    mvcc::Csn csn = mvcc::kNoCsn;
    const Status st = engine.commit(std::move(txn), &csn);
    if (csn != mvcc::kNoCsn) answer->u64 = csn;
    return wire(st);
  };
  // Read-only work has nothing to make durable; durability none logs nothing.
  if (redo.empty() || (flags & shm::kFlagDurabilityNone) != 0) return commit_now();
  const bool async = (flags & shm::kFlagDurabilityAsync) != 0;
  // Cannot happen: the pending set (and so the parked map) holds one per request context.
  if (parked.size() >= env.pending->capacity()) {
    engine.abort(std::move(txn));
    return WireStatus::kResponseAreaFull;
  }
  log_ops.clear();
  for (const RedoOp& op : redo) {
    log_ops.push_back(
        wal::Op{op.tombstone ? wal::OpKind::kDelete : wal::OpKind::kPut, op.key, op.value});
  }
  const uint64_t token = async ? wal::LogWriter::kNoNotify : ++next_token;
  // An async record may be durable before its commit is visible, with no completion to
  // show it: a checkpoint's cut reads this floor instead (daemon/durability/checkpoint.h). seq_cst:
  // the cut's load either sees it or comes before the append.
  if (async) worker.async_floor_.store(env.log->durable_lsn(), std::memory_order_seq_cst);
  // From here it ends within a log write (committed or aborted): writers it turns away wait.
  if (!async) engine.mark_logged(*txn);
  wal::LogStatus ls;
  // A full log queue empties as the writer takes it: wait for room (the writer never waits
  // for us, so this ends unless the disk stops, which the writer reports as fatal).
  while ((ls = env.log->append(txn->id(), log_ops, env.index, token)) ==
         wal::LogStatus::kQueueFull) {
    std::this_thread::yield();
  }
  if (ls != wal::LogStatus::kOk) {
    worker.async_floor_.store(wal::Completion::kNoLsn, std::memory_order_release);
    engine.abort(std::move(txn));
    if (ls != wal::LogStatus::kTooLarge) return WireStatus::kShuttingDown;
    answer->too_large = shm::TooLargePart::kTransaction;
    answer->too_large_limit = env.log->record_bytes_max();
    return WireStatus::kTooLarge;
  }
  // Async: queued for the log in commit order (before any later writer of these keys can
  // queue its own record), visible and answered now.
  if (async) {
    const WireStatus status = commit_now();
    worker.async_floor_.store(wal::Completion::kNoLsn, std::memory_order_release);
    return status;
  }
  // Timed whatever the sample: a commit that waits for the disk is worth two clock reads.
  // Its opcode for the histogram: autocommit put/del or commit, from the request.
  parked.emplace(token, Parked{a.session, current_index, std::move(txn),
                               started_ns != 0 ? started_ns : sync::now_ns(), current_opcode});
  bump(worker.stats_.commits_parked);
  bump(worker.stats_.parked_now);
  answer->parked = true;
  return WireStatus::kOk;
}

uint64_t Worker::Loop::complete_parked() {
  env.pending->drain(&completions);
  uint64_t last = wal::Completion::kNoLsn;
  for (const wal::Completion& c : completions) {
    auto it = parked.find(c.request);
    if (it == parked.end()) {
      log(LogLevel::kError, "worker %u: a log completion for no parked commit (%lu)", env.index,
          static_cast<unsigned long>(c.request));
      continue;
    }
    Parked p = std::move(it->second);
    parked.erase(it);
    Answer answer;
    // A sync commit's answer carries its log position (docs/PROTOCOL.md, "Watches").
    char position[sizeof(uint64_t)];
    if (c.status == wal::LogStatus::kOk) {
      mvcc::Csn csn = mvcc::kNoCsn;
      answer.status = wire(env.engine->commit(std::move(p.txn), &csn));
      answer.u64 = csn;
      std::memcpy(position, &c.next_lsn, sizeof position);
      answer.value = std::string_view(position, sizeof position);
      last = last == wal::Completion::kNoLsn ? c.lsn : std::max(last, c.lsn);
    } else {
      env.engine->abort(std::move(p.txn));
      answer.status =
          c.status == wal::LogStatus::kDiskFull ? WireStatus::kDiskFull : WireStatus::kShuttingDown;
    }
    post(*p.session, p.index, answer);
    worker.stats_.latency[p.opcode].record(sync::now_ns() - p.started_ns);
    worker.stats_.parked_now.store(parked.size(), std::memory_order_relaxed);
  }
  env.pending->applied();
  return last;
}

WireStatus Worker::Loop::start_scan(Attached& a, const shm::Request& rq, Answer* answer) {
  PausedScan scan;
  scan.index = current_index;
  scan.options.start.assign(rq.key);
  scan.options.end.assign(rq.value);
  scan.options.prefix.assign(rq.prefix);
  scan.options.reverse = (rq.flags & shm::kFlagReverse) != 0;
  scan.limit = rq.limit;
  scan.started_ns = started_ns;
  if (rq.txn == 0) {
    if (const Status st = env.engine->begin(TxnMode::kReadOnly, &scan.own); st != Status::kOk)
      return wire(st);
    scan.txn = scan.own.get();
  } else if (const WireStatus st = a.session->claim_transaction(rq.txn, &scan.txn);
             st != WireStatus::kOk) {
    return st;
  } else {
    scan.handle = rq.txn;
  }
  answer->parked = true;  // scan_slice answers it, now or in a later turn
  if (!scan_slice(a, scan)) a.paused.push_back(std::move(scan));
  return WireStatus::kOk;
}

bool Worker::Loop::scan_slice(Attached& a, PausedScan& scan) {
  if (scan.writing) return write_scan_answer(a, scan);
  ScanOptions slice = scan.options;
  slice.limit = scan.limit - scan.items.size();
  // The answer holds at most scan_result_bytes_max (write_answer cuts the last items to fit
  // their encoding); a slice at most kSliceBytes of that.
  const size_t answer_left =
      env.scan_result_bytes_max > scan.bytes ? env.scan_result_bytes_max - scan.bytes : 0;
  slice.bytes_max = std::min(answer_left, kSliceBytes);
  slice.visits_max = kSliceVisits;
  slice.step_aside = [this, &a] { return stepped_aside = should_step_aside(a); };
  ScanProgress progress;
  bump(worker.stats_.scan_slices);
  const Status st = env.engine->scan(*scan.txn, slice, &items, &progress);
  size_t bytes = 0;
  for (KeyValue& kv : items) {
    bytes += kv.key.size() + kv.value.size();
    scan.items.push_back(std::move(kv));
  }
  scan.bytes += bytes;
  charge(a, kRequestCost + static_cast<int64_t>(bytes) +
                kVisitCost * static_cast<int64_t>(progress.visited));
  const bool finished = st != Status::kOk || !progress.more || scan.items.size() >= scan.limit ||
                        scan.bytes >= env.scan_result_bytes_max;
  if (!finished) {
    if (stepped_aside) bump(worker.stats_.slices_stepped_aside);
    // Go on where this slice stopped: at the entry it did not look at, or after its last item.
    ScanOptions& rest = scan.options;
    const bool at = progress.cut;
    const std::string& key = at ? progress.next_key : scan.items.back().key;
    if (rest.reverse) {
      rest.end = at ? key + '\0' : key;
    } else {
      rest.start = at ? key : key + '\0';
    }
    bump(worker.stats_.scans_paused);
    return false;
  }
  // Every item found: the snapshot can go. The answer is copied a slice per turn (a 2 MiB
  // answer would otherwise hold the worker for hundreds of microseconds).
  end_scan(a, scan);
  Answer answer;
  answer.status = wire(st);
  answer.items = &scan.items;
  answer.more = progress.more;
  scan.more = progress.more;
  scan.layout = plan(*a.session, scan.index, answer);
  scan.writing = true;
  return write_scan_answer(a, scan);
}

bool Worker::Loop::write_scan_answer(Attached& a, PausedScan& scan) {
  shm::AnswerLayout& l = scan.layout;
  if (l.status == WireStatus::kOk) {
    const size_t from = scan.copied;
    size_t to = from, bytes = 0;
    while (to < l.count && bytes < kSliceBytes) {
      bytes += shm::encoded_item_size(scan.items[to].key.size(), scan.items[to].value.size());
      ++to;
    }
    scan.copied_bytes += shm::copy_items(l, scan.items, from, to, scan.copied_bytes);
    scan.copied = to;
    charge(a, kRequestCost + static_cast<int64_t>(bytes));
    if (scan.copied < l.count) {
      bump(worker.stats_.scans_paused);
      return false;
    }
  }
  Answer answer;
  answer.status = l.status;
  answer.items = &scan.items;
  answer.more = scan.more;
  shm::finish_answer(a.session->context(scan.index), l, answer);
  done(*a.session, scan.index, l.status);
  a.discard.push_back(std::move(scan.items));
  if (scan.started_ns != 0) {
    worker.stats_.latency[static_cast<uint8_t>(Opcode::kScan)].record(sync::now_ns() -
                                                                      scan.started_ns);
  }
  return true;
}

void Worker::Loop::end_scan(Attached& a, PausedScan& scan) {
  if (scan.own) env.engine->abort(std::move(scan.own));  // read-only: nothing to commit
  if (scan.handle != 0) a.session->release_transaction(scan.handle);
  scan.txn = nullptr;
  scan.handle = 0;
}

namespace {

// Where a result longer than its context's inline bytes goes: a block of the session's
// response area (shm::write_answer's and shm::plan_answer's `place`).
auto response_block(ClientSession& s, uint32_t index) {
  return [&s, index](uint32_t length, std::byte** out, uint32_t* offset) {
    if (!s.place_result(index, length, offset)) return false;
    *out = s.response_area() + *offset;
    return true;
  };
}

}  // namespace

void Worker::Loop::post(ClientSession& s, uint32_t index, const Answer& answer) {
  done(s, index,
       shm::write_answer(s.context(index), s.geometry().inline_capacity(), answer,
                         env.scan_result_bytes_max, response_block(s, index)));
}

shm::AnswerLayout Worker::Loop::plan(ClientSession& s, uint32_t index, const Answer& answer) {
  return shm::plan_answer(s.context(index), s.geometry().inline_capacity(), answer,
                          env.scan_result_bytes_max, response_block(s, index));
}

void Worker::Loop::done(ClientSession& s, uint32_t index, WireStatus status) {
  bump(worker.stats_.by_status[std::min<size_t>(static_cast<size_t>(status), shm::kWireStatusMax)]);
  // Released before DONE is visible: once the client sees DONE it may submit the context
  // again, and the next claim (perhaps on another worker) must succeed.
  s.release_context(index);
  shm::publish_done(s.context(index));
}

bool Worker::Loop::has_work(Ring& r) {
  // A session's deferred work counts as its first ring's (drain() of any of its rings goes on
  // with it), so that it keeps one ring hot, not every one.
  return r.consumer.ready() || (&r == &r.owner->rings.front() && r.owner->has_deferred());
}

bool Worker::Loop::any_ready() {
  for (Ring* r : rings) {
    if (has_work(*r)) return true;
  }
  return false;
}

// The sleeping side of the wake-up protocol (docs/PROTOCOL.md section 3).
void Worker::Loop::sleep() {
  const uint32_t bell = shm::announce_sleep(*env.board, *env.doorbell);
  if (!any_ready() && !env.pending->maybe_nonempty() && env.sessions->version() == table_version &&
      !worker.stop_.load(std::memory_order_acquire)) {
    bump(worker.stats_.sleeps);
    const int64_t asleep = sync::now_ns();
    worker.stats_.asleep.store(1, std::memory_order_relaxed);
    // Waiting writes: their holder may end on another worker, which rings its own doorbell.
    shm::sleep(
        *env.doorbell, bell,
        waiting.empty() ? std::chrono::nanoseconds{-1} : std::chrono::nanoseconds{kWaitingSleepNs});
    worker.stats_.asleep.store(0, std::memory_order_relaxed);
    bump(worker.stats_.sleep_ns, static_cast<uint64_t>(sync::now_ns() - asleep));
  }
  shm::end_sleep(*env.board);
}

void Worker::Loop::drain_for_shutdown() {
  // Scans under way are finished and answered.
  for (auto& a : attached) {
    for (; !a->paused.empty(); a->paused.pop_front()) {
      while (!scan_slice(*a, a->paused.front())) {
      }
    }
  }
  for (Ring* r : rings) {
    ClientSession& s = *r->owner->session;
    uint32_t index;
    while (!s.corrupt() && r->consumer.try_pop(&index)) {
      if (index >= s.geometry().sizes.context_count || !s.claim_context(index)) {
        s.mark_corrupt("corrupt ring during shutdown");
        break;
      }
      Answer answer;
      answer.status = WireStatus::kShuttingDown;
      post(s, index, answer);
    }
    r->consumer.wake_producers();
  }
  // Waiting writes: not run (a rerun), or answered as they would have been.
  for (const Waiting& w : waiting) {
    Answer answer;
    answer.status = w.rerun ? WireStatus::kShuttingDown : w.status;
    post(*w.owner->session, w.index, answer);
  }
  waiting.clear();
  // Parked commits are in the log already: wait for their outcome (the log writer runs
  // until the workers have stopped) and answer them.
  while (!parked.empty()) {
    if (env.pending->maybe_nonempty()) {
      complete_parked();
    } else {
      std::this_thread::yield();
    }
  }
}

void Worker::Loop::detach_all() {
  for (auto& a : attached) {
    for (PausedScan& scan : a->paused)
      end_scan(*a, scan);
    if (a->engine_session) env.engine->close_session(std::move(a->engine_session));
  }
  attached.clear();
  rings.clear();
  hot.clear();
}

}  // namespace ringdb::daemon
