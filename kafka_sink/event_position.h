#pragma once

// EventPosition: where an event stands in its source's output order, as
// exactly-once mode compares it with the last event of a Kafka partition.
//
// A source emits, per partition, events in strictly increasing position:
//   stream events       (sequence, sub_index)
//   snapshot events     all carry the snapshot's stream sequence S and are
//                       ordered by snapshot_ordinal; the stream resumes after
//                       S, so they sort before every stream event of S.
// The order is the tuple (sequence, stream-after-snapshot, snapshot_ordinal,
// sub_index). Events with sequence 0 (heartbeats) have no position.
//
// Positions travel in the message headers of cdc/event_sink.h:
//   keystone.seq   decimal sequence, > 0            (required)
//   keystone.sub   decimal sub_index, default 0
//   keystone.snap  decimal snapshot ordinal; present only on snapshot events
//
// Value type; thread-compatible; pure functions.

#include <charconv>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cdc/event_sink.h"

namespace keystone::kafka {

struct EventPosition {
  uint64_t sequence = 0;
  bool snapshot = false;
  uint64_t snapshot_ordinal = 0;
  uint32_t sub_index = 0;

  friend std::strong_ordering operator<=>(const EventPosition& a, const EventPosition& b) {
    if (auto c = a.sequence <=> b.sequence; c != 0) return c;
    // At one sequence, snapshot events come first.
    if (auto c = !a.snapshot <=> !b.snapshot; c != 0) return c;
    if (auto c = a.snapshot_ordinal <=> b.snapshot_ordinal; c != 0) return c;
    return a.sub_index <=> b.sub_index;
  }
  friend bool operator==(const EventPosition&, const EventPosition&) = default;

  // "seq 12 sub 1" / "seq 12 snapshot 40", for messages.
  std::string ToString() const;
};

// The position of `event`; nullopt when its sequence is 0.
std::optional<EventPosition> PositionOf(const cdc::EncodedEvent& event);

// One header as librdkafka hands it: name, and value bytes (null when the
// header has no value).
struct HeaderView {
  std::string_view name;
  std::optional<std::string_view> value;
};

// The position encoded in a message's headers. nullopt when keystone.seq is
// missing, not a canonical decimal (digits only, no leading zero, fits in 64
// bits) or 0, or when keystone.sub / keystone.snap is present and malformed
// (such a message is not trusted as a tail). The last occurrence of a
// repeated header wins, as Kafka clients' lastHeader() does.
std::optional<EventPosition> ParsePosition(const std::vector<HeaderView>& headers);

// Calls add(name, value) (both std::string_view, valid during the call) for
// each of keystone.seq / keystone.sub / keystone.snap that the event's fields
// call for and its headers lack. Events with sequence 0 get none.
template <typename Add>
void ForEachMissingPositionHeader(const cdc::EncodedEvent& event, Add&& add);

// Adds to `event.headers` what ForEachMissingPositionHeader names.
void AddPositionHeaders(cdc::EncodedEvent& event);

// Parses a canonical unsigned decimal (see ParsePosition).
std::optional<uint64_t> ParseDecimal(std::string_view text);

template <typename Add>
void ForEachMissingPositionHeader(const cdc::EncodedEvent& event, Add&& add) {
  if (event.sequence == 0) return;
  bool has_seq = false, has_sub = false, has_snap = false;
  for (const auto& [name, value] : event.headers) {
    has_seq |= name == cdc::kHeaderSequence;
    has_sub |= name == cdc::kHeaderSubIndex;
    has_snap |= name == cdc::kHeaderSnapshotOrdinal;
  }
  char text[24];
  auto decimal = [&](uint64_t v) {
    return std::string_view(
        text, static_cast<size_t>(std::to_chars(text, text + sizeof(text), v).ptr - text));
  };
  if (!has_seq) add(std::string_view(cdc::kHeaderSequence), decimal(event.sequence));
  if (!has_sub && event.sub_index != 0) {
    add(std::string_view(cdc::kHeaderSubIndex), decimal(event.sub_index));
  }
  if (!has_snap && event.snapshot) {
    add(std::string_view(cdc::kHeaderSnapshotOrdinal), decimal(event.snapshot_ordinal));
  }
}

}  // namespace keystone::kafka
