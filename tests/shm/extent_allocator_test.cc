// ExtentAllocator (shm/extent_allocator.h): first-fit blocks rounded to kDataAlign, free
// coalescing with both neighbours, exhaustion answered by nullopt, and a randomized run
// against a bitmap model (blocks never overlap, free_bytes matches the model, allocation
// fails only when no free run is long enough, and freeing everything coalesces back to one
// extent of the whole area).
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "shm/extent_allocator.h"
#include "shm/wire.h"
#include "tests/shm/shm_test_util.h"

namespace ringdb::shm {
namespace {

TEST_CASE("extent allocator: a new area is all free, rounded down to the alignment") {
  ExtentAllocator a(1000);
  CHECK(a.area_size() == 960);
  CHECK(a.free_bytes() == 960);
  CHECK(a.allocate(960) == 0u);
  CHECK(a.free_bytes() == 0);
}

TEST_CASE("extent allocator: blocks are rounded up to 64 bytes and handed out first fit") {
  ExtentAllocator a(64 * 100);
  CHECK(a.allocate(1) == 0u);
  CHECK(a.allocate(64) == 64u);
  CHECK(a.allocate(65) == 128u);  // takes two units
  CHECK(a.allocate(10) == 256u);
  CHECK(a.free_bytes() == 64 * 100 - 64 * 5);
  a.free(64, 64);
  CHECK(a.allocate(64) == 64u);  // the first hole that fits
  CHECK(a.allocate(64) == 320u);
}

TEST_CASE("extent allocator: a freed block coalesces with the free extent after it") {
  ExtentAllocator a(64 * 4);
  const auto x = a.allocate(64);
  const auto y = a.allocate(64);
  REQUIRE(x == 0u);
  REQUIRE(y == 64u);
  a.free(*y, 64);  // y joins the free tail [128, 256)
  CHECK_FALSE(a.allocate(64 * 4).has_value());
  CHECK(a.allocate(64 * 3) == 64u);
}

TEST_CASE("extent allocator: a freed block coalesces with the free extent before it") {
  ExtentAllocator a(64 * 4);
  const auto x = a.allocate(64);
  const auto y = a.allocate(64);
  const auto rest = a.allocate(128);
  REQUIRE(rest == 128u);
  a.free(*x, 64);
  a.free(*y, 64);  // joins [0, 64)
  CHECK(a.allocate(128) == 0u);
}

TEST_CASE("extent allocator: a freed block between two free extents joins both") {
  ExtentAllocator a(64 * 3);
  const auto x = a.allocate(64);
  const auto y = a.allocate(64);
  const auto z = a.allocate(64);
  REQUIRE(z == 128u);
  a.free(*x, 64);
  a.free(*z, 64);
  CHECK_FALSE(a.allocate(128).has_value());  // two free units, not adjacent
  a.free(*y, 64);
  CHECK(a.free_bytes() == 192);
  CHECK(a.allocate(192) == 0u);
}

TEST_CASE("extent allocator: exhaustion returns nullopt and changes nothing") {
  ExtentAllocator a(64 * 8);
  CHECK_FALSE(a.allocate(64 * 8 + 1).has_value());
  CHECK_FALSE(a.allocate(UINT32_MAX).has_value());
  CHECK(a.free_bytes() == 64 * 8);
  std::vector<uint32_t> blocks;
  for (int i = 0; i < 8; ++i) {
    const auto b = a.allocate(33);
    REQUIRE(b.has_value());
    blocks.push_back(*b);
  }
  CHECK_FALSE(a.allocate(1).has_value());
  CHECK(a.free_bytes() == 0);
  // Free every other block: half the bytes are free, but no two units together.
  for (size_t i = 0; i < blocks.size(); i += 2)
    a.free(blocks[i], 33);
  CHECK(a.free_bytes() == 64 * 4);
  CHECK_FALSE(a.allocate(65).has_value());
  CHECK(a.free_bytes() == 64 * 4);
}

TEST_CASE("extent allocator: an area smaller than one block has nothing to give") {
  ExtentAllocator zero(0);
  CHECK(zero.free_bytes() == 0);
  CHECK_FALSE(zero.allocate(1).has_value());
  ExtentAllocator small(63);
  CHECK(small.area_size() == 0);
  CHECK_FALSE(small.allocate(1).has_value());
}

// The model: one flag per 64-byte unit.
class BitmapModel {
 public:
  explicit BitmapModel(uint32_t units) : used_(units, false) {}

  // The byte offset of the first run of `need` free units, as the allocator's first fit
  // over coalesced extents must find it.
  std::optional<uint32_t> first_fit(uint32_t need) const {
    uint32_t run = 0;
    for (uint32_t u = 0; u < used_.size(); ++u) {
      run = used_[u] ? 0 : run + 1;
      if (run == need) return (u + 1 - need) * kDataAlign;
    }
    return std::nullopt;
  }
  bool all_free(uint32_t first, uint32_t count) const {
    for (uint32_t u = first; u < first + count; ++u) {
      if (used_[u]) return false;
    }
    return true;
  }
  void mark(uint32_t first, uint32_t count, bool used) {
    for (uint32_t u = first; u < first + count; ++u)
      used_[u] = used;
  }
  uint32_t free_units() const {
    uint32_t n = 0;
    for (const bool u : used_)
      n += u ? 0 : 1;
    return n;
  }

 private:
  std::vector<bool> used_;
};

TEST_CASE("extent allocator: randomized against a bitmap model") {
  std::mt19937 rng(test::test_seed("extent allocator model"));
  auto below = [&rng](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
  constexpr uint32_t kUnits = 512;
  constexpr uint32_t kArea = kUnits * kDataAlign;
  ExtentAllocator a(kArea);
  BitmapModel model(kUnits);
  struct Block {
    uint32_t offset;
    uint32_t size;
  };
  std::vector<Block> live;
  for (int step = 0; step < 100000; ++step) {
    CAPTURE(step);
    const bool do_free = !live.empty() && below(100) < 48;
    if (do_free) {
      const size_t i = below(static_cast<uint32_t>(live.size()));
      const Block b = live[i];
      live[i] = live.back();
      live.pop_back();
      a.free(b.offset, b.size);
      model.mark(b.offset / kDataAlign, (b.size + kDataAlign - 1) / kDataAlign, false);
    } else {
      // Mostly small blocks, sometimes large ones, so the area fragments and fills.
      const uint32_t size = below(8) == 0 ? 1 + below(kArea / 4) : 1 + below(600);
      const uint32_t units = (size + kDataAlign - 1) / kDataAlign;
      const std::optional<uint32_t> got = a.allocate(size);
      const std::optional<uint32_t> expect = model.first_fit(units);
      INFO("size " << size << ": got " << (got ? int64_t{*got} : -1) << ", model "
                   << (expect ? int64_t{*expect} : -1));
      REQUIRE(got == expect);
      if (got) {
        REQUIRE(*got % kDataAlign == 0);
        REQUIRE(uint64_t{*got} + size <= kArea);
        REQUIRE(model.all_free(*got / kDataAlign, units));  // no overlap with a live block
        model.mark(*got / kDataAlign, units, true);
        live.push_back({*got, size});
      }
    }
    REQUIRE(a.free_bytes() == model.free_units() * kDataAlign);
  }
  for (const Block& b : live)
    a.free(b.offset, b.size);
  CHECK(a.free_bytes() == kArea);
  CHECK(a.allocate(kArea) == 0u);  // one extent again: fully coalesced
}

}  // namespace
}  // namespace ringdb::shm
