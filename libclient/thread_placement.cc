#include "libclient/thread_placement.h"

#include <cstdlib>
#include <cstring>

namespace ringdb::libclient {

namespace {

// The set of worker CPUs this thread was last settled for (ThreadPlacement::key_).
thread_local uint64_t settled_for = 0;

bool disabled_by_environment() {
  const char* value = getenv("RINGDB_KEEP_OFF_WORKER_CPUS");
  return value != nullptr && strcmp(value, "0") == 0;
}

}  // namespace

ThreadPlacement::ThreadPlacement(const Connection& connection, bool enabled) {
  CPU_ZERO(&worker_cpus_);
  uint64_t key = 14695981039346656037ull;  // FNV-1a over the CPU numbers
  for (uint32_t w = 0; w < connection.board()->worker_count; ++w) {
    const uint32_t cpu = connection.board_worker(w)->core;
    // Not pinned (kNoCore), or a CPU this process cannot name: nothing to keep off.
    if (cpu >= CPU_SETSIZE) continue;
    CPU_SET(cpu, &worker_cpus_);
    if (connection.board_worker(w)->yields_when_idle.load(std::memory_order_relaxed) != 0) {
      if (yielding_cpus_.size() <= cpu) yielding_cpus_.resize(cpu + 1);
      yielding_cpus_[cpu] = true;
    }
    key = (key ^ cpu) * 1099511628211ull;
  }
  if (enabled && !disabled_by_environment() && CPU_COUNT(&worker_cpus_) > 0) key_ = key | 1;
}

bool ThreadPlacement::plan(const cpu_set_t& allowed, cpu_set_t* settled) const {
  if (key_ == 0) return false;
  cpu_set_t overlap;
  CPU_AND(&overlap, &allowed, &worker_cpus_);
  if (CPU_COUNT(&overlap) == 0) return false;  // already off them
  CPU_XOR(settled, &allowed, &overlap);
  return CPU_COUNT(settled) > 0;  // none left: the application pinned it there; it stays
}

void ThreadPlacement::settle_this_thread() const {
  if (settled_for == key_) return;  // also when key_ is 0 (nothing to do)
  settled_for = key_;
  cpu_set_t allowed;
  cpu_set_t settled;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  // A failure leaves the thread where it was: slower beside a worker, never wrong.
  if (plan(allowed, &settled)) sched_setaffinity(0, sizeof settled, &settled);
}

}  // namespace ringdb::libclient
