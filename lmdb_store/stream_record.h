#pragma once

// StreamRecord: one entry of a table's persistent change stream, appended in
// the same LMDB write transaction as the item change it describes. Value type;
// thread-compatible.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "lmdb_store/attribute_value.h"
#include "lmdb_store/schema.h"

namespace keystone::store {

enum class StreamEventType : uint8_t {
  kInsert = 1,  // a new item
  kModify = 2,  // an existing item changed (including a put over it)
  kRemove = 3,  // an item was deleted
  // Every item of the table was removed at once (TruncateTable, DeleteTable).
  // Carries no keys or images. Not part of DynamoDB Streams; the HTTP streams
  // API does not show it, CDC sources turn it into op "t".
  kTruncate = 4,
};

// "INSERT", "MODIFY", "REMOVE", "TRUNCATE".
std::string_view StreamEventTypeName(StreamEventType type);

struct StreamRecord {
  // Global across tables, strictly increasing, never reused.
  uint64_t sequence = 0;
  std::string table;
  StreamEventType type = StreamEventType::kInsert;
  // Wall-clock time of the write, milliseconds since the epoch.
  int64_t timestamp_ms = 0;
  StreamViewType view_type = StreamViewType::kNewAndOldImages;
  // The key attributes of the item (empty for kTruncate).
  Item keys;
  // Present as the view type says: old image for MODIFY/REMOVE with OLD_IMAGE
  // or NEW_AND_OLD_IMAGES, new image for INSERT/MODIFY with NEW_IMAGE or
  // NEW_AND_OLD_IMAGES.
  std::optional<Item> old_image;
  std::optional<Item> new_image;
  // DynamoDB's SizeBytes: keys plus the images present.
  size_t size_bytes = 0;
  // A REMOVE made by Time to Live expiry (ItemStore::ExpireItems), not by a
  // client: DynamoDB Streams shows it with a userIdentity of the service.
  bool expired_by_ttl = false;
};

// A stream record as stored, its keys and images left in EncodeItem's
// encoding: for readers that translate records (VisitItem) without building
// Items. The views point into the buffer the record was parsed from.
struct EncodedStreamRecord {
  uint64_t sequence = 0;
  StreamEventType type = StreamEventType::kInsert;
  int64_t timestamp_ms = 0;
  StreamViewType view_type = StreamViewType::kNewAndOldImages;
  std::string_view keys;
  std::optional<std::string_view> old_image;
  std::optional<std::string_view> new_image;
  size_t size_bytes = 0;
  bool expired_by_ttl = false;
};

// Serialises everything but `sequence` and `table`, which the stream's LMDB
// key and the catalog hold.
void EncodeStreamRecord(const StreamRecord& record, std::string* out);
// The same from a record whose keys and images are already in EncodeItem's
// encoding (the writer has them so): the same bytes, without building Items.
void EncodeStreamRecord(const EncodedStreamRecord& record, std::string* out);
// Fills everything but `sequence` and `table`. kInternal on corrupt input.
Status DecodeStreamRecord(std::string_view data, StreamRecord* record);
// Fills everything but `sequence`, with views into `data`; checks the
// record's framing, not the encoded items (VisitEncodedItem and DecodeItem
// do). kInternal on corrupt input.
Status ParseStreamRecord(std::string_view data, EncodedStreamRecord* record);
// Fills everything but `table` from `encoded`, decoding its items. kInternal
// when one is corrupt.
Status DecodeStreamRecord(const EncodedStreamRecord& encoded, StreamRecord* record);

}  // namespace keystone::store
