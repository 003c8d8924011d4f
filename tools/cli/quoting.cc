// ringdb-cli's command-line syntax: split_line() and quote() (see quoting.h).
#include "tools/cli/quoting.h"

#include <cassert>

#include "tools/cli/utf8.h"

namespace ringdb::cli {
namespace {

bool is_separator(char c) {
  return c == ' ' || c == '\t';
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string at_column(std::string_view what, size_t i) {
  return std::string(what) + " at column " + std::to_string(i + 1);
}

// Parses the quoted argument whose opening quote is at line[*i]; on success *i is just past
// the closing quote.
bool parse_quoted(std::string_view line, size_t* i, std::string* out, std::string* error) {
  const size_t open = *i;
  size_t k = open + 1;
  for (;;) {
    if (k >= line.size()) {
      *error = at_column("unterminated quote opened", open);
      return false;
    }
    const char c = line[k];
    if (c == '"') break;
    if (c != '\\') {
      out->push_back(c);
      ++k;
      continue;
    }
    if (k + 1 >= line.size()) {
      *error = at_column("backslash at the end of the line", k);
      return false;
    }
    const char e = line[k + 1];
    switch (e) {
      case '"':
      case '\\':
        out->push_back(e);
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case '0':
        out->push_back('\0');
        break;
      case 'x': {
        const int h = k + 2 < line.size() ? hex_digit(line[k + 2]) : -1;
        const int l = k + 3 < line.size() ? hex_digit(line[k + 3]) : -1;
        if (h < 0 || l < 0) {
          *error = at_column("\\x needs exactly two hex digits", k);
          return false;
        }
        out->push_back(static_cast<char>(h * 16 + l));
        k += 2;
        break;
      }
      default:
        *error = at_column("unknown escape (use \\\" \\\\ \\n \\t \\r \\0 or \\xHH)", k);
        return false;
    }
    k += 2;
  }
  *i = k + 1;
  if (*i < line.size() && !is_separator(line[*i])) {
    *error = at_column("a closing quote must end the argument", k);
    return false;
  }
  return true;
}

// Parses the 'single-quoted' argument whose opening quote is at line[*i]: the bytes up to
// the next '\'', as they are. On success *i is just past the closing quote.
bool parse_single_quoted(std::string_view line, size_t* i, std::string* out, std::string* error) {
  const size_t open = *i;
  const size_t close = line.find('\'', open + 1);
  if (close == std::string_view::npos) {
    *error = at_column("unterminated quote opened", open);
    return false;
  }
  out->assign(line.substr(open + 1, close - open - 1));
  *i = close + 1;
  if (*i < line.size() && !is_separator(line[*i])) {
    *error = at_column(
        "a closing quote must end the argument (a ' inside single quotes: use "
        "double quotes)",
        close);
    return false;
  }
  return true;
}

bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// Parses the bare argument that starts at line[*i]; on success *i is at its end.
bool parse_bare(std::string_view line, size_t* i, std::string* out, std::string* error) {
  size_t k = *i;
  while (k < line.size() && !is_separator(line[k])) {
    if (line[k] == '"' || line[k] == '\\') {
      *error = at_column(line[k] == '"' ? "quote inside an unquoted argument"
                                        : "backslash outside quotes (quote the argument)",
                         k);
      return false;
    }
    if (is_control(line[k])) {
      // Most likely a terminal's key (an arrow is ESC [ D) typed where no line editing ran.
      size_t end = k;
      while (end < line.size() && !is_separator(line[end]))
        ++end;
      static constexpr char kHex[] = "0123456789abcdef";
      const auto u = static_cast<unsigned char>(line[k]);
      *error = at_column(std::string("control byte 0x") + kHex[u >> 4] + kHex[u & 0xf] +
                             " in an unquoted argument",
                         k);
      *error += "; to mean it, quote the argument and write the byte as \\xHH: " +
                quote(line.substr(*i, end - *i));
      return false;
    }
    out->push_back(line[k]);
    ++k;
  }
  *i = k;
  return true;
}

}  // namespace

SplitResult split_line(std::string_view line) {
  SplitResult result;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  size_t i = 0;
  for (;;) {
    while (i < line.size() && is_separator(line[i]))
      ++i;
    if (i == line.size()) break;
    std::string arg;
    const bool ok = line[i] == '"'    ? parse_quoted(line, &i, &arg, &result.error)
                    : line[i] == '\'' ? parse_single_quoted(line, &i, &arg, &result.error)
                                      : parse_bare(line, &i, &arg, &result.error);
    if (!ok) {
      result.args.clear();
      return result;
    }
    result.args.push_back(std::move(arg));
  }
  result.ok = true;
  return result;
}

bool needs_quotes(std::string_view bytes) {
  if (bytes.empty() || bytes[0] == '\'') return true;
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e || c == '"' || c == '\\') return true;
  }
  return false;
}

std::string quote(std::string_view bytes) {
  if (!needs_quotes(bytes)) return std::string(bytes);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < bytes.size();) {
    const auto u = static_cast<unsigned char>(bytes[i]);
    if (u >= 0x80) {
      const size_t n = utf8_sequence_length(bytes, i);
      if (n > 0) {
        out.append(bytes.substr(i, n));
        i += n;
        continue;
      }
    }
    const char next = i + 1 < bytes.size() ? bytes[i + 1] : ' ';
    switch (bytes[i]) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\0':
        // \0 then a digit would read as an octal escape to a C programmer; \x00 does not.
        out += next >= '0' && next <= '7' ? "\\x00" : "\\0";
        break;
      default:
        if (u < 0x20 || u >= 0x7f) {
          out += "\\x";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xf]);
        } else {
          out.push_back(bytes[i]);
        }
    }
    ++i;
  }
  out.push_back('"');
  assert(split_line(out).ok);
  return out;
}

}  // namespace ringdb::cli
