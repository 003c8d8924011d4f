// Purge: removes versions no read view can see, and chains that hold nothing any view sees.
//
// The history list holds, for every ended read-write transaction, the chains it wrote and
// the CSN at which it ended (its commit CSN, or the visible CSN when it aborted). A purge pass
//   1. takes the retired-garbage list (before step 2: see reclamation in mvcc_manager.h),
//   2. clones the oldest view,
//   3. frees the garbage no active view can reach,
//   4. for every history entry with CSN <= the oldest snapshot, trims each chain: versions
//      older than the newest one every view sees are unlinked and retired. A chain whose
//      last history reference this was, and which now holds nothing or one tombstone every
//      view sees, is marked dead, removed from the index (DeadChainHandler) and retired.
// History length is the number of (transaction, chain) references waiting in step 4, the
// analogue of InnoDB's history list length.
//
// Thread safety: add_history() and retire_*() may be called from any thread; run_once() is
// serialised internally; start()/stop() from one controlling thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <thread>
#include <vector>

#include "mvcc/mvcc_manager.h"
#include "mvcc/trx_sys.h"
#include "mvcc/version.h"
#include "sync/event_count.h"
#include "sync/mutex.h"

namespace ringdb::mvcc {

// Implemented by the engine, which owns the index.
class DeadChainHandler {
 public:
  virtual ~DeadChainHandler() = default;
  // Removes `chain` from the index (it is dead: writers that find it look up again).
  virtual void remove_dead_chain(VersionChain* chain) = 0;
  // `bytes` of versions and chains were freed.
  virtual void on_reclaimed(size_t bytes) = 0;
};

struct PurgeStats {
  uint64_t history_entries = 0;  // transactions whose chains were trimmed
  uint64_t versions_unlinked = 0;
  uint64_t chains_removed = 0;
  uint64_t bytes_freed = 0;
};

class Purger {
 public:
  Purger(TrxSys& trx_sys, MvccManager& mvcc, DeadChainHandler& handler);
  // Stops the thread and frees everything retired. REQUIRES: no active view.
  ~Purger();
  Purger(const Purger&) = delete;
  Purger& operator=(const Purger&) = delete;

  // A transaction ended at `csn` after writing `chains` (each listed once).
  void add_history(Csn csn, std::vector<VersionChain*> chains);
  // The same for chains each reserved by reserve_history() when the transaction first wrote
  // them (the engine's way). A reference counted only here would come too late: between an
  // abort's unlink (or a commit of a tombstone everyone sees) and this call, a trim of an older
  // entry could find the chain empty, unreferenced, and remove it; this entry would then name
  // freed memory.
  void add_reserved_history(Csn csn, std::vector<VersionChain*> chains);
  // Counts the history entry a transaction that writes `chain` will add when it ends.
  // REQUIRES: chain->mutex() held, and the chain not dead.
  static void reserve_history(VersionChain* chain) {
    chain->history_refs.fetch_add(1, std::memory_order_relaxed);
  }
  // Versions unlinked by an abort: the list starting at `first`, while stamped `stamp`.
  void retire_unlinked(Version* first, uint64_t stamp);

  PurgeStats run_once();
  // A thread that runs run_once() every `interval` while history or garbage is left, sleeps
  // while there is none, and runs at once after wake() (which add_history() and retire_*()
  // call when it sleeps: at most one system call per idle period).
  void start(std::chrono::milliseconds interval);
  void stop();
  void wake();

  // The thread sleeps with nothing to do (until add_history() or retire_*() wakes it).
  bool idle() const { return asleep_.load(std::memory_order_relaxed); }
  uint64_t history_length() const { return history_length_.load(std::memory_order_relaxed); }
  // Unlinked versions and chains not freed yet (some view may still reach them).
  uint64_t garbage_count() const;
  PurgeStats totals() const;

 private:
  struct Garbage {
    uint64_t tag;
    Version* version;  // one of the two
    VersionChain* chain;
    // A version's footprint and whether it is its chain's embedded one, noted at retire time:
    // an embedded version is never touched again here, since its chain (and so its memory)
    // may be freed first.
    size_t version_bytes = 0;
    bool embedded = false;
  };

  void retire(Version* version, VersionChain* chain) EXCLUDES(garbage_mu_);
  void wake_if_idle();
  bool has_work() const EXCLUDES(history_mu_, garbage_mu_);
  uint64_t free_garbage(std::vector<Garbage> taken, const OldestView& oldest) EXCLUDES(garbage_mu_);
  void trim_chains(const std::vector<VersionChain*>& chains, Csn oldest, PurgeStats& stats);

  TrxSys& trx_sys_;
  MvccManager& mvcc_;
  DeadChainHandler& handler_;

  sync::Mutex run_mu_;  // one pass at a time
  mutable sync::Mutex history_mu_;
  // Ended transactions by CSN: their chains wait for purge.
  std::multimap<Csn, std::vector<VersionChain*>> history_ GUARDED_BY(history_mu_);
  std::atomic<uint64_t> history_length_{0};
  mutable sync::Mutex garbage_mu_;
  std::vector<Garbage> garbage_ GUARDED_BY(garbage_mu_);
  mutable sync::Mutex totals_mu_;
  PurgeStats totals_ GUARDED_BY(totals_mu_);

  std::thread thread_;
  sync::EventCount wake_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> idle_{false};    // the thread may sleep with no timeout (wake_if_idle)
  std::atomic<bool> asleep_{false};  // it does (for idle())
};

}  // namespace ringdb::mvcc
