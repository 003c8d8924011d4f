#include "mvcc/mvcc_manager.h"

#include <cassert>
#include <limits>

#include "sync/latch_stats.h"

namespace ringdb::mvcc {
namespace {
constexpr uint64_t kIndexMask = 0xffffffffu;
}  // namespace

MvccManager::MvccManager(TrxSys& trx_sys, uint32_t capacity)
    : trx_sys_(trx_sys), capacity_(capacity), views_(std::make_unique<ReadView[]>(capacity)) {
  assert(capacity > 0 && capacity < kIndexMask);
  // Chain every slot into the free list: slot i links to i + 1 (stored as index + 1).
  for (uint32_t i = 0; i < capacity; ++i)
    views_[i].next_free_.store(i + 1 < capacity ? i + 2 : 0, std::memory_order_relaxed);
  free_head_.store(1, std::memory_order_relaxed);
}

uint32_t MvccManager::index_of(const ReadView* view) const {
  const auto index = static_cast<uint32_t>(view - views_.get());
  assert(index < capacity_);
  return index;
}

ReadView* MvccManager::open_view(TrxId creator, uint64_t owner_tag) {
  // Pop from the Treiber stack; the counter in the high half defeats ABA.
  uint64_t head = free_head_.load(std::memory_order_acquire);
  ReadView* view;
  for (;;) {
    const uint64_t link = head & kIndexMask;
    if (link == 0) return nullptr;  // all `capacity` views are in use
    view = &views_[link - 1];
    const uint64_t next = view->next_free_.load(std::memory_order_relaxed);
    const uint64_t popped = ((head >> 32) + 1) << 32 | next;
    if (free_head_.compare_exchange_weak(head, popped, std::memory_order_acquire,
                                         std::memory_order_acquire))
      break;
  }
  assert(!view->in_use_);
  view->in_use_ = true;
  view->creator_ = creator;
  view->owner_tag_.store(owner_tag, std::memory_order_relaxed);
  activate(view);
  return view;
}

void MvccManager::activate(ReadView* view) {
  assert(view->seq_.load(std::memory_order_relaxed) == 0);
  view->seq_.store(kActivating, std::memory_order_seq_cst);
  // A load, not an RMW: views opened on many cores do not pass the counter's line around.
  // If it reads from the RMW in current_seq() that tagged some unlinked memory, it
  // synchronises with it, so this view cannot reach that memory (the header's argument).
  const uint64_t seq = next_seq_.load(std::memory_order_seq_cst);
  // Published by the seq_cst store of seq_ below.
  view->snapshot_.store(trx_sys_.visible_csn(), std::memory_order_release);
  view->opened_ns_.store(sync::coarse_now_ns(), std::memory_order_relaxed);
  view->seq_.store(seq, std::memory_order_seq_cst);
}

void MvccManager::deactivate(ReadView* view) {
  assert(view->seq_.load(std::memory_order_relaxed) >= 2);
  // Release: everything the owner read through the view happens-before purge sees it gone
  // (purge reads seq_ with seq_cst, which includes acquire).
  view->seq_.store(0, std::memory_order_release);
}

uint32_t MvccManager::active_view_count() const {
  uint32_t active = 0;
  for (uint32_t i = 0; i < capacity_; ++i)
    if (views_[i].seq_.load(std::memory_order_relaxed) != 0) ++active;
  return active;
}

void MvccManager::close_view(ReadView* view) {
  if (is_view_active(view)) deactivate(view);
  assert(view->in_use_);
  view->in_use_ = false;
  view->creator_ = kNoTrx;
  const uint64_t link = index_of(view) + 1;
  uint64_t head = free_head_.load(std::memory_order_relaxed);
  for (;;) {
    view->next_free_.store(static_cast<uint32_t>(head & kIndexMask), std::memory_order_relaxed);
    const uint64_t pushed = ((head >> 32) + 1) << 32 | link;
    if (free_head_.compare_exchange_weak(head, pushed, std::memory_order_release,
                                         std::memory_order_relaxed))
      return;
  }
}

void MvccManager::release_view(ReadView* view) {
  deactivate(view);
}

bool MvccManager::reuse_view(ReadView* view) {
  const Csn before = view->snapshot();
  activate(view);
  return view->snapshot() == before;
}

OldestView MvccManager::clone_oldest_view() const {
  OldestView oldest;
  // Bounds first, slots after (see the activation protocol in the header).
  oldest.snapshot = trx_sys_.visible_csn();
  oldest.seq = std::numeric_limits<uint64_t>::max();  // nothing active: all retired is free
  int64_t oldest_opened = std::numeric_limits<int64_t>::max();
  for (uint32_t i = 0; i < capacity_; ++i) {
    const ReadView& view = views_[i];
    const uint64_t seq = view.seq_.load(std::memory_order_seq_cst);
    if (seq == 0) continue;
    oldest.any_active = true;
    if (seq == kActivating) {
      // Being opened right now: its snapshot is unknown, so hold everything back this pass.
      oldest.snapshot = kNoCsn;
      oldest.seq = 0;
      continue;
    }
    const Csn snapshot = view.snapshot_.load(std::memory_order_acquire);
    if (snapshot < oldest.snapshot) oldest.snapshot = snapshot;
    if (seq < oldest.seq) oldest.seq = seq;
    const int64_t opened = view.opened_ns_.load(std::memory_order_relaxed);
    if (opened < oldest_opened) {
      oldest_opened = opened;
      oldest.opened_ns = opened;
      oldest.owner_tag = view.owner_tag_.load(std::memory_order_relaxed);
    }
  }
  return oldest;
}

uint64_t MvccManager::current_seq() {
  // An RMW: activations that read its result synchronise with it; the value before it is the
  // tag (views that read that value or an older one may reach what it tags).
  return next_seq_.fetch_add(1, std::memory_order_seq_cst);
}

}  // namespace ringdb::mvcc
