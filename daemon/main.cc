// ringdbd: the ringdb daemon. Configuration: daemon/config.h (`ringdbd --help`); what it
// runs: daemon/server.h. Exit codes: 0 after a graceful shutdown, 1 when it cannot start,
// 2 on a usage error; a fatal internal error aborts (non-zero, with a core dump).
#include <signal.h>
#include <sys/sysinfo.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "daemon/config.h"
#include "daemon/engine.h"
#include "daemon/log.h"
#include "daemon/placement.h"
#include "daemon/server.h"
#include "shm/bus_guard.h"
#include "shm/wire.h"

using namespace ringdb::daemon;

namespace {

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
    rc = server.run();
  }
  return rc;
}
