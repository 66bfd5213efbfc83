#pragma once

// Table schemas and stream configuration: what CreateTable takes and
// DescribeTable returns. Plain value types; thread-compatible.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "lmdb_store/attribute_value.h"

namespace keystone::store {

// What a change record carries, fixed per record at the time of the write
// (as in DynamoDB Streams).
enum class StreamViewType : uint8_t {
  kKeysOnly = 1,
  kNewImage = 2,
  kOldImage = 3,
  kNewAndOldImages = 4,
};

// "KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES".
std::string_view StreamViewTypeName(StreamViewType type);
bool ParseStreamViewType(std::string_view name, StreamViewType* out);

inline constexpr uint64_t kDefaultStreamBufferSize = 1000;

struct StreamConfig {
  bool enabled = true;
  StreamViewType view_type = StreamViewType::kNewAndOldImages;
  // Records retained per table; older ones are dropped first unless a reader
  // position pins them (see StoreOptions::pin_max_records/bytes).
  uint64_t buffer_size = kDefaultStreamBufferSize;
  friend bool operator==(const StreamConfig&, const StreamConfig&) = default;
};

// How a table's capacity is billed (DynamoDB's BillingMode). The store keeps
// and reports it; it enforces no capacity either way.
enum class BillingMode : uint8_t {
  kPayPerRequest = 0,
  kProvisioned = 1,
};

// "PAY_PER_REQUEST", "PROVISIONED".
std::string_view BillingModeName(BillingMode mode);

// A table's billing mode and, when provisioned, its capacity units (DynamoDB's
// ProvisionedThroughput). The default, which is also what tables stored before
// billing was kept load as, is kPayPerRequest without units.
struct BillingConfig {
  BillingMode mode = BillingMode::kPayPerRequest;
  // Both at least 1 when mode is kProvisioned, both 0 when kPayPerRequest.
  uint64_t read_capacity_units = 0;
  uint64_t write_capacity_units = 0;
  friend bool operator==(const BillingConfig&, const BillingConfig&) = default;
};

// A table's Time to Live (DynamoDB's TimeToLiveSpecification): when enabled,
// an item whose `attribute_name` attribute is a Number of seconds since the
// epoch that has passed (by no more than kTimeToLiveMaxAgeSeconds) is
// deleted by ItemStore::ExpireItems, with a REMOVE stream record marked
// expired_by_ttl. Until then it reads as any other item, as in DynamoDB.
struct TimeToLiveConfig {
  bool enabled = false;
  // 1-255 bytes when enabled; empty when disabled.
  std::string attribute_name;
  friend bool operator==(const TimeToLiveConfig&, const TimeToLiveConfig&) = default;
};

// Expiry times further in the past than this are not acted on (DynamoDB:
// five years), so that a misread attribute, e.g. milliseconds taken for
// seconds the other way round, never deletes the table's items.
inline constexpr int64_t kTimeToLiveMaxAgeSeconds = 5LL * 365 * 24 * 60 * 60;

// A key attribute: its name and type (S, N or B).
struct KeyAttribute {
  std::string name;
  AttributeType type = AttributeType::kS;
  friend bool operator==(const KeyAttribute&, const KeyAttribute&) = default;
};

// Which attributes a secondary index holds besides the table's and the
// index's key attributes (DynamoDB's Projection).
enum class ProjectionType : uint8_t {
  kAll = 0,       // every attribute of the item
  kKeysOnly = 1,  // the key attributes only
  kInclude = 2,   // the key attributes and IndexProjection::non_key_attributes
};

// "ALL", "KEYS_ONLY", "INCLUDE".
std::string_view ProjectionTypeName(ProjectionType type);
bool ParseProjectionType(std::string_view name, ProjectionType* out);

struct IndexProjection {
  ProjectionType type = ProjectionType::kAll;
  // kInclude: 1 to kMaxIndexNonKeyAttributes names; otherwise empty.
  std::vector<std::string> non_key_attributes;
  friend bool operator==(const IndexProjection&, const IndexProjection&) = default;
};

// A secondary index (DynamoDB's GlobalSecondaryIndex or LocalSecondaryIndex).
// The store keeps it in the same write transactions as the table: an item
// with every key attribute of the index is in it (as its projection), one
// without is not (a sparse index). So reads of an index are as consistent as
// reads of the table, which DynamoDB promises only for local indexes.
struct SecondaryIndex {
  std::string name;  // 3-255 characters of [a-zA-Z0-9_.-], unique in the table
  // false: a local index, whose partition key is the table's and which has a
  // sort key of its own.
  bool global = true;
  KeyAttribute partition_key;
  std::optional<KeyAttribute> sort_key;
  IndexProjection projection;
  // A global index's ProvisionedThroughput when the table is PROVISIONED
  // (both at least 1), else 0 and 0. Kept and reported, never enforced.
  uint64_t read_capacity_units = 0;
  uint64_t write_capacity_units = 0;
  friend bool operator==(const SecondaryIndex&, const SecondaryIndex&) = default;
};

// DynamoDB's limits on a table's indexes.
inline constexpr size_t kMaxGlobalIndexes = 20;
inline constexpr size_t kMaxLocalIndexes = 5;
// Distinct INCLUDE attribute names over all indexes of a table.
inline constexpr size_t kMaxIndexNonKeyAttributes = 100;

struct TableSchema {
  std::string name;
  KeyAttribute partition_key;
  std::optional<KeyAttribute> sort_key;
  // Global and local secondary indexes, in the order they were defined.
  std::vector<SecondaryIndex> indexes;
  StreamConfig stream;
  BillingConfig billing;
  TimeToLiveConfig ttl;
  // DynamoDB's resource tags: at most kMaxTableTags, keys 1-128 bytes,
  // values 0-256 bytes (ValidateTags).
  std::map<std::string, std::string> tags;
  friend bool operator==(const TableSchema&, const TableSchema&) = default;
};

// DynamoDB's rules: table name 3-255 characters of [a-zA-Z0-9_.-], key
// attribute names 1-255 bytes, key types S/N/B, partition and sort key names
// distinct, buffer size >= 1, billing as ValidateBillingConfig, TTL as
// ValidateTimeToLiveConfig, indexes as ValidateIndexes. The message names the
// offending field.
Status ValidateTableSchema(const TableSchema& schema);

// DynamoDB's rules for `schema.indexes`: names valid and unique; at most
// kMaxGlobalIndexes global and kMaxLocalIndexes local ones; a local index
// only on a table with a sort key, with the table's partition key and a sort
// key of its own; an index's two key attributes distinct; an attribute that
// is a key of the table or of several indexes has one type throughout;
// INCLUDE with 1 or more non-key attributes (kMaxIndexNonKeyAttributes
// distinct ones over the table), ALL and KEYS_ONLY with none; a global
// index's capacity units as the table's billing mode requires.
Status ValidateIndexes(const TableSchema& schema);

// The index named `name`, or nullptr.
const SecondaryIndex* FindIndex(const TableSchema& schema, std::string_view name);

// kInvalidArgument unless the capacity units fit the mode (see BillingConfig).
Status ValidateBillingConfig(const BillingConfig& billing);

inline constexpr size_t kMaxTableTags = 50;

// kInvalidArgument unless `tags` keeps DynamoDB's limits (see
// TableSchema::tags); the message names the offending key.
Status ValidateTags(const std::map<std::string, std::string>& tags);

// kInvalidArgument unless an enabled config names an attribute of 1-255
// bytes and a disabled one names none.
Status ValidateTimeToLiveConfig(const TimeToLiveConfig& ttl);

// Limits DynamoDB enforces on items and requests.
inline constexpr size_t kMaxItemBytes = 400 * 1024;
inline constexpr size_t kMaxPartitionKeyBytes = 2048;
inline constexpr size_t kMaxSortKeyBytes = 1024;
inline constexpr size_t kMaxBatchWriteItems = 25;
inline constexpr size_t kMaxBatchGetKeys = 100;
inline constexpr size_t kMaxTransactItems = 100;
inline constexpr size_t kMaxPageBytes = 1024 * 1024;

}  // namespace keystone::store
