// Small pieces the on-disk formats share (the write-ahead log, checkpoints): little-endian
// field access in byte buffers, a whole file mapped for reading, paced writeback of a large
// file, a directory's fsync, and the text of an errno value for messages.
//
// Thread safety: MappedFile is used by one thread; the functions have no shared state.
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <string>

namespace ringdb::daemon {

// strerror(err) as a string, for error messages ("cannot open X: " + errno_text(errno)).
inline std::string errno_text(int err) {
  return std::strerror(err);
}

// Fixed-width fields at `p` (the formats are little-endian; so is every host ringdb runs on).
template <typename T>
T load_le(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
void store_le(std::byte* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

// A file mapped read-only, whole (or its first `at_most` bytes). The descriptor stays open
// (read-write if asked) for the caller's own writes, e.g. zeroing a torn tail.
class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // false with `error` ("PATH: why").
  bool open(const std::string& path, std::string* error, bool writable = false,
            size_t at_most = SIZE_MAX);
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

// Keeps a large file's dirty pages few while it is written front to back (a checkpoint, a
// backup's copy): each time another `window` bytes are written, it starts their writeback
// and waits for the window before (sync_file_range), then drops that one from the page cache.
// A log fdatasync beside it then queues behind at most two windows of writes, not behind the
// whole file at its final fdatasync, and the copy does not push hot pages out of memory.
// Only a pacing aid: errors show at the caller's final fdatasync, which stays.
class WriteBehind {
 public:
  static constexpr uint64_t kWindow = uint64_t{1} << 20;
  // Bytes [0, end) of `fd` have been written.
  void advance(int fd, uint64_t end);

 private:
  uint64_t started_ = 0;  // bytes handed to writeback so far, whole windows
};

// fsync of a directory (after creating, renaming or removing entries in it).
bool sync_dir(const std::string& dir, std::string* error);

// mkdir -p: creates `path` and its missing parents with `mode`.
bool make_dirs(const std::string& path, unsigned mode, std::string* error);

// Whether the daemon may trust folder `dir` with its sockets or data: owned by this process's
// user or by root, and writable by no one else unless sticky (as /tmp, where others can
// neither remove nor rename our files). false with *error saying why not.
bool trusted_dir(const std::string& dir, std::string* error);

}  // namespace ringdb::daemon
