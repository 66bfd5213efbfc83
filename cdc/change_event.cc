#include "cdc/change_event.h"

#include "lmdb_store/key_codec.h"

namespace keystone::cdc {

using store::AttributeType;
using store::Item;
using store::StreamEventType;
using store::StreamViewType;

char OpCode(ChangeOp op) {
  switch (op) {
    case ChangeOp::kCreate:
      return 'c';
    case ChangeOp::kUpdate:
      return 'u';
    case ChangeOp::kDelete:
      return 'd';
    case ChangeOp::kRead:
      return 'r';
    case ChangeOp::kTruncate:
      return 't';
  }
  return '?';
}

EventType EventTypeOf(ChangeOp op) {
  switch (op) {
    case ChangeOp::kCreate:
    case ChangeOp::kRead:
      return EventType::kInsert;
    case ChangeOp::kUpdate:
      return EventType::kModify;
    case ChangeOp::kDelete:
      return EventType::kRemove;
    case ChangeOp::kTruncate:
      return EventType::kTruncate;
  }
  return EventType::kInsert;
}

StreamViewType MakeView(bool new_image, bool old_image) {
  if (new_image && old_image) return StreamViewType::kNewAndOldImages;
  if (new_image) return StreamViewType::kNewImage;
  if (old_image) return StreamViewType::kOldImage;
  return StreamViewType::kKeysOnly;
}

ChangeOp OpOf(StreamEventType type) {
  switch (type) {
    case StreamEventType::kInsert:
      return ChangeOp::kCreate;
    case StreamEventType::kModify:
      return ChangeOp::kUpdate;
    case StreamEventType::kRemove:
      return ChangeOp::kDelete;
    case StreamEventType::kTruncate:
      return ChangeOp::kTruncate;
  }
  return ChangeOp::kCreate;
}

ChangeEvent ChangeFromRecord(store::StreamRecord&& record) {
  ChangeEvent e;
  e.op = OpOf(record.type);
  e.sequence = record.sequence;
  e.timestamp_ms = record.timestamp_ms;
  e.view_type = record.view_type;
  e.keys = std::move(record.keys);
  e.old_image = std::move(record.old_image);
  e.new_image = std::move(record.new_image);
  e.expired_by_ttl = record.expired_by_ttl;
  return e;
}

ChangeEvent ChangeFromSnapshotItem(Item item, Item keys, StreamViewType table_view,
                                   uint64_t sequence, int64_t read_ms, uint64_t ordinal,
                                   bool last) {
  ChangeEvent e;
  e.view_type = table_view;
  e.op = ChangeOp::kRead;
  e.sequence = sequence;
  e.timestamp_ms = read_ms;
  e.keys = std::move(keys);
  e.new_image = std::move(item);
  e.snapshot = true;
  e.snapshot_ordinal = ordinal;
  e.snapshot_last = last;
  return e;
}

PublishedView NarrowedView(StreamViewType record_view, bool has_new_image, bool has_old_image,
                           std::optional<StreamViewType> source_view, bool include_before) {
  bool view_new = ViewHasNewImage(record_view);
  bool view_old = ViewHasOldImage(record_view) && include_before;
  if (source_view) {
    view_new = view_new && ViewHasNewImage(*source_view);
    view_old = view_old && ViewHasOldImage(*source_view);
  }
  return PublishedView{.new_image = has_new_image && view_new,
                       .old_image = has_old_image && view_old,
                       .view_type = MakeView(view_new, view_old)};
}

void NarrowView(ChangeEvent* event, std::optional<StreamViewType> source_view,
                bool include_before) {
  PublishedView view = NarrowedView(event->view_type, event->new_image.has_value(),
                                    event->old_image.has_value(), source_view, include_before);
  if (!view.new_image) event->new_image.reset();
  if (!view.old_image) event->old_image.reset();
  event->view_type = view.view_type;
}

Item KeyOf(const Item& item, const store::TableSchema& schema) {
  Item keys;
  if (auto it = item.find(schema.partition_key.name); it != item.end()) keys.insert(*it);
  if (schema.sort_key) {
    if (auto it = item.find(schema.sort_key->name); it != item.end()) keys.insert(*it);
  }
  return keys;
}

namespace {

bool IsKeyType(AttributeType t) {
  return t == AttributeType::kS || t == AttributeType::kN || t == AttributeType::kB;
}

}  // namespace

std::optional<std::string> OrderedKey(const Item& keys, const store::TableSchema& schema) {
  std::string out;
  auto pk = keys.find(schema.partition_key.name);
  if (pk == keys.end() || !IsKeyType(pk->second.type())) return std::nullopt;
  store::AppendOrderedKey(pk->second, &out);
  if (schema.sort_key) {
    auto sk = keys.find(schema.sort_key->name);
    if (sk == keys.end() || !IsKeyType(sk->second.type())) return std::nullopt;
    store::AppendOrderedKey(sk->second, &out);
  }
  return out;
}

}  // namespace keystone::cdc
