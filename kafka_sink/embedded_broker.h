#pragma once

// EmbeddedBroker: a development Kafka cluster inside this process — librdkafka's
// mock cluster (rdkafka_mock.h). It speaks the Kafka protocol on loopback, so
// any client (kcat, python3-kafka, Keystone's sink) can use it, but it keeps
// everything in memory and loses it on exit. For development and tests only,
// never for data that matters; Start logs this loudly.
//
// Where it listens: each mock broker binds its own listener to 127.0.0.1 with
// port 0, so the kernel picks a free port; the addresses are only known after
// start and are what bootstrap_servers() returns ("127.0.0.1:p1,127.0.0.1:p2").
// librdkafka 2.0.2 offers no way to choose the ports.
//
// Limits of the 2.0.2 mock cluster (what tests must not rely on):
//   - ~5 MiB retained per partition; older messages disappear.
//   - No CreateTopics (Admin API): topics are created by metadata requests
//     (auto-creation, 4 partitions) or by CreateTopic below.
//   - No transaction markers: read_committed hides nothing.
//   - Batches over ~2.5 MiB may become unreadable for consumers.
//   - Group rejoin waits session.timeout.ms.
//   - Produce requests are not checked against size limits or ACLs.
//
// Thread safety: every method may be called from any thread; the mock runs
// its own thread and serialises the fault controls.

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace keystone::kafka {

class EmbeddedBroker {
 public:
  // Starts a cluster of `brokers` brokers (ids 1..brokers), [1, 16].
  // kInvalidArgument for a bad count, kIoError when the cluster cannot start.
  static Result<std::unique_ptr<EmbeddedBroker>> Start(int brokers);

  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // "127.0.0.1:port,..." — one entry per broker.
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }
  int broker_count() const { return broker_count_; }

  // Fault controls and setup. Each returns kInvalidArgument when the mock
  // rejects the request (e.g. an unknown broker id), naming the error.

  // Creates `topic` with `partitions` partitions (leaders spread over the
  // brokers) and `replication_factor` replicas, [1, broker_count()].
  Status CreateTopic(const std::string& topic, int partitions, int replication_factor = 1);
  // Disconnects broker `id` and refuses new connections; leaders stay where
  // they are (clients see the partitions it leads as unreachable). -1: all.
  Status BrokerDown(int32_t id);
  Status BrokerUp(int32_t id);
  // Makes broker `id` the leader of topic/partition; -1 leaves the partition
  // without a leader (LEADER_NOT_AVAILABLE) until a leader is set again.
  Status SetPartitionLeader(const std::string& topic, int32_t partition, int32_t id);
  // The next `count` Produce requests (to any broker) fail with Kafka error
  // code `error_code` (e.g. 6 NOT_LEADER_FOR_PARTITION, 7 REQUEST_TIMED_OUT).
  Status PushProduceErrors(int error_code, int count);
  // Metadata requests for `topic` report Kafka error `error_code` (0 clears),
  // e.g. 29 TOPIC_AUTHORIZATION_FAILED or 3 UNKNOWN_TOPIC_OR_PART.
  Status SetTopicError(const std::string& topic, int error_code);
  // Every response from broker `id` (-1: all) is delayed by `rtt_ms`.
  Status SetBrokerRtt(int32_t id, int rtt_ms);

 private:
  struct Impl;
  EmbeddedBroker(std::unique_ptr<Impl> impl, std::string bootstrap, int brokers);

  std::unique_ptr<Impl> impl_;
  std::string bootstrap_servers_;
  int broker_count_;
};

}  // namespace keystone::kafka
