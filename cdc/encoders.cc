#include "cdc/encoders.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <functional>

#include "cdc/json_internal.h"

#ifndef KEYSTONE_VERSION
#define KEYSTONE_VERSION "0.0.0"
#endif

namespace keystone::cdc {

using store::AttributeType;
using store::AttributeValue;
using store::Item;
using store::Number;

namespace internal {

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                 (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

namespace {

// Kafka Connect type of a number: int64 when it is an integer in range.
bool IsInt64(const Number& n) {
  int64_t ignored;
  return n.ToInt64(&ignored);
}

std::string SchemaText(const AttributeValue& value) {
  JsonBuffer buffer;
  JsonWriter w(buffer);
  WriteConnectSchema(value, "", false, w);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Whether every element of a list has one Connect schema (then the list is an
// array of it); empty lists qualify.
bool HomogeneousList(const store::AttributeList& list) {
  if (list.size() < 2) return true;
  std::string first = SchemaText(list[0]);
  for (size_t i = 1; i < list.size(); ++i) {
    if (SchemaText(list[i]) != first) return false;
  }
  return true;
}

void WriteType(std::string_view type, std::string_view field, bool optional, JsonWriter& w) {
  WriteKey("type", w);
  WriteString(type, w);
  WriteKey("optional", w);
  w.Bool(optional);
  if (!field.empty()) {
    WriteKey("field", w);
    WriteString(field, w);
  }
}

void WriteArraySchemaOf(std::string_view item_type, std::string_view field, bool optional,
                        JsonWriter& w) {
  w.StartObject();
  WriteKey("type", w);
  WriteString("array", w);
  WriteKey("items", w);
  w.StartObject();
  WriteType(item_type, "", false, w);
  w.EndObject();
  WriteKey("optional", w);
  w.Bool(optional);
  if (!field.empty()) {
    WriteKey("field", w);
    WriteString(field, w);
  }
  w.EndObject();
}

}  // namespace

void WritePlainValue(const AttributeValue& value, JsonWriter& w, bool connect_schema) {
  switch (value.type()) {
    case AttributeType::kS:
      WriteString(value.s(), w);
      return;
    case AttributeType::kN:
      WriteNumberText(value.n().ToString(), w);
      return;
    case AttributeType::kB:
      WriteString(Base64(value.b()), w);
      return;
    case AttributeType::kBool:
      w.Bool(value.boolean());
      return;
    case AttributeType::kNull:
      w.Null();
      return;
    case AttributeType::kM:
      WritePlainItem(value.m(), w, connect_schema);
      return;
    case AttributeType::kL:
      if (connect_schema && !HomogeneousList(value.l())) {
        JsonBuffer buffer;
        JsonWriter inner(buffer);
        WritePlainValue(value, inner, false);
        w.String(buffer.GetString(), static_cast<rapidjson::SizeType>(buffer.GetSize()), true);
        return;
      }
      w.StartArray();
      for (const AttributeValue& v : value.l()) WritePlainValue(v, w, connect_schema);
      w.EndArray();
      return;
    case AttributeType::kSS:
      w.StartArray();
      for (const std::string& s : value.ss()) WriteString(s, w);
      w.EndArray();
      return;
    case AttributeType::kNS:
      w.StartArray();
      for (const Number& n : value.ns()) WriteNumberText(n.ToString(), w);
      w.EndArray();
      return;
    case AttributeType::kBS:
      w.StartArray();
      for (const std::string& b : value.bs()) WriteString(Base64(b), w);
      w.EndArray();
      return;
  }
}

void WritePlainItem(const Item& item, JsonWriter& w, bool connect_schema) {
  w.StartObject();
  for (const auto& [name, value] : item) {
    WriteKey(name, w);
    WritePlainValue(value, w, connect_schema);
  }
  w.EndObject();
}

void WriteTypedValue(const AttributeValue& value, JsonWriter& w) {
  w.StartObject();
  switch (value.type()) {
    case AttributeType::kS:
      WriteKey("S", w);
      WriteString(value.s(), w);
      break;
    case AttributeType::kN:
      WriteKey("N", w);
      WriteString(value.n().ToString(), w);
      break;
    case AttributeType::kB:
      WriteKey("B", w);
      WriteString(Base64(value.b()), w);
      break;
    case AttributeType::kBool:
      WriteKey("BOOL", w);
      w.Bool(value.boolean());
      break;
    case AttributeType::kNull:
      WriteKey("NULL", w);
      w.Bool(true);
      break;
    case AttributeType::kM:
      WriteKey("M", w);
      WriteTypedItem(value.m(), w);
      break;
    case AttributeType::kL:
      WriteKey("L", w);
      w.StartArray();
      for (const AttributeValue& v : value.l()) WriteTypedValue(v, w);
      w.EndArray();
      break;
    case AttributeType::kSS:
      WriteKey("SS", w);
      w.StartArray();
      for (const std::string& s : value.ss()) WriteString(s, w);
      w.EndArray();
      break;
    case AttributeType::kNS:
      WriteKey("NS", w);
      w.StartArray();
      for (const Number& n : value.ns()) WriteString(n.ToString(), w);
      w.EndArray();
      break;
    case AttributeType::kBS:
      WriteKey("BS", w);
      w.StartArray();
      for (const std::string& b : value.bs()) WriteString(Base64(b), w);
      w.EndArray();
      break;
  }
  w.EndObject();
}

void WriteTypedItem(const Item& item, JsonWriter& w) {
  w.StartObject();
  for (const auto& [name, value] : item) {
    WriteKey(name, w);
    WriteTypedValue(value, w);
  }
  w.EndObject();
}

void WriteConnectSchema(const AttributeValue& value, std::string_view field, bool optional,
                        JsonWriter& w) {
  switch (value.type()) {
    case AttributeType::kS:
      w.StartObject();
      WriteType("string", field, optional, w);
      w.EndObject();
      return;
    case AttributeType::kN:
      w.StartObject();
      WriteType(IsInt64(value.n()) ? "int64" : "double", field, optional, w);
      w.EndObject();
      return;
    case AttributeType::kB:
      w.StartObject();
      WriteType("bytes", field, optional, w);
      w.EndObject();
      return;
    case AttributeType::kBool:
      w.StartObject();
      WriteType("boolean", field, optional, w);
      w.EndObject();
      return;
    case AttributeType::kNull:
      w.StartObject();
      WriteType("string", field, true, w);
      w.EndObject();
      return;
    case AttributeType::kM:
      WriteItemConnectSchema(value.m(), field, optional, "", w);
      return;
    case AttributeType::kL: {
      const store::AttributeList& list = value.l();
      if (!HomogeneousList(list)) {
        w.StartObject();
        WriteType("string", field, optional, w);
        WriteKey("name", w);
        WriteString("io.debezium.data.Json", w);
        w.EndObject();
        return;
      }
      w.StartObject();
      WriteKey("type", w);
      WriteString("array", w);
      WriteKey("items", w);
      if (list.empty()) {
        w.StartObject();
        WriteType("string", "", true, w);
        w.EndObject();
      } else {
        WriteConnectSchema(list[0], "", false, w);
      }
      WriteKey("optional", w);
      w.Bool(optional);
      if (!field.empty()) {
        WriteKey("field", w);
        WriteString(field, w);
      }
      w.EndObject();
      return;
    }
    case AttributeType::kSS:
      WriteArraySchemaOf("string", field, optional, w);
      return;
    case AttributeType::kNS: {
      bool all_int = std::all_of(value.ns().begin(), value.ns().end(), IsInt64);
      WriteArraySchemaOf(all_int ? "int64" : "double", field, optional, w);
      return;
    }
    case AttributeType::kBS:
      WriteArraySchemaOf("bytes", field, optional, w);
      return;
  }
}

void WriteItemConnectSchema(const Item& item, std::string_view field, bool optional,
                            std::string_view name, JsonWriter& w) {
  w.StartObject();
  WriteKey("type", w);
  WriteString("struct", w);
  WriteKey("fields", w);
  w.StartArray();
  for (const auto& [attr, value] : item) WriteConnectSchema(value, attr, true, w);
  w.EndArray();
  WriteKey("optional", w);
  w.Bool(optional);
  if (!name.empty()) {
    WriteKey("name", w);
    WriteString(name, w);
  }
  if (!field.empty()) {
    WriteKey("field", w);
    WriteString(field, w);
  }
  w.EndObject();
}

}  // namespace internal

using internal::JsonBuffer;
using internal::JsonWriter;
using internal::WriteKey;
using internal::WriteString;

std::string_view KeystoneVersion() { return KEYSTONE_VERSION; }

std::string Base64Encode(std::string_view bytes) { return internal::Base64(bytes); }

std::string SequenceNumberText(uint64_t sequence) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%021" PRIu64, sequence);
  return buf;
}

void AddStandardHeaders(uint64_t sequence, char op, std::string_view table, std::string_view source,
                        EncodedEvent* event) {
  event->headers.reserve(event->headers.size() + 4);
  event->headers.emplace_back(kHeaderSequence, std::to_string(sequence));
  event->headers.emplace_back(kHeaderOp, std::string(1, op));
  event->headers.emplace_back(kHeaderTable, std::string(table));
  event->headers.emplace_back(kHeaderSource, std::string(source));
}

struct Encoder::Scratch {
  JsonBuffer buffer;
};

Encoder::~Encoder() = default;
Encoder::Encoder(Encoder&&) noexcept = default;
Encoder& Encoder::operator=(Encoder&&) noexcept = default;

Encoder::Encoder(EncoderOptions options)
    : scratch_(std::make_unique<Scratch>()), options_(std::move(options)) {
  envelope_name_ = options_.source + "." + options_.table + ".Envelope";
  key_schema_name_ = options_.source + "." + options_.table + ".Key";
}

void Encoder::AddHeaders(uint64_t sequence, char op, EncodedEvent* event) const {
  AddStandardHeaders(sequence, op, options_.table, options_.source, event);
}

std::string Encoder::KeyJson(const Item& keys) {
  JsonBuffer& buffer = scratch_->buffer;
  buffer.Clear();
  JsonWriter w(buffer);
  if (options_.format == EventFormat::kDebezium && options_.debezium_schema) {
    w.StartObject();
    WriteKey("schema", w);
    w.StartObject();
    WriteKey("type", w);
    WriteString("struct", w);
    WriteKey("fields", w);
    w.StartArray();
    for (const auto& [name, value] : keys) internal::WriteConnectSchema(value, name, false, w);
    w.EndArray();
    WriteKey("optional", w);
    w.Bool(false);
    WriteKey("name", w);
    WriteString(key_schema_name_, w);
    w.EndObject();
    WriteKey("payload", w);
    internal::WritePlainItem(keys, w, true);
    w.EndObject();
  } else {
    internal::WritePlainItem(keys, w);
  }
  return std::string(buffer.GetString(), buffer.GetSize());
}

namespace {

void WriteSourceSchema(JsonWriter& w) {
  auto field = [&](std::string_view type, std::string_view name, bool optional) {
    w.StartObject();
    WriteKey("type", w);
    WriteString(type, w);
    WriteKey("optional", w);
    w.Bool(optional);
    WriteKey("field", w);
    WriteString(name, w);
    w.EndObject();
  };
  w.StartObject();
  WriteKey("type", w);
  WriteString("struct", w);
  WriteKey("fields", w);
  w.StartArray();
  field("string", "version", false);
  field("string", "connector", false);
  field("string", "name", false);
  field("int64", "ts_ms", false);
  field("string", "snapshot", true);
  field("string", "db", false);
  field("string", "table", false);
  field("int64", "seq", false);
  w.EndArray();
  WriteKey("optional", w);
  w.Bool(false);
  WriteKey("name", w);
  WriteString("io.keystone.connector.Source", w);
  WriteKey("field", w);
  WriteString("source", w);
  w.EndObject();
}

}  // namespace

std::string Encoder::DebeziumValue(const ChangeEvent& change, int64_t now_ms) {
  const bool schema = options_.debezium_schema;
  JsonBuffer& buffer = scratch_->buffer;
  buffer.Clear();
  JsonWriter w(buffer);
  w.StartObject();
  if (schema) {
    WriteKey("schema", w);
    w.StartObject();
    WriteKey("type", w);
    WriteString("struct", w);
    WriteKey("fields", w);
    w.StartArray();
    static const Item kEmpty;
    internal::WriteItemConnectSchema(change.old_image ? *change.old_image : kEmpty, "before", true,
                                     "", w);
    internal::WriteItemConnectSchema(change.new_image ? *change.new_image : kEmpty, "after", true,
                                     "", w);
    WriteSourceSchema(w);
    w.StartObject();
    WriteKey("type", w);
    WriteString("string", w);
    WriteKey("optional", w);
    w.Bool(false);
    WriteKey("field", w);
    WriteString("op", w);
    w.EndObject();
    w.StartObject();
    WriteKey("type", w);
    WriteString("int64", w);
    WriteKey("optional", w);
    w.Bool(true);
    WriteKey("field", w);
    WriteString("ts_ms", w);
    w.EndObject();
    w.EndArray();
    WriteKey("optional", w);
    w.Bool(false);
    WriteKey("name", w);
    WriteString(envelope_name_, w);
    WriteKey("version", w);
    w.Int(1);
    w.EndObject();
    WriteKey("payload", w);
    w.StartObject();
  }
  WriteKey("before", w);
  if (change.old_image) {
    internal::WritePlainItem(*change.old_image, w, schema);
  } else {
    w.Null();
  }
  WriteKey("after", w);
  if (change.new_image) {
    internal::WritePlainItem(*change.new_image, w, schema);
  } else {
    w.Null();
  }
  WriteKey("source", w);
  w.StartObject();
  WriteKey("version", w);
  WriteString(KeystoneVersion(), w);
  WriteKey("connector", w);
  WriteString("keystone", w);
  WriteKey("name", w);
  WriteString(options_.source, w);
  WriteKey("ts_ms", w);
  w.Int64(change.timestamp_ms);
  WriteKey("snapshot", w);
  WriteString(!change.snapshot ? "false" : change.snapshot_last ? "last" : "true", w);
  WriteKey("db", w);
  WriteString(options_.db, w);
  WriteKey("table", w);
  WriteString(options_.table, w);
  WriteKey("seq", w);
  w.Uint64(change.sequence);
  w.EndObject();
  WriteKey("op", w);
  char op = OpCode(change.op);
  w.String(&op, 1);
  WriteKey("ts_ms", w);
  w.Int64(now_ms);
  if (schema) w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string Encoder::DynamoDbValue(const ChangeEvent& change) {
  JsonBuffer& buffer = scratch_->buffer;
  buffer.Clear();
  JsonWriter w(buffer);
  w.StartObject();
  WriteKey("eventID", w);
  char id[40];
  // Stream records: the sequence number in 32 hex digits (as the HTTP streams
  // API names them). Snapshot reads: the ordinal + 1 in the upper half, so that
  // they never collide with a record's.
  std::snprintf(id, sizeof id, "%016" PRIx64 "%016" PRIx64,
                change.snapshot ? change.snapshot_ordinal + 1 : 0, change.sequence);
  WriteString(id, w);
  WriteKey("eventName", w);
  switch (change.op) {
    case ChangeOp::kCreate:
    case ChangeOp::kRead:
      WriteString("INSERT", w);
      break;
    case ChangeOp::kUpdate:
      WriteString("MODIFY", w);
      break;
    case ChangeOp::kDelete:
      WriteString("REMOVE", w);
      break;
    case ChangeOp::kTruncate:
      WriteString("TRUNCATE", w);
      break;
  }
  WriteKey("eventVersion", w);
  WriteString("1.1", w);
  WriteKey("eventSource", w);
  WriteString("aws:dynamodb", w);
  WriteKey("awsRegion", w);
  WriteString(options_.region, w);
  WriteKey("dynamodb", w);
  w.StartObject();
  WriteKey("ApproximateCreationDateTime", w);
  w.Int64(change.timestamp_ms / 1000);
  WriteKey("Keys", w);
  internal::WriteTypedItem(change.keys, w);
  size_t size = store::ItemSizeBytes(change.keys);
  if (change.new_image) {
    WriteKey("NewImage", w);
    internal::WriteTypedItem(*change.new_image, w);
    size += store::ItemSizeBytes(*change.new_image);
  }
  if (change.old_image) {
    WriteKey("OldImage", w);
    internal::WriteTypedItem(*change.old_image, w);
    size += store::ItemSizeBytes(*change.old_image);
  }
  WriteKey("SequenceNumber", w);
  WriteString(SequenceNumberText(change.sequence), w);
  WriteKey("SizeBytes", w);
  w.Uint64(std::max<uint64_t>(1, size));
  WriteKey("StreamViewType", w);
  WriteString(store::StreamViewTypeName(change.view_type), w);
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

void Encoder::Encode(const ChangeEvent& change, int64_t now_ms, std::vector<EncodedEvent>* out) {
  EncodedEvent& event = out->emplace_back();
  event.topic = options_.topic;
  if (change.op != ChangeOp::kTruncate) event.key = KeyJson(change.keys);
  event.value = options_.format == EventFormat::kDebezium ? DebeziumValue(change, now_ms)
                                                          : DynamoDbValue(change);
  event.sequence = change.sequence;
  event.snapshot = change.snapshot;
  event.snapshot_ordinal = change.snapshot_ordinal;
  AddHeaders(change.sequence, OpCode(change.op), &event);
  for (const auto& header : change.headers) event.headers.push_back(header);
  if (change.op == ChangeOp::kDelete && options_.tombstones) {
    EncodedEvent tombstone;
    tombstone.topic = event.topic;
    tombstone.key = event.key;
    tombstone.headers = event.headers;
    tombstone.sequence = change.sequence;
    tombstone.sub_index = 1;
    out->push_back(std::move(tombstone));
  }
}

namespace {

std::string SourceKey(std::string_view source) {
  JsonBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteKey("source", w);
  WriteString(source, w);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

namespace {

// The value of a control event (heartbeat, gap marker): {"source", "table",
// what `fields` writes, "ts_ms"}.
std::string ControlValue(const EncoderOptions& options, int64_t now_ms,
                         const std::function<void(JsonWriter&)>& fields) {
  JsonBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteKey("source", w);
  WriteString(options.source, w);
  WriteKey("table", w);
  WriteString(options.table, w);
  fields(w);
  WriteKey("ts_ms", w);
  w.Int64(now_ms);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

EncodedEvent Encoder::Heartbeat(uint64_t head_sequence, int64_t now_ms) {
  EncodedEvent event;
  event.topic = options_.topic;
  event.key = SourceKey(options_.source);
  event.value = ControlValue(options_, now_ms, [&](JsonWriter& w) {
    WriteKey("seq", w);
    w.Uint64(head_sequence);
  });
  AddHeaders(head_sequence, 'h', &event);
  return event;
}

EncodedEvent Encoder::GapMarker(uint64_t after, uint64_t through, int64_t now_ms) {
  EncodedEvent event;
  event.topic = options_.topic;
  event.key = SourceKey(options_.source);
  event.value = ControlValue(options_, now_ms, [&](JsonWriter& w) {
    WriteKey("op", w);
    WriteString("g", w);
    WriteKey("gap", w);
    w.StartObject();
    WriteKey("after", w);
    w.Uint64(after);
    WriteKey("through", w);
    w.Uint64(through);
    w.EndObject();
  });
  event.sequence = through;
  AddHeaders(through, 'g', &event);
  return event;
}

}  // namespace keystone::cdc
