// Engine: snapshot isolation over the index and MVCC. The anomalies SI prevents (dirty write,
// dirty read, non-repeatable read, lost update, read skew) one by one, write skew (allowed
// under SI) documented by a test, commit atomicity, limits, AC-NL-RO reads, purge giving
// versions and memory back, scans against a reference map, and a randomized concurrent test
// checked against a serial replay in commit order.
#include "daemon/engine/engine.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <vector>

namespace ringdb::daemon {
namespace {

// prefix + decimal n. (Not `"k" + std::to_string(n)`: GCC 12 at -O3 reports a false
// -Wrestrict on that, GCC bug 105329.)
template <typename Integer>
std::string numbered(std::string_view prefix, Integer n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

EngineOptions test_options() {
  EngineOptions o;
  o.purge_interval = std::chrono::milliseconds(0);  // tests run purge themselves
  o.index_node_keys_max = 8;                        // small nodes: splits happen early
  return o;
}

std::unique_ptr<Transaction> begin(Engine& e, TxnMode mode = TxnMode::kReadWrite) {
  std::unique_ptr<Transaction> t;
  REQUIRE(e.begin(mode, &t) == Status::kOk);
  return t;
}

std::string get(Engine& e, Transaction& t, std::string_view key) {
  std::string value;
  const Status s = e.get(t, key, &value);
  return s == Status::kOk ? value : std::string("<") + status_name(s) + ">";
}

void put_committed(Engine& e, std::string_view key, std::string_view value) {
  auto t = begin(e);
  REQUIRE(e.put(*t, key, value) == Status::kOk);
  REQUIRE(e.commit(std::move(t)) == Status::kOk);
}

TEST_CASE("Engine: put, get, overwrite and delete in one transaction see their own writes") {
  Engine e(test_options());
  auto t = begin(e);
  CHECK(get(e, *t, "k") == "<NOT_FOUND>");
  CHECK(e.put(*t, "k", "v1") == Status::kOk);
  CHECK(get(e, *t, "k") == "v1");
  CHECK(e.put(*t, "k", "v2") == Status::kOk);
  CHECK(get(e, *t, "k") == "v2");
  CHECK(e.del(*t, "k") == Status::kOk);
  CHECK(get(e, *t, "k") == "<NOT_FOUND>");
  CHECK(e.del(*t, "k") == Status::kNotFound);
  CHECK(e.put(*t, "k", "v3") == Status::kOk);
  CHECK(e.commit(std::move(t)) == Status::kOk);
  auto r = begin(e, TxnMode::kReadOnly);
  CHECK(get(e, *r, "k") == "v3");
  e.abort(std::move(r));
}

TEST_CASE("Isolation: dirty write is prevented (first updater wins, no waiting)") {
  Engine e(test_options());
  auto t1 = begin(e);
  auto t2 = begin(e);
  CHECK(e.put(*t1, "k", "t1") == Status::kOk);
  CHECK(e.put(*t2, "k", "t2") == Status::kConflict);
  CHECK(e.put(*t2, "other", "x") == Status::kTransactionDone);  // it can only abort
  CHECK(e.commit(std::move(t2)) == Status::kTransactionDone);
  CHECK(e.commit(std::move(t1)) == Status::kOk);
}

TEST_CASE("Isolation: dirty read is prevented") {
  Engine e(test_options());
  put_committed(e, "k", "old");
  auto writer = begin(e);
  CHECK(e.put(*writer, "k", "new") == Status::kOk);
  auto reader = begin(e);
  CHECK(get(e, *reader, "k") == "old");
  e.abort(std::move(writer));
  CHECK(get(e, *reader, "k") == "old");
  e.abort(std::move(reader));
}

TEST_CASE("Isolation: non-repeatable read is prevented") {
  Engine e(test_options());
  put_committed(e, "k", "v1");
  auto reader = begin(e);
  CHECK(get(e, *reader, "k") == "v1");
  put_committed(e, "k", "v2");
  CHECK(get(e, *reader, "k") == "v1");
  e.abort(std::move(reader));
}

TEST_CASE("Isolation: lost update is prevented") {
  Engine e(test_options());
  put_committed(e, "counter", "10");
  auto t1 = begin(e);
  auto t2 = begin(e);
  CHECK(get(e, *t1, "counter") == "10");
  CHECK(get(e, *t2, "counter") == "10");
  CHECK(e.put(*t1, "counter", "11") == Status::kOk);
  CHECK(e.commit(std::move(t1)) == Status::kOk);
  CHECK(e.put(*t2, "counter", "11") == Status::kConflict);  // committed after t2's snapshot
  e.abort(std::move(t2));
}

TEST_CASE("Isolation: read skew is prevented (a transfer is seen whole or not at all)") {
  Engine e(test_options());
  put_committed(e, "x", "50");
  put_committed(e, "y", "50");
  auto reader = begin(e);
  CHECK(get(e, *reader, "x") == "50");
  auto transfer = begin(e);
  CHECK(e.put(*transfer, "x", "40") == Status::kOk);
  CHECK(e.put(*transfer, "y", "60") == Status::kOk);
  CHECK(e.commit(std::move(transfer)) == Status::kOk);
  CHECK(get(e, *reader, "y") == "50");  // x + y == 100 in its snapshot
  e.abort(std::move(reader));
  auto later = begin(e);
  CHECK(get(e, *later, "x") == "40");
  CHECK(get(e, *later, "y") == "60");
  e.abort(std::move(later));
}

TEST_CASE("Isolation: write skew is allowed under snapshot isolation (documented)") {
  // Constraint the application wants: at least one of x, y is "on". Each transaction checks
  // it in its snapshot and turns a different one off; SI lets both commit.
  Engine e(test_options());
  put_committed(e, "x", "on");
  put_committed(e, "y", "on");
  auto t1 = begin(e);
  auto t2 = begin(e);
  CHECK(get(e, *t1, "y") == "on");
  CHECK(get(e, *t2, "x") == "on");
  CHECK(e.put(*t1, "x", "off") == Status::kOk);
  CHECK(e.put(*t2, "y", "off") == Status::kOk);
  CHECK(e.commit(std::move(t1)) == Status::kOk);
  CHECK(e.commit(std::move(t2)) == Status::kOk);
  auto r = begin(e);
  CHECK(get(e, *r, "x") == "off");
  CHECK(get(e, *r, "y") == "off");  // the constraint is broken: write skew
  e.abort(std::move(r));
}

TEST_CASE("Engine: a commit's writes become visible all at once") {
  Engine e(test_options());
  auto before = begin(e);
  auto writer = begin(e);
  for (int i = 0; i < 20; ++i)
    REQUIRE(e.put(*writer, numbered("k", i), "v") == Status::kOk);
  auto during = begin(e);
  CHECK(e.commit(std::move(writer)) == Status::kOk);
  auto after = begin(e);
  for (int i = 0; i < 20; ++i) {
    const std::string key = numbered("k", i);
    CHECK(get(e, *before, key) == "<NOT_FOUND>");
    CHECK(get(e, *during, key) == "<NOT_FOUND>");
    CHECK(get(e, *after, key) == "v");
  }
  e.abort(std::move(before));
  e.abort(std::move(during));
  e.abort(std::move(after));
}

TEST_CASE("Engine: read-only transactions cannot write and take no transaction id") {
  Engine e(test_options());
  const uint64_t started = e.stats().trx_started;
  auto r = begin(e, TxnMode::kReadOnly);
  CHECK(e.put(*r, "k", "v") == Status::kInvalidArgument);
  CHECK(get(e, *r, "k") == "<NOT_FOUND>");
  CHECK(e.commit(std::move(r)) == Status::kOk);
  CHECK(e.stats().trx_started == started);
}

TEST_CASE("Limits: key and value sizes") {
  EngineOptions o = test_options();
  o.key_size_max = 8;
  o.value_size_max = 16;
  Engine e(o);
  auto t = begin(e);
  CHECK(e.put(*t, "", "v") == Status::kInvalidArgument);
  CHECK(e.put(*t, "123456789", "v") == Status::kTooLarge);
  CHECK(e.put(*t, "12345678", std::string(17, 'x')) == Status::kTooLarge);
  CHECK(e.put(*t, "12345678", std::string(16, 'x')) == Status::kOk);
  CHECK(e.commit(std::move(t)) == Status::kOk);
}

TEST_CASE("Limits: at the memory limit writes fail with OUT_OF_MEMORY and reads keep working") {
  EngineOptions o = test_options();
  o.memory_limit_bytes = 64 * 1024;
  Engine e(o);
  int stored = 0;
  Status last = Status::kOk;
  for (; stored < 10000; ++stored) {
    auto t = begin(e);
    last = e.put(*t, numbered("key", stored), std::string(100, 'v'));
    if (last != Status::kOk) {
      e.abort(std::move(t));
      break;
    }
    REQUIRE(e.commit(std::move(t)) == Status::kOk);
  }
  CHECK(last == Status::kOutOfMemory);
  CHECK(stored > 100);
  CHECK(e.stats().memory_used_bytes <= o.memory_limit_bytes);
  auto r = begin(e, TxnMode::kReadOnly);
  CHECK(get(e, *r, "key0") == std::string(100, 'v'));
  e.abort(std::move(r));
  // Deleting everything and purging gives the memory back: writes work again.
  for (int i = 0; i < stored; ++i) {
    auto t = begin(e);
    REQUIRE(e.del(*t, numbered("key", i)) == Status::kOk);
    REQUIRE(e.commit(std::move(t)) == Status::kOk);
  }
  e.run_purge();
  e.run_purge();
  CHECK(e.stats().keys == 0);
  CHECK(e.stats().memory_used_bytes == 0);
  put_committed(e, "again", "fits");
}

TEST_CASE("Bulk load: ascending keys, committed as one transaction, seen by later snapshots only") {
  Engine e(test_options());
  put_committed(e, "a", "before");
  auto earlier = begin(e, TxnMode::kReadOnly);
  const EngineStats before = e.stats();
  {
    std::unique_ptr<BulkLoad> load = e.begin_bulk_load();
    for (int i = 0; i < 1000; ++i)
      REQUIRE(load->add(numbered("b", 1000 + i), numbered("v", i)) == Status::kOk);
  }
  const EngineStats after = e.stats();
  CHECK(after.keys == 1001);
  CHECK(after.trx_committed == before.trx_committed + 1);  // one commit for the whole load
  CHECK(after.history_length == before.history_length);    // nothing for purge to look at
  // Charged as a transaction's puts of new keys are charged.
  Engine by_puts(test_options());
  put_committed(by_puts, "a", "before");
  auto t = begin(by_puts);
  for (int i = 0; i < 1000; ++i)
    REQUIRE(by_puts.put(*t, numbered("b", 1000 + i), numbered("v", i)) == Status::kOk);
  REQUIRE(by_puts.commit(std::move(t)) == Status::kOk);
  CHECK(after.memory_used_bytes == by_puts.stats().memory_used_bytes);

  CHECK(get(e, *earlier, "b1000") == "<NOT_FOUND>");  // its snapshot predates the load
  std::vector<KeyValue> out;
  ScanOptions all;
  all.limit = 2000;
  REQUIRE(e.scan(*earlier, all, &out) == Status::kOk);
  CHECK(out.size() == 1);
  e.abort(std::move(earlier));
  auto later = begin(e);
  CHECK(get(e, *later, "b1000") == "v0");
  CHECK(get(e, *later, "b1999") == "v999");
  REQUIRE(e.scan(*later, all, &out) == Status::kOk);
  CHECK(out.size() == 1001);
  // Loaded keys are keys like others: overwritten, deleted, purged.
  REQUIRE(e.put(*later, "b1000", "new") == Status::kOk);
  REQUIRE(e.del(*later, "b1001") == Status::kOk);
  REQUIRE(e.commit(std::move(later)) == Status::kOk);
  e.run_purge();
  e.run_purge();
  auto last = begin(e, TxnMode::kReadOnly);
  CHECK(get(e, *last, "b1000") == "new");
  CHECK(get(e, *last, "b1001") == "<NOT_FOUND>");
  e.abort(std::move(last));
  CHECK(e.stats().keys == 1000);
}

TEST_CASE("Bulk load: a key out of order, too large or over the memory limit is refused whole") {
  EngineOptions o = test_options();
  o.key_size_max = 8;
  o.value_size_max = 16;
  o.memory_limit_bytes = 16 * 1024;
  Engine e(o);
  std::unique_ptr<BulkLoad> load = e.begin_bulk_load();
  REQUIRE(load->add("k1", "v") == Status::kOk);
  CHECK(load->add("k1", "v") == Status::kInvalidArgument);  // not greater
  CHECK(load->add("k0", "v") == Status::kInvalidArgument);
  CHECK(load->add("", "v") == Status::kInvalidArgument);
  CHECK(load->add("k123456789", "v") == Status::kTooLarge);
  CHECK(load->add("k2", std::string(17, 'x')) == Status::kTooLarge);
  CHECK(e.stats().keys == 1);
  int added = 0;
  Status last = Status::kOk;
  for (; added < 10000; ++added) {
    last = load->add(numbered("k2", added + 100000), std::string(16, 'x'));
    if (last != Status::kOk) break;
  }
  CHECK(last == Status::kOutOfMemory);
  CHECK(added > 10);
  const EngineStats full = e.stats();
  CHECK(full.keys == static_cast<size_t>(added) + 1);
  CHECK(full.memory_used_bytes <= o.memory_limit_bytes);
  load.reset();
  auto t = begin(e, TxnMode::kReadOnly);
  CHECK(get(e, *t, "k1") == "v");
  CHECK(get(e, *t, numbered("k2", added + 99999)) == std::string(16, 'x'));
  CHECK(get(e, *t, numbered("k2", added + 100000)) == "<NOT_FOUND>");
  e.abort(std::move(t));
}

TEST_CASE("AC-NL-RO: a session's autocommit get sees the latest commit and takes no id") {
  Engine e(test_options());
  std::unique_ptr<Session> session;
  REQUIRE(e.open_session(&session, 42) == Status::kOk);
  std::string value;
  CHECK(e.get(*session, "k", &value) == Status::kNotFound);
  CHECK(e.put(*session, "k", "v1") == Status::kOk);
  const uint64_t started = e.stats().trx_started;
  CHECK(e.get(*session, "k", &value) == Status::kOk);
  CHECK(value == "v1");
  put_committed(e, "k", "v2");
  CHECK(e.get(*session, "k", &value) == Status::kOk);
  CHECK(value == "v2");
  CHECK(e.stats().trx_started == started + 1);  // only put_committed took an id
  CHECK(e.stats().active_views == 0);           // the session's view is released between calls
  CHECK(e.del(*session, "k") == Status::kOk);
  CHECK(e.get(*session, "k", &value) == Status::kNotFound);
  e.close_session(std::move(session));
}

TEST_CASE("AC-NL-RO: a get that hands the value over calls its sink once, with the view active") {
  Engine e(test_options());
  std::unique_ptr<Session> session;
  REQUIRE(e.open_session(&session, 7) == Status::kOk);
  int calls = 0;
  std::string seen;
  uint32_t views_during = 0;
  mvcc::Csn seen_csn = 0;
  auto sink = [&](std::string_view v, mvcc::Csn csn) {
    ++calls;
    seen.assign(v);
    seen_csn = csn;
    views_during = e.stats().active_views;
  };
  CHECK(e.get_with(*session, "k", sink) == Status::kNotFound);
  CHECK(calls == 0);
  put_committed(e, "k", std::string(300, 'x'));
  CHECK(e.get_with(*session, "k", sink) == Status::kOk);
  CHECK(calls == 1);
  CHECK(seen == std::string(300, 'x'));
  CHECK(seen_csn == 1);                // the commit's sequence number comes with the value
  CHECK(views_during == 1);            // the version cannot be purged under the sink
  CHECK(e.stats().active_views == 0);  // and the view is released afterwards
  CHECK(e.del(*session, "k") == Status::kOk);
  CHECK(e.get_with(*session, "k", sink) == Status::kNotFound);  // a delete is not a value
  CHECK(calls == 1);
  CHECK(e.get_with(*session, "", sink) == Status::kInvalidArgument);
  e.close_session(std::move(session));
}

// Waits (yielding) up to 30 s for pred(); a bounded wait for a background thread, not a sleep.
template <typename Pred>
bool eventually(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST_CASE("Purge thread: sleeps while there is nothing to purge, and a commit wakes it") {
  EngineOptions o = test_options();
  o.purge_interval = std::chrono::milliseconds(5);  // while work is left
  Engine e(o);
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    REQUIRE(eventually([&] { return e.stats().purge_idle; }));
    put_committed(e, "k", numbered("v", round));  // history, then garbage from round 1 on
    // The thread slept with no timeout: only the commit's wake-up brings it to the work.
    CHECK(eventually([&] { return e.stats().history_length == 0 && e.stats().purge_idle; }));
  }
  CHECK(e.stats().purge.versions_unlinked == 2);
}

TEST_CASE("Purge: an open transaction keeps its snapshot; afterwards versions and memory go") {
  Engine e(test_options());
  put_committed(e, "k", "v0");
  auto old_reader = begin(e);
  for (int i = 1; i <= 10; ++i)
    put_committed(e, "k", numbered("v", i));
  const size_t with_history = e.stats().memory_used_bytes;
  CHECK(e.stats().history_length == 11);
  e.run_purge();
  CHECK(get(e, *old_reader, "k") == "v0");
  CHECK(e.stats().active_views == 1);  // the old reader, reported as the oldest view
  CHECK(e.stats().oldest_view_age_ns >= 0);
  e.abort(std::move(old_reader));
  e.run_purge();  // trims: one version left
  e.run_purge();  // frees what was unlinked
  CHECK(e.stats().history_length == 0);
  const size_t after = e.stats().memory_used_bytes;
  CHECK(after < with_history);
  // One version per live key: the same memory as a store that only ever held the final value.
  Engine fresh(test_options());
  put_committed(fresh, "k", "v10");
  CHECK(after == fresh.stats().memory_used_bytes);
  auto r = begin(e);
  CHECK(get(e, *r, "k") == "v10");
  e.abort(std::move(r));
}

TEST_CASE(
    "Scan: forward, reverse, prefix, limit and whether more remain, against a reference map") {
  Engine e(test_options());
  const unsigned seed = std::random_device{}();
  INFO("seed=" << seed);
  std::printf("engine scan test seed=%u\n", seed);
  std::mt19937 rng(seed);
  std::map<std::string, std::string> reference;
  for (int i = 0; i < 300; ++i) {
    const std::string key = numbered("k", rng() % 200);
    auto t = begin(e);
    if (rng() % 4 == 0) {
      const Status s = e.del(*t, key);
      CHECK((s == Status::kOk) == (reference.erase(key) == 1));
    } else {
      const std::string value = std::to_string(i);
      REQUIRE(e.put(*t, key, value) == Status::kOk);
      reference[key] = value;
    }
    REQUIRE(e.commit(std::move(t)) == Status::kOk);
  }
  auto t = begin(e, TxnMode::kReadOnly);
  std::vector<KeyValue> got;  // reused: each scan replaces what the last one left
  for (int round = 0; round < 50; ++round) {
    ScanOptions o;
    o.start = numbered("k", rng() % 200);
    o.limit = 1 + rng() % 30;
    o.reverse = rng() % 2 == 0;
    if (rng() % 3 == 0) o.prefix = "k1";
    ScanProgress progress;
    REQUIRE(e.scan(*t, o, &got, &progress) == Status::kOk);
    const bool more = progress.more;
    // Every key of the range in scan order (deleted keys are not in the reference: the
    // engine holds their tombstones, which the scan passes over).
    std::vector<KeyValue> want;
    auto matches = [&](const std::string& k) {
      return k.compare(0, o.prefix.size(), o.prefix) == 0;
    };
    if (!o.reverse) {
      for (auto it = reference.lower_bound(o.start); it != reference.end(); ++it)
        if (matches(it->first)) want.push_back({it->first, it->second});
    } else {
      // Reverse: the same range [start, +inf), from the largest key down.
      for (auto it = reference.end(); it != reference.begin();) {
        --it;
        if (it->first < o.start) break;
        if (matches(it->first)) want.push_back({it->first, it->second});
      }
    }
    const bool want_more = want.size() > o.limit;
    if (want_more) want.resize(o.limit);
    INFO("start=" << o.start << " reverse=" << o.reverse << " prefix=" << o.prefix
                  << " limit=" << o.limit);
    CHECK(more == want_more);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].key == want[i].key);
      CHECK(got[i].value == want[i].value);
    }
  }
  e.abort(std::move(t));
}

