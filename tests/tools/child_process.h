// ChildProcess: a program run by a test, with pipes to its standard input, output and
// error, read line by line with timeouts (never sleeps), and waited for with a timeout
// (pidfd). Used by cli_test.cc to drive ringdb-cli processes step by step and to run ringdbd.
//
// Thread safety: one thread per object, in a single-threaded test process (children are
// forked, and die with the test through PR_SET_PDEATHSIG). The test process ignores SIGPIPE
// (a child that died must show up as a failed write, not kill the test); children get the
// default back.
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

  void signal(int signo);
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
