// Recovery of the write-ahead log (issue 5; format in docs/STORAGE.md): reads the segments of
// a log directory in LSN order, hands every valid record from `from_lsn` on to `apply`, stops
// at the first torn or corrupt record, and makes the log safe to continue from there:
//   - the rest of the segment where the scan stopped is zeroed (and synced), so that no later
//     scan can find old bytes past the new end;
//   - segments after that point (they lie beyond a gap) are renamed `*.discarded`, kept for an
//     operator to look at, and never read again;
//   - a last segment with no valid record is removed, so the writer can start a segment at
//     the same LSN.
// The log writer then goes on at result.next_lsn with segment id result.next_segment_id.
//
// Thread safety: none needed (runs before the daemon serves).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "daemon/wal/format.h"

namespace ringdb::daemon::wal {

struct RecoveryResult {
  uint64_t first_lsn = 0;        // the first LSN the log holds (0 if empty)
  uint64_t next_lsn = 0;         // where the log goes on
  uint64_t next_segment_id = 0;  // the id the writer's next segment takes
  uint64_t segments = 0;         // segment files read
  uint64_t records = 0;          // records handed to apply (from from_lsn on)
  uint64_t skipped = 0;          // valid records before from_lsn (in a checkpoint already)
  ScanEnd end = ScanEnd::kEndOfLog;
  std::string stopped_at;              // for kTorn/kCorrupt: the segment file and offset, and why
  uint64_t zeroed_bytes = 0;           // the tail made unreadable
  std::vector<std::string> discarded;  // segments renamed *.discarded
  double seconds = 0;
};

// `apply` returns false to abort recovery (then recover() fails with its message in error).
// `empty_lsn`: where a log with no segment at all starts.
bool recover(const std::string& dir, uint64_t from_lsn, uint64_t empty_lsn,
             const std::function<bool(const Record&, std::string* error)>& apply,
             RecoveryResult* result, std::string* error);

// After a checkpoint: removes the segments that hold only records below `lsn` (those whose
// successor starts at or below it), oldest first, then syncs the directory. The last segment
// is never removed. `removed` lists them.
bool remove_segments_below(const std::string& dir, uint64_t lsn, std::vector<std::string>* removed,
                           std::string* error);

}  // namespace ringdb::daemon::wal
