// The figures of one measured system and how they are printed: a human table, or one JSON
// object per line (--json).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "tools/bench/driver.h"
#include "tools/bench/options.h"

namespace ringdb::bench {

struct Result {
  std::string system;  // "ringdb", "shm-floor", "unix-socket", "redis", "lmdb"
  std::string workload;
  int clients = 0;
  int depth = 0;
  int idle_sessions = 0;
  int background_load = 0;  // CPU-bound processes beside the run
  uint32_t value_size_bytes = 0;
  uint32_t keys = 0;
  uint64_t requests = 0;
  uint64_t errors = 0;
  double measured_s = 0;
  double ops_per_s = 0;
  uint64_t p50_ns = 0;
  uint64_t p99_ns = 0;
  uint64_t p999_ns = 0;
  uint64_t max_ns = 0;
  double ctx_switches_per_req_client = 0;
  double ctx_switches_per_req_daemon = 0;
  double daemon_cpu_pct = 0;  // utime + stime of the server side over the window, % of a core
  // ringdbd's worker threads' CPU time per request (< 0: not known: another server)
  double worker_cpu_ns_per_req = -1;
  double daemon_ctx_switches_per_s = 0;
  // commit and counter (printed for them alone): puts per transaction, and where the durable writes
  // went (ringdb's log directory or LMDB's environment; empty if not known) and on what.
  uint32_t keys_per_commit = 0;
  std::string durability;  // "sync", "async", "none"
  // From the daemon's log counters over the whole run (warm-up included): records per
  // group-commit batch and fdatasyncs per logged commit; < 0: not known (LMDB, or no admin
  // socket).
  double batch_records_avg = -1;
  double fsyncs_per_commit = -1;
  std::string data_dir;
  std::string filesystem;
  bool batch = false;  // --batch
  // counter: aborted attempts per commit (< 0: not a counter run, or a baseline).
  double retries_per_commit = -1;
};

// Fills a Result from a run's figures.
Result make_result(const std::string& system, const Options& options, int depth,
                   const RunResult& run);

void print_json(const Result& r, FILE* out);
// The table of all results, then each system's p50 and throughput against the first
// ("ringdb") row.
void print_table(const std::vector<Result>& results, FILE* out);

}  // namespace ringdb::bench
