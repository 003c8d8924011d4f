// bench_recovery: how long ringdbd's start takes per GiB of write-ahead log and per GiB of
// checkpoint, through the code ringdbd runs (daemon/durability/recovery.h's recover() into a fresh
// Engine). Issue 5's "recovery time per GB of WAL and per GB of checkpoint".
//
//   bench_recovery [--wal-mib N] [--checkpoint-mib N] [--runs R] [--dir DIR] [--json]
//                  [--warm-only]
//
// Phase "wal": a log of about N MiB written by a real LogWriter (transactions of 1-4 puts,
// 24-byte keys, 100-899-byte values over 200 000 keys), then recover() timed, warm (the page
// cache holds the log) and cold (caches dropped first, as root). Phase "checkpoint": an engine
// holding about N MiB of live data, one checkpoint written (timed too), then recover() of that
// checkpoint with an empty log after it, warm and cold. Beside each, "read": the same files
// read and checked by the same functions (wal::recover, load_checkpoint) with nothing applied,
// so that the engine's share of the time shows. Prints a table, or one JSON object per
// case with --json; medians over the runs. Files go to a new directory under DIR (default
// /tmp), removed at the end; its filesystem is printed, since the figures depend on it.
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

#include "daemon/durability/checkpoint.h"
#include "daemon/durability/recovery.h"
#include "daemon/engine/engine.h"
#include "daemon/wal/writer.h"

