#include "daemon/service/config.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

namespace ringdb::daemon {
namespace {

using Setter = std::function<bool(Config*, const std::string&)>;

struct Option {
  const char* name;
  const char* value_name;
  const char* help;
  Setter set;
};

bool parse_u64(const std::string& text, uint64_t min, uint64_t max, uint64_t* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(text.c_str(), &end, 0);
  if (errno != 0 || end == text.c_str()) return false;
  // Size suffixes: 4K, 2M, 1G.
  std::string suffix(end);
  if (suffix == "K" || suffix == "k")
    v <<= 10;
  else if (suffix == "M" || suffix == "m")
    v <<= 20;
  else if (suffix == "G" || suffix == "g")
    v <<= 30;
  else if (!suffix.empty())
    return false;
  if (v < min || v > max) return false;
  *out = v;
  return true;
}

template <typename T>
Setter number(T Config::*field, uint64_t min, uint64_t max) {
  return [=](Config* c, const std::string& text) {
    uint64_t v;
    if (!parse_u64(text, min, max, &v)) return false;
    c->*field = static_cast<T>(v);
    return true;
  };
}

Setter text(std::string Config::*field) {
  return [=](Config* c, const std::string& value) {
    if (value.empty()) return false;
    c->*field = value;
    return true;
  };
}

bool parse_users(const std::string& list, std::vector<uid_t>* out) {
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) return false;
    uint64_t id;
    if (parse_u64(item, 0, std::numeric_limits<uid_t>::max() - 1, &id)) {
      out->push_back(static_cast<uid_t>(id));
    } else if (const passwd* pw = getpwnam(item.c_str()); pw != nullptr) {
      out->push_back(pw->pw_uid);
    } else {
      return false;
    }
  }
  return true;
}

bool parse_groups(const std::string& list, std::vector<gid_t>* out) {
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) return false;
    uint64_t id;
    if (parse_u64(item, 0, std::numeric_limits<gid_t>::max() - 1, &id)) {
      out->push_back(static_cast<gid_t>(id));
    } else if (const group* gr = getgrnam(item.c_str()); gr != nullptr) {
      out->push_back(gr->gr_gid);
    } else {
      return false;
    }
  }
  return true;
}

