// ringdb-cli at a terminal: a real ringdbd, and ringdb-cli run on a pseudo-terminal and typed
// at key by key, as a person would. Cursor keys and Ctrl-A edit the line instead of being
// stored; Up recalls history, kept in a file across runs (mode 0600, lines beginning with a
// space left out, never written by a cli that reads a pipe); Tab completes command and option
// names; the prompt shows an open transaction; UTF-8 typed in the C locale is kept.
//
// Every step waits for the text the cli draws (the prompt, an answer) on the terminal, with a
// timeout: no sleeps. What was stored is read back by a one-shot `ringdb-cli --json get`.
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "doctest/doctest.h"
#include "tests/support/child_process.h"
#include "tests/tools/cli_daemon.h"

extern char** environ;

namespace {

using ringdb::test::ChildOptions;
using ringdb::test::ChildProcess;
using ringdb::test::Daemon;
using ringdb::test::exit_code;
using ringdb::test::kAnswerTimeout;
using ringdb::test::program_path;

// Keys as a terminal (xterm, emacs mode) sends them.
constexpr char kLeft[] = "\x1b[D";
constexpr char kUp[] = "\x1b[A";
constexpr char kBackspace[] = "\x7f";
constexpr char kCtrlA[] = "\x01";
constexpr char kCtrlD[] = "\x04";
constexpr char kTab[] = "\t";
constexpr char kEnter[] = "\r";

constexpr char kPrompt[] = "ringdb> ";
constexpr char kTxnPrompt[] = "ringdb(txn)> ";

// A temporary folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ringdb-cli-tty-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ringdb-cli on the slave side of a new pseudo-terminal (80x24, TERM=xterm), its own session
// leader; the test holds the master. The environment is the test's without the locale and
// the history variables, plus `env`.
class PtyCli {
 public:
  PtyCli(const Daemon& daemon, const std::map<std::string, std::string>& env) {
    std::vector<std::string> argv = {program_path("RINGDB_CLI"), "--socket", daemon.socket()};
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      const std::string name = entry.substr(0, entry.find('='));
      if (name == "LANG" || name.starts_with("LC_") || name == "TERM" || name == "HOME" ||
          name == "XDG_STATE_HOME" || name == "RINGDB_CLI_HISTORY" || name == "EDITRC") {
        continue;
      }
      envs.push_back(entry);
    }
    envs.push_back("TERM=xterm");
    for (const auto& [name, value] : env)
      envs.push_back(name + "=" + value);
    std::vector<char*> arg_ptrs, env_ptrs;
    for (auto& a : argv)
      arg_ptrs.push_back(a.data());
    arg_ptrs.push_back(nullptr);
    for (auto& e : envs)
      env_ptrs.push_back(e.data());
    env_ptrs.push_back(nullptr);
    winsize size{};
    size.ws_row = 24;
    size.ws_col = 80;
    const pid_t parent = getpid();
    pid_ = forkpty(&master_, nullptr, nullptr, &size);
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {  // async-signal-safe calls only until execve
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
      signal(SIGPIPE, SIG_DFL);
      execve(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
      _exit(127);
    }
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    REQUIRE(pidfd_ >= 0);
  }

  ~PtyCli() {
    if (!reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(pidfd_);
    close(master_);
  }

  // Types `keys`.
  void type(std::string_view keys) {
    while (!keys.empty()) {
      const ssize_t n = write(master_, keys.data(), keys.size());
      if (n < 0 && errno == EINTR) continue;
      REQUIRE(n > 0);
      keys.remove_prefix(static_cast<size_t>(n));
    }
  }

  // Waits until the terminal shows `text` after what earlier calls consumed; consumes up to
  // its end. False (with what came) on timeout or when the cli closed the terminal.
  bool expect(std::string_view text) {
    const auto deadline = std::chrono::steady_clock::now() + kAnswerTimeout;
    for (;;) {
      if (const size_t at = screen_.find(text, seen_); at != std::string::npos) {
        seen_ = at + text.size();
        return true;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !fill(static_cast<int>(left.count()))) {
        MESSAGE("waited for ", std::string(text), " after: ", screen_.substr(seen_));
        return false;
      }
    }
  }

  // What the terminal showed since the last expect() that succeeded, up to now.
  std::string since_last() const { return screen_.substr(seen_); }

  // Reads to the end of the terminal and returns the exit code (-1: none in time).
  int wait_exit() {
    while (fill(static_cast<int>(kAnswerTimeout.count()))) {
    }
    pollfd p = {pidfd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(kAnswerTimeout.count())) != 1) {
      MESSAGE("the cli did not exit; the terminal showed after the last step: ", since_last());
      return -1;
    }
    int status = 0;
    if (waitpid(pid_, &status, 0) != pid_) return -1;
    reaped_ = true;
    return exit_code(status);
  }

