// ClientSession: the daemon's side of one client connection: its shared-memory segment and the
// daemon-private state that goes with it (which contexts are being executed, the response
// area's allocator, the open transactions). Created by the control thread (server.h),
// served by every worker that owns one of its rings, destroyed by the control thread after
// every worker has detached from it.
//
// Nothing here trusts the segment: the geometry is the daemon's own copy, context claims
// and response blocks are tracked in daemon memory, and transaction handles are checked
// against a private table.
//
// Thread safety: the methods below may be called by several workers at once (a session's
// rings are spread over workers), except where a REQUIRES says otherwise.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/engine/engine.h"
#include "shm/extent_allocator.h"
#include "shm/layout.h"
#include "shm/request.h"
#include "shm/segment.h"
#include "shm/wire.h"
#include "sync/mutex.h"
#include "sync/thread_annotations.h"

namespace ringdb::daemon {

struct PeerInfo {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string process_name;
};

class ClientSession {
 public:
  ClientSession(uint64_t id, const shm::SegmentGeometry& geometry,
                std::unique_ptr<shm::Segment> segment, int socket_fd, PeerInfo peer,
                uint32_t transactions_max);
  // REQUIRES: no worker serves it any more; abort_transactions() was called.
  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  uint64_t id() const { return id_; }
  int socket_fd() const { return socket_fd_; }
  const PeerInfo& peer() const { return peer_; }
  const shm::SegmentGeometry& geometry() const { return geometry_; }
  std::byte* base() const { return segment_->base(); }
  void* ring(uint32_t r) const {
    return base() + geometry_.rings_offset + uint64_t{r} * geometry_.ring_stride;
  }
  shm::ContextHeader* context(uint32_t index) const {
    return reinterpret_cast<shm::ContextHeader*>(base() + geometry_.contexts_offset +
                                                 uint64_t{index} * geometry_.sizes.context_size);
  }
  std::byte* response_area() const { return base() + geometry_.response_area_offset; }

  // A context is executed by one worker at a time. false: the client published a context
  // that is already being executed (a corrupt ring); the caller disconnects the session.
  // REQUIRES: index < context_count.
  bool claim_context(uint32_t index);
  void release_context(uint32_t index);

  // A block of the response area for context `index`'s result (freeing the block its
  // previous answer used). false: no room even after taking back the blocks of contexts
  // the client has set FREE.
  bool place_result(uint32_t index, uint32_t size, uint32_t* offset);

  // Transactions: handles are (generation << 32 | slot + 1), checked on every use.
  shm::WireStatus begin_transaction(Engine& engine, bool read_only, uint64_t* handle);
  // Claims the transaction for one request (kTransactionBusy if another request of it runs).
  shm::WireStatus claim_transaction(uint64_t handle, Transaction** txn);
  void release_transaction(uint64_t handle);
  // Takes a claimed transaction out of the session and frees its slot: a commit waiting for
  // the log belongs to the worker that parked it, whatever becomes of the session.
  std::unique_ptr<Transaction> take_transaction(uint64_t handle);
  // Commits (commit = true) or aborts a claimed transaction and frees its slot.
  shm::WireStatus end_transaction(Engine& engine, uint64_t handle, bool commit, uint64_t* csn);
  // Aborts every open transaction. REQUIRES: no worker serves the session any more.
  void abort_transactions(Engine& engine);
  uint32_t open_transactions() const;
  // The guard against forgotten transactions: aborts every open transaction begun before
  // `begun_before_ns` (coarse monotonic clock) that no request is using right now. Its handle
  // then answers TRX_TOO_OLD (not UNKNOWN_TRANSACTION). Returns how many. Any thread.
  uint32_t expire_transactions(Engine& engine, int64_t begun_before_ns);

  // For ringdb-admin sessions. Any thread.
  struct Activity {
    int64_t connected_ns = 0;  // coarse monotonic clock
    uint32_t executing = 0;    // requests the daemon is executing (or committing) now
    uint32_t open_transactions = 0;
    int64_t oldest_transaction_ns = 0;  // when the oldest open one began (0: none)
  };
  Activity activity() const;
  // Whether transaction `id` (an engine id: Transaction::id()) is open in this session, not
  // in a request right now; then *begun_ns is when it began (coarse monotonic clock). For
  // ringdb-admin contention: a holder of contended keys that nobody is using. Any thread.
  bool holds_transaction(mvcc::TrxId id, int64_t* begun_ns) const EXCLUDES(txn_mu_);

  // Marks the session for disconnection (first reason wins); the control thread acts on it.
  void mark_corrupt(const char* why);
  bool corrupt() const { return corrupt_.load(std::memory_order_acquire); }
  std::string corrupt_reason() const;
  // The SIGBUS guard's handle for the mapping (shm/bus_guard.h).
  bool poisoned() const;

 private:
  struct ResultBlock {
    uint32_t offset = 0;
    uint32_t size = 0;  // 0: none
  };
  struct TxnSlot {
    uint32_t generation = 1;
    uint32_t expired_generation = 0;  // a handle aborted by the age guard: TRX_TOO_OLD
    bool busy = false;
    int64_t begun_ns = 0;
    std::unique_ptr<Transaction> txn;
  };
  void free_result_locked(uint32_t index) REQUIRES(response_mu_);
  TxnSlot* slot_of(uint64_t handle) REQUIRES(txn_mu_);

  const uint64_t id_;
  const shm::SegmentGeometry geometry_;
  const std::unique_ptr<shm::Segment> segment_;
  const int socket_fd_;
  const PeerInfo peer_;
  const int bus_guard_;
  const int64_t connected_ns_;

  std::unique_ptr<std::atomic<uint8_t>[]> executing_;  // per context

  sync::Mutex response_mu_;
  shm::ExtentAllocator response_blocks_ GUARDED_BY(response_mu_);
  std::vector<ResultBlock> result_of_ GUARDED_BY(response_mu_);

  mutable sync::Mutex txn_mu_;
  std::vector<TxnSlot> txns_ GUARDED_BY(txn_mu_);
  uint32_t txns_open_ GUARDED_BY(txn_mu_) = 0;

  std::atomic<bool> corrupt_{false};
  mutable sync::Mutex reason_mu_;
  std::string corrupt_reason_ GUARDED_BY(reason_mu_);
};

}  // namespace ringdb::daemon