const std::vector<Option>& options() {
  static const std::vector<Option> table = {
      {"data-dir", "DIR",
       "data directory (WAL, checkpoints) [/var/lib/ringdb for root, else "
       "$XDG_DATA_HOME/ringdb or ~/.local/share/ringdb]",
       text(&Config::data_dir)},
      {"socket", "PATH",
       "session socket [RUNTIME/ringdb.sock, RUNTIME = /run/ringdb for root, "
       "else $XDG_RUNTIME_DIR/ringdb or /tmp/ringdb-UID]",
       text(&Config::socket_path)},
      {"admin-socket", "PATH", "admin socket [RUNTIME/admin.sock]",
       text(&Config::admin_socket_path)},
      {"socket-mode", "OCTAL", "permission bits of the sockets [0660]",
       [](Config* c, const std::string& v) {
         char* end = nullptr;
         const unsigned long mode = strtoul(v.c_str(), &end, 8);
         if (v.empty() || *end != '\0' || mode > 0777) return false;
         c->socket_mode = static_cast<uint32_t>(mode);
         return true;
       }},
      {"cores", "LIST",
       "worker cores, e.g. 2-5,8: one pinned worker per core [half of the "
       "allowed CPUs, the highest-numbered]",
       [](Config* c, const std::string& v) { return parse_core_list(v, &c->cores); }},
      {"allow-users", "LIST", "users (names or uids) allowed to connect [own user and root]",
       [](Config* c, const std::string& v) { return parse_users(v, &c->allow_users); }},
      {"allow-groups", "LIST", "groups (names or gids) allowed to connect [none]",
       [](Config* c, const std::string& v) { return parse_groups(v, &c->allow_groups); }},
      {"admin-users", "LIST", "users allowed on the admin socket [own user and root]",
       [](Config* c, const std::string& v) { return parse_users(v, &c->admin_users); }},
      {"admin-groups", "LIST", "groups allowed on the admin socket [none]",
       [](Config* c, const std::string& v) { return parse_groups(v, &c->admin_groups); }},
      {"admin-idle-timeout-ms", "MS",
       "an admin connection that sends no complete request this long is closed [10000]",
       number(&Config::admin_idle_timeout_ms, 100, 3'600'000)},
      {"sessions-max", "N", "connected sessions [256]", number(&Config::sessions_max, 1, 4000)},
      {"inflight-max", "N", "requests in flight per session [256]",
       number(&Config::inflight_max, 1, 65536)},
      {"ring-slots", "N", "request ring slots per CPU per session, a power of two [128]",
       number(&Config::ring_slots, 2, 65536)},
      {"context-size", "BYTES",
       "bytes per request context, a multiple of 64; small payloads "
       "travel inline in it [512]",
       number(&Config::context_size, 128, 65536)},
      {"request-area", "BYTES", "request data area per session [2M+64K]",
       number(&Config::request_area_bytes, 0, 1u << 30)},
      {"response-area", "BYTES", "response data area per session [4M+128K]",
       number(&Config::response_area_bytes, 0, 1u << 30)},
      {"transactions-max", "N", "open transactions per session [16]",
       number(&Config::transactions_max, 1, 65535)},
      {"key-size-max", "BYTES", "largest key [1024]", number(&Config::key_size_max, 1, 65536)},
      {"value-size-max", "BYTES", "largest value [1M]",
       number(&Config::value_size_max, 0, 64u << 20)},
      {"memory-limit", "BYTES", "memory for stored data; puts fail beyond it [1G]",
       number(&Config::memory_limit_bytes, 1u << 20, uint64_t{1} << 44)},
      {"wal-segment-size", "BYTES",
       "write-ahead log segment file size; a transaction's changes must fit in one [64M]",
       number(&Config::wal_segment_bytes, 1u << 20, uint64_t{1} << 34)},
      {"wal-async-flush-ms", "MS",
       "an async commit is written and synced within this long (sooner with a sync commit "
       "behind it); 0: at once [10]",
       number(&Config::wal_async_flush_ms, 0, 60'000)},
      {"checkpoint-interval-ms", "MS",
       "start a checkpoint this long after the last one started; 0: not by time [300000]",
       number(&Config::checkpoint_interval_ms, 0, uint64_t{1} << 40)},
      {"checkpoint-wal-bytes", "BYTES",
       "start a checkpoint once the log grew this much since the last one; 0: not by size "
       "[256M]",
       number(&Config::checkpoint_wal_bytes, 0, uint64_t{1} << 50)},
      {"transaction-age-max-ms", "MS",
       "abort a transaction open longer than this (TRX_TOO_OLD); 0: no limit [600000]",
       number(&Config::transaction_age_max_ms, 0, uint64_t{1} << 40)},
      {"watchdog-ms", "MS",
       "report a worker that is awake but makes no progress this long; 0: off [10000]",
       number(&Config::watchdog_ms, 0, uint64_t{1} << 40)},
      {"watchdog-abort", "0|1",
       "1: after reporting a stalled worker, abort (a supervisor restarts the daemon) [0]",
       number(&Config::watchdog_abort, 0, 1)},
      {"test-hooks", "0|1",
       "1: enable admin commands that stall workers on purpose (tests only) [0]",
       number(&Config::test_hooks, 0, 1)},
      {"spin-us", "N", "microseconds a worker polls without work before it sleeps [50]",
       number(&Config::spin_us, 0, 1000000)},
      {"log-level", "LEVEL", "error, warn, info or debug [info]",
       [](Config* c, const std::string& v) { return parse_log_level(v.c_str(), &c->log_level); }},
      {"ready-fd", "FD", "write \"ready\\n\" to this descriptor once serving, then close it",
       [](Config* c, const std::string& v) {
         uint64_t fd;
         if (!parse_u64(v, 0, 1 << 20, &fd)) return false;
         c->ready_fd = static_cast<int>(fd);
         return true;
       }},
  };
  return table;
}

void print_help() {
  printf(
      "usage: ringdbd [--config FILE] [OPTION VALUE]...\n"
      "Serves a transactional key-value store to local processes over shared memory.\n"
      "With no options it runs on the defaults shown in brackets.\n\n"
      "  --config FILE          read options from FILE: one `name = value` per line, names\n"
      "                         as below without the dashes, # starts a comment; flags given\n"
      "                         on the command line win\n");
  for (const Option& o : options()) {
    std::string left = std::string("--") + o.name + " " + o.value_name;
    printf("  %-22s %s\n", left.c_str(), o.help);
  }
  printf(
      "  --help                 this text\n"
      "  --version              the version\n\n"
      "Signals: SIGTERM or SIGINT stop it gracefully (exit 0).\n");
}

const Option* find(const std::string& name) {
  for (const Option& o : options()) {
    if (name == o.name) return &o;
  }
  return nullptr;
}

bool apply(Config* c, const std::string& name, const std::string& value, std::string* error) {
  const Option* o = find(name);
  if (o == nullptr) {
    *error = "unknown option '" + name + "' (see --help)";
    return false;
  }
  if (!o->set(c, value)) {
    *error = "bad value '" + value + "' for " + name + " (" + o->help + ")";
    return false;
  }
  return true;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool load_file(const std::string& path, Config* c, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read config file " + path + ": " + strerror(errno);
    return false;
  }
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (line.empty()) continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) {
      *error = path + ":" + std::to_string(number) + ": expected `name = value`";
      return false;
    }
    std::string e;
    if (!apply(c, trim(line.substr(0, eq)), trim(line.substr(eq + 1)), &e)) {
      *error = path + ":" + std::to_string(number) + ": " + e;
      return false;
    }
  }
  return true;
}

}  // namespace

