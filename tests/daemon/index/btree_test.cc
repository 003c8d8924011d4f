// BTree (daemon/index/btree.h): point operations, get-or-insert and conditional removal, splits
// over several levels checked by check_invariants(), unsigned byte ordering of binary keys, long
// keys, empty leaves, forward and reverse scans (start, end, prefix, limit) against a
// std::map, visitors calling back into the tree, latch statistics, and concurrent stress
// (get-or-insert races; mixed inserts, removes, finds and scans checked against what each
// thread's operations imply). Randomized cases print their seed; RINGDB_TEST_SEED replays it.
#include "daemon/index/btree.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <latch>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sync/latch_stats.h"
#include "tests/support/seed.h"

namespace ringdb::daemon {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

// Orders as memcmp does (unsigned bytes), written independently of the tree's comparison.
struct ByteOrder {
  bool operator()(const std::string& a, const std::string& b) const {
    const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
    return c != 0 ? c < 0 : a.size() < b.size();
  }
};
using RefMap = std::map<std::string, void*, ByteOrder>;

using ringdb::test::test_seed;

// Distinct payloads: the address of cell i.
struct Payloads {
  explicit Payloads(size_t n) : cells(n) {}
  void* operator[](size_t i) { return &cells[i]; }
  std::vector<char> cells;
};

struct Entry {
  std::string key;
  void* payload;
  bool operator==(const Entry&) const = default;
};

std::vector<Entry> scan_all(const BTree& tree, const BTreeRange& range = {}, bool reverse = false,
                            size_t limit = SIZE_MAX) {
  std::vector<Entry> out;
  const size_t n = tree.scan(range, reverse, limit, [&](std::string_view key, void* payload) {
    out.push_back(Entry{std::string(key), payload});
    return true;
  });
  CHECK(n == out.size());
  return out;
}

// What a scan must return, from the reference map.
std::vector<Entry> reference_scan(const RefMap& ref, const std::string& start,
                                  const std::string& end, const std::string& prefix, bool reverse,
                                  size_t limit) {
  std::vector<Entry> all;
  for (const auto& [key, payload] : ref) {
    if (ByteOrder{}(key, start)) continue;
    if (!end.empty() && !ByteOrder{}(key, end)) continue;
    if (!key.starts_with(prefix)) continue;
    all.push_back(Entry{key, payload});
  }
  if (reverse) std::reverse(all.begin(), all.end());
  if (all.size() > limit) all.resize(limit);
  return all;
}

// A fixed-width decimal key, so that numeric and byte order agree.
std::string numbered_key(size_t n) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "k%08zu", n);
  return buf;
}

TEST_CASE("BTree: an empty tree finds, removes and scans nothing") {
  BTree tree;
  void* payload = nullptr;
  CHECK_FALSE(tree.find("a", &payload));
  CHECK_FALSE(tree.find("", &payload));
  CHECK_FALSE(tree.remove_if("a", nullptr));
  CHECK(tree.size() == 0);
  CHECK(scan_all(tree).empty());
  CHECK(scan_all(tree, {}, true).empty());
  CHECK(tree.check_invariants() == "");
}

TEST_CASE("BTree: insert, find and remove one key") {
  BTree tree;
  Payloads p(1);
  CHECK(tree.insert_if_absent("key", p[0]) == p[0]);
  CHECK(tree.size() == 1);
  void* payload = nullptr;
  REQUIRE(tree.find("key", &payload));
  CHECK(payload == p[0]);
  CHECK_FALSE(tree.find("ke", &payload));
  CHECK_FALSE(tree.find("key\0"sv, &payload));
  CHECK(tree.remove_if("key", p[0]));
  CHECK_FALSE(tree.find("key", &payload));
  CHECK(tree.size() == 0);
  CHECK(tree.check_invariants() == "");
}

TEST_CASE("BTree: insert_if_absent returns the payload already stored") {
  BTree tree;
  Payloads p(2);
  CHECK(tree.insert_if_absent("key", p[0]) == p[0]);
  CHECK(tree.insert_if_absent("key", p[1]) == p[0]);
  void* payload = nullptr;
  REQUIRE(tree.find("key", &payload));
  CHECK(payload == p[0]);
  CHECK(tree.size() == 1);
}

TEST_CASE("BTree: remove_if with another payload leaves the key in place") {
  BTree tree;
  Payloads p(2);
  tree.insert_if_absent("key", p[0]);
  CHECK_FALSE(tree.remove_if("key", p[1]));
  CHECK_FALSE(tree.remove_if("other", p[0]));
  void* payload = nullptr;
  REQUIRE(tree.find("key", &payload));
  CHECK(payload == p[0]);
  CHECK(tree.size() == 1);
}

