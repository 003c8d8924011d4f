// WriteBehind (daemon/base/file_util.h): a file written front to back through it keeps only
// its last windows in the page cache; written without it, all of it stays (dirty, then
// cached), which is what made the log's fdatasyncs wait behind a whole checkpoint.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "daemon/base/file_util.h"

namespace ringdb::daemon {
namespace {

// Writes `bytes` to a new file in 64 KiB writes, through WriteBehind or not; returns the
// share of its pages resident in the page cache afterwards (mincore).
double resident_share_after_writing(size_t bytes, bool write_behind) {
  char path[] = "/var/tmp/ringdb-write-behind-XXXXXX";  // a disk, not a tmpfs
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  const std::vector<char> chunk(64 << 10, 'x');
  WriteBehind pacing;
  uint64_t written = 0;
  while (written < bytes) {
    REQUIRE(write(fd, chunk.data(), chunk.size()) == static_cast<ssize_t>(chunk.size()));
    written += chunk.size();
    if (write_behind) pacing.advance(fd, written);
  }
  void* map = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  REQUIRE(map != MAP_FAILED);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in_core((bytes + page - 1) / page);
  REQUIRE(mincore(map, bytes, in_core.data()) == 0);
  size_t resident = 0;
  for (const unsigned char c : in_core)
    resident += c & 1;
  munmap(map, bytes);
  close(fd);
  return static_cast<double>(resident) / static_cast<double>(in_core.size());
}

TEST_CASE("WriteBehind: a file written through it leaves at most its last windows cached") {
  struct statfs fs {};
  REQUIRE(statfs("/var/tmp", &fs) == 0);
  if (fs.f_type == TMPFS_MAGIC) {
    MESSAGE("/var/tmp is a tmpfs (memory is its disk): skipped");
    return;
  }
  constexpr size_t kBytes = 16 * WriteBehind::kWindow;
  const double without = resident_share_after_writing(kBytes, false);
  const double with = resident_share_after_writing(kBytes, true);
  MESSAGE("resident after writing 16 windows: " << without * 100 << "% without, " << with * 100
                                                << "% with WriteBehind");
  CHECK(without > 0.9);
  CHECK(with <= 3.0 / 16);  // the last two windows, and a little slack
}

}  // namespace
}  // namespace ringdb::daemon