std::string default_runtime_dir() {
  if (geteuid() == 0) return "/run/ringdb";
  if (const char* xdg = getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/ringdb";
  }
  return "/tmp/ringdb-" + std::to_string(geteuid());
}

std::string default_data_dir() {
  if (geteuid() == 0) return "/var/lib/ringdb";
  if (const char* xdg = getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/ringdb";
  }
  if (const char* home = getenv("HOME"); home != nullptr && *home == '/') {
    return std::string(home) + "/.local/share/ringdb";
  }
  return "/tmp/ringdb-data-" + std::to_string(geteuid());
}

bool parse_core_list(const std::string& text, std::vector<int>* cores) {
  std::vector<int> out;
  std::set<int> seen;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const size_t dash = item.find('-');
    uint64_t lo, hi;
    if (dash == std::string::npos) {
      if (!parse_u64(item, 0, 4095, &lo)) return false;
      hi = lo;
    } else if (!parse_u64(item.substr(0, dash), 0, 4095, &lo) ||
               !parse_u64(item.substr(dash + 1), 0, 4095, &hi) || hi < lo) {
      return false;
    }
    for (uint64_t c = lo; c <= hi; ++c) {
      if (!seen.insert(static_cast<int>(c)).second) return false;
      out.push_back(static_cast<int>(c));
    }
  }
  if (out.empty()) return false;
  *cores = std::move(out);
  return true;
}

int parse_config(int argc, char** argv, Config* config) {
  Config c;
  std::string error;
  // The file first, so that flags override it.
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--config") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, "ringdbd: --config needs a file\n");
        return 2;
      }
      if (!load_file(argv[i + 1], &c, &error)) {
        fprintf(stderr, "ringdbd: %s\n", error.c_str());
        return 2;
      }
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      print_help();
      return -1;
    }
    if (arg == "--version") {
      printf("ringdbd 0.1.0 (protocol 1)\n");
      return -1;
    }
    if (arg.rfind("--", 0) != 0) {
      fprintf(stderr, "ringdbd: unexpected argument '%s' (see --help)\n", arg.c_str());
      return 2;
    }
    std::string name = arg.substr(2), value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      fprintf(stderr, "ringdbd: %s needs a value (see --help)\n", arg.c_str());
      return 2;
    }
    if (name == "config") continue;
    if (!apply(&c, name, value, &error)) {
      fprintf(stderr, "ringdbd: %s\n", error.c_str());
      return 2;
    }
  }
  if (c.data_dir.empty()) c.data_dir = default_data_dir();
  if (c.socket_path.empty()) c.socket_path = default_runtime_dir() + "/ringdb.sock";
  if (c.admin_socket_path.empty()) c.admin_socket_path = default_runtime_dir() + "/admin.sock";
  for (auto* users : {&c.allow_users, &c.admin_users}) {
    if (users->empty()) {
      users->push_back(geteuid());
      if (geteuid() != 0) users->push_back(0);
    }
  }
  *config = std::move(c);
  return 0;
}

}  // namespace ringdb::daemon
