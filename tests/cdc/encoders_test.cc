// Encoders: debezium and dynamodb output compared with hand-checked JSON for
// each op and each stream view type, the schema form, special values,
// tombstones, headers, heartbeats and gap markers.

#include "cdc/encoders.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <vector>

#include "cdc/json_internal.h"
#include "tests/cdc/cdc_test_util.h"

namespace keystone::cdc {
namespace {

using store::AttributeValue;
using store::Item;
using store::ItemBuilder;
using store::Number;
using store::StreamEventType;
using store::StreamRecord;
using store::StreamViewType;
using AV = AttributeValue;
using testing::Header;

constexpr int64_t kWriteMs = 1'700'000'000'123;
constexpr int64_t kNowMs = 1'700'000'000'999;

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Debezium source block of record 42 (the version comes from the build).
std::string Source42(const char* snapshot = "false", int64_t ts = kWriteMs, uint64_t seq = 42) {
  return Replace(R"({"version":"@V","connector":"keystone","name":"src","ts_ms":)" +
                     std::to_string(ts) + R"(,"snapshot":")" + snapshot +
                     R"(","db":"keystone","table":"users","seq":)" + std::to_string(seq) + "}",
                 "@V", std::string(KeystoneVersion()));
}

const char kOld[] = R"({"name":"Al","pk":"u1"})";
const char kNew[] = R"({"n":7,"name":"Bob","pk":"u1"})";
const char kOldTyped[] = R"({"name":{"S":"Al"},"pk":{"S":"u1"}})";
const char kNewTyped[] = R"({"n":{"N":"7"},"name":{"S":"Bob"},"pk":{"S":"u1"}})";

Item Keys() { return ItemBuilder().S("pk", "u1").Build(); }
Item OldImage() { return ItemBuilder().S("pk", "u1").S("name", "Al").Build(); }
Item NewImage() { return ItemBuilder().S("pk", "u1").S("name", "Bob").N("n", 7).Build(); }

// A record as the store writes it for `view`: the images the view carries.
StreamRecord Record(StreamEventType type, StreamViewType view) {
  StreamRecord r;
  r.sequence = 42;
  r.table = "users";
  r.type = type;
  r.timestamp_ms = kWriteMs;
  r.view_type = view;
  if (type == StreamEventType::kTruncate) return r;
  r.keys = Keys();
  bool has_old = type != StreamEventType::kInsert;
  bool has_new = type != StreamEventType::kRemove;
  if (has_old && ViewHasOldImage(view)) r.old_image = OldImage();
  if (has_new && ViewHasNewImage(view)) r.new_image = NewImage();
  return r;
}

ChangeEvent Change(StreamEventType type, StreamViewType view, bool include_before = true) {
  ChangeEvent e = ChangeFromRecord(Record(type, view));
  NarrowView(&e, std::nullopt, include_before);
  return e;
}

EncoderOptions Options(EventFormat format) {
  EncoderOptions o;
  o.format = format;
  o.source = "src";
  o.table = "users";
  o.topic = "keystone.users";
  return o;
}

std::vector<EncodedEvent> Encode(const EncoderOptions& options, const ChangeEvent& change) {
  Encoder encoder(options);
  std::vector<EncodedEvent> out;
  encoder.Encode(change, kNowMs, &out);
  return out;
}

std::string Debezium(const std::string& before, const std::string& after, char op,
                     const std::string& source = Source42()) {
  return R"({"before":)" + before + R"(,"after":)" + after + R"(,"source":)" + source +
         R"(,"op":")" + std::string(1, op) + R"(","ts_ms":1700000000999})";
}

// --- debezium --------------------------------------------------------------

TEST(DebeziumTest, InsertUpdateDeleteWithNewAndOldImages) {
  auto c = Encode(Options(EventFormat::kDebezium),
                  Change(StreamEventType::kInsert, StreamViewType::kNewAndOldImages));
  ASSERT_EQ(1u, c.size());
  EXPECT_EQ(R"({"pk":"u1"})", *c[0].key);
  EXPECT_EQ(
      R"({"before":null,"after":{"n":7,"name":"Bob","pk":"u1"},"source":{"version":")" +
          std::string(KeystoneVersion()) +
          R"(","connector":"keystone","name":"src","ts_ms":1700000000123,"snapshot":"false","db":"keystone","table":"users","seq":42},"op":"c","ts_ms":1700000000999})",
      *c[0].value);
  EXPECT_EQ("keystone.users", c[0].topic);
  EXPECT_EQ(42u, c[0].sequence);
  EXPECT_EQ(0u, c[0].sub_index);
  EXPECT_FALSE(c[0].snapshot);
  std::vector<std::pair<std::string, std::string>> headers = {{"keystone.seq", "42"},
                                                              {"keystone.op", "c"},
                                                              {"keystone.table", "users"},
                                                              {"keystone.source", "src"}};
  EXPECT_EQ(headers, c[0].headers);

  auto u = Encode(Options(EventFormat::kDebezium),
                  Change(StreamEventType::kModify, StreamViewType::kNewAndOldImages));
  ASSERT_EQ(1u, u.size());
  EXPECT_EQ(Debezium(kOld, kNew, 'u'), *u[0].value);
  EXPECT_EQ("u", testing::Op(u[0]));

  auto d = Encode(Options(EventFormat::kDebezium),
                  Change(StreamEventType::kRemove, StreamViewType::kNewAndOldImages));
  ASSERT_EQ(2u, d.size());
  EXPECT_EQ(Debezium(kOld, "null", 'd'), *d[0].value);
  // The tombstone: same key, null value, after the delete.
  EXPECT_EQ(R"({"pk":"u1"})", *d[1].key);
  EXPECT_FALSE(d[1].value.has_value());
  EXPECT_EQ(42u, d[1].sequence);
  EXPECT_EQ(1u, d[1].sub_index);
  EXPECT_EQ("d", testing::Op(d[1]));
  EXPECT_EQ("42", Header(d[1], kHeaderSequence));
}

