// LogTail: reads the log's records in order from a position while the writer appends, for
// watches (issue 16): the records of the segment files, mapped read-only, as the writer left
// them in the page cache. A position is an LSN where a record (or a segment-end record)
// starts, or the log's end; positions stay valid across restarts, since recovery never moves
// a record.
//
// Only the bytes below the caller's `limit` are read (the log's durable and applied end:
// daemon/service/watch_hub.h), so the tail never meets a record being written. Every record
// is checked as recovery checks it (wal::scan: LSN, length, CRC32C).
//
// Thread safety: one user at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "daemon/wal/format.h"

namespace ringdb::daemon::wal {

class LogTail {
 public:
  explicit LogTail(std::string dir) : dir_(std::move(dir)) {}
  ~LogTail();
  LogTail(const LogTail&) = delete;
  LogTail& operator=(const LogTail&) = delete;

  enum class Result {
    kOk,
    kCompacted,    // the segment holding the position was removed; *oldest: the first LSN kept
    kBadPosition,  // no record starts there (or it is past `limit`)
    kDamaged,      // a record below the limit fails its checks, or a segment is unreadable
  };

  // Moves to `position` and checks that a record, a segment end or the limit is there.
  Result seek(uint64_t position, uint64_t limit, uint64_t* oldest, std::string* why);

  // What the visitor does with a record.
  enum class Take {
    kNext,  // taken: go on
    kStop,  // taken: stop here
    kKeep,  // not taken: the tail stays before it
  };
  // Hands the records from the position up to `limit` to `visit`, in order. kOk when the
  // limit was reached or the visitor stopped.
  Result read(uint64_t limit, const std::function<Take(const Record&)>& visit, uint64_t* oldest,
              std::string* why);

  uint64_t position() const { return position_; }

  // The first LSN the log directory holds (its oldest segment's start); false if none.
  static bool oldest_position(const std::string& dir, uint64_t* oldest);

 private:
  // Maps the segment holding `position` (or starting at it).
  Result open_segment(uint64_t position, uint64_t* oldest, std::string* why);
  void close_segment();

  const std::string dir_;
  uint64_t position_ = 0;
  int fd_ = -1;
  const std::byte* map_ = nullptr;
  size_t map_size_ = 0;
  uint64_t segment_start_ = 0;  // the LSN at the mapped segment's first record
  uint64_t segment_next_ = 0;   // where the next segment starts (UINT64_MAX: the last one)
};

}  // namespace ringdb::daemon::wal
