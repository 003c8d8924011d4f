// ringdb-admin --json COMMAND against a test daemon: its answer (the result object), for the
// integration tests that look at the daemon from outside as an operator does.
#pragma once

#include <string>

#include "doctest/doctest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/daemon_process.h"
#include "tests/support/child_process.h"

namespace ringdb::test {

inline nlohmann::json admin_json(const DaemonProcess& daemon, const std::string& command) {
  ChildOptions options;
  options.pipe_stdin = false;
  ChildProcess p(
      {program_path("RINGDB_ADMIN"), "--json", "--socket", daemon.admin_socket(), command},
      options);
  std::string line;
  const bool got = p.read_line(&line);
  CHECK(exit_code(p.wait()) == 0);
  REQUIRE_MESSAGE(got, "ringdb-admin printed nothing; stderr: " << p.read_stderr());
  const auto j = nlohmann::json::parse(line, nullptr, false);
  REQUIRE_MESSAGE(j.is_object(), line);
  return j;
}

}  // namespace ringdb::test
