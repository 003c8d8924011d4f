// bench_engine: the engine against LMDB (Debian's liblmdb), in-process, same keys and values,
// in the same run. 1M keys of 16 bytes with 100-byte values, loaded once into both.
//
//   Get/uniform, Get/zipf     point reads: ringdb's AC-NL-RO session get; LMDB a read-only
//                             transaction renewed per get (mdb_txn_renew/reset, its fast path)
//   PutTxn                    single-key write transactions: begin, put, commit. LMDB with
//                             MDB_NOSYNC (ringdb has no durability yet either)
//   Scan100                   100-key forward scans from a random key in a read-only transaction
// Each at 1 and 2 threads (real time per operation, all threads together).
//
// Run: build/tests/bench/bench_engine [--benchmark_format=json]
// Loading 1M keys into both stores takes a few seconds before the first figure.
#include <benchmark/benchmark.h>
#include <lmdb.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "daemon/engine/engine.h"

namespace {

using ringdb::daemon::Engine;
using ringdb::daemon::EngineOptions;
using ringdb::daemon::Session;
using ringdb::daemon::Status;
using ringdb::daemon::Transaction;
using ringdb::daemon::TxnMode;

constexpr uint64_t kKeys = 1'000'000;
constexpr size_t kValueBytes = 100;

// 16-byte keys, ordered like their numbers.
std::string key_of(uint64_t n) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "key:%012llu", static_cast<unsigned long long>(n));
  return std::string(buf, 16);
}

std::string value_of(uint64_t n) {
  std::string v(kValueBytes, 'v');
  const std::string tag = std::to_string(n);
  v.replace(0, tag.size(), tag);
  return v;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "bench_engine: %s failed\n", what);
    std::abort();
  }
}

// YCSB's Zipfian generator (Gray et al., "Quickly generating billion-record synthetic
// databases"), theta = 0.99, over [0, n).
class Zipf {
 public:
  Zipf(uint64_t n, double theta) : n_(n), theta_(theta) {
    for (uint64_t i = 1; i <= n; ++i)
      zeta_n_ += 1.0 / std::pow(static_cast<double>(i), theta);
    const double zeta2 = 1.0 + 1.0 / std::pow(2.0, theta);
    alpha_ = 1.0 / (1.0 - theta);
    eta_ = (1.0 - std::pow(2.0 / static_cast<double>(n), 1.0 - theta)) / (1.0 - zeta2 / zeta_n_);
  }
  uint64_t next(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    const double uz = u * zeta_n_;
    if (uz < 1.0) return 0;
    if (uz < 1.0 + std::pow(0.5, theta_)) return 1;
    const auto v =
        static_cast<uint64_t>(static_cast<double>(n_) * std::pow(eta_ * u - eta_ + 1.0, alpha_));
    return v < n_ ? v : n_ - 1;
  }

 private:
  uint64_t n_;
  double theta_;
  double zeta_n_ = 0;
  double alpha_ = 0;
  double eta_ = 0;
};

const Zipf& zipf() {
  static const Zipf z(kKeys, 0.99);
  return z;
}

// ---- The two stores, loaded once -----------------------------------------------------

Engine& ringdb_engine() {
  static Engine* engine = [] {
    EngineOptions o;
    o.memory_limit_bytes = size_t{8} << 30;
    auto* e = new Engine(o);
    for (uint64_t base = 0; base < kKeys; base += 1000) {
      std::unique_ptr<Transaction> txn;
      check(e->begin(TxnMode::kReadWrite, &txn) == Status::kOk, "ringdb begin");
      for (uint64_t n = base; n < base + 1000; ++n)
        check(e->put(*txn, key_of(n), value_of(n)) == Status::kOk, "ringdb load put");
      check(e->commit(std::move(txn)) == Status::kOk, "ringdb load commit");
    }
    return e;
  }();
  return *engine;
}

struct Lmdb {
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  std::string dir;
};

