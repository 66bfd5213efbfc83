#include "cdc/encoders.h"

#include <algorithm>
#include <charconv>
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

void AppendEscapedJsonString(std::string_view s, TextOut& out) {
  // rapidjson's escaping, so that both writers agree byte for byte.
  JsonBuffer buffer;
  JsonWriter w(buffer);
  WriteString(s, w);
  out.Append(std::string_view(buffer.GetString(), buffer.GetSize()));
}

void AppendJsonString(std::string_view s, std::string* out) {
  TextOut text(out);
  AppendJsonString(s, text);
}

Status AppendEncodedItem(std::string_view encoded, bool typed, std::string* out) {
  TextOut text(out);
  JsonAppender appender(text, typed, /*item_root=*/true);
  return store::VisitEncodedItem(encoded, appender);
}

void AppendItem(const Item& item, bool typed, std::string* out) {
  TextOut text(out);
  JsonAppender appender(text, typed, /*item_root=*/true);
  store::VisitItem(item, appender);
}

namespace {

// Writes what `visit` shows a JsonAppender as one value of `w`.
template <typename Visit>
Status WriteAppended(JsonWriter& w, bool typed, bool item_root, Visit visit) {
  // Reused by the thread (a source's): no allocation per image. A large
  // item's text is not kept.
  thread_local std::string text;
  text.clear();
  Status s;
  {
    TextOut out(&text);  // `text` holds just the JSON once `out` is gone
    JsonAppender appender(out, typed, item_root);
    s = visit(appender);
  }
  if (s.ok()) w.RawJson(text);
  if (text.capacity() > (64u << 10)) std::string().swap(text);
  return s;
}

}  // namespace

void WritePlainValue(const AttributeValue& value, JsonWriter& w, bool connect_schema) {
  if (connect_schema) {
    // Only containers differ from the schemaless form.
    if (value.type() == AttributeType::kM) return WritePlainItem(value.m(), w, true);
    if (value.type() == AttributeType::kL) {
      if (!HomogeneousList(value.l())) {
        JsonBuffer buffer;
        JsonWriter inner(buffer);
        WritePlainValue(value, inner, false);
        w.String(buffer.GetString(), static_cast<rapidjson::SizeType>(buffer.GetSize()), true);
        return;
      }
      w.StartArray();
      for (const AttributeValue& v : value.l()) WritePlainValue(v, w, true);
      w.EndArray();
      return;
    }
  }
  (void)WriteAppended(w, /*typed=*/false, /*item_root=*/false, [&](JsonAppender& a) {
    store::VisitValue(value, a);
    return Status::Ok();
  });
}

void WritePlainItem(const Item& item, JsonWriter& w, bool connect_schema) {
  if (!connect_schema) {
    (void)WriteAppended(w, /*typed=*/false, /*item_root=*/true, [&](JsonAppender& a) {
      store::VisitItem(item, a);
      return Status::Ok();
    });
    return;
  }
  w.StartObject();
  for (const auto& [name, value] : item) {
    WriteKey(name, w);
    WritePlainValue(value, w, true);
  }
  w.EndObject();
}

void WriteTypedValue(const AttributeValue& value, JsonWriter& w) {
  (void)WriteAppended(w, /*typed=*/true, /*item_root=*/false, [&](JsonAppender& a) {
    store::VisitValue(value, a);
    return Status::Ok();
  });
}

void WriteTypedItem(const Item& item, JsonWriter& w) {
  (void)WriteAppended(w, /*typed=*/true, /*item_root=*/true, [&](JsonAppender& a) {
    store::VisitItem(item, a);
    return Status::Ok();
  });
}

