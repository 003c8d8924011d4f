// ChildProcess: a program run by a test, with pipes to its standard input, output and
// error, read line by line with timeouts (never sleeps), and waited for with a timeout
// (pidfd). Used by tests/tools/cli_test.cc (ringdb-cli processes driven step by step, and
// ringdbd) and by tests/integration (ringdbd through DaemonProcess, it_client processes).
//
// Thread safety: one thread per object, but for error_fd(), which one other thread may
// read (DaemonProcess's log reader) until the object is destroyed.
//
// Process safety: children are forked. The test process may have threads (the integration
// tests' log readers); fork is still safe because argv and the environment are built before
// it and the child makes only async-signal-safe calls until execve (no allocation, no lock
// another thread may have held). Children die with the test through PR_SET_PDEATHSIG, which
// fires when the forking *thread* exits, not the process: start children from the test's
// main thread (doctest runs the test cases there). The test process ignores SIGPIPE (a child
// that died must show up as a failed write, not kill the test); children get the default
// back.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ringdb::test {

using std::chrono::milliseconds;

// How long a test waits for any one answer before it calls it a hang. Generous (a command
// takes milliseconds, even in a sanitizer build on a loaded 2-core machine), yet short
// enough that a few hangs still fail with their messages inside meson's 300 s timeout.
inline constexpr milliseconds kAnswerTimeout{20'000};

struct ChildOptions {
  bool pipe_stdin = true;
  bool pipe_stdout = true;
  bool pipe_stderr = true;                 // false: inherit the test's (for a daemon's log)
  int pass_fd = -1;                        // if >= 0: becomes descriptor 3 in the child
  std::map<std::string, std::string> env;  // added to (or replacing in) the test's environment
  int run_as = -1;  // if >= 0: the child takes this uid and gid before exec (root only)
};

class ChildProcess {
 public:
  // Starts argv[0] (a path) with arguments argv. Aborts the test if it cannot.
  ChildProcess(const std::vector<std::string>& argv, const ChildOptions& options);
  ~ChildProcess();  // SIGKILL and reap if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Writes `text` to the child's standard input; false if the child closed it.
  bool write(std::string_view text);
  void close_stdin();
  // The next line of standard output, without '\n'. False on end of file or timeout.
  bool read_line(std::string* line, milliseconds timeout = kAnswerTimeout);
  // Everything left on standard output until end of file (or timeout).
  std::string read_rest(milliseconds timeout = kAnswerTimeout);
  // Everything the child wrote to standard error, once it has exited.
  std::string read_stderr();
  // The read end of the standard error pipe (-1 if not piped), for a reader on one other
  // thread (e.g. one that must drain a daemon's log as it comes: a full pipe blocks the
  // daemon). That reader must be done before the object is destroyed; read_stderr() is then
  // not for this object.
  int error_fd() const { return err_fd_; }

  void signal(int signo);
  // SIGSTOP, then waits until every thread of the child has stopped (kill() returns before
  // they have). False if the child is gone. signal(SIGCONT) resumes it.
  bool stop_and_wait();
  // Waits for the child to exit; returns its wait status, or -1 on timeout.
  int wait(milliseconds timeout = kAnswerTimeout);
  bool running() const { return pid_ > 0 && !reaped_; }

 private:
  // Reads what is available on out_fd_ into out_buffer_; false at end of file or timeout.
  bool fill(milliseconds timeout);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  int in_fd_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_buffer_;
};

// The exit code of a wait status, or -1 if the child did not exit normally (or timed out).
int exit_code(int wait_status);

// The path of a program given by meson in the environment (RINGDBD, RINGDB_CLI).
std::string program_path(const char* env_name);

}  // namespace ringdb::test
