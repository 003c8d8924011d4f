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

// recover()'s steps over the segments, in LSN order.
class Replay {
 public:
  using Apply = std::function<bool(const Record&, std::string* error)>;
  enum class Step {
    kNext,              // the segment was read whole: go on
    kSetAsideFromHere,  // the log ended before anything of this segment: it and later ones go
    kSetAsideAfter,     // the log ends inside this segment (its tail was zeroed): later ones go
    kDone,              // the last segment was empty and is removed
    kFailed,            // *error says why
  };

  Replay(uint64_t from_lsn, uint64_t empty_lsn, const Apply& apply, RecoveryResult* result,
         std::string* error)
      : from_lsn_(from_lsn),
        lsn_(empty_lsn),
        empty_lsn_(empty_lsn),
        apply_(apply),
        result_(result),
        error_(error) {}

  // Replay must begin at from_lsn: the oldest segment may not start after it.
  bool check_start(const std::vector<SegmentFile>& segments) {
    if (segments.empty() || segments.front().start_lsn <= from_lsn_) return true;
    *error_ = "the log starts at LSN " + std::to_string(segments.front().start_lsn) + " (" +
              segments.front().path + "), after LSN " + std::to_string(from_lsn_) +
              " where replay must begin: log segments are missing" +
              (from_lsn_ == 0 ? " (and there is no valid checkpoint)" : "");
    return false;
  }

  // Checks the segment's header, replays its records from from_lsn on, and decides how the
  // log goes on after it.
  Step segment(const SegmentFile& seg, bool last) {
    MappedFile file;
    if (!file.open(seg.path, error_, /*writable=*/true)) return Step::kFailed;
    SegmentHeader h;
    const char* why = "";
    if (!decode_segment_header(file.bytes(), &h, &why) || h.start_lsn != seg.start_lsn ||
        (have_lsn_ && h.start_lsn != lsn_)) {
      result_->end = ScanEnd::kCorrupt;
      result_->stopped_at =
          seg.path + ": " + (*why != '\0' ? why : "the segment does not continue the log");
      return Step::kSetAsideFromHere;
    }
    if (!have_lsn_) {
      result_->first_lsn = h.start_lsn;
      lsn_ = h.start_lsn;
      have_lsn_ = true;
    }
    ++result_->segments;
    ScanResult r;
    if (!replay_records(file.bytes().subspan(kSegmentHeaderSize), &r)) return Step::kFailed;
    lsn_ = r.next_lsn;
    if (r.valid_bytes == 0 && r.end == ScanEnd::kEndOfLog && last) {
      // Created, never written: the writer makes it again, same LSN and id.
      if (unlink(seg.path.c_str()) != 0) {
        *error_ = "cannot remove the empty log segment " + seg.path + ": " + strerror(errno);
        return Step::kFailed;
      }
      removed_empty_ = true;
      last_id_ = h.segment_id;
      return Step::kDone;
    }
    if (r.end == ScanEnd::kEndOfLog) {
      kept(h);
      return Step::kNext;
    }
    return end_inside(seg, file, h, r);
  }

  // After the set-aside: the log must reach from_lsn; where the writer goes on.
  bool finish() {
    if (have_lsn_ && from_lsn_ > lsn_) {
      *error_ = "the log ends at LSN " + std::to_string(lsn_) + ", before the checkpoint's LSN " +
                std::to_string(from_lsn_) + ": log segments are missing";
      return false;
    }
    result_->next_lsn = have_lsn_ ? lsn_ : std::max(empty_lsn_, from_lsn_);
    result_->next_segment_id = removed_empty_ ? last_id_ : any_kept_ ? last_id_ + 1 : 0;
    return true;
  }

  bool removed_empty() const { return removed_empty_; }

 private:
  bool replay_records(std::span<const std::byte> records, ScanResult* r) {
    std::string apply_error;
    bool apply_failed = false;
    *r = scan(records, lsn_, [&](const Record& rec) {
      if (rec.lsn < from_lsn_) {
        ++result_->skipped;
        return true;
      }
      if (!apply_(rec, &apply_error)) {
        apply_failed = true;
        return false;
      }
      ++result_->records;
      return true;
    });
    if (apply_failed) {
      *error_ =
          "replaying the log record at LSN " + std::to_string(r->next_lsn) + ": " + apply_error;
    }
    return !apply_failed;
  }

  // The log ends inside this segment (a torn or corrupt record): what is valid before it is
  // kept, the rest of the file zeroed.
  Step end_inside(const SegmentFile& seg, const MappedFile& file, const SegmentHeader& h,
                  const ScanResult& r) {
    result_->end = r.end;
    const uint64_t offset = kSegmentHeaderSize + r.valid_bytes;
    result_->stopped_at = seg.path + " at offset " + std::to_string(offset) + ": " + r.why;
    if (r.valid_bytes == 0) return Step::kSetAsideFromHere;  // nothing of it is kept
    kept(h);
    const uint64_t size = file.bytes().size();
    if (!zero_tail(file.fd(), offset, size, error_)) return Step::kFailed;
    result_->zeroed_bytes = size - offset;
    return Step::kSetAsideAfter;
  }

  void kept(const SegmentHeader& h) {
    any_kept_ = true;
    last_id_ = h.segment_id;
  }

  const uint64_t from_lsn_;
  uint64_t lsn_;  // where the next record must start
  const uint64_t empty_lsn_;
  const Apply& apply_;
  RecoveryResult* const result_;
  std::string* const error_;
  bool have_lsn_ = false;
  uint64_t last_id_ = 0;
  bool any_kept_ = false;
  bool removed_empty_ = false;  // the last segment had no record and was removed
};

// Renames segments [from, end) to *.discarded: beyond the end of the valid log.
bool set_aside(const std::vector<SegmentFile>& segments, size_t from, RecoveryResult* result,
               std::string* error) {
  for (size_t i = from; i < segments.size(); ++i) {
    const std::string to = segments[i].path + ".discarded";
    if (rename(segments[i].path.c_str(), to.c_str()) != 0) {
      *error = "cannot set aside the log segment " + segments[i].path + ": " + strerror(errno);
      return false;
    }
    result->discarded.push_back(to);
  }
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
  Replay replay(from_lsn, empty_lsn, apply, result, error);
  if (!replay.check_start(segments)) return false;
  size_t stop_before = segments.size();  // segments from here on are set aside
  for (size_t i = 0; i < segments.size(); ++i) {
    const Replay::Step step = replay.segment(segments[i], i + 1 == segments.size());
    if (step == Replay::Step::kFailed) return false;
    if (step == Replay::Step::kNext) continue;
    if (step == Replay::Step::kSetAsideFromHere) stop_before = i;
    if (step == Replay::Step::kSetAsideAfter) stop_before = i + 1;
    break;
  }
  if (!set_aside(segments, stop_before, result, error) || !replay.finish()) return false;
  result->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const bool changed =
      replay.removed_empty() || !result->discarded.empty() || result->zeroed_bytes != 0;
  return !changed || sync_dir(dir, error);
}

}  // namespace ringdb::daemon::wal
