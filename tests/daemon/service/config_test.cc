// ringdbd's configuration (daemon/service/config.h) and placement (daemon/service/placement.h):
// defaults, flags, the config file and its precedence, value checking, core lists, the ring ->
// worker map.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/service/config.h"
#include "daemon/service/placement.h"
#include "doctest/doctest.h"

namespace {

using ringdb::daemon::Config;
using ringdb::daemon::parse_config;

int parse(std::vector<std::string> args, Config* config) {
  std::string program = "ringdbd";
  std::vector<char*> argv = {program.data()};
  for (auto& a : args)
    argv.push_back(a.data());
  return parse_config(static_cast<int>(argv.size()), argv.data(), config);
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
