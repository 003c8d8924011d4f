// MvccManager: owns the life cycle of read views (after InnoDB WL#6578's MVCC class).
//
// A ReadView is a snapshot: the CSN of the last commit it sees, plus the id of the
// transaction that owns it (whose own writes it also sees). Views live in a table of
// `capacity` slots allocated at start; opening takes a slot from a lock-free free list and
// closing returns it, so the hot path never calls malloc. Opening costs O(1) whatever the
// number of active transactions: it reads TrxSys::visible_csn().
//
// Operations (the seed's names):
//   open_view     take a slot, activate it with the current snapshot; nullptr if all
//                 `capacity` slots are in use (callers answer TOO_MANY_VIEWS)
//   close_view    deactivate and return the slot
//   release_view  deactivate but keep the slot with its owner: an autocommit non-locking
//                 read-only (AC-NL-RO) session keeps one view between requests
//   reuse_view    reactivate a released view: it keeps its snapshot if no transaction committed
//                 since (returns true), else takes the current one. Either way O(1)
//   clone_oldest_view  the oldest snapshot any active view holds (for purge); released views
//                 are inactive and do not hold purge back
//   active_view_count, is_view_active
//
// Slot activation protocol (what makes clone_oldest_view and reclamation safe without a lock):
//   1. seq := kActivating (1)                      purge: "someone is opening: assume oldest"
//   2. s := next_seq_ (a load: opening a view writes nothing but its own slot)
//   3. snapshot := TrxSys::visible_csn()
//   4. seq := s (>= 2)                             purge: "snapshot is valid"
// A purge pass reads visible_csn() first, then the slots. A slot it sees as inactive (0) will
// read visible_csn() after purge did, so its snapshot is at least purge's bound; a slot it sees
// activating holds purge back for that pass. Steps 1, 2, 4 and purge's reads are seq_cst;
// the snapshot store (3) is published by step 4. Deactivation is a release store of 0.
//
// Reclamation: memory that readers may reach through a chain (unlinked versions, dead chains)
// is retired with tag = current_seq() after it was unlinked: the counter's value before an
// increment (an RMW). A purge pass takes the retired list *before* clone_oldest_view() and
// frees what has tag < oldest.seq. A view whose step 2 read the incremented value (or later)
// cannot reach it: its load read from the RMW, so the unlink happens-before the view's loads;
// it holds seq > tag. A view whose step 2 read an older value holds seq <= tag, and that load
// precedes the RMW in the seq_cst order, so its step 1 does too and purge (which reads the
// slots after the retire) sees it activating or active: it holds the block back. Every reader and
// writer holds an active view while it touches versions.
//
// Thread safety: all member functions may be called concurrently, but a given view is used
// by one thread at a time (its owner).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "mvcc/trx_sys.h"
#include "mvcc/types.h"

namespace ringdb::mvcc {

class MvccManager;

class alignas(64) ReadView {
 public:
  // The CSN of the newest commit this view sees.
  Csn snapshot() const { return snapshot_.load(std::memory_order_relaxed); }
  // The read-write transaction that owns the view (kNoTrx for read-only work): the view
  // sees that transaction's own uncommitted writes.
  TrxId creator() const { return creator_; }
  void set_creator(TrxId id) { creator_ = id; }
  uint64_t owner_tag() const { return owner_tag_.load(std::memory_order_relaxed); }
  // True if a version committed at `csn` is visible.
  bool sees_commit(Csn csn) const { return csn != kNoCsn && csn <= snapshot(); }

 private:
  friend class MvccManager;
  std::atomic<uint64_t> seq_{0};  // 0 inactive, 1 activating, >= 2 active (activation order)
  std::atomic<Csn> snapshot_{kNoCsn};
  std::atomic<int64_t> opened_ns_{0};
  std::atomic<uint64_t> owner_tag_{0};  // who holds it (a session id), for diagnostics
  TrxId creator_ = kNoTrx;
  std::atomic<uint32_t> next_free_{0};
  bool in_use_ = false;  // taken from the free list (active or released)
};

struct OldestView {
  Csn snapshot = kNoCsn;   // purge may remove what no snapshot >= this one can see
  uint64_t seq = 0;        // smallest activation sequence of an active view (max: none)
  int64_t opened_ns = 0;   // when the oldest active view was opened (0: none active)
  uint64_t owner_tag = 0;  // and who holds it
  bool any_active = false;
};

class MvccManager {
 public:
  static constexpr uint64_t kActivating = 1;

  MvccManager(TrxSys& trx_sys, uint32_t capacity);
  MvccManager(const MvccManager&) = delete;
  MvccManager& operator=(const MvccManager&) = delete;

  ReadView* open_view(TrxId creator, uint64_t owner_tag = 0);
  void close_view(ReadView* view);
  void release_view(ReadView* view);
  bool reuse_view(ReadView* view);
  OldestView clone_oldest_view() const;
  // Scans the slots: for diagnostics and tests, not the hot path.
  uint32_t active_view_count() const;
  bool is_view_active(const ReadView* view) const {
    return view->seq_.load(std::memory_order_relaxed) != 0;
  }
  uint32_t capacity() const { return capacity_; }

  // Reclamation tags (see the header comment).
  uint64_t current_seq();
  // True if nothing retired with `tag` can still be reached by an active view.
  // A view that may reach it drew a seq <= tag from next_seq_; one that cannot, a seq > tag.
  static bool reclaimable(uint64_t tag, const OldestView& oldest) { return tag < oldest.seq; }

 private:
  void activate(ReadView* view);
  void deactivate(ReadView* view);
  uint32_t index_of(const ReadView* view) const;

  TrxSys& trx_sys_;
  const uint32_t capacity_;
  std::unique_ptr<ReadView[]> views_;
  // Free-list head: (ABA counter << 32) | (slot index + 1); 0 in the low half = empty.
  alignas(64) std::atomic<uint64_t> free_head_{0};
  alignas(64) std::atomic<uint64_t> next_seq_{2};
};

}  // namespace ringdb::mvcc
