// A server the benchmark starts for itself (ringdbd with --spawn, redis-server with
// --compare redis): in a private mkdtemp directory, its output in a log file there, stopped
// with SIGTERM (SIGKILL after a timeout) and its directory removed when stop() runs or the
// object is destroyed. One thread; the process is a child of the benchmark's main process.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "tools/bench/options.h"

namespace ringdb::bench {

class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts ringdbd with its sockets and data directory in a new temporary directory and
  // waits for "ready" on --ready-fd. `argv0` locates ringdbd when options has no path.
  bool start_ringdbd(const Options& options, const char* argv0, std::string* error);
  // Starts redis-server on a unix socket, pinned to `cpus` (if any), with the persistence
  // that matches ringdb's `durability` (kSync: appendonly with appendfsync always, an
  // fdatasync per write; kAsync: appendfsync everysec; kNone: no persistence), and waits
  // until it answers PING.
  bool start_redis(const std::vector<int>& cpus, ringdb::Durability durability, std::string* error);
  // SIGTERM, wait (SIGKILL after 10 s), remove the directory. Safe to call twice.
  void stop();

  pid_t pid() const { return pid_; }
  const std::string& socket_path() const { return socket_path_; }
  std::string admin_socket_path() const { return dir_ + "/admin.sock"; }
  // ringdbd's --data-dir (its log is in wal/ there); empty for redis-server.
  const std::string& data_dir() const { return data_dir_; }
  const std::string& binary() const { return binary_; }

 private:
  bool make_dir(const char* prefix, std::string* error);
  // Forks and execs argv with stdout/stderr to log_path_, pinned to cpus, keeping
  // `keep_fd` open as descriptor 3 (if >= 0).
  bool spawn(const std::vector<std::string>& argv, const std::vector<int>& cpus, int keep_fd,
             std::string* error);
  std::string log_tail() const;

  pid_t pid_ = -1;
  std::string dir_;
  std::string socket_path_;
  std::string data_dir_;
  std::string log_path_;
  std::string binary_;
};

// Where ringdbd puts its workers when given no --cores: half of the allowed CPUs (at least
// one), the highest-numbered. Redis is pinned there too, so both servers get the same CPUs.
std::vector<int> default_daemon_cpus();

// Starts redis-server on the CPUs ringdbd gets (--cores, else default_daemon_cpus()).
bool start_redis_where_ringdbd_runs(const Options& options, ServerProcess* redis,
                                    std::string* error);

// Finds ringdbd: beside the executable, ../daemon/ringdbd or ../../daemon/ringdbd (the
// build tree: build/tools/bench/ringdb-bench, build/daemon/ringdbd), ../sbin/ringdbd (an
// install), else "ringdbd" for a $PATH search.
std::string find_ringdbd(const char* argv0);

}  // namespace ringdb::bench
