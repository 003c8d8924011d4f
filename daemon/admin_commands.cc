#include "daemon/admin_commands.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <numeric>

#include "daemon/log.h"
#include "sync/latch_stats.h"

#ifndef RINGDB_VERSION
#define RINGDB_VERSION "unknown"
#endif

namespace ringdb::daemon {
namespace {

using json = nlohmann::ordered_json;

uint64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

json checkpoint_json(const CheckpointResult& r) {
  const uint64_t now = realtime_ns();
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
    const std::string name = e.path().filename().string();
    if (name.rfind("wal-", 0) == 0 && name.size() > 4 && name.substr(name.size() - 4) == ".log")
      ++n;
  }
  return n;
}

std::string join_ids(const std::vector<uint32_t>& ids) {
  std::string out;
  for (uint32_t id : ids) {
    if (!out.empty()) out.push_back(',');
    out += std::to_string(id);
  }
  return out;
}

}  // namespace

void add_admin_commands(AdminServer* admin, const AdminContext& ctx) {
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
               const bool log_failed = ctx.log->failed();
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
                   {"wal_durable_lsn", ctx.log->durable_lsn()},
                   {"last_checkpoint", checkpoint},
                   {"checkpoint_running", ctx.checkpointer->running()},
                   {"health", log_failed ? "failing: the write-ahead log failed" : "ok"}};
               return true;
             });

  admin->add("config", "the effective configuration",
             [ctx](const json&, json* result, std::string*) {
               const Config& c = *ctx.config;
               std::vector<uint32_t> users(c.allow_users.begin(), c.allow_users.end());
               std::vector<uint32_t> groups(c.allow_groups.begin(), c.allow_groups.end());
               std::vector<uint32_t> admin_users(c.admin_users.begin(), c.admin_users.end());
               std::vector<uint32_t> admin_groups(c.admin_groups.begin(), c.admin_groups.end());
               std::vector<uint32_t> cores(ctx.server->placement().worker_cores.begin(),
                                           ctx.server->placement().worker_cores.end());
               *result = {{"data-dir", c.data_dir},
                          {"socket", c.socket_path},
                          {"admin-socket", c.admin_socket_path},
                          {"socket-mode", c.socket_mode},
                          {"cores", join_ids(cores)},
                          {"allow-users", join_ids(users)},
                          {"allow-groups", join_ids(groups)},
                          {"admin-users", join_ids(admin_users)},
                          {"admin-groups", join_ids(admin_groups)},
                          {"admin-idle-timeout-ms", c.admin_idle_timeout_ms},
                          {"sessions-max", c.sessions_max},
                          {"inflight-max", c.inflight_max},
                          {"ring-slots", c.ring_slots},
                          {"context-size", c.context_size},
                          {"request-area", c.request_area_bytes},
                          {"response-area", c.response_area_bytes},
                          {"transactions-max", c.transactions_max},
                          {"key-size-max", c.key_size_max},
                          {"value-size-max", c.value_size_max},
                          {"memory-limit", c.memory_limit_bytes},
                          {"wal-segment-size", c.wal_segment_bytes},
                          {"wal-async-flush-ms", c.wal_async_flush_ms},
                          {"checkpoint-interval-ms", c.checkpoint_interval_ms},
                          {"checkpoint-wal-bytes", c.checkpoint_wal_bytes},
                          {"spin-us", c.spin_us},
                          {"log-level", log_level_name(log_level())}};
               return true;
             });

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
               *result = {{"durable_lsn", ctx.log->durable_lsn()},
                          {"batches", s.batches},
                          {"records", s.records},
                          {"bytes", s.bytes},
                          {"fsyncs", s.fsyncs},
                          {"records_per_batch",
                           s.batches == 0
                               ? 0.0
                               : static_cast<double>(s.records) / static_cast<double>(s.batches)},
                          {"batch_sizes", sizes},
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

  admin->add(
      "checkpoint", "write a checkpoint now and report it",
      [ctx](const json&, json* result, std::string* error) {
        CheckpointResult r;
        if (!ctx.checkpointer->run(true, &r, error)) return false;
        *result = checkpoint_json(r);
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

}  // namespace ringdb::daemon