Lmdb& lmdb() {
  static Lmdb* db = [] {
    auto* l = new Lmdb;
    char templ[] = "/tmp/ringdb-bench-lmdb-XXXXXX";
    check(mkdtemp(templ) != nullptr, "mkdtemp");
    l->dir = templ;
    check(mdb_env_create(&l->env) == 0, "mdb_env_create");
    check(mdb_env_set_mapsize(l->env, size_t{4} << 30) == 0, "mdb_env_set_mapsize");
    check(mdb_env_set_maxreaders(l->env, 126) == 0, "mdb_env_set_maxreaders");
    check(mdb_env_open(l->env, templ, MDB_NOSYNC | MDB_NOTLS, 0600) == 0, "mdb_env_open");
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(l->env, nullptr, 0, &txn) == 0, "mdb_txn_begin");
    check(mdb_dbi_open(txn, nullptr, 0, &l->dbi) == 0, "mdb_dbi_open");
    for (uint64_t n = 0; n < kKeys; ++n) {
      std::string k = key_of(n);
      std::string v = value_of(n);
      MDB_val key{k.size(), k.data()};
      MDB_val val{v.size(), v.data()};
      check(mdb_put(txn, l->dbi, &key, &val, 0) == 0, "mdb_put");
    }
    check(mdb_txn_commit(txn) == 0, "mdb_txn_commit");
    return l;
  }();
  return *db;
}

// Both stores are loaded before any timing starts.
void load_all() {
  ringdb_engine();
  lmdb();
}

uint64_t pick(std::mt19937_64& rng, bool zipfian) {
  return zipfian ? zipf().next(rng) : std::uniform_int_distribution<uint64_t>(0, kKeys - 1)(rng);
}

// ---- Point gets ------------------------------------------------------------------------

template <bool kZipf>
void BM_Get_ringdb(benchmark::State& state) {
  Engine& e = ringdb_engine();
  std::unique_ptr<Session> session;
  check(e.open_session(&session, static_cast<uint64_t>(state.thread_index()) + 1) == Status::kOk,
        "open_session");
  std::mt19937_64 rng(static_cast<uint64_t>(state.thread_index()) * 7919 + 1);
  std::string value;
  for (auto _ : state) {
    const std::string key = key_of(pick(rng, kZipf));
    if (e.get(*session, key, &value) != Status::kOk) state.SkipWithError("missing key");
    benchmark::DoNotOptimize(value.data());
  }
  e.close_session(std::move(session));
  // What the data set costs the engine, per key: chains, versions and values (its own
  // account) and the index.
  const auto stats = e.stats();
  state.counters["stored_bytes_per_key"] = benchmark::Counter(
      static_cast<double>(stats.memory_used_bytes) / static_cast<double>(stats.keys),
      benchmark::Counter::kAvgThreads);
  state.counters["index_bytes_per_key"] =
      benchmark::Counter(static_cast<double>(stats.index_bytes) / static_cast<double>(stats.keys),
                         benchmark::Counter::kAvgThreads);
}

template <bool kZipf>
void BM_Get_lmdb(benchmark::State& state) {
  Lmdb& l = lmdb();
  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(l.env, nullptr, MDB_RDONLY, &txn) == 0, "mdb_txn_begin");
  mdb_txn_reset(txn);
  std::mt19937_64 rng(static_cast<uint64_t>(state.thread_index()) * 7919 + 1);
  std::string value;
  for (auto _ : state) {
    std::string k = key_of(pick(rng, kZipf));
    MDB_val key{k.size(), k.data()};
    MDB_val val;
    check(mdb_txn_renew(txn) == 0, "mdb_txn_renew");
    if (mdb_get(txn, l.dbi, &key, &val) != 0) state.SkipWithError("missing key");
    value.assign(static_cast<const char*>(val.mv_data), val.mv_size);  // same copy as ringdb
    mdb_txn_reset(txn);
    benchmark::DoNotOptimize(value.data());
  }
  mdb_txn_abort(txn);
}

// ---- Single-key write transactions -----------------------------------------------------

void BM_PutTxn_ringdb(benchmark::State& state) {
  Engine& e = ringdb_engine();
  std::mt19937_64 rng(static_cast<uint64_t>(state.thread_index()) * 104729 + 3);
  const std::string value = value_of(42);
  int64_t conflicts = 0;
  for (auto _ : state) {
    const std::string key = key_of(pick(rng, false));
    std::unique_ptr<Transaction> txn;
    check(e.begin(TxnMode::kReadWrite, &txn) == Status::kOk, "begin");
    const Status s = e.put(*txn, key, value);
    if (s == Status::kConflict) ++conflicts;  // two threads on one key: first updater wins
    benchmark::DoNotOptimize(e.commit(std::move(txn)));
  }
  state.counters["conflicts"] = static_cast<double>(conflicts);
}

