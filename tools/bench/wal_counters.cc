#include "tools/bench/wal_counters.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace ringdb::bench {

bool read_wal_counters(const std::string& admin_socket, WalCounters* out, std::string* error) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (admin_socket.size() >= sizeof addr.sun_path) {
    *error = "admin socket path too long";
    return false;
  }
  memcpy(addr.sun_path, admin_socket.c_str(), admin_socket.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = "cannot connect to the admin socket " + admin_socket + ": " + strerror(errno);
    if (fd >= 0) close(fd);
    return false;
  }
  const std::string request = "{\"v\":1,\"cmd\":\"wal\"}\n";
  std::string answer;
  bool ok = send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size());
  while (ok && answer.find('\n') == std::string::npos) {
    pollfd p = {fd, POLLIN, 0};
    char buf[4096];
    ssize_t n = 0;
    ok = poll(&p, 1, 10'000) == 1 && (n = recv(fd, buf, sizeof buf, 0)) > 0;
    if (ok) answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const nlohmann::json reply =
      ok ? nlohmann::json::parse(answer.substr(0, answer.find('\n')), nullptr, false)
         : nlohmann::json();
  if (!ok || reply.is_discarded() || !reply.is_object() || !reply.value("ok", false) ||
      !reply.contains("result")) {
    *error = "no usable answer from the admin socket " + admin_socket;
    return false;
  }
  const nlohmann::json& r = reply["result"];
  out->batches = r.value("batches", uint64_t{0});
  out->records = r.value("records", uint64_t{0});
  out->fsyncs = r.value("fsyncs", uint64_t{0});
  return true;
}

}  // namespace ringdb::bench