TEST_CASE(
    "Scan: cut into slices by visits_max or step_aside and resumed, it gives what one scan gives") {
  Engine e(test_options());
  {
    auto t = begin(e);
    for (int i = 0; i < 500; ++i)
      REQUIRE(e.put(*t, numbered("s", i), std::to_string(i)) == Status::kOk);
    REQUIRE(e.commit(std::move(t)) == Status::kOk);
    auto d = begin(e);  // every third key deleted: tombstones the slices walk over
    for (int i = 0; i < 500; i += 3)
      REQUIRE(e.del(*d, numbered("s", i)) == Status::kOk);
    REQUIRE(e.commit(std::move(d)) == Status::kOk);
  }
  auto t = begin(e, TxnMode::kReadOnly);
  for (const bool reverse : {false, true}) {
    CAPTURE(reverse);
    ScanOptions whole;
    whole.prefix = "s";
    whole.limit = 1000;
    whole.reverse = reverse;
    std::vector<KeyValue> want;
    REQUIRE(e.scan(*t, whole, &want) == Status::kOk);
    REQUIRE(want.size() == 333);
    for (const size_t visits : {size_t{1}, size_t{7}, size_t{64}}) {
      CAPTURE(visits);
      ScanOptions slice = whole;
      slice.visits_max = visits;
      std::vector<KeyValue> got, part;
      for (int calls = 0; calls < 2000; ++calls) {
        ScanProgress progress;
        REQUIRE(e.scan(*t, slice, &part, &progress) == Status::kOk);
        CHECK(progress.visited <= visits);
        got.insert(got.end(), part.begin(), part.end());
        if (!progress.more) break;
        REQUIRE(progress.cut);  // the limit is never reached here
        // Resume at next_key (inclusive).
        if (reverse) {
          slice.end = progress.next_key + '\0';
        } else {
          slice.start = progress.next_key;
        }
      }
      CHECK(got == want);
    }
    // step_aside, asked every kStepAsideEvery visits, cuts a slice the same way.
    ScanOptions slice = whole;
    int asked = 0;
    slice.step_aside = [&asked] { return ++asked % 2 == 0; };  // every second time asked
    std::vector<KeyValue> got, part;
    int calls = 0;
    for (; calls < 2000; ++calls) {
      ScanProgress progress;
      REQUIRE(e.scan(*t, slice, &part, &progress) == Status::kOk);
      CHECK(progress.visited <= 2 * ScanOptions::kStepAsideEvery);
      got.insert(got.end(), part.begin(), part.end());
      if (!progress.more) break;
      REQUIRE(progress.cut);
      if (reverse) {
        slice.end = progress.next_key + '\0';
      } else {
        slice.start = progress.next_key;
      }
    }
    CHECK(got == want);
    CHECK(calls >= 500 / (2 * static_cast<int>(ScanOptions::kStepAsideEvery)));
  }
  e.abort(std::move(t));
}

