// ringdb-admin --json COMMAND against a test daemon: its answer (the result object), for the
// integration tests that look at the daemon from outside as an operator does.
#pragma once

#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/daemon_process.h"
#include "tests/support/child_process.h"

namespace ringdb::test {

// ringdb-admin --json ARGS: its one line of answer, parsed; its exit code in *code.
inline nlohmann::json admin_answer(const std::vector<std::string>& args, int* code) {
  std::vector<std::string> argv = {program_path("RINGDB_ADMIN"), "--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildOptions options;
  options.pipe_stdin = false;
  ChildProcess p(argv, options);
  std::string line;
  const bool got = p.read_line(&line);
  *code = exit_code(p.wait());
  REQUIRE_MESSAGE(got, "ringdb-admin printed nothing; stderr: " << p.read_stderr());
  const auto j = nlohmann::json::parse(line, nullptr, false);
  REQUIRE_MESSAGE(j.is_object(), line);
  return j;
}

// The same against a test daemon's admin socket, for a command that must succeed.
inline nlohmann::json admin_json(const DaemonProcess& daemon, const std::string& command) {
  int code = -1;
  nlohmann::json j = admin_answer({"--socket", daemon.admin_socket(), command}, &code);
  CHECK(code == 0);
  return j;
}

}  // namespace ringdb::test
