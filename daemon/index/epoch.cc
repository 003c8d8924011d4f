// Epoch-based reclamation: the process-wide counter, the threads' announcement slots, and the
// retire lists. The protocol is in epoch.h.
#include "daemon/index/epoch.h"

#include <algorithm>
#include <atomic>
#include <limits>

#include "sync/fence.h"

namespace ringdb::daemon::epoch {
namespace {

constexpr uint64_t kIdle = std::numeric_limits<uint64_t>::max();

struct alignas(64) Slot {
  std::atomic<uint64_t> announced{kIdle};
  std::atomic<bool> owned{false};
};

std::atomic<uint64_t> g_epoch{1};
Slot g_slots[kThreadSlotsMax];
// Slots [0, g_slots_used) have been handed out at least once: reclaim scans only those.
std::atomic<size_t> g_slots_used{0};
// Pins held by threads that found no free slot.
std::atomic<uint64_t> g_overflow_pins{0};

// The calling thread's slot (taken at its first pin, given back when it exits) and nesting.
struct ThreadState {
  Slot* slot = nullptr;
  bool tried = false;  // looked for a slot already (none was free: use the overflow count)
  uint32_t depth = 0;

  ~ThreadState() {
    if (slot != nullptr) slot->owned.store(false, std::memory_order_release);
  }

  void take_slot() {
    tried = true;
    for (size_t i = 0; i < kThreadSlotsMax; ++i) {
      bool expected = false;
      if (g_slots[i].owned.load(std::memory_order_relaxed) ||
          !g_slots[i].owned.compare_exchange_strong(expected, true, std::memory_order_acquire))
        continue;
      size_t used = g_slots_used.load(std::memory_order_relaxed);
      while (used < i + 1 &&
             !g_slots_used.compare_exchange_weak(used, i + 1, std::memory_order_relaxed)) {
      }
      slot = &g_slots[i];
      return;
    }
  }
};

thread_local ThreadState t_state;

}  // namespace

Pin::Pin() {
  ThreadState& t = t_state;
  if (t.depth++ != 0) return;
  if (t.slot == nullptr && !t.tried) t.take_slot();
  if (t.slot == nullptr) {
    g_overflow_pins.fetch_add(1, std::memory_order_seq_cst);
    return;
  }
  t.slot->announced.store(g_epoch.load(std::memory_order_seq_cst), std::memory_order_relaxed);
  sync::full_fence();
}

Pin::~Pin() {
  ThreadState& t = t_state;
  if (--t.depth != 0) return;
  if (t.slot == nullptr) {
    g_overflow_pins.fetch_sub(1, std::memory_order_release);
    return;
  }
  t.slot->announced.store(kIdle, std::memory_order_release);
}

uint64_t oldest_pinned() {
  sync::full_fence();
  if (g_overflow_pins.load(std::memory_order_acquire) != 0) return 0;
  uint64_t oldest = kIdle;
  const size_t used = g_slots_used.load(std::memory_order_acquire);
  for (size_t i = 0; i < used; ++i)
    oldest = std::min(oldest, g_slots[i].announced.load(std::memory_order_acquire));
  return oldest;
}

RetireList::~RetireList() {
  sync::MutexGuard guard(mu_);
  for (const Retired& r : retired_)
    r.deleter(r.block);
}

void RetireList::retire(void* block, Deleter deleter) {
  const uint64_t tag = g_epoch.fetch_add(1, std::memory_order_seq_cst);
  bool reclaim_now = false;
  {
    sync::MutexGuard guard(mu_);
    // Tags are drawn outside the mutex: keep the list sorted by inserting from the back.
    auto it = retired_.end();
    while (it != retired_.begin() && std::prev(it)->tag > tag)
      --it;
    retired_.insert(it, Retired{tag, block, deleter});
    reclaim_now = ++since_reclaim_ >= kReclaimBatch;
  }
  if (reclaim_now) reclaim();
}

void RetireList::reclaim() {
  std::vector<Retired> free_now;
  {
    sync::MutexGuard guard(mu_);
    since_reclaim_ = 0;
    const uint64_t oldest = oldest_pinned();
    size_t n = 0;
    while (n < retired_.size() && retired_[n].tag < oldest)
      ++n;
    free_now.assign(retired_.begin(), retired_.begin() + static_cast<std::ptrdiff_t>(n));
    retired_.erase(retired_.begin(), retired_.begin() + static_cast<std::ptrdiff_t>(n));
  }
  for (const Retired& r : free_now)
    r.deleter(r.block);
}

size_t RetireList::pending() const {
  sync::MutexGuard guard(mu_);
  return retired_.size();
}

}  // namespace ringdb::daemon::epoch
