// libFuzzer target for decode_request (shm/request.h), the daemon's trust boundary: the input
// is the client-writable part of a small session segment, and every context of it is decoded.
//
// Input layout (tests/fuzz/make_corpus.py writes seeds in it): kContextCount contexts of
// kContextSize bytes, then the kRequestAreaSize-byte request area; missing bytes are zero,
// extra bytes are ignored. The rest of the segment (header, ring, response area, padding) is
// poisoned for AddressSanitizer, so any read outside the contexts and the request area fails.
//
// Checked for every context: the decoder accepts exactly the requests that docs/PROTOCOL.md
// allows (an independent reading of the rules below, not the decoder's code); a refusal
// carries a reason and one of the three refusal statuses; an accepted request's fields are
// the header's, its views lie inside the scratch buffer, back to back, within the limits, and
// hold the payload bytes from where the header says they are. An accepted BATCH's payload
// goes through decode_batch (shm/batch.h): accepted entries lie in the payload, in order,
// within the limits, conditions first, the counts the header's.
#include <sanitizer/asan_interface.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "shm/batch.h"
#include "shm/layout.h"
#include "shm/request.h"
#include "shm/wire.h"

namespace ringdb::shm {
namespace {

constexpr uint32_t kContextCount = 4;
constexpr uint32_t kContextSize = 128;  // 64 inline bytes
constexpr uint32_t kRequestAreaSize = 512;
constexpr RequestLimits kLimits{.key_size_max = 48, .value_size_max = 300, .scan_limit_max = 1000};

#define FUZZ_CHECK(condition)                                                             \
  do {                                                                                    \
    if (!(condition)) {                                                                   \
      std::fprintf(stderr, "fuzz_request: %s:%d: check failed: %s\n", __FILE__, __LINE__, \
                   #condition);                                                           \
      std::abort();                                                                       \
    }                                                                                     \
  } while (false)

struct Segment {
  SegmentGeometry geometry;
  std::byte* base = nullptr;

  std::byte* context(uint32_t index) const {
    return base + geometry.contexts_offset + uint64_t{index} * kContextSize;
  }
  std::byte* request_area() const { return base + geometry.request_area_offset; }
};

void poison(std::byte* from, std::byte* to) {
  if (to > from) ASAN_POISON_MEMORY_REGION(from, static_cast<size_t>(to - from));
}

// One segment for the whole run, of exactly its size, poisoned outside what inputs fill.
const Segment& segment() {
  static const Segment s = [] {
    Segment m;
    SegmentSizes sizes;
    sizes.ring_count = 1;
    sizes.ring_slots = 2;
    sizes.context_count = kContextCount;
    sizes.context_size = kContextSize;
    sizes.request_area_size = kRequestAreaSize;
    sizes.response_area_size = 64;
    std::string error;
    FUZZ_CHECK(SegmentGeometry::compute(sizes, &m.geometry, &error));
    m.base = static_cast<std::byte*>(::operator new(m.geometry.segment_size));
    std::memset(m.base, 0, m.geometry.segment_size);
    poison(m.base, m.context(0));
    poison(m.context(kContextCount), m.request_area());
    poison(m.request_area() + kRequestAreaSize, m.base + m.geometry.segment_size);
    return m;
  }();
  return s;
}

// The header fields as a client wrote them.
struct Fields {
  uint8_t opcode;
  uint8_t flags;
  uint32_t len[3];
  uint32_t limit;
  uint64_t txn;
  uint32_t data_offset;
};

Fields read_fields(const std::byte* context) {
  Fields f;
  std::memcpy(&f.opcode, context + offsetof(ContextHeader, opcode), sizeof f.opcode);
  std::memcpy(&f.flags, context + offsetof(ContextHeader, flags), sizeof f.flags);
  std::memcpy(f.len, context + offsetof(ContextHeader, len), sizeof f.len);
  std::memcpy(&f.limit, context + offsetof(ContextHeader, limit), sizeof f.limit);
  std::memcpy(&f.txn, context + offsetof(ContextHeader, txn), sizeof f.txn);
  std::memcpy(&f.data_offset, context + offsetof(ContextHeader, data_offset), sizeof f.data_offset);
  return f;
}

// docs/PROTOCOL.md sections 2 and 5, read independently of shm/request.cc.
bool allowed(const Fields& f) {
  const auto op = static_cast<Opcode>(f.opcode);
  if (f.opcode < 1 || f.opcode > 11) return false;
  constexpr uint8_t kDurability = kFlagDurabilityAsync | kFlagDurabilityNone;
  if ((f.flags & ~(kFlagExternal | kFlagReverse | kFlagReadOnly | kDurability | kFlagKeysOnly)) !=
      0) {
    return false;
  }
  if ((f.flags & kFlagReverse) != 0 && op != Opcode::kScan) return false;
  if ((f.flags & kFlagReadOnly) != 0 && op != Opcode::kBegin) return false;
  if ((f.flags & kFlagKeysOnly) != 0 && op != Opcode::kWatch) return false;
  // A durability level: one at most, on commit, batch, or put and del outside a transaction.
  if ((f.flags & kDurability) == kDurability) return false;
  if ((f.flags & kDurability) != 0 && op != Opcode::kCommit && op != Opcode::kBatch &&
      !((op == Opcode::kPut || op == Opcode::kDel) && f.txn == 0)) {
    return false;
  }
  const uint32_t k = kLimits.key_size_max;
  switch (op) {
    case Opcode::kGet:
    case Opcode::kDel:
      if (f.len[0] == 0 || f.len[0] > k || f.len[1] != 0 || f.len[2] != 0) return false;
      break;
    case Opcode::kPut:
      if (f.len[0] == 0 || f.len[0] > k || f.len[1] > kLimits.value_size_max || f.len[2] != 0) {
        return false;
      }
      break;
    case Opcode::kScan:
    case Opcode::kWatch:  // start, end, prefix; txn: the position it starts from
      if (f.len[0] > k || f.len[1] > k || f.len[2] > k) return false;
      break;
    case Opcode::kBatch:  // its payload: one part, bounded by where it is
      if (f.len[1] != 0 || f.len[2] != 0) return false;
      break;
    default:
      if (f.len[0] != 0 || f.len[1] != 0 || f.len[2] != 0) return false;
  }
  if (op == Opcode::kScan      ? f.limit < 1 || f.limit > kLimits.scan_limit_max
      : op == Opcode::kUnwatch ? f.limit == 0  // the watch id
                               : f.limit != 0) {
    return false;
  }
  if ((op == Opcode::kCommit || op == Opcode::kAbort) && f.txn == 0) return false;
  if ((op == Opcode::kPing || op == Opcode::kBegin || op == Opcode::kBatch ||
       op == Opcode::kUnwatch) &&
      f.txn != 0) {
    return false;
  }
  const uint64_t total = uint64_t{f.len[0]} + f.len[1] + f.len[2];
  if ((f.flags & kFlagExternal) != 0) return f.data_offset + total <= kRequestAreaSize;
  return f.data_offset == 0 && total <= kContextSize - sizeof(ContextHeader);
}

bool inside(std::string_view view, const std::vector<char>& scratch) {
  if (view.empty()) return true;
  const char* begin = scratch.data();
  return view.data() >= begin && view.data() + view.size() <= begin + scratch.size();
}

void check_accepted(const Segment& s, uint32_t index, const Fields& f, const Request& r,
                    const std::vector<char>& scratch) {
  FUZZ_CHECK(static_cast<uint8_t>(r.opcode) == f.opcode);
  FUZZ_CHECK(r.flags == f.flags);
  FUZZ_CHECK(r.limit == f.limit);
  FUZZ_CHECK(r.txn == f.txn);
  FUZZ_CHECK(r.key.size() == f.len[0] && r.value.size() == f.len[1] && r.prefix.size() == f.len[2]);
  FUZZ_CHECK(inside(r.key, scratch) && inside(r.value, scratch) && inside(r.prefix, scratch));
  const size_t total = r.key.size() + r.value.size() + r.prefix.size();
  FUZZ_CHECK(scratch.size() == total);
  FUZZ_CHECK(r.key.size() <= kLimits.key_size_max || r.opcode == Opcode::kBatch);
  FUZZ_CHECK(r.value.size() <=
             (r.opcode == Opcode::kPut ? kLimits.value_size_max : kLimits.key_size_max));
  FUZZ_CHECK(r.prefix.size() <= kLimits.key_size_max);
  if (total == 0) return;
  // Back to back in the scratch buffer, holding the bytes from where the header points.
  FUZZ_CHECK(r.key.data() == scratch.data());
  FUZZ_CHECK(r.value.data() == scratch.data() + r.key.size());
  FUZZ_CHECK(r.prefix.data() == r.value.data() + r.value.size());
  const std::byte* source = (f.flags & kFlagExternal) != 0
                                ? s.request_area() + f.data_offset
                                : s.context(index) + sizeof(ContextHeader);
  FUZZ_CHECK(std::memcmp(scratch.data(), source, total) == 0);
}

void check_batch(std::string_view payload) {
  std::vector<BatchEntry> entries;
  uint32_t conditions = 0;
  Request detail;
  const char* why = nullptr;
  const WireStatus status = decode_batch(payload, kLimits, &entries, &conditions, &detail, &why);
  if (status != WireStatus::kOk) {
    FUZZ_CHECK(status == WireStatus::kInvalidRequest || status == WireStatus::kTooLarge ||
               status == WireStatus::kInvalidArgument);
    FUZZ_CHECK(why != nullptr && why[0] != '\0');
    FUZZ_CHECK((status == WireStatus::kTooLarge) == (detail.too_large != TooLargePart::kNone));
    return;
  }
  BatchHeader h;
  FUZZ_CHECK(payload.size() >= sizeof h);
  std::memcpy(&h, payload.data(), sizeof h);
  FUZZ_CHECK(conditions == h.conditions && entries.size() == size_t{h.conditions} + h.operations);
  FUZZ_CHECK(entries.size() <= kBatchEntriesMax);
  const char* at = payload.data() + sizeof h;
  for (size_t i = 0; i < entries.size(); ++i) {
    const BatchEntry& e = entries[i];
    FUZZ_CHECK(is_condition(e.kind) == (i < conditions));
    FUZZ_CHECK(!e.key.empty() && e.key.size() <= kLimits.key_size_max);
    FUZZ_CHECK(e.value.size() <= kLimits.value_size_max);
    // Each entry right after the previous one's bytes, its key then its value.
    FUZZ_CHECK(e.key.data() == at + sizeof(BatchEntryHeader));
    FUZZ_CHECK(e.value.data() == e.key.data() + e.key.size());
    at = e.value.data() + e.value.size();
  }
  FUZZ_CHECK(at == payload.data() + payload.size());
}

}  // namespace
}  // namespace ringdb::shm

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringdb::shm;
  const Segment& s = segment();
  constexpr size_t kContexts = size_t{kContextCount} * kContextSize;
  std::memset(s.context(0), 0, kContexts);
  std::memset(s.request_area(), 0, kRequestAreaSize);
  std::memcpy(s.context(0), data, std::min(size, kContexts));
  if (size > kContexts) {
    std::memcpy(s.request_area(), data + kContexts,
                std::min(size - kContexts, size_t{kRequestAreaSize}));
  }
  std::vector<char> scratch;
  for (uint32_t index = 0; index < kContextCount; ++index) {
    const Fields fields = read_fields(s.context(index));
    Request request;
    const char* why = "unset";
    const WireStatus status =
        decode_request(s.geometry, s.base, index, kLimits, &scratch, &request, &why);
    FUZZ_CHECK((status == WireStatus::kOk) == allowed(fields));
    if (status == WireStatus::kOk) {
      FUZZ_CHECK(why == nullptr);
      check_accepted(s, index, fields, request, scratch);
      if (request.opcode == Opcode::kBatch) check_batch(request.key);
    } else {
      FUZZ_CHECK(status == WireStatus::kInvalidRequest || status == WireStatus::kTooLarge ||
                 status == WireStatus::kInvalidArgument);
      FUZZ_CHECK(why != nullptr && why[0] != '\0');
    }
  }
  return 0;
}
