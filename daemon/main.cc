// ringdbd: the ringdb daemon. Configuration: daemon/service/config.h (`ringdbd --help`); what it
// runs: daemon/service/server.h. Exit codes: 0 after a graceful shutdown, 1 when it cannot start,
// 2 on a usage error; a fatal internal error aborts (non-zero, with a core dump).
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "daemon/admin/admin_commands.h"
#include "daemon/admin/admin_server.h"
#include "daemon/base/dir_lock.h"
#include "daemon/base/file_util.h"
#include "daemon/base/log.h"
#include "daemon/base/memory_limits.h"
#include "daemon/durability/checkpoint.h"
#include "daemon/durability/csn_epoch.h"
#include "daemon/durability/recovery.h"
#include "daemon/engine/engine.h"
#include "daemon/service/config.h"
#include "daemon/service/placement.h"
#include "daemon/service/server.h"
#include "daemon/wal/writer.h"
#include "shm/bus_guard.h"
#include "shm/wire.h"
#include "sync/latch_stats.h"

using namespace ringdb::daemon;

namespace {

// Slow-latch warnings (sync/latch_stats.h, already rate-limited per latch class) in the
// daemon's log format. Must not take a latch that carries statistics: log() does not.
void latch_warning(const ringdb::sync::LatchWarning& w) {
  log(LogLevel::kWarn, "latch %.*s: a %s of %ld us (over %ld us); %lu similar warnings suppressed",
      static_cast<int>(w.latch.size()), w.latch.data(),
      w.kind == ringdb::sync::LatchWarning::Kind::kWait ? "wait" : "hold",
      static_cast<long>(w.duration_ns / 1000), static_cast<long>(w.threshold_ns / 1000),
      static_cast<unsigned long>(w.suppressed_since_last));
}

// Test-only fault injection (docs/OPERATIONS.md): RINGDB_FAULT_INJECT=fsync-fail-after:N puts
// the faulty twin of the log's disk in place of the real one (daemon/wal/log_io.h), so that
// the log's (N+1)th fdatasync reports EIO; fsync-delay-us:N makes the disk slow. Logged
// loudly; never set in production.
// nullptr: no injection (or a variable not understood, which is logged and ignored).
std::unique_ptr<ringdb::daemon::wal::LogIo> fault_injection() {
  using ringdb::daemon::wal::FaultyLogIo;
  using ringdb::daemon::wal::UringLogIo;
  const char* spec = getenv("RINGDB_FAULT_INJECT");
  if (spec == nullptr || *spec == '\0') return nullptr;
  std::string error;
  auto real = UringLogIo::open(&error);
  if (!real) return nullptr;  // the writer opens its own and reports the same error
  auto faulty = FaultyLogIo::from_spec(spec, std::move(real), &error);
  if (!faulty) {
    log(LogLevel::kError, "RINGDB_FAULT_INJECT=%s; ignored", error.c_str());
    return nullptr;
  }
  log(LogLevel::kWarn,
      "FAULT INJECTION ENABLED (RINGDB_FAULT_INJECT=%s): the log's fdatasyncs "
      "will fail or be slow as it says. For tests only.",
      spec);
  return faulty;
}

std::string join(const std::vector<int>& v) {
  std::string out;
  for (int x : v) {
    if (!out.empty()) out.push_back(',');
    out.append(std::to_string(x));
  }
  return out;
}

int cannot_start(const std::string& why) {
  log(LogLevel::kError, "cannot start: %s", why.c_str());
  return 1;
}

// Process-wide settings, before any thread starts.
void prepare_process(const Config& config) {
  set_log_level(config.log_level);
  ringdb::sync::set_latch_warning_sink(&latch_warning);
  install_terminate_handler();
  ringdb::shm::BusGuard::install();
  // SIGTERM and SIGINT are read from a signalfd by the control thread; blocked here, before
  // any thread starts, so that every thread inherits the mask. SIGPIPE: sends use
  // MSG_NOSIGNAL, and a dead client must never kill the daemon.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Which cores the workers and the housekeeping threads get; pins this thread (and so the
// threads it starts) to the housekeeping ones.
bool place_threads(const Config& config, Placement* placement, std::string* error) {
  const int ring_count = std::min<int>(get_nprocs_conf(), ringdb::shm::kRingsMax);
  if (!plan_placement(config.cores, ring_count, placement, error)) return false;
  // Housekeeping first: threads started from here on (purge) inherit this mask; workers
  // pin themselves to their cores.
  if (!pin_current_thread(placement->housekeeping_cpus)) {
    log(LogLevel::kWarn, "cannot pin housekeeping threads: %s", strerror(errno));
  }
  for (size_t w = 0; w < placement->worker_cores.size(); ++w) {
    log(LogLevel::kInfo, "worker %zu: core %d, NUMA node %d%s", w, placement->worker_cores[w],
        placement->worker_nodes[w],
        placement->numa ? " (rings placed on it with mbind MPOL_PREFERRED; worker state by "
                          "first touch)"
                        : " (no NUMA: libnuma unavailable)");
  }
  log(LogLevel::kInfo, "housekeeping threads on cores %s",
      join(placement->housekeeping_cpus).c_str());
  return true;
}

std::string parent_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// The folders of the sockets and of the data, made if missing, must be ours (or root's) and
// writable by no one else: otherwise another user could put a socket of theirs where clients
// look for the daemon's, or files into its log.
bool check_folders(const Config& config, std::string* error) {
  const std::pair<std::string, unsigned> folders[] = {{parent_of(config.socket_path), 0755},
                                                      {parent_of(config.admin_socket_path), 0755},
                                                      {config.data_dir, 0700}};
  for (const auto& [dir, mode] : folders) {
    if (!make_dirs(dir, mode, error) || !trusted_dir(dir, error)) return false;
  }
  return true;
}

double mib(uint64_t bytes) {
  return static_cast<double>(bytes) / (1 << 20);
}

// The memory for stored data (--memory-limit). auto: half of what the process may use (its
// cgroup's limit, else physical memory; daemon/base/memory_limits.h) after an allowance for
// the daemon's own needs: 64 MiB (code, thread stacks, checkpoint and recovery buffers,
// io_uring), the log's queue, and 128 KiB per possible session (its rings, contexts and
// answers, as the daemon touches them). The other half is for what the limit does not count:
// index nodes, old versions kept for snapshots, the allocator's overhead. So writes meet
// OUT_OF_MEMORY before the kernel's OOM killer meets the daemon. The choice is logged.
uint64_t memory_limit(const Config& config) {
  const MemoryAvailable available = memory_available();
  const uint64_t allowance = (uint64_t{64} << 20) + wal::LogWriterOptions{}.queue_bytes_max +
                             uint64_t{config.sessions_max} * (128 << 10);
  if (config.memory_limit_bytes != 0) {
    if (config.memory_limit_bytes + allowance > available.bytes) {
      log(LogLevel::kWarn,
          "--memory-limit %.1f MiB and the daemon's own %.1f MiB are more than the %.1f MiB "
          "this process may use (%s): the kernel may kill it before writes get OUT_OF_MEMORY",
          mib(config.memory_limit_bytes), mib(allowance), mib(available.bytes),
          available.source.c_str());
    }
    return config.memory_limit_bytes;
  }
  const uint64_t limit = std::max<uint64_t>(
      uint64_t{8} << 20, available.bytes > allowance ? (available.bytes - allowance) / 2 : 0);
  log(LogLevel::kInfo,
      "memory limit for stored data: %.1f MiB (--memory-limit auto: %.1f MiB may be used, the "
      "%s; less %.1f MiB for the daemon itself (%u sessions, the log's queue); half of the rest, "
      "the other half for indexes and old versions)",
      mib(limit), mib(available.bytes), available.source.c_str(), mib(allowance),
      config.sessions_max);
  return limit;
}

EngineOptions engine_options(const Config& config, const Placement& placement) {
  EngineOptions options;
  options.key_size_max = config.key_size_max;
  options.value_size_max = config.value_size_max;
  options.memory_limit_bytes = memory_limit(config);
  // Every session may hold a view per worker (autocommit reads) plus its transactions.
  options.views_max = config.sessions_max * (static_cast<uint32_t>(placement.worker_cores.size()) +
                                             config.transactions_max) +
                      64;
  return options;
}

struct DataDirs {
  std::string wal;
  std::string checkpoints;
};

// Recovery: the newest valid checkpoint and the log after it (daemon/durability/recovery.h),
// reported in the daemon's log.
bool recover_data(Engine& engine, const Config& config, const DataDirs& dirs,
                  RecoveryReport* recovered, std::string* error) {
  for (const std::string& dir : {dirs.wal, dirs.checkpoints}) {
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      *error = "cannot create " + dir + ": " + strerror(errno);
      return false;
    }
  }
  const wal::RecoveryMode mode =
      config.wal_point_in_time ? wal::RecoveryMode::kPointInTime : wal::RecoveryMode::kStrict;
  if (mode == wal::RecoveryMode::kPointInTime) {
    log(LogLevel::kWarn,
        "recovery: --wal-recovery=point-in-time: damage in the log, if any, is cut off with "
        "everything after it (copied to %s/set-aside/ first)",
        dirs.wal.c_str());
  }
  const wal::RecoveryResult& wal_result = recovered->log;
  if (!recover(engine, dirs.checkpoints, dirs.wal, recovered, error, {}, mode)) {
    if (wal_result.end == wal::LogEnd::kDamaged) {
      *error = "the write-ahead log is damaged: " + *error +
               ". Nothing was changed; ringdbd does not start, so that nothing is lost. Check "
               "the data directory with `ringdb-admin verify " +
               config.data_dir + "`. To start from the last consistent point (LSN " +
               std::to_string(wal_result.damage.lsn) +
               "), losing what follows it: copy the data directory somewhere safe, then start "
               "ringdbd once with --wal-recovery=point-in-time (docs/OPERATIONS.md)";
    } else {
      *error = "recovery failed: " + *error;
    }
    return false;
  }
  for (const std::string& why : recovered->unusable_checkpoints)
    log(LogLevel::kWarn, "recovery: checkpoint not usable, an older one is used: %s", why.c_str());
  if (const CheckpointInfo& c = recovered->checkpoint; c.seq != 0) {
    log(LogLevel::kInfo,
        "recovery: checkpoint %lu loaded (%lu keys, %lu bytes, replay from LSN %lu) in %.3f s",
        static_cast<unsigned long>(c.seq), static_cast<unsigned long>(c.keys),
        static_cast<unsigned long>(c.data_bytes), static_cast<unsigned long>(c.wal_lsn),
        recovered->checkpoint_seconds);
  }
  for (const std::string& f : wal_result.removed)
    log(LogLevel::kWarn, "recovery: removed %s: a log segment with no record, left by a crash",
        f.c_str());
  if (wal_result.end == wal::LogEnd::kTornTail) {
    log(LogLevel::kWarn,
        "recovery: the log's last write was cut short by a crash (it was never acknowledged): "
        "%lu bytes cleared at %s (a copy: %s)",
        static_cast<unsigned long>(wal_result.cleared_bytes),
        wal::describe_damage(wal_result.damage).c_str(),
        wal_result.set_aside.empty() ? "none" : wal_result.set_aside.front().c_str());
  } else if (wal_result.end == wal::LogEnd::kDamaged) {
    std::string files;
    for (const std::string& f : wal_result.set_aside)
      files += " " + f;
    log(LogLevel::kError,
        "recovery: --wal-recovery=point-in-time: the log was damaged at %s. Recovered to LSN "
        "%lu, the last consistent point; %lu bytes cleared; set aside:%s",
        wal::describe_damage(wal_result.damage).c_str(),
        static_cast<unsigned long>(wal_result.damage.lsn),
        static_cast<unsigned long>(wal_result.cleared_bytes),
        files.empty() ? " nothing" : files.c_str());
  }
  log(LogLevel::kInfo,
      "recovery: %lu transactions replayed (%lu log records already in the checkpoint) from "
      "%lu log segments, LSN %lu to %lu (%s end), in %.3f s (%.3f s in all)",
      static_cast<unsigned long>(recovered->replayed),
      static_cast<unsigned long>(recovered->in_checkpoint),
      static_cast<unsigned long>(wal_result.segments),
      static_cast<unsigned long>(wal_result.first_lsn),
      static_cast<unsigned long>(wal_result.next_lsn), wal::log_end_name(wal_result.end),
      wal_result.seconds, recovered->seconds);
  return true;
}

// The log writer goes on where recovery found the log's end.
wal::LogWriterOptions log_options(const Config& config, const DataDirs& dirs,
                                  const wal::RecoveryResult& recovered, wal::LogIo* io) {
  wal::LogWriterOptions options;
  options.dir = dirs.wal;
  options.segment_bytes = config.wal_segment_bytes;
  options.async_flush_delay = std::chrono::milliseconds(config.wal_async_flush_ms);
  options.on_slow = [](std::chrono::nanoseconds took, uint64_t suppressed) {
    log(LogLevel::kWarn,
        "write-ahead log: a write + fdatasync took %.3f s (slow disk?); %lu more since the "
        "last warning",
        static_cast<double>(took.count()) / 1e9, static_cast<unsigned long>(suppressed));
  };
  options.on_disk_full = [dir = dirs.wal](wal::LogWriterOptions::DiskFull event, uint64_t refused) {
    using DiskFull = wal::LogWriterOptions::DiskFull;
    const auto n = static_cast<unsigned long>(refused);
    if (event == DiskFull::kFull) {
      log(LogLevel::kError,
          "write-ahead log: the disk holding %s is full: commits get DISK_FULL until space is "
          "freed (%lu refused so far); reads go on",
          dir.c_str(), n);
    } else if (event == DiskFull::kStillFull) {
      log(LogLevel::kError,
          "write-ahead log: the disk holding %s is still full: %lu more commits refused with "
          "DISK_FULL",
          dir.c_str(), n);
    } else {
      log(LogLevel::kWarn,
          "write-ahead log: disk space is back; commits are written again (%lu were refused "
          "with DISK_FULL while the disk was full)",
          n);
    }
  };
  options.io = io;
  options.start_lsn = recovered.next_lsn;
  options.first_segment_id = recovered.next_segment_id;
  options.continue_segment = recovered.continue_segment;
  options.continue_offset = recovered.continue_offset;
  options.continue_bytes = recovered.continue_bytes;
  return options;
}

CheckpointerOptions checkpointer_options(const Config& config, const DataDirs& dirs) {
  CheckpointerOptions options;
  options.dir = dirs.checkpoints;
  options.wal_dir = dirs.wal;
  options.interval = std::chrono::milliseconds(config.checkpoint_interval_ms);
  options.wal_bytes = config.checkpoint_wal_bytes;
  options.log_retain_bytes = config.watch_retain_bytes;
  return options;
}

AdminOptions admin_options(const Config& config) {
  AdminOptions options;
  options.path = config.admin_socket_path;
  options.mode = config.socket_mode;
  options.users = config.admin_users;
  options.groups = config.admin_groups;
  options.idle_timeout = std::chrono::milliseconds(config.admin_idle_timeout_ms);
  options.http_listen = config.metrics_listen;
  return options;
}

// Once serving: everything an operator looks for in the first lines, on one.
void log_banner(const Config& config, const Engine& engine, const AdminServer& admin) {
  const std::string metrics = admin.http_address().empty()
                                  ? std::string("off")
                                  : "http://" + admin.http_address() + "/metrics";
  log(LogLevel::kInfo,
      "ringdbd %s ready: pid %d; data directory %s; session socket %s; admin socket %s; "
      "metrics %s; limits: %u sessions, %u requests in flight each, keys up to %u bytes, "
      "values up to %u bytes, %.1f MiB of memory for data",
      RINGDB_VERSION, getpid(), config.data_dir.c_str(), config.socket_path.c_str(),
      config.admin_socket_path.c_str(), metrics.c_str(), config.sessions_max, config.inflight_max,
      config.key_size_max, config.value_size_max, mib(engine.stats().memory_limit_bytes));
}

}  // namespace

