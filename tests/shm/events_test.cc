// The event area's protocol (shm/events.h): events in order across the ring's wrap (pads),
// back-pressure when the client does not read, a client's impossible read position caught,
// and a producer and a consumer thread with the futex wake-up (no event lost, none twice).
#include "shm/events.h"

#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace ringdb::shm {
namespace {

struct Area {
  explicit Area(uint32_t ring_bytes)
      : bytes(ring_bytes),
        memory(new std::byte[sizeof(EventAreaHeader) + ring_bytes]()),
        header(new (memory.get()) EventAreaHeader()),
        writer(header, memory.get() + sizeof(EventAreaHeader), ring_bytes),
        reader(header, memory.get() + sizeof(EventAreaHeader), ring_bytes) {}
  uint32_t bytes;
  std::unique_ptr<std::byte[]> memory;
  EventAreaHeader* header;
  EventWriter writer;
  EventReader reader;
};

EventHeader put_header(uint32_t watch, uint64_t sequence) {
  EventHeader h{};
  h.type = static_cast<uint8_t>(EventType::kPut);
  h.watch = watch;
  h.sequence = sequence;
  return h;
}

TEST_CASE("events: written, published, read in order across the ring's end") {
  Area a(kEventRingMin);
  uint64_t written = 0, read = 0;
  const std::string value(1000, 'v');
  for (int round = 0; round < 200; ++round) {
    // A few events per round: the ring wraps many times, with pads at its end.
    for (int i = 0; i < 5; ++i) {
      const std::string key = "key" + std::to_string(written);
      REQUIRE(a.writer.append(put_header(1, written), key, value.substr(0, written % 1000)) ==
              EventWriter::Result::kOk);
      ++written;
    }
    CHECK_FALSE(a.reader.ready());  // unpublished
    a.writer.publish(written);
    Event e;
    while (a.reader.next(&e)) {
      CHECK(e.type == EventType::kPut);
      CHECK(e.sequence == read);
      CHECK(e.key == "key" + std::to_string(read));
      CHECK(e.value.size() == read % 1000);
      ++read;
    }
    a.reader.consume();
    CHECK(a.reader.feed_end() == written);
  }
  CHECK(read == written);
}

TEST_CASE("events: a ring the client does not read fills (kFull), then takes more once read") {
  Area a(kEventRingMin);
  const std::string value(4000, 'v');
  int appended = 0;
  while (a.writer.append(put_header(1, 0), "k", value) == EventWriter::Result::kOk)
    ++appended;
  CHECK(appended == static_cast<int>(kEventRingMin / event_size(1, value.size())));
  a.writer.publish(0);
  Event e;
  REQUIRE(a.reader.next(&e));
  a.reader.consume();
  CHECK(a.writer.append(put_header(1, 0), "k", value) == EventWriter::Result::kOk);
}

TEST_CASE("events: a read position the daemon never published, or moved back, is refused") {
  for (const int misuse : {0, 1}) {
    CAPTURE(misuse);
    Area a(kEventRingMin);
    REQUIRE(a.writer.append(put_header(1, 0), "k", "v") == EventWriter::Result::kOk);
    a.writer.publish(0);
    Event e;
    REQUIRE(a.reader.next(&e));
    a.reader.consume();
    REQUIRE(a.writer.refresh() == EventWriter::Result::kOk);
    // The client rewrites its position: past what was published, or behind what it consumed.
    a.header->read_pos.store(misuse == 0 ? 1u << 20 : 0, std::memory_order_relaxed);
    CHECK(a.writer.refresh() == EventWriter::Result::kCorrupt);
    // Stays refused, and nothing more is written even where there would be room.
    a.header->read_pos.store(event_size(1, 1), std::memory_order_relaxed);
    std::string big(kEventRingMin / 2 - 64, 'x');
    CHECK(a.writer.append(put_header(1, 1), "k", big) == EventWriter::Result::kCorrupt);
  }
}

TEST_CASE("events: a producer and a sleeping consumer lose and repeat nothing (stress)") {
  Area a(kEventRingMin);
  constexpr uint64_t kEvents = 200'000;
  std::atomic<bool> done{false};
  std::thread producer([&] {
    uint64_t n = 0;
    while (n < kEvents) {
      const std::string key = std::to_string(n);
      const auto r = a.writer.append(put_header(7, n), key, key);
      REQUIRE(r != EventWriter::Result::kCorrupt);
      if (r == EventWriter::Result::kOk) ++n;
      // Publish in uneven batches; when full, publish and retry after the consumer freed room.
      if (r == EventWriter::Result::kFull || n % 13 == 0) a.writer.publish(n);
      if (r == EventWriter::Result::kFull) std::this_thread::yield();
    }
    a.writer.publish(n);
    done.store(true);
  });
  uint64_t next = 0;
  while (next < kEvents) {
    Event e;
    bool any = false;
    while (a.reader.next(&e)) {
      REQUIRE(e.sequence == next);
      REQUIRE(e.key == std::to_string(next));
      REQUIRE(e.value == e.key);
      ++next;
      any = true;
    }
    a.reader.consume();
    // Sleeps when nothing is there: the producer's publish must wake it (a 10 s slice would
    // make a lost wake-up show as a very slow test, and the timeout below would fail it).
    if (!any) CHECK(a.reader.wait(std::chrono::seconds(10)));
  }
  producer.join();
  CHECK(done.load());
  CHECK(next == kEvents);
}

}  // namespace
}  // namespace ringdb::shm
