// default_socket_path() (ringdb/client.h): $RINGDB_SOCKET wins; else root's path, else
// $XDG_RUNTIME_DIR's, else /tmp/ringdb-UID's, the same rule as ringdbd's. The non-root rules
// are checked in a child that drops to an unprivileged uid when the test runs as root.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "ringdb/client.h"

namespace {

// Sets (or unsets) an environment variable for one scope, then restores it.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~EnvVar() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

constexpr uid_t kNobody = 65534;

// Runs check() -> bool as a non-root user: here if we are one, else in a child that drops to
// uid 65534 first. Returns check's verdict.
template <typename Check>
bool as_non_root(Check check) {
  if (geteuid() != 0) return check();
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (setresgid(kNobody, kNobody, kNobody) != 0 || setresuid(kNobody, kNobody, kNobody) != 0) {
      _exit(2);
    }
    _exit(check() ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status) == 0;
}

}  // namespace

TEST_CASE("RINGDB_SOCKET overrides every default") {
  EnvVar socket("RINGDB_SOCKET", "/somewhere/else.sock");
  EnvVar xdg("XDG_RUNTIME_DIR", "/run/user/1000");
  CHECK(ringdb::default_socket_path() == "/somewhere/else.sock");
}

TEST_CASE("an empty RINGDB_SOCKET counts as unset") {
  EnvVar socket("RINGDB_SOCKET", "");
  CHECK(!ringdb::default_socket_path().empty());
}

TEST_CASE("root's default is /run/ringdb/ringdb.sock") {
  if (geteuid() != 0) return;  // only root can see root's default
  EnvVar socket("RINGDB_SOCKET", nullptr);
  EnvVar xdg("XDG_RUNTIME_DIR", "/run/user/1000");
  CHECK(ringdb::default_socket_path() == "/run/ringdb/ringdb.sock");
}

TEST_CASE("another user's default is under XDG_RUNTIME_DIR") {
  EnvVar socket("RINGDB_SOCKET", nullptr);
  EnvVar xdg("XDG_RUNTIME_DIR", "/run/user/4242");
  CHECK(as_non_root(
      [] { return ringdb::default_socket_path() == "/run/user/4242/ringdb/ringdb.sock"; }));
}

TEST_CASE("another user without (or with a relative) XDG_RUNTIME_DIR uses /tmp/ringdb-UID") {
  EnvVar socket("RINGDB_SOCKET", nullptr);
  SUBCASE("unset") {
    EnvVar xdg("XDG_RUNTIME_DIR", nullptr);
    CHECK(as_non_root([] {
      return ringdb::default_socket_path() ==
             "/tmp/ringdb-" + std::to_string(geteuid()) + "/ringdb.sock";
    }));
  }
  SUBCASE("relative") {
    EnvVar xdg("XDG_RUNTIME_DIR", "relative/dir");
    CHECK(as_non_root([] {
      return ringdb::default_socket_path() ==
             "/tmp/ringdb-" + std::to_string(geteuid()) + "/ringdb.sock";
    }));
  }
}

TEST_CASE("Client::connect with no socket path uses the default (RINGDB_SOCKET)") {
  EnvVar socket("RINGDB_SOCKET", "/nonexistent-ringdb-dir/ringdb.sock");
  std::unique_ptr<ringdb::Client> client;
  std::string error;
  CHECK(ringdb::Client::connect({}, &client, &error) == ringdb::Status::kConnectFailed);
  CHECK(error.find("/nonexistent-ringdb-dir/ringdb.sock") != std::string::npos);
}
