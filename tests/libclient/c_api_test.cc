// libringdb's C ABI (ringdb/ringdb.h, libclient/c_api.cc): argument checks, the connect
// error text and its truncation, and every call round-tripped through a fake daemon with
// malloc'ed results released by ringdb_free / ringdb_items_free.
#include <poll.h>

#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "ringdb/ringdb.h"
#include "tests/libclient/fake_daemon.h"

namespace {

using ringdb::test::FakeDaemon;
using ringdb::test::TempDir;

ringdb_client* connect_c(const FakeDaemon& daemon) {
  ringdb_client* client = nullptr;
  char error[256];
  REQUIRE(ringdb_connect(daemon.socket_path().c_str(), &client, error, sizeof error) == RINGDB_OK);
  REQUIRE(client != nullptr);
  CHECK(error[0] == '\0');
  return client;
}

ringdb_scan_options all_keys() {
  ringdb_scan_options o;
  std::memset(&o, 0, sizeof o);
  o.limit = 100;
  return o;
}

}  // namespace

TEST_CASE("C: a failed connect gives NULL, the status and a NUL-terminated reason") {
  TempDir dir;
  const std::string path = dir.path() + "/ringdb.sock";
  ringdb_client* client = reinterpret_cast<ringdb_client*>(&dir);  // must be overwritten
  char error[256];
  CHECK(ringdb_connect(path.c_str(), &client, error, sizeof error) == RINGDB_CONNECT_FAILED);
  CHECK(client == nullptr);
  CHECK(std::string(error).find(path) != std::string::npos);
  SUBCASE("a short buffer gets a truncated, terminated reason") {
    char small[8];
    std::memset(small, 'x', sizeof small);
    CHECK(ringdb_connect(path.c_str(), &client, small, sizeof small) == RINGDB_CONNECT_FAILED);
    CHECK(std::strlen(small) == sizeof small - 1);
  }
  SUBCASE("no buffer at all") {
    CHECK(ringdb_connect(path.c_str(), &client, nullptr, 0) == RINGDB_CONNECT_FAILED);
  }
}

TEST_CASE("C: NULL handles and NULL output pointers are INVALID_ARGUMENT") {
  char* value = nullptr;
  size_t len = 0;
  CHECK(ringdb_connect(nullptr, nullptr, nullptr, 0) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_ping(nullptr) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_get(nullptr, "k", 1, &value, &len) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_put(nullptr, "k", 1, "v", 1) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_del(nullptr, "k", 1) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_begin(nullptr, 0, nullptr) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_commit(nullptr) == RINGDB_INVALID_ARGUMENT);
  ringdb_close(nullptr);
  ringdb_abort(nullptr);
  ringdb_free(nullptr);
  ringdb_items_free(nullptr, 0);

  FakeDaemon daemon;
  ringdb_client* client = connect_c(daemon);
  CHECK(ringdb_get(client, nullptr, 3, &value, &len) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_get(client, "k", 1, nullptr, &len) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_put(client, "k", 1, nullptr, 5) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_scan(client, nullptr, nullptr, nullptr, nullptr) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_begin(client, 0, nullptr) == RINGDB_INVALID_ARGUMENT);
  ringdb_close(client);
}

TEST_CASE("C: put, get, del, scan round-trip; results are malloc'ed and NUL-terminated") {
  FakeDaemon daemon;
  ringdb_client* client = connect_c(daemon);
  CHECK(ringdb_ping(client) == RINGDB_OK);
  CHECK(ringdb_put(client, "a", 1, "one", 3) == RINGDB_OK);
  CHECK(ringdb_put(client, "b", 1, "", 0) == RINGDB_OK);
  char* value = nullptr;
  size_t len = 0;
  REQUIRE(ringdb_get(client, "a", 1, &value, &len) == RINGDB_OK);
  CHECK(len == 3);
  CHECK(std::string(value) == "one");
  ringdb_free(value);
  CHECK(ringdb_get(client, "zz", 2, &value, &len) == RINGDB_NOT_FOUND);
  CHECK(value == nullptr);
  CHECK(len == 0);

  ringdb_item* items = nullptr;
  size_t count = 0;
  int truncated = -1;
  ringdb_scan_options options = all_keys();
  REQUIRE(ringdb_scan(client, &options, &items, &count, &truncated) == RINGDB_OK);
  REQUIRE(count == 2);
  CHECK(std::string(items[0].key, items[0].key_len) == "a");
  CHECK(std::string(items[0].value) == "one");
  CHECK(items[1].value_len == 0);
  CHECK(truncated == 0);
  ringdb_items_free(items, count);

  options.prefix = "b";
  options.prefix_len = 1;
  REQUIRE(ringdb_scan(client, &options, &items, &count, nullptr) == RINGDB_OK);
  CHECK(count == 1);
  ringdb_items_free(items, count);

  CHECK(ringdb_del(client, "a", 1) == RINGDB_OK);
  CHECK(ringdb_del(client, "a", 1) == RINGDB_NOT_FOUND);
  ringdb_close(client);
}

