#include "daemon/wal/format.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>

#include "daemon/base/crc32c.h"
#include "daemon/base/file_util.h"

namespace ringdb::daemon::wal {

static_assert(std::endian::native == std::endian::little,
              "the log format is little-endian; a big-endian build needs byte swaps here");

namespace {

// Segment header fields (the rest of the page is zero).
constexpr size_t kMagicAt = 0, kVersionAt = 8, kHeaderCrcAt = 12, kStartLsnAt = 16,
                 kSegmentIdAt = 24, kCreatedAt = 32, kFileBytesAt = 40, kHeaderCheckedEnd = 64;

// Record header fields.
constexpr size_t kCrcAt = 0, kBodyLenAt = 4, kLsnAt = 8, kTxnAt = 16, kOpCountAt = 24, kTypeAt = 28;

size_t align8(size_t n) {
  return (n + 7) & ~size_t{7};
}

size_t body_size(std::span<const Op> ops) {
  size_t n = 0;
  for (const Op& op : ops)
    n += kOpHeaderSize + op.key.size() + op.value.size();
  return n;
}

// Appends a record's room (zero-filled: the padding) to *out and writes its header fields but
// the checksum; returns where the record starts.
std::byte* start_record(uint32_t type, uint64_t lsn, uint64_t txn, size_t op_count, size_t body,
                        std::string* out) {
  const size_t begin = out->size();
  out->resize(begin + align8(kRecordHeaderSize + body));
  std::byte* r = reinterpret_cast<std::byte*>(out->data()) + begin;
  store_le(r + kBodyLenAt, static_cast<uint32_t>(body));
  store_le(r + kLsnAt, lsn);
  store_le(r + kTxnAt, txn);
  store_le(r + kOpCountAt, static_cast<uint32_t>(op_count));
  store_le(r + kTypeAt, type);
  return r;
}

// The checksum: over the header after it and the `body` bytes.
void store_record_crc(std::byte* r, size_t body) {
  store_le(r + kCrcAt, crc32c(r + kBodyLenAt, kRecordHeaderSize - kBodyLenAt + body));
}

}  // namespace

bool all_zero(std::span<const std::byte> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

std::string segment_file_name(uint64_t start_lsn) {
  char name[32];
  snprintf(name, sizeof name, "wal-%016llx.log", static_cast<unsigned long long>(start_lsn));
  return name;
}

bool parse_segment_file_name(std::string_view name, uint64_t* start_lsn) {
  constexpr std::string_view kPrefix = "wal-", kSuffix = ".log";
  constexpr size_t kDigits = 16;
  if (name.size() != kPrefix.size() + kDigits + kSuffix.size() || !name.starts_with(kPrefix) ||
      !name.ends_with(kSuffix))
    return false;
  uint64_t v = 0;
  for (const char c : name.substr(kPrefix.size(), kDigits)) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return false;
    }
    v = v << 4 | static_cast<uint64_t>(d);
  }
  *start_lsn = v;
  return true;
}

void encode_segment_header(const SegmentHeader& header, std::byte* out) {
  std::memset(out, 0, kSegmentHeaderSize);
  store_le(out + kMagicAt, kSegmentMagic);
  store_le(out + kVersionAt, header.version);
  store_le(out + kStartLsnAt, header.start_lsn);
  store_le(out + kSegmentIdAt, header.segment_id);
  store_le(out + kCreatedAt, header.created_ns);
  store_le(out + kFileBytesAt, header.file_bytes);
  store_le(out + kHeaderCrcAt,
           crc32c(out + kStartLsnAt, kHeaderCheckedEnd - kStartLsnAt, crc32c(out, kHeaderCrcAt)));
}

bool decode_segment_header(std::span<const std::byte> bytes, SegmentHeader* header,
                           const char** why) {
  if (bytes.size() < kSegmentHeaderSize) {
    *why = "shorter than a segment header";
    return false;
  }
  const std::byte* p = bytes.data();
  if (load_le<uint64_t>(p + kMagicAt) != kSegmentMagic) {
    *why = "not a ringdb log segment (bad magic)";
    return false;
  }
  const uint32_t version = load_le<uint32_t>(p + kVersionAt);
  if (version < kOldestFormatVersion || version > kFormatVersion) {
    *why = "a log format version this build does not read";
    return false;
  }
  const uint32_t crc =
      crc32c(p + kStartLsnAt, kHeaderCheckedEnd - kStartLsnAt, crc32c(p, kHeaderCrcAt));
  if (load_le<uint32_t>(p + kHeaderCrcAt) != crc) {
    *why = "segment header checksum mismatch";
    return false;
  }
  header->start_lsn = load_le<uint64_t>(p + kStartLsnAt);
  header->segment_id = load_le<uint64_t>(p + kSegmentIdAt);
  header->created_ns = load_le<uint64_t>(p + kCreatedAt);
  header->file_bytes = load_le<uint64_t>(p + kFileBytesAt);
  header->version = version;
  return true;
}

