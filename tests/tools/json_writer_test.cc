// ringdb-cli's JSON writer (tools/cli/json_writer.h): structure, commas, string escapes,
// and the \u00XX convention for bytes that are not valid UTF-8.
#include "tools/cli/json_writer.h"

#include <string>

#include "doctest/doctest.h"

namespace {

using ringdb::cli::append_json_string;
using ringdb::cli::JsonWriter;
using namespace std::string_literals;

std::string json(std::string_view bytes) {
  std::string out;
  append_json_string(&out, bytes);
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
