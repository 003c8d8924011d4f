// The request ring (shm/ring.h): FIFO order, full detection at exactly ring_slots, wraparound
// over many laps, MPSC stress with producer threads and with producers in fork()ed processes
// (every value popped exactly once, each producer's order preserved), and a consumer facing a
// ring whose bytes a client overwrote at random: it pops only what seq == head + 1 allows,
// frees exactly that slot, and touches nothing outside the ring; a producer facing a corrupt
// ring fails its push instead of spinning.
#include <doctest/doctest.h>
#include <sanitizer/asan_interface.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "shm/layout.h"
#include "shm/ring.h"
#include "shm/wire.h"
#include "sync/futex.h"
#include "tests/shm/shm_test_util.h"

namespace ringdb::shm {
namespace {

using namespace std::chrono_literals;

size_t ring_bytes(uint32_t slots) {
  return kRingSlotsOffset + size_t{slots} * sizeof(RingSlot);
}

// A ring in heap memory of exactly its size (so that AddressSanitizer sees any access past
// it), cache-line aligned like a ring in a segment, formatted empty.
class HeapRing {
 public:
  explicit HeapRing(uint32_t slots)
      : slots_(slots),
        bytes_(ring_bytes(slots)),
        memory_(static_cast<std::byte*>(::operator new (bytes_, std::align_val_t{kCacheLine}))) {
    std::memset(memory_, 0, bytes_);
    RingConsumer::format(memory_, slots_);
  }
  ~HeapRing() { ::operator delete (memory_, std::align_val_t{kCacheLine}); }
  HeapRing(const HeapRing&) = delete;
  HeapRing& operator=(const HeapRing&) = delete;

  std::byte* data() { return memory_; }
  size_t bytes() const { return bytes_; }
  RingProducer producer() { return RingProducer(memory_, slots_); }
  RingConsumer consumer() { return RingConsumer(memory_, slots_); }
  RingHeader& header() { return *reinterpret_cast<RingHeader*>(memory_); }

