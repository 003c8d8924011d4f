#include "daemon/base/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include "daemon/base/file_util.h"
#include "daemon/base/log.h"

namespace ringdb::daemon {
namespace {

// What the lock file says about its holder (its first line, at most 1 KiB).
std::string read_holder(int fd) {
  char text[1024];
  const ssize_t n = pread(fd, text, sizeof text, 0);
  if (n <= 0) return "unknown";
  std::string holder(text, static_cast<size_t>(n));
  holder.erase(std::min(holder.find('\n'), holder.size()));
  return holder.empty() ? "unknown" : holder;
}

}  // namespace

std::unique_ptr<DataDirLock> DataDirLock::acquire(const std::string& dir, const std::string& holder,
                                                  std::string* error) {
  const std::string path = dir + "/LOCK";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = "cannot open the lock file " + path + ": " + errno_text(errno);
    return nullptr;
  }
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    *error = err == EWOULDBLOCK ? "the data directory " + dir + " is in use by another ringdbd (" +
                                      read_holder(fd) +
                                      "); stop that one first, or give this one another --data-dir"
                                : "cannot lock " + path + ": " + errno_text(err);
    close(fd);
    return nullptr;
  }
  const std::string line = holder + "\n";
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size())) {
    // The lock is the flock; the line only names the holder. On a full disk the daemon still
    // starts (to serve reads), with the line missing.
    if (errno != ENOSPC && errno != EDQUOT) {
      *error = "cannot write the lock file " + path + ": " + errno_text(errno);
      close(fd);
      return nullptr;
    }
    log(LogLevel::kWarn, "the disk is full: the lock file %s names no holder", path.c_str());
  }
  return std::unique_ptr<DataDirLock>(new DataDirLock(fd));
}

DataDirLock::~DataDirLock() {
  close(fd_);
}

}  // namespace ringdb::daemon
