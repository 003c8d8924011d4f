// Placement: which cores the workers run on, which NUMA node each is on, which worker
// serves each CPU's ring, and pinning threads.
//
// Defaults (no --cores): half of the CPUs this process may run on (at least one), the
// highest-numbered ones, leaving the low-numbered CPUs to clients and housekeeping.
// Ring r (clients on CPU r) is served by a worker on r's NUMA node, round-robin among
// them; if that node has no worker, by any worker, round-robin.
// Housekeeping threads (the control thread, purge) run on the allowed CPUs that are not
// worker cores, or anywhere if the workers take them all.
//
// Thread safety: plan_placement is a pure function of the machine; pin_* affect the
// calling thread only.
#pragma once

#include <string>
#include <vector>

namespace ringdb::daemon {

struct Placement {
  std::vector<int> worker_cores;  // worker w runs on worker_cores[w]
  std::vector<int> worker_nodes;  // its NUMA node (0 without NUMA)
  std::vector<int> ring_worker;   // ring (CPU) -> worker
  std::vector<int> housekeeping_cpus;
  // The workers take every CPU the daemon may use, so clients (which libringdb keeps off
  // worker CPUs where it can) and the daemon's own threads must share theirs.
  bool workers_share_cpus = false;
  bool numa = false;  // libnuma available
};

// `requested`: --cores, or empty for the default. `ring_count`: CPUs configured.
bool plan_placement(const std::vector<int>& requested, int ring_count, Placement* out,
                    std::string* error);

// Pins the calling thread to `cpus`; false (with errno) on failure.
bool pin_current_thread(const std::vector<int>& cpus);

// Applies a NUMA memory policy preferring `node` to [addr, addr + len) (page-aligned), so
// pages first touched there come from that node whoever touches them. No-op without NUMA.
void prefer_node(void* addr, size_t len, int node);

}  // namespace ringdb::daemon
