// ringdb-admin's human output: a JSON answer laid out for a person. Objects become aligned
// "name  value" lines (nested objects indented under their name); arrays of objects become
// tables with a column per field; other arrays a comma-separated list.
//
// Thread safety: a pure function.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace ringdb::admin {

std::string render(const nlohmann::ordered_json& value);

}  // namespace ringdb::admin