 private:
  uint32_t slots_;
  size_t bytes_;
  std::byte* memory_;
};

TEST_CASE("ring: an empty ring pops nothing") {
  HeapRing ring(8);
  RingConsumer consumer = ring.consumer();
  uint32_t context = 99;
  CHECK_FALSE(consumer.ready());
  CHECK_FALSE(consumer.try_pop(&context));
  CHECK(context == 99);
}

TEST_CASE("ring: a single producer's values come out in FIFO order") {
  HeapRing ring(16);
  RingProducer producer = ring.producer();
  RingConsumer consumer = ring.consumer();
  for (uint32_t v = 0; v < 10; ++v)
    REQUIRE(producer.try_push(1000 + v));
  for (uint32_t v = 0; v < 10; ++v) {
    uint32_t context = 0;
    REQUIRE(consumer.ready());
    REQUIRE(consumer.try_pop(&context));
    CHECK(context == 1000 + v);
  }
  CHECK_FALSE(consumer.ready());
  CHECK(ring.header().tail.load() == 10);
  CHECK(ring.header().head.load() == 10);
}

TEST_CASE("ring: full at exactly ring_slots, and one pop makes room for one push") {
  for (uint32_t slots : {2u, 4u, 128u}) {
    CAPTURE(slots);
    HeapRing ring(slots);
    RingProducer producer = ring.producer();
    RingConsumer consumer = ring.consumer();
    for (uint32_t v = 0; v < slots; ++v)
      REQUIRE(producer.try_push(v));
    CHECK_FALSE(producer.try_push(slots));
    CHECK(ring.header().tail.load() == slots);  // a failed push claims nothing
    uint32_t context = 0;
    REQUIRE(consumer.try_pop(&context));
    CHECK(context == 0);
    CHECK(producer.try_push(slots));
    CHECK_FALSE(producer.try_push(slots + 1));
    for (uint32_t v = 1; v <= slots; ++v) {
      REQUIRE(consumer.try_pop(&context));
      CHECK(context == v);
    }
    CHECK_FALSE(consumer.try_pop(&context));
  }
}

TEST_CASE("ring: peek sees what is published ahead without taking it, across the wrap") {
  HeapRing ring(4);
  RingProducer producer = ring.producer();
  RingConsumer consumer = ring.consumer();
  uint32_t context = 0;
  CHECK_FALSE(consumer.peek(0, &context));  // nothing published
  for (uint32_t v = 10; v < 13; ++v)
    REQUIRE(producer.try_push(v));
  for (uint32_t ahead = 0; ahead < 3; ++ahead) {
    REQUIRE(consumer.peek(ahead, &context));
    CHECK(context == 10 + ahead);
  }
  CHECK_FALSE(consumer.peek(3, &context));  // its slot not published yet
  CHECK_FALSE(consumer.peek(4, &context));  // beyond the ring: never
  REQUIRE(consumer.try_pop(&context));      // peeking took nothing
  CHECK(context == 10);
  REQUIRE(producer.try_push(13));
  REQUIRE(producer.try_push(14));  // wraps into the slot just freed
  REQUIRE(consumer.peek(3, &context));
  CHECK(context == 14);
  // A slot of the previous lap (seq left at position + slots by the consumer) is not "ahead".
  for (uint32_t v = 11; v <= 14; ++v) {
    REQUIRE(consumer.try_pop(&context));
    CHECK(context == v);
  }
  for (uint32_t ahead = 0; ahead < 4; ++ahead)
    CHECK_FALSE(consumer.peek(ahead, &context));
}

TEST_CASE("ring: wraparound over many laps keeps order and fullness exact") {
  constexpr uint32_t kSlots = 8;
  constexpr uint32_t kLaps = 20000;
  HeapRing ring(kSlots);
  RingProducer producer = ring.producer();
  RingConsumer consumer = ring.consumer();
  std::mt19937 rng(test::test_seed("ring wraparound"));
  uint32_t pushed = 0;
  uint32_t popped = 0;
  while (popped < kLaps * kSlots) {
    // Push a random batch (possibly up to full), then pop a random batch.
    const uint32_t room = kSlots - (pushed - popped);
    const uint32_t push_n = std::uniform_int_distribution<uint32_t>(0, room)(rng);
    for (uint32_t i = 0; i < push_n; ++i)
      REQUIRE(producer.try_push(pushed++));
    if (pushed - popped == kSlots) REQUIRE_FALSE(producer.try_push(pushed));
    const uint32_t pop_n = std::uniform_int_distribution<uint32_t>(0, pushed - popped)(rng);
    for (uint32_t i = 0; i < pop_n; ++i) {
      uint32_t context = 0;
      REQUIRE(consumer.try_pop(&context));
      REQUIRE(context == popped++);
    }
    if (pushed == popped) REQUIRE_FALSE(consumer.ready());
  }
  CHECK(ring.header().head.load() == popped);
  CHECK(ring.header().tail.load() == pushed);
}

// MPSC stress: values are producer << 24 | sequence number.
constexpr uint32_t kProducerShift = 24;

// Pops `total` values from `consumer`, checking each producer's order; counts per producer go
// to `next`. Returns false (with the reason in *error) on a bad value or after `limit`.
// `wake`: wake sleeping producers after every pop (the worker does it after each batch).
bool consume_all(RingConsumer& consumer, uint32_t total, std::vector<uint32_t>* next,
                 std::string* error, std::chrono::seconds limit = 120s, bool wake = false) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (uint32_t got = 0; got < total;) {
    uint32_t context = 0;
    if (!consumer.try_pop(&context)) {
      if (std::chrono::steady_clock::now() > deadline) {
        *error = "timed out after " + std::to_string(got) + " of " + std::to_string(total);
        return false;
      }
      std::this_thread::yield();
      continue;
    }
    if (wake) consumer.wake_producers();
    const uint32_t producer = context >> kProducerShift;
    const uint32_t sequence = context & ((1u << kProducerShift) - 1);
    if (producer >= next->size() || sequence != (*next)[producer]) {
      *error = "value " + std::to_string(context) + " out of order or unknown";
      return false;
    }
    ++(*next)[producer];
    ++got;
  }
  return true;
}

TEST_CASE("ring: MPSC stress with producer threads: every value once, per-producer order") {
  constexpr uint32_t kProducers = 4;
  constexpr uint32_t kPerProducer = 200000;
  HeapRing ring(16);  // small, so that producers often find it full and contend on tail
  RingConsumer consumer = ring.consumer();
  std::atomic<bool> stop{false};
  std::vector<std::thread> producers;
  for (uint32_t p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      RingProducer producer = ring.producer();
      for (uint32_t i = 0; i < kPerProducer && !stop.load(std::memory_order_relaxed);) {
        if (producer.try_push(p << kProducerShift | i)) {
          ++i;
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  std::vector<uint32_t> next(kProducers, 0);
  std::string error;
  const bool ok = consume_all(consumer, kProducers * kPerProducer, &next, &error);
  stop.store(true);
  for (std::thread& t : producers)
    t.join();
  INFO(error);
  REQUIRE(ok);
  for (uint32_t p = 0; p < kProducers; ++p)
    CHECK(next[p] == kPerProducer);
  uint32_t context = 0;
  CHECK_FALSE(consumer.try_pop(&context));  // nothing extra
}

// The full-ring handshake: producers that find the ring full never spin or yield, they sleep
// on producers_waiting; the consumer wakes them after its pops. A lost wake-up shows as a
// sleep that times out (the consumer keeps popping, so a woken producer never waits long).
TEST_CASE("ring: producers sleep on a full ring and the consumer's pops wake them, none lost") {
  constexpr uint32_t kProducers = 4;
  constexpr uint32_t kPerProducer = 20000;
  HeapRing ring(4);  // tiny: nearly every push meets a full ring
  RingConsumer consumer = ring.consumer();
  std::atomic<uint64_t> sleeps{0}, lost{0};
  std::vector<std::thread> producers;
  for (uint32_t p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      RingProducer producer = ring.producer();
      for (uint32_t i = 0; i < kPerProducer;) {
        if (producer.try_push(p << kProducerShift | i)) {
          ++i;
          continue;
        }
        if (producer.prepare_wait()) continue;
        sleeps.fetch_add(1, std::memory_order_relaxed);
        if (sync::futex_wait(producer.waiting_word(), 1, sync::Sharing::kProcessShared, 10s) ==
            sync::FutexWaitResult::kTimedOut) {
          lost.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  std::vector<uint32_t> next(kProducers, 0);
  std::string error;
  const bool ok = consume_all(consumer, kProducers * kPerProducer, &next, &error, 120s, true);
  for (std::thread& t : producers)
    t.join();
  INFO(error);
  REQUIRE(ok);
  for (uint32_t p = 0; p < kProducers; ++p)
    CHECK(next[p] == kPerProducer);
  MESSAGE("producer sleeps on the full ring: " << sleeps.load());
  CHECK(sleeps.load() > 0);  // the path was taken
  CHECK(lost.load() == 0);
  CHECK(ring.header().producers_waiting.load() <= 1);
}

TEST_CASE("ring: MPSC stress with producers in fork()ed processes over a shared mapping") {
  constexpr uint32_t kProducers = 4;
  constexpr uint32_t kPerProducer = 100000;
  constexpr uint32_t kSlots = 16;
  // The ring, then a start counter on its own line.
  const size_t bytes = ring_bytes(kSlots) + kCacheLine;
  void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(memory != MAP_FAILED);
  RingConsumer::format(memory, kSlots);
  auto* started =
      new (static_cast<std::byte*>(memory) + ring_bytes(kSlots)) std::atomic<uint32_t>(0);
  static_assert(std::atomic<uint32_t>::is_always_lock_free, "atomics work across processes");

  std::vector<pid_t> children;
  for (uint32_t p = 0; p < kProducers; ++p) {
    children.push_back(test::fork_child([=] {
      // Start together, so that the producers contend rather than run one after another.
      started->fetch_add(1);
      const auto deadline = std::chrono::steady_clock::now() + 60s;
      while (started->load() < kProducers) {
        if (std::chrono::steady_clock::now() > deadline) return 2;
        std::this_thread::yield();
      }
      RingProducer producer(memory, kSlots);
      for (uint32_t i = 0; i < kPerProducer;) {
        if (producer.try_push(p << kProducerShift | i)) {
          ++i;
        } else {
          if (std::chrono::steady_clock::now() > deadline) return 3;
          std::this_thread::yield();
        }
      }
      return 0;
    }));
  }
  RingConsumer consumer(memory, kSlots);
  std::vector<uint32_t> next(kProducers, 0);
  std::string error;
  const bool ok = consume_all(consumer, kProducers * kPerProducer, &next, &error);
  if (!ok) {
    for (pid_t pid : children)
      kill(pid, SIGKILL);
  }
  const std::vector<int> statuses = test::wait_for_children(children);
  INFO(error);
  REQUIRE(ok);
  test::check_clean_exits(statuses);
  for (uint32_t p = 0; p < kProducers; ++p)
    CHECK(next[p] == kPerProducer);
  uint32_t context = 0;
  CHECK_FALSE(consumer.try_pop(&context));
  munmap(memory, bytes);
}

// Random bytes over a ring: a model consumer says what the real one must do at each step.
struct RawSlot {
  uint64_t seq;
  uint32_t context;
  uint32_t reserved;
};

RawSlot read_slot(const std::byte* ring, uint64_t index) {
  RawSlot s;
  std::memcpy(&s, ring + kRingSlotsOffset + index * sizeof(RingSlot), sizeof s);
  return s;
}

void write_slot(std::byte* ring, uint64_t index, const RawSlot& s) {
  std::memcpy(ring + kRingSlotsOffset + index * sizeof(RingSlot), &s, sizeof s);
}

TEST_CASE("ring: a consumer over random bytes pops only slots whose seq is head + 1") {
  constexpr uint32_t kSlots = 16;
  constexpr int64_t kLap = kSlots;
  constexpr int kSteps = 200000;
  std::mt19937_64 rng(test::test_seed("ring random bytes"));
  // The ring sits between two guard areas that must stay untouched (and that AddressSanitizer
  // reports any access to).
  constexpr size_t kGuard = 256;
  const size_t bytes = ring_bytes(kSlots);
  const size_t total = kGuard + bytes + kGuard;
  auto* memory = static_cast<std::byte*>(::operator new (total, std::align_val_t{kCacheLine}));
  for (size_t i = 0; i < total; ++i)
    memory[i] = static_cast<std::byte>(rng());
  const std::vector<std::byte> guards_before(memory, memory + total);
  std::byte* raw = memory + kGuard;
  ASAN_POISON_MEMORY_REGION(memory, kGuard);
  ASAN_POISON_MEMORY_REGION(raw + bytes, kGuard);

  RingConsumer consumer(raw, kSlots);  // over whatever bytes are there: never formatted
  uint64_t head = 0;                   // the model's position
  uint64_t pops = 0;
  for (int step = 0; step < kSteps; ++step) {
    CAPTURE(step);
    const uint64_t index = head % kSlots;
    switch (rng() % 6) {
      case 0: {  // scribble over a random slot
        const RawSlot s{rng(), static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng())};
        write_slot(raw, rng() % kSlots, s);
        break;
      }
      case 1: {  // a seq near the one the consumer looks for, but not it
        static constexpr int64_t kNear[] = {-1, 1, 2, kLap, kLap + 1, -kLap, -kLap + 1};
        RawSlot s = read_slot(raw, index);
        s.seq = head + 1 + static_cast<uint64_t>(kNear[rng() % std::size(kNear)]);
        write_slot(raw, index, s);
        break;
      }
      case 2: {  // scribble over the header: the consumer must not care
        const uint64_t junk[2] = {rng(), rng()};
        std::memcpy(raw + rng() % (kRingSlotsOffset - sizeof junk), junk, sizeof junk);
        break;
      }
      default: {  // a well-formed publication at the consumer's position
        const RawSlot s{head + 1, static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng())};
        write_slot(raw, index, s);
        break;
      }
    }
    const RawSlot expect = read_slot(raw, index);
    const bool should_pop = expect.seq == head + 1;
    REQUIRE(consumer.ready() == should_pop);
    std::vector<std::byte> image(raw, raw + bytes);
    uint32_t context = 0xdead'beef;
    REQUIRE(consumer.try_pop(&context) == should_pop);
    if (should_pop) {
      CHECK(context == expect.context);
      // The slot goes to the producer of position head + slots; nothing else changes but the
      // informational head mirror (offset 64, docs/PROTOCOL.md).
      RawSlot freed = expect;
      freed.seq = head + kSlots;
      write_slot(image.data(), index, freed);
      ++head;
      ++pops;
      std::memcpy(image.data() + kCacheLine, &head, sizeof head);
    } else {
      CHECK(context == 0xdead'beef);
    }
    REQUIRE(std::memcmp(image.data(), raw, bytes) == 0);
  }
  CHECK(pops > kSteps / 4);
  ASAN_UNPOISON_MEMORY_REGION(memory, kGuard);
  ASAN_UNPOISON_MEMORY_REGION(raw + bytes, kGuard);
  CHECK(std::memcmp(memory, guards_before.data(), kGuard) == 0);
  CHECK(std::memcmp(raw + bytes, guards_before.data() + kGuard + bytes, kGuard) == 0);
  ::operator delete (memory, std::align_val_t{kCacheLine});
}

TEST_CASE("ring: a producer facing a slot ahead of the tail (a corrupt ring) fails, never spins") {
  constexpr uint32_t kSlots = 8;
  HeapRing ring(kSlots);
  RingProducer producer = ring.producer();
  // The slot at the tail claims a later position than the tail's: no healthy ring shows that
  // (a slot's seq passes its position only after the tail has moved past it).
  for (const uint64_t ahead : {uint64_t{1}, uint64_t{5}, uint64_t{1} << 40}) {
    CAPTURE(ahead);
    const uint64_t tail = ring.header().tail.load();
    RawSlot s = read_slot(ring.data(), tail % kSlots);
    s.seq = tail + ahead;
    write_slot(ring.data(), tail % kSlots, s);
    CHECK_FALSE(producer.try_push(7));
    CHECK(ring.header().tail.load() == tail);  // nothing claimed
  }
}

}  // namespace
}  // namespace ringdb::shm
