// Integration tests of the transport: a real ringdbd, real client processes (it_client.cc)
// and libringdb in this process. Covers: many processes and threads with mixed requests
// answered exactly once and right; transactions across the transport; a client killed
// mid-transaction; hostile clients scribbling over their segments (and truncating them)
// next to a well-behaved one; refused users; the session limit; large values; try-submit
// back-pressure, and a blocking submit that sleeps on a full ring; waiting threads kept off the
// worker CPUs; the daemon killed under a waiting client; graceful shutdown.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "ringdb/client.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/helpers.h"
#include "tests/integration/raw_session.h"
#include "tests/support/child_process.h"
#include "tests/support/seed.h"

namespace {

using namespace std::chrono_literals;
using ringdb::Client;
using ringdb::Operation;
using ringdb::Status;
using ringdb::Transaction;
using ringdb::test::ChildProcess;
using ringdb::test::connect;
using ringdb::test::DaemonProcess;
using ringdb::test::it_client;
using ringdb::test::test_seed;

}  // namespace

TEST_CASE("autocommit operations round-trip through the daemon") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto client = connect(daemon);
  REQUIRE(client);
  CHECK(client->ping() == Status::kOk);
  std::string value;
  CHECK(client->get("missing", &value) == Status::kNotFound);
  CHECK(client->put("k1", "v1") == Status::kOk);
  CHECK(client->get("k1", &value) == Status::kOk);
  CHECK(value == "v1");
  CHECK(client->put("k2", "v2") == Status::kOk);
  std::vector<ringdb::KeyValue> items;
  ringdb::ScanOptions scan;
  scan.start = "k";
  CHECK(client->scan(scan, &items) == Status::kOk);
  REQUIRE(items.size() == 2);
  CHECK(items[1].key == "k2");
  CHECK(client->del("k1") == Status::kOk);
  CHECK(client->del("k1") == Status::kNotFound);
  CHECK(client->put("", "empty key") == Status::kInvalidArgument);
}

TEST_CASE("values up to 1 MiB travel through the data areas; larger ones are refused") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto client = connect(daemon);
  REQUIRE(client);
  for (size_t size : {size_t{447}, size_t{448}, size_t{449}, size_t{70000}, size_t{1} << 20}) {
    std::string v(size, 'x');
    for (size_t i = 0; i < size; i += 4096)
      v[i] = static_cast<char>('a' + i % 26);
    const std::string key = "big" + std::to_string(size);
    REQUIRE(client->put(key, v) == Status::kOk);
    std::string got;
    REQUIRE(client->get(key, &got) == Status::kOk);
    CHECK(got == v);
  }
  // TOO_LARGE says which part and the limit.
  CHECK(client->put("too-big", std::string((size_t{1} << 20) + 1, 'y')) == Status::kTooLarge);
  CHECK(ringdb::last_error_detail() ==
        "the value is longer than the daemon's limit of 1048576 bytes (--value-size-max)");
  CHECK(client->put(std::string(1025, 'k'), "v") == Status::kTooLarge);
  CHECK(ringdb::last_error_detail().find("a key") == 0);
  CHECK(ringdb::last_error_detail().find("1024 bytes (--key-size-max)") != std::string::npos);
  std::string none;
  CHECK(client->get("absent", &none) == Status::kNotFound);
  CHECK(ringdb::last_error_detail().empty());  // each answer sets it
  // A scan whose items exceed the per-answer byte limit is truncated, not refused.
  for (int i = 0; i < 5; ++i) {
    REQUIRE(client->put("scanbig" + std::to_string(i), std::string(900000, 's')) == Status::kOk);
  }
  std::vector<ringdb::KeyValue> items;
  bool truncated = false;
  ringdb::ScanOptions scan;
  scan.prefix = "scanbig";
  CHECK(client->scan(scan, &items, &truncated) == Status::kOk);
  CHECK(truncated);
  CHECK(items.size() == 2);
}