// Reads a cursor to its end: "key=value," per item; *status gets what ended it.
std::string drain(ringdb_cursor* cursor, ringdb_status* status) {
  std::string out;
  const char* key = nullptr;
  const char* value = nullptr;
  size_t key_len = 0;
  size_t value_len = 0;
  while ((*status = ringdb_cursor_next(cursor, &key, &key_len, &value, &value_len)) == RINGDB_OK)
    out += std::string(key, key_len) + "=" + std::string(value, value_len) + ",";
  CHECK(key == nullptr);  // at the end: no item
  CHECK(key_len == 0);
  return out;
}

TEST_CASE("C: cursors page through a range forward and in reverse, alone or in a transaction") {
  FakeDaemon daemon;
  ringdb_client* client = connect_c(daemon);
  for (const char* k : {"a1", "a2", "a3", "a4", "a5", "b1"})
    REQUIRE(ringdb_put(client, k, 2, k, 2) == RINGDB_OK);
  ringdb_cursor_options o;
  std::memset(&o, 0, sizeof o);
  o.prefix = "a";
  o.prefix_len = 1;
  o.page_items = 2;  // three requests for five keys
  ringdb_cursor* cursor = nullptr;
  REQUIRE(ringdb_cursor_open(client, &o, &cursor) == RINGDB_OK);
  const uint64_t before = daemon.requests();
  ringdb_status status = RINGDB_OK;
  CHECK(drain(cursor, &status) == "a1=a1,a2=a2,a3=a3,a4=a4,a5=a5,");
  CHECK(status == RINGDB_NOT_FOUND);
  CHECK(daemon.requests() - before == 3);
  CHECK(ringdb_cursor_next(cursor, nullptr, nullptr, nullptr, nullptr) == RINGDB_NOT_FOUND);
  ringdb_cursor_close(cursor);

  o.reverse = 1;
  o.prefix_len = 0;
  o.start = "a2";
  o.start_len = 2;
  o.end = "b";
  o.end_len = 1;
  o.page_items = 0;  // the default
  ringdb_txn* txn = nullptr;
  REQUIRE(ringdb_begin(client, 0, &txn) == RINGDB_OK);
  REQUIRE(ringdb_txn_cursor_open(txn, &o, &cursor) == RINGDB_OK);
  CHECK(drain(cursor, &status) == "a5=a5,a4=a4,a3=a3,a2=a2,");
  CHECK(status == RINGDB_NOT_FOUND);
  ringdb_cursor_close(cursor);
  CHECK(ringdb_commit(txn) == RINGDB_OK);
  ringdb_cursor_close(nullptr);

  // Bad arguments.
  CHECK(ringdb_cursor_open(nullptr, &o, &cursor) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_cursor_open(client, nullptr, &cursor) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_cursor_open(client, &o, nullptr) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_txn_cursor_open(nullptr, &o, &cursor) == RINGDB_INVALID_ARGUMENT);
  o.start = nullptr;  // with a length
  CHECK(ringdb_cursor_open(client, &o, &cursor) == RINGDB_INVALID_ARGUMENT);
  CHECK(cursor == nullptr);
  CHECK(ringdb_cursor_next(nullptr, nullptr, nullptr, nullptr, nullptr) == RINGDB_INVALID_ARGUMENT);
  ringdb_close(client);
}

