// Completion, the history policy and the history file's place (see editing.h).
#include "tools/cli/editing.h"

#include <cstdlib>

#include "tools/cli/commands.h"
#include "tools/cli/quoting.h"

namespace ringdb::cli {

namespace {

const CommandSpec* find_command(std::string_view name) {
  for (const CommandSpec& c : kCommands) {
    if (equals_ignoring_case(name, c.name)) return &c;
  }
  return nullptr;
}

const BatchEntrySpec* find_batch_entry(std::string_view name) {
  for (const BatchEntrySpec& e : kBatchEntries) {
    if (equals_ignoring_case(name, e.name)) return &e;
  }
  return nullptr;
}

bool used(const std::vector<std::string>& args, size_t from, std::string_view word) {
  for (size_t i = from; i < args.size(); ++i) {
    if (equals_ignoring_case(args[i], word)) return true;
  }
  return false;
}

// The words that may stand as argument args.size() of the command in args[0].
std::vector<std::string_view> words_after(const std::vector<std::string>& args) {
  std::vector<std::string_view> words;
  const size_t n = args.size();
  if (n == 0) {
    for (const CommandSpec& c : kCommands)
      words.emplace_back(c.name);
    return words;
  }
  const CommandSpec* command = find_command(args[0]);
  if (command == nullptr) return words;
  const std::string_view name = command->name;
  if (name == "scan" && n >= 3 && !equals_ignoring_case(args[n - 1], "prefix")) {
    for (const char* option : kScanOptions) {
      if (!used(args, 3, option)) words.emplace_back(option);
    }
  } else if (name == "commit" && n == 1) {
    words.assign(std::begin(kDurabilityLevels), std::end(kDurabilityLevels));
  } else if (name == "watch" && n >= 2) {
    words.assign(std::begin(kWatchWords), std::end(kWatchWords));
  } else if (name == "batch") {
    // Entries one after another: an entry's name, then its arguments.
    size_t i = 1;
    const BatchEntrySpec* entry = nullptr;
    while (i < n) {
      entry = find_batch_entry(args[i]);
      if (entry == nullptr) return words;
      i += 1 + entry->args;
    }
    if (i == n) {
      for (const BatchEntrySpec& e : kBatchEntries)
        words.emplace_back(e.name);
    } else if (std::string_view(entry->name) == "durability") {
      words.assign(std::begin(kDurabilityLevels), std::end(kDurabilityLevels));
    }
  }
  return words;
}

bool starts_with_ignoring_case(std::string_view word, std::string_view typed) {
  return word.size() >= typed.size() && equals_ignoring_case(typed, word.substr(0, typed.size()));
}

}  // namespace

std::vector<std::string> completions(std::string_view before_cursor) {
  const size_t separator = before_cursor.find_last_of(" \t");
  const size_t start = separator == std::string_view::npos ? 0 : separator + 1;
  const std::string_view typed = before_cursor.substr(start);
  // Inside a quote or an escape: the word is a key or a value, nothing to complete.
  if (typed.find_first_of("\"'\\") != std::string_view::npos) return {};
  const SplitResult split = split_line(before_cursor.substr(0, start));
  if (!split.ok) return {};
  std::vector<std::string> out;
  for (const std::string_view word : words_after(split.args)) {
    if (starts_with_ignoring_case(word, typed)) out.emplace_back(word);
  }
  return out;
}

std::string common_prefix(const std::vector<std::string>& words) {
  if (words.empty()) return {};
  std::string prefix = words[0];
  for (const std::string& w : words) {
    size_t k = 0;
    while (k < prefix.size() && k < w.size() && prefix[k] == w[k])
      ++k;
    prefix.resize(k);
  }
  return prefix;
}

bool history_keeps(std::string_view line) {
  if (line.empty() || line[0] == ' ' || line.size() > kHistoryLineBytesMax) return false;
  return line.find_first_not_of(" \t\r") != std::string_view::npos;
}

std::string history_path() {
  if (const char* path = getenv("RINGDB_CLI_HISTORY"); path != nullptr) return path;
  if (const char* state = getenv("XDG_STATE_HOME"); state != nullptr && state[0] == '/') {
    return std::string(state) + "/ringdb/cli_history";
  }
  if (const char* home = getenv("HOME"); home != nullptr && home[0] != '\0') {
    return std::string(home) + "/.local/state/ringdb/cli_history";
  }
  return {};
}

}  // namespace ringdb::cli