struct ViewCase {
  StreamViewType view;
  // Expected before/after per op c, u, d.
  const char* c_after;
  const char* u_before;
  const char* u_after;
  const char* d_before;
};

class DebeziumViewTest : public ::testing::TestWithParam<ViewCase> {};

TEST_P(DebeziumViewTest, EachOpCarriesWhatTheViewHas) {
  const ViewCase& v = GetParam();
  EncoderOptions o = Options(EventFormat::kDebezium);
  EXPECT_EQ(Debezium("null", v.c_after, 'c'),
            *Encode(o, Change(StreamEventType::kInsert, v.view))[0].value);
  EXPECT_EQ(Debezium(v.u_before, v.u_after, 'u'),
            *Encode(o, Change(StreamEventType::kModify, v.view))[0].value);
  EXPECT_EQ(Debezium(v.d_before, "null", 'd'),
            *Encode(o, Change(StreamEventType::kRemove, v.view))[0].value);
  auto t = Encode(o, Change(StreamEventType::kTruncate, v.view));
  ASSERT_EQ(1u, t.size());
  EXPECT_FALSE(t[0].key.has_value());
  EXPECT_EQ(Debezium("null", "null", 't'), *t[0].value);
  EXPECT_EQ("t", testing::Op(t[0]));
}

INSTANTIATE_TEST_SUITE_P(
    Views, DebeziumViewTest,
    ::testing::Values(ViewCase{StreamViewType::kKeysOnly, "null", "null", "null", "null"},
                      ViewCase{StreamViewType::kNewImage, kNew, "null", kNew, "null"},
                      ViewCase{StreamViewType::kOldImage, "null", kOld, "null", kOld},
                      ViewCase{StreamViewType::kNewAndOldImages, kNew, kOld, kNew, kOld}));

TEST(DebeziumTest, IncludeBeforeOffDropsTheOldImage) {
  EncoderOptions o = Options(EventFormat::kDebezium);
  EXPECT_EQ(Debezium("null", kNew, 'u'),
            *Encode(o, Change(StreamEventType::kModify, StreamViewType::kNewAndOldImages, false))[0]
                 .value);
  EXPECT_EQ(Debezium("null", "null", 'd'),
            *Encode(o, Change(StreamEventType::kRemove, StreamViewType::kNewAndOldImages, false))[0]
                 .value);
}

TEST(DebeziumTest, SourceViewNarrowsButNeverWidens) {
  EncoderOptions o = Options(EventFormat::kDebezium);
  ChangeEvent e =
      ChangeFromRecord(Record(StreamEventType::kModify, StreamViewType::kNewAndOldImages));
  NarrowView(&e, StreamViewType::kKeysOnly, true);
  EXPECT_EQ(StreamViewType::kKeysOnly, e.view_type);
  EXPECT_EQ(Debezium("null", "null", 'u'), *Encode(o, e)[0].value);

  e = ChangeFromRecord(Record(StreamEventType::kModify, StreamViewType::kNewImage));
  NarrowView(&e, StreamViewType::kNewAndOldImages, true);  // asks for more than the record has
  EXPECT_EQ(StreamViewType::kNewImage, e.view_type);
  EXPECT_EQ(Debezium("null", kNew, 'u'), *Encode(o, e)[0].value);
}

