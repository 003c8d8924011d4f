// memory_available() (daemon/base/memory_limits.h) over fake /proc and cgroup trees: the
// lowest limit on the way up wins, under cgroup v2 and v1, with a namespace's mount root;
// "max" and v1's "unlimited" are no limit; without a cgroup limit, physical memory.
// (tests/integration/admin_test.cc runs the daemon in a real cgroup.)
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/base/memory_limits.h"
#include "tests/support/temp_dir.h"

namespace ringdb::daemon {
namespace {

namespace fs = std::filesystem;

void put(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text << "\n";
}

uint64_t physical() {
  return static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
         static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

TEST_CASE("memory_available: cgroup v2, the lowest memory.max on the way up") {
  test::TempDir root("ringdb-memory");
  const std::string r = root.path;
  put(r + "/proc/self/mountinfo",
      "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate");
  put(r + "/proc/self/cgroup", "0::/system.slice/ringdbd.service");
  put(r + "/sys/fs/cgroup/system.slice/ringdbd.service/memory.max", "max");
  put(r + "/sys/fs/cgroup/system.slice/memory.max", "209715200");
  const MemoryAvailable m = memory_available(r);
  CHECK(m.cgroup);
  CHECK(m.bytes == 209715200);
  CHECK(m.source == "cgroup v2 limit (/sys/fs/cgroup/system.slice/memory.max)");
}

TEST_CASE("memory_available: cgroup v1 memory controller, mounted with a namespace's root") {
  test::TempDir root("ringdb-memory");
  const std::string r = root.path;
  // The hierarchy's /ns is mounted at /sys/fs/cgroup/memory; the process is in /ns/app.
  put(r + "/proc/self/mountinfo",
      "31 23 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
      "35 31 0:32 /ns /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory");
  put(r + "/proc/self/cgroup", "5:cpu:/\n4:memory:/ns/app\n0::/");
  put(r + "/sys/fs/cgroup/memory/app/memory.limit_in_bytes", "104857600");
  put(r + "/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712");
  const MemoryAvailable m = memory_available(r);
  CHECK(m.cgroup);
  CHECK(m.bytes == 104857600);
  CHECK(m.source == "cgroup v1 limit (/sys/fs/cgroup/memory/app/memory.limit_in_bytes)");
}

TEST_CASE("memory_available: no cgroup limit (or none readable): physical memory") {
  test::TempDir root("ringdb-memory");
  const std::string r = root.path;
  put(r + "/proc/self/mountinfo",
      "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate");
  put(r + "/proc/self/cgroup", "0::/user.slice");
  put(r + "/sys/fs/cgroup/user.slice/memory.max", "max");
  const MemoryAvailable m = memory_available(r);
  CHECK_FALSE(m.cgroup);
  CHECK(m.bytes == physical());
  CHECK(m.source == "physical memory");
  // No /proc at all: the same.
  test::TempDir empty("ringdb-memory");
  CHECK(memory_available(empty.path).bytes == physical());
}

}  // namespace
}  // namespace ringdb::daemon
