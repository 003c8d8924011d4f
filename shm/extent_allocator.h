// ExtentAllocator: hands out blocks of a data area (shm/wire.h) by offset. Its bookkeeping
// lives in the owner's private memory, never in the shared area itself, so the other side
// of the segment cannot corrupt it. First fit over an ordered map of free extents with
// coalescing on free; blocks are multiples of kDataAlign. Sizes are small in count (a block
// per large in-flight payload), so O(log n) map operations are cheap next to the copy.
//
// Thread safety: none; the owner serialises calls.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

namespace ringdb::shm {

class ExtentAllocator {
 public:
  explicit ExtentAllocator(uint32_t area_size);

  // A block of at least `size` bytes (size >= 1), or nothing if no free extent is big enough.
  std::optional<uint32_t> allocate(uint32_t size);
  // REQUIRES: `offset` came from allocate(size) with the same size and was not freed since.
  void free(uint32_t offset, uint32_t size);

  uint32_t free_bytes() const { return free_bytes_; }
  uint32_t area_size() const { return area_size_; }

 private:
  static uint32_t rounded(uint32_t size);

  const uint32_t area_size_;
  uint32_t free_bytes_;
  std::map<uint32_t, uint32_t> free_;  // offset -> length, disjoint and never adjacent
};

}  // namespace ringdb::shm