void BM_PutTxn_lmdb(benchmark::State& state) {
  Lmdb& l = lmdb();
  std::mt19937_64 rng(static_cast<uint64_t>(state.thread_index()) * 104729 + 3);
  std::string value = value_of(42);
  for (auto _ : state) {
    std::string k = key_of(pick(rng, false));
    MDB_val key{k.size(), k.data()};
    MDB_val val{value.size(), value.data()};
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(l.env, nullptr, 0, &txn) == 0, "mdb_txn_begin");
    check(mdb_put(txn, l.dbi, &key, &val, 0) == 0, "mdb_put");
    check(mdb_txn_commit(txn) == 0, "mdb_txn_commit");
  }
}

// ---- 100-key scans ---------------------------------------------------------------------

void BM_Scan100_ringdb(benchmark::State& state) {
  Engine& e = ringdb_engine();
  std::mt19937_64 rng(static_cast<uint64_t>(state.thread_index()) * 31 + 5);
  ringdb::daemon::ScanOptions options;
  options.limit = 100;
  std::vector<ringdb::daemon::KeyValue> out;
  for (auto _ : state) {
    options.start = key_of(pick(rng, false));
    out.clear();
    std::unique_ptr<Transaction> txn;
    check(e.begin(TxnMode::kReadOnly, &txn) == Status::kOk, "begin");
    check(e.scan(*txn, options, &out) == Status::kOk, "scan");
    benchmark::DoNotOptimize(e.commit(std::move(txn)));
    benchmark::DoNotOptimize(out.data());
  }
}

void BM_Scan100_lmdb(benchmark::State& state) {
  Lmdb& l = lmdb();
  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(l.env, nullptr, MDB_RDONLY, &txn) == 0, "mdb_txn_begin");
  mdb_txn_reset(txn);
  std::mt19937_64 rng(static_cast<uint64_t>(state.thread_index()) * 31 + 5);
  std::vector<ringdb::daemon::KeyValue> out;
  for (auto _ : state) {
    std::string start = key_of(pick(rng, false));
    out.clear();
    check(mdb_txn_renew(txn) == 0, "mdb_txn_renew");
    MDB_cursor* cursor = nullptr;
    check(mdb_cursor_open(txn, l.dbi, &cursor) == 0, "mdb_cursor_open");
    MDB_val key{start.size(), start.data()};
    MDB_val val;
    int rc = mdb_cursor_get(cursor, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && out.size() < 100) {
      out.push_back({std::string(static_cast<const char*>(key.mv_data), key.mv_size),
                     std::string(static_cast<const char*>(val.mv_data), val.mv_size)});
      rc = mdb_cursor_get(cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(cursor);
    mdb_txn_reset(txn);
    benchmark::DoNotOptimize(out.data());
  }
  mdb_txn_abort(txn);
}

#define RINGDB_PAIR(fn, name) BENCHMARK(fn)->Name(name)->Threads(1)->Threads(2)->UseRealTime()

RINGDB_PAIR(BM_Get_ringdb<false>, "Get/uniform/ringdb");
RINGDB_PAIR(BM_Get_lmdb<false>, "Get/uniform/lmdb");
RINGDB_PAIR(BM_Get_ringdb<true>, "Get/zipf/ringdb");
RINGDB_PAIR(BM_Get_lmdb<true>, "Get/zipf/lmdb");
RINGDB_PAIR(BM_PutTxn_ringdb, "PutTxn/ringdb");
RINGDB_PAIR(BM_PutTxn_lmdb, "PutTxn/lmdb");
RINGDB_PAIR(BM_Scan100_ringdb, "Scan100/ringdb");
RINGDB_PAIR(BM_Scan100_lmdb, "Scan100/lmdb");

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  load_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::error_code ignored;
  std::filesystem::remove_all(lmdb().dir, ignored);
  return 0;
}
