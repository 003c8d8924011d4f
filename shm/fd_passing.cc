#include "shm/fd_passing.h"

#include <sys/socket.h>

#include <cassert>
#include <cerrno>
#include <cstring>

namespace ringdb::shm {
namespace {

// A control buffer aligned for cmsghdr, large enough for kPassedFdsMax descriptors.
union ControlBuffer {
  cmsghdr align;
  char bytes[CMSG_SPACE(sizeof(int) * kPassedFdsMax)];
};

}  // namespace

ssize_t send_with_fds(int socket, const void* data, size_t size, std::span<const int> fds,
                      int flags) {
  assert(fds.size() <= kPassedFdsMax);
  iovec iov = {const_cast<void*>(data), size};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ControlBuffer control = {};
  if (!fds.empty()) {
    const size_t fd_bytes = fds.size_bytes();
    msg.msg_control = control.bytes;
    msg.msg_controllen = CMSG_SPACE(fd_bytes);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fd_bytes);
    std::memcpy(CMSG_DATA(c), fds.data(), fd_bytes);
  }
  return sendmsg(socket, &msg, flags);
}

ssize_t receive_with_fds(int socket, void* data, size_t size, ReceivedFds* received) {
  iovec iov = {data, size};
  ControlBuffer control = {};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.bytes;
  msg.msg_controllen = sizeof control.bytes;
  ssize_t n;
  do {
    n = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      received->fds.push_back(fd);
    }
  }
  received->truncated = (msg.msg_flags & MSG_TRUNC) != 0;
  received->descriptors_lost = (msg.msg_flags & MSG_CTRUNC) != 0;
  return n;
}

}  // namespace ringdb::shm
