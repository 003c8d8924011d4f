// SmallTmpfs: a real, size-limited filesystem for disk-full tests: a tmpfs of `size` mounted
// on an existing directory, unmounted (lazily) at the end. Needs root or CAP_SYS_ADMIN; when
// the mount is refused, `mounted` is false and `why` says why, for the test to report a skip.
#pragma once

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace ringdb::test {

struct SmallTmpfs {
  std::string path;
  bool mounted = false;
  std::string why;

  SmallTmpfs(const std::string& dir, const std::string& size) : path(dir) {
    const std::string options = "size=" + size;
    mounted = mount("ringdb-test-tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0;
    if (!mounted) {
      why = std::string("cannot mount a small tmpfs here (") + strerror(errno) +
            "); needs root or CAP_SYS_ADMIN";
    }
  }
  ~SmallTmpfs() {
    if (mounted) umount2(path.c_str(), MNT_DETACH);
  }
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;
};

}  // namespace ringdb::test
