#include "tests/integration/daemon_process.h"

#include <algorithm>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace ringdb::test {

DaemonProcess::DaemonProcess(const std::vector<std::string>& extra_args, const std::string& dir,
                             const std::map<std::string, std::string>& env)
    : owns_dir_(dir.empty()) {
  char tmpl[] = "/tmp/ringdb-it-XXXXXX";
  if (owns_dir_ && mkdtemp(tmpl) == nullptr) {
    perror("mkdtemp");
    abort();
  }
  dir_ = owns_dir_ ? std::string(tmpl) : dir;
  socket_ = dir_ + "/ringdb.sock";
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) abort();  // the daemon gets only the write end, as fd 3
  ChildOptions options;
  options.pipe_stderr = true;  // read as it comes by log_reader_
  options.pass_fd = ready[1];  // descriptor 3 in the daemon
  options.env = env;
  admin_socket_ = dir_ + "/admin.sock";
  std::vector<std::string> argv = {program_path("RINGDBD"), "--socket", socket_, "--admin-socket",
                                   admin_socket_, "--data-dir", dir_ + "/data",
                                   // Small log segments: every test daemon preallocates one.
                                   "--wal-segment-size", "4M", "--ready-fd", "3"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  child_ = std::make_unique<ChildProcess>(argv, options);
  log_reader_ = std::thread([this] { read_log(); });
  close(ready[1]);
  char buf[8] = {};
  // The daemon writes "ready\n" once serving, or exits (EOF) if it cannot start.
  ready_ = read(ready[0], buf, sizeof buf) == 6;
  close(ready[0]);
}

DaemonProcess::~DaemonProcess() {
  child_->signal(SIGKILL);
  log_reader_.join();  // the daemon's death closes its standard error
  child_.reset();
  if (owns_dir_) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

void DaemonProcess::read_log() {
  std::string partial;
  char chunk[4096];
  for (;;) {
    const ssize_t n = read(child_->error_fd(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(chunk, static_cast<size_t>(n));
    std::vector<std::string> lines;
    for (size_t nl; (nl = partial.find('\n')) != std::string::npos;) {
      lines.push_back(partial.substr(0, nl));
      partial.erase(0, nl + 1);
    }
    if (lines.empty()) continue;
    std::lock_guard lock(log_mu_);
    for (auto& l : lines)
      log_lines_.push_back(std::move(l));
    log_cv_.notify_all();
  }
  std::lock_guard lock(log_mu_);
  if (!partial.empty()) log_lines_.push_back(partial);
  log_eof_ = true;
  log_cv_.notify_all();
}

bool DaemonProcess::wait_log(const std::string& needle, std::string* line,
                             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(log_mu_);
  for (;;) {
    while (log_cursor_ < log_lines_.size()) {
      const std::string& l = log_lines_[log_cursor_++];
      fprintf(stderr, "  [ringdbd] %s\n", l.c_str());
      if (l.find(needle) != std::string::npos) {
        if (line != nullptr) *line = l;
        return true;
      }
    }
    if (log_eof_) return false;
    if (log_cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
        log_cursor_ == log_lines_.size()) {
      return false;
    }
  }
}

size_t DaemonProcess::count_log(const std::string& needle) {
  std::lock_guard lock(log_mu_);
  return static_cast<size_t>(std::count_if(log_lines_.begin(), log_lines_.end(), [&](auto& l) {
    return l.find(needle) != std::string::npos;
  }));
}

bool DaemonProcess::wait_sessions(int n, std::chrono::milliseconds timeout) {
  const std::string needle = "sessions connected: " + std::to_string(n);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string line;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !wait_log("sessions connected: ", &line, left)) return false;
    if (line.find(needle) != std::string::npos &&
        line.size() == line.find(needle) + needle.size()) {
      return true;
    }
  }
}

int DaemonProcess::stop() {
  child_->signal(SIGTERM);
  return child_->wait(std::chrono::seconds(30));
}

}  // namespace ringdb::test
