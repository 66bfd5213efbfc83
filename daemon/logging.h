#pragma once

// keystoned's log output: spdlog writing to stderr, one line per event,
// installed as keystone's log sink (base/log.h) so that every library logs
// through it.
//
//   text: 2024-01-02T03:04:05.678Z info http: listening on http://127.0.0.1:8000
//   json: {"time":"2024-01-02T03:04:05.678Z","level":"info","component":"http",
//          "message":"listening on http://127.0.0.1:8000"}
//
// Messages are written as given: callers never pass secrets. Line breaks and
// other control characters inside a message are escaped so that an event is
// always one line.
//
// Thread safety: FormatLogLine is pure; InstallLogging may be called again
// (SIGHUP) while other threads log.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/log.h"
#include "daemon/daemon_options.h"

namespace keystone::daemon {

// One log line, without the trailing newline; `unix_ms` is the event time.
std::string FormatLogLine(LogFormat format, int64_t unix_ms, LogLevel level,
                          std::string_view component, std::string_view message);

// Routes keystone's logs to stderr through spdlog in `options.format`, and
// drops those below `options.level`.
void InstallLogging(const LoggingOptions& options);

}  // namespace keystone::daemon
