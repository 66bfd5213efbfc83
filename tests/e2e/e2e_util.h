#pragma once

// Helpers for end-to-end tests and benchmarks that run keystoned against
// keystone-mock-kafka: a load of PutItem writers over HTTP keep-alive that
// record every acknowledged write, an independent consumer (python3-kafka,
// follow_topic.py) reading the topic while it is produced, the source's lag
// from GET /sources, and the check of a topic against the acknowledged
// writes. Writers and the follower run their own threads; each class's
// methods are safe to call from the test's thread.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "tests/kafka_sink/kafka_test_util.h"

namespace keystone::e2e {

using kafka::testing::ConsumedMessage;
using std::chrono::milliseconds;

// Waits until `cond` holds or `timeout` passes, testing it every `poll`.
bool WaitFor(const std::function<bool()>& cond, milliseconds timeout,
             milliseconds poll = milliseconds(20));

// The config body (tables, kafka, sources) for a keystoned publishing the
// table `users` (partition key pk, NEW_AND_OLD_IMAGES) to "keystone.users".
// `properties` (YAML flow-map entries, e.g. "linger.ms: 1") go to
// kafka.properties.
std::string PipelineConfig(const std::string& bootstrap, const std::string& delivery,
                           const std::string& properties = "");

// One acknowledged PutItem: item {pk: key, v: version}.
struct Write {
  std::string key;
  int64_t version = 0;
  // When the HTTP response arrived (steady_clock, ns since its epoch).
  int64_t acked_ns = 0;
};

// `threads` threads writing PutItem to 127.0.0.1:port at `rate` writes/s in
// total (0: as fast as answers come), each over its own keep-alive
// connection, each to its own `keys_per_thread` keys ("t<thread>-<n>"), with
// a global counter as version, so that per key the versions grow with the
// stream order. Failed or unanswered writes (keystoned down) are retried with
// new versions and not recorded.
class Writers {
 public:
  Writers(int port, int threads, int keys_per_thread, double rate, size_t pad_bytes = 100);
  ~Writers();
  void Stop();
  std::vector<Write> acked() const;
  size_t acked_count() const;
  uint64_t failures() const { return failures_.load(); }

 private:
  void Run(int thread);
  int port_;
  int keys_per_thread_;
  double per_thread_rate_;
  std::string pad_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> next_version_{1};
  std::atomic<uint64_t> failures_{0};
  mutable std::mutex mu_;
  std::vector<Write> acked_;
  std::vector<std::thread> threads_;
};

// follow_topic.py reading `topic` from the beginning as it is produced.
class TopicFollower {
 public:
  // `background`: at the lowest CPU priority (nice 19), for a benchmark whose
  // check must not take the CPU from what it measures.
  static Result<std::unique_ptr<TopicFollower>> Start(const std::string& bootstrap,
                                                      const std::string& topic,
                                                      bool background = false);
  ~TopicFollower();
  // Messages received so far.
  std::vector<ConsumedMessage> messages() const;
  size_t count() const;
  // Reads on to the end offsets of now, then returns everything received.
  Result<std::vector<ConsumedMessage>> Finish(milliseconds timeout);

 private:
  TopicFollower() = default;
  void Read();
  std::unique_ptr<kafka::testing::Subprocess> process_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::vector<ConsumedMessage> messages_;
  bool ended_ = false;
  std::string error_;
};

// lag_records of the source `name` in GET /sources on 127.0.0.1:port;
// nullopt when there is no answer or no such source. *status_code gets the
// HTTP status (0 without an answer).
std::optional<uint64_t> SourceLag(int port, const std::string& name, int* status_code = nullptr);

// Whether the source `name` is STREAMING with its position at the table's
// newest record (lag_records 0, table_sequence > 0), per GET /sources.
bool SourceCaughtUp(int port, const std::string& name);

// Whether GET /sources on 127.0.0.1:port lists the source `name` within
// `timeout`; otherwise a gtest failure message naming the last HTTP status.
::testing::AssertionResult SourceListed(int port, const std::string& name,
                                        milliseconds timeout = milliseconds(10000));

// A message of the topic, decoded: key's pk, the after image's v, the
// keystone.seq header.
struct Event {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  int64_t version = -1;
  uint64_t seq = 0;
  int64_t received_ns = 0;
};
// Decodes and checks the headers (keystone.seq/op/table/source); reports
// failures through gtest.
std::vector<Event> Decode(const std::vector<ConsumedMessage>& messages, const std::string& source);

// Whether every write of `acked` is among `events`.
bool HoldsAll(const std::vector<Event>& events, const std::vector<Write>& acked);

// The delivery checks, through gtest: every acknowledged write is in the
// topic; each key in one partition; per partition, sequence numbers increase
// with the offset except for replays (at-least-once only), each a contiguous
// run that repeats the partition's tail up to its end; per key, versions grow;
// exactly once: no sequence number twice and none missing between the first
// and the last.
void ExpectDelivered(const std::vector<Event>& events, const std::vector<Write>& acked,
                     bool exactly_once);

}  // namespace keystone::e2e
