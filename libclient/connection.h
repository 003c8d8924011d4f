// Connection: the transport half of a libringdb session: the handshake on the session socket
// (docs/PROTOCOL.md section 1), the three mappings it hands over (session segment, board,
// doorbells) checked before use, and the socket kept open as the session's liveness channel.
// What travels over the mappings (contexts, rings, wake-ups) is Session's business
// (libclient/session.h).
//
// Trust: the client trusts its daemon, but checks what it maps (magic, version, the
// segment's geometry, the board's ring -> worker map, the objects' sizes) so that a
// mismatched daemon is refused with kProtocolMismatch instead of faulting later.
//
// Thread safety: after open() returns, every method may be called concurrently; the object
// is immutable until destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ringdb/client.h"
#include "shm/layout.h"
#include "shm/wire.h"

namespace ringdb::libclient {

class Connection {
 public:
  // How long connect waits for the daemon's hello. A daemon that accepted nothing (its
  // listen backlog holds our connection) or hangs must not hang its clients forever.
  static constexpr int kHelloTimeoutMs = 10'000;

  // Connects to the daemon at `socket_path`, receives its hello and descriptors, maps and
  // checks them. Returns kOk, or kConnectFailed (no daemon, a system error, no answer),
  // kPermissionDenied, kTooManySessions, kShuttingDown (the daemon's refusals), or
  // kProtocolMismatch (a daemon of another protocol version, or an inconsistent reply), or
  // kUntrustedDaemon (the peer runs as neither root, this user nor one of `daemon_uids`),
  // with a sentence in *error.
  static Status open(const std::string& socket_path, const std::vector<uint32_t>& daemon_uids,
                     std::unique_ptr<Connection>* out, std::string* error);
  // Unmaps everything and closes the socket, which ends the session on the daemon's side.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  uint64_t session_id() const { return session_id_; }
  // The daemon's software version from its hello ("0.1.0"); empty if it did not say.
  const std::string& daemon_version() const { return daemon_version_; }
  const shm::SegmentGeometry& geometry() const { return geometry_; }
  std::byte* segment() const { return segment_; }
  shm::SegmentHeader* header() const { return reinterpret_cast<shm::SegmentHeader*>(segment_); }
  const shm::BoardHeader* board() const {
    return reinterpret_cast<const shm::BoardHeader*>(board_);
  }
  const shm::BoardWorker* board_worker(uint32_t worker) const {
    return reinterpret_cast<const shm::BoardWorker*>(board_ + shm::kBoardWorkersOffset) + worker;
  }
  shm::Doorbell* doorbell(uint32_t worker) const {
    return reinterpret_cast<shm::Doorbell*>(doorbells_) + worker;
  }
  // The worker that serves ring r, read once from the board and checked (< worker_count).
  uint32_t ring_worker(uint32_t ring) const { return ring_worker_[ring]; }

  // Asks the socket, without blocking, whether the daemon has closed its end (it detached
  // the session, or died). One poll(2), plus a peek if data is pending: a system call, so
  // callers ask only when a wait has already been long.
  bool hung_up() const;

 private:
  Connection() = default;
  Status map_objects(const shm::HelloReply& reply, const int (&fds)[3], std::string* error);

  int socket_ = -1;
  uint64_t session_id_ = 0;
  std::string daemon_version_;
  std::byte* segment_ = nullptr;
  size_t segment_size_ = 0;
  std::byte* board_ = nullptr;  // mapped read-only
  std::byte* doorbells_ = nullptr;
  shm::SegmentGeometry geometry_;
  std::vector<uint16_t> ring_worker_;
};

}  // namespace ringdb::libclient
