#include "shm/request.h"

#include <cstring>

namespace ringdb::shm {
namespace {

// Reads a field of the context header by its offset, from a local copy.
template <typename T>
T field(const std::byte* header, size_t offset) {
  T value;
  std::memcpy(&value, header + offset, sizeof value);
  return value;
}

WireStatus invalid(const char** why, const char* reason) {
  *why = reason;
  return WireStatus::kInvalidRequest;
}

}  // namespace

WireStatus decode_request(const SegmentGeometry& g, const std::byte* segment, uint32_t index,
                          const RequestLimits& limits, std::vector<char>* scratch, Request* out,
                          const char** why) {
  const std::byte* context = segment + g.contexts_offset + uint64_t{index} * g.sizes.context_size;
  // One copy of the header; every decision below is made on it.
  std::byte header[sizeof(ContextHeader)];
  std::memcpy(header, context, sizeof header);

  const auto opcode = field<uint8_t>(header, offsetof(ContextHeader, opcode));
  const auto flags = field<uint8_t>(header, offsetof(ContextHeader, flags));
  uint32_t len[3];
  std::memcpy(len, header + offsetof(ContextHeader, len), sizeof len);
  const auto limit = field<uint32_t>(header, offsetof(ContextHeader, limit));
  const auto txn = field<uint64_t>(header, offsetof(ContextHeader, txn));
  const auto data_offset = field<uint32_t>(header, offsetof(ContextHeader, data_offset));

  if (opcode == 0 || opcode > kOpcodeMax) return invalid(why, "unknown opcode");
  if ((flags & ~kFlagsKnown) != 0) return invalid(why, "unknown flags");
  const auto op = static_cast<Opcode>(opcode);
  const bool reverse = (flags & kFlagReverse) != 0;
  const bool read_only = (flags & kFlagReadOnly) != 0;
  if (reverse && op != Opcode::kScan) return invalid(why, "reverse flag outside scan");
  if (read_only && op != Opcode::kBegin) return invalid(why, "read-only flag outside begin");
  const uint8_t durability = flags & (kFlagDurabilityAsync | kFlagDurabilityNone);
  if (durability == (kFlagDurabilityAsync | kFlagDurabilityNone)) {
    return invalid(why, "two durability levels");
  }
  if (durability != 0 && op != Opcode::kCommit &&
      !((op == Opcode::kPut || op == Opcode::kDel) && txn == 0)) {
    return invalid(why, "a durability level outside commit and autocommit writes");
  }

  // Which payload parts each opcode takes, and the size bounds of each.
  uint32_t part_max[3] = {0, 0, 0};
  bool key_required = false;
  switch (op) {
    case Opcode::kPing:
    case Opcode::kBegin:
    case Opcode::kCommit:
    case Opcode::kAbort:
      break;
    case Opcode::kGet:
    case Opcode::kDel:
      part_max[0] = limits.key_size_max;
      key_required = true;
      break;
    case Opcode::kPut:
      part_max[0] = limits.key_size_max;
      part_max[1] = limits.value_size_max;
      key_required = true;
      break;
    case Opcode::kScan:
      part_max[0] = part_max[1] = part_max[2] = limits.key_size_max;
      break;
  }
  for (int i = 0; i < 3; ++i) {
    if (len[i] > part_max[i]) {
      if (part_max[i] == 0) return invalid(why, "payload on an opcode that takes none there");
      *why = i == 1 && op == Opcode::kPut ? "value too large" : "key too large";
      return WireStatus::kTooLarge;
    }
  }
  if (key_required && len[0] == 0) {
    *why = "empty key";  // well-formed, but not a key: the engine's answer
    return WireStatus::kInvalidArgument;
  }
  if (op == Opcode::kScan && (limit == 0 || limit > limits.scan_limit_max)) {
    return invalid(why, "scan limit out of range");
  }
  if (op != Opcode::kScan && limit != 0) return invalid(why, "limit outside scan");
  if ((op == Opcode::kCommit || op == Opcode::kAbort) && txn == 0) {
    return invalid(why, "commit or abort without a transaction");
  }
  if ((op == Opcode::kPing || op == Opcode::kBegin) && txn != 0) {
    return invalid(why, "transaction handle on ping or begin");
  }

  // Each part is bounded by a 32-bit limit above, so the sum cannot overflow 64 bits.
  const uint64_t total = uint64_t{len[0]} + len[1] + len[2];
  const std::byte* source;
  if ((flags & kFlagExternal) != 0) {
    if (uint64_t{data_offset} + total > g.sizes.request_area_size) {
      return invalid(why, "payload outside the request area");
    }
    source = segment + g.request_area_offset + data_offset;
  } else {
    if (data_offset != 0) return invalid(why, "data offset on an inline payload");
    if (total > g.inline_capacity()) return invalid(why, "inline payload over the inline size");
    source = context + sizeof(ContextHeader);
  }
  scratch->resize(total);
  if (total != 0) std::memcpy(scratch->data(), source, total);

  out->opcode = op;
  out->flags = flags;
  out->limit = limit;
  out->txn = txn;
  const char* p = scratch->data();
  out->key = std::string_view(p, len[0]);
  out->value = std::string_view(p + len[0], len[1]);
  out->prefix = std::string_view(p + len[0] + len[1], len[2]);
  *why = nullptr;
  return WireStatus::kOk;
}

size_t encode_item(std::byte* out, std::string_view key, std::string_view value) {
  const ItemHeader h{static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value.size())};
  std::memcpy(out, &h, sizeof h);
  if (!key.empty()) std::memcpy(out + sizeof h, key.data(), key.size());
  if (!value.empty()) std::memcpy(out + sizeof h + key.size(), value.data(), value.size());
  return encoded_item_size(key.size(), value.size());
}

}  // namespace ringdb::shm
