// BTree: the storage engine's ordered index. A concurrent B+tree from byte-string keys to an
// opaque payload (the engine stores a pointer to the key's MVCC version chain).
//
// Keys are arbitrary byte strings (embedded zero bytes allowed, any length), ordered as
// memcmp orders them (unsigned bytes), a proper prefix before its extensions; "" is the
// smallest key. Nodes store keys by value; payloads are never dereferenced or freed here.
// Lookups take no latch and write no shared memory but their thread's epoch slot
// (optimistic reads, below).
//
// Thread safety: every member function may be called concurrently, without external
// synchronization, except the destructor and check_invariants() (call them when quiescent).
//
// Structure. Leaves hold up to node_keys_max (key, payload) entries; inner nodes hold up to
// node_keys_max separators and one more child. Separator s between children a and b: every
// key in a's subtree is < s, every key in b's subtree is >= s. Leaves are chained left to
// right by `next` links. Every node carries its low fence: the smallest key its subtree may
// ever hold ("" for the leftmost node of each level).
//
// Node layout (btree.cc). A node is one allocation: a header and slot arrays. A node keeps
// the common prefix of its keys once (up to 64 bytes) and each entry's suffix split as: the
// first 8 bytes as a big-endian word ("head"), in an array of their own, so that a binary
// search reads one or two cache lines of heads and compares integers; the suffix's size; and
// its bytes after the head, packed in the slot for suffixes up to 16 bytes, else in a block
// of their own ("long rest"). A key outside the prefix shortens it; a split recomputes it
// for both halves.
//
// Invariants (the protocol below relies on each of them):
//   1. Every node has a sync::PriorityRwLatch and a version word. Its entries, prefix,
//      children and `next` link change only under its latch in X, and only while its version
//      is odd (each change makes it odd, then even again: a seqlock). A node's kind (leaf or
//      inner), capacity and low fence never change after it is published.
//   2. Nodes merge and are freed through epochs. A removal that leaves a leaf with at most
//      node_keys_max / 4 entries merges it with a sibling under the same parent if the two
//      fit in one node: the right one's entries move into the left one (for inner nodes with
//      the parent's separator pulled down), the right one is left empty, marked obsolete and
//      handed to the epoch retire list, and the parent loses a separator; an inner node left
//      underfull merges the same way one level up, and a root left with one child hands the
//      root over to it. Every public operation holds an epoch pin (a scan for its whole
//      length, visitor calls included), so a node it reached stays allocated until it ends.
//      Memory: a queue-like workload (ever-increasing keys, the oldest removed) stays flat.
//   3. Low fences are immutable (a split keeps the left node's fence; the new right node's
//      fence is the separator). A split shrinks a leaf's key range at its upper end (its upper
//      half moves to a new node on its right); a merge extends it at its upper end (the right
//      sibling's keys move into it). Both happen only while the nodes involved are odd.
//   4. The root pointer (root_) is atomic and changes only while its writer holds the old
//      root's latch in X and the old root's version is odd; the old root becomes the new
//      root's leftmost child. A thread that entered through a node loaded from root_ checks
//      root_ again after reading that node's version (optimistic) or latching it, and
//      retries if it changed. Roots are never reused (invariant 2), so there is no ABA.
//   5. Latches are taken top-down (parent before child), and two siblings (only by a merge,
//      holding their parent) left before right: nobody waits for a latch while holding one at
//      a lower level, or one at the same level to the right of it (a split latches its new
//      node while nobody else can reach it: that never waits). Hence no deadlock, whatever the
//      priorities.
//   6. A long rest, once published in a slot, is never changed; a writer that removes or
//      rewrites the slot hands the block to the tree's epoch::RetireList, which frees it (as
//      it frees merged nodes) once no operation pinned before the removal remains (epoch.h).
//
// Concurrency protocol.
//   - Reads are optimistic (optimistic lock coupling, after Leis et al., "The ART of Practical
//     Synchronization", DaMoN 2016): a reader takes no latch and writes no shared memory. At
//     each node it reads the version (waiting briefly if odd), then the entries it needs, and
//     validates the version before it trusts what it read; a child's version is read before
//     the parent is validated again, so a child reached at a validated version covers the
//     range its parent promised. Only a long rest is followed before the end of the read, and
//     only after a validation (the operation's pin keeps it allocated). A changed version
//     restarts the operation from the root; after kOptimisticAttempts (8)
//     restarts it falls back to latch coupling with S latches at Priority::kRegular, which
//     a stream of writers cannot starve in the same way.
//   - Inserts and removals descend optimistically too and latch only the leaf (X, kRegular);
//     the leaf is used if its version is the one the descent validated (else restart, and
//     after 8 restarts latch coupling from the root). If the key is present or the leaf has
//     room, that is all. If the leaf is full, everything is released and the insert restarts
//     pessimistically: X latches from the root down at Priority::kHigh, crabbing (once the
//     node just latched has room for one more entry, it cannot split, so every ancestor still
//     held is released). Every node still held is made odd before the change begins and even
//     after it ends, so no reader can validate a parent that routed into a half-split child.
//     The split then propagates up through the ancestors still held; a root split installs a
//     new root (invariant 4).
//   - Why structure modifications (SMOs) take kHigh: a pessimistic descent holds X latches on
//     several levels at once and blocks every writer below them (and the readers that fell
//     back to latches); it must not wait behind a stream of regular requests on the upper
//     levels, and finishing it quickly helps everyone. It is safe because SMOs are rare: a
//     pessimistic descent happens only for an insert into a full leaf, which then splits into
//     two half-full ones, so there are about inserts / (node_keys_max / 2) of them (a merge,
//     which also takes kHigh, needs node_keys_max * 3 / 4 removals from a leaf); they
//     cannot starve regular requests (the XtraDB rule: high priority only for bounded-rate
//     work).
//   - Scans copy the wanted (key, payload) pairs of one leaf at a validated version (or under
//     its S latch, as a fallback) and then call the visitor holding no latch (so a visitor may
//     call back into the tree). The first leaf is read at the version its descent validated.
//     Forward scans then read the `next` leaf read with the previous one, at any version: every
//     key that was to the right of the previous leaf is in that leaf or further right, unless
//     that leaf was merged into the previous one meanwhile (it is then obsolete, and the scan
//     descends again for the keys after the last one it delivered). Reverse scans descend
//     again from the root for the keys below the previous leaf's low fence. Guarantees under
//     concurrent inserts and removals: keys come out strictly ordered without duplicates, every key
//     present for the whole scan is visited, keys inserted or removed during it may or may not be.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "daemon/index/epoch.h"
#include "sync/priority_rw_latch.h"

