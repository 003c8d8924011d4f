// ringdb-cli's command-line syntax: splitting a line into arguments, and quoting bytes so
// that what the cli prints can be pasted back as input.
//
// Syntax: arguments are separated by runs of spaces or tabs (a single '\r' at the end of the
// line is dropped, for CRLF input). An argument is one of:
//   - bare: printable bytes (none below 0x20, nor 0x7f) but space, tab, '"' and '\\'; it
//     may not begin with '\'' (a '\'' later in it is an ordinary byte: don't);
//   - 'single-quoted', as in the shell: every byte up to the next '\'' as it is, no escapes
//     (so it cannot hold a '\'');
//   - "double-quoted", with C-like escapes inside the quotes:
//       \"  \\  \n  \t  \r  \0 (one NUL byte)  \xHH (exactly two hex digits, any byte)
// A quoted argument may be empty ("" or '') and may hold any byte, including raw ones that
// are not escaped. Errors: an unterminated quote, an unknown or short escape, a quote or
// backslash inside a bare argument, a closing quote not followed by a separator, and a
// control byte in a bare argument (a terminal's cursor keys would otherwise become part of
// a key: the error shows the argument written with \xHH escapes).
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ringdb::cli {

struct SplitResult {
  bool ok = false;
  std::vector<std::string> args;  // when ok
  std::string error;              // when !ok: a sentence naming the column (1-based)
};

SplitResult split_line(std::string_view line);

// True when `bytes` cannot be printed bare: empty, a byte outside printable ASCII
// (0x21-0x7e), '"' or '\\', or a '\'' first.
bool needs_quotes(std::string_view bytes);

// `bytes` bare if it needs no quotes, else double-quoted with the escapes above: \" \\ \n
// \t \r \0 for those bytes, \xHH for other bytes below 0x20, 0x7f, and bytes that are not
// part of valid UTF-8; valid UTF-8 sequences are kept as they are. split_line() of the
// result gives `bytes` back.
std::string quote(std::string_view bytes);

}  // namespace ringdb::cli
