// What the kernel says about a process: context switches and CPU time summed over its
// threads (/proc/PID/task/*/), and CPU pinning. Linux only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace ringdb::bench {

struct ProcessCounters {
  uint64_t voluntary_switches = 0;
  uint64_t involuntary_switches = 0;
  uint64_t cpu_ns = 0;         // utime + stime
  uint64_t worker_cpu_ns = 0;  // of its threads named ringdb-worker<N> (ringdbd's workers)
  bool ok = false;             // false: the process was gone or /proc unreadable

  uint64_t switches() const { return voluntary_switches + involuntary_switches; }
};

// Sums voluntary_ctxt_switches and nonvoluntary_ctxt_switches of every thread of `pid`
// (/proc/PID/status alone counts the main thread only) and utime+stime from /proc/PID/stat
// (which covers the whole thread group).
ProcessCounters read_process_counters(pid_t pid);

// Pins the calling process to `cpu`; false if the CPU is not allowed (not an error for a
// benchmark: it runs unpinned).
bool pin_to_cpu(int cpu);

// The CPUs this process may run on, ascending.
std::vector<int> allowed_cpus();

// The pid of the process listening on the unix socket at `path` (SO_PEERCRED of a
// connection to it), or -1. `type` is SOCK_STREAM or SOCK_SEQPACKET.
pid_t socket_peer_pid(const char* path, int type);

}  // namespace ringdb::bench
