// libringdb's cursors and batches of operations through a real ringdbd.
// Cursors (ringdb::Cursor): a range larger than the daemon's per-answer byte limit read whole,
// forward and in reverse, with a prefix and with bounds; one snapshot throughout while other
// sessions write; a transaction's cursor seeing its own writes; deleted keys passed over; and
// the error that ends a cursor when the daemon goes. Client::execute: thousands of operations
// in one call, more than the session's contexts, each with its own status; a transaction's
// operations one after another; the daemon's SIGKILL ending every op not yet complete. The
// completion descriptor driving an event loop of sync puts.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "doctest/doctest.h"
#include "ringdb/client.h"
#include "ringdb/ringdb.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/helpers.h"

namespace {

using ringdb::Client;
using ringdb::Cursor;
using ringdb::CursorOptions;
using ringdb::Status;
using ringdb::test::connect;
using ringdb::test::DaemonProcess;

// "k00042": fixed width, so that key order is number order.
std::string key_of(int i) {
  const std::string digits = std::to_string(i);
  std::string key("k");  // appended, not `"k" + ...`: GCC 12's false -Wrestrict (bug 105329)
  key.append(5 - std::min<size_t>(5, digits.size()), '0');
  key += digits;
  return key;
}

// Every key the cursor gives, and what ended it.
std::vector<std::string> drain(Cursor& cursor, Status* end) {
  std::vector<std::string> keys;
  while ((*end = cursor.next()) == Status::kOk)
    keys.emplace_back(cursor.key());
  return keys;
}

// Options without designated initializers (GCC 12 warns of the fields left out).
CursorOptions over(std::string start, std::string end, std::string prefix, uint32_t page_items,
                   bool reverse = false) {
  CursorOptions o;
  o.start = std::move(start);
  o.end = std::move(end);
  o.prefix = std::move(prefix);
  o.page_items = page_items;
  o.reverse = reverse;
  return o;
}

std::vector<std::string> expected(int from, int to) {  // [from, to)
  std::vector<std::string> keys;
  for (int i = from; i < to; ++i)
    keys.push_back(key_of(i));
  return keys;
}

// A small response area: the daemon cuts a scan's answer at half of it (32 KiB), so that a
// range of 3000 keys of 200 bytes (about 600 KB) takes many answers whatever page_items says.
const std::vector<std::string> kSmallAnswers = {"--response-area", "65536", "--value-size-max",
                                                "16384"};
constexpr int kKeys = 3000;

void load(Client& c) {
  const std::string value(200, 'v');
  for (int i = 0; i < kKeys; ++i)
    REQUIRE(c.put(key_of(i), value, ringdb::Durability::kAsync) == Status::kOk);
  REQUIRE(c.put("other", "x") == Status::kOk);  // outside the prefix, after it
}

TEST_CASE("cursor: pages through the daemon's answer limits, forward, reverse, prefix, bounds") {
  DaemonProcess daemon(kSmallAnswers);
  REQUIRE(daemon.ready());
  auto c = connect(daemon);
  REQUIRE(c);
  load(*c);
  // A plain scan stops at the answer limit and says so: the cursor's reason to exist.
  std::vector<ringdb::KeyValue> items;
  bool truncated = false;
  ringdb::ScanOptions scan;
  scan.prefix = "k";
  scan.limit = 100000;
  REQUIRE(c->scan(scan, &items, &truncated) == Status::kOk);
  CHECK(items.size() < kKeys);
  CHECK(truncated);

  std::unique_ptr<Cursor> cursor;
  Status end = Status::kOk;
  SUBCASE("forward, with the largest pages: cut by bytes only") {
    REQUIRE(c->open_cursor(over("", "", "k", 100000), &cursor) == Status::kOk);
    CHECK(drain(*cursor, &end) == expected(0, kKeys));
  }
  SUBCASE("forward, small pages") {
    REQUIRE(c->open_cursor(over("", "", "k", 7), &cursor) == Status::kOk);
    CHECK(drain(*cursor, &end) == expected(0, kKeys));
  }
  SUBCASE("reverse over bounds") {
    REQUIRE(c->open_cursor(over(key_of(100), key_of(2900), "", 1000, true), &cursor) ==
            Status::kOk);
    std::vector<std::string> want = expected(100, 2900);
    std::reverse(want.begin(), want.end());
    CHECK(drain(*cursor, &end) == want);
  }
  SUBCASE("no key in the range") {
    REQUIRE(c->open_cursor(over("", "", "nothing/", 1000), &cursor) == Status::kOk);
    CHECK(drain(*cursor, &end).empty());
  }
  CHECK(end == Status::kNotFound);
  CHECK(cursor->status() == Status::kOk);
  CHECK(cursor->next() == Status::kNotFound);  // and stays at the end
  CHECK(c->open_cursor(over("", "", "", 0), &cursor) == Status::kInvalidArgument);
}

TEST_CASE("cursor: one snapshot throughout while others write; a transaction's sees its own") {
  DaemonProcess daemon(kSmallAnswers);
  REQUIRE(daemon.ready());
  auto c = connect(daemon);
  auto writer = connect(daemon);
  REQUIRE(c);
  REQUIRE(writer);
  load(*c);

  std::unique_ptr<Cursor> cursor;
  REQUIRE(c->open_cursor(over("", "", "k", 500), &cursor) == Status::kOk);
  REQUIRE(cursor->next() == Status::kOk);
  CHECK(cursor->key() == key_of(0));
  // After the first page: a key deleted, one added, one changed, all past the cursor.
  REQUIRE(writer->del(key_of(2000)) == Status::kOk);
  REQUIRE(writer->put("k99999", "new") == Status::kOk);
  REQUIRE(writer->put(key_of(2500), "changed") == Status::kOk);
  std::vector<std::string> keys = {std::string(cursor->key())};
  Status end = Status::kOk;
  std::string value_2500;
  while ((end = cursor->next()) == Status::kOk) {
    keys.emplace_back(cursor->key());
    if (cursor->key() == key_of(2500)) value_2500 = cursor->value();
  }
  CHECK(end == Status::kNotFound);
  CHECK(keys == expected(0, kKeys));  // as of the cursor's open
  CHECK(value_2500 == std::string(200, 'v'));
  cursor.reset();

  // A new cursor sees the writes; deleted keys are passed over.
  REQUIRE(c->open_cursor(over(key_of(1999), key_of(2002), "", 1000), &cursor) == Status::kOk);
  CHECK(drain(*cursor, &end) == std::vector<std::string>{key_of(1999), key_of(2001)});

  // In a transaction: its own uncommitted writes, and nobody else's later ones.
  std::unique_ptr<ringdb::Transaction> txn;
  REQUIRE(c->begin(&txn) == Status::kOk);
  REQUIRE(txn->put("k00000a", "mine") == Status::kOk);
  REQUIRE(txn->del(key_of(1)) == Status::kOk);
  REQUIRE(writer->put("k00000b", "theirs") == Status::kOk);
  REQUIRE(txn->open_cursor(over("", key_of(3), "", 1), &cursor) == Status::kOk);
  CHECK(drain(*cursor, &end) == std::vector<std::string>{key_of(0), "k00000a", key_of(2)});
  CHECK(end == Status::kNotFound);
  cursor.reset();
  CHECK(txn->commit() == Status::kOk);
  CHECK(txn->open_cursor({}, &cursor) == Status::kUnknownTransaction);
}

TEST_CASE("cursor: the session's end ends the cursor with its error, not a false end") {
  DaemonProcess daemon(kSmallAnswers);
  REQUIRE(daemon.ready());
  auto c = connect(daemon);
  REQUIRE(c);
  load(*c);
  std::unique_ptr<Cursor> cursor;
  REQUIRE(c->open_cursor(over("", "", "k", 10), &cursor) == Status::kOk);
  REQUIRE(cursor->next() == Status::kOk);
  daemon.process().signal(SIGKILL);
  daemon.process().wait();
  Status end = Status::kOk;
  const std::vector<std::string> keys = drain(*cursor, &end);
  CHECK(keys.size() == 9);  // the rest of the page it had
  CHECK(end == Status::kDisconnected);
  CHECK(cursor->status() == Status::kDisconnected);
  CHECK(cursor->next() == Status::kDisconnected);
}

TEST_CASE("execute: many operations in one call, each with its own status") {
  DaemonProcess daemon(kSmallAnswers);
  REQUIRE(daemon.ready());
  auto c = connect(daemon);
  REQUIRE(c);
  constexpr int kOps = 2000;  // the session has 256 contexts
  std::vector<ringdb::Operation> ops;
  for (int i = 0; i < kOps; ++i)
    ops.push_back(ringdb::Operation::put(key_of(i), key_of(i)));
  ops.push_back(ringdb::Operation::put("big", std::string(20000, 'x')));  // over 16 KiB
  ops.push_back(ringdb::Operation::put("", "empty key"));
  std::vector<ringdb::Operation*> list;
  for (ringdb::Operation& op : ops)
    list.push_back(&op);
  REQUIRE(c->execute(list) == Status::kOk);
  for (int i = 0; i < kOps; ++i) {
    CAPTURE(i);
    CHECK(ops[static_cast<size_t>(i)].status() == Status::kOk);
    CHECK(ops[static_cast<size_t>(i)].log_position() > 0);  // sync: durable, with its position
  }
  CHECK(ops[kOps].status() == Status::kTooLarge);
  CHECK(ops[kOps + 1].status() == Status::kInvalidArgument);

  // Gets, and a transaction's operations (one at a time, in order) in the same call.
  std::unique_ptr<ringdb::Transaction> txn;
  REQUIRE(c->begin(&txn) == Status::kOk);
  std::vector<ringdb::Operation> mixed;
  for (int i = 0; i < 300; ++i)
    mixed.push_back(ringdb::Operation::get(key_of(i)));
  for (int i = 0; i < 20; ++i) {
    mixed.push_back(ringdb::Operation::put("t", key_of(i)));
    mixed.back().set_transaction(*txn);
  }
  mixed.push_back(ringdb::Operation::get("t"));
  mixed.back().set_transaction(*txn);
  list.clear();
  for (ringdb::Operation& op : mixed)
    list.push_back(&op);
  REQUIRE(c->execute(list) == Status::kOk);
  for (int i = 0; i < 300; ++i)
    CHECK(mixed[static_cast<size_t>(i)].value() == key_of(i));
  for (const ringdb::Operation& op : mixed)
    CHECK(op.status() == Status::kOk);        // no TRANSACTION_BUSY
  CHECK(mixed.back().value() == key_of(19));  // the last put, in order
  CHECK(txn->commit() == Status::kOk);
  CHECK(c->execute(list) == Status::kOk);  // complete ops may run again
  list.push_back(nullptr);
  CHECK(c->execute(list) == Status::kInvalidArgument);
}

TEST_CASE("execute: the daemon's end completes every operation with DISCONNECTED") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto c = connect(daemon);
  REQUIRE(c);
  REQUIRE(c->put("k", "v") == Status::kOk);
  daemon.process().signal(SIGKILL);
  daemon.process().wait();
  std::vector<ringdb::Operation> ops;
  for (int i = 0; i < 500; ++i)
    ops.push_back(ringdb::Operation::get("k"));
  std::vector<ringdb::Operation*> list;
  for (ringdb::Operation& op : ops)
    list.push_back(&op);
  CHECK(c->execute(list) == Status::kDisconnected);
  for (const ringdb::Operation& op : ops)
    CHECK(op.status() == Status::kDisconnected);
}

