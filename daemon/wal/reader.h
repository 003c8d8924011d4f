// Recovery of the write-ahead log (issues 5 and 12; format in docs/STORAGE.md): reads the
// segments of a log directory in LSN order, hands every valid record from `from_lsn` on to
// `apply`, and finds where and how the log ends:
//   - kClean: zeros where the next record would start. Nothing is changed.
//   - kTornTail: the last write was cut short by a crash (it was never acknowledged): damage in
//     the last segment with no valid record after it, shaped as an unfinished write (a record
//     whose header or body is missing whole 512-byte sectors, or only zeros where its header
//     would be; see torn_shaped() in reader.cc). Only those bytes are cleared (zeroed and synced),
//     after a copy of them is saved in DIR/set-aside/.
//   - kDamaged: anything else that stops the log before its end: a bad record with valid
//     records after it or in later segments, a bad record shaped as a finished one, a missing
//     or truncated segment (segments of version 2 are sealed with a segment-end record when the
//     log leaves them, so a missing last segment is seen too), a bad segment header. In
//     kStrict mode (the default) recover() refuses and changes nothing; result.damage says
//     where, why, and which valid records follow (describe_damage() writes it for people). In
//     kPointInTime mode (the operator's explicit choice) the log is kept up to the damage: the
//     damaged segment is copied to DIR/set-aside/ and cleared from the damage on, and later
//     segments are moved there.
// Files that hold no record and were left by a crash are removed: a segment the writer was
// still making (*.new: a segment takes its name only once whole), and an empty segment after an
// unsealed one (a segment switch cut short). With `dry_run` nothing at all is changed
// (ringdb-admin verify).
//
// The writer then goes on at result.next_lsn: in the segment recovery leaves open
// (continue_segment at continue_offset) or in a new one numbered next_segment_id.
//
// Segments wholly below from_lsn (the checkpoint holds their records) are not read.
//
// Thread safety: none needed (runs before the daemon serves, or in a tool).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "daemon/wal/format.h"

namespace ringdb::daemon::wal {

enum class RecoveryMode {
  kStrict,       // damage refuses
  kPointInTime,  // damage: recover to the last consistent point before it (see above)
};

struct RecoveryOptions {
  uint64_t from_lsn = 0;   // replay from here (the checkpoint's LSN)
  uint64_t empty_lsn = 0;  // where a log with no segment at all starts
  RecoveryMode mode = RecoveryMode::kStrict;
  bool dry_run = false;    // change nothing; damage is reported in the result, not refused
  bool whole_log = false;  // read from the first segment, wherever it starts (not from_lsn)
};

enum class LogEnd { kClean, kTornTail, kDamaged };
const char* log_end_name(LogEnd end);  // "clean", "torn tail", "damaged"

struct LogDamage {
  std::string file;     // the segment where the consistent log ends
  uint64_t offset = 0;  // and where in it
  uint64_t lsn = 0;     // every record below this LSN is intact
  std::string why;
  // Valid records found after the damage (what cutting there would lose):
  uint64_t after_records = 0;
  uint64_t after_first_lsn = 0;
  uint64_t after_end_lsn = 0;
};

struct RecoveryResult {
  uint64_t first_lsn = 0;  // the first LSN read (0 if the log is empty)
  uint64_t next_lsn = 0;   // where the log goes on
  // The writer appends to this segment (a version 2 segment, unsealed, of continue_bytes) at
  // continue_offset; empty: it creates a segment numbered next_segment_id at next_lsn.
  std::string continue_segment;
  uint64_t continue_offset = 0;
  uint64_t continue_bytes = 0;
  uint64_t next_segment_id = 0;  // (of continue_segment when there is one)
  uint64_t segments = 0;         // segment files read
  uint64_t records = 0;          // records handed to apply (from from_lsn on)
  uint64_t skipped = 0;          // valid records read below from_lsn
  LogEnd end = LogEnd::kClean;
  LogDamage damage;                    // for kTornTail and kDamaged
  uint64_t cleared_bytes = 0;          // zeroed: the torn tail, or the rest after the damage
  std::vector<std::string> set_aside;  // files copied or moved into DIR/set-aside/
  std::vector<std::string> removed;    // record-less files left by a crash, removed
  double seconds = 0;
};

// For people: where the damage is, why, and what follows it.
std::string describe_damage(const LogDamage& damage);

// `apply` returns false to abort recovery (then recover() fails with its message in error).
// false with `error` on I/O errors, a log that does not reach from_lsn, and (kStrict, not
// dry_run) damage, described by describe_damage() and also in result->damage.
bool recover(const std::string& dir, const RecoveryOptions& options,
             const std::function<bool(const Record&, std::string* error)>& apply,
             RecoveryResult* result, std::string* error);

struct SegmentFile {
  uint64_t start_lsn;
  std::string path;
};
// The segment files of `dir`, in LSN order; `unfinished` (if given): segments the writer was
// making when it crashed (name + kNewSegmentSuffix).
bool list_segments(const std::string& dir, std::vector<SegmentFile>* segments, std::string* error,
                   std::vector<std::string>* unfinished = nullptr);

// After a checkpoint: removes the segments that hold only records below `lsn` (those whose
// successor starts at or below it), oldest first, then syncs the directory. The last segment
// is never removed. `removed` lists them.
bool remove_segments_below(const std::string& dir, uint64_t lsn, std::vector<std::string>* removed,
                           std::string* error);

}  // namespace ringdb::daemon::wal
