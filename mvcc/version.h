// Versions and version chains: a key's history, newest first.
//
// A Version carries a stamp, the value bytes (inline, after the header) and a tombstone bit
// for deletes, or a lock bit for a lock: a version that holds a key without changing it (a
// conditional batch's condition key, daemon/engine/engine.h Engine::hold), which readers
// skip and which leaves the chain when its transaction ends. The stamp is `kStampUncommitted | trx
// id` while its transaction runs, and the commit CSN once the committer has stamped it. Readers
// resolve unstamped versions through TrxSys (see trx_sys.h for why that is consistent).
//
// A VersionChain holds one key's versions. Readers walk it without latches (head and older
// links are atomic; versions are immutable but for their stamp). Writers serialise on the
// chain's own Mutex, which they hold only to check for conflicts and link a version: never
// across a wait.
//
// Invariants:
//   1. Only the head may be uncommitted: a writer finding another transaction's uncommitted
//      version at the head gets kConflict (first updater wins), so nobody stacks on it.
//   2. Versions are unlinked only by their aborting transaction (from the head) or by purge
//      (everything older than the newest version every active view sees); unlinked memory is
//      retired and freed only when no active view can reach it (mvcc_manager.h).
//   3. A dead chain (its only version a tombstone every view sees, or no version at all after
//      an abort) is marked dead under its mutex before it leaves the index; writers that find
//      a dead chain look the key up again.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mvcc/mvcc_manager.h"
#include "mvcc/trx_sys.h"
#include "mvcc/types.h"
#include "sync/mutex.h"

namespace ringdb::mvcc {

class Version {
 public:
  // Allocates a version holding a copy of `value`; nullptr if the allocation fails.
  static Version* create(uint64_t stamp, std::string_view value, bool tombstone, bool lock = false);
  // Frees a version made by create(); a chain's embedded version (VersionChain::create) is
  // part of the chain's memory and is left alone.
  static void destroy(Version* version);
  bool embedded() const { return embedded_; }

  uint64_t stamp() const { return stamp_.load(std::memory_order_acquire); }
  void stamp_committed(Csn csn) { stamp_.store(csn, std::memory_order_release); }
  Version* older() const { return older_.load(std::memory_order_acquire); }
  bool tombstone() const { return tombstone_; }
  bool lock() const { return lock_; }
  std::string_view value() const { return {reinterpret_cast<const char*>(this + 1), value_size_}; }
  // Memory charged for this version.
  size_t footprint_bytes() const { return sizeof(Version) + value_size_; }

 private:
  friend class VersionChain;
  Version(uint64_t stamp, uint32_t value_size, bool tombstone, bool lock, bool embedded)
      : stamp_(stamp),
        value_size_(value_size),
        tombstone_(tombstone),
        lock_(lock),
        embedded_(embedded) {}
  static Version* construct(void* memory, uint64_t stamp, std::string_view value, bool tombstone,
                            bool lock, bool embedded);

  std::atomic<uint64_t> stamp_;
  std::atomic<Version*> older_{nullptr};
  uint32_t value_size_;
  bool tombstone_;
  bool lock_;      // never committed: unlinked when its transaction ends
  bool embedded_;  // lives in its chain's allocation
};

inline uint64_t uncommitted_stamp(TrxId id) {
  return kStampUncommitted | id;
}

enum class WriteCheck : uint8_t { kOk, kConflict };

class VersionChain {
 public:
  // Allocates a chain holding a copy of `key` (in the same allocation, after the object);
  // nullptr if the allocation fails. With a `first` value, that allocation also holds a
  // version of it (the chain's embedded version, see embedded(), not yet linked): a key
  // written once is then one allocation, and a reader finds its version on the cache line
  // after the chain's. The embedded version's memory stays with the chain until the chain
  // is destroyed, even after purge unlinks it.
  struct FirstVersion {
    uint64_t stamp;
    std::string_view value;
    bool tombstone;
    bool lock = false;
  };
  static VersionChain* create(std::string_view key, const FirstVersion* first = nullptr);
  // Destroys the versions still linked, then the chain.
  static void destroy(VersionChain* chain);
  // The version create() embedded (nullptr if none). The caller links it with push().
  Version* embedded() const;
  // Starts fetching the chain and the two cache lines after it: for a key written once, its
  // embedded version and the start of the value, which a reader needs right after the chain
  // (measured: a point get 850 -> 740 ns over 1M keys). Harmless otherwise.
  void prefetch() const {
    const char* base = reinterpret_cast<const char*>(this);
    __builtin_prefetch(base + 64);
    __builtin_prefetch(base + 128);
  }
  VersionChain(const VersionChain&) = delete;
  VersionChain& operator=(const VersionChain&) = delete;

