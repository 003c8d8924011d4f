// ringdb-cli's line-editor rules without a terminal (tools/cli/editing.h): the words Tab
// offers, which lines history keeps, and where the history file is.
#include "tools/cli/editing.h"

#include <stdlib.h>

#include <string>
#include <vector>

#include "doctest/doctest.h"

namespace {

using ringdb::cli::common_prefix;
using ringdb::cli::completions;
using ringdb::cli::history_keeps;
using ringdb::cli::history_path;
using Words = std::vector<std::string>;

// Sets (or, with nullptr, unsets) an environment variable for one scope.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name); old != nullptr) old_ = old, had_ = true;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~EnvVar() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

}  // namespace

TEST_CASE("the first word completes to command names, ignoring case") {
  CHECK(completions("") == Words{"ping", "get", "put", "del", "scan", "batch", "begin", "commit",
                                 "abort", "watch", "help", "quit"});
  CHECK(completions("p") == Words{"ping", "put"});
  CHECK(completions("  SC") == Words{"scan"});
  CHECK(completions("b") == Words{"batch", "begin"});
  CHECK(completions("x").empty());
}

TEST_CASE("scan's options after START and END, each once; none for keys or P") {
  CHECK(completions("scan ").empty());    // START
  CHECK(completions("scan a ").empty());  // END
  CHECK(completions("scan a b ") == Words{"prefix", "reverse"});
  CHECK(completions("scan \"\" \"\" 10 r") == Words{"reverse"});
  CHECK(completions("scan a b reverse ") == Words{"prefix"});
  CHECK(completions("scan a b prefix ").empty());  // P is a key's beginning
  CHECK(completions("scan a b prefix p ") == Words{"reverse"});
}

TEST_CASE("commit's levels, watch's words, batch's entries where an entry begins") {
  CHECK(completions("commit ") == Words{"sync", "async", "none"});
  CHECK(completions("commit a") == Words{"async"});
  CHECK(completions("commit sync ").empty());
  CHECK(completions("watch ").empty());  // the prefix
  CHECK(completions("watch p/ ") == Words{"now", "max", "idle-ms", "keys-only"});
  CHECK(completions("batch if-") == Words{"if-absent", "if-present", "if-equals", "if-unchanged"});
  CHECK(completions("batch put ").empty());    // its key
  CHECK(completions("batch put k ").empty());  // its value
  CHECK(completions("batch put k v d") == Words{"del", "durability"});
  CHECK(completions("batch put k v durability ") == Words{"sync", "async", "none"});
  CHECK(completions("batch bogus k ").empty());
  CHECK(completions("get ").empty());
  CHECK(completions("frobnicate ").empty());
}

TEST_CASE("nothing to complete inside quotes or after a malformed part") {
  CHECK(completions("scan \"a b").empty());
  CHECK(completions("scan \"a ").empty());  // the quote is still open
  CHECK(completions("scan 'a ").empty());
  CHECK(completions("scan a\\").empty());
}

TEST_CASE("common_prefix") {
  CHECK(common_prefix({}).empty());
  CHECK(common_prefix({"if-absent", "if-present"}) == "if-");
  CHECK(common_prefix({"scan"}) == "scan");
  CHECK(common_prefix({"ping", "put"}) == "p");
}

TEST_CASE("history keeps every line but blank ones, those that begin with a space, long ones") {
  CHECK(history_keeps("put k v"));
  CHECK(history_keeps("bogus"));  // a mistake is worth recalling to fix
  CHECK(!history_keeps(""));
  CHECK(!history_keeps(" \t"));
  CHECK(!history_keeps(" put secret s3cret"));
  CHECK(history_keeps("put k " + std::string(ringdb::cli::kHistoryLineBytesMax - 6, 'v')));
  CHECK(!history_keeps("put k " + std::string(ringdb::cli::kHistoryLineBytesMax - 5, 'v')));
}

TEST_CASE("the history file: $RINGDB_CLI_HISTORY, else XDG_STATE_HOME, else HOME") {
  EnvVar home("HOME", "/home/u");
  {
    EnvVar state("XDG_STATE_HOME", nullptr);
    EnvVar mine("RINGDB_CLI_HISTORY", nullptr);
    CHECK(history_path() == "/home/u/.local/state/ringdb/cli_history");
  }
  {
    EnvVar state("XDG_STATE_HOME", "/s");
    EnvVar mine("RINGDB_CLI_HISTORY", nullptr);
    CHECK(history_path() == "/s/ringdb/cli_history");
    EnvVar relative("XDG_STATE_HOME", "rel");  // relative: ignored, as the XDG spec says
    CHECK(history_path() == "/home/u/.local/state/ringdb/cli_history");
  }
  {
    EnvVar mine("RINGDB_CLI_HISTORY", "/tmp/h");
    CHECK(history_path() == "/tmp/h");
  }
  {
    EnvVar none("RINGDB_CLI_HISTORY", "");
    CHECK(history_path().empty());
  }
}
