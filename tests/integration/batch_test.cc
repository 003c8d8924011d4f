// Conditional batches through a real ringdbd (docs/PROTOCOL.md, "Conditional batches"): the
// C++ API (Client::apply, Operation::batch), the C ABI (ringdb_batch_*, ringdb_apply,
// ringdb_get_sequence) and what each answer carries; nothing written when a condition fails;
// the limits; compare-and-set increments from many threads losing no update; commit sequence
// numbers that keep growing across a restart, and if_unchanged_since with an older run's number.
#include <signal.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "ringdb/client.h"
#include "ringdb/ringdb.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/helpers.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace {

using ringdb::Batch;
using ringdb::BatchResult;
using ringdb::Client;
using ringdb::Operation;
using ringdb::Status;
using ringdb::test::connect;
using ringdb::test::DaemonProcess;
using ringdb::test::numbered;
using ringdb::test::TempDir;

std::string value_of(Client& c, const std::string& key, uint64_t* csn = nullptr) {
  std::string v;
  uint64_t seq = 0;
  const Status s = c.get(key, &v, &seq);
  if (csn != nullptr) *csn = seq;
  if (s == Status::kOk) return v;
  std::string shown("<");
  shown += ringdb::status_name(s);
  shown += ">";
  return shown;
}

}  // namespace

TEST_CASE("batch: conditions, operations and what the answers carry") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto c = connect(daemon);
  REQUIRE(c);
  REQUIRE(c->put("balance/a", "100") == Status::kOk);
  uint64_t a_csn = 0;
  REQUIRE(value_of(*c, "balance/a", &a_csn) == "100");
  CHECK(a_csn > 0);

  Batch transfer;
  transfer.if_equals("balance/a", "100")
      .if_absent("balance/b")
      .if_unchanged_since("balance/a", a_csn)
      .put("balance/a", "70")
      .put("balance/b", "30")
      .del("never-there");  // no error
  BatchResult r;
  REQUIRE(c->apply(transfer, &r) == Status::kOk);
  CHECK(r.commit_sequence > a_csn);
  uint64_t csn = 0;
  CHECK(value_of(*c, "balance/a", &csn) == "70");
  CHECK(csn == r.commit_sequence);
  CHECK(value_of(*c, "balance/b", &csn) == "30");
  CHECK(csn == r.commit_sequence);

  // The same batch again: its first condition fails; nothing is written.
  const uint64_t applied = r.commit_sequence;
  CHECK(c->apply(transfer, &r) == Status::kConditionFailed);
  CHECK(r.failed_condition == 0);
  CHECK(r.failed_key_sequence == applied);  // balance/a's value is the batch's
  CHECK(r.commit_sequence == 0);
  CHECK(value_of(*c, "balance/a") == "70");

  Batch later;
  later.if_present("balance/a").if_unchanged_since("balance/b", applied - 1).del("balance/a");
  CHECK(c->apply(later, &r) == Status::kConditionFailed);
  CHECK(r.failed_condition == 1);
  CHECK(value_of(*c, "balance/a") == "70");

  Batch absent;
  absent.if_unchanged_since("nothing", UINT64_MAX).put("x", "1");  // no value: false
  CHECK(c->apply(absent, &r) == Status::kConditionFailed);
  CHECK(r.failed_key_sequence == 0);
  CHECK(value_of(*c, "x") == "<NOT_FOUND>");

  // Conditions alone write nothing; the answer says whether they hold.
  Batch check;
  check.if_equals("balance/b", "30");
  CHECK(c->apply(check, &r) == Status::kOk);
  CHECK(r.commit_sequence == 0);

  // Later operations on a key win; a delete after a put deletes.
  Batch order;
  order.put("o", "1").put("o", "2").put("gone", "x").del("gone");
  REQUIRE(c->apply(order, &r, ringdb::Durability::kAsync) == Status::kOk);
  CHECK(value_of(*c, "o") == "2");
  CHECK(value_of(*c, "gone") == "<NOT_FOUND>");

  // Submitted asynchronously, beside other operations.
  Batch cas;
  cas.if_equals("o", "2").put("o", "3");
  Operation op = Operation::batch(cas, ringdb::Durability::kNone);
  Operation get = Operation::get("o");
  REQUIRE(c->submit(&op) == Status::kOk);
  REQUIRE(c->wait(&op) == Status::kOk);
  CHECK(op.status() == Status::kOk);
  CHECK(op.commit_sequence() > applied);
  REQUIRE(c->submit(&get) == Status::kOk);
  REQUIRE(c->wait(&get) == Status::kOk);
  CHECK(get.value() == "3");
  CHECK(get.commit_sequence() == op.commit_sequence());
  REQUIRE(c->submit(&op) == Status::kOk);  // again: "o" is 3 now
  REQUIRE(c->wait(&op) == Status::kOk);
  CHECK(op.status() == Status::kConditionFailed);
  CHECK(op.failed_condition() == 0);
}

