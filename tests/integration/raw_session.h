// RawSession: a session opened by hand, without libringdb, for tests that play a hostile
// or broken client: it speaks the handshake of docs/PROTOCOL.md section 1 and hands out the
// raw mappings, which the test may then scribble over.
//
// Thread safety: none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "shm/layout.h"
#include "shm/wire.h"

namespace ringdb::test {

class RawSession {
 public:
  // Connects to `socket_path`; ok() tells whether the handshake succeeded.
  explicit RawSession(const std::string& socket_path);
  ~RawSession();
  RawSession(const RawSession&) = delete;
  RawSession& operator=(const RawSession&) = delete;

  bool ok() const { return segment_ != nullptr; }
  const shm::HelloReply& reply() const { return reply_; }
  const std::string& error() const { return error_; }
  std::byte* segment() const { return segment_; }
  int segment_fd() const { return fds_[0]; }
  int socket_fd() const { return socket_; }
  const shm::SegmentGeometry& geometry() const { return geometry_; }
  const shm::BoardHeader* board() const {
    return reinterpret_cast<const shm::BoardHeader*>(board_);
  }
  // Rings every worker's doorbell (as a client does when need_wakeup is set).
  void ring_doorbells();
  // Submits context `index` (already filled in) on ring `ring`; false if the ring is full.
  bool submit(uint32_t ring, uint32_t index);
  shm::ContextHeader* context(uint32_t index) const;
  // Waits (yielding) up to `timeout_ms` for context `index` to be DONE; false on timeout or
  // when the daemon hung up.
  bool wait_done(uint32_t index, int timeout_ms);

 private:
  int socket_ = -1;
  int fds_[3] = {-1, -1, -1};
  shm::HelloReply reply_ = {};
  std::string error_;
  std::byte* segment_ = nullptr;
  const std::byte* board_ = nullptr;
  std::byte* doorbells_ = nullptr;
  shm::SegmentGeometry geometry_;
};

}  // namespace ringdb::test