namespace ringdb::sync {
class LatchStats;
}

namespace ringdb::daemon {

// Called by a scan on a payload a few entries before the visitor receives it, to start
// fetching what the visitor will read through it (prefetches only: it must not block, and
// may only read what stays valid while the scan's caller runs).
using PayloadPrefetch = void (*)(const void* payload);

struct BTreeOptions {
  // Slots per node. Small values make deep trees (tests use 4 or 8 to force splits).
  uint32_t node_keys_max = 64;
  // Statistics class for every node latch ("index.node"); nullptr = no statistics.
  sync::LatchStats* latch_stats = nullptr;
  PayloadPrefetch payload_prefetch = nullptr;  // nullptr: payloads are only prefetched
};

// The keys a scan visits: start <= key < end, and key starts with prefix. An empty start
// means from the smallest key, an empty end means no upper bound, an empty prefix means any.
// The strings must outlive the scan call.
struct BTreeRange {
  std::string_view start;
  std::string_view end;
  std::string_view prefix;
};

class KeyVisitor;

// What a KeyVisitor can refer to: bool(std::string_view key, void* payload).
template <typename F>
concept KeyVisitorFunction = std::is_invocable_r_v<bool, F&, std::string_view, void*> &&
    !std::is_same_v<std::remove_cvref_t<F>, KeyVisitor>;

// A non-owning reference to a callable that returns false to stop the scan (no allocation,
// unlike std::function). The key is valid only during the call.
class KeyVisitor {
 public:
  template <KeyVisitorFunction F>
  KeyVisitor(F&& fn)  // NOLINT(google-explicit-constructor): converts lambdas at call sites
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(fn)))),
        call_(&invoke<std::remove_reference_t<F>>) {}

  bool operator()(std::string_view key, void* payload) const {
    return call_(object_, key, payload);
  }

 private:
  template <typename F>
  static bool invoke(void* object, std::string_view key, void* payload) {
    return (*static_cast<F*>(object))(key, payload);
  }

  void* object_;
  bool (*call_)(void*, std::string_view, void*);
};

class BTree {
 public:
  // node_keys_max bounds: below 3 a split could leave an inner node without a separator;
  // above 4096 an insert could shift up to 128 KiB of slots while holding the leaf's X.
  static constexpr uint32_t kNodeKeysMin = 3;
  static constexpr uint32_t kNodeKeysMax = 4096;

  // REQUIRES: kNodeKeysMin <= options.node_keys_max <= kNodeKeysMax.
  explicit BTree(BTreeOptions options = {});
  // Frees every node, not the payloads. REQUIRES: no concurrent call.
  ~BTree();
  BTree(const BTree&) = delete;
  BTree& operator=(const BTree&) = delete;

  // Point lookup: true and *payload set if the key is present.
  bool find(std::string_view key, void** payload) const;
  // Get-or-insert: stores key -> payload (the key copied) if the key is absent. Returns the
  // payload now stored for the key: the existing one if it was present, else `payload`.
  void* insert_if_absent(std::string_view key, void* payload);
  // Removes the key if its payload is `expected`. Returns true if it removed it.
  bool remove_if(std::string_view key, void* expected);
  // Number of keys (a relaxed counter: exact when quiescent).
  size_t size() const { return size_.load(std::memory_order_relaxed); }
  // Bytes the tree holds: its nodes and the out-of-line bytes of long keys (relaxed counters).
  size_t memory_bytes() const;

