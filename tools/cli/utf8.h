// UTF-8 well-formedness, shared by ringdb-cli's quoting and its JSON writer: both print
// valid UTF-8 sequences as they are and escape the other bytes one by one.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string_view>

namespace ringdb::cli {

// The length (2-4) of the well-formed multi-byte UTF-8 sequence that starts at s[i], or 0 if
// none does (an ASCII byte, a stray continuation byte, a truncated sequence, an overlong
// form, a surrogate, or a code point above U+10FFFF). Follows Table 3-7 of the Unicode
// Standard ("Well-Formed UTF-8 Byte Sequences").
inline size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = at(i);
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 == 0xe0) lo = 0xa0;  // overlong
    if (b0 == 0xed) hi = 0x9f;  // surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 == 0xf0) lo = 0x90;  // overlong
    if (b0 == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  if (at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (at(i + k) < 0x80 || at(i + k) > 0xbf) return 0;
  }
  return n;
}

}  // namespace ringdb::cli
