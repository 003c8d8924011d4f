// Checkpoints (daemon/durability/checkpoint.h) and recovery from them
// (daemon/durability/recovery.h), in-process with a real engine, a real log writer and real files:
// the file's round trip and its checks (bit flips, truncation, limits); a snapshot taken under a
// concurrent write load equals the state at its view; recovery from checkpoint plus log equals the
// state before the "crash", including the records the checkpoint must skip (a memory-only commit
// written over a logged one) and those it must replay (a transaction active at the cut); two
// checkpoints kept, the log below the older trimmed, and a damaged newest one passed over.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "daemon/durability/checkpoint.h"
#include "daemon/durability/recovery.h"
#include "daemon/engine/engine.h"
#include "daemon/wal/writer.h"
#include "tests/support/seed.h"
#include "tests/support/temp_dir.h"

namespace ringdb::daemon {
namespace {

namespace fs = std::filesystem;
using ringdb::test::TempDir;
using State = std::map<std::string, std::string>;

State dump(Engine& engine) {
  State out;
  std::unique_ptr<Transaction> txn;
  REQUIRE(engine.begin(TxnMode::kReadOnly, &txn) == Status::kOk);
  ScanOptions scan;
  scan.limit = 1000;
  std::vector<KeyValue> items;
  for (;;) {
    REQUIRE(engine.scan(*txn, scan, &items) == Status::kOk);
    if (items.empty()) break;
    for (auto& kv : items)
      out[kv.key] = kv.value;
    scan.start = items.back().key;
    scan.start.push_back('\0');
  }
  engine.abort(std::move(txn));
  return out;
}

std::vector<std::string> files(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix)
      out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// An engine with a log and a checkpointer, as ringdbd wires them, minus the workers: the test
// commits through the log itself (commit_logged), and keeps the cut's bound on unapplied log
// records the way the workers do (a floor per committer, set before the append).
struct Rig final : wal::CompletionSink {
  TempDir dir{"ringdb-checkpoint"};
  std::string wal_dir = dir.path + "/wal";
  std::string checkpoint_dir = dir.path + "/checkpoints";
  std::unique_ptr<Engine> engine;
  std::unique_ptr<wal::LogWriter> log;
  std::unique_ptr<Checkpointer> checkpointer;

  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, wal::LogStatus> outcomes;  // by request
  std::atomic<uint64_t> next_request{1};
  static constexpr size_t kCommitters = 8;
  std::atomic<uint64_t> floors[kCommitters];

  explicit Rig(uint64_t segment_bytes = 1 << 20, CheckpointerOptions options = {}) {
    for (auto& f : floors)
      f.store(UINT64_MAX);
    REQUIRE(mkdir(wal_dir.c_str(), 0700) == 0);
    engine = std::make_unique<Engine>(EngineOptions{});
    start_log(0, 0, segment_bytes, std::move(options));
  }
  void start_log(uint64_t lsn, uint64_t segment_id, uint64_t segment_bytes,
                 CheckpointerOptions options) {
    wal::LogWriterOptions o;
    o.dir = wal_dir;
    o.segment_bytes = segment_bytes;
    o.start_lsn = lsn;
    o.first_segment_id = segment_id;
    std::string error;
    log = wal::LogWriter::open(
        o, {this}, [](const std::string& reason) { FAIL("log failed: " << reason); }, &error);
    REQUIRE_MESSAGE(log, error);
    options.dir = checkpoint_dir;
    options.wal_dir = wal_dir;
    checkpointer = std::make_unique<Checkpointer>(std::move(options), engine.get(), log.get(),
                                                  [this] { return floor(); });
    REQUIRE_MESSAGE(checkpointer->open(&error), error);
  }
  // The log's completions (the only worker is 0).
  bool post(std::span<const wal::Completion> completions) override {
    std::lock_guard lock(mu);
    for (const wal::Completion& c : completions)
      outcomes[c.request] = c.status;
    cv.notify_all();
    return true;
  }
  uint64_t floor() const {
    uint64_t f = UINT64_MAX;
    for (const auto& x : floors)
      f = std::min(f, x.load(std::memory_order_seq_cst));
    return f;
  }

