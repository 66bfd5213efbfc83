#pragma once

// Shared parts of the Kafka benchmarks (kafka_bench, cdc_kafka_bench): the
// raw librdkafka producer baseline with the producer settings KafkaEventSink
// uses, resident-memory sampling, and keystone-mock-kafka in its own process.
// Single-threaded use, except RssSampler's own thread.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace keystone::bench {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d);
// VmRSS of this process (or of `pid`), bytes; 0 if unreadable.
uint64_t RssBytes(pid_t pid = 0);

// Samples VmRSS of `pid` (0: this process) every 50 ms while alive.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid = 0);
  ~RssSampler();
  uint64_t peak() const { return peak_.load(); }
  uint64_t min() const { return min_.load(); }
  uint64_t last() const { return last_.load(); }
  uint64_t samples() const { return samples_.load(); }

 private:
  void Run();
  pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> peak_{0}, min_{UINT64_MAX}, last_{0}, samples_{0};
  std::thread thread_;
};

// The producer settings KafkaEventSink uses (idempotent, acks=all,
// murmur2_random, lz4, its batching), for the raw producer.
extern const std::vector<std::pair<std::string, std::string>> kProducerSettings;

struct RawMessage {
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// CPU time (user + system, µs) of this process's live threads, summed per
// group of thread names: "source" (src:*), "read-ahead" (read:*), "librdkafka"
// (rdk:*), "other". Clock-tick resolution (10 ms): for phases of seconds.
using ThreadCpu = std::map<std::string, double>;
ThreadCpu ThreadCpuByGroup();
// after - before, per group (threads started meanwhile count from 0).
ThreadCpu CpuSpent(const ThreadCpu& before, const ThreadCpu& after);
// "group 1.23 us/event, ..." for `events` events.
std::string DescribeCpuPerEvent(const ThreadCpu& spent, uint64_t events);

struct PhaseResult {
  double events_per_second = 0;
  double seconds = 0;
  uint64_t peak_rss = 0;
  uint64_t rss_after = 0;
  // From start to the last acknowledgement (the producer's threads alive).
  ThreadCpu cpu;
};

// A tight produce loop of `events` messages to `topic` (polling every 500),
// `next(i, &message)` filling message i; returns once every one is
// acknowledged. Exits the process on a failure (a benchmark, not a library).
PhaseResult RunRawProducer(const std::string& bootstrap, const std::string& topic, uint64_t events,
                           const std::function<void(uint64_t, RawMessage*)>& next);

// keystone-mock-kafka in its own process; its first output line is the
// bootstrap address. Ends when its stdin closes (destructor).
struct MockProcess {
  pid_t pid = -1;
  int stdin_fd = -1;
  std::string bootstrap;
  bool Start(const std::vector<std::string>& argv);
  ~MockProcess();
};

}  // namespace keystone::bench