TEST_CASE("C: ops kept in flight: submit, poll, wait, execute many, results read from the op") {
  FakeDaemon daemon;
  ringdb_client* client = connect_c(daemon);
  // More ops than the session has request contexts: execute keeps a window in flight.
  constexpr size_t kOps = 600;
  std::vector<ringdb_op*> puts(kOps);
  std::vector<std::string> keys(kOps);
  for (size_t i = 0; i < kOps; ++i) {
    keys[i] = "op" + std::to_string(1000 + i);
    REQUIRE(ringdb_op_put(keys[i].data(), keys[i].size(), keys[i].data(), keys[i].size(),
                          i % 2 == 0 ? RINGDB_SYNC : RINGDB_ASYNC, &puts[i]) == RINGDB_OK);
  }
  REQUIRE(ringdb_execute(client, puts.data(), puts.size()) == RINGDB_OK);
  for (ringdb_op* op : puts)
    CHECK(ringdb_op_status(op) == RINGDB_OK);
  // Reused: a get per key, then a missing key.
  std::vector<ringdb_op*> gets(kOps + 1);
  for (size_t i = 0; i < kOps; ++i)
    REQUIRE(ringdb_op_get(keys[i].data(), keys[i].size(), &gets[i]) == RINGDB_OK);
  REQUIRE(ringdb_op_get("missing", 7, &gets[kOps]) == RINGDB_OK);
  REQUIRE(ringdb_execute(client, gets.data(), gets.size()) == RINGDB_OK);
  for (size_t i = 0; i < kOps; ++i) {
    const char* value = nullptr;
    size_t len = 0;
    REQUIRE(ringdb_op_value(gets[i], &value, &len) == RINGDB_OK);
    CHECK(std::string(value, len) == keys[i]);
  }
  CHECK(ringdb_op_status(gets[kOps]) == RINGDB_NOT_FOUND);

  // One op by hand: submit, poll until complete, read a scan's items.
  ringdb_scan_options o = all_keys();
  o.limit = 3;
  ringdb_op* scan = nullptr;
  REQUIRE(ringdb_op_scan(&o, &scan) == RINGDB_OK);
  REQUIRE(ringdb_submit(client, scan) == RINGDB_OK);
  CHECK(ringdb_submit(client, scan) == RINGDB_INVALID_ARGUMENT);  // in flight
  while (ringdb_poll(client, scan) == 0) {
  }
  CHECK(ringdb_op_status(scan) == RINGDB_OK);
  REQUIRE(ringdb_op_item_count(scan) == 3);
  CHECK(ringdb_op_truncated(scan) == 1);
  const char* key = nullptr;
  const char* value = nullptr;
  size_t key_len = 0;
  size_t value_len = 0;
  REQUIRE(ringdb_op_item(scan, 2, &key, &key_len, &value, &value_len) == RINGDB_OK);
  CHECK(std::string(key, key_len) == "op1002");
  CHECK(ringdb_op_item(scan, 3, &key, &key_len, &value, &value_len) == RINGDB_INVALID_ARGUMENT);
  // try_submit and wait, and a delete inside a transaction.
  ringdb_txn* txn = nullptr;
  REQUIRE(ringdb_begin(client, 0, &txn) == RINGDB_OK);
  ringdb_op* del = nullptr;
  REQUIRE(ringdb_op_del("op1000", 6, RINGDB_SYNC, &del) == RINGDB_OK);
  REQUIRE(ringdb_op_set_txn(del, txn) == RINGDB_OK);
  REQUIRE(ringdb_try_submit(client, del) == RINGDB_OK);
  CHECK(ringdb_wait(client, del) == RINGDB_OK);
  CHECK(ringdb_op_log_position(del) == 0);  // in a transaction: no commit of its own
  CHECK(ringdb_commit(txn) == RINGDB_OK);
  CHECK(ringdb_op_sequence(gets[0]) == 0);  // (the fake daemon gives no sequences)

  // Bad arguments.
  ringdb_op* bad = nullptr;
  CHECK(ringdb_op_get(nullptr, 1, &bad) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_op_put("k", 1, "v", 1, static_cast<ringdb_durability>(3), &bad) ==
        RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_op_get("k", 1, nullptr) == RINGDB_INVALID_ARGUMENT);
  CHECK(bad == nullptr);
  ringdb_op* with_null[2] = {scan, nullptr};
  CHECK(ringdb_execute(client, with_null, 2) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_execute(client, nullptr, 0) == RINGDB_OK);
  CHECK(ringdb_op_status(nullptr) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_put_durability(client, "d", 1, "v", 1, RINGDB_NONE) == RINGDB_OK);
  CHECK(ringdb_del_durability(client, "d", 1, RINGDB_ASYNC) == RINGDB_OK);
  CHECK(ringdb_put_durability(client, "d", 1, "v", 1, static_cast<ringdb_durability>(3)) ==
        RINGDB_INVALID_ARGUMENT);
  for (ringdb_op* op : puts)
    ringdb_op_free(op);
  for (ringdb_op* op : gets)
    ringdb_op_free(op);
  ringdb_op_free(scan);
  ringdb_op_free(del);
  ringdb_op_free(nullptr);
  ringdb_close(client);
}