TEST(DebeziumTest, SnapshotReadsAreOpRWithSnapshotFlag) {
  EncoderOptions o = Options(EventFormat::kDebezium);
  ChangeEvent r = ChangeFromSnapshotItem(NewImage(), Keys(), StreamViewType::kNewAndOldImages, 500,
                                         1'700'000'100'000, 4, false);
  NarrowView(&r, std::nullopt, true);
  auto events = Encode(o, r);
  ASSERT_EQ(1u, events.size());
  EXPECT_EQ(Debezium("null", kNew, 'r', Source42("true", 1'700'000'100'000, 500)),
            *events[0].value);
  EXPECT_TRUE(events[0].snapshot);
  EXPECT_EQ(4u, events[0].snapshot_ordinal);
  EXPECT_EQ(500u, events[0].sequence);
  EXPECT_EQ("r", testing::Op(events[0]));
  EXPECT_EQ("500", Header(events[0], kHeaderSequence));

  ChangeEvent last = ChangeFromSnapshotItem(NewImage(), Keys(), StreamViewType::kNewAndOldImages,
                                            500, 1'700'000'100'000, 5, true);
  EXPECT_EQ(Debezium("null", kNew, 'r', Source42("last", 1'700'000'100'000, 500)),
            *Encode(o, last)[0].value);

  // A table whose stream carries no new images snapshots keys only.
  ChangeEvent keys_only = ChangeFromSnapshotItem(NewImage(), Keys(), StreamViewType::kOldImage, 500,
                                                 1'700'000'100'000, 6, false);
  NarrowView(&keys_only, std::nullopt, true);
  EXPECT_EQ(Debezium("null", "null", 'r', Source42("true", 1'700'000'100'000, 500)),
            *Encode(o, keys_only)[0].value);
}

TEST(DebeziumTest, TombstonesCanBeTurnedOff) {
  EncoderOptions o = Options(EventFormat::kDebezium);
  o.tombstones = false;
  EXPECT_EQ(1u,
            Encode(o, Change(StreamEventType::kRemove, StreamViewType::kNewAndOldImages)).size());
  o.format = EventFormat::kDynamoDb;
  EXPECT_EQ(1u,
            Encode(o, Change(StreamEventType::kRemove, StreamViewType::kNewAndOldImages)).size());
  o.tombstones = true;
  EXPECT_EQ(2u,
            Encode(o, Change(StreamEventType::kRemove, StreamViewType::kNewAndOldImages)).size());
}

Item SpecialItem() {
  return ItemBuilder()
      .S("pk", "u1")
      .B("b", std::string("\x00\x01\xff", 3))
      .N("big", "1234567890.123456789012345678")
      .Bool("bool", true)
      .Null("nul")
      .Set("l", AV::L({AV::S("y"), AV::N(1), AV::Null()}))
      .Set("m", AV::M({{"x", AV::N("-0.001")}}))
      .Set("ns", AV::NS({*Number::Parse("10"), *Number::Parse("2.50")}))
      .Set("ss", AV::SS({"b", "a"}))
      .Set("bs", AV::BS({std::string("\xff")}))
      .Set("e", AV::N("1E+30"))
      .Build();
}

TEST(DebeziumTest, AttributesArePlainJsonWithExactNumbers) {
  ChangeEvent e;
  e.op = ChangeOp::kCreate;
  e.sequence = 42;
  e.timestamp_ms = kWriteMs;
  e.keys = Keys();
  e.new_image = SpecialItem();
  auto events = Encode(Options(EventFormat::kDebezium), e);
  EXPECT_EQ(Debezium("null",
                     R"({"b":"AAH/","big":1234567890.123456789012345678,"bool":true,"bs":["/w=="],)"
                     R"("e":1000000000000000000000000000000,"l":["y",1,null],"m":{"x":-0.001},)"
                     R"("ns":[2.5,10],"nul":null,"pk":"u1","ss":["a","b"]})",
                     'c'),
            *events[0].value);
  // Valid JSON whose numbers parse as numbers.
  auto doc = testing::ParseJson(*events[0].value);
  EXPECT_TRUE(doc["after"]["big"].IsNumber());
}

TEST(DebeziumTest, StringsAreEscaped) {
  ChangeEvent e;
  e.op = ChangeOp::kCreate;
  e.sequence = 1;
  e.keys = ItemBuilder().S("pk", "a\"b\\c\n").Build();
  e.new_image = ItemBuilder().S("pk", "a\"b\\c\n").S("t", "\x01\xc3\xa9").Build();
  auto events = Encode(Options(EventFormat::kDebezium), e);
  EXPECT_EQ(R"({"pk":"a\"b\\c\n"})", *events[0].key);
  auto doc = testing::ParseJson(*events[0].value);
  EXPECT_EQ(std::string("\x01\xc3\xa9"), doc["after"]["t"].GetString());
}

