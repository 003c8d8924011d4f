// BTree: node layout, descents, the optimistic and pessimistic inserts, scans, self-check.
// The concurrency protocol and its invariants are in btree.h.
//
// Thread-safety analysis: node contents are GUARDED_BY the node's latch and every function
// that reads or changes them is annotated REQUIRES(...). The functions that hand latches
// over from node to node (latch_root, descend, latch_shared, insert_pessimistic) hold a set
// of latches the analysis cannot name, so they are NO_THREAD_SAFETY_ANALYSIS; they return
// their leaf latched and the caller states it with assert_held(), after which the analysis
// checks the caller again.
#include "daemon/index/btree.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cstring>
#include <limits>
#include <vector>

#include "sync/thread_annotations.h"

namespace ringdb::daemon {
namespace {

using sync::Priority;

// The deepest tree: a level is added only by a root split, which needs twice as many leaves
// as the previous one, and a leaf exists only after ~node_keys_max / 2 inserts. 2^63 splits
// are not reachable.
constexpr size_t kHeightMax = 64;

// Three-way comparison as unsigned bytes; a proper prefix sorts first.
int compare_keys(std::string_view a, std::string_view b) {
  const size_t common = std::min(a.size(), b.size());
  if (common != 0) {
    const int c = std::memcmp(a.data(), b.data(), common);
    if (c != 0) return c;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

// The first 8 bytes of a key as a big-endian integer, zero-padded. Two keys whose heads
// differ are ordered by their heads alone, without touching the key bytes.
uint64_t key_head(std::string_view key) {
  unsigned char bytes[8] = {};
  if (!key.empty()) std::memcpy(bytes, key.data(), std::min<size_t>(key.size(), 8));
  uint64_t head = 0;
  std::memcpy(&head, bytes, sizeof(head));
  if constexpr (std::endian::native == std::endian::little) head = __builtin_bswap64(head);
  return head;
}

// The shortest key s with left < s <= right (REQUIRES: left < right). A prefix of `right`.
// Shorter separators make inner nodes smaller; any s in that interval would be correct.
std::string_view shortest_separator(std::string_view left, std::string_view right) {
  size_t i = 0;
  while (i < left.size() && left[i] == right[i])
    ++i;
  return right.substr(0, i + 1);
}

// The smallest key greater than every key starting with `prefix`, or false if there is none
// (empty prefix, or all bytes 0xff).
bool prefix_successor(std::string_view prefix, std::string* out) {
  size_t n = prefix.size();
  while (n > 0 && static_cast<unsigned char>(prefix[n - 1]) == 0xff)
    --n;
  if (n == 0) return false;
  out->assign(prefix.substr(0, n));
  (*out)[n - 1] = static_cast<char>(static_cast<unsigned char>((*out)[n - 1]) + 1);
  return true;
}

struct SearchKey {
  explicit SearchKey(std::string_view k) : bytes(k), head(key_head(k)) {}
  std::string_view bytes;
  uint64_t head;
};

// One entry of a node; its key's head is in the parallel Node::heads.
struct Slot {
  size_t offset;  // of the key in Node::bytes
  size_t size;
  void* ptr;  // leaf: the payload; inner node: the child right of this separator
};

// Collected (key, payload) pairs of one leaf, visited after its latch is released.
class ScanBatch {
 public:
  void clear() {
    bytes_.clear();
    entries_.clear();
  }
  size_t size() const { return entries_.size(); }
  void add(std::string_view key, void* payload) {
    entries_.push_back(Entry{bytes_.size(), key.size(), payload});
    bytes_.append(key);
  }
  // Visits the entries in the order added, counting calls in *visited. False: `visit` asked
  // to stop.
  bool deliver(const KeyVisitor& visit, size_t* visited) const {
    for (const Entry& e : entries_) {
      ++*visited;
      if (!visit(std::string_view(bytes_.data() + e.offset, e.size), e.payload)) return false;
    }
    return true;
  }

 private:
  struct Entry {
    size_t offset;
    size_t size;
    void* payload;
  };
  std::string bytes_;
  std::vector<Entry> entries_;
};

}  // namespace

// A node. `leaf` and `low_fence` are immutable (invariants 1 and 3); the rest is guarded by
// the latch. Slots are sorted by key; a removal leaves its key bytes behind as garbage until
// the buffer is compacted.
//
// Layout, for the descent's cache misses: heads are an array of their own, so a binary search
// touches few cache lines (all prefetched at once) and reads a slot only at its end. The
// header fields a descent reads (the latch's state word and statistics pointer, the kind, the
// first child, the arrays' addresses) fill the node's first three cache lines, which the
// parent's descent prefetches together as soon as it has the child's address.
struct alignas(64) BTree::Node {
  Node(bool is_leaf, std::string_view fence, sync::LatchStats* stats, size_t slots_max)
      : latch(stats), leaf(is_leaf), low_fence(fence) {
    heads.reserve(slots_max);
    slots.reserve(slots_max);
  }

  mutable sync::PriorityRwLatch latch;
  const bool leaf;
  Node* first_child GUARDED_BY(latch) = nullptr;  // inner: left of every separator
  std::vector<uint64_t> heads GUARDED_BY(latch);  // key heads, sorted; heads.size() == slots.size()
  std::vector<Slot> slots GUARDED_BY(latch);
  Node* next GUARDED_BY(latch) = nullptr;  // leaf: right sibling
  std::string bytes GUARDED_BY(latch);     // key bytes (and garbage) of the slots
  size_t garbage_bytes GUARDED_BY(latch) = 0;
  const std::string low_fence;

  std::string_view key(size_t i) const REQUIRES_SHARED(latch) {
    return std::string_view(bytes.data() + slots[i].offset, slots[i].size);
  }
  // Child i of an inner node, 0 <= i <= slots.size().
  Node* child(size_t i) const REQUIRES_SHARED(latch) {
    return i == 0 ? first_child : static_cast<Node*>(slots[i - 1].ptr);
  }
  int compare(size_t i, const SearchKey& k) const REQUIRES_SHARED(latch) {
    if (heads[i] != k.head) return heads[i] < k.head ? -1 : 1;
    // Equal heads: if either key has at most 8 bytes, it is a prefix of the other.
    const size_t size = slots[i].size;
    if (size <= 8 || k.bytes.size() <= 8)
      return size < k.bytes.size() ? -1 : (size > k.bytes.size() ? 1 : 0);
    return compare_keys(key(i).substr(8), k.bytes.substr(8));
  }
  bool matches(size_t i, const SearchKey& k) const REQUIRES_SHARED(latch) {
    return i < slots.size() && compare(i, k) == 0;
  }
  // First slot with key >= k (or > k if `strict`).
  size_t bound(const SearchKey& k, bool strict) const REQUIRES_SHARED(latch) {
    size_t lo = 0;
    size_t hi = heads.size();
    // Every line of the heads at once: one memory latency instead of one per probe.
    for (size_t i = 0; i < hi; i += 64 / sizeof(uint64_t))
      __builtin_prefetch(&heads[i]);
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      const int c = compare(mid, k);
      if (c < 0 || (strict && c == 0)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }
  size_t lower_bound(const SearchKey& k) const REQUIRES_SHARED(latch) { return bound(k, false); }
  size_t upper_bound(const SearchKey& k) const REQUIRES_SHARED(latch) { return bound(k, true); }

  void insert_slot(size_t i, std::string_view k, uint64_t head, void* ptr) REQUIRES(latch) {
    const size_t offset = bytes.size();
    bytes.append(k);
    heads.insert(heads.begin() + static_cast<std::ptrdiff_t>(i), head);
    slots.insert(slots.begin() + static_cast<std::ptrdiff_t>(i), Slot{offset, k.size(), ptr});
  }
  void append_slot(std::string_view k, uint64_t head, void* ptr) REQUIRES(latch) {
    heads.push_back(head);
    slots.push_back(Slot{bytes.size(), k.size(), ptr});
    bytes.append(k);
  }
  void erase_slot(size_t i) REQUIRES(latch) {
    garbage_bytes += slots[i].size;
    heads.erase(heads.begin() + static_cast<std::ptrdiff_t>(i));
    slots.erase(slots.begin() + static_cast<std::ptrdiff_t>(i));
    // Amortized O(1) per byte removed: a compaction halves the buffer at least.
    if (garbage_bytes * 2 > bytes.size()) compact();
  }
  // Keeps slots [0, n) and rewrites the buffer without garbage.
  void truncate(size_t n) REQUIRES(latch) {
    heads.resize(n);
    slots.resize(n);
    compact();
  }
  void compact() REQUIRES(latch) {
    std::string fresh;
    fresh.reserve(bytes.size() - garbage_bytes);
    for (Slot& s : slots) {
      const size_t offset = fresh.size();
      fresh.append(bytes, s.offset, s.size);
      s.offset = offset;
    }
    bytes.swap(fresh);
    garbage_bytes = 0;
  }
};

// The keys a scan visits, from BTreeRange: lo <= key < hi.
struct BTree::Bounds {
  std::string lo;
  std::string hi;
  bool has_hi = false;
};

enum class BTree::Seek : uint8_t {
  kKey,    // the leaf whose range holds the key
  kBelow,  // the leaf whose range holds the largest keys smaller than the key
  kLast,   // the rightmost leaf
};

BTree::BTree(BTreeOptions options)
    : node_keys_max_(options.node_keys_max), latch_stats_(options.latch_stats) {
  assert(node_keys_max_ >= kNodeKeysMin && node_keys_max_ <= kNodeKeysMax);
  root_.store(new_node(true, ""), std::memory_order_release);
}

BTree::~BTree() {
  delete_subtree(root_.load(std::memory_order_acquire));
}

void BTree::delete_subtree(Node* node) {
  std::vector<Node*> children;
  if (!node->leaf) {
    sync::SharedGuard guard(node->latch);  // uncontended: only the analysis needs it
    for (size_t i = 0; i <= node->slots.size(); ++i)
      children.push_back(node->child(i));
  }
  for (Node* child : children)
    delete_subtree(child);
  delete node;
}

BTree::Node* BTree::new_node(bool leaf, std::string_view low_fence) const {
  // One spare slot: an insert into a full node overflows it before the split.
  return new Node(leaf, low_fence, latch_stats_, size_t{node_keys_max_} + 1);
}

// The first three cache lines of a node, in parallel; the latch's line for writing, so that
// its load-then-CAS misses once rather than twice (read, then upgrade).
void BTree::prefetch_header(const Node* node) {
  const char* base = reinterpret_cast<const char*>(node);
  __builtin_prefetch(base, 1);
  __builtin_prefetch(base + 64);
  __builtin_prefetch(base + 128);
}

// NO_THREAD_SAFETY_ANALYSIS: returns the root latched (X if it is a leaf and leaf_mode is
// kExclusive, else S), which the analysis cannot express.
BTree::Node* BTree::latch_root(LeafMode leaf_mode) const NO_THREAD_SAFETY_ANALYSIS {
  for (;;) {
    Node* root = root_.load(std::memory_order_acquire);
    const bool exclusive = root->leaf && leaf_mode == LeafMode::kExclusive;
    if (exclusive) {
      root->latch.lock();
    } else {
      root->latch.lock_shared();
    }
    // Relaxed is enough: a root change happens before the release of the old root's X,
    // which our acquisition of that latch has synchronized with (invariant 4).
    if (root_.load(std::memory_order_relaxed) == root) return root;
    if (exclusive) {
      root->latch.unlock();
    } else {
      root->latch.unlock_shared();
    }
  }
}

// NO_THREAD_SAFETY_ANALYSIS: latch coupling (hand over hand) down to a leaf, returned
// latched as latch_root describes. All at Priority::kRegular.
BTree::Node* BTree::descend(std::string_view key, Seek seek,
                            LeafMode leaf_mode) const NO_THREAD_SAFETY_ANALYSIS {
  const SearchKey k(key);
  Node* node = latch_root(leaf_mode);
  while (!node->leaf) {
    size_t i = node->slots.size();
    if (seek == Seek::kKey) i = node->upper_bound(k);
    if (seek == Seek::kBelow) i = node->lower_bound(k);
    Node* child = node->child(i);
    prefetch_header(child);
    if (child->leaf && leaf_mode == LeafMode::kExclusive) {
      child->latch.lock();
    } else {
      child->latch.lock_shared();
    }
    node->latch.unlock_shared();
    node = child;
  }
  return node;
}

// NO_THREAD_SAFETY_ANALYSIS: returns `node` latched in S.
BTree::Node* BTree::latch_shared(Node* node) NO_THREAD_SAFETY_ANALYSIS {
  node->latch.lock_shared();
  return node;
}

bool BTree::find(std::string_view key, void** payload) const {
  const SearchKey k(key);
  Node* leaf = descend(key, Seek::kKey, LeafMode::kShared);
  leaf->latch.assert_held_shared();
  const size_t i = leaf->lower_bound(k);
  const bool found = leaf->matches(i, k);
  if (found) *payload = leaf->slots[i].ptr;
  leaf->latch.unlock_shared();
  return found;
}

void* BTree::insert_if_absent(std::string_view key, void* payload) {
  const SearchKey k(key);
  Node* leaf = descend(key, Seek::kKey, LeafMode::kExclusive);
  leaf->latch.assert_held();
  const size_t i = leaf->lower_bound(k);
  void* stored = payload;
  bool done = true;
  if (leaf->matches(i, k)) {
    stored = leaf->slots[i].ptr;
  } else if (leaf->slots.size() < node_keys_max_) {
    leaf->insert_slot(i, key, k.head, payload);
    size_.fetch_add(1, std::memory_order_relaxed);
  } else {
    done = false;  // the leaf must split: start again, pessimistically
  }
  leaf->latch.unlock();
  return done ? stored : insert_pessimistic(key, payload);
}

// NO_THREAD_SAFETY_ANALYSIS: holds X latches on a path of nodes kept in an array (crabbing).
void* BTree::insert_pessimistic(std::string_view key, void* payload) NO_THREAD_SAFETY_ANALYSIS {
  const SearchKey k(key);
  // held[0 .. depth) are X-latched, each the parent of the next; every one but the last is
  // full, so a split of the last may propagate up through all of them.
  std::array<Node*, kHeightMax> held{};
  size_t depth = 0;
  Node* node = nullptr;
  for (;;) {
    node = root_.load(std::memory_order_acquire);
    node->latch.lock(Priority::kHigh);
    if (root_.load(std::memory_order_relaxed) == node) break;
    node->latch.unlock();
  }
  held[depth++] = node;
  for (;;) {
    if (node->slots.size() < node_keys_max_) {  // cannot split: ancestors will not change
      for (size_t j = 0; j + 1 < depth; ++j)
        held[j]->latch.unlock();
      held[0] = node;
      depth = 1;
    }
    if (node->leaf) break;
    Node* child = node->child(node->upper_bound(k));
    child->latch.lock(Priority::kHigh);
    assert(depth < kHeightMax);
    held[depth++] = child;
    node = child;
  }

  void* stored = payload;
  const size_t i = node->lower_bound(k);
  if (node->matches(i, k)) {
    stored = node->slots[i].ptr;  // inserted by someone else meanwhile
  } else {
    node->insert_slot(i, key, k.head, payload);
    size_.fetch_add(1, std::memory_order_relaxed);
    for (size_t level = depth - 1; node->slots.size() > node_keys_max_; --level) {
      std::string separator;
      Node* right = split(node, &separator);
      if (level == 0) {  // only a full root is kept latched at level 0 after overflowing
        assert(root_.load(std::memory_order_relaxed) == node);
        grow_root(node, separator, right);
        break;
      }
      Node* parent = held[level - 1];
      const SearchKey s(separator);
      const size_t pos = parent->upper_bound(s);
      assert(parent->child(pos) == node);
      parent->insert_slot(pos, separator, s.head, right);
      node = parent;
    }
  }
  for (size_t j = 0; j < depth; ++j)
    held[j]->latch.unlock();
  return stored;
}

BTree::Node* BTree::split(Node* node, std::string* separator) const REQUIRES(node->latch) {
  const size_t n = node->slots.size();
  const size_t mid = n / 2;
  // Leaf: slots [mid, n) move right; the separator only needs to fall between the halves.
  // Inner: slot mid's key moves up, its child becomes the new node's first child.
  const size_t move_from = node->leaf ? mid : mid + 1;
  if (node->leaf) {
    separator->assign(shortest_separator(node->key(mid - 1), node->key(mid)));
  } else {
    separator->assign(node->key(mid));
  }
  Node* right = new_node(node->leaf, *separator);
  {
    sync::ExclusiveGuard guard(right->latch);  // not yet reachable: only the analysis needs it
    if (node->leaf) {
      right->next = node->next;
    } else {
      right->first_child = static_cast<Node*>(node->slots[mid].ptr);
    }
    for (size_t i = move_from; i < n; ++i)
      right->append_slot(node->key(i), node->heads[i], node->slots[i].ptr);
  }
  if (node->leaf) node->next = right;  // published with the parent's separator (both under X)
  node->truncate(mid);
  return right;
}

void BTree::grow_root(Node* old_root, std::string_view separator, Node* right)
    REQUIRES(old_root->latch) {
  Node* root = new_node(false, "");
  {
    sync::ExclusiveGuard guard(root->latch);  // not yet reachable: only the analysis needs it
    root->first_child = old_root;
    root->append_slot(separator, key_head(separator), right);
  }
  // Release: a thread that loads the new root sees it initialized (invariant 4).
  root_.store(root, std::memory_order_release);
}

bool BTree::remove_if(std::string_view key, void* expected) {
  const SearchKey k(key);
  Node* leaf = descend(key, Seek::kKey, LeafMode::kExclusive);
  leaf->latch.assert_held();
  const size_t i = leaf->lower_bound(k);
  const bool removed = leaf->matches(i, k) && leaf->slots[i].ptr == expected;
  if (removed) {
    leaf->erase_slot(i);
    size_.fetch_sub(1, std::memory_order_relaxed);
  }
  leaf->latch.unlock();
  return removed;
}

size_t BTree::scan(const BTreeRange& range, bool reverse, size_t limit, KeyVisitor visit) const {
  Bounds b;
  b.lo.assign(compare_keys(range.start, range.prefix) >= 0 ? range.start : range.prefix);
  std::string prefix_end;
  const bool has_prefix_end = prefix_successor(range.prefix, &prefix_end);
  if (!range.end.empty()) {
    b.has_hi = true;
    b.hi.assign(has_prefix_end && compare_keys(prefix_end, range.end) < 0 ? prefix_end : range.end);
  } else if (has_prefix_end) {
    b.has_hi = true;
    b.hi = std::move(prefix_end);
  }
  if (limit == 0 || (b.has_hi && compare_keys(b.lo, b.hi) >= 0)) return 0;
  return reverse ? scan_reverse(b, limit, visit) : scan_forward(b, limit, visit);
}

size_t BTree::scan_forward(const Bounds& b, size_t limit, KeyVisitor visit) const {
  const SearchKey lo(b.lo);
  ScanBatch batch;
  size_t visited = 0;
  Node* leaf = descend(b.lo, Seek::kKey, LeafMode::kShared);
  for (;;) {
    leaf->latch.assert_held_shared();
    bool past_end = false;
    batch.clear();
    for (size_t i = leaf->lower_bound(lo); i < leaf->slots.size() && batch.size() < limit - visited;
         ++i) {
      const std::string_view key = leaf->key(i);
      if (b.has_hi && compare_keys(key, b.hi) >= 0) {
        past_end = true;
        break;
      }
      batch.add(key, leaf->slots[i].ptr);
    }
    Node* next = leaf->next;
    leaf->latch.unlock_shared();
    if (!batch.deliver(visit, &visited) || past_end || visited == limit || next == nullptr)
      return visited;
    // The next leaf's keys are >= its low fence (immutable, read without its latch).
    if (b.has_hi && compare_keys(next->low_fence, b.hi) >= 0) return visited;
    // By invariants 2 and 3, every key right of `leaf` when we read `next` is still in
    // `next` or further right, and every key now in `next` is above those just visited.
    leaf = latch_shared(next);
  }
}

size_t BTree::scan_reverse(const Bounds& b, size_t limit, KeyVisitor visit) const {
  ScanBatch batch;
  size_t visited = 0;
  // Keys below `bound` remain to be visited (all keys while !bounded).
  std::string bound = b.hi;
  bool bounded = b.has_hi;
  for (;;) {
    Node* leaf = descend(bound, bounded ? Seek::kBelow : Seek::kLast, LeafMode::kShared);
    leaf->latch.assert_held_shared();
    // The descent held each parent while latching its child, so this leaf's range is
    // [low_fence, h) with h >= bound: it holds every key in [low_fence, bound).
    size_t i = bounded ? leaf->lower_bound(SearchKey(bound)) : leaf->slots.size();
    bool past_start = false;
    batch.clear();
    while (i > 0 && batch.size() < limit - visited) {
      --i;
      const std::string_view key = leaf->key(i);
      if (compare_keys(key, b.lo) < 0) {
        past_start = true;
        break;
      }
      batch.add(key, leaf->slots[i].ptr);
    }
    leaf->latch.unlock_shared();
    if (!batch.deliver(visit, &visited) || past_start || visited == limit) return visited;
    // Every key left of this leaf is below its low fence; "" (leftmost leaf) ends the scan.
    if (compare_keys(leaf->low_fence, b.lo) <= 0) return visited;
    bound = leaf->low_fence;  // strictly below the previous bound: the scan progresses
    bounded = true;
  }
}

// What check_node accumulates over the in-order walk of the leaves.
struct BTree::CheckState {
  size_t leaf_depth = std::numeric_limits<size_t>::max();
  bool seen_leaf = false;
  const Node* expected_leaf = nullptr;  // the previous leaf's `next`
  std::string last_key;                 // the previous non-empty leaf's largest key
  bool has_last_key = false;
  size_t keys = 0;
};

std::string BTree::check_invariants() const {
  CheckState state;
  std::string error = check_node(root_.load(std::memory_order_acquire), "", nullptr, 0, &state);
  if (!error.empty()) return error;
  if (state.expected_leaf != nullptr) return "the last leaf has a next link";
  if (state.keys != size()) {
    return "size() is " + std::to_string(size()) + " but the leaves hold " +
           std::to_string(state.keys) + " keys";
  }
  return "";
}

std::string BTree::check_node(const Node* node, std::string_view low, const std::string* high,
                              size_t depth, CheckState* state) const {
  const std::string where = "node at depth " + std::to_string(depth) + ": ";
  if (depth >= kHeightMax) return where + "tree deeper than kHeightMax";
  if (node->low_fence != low) return where + "low fence differs from its parent's separator";
  std::vector<std::string> keys;
  std::vector<const Node*> children;
  const Node* next = nullptr;
  {
    sync::SharedGuard guard(node->latch);  // quiescent; one latch at a time
    if (node->heads.size() != node->slots.size()) return where + "heads and slots differ in number";
    size_t live_bytes = 0;
    for (size_t i = 0; i < node->slots.size(); ++i) {
      const Slot& s = node->slots[i];
      if (s.offset + s.size > node->bytes.size()) return where + "slot outside its key bytes";
      keys.emplace_back(node->key(i));
      if (node->heads[i] != key_head(keys.back())) return where + "slot head differs from its key";
      live_bytes += s.size;
      if (!node->leaf) children.push_back(node->child(i));
    }
    if (live_bytes + node->garbage_bytes != node->bytes.size())
      return where + "key bytes and garbage do not add up";
    if (!node->leaf) children.push_back(node->child(node->slots.size()));
    next = node->next;
  }
  const size_t n = keys.size();
  if (n > node_keys_max_) return where + "more than node_keys_max keys";
  for (size_t i = 0; i + 1 < n; ++i) {
    if (compare_keys(keys[i], keys[i + 1]) >= 0) return where + "keys not strictly increasing";
  }
  if (n > 0 && compare_keys(keys.front(), low) < (node->leaf ? 0 : 1))
    return where + "key below the node's lower bound";
  if (n > 0 && high != nullptr && compare_keys(keys.back(), *high) >= 0)
    return where + "key not below the node's upper bound";

  if (node->leaf) {
    if (state->seen_leaf && depth != state->leaf_depth) return where + "leaves at two depths";
    if (state->seen_leaf && state->expected_leaf != node) return where + "leaf chain skips";
    if (n > 0 && state->has_last_key && compare_keys(state->last_key, keys.front()) >= 0)
      return where + "keys not increasing across leaves";
    state->seen_leaf = true;
    state->leaf_depth = depth;
    state->expected_leaf = next;
    if (n > 0) {
      state->last_key = keys.back();
      state->has_last_key = true;
    }
    state->keys += n;
    return "";
  }
  if (next != nullptr) return where + "inner node with a next link";
  const bool is_root = depth == 0;
  if (n < (is_root ? size_t{1} : size_t{node_keys_max_ / 2}))
    return where + "inner node below its minimum fill";
  for (size_t i = 0; i <= n; ++i) {
    const std::string_view child_low = i == 0 ? low : std::string_view(keys[i - 1]);
    const std::string* child_high = i == n ? high : &keys[i];
    std::string error = check_node(children[i], child_low, child_high, depth + 1, state);
    if (!error.empty()) return error;
  }
  return "";
}

}  // namespace ringdb::daemon
