// JsonWriter: builds one JSON value as compact text on one line, for ringdb-cli --json.
//
//   JsonWriter w;
//   w.begin_object();
//   w.key("status"); w.string("OK");
//   w.end_object();
//   puts(w.text().c_str());   // {"status":"OK"}
//
// Keys and values are bytes; JSON strings are Unicode text. bytes() writes them so that no
// two byte strings print alike:
//   - valid UTF-8 (ASCII included, control bytes too) as a JSON string: a JSON parser gives
//     back the text whose UTF-8 encoding is exactly the bytes;
//   - anything else as an object {"base64":"..."} of all its bytes (RFC 4648, with padding).
// So a reader keeps strings as they are and decodes the objects: the byte key ff fe is
// {"base64":"//4="}, the text key "ÿþ" (c3 bf c3 be) is "ÿþ". (Escaping the odd bytes as
// \u00XX, as the cli once did, made the two the same string to every JSON parser.)
//
// string() writes text the cli made itself (status names, sentences, help): '"' and '\\'
// escaped; \b \f \n \r \t; \u00XX for other bytes below 0x20 and 0x7f; valid UTF-8 copied;
// a byte that is not valid UTF-8 as \u00XX of it, so the output is valid UTF-8 JSON whatever
// it is given (sentences quote keys with quote(), which writes such bytes as \xHH anyway).
//
// Misuse (a value where a key is due, unbalanced ends) is a programmer error: asserted.
// Thread safety: one thread per object.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringdb::cli {

// Appends `bytes` to *out as a JSON string literal (with its quotes), escaped as string().
void append_json_string(std::string* out, std::string_view bytes);
// Appends `bytes` as bytes() writes them: a string if valid UTF-8, else {"base64":"..."}.
void append_json_bytes(std::string* out, std::string_view bytes);
// True when all of `bytes` is well-formed UTF-8.
bool is_valid_utf8(std::string_view bytes);

class JsonWriter {
 public:
  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  // Inside an object: the next member's name; a value call must follow.
  void key(std::string_view name);
  void string(std::string_view text);
  // A key or a value (see above).
  void bytes(std::string_view data);
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
