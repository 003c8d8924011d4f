// Engine: conditions and holds, the engine's half of a conditional batch (the worker's kBatch):
// what each condition kind answers; that a hold keeps a key as the snapshot saw it until the
// transaction ends (others' writes meet CONFLICT, readers pass over the lock, nothing of it
// is in the redo, it leaves the chain at commit and at abort, the memory comes back); and that
// holding condition keys prevents the write skew snapshot isolation allows
// (engine_test.cc, "write skew is allowed").
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/engine/engine.h"

namespace ringdb::daemon {
namespace {

EngineOptions test_options() {
  EngineOptions o;
  o.purge_interval = std::chrono::milliseconds(0);
  o.index_node_keys_max = 8;
  return o;
}

std::unique_ptr<Transaction> begin(Engine& e) {
  std::unique_ptr<Transaction> t;
  REQUIRE(e.begin(TxnMode::kReadWrite, &t) == Status::kOk);
  return t;
}

mvcc::Csn put_committed(Engine& e, std::string_view key, std::string_view value) {
  auto t = begin(e);
  REQUIRE(e.put(*t, key, value) == Status::kOk);
  mvcc::Csn csn = mvcc::kNoCsn;
  REQUIRE(e.commit(std::move(t), &csn) == Status::kOk);
  return csn;
}

// Whether `c` holds in a new transaction's snapshot.
bool holds(Engine& e, const Condition& c, mvcc::Csn* csn = nullptr) {
  auto t = begin(e);
  bool h = false;
  mvcc::Csn seen = mvcc::kNoCsn;
  REQUIRE(e.evaluate(*t, c, &h, &seen) == Status::kOk);
  e.abort(std::move(t));
  if (csn != nullptr) *csn = seen;
  return h;
}

std::string read(Engine& e, std::string_view key) {
  auto t = begin(e);
  std::string v;
  const Status s = e.get(*t, key, &v);
  e.abort(std::move(t));
  if (s == Status::kOk) return v;
  std::string shown("<");
  shown += status_name(s);
  shown += ">";
  return shown;
}

TEST_CASE("Conditions: absent, present, equals, unchanged since, with the version's csn") {
  Engine e(test_options());
  CHECK(holds(e, {ConditionKind::kAbsent, "k", {}, 0}));
  CHECK_FALSE(holds(e, {ConditionKind::kPresent, "k", {}, 0}));
  CHECK_FALSE(holds(e, {ConditionKind::kEquals, "k", "", 0}));
  CHECK_FALSE(holds(e, {ConditionKind::kUnchangedSince, "k", {}, 1000}));  // no value: false
  const mvcc::Csn first = put_committed(e, "k", "v1");
  mvcc::Csn seen = 0;
  CHECK_FALSE(holds(e, {ConditionKind::kAbsent, "k", {}, 0}, &seen));
  CHECK(seen == first);
  CHECK(holds(e, {ConditionKind::kPresent, "k", {}, 0}));
  CHECK(holds(e, {ConditionKind::kEquals, "k", "v1", 0}));
  CHECK_FALSE(holds(e, {ConditionKind::kEquals, "k", "v", 0}));
  CHECK_FALSE(holds(e, {ConditionKind::kEquals, "k", "v1 ", 0}));
  CHECK(holds(e, {ConditionKind::kUnchangedSince, "k", {}, first}));
  CHECK_FALSE(holds(e, {ConditionKind::kUnchangedSince, "k", {}, first - 1}));
  const mvcc::Csn second = put_committed(e, "k", "v2");
  CHECK_FALSE(holds(e, {ConditionKind::kUnchangedSince, "k", {}, first}));
  CHECK(holds(e, {ConditionKind::kUnchangedSince, "k", {}, second}));
  // A delete: absent again, and unchanged-since fails (the deletion's time is not kept).
  auto d = begin(e);
  REQUIRE(e.del(*d, "k") == Status::kOk);
  REQUIRE(e.commit(std::move(d)) == Status::kOk);
  CHECK(holds(e, {ConditionKind::kAbsent, "k", {}, 0}));
  CHECK_FALSE(holds(e, {ConditionKind::kUnchangedSince, "k", {}, second + 100}));
  // Bad keys.
  auto t = begin(e);
  bool h = true;
  mvcc::Csn csn = 0;
  CHECK(e.evaluate(*t, {ConditionKind::kAbsent, "", {}, 0}, &h, &csn) == Status::kInvalidArgument);
  CHECK(e.evaluate(*t, {ConditionKind::kAbsent, std::string(2000, 'k'), {}, 0}, &h, &csn) ==
        Status::kTooLarge);
  e.abort(std::move(t));
}

TEST_CASE("Conditions: evaluated on the snapshot, before later commits and with own writes") {
  Engine e(test_options());
  put_committed(e, "k", "old");
  auto t = begin(e);
  put_committed(e, "k", "new");  // after t's snapshot
  bool h = false;
  mvcc::Csn csn = 0;
  REQUIRE(e.evaluate(*t, {ConditionKind::kEquals, "k", "old", 0}, &h, &csn) == Status::kOk);
  CHECK(h);
  // Holding it now is too late: a commit changed it after the snapshot.
  CHECK(e.hold(*t, "k") == Status::kConflict);
  e.abort(std::move(t));
  auto own = begin(e);
  REQUIRE(e.put(*own, "mine", "x") == Status::kOk);
  REQUIRE(e.evaluate(*own, {ConditionKind::kEquals, "mine", "x", 0}, &h, &csn) == Status::kOk);
  CHECK(h);
  CHECK(csn == mvcc::kNoCsn);  // its own write has no commit yet
  REQUIRE(e.evaluate(*own, {ConditionKind::kUnchangedSince, "mine", {}, 1u << 30}, &h, &csn) ==
          Status::kOk);
  CHECK_FALSE(h);
  e.abort(std::move(own));
}

TEST_CASE("Hold: other writers meet CONFLICT, readers see the value, nothing is redone") {
  Engine e(test_options());
  put_committed(e, "held", "v");
  const size_t memory_before = e.stats().memory_used_bytes;
  auto holder = begin(e);
  REQUIRE(e.hold(*holder, "held") == Status::kOk);
  REQUIRE(e.hold(*holder, "held") == Status::kOk);    // twice: one lock
  REQUIRE(e.hold(*holder, "absent") == Status::kOk);  // a key with no value can be held too
  REQUIRE(e.put(*holder, "written", "w") == Status::kOk);
  REQUIRE(e.hold(*holder, "written") == Status::kOk);  // written already: held already

  CHECK(read(e, "held") == "v");  // readers pass over the lock
  CHECK(read(e, "absent") == "<NOT_FOUND>");
  std::string own;
  CHECK(e.get(*holder, "held", &own) == Status::kOk);  // the holder too
  CHECK(own == "v");

  for (const char* key : {"held", "absent"}) {
    auto other = begin(e);
    CHECK(e.put(*other, key, "x") == Status::kConflict);
    e.abort(std::move(other));
  }
  std::vector<RedoOp> redo;
  REQUIRE(e.prepare_commit(*holder, &redo) == Status::kOk);
  REQUIRE(redo.size() == 1);  // the held keys are not written
  CHECK(redo[0].key == "written");

  mvcc::Csn csn = 0;
  REQUIRE(e.commit(std::move(holder), &csn) == Status::kOk);
  CHECK(csn != mvcc::kNoCsn);
  // Released at commit: others write again; the held keys kept their values (and versions).
  mvcc::Csn seen = 0;
  CHECK(holds(e, {ConditionKind::kEquals, "held", "v", 0}, &seen));
  CHECK(seen < csn);
  CHECK(holds(e, {ConditionKind::kAbsent, "absent", {}, 0}));
  put_committed(e, "held", "after");
  put_committed(e, "absent", "after");
  CHECK(read(e, "held") == "after");
  CHECK(read(e, "absent") == "after");

  // Purge takes every lock's memory back; "absent" and "written" are new keys.
  auto del = begin(e);
  REQUIRE(e.del(*del, "absent") == Status::kOk);
  REQUIRE(e.del(*del, "written") == Status::kOk);
  REQUIRE(e.commit(std::move(del)) == Status::kOk);
  put_committed(e, "held", "v");
  for (int i = 0; i < 4; ++i)
    e.run_purge();
  CHECK(e.stats().memory_used_bytes == memory_before);
  CHECK(e.stats().keys == 1);
}

TEST_CASE("Hold: abort releases the locks, including a chain made only for one") {
  Engine e(test_options());
  auto holder = begin(e);
  REQUIRE(e.hold(*holder, "a") == Status::kOk);
  e.abort(std::move(holder));
  put_committed(e, "a", "free");
  CHECK(read(e, "a") == "free");
  auto d = begin(e);
  REQUIRE(e.del(*d, "a") == Status::kOk);
  REQUIRE(e.commit(std::move(d)) == Status::kOk);
  for (int i = 0; i < 4; ++i)
    e.run_purge();
  CHECK(e.stats().keys == 0);
  CHECK(e.stats().memory_used_bytes == 0);
}

TEST_CASE("Hold: holding what was read prevents write skew") {
  // engine_test.cc's write skew, with each transaction holding the key its check read, as a
  // conditional batch does: the second to write meets the first's lock.
  Engine e(test_options());
  put_committed(e, "x", "on");
  put_committed(e, "y", "on");
  auto t1 = begin(e);
  auto t2 = begin(e);
  bool h = false;
  mvcc::Csn csn = 0;
  REQUIRE(e.evaluate(*t1, {ConditionKind::kEquals, "y", "on", 0}, &h, &csn) == Status::kOk);
  CHECK(h);
  REQUIRE(e.evaluate(*t2, {ConditionKind::kEquals, "x", "on", 0}, &h, &csn) == Status::kOk);
  CHECK(h);
  REQUIRE(e.put(*t1, "x", "off") == Status::kOk);
  REQUIRE(e.hold(*t1, "y") == Status::kOk);
  CHECK(e.put(*t2, "y", "off") == Status::kConflict);  // t1 holds y
  e.abort(std::move(t2));
  REQUIRE(e.commit(std::move(t1)) == Status::kOk);
  CHECK(read(e, "x") == "off");
  CHECK(read(e, "y") == "on");  // the constraint holds
}

TEST_CASE("Hold: concurrent compare-and-set increments lose no update") {
  // Threads increment a counter with "if equals the value read, put value + 1", holding a
  // second key they read too; every success is counted, so the final value is the count.
  // (The purge thread runs: the aborted attempts' versions must not pile up to the memory
  // limit on a slow machine.)
  EngineOptions options = test_options();
  options.purge_interval = std::chrono::milliseconds(1);
  Engine e(options);
  put_committed(e, "counter", "0");
  put_committed(e, "guard", "g");
  constexpr int kThreads = 4;
  constexpr int kSuccessesEach = 300;
  std::atomic<int> successes{0};
  std::atomic<uint64_t> conflicts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      int streak = 0;  // conflicts in a row: a livelock fails the test instead of hanging it
      for (int done = 0; done < kSuccessesEach;) {
        auto t = begin(e);
        std::string v;
        REQUIRE(e.get(*t, "counter", &v) == Status::kOk);
        bool h = false;
        mvcc::Csn csn = 0;
        REQUIRE(e.evaluate(*t, {ConditionKind::kEquals, "guard", "g", 0}, &h, &csn) == Status::kOk);
        REQUIRE(h);
        Status s = e.put(*t, "counter", std::to_string(std::stoi(v) + 1));
        const char* where = "put counter";
        if (s == Status::kOk) {
          s = e.hold(*t, "guard");
          where = "hold guard";
        }
        if (s == Status::kOk) s = e.commit(std::move(t));
        if (s == Status::kOk) {
          ++done;
          streak = 0;
          successes.fetch_add(1);
        } else {
          REQUIRE(s == Status::kConflict);
          conflicts.fetch_add(1);
          if (++streak == 100000) {
            FAIL_CHECK("no progress: " << std::string(where) << " blocked by " << t->blocked_by()
                                       << ", ended " << e.ended(t->blocked_by()));
          }
          REQUIRE(streak < 100000);
          e.abort(std::move(t));
          std::this_thread::yield();  // let the holder commit
        }
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  CHECK(successes.load() == kThreads * kSuccessesEach);
  CHECK(read(e, "counter") == std::to_string(kThreads * kSuccessesEach));
  CHECK(read(e, "guard") == "g");
  MESSAGE("conflicts: " << conflicts.load());
}

// Last in this file: run before the compare-and-set test, it made that test livelock under
// ASan about once in ten runs (an ended transaction's version left at the head of "counter";
// not understood yet: see the issue 16 note).
TEST_CASE("Purge: keys written and aborted again and again while purge runs (no freed chain)") {
  // An abort unlinks its version, then adds its history entry. If the entry were counted only
  // then, a purge pass trimming an earlier entry of the same key in between would find the
  // chain empty and unreferenced and remove it, and this entry would name freed memory (found
  // by AddressSanitizer under the watch test's writers). The history is counted at the write.
  Engine e(test_options());
  std::atomic<bool> stop{false};
  std::thread purge([&] {
    while (!stop.load(std::memory_order_relaxed))
      e.run_purge();
  });
  std::vector<std::thread> writers;
  for (int i = 0; i < 3; ++i) {
    writers.emplace_back([&e, i] {
      std::string key("k");
      key += std::to_string(i);
      for (int n = 0; n < 20000; ++n) {
        auto t = begin(e);
        REQUIRE(e.put(*t, key, "v") == Status::kOk);
        if (n % 3 == 0) {
          REQUIRE(e.commit(std::move(t)) == Status::kOk);
          auto d = begin(e);  // and a delete: a tombstone everyone sees, the chain's end
          REQUIRE(e.del(*d, key) == Status::kOk);
          REQUIRE(e.commit(std::move(d)) == Status::kOk);
        } else {
          e.abort(std::move(t));
        }
      }
    });
  }
  for (std::thread& t : writers)
    t.join();
  stop.store(true);
  purge.join();
  e.run_purge();
  for (const char* key : {"k0", "k1", "k2"})
    CHECK(read(e, key) == "<NOT_FOUND>");
}

}  // namespace
}  // namespace ringdb::daemon
