#include "daemon/base/tcp_listen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringdb::daemon {

bool parse_host_port(const std::string& text, std::string* host, uint16_t* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string h = text.substr(0, colon);
  const std::string p = text.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const unsigned long number = std::stoul(p);
  if (number < 1 || number > 65535) return false;
  in6_addr v6;
  in_addr v4;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
    if (inet_pton(AF_INET6, h.c_str(), &v6) != 1) return false;
  } else if (inet_pton(AF_INET, h.c_str(), &v4) != 1) {
    return false;
  }
  *host = h;
  *port = static_cast<uint16_t>(number);
  return true;
}

int listen_tcp(const std::string& address, std::string* error) {
  std::string host;
  uint16_t port;
  if (!parse_host_port(address, &host, &port)) {
    *error = "'" + address + "' is not HOST:PORT (an IPv4 address or [IPv6], a port 1-65535)";
    return -1;
  }
  sockaddr_storage storage = {};
  socklen_t length;
  int family;
  if (host.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&storage);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
    family = AF_INET6;
    length = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&storage);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &a->sin_addr);
    family = AF_INET;
    length = sizeof *a;
  }
  const int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + strerror(errno);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&storage), length) != 0 || listen(fd, 16) != 0) {
    *error = "cannot listen on " + address + ": " + strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace ringdb::daemon
