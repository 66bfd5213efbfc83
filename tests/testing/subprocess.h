#pragma once

// Helpers for integration tests that run real programs: free loopback ports,
// running a command to completion with a time bound, and a long-running
// child process. Not thread-safe per instance.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace keystone::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and
// released). Another process may take it before the caller binds it; callers
// retry on "address in use".
int FreePort();

struct CommandResult {
  // The exit status, or -1 when the command was killed at its deadline or
  // by a signal.
  int exit_code = -1;
  std::string out;
  std::string err;
  bool timed_out = false;
};

// Runs argv[0] (looked up in PATH when it has no '/') with `env` added to the
// current environment ("" values remove the variable), collects stdout and
// stderr, and kills it (SIGKILL) after `timeout`.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(60),
                         const std::string& stdin_data = "");

// A child process running in the background with stdout and stderr appended
// to `log_path`. The destructor kills it (SIGKILL) if it still runs.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
               const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool Signal(int signo);
  // Waits up to `timeout` for the exit; returns the exit status, or -1 if it
  // is still running (or was killed by a signal: then *signaled is set).
  int Wait(std::chrono::milliseconds timeout, bool* signaled = nullptr);
  // Whether it has exited (reaps it).
  bool Exited();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// Reads the whole file, or "" when it cannot be read.
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& contents);

}  // namespace keystone::testing