Status WriteEncodedItem(std::string_view encoded, bool typed, JsonWriter& w) {
  return WriteAppended(w, typed, /*item_root=*/true,
                       [&](JsonAppender& a) { return store::VisitEncodedItem(encoded, a); });
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

void SetStandardHeaders(uint64_t sequence, char op, std::string_view table, std::string_view source,
                        EncodedEvent* event) {
  // In place: a reused event's headers keep their strings' memory.
  std::vector<std::pair<std::string, std::string>>& headers = event->headers;
  headers.resize(4);
  char decimal[24];
  size_t n =
      static_cast<size_t>(std::to_chars(decimal, decimal + sizeof decimal, sequence).ptr - decimal);
  auto set = [&](size_t i, std::string_view name, std::string_view value) {
    headers[i].first.assign(name);
    headers[i].second.assign(value);
  };
  set(0, kHeaderSequence, std::string_view(decimal, n));
  set(1, kHeaderOp, std::string_view(&op, 1));
  set(2, kHeaderTable, table);
  set(3, kHeaderSource, source);
}

struct Encoder::Scratch {
  JsonBuffer buffer;
  // Reset per use rather than constructed: a Writer allocates its nesting
  // stack on first use, twice per event otherwise.
  JsonWriter writer{buffer};
  std::string source;

  // The writer, ready to write a new text into the cleared buffer.
  JsonWriter& Begin() {
    buffer.Clear();
    writer.Reset(buffer);
    return writer;
  }
};

namespace {

template <typename Int>
void AppendDecimal(Int v, std::string* out) {
  char text[24];
  out->append(text, static_cast<size_t>(std::to_chars(text, text + sizeof(text), v).ptr - text));
}

// The JSON text of `s` as a string value.
std::string Quoted(std::string_view s) {
  JsonBuffer buffer;
  internal::JsonWriter w(buffer);
  WriteString(s, w);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

namespace internal {

// The keys or an image of a change: an Item, or a stored item's encoding.
struct EnvelopeImage {
  bool present = false;
  const Item* item = nullptr;
  std::string_view encoded;

  static EnvelopeImage Of(const Item* item) { return {item != nullptr, item, {}}; }
  static EnvelopeImage Of(const std::optional<Item>& item) { return Of(item ? &*item : nullptr); }
  static EnvelopeImage Of(std::optional<std::string_view> encoded) {
    return {encoded.has_value(), nullptr, encoded.value_or(std::string_view())};
  }
};

// A ChangeEvent's fields, or a stream record's.
struct Envelope {
  ChangeOp op = ChangeOp::kCreate;
  uint64_t sequence = 0;
  int64_t timestamp_ms = 0;
  store::StreamViewType view_type = store::StreamViewType::kNewAndOldImages;
  bool snapshot = false;
  uint64_t snapshot_ordinal = 0;
  bool snapshot_last = false;
  EnvelopeImage keys, old_image, new_image;
  // DynamoDB's SizeBytes of the keys and images present.
  size_t size_bytes = 0;
  bool expired_by_ttl = false;
  const std::vector<std::pair<std::string, std::string>>* headers = nullptr;
};

}  // namespace internal

void Encoder::Recycle(EncodedEvent&& event) {
  if (spare_.size() < kMaxSpare) spare_.push_back(std::move(event));
}

void Encoder::TakeSpares(std::vector<EncodedEvent>* out) {
  for (EncodedEvent& e : spare_) out->push_back(std::move(e));
  spare_.clear();
}

EncodedEvent Encoder::Reuse() {
  if (spare_.empty()) return EncodedEvent();
  EncodedEvent event = std::move(spare_.back());
  spare_.pop_back();
  event.token = 0;
  // The headers stay: SetHeaders overwrites them in place.
  event.sequence = 0;
  event.sub_index = 0;
  event.snapshot = false;
  event.snapshot_ordinal = 0;
  return event;
}

Encoder::~Encoder() = default;
Encoder::Encoder(Encoder&&) noexcept = default;
Encoder& Encoder::operator=(Encoder&&) noexcept = default;

Encoder::Encoder(EncoderOptions options)
    : scratch_(std::make_unique<Scratch>()), options_(std::move(options)) {
  envelope_name_ = options_.source + "." + options_.table + ".Envelope";
  source_head_ = R"({"version":)" + Quoted(KeystoneVersion()) +
                 R"(,"connector":"keystone","name":)" + Quoted(options_.source) + R"(,"ts_ms":)";
  source_tail_ =
      R"(,"db":)" + Quoted(options_.db) + R"(,"table":)" + Quoted(options_.table) + R"(,"seq":)";
  key_schema_name_ = options_.source + "." + options_.table + ".Key";
}

void Encoder::SetHeaders(uint64_t sequence, char op, EncodedEvent* event) const {
  SetStandardHeaders(sequence, op, options_.table, options_.source, event);
}

namespace {

// An image as JSON: typed (DynamoDB JSON) or plain, with the Connect
// schema's conventions (Items only).
Status WriteImage(const internal::EnvelopeImage& image, bool typed, bool connect_schema,
                  JsonWriter& w) {
  if (image.item == nullptr) return internal::WriteEncodedItem(image.encoded, typed, w);
  if (typed) {
    internal::WriteTypedItem(*image.item, w);
  } else {
    internal::WritePlainItem(*image.item, w, connect_schema);
  }
  return Status::Ok();
}

// Appends an image as plain JSON (Debezium without the Connect schema) or
// typed (DynamoDB JSON).
Status AppendImage(const internal::EnvelopeImage& image, bool typed, std::string* out) {
  if (image.item == nullptr) return internal::AppendEncodedItem(image.encoded, typed, out);
  internal::AppendItem(*image.item, typed, out);
  return Status::Ok();
}

// Copies the buffer's text into *out, reusing its capacity.
void TakeText(const JsonBuffer& buffer, std::string* out) {
  out->assign(buffer.GetString(), buffer.GetSize());
}

}  // namespace

std::string Encoder::KeyJson(const Item& keys) {
  std::string key;
  (void)KeyJsonOf(Image::Of(&keys), &key);
  return key;
}

Status Encoder::KeyJsonOf(const Image& keys, std::string* out) {
  if (options_.format == EventFormat::kDebezium && options_.debezium_schema) {
    // Only for Items (EncodeRecord decodes when the schema is on).
    JsonBuffer& buffer = scratch_->buffer;
    JsonWriter& w = scratch_->Begin();
    w.StartObject();
    WriteKey("schema", w);
    w.StartObject();
    WriteKey("type", w);
    WriteString("struct", w);
    WriteKey("fields", w);
    w.StartArray();
    for (const auto& [name, value] : *keys.item) {
      internal::WriteConnectSchema(value, name, false, w);
    }
    w.EndArray();
    WriteKey("optional", w);
    w.Bool(false);
    WriteKey("name", w);
    WriteString(key_schema_name_, w);
    w.EndObject();
    WriteKey("payload", w);
    internal::WritePlainItem(*keys.item, w, true);
    w.EndObject();
    TakeText(buffer, out);
    return Status::Ok();
  }
  out->clear();
  return AppendImage(keys, /*typed=*/false, out);
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
  // Present (true) only on a delete that Time to Live made.
  field("boolean", "expired_by_ttl", true);
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

Status Encoder::DebeziumValue(const Envelope& change, int64_t now_ms, std::string* out) {
  const bool schema = options_.debezium_schema;
  if (!schema) {
    // The common form, written straight into *out.
    out->clear();
    out->append(R"({"before":)");
    if (change.old_image.present) {
      KS_RETURN_IF_ERROR(AppendImage(change.old_image, /*typed=*/false, out));
    } else {
      out->append("null");
    }
    out->append(R"(,"after":)");
    if (change.new_image.present) {
      KS_RETURN_IF_ERROR(AppendImage(change.new_image, /*typed=*/false, out));
    } else {
      out->append("null");
    }
    out->append(R"(,"source":)");
    AppendSourceBlock(change, out);
    out->append(R"(,"op":")");
    out->push_back(OpCode(change.op));
    out->append(R"(","ts_ms":)");
    AppendDecimal(now_ms, out);
    out->push_back('}');
    return Status::Ok();
  }
  JsonBuffer& buffer = scratch_->buffer;
  JsonWriter& w = scratch_->Begin();
  w.StartObject();
  if (schema) {
    // Only for Items (EncodeRecord decodes when the schema is on).
    WriteKey("schema", w);
    w.StartObject();
    WriteKey("type", w);
    WriteString("struct", w);
    WriteKey("fields", w);
    w.StartArray();
    static const Item kEmpty;
    internal::WriteItemConnectSchema(change.old_image.present ? *change.old_image.item : kEmpty,
                                     "before", true, "", w);
    internal::WriteItemConnectSchema(change.new_image.present ? *change.new_image.item : kEmpty,
                                     "after", true, "", w);
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
  if (change.old_image.present) {
    KS_RETURN_IF_ERROR(WriteImage(change.old_image, /*typed=*/false, schema, w));
  } else {
    w.Null();
  }
  WriteKey("after", w);
  if (change.new_image.present) {
    KS_RETURN_IF_ERROR(WriteImage(change.new_image, /*typed=*/false, schema, w));
  } else {
    w.Null();
  }
  WriteKey("source", w);
  std::string& source = scratch_->source;
  source.clear();
  AppendSourceBlock(change, &source);
  w.RawJson(source);
  WriteKey("op", w);
  char op = OpCode(change.op);
  w.String(&op, 1);
  WriteKey("ts_ms", w);
  w.Int64(now_ms);
  if (schema) w.EndObject();
  w.EndObject();
  TakeText(buffer, out);
  return Status::Ok();
}

void Encoder::AppendSourceBlock(const Envelope& change, std::string* out) const {
  // {"version","connector","name","ts_ms","snapshot","db","table","seq"
  // [,"expired_by_ttl"]}: the
  // constant parts were written once, by the constructor.
  out->append(source_head_);
  AppendDecimal(change.timestamp_ms, out);
  out->append(!change.snapshot       ? R"(,"snapshot":"false")"
              : change.snapshot_last ? R"(,"snapshot":"last")"
                                     : R"(,"snapshot":"true")");
  out->append(source_tail_);
  AppendDecimal(change.sequence, out);
  if (change.expired_by_ttl) out->append(R"(,"expired_by_ttl":true)");
  out->push_back('}');
}

// The userIdentity of a record that Time to Live removed, as DynamoDB
// Streams' records in Lambda events spell it.
constexpr std::string_view kTtlUserIdentity =
    R"(,"userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"})";

Status Encoder::DynamoDbValue(const Envelope& change, std::string* out) {
  // Written straight into *out (as DebeziumValue's common form).
  out->clear();
  char id[40];
  // Stream records: the sequence number in 32 hex digits (as the HTTP streams
  // API names them). Snapshot reads: the ordinal + 1 in the upper half, so that
  // they never collide with a record's.
  std::snprintf(id, sizeof id, "%016" PRIx64 "%016" PRIx64,
                change.snapshot ? change.snapshot_ordinal + 1 : 0, change.sequence);
  out->append(R"({"eventID":")");
  out->append(id);
  out->append(R"(","eventName":")");
  switch (change.op) {
    case ChangeOp::kCreate:
    case ChangeOp::kRead:
      out->append("INSERT");
      break;
    case ChangeOp::kUpdate:
      out->append("MODIFY");
      break;
    case ChangeOp::kDelete:
      out->append("REMOVE");
      break;
    case ChangeOp::kTruncate:
      out->append("TRUNCATE");
      break;
  }
  out->append(R"(","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":)");
  internal::AppendJsonString(options_.region, out);
  out->append(R"(,"dynamodb":{"ApproximateCreationDateTime":)");
  AppendDecimal(change.timestamp_ms / 1000, out);
  out->append(R"(,"Keys":)");
  KS_RETURN_IF_ERROR(AppendImage(change.keys, /*typed=*/true, out));
  if (change.new_image.present) {
    out->append(R"(,"NewImage":)");
    KS_RETURN_IF_ERROR(AppendImage(change.new_image, /*typed=*/true, out));
  }
  if (change.old_image.present) {
    out->append(R"(,"OldImage":)");
    KS_RETURN_IF_ERROR(AppendImage(change.old_image, /*typed=*/true, out));
  }
  char sequence[32];
  std::snprintf(sequence, sizeof sequence, "%021" PRIu64, change.sequence);
  out->append(R"(,"SequenceNumber":")");
  out->append(sequence);
  out->append(R"(","SizeBytes":)");
  AppendDecimal(std::max<uint64_t>(1, change.size_bytes), out);
  out->append(R"(,"StreamViewType":")");
  out->append(store::StreamViewTypeName(change.view_type));
  out->append(R"("})");
  if (change.expired_by_ttl) out->append(kTtlUserIdentity);
  out->push_back('}');
  return Status::Ok();
}

Status Encoder::EncodeEnvelope(const Envelope& change, int64_t now_ms,
                               std::vector<EncodedEvent>* out) {
  EncodedEvent event = Reuse();
  event.topic = options_.topic;
  if (change.op != ChangeOp::kTruncate) {
    if (!event.key) event.key.emplace();
    KS_RETURN_IF_ERROR(KeyJsonOf(change.keys, &*event.key));
  } else {
    event.key.reset();
  }
  if (!event.value) event.value.emplace();
  KS_RETURN_IF_ERROR(options_.format == EventFormat::kDebezium
                         ? DebeziumValue(change, now_ms, &*event.value)
                         : DynamoDbValue(change, &*event.value));
  event.sequence = change.sequence;
  event.snapshot = change.snapshot;
  event.snapshot_ordinal = change.snapshot_ordinal;
  SetHeaders(change.sequence, OpCode(change.op), &event);
  if (change.headers != nullptr) {
    for (const auto& header : *change.headers) event.headers.push_back(header);
  }
  bool tombstone = change.op == ChangeOp::kDelete && options_.tombstones;
  out->push_back(std::move(event));
  if (tombstone) {
    const EncodedEvent& item_event = out->back();
    EncodedEvent t = Reuse();
    t.topic = item_event.topic;
    t.key = item_event.key;
    t.value.reset();
    t.headers = item_event.headers;
    t.sequence = change.sequence;
    t.sub_index = 1;
    out->push_back(std::move(t));
  }
  return Status::Ok();
}

void Encoder::Encode(const ChangeEvent& change, int64_t now_ms, std::vector<EncodedEvent>* out) {
  Envelope e;
  e.op = change.op;
  e.sequence = change.sequence;
  e.timestamp_ms = change.timestamp_ms;
  e.view_type = change.view_type;
  e.snapshot = change.snapshot;
  e.snapshot_ordinal = change.snapshot_ordinal;
  e.snapshot_last = change.snapshot_last;
  e.expired_by_ttl = change.expired_by_ttl;
  e.keys = Image::Of(&change.keys);
  e.old_image = Image::Of(change.old_image);
  e.new_image = Image::Of(change.new_image);
  if (options_.format == EventFormat::kDynamoDb) {
    e.size_bytes = store::ItemSizeBytes(change.keys) +
                   (change.new_image ? store::ItemSizeBytes(*change.new_image) : 0) +
                   (change.old_image ? store::ItemSizeBytes(*change.old_image) : 0);
  }
  e.headers = &change.headers;
  // Items cannot fail to encode.
  (void)EncodeEnvelope(e, now_ms, out);
}

Status Encoder::EncodeRecord(const store::EncodedStreamRecord& record, const PublishedView& view,
                             int64_t now_ms, std::vector<EncodedEvent>* out) {
  const bool has_old = record.old_image.has_value(), has_new = record.new_image.has_value();
  // The schema is derived from Items, and a narrowed record's SizeBytes from
  // its remaining images: those take the decoding path.
  bool narrowed = view.old_image != has_old || view.new_image != has_new;
  if (options_.debezium_schema || (options_.format == EventFormat::kDynamoDb && narrowed)) {
    store::StreamRecord decoded;
    KS_RETURN_IF_ERROR(store::DecodeStreamRecord(record, &decoded));
    if (!view.old_image) decoded.old_image.reset();
    if (!view.new_image) decoded.new_image.reset();
    ChangeEvent change = ChangeFromRecord(std::move(decoded));
    change.view_type = view.view_type;
    Encode(change, now_ms, out);
    return Status::Ok();
  }
  Envelope e;
  e.op = OpOf(record.type);
  e.sequence = record.sequence;
  e.timestamp_ms = record.timestamp_ms;
  e.view_type = view.view_type;
  e.keys = Image::Of(record.keys);
  if (view.old_image) e.old_image = Image::Of(record.old_image);
  if (view.new_image) e.new_image = Image::Of(record.new_image);
  e.size_bytes = record.size_bytes;
  e.expired_by_ttl = record.expired_by_ttl;
  size_t before = out->size();
  Status s = EncodeEnvelope(e, now_ms, out);
  if (!s.ok()) {
    out->resize(before);
    return s.WithContext("encoding the stream record of sequence " +
                         std::to_string(record.sequence));
  }
  return Status::Ok();
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
  SetHeaders(head_sequence, 'h', &event);
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
  SetHeaders(through, 'g', &event);
  return event;
}

}  // namespace keystone::cdc
