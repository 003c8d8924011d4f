#include "daemon/base/tcp_listen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringdb::daemon {
namespace {

// "127.0.0.1:9477" or "[::1]:9477" into the socket address it names (and its host and port);
// false for anything else.
bool parse_address(const std::string& text, sockaddr_storage* address, socklen_t* length,
                   std::string* host, uint16_t* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string h = text.substr(0, colon);
  const std::string p = text.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const unsigned long number = std::stoul(p);
  if (number < 1 || number > 65535) return false;
  *address = {};
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
    auto* a = reinterpret_cast<sockaddr_in6*>(address);
    if (inet_pton(AF_INET6, h.c_str(), &a->sin6_addr) != 1) return false;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(number));
    *length = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(address);
    if (inet_pton(AF_INET, h.c_str(), &a->sin_addr) != 1) return false;
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(number));
    *length = sizeof *a;
  }
  *host = h;
  *port = static_cast<uint16_t>(number);
  return true;
}

}  // namespace

bool parse_host_port(const std::string& text, std::string* host, uint16_t* port) {
  sockaddr_storage address;
  socklen_t length;
  return parse_address(text, &address, &length, host, port);
}

int listen_tcp(const std::string& address, std::string* error) {
  sockaddr_storage storage;
  socklen_t length;
  std::string host;
  uint16_t port;
  if (!parse_address(address, &storage, &length, &host, &port)) {
    *error = "'" + address + "' is not HOST:PORT (an IPv4 address or [IPv6], a port 1-65535)";
    return -1;
  }
  const int fd = socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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