namespace {

using namespace ringdb::daemon;
namespace fs = std::filesystem;

constexpr uint64_t kLogKeys = 200'000;  // the log's key space: about 100 MiB live, any log size

std::string g_root;  // the bench's directory, removed on every exit

[[noreturn]] void die(const std::string& why) {
  fprintf(stderr, "bench_recovery: %s\n", why.c_str());
  std::error_code ec;
  if (!g_root.empty()) fs::remove_all(g_root, ec);
  exit(1);
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Empties the page cache (as root); false with `why` if this process may not.
bool drop_caches(std::string* why) {
  sync();
  FILE* f = fopen("/proc/sys/vm/drop_caches", "w");
  if (f == nullptr) {
    *why = std::string("cannot open /proc/sys/vm/drop_caches: ") + strerror(errno);
    return false;
  }
  const bool wrote = fputs("3\n", f) >= 0;
  if (fclose(f) != 0 || !wrote) {
    *why = std::string("cannot write /proc/sys/vm/drop_caches: ") + strerror(errno);
    return false;
  }
  return true;
}

std::string filesystem_of(const std::string& path) {
  struct statfs sf;
  if (statfs(path.c_str(), &sf) != 0) return "unknown";
  switch (static_cast<uint64_t>(sf.f_type)) {
    case 0xEF53:
      return "ext4";  // also ext2/ext3: one magic
    case 0x01021994:
      return "tmpfs";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x794C7630:
      return "overlayfs";
    case 0x2FC12FC1:
      return "zfs";
    case 0x6969:
      return "nfs";
    default: {
      char buf[32];
      snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(sf.f_type));
      return buf;
    }
  }
}

EngineOptions big_engine() {
  EngineOptions o;
  o.memory_limit_bytes = size_t{16} << 30;  // no limit in the way of a 1-GiB checkpoint
  o.purge_interval = std::chrono::milliseconds(10);
  return o;
}

std::string key_of(uint64_t k) {
  char buf[32];
  snprintf(buf, sizeof buf, "user:%010lu:profile", static_cast<unsigned long>(k));
  return buf;
}

struct LogContents {
  uint64_t bytes = 0;  // record bytes (the durable LSN)
  uint64_t transactions = 0;
  uint64_t ops = 0;
};

// Writes transactions to a log in `dir` until it holds about `bytes`.
LogContents write_log(const std::string& dir, uint64_t bytes) {
  wal::LogWriterOptions o;
  o.dir = dir;
  o.segment_bytes = uint64_t{64} << 20;
  std::string error;
  auto writer = wal::LogWriter::open(
      o, {}, [](const std::string& reason) { die("log failed: " + reason); }, &error);
  if (!writer) die(error);
  std::mt19937_64 rng(42);
  const std::string value(1000, 'v');
  LogContents log;
  uint64_t appended = 0;
  std::vector<std::string> keys(4);
  std::vector<wal::Op> ops;
  while (appended < bytes) {
    const size_t n = 1 + rng() % 4;
    ops.clear();
    for (size_t i = 0; i < n; ++i) {
      keys[i] = key_of(rng() % kLogKeys);
      ops.push_back(
          wal::Op{wal::OpKind::kPut, keys[i], std::string_view(value.data(), 100 + rng() % 800)});
    }
    const uint64_t txn = ++log.transactions;
    wal::LogStatus s;
    while ((s = writer->append(txn, ops, 0, wal::LogWriter::kNoNotify)) ==
           wal::LogStatus::kQueueFull) {
      std::this_thread::yield();
    }
    if (s != wal::LogStatus::kOk) die(std::string("append: ") + wal::log_status_name(s));
    log.ops += n;
    appended += 32 + n * 12;  // record and operation headers (padding left out)
    for (const auto& op : ops)
      appended += op.key.size() + op.value.size();
  }
  writer->stop();
  log.bytes = writer->durable_lsn();
  return log;
}

struct Figure {
  std::string phase;  // "wal" or "checkpoint"
  std::string what;   // "recover", "read" (its reading and checking alone) or "write"
  std::string cache;  // "warm", "cold", or "" (writing)
  double mib = 0;
  double seconds = 0;
  uint64_t items = 0;  // transactions replayed, or keys loaded or written
  uint64_t ops = 0;    // puts replayed (wal), keys (checkpoint)
};

Figure recover_into_fresh(const std::string& phase, const std::string& cache,
                          const std::string& checkpoint_dir, const std::string& wal_dir, double mib,
                          uint64_t ops) {
  Engine engine(big_engine());
  RecoveryReport report;
  std::string error;
  const auto t = std::chrono::steady_clock::now();
  if (!recover(engine, checkpoint_dir, wal_dir, &report, &error)) die("recovery failed: " + error);
  const double s = seconds_since(t);
  const uint64_t items = phase == "wal" ? report.replayed : report.checkpoint.keys;
  return Figure{phase, "recover", cache, mib, s, items, phase == "wal" ? ops : items};
}

// The baseline in the same run: what recover() reads and checks (every segment scanned and
// every record's checksum, or the checkpoint's checksum, bounds and order), with nothing
// applied to an engine.
Figure read_only(const std::string& phase, const std::string& cache,
                 const std::string& checkpoint_dir, const std::string& wal_dir, double mib,
                 uint64_t ops) {
  std::string error;
  uint64_t items = 0;
  const auto t = std::chrono::steady_clock::now();
  if (phase == "wal") {
    wal::RecoveryResult result;
    if (!wal::recover(
            wal_dir, wal::RecoveryOptions{.dry_run = true},
            [](const wal::Record&, std::string*) { return true; }, &result, &error)) {
      die("reading the log: " + error);
    }
    items = result.records;
  } else {
    std::vector<CheckpointInfo> found;
    if (!list_checkpoints(checkpoint_dir, &found, &error) || found.empty())
      die("no checkpoint to read: " + error);
    const EngineOptions limits = big_engine();
    CheckpointInfo info;
    if (!load_checkpoint(
            found.front().path, {limits.key_size_max, limits.value_size_max},
            [](std::string_view, std::string_view, std::string*) { return true; }, &info, &error)) {
      die("reading the checkpoint: " + error);
    }
    items = info.keys;
  }
  const double s = seconds_since(t);
  return Figure{phase, "read", cache, mib, s, items, phase == "wal" ? ops : items};
}

// Cold runs need the page cache dropped; says once why they are skipped if it cannot be.
class ColdCache {
 public:
  explicit ColdCache(bool wanted) : usable_(wanted) {}
  bool drop() {
    if (!usable_) return false;
    std::string why;
    if (drop_caches(&why)) return true;
    usable_ = false;
    fprintf(stderr, "bench_recovery: cold-cache runs skipped: %s\n", why.c_str());
    return false;
  }