  enum class Durability { kSync, kAsync, kNone };
  // Commits like a worker: the redo appended to the log, then (sync) made visible once
  // durable, or (async) at once; none: not logged.
  Status commit(std::unique_ptr<Transaction> txn, Durability d, size_t committer = 0,
                mvcc::Csn* csn = nullptr) {
    std::vector<RedoOp> redo;
    if (const Status s = engine->prepare_commit(*txn, &redo); s != Status::kOk) {
      engine->abort(std::move(txn));
      return s;
    }
    if (redo.empty() || d == Durability::kNone) return engine->commit(std::move(txn), csn);
    std::vector<wal::Op> ops;
    for (const RedoOp& op : redo)
      ops.push_back(
          wal::Op{op.tombstone ? wal::OpKind::kDelete : wal::OpKind::kPut, op.key, op.value});
    floors[committer].store(log->durable_lsn(), std::memory_order_seq_cst);
    const uint64_t request =
        d == Durability::kAsync ? wal::LogWriter::kNoNotify : next_request.fetch_add(1);
    wal::LogStatus ls;
    while ((ls = log->append(txn->id(), ops, 0, request)) == wal::LogStatus::kQueueFull)
      std::this_thread::yield();
    REQUIRE(ls == wal::LogStatus::kOk);
    if (d == Durability::kSync) REQUIRE(wait_durable(request));
    const Status s = engine->commit(std::move(txn), csn);
    floors[committer].store(UINT64_MAX, std::memory_order_release);
    return s;
  }
  bool wait_durable(uint64_t request) {
    std::unique_lock lock(mu);
    const bool done =
        cv.wait_for(lock, std::chrono::seconds(60), [&] { return outcomes.count(request) != 0; });
    return done && outcomes[request] == wal::LogStatus::kOk;
  }
  Status put(const std::map<std::string, std::string>& kvs, Durability d) {
    std::unique_ptr<Transaction> txn;
    REQUIRE(engine->begin(TxnMode::kReadWrite, &txn) == Status::kOk);
    for (const auto& [k, v] : kvs)
      REQUIRE(engine->put(*txn, k, v) == Status::kOk);
    return commit(std::move(txn), d);
  }
  CheckpointResult checkpoint() {
    CheckpointResult r;
    std::string error;
    REQUIRE_MESSAGE(checkpointer->run(true, &r, &error), error);
    return r;
  }
  // What a crash leaves: everything appended was written (stop() drains the queue), nothing
  // in memory survives. The engine is kept for comparison.
  void crash() {
    checkpointer.reset();
    log->stop();
    log.reset();
  }
};

State recover_state(const std::string& checkpoint_dir, const std::string& wal_dir,
                    RecoveryReport* report) {
  Engine fresh;
  std::string error;
  REQUIRE_MESSAGE(recover(fresh, checkpoint_dir, wal_dir, report, &error), error);
  return dump(fresh);
}

std::string key_of(size_t i) {
  char k[16];
  snprintf(k, sizeof k, "key%06zu", i);
  return k;
}

TEST_CASE("checkpoint: the file holds the snapshot; any damage or a limit makes it unusable") {
  Rig rig;
  std::mt19937_64 rng(ringdb::test::test_seed("checkpoint file"));
  std::map<std::string, std::string> batch;
  for (size_t i = 0; i < 6000; ++i) {  // more than one scan (4096 keys) of the snapshot
    batch[key_of(i)] = std::string(rng() % 2000, static_cast<char>('a' + i % 26));
    if (batch.size() == 500) {
      REQUIRE(rig.put(batch, Rig::Durability::kNone) == Status::kOk);
      batch.clear();
    }
  }
  const State expected = dump(*rig.engine);
  const CheckpointResult r = rig.checkpoint();
  CHECK(r.info.keys == 6000);
  CHECK(r.info.seq == 1);
  CHECK(r.file_bytes == fs::file_size(r.info.path));
  CHECK(files(rig.checkpoint_dir, ".tmp").empty());

  const CheckpointLimits limits{1024, 1 << 20};
  State loaded;
  CheckpointInfo info;
  std::string error;
  REQUIRE_MESSAGE(load_checkpoint(
                      r.info.path, limits,
                      [&](std::string_view k, std::string_view v, std::string*) {
                        loaded[std::string(k)] = std::string(v);
                        return true;
                      },
                      &info, &error),
                  error);
  CHECK(loaded == expected);
  CHECK(info.keys == 6000);
  CHECK(info.snapshot_csn == r.info.snapshot_csn);

  std::string bytes(fs::file_size(r.info.path), '\0');
  {
    std::ifstream in(r.info.path, std::ios::binary);
    REQUIRE(in.read(bytes.data(), static_cast<std::streamsize>(bytes.size())));
  }
  const std::string copy = rig.dir.path + "/damaged.rdb";
  auto write_copy = [&](const std::string& content) {
    std::ofstream out(copy, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  };
  auto loads = [&](size_t* applied) {
    *applied = 0;
    CheckpointInfo ignored;
    std::string why;
    return load_checkpoint(
        copy, limits,
        [&](std::string_view, std::string_view, std::string*) {
          ++*applied;
          return true;
        },
        &ignored, &why);
  };
  size_t applied;
  // A bit flipped anywhere (header, ids, entries, trailer): refused, nothing applied.
  for (int i = 0; i < 64; ++i) {
    std::string damaged = bytes;
    const size_t at = i < 8 ? static_cast<size_t>(i) * 9 : rng() % bytes.size();
    CAPTURE(at);
    damaged[at] = static_cast<char>(damaged[at] ^ (1 << (rng() % 8)));
    write_copy(damaged);
    CHECK_FALSE(loads(&applied));
    CHECK(applied == 0);
  }
  // Cut short anywhere: refused, nothing applied.
  for (int i = 0; i < 64; ++i) {
    const size_t size = i == 0 ? 0 : i == 1 ? bytes.size() - 1 : rng() % bytes.size();
    CAPTURE(size);
    write_copy(bytes.substr(0, size));
    CHECK_FALSE(loads(&applied));
    CHECK(applied == 0);
  }
  // Values larger than this daemon allows: refused with a clear reason.
  write_copy(bytes);
  CheckpointInfo ignored;
  CHECK_FALSE(load_checkpoint(
      copy, CheckpointLimits{1024, 100},
      [](std::string_view, std::string_view, std::string*) { return true; }, &ignored, &error));
  CHECK(error.find("--value-size-max") != std::string::npos);
}

TEST_CASE("checkpoint: a snapshot taken under concurrent writers equals the state at its view") {
  std::atomic<uint64_t> commits{0};
  std::mutex progress_mu;
  std::condition_variable progress_cv;
  std::atomic<bool> stop{false};
  CheckpointerOptions options;
  // Between the snapshot's scans, let the writers commit more: the scans must not see them.
  options.between_scans = [&](uint64_t) {
    const uint64_t target = commits.load() + 50;
    std::unique_lock lock(progress_mu);
    progress_cv.wait_for(lock, std::chrono::seconds(30), [&] { return commits.load() >= target; });
  };
  Rig rig(1 << 20, options);
  constexpr size_t kKeys = 12000;  // three scans of the snapshot
  {
    std::map<std::string, std::string> batch;
    for (size_t i = 0; i < kKeys; ++i) {
      batch[key_of(i)] = "initial";
      if (batch.size() == 1000) {
        REQUIRE(rig.put(batch, Rig::Durability::kNone) == Status::kOk);
        batch.clear();
      }
    }
  }
  const State initial = dump(*rig.engine);
  struct Committed {
    mvcc::Csn csn;
    mvcc::TrxId id;
    Rig::Durability durability;
    std::vector<std::pair<std::string, std::string>> writes;
  };
  constexpr size_t kWriters = 3;
  std::vector<std::vector<Committed>> log(kWriters);
  std::vector<std::thread> writers;
  const uint64_t seed = ringdb::test::test_seed("checkpoint under load");
  for (size_t w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937_64 rng(seed + w);
      for (uint64_t n = 0; !stop.load(); ++n) {
        std::unique_ptr<Transaction> txn;
        REQUIRE(rig.engine->begin(TxnMode::kReadWrite, &txn) == Status::kOk);
        Committed c;
        bool conflict = false;
        for (int k = 0; k < 3 && !conflict; ++k) {
          const std::string key = key_of(rng() % kKeys);
          char value[48];
          snprintf(value, sizeof value, "w%zun%lu", w, static_cast<unsigned long>(n));
          const Status s = rig.engine->put(*txn, key, value);
          conflict = s == Status::kConflict;
          if (s == Status::kOk) c.writes.emplace_back(key, value);
        }
        c.id = txn->id();
        if (conflict) {
          rig.engine->abort(std::move(txn));
          continue;
        }
        // Mixed durabilities: the cut must hold whatever the commit path.
        c.durability = static_cast<Rig::Durability>(n % 3);
        REQUIRE(rig.commit(std::move(txn), c.durability, w, &c.csn) == Status::kOk);
        log[w].push_back(std::move(c));
        commits.fetch_add(1);
        progress_cv.notify_all();
      }
    });
  }
  // Wait for the writers to get going, then checkpoint under them.
  {
    std::unique_lock lock(progress_mu);
    REQUIRE(progress_cv.wait_for(lock, std::chrono::seconds(30),
                                 [&] { return commits.load() >= 100; }));
  }
  const CheckpointResult r = rig.checkpoint();
  stop = true;
  progress_cv.notify_all();
  for (auto& t : writers)
    t.join();

