// Writing an answer into a request context: the daemon's half of the answer format
// (docs/PROTOCOL.md section 2; libringdb's reading half is Session::read_result). One copy
// for ringdbd's workers and the tests' fake daemon.
//
// An answer is its status, a u64 (a transaction handle, a commit sequence number), a count
// (scan items; TOO_LARGE's part; CONDITION_FAILED's condition), and a
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
#include <optional>
#include <string>
#include <string_view>

#include "shm/request.h"
#include "shm/wire.h"
#include "sync/futex.h"

namespace ringdb::shm {

// What a worker answers. `Items` is a range of elements with `key` and `value` members
// (std::string or std::string_view). The value (if set) or the items (if non-null; at most
// one of the two) are looked at only when status is kOk, when the answer is written: the
// items may be filled after the pointer is set, and the value's bytes must stay valid until
// then.
template <typename Items>
struct AnswerContent {
  WireStatus status = WireStatus::kOk;
  uint64_t u64 = 0;
  std::optional<std::string_view> value;
  const Items* items = nullptr;
  bool more = false;  // scan: the range holds keys after the items (sets kResultTruncated)
  // TOO_LARGE: which part and its limit (written as result_count and result_u64).
  TooLargePart too_large = TooLargePart::kNone;
  uint64_t too_large_limit = 0;
  // CONDITION_FAILED: which condition (result_count); u64 is its key's commit sequence number.
  uint32_t failed_condition = 0;
  // WATCH: the watch id (result_count); u64 is the position it starts from (COMPACTED: the
  // oldest position the log holds).
  uint32_t count = 0;
};

// Where an answer's result goes and how large it is, planned before its bytes are copied.
struct AnswerLayout {
  WireStatus status = WireStatus::kOk;  // kResponseAreaFull if place() found no room
  uint16_t flags = 0;
  uint32_t length = 0;       // result bytes
  uint32_t offset = 0;       // in the response area (flag kResultExternal), else unused
  uint32_t count = 0;        // scan items that fit
  std::byte* out = nullptr;  // where the result's bytes go
};

// An answer is written in three steps (write_answer() takes them at once; a worker copying a
// large scan result a slice per turn takes them apart):
//   plan_answer: the result's size (a value, or as many scan items as fit in
//     `scan_bytes_max` of encoding; kResultTruncated if some did not) and its place: inline,
//     or through place(length, &out, &offset) -> bool in the response area;
//   copy_items: items [from, to) of a scan result to where the layout says (returns the
//     bytes written); a value is copied by write_answer;
//   finish_answer: the header fields (the caller then releases the context and publishes).
template <typename Items, typename Place>
AnswerLayout plan_answer(ContextHeader* ctx, uint32_t inline_capacity,
                         const AnswerContent<Items>& answer, uint64_t scan_bytes_max,
                         Place&& place) {
  AnswerLayout l;
  l.status = answer.status;
  l.flags = answer.more ? kResultTruncated : 0;
  if (l.status == WireStatus::kOk && answer.value) {
    l.length = static_cast<uint32_t>(answer.value->size());
  } else if (l.status == WireStatus::kOk && answer.items != nullptr) {
    uint64_t total = 0;
    for (const auto& item : *answer.items) {
      const uint64_t next = total + encoded_item_size(item.key.size(), item.value.size());
      if (next > scan_bytes_max) {
        l.flags |= kResultTruncated;
        break;
      }
      total = next;
      ++l.count;
    }
    l.length = static_cast<uint32_t>(total);
  }
  l.out = reinterpret_cast<std::byte*>(ctx) + sizeof(ContextHeader);
  if (l.length > inline_capacity) {
    if (place(l.length, &l.out, &l.offset)) {
      l.flags |= kResultExternal;
    } else {
      l.status = WireStatus::kResponseAreaFull;
      l.length = l.count = 0;
      l.flags = 0;
    }
  }
  return l;
}

template <typename Items>
size_t copy_items(const AnswerLayout& l, const Items& items, size_t from, size_t to,
                  size_t at_byte) {
  std::byte* out = l.out + at_byte;
  for (size_t i = from; i < to; ++i)
    out += encode_item(out, items[i].key, items[i].value);
  return static_cast<size_t>(out - (l.out + at_byte));
}

template <typename Items>
void finish_answer(ContextHeader* ctx, const AnswerLayout& l, const AnswerContent<Items>& answer) {
  ctx->status = static_cast<uint16_t>(l.status);
  ctx->result_flags = l.flags;
  ctx->result_len = l.length;
  ctx->result_offset = l.offset;
  const bool too_large = l.status == WireStatus::kTooLarge;
  const bool failed = l.status == WireStatus::kConditionFailed;
  const bool compacted = l.status == WireStatus::kCompacted;
  ctx->result_count = too_large                 ? static_cast<uint32_t>(answer.too_large)
                      : failed                  ? answer.failed_condition
                      : answer.items != nullptr ? l.count
                                                : answer.count;
  ctx->result_u64 = l.status == WireStatus::kOk || failed || compacted ? answer.u64
                    : too_large                                        ? answer.too_large_limit
                                                                       : 0;
}

// The three steps at once. Returns the status written (kResponseAreaFull if place() failed).
template <typename Items, typename Place>
WireStatus write_answer(ContextHeader* ctx, uint32_t inline_capacity,
                        const AnswerContent<Items>& answer, uint64_t scan_bytes_max,
                        Place&& place) {
  const AnswerLayout l = plan_answer(ctx, inline_capacity, answer, scan_bytes_max, place);
  if (l.status == WireStatus::kOk && answer.value && l.length != 0) {
    std::memcpy(l.out, answer.value->data(), l.length);
  } else if (l.status == WireStatus::kOk && answer.items != nullptr) {
    copy_items(l, *answer.items, 0, l.count, 0);
  }
  finish_answer(ctx, l, answer);
  return l.status;
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
