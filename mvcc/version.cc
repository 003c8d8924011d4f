#include "mvcc/version.h"

#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>

namespace ringdb::mvcc {

Version* Version::construct(void* memory, uint64_t stamp, std::string_view value, bool tombstone,
                            bool lock, bool embedded) {
  assert(value.size() <= UINT32_MAX);
  auto* version =
      new (memory) Version(stamp, static_cast<uint32_t>(value.size()), tombstone, lock, embedded);
  if (!value.empty()) std::memcpy(reinterpret_cast<char*>(version + 1), value.data(), value.size());
  return version;
}

Version* Version::create(uint64_t stamp, std::string_view value, bool tombstone, bool lock) {
  void* memory = std::malloc(sizeof(Version) + value.size());
  if (memory == nullptr) return nullptr;
  return construct(memory, stamp, value, tombstone, lock, false);
}

void Version::destroy(Version* version) {
  if (version->embedded_) return;  // freed with its chain
  version->~Version();
  std::free(version);
}

namespace {
// Where a chain's embedded version starts: after the key, aligned for a Version.
size_t embedded_offset(size_t key_size) {
  const size_t end = sizeof(VersionChain) + key_size;
  return (end + alignof(Version) - 1) / alignof(Version) * alignof(Version);
}
}  // namespace

VersionChain* VersionChain::create(std::string_view key, const FirstVersion* first) {
  assert(key.size() <= UINT32_MAX);
  const size_t bytes = first == nullptr
                           ? sizeof(VersionChain) + key.size()
                           : embedded_offset(key.size()) + sizeof(Version) + first->value.size();
  void* memory = std::malloc(bytes);
  if (memory == nullptr) return nullptr;
  auto* chain = new (memory) VersionChain(static_cast<uint32_t>(key.size()), first != nullptr);
  if (!key.empty()) std::memcpy(reinterpret_cast<char*>(chain + 1), key.data(), key.size());
  if (first != nullptr) {
    Version::construct(static_cast<char*>(memory) + embedded_offset(key.size()), first->stamp,
                       first->value, first->tombstone, first->lock, true);
  }
  return chain;
}

Version* VersionChain::embedded() const {
  if (!embeds_) return nullptr;
  char* base = const_cast<char*>(reinterpret_cast<const char*>(this));
  return std::launder(reinterpret_cast<Version*>(base + embedded_offset(key_size_)));
}

void VersionChain::destroy(VersionChain* chain) {
  chain->~VersionChain();
  std::free(chain);
}

VersionChain::~VersionChain() {
  Version* v = head_.load(std::memory_order_relaxed);
  while (v != nullptr) {
    Version* older = v->older_.load(std::memory_order_relaxed);
    Version::destroy(v);
    v = older;
  }
}

Csn resolve_stamp(uint64_t stamp, TrxId me, const TrxSys& trx_sys, bool* own) {
  *own = false;
  if ((stamp & kStampUncommitted) == 0) return stamp;
  const TrxId id = stamp & ~kStampUncommitted;
  if (id == me) {
    *own = true;
    return kNoCsn;
  }
  const TrxSys::Lookup found = trx_sys.lookup(id);
  return found.state == TrxSys::State::kCommitted ? found.csn : kNoCsn;
}

// kUnknown from TrxSys means the transaction ended and its versions were stamped (commit) or
// unlinked (abort) before it was forgotten: reading the stamp again tells which.
Csn resolve_version(const Version& v, TrxId me, const TrxSys& trx_sys, bool* own) {
  const uint64_t stamp = v.stamp();
  Csn csn = resolve_stamp(stamp, me, trx_sys, own);
  if (csn == kNoCsn && !*own && (stamp & kStampUncommitted) != 0 &&
      trx_sys.lookup(stamp & ~kStampUncommitted).state == TrxSys::State::kUnknown) {
    csn = resolve_stamp(v.stamp(), me, trx_sys, own);
  }
  return csn;
}

const Version* VersionChain::find_visible(const ReadView& view, const TrxSys& trx_sys) const {
  for (const Version* v = head(); v != nullptr; v = v->older()) {
    if (v->lock()) continue;
    bool own = false;
    const Csn csn = resolve_version(*v, view.creator(), trx_sys, &own);
    if (own || view.sees_commit(csn)) return v;
  }
  return nullptr;
}

WriteCheck VersionChain::check_write(TrxId me, Csn snapshot, const TrxSys& trx_sys) const {
  const Version* h = head();
  if (h == nullptr) return WriteCheck::kOk;
  bool own = false;
  const Csn csn = resolve_version(*h, me, trx_sys, &own);
  if (own) return WriteCheck::kOk;
  // Another's lock is held until its owner unlinks it, even after that owner committed
  // (Engine::commit publishes the commit, then releases): a version stacked on it would bury
  // the lock where the release cannot reach it.
  if (h->lock()) return WriteCheck::kConflict;
  // Another transaction's uncommitted head (invariant 1), or a commit our snapshot misses.
  if (csn == kNoCsn || csn > snapshot) return WriteCheck::kConflict;
  return WriteCheck::kOk;
}

void VersionChain::push(Version* version) {
  version->older_.store(head_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  head_.store(version, std::memory_order_release);
}

Version* VersionChain::unlink_own(TrxId me) {
  const uint64_t mine = uncommitted_stamp(me);
  Version* first = head_.load(std::memory_order_relaxed);
  Version* last = nullptr;
  for (Version* v = first; v != nullptr && v->stamp() == mine; v = v->older())
    last = v;
  if (last == nullptr) return nullptr;
  // Readers that already hold a pointer to an unlinked version still follow its older link
  // into the live chain; the unlinked versions are retired, not freed.
  head_.store(last->older(), std::memory_order_release);
  return first;
}

Version* VersionChain::trim(Csn oldest, const TrxSys& trx_sys, bool may_die, bool* dead) {
  *dead = false;
  Version* h = head_.load(std::memory_order_relaxed);
  if (h == nullptr) {
    if (may_die) {
      *dead = true;
      dead_.store(true, std::memory_order_release);
    }
    return nullptr;
  }
  for (Version* v = h; v != nullptr; v = v->older()) {
    bool own = false;
    const Csn csn = resolve_version(*v, kNoTrx, trx_sys, &own);
    if (csn == kNoCsn || csn > oldest) continue;
    // Every active view sees `v` (or something newer): nothing older is reachable.
    Version* garbage = v->older();
    if (garbage != nullptr) v->older_.store(nullptr, std::memory_order_release);
    if (may_die && v == h && v->tombstone()) {
      *dead = true;
      dead_.store(true, std::memory_order_release);
    }
    return garbage;
  }
  return nullptr;
}

}  // namespace ringdb::mvcc
