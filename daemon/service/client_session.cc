#include "daemon/service/client_session.h"

#include <unistd.h>

#include <cassert>

#include "shm/bus_guard.h"
#include "sync/latch_stats.h"

namespace ringdb::daemon {

using shm::WireStatus;

ClientSession::ClientSession(uint64_t id, const shm::SegmentGeometry& geometry,
                             std::unique_ptr<shm::Segment> segment, int socket_fd, PeerInfo peer,
                             uint32_t transactions_max)
    : id_(id),
      geometry_(geometry),
      segment_(std::move(segment)),
      socket_fd_(socket_fd),
      peer_(std::move(peer)),
      bus_guard_(shm::BusGuard::add(segment_->base(), segment_->size())),
      connected_ns_(sync::coarse_now_ns()),
      executing_(new std::atomic<uint8_t>[geometry.sizes.context_count]),
      response_blocks_(geometry.sizes.response_area_size),
      result_of_(geometry.sizes.context_count),
      txns_(transactions_max) {
  for (uint32_t i = 0; i < geometry.sizes.context_count; ++i) {
    executing_[i].store(0, std::memory_order_relaxed);
  }
}

ClientSession::~ClientSession() {
  shm::BusGuard::remove(bus_guard_);
  close(socket_fd_);
}

bool ClientSession::claim_context(uint32_t index) {
  assert(index < geometry_.sizes.context_count);
  return executing_[index].exchange(1, std::memory_order_acquire) == 0;
}

void ClientSession::release_context(uint32_t index) {
  executing_[index].store(0, std::memory_order_release);
}

void ClientSession::free_result_locked(uint32_t index) {
  ResultBlock& b = result_of_[index];
  if (b.size == 0) return;
  response_blocks_.free(b.offset, b.size);
  b = {};
}

bool ClientSession::place_result(uint32_t index, uint32_t size, uint32_t* offset) {
  sync::MutexGuard guard(response_mu_);
  // The client submitted this context again, so it is done with the previous answer.
  free_result_locked(index);
  auto block = response_blocks_.allocate(size);
  if (!block) {
    // Take back the blocks of answers the client has read (it stores FREE afterwards).
    for (uint32_t i = 0; i < result_of_.size(); ++i) {
      if (result_of_[i].size != 0 &&
          context(i)->state.load(std::memory_order_acquire) == shm::kStateFree) {
        free_result_locked(i);
      }
    }
    block = response_blocks_.allocate(size);
    if (!block) return false;
  }
  result_of_[index] = {*block, size};
  *offset = *block;
  return true;
}

ClientSession::TxnSlot* ClientSession::slot_of(uint64_t handle) {
  const uint64_t slot = (handle & 0xffff'ffff) - 1;
  const auto generation = static_cast<uint32_t>(handle >> 32);
  if (slot >= txns_.size()) return nullptr;
  TxnSlot& s = txns_[slot];
  if (s.generation != generation || !s.txn) return nullptr;
  return &s;
}

WireStatus ClientSession::begin_transaction(Engine& engine, bool read_only, uint64_t* handle) {
  sync::MutexGuard guard(txn_mu_);
  for (size_t i = 0; i < txns_.size(); ++i) {
    TxnSlot& s = txns_[i];
    if (s.txn) continue;
    const Status status =
        engine.begin(read_only ? TxnMode::kReadOnly : TxnMode::kReadWrite, &s.txn);
    if (status != Status::kOk) return static_cast<WireStatus>(status);
    ++txns_open_;
    s.begun_ns = sync::coarse_now_ns();
    *handle = uint64_t{s.generation} << 32 | (i + 1);
    return WireStatus::kOk;
  }
  return WireStatus::kTooManyTransactions;
}

WireStatus ClientSession::claim_transaction(uint64_t handle, Transaction** txn) {
  sync::MutexGuard guard(txn_mu_);
  TxnSlot* s = slot_of(handle);
  if (s == nullptr) {
    const uint64_t slot = (handle & 0xffff'ffff) - 1;
    const auto generation = static_cast<uint32_t>(handle >> 32);
    const bool expired =
        slot < txns_.size() && generation != 0 && txns_[slot].expired_generation == generation;
    return expired ? WireStatus::kTrxTooOld : WireStatus::kUnknownTransaction;
  }
  if (s->busy) return WireStatus::kTransactionBusy;
  s->busy = true;
  *txn = s->txn.get();
  return WireStatus::kOk;
}

void ClientSession::release_transaction(uint64_t handle) {
  sync::MutexGuard guard(txn_mu_);
  TxnSlot* s = slot_of(handle);
  assert(s != nullptr && s->busy);
  s->busy = false;
}

std::unique_ptr<Transaction> ClientSession::take_transaction(uint64_t handle) {
  sync::MutexGuard guard(txn_mu_);
  TxnSlot* s = slot_of(handle);
  assert(s != nullptr && s->busy);
  std::unique_ptr<Transaction> txn = std::move(s->txn);
  s->busy = false;
  ++s->generation;  // the handle is dead from here on
  --txns_open_;
  return txn;
}

WireStatus ClientSession::end_transaction(Engine& engine, uint64_t handle, bool commit,
                                          uint64_t* csn) {
  std::unique_ptr<Transaction> txn = take_transaction(handle);
  *csn = 0;
  if (!commit) {
    engine.abort(std::move(txn));
    return WireStatus::kOk;
  }
  mvcc::Csn commit_csn = mvcc::kNoCsn;
  const Status status = engine.commit(std::move(txn), &commit_csn);
  if (status == Status::kOk && commit_csn != mvcc::kNoCsn) *csn = commit_csn;
  return static_cast<WireStatus>(status);
}

uint32_t ClientSession::expire_transactions(Engine& engine, int64_t begun_before_ns) {
  sync::MutexGuard guard(txn_mu_);
  uint32_t n = 0;
  for (TxnSlot& s : txns_) {
    if (!s.txn || s.busy || s.begun_ns >= begun_before_ns) continue;
    engine.abort(std::move(s.txn));
    s.expired_generation = s.generation;
    ++s.generation;
    --txns_open_;
    ++n;
  }
  return n;
}

bool ClientSession::holds_transaction(mvcc::TrxId id, int64_t* begun_ns) const {
  sync::MutexGuard guard(txn_mu_);
  for (const TxnSlot& s : txns_) {
    // A busy slot's transaction is in a worker's hands (its id may be changing).
    if (s.txn && !s.busy && s.txn->id() == id) {
      *begun_ns = s.begun_ns;
      return true;
    }
  }
  return false;
}

ClientSession::Activity ClientSession::activity() const {
  Activity a;
  a.connected_ns = connected_ns_;
  for (uint32_t i = 0; i < geometry_.sizes.context_count; ++i)
    a.executing += executing_[i].load(std::memory_order_relaxed) != 0 ? 1u : 0u;
  sync::MutexGuard guard(txn_mu_);
  a.open_transactions = txns_open_;
  for (const TxnSlot& s : txns_) {
    if (s.txn && (a.oldest_transaction_ns == 0 || s.begun_ns < a.oldest_transaction_ns))
      a.oldest_transaction_ns = s.begun_ns;
  }
  return a;
}

void ClientSession::abort_transactions(Engine& engine) {
  sync::MutexGuard guard(txn_mu_);
  for (TxnSlot& s : txns_) {
    if (!s.txn) continue;
    engine.abort(std::move(s.txn));
    ++s.generation;
    --txns_open_;
  }
}

uint32_t ClientSession::open_transactions() const {
  sync::MutexGuard guard(txn_mu_);
  return txns_open_;
}

void ClientSession::mark_corrupt(const char* why) {
  {
    sync::MutexGuard guard(reason_mu_);
    if (corrupt_reason_.empty()) corrupt_reason_ = why;
  }
  corrupt_.store(true, std::memory_order_release);
}

std::string ClientSession::corrupt_reason() const {
  sync::MutexGuard guard(reason_mu_);
  return corrupt_reason_;
}

bool ClientSession::poisoned() const {
  return shm::BusGuard::poisoned(bus_guard_);
}

}  // namespace ringdb::daemon
