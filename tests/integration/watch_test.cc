// Watches through a real ringdbd (issue 16; docs/PROTOCOL.md, "Watches"): every acknowledged
// commit once, whole and in order under concurrent writers; resuming after the watcher's
// SIGKILL (ringdb-cli as the watcher) and after the daemon's, exactly once; COMPACTED once the
// log is gone; a watcher that stops reading holds no writer back and catches up from the log;
// a session that rewrites its event area's read position loses its watches, nobody else does;
// several watches per session, unwatch and the limits.
#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "nlohmann/json.hpp"
#include "ringdb/client.h"
#include "ringdb/ringdb.h"
#include "shm/request.h"
#include "tests/integration/admin_json.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/helpers.h"
#include "tests/integration/raw_session.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace {

using ringdb::Batch;
using ringdb::Client;
using ringdb::Status;
using ringdb::WatchEvent;
using ringdb::WatchOptions;
using ringdb::test::admin_json;
using ringdb::test::ChildOptions;
using ringdb::test::ChildProcess;
using ringdb::test::connect;
using ringdb::test::DaemonProcess;
using ringdb::test::numbered;
using ringdb::test::TempDir;

WatchOptions prefix_from(const std::string& prefix, uint64_t from = ringdb::kWatchFromNow) {
  WatchOptions o;
  o.prefix = prefix;
  o.from = from;
  return o;
}

// Events until `count` commits came (each checked by the caller) or 30 s without one.
std::vector<WatchEvent> collect(Client& c, size_t count) {
  std::vector<WatchEvent> events;
  while (events.size() < count) {
    WatchEvent e;
    const Status s = c.next_event(&e, 30'000);
    REQUIRE_MESSAGE(s == Status::kOk, ringdb::status_name(s) << " after " << events.size());
    events.push_back(std::move(e));
  }
  return events;
}

// ringdb-cli --json as a watcher process: `watch PREFIX FROM`, its events read line by line.
struct CliWatcher {
  CliWatcher(const DaemonProcess& daemon, const std::string& args)
      : process({ringdb::test::program_path("RINGDB_CLI"), "--json", "--socket", daemon.socket()},
                ChildOptions{}) {
    REQUIRE(process.write("watch " + args + "\n"));
  }
  // The next line as JSON (an event, or the watch's end).
  nlohmann::json next() {
    std::string line;
    REQUIRE_MESSAGE(process.read_line(&line), "the cli watcher printed nothing more");
    const auto j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE_MESSAGE(j.is_object(), line);
    return j;
  }
  ChildProcess process;
};

}  // namespace

