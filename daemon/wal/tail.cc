#include "daemon/wal/tail.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <span>
#include <vector>

#include "daemon/wal/reader.h"

namespace ringdb::daemon::wal {

LogTail::~LogTail() {
  close_segment();
}

void LogTail::close_segment() {
  if (map_ != nullptr) munmap(const_cast<std::byte*>(map_), map_size_);
  if (fd_ >= 0) close(fd_);
  map_ = nullptr;
  map_size_ = 0;
  fd_ = -1;
}

bool LogTail::oldest_position(const std::string& dir, uint64_t* oldest) {
  std::vector<SegmentFile> segments;
  std::string error;
  if (!list_segments(dir, &segments, &error) || segments.empty()) return false;
  *oldest = segments.front().start_lsn;
  return true;
}

LogTail::Result LogTail::open_segment(uint64_t position, uint64_t* oldest, std::string* why) {
  close_segment();
  std::vector<SegmentFile> segments;
  if (!list_segments(dir_, &segments, why)) return Result::kDamaged;
  if (segments.empty() || position < segments.front().start_lsn) {
    *oldest = segments.empty() ? position : segments.front().start_lsn;
    return Result::kCompacted;
  }
  size_t i = segments.size() - 1;
  while (segments[i].start_lsn > position)
    --i;
  segment_next_ = i + 1 < segments.size() ? segments[i + 1].start_lsn : UINT64_MAX;
  fd_ = ::open(segments[i].path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd_ < 0 || fstat(fd_, &st) != 0) {
    if (errno == ENOENT) {  // removed since the listing
      *oldest = segment_next_;
      return Result::kCompacted;
    }
    *why = "cannot open the log segment " + segments[i].path + ": " + strerror(errno);
    close_segment();
    return Result::kDamaged;
  }
  map_size_ = static_cast<size_t>(st.st_size);
  void* map = map_size_ > kSegmentHeaderSize
                  ? mmap(nullptr, map_size_, PROT_READ, MAP_SHARED, fd_, 0)
                  : MAP_FAILED;
  SegmentHeader header;
  const char* bad = "too short";
  if (map == MAP_FAILED ||
      !decode_segment_header(std::span(static_cast<const std::byte*>(map), kSegmentHeaderSize),
                             &header, &bad) ||
      header.start_lsn != segments[i].start_lsn) {
    if (map != MAP_FAILED) munmap(map, map_size_);
    map_size_ = 0;
    *why = "the log segment " + segments[i].path + " cannot be read: " + bad;
    close_segment();
    return Result::kDamaged;
  }
  map_ = static_cast<const std::byte*>(map);
  segment_start_ = header.start_lsn;
  return Result::kOk;
}

LogTail::Result LogTail::seek(uint64_t position, uint64_t limit, uint64_t* oldest,
                              std::string* why) {
  if (position > limit) {
    *why = "the position is past the log's end";
    return Result::kBadPosition;
  }
  if (const Result r = open_segment(position, oldest, why); r != Result::kOk) return r;
  position_ = position;
  if (position == limit || position == segment_start_) return Result::kOk;
  // A record (or the segment's end record) must start exactly here: scan one.
  const uint64_t offset = kSegmentHeaderSize + (position - segment_start_);
  if (offset >= map_size_) {
    *why = "the position is not in the log";
    return Result::kBadPosition;
  }
  const auto bytes =
      std::span(map_ + offset, std::min<uint64_t>(map_size_ - offset, limit - position));
  const ScanResult scanned = scan(bytes, position, [](const Record&) { return false; });
  if (scanned.records == 1 || scanned.end == ScanEnd::kSegmentEnd) return Result::kOk;
  *why = "no record starts at that position";
  return Result::kBadPosition;
}

LogTail::Result LogTail::read(uint64_t limit, const std::function<Take(const Record&)>& visit,
                              uint64_t* oldest, std::string* why) {
  while (position_ < limit) {
    if (map_ == nullptr || position_ >= segment_next_) {
      if (const Result r = open_segment(position_, oldest, why); r != Result::kOk) return r;
    }
    const uint64_t offset = kSegmentHeaderSize + (position_ - segment_start_);
    if (offset >= map_size_) {  // (a version 1 segment has no end record)
      if (segment_next_ == position_) {
        close_segment();
        continue;
      }
      *why = "the log ends inside its durable part";
      return Result::kDamaged;
    }
    const auto bytes =
        std::span(map_ + offset, std::min<uint64_t>(map_size_ - offset, limit - position_));
    bool stopped = false;
    const ScanResult scanned = scan(bytes, position_, [&](const Record& record) {
      const Take take = visit(record);
      if (take == Take::kKeep) {
        stopped = true;
        return false;
      }
      position_ = record.lsn + record.size;
      stopped = take == Take::kStop;
      return !stopped;
    });
    if (stopped) return Result::kOk;
    if (scanned.end == ScanEnd::kSegmentEnd) {
      position_ = scanned.next_lsn;
      close_segment();
      continue;
    }
    if (position_ == limit) return Result::kOk;
    *why = std::string("a durable log record cannot be read: ") + scanned.why;
    return Result::kDamaged;
  }
  return Result::kOk;
}

}  // namespace ringdb::daemon::wal