// The composition root: each part built from the configuration and handed the parts it needs,
// bottom up (engine, server and its workers' pending sets, recovery, the log, checkpoints,
// the admin socket); then serve; then stop in the order that lets each part finish its work.
int main(int argc, char** argv) {
  const int64_t started_ns = ringdb::sync::now_ns();
  Config config;
  if (const int rc = parse_config(argc, argv, &config); rc != 0) return rc < 0 ? 0 : rc;
  prepare_process(config);
  log(LogLevel::kInfo, "ringdbd %s (protocol %u) starting: pid %d, uid %u, config file %s",
      RINGDB_VERSION, ringdb::shm::kProtocolVersion, getpid(), geteuid(),
      config.config_file.empty() ? "none (defaults and flags)" : config.config_file.c_str());
  std::string error;
  Placement placement;
  if (!place_threads(config, &placement, &error)) return cannot_start(error);
  if (!check_folders(config, &error)) return cannot_start(error);
  // Before anything reads or writes the data directory: one daemon per directory.
  const auto lock =
      DataDirLock::acquire(config.data_dir,
                           "pid " + std::to_string(getpid()) + ", socket " + config.socket_path +
                               ", admin socket " + config.admin_socket_path,
                           &error);
  if (!lock) return cannot_start(error);

  Engine engine(engine_options(config, placement));
  // Before recovery commits anything: this run's commit sequence numbers come after every
  // earlier run's (daemon/durability/csn_epoch.h).
  uint64_t csn_epoch = 0;
  if (!take_csn_epoch(config.data_dir, &csn_epoch, &error)) return cannot_start(error);
  engine.start_csns(csn_epoch << kCsnEpochShift, csn_epoch_last(csn_epoch));
  Server server(config, placement, &engine);
  if (!server.open(&error)) return cannot_start(error);
  const DataDirs dirs{config.data_dir + "/wal", config.data_dir + "/checkpoints"};
  RecoveryReport recovered;
  if (!recover_data(engine, config, dirs, &recovered, &error)) return cannot_start(error);

  const std::unique_ptr<wal::LogIo> faulty_io = fault_injection();
  // Watches read the log below the gate: durable (D first), and applied by every worker.
  std::unique_ptr<wal::LogWriter> writer;
  WatchHub watches(
      WatchHub::Options{dirs.wal, config.watches_per_session_max},
      [&] {
        const uint64_t durable = writer->durable_lsn();
        return std::min(durable, server.oldest_unapplied_lsn());
      },
      [&server] { server.notify_control(); });
  wal::LogWriterOptions writer_options = log_options(config, dirs, recovered.log, faulty_io.get());
  writer_options.on_durable = [&watches](bool unawaited) { watches.log_advanced(unawaited); };
  writer = wal::LogWriter::open(
      writer_options, server.completion_sinks(),
      [](const std::string& reason) {
        fatal("write-ahead log: %s; exiting so that recovery runs", reason.c_str());
      },
      &error);
  if (!writer) return cannot_start(error);
  server.set_log(writer.get());
  // systemd's WatchdogSec=: WATCHDOG=1 at each guard tick while no worker is stalled.
  if (uint64_t usec = 0; sd_watchdog_enabled(0, &usec) > 0) {
    log(LogLevel::kInfo, "systemd watchdog: keep-alive every tick (WatchdogSec=%.1f s)",
        static_cast<double>(usec) / 1e6);
    server.set_alive_hook([] { sd_notify(0, "WATCHDOG=1"); });
  }
  server.set_watches(&watches);
  Checkpointer checkpointer(checkpointer_options(config, dirs), &engine, writer.get(),
                            [&server] { return server.oldest_unapplied_lsn(); });
  if (!checkpointer.open(&error)) return cannot_start(error);
  AdminServer admin(admin_options(config));
  AdminContext admin_context;
  admin_context.config = &config;
  admin_context.engine = &engine;
  admin_context.server = &server;
  admin_context.log = writer.get();
  admin_context.checkpointer = &checkpointer;
  admin_context.watches = &watches;
  admin_context.wal_dir = dirs.wal;
  admin_context.started_ns = started_ns;
  add_admin_commands(&admin, admin_context);
  if (!admin.open(&error)) return cannot_start(error);

  const int rc = server.run([&] {
    watches.start();
    checkpointer.start();
    admin.start();
    log_banner(config, engine, admin);
    // systemd (Type=notify): serving. A no-op without NOTIFY_SOCKET.
    sd_notify(0, "READY=1\nSTATUS=serving");
  });
  sd_notify(0, "STOPPING=1\nSTATUS=stopping");
  // The checkpointer first: a checkpoint the admin socket started stops at its next scan,
  // so admin.stop() does not wait for a whole one.
  checkpointer.stop();
  admin.stop();
  watches.stop();
  writer->stop();  // every commit was answered before the workers stopped
  return rc;
}
