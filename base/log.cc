#include "base/log.h"

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>

namespace keystone {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_sink_mu;
std::shared_ptr<LogSink> g_sink;  // guarded by g_sink_mu; null means stderr

}  // namespace

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void SetLogSink(LogSink sink) {
  std::lock_guard<std::mutex> lock(g_sink_mu);
  g_sink = sink ? std::make_shared<LogSink>(std::move(sink)) : nullptr;
}

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void Log(LogLevel level, std::string_view component, std::string_view message) {
  if (!LogEnabled(level)) return;
  std::shared_ptr<LogSink> sink;
  {
    std::lock_guard<std::mutex> lock(g_sink_mu);
    sink = g_sink;
  }
  if (sink) {
    (*sink)(level, component, message);
    return;
  }
  std::string_view name = LogLevelName(level);
  std::fprintf(stderr, "%.*s [%.*s] %.*s\n", static_cast<int>(name.size()), name.data(),
               static_cast<int>(component.size()), component.data(),
               static_cast<int>(message.size()), message.data());
}

}  // namespace keystone
