// The memory this process may really use (issue 12): the lowest memory limit of its cgroup and
// of the cgroups above it (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`), or physical
// memory when no cgroup limits it. ringdbd's default --memory-limit follows from it.
//
// Found through /proc/self/cgroup (the process's cgroup paths) and /proc/self/mountinfo (where
// each hierarchy is mounted, and which part of it: under a cgroup namespace, the mount's root).
//
// Thread safety: a function of the files it reads.
#pragma once

#include <cstdint>
#include <string>

namespace ringdb::daemon {

struct MemoryAvailable {
  uint64_t bytes = 0;
  std::string source;   // for people: "cgroup v2 limit (/sys/fs/cgroup/a/b/memory.max)", ...
  bool cgroup = false;  // a cgroup limits it (else: physical memory)
};

// `root`: prefixed to every path read ("" in ringdbd; tests give a directory that holds
// proc/self/cgroup, proc/self/mountinfo and the cgroup files).
MemoryAvailable memory_available(const std::string& root = "");

// The directory of this process's cgroup in the v2 hierarchy (`v2`) or in the v1 memory one
// (e.g. /sys/fs/cgroup/memory/a/b); "" if there is none. (Tests make child cgroups there.)
std::string memory_cgroup_dir(bool v2, const std::string& root = "");

}  // namespace ringdb::daemon
