// Spawning and stopping ringdbd and redis-server for a benchmark run.
#include "tools/bench/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tools/bench/proc_stats.h"
#include "tools/bench/redis_client.h"

namespace ringdb::bench {
namespace {

constexpr int kReadyTimeout_ms = 30000;
constexpr int kStopTimeout_ms = 10000;
constexpr int kReadyFd = 3;
// Sessions the benchmark opens besides clients and idle sessions: preload, the peer-pid probe.
constexpr int kSessionsSpare = 8;

bool executable(const std::string& path) {
  return access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::vector<int> default_daemon_cpus() {
  std::vector<int> cpus = allowed_cpus();
  size_t half = std::max<size_t>(1, cpus.size() / 2);
  if (cpus.size() > half) cpus.erase(cpus.begin(), cpus.end() - static_cast<long>(half));
  return cpus;
}

std::string find_ringdbd(const char* argv0) {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) self = argv0;
  std::filesystem::path dir = self.parent_path();
  for (const char* rel :
       {"ringdbd", "../daemon/ringdbd", "../../daemon/ringdbd", "../sbin/ringdbd"}) {
    std::string candidate = (dir / rel).lexically_normal().string();
    if (executable(candidate)) return candidate;
  }
  return "ringdbd";
}

bool ServerProcess::make_dir(const char* prefix, std::string* error) {
  std::string templ = std::string("/tmp/") + prefix + "-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    *error = std::string("mkdtemp: ") + std::strerror(errno);
    return false;
  }
  dir_ = templ;
  log_path_ = dir_ + "/server.log";
  return true;
}

bool ServerProcess::spawn(const std::vector<std::string>& argv, const std::vector<int>& cpus,
                          int keep_fd, std::string* error) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the benchmark
    int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (log >= 0) {
      dup2(log, 1);
      dup2(log, 2);
    }
    if (keep_fd >= 0) dup2(keep_fd, kReadyFd);  // dup2 clears FD_CLOEXEC on the copy
    if (!cpus.empty()) {
      cpu_set_t set;
      CPU_ZERO(&set);
      for (int cpu : cpus)
        CPU_SET(static_cast<size_t>(cpu), &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  pid_ = pid;
  binary_ = argv[0];
  return true;
}

std::string ServerProcess::log_tail() const {
  std::ifstream in(log_path_);
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  if (text.size() > 2000) text = text.substr(text.size() - 2000);
  return text.empty() ? "" : "\n--- " + binary_ + " output ---\n" + text;
}

bool ServerProcess::start_ringdbd(const Options& options, const char* argv0, std::string* error) {
  if (!make_dir("ringdb-bench", error)) return false;
  socket_path_ = dir_ + "/ringdb.sock";
  data_dir_ = dir_ + "/data";
  mkdir(data_dir_.c_str(), 0700);
  std::string binary = options.ringdbd_path.empty() ? find_ringdbd(argv0) : options.ringdbd_path;
  int sessions = std::max(256, options.clients + options.idle_sessions + kSessionsSpare);
  std::vector<std::string> argv = {binary,
                                   "--socket",
                                   socket_path_,
                                   "--admin-socket",
                                   dir_ + "/admin.sock",
                                   "--data-dir",
                                   data_dir_,
                                   "--ready-fd",
                                   std::to_string(kReadyFd),
                                   "--sessions-max",
                                   std::to_string(sessions),
                                   "--log-level",
                                   "warn"};
  if (!options.daemon_cores.empty()) {
    argv.push_back("--cores");
    argv.push_back(options.daemon_cores);
  }
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  bool ok = spawn(argv, {}, ready[1], error);
  close(ready[1]);
  char buf[8] = {};
  pollfd p{ready[0], POLLIN, 0};
  ok = ok && poll(&p, 1, kReadyTimeout_ms) == 1 && read(ready[0], buf, sizeof buf) > 0 &&
       std::strncmp(buf, "ready", 5) == 0;
  close(ready[0]);
  if (!ok && error->empty()) *error = binary + " did not become ready" + log_tail();
  if (!ok) stop();
  return ok;
}

bool ServerProcess::start_redis(const std::vector<int>& cpus, ringdb::Durability durability,
                                std::string* error) {
  if (!make_dir("ringdb-bench-redis", error)) return false;
  socket_path_ = dir_ + "/redis.sock";
  std::vector<std::string> argv = {
      "redis-server", "--save",           "",       "--port", "0",  "--unixsocket",
      socket_path_,   "--unixsocketperm", "700",    "--dir",  dir_, "--daemonize",
      "no",           "--logfile",        log_path_};
  for (const char* a :
       durability == ringdb::Durability::kNone ? std::vector<const char*>{"--appendonly", "no"}
       : durability == ringdb::Durability::kAsync
           ? std::vector<const char*>{"--appendonly", "yes", "--appendfsync", "everysec"}
           : std::vector<const char*>{"--appendonly", "yes", "--appendfsync", "always"}) {
    argv.push_back(a);
  }
  if (!spawn(argv, cpus, -1, error)) return false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReadyTimeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    RespClient client;
    std::string why;
    if (client.connect(socket_path_, &why) && client.ping_once(&why)) return true;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  *error =
      "redis-server did not answer PING (is Debian's redis-server installed? "
      "scripts/install-deps.sh)" +
      log_tail();
  stop();
  return false;
}

void ServerProcess::stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int waited_ms = 0;
    while (waitpid(pid_, nullptr, WNOHANG) == 0) {
      if (waited_ms >= kStopTimeout_ms) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      waited_ms += 5;
    }
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
  data_dir_.clear();
}

bool start_redis_where_ringdbd_runs(const Options& options, ServerProcess* redis,
                                    std::string* error) {
  std::vector<int> cpus = parse_cpu_list(options.daemon_cores);
  if (cpus.empty()) cpus = default_daemon_cpus();
  return redis->start_redis(cpus, options.durability, error);
}

}  // namespace ringdb::bench
