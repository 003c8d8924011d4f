#include "daemon/admin/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <utility>

#include "daemon/service/worker.h"
#include "sync/clock.h"

namespace ringdb::daemon {
namespace {

// Nanoseconds as seconds, exactly and without trailing zeros: 0.000000255, 34.359738367.
std::string seconds_text(int64_t ns) {
  char text[32];
  snprintf(text, sizeof text, "%ld.%09ld", static_cast<long>(ns / 1'000'000'000),
           static_cast<long>(ns % 1'000'000'000));
  std::string out = text;
  while (out.back() == '0')
    out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out;
}

// Prometheus text exposition (version 0.0.4): every family with HELP and TYPE, names
// ringdb_* with base units (seconds, bytes) and _total on counters.
class Exposition {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(const std::string& name, const std::string& labels, double value) {
    char v[64];
    snprintf(v, sizeof v, "%.17g", value);
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += ' ';
    out_ += v;
    out_ += '\n';
  }
  void one(const char* name, const char* type, const char* help, double value) {
    family(name, type, help);
    sample(name, "", value);
  }
  // A histogram's series from log2 bucket counts (bucket b holds durations up to 2^b - 1
  // ns): cumulative buckets from 255 ns to 34 s (the same bounds in every scrape, so that
  // series aggregate across daemons and hosts), +Inf, _sum and _count.
  void histogram(const std::string& name, const std::string& labels,
                 const sync::LogHistogram::Counts& counts, int64_t total_ns) {
    constexpr size_t kFirst = 8, kLast = 35;
    const std::string prefix = labels.empty() ? "" : labels + ",";
    uint64_t cumulative = 0;
    for (size_t b = 0; b < counts.size(); ++b) {
      cumulative += counts[b];
      if (b < kFirst || b > kLast) continue;
      sample(name + "_bucket", prefix + "le=\"" + seconds_text((int64_t{1} << b) - 1) + "\"",
             static_cast<double>(cumulative));
    }
    sample(name + "_bucket", prefix + "le=\"+Inf\"", static_cast<double>(cumulative));
    sample(name + "_sum", labels, static_cast<double>(total_ns) / 1e9);
    sample(name + "_count", labels, static_cast<double>(cumulative));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string label(const char* key, const std::string& value) {
  return std::string(key) + "=\"" + value + "\"";  // values here need no escaping
}

double d(uint64_t v) {
  return static_cast<double>(v);
}

// The daemon, its sessions and requests: counts by type and status, service times.
void metrics_requests(Exposition& e, const AdminContext& ctx, const Sample& s) {
  e.one("ringdb_up", "gauge", "1 while the daemon serves and its log works, else 0.",
        ctx.log->failed() ? 0 : 1);
  e.one("ringdb_uptime_seconds", "gauge", "Seconds since the daemon started.",
        static_cast<double>(s.at_ns - ctx.started_ns) / 1e9);
  e.one("ringdb_sessions", "gauge", "Client sessions connected.", d(ctx.server->session_count()));
  e.one("ringdb_sessions_max", "gauge", "The session limit (--sessions-max).",
        d(ctx.config->sessions_max));
  e.family("ringdb_requests_total", "counter", "Requests served, by type.");
  for (size_t o = 0; o < s.by_opcode.size(); ++o)
    e.sample("ringdb_requests_total", label("type", shm::opcode_name(static_cast<uint8_t>(o))),
             d(s.by_opcode[o]));
  e.family("ringdb_answers_total", "counter", "Answers sent, by status.");
  for (size_t st = 0; st < s.by_status.size(); ++st)
    e.sample("ringdb_answers_total",
             label("status", shm::wire_status_name(static_cast<shm::WireStatus>(st))),
             d(s.by_status[st]));
  e.family("ringdb_request_duration_seconds", "histogram",
           "Service time inside the daemon by type, sampled (1 request in 16, every logged "
           "commit); log2 buckets.");
  for (size_t o = 0; o < s.by_opcode.size(); ++o) {
    e.histogram("ringdb_request_duration_seconds",
                label("type", shm::opcode_name(static_cast<uint8_t>(o))), s.latency[o],
                s.latency_total_ns[o]);
  }
}

// Each worker.
void metrics_workers(Exposition& e, const AdminContext& ctx, const Sample& s) {
  const Placement& p = ctx.server->placement();
  const auto stats = ctx.server->worker_stats();
  const auto depths = ctx.server->pending_depths();
  auto worker_label = [&](size_t w) {
    return label("worker", std::to_string(w)) + "," +
           label("core", std::to_string(p.worker_cores[w]));
  };
  e.family("ringdb_worker_requests_total", "counter", "Requests served by each worker.");
  for (size_t w = 0; w < s.workers.size(); ++w)
    e.sample("ringdb_worker_requests_total", worker_label(w), d(s.workers[w].requests));
  e.family("ringdb_worker_sleeps_total", "counter", "Times each worker slept on its doorbell.");
  for (size_t w = 0; w < s.workers.size(); ++w)
    e.sample("ringdb_worker_sleeps_total", worker_label(w), d(s.workers[w].sleeps));
  e.family("ringdb_worker_asleep_seconds_total", "counter", "Time each worker spent asleep.");
  for (size_t w = 0; w < s.workers.size(); ++w)
    e.sample("ringdb_worker_asleep_seconds_total", worker_label(w),
             static_cast<double>(s.workers[w].sleep_ns) / 1e9);
  e.family("ringdb_worker_pending_completions", "gauge",
           "Log completions posted to each worker's pending set and not yet drained.");
  for (size_t w = 0; w < s.workers.size(); ++w)
    e.sample("ringdb_worker_pending_completions", worker_label(w), d(depths[w]));
  e.family("ringdb_worker_parked_commits", "gauge",
           "Commits each worker holds while their log records are written.");
  for (size_t w = 0; w < s.workers.size(); ++w)
    e.sample("ringdb_worker_parked_commits", worker_label(w),
             d(stats[w]->parked_now.load(std::memory_order_relaxed)));
}

// The engine: memory, keys, MVCC, transactions.
void metrics_engine(Exposition& e, const AdminContext& ctx) {
  const EngineStats es = ctx.engine->stats();
  e.one("ringdb_memory_used_bytes", "gauge", "Memory held by stored data.",
        d(es.memory_used_bytes));
  e.one("ringdb_index_bytes", "gauge", "Memory held by the index's nodes and long keys.",
        d(es.index_bytes));
  e.one("ringdb_memory_limit_bytes", "gauge", "The memory limit (--memory-limit).",
        d(es.memory_limit_bytes));
  e.one("ringdb_keys", "gauge", "Index entries (live keys and deleted ones not purged yet).",
        d(es.keys));
  e.one("ringdb_mvcc_active_views", "gauge", "Read views open.", d(es.active_views));
  e.one("ringdb_mvcc_oldest_view_age_seconds", "gauge", "Age of the oldest open read view.",
        static_cast<double>(es.oldest_view_age_ns) / 1e9);
  e.one("ringdb_mvcc_history_length", "gauge",
        "Committed transactions whose old versions purge has not trimmed yet.",
        d(es.history_length));
  e.one("ringdb_mvcc_purged_versions_total", "counter", "Old versions purge removed.",
        d(es.purge.versions_unlinked));
  e.one("ringdb_mvcc_purged_bytes_total", "counter", "Bytes purge freed.", d(es.purge.bytes_freed));
  e.one("ringdb_transactions_started_total", "counter", "Read-write transactions started.",
        d(es.trx_started));
  e.family("ringdb_transactions_ended_total", "counter", "Transactions ended, by outcome.");
  e.sample("ringdb_transactions_ended_total", label("outcome", "committed"), d(es.trx_committed));
  e.sample("ringdb_transactions_ended_total", label("outcome", "aborted"), d(es.trx_aborted));
  e.one("ringdb_transaction_conflicts_total", "counter", "Write-write conflicts.",
        d(es.trx_conflicted));
}

// Watches (issue 16): the feed's totals and the largest lag.
void metrics_watches(Exposition& e, const AdminContext& ctx) {
  const WatchHubStats s = ctx.watches->stats();
  uint64_t lag_max = 0;
  for (const WatcherRow& w : ctx.watches->watchers())
    lag_max = std::max(lag_max, w.lag_bytes);
  e.one("ringdb_watches", "gauge", "Watches open now.", d(s.watches));
  e.one("ringdb_watches_lagging", "gauge",
        "Watches behind the feed (their ring was full, or they resumed from an older position).",
        d(s.lagging));
  e.one("ringdb_watch_lag_max_bytes", "gauge",
        "The largest lag of a watch behind the feed, in bytes of log.", d(lag_max));
  e.one("ringdb_watches_started_total", "counter", "Watches started.", d(s.started));
  e.one("ringdb_watch_events_total", "counter", "Watch events delivered.", d(s.events));
  e.one("ringdb_watch_event_bytes_total", "counter", "Bytes of watch events delivered.",
        d(s.event_bytes));
  e.one("ringdb_watch_records_read_total", "counter", "Log records the feed read at its head.",
        d(s.records_read));
  e.one("ringdb_watches_compacted_total", "counter",
        "Watches ended because the log no longer held their next record.", d(s.compacted));
}

// The write-ahead log and checkpoints.
void metrics_log(Exposition& e, const AdminContext& ctx) {
  const wal::LogWriterStats ws = ctx.log->stats();
  e.one("ringdb_wal_durable_bytes", "gauge",
        "The durable LSN: bytes of log written and synced since the log began.",
        d(ctx.log->durable_lsn()));
  e.one("ringdb_wal_batches_total", "counter", "Group-commit batches written.", d(ws.batches));
  e.one("ringdb_wal_records_total", "counter", "Log records (commits) written.", d(ws.records));
  e.one("ringdb_wal_written_bytes_total", "counter", "Log bytes written.", d(ws.bytes));
  e.one("ringdb_wal_fsyncs_total", "counter", "fdatasyncs of the log.", d(ws.fsyncs));
  e.family("ringdb_wal_sync_duration_seconds", "histogram",
           "Each log write + fdatasync, submission to completion; log2 buckets.");
  e.histogram("ringdb_wal_sync_duration_seconds", "", ws.sync_counts, ws.sync_latency.total_ns);
  e.one("ringdb_wal_disk_full_batches_total", "counter",
        "Batches that failed for lack of space (their commits got DISK_FULL).",
        d(ws.disk_full_batches));
  e.one("ringdb_wal_segments", "gauge", "Log segment files on disk.",
        d(count_segments(ctx.wal_dir)));
  e.one("ringdb_wal_disk_full", "gauge",
        "1 while the disk holding the log is full (commits get DISK_FULL), else 0.",
        ctx.log->disk_full() ? 1 : 0);
  e.one("ringdb_wal_failed", "gauge", "1 once the log failed for good (the daemon exits), else 0.",
        ctx.log->failed() ? 1 : 0);
  e.one("ringdb_checkpoint_failing", "gauge", "1 if the latest checkpoint attempt failed, else 0.",
        ctx.checkpointer->failure().empty() ? 0 : 1);
  e.one("ringdb_checkpoints_total", "counter", "Checkpoints published since start.",
        d(ctx.checkpointer->completed()));
  if (CheckpointResult last; ctx.checkpointer->last(&last)) {
    e.one("ringdb_checkpoint_last_duration_seconds", "gauge", "How long the last checkpoint took.",
          last.seconds);
    e.one("ringdb_checkpoint_last_size_bytes", "gauge", "Size of the last checkpoint file.",
          d(last.file_bytes));
    e.one("ringdb_checkpoint_last_timestamp_seconds", "gauge",
          "When the last checkpoint was taken (Unix time).",
          static_cast<double>(last.info.created_ns) / 1e9);
  }
}

// Latch classes.
void metrics_latches(Exposition& e) {
  const auto latches = sync::LatchRegistry::global().snapshot();
  e.family("ringdb_latch_acquisitions_total", "counter", "Latch acquisitions, by latch class.");
  for (const auto& l : latches)
    e.sample("ringdb_latch_acquisitions_total", label("latch", l.name), d(l.acquisitions));
  e.family("ringdb_latch_contended_total", "counter",
           "Acquisitions that had to wait, by latch class.");
  for (const auto& l : latches)
    e.sample("ringdb_latch_contended_total", label("latch", l.name), d(l.contended));
  e.family("ringdb_latch_wait_seconds_total", "counter",
           "Time spent waiting for latches, by latch class.");
  for (const auto& l : latches)
    e.sample("ringdb_latch_wait_seconds_total", label("latch", l.name),
             static_cast<double>(l.wait.total_ns) / 1e9);
}

// The process, as Prometheus's client libraries name it (process_*).
void metrics_process(Exposition& e, const AdminContext& ctx) {
  rusage usage = {};
  getrusage(RUSAGE_SELF, &usage);
  const auto cpu = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  e.one("process_cpu_seconds_total", "counter", "User and system CPU time spent.",
        cpu(usage.ru_utime) + cpu(usage.ru_stime));
  uint64_t pages_virtual = 0, pages_resident = 0;
  if (std::ifstream statm("/proc/self/statm"); statm >> pages_virtual >> pages_resident) {
    const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    e.one("process_virtual_memory_bytes", "gauge", "Virtual memory size.", d(pages_virtual * page));
    e.one("process_resident_memory_bytes", "gauge", "Resident memory size.",
          d(pages_resident * page));
  }
  size_t fds = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  e.one("process_open_fds", "gauge", "Open file descriptors.", d(fds));
  if (rlimit nofile = {}; getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    e.one("process_max_fds", "gauge", "The limit on open file descriptors.", d(nofile.rlim_cur));
  }
  const int64_t up_ns = sync::now_ns() - ctx.started_ns;
  e.one("process_start_time_seconds", "gauge", "When the process started (Unix time).",
        static_cast<double>(static_cast<int64_t>(sync::realtime_ns()) - up_ns) / 1e9);
}

}  // namespace

Sample take_sample(const AdminContext& ctx) {
  Sample s;
  s.at_ns = sync::now_ns();
  for (const WorkerStats* w : ctx.server->worker_stats()) {
    for (size_t o = 0; o < s.by_opcode.size(); ++o) {
      s.by_opcode[o] += w->by_opcode[o].load(std::memory_order_relaxed);
      w->latency[o].add_counts(&s.latency[o]);
      s.latency_total_ns[o] += w->latency[o].total_ns();
    }
    for (size_t st = 0; st < s.by_status.size(); ++st)
      s.by_status[st] += w->by_status[st].load(std::memory_order_relaxed);
    s.workers.push_back(
        {w->requests.load(std::memory_order_relaxed), w->rounds.load(std::memory_order_relaxed),
         w->work_rounds.load(std::memory_order_relaxed), w->sleeps.load(std::memory_order_relaxed),
         w->sleep_ns.load(std::memory_order_relaxed)});
  }
  return s;
}

size_t count_segments(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    uint64_t start_lsn;
    if (wal::parse_segment_file_name(e.path().filename().string(), &start_lsn)) ++n;
  }
  return n;
}

std::string metrics_text(const AdminContext& ctx) {
  Exposition e;
  e.family("ringdb_build_info", "gauge", "1, labelled with the daemon's version and protocol.");
  e.sample("ringdb_build_info",
           label("version", RINGDB_VERSION) + "," +
               label("protocol", std::to_string(shm::kProtocolVersion)),
           1);
  const Sample s = take_sample(ctx);
  metrics_requests(e, ctx, s);
  metrics_workers(e, ctx, s);
  metrics_engine(e, ctx);
  metrics_log(e, ctx);
  metrics_watches(e, ctx);
  metrics_latches(e);
  metrics_process(e, ctx);
  return e.take();
}

}  // namespace ringdb::daemon
