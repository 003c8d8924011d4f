// ringdbd: the ringdb daemon. Configuration: daemon/config.h (`ringdbd --help`); what it
// runs: daemon/server.h. Exit codes: 0 after a graceful shutdown, 1 when it cannot start,
// 2 on a usage error; a fatal internal error aborts (non-zero, with a core dump).
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "daemon/config.h"
#include "daemon/engine.h"
#include "daemon/log.h"
#include "daemon/placement.h"
#include "daemon/server.h"
#include "daemon/wal_recovery.h"
#include "daemon/wal_writer.h"
#include "shm/bus_guard.h"
#include "shm/wire.h"

using namespace ringdb::daemon;

namespace {

// Replays one log record into the engine: a transaction of its own, as it was committed.
bool replay(Engine& engine, const ringdb::daemon::wal::Record& record, std::string* error) {
  std::unique_ptr<Transaction> txn;
  if (engine.begin(TxnMode::kReadWrite, &txn) != Status::kOk) {
    *error = "cannot begin a transaction";
    return false;
  }
  for (const auto& op : record.ops) {
    const Status s = op.kind == ringdb::daemon::wal::OpKind::kPut
                         ? engine.put(*txn, op.key, op.value)
                         : engine.del(*txn, op.key);
    if (s != Status::kOk &&
        !(s == Status::kNotFound && op.kind != ringdb::daemon::wal::OpKind::kPut)) {
      *error = std::string("the engine refused an operation: ") + status_name(s);
      engine.abort(std::move(txn));
      return false;
    }
  }
  if (const Status s = engine.commit(std::move(txn)); s != Status::kOk) {
    *error = std::string("the engine refused the commit: ") + status_name(s);
    return false;
  }
  return true;
}

std::string join(const std::vector<int>& v) {
  std::string out;
  for (int x : v) {
    if (!out.empty()) out.push_back(',');
    out.append(std::to_string(x));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  if (const int rc = parse_config(argc, argv, &config); rc != 0) return rc < 0 ? 0 : rc;
  set_log_level(config.log_level);
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

  const int ring_count = std::min<int>(get_nprocs_conf(), ringdb::shm::kRingsMax);
  Placement placement;
  std::string error;
  if (!plan_placement(config.cores, ring_count, &placement, &error)) {
    log(LogLevel::kError, "cannot start: %s", error.c_str());
    return 1;
  }
  // Housekeeping first: threads started from here on (purge) inherit this mask; workers
  // pin themselves to their cores.
  if (!pin_current_thread(placement.housekeeping_cpus)) {
    log(LogLevel::kWarn, "cannot pin housekeeping threads: %s", strerror(errno));
  }
  for (size_t w = 0; w < placement.worker_cores.size(); ++w) {
    log(LogLevel::kInfo, "worker %zu: core %d, NUMA node %d%s", w, placement.worker_cores[w],
        placement.worker_nodes[w],
        placement.numa ? " (rings placed on it with mbind MPOL_PREFERRED; worker state by "
                         "first touch)"
                       : " (no NUMA: libnuma unavailable)");
  }
  log(LogLevel::kInfo, "housekeeping threads on cores %s",
      join(placement.housekeeping_cpus).c_str());

  EngineOptions options;
  options.key_size_max = config.key_size_max;
  options.value_size_max = config.value_size_max;
  options.memory_limit_bytes = config.memory_limit_bytes;
  // Every session may hold a view per worker (autocommit reads) plus its transactions.
  options.views_max = config.sessions_max * (static_cast<uint32_t>(placement.worker_cores.size()) +
                                             config.transactions_max) +
                      64;
  Engine engine(options);
  int rc;
  {
    Server server(config, placement, &engine);
    if (!server.open(&error)) {
      log(LogLevel::kError, "cannot start: %s", error.c_str());
      return 1;
    }
    // Recovery: the log's records replayed into the empty engine (no checkpoints yet), then
    // the writer goes on where they end.
    const std::string wal_dir = config.data_dir + "/wal";
    if (mkdir(wal_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      log(LogLevel::kError, "cannot start: cannot create %s: %s", wal_dir.c_str(), strerror(errno));
      return 1;
    }
    wal::RecoveryResult recovered;
    if (!wal::recover(
            wal_dir, 0, 0,
            [&](const wal::Record& r, std::string* why) { return replay(engine, r, why); },
            &recovered, &error)) {
      log(LogLevel::kError, "cannot start: recovery failed: %s", error.c_str());
      return 1;
    }
    log(LogLevel::kInfo,
        "recovery: %lu transactions replayed from %lu log segments, LSN %lu to %lu, in %.3f s%s%s",
        static_cast<unsigned long>(recovered.records),
        static_cast<unsigned long>(recovered.segments),
        static_cast<unsigned long>(recovered.first_lsn),
        static_cast<unsigned long>(recovered.next_lsn), recovered.seconds,
        recovered.end == wal::ScanEnd::kEndOfLog ? "" : "; the log ended early: ",
        recovered.stopped_at.c_str());
    for (const std::string& d : recovered.discarded)
      log(LogLevel::kWarn, "recovery: %s set aside (beyond the end of the valid log)", d.c_str());
    wal::LogWriterOptions log_options;
    log_options.dir = wal_dir;
    log_options.segment_bytes = config.wal_segment_bytes;
    log_options.start_lsn = recovered.next_lsn;
    log_options.first_segment_id = recovered.next_segment_id;
    auto writer = wal::LogWriter::open(
        log_options,
        [&server](uint32_t worker, uint64_t request, wal::LogStatus status) {
          server.notify_io_complete(worker, request, status);
        },
        [](const std::string& reason) {
          fatal("write-ahead log: %s; exiting so that recovery runs", reason.c_str());
        },
        &error);
    if (!writer) {
      log(LogLevel::kError, "cannot start: %s", error.c_str());
      return 1;
    }
    server.set_log(writer.get());
    rc = server.run();
    writer->stop();  // every commit was answered before the workers stopped
  }
  return rc;
}
