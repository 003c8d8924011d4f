// The tables of ringdb-cli's commands and of the words their arguments take: the shell
// (shell.cc) checks and runs commands from them, the terminal's Tab completion (editing.h)
// offers their names, so the two cannot drift apart.
//
// Thread safety: constants.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ringdb/client.h"

namespace ringdb::cli {

// Command names and the words below are case-insensitive: `a` as typed against `name`, one
// of the tables' (lowercase) words.
inline bool equals_ignoring_case(std::string_view a, std::string_view name) {
  if (a.size() != name.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != name[i]) return false;
  }
  return true;
}

struct CommandSpec {
  const char* name;
  const char* usage;
  size_t args_min;  // not counting the command's name
  size_t args_max;
};

inline constexpr CommandSpec kCommands[] = {
    {"ping", "ping", 0, 0},
    {"get", "get KEY", 1, 1},
    {"put", "put KEY VALUE", 2, 2},
    {"del", "del KEY", 1, 1},
    {"scan", "scan START END [LIMIT] [prefix P] [reverse]", 2, 6},
    {"batch", "batch ENTRY...", 1, 3 * kBatchEntriesMax + 2},
    {"begin", "begin", 0, 0},
    {"commit", "commit [sync|async|none]", 0, 1},
    {"abort", "abort", 0, 0},
    {"watch", "watch PREFIX|START END [FROM] [max N] [idle-ms N] [keys-only]", 1, 8},
    {"help", "help", 0, 0},
    {"quit", "quit", 0, 0},
};

// A batch entry's name and how many arguments it takes.
struct BatchEntrySpec {
  const char* name;
  size_t args;
};
inline constexpr BatchEntrySpec kBatchEntries[] = {
    {"if-absent", 1}, {"if-present", 1}, {"if-equals", 2},  {"if-unchanged", 2},
    {"put", 2},       {"del", 1},        {"durability", 1},
};

// The options that may follow scan's START END [LIMIT]; "prefix" takes an argument.
inline constexpr const char* kScanOptions[] = {"prefix", "reverse"};
// The durability levels of commit and of batch's durability entry.
inline constexpr const char* kDurabilityLevels[] = {"sync", "async", "none"};
// The words watch takes after its range: FROM's "now" and the options.
inline constexpr const char* kWatchWords[] = {"now", "max", "idle-ms", "keys-only"};

}  // namespace ringdb::cli
