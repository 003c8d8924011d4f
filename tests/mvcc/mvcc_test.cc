// MVCC unit tests: transaction ids and CSNs, the view life cycle (free list, capacity,
// AC-NL-RO reuse, oldest view), the visibility rule case by case (own writes, uncommitted,
// committed before/after the snapshot, aborted, tombstones), first-updater-wins checks, and
// purge (what it may and may not remove, dead chains, memory given back).
#include <doctest/doctest.h>

#include <memory>

#include <string>
#include <vector>

#include "mvcc/mvcc_manager.h"
#include "mvcc/purge.h"
#include "mvcc/trx_sys.h"
#include "mvcc/version.h"

namespace ringdb::mvcc {
namespace {

// A chain owned by the test (the index owns them in the engine).
struct ChainDeleter {
  void operator()(VersionChain* chain) const { VersionChain::destroy(chain); }
};
using ChainPtr = std::unique_ptr<VersionChain, ChainDeleter>;
ChainPtr make_chain(std::string_view key) {
  return ChainPtr(VersionChain::create(key));
}

// A minimal harness: the pieces wired together as the engine wires them.
struct Fixture : DeadChainHandler {
  TrxSys trx_sys;
  MvccManager mvcc{trx_sys, 64};
  Purger purger{trx_sys, mvcc, *this};
  std::vector<VersionChain*> removed;
  size_t reclaimed_bytes = 0;

  void remove_dead_chain(VersionChain* chain) override { removed.push_back(chain); }
  void on_reclaimed(size_t bytes) override { reclaimed_bytes += bytes; }

