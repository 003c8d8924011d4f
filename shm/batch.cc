#include "shm/batch.h"

#include <cstring>

namespace ringdb::shm {
namespace {

WireStatus too_large(Request* out, TooLargePart part, uint64_t limit, const char** why,
                     const char* reason) {
  out->too_large = part;
  out->too_large_limit = limit;
  *why = reason;
  return WireStatus::kTooLarge;
}

WireStatus invalid(const char** why, const char* reason) {
  *why = reason;
  return WireStatus::kInvalidRequest;
}

}  // namespace

void append_batch_entry(std::string* list, BatchKind kind, std::string_view key,
                        std::string_view value, uint64_t csn) {
  BatchEntryHeader h{};
  h.kind = static_cast<uint8_t>(kind);
  h.key_len = static_cast<uint32_t>(key.size());
  h.value_len = static_cast<uint32_t>(value.size());
  h.csn = csn;
  list->append(reinterpret_cast<const char*>(&h), sizeof h);
  list->append(key);
  list->append(value);
}

std::string batch_payload(uint32_t conditions, std::string_view condition_list, uint32_t operations,
                          std::string_view operation_list) {
  const BatchHeader h{conditions, operations};
  std::string out;
  out.reserve(sizeof h + condition_list.size() + operation_list.size());
  out.append(reinterpret_cast<const char*>(&h), sizeof h);
  out.append(condition_list);
  out.append(operation_list);
  return out;
}

WireStatus decode_batch(std::string_view payload, const RequestLimits& limits,
                        std::vector<BatchEntry>* entries, uint32_t* conditions, Request* out,
                        const char** why) {
  entries->clear();
  *conditions = 0;
  BatchHeader h;
  if (payload.size() < sizeof h) return invalid(why, "batch shorter than its header");
  std::memcpy(&h, payload.data(), sizeof h);
  if (uint64_t{h.conditions} + h.operations > kBatchEntriesMax) {
    return too_large(out, TooLargePart::kBatch, kBatchEntriesMax, why, "too many batch entries");
  }
  size_t at = sizeof h;
  const uint32_t total = h.conditions + h.operations;
  entries->reserve(total);
  for (uint32_t i = 0; i < total; ++i) {
    BatchEntryHeader e;
    if (payload.size() - at < sizeof e) return invalid(why, "batch entry cut short");
    std::memcpy(&e, payload.data() + at, sizeof e);
    at += sizeof e;
    const auto kind = static_cast<BatchKind>(e.kind);
    const bool condition = is_condition(kind);
    if (!condition && kind != BatchKind::kPut && kind != BatchKind::kDel) {
      return invalid(why, "unknown batch entry kind");
    }
    if (condition != (i < h.conditions)) {
      return invalid(why, "batch entries out of place (conditions first, then operations)");
    }
    if (e.reserved0[0] != 0 || e.reserved0[1] != 0 || e.reserved0[2] != 0 || e.reserved1 != 0) {
      return invalid(why, "batch entry's reserved bytes are not zero");
    }
    const bool takes_value = kind == BatchKind::kIfEquals || kind == BatchKind::kPut;
    if (!takes_value && e.value_len != 0)
      return invalid(why, "value on a batch entry that takes none");
    if (kind != BatchKind::kIfUnchangedSince && e.csn != 0) {
      return invalid(why, "csn on a batch entry that takes none");
    }
    if (payload.size() - at < uint64_t{e.key_len} + e.value_len) {
      return invalid(why, "batch entry's key or value past the payload");
    }
    if (e.key_len > limits.key_size_max) {
      return too_large(out, TooLargePart::kKey, limits.key_size_max, why, "key too large");
    }
    if (e.value_len > limits.value_size_max) {
      return too_large(out, TooLargePart::kValue, limits.value_size_max, why, "value too large");
    }
    if (e.key_len == 0) {
      *why = "empty key";
      return WireStatus::kInvalidArgument;
    }
    entries->push_back(BatchEntry{kind, payload.substr(at, e.key_len),
                                  payload.substr(at + e.key_len, e.value_len), e.csn});
    at += size_t{e.key_len} + e.value_len;
  }
  if (at != payload.size()) return invalid(why, "bytes after a batch's last entry");
  *conditions = h.conditions;
  return WireStatus::kOk;
}

}  // namespace ringdb::shm
