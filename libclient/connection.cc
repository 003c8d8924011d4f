#include "libclient/connection.h"

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "shm/fd_passing.h"
#include "shm/segment.h"

namespace ringdb {

std::string default_socket_path() {
  // The same rule as ringdbd's default (daemon/service/config.cc): a relative or empty variable is
  // ignored, as the daemon ignores it.
  if (const char* env = std::getenv("RINGDB_SOCKET"); env != nullptr && *env != '\0') {
    return env;
  }
  if (geteuid() == 0) return "/run/ringdb/ringdb.sock";
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/ringdb/ringdb.sock";
  }
  return "/tmp/ringdb-" + std::to_string(geteuid()) + "/ringdb.sock";
}

namespace libclient {
namespace {

// Closes a descriptor on every path out of the handshake.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

Status fail(std::string* error, Status status, std::string text) {
  if (error != nullptr) *error = std::move(text);
  return status;
}

std::string errno_text(const char* call) {
  return std::string(call) + ": " + std::strerror(errno);
}

// The daemon's reason for a refusal, or its version: NUL-terminated, as the daemon
// promises; a reply that is not is cut.
std::string text_of(const shm::HelloReply& reply) {
  return std::string(reply.text, strnlen(reply.text, sizeof reply.text));
}

Status connect_socket(const std::string& path, UniqueFd* out, std::string* error) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return fail(error, Status::kConnectFailed,
                "socket path '" + path + "' is empty or longer than " +
                    std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return fail(error, Status::kConnectFailed, errno_text("socket"));
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int e = errno;
    const std::string why = std::strerror(e);
    if (e == ENOENT || e == ECONNREFUSED) {
      return fail(error, Status::kConnectFailed,
                  "no ringdbd is listening on " + path + " (" + why +
                      "); start ringdbd, or set RINGDB_SOCKET to the socket of a running one");
    }
    if (e == EACCES || e == EPERM) {
      return fail(error, Status::kPermissionDenied,
                  "cannot open the ringdbd socket " + path + " (" + why +
                      "): its directory or file mode keeps this user out");
    }
    return fail(error, Status::kConnectFailed, "connect to " + path + ": " + why);
  }
  *out = std::move(fd);
  return Status::kOk;
}

// Trust runs both ways: before anything else, the process behind the socket must run as
// root, as this user, or as a user the application named. Another user could have put a
// socket of theirs where the daemon's should be (a folder they own or can write).
Status check_peer(int fd, const std::string& path, const std::vector<uint32_t>& daemon_uids,
                  std::string* error) {
  ucred cred = {};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return fail(error, Status::kConnectFailed, errno_text("getsockopt(SO_PEERCRED)"));
  const uid_t me = geteuid();
  if (cred.uid == 0 || cred.uid == me ||
      std::find(daemon_uids.begin(), daemon_uids.end(), cred.uid) != daemon_uids.end())
    return Status::kOk;
  return fail(error, Status::kUntrustedDaemon,
              "the process behind " + path + " (pid " + std::to_string(cred.pid) +
                  ") runs as uid " + std::to_string(cred.uid) + ", not as root or this user (uid " +
                  std::to_string(me) +
                  "): not trusted, nothing sent. If ringdbd runs as that user, name it in "
                  "ConnectOptions::daemon_uids");
}

// Waits for the hello (bounded by kHelloTimeoutMs). false with *error on timeout or error.
bool wait_readable(int fd, const std::string& path, std::string* error) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(Connection::kHelloTimeoutMs);
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      *error = "ringdbd at " + path + " did not answer within " +
               std::to_string(Connection::kHelloTimeoutMs / 1000) + " s";
      return false;
    }
    pollfd p = {fd, POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;  // readable, or hung up: recvmsg tells which
    if (n < 0 && errno != EINTR) {
      *error = errno_text("poll");
      return false;
    }
  }
}

// Up to this many descriptors are accepted so that a daemon sending more than three is
// recognised (and every one of them closed) rather than having some silently dropped.
struct Hello {
  shm::HelloReply reply = {};
  size_t bytes = 0;
  bool truncated = false;         // the message was longer than a HelloReply
  bool descriptors_lost = false;  // the kernel dropped some (open-file limit)
  std::vector<UniqueFd> fds;
};

