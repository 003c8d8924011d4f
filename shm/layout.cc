#include "shm/layout.h"

namespace ringdb::shm {
namespace {

uint64_t round_up(uint64_t value, uint64_t align) {
  return (value + align - 1) / align * align;
}

bool is_power_of_two(uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace

bool SegmentGeometry::compute(const SegmentSizes& s, SegmentGeometry* out, std::string* error) {
  if (s.ring_count == 0 || s.ring_count > kRingsMax) {
    *error = "ring count must be 1.." + std::to_string(kRingsMax);
    return false;
  }
  if (!is_power_of_two(s.ring_slots) || s.ring_slots < 2 || s.ring_slots > kRingSlotsMax) {
    *error = "ring slots must be a power of two in 2.." + std::to_string(kRingSlotsMax);
    return false;
  }
  if (s.context_count == 0 || s.context_count > kContextsMax) {
    *error = "contexts (in-flight requests per session) must be 1.." + std::to_string(kContextsMax);
    return false;
  }
  if (s.context_size < 2 * sizeof(ContextHeader) || s.context_size % kCacheLine != 0 ||
      s.context_size > 64 * 1024) {
    *error = "context size must be a multiple of 64 in 128..65536";
    return false;
  }
  if (s.request_area_size > kDataAreaMax || s.response_area_size > kDataAreaMax ||
      s.request_area_size % kDataAlign != 0 || s.response_area_size % kDataAlign != 0) {
    *error = "data areas must be multiples of 64 bytes up to 1 GiB";
    return false;
  }
  if (!is_power_of_two(s.event_ring_bytes) || s.event_ring_bytes < kEventRingMin ||
      s.event_ring_bytes > kEventRingMax) {
    *error = "the event ring must be a power of two in " + std::to_string(kEventRingMin) + ".." +
             std::to_string(kEventRingMax) + " bytes";
    return false;
  }
  SegmentGeometry g;
  g.sizes = s;
  g.rings_offset = kPage;
  g.ring_stride = round_up(kRingSlotsOffset + uint64_t{s.ring_slots} * sizeof(RingSlot), kPage);
  g.contexts_offset = g.rings_offset + g.ring_stride * s.ring_count;
  g.request_area_offset =
      round_up(g.contexts_offset + uint64_t{s.context_count} * s.context_size, kPage);
  g.response_area_offset = round_up(g.request_area_offset + s.request_area_size, kPage);
  g.event_area_offset = round_up(g.response_area_offset + s.response_area_size, kPage);
  g.segment_size = round_up(g.event_ring_offset() + s.event_ring_bytes, kPage);
  *out = g;
  return true;
}

void SegmentGeometry::write_header(const SessionTerms& terms, SegmentHeader* h) const {
  h->magic = kSegmentMagic;
  h->version = kProtocolVersion;
  h->segment_size = segment_size;
  h->session_id = terms.session_id;
  h->ring_count = sizes.ring_count;
  h->ring_slots = sizes.ring_slots;
  h->rings_offset = rings_offset;
  h->ring_stride = ring_stride;
  h->context_count = sizes.context_count;
  h->context_size = sizes.context_size;
  h->contexts_offset = contexts_offset;
  h->request_area_offset = request_area_offset;
  h->request_area_size = sizes.request_area_size;
  h->response_area_offset = response_area_offset;
  h->response_area_size = sizes.response_area_size;
  h->key_size_max = terms.key_size_max;
  h->value_size_max = terms.value_size_max;
  h->scan_result_bytes_max = terms.scan_result_bytes_max;
  h->transactions_max = terms.transactions_max;
  h->closed.store(0, std::memory_order_relaxed);
  h->event_ring_bytes = sizes.event_ring_bytes;
  h->event_area_offset = event_area_offset;
}

bool SegmentGeometry::from_header(const SegmentHeader& h, uint64_t mapped_size,
                                  SegmentGeometry* out, std::string* error) {
  if (h.magic != kSegmentMagic) {
    *error = "not a ringdb session segment (bad magic)";
    return false;
  }
  if (h.version != kProtocolVersion) {
    *error = "protocol version " + std::to_string(h.version) + ", this library speaks " +
             std::to_string(kProtocolVersion);
    return false;
  }
  SegmentSizes s;
  s.ring_count = h.ring_count;
  s.ring_slots = h.ring_slots;
  s.context_count = h.context_count;
  s.context_size = h.context_size;
  s.request_area_size = static_cast<uint32_t>(h.request_area_size);
  s.response_area_size = static_cast<uint32_t>(h.response_area_size);
  s.event_ring_bytes = h.event_ring_bytes;
  SegmentGeometry g;
  if (!compute(s, &g, error)) return false;
  if (g.segment_size != h.segment_size || g.segment_size > mapped_size ||
      g.rings_offset != h.rings_offset || g.ring_stride != h.ring_stride ||
      g.contexts_offset != h.contexts_offset || g.request_area_offset != h.request_area_offset ||
      g.response_area_offset != h.response_area_offset ||
      g.event_area_offset != h.event_area_offset || h.request_area_size != s.request_area_size ||
      h.response_area_size != s.response_area_size) {
    *error = "segment header is inconsistent with its sizes";
    return false;
  }
  *out = g;
  return true;
}

}  // namespace ringdb::shm