  // The state at the snapshot: the initial keys, then every commit with CSN <= it, in CSN order.
  std::vector<const Committed*> all;
  for (const auto& per_writer : log)
    for (const Committed& c : per_writer)
      all.push_back(&c);
  std::sort(all.begin(), all.end(),
            [](const Committed* a, const Committed* b) { return a->csn < b->csn; });
  State expected = initial;
  size_t before = 0;
  for (const Committed* c : all) {
    // The cut names the same transactions as the snapshot: recovery's skip rule holds.
    CHECK(r.info.contains(c->id) == (c->csn <= r.info.snapshot_csn));
    if (c->csn > r.info.snapshot_csn) continue;
    ++before;
    for (const auto& [k, v] : c->writes)
      expected[k] = v;
  }
  CHECK(before > 0);
  CHECK(before < all.size());  // writers committed during the checkpoint too
  MESSAGE("checkpoint under load: " << before << " commits before its view, " << all.size() - before
                                    << " during and after it");
  State loaded;
  CheckpointInfo info;
  std::string error;
  REQUIRE_MESSAGE(load_checkpoint(
                      r.info.path, CheckpointLimits{1024, 1 << 20},
                      [&](std::string_view k, std::string_view v, std::string*) {
                        loaded[std::string(k)] = std::string(v);
                        return true;
                      },
                      &info, &error),
                  error);
  CHECK(loaded == expected);
  // Recovery from the checkpoint plus the log: the snapshot, then every logged commit after
  // its view (the memory-only ones after it are lost), in commit order.
  rig.crash();
  RecoveryReport report;
  const State recovered = recover_state(rig.checkpoint_dir, rig.wal_dir, &report);
  State expected_recovered = expected;
  for (const Committed* c : all) {
    if (c->csn <= r.info.snapshot_csn || c->durability == Rig::Durability::kNone) continue;
    for (const auto& [k, v] : c->writes)
      expected_recovered[k] = v;
  }
  CHECK(recovered == expected_recovered);
  CHECK(report.checkpoint.seq == r.info.seq);
}

TEST_CASE("checkpoint recovery: records the snapshot holds are skipped, those it lacks replayed") {
  Rig rig;
  using D = Rig::Durability;
  REQUIRE(rig.put({{"a", "1"}, {"b", "1"}}, D::kSync) == Status::kOk);
  // Memory only, over a logged value: after a crash it is there whole (via the checkpoint) or
  // not at all — never its "x" without its "a".
  REQUIRE(rig.put({{"a", "n1"}, {"x", "n1"}}, D::kNone) == Status::kOk);
  // Durable but not yet committed at the cut: active there, so replayed.
  std::unique_ptr<Transaction> t4;
  REQUIRE(rig.engine->begin(TxnMode::kReadWrite, &t4) == Status::kOk);
  REQUIRE(rig.engine->put(*t4, "d", "4") == Status::kOk);
  std::vector<RedoOp> redo;
  REQUIRE(rig.engine->prepare_commit(*t4, &redo) == Status::kOk);
  const std::vector<wal::Op> ops = {wal::Op{wal::OpKind::kPut, "d", "4"}};
  const uint64_t request = rig.next_request.fetch_add(1);
  REQUIRE(rig.log->append(t4->id(), ops, 0, request) == wal::LogStatus::kOk);
  REQUIRE(rig.wait_durable(request));
  // Replay from the very start (as if every record were unapplied): the skip rule alone must
  // keep the first commit from being written over the memory-only one.
  rig.floors[0].store(0);
  const CheckpointResult r = rig.checkpoint();
  rig.floors[0].store(UINT64_MAX);
  CHECK(r.info.wal_lsn == 0);
  CHECK(r.info.active == std::vector<uint64_t>{t4->id()});
  REQUIRE(rig.engine->commit(std::move(t4)) == Status::kOk);
  REQUIRE(rig.put({{"b", "5"}}, D::kSync) == Status::kOk);
  REQUIRE(rig.put({{"x", "n2"}}, D::kNone) == Status::kOk);  // after the checkpoint: lost
  rig.crash();
  RecoveryReport report;
  const State recovered = recover_state(rig.checkpoint_dir, rig.wal_dir, &report);
  CHECK(recovered == State{{"a", "n1"}, {"b", "5"}, {"d", "4"}, {"x", "n1"}});
  CHECK(report.in_checkpoint == 1);  // the first commit
  CHECK(report.replayed == 2);       // the one active at the cut, and the last sync one
  // Transaction ids go on above the log's and the cut's.
  Engine fresh;
  std::string error;
  REQUIRE(recover(fresh, rig.checkpoint_dir, rig.wal_dir, &report, &error));
  CHECK(fresh.next_trx_id() >= r.info.next_trx);
}

TEST_CASE(
    "checkpoint: two are kept, the log below the older is removed, a damaged newest is "
    "passed over") {
  Rig rig(64 << 10);  // small segments: the log spans many
  using D = Rig::Durability;
  size_t n = 0;
  auto write_some = [&](size_t count) {
    for (size_t i = 0; i < count; ++i, ++n)
      REQUIRE(rig.put({{key_of(n % 300), std::string(1000, static_cast<char>('a' + n % 26))}},
                      D::kSync) == Status::kOk);
  };
  write_some(200);
  const size_t segments_before = files(rig.wal_dir, ".log").size();
  REQUIRE(segments_before > 3);
  const CheckpointResult first = rig.checkpoint();
  CHECK(first.wal_removed.empty());  // one checkpoint: the log is its only fallback
  write_some(200);
  const CheckpointResult second = rig.checkpoint();
  CHECK(!second.wal_removed.empty());  // below the first's LSN
  write_some(200);
  const CheckpointResult third = rig.checkpoint();
  CHECK(third.checkpoints_removed == std::vector<std::string>{first.info.path});
  CHECK(files(rig.checkpoint_dir, ".rdb") ==
        std::vector<std::string>{second.info.path, third.info.path});
  write_some(50);
  const State expected = dump(*rig.engine);
  rig.crash();

  RecoveryReport report;
  CHECK(recover_state(rig.checkpoint_dir, rig.wal_dir, &report) == expected);
  CHECK(report.checkpoint.seq == third.info.seq);
  CHECK(report.replayed == 50);

  // Damage the newest: recovery uses the older one and the log kept after it.
  {
    std::fstream f(third.info.path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(third.info.path) / 2));
    f.put('\x7f');
  }
  CHECK(recover_state(rig.checkpoint_dir, rig.wal_dir, &report) == expected);
  CHECK(report.checkpoint.seq == second.info.seq);
  CHECK(report.unusable_checkpoints.size() == 1);
  CHECK(report.replayed == 250);

