// Reading context switches and CPU time from /proc; CPU pinning; a socket's peer pid.
#include "tools/bench/proc_stats.h"

#include <dirent.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace ringdb::bench {
namespace {

// Adds the two ctxt_switches lines of one /proc/.../status file.
bool add_task_switches(const std::string& path, ProcessCounters* out) {
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return false;
  char line[256];
  unsigned long long value = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "voluntary_ctxt_switches: %llu", &value) == 1) {
      out->voluntary_switches += value;
    } else if (std::sscanf(line, "nonvoluntary_ctxt_switches: %llu", &value) == 1) {
      out->involuntary_switches += value;
    }
  }
  std::fclose(f);
  return true;
}

// utime + stime (fields 14 and 15) of a stat file (/proc/PID/stat, /proc/PID/task/TID/stat),
// after the parenthesised command name (which may hold spaces); *comm (if given) that name.
bool read_cpu_ns(const std::string& path, uint64_t* out, std::string* comm = nullptr) {
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return false;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return false;
  if (comm != nullptr) {
    const char* open = std::strchr(buf, '(');
    if (open == nullptr || open > p) return false;
    comm->assign(open + 1, p);
  }
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  // After ")": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
  // utime(14) stime(15).
  if (std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                  &stime) != 2) {
    return false;
  }
  long ticks_per_s = sysconf(_SC_CLK_TCK);
  if (ticks_per_s <= 0) return false;
  *out = (utime + stime) * (1000000000ull / static_cast<unsigned long long>(ticks_per_s));
  return true;
}

}  // namespace

ProcessCounters read_process_counters(pid_t pid) {
  ProcessCounters c;
  std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = opendir(task_dir.c_str());
  if (dir == nullptr) return c;
  bool any = false;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const std::string task = task_dir + "/" + e->d_name;
    any |= add_task_switches(task + "/status", &c);
    // ringdbd's workers name themselves ringdb-worker<N> (sync/thread_name.h).
    std::string comm;
    uint64_t ns = 0;
    if (read_cpu_ns(task + "/stat", &ns, &comm) && comm.rfind("ringdb-worker", 0) == 0)
      c.worker_cpu_ns += ns;
  }
  closedir(dir);
  c.ok = any && read_cpu_ns("/proc/" + std::to_string(pid) + "/stat", &c.cpu_ns);
  return c;
}

bool pin_to_cpu(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<size_t>(cpu), &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(static_cast<size_t>(cpu), &set)) cpus.push_back(cpu);
  }
  return cpus;
}

pid_t socket_peer_pid(const char* path, int type) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (std::strlen(path) >= sizeof addr.sun_path) return -1;
  std::strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  pid_t pid = -1;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) pid = cred.pid;
  }
  close(fd);
  return pid;
}

}  // namespace ringdb::bench