TEST_CASE("BTree: the empty key is a key like any other, and the smallest") {
  BTree tree;
  Payloads p(2);
  tree.insert_if_absent("a", p[1]);
  tree.insert_if_absent("", p[0]);
  void* payload = nullptr;
  REQUIRE(tree.find("", &payload));
  CHECK(payload == p[0]);
  CHECK(scan_all(tree) == std::vector<Entry>{{"", p[0]}, {"a", p[1]}});
  CHECK(scan_all(tree, {}, true) == std::vector<Entry>{{"a", p[1]}, {"", p[0]}});
}

// Inserts keys 0..n-1 in the given order into a tree with 4-key nodes, checking the structure
// as it grows, then finds every key and scans them in order.
void insert_and_check(const std::vector<size_t>& order) {
  BTree tree(BTreeOptions{4, nullptr});
  Payloads p(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    REQUIRE(tree.insert_if_absent(numbered_key(order[i]), p[order[i]]) == p[order[i]]);
    if (i % 97 == 0) REQUIRE(tree.check_invariants() == "");
  }
  REQUIRE(tree.check_invariants() == "");
  CHECK(tree.size() == order.size());
  for (size_t n = 0; n < order.size(); ++n) {
    void* payload = nullptr;
    REQUIRE(tree.find(numbered_key(n), &payload));
    CHECK(payload == p[n]);
  }
  const std::vector<Entry> all = scan_all(tree);
  REQUIRE(all.size() == order.size());
  for (size_t n = 0; n < all.size(); ++n)
    CHECK(all[n] == Entry{numbered_key(n), p[n]});
}

TEST_CASE("BTree: random inserts split leaves and inner nodes over several levels") {
  std::vector<size_t> order(5000);
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::mt19937 rng(test_seed("btree split"));
  std::shuffle(order.begin(), order.end(), rng);
  insert_and_check(order);
}

TEST_CASE("BTree: ascending and descending inserts split correctly at the tree's edges") {
  std::vector<size_t> order(3000);
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  insert_and_check(order);
  std::reverse(order.begin(), order.end());
  insert_and_check(order);
}

