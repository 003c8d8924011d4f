#include "tools/admin/admin_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace ringdb::admin {

bool exchange(const std::string& path, const std::string& request, int timeout_ms,
              std::string* answer, std::string* error) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    *error = "socket path too long: " + path;
    return false;
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = "cannot connect to " + path + ": " + strerror(errno) +
             " (is ringdbd running? --socket or RINGDB_ADMIN_SOCKET name another socket)";
    if (fd >= 0) close(fd);
    return false;
  }
  const std::string line = request + "\n";
  for (size_t sent = 0; sent < line.size();) {
    const ssize_t n = send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      *error = std::string("sending the request: ") + strerror(errno);
      close(fd);
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  answer->clear();
  char buf[64 << 10];
  for (;;) {
    if (const size_t end = answer->find('\n'); end != std::string::npos) {
      answer->resize(end);
      close(fd);
      return true;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    pollfd p = {fd, POLLIN, 0};
    const int r = left <= 0 ? 0 : poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      *error = "no answer within " + std::to_string(timeout_ms) + " ms";
      close(fd);
      return false;
    }
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = "the daemon closed the connection without an answer";
      close(fd);
      return false;
    }
    answer->append(buf, static_cast<size_t>(n));
  }
}

}  // namespace ringdb::admin
