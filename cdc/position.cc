#include "cdc/position.h"

#include <cstring>

#include "lmdb_store/item_codec.h"

namespace keystone::cdc {

namespace {

constexpr std::string_view kPrefix = "cdc:";

// payload := version:u8 (= 1) flags:u8 reason:u8 chunk_sequence:u64le
//            items:u64le started_ms:i64le [last_key: EncodeItem]
// flags: bit 0 active, bit 1 last_key present.
constexpr uint8_t kPayloadVersion = 1;
constexpr size_t kFixedBytes = 3 + 8 + 8 + 8;

void AppendU64(uint64_t v, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
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
  uint8_t flags = (snapshot.active ? 1 : 0) | (snapshot.last_key ? 2 : 0);
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>(snapshot.reason));
  AppendU64(snapshot.chunk_sequence, &out);
  AppendU64(snapshot.items, &out);
  AppendU64(static_cast<uint64_t>(snapshot.started_ms), &out);
  if (snapshot.last_key) store::EncodeItem(*snapshot.last_key, &out);
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
  if ((flags & ~3u) != 0 || reason < 1 || reason > 3) {
    return Internal("CDC position payload has invalid flags or snapshot reason");
  }
  SnapshotProgress out;
  out.active = (flags & 1) != 0;
  out.reason = static_cast<SnapshotReason>(reason);
  out.chunk_sequence = ReadU64(payload.substr(3));
  out.items = ReadU64(payload.substr(11));
  out.started_ms = static_cast<int64_t>(ReadU64(payload.substr(19)));
  std::string_view rest = payload.substr(kFixedBytes);
  if ((flags & 2) != 0) {
    auto key = store::DecodeItem(rest);
    if (!key.ok()) return key.status().WithContext("CDC position payload last key");
    out.last_key = std::move(key).value();
  } else if (!rest.empty()) {
    return Internal("CDC position payload has trailing bytes");
  }
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

Status DeleteCdcPosition(store::ItemStore& store, std::string_view source) {
  Status s = store.DeletePosition(PositionName(source));
  if (s.code() == StatusCode::kNotFound) return Status::Ok();
  return s;
}

}  // namespace keystone::cdc