  std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_size_}; }
  Version* head() const { return head_.load(std::memory_order_acquire); }
  sync::WordMutex& mutex() RETURN_CAPABILITY(mu_) { return mu_; }
  bool dead() const { return dead_.load(std::memory_order_acquire); }
  // Memory charged for the chain: the object, its key, and the copy of the key its index
  // entry holds.
  size_t footprint_bytes() const { return sizeof(VersionChain) + 2 * size_t{key_size_}; }

  // The newest version `view` sees (its owner's own write, or a commit at or before its
  // snapshot), or nullptr; locks are passed over. A tombstone means "deleted" to the caller.
  const Version* find_visible(const ReadView& view, const TrxSys& trx_sys) const;

  // First updater wins: kConflict if the head belongs to another active transaction, is
  // another's lock not yet released, or was committed after `snapshot`. REQUIRES: mutex() held.
  WriteCheck check_write(TrxId me, Csn snapshot, const TrxSys& trx_sys) const REQUIRES(mu_);
  // Links `version` as the new head. REQUIRES: mutex() held, check_write() said kOk.
  void push(Version* version) REQUIRES(mu_);
  // Unlinks the head versions stamped by `me` (an aborting transaction) and returns the first
  // (nullptr if none); they run through older() for as long as stamp() is still `me`'s. The
  // last one keeps its older link into the live chain, so a reader standing on it still
  // finds the committed version below. The chain may be left empty; purge removes it.
  // REQUIRES: mutex() held.
  Version* unlink_own(TrxId me) REQUIRES(mu_);
  // Purge: unlinks every version older than the newest one committed at or before `oldest`
  // and returns them as a list (nullptr if none). If `may_die` (no other history entry points
  // here) and what remains is nothing or one tombstone every view sees, marks the chain dead
  // and sets `*dead`. REQUIRES: mutex() held.
  Version* trim(Csn oldest, const TrxSys& trx_sys, bool may_die, bool* dead) REQUIRES(mu_);

  // References from the history list; a chain is removed from the index only by purge, and
  // only when no history entry still points at it.
  std::atomic<uint32_t> history_refs{0};

 private:
  VersionChain(uint32_t key_size, bool embeds) : key_size_(key_size), embeds_(embeds) {}
  ~VersionChain();

  // 24 bytes with history_refs: there is one chain per key.
  const uint32_t key_size_;  // the key's bytes follow the object, then the embedded version
  std::atomic<Version*> head_{nullptr};
  sync::WordMutex mu_;
  std::atomic<bool> dead_{false};
  const bool embeds_;  // the allocation holds an embedded version (create's `first`)
};
static_assert(sizeof(VersionChain) == 24);

// A version's commit CSN, or kNoCsn if it is not committed; sets `*own` if it is `me`'s
// uncommitted write. Unlike resolve_stamp, right for a version whose transaction may have
// ended meanwhile (it reads the stamp again).
Csn resolve_version(const Version& v, TrxId me, const TrxSys& trx_sys, bool* own);

// Resolves a stamp to its commit CSN, or kNoCsn if it is not committed (still running,
// aborted). Sets `*own` if it is `me`'s uncommitted write.
Csn resolve_stamp(uint64_t stamp, TrxId me, const TrxSys& trx_sys, bool* own);

}  // namespace ringdb::mvcc