  // Writes `value` to `chain` as transaction `id` with snapshot `snapshot`.
  WriteCheck write(VersionChain& chain, TrxId id, Csn snapshot, std::string_view value,
                   bool tombstone = false) {
    sync::MutexGuard guard(chain.mutex());
    const WriteCheck check = chain.check_write(id, snapshot, trx_sys);
    if (check == WriteCheck::kOk)
      chain.push(Version::create(uncommitted_stamp(id), value, tombstone));
    return check;
  }
  // Commits `id`, stamps its versions on `chains`, forgets it, and records history.
  Csn commit(TrxId id, std::vector<VersionChain*> chains) {
    const Csn csn = trx_sys.commit(id);
    for (VersionChain* chain : chains) {
      for (Version* v = chain->head(); v != nullptr && v->stamp() == uncommitted_stamp(id);
           v = v->older())
        v->stamp_committed(csn);
    }
    trx_sys.forget(id);
    purger.add_history(csn, std::move(chains));
    return csn;
  }
  // Puts `value` in its own committed transaction.
  Csn put_committed(VersionChain& chain, std::string_view value, bool tombstone = false) {
    const TrxId id = trx_sys.begin_rw();
    REQUIRE(write(chain, id, trx_sys.visible_csn(), value, tombstone) == WriteCheck::kOk);
    return commit(id, {&chain});
  }
  std::string read(const VersionChain& chain, const ReadView& view) {
    const Version* v = chain.find_visible(view, trx_sys);
    if (v == nullptr) return "<none>";
    if (v->tombstone()) return "<deleted>";
    return std::string(v->value());
  }
};

size_t chain_length(const VersionChain& chain) {
  size_t n = 0;
  for (const Version* v = chain.head(); v != nullptr; v = v->older())
    ++n;
  return n;
}

TEST_CASE("TrxSys: ids increase, only read-write transactions take one") {
  TrxSys sys;
  const TrxId a = sys.begin_rw();
  const TrxId b = sys.begin_rw();
  CHECK(a != kNoTrx);
  CHECK(b > a);
  CHECK(sys.active_rw_count() == 2);
  CHECK(sys.lookup(a).state == TrxSys::State::kActive);
}

TEST_CASE("TrxSys: commits get increasing CSNs and advance the visible CSN") {
  TrxSys sys;
  CHECK(sys.visible_csn() == kNoCsn);
  const TrxId a = sys.begin_rw();
  const TrxId b = sys.begin_rw();
  const Csn cb = sys.commit(b);
  const Csn ca = sys.commit(a);
  CHECK(ca == cb + 1);  // commit order, not id order
  CHECK(sys.visible_csn() == ca);
  CHECK(sys.lookup(a).state == TrxSys::State::kCommitted);
  CHECK(sys.lookup(a).csn == ca);
  sys.forget(a);
  CHECK(sys.lookup(a).state == TrxSys::State::kUnknown);
  CHECK(sys.active_rw_count() == 0);
}

TEST_CASE("TrxSys: abort marks the transaction aborted") {
  TrxSys sys;
  const TrxId a = sys.begin_rw();
  sys.abort(a);
  CHECK(sys.lookup(a).state == TrxSys::State::kAborted);
  CHECK(sys.aborted_count() == 1);
  CHECK(sys.visible_csn() == kNoCsn);
}

TEST_CASE("MvccManager: a view snapshots the visible CSN; the free list recycles slots") {
  TrxSys sys;
  MvccManager mvcc(sys, 2);
  ReadView* v1 = mvcc.open_view(kNoTrx, 7);
  REQUIRE(v1 != nullptr);
  CHECK(v1->snapshot() == kNoCsn);
  CHECK(v1->owner_tag() == 7);
  CHECK(mvcc.is_view_active(v1));
  sys.commit(sys.begin_rw());
  ReadView* v2 = mvcc.open_view(kNoTrx);
  REQUIRE(v2 != nullptr);
  CHECK(v2->snapshot() == 1);
  CHECK(mvcc.active_view_count() == 2);
  CHECK(mvcc.open_view(kNoTrx) == nullptr);  // capacity reached: a clear failure
  mvcc.close_view(v1);
  CHECK(mvcc.active_view_count() == 1);
  ReadView* v3 = mvcc.open_view(kNoTrx);
  CHECK(v3 == v1);  // the slot came back from the free list
  mvcc.close_view(v2);
  mvcc.close_view(v3);
  CHECK(mvcc.active_view_count() == 0);
}

TEST_CASE("MvccManager: AC-NL-RO reuse keeps the snapshot only while nothing committed") {
  TrxSys sys;
  MvccManager mvcc(sys, 4);
  ReadView* view = mvcc.open_view(kNoTrx);
  mvcc.release_view(view);
  CHECK_FALSE(mvcc.is_view_active(view));
  CHECK(mvcc.reuse_view(view));  // no commit since: reused as is
  CHECK(view->snapshot() == kNoCsn);
  mvcc.release_view(view);
  sys.begin_rw();  // a read-write transaction starting does not stale a CSN snapshot
  CHECK(mvcc.reuse_view(view));
  mvcc.release_view(view);
  const TrxId t = sys.begin_rw();
  sys.commit(t);
  CHECK_FALSE(mvcc.reuse_view(view));  // a commit happened: new snapshot
  CHECK(view->snapshot() == sys.visible_csn());
  mvcc.close_view(view);
}

TEST_CASE("MvccManager: clone_oldest_view finds the oldest active view and skips released ones") {
  TrxSys sys;
  MvccManager mvcc(sys, 8);
  sys.commit(sys.begin_rw());
  ReadView* old_view = mvcc.open_view(kNoTrx, 1);
  sys.commit(sys.begin_rw());
  sys.commit(sys.begin_rw());
  ReadView* new_view = mvcc.open_view(kNoTrx, 2);
  OldestView oldest = mvcc.clone_oldest_view();
  CHECK(oldest.any_active);
  CHECK(oldest.snapshot == 1);
  CHECK(oldest.owner_tag == 1);
  mvcc.release_view(old_view);  // released (stale) views do not hold purge back
  oldest = mvcc.clone_oldest_view();
  CHECK(oldest.snapshot == 3);
  mvcc.close_view(new_view);
  oldest = mvcc.clone_oldest_view();
  CHECK_FALSE(oldest.any_active);
  CHECK(oldest.snapshot == sys.visible_csn());
  mvcc.close_view(old_view);
}

TEST_CASE("Visibility: a transaction sees its own uncommitted write; others do not") {
  Fixture f;
  const ChainPtr owned = make_chain("k");
  VersionChain& chain = *owned;
  const TrxId writer = f.trx_sys.begin_rw();
  ReadView* mine = f.mvcc.open_view(writer);
  ReadView* other = f.mvcc.open_view(kNoTrx);
  REQUIRE(f.write(chain, writer, mine->snapshot(), "v1") == WriteCheck::kOk);
  CHECK(f.read(chain, *mine) == "v1");
  CHECK(f.read(chain, *other) == "<none>");
  f.commit(writer, {&chain});
  CHECK(f.read(chain, *other) == "<none>");  // committed after its snapshot
  f.mvcc.close_view(mine);
  f.mvcc.close_view(other);
}

TEST_CASE("Visibility: a commit is visible to snapshots taken after it, not before") {
  Fixture f;
  const ChainPtr owned = make_chain("k");
  VersionChain& chain = *owned;
  f.put_committed(chain, "v1");
  ReadView* before = f.mvcc.open_view(kNoTrx);
  f.put_committed(chain, "v2");
  ReadView* after = f.mvcc.open_view(kNoTrx);
  CHECK(f.read(chain, *before) == "v1");
  CHECK(f.read(chain, *after) == "v2");
  f.mvcc.close_view(before);
  f.mvcc.close_view(after);
}

TEST_CASE("Visibility: a committed but not yet stamped version resolves through TrxSys") {
  Fixture f;
  const ChainPtr owned = make_chain("k");
  VersionChain& chain = *owned;
  const TrxId writer = f.trx_sys.begin_rw();
  REQUIRE(f.write(chain, writer, f.trx_sys.visible_csn(), "v1") == WriteCheck::kOk);
  f.trx_sys.commit(writer);  // not stamped yet
  ReadView* view = f.mvcc.open_view(kNoTrx);
  CHECK(f.read(chain, *view) == "v1");
  CHECK((chain.head()->stamp() & kStampUncommitted) != 0);
  f.mvcc.close_view(view);
}

TEST_CASE("Visibility: a tombstone reads as deleted and hides older versions") {
  Fixture f;
  const ChainPtr owned = make_chain("k");
  VersionChain& chain = *owned;
  f.put_committed(chain, "v1");
  ReadView* before = f.mvcc.open_view(kNoTrx);
  f.put_committed(chain, "", true);
  ReadView* after = f.mvcc.open_view(kNoTrx);
  CHECK(f.read(chain, *before) == "v1");
  CHECK(f.read(chain, *after) == "<deleted>");
  f.mvcc.close_view(before);
  f.mvcc.close_view(after);
}

TEST_CASE("Visibility: an aborted write is never visible, even to a reader already on it") {
  Fixture f;
  const ChainPtr owned = make_chain("k");
  VersionChain& chain = *owned;
  f.put_committed(chain, "v1");
  const TrxId writer = f.trx_sys.begin_rw();
  REQUIRE(f.write(chain, writer, f.trx_sys.visible_csn(), "v2") == WriteCheck::kOk);
  const Version* aborted = chain.head();
  Version* unlinked;
  {
    sync::MutexGuard guard(chain.mutex());
    unlinked = chain.unlink_own(writer);
  }
  f.trx_sys.abort(writer);
  CHECK(unlinked == aborted);
  ReadView* view = f.mvcc.open_view(kNoTrx);
  CHECK(f.read(chain, *view) == "v1");
  // A reader that loaded the aborted head before the unlink still reaches v1 below it.
  CHECK(aborted->older() == chain.head());
  f.trx_sys.forget(writer);
  f.purger.retire_unlinked(unlinked, uncommitted_stamp(writer));
  f.mvcc.close_view(view);
}

TEST_CASE("First updater wins: conflicts with an active writer and with a newer commit") {
  Fixture f;
  const ChainPtr owned = make_chain("k");
  VersionChain& chain = *owned;
  f.put_committed(chain, "v1");
  const TrxId a = f.trx_sys.begin_rw();
  const TrxId b = f.trx_sys.begin_rw();
  const Csn snapshot = f.trx_sys.visible_csn();
  REQUIRE(f.write(chain, a, snapshot, "a") == WriteCheck::kOk);
  CHECK(f.write(chain, b, snapshot, "b") == WriteCheck::kConflict);  // a is active
  CHECK(f.write(chain, a, snapshot, "a2") == WriteCheck::kOk);       // own version: fine
  f.commit(a, {&chain});
  CHECK(f.write(chain, b, snapshot, "b") == WriteCheck::kConflict);  // committed after b's snapshot
  const TrxId c = f.trx_sys.begin_rw();
  CHECK(f.write(chain, c, f.trx_sys.visible_csn(), "c") == WriteCheck::kOk);  // later snapshot
  f.trx_sys.abort(b);
  f.trx_sys.forget(b);
  f.commit(c, {&chain});
}

// A lock (a held key, never committed) stays a conflict for others until its transaction
// unlinks it, even once that transaction is committed: a writer that stacked on it then would
// leave it under its own version, and if that writer aborted, the orphaned lock would head the
// chain for good, turning every later writer away (seen as a livelock of compare-and-set).
TEST_CASE("First updater wins: a committed transaction's lock is held until it is released") {
  Fixture f;
  const ChainPtr owned = make_chain("k");
  VersionChain& chain = *owned;
  f.put_committed(chain, "v1");
  const TrxId a = f.trx_sys.begin_rw();
  {
    sync::MutexGuard guard(chain.mutex());
    REQUIRE(chain.check_write(a, f.trx_sys.visible_csn(), f.trx_sys) == WriteCheck::kOk);
    chain.push(Version::create(uncommitted_stamp(a), "", false, /*lock=*/true));
  }
  f.trx_sys.commit(a);  // visible, its lock not yet released
  const TrxId b = f.trx_sys.begin_rw();
  CHECK(f.write(chain, b, f.trx_sys.visible_csn(), "b") == WriteCheck::kConflict);
  Version* unlinked;
  {
    sync::MutexGuard guard(chain.mutex());
    unlinked = chain.unlink_own(a);  // the release
  }
  REQUIRE(unlinked != nullptr);
  Version::destroy(unlinked);
  f.trx_sys.forget(a);
  CHECK(f.write(chain, b, f.trx_sys.visible_csn(), "b") == WriteCheck::kOk);
  f.commit(b, {&chain});
}

TEST_CASE("Purge: keeps every version an open view sees, removes the rest after it closes") {
  Fixture f;
  const ChainPtr owned = make_chain("k");
  VersionChain& chain = *owned;
  f.put_committed(chain, "v1");
  ReadView* reader = f.mvcc.open_view(kNoTrx);
  f.put_committed(chain, "v2");
  f.put_committed(chain, "v3");
  CHECK(f.purger.history_length() == 3);
  f.purger.run_once();
  CHECK(f.read(chain, *reader) == "v1");  // still there for the old view
  CHECK(chain_length(chain) == 3);
  f.mvcc.close_view(reader);
  f.purger.run_once();  // trims: v3 is what everyone sees
  CHECK(chain_length(chain) == 1);
  CHECK(f.purger.history_length() == 0);
  CHECK(f.purger.garbage_count() == 2);
  f.purger.run_once();  // no view left that could reach the unlinked versions: freed
  CHECK(f.purger.garbage_count() == 0);
  CHECK(f.reclaimed_bytes > 0);
  ReadView* view = f.mvcc.open_view(kNoTrx);
  CHECK(f.read(chain, *view) == "v3");
  f.mvcc.close_view(view);
}

TEST_CASE("Purge: unlinked versions are not freed while a view that may reach them is open") {
  Fixture f;
  const ChainPtr owned = make_chain("k");
  VersionChain& chain = *owned;
  f.put_committed(chain, "v1");
  f.put_committed(chain, "v2");
  f.purger.run_once();  // unlinks v1 (nobody sees it)
  REQUIRE(f.purger.garbage_count() == 1);
  // A view opened before this point in a real run could be walking the chain; this one was
  // opened after the unlink, so it cannot reach v1 and does not hold it back.
  ReadView* later = f.mvcc.open_view(kNoTrx);
  f.purger.run_once();
  CHECK(f.purger.garbage_count() == 0);
  f.mvcc.close_view(later);
}

TEST_CASE("Purge: a reader active across the unlink holds the garbage back") {
  Fixture f;
  const ChainPtr owned = make_chain("k");
  VersionChain& chain = *owned;
  f.put_committed(chain, "v1");
  f.put_committed(chain, "v2");
  ReadView* reader = f.mvcc.open_view(kNoTrx);  // sees v2; active during the unlink
  f.purger.run_once();                          // unlinks v1
  REQUIRE(f.purger.garbage_count() == 1);
  f.purger.run_once();
  CHECK(f.purger.garbage_count() == 1);  // reader was active when v1 was unlinked
  f.mvcc.close_view(reader);
  f.purger.run_once();
  CHECK(f.purger.garbage_count() == 0);
}

TEST_CASE("Purge: a key whose only version is a tombstone everyone sees leaves the index") {
  Fixture f;
  auto* chain = VersionChain::create("k");
  f.put_committed(*chain, "v1");
  f.put_committed(*chain, "", true);
  f.purger.run_once();
  REQUIRE(f.removed.size() == 1);
  CHECK(f.removed[0] == chain);
  CHECK(chain->dead());
  f.purger.run_once();  // frees the chain and its tombstone
  CHECK(f.purger.garbage_count() == 0);
}

TEST_CASE("A chain's embedded first version is read, unlinked by purge and freed with the chain") {
  Fixture f;
  const TrxId id = f.trx_sys.begin_rw();
  const VersionChain::FirstVersion first{uncommitted_stamp(id), "first", false};
  VersionChain* chain = VersionChain::create("k", &first);
  REQUIRE(chain != nullptr);
  Version* embedded = chain->embedded();
  REQUIRE(embedded != nullptr);
  CHECK(embedded->embedded());
  CHECK(embedded->value() == "first");
  CHECK(chain->key() == "k");
  // In the chain's own allocation, right after the key: one allocation for a key written once.
  const auto* base = reinterpret_cast<const char*>(chain);
  CHECK(reinterpret_cast<const char*>(embedded) > base);
  CHECK(reinterpret_cast<const char*>(embedded) < base + sizeof(VersionChain) + 16);
  {
    sync::MutexGuard guard(chain->mutex());
    REQUIRE(chain->check_write(id, f.trx_sys.visible_csn(), f.trx_sys) == WriteCheck::kOk);
    chain->push(embedded);
  }
  f.commit(id, {chain});
  ReadView* view = f.mvcc.open_view(kNoTrx);
  CHECK(f.read(*chain, *view) == "first");
  f.mvcc.close_view(view);
  // A newer version makes the embedded one history: purge unlinks and "frees" it (a no-op:
  // its memory is the chain's), with its bytes counted.
  f.put_committed(*chain, "second");
  f.purger.run_once();
  f.purger.run_once();
  CHECK(f.purger.garbage_count() == 0);
  CHECK(f.reclaimed_bytes >= sizeof(Version) + 5);
  view = f.mvcc.open_view(kNoTrx);
  CHECK(f.read(*chain, *view) == "second");
  f.mvcc.close_view(view);
  VersionChain::destroy(chain);  // frees the embedded version's memory too (ASan checks)
}

TEST_CASE("Purge: a chain stays while a later transaction's history still refers to it") {
  Fixture f;
  auto* chain = VersionChain::create("k");
  f.put_committed(*chain, "", true);
  // A second transaction writes the key again before purge runs.
  f.put_committed(*chain, "back");
  f.purger.run_once();
  CHECK(f.removed.empty());
  ReadView* view = f.mvcc.open_view(kNoTrx);
  CHECK(f.read(*chain, *view) == "back");
  f.mvcc.close_view(view);
  f.put_committed(*chain, "", true);
  f.purger.run_once();
  CHECK(f.removed.size() == 1);
  f.purger.run_once();
}

}  // namespace
}  // namespace ringdb::mvcc
