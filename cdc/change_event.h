#pragma once

// ChangeEvent: one change as a CDC source carries it from the stream (or a
// snapshot) through filters and transforms to an encoder, plus the helpers
// that build one and order item keys the way snapshots read them. Value types
// and stateless functions; thread-compatible.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cdc/source_options.h"
#include "lmdb_store/attribute_value.h"
#include "lmdb_store/schema.h"
#include "lmdb_store/stream_record.h"

namespace keystone::cdc {

// What happened, as Debezium names it: c(reate), u(pdate), d(elete), r(ead by
// a snapshot), t(runcate).
enum class ChangeOp : uint8_t { kCreate, kUpdate, kDelete, kRead, kTruncate };

// 'c', 'u', 'd', 'r', 't'.
char OpCode(ChangeOp op);
// The filterable kind: INSERT for creates and snapshot reads, MODIFY, REMOVE,
// TRUNCATE.
EventType EventTypeOf(ChangeOp op);

struct ChangeEvent {
  ChangeOp op = ChangeOp::kCreate;
  // The stream record's sequence number; for snapshot reads the stream
  // sequence the snapshot chunk was read at.
  uint64_t sequence = 0;
  // When the change was written (for snapshot reads: when the chunk was read),
  // milliseconds since the epoch.
  int64_t timestamp_ms = 0;
  // What the event carries after the source's view narrowing.
  store::StreamViewType view_type = store::StreamViewType::kNewAndOldImages;
  // Key attributes of the item; empty for a truncate.
  store::Item keys;
  std::optional<store::Item> old_image;
  std::optional<store::Item> new_image;
  // Snapshot reads: the item's index in the snapshot, and whether it is the
  // snapshot's last item.
  bool snapshot = false;
  uint64_t snapshot_ordinal = 0;
  bool snapshot_last = false;
  // A delete made by the table's Time to Live, not by a client
  // (store::StreamRecord::expired_by_ttl).
  bool expired_by_ttl = false;
  // Extra message headers (add_header transforms).
  std::vector<std::pair<std::string, std::string>> headers;
};

inline bool ViewHasNewImage(store::StreamViewType v) {
  return v == store::StreamViewType::kNewImage || v == store::StreamViewType::kNewAndOldImages;
}
inline bool ViewHasOldImage(store::StreamViewType v) {
  return v == store::StreamViewType::kOldImage || v == store::StreamViewType::kNewAndOldImages;
}
store::StreamViewType MakeView(bool new_image, bool old_image);

// The event of a stream record, with every image the record carries (filters
// look at those; NarrowView then removes what the source does not publish).
// Moves the images out of `record`.
ChangeEvent ChangeFromRecord(store::StreamRecord&& record);

// The snapshot read of `item`: the item is its new image, and it reports the
// table's stream view type (which NarrowView applies like a record's).
ChangeEvent ChangeFromSnapshotItem(store::Item item, store::Item keys,
                                   store::StreamViewType table_view, uint64_t sequence,
                                   int64_t read_ms, uint64_t ordinal, bool last);

// The op of a stream record's event type.
ChangeOp OpOf(store::StreamEventType type);

// What a source publishes of an event's images: a source view type narrower
// than the record's (never wider: a record has only what it has), and no old
// image when `include_before` is false. `view_type` is what the record's and
// the source's view types both allow, whether or not this change has those
// images.
struct PublishedView {
  bool new_image = false;
  bool old_image = false;
  store::StreamViewType view_type = store::StreamViewType::kNewAndOldImages;
};
PublishedView NarrowedView(store::StreamViewType record_view, bool has_new_image,
                           bool has_old_image, std::optional<store::StreamViewType> source_view,
                           bool include_before);

// Applies NarrowedView to `event`: removes the images it drops and sets
// view_type.
void NarrowView(ChangeEvent* event, std::optional<store::StreamViewType> source_view,
                bool include_before);

// The key attributes of `item` under `schema` (missing ones are left out).
store::Item KeyOf(const store::Item& item, const store::TableSchema& schema);

// Encoding of an item key whose byte order (memcmp) is the order in which
// ItemStore stores items and ReadSnapshotChunk returns them: partition key,
// then sort key, each by DynamoDB's order for its type. nullopt when `keys`
// lacks a key attribute or has one of a type that is not S, N or B.
std::optional<std::string> OrderedKey(const store::Item& keys, const store::TableSchema& schema);

}  // namespace keystone::cdc