TEST_CASE("a transaction whose writes do not fit in a log segment: TOO_LARGE, saying so") {
  DaemonProcess daemon;  // --wal-segment-size 4M (daemon_process.cc)
  REQUIRE(daemon.ready());
  auto client = connect(daemon);
  std::unique_ptr<ringdb::Transaction> txn;
  REQUIRE(client->begin(&txn) == Status::kOk);
  for (int i = 0; i < 5; ++i)
    REQUIRE(txn->put("mib" + std::to_string(i), std::string(size_t{1} << 20, 'm')) == Status::kOk);
  CHECK(txn->commit() == Status::kTooLarge);
  CHECK(ringdb::last_error_detail() ==
        "the transaction's writes make a log record over the daemon's limit of " +
            std::to_string((4u << 20) - 4096 - 32) +
            " bytes (a log segment's room, --wal-segment-size)");
  std::string v;
  CHECK(client->get("mib0", &v) == Status::kNotFound);  // nothing of it happened
}

TEST_CASE("transactions across the transport: snapshot isolation and first updater wins") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto a = connect(daemon);
  auto b = connect(daemon);
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(a->put("x", "0") == Status::kOk);

  std::unique_ptr<Transaction> t1, t2;
  REQUIRE(a->begin(&t1) == Status::kOk);
  REQUIRE(b->begin(&t2) == Status::kOk);
  std::string v;
  CHECK(t1->put("x", "1") == Status::kOk);
  CHECK(t2->get("x", &v) == Status::kOk);
  CHECK(v == "0");  // t1's write is invisible until it commits
  CHECK(t2->put("x", "2") == Status::kConflict);
  CHECK(t2->put("y", "2") == Status::kTransactionDone);
  CHECK(t2->commit() == Status::kTransactionDone);
  CHECK(t1->commit() == Status::kOk);
  CHECK(t1->commit_sequence() > 0);
  CHECK(a->get("x", &v) == Status::kOk);
  CHECK(v == "1");

  // A snapshot does not move.
  std::unique_ptr<Transaction> reader;
  REQUIRE(b->begin(&reader, /*read_only=*/true) == Status::kOk);
  REQUIRE(a->put("x", "3") == Status::kOk);
  CHECK(reader->get("x", &v) == Status::kOk);
  CHECK(v == "1");
  CHECK(reader->put("x", "4") == Status::kInvalidArgument);
  reader->abort();

  // Abort discards; a finished handle is unknown.
  std::unique_ptr<Transaction> t3;
  REQUIRE(a->begin(&t3) == Status::kOk);
  CHECK(t3->put("z", "never") == Status::kOk);
  t3->abort();
  CHECK(a->get("z", &v) == Status::kNotFound);
}

TEST_CASE("the open-transaction limit per session") {
  DaemonProcess daemon({"--transactions-max", "3"});
  REQUIRE(daemon.ready());
  auto client = connect(daemon);
  std::unique_ptr<Transaction> t[4];
  for (int i = 0; i < 3; ++i)
    REQUIRE(client->begin(&t[i]) == Status::kOk);
  CHECK(client->begin(&t[3]) == Status::kTooManyTransactions);
  t[0]->abort();
  CHECK(client->begin(&t[3]) == Status::kOk);
}

TEST_CASE("many processes and threads: every request answered once, and right") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  const uint64_t seed = test_seed("transport");
  INFO("seed " << seed << " (RINGDB_TEST_SEED replays it)");
  constexpr int kProcesses = 4, kThreads = 3, kOps = 1500;
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (int p = 0; p < kProcesses; ++p) {
    children.push_back(
        it_client({"mixed", daemon.socket(), std::to_string(seed + static_cast<uint64_t>(p)),
                   std::to_string(kThreads), std::to_string(kOps), std::to_string(1 + p * 5)}));
  }
  uint64_t increments = 0;
  for (auto& c : children) {
    std::string line;
    REQUIRE(c->read_line(&line, 240s));
    INFO(line);
    REQUIRE(line.rfind("ok ", 0) == 0);
    increments += std::stoull(line.substr(line.find(' ', 3) + 1));
    CHECK(c->wait(60s) == 0);
  }
  // Every increment committed exactly once: no lost and no duplicated commits.
  auto client = connect(daemon);
  uint64_t total = 0;
  for (int c = 0; c < 4; ++c) {
    std::string v;
    const Status s = client->get("counter/" + std::to_string(c), &v);
    if (s == Status::kOk) total += std::stoull(v);
  }
  CHECK(total == increments);
}