  // Both damaged: the log alone no longer reaches back far enough, and recovery says so
  // rather than start with data missing.
  {
    std::fstream f(second.info.path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(second.info.path) / 2));
    f.put('\x7f');
  }
  Engine fresh;
  std::string error;
  CHECK_FALSE(recover(fresh, rig.checkpoint_dir, rig.wal_dir, &report, &error));
  CHECK(error.find("log segments are missing") != std::string::npos);
}

TEST_CASE("recovery: records replayed several to a transaction leave the state they wrote") {
  // More records than one replay transaction takes (256), over few keys, with deletes right
  // after puts of the same key, keys put twice, and deletes of absent keys: the batches must
  // leave what record-by-record replay would.
  Rig rig;
  std::mt19937 rng(ringdb::test::test_seed("replay batches"));
  for (size_t t = 0; t < 700; ++t) {
    std::unique_ptr<Transaction> txn;
    REQUIRE(rig.engine->begin(TxnMode::kReadWrite, &txn) == Status::kOk);
    const size_t ops = 1 + rng() % 3;
    for (size_t i = 0; i < ops; ++i) {
      const std::string key = key_of(rng() % 40);
      if (rng() % 3 == 0) {
        const Status s = rig.engine->del(*txn, key);
        REQUIRE((s == Status::kOk || s == Status::kNotFound));
      } else {
        REQUIRE(rig.engine->put(*txn, key, std::to_string(t) + "/" + std::to_string(i)) ==
                Status::kOk);
      }
    }
    REQUIRE(rig.commit(std::move(txn), Rig::Durability::kAsync) == Status::kOk);
  }
  const State expected = dump(*rig.engine);
  rig.crash();
  RecoveryReport report;
  CHECK(recover_state(rig.checkpoint_dir, rig.wal_dir, &report) == expected);
  CHECK(report.replayed > 600);  // transactions that only deleted absent keys log nothing
}