TEST_CASE("BTree: keys order as unsigned bytes, with embedded zeros and bytes >= 0x80") {
  // Sorted as memcmp sorts them; several share their first 8 bytes (the node's key head).
  const std::vector<std::string> sorted = {
      ""s,
      "\x00"s,
      "\x00\x00"s,
      "\x00\x01"s,
      "\x01"s,
      "a"s,
      "a\x00"s,
      "a\x00\x00"s,
      "a\x01"s,
      "aaaaaaaa"s,
      "aaaaaaaa\x00"s,
      "aaaaaaaa\x00\xff"s,
      "aaaaaaaa\x7f"s,
      "aaaaaaaa\x80"s,
      "aaaaaaaa\xff"s,
      "aaaaaaaa\xff\x00"s,
      "a\x7f"s,
      "a\x80"s,
      "a\xff"s,
      "b"s,
      "\x7f"s,
      "\x80"s,
      "\x80\x00"s,
      "\xfe\xff\xff\xff\xff\xff\xff\xff\xff"s,
      "\xff"s,
      "\xff\x00"s,
      "\xff\xff\xff\xff\xff\xff\xff\xff"s,
      "\xff\xff\xff\xff\xff\xff\xff\xff\x00"s,
  };
  for (size_t i = 0; i + 1 < sorted.size(); ++i)
    REQUIRE(ByteOrder{}(sorted[i], sorted[i + 1]));
  std::vector<size_t> order(sorted.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::mt19937 rng(test_seed("btree byte order"));
  for (int round = 0; round < 20; ++round) {
    std::shuffle(order.begin(), order.end(), rng);
    BTree tree(BTreeOptions{4, nullptr});
    Payloads p(sorted.size());
    for (size_t i : order)
      tree.insert_if_absent(sorted[i], p[i]);
    REQUIRE(tree.check_invariants() == "");
    const std::vector<Entry> all = scan_all(tree);
    REQUIRE(all.size() == sorted.size());
    for (size_t i = 0; i < sorted.size(); ++i) {
      CHECK(all[i].key == sorted[i]);
      void* payload = nullptr;
      CHECK(tree.find(sorted[i], &payload));
      CHECK(payload == p[i]);
    }
    // A prefix ending in 0xff has no byte-wise successor: the scan runs to the end.
    CHECK(scan_all(tree, BTreeRange{"", "", "\xff\xff\xff\xff\xff\xff\xff\xff"}).size() == 2);
    CHECK(scan_all(tree, BTreeRange{"", "", "a\x00"sv}).size() == 2);
  }
}

TEST_CASE("BTree: long keys sharing long prefixes") {
  BTree tree(BTreeOptions{4, nullptr});
  RefMap ref;
  Payloads p(600);
  std::mt19937 rng(test_seed("btree long keys"));
  const std::string base(3000, 'x');
  for (size_t i = 0; i < 600; ++i) {
    std::string key = base.substr(0, rng() % base.size()) + numbered_key(rng() % 100000);
    if (rng() % 2 == 0) key += std::string(rng() % 2000, '\x80');
    const bool fresh = ref.emplace(key, p[i]).second;
    CHECK(tree.insert_if_absent(key, p[i]) == ref.at(key));
    CHECK(fresh == (ref.at(key) == p[i]));
  }
  REQUIRE(tree.check_invariants() == "");
  CHECK(scan_all(tree) == reference_scan(ref, "", "", "", false, SIZE_MAX));
  size_t removed = 0;
  for (auto it = ref.begin(); it != ref.end(); ++removed) {
    if (removed % 2 == 0) {
      CHECK(tree.remove_if(it->first, it->second));
      it = ref.erase(it);
    } else {
      ++it;
    }
  }
  REQUIRE(tree.check_invariants() == "");
  CHECK(scan_all(tree, {}, true) == reference_scan(ref, "", "", "", true, SIZE_MAX));
}

TEST_CASE("BTree: leaves emptied by removals are skipped by lookups and scans, then reused") {
  BTree tree(BTreeOptions{4, nullptr});
  Payloads p(2000);
  for (size_t n = 0; n < 2000; ++n)
    tree.insert_if_absent(numbered_key(n), p[n]);
  // Empty every leaf but those holding keys 1000..1009 and 1990..1999.
  for (size_t n = 0; n < 2000; ++n) {
    if ((n >= 1000 && n < 1010) || n >= 1990) continue;
    REQUIRE(tree.remove_if(numbered_key(n), p[n]));
  }
  REQUIRE(tree.check_invariants() == "");
  CHECK(tree.size() == 20);
  void* payload = nullptr;
  CHECK_FALSE(tree.find(numbered_key(500), &payload));
  std::vector<Entry> forward = scan_all(tree);
  REQUIRE(forward.size() == 20);
  CHECK(forward.front().key == numbered_key(1000));
  CHECK(forward.back().key == numbered_key(1999));
  std::vector<Entry> reverse = scan_all(tree, {}, true);
  std::reverse(reverse.begin(), reverse.end());
  CHECK(reverse == forward);
  CHECK(scan_all(tree, BTreeRange{numbered_key(10), numbered_key(999), ""}).empty());
  CHECK(scan_all(tree, BTreeRange{numbered_key(10), numbered_key(999), ""}, true).empty());
  // Refill: the empty leaves take the keys back (no merges, so none was lost).
  for (size_t n = 0; n < 2000; ++n)
    tree.insert_if_absent(numbered_key(n), p[n]);
  REQUIRE(tree.check_invariants() == "");
  CHECK(scan_all(tree).size() == 2000);
}

TEST_CASE("BTree: forward and reverse scans with start, end, prefix and limit match a std::map") {
  const unsigned seed = test_seed("btree scans");
  INFO("seed=" << seed);
  std::mt19937 rng(seed);
  // Short keys over a small alphabet: many shared prefixes, zero and high bytes.
  const std::string alphabet =
      "\x00\x01"
      "ab\x7f\x80\xff"s;
  auto random_key = [&](size_t length_max) {
    std::string key(rng() % (length_max + 1), '\0');
    for (char& c : key)
      c = alphabet[rng() % alphabet.size()];
    return key;
  };
  for (uint32_t node_keys_max : {3u, 4u, 16u}) {
    BTree tree(BTreeOptions{node_keys_max, nullptr});
    RefMap ref;
    Payloads p(3000);
    for (size_t i = 0; i < 3000; ++i) {
      const std::string key = random_key(6);
      if (rng() % 4 == 0) {
        const auto it = ref.find(key);
        CHECK(tree.remove_if(key, it == ref.end() ? nullptr : it->second) == (it != ref.end()));
        if (it != ref.end()) ref.erase(it);
      } else {
        ref.emplace(key, p[i]);
        CHECK(tree.insert_if_absent(key, p[i]) == ref.at(key));
      }
    }
    REQUIRE(tree.check_invariants() == "");
    for (int q = 0; q < 800; ++q) {
      const std::string start = rng() % 4 == 0 ? "" : random_key(4);
      const std::string end = rng() % 4 == 0 ? "" : random_key(4);
      const std::string prefix = rng() % 2 == 0 ? "" : random_key(3);
      const bool reverse = rng() % 2 == 0;
      const size_t limit = rng() % 3 == 0 ? SIZE_MAX : rng() % 40;
      INFO("node_keys_max=" << node_keys_max << " query=" << q);
      CHECK(scan_all(tree, BTreeRange{start, end, prefix}, reverse, limit) ==
            reference_scan(ref, start, end, prefix, reverse, limit));
    }
  }
}

TEST_CASE("BTree: a visitor returning false stops the scan after that key") {
  BTree tree(BTreeOptions{4, nullptr});
  Payloads p(100);
  for (size_t n = 0; n < 100; ++n)
    tree.insert_if_absent(numbered_key(n), p[n]);
  for (const bool reverse : {false, true}) {
    std::vector<std::string> seen;
    const size_t visited = tree.scan({}, reverse, SIZE_MAX, [&](std::string_view key, void*) {
      seen.emplace_back(key);
      return seen.size() < 37;
    });
    CHECK(visited == 37);
    CHECK(seen.size() == 37);
    CHECK(seen.back() == numbered_key(reverse ? 63 : 36));
  }
}

TEST_CASE("BTree: a visitor may call back into the tree (it runs with no latch held)") {
  BTree tree(BTreeOptions{4, nullptr});
  Payloads p(500);
  for (size_t n = 0; n < 500; ++n)
    tree.insert_if_absent(numbered_key(n), p[n]);
  size_t removed = 0;
  tree.scan({}, false, SIZE_MAX, [&](std::string_view key, void* payload) {
    if (tree.remove_if(key, payload)) ++removed;
    tree.insert_if_absent(std::string(key) + "+", payload);  // lands right of `key`
    return true;
  });
  CHECK(removed >= 500);  // some "+" keys are visited (and removed) too: allowed
  REQUIRE(tree.check_invariants() == "");
  for (const Entry& e : scan_all(tree))
    CHECK(e.key.back() == '+');
}

TEST_CASE("BTree: a lookup takes no latch; an insert or removal latches only its leaf") {
  sync::LatchStats stats("test.btree.node");
  BTree tree(BTreeOptions{4, &stats});
  Payloads p(100);
  for (size_t n = 0; n < 100; ++n)
    tree.insert_if_absent(numbered_key(n), p[n]);
  const uint64_t before = stats.snapshot().acquisitions;
  CHECK(before > 0);  // the splits of 100 inserts latched nodes
  void* payload = nullptr;
  CHECK(tree.find(numbered_key(42), &payload));
  CHECK(!tree.find(numbered_key(420), &payload));
  CHECK(scan_all(tree).size() == 100);
  CHECK(scan_all(tree, {}, true).size() == 100);
  CHECK(stats.snapshot().acquisitions == before);  // optimistic: no latch on any level
  CHECK(tree.insert_if_absent(numbered_key(42), p[0]) == p[42]);
  CHECK(stats.snapshot().acquisitions == before + 1);  // the leaf, in X
  CHECK(tree.remove_if(numbered_key(42), p[42]));
  CHECK(stats.snapshot().acquisitions == before + 2);
}

TEST_CASE("BTree: memory_bytes counts the nodes and the bytes of long keys") {
  BTree tree(BTreeOptions{8, nullptr});
  const size_t empty = tree.memory_bytes();
  CHECK(empty > 0);  // the root leaf
  Payloads p(2000);
  for (size_t n = 0; n < 1000; ++n)
    tree.insert_if_absent(numbered_key(n), p[n]);
  const size_t short_keys = tree.memory_bytes();
  CHECK(short_keys > empty * 100);  // at least 1000 / 8 nodes
  // Keys whose suffixes exceed a slot keep their bytes out of line, until removed.
  const std::string tail(100, 'z');
  for (size_t n = 0; n < 1000; ++n)
    tree.insert_if_absent(numbered_key(n) + tail, p[1000 + n]);
  const size_t long_keys = tree.memory_bytes();
  CHECK(long_keys > short_keys + 1000 * 80);
  for (size_t n = 0; n < 1000; ++n)
    CHECK(tree.remove_if(numbered_key(n) + tail, p[1000 + n]));
  // The nodes stay (no merges yet); the long keys' bytes are gone.
  CHECK(tree.memory_bytes() < long_keys - 1000 * 80);
  REQUIRE(tree.check_invariants() == "");
}

TEST_CASE("BTree: ascending inserts leave full leaves behind them, not half-empty ones") {
  constexpr size_t kKeys = 8000;
  BTree ascending(BTreeOptions{8, nullptr});
  BTree shuffled(BTreeOptions{8, nullptr});
  Payloads p(kKeys);
  std::vector<size_t> order(kKeys);
  for (size_t n = 0; n < kKeys; ++n)
    order[n] = n;
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  for (size_t n = 0; n < kKeys; ++n) {
    ascending.insert_if_absent(numbered_key(n), p[n]);
    shuffled.insert_if_absent(numbered_key(order[n]), p[order[n]]);
  }
  REQUIRE(ascending.check_invariants() == "");
  CHECK(scan_all(ascending).size() == kKeys);
  // Full leaves: about kKeys / 8 of them (plus inner nodes), against ~70% fill in random order
  // and 50% if ascending keys split leaves in the middle.
  CHECK(ascending.memory_bytes() * 10 < shuffled.memory_bytes() * 8);
}

TEST_CASE("BTree: an Appender fills leaves after the keys already there and refuses any other") {
  BTree tree(BTreeOptions{8, nullptr});
  BTree inserted(BTreeOptions{8, nullptr});  // the same keys through insert_if_absent
  RefMap ref;
  Payloads p(12000);
  // Keys already in the tree, in random order.
  std::vector<size_t> first(100);
  for (size_t n = 0; n < first.size(); ++n)
    first[n] = n;
  std::shuffle(first.begin(), first.end(), std::mt19937(3));
  for (size_t n : first) {
    tree.insert_if_absent(numbered_key(n), p[n]);
    ref[numbered_key(n)] = p[n];
  }
  BTree::Appender appender(&tree);
  CHECK_FALSE(appender.append(numbered_key(50), p[11000]));  // present
  CHECK_FALSE(appender.append(numbered_key(99), p[11000]));  // the largest, present
  CHECK_FALSE(appender.append("a", p[11000]));               // smaller than all
  CHECK(tree.size() == 100);
  // Then ascending keys of varied shapes: prefixes that shrink a leaf's common prefix, suffixes
  // over a slot's 16 bytes (kept out of line), embedded zero bytes.
  const std::string tail(40, 'z');
  for (size_t n = 100; n < 10000; ++n) {
    std::string key = numbered_key(n);
    if (n % 7 == 0) key += tail;
    if (n % 11 == 0) key += "\0\x80"s;
    REQUIRE(appender.append(key, p[n]));
    CHECK_FALSE(appender.append(key, p[11000]));  // the same again
    inserted.insert_if_absent(key, p[n]);
    ref[key] = p[n];
  }
  REQUIRE(tree.check_invariants() == "");
  CHECK(tree.size() == ref.size());
  CHECK(scan_all(tree) == reference_scan(ref, "", "", "", false, SIZE_MAX));
  CHECK(scan_all(tree, {}, true) == reference_scan(ref, "", "", "", true, SIZE_MAX));
  for (const auto& [key, payload] : ref) {
    void* found = nullptr;
    REQUIRE(tree.find(key, &found));
    CHECK(found == payload);
  }
  // Leaves filled left to right: no more nodes than ascending inserts leave (full leaves).
  CHECK(tree.memory_bytes() <= inserted.memory_bytes() * 11 / 10);
  // A tree changed by others meanwhile takes a new Appender, which starts after its last key.
  tree.insert_if_absent(numbered_key(20000), p[11001]);
  BTree::Appender again(&tree);
  CHECK_FALSE(again.append(numbered_key(10001), p[11002]));
  CHECK(again.append(numbered_key(20001), p[11002]));
  REQUIRE(tree.check_invariants() == "");
}

TEST_CASE("BTree: an Appender starts after the largest key left by removals") {
  BTree tree(BTreeOptions{8, nullptr});
  Payloads p(200);
  for (size_t n = 0; n < 100; ++n)
    tree.insert_if_absent(numbered_key(n), p[n]);
  // The last keys removed (their leaves merged away): it starts after the largest key left.
  for (size_t n = 80; n < 100; ++n)
    REQUIRE(tree.remove_if(numbered_key(n), p[n]));
  BTree::Appender appender(&tree);
  CHECK_FALSE(appender.append(numbered_key(79), p[179]));
  CHECK(appender.append(numbered_key(95), p[95]));
  CHECK(appender.append(numbered_key(150), p[150]));
  REQUIRE(tree.check_invariants() == "");
  CHECK(tree.size() == 82);
  void* found = nullptr;
  CHECK((tree.find(numbered_key(95), &found) && found == p[95]));
}

TEST_CASE("BTree: an Appender on an empty tree takes the empty key first, then nothing below") {
  BTree tree(BTreeOptions{4, nullptr});
  Payloads p(3);
  BTree::Appender appender(&tree);
  CHECK(appender.append("", p[0]));
  CHECK_FALSE(appender.append("", p[1]));
  CHECK(appender.append("\0"s, p[1]));
  CHECK(tree.size() == 2);
  CHECK(scan_all(tree) == std::vector<Entry>{{"", p[0]}, {"\0"s, p[1]}});
}

TEST_CASE("BTree: readers running beside an Appender find every key appended before they look") {
  constexpr size_t kKeys = 60000;
  BTree tree(BTreeOptions{8, nullptr});
  Payloads p(kKeys);
  std::atomic<size_t> appended{0};  // keys [0, appended) are in the tree
  std::atomic<bool> failed{false};
  std::vector<std::thread> readers;
  for (size_t r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937_64 rng(r + 1);
      for (size_t done = 0; done < kKeys; done = appended.load(std::memory_order_acquire)) {
        if (done == 0) continue;
        const size_t n = rng() % done;
        void* found = nullptr;
        if (!tree.find(numbered_key(n), &found) || found != p[n]) failed = true;
        // A scan from key n sees consecutive keys, at least up to what was appended before it.
        size_t next = n;
        tree.scan({numbered_key(n), {}, {}}, false, 64, [&](std::string_view key, void* payload) {
          if (key != numbered_key(next) || payload != p[next]) failed = true;
          ++next;
          return true;
        });
        if (next < std::min(done, n + 64)) failed = true;
      }
    });
  }
  BTree::Appender appender(&tree);
  for (size_t n = 0; n < kKeys; ++n) {
    REQUIRE(appender.append(numbered_key(n), p[n]));
    appended.store(n + 1, std::memory_order_release);
  }
  for (std::thread& t : readers)
    t.join();
  CHECK_FALSE(failed.load());
  REQUIRE(tree.check_invariants() == "");
}