// Batches and watches need the real daemon for their results (tests/integration/batch_test.cc,
// watch_test.cc); here, each call's argument checks and that it reaches the daemon.
TEST_CASE("C: batches, watches, get_sequence, backoff: argument checks and the round trip") {
  FakeDaemon daemon;
  ringdb_client* client = connect_c(daemon);
  ringdb_batch* batch = nullptr;
  REQUIRE(ringdb_batch_new(&batch) == RINGDB_OK);
  CHECK(ringdb_batch_if_absent(batch, "a", 1) == RINGDB_OK);
  CHECK(ringdb_batch_if_present(batch, "b", 1) == RINGDB_OK);
  CHECK(ringdb_batch_if_equals(batch, "c", 1, "v", 1) == RINGDB_OK);
  CHECK(ringdb_batch_if_unchanged_since(batch, "d", 1, 42) == RINGDB_OK);
  CHECK(ringdb_batch_put(batch, "e", 1, "v", 1) == RINGDB_OK);
  CHECK(ringdb_batch_del(batch, "f", 1) == RINGDB_OK);
  CHECK(ringdb_batch_put(batch, nullptr, 1, "v", 1) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_batch_if_absent(nullptr, "a", 1) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_batch_new(nullptr) == RINGDB_INVALID_ARGUMENT);
  ringdb_batch_result result;
  result.commit_sequence = 99;
  CHECK(ringdb_apply(client, batch, static_cast<ringdb_durability>(3), &result) ==
        RINGDB_INVALID_ARGUMENT);
  CHECK(result.commit_sequence == 0);  // cleared whatever the outcome
  const uint64_t before = daemon.requests();
  CHECK(ringdb_apply(client, batch, RINGDB_SYNC, &result) == RINGDB_INVALID_REQUEST);  // (fake)
  CHECK(daemon.requests() == before + 1);
  ringdb_batch_free(batch);
  ringdb_batch_free(nullptr);

  CHECK(ringdb_put(client, "s", 1, "v", 1) == RINGDB_OK);
  char* value = nullptr;
  size_t len = 0;
  uint64_t sequence = 7;
  REQUIRE(ringdb_get_sequence(client, "s", 1, &value, &len, &sequence) == RINGDB_OK);
  CHECK(std::string(value, len) == "v");
  ringdb_free(value);
  CHECK(ringdb_get_sequence(client, "s", 1, &value, &len, nullptr) == RINGDB_INVALID_ARGUMENT);

  ringdb_watch_options w;
  std::memset(&w, 0, sizeof w);
  w.from = RINGDB_WATCH_FROM_NOW;
  uint32_t id = 0;
  CHECK(ringdb_watch(client, nullptr, &id, nullptr) == RINGDB_INVALID_ARGUMENT);
  w.prefix_len = 3;  // NULL data with a length
  CHECK(ringdb_watch(client, &w, &id, nullptr) == RINGDB_INVALID_ARGUMENT);
  w.prefix_len = 0;
  CHECK(ringdb_watch(client, &w, &id, nullptr) == RINGDB_INVALID_REQUEST);  // (fake)
  CHECK(ringdb_unwatch(nullptr, 1) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_unwatch(client, 1) == RINGDB_INVALID_REQUEST);  // (fake)
  ringdb_watch_event* event = nullptr;
  CHECK(ringdb_next_event(client, 0, &event) == RINGDB_TIMED_OUT);
  CHECK(event == nullptr);
  CHECK(ringdb_next_event(client, 0, nullptr) == RINGDB_INVALID_ARGUMENT);
  ringdb_watch_event_free(nullptr);

  for (unsigned attempt = 0; attempt < 4; ++attempt)
    ringdb_conflict_backoff(attempt);  // returns (yields, then sleeps under a millisecond)
  ringdb_close(client);
}