TEST_CASE("recovery: an engine too small for the log fails its replay with a clear error") {
  // Both replay threads run out of memory; whichever refuses first, recovery ends (no hang)
  // with the engine's reason.
  Rig rig;
  const std::string value(1000, 'v');
  for (size_t i = 0; i < 2000; ++i)
    REQUIRE(rig.put({{key_of(i), value}}, Rig::Durability::kAsync) == Status::kOk);
  rig.crash();
  // Room for a small part of the log, then for most of it (the helper's part is applied
  // last: it fails there).
  for (const size_t limit : {size_t{256} << 10, size_t{1800} << 10}) {
    EngineOptions options;
    options.memory_limit_bytes = limit;
    Engine small(options);
    RecoveryReport report;
    std::string error;
    CHECK_FALSE(recover(small, rig.checkpoint_dir, rig.wal_dir, &report, &error));
    CHECK_MESSAGE(error.find("OUT_OF_MEMORY") != std::string::npos, error);
  }
}

TEST_CASE("recovery: a checkpoint is loaded as one commit, leaving purge nothing to do") {
  Rig rig;
  std::map<std::string, std::string> batch;
  for (size_t i = 0; i < 5000; ++i)
    batch[key_of(i)] = key_of(i + 100000);  // a value per key
  REQUIRE(rig.put(batch, Rig::Durability::kNone) == Status::kOk);
  rig.checkpoint();
  rig.crash();
  EngineOptions options;
  options.purge_interval = std::chrono::milliseconds(0);
  options.index_node_keys_max = 8;  // many leaves, filled left to right
  Engine fresh(options);
  RecoveryReport report;
  std::string error;
  REQUIRE_MESSAGE(recover(fresh, rig.checkpoint_dir, rig.wal_dir, &report, &error), error);
  CHECK(report.checkpoint.keys == 5000);
  const EngineStats stats = fresh.stats();
  CHECK(stats.keys == 5000);
  CHECK(stats.trx_committed == 1);  // not a transaction per key, nor per thousand
  CHECK(stats.history_length == 0);
  CHECK(dump(fresh) == State(batch.begin(), batch.end()));
}

