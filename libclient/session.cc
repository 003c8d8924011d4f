#include "libclient/session.h"

#include <sched.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <optional>
#include <utility>

#include "shm/doorbell.h"
#include "shm/request.h"
#include "sync/fence.h"
#include "sync/futex.h"
#include "sync/spin.h"

namespace ringdb::libclient {

namespace {

constexpr uint32_t kSubmittedWaiting = shm::kStateSubmitted | shm::kStateWaiting;
// A full ring is retried this many times with pauses before the thread sleeps for room.
constexpr uint32_t kRingFullSpins = 64;
constexpr uint32_t kRingFullPauses = 64;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Session::Session(std::unique_ptr<Connection> connection, bool keep_threads_off_worker_cpus)
    : connection_(std::move(connection)),
      geometry_(connection_->geometry()),
      segment_(connection_->segment()),
      placement_(*connection_, keep_threads_off_worker_cpus),
      area_(geometry_.sizes.request_area_size),
      events_(reinterpret_cast<shm::EventAreaHeader*>(segment_ + geometry_.event_area_offset),
              segment_ + geometry_.event_ring_offset(), geometry_.sizes.event_ring_bytes) {
  rings_.reserve(geometry_.sizes.ring_count);
  for (uint32_t r = 0; r < geometry_.sizes.ring_count; ++r) {
    rings_.emplace_back(segment_ + geometry_.rings_offset + uint64_t{r} * geometry_.ring_stride,
                        geometry_.sizes.ring_slots);
  }
  {
    sync::MutexGuard guard(free_mu_);
    // Full capacity now: give_context() never allocates (it runs while unwinding, too).
    free_.reserve(geometry_.sizes.context_count);
    for (uint32_t i = geometry_.sizes.context_count; i-- > 0;)
      free_.push_back(i);  // context 0 on top
  }
  sync::MutexGuard guard(area_mu_);
  blocks_.resize(geometry_.sizes.context_count);
}

// ---- Submitting -------------------------------------------------------------------------

Status Session::submit(const RequestSpec& request, SubmitMode mode, uint32_t* out) {
  assert(*out == kNoContext);
  if (Status s = refusal(); s != Status::kOk) return s;
  uint64_t total = 0;
  for (std::string_view part : request.parts)
    total += part.size();
  const bool external = total > geometry_.inline_capacity();
  if (external && total > geometry_.sizes.request_area_size) {
    error_detail() = "the request's key and value (" + std::to_string(total) +
                     " bytes) are larger than the session's request area (" +
                     std::to_string(geometry_.sizes.request_area_size) + " bytes)";
    return Status::kTooLarge;
  }

  uint32_t index;
  if (Status s = take_context(mode, &index); s != Status::kOk) return s;
  Block block;
  if (external) {
    block.size = static_cast<uint32_t>(total);  // <= request_area_size <= kDataAreaMax
    if (Status s = take_block(mode, index, block.size, &block.offset); s != Status::kOk) {
      give_context(index);
      return s;
    }
  }
  write_request(index, request, block);
  if (Status s = publish(index, mode); s != Status::kOk) {
    release(index);  // never pushed: the daemon cannot have seen it
    return s;
  }
  *out = index;
  return Status::kOk;
}

void Session::write_request(uint32_t index, const RequestSpec& request, const Block& block) {
  const bool external = block.size != 0;
  shm::encode_request(
      context(index), request, external, block.offset,
      external ? segment_ + geometry_.request_area_offset + block.offset : inline_data(index));
}

Status Session::publish(uint32_t index, SubmitMode mode) {
  // Relaxed: the push's release store of the slot publishes it, with the rest of the
  // request, to the worker that pops the slot.
  context(index)->state.store(shm::kStateSubmitted, std::memory_order_relaxed);
  for (uint32_t attempt = 1;; ++attempt) {
    const uint32_t ring = current_ring();  // again each time: the thread may have moved
    if (rings_[ring].try_push(index)) {
      wake_worker(ring);
      return Status::kOk;
    }
    if (mode == SubmitMode::kTry) return Status::kRingFull;
    // A full ring's worker should be draining it; make sure it is not asleep.
    if (attempt == 1) ring_doorbell(connection_->ring_worker(ring));
    if (attempt <= kRingFullSpins) {
      for (uint32_t i = 0; i < kRingFullPauses; ++i)
        sync::cpu_relax();
      continue;
    }
    // Still full: sleep until the worker frees a slot (shm/ring.h: the full-ring handshake).
    // A worker serving this session over its fair share may not for a while, and a thread
    // spinning meanwhile would take the CPU other processes, the daemon's among them, need.
    if (rings_[ring].prepare_wait()) continue;
    if (sync::futex_wait(rings_[ring].waiting_word(), 1, sync::Sharing::kProcessShared,
                         kWaitSlice) == sync::FutexWaitResult::kTimedOut) {
      // A stopped or dead daemon never frees a slot: do not wait for it forever.
      if (Status s = refusal(); s != Status::kOk) return s;
      if (Status s = gone(/*probe=*/true); s != Status::kOk) return s;
    }
  }
}

uint32_t Session::current_ring() const {
  const int cpu = sched_getcpu();  // rseq or vDSO: no system call
  return cpu < 0 ? 0 : static_cast<uint32_t>(cpu) % geometry_.sizes.ring_count;
}

void Session::wake_worker(uint32_t ring) {
  // The producer's half of the wake-up protocol (shm/doorbell.h), after the push.
  const uint32_t worker = connection_->ring_worker(ring);
  shm::wake_if_sleeping(connection_->board_worker(worker)->need_wakeup,
                        *connection_->doorbell(worker));
}

void Session::nudge_sleeping_workers() {
  for (uint32_t r = 0; r < geometry_.sizes.ring_count; ++r) {
    const uint32_t worker = connection_->ring_worker(r);
    shm::wake_if_sleeping(connection_->board_worker(worker)->need_wakeup,
                          *connection_->doorbell(worker));
  }
}

void Session::ring_doorbell(uint32_t worker) {
  shm::ring(*connection_->doorbell(worker));
}

// ---- Free contexts ----------------------------------------------------------------------

bool Session::pop_free_context(uint32_t* index) {
  sync::MutexGuard guard(free_mu_);
  if (free_.empty()) return false;
  *index = free_.back();
  free_.pop_back();
  return true;
}

Status Session::take_context(SubmitMode mode, uint32_t* index) {
  if (abandoned_count_.load(std::memory_order_relaxed) != 0) reap_abandoned();
  if (pop_free_context(index)) return Status::kOk;
  if (mode == SubmitMode::kTry) return Status::kTooManyInFlight;
  return wait_for(context_freed_, deadline_ns(), [&] {
    if (abandoned_count_.load(std::memory_order_relaxed) != 0) reap_abandoned();
    return pop_free_context(index);
  });
}

int64_t Session::deadline_ns() const {
  const int64_t timeout = timeout_ns_.load(std::memory_order_relaxed);
  return timeout > 0 ? now_ns() + timeout : INT64_MAX;
}

void Session::abandon(uint32_t index) {
  sync::MutexGuard guard(free_mu_);
  abandoned_.push_back(index);
  abandoned_count_.fetch_add(1, std::memory_order_relaxed);
}

void Session::reap_abandoned() {
  std::vector<uint32_t> answered;
  {
    sync::MutexGuard guard(free_mu_);
    std::erase_if(abandoned_, [&](uint32_t index) {
      if (context(index)->state.load(std::memory_order_acquire) != shm::kStateDone) return false;
      answered.push_back(index);
      return true;
    });
    abandoned_count_.store(static_cast<uint32_t>(abandoned_.size()), std::memory_order_relaxed);
  }
  for (uint32_t index : answered)
    release(index);  // nobody reads the answer: the context (and its blocks) go back
}

void Session::give_context(uint32_t index) {
  {
    sync::MutexGuard guard(free_mu_);
    free_.push_back(index);
  }
  context_freed_.notify_one();
}

template <typename TryFn>
Status Session::wait_for(sync::EventCount& ec, int64_t deadline_ns, TryFn try_fn) {
  for (;;) {
    const sync::EventCount::Key key = ec.prepare_wait();
    if (try_fn()) {
      ec.cancel_wait();
      return Status::kOk;
    }
    if (Status s = refusal(); s != Status::kOk) {
      ec.cancel_wait();
      return s;
    }
    const int64_t left = deadline_ns - now_ns();
    if (left <= 0) {
      ec.cancel_wait();
      return Status::kTimedOut;
    }
    if (!ec.wait(key,
                 std::min<std::chrono::nanoseconds>(kWaitSlice, std::chrono::nanoseconds(left)))) {
      if (Status s = gone(/*probe=*/true); s != Status::kOk) return s;
    }
  }
}

// ---- Request-area blocks ----------------------------------------------------------------

bool Session::try_place(uint32_t index, uint32_t size, uint32_t* out) {
  sync::MutexGuard guard(area_mu_);
  std::optional<uint32_t> offset = area_.allocate(size);
  if (!offset) {
    reclaim_done_blocks();
    offset = area_.allocate(size);
    if (!offset) return false;
  }
  blocks_[index] = Block{*offset, size};
  blocks_out_.fetch_add(1, std::memory_order_relaxed);
  *out = *offset;
  return true;
}

void Session::reclaim_done_blocks() {
  for (uint32_t i = 0; i < blocks_.size(); ++i) {
    Block& b = blocks_[i];
    // DONE: the daemon copied the payload out before it answered. (A block is attached to a
    // context only while it is FREE and being filled, so this DONE is that request's.)
    if (b.size != 0 && context(i)->state.load(std::memory_order_acquire) == shm::kStateDone) {
      area_.free(b.offset, b.size);
      b = Block{};
      blocks_out_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
}

bool Session::find_submitted_block(uint32_t* index) {
  sync::MutexGuard guard(area_mu_);
  for (uint32_t i = 0; i < blocks_.size(); ++i) {
    if (blocks_[i].size == 0) continue;
    const uint32_t state = context(i)->state.load(std::memory_order_acquire);
    if ((state & ~shm::kStateWaiting) == shm::kStateSubmitted) {
      *index = i;
      return true;
    }
  }
  return false;
}

Status Session::take_block(SubmitMode mode, uint32_t index, uint32_t size, uint32_t* offset) {
  if (try_place(index, size, offset)) return Status::kOk;
  if (mode == SubmitMode::kTry) return Status::kTooManyInFlight;
  const int64_t deadline = deadline_ns();
  for (;;) {
    const sync::EventCount::Key key = area_freed_.prepare_wait();
    if (try_place(index, size, offset)) {
      area_freed_.cancel_wait();
      return Status::kOk;
    }
    if (Status s = refusal(); s != Status::kOk) {
      area_freed_.cancel_wait();
      return s;
    }
    const int64_t left = deadline - now_ns();
    if (left <= 0) {
      area_freed_.cancel_wait();
      return Status::kTimedOut;
    }
    uint32_t busy;
    bool slept_full_slice;
    if (find_submitted_block(&busy)) {
      // Room comes back when that request is answered, whether or not its owner is around
      // to complete it (reclaim_done_blocks): sleep until the daemon answers it.
      area_freed_.cancel_wait();
      slept_full_slice = !sleep_on(busy, deadline);
    } else {
      // Every block is with a thread about to publish or to give it back.
      slept_full_slice = !area_freed_.wait(
          key, std::min<std::chrono::nanoseconds>(kWaitSlice, std::chrono::nanoseconds(left)));
    }
    if (slept_full_slice) {
      if (Status s = gone(/*probe=*/true); s != Status::kOk) return s;
    }
  }
}

void Session::give_block(uint32_t index) {
  // No block out at all (the common case: payloads that fit inline), so not this context's
  // either: its block, attached before the request was submitted, counts until freed.
  if (blocks_out_.load(std::memory_order_relaxed) == 0) return;
  bool freed = false;
  {
    sync::MutexGuard guard(area_mu_);
    Block& b = blocks_[index];
    if (b.size != 0) {
      area_.free(b.offset, b.size);
      b = Block{};
      blocks_out_.fetch_sub(1, std::memory_order_relaxed);
      freed = true;
    }
  }
  // All: the room may fit several waiters' smaller requests.
  if (freed) area_freed_.notify_all();
}

// ---- Waiting and completing -------------------------------------------------------------

template <typename Ready>
bool Session::spin_until(Ready&& ready) const {
  if (ready()) return true;
  const int64_t deadline = now_ns() + kSpinBudget.count();
  // Beside a worker that shares its CPU, the answer comes only once this thread lets the
  // worker run: it yields instead of pausing (the worker, idle, yields back).
  const bool beside_worker = placement_.beside_yielding_worker();
  for (uint32_t i = 1;; ++i) {
    if (beside_worker) {
      sched_yield();
    } else {
      sync::cpu_relax();
    }
    if (ready()) return true;
    // The clock every 32 pauses (a pause is 10 to 140 cycles depending on the core, a clock
    // read some tens of nanoseconds), after every yield (which may have lasted a time slice).
    if ((beside_worker || i % 32 == 0) && now_ns() >= deadline) return false;
  }
}

bool Session::spin_until_done(const std::atomic<uint32_t>& state) const {
  return spin_until([&] { return state.load(std::memory_order_acquire) == shm::kStateDone; });
}

// Flags context `index` as waited for and sleeps on its state for at most a slice. Returns
// false if the slice passed without a wake-up or a change of state.
bool Session::sleep_on(uint32_t index, int64_t deadline_ns) {
  std::atomic<uint32_t>& state = context(index)->state;
  uint32_t s = state.load(std::memory_order_acquire);
  if (s == shm::kStateSubmitted) {
    // The worker exchanges the state to DONE and wakes sleepers only if it sees WAITING.
    if (!state.compare_exchange_strong(s, kSubmittedWaiting, std::memory_order_acquire)) {
      return true;  // it changed under us: look again
    }
    s = kSubmittedWaiting;
  }
  if (s != kSubmittedWaiting) return true;
  const int64_t left = deadline_ns == INT64_MAX ? kWaitSlice.count() : deadline_ns - now_ns();
  if (left <= 0) return false;
  return sync::futex_wait(
             &state, s, sync::Sharing::kProcessShared,
             std::min<std::chrono::nanoseconds>(kWaitSlice, std::chrono::nanoseconds(left))) !=
         sync::FutexWaitResult::kTimedOut;
}

Status Session::wait_for_events(int64_t deadline_ns) {
  if (events_.ready()) return Status::kOk;
  placement_.settle_this_thread();
  if (spin_until([&] { return events_.ready(); })) return Status::kOk;
  for (;;) {
    int64_t slice = kWaitSlice.count();
    if (deadline_ns >= 0) {
      const int64_t left = deadline_ns - now_ns();
      if (left <= 0) return events_.ready() ? Status::kOk : Status::kTimedOut;
      slice = std::min(slice, left);
    }
    if (events_.wait(std::chrono::nanoseconds(slice))) {
      if (events_.ready()) return Status::kOk;
      continue;
    }
    if (Status s = gone(/*probe=*/true); s != Status::kOk) {
      return events_.ready() ? Status::kOk : s;
    }
  }
}

Status Session::wait(uint32_t* index, const ResultSink& sink, Status* answer, bool spin) {
  const std::atomic<uint32_t>& state = context(*index)->state;
  assert(state.load(std::memory_order_relaxed) != shm::kStateFree && "waiting for no request");
  const int64_t deadline = deadline_ns();
  placement_.settle_this_thread();
  if (!(spin ? spin_until_done(state) : state.load(std::memory_order_acquire) == shm::kStateDone)) {
    while (state.load(std::memory_order_acquire) != shm::kStateDone) {
      // Once the session is known lost, no sleep: every request still waited for fails at
      // once (not after a slice each: hundreds in flight would take seconds).
      const bool lost = lost_.load(std::memory_order_acquire) != 0;
      if (!lost && sleep_on(*index, deadline)) continue;
      if (!lost) nudge_sleeping_workers();
      if (Status s = gone(/*probe=*/true); s != Status::kOk) {
        // closed is stored after every answer of the session: one given before is seen.
        if (state.load(std::memory_order_acquire) == shm::kStateDone) break;
        *index = kNoContext;  // abandoned with the session
        return s;
      }
      if (now_ns() >= deadline && state.load(std::memory_order_acquire) != shm::kStateDone) {
        abandon(std::exchange(*index, kNoContext));  // freed once the daemon has answered
        return Status::kTimedOut;
      }
    }
  }
  *answer = complete(index, sink);
  return Status::kOk;
}

bool Session::poll(uint32_t* index, const ResultSink& sink, Status* transport, Status* answer) {
  const std::atomic<uint32_t>& state = context(*index)->state;
  if (state.load(std::memory_order_acquire) != shm::kStateDone) {
    const Status s = gone(probe_due());
    if (s == Status::kOk) return false;
    if (state.load(std::memory_order_acquire) != shm::kStateDone) {
      *index = kNoContext;
      *transport = *answer = s;
      return true;
    }
  }
  *transport = Status::kOk;
  *answer = complete(index, sink);
  return true;
}

bool Session::worth_spinning(const RequestSpec& request) {
  const bool logged =
      request.opcode == shm::Opcode::kCommit || request.opcode == shm::Opcode::kBatch ||
      (request.txn == 0 &&
       (request.opcode == shm::Opcode::kPut || request.opcode == shm::Opcode::kDel));
  const bool sync = (request.flags & (shm::kFlagDurabilityAsync | shm::kFlagDurabilityNone)) == 0;
  return !(logged && sync);
}

Status Session::run(const RequestSpec& request, const ResultSink& sink) {
  uint32_t index = kNoContext;
  if (Status s = submit(request, SubmitMode::kWait, &index); s != Status::kOk) return s;
  Status answer = Status::kOk;
  if (Status s = wait(&index, sink, &answer, worth_spinning(request)); s != Status::kOk) return s;
  return answer;
}

Status Session::complete(uint32_t* index, const ResultSink& sink) {
  const uint32_t i = std::exchange(*index, kNoContext);
  // The context goes back whatever happens while the results are copied (bad_alloc).
  struct Release {
    Session* session;
    uint32_t index;
    ~Release() { session->release(index); }
  } release_at_exit{this, i};
  return read_result(*context(i), i, sink);
}

std::string& error_detail() {
  thread_local std::string detail;
  return detail;
}

namespace {

// TOO_LARGE's detail (the answer's result_count and result_u64), in a sentence.
std::string too_large_sentence(uint32_t part, uint64_t limit) {
  const std::string bytes = std::to_string(limit) + " bytes";
  switch (static_cast<shm::TooLargePart>(part)) {
    case shm::TooLargePart::kKey:
      return "a key (or a scan's start, end or prefix) is longer than the daemon's limit of " +
             bytes + " (--key-size-max)";
    case shm::TooLargePart::kValue:
      return "the value is longer than the daemon's limit of " + bytes + " (--value-size-max)";
    case shm::TooLargePart::kTransaction:
      return "the transaction's writes make a log record over the daemon's limit of " + bytes +
             " (a log segment's room, --wal-segment-size)";
    case shm::TooLargePart::kBatch:
      return "the batch has more than " + std::to_string(limit) + " entries";
    case shm::TooLargePart::kNone:
      break;
  }
  return "";
}

}  // namespace

Status Session::read_result(const shm::ContextHeader& c, uint32_t index,
                            const ResultSink& sink) const {
  const auto status = static_cast<Status>(c.status);
  // (Every answer sets it; the common case only looks at it.)
  if (std::string& detail = error_detail(); status == Status::kTooLarge) {
    detail = too_large_sentence(c.result_count, c.result_u64);
  } else if (!detail.empty()) {
    detail.clear();
  }
  if (sink.truncated != nullptr) *sink.truncated = (c.result_flags & shm::kResultTruncated) != 0;
  if (sink.result_u64 != nullptr) *sink.result_u64 = c.result_u64;
  if (sink.result_count != nullptr) *sink.result_count = c.result_count;
  if (status != Status::kOk || (sink.value == nullptr && sink.items == nullptr)) return status;
  // The daemon is trusted, but a result outside its area would be read outside the mapping.
  const uint32_t length = c.result_len;
  const std::byte* data;
  if ((c.result_flags & shm::kResultExternal) != 0) {
    if (uint64_t{c.result_offset} + length > geometry_.sizes.response_area_size) {
      return Status::kProtocolMismatch;
    }
    data = segment_ + geometry_.response_area_offset + c.result_offset;
  } else {
    if (length > geometry_.inline_capacity()) return Status::kProtocolMismatch;
    data = inline_data(index);
  }
  if (sink.value != nullptr) sink.value->assign(reinterpret_cast<const char*>(data), length);
  if (sink.items != nullptr) {
    std::vector<KeyValue>& items = *sink.items;
    items.clear();
    items.reserve(std::min<size_t>(c.result_count, length / sizeof(shm::ItemHeader)));
    const bool well_formed = shm::decode_items(
        data, length, c.result_count, [&](std::string_view k, std::string_view v) {
          items.push_back(KeyValue{std::string(k), std::string(v)});
        });
    if (!well_formed) return Status::kProtocolMismatch;
  }
  return status;
}

void Session::release(uint32_t index) {
  // Every read of the result is above: from FREE on, the daemon may reuse its response
  // block (release order, paired with the daemon's acquire load of the state).
  context(index)->state.store(shm::kStateFree, std::memory_order_release);
  give_block(index);
  give_context(index);
}

// ---- Liveness ---------------------------------------------------------------------------

Status Session::gone(bool probe) {
  if (const int lost = lost_.load(std::memory_order_acquire); lost != 0) {
    return static_cast<Status>(lost);
  }
  if (connection_->header()->closed.load(std::memory_order_acquire) != 0) {
    // A daemon that shuts down answers everything queued before it detaches sessions: a
    // request still unanswered then did not run.
    const bool shutdown = connection_->board()->shutting_down.load(std::memory_order_acquire) != 0;
    mark_lost(shutdown ? Status::kShuttingDown : Status::kDisconnected);
  } else if (probe && connection_->hung_up()) {
    mark_lost(Status::kDisconnected);
  }
  return static_cast<Status>(lost_.load(std::memory_order_acquire));
}

Status Session::refusal() {
  if (Status s = gone(/*probe=*/false); s != Status::kOk) return s;
  // Not `lost`: requests already queued are still answered (SHUTTING_DOWN).
  if (connection_->board()->shutting_down.load(std::memory_order_acquire) != 0) {
    return Status::kShuttingDown;
  }
  return Status::kOk;
}

bool Session::probe_due() {
  const int64_t now = now_ns();
  int64_t next = next_probe_ns_.load(std::memory_order_relaxed);
  if (now < next) return false;
  // One thread per slice makes the system call.
  return next_probe_ns_.compare_exchange_strong(next, now + kWaitSlice.count(),
                                                std::memory_order_relaxed);
}

void Session::mark_lost(Status why) {
  int expected = 0;
  lost_.compare_exchange_strong(expected, static_cast<int>(why), std::memory_order_acq_rel);
  // Blocked submitters fail now rather than at the end of their slice.
  context_freed_.notify_all();
  area_freed_.notify_all();
}

}  // namespace ringdb::libclient