TEST_CASE(
    "a client killed mid-transaction: its writes vanish, its keys are free, its session goes") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto observer = connect(daemon);
  REQUIRE(daemon.wait_sessions(1));
  auto holder = it_client({"hold-txn", daemon.socket(), "held/", "20"});
  std::string line;
  REQUIRE(holder->read_line(&line, 30s));
  REQUIRE(line == "holding");
  REQUIRE(daemon.wait_sessions(2));
  // While it lives, its keys are taken.
  CHECK(observer->put("held/3", "mine") == Status::kConflict);
  holder->signal(SIGKILL);
  CHECK(holder->wait(30s) != -1);
  REQUIRE(daemon.wait_sessions(1));  // the session count is back where it was
  std::string v;
  for (int i = 0; i < 20; ++i) {
    CHECK(observer->get("held/" + std::to_string(i), &v) == Status::kNotFound);
  }
  CHECK(observer->put("held/3", "mine") == Status::kOk);
}

TEST_CASE("hostile clients scribbling over their segments do not disturb a good one") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  const uint64_t seed = test_seed("transport hostile");
  INFO("seed " << seed);
  std::vector<std::unique_ptr<ChildProcess>> hostile;
  for (int i = 0; i < 3; ++i) {
    hostile.push_back(it_client(
        {"hostile", daemon.socket(), std::to_string(seed + static_cast<uint64_t>(i)), "400"}));
  }
  auto good = it_client({"mixed", daemon.socket(), std::to_string(seed), "2", "2000", "4"});
  std::string line;
  REQUIRE(good->read_line(&line, 240s));
  CHECK(line.rfind("ok ", 0) == 0);
  for (auto& h : hostile) {
    REQUIRE(h->read_line(&line, 240s));
    INFO(line);
    CHECK(line.rfind("ok ", 0) == 0);
  }
  // The daemon is alive and serves a new session.
  auto client = connect(daemon);
  REQUIRE(client);
  CHECK(client->ping() == Status::kOk);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("a client that truncates its segment is disconnected; the daemon lives") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto good = connect(daemon);
  auto bad = it_client({"truncate", daemon.socket()});
  std::string line;
  REQUIRE(bad->read_line(&line, 60s));
  CHECK(line == "ok");
  REQUIRE(daemon.wait_log("SIGBUS"));
  CHECK(good->put("after", "truncation") == Status::kOk);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("a user that is not allowed is refused with a clear error") {
  // Allow only a uid that is not ours.
  const std::string other = std::to_string(getuid() == 4242 ? 4243 : 4242);
  DaemonProcess daemon({"--allow-users", other});
  REQUIRE(daemon.ready());
  Status status;
  std::string error;
  auto client = connect(daemon, &status, &error);
  CHECK(client == nullptr);
  CHECK(status == Status::kPermissionDenied);
  INFO(error);
  CHECK(error.find("not allowed") != std::string::npos);
  CHECK(daemon.wait_log("refused user"));
}

TEST_CASE("the session limit") {
  DaemonProcess daemon({"--sessions-max", "2"});
  REQUIRE(daemon.ready());
  auto a = connect(daemon);
  auto b = connect(daemon);
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(daemon.wait_sessions(2));
  Status status;
  std::string error;
  CHECK(connect(daemon, &status, &error) == nullptr);
  CHECK(status == Status::kTooManySessions);
  a.reset();
  REQUIRE(daemon.wait_sessions(1));
  CHECK(connect(daemon, &status) != nullptr);
}