TEST_CASE("batch: limits, each with its own answer") {
  // (4 MiB log segments: daemon_process.cc; a request area that holds more than one.)
  DaemonProcess daemon({"--request-area", "8M"});
  REQUIRE(daemon.ready());
  auto c = connect(daemon);
  REQUIRE(c);
  Batch many;
  for (uint32_t i = 0; i <= ringdb::kBatchEntriesMax; ++i)
    many.put(numbered("k", i), "v");
  CHECK(c->apply(many) == Status::kTooLarge);
  CHECK(ringdb::last_error_detail().find("1024 entries") != std::string::npos);
  CHECK(value_of(*c, "k0") == "<NOT_FOUND>");
  Batch most;
  for (uint32_t i = 0; i < ringdb::kBatchEntriesMax; ++i)
    most.put(numbered("k", i), "v");
  CHECK(c->apply(most) == Status::kOk);
  CHECK(value_of(*c, "k1023") == "v");

  Batch empty_key;
  empty_key.if_absent("").put("k", "v");
  CHECK(c->apply(empty_key) == Status::kInvalidArgument);
  Batch long_key;
  long_key.put(std::string(1025, 'k'), "v");
  CHECK(c->apply(long_key) == Status::kTooLarge);
  CHECK(ringdb::last_error_detail().find("--key-size-max") != std::string::npos);
  Batch long_value;
  long_value.if_equals("k", std::string((1 << 20) + 1, 'v')).put("k", "v");
  CHECK(c->apply(long_value) == Status::kTooLarge);
  CHECK(ringdb::last_error_detail().find("--value-size-max") != std::string::npos);
  // More bytes than the request area: refused by the library before it is sent.
  Batch huge;
  for (uint64_t i = 0; i < 9; ++i)
    huge.put(numbered("h", i), std::string(1 << 20, 'h'));
  CHECK(c->apply(huge) == Status::kTooLarge);
  // Within the area, over a log segment's room (4 MiB segments): the transaction's record.
  Batch big;
  for (uint64_t i = 0; i < 5; ++i)
    big.put(numbered("b", i), std::string(400 << 10, 'b'));
  Batch bigger = big;
  for (uint64_t i = 5; i < 11; ++i)
    bigger.put(numbered("b", i), std::string(400 << 10, 'b'));
  CHECK(c->apply(big) == Status::kOk);
  CHECK(c->apply(bigger) == Status::kTooLarge);
  CHECK(ringdb::last_error_detail().find("log record") != std::string::npos);
  CHECK(value_of(*c, "b10") == "<NOT_FOUND>");
  CHECK(c->ping() == Status::kOk);  // the session goes on
}

