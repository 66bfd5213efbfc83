// keystone-mock-kafka: a librdkafka mock Kafka cluster in its own process, on
// 127.0.0.1, for tests and development. In-memory only.
//
//   keystone-mock-kafka [--brokers N] [--topic NAME:PARTITIONS[:REPLICAS]]...
//
// Prints the bootstrap address ("127.0.0.1:p1,127.0.0.1:p2,...") as the first
// line on stdout, then reads one command per line on stdin and answers each
// with one line, "OK" or "ERR <reason>":
//
//   down ID                      broker ID disconnects and refuses connections
//   up ID                        broker ID accepts connections again
//   leader TOPIC PARTITION ID    move the partition's leader to broker ID
//   produce_errors CODE COUNT    the next COUNT Produce requests fail with CODE
//   unavailable TOPIC PARTITION MS [ID]
//                                the partition has no leader for MS ms, then
//                                broker ID (default 1) leads it again
//   topic_error TOPIC CODE       metadata reports CODE for TOPIC (0 clears)
//   create_topic TOPIC PARTITIONS [REPLICAS]
//   rtt ID MS                    delay broker ID's responses by MS ms
//   ping                         OK (a round trip, for synchronising)
//   quit                         exit
//
// Exits with status 0 on "quit", end of input, SIGTERM or SIGINT; status 2 on
// bad arguments, 1 when the cluster cannot start. The mock's limits are listed
// in kafka_sink/embedded_broker.h.

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/status.h"
#include "kafka_sink/embedded_broker.h"

namespace keystone::kafka {
namespace {

using Clock = std::chrono::steady_clock;

struct PendingLeader {
  Clock::time_point at;
  std::string topic;
  int32_t partition;
  int32_t broker;
};

void Reply(const Status& status) {
  if (status.ok()) {
    std::fputs("OK\n", stdout);
  } else {
    std::fprintf(stdout, "ERR %s\n", status.message().c_str());
  }
  std::fflush(stdout);
}

bool ParseInt(const std::string& text, long min, long max, long* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) return false;
  *out = v;
  return true;
}

class Server {
 public:
  explicit Server(EmbeddedBroker& broker) : broker_(broker) {}

  // Runs one command line; false when the server should exit.
  bool Execute(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    if (words.empty()) return true;
    const std::string& cmd = words[0];
    auto arg_int = [&](size_t i, long min, long max, long* out) {
      return i < words.size() && ParseInt(words[i], min, max, out);
    };
    long a = 0, b = 0, c = 0;
    if (cmd == "quit") {
      Reply(Status::Ok());
      return false;
    } else if (cmd == "ping") {
      Reply(Status::Ok());
    } else if ((cmd == "down" || cmd == "up") && words.size() == 2 && arg_int(1, -1, 64, &a)) {
      Reply(cmd == "down" ? broker_.BrokerDown(static_cast<int32_t>(a))
                          : broker_.BrokerUp(static_cast<int32_t>(a)));
    } else if (cmd == "leader" && words.size() == 4 && arg_int(2, 0, 1 << 20, &a) &&
               arg_int(3, -1, 64, &b)) {
      Reply(broker_.SetPartitionLeader(words[1], static_cast<int32_t>(a), static_cast<int32_t>(b)));
    } else if (cmd == "produce_errors" && words.size() == 3 && arg_int(1, -1000, 1000, &a) &&
               arg_int(2, 1, 1 << 20, &b)) {
      Reply(broker_.PushProduceErrors(static_cast<int>(a), static_cast<int>(b)));
    } else if (cmd == "unavailable" && (words.size() == 4 || words.size() == 5) &&
               arg_int(2, 0, 1 << 20, &a) && arg_int(3, 0, 3'600'000, &b) &&
               (words.size() == 4 || arg_int(4, 1, 64, &c))) {
      int32_t restore = words.size() == 5 ? static_cast<int32_t>(c) : 1;
      Status s = broker_.SetPartitionLeader(words[1], static_cast<int32_t>(a), -1);
      if (s.ok()) {
        pending_.push_back({Clock::now() + std::chrono::milliseconds(b), words[1],
                            static_cast<int32_t>(a), restore});
      }
      Reply(s);
    } else if (cmd == "topic_error" && words.size() == 3 && arg_int(2, -1000, 1000, &a)) {
      Reply(broker_.SetTopicError(words[1], static_cast<int>(a)));
    } else if (cmd == "create_topic" && (words.size() == 3 || words.size() == 4) &&
               arg_int(2, 1, 100000, &a) && (words.size() == 3 || arg_int(3, 1, 64, &b))) {
      Reply(broker_.CreateTopic(words[1], static_cast<int>(a),
                                words.size() == 4 ? static_cast<int>(b) : 1));
    } else if (cmd == "rtt" && words.size() == 3 && arg_int(1, -1, 64, &a) &&
               arg_int(2, 0, 3'600'000, &b)) {
      Reply(broker_.SetBrokerRtt(static_cast<int32_t>(a), static_cast<int>(b)));
    } else {
      Reply(InvalidArgument("unknown command or bad arguments: " + line));
    }
    return true;
  }

