#include "mvcc/purge.h"

#include <cassert>

#include "sync/thread_name.h"

namespace ringdb::mvcc {

Purger::Purger(TrxSys& trx_sys, MvccManager& mvcc, DeadChainHandler& handler)
    : trx_sys_(trx_sys), mvcc_(mvcc), handler_(handler) {}

Purger::~Purger() {
  stop();
  sync::MutexGuard guard(garbage_mu_);
  for (const Garbage& g : garbage_) {
    if (g.version != nullptr && !g.embedded) Version::destroy(g.version);
    if (g.chain != nullptr) VersionChain::destroy(g.chain);
  }
}

void Purger::add_history(Csn csn, std::vector<VersionChain*> chains) {
  for (VersionChain* chain : chains)
    chain->history_refs.fetch_add(1, std::memory_order_relaxed);
  add_reserved_history(csn, std::move(chains));
}

void Purger::add_reserved_history(Csn csn, std::vector<VersionChain*> chains) {
  if (chains.empty()) return;
  history_length_.fetch_add(chains.size(), std::memory_order_relaxed);
  {
    sync::MutexGuard guard(history_mu_);
    history_.emplace(csn, std::move(chains));
  }
  wake_if_idle();
}

// The purge thread stores idle_ before it looks at the lists under their mutexes; we read it
// after adding to a list under the same mutex. Whichever critical section comes second sees
// the other side's write: the thread sees the new work, or we see idle_ and wake it.
void Purger::wake_if_idle() {
  if (idle_.load(std::memory_order_relaxed)) wake();
}

void Purger::retire(Version* version, VersionChain* chain) {
  // The tag is read after the caller unlinked the memory (mvcc_manager.h, reclamation).
  const uint64_t tag = mvcc_.current_seq();
  {
    sync::MutexGuard guard(garbage_mu_);
    Garbage g{tag, version, chain};
    if (version != nullptr) {
      g.version_bytes = version->footprint_bytes();
      g.embedded = version->embedded();
    }
    garbage_.push_back(g);
  }
  wake_if_idle();
}

void Purger::retire_unlinked(Version* first, uint64_t stamp) {
  for (Version* v = first; v != nullptr && v->stamp() == stamp;) {
    Version* older = v->older();
    retire(v, nullptr);
    v = older;
  }
}

bool Purger::has_work() const {
  {
    sync::MutexGuard guard(history_mu_);
    if (!history_.empty()) return true;
  }
  sync::MutexGuard guard(garbage_mu_);
  return !garbage_.empty();
}

uint64_t Purger::garbage_count() const {
  sync::MutexGuard guard(garbage_mu_);
  return garbage_.size();
}

PurgeStats Purger::totals() const {
  sync::MutexGuard guard(totals_mu_);
  return totals_;
}

uint64_t Purger::free_garbage(std::vector<Garbage> taken, const OldestView& oldest) {
  uint64_t bytes = 0;
  std::vector<Garbage> keep;
  for (const Garbage& g : taken) {
    if (!MvccManager::reclaimable(g.tag, oldest)) {
      keep.push_back(g);
      continue;
    }
    if (g.version != nullptr) {
      bytes += g.version_bytes;
      if (!g.embedded) Version::destroy(g.version);
    } else {
      bytes += g.chain->footprint_bytes();
      for (const Version* v = g.chain->head(); v != nullptr; v = v->older())
        bytes += v->footprint_bytes();
      VersionChain::destroy(g.chain);
    }
  }
  if (!keep.empty()) {
    sync::MutexGuard guard(garbage_mu_);
    garbage_.insert(garbage_.end(), keep.begin(), keep.end());
  }
  if (bytes != 0) handler_.on_reclaimed(bytes);
  return bytes;
}

PurgeStats Purger::run_once() {
  sync::MutexGuard run(run_mu_);
  PurgeStats stats;
  // Take the garbage before cloning the oldest view (mvcc_manager.h, reclamation).
  std::vector<Garbage> taken;
  {
    sync::MutexGuard guard(garbage_mu_);
    taken.swap(garbage_);
  }
  const OldestView oldest = mvcc_.clone_oldest_view();
  stats.bytes_freed = free_garbage(std::move(taken), oldest);

  // Trim the chains of every transaction that ended at or before the oldest snapshot.
  for (;;) {
    std::vector<VersionChain*> chains;
    {
      sync::MutexGuard guard(history_mu_);
      auto first = history_.begin();
      if (first == history_.end() || first->first > oldest.snapshot) break;
      chains = std::move(first->second);
      history_.erase(first);
    }
    trim_chains(chains, oldest.snapshot, stats);
    ++stats.history_entries;
  }

  sync::MutexGuard guard(totals_mu_);
  totals_.history_entries += stats.history_entries;
  totals_.versions_unlinked += stats.versions_unlinked;
  totals_.chains_removed += stats.chains_removed;
  totals_.bytes_freed += stats.bytes_freed;
  return stats;
}

void Purger::trim_chains(const std::vector<VersionChain*>& chains, Csn oldest, PurgeStats& stats) {
  for (VersionChain* chain : chains) {
    Version* garbage;
    bool dead = false;
    {
      sync::MutexGuard guard(chain->mutex());
      const bool last_ref = chain->history_refs.fetch_sub(1, std::memory_order_relaxed) == 1;
      garbage = chain->trim(oldest, trx_sys_, last_ref, &dead);
    }
    history_length_.fetch_sub(1, std::memory_order_relaxed);
    for (Version* v = garbage; v != nullptr;) {
      Version* older = v->older();
      retire(v, nullptr);
      ++stats.versions_unlinked;
      v = older;
    }
    if (dead) {
      handler_.remove_dead_chain(chain);
      retire(nullptr, chain);
      ++stats.chains_removed;
    }
  }
}

void Purger::start(std::chrono::milliseconds interval) {
  assert(!thread_.joinable());
  stopping_.store(false, std::memory_order_relaxed);
  thread_ = std::thread([this, interval] {
    sync::name_this_thread("ringdb-purge");
    while (!stopping_.load(std::memory_order_acquire)) {
      // Taken before the pass, so that a wake() during it makes the wait below return at once.
      const sync::EventCount::Key key = wake_.prepare_wait();
      run_once();
      // Work left (history a view still needs, garbage a view may reach): look again after
      // `interval`. None: sleep until add_history() or retire() brings some, so that an idle
      // engine, or one serving only reads, costs no wake-ups at all.
      idle_.store(true, std::memory_order_relaxed);
      if (has_work()) {
        idle_.store(false, std::memory_order_relaxed);
        wake_.wait(key, interval);
      } else {
        asleep_.store(true, std::memory_order_relaxed);
        wake_.wait(key);
        asleep_.store(false, std::memory_order_relaxed);
        idle_.store(false, std::memory_order_relaxed);
      }
    }
  });
}

void Purger::wake() {
  wake_.notify_one();
}

void Purger::stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true, std::memory_order_release);
  wake();
  thread_.join();
}

}  // namespace ringdb::mvcc
