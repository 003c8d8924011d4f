// Writing an answer into a request context: the daemon's half of the answer format
// (docs/PROTOCOL.md section 2; libringdb's reading half is Session::read_result). One copy
// for ringdbd's workers and the tests' fake daemon.
//
// An answer is its status, a u64 (a transaction handle, a commit sequence number), and a
// result: nothing, a value, or scan items ({u32 key_len; u32 value_len; key; value} back to
// back, as many as fit in the scan byte limit; kResultTruncated says the range holds more: some
// did not fit, or the scan's limit stopped it before the range's end). A result
// longer than the context's inline capacity goes to the response area, at an offset the
// caller's `place` chooses; if `place` finds no room the answer becomes
// kResponseAreaFull with no result.
//
// Publication: write_answer() fills every response field; the caller then releases
// whatever claim it holds on the context and calls publish_done(), whose release store of
// kStateDone makes the fields visible to the client that acquires the state.
//
// Thread safety: functions of their arguments; the caller owns the context until
// publish_done().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "shm/request.h"
#include "shm/wire.h"
#include "sync/futex.h"

namespace ringdb::shm {

// What a worker answers. `Items` is a range of elements with `key` and `value` members
// (std::string or std::string_view). The value or the items (whichever is non-null; at most
// one) are looked at only when status is kOk, when the answer is written: they may be filled
// after the pointers are set.
template <typename Items>
struct AnswerContent {
  WireStatus status = WireStatus::kOk;
  uint64_t u64 = 0;
  const std::string* value = nullptr;
  const Items* items = nullptr;
  bool more = false;  // scan: the range holds keys after the items (sets kResultTruncated)
  // TOO_LARGE: which part and its limit (written as result_count and result_u64).
  TooLargePart too_large = TooLargePart::kNone;
  uint64_t too_large_limit = 0;
};

// Writes `answer` into context `ctx`: the result inline or through
// place(length, &out, &offset) -> bool, then the header fields. `scan_bytes_max` bounds a
// scan's encoded items. Returns the status written (kResponseAreaFull if place() failed).
template <typename Items, typename Place>
WireStatus write_answer(ContextHeader* ctx, uint32_t inline_capacity,
                        const AnswerContent<Items>& answer, uint64_t scan_bytes_max,
                        Place&& place) {
  WireStatus status = answer.status;
  uint16_t flags = answer.more ? kResultTruncated : 0;
  uint32_t length = 0, offset = 0, count = 0;
  // The result's size: a value, or as many scan items as fit in the byte limit.
  if (status == WireStatus::kOk && answer.value != nullptr) {
    length = static_cast<uint32_t>(answer.value->size());
  } else if (status == WireStatus::kOk && answer.items != nullptr) {
    uint64_t total = 0;
    for (const auto& item : *answer.items) {
      const uint64_t next = total + encoded_item_size(item.key.size(), item.value.size());
      if (next > scan_bytes_max) {
        flags |= kResultTruncated;
        break;
      }
      total = next;
      ++count;
    }
    length = static_cast<uint32_t>(total);
  }
  std::byte* out = reinterpret_cast<std::byte*>(ctx) + sizeof(ContextHeader);
  if (length > inline_capacity) {
    if (place(length, &out, &offset)) {
      flags |= kResultExternal;
    } else {
      status = WireStatus::kResponseAreaFull;
      length = count = 0;
      flags = 0;
    }
  }
  if (status == WireStatus::kOk && answer.value != nullptr && length != 0) {
    std::memcpy(out, answer.value->data(), length);
  } else if (status == WireStatus::kOk && answer.items != nullptr) {
    uint32_t written = 0;
    for (const auto& item : *answer.items) {
      if (written++ == count) break;
      out += encode_item(out, item.key, item.value);
    }
  }
  ctx->status = static_cast<uint16_t>(status);
  ctx->result_flags = flags;
  ctx->result_len = length;
  ctx->result_offset = offset;
  const bool too_large = status == WireStatus::kTooLarge;
  ctx->result_count = too_large ? static_cast<uint32_t>(answer.too_large) : count;
  ctx->result_u64 = status == WireStatus::kOk ? answer.u64 : too_large ? answer.too_large_limit : 0;
  return status;
}

// Stores kStateDone (release) and wakes the client if it said it waits (kStateWaiting).
// Returns true if it made the wake-up call.
inline bool publish_done(ContextHeader* ctx) {
  const uint32_t previous = ctx->state.exchange(kStateDone, std::memory_order_release);
  if ((previous & kStateWaiting) == 0) return false;
  sync::futex_wake_all(&ctx->state, sync::Sharing::kProcessShared);
  return true;
}

}  // namespace ringdb::shm
