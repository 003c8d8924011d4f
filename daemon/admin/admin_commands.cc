#include "daemon/admin/admin_commands.h"

#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <numeric>

#include "daemon/admin/metrics.h"
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

double us(int64_t ns) {
  return static_cast<double>(ns) / 1e3;
}

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

// A log2 bucket's upper bound (a quantile) in µs, to two significant digits: the bucket is
// only exact to a factor of 2, so 4194303 ns reads 4200, not 4194.303.
double bound_us(int64_t ns) {
  const double us = static_cast<double>(ns) / 1e3;
  if (us <= 0) return 0;
  // A whole power of ten either way, so that 9.2 comes out as the double nearest 9.2.
  const double exponent = std::floor(std::log10(us)) - 1;
  const double scale = std::pow(10.0, std::fabs(exponent));
  return exponent < 0 ? std::round(us * scale) / scale : std::round(us / scale) * scale;
}

// A percentile as bound_us() gives it, or null with no samples (not a false 0).
json percentile_us(uint64_t samples, int64_t ns) {
  return samples == 0 ? json(nullptr) : json(bound_us(ns));
}

// The same for a summary, never above its (exact) maximum.
json percentile_us(const sync::HistogramSummary& h, int64_t ns) {
  return h.count == 0 ? json(nullptr) : json(std::min(bound_us(ns), us(h.max_ns)));
}

json max_us(const sync::HistogramSummary& h) {
  return h.count == 0 ? json(nullptr) : json(us(h.max_ns));
}

// Requests by type and status: counters since start, and service-time percentiles.
void add_rate_commands(AdminServer* admin, const AdminContext& ctx) {
  admin->add(
      "stats",
      "args {\"buckets\": true} optional: requests by type and status since start and "
      "service-time percentiles (null: no samples); counters only, rates are the caller's "
      "(two readings and their uptime_seconds), so callers never disturb each other",
      [ctx](const json& args, json* result, std::string*) {
        bool buckets = false;
        if (const auto it = args.find("buckets"); it != args.end()) {
          if (!it->is_boolean()) {
            throw BadArgs("buckets must be true or false");
          }
          buckets = it->get<bool>();
        }
        const Sample now = take_sample(ctx);
        json types = json::array();
        uint64_t total = 0;
        for (size_t o = 0; o < now.by_opcode.size(); ++o) {
          total += now.by_opcode[o];
          if (now.by_opcode[o] == 0) continue;
          const auto& counts = now.latency[o];
          const uint64_t sampled = std::accumulate(counts.begin(), counts.end(), uint64_t{0});
          const auto quantile = [&](double q) {
            return percentile_us(sampled, sync::LogHistogram::quantile_of(counts, q));
          };
          json row = {{"type", shm::opcode_name(static_cast<uint8_t>(o))},
                      {"requests", now.by_opcode[o]},
                      {"sampled", sampled},
                      {"p50_us", quantile(0.5)},
                      {"p99_us", quantile(0.99)}};
          if (buckets) row["latency_log2_ns"] = counts;  // [b]: samples up to 2^b - 1 ns
          types.push_back(std::move(row));
        }
        json statuses = json::array();
        for (size_t st = 0; st < now.by_status.size(); ++st) {
          if (now.by_status[st] == 0) continue;
          statuses.push_back({{"status", shm::wire_status_name(static_cast<shm::WireStatus>(st))},
                              {"answers", now.by_status[st]}});
        }
        *result = {{"uptime_seconds", static_cast<double>(now.at_ns - ctx.started_ns) / 1e9},
                   {"requests", total},
                   {"by_type", types},
                   {"by_status", statuses},
                   {"latency_note",
                    "service time inside the daemon since start, sampled (1 request in 16; "
                    "every logged commit); log2 buckets: upper bounds, exact to a factor of 2"}};
        return true;
      });
}

// The workers.
void add_worker_commands(AdminServer* admin, const AdminContext& ctx) {
  admin->add(
      "workers",
      "per worker since start: core, node, requests, busy share, time asleep, sleeps, "
      "pending-set depth",
      [ctx](const json&, json* result, std::string*) {
        const Sample now = take_sample(ctx);
        const Placement& p = ctx.server->placement();
        const auto stats = ctx.server->worker_stats();
        const auto depths = ctx.server->pending_depths();
        json rows = json::array();
        for (size_t w = 0; w < now.workers.size(); ++w) {
          const auto& a = now.workers[w];
          rows.push_back(
              {{"worker", w},
               {"core", p.worker_cores[w]},
               {"node", p.worker_nodes[w]},
               {"yields_when_idle", p.workers_share_cpus},
               {"requests", a.requests},
               {"busy_share",
                a.rounds == 0 ? 0.0
                              : static_cast<double>(a.work_rounds) / static_cast<double>(a.rounds)},
               {"asleep_seconds", static_cast<double>(a.sleep_ns) / 1e9},
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
        *result = {{"uptime_seconds", static_cast<double>(now.at_ns - ctx.started_ns) / 1e9},
                   {"workers", rows}};
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
                 throw BadArgs("id must be a session id (see sessions)");
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
               [ctx](const json& args, json* result, std::string*) {
                 const auto w = args.find("worker");
                 const auto ms = args.find("ms");
                 if (w == args.end() || !w->is_number_unsigned() || ms == args.end() ||
                     !ms->is_number_unsigned() ||
                     !ctx.server->stall_worker_for_test(w->get<size_t>(), ms->get<int64_t>())) {
                   throw BadArgs("worker (an index) and ms are required");
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
      [](const json& args, json* result, std::string*) {
        size_t top = 10;
        if (const auto it = args.find("top"); it != args.end()) {
          if (!it->is_number_unsigned() || it->get<uint64_t>() == 0) {
            throw BadArgs("top must be a positive integer");
          }
          top = static_cast<size_t>(it->get<uint64_t>());
        }
        json rows = json::array();
        for (const sync::LatchStatsSnapshot& l : sync::LatchRegistry::global().top_contended(top)) {
          rows.push_back({{"latch", l.name},
                          {"acquisitions", l.acquisitions},
                          {"contended", l.contended},
                          {"contended_share", l.contended_share()},
                          {"wait_p50_us", percentile_us(l.wait, l.wait.p50_ns)},
                          {"wait_p99_us", percentile_us(l.wait, l.wait.p99_ns)},
                          {"wait_max_us", max_us(l.wait)},
                          {"hold_p99_us", percentile_us(l.hold, l.hold.p99_ns)},
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
                          {"sync_p50_us", percentile_us(s.sync_latency, s.sync_latency.p50_ns)},
                          {"sync_p99_us", percentile_us(s.sync_latency, s.sync_latency.p99_ns)},
                          {"sync_max_us", max_us(s.sync_latency)},
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
          throw BadArgs("dir must be the backup's directory (an absolute path, not existing)");
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
             [](const json& args, json* result, std::string*) {
               const auto it = args.find("level");
               LogLevel level;
               if (it == args.end() || !it->is_string() ||
                   !parse_log_level(it->get<std::string>().c_str(), &level)) {
                 throw BadArgs("the level must be one of error, warn, info, debug");
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
