// ringdbd's configuration (daemon/service/config.h) and placement (daemon/service/placement.h):
// defaults, flags, the config file and its precedence, value checking, core lists, the table
// of options and what is derived from it (printed values, the commented config file), the
// ring -> worker map.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/service/config.h"
#include "daemon/service/placement.h"
#include "doctest/doctest.h"

namespace {

using ringdb::daemon::Config;
using ringdb::daemon::config_file_text;
using ringdb::daemon::config_options;
using ringdb::daemon::ConfigOption;
using ringdb::daemon::parse_config;

int parse(std::vector<std::string> args, Config* config) {
  std::string program = "ringdbd";
  std::vector<char*> argv = {program.data()};
  for (auto& a : args)
    argv.push_back(a.data());
  return parse_config(static_cast<int>(argv.size()), argv.data(), config);
}

// A temporary file holding `text`, removed at the end of the scope.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    const int fd = mkstemp(path_);
    REQUIRE(fd >= 0);
    close(fd);
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::remove(path_); }
  std::string path() const { return path_; }

 private:
  char path_[32] = "/tmp/ringdb-config-XXXXXX";
};

// The `# name = value` lines of the config file, by name (every occurrence).
std::multimap<std::string, std::string> file_settings(const std::string& text) {
  std::multimap<std::string, std::string> settings;
  std::stringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find(" = ");
    if (line.rfind("# ", 0) == 0 && eq != std::string::npos && line.find(' ', 2) == eq)
      settings.emplace(line.substr(2, eq - 2), line.substr(eq + 3));
  }
  return settings;
}

}  // namespace

TEST_CASE("defaults need no configuration") {
  Config c;
  REQUIRE(parse({}, &c) == 0);
  CHECK(!c.socket_path.empty());
  CHECK(!c.data_dir.empty());
  CHECK(!c.admin_socket_path.empty());
  CHECK(c.sessions_max == 256);
  CHECK(c.value_size_max == 1u << 20);
  // Own user (and root) allowed.
  CHECK(std::find(c.allow_users.begin(), c.allow_users.end(), geteuid()) != c.allow_users.end());
}

TEST_CASE("flags, in both spellings, with size suffixes") {
  Config c;
  REQUIRE(parse({"--sessions-max", "12", "--request-area=4M", "--cores", "0-2,5"}, &c) == 0);
  CHECK(c.sessions_max == 12);
  CHECK(c.request_area_bytes == 4u << 20);
  CHECK(c.cores == std::vector<int>{0, 1, 2, 5});
}

TEST_CASE("bad values and unknown options are usage errors") {
  Config c;
  CHECK(parse({"--sessions-max", "0"}, &c) == 2);
  CHECK(parse({"--sessions-max", "12x"}, &c) == 2);
  CHECK(parse({"--no-such-option", "1"}, &c) == 2);
  CHECK(parse({"--cores", "3-1"}, &c) == 2);
  CHECK(parse({"--cores", "1,1"}, &c) == 2);
  CHECK(parse({"--log-level", "loud"}, &c) == 2);
  CHECK(parse({"--allow-users", "no-such-user-here"}, &c) == 2);
  CHECK(parse({"--socket-mode", "999"}, &c) == 2);
  CHECK(parse({"--sessions-max"}, &c) == 2);
  CHECK(parse({"--bogus"}, &c) == 2);  // unknown, not "needs a value"
  CHECK(parse({"stray"}, &c) == 2);
}

TEST_CASE("--help and --version exit 0 without starting") {
  Config c;
  CHECK(parse({"--help"}, &c) == -1);
  CHECK(parse({"--version"}, &c) == -1);
}

TEST_CASE("the config file, overridden by flags") {
  char path[] = "/tmp/ringdb-config-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream out(path);
    out << "# a comment\n\nsessions-max = 7   # trailing comment\ninflight-max=64\n"
           "socket = /tmp/x.sock\n";
  }
  Config c;
  REQUIRE(parse({"--config", path, "--sessions-max", "9"}, &c) == 0);
  CHECK(c.sessions_max == 9);  // the flag wins
  CHECK(c.inflight_max == 64);
  CHECK(c.socket_path == "/tmp/x.sock");
  {
    std::ofstream out(path);
    out << "sessions-max 7\n";
  }
  CHECK(parse({"--config", path}, &c) == 2);
  {
    std::ofstream out(path);
    out << "bogus = 1\n";
  }
  CHECK(parse({"--config", path}, &c) == 2);
  std::remove(path);
  CHECK(parse({"--config", "/nonexistent/ringdb.conf"}, &c) == 2);
}