TEST_CASE("completion fd: an event loop keeps sync puts in flight against the real daemon") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto c = connect(daemon);
  REQUIRE(c);
  int fd = -1;
  REQUIRE(c->completion_fd(&fd) == Status::kOk);
  constexpr size_t kOps = 1000;
  std::vector<ringdb::Operation> ops;
  for (size_t i = 0; i < kOps; ++i)
    ops.push_back(ringdb::Operation::put(key_of(static_cast<int>(i)), "v"));
  std::vector<bool> complete(kOps, false);
  size_t next = 0;
  size_t done = 0;
  while (done < kOps) {
    while (next < kOps && c->try_submit(&ops[next]) == Status::kOk)
      ++next;
    pollfd p{fd, POLLIN, 0};
    REQUIRE(::poll(&p, 1, 30000) == 1);  // the loop sleeps only here
    uint64_t count = 0;
    REQUIRE(read(fd, &count, sizeof count) == static_cast<ssize_t>(sizeof count));
    for (size_t i = 0; i < next; ++i) {
      if (!complete[i] && c->poll(&ops[i])) {
        complete[i] = true;
        ++done;
        CHECK(ops[i].status() == Status::kOk);
        CHECK(ops[i].log_position() > 0);  // durable when answered
      }
    }
  }
}

}  // namespace