  // Applies due leader restorations; returns ms until the next one, or -1.
  int RunDue() {
    Clock::time_point now = Clock::now();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->at <= now) {
        Status s = broker_.SetPartitionLeader(it->topic, it->partition, it->broker);
        std::fprintf(stderr, "keystone-mock-kafka: %s/%d leader restored to %d: %s\n",
                     it->topic.c_str(), it->partition, it->broker, s.ToString().c_str());
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    int wait = -1;
    for (const PendingLeader& p : pending_) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(p.at - now).count() + 1;
      wait = wait < 0 ? static_cast<int>(ms) : std::min(wait, static_cast<int>(ms));
    }
    return wait;
  }

 private:
  EmbeddedBroker& broker_;
  std::vector<PendingLeader> pending_;
};

int Usage(const char* why) {
  std::fprintf(stderr,
               "keystone-mock-kafka: %s\n"
               "usage: keystone-mock-kafka [--brokers N] [--topic NAME:PARTITIONS[:REPLICAS]]...\n",
               why);
  return 2;
}

int Main(int argc, char** argv) {
  long brokers = 1;
  struct TopicArg {
    std::string name;
    long partitions;
    long replicas;
  };
  std::vector<TopicArg> topics;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--brokers" && i + 1 < argc) {
      if (!ParseInt(argv[++i], 1, 16, &brokers)) return Usage("--brokers must be in [1, 16]");
    } else if (arg == "--topic" && i + 1 < argc) {
      std::string spec = argv[++i];
      size_t colon = spec.find(':');
      if (colon == std::string::npos || colon == 0) return Usage("--topic wants NAME:PARTITIONS");
      TopicArg t{spec.substr(0, colon), 0, 1};
      std::string rest = spec.substr(colon + 1);
      size_t colon2 = rest.find(':');
      if (!ParseInt(rest.substr(0, colon2), 1, 100000, &t.partitions)) {
        return Usage("bad partition count in --topic");
      }
      if (colon2 != std::string::npos && !ParseInt(rest.substr(colon2 + 1), 1, 16, &t.replicas)) {
        return Usage("bad replica count in --topic");
      }
      topics.push_back(t);
    } else {
      return Usage(("unknown argument " + arg).c_str());
    }
  }

  // Signals become readable events on a descriptor; nothing runs in a handler.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGPIPE);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return 1;
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0) return 1;

  auto started = EmbeddedBroker::Start(static_cast<int>(brokers));
  if (!started.ok()) {
    std::fprintf(stderr, "keystone-mock-kafka: %s\n", started.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<EmbeddedBroker> broker = std::move(started).value();
  for (const TopicArg& t : topics) {
    Status s =
        broker->CreateTopic(t.name, static_cast<int>(t.partitions), static_cast<int>(t.replicas));
    if (!s.ok()) {
      std::fprintf(stderr, "keystone-mock-kafka: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::fprintf(stdout, "%s\n", broker->bootstrap_servers().c_str());
  std::fflush(stdout);

  Server server(*broker);
  std::string buffer;
  while (true) {
    int wait = server.RunDue();
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {sfd, POLLIN, 0}};
    int n = poll(fds, 2, wait);
    if (n < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info;
      if (read(sfd, &info, sizeof(info)) == sizeof(info) && info.ssi_signo != SIGPIPE) break;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char chunk[4096];
      ssize_t got = read(STDIN_FILENO, chunk, sizeof(chunk));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;  // end of input
      buffer.append(chunk, static_cast<size_t>(got));
      size_t newline;
      bool keep_running = true;
      while (keep_running && (newline = buffer.find('\n')) != std::string::npos) {
        std::string line = buffer.substr(0, newline);
        buffer.erase(0, newline + 1);
        keep_running = server.Execute(line);
      }
      if (!keep_running) break;
    }
  }
  close(sfd);
  return 0;
}

}  // namespace
}  // namespace keystone::kafka

int main(int argc, char** argv) { return keystone::kafka::Main(argc, argv); }