TEST_CASE("the table: every option has a unique name, help, a parser and a printer") {
  std::set<std::string> names;
  for (const ConfigOption& o : config_options()) {
    REQUIRE(o.name != nullptr);
    INFO(std::string(o.name));
    CHECK(names.insert(o.name).second);
    CHECK(o.value_name != nullptr);
    CHECK(o.help != nullptr);
    REQUIRE(o.value.parse);
    REQUIRE(o.value.print);
    // Every default prints as a value the file can hold; `auto` says in words what it is.
    const std::string by_default = o.value.print(Config{});
    CHECK(!by_default.empty());
    CHECK((by_default == "auto") == (o.default_text != nullptr));
  }
  CHECK(config_options().front().heading != nullptr);  // the file's first group has a heading
}

TEST_CASE("values are printed as an operator writes them, and parse back to the same") {
  Config c;
  REQUIRE(parse({"--socket-mode", "0640", "--cores", "0-2,5,7-8", "--request-area", "3M",
                 "--context-size", "576", "--memory-limit", "2048M", "--allow-groups", "5,7",
                 "--admin-groups", "9", "--log-level", "warn", "--ready-fd", "4"},
                &c) == 0);
  auto printed = [&](const std::string& name) {
    for (const ConfigOption& o : config_options())
      if (name == o.name) return o.value.print(c);
    FAIL("no option " << name);
    return std::string();
  };
  CHECK(printed("socket-mode") == "0640");
  CHECK(printed("cores") == "0-2,5,7-8");
  CHECK(printed("request-area") == "3M");
  CHECK(printed("context-size") == "576");
  CHECK(printed("memory-limit") == "2G");
  CHECK(printed("allow-groups") == "5,7");
  CHECK(printed("log-level") == "warn");
  CHECK(printed("ready-fd") == "4");
  CHECK(printed("sessions-max") == "256");
  CHECK(printed("response-area") == "4224K");  // 4M+128K
  CHECK(printed("checkpoint-wal-bytes") == "256M");
  for (const ConfigOption& o : config_options()) {
    INFO(std::string(o.name));
    const std::string text = o.value.print(c);
    REQUIRE(!text.empty());
    Config back;
    REQUIRE(o.value.parse(&back, text));
    CHECK(o.value.print(back) == text);
  }
}

TEST_CASE("the config file lists every option once, commented out") {
  const std::multimap<std::string, std::string> settings = file_settings(config_file_text());
  CHECK(settings.size() == config_options().size());
  for (const ConfigOption& o : config_options()) {
    INFO(std::string(o.name));
    CHECK(settings.count(o.name) == 1);
  }
  // Nothing but comments and blank lines: as installed, the file changes nothing.
  std::stringstream in(config_file_text());
  std::string line;
  while (std::getline(in, line))
    CHECK_MESSAGE((line.empty() || line[0] == '#'), line);
  Config c;
  const TempFile file(config_file_text());
  REQUIRE(parse({"--config", file.path()}, &c) == 0);
}

TEST_CASE("the config file's defaults, uncommented, are the defaults") {
  // Every line, as an operator uncomments it: `# name = value` -> `name = value`.
  const std::multimap<std::string, std::string> settings = file_settings(config_file_text());
  std::string uncommented;
  for (const auto& [name, value] : settings)
    uncommented += name + " = " + value + "\n";
  const TempFile file(uncommented);
  Config c, defaults;
  REQUIRE(parse({"--config", file.path()}, &c) == 0);
  REQUIRE(parse({}, &defaults) == 0);
  for (const ConfigOption& o : config_options()) {
    INFO(std::string(o.name));
    CHECK(o.value.print(c) == o.value.print(defaults));
  }
}

TEST_CASE("numbers are decimal and checked whole") {
  Config c;
  REQUIRE(parse({"--sessions-max", "010"}, &c) == 0);
  CHECK(c.sessions_max == 10);  // not octal 8
  REQUIRE(parse({"--sessions-max", "08"}, &c) == 0);
  CHECK(c.sessions_max == 8);
  CHECK(parse({"--sessions-max", "0x10"}, &c) == 2);
  CHECK(parse({"--sessions-max", "-1"}, &c) == 2);
  CHECK(parse({"--sessions-max", "+5"}, &c) == 2);
  CHECK(parse({"--sessions-max", " 5"}, &c) == 2);
  CHECK(parse({"--watch-retain", "99999999999999999999G"}, &c) == 2);  // overflow
  CHECK(parse({"--watch-retain", "17179869184G"}, &c) == 2);           // 2^64 after the shift
}

TEST_CASE("keywords for defaults chosen at start: auto, none, off") {
  Config c;
  REQUIRE(parse({"--cores", "1-2", "--cores", "auto", "--allow-groups", "5", "--allow-groups",
                 "none", "--ready-fd", "none", "--metrics-listen", "off", "--data-dir", "auto"},
                &c) == 0);
  CHECK(c.cores.empty());
  CHECK(c.allow_groups.empty());
  CHECK(c.ready_fd == -1);
  CHECK(c.metrics_listen.empty());
  CHECK(!c.data_dir.empty());  // chosen: the default directory
  CHECK(parse({"--allow-users", ""}, &c) == 2);
  CHECK(parse({"--allow-groups", ""}, &c) == 2);
}

