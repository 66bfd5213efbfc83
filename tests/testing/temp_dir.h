#pragma once

// Test helpers shared by every test: a temporary directory removed at scope
// exit. Not thread-safe per instance; each test owns its own.

#include <string>

namespace keystone::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace keystone::testing
