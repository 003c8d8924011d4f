// The daemon's log (daemon/base/log.h): whether standard error is the journal, as systemd
// tells a service through JOURNAL_STREAM.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "daemon/base/log.h"

namespace ringdb::daemon {
namespace {

// Sets JOURNAL_STREAM for a scope, then restores what was there.
class JournalStream {
 public:
  explicit JournalStream(const std::string& value) {
    if (const char* old = getenv("JOURNAL_STREAM"); old != nullptr) saved_ = old;
    had_ = getenv("JOURNAL_STREAM") != nullptr;
    setenv("JOURNAL_STREAM", value.c_str(), 1);
  }
  ~JournalStream() {
    if (had_) {
      setenv("JOURNAL_STREAM", saved_.c_str(), 1);
    } else {
      unsetenv("JOURNAL_STREAM");
    }
  }

 private:
  std::string saved_;
  bool had_ = false;
};

TEST_CASE("stderr is the journal only when JOURNAL_STREAM names its device and inode") {
  struct stat st;
  REQUIRE(fstat(STDERR_FILENO, &st) == 0);
  const std::string dev = std::to_string(st.st_dev);
  const std::string ino = std::to_string(st.st_ino);
  {
    const JournalStream same(dev + ":" + ino);
    CHECK(stderr_is_journal());
  }
  {
    const JournalStream other(dev + ":" + std::to_string(st.st_ino + 1));  // another stream
    CHECK_FALSE(stderr_is_journal());
  }
  {
    const JournalStream garbage("not-a-stream");
    CHECK_FALSE(stderr_is_journal());
  }
  unsetenv("JOURNAL_STREAM");
  CHECK_FALSE(stderr_is_journal());
}

}  // namespace
}  // namespace ringdb::daemon
