#include "daemon/base/memory_limits.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace ringdb::daemon {
namespace {

// A limit at or above this is "no limit" (cgroup v1 writes PAGE_COUNTER_MAX pages in bytes,
// 0x7ffffffffffff000 on x86-64).
constexpr uint64_t kUnlimited = uint64_t{1} << 62;

bool read_line(const std::string& path, std::string* line) {
  std::ifstream in(path);
  return static_cast<bool>(std::getline(in, *line));
}

// A cgroup hierarchy's mount: where it is mounted, and which of its cgroups is mounted there.
struct Mount {
  std::string point;  // e.g. /sys/fs/cgroup/memory
  std::string root;   // e.g. / (or the namespace's cgroup)
};

// The mount of cgroup v2 (`v2`), or of the v1 hierarchy with the memory controller.
bool find_mount(const std::string& root, bool v2, Mount* mount) {
  std::ifstream in(root + "/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    std::istringstream fields(line);
    std::string id, parent, dev, mroot, point, options, word;
    fields >> id >> parent >> dev >> mroot >> point >> options;
    while (fields >> word && word != "-") {
    }
    std::string fstype, source, super;
    fields >> fstype >> source >> super;
    const bool match =
        v2 ? fstype == "cgroup2"
           : fstype == "cgroup" && ("," + super + ",").find(",memory,") != std::string::npos;
    if (match) {
      *mount = Mount{point, mroot};
      return true;
    }
  }
  return false;
}

// The process's cgroup path in the v2 hierarchy (`v2`) or the v1 memory one.
bool cgroup_path(const std::string& root, bool v2, std::string* path) {
  std::ifstream in(root + "/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    // hierarchy-id:controllers:path
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const bool match = v2 ? line.compare(0, a, "0") == 0 && controllers.empty()
                          : ("," + controllers + ",").find(",memory,") != std::string::npos;
    if (match) {
      *path = line.substr(b + 1);
      return true;
    }
  }
  return false;
}

// The process's place in the v2 hierarchy or the v1 memory one: where it is mounted, and the
// process's cgroup below that ("/": the mounted cgroup itself).
bool own_cgroup(const std::string& root, bool v2, std::string* mount_point, std::string* path) {
  Mount mount;
  if (!find_mount(root, v2, &mount) || !cgroup_path(root, v2, path)) return false;
  // Under a cgroup namespace the path is relative to the mounted cgroup already; otherwise the
  // mount's root is a prefix of it.
  if (mount.root != "/" && path->compare(0, mount.root.size(), mount.root) == 0)
    path->erase(0, mount.root.size());
  if (path->empty()) path->push_back('/');
  *mount_point = mount.point;
  return true;
}

// The lowest limit in `file` of the cgroup at `path` below `mount_point` and of those above
// it, up to the mount.
bool lowest_limit(const std::string& root, const std::string& mount_point, std::string path,
                  const char* file, uint64_t* limit, std::string* where) {
  bool found = false;
  for (;;) {
    const std::string dir = root + mount_point + (path == "/" ? "" : path);
    std::string text;
    if (read_line(dir + "/" + file, &text) && text != "max") {
      char* end = nullptr;
      const unsigned long long v = strtoull(text.c_str(), &end, 10);
      if (end != text.c_str() && *end == '\0' && v < kUnlimited && (!found || v < *limit)) {
        *limit = v;
        *where = dir.substr(root.size()) + "/" + file;
        found = true;
      }
    }
    if (path == "/") break;
    const size_t slash = path.rfind('/');
    if (slash == 0 || slash == std::string::npos) {
      path.assign(1, '/');
    } else {
      path.resize(slash);
    }
  }
  return found;
}

}  // namespace

MemoryAvailable memory_available(const std::string& root) {
  MemoryAvailable m;
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGESIZE);
  m.bytes = pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
  m.source = "physical memory";
  for (const bool v2 : {true, false}) {
    std::string point, path, where;
    uint64_t limit = 0;
    if (own_cgroup(root, v2, &point, &path) &&
        lowest_limit(root, point, path, v2 ? "memory.max" : "memory.limit_in_bytes", &limit,
                     &where) &&
        (limit < m.bytes || m.bytes == 0)) {
      m.bytes = limit;
      m.source = std::string(v2 ? "cgroup v2" : "cgroup v1") + " limit (" + where + ")";
      m.cgroup = true;
    }
  }
  return m;
}

std::string memory_cgroup_dir(bool v2, const std::string& root) {
  std::string point, path;
  if (!own_cgroup(root, v2, &point, &path)) return "";
  return point + (path == "/" ? "" : path);
}

}  // namespace ringdb::daemon
