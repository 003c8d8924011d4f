// The tools' command-line parser (tools/common/args.h): values checked whole, the same
// messages and exit codes for every mistake, --help and --version answered.
#include "tools/common/args.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace ringdb::tools {
namespace {

struct Parsed {
  int rc = -1;
  std::vector<std::string> words;
  bool json = false, quick = false;
  long count = 7;
  double seconds = 1;
  std::string socket, mode;
};

Parsed run(const std::vector<std::string>& words) {
  Parsed p;
  Args args("tool", "1.2.3");
  args.flag("json", &p.json);
  args.flag("quick", &p.quick, 'q');
  args.number("count", 1, 100, &p.count);
  args.seconds("duration", 0.5, 10, &p.seconds);
  args.text("socket", &p.socket);
  args.custom("mode", "a or b", [&p](std::string_view v) {
    p.mode = std::string(v);
    return v == "a" || v == "b";
  });
  std::string program = "tool";
  std::vector<std::string> copies = words;
  std::vector<char*> raw = {program.data()};
  for (std::string& a : copies)
    raw.push_back(a.data());
  p.rc = args.parse(static_cast<int>(raw.size()), raw.data(), "help text\n", &p.words);
  return p;
}

TEST_CASE("Args: options anywhere, in both spellings, words kept in order") {
  const Parsed p = run({"get", "--count", "12", "k1", "--json", "--socket=/tmp/s", "-q",
                        "--duration", "2.5", "--mode", "b", "--", "--not-an-option", "-"});
  CHECK(p.rc == -1);
  CHECK(p.words == std::vector<std::string>{"get", "k1", "--not-an-option", "-"});
  CHECK(p.count == 12);
  CHECK(p.json);
  CHECK(p.quick);
  CHECK(p.socket == "/tmp/s");
  CHECK(p.seconds == 2.5);
  CHECK(p.mode == "b");
}

TEST_CASE("Args: numbers are whole, decimal and in range") {
  CHECK(run({"--count", "010"}).count == 10);
  for (const char* bad :
       {"abc", "0", "101", "-1", "+5", "5x", " 5", "", "0x10", "99999999999999999999"}) {
    CAPTURE(bad);
    CHECK(run({"--count", bad}).rc == 2);
  }
  for (const char* bad : {"0.25", "11", "-1", "1e3", "inf", "nan", ".", "1..2", ""}) {
    CAPTURE(bad);
    CHECK(run({"--duration", bad}).rc == 2);
  }
}

TEST_CASE("Args: every mistake is a usage error (2); --help and --version exit 0") {
  CHECK(run({"--bogus"}).rc == 2);
  CHECK(run({"-x"}).rc == 2);
  CHECK(run({"--count"}).rc == 2);       // needs a value
  CHECK(run({"--json=1"}).rc == 2);      // a flag takes none
  CHECK(run({"--socket", ""}).rc == 2);  // text is not empty
  CHECK(run({"--mode", "c"}).rc == 2);
  CHECK(run({"--help"}).rc == 0);
  CHECK(run({"-h"}).rc == 0);
  CHECK(run({"--version"}).rc == 0);
  CHECK(run({"--version=2"}).rc == 2);
}

TEST_CASE("parse_decimal") {
  long v = 0;
  CHECK(parse_decimal("4095", 0, 4095, &v));
  CHECK(v == 4095);
  CHECK_FALSE(parse_decimal("4096", 0, 4095, &v));
  CHECK_FALSE(parse_decimal("", 0, 4095, &v));
  CHECK_FALSE(parse_decimal("1 ", 0, 4095, &v));
}

}  // namespace
}  // namespace ringdb::tools
