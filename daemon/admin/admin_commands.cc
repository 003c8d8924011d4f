#include "daemon/admin/admin_commands.h"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <memory>
#include <numeric>

#include "daemon/base/log.h"
#include "daemon/service/worker.h"
#include "sync/clock.h"
#include "sync/latch_stats.h"

namespace ringdb::daemon {
namespace {

using json = nlohmann::ordered_json;

json checkpoint_json(const CheckpointResult& r) {
  const uint64_t now = sync::realtime_ns();
  return json{{"seq", r.info.seq},
              {"path", r.info.path},
              {"wal_lsn", r.info.wal_lsn},
              {"snapshot_csn", r.info.snapshot_csn},
              {"keys", r.info.keys},
              {"data_bytes", r.info.data_bytes},
              {"file_bytes", r.file_bytes},
              {"seconds", r.seconds},
              {"age_seconds",
               now > r.info.created_ns ? static_cast<double>(now - r.info.created_ns) / 1e9 : 0.0},
              {"wal_segments_removed", r.wal_removed.size()},
              {"checkpoints_removed", r.checkpoints_removed.size()}};
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

// Every counter the rate-bearing commands need, read at one moment (not a consistent cut:
// each counter is read once, relaxed).
struct Sample {
  int64_t at_ns = 0;
  std::array<uint64_t, shm::kOpcodeMax + 1> by_opcode{};
  std::array<uint64_t, shm::kWireStatusMax + 1> by_status{};
  std::array<sync::LogHistogram::Counts, shm::kOpcodeMax + 1> latency{};
  struct Worker {
    uint64_t requests = 0, rounds = 0, work_rounds = 0, sleeps = 0, sleep_ns = 0;
  };
  std::vector<Worker> workers;
};

Sample take_sample(const AdminContext& ctx) {
  Sample s;
  s.at_ns = sync::now_ns();
  for (const WorkerStats* w : ctx.server->worker_stats()) {
    for (size_t o = 0; o < s.by_opcode.size(); ++o) {
      s.by_opcode[o] += w->by_opcode[o].load(std::memory_order_relaxed);
      w->latency[o].add_counts(&s.latency[o]);
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

// Rates over the time since the previous request of the same command (or since the daemon
// started): `watch` asks once a second, so its rates are per second.
struct RateWindow {
  Sample last;
  bool have = false;
  // Returns the previous sample (a zero one at the start time the first time) and keeps `now`.
  Sample swap(const Sample& now, int64_t started_ns) {
    Sample previous = have ? last : Sample{};
    if (!have) {
      previous.at_ns = started_ns;
      previous.workers.resize(now.workers.size());
    }
    last = now;
    have = true;
    return previous;
  }
};

double per_second(uint64_t delta, int64_t window_ns) {
  return window_ns <= 0 ? 0.0 : static_cast<double>(delta) * 1e9 / static_cast<double>(window_ns);
}

double us(int64_t ns) {
  return static_cast<double>(ns) / 1e3;
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
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// A key as text a JSON string can hold: printable ASCII as it is, other bytes as \xNN (keys
// are bytes; JSON strings must be UTF-8).
std::string printable(std::string_view key) {
  std::string out;
  for (const char c : key) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f && b != '\\') {
      out.push_back(c);
    } else {
      char hex[5];
      snprintf(hex, sizeof hex, "\\x%02x", b);
      out += hex;
    }
  }
  return out;
}

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
  e.family("ringdb_request_duration_seconds", "summary",
           "Service time inside the daemon by type, sampled (1 request in 16, every logged "
           "commit); quantiles are log2-bucket upper bounds.");
  std::vector<sync::LogHistogram> merged(s.by_opcode.size());
  for (const WorkerStats* w : ctx.server->worker_stats())
    for (size_t o = 0; o < merged.size(); ++o)
      w->latency[o].merge_into(&merged[o]);
  for (size_t o = 0; o < merged.size(); ++o) {
    const std::string type = label("type", shm::opcode_name(static_cast<uint8_t>(o)));
    const sync::HistogramSummary h = merged[o].summary();
    for (const auto& [q, text] : {std::pair{0.5, "0.5"}, std::pair{0.99, "0.99"}}) {
      e.sample("ringdb_request_duration_seconds", type + "," + label("quantile", text),
               static_cast<double>(merged[o].quantile_ns(q)) / 1e9);
    }
    e.sample("ringdb_request_duration_seconds_sum", type, static_cast<double>(h.total_ns) / 1e9);
    e.sample("ringdb_request_duration_seconds_count", type, d(h.count));
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
  e.family("ringdb_wal_sync_duration_seconds", "summary",
           "Each log write + fdatasync, submission to completion; quantiles are log2-bucket upper "
           "bounds.");
  e.sample("ringdb_wal_sync_duration_seconds", label("quantile", "0.5"),
           static_cast<double>(ws.sync_latency.p50_ns) / 1e9);
  e.sample("ringdb_wal_sync_duration_seconds", label("quantile", "0.99"),
           static_cast<double>(ws.sync_latency.p99_ns) / 1e9);
  e.sample("ringdb_wal_sync_duration_seconds_sum", "",
           static_cast<double>(ws.sync_latency.total_ns) / 1e9);
  e.sample("ringdb_wal_sync_duration_seconds_count", "", d(ws.sync_latency.count));
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

std::string metrics_text(const AdminContext& ctx) {
  Exposition e;
  const Sample s = take_sample(ctx);
  metrics_requests(e, ctx, s);
  metrics_workers(e, ctx, s);
  metrics_engine(e, ctx);
  metrics_log(e, ctx);
  metrics_watches(e, ctx);
  metrics_latches(e);
  return e.take();
}

// Requests by type and status, and their rates.
void add_rate_commands(AdminServer* admin, const AdminContext& ctx) {
  admin->add(
      "stats",
      "requests by type and status, rates (since the previous stats request) and service "
      "time percentiles",
      [ctx, window = std::make_shared<RateWindow>()](const json&, json* result, std::string*) {
        const Sample now = take_sample(ctx);
        const Sample before = window->swap(now, ctx.started_ns);
        const int64_t window_ns = now.at_ns - before.at_ns;
        json types = json::array();
        uint64_t total = 0, total_before = 0;
        for (size_t o = 0; o < now.by_opcode.size(); ++o) {
          total += now.by_opcode[o];
          total_before += before.by_opcode[o];
          if (now.by_opcode[o] == 0) continue;
          sync::LogHistogram::Counts delta{};
          for (size_t b = 0; b < delta.size(); ++b)
            delta[b] = now.latency[o][b] - before.latency[o][b];
          types.push_back(
              {{"type", shm::opcode_name(static_cast<uint8_t>(o))},
               {"requests", now.by_opcode[o]},
               {"per_second", per_second(now.by_opcode[o] - before.by_opcode[o], window_ns)},
               {"p50_us", us(sync::LogHistogram::quantile_of(now.latency[o], 0.5))},
               {"p99_us", us(sync::LogHistogram::quantile_of(now.latency[o], 0.99))},
               {"window_p99_us", us(sync::LogHistogram::quantile_of(delta, 0.99))}});
        }
        json statuses = json::array();
        for (size_t st = 0; st < now.by_status.size(); ++st) {
          if (now.by_status[st] == 0) continue;
          statuses.push_back(
              {{"status", shm::wire_status_name(static_cast<shm::WireStatus>(st))},
               {"answers", now.by_status[st]},
               {"per_second", per_second(now.by_status[st] - before.by_status[st], window_ns)}});
        }
        *result = {{"window_seconds", static_cast<double>(window_ns) / 1e9},
                   {"requests", total},
                   {"requests_per_second", per_second(total - total_before, window_ns)},
                   {"by_type", types},
                   {"by_status", statuses},
                   {"latency_note",
                    "service time inside the daemon, sampled (1 request in 16; every logged "
                    "commit); log2 buckets: exact to a factor of 2"}};
        return true;
      });
}

// The workers.
void add_worker_commands(AdminServer* admin, const AdminContext& ctx) {
  admin->add(
      "workers",
      "per worker: core, node, requests, busy share, sleeps, pending-set depth (rates since "
      "the previous workers request)",
      [ctx, window = std::make_shared<RateWindow>()](const json&, json* result, std::string*) {
        const Sample now = take_sample(ctx);
        const Sample before = window->swap(now, ctx.started_ns);
        const int64_t window_ns = now.at_ns - before.at_ns;
        const Placement& p = ctx.server->placement();
        const auto stats = ctx.server->worker_stats();
        const auto depths = ctx.server->pending_depths();
        json rows = json::array();
        for (size_t w = 0; w < now.workers.size(); ++w) {
          const auto& a = now.workers[w];
          const auto& b = before.workers[w];
          const uint64_t rounds = a.rounds - b.rounds;
          rows.push_back(
              {{"worker", w},
               {"core", p.worker_cores[w]},
               {"node", p.worker_nodes[w]},
               {"yields_when_idle", p.workers_share_cpus},
               {"requests", a.requests},
               {"per_second", per_second(a.requests - b.requests, window_ns)},
               {"busy_share", rounds == 0 ? 0.0
                                          : static_cast<double>(a.work_rounds - b.work_rounds) /
                                                static_cast<double>(rounds)},
               {"asleep_share", window_ns <= 0
                                    ? 0.0
                                    : std::min(1.0, static_cast<double>(a.sleep_ns - b.sleep_ns) /
                                                        static_cast<double>(window_ns))},
               {"sleeps", a.sleeps},
               {"pending_depth", depths[w]},
               {"parked_commits", stats[w]->parked_now.load(std::memory_order_relaxed)},
               {"invalid_requests", stats[w]->invalid_requests.load(std::memory_order_relaxed)},
               {"scan_slices", stats[w]->scan_slices.load(std::memory_order_relaxed)},
               {"scans_paused", stats[w]->scans_paused.load(std::memory_order_relaxed)},
               {"slices_stepped_aside",
                stats[w]->slices_stepped_aside.load(std::memory_order_relaxed)},
               {"turns_in_debt", stats[w]->turns_in_debt.load(std::memory_order_relaxed)},
               {"writes_waited", stats[w]->writes_waited.load(std::memory_order_relaxed)}});
        }
        *result = {{"window_seconds", static_cast<double>(window_ns) / 1e9}, {"workers", rows}};
        return true;
      });
}

// Sessions: list, kill, and the watchdog's test hook.
void add_session_commands(AdminServer* admin, const AdminContext& ctx) {
  admin->add(
      "sessions",
      "connected sessions: id, pid, uid, process, age, requests executing, open "
      "transactions and the oldest one's age",
      [ctx](const json&, json* result, std::string*) {
        const int64_t now = sync::coarse_now_ns();
        json rows = json::array();
        for (const Server::SessionRow& s : ctx.server->sessions()) {
          const auto& a = s.activity;
          rows.push_back({{"id", s.id},
                          {"pid", s.peer.pid},
                          {"uid", s.peer.uid},
                          {"process", s.peer.process_name},
                          {"age_seconds", static_cast<double>(now - a.connected_ns) / 1e9},
                          {"executing", a.executing},
                          {"open_transactions", a.open_transactions},
                          {"oldest_transaction_age_seconds",
                           a.oldest_transaction_ns == 0
                               ? json(nullptr)
                               : json(static_cast<double>(now - a.oldest_transaction_ns) / 1e9)}});
        }
        *result = {{"sessions", rows}};
        return true;
      });
  admin->add("watchers",
             "watches (issue 16): session, watch id, key range, keys only, the next log "
             "position it reads, its lag behind the feed (bytes of log), events delivered; and "
             "the feed's totals",
             [ctx](const json&, json* result, std::string*) {
               json rows = json::array();
               for (const WatcherRow& w : ctx.watches->watchers()) {
                 rows.push_back({{"session", w.session},
                                 {"watch", w.watch},
                                 {"start", printable(w.range.start)},
                                 {"end", printable(w.range.end)},
                                 {"prefix", printable(w.range.prefix)},
                                 {"keys_only", w.keys_only},
                                 {"position", w.position},
                                 {"lag_bytes", w.lag_bytes},
                                 {"lagging", w.lagging},
                                 {"events", w.events}});
               }
               const WatchHubStats s = ctx.watches->stats();
               *result = {{"watchers", rows},
                          {"feed",
                           {{"watches", s.watches},
                            {"lagging", s.lagging},
                            {"started", s.started},
                            {"events", s.events},
                            {"event_bytes", s.event_bytes},
                            {"records_read", s.records_read},
                            {"compacted", s.compacted},
                            {"head", s.head},
                            {"gate", s.gate}}}};
               return true;
             });
  admin->add("contention",
             "open transactions whose uncommitted writes turned other writers away (CONFLICT): "
             "session, pid, process, the transaction's age, writers refused, the last key",
             [ctx](const json&, json* result, std::string*) {
               const int64_t now = sync::coarse_now_ns();
               json rows = json::array();
               for (const Server::ContentionRow& r : ctx.server->contention()) {
                 rows.push_back({{"session", r.session},
                                 {"pid", r.peer.pid},
                                 {"uid", r.peer.uid},
                                 {"process", r.peer.process_name},
                                 {"transaction_age_seconds",
                                  static_cast<double>(now - r.transaction_begun_ns) / 1e9},
                                 {"conflicts", r.contention.conflicts},
                                 {"key", printable(r.contention.key)},
                                 {"last_conflict_seconds_ago",
                                  static_cast<double>(now - r.contention.last_ns) / 1e9}});
               }
               *result = {{"holders", rows}};
               return true;
             });

  admin->add("kill-session",
             "args {\"id\": N}: end a session (its open transactions are aborted, its client "
             "sees DISCONNECTED)",
             [ctx](const json& args, json* result, std::string* error) {
               const auto it = args.find("id");
               if (it == args.end() || !it->is_number_unsigned()) {
                 *error = "args.id must be a session id (see sessions)";
                 return false;
               }
               const uint64_t id = it->get<uint64_t>();
               if (!ctx.server->kill_session(id,
                                             "killed by an operator (ringdb-admin "
                                             "kill-session)")) {
                 *error = "no session " + std::to_string(id);
                 return false;
               }
               log(LogLevel::kWarn, "session %lu: killed through the admin socket",
                   static_cast<unsigned long>(id));
               *result = {{"killed", id}};
               return true;
             });

  if (ctx.config->test_hooks != 0) {
    admin->add("test-stall-worker",
               "(--test-hooks) args {\"worker\": N, \"ms\": M}: worker N stops making "
               "progress, awake, for M ms",
               [ctx](const json& args, json* result, std::string* error) {
                 const auto w = args.find("worker");
                 const auto ms = args.find("ms");
                 if (w == args.end() || !w->is_number_unsigned() || ms == args.end() ||
                     !ms->is_number_unsigned() ||
                     !ctx.server->stall_worker_for_test(w->get<size_t>(), ms->get<int64_t>())) {
                   *error = "args.worker (an index) and args.ms are required";
                   return false;
                 }
                 log(LogLevel::kWarn, "test hook: worker %zu stalls for %ld ms", w->get<size_t>(),
                     static_cast<long>(ms->get<int64_t>()));
                 *result = {{"stalled", w->get<size_t>()}};
                 return true;
               });
  }
}

// Prometheus metrics and latch statistics.
void add_export_commands(AdminServer* admin, const AdminContext& ctx) {
  admin->add(
      "metrics", "everything above in Prometheus text format (result.text)",
      [ctx](const json&, json* result, std::string*) {
        *result = {{"content_type", "text/plain; version=0.0.4"}, {"text", metrics_text(ctx)}};
        return true;
      });

  admin->add(
      "latches",
      "args {\"top\": N}: the named latches with the most contention: acquisitions, "
      "contended share, wait p50/p99/max, hold p99",
      [](const json& args, json* result, std::string* error) {
        size_t top = 10;
        if (const auto it = args.find("top"); it != args.end()) {
          if (!it->is_number_unsigned() || it->get<uint64_t>() == 0) {
            *error = "args.top must be a positive integer";
            return false;
          }
          top = static_cast<size_t>(it->get<uint64_t>());
        }
        json rows = json::array();
        for (const sync::LatchStatsSnapshot& l : sync::LatchRegistry::global().top_contended(top)) {
          rows.push_back({{"latch", l.name},
                          {"acquisitions", l.acquisitions},
                          {"contended", l.contended},
                          {"contended_share", l.contended_share()},
                          {"wait_p50_us", us(l.wait.p50_ns)},
                          {"wait_p99_us", us(l.wait.p99_ns)},
                          {"wait_max_us", us(l.wait.max_ns)},
                          {"hold_p99_us", us(l.hold.p99_ns)},
                          {"warnings", l.warnings}});
        }
        *result = {{"latches", rows}};
        return true;
      });
}

// "ok"; "failing: why" when the daemon cannot commit any more; "degraded: why; why" when it
// serves but something needs an operator.
std::string health(const AdminContext& ctx) {
  if (ctx.log->failed()) return "failing: the write-ahead log failed";
  std::string why;
  if (ctx.log->disk_full())
    why = "the disk holding the log is full (writes get DISK_FULL; reads go on)";
  if (const std::string c = ctx.checkpointer->failure(); !c.empty())
    why += (why.empty() ? "" : "; ") + std::string("checkpoints fail: ") + c;
  return why.empty() ? "ok" : "degraded: " + why;
}

// Status and the effective configuration.
void add_status_commands(AdminServer* admin, const AdminContext& ctx) {
  admin->add("status", "version, uptime, workers, sessions, memory, log and checkpoint, health",
             [ctx](const json&, json* result, std::string*) {
               const EngineStats es = ctx.engine->stats();
               const Placement& p = ctx.server->placement();
               const auto worker_stats = ctx.server->worker_stats();
               json workers = json::array();
               for (size_t w = 0; w < p.worker_cores.size(); ++w) {
                 workers.push_back(
                     {{"worker", w},
                      {"core", p.worker_cores[w]},
                      {"node", p.worker_nodes[w]},
                      {"requests", worker_stats[w]->requests.load(std::memory_order_relaxed)}});
               }
               json checkpoint = nullptr;
               if (CheckpointResult last; ctx.checkpointer->last(&last))
                 checkpoint = checkpoint_json(last);
               *result = {
                   {"version", RINGDB_VERSION},
                   {"pid", getpid()},
                   {"uptime_seconds", static_cast<double>(sync::now_ns() - ctx.started_ns) / 1e9},
                   {"data_dir", ctx.config->data_dir},
                   {"socket", ctx.config->socket_path},
                   {"workers", workers},
                   {"sessions", ctx.server->session_count()},
                   {"sessions_max", ctx.config->sessions_max},
                   {"memory_used_bytes", es.memory_used_bytes},
                   {"memory_limit_bytes", es.memory_limit_bytes},
                   {"index_bytes", es.index_bytes},
                   {"keys", es.keys},
                   {"wal_lsn", ctx.log->written_lsn()},
                   {"wal_durable_lsn", ctx.log->durable_lsn()},
                   {"last_checkpoint", checkpoint},
                   {"checkpoint_running", ctx.checkpointer->running()},
                   {"health", health(ctx)}};
               return true;
             });

  admin->add("config", "the effective configuration: every option, written as in the config file",
             [ctx](const json&, json* result, std::string*) {
               // In effect: the cores and the memory limit chosen at start, the log level as
               // last set.
               Config effective = *ctx.config;
               effective.cores = ctx.server->placement().worker_cores;
               effective.log_level = log_level();
               effective.memory_limit_bytes = ctx.engine->stats().memory_limit_bytes;
               *result = json::object();
               for (const ConfigOption& o : config_options())
                 (*result)[o.name] = o.value.print(effective);
               return true;
             });
}

// The log and MVCC.
void add_storage_commands(AdminServer* admin, const AdminContext& ctx) {
  admin->add("wal", "the write-ahead log: LSNs, batches, fdatasyncs, bytes, segments",
             [ctx](const json&, json* result, std::string*) {
               const wal::LogWriterStats s = ctx.log->stats();
               json sizes = json::array();
               for (size_t k = 0; k < s.batch_records_log2.size(); ++k) {
                 if (s.batch_records_log2[k] == 0) continue;
                 sizes.push_back({{"records_from", uint64_t{1} << k},
                                  {"records_to", (uint64_t{2} << k) - 1},
                                  {"batches", s.batch_records_log2[k]}});
               }
               *result = {{"written_lsn", ctx.log->written_lsn()},
                          {"durable_lsn", ctx.log->durable_lsn()},
                          {"batches", s.batches},
                          {"records", s.records},
                          {"bytes", s.bytes},
                          {"fsyncs", s.fsyncs},
                          {"records_per_batch",
                           s.batches == 0
                               ? 0.0
                               : static_cast<double>(s.records) / static_cast<double>(s.batches)},
                          {"batch_sizes", sizes},
                          {"sync_p50_us", us(s.sync_latency.p50_ns)},
                          {"sync_p99_us", us(s.sync_latency.p99_ns)},
                          {"sync_max_us", us(s.sync_latency.max_ns)},
                          {"slow_syncs", s.slow_syncs},
                          {"disk_full_batches", s.disk_full_batches},
                          {"segments_created", s.segments_created},
                          {"segments", count_segments(ctx.wal_dir)},
                          {"segment_bytes", ctx.config->wal_segment_bytes},
                          {"failed", ctx.log->failed()}};
               return true;
             });

  admin->add("mvcc", "read views, history length, purge, transaction counts",
             [ctx](const json&, json* result, std::string*) {
               const EngineStats s = ctx.engine->stats();
               *result = {
                   {"active_views", s.active_views},
                   {"oldest_view_age_seconds", static_cast<double>(s.oldest_view_age_ns) / 1e9},
                   {"history_length", s.history_length},
                   {"purge_idle", s.purge_idle},
                   {"purged_history_entries", s.purge.history_entries},
                   {"purged_versions", s.purge.versions_unlinked},
                   {"purged_chains", s.purge.chains_removed},
                   {"purged_bytes", s.purge.bytes_freed},
                   {"keys", s.keys},
                   {"trx_started", s.trx_started},
                   {"trx_committed", s.trx_committed},
                   {"trx_aborted", s.trx_aborted},
                   {"trx_conflicted", s.trx_conflicted}};
               return true;
             });
}

// Checkpoint now, log level, shutdown.
void add_control_commands(AdminServer* admin, const AdminContext& ctx) {
  admin->add(
      "checkpoint", "write a checkpoint now and report it",
      [ctx](const json&, json* result, std::string* error) {
        CheckpointResult r;
        if (!ctx.checkpointer->run(true, &r, error)) return false;
        *result = checkpoint_json(r);
        return true;
      },
      /*slow=*/true);

  admin->add(
      "backup",
      "args {\"dir\": ABSOLUTE_PATH}: an online, consistent copy of the data into a new directory "
      "(a checkpoint now and the log after it); start ringdbd --data-dir on it to restore",
      [ctx](const json& args, json* result, std::string* error) {
        const auto it = args.find("dir");
        if (it == args.end() || !it->is_string() || it->get<std::string>().empty()) {
          *error = "args.dir must be the backup's directory (an absolute path, not existing)";
          return false;
        }
        BackupResult r;
        if (!ctx.checkpointer->backup(it->get<std::string>(), ctx.config->data_dir + "/csn-epoch",
                                      &r, error)) {
          return false;
        }
        *result = {{"dir", it->get<std::string>()},
                   {"checkpoint_seq", r.checkpoint.seq},
                   {"checkpoint_keys", r.checkpoint.keys},
                   {"log_from", r.checkpoint.wal_lsn},
                   {"log_to", r.log_end},
                   {"segments", r.segments},
                   {"bytes", r.bytes},
                   {"seconds", r.seconds}};
        return true;
      },
      /*slow=*/true);

  admin->add("log-level", "args {\"level\": error|warn|info|debug}: set the log level",
             [](const json& args, json* result, std::string* error) {
               const auto it = args.find("level");
               LogLevel level;
               if (it == args.end() || !it->is_string() ||
                   !parse_log_level(it->get<std::string>().c_str(), &level)) {
                 *error = "args.level must be one of error, warn, info, debug";
                 return false;
               }
               const LogLevel before = log_level();
               set_log_level(level);
               log(LogLevel::kWarn, "log level set to %s through the admin socket",
                   log_level_name(level));
               *result = {{"level", log_level_name(level)}, {"was", log_level_name(before)}};
               return true;
             });

  admin->add("shutdown", "stop gracefully (as SIGTERM does)",
             [](const json&, json* result, std::string* error) {
               log(LogLevel::kWarn, "shutdown requested through the admin socket");
               if (kill(getpid(), SIGTERM) != 0) {
                 *error = std::string("cannot signal the daemon: ") + strerror(errno);
                 return false;
               }
               *result = {{"shutting_down", true}};
               return true;
             });
}

}  // namespace

void add_admin_commands(AdminServer* admin, const AdminContext& ctx) {
  add_rate_commands(admin, ctx);
  add_worker_commands(admin, ctx);
  add_session_commands(admin, ctx);
  add_export_commands(admin, ctx);
  add_status_commands(admin, ctx);
  add_storage_commands(admin, ctx);
  add_control_commands(admin, ctx);
}

}  // namespace ringdb::daemon
