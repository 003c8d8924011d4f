// libringdb's data path (libclient/session.cc) against a fake daemon that speaks the
// protocol (tests/libclient/fake_daemon.h): requests and answers inline and through the data
// areas, scans, transactions, back-pressure (full rings, no free context, a full request
// area), sleeping and waking on both sides, and a daemon that detaches, stops or dies.
#include <poll.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ringdb/client.h"
#include "tests/libclient/fake_daemon.h"

namespace {

using namespace std::chrono_literals;
using ringdb::Client;
using ringdb::KeyValue;
using ringdb::Operation;
using ringdb::ScanOptions;
using ringdb::Status;
using ringdb::Transaction;
using ringdb::test::FakeDaemon;
using ringdb::test::FakeOptions;
using Clock = std::chrono::steady_clock;

// The documented bound on noticing a dead daemon is about 100 ms; sanitizer builds on a
// loaded machine get slack, a hang does not.
constexpr auto kNoticeLimit = 2s;

// prefix + decimal n. (Not `"k" + std::to_string(n)`: GCC 12 at -O3 reports a false
// -Wrestrict on that, GCC bug 105329.)
template <typename Integer>
std::string numbered(std::string_view prefix, Integer n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

FakeOptions small_session() {
  FakeOptions o;
  o.sizes.ring_count = 1;
  o.sizes.ring_slots = 8;
  o.sizes.context_count = 16;
  o.sizes.context_size = 256;  // 192 inline bytes
  o.sizes.request_area_size = 64 * 1024;
  o.sizes.response_area_size = 64 * 1024;
  return o;
}

}  // namespace

TEST_CASE("ping, put, get and del round-trip through the segment") {
  FakeDaemon daemon;
  auto client = daemon.connect();
  CHECK(client->ping() == Status::kOk);
  std::string value;
  CHECK(client->get("k", &value) == Status::kNotFound);
  CHECK(client->put("k", "v1") == Status::kOk);
  CHECK(client->get("k", &value) == Status::kOk);
  CHECK(value == "v1");
  CHECK(client->put("k", "v2") == Status::kOk);
  CHECK(client->get("k", &value) == Status::kOk);
  CHECK(value == "v2");
  CHECK(client->del("k") == Status::kOk);
  CHECK(client->del("k") == Status::kNotFound);
  CHECK(client->put("", "v") == Status::kInvalidArgument);  // the daemon's check, passed on
  CHECK(daemon.invalid_requests() == 0);
}

TEST_CASE("payloads and results larger than the inline bytes go through the data areas") {
  FakeDaemon daemon(small_session());
  auto client = daemon.connect();
  const uint32_t inline_bytes = daemon.geometry().inline_capacity();
  for (size_t size : {size_t{inline_bytes} - 1, size_t{inline_bytes}, size_t{inline_bytes} + 1,
                      size_t{5000}, size_t{30000}}) {
    CAPTURE(size);
    const std::string key = "big" + std::to_string(size);
    std::string v(size, 'a');
    for (size_t i = 0; i < size; ++i)
      v[i] = static_cast<char>('a' + i % 26);
    REQUIRE(client->put(key, v) == Status::kOk);
    std::string got;
    REQUIRE(client->get(key, &got) == Status::kOk);
    CHECK(got == v);
  }
  CHECK(daemon.invalid_requests() == 0);
}

TEST_CASE("a payload larger than the whole request area is TOO_LARGE and never sent") {
  FakeDaemon daemon(small_session());
  auto client = daemon.connect();
  const uint64_t before = daemon.requests();
  CHECK(client->put("k", std::string(64 * 1024 + 1, 'x')) == Status::kTooLarge);
  Operation op = Operation::put("k", std::string(100 * 1024, 'x'));
  CHECK(client->try_submit(&op) == Status::kTooLarge);
  CHECK(client->wait(&op) == Status::kOk);  // nothing in flight
  CHECK(op.status() == Status::kTooLarge);
  CHECK(daemon.requests() == before);
  CHECK(client->ping() == Status::kOk);  // nothing was leaked on the way out
}

TEST_CASE("an answer too large for the response area is RESPONSE_AREA_FULL") {
  FakeDaemon daemon(small_session());
  auto client = daemon.connect();
  REQUIRE(client->put("k", std::string(60 * 1024, 'x')) == Status::kOk);
  REQUIRE(client->put("j", std::string(60 * 1024, 'y')) == Status::kOk);
  Operation a = Operation::get("k");
  Operation b = Operation::get("j");
  REQUIRE(client->submit(&a) == Status::kOk);
  REQUIRE(client->submit(&b) == Status::kOk);
  // One ring, one worker: a is answered first, and its block stays the client's until a is
  // completed, after b.
  REQUIRE(client->wait(&b) == Status::kOk);
  REQUIRE(client->wait(&a) == Status::kOk);
  CHECK(a.status() == Status::kOk);
  CHECK(a.value().size() == 60 * 1024);
  CHECK(b.status() == Status::kResponseAreaFull);
  std::string v;
  CHECK(client->get("j", &v) == Status::kOk);  // both freed now: it fits
}

TEST_CASE("scan items are decoded in order; reverse, bounds, prefix and limit are sent") {
  FakeDaemon daemon;
  auto client = daemon.connect();
  for (const char* k : {"a1", "a2", "a3", "b1", "b2"})
    REQUIRE(client->put(k, std::string("v") + k) == Status::kOk);
  std::vector<KeyValue> items;
  bool truncated = true;
  ScanOptions all;
  REQUIRE(client->scan(all, &items, &truncated) == Status::kOk);
  REQUIRE(items.size() == 5);
  CHECK(items[0].key == "a1");
  CHECK(items[0].value == "va1");
  CHECK(items[4].key == "b2");
  CHECK(!truncated);

  const ScanOptions some{.start = "a2", .end = "", .prefix = "a", .limit = 1, .reverse = true};
  REQUIRE(client->scan(some, &items) == Status::kOk);
  REQUIRE(items.size() == 1);
  CHECK(items[0].key == "a3");

  const ScanOptions bounded{
      .start = "a2", .end = "b2", .prefix = "", .limit = 100, .reverse = false};
  REQUIRE(client->scan(bounded, &items) == Status::kOk);
  REQUIRE(items.size() == 3);
  CHECK(items[2].key == "b1");
}

TEST_CASE("a scan answer cut at the per-answer byte limit comes back TRUNCATED") {
  FakeDaemon daemon(small_session());  // per-answer limit: half the 64 KiB response area
  auto client = daemon.connect();
  for (int i = 0; i < 10; ++i)
    REQUIRE(client->put(numbered("s", i), std::string(10000, 'v')) == Status::kOk);
  std::vector<KeyValue> items;
  bool truncated = false;
  ScanOptions options;
  options.limit = 10;
  REQUIRE(client->scan(options, &items, &truncated) == Status::kOk);
  CHECK(truncated);
  CHECK(items.size() == 3);
  Operation op = Operation::scan(options);
  REQUIRE(client->submit(&op) == Status::kOk);
  REQUIRE(client->wait(&op) == Status::kOk);
  CHECK(op.truncated());
  CHECK(op.items().size() == 3);
}

TEST_CASE("a transaction: its requests carry its handle; commit returns the csn and ends it") {
  FakeDaemon daemon;
  auto client = daemon.connect();
  std::unique_ptr<Transaction> txn;
  REQUIRE(client->begin(&txn) == Status::kOk);
  REQUIRE(txn->open());
  const uint64_t handle = txn->handle();
  CHECK(handle != 0);
  CHECK(txn->put("t", "1") == Status::kOk);
  CHECK(daemon.last_txn() == handle);
  std::string v;
  CHECK(txn->get("t", &v) == Status::kOk);
  CHECK(v == "1");
  std::vector<KeyValue> items;
  CHECK(txn->scan(ScanOptions{}, &items) == Status::kOk);
  CHECK(txn->del("t") == Status::kOk);
  CHECK(daemon.last_txn() == handle);
  CHECK(txn->commit() == Status::kOk);
  CHECK(!txn->open());
  CHECK(txn->commit_sequence() != 0);
  // Ended: nothing more is sent for it (an autocommit request would be wrong).
  const uint64_t before = daemon.requests();
  CHECK(txn->put("t", "2") == Status::kUnknownTransaction);
  CHECK(txn->commit() == Status::kUnknownTransaction);
  CHECK(daemon.requests() == before);
}

TEST_CASE("an asynchronous operation runs inside a transaction") {
  FakeDaemon daemon;
  auto client = daemon.connect();
  std::unique_ptr<Transaction> txn;
  REQUIRE(client->begin(&txn, /*read_only=*/true) == Status::kOk);
  Operation op = Operation::get("nothing");
  op.set_transaction(*txn);
  REQUIRE(client->submit(&op) == Status::kOk);
  REQUIRE(client->wait(&op) == Status::kOk);
  CHECK(op.status() == Status::kNotFound);
  CHECK(daemon.last_txn() == txn->handle());
}

TEST_CASE("a transaction destroyed while open is aborted") {
  FakeDaemon daemon;
  auto client = daemon.connect();
  std::unique_ptr<Transaction> txn;
  REQUIRE(client->begin(&txn) == Status::kOk);
  const uint64_t handle = txn->handle();
  const uint64_t before = daemon.requests();
  txn.reset();
  CHECK(daemon.requests() == before + 1);  // the abort
  CHECK(daemon.last_txn() == handle);
}

TEST_CASE("try_submit: RING_FULL with a full ring, TOO_MANY_IN_FLIGHT without a context") {
  SUBCASE("the ring fills first") {
    FakeOptions o = small_session();  // 8 slots, 16 contexts
    FakeDaemon daemon(o);
    auto client = daemon.connect();
    daemon.pause();
    std::vector<Operation> ops(9);
    for (size_t i = 0; i < 8; ++i) {
      ops[i] = Operation::put(numbered("r", i), "v");
      REQUIRE(client->try_submit(&ops[i]) == Status::kOk);
    }
    ops[8] = Operation::ping();
    CHECK(client->try_submit(&ops[8]) == Status::kRingFull);
    CHECK(ops[8].status() == Status::kRingFull);
    daemon.resume();
    for (size_t i = 0; i < 8; ++i) {
      REQUIRE(client->wait(&ops[i]) == Status::kOk);
      CHECK(ops[i].status() == Status::kOk);
    }
    CHECK(client->try_submit(&ops[8]) == Status::kOk);  // its context was given back
    CHECK(client->wait(&ops[8]) == Status::kOk);
  }
  SUBCASE("the contexts run out first") {
    FakeOptions o = small_session();
    o.sizes.context_count = 4;
    FakeDaemon daemon(o);
    auto client = daemon.connect();
    daemon.pause();
    std::vector<Operation> ops(5);
    for (size_t i = 0; i < 4; ++i) {
      ops[i] = Operation::ping();
      REQUIRE(client->try_submit(&ops[i]) == Status::kOk);
    }
    ops[4] = Operation::ping();
    CHECK(client->try_submit(&ops[4]) == Status::kTooManyInFlight);
    daemon.resume();
    for (size_t i = 0; i < 4; ++i)
      REQUIRE(client->wait(&ops[i]) == Status::kOk);
  }
}

TEST_CASE("try_submit with the request area full is TOO_MANY_IN_FLIGHT; nothing leaks") {
  FakeDaemon daemon(small_session());  // 64 KiB request area
  auto client = daemon.connect();
  daemon.pause();
  Operation a = Operation::put("a", std::string(40000, 'a'));
  Operation b = Operation::put("b", std::string(40000, 'b'));
  REQUIRE(client->try_submit(&a) == Status::kOk);
  CHECK(client->try_submit(&b) == Status::kTooManyInFlight);
  daemon.resume();
  REQUIRE(client->wait(&a) == Status::kOk);
  CHECK(client->try_submit(&b) == Status::kOk);
  REQUIRE(client->wait(&b) == Status::kOk);
  CHECK(b.status() == Status::kOk);
}

TEST_CASE("a blocking submit waits for a free context, then goes on") {
  FakeOptions o = small_session();
  o.sizes.context_count = 2;
  FakeDaemon daemon(o);
  auto client = daemon.connect();
  daemon.pause();
  Operation a = Operation::ping(), b = Operation::ping(), c = Operation::put("c", "3");
  REQUIRE(client->submit(&a) == Status::kOk);
  REQUIRE(client->submit(&b) == Status::kOk);
  std::atomic<bool> submitted{false};
  std::thread third([&] {
    CHECK(client->submit(&c) == Status::kOk);
    submitted = true;
    CHECK(client->wait(&c) == Status::kOk);
  });
  std::this_thread::sleep_for(50ms);
  CHECK(!submitted);  // no context yet
  daemon.resume();
  CHECK(client->wait(&a) == Status::kOk);
  CHECK(client->wait(&b) == Status::kOk);
  third.join();
  CHECK(submitted);
  CHECK(c.status() == Status::kOk);
}

TEST_CASE("one thread may pipeline more large payloads than the request area holds") {
  // Blocks are reclaimed once their request is answered, so the blocked submit does not wait
  // for this same thread to call wait().
  FakeDaemon daemon(small_session());  // 64 KiB request area, 16 contexts
  auto client = daemon.connect();
  std::vector<Operation> ops;
  for (int i = 0; i < 12; ++i)
    ops.push_back(Operation::put(numbered("p", i), std::string(20000, 'p')));
  const auto start = Clock::now();
  for (auto& op : ops)
    REQUIRE(client->submit(&op) == Status::kOk);
  for (auto& op : ops) {
    REQUIRE(client->wait(&op) == Status::kOk);
    CHECK(op.status() == Status::kOk);
  }
  // Woken by each answer (about 2 ms here, 11 ms under TSan), not by a 50 ms slice per
  // blocked submit (9 of them: 450 ms).
  CHECK(Clock::now() - start < 250ms);
}

TEST_CASE("a slow answer: the client sleeps on its context and the worker's wake ends it") {
  FakeOptions o;
  o.answer_delay = 20ms;  // far past the client's spin
  FakeDaemon daemon(o);
  auto client = daemon.connect();
  const auto start = Clock::now();
  CHECK(client->ping() == Status::kOk);
  const auto took = Clock::now() - start;
  CHECK(daemon.waiter_wakes() >= 1);
  CHECK(took >= 20ms);
  CHECK(took < 1s);
}

TEST_CASE("a sleeping worker is woken through its doorbell") {
  FakeOptions o;
  o.idle_rounds_before_sleep = 10;
  FakeDaemon daemon(o);
  auto client = daemon.connect();
  for (int round = 0; round < 20; ++round) {
    const auto deadline = Clock::now() + 10s;
    while (!daemon.worker_asleep() && Clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    REQUIRE(daemon.worker_asleep());
    const auto start = Clock::now();
    CHECK(client->ping() == Status::kOk);
    CHECK(Clock::now() - start < 1s);  // not the worker's 2 s safety timeout
  }
  CHECK(daemon.sleeps() >= 20);
  CHECK(daemon.lost_wakeups() == 0);
}

TEST_CASE("poll completes an operation without blocking") {
  FakeDaemon daemon;
  auto client = daemon.connect();
  REQUIRE(client->put("k", "v") == Status::kOk);
  daemon.pause();
  Operation op = Operation::get("k");
  REQUIRE(client->submit(&op) == Status::kOk);
  CHECK(!client->poll(&op));
  daemon.resume();
  const auto deadline = Clock::now() + 10s;
  bool done = false;
  while (!done && Clock::now() < deadline)
    done = client->poll(&op);
  REQUIRE(done);
  CHECK(op.status() == Status::kOk);
  CHECK(op.value() == "v");
  CHECK(client->poll(&op));  // nothing in flight any more
}

TEST_CASE("an operation moved while in flight is completed through its new owner") {
  FakeDaemon daemon;
  auto client = daemon.connect();
  daemon.pause();
  Operation first = Operation::put("m", "moved");
  REQUIRE(client->submit(&first) == Status::kOk);
  Operation second(std::move(first));
  daemon.resume();
  CHECK(client->wait(&second) == Status::kOk);
  CHECK(second.status() == Status::kOk);
}

TEST_CASE("the daemon detaches the session without answering: DISCONNECTED, promptly") {
  FakeDaemon daemon;
  auto client = daemon.connect();
  daemon.pause();
  Operation op = Operation::ping();
  REQUIRE(client->submit(&op) == Status::kOk);
  const auto start = Clock::now();
  daemon.detach(/*shutting_down=*/false);
  CHECK(client->wait(&op) == Status::kDisconnected);
  CHECK(op.status() == Status::kDisconnected);
  CHECK(Clock::now() - start < kNoticeLimit);
  // Lost for good: later requests fail at once, blocking or not.
  CHECK(client->ping() == Status::kDisconnected);
  Operation later = Operation::ping();
  CHECK(client->try_submit(&later) == Status::kDisconnected);
}

TEST_CASE("a daemon shutting down: unanswered requests and new ones are SHUTTING_DOWN") {
  FakeDaemon daemon;
  auto client = daemon.connect();
  daemon.pause();
  Operation op = Operation::ping();
  REQUIRE(client->submit(&op) == Status::kOk);
  daemon.detach(/*shutting_down=*/true);
  CHECK(client->wait(&op) == Status::kShuttingDown);
  CHECK(client->ping() == Status::kShuttingDown);
}

TEST_CASE("the board's shutting_down alone refuses new requests but queued ones are answered") {
  FakeDaemon daemon;
  auto client = daemon.connect();
  daemon.pause();
  Operation op = Operation::ping();
  REQUIRE(client->submit(&op) == Status::kOk);
  daemon.set_shutting_down();
  CHECK(client->ping() == Status::kShuttingDown);
  daemon.resume();
  CHECK(client->wait(&op) == Status::kOk);  // still answered
  CHECK(op.status() == Status::kOk);
}

TEST_CASE("the daemon dies (its socket hangs up): a waiting client sees DISCONNECTED") {
  FakeDaemon daemon;
  auto client = daemon.connect();
  daemon.pause();
  Operation op = Operation::ping();
  REQUIRE(client->submit(&op) == Status::kOk);
  const auto start = Clock::now();
  daemon.hang_up();
  CHECK(client->wait(&op) == Status::kDisconnected);
  const auto took = Clock::now() - start;
  MESSAGE("noticed after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                           << " ms");
  CHECK(took < kNoticeLimit);
}

TEST_CASE("a poller notices a dead daemon too") {
  FakeDaemon daemon;
  auto client = daemon.connect();
  daemon.pause();
  Operation op = Operation::ping();
  REQUIRE(client->submit(&op) == Status::kOk);
  daemon.hang_up();
  const auto deadline = Clock::now() + kNoticeLimit;
  bool done = false;
  while (!done && Clock::now() < deadline)
    done = client->poll(&op);
  REQUIRE(done);
  CHECK(op.status() == Status::kDisconnected);
}

TEST_CASE("a submitter blocked on a full session fails when the session is lost") {
  FakeOptions o = small_session();
  o.sizes.context_count = 1;
  FakeDaemon daemon(o);
  auto client = daemon.connect();
  daemon.pause();
  Operation first = Operation::ping();
  REQUIRE(client->submit(&first) == Status::kOk);
  std::atomic<int> second_status{-1};
  std::thread blocked([&] {
    second_status = static_cast<int>(client->ping());  // waits for first's context
  });
  std::this_thread::sleep_for(20ms);
  const auto start = Clock::now();
  daemon.detach(/*shutting_down=*/false);
  CHECK(client->wait(&first) == Status::kDisconnected);
  blocked.join();
  CHECK(second_status == static_cast<int>(Status::kDisconnected));
  CHECK(Clock::now() - start < kNoticeLimit);
}

TEST_CASE("many threads, many requests: every answer belongs to its request") {
  FakeOptions o;
  o.sizes.ring_count = 2;
  o.sizes.ring_slots = 16;
  o.sizes.context_count = 32;
  o.sizes.context_size = 128;  // 64 inline bytes: many values go external
  FakeDaemon daemon(o);
  auto client = daemon.connect();
  constexpr size_t kThreads = 4;
  constexpr int kOps = 1500;
  const unsigned seed = std::random_device{}();
  MESSAGE("seed " << seed);
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kThreads);
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(seed + static_cast<unsigned>(t));
      std::map<std::string, std::string> model;
      for (int i = 0; i < kOps && errors[t].empty(); ++i) {
        const std::string key = numbered(numbered("t", t) + "/", rng() % 32);
        if (rng() % 2 == 0) {
          const std::string value(rng() % 300, static_cast<char>('a' + rng() % 26));
          if (client->put(key, value + std::to_string(i)) != Status::kOk) errors[t] = "put";
          model[key] = value + std::to_string(i);
        } else {
          // A few at once, so that contexts, rings and blocks are shared between threads.
          std::vector<Operation> batch;
          for (int d = 0; d < 4; ++d)
            batch.push_back(Operation::get(key));
          for (auto& op : batch) {
            if (client->submit(&op) != Status::kOk) errors[t] = "submit";
          }
          for (auto& op : batch) {
            if (client->wait(&op) != Status::kOk) errors[t] = "wait";
            const auto m = model.find(key);
            const bool right = m == model.end()
                                   ? op.status() == Status::kNotFound
                                   : op.status() == Status::kOk && op.value() == m->second;
            if (!right) errors[t] = "wrong answer for " + key;
          }
        }
      }
    });
  }
  for (auto& th : threads)
    th.join();
  for (const auto& e : errors)
    CHECK(e.empty());
  CHECK(daemon.invalid_requests() == 0);
  CHECK(daemon.lost_wakeups() == 0);
}

