#include "daemon/durability/csn_epoch.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "daemon/base/crc32c.h"
#include "daemon/base/file_util.h"

namespace ringdb::daemon {
namespace {

constexpr uint64_t kMagic = 0x5045'4e53'4342'4452;  // "RDBCSNEP"
constexpr uint32_t kVersion = 1;
constexpr size_t kFileSize = 32;

uint32_t file_crc(const std::byte* b) {
  return crc32c(b + 16, kFileSize - 16, crc32c(b, 8));
}

// Reads the last epoch taken; 0 if there is no file.
bool read_epoch(const std::string& path, uint64_t* epoch, std::string* error) {
  *epoch = 0;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return true;
    *error = "cannot open " + path + ": " + errno_text(errno);
    return false;
  }
  std::byte b[kFileSize + 1];
  const ssize_t n = read(fd, b, sizeof b);
  const int err = errno;
  close(fd);
  if (n < 0) {
    *error = "cannot read " + path + ": " + errno_text(err);
    return false;
  }
  if (n != static_cast<ssize_t>(kFileSize) || load_le<uint64_t>(b) != kMagic ||
      load_le<uint32_t>(b + 8) != kVersion || load_le<uint32_t>(b + 12) != file_crc(b) ||
      load_le<uint64_t>(b + 24) != 0) {
    *error = path +
             " is damaged (size, magic, version or checksum): it numbers this directory's runs "
             "so that commit sequence numbers only grow (docs/OPERATIONS.md, \"csn-epoch\")";
    return false;
  }
  *epoch = load_le<uint64_t>(b + 16);
  return true;
}

bool write_all_synced(const std::string& path, const std::byte* data, size_t size,
                      std::string* error) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = "cannot create " + path + ": " + errno_text(errno);
    return false;
  }
  const ssize_t n = write(fd, data, size);
  const int err = errno;
  const bool ok = n == static_cast<ssize_t>(size) && fdatasync(fd) == 0;
  const int sync_err = errno;
  close(fd);
  if (!ok) {
    *error = "cannot write " + path + ": " +
             errno_text(n < 0                             ? err
                        : n != static_cast<ssize_t>(size) ? ENOSPC
                                                          : sync_err);
  }
  return ok;
}

}  // namespace

bool take_csn_epoch(const std::string& data_dir, uint64_t* epoch, std::string* error) {
  const std::string path = data_dir + "/csn-epoch";
  uint64_t last = 0;
  if (!read_epoch(path, &last, error)) return false;
  if (last >= kCsnEpochMax) {
    *error = path + ": this data directory's " + std::to_string(kCsnEpochMax) +
             " runs are used up (docs/OPERATIONS.md, \"csn-epoch\")";
    return false;
  }
  std::byte b[kFileSize] = {};
  store_le<uint64_t>(b, kMagic);
  store_le<uint32_t>(b + 8, kVersion);
  store_le<uint64_t>(b + 16, last + 1);
  store_le<uint32_t>(b + 12, file_crc(b));
  const std::string fresh = path + ".new";
  if (!write_all_synced(fresh, b, sizeof b, error)) return false;
  if (rename(fresh.c_str(), path.c_str()) != 0) {
    *error = "cannot rename " + fresh + ": " + errno_text(errno);
    return false;
  }
  if (!sync_dir(data_dir, error)) return false;
  *epoch = last + 1;
  return true;
}

}  // namespace ringdb::daemon
