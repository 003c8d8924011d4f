// The one table of status codes (shm/status_codes.h): numbers unique, the wire's contiguous
// from 0 and below the client library's, and docs/PROTOCOL.md section 4 saying the same as
// the table (number, name and meaning of every code on the wire).
#include "shm/status_codes.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
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
  const std::regex row(R"(\n\| (\d+) \| (\w+) \| ([^\n]*) \|)");
  std::vector<Code> documented;
  const std::string rest = doc.substr(section, doc.find("\n## ", section + 1) - section);
  for (std::sregex_iterator it(rest.begin(), rest.end(), row), end; it != end; ++it) {
    std::string meaning = (*it)[3];
    std::erase(meaning, '`');  // Markdown's code marks
    documented.push_back(Code{std::stoi((*it)[1]), (*it)[2], meaning});
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
