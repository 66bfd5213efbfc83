#pragma once

// EventSink: where a CDC Source hands its encoded events, and how it learns
// that they are safe. cdc/ defines it and knows nothing of Kafka; kafka_sink/
// implements it with librdkafka; tests use a fake.
//
// Contract (invariant 3 of ARCHITECTURE.md, "no loss"): the sink reports every
// event it accepted exactly once through DeliveryListener::OnDelivered —
// success only once the destination acknowledged it durably (Kafka: acks=all),
// or a final error. A source advances its position only past events reported
// OK. Events of one partition key reach the destination in the order sent.
//
// Thread safety: Send, Poll and Flush are called from the source's thread
// only. OnDelivered is called from within Poll or Flush on that same thread,
// never concurrently and never from inside Send.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace keystone::cdc {

// Header names every event carries.
inline constexpr char kHeaderSequence[] = "keystone.seq";  // decimal stream sequence number
inline constexpr char kHeaderOp[] = "keystone.op";         // c u d r t h (heartbeat) g (gap)
inline constexpr char kHeaderTable[] = "keystone.table";
inline constexpr char kHeaderSource[] = "keystone.source";
// Where the event stands among the events of its record and snapshot, so that
// exactly-once mode can read it back from the tail of a partition. The sink
// adds these (and kHeaderSequence) from the EncodedEvent fields when the
// source did not: kHeaderSubIndex when sub_index > 0, kHeaderSnapshotOrdinal
// (decimal snapshot_ordinal) on snapshot events only.
inline constexpr char kHeaderSubIndex[] = "keystone.sub";
inline constexpr char kHeaderSnapshotOrdinal[] = "keystone.snap";

// One message, encoded and ready to publish.
struct EncodedEvent {
  // Assigned by the source, unique and increasing per source for the life of
  // the sink; echoed in OnDelivered.
  uint64_t token = 0;
  std::string topic;
  // The message key (JSON of the item's key attributes for item events). The
  // partition is chosen from these bytes (murmur2, as Java clients do), so all
  // events of one item share a partition.
  std::optional<std::string> key;
  // Null for a tombstone.
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::string>> headers;
  // The stream record this event comes from (0 for events that come from no
  // record, e.g. heartbeats), and its place among that record's events (an
  // item event 0, its tombstone 1). Within one partition, (sequence,
  // sub_index) only grows: exactly-once mode relies on it.
  uint64_t sequence = 0;
  uint32_t sub_index = 0;
  // Snapshot events are ordered by `sequence` = the snapshot's stream
  // sequence and `snapshot_ordinal` = the item's index in the snapshot.
  bool snapshot = false;
  uint64_t snapshot_ordinal = 0;

  size_t ByteSize() const {
    size_t n = topic.size() + (key ? key->size() : 0) + (value ? value->size() : 0);
    for (const auto& [k, v] : headers) n += k.size() + v.size();
    return n;
  }
};

class DeliveryListener {
 public:
  virtual ~DeliveryListener() = default;
  // `status`:
  //   OK: durably acknowledged (or, in exactly-once mode, found already in
  //       the destination and skipped).
  //   kUnavailable: not delivered and will not be; the sink was reset (e.g.
  //       the producer was recreated after a fatal error). The source must
  //       rewind to its position and send again from there.
  //   any other error: a permanent failure of this event that the sink's
  //       policy did not absorb (dead-lettered events are reported OK). The
  //       source applies its policy (stop, loudly).
  virtual void OnDelivered(uint64_t token, const Status& status) = 0;
  // The reports of one Poll or Flush round, in the order the sink decided
  // them: the same as OnDelivered for each in turn, which is what the default
  // does. A listener overrides it to do once per round what it would
  // otherwise do per event (read the clock, update shared counters).
  virtual void OnDeliveredBatch(std::span<const std::pair<uint64_t, Status>> reports) {
    for (const auto& [token, status] : reports) OnDelivered(token, status);
  }
};

class EventSink {
 public:
  virtual ~EventSink() = default;

  // Prepares the sink (connects, and in exactly-once mode reads what each
  // partition of `topics` already holds). `listener` must outlive the sink.
  virtual Status Start(DeliveryListener* listener, const std::vector<std::string>& topics) = 0;

  // Accepts one event for delivery. The sink copies what it keeps: `event`
  // is the caller's again once Send returns. kUnavailable: the sink's queue
  // is full right now (backpressure); nothing was taken, Poll and try again.
  // Other errors: the event was not taken and never will be (e.g. the sink
  // is stopped).
  virtual Status Send(const EncodedEvent& event) = 0;

  // Serves delivery reports, waiting up to `timeout` for the first one.
  virtual void Poll(std::chrono::milliseconds timeout) = 0;

  // Waits until every accepted event was reported, or `timeout`.
  // kUnavailable on timeout with events still outstanding.
  virtual Status Flush(std::chrono::milliseconds timeout) = 0;

  // Events accepted and not yet reported.
  virtual size_t InFlight() const = 0;
};

}  // namespace keystone::cdc
