// The write-ahead log's on-disk format (docs/STORAGE.md): segment files of records, each
// record one committed transaction's redo, checked by CRC32C. This file encodes and scans;
// the log writer (group commit over io_uring) and recovery build on it.
//
// Log sequence numbers (LSN) are byte positions in the logical log: a record's LSN is where it
// begins, and the next record begins at lsn + record_size(). A segment file holds the records
// from its header's start_lsn on, back to back; a record never spans two segments (the writer
// opens the next segment, starting at the current LSN, when a batch does not fit).
//
// A segment file (all integers little-endian):
//   SegmentHeader (4096 bytes: one page, so that records start aligned for O_DIRECT)
//   record, record, ...   each 8-byte aligned
//   [segment end]         (version 2) the record that says the log goes on in the next segment
//   zeros                 the preallocated rest
//
// A record:
//   u32 crc        CRC32C of every byte after this field up to the end of the body
//   u32 body_len   bytes of body after the 32-byte header (padding not included)
//   u64 lsn        this record's LSN: must equal the position the scan expects
//   u64 txn        the transaction's id (for people and tools: replay goes by LSN)
//   u32 op_count
//   u32 type       1 = commit, 2 = segment end (no body, op_count 0, txn = the next
//                  segment's id; the next segment starts at this record's LSN + 32)
//   body: op_count times { u8 kind (1 put, 2 delete); u8 zero[3]; u32 key_len;
//                          u32 value_len (0 for delete); key; value }
//   zero padding to the next multiple of 8
//
// A scan accepts a record only when the whole of it is present, its LSN is the expected one,
// its CRC matches, and its body decodes to exactly op_count ops of valid kinds and lengths;
// it stops at the first record that is not, and reports why: the end of the written log
// (zeros where a record would start), a torn record (cut short), or a corrupt one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringdb::daemon::wal {

inline constexpr uint64_t kSegmentMagic = 0x31304c4157424452;  // "RDBWAL01" little-endian
// Version 2 added the header's file_bytes and the segment-end record; a version 1 log is read
// (its segments are neither size-checked nor sealed), and the writer writes version 2.
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kOldestFormatVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 4096;
inline constexpr size_t kRecordHeaderSize = 32;
inline constexpr size_t kOpHeaderSize = 12;
// The largest record body the format accepts (a bound for the scanner: a corrupt length must
// not make it read or allocate without limit). 64 MiB: 64 values of the 1 MiB maximum.
inline constexpr uint32_t kRecordBodyMax = 64u << 20;
inline constexpr uint32_t kRecordTypeCommit = 1;
inline constexpr uint32_t kRecordTypeSegmentEnd = 2;
// The room the writer keeps at the end of every segment for its segment-end record.
inline constexpr size_t kSegmentEndSize = kRecordHeaderSize;

enum class OpKind : uint8_t { kPut = 1, kDelete = 2 };

struct Op {
  OpKind kind;
  std::string_view key;
  std::string_view value;  // empty for kDelete
};

struct SegmentHeader {
  uint64_t start_lsn = 0;   // the LSN of the first record in the segment
  uint64_t segment_id = 0;  // 0, 1, 2... in log order
  uint64_t created_ns = 0;  // CLOCK_REALTIME, for people
  uint64_t file_bytes = 0;  // the size the file was made (version 2; 0 in version 1)
  uint32_t version = kFormatVersion;
};

// A segment's file name: wal-<the LSN of its first record, 16 lower-case hex digits>.log.
// Built and recognised here only (the writer, the reader, the admin socket). The writer makes
// a segment under its name + kNewSegmentSuffix, then renames it.
std::string segment_file_name(uint64_t start_lsn);
inline constexpr std::string_view kNewSegmentSuffix = ".new";
// true, with *start_lsn, if `name` is a segment's file name.
bool parse_segment_file_name(std::string_view name, uint64_t* start_lsn);

// Encodes a segment header into exactly kSegmentHeaderSize bytes at `out`.
void encode_segment_header(const SegmentHeader& header, std::byte* out);
// Decodes and checks magic, version (kOldestFormatVersion..kFormatVersion) and checksum; false
// (with `why`) if any is wrong.
bool decode_segment_header(std::span<const std::byte> bytes, SegmentHeader* header,
                           const char** why);

// The bytes a record with these ops takes in the log (header, body, padding).
size_t record_size(std::span<const Op> ops);
// Appends one commit record at LSN `lsn` to *out.
void append_record(uint64_t lsn, uint64_t txn, std::span<const Op> ops, std::string* out);
// Appends the segment-end record (kSegmentEndSize bytes) at LSN `lsn` to *out.
void append_segment_end(uint64_t lsn, uint64_t next_segment_id, std::string* out);

// Gives the encoded record at `record` (as append_record wrote it) the LSN `lsn`, and its
// checksum again. The log writer encodes records before it knows where they go.
void set_record_lsn(std::byte* record, uint64_t lsn);

struct Record {
  uint64_t lsn = 0;
  uint64_t txn = 0;
  std::vector<Op> ops;  // views into the scanned bytes
  size_t size = 0;      // record_size(ops)
};

enum class ScanEnd {
  kEndOfLog,    // zeros (or nothing) where the next record would start: a clean end
  kTorn,        // a record cut short by the end of the bytes
  kCorrupt,     // a record present in full that fails a check
  kSegmentEnd,  // the segment-end record (counted in valid_bytes and next_lsn, not in records)
};

struct ScanResult {
  ScanEnd end = ScanEnd::kEndOfLog;
  uint64_t next_lsn = 0;   // the LSN after the last accepted record
  size_t valid_bytes = 0;  // bytes of `bytes` the accepted records take (truncate here)
  size_t records = 0;
  const char* why = "";  // for kTorn and kCorrupt: which check failed
};

// Whether the bytes of `rest` before `known` (the rest unknown: a write that did not finish)
// could begin a record expected at LSN `lsn`: the LSN field, where known, is `lsn`; with the
// whole header known, the body length is within bounds and the operations whose headers are
// known add up to it. *body_end: where that record's body ends, from the start of `rest`
// (0 if its header is not wholly known). Recovery's torn-write test (reader.cc).
bool could_begin_record(std::span<const std::byte> rest, size_t known, uint64_t lsn,
                        size_t* body_end);

// Whether every byte is zero.
bool all_zero(std::span<const std::byte> bytes);

// Scans records from the start of `bytes` (the part of a segment after its header), the
// first expected at `start_lsn`, calling on_record for each accepted one, in order.
// on_record's Record views into `bytes`; it may return false to stop early (then the result
// says kEndOfLog and counts the records up to and including that one). A segment-end record
// ends the scan (kSegmentEnd); what follows it is not looked at.
ScanResult scan(std::span<const std::byte> bytes, uint64_t start_lsn,
                const std::function<bool(const Record&)>& on_record);

}  // namespace ringdb::daemon::wal
