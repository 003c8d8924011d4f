#include "shm/extent_allocator.h"

#include <cassert>
#include <iterator>

#include "shm/wire.h"

namespace ringdb::shm {

ExtentAllocator::ExtentAllocator(uint32_t area_size)
    : area_size_(area_size / kDataAlign * kDataAlign), free_bytes_(area_size_) {
  if (area_size_ != 0) free_.emplace(0, area_size_);
}

uint32_t ExtentAllocator::rounded(uint32_t size) {
  return (size + kDataAlign - 1) / kDataAlign * kDataAlign;
}

std::optional<uint32_t> ExtentAllocator::allocate(uint32_t size) {
  assert(size >= 1);
  if (size > area_size_) return std::nullopt;
  const uint32_t need = rounded(size);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < need) continue;
    const uint32_t offset = it->first;
    const uint32_t rest = it->second - need;
    free_.erase(it);
    if (rest != 0) free_.emplace(offset + need, rest);
    free_bytes_ -= need;
    return offset;
  }
  return std::nullopt;
}

void ExtentAllocator::free(uint32_t offset, uint32_t size) {
  uint32_t length = rounded(size);
  assert(offset % kDataAlign == 0 && uint64_t{offset} + length <= area_size_);
  free_bytes_ += length;
  auto next = free_.lower_bound(offset);
  assert(next == free_.end() || next->first >= offset + length);
  if (next != free_.end() && next->first == offset + length) {
    length += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    assert(prev->first + prev->second <= offset);
    if (prev->first + prev->second == offset) {
      prev->second += length;
      return;
    }
  }
  free_.emplace_hint(next, offset, length);
}

}  // namespace ringdb::shm
