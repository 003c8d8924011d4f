// Session: libringdb's data path over one Connection (docs/PROTOCOL.md section 2, "The life
// of a request", and section 3): it owns which request contexts and request-area blocks are
// free, writes requests into the segment, pushes them on the rings, wakes sleeping workers,
// waits for answers and reads them back. Client, Operation and Transaction (client.cc) are
// thin layers over it.
//
// Submitting: a context from the free list (a LIFO under `free_mu_`: a just-freed context's
// lines are still in this core's cache); the payload inline in the context if it fits, else
// in a block of the request area (first fit under `area_mu_`); state SUBMITTED; a push on
// ring sched_getcpu() % ring_count; then the wake-up check. Blocking submits wait for a
// context or for area space on a sync::EventCount (no polling); a full ring is retried with
// pauses, then the thread sleeps until the worker frees a slot (shm/ring.h).
//
// Waiting: the thread is first moved off the worker CPUs, once (ThreadPlacement); then it
// spins on the context's state for kSpinBudget (yielding instead of pausing when it runs on
// the CPU of a worker that shares it), then futex-waits on it in kWaitSlice slices (the
// worker wakes a waiter it sees flagged WAITING); between slices, the session's liveness is
// checked (header.closed, then the socket), so a waiter notices a dead daemon within about
// two slices.
//
// Request-area blocks are returned when their request completes, or reclaimed by a thread
// that needs area space once their request is DONE (the daemon copied the payload out before
// it answered): so a thread that keeps many large requests in flight and blocks in submit is
// not waiting for itself to call wait().
//
// Liveness: once the daemon is known to be gone (closed, hung up) the session is `lost`:
// every later submit fails at once, and blocked submitters are woken to fail too. Contexts
// in flight at that point are abandoned with the session.
//
// Thread safety: every method may be called concurrently; a given context is used by one
// thread at a time (the one that submitted it, until it waits or polls it to completion).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "libclient/connection.h"
#include "libclient/thread_placement.h"
#include "ringdb/client.h"
#include "shm/events.h"
#include "shm/extent_allocator.h"
#include "shm/request.h"
#include "shm/ring.h"
#include "shm/wire.h"
#include "sync/event_count.h"
#include "sync/mutex.h"
#include "sync/thread_annotations.h"

namespace ringdb::libclient {

inline constexpr uint32_t kNoContext = UINT32_MAX;

// One request as the data path sees it. The parts point into memory that the caller keeps
// alive until submit() returns: the payload is in the segment by then.
using shm::RequestSpec;

// Where an answer's results go; a null member is not wanted.
struct ResultSink {
  std::string* value = nullptr;            // get
  std::vector<KeyValue>* items = nullptr;  // scan
  bool* truncated = nullptr;               // scan
  uint64_t* result_u64 = nullptr;          // begin, commit, get, batch
  uint32_t* result_count = nullptr;        // batch: CONDITION_FAILED's condition
};

enum class SubmitMode : uint8_t { kWait, kTry };

// The detail of the last answer this thread read (TOO_LARGE: which part and its limit), ""
// if it had none: ringdb::last_error_detail().
std::string& error_detail();

class Session {
 public:
  // Spinning catches answers that come back within a few microseconds (a worker that is
  // awake answers a get in about 2 us) without the two system calls and the scheduler
  // round trip of a futex sleep; beyond this, sleeping frees the core.
  static constexpr std::chrono::nanoseconds kSpinBudget = std::chrono::microseconds(20);
  // Sleeps are cut into slices so that liveness is checked between them: the bound on
  // noticing a dead daemon (docs/PROTOCOL.md section 6) is about two slices.
  static constexpr std::chrono::nanoseconds kWaitSlice = std::chrono::milliseconds(50);

  // `keep_threads_off_worker_cpus`: ConnectOptions' (libclient/thread_placement.h).
  Session(std::unique_ptr<Connection> connection, bool keep_threads_off_worker_cpus);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  uint64_t session_id() const { return connection_->session_id(); }
  const std::string& daemon_version() const { return connection_->daemon_version(); }

