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

// The request header's fields, read once from a private copy: every decision is made on it.
struct Fields {
  uint8_t opcode;
  uint8_t flags;
  uint32_t len[3];  // payload parts: key/start, value/end, prefix
  uint32_t limit;
  uint64_t txn;
  uint32_t data_offset;
};

Fields read_fields(const std::byte* context) {
  std::byte header[sizeof(ContextHeader)];
  std::memcpy(header, context, sizeof header);
  Fields f;
  f.opcode = field<uint8_t>(header, offsetof(ContextHeader, opcode));
  f.flags = field<uint8_t>(header, offsetof(ContextHeader, flags));
  std::memcpy(f.len, header + offsetof(ContextHeader, len), sizeof f.len);
  f.limit = field<uint32_t>(header, offsetof(ContextHeader, limit));
  f.txn = field<uint64_t>(header, offsetof(ContextHeader, txn));
  f.data_offset = field<uint32_t>(header, offsetof(ContextHeader, data_offset));
  return f;
}

// The opcode and the flags it may carry.
WireStatus check_opcode_and_flags(const Fields& f, const char** why) {
  if (f.opcode == 0 || f.opcode > kOpcodeMax) return invalid(why, "unknown opcode");
  if ((f.flags & ~kFlagsKnown) != 0) return invalid(why, "unknown flags");
  const auto op = static_cast<Opcode>(f.opcode);
  if ((f.flags & kFlagReverse) != 0 && op != Opcode::kScan) {
    return invalid(why, "reverse flag outside scan");
  }
  if ((f.flags & kFlagReadOnly) != 0 && op != Opcode::kBegin) {
    return invalid(why, "read-only flag outside begin");
  }
  if ((f.flags & kFlagKeysOnly) != 0 && op != Opcode::kWatch) {
    return invalid(why, "keys-only flag outside watch");
  }
  const uint8_t durability = f.flags & (kFlagDurabilityAsync | kFlagDurabilityNone);
  if (durability == (kFlagDurabilityAsync | kFlagDurabilityNone)) {
    return invalid(why, "two durability levels");
  }
  if (durability != 0 && op != Opcode::kCommit && op != Opcode::kBatch &&
      !((op == Opcode::kPut || op == Opcode::kDel) && f.txn == 0)) {
    return invalid(why, "a durability level outside commit, batch and autocommit writes");
  }
  return WireStatus::kOk;
}

// Which payload parts the opcode takes and their size bounds; the scan limit and the
// transaction handle where the opcode needs or forbids them.
WireStatus check_operands(const Fields& f, const RequestLimits& limits, Request* out,
                          const char** why) {
  const auto op = static_cast<Opcode>(f.opcode);
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
    case Opcode::kWatch:  // (txn: the position it starts from)
      part_max[0] = part_max[1] = part_max[2] = limits.key_size_max;
      break;
    case Opcode::kUnwatch:  // (limit: the watch id)
      break;
    case Opcode::kBatch:  // (bounded by its place: copy_payload; its entries: decode_batch)
      part_max[0] = kDataAreaMax;
      break;
  }
  for (int i = 0; i < 3; ++i) {
    if (f.len[i] > part_max[i]) {
      if (part_max[i] == 0) return invalid(why, "payload on an opcode that takes none there");
      const bool value = i == 1 && op == Opcode::kPut;
      *why = value ? "value too large" : "key too large";
      out->too_large = value ? TooLargePart::kValue : TooLargePart::kKey;
      out->too_large_limit = part_max[i];
      return WireStatus::kTooLarge;
    }
  }
  if (key_required && f.len[0] == 0) {
    *why = "empty key";  // well-formed, but not a key: the engine's answer
    return WireStatus::kInvalidArgument;
  }
  if (op == Opcode::kScan && (f.limit == 0 || f.limit > limits.scan_limit_max)) {
    return invalid(why, "scan limit out of range");
  }
  if (op == Opcode::kUnwatch && f.limit == 0) return invalid(why, "unwatch without a watch id");
  if (op != Opcode::kScan && op != Opcode::kUnwatch && f.limit != 0) {
    return invalid(why, "limit outside scan and unwatch");
  }
  if ((op == Opcode::kCommit || op == Opcode::kAbort) && f.txn == 0) {
    return invalid(why, "commit or abort without a transaction");
  }
  if ((op == Opcode::kPing || op == Opcode::kBegin || op == Opcode::kBatch ||
       op == Opcode::kUnwatch) &&
      f.txn != 0) {
    return invalid(why, "transaction handle on ping, begin, batch or unwatch");
  }
  return WireStatus::kOk;
}

