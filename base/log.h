#pragma once

// The logging facade. Libraries log through these functions; the daemon
// installs a sink (spdlog, text or JSON lines) at start. Until then messages go
// to stderr as plain lines. Thread-safe: the sink is swapped atomically and
// must itself be thread-safe.

#include <functional>
#include <string>
#include <string_view>

namespace keystone {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

using LogSink = std::function<void(LogLevel, std::string_view component, std::string_view message)>;

// Replaces the process-wide sink; nullptr restores the stderr default.
void SetLogSink(LogSink sink);
// Messages below `level` are dropped before formatting reaches the sink.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

void Log(LogLevel level, std::string_view component, std::string_view message);

inline void LogDebug(std::string_view c, std::string_view m) { Log(LogLevel::kDebug, c, m); }
inline void LogInfo(std::string_view c, std::string_view m) { Log(LogLevel::kInfo, c, m); }
inline void LogWarn(std::string_view c, std::string_view m) { Log(LogLevel::kWarn, c, m); }
inline void LogError(std::string_view c, std::string_view m) { Log(LogLevel::kError, c, m); }

std::string_view LogLevelName(LogLevel level);

}  // namespace keystone
