#include "cdc/position.h"

#include <cstring>

#include "lmdb_store/item_codec.h"

namespace keystone::cdc {

namespace {

constexpr std::string_view kPrefix = "cdc:";

// payload := version:u8 (= 1) flags:u8 reason:u8 chunk_sequence:u64le
//            stream_sequence:u64le items:u64le started_ms:i64le
//            [last_key: length:u32le EncodeItem] [high_water_key: same]
// flags: bit 0 active, bit 1 last_key present, bit 2 high_water_key present,
// bit 3 read_to_end.
constexpr uint8_t kPayloadVersion = 1;
constexpr size_t kFixedBytes = 3 + 8 + 8 + 8 + 8;

void AppendU64(uint64_t v, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void AppendItem(const store::Item& item, std::string* out) {
  std::string encoded;
  store::EncodeItem(item, &encoded);
  uint32_t n = static_cast<uint32_t>(encoded.size());
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out->append(encoded);
}

Status ReadItem(std::string_view* in, std::optional<store::Item>* out) {
  if (in->size() < 4) return Internal("CDC position payload: truncated key");
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= static_cast<uint32_t>(static_cast<uint8_t>((*in)[i])) << (8 * i);
  in->remove_prefix(4);
  if (in->size() < n) return Internal("CDC position payload: truncated key");
  auto item = store::DecodeItem(in->substr(0, n));
  if (!item.ok()) return item.status().WithContext("CDC position payload key");
  in->remove_prefix(n);
  *out = std::move(item).value();
  return Status::Ok();
}

uint64_t ReadU64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  return v;
}

}  // namespace

std::string_view SnapshotReasonName(SnapshotReason reason) {
  switch (reason) {
    case SnapshotReason::kInitial:
      return "initial";
    case SnapshotReason::kGap:
      return "gap";
    case SnapshotReason::kTriggered:
      return "triggered";
  }
  return "unknown";
}

std::string PositionName(std::string_view source) {
  std::string name(kPrefix);
  name += source;
  return name;
}

std::string EncodePositionPayload(const SnapshotProgress& snapshot) {
  std::string out;
  out.push_back(static_cast<char>(kPayloadVersion));
  uint8_t flags = (snapshot.active ? 1 : 0) | (snapshot.last_key ? 2 : 0) |
                  (snapshot.high_water_key ? 4 : 0) | (snapshot.read_to_end ? 8 : 0);
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>(snapshot.reason));
  AppendU64(snapshot.chunk_sequence, &out);
  AppendU64(snapshot.stream_sequence, &out);
  AppendU64(snapshot.items, &out);
  AppendU64(static_cast<uint64_t>(snapshot.started_ms), &out);
  if (snapshot.last_key) AppendItem(*snapshot.last_key, &out);
  if (snapshot.high_water_key) AppendItem(*snapshot.high_water_key, &out);
  return out;
}

Status DecodePositionPayload(std::string_view payload, SnapshotProgress* snapshot) {
  if (payload.size() < kFixedBytes) {
    return Internal("CDC position payload is truncated (" + std::to_string(payload.size()) +
                    " bytes)");
  }
  if (static_cast<uint8_t>(payload[0]) != kPayloadVersion) {
    return Internal("CDC position payload has unknown version " +
                    std::to_string(static_cast<uint8_t>(payload[0])));
  }
  uint8_t flags = static_cast<uint8_t>(payload[1]);
  uint8_t reason = static_cast<uint8_t>(payload[2]);
  if ((flags & ~15u) != 0 || reason < 1 || reason > 3) {
    return Internal("CDC position payload has invalid flags or snapshot reason");
  }
  SnapshotProgress out;
  out.active = (flags & 1) != 0;
  out.reason = static_cast<SnapshotReason>(reason);
  out.chunk_sequence = ReadU64(payload.substr(3));
  out.stream_sequence = ReadU64(payload.substr(11));
  out.items = ReadU64(payload.substr(19));
  out.started_ms = static_cast<int64_t>(ReadU64(payload.substr(27)));
  out.read_to_end = (flags & 8) != 0;
  std::string_view rest = payload.substr(kFixedBytes);
  if ((flags & 2) != 0) KS_RETURN_IF_ERROR(ReadItem(&rest, &out.last_key));
  if ((flags & 4) != 0) KS_RETURN_IF_ERROR(ReadItem(&rest, &out.high_water_key));
  if (!rest.empty()) return Internal("CDC position payload has trailing bytes");
  *snapshot = std::move(out);
  return Status::Ok();
}

store::ReaderPosition ToReaderPosition(const CdcPosition& position, bool pins) {
  store::ReaderPosition stored;
  stored.name = PositionName(position.source);
  stored.table = position.table;
  stored.sequence = position.sequence;
  stored.payload = EncodePositionPayload(position.snapshot);
  stored.pins = pins;
  stored.updated_ms = position.updated_ms;
  return stored;
}

Result<CdcPosition> FromReaderPosition(const store::ReaderPosition& stored) {
  if (!std::string_view(stored.name).starts_with(kPrefix)) {
    return InvalidArgument("position " + stored.name + " is not a CDC source position");
  }
  CdcPosition position;
  position.source = stored.name.substr(kPrefix.size());
  position.table = stored.table;
  position.sequence = stored.sequence;
  position.updated_ms = stored.updated_ms;
  KS_RETURN_IF_ERROR(DecodePositionPayload(stored.payload, &position.snapshot)
                         .WithContext("position " + stored.name));
  return position;
}

Result<std::optional<CdcPosition>> LoadCdcPosition(store::ItemStore& store,
                                                   std::string_view source) {
  KS_ASSIGN_OR_RETURN(std::optional<store::ReaderPosition> stored,
                      store.LoadPosition(PositionName(source)));
  if (!stored) return std::optional<CdcPosition>();
  KS_ASSIGN_OR_RETURN(CdcPosition position, FromReaderPosition(*stored));
  return std::optional<CdcPosition>(std::move(position));
}

Status SaveCdcPosition(store::ItemStore& store, const CdcPosition& position, bool pins) {
  return store.SavePosition(ToReaderPosition(position, pins));
}

void SaveCdcPositionAsync(store::ItemStore& store, const CdcPosition& position, bool pins,
                          std::function<void(Status)> done) {
  store.SavePositionAsync(ToReaderPosition(position, pins), std::move(done));
}

Status DeleteCdcPosition(store::ItemStore& store, std::string_view source) {
  Status s = store.DeletePosition(PositionName(source));
  if (s.code() == StatusCode::kNotFound) return Status::Ok();
  return s;
}

}  // namespace keystone::cdc
