#pragma once

// Private to kafka_sink/: reads what each partition of a topic already holds,
// as exactly-once mode needs it — the highest EventPosition among the last
// messages of every partition.
//
// Per partition it reads the last few messages (a growing window, walking
// back past messages without a position such as heartbeats or foreign
// messages) up to the high watermark, with a short-lived consumer that joins
// no group and commits nothing (read_uncommitted: everything written counts).
// Not thread-safe; one reader per sink thread.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "kafka_sink/event_position.h"

namespace keystone::kafka {

struct TopicTails {
  // 0: the topic does not exist (so holds nothing).
  int32_t partition_count = 0;
  // Per partition: the highest position present; nullopt when none.
  std::vector<std::optional<EventPosition>> last;
};

class TailReader {
 public:
  using Deadline = std::chrono::steady_clock::time_point;

  // `properties`: the user's librdkafka properties (producer-only ones are
  // left out for the consumer).
  TailReader(std::string bootstrap_servers, std::string client_id,
             std::map<std::string, std::string> properties);

  // The partition count of `topic` as `producer` sees it (a metadata request
  // through the producer, so that the count is the one its partitioner
  // uses); 0 when the broker says the topic does not exist. kUnavailable when
  // no answer came before `deadline`.
  static Result<int32_t> PartitionCount(rd_kafka_t* producer, const std::string& topic,
                                        Deadline deadline);

  // Reads the tails of the `partition_count` partitions of `topic`.
  // kUnavailable when the brokers did not answer before `deadline`;
  // kInvalidArgument for a bad property. Adds to *partitions_read.
  Result<TopicTails> Read(const std::string& topic, int32_t partition_count, Deadline deadline,
                          uint64_t* partitions_read);

 private:
  std::string bootstrap_servers_;
  std::string client_id_;
  std::map<std::string, std::string> properties_;
};

}  // namespace keystone::kafka
