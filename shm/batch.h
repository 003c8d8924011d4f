// Conditional batches (Opcode::kBatch): a list of conditions and a list of puts and deletes,
// applied as one transaction if every condition holds, in one request. libringdb encodes them
// (append_batch_entry, batch_payload); ringdbd decodes them (decode_batch), checking every byte:
// the payload is client-written memory, copied out by decode_request before this sees it.
//
// The payload (the request's first part, inline or in the request area): a BatchHeader, then
// `conditions` condition entries, then `operations` operation entries; each entry a
// BatchEntryHeader followed by its key and value bytes, unpadded. docs/PROTOCOL.md ("Conditional
// batches") has the same in prose.
//
// Thread safety: functions of their arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shm/request.h"
#include "shm/wire.h"

namespace ringdb::shm {

// Entries in one batch, conditions and operations together: the bound on a batch's work
// (TOO_LARGE, part kBatch). Its bytes are bounded by the request area.
inline constexpr uint32_t kBatchEntriesMax = 1024;

enum class BatchKind : uint8_t {
  // Conditions, on the state the batch's snapshot sees (before its own writes):
  kIfAbsent = 1,          // the key has no value
  kIfPresent = 2,         // the key has a value
  kIfEquals = 3,          // the key's value is exactly `value`
  kIfUnchangedSince = 4,  // the key has a value whose commit sequence number is <= `csn`
  // Operations, in order (a later one on the same key wins):
  kPut = 16,  // key, value
  kDel = 17,  // key (no error if it has no value)
};

struct BatchHeader {
  uint32_t conditions;
  uint32_t operations;
};
static_assert(sizeof(BatchHeader) == 8);

struct BatchEntryHeader {
  uint8_t kind;  // BatchKind
  uint8_t reserved0[3];
  uint32_t key_len;    // >= 1
  uint32_t value_len;  // kIfEquals, kPut; 0 otherwise
  uint32_t reserved1;
  uint64_t csn;  // kIfUnchangedSince; 0 otherwise
};
static_assert(sizeof(BatchEntryHeader) == 24);

inline bool is_condition(BatchKind kind) {
  return kind >= BatchKind::kIfAbsent && kind <= BatchKind::kIfUnchangedSince;
}

// One decoded entry; key and value point into the payload.
struct BatchEntry {
  BatchKind kind = BatchKind::kPut;
  std::string_view key;
  std::string_view value;
  uint64_t csn = 0;
};

// Building a payload: entries are appended to two lists, conditions and operations (a
// caller may add them in any order), and batch_payload() puts the header and the two lists
// together.
void append_batch_entry(std::string* list, BatchKind kind, std::string_view key,
                        std::string_view value = {}, uint64_t csn = 0);
std::string batch_payload(uint32_t conditions, std::string_view condition_list, uint32_t operations,
                          std::string_view operation_list);

// Decodes and checks a batch's payload into `entries` (conditions first; *conditions of
// them). kOk; kInvalidRequest with *why for a malformed payload (lengths, order, unknown kinds,
// a value or csn where the kind takes none, reserved bytes not zero); kTooLarge with
// out->too_large set for more than kBatchEntriesMax entries, a key over limits.key_size_max or
// a value over limits.value_size_max; kInvalidArgument for an empty key.
WireStatus decode_batch(std::string_view payload, const RequestLimits& limits,
                        std::vector<BatchEntry>* entries, uint32_t* conditions, Request* out,
                        const char** why);

}  // namespace ringdb::shm
