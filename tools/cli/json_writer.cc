// JsonWriter and append_json_string (see json_writer.h for the escaping rules).
#include "tools/cli/json_writer.h"

#include <cassert>

#include "tools/cli/utf8.h"

namespace ringdb::cli {

void append_json_string(std::string* out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < bytes.size();) {
    const auto u = static_cast<unsigned char>(bytes[i]);
    if (u >= 0x80) {
      const size_t n = utf8_sequence_length(bytes, i);
      if (n > 0) {
        out->append(bytes.substr(i, n));
        i += n;
        continue;
      }
    }
    switch (bytes[i]) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (u < 0x20 || u >= 0x7f) {
          // Control bytes, DEL, and bytes that are not valid UTF-8: \u00XX of the byte.
          *out += "\\u00";
          out->push_back(kHex[u >> 4]);
          out->push_back(kHex[u & 0xf]);
        } else {
          out->push_back(bytes[i]);
        }
    }
    ++i;
  }
  out->push_back('"');
}

bool is_valid_utf8(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    if (static_cast<unsigned char>(bytes[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t n = utf8_sequence_length(bytes, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void append_json_bytes(std::string* out, std::string_view bytes) {
  if (is_valid_utf8(bytes)) {
    append_json_string(out, bytes);
    return;
  }
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  *out += R"({"base64":")";
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    out->push_back(kAlphabet[n >> 18]);
    out->push_back(kAlphabet[(n >> 12) & 63]);
    out->push_back(kAlphabet[(n >> 6) & 63]);
    out->push_back(kAlphabet[n & 63]);
  }
  if (const size_t rest = bytes.size() - i; rest > 0) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out->push_back(kAlphabet[n >> 18]);
    out->push_back(kAlphabet[(n >> 12) & 63]);
    out->push_back(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
    out->push_back('=');
  }
  *out += "\"}";
}

void JsonWriter::before_value() {
  if (open_.empty()) {
    assert(out_.empty() && "one top-level value per writer");
    return;
  }
  if (open_.back() == Scope::kObject) {
    assert(key_pending_ && "a value inside an object needs a key first");
    key_pending_ = false;
    return;
  }
  if (!first_) out_.push_back(',');
  first_ = false;
}

void JsonWriter::begin_object() {
  before_value();
  out_.push_back('{');
  open_.push_back(Scope::kObject);
  first_ = true;
}

void JsonWriter::end_object() {
  assert(!open_.empty() && open_.back() == Scope::kObject && !key_pending_);
  out_.push_back('}');
  open_.pop_back();
  first_ = false;
}

void JsonWriter::begin_array() {
  before_value();
  out_.push_back('[');
  open_.push_back(Scope::kArray);
  first_ = true;
}

void JsonWriter::end_array() {
  assert(!open_.empty() && open_.back() == Scope::kArray);
  out_.push_back(']');
  open_.pop_back();
  first_ = false;
}

void JsonWriter::key(std::string_view name) {
  assert(!open_.empty() && open_.back() == Scope::kObject && !key_pending_);
  if (!first_) out_.push_back(',');
  first_ = false;
  append_json_string(&out_, name);
  out_.push_back(':');
  key_pending_ = true;
}

void JsonWriter::string(std::string_view text) {
  before_value();
  append_json_string(&out_, text);
}

void JsonWriter::bytes(std::string_view data) {
  before_value();
  append_json_bytes(&out_, data);
}

void JsonWriter::number(uint64_t n) {
  before_value();
  out_ += std::to_string(n);
}

void JsonWriter::boolean(bool b) {
  before_value();
  out_ += b ? "true" : "false";
}

}  // namespace ringdb::cli
