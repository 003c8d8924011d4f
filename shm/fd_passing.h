// Descriptors passed over a unix socket (SCM_RIGHTS): how a session's segment, the board and
// the doorbells reach a client (the hello, docs/PROTOCOL.md section 1), one copy for the
// daemon, libringdb and the tests.
//
// Thread safety: no shared state; the caller owns the socket.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <span>
#include <vector>

namespace ringdb::shm {

// The most descriptors one message carries (the hello has three).
inline constexpr size_t kPassedFdsMax = 8;

// Sends one message of `size` bytes with `fds` (at most kPassedFdsMax; none: a plain
// message). Returns what sendmsg() returns; `flags` go to sendmsg (e.g. MSG_DONTWAIT).
ssize_t send_with_fds(int socket, const void* data, size_t size, std::span<const int> fds,
                      int flags);

struct ReceivedFds {
  std::vector<int> fds;    // close-on-exec; the caller owns (and closes) them
  bool truncated = false;  // the message was longer than the buffer
  // The kernel dropped some: more than kPassedFdsMax were sent, or the receiver reached its
  // open-file limit.
  bool descriptors_lost = false;
};
// Receives one message into `data` (at most `size` bytes) and the descriptors sent with it,
// retrying on EINTR. Returns the bytes received, 0 at end of stream, -1 with errno.
ssize_t receive_with_fds(int socket, void* data, size_t size, ReceivedFds* received);

}  // namespace ringdb::shm
