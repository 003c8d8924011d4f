// The event area's two halves (watches, issue 16; layout and protocol in shm/wire.h,
// EventAreaHeader, and docs/PROTOCOL.md): EventWriter, the daemon's producer, which keeps its
// positions in its own memory and checks the client's read position before it trusts it; and
// EventReader, the client's consumer, which trusts the daemon.
//
// Thread safety: each side has one user at a time (the daemon's feed holds its lock while it
// writes; a client library serialises its readers).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "shm/wire.h"
#include "sync/fence.h"
#include "sync/futex.h"

namespace ringdb::shm {

inline uint32_t event_size(size_t key_len, size_t value_len) {
  return static_cast<uint32_t>((sizeof(EventHeader) + key_len + value_len + 7) & ~size_t{7});
}

class EventWriter {
 public:
  enum class Result { kOk, kFull, kCorrupt };

  EventWriter() = default;
  EventWriter(EventAreaHeader* header, std::byte* ring, uint32_t ring_bytes)
      : header_(header), ring_(ring), ring_bytes_(ring_bytes) {}

  // Writes one event (unpublished until publish()). kFull: not enough room now (nothing
  // written); kCorrupt: the client's read position is impossible (the area was misused).
  // REQUIRES: event_size(key, value) <= ring_bytes / 2.
  Result append(EventHeader header, std::string_view key, std::string_view value) {
    if (corrupt_) return Result::kCorrupt;
    const uint32_t size = event_size(key.size(), value.size());
    const uint64_t at = write_pos_ % ring_bytes_;
    const uint64_t to_end = ring_bytes_ - at;
    const uint64_t need = size <= to_end ? size : to_end + size;
    if (free_bytes() < need && (refresh() != Result::kOk || free_bytes() < need)) {
      return corrupt_ ? Result::kCorrupt : Result::kFull;
    }
    if (size > to_end) {  // a pad to the ring's end; the event starts the ring again
      EventHeader pad{};
      pad.size = static_cast<uint32_t>(to_end);
      pad.type = static_cast<uint8_t>(EventType::kPad);
      std::memcpy(ring_ + at, &pad, 8);  // (a pad's reader looks at its first 8 bytes only)
      write_pos_ += to_end;
    }
    std::byte* out = ring_ + write_pos_ % ring_bytes_;
    header.size = size;
    header.key_len = static_cast<uint32_t>(key.size());
    header.value_len = static_cast<uint32_t>(value.size());
    std::memcpy(out, &header, sizeof header);
    if (!key.empty()) std::memcpy(out + sizeof header, key.data(), key.size());
    if (!value.empty()) std::memcpy(out + sizeof header + key.size(), value.data(), value.size());
    write_pos_ += size;
    return Result::kOk;
  }

  // Bytes that may be appended now without looking at the client's position again.
  uint64_t free_bytes() const { return ring_bytes_ - (write_pos_ - read_pos_); }
  bool has_unpublished() const { return write_pos_ != published_; }

  // Makes the appended events visible and wakes a sleeping reader. `feed_end`: the feed's
  // position, for the client's lag.
  void publish(uint64_t feed_end) {
    header_->feed_end.store(feed_end, std::memory_order_relaxed);
    if (write_pos_ == published_) return;
    published_ = write_pos_;
    header_->write_pos.store(published_, std::memory_order_release);
    sync::full_fence();
    if (header_->reader_waiting.load(std::memory_order_relaxed) != 0) {
      header_->reader_waiting.store(0, std::memory_order_relaxed);
      header_->wake.fetch_add(1, std::memory_order_release);
      sync::futex_wake_all(&header_->wake, sync::Sharing::kProcessShared);
    }
  }

  // Reads the client's position: it must lie between what the daemon already knew consumed
  // and what it published.
  Result refresh() {
    if (corrupt_) return Result::kCorrupt;
    const uint64_t r = header_->read_pos.load(std::memory_order_acquire);
    if (r < read_pos_ || r > published_) {
      corrupt_ = true;
      return Result::kCorrupt;
    }
    read_pos_ = r;
    return Result::kOk;
  }
  // Bytes published and not yet consumed, as of the last refresh().
  uint64_t backlog() const { return published_ - read_pos_; }

 private:
  EventAreaHeader* header_ = nullptr;
  std::byte* ring_ = nullptr;
  uint32_t ring_bytes_ = 0;
  uint64_t write_pos_ = 0;  // appended
  uint64_t published_ = 0;  // stored in header_->write_pos
  uint64_t read_pos_ = 0;   // the client's, last seen
  bool corrupt_ = false;
};

struct Event {
  EventType type = EventType::kPad;
  uint8_t flags = 0;
  uint32_t watch = 0;
  uint64_t sequence = 0;
  std::string_view key;  // into the ring: valid until consume()
  std::string_view value;
};

class EventReader {
 public:
  EventReader() = default;
  EventReader(EventAreaHeader* header, const std::byte* ring, uint32_t ring_bytes)
      : header_(header), ring_(ring), ring_bytes_(ring_bytes) {
    read_pos_ = at_ = header_->read_pos.load(std::memory_order_relaxed);
  }

  // The next event, if one is published (pads skipped); its bytes stay valid until consume().
  bool next(Event* event) {
    const uint64_t limit = header_->write_pos.load(std::memory_order_acquire);
    while (at_ < limit) {
      const std::byte* p = ring_ + at_ % ring_bytes_;
      EventHeader h;
      std::memcpy(&h, p, 8);
      at_ += h.size;
      if (h.type == static_cast<uint8_t>(EventType::kPad)) continue;
      std::memcpy(&h, p, sizeof h);
      const auto* chars = reinterpret_cast<const char*>(p + sizeof h);
      event->type = static_cast<EventType>(h.type);
      event->flags = h.flags;
      event->watch = h.watch;
      event->sequence = h.sequence;
      event->key = std::string_view(chars, h.key_len);
      event->value = std::string_view(chars + h.key_len, h.value_len);
      return true;
    }
    return false;
  }
  // Hands the bytes of every event returned so far back to the daemon.
  void consume() {
    if (at_ == read_pos_) return;
    read_pos_ = at_;
    header_->read_pos.store(read_pos_, std::memory_order_release);
  }
  // Whether an event (or a pad) is published past what next() returned.
  bool ready() const { return header_->write_pos.load(std::memory_order_acquire) != at_; }
  // The sleeping half of the wake-up protocol (wire.h): true if it slept (or need not: an
  // event came), false on timeout. The caller checks the daemon's liveness between calls.
  bool wait(std::chrono::nanoseconds timeout) {
    const uint32_t seen = header_->wake.load(std::memory_order_acquire);
    header_->reader_waiting.store(1, std::memory_order_relaxed);
    sync::full_fence();
    if (ready()) {
      header_->reader_waiting.store(0, std::memory_order_relaxed);
      return true;
    }
    const auto r = sync::futex_wait(&header_->wake, seen, sync::Sharing::kProcessShared, timeout);
    header_->reader_waiting.store(0, std::memory_order_relaxed);
    return r != sync::FutexWaitResult::kTimedOut || ready();
  }
  // The feed's position as of the daemon's last publish (for lag).
  uint64_t feed_end() const { return header_->feed_end.load(std::memory_order_relaxed); }

 private:
  EventAreaHeader* header_ = nullptr;
  const std::byte* ring_ = nullptr;
  uint32_t ring_bytes_ = 0;
  uint64_t read_pos_ = 0;  // consumed
  uint64_t at_ = 0;        // returned by next()
};

}  // namespace ringdb::shm