TEST_CASE("BTree: removals merge underfull nodes; an emptied tree shrinks back to one leaf") {
  constexpr size_t kKeys = 20000;
  BTree tree(BTreeOptions{8, nullptr});
  const size_t one_leaf = tree.memory_bytes();
  Payloads p(kKeys);
  std::vector<size_t> order(kKeys);
  for (size_t n = 0; n < kKeys; ++n)
    order[n] = n;
  std::shuffle(order.begin(), order.end(), std::mt19937(11));
  for (size_t n : order)
    tree.insert_if_absent(numbered_key(n), p[n]);
  const size_t full = tree.memory_bytes();
  // Remove nine keys in ten, in another order: what is left is spread over every leaf.
  std::shuffle(order.begin(), order.end(), std::mt19937(12));
  for (size_t n : order) {
    if (n % 10 != 0) REQUIRE(tree.remove_if(numbered_key(n), p[n]));
  }
  REQUIRE(tree.check_invariants() == "");
  CHECK(tree.memory_bytes() * 4 < full);  // without merges every leaf would stay
  std::vector<Entry> expected;
  for (size_t n = 0; n < kKeys; n += 10)
    expected.push_back(Entry{numbered_key(n), p[n]});
  CHECK(scan_all(tree) == expected);
  for (size_t n = 0; n < kKeys; n += 10)
    REQUIRE(tree.remove_if(numbered_key(n), p[n]));
  REQUIRE(tree.check_invariants() == "");
  CHECK(tree.size() == 0);
  CHECK(tree.memory_bytes() == one_leaf);  // the root collapsed level by level
  CHECK(scan_all(tree).empty());
}