TEST_CASE("recovery reports its progress on large checkpoints and logs") {
  Rig rig;
  using D = Rig::Durability;
  std::map<std::string, std::string> batch;
  const std::string v = "v";
  for (size_t i = 0; i < 9000; ++i) {
    batch[key_of(i)] = v;
    if (batch.size() == 1000) {
      REQUIRE(rig.put(batch, D::kNone) == Status::kOk);
      batch.clear();
    }
  }
  rig.checkpoint();
  for (size_t i = 0; i < 9000; ++i)
    REQUIRE(rig.put({{key_of(i), "w"}}, D::kAsync) == Status::kOk);
  rig.crash();
  RecoveryProgress progress;
  progress.interval = std::chrono::nanoseconds(0);  // a line at every chance (every 4096)
  std::vector<std::string> lines;
  progress.report = [&](const std::string& line) { lines.push_back(line); };
  Engine fresh;
  RecoveryReport report;
  std::string error;
  REQUIRE_MESSAGE(recover(fresh, rig.checkpoint_dir, rig.wal_dir, &report, &error, progress),
                  error);
  const auto count = [&](const char* what) {
    return std::count_if(lines.begin(), lines.end(),
                         [&](const std::string& l) { return l.find(what) != std::string::npos; });
  };
  CHECK(count("keys so far") == 2);     // 4096 and 8192 of 9000 keys
  CHECK(count("records so far") == 2);  // of 9000 records
  CHECK(dump(fresh).at(key_of(8999)) == "w");
}