TEST(DebeziumTest, SchemaAndPayloadForm) {
  EncoderOptions o = Options(EventFormat::kDebezium);
  o.debezium_schema = true;
  auto c = Encode(o, Change(StreamEventType::kInsert, StreamViewType::kNewAndOldImages));
  EXPECT_EQ(
      R"({"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"pk"}],)"
      R"("optional":false,"name":"src.users.Key"},"payload":{"pk":"u1"}})",
      *c[0].key);
  std::string source_schema =
      R"({"type":"struct","fields":[{"type":"string","optional":false,"field":"version"},)"
      R"({"type":"string","optional":false,"field":"connector"},)"
      R"({"type":"string","optional":false,"field":"name"},)"
      R"({"type":"int64","optional":false,"field":"ts_ms"},)"
      R"({"type":"string","optional":true,"field":"snapshot"},)"
      R"({"type":"string","optional":false,"field":"db"},)"
      R"({"type":"string","optional":false,"field":"table"},)"
      R"({"type":"int64","optional":false,"field":"seq"},)"
      R"({"type":"boolean","optional":true,"field":"expired_by_ttl"}],"optional":false,)"
      R"("name":"io.keystone.connector.Source","field":"source"})";
  std::string expected =
      R"({"schema":{"type":"struct","fields":[)"
      R"({"type":"struct","fields":[],"optional":true,"field":"before"},)"
      R"({"type":"struct","fields":[{"type":"int64","optional":true,"field":"n"},)"
      R"({"type":"string","optional":true,"field":"name"},)"
      R"({"type":"string","optional":true,"field":"pk"}],"optional":true,"field":"after"},)" +
      source_schema +
      R"(,{"type":"string","optional":false,"field":"op"},)"
      R"({"type":"int64","optional":true,"field":"ts_ms"}],)"
      R"("optional":false,"name":"src.users.Envelope","version":1},"payload":)" +
      Debezium("null", kNew, 'c') + "}";
  EXPECT_EQ(expected, *c[0].value);
}

TEST(DebeziumTest, SchemaFormTypesEveryAttributeKind) {
  EncoderOptions o = Options(EventFormat::kDebezium);
  o.debezium_schema = true;
  ChangeEvent e;
  e.op = ChangeOp::kCreate;
  e.sequence = 42;
  e.timestamp_ms = kWriteMs;
  e.keys = Keys();
  e.new_image = SpecialItem();
  auto doc = testing::ParseJson(*Encode(o, e)[0].value);
  const auto& after_fields = doc["schema"]["fields"][1]["fields"];
  std::map<std::string, std::string> types;
  for (const auto& f : after_fields.GetArray()) {
    std::string type = f["type"].GetString();
    if (type == "array") type += std::string("<") + f["items"]["type"].GetString() + ">";
    if (f.HasMember("name")) type += std::string(":") + f["name"].GetString();
    types[f["field"].GetString()] = type;
  }
  std::map<std::string, std::string> expected = {
      {"b", "bytes"},         {"big", "double"},       {"bool", "boolean"},
      {"bs", "array<bytes>"}, {"e", "double"},         {"l", "string:io.debezium.data.Json"},
      {"m", "struct"},        {"ns", "array<double>"}, {"nul", "string"},
      {"pk", "string"},       {"ss", "array<string>"}};
  EXPECT_EQ(expected, types);
  // The heterogeneous list travels as JSON text; the rest as plain JSON.
  EXPECT_EQ(R"(["y",1,null])", std::string(doc["payload"]["after"]["l"].GetString()));
  EXPECT_EQ(10, doc["payload"]["after"]["ns"][1].GetInt());
}

// --- dynamodb --------------------------------------------------------------

std::string DynamoDb(const char* name, const std::string& images, int size, const char* view,
                     const std::string& id = "0000000000000000000000000000002a",
                     const std::string& keys = R"({"pk":{"S":"u1"}})") {
  return R"({"eventID":")" + id + R"(","eventName":")" + name +
         R"(","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"us-east-1",)"
         R"("dynamodb":{"ApproximateCreationDateTime":1700000000,"Keys":)" +
         keys + images + R"(,"SequenceNumber":"000000000000000000042","SizeBytes":)" +
         std::to_string(size) + R"(,"StreamViewType":")" + view + R"("}})";
}

TEST(DynamoDbTest, InsertModifyRemoveWithNewAndOldImages) {
  EncoderOptions o = Options(EventFormat::kDynamoDb);
  auto c = Encode(o, Change(StreamEventType::kInsert, StreamViewType::kNewAndOldImages));
  ASSERT_EQ(1u, c.size());
  EXPECT_EQ(
      R"({"eventID":"0000000000000000000000000000002a","eventName":"INSERT","eventVersion":"1.1",)"
      R"("eventSource":"aws:dynamodb","awsRegion":"us-east-1","dynamodb":{)"
      R"("ApproximateCreationDateTime":1700000000,"Keys":{"pk":{"S":"u1"}},)"
      R"("NewImage":{"n":{"N":"7"},"name":{"S":"Bob"},"pk":{"S":"u1"}},)"
      R"("SequenceNumber":"000000000000000000042","SizeBytes":18,)"
      R"("StreamViewType":"NEW_AND_OLD_IMAGES"}})",
      *c[0].value);
  // The message key is the plain JSON key, as debezium's.
  EXPECT_EQ(R"({"pk":"u1"})", *c[0].key);
  EXPECT_EQ("c", testing::Op(c[0]));

  auto u = Encode(o, Change(StreamEventType::kModify, StreamViewType::kNewAndOldImages));
  EXPECT_EQ(
      DynamoDb("MODIFY", std::string(R"(,"NewImage":)") + kNewTyped + R"(,"OldImage":)" + kOldTyped,
               28, "NEW_AND_OLD_IMAGES"),
      *u[0].value);
  auto d = Encode(o, Change(StreamEventType::kRemove, StreamViewType::kNewAndOldImages));
  ASSERT_EQ(2u, d.size());
  EXPECT_EQ(
      DynamoDb("REMOVE", std::string(R"(,"OldImage":)") + kOldTyped, 14, "NEW_AND_OLD_IMAGES"),
      *d[0].value);
  EXPECT_FALSE(d[1].value.has_value());
}