Status receive_hello(int fd, const std::string& path, Hello* hello, std::string* error) {
  std::string why;
  if (!wait_readable(fd, path, &why)) return fail(error, Status::kConnectFailed, why);
  shm::ReceivedFds received;
  const ssize_t n = shm::receive_with_fds(fd, &hello->reply, sizeof hello->reply, &received);
  if (n < 0)
    return fail(error, Status::kConnectFailed, "receive the hello: " + errno_text("recvmsg"));
  for (const int received_fd : received.fds)
    hello->fds.emplace_back(received_fd);
  hello->bytes = static_cast<size_t>(n);
  hello->truncated = received.truncated;
  hello->descriptors_lost = received.descriptors_lost;
  return Status::kOk;
}

Status refusal(shm::HelloStatus status) {
  switch (status) {
    case shm::HelloStatus::kHelloPermissionDenied:
      return Status::kPermissionDenied;
    case shm::HelloStatus::kHelloTooManySessions:
      return Status::kTooManySessions;
    case shm::HelloStatus::kHelloShuttingDown:
      return Status::kShuttingDown;
    default:
      return Status::kConnectFailed;
  }
}

// Checks the hello's header; kOk means: our protocol, status OK, exactly three descriptors.
Status check_hello(const Hello& hello, const std::string& path, std::string* error) {
  const shm::HelloReply& r = hello.reply;
  if (hello.bytes == 0) {
    return fail(error, Status::kConnectFailed,
                "ringdbd at " + path + " closed the connection without answering");
  }
  // magic and version come first in every version's hello: they are checked before the
  // rest, whose layout may differ in another version.
  if (hello.bytes < 8 || r.magic != shm::kSegmentMagic) {
    return fail(error, Status::kProtocolMismatch,
                path + " did not answer with a ringdb hello (bad magic): not a ringdbd socket?");
  }
  if (r.version != shm::kProtocolVersion) {
    return fail(error, Status::kProtocolMismatch,
                "ringdbd at " + path + " speaks protocol version " + std::to_string(r.version) +
                    "; this libringdb speaks version " + std::to_string(shm::kProtocolVersion));
  }
  if (hello.bytes != sizeof r || hello.truncated) {
    return fail(error, Status::kProtocolMismatch,
                "ringdbd at " + path + " sent a hello of the wrong size");
  }
  if (r.status != shm::HelloStatus::kHelloOk) {
    return fail(error, refusal(r.status),
                "ringdbd at " + path + " refused the session: " + text_of(r));
  }
  if (hello.descriptors_lost) {
    return fail(error, Status::kConnectFailed,
                "the session's descriptors were dropped on receipt (open-file limit reached?)");
  }
  if (hello.fds.size() != 3) {
    return fail(error, Status::kProtocolMismatch,
                "ringdbd sent " + std::to_string(hello.fds.size()) +
                    " descriptors with its hello; a session has 3");
  }
  return Status::kOk;
}

// A mapping must not reach past the object's end: touching such a page would be SIGBUS.
bool big_enough(int fd, uint64_t size, const char* what, std::string* error) {
  struct stat st = {};
  if (fstat(fd, &st) != 0) {
    *error = std::string(what) + ": " + errno_text("fstat");
    return false;
  }
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) < size) {
    *error = std::string("the ") + what + " is " + std::to_string(st.st_size) +
             " bytes, smaller than the " + std::to_string(size) + " the protocol needs";
    return false;
  }
  return true;
}

}  // namespace