TEST_CASE("sessions per user: no user but the daemon's own can take them all") {
  if (geteuid() != 0) {
    MESSAGE("skipped: needs root, to connect as a second user (nobody, 65534)");
    return;
  }
  DaemonProcess daemon(
      {"--socket-mode", "0666", "--allow-users", "0,65534", "--sessions-per-user-max", "2"});
  REQUIRE(daemon.ready());
  REQUIRE(chmod(daemon.dir().c_str(), 0711) == 0);  // nobody may reach the socket
  ringdb::test::ChildOptions as_nobody;
  as_nobody.run_as = 65534;
  const std::string client = ringdb::test::program_path("RINGDB_IT_CLIENT");
  std::vector<std::unique_ptr<ChildProcess>> held;
  std::string line;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{client, "hold", daemon.socket()}, as_nobody));
    REQUIRE(held.back()->read_line(&line, 60s));
    INFO(line);
    if (i < 2) {
      CHECK(line == "ok");
    } else {
      CHECK(line.rfind("refused TOO_MANY_SESSIONS: ", 0) == 0);
      CHECK(line.find("uid 65534 already has 2 sessions") != std::string::npos);
      CHECK(line.find("--sessions-per-user-max") != std::string::npos);
    }
  }
  // The daemon's own user is not held to it.
  auto a = connect(daemon);
  auto b = connect(daemon);
  auto c = connect(daemon);
  CHECK(a);
  CHECK(b);
  CHECK(c);
  // Refusals are logged at most once a second: a burst of them makes one or two lines, the
  // next counting the rest.
  for (int i = 0; i < 50; ++i) {
    auto refused = std::make_unique<ChildProcess>(
        std::vector<std::string>{client, "hold", daemon.socket()}, as_nobody);
    REQUIRE(refused->read_line(&line, 60s));
    CHECK(line.rfind("refused", 0) == 0);
  }
  held.clear();
  a.reset();
  b.reset();
  c.reset();
  CHECK(daemon.stop() == 0);  // every line it wrote is in now
  const size_t lines = daemon.count_log("refused user 65534");
  CHECK(lines >= 1);
  CHECK(lines < 10);  // 51 refusals
}

TEST_CASE(
    "back-pressure: try-submit reports a full ring and a full context table; nothing "
    "is lost or answered twice") {
  DaemonProcess daemon({"--ring-slots", "8", "--inflight-max", "16"});
  REQUIRE(daemon.ready());
  auto client = connect(daemon);
  REQUIRE(client);
  // Stop the daemon so that nothing is consumed; fill up.
  REQUIRE(daemon.process().stop_and_wait());
  std::vector<Operation> ops(40);
  size_t submitted = 0;
  Status last = Status::kOk;
  for (auto& op : ops) {
    op = Operation::put("bp" + std::to_string(submitted), std::to_string(submitted));
    last = client->try_submit(&op);
    if (last != Status::kOk) break;
    ++submitted;
  }
  // One thread stays on one CPU's ring unless it migrates; either limit may be hit first.
  CHECK((last == Status::kRingFull || last == Status::kTooManyInFlight));
  CHECK(submitted >= 8);
  CHECK(submitted <= 16);
  daemon.process().signal(SIGCONT);
  for (size_t i = 0; i < submitted; ++i) {
    REQUIRE(client->wait(&ops[i]) == Status::kOk);
    CHECK(ops[i].status() == Status::kOk);
  }
  std::vector<ringdb::KeyValue> items;
  ringdb::ScanOptions scan;
  scan.prefix = "bp";
  REQUIRE(client->scan(scan, &items) == Status::kOk);
  CHECK(items.size() == submitted);
  // Blocking submit waits instead of failing.
  std::vector<Operation> many(200);
  for (size_t i = 0; i < many.size(); ++i) {
    many[i] = Operation::get("bp0");
    REQUIRE(client->submit(&many[i]) == Status::kOk);
    if (i >= 15) REQUIRE(client->wait(&many[i - 15]) == Status::kOk);
  }
  for (size_t i = many.size() - 15; i < many.size(); ++i) {
    REQUIRE(client->wait(&many[i]) == Status::kOk);
  }
  for (auto& op : many)
    CHECK(op.status() == Status::kOk);
}

