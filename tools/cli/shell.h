// Shell: runs ringdb-cli commands (one input line each) against a libringdb Client and
// returns each command's Reply; main.cc prints replies as text or JSON (output.h).
//
// Commands: ping, get K, put K V, del K, scan START END [LIMIT] [prefix P] [reverse],
// batch ENTRY..., begin, commit, abort, watch RANGE [FROM] [OPTIONS], help, quit (names are
// case-insensitive; the syntax of arguments is in quoting.h). After begin, get/put/del/scan
// run in the open transaction until commit or abort ends it.
//
// Errors found by the shell itself (unknown command, wrong argument count, bad quoting, a
// LIMIT outside 1 to the daemon's scan limit, begin with a transaction open, commit/abort
// with none) are Status::kInvalidArgument replies with a sentence; the shell goes on. A reply
// with Status::kDisconnected means the daemon is gone: every later command would fail the
// same way.
//
// Thread safety: one thread per object.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringdb/client.h"

namespace ringdb::cli {

struct Reply {
  enum class Kind : uint8_t { kPlain, kValue, kItems, kCommit, kHelp, kEvent, kWatched };
  Kind kind = Kind::kPlain;
  Status status = Status::kOk;
  std::string error;  // a sentence for every status but kOk and kNotFound
  std::string value;  // kValue: get's value; kHelp: the help text
  std::vector<KeyValue> items;
  bool truncated = false;  // kItems
  bool reverse = false;    // kItems: in descending key order
  // kCommit; kValue: the value's (autocommit get); CONDITION_FAILED: the failed condition's
  // key's
  uint64_t commit_sequence = 0;
  uint32_t failed_condition = 0;  // CONDITION_FAILED: which (0: the first)
  uint64_t log_position = 0;      // kCommit, sync: the log position after it (watch from it)
  bool quit = false;              // the quit command: stop reading input
  WatchEvent event;               // kEvent: one commit of the watch
  // kWatched (the watch command's end): where it started, the commits it printed, and the
  // position to watch from next (commit_sequence); COMPACTED: the oldest position kept.
  uint64_t watch_from = 0;
  uint64_t events = 0;
};

// What `help` prints: one line per command.
extern const char kCommandHelp[];

class Shell {
 public:
  // REQUIRES: client != nullptr.
  explicit Shell(std::unique_ptr<Client> client);
  ~Shell();  // aborts an open transaction
  Shell(const Shell&) = delete;
  Shell& operator=(const Shell&) = delete;

  // Where the watch command's events go as they come (each a kEvent reply); without it,
  // watch answers INVALID_ARGUMENT.
  void set_emit(std::function<void(const Reply&)> emit) { emit_ = std::move(emit); }

  // Runs one line. nullopt for a line with no arguments (blank): nothing to answer.
  std::optional<Reply> run_line(std::string_view line);

  bool in_transaction() const { return txn_ != nullptr; }
  // Aborts the open transaction, if any (end of input).
  void abort_transaction();

 private:
  Reply run(const std::vector<std::string>& args);
  Reply get(const std::string& key);
  Reply put(const std::string& key, const std::string& value);
  Reply del(const std::string& key);
  Reply scan(const std::vector<std::string>& args);
  Reply batch(const std::vector<std::string>& args);
  Reply begin();
  Reply commit(const std::string& level);
  Reply abort();
  Reply watch(const std::vector<std::string>& args);

  std::unique_ptr<Client> client_;
  std::unique_ptr<Transaction> txn_;  // the open transaction; destroyed before client_
  std::function<void(const Reply&)> emit_;
};

}  // namespace ringdb::cli