 private:
  // Appends what the terminal has to screen_; false at its end (EIO once the cli exited) or
  // after timeout_ms without output.
  bool fill(int timeout_ms) {
    pollfd p = {master_, POLLIN, 0};
    int ready;
    while ((ready = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    if (ready != 1) return false;
    char buffer[4096];
    ssize_t n;
    while ((n = read(master_, buffer, sizeof buffer)) < 0 && errno == EINTR) {
    }
    if (n <= 0) return false;
    screen_.append(buffer, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int master_ = -1;
  bool reaped_ = false;
  std::string screen_;
  size_t seen_ = 0;
};

// The cli's JSON answer to one-shot `get key` (without its commit_sequence).
std::string stored(const Daemon& daemon, const std::string& key) {
  ChildProcess cli({program_path("RINGDB_CLI"), "--socket", daemon.socket(), "--json", "get", key},
                   ChildOptions{});
  cli.close_stdin();
  std::string out = cli.read_rest();
  CHECK(cli.wait() >= 0);
  if (const size_t at = out.find(R"(,"commit_sequence")"); at != std::string::npos) {
    out = out.substr(0, at) + "}";
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string value_json(const std::string& value) {
  return R"({"status":"OK","value":")" + value + "\"}";
}

void put(const Daemon& daemon, const std::string& key, const std::string& value) {
  ChildProcess cli({program_path("RINGDB_CLI"), "--socket", daemon.socket(), "put", key, value},
                   ChildOptions{});
  cli.close_stdin();
  cli.read_rest();
  REQUIRE(exit_code(cli.wait()) == 0);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("Left and Backspace edit the line: the stored value has no escape bytes") {
  Daemon daemon;
  TempDir home;
  PtyCli cli(daemon, {{"HOME", home.path()}});
  REQUIRE(cli.expect(kPrompt));
  // The cursor goes left of '1'; Backspace deletes the X before it.
  cli.type(std::string("put k1 vX1") + kLeft + kBackspace + kEnter);
  REQUIRE(cli.expect("OK\r\n"));
  REQUIRE(cli.expect(kPrompt));
  CHECK(stored(daemon, "k1") == value_json("v1"));
  cli.type(kCtrlD);
  CHECK(cli.wait_exit() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("Ctrl-A moves to the start of the line") {
  Daemon daemon;
  put(daemon, "greeting", "hello");
  TempDir home;
  PtyCli cli(daemon, {{"HOME", home.path()}});
  REQUIRE(cli.expect(kPrompt));
  cli.type(std::string("et greeting") + kCtrlA + "g" + kEnter);
  CHECK(cli.expect("\r\nhello\r\n"));
  REQUIRE(cli.expect(kPrompt));
  cli.type(kCtrlD);
  CHECK(cli.wait_exit() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("Up recalls the previous line, to run again or edit") {
  Daemon daemon;
  TempDir home;
  PtyCli cli(daemon, {{"HOME", home.path()}});
  REQUIRE(cli.expect(kPrompt));
  cli.type(std::string("put h1 first") + kEnter);
  REQUIRE(cli.expect(kPrompt));
  cli.type(std::string(kUp) + kBackspace + kBackspace + kBackspace + kBackspace + kBackspace +
           "again" + kEnter);
  REQUIRE(cli.expect("OK\r\n"));
  REQUIRE(cli.expect(kPrompt));
  CHECK(stored(daemon, "h1") == value_json("again"));
  cli.type(kCtrlD);
  CHECK(cli.wait_exit() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("history is kept in a file for the next run; a line that begins with a space is not") {
  Daemon daemon;
  TempDir home;
  const std::string file = home.path() + "/history";
  {
    PtyCli cli(daemon, {{"HOME", home.path()}, {"RINGDB_CLI_HISTORY", file}});
    REQUIRE(cli.expect(kPrompt));
    cli.type(std::string("put h2 kept") + kEnter);
    REQUIRE(cli.expect(kPrompt));
    cli.type(std::string(" put h3 s3cret") + kEnter);
    REQUIRE(cli.expect(kPrompt));
    cli.type(kCtrlD);
    CHECK(cli.wait_exit() == 0);
  }
  const std::string text = read_file(file);
  CHECK(text.find("h2") != std::string::npos);
  CHECK(text.find("s3cret") == std::string::npos);
  struct stat st;
  REQUIRE(stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  put(daemon, "h2", "changed");
  PtyCli again(daemon, {{"HOME", home.path()}, {"RINGDB_CLI_HISTORY", file}});
  REQUIRE(again.expect(kPrompt));
  again.type(std::string(kUp) + kEnter);  // the last line kept: put h2 kept
  REQUIRE(again.expect("OK\r\n"));
  REQUIRE(again.expect(kPrompt));
  CHECK(stored(daemon, "h2") == value_json("kept"));
  again.type(kCtrlD);
  CHECK(again.wait_exit() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("history goes to $XDG_STATE_HOME/ringdb/cli_history, its folder made 0700") {
  Daemon daemon;
  TempDir home;
  const std::string state = home.path() + "/state";
  PtyCli cli(daemon, {{"HOME", home.path()}, {"XDG_STATE_HOME", state}});
  REQUIRE(cli.expect(kPrompt));
  cli.type(std::string("ping") + kEnter);
  REQUIRE(cli.expect(kPrompt));
  cli.type(kCtrlD);
  CHECK(cli.wait_exit() == 0);
  CHECK(read_file(state + "/ringdb/cli_history").find("ping") != std::string::npos);
  struct stat st;
  REQUIRE(stat((state + "/ringdb").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("a cli reading a pipe neither reads nor writes the history file") {
  Daemon daemon;
  TempDir home;
  const std::string file = home.path() + "/history";
  ChildOptions options;
  options.env = {{"RINGDB_CLI_HISTORY", file}, {"HOME", home.path()}};
  ChildProcess cli({program_path("RINGDB_CLI"), "--socket", daemon.socket(), "--json"}, options);
  REQUIRE(cli.write("put p v\nping\n"));
  cli.close_stdin();
  cli.read_rest();
  CHECK(exit_code(cli.wait()) == 0);
  CHECK(!std::filesystem::exists(file));
  CHECK(daemon.stop() == 0);
}

TEST_CASE("Tab completes command names and scan's options") {
  Daemon daemon;
  put(daemon, "a", "1");
  put(daemon, "b", "2");
  put(daemon, "c", "3");
  TempDir home;
  PtyCli cli(daemon, {{"HOME", home.path()}});
  REQUIRE(cli.expect(kPrompt));
  // One candidate: completed, with a space after it.
  cli.type(std::string("sc") + kTab + R"("" "" 2 rev)" + kTab + kEnter);
  CHECK(cli.expect("c 3\r\nb 2\r\n(2 items; the range holds more"));
  REQUIRE(cli.expect(kPrompt));
  cli.type(std::string("sc") + kTab + R"("" "" pre)" + kTab + "b" + kEnter);
  CHECK(cli.expect("\r\nb 2\r\n(1 item)"));
  REQUIRE(cli.expect(kPrompt));
  // Two candidates that agree no further: listed, the line kept as typed.
  cli.type(std::string("p") + kTab);
  CHECK(cli.expect("ping  put"));
  cli.type(std::string("ut d 4") + kEnter);
  REQUIRE(cli.expect("OK\r\n"));
  REQUIRE(cli.expect(kPrompt));
  CHECK(stored(daemon, "d") == value_json("4"));
  cli.type(kCtrlD);
  CHECK(cli.wait_exit() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("the prompt shows an open transaction") {
  Daemon daemon;
  TempDir home;
  PtyCli cli(daemon, {{"HOME", home.path()}});
  REQUIRE(cli.expect(kPrompt));
  cli.type(std::string("begin") + kEnter);
  REQUIRE(cli.expect(kTxnPrompt));
  cli.type(std::string("put t v") + kEnter);
  REQUIRE(cli.expect(kTxnPrompt));
  cli.type(std::string("commit") + kEnter);
  REQUIRE(cli.expect("OK (commit sequence"));
  CHECK(cli.expect(std::string("\r\n") + kPrompt));
  cli.type(std::string("begin") + kEnter);
  REQUIRE(cli.expect(kTxnPrompt));
  cli.type(std::string("abort") + kEnter);
  CHECK(cli.expect(std::string("OK\r\n") + kPrompt));
  cli.type(kCtrlD);
  CHECK(cli.wait_exit() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("UTF-8 typed at a terminal without a locale is stored as UTF-8") {
  Daemon daemon;
  TempDir home;
  PtyCli cli(daemon, {{"HOME", home.path()}});  // no LANG, no LC_*: the C locale
  REQUIRE(cli.expect(kPrompt));
  cli.type(std::string("put u caf\xc3\xa9") + kEnter);
  REQUIRE(cli.expect("OK\r\n"));
  REQUIRE(cli.expect(kPrompt));
  CHECK(stored(daemon, "u") == value_json("caf\xc3\xa9"));
  cli.type(kCtrlD);
  CHECK(cli.wait_exit() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("at a terminal too, the exit status says a command failed") {
  Daemon daemon;
  TempDir home;
  PtyCli cli(daemon, {{"HOME", home.path()}});
  REQUIRE(cli.expect(kPrompt));
  cli.type(std::string("get missing") + kEnter);
  REQUIRE(cli.expect("(not found)\r\n"));
  REQUIRE(cli.expect(kPrompt));
  cli.type(kCtrlD);
  CHECK(cli.wait_exit() == 3);
  CHECK(daemon.stop() == 0);
}