TEST_CASE("BTree: a scan whose next leaf was merged away finds its keys again") {
  // The visitor removes each key it is given: the leaf just read empties and absorbs its right
  // sibling, which the scan was about to read next.
  constexpr size_t kKeys = 2000;
  BTree tree(BTreeOptions{8, nullptr});
  Payloads p(kKeys);
  std::vector<size_t> order(kKeys);
  for (size_t n = 0; n < kKeys; ++n)
    order[n] = n;
  std::shuffle(order.begin(), order.end(), std::mt19937(5));  // leaves about 70% full
  for (size_t n : order)
    tree.insert_if_absent(numbered_key(n), p[n]);
  std::vector<std::string> seen;
  tree.scan({}, false, SIZE_MAX, [&](std::string_view key, void* payload) {
    seen.emplace_back(key);
    CHECK(tree.remove_if(key, payload));
    return true;
  });
  REQUIRE(seen.size() == kKeys);
  for (size_t n = 0; n < kKeys; ++n)
    CHECK(seen[n] == numbered_key(n));
  CHECK(tree.size() == 0);
  REQUIRE(tree.check_invariants() == "");
}

TEST_CASE("BTree: a queue (ascending inserts, the oldest removed) keeps its memory flat") {
  constexpr size_t kLive = 10000;
  constexpr size_t kPasses = 10;
  BTree tree(BTreeOptions{8, nullptr});
  int cell = 0;
  size_t after_first = 0;
  for (size_t n = 0; n < kLive * kPasses; ++n) {
    tree.insert_if_absent(numbered_key(n), &cell);
    if (n >= kLive) REQUIRE(tree.remove_if(numbered_key(n - kLive), &cell));
    if (n + 1 == 2 * kLive) after_first = tree.memory_bytes();
  }
  REQUIRE(tree.check_invariants() == "");
  CHECK(tree.size() == kLive);
  CHECK(tree.memory_bytes() * 10 <= after_first * 12);  // within 1.2x after 10x the live set
}

