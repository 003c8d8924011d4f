// Which filesystem a path is on (/proc/self/mountinfo): the commit workload says where each
// system's durable writes went, since fsync costs what the filesystem and device make it
// cost (and nothing on tmpfs). Linux only; no state.
#pragma once

#include <string>

namespace ringdb::bench {

struct FilesystemInfo {
  bool ok = false;          // false: the path or /proc/self/mountinfo was unreadable
  std::string mount_point;  // the longest mount point containing the path
  std::string type;         // "ext4", "xfs", "tmpfs"...
  std::string source;       // "/dev/vda"
};

FilesystemInfo filesystem_of(const std::string& path);

// "ext4 on /dev/vda, mounted at /" (or "unknown").
std::string describe(const FilesystemInfo& fs);

}  // namespace ringdb::bench
