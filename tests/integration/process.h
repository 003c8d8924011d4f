// Child processes for the integration tests: spawn a program with pipes on its standard
// input and output (standard error passes through), read its output line by line with a
// timeout, signal it, reap it. Spawned with posix_spawn, never fork() of the (threaded,
// perhaps sanitized) test process.
//
// Thread safety: one thread per Child, but for error_fd(), which one other thread may read.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace ringdb::test {

class Child {
 public:
  // Starts argv[0] (a path) with argv. `stderr_pipe`: also capture standard error.
  explicit Child(const std::vector<std::string>& argv, bool stderr_pipe = false);
  ~Child();  // SIGKILL and reap if still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Writes a line (adds '\n') to its standard input.
  bool write_line(const std::string& line);
  void close_stdin();
  // The next line of its standard output (without '\n'); false on EOF or timeout.
  bool read_line(std::string* line, std::chrono::milliseconds timeout);
  // Its standard error, when captured (read by one other thread: see DaemonProcess).
  int error_fd() const { return err_; }
  void signal(int signo);
  // SIGSTOP, and wait until every thread of the child has stopped (kill() returns before).
  bool stop_and_wait();
  // Waits for it to exit; returns the wait status (see WIFEXITED...), or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);

 private:
  static bool read_line_from(int fd, std::string* buffer, std::string* line,
                             std::chrono::milliseconds timeout);
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  std::string out_buffer_;
  bool reaped_ = false;
};

}  // namespace ringdb::test