TEST_CASE("timeouts: a late answer is TIMED_OUT, its context comes back once it is answered") {
  FakeOptions o;
  // Each answer 200 ms late (the fake answers one request at a time): far past a 1 ms limit
  // even on a loaded machine.
  o.answer_delay = 200ms;
  o.sizes.context_count = 4;  // so that abandoned contexts must come back for more requests
  FakeDaemon daemon(o);
  auto client = daemon.connect();
  CHECK(client->timeout_ms() == 0);
  client->set_timeout(1);
  CHECK(client->timeout_ms() == 1);
  std::string value;
  // Four requests sent and abandoned, then two that find no free context in time.
  for (int i = 0; i < 6; ++i) {
    CAPTURE(i);
    CHECK(client->put("k", "v") == Status::kTimedOut);
  }
  // Without a limit: waits for a context to come back (the daemon answers the abandoned ones
  // meanwhile), then for its own answer.
  client->set_timeout(0);
  CHECK(client->get("k", &value) == Status::kOk);
  CHECK(value == "v");
  // The requests that timed out ran all the same (the fake saw them).
  CHECK(daemon.requests() >= 5);
  // Operations: a timed-out one has that status; execute goes on with the others.
  client->set_timeout(1);
  std::vector<Operation> ops;
  for (int i = 0; i < 3; ++i)
    ops.push_back(Operation::get("k"));
  std::vector<Operation*> list = {&ops[0], &ops[1], &ops[2]};
  CHECK(client->execute(list) == Status::kOk);  // the session is fine
  for (const Operation& op : ops)
    CHECK(op.status() == Status::kTimedOut);
  client->set_timeout(-5);  // counts as none
  CHECK(client->timeout_ms() == 0);
  CHECK(client->ping() == Status::kOk);
}