class DynamoDbViewTest : public ::testing::TestWithParam<StreamViewType> {};

TEST_P(DynamoDbViewTest, EachOpCarriesWhatTheViewHas) {
  StreamViewType view = GetParam();
  std::string name(store::StreamViewTypeName(view));
  bool has_new = ViewHasNewImage(view);
  bool has_old = ViewHasOldImage(view);
  std::string new_part = has_new ? std::string(R"(,"NewImage":)") + kNewTyped : "";
  std::string old_part = has_old ? std::string(R"(,"OldImage":)") + kOldTyped : "";
  EncoderOptions o = Options(EventFormat::kDynamoDb);
  EXPECT_EQ(DynamoDb("INSERT", new_part, 4 + (has_new ? 14 : 0), name.c_str()),
            *Encode(o, Change(StreamEventType::kInsert, view))[0].value);
  EXPECT_EQ(DynamoDb("MODIFY", new_part + old_part, 4 + (has_new ? 14 : 0) + (has_old ? 10 : 0),
                     name.c_str()),
            *Encode(o, Change(StreamEventType::kModify, view))[0].value);
  EXPECT_EQ(DynamoDb("REMOVE", old_part, 4 + (has_old ? 10 : 0), name.c_str()),
            *Encode(o, Change(StreamEventType::kRemove, view))[0].value);
  auto t = Encode(o, Change(StreamEventType::kTruncate, view));
  EXPECT_FALSE(t[0].key.has_value());
  EXPECT_EQ(DynamoDb("TRUNCATE", "", 1, name.c_str(), "0000000000000000000000000000002a", "{}"),
            *t[0].value);
}

INSTANTIATE_TEST_SUITE_P(Views, DynamoDbViewTest,
                         ::testing::Values(StreamViewType::kKeysOnly, StreamViewType::kNewImage,
                                           StreamViewType::kOldImage,
                                           StreamViewType::kNewAndOldImages));

TEST(DynamoDbTest, SnapshotReadsAreInsertsWithDistinctEventIds) {
  EncoderOptions o = Options(EventFormat::kDynamoDb);
  ChangeEvent r = ChangeFromSnapshotItem(NewImage(), Keys(), StreamViewType::kNewAndOldImages, 42,
                                         kWriteMs, 4, false);
  NarrowView(&r, std::nullopt, true);
  EXPECT_EQ(DynamoDb("INSERT", std::string(R"(,"NewImage":)") + kNewTyped, 18, "NEW_AND_OLD_IMAGES",
                     "0000000000000005000000000000002a"),
            *Encode(o, r)[0].value);
}

TEST(DynamoDbTest, TypedValuesOfEveryKind) {
  ChangeEvent e;
  e.op = ChangeOp::kCreate;
  e.sequence = 42;
  e.timestamp_ms = kWriteMs;
  e.view_type = StreamViewType::kNewImage;
  e.keys = Keys();
  e.new_image = SpecialItem();
  auto doc = testing::ParseJson(*Encode(Options(EventFormat::kDynamoDb), e)[0].value);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  doc["dynamodb"]["NewImage"].Accept(w);
  EXPECT_EQ(
      R"({"b":{"B":"AAH/"},"big":{"N":"1234567890.123456789012345678"},"bool":{"BOOL":true},)"
      R"("bs":{"BS":["/w=="]},"e":{"N":"1000000000000000000000000000000"},)"
      R"("l":{"L":[{"S":"y"},{"N":"1"},{"NULL":true}]},"m":{"M":{"x":{"N":"-0.001"}}},)"
      R"("ns":{"NS":["2.5","10"]},"nul":{"NULL":true},"pk":{"S":"u1"},"ss":{"SS":["a","b"]}})",
      std::string(buffer.GetString()));
}

TEST(DynamoDbTest, SequenceNumbersArePaddedTo21Digits) {
  EXPECT_EQ("000000000000000000001", SequenceNumberText(1));
  EXPECT_EQ("000018446744073709551615", SequenceNumberText(UINT64_MAX).insert(0, "000"));
  EXPECT_EQ(21u, SequenceNumberText(UINT64_MAX).size());
}

// --- other events ----------------------------------------------------------

TEST(EncoderTest, ExtraHeadersFollowTheStandardOnes) {
  ChangeEvent e = Change(StreamEventType::kInsert, StreamViewType::kNewAndOldImages);
  e.headers = {{"team", "growth"}};
  auto events = Encode(Options(EventFormat::kDynamoDb), e);
  ASSERT_EQ(5u, events[0].headers.size());
  EXPECT_EQ((std::pair<std::string, std::string>("team", "growth")), events[0].headers[4]);
}