namespace {

// The scheduler state of thread `tid` of this process ('R' running, 'S' sleeping, ...).
char thread_state(pid_t tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", static_cast<int>(tid));
  FILE* f = fopen(path, "r");
  if (f == nullptr) return '?';
  char line[512] = {};
  const size_t n = fread(line, 1, sizeof line - 1, f);
  fclose(f);
  const char* paren = strrchr(line, ')');  // the name may hold spaces: the state follows ')'
  return n > 0 && paren != nullptr && paren[1] == ' ' ? paren[2] : '?';
}

}  // namespace

TEST_CASE("a thread that meets a full ring sleeps until the worker makes room, never spins") {
  DaemonProcess daemon({"--ring-slots", "4", "--inflight-max", "16"});
  REQUIRE(daemon.ready());
  auto client = connect(daemon);
  REQUIRE(client);
  REQUIRE(daemon.process().stop_and_wait());  // nothing is consumed: the ring fills
  std::vector<Operation> ops(8);
  std::atomic<pid_t> tid{0};
  std::atomic<size_t> submitted{0};
  Status blocked_status = Status::kDisconnected;
  std::thread submitter([&] {
    cpu_set_t one;  // one CPU, so that every push goes to the same ring
    CPU_ZERO(&one);
    CPU_SET(static_cast<size_t>(sched_getcpu()), &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    tid.store(gettid());
    Status s = Status::kOk;
    size_t n = 0;
    for (; n < ops.size(); ++n) {
      ops[n] = Operation::put("full" + std::to_string(n), "v");
      if ((s = client->try_submit(&ops[n])) != Status::kOk) break;
    }
    submitted.store(n);
    if (s != Status::kRingFull) return;
    blocked_status = client->submit(&ops[n]);  // blocks: the ring is full
    submitted.store(n + 1);
  });
  // The blocked thread must be asleep (in the kernel, on the ring's futex), not spinning or
  // yielding. Bounded only for a failure.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  bool slept = false;
  while (!slept && std::chrono::steady_clock::now() < deadline) {
    slept = tid.load() != 0 && submitted.load() == 4 && thread_state(tid.load()) == 'S';
    if (!slept) std::this_thread::yield();
  }
  CHECK(slept);
  CHECK(submitted.load() == 4);  // four went in; the fifth waits
  daemon.process().signal(SIGCONT);
  submitter.join();
  CHECK(blocked_status == Status::kOk);
  REQUIRE(submitted.load() == 5);
  for (size_t i = 0; i < 5; ++i) {
    REQUIRE(client->wait(&ops[i]) == Status::kOk);
    CHECK(ops[i].status() == Status::kOk);
  }
}

namespace {

cpu_set_t affinity_of_this_thread() {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(pthread_getaffinity_np(pthread_self(), sizeof set, &set) == 0);
  return set;
}

// Runs `body` in a new thread whose affinity is `cpus`; returns its affinity afterwards.
template <typename Body>
cpu_set_t affinity_after(const cpu_set_t& cpus, Body body) {
  cpu_set_t after;
  CPU_ZERO(&after);
  std::thread t([&] {
    REQUIRE(pthread_setaffinity_np(pthread_self(), sizeof cpus, &cpus) == 0);
    body();
    after = affinity_of_this_thread();
  });
  t.join();
  return after;
}

}  // namespace

TEST_CASE("a thread that waits for an answer is moved off the worker CPUs, unless it may not be") {
  const cpu_set_t all = affinity_of_this_thread();
  if (CPU_COUNT(&all) < 2) {
    MESSAGE("skipped: this process may run on one CPU only, so no CPU is free of workers");
    return;
  }
  int worker_cpu = -1;  // the highest allowed CPU, as ringdbd's default would choose
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(static_cast<size_t>(c), &all)) worker_cpu = c;
  }
  cpu_set_t off = all;  // what a settled thread may use
  CPU_CLR(static_cast<size_t>(worker_cpu), &off);
  cpu_set_t only_worker;
  CPU_ZERO(&only_worker);
  CPU_SET(static_cast<size_t>(worker_cpu), &only_worker);

  DaemonProcess daemon({"--cores", std::to_string(worker_cpu)});
  REQUIRE(daemon.ready());
  auto client = connect(daemon);
  REQUIRE(client);
  std::string value;

  // A thread that may run anywhere leaves the worker's CPU at its first wait...
  cpu_set_t after = affinity_after(all, [&] { CHECK(client->ping() == Status::kOk); });
  CHECK(CPU_EQUAL(&after, &off));
  // ...whichever request it waits for, and the same with several in flight.
  after = affinity_after(all, [&] {
    std::vector<Operation> ops;
    for (const char* key : {"k0", "k1", "k2", "k3"})
      ops.push_back(Operation::get(key));
    for (Operation& op : ops)
      REQUIRE(client->submit(&op) == Status::kOk);
    for (Operation& op : ops)
      CHECK(client->wait(&op) == Status::kOk);
  });
  CHECK(CPU_EQUAL(&after, &off));
  // Once only: an affinity the application sets afterwards is kept.
  after = affinity_after(all, [&] {
    CHECK(client->get("k", &value) == Status::kNotFound);
    REQUIRE(pthread_setaffinity_np(pthread_self(), sizeof all, &all) == 0);
    CHECK(client->get("k", &value) == Status::kNotFound);
  });
  CHECK(CPU_EQUAL(&after, &all));
  // A thread pinned to the worker's CPU is the application's choice: it stays.
  after = affinity_after(only_worker, [&] { CHECK(client->ping() == Status::kOk); });
  CHECK(CPU_EQUAL(&after, &only_worker));

  // Opted out, by the connect options or by the environment: nothing is changed.
  ringdb::ConnectOptions options;
  options.socket_path = daemon.socket();
  options.keep_threads_off_worker_cpus = false;
  std::unique_ptr<Client> opted_out;
  REQUIRE(Client::connect(options, &opted_out) == Status::kOk);
  after = affinity_after(all, [&] { CHECK(opted_out->ping() == Status::kOk); });
  CHECK(CPU_EQUAL(&after, &all));
  REQUIRE(setenv("RINGDB_KEEP_OFF_WORKER_CPUS", "0", 1) == 0);
  auto by_environment = connect(daemon);
  REQUIRE(unsetenv("RINGDB_KEEP_OFF_WORKER_CPUS") == 0);
  REQUIRE(by_environment);
  after = affinity_after(all, [&] { CHECK(by_environment->ping() == Status::kOk); });
  CHECK(CPU_EQUAL(&after, &all));
}

