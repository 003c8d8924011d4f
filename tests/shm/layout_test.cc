// SegmentGeometry (shm/layout.h): compute() lays out sizes as docs/PROTOCOL.md section 2 says
// and rejects every size out of its bound; from_header() accepts the header a daemon writes
// from a computed geometry and rejects a bad magic, a bad version and every offset or size
// that does not follow from the others.
#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "shm/layout.h"
#include "shm/wire.h"

namespace ringdb::shm {
namespace {

uint64_t round_up(uint64_t value, uint64_t align) {
  return (value + align - 1) / align * align;
}

// What the daemon writes into a new segment's first page.
void write_header(const SegmentGeometry& g, SegmentHeader* h) {
  SessionTerms terms;
  terms.session_id = 7;
  terms.key_size_max = 1024;
  terms.value_size_max = 1u << 20;
  terms.scan_result_bytes_max = 2u << 20;
  terms.transactions_max = 16;
  g.write_header(terms, h);
}

// A named change to a value, for tables of cases.
template <typename T>
struct Case {
  const char* what;
  std::function<void(T&)> change;
};

SegmentSizes odd_sizes() {
  SegmentSizes s;
  s.ring_count = 3;
  s.ring_slots = 256;
  s.context_count = 17;
  s.context_size = 192;
  s.request_area_size = 64 * 1001;
  s.response_area_size = 64 * 77;
  return s;
}

TEST_CASE("compute lays out the default sizes by the protocol's rule") {
  const SegmentSizes s;
  SegmentGeometry g;
  std::string error;
  REQUIRE(SegmentGeometry::compute(s, &g, &error));
  CHECK(g.rings_offset == 4096);
  CHECK(g.ring_stride == round_up(128 + 16 * uint64_t{s.ring_slots}, 4096));
  CHECK(g.contexts_offset == g.rings_offset + s.ring_count * g.ring_stride);
  CHECK(g.request_area_offset ==
        round_up(g.contexts_offset + uint64_t{s.context_count} * s.context_size, 4096));
  CHECK(g.response_area_offset == round_up(g.request_area_offset + s.request_area_size, 4096));
  CHECK(g.event_area_offset == round_up(g.response_area_offset + s.response_area_size, 4096));
  CHECK(g.event_ring_offset() == g.event_area_offset + 128);
  CHECK(g.segment_size == round_up(g.event_ring_offset() + s.event_ring_bytes, 4096));
  CHECK(g.inline_capacity() == s.context_size - 64);
}

TEST_CASE("compute lays out uneven sizes without overlap, every area page-aligned") {
  const SegmentSizes s = odd_sizes();
  SegmentGeometry g;
  std::string error;
  REQUIRE(SegmentGeometry::compute(s, &g, &error));
  CHECK(g.ring_stride % kPage == 0);
  CHECK(g.ring_stride >= kRingSlotsOffset + s.ring_slots * sizeof(RingSlot));
  CHECK(g.contexts_offset >= g.rings_offset + 3 * g.ring_stride);
  CHECK(g.request_area_offset % kPage == 0);
  CHECK(g.request_area_offset >= g.contexts_offset + 17 * 192);
  CHECK(g.response_area_offset % kPage == 0);
  CHECK(g.response_area_offset >= g.request_area_offset + s.request_area_size);
  CHECK(g.segment_size % kPage == 0);
  CHECK(g.segment_size >= g.response_area_offset + s.response_area_size);
}

TEST_CASE("compute accepts every size at its bounds") {
  const std::vector<Case<SegmentSizes>> cases = {
      {"ring_count 1", [](SegmentSizes& s) { s.ring_count = 1; }},
      {"ring_count max", [](SegmentSizes& s) { s.ring_count = kRingsMax; }},
      {"ring_slots 2", [](SegmentSizes& s) { s.ring_slots = 2; }},
      {"ring_slots max", [](SegmentSizes& s) { s.ring_slots = kRingSlotsMax; }},
      {"context_count 1", [](SegmentSizes& s) { s.context_count = 1; }},
      {"context_count max", [](SegmentSizes& s) { s.context_count = kContextsMax; }},
      {"context_size 128", [](SegmentSizes& s) { s.context_size = 128; }},
      {"context_size 65536", [](SegmentSizes& s) { s.context_size = 65536; }},
      {"request area 0", [](SegmentSizes& s) { s.request_area_size = 0; }},
      {"request area max", [](SegmentSizes& s) { s.request_area_size = kDataAreaMax; }},
      {"response area 0", [](SegmentSizes& s) { s.response_area_size = 0; }},
      {"response area max", [](SegmentSizes& s) { s.response_area_size = kDataAreaMax; }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    SegmentSizes s;
    c.change(s);
    SegmentGeometry g;
    std::string error;
    CHECK(SegmentGeometry::compute(s, &g, &error));
    CHECK(error.empty());
  }
}

TEST_CASE("compute rejects each out-of-bound size with a reason") {
  const std::vector<Case<SegmentSizes>> cases = {
      {"ring_count 0", [](SegmentSizes& s) { s.ring_count = 0; }},
      {"ring_count over max", [](SegmentSizes& s) { s.ring_count = kRingsMax + 1; }},
      {"ring_slots 0", [](SegmentSizes& s) { s.ring_slots = 0; }},
      {"ring_slots 1", [](SegmentSizes& s) { s.ring_slots = 1; }},
      {"ring_slots not a power of two", [](SegmentSizes& s) { s.ring_slots = 96; }},
      {"ring_slots over max", [](SegmentSizes& s) { s.ring_slots = 2 * kRingSlotsMax; }},
      {"ring_slots UINT32_MAX", [](SegmentSizes& s) { s.ring_slots = UINT32_MAX; }},
      {"context_count 0", [](SegmentSizes& s) { s.context_count = 0; }},
      {"context_count over max", [](SegmentSizes& s) { s.context_count = kContextsMax + 1; }},
      {"context_size 0", [](SegmentSizes& s) { s.context_size = 0; }},
      {"context_size 64 (no inline bytes)", [](SegmentSizes& s) { s.context_size = 64; }},
      {"context_size not a multiple of 64", [](SegmentSizes& s) { s.context_size = 200; }},
      {"context_size over max", [](SegmentSizes& s) { s.context_size = 65536 + 64; }},
      {"request area over max", [](SegmentSizes& s) { s.request_area_size = kDataAreaMax + 64; }},
      {"request area unaligned", [](SegmentSizes& s) { s.request_area_size = 4096 + 8; }},
      {"response area over max", [](SegmentSizes& s) { s.response_area_size = kDataAreaMax + 64; }},
      {"response area unaligned", [](SegmentSizes& s) { s.response_area_size = 100; }},
      {"event ring under min", [](SegmentSizes& s) { s.event_ring_bytes = kEventRingMin / 2; }},
      {"event ring not a power of two", [](SegmentSizes& s) { s.event_ring_bytes = 96 << 10; }},
      {"event ring over max", [](SegmentSizes& s) { s.event_ring_bytes = UINT32_MAX; }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    SegmentSizes s;
    c.change(s);
    SegmentGeometry g;
    g.segment_size = 12345;  // a rejected compute leaves *out alone
    std::string error;
    CHECK_FALSE(SegmentGeometry::compute(s, &g, &error));
    CHECK_FALSE(error.empty());
    CHECK(g.segment_size == 12345);
  }
}

TEST_CASE("from_header accepts the header written from a computed geometry") {
  for (const SegmentSizes& s : {SegmentSizes{}, odd_sizes()}) {
    SegmentGeometry g;
    std::string error;
    REQUIRE(SegmentGeometry::compute(s, &g, &error));
    SegmentHeader h{};
    write_header(g, &h);
    SegmentGeometry read;
    CHECK(SegmentGeometry::from_header(h, g.segment_size, &read, &error));
    CHECK(error.empty());
    CHECK(read.sizes.ring_count == s.ring_count);
    CHECK(read.sizes.ring_slots == s.ring_slots);
    CHECK(read.sizes.context_count == s.context_count);
    CHECK(read.sizes.context_size == s.context_size);
    CHECK(read.sizes.request_area_size == s.request_area_size);
    CHECK(read.sizes.response_area_size == s.response_area_size);
    CHECK(read.rings_offset == g.rings_offset);
    CHECK(read.ring_stride == g.ring_stride);
    CHECK(read.contexts_offset == g.contexts_offset);
    CHECK(read.request_area_offset == g.request_area_offset);
    CHECK(read.response_area_offset == g.response_area_offset);
    CHECK(read.segment_size == g.segment_size);
    // A mapping larger than the segment is fine (the client maps what the daemon said).
    CHECK(SegmentGeometry::from_header(h, g.segment_size + kPage, &read, &error));
  }
}

TEST_CASE("from_header rejects a bad magic, a bad version and each inconsistent field") {
  SegmentGeometry g;
  std::string error;
  REQUIRE(SegmentGeometry::compute(odd_sizes(), &g, &error));
  constexpr uint64_t kHigh = uint64_t{1} << 32;  // survives nowhere in a u32 size
  const std::vector<Case<SegmentHeader>> cases = {
      {"magic", [](SegmentHeader& h) { h.magic = kBoardMagic; }},
      {"magic zero", [](SegmentHeader& h) { h.magic = 0; }},
      {"version 0", [](SegmentHeader& h) { h.version = 0; }},
      {"version + 1", [](SegmentHeader& h) { h.version = kProtocolVersion + 1; }},
      {"segment_size - page", [](SegmentHeader& h) { h.segment_size -= kPage; }},
      {"segment_size + page", [](SegmentHeader& h) { h.segment_size += kPage; }},
      {"rings_offset", [](SegmentHeader& h) { h.rings_offset += kPage; }},
      {"rings_offset 0", [](SegmentHeader& h) { h.rings_offset = 0; }},
      {"ring_stride", [](SegmentHeader& h) { h.ring_stride += kPage; }},
      {"ring_stride short", [](SegmentHeader& h) { h.ring_stride -= kPage; }},
      {"contexts_offset", [](SegmentHeader& h) { h.contexts_offset -= 64; }},
      {"request_area_offset", [](SegmentHeader& h) { h.request_area_offset += kPage; }},
      {"response_area_offset", [](SegmentHeader& h) { h.response_area_offset -= kPage; }},
      {"request_area_size high bits", [](SegmentHeader& h) { h.request_area_size += kHigh; }},
      {"response_area_size high bits", [](SegmentHeader& h) { h.response_area_size += kHigh; }},
      {"request_area_size grown", [](SegmentHeader& h) { h.request_area_size += 64 * kPage; }},
      {"ring_count grown", [](SegmentHeader& h) { h.ring_count += 1; }},
      {"ring_slots doubled", [](SegmentHeader& h) { h.ring_slots *= 2; }},
      {"ring_slots out of bound", [](SegmentHeader& h) { h.ring_slots = 3; }},
      {"context_count grown", [](SegmentHeader& h) { h.context_count += 1000; }},
      {"context_size grown", [](SegmentHeader& h) { h.context_size += 4096; }},
      {"context_size out of bound", [](SegmentHeader& h) { h.context_size = 64; }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    SegmentHeader h{};
    write_header(g, &h);
    c.change(h);
    SegmentGeometry read;
    read.segment_size = 12345;  // a rejected header leaves *out alone
    error.clear();
    CHECK_FALSE(SegmentGeometry::from_header(h, g.segment_size + 64 * kPage, &read, &error));
    CHECK_FALSE(error.empty());
    CHECK(read.segment_size == 12345);
  }
}

TEST_CASE("from_header rejects a segment larger than what was mapped") {
  SegmentGeometry g;
  std::string error;
  REQUIRE(SegmentGeometry::compute(odd_sizes(), &g, &error));
  SegmentHeader h{};
  write_header(g, &h);
  SegmentGeometry read;
  CHECK_FALSE(SegmentGeometry::from_header(h, g.segment_size - 1, &read, &error));
  CHECK_FALSE(error.empty());
  CHECK_FALSE(SegmentGeometry::from_header(h, 0, &read, &error));
}

}  // namespace
}  // namespace ringdb::shm
