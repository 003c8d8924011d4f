// SegmentGeometry: where everything sits in a session segment (shm/wire.h), computed from a
// few sizes. The daemon computes it, writes it into the segment header and keeps its own
// copy: it never reads the geometry back from client-writable memory. The client reads it
// from the header once and checks it (from_header).
//
// Thread safety: a value type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "shm/wire.h"

namespace ringdb::shm {

struct SegmentSizes {
  uint32_t ring_count = 1;
  uint32_t ring_slots = 128;     // power of two
  uint32_t context_count = 256;  // in-flight requests per session
  uint32_t context_size = 512;   // 64-byte header + 448 inline bytes
  uint32_t request_area_size = (2u << 20) + (64u << 10);
  uint32_t response_area_size = (4u << 20) + (128u << 10);
  uint32_t event_ring_bytes = 1u << 20;  // watch events; a power of two (kEventRingMin..Max)
};

// What the daemon tells a session in its segment header besides the geometry.
struct SessionTerms {
  uint64_t session_id = 0;
  uint32_t key_size_max = 0;
  uint32_t value_size_max = 0;
  uint32_t scan_result_bytes_max = 0;
  uint32_t transactions_max = 0;
};

struct SegmentGeometry {
  SegmentSizes sizes;
  uint64_t rings_offset = 0;
  uint64_t ring_stride = 0;
  uint64_t contexts_offset = 0;
  uint64_t request_area_offset = 0;
  uint64_t response_area_offset = 0;
  uint64_t event_area_offset = 0;  // EventAreaHeader; the ring follows it (event_ring_offset())
  uint64_t segment_size = 0;

  uint64_t event_ring_offset() const { return event_area_offset + sizeof(EventAreaHeader); }

  uint32_t inline_capacity() const {
    return sizes.context_size - static_cast<uint32_t>(sizeof(ContextHeader));
  }

  // Lays out `sizes`; returns false (with a reason) if a size is out of bounds.
  static bool compute(const SegmentSizes& sizes, SegmentGeometry* out, std::string* error);
  // The daemon side: writes a new segment's header (every field; `closed` starts at 0).
  void write_header(const SessionTerms& terms, SegmentHeader* header) const;
  // The client side: reads and checks a header written by the daemon.
  static bool from_header(const SegmentHeader& header, uint64_t mapped_size, SegmentGeometry* out,
                          std::string* error);
};

// The byte offsets inside a ring (relative to its start).
inline constexpr size_t kRingSlotsOffset = sizeof(RingHeader);

}  // namespace ringdb::shm
