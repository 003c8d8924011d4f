// BTree: node layout, optimistic and latched descents, the inserts, removal, scans, self-check.
// The concurrency protocol and its invariants are in btree.h.
//
// Memory model. Node contents are read by optimistic readers while a writer may change them,
// so every field a reader can see is a std::atomic, accessed relaxed (x86: plain moves), except
// the words that let a reader reach other memory (children, `next`, payloads, long-key rests),
// which are stored with release and loaded with acquire. What an optimistic reader read is used
// only after its node's version validated it (Node::validate), and never dereferenced before.
//
// Thread-safety analysis: functions that change a node are annotated REQUIRES(node->latch).
// The functions that hand latches over from node to node (the latch_* and descend functions,
// insert_pessimistic, merge_up, merge_children) hold a set of latches the analysis cannot
// name, so they are NO_THREAD_SAFETY_ANALYSIS; they return their leaf latched and the caller states
// it with assert_held(), after which the analysis checks the caller again.
#include "daemon/index/btree.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

#include "daemon/index/epoch.h"
#include "sync/fence.h"
#include "sync/spin.h"
#include "sync/thread_annotations.h"

namespace ringdb::daemon {
namespace {

using sync::Priority;

// The deepest tree: a level is added only by a root split, which needs twice as many leaves
// as the previous one, and a leaf exists only after ~node_keys_max / 2 inserts. 2^63 splits
// are not reachable.
constexpr size_t kHeightMax = 64;

// A node keeps at most this many bytes of its keys' common prefix (a longer one is cut: any
// prefix of a common prefix is one too).
constexpr size_t kPrefixMax = 64;
constexpr size_t kPrefixWords = kPrefixMax / 8;

// A suffix (key minus the node's prefix) of up to kInlineMax bytes lives in its slot (8 bytes
// of head, 8 of rest); a longer one keeps its bytes after the head in a separate block.
constexpr size_t kHeadBytes = 8;
constexpr size_t kInlineMax = 16;

// How many entries ahead a scan prefetches the payloads it hands to the visitor.
constexpr size_t kPayloadPrefetchAhead = 8;

// An optimistic operation that found its nodes changing this many times takes latches.
constexpr int kOptimisticAttempts = 8;
// Pauses a reader waits for a node being changed to become stable before it restarts.
constexpr int kStableWaitPauses = 256;

// search() could not finish: a version it depended on changed.
constexpr size_t kRestart = std::numeric_limits<size_t>::max();
constexpr int kCompareRestart = std::numeric_limits<int>::min();

// Three-way comparison as unsigned bytes; a proper prefix sorts first.
int compare_keys(std::string_view a, std::string_view b) {
  const size_t common = std::min(a.size(), b.size());
  if (common != 0) {
    const int c = std::memcmp(a.data(), b.data(), common);
    if (c != 0) return c;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

int compare_sizes(size_t a, size_t b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

// Up to 8 bytes in a word as memory holds them (zero-padded), and back.
uint64_t pack_word(const char* bytes, size_t n) {
  uint64_t w = 0;
  if (n != 0) std::memcpy(&w, bytes, std::min<size_t>(n, 8));
  return w;
}
// A packed word as a big-endian integer: words compare as their bytes do.
uint64_t ordered(uint64_t packed) {
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap64(packed);
  return packed;
}
uint64_t head_of(std::string_view s) {
  return ordered(pack_word(s.data(), s.size()));
}

// The shortest key s with left < s <= right (REQUIRES: left < right). A prefix of `right`.
// Shorter separators make inner nodes smaller; any s in that interval would be correct.
std::string_view shortest_separator(std::string_view left, std::string_view right) {
  size_t i = 0;
  while (i < left.size() && left[i] == right[i])
    ++i;
  return right.substr(0, i + 1);
}

size_t common_prefix_size(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i])
    ++i;
  return i;
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

// A long suffix's bytes after its head, in zero-padded words. Immutable once published.
size_t long_rest_bytes(size_t rest_size) {
  return (rest_size + 7) / 8 * 8;
}
uint64_t* new_long_rest(std::string_view rest) {
  auto* block = new uint64_t[long_rest_bytes(rest.size()) / 8]();
  std::memcpy(block, rest.data(), rest.size());
  return block;
}
void delete_long_rest(void* block) {
  delete[] static_cast<uint64_t*>(block);
}

// Appends a slot's suffix to *out: its head's bytes, then its bytes after the head, which
// `rest` points at (the packed rest word for suffixes up to kInlineMax, else their block).
void append_suffix(uint64_t head, size_t size, const char* rest, std::string* out) {
  const uint64_t packed_head = ordered(head);
  out->append(reinterpret_cast<const char*>(&packed_head), std::min(size, kHeadBytes));
  if (size > kHeadBytes) out->append(rest, size - kHeadBytes);
}

// Entries copied out of nodes (or on their way in), their keys in one buffer: a split or a
// merge allocates twice, not once per key.
class EntryList {
 public:
  void add(std::string_view key, void* ptr) {
    items_.push_back(Item{bytes_.size(), key.size(), ptr});
    bytes_.append(key);
  }
  // Appends a key built by `build(std::string*)` (which appends it to the buffer).
  template <typename Build>
  void add_built(void* ptr, Build&& build) {
    const size_t offset = bytes_.size();
    build(&bytes_);
    items_.push_back(Item{offset, bytes_.size() - offset, ptr});
  }
  void insert(size_t i, std::string_view key, void* ptr) {
    items_.insert(items_.begin() + static_cast<std::ptrdiff_t>(i),
                  Item{bytes_.size(), key.size(), ptr});
    bytes_.append(key);
  }
  size_t size() const { return items_.size(); }
  std::string_view key(size_t i) const {
    return std::string_view(bytes_.data() + items_[i].offset, items_[i].size);
  }
  void* ptr(size_t i) const { return items_[i].ptr; }

 private:
  struct Item {
    size_t offset;
    size_t size;
    void* ptr;
  };
  std::string bytes_;
  std::vector<Item> items_;
};

// Entries [from, to) of an EntryList.
struct EntryRange {
  const EntryList* list;
  size_t from;
  size_t to;

  EntryRange(const EntryList& l) : list(&l), from(0), to(l.size()) {}  // NOLINT: the whole list
  EntryRange(const EntryList& l, size_t begin, size_t end) : list(&l), from(begin), to(end) {}
  size_t size() const { return to - from; }
  bool empty() const { return from == to; }
  std::string_view key(size_t i) const { return list->key(from + i); }
  void* ptr(size_t i) const { return list->ptr(from + i); }
};

}  // namespace

// Collected (key, payload) pairs of one leaf, visited after the leaf was read.
class BTree::ScanBatch {
 public:
  // A slot as copied by an optimistic reader. Once the copy is validated, finish() keeps the
  // node's prefix and the bytes of long rests (rest becomes their offset in long_rests_), so
  // that keys are decoded only when they are delivered, without any pin held.
  struct Raw {
    uint64_t head;
    uint64_t rest;
    void* payload;
    uint32_t size;
  };

  ScanBatch() = default;

  // A batch for the calling thread, reused across its scans (no allocation per scan once its
  // buffers have grown); nested scans (from a visitor) each get their own.
  class Lease {
   public:
    Lease() {
      if (free_list().empty()) {
        batch_ = std::make_unique<ScanBatch>();
      } else {
        batch_ = std::move(free_list().back());
        free_list().pop_back();
      }
    }
    ~Lease() { free_list().push_back(std::move(batch_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ScanBatch& operator*() { return *batch_; }
    ScanBatch* operator->() { return batch_.get(); }

   private:
    static std::vector<std::unique_ptr<ScanBatch>>& free_list() {
      thread_local std::vector<std::unique_ptr<ScanBatch>> batches;
      return batches;
    }
    std::unique_ptr<ScanBatch> batch_;
  };

  std::vector<Raw>& raw() { return raw_; }
  // REQUIRES: raw() holds slots of a validated read, under a pin (long rests are followed).
  void finish(std::string_view prefix) {
    prefix_.assign(prefix);
    long_rests_.clear();
    for (Raw& r : raw_) {
      if (r.size <= kInlineMax) continue;
      const size_t offset = long_rests_.size();
      long_rests_.append(reinterpret_cast<const char*>(r.rest), r.size - kHeadBytes);
      r.rest = offset;
    }
  }
  size_t size() const { return raw_.size(); }
  void pop_back() { raw_.pop_back(); }
  // Key i, valid until the next call.
  std::string_view key(size_t i) {
    const Raw& r = raw_[i];
    key_.assign(prefix_);
    append_suffix(
        r.head, r.size,
        r.size > kInlineMax ? long_rests_.data() + r.rest : reinterpret_cast<const char*>(&r.rest),
        &key_);
    return key_;
  }

  // Visits the entries in order, counting calls in *visited. False: `visit` asked to stop.
  // A visitor usually follows the payload (the engine: to the key's version chain, then to
  // its newest version): cache misses one after the other, unless started ahead. The payload
  // is prefetched kPayloadPrefetchAhead entries before its visit, and `warm` (the tree's
  // BTreeOptions::payload_prefetch) called on it half as many entries before.
  bool deliver(const KeyVisitor& visit, PayloadPrefetch warm, size_t* visited) {
    const size_t n = raw_.size();
    constexpr size_t kWarmAhead = kPayloadPrefetchAhead / 2;
    for (size_t i = 0; i < std::min(n, kPayloadPrefetchAhead); ++i)
      __builtin_prefetch(raw_[i].payload);
    if (warm != nullptr) {
      for (size_t i = 0; i < std::min(n, kWarmAhead); ++i)
        warm(raw_[i].payload);
    }
    for (size_t i = 0; i < n; ++i) {
      if (i + kPayloadPrefetchAhead < n)
        __builtin_prefetch(raw_[i + kPayloadPrefetchAhead].payload);
      if (warm != nullptr && i + kWarmAhead < n) warm(raw_[i + kWarmAhead].payload);
      ++*visited;
      if (!visit(key(i), raw_[i].payload)) return false;
    }
    return true;
  }

 private:
  std::vector<Raw> raw_;
  std::string prefix_;
  std::string long_rests_;
  std::string key_;
};

// A node: a fixed-size header and four slot arrays in one allocation.
//
// A slot holds an entry: a key (its suffix after the node's prefix) and a pointer (leaf: the
// payload; inner node: the child right of this separator). The suffix is split in three: its
// first 8 bytes as a big-endian word (heads), its length (sizes), and the bytes after the head
// (rests): packed in the word itself for suffixes up to 16 bytes, else a pointer to a block
// (new_long_rest). A binary search reads heads only, until two heads tie.
//
// `level`, `leaf`, `capacity` and `low_fence` are immutable (invariants 1 and 3); the rest
// changes only under the latch in X, between begin_write() and end_write(), which make
// `version` odd and then even again. A node merged into its left sibling is left empty and
// `obsolete`, unreachable from the root, and retired (invariant 2).
struct alignas(64) BTree::Node {
  // What a descent reads first, in the first two cache lines.
  std::atomic<uint64_t> version{0};
  std::atomic<uint32_t> count{0};
  std::atomic<uint32_t> prefix_size{0};
  const bool leaf;
  std::atomic<bool> obsolete{false};
  const uint32_t level;     // 0 for leaves; a parent is one above its children
  const uint32_t capacity;  // slots: node_keys_max + 1 (an insert may overflow before a split)
  std::atomic<Node*> first_child{nullptr};          // inner: left of every separator
  std::atomic<Node*> next{nullptr};                 // leaf: right sibling
  std::atomic<uint64_t> prefix[kPrefixWords] = {};  // packed words
  // Writers and latched readers.
  mutable sync::PriorityRwLatch latch;
  const std::string low_fence;

  Node(uint32_t height, std::string_view fence, sync::LatchStats* stats, uint32_t slots)
      : leaf(height == 0), level(height), capacity(slots), latch(stats), low_fence(fence) {}

  static size_t arrays_offset() { return (sizeof(Node) + 63) / 64 * 64; }
  static size_t bytes_for(uint32_t capacity) {
    return arrays_offset() + size_t{capacity} * (3 * sizeof(uint64_t) + sizeof(uint32_t));
  }

  static Node* create(uint32_t height, std::string_view fence, sync::LatchStats* stats,
                      uint32_t capacity) {
    void* memory = ::operator new (bytes_for(capacity), std::align_val_t{64});
    Node* node = new (memory) Node(height, fence, stats, capacity);
    for (size_t i = 0; i < 3 * size_t{capacity}; ++i)
      new (&node->words()[i]) std::atomic<uint64_t>(0);
    for (size_t i = 0; i < capacity; ++i)
      new (&node->sizes()[i]) std::atomic<uint32_t>(0);
    return node;
  }
  static void destroy(Node* node) {
    node->~Node();
    ::operator delete (node, std::align_val_t{64});
  }
  static void destroy_retired(void* node) { destroy(static_cast<Node*>(node)); }

  std::atomic<uint64_t>* words() const {
    return reinterpret_cast<std::atomic<uint64_t>*>(
        const_cast<char*>(reinterpret_cast<const char*>(this)) + arrays_offset());
  }
  std::atomic<uint64_t>* heads() const { return words(); }
  std::atomic<uint64_t>* rests() const { return words() + capacity; }
  std::atomic<uint64_t>* ptrs() const { return words() + 2 * size_t{capacity}; }
  std::atomic<uint32_t>* sizes() const {
    return reinterpret_cast<std::atomic<uint32_t>*>(words() + 3 * size_t{capacity});
  }

  // ---- Reading (optimistically, or under the latch) ----

  // The entry count, clamped: an optimistic reader may see a count being changed.
  size_t entries() const {
    return std::min<size_t>(count.load(std::memory_order_relaxed), capacity);
  }
  void* ptr(size_t i) const {
    return reinterpret_cast<void*>(ptrs()[i].load(std::memory_order_acquire));
  }
  // Child i of an inner node, 0 <= i <= entries().
  Node* child(size_t i) const {
    return i == 0 ? first_child.load(std::memory_order_acquire) : static_cast<Node*>(ptr(i - 1));
  }

  // Waits (briefly) for a stable version. False: the node stayed in change; restart.
  bool read_begin(uint64_t* v) const {
    for (int i = 0; i < kStableWaitPauses; ++i) {
      const uint64_t x = version.load(std::memory_order_acquire);
      if ((x & 1) == 0) {
        *v = x;
        return true;
      }
      sync::cpu_relax();
    }
    return false;
  }
  // True if nothing changed since read_begin returned v: what was read since is consistent.
  bool validate(uint64_t v) const {
    sync::acquire_fence();
    return version.load(std::memory_order_relaxed) == v;
  }

  // The prefix, copied out (optimistic readers validate before trusting it).
  size_t copy_prefix(char* out) const {
    const size_t n = std::min<size_t>(prefix_size.load(std::memory_order_relaxed), kPrefixMax);
    for (size_t w = 0; w * 8 < n; ++w) {
      const uint64_t word = prefix[w].load(std::memory_order_relaxed);
      std::memcpy(out + w * 8, &word, 8);
    }
    return n;
  }

  // Appends key i to *out from the copied prefix. The caller may follow the rest pointer
  // (latched, or validated and pinned).
  static void append_key(std::string_view prefix_bytes, uint64_t head, size_t size, uint64_t rest,
                         std::string* out) {
    out->append(prefix_bytes);
    append_suffix(head, size,
                  size > kInlineMax ? reinterpret_cast<const char*>(rest)
                                    : reinterpret_cast<const char*>(&rest),
                  out);
  }
  std::string key(size_t i) const REQUIRES_SHARED(latch) {
    char p[kPrefixMax];
    const size_t n = copy_prefix(p);
    std::string out;
    append_key(std::string_view(p, n), heads()[i].load(std::memory_order_relaxed),
               sizes()[i].load(std::memory_order_relaxed),
               rests()[i].load(std::memory_order_acquire), &out);
    return out;
  }
  // Appends every entry, whole keys, to *out.
  void copy_entries(EntryList* out) const REQUIRES_SHARED(latch) {
    char p[kPrefixMax];
    const std::string_view prefix_bytes(p, copy_prefix(p));
    for (size_t i = 0; i < entries(); ++i) {
      out->add_built(ptr(i), [&](std::string* bytes) {
        append_key(prefix_bytes, heads()[i].load(std::memory_order_relaxed),
                   sizes()[i].load(std::memory_order_relaxed),
                   rests()[i].load(std::memory_order_acquire), bytes);
      });
    }
  }

  // ---- Changing (under the latch in X, between begin_write and end_write) ----

  void begin_write() REQUIRES(latch) {
    version.store(version.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    sync::release_fence();
  }
  void end_write() REQUIRES(latch) {
    version.store(version.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  void set_prefix(std::string_view p) REQUIRES(latch) {
    assert(p.size() <= kPrefixMax);
    for (size_t w = 0; w < kPrefixWords; ++w) {
      const size_t from = w * 8;
      const uint64_t word = from < p.size() ? pack_word(p.data() + from, p.size() - from) : 0;
      prefix[w].store(word, std::memory_order_relaxed);
    }
    prefix_size.store(static_cast<uint32_t>(p.size()), std::memory_order_relaxed);
  }
  // Writes slot i from a suffix (the key minus the prefix) and a pointer.
  void set_slot(size_t i, std::string_view suffix, void* p, Heap* heap) REQUIRES(latch) {
    uint64_t rest = 0;
    if (suffix.size() > kInlineMax) {
      rest = reinterpret_cast<uint64_t>(new_long_rest(suffix.substr(kHeadBytes)));
      heap->long_rest_bytes.fetch_add(long_rest_bytes(suffix.size() - kHeadBytes),
                                      std::memory_order_relaxed);
    } else if (suffix.size() > kHeadBytes) {
      rest = pack_word(suffix.data() + kHeadBytes, suffix.size() - kHeadBytes);
    }
    heads()[i].store(head_of(suffix), std::memory_order_relaxed);
    sizes()[i].store(static_cast<uint32_t>(suffix.size()), std::memory_order_relaxed);
    rests()[i].store(rest, std::memory_order_release);
    ptrs()[i].store(reinterpret_cast<uint64_t>(p), std::memory_order_release);
  }
  void copy_slot(size_t to, size_t from) REQUIRES(latch) {
    heads()[to].store(heads()[from].load(std::memory_order_relaxed), std::memory_order_relaxed);
    sizes()[to].store(sizes()[from].load(std::memory_order_relaxed), std::memory_order_relaxed);
    rests()[to].store(rests()[from].load(std::memory_order_relaxed), std::memory_order_release);
    ptrs()[to].store(ptrs()[from].load(std::memory_order_relaxed), std::memory_order_release);
  }
  // Hands slot i's long-rest block (if any) to the retire list: readers may still read it.
  void retire_slot(size_t i, Heap* heap) REQUIRES(latch) {
    const size_t size = sizes()[i].load(std::memory_order_relaxed);
    if (size <= kInlineMax) return;
    heap->long_rest_bytes.fetch_sub(long_rest_bytes(size - kHeadBytes), std::memory_order_relaxed);
    heap->retired.retire(reinterpret_cast<void*>(rests()[i].load(std::memory_order_relaxed)),
                         delete_long_rest);
  }
  // Replaces every entry by `entries` (sorted), with their common prefix recomputed.
  void rebuild(EntryRange fresh, Heap* heap) REQUIRES(latch) {
    assert(fresh.size() <= capacity);
    for (size_t i = 0; i < entries(); ++i)
      retire_slot(i, heap);
    size_t p = 0;
    if (!fresh.empty()) {
      p = std::min(common_prefix_size(fresh.key(0), fresh.key(fresh.size() - 1)), kPrefixMax);
      set_prefix(fresh.key(0).substr(0, p));
    } else {
      set_prefix("");
    }
    for (size_t i = 0; i < fresh.size(); ++i)
      set_slot(i, fresh.key(i).substr(p), fresh.ptr(i), heap);
    count.store(static_cast<uint32_t>(fresh.size()), std::memory_order_relaxed);
  }
  // Inserts (key, p) at position i. A key outside the prefix shortens it (rebuild).
  void insert_at(size_t i, std::string_view key, void* p, Heap* heap) REQUIRES(latch) {
    const size_t n = entries();
    assert(n < capacity);
    char pre[kPrefixMax];
    const size_t pn = copy_prefix(pre);
    if (n == 0 || key.size() < pn || std::memcmp(key.data(), pre, pn) != 0) {
      EntryList all;
      copy_entries(&all);
      all.insert(i, key, p);
      rebuild(all, heap);
      return;
    }
    for (size_t j = n; j > i; --j)
      copy_slot(j, j - 1);
    set_slot(i, key.substr(pn), p, heap);
    count.store(static_cast<uint32_t>(n + 1), std::memory_order_relaxed);
  }
  void erase_at(size_t i, Heap* heap) REQUIRES(latch) {
    const size_t n = entries();
    retire_slot(i, heap);
    for (size_t j = i; j + 1 < n; ++j)
      copy_slot(j, j + 1);
    count.store(static_cast<uint32_t>(n - 1), std::memory_order_relaxed);
  }
};

enum class BTree::Seek : uint8_t {
  kKey,    // the leaf whose range holds the key
  kBelow,  // the leaf whose range holds the largest keys smaller than the key
  kLast,   // the rightmost leaf
};

// How an operation reads nodes: optimistically (each node at a version, validated before
// anything read from it is trusted or followed) or under latches (always valid). Every public
// operation holds an epoch pin, so what a validated read points to stays allocated.
class BTree::ReadContext {
 public:
  enum class Mode : uint8_t { kOptimistic, kLatched };
  explicit ReadContext(Mode mode = Mode::kOptimistic) : latched_(mode == Mode::kLatched) {}
  ReadContext(const ReadContext&) = delete;
  ReadContext& operator=(const ReadContext&) = delete;

  void at(const Node* node, uint64_t version) {
    node_ = node;
    version_ = version;
  }
  // Before following a pointer read from the current node: true if that is safe (the
  // operation's epoch pin keeps what it points to allocated once it is validated).
  bool may_follow() const { return latched_ || node_->validate(version_); }

 private:
  const Node* node_ = nullptr;
  uint64_t version_ = 0;
  bool latched_ = false;
};

// A key as seen from one node: below every entry, above every entry, or inside the prefix
// with its suffix split as the slots split theirs.
struct BTree::Probe {
  enum class Where : uint8_t { kBelow, kInside, kAbove } where = Where::kInside;
  uint64_t head = 0;
  size_t size = 0;
  std::string_view rest;  // suffix bytes after the head

  Probe(const Node* node, std::string_view key) {
    // The prefix and the key's first bytes compared a word at a time, as big-endian integers
    // (both zero-padded past the prefix's end), without copying the prefix out.
    const size_t n =
        std::min<size_t>(node->prefix_size.load(std::memory_order_relaxed), kPrefixMax);
    for (size_t from = 0; from < n; from += 8) {
      const size_t span = std::min<size_t>(8, n - from);
      const uint64_t mine = ordered(node->prefix[from / 8].load(std::memory_order_relaxed));
      const uint64_t theirs =
          ordered(pack_word(key.data() + std::min(from, key.size()),
                            std::min(span, key.size() - std::min(from, key.size()))));
      if (mine != theirs) {
        where = theirs < mine ? Where::kBelow : Where::kAbove;
        return;
      }
    }
    if (key.size() < n) {  // a proper prefix of the node's prefix: below every key
      where = Where::kBelow;
      return;
    }
    const std::string_view suffix = key.substr(n);
    head = head_of(suffix);
    size = suffix.size();
    if (size > kHeadBytes) rest = suffix.substr(kHeadBytes);
  }

  // Compares slot i of `node` (a probe of that node, kInside) with the probe's key: <0, 0,
  // >0, or kCompareRestart.
  int compare(const Node* node, size_t i, ReadContext* ctx) const {
    const uint64_t slot_head = node->heads()[i].load(std::memory_order_relaxed);
    if (slot_head != head) return slot_head < head ? -1 : 1;
    const size_t slot_size = node->sizes()[i].load(std::memory_order_relaxed);
    if (slot_size <= kHeadBytes || size <= kHeadBytes) return compare_sizes(slot_size, size);
    const uint64_t slot_rest = node->rests()[i].load(std::memory_order_acquire);
    const uint64_t* block = nullptr;
    if (slot_size > kInlineMax) {
      if (!ctx->may_follow()) return kCompareRestart;
      block = reinterpret_cast<const uint64_t*>(slot_rest);
    }
    const size_t common = std::min(slot_size - kHeadBytes, rest.size());
    for (size_t j = 0; j * 8 < common; ++j) {
      const uint64_t mine = ordered(block == nullptr ? slot_rest : block[j]);
      const uint64_t theirs = ordered(pack_word(rest.data() + j * 8, rest.size() - j * 8));
      if (mine != theirs) return mine < theirs ? -1 : 1;
    }
    return compare_sizes(slot_size, size);
  }
};

// The first slot whose key is >= the probe's (*exact: equal), or kRestart.
size_t BTree::search(const Node* node, const Probe& k, ReadContext* ctx, bool* exact) {
  *exact = false;
  const size_t n = node->entries();
  if (k.where == Probe::Where::kBelow) return 0;
  if (k.where == Probe::Where::kAbove) return n;
  if (n == 0) return 0;
  const std::atomic<uint64_t>* heads = node->heads();
  // Every line of the heads at once, and of the pointers (one of which the caller follows):
  // one memory latency instead of one per probe, and none after the search.
  const std::atomic<uint64_t>* ptrs = node->ptrs();
  for (size_t i = 0; i < n; i += 64 / sizeof(uint64_t)) {
    __builtin_prefetch(&heads[i]);
    __builtin_prefetch(&ptrs[i]);
  }
  // The first head >= the probe's, by a binary search without branches on the data (the
  // compiler makes the step a conditional move: no mispredictions).
  size_t base = 0;
  for (size_t len = n; len > 1;) {
    const size_t half = len / 2;
    base = heads[base + half - 1].load(std::memory_order_relaxed) < k.head ? base + half : base;
    len -= half;
  }
  size_t lo = base + (heads[base].load(std::memory_order_relaxed) < k.head ? 1 : 0);
  if (lo == n || heads[lo].load(std::memory_order_relaxed) != k.head) return lo;
  // Entries with the same head (keys that share their first 8 suffix bytes) are ordered by
  // the rest: a binary search with full comparisons among them only.
  size_t hi = lo + 1;
  while (hi < n && heads[hi].load(std::memory_order_relaxed) == k.head)
    hi = std::min(n, hi + (hi - lo));  // galloping: past the run in O(log run) steps
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    const int c = k.compare(node, mid, ctx);
    if (c == kCompareRestart) return kRestart;
    if (c < 0) {
      lo = mid + 1;
    } else {
      if (c == 0) *exact = true;
      hi = mid;
    }
  }
  return lo;
}

// The child a descent by `seek` takes, or kRestart.
size_t BTree::route(const Node* node, std::string_view key, Seek seek, ReadContext* ctx) {
  if (seek == Seek::kLast) return node->entries();
  bool exact = false;
  const size_t i = search(node, Probe(node, key), ctx, &exact);
  if (i == kRestart) return kRestart;
  // kKey: the child right of a separator equal to the key; kBelow: the one left of it.
  return seek == Seek::kKey && exact ? i + 1 : i;
}

BTree::BTree(BTreeOptions options)
    : node_keys_max_(options.node_keys_max),
      latch_stats_(options.latch_stats),
      payload_prefetch_(options.payload_prefetch) {
  assert(node_keys_max_ >= kNodeKeysMin && node_keys_max_ <= kNodeKeysMax);
  root_.store(new_node(0, ""), std::memory_order_release);
}

BTree::~BTree() {
  delete_subtree(root_.load(std::memory_order_acquire));
}

void BTree::delete_subtree(Node* node) {
  std::vector<Node*> children;
  {
    sync::ExclusiveGuard guard(node->latch);  // uncontended: only the analysis needs it
    if (!node->leaf) {
      for (size_t i = 0; i <= node->entries(); ++i)
        children.push_back(node->child(i));
    }
    for (size_t i = 0; i < node->entries(); ++i) {
      if (node->sizes()[i].load(std::memory_order_relaxed) > kInlineMax)
        delete_long_rest(reinterpret_cast<void*>(node->rests()[i].load(std::memory_order_relaxed)));
    }
  }
  for (Node* child : children)
    delete_subtree(child);
  Node::destroy(node);
}

BTree::Node* BTree::new_node(uint32_t level, std::string_view low_fence) {
  heap_.nodes.fetch_add(1, std::memory_order_relaxed);
  // One spare slot: an insert into a full node overflows it before the split.
  return Node::create(level, low_fence, latch_stats_, node_keys_max_ + 1);
}

// The header's first two cache lines, where a descent starts reading.
void BTree::prefetch_header(const Node* node) {
  const char* base = reinterpret_cast<const char*>(node);
  __builtin_prefetch(base);
  __builtin_prefetch(base + 64);
}

// Every line of a node (a scan's next leaf).
void BTree::prefetch_node(const Node* node) const {
  const char* base = reinterpret_cast<const char*>(node);
  const size_t bytes = Node::bytes_for(node_keys_max_ + 1);
  for (size_t offset = 0; offset < bytes; offset += 64)
    __builtin_prefetch(base + offset);
}

size_t BTree::memory_bytes() const {
  return heap_.nodes.load(std::memory_order_relaxed) * Node::bytes_for(node_keys_max_ + 1) +
         heap_.long_rest_bytes.load(std::memory_order_relaxed);
}

// ---- Optimistic descent -----------------------------------------------------------------

// Optimistic lock coupling: at each level, the child pointer is trusted only once the parent
// validated, and the child's version is read before the parent is validated again, so the
// child's contents at that version are the ones the parent routed to (a split changes the
// parent while the child's version is odd: see insert_pessimistic). False: restart.
bool BTree::descend_optimistic(std::string_view key, Seek seek, ReadContext* ctx, Node** leaf,
                               uint64_t* leaf_version) const {
  Node* node = root_.load(std::memory_order_acquire);
  uint64_t v = 0;
  if (!node->read_begin(&v)) return false;
  // A root that stopped being the root (invariant 4) changed its version doing so.
  if (root_.load(std::memory_order_acquire) != node) return false;
  while (!node->leaf) {
    ctx->at(node, v);
    const size_t i = route(node, key, seek, ctx);
    if (i == kRestart) return false;
    Node* child = node->child(i);
    prefetch_header(child);
    if (!node->validate(v)) return false;
    uint64_t cv = 0;
    if (!child->read_begin(&cv) || !node->validate(v)) return false;
    node = child;
    v = cv;
  }
  ctx->at(node, v);
  *leaf = node;
  *leaf_version = v;
  return true;
}

// ---- Latched descent (the fallback after kOptimisticAttempts, and for structure changes) --

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

// NO_THREAD_SAFETY_ANALYSIS: returns the root X-latched at Priority::kHigh, for a structure
// change (a split's or a merge's descent).
BTree::Node* BTree::latch_root_for_change() const NO_THREAD_SAFETY_ANALYSIS {
  for (;;) {
    Node* root = root_.load(std::memory_order_acquire);
    root->latch.lock(Priority::kHigh);
    if (root_.load(std::memory_order_relaxed) == root) return root;  // invariant 4
    root->latch.unlock();
  }
}

// NO_THREAD_SAFETY_ANALYSIS: latch coupling (hand over hand) down to a leaf, returned
// latched as latch_root describes. All at Priority::kRegular.
BTree::Node* BTree::descend(std::string_view key, Seek seek,
                            LeafMode leaf_mode) const NO_THREAD_SAFETY_ANALYSIS {
  ReadContext ctx(ReadContext::Mode::kLatched);
  Node* node = latch_root(leaf_mode);
  while (!node->leaf) {
    Node* child = node->child(route(node, key, seek, &ctx));
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

// ---- Point operations ---------------------------------------------------------------------

bool BTree::find(std::string_view key, void** payload) const {
  const epoch::Pin pin;  // the nodes it reads stay allocated (invariant 2)
  for (int attempt = 0; attempt < kOptimisticAttempts; ++attempt) {
    ReadContext ctx;
    Node* leaf = nullptr;
    uint64_t v = 0;
    if (!descend_optimistic(key, Seek::kKey, &ctx, &leaf, &v)) continue;
    bool exact = false;
    const size_t i = search(leaf, Probe(leaf, key), &ctx, &exact);
    if (i == kRestart) continue;
    void* found = exact ? leaf->ptr(i) : nullptr;
    if (!leaf->validate(v)) continue;
    if (exact) *payload = found;
    return exact;
  }
  Node* leaf = descend(key, Seek::kKey, LeafMode::kShared);
  leaf->latch.assert_held_shared();
  ReadContext ctx(ReadContext::Mode::kLatched);
  bool exact = false;
  const size_t i = search(leaf, Probe(leaf, key), &ctx, &exact);
  if (exact) *payload = leaf->ptr(i);
  leaf->latch.unlock_shared();
  return exact;
}

// NO_THREAD_SAFETY_ANALYSIS: returns the key's leaf latched in X, reached optimistically
// (only the leaf is latched) if that works within kOptimisticAttempts, else by latch coupling.
BTree::Node* BTree::latch_leaf_exclusive(std::string_view key) const NO_THREAD_SAFETY_ANALYSIS {
  for (int attempt = 0; attempt < kOptimisticAttempts; ++attempt) {
    ReadContext ctx;
    Node* leaf = nullptr;
    uint64_t v = 0;
    if (!descend_optimistic(key, Seek::kKey, &ctx, &leaf, &v)) continue;
    leaf->latch.lock();
    // Unchanged since the validated descent: it still holds the key's range.
    if (leaf->version.load(std::memory_order_relaxed) == v) return leaf;
    leaf->latch.unlock();
  }
  return descend(key, Seek::kKey, LeafMode::kExclusive);
}

void* BTree::insert_if_absent(std::string_view key, void* payload) {
  const epoch::Pin pin;
  Node* leaf = latch_leaf_exclusive(key);
  leaf->latch.assert_held();
  ReadContext ctx(ReadContext::Mode::kLatched);
  bool exact = false;
  const size_t i = search(leaf, Probe(leaf, key), &ctx, &exact);
  void* stored = payload;
  bool done = true;
  if (exact) {
    stored = leaf->ptr(i);
  } else if (leaf->entries() < node_keys_max_) {
    leaf->begin_write();
    leaf->insert_at(i, key, payload, &heap_);
    leaf->end_write();
    size_.fetch_add(1, std::memory_order_relaxed);
  } else {
    done = false;  // the leaf must split: start again, pessimistically
  }
  leaf->latch.unlock();
  return done ? stored : insert_pessimistic(key, payload);
}

// NO_THREAD_SAFETY_ANALYSIS: holds X latches on a path of nodes kept in an array (crabbing).
void* BTree::insert_pessimistic(std::string_view key, void* payload) NO_THREAD_SAFETY_ANALYSIS {
  ReadContext ctx(ReadContext::Mode::kLatched);
  // held[0 .. depth) are X-latched, each the parent of the next; every one but the last is
  // full, so a split of the last may propagate up through all of them.
  std::array<Node*, kHeightMax> held{};
  size_t depth = 0;
  Node* node = latch_root_for_change();
  held[depth++] = node;
  for (;;) {
    if (node->entries() < node_keys_max_) {  // cannot split: ancestors will not change
      for (size_t j = 0; j + 1 < depth; ++j)
        held[j]->latch.unlock();
      held[0] = node;
      depth = 1;
    }
    if (node->leaf) break;
    Node* child = node->child(route(node, key, Seek::kKey, &ctx));
    child->latch.lock(Priority::kHigh);
    assert(depth < kHeightMax);
    held[depth++] = child;
    node = child;
  }

  void* stored = payload;
  bool exact = false;
  const size_t i = search(node, Probe(node, key), &ctx, &exact);
  if (exact) {
    stored = node->ptr(i);  // inserted by someone else meanwhile
  } else {
    // Every node that may change is odd for the whole change: a reader that saw a child's
    // new contents cannot then validate the parent that routed to it (descend_optimistic).
    for (size_t j = 0; j < depth; ++j)
      held[j]->begin_write();
    node->insert_at(i, key, payload, &heap_);
    size_.fetch_add(1, std::memory_order_relaxed);
    // A key appended after every other key of its leaf (ascending keys: a load, a log, a
    // queue) splits the leaf where it was appended, leaving it full rather than half empty.
    bool appended = i + 1 == node->entries();
    for (size_t level = depth - 1; node->entries() > node_keys_max_; --level) {
      std::string separator;
      Node* right = split(node, appended, &separator);
      appended = false;  // inner nodes split in the middle
      if (level == 0) {  // only a full root is kept latched at level 0 after overflowing
        assert(root_.load(std::memory_order_relaxed) == node);
        grow_root(node, separator, right);
        break;
      }
      Node* parent = held[level - 1];
      bool parent_exact = false;
      const size_t pos = search(parent, Probe(parent, separator), &ctx, &parent_exact);
      assert(!parent_exact && parent->child(pos) == node);
      parent->insert_at(pos, separator, right, &heap_);
      node = parent;
    }
    for (size_t j = 0; j < depth; ++j)
      held[j]->end_write();
  }
  for (size_t j = 0; j < depth; ++j)
    held[j]->latch.unlock();
  return stored;
}

// ---- Appending in key order -----------------------------------------------------------

BTree::Appender::Appender(BTree* tree) : tree_(tree), empty_(true) {
  // The largest key, as a reverse scan finds it (whatever removals and merges left).
  tree_->scan({}, true, 1, [this](std::string_view key, void*) {
    last_.assign(key);
    empty_ = false;
    return false;
  });
}

bool BTree::Appender::append(std::string_view key, void* payload) {
  if (!empty_ && compare_keys(key, last_) <= 0) return false;
  // No other writer (the class's contract): leaf_ stays the rightmost leaf between calls, and
  // nothing frees it, so no pin is needed to use it.
  if (Node* leaf = leaf_; leaf != nullptr) {
    sync::ExclusiveGuard guard(leaf->latch);
    if (leaf->entries() < tree_->node_keys_max_) {
      leaf->begin_write();
      leaf->insert_at(leaf->entries(), key, payload, &tree_->heap_);
      leaf->end_write();
      tree_->size_.fetch_add(1, std::memory_order_relaxed);
      last_.assign(key);
      empty_ = false;
      return true;
    }
  }
  // The leaf is full (or not known yet): the insert splits it after its last entry, and the
  // new rightmost leaf holds this key alone.
  [[maybe_unused]] void* stored = tree_->insert_if_absent(key, payload);
  assert(stored == payload);
  const epoch::Pin pin;
  Node* leaf = tree_->descend(key, Seek::kLast, LeafMode::kShared);
  leaf->latch.assert_held_shared();
  leaf_ = leaf;
  leaf->latch.unlock_shared();
  last_.assign(key);
  empty_ = false;
  return true;
}

// ---- Structure changes ------------------------------------------------------------------

BTree::Node* BTree::split(Node* node, bool appended, std::string* separator) REQUIRES(node->latch) {
  EntryList all;
  node->copy_entries(&all);
  const size_t n = all.size();
  const size_t mid = node->leaf && appended ? n - 1 : n / 2;
  // Leaf: entries [mid, n) move right; the separator only needs to fall between the halves.
  // Inner: entry mid's key moves up, its child becomes the new node's first child.
  Node* right = nullptr;
  if (node->leaf) {
    separator->assign(shortest_separator(all.key(mid - 1), all.key(mid)));
    right = new_node(0, *separator);
    sync::ExclusiveGuard guard(right->latch);  // not yet reachable: only the analysis needs it
    right->rebuild(EntryRange(all, mid, n), &heap_);
    right->next.store(node->next.load(std::memory_order_relaxed), std::memory_order_relaxed);
  } else {
    separator->assign(all.key(mid));
    right = new_node(node->level, *separator);
    sync::ExclusiveGuard guard(right->latch);
    right->first_child.store(static_cast<Node*>(all.ptr(mid)), std::memory_order_relaxed);
    right->rebuild(EntryRange(all, mid + 1, n), &heap_);
  }
  // Published with the parent's separator, while both are odd (insert_pessimistic).
  if (node->leaf) node->next.store(right, std::memory_order_release);
  node->rebuild(EntryRange(all, 0, mid), &heap_);
  return right;
}

void BTree::grow_root(Node* old_root, std::string_view separator, Node* right)
    REQUIRES(old_root->latch) {
  Node* root = new_node(old_root->level + 1, "");
  {
    sync::ExclusiveGuard guard(root->latch);  // not yet reachable: only the analysis needs it
    root->first_child.store(old_root, std::memory_order_relaxed);
    EntryList entry;
    entry.add(separator, right);
    root->rebuild(entry, &heap_);
  }
  // Release: a thread that loads the new root sees it initialized (invariant 4). The old
  // root is odd until after this store, so an optimistic reader that entered through it
  // fails its validation.
  root_.store(root, std::memory_order_release);
}

bool BTree::remove_if(std::string_view key, void* expected) {
  const epoch::Pin pin;
  Node* leaf = latch_leaf_exclusive(key);
  leaf->latch.assert_held();
  ReadContext ctx(ReadContext::Mode::kLatched);
  bool exact = false;
  const size_t i = search(leaf, Probe(leaf, key), &ctx, &exact);
  const bool removed = exact && leaf->ptr(i) == expected;
  bool underfull = false;
  if (removed) {
    leaf->begin_write();
    leaf->erase_at(i, &heap_);
    leaf->end_write();
    size_.fetch_sub(1, std::memory_order_relaxed);
    underfull = leaf->entries() <= merge_below();
  }
  leaf->latch.unlock();
  if (underfull) merge_up(key);
  return removed;
}

// ---- Merges -------------------------------------------------------------------------------

// A node with at most this many entries after a removal tries to merge with a sibling; two
// siblings merge if the result fits in one node.
size_t BTree::merge_below() const {
  return node_keys_max_ / 4;
}

// NO_THREAD_SAFETY_ANALYSIS: couples X latches down the key's path (kHigh, as a split does) to
// the node whose children are at `level`, then merges there; repeats one level up while the
// merge left the parent underfull.
void BTree::merge_up(std::string_view key) NO_THREAD_SAFETY_ANALYSIS {
  ReadContext ctx(ReadContext::Mode::kLatched);
  for (uint32_t level = 0;; ++level) {
    Node* parent = latch_root_for_change();
    if (parent->level <= level) {  // the tree is no taller than that (any more)
      parent->latch.unlock();
      return;
    }
    while (parent->level > level + 1) {
      Node* child = parent->child(route(parent, key, Seek::kKey, &ctx));
      child->latch.lock(Priority::kHigh);
      parent->latch.unlock();
      parent = child;
    }
    const bool parent_underfull = merge_children(parent, route(parent, key, Seek::kKey, &ctx));
    parent->latch.unlock();
    if (!parent_underfull) return;
  }
}

// Merges child i of `parent` with its right sibling (its left one if it is the last child)
// if both fit in one node: the right one's entries move into the left one (for inner
// nodes, with the parent's separator between them pulled down), the right one is left empty
// and obsolete and retired, and the parent loses the separator. A root left with one child
// hands the root over to it (invariant 4). Returns true if the parent, not the root, is now
// underfull. NO_THREAD_SAFETY_ANALYSIS: latches the two children (left, then right: the
// order every merge uses, and nobody latches a node's left sibling while holding it).
bool BTree::merge_children(Node* parent, size_t i) NO_THREAD_SAFETY_ANALYSIS {
  const size_t n = parent->entries();
  const bool is_root = root_.load(std::memory_order_relaxed) == parent;
  if (n == 0) return !is_root;         // one child: nothing to merge it with under this parent
  const size_t a = i < n ? i : n - 1;  // children a and a + 1, across separator a
  Node* left = parent->child(a);
  Node* right = parent->child(a + 1);
  left->latch.lock(Priority::kHigh);
  right->latch.lock(Priority::kHigh);
  const size_t pulled_down = left->leaf ? 0 : 1;
  if (left->entries() + pulled_down + right->entries() > node_keys_max_) {
    right->latch.unlock();
    left->latch.unlock();
    return false;
  }
  EntryList merged;
  left->copy_entries(&merged);
  if (!left->leaf) merged.add(parent->key(a), right->first_child.load(std::memory_order_relaxed));
  right->copy_entries(&merged);
  // All three odd for the whole change: a reader that saw any of them changed restarts.
  parent->begin_write();
  left->begin_write();
  right->begin_write();
  left->rebuild(merged, &heap_);
  if (left->leaf)
    left->next.store(right->next.load(std::memory_order_relaxed), std::memory_order_release);
  right->rebuild(EntryList(), &heap_);
  right->obsolete.store(true, std::memory_order_relaxed);
  parent->erase_at(a, &heap_);
  const bool collapse = is_root && parent->entries() == 0;
  if (collapse) {
    parent->obsolete.store(true, std::memory_order_relaxed);
    root_.store(left, std::memory_order_release);
  }
  right->end_write();
  left->end_write();
  parent->end_write();
  right->latch.unlock();
  left->latch.unlock();
  // Pinned readers may still be inside them: freed once none can be (epoch.h).
  retire_node(right);
  if (collapse) retire_node(parent);  // still latched by our caller: freed after its unlock
  return !is_root && parent->entries() <= merge_below();
}

void BTree::retire_node(Node* node) {
  heap_.nodes.fetch_sub(1, std::memory_order_relaxed);
  heap_.retired.retire(node, Node::destroy_retired);
}

// ---- Scans --------------------------------------------------------------------------------

// The keys a scan visits, from BTreeRange: lo <= key < hi.
struct BTree::Bounds {
  std::string lo;
  std::string hi;
  bool has_hi = false;
};

// Where a scan reads a leaf from: the first key >= *key (or every key, if null), going up, or
// the keys below it going down.
struct BTree::SearchFrom {
  const std::string* key;
  bool down;
  bool after = false;  // strictly after *key (it was delivered already)
};

size_t BTree::scan(const BTreeRange& range, bool reverse, size_t limit, KeyVisitor visit) const {
  // For the whole scan, visitor calls included: the scan keeps pointers to leaves between
  // them (`next`), which a merge could otherwise free.
  const epoch::Pin pin;
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

// Copies up to `max` keys of `leaf` into *batch, from slot `from` up (or down from `from`,
// exclusive, if `down`), and returns false if the leaf changed meanwhile (then *batch holds
// garbage). Long-key blocks are followed only after validation, under the caller's pin.
bool BTree::copy_leaf(const Node* leaf, uint64_t v, size_t from, bool down, size_t max,
                      ScanBatch* batch) {
  char prefix_bytes[kPrefixMax];
  const size_t prefix_size = leaf->copy_prefix(prefix_bytes);
  const size_t n = leaf->entries();
  from = std::min(from, n);
  const size_t take = std::min(max, down ? from : n - from);
  std::vector<ScanBatch::Raw>& raw = batch->raw();
  raw.resize(take);
  for (size_t k = 0; k < take; ++k) {
    const size_t i = down ? from - 1 - k : from + k;
    raw[k] = ScanBatch::Raw{leaf->heads()[i].load(std::memory_order_relaxed),
                            leaf->rests()[i].load(std::memory_order_acquire), leaf->ptr(i),
                            leaf->sizes()[i].load(std::memory_order_relaxed)};
  }
  if (!leaf->validate(v)) return false;
  batch->finish(std::string_view(prefix_bytes, prefix_size));
  return true;
}

// Reads what a scan wants from `leaf` at version v (see copy_leaf): the keys from `from` up
// or down. *next: the leaf's right sibling at that version. False: the leaf changed.
bool BTree::read_at(const Node* leaf, uint64_t v, const SearchFrom& from, size_t max,
                    ReadContext* ctx, ScanBatch* batch, Node** next) {
  ctx->at(leaf, v);
  size_t start = from.down ? leaf->entries() : 0;
  if (from.key != nullptr) {
    bool exact = false;
    start = search(leaf, Probe(leaf, *from.key), ctx, &exact);
    if (start == kRestart) return false;
    if (from.after && exact) ++start;
  }
  *next = leaf->next.load(std::memory_order_acquire);
  return copy_leaf(leaf, v, start, from.down, max, batch);
}

// Reads what a scan wants from the leaf a descent for `key` by `seek` reaches, at the version
// the descent validated (a later version may have handed keys to a right sibling, which a
// reverse scan would not see); optimistic, else latch coupling. Returns the leaf.
const BTree::Node* BTree::read_descended(std::string_view key, Seek seek, const SearchFrom& from,
                                         size_t max, ScanBatch* batch, Node** next) const {
  for (int attempt = 0; attempt < kOptimisticAttempts; ++attempt) {
    ReadContext ctx;
    Node* leaf = nullptr;
    uint64_t v = 0;
    if (!descend_optimistic(key, seek, &ctx, &leaf, &v)) continue;
    if (read_at(leaf, v, from, max, &ctx, batch, next)) return leaf;
  }
  Node* leaf = descend(key, seek, LeafMode::kShared);
  leaf->latch.assert_held_shared();
  ReadContext ctx(ReadContext::Mode::kLatched);
  read_at(leaf, leaf->version.load(std::memory_order_relaxed), from, max, &ctx, batch, next);
  leaf->latch.unlock_shared();
  return leaf;
}

// Reads what a forward scan wants from `leaf`, reached through its left sibling's `next`:
// any version will do (by invariants 2 and 3, every key that was right of the sibling is in
// this leaf or to its right), so a failed validation just reads it again.
// False: the leaf was merged into its left sibling (it is obsolete, its keys moved left).
bool BTree::read_next(const Node* leaf, size_t max, ScanBatch* batch, Node** next) const {
  const SearchFrom from{nullptr, false};
  for (int attempt = 0; attempt < kOptimisticAttempts; ++attempt) {
    ReadContext ctx;
    uint64_t v = 0;
    if (leaf->read_begin(&v) && read_at(leaf, v, from, max, &ctx, batch, next))
      return !leaf->obsolete.load(std::memory_order_relaxed);  // set only while odd: validated
  }
  Node* latched = latch_shared(const_cast<Node*>(leaf));
  latched->latch.assert_held_shared();
  ReadContext ctx(ReadContext::Mode::kLatched);
  read_at(latched, latched->version.load(std::memory_order_relaxed), from, max, &ctx, batch, next);
  const bool live = !latched->obsolete.load(std::memory_order_relaxed);
  latched->latch.unlock_shared();
  return live;
}

size_t BTree::scan_forward(const Bounds& b, size_t limit, KeyVisitor visit) const {
  ScanBatch::Lease batch;
  size_t visited = 0;
  Node* next = nullptr;
  // Where to look again if a leaf the scan is about to read was merged away.
  std::string resume = b.lo;
  bool resume_after = false;
  read_descended(b.lo, Seek::kKey, SearchFrom{&b.lo, false}, limit, &*batch, &next);
  for (;;) {
    // Keys at or past hi end the scan.
    bool past_end = false;
    if (b.has_hi) {
      while (batch->size() > 0 && compare_keys(batch->key(batch->size() - 1), b.hi) >= 0) {
        batch->pop_back();
        past_end = true;
      }
    }
    // The next leaf, whole, while the visitor works through this one.
    if (next != nullptr && !past_end) prefetch_node(next);
    if (batch->size() > 0) {
      resume.assign(batch->key(batch->size() - 1));
      resume_after = true;
    }
    if (!batch->deliver(visit, payload_prefetch_, &visited) || past_end || visited == limit ||
        next == nullptr)
      return visited;
    // The next leaf's keys are >= its low fence (immutable, read without its latch).
    if (b.has_hi && compare_keys(next->low_fence, b.hi) >= 0) return visited;
    // Every key right of the leaf just read is in `next` or further right, and every key in
    // `next` is above those just visited; unless `next` was merged into that leaf meanwhile:
    // then its keys are found again from the last key delivered.
    const Node* leaf = next;
    if (!read_next(leaf, limit - visited, &*batch, &next)) {
      read_descended(resume, Seek::kKey, SearchFrom{&resume, false, resume_after}, limit - visited,
                     &*batch, &next);
    }
  }
}

size_t BTree::scan_reverse(const Bounds& b, size_t limit, KeyVisitor visit) const {
  ScanBatch::Lease batch;
  size_t visited = 0;
  // Keys below `bound` remain to be visited (all keys while !bounded).
  std::string bound = b.hi;
  bool bounded = b.has_hi;
  for (;;) {
    // The descent validated each parent after reading its child's version, and the leaf is
    // read at that version: its range is [low_fence, h) with h >= bound, so it holds every
    // key in [low_fence, bound).
    Node* next = nullptr;
    const Node* leaf = read_descended(bound, bounded ? Seek::kBelow : Seek::kLast,
                                      SearchFrom{bounded ? &bound : nullptr, true}, limit - visited,
                                      &*batch, &next);
    bool past_start = false;
    while (batch->size() > 0 && compare_keys(batch->key(batch->size() - 1), b.lo) < 0) {
      batch->pop_back();
      past_start = true;
    }
    if (!batch->deliver(visit, payload_prefetch_, &visited) || past_start || visited == limit)
      return visited;
    // Every key left of this leaf is below its low fence; "" (leftmost leaf) ends the scan.
    if (compare_keys(leaf->low_fence, b.lo) <= 0) return visited;
    bound = leaf->low_fence;  // strictly below the previous bound: the scan progresses
    bounded = true;
  }
}

// ---- Self-check ---------------------------------------------------------------------------

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
    std::string message = "size() is ";
    message += std::to_string(size());
    message += " but the leaves hold " + std::to_string(state.keys) + " keys";
    return message;
  }
  return "";
}

std::string BTree::check_node(const Node* node, std::string_view low, const std::string* high,
                              size_t depth, CheckState* state) const {
  const std::string where = "node at depth " + std::to_string(depth) + ": ";
  if (depth >= kHeightMax) return where + "tree deeper than kHeightMax";
  if (node->low_fence != low) return where + "low fence differs from its parent's separator";
  struct CheckedEntry {
    std::string key;
    void* ptr;
  };
  std::vector<CheckedEntry> entries;
  std::vector<const Node*> children;
  const Node* next = nullptr;
  {
    sync::SharedGuard guard(node->latch);  // quiescent; one latch at a time
    if ((node->version.load(std::memory_order_relaxed) & 1) != 0)
      return where + "version odd outside a change";
    if (node->obsolete.load(std::memory_order_relaxed)) return where + "obsolete node reachable";
    if (node->leaf != (node->level == 0)) return where + "level and kind disagree";
    if (node->count.load(std::memory_order_relaxed) > node->capacity)
      return where + "count above capacity";
    char p[kPrefixMax];
    const std::string_view prefix(p, node->copy_prefix(p));
    EntryList list;
    node->copy_entries(&list);
    for (size_t i = 0; i < list.size(); ++i)
      entries.push_back(CheckedEntry{std::string(list.key(i)), list.ptr(i)});
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!entries[i].key.starts_with(prefix)) return where + "key outside the node's prefix";
      const size_t size = node->sizes()[i].load(std::memory_order_relaxed);
      if (size != entries[i].key.size() - prefix.size()) return where + "slot size wrong";
      if (node->heads()[i].load(std::memory_order_relaxed) !=
          head_of(std::string_view(entries[i].key).substr(prefix.size())))
        return where + "slot head differs from its key";
      if (!node->leaf) children.push_back(node->child(i));
    }
    if (!node->leaf) children.push_back(node->child(entries.size()));
    next = node->next.load(std::memory_order_relaxed);
  }
  const size_t n = entries.size();
  if (n > node_keys_max_) return where + "more than node_keys_max keys";
  for (size_t i = 0; i + 1 < n; ++i) {
    if (compare_keys(entries[i].key, entries[i + 1].key) >= 0)
      return where + "keys not strictly increasing";
  }
  if (n > 0 && compare_keys(entries.front().key, low) < (node->leaf ? 0 : 1))
    return where + "key below the node's lower bound";
  if (n > 0 && high != nullptr && compare_keys(entries.back().key, *high) >= 0)
    return where + "key not below the node's upper bound";

  if (node->leaf) {
    if (state->seen_leaf && depth != state->leaf_depth) return where + "leaves at two depths";
    if (state->seen_leaf && state->expected_leaf != node) return where + "leaf chain skips";
    if (n > 0 && state->has_last_key && compare_keys(state->last_key, entries.front().key) >= 0)
      return where + "keys not increasing across leaves";
    state->seen_leaf = true;
    state->leaf_depth = depth;
    state->expected_leaf = next;
    if (n > 0) {
      state->last_key = entries.back().key;
      state->has_last_key = true;
    }
    state->keys += n;
    return "";
  }
  if (next != nullptr) return where + "inner node with a next link";
  // Merges leave inner nodes with few separators; only the root must keep one (a root left
  // with one child hands the root over to it).
  if (depth == 0 && n == 0) return where + "inner root without a separator";
  for (size_t i = 0; i <= n; ++i) {
    const std::string_view child_low = i == 0 ? low : std::string_view(entries[i - 1].key);
    const std::string* child_high = i == n ? high : &entries[i].key;
    if (children[i]->level + 1 != node->level) return where + "child not one level below";
    std::string error = check_node(children[i], child_low, child_high, depth + 1, state);
    if (!error.empty()) return error;
  }
  return "";
}

}  // namespace ringdb::daemon
