// keystoned: the Keystone daemon. Loads the config, starts the Daemon, tells
// systemd when it is ready and that it is alive, and turns signals into
// actions on its main loop:
//
//   SIGTERM, SIGINT  stop accepting, finish in-flight requests, close the
//                    store, exit 0 (or 1 if that takes longer than
//                    shutdown_timeout_ms).
//   SIGHUP           reload the config file and apply what can change.
//
// The signals are blocked in every thread and read from a signalfd by the
// main loop, so that no work happens in a signal handler.

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/log.h"
#include "base/thread_name.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "daemon/logging.h"
#include "kafka_sink/kafka_options.h"

#ifndef KEYSTONE_VERSION
#define KEYSTONE_VERSION "0.0.0"
#endif

namespace keystone::daemon {
namespace {

constexpr std::string_view kComponent = "keystoned";
// Longest a shutdown may take: socket timeouts (10 s), idle keep-alive
// (5 s) and a margin for the longest operation.

struct CommandLine {
  std::string config_path;
  std::string check_config_path;
  bool print_config = false;
  std::string log_format;  // empty: from the config
};

// The config file at `path`, with kafka.properties checked by librdkafka.
Result<DaemonOptions> LoadConfigFile(const std::string& path) {
  return config::LoadConfigFile(path, config::ProcessEnvironment(), kafka::CheckProperty);
}

Result<DaemonOptions> LoadOptions(const CommandLine& cl) {
  Result<DaemonOptions> options = cl.config_path.empty() ? config::ParseConfig("", "(defaults)")
                                                         : LoadConfigFile(cl.config_path);
  if (!options.ok()) return options;
  if (!cl.log_format.empty()) {
    LogFormat format;
    if (!ParseLogFormat(cl.log_format, &format)) {
      return InvalidArgument("--log-format must be text or json");
    }
    options->logging.format = format;
  }
  return options;
}

void Notify(const std::string& state) {
  // sd_notify does nothing without NOTIFY_SOCKET; checked anyway so that the
  // intent is visible.
  if (std::getenv("NOTIFY_SOCKET") == nullptr) return;
  int rc = sd_notify(0, state.c_str());
  if (rc < 0) LogWarn(kComponent, "sd_notify failed: " + std::string(std::strerror(-rc)));
}

// Exits the process (status 1) if a shutdown runs past `limit`
// (shutdown_timeout_ms). Acknowledged writes are durable already; this only
// bounds how long a stuck client, disk or broker can delay the exit.
class ShutdownDeadline {
 public:
  explicit ShutdownDeadline(std::chrono::milliseconds limit) {
    thread_ = std::thread([this, limit] {
      SetThreadName("shutdown-limit");
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_for(lock, limit, [&] { return done_; })) {
        LogError(kComponent, "shutdown took longer than shutdown_timeout_ms (" +
                                 std::to_string(limit.count()) + " ms); exiting now");
        std::_Exit(1);
      }
    });
  }
  ~ShutdownDeadline() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

int Run(const CommandLine& cl) {
  // Block the signals before any thread starts so that every thread inherits
  // the mask and only the signalfd sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Past a file size limit (ulimit -f, LimitFSIZE=) a write fails with EFBIG,
  // which the store reports like a full disk, instead of killing the daemon.
  signal(SIGXFSZ, SIG_IGN);
  int sfd = signalfd(-1, &signals, SFD_CLOEXEC);
  if (sfd < 0) {
    std::fprintf(stderr, "keystoned: signalfd: %s\n", std::strerror(errno));
    return 1;
  }

  Result<DaemonOptions> options = LoadOptions(cl);
  if (!options.ok()) {
    std::fprintf(stderr, "keystoned: %s\n", options.status().message().c_str());
    return 1;
  }
  InstallLogging(options->logging);
  LogInfo(kComponent,
          "keystoned " KEYSTONE_VERSION " starting (pid " + std::to_string(getpid()) + ", config " +
              (cl.config_path.empty() ? std::string("defaults") : cl.config_path) + ")");

  Result<std::unique_ptr<Daemon>> started = Daemon::Start(*options);
  if (!started.ok()) {
    LogError(kComponent, "cannot start: " + started.status().message());
    return 1;
  }
  std::unique_ptr<Daemon> daemon = std::move(started).value();
  Notify("READY=1\nSTATUS=serving " + daemon->http_url());
  LogInfo(kComponent, "ready");

  uint64_t watchdog_usec = 0;
  std::chrono::milliseconds keep_alive_every{0};  // 0: no watchdog
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
    keep_alive_every = std::chrono::milliseconds(std::max<uint64_t>(1, watchdog_usec / 2 / 1000));
    LogInfo(kComponent,
            "systemd watchdog every " + std::to_string(keep_alive_every.count()) + " ms");
  }
  const std::string serving_status = "STATUS=serving " + daemon->http_url();