// ---- Randomized concurrent transactions, checked against a serial replay ---------------

struct Observed {
  mvcc::Csn snapshot = 0;
  mvcc::Csn commit = 0;                                                    // 0 for read-only
  std::vector<std::pair<std::string, std::optional<std::string>>> reads;   // before own writes
  std::vector<std::pair<std::string, std::optional<std::string>>> writes;  // in order
};

TEST_CASE("Redo: prepare_commit gives each key's final state; writes stay invisible till commit") {
  Engine e(test_options());
  put_committed(e, "c", "old");
  put_committed(e, "a", "old");
  auto t = begin(e);
  std::vector<RedoOp> redo;
  REQUIRE(e.prepare_commit(*t, &redo) == Status::kOk);
  CHECK(redo.empty());  // nothing written yet
  REQUIRE(e.put(*t, "b", "1") == Status::kOk);
  REQUIRE(e.put(*t, "a", "2") == Status::kOk);
  REQUIRE(e.put(*t, "a", "3") == Status::kOk);
  REQUIRE(e.del(*t, "c") == Status::kOk);
  REQUIRE(e.prepare_commit(*t, &redo) == Status::kOk);
  REQUIRE(redo.size() == 3);  // first-write order, one entry per key
  CHECK((redo[0].key == "b" && redo[0].value == "1" && !redo[0].tombstone));
  CHECK((redo[1].key == "a" && redo[1].value == "3" && !redo[1].tombstone));
  CHECK((redo[2].key == "c" && redo[2].value.empty() && redo[2].tombstone));
  CHECK(t->id() != mvcc::kNoTrx);
  // Prepared, not committed: invisible, and its keys are still held.
  auto other = begin(e);
  CHECK(get(e, *other, "a") == "old");
  CHECK(e.put(*other, "b", "x") == Status::kConflict);
  e.abort(std::move(other));
  REQUIRE(e.commit(std::move(t)) == Status::kOk);
  auto after = begin(e, TxnMode::kReadOnly);
  CHECK(get(e, *after, "a") == "3");
  CHECK(get(e, *after, "c") == "<NOT_FOUND>");
  e.abort(std::move(after));
  // A failed transaction has no redo: only abort is left.
  auto failing = begin(e);
  auto holder = begin(e);
  REQUIRE(e.put(*holder, "z", "h") == Status::kOk);
  CHECK(e.put(*failing, "z", "f") == Status::kConflict);
  CHECK(e.prepare_commit(*failing, &redo) == Status::kTransactionDone);
  e.abort(std::move(failing));
  e.abort(std::move(holder));
}