TEST_CASE("the daemon killed under a waiting client: the client returns DISCONNECTED") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto waiter = it_client({"wait-get", daemon.socket(), "k"});
  std::string line;
  REQUIRE(waiter->read_line(&line, 30s));
  REQUIRE(line == "connected");
  REQUIRE(daemon.process().stop_and_wait());  // the request will not be answered
  waiter->write("go\n");
  REQUIRE(waiter->read_line(&line, 30s));
  REQUIRE(line == "submitted");
  const auto killed = std::chrono::steady_clock::now();
  daemon.process().signal(SIGKILL);
  REQUIRE(waiter->read_line(&line, 30s));
  const auto took = std::chrono::steady_clock::now() - killed;
  CHECK(line == "DISCONNECTED");
  MESSAGE("noticed after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                           << " ms");
  CHECK(took < 5s);  // documented bound: ~100 ms; generous here for sanitizer builds
}

TEST_CASE("graceful shutdown: SIGTERM detaches sessions and exits 0; clients see it") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto client = connect(daemon);
  std::unique_ptr<Transaction> txn;
  REQUIRE(client->begin(&txn) == Status::kOk);
  REQUIRE(txn->put("s", "1") == Status::kOk);
  const int status = daemon.stop();
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  std::string v;
  const Status s = client->get("s", &v);
  CHECK((s == Status::kDisconnected || s == Status::kShuttingDown));
  txn.reset();
}