// ---- The completion descriptor --------------------------------------------------------------

namespace {

// Whether `fd` becomes readable within `timeout`.
bool readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1 && (p.revents & POLLIN) != 0;
}

void drain(int fd) {
  uint64_t count = 0;
  REQUIRE(read(fd, &count, sizeof count) == static_cast<ssize_t>(sizeof count));
  CHECK(count >= 1);
}

}  // namespace

TEST_CASE(
    "completion fd: readable once a submitted op completes; a synchronous call is not followed") {
  FakeOptions o;
  o.answer_delay = 20ms;  // the notifier sleeps before the answer comes
  FakeDaemon daemon(o);
  auto client = daemon.connect();
  int fd = -1;
  REQUIRE(client->completion_fd(&fd) == Status::kOk);
  int again = -1;
  REQUIRE(client->completion_fd(&again) == Status::kOk);
  CHECK(again == fd);
  CHECK(!readable(fd, 0ms));
  Operation op = Operation::get("k");
  REQUIRE(client->submit(&op) == Status::kOk);
  REQUIRE(readable(fd, 10s));
  drain(fd);
  REQUIRE(client->poll(&op));
  CHECK(op.status() == Status::kNotFound);
  // Synchronous calls and execute() wait for their own answers: nothing to signal.
  CHECK(client->ping() == Status::kOk);
  std::vector<Operation> ops;
  ops.push_back(Operation::ping());
  std::vector<Operation*> list = {&ops[0]};
  CHECK(client->execute(list) == Status::kOk);
  CHECK(!readable(fd, 200ms));  // ten times the answer delay
}

