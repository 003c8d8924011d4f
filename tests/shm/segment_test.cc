// Segment (shm/segment.h): create() gives zeroed memory of the asked size whose name is gone
// from /dev/shm before it returns; its read-only descriptor cannot be mapped or made writable
// nor truncated; create_sealed() gives a memfd that cannot be resized; map_fd() maps a
// descriptor received over a unix socket (SCM_RIGHTS) in another process, and both processes
// see each other's writes.
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "shm/fd_passing.h"
#include "shm/segment.h"
#include "tests/shm/shm_test_util.h"

namespace ringdb::shm {
namespace {

constexpr size_t kSize = 3 * 4096 + 100;  // not a whole number of pages

std::unique_ptr<Segment> make(size_t size, const char* tag, bool read_only_view) {
  std::string error;
  auto segment = Segment::create(size, tag, read_only_view, &error);
  INFO(error);
  REQUIRE(segment != nullptr);
  return segment;
}

std::unique_ptr<Segment> make_sealed(size_t size) {
  std::string error;
  auto segment = Segment::create_sealed(size, "test-sealed", &error);
  INFO(error);
  REQUIRE(segment != nullptr);
  return segment;
}

bool all_zero(const std::byte* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != std::byte{0}) return false;
  }
  return true;
}

// Entries of /dev/shm whose name starts with `prefix`.
int shm_entries(const std::string& prefix) {
  DIR* dir = opendir("/dev/shm");
  REQUIRE(dir != nullptr);
  int n = 0;
  while (const dirent* e = readdir(dir)) {
    if (std::string(e->d_name).starts_with(prefix)) ++n;
  }
  closedir(dir);
  return n;
}

std::string fd_target(int fd) {
  char buffer[512];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = readlink(link.c_str(), buffer, sizeof buffer - 1);
  REQUIRE(n > 0);
  return std::string(buffer, static_cast<size_t>(n));
}

TEST_CASE("Segment::create maps zeroed, writable memory of the asked size") {
  auto segment = make(kSize, "zeroed", false);
  REQUIRE(segment->base() != nullptr);
  CHECK(segment->size() == kSize);
  CHECK(all_zero(segment->base(), kSize));
  struct stat st = {};
  REQUIRE(fstat(segment->fd(), &st) == 0);
  CHECK(static_cast<size_t>(st.st_size) == kSize);
  segment->base()[0] = std::byte{1};
  segment->base()[kSize - 1] = std::byte{2};
  CHECK(segment->base()[kSize - 1] == std::byte{2});
  CHECK(segment->read_only_fd() == -1);
}

TEST_CASE("Segment::create leaves no name in /dev/shm") {
  const std::string prefix = "ringdb-" + std::to_string(getpid()) + "-nameless-";
  auto segment = make(kSize, "nameless", true);
  CHECK(shm_entries(prefix) == 0);
  // The descriptors name the removed object: it was created under that name, then unlinked.
  const std::string target = fd_target(segment->fd());
  CHECK(target.starts_with("/dev/shm/" + prefix));
  CHECK(target.ends_with(" (deleted)"));
  CHECK(fd_target(segment->read_only_fd()).ends_with(" (deleted)"));
}

TEST_CASE(
    "Segment: the read-only descriptor cannot be mapped writable, made writable or truncated") {
  auto segment = make(kSize, "readonly", true);
  const int fd = segment->read_only_fd();
  REQUIRE(fd >= 0);
  CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY);

  errno = 0;
  void* writable = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(writable == MAP_FAILED);
  CHECK(errno == EACCES);

  void* readable = mmap(nullptr, kSize, PROT_READ, MAP_SHARED, fd, 0);
  REQUIRE(readable != MAP_FAILED);
  // It sees the owner's writes...
  segment->base()[4096] = std::byte{0x5a};
  CHECK(static_cast<const std::byte*>(readable)[4096] == std::byte{0x5a});
  // ...but cannot be turned writable.
  errno = 0;
  CHECK(mprotect(readable, 4096, PROT_READ | PROT_WRITE) != 0);
  CHECK(errno == EACCES);
  munmap(readable, kSize);

  CHECK(ftruncate(fd, 0) != 0);
  struct stat st = {};
  REQUIRE(fstat(fd, &st) == 0);
  CHECK(static_cast<size_t>(st.st_size) == kSize);
}

