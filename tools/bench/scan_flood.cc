#include "tools/bench/scan_flood.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "ringdb/client.h"

namespace ringdb::bench {
namespace {

std::atomic<bool> stopping{false};

void on_term(int) {
  stopping.store(true, std::memory_order_relaxed);
}

// The child: writes 'r' on `out` once its scans are in flight, then, when told to stop, the
// number of scans it completed (8 bytes).
[[noreturn]] void flood(const std::string& socket_path, int depth, int out) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the benchmark
  struct sigaction sa = {};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, nullptr);
  ConnectOptions options;
  options.socket_path = socket_path;
  std::unique_ptr<Client> client;
  if (Client::connect(options, &client) != Status::kOk) _exit(1);
  ScanOptions scan;
  scan.limit = 100000;
  std::vector<Operation> ops(static_cast<size_t>(depth));
  for (Operation& op : ops) {
    op = Operation::scan(scan);
    if (client->submit(&op) != Status::kOk) _exit(1);
  }
  const char r = 'r';
  if (write(out, &r, 1) != 1) _exit(1);
  uint64_t scans = 0;
  while (!stopping.load(std::memory_order_relaxed)) {
    for (Operation& op : ops) {
      if (client->wait(&op) != Status::kOk) _exit(1);  // (the wait, not the scan's status)
      ++scans;
      op = Operation::scan(scan);
      if (client->submit(&op) != Status::kOk) _exit(1);
      if (stopping.load(std::memory_order_relaxed)) break;
    }
  }
  if (write(out, &scans, sizeof scans) != sizeof scans) _exit(1);
  _exit(0);
}

}  // namespace

ScanFlood::~ScanFlood() {
  stop();
}

bool ScanFlood::start(const std::string& socket_path, int depth, std::string* error) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + strerror(errno);
    return false;
  }
  pid_ = fork();
  if (pid_ < 0) {
    *error = std::string("fork: ") + strerror(errno);
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid_ == 0) {
    close(fds[0]);
    flood(socket_path, depth, fds[1]);
  }
  close(fds[1]);
  ready_fd_ = fds[0];
  char r = 0;
  if (read(ready_fd_, &r, 1) != 1 || r != 'r') {
    *error = "the scan flood could not connect and submit its scans";
    stop();
    return false;
  }
  return true;
}

uint64_t ScanFlood::stop() {
  uint64_t scans = 0;
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    if (read(ready_fd_, &scans, sizeof scans) != sizeof scans) scans = 0;
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  if (ready_fd_ >= 0) close(ready_fd_);
  ready_fd_ = -1;
  return scans;
}

}  // namespace ringdb::bench
