// The metrics endpoint's listener (daemon/base/tcp_listen.h): only numeric HOST:PORT, and a
// socket that accepts on it.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "daemon/base/tcp_listen.h"

namespace ringdb::daemon {
namespace {

TEST_CASE("parse_host_port: IPv4 or [IPv6] and a port 1-65535, nothing else") {
  std::string host;
  uint16_t port = 0;
  REQUIRE(parse_host_port("127.0.0.1:9477", &host, &port));
  CHECK(host == "127.0.0.1");
  CHECK(port == 9477);
  REQUIRE(parse_host_port("[::1]:65535", &host, &port));
  CHECK(host == "::1");
  CHECK(port == 65535);
  for (const char* bad : {"", "9477", ":9477", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
                          "127.0.0.1:65536", "127.0.0.1:123456", "127.0.0.1:-1", "127.0.0.1:9x",
                          "localhost:9477", "::1:80", "[::1]", "[127.0.0.1]:80", "1.2.3:80"}) {
    INFO(bad);
    CHECK_FALSE(parse_host_port(bad, &host, &port));
  }
}

TEST_CASE("listen_tcp: listens on loopback; a port in use is a clear error") {
  // A free port: bind to 0, read it, close, listen there.
  const int probe = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  close(probe);
  const std::string address = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  std::string error;
  const int fd = listen_tcp(address, &error);
  REQUIRE_MESSAGE(fd >= 0, error);
  const int client = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  close(client);
  const int again = listen_tcp(address, &error);
  CHECK(again < 0);
  CHECK(error.find("cannot listen on " + address) == 0);
  close(fd);
  CHECK(listen_tcp("localhost:80", &error) < 0);
  CHECK(error.find("is not HOST:PORT") != std::string::npos);
}

}  // namespace
}  // namespace ringdb::daemon