 private:
  bool usable_;
};

void run_wal_phase(const std::string& root, uint64_t mib_wanted, int runs, ColdCache& cold,
                   std::vector<Figure>* figures) {
  const std::string dir = root + "/wal-phase";
  const std::string wal_dir = dir + "/wal", ckpt_dir = dir + "/checkpoints";
  fs::create_directories(wal_dir);
  fs::create_directories(ckpt_dir);
  const LogContents log = write_log(wal_dir, mib_wanted << 20);
  const double mib = static_cast<double>(log.bytes) / (1 << 20);
  fprintf(stderr, "bench_recovery: log of %.0f MiB, %lu transactions, %lu puts\n", mib,
          static_cast<unsigned long>(log.transactions), static_cast<unsigned long>(log.ops));
  for (int r = 0; r < runs; ++r) {
    figures->push_back(read_only("wal", "warm", ckpt_dir, wal_dir, mib, log.ops));
    figures->push_back(recover_into_fresh("wal", "warm", ckpt_dir, wal_dir, mib, log.ops));
    if (cold.drop()) figures->push_back(read_only("wal", "cold", ckpt_dir, wal_dir, mib, log.ops));
    if (cold.drop())
      figures->push_back(recover_into_fresh("wal", "cold", ckpt_dir, wal_dir, mib, log.ops));
  }
  fs::remove_all(dir);
}

// Fills `engine` with distinct keys and 100-899-byte values until it holds about `bytes` of
// keys and values.
void fill(Engine& engine, uint64_t bytes) {
  std::mt19937_64 rng(7);
  const std::string value(1000, 'c');
  uint64_t data = 0, k = 0;
  while (data < bytes) {
    std::unique_ptr<Transaction> txn;
    if (engine.begin(TxnMode::kReadWrite, &txn) != Status::kOk) die("begin failed");
    for (int i = 0; i < 1000; ++i, ++k) {
      const std::string key = key_of(k);
      const size_t len = 100 + rng() % 800;
      const Status s = engine.put(*txn, key, std::string_view(value.data(), len));
      if (s != Status::kOk) die(std::string("put: ") + status_name(s));
      data += key.size() + len;
    }
    if (engine.commit(std::move(txn)) != Status::kOk) die("commit failed");
  }
}

void run_checkpoint_phase(const std::string& root, uint64_t mib_wanted, int runs, ColdCache& cold,
                          std::vector<Figure>* figures) {
  const std::string dir = root + "/checkpoint-phase";
  const std::string wal_dir = dir + "/wal", ckpt_dir = dir + "/checkpoints";
  fs::create_directories(wal_dir);
  double mib = 0;
  {
    Engine engine(big_engine());
    fill(engine, mib_wanted << 20);
    wal::LogWriterOptions lo;
    lo.dir = wal_dir;
    std::string error;
    auto log = wal::LogWriter::open(
        lo, {}, [](const std::string& reason) { die("log failed: " + reason); }, &error);
    if (!log) die(error);
    // Each run writes a new checkpoint of the same data (two are kept; the newest is loaded).
    for (int r = 0; r < runs; ++r) {
      CheckpointerOptions co;
      co.dir = ckpt_dir;
      co.wal_dir = wal_dir;
      Checkpointer checkpointer(co, &engine, log.get(), [] { return UINT64_MAX; });
      if (!checkpointer.open(&error)) die(error);
      CheckpointResult result;
      const auto t = std::chrono::steady_clock::now();
      if (!checkpointer.run(true, &result, &error)) die("checkpoint: " + error);
      mib = static_cast<double>(result.file_bytes) / (1 << 20);
      figures->push_back(Figure{"checkpoint", "write", "", mib, seconds_since(t), result.info.keys,
                                result.info.keys});
    }
    log->stop();
  }
  fprintf(stderr, "bench_recovery: checkpoint of %.0f MiB\n", mib);
  // The checkpoint's writer drops its pages from the page cache as it goes (WriteBehind): one
  // read first, not counted, so that "warm" runs find the file cached as they say.
  read_only("checkpoint", "warm", ckpt_dir, wal_dir, mib, 0);
  for (int r = 0; r < runs; ++r) {
    figures->push_back(read_only("checkpoint", "warm", ckpt_dir, wal_dir, mib, 0));
    figures->push_back(recover_into_fresh("checkpoint", "warm", ckpt_dir, wal_dir, mib, 0));
    if (cold.drop()) figures->push_back(read_only("checkpoint", "cold", ckpt_dir, wal_dir, mib, 0));
    if (cold.drop())
      figures->push_back(recover_into_fresh("checkpoint", "cold", ckpt_dir, wal_dir, mib, 0));
  }
  fs::remove_all(dir);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Medians per (phase, what, cache), as a table or JSON lines.
void print(const std::vector<Figure>& figures, const std::string& filesystem, bool json) {
  std::vector<std::tuple<std::string, std::string, std::string>> cases;
  for (const Figure& f : figures) {
    auto c = std::make_tuple(f.phase, f.what, f.cache);
    if (std::find(cases.begin(), cases.end(), c) == cases.end()) cases.push_back(c);
  }
  if (!json) {
    printf("%-10s %-7s %-5s %7s %4s %8s %7s %7s %-12s %10s %10s\n", "phase", "what", "cache", "MiB",
           "runs", "seconds", "s/GiB", "MiB/s", "items", "items/s", "puts/s");
  }
  for (const auto& [phase, what, cache] : cases) {
    std::vector<double> secs, rates, op_rates;
    double mib = 0;
    for (const Figure& f : figures) {
      if (f.phase != phase || f.what != what || f.cache != cache) continue;
      secs.push_back(f.seconds);
      rates.push_back(static_cast<double>(f.items) / f.seconds);
      op_rates.push_back(static_cast<double>(f.ops) / f.seconds);
      mib = f.mib;
    }
    const double s = median(secs);
    const char* item = phase == "wal" ? "transactions" : "keys";
    if (json) {
      std::string each;  // every run's seconds, in order
      for (const double x : secs) {
        char buf[32];
        snprintf(buf, sizeof buf, "%s%.3f", each.empty() ? "" : ",", x);
        each += buf;
      }
      printf(
          "{\"system\":\"ringdb\",\"phase\":\"%s\",\"what\":\"%s\",\"cache\":\"%s\","
          "\"fs\":\"%s\",\"mib\":%.1f,\"runs\":%zu,\"seconds\":%.3f,\"seconds_per_gib\":%.3f,"
          "\"mib_per_s\":%.1f,\"items\":\"%s\",\"items_per_s\":%.0f,\"puts_per_s\":%.0f,"
          "\"seconds_each\":[%s]}\n",
          phase.c_str(), what.c_str(), cache.c_str(), filesystem.c_str(), mib, secs.size(), s,
          s / (mib / 1024), mib / s, item, median(rates), median(op_rates), each.c_str());
    } else {
      printf("%-10s %-7s %-5s %7.0f %4zu %8.3f %7.3f %7.1f %-12s %10.0f %10.0f\n", phase.c_str(),
             what.c_str(), cache.empty() ? "-" : cache.c_str(), mib, secs.size(), s,
             s / (mib / 1024), mib / s, item, median(rates), median(op_rates));
    }
  }
}

constexpr const char* kUsage =
    "usage: bench_recovery [--wal-mib N] [--checkpoint-mib N] [--runs R] [--dir DIR] [--json]\n"
    "                      [--warm-only]\n"
    "  --wal-mib N         log size for the log phase (default 1024; 0 skips the phase)\n"
    "  --checkpoint-mib N  live data for the checkpoint phase (default 1024; 0 skips it)\n"
    "  --runs R            timed runs of each case, medians reported (default 3)\n"
    "  --dir DIR           the files go to a new directory under DIR (default /tmp)\n"
    "  --json              one JSON object per case instead of a table\n"
    "  --warm-only         no cold-cache runs (they drop the whole machine's page cache)\n"
    "  (--wal-mb and --checkpoint-mb are accepted for --wal-mib and --checkpoint-mib)\n";

}  // namespace

int main(int argc, char** argv) {
  uint64_t wal_mib = 1024, checkpoint_mib = 1024;
  int runs = 3;
  bool json = false, warm_only = false;
  std::string base = "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if ((a == "--wal-mib" || a == "--wal-mb") && has_value) {
      wal_mib = strtoull(argv[++i], nullptr, 10);
    } else if ((a == "--checkpoint-mib" || a == "--checkpoint-mb") && has_value) {
      checkpoint_mib = strtoull(argv[++i], nullptr, 10);
    } else if (a == "--runs" && has_value) {
      runs = std::max(1, atoi(argv[++i]));
    } else if (a == "--dir" && has_value) {
      base = argv[++i];
    } else if (a == "--json") {
      json = true;
    } else if (a == "--warm-only") {
      warm_only = true;
    } else if (a == "--help" || a == "-h") {
      fputs(kUsage, stdout);
      return 0;
    } else {
      fputs(kUsage, stderr);
      return 2;
    }
  }
  std::string root = base + "/ringdb-bench-recovery-XXXXXX";
  if (mkdtemp(root.data()) == nullptr) {
    fprintf(stderr, "bench_recovery: mkdtemp under %s: %s\n", base.c_str(), strerror(errno));
    return 1;
  }
  g_root = root;
  const std::string filesystem = filesystem_of(root);
  fprintf(stderr, "bench_recovery: files in %s (%s)%s\n", root.c_str(), filesystem.c_str(),
          filesystem == "tmpfs" ? ": cold-cache figures mean nothing there" : "");
  ColdCache cold(!warm_only);
  std::vector<Figure> figures;
  if (wal_mib > 0) run_wal_phase(root, wal_mib, runs, cold, &figures);
  if (checkpoint_mib > 0) run_checkpoint_phase(root, checkpoint_mib, runs, cold, &figures);
  fs::remove_all(root);
  print(figures, filesystem, json);
  return 0;
}