TEST_CASE("--metrics-listen takes a numeric HOST:PORT") {
  Config c;
  REQUIRE(parse({"--metrics-listen", "127.0.0.1:9477"}, &c) == 0);
  CHECK(c.metrics_listen == "127.0.0.1:9477");
  REQUIRE(parse({"--metrics-listen", "[::1]:80"}, &c) == 0);
  for (const char* bad : {"localhost:9477", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:http", ":9477", "::1:80", "[::1]", "1.2.3:4"}) {
    INFO(bad);
    CHECK(parse({"--metrics-listen", bad}, &c) == 2);
  }
}

TEST_CASE("the config file: comments, quotes and #") {
  Config c;
  {
    const TempFile file(
        "  # indented comment\n"
        "data-dir = /tmp/dir#1   # a # inside a word stays; after a space it starts a comment\n"
        "socket = \"/tmp/with space #2.sock\"  # quoted: kept whole\n"
        "admin-socket = \"/tmp/q\\\"uote\\\\.sock\"\n");
    REQUIRE(parse({"--config", file.path()}, &c) == 0);
    CHECK(c.data_dir == "/tmp/dir#1");
    CHECK(c.socket_path == "/tmp/with space #2.sock");
    CHECK(c.admin_socket_path == "/tmp/q\"uote\\.sock");
  }
  for (const char* bad : {"socket = \"/tmp/unterminated\n", "socket = \"/tmp/a\" trailing\n",
                          "sessions-max = # nothing\n", "= 5\n"}) {
    INFO(bad);
    const TempFile file(bad);
    CHECK(parse({"--config", file.path()}, &c) == 2);
  }
}

TEST_CASE("the config file does not depend on who generates it") {
  const std::string before = config_file_text();
  const char* xdg = getenv("XDG_DATA_HOME");
  const std::string saved = xdg != nullptr ? xdg : "";
  REQUIRE(setenv("XDG_DATA_HOME", "/somewhere/else", 1) == 0);
  const std::string after = config_file_text();
  if (xdg != nullptr)
    setenv("XDG_DATA_HOME", saved.c_str(), 1);
  else
    unsetenv("XDG_DATA_HOME");
  CHECK(after == before);
}

TEST_CASE("--print-config-file exits 0 without starting") {
  Config c;
  CHECK(parse({"--print-config-file"}, &c) == -1);
}

TEST_CASE("placement: requested cores, ring map, housekeeping CPUs") {
  ringdb::daemon::Placement p;
  std::string error;
  const int cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  REQUIRE(ringdb::daemon::plan_placement({0}, cpus, &p, &error));
  CHECK(p.worker_cores == std::vector<int>{0});
  CHECK(p.ring_worker.size() == static_cast<size_t>(cpus));
  for (int w : p.ring_worker)
    CHECK(w == 0);
  if (cpus > 1)
    CHECK(std::find(p.housekeeping_cpus.begin(), p.housekeeping_cpus.end(), 0) ==
          p.housekeeping_cpus.end());
  // Defaults: at least one worker, every ring served by one of them.
  REQUIRE(ringdb::daemon::plan_placement({}, cpus, &p, &error));
  CHECK(!p.worker_cores.empty());
  for (int w : p.ring_worker)
    CHECK(w < static_cast<int>(p.worker_cores.size()));
  // A core the process may not use is refused.
  CHECK(!ringdb::daemon::plan_placement({4000}, cpus, &p, &error));
  CHECK(error.find("4000") != std::string::npos);
}

TEST_CASE("under systemd, auto paths are the unit's StateDirectory and RuntimeDirectory") {
  REQUIRE(setenv("STATE_DIRECTORY", "/var/lib/ringdb:/var/lib/other", 1) == 0);
  REQUIRE(setenv("RUNTIME_DIRECTORY", "/run/ringdb", 1) == 0);
  Config c;
  const int rc = parse({}, &c);
  unsetenv("STATE_DIRECTORY");
  unsetenv("RUNTIME_DIRECTORY");
  REQUIRE(rc == 0);
  CHECK(c.data_dir == "/var/lib/ringdb");  // the first of the list
  CHECK(c.socket_path == "/run/ringdb/ringdb.sock");
  CHECK(c.admin_socket_path == "/run/ringdb/admin.sock");
  // A relative value is not systemd's: ignored.
  REQUIRE(setenv("STATE_DIRECTORY", "relative", 1) == 0);
  REQUIRE(parse({}, &c) == 0);
  unsetenv("STATE_DIRECTORY");
  CHECK(c.data_dir != "relative");
}
