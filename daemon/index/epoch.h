// Epoch-based reclamation: freeing memory that optimistic readers may still be reading.
//
// The index's readers take no latch (btree.h): they read a node, then check that its version
// did not change. A node or block they reached (a merged node, a long key's bytes) may
// meanwhile be unlinked by a writer; it must not be freed until every reader that could have
// seen the link is done. An operation announces itself with a Pin; a writer hands what it
// unlinked to a RetireList, which frees it once no pin that could see it remains.
//
// The protocol (process-wide epoch counter E, one announcement slot per thread):
//   - Pin: the thread stores the value e it read from E into its slot, then a seq_cst fence;
//     on release it stores "idle". Pins nest (a visitor may call back into the tree): only the
//     outermost announces.
//   - Retire: the writer first makes the block unreachable (under the node's latch, with the
//     node's version bumped), then tags it with t = E++ (a seq_cst read-modify-write).
//   - Reclaim: after a seq_cst fence, the smallest announced epoch m over all slots; every
//     block tagged t < m is freed. A pin that announced e > t read E after the retire and
//     cannot reach the block; a pin that announced e <= t holds it back. A pin whose slot
//     store the reclaimer missed is ordered after the reclaimer's fence, so its reader
//     starts after the unlink and cannot find the block.
//
// Limits. kThreadSlotsMax threads can hold a slot at once (a thread takes one at its first pin
// and gives it back when it exits). Beyond that, a thread pins through a shared overflow count
// that holds back all reclamation while it is non-zero: correct, only slower to free. A
// RetireList frees at the latest when it is destroyed; while some reader stays pinned, its
// size grows by what writers retire meanwhile (a pin lasts one index operation; a scan's, its
// whole length, visitor calls included).
//
// Thread safety: Pin is per thread. RetireList's members may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sync/mutex.h"
#include "sync/thread_annotations.h"

namespace ringdb::daemon::epoch {

inline constexpr size_t kThreadSlotsMax = 1024;

// Announces the calling thread as a reader until destroyed. Cheap when nested.
class Pin {
 public:
  Pin();
  ~Pin();
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;
};

// Blocks unlinked by writers, freed once no reader can reach them.
class RetireList {
 public:
  using Deleter = void (*)(void*);

  RetireList() = default;
  // Frees everything retired. REQUIRES: no reader can reach any of it (the owner is quiescent).
  ~RetireList();
  RetireList(const RetireList&) = delete;
  RetireList& operator=(const RetireList&) = delete;

  // REQUIRES: `block` is no longer reachable by a reader that pins from now on.
  void retire(void* block, Deleter deleter) EXCLUDES(mu_);
  // Frees what no pinned reader can reach. Called by retire() every kReclaimBatch blocks.
  void reclaim() EXCLUDES(mu_);
  // Blocks retired and not yet freed.
  size_t pending() const EXCLUDES(mu_);

  static constexpr size_t kReclaimBatch = 64;

 private:
  struct Retired {
    uint64_t tag;
    void* block;
    Deleter deleter;
  };
  mutable sync::Mutex mu_;
  std::vector<Retired> retired_ GUARDED_BY(mu_);  // tags increasing
  size_t since_reclaim_ GUARDED_BY(mu_) = 0;
};

// The smallest epoch announced by a pinned thread (0 while an overflow pin is held), or
// UINT64_MAX if no thread is pinned. For tests.
uint64_t oldest_pinned();

}  // namespace ringdb::daemon::epoch
