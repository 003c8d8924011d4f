#include "tools/admin/render.h"

#include <algorithm>
#include <vector>

namespace ringdb::admin {
namespace {

using json = nlohmann::ordered_json;

std::string scalar(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_float()) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.3f", v.get<double>());
    return buf;
  }
  return v.dump();
}

bool is_table(const json& v) {
  return v.is_array() && !v.empty() &&
         std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_object(); });
}

void table(const json& rows, const std::string& indent, std::string* out) {
  std::vector<std::string> columns;
  for (const json& row : rows)
    for (const auto& [k, _] : row.items())
      if (std::find(columns.begin(), columns.end(), k) == columns.end()) columns.push_back(k);
  std::vector<size_t> width(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    width[c] = columns[c].size();
    for (const json& row : rows)
      if (row.contains(columns[c])) width[c] = std::max(width[c], scalar(row[columns[c]]).size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    out->append(indent);
    for (size_t c = 0; c < cells.size(); ++c) {
      out->append(cells[c]);
      if (c + 1 < cells.size()) out->append(width[c] - cells[c].size() + 2, ' ');
    }
    out->push_back('\n');
  };
  line(columns);
  for (const json& row : rows) {
    std::vector<std::string> cells;
    for (const std::string& c : columns)
      cells.push_back(row.contains(c) ? scalar(row[c]) : "");
    line(cells);
  }
}

void object(const json& obj, const std::string& indent, std::string* out) {
  size_t width = 0;
  for (const auto& [k, v] : obj.items())
    if (!v.is_object() && !is_table(v)) width = std::max(width, k.size());
  for (const auto& [k, v] : obj.items()) {
    if (v.is_object()) {
      out->append(indent + k + ":\n");
      object(v, indent + "  ", out);
    } else if (is_table(v)) {
      out->append(indent + k + ":\n");
      table(v, indent + "  ", out);
    } else if (v.is_array()) {
      std::string list;
      for (const json& e : v)
        list += (list.empty() ? "" : ", ") + scalar(e);
      out->append(indent + k + std::string(width - k.size() + 2, ' ') + list + "\n");
    } else {
      out->append(indent + k + std::string(width - k.size() + 2, ' ') + scalar(v) + "\n");
    }
  }
}

}  // namespace

std::string render(const nlohmann::ordered_json& value) {
  std::string out;
  if (value.is_object()) {
    object(value, "", &out);
  } else if (is_table(value)) {
    table(value, "", &out);
  } else {
    out = scalar(value) + "\n";
  }
  return out;
}

}  // namespace ringdb::admin