TEST_CASE("Segment::create_sealed maps zeroed memory that cannot be resized") {
  auto segment = make_sealed(kSize);
  CHECK(segment->size() == kSize);
  CHECK(all_zero(segment->base(), kSize));
  const int fd = segment->fd();
  REQUIRE(fd >= 0);
  const int seals = fcntl(fd, F_GET_SEALS);
  CHECK((seals & F_SEAL_SHRINK) != 0);
  CHECK((seals & F_SEAL_GROW) != 0);
  CHECK((seals & F_SEAL_SEAL) != 0);  // and the seals cannot be lifted

  errno = 0;
  CHECK(ftruncate(fd, 0) != 0);
  CHECK(errno == EPERM);
  errno = 0;
  CHECK(ftruncate(fd, static_cast<off_t>(2 * kSize)) != 0);
  CHECK(errno == EPERM);
  errno = 0;
  CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) != 0);
  CHECK(errno == EPERM);
  struct stat st = {};
  REQUIRE(fstat(fd, &st) == 0);
  CHECK(static_cast<size_t>(st.st_size) == kSize);
  // Still writable through the mapping.
  segment->base()[kSize - 1] = std::byte{7};
  CHECK(segment->base()[kSize - 1] == std::byte{7});
}

TEST_CASE("Segment::reserve allocates backing store for the whole segment") {
  auto segment = make(kSize, "reserve", false);
  std::string error;
  CHECK(segment->reserve(kSize, &error));
  CHECK(error.empty());
  struct stat st = {};
  REQUIRE(fstat(segment->fd(), &st) == 0);
  CHECK(static_cast<size_t>(st.st_blocks) * 512 >= kSize);
}

bool send_fd(int socket, int fd) {
  const char byte = 'F';
  return send_with_fds(socket, &byte, 1, std::span(&fd, 1), 0) == 1;
}

int receive_fd(int socket) {
  char byte = 0;
  ReceivedFds received;
  if (receive_with_fds(socket, &byte, 1, &received) != 1 || received.fds.size() != 1) return -1;
  return received.fds[0];
}

// The child maps what it receives, checks the parent's pattern and answers with its own.
void check_received_mapping(Segment& segment) {
  int sockets[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) == 0);
  for (size_t i = 0; i < kSize; i += 512)
    segment.base()[i] = std::byte{0x11};
  const pid_t child = test::fork_child([&] {
    close(sockets[0]);
    const int fd = receive_fd(sockets[1]);
    if (fd < 0) return 1;
    std::string error;
    auto* p = static_cast<std::byte*>(map_fd(fd, kSize, true, &error));
    if (p == nullptr) return 2;
    for (size_t i = 0; i < kSize; i += 512) {
      if (p[i] != std::byte{0x11}) return 3;
      p[i + 1] = std::byte{0x22};
    }
    munmap(p, kSize);
    close(fd);
    return 0;
  });
  close(sockets[1]);
  // The child inherited the parent's mapping but does not use it: it maps what it received.
  CHECK(send_fd(sockets[0], segment.fd()));
  test::check_clean_exits({test::wait_for_child(child)});
  close(sockets[0]);
  bool seen = true;
  for (size_t i = 0; i < kSize; i += 512)
    seen = seen && segment.base()[i + 1] == std::byte{0x22};
  CHECK(seen);
}

TEST_CASE("map_fd maps a segment descriptor received in another process") {
  auto segment = make(kSize, "received", false);
  check_received_mapping(*segment);
}

TEST_CASE("map_fd maps a sealed segment descriptor received in another process") {
  auto segment = make_sealed(kSize);
  check_received_mapping(*segment);
}

TEST_CASE("map_fd maps a received read-only descriptor read-only, and not writable") {
  auto segment = make(kSize, "received-ro", true);
  std::string error;
  void* p = map_fd(segment->read_only_fd(), kSize, false, &error);
  REQUIRE(p != nullptr);
  segment->base()[100] = std::byte{9};
  CHECK(static_cast<const std::byte*>(p)[100] == std::byte{9});
  munmap(p, kSize);
  CHECK(map_fd(segment->read_only_fd(), kSize, true, &error) == nullptr);
  CHECK_FALSE(error.empty());
}

TEST_CASE("map_fd reports a bad descriptor") {
  std::string error;
  CHECK(map_fd(-1, 4096, true, &error) == nullptr);
  CHECK_FALSE(error.empty());
}

}  // namespace
}  // namespace ringdb::shm