TEST_CASE("C: the completion descriptor is readable once a submitted op completes") {
  FakeDaemon daemon;
  ringdb_client* client = connect_c(daemon);
  CHECK(ringdb_completion_fd(nullptr, nullptr) == RINGDB_INVALID_ARGUMENT);
  int fd = 0;
  CHECK(ringdb_completion_fd(client, nullptr) == RINGDB_INVALID_ARGUMENT);
  REQUIRE(ringdb_completion_fd(client, &fd) == RINGDB_OK);
  REQUIRE(fd >= 0);
  ringdb_op* op = nullptr;
  REQUIRE(ringdb_op_put("k", 1, "v", 1, RINGDB_SYNC, &op) == RINGDB_OK);
  REQUIRE(ringdb_submit(client, op) == RINGDB_OK);
  pollfd p{fd, POLLIN, 0};
  REQUIRE(poll(&p, 1, 10000) == 1);
  while (ringdb_poll(client, op) == 0) {  // readable: it is complete, or about to be
  }
  CHECK(ringdb_op_status(op) == RINGDB_OK);
  ringdb_op_free(op);
  ringdb_close(client);  // closes the descriptor too (checked for leaks in connect_test)
}

TEST_CASE("C: a timeout makes a late answer TIMED_OUT; 0 waits again") {
  ringdb::test::FakeOptions o;
  o.answer_delay = std::chrono::milliseconds(200);
  FakeDaemon daemon(o);
  ringdb_client* client = connect_c(daemon);
  CHECK(ringdb_set_timeout(client, -1) == RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_set_timeout(nullptr, 5) == RINGDB_INVALID_ARGUMENT);
  REQUIRE(ringdb_set_timeout(client, 1) == RINGDB_OK);
  CHECK(ringdb_ping(client) == RINGDB_TIMED_OUT);
  REQUIRE(ringdb_set_timeout(client, 0) == RINGDB_OK);
  CHECK(ringdb_ping(client) == RINGDB_OK);
  ringdb_close(client);
}

TEST_CASE("C: the library's and the daemon's versions, and every status's sentence") {
  FakeDaemon daemon;
  ringdb_client* client = connect_c(daemon);
  CHECK(std::string(ringdb_daemon_version(client)) == "9.8.7-fake");
  CHECK(std::string(ringdb_daemon_version(nullptr)).empty());
  int major = -1;
  CHECK(std::string(ringdb_version(&major, nullptr, nullptr)) == RINGDB_VERSION_STRING);
  CHECK(major == RINGDB_VERSION_MAJOR);
  CHECK(std::string(ringdb_status_message(RINGDB_NOT_FOUND)) == "the key has no value");
  ringdb_close(client);
}

TEST_CASE("C: a transaction commits, and an abandoned one is aborted on abort") {
  FakeDaemon daemon;
  ringdb_client* client = connect_c(daemon);
  ringdb_txn* txn = nullptr;
  REQUIRE(ringdb_begin(client, 0, &txn) == RINGDB_OK);
  CHECK(ringdb_txn_put(txn, "t", 1, "1", 1) == RINGDB_OK);
  char* value = nullptr;
  size_t len = 0;
  REQUIRE(ringdb_txn_get(txn, "t", 1, &value, &len) == RINGDB_OK);
  CHECK(std::string(value, len) == "1");
  ringdb_free(value);
  ringdb_item* items = nullptr;
  size_t count = 0;
  ringdb_scan_options options = all_keys();
  REQUIRE(ringdb_txn_scan(txn, &options, &items, &count, nullptr) == RINGDB_OK);
  CHECK(count == 1);
  ringdb_items_free(items, count);
  CHECK(ringdb_txn_del(txn, "t", 1) == RINGDB_OK);
  CHECK(ringdb_commit(txn) == RINGDB_OK);  // releases txn

  // With a durability level; an unknown level is refused (and the transaction released).
  REQUIRE(ringdb_begin(client, 0, &txn) == RINGDB_OK);
  CHECK(ringdb_txn_put(txn, "u", 1, "2", 1) == RINGDB_OK);
  CHECK(ringdb_commit_durability(txn, RINGDB_ASYNC) == RINGDB_OK);
  REQUIRE(ringdb_begin(client, 0, &txn) == RINGDB_OK);
  CHECK(ringdb_commit_durability(txn, static_cast<ringdb_durability>(3)) ==
        RINGDB_INVALID_ARGUMENT);
  CHECK(ringdb_commit_durability(nullptr, RINGDB_SYNC) == RINGDB_INVALID_ARGUMENT);

  REQUIRE(ringdb_begin(client, 1, &txn) == RINGDB_OK);
  const uint64_t before = daemon.requests();
  ringdb_abort(txn);
  CHECK(daemon.requests() == before + 1);
  ringdb_close(client);
}
