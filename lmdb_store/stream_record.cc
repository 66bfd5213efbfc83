#include "lmdb_store/stream_record.h"

#include "lmdb_store/item_codec.h"
#include "lmdb_store/varint.h"

namespace keystone::store {
namespace {

constexpr uint8_t kRecordFormat = 1;
constexpr uint8_t kHasOld = 1;
constexpr uint8_t kHasNew = 2;
constexpr uint8_t kExpiredByTtl = 4;

Status Corrupt(std::string_view what) {
  return Internal("corrupt stream record: " + std::string(what));
}

Status GetItemField(std::string_view* in, std::string_view* item) {
  uint64_t length = 0;
  if (!GetVarint(in, &length) || length > in->size()) return Corrupt("truncated image");
  *item = in->substr(0, length);
  in->remove_prefix(length);
  return Status::Ok();
}

void PutItemField(std::string_view encoded_item, std::string* out) {
  PutVarint(encoded_item.size(), out);
  out->append(encoded_item);
}

}  // namespace

std::string_view StreamEventTypeName(StreamEventType type) {
  switch (type) {
    case StreamEventType::kInsert:
      return "INSERT";
    case StreamEventType::kModify:
      return "MODIFY";
    case StreamEventType::kRemove:
      return "REMOVE";
    case StreamEventType::kTruncate:
      return "TRUNCATE";
  }
  return "INSERT";
}

void EncodeStreamRecord(const StreamRecord& record, std::string* out) {
  EncodedStreamRecord encoded;
  encoded.type = record.type;
  encoded.timestamp_ms = record.timestamp_ms;
  encoded.view_type = record.view_type;
  encoded.size_bytes = record.size_bytes;
  encoded.expired_by_ttl = record.expired_by_ttl;
  std::string keys, old_image, new_image;
  EncodeItem(record.keys, &keys);
  encoded.keys = keys;
  if (record.old_image) {
    EncodeItem(*record.old_image, &old_image);
    encoded.old_image = old_image;
  }
  if (record.new_image) {
    EncodeItem(*record.new_image, &new_image);
    encoded.new_image = new_image;
  }
  EncodeStreamRecord(encoded, out);
}

void EncodeStreamRecord(const EncodedStreamRecord& record, std::string* out) {
  out->push_back(static_cast<char>(kRecordFormat));
  out->push_back(static_cast<char>(record.type));
  out->push_back(static_cast<char>(record.view_type));
  uint8_t flags = (record.old_image ? kHasOld : 0) | (record.new_image ? kHasNew : 0) |
                  (record.expired_by_ttl ? kExpiredByTtl : 0);
  out->push_back(static_cast<char>(flags));
  PutVarint(static_cast<uint64_t>(record.timestamp_ms), out);
  PutVarint(record.size_bytes, out);
  PutItemField(record.keys, out);
  if (record.old_image) PutItemField(*record.old_image, out);
  if (record.new_image) PutItemField(*record.new_image, out);
}

Status ParseStreamRecord(std::string_view data, EncodedStreamRecord* record) {
  if (data.size() < 4) return Corrupt("shorter than its header");
  if (static_cast<uint8_t>(data[0]) != kRecordFormat) {
    return Corrupt("unknown format " + std::to_string(static_cast<uint8_t>(data[0])));
  }
  uint8_t type = static_cast<uint8_t>(data[1]);
  uint8_t view = static_cast<uint8_t>(data[2]);
  uint8_t flags = static_cast<uint8_t>(data[3]);
  if (type < 1 || type > 4) return Corrupt("bad event type");
  if (view < 1 || view > 4) return Corrupt("bad view type");
  record->type = static_cast<StreamEventType>(type);
  record->view_type = static_cast<StreamViewType>(view);
  data.remove_prefix(4);
  uint64_t ts = 0, size = 0;
  if (!GetVarint(&data, &ts) || !GetVarint(&data, &size)) return Corrupt("truncated header");
  record->timestamp_ms = static_cast<int64_t>(ts);
  record->size_bytes = size;
  record->expired_by_ttl = (flags & kExpiredByTtl) != 0;
  KS_RETURN_IF_ERROR(GetItemField(&data, &record->keys));
  record->old_image.reset();
  record->new_image.reset();
  if (flags & kHasOld) KS_RETURN_IF_ERROR(GetItemField(&data, &record->old_image.emplace()));
  if (flags & kHasNew) KS_RETURN_IF_ERROR(GetItemField(&data, &record->new_image.emplace()));
  if (!data.empty()) return Corrupt("trailing bytes");
  return Status::Ok();
}

Status DecodeStreamRecord(std::string_view data, StreamRecord* record) {
  EncodedStreamRecord encoded;
  encoded.sequence = record->sequence;  // kept as it is
  KS_RETURN_IF_ERROR(ParseStreamRecord(data, &encoded));
  return DecodeStreamRecord(encoded, record);
}

Status DecodeStreamRecord(const EncodedStreamRecord& encoded, StreamRecord* record) {
  record->sequence = encoded.sequence;
  record->type = encoded.type;
  record->view_type = encoded.view_type;
  record->timestamp_ms = encoded.timestamp_ms;
  record->size_bytes = encoded.size_bytes;
  record->expired_by_ttl = encoded.expired_by_ttl;
  KS_ASSIGN_OR_RETURN(record->keys, DecodeItem(encoded.keys));
  record->old_image.reset();
  record->new_image.reset();
  if (encoded.old_image) {
    KS_ASSIGN_OR_RETURN(record->old_image, DecodeItem(*encoded.old_image));
  }
  if (encoded.new_image) {
    KS_ASSIGN_OR_RETURN(record->new_image, DecodeItem(*encoded.new_image));
  }
  return Status::Ok();
}

}  // namespace keystone::store
