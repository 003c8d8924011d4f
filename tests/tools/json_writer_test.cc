// ringdb-cli's JSON writer (tools/cli/json_writer.h): structure, commas, string escapes, the
// \u00XX escape of text that is not valid UTF-8, and keys and values as a string when valid
// UTF-8 and {"base64":...} otherwise.
#include "tools/cli/json_writer.h"

#include <string>

#include "doctest/doctest.h"

namespace {

using ringdb::cli::append_json_bytes;
using ringdb::cli::append_json_string;
using ringdb::cli::is_valid_utf8;
using ringdb::cli::JsonWriter;
using namespace std::string_literals;

std::string json(std::string_view bytes) {
  std::string out;
  append_json_string(&out, bytes);
  return out;
}

std::string json_bytes(std::string_view bytes) {
  std::string out;
  append_json_bytes(&out, bytes);
  return out;
}

}  // namespace

TEST_CASE("objects, arrays, commas") {
  JsonWriter w;
  w.begin_object();
  w.key("status");
  w.string("OK");
  w.key("items");
  w.begin_array();
  for (const char* k : {"a", "b"}) {
    w.begin_array();
    w.string(k);
    w.string("v");
    w.end_array();
  }
  w.end_array();
  w.key("truncated");
  w.boolean(false);
  w.key("n");
  w.number(18446744073709551615u);
  w.key("empty");
  w.begin_array();
  w.end_array();
  w.key("o");
  w.begin_object();
  w.end_object();
  CHECK(!w.complete());
  w.end_object();
  CHECK(w.complete());
  CHECK(w.text() == R"({"status":"OK","items":[["a","v"],["b","v"]],"truncated":false,)"
                    R"("n":18446744073709551615,"empty":[],"o":{}})");
}

TEST_CASE("a one-member object") {
  JsonWriter w;
  w.begin_object();
  w.key("status");
  w.string("NOT_FOUND");
  w.end_object();
  CHECK(w.text() == R"({"status":"NOT_FOUND"})");
}

TEST_CASE("JSON escapes for quotes, backslashes and control bytes") {
  CHECK(json("") == R"("")");
  CHECK(json("plain text") == R"("plain text")");
  CHECK(json("\"\\/") == R"("\"\\/")");
  CHECK(json("\b\f\n\r\t") == R"("\b\f\n\r\t")");
  CHECK(json("\0"s) == R"("\u0000")");
  CHECK(json("\x01\x1f\x7f") == R"("\u0001\u001f\u007f")");
}

TEST_CASE("valid UTF-8 is kept, other bytes become \\u00XX of the byte") {
  CHECK(json("\xc3\xa9") == "\"\xc3\xa9\"");                  // U+00E9
  CHECK(json("\xe2\x82\xac") == "\"\xe2\x82\xac\"");          // U+20AC
  CHECK(json("\xf0\x9f\x98\x80") == "\"\xf0\x9f\x98\x80\"");  // U+1F600
  CHECK(json("\xff") == R"("\u00ff")");
  CHECK(json("\x80") == R"("\u0080")");                      // a stray continuation byte
  CHECK(json("\xc3") == R"("\u00c3")");                      // truncated at the end
  CHECK(json("\xc3x") == R"("\u00c3x")");                    // truncated before ASCII
  CHECK(json("\xe2\x82") == R"("\u00e2\u0082")");            // truncated three-byte sequence
  CHECK(json("\xc0\xaf") == R"("\u00c0\u00af")");            // overlong
  CHECK(json("\xe0\x80\xaf") == R"("\u00e0\u0080\u00af")");  // overlong
  CHECK(json("\xed\xa0\x80") == R"("\u00ed\u00a0\u0080")");  // surrogate U+D800
  CHECK(json("\xf4\x90\x80\x80") == R"("\u00f4\u0090\u0080\u0080")");  // above U+10FFFF
  CHECK(json("\xf5\x80\x80\x80") == R"("\u00f5\u0080\u0080\u0080")");
  // A valid sequence right after an invalid byte is still kept.
  CHECK(json("\xff\xc3\xa9") == "\"\\u00ff\xc3\xa9\"");
}

TEST_CASE("every single byte yields valid JSON text: ASCII or a \\u00XX escape") {
  for (int b = 0; b < 256; ++b) {
    const std::string out = json(std::string(1, static_cast<char>(b)));
    INFO("byte ", b, " -> ", out);
    for (const char c : out) {
      CHECK(static_cast<unsigned char>(c) >= 0x20);
      CHECK(static_cast<unsigned char>(c) < 0x7f);
    }
  }
}

TEST_CASE("keys and values: valid UTF-8 as a string, other bytes as base64") {
  CHECK(json_bytes("") == R"("")");
  CHECK(json_bytes("plain \"text\"\n") == R"("plain \"text\"\n")");
  CHECK(json_bytes("\0\x01\x7f"s) == R"("\u0000\u0001\u007f")");  // control bytes are UTF-8
  CHECK(json_bytes("\xc3\xa9\xf0\x9f\x98\x80") == "\"\xc3\xa9\xf0\x9f\x98\x80\"");
  // The issue's pair: the byte key ff fe and the text key "ÿþ" no longer print alike.
  CHECK(json_bytes("\xff\xfe") == R"({"base64":"//4="})");
  CHECK(json_bytes("\xc3\xbf\xc3\xbe") == "\"\xc3\xbf\xc3\xbe\"");
  // Padding for every length mod 3 (RFC 4648's alphabet with + and /).
  CHECK(json_bytes("\xff") == R"({"base64":"/w=="})");
  CHECK(json_bytes("\xff\xfe\xfd") == R"({"base64":"//79"})");
  CHECK(json_bytes("\xff\xfe\xfd\xfc") == R"({"base64":"//79/A=="})");
  CHECK(json_bytes("b\0\xff"s) == R"({"base64":"YgD/"})");
  // One bad byte makes the whole value base64, valid sequences in it too.
  CHECK(json_bytes("\xc3\xa9\x01\x80") == R"({"base64":"w6kBgA=="})");
  CHECK(json_bytes("\xc3") == R"({"base64":"ww=="})");          // truncated
  CHECK(json_bytes("\xed\xa0\x80") == R"({"base64":"7aCA"})");  // a surrogate
}

TEST_CASE("is_valid_utf8 follows the Unicode table of well-formed sequences") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("ascii \x01\x7f"));
  CHECK(is_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  CHECK(!is_valid_utf8("\x80"));
  CHECK(!is_valid_utf8("\xc0\xaf"));
  CHECK(!is_valid_utf8("\xf4\x90\x80\x80"));
  CHECK(!is_valid_utf8("a\xe2\x82"));
}

TEST_CASE("JsonWriter::bytes inside arrays and objects") {
  JsonWriter w;
  w.begin_array();
  w.bytes("k");
  w.bytes("\xff");
  w.begin_object();
  w.key("key");
  w.bytes("\xfe");
  w.end_object();
  w.end_array();
  CHECK(w.text() == R"(["k",{"base64":"/w=="},{"key":{"base64":"/g=="}}])");
}
