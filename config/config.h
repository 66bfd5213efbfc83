#pragma once

// Keystone's configuration file (keystoned.yaml) to a validated DaemonOptions,
// and back. The only code that sees YAML.
//
// Parsing checks everything a component would otherwise find out at run time:
// unknown and duplicate keys, types, ranges, required keys, listen addresses,
// topic templates, cross references (a source's table exists and streams what
// the source wants). It stops at the first problem; the error (always
// kInvalidArgument, except kIoError for an unreadable file) names the file,
// the 1-based line and column, the key path and what was expected:
//
//   keystoned.yaml:12:5: sources[0].batch_size: must be an integer in [1, 100000]
//
// Scalar values may use the environment: "${VAR}" is replaced by VAR's value,
// "${VAR:-text}" by the value or, when VAR is unset or empty, by "text"; "$$"
// is a literal "$". Any other "$" is an error, as is an unset VAR without a
// default. Substitution happens before a value is parsed, so "${PORT:-8000}"
// is a valid integer. Map keys are not substituted. Inside flow collections
// ({...}, [...]) YAML does not allow '{' and '}' in plain scalars: quote such
// values ("${PORT}").
//
// Where bytes are meant (map_size.*, stream_retention.pin_max_bytes,
// http.max_body_bytes, sources[].max_in_flight_bytes) a size may be an integer
// or an integer with a unit: B, KiB, MiB, GiB, TiB (powers of 1024) or KB,
// MB, GB, TB (powers of 1000), as in "64MiB" or "1 GiB".
//
// Thread-safe: the functions share no state.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "daemon/daemon_options.h"

namespace keystone::config {

// The value of environment variable `name`, or nullopt when it is unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Reads the process environment (getenv).
EnvLookup ProcessEnvironment();

// Checks one `kafka.properties` entry: OK, kNotFound when the client library
// has no property `name`, kInvalidArgument when it rejects `value`; the message
// says why and never contains a secret. config/ does not link the Kafka client,
// so the daemon passes kafka::CheckProperty; without a check, any name passes
// here and a wrong one fails only when the sink starts.
using PropertyCheck = std::function<Status(const std::string& name, const std::string& value)>;

// Parses `yaml_text`; `file_name` only labels error messages. An empty
// document gives all defaults (no tables, no sources).
Result<daemon::DaemonOptions> ParseConfig(std::string_view yaml_text, std::string_view file_name);
Result<daemon::DaemonOptions> ParseConfig(std::string_view yaml_text, std::string_view file_name,
                                          const EnvLookup& env,
                                          const PropertyCheck& check_kafka_property = nullptr);

// Reads and parses the file at `path` (kIoError when it cannot be read).
Result<daemon::DaemonOptions> LoadConfigFile(const std::string& path);
Result<daemon::DaemonOptions> LoadConfigFile(const std::string& path, const EnvLookup& env,
                                             const PropertyCheck& check_kafka_property = nullptr);

// The effective configuration as YAML, every default filled in, in the shape
// ParseConfig reads, with each secret (auth.access_keys[].secret_access_key,
// kafka properties for which kafka::IsSecretProperty holds) shown as "****".
// ParseConfig of the result gives `options` back, secrets aside. Safe to log.
std::string PrintConfig(const daemon::DaemonOptions& options);

inline constexpr std::string_view kMaskedSecret = "****";

}  // namespace keystone::config
