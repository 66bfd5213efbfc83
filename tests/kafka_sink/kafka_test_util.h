#pragma once

// Test helpers for kafka_sink: child processes (the mock cluster tool, the
// independent consumers), a CDC-source emulator that drives an EventSink as a
// Source does, and checks of what a topic holds. One instance per test; not
// thread-safe.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "cdc/event_sink.h"

namespace keystone::kafka::testing {

using std::chrono::milliseconds;

// A child process; stdin and stdout are pipes when asked for, stderr is
// inherited. The destructor closes stdin, waits up to 10 s, then kills.
class Subprocess {
 public:
  static Result<std::unique_ptr<Subprocess>> Spawn(const std::vector<std::string>& argv,
                                                   bool pipe_stdin, bool pipe_stdout);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // One line of stdout without the newline; kUnavailable on timeout, kIoError
  // at end of output.
  Result<std::string> ReadLine(milliseconds timeout);
  // Everything up to the end of stdout; kUnavailable on timeout.
  Result<std::string> ReadAll(milliseconds timeout);
  Status WriteLine(const std::string& line);
  void CloseStdin();
  // Exit status (or 128 + signal); kUnavailable on timeout.
  Result<int> Wait(milliseconds timeout);
  void Kill(int signal);
  pid_t pid() const { return pid_; }

 private:
  Subprocess() = default;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  std::optional<int> exit_status_;
};

// keystone-mock-kafka in its own process.
class MockKafka {
 public:
  // `topics`: "name:partitions" each.
  static Result<std::unique_ptr<MockKafka>> Start(int brokers,
                                                  const std::vector<std::string>& topics);
  const std::string& bootstrap() const { return bootstrap_; }
  // Sends one control command; OK when the tool answered OK.
  Status Command(const std::string& line);
  Subprocess& process() { return *process_; }

 private:
  std::unique_ptr<Subprocess> process_;
  std::string bootstrap_;
};

struct ConsumedMessage {
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::string>> headers;
  // When the consumer received it (CLOCK_MONOTONIC, ns; follow_topic.py), or 0.
  int64_t received_ns = 0;
  std::optional<std::string> Header(const std::string& name) const;
};

// One "M" line of dump_topic.py (or tests/e2e/follow_topic.py, which appends
// the receive time as a seventh field).
Result<ConsumedMessage> ParseDumpLine(const std::string& line);

// Every message of `topic`, read by python3-kafka (tests/kafka_sink/dump_topic.py).
Result<std::vector<ConsumedMessage>> ConsumeWithPython(const std::string& bootstrap,
                                                       const std::string& topic,
                                                       milliseconds timeout = milliseconds(60000));
// Every message of `topic`, read by kcat. Header values must not contain ','
// (kcat's list separator).
Result<std::vector<ConsumedMessage>> ConsumeWithKcat(const std::string& bootstrap,
                                                     const std::string& topic,
                                                     milliseconds timeout = milliseconds(60000));

// {"pk":"user#<id>"}
std::string KeyFor(int key_id);

// A stream of `count` records (sequence first_seq...) over `keys` items as a
// source would encode them: an event per record; every 7th record is a
// delete followed by its tombstone (sub_index 1, null value).
std::vector<cdc::EncodedEvent> MakeStream(const std::string& topic, uint64_t first_seq,
                                          size_t count, int keys, size_t value_bytes = 120);

// Emulates a CDC Source over an EventSink: sends its events in order with
// fresh tokens, keeps at most `max_in_flight` outstanding, advances its
// position over contiguously acknowledged events, rewinds to the position on
// kUnavailable (and sends everything after it again), and records permanent
// failures (counted as done).
class SourceEmulator : public cdc::DeliveryListener {
 public:
  explicit SourceEmulator(std::vector<cdc::EncodedEvent> events, size_t max_in_flight = 5000);

  void OnDelivered(uint64_t token, const Status& status) override;

  // Sends and polls until every event is done, calling `between` after each
  // poll. kUnavailable on timeout; the first unexpected Send error otherwise.
  Status Run(cdc::EventSink& sink, milliseconds timeout, const std::function<void()>& between = {});
  // Sends and polls until `done()` holds.
  Status RunUntil(cdc::EventSink& sink, const std::function<bool()>& done, milliseconds timeout);

  // Events [0, position) are all acknowledged (or failed for good).
  size_t position() const { return position_; }
  size_t size() const { return events_.size(); }
  // Resumes sending from event `index` (a restart from an older position).
  void SeekTo(size_t index) { next_ = index; }
  size_t outstanding() const { return tokens_.size(); }
  int ok_reports() const { return ok_reports_; }
  int unavailable_reports() const { return unavailable_reports_; }
  const std::map<size_t, Status>& failures() const { return failures_; }
  bool acked(size_t index) const { return done_[index] && !failures_.count(index); }

 private:
  void SendSome(cdc::EventSink& sink, Status* error);

  std::vector<cdc::EncodedEvent> events_;
  size_t max_in_flight_;
  std::vector<bool> done_;
  std::map<uint64_t, size_t> tokens_;
  uint64_t next_token_ = 1;
  size_t next_ = 0;
  size_t position_ = 0;
  bool rewind_ = false;
  int ok_reports_ = 0;
  int unavailable_reports_ = 0;
  std::map<size_t, Status> failures_;
};

// Checks `got` (a topic's messages) against `expected` (events sent):
// each expected event present (exactly once when `exactly_once`, at least
// once otherwise) with its key, value (null for tombstones) and headers;
// each key in a single partition; per key, positions increase with the
// offset (repeats allowed only when !exactly_once, and only as replays of
// what came before). Reports failures through gtest.
void ExpectTopicHolds(const std::vector<cdc::EncodedEvent>& expected,
                      const std::vector<ConsumedMessage>& got, bool exactly_once);

// The events of `all` whose indexes `acked` says were acknowledged.
std::vector<cdc::EncodedEvent> Acked(const std::vector<cdc::EncodedEvent>& all,
                                     const SourceEmulator& source);

}  // namespace keystone::kafka::testing