  // Visits the keys of `range` in increasing order, or in decreasing order (from the largest
  // key < end down to start) if `reverse`, at most `limit` of them, until `visit` returns
  // false. Returns the number of keys visited. `visit` runs with no latch held.
  size_t scan(const BTreeRange& range, bool reverse, size_t limit, KeyVisitor visit) const;

  // Adds keys in increasing order faster than insert_if_absent (a checkpoint's load): each key
  // goes into the rightmost leaf with no descent, and a full leaf splits where the key was
  // appended, so that leaves are filled left to right. REQUIRES: while an Appender lives, no
  // other thread inserts or removes (readers may run).
  class Appender;

  // Structural self-check (REQUIRES: quiescent): order within and across nodes (through the
  // leaf chain too), separators bounding their children, low fences, fill limits, equal leaf
  // depth, size() equal to the number of leaf keys. Returns "" or the first violation found.
  std::string check_invariants() const;

 private:
  struct Node;
  struct Bounds;
  struct CheckState;
  struct Probe;
  struct SearchFrom;
  class ReadContext;
  class ScanBatch;
  enum class Seek : uint8_t;
  enum class LeafMode : uint8_t { kShared, kExclusive };

  // What the tree has allocated, and the long rests waiting to be freed.
  struct Heap {
    epoch::RetireList retired;  // nodes and long rests unlinked by writers (invariant 6)
    std::atomic<size_t> nodes{0};
    std::atomic<size_t> long_rest_bytes{0};  // live ones (retired ones no longer count)
  };

  Node* new_node(uint32_t level, std::string_view low_fence);
  static void delete_subtree(Node* node);
  static void prefetch_header(const Node* node);
  void prefetch_node(const Node* node) const;
  // The first entry >= the probe's key (*exact: equal), or a restart marker.
  static size_t search(const Node* node, const Probe& k, ReadContext* ctx, bool* exact);
  static size_t route(const Node* node, std::string_view key, Seek seek, ReadContext* ctx);
  bool descend_optimistic(std::string_view key, Seek seek, ReadContext* ctx, Node** leaf,
                          uint64_t* leaf_version) const;
  // Latch juggling (btree.cc says why these are not analysed): each returns a latched node.
  Node* latch_root(LeafMode leaf_mode) const;
  Node* latch_root_for_change() const;
  Node* descend(std::string_view key, Seek seek, LeafMode leaf_mode) const;
  static Node* latch_shared(Node* node);
  Node* latch_leaf_exclusive(std::string_view key) const;
  void* insert_pessimistic(std::string_view key, void* payload);
  // REQUIRES: node X-latched and odd, holding node_keys_max + 1 entries. Returns the new
  // right sibling: the upper half, or (a leaf whose last entry was just appended) that entry.
  Node* split(Node* node, bool appended, std::string* separator);
  // REQUIRES: old_root X-latched, odd, and still the root.
  void grow_root(Node* old_root, std::string_view separator, Node* right);
  size_t merge_below() const;
  void merge_up(std::string_view key);
  // REQUIRES: parent X-latched (not odd). Returns true if it is now underfull, not the root.
  bool merge_children(Node* parent, size_t i);
  // A node no longer reachable from the root, to be freed when no pin can see it.
  void retire_node(Node* node);
  static bool copy_leaf(const Node* leaf, uint64_t v, size_t from, bool down, size_t max,
                        ScanBatch* batch);
  static bool read_at(const Node* leaf, uint64_t v, const SearchFrom& from, size_t max,
                      ReadContext* ctx, ScanBatch* batch, Node** next);
  const Node* read_descended(std::string_view key, Seek seek, const SearchFrom& from, size_t max,
                             ScanBatch* batch, Node** next) const;
  bool read_next(const Node* leaf, size_t max, ScanBatch* batch, Node** next) const;
  size_t scan_forward(const Bounds& bounds, size_t limit, KeyVisitor visit) const;
  size_t scan_reverse(const Bounds& bounds, size_t limit, KeyVisitor visit) const;
  std::string check_node(const Node* node, std::string_view low, const std::string* high,
                         size_t depth, CheckState* state) const;

  const uint32_t node_keys_max_;
  sync::LatchStats* const latch_stats_;
  const PayloadPrefetch payload_prefetch_;
  std::atomic<Node*> root_;  // invariant 4
  std::atomic<size_t> size_{0};
  Heap heap_;
};

class BTree::Appender {
 public:
  explicit Appender(BTree* tree);
  // Adds key -> payload (the key copied). False, and nothing added, if the key is not
  // greater than every key in the tree.
  bool append(std::string_view key, void* payload);

 private:
  BTree* const tree_;
  Node* leaf_ = nullptr;  // the rightmost leaf; nullptr when it must be found again
  std::string last_;      // the largest key in the tree (empty: none, or "")
  bool empty_;            // the tree holds no key
};

}  // namespace ringdb::daemon
