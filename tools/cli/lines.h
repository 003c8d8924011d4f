// Reading ringdb-cli's input a line at a time, bounded: the shell's commands and import's
// dump records both come this way.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace ringdb::cli {

// The longest input line. A value at the daemon's default limit (1 MiB) written entirely in
// \xHH escapes takes 4 MiB; 64 MiB leaves room for raised limits while still bounding what
// one line can make the cli allocate.
inline constexpr size_t kLineBytesMax = size_t{64} << 20;

enum class LineRead : uint8_t { kLine, kTooLong, kEnd };

// Reads one line without its '\n' (a last line without one counts). A line longer than
// kLineBytesMax is consumed whole and reported as kTooLong.
inline LineRead read_line(FILE* in, std::string* line) {
  line->clear();
  bool too_long = false;
  int c;
  while ((c = getc(in)) != EOF && c != '\n') {
    if (line->size() < kLineBytesMax) {
      line->push_back(static_cast<char>(c));
    } else {
      too_long = true;
    }
  }
  if (c == EOF && line->empty() && !too_long) return LineRead::kEnd;
  return too_long ? LineRead::kTooLong : LineRead::kLine;
}

}  // namespace ringdb::cli
