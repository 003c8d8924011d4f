// The one table of status codes (shm/status_codes.h): numbers unique, the wire's contiguous
// from 0 and below the client library's, and docs/PROTOCOL.md section 4 saying the same as
// the table (number, name and meaning of every code on the wire).
#include "shm/status_codes.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "shm/wire.h"

namespace ringdb::shm {
namespace {

struct Code {
  int number;
  std::string name;
  std::string meaning;
};

#define RINGDB_TEST_CODE(name, camel, number, message) Code{number, #name, message},
const std::vector<Code> kWire = {RINGDB_WIRE_STATUS_CODES(RINGDB_TEST_CODE)};
const std::vector<Code> kClient = {RINGDB_CLIENT_STATUS_CODES(RINGDB_TEST_CODE)};
#undef RINGDB_TEST_CODE

TEST_CASE("status codes: the wire's are 0..kWireStatusMax, the library's from 32, none twice") {
  std::set<int> numbers;
  std::set<std::string> names;
  for (size_t i = 0; i < kWire.size(); ++i) {
    CHECK(kWire[i].number == static_cast<int>(i));
    CHECK(wire_status_name(static_cast<WireStatus>(i)) == kWire[i].name);
    numbers.insert(kWire[i].number);
    names.insert(kWire[i].name);
  }
  CHECK(kWireStatusMax == kWire.size() - 1);
  for (const Code& c : kClient) {
    CHECK(c.number >= 32);
    numbers.insert(c.number);
    names.insert(c.name);
  }
  CHECK(numbers.size() == kWire.size() + kClient.size());
  CHECK(names.size() == kWire.size() + kClient.size());
}

TEST_CASE("status codes: docs/PROTOCOL.md section 4 says what the table says") {
  const char* root = std::getenv("RINGDB_SOURCE_ROOT");
  REQUIRE_MESSAGE(root != nullptr, "RINGDB_SOURCE_ROOT is not set (meson test sets it)");
  std::ifstream file(std::string(root) + "/docs/PROTOCOL.md");
  REQUIRE(file);
  std::stringstream text;
  text << file.rdbuf();
  const std::string doc = text.str();
  const size_t section = doc.find("## 4. Status codes");
  REQUIRE(section != std::string::npos);
  // The table's rows: "| N | NAME | meaning |" (no std::regex: GCC 12 warns inside it under
  // the sanitizers, and -Werror makes that a build failure).
  std::vector<Code> documented;
  const std::string rest = doc.substr(section, doc.find("\n## ", section + 1) - section);
  std::istringstream lines(rest);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() < 2 || line[0] != '|' || line.back() != '|') continue;
    std::vector<std::string> cells;
    for (size_t at = 1; at < line.size();) {
      const size_t bar = line.find('|', at);
      cells.push_back(line.substr(at, bar - at));
      at = bar + 1;
    }
    for (std::string& c : cells) {  // trim the cells' spaces
      c.erase(0, c.find_first_not_of(' '));
      c.erase(c.find_last_not_of(' ') + 1);
    }
    if (cells.size() != 3 || cells[0].empty() ||
        cells[0].find_first_not_of("0123456789") != std::string::npos)
      continue;                 // the header or its rule
    std::erase(cells[2], '`');  // Markdown's code marks
    documented.push_back(Code{std::stoi(cells[0]), cells[1], cells[2]});
  }
  REQUIRE(documented.size() == kWire.size());
  for (size_t i = 0; i < kWire.size(); ++i) {
    INFO("code " << kWire[i].number);
    CHECK(documented[i].number == kWire[i].number);
    CHECK(documented[i].name == kWire[i].name);
    CHECK(documented[i].meaning == kWire[i].meaning);
  }
}

}  // namespace
}  // namespace ringdb::shm
