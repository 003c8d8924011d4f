// A request ring: a bounded multi-producer single-consumer queue of context indexes in shared
// memory (layout in shm/wire.h: RingHeader, then `slots` RingSlot entries).
//
// Producers are client threads of one session that run on the ring's CPU (several may share
// a CPU, and one may be preempted half-way through a push: the protocol is lock-free for
// them). The consumer is the one daemon worker that owns the ring.
//
// Protocol (after Dmitry Vyukov's bounded MPMC queue, with one consumer):
//   push(pos = tail): the slot at pos % slots is free for this position when seq == pos;
//     claim it with CAS tail pos -> pos+1, write `context`, then store seq = pos+1 (release),
//     publishing the context and everything the producer wrote before (the request).
//   pop(head, private to the consumer): the slot is full when seq == head+1 (acquire); read
//     `context`, then store seq = head + slots (release) to hand the slot to the producer of
//     position head + slots.
// Full: seq < pos for the producer (the consumer has not freed the slot a lap ago).
// Waiting for room: a producer that keeps finding the ring full sleeps rather than spin
// (a full ring can stay full for long: a worker serves a session over its fair share later).
// The handshake is a Dekker pair, like the doorbell's: the producer stores
// producers_waiting = 1, fences and looks at its slot again (prepare_wait), then futex-waits
// on the word while it is 1; the consumer, after a batch of pops, fences and reads the word,
// and if it is set stores 0 and wakes every sleeper (wake_producers). Either the producer
// sees the freed slot or the consumer sees the flag, so no wake-up is lost.
//
// Trust: the consumer keeps `head` privately, never reads `tail`, and only ever acts on a
// slot whose seq is exactly head+1, so a client scribbling over its ring can stall its own
// ring or feed it context indexes, which the daemon validates (shm/request.h); it cannot make
// the consumer read outside the ring.
#pragma once

#include <atomic>
#include <cstdint>

#include "shm/wire.h"
#include "sync/fence.h"
#include "sync/futex.h"

namespace ringdb::shm {

class RingProducer {
 public:
  RingProducer() = default;
  RingProducer(void* ring, uint32_t slots)
      : header_(static_cast<RingHeader*>(ring)),
        slots_(reinterpret_cast<RingSlot*>(static_cast<char*>(ring) + sizeof(RingHeader))),
        mask_(slots - 1) {}

  // The producer's half of the full-ring handshake (above): flags a sleeper and looks again.
  // true: the slot at the tail is free now (push again, do not sleep); false: sleep on
  // waiting_word() while it holds 1 (sync::futex_wait, process-shared).
  bool prepare_wait() {
    header_->producers_waiting.store(1, std::memory_order_relaxed);
    sync::full_fence();
    const uint64_t pos = header_->tail.load(std::memory_order_relaxed);
    return static_cast<int64_t>(slots_[pos & mask_].seq.load(std::memory_order_acquire) - pos) >= 0;
  }
  const std::atomic<uint32_t>* waiting_word() const { return &header_->producers_waiting; }

  // Returns false if the ring is full (or corrupt: see below).
  bool try_push(uint32_t context) {
    uint64_t pos = header_->tail.load(std::memory_order_relaxed);
    for (;;) {
      RingSlot& slot = slots_[pos & mask_];
      const uint64_t seq = slot.seq.load(std::memory_order_acquire);
      const auto diff = static_cast<int64_t>(seq - pos);
      if (diff == 0) {
        // Relaxed is enough for the claim: the slot's seq (acquire above) already ordered us
        // after the consumer's release of it.
        if (header_->tail.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          slot.context = context;
          slot.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;
      } else {
        // Another producer claimed `pos` and moved the tail on; its slot's seq (acquire) puts
        // that move before this load. A tail that has not moved means a slot ahead of the
        // tail, which only a corrupt ring shows: fail as if full rather than spin forever
        // (the daemon disconnects a session whose ring is corrupt).
        const uint64_t now = header_->tail.load(std::memory_order_relaxed);
        if (now == pos) return false;
        pos = now;
      }
    }
  }

 private:
  RingHeader* header_ = nullptr;
  RingSlot* slots_ = nullptr;
  uint64_t mask_ = 0;
};

class RingConsumer {
 public:
  RingConsumer() = default;
  RingConsumer(void* ring, uint32_t slots)
      : header_(static_cast<RingHeader*>(ring)),
        slots_(reinterpret_cast<RingSlot*>(static_cast<char*>(ring) + sizeof(RingHeader))),
        slot_count_(slots),
        mask_(slots - 1) {}

  // Initialises an all-empty ring (daemon, before the client maps the segment).
  static void format(void* ring, uint32_t slots) {
    auto* header = static_cast<RingHeader*>(ring);
    header->tail.store(0, std::memory_order_relaxed);
    header->head.store(0, std::memory_order_relaxed);
    header->producers_waiting.store(0, std::memory_order_relaxed);
    auto* s = reinterpret_cast<RingSlot*>(static_cast<char*>(ring) + sizeof(RingHeader));
    for (uint32_t i = 0; i < slots; ++i) {
      s[i].seq.store(i, std::memory_order_relaxed);
      s[i].context = 0;
    }
  }

  // Cheap check without consuming (one load).
  bool ready() const {
    return slots_[head_ & mask_].seq.load(std::memory_order_acquire) == head_ + 1;
  }

  // The context index published `ahead` slots after the next one, without taking it: false
  // if that slot is not published yet. Only a hint (to prefetch the context): the producer
  // can still rewrite the slot, and the index is untrusted.
  bool peek(uint32_t ahead, uint32_t* context) const {
    if (ahead >= slot_count_) return false;
    const RingSlot& slot = slots_[(head_ + ahead) & mask_];
    if (slot.seq.load(std::memory_order_relaxed) != head_ + ahead + 1) return false;
    *context = slot.context;
    return true;
  }

  // Takes the next context index, if one is published. The index is untrusted.
  bool try_pop(uint32_t* context) {
    RingSlot& slot = slots_[head_ & mask_];
    if (slot.seq.load(std::memory_order_acquire) != head_ + 1) return false;
    *context = slot.context;
    slot.seq.store(head_ + slot_count_, std::memory_order_release);
    ++head_;
    header_->head.store(head_, std::memory_order_relaxed);
    return true;
  }

  // The consumer's half of the full-ring handshake, after pops: wakes the producers that
  // sleep for room. A fence and a load of a line the consumer owns; a system call only when a
  // producer flagged itself (a client that sets the flag for nothing costs its own ring's
  // worker one wake-up per batch). true if it woke.
  bool wake_producers() {
    sync::full_fence();
    if (header_->producers_waiting.load(std::memory_order_relaxed) == 0) return false;
    header_->producers_waiting.store(0, std::memory_order_relaxed);
    sync::futex_wake_all(&header_->producers_waiting, sync::Sharing::kProcessShared);
    return true;
  }

 private:
  RingHeader* header_ = nullptr;
  RingSlot* slots_ = nullptr;
  uint64_t slot_count_ = 0;
  uint64_t mask_ = 0;
  uint64_t head_ = 0;
};

}  // namespace ringdb::shm
