// MemoryCgroup: a real memory cgroup for a test, a child of the test process's own (cgroup v1
// with the memory controller, or v2 where memory can be limited for children), limited to
// `limit` bytes and removed at the end. enter() moves this process into it (the children it
// starts then begin there) and leave() moves it back. Needs root; where no writable memory
// cgroup exists, `ok` is false and `why` says why, for the test to report a skip.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "daemon/base/memory_limits.h"

namespace ringdb::test {

class MemoryCgroup {
 public:
  explicit MemoryCgroup(uint64_t limit) {
    for (const bool v2 : {false, true}) {
      std::string parent;
      if (!own_cgroup(v2, &parent)) continue;
      const std::string dir = parent + "/ringdb-test-" + std::to_string(getpid());
      if (mkdir(dir.c_str(), 0755) != 0) {
        why = "cannot create a cgroup under " + parent + " (needs root)";
        continue;
      }
      if (!write(dir + (v2 ? "/memory.max" : "/memory.limit_in_bytes"), std::to_string(limit))) {
        rmdir(dir.c_str());
        why = "cannot limit memory in " + dir;
        continue;
      }
      dir_ = dir;
      parent_ = parent;
      ok = true;
      return;
    }
    if (why.empty()) why = "no memory cgroup found in /proc/self/cgroup and /proc/self/mountinfo";
  }
  ~MemoryCgroup() {
    leave();
    if (ok) rmdir(dir_.c_str());  // empty once the processes started inside have ended
  }
  MemoryCgroup(const MemoryCgroup&) = delete;
  MemoryCgroup& operator=(const MemoryCgroup&) = delete;

  bool enter() { return inside_ = write(dir_ + "/cgroup.procs", std::to_string(getpid())); }
  void leave() {
    if (inside_) write(parent_ + "/cgroup.procs", std::to_string(getpid()));
    inside_ = false;
  }
  const std::string& dir() const { return dir_; }

  bool ok = false;
  std::string why;

 private:
  static bool write(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text << "\n";
    out.flush();
    return out.good();
  }

  // This process's cgroup directory in the v1 memory hierarchy or in v2 (the daemon's own
  // lookup: daemon/base/memory_limits.h).
  static bool own_cgroup(bool v2, std::string* dir) {
    *dir = daemon::memory_cgroup_dir(v2);
    struct stat st;
    return !dir->empty() && stat(dir->c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  std::string dir_;
  std::string parent_;
  bool inside_ = false;
};

}  // namespace ringdb::test
