// Printing results: the human table with ratios, and JSON lines.
#include "tools/bench/report.h"

namespace ringdb::bench {
namespace {

double per_request(uint64_t count, uint64_t requests) {
  return requests > 0 ? static_cast<double>(count) / static_cast<double>(requests) : 0;
}

// "1.23 us" style for a nanosecond figure.
std::string duration(uint64_t ns) {
  char buf[32];
  if (ns < 10000) {
    std::snprintf(buf, sizeof buf, "%llu ns", static_cast<unsigned long long>(ns));
  } else if (ns < 10000000) {
    std::snprintf(buf, sizeof buf, "%.1f us", static_cast<double>(ns) / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(ns) / 1e6);
  }
  return buf;
}

// The text between a JSON string's quotes (paths and mount sources are printable, but a path
// may hold a quote or a backslash).
std::string json_escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Result make_result(const std::string& system, const Options& options, int depth,
                   const RunResult& run) {
  Result r;
  r.system = system;
  r.workload = workload_name(options.workload);
  r.clients = options.workload == Workload::kIdle ? 0 : options.clients;
  r.depth = depth;
  r.idle_sessions = system == "ringdb" ? options.idle_sessions : 0;
  r.background_load = options.background_load;
  r.value_size_bytes = options.value_size_bytes;
  r.keys = options.keys;
  r.keys_per_commit = options.workload == Workload::kCommit ? options.keys_per_commit : 0;
  r.durability = options.durability == ringdb::Durability::kAsync  ? "async"
                 : options.durability == ringdb::Durability::kNone ? "none"
                                                                   : "sync";
  r.requests = run.histogram.count;
  r.errors = run.errors;
  r.batch = options.batch;
  if (options.workload == Workload::kCounter && r.requests > 0) {
    r.retries_per_commit = static_cast<double>(run.retries) / static_cast<double>(r.requests);
  }
  r.measured_s = run.measured_s;
  r.ops_per_s = run.ops_per_s();
  r.p50_ns = run.histogram.quantile_ns(0.5);
  r.p99_ns = run.histogram.quantile_ns(0.99);
  r.p999_ns = run.histogram.quantile_ns(0.999);
  r.max_ns = run.histogram.max_ns;
  r.ctx_switches_per_req_client = per_request(run.client_switches, r.requests);
  r.ctx_switches_per_req_daemon = per_request(run.server_switches, r.requests);
  r.daemon_cpu_pct =
      run.measured_s > 0 ? static_cast<double>(run.server_cpu_ns) / 1e7 / run.measured_s : 0;
  r.daemon_ctx_switches_per_s =
      run.measured_s > 0 ? static_cast<double>(run.server_switches) / run.measured_s : 0;
  if (run.worker_cpu_ns > 0 && r.requests > 0) {
    r.worker_cpu_ns_per_req =
        static_cast<double>(run.worker_cpu_ns) / static_cast<double>(r.requests);
  }
  return r;
}

void print_json(const Result& r, FILE* out) {
  std::fprintf(out,
               "{\"system\":\"%s\",\"workload\":\"%s\",\"clients\":%d,\"depth\":%d,"
               "\"idle_sessions\":%d,\"value_size\":%u,\"keys\":%u,\"requests\":%llu,"
               "\"errors\":%llu,\"duration_s\":%.3f,\"ops_per_s\":%.1f,\"p50_ns\":%llu,"
               "\"p99_ns\":%llu,\"p999_ns\":%llu,\"max_ns\":%llu,"
               "\"ctx_switches_per_req_client\":%.6f,\"ctx_switches_per_req_daemon\":%.6f,"
               "\"daemon_cpu_pct\":%.2f,\"daemon_ctx_switches_per_s\":%.1f,"
               "\"background_load\":%d",
               r.system.c_str(), r.workload.c_str(), r.clients, r.depth, r.idle_sessions,
               r.value_size_bytes, r.keys, static_cast<unsigned long long>(r.requests),
               static_cast<unsigned long long>(r.errors), r.measured_s, r.ops_per_s,
               static_cast<unsigned long long>(r.p50_ns), static_cast<unsigned long long>(r.p99_ns),
               static_cast<unsigned long long>(r.p999_ns),
               static_cast<unsigned long long>(r.max_ns), r.ctx_switches_per_req_client,
               r.ctx_switches_per_req_daemon, r.daemon_cpu_pct, r.daemon_ctx_switches_per_s,
               r.background_load);
  if (r.worker_cpu_ns_per_req >= 0) {
    std::fprintf(out, ",\"worker_cpu_ns_per_req\":%.1f", r.worker_cpu_ns_per_req);
  } else {
    std::fprintf(out, ",\"worker_cpu_ns_per_req\":null");
  }
  if (r.workload == "put" || r.workload == "mixed") {
    std::fprintf(out, ",\"durability\":\"%s\"", r.durability.c_str());
  }
  if (r.workload == "commit" || r.workload == "counter") {
    std::fprintf(out, ",\"keys_per_commit\":%u,\"data_dir\":\"%s\",\"filesystem\":\"%s\"",
                 r.keys_per_commit, json_escaped(r.data_dir).c_str(),
                 json_escaped(r.filesystem).c_str());
    std::fprintf(out, ",\"batch\":%s", r.batch ? "true" : "false");
    if (r.retries_per_commit >= 0) {
      std::fprintf(out, ",\"retries_per_commit\":%.3f", r.retries_per_commit);
    }
    std::fprintf(out, ",\"durability\":\"%s\"", r.durability.c_str());
    if (r.batch_records_avg >= 0) {
      std::fprintf(out, ",\"batch_records_avg\":%.2f,\"fsyncs_per_commit\":%.4f",
                   r.batch_records_avg, r.fsyncs_per_commit);
    } else {
      std::fprintf(out, ",\"batch_records_avg\":null,\"fsyncs_per_commit\":null");
    }
  }
  std::fprintf(out, "}\n");
  std::fflush(out);
}

void print_table(const std::vector<Result>& results, FILE* out) {
  if (results.empty()) return;
  const Result& first = results.front();
  std::fprintf(
      out,
      "workload %s, %d client(s), value %u bytes, %u keys, idle sessions %d, "
      "background load %d%s%s\n",
      first.workload.c_str(), first.clients, first.value_size_bytes, first.keys,
      first.idle_sessions, first.background_load,
      first.workload == "put" || first.workload == "mixed" ? ", durability " : "",
      first.workload == "put" || first.workload == "mixed" ? first.durability.c_str() : "");
  std::fprintf(out, "%-12s %5s %12s %10s %10s %10s %10s %9s %9s %8s %6s\n", "system", "depth",
               "ops/s", "p50", "p99", "p99.9", "max", "csw/req", "csw/req", "server", "errors");
  std::fprintf(out, "%-12s %5s %12s %10s %10s %10s %10s %9s %9s %8s %6s\n", "", "", "", "", "", "",
               "", "client", "server", "CPU %", "");
  for (const Result& r : results) {
    std::fprintf(
        out, "%-12s %5d %12.0f %10s %10s %10s %10s %9.4f %9.4f %8.1f %6llu\n", r.system.c_str(),
        r.depth, r.ops_per_s, duration(r.p50_ns).c_str(), duration(r.p99_ns).c_str(),
        duration(r.p999_ns).c_str(), duration(r.max_ns).c_str(), r.ctx_switches_per_req_client,
        r.ctx_switches_per_req_daemon, r.daemon_cpu_pct, static_cast<unsigned long long>(r.errors));
  }
  if (first.workload == "counter") {
    std::fprintf(out, "one key incremented by every client (%s); ops/s are commits per second\n",
                 first.batch ? "compare-and-set batches" : "transactions");
    for (const Result& r : results) {
      if (r.retries_per_commit >= 0) {
        std::fprintf(out, "%s: %.2f aborted attempts per commit, %llu increments gave up\n",
                     r.system.c_str(), r.retries_per_commit,
                     static_cast<unsigned long long>(r.errors));
      }
    }
  }
  if (first.workload == "commit" || first.workload == "counter") {
    if (first.workload == "commit") {
      std::fprintf(out, "%u put(s) per commit%s; ops/s are durable commits per second\n",
                   first.keys_per_commit, first.batch ? ", one batch request each" : "");
    }
    for (const Result& r : results) {
      std::fprintf(out, "%s wrote to %s (%s)\n", r.system.c_str(),
                   r.data_dir.empty() ? "a directory not known here" : r.data_dir.c_str(),
                   r.filesystem.c_str());
      if (r.batch_records_avg >= 0) {
        std::fprintf(out,
                     "%s: durability %s, %.1f commits per log batch, %.4f fdatasyncs per "
                     "commit (whole run)\n",
                     r.system.c_str(), r.durability.c_str(), r.batch_records_avg,
                     r.fsyncs_per_commit);
      }
    }
  }
  if (first.workload == "idle") {
    std::fprintf(out, "idle daemon: %.2f%% of a core, %.1f context switches/s\n",
                 first.daemon_cpu_pct, first.daemon_ctx_switches_per_s);
  }
  for (size_t i = 1; i < results.size(); ++i) {
    const Result& r = results[i];
    if (first.p50_ns == 0 || r.ops_per_s == 0) continue;
    double p50_ratio = static_cast<double>(first.p50_ns) / static_cast<double>(r.p50_ns);
    std::fprintf(out, "%s against %s: p50 %s vs %s (%.2fx %s), throughput %.2fx\n",
                 first.system.c_str(), r.system.c_str(), duration(first.p50_ns).c_str(),
                 duration(r.p50_ns).c_str(), p50_ratio >= 1 ? p50_ratio : 1 / p50_ratio,
                 p50_ratio >= 1 ? "higher" : "lower", first.ops_per_s / r.ops_per_s);
  }
}

}  // namespace ringdb::bench