TEST_CASE("watch: every acknowledged commit once, whole, in order, under concurrent writers") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto watcher = connect(daemon);
  REQUIRE(watcher);
  uint32_t id = 0;
  uint64_t start = 0;
  REQUIRE(watcher->watch(prefix_from("w/"), &id, &start) == Status::kOk);
  CHECK(id == 1);

  constexpr int kWriters = 4;
  constexpr int kCommits = 250;
  std::atomic<int> failures{0};
  std::mutex positions_mu;
  std::map<uint64_t, std::string> positions;  // sync commits: log position -> "t:i"
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      auto c = connect(daemon);
      if (!c) {
        ++failures;
        return;
      }
      for (int i = 0; i < kCommits; ++i) {
        const std::string base = numbered(numbered("w/", t) + "/", i);
        const std::string mine = numbered(numbered("", t) + ":", i);
        // Three keys of its own and one every writer shares, in one commit; a key out of range
        // and, every tenth, an async commit (delivered once the log wrote it).
        Batch b;
        b.put(base + "/a", mine).put("x/out", mine).put(base + "/b", mine).put("w/shared", mine);
        b.put(base + "/c", mine);
        const auto durability =
            i % 10 == 0 ? ringdb::Durability::kAsync : ringdb::Durability::kSync;
        // CONFLICT (the shared key changed under each of the daemon's attempts) wrote
        // nothing: the batch is sent again, as a client would.
        ringdb::BatchResult r;
        Status st;
        while ((st = c->apply(b, &r, durability)) == Status::kConflict) {
        }
        if (st != Status::kOk) ++failures;
        // A sync commit's answer names its place in the log: its event's sequence.
        if (durability == ringdb::Durability::kSync && r.log_position != 0) {
          std::lock_guard<std::mutex> lock(positions_mu);
          positions[r.log_position] = mine;
        } else if (durability == ringdb::Durability::kSync) {
          ++failures;
        }
      }
    });
  }
  const std::vector<WatchEvent> events = collect(*watcher, kWriters * kCommits);
  for (auto& w : writers)
    w.join();
  REQUIRE(failures.load() == 0);

  std::map<int, int> next_of;  // per writer, the next commit expected
  uint64_t last_sequence = start;
  std::string last_shared;
  for (const WatchEvent& e : events) {
    REQUIRE(e.type == WatchEvent::Type::kCommit);
    CHECK(e.watch == id);
    CHECK(e.sequence > last_sequence);
    last_sequence = e.sequence;
    REQUIRE(e.changes.size() == 4);  // whole: a, b, shared, c (x/out filtered out), as written
    const std::string& v = e.changes[0].value;
    const int t = std::stoi(v.substr(0, v.find(':')));
    const int i = std::stoi(v.substr(v.find(':') + 1));
    CHECK(i == next_of[t]);  // each writer's commits once, in its order
    next_of[t] = i + 1;
    const std::string base = numbered(numbered("w/", t) + "/", i);
    CHECK(e.changes[0].key == base + "/a");
    CHECK(e.changes[1].key == base + "/b");
    CHECK(e.changes[2].key == "w/shared");
    CHECK(e.changes[3].key == base + "/c");
    for (const auto& ch : e.changes) {
      CHECK_FALSE(ch.deleted);
      CHECK(ch.value == v);
    }
    last_shared = e.changes[2].value;
    if (const auto p = positions.find(e.sequence); p != positions.end()) {
      CHECK(p->second == v);
      positions.erase(p);
    }
  }
  CHECK(positions.empty());  // every sync commit's position was an event's sequence
  for (int t = 0; t < kWriters; ++t)
    CHECK(next_of[t] == kCommits);
  // The shared key's last event is its value: the feed's order is the commit order.
  std::string shared;
  REQUIRE(watcher->get("w/shared", &shared) == Status::kOk);
  CHECK(shared == last_shared);
  // Nothing more (nothing was left out or repeated).
  WatchEvent extra;
  CHECK(watcher->next_event(&extra, 100) == Status::kTimedOut);
  CHECK(watcher->feed_position() >= last_sequence);
}