size_t record_size(std::span<const Op> ops) {
  return align8(kRecordHeaderSize + body_size(ops));
}

void append_record(uint64_t lsn, uint64_t txn, std::span<const Op> ops, std::string* out) {
  const size_t body = body_size(ops);
  std::byte* r = start_record(kRecordTypeCommit, lsn, txn, ops.size(), body, out);
  std::byte* p = r + kRecordHeaderSize;
  for (const Op& op : ops) {
    store_le(p, static_cast<uint8_t>(op.kind));
    store_le(p + 4, static_cast<uint32_t>(op.key.size()));
    store_le(p + 8, static_cast<uint32_t>(op.value.size()));
    p += kOpHeaderSize;
    // (An empty view may have a null data(), which memcpy must not get even for 0 bytes.)
    if (!op.key.empty()) std::memcpy(p, op.key.data(), op.key.size());
    p += op.key.size();
    if (!op.value.empty()) std::memcpy(p, op.value.data(), op.value.size());
    p += op.value.size();
  }
  store_record_crc(r, body);
}

void append_segment_end(uint64_t lsn, uint64_t next_segment_id, std::string* out) {
  static_assert(kSegmentEndSize == kRecordHeaderSize);  // a header with no body
  store_record_crc(start_record(kRecordTypeSegmentEnd, lsn, next_segment_id, 0, 0, out), 0);
}

void set_record_lsn(std::byte* record, uint64_t lsn) {
  store_le(record + kLsnAt, lsn);
  store_record_crc(record, load_le<uint32_t>(record + kBodyLenAt));
}

