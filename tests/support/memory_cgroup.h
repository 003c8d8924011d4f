// MemoryCgroup: a real memory cgroup for a test, a child of the test process's own (cgroup v1
// with the memory controller, or v2 where memory can be limited for children), limited to
// `limit` bytes and removed at the end. enter() moves this process into it (the children it
// starts then begin there) and leave() moves it back. Needs root; where no writable memory
// cgroup exists, `ok` is false and `why` says why, for the test to report a skip.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

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

  // This process's cgroup directory in the v1 memory hierarchy or in v2.
  static bool own_cgroup(bool v2, std::string* dir) {
    std::string mount_point, mount_root, path;
    std::ifstream mounts("/proc/self/mountinfo");
    for (std::string line; std::getline(mounts, line);) {
      std::istringstream f(line);
      std::string id, parent, dev, root, point, options, word, fstype, source, super;
      f >> id >> parent >> dev >> root >> point >> options;
      while (f >> word && word != "-") {
      }
      f >> fstype >> source >> super;
      if (v2 ? fstype == "cgroup2"
             : fstype == "cgroup" && ("," + super + ",").find(",memory,") != std::string::npos) {
        mount_point = point;
        mount_root = root;
        break;
      }
    }
    std::ifstream groups("/proc/self/cgroup");
    for (std::string line; std::getline(groups, line);) {
      const size_t a = line.find(':'), b = line.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      const std::string controllers = line.substr(a + 1, b - a - 1);
      if (v2 ? line.compare(0, a, "0") == 0 && controllers.empty()
             : ("," + controllers + ",").find(",memory,") != std::string::npos) {
        path = line.substr(b + 1);
        break;
      }
    }
    if (mount_point.empty() || path.empty()) return false;
    if (mount_root != "/" && path.compare(0, mount_root.size(), mount_root) == 0)
      path = path.substr(mount_root.size());
    *dir = mount_point + (path == "/" ? "" : path);
    struct stat st;
    return stat(dir->c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  std::string dir_;
  std::string parent_;
  bool inside_ = false;
};

}  // namespace ringdb::test
