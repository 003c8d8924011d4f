// ChildProcess: fork and exec with pipes, line reads with poll() timeouts, pidfd waits.
#include "tests/support/child_process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace ringdb::test {
namespace {

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "child_process: %s: %s\n", what, strerror(errno));
  abort();
}

// The pipe's ends, both close-on-exec, moved to descriptors >= 10 so that no end can sit on
// 0-3, the numbers the child's ends are copied to.
void make_pipe(int fds[2]) {
  int raw[2];
  if (pipe2(raw, O_CLOEXEC) != 0) fail("pipe2");
  for (int i = 0; i < 2; ++i) {
    fds[i] = fcntl(raw[i], F_DUPFD_CLOEXEC, 10);
    if (fds[i] < 0) fail("fcntl(F_DUPFD_CLOEXEC)");
    close(raw[i]);
  }
}

void close_fd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

std::vector<std::string> environment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    if (overrides.count(name) == 0) env.push_back(entry);
  }
  for (const auto& [name, value] : overrides)
    env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> p;
  for (auto& s : strings)
    p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

int milliseconds_left(std::chrono::steady_clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const ChildOptions& options) {
  ::signal(SIGPIPE, SIG_IGN);
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (options.pipe_stdin) make_pipe(in);
  if (options.pipe_stdout) make_pipe(out);
  if (options.pipe_stderr) make_pipe(err);
  int pass = -1;
  if (options.pass_fd >= 0) {
    pass = fcntl(options.pass_fd, F_DUPFD_CLOEXEC, 10);
    if (pass < 0) fail("fcntl(F_DUPFD_CLOEXEC)");
  }
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<std::string> args = argv;
  std::vector<std::string> env = environment(options.env);
  std::vector<char*> arg_ptrs = pointers(args);
  std::vector<char*> env_ptrs = pointers(env);
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) fail("fork");
  if (pid_ == 0) {
    // A test killed by its timeout must not leave a daemon or a cli behind: the child dies
    // with the test. (Strictly, with the thread that forked: the test's main thread.)
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
    ::signal(SIGPIPE, SIG_DFL);
    if ((in[0] >= 0 && dup2(in[0], 0) < 0) || (out[1] >= 0 && dup2(out[1], 1) < 0) ||
        (err[1] >= 0 && dup2(err[1], 2) < 0) || (pass >= 0 && dup2(pass, 3) < 0)) {
      _exit(127);
    }
    if (options.run_as >= 0 &&
        (setgroups(0, nullptr) != 0 || setgid(static_cast<gid_t>(options.run_as)) != 0 ||
         setuid(static_cast<uid_t>(options.run_as)) != 0)) {
      _exit(126);
    }
    execve(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
    _exit(127);
  }
  close_fd(&in[0]);
  close_fd(&out[1]);
  close_fd(&err[1]);
  close_fd(&pass);
  in_fd_ = in[1];
  out_fd_ = out[0];
  err_fd_ = err[0];
  pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd_ < 0) fail("pidfd_open");
}

ChildProcess::~ChildProcess() {
  if (running()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
  close_fd(&pidfd_);
  close_fd(&in_fd_);
  close_fd(&out_fd_);
  close_fd(&err_fd_);
}

bool ChildProcess::write(std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(in_fd_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void ChildProcess::close_stdin() {
  close_fd(&in_fd_);
}

bool ChildProcess::fill(milliseconds timeout) {
  pollfd p = {out_fd_, POLLIN, 0};
  int ready;
  do {
    ready = poll(&p, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) return false;
  char buffer[4096];
  ssize_t n;
  do {
    n = read(out_fd_, buffer, sizeof buffer);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return false;
  out_buffer_.append(buffer, static_cast<size_t>(n));
  return true;
}

bool ChildProcess::read_line(std::string* line, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const size_t end = out_buffer_.find('\n');
    if (end != std::string::npos) {
      *line = out_buffer_.substr(0, end);
      out_buffer_.erase(0, end + 1);
      return true;
    }
    if (!fill(milliseconds(milliseconds_left(deadline)))) return false;
  }
}

std::string ChildProcess::read_rest(milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (fill(milliseconds(milliseconds_left(deadline)))) {
  }
  std::string rest;
  rest.swap(out_buffer_);
  return rest;
}

std::string ChildProcess::read_stderr() {
  std::string text;
  if (err_fd_ < 0) return text;
  char buffer[4096];
  ssize_t n;
  // The child has exited (or the caller accepts blocking until it closes standard error).
  while ((n = read(err_fd_, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) text.append(buffer, static_cast<size_t>(n));
  }
  return text;
}

void ChildProcess::signal(int signo) {
  if (running()) kill(pid_, signo);
}

bool ChildProcess::stop_and_wait() {
  if (!running() || kill(pid_, SIGSTOP) != 0) return false;
  siginfo_t info = {};
  // The stop is reported to the parent once the whole thread group has stopped.
  while (waitid(P_PID, static_cast<id_t>(pid_), &info, WSTOPPED) != 0) {
    if (errno != EINTR) return false;
  }
  return info.si_code == CLD_STOPPED;
}

int ChildProcess::wait(milliseconds timeout) {
  if (reaped_) return status_;
  pollfd p = {pidfd_, POLLIN, 0};
  int ready;
  do {
    ready = poll(&p, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) return -1;
  if (waitpid(pid_, &status_, 0) != pid_) fail("waitpid");
  reaped_ = true;
  return status_;
}

int exit_code(int wait_status) {
  if (wait_status == -1 || !WIFEXITED(wait_status)) return -1;
  return WEXITSTATUS(wait_status);
}

std::string program_path(const char* env_name) {
  const char* path = getenv(env_name);
  if (path == nullptr || *path == '\0') {
    fprintf(stderr, "%s is not set: run this test through `meson test`\n", env_name);
    abort();
  }
  return path;
}

}  // namespace ringdb::test
