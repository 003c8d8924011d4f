#include "daemon/wal/reader.h"

#include "daemon/base/file_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

namespace ringdb::daemon::wal {
namespace {

namespace fs = std::filesystem;

struct SegmentFile {
  uint64_t start_lsn;
  std::string path;
};

// Zeroes [from, size) of the file and syncs it.
bool zero_tail(int fd, uint64_t from, uint64_t size, std::string* error) {
  static const std::vector<char> zeros(1 << 20, 0);
  for (uint64_t at = from; at < size;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), size - at));
    const ssize_t w = pwrite(fd, zeros.data(), n, static_cast<off_t>(at));
    if (w <= 0) {
      *error = std::string("zeroing the log's torn tail: ") + strerror(errno);
      return false;
    }
    at += static_cast<uint64_t>(w);
  }
  if (fdatasync(fd) != 0) {
    *error = std::string("fdatasync after zeroing the log's tail: ") + strerror(errno);
    return false;
  }
  return true;
}

bool list_segments(const std::string& dir, std::vector<SegmentFile>* segments, std::string* error) {
  segments->clear();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    uint64_t lsn;
    if (e.is_regular_file() && parse_segment_file_name(e.path().filename().string(), &lsn))
      segments->push_back(SegmentFile{lsn, e.path().string()});
  }
  if (ec) {
    *error = "cannot list the log directory " + dir + ": " + ec.message();
    return false;
  }
  std::sort(segments->begin(), segments->end(),
            [](const SegmentFile& a, const SegmentFile& b) { return a.start_lsn < b.start_lsn; });
  return true;
}

}  // namespace

bool remove_segments_below(const std::string& dir, uint64_t lsn, std::vector<std::string>* removed,
                           std::string* error) {
  removed->clear();
  std::vector<SegmentFile> segments;
  if (!list_segments(dir, &segments, error)) return false;
  // Segment i holds LSNs [start_i, start_i+1): all below `lsn` iff start_i+1 <= lsn. The last
  // one is never removed (the writer appends to it).
  for (size_t i = 0; i + 1 < segments.size() && segments[i + 1].start_lsn <= lsn; ++i) {
    if (unlink(segments[i].path.c_str()) != 0) {
      *error = "cannot remove the log segment " + segments[i].path + ": " + strerror(errno);
      return false;
    }
    removed->push_back(segments[i].path);
  }
  return removed->empty() || sync_dir(dir, error);
}

bool recover(const std::string& dir, uint64_t from_lsn, uint64_t empty_lsn,
             const std::function<bool(const Record&, std::string* error)>& apply,
             RecoveryResult* result, std::string* error) {
  const auto started = std::chrono::steady_clock::now();
  *result = RecoveryResult{};
  std::vector<SegmentFile> segments;
  if (!list_segments(dir, &segments, error)) return false;
  if (!segments.empty() && segments.front().start_lsn > from_lsn) {
    *error = "the log starts at LSN " + std::to_string(segments.front().start_lsn) + " (" +
             segments.front().path + "), after LSN " + std::to_string(from_lsn) +
             " where replay must begin: log segments are missing" +
             (from_lsn == 0 ? " (and there is no valid checkpoint)" : "");
    return false;
  }

  uint64_t lsn = empty_lsn;
  bool have_lsn = false;
  uint64_t last_id = 0;
  bool any_kept = false;
  bool removed_empty = false;            // the last segment had no record and was removed
  size_t stop_before = segments.size();  // segments from here on are discarded
  for (size_t i = 0; i < segments.size(); ++i) {
    const SegmentFile& seg = segments[i];
    MappedFile file;
    if (!file.open(seg.path, error, /*writable=*/true)) return false;
    SegmentHeader h;
    const char* why = "";
    if (!decode_segment_header(file.bytes(), &h, &why) || h.start_lsn != seg.start_lsn ||
        (have_lsn && h.start_lsn != lsn)) {
      result->end = ScanEnd::kCorrupt;
      result->stopped_at =
          seg.path + ": " + (*why != '\0' ? why : "the segment does not continue the log");
      stop_before = i;
      break;
    }
    if (!have_lsn) {
      result->first_lsn = h.start_lsn;
      lsn = h.start_lsn;
      have_lsn = true;
    }
    ++result->segments;
    std::string apply_error;
    bool apply_failed = false;
    const ScanResult r =
        scan(file.bytes().subspan(kSegmentHeaderSize), lsn, [&](const Record& rec) {
          if (rec.lsn < from_lsn) {
            ++result->skipped;
            return true;
          }
          if (!apply(rec, &apply_error)) {
            apply_failed = true;
            return false;
          }
          ++result->records;
          return true;
        });
    if (apply_failed) {
      *error = "replaying the log record at LSN " + std::to_string(r.next_lsn) + ": " + apply_error;
      return false;
    }
    lsn = r.next_lsn;
    const bool last = i + 1 == segments.size();
    if (r.valid_bytes == 0 && r.end == ScanEnd::kEndOfLog && last) {
      // Created, never written: the writer makes it again, same LSN and id.
      if (unlink(seg.path.c_str()) != 0) {
        *error = "cannot remove the empty log segment " + seg.path + ": " + strerror(errno);
        return false;
      }
      removed_empty = true;
      last_id = h.segment_id;
      break;
    }
    if (r.end != ScanEnd::kEndOfLog) {
      result->end = r.end;
      const uint64_t offset = kSegmentHeaderSize + r.valid_bytes;
      result->stopped_at = seg.path + " at offset " + std::to_string(offset) + ": " + r.why;
      if (r.valid_bytes == 0) {  // nothing of it is kept: set it aside whole, with the rest
        stop_before = i;
        break;
      }
      any_kept = true;
      last_id = h.segment_id;
      const uint64_t size = file.bytes().size();
      if (!zero_tail(file.fd(), offset, size, error)) return false;
      result->zeroed_bytes = size - offset;
      stop_before = i + 1;
      break;
    }
    any_kept = true;
    last_id = h.segment_id;
  }
  for (size_t i = stop_before; i < segments.size(); ++i) {
    const std::string to = segments[i].path + ".discarded";
    if (rename(segments[i].path.c_str(), to.c_str()) != 0) {
      *error = "cannot set aside the log segment " + segments[i].path + ": " + strerror(errno);
      return false;
    }
    result->discarded.push_back(to);
  }
  if (have_lsn && from_lsn > lsn) {
    *error = "the log ends at LSN " + std::to_string(lsn) + ", before the checkpoint's LSN " +
             std::to_string(from_lsn) + ": log segments are missing";
    return false;
  }
  result->next_lsn = have_lsn ? lsn : std::max(empty_lsn, from_lsn);
  result->next_segment_id = removed_empty ? last_id : any_kept ? last_id + 1 : 0;
  result->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const bool changed = removed_empty || !result->discarded.empty() || result->zeroed_bytes != 0;
  return !changed || sync_dir(dir, error);
}

}  // namespace ringdb::daemon::wal
