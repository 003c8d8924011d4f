#include "daemon/service/placement.h"

#include <numa.h>
#include <numaif.h>
#include <sched.h>

#include <algorithm>

namespace ringdb::daemon {

bool plan_placement(const std::vector<int>& requested, int ring_count, Placement* out,
                    std::string* error) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
    *error = "sched_getaffinity failed";
    return false;
  }
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(static_cast<size_t>(c), &allowed)) cpus.push_back(c);
  }
  Placement p;
  if (requested.empty()) {
    const size_t n = std::max<size_t>(1, cpus.size() / 2);
    p.worker_cores.assign(cpus.end() - static_cast<ptrdiff_t>(n), cpus.end());
  } else {
    for (int c : requested) {
      if (std::find(cpus.begin(), cpus.end(), c) == cpus.end()) {
        *error = "core " + std::to_string(c) + " is not one this process may run on";
        return false;
      }
    }
    p.worker_cores = requested;
  }
  if (p.worker_cores.size() > 256) {
    *error = "at most 256 worker cores";
    return false;
  }
  p.numa = numa_available() >= 0;
  for (int c : p.worker_cores)
    p.worker_nodes.push_back(p.numa ? numa_node_of_cpu(c) : 0);
  for (int c : cpus) {
    if (std::find(p.worker_cores.begin(), p.worker_cores.end(), c) == p.worker_cores.end()) {
      p.housekeeping_cpus.push_back(c);
    }
  }
  if (p.housekeeping_cpus.empty()) {
    p.housekeeping_cpus = cpus;
    p.workers_share_cpus = true;
  }

  const int workers = static_cast<int>(p.worker_cores.size());
  std::vector<int> next_on_node(static_cast<size_t>(std::max(1, numa_max_node() + 1)), 0);
  int next_any = 0;
  for (int r = 0; r < ring_count; ++r) {
    const int node = p.numa ? numa_node_of_cpu(r) : 0;
    std::vector<int> local;
    for (int w = 0; w < workers; ++w) {
      if (p.worker_nodes[static_cast<size_t>(w)] == node) local.push_back(w);
    }
    if (!local.empty() && node >= 0 && static_cast<size_t>(node) < next_on_node.size()) {
      int& next = next_on_node[static_cast<size_t>(node)];
      p.ring_worker.push_back(local[static_cast<size_t>(next++) % local.size()]);
    } else {
      p.ring_worker.push_back(next_any++ % workers);
    }
  }
  *out = std::move(p);
  return true;
}

bool pin_current_thread(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus)
    CPU_SET(static_cast<size_t>(c), &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

void prefer_node(void* addr, size_t len, int node) {
  if (numa_available() < 0 || node < 0) return;
  unsigned long mask[16] = {};
  const auto bits = sizeof(unsigned long) * 8;
  if (static_cast<size_t>(node) >= sizeof mask * 8) return;
  mask[static_cast<size_t>(node) / bits] |= 1UL << (static_cast<size_t>(node) % bits);
  // A failure leaves the default policy (first touch): slower, never wrong.
  mbind(addr, len, MPOL_PREFERRED, mask, sizeof mask * 8, 0);
}

}  // namespace ringdb::daemon