TEST_CASE("completion fd: an event loop keeps 300 ops in flight, more than one sleep watches") {
  FakeDaemon daemon;
  auto client = daemon.connect();
  int fd = -1;
  REQUIRE(client->completion_fd(&fd) == Status::kOk);
  constexpr size_t kOps = 300;
  std::vector<Operation> ops;
  for (size_t i = 0; i < kOps; ++i) {
    std::string key("k");  // appended: GCC 12's false -Wrestrict on "k" + std::string
    key += std::to_string(i);
    ops.push_back(Operation::put(key, "v"));
  }
  size_t next = 0;
  size_t done = 0;
  std::vector<bool> complete(kOps, false);
  while (done < kOps) {
    // Submit what fits, without blocking: the loop's own thread never waits but in poll(2).
    while (next < kOps && client->try_submit(&ops[next]) == Status::kOk)
      ++next;
    REQUIRE(readable(fd, 10s));
    drain(fd);
    for (size_t i = 0; i < next; ++i) {
      if (!complete[i] && client->poll(&ops[i])) {
        complete[i] = true;
        ++done;
        CHECK(ops[i].status() == Status::kOk);
      }
    }
  }
  std::string value;
  CHECK(client->get("k299", &value) == Status::kOk);
}

TEST_CASE("completion fd: the session's end makes it readable; poll then says why") {
  FakeDaemon daemon;
  auto client = daemon.connect();
  int fd = -1;
  REQUIRE(client->completion_fd(&fd) == Status::kOk);
  daemon.pause();
  Operation op = Operation::ping();
  REQUIRE(client->submit(&op) == Status::kOk);
  daemon.hang_up();  // the daemon "dies" with the request unanswered
  REQUIRE(readable(fd, 10s));
  REQUIRE(client->poll(&op));
  CHECK(op.status() == Status::kDisconnected);
  daemon.resume();
}
