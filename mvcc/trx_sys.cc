#include "mvcc/trx_sys.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace ringdb::mvcc {

TrxId TrxSys::begin_rw() {
  // seq_cst with cut()'s loads: a cut that reads next_id_ after our fetch_add reads
  // beginning_ after our increment, and waits until our entry is in.
  beginning_.fetch_add(1, std::memory_order_seq_cst);
  const TrxId id = next_id_.fetch_add(1, std::memory_order_seq_cst);
  assert(id < kStampUncommitted);
  Shard& shard = shard_of(id);
  {
    sync::MutexGuard guard(shard.mu);
    shard.map.emplace(id, Entry{State::kActive, kNoCsn, false});
  }
  beginning_.fetch_sub(1, std::memory_order_release);
  active_rw_.fetch_add(1, std::memory_order_relaxed);
  started_.fetch_add(1, std::memory_order_relaxed);
  return id;
}

void TrxSys::set_state(TrxId id, State state, Csn csn) {
  Shard& shard = shard_of(id);
  sync::MutexGuard guard(shard.mu);
  auto it = shard.map.find(id);
  assert(it != shard.map.end() && it->second.state == State::kActive);
  it->second = Entry{state, csn, false};
}

Csn TrxSys::commit(TrxId id) {
  Csn csn;
  {
    sync::MutexGuard guard(commit_mu_);
    csn = ++last_csn_;
    if (csn > csn_max_) {
      std::fprintf(stderr,
                   "ringdb: this run's commit sequence numbers are used up (%llu); "
                   "a restart numbers past them\n",
                   static_cast<unsigned long long>(csn_max_));
      std::abort();
    }
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

void TrxSys::cut(Cut* out, const std::function<void()>& at_cut) {
  out->active.clear();
  sync::MutexGuard guard(commit_mu_);
  out->next_id = next_id_.load(std::memory_order_seq_cst);
  // An id below next_id whose begin_rw() has not entered it yet would be missed: wait for
  // those (a few instructions each; begins do not need commit_mu_, so they finish).
  while (beginning_.load(std::memory_order_acquire) != 0)
    std::this_thread::yield();
  at_cut();
  for (Shard& shard : shards_) {
    sync::MutexGuard shard_guard(shard.mu);
    for (const auto& [id, entry] : shard.map) {
      if (id < out->next_id && entry.state == State::kActive) out->active.push_back(id);
    }
  }
  std::sort(out->active.begin(), out->active.end());
}

sync::LatchStats* TrxSys::commit_latch_stats() {
  static sync::LatchStats stats("trx.commit");
  return &stats;
}

void TrxSys::advance_next_id(TrxId id) {
  TrxId cur = next_id_.load(std::memory_order_relaxed);
  while (cur < id && !next_id_.compare_exchange_weak(cur, id, std::memory_order_relaxed)) {
  }
}

void TrxSys::start_csns(Csn after, Csn last) {
  sync::MutexGuard guard(commit_mu_);
  assert(last_csn_ == kNoCsn && after < last && last < kStampUncommitted);
  last_csn_ = after;
  csn_max_ = last;
  visible_csn_.store(after, std::memory_order_seq_cst);
}

TrxSys::Lookup TrxSys::lookup(TrxId id) const {
  const Shard& shard = shard_of(id);
  sync::MutexGuard guard(shard.mu);
  auto it = shard.map.find(id);
  if (it == shard.map.end()) return Lookup{};
  return Lookup{it->second.state, it->second.csn, it->second.logged};
}

void TrxSys::mark_logged(TrxId id) {
  Shard& shard = shard_of(id);
  sync::MutexGuard guard(shard.mu);
  auto it = shard.map.find(id);
  assert(it != shard.map.end() && it->second.state == State::kActive);
  it->second.logged = true;
}

}  // namespace ringdb::mvcc