TEST_CASE("watch: resumed after the watcher's SIGKILL and the daemon's, exactly once, no gap") {
  TempDir dir("ringdb-watch");
  auto put_range = [](Client& c, int from, int to) {
    for (int i = from; i < to; ++i)
      REQUIRE(c.put(numbered("r/", i), std::to_string(i)) == Status::kOk);
  };
  auto key_of = [](const nlohmann::json& event) {
    REQUIRE(event.contains("changes"));
    REQUIRE(event["changes"].size() == 1);
    return event["changes"][0]["key"].get<std::string>();
  };
  uint64_t seen = 0;  // the sequence after the last commit a watcher handled
  {
    DaemonProcess daemon({}, dir.path);
    REQUIRE(daemon.ready());
    auto c = connect(daemon);
    REQUIRE(c);
    put_range(*c, 0, 200);
    {
      CliWatcher a(daemon, "r/ 0");
      for (int i = 0; i < 50; ++i) {
        const auto e = a.next();
        CHECK(key_of(e) == numbered("r/", i));
        seen = e["sequence"].get<uint64_t>();
      }
      a.process.signal(SIGKILL);
      CHECK(a.process.wait() != -1);
    }
    {
      CliWatcher b(daemon, "r/ " + std::to_string(seen));
      for (int i = 50; i < 200; ++i) {
        const auto e = b.next();
        CHECK(key_of(e) == numbered("r/", i));
        seen = e["sequence"].get<uint64_t>();
      }
      // Live now: commits made while it watches.
      put_range(*c, 200, 250);
      for (int i = 200; i < 250; ++i) {
        const auto e = b.next();
        CHECK(key_of(e) == numbered("r/", i));
        seen = e["sequence"].get<uint64_t>();
      }
      daemon.process().signal(SIGKILL);
      CHECK(daemon.process().wait() != -1);
      // The watcher hears that the daemon is gone.
      const auto end = b.next();
      CHECK(end["status"] == "DISCONNECTED");
    }
  }
  DaemonProcess again({}, dir.path);
  REQUIRE(again.ready());
  auto c = connect(again);
  REQUIRE(c);
  put_range(*c, 250, 300);
  {
    CliWatcher w(again, "r/ " + std::to_string(seen) + " idle-ms 300");
    for (int i = 250; i < 300; ++i)
      CHECK(key_of(w.next()) == numbered("r/", i));
    const auto end = w.next();  // nothing more before the idle time ran out
    CHECK(end["status"] == "OK");
    CHECK(end["commits"] == 50);
  }
  // From the start, across the restart: everything once, in order.
  uint32_t id = 0;
  REQUIRE(c->watch(prefix_from("r/", 0), &id) == Status::kOk);
  const auto all = collect(*c, 300);
  for (int i = 0; i < 300; ++i) {
    REQUIRE(all[static_cast<size_t>(i)].changes.size() == 1);
    CHECK(all[static_cast<size_t>(i)].changes[0].key == numbered("r/", i));
  }
}