// A recycled event is encoded over: nothing of its earlier content remains.
TEST(EncoderTest, ARecycledEventKeepsNothingOfItsPast) {
  Encoder encoder(Options(EventFormat::kDebezium));
  ChangeEvent first = Change(StreamEventType::kRemove, StreamViewType::kNewAndOldImages);
  first.sequence = 123456789;
  first.headers = {{"team", "growth"}, {"region", "eu"}};
  std::vector<EncodedEvent> out;
  encoder.Encode(first, kNowMs, &out);
  ASSERT_EQ(2u, out.size());  // the delete and its tombstone
  for (EncodedEvent& e : out) encoder.Recycle(std::move(e));

  ChangeEvent second = Change(StreamEventType::kInsert, StreamViewType::kNewAndOldImages);
  std::vector<EncodedEvent> reused;
  encoder.Encode(second, kNowMs, &reused);
  std::vector<EncodedEvent> fresh = Encode(Options(EventFormat::kDebezium), second);
  ASSERT_EQ(1u, reused.size());
  ASSERT_EQ(1u, fresh.size());
  EXPECT_EQ(fresh[0].key, reused[0].key);
  EXPECT_EQ(fresh[0].value, reused[0].value);
  EXPECT_EQ(fresh[0].headers, reused[0].headers);
  EXPECT_EQ(4u, reused[0].headers.size());
  EXPECT_EQ(fresh[0].sub_index, reused[0].sub_index);
  EXPECT_EQ(fresh[0].sequence, reused[0].sequence);
  EXPECT_EQ("42", Header(reused[0], kHeaderSequence));
}

TEST(EncoderTest, HeartbeatAndGapMarker) {
  Encoder encoder(Options(EventFormat::kDebezium));
  EncodedEvent h = encoder.Heartbeat(99, kNowMs);
  EXPECT_EQ(R"({"source":"src"})", *h.key);
  EXPECT_EQ(R"({"source":"src","table":"users","seq":99,"ts_ms":1700000000999})", *h.value);
  EXPECT_EQ("h", testing::Op(h));
  EXPECT_EQ("99", Header(h, kHeaderSequence));
  EXPECT_EQ(0u, h.sequence);

  EncodedEvent g = encoder.GapMarker(5, 9, kNowMs);
  EXPECT_EQ(R"({"source":"src"})", *g.key);
  EXPECT_EQ(
      R"({"source":"src","table":"users","op":"g","gap":{"after":5,"through":9},"ts_ms":1700000000999})",
      *g.value);
  EXPECT_EQ("g", testing::Op(g));
  EXPECT_EQ(9u, g.sequence);
}

TEST(EncoderTest, Base64) {
  EXPECT_EQ("", Base64Encode(""));
  EXPECT_EQ("Zg==", Base64Encode("f"));
  EXPECT_EQ("Zm8=", Base64Encode("fo"));
  EXPECT_EQ("Zm9v", Base64Encode("foo"));
  EXPECT_EQ("Zm9vYmFy", Base64Encode("foobar"));
}

// --- records encoded straight from the store's encoding -----------------------

// `r` as a source reads it from the store: encoded, its views into `buffer`.
store::EncodedStreamRecord EncodedOf(const StreamRecord& r, std::string* buffer) {
  buffer->clear();
  store::EncodeStreamRecord(r, buffer);
  store::EncodedStreamRecord e;
  EXPECT_TRUE(store::ParseStreamRecord(*buffer, &e).ok());
  e.sequence = r.sequence;
  return e;
}

void ExpectSameEvents(const std::vector<EncodedEvent>& want, const std::vector<EncodedEvent>& got,
                      const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i].topic, got[i].topic) << what;
    EXPECT_EQ(want[i].key, got[i].key) << what;
    EXPECT_EQ(want[i].value, got[i].value) << what;
    EXPECT_EQ(want[i].headers, got[i].headers) << what;
    EXPECT_EQ(want[i].sequence, got[i].sequence) << what;
    EXPECT_EQ(want[i].sub_index, got[i].sub_index) << what;
    EXPECT_EQ(want[i].snapshot, got[i].snapshot) << what;
  }
}

