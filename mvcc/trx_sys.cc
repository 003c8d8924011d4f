#include "mvcc/trx_sys.h"

#include <cassert>

namespace ringdb::mvcc {

TrxId TrxSys::begin_rw() {
  const TrxId id = next_id_.fetch_add(1, std::memory_order_relaxed);
  assert(id < kStampUncommitted);
  Shard& shard = shard_of(id);
  {
    sync::MutexGuard guard(shard.mu);
    shard.map.emplace(id, Entry{State::kActive, kNoCsn});
  }
  active_rw_.fetch_add(1, std::memory_order_relaxed);
  started_.fetch_add(1, std::memory_order_relaxed);
  return id;
}

void TrxSys::set_state(TrxId id, State state, Csn csn) {
  Shard& shard = shard_of(id);
  sync::MutexGuard guard(shard.mu);
  auto it = shard.map.find(id);
  assert(it != shard.map.end() && it->second.state == State::kActive);
  it->second = Entry{state, csn};
}

Csn TrxSys::commit(TrxId id) {
  Csn csn;
  {
    sync::MutexGuard guard(commit_mu_);
    csn = ++last_csn_;
    assert(csn < kStampUncommitted);
    set_state(id, State::kCommitted, csn);
    // After the dictionary entry: a snapshot that includes `csn` must find it committed.
    visible_csn_.store(csn, std::memory_order_seq_cst);
  }
  active_rw_.fetch_sub(1, std::memory_order_relaxed);
  committed_.fetch_add(1, std::memory_order_relaxed);
  return csn;
}

void TrxSys::abort(TrxId id) {
  set_state(id, State::kAborted, kNoCsn);
  active_rw_.fetch_sub(1, std::memory_order_relaxed);
  aborted_.fetch_add(1, std::memory_order_relaxed);
}

void TrxSys::forget(TrxId id) {
  Shard& shard = shard_of(id);
  sync::MutexGuard guard(shard.mu);
  [[maybe_unused]] const size_t erased = shard.map.erase(id);
  assert(erased == 1);
}

TrxSys::Lookup TrxSys::lookup(TrxId id) const {
  const Shard& shard = shard_of(id);
  sync::MutexGuard guard(shard.mu);
  auto it = shard.map.find(id);
  if (it == shard.map.end()) return Lookup{};
  return Lookup{it->second.state, it->second.csn};
}

}  // namespace ringdb::mvcc
