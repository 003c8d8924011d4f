// Checkpointer::backup (checkpoint.h): a checkpoint, then the log after it, copied while the
// daemon serves. Holding run_mu_ keeps every file it needs in place: checkpoints are removed,
// and log segments trimmed, only by a checkpoint's run.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "daemon/base/file_util.h"
#include "daemon/base/log.h"
#include "daemon/durability/checkpoint.h"
#include "daemon/wal/format.h"
#include "daemon/wal/reader.h"
#include "sync/clock.h"

namespace ringdb::daemon {
namespace {

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

std::string base_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Closes a descriptor when it goes.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// Copies the first `length` bytes of `from` into a new file `to` (mode 0600), then makes `to`
// `size` bytes long (the rest zeros, without writing them), and syncs it. Adds the bytes
// copied to *copied.
bool copy_prefix(const std::string& from, const std::string& to, uint64_t length, uint64_t size,
                 uint64_t* copied, std::string* error) {
  Fd in{open(from.c_str(), O_RDONLY | O_CLOEXEC)};
  if (in.fd < 0) return *error = errno_text(from), false;
  Fd out{open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
  if (out.fd < 0) return *error = errno_text(to), false;
  constexpr size_t kChunk = size_t{1} << 20;
  const std::unique_ptr<char[]> buffer(new char[kChunk]);
  WriteBehind write_behind;  // the log's fdatasyncs meanwhile wait behind little
  for (uint64_t at = 0; at < length;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, length - at));
    const ssize_t n = pread(in.fd, buffer.get(), want, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return *error = n == 0 ? from + ": shorter than expected" : errno_text(from), false;
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = pwrite(out.fd, buffer.get() + done, static_cast<size_t>(n - done),
                               static_cast<off_t>(at + static_cast<uint64_t>(done)));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return *error = errno_text(to), false;
      done += w;
    }
    at += static_cast<uint64_t>(n);
    write_behind.advance(out.fd, at);
  }
  *copied += length;
  if (size > length && ftruncate(out.fd, static_cast<off_t>(size)) != 0) {
    return *error = errno_text(to), false;
  }
  if (fdatasync(out.fd) != 0) return *error = errno_text(to), false;
  return true;
}

bool file_size(const std::string& path, uint64_t* size, std::string* error) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return *error = errno_text(path), false;
  *size = static_cast<uint64_t>(st.st_size);
  return true;
}

}  // namespace

bool Checkpointer::backup(const std::string& target, const std::string& csn_epoch_file,
                          BackupResult* result, std::string* error) {
  *result = BackupResult{};
  if (target.empty() || target[0] != '/') {
    *error = "the backup's directory must be an absolute path, not '" + target + "'";
    return false;
  }
  sync::MutexGuard guard(run_mu_);
  const int64_t started = sync::now_ns();
  // The directory first: a backup over an existing one, or into a place the daemon cannot
  // write, fails before the checkpoint's work.
  if (mkdir(target.c_str(), 0700) != 0) {
    *error = errno == EEXIST ? target + " already exists: a backup goes to a new directory"
                             : errno_text(target);
    return false;
  }
  const std::string wal_target = target + "/wal";
  const std::string checkpoints_target = target + "/checkpoints";
  if (mkdir(wal_target.c_str(), 0700) != 0) return *error = errno_text(wal_target), false;
  if (mkdir(checkpoints_target.c_str(), 0700) != 0) {
    return *error = errno_text(checkpoints_target), false;
  }

  CheckpointResult checkpoint;
  if (!run_locked(/*force=*/true, &checkpoint, error)) return false;
  result->checkpoint = checkpoint.info;
  // Every record below it is on disk; the checkpoint's replay start is at or below it.
  const uint64_t end = log_->durable_lsn();
  result->log_end = end;

  uint64_t size = 0;
  if (!file_size(checkpoint.info.path, &size, error) ||
      !copy_prefix(checkpoint.info.path, checkpoints_target + "/" + base_name(checkpoint.info.path),
                   size, size, &result->bytes, error)) {
    return false;
  }

  std::vector<wal::SegmentFile> segments;
  if (!wal::list_segments(options_.wal_dir, &segments, error)) return false;
  // From the segment holding the replay start: its successor starts after it.
  size_t first = 0;
  while (first + 1 < segments.size() && segments[first + 1].start_lsn <= checkpoint.info.wal_lsn)
    ++first;
  for (size_t i = first; i < segments.size(); ++i) {
    const wal::SegmentFile& s = segments[i];
    // Wholly after the copy's end. (One that starts exactly there is kept, empty: the log
    // had moved to it, and its predecessor ends with a segment-end record.)
    if (i > first && s.start_lsn > end) break;
    if (!file_size(s.path, &size, error)) return false;
    // A segment the log has left (its successor starts at or below the end) is copied whole;
    // the one holding the end is copied up to it.
    const bool left = i + 1 < segments.size() && segments[i + 1].start_lsn <= end;
    const uint64_t length = left ? size : wal::kSegmentHeaderSize + (end - s.start_lsn);
    if (length > size) {
      *error = s.path + ": shorter than the durable log it should hold";
      return false;
    }
    if (!copy_prefix(s.path, wal_target + "/" + base_name(s.path), length, size, &result->bytes,
                     error)) {
      return false;
    }
    ++result->segments;
  }

  if (access(csn_epoch_file.c_str(), F_OK) == 0) {
    if (!file_size(csn_epoch_file, &size, error) ||
        !copy_prefix(csn_epoch_file, target + "/" + base_name(csn_epoch_file), size, size,
                     &result->bytes, error)) {
      return false;
    }
  }
  if (!sync_dir(wal_target, error) || !sync_dir(checkpoints_target, error) ||
      !sync_dir(target, error)) {
    return false;
  }
  result->seconds = static_cast<double>(sync::now_ns() - started) / 1e9;
  log(LogLevel::kInfo,
      "backup to %s: checkpoint %lu and the log from LSN %lu to %lu (%zu segments), %lu bytes, "
      "in %.3f s",
      target.c_str(), static_cast<unsigned long>(checkpoint.info.seq),
      static_cast<unsigned long>(checkpoint.info.wal_lsn), static_cast<unsigned long>(end),
      result->segments, static_cast<unsigned long>(result->bytes), result->seconds);
  return true;
}

}  // namespace ringdb::daemon