TEST_CASE("batch: compare-and-set increments from many threads lose no update") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto c = connect(daemon);
  REQUIRE(c);
  REQUIRE(c->put("counter", "0") == Status::kOk);
  constexpr int kThreads = 4;
  constexpr int kEach = 40;
  std::atomic<int> retries{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int done = 0; done < kEach;) {
        std::string v;
        uint64_t csn = 0;
        REQUIRE(c->get("counter", &v, &csn) == Status::kOk);
        Batch inc;
        inc.if_unchanged_since("counter", csn).put("counter", std::to_string(std::stoi(v) + 1));
        const Status s = c->apply(inc);
        if (s == Status::kOk) {
          ++done;
        } else {
          // Another increment came first (or holds the key while its record is synced).
          REQUIRE((s == Status::kConditionFailed || s == Status::kConflict));
          retries.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  CHECK(value_of(*c, "counter") == std::to_string(kThreads * kEach));
  MESSAGE("retries: " << retries.load());
}

TEST_CASE("batch: the C ABI") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  ringdb_client* client = nullptr;
  REQUIRE(ringdb_connect(daemon.socket().c_str(), &client, nullptr, 0) == RINGDB_OK);
  ringdb_batch* b = nullptr;
  REQUIRE(ringdb_batch_new(&b) == RINGDB_OK);
  CHECK(ringdb_batch_if_absent(b, "k", 1) == RINGDB_OK);
  CHECK(ringdb_batch_put(b, "k", 1, "v1", 2) == RINGDB_OK);
  CHECK(ringdb_batch_put(b, "j", 1, nullptr, 0) == RINGDB_OK);  // an empty value
  CHECK(ringdb_batch_del(b, "never", 5) == RINGDB_OK);
  ringdb_batch_result r;
  REQUIRE(ringdb_apply(client, b, RINGDB_SYNC, &r) == RINGDB_OK);
  CHECK(r.commit_sequence > 0);
  char* value = nullptr;
  size_t len = 0;
  uint64_t csn = 0;
  REQUIRE(ringdb_get_sequence(client, "k", 1, &value, &len, &csn) == RINGDB_OK);
  CHECK(std::string(value, len) == "v1");
  CHECK(csn == r.commit_sequence);
  ringdb_free(value);
  // Applied again: the if-absent fails.
  CHECK(ringdb_apply(client, b, RINGDB_SYNC, &r) == RINGDB_CONDITION_FAILED);
  CHECK(r.failed_condition == 0);
  CHECK(r.failed_key_sequence == csn);
  CHECK(ringdb_apply(client, b, RINGDB_NONE, nullptr) == RINGDB_CONDITION_FAILED);
  ringdb_batch_free(b);

  REQUIRE(ringdb_batch_new(&b) == RINGDB_OK);
  CHECK(ringdb_batch_if_equals(b, "k", 1, "v1", 2) == RINGDB_OK);
  CHECK(ringdb_batch_if_present(b, "j", 1) == RINGDB_OK);
  CHECK(ringdb_batch_if_unchanged_since(b, "k", 1, csn) == RINGDB_OK);
  CHECK(ringdb_batch_put(b, "k", 1, "v2", 2) == RINGDB_OK);
  CHECK(ringdb_apply(client, b, RINGDB_ASYNC, &r) == RINGDB_OK);
  CHECK(r.commit_sequence > csn);
  // Argument checks.
  CHECK(ringdb_batch_new(nullptr) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_batch_put(nullptr, "k", 1, "v", 1) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_batch_put(b, nullptr, 1, "v", 1) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_batch_if_equals(b, "k", 1, nullptr, 3) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_apply(nullptr, b, RINGDB_SYNC, &r) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_apply(client, nullptr, RINGDB_SYNC, &r) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_apply(client, b, static_cast<ringdb_durability>(3), &r) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_get_sequence(client, "k", 1, &value, &len, nullptr) == RINGDB_INVALID_ARGUMENT);
  ringdb_batch_free(b);
  ringdb_batch_free(nullptr);
  ringdb_close(client);
}

TEST_CASE("batch: commit sequence numbers keep growing across restarts") {
  TempDir dir("ringdb-batch");
  uint64_t before = 0;
  uint64_t last_commit = 0;
  {
    DaemonProcess daemon({}, dir.path);
    REQUIRE(daemon.ready());
    auto c = connect(daemon);
    REQUIRE(c);
    REQUIRE(c->put("k", "v") == Status::kOk);
    REQUIRE(value_of(*c, "k", &before) == "v");
    Batch b;
    b.put("other", "o");
    BatchResult r;
    REQUIRE(c->apply(b, &r) == Status::kOk);
    last_commit = r.commit_sequence;
    // Unchanged since its own commit: holds in this run.
    Batch same;
    same.if_unchanged_since("k", before);
    CHECK(c->apply(same) == Status::kOk);
    daemon.process().signal(SIGKILL);  // a crash: recovery replays the log
    CHECK(daemon.process().wait() != -1);
  }
  for (int run = 0; run < 2; ++run) {
    CAPTURE(run);
    DaemonProcess again({}, dir.path);
    REQUIRE(again.ready());
    auto c = connect(again);
    REQUIRE(c);
    uint64_t now = 0;
    REQUIRE(value_of(*c, "k", &now) == "v");
    CHECK(now > last_commit);  // recovered: written by this run, after every older number
    // A number from before the restart: the key counts as changed since.
    Batch old;
    old.if_unchanged_since("k", before).put("k", "w");
    CHECK(c->apply(old) == Status::kConditionFailed);
    Batch fresh;
    fresh.put("n", std::to_string(run));
    BatchResult r;
    REQUIRE(c->apply(fresh, &r) == Status::kOk);
    CHECK(r.commit_sequence > now);
    last_commit = r.commit_sequence;
    before = now;
    CHECK(again.stop() == 0);
  }
}
