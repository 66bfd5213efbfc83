#pragma once

// KafkaEventSink: cdc::EventSink over one librdkafka idempotent producer.
//
// Delivery. Send hands the event to librdkafka (key, value, headers, topic;
// the partition is murmur2 of the key, as Java clients choose it, so every
// event of one item lands in one partition, in Send order). The event is
// reported OK only from its delivery report, i.e. after the partition's
// in-sync replicas have it (acks=all). librdkafka retries transient failures
// for ever (message.timeout.ms=0); a full local queue makes Send return
// kUnavailable (backpressure) and nothing is dropped.
//
// Permanent failures (message too large for the broker, topic authorisation,
// unknown topic, invalid record) follow on_permanent_error; oversize events
// rejected by the producer's own message.max.bytes follow `oversize`. A
// broker rejects a whole batch, and with enable.gapless.guarantee librdkafka
// then raises a fatal error; so the sink treats every event of such a batch
// as a suspect, recreates the producer (below), and when the source sends a
// suspect again, sends it alone: only an event that fails on its own gets the
// policy (dead letter, key only, or the error reported to the source). Keep
// message.max.bytes (a property) at or below the broker's limit, so that
// oversize events are caught before they are sent.
//
// Fatal producer errors (rd_kafka_fatal_error) — and any delivery failure the
// sink cannot attribute to one event — reset the sink: the producer is
// destroyed (after waiting up to reset_drain_timeout for answers to requests
// already sent), every outstanding event is reported kUnavailable (the source
// rewinds to its position and sends again), and a new producer is created,
// after a backoff when resets repeat. Nothing is skipped.
//
// Exactly-once (SinkDelivery::kExactlyOnce), without Kafka transactions. On
// Start, and after every producer recreation before anything is sent, the
// sink reads the last event of every partition of the source's topics (the
// keystone.seq / keystone.sub / keystone.snap headers, see event_position.h)
// and then reports every event whose position is at or below its partition's
// last one as delivered without producing it. The partition is computed from
// the key as the producer computes it. This is exact only if:
//   - Keystone's source is the only producer of those topics;
//   - their partition counts do not change while events are in flight or
//     between a crash and the restart (the sink reads the count at start);
//   - events carry keys (events without a key, or with sequence 0 such as
//     heartbeats, are never skipped: they may repeat);
//   - the source emits per partition in increasing position (cdc::EventSink);
//   - after a fatal error the old producer's requests are answered or lost
//     before the tails are read (the reset waits for the answers; a request
//     a broker still appends after the producer was destroyed is the one
//     residual window).
// Events of a topic not given to Start have their topic's tails read on
// first use (Send then blocks up to startup_timeout).
//
// Topic creation: with topic_creation.create_topics, Start creates the topics
// (CreateTopics, Admin API) with the configured partitions and replication;
// topics the cluster already lists (a metadata request for all topics) are
// not asked for. A broker without CreateTopics (librdkafka's
// mock cluster) or a refusal is logged as a warning and counted, and
// publishing relies on the broker's auto-creation.
//
// Thread safety: as cdc::EventSink — Start, Send, Poll, Flush and InFlight
// from one thread; OnDelivered is called on it from Poll and Flush only.
// stats() may be read from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "cdc/event_sink.h"
#include "kafka_sink/kafka_sink_options.h"

namespace keystone::kafka {

// Headers the sink adds to dead-lettered and key-only events.
inline constexpr char kHeaderError[] = "keystone.error";           // librdkafka's message
inline constexpr char kHeaderErrorCode[] = "keystone.error.code";  // e.g. MSG_SIZE_TOO_LARGE
inline constexpr char kHeaderOriginalTopic[] = "keystone.original.topic";
inline constexpr char kHeaderOversize[] = "keystone.oversize";  // original value bytes

// Counters for metrics; monotonic. The daemon exports them as
// keystone_kafka_<name> with a source label.
struct KafkaSinkStats {
  std::atomic<uint64_t> events_sent_total{0};     // accepted by Send
  std::atomic<uint64_t> events_acked_total{0};    // reported OK after an ack
  std::atomic<uint64_t> events_skipped_total{0};  // exactly-once: already in Kafka
  std::atomic<uint64_t> events_failed_total{0};   // reported with a permanent error
  std::atomic<uint64_t> events_dead_lettered_total{0};
  std::atomic<uint64_t> events_key_only_total{0};
  std::atomic<uint64_t> events_reset_total{0};  // reported kUnavailable by a reset
  std::atomic<uint64_t> queue_full_total{0};    // Send returned kUnavailable
  std::atomic<uint64_t> producer_recreations_total{0};
  std::atomic<uint64_t> isolated_sends_total{0};  // suspects sent alone
  std::atomic<uint64_t> broker_errors_total{0};   // non-fatal client errors (warn log)
  std::atomic<uint64_t> topic_creation_failures_total{0};
  std::atomic<uint64_t> tail_reads_total{0};  // partitions whose tail was read
};

class KafkaEventSink final : public cdc::EventSink {
 public:
  // Validates `options` and builds the producer configuration; connects to
  // nothing yet. kInvalidArgument naming the offending option or property.
  static Result<std::unique_ptr<KafkaEventSink>> Create(KafkaSinkOptions options);

  // Destroys the producer without waiting: events not yet reported are
  // abandoned (neither reported nor known to be in Kafka — as after a crash).
  // Call Flush first for a graceful stop.
  ~KafkaEventSink() override;

  // Creates the producer, optionally the topics, and in exactly-once mode
  // reads the partition tails of `topics`. kUnavailable when the brokers
  // could not be reached within startup_timeout (call Start again);
  // kFailedPrecondition when already started.
  Status Start(cdc::DeliveryListener* listener, const std::vector<std::string>& topics) override;

  // See cdc::EventSink. Also kUnavailable while the sink resets its producer
  // or sends a suspect alone. kFailedPrecondition before Start.
  Status Send(const cdc::EncodedEvent& event) override;
  void Poll(std::chrono::milliseconds timeout) override;
  Status Flush(std::chrono::milliseconds timeout) override;
  size_t InFlight() const override;

  const KafkaSinkStats& stats() const { return stats_; }

  // The partition the sink predicts for `key` in `topic` from the partition
  // count it read (exactly-once mode); -1 when it has not read the topic.
  // For tests and diagnostics.
  int32_t PredictedPartition(const std::string& topic, const std::string& key) const;

  struct Impl;

 private:
  explicit KafkaEventSink(std::unique_ptr<Impl> impl);

  KafkaSinkStats stats_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keystone::kafka
