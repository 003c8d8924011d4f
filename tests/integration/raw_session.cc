#include "tests/integration/raw_session.h"

#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "shm/ring.h"
#include "sync/futex.h"

namespace ringdb::test {

RawSession::RawSession(const std::string& socket_path) {
  socket_ = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (connect(socket_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = std::string("connect: ") + strerror(errno);
    return;
  }
  char control[CMSG_SPACE(sizeof fds_)] = {};
  iovec iov = {&reply_, sizeof reply_};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (recvmsg(socket_, &msg, MSG_CMSG_CLOEXEC) != sizeof reply_) {
    error_ = "short hello";
    return;
  }
  if (reply_.status != shm::HelloStatus::kHelloOk) {
    error_ = reply_.text;
    return;
  }
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  if (cmsg == nullptr || cmsg->cmsg_len != CMSG_LEN(sizeof fds_)) {
    error_ = "no descriptors";
    return;
  }
  memcpy(fds_, CMSG_DATA(cmsg), sizeof fds_);
  void* seg = mmap(nullptr, reply_.segment_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds_[0], 0);
  void* board = mmap(nullptr, shm::kBoardSize, PROT_READ, MAP_SHARED, fds_[1], 0);
  void* bells = mmap(nullptr, shm::kDoorbellsSize, PROT_READ | PROT_WRITE, MAP_SHARED, fds_[2], 0);
  if (seg == MAP_FAILED || board == MAP_FAILED || bells == MAP_FAILED) {
    error_ = "mmap failed";
    return;
  }
  board_ = static_cast<const std::byte*>(board);
  doorbells_ = static_cast<std::byte*>(bells);
  if (!shm::SegmentGeometry::from_header(*static_cast<shm::SegmentHeader*>(seg),
                                         reply_.segment_size, &geometry_, &error_)) {
    munmap(seg, reply_.segment_size);
    return;
  }
  segment_ = static_cast<std::byte*>(seg);
}

RawSession::~RawSession() {
  if (segment_ != nullptr) munmap(segment_, reply_.segment_size);
  if (board_ != nullptr) munmap(const_cast<std::byte*>(board_), shm::kBoardSize);
  if (doorbells_ != nullptr) munmap(doorbells_, shm::kDoorbellsSize);
  for (int fd : fds_) {
    if (fd >= 0) close(fd);
  }
  if (socket_ >= 0) close(socket_);
}

void RawSession::ring_doorbells() {
  for (uint32_t w = 0; w < board()->worker_count; ++w) {
    auto* bell = reinterpret_cast<shm::Doorbell*>(doorbells_) + w;
    bell->bell.fetch_add(1);
    sync::futex_wake(&bell->bell, 1, sync::Sharing::kProcessShared);
  }
}

shm::ContextHeader* RawSession::context(uint32_t index) const {
  return reinterpret_cast<shm::ContextHeader*>(segment_ + geometry_.contexts_offset +
                                               uint64_t{index} * geometry_.sizes.context_size);
}

bool RawSession::submit(uint32_t ring, uint32_t index) {
  shm::RingProducer producer(
      segment_ + geometry_.rings_offset + uint64_t{ring} * geometry_.ring_stride,
      geometry_.sizes.ring_slots);
  if (!producer.try_push(index)) return false;
  ring_doorbells();
  return true;
}

bool RawSession::wait_done(uint32_t index, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if ((context(index)->state.load(std::memory_order_acquire) & ~shm::kStateWaiting) ==
        shm::kStateDone) {
      return true;
    }
    pollfd p = {socket_, POLLIN, 0};
    if (poll(&p, 1, 0) == 1) return false;  // disconnected
    sched_yield();
  }
  return false;
}

}  // namespace ringdb::test
