// TrxSys: the transaction system. Hands out transaction ids and commit sequence numbers
// (CSNs), and answers "what became of transaction T?" for readers that meet one of T's
// versions.
//
// Visibility rule (docs/ARCHITECTURE.md, "MVCC"): a snapshot is one number, the CSN of the
// last commit it sees. A committed version is visible to snapshot S iff its CSN <= S. Opening
// a snapshot reads one atomic (visible_csn()): O(1), whatever the number of active
// transactions (InnoDB copies the active-transaction list instead: O(N) under a global mutex).
//
// Commits are made visible all at once: under commit_mu_, the transaction's CSN is recorded
// in the dictionary, then visible_csn_ is advanced to it (release). A reader that opened its
// snapshot at S >= CSN has therefore read visible_csn_ after the dictionary entry was written,
// and sees the transaction as committed in every lookup. The versions themselves are stamped
// with the CSN afterwards (lazily, by the committer); until then readers resolve them here.
//
// The dictionary from id to state is sharded by id (kShards shards, each a Mutex and a hash
// map): lookups take one shard latch, never walk a list.
//
// Thread safety: all member functions may be called concurrently.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "mvcc/types.h"
#include "sync/latch_stats.h"
#include "sync/mutex.h"
#include "sync/thread_annotations.h"

namespace ringdb::mvcc {

class TrxSys {
 public:
  static constexpr size_t kShards = 64;

  enum class State : uint8_t {
    kActive,
    kCommitted,
    kAborted,
    kUnknown,  // not in the dictionary: it ended and its versions are stamped or unlinked
  };
  struct Lookup {
    State state = State::kUnknown;
    Csn csn = kNoCsn;     // for kCommitted
    bool logged = false;  // kActive: its redo is in the log; it ends when the log answers
  };

  TrxSys() = default;
  TrxSys(const TrxSys&) = delete;
  TrxSys& operator=(const TrxSys&) = delete;

  // Registers a new read-write transaction and returns its id.
  TrxId begin_rw();
  // Commits `id`: assigns the next CSN, records it, and makes it visible to new snapshots.
  // REQUIRES: `id` is active.
  Csn commit(TrxId id) EXCLUDES(commit_mu_);
  // Marks `id` aborted. REQUIRES: its versions were unlinked from their chains first.
  void abort(TrxId id);
  // Notes that active transaction `id` waits only for the log (its redo is appended): it will
  // commit or abort within a log write, so a writer it turns away may wait for it.
  void mark_logged(TrxId id);
  // Drops `id` from the dictionary once no chain holds an unstamped version of it.
  void forget(TrxId id);

  Lookup lookup(TrxId id) const;

  // A checkpoint's cut (daemon/durability/checkpoint.h): which transactions a snapshot taken at one
  // instant contains, in terms the log's records carry (transaction ids). At the cut, with no
  // commit in progress (under commit_mu_), `at_cut` runs (it opens the snapshot's view) and
  // the transactions that began but had not committed are listed. A transaction is in the
  // snapshot iff its id < next_id and it is not in `active` (aborted ones are "in" it too:
  // they have no effect either way).
  struct Cut {
    TrxId next_id = 0;          // every id >= it began after the cut
    std::vector<TrxId> active;  // ids < next_id not committed at the cut, ascending
  };
  // O(transactions in the dictionary); blocks commits (not begins, reads or writes) meanwhile.
  void cut(Cut* out, const std::function<void()>& at_cut) EXCLUDES(commit_mu_);

  // Recovery: the next id handed out will be at least `id` (ids stay unique across restarts,
  // so a checkpoint's cut still means the same after one). REQUIRES: no transaction active.
  void advance_next_id(TrxId id);
  // The next commit gets `after` + 1; a commit that would get more than `last` ends the
  // process instead (a message, then abort: the daemon's next run numbers past it).
  // REQUIRES: no commit yet; after < last < kStampUncommitted.
  void start_csns(Csn after, Csn last) EXCLUDES(commit_mu_);
  TrxId next_id() const { return next_id_.load(std::memory_order_relaxed); }

  // The CSN of the newest commit a new snapshot sees.
  Csn visible_csn() const { return visible_csn_.load(std::memory_order_seq_cst); }

  uint64_t active_rw_count() const { return active_rw_.load(std::memory_order_relaxed); }
  uint64_t started_count() const { return started_.load(std::memory_order_relaxed); }
  uint64_t committed_count() const { return committed_.load(std::memory_order_relaxed); }
  uint64_t aborted_count() const { return aborted_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    State state;
    Csn csn;
    bool logged = false;
  };
  struct alignas(64) Shard {
    mutable sync::Mutex mu;
    std::unordered_map<TrxId, Entry> map GUARDED_BY(mu);
  };

  Shard& shard_of(TrxId id) { return shards_[id % kShards]; }
  const Shard& shard_of(TrxId id) const { return shards_[id % kShards]; }
  void set_state(TrxId id, State state, Csn csn);

  std::array<Shard, kShards> shards_;
  std::atomic<TrxId> next_id_{1};
  // begin_rw()s between taking an id and entering it in the dictionary: cut() waits for none,
  // so that every id below its next_id is found.
  std::atomic<uint32_t> beginning_{0};
  sync::Mutex commit_mu_{commit_latch_stats()};
  static sync::LatchStats* commit_latch_stats();  // "trx.commit" (ringdb-admin latches)
  Csn last_csn_ GUARDED_BY(commit_mu_) = kNoCsn;
  Csn csn_max_ GUARDED_BY(commit_mu_) = kStampUncommitted - 1;
  std::atomic<Csn> visible_csn_{kNoCsn};
  std::atomic<uint64_t> active_rw_{0};
  std::atomic<uint64_t> started_{0};
  std::atomic<uint64_t> committed_{0};
  std::atomic<uint64_t> aborted_{0};
};

}  // namespace ringdb::mvcc