TEST_CASE("BTree: concurrent insert_if_absent of the same keys agrees on one payload each") {
  constexpr size_t kThreads = 4;
  constexpr size_t kKeys = 20000;
  BTree tree(BTreeOptions{8, nullptr});
  Payloads p(kThreads * kKeys);
  std::vector<std::vector<void*>> got(kThreads, std::vector<void*>(kKeys));
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      // Pairs of threads walk the keys in the same order, racing for each key; the two pairs
      // walk in opposite directions and race on the splits of the keys they meet at.
      for (size_t i = 0; i < kKeys; ++i) {
        const size_t n = t % 2 == 0 ? i : kKeys - 1 - i;
        got[t][n] = tree.insert_if_absent(numbered_key(n), p[t * kKeys + n]);
      }
    });
  }
  for (std::thread& th : threads)
    th.join();
  REQUIRE(tree.check_invariants() == "");
  CHECK(tree.size() == kKeys);
  for (size_t n = 0; n < kKeys; ++n) {
    void* stored = nullptr;
    REQUIRE(tree.find(numbered_key(n), &stored));
    size_t winners = 0;
    for (size_t t = 0; t < kThreads; ++t) {
      CHECK(got[t][n] == stored);
      if (got[t][n] == p[t * kKeys + n]) ++winners;
    }
    CHECK(winners == 1);
  }
}

