// Client::connect (libclient/connection.cc) against a missing daemon and against a fake
// session socket that answers each way the protocol allows (docs/PROTOCOL.md section 1):
// each refusal maps to its status with the daemon's reason, a foreign or mismatched hello is
// PROTOCOL_MISMATCH, no descriptor leaks on any path, and a socket whose process runs as
// another user is not trusted.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "ringdb/client.h"
#include "tests/libclient/fake_daemon.h"
#include "tests/shm/shm_test_util.h"

namespace {

using ringdb::Client;
using ringdb::Status;
using ringdb::shm::HelloReply;
using ringdb::shm::HelloStatus;
using ringdb::test::FakeDaemon;
using ringdb::test::HelloServer;
using ringdb::test::TempDir;

Status connect_to(const std::string& path, std::string* error,
                  std::unique_ptr<Client>* out = nullptr) {
  std::unique_ptr<Client> client;
  ringdb::ConnectOptions options;
  options.socket_path = path;
  const Status s = Client::connect(options, &client, error);
  CHECK((s == Status::kOk) == (client != nullptr));
  if (out != nullptr) *out = std::move(client);
  return s;
}

// Connects to a HelloServer that answers with `reply` (and `fd_count` descriptors).
Status refused_with(const HelloReply& reply, std::string* error, const int* fds = nullptr,
                    int fd_count = 0) {
  HelloServer server;
  server.serve([&](int fd) { HelloServer::send_hello(fd, reply, fds, fd_count); });
  return connect_to(server.socket_path(), error);
}

size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
    ++n;
  return n;
}

}  // namespace

TEST_CASE("no daemon at the socket: CONNECT_FAILED naming the path and ringdbd") {
  TempDir dir;
  const std::string path = dir.path() + "/ringdb.sock";
  std::string error;
  CHECK(connect_to(path, &error) == Status::kConnectFailed);
  INFO(error);
  CHECK(error.find(path) != std::string::npos);
  CHECK(error.find("start ringdbd") != std::string::npos);
}

TEST_CASE("a socket file nobody listens on (a dead daemon's): CONNECT_FAILED") {
  TempDir dir;
  const std::string path = dir.path() + "/ringdb.sock";
  const int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  REQUIRE(bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  close(fd);  // the file stays, nobody listens: ECONNREFUSED
  std::string error;
  CHECK(connect_to(path, &error) == Status::kConnectFailed);
  INFO(error);
  CHECK(error.find("start ringdbd") != std::string::npos);
}

TEST_CASE("a socket path longer than sockaddr_un holds: CONNECT_FAILED") {
  std::string error;
  CHECK(connect_to("/tmp/" + std::string(200, 'x'), &error) == Status::kConnectFailed);
  CHECK(error.find("longer") != std::string::npos);
}

TEST_CASE("a permission refusal: PERMISSION_DENIED with the daemon's reason") {
  std::string error;
  CHECK(refused_with(HelloServer::hello(HelloStatus::kHelloPermissionDenied,
                                        "user 1000 is not allowed to connect"),
                     &error) == Status::kPermissionDenied);
  INFO(error);
  CHECK(error.find("user 1000 is not allowed to connect") != std::string::npos);
}

TEST_CASE("the session limit: TOO_MANY_SESSIONS") {
  std::string error;
  CHECK(refused_with(HelloServer::hello(HelloStatus::kHelloTooManySessions, "256 sessions"),
                     &error) == Status::kTooManySessions);
  CHECK(error.find("256 sessions") != std::string::npos);
}

TEST_CASE("a daemon that is stopping: SHUTTING_DOWN") {
  std::string error;
  CHECK(refused_with(HelloServer::hello(HelloStatus::kHelloShuttingDown), &error) ==
        Status::kShuttingDown);
}

TEST_CASE("the daemon's internal error (or an unknown refusal): CONNECT_FAILED") {
  std::string error;
  CHECK(refused_with(HelloServer::hello(HelloStatus::kHelloInternalError, "no memory"), &error) ==
        Status::kConnectFailed);
  CHECK(error.find("no memory") != std::string::npos);
  CHECK(refused_with(HelloServer::hello(static_cast<HelloStatus>(77)), &error) ==
        Status::kConnectFailed);
}

TEST_CASE("a reason without its NUL terminator is cut at the field's end") {
  HelloReply reply = HelloServer::hello(HelloStatus::kHelloPermissionDenied);
  std::memset(reply.text, 'r', sizeof reply.text);
  std::string error;
  CHECK(refused_with(reply, &error) == Status::kPermissionDenied);
  CHECK(error.find(std::string(sizeof reply.text, 'r')) != std::string::npos);
  CHECK(error.find(std::string(sizeof reply.text + 1, 'r')) == std::string::npos);
}

TEST_CASE("a hello with another magic: PROTOCOL_MISMATCH") {
  HelloReply reply = HelloServer::hello(HelloStatus::kHelloOk);
  reply.magic = 0x1234'5678;
  std::string error;
  CHECK(refused_with(reply, &error) == Status::kProtocolMismatch);
  CHECK(error.find("magic") != std::string::npos);
}

TEST_CASE("a hello of another protocol version: PROTOCOL_MISMATCH naming both versions") {
  HelloReply reply = HelloServer::hello(HelloStatus::kHelloOk);
  reply.version = 1;
  std::string error;
  CHECK(refused_with(reply, &error) == Status::kProtocolMismatch);
  INFO(error);
  CHECK(error.find("version 1") != std::string::npos);
  CHECK(error.find("version 2") != std::string::npos);
}

TEST_CASE("a hello of the wrong size: PROTOCOL_MISMATCH") {
  HelloServer server;
  server.serve([](int fd) {
    const HelloReply reply = HelloServer::hello(HelloStatus::kHelloOk);
    REQUIRE(send(fd, &reply, 64, 0) == 64);
  });
  std::string error;
  CHECK(connect_to(server.socket_path(), &error) == Status::kProtocolMismatch);
}

TEST_CASE("the daemon closes the connection without a hello: CONNECT_FAILED") {
  HelloServer server;
  server.serve([](int) {});
  std::string error;
  CHECK(connect_to(server.socket_path(), &error) == Status::kConnectFailed);
  CHECK(error.find("without answering") != std::string::npos);
}

TEST_CASE("an OK hello without the three descriptors: PROTOCOL_MISMATCH") {
  std::string error;
  CHECK(refused_with(HelloServer::hello(HelloStatus::kHelloOk), &error) ==
        Status::kProtocolMismatch);
  CHECK(error.find("descriptors") != std::string::npos);
}

TEST_CASE("objects smaller than the protocol says are refused, not mapped (no SIGBUS)") {
  int fds[3];
  for (int& fd : fds) {
    fd = memfd_create("small", MFD_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, 4096) == 0);
  }
  HelloReply reply = HelloServer::hello(HelloStatus::kHelloOk);
  reply.segment_size = 1 << 20;
  std::string error;
  CHECK(refused_with(reply, &error, fds, 3) == Status::kProtocolMismatch);
  INFO(error);
  CHECK(error.find("smaller") != std::string::npos);
  for (int fd : fds)
    close(fd);
}

