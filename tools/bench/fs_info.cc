// The filesystem of a path, from /proc/self/mountinfo.
#include "tools/bench/fs_info.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace ringdb::bench {
namespace {

// Mountinfo escapes space, tab, newline and backslash in paths as \ooo (octal).
std::string unescape(const std::string& field) {
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && octal(field[i + 1]) && octal(field[i + 2]) &&
        octal(field[i + 3])) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

bool contains(const std::string& mount_point, const std::string& path) {
  if (mount_point == "/") return true;
  return path.compare(0, mount_point.size(), mount_point) == 0 &&
         (path.size() == mount_point.size() || path[mount_point.size()] == '/');
}

}  // namespace

FilesystemInfo filesystem_of(const std::string& path) {
  FilesystemInfo best;
  std::error_code ec;
  std::string real = std::filesystem::canonical(path, ec).string();
  if (ec) return best;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  // id parent major:minor root mount-point options [optional...] - type source super-options
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    std::string word;
    while (fields >> word)
      f.push_back(word);
    size_t dash = 0;
    while (dash < f.size() && f[dash] != "-")
      ++dash;
    if (f.size() < 5 || dash + 2 >= f.size()) continue;
    std::string mount_point = unescape(f[4]);
    // A later mount over the same point hides the earlier one: >= keeps the last.
    if (!contains(mount_point, real) || mount_point.size() < best.mount_point.size()) continue;
    best.ok = true;
    best.mount_point = mount_point;
    best.type = f[dash + 1];
    best.source = unescape(f[dash + 2]);
  }
  return best;
}

std::string describe(const FilesystemInfo& fs) {
  if (!fs.ok) return "unknown";
  return fs.type + " on " + fs.source + ", mounted at " + fs.mount_point;
}

}  // namespace ringdb::bench
