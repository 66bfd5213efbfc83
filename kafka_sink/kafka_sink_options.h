#pragma once

// KafkaSinkOptions: everything one KafkaEventSink needs — how to reach Kafka
// (from KafkaOptions) and what its source asks of delivery (from the source's
// cdc::SourceOptions). The daemon fills one per source; see
// kafka_sink/source_sink_options.h for the mapping. Plain values;
// thread-compatible.
//
// Producer configuration, in order of precedence:
//   1. Fixed by Keystone (the no-loss and per-key-order guarantees depend on
//      them); `properties` may repeat them only with the same value:
//        enable.idempotence=true  acks=all  partitioner=murmur2_random
//        message.timeout.ms=0     enable.gapless.guarantee=true
//      transactional.id is rejected (exactly-once works without transactions).
//   2. `properties`, passed to librdkafka as they are (SASL, TLS,
//      compression.type, linger.ms, ...). A property librdkafka does not know
//      or whose value it rejects fails Create with an error naming it; secret
//      values (kafka::IsSecretProperty) never appear in errors or logs.
//   3. Throughput defaults: linger.ms=5, batch.num.messages=10000,
//      batch.size=1000000, queue.buffering.max.messages=100000,
//      queue.buffering.max.kbytes=65536, socket.keepalive.enable=true.
//      Compression is librdkafka's default (none) unless `properties` set
//      compression.type.

#include <chrono>
#include <map>
#include <string>

#include "kafka_sink/kafka_options.h"

namespace keystone::kafka {

enum class SinkDelivery {
  // Idempotent producer; after a crash or a producer recreation the source
  // replays from its position, so Kafka may hold a bounded repeated tail.
  kAtLeastOnce,
  // As above, and the sink reads what each partition already holds (the
  // position header of its last event) on Start and after every producer
  // recreation, and reports events at or below it as delivered without
  // producing them again. See KafkaEventSink for what this requires.
  kExactlyOnce,
};

// An event Kafka rejects for good (too large for the broker, not authorised,
// unknown topic, invalid record).
enum class PermanentErrorAction {
  kFail,        // report the error to the source (it stops, loudly)
  kDeadLetter,  // produce the event to dead_letter_topic with error headers
};

// An event larger than the producer's message.max.bytes.
enum class OversizeAction {
  kFail,     // report the error to the source (not dead-lettered: the copy
             // would be as large)
  kKeyOnly,  // produce it again with the same key and headers, an empty value
             // and the header keystone.oversize = original value bytes
};

struct KafkaSinkOptions {
  // "host:port,host:port"; never "embedded" — the daemon starts the
  // EmbeddedBroker and puts its address here. Required.
  std::string bootstrap_servers;
  // librdkafka properties (see above). Must not contain bootstrap.servers or
  // client.id.
  std::map<std::string, std::string> properties;
  // librdkafka client.id; the sink appends "-" + source_name when that is set.
  std::string client_id = "keystone";
  // Names the sink in logs and client ids.
  std::string source_name;
  // CreateTopics for the topics given to Start (and the dead-letter topic).
  TopicCreationOptions topic_creation;

  SinkDelivery delivery = SinkDelivery::kAtLeastOnce;
  PermanentErrorAction on_permanent_error = PermanentErrorAction::kFail;
  // Required (a legal topic name) exactly when on_permanent_error is
  // kDeadLetter. The dead-letter topic is at-least-once in both modes.
  std::string dead_letter_topic;
  OversizeAction oversize = OversizeAction::kFail;

  // How long Start, and a producer recreation, may spend reading partition
  // tails (exactly-once) and creating topics. Start fails with kUnavailable
  // past it; after a recreation the sink retries.
  std::chrono::milliseconds startup_timeout{30000};
  // How long Start waits for CreateTopics. A broker without a reachable
  // controller (librdkafka's mock cluster) makes it wait the whole time.
  std::chrono::milliseconds topic_creation_timeout{10000};
  // How long a producer recreation waits for requests already sent to the
  // brokers to be answered before it abandons them.
  std::chrono::milliseconds reset_drain_timeout{5000};
  // Delay before recreating the producer again after a recreation; doubles
  // on each consecutive one up to the maximum.
  std::chrono::milliseconds recreate_backoff{100};
  std::chrono::milliseconds recreate_backoff_max{10000};
};

}  // namespace keystone::kafka
