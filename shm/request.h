// Requests: the client's encoding (encode_request) and the daemon's decoding and checking
// (decode_request) of a request in its session segment, and the item encoding of scan
// results. The daemon side of the trust boundary: decode_request() copies
// the request's header fields and payload out of client-writable memory before it looks at
// them, so a client that rewrites its context concurrently can only change what it asked
// for, never make the daemon act on bytes it did not check.
//
// Thread safety: functions of their arguments; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "shm/layout.h"
#include "shm/wire.h"

namespace ringdb::shm {

// A request as a client states it. Payload parts: key (get, put, del) or start (scan); value
// (put) or end (scan); prefix (scan).
struct RequestSpec {
  Opcode opcode = Opcode::kPing;
  uint8_t flags = 0;  // kFlagReverse, kFlagReadOnly, durability; kFlagExternal is encode_request's
  std::string_view parts[3];
  uint32_t limit = 0;
  uint64_t txn = 0;
};

// The client's half: writes `spec` into context `ctx`, its payload at `payload` — the
// context's inline data, or, with `external`, the request area at `data_offset`, a block the
// client allocated (the daemon finds it through the header). REQUIRES: the payload fits there.
void encode_request(ContextHeader* ctx, const RequestSpec& spec, bool external,
                    uint32_t data_offset, std::byte* payload);

struct RequestLimits {
  uint32_t key_size_max = 1024;
  uint32_t value_size_max = 1u << 20;
  uint32_t scan_limit_max = 100000;  // items per scan request
};

// A request after decode_request: every field checked; payload parts point into the
// caller's scratch buffer (daemon memory), never into the segment.
struct Request {
  Opcode opcode = Opcode::kPing;
  uint8_t flags = 0;
  uint32_t limit = 0;
  uint64_t txn = 0;
  std::string_view key;     // get/put/del; scan: start; batch: its payload (shm/batch.h)
  std::string_view value;   // put; scan: end
  std::string_view prefix;  // scan
  // When decode_request() answers kTooLarge: which part, and its limit.
  TooLargePart too_large = TooLargePart::kNone;
  uint64_t too_large_limit = 0;
};

// Copies context `index`'s request out of `segment` (laid out as `geometry`) into `scratch`
// and checks it against `limits`. Returns kOk, or kInvalidRequest with `*why` saying what
// was wrong, kTooLarge when a key or value is longer than its limit, or kInvalidArgument for
// an empty key.
// REQUIRES: index < geometry.sizes.context_count (the caller checks ring input).
WireStatus decode_request(const SegmentGeometry& geometry, const std::byte* segment, uint32_t index,
                          const RequestLimits& limits, std::vector<char>* scratch, Request* out,
                          const char** why);

// Scan items: { u32 key_len; u32 value_len; key; value } back to back.
inline size_t encoded_item_size(size_t key_len, size_t value_len) {
  return sizeof(ItemHeader) + key_len + value_len;
}
// Writes one item at `out`, which has room for encoded_item_size(); returns the bytes written.
size_t encode_item(std::byte* out, std::string_view key, std::string_view value);
// Reads `count` items from `data` of `size` bytes, calling fn(key, value) for each. Returns
// false if the bytes do not hold exactly `count` well-formed items.
template <typename Fn>
bool decode_items(const std::byte* data, size_t size, uint32_t count, Fn&& fn) {
  size_t at = 0;
  for (uint32_t i = 0; i < count; ++i) {
    ItemHeader h;
    if (size - at < sizeof h) return false;
    std::memcpy(&h, data + at, sizeof h);
    at += sizeof h;
    if (size - at < uint64_t{h.key_len} + h.value_len) return false;
    const auto* chars = reinterpret_cast<const char*>(data + at);
    fn(std::string_view(chars, h.key_len), std::string_view(chars + h.key_len, h.value_len));
    at += size_t{h.key_len} + h.value_len;
  }
  return at == size;
}

}  // namespace ringdb::shm