namespace {

// Decodes a body of exactly `op_count` ops into record->ops; false (with `why`) otherwise.
bool decode_body(std::span<const std::byte> body, uint32_t op_count, Record* record,
                 const char** why) {
  record->ops.clear();
  size_t at = 0;
  for (uint32_t i = 0; i < op_count; ++i) {
    if (body.size() - at < kOpHeaderSize) {
      *why = "an operation runs past the record body";
      return false;
    }
    const std::byte* p = body.data() + at;
    const auto kind = static_cast<OpKind>(load_le<uint8_t>(p));
    const uint32_t key_len = load_le<uint32_t>(p + 4);
    const uint32_t value_len = load_le<uint32_t>(p + 8);
    if ((kind != OpKind::kPut && kind != OpKind::kDelete) || p[1] != std::byte{0} ||
        p[2] != std::byte{0} || p[3] != std::byte{0}) {
      *why = "an operation of unknown kind";
      return false;
    }
    if (key_len == 0 || (kind == OpKind::kDelete && value_len != 0)) {
      *why = "an operation with impossible lengths";
      return false;
    }
    at += kOpHeaderSize;
    if (body.size() - at < uint64_t{key_len} + value_len) {
      *why = "an operation runs past the record body";
      return false;
    }
    const char* text = reinterpret_cast<const char*>(body.data() + at);
    record->ops.push_back(
        Op{kind, std::string_view(text, key_len), std::string_view(text + key_len, value_len)});
    at += key_len + value_len;
  }
  if (at != body.size()) {
    *why = "the record body is longer than its operations";
    return false;
  }
  return true;
}

// What check_record() found at the start of some bytes: a record it accepts has a size (a
// commit record says kEndOfLog, its Record filled in; a segment end says kSegmentEnd);
// otherwise kEndOfLog (zeros there), kTorn or kCorrupt, with why.
struct Check {
  ScanEnd end = ScanEnd::kEndOfLog;
  const char* why = "";
  size_t size = 0;  // of an accepted record (commit or segment end); 0 otherwise
};

Check check_record(std::span<const std::byte> rest, uint64_t lsn, Record* record) {
  auto bad = [](ScanEnd end, const char* why) { return Check{end, why, 0}; };
  if (rest.size() < kRecordHeaderSize) {
    return all_zero(rest) ? Check{} : bad(ScanEnd::kTorn, "a record header cut short");
  }
  const std::byte* h = rest.data();
  if (all_zero(rest.first(kRecordHeaderSize))) return Check{};
  const uint32_t body_len = load_le<uint32_t>(h + kBodyLenAt);
  if (load_le<uint64_t>(h + kLsnAt) != lsn) {
    return bad(ScanEnd::kCorrupt, "a record whose LSN is not the expected one");
  }
  if (body_len > kRecordBodyMax) return bad(ScanEnd::kCorrupt, "a record body over the limit");
  const size_t total = align8(kRecordHeaderSize + body_len);
  if (total > rest.size()) return bad(ScanEnd::kTorn, "a record cut short");
  if (load_le<uint32_t>(h + kCrcAt) !=
      crc32c(h + kBodyLenAt, kRecordHeaderSize - kBodyLenAt + body_len)) {
    return bad(ScanEnd::kCorrupt, "a record checksum mismatch");
  }
  if (!all_zero(rest.subspan(kRecordHeaderSize + body_len, total - kRecordHeaderSize - body_len))) {
    return bad(ScanEnd::kCorrupt, "non-zero record padding");
  }
  const uint32_t type = load_le<uint32_t>(h + kTypeAt);
  const uint32_t op_count = load_le<uint32_t>(h + kOpCountAt);
  if (type == kRecordTypeSegmentEnd) {
    if (body_len != 0 || op_count != 0) return bad(ScanEnd::kCorrupt, "a malformed segment end");
    return Check{ScanEnd::kSegmentEnd, "", total};
  }
  if (type != kRecordTypeCommit) return bad(ScanEnd::kCorrupt, "a record of unknown type");
  const char* why = "";
  if (!decode_body(rest.subspan(kRecordHeaderSize, body_len), op_count, record, &why)) {
    return bad(ScanEnd::kCorrupt, why);
  }
  record->lsn = lsn;
  record->txn = load_le<uint64_t>(h + kTxnAt);
  record->size = total;
  return Check{ScanEnd::kEndOfLog, "", total};
}

}  // namespace

ScanResult scan(std::span<const std::byte> bytes, uint64_t start_lsn,
                const std::function<bool(const Record&)>& on_record) {
  ScanResult result;
  result.next_lsn = start_lsn;
  Record record;
  size_t pos = 0;
  for (;;) {
    const Check c = check_record(bytes.subspan(pos), result.next_lsn, &record);
    if (c.size != 0) {
      pos += c.size;
      result.next_lsn += c.size;
    }
    if (c.end == ScanEnd::kEndOfLog && c.size != 0) {
      ++result.records;
      if (on_record(record)) continue;
    }
    result.end = c.end;
    result.why = c.why;
    result.valid_bytes = pos;
    return result;
  }
}

bool could_begin_record(std::span<const std::byte> rest, size_t known, uint64_t lsn,
                        size_t* body_end) {
  *body_end = 0;
  known = std::min(known, rest.size());
  const std::byte* h = rest.data();
  if (known < kLsnAt + 8) return true;  // nothing that could contradict it
  if (load_le<uint64_t>(h + kLsnAt) != lsn) return false;
  if (known < kRecordHeaderSize) return true;
  const uint32_t body_len = load_le<uint32_t>(h + kBodyLenAt);
  if (body_len > kRecordBodyMax) return false;
  *body_end = kRecordHeaderSize + body_len;
  // The operations, as far as their headers are known, must add up to the body length.
  const size_t known_body = std::min(known, *body_end) - kRecordHeaderSize;
  const std::byte* body = h + kRecordHeaderSize;
  const uint32_t op_count = load_le<uint32_t>(h + kOpCountAt);
  uint64_t at = 0;
  for (uint32_t i = 0; i < op_count; ++i) {
    if (at + kOpHeaderSize > known_body) return at <= body_len;  // the rest is unknown
    const uint32_t key_len = load_le<uint32_t>(body + at + 4);
    if (key_len == 0) return false;
    at += kOpHeaderSize + key_len + load_le<uint32_t>(body + at + 8);
    if (at > body_len) return false;
  }
  return at == body_len;
}

}  // namespace ringdb::daemon::wal
