// TempDir: a directory under /tmp for one test, removed with everything in it at the end.
// Aborts the test (doctest REQUIRE) if it cannot be made.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace ringdb::test {

struct TempDir {
  std::string path;
  // `parent`: /tmp by default; /dev/shm for a test that syncs files by the thousand and is not
  // about the disk.
  explicit TempDir(const char* prefix = "ringdb-test", const char* parent = "/tmp") {
    std::string name = std::string(parent) + "/" + prefix + "-XXXXXX";
    REQUIRE(mkdtemp(name.data()) != nullptr);
    path = name;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace ringdb::test