TEST_CASE("a segment whose header does not follow from its sizes is refused") {
  const size_t size = 1 << 20;
  int fds[3];
  for (int& fd : fds) {
    fd = memfd_create("zeros", MFD_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, static_cast<off_t>(size)) == 0);  // all zeros: no magic
  }
  HelloReply reply = HelloServer::hello(HelloStatus::kHelloOk);
  reply.segment_size = size;
  std::string error;
  CHECK(refused_with(reply, &error, fds, 3) == Status::kProtocolMismatch);
  CHECK(error.find("session segment") != std::string::npos);
  for (int fd : fds)
    close(fd);
}

TEST_CASE("a good hello: the session is mapped, its id and the daemon's version reported") {
  FakeDaemon daemon;
  std::string error;
  std::unique_ptr<Client> client;
  REQUIRE(connect_to(daemon.socket_path(), &error, &client) == Status::kOk);
  CHECK(client->session_id() == 7);
  CHECK(client->daemon_version() == "9.8.7-fake");
  CHECK(client->ping() == Status::kOk);
}

TEST_CASE("no descriptor leaks, whether the connect fails or the client is closed") {
  const size_t before = open_fds();
  {
    int fds[3];
    for (int& fd : fds)
      fd = memfd_create("leak", MFD_CLOEXEC);
    HelloReply reply = HelloServer::hello(HelloStatus::kHelloOk);
    reply.segment_size = 1 << 20;
    std::string error;
    CHECK(refused_with(reply, &error, fds, 3) == Status::kProtocolMismatch);
    for (int fd : fds)
      close(fd);
  }
  {
    FakeDaemon daemon;
    auto client = daemon.connect();
    CHECK(client->ping() == Status::kOk);
    int fd = -1;
    CHECK(client->completion_fd(&fd) == Status::kOk);  // its eventfd goes with the client
  }
  CHECK(open_fds() == before);
}

TEST_CASE(
    "connect: a socket whose process runs as another user is refused before anything is sent") {
  if (geteuid() != 0) {
    MESSAGE("skipped: a listener of another user needs root to be made here");
    return;
  }
  constexpr uid_t kNobody = 65534;
  TempDir dir;
  REQUIRE(chmod(dir.path().c_str(), 0777) == 0);  // the other user's socket goes in it
  const std::string path = dir.path() + "/ringdb.sock";
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  // The other user's process: listens, then reads what each of two connections sends.
  const pid_t child = ringdb::shm::test::fork_child([&] {
    close(ready[0]);
    if (setgid(kNobody) != 0 || setuid(kNobody) != 0) return 10;
    const int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    if (bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(s, 2) != 0)
      return 11;
    if (write(ready[1], "r", 1) != 1) return 12;
    for (int i = 0; i < 2; ++i) {
      const int c = accept(s, nullptr, nullptr);
      if (c < 0) return 13;
      char byte;
      if (i == 0 && recv(c, &byte, 1, 0) != 0) return 14;  // the client sent something
      close(c);  // the second: no hello, as a process that is not ringdbd might do
    }
    return 0;
  });
  close(ready[1]);
  char byte = 0;
  REQUIRE(read(ready[0], &byte, 1) == 1);
  close(ready[0]);

  std::string error;
  CHECK(connect_to(path, &error) == Status::kUntrustedDaemon);
  CHECK(error.find("runs as uid 65534") != std::string::npos);
  // Named by the application, the same user is trusted: the client goes on to wait for the
  // hello, which this listener never sends.
  std::unique_ptr<Client> client;
  ringdb::ConnectOptions options;
  options.socket_path = path;
  options.daemon_uids = {kNobody};
  CHECK(Client::connect(options, &client, &error) == Status::kConnectFailed);
  CHECK(error.find("without answering") != std::string::npos);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
