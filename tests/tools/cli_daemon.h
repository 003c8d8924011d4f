// Daemon: a ringdbd for the ringdb-cli tests (cli_test.cc through pipes, cli_terminal_test.cc
// through a pseudo-terminal), serving a socket in its own temporary directory.
//
// Thread safety: one thread; start it from the test's main thread (ChildProcess).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "tests/support/child_process.h"

namespace ringdb::test {

// A ringdbd serving a socket in its own temporary directory, started with --ready-fd and
// waited for on that pipe (no sleeping).
class Daemon {
 public:
  // `options`: more ringdbd options (limits).
  explicit Daemon(const std::vector<std::string>& options = {}) {
    char tmpl[] = "/tmp/ringdb-cli-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/ringdb.sock";
    int ready[2];
    REQUIRE(pipe2(ready, O_CLOEXEC) == 0);
    ChildOptions child;
    child.pipe_stdin = false;
    child.pipe_stdout = false;
    child.pipe_stderr = false;  // its log goes to the test's log
    child.pass_fd = ready[1];
    std::vector<std::string> argv = {program_path("RINGDBD"),
                                     "--socket",
                                     socket_,
                                     "--admin-socket",
                                     dir_ + "/admin.sock",
                                     "--data-dir",
                                     dir_ + "/data",
                                     "--wal-segment-size",
                                     "4M",
                                     "--ready-fd",
                                     "3",
                                     "--log-level",
                                     "warn"};
    argv.insert(argv.end(), options.begin(), options.end());
    process_ = std::make_unique<ChildProcess>(argv, child);
    close(ready[1]);
    // "ready\n" once serving; end of file if it exits first.
    std::string got;
    char buffer[16];
    ssize_t n;
    while ((n = read(ready[0], buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) got.append(buffer, static_cast<size_t>(n));
    }
    close(ready[0]);
    REQUIRE(got == "ready\n");
  }

  ~Daemon() {
    process_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  const std::string& socket() const { return socket_; }
  const std::string& dir() const { return dir_; }
  ChildProcess& process() { return *process_; }

  // SIGTERM; the daemon's exit code (0 expected), -1 if it did not exit normally.
  int stop() {
    process_->signal(SIGTERM);
    return exit_code(process_->wait());
  }

 private:
  std::string dir_;
  std::string socket_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace ringdb::test
