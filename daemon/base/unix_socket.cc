#include "daemon/base/unix_socket.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ringdb::daemon {

int listen_unix(const std::string& path, int type, unsigned mode, std::string* error) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    *error = "socket path too long: " + path;
    return -1;
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + strerror(errno);
    return -1;
  }
  // One daemon per socket: a live one answers a connect; a stale file is removed.
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 || errno == EAGAIN) {
    *error = "another ringdbd is serving " + path;
    close(fd);
    return -1;
  }
  unlink(path.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = "bind " + path + ": " + strerror(errno);
    close(fd);
    return -1;
  }
  if (chmod(path.c_str(), mode) != 0 || listen(fd, 128) != 0) {
    *error = "listen " + path + ": " + strerror(errno);
    unlink(path.c_str());
    close(fd);
    return -1;
  }
  return fd;
}

bool peer_allowed(int fd, const ucred& cred, const std::vector<uid_t>& users,
                  const std::vector<gid_t>& groups, std::string* who) {
  *who = "user " + std::to_string(cred.uid) + " (pid " + std::to_string(cred.pid) + ")";
  if (std::find(users.begin(), users.end(), cred.uid) != users.end()) return true;
  std::vector<gid_t> peer_groups(1, cred.gid);
  gid_t more[256];
  socklen_t len = sizeof more;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, more, &len) == 0) {
    peer_groups.insert(peer_groups.end(), more, more + len / sizeof(gid_t));
  }
  return std::any_of(peer_groups.begin(), peer_groups.end(), [&](gid_t g) {
    return std::find(groups.begin(), groups.end(), g) != groups.end();
  });
}

}  // namespace ringdb::daemon
