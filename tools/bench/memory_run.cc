// ringdb-bench memory: see memory_run.h.
#include "tools/bench/memory_run.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <time.h>

#include <nlohmann/json.hpp>

#include "tools/bench/redis_client.h"
#include "tools/bench/ringdb_load.h"
#include "tools/bench/server_process.h"
#include "tools/bench/wal_counters.h"

namespace ringdb::bench {
namespace {

// RssAnon of `pid` in bytes, or 0 if /proc says nothing.
uint64_t rss_anon_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssAnon:", 0) != 0) continue;
    std::istringstream fields(line.substr(8));
    uint64_t kib = 0;
    fields >> kib;
    return kib * 1024;
  }
  return 0;
}

// Purge trims the history the load left (one entry per put): resident memory is read once it
// has nothing left to do, so that both servers are measured at rest.
bool wait_for_purge(const std::string& admin_socket, std::string* error) {
  for (int attempt = 0; attempt < 600; ++attempt) {  // 60 s at most
    nlohmann::json mvcc;
    if (!admin_result(admin_socket, "mvcc", &mvcc, error)) return false;
    if (mvcc.value("purge_idle", false) && mvcc.value("history_length", uint64_t{1}) == 0)
      return true;
    // A benchmark tool waiting for a daemon to settle: polling is fine here.
    struct timespec pause = {0, 100'000'000};
    nanosleep(&pause, nullptr);
  }
  *error = "purge did not finish within 60 s after the load";
  return false;
}

}  // namespace

double MemoryFigures::rss_per_key() const {
  if (keys == 0 || rss_anon_after < rss_anon_before) return 0;
  return static_cast<double>(rss_anon_after - rss_anon_before) / static_cast<double>(keys);
}

bool measure_ringdb_memory(const Options& o, const char* argv0, MemoryFigures* out,
                           std::string* error) {
  ServerProcess daemon;
  if (!daemon.start_ringdbd(o, argv0, error)) return false;
  out->system = "ringdb";
  out->keys = o.keys;
  out->value_bytes = o.value_size_bytes;
  out->rss_anon_before = rss_anon_bytes(daemon.pid());
  if (!preload_ringdb(daemon.socket_path(), o, error)) return false;
  if (!wait_for_purge(daemon.admin_socket_path(), error)) return false;
  out->rss_anon_after = rss_anon_bytes(daemon.pid());
  nlohmann::json status;
  if (!admin_result(daemon.admin_socket_path(), "status", &status, error)) return false;
  out->stored_bytes = status.value("memory_used_bytes", uint64_t{0});
  out->index_bytes = status.value("index_bytes", uint64_t{0});
  return true;
}

bool measure_redis_memory(const Options& o, MemoryFigures* out, std::string* error) {
  ServerProcess redis;
  Options unpersisted = o;  // memory for the data, not for an append-only file's buffers
  unpersisted.durability = ringdb::Durability::kNone;
  if (!start_redis_where_ringdbd_runs(unpersisted, &redis, error)) return false;
  out->system = "redis";
  out->keys = o.keys;
  out->value_bytes = o.value_size_bytes;
  out->rss_anon_before = rss_anon_bytes(redis.pid());
  if (!preload_redis(redis.socket_path(), o, error)) return false;
  out->rss_anon_after = rss_anon_bytes(redis.pid());
  return true;
}

void print_memory(const MemoryFigures& f, bool json) {
  if (json) {
    const nlohmann::json line = {{"workload", "memory"},
                                 {"system", f.system},
                                 {"keys", f.keys},
                                 {"value_bytes", f.value_bytes},
                                 {"rss_anon_before_bytes", f.rss_anon_before},
                                 {"rss_anon_after_bytes", f.rss_anon_after},
                                 {"rss_anon_per_key_bytes", f.rss_per_key()},
                                 {"stored_bytes", f.stored_bytes},
                                 {"index_bytes", f.index_bytes}};
    std::printf("%s\n", line.dump().c_str());
    return;
  }
  std::printf(
      "%-8s %10llu keys of %llu-byte values: resident (anonymous) %.1f MiB -> %.1f MiB, "
      "%.1f bytes per key",
      f.system.c_str(), static_cast<unsigned long long>(f.keys),
      static_cast<unsigned long long>(f.value_bytes),
      static_cast<double>(f.rss_anon_before) / 1048576.0,
      static_cast<double>(f.rss_anon_after) / 1048576.0, f.rss_per_key());
  if (f.system == "ringdb" && f.keys > 0) {
    std::printf(" (own account per key: %.1f stored, %.1f index)",
                static_cast<double>(f.stored_bytes) / static_cast<double>(f.keys),
                static_cast<double>(f.index_bytes) / static_cast<double>(f.keys));
  }
  std::printf("\n");
}

}  // namespace ringdb::bench