  bool unhealthy_logged = false;
  // Sends WATCHDOG=1 while healthy; logs (once) why not otherwise, and when
  // it is healthy again.
  auto keep_alive = [&] {
    Status health = daemon->Health();
    if (health.ok()) {
      Notify("WATCHDOG=1");
      if (unhealthy_logged) {
        LogInfo(kComponent, "healthy again: watchdog keep-alive resumed");
        Notify(serving_status);
      }
      unhealthy_logged = false;
    } else if (!unhealthy_logged) {
      // systemd restarts the service when WatchdogSec passes without one.
      LogWarn(kComponent,
              "unhealthy: " + health.message() + "; not sending the watchdog keep-alive");
      Notify("STATUS=unhealthy: " + health.message());
      unhealthy_logged = true;
    }
  };
  auto next_keep_alive = std::chrono::steady_clock::now();
  for (;;) {
    int timeout_ms = -1;
    if (keep_alive_every.count() > 0) {
      // Due on time even when signals keep the loop busy.
      auto now = std::chrono::steady_clock::now();
      if (now >= next_keep_alive) {
        keep_alive();
        next_keep_alive = now + keep_alive_every;
      }
      timeout_ms = static_cast<int>(
          std::chrono::ceil<std::chrono::milliseconds>(next_keep_alive - now).count());
    }
    pollfd p{sfd, POLLIN, 0};
    int ready = poll(&p, 1, timeout_ms);
    if (ready < 0 && errno != EINTR) {
      LogError(kComponent, std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (ready <= 0 || (p.revents & POLLIN) == 0) continue;
    signalfd_siginfo info{};
    if (read(sfd, &info, sizeof(info)) != static_cast<ssize_t>(sizeof(info))) continue;
    if (info.ssi_signo == SIGHUP) {
      LogInfo(kComponent, "SIGHUP: reloading " +
                              (cl.config_path.empty() ? std::string("defaults") : cl.config_path));
      Notify("RELOADING=1");
      Result<DaemonOptions> next = LoadOptions(cl);
      if (!next.ok()) {
        LogError(kComponent,
                 "reload failed, keeping the running config: " + next.status().message());
      } else {
        daemon->Reload(*next);
      }
      Notify("READY=1");
      continue;
    }
    LogInfo(kComponent,
            std::string(info.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM") + ": stopping");
    break;
  }

  Notify("STOPPING=1");
  {
    ShutdownDeadline deadline(std::chrono::milliseconds(daemon->options().shutdown_timeout_ms));
    daemon->Stop();
    daemon.reset();
  }
  LogInfo(kComponent, "stopped");
  close(sfd);
  return 0;
}

}  // namespace
}  // namespace keystone::daemon

int main(int argc, char** argv) {
  using keystone::daemon::CommandLine;
  CommandLine cl;
  CLI::App app{
      "keystoned: the Keystone change-data-capture daemon. Serves the DynamoDB and DynamoDB "
      "Streams APIs over HTTP from an LMDB item store."};
  app.add_option("--config", cl.config_path, "Configuration file (YAML); defaults if absent");
  app.add_option("--check-config", cl.check_config_path,
                 "Validate this configuration file and exit 0 (valid) or 1");
  app.add_flag("--print-config", cl.print_config,
               "Print the effective configuration (secrets masked) and exit");
  app.add_option("--log-format", cl.log_format, "Log format, overrides the config")
      ->check(CLI::IsMember({"text", "json"}));
  app.set_version_flag("--version", "keystoned " KEYSTONE_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; usage errors 2.
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (!cl.check_config_path.empty()) {
    auto options = keystone::daemon::LoadConfigFile(cl.check_config_path);
    if (!options.ok()) {
      std::fprintf(stderr, "keystoned: %s\n", options.status().message().c_str());
      return 1;
    }
    std::printf("%s: configuration is valid\n", cl.check_config_path.c_str());
    return 0;
  }
  if (cl.print_config) {
    auto options = keystone::daemon::LoadOptions(cl);
    if (!options.ok()) {
      std::fprintf(stderr, "keystoned: %s\n", options.status().message().c_str());
      return 1;
    }
    std::fputs(keystone::config::PrintConfig(*options).c_str(), stdout);
    return 0;
  }
  return keystone::daemon::Run(cl);
}
