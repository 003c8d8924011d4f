// Conditional batches' encoding (shm/batch.h): what libringdb writes decodes to the same
// entries, conditions first; each malformed payload is refused with its status and a reason;
// the limits (entries, key and value sizes, empty keys) answer as documented in
// docs/PROTOCOL.md ("Conditional batches").
#include "shm/batch.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

namespace ringdb::shm {
namespace {

constexpr RequestLimits kLimits{.key_size_max = 16, .value_size_max = 64, .scan_limit_max = 10};

struct Decoded {
  WireStatus status;
  std::vector<BatchEntry> entries;
  uint32_t conditions = 0;
  Request detail;
  const char* why = nullptr;
};

Decoded decode(std::string_view payload) {
  Decoded d;
  d.status = decode_batch(payload, kLimits, &d.entries, &d.conditions, &d.detail, &d.why);
  return d;
}

// An entry's header bytes, for payloads written by hand.
std::string entry(uint8_t kind, std::string_view key, std::string_view value, uint64_t csn = 0) {
  BatchEntryHeader h{};
  h.kind = kind;
  h.key_len = static_cast<uint32_t>(key.size());
  h.value_len = static_cast<uint32_t>(value.size());
  h.csn = csn;
  std::string out(reinterpret_cast<const char*>(&h), sizeof h);
  return out + std::string(key) + std::string(value);
}

std::string header(uint32_t conditions, uint32_t operations) {
  const BatchHeader h{conditions, operations};
  return std::string(reinterpret_cast<const char*>(&h), sizeof h);
}

TEST_CASE("batch: written in any order, decoded conditions first with every field") {
  std::string conditions, operations;
  append_batch_entry(&operations, BatchKind::kPut, "a", "1");
  append_batch_entry(&conditions, BatchKind::kIfAbsent, "a");
  append_batch_entry(&operations, BatchKind::kDel, "b");
  append_batch_entry(&conditions, BatchKind::kIfEquals, "b", "x");
  append_batch_entry(&conditions, BatchKind::kIfUnchangedSince, "c", {}, 1234567890123);
  append_batch_entry(&conditions, BatchKind::kIfPresent, std::string(16, 'k'));
  append_batch_entry(&operations, BatchKind::kPut, "big", std::string(64, 'v'));
  const std::string payload = batch_payload(4, conditions, 3, operations);  // entries view it
  const Decoded d = decode(payload);
  REQUIRE(d.status == WireStatus::kOk);
  CHECK(d.why == nullptr);
  CHECK(d.conditions == 4);
  REQUIRE(d.entries.size() == 7);
  CHECK(d.entries[0].kind == BatchKind::kIfAbsent);
  CHECK(d.entries[0].key == "a");
  CHECK(d.entries[1].kind == BatchKind::kIfEquals);
  CHECK(d.entries[1].value == "x");
  CHECK(d.entries[2].csn == 1234567890123);
  CHECK(d.entries[3].key == std::string(16, 'k'));
  CHECK(d.entries[4].kind == BatchKind::kPut);
  CHECK(d.entries[4].value == "1");
  CHECK(d.entries[5].kind == BatchKind::kDel);
  CHECK(d.entries[6].value == std::string(64, 'v'));
  // Empty: valid, nothing to do.
  const Decoded empty = decode(batch_payload(0, {}, 0, {}));
  CHECK(empty.status == WireStatus::kOk);
  CHECK(empty.entries.empty());
}

TEST_CASE("batch: each malformed payload is refused with its status and a reason") {
  struct Case {
    const char* name;
    std::string payload;
    WireStatus status;
  };
  const std::string put = entry(16, "k", "v");
  std::string with_reserved = entry(1, "k", "");
  with_reserved[1] = 1;
  std::string with_reserved_late = entry(1, "k", "");
  with_reserved_late[offsetof(BatchEntryHeader, reserved1)] = 1;
  const std::vector<Case> cases = {
      {"shorter than its header", std::string(7, '\0'), WireStatus::kInvalidRequest},
      {"fewer entries than counted", header(0, 2) + put, WireStatus::kInvalidRequest},
      {"bytes after the last entry", header(0, 1) + put + "x", WireStatus::kInvalidRequest},
      {"entry header cut short", header(0, 1) + put.substr(0, 10), WireStatus::kInvalidRequest},
      {"key past the payload", header(0, 1) + put.substr(0, put.size() - 1),
       WireStatus::kInvalidRequest},
      {"unknown kind", header(0, 1) + entry(5, "k", ""), WireStatus::kInvalidRequest},
      {"kind 0", header(0, 1) + entry(0, "k", ""), WireStatus::kInvalidRequest},
      {"operation among the conditions", header(1, 0) + put, WireStatus::kInvalidRequest},
      {"condition among the operations", header(0, 1) + entry(1, "k", ""),
       WireStatus::kInvalidRequest},
      {"value on if-absent", header(1, 0) + entry(1, "k", "v"), WireStatus::kInvalidRequest},
      {"value on del", header(0, 1) + entry(17, "k", "v"), WireStatus::kInvalidRequest},
      {"csn on put", header(0, 1) + entry(16, "k", "v", 9), WireStatus::kInvalidRequest},
      {"csn on if-equals", header(1, 0) + entry(3, "k", "v", 9), WireStatus::kInvalidRequest},
      {"reserved bytes", header(1, 0) + with_reserved, WireStatus::kInvalidRequest},
      {"reserved word", header(1, 0) + with_reserved_late, WireStatus::kInvalidRequest},
      {"empty key", header(0, 1) + entry(16, "", "v"), WireStatus::kInvalidArgument},
      {"key over the limit", header(0, 1) + entry(16, std::string(17, 'k'), "v"),
       WireStatus::kTooLarge},
      {"value over the limit", header(0, 1) + entry(16, "k", std::string(65, 'v')),
       WireStatus::kTooLarge},
      {"counts that wrap 32 bits", header(UINT32_MAX, 2) + put + put, WireStatus::kTooLarge},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const Decoded d = decode(c.payload);
    CHECK(d.status == c.status);
    REQUIRE(d.why != nullptr);
    CHECK(std::strlen(d.why) > 0);
  }
}

TEST_CASE("batch: TOO_LARGE says which part and its limit") {
  std::string operations;
  for (uint32_t i = 0; i <= kBatchEntriesMax; ++i)
    append_batch_entry(&operations, BatchKind::kDel, "k");
  Decoded d = decode(batch_payload(0, {}, kBatchEntriesMax + 1, operations));
  CHECK(d.status == WireStatus::kTooLarge);
  CHECK(d.detail.too_large == TooLargePart::kBatch);
  CHECK(d.detail.too_large_limit == kBatchEntriesMax);
  operations.clear();
  for (uint32_t i = 0; i < kBatchEntriesMax; ++i)
    append_batch_entry(&operations, BatchKind::kDel, "k");
  CHECK(decode(batch_payload(0, {}, kBatchEntriesMax, operations)).status == WireStatus::kOk);

  d = decode(header(0, 1) + entry(16, std::string(17, 'k'), ""));
  CHECK(d.detail.too_large == TooLargePart::kKey);
  CHECK(d.detail.too_large_limit == 16);
  d = decode(header(1, 0) + entry(3, "k", std::string(65, 'v')));
  CHECK(d.detail.too_large == TooLargePart::kValue);
  CHECK(d.detail.too_large_limit == 64);
}

}  // namespace
}  // namespace ringdb::shm