// The mixed stress test. Key n belongs to the stable set if n % 5 == 0 (inserted before the
// threads start, never removed), else to thread n % 5 - 1, which alone inserts and removes it.
// So each thread knows exactly which of its own keys are present, also during its own scans.
struct StressWorld {
  static constexpr size_t kThreads = 4;
  static constexpr size_t kKeys = 40000;  // large enough that splits go on all along
  static bool stable(size_t n) { return n % 5 == 0; }
  static size_t owner(size_t n) { return n % 5 - 1; }

  explicit StressWorld(std::string (*key_of)(size_t)) : key(key_of) {}
  std::string (*key)(size_t);  // ordered like n; its last 8 bytes are n in decimal
  BTree tree{BTreeOptions{8, nullptr}};
  Payloads payloads{kKeys};
};

// Key shapes for the stress test. Long: every key shares 84 bytes and then differs in its last
// 8: the prefix is cut at its maximum, every suffix is longer than a slot holds (long rests)
// and every head ties, so each comparison reads a long rest. Mixed: groups of
// 1000 keys with different lengths and prefixes, so that nodes at group boundaries shorten and
// regrow their prefixes as keys come and go.
std::string long_key(size_t n) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08zu", n);
  return "tenant-0042/" + std::string(72, 'x') + buf;
}
std::string mixed_key(size_t n) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08zu", n);
  const size_t group = n / 1000;
  return std::string(1, static_cast<char>('A' + group)) + std::string(group % 9 * 4, '/') + buf;
}

