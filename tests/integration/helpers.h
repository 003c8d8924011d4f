// Helpers shared by the integration tests: a libringdb client of a test daemon, it_client
// processes, the random seed.
#pragma once

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ringdb/client.h"
#include "tests/integration/daemon_process.h"
#include "tests/support/child_process.h"

namespace ringdb::test {

// prefix + decimal n (not `"k" + std::to_string(n)`: GCC 12's false -Wrestrict, bug 105329).
template <typename N>
std::string numbered(std::string_view prefix, N n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

inline std::unique_ptr<ringdb::Client> connect(const DaemonProcess& daemon,
                                               ringdb::Status* status = nullptr,
                                               std::string* error = nullptr) {
  std::unique_ptr<ringdb::Client> client;
  ringdb::ConnectOptions options;
  options.socket_path = daemon.socket();
  const ringdb::Status s = ringdb::Client::connect(options, &client, error);
  if (status != nullptr) *status = s;
  return client;
}

inline std::unique_ptr<ChildProcess> it_client(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {program_path("RINGDB_IT_CLIENT")};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildOptions options;
  options.pipe_stderr = false;  // its complaints go to the test's log; nobody reads a pipe
  return std::make_unique<ChildProcess>(argv, options);
}

}  // namespace ringdb::test