TEST(EncodeRecordTest, GivesTheEventsOfTheDecodedNarrowedChange) {
  const std::vector<StreamViewType> views = {StreamViewType::kKeysOnly, StreamViewType::kNewImage,
                                             StreamViewType::kOldImage,
                                             StreamViewType::kNewAndOldImages};
  std::vector<std::optional<StreamViewType>> source_views = {std::nullopt};
  source_views.insert(source_views.end(), views.begin(), views.end());
  struct Format {
    EventFormat format;
    bool schema;
  };
  std::string buffer;
  int cases = 0;
  for (Format f : {Format{EventFormat::kDebezium, false}, Format{EventFormat::kDebezium, true},
                   Format{EventFormat::kDynamoDb, false}}) {
    for (bool tombstones : {true, false}) {
      EncoderOptions options = Options(f.format);
      options.debezium_schema = f.schema;
      options.tombstones = tombstones;
      Encoder direct(options), decoded(options);
      for (StreamEventType type : {StreamEventType::kInsert, StreamEventType::kModify,
                                   StreamEventType::kRemove, StreamEventType::kTruncate}) {
        for (StreamViewType view : views) {
          StreamRecord r = Record(type, view);
          if (r.new_image) r.new_image = SpecialItem();
          r.size_bytes = store::ItemSizeBytes(r.keys) +
                         (r.old_image ? store::ItemSizeBytes(*r.old_image) : 0) +
                         (r.new_image ? store::ItemSizeBytes(*r.new_image) : 0);
          for (const auto& source_view : source_views) {
            for (bool include_before : {true, false}) {
              std::string what =
                  std::string(EventFormatName(f.format)) + (f.schema ? "+schema" : "") + " " +
                  std::string(store::StreamEventTypeName(type)) + " " +
                  std::string(store::StreamViewTypeName(view)) + " source view " +
                  std::string(source_view ? store::StreamViewTypeName(*source_view) : "-") +
                  (include_before ? "" : " no before") + (tombstones ? "" : " no tombstones");
              ChangeEvent change = ChangeFromRecord(StreamRecord(r));
              NarrowView(&change, source_view, include_before);
              std::vector<EncodedEvent> want, got;
              decoded.Encode(change, kNowMs, &want);
              PublishedView published =
                  NarrowedView(r.view_type, r.new_image.has_value(), r.old_image.has_value(),
                               source_view, include_before);
              Status s = direct.EncodeRecord(EncodedOf(r, &buffer), published, kNowMs, &got);
              ASSERT_TRUE(s.ok()) << what << ": " << s.ToString();
              ExpectSameEvents(want, got, what);
              ++cases;
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(3 * 2 * 4 * 4 * 5 * 2, cases);
}

// A Time to Live deletion carries the service's userIdentity in the DynamoDB
// format, whichever path encodes it, and survives the stored encoding; a
// client's REMOVE has none.
TEST(EncodeRecordTest, TtlRemovalsCarryTheServiceIdentity) {
  constexpr std::string_view kIdentity =
      R"(,"userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"}})";
  StreamRecord r = Record(StreamEventType::kRemove, StreamViewType::kNewAndOldImages);
  r.expired_by_ttl = true;
  std::string buffer;
  store::EncodedStreamRecord encoded = EncodedOf(r, &buffer);
  EXPECT_TRUE(encoded.expired_by_ttl);
  StreamRecord decoded;
  ASSERT_TRUE(store::DecodeStreamRecord(buffer, &decoded).ok());
  EXPECT_TRUE(decoded.expired_by_ttl);

  Encoder encoder(Options(EventFormat::kDynamoDb));
  PublishedView all = NarrowedView(r.view_type, false, true, std::nullopt, true);
  std::vector<EncodedEvent> direct, via_change;
  ASSERT_TRUE(encoder.EncodeRecord(encoded, all, kNowMs, &direct).ok());
  encoder.Encode(ChangeFromRecord(StreamRecord(r)), kNowMs, &via_change);
  ASSERT_FALSE(direct.empty());
  ASSERT_FALSE(via_change.empty());
  for (const std::string& value : {*direct[0].value, *via_change[0].value}) {
    ASSERT_GT(value.size(), kIdentity.size());
    EXPECT_EQ(kIdentity, value.substr(value.size() - kIdentity.size())) << value;
    EXPECT_NE(std::string::npos, value.find(R"("eventName":"REMOVE")")) << value;
  }

  // In the debezium envelope, the source block says so (with and without
  // the schema, which declares the optional field).
  for (bool schema : {false, true}) {
    EncoderOptions debezium = Options(EventFormat::kDebezium);
    debezium.debezium_schema = schema;
    Encoder d(debezium);
    std::vector<EncodedEvent> events;
    ASSERT_TRUE(d.EncodeRecord(encoded, all, kNowMs, &events).ok());
    ASSERT_FALSE(events.empty());
    rapidjson::Document doc;
    doc.Parse(events[0].value->data(), events[0].value->size());
    ASSERT_FALSE(doc.HasParseError()) << *events[0].value;
    const rapidjson::Value& payload = schema ? doc["payload"] : doc;
    EXPECT_TRUE(payload["source"]["expired_by_ttl"].GetBool()) << *events[0].value;
    EXPECT_EQ("d", std::string(payload["op"].GetString()));
    if (schema) {
      EXPECT_NE(
          std::string::npos,
          events[0].value->find(R"({"type":"boolean","optional":true,"field":"expired_by_ttl"})"))
          << *events[0].value;
    }
  }

  r.expired_by_ttl = false;
  std::vector<EncodedEvent> plain;
  ASSERT_TRUE(encoder.EncodeRecord(EncodedOf(r, &buffer), all, kNowMs, &plain).ok());
  EXPECT_EQ(std::string::npos, plain[0].value->find("userIdentity")) << *plain[0].value;
  Encoder debezium(Options(EventFormat::kDebezium));
  plain.clear();
  ASSERT_TRUE(debezium.EncodeRecord(EncodedOf(r, &buffer), all, kNowMs, &plain).ok());
  EXPECT_EQ(std::string::npos, plain[0].value->find("expired_by_ttl")) << *plain[0].value;
}

TEST(EncodeRecordTest, CorruptImageIsAnErrorAndAppendsNothing) {
  StreamRecord r = Record(StreamEventType::kModify, StreamViewType::kNewAndOldImages);
  std::string buffer;
  store::EncodedStreamRecord e = EncodedOf(r, &buffer);
  std::string truncated(*e.new_image);
  truncated.pop_back();
  e.new_image = truncated;
  for (EventFormat format : {EventFormat::kDebezium, EventFormat::kDynamoDb}) {
    Encoder encoder(Options(format));
    std::vector<EncodedEvent> out(1);  // what was there stays
    PublishedView all{.new_image = true, .old_image = true};
    Status s = encoder.EncodeRecord(e, all, kNowMs, &out);
    EXPECT_EQ(StatusCode::kInternal, s.code());
    EXPECT_NE(std::string::npos, s.message().find("sequence 42")) << s.ToString();
    EXPECT_EQ(1u, out.size());
  }
}

TEST(JsonWriterTest, WritesStringsExactlyAsRapidjson) {
  // Every byte that matters to escaping, at every place of strings around the
  // fast path's 8-byte words.
  const std::string specials("\0\x01\x1f \"\\a\x7f\x80\xff", 10);
  for (size_t length = 0; length <= 24; ++length) {
    for (size_t at = 0; at < std::max<size_t>(length, 1); ++at) {
      for (char special : specials) {
        std::string text(length, 'x');
        if (length > 0) text[at] = special;
        internal::JsonBuffer ours_buffer;
        internal::JsonWriter ours(ours_buffer);
        rapidjson::StringBuffer theirs_buffer;
        rapidjson::Writer<rapidjson::StringBuffer> theirs(theirs_buffer);
        ours.StartObject();
        theirs.StartObject();
        ours.Key(text.data(), static_cast<rapidjson::SizeType>(text.size()));
        theirs.Key(text.data(), static_cast<rapidjson::SizeType>(text.size()));
        ours.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
        theirs.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
        ours.EndObject();
        theirs.EndObject();
        ASSERT_EQ(std::string(theirs_buffer.GetString()), std::string(ours_buffer.GetString()))
            << "length " << length << " at " << at << " byte " << static_cast<int>(special);
        // The appender's strings, too.
        rapidjson::StringBuffer alone_buffer;
        rapidjson::Writer<rapidjson::StringBuffer> alone(alone_buffer);
        alone.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
        std::string appended = "x";
        internal::AppendJsonString(text, &appended);
        ASSERT_EQ("x" + std::string(alone_buffer.GetString()), appended)
            << "length " << length << " at " << at << " byte " << static_cast<int>(special);
      }
    }
  }
}

// Separators and wrappers around empty and nested containers, in both forms,
// from an Item and from its encoding.
TEST(JsonAppenderTest, NestedAndEmptyContainers) {
  using store::AttributeList;
  using store::AttributeMap;
  AttributeMap inner;
  inner.emplace("k", AV::L(AttributeList{AV::N(int64_t{1}), AV::N(int64_t{2})}));
  Item item =
      ItemBuilder()
          .Set("a", AV::L(AttributeList{AV::M(inner), AV::L({}), AV::M({}), AV::SS({"p", "q"})}))
          .Set("e", AV::M({}))
          .Set("z", AV::L(AttributeList{AV::Null(), AV::Bool(false)}))
          .Build();
  const std::string plain = R"({"a":[{"k":[1,2]},[],{},["p","q"]],"e":{},"z":[null,false]})";
  const std::string typed =
      R"({"a":{"L":[{"M":{"k":{"L":[{"N":"1"},{"N":"2"}]}}},{"L":[]},{"M":{}},{"SS":["p","q"]}]},)"
      R"("e":{"M":{}},"z":{"L":[{"NULL":true},{"BOOL":false}]}})";
  std::string encoded;
  store::EncodeItem(item, &encoded);
  for (bool is_typed : {false, true}) {
    std::string from_item = "x";
    internal::AppendItem(item, is_typed, &from_item);
    EXPECT_EQ("x" + (is_typed ? typed : plain), from_item);
    std::string from_encoding;
    ASSERT_TRUE(internal::AppendEncodedItem(encoded, is_typed, &from_encoding).ok());
    EXPECT_EQ(is_typed ? typed : plain, from_encoding);
  }
  // A corrupt encoding is an error.
  std::string partial;
  EXPECT_FALSE(
      internal::AppendEncodedItem(encoded.substr(0, encoded.size() - 3), false, &partial).ok());
}

}  // namespace
}  // namespace keystone::cdc