TEST_CASE("Redo: replaying every commit's redo in commit order rebuilds the same store") {
  std::mt19937_64 rng(std::random_device{}());
  Engine live(test_options());
  Engine replica(test_options());
  for (int round = 0; round < 300; ++round) {
    auto t = begin(live);
    const int writes = 1 + static_cast<int>(rng() % 5);
    bool failed = false;
    for (int w = 0; w < writes && !failed; ++w) {
      const std::string key = numbered("k", rng() % 40);
      Status s;
      if (rng() % 4 == 0) {
        s = live.del(*t, key);
        if (s == Status::kNotFound) continue;
      } else {
        s = live.put(*t, key, numbered("v", round));
      }
      failed = s != Status::kOk;
    }
    std::vector<RedoOp> redo;
    if (failed || live.prepare_commit(*t, &redo) != Status::kOk) {
      live.abort(std::move(t));
      continue;
    }
    // The replica applies the redo as recovery will: its own transaction, puts and deletes.
    auto r = begin(replica);
    for (const RedoOp& op : redo) {
      const Status s = op.tombstone ? replica.del(*r, op.key) : replica.put(*r, op.key, op.value);
      CHECK((s == Status::kOk || (op.tombstone && s == Status::kNotFound)));
    }
    REQUIRE(live.commit(std::move(t)) == Status::kOk);
    REQUIRE(replica.commit(std::move(r)) == Status::kOk);
  }
  ScanOptions all;
  all.limit = 1000;
  std::vector<KeyValue> a, b;
  auto ta = begin(live, TxnMode::kReadOnly);
  auto tb = begin(replica, TxnMode::kReadOnly);
  REQUIRE(live.scan(*ta, all, &a) == Status::kOk);
  REQUIRE(replica.scan(*tb, all, &b) == Status::kOk);
  live.abort(std::move(ta));
  replica.abort(std::move(tb));
  CHECK(a.size() == b.size());
  CHECK(a == b);
}

