// ringdb-cli's command-line syntax (tools/cli/quoting.h): splitting, escapes, single quotes,
// control bytes refused in bare arguments, errors, and quote() round trips for every byte.
#include "tools/cli/quoting.h"

#include <string>
#include <vector>

#include "doctest/doctest.h"

namespace {

using ringdb::cli::needs_quotes;
using ringdb::cli::quote;
using ringdb::cli::split_line;
using Args = std::vector<std::string>;
using namespace std::string_literals;

Args split_ok(std::string_view line) {
  auto r = split_line(line);
  INFO("line: ", std::string(line), " error: ", r.error);
  REQUIRE(r.ok);
  return r.args;
}

std::string split_error(std::string_view line) {
  auto r = split_line(line);
  INFO("line: ", std::string(line));
  REQUIRE(!r.ok);
  CHECK(r.args.empty());
  CHECK(!r.error.empty());
  return r.error;
}

}  // namespace

TEST_CASE("bare arguments are separated by runs of spaces and tabs") {
  CHECK(split_ok("put k v") == Args{"put", "k", "v"});
  CHECK(split_ok("  put \t k   v  ") == Args{"put", "k", "v"});
  CHECK(split_ok("").empty());
  CHECK(split_ok(" \t ").empty());
}

TEST_CASE("a trailing carriage return (CRLF input) is dropped") {
  CHECK(split_ok("get k\r") == Args{"get", "k"});
  CHECK(split_ok("get \"k\"\r") == Args{"get", "k"});
}

TEST_CASE("quoted arguments keep spaces and may be empty") {
  CHECK(split_ok(R"(put "a key" "a value")") == Args{"put", "a key", "a value"});
  CHECK(split_ok(R"(scan "" "")") == Args{"scan", "", ""});
  CHECK(split_ok(R"("")") == Args{""});
}

TEST_CASE("escapes inside quotes") {
  CHECK(split_ok(R"("\"\\\n\t\r")") == Args{"\"\\\n\t\r"});
  CHECK(split_ok(R"("a\0b")") == Args{"a\0b"s});
  CHECK(split_ok(R"("\0")") == Args{"\0"s});
  CHECK(split_ok(R"("\x00\xff\x7F\x41")") == Args{"\x00\xff\x7f\x41"s});
  // \xHH takes exactly two digits; what follows is literal.
  CHECK(split_ok(R"("\x414")") == Args{"A4"});
  // Raw bytes, UTF-8 or not, pass through quotes unchanged.
  CHECK(split_ok("\"\xc3\xa9\xff\x01\"") == Args{"\xc3\xa9\xff\x01"});
}

TEST_CASE("bad quoting is an error naming its column") {
  CHECK(split_error(R"(put "k v)").find("unterminated quote") != std::string::npos);
  CHECK(split_error(R"(put "k v)").find("column 5") != std::string::npos);
  CHECK(split_error(R"(put "k\)").find("backslash") != std::string::npos);
  CHECK(split_error(R"("\q")").find("unknown escape") != std::string::npos);
  CHECK(split_error(R"("\x4")").find("two hex digits") != std::string::npos);
  CHECK(split_error(R"("\xg0")").find("two hex digits") != std::string::npos);
  CHECK(split_error(R"("\x)").find("two hex digits") != std::string::npos);
  CHECK(split_error(R"("a"b)").find("closing quote") != std::string::npos);
  CHECK(split_error(R"(a"b")").find("quote inside") != std::string::npos);
  CHECK(split_error(R"(a\nb)").find("backslash outside quotes") != std::string::npos);
}

TEST_CASE("single quotes take every byte as it is, up to the next single quote") {
  CHECK(split_ok(R"(put 'a key' 'C:\dir "x"')") == Args{"put", "a key", R"(C:\dir "x")"});
  CHECK(split_ok("''") == Args{""});
  CHECK(split_ok(R"('\x41\n')") == Args{R"(\x41\n)"});  // no escapes inside
  CHECK(split_ok("'\x1b[D\x01'") == Args{"\x1b[D\x01"});
  // A ' after the first byte of a bare argument is an ordinary byte.
  CHECK(split_ok("put k don't") == Args{"put", "k", "don't"});
  CHECK(split_error("put 'k v").find("unterminated quote opened at column 5") != std::string::npos);
  CHECK(split_error("put 'it's' v").find("closing quote") != std::string::npos);
}

TEST_CASE("a control byte in a bare argument is refused, with the argument as \\xHH") {
  // A cursor key typed where no line editing ran: ESC [ D.
  const std::string error = split_error("put k1 v1x\x1b[D");
  CHECK(error.find("control byte 0x1b in an unquoted argument at column 11") != std::string::npos);
  CHECK(error.find(R"("v1x\x1b[D")") != std::string::npos);
  CHECK(split_error("get greeting\x01x").find("0x01") != std::string::npos);
  CHECK(split_error("get a\x7f").find("0x7f") != std::string::npos);
  CHECK(split_error("get a\rb").find("0x0d") != std::string::npos);
  // Quoted, the same bytes are taken.
  CHECK(split_ok("put k1 \"v1x\x1b[D\"") == Args{"put", "k1", "v1x\x1b[D"});
  // Bytes from 0x80 (UTF-8 words) stay allowed bare.
  CHECK(split_ok("put caf\xc3\xa9 \xff") == Args{"put", "caf\xc3\xa9", "\xff"});
}

TEST_CASE("quote leaves plain words bare and quotes everything else") {
  CHECK(!needs_quotes("key-1/x:y"));
  CHECK(quote("key-1/x:y") == "key-1/x:y");
  CHECK(quote("don't") == "don't");
  CHECK(quote("'quoted'") == R"("'quoted'")");  // bare, it would read as single-quoted
  CHECK(quote("") == R"("")");
  CHECK(quote("a b") == R"("a b")");
  CHECK(quote("say \"hi\"") == R"("say \"hi\"")");
  CHECK(quote("back\\slash") == R"("back\\slash")");
  CHECK(quote("\n\t\r") == R"("\n\t\r")");
  CHECK(quote("\x01\x7f") == R"("\x01\x7f")");
  CHECK(quote("a\0b"s) == R"("a\0b")");
  // NUL before an octal digit is \x00, so that a C reader does not see \01.
  CHECK(quote("\0"s
              "1") == R"("\x001")");
  // Valid UTF-8 is kept (quoted, as it is not plain ASCII); other high bytes are escaped.
  CHECK(quote("\xc3\xa9t\xc3\xa9") == "\"\xc3\xa9t\xc3\xa9\"");
  CHECK(quote("\xff\xc3") == R"("\xff\xc3")");
  CHECK(quote("\xc0\xaf") == R"("\xc0\xaf")");                  // overlong '/'
  CHECK(quote("\xed\xa0\x80") == R"("\xed\xa0\x80")");          // a surrogate
  CHECK(quote("\xf4\x90\x80\x80") == R"("\xf4\x90\x80\x80")");  // above U+10FFFF
  CHECK(quote("\xf0\x9f\x98\x80") == "\"\xf0\x9f\x98\x80\"");   // U+1F600
}

TEST_CASE("quote then split gives the bytes back, for every byte and pairs of bytes") {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; b += 7) {
      const std::string bytes = {static_cast<char>(a), static_cast<char>(b), 'x'};
      const auto r = split_line("put " + quote(bytes) + " v");
      INFO("a=", a, " b=", b);
      REQUIRE(r.ok);
      REQUIRE(r.args.size() == 3);
      CHECK(r.args[1] == bytes);
    }
  }
}
