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
#include <utility>

#include "daemon/base/tcp_listen.h"
#include "daemon/engine/engine.h"
#include "shm/wire.h"

namespace ringdb::daemon {
namespace {

// Decimal digits (010 is ten; no sign, no 0x), then an optional size suffix: 4K, 2M, 1G.
bool parse_u64(const std::string& text, uint64_t min, uint64_t max, uint64_t* out) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str()) return false;
  const std::string suffix(end);
  int shift = 0;
  if (suffix == "K" || suffix == "k")
    shift = 10;
  else if (suffix == "M" || suffix == "m")
    shift = 20;
  else if (suffix == "G" || suffix == "g")
    shift = 30;
  else if (!suffix.empty())
    return false;
  if (v > (std::numeric_limits<unsigned long long>::max() >> shift)) return false;
  v <<= shift;
  if (v < min || v > max) return false;
  *out = v;
  return true;
}

// "4M" rather than 4194304: the largest suffix that divides the value exactly.
std::string size_text(uint64_t v) {
  static constexpr std::pair<int, char> kSuffixes[] = {{30, 'G'}, {20, 'M'}, {10, 'K'}};
  for (const auto& [shift, suffix] : kSuffixes) {
    const uint64_t unit = uint64_t{1} << shift;
    if (v != 0 && v % unit == 0) return std::to_string(v / unit) + suffix;
  }
  return std::to_string(v);
}

// A count, a duration or a flag: written in decimal.
template <typename T>
ConfigValue count(T Config::*field, uint64_t min, uint64_t max) {
  return {[=](Config* c, const std::string& text) {
            uint64_t v;
            if (!parse_u64(text, min, max, &v)) return false;
            c->*field = static_cast<T>(v);
            return true;
          },
          [=](const Config& c) { return std::to_string(c.*field); }};
}

// A size in bytes: parsed as a count, written with a K/M/G suffix where one fits.
template <typename T>
ConfigValue bytes(T Config::*field, uint64_t min, uint64_t max) {
  ConfigValue v = count(field, min, max);
  v.print = [=](const Config& c) { return size_text(c.*field); };
  return v;
}

// --memory-limit: a size, or "auto" (0): chosen at start from the memory the process may use.
ConfigValue memory_limit() {
  ConfigValue v = bytes(&Config::memory_limit_bytes, 1u << 20, uint64_t{1} << 44);
  const auto parse_size = v.parse;
  v.parse = [parse_size](Config* c, const std::string& text) {
    if (text != "auto") return parse_size(c, text);
    c->memory_limit_bytes = 0;
    return true;
  };
  v.print = [](const Config& c) {
    return c.memory_limit_bytes == 0 ? std::string("auto") : size_text(c.memory_limit_bytes);
  };
  return v;
}

// A path, or `auto` (""): chosen at start (parse_config).
ConfigValue path(std::string Config::*field) {
  return {[=](Config* c, const std::string& value) {
            if (value.empty()) return false;
            c->*field = value == "auto" ? std::string() : value;
            return true;
          },
          [=](const Config& c) { return (c.*field).empty() ? std::string("auto") : c.*field; }};
}

// --metrics-listen: HOST:PORT (an IPv4 address, or [IPv6]), or `off` ("").
ConfigValue listen_address(std::string Config::*field) {
  return {[=](Config* c, const std::string& value) {
            if (value == "off") {
              (c->*field).clear();
              return true;
            }
            std::string host;
            uint16_t port;
            if (!parse_host_port(value, &host, &port)) return false;
            c->*field = value;
            return true;
          },
          [=](const Config& c) { return (c.*field).empty() ? std::string("off") : c.*field; }};
}

