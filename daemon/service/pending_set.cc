#include "daemon/service/pending_set.h"

#include <algorithm>
#include <utility>

#include "sync/fence.h"

namespace ringdb::daemon {

PendingSet::PendingSet(uint32_t capacity, const std::atomic<uint32_t>* sleeping,
                       std::function<void()> ring, sync::LatchStats* stats)
    : capacity_(capacity), sleeping_(sleeping), ring_(std::move(ring)), mu_(stats) {
  sync::MutexGuard guard(mu_);
  entries_.reserve(capacity_);
}

bool PendingSet::post(std::span<const wal::Completion> completions) {
  {
    sync::MutexGuard guard(mu_);
    if (entries_.size() + completions.size() > capacity_) return false;
    entries_.insert(entries_.end(), completions.begin(), completions.end());
    size_.store(static_cast<uint32_t>(entries_.size()), std::memory_order_relaxed);
  }
  // Our half of the Dekker pair: the append (size_) before the read of the worker's flag.
  sync::full_fence();
  if (sleeping_ != nullptr && sleeping_->load(std::memory_order_relaxed) != 0) ring_();
  return true;
}

void PendingSet::drain(std::vector<wal::Completion>* out) {
  out->clear();
  if (out->capacity() < capacity_) out->reserve(capacity_);  // once: then the swap keeps it
  sync::MutexGuard guard(mu_);
  entries_.swap(*out);
  size_.store(0, std::memory_order_relaxed);
  for (const wal::Completion& c : *out)
    drained_lsn_ = std::min(drained_lsn_, c.lsn);
}

void PendingSet::applied() {
  sync::MutexGuard guard(mu_);
  drained_lsn_ = wal::Completion::kNoLsn;
}

uint64_t PendingSet::oldest_unapplied_lsn() const {
  sync::MutexGuard guard(mu_);
  uint64_t lsn = drained_lsn_;
  for (const wal::Completion& c : entries_)
    lsn = std::min(lsn, c.lsn);
  return lsn;
}

}  // namespace ringdb::daemon