  // Copies `request` into a free context and publishes it; on kOk *context names it until
  // wait() or poll() completes it. Returns kOk; kTooLarge (a payload larger than the whole
  // request area); kShuttingDown or kDisconnected (the session cannot take requests);
  // kTimedOut (no context or request-area room came within the timeout); and
  // with SubmitMode::kTry, kTooManyInFlight (no free context or no request-area room) or
  // kRingFull instead of waiting. REQUIRES: *context == kNoContext.
  Status submit(const RequestSpec& request, SubmitMode mode, uint32_t* context);
  // Waits for the answer to *context. kOk: *answer is the daemon's status, the results are
  // in `sink`. kDisconnected or kShuttingDown: the session ended without an answer.
  // kTimedOut: none came within the timeout (set_timeout); the request is abandoned. Either
  // way *context is kNoContext afterwards, set before anything that can throw (bad_alloc
  // while copying results). The calling thread is first moved off the worker CPUs if it
  // has not been (ThreadPlacement). REQUIRES: *context came from submit(). `spin`: false for an
  // answer known to take long (a sync commit waits for an fdatasync): sleep at once rather
  // than burn the CPU other processes need for kSpinBudget.
  Status wait(uint32_t* context, const ResultSink& sink, Status* answer, bool spin = true);
  // A limit on each wait for a request context and for an answer (0: none): past it, the
  // waiting call returns kTimedOut. A request that times out is abandoned, not cancelled: the
  // daemon still runs it (a write may commit), and its context returns to the free list once
  // the daemon has answered (reap_abandoned()). Any thread, any time; waits that began keep
  // the limit they started with.
  void set_timeout(std::chrono::nanoseconds timeout) {
    timeout_ns_.store(timeout.count(), std::memory_order_relaxed);
  }
  std::chrono::nanoseconds timeout() const {
    return std::chrono::nanoseconds(timeout_ns_.load(std::memory_order_relaxed));
  }
  // Whether a waiter for `request` should spin before it sleeps: not for a commit that waits
  // for the disk (hundreds of microseconds: a spinning waiter would only take a CPU from the
  // daemon's log threads), yes for everything else (answered in microseconds).
  static bool worth_spinning(const RequestSpec& request);
  // Like wait() if the answer is there (or the session is gone): returns true with
  // *transport (kOk or the transport error) and *answer. Else false, without blocking.
  bool poll(uint32_t* context, const ResultSink& sink, Status* transport, Status* answer);
  // submit (waiting) then wait: the daemon's answer, or the transport's error. A write the
  // daemon makes durable before answering (a sync commit, an autocommit put or delete) is
  // waited for without spinning.
  Status run(const RequestSpec& request, const ResultSink& sink);

  // For the completion notifier (libclient/notifier.h): a context's state word; the session's
  // liveness (kOk, or why no answer will come; asks the socket at most once a slice); and the
  // thread placement every waiting thread gets.
  std::atomic<uint32_t>& context_state(uint32_t index) const { return context(index)->state; }
  Status liveness() { return gone(probe_due()); }
  void settle_this_thread() const { placement_.settle_this_thread(); }

  // Watch events: the session's event area (shm/events.h, docs/PROTOCOL.md). One reader at a
  // time: the caller serialises its use of events() and wait_for_events().
  shm::EventReader& events() { return events_; }
  // Waits until an event is published (kOk: events().next() has one), `deadline_ns` passes
  // (steady clock; negative: never; kTimedOut), or the session ends (its status). Spins for
  // kSpinBudget, then sleeps in kWaitSlice slices with the liveness checks of wait().
  Status wait_for_events(int64_t deadline_ns);

 private:
  struct Block {
    uint32_t offset = 0;
    uint32_t size = 0;  // 0: the context holds no block
  };

  shm::ContextHeader* context(uint32_t index) const {
    return reinterpret_cast<shm::ContextHeader*>(segment_ + geometry_.contexts_offset +
                                                 uint64_t{index} * geometry_.sizes.context_size);
  }
  std::byte* inline_data(uint32_t index) const {
    return reinterpret_cast<std::byte*>(context(index)) + sizeof(shm::ContextHeader);
  }

