// Fuzz target: keystoned's YAML configuration (config/config.h).
//
// Input: a configuration file's text. The environment holds only
// KEYSTONE_FUZZ_SET=1 (so ${...} substitution runs both ways).
//
// Promises checked beyond not crashing (yaml-cpp throws; the parser must
// turn every throw into an error): an error names the file ("fuzz.yaml:");
// a configuration that parses prints (PrintConfig) as YAML that parses again
// and prints the same (PrintConfig's contract, secrets aside: they print
// masked both times).

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  keystone::config::EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "KEYSTONE_FUZZ_SET") return "1";
    return std::nullopt;
  };
  auto options = keystone::config::ParseConfig(text, "fuzz.yaml", env);
  if (!options.ok()) {
    if (options.status().message().rfind("fuzz.yaml", 0) != 0) {
      keystone::fuzz::FuzzFail("an error that does not name the file",
                               options.status().ToString() + "\n--- input:\n" + std::string(text));
    }
    return 0;
  }
  std::string printed = keystone::config::PrintConfig(*options);
  auto again = keystone::config::ParseConfig(printed, "printed.yaml", env);
  if (!again.ok()) {
    keystone::fuzz::FuzzFail("a printed configuration does not parse",
                             again.status().ToString() + "\n--- printed:\n" + printed +
                                 "\n--- input:\n" + std::string(text));
  }
  std::string reprinted = keystone::config::PrintConfig(*again);
  if (reprinted != printed) {
    keystone::fuzz::FuzzFail("printing a printed configuration changed it",
                             "--- printed:\n" + printed + "\n--- reprinted:\n" + reprinted);
  }
  return 0;
}
