#pragma once

// A keystoned process for integration tests: a generated config on free
// loopback ports in the test's temp dir, a notify socket standing in for
// systemd's (Start waits for READY=1), its log, and a DynamoDB call helper.
// Shared by tests/daemon and tests/e2e. Not thread-safe per instance, except
// port() and endpoint(), which only change inside Start.

#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace keystone::testing {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

// A datagram socket standing in for systemd's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    unlink(path.c_str());
    EXPECT_EQ(0, bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)));
  }
  ~NotifySocket() {
    close(fd_);
    unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  // The next datagram, or "" after `timeout`.
  std::string Receive(milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return "";
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  // Waits for a datagram containing `state` ("READY=1"); false after
  // `timeout` or when `alive` turns false.
  bool WaitFor(const std::string& state, milliseconds timeout,
               const std::function<bool()>& alive = nullptr) {
    auto deadline = steady_clock::now() + timeout;
    while (steady_clock::now() < deadline) {
      std::string msg = Receive(milliseconds(100));
      if (msg.find(state) != std::string::npos) return true;
      if (alive && !alive()) return false;
    }
    return false;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// A keystoned process with its config, ports, log and notify socket.
class Keystoned {
 public:
  // `body` is appended to the generated data_dir/sync/http/metrics lines.
  Keystoned(const TempDir& dir, std::string name, std::string body, std::string sync = "nosync",
            std::string http_extra = "")
      : dir_(dir),
        name_(std::move(name)),
        body_(std::move(body)),
        sync_(std::move(sync)),
        http_extra_(std::move(http_extra)),
        notify_(std::make_unique<NotifySocket>(dir.Sub(name_ + ".notify"))) {}
  ~Keystoned() { proc_.reset(); }

  std::string config_path() const { return dir_.Sub(name_ + ".yaml"); }
  std::string log_path() const { return dir_.Sub(name_ + ".log"); }
  std::string log() const { return ReadFile(log_path()); }
  std::string data_dir() const { return dir_.Sub("data-" + name_); }
  int port() const { return http_port_; }
  int metrics_port() const { return metrics_port_; }
  std::string endpoint() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(http_port_);
  }
  ChildProcess& process() { return *proc_; }
  NotifySocket& notify() { return *notify_; }
  void set_tls(bool tls) { tls_ = tls; }
  // Replaces the config's extra lines; WriteConfig() then rewrites the file
  // (for a reload: SIGHUP).
  void set_body(std::string body) { body_ = std::move(body); }
  void WriteConfig() const { WriteFile(config_path(), Config()); }
  void set_data_dir(std::string d) { data_dir_override_ = std::move(d); }
  // Restarts (Start after a Stop or Kill) reuse the ports of the first start
  // while they are free, so that clients keep their endpoint.
  void set_keep_ports(bool keep) { keep_ports_ = keep; }
  // The program started (default: KEYSTONED_BIN when defined).
  void set_binary(std::string binary) { binary_ = std::move(binary); }
  // Words run before the program, which they must exec (e.g. {"prlimit",
  // "--fsize=N", "--"}); empty by default.
  void set_command_prefix(std::vector<std::string> prefix) { prefix_ = std::move(prefix); }
  // Whether a process was started and has not exited yet.
  bool running() { return proc_ && !proc_->Exited(); }
  // SIGKILL, and waits for the exit.
  void Kill() {
    if (!proc_) return;
    proc_->Signal(SIGKILL);
    proc_->Wait(std::chrono::seconds(30));
  }

  std::string Config() const {
    std::string data = data_dir_override_.empty() ? data_dir() : data_dir_override_;
    return "data_dir: " + data + "\nsync: " + sync_ +
           "\nhttp:\n  listen: 127.0.0.1:" + std::to_string(http_port_) +
           "\n  max_body_bytes: 64KiB\n" + http_extra_ +
           "metrics: {listen: 127.0.0.1:" + std::to_string(metrics_port_) + "}\n" + body_;
  }

  // Writes the config and starts keystoned with `args`; true once it sent
  // READY=1. Retries with other ports if they were taken meanwhile.
  bool Start(std::vector<std::string> args = {}, std::map<std::string, std::string> env = {}) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (!keep_ports_ || http_port_ == 0 || attempt > 0) {
        http_port_ = FreePort();
        metrics_port_ = FreePort();
      }
      WriteConfig();
      std::vector<std::string> argv = prefix_;
      argv.insert(argv.end(), {binary_, "--config", config_path()});
      argv.insert(argv.end(), args.begin(), args.end());
      env["NOTIFY_SOCKET"] = notify_->path();
      proc_ = std::make_unique<ChildProcess>(argv, env, log_path());
      if (notify_->WaitFor("READY=1", seconds(60), [&] { return !proc_->Exited(); })) return true;
      proc_->Wait(seconds(5));
      if (log().find("cannot listen") == std::string::npos) return false;
    }
    return false;
  }

  // SIGTERM, then the exit code (-1 if it did not exit within `timeout`).
  int Stop(milliseconds timeout = seconds(40)) {
    proc_->Signal(SIGTERM);
    return proc_->Wait(timeout);
  }

  // POSTs a DynamoDB operation; returns (status, body), status 0 when no
  // answer came.
  std::pair<int, std::string> Call(const std::string& op, const std::string& body) {
    httplib::Client c("127.0.0.1", http_port_);
    c.set_read_timeout(30, 0);
    auto r = c.Post("/", {{"X-Amz-Target", "DynamoDB_20120810." + op}}, body,
                    "application/x-amz-json-1.0");
    return r ? std::make_pair(r->status, r->body) : std::make_pair(0, std::string());
  }

 private:
  const TempDir& dir_;
  std::string name_, body_, sync_, http_extra_, data_dir_override_;
  std::unique_ptr<NotifySocket> notify_;
  std::unique_ptr<ChildProcess> proc_;
  std::vector<std::string> prefix_;
  int http_port_ = 0, metrics_port_ = 0;
  bool tls_ = false;
  bool keep_ports_ = false;
#ifdef KEYSTONED_BIN
  std::string binary_ = KEYSTONED_BIN;
#else
  std::string binary_;
#endif
};

}  // namespace keystone::testing
