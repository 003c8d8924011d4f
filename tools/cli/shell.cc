// Shell: ringdb-cli's commands over a libringdb Client (see shell.h).
#include "tools/cli/shell.h"

#include <cassert>
#include <charconv>
#include <utility>

#include "shm/request.h"
#include "tools/cli/commands.h"
#include "tools/cli/quoting.h"

namespace ringdb::cli {

namespace {

// The daemon's limit of items per scan request. Not announced to clients (a protocol
// constant, docs/PROTOCOL.md section 6): the daemon checks every scan against this default.
constexpr uint32_t kScanLimitMax = shm::RequestLimits{}.scan_limit_max;
static_assert(kScanLimitMax == 100000, "kCommandHelp names the scan limit: change it there too");

}  // namespace

const char kCommandHelp[] =
    "ping                      check that the daemon answers\n"
    "get KEY                   the value of KEY\n"
    "put KEY VALUE             set KEY to VALUE\n"
    "del KEY                   delete KEY\n"
    "scan START END [LIMIT] [prefix P] [reverse]\n"
    "                          keys in [START, END) (\"\" as START or END: unbounded)\n"
    "                          that begin with P, in key order or reversed, at most\n"
    "                          LIMIT (1 to 100000, the daemon's limit; 100 if none)\n"
    "batch ENTRY...            a conditional batch, applied at once if every\n"
    "                          condition holds; entries: if-absent KEY,\n"
    "                          if-present KEY, if-equals KEY VALUE,\n"
    "                          if-unchanged KEY SEQUENCE, put KEY VALUE, del KEY,\n"
    "                          durability sync|async|none\n"
    "begin                     open a transaction: get/put/del/scan run in it\n"
    "commit [sync|async|none]  commit the open transaction; answered once it is on\n"
    "                          disk (sync, the default), queued for the log (async)\n"
    "                          or not logged at all (none)\n"
    "abort                     discard the open transaction\n"
    "watch PREFIX [FROM]       print each commit that changes a key with PREFIX, as\n"
    "watch START END [FROM]    it comes (or in [START, END)), from FROM: now (the\n"
    "                          default), 0 (the oldest the log holds) or a sequence\n"
    "                          printed before (every commit after that one); then\n"
    "                          optionally: max N (stop after N commits), idle-ms N\n"
    "                          (stop after N ms without one), keys-only. Two\n"
    "                          arguments are PREFIX FROM if the second is a number\n"
    "                          or now\n"
    "help                      this text\n"
    "quit                      leave (an open transaction is aborted)\n"
    "Arguments are separated by spaces; \"double quotes\" take spaces and the escapes\n"
    "\\\" \\\\ \\n \\t \\r \\0 \\xHH; 'single quotes' take every byte as it is but '.\n"
    "Control bytes (below 0x20, 0x7f) must be quoted, as \\xHH.\n";

namespace {

Reply status_reply(Status status) {
  Reply r;
  r.status = status;
  if (status != Status::kOk && status != Status::kNotFound)
    r.error = ringdb::status_message(status);
  // Which part was too large, and the limit (the library has it from the daemon's answer).
  if (const std::string detail = ringdb::last_error_detail();
      status == Status::kTooLarge && !detail.empty()) {
    r.error = detail;
  }
  return r;
}

Reply invalid(std::string error) {
  Reply r;
  r.status = Status::kInvalidArgument;
  r.error = std::move(error);
  return r;
}

}  // namespace

Shell::Shell(std::unique_ptr<Client> client) : client_(std::move(client)) {
  assert(client_ != nullptr);
}

Shell::~Shell() {
  abort_transaction();
}

void Shell::abort_transaction() {
  if (txn_ == nullptr) return;
  txn_->abort();
  txn_.reset();
}

std::optional<Reply> Shell::run_line(std::string_view line) {
  SplitResult split = split_line(line);
  if (!split.ok) return invalid(split.error);
  if (split.args.empty()) return std::nullopt;
  return run(split.args);
}

Reply Shell::run(const std::vector<std::string>& args) {
  const CommandSpec* spec = nullptr;
  for (const CommandSpec& c : kCommands) {
    if (equals_ignoring_case(args[0], c.name)) spec = &c;
  }
  if (spec == nullptr) return invalid("unknown command " + quote(args[0]) + " (try help)");
  const size_t n = args.size() - 1;
  if (n < spec->args_min || n > spec->args_max) {
    return invalid(std::string("wrong number of arguments: usage: ") + spec->usage);
  }
  const std::string_view name = spec->name;
  if (name == "ping") return status_reply(client_->ping());
  if (name == "get") return get(args[1]);
  if (name == "put") return put(args[1], args[2]);
  if (name == "del") return del(args[1]);
  if (name == "scan") return scan(args);
  if (name == "batch") return batch(args);
  if (name == "begin") return begin();
  if (name == "commit") return commit(n == 1 ? args[1] : std::string("sync"));
  if (name == "abort") return abort();
  if (name == "watch") return watch(args);
  if (name == "help") {
    Reply r;
    r.kind = Reply::Kind::kHelp;
    r.value = kCommandHelp;
    return r;
  }
  assert(name == "quit");
  Reply r;
  r.quit = true;
  return r;
}

Reply Shell::get(const std::string& key) {
  std::string value;
  uint64_t sequence = 0;
  const Status s = txn_ != nullptr ? txn_->get(key, &value) : client_->get(key, &value, &sequence);
  Reply r = status_reply(s);
  if (s == Status::kOk) {
    r.kind = Reply::Kind::kValue;
    r.value = std::move(value);
    r.commit_sequence = sequence;
  }
  return r;
}

namespace {

// A whole decimal number, all of `text`.
template <typename T>
bool parse_number(const std::string& text, T* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parse_durability(std::string_view level, ringdb::Durability* out) {
  if (equals_ignoring_case(level, "sync")) {
    *out = ringdb::Durability::kSync;
  } else if (equals_ignoring_case(level, "async")) {
    *out = ringdb::Durability::kAsync;
  } else if (equals_ignoring_case(level, "none")) {
    *out = ringdb::Durability::kNone;
  } else {
    return false;
  }
  return true;
}

}  // namespace

Reply Shell::batch(const std::vector<std::string>& args) {
  if (txn_ != nullptr) return invalid("a batch is its own transaction: commit or abort first");
  Batch b;
  ringdb::Durability durability = ringdb::Durability::kSync;
  std::vector<std::string> conditions;  // each condition as typed, for the error sentence
  for (size_t i = 1; i < args.size();) {
    const BatchEntrySpec* spec = nullptr;
    for (const BatchEntrySpec& e : kBatchEntries) {
      if (equals_ignoring_case(args[i], e.name)) spec = &e;
    }
    if (spec == nullptr) {
      return invalid("unknown batch entry " + quote(args[i]) +
                     " (if-absent, if-present, if-equals, if-unchanged, put, del, durability)");
    }
    if (args.size() - i - 1 < spec->args) {
      return invalid(std::string("batch entry ") + spec->name + " takes " +
                     std::to_string(spec->args) + " argument" + (spec->args == 1 ? "" : "s"));
    }
    const std::string_view name = spec->name;
    const std::string& key = args[i + 1];
    if (name == "if-absent") b.if_absent(key);
    if (name == "if-present") b.if_present(key);
    if (name == "if-equals") b.if_equals(key, args[i + 2]);
    if (name == "put") b.put(key, args[i + 2]);
    if (name == "del") b.del(key);
    if (name == "if-unchanged") {
      const std::string& text = args[i + 2];
      uint64_t csn = 0;
      if (!parse_number(text, &csn)) {
        return invalid("if-unchanged takes a commit sequence number, not " + quote(text));
      }
      b.if_unchanged_since(key, csn);
    }
    if (name == "durability" && !parse_durability(key, &durability)) {
      return invalid("unknown durability " + quote(key) + " (sync, async or none)");
    }
    if (name.starts_with("if-")) conditions.push_back(std::string(name) + " " + quote(key));
    i += 1 + spec->args;
  }
  BatchResult result;
  const Status s = client_->apply(b, &result, durability);
  Reply r = status_reply(s);
  if (s == Status::kOk) {
    r.kind = Reply::Kind::kCommit;
    r.commit_sequence = result.commit_sequence;
    r.log_position = result.log_position;
  } else if (s == Status::kConditionFailed) {
    r.failed_condition = result.failed_condition;
    r.commit_sequence = result.failed_key_sequence;
    if (result.failed_condition < conditions.size()) {
      r.error = "condition " + std::to_string(result.failed_condition + 1) + " (" +
                conditions[result.failed_condition] + ") did not hold; nothing was written";
    }
  }
  return r;
}

Reply Shell::put(const std::string& key, const std::string& value) {
  return status_reply(txn_ != nullptr ? txn_->put(key, value) : client_->put(key, value));
}

Reply Shell::del(const std::string& key) {
  return status_reply(txn_ != nullptr ? txn_->del(key) : client_->del(key));
}

Reply Shell::scan(const std::vector<std::string>& args) {
  ScanOptions options;
  options.start = args[1];
  options.end = args[2];
  size_t i = 3;
  if (i < args.size() && !args[i].empty() && args[i][0] >= '0' && args[i][0] <= '9') {
    const std::string& text = args[i++];
    uint32_t limit = 0;
    if (!parse_number(text, &limit) || limit == 0 || limit > kScanLimitMax) {
      return invalid("LIMIT must be a whole number from 1 to " + std::to_string(kScanLimitMax) +
                     " (the daemon's limit of items per scan), not " + quote(text));
    }
    options.limit = limit;
  }
  bool prefix = false;
  while (i < args.size()) {
    const std::string& option = args[i++];
    if (equals_ignoring_case(option, "reverse") && !options.reverse) {
      options.reverse = true;
    } else if (equals_ignoring_case(option, "prefix") && !prefix && i < args.size()) {
      options.prefix = args[i++];
      prefix = true;
    } else {
      return invalid("unexpected " + quote(option) +
                     ": usage: scan START END [LIMIT] [prefix P] [reverse], each option once");
    }
  }
  std::vector<KeyValue> items;
  bool truncated = false;
  const Status s = txn_ != nullptr ? txn_->scan(options, &items, &truncated)
                                   : client_->scan(options, &items, &truncated);
  Reply r = status_reply(s);
  if (s == Status::kOk) {
    r.kind = Reply::Kind::kItems;
    r.items = std::move(items);
    r.truncated = truncated;
    r.reverse = options.reverse;
  }
  return r;
}

Reply Shell::begin() {
  if (txn_ != nullptr) return invalid("a transaction is already open (commit or abort it first)");
  const Status s = client_->begin(&txn_);
  if (s != Status::kOk) txn_.reset();
  return status_reply(s);
}

Reply Shell::commit(const std::string& level) {
  ringdb::Durability durability;
  if (!parse_durability(level, &durability)) {
    return invalid("unknown durability " + quote(level) + " (sync, async or none)");
  }
  if (txn_ == nullptr) return invalid("no transaction is open (begin one first)");
  const Status s = txn_->commit(durability);
  Reply r = status_reply(s);
  if (s == Status::kOk) {
    r.kind = Reply::Kind::kCommit;
    r.commit_sequence = txn_->commit_sequence();
    r.log_position = txn_->log_position();
  }
  txn_.reset();  // commit ends the transaction whatever the outcome
  return r;
}

Reply Shell::watch(const std::vector<std::string>& args) {
  if (!emit_) return invalid("watch needs an output");
  WatchOptions options;
  uint64_t max = UINT64_MAX;
  int64_t idle_ms = -1;
  // Options from the end: max N, idle-ms N, keys-only.
  std::vector<std::string> positional(args.begin() + 1, args.end());
  for (bool more = true; more;) {
    more = false;
    const size_t n = positional.size();
    if (n >= 1 && equals_ignoring_case(positional[n - 1], "keys-only")) {
      options.keys_only = true;
      positional.pop_back();
      more = true;
    } else if (n >= 2 && (equals_ignoring_case(positional[n - 2], "max") ||
                          equals_ignoring_case(positional[n - 2], "idle-ms"))) {
      uint64_t v = 0;
      if (!parse_number(positional[n - 1], &v)) {
        return invalid(positional[n - 2] + " takes a whole number, not " +
                       quote(positional[n - 1]));
      }
      if (equals_ignoring_case(positional[n - 2], "max")) {
        max = v;
      } else {
        idle_ms = static_cast<int64_t>(std::min<uint64_t>(v, INT64_MAX / 1'000'000));
      }
      positional.resize(n - 2);
      more = true;
    }
  }
  auto is_from = [](const std::string& text) {
    uint64_t v = 0;
    return equals_ignoring_case(text, "now") || parse_number(text, &v);
  };
  std::string from = "now";
  if (positional.size() == 1) {
    options.prefix = positional[0];
  } else if (positional.size() == 2 && is_from(positional[1])) {
    options.prefix = positional[0];
    from = positional[1];
  } else if (positional.size() == 2 || positional.size() == 3) {
    options.start = positional[0];
    options.end = positional[1];
    if (positional.size() == 3) from = positional[2];
  } else {
    return invalid("usage: watch PREFIX|START END [FROM] [max N] [idle-ms N] [keys-only]");
  }
  if (!is_from(from)) return invalid("FROM must be now or a sequence, not " + quote(from));
  if (!equals_ignoring_case(from, "now")) parse_number(from, &options.from);

  uint32_t id = 0;
  uint64_t position = 0;
  const Status s = client_->watch(options, &id, &position);
  Reply done = status_reply(s);
  done.kind = Reply::Kind::kWatched;
  done.watch_from = position;
  if (s != Status::kOk) {
    done.commit_sequence = position;  // COMPACTED: the oldest position kept
    if (s == Status::kInvalidArgument) {
      done.error =
          "FROM is no position of this daemon's log (use now, 0, or a sequence an "
          "earlier watch printed)";
    }
    return done;
  }
  uint64_t next = position;
  while (done.events < max) {
    WatchEvent event;
    const Status e = client_->next_event(&event, idle_ms);
    if (e == Status::kTimedOut) break;
    if (e != Status::kOk) {
      done = status_reply(e);
      done.kind = Reply::Kind::kWatched;
      break;
    }
    if (event.watch != id) continue;
    if (event.type != WatchEvent::Type::kCommit) {
      done.status =
          event.type == WatchEvent::Type::kCompacted ? Status::kCompacted : Status::kShuttingDown;
      done.error = event.type == WatchEvent::Type::kCompacted
                       ? "the log no longer holds the watch's next commit"
                       : "the daemon ended the watch (its log could not be read on)";
      next = event.sequence;
      break;
    }
    next = event.sequence;
    ++done.events;
    Reply r;
    r.kind = Reply::Kind::kEvent;
    r.event = std::move(event);
    emit_(r);
  }
  [[maybe_unused]] const Status u = client_->unwatch(id);
  done.watch_from = position;
  done.commit_sequence = next;
  return done;
}

Reply Shell::abort() {
  if (txn_ == nullptr) return invalid("no transaction is open");
  abort_transaction();
  return Reply{};
}

}  // namespace ringdb::cli
