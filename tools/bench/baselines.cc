// The shm-floor and unix-socket round-trip baselines, and the fsync floor.
#include "tools/bench/baselines.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>

#include "sync/spin.h"
#include "tools/bench/proc_stats.h"

namespace ringdb::bench {
namespace {

constexpr size_t kPayloadBytes = 16;
// Spins before a yield: with more pairs than CPUs a spinning waiter must let its peer run.
constexpr uint32_t kSpinsBeforeYield = 1u << 14;
constexpr uint64_t kStopValue = ~uint64_t{0};

struct alignas(64) Line {
  std::atomic<uint64_t> value{0};
};
static_assert(sizeof(Line) == 64);

// Spins until `line` holds a value for which done(value) holds; returns it.
template <typename Done>
uint64_t spin_until(const Line& line, Done done) {
  uint32_t spins = 0;
  for (;;) {
    uint64_t v = line.value.load(std::memory_order_acquire);
    if (done(v)) return v;
    sync::cpu_relax();
    if (++spins == kSpinsBeforeYield) {
      spins = 0;
      sched_yield();
    }
  }
}

// Forks the echo server: it dies with its client (PR_SET_PDEATHSIG) and runs `serve`.
template <typename Serve>
pid_t fork_server(BaselineCpus cpus, Serve serve) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(0);
  if (cpus.server_cpu >= 0) pin_to_cpu(cpus.server_cpu);
  serve();
  _exit(0);
}

void pin_client(BaselineCpus cpus) {
  if (cpus.client_cpu >= 0) pin_to_cpu(cpus.client_cpu);
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool read_all(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

}  // namespace

BaselineCpus default_baseline_cpus() {
  std::vector<int> cpus = allowed_cpus();
  if (cpus.size() < 2) return {};
  return {cpus.front(), cpus.back()};
}

int shm_floor_client(int /*index*/, Recorder& recorder, BaselineCpus cpus) {
  void* p = mmap(nullptr, sizeof(Line), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    recorder.fail(std::string("mmap: ") + std::strerror(errno));
    return 1;
  }
  Line* line = new (p) Line;
  pid_t server = fork_server(cpus, [line] {
    uint64_t seen = 0;
    for (;;) {
      seen = spin_until(*line, [seen](uint64_t v) { return v != seen && (v & 1) != 0; });
      if (seen == kStopValue) return;
      line->value.store(seen + 1, std::memory_order_release);
      ++seen;
    }
  });
  if (server < 0) {
    recorder.fail(std::string("fork: ") + std::strerror(errno));
    return 1;
  }
  recorder.set_peer_pid(server);
  pin_client(cpus);
  if (!recorder.ready_and_wait()) {
    line->value.store(kStopValue, std::memory_order_release);
    waitpid(server, nullptr, 0);
    return 0;
  }
  uint64_t seq = 1;
  while (recorder.running()) {
    uint64_t start = now_ns();
    line->value.store(seq, std::memory_order_release);
    spin_until(*line, [seq](uint64_t v) { return v == seq + 1; });
    recorder.record(start, now_ns());
    seq += 2;
  }
  line->value.store(kStopValue, std::memory_order_release);
  waitpid(server, nullptr, 0);
  return 0;
}

int unix_socket_client(int /*index*/, Recorder& recorder, BaselineCpus cpus) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    recorder.fail(std::string("socketpair: ") + std::strerror(errno));
    return 1;
  }
  int server_fd = fds[1];
  pid_t server = fork_server(cpus, [fds, server_fd] {
    close(fds[0]);
    char buf[kPayloadBytes];
    while (read_all(server_fd, buf, sizeof buf) && write_all(server_fd, buf, sizeof buf)) {
    }
  });
  if (server < 0) {
    recorder.fail(std::string("fork: ") + std::strerror(errno));
    return 1;
  }
  close(server_fd);
  int fd = fds[0];
  recorder.set_peer_pid(server);
  int code = 0;
  if (recorder.ready_and_wait()) {
    char out[kPayloadBytes] = "ping";
    char in[kPayloadBytes];
    while (recorder.running()) {
      uint64_t start = now_ns();
      if (!write_all(fd, out, sizeof out) || !read_all(fd, in, sizeof in)) {
        recorder.fail(std::string("socket: ") + std::strerror(errno));
        code = 1;
        break;
      }
      recorder.record(start, now_ns());
    }
  }
  close(fd);  // the server reads EOF and exits
  waitpid(server, nullptr, 0);
  return code;
}

int fsync_floor_client(int index, Recorder& recorder, const std::string& dir) {
  const std::string path = dir + "/fsync-floor-" + std::to_string(index);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    recorder.fail("open " + path + ": " + std::strerror(errno));
    return 1;
  }
  alignas(4096) static char block[4096];
  std::memset(block, 'f', sizeof block);
  int code = 0;
  if (!recorder.ready_and_wait()) {
    close(fd);
    unlink(path.c_str());
    return 0;
  }
  while (recorder.running()) {
    const uint64_t start = now_ns();
    if (pwrite(fd, block, sizeof block, 0) != static_cast<ssize_t>(sizeof block) ||
        fdatasync(fd) != 0) {
      recorder.fail("write + fdatasync " + path + ": " + std::strerror(errno));
      code = 1;
      break;
    }
    recorder.record(start, now_ns());
  }
  close(fd);
  unlink(path.c_str());
  return code;
}

}  // namespace ringdb::bench
