#include "daemon/base/file_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>

namespace ringdb::daemon {

MappedFile::~MappedFile() {
  if (data_ != nullptr) munmap(const_cast<std::byte*>(data_), size_);
  if (fd_ >= 0) close(fd_);
}

bool MappedFile::open(const std::string& path, std::string* error, bool writable, size_t at_most) {
  fd_ = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  struct stat st;
  if (fd_ < 0 || fstat(fd_, &st) != 0) {
    *error = path + ": " + strerror(errno);
    return false;
  }
  size_ = std::min(static_cast<size_t>(st.st_size), at_most);
  if (size_ == 0) return true;
  void* p = mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    *error = path + ": mmap: " + strerror(errno);
    return false;
  }
  madvise(p, size_, MADV_SEQUENTIAL);
  data_ = static_cast<const std::byte*>(p);
  return true;
}

void WriteBehind::advance(int fd, uint64_t end) {
  while (end - started_ >= kWindow) {
    const auto at = static_cast<off_t>(started_);
    const auto len = static_cast<off_t>(kWindow);
    sync_file_range(fd, at, len, SYNC_FILE_RANGE_WRITE);
    if (started_ >= kWindow) {
      sync_file_range(
          fd, at - len, len,
          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      posix_fadvise(fd, at - len, len, POSIX_FADV_DONTNEED);
    }
    started_ += kWindow;
  }
}

bool sync_dir(const std::string& dir, std::string* error) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const bool ok = fd >= 0 && fsync(fd) == 0;
  if (!ok) *error = "fsync of " + dir + ": " + strerror(errno);
  if (fd >= 0) close(fd);
  return ok;
}

bool trusted_dir(const std::string& dir, std::string* error) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    *error = "cannot look at " + dir + ": " + strerror(errno);
    return false;
  }
  const uid_t me = geteuid();
  if (st.st_uid != me && st.st_uid != 0) {
    *error = dir + " belongs to uid " + std::to_string(st.st_uid) + ", not to this user (uid " +
             std::to_string(me) + ") or root: its owner could replace what the daemon puts " +
             "there. Use a folder of your own (--socket, --admin-socket, --data-dir)";
    return false;
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
    char mode[8];
    snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    *error = dir + " can be written by other users (mode " + mode +
             "): they could replace what the daemon puts there. chmod go-w it, or use a " +
             "folder of your own";
    return false;
  }
  return true;
}

bool make_dirs(const std::string& path, unsigned mode, std::string* error) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    const std::string part = path.substr(0, i);
    if (mkdir(part.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
      *error = "cannot create directory " + part + ": " + strerror(errno);
      return false;
    }
  }
  return true;
}

}  // namespace ringdb::daemon