Status Connection::open(const std::string& socket_path, const std::vector<uint32_t>& daemon_uids,
                        std::unique_ptr<Connection>* out, std::string* error) {
  UniqueFd socket_fd;
  if (Status s = connect_socket(socket_path, &socket_fd, error); s != Status::kOk) return s;
  if (Status s = check_peer(socket_fd.get(), socket_path, daemon_uids, error); s != Status::kOk)
    return s;
  Hello hello;
  if (Status s = receive_hello(socket_fd.get(), socket_path, &hello, error); s != Status::kOk) {
    return s;
  }
  if (Status s = check_hello(hello, socket_path, error); s != Status::kOk) return s;
  std::unique_ptr<Connection> c(new Connection());
  c->socket_ = socket_fd.release();
  c->session_id_ = hello.reply.session_id;
  c->daemon_version_ = text_of(hello.reply);
  const int fds[3] = {hello.fds[0].get(), hello.fds[1].get(), hello.fds[2].get()};
  if (Status s = c->map_objects(hello.reply, fds, error); s != Status::kOk) return s;
  // The mappings keep the objects alive; the descriptors close with `hello`.
  *out = std::move(c);
  return Status::kOk;
}

Status Connection::map_objects(const shm::HelloReply& reply, const int (&fds)[3],
                               std::string* error) {
  std::string why;
  const uint64_t size = reply.segment_size;
  if (size < shm::kPage || size % shm::kPage != 0 || size > SIZE_MAX / 2) {
    return fail(error, Status::kProtocolMismatch,
                "ringdbd announced a session segment of " + std::to_string(size) + " bytes");
  }
  if (!big_enough(fds[0], size, "session segment", &why) ||
      !big_enough(fds[1], shm::kBoardSize, "board", &why) ||
      !big_enough(fds[2], shm::kDoorbellsSize, "doorbells", &why)) {
    return fail(error, Status::kProtocolMismatch, why);
  }
  segment_ = static_cast<std::byte*>(shm::map_fd(fds[0], size, /*writable=*/true, &why));
  if (segment_ == nullptr) return fail(error, Status::kConnectFailed, "session segment: " + why);
  segment_size_ = size;
  board_ = static_cast<std::byte*>(shm::map_fd(fds[1], shm::kBoardSize, false, &why));
  if (board_ == nullptr) return fail(error, Status::kConnectFailed, "board: " + why);
  doorbells_ = static_cast<std::byte*>(shm::map_fd(fds[2], shm::kDoorbellsSize, true, &why));
  if (doorbells_ == nullptr) return fail(error, Status::kConnectFailed, "doorbells: " + why);

  const shm::SegmentHeader& h = *header();
  if (!shm::SegmentGeometry::from_header(h, size, &geometry_, &why)) {
    return fail(error, Status::kProtocolMismatch, "session segment: " + why);
  }
  if (h.session_id != reply.session_id) {
    return fail(error, Status::kProtocolMismatch,
                "the session segment belongs to another session than the hello's");
  }
  const shm::BoardHeader& b = *board();
  if (b.magic != shm::kBoardMagic || b.version != shm::kProtocolVersion) {
    return fail(error, Status::kProtocolMismatch, "the board has a bad magic or version");
  }
  if (b.worker_count == 0 || b.worker_count > shm::kWorkersMax ||
      b.ring_count != geometry_.sizes.ring_count) {
    return fail(error, Status::kProtocolMismatch,
                "the board's worker or ring count does not match the session segment");
  }
  ring_worker_.resize(geometry_.sizes.ring_count);
  for (uint32_t r = 0; r < geometry_.sizes.ring_count; ++r) {
    if (b.ring_worker[r] >= b.worker_count) {
      return fail(error, Status::kProtocolMismatch,
                  "the board maps ring " + std::to_string(r) + " to a worker that does not exist");
    }
    ring_worker_[r] = b.ring_worker[r];
  }
  return Status::kOk;
}

Connection::~Connection() {
  if (segment_ != nullptr) munmap(segment_, segment_size_);
  if (board_ != nullptr) munmap(board_, shm::kBoardSize);
  if (doorbells_ != nullptr) munmap(doorbells_, shm::kDoorbellsSize);
  if (socket_ >= 0) close(socket_);
}

bool Connection::hung_up() const {
  pollfd p = {socket_, POLLIN, 0};
  if (poll(&p, 1, 0) != 1) return false;  // nothing, or EINTR: ask again next time
  if ((p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) return true;
  // The daemon sends nothing after the hello, so readable means end of file; a peek tells
  // it from stray data without consuming anything.
  char byte;
  const ssize_t n = recv(socket_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

}  // namespace libclient
}  // namespace ringdb
