// What ringdb-cli's line editor (terminal.h) does with text, apart from libedit: the words Tab
// may complete, which lines history keeps, and where the history file lives. Pure, so tests
// check them without a terminal.
//
// Thread safety: pure functions (history_path reads the environment).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ringdb::cli {

// History: the most lines kept (in memory and in the file), and the longest line kept: a
// pasted value of a megabyte would be rewritten into the file after every command and is of
// no use to recall.
inline constexpr int kHistoryLinesMax = 1000;
inline constexpr size_t kHistoryLineBytesMax = 4096;

// The candidates for the word the cursor is at the end of, `before_cursor` being the line up
// to the cursor: command names as the first word; then, by command, scan's options, commit's
// durability levels, batch's entry names (where an entry begins) and durability levels,
// watch's words. Each candidate begins with the word typed so far (compared ignoring case);
// empty inside a quote or after a malformed part.
std::vector<std::string> completions(std::string_view before_cursor);

// The longest common beginning of `words` (empty for none).
std::string common_prefix(const std::vector<std::string>& words);

// Whether history keeps `line`: not a blank one, not one that begins with a space (the way
// to keep a line, e.g. one with a secret value, out of it, as in bash's ignorespace), not one
// longer than kHistoryLineBytesMax. Every other line is kept, put's values included: the file
// is the user's own (mode 0600).
bool history_keeps(std::string_view line);

// The history file: $RINGDB_CLI_HISTORY if set (empty: no history file), else
// $XDG_STATE_HOME/ringdb/cli_history, else $HOME/.local/state/ringdb/cli_history; empty if
// none of those is set.
std::string history_path();

}  // namespace ringdb::cli