TEST_CASE("watch: COMPACTED once the log that holds the position is gone") {
  DaemonProcess daemon({"--wal-segment-size", "1M", "--watch-retain", "0",
                        "--checkpoint-interval-ms", "0", "--checkpoint-wal-bytes", "0"});
  REQUIRE(daemon.ready());
  auto c = connect(daemon);
  REQUIRE(c);
  uint32_t id = 0;
  uint64_t first = 0;
  REQUIRE(c->watch(prefix_from("c/", 0), &id, &first) == Status::kOk);
  REQUIRE(c->unwatch(id) == Status::kOk);
  const std::string value(60'000, 'v');
  // About 3.6 MiB of log: several 1 MiB segments; two checkpoints remove the older ones.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 30; ++i)
      REQUIRE(c->put(numbered("c/", i), value) == Status::kOk);
    const auto j = admin_json(daemon, "checkpoint");
    INFO(j.dump());
    if (round == 1) CHECK(j["wal_segments_removed"].get<int>() >= 1);
  }
  uint64_t oldest = 0;
  CHECK(c->watch(prefix_from("c/", first), &id, &oldest) == Status::kCompacted);
  CHECK(oldest > first);
  // From the oldest position kept it starts, and its events are the log's later commits.
  REQUIRE(c->watch(prefix_from("c/", oldest), &id) == Status::kOk);
  WatchEvent e;
  REQUIRE(c->next_event(&e, 30'000) == Status::kOk);
  CHECK(e.type == WatchEvent::Type::kCommit);
  CHECK(e.sequence > oldest);
  // A position that is not a record boundary, and one past the log's end.
  CHECK(c->watch(prefix_from("c/", oldest + 8), &id) == Status::kInvalidArgument);
  CHECK(c->watch(prefix_from("c/", uint64_t{1} << 50), &id) == Status::kInvalidArgument);
}

TEST_CASE("watch: a watcher left behind past what the log keeps gets COMPACTED, then ends") {
  DaemonProcess daemon({"--event-ring", "64K", "--wal-segment-size", "1M", "--watch-retain", "0",
                        "--checkpoint-interval-ms", "0", "--checkpoint-wal-bytes", "0"});
  REQUIRE(daemon.ready());
  auto slow = connect(daemon);
  REQUIRE(slow);
  uint32_t id = 0;
  REQUIRE(slow->watch(prefix_from("g/"), &id) == Status::kOk);
  auto writer = connect(daemon);
  REQUIRE(writer);
  // Values under a quarter of the ring (they travel in the events): 8 commits fill it.
  const std::string value(8'000, 'v');
  // About 3.8 MiB of log while the watcher reads nothing; two checkpoints remove the
  // segments it has not read.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 240; ++i)
      REQUIRE(writer->put(numbered("g/", i), value) == Status::kOk);
    admin_json(daemon, "checkpoint");
  }
  uint64_t last = 0;
  for (;;) {
    WatchEvent e;
    REQUIRE(slow->next_event(&e, 30'000) == Status::kOk);
    if (e.type == WatchEvent::Type::kCommit) {
      CHECK(e.sequence > last);
      last = e.sequence;
      continue;
    }
    REQUIRE(e.type == WatchEvent::Type::kCompacted);
    CHECK(e.watch == id);
    CHECK(e.sequence > last);  // the oldest position kept: after what it saw
    break;
  }
  const auto j = admin_json(daemon, "watchers");
  CHECK(j["watchers"].empty());  // it ended
  CHECK(j["feed"]["compacted"] == 1);
  CHECK(slow->unwatch(id) == Status::kNotFound);
}

TEST_CASE("watch: a watcher that stops reading holds no writer back, and catches up from the log") {
  DaemonProcess daemon({"--event-ring", "64K"});
  REQUIRE(daemon.ready());
  auto slow = connect(daemon);
  REQUIRE(slow);
  uint32_t id = 0;
  REQUIRE(slow->watch(prefix_from("s/"), &id) == Status::kOk);
  auto writer = connect(daemon);
  REQUIRE(writer);
  // 2000 commits of 1 KiB: thirty times what the slow watcher's ring holds. The writer is
  // never waited for (the test would hang here otherwise).
  const std::string value(1024, 'v');
  for (int i = 0; i < 2000; ++i)
    REQUIRE(writer->put(numbered("s/", i), value) == Status::kOk);
  const auto j = admin_json(daemon, "watchers");
  REQUIRE(j["watchers"].size() == 1);
  CHECK(j["watchers"][0]["lagging"] == true);
  CHECK(j["watchers"][0]["lag_bytes"].get<uint64_t>() > 64 * 1024);
  CHECK(j["feed"]["lagging"] == 1);
  // Now it reads: everything, in order, from the log behind the feed.
  const auto events = collect(*slow, 2000);
  for (int i = 0; i < 2000; ++i) {
    REQUIRE(events[static_cast<size_t>(i)].changes.size() == 1);
    CHECK(events[static_cast<size_t>(i)].changes[0].key == numbered("s/", i));
    CHECK(events[static_cast<size_t>(i)].changes[0].value.size() == 1024);
  }
  // Caught up: live again.
  REQUIRE(writer->put("s/last", "x") == Status::kOk);
  WatchEvent e;
  REQUIRE(slow->next_event(&e, 30'000) == Status::kOk);
  CHECK(e.changes[0].key == "s/last");
  const auto after = admin_json(daemon, "watchers");
  CHECK(after["feed"]["lagging"] == 0);
}

TEST_CASE("watch: a session that rewrites its event area's read position loses it alone") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  ringdb::test::RawSession raw(daemon.socket());
  REQUIRE(raw.ok());
  // A WATCH by hand: prefix "h/", from now.
  ringdb::shm::ContextHeader* ctx = raw.context(0);
  ringdb::shm::RequestSpec spec;
  spec.opcode = ringdb::shm::Opcode::kWatch;
  spec.parts[2] = "h/";
  spec.txn = ringdb::shm::kWatchFromNow;
  ringdb::shm::encode_request(ctx, spec, false, 0,
                              reinterpret_cast<std::byte*>(ctx) + sizeof(*ctx));
  ctx->state.store(ringdb::shm::kStateSubmitted, std::memory_order_release);
  REQUIRE(raw.submit(0, 0));
  raw.ring_doorbells();
  REQUIRE(raw.wait_done(0, 20'000));
  REQUIRE(ctx->status == 0);

  auto good = connect(daemon);
  REQUIRE(good);
  uint32_t id = 0;
  REQUIRE(good->watch(prefix_from("h/"), &id) == Status::kOk);
  REQUIRE(good->put("h/1", "one") == Status::kOk);
  WatchEvent e;
  REQUIRE(good->next_event(&e, 30'000) == Status::kOk);
  CHECK(e.changes[0].key == "h/1");
  auto* area = reinterpret_cast<ringdb::shm::EventAreaHeader*>(raw.segment() +
                                                               raw.geometry().event_area_offset);
  // The raw session got its event too; now it claims to have read far more than it was given.
  CHECK(area->write_pos.load() > 0);
  area->read_pos.store(area->write_pos.load() + (1u << 20));
  REQUIRE(good->put("h/2", "two") == Status::kOk);
  CHECK(daemon.wait_log("event area was misused"));
  CHECK(daemon.wait_log("disconnected: the session rewrote its event area"));
  REQUIRE(good->next_event(&e, 30'000) == Status::kOk);
  CHECK(e.changes[0].key == "h/2");
  REQUIRE(good->put("h/3", "three") == Status::kOk);
  REQUIRE(good->next_event(&e, 30'000) == Status::kOk);
  CHECK(e.changes[0].key == "h/3");
  CHECK(admin_json(daemon, "watchers")["feed"]["watches"] == 1);
}

TEST_CASE("watch: several per session, keys only, unwatch, and the limits") {
  DaemonProcess daemon({"--watches-per-session-max", "3"});
  REQUIRE(daemon.ready());
  auto c = connect(daemon);
  REQUIRE(c);
  REQUIRE(c->put("m/a0", "0") == Status::kOk);
  uint32_t a = 0, b = 0, k = 0, extra = 0;
  REQUIRE(c->watch(prefix_from("m/a"), &a) == Status::kOk);
  WatchOptions range;
  range.start = "m/b";
  range.end = "m/c";
  REQUIRE(c->watch(range, &b) == Status::kOk);
  WatchOptions keys = prefix_from("m/");
  keys.keys_only = true;
  REQUIRE(c->watch(keys, &k) == Status::kOk);
  CHECK(c->watch(prefix_from("m/"), &extra) == Status::kTooManyWatches);
  Batch batch;
  batch.put("m/a1", "1").put("m/b1", "2").put("m/c1", "3").del("m/a0");
  REQUIRE(c->apply(batch) == Status::kOk);
  std::map<uint32_t, WatchEvent> by_watch;
  for (const WatchEvent& e : collect(*c, 3))
    by_watch[e.watch] = e;
  REQUIRE(by_watch.size() == 3);
  CHECK(by_watch[a].changes.size() == 2);  // m/a1 put, m/a0 delete
  CHECK(by_watch[a].changes[1].deleted);
  CHECK(by_watch[b].changes.size() == 1);  // m/b1 only ([m/b, m/c))
  CHECK(by_watch[b].changes[0].value == "2");
  REQUIRE(by_watch[k].changes.size() == 4);
  for (const auto& ch : by_watch[k].changes)
    CHECK(ch.value.empty());  // keys only
  CHECK(by_watch[a].sequence == by_watch[b].sequence);
  // Unwatched: nothing more from it; a free slot again.
  REQUIRE(c->unwatch(a) == Status::kOk);
  CHECK(c->unwatch(a) == Status::kNotFound);
  REQUIRE(c->watch(prefix_from("m/z"), &extra) == Status::kOk);
  CHECK(extra > k);  // ids are not reused
  REQUIRE(c->put("m/a2", "x") == Status::kOk);
  WatchEvent e;
  REQUIRE(c->next_event(&e, 30'000) == Status::kOk);
  CHECK(e.watch == k);
  CHECK(c->next_event(&e, 100) == Status::kTimedOut);
  // unwatch() from one thread while another waits in next_event(): it does not wait for the
  // reader (else the put below would come only after the reader's 30 s ran out).
  uint32_t waited = 0;
  REQUIRE(c->watch(prefix_from("m/w"), &waited) == Status::kTooManyWatches);  // 3 open
  REQUIRE(c->unwatch(extra) == Status::kOk);
  REQUIRE(c->watch(prefix_from("m/w"), &waited) == Status::kOk);
  Status read_status = Status::kOk;
  WatchEvent read_event;
  std::thread reader([&] { read_status = c->next_event(&read_event, 30'000); });
  REQUIRE(c->unwatch(b) == Status::kOk);
  REQUIRE(c->put("m/w1", "w") == Status::kOk);
  reader.join();
  REQUIRE(read_status == Status::kOk);
  CHECK(read_event.changes[0].key == "m/w1");  // (k's event, or waited's: both carry it)
  while (c->next_event(&e, 100) == Status::kOk) {
  }
  // A durability-none commit never reaches the log: never delivered.
  REQUIRE(c->put("m/none", "n", ringdb::Durability::kNone) == Status::kOk);
  // (through the asynchronous path: the operation gives the commit's log position)
  ringdb::Operation put = ringdb::Operation::put("m/sync", "s");
  REQUIRE(c->submit(&put) == Status::kOk);
  REQUIRE(c->wait(&put) == Status::kOk);
  REQUIRE(put.status() == Status::kOk);
  REQUIRE(c->next_event(&e, 30'000) == Status::kOk);
  CHECK(e.changes[0].key == "m/sync");
  CHECK(put.log_position() == e.sequence);
}

TEST_CASE("watch: the C ABI") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  ringdb_client* c = nullptr;
  REQUIRE(ringdb_connect(daemon.socket().c_str(), &c, nullptr, 0) == RINGDB_OK);
  ringdb_watch_options o{};
  o.prefix = "abi/";
  o.prefix_len = 4;
  o.from = RINGDB_WATCH_FROM_NOW;
  uint32_t id = 0;
  uint64_t position = 0;
  REQUIRE(ringdb_watch(c, &o, &id, &position) == RINGDB_OK);
  ringdb_watch_event* e = nullptr;
  CHECK(ringdb_next_event(c, 10, &e) == RINGDB_TIMED_OUT);
  CHECK(e == nullptr);
  REQUIRE(ringdb_put(c, "abi/k", 5, "value", 5) == RINGDB_OK);
  REQUIRE(ringdb_del(c, "abi/k", 5) == RINGDB_OK);
  for (const int deleted : {0, 1}) {
    REQUIRE(ringdb_next_event(c, 30'000, &e) == RINGDB_OK);
    REQUIRE(e != nullptr);
    CHECK(e->type == RINGDB_EVENT_COMMIT);
    CHECK(e->watch == id);
    CHECK(e->sequence > position);
    position = e->sequence;
    REQUIRE(e->change_count == 1);
    CHECK(e->changes[0].deleted == deleted);
    CHECK(std::string(e->changes[0].key, e->changes[0].key_len) == "abi/k");
    CHECK(std::string(e->changes[0].value, e->changes[0].value_len) == (deleted ? "" : "value"));
    ringdb_watch_event_free(e);
  }
  CHECK(ringdb_unwatch(c, id) == RINGDB_OK);
  CHECK(ringdb_unwatch(c, id) == RINGDB_NOT_FOUND);
  o.from = 12345;  // past the end of this log
  CHECK(ringdb_watch(c, &o, &id, nullptr) == RINGDB_INVALID_ARGUMENT);
  ringdb_close(c);
}