TEST_CASE(
    "checkpointer: runs on its interval and on log growth; skips when nothing changed; "
    "leftover .tmp files are removed") {
  TempDir scratch("ringdb-checkpoint");
  {
    std::ofstream(scratch.path + "/ckpt-9.tmp") << "cut short by a crash";
    std::vector<CheckpointInfo> found;
    std::string error;
    REQUIRE(list_checkpoints(scratch.path, &found, &error));
    CHECK(found.empty());
    CHECK(files(scratch.path, ".tmp").empty());
  }
  using D = Rig::Durability;
  SUBCASE("interval") {
    CheckpointerOptions options;
    options.interval = std::chrono::milliseconds(5);
    Rig rig(1 << 20, options);
    rig.checkpointer->start();
    for (uint64_t i = 0; rig.checkpointer->completed() < 3; ++i) {
      REQUIRE(i < 10'000'000);  // a bound, not a timing: commits until three checkpoints ran
      REQUIRE(rig.put({{"k", std::to_string(i)}}, D::kSync) == Status::kOk);
    }
    rig.checkpointer->stop();
  }
  SUBCASE("log growth") {
    CheckpointerOptions options;
    options.wal_bytes = 16 << 10;
    Rig rig(1 << 20, options);
    rig.checkpointer->start();
    for (uint64_t i = 0; rig.checkpointer->completed() < 2; ++i) {
      REQUIRE(i < 10'000'000);
      REQUIRE(rig.put({{"k", std::string(500, 'v')}}, D::kSync) == Status::kOk);
    }
    rig.checkpointer->stop();
  }
  SUBCASE("nothing changed") {
    Rig rig;
    REQUIRE(rig.put({{"k", "v"}}, D::kSync) == Status::kOk);
    // The durable LSN moves just after the commit heard "durable" (LogWriter::open): let it,
    // or the second run below would see it move and rightly not skip.
    for (const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
         rig.log->durable_lsn() != rig.log->written_lsn();) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::yield();
    }
    CheckpointResult r;
    std::string error;
    REQUIRE(rig.checkpointer->run(false, &r, &error));
    CHECK_FALSE(r.skipped);
    REQUIRE(rig.checkpointer->run(false, &r, &error));
    CHECK(r.skipped);
    REQUIRE(rig.put({{"k", "w"}}, D::kNone) == Status::kOk);  // memory only counts too
    REQUIRE(rig.checkpointer->run(false, &r, &error));
    CHECK_FALSE(r.skipped);
  }
}

}  // namespace
}  // namespace ringdb::daemon
