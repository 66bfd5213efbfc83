#include "tests/testing/temp_dir.h"

#include <stdlib.h>

#include <filesystem>
#include <system_error>

#include "base/check.h"

namespace keystone::testing {

TempDir::TempDir() {
  std::string base = std::filesystem::temp_directory_path().string() + "/keystone_test_XXXXXX";
  char* made = mkdtemp(base.data());
  KS_CHECK(made != nullptr);
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace keystone::testing