// In a stress thread: records a failure (doctest assertions are thread-safe, but a REQUIRE
// would throw out of the thread) and stops that thread.
#define STRESS_EXPECT(cond, context)                              \
  do {                                                            \
    if (!(cond)) {                                                \
      FAIL_CHECK("stress thread: " #cond " failed; " << context); \
      return false;                                               \
    }                                                             \
  } while (false)

// One scan by thread `me`, checked: strictly ordered, within bounds, and containing every
// stable key and every key of `me` present (mine[n]) in the span the scan covered, and no
// key of `me` that is absent.
bool stress_scan(StressWorld& w, size_t me, const std::vector<bool>& mine, std::mt19937& rng) {
  const size_t lo = rng() % StressWorld::kKeys;
  const bool bounded = rng() % 4 != 0;
  const size_t hi = bounded ? lo + rng() % 1000 : SIZE_MAX;
  const bool reverse = rng() % 2 == 0;
  // Unbounded scans always have a limit: the test's time goes to operations, not checks.
  const size_t limit = bounded && rng() % 3 == 0 ? SIZE_MAX : 1 + rng() % 200;
  const std::string start = w.key(lo);
  const std::string end = bounded && hi < StressWorld::kKeys ? w.key(hi) : "";
  std::vector<size_t> seen;
  bool ordered = true;
  bool in_bounds = true;
  w.tree.scan(BTreeRange{start, end, ""}, reverse, limit, [&](std::string_view key, void* payload) {
    const size_t n = std::stoul(std::string(key.substr(key.size() - 8)));
    if (!seen.empty() && (reverse ? n >= seen.back() : n <= seen.back())) ordered = false;
    if (n < lo || n >= hi || n >= StressWorld::kKeys || payload != w.payloads[n]) in_bounds = false;
    seen.push_back(n);
    return true;
  });
  const auto context = [&] {
    return "lo=" + std::to_string(lo) + " hi=" + std::to_string(hi) +
           " reverse=" + std::to_string(reverse) + " limit=" + std::to_string(limit) +
           " visited=" + std::to_string(seen.size());
  };
  STRESS_EXPECT(ordered, context());
  STRESS_EXPECT(in_bounds, context());
  STRESS_EXPECT(seen.size() <= limit, context());
  // The span covered: all of [lo, hi) unless the limit cut it short.
  size_t span_lo = lo;
  size_t span_hi = std::min(hi, StressWorld::kKeys);
  if (seen.size() == limit) {
    if (reverse) {
      span_lo = seen.back();
    } else {
      span_hi = seen.back() + 1;
    }
  }
  const std::set<size_t> got(seen.begin(), seen.end());
  for (size_t n = span_lo; n < span_hi; ++n) {
    const bool own = !StressWorld::stable(n) && StressWorld::owner(n) == me;
    if (StressWorld::stable(n) || (own && mine[n]))
      STRESS_EXPECT(got.count(n) == 1, "key " << n << " missing; " << context());
    if (own && !mine[n]) STRESS_EXPECT(got.count(n) == 0, "key " << n << " absent; " << context());
  }
  return true;
}

// Random operations by thread `me`; mine[n] tracks which of its keys are in the tree.
bool stress_thread(StressWorld& w, size_t me, unsigned seed, size_t iterations,
                   std::vector<bool>& mine) {
  std::mt19937 rng(seed);
  for (size_t it = 0; it < iterations; ++it) {
    const size_t op = rng() % 100;
    size_t n = rng() % StressWorld::kKeys;
    if (op < 40 || op >= 95) {  // an own key, to insert or remove
      n = n - n % 5 + me + 1;
      if (n >= StressWorld::kKeys) continue;
    }
    const std::string key = w.key(n);
    if (op < 25) {
      STRESS_EXPECT(w.tree.insert_if_absent(key, w.payloads[n]) == w.payloads[n], "key " << n);
      mine[n] = true;
    } else if (op < 40) {
      STRESS_EXPECT(w.tree.remove_if(key, w.payloads[n]) == mine[n], "key " << n);
      mine[n] = false;
    } else if (op < 85) {
      void* payload = nullptr;
      const bool found = w.tree.find(key, &payload);
      STRESS_EXPECT(!found || payload == w.payloads[n], "key " << n);
      if (StressWorld::stable(n)) STRESS_EXPECT(found, "stable key " << n);
      if (!StressWorld::stable(n) && StressWorld::owner(n) == me)
        STRESS_EXPECT(found == mine[n], "own key " << n);
    } else if (op < 95) {
      if (!stress_scan(w, me, mine, rng)) return false;
    } else {  // a wrong payload never removes
      STRESS_EXPECT(!w.tree.remove_if(key, w.payloads[(n + 1) % StressWorld::kKeys]), "key " << n);
    }
  }
  return true;
}

TEST_CASE("BTree: concurrent inserts, removes, finds and scans keep every guarantee") {
  size_t iterations = 30000;  // per thread (a third with the longer keys)
  const unsigned seed = test_seed("btree stress");
  INFO("seed=" << seed);
  std::string (*key_of)(size_t) = numbered_key;
  SUBCASE("short keys") {}
  SUBCASE("long keys sharing a long prefix") {
    key_of = long_key;
    iterations = 10000;
  }
  SUBCASE("key groups of different lengths and prefixes") {
    key_of = mixed_key;
    iterations = 10000;
  }
  StressWorld w(key_of);
  for (size_t n = 0; n < StressWorld::kKeys; n += 5)
    w.tree.insert_if_absent(w.key(n), w.payloads[n]);
  std::vector<std::vector<bool>> mine(StressWorld::kThreads,
                                      std::vector<bool>(StressWorld::kKeys, false));
  std::vector<char> ok(StressWorld::kThreads, 0);
  std::latch start(StressWorld::kThreads);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < StressWorld::kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      ok[t] = stress_thread(w, t, seed + static_cast<unsigned>(t), iterations, mine[t]);
    });
  }
  for (std::thread& th : threads)
    th.join();
  for (size_t t = 0; t < StressWorld::kThreads; ++t)
    REQUIRE(ok[t]);
  REQUIRE(w.tree.check_invariants() == "");
  // The final content is what the threads' operations imply.
  std::vector<Entry> expected;
  for (size_t n = 0; n < StressWorld::kKeys; ++n) {
    if (StressWorld::stable(n) || mine[StressWorld::owner(n)][n])
      expected.push_back(Entry{w.key(n), w.payloads[n]});
  }
  CHECK(w.tree.size() == expected.size());
  CHECK(scan_all(w.tree) == expected);
}

}  // namespace
}  // namespace ringdb::daemon
