// The metrics endpoint's listener (daemon/base/tcp_listen.h): only numeric HOST:PORT, and a
// socket that accepts on it.
#include <doctest/doctest.h>
#include <unistd.h>

#include <string>

#include "daemon/base/tcp_listen.h"
#include "tests/support/loopback.h"

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
  const int port = test::free_loopback_port();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  std::string error;
  const int fd = listen_tcp(address, &error);
  REQUIRE_MESSAGE(fd >= 0, error);
  const int client = test::connect_loopback(port);
  CHECK(client >= 0);
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
