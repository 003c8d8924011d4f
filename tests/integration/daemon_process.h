// DaemonProcess: a real ringdbd for a test, in its own temporary directory, started with
// --ready-fd and waited for without sleeping. A thread reads its standard error as it comes
// (a daemon whose log pipe fills up would block in write), keeps the lines, and wakes tests
// waiting for a log line (e.g. a session ending) instead of polling.
//
// The binary comes from $RINGDBD (meson's test() passes it; see program_path()); clients
// and helper programs from $RINGDB_IT_CLIENT.
//
// Thread safety: one test thread per object (the log reader is internal), the test's main
// thread (see ChildProcess: the daemon dies with the thread that started it).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/child_process.h"

namespace ringdb::test {

class DaemonProcess {
 public:
  // `dir`: a directory to run in (its data survives this object: a restart of the same
  // database); empty: a new temporary one, removed at the end.
  // `env`: added to the daemon's environment.
  explicit DaemonProcess(const std::vector<std::string>& extra_args = {},
                         const std::string& dir = {},
                         const std::map<std::string, std::string>& env = {});
  ~DaemonProcess();  // SIGKILL if still running; removes a directory it made
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  bool ready() const { return ready_; }
  const std::string& socket() const { return socket_; }
  const std::string& admin_socket() const { return admin_socket_; }
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return child_->pid(); }
  ChildProcess& process() { return *child_; }

  // Waits for a log line containing `needle`, among the lines no earlier wait has passed
  // over (each wait goes on from where the last one stopped). Passed lines are echoed to the
  // test's standard error.
  bool wait_log(const std::string& needle, std::string* line = nullptr,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // How many of the log lines received so far contain `needle` (all of them, waited for or
  // not; after stop() returned: every line the daemon wrote).
  size_t count_log(const std::string& needle);
  // Waits for the "sessions connected: N" figure in the next connect/end log line to be n.
  bool wait_sessions(int n, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGTERM and wait; returns the wait status.
  int stop();

 private:
  void read_log();  // the log reader thread: until the daemon closes its standard error

  const bool owns_dir_;
  std::string dir_;
  std::string socket_;
  std::string admin_socket_;
  std::unique_ptr<ChildProcess> child_;
  bool ready_ = false;

  std::mutex log_mu_;
  std::condition_variable log_cv_;
  std::vector<std::string> log_lines_;  // guarded by log_mu_
  bool log_eof_ = false;                // guarded by log_mu_
  size_t log_cursor_ = 0;               // the test thread's: the next line to look at
  std::thread log_reader_;
};

}  // namespace ringdb::test
