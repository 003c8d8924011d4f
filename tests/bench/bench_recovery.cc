// bench_recovery: how long ringdbd's start takes per GiB of write-ahead log and per GiB of
// checkpoint, through the code ringdbd runs (daemon/recovery.h's recover() into a fresh
// Engine). Issue 5's "recovery time per GB of WAL and per GB of checkpoint".
//
//   bench_recovery [--wal-mib N] [--checkpoint-mib N] [--runs R] [--dir DIR] [--json]
//
// Phase "wal": a log of about N MiB written by a real LogWriter (transactions of 1-4 puts,
// 24-byte keys, 100-900-byte values over 200 000 keys), then recover() timed, warm (the page
// cache holds the log) and cold (caches dropped first, as root). Phase "checkpoint": an engine
// holding about N MiB of live data, one checkpoint written (timed too), then recover() of that
// checkpoint with an empty log after it, warm and cold. Prints a table, or one JSON object per
// measurement with --json; medians over the runs.
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "daemon/checkpoint.h"
#include "daemon/engine.h"
#include "daemon/recovery.h"
#include "daemon/wal_writer.h"

namespace {

using namespace ringdb::daemon;
namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

bool drop_caches() {
  sync();
  FILE* f = fopen("/proc/sys/vm/drop_caches", "w");
  if (f == nullptr) return false;
  const bool ok = fputs("3\n", f) >= 0;
  return fclose(f) == 0 && ok;
}

EngineOptions big_engine() {
  EngineOptions o;
  o.memory_limit_bytes = size_t{16} << 30;
  o.purge_interval = std::chrono::milliseconds(10);
  return o;
}

std::string key_of(uint64_t k) {
  char buf[32];
  snprintf(buf, sizeof buf, "user:%010lu:profile", static_cast<unsigned long>(k));
  return buf;
}

// Writes transactions to a log in `dir` until it holds `bytes`; returns its size.
uint64_t write_log(const std::string& dir, uint64_t bytes, uint64_t* transactions) {
  wal::LogWriterOptions o;
  o.dir = dir;
  o.segment_bytes = uint64_t{64} << 20;
  std::string error;
  auto writer = wal::LogWriter::open(
      o, [](uint32_t, uint64_t, wal::LogStatus, uint64_t) {},
      [](const std::string& reason) {
        fprintf(stderr, "bench_recovery: log failed: %s\n", reason.c_str());
        exit(1);
      },
      &error);
  if (!writer) {
    fprintf(stderr, "bench_recovery: %s\n", error.c_str());
    exit(1);
  }
  std::mt19937_64 rng(42);
  std::string value(1000, 'v');
  uint64_t appended = 0;
  *transactions = 0;
  std::vector<std::string> keys(4);
  while (appended < bytes) {
    const size_t n = 1 + rng() % 4;
    std::vector<wal::Op> ops;
    for (size_t i = 0; i < n; ++i) {
      keys[i] = key_of(rng() % 200'000);
      ops.push_back(
          wal::Op{wal::OpKind::kPut, keys[i], std::string_view(value.data(), 100 + rng() % 800)});
    }
    wal::LogStatus s;
    while ((s = writer->append(++*transactions, ops, 0, wal::LogWriter::kNoNotify)) ==
           wal::LogStatus::kQueueFull) {
      std::this_thread::yield();
    }
    if (s != wal::LogStatus::kOk) {
      fprintf(stderr, "bench_recovery: append: %s\n", wal::log_status_name(s));
      exit(1);
    }
    appended += 32 + n * 12;
    for (const auto& op : ops)
      appended += op.key.size() + op.value.size();
  }
  writer->stop();
  return writer->durable_lsn();
}

struct Figure {
  std::string phase;  // "wal" or "checkpoint"
  std::string cache;  // "warm", "cold", or "" (writing)
  std::string what;   // "recover" or "write"
  double mib = 0;
  double seconds = 0;
  uint64_t items = 0;  // transactions replayed or keys loaded/written
};

Figure recover_into_fresh(const std::string& phase, const std::string& cache,
                          const std::string& checkpoint_dir, const std::string& wal_dir,
                          double mib) {
  Engine engine(big_engine());
  RecoveryReport report;
  std::string error;
  const auto t = std::chrono::steady_clock::now();
  if (!recover(engine, checkpoint_dir, wal_dir, &report, &error)) {
    fprintf(stderr, "bench_recovery: recovery failed: %s\n", error.c_str());
    exit(1);
  }
  const double s = seconds_since(t);
  return Figure{phase, cache, "recover",
                mib,   s,     phase == "wal" ? report.replayed : report.checkpoint.keys};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t wal_mib = 1024, checkpoint_mib = 1024;
  int runs = 3;
  bool json = false;
  std::string base = "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--wal-mib" && i + 1 < argc) {
      wal_mib = strtoull(argv[++i], nullptr, 10);
    } else if (a == "--checkpoint-mib" && i + 1 < argc) {
      checkpoint_mib = strtoull(argv[++i], nullptr, 10);
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, atoi(argv[++i]));
    } else if (a == "--dir" && i + 1 < argc) {
      base = argv[++i];
    } else if (a == "--json") {
      json = true;
    } else {
      fprintf(stderr,
              "usage: bench_recovery [--wal-mib N] [--checkpoint-mib N] [--runs R] [--dir DIR] "
              "[--json]\n");
      return 2;
    }
  }
  std::string root = base + "/ringdb-bench-recovery-XXXXXX";
  if (mkdtemp(root.data()) == nullptr) {
    perror("mkdtemp");
    return 1;
  }
  struct statfs sf;
  const bool tmpfs = statfs(root.c_str(), &sf) == 0 && sf.f_type == 0x01021994;  // TMPFS_MAGIC
  fprintf(stderr, "bench_recovery: files in %s%s\n", root.c_str(),
          tmpfs ? " (tmpfs: cold-cache figures mean nothing there)" : "");
  const bool can_drop = geteuid() == 0;
  if (!can_drop) fprintf(stderr, "bench_recovery: not root: cold-cache runs skipped\n");
  std::vector<Figure> figures;

  if (wal_mib > 0) {
    const std::string dir = root + "/wal-phase";
    const std::string wal_dir = dir + "/wal", ckpt_dir = dir + "/checkpoints";
    fs::create_directories(wal_dir);
    fs::create_directories(ckpt_dir);
    uint64_t transactions = 0;
    const uint64_t bytes = write_log(wal_dir, wal_mib << 20, &transactions);
    const double mib = static_cast<double>(bytes) / (1 << 20);
    fprintf(stderr, "bench_recovery: log of %.0f MiB, %lu transactions\n", mib,
            static_cast<unsigned long>(transactions));
    for (int r = 0; r < runs; ++r) {
      figures.push_back(recover_into_fresh("wal", "warm", ckpt_dir, wal_dir, mib));
      if (can_drop && drop_caches())
        figures.push_back(recover_into_fresh("wal", "cold", ckpt_dir, wal_dir, mib));
    }
    fs::remove_all(dir);
  }

  if (checkpoint_mib > 0) {
    const std::string dir = root + "/checkpoint-phase";
    const std::string wal_dir = dir + "/wal", ckpt_dir = dir + "/checkpoints";
    fs::create_directories(wal_dir);
    double mib = 0;
    {
      Engine engine(big_engine());
      // Live data: distinct keys, 100-900-byte values, until the engine holds about N MiB of
      // keys and values.
      std::mt19937_64 rng(7);
      std::string value(1000, 'c');
      uint64_t data = 0, k = 0;
      while (data < (checkpoint_mib << 20)) {
        std::unique_ptr<Transaction> txn;
        if (engine.begin(TxnMode::kReadWrite, &txn) != Status::kOk) return 1;
        for (int i = 0; i < 1000; ++i, ++k) {
          const std::string key = key_of(k);
          const size_t len = 100 + rng() % 800;
          if (engine.put(*txn, key, std::string_view(value.data(), len)) != Status::kOk) return 1;
          data += key.size() + len;
        }
        if (engine.commit(std::move(txn)) != Status::kOk) return 1;
      }
      wal::LogWriterOptions lo;
      lo.dir = wal_dir;
      std::string error;
      auto log = wal::LogWriter::open(
          lo, [](uint32_t, uint64_t, wal::LogStatus, uint64_t) {}, [](const std::string&) {},
          &error);
      if (!log) {
        fprintf(stderr, "bench_recovery: %s\n", error.c_str());
        return 1;
      }
      for (int r = 0; r < runs; ++r) {
        CheckpointerOptions co;
        co.dir = ckpt_dir;
        co.wal_dir = wal_dir;
        Checkpointer checkpointer(co, &engine, log.get(), [] { return UINT64_MAX; });
        if (!checkpointer.open(&error)) return 1;
        CheckpointResult result;
        const auto t = std::chrono::steady_clock::now();
        if (!checkpointer.run(true, &result, &error)) {
          fprintf(stderr, "bench_recovery: checkpoint: %s\n", error.c_str());
          return 1;
        }
        mib = static_cast<double>(result.file_bytes) / (1 << 20);
        figures.push_back(
            Figure{"checkpoint", "", "write", mib, seconds_since(t), result.info.keys});
      }
      log->stop();
    }
    fprintf(stderr, "bench_recovery: checkpoint of %.0f MiB\n", mib);
    for (int r = 0; r < runs; ++r) {
      figures.push_back(recover_into_fresh("checkpoint", "warm", ckpt_dir, wal_dir, mib));
      if (can_drop && drop_caches())
        figures.push_back(recover_into_fresh("checkpoint", "cold", ckpt_dir, wal_dir, mib));
    }
    fs::remove_all(dir);
  }
  fs::remove_all(root);

  // Medians per (phase, what, cache).
  std::vector<std::tuple<std::string, std::string, std::string>> cases;
  for (const Figure& f : figures) {
    auto c = std::make_tuple(f.phase, f.what, f.cache);
    if (std::find(cases.begin(), cases.end(), c) == cases.end()) cases.push_back(c);
  }
  if (!json) {
    printf("%-11s %-8s %-5s %9s %5s %9s %10s %12s\n", "phase", "what", "cache", "MiB", "runs",
           "seconds", "s/GiB", "items/s");
  }
  for (const auto& [phase, what, cache] : cases) {
    std::vector<double> secs, rates;
    double mib = 0;
    for (const Figure& f : figures) {
      if (f.phase != phase || f.what != what || f.cache != cache) continue;
      secs.push_back(f.seconds);
      rates.push_back(static_cast<double>(f.items) / f.seconds);
      mib = f.mib;
    }
    const double s = median(secs);
    const double per_gib = s / (mib / 1024);
    if (json) {
      printf(
          "{\"system\":\"ringdb\",\"phase\":\"%s\",\"what\":\"%s\",\"cache\":\"%s\","
          "\"mib\":%.1f,\"runs\":%zu,\"seconds\":%.3f,\"seconds_per_gib\":%.3f,"
          "\"items_per_s\":%.0f}\n",
          phase.c_str(), what.c_str(), cache.c_str(), mib, secs.size(), s, per_gib, median(rates));
    } else {
      printf("%-11s %-8s %-5s %9.0f %5zu %9.3f %10.3f %12.0f\n", phase.c_str(), what.c_str(),
             cache.empty() ? "-" : cache.c_str(), mib, secs.size(), s, per_gib, median(rates));
    }
  }
  return 0;
}
