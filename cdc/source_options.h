#pragma once

// SourceOptions: what one CDC source does: which table's stream it reads,
// which events it keeps, how it reshapes and encodes them, where it publishes
// and what it does on gaps and errors. Plain values, filled by config/ (which
// checks every range documented here) or by code and tests; thread-compatible.
// cdc/ runs a Source from these; it never sees YAML.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/enum_names.h"
#include "lmdb_store/attribute_value.h"
#include "lmdb_store/schema.h"

namespace keystone::cdc {

// Envelope of the published events.
enum class EventFormat { kDebezium, kDynamoDb };
inline constexpr EnumName<EventFormat> kEventFormatNames[] = {
    {EventFormat::kDebezium, "debezium"},
    {EventFormat::kDynamoDb, "dynamodb"},
};
inline std::string_view EventFormatName(EventFormat v) { return NameOf(kEventFormatNames, v); }
inline bool ParseEventFormat(std::string_view s, EventFormat* out) {
  return ParseName(kEventFormatNames, s, out);
}

// When the source publishes the table's existing items before streaming.
//   initial:      on first start (no stored position), then stream. No
//                 snapshot when the table's stream holds its whole history
//                 (enabled at creation, never disabled, nothing trimmed):
//                 the source streams from its start and so publishes every
//                 version, not only the final states.
//   never:        stream only, from the oldest retained record.
//   when_needed:  on first start and whenever the position fell behind the
//                 retained stream (overrides on_gap).
//   initial_only: snapshot once, then stop; no streaming.
enum class SnapshotMode { kInitial, kNever, kWhenNeeded, kInitialOnly };
inline constexpr EnumName<SnapshotMode> kSnapshotModeNames[] = {
    {SnapshotMode::kInitial, "initial"},
    {SnapshotMode::kNever, "never"},
    {SnapshotMode::kWhenNeeded, "when_needed"},
    {SnapshotMode::kInitialOnly, "initial_only"},
};
inline std::string_view SnapshotModeName(SnapshotMode v) { return NameOf(kSnapshotModeNames, v); }
inline bool ParseSnapshotMode(std::string_view s, SnapshotMode* out) {
  return ParseName(kSnapshotModeNames, s, out);
}

// What to do when retention dropped records the source had not published.
// Every policy reports the gap (log, metric, status); none skips silently.
enum class GapPolicy { kFail, kResnapshot, kSkip };
inline constexpr EnumName<GapPolicy> kGapPolicyNames[] = {
    {GapPolicy::kFail, "fail"},
    {GapPolicy::kResnapshot, "resnapshot"},
    {GapPolicy::kSkip, "skip"},
};
inline std::string_view GapPolicyName(GapPolicy v) { return NameOf(kGapPolicyNames, v); }
inline bool ParseGapPolicy(std::string_view s, GapPolicy* out) {
  return ParseName(kGapPolicyNames, s, out);
}

// at_least_once: idempotent producer; a crash may repeat a bounded tail.
// exactly_once: also the idempotent producer, not a transactional one (no
//   Kafka transactions): on start, and whenever the producer is recreated, the
//   sink reads the tail of each partition it writes (the keystone.seq header)
//   and skips every event that partition already holds. This works because a
//   source sends in one total order (see cdc/source.h) and requires Keystone
//   to be the only producer of those topics (see issue 5).
enum class DeliveryMode { kAtLeastOnce, kExactlyOnce };
inline constexpr EnumName<DeliveryMode> kDeliveryModeNames[] = {
    {DeliveryMode::kAtLeastOnce, "at_least_once"},
    {DeliveryMode::kExactlyOnce, "exactly_once"},
};
inline std::string_view DeliveryModeName(DeliveryMode v) { return NameOf(kDeliveryModeNames, v); }
inline bool ParseDeliveryMode(std::string_view s, DeliveryMode* out) {
  return ParseName(kDeliveryModeNames, s, out);
}

// An event Kafka rejects for good (not a transient error): stop the source, or
// publish it to dead_letter_topic and go on.
enum class PermanentErrorPolicy { kFail, kDeadLetter };
inline constexpr EnumName<PermanentErrorPolicy> kPermanentErrorPolicyNames[] = {
    {PermanentErrorPolicy::kFail, "fail"},
    {PermanentErrorPolicy::kDeadLetter, "dead_letter"},
};
inline std::string_view PermanentErrorPolicyName(PermanentErrorPolicy v) {
  return NameOf(kPermanentErrorPolicyNames, v);
}
inline bool ParsePermanentErrorPolicy(std::string_view s, PermanentErrorPolicy* out) {
  return ParseName(kPermanentErrorPolicyNames, s, out);
}

// An encoded event larger than the producer's message.max.bytes: stop the
// source, or publish the event with its key only (images dropped, marked).
enum class OversizePolicy { kFail, kKeyOnly };
inline constexpr EnumName<OversizePolicy> kOversizePolicyNames[] = {
    {OversizePolicy::kFail, "fail"},
    {OversizePolicy::kKeyOnly, "key_only"},
};
inline std::string_view OversizePolicyName(OversizePolicy v) {
  return NameOf(kOversizePolicyNames, v);
}
inline bool ParseOversizePolicy(std::string_view s, OversizePolicy* out) {
  return ParseName(kOversizePolicyNames, s, out);
}

// Change kinds as DynamoDB Streams names them (TRUNCATE is ours).
enum class EventType { kInsert, kModify, kRemove, kTruncate };
inline constexpr EnumName<EventType> kEventTypeNames[] = {
    {EventType::kInsert, "INSERT"},
    {EventType::kModify, "MODIFY"},
    {EventType::kRemove, "REMOVE"},
    {EventType::kTruncate, "TRUNCATE"},
};
inline std::string_view EventTypeName(EventType v) { return NameOf(kEventTypeNames, v); }
inline bool ParseEventType(std::string_view s, EventType* out) {
  return ParseName(kEventTypeNames, s, out);
}

// Which events a source publishes; an event must pass every filter given.
// Filtered-out events still advance the source's position.
struct FilterOptions {
  // Event kinds published; never empty (config rejects an empty list).
  std::vector<EventType> event_types = {EventType::kInsert, EventType::kModify, EventType::kRemove,
                                        EventType::kTruncate};
  // The partition key's value (S, or N/B as text) must start with this; "" = any.
  std::string key_prefix;
  // The partition key's value must match this glob (`*`, `?`, `[...]`); "" = any.
  std::string key_glob;
  // A DynamoDB ConditionExpression evaluated on the new image (the old image
  // for REMOVE); "" = none. `names` (#n) and `values` (:v) serve it as
  // ExpressionAttributeNames/Values do.
  std::string condition;
  std::map<std::string, std::string> names;
  std::map<std::string, store::AttributeValue> values;
  friend bool operator==(const FilterOptions&, const FilterOptions&) = default;
};

// One step of the transform chain, applied in order to each image.
enum class TransformType { kKeep, kDrop, kRename, kMask, kHash, kAddField, kAddHeader };
inline constexpr EnumName<TransformType> kTransformTypeNames[] = {
    {TransformType::kKeep, "keep"},
    {TransformType::kDrop, "drop"},
    {TransformType::kRename, "rename"},
    {TransformType::kMask, "mask"},
    {TransformType::kHash, "hash"},
    {TransformType::kAddField, "add_field"},
    {TransformType::kAddHeader, "add_header"},
};
inline std::string_view TransformTypeName(TransformType v) {
  return NameOf(kTransformTypeNames, v);
}
inline bool ParseTransformType(std::string_view s, TransformType* out) {
  return ParseName(kTransformTypeNames, s, out);
}

inline constexpr std::string_view kDefaultMaskValue = "****";

// Which fields a type uses (config rejects the others):
//   keep, drop, hash: attributes (non-empty). hash: SHA-256, hex.
//   mask: attributes; value replaces them (S), default kDefaultMaskValue.
//   rename: from, to (distinct).
//   add_field: name, value (added as S; overwrites).
//   add_header: name, value (a Kafka header on every event).
struct TransformOptions {
  TransformType type = TransformType::kKeep;
  std::vector<std::string> attributes;
  std::string from;
  std::string to;
  std::string name;
  std::string value;
  friend bool operator==(const TransformOptions&, const TransformOptions&) = default;
};

enum class AggregateFunction { kCount, kSum, kAvg, kMin, kMax };
inline constexpr EnumName<AggregateFunction> kAggregateFunctionNames[] = {
    {AggregateFunction::kCount, "count"}, {AggregateFunction::kSum, "sum"},
    {AggregateFunction::kAvg, "avg"},     {AggregateFunction::kMin, "min"},
    {AggregateFunction::kMax, "max"},
};
inline std::string_view AggregateFunctionName(AggregateFunction v) {
  return NameOf(kAggregateFunctionNames, v);
}
inline bool ParseAggregateFunction(std::string_view s, AggregateFunction* out) {
  return ParseName(kAggregateFunctionNames, s, out);
}

// Instead of one event per change, one event per tumbling window (and group)
// with the aggregates of `attribute` (an N attribute of the new image).
struct AggregateOptions {
  // Window length, [1, 86400].
  uint32_t window_seconds = 60;
  // Non-empty, no repeats.
  std::vector<AggregateFunction> functions = {AggregateFunction::kCount};
  // Required unless `functions` is only count.
  std::string attribute;
  // Attribute whose value (as text) names the group; "" = one group.
  std::string group_by;
  friend bool operator==(const AggregateOptions&, const AggregateOptions&) = default;
};

inline constexpr std::string_view kDefaultTopicTemplate = "keystone.{table}";

struct SourceOptions {
  // Unique among sources, 1-200 characters of [a-zA-Z0-9._-]; names the
  // source's stored position and its metrics. Required.
  std::string name;
  // The table whose stream this source reads. Required.
  std::string table;
  // Kafka topic; "{table}" and "{source}" are replaced by the table and
  // source names (see ExpandTopic). The result must be a legal topic name.
  std::string topic = std::string(kDefaultTopicTemplate);
  EventFormat format = EventFormat::kDebezium;
  // Publish less than the table's stream records (KEYS_ONLY, NEW_IMAGE or
  // OLD_IMAGE of a NEW_AND_OLD_IMAGES stream); never more. nullopt: the
  // table's view type.
  std::optional<store::StreamViewType> view_type;
  // Whether events carry the old image (debezium "before") when there is one.
  bool include_before = true;
  // Events per producer batch, [1, 100000].
  uint32_t batch_size = 500;
  // Longest a partial batch waits, [0, 60000] ms. 0: events go to the sink
  // as soon as a step has read them (a step reads up to batch_size records,
  // so a busy stream still gives full batches, and the Kafka producer's
  // linger.ms groups them on the wire); waiting here only adds latency.
  uint32_t batch_timeout_ms = 0;
  // Unacknowledged events allowed before the source stops reading
  // (backpressure), [1, 10000000], and their bytes, [1MiB, 16GiB].
  uint64_t max_in_flight_records = 10000;
  uint64_t max_in_flight_bytes = 64ull << 20;
  // Publish a null-value record after each REMOVE (for compacted topics).
  bool tombstones = true;
  // Debezium envelope with its "schema" part (JSON converter schemas.enable).
  bool debezium_schema = false;
  SnapshotMode snapshot = SnapshotMode::kInitial;
  // Items read per snapshot transaction, [1, 100000].
  uint32_t snapshot_chunk_size = 1000;
  GapPolicy on_gap = GapPolicy::kFail;
  DeliveryMode delivery = DeliveryMode::kAtLeastOnce;
  PermanentErrorPolicy on_permanent_error = PermanentErrorPolicy::kFail;
  // Topic template (same placeholders as `topic`); set exactly when
  // on_permanent_error is kDeadLetter.
  std::string dead_letter_topic;
  OversizePolicy oversize = OversizePolicy::kFail;
  // Publish a heartbeat event this often when idle, [0, 3600000] ms; 0 = off.
  uint32_t heartbeat_interval_ms = 0;
  FilterOptions filters;
  std::vector<TransformOptions> transforms;
  // Drop MODIFY events whose new image equals the old one.
  bool skip_noop_updates = false;
  std::optional<AggregateOptions> aggregate;
  friend bool operator==(const SourceOptions&, const SourceOptions&) = default;
};

// `topic_template` with every "{table}" and "{source}" replaced. Other text,
// including other braces, is copied (config rejects such templates).
inline std::string ExpandTopic(std::string_view topic_template, std::string_view table,
                               std::string_view source) {
  std::string out;
  size_t i = 0;
  while (i < topic_template.size()) {
    std::string_view rest = topic_template.substr(i);
    if (rest.starts_with("{table}")) {
      out += table;
      i += 7;
    } else if (rest.starts_with("{source}")) {
      out += source;
      i += 8;
    } else {
      out += topic_template[i++];
    }
  }
  return out;
}

// The settings that differ between `before` and `after`, by their config key
// names under sources[] ("batch_size", "filters", ...), in config order;
// empty when they are equal. For logs that say what a reload changed.
std::vector<std::string_view> ChangedSettings(const SourceOptions& before,
                                              const SourceOptions& after);

}  // namespace keystone::cdc
