#include "daemon/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>

#include "base/clock.h"

namespace keystone::daemon {
namespace {

std::string Timestamp(int64_t unix_ms) {
  time_t seconds = static_cast<time_t>(unix_ms / 1000);
  struct tm tm {};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

// Escapes what would break a line (text) or a JSON string (json).
void AppendEscaped(std::string& out, std::string_view s, bool json) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += json ? "\\t" : "\t";
    } else if (json && c == '"') {
      out += "\\\"";
    } else if (json && c == '\\') {
      out += "\\\\";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", u);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
}

std::mutex g_logger_mu;
std::shared_ptr<spdlog::logger> g_logger;  // guarded by g_logger_mu

}  // namespace

std::string FormatLogLine(LogFormat format, int64_t unix_ms, LogLevel level,
                          std::string_view component, std::string_view message) {
  std::string out;
  out.reserve(message.size() + component.size() + 64);
  if (format == LogFormat::kJson) {
    out += "{\"time\":\"";
    out += Timestamp(unix_ms);
    out += "\",\"level\":\"";
    out += LogLevelName(level);
    out += "\",\"component\":\"";
    AppendEscaped(out, component, true);
    out += "\",\"message\":\"";
    AppendEscaped(out, message, true);
    out += "\"}";
  } else {
    out += Timestamp(unix_ms);
    out.push_back(' ');
    out += LogLevelName(level);
    out.push_back(' ');
    AppendEscaped(out, component, false);
    out += ": ";
    AppendEscaped(out, message, false);
  }
  return out;
}

void InstallLogging(const LoggingOptions& options) {
  std::shared_ptr<spdlog::logger> logger;
  {
    std::lock_guard<std::mutex> lock(g_logger_mu);
    if (!g_logger) {
      g_logger = std::make_shared<spdlog::logger>(
          "keystone", std::make_shared<spdlog::sinks::stderr_sink_mt>());
      g_logger->set_pattern("%v");
      g_logger->set_level(spdlog::level::trace);
      g_logger->flush_on(spdlog::level::trace);
    }
    logger = g_logger;
  }
  LogFormat format = options.format;
  SetLogLevel(options.level);
  SetLogSink(
      [logger, format](LogLevel level, std::string_view component, std::string_view message) {
        std::string line =
            FormatLogLine(format, SystemClock::Default()->NowMs(), level, component, message);
        logger->info(line);
      });
}

}  // namespace keystone::daemon
