#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/fuzz_target.h"

namespace keystone::fuzz {

void FuzzFail(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "FUZZ FAILURE: %.*s\n%.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

}  // namespace keystone::fuzz
