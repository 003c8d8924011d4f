// JsonWriter: builds one JSON value as compact text on one line, for ringdb-cli --json.
//
//   JsonWriter w;
//   w.begin_object();
//   w.key("status"); w.string("OK");
//   w.end_object();
//   puts(w.text().c_str());   // {"status":"OK"}
//
// Strings are byte strings (keys and values are arbitrary bytes), written so that the output
// is always valid UTF-8 JSON:
//   - '"' and '\\' are escaped; \b \f \n \r \t for those bytes; \u00XX for other bytes below
//     0x20 (and 0x7f);
//   - well-formed UTF-8 sequences are copied as they are;
//   - every byte that is not part of a well-formed UTF-8 sequence is escaped as \u00XX, XX
//     being the byte in lowercase hex (0xff becomes \u00ff).
// The last rule is a convention, not a JSON one: a JSON parser reads \u00ff as the
// character U+00FF. A program that needs the exact bytes back maps each \u00XX escape in the
// text to the byte XX; valid UTF-8 never produces \u0080-\u00ff escapes, so the mapping is
// exact at the level of the text (not after a generic JSON parser has decoded it).
//
// Misuse (a value where a key is due, unbalanced ends) is a programmer error: asserted.
// Thread safety: one thread per object.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringdb::cli {

// Appends `bytes` to *out as a JSON string literal (with its quotes), escaped as above.
void append_json_string(std::string* out, std::string_view bytes);

class JsonWriter {
 public:
  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  // Inside an object: the next member's name; a value call must follow.
  void key(std::string_view name);
  void string(std::string_view bytes);
  void number(uint64_t n);
  void boolean(bool b);

  // The text so far; a complete value once every begin has its end.
  const std::string& text() const { return out_; }
  bool complete() const { return open_.empty() && !out_.empty(); }

 private:
  enum class Scope : uint8_t { kObject, kArray };
  void before_value();

  std::string out_;
  std::vector<Scope> open_;
  bool first_ = true;         // no member or element yet in the innermost scope
  bool key_pending_ = false;  // key() was called; its value is due
};

}  // namespace ringdb::cli