  // When a wait beginning now must end: now + the timeout, or never (INT64_MAX).
  int64_t deadline_ns() const;

  // Free contexts.
  bool pop_free_context(uint32_t* index) EXCLUDES(free_mu_);
  Status take_context(SubmitMode mode, uint32_t* index);
  // Timed-out requests: their contexts wait here for the daemon's answer, then go back to the
  // free list without being read.
  void abandon(uint32_t index) EXCLUDES(free_mu_);
  void reap_abandoned() EXCLUDES(free_mu_);
  void give_context(uint32_t index) EXCLUDES(free_mu_);
  // Request-area blocks.
  bool try_place(uint32_t index, uint32_t size, uint32_t* offset) EXCLUDES(area_mu_);
  void reclaim_done_blocks() REQUIRES(area_mu_);
  bool find_submitted_block(uint32_t* index) EXCLUDES(area_mu_);
  Status take_block(SubmitMode mode, uint32_t index, uint32_t size, uint32_t* offset);
  void give_block(uint32_t index) EXCLUDES(area_mu_);
  // Sleeps on `ec` until notified or kWaitSlice; between slices checks the session, and
  // returns kTimedOut once `deadline_ns` has passed.
  template <typename TryFn>
  Status wait_for(sync::EventCount& ec, int64_t deadline_ns, TryFn try_fn);

  void write_request(uint32_t index, const RequestSpec& request, const Block& block);
  Status publish(uint32_t index, SubmitMode mode);
  uint32_t current_ring() const;
  void wake_worker(uint32_t ring);
  void ring_doorbell(uint32_t worker);
  // After a wait slice without an answer: rings every worker that says it sleeps. The
  // doorbells are shared by all sessions, so another session's client can reset a bell
  // between our ring and the worker's FUTEX_WAIT and make it miss our wake-up; this bounds
  // what that costs us to one slice.
  void nudge_sleeping_workers();

  // Spins (or yields, beside a worker that shares its CPU) for kSpinBudget until ready().
  template <typename Ready>
  bool spin_until(Ready&& ready) const;
  bool spin_until_done(const std::atomic<uint32_t>& state) const;
  // Sleeps on context `index` for a slice, or until `deadline_ns` if that comes first.
  bool sleep_on(uint32_t index, int64_t deadline_ns = INT64_MAX);
  Status complete(uint32_t* index, const ResultSink& sink);
  Status read_result(const shm::ContextHeader& c, uint32_t index, const ResultSink& sink) const;
  void release(uint32_t index);

  // Liveness. refusal(): why no new request may be submitted (no system call). gone(): why
  // an answer will never come (the socket is asked only with `probe`). Both mark the
  // session lost when they find it ended.
  Status refusal();
  Status gone(bool probe);
  bool probe_due();
  void mark_lost(Status why);

  const std::unique_ptr<Connection> connection_;
  const shm::SegmentGeometry geometry_;
  std::byte* const segment_;
  std::vector<shm::RingProducer> rings_;  // one per ring; stateless, shared by all threads
  const ThreadPlacement placement_;

  sync::Mutex free_mu_;
  std::vector<uint32_t> free_ GUARDED_BY(free_mu_);
  std::vector<uint32_t> abandoned_ GUARDED_BY(free_mu_);
  std::atomic<uint32_t> abandoned_count_{0};  // abandoned_.size(): skips the mutex at 0
  std::atomic<int64_t> timeout_ns_{0};
  sync::EventCount context_freed_;

  sync::Mutex area_mu_;
  shm::ExtentAllocator area_ GUARDED_BY(area_mu_);
  std::vector<Block> blocks_ GUARDED_BY(area_mu_);  // by context
  // Contexts holding a block (changed under area_mu_): give_block() skips the mutex at 0.
  std::atomic<uint32_t> blocks_out_{0};
  sync::EventCount area_freed_;

  shm::EventReader events_;

  std::atomic<int> lost_{0};  // 0, or the Status every request now fails with
  std::atomic<int64_t> next_probe_ns_{0};
};

}  // namespace ringdb::libclient