template <typename T>
std::string join(const std::vector<T>& ids) {
  std::string out;
  for (const T id : ids) {
    if (!out.empty()) out.push_back(',');
    out += std::to_string(id);
  }
  return out;
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

// "2-5,8": runs of consecutive cores as ranges, in the order given (the order workers get).
std::string core_list_text(const std::vector<int>& cores) {
  std::string out;
  for (size_t i = 0; i < cores.size();) {
    size_t j = i;
    while (j + 1 < cores.size() && cores[j + 1] == cores[j] + 1)
      ++j;
    if (!out.empty()) out.push_back(',');
    out += std::to_string(cores[i]);
    if (j > i) {
      out.push_back('-');
      out += std::to_string(cores[j]);
    }
    i = j + 1;
  }
  return out;
}

// A list of users, or `auto` (empty): the daemon's own user and root (parse_config).
ConfigValue users(std::vector<uid_t> Config::*field) {
  return {
      [=](Config* c, const std::string& v) {
        (c->*field).clear();
        return v == "auto" || (!v.empty() && parse_users(v, &(c->*field)));
      },
      [=](const Config& c) { return (c.*field).empty() ? std::string("auto") : join(c.*field); }};
}

// A list of groups, or `none`.
ConfigValue groups(std::vector<gid_t> Config::*field) {
  return {
      [=](Config* c, const std::string& v) {
        (c->*field).clear();
        return v == "none" || (!v.empty() && parse_groups(v, &(c->*field)));
      },
      [=](const Config& c) { return (c.*field).empty() ? std::string("none") : join(c.*field); }};
}

ConfigValue socket_mode() {
  return {[](Config* c, const std::string& v) {
            char* end = nullptr;
            const unsigned long mode = strtoul(v.c_str(), &end, 8);
            if (v.empty() || *end != '\0' || mode > 0777) return false;
            c->socket_mode = static_cast<uint32_t>(mode);
            return true;
          },
          [](const Config& c) {
            char buf[16];
            snprintf(buf, sizeof buf, "%04o", c.socket_mode);
            return std::string(buf);
          }};
}

// A core list, or `auto` (empty): chosen at start (daemon/service/placement.h).
ConfigValue cores() {
  return {[](Config* c, const std::string& v) {
            if (v != "auto") return parse_core_list(v, &c->cores);
            c->cores.clear();
            return true;
          },
          [](const Config& c) {
            return c.cores.empty() ? std::string("auto") : core_list_text(c.cores);
          }};
}

ConfigValue log_level_value() {
  return {[](Config* c, const std::string& v) { return parse_log_level(v.c_str(), &c->log_level); },
          [](const Config& c) { return std::string(log_level_name(c.log_level)); }};
}

ConfigValue wal_recovery() {
  return {[](Config* c, const std::string& v) {
            if (v != "strict" && v != "point-in-time") return false;
            c->wal_point_in_time = v == "point-in-time";
            return true;
          },
          [](const Config& c) {
            return std::string(c.wal_point_in_time ? "point-in-time" : "strict");
          }};
}

ConfigValue ready_fd() {
  return {[](Config* c, const std::string& v) {
            uint64_t fd;
            if (v == "none") {
              c->ready_fd = -1;
              return true;
            }
            if (!parse_u64(v, 0, 1 << 20, &fd)) return false;
            c->ready_fd = static_cast<int>(fd);
            return true;
          },
          [](const Config& c) {
            return c.ready_fd < 0 ? std::string("none") : std::to_string(c.ready_fd);
          }};
}

// `text` in lines of at most `width` columns; every line starts with `lead` (the first with
// `first_lead`).
std::string wrap(const std::string& text, size_t width, const std::string& first_lead,
                 const std::string& lead) {
  std::string out, line;
  std::stringstream words(text);
  std::string word;
  const std::string* prefix = &first_lead;
  while (words >> word) {
    if (!line.empty() && prefix->size() + line.size() + 1 + word.size() > width) {
      out.append(*prefix).append(line).append("\n");
      prefix = &lead;
      line.clear();
    }
    if (!line.empty()) line.push_back(' ');
    line += word;
  }
  if (!line.empty()) out.append(*prefix).append(line).append("\n");
  return out;
}

// The default as written in the file, with what a keyword (auto, none) stands for.
std::string default_text(const ConfigOption& o) {
  std::string v = o.value.print(Config{});
  if (o.default_text != nullptr) v.append(": ").append(o.default_text);
  return v;
}

constexpr size_t kHelpWidth = 80;
constexpr size_t kHelpIndent = 25;  // where an option's description starts in --help

// One option's --help entry: `  --name VALUE` and its description in a column.
std::string help_entry(const std::string& left, const std::string& text) {
  const std::string indent(kHelpIndent, ' ');
  std::string first = "  " + left;
  if (first.size() + 1 > kHelpIndent) return first + "\n" + wrap(text, kHelpWidth, indent, indent);
  first.resize(kHelpIndent, ' ');
  return wrap(text, kHelpWidth, first, indent);
}

void print_help() {
  std::string out =
      "Usage: ringdbd [--config FILE] [--OPTION VALUE]...\n"
      "Serves a transactional key-value store to local processes over shared memory.\n"
      "With no options it runs on the defaults shown in brackets.\n\n";
  out += help_entry("--config FILE",
                    "read options from FILE: one `name = value` per line, names as below "
                    "without the dashes; # starts a comment; \"double quotes\" keep a value's "
                    "spaces and #; flags on the command line win");
  for (const ConfigOption& o : config_options()) {
    out += help_entry(std::string("--") + o.name + " " + o.value_name,
                      std::string(o.help) + " [" + default_text(o) + "]");
  }
  out += help_entry("--print-config-file",
                    "print the commented config file (every option with its default, as "
                    "installed in /etc/ringdb/ringdbd.conf)");
  out += help_entry("--help", "this text");
  out += help_entry("--version", "the version");
  out += "\nSignals: SIGTERM or SIGINT stop it gracefully (exit 0).\n";
  fputs(out.c_str(), stdout);
}

const ConfigOption* find(const std::string& name) {
  for (const ConfigOption& o : config_options()) {
    if (name == o.name) return &o;
  }
  return nullptr;
}

bool apply(Config* c, const std::string& name, const std::string& value, std::string* error) {
  const ConfigOption* o = find(name);
  if (o == nullptr) {
    *error = "unknown option '" + name + "' (see --help)";
    return false;
  }
  if (!o->value.parse(c, value)) {
    *error =
        "bad value '" + value + "' for " + name + " (" + o->help + " [" + default_text(*o) + "])";
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

// One line of a config file: false for a blank or comment line. A `#` at the start of the line
// or after a space or tab starts a comment; a value in "double quotes" is taken whole (with \"
// and \\ as its only escapes), # and spaces included. A malformed line sets *error.
bool split_setting(const std::string& line, std::string* name, std::string* value,
                   std::string* error) {
  const std::string text = trim(line);
  if (text.empty() || text[0] == '#') return false;
  const size_t eq = text.find('=');
  if (eq == std::string::npos) {
    *error = "expected `name = value`";
    return false;
  }
  *name = trim(text.substr(0, eq));
  const std::string rest = trim(text.substr(eq + 1));
  if (rest.empty() || rest[0] != '"') {
    size_t end = rest.size();
    for (size_t i = 0; i < rest.size(); ++i) {
      if (rest[i] == '#' && (i == 0 || rest[i - 1] == ' ' || rest[i - 1] == '\t')) {
        end = i;
        break;
      }
    }
    *value = trim(rest.substr(0, end));
    return true;
  }
  value->clear();
  size_t i = 1;
  for (; i < rest.size() && rest[i] != '"'; ++i) {
    if (rest[i] == '\\' && i + 1 < rest.size() && (rest[i + 1] == '"' || rest[i + 1] == '\\')) ++i;
    value->push_back(rest[i]);
  }
  if (i >= rest.size()) {
    *error = "a quoted value without its closing \"";
    return false;
  }
  const std::string after = trim(rest.substr(i + 1));
  if (!after.empty() && after[0] != '#') {
    *error = "text after the closing \" (a comment starts with #)";
    return false;
  }
  return true;
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
    std::string name, value, e;
    if (split_setting(line, &name, &value, &e) && apply(c, name, value, &e)) continue;
    if (!e.empty()) {
      *error = path + ":" + std::to_string(number) + ": " + e;
      return false;
    }
  }
  return true;
}

// The first directory of a systemd list ($STATE_DIRECTORY, $RUNTIME_DIRECTORY: absolute paths
// separated by colons), or "" if the variable is unset or not such a list.
std::string systemd_directory(const char* variable) {
  const char* value = getenv(variable);
  if (value == nullptr || *value != '/') return "";
  const std::string list = value;
  return list.substr(0, list.find(':'));
}

}  // namespace

// A table, one row per option, read top to bottom: its length is the number of options.
const std::vector<ConfigOption>& config_options() {
  // Value ranges are the bounds the rest of the daemon is built and tested for.
  static const std::vector<ConfigOption> table = {
      {.heading = "Where things live",
       .name = "data-dir",
       .value_name = "DIR",
       .help = "data directory (the log in wal/, checkpoints in checkpoints/)",
       .default_text = "$STATE_DIRECTORY under systemd (StateDirectory=), else "
                       "/var/lib/ringdb for root, else $XDG_DATA_HOME/ringdb or "
                       "~/.local/share/ringdb",
       .value = path(&Config::data_dir)},
      {.name = "socket",
       .value_name = "PATH",
       .help = "session socket; clients (libringdb) connect here",
       .default_text = "RUNTIME/ringdb.sock, where RUNTIME is $RUNTIME_DIRECTORY under "
                       "systemd (RuntimeDirectory=), else /run/ringdb for root, else "
                       "$XDG_RUNTIME_DIR/ringdb or /tmp/ringdb-UID",
       .value = path(&Config::socket_path)},
      {.name = "admin-socket",
       .value_name = "PATH",
       .help = "admin socket; ringdb-admin connects here",
       .default_text = "RUNTIME/admin.sock",
       .value = path(&Config::admin_socket_path)},
      {.name = "socket-mode",
       .value_name = "OCTAL",
       .help = "permission bits of both sockets",
       .value = socket_mode()},
      {.heading = "Cores",
       .name = "cores",
       .value_name = "LIST",
       .help = "worker cores, e.g. 2-5,8: one pinned worker per core",
       .default_text = "half of the allowed CPUs, the highest-numbered",
       .example = "2-3",
       .value = cores()},
      {.heading = "Who may connect",
       .name = "allow-users",
       .value_name = "LIST",
       .help = "users (names or uids) allowed to connect",
       .default_text = "the daemon's own user and root",
       .example = "ringdb",
       .value = users(&Config::allow_users)},
      {.name = "allow-groups",
       .value_name = "LIST",
       .help = "groups (names or gids) allowed to connect",
       .example = "ringdb-clients",
       .value = groups(&Config::allow_groups)},
      {.name = "admin-users",
       .value_name = "LIST",
       .help = "users allowed on the admin socket",
       .default_text = "the daemon's own user and root",
       .example = "ringdb",
       .value = users(&Config::admin_users)},
      {.name = "admin-groups",
       .value_name = "LIST",
       .help = "groups allowed on the admin socket",
       .example = "adm",
       .value = groups(&Config::admin_groups)},
      {.name = "admin-idle-timeout-ms",
       .value_name = "MS",
       .help = "an admin connection that sends no complete request this long is closed",
       .value = count(&Config::admin_idle_timeout_ms, 100, 3'600'000)},
      {.heading = "Limits",
       .name = "sessions-max",
       .value_name = "N",
       .help = "connected sessions",
       .value = count(&Config::sessions_max, 1, 4000)},
      {.name = "sessions-per-user-max",
       .value_name = "N",
       .help = "connected sessions of one user (uid), so that no user can take them all; 0: "
               "half of --sessions-max. The daemon's own user is held only to --sessions-max",
       .value = count(&Config::sessions_per_user_max, 0, 4000)},
      {.name = "inflight-max",
       .value_name = "N",
       .help = "requests in flight per session",
       .value = count(&Config::inflight_max, 1, 65536)},
      {.name = "ring-slots",
       .value_name = "N",
       .help = "request ring slots per CPU per session, a power of two",
       .value = count(&Config::ring_slots, 2, 65536)},
      {.name = "context-size",
       .value_name = "BYTES",
       .help = "bytes per request context, a multiple of 64; small payloads travel inline in it",
       .value = bytes(&Config::context_size, 128, 65536)},
      {.name = "request-area",
       .value_name = "BYTES",
       .help = "request data area per session",
       .value = bytes(&Config::request_area_bytes, 0, 1u << 30)},
      {.name = "response-area",
       .value_name = "BYTES",
       .help = "response data area per session",
       .value = bytes(&Config::response_area_bytes, 0, 1u << 30)},
      {.name = "transactions-max",
       .value_name = "N",
       .help = "open transactions per session",
       .value = count(&Config::transactions_max, 1, 65535)},
      {.name = "event-ring",
       .value_name = "BYTES",
       .help = "each session's ring of watch events, a power of two (64K..1G); a value larger "
               "than a quarter of it travels without its bytes (flagged)",
       .value = bytes(&Config::event_ring_bytes, 64u << 10, 1u << 30)},
      {.name = "watches-per-session-max",
       .value_name = "N",
       .help = "watches one session may hold at once",
       .value = count(&Config::watches_per_session_max, 1, 1024)},
      {.name = "key-size-max",
       .value_name = "BYTES",
       .help = "largest key",
       .value = bytes(&Config::key_size_max, 1, kKeySizeMaxLimit)},
      {.name = "value-size-max",
       .value_name = "BYTES",
       .help = "largest value",
       .value = bytes(&Config::value_size_max, 0, kValueSizeMaxLimit)},
      {.name = "memory-limit",
       .value_name = "BYTES",
       .help = "memory for stored data; puts fail with OUT_OF_MEMORY beyond it (reads and "
               "deletes go on)",
       .default_text = "half of what the process may use (its cgroup's memory limit, else "
                       "physical memory) after an allowance for the daemon's own needs "
                       "(docs/OPERATIONS.md); the figure chosen is logged at start",
       .value = memory_limit()},
      {.heading = "Durability",
       .name = "wal-segment-size",
       .value_name = "BYTES",
       .help = "write-ahead log segment file size; a transaction's changes must fit in one",
       .value = bytes(&Config::wal_segment_bytes, 1u << 20, uint64_t{1} << 34)},
      {.name = "watch-retain",
       .value_name = "BYTES",
       .help = "log kept behind its end so that watchers can resume from an earlier position "
               "(segments are removed whole, once a checkpoint no longer needs them either)",
       .value = bytes(&Config::watch_retain_bytes, 0, uint64_t{1} << 44)},
      {.name = "wal-async-flush-ms",
       .value_name = "MS",
       .help = "an async commit is written and synced within this long (sooner with a sync "
               "commit behind it); 0: at once",
       .value = count(&Config::wal_async_flush_ms, 0, 60'000)},
      {.name = "wal-recovery",
       .value_name = "MODE",
       .help = "what a damaged log does at start: strict refuses to start and says where the "
               "damage is; point-in-time starts from the last consistent point before it, "
               "after copying the damaged segment and moving later ones to the log's "
               "set-aside/ folder (an operator's choice for one start: docs/OPERATIONS.md). "
               "A torn tail, a crash's unfinished last write, is cleared either way",
       .value = wal_recovery()},
      {.name = "checkpoint-interval-ms",
       .value_name = "MS",
       .help = "start a checkpoint this long after the last one started; 0: not by time",
       .value = count(&Config::checkpoint_interval_ms, 0, uint64_t{1} << 40)},
      {.name = "checkpoint-wal-bytes",
       .value_name = "BYTES",
       .help = "start a checkpoint once the log grew this much since the last one; 0: not by "
               "size",
       .value = bytes(&Config::checkpoint_wal_bytes, 0, uint64_t{1} << 50)},
      {.heading = "Guards",
       .name = "transaction-age-max-ms",
       .value_name = "MS",
       .help = "abort a transaction open longer than this (TRX_TOO_OLD); 0: no limit",
       .value = count(&Config::transaction_age_max_ms, 0, uint64_t{1} << 40)},
      {.name = "watchdog-ms",
       .value_name = "MS",
       .help = "report a worker that is awake but makes no progress this long; 0: off",
       .value = count(&Config::watchdog_ms, 0, uint64_t{1} << 40)},
      {.name = "watchdog-abort",
       .value_name = "0|1",
       .help = "1: after reporting a stalled worker, abort (a supervisor restarts the daemon)",
       .value = count(&Config::watchdog_abort, 0, 1)},
      {.name = "test-hooks",
       .value_name = "0|1",
       .help = "1: enable admin commands that stall workers on purpose (tests only, never in "
               "production)",
       .value = count(&Config::test_hooks, 0, 1)},
      {.heading = "Tuning and logs",
       .name = "spin-us",
       .value_name = "N",
       .help = "microseconds a worker polls without work before it sleeps",
       .value = count(&Config::spin_us, 0, 1000000)},
      {.name = "metrics-listen",
       .value_name = "HOST:PORT",
       .help = "serve Prometheus metrics over HTTP at http://HOST:PORT/metrics (an IPv4 "
               "address or [IPv6]; loopback unless you mean otherwise: anyone who reaches "
               "the port reads them)",
       .example = "127.0.0.1:9477",
       .value = listen_address(&Config::metrics_listen)},
      {.name = "log-level",
       .value_name = "LEVEL",
       .help = "error, warn, info or debug",
       .value = log_level_value()},
      {.name = "ready-fd",
       .value_name = "FD",
       .help = "write \"ready\\n\" to this descriptor once serving, then close it (tests; "
               "under systemd, sd_notify tells READY=1 anyway)",
       .example = "3",
       .value = ready_fd()},
  };
  return table;
}

std::string config_file_text() {
  std::string out =
      "# ringdbd's configuration file: /etc/ringdb/ringdbd.conf (ringdbd --config FILE).\n"
      "# One `name = value` per line; names are the command-line options without their\n"
      "# dashes (`ringdbd --help` explains each). A `#` at the start of a line or after a\n"
      "# space starts a comment; \"double quotes\" keep a value whole, # included. Numbers\n"
      "# are decimal; sizes take K, M and G suffixes. Flags on the command line win over\n"
      "# this file. Every option is listed below, commented out, with its default: `auto`\n"
      "# where the daemon chooses at start (each says how), `none` or `off` where unset.\n"
      "# Printed by `ringdbd --print-config-file` from the daemon's own table of options.\n";
  for (const ConfigOption& o : config_options()) {
    if (o.heading != nullptr) {
      out.append("\n# --- ").append(o.heading).append(" ---\n");
    }
    std::string about = o.help;
    if (o.default_text != nullptr) {
      about.append(". ").append(o.value.print(Config{})).append(": ").append(o.default_text);
    }
    if (o.example != nullptr) about.append("; e.g. ").append(o.example);
    out.append("\n").append(wrap(about, kHelpWidth, "# ", "# "));
    out.append("# ").append(o.name).append(" = ").append(o.value.print(Config{})).append("\n");
  }
  return out;
}

std::string default_runtime_dir() {
  if (std::string dir = systemd_directory("RUNTIME_DIRECTORY"); !dir.empty()) return dir;
  if (geteuid() == 0) return "/run/ringdb";
  if (const char* xdg = getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/ringdb";
  }
  return "/tmp/ringdb-" + std::to_string(geteuid());
}

std::string default_data_dir() {
  if (std::string dir = systemd_directory("STATE_DIRECTORY"); !dir.empty()) return dir;
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
      c.config_file = argv[i + 1];
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
    if (arg == "--print-config-file") {
      fputs(config_file_text().c_str(), stdout);
      return -1;
    }
    if (arg == "--version") {
      printf("ringdbd %s (protocol %u)\n", RINGDB_VERSION, shm::kProtocolVersion);
      return -1;
    }
    if (arg.rfind("--", 0) != 0) {
      fprintf(stderr, "ringdbd: unexpected argument '%s' (see --help)\n", arg.c_str());
      return 2;
    }
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name != "config" && find(name) == nullptr) {
      fprintf(stderr, "ringdbd: unknown option --%s (see --help)\n", name.c_str());
      return 2;
    }
    if (eq == std::string::npos) {
      if (i + 1 >= argc) {
        fprintf(stderr, "ringdbd: %s needs a value (see --help)\n", arg.c_str());
        return 2;
      }
      value = argv[++i];
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