TEST_CASE("Snapshot isolation: random concurrent transactions match a serial replay") {
  Engine e(test_options());
  const unsigned seed = std::random_device{}();
  INFO("seed=" << seed);
  std::printf("engine SI test seed=%u\n", seed);
  constexpr int kThreads = 4;
  constexpr int kTxnsPerThread = 3000;
  constexpr int kKeys = 8;  // few keys: transactions collide and conflict
  std::vector<std::vector<Observed>> committed(kThreads);
  std::atomic<int> conflicts{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(seed + static_cast<unsigned>(t));
      ready.fetch_add(1);
      while (ready.load() < kThreads)
        std::this_thread::yield();  // start together
      for (int n = 0; n < kTxnsPerThread; ++n) {
        const bool read_only = rng() % 5 == 0;
        std::unique_ptr<Transaction> txn;
        if (e.begin(read_only ? TxnMode::kReadOnly : TxnMode::kReadWrite, &txn) != Status::kOk)
          continue;
        Observed obs;
        obs.snapshot = txn->snapshot_csn();
        std::map<std::string, std::optional<std::string>> own;
        bool ok = true;
        const int ops = 2 + static_cast<int>(rng() % 5);
        for (int op = 0; op < ops && ok; ++op) {
          // Let other transactions in between operations, even when only one core is free.
          if (op == 1) std::this_thread::yield();
          const std::string key = numbered("key", rng() % kKeys);
          const auto kind = rng() % 3;
          if (read_only || kind == 0) {
            std::string value;
            const Status s = e.get(*txn, key, &value);
            std::optional<std::string> got;
            if (s == Status::kOk) got = value;
            if (auto it = own.find(key); it != own.end()) {
              if (got != it->second) ok = false;  // must read its own write
              if (!ok) FAIL_CHECK("own write not read back, key " << key);
            } else {
              obs.reads.emplace_back(key, got);
            }
          } else if (kind == 1) {
            const std::string value = std::to_string(t) + ":" + std::to_string(n) + ":" + key;
            const Status s = e.put(*txn, key, value);
            if (s == Status::kConflict) {
              ok = false;
            } else {
              REQUIRE(s == Status::kOk);
              own[key] = value;
              obs.writes.emplace_back(key, value);
            }
          } else {
            const Status s = e.del(*txn, key);
            if (s == Status::kConflict) {
              ok = false;
            } else if (s == Status::kOk) {
              own[key] = std::nullopt;
              obs.writes.emplace_back(key, std::nullopt);
            }
          }
        }
        if (!ok) {
          conflicts.fetch_add(1);
          e.abort(std::move(txn));
          continue;
        }
        REQUIRE(e.commit(std::move(txn), &obs.commit) == Status::kOk);
        committed[static_cast<size_t>(t)].push_back(std::move(obs));
      }
    });
  }
  for (auto& th : threads)
    th.join();

  // Replay: the committed writers in commit order; every transaction's reads must equal the
  // state after the commits its snapshot includes.
  std::vector<const Observed*> all;
  std::vector<const Observed*> writers;
  for (const auto& per_thread : committed) {
    for (const Observed& o : per_thread) {
      all.push_back(&o);
      if (o.commit != mvcc::kNoCsn) writers.push_back(&o);
    }
  }
  std::sort(writers.begin(), writers.end(),
            [](const Observed* a, const Observed* b) { return a->commit < b->commit; });
  for (size_t i = 1; i < writers.size(); ++i)
    REQUIRE(writers[i - 1]->commit < writers[i]->commit);
  std::sort(all.begin(), all.end(),
            [](const Observed* a, const Observed* b) { return a->snapshot < b->snapshot; });
  std::map<std::string, std::string> state;
  auto apply = [&](const Observed& o) {
    for (const auto& [key, value] : o.writes) {
      if (value) {
        state[key] = *value;
      } else {
        state.erase(key);
      }
    }
  };
  size_t applied = 0;
  int checked_reads = 0;
  for (const Observed* o : all) {
    while (applied < writers.size() && writers[applied]->commit <= o->snapshot)
      apply(*writers[applied++]);
    if (o->commit != mvcc::kNoCsn) CHECK(o->commit > o->snapshot);
    for (const auto& read : o->reads) {
      const std::string& key = read.first;
      const std::optional<std::string>& got = read.second;
      auto it = state.find(key);
      const std::optional<std::string> want =
          it == state.end() ? std::nullopt : std::optional<std::string>(it->second);
      INFO("snapshot " << o->snapshot << " key " << key << " got " << got.value_or("<none>")
                       << " want " << want.value_or("<none>"));
      CHECK(got == want);
      ++checked_reads;
    }
  }
  while (applied < writers.size())
    apply(*writers[applied++]);

  // The final state equals the serial application of all committed writes.
  auto final_txn = begin(e, TxnMode::kReadOnly);
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = numbered("key", k);
    auto it = state.find(key);
    CHECK(get(e, *final_txn, key) == (it == state.end() ? "<NOT_FOUND>" : it->second));
  }
  e.abort(std::move(final_txn));
  e.run_purge();
  MESSAGE(writers.size() << " read-write commits, " << all.size() - writers.size() << " read-only, "
                         << conflicts.load() << " aborted on conflict, " << checked_reads
                         << " reads checked");
  CHECK(writers.size() > 1000);
  CHECK(checked_reads > 5000);
}

}  // namespace
}  // namespace ringdb::daemon