// Copies the payload, inline or in the request area, into `scratch`, once its place is
// checked against the segment's bounds.
WireStatus copy_payload(const SegmentGeometry& g, const std::byte* segment,
                        const std::byte* context, const Fields& f, std::vector<char>* scratch,
                        const char** why) {
  // Each part is bounded by a 32-bit limit (check_operands), so the sum cannot overflow.
  const uint64_t total = uint64_t{f.len[0]} + f.len[1] + f.len[2];
  const std::byte* source;
  if ((f.flags & kFlagExternal) != 0) {
    if (uint64_t{f.data_offset} + total > g.sizes.request_area_size) {
      return invalid(why, "payload outside the request area");
    }
    source = segment + g.request_area_offset + f.data_offset;
  } else {
    if (f.data_offset != 0) return invalid(why, "data offset on an inline payload");
    if (total > g.inline_capacity()) return invalid(why, "inline payload over the inline size");
    source = context + sizeof(ContextHeader);
  }
  scratch->resize(total);
  if (total != 0) std::memcpy(scratch->data(), source, total);
  return WireStatus::kOk;
}

}  // namespace

WireStatus decode_request(const SegmentGeometry& g, const std::byte* segment, uint32_t index,
                          const RequestLimits& limits, std::vector<char>* scratch, Request* out,
                          const char** why) {
  const std::byte* context = segment + g.contexts_offset + uint64_t{index} * g.sizes.context_size;
  const Fields f = read_fields(context);
  WireStatus s = check_opcode_and_flags(f, why);
  if (s == WireStatus::kOk) s = check_operands(f, limits, out, why);
  if (s == WireStatus::kOk) s = copy_payload(g, segment, context, f, scratch, why);
  if (s != WireStatus::kOk) return s;
  out->opcode = static_cast<Opcode>(f.opcode);
  out->flags = f.flags;
  out->limit = f.limit;
  out->txn = f.txn;
  const char* p = scratch->data();
  out->key = std::string_view(p, f.len[0]);
  out->value = std::string_view(p + f.len[0], f.len[1]);
  out->prefix = std::string_view(p + f.len[0] + f.len[1], f.len[2]);
  *why = nullptr;
  return WireStatus::kOk;
}

void encode_request(ContextHeader* c, const RequestSpec& spec, bool external, uint32_t data_offset,
                    std::byte* payload) {
  c->opcode = static_cast<uint8_t>(spec.opcode);
  c->flags = static_cast<uint8_t>(spec.flags | (external ? kFlagExternal : 0));
  c->reserved0 = 0;
  for (int i = 0; i < 3; ++i)
    c->len[i] = static_cast<uint32_t>(spec.parts[i].size());
  c->limit = spec.limit;
  c->txn = spec.txn;
  c->data_offset = external ? data_offset : 0;
  c->reserved1 = 0;
  for (std::string_view part : spec.parts) {
    if (part.empty()) continue;
    std::memcpy(payload, part.data(), part.size());
    payload += part.size();
  }
}

size_t encode_item(std::byte* out, std::string_view key, std::string_view value) {
  const ItemHeader h{static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value.size())};
  std::memcpy(out, &h, sizeof h);
  if (!key.empty()) std::memcpy(out + sizeof h, key.data(), key.size());
  if (!value.empty()) std::memcpy(out + sizeof h + key.size(), value.data(), value.size());
  return encoded_item_size(key.size(), value.size());
}

}  // namespace ringdb::shm
