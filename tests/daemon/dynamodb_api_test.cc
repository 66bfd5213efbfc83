// DynamoDbApi and the DynamoDB JSON codec, driven through Handle() on a real
// ItemStore in a temporary directory.

#include "daemon/dynamodb_api.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "daemon/dynamodb_json.h"
#include "daemon/dynamodb_json_internal.h"
#include "lmdb_store/item_codec.h"
#include "lmdb_store/item_store.h"
#include "tests/testing/temp_dir.h"

namespace keystone::daemon {
namespace {

using store::AttributeType;
using store::AttributeValue;
using store::Item;
using testing::TempDir;

// ---------------------------------------------------------------------------
// Helpers for reading JSON responses.

rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  EXPECT_FALSE(doc.HasParseError()) << text;
  return doc;
}

// The value at a dotted path ("Table.KeySchema.0.AttributeName"; numbers index
// arrays), or nullptr when any step is missing.
const rapidjson::Value* At(const rapidjson::Value& root, std::string_view path) {
  const rapidjson::Value* v = &root;
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string step(path.substr(0, dot));
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    if (v->IsObject()) {
      auto it = v->FindMember(step.c_str());
      if (it == v->MemberEnd()) return nullptr;
      v = &it->value;
    } else if (v->IsArray()) {
      size_t index = std::stoul(step);
      if (index >= v->Size()) return nullptr;
      v = &(*v)[static_cast<rapidjson::SizeType>(index)];
    } else {
      return nullptr;
    }
  }
  return v;
}

bool Has(const rapidjson::Value& root, std::string_view path) { return At(root, path) != nullptr; }

std::string Str(const rapidjson::Value& root, std::string_view path) {
  const rapidjson::Value* v = At(root, path);
  if (v == nullptr || !v->IsString()) {
    ADD_FAILURE() << "no string at " << path;
    return "";
  }
  return std::string(v->GetString(), v->GetStringLength());
}

int64_t Int(const rapidjson::Value& root, std::string_view path) {
  const rapidjson::Value* v = At(root, path);
  if (v == nullptr || !v->IsInt64()) {
    ADD_FAILURE() << "no integer at " << path;
    return -1;
  }
  return v->GetInt64();
}

double Number(const rapidjson::Value& root, std::string_view path) {
  const rapidjson::Value* v = At(root, path);
  if (v == nullptr || !v->IsNumber()) {
    ADD_FAILURE() << "no number at " << path;
    return -1;
  }
  return v->GetDouble();
}

size_t Size(const rapidjson::Value& root, std::string_view path) {
  const rapidjson::Value* v = At(root, path);
  if (v == nullptr) {
    ADD_FAILURE() << "nothing at " << path;
    return 0;
  }
  if (v->IsArray()) return v->Size();
  if (v->IsObject()) return v->MemberCount();
  ADD_FAILURE() << "not an array or object at " << path;
  return 0;
}

// The exception name of an error response ("ValidationException").
std::string ErrorName(const ApiResponse& response) {
  rapidjson::Document doc = ParseJson(response.body);
  std::string type = Str(doc, "__type");
  return type.substr(type.find('#') + 1);
}

std::string ErrorMessage(const ApiResponse& response) {
  rapidjson::Document doc = ParseJson(response.body);
  if (Has(doc, "message")) return Str(doc, "message");
  return Str(doc, "Message");
}

bool AllDigits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// ---------------------------------------------------------------------------
// DynamoDB JSON

TEST(DynamoDbJsonTest, EveryTypeRoundTrips) {
  const std::string text =
      R"({"b":{"B":"AAEC/w=="},"bool":{"BOOL":false},"bs":{"BS":["AA==","AQ=="]},)"
      R"("l":{"L":[{"S":"x"},{"N":"2"},{"NULL":true}]},"m":{"M":{"inner":{"S":"y"}}},)"
      R"("n":{"N":"-12.5"},"ns":{"NS":["-1","3","10"]},"null":{"NULL":true},)"
      R"("s":{"S":"héllo\u0000!"},"ss":{"SS":["a","b"]}})";
  auto item = ItemFromJson(text);
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  EXPECT_EQ(std::string("\x00\x01\x02\xff", 4), item->at("b").b());
  EXPECT_FALSE(item->at("bool").boolean());
  EXPECT_EQ(2u, item->at("bs").bs().size());
  EXPECT_EQ(3u, item->at("l").l().size());
  EXPECT_EQ("y", item->at("m").m().at("inner").s());
  EXPECT_EQ("-12.5", item->at("n").n().ToString());
  EXPECT_EQ(3u, item->at("ns").ns().size());
  EXPECT_TRUE(item->at("null").is(AttributeType::kNull));
  EXPECT_EQ(std::string("h\xc3\xa9llo\0!", 8), item->at("s").s());
  EXPECT_EQ((std::vector<std::string>{"a", "b"}), item->at("ss").ss());

  std::string written = ItemToJson(*item);
  auto again = ItemFromJson(written);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*item, *again);
  EXPECT_EQ(written, ItemToJson(*again));
}

// GetItem writes a stored item's JSON straight from its encoding: the text
// is exactly what the decoded Item gives (one visitor writes both), for
// every type and nesting.
TEST(DynamoDbJsonTest, EncodedItemsAreWrittenAsTheirDecodedItems) {
  const std::string text =
      R"({"b":{"B":"AAEC/w=="},"bool":{"BOOL":false},"bs":{"BS":["AA==","AQ=="]},)"
      R"("empty_l":{"L":[]},"empty_m":{"M":{}},"empty_s":{"S":""},)"
      R"("l":{"L":[{"S":"x"},{"N":"2"},{"NULL":true},{"SS":["p","q"]},)"
      R"({"M":{"deep":{"L":[{"BOOL":true},{"NS":["1","2.5"]},{"B":"AQ=="}]}}}]},)"
      R"("m":{"M":{"inner":{"S":"y"},"set":{"BS":["AQ=="]},"z":{"M":{"n":{"N":"0"}}}}},)"
      R"("n":{"N":"-12.5"},"ns":{"NS":["-1","3","10"]},"null":{"NULL":true},)"
      R"("s":{"S":"héllo\u0000!\"\\"},"ss":{"SS":["a","b"]},"zero":{"N":"0"}})";
  auto item = ItemFromJson(text);
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  std::string encoded;
  store::EncodeItem(*item, &encoded);
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  ASSERT_TRUE(WriteEncodedItem(encoded, writer).ok());
  // The text above is already canonical (names in byte order, sets sorted).
  EXPECT_EQ(text, std::string(buffer.GetString(), buffer.GetSize()));
  EXPECT_EQ(text, ItemToJson(*item));

  // A corrupt encoding is an error, not a wrong answer.
  rapidjson::StringBuffer partial;
  JsonWriter partial_writer(partial);
  EXPECT_EQ(StatusCode::kInternal,
            WriteEncodedItem(encoded.substr(0, encoded.size() / 2), partial_writer).code());
}

// Requests that are pure ASCII skip rapidjson's per-character UTF-8 check;
// escapes still decode, and other text is still checked.
TEST(DynamoDbJsonTest, AsciiAndNonAsciiRequestsParseAlike) {
  auto escaped = ItemFromJson(R"({"s":{"S":"\u00e9\ud83d\ude00"}})");
  ASSERT_TRUE(escaped.ok()) << escaped.status().ToString();
  auto raw = ItemFromJson("{\"s\":{\"S\":\"\xc3\xa9\xf0\x9f\x98\x80\"}}");
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ(*raw, *escaped);
  for (std::string bad : {"\xc3\x28", "\xed\xa0\x80", "\xf8\x88\x80\x80\x80", "\x80"}) {
    auto rejected = ItemFromJson("{\"s\":{\"S\":\"ok " + bad + "\"}}");
    EXPECT_EQ(StatusCode::kFailedPrecondition, rejected.status().code())
        << rejected.status().ToString();
  }
}

TEST(DynamoDbJsonTest, OutputIsCanonical) {
  auto v = AttributeValueFromJson(R"({"N":"001.500"})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(R"({"N":"1.5"})", AttributeValueToJson(*v));
  v = AttributeValueFromJson(R"({"N":"1e3"})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(R"({"N":"1000"})", AttributeValueToJson(*v));
  v = AttributeValueFromJson(R"({"SS":["b","a","c"]})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(R"({"SS":["a","b","c"]})", AttributeValueToJson(*v));
  v = AttributeValueFromJson(R"({"NS":["10","9","-1"]})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(R"({"NS":["-1","9","10"]})", AttributeValueToJson(*v));
  EXPECT_EQ(R"({"NULL":true})", AttributeValueToJson(AttributeValue::Null()));
  EXPECT_EQ(R"({"BOOL":true})", AttributeValueToJson(AttributeValue::Bool(true)));
}

TEST(DynamoDbJsonTest, Base64MatchesRfc4648) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(encoded, Base64Encode(plain));
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded;
    EXPECT_EQ(plain, *decoded);
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); len += 37) {
    std::string bytes = all.substr(0, len);
    auto decoded = Base64Decode(Base64Encode(bytes));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(bytes, *decoded);
  }
}

TEST(DynamoDbJsonTest, Base64RejectsInvalidText) {
  for (std::string_view bad : {"Zg=", "Zg", "Zh==", "Zm9=", "Z===", "====", "Zm9v!A==", "=Zm9",
                               "Zg==Zg==", "Zm 9", "Zm9v\n"}) {
    auto decoded = Base64Decode(bad);
    ASSERT_FALSE(decoded.ok()) << bad;
    EXPECT_EQ(StatusCode::kFailedPrecondition, decoded.status().code()) << bad;
  }
}

struct BadValue {
  std::string json;
  StatusCode code;
  std::string message;  // a substring of the expected message
};

class DynamoDbJsonErrorTest : public ::testing::TestWithParam<BadValue> {};

TEST_P(DynamoDbJsonErrorTest, IsRejected) {
  const BadValue& bad = GetParam();
  auto v = AttributeValueFromJson(bad.json);
  ASSERT_FALSE(v.ok()) << bad.json;
  EXPECT_EQ(bad.code, v.status().code()) << bad.json << ": " << v.status().ToString();
  EXPECT_NE(std::string::npos, v.status().message().find(bad.message))
      << bad.json << ": " << v.status().message();
}

constexpr StatusCode kValidation = StatusCode::kInvalidArgument;
constexpr StatusCode kSerialization = StatusCode::kFailedPrecondition;

INSTANTIATE_TEST_SUITE_P(
    All, DynamoDbJsonErrorTest,
    ::testing::Values(
        BadValue{"{}", kValidation,
                 "Supplied AttributeValue is empty, must contain exactly one of the supported "
                 "datatypes"},
        BadValue{R"({"X":"unknown"})", kValidation, "Supplied AttributeValue is empty"},
        BadValue{R"({"S":"a","N":"1"})", kValidation,
                 "Supplied AttributeValue has more than one datatypes set, must contain exactly "
                 "one of the supported datatypes"},
        BadValue{R"({"NULL":false})", kValidation,
                 "Null attribute value types must have the value of true"},
        BadValue{R"({"N":"abc"})", kValidation,
                 "A value provided cannot be converted into a number"},
        BadValue{R"({"N":""})", kValidation, "cannot be converted into a number"},
        BadValue{R"({"N":"1e200"})", kValidation, "Number overflow"},
        BadValue{R"({"N":"123456789012345678901234567890123456789"})", kValidation,
                 "38 significant digits"},
        BadValue{R"({"SS":["a","a"]})", kValidation,
                 "Input collection [a, a] contains duplicates."},
        BadValue{R"({"NS":["1","1.0"]})", kValidation,
                 "Input collection [1, 1.0] contains duplicates."},
        BadValue{R"({"BS":["YQ==","YQ=="]})", kValidation,
                 "Input collection [YQ==, YQ==] contains duplicates."},
        BadValue{R"({"NS":["1","x"]})", kValidation, "cannot be converted into a number"},
        BadValue{R"({"SS":[]})", kValidation, "may not be empty"},
        BadValue{R"({"L":[{"S":"a","S2":"b"},{}]})", kValidation,
                 "Supplied AttributeValue is empty"},
        BadValue{R"({"N":1})", kSerialization,
                 "class java.lang.Short can not be converted to an String"},
        BadValue{R"({"S":true})", kSerialization,
                 "class java.lang.Boolean can not be converted to an String"},
        BadValue{R"({"S":{}})", kSerialization,
                 "Start of structure or map found where not expected"},
        BadValue{R"({"BOOL":"true"})", kSerialization, "'TRUE' can not be converted to an Boolean"},
        BadValue{R"({"NULL":1})", kSerialization, "can not be converted to an Boolean"},
        BadValue{R"({"B":"%%%%"})", kSerialization, "can not be converted to a Blob"},
        BadValue{R"({"B":"abc"})", kSerialization, "multiple of 4"},
        BadValue{R"({"BS":["YQ==",1]})", kSerialization, "can not be converted to a Blob"},
        BadValue{R"({"SS":[1]})", kSerialization, "can not be converted to an String"},
        BadValue{R"({"SS":"a"})", kSerialization, "Expected list or null"},
        BadValue{R"({"M":[]})", kSerialization, "Start of list found where not expected"},
        BadValue{R"({"M":"x"})", kSerialization, "Expected map or null"},
        BadValue{R"({"L":{}})", kSerialization,
                 "Start of structure or map found where not expected"},
        BadValue{R"("S")", kSerialization, "Expected null"},
        BadValue{R"([{"S":"a"}])", kSerialization, "Start of list found where not expected"},
        BadValue{R"({"S":"a")", kSerialization, "Malformed JSON"},
        BadValue{R"({"S":"a"} x)", kSerialization, "Malformed JSON"},
        BadValue{"{\"S\":\"\xff\"}", kSerialization, "Malformed JSON"}));

TEST(DynamoDbJsonTest, UnknownMembersAndNullsAreIgnored) {
  auto v = AttributeValueFromJson(R"({"S":"a","Extra":{"x":1}})");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ("a", v->s());
  v = AttributeValueFromJson(R"({"S":null,"N":"7"})");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ("7", v->n().ToString());
}

TEST(DynamoDbJsonTest, NestingIsBounded) {
  // 33 levels of maps exceeds DynamoDB's 32; validation names the attribute.
  std::string text;
  for (int i = 0; i < 33; ++i) text += R"({"M":{"a":)";
  text += R"({"S":"x"})";
  for (int i = 0; i < 33; ++i) text += "}}";
  auto v = ItemFromJson(R"({"top":)" + text + "}");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(kValidation, v.status().code());
  EXPECT_NE(std::string::npos, v.status().message().find("Nesting Levels have exceeded"));

  // Absurd depth neither recurses without bound nor crashes.
  std::string deep(200000, '[');
  auto d = AttributeValueFromJson(R"({"L":)" + deep);
  EXPECT_FALSE(d.ok());
  std::string lists;
  for (int i = 0; i < 5000; ++i) lists += R"({"L":[)";
  lists += R"({"S":"x"})";
  for (int i = 0; i < 5000; ++i) lists += "]}";
  auto l = AttributeValueFromJson(lists);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(kValidation, l.status().code());
}

// ---------------------------------------------------------------------------
// The API on a real store.

constexpr int64_t kStartMs = 1'700'000'000'123;

class DynamoDbApiTest : public ::testing::Test {
 protected:
  DynamoDbApiTest() : clock_(kStartMs) {}

  void SetUp() override {
    store::StoreOptions options;
    options.path = dir_.Sub("store");
    options.sync = false;
    options.clock = &clock_;
    auto store = store::ItemStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    DynamoDbApiOptions api_options;
    api_options.region = "eu-west-1";
    api_options.account_id = "123456789012";
    api_options.clock = &clock_;
    api_ = std::make_unique<DynamoDbApi>(*store_, api_options);
  }

  // Closes the API and the store and opens both again on the same files, as
  // a restart of keystoned does.
  void Reopen() {
    api_.reset();
    store_.reset();
    SetUp();
  }

  ApiResponse Call(std::string_view op, std::string_view body) {
    return api_->Handle("DynamoDB_20120810." + std::string(op), body);
  }
  ApiResponse CallStreams(std::string_view op, std::string_view body) {
    return api_->Handle("DynamoDBStreams_20120810." + std::string(op), body);
  }

  // Calls `op`, expects HTTP 200 and returns the parsed body.
  rapidjson::Document Ok(std::string_view op, std::string_view body, bool streams = false) {
    ApiResponse r = streams ? CallStreams(op, body) : Call(op, body);
    EXPECT_EQ(200, r.http_status) << op << " " << body << " -> " << r.body;
    EXPECT_EQ("application/x-amz-json-1.0", r.content_type);
    return ParseJson(r.body);
  }
  rapidjson::Document StreamsOk(std::string_view op, std::string_view body) {
    return Ok(op, body, true);
  }

  // Expects a 400 error named `error` and returns its message.
  std::string Fails(std::string_view op, std::string_view body, std::string_view error,
                    bool streams = false) {
    ApiResponse r = streams ? CallStreams(op, body) : Call(op, body);
    EXPECT_EQ(400, r.http_status) << op << " " << body << " -> " << r.body;
    EXPECT_EQ(error, ErrorName(r)) << op << " " << body << " -> " << r.body;
    return ErrorMessage(r);
  }

  // A table "name" with partition key pk (S) and, when `sort`, sort key sk (N).
  void CreateTable(const std::string& name, bool sort = false, std::string_view view_type = "") {
    std::string body = R"({"TableName":")" + name + R"(","KeySchema":[{"AttributeName":"pk",)" +
                       R"("KeyType":"HASH"})";
    if (sort) body += R"(,{"AttributeName":"sk","KeyType":"RANGE"})";
    body += R"(],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"})";
    if (sort) body += R"(,{"AttributeName":"sk","AttributeType":"N"})";
    body += "]";
    if (!view_type.empty()) {
      body += R"(,"StreamSpecification":{"StreamEnabled":true,"StreamViewType":")" +
              std::string(view_type) + R"("})";
    }
    body += "}";
    Ok("CreateTable", body);
  }

  void Put(const std::string& table, const std::string& item_json) {
    Ok("PutItem", R"({"TableName":")" + table + R"(","Item":)" + item_json + "}");
  }

  size_t CountItems(const std::string& table) {
    rapidjson::Document scan = Ok("Scan", R"({"TableName":")" + table + R"("})");
    return static_cast<size_t>(Int(scan, "Count"));
  }

  std::string StreamArnOf(const std::string& table) {
    rapidjson::Document d = Ok("DescribeTable", R"({"TableName":")" + table + R"("})");
    return Str(d, "Table.LatestStreamArn");
  }

  std::string ShardIdOf(const std::string& arn) {
    rapidjson::Document d = StreamsOk("DescribeStream", R"({"StreamArn":")" + arn + R"("})");
    return Str(d, "StreamDescription.Shards.0.ShardId");
  }

  std::string Iterator(const std::string& table, std::string_view type,
                       std::string_view sequence = "") {
    std::string arn = StreamArnOf(table);
    std::string body = R"({"StreamArn":")" + arn + R"(","ShardId":")" + ShardIdOf(arn) +
                       R"(","ShardIteratorType":")" + std::string(type) + R"(")";
    if (!sequence.empty()) body += R"(,"SequenceNumber":")" + std::string(sequence) + R"(")";
    body += "}";
    rapidjson::Document d = StreamsOk("GetShardIterator", body);
    return Str(d, "ShardIterator");
  }

  rapidjson::Document Records(const std::string& iterator, int limit = 0) {
    std::string body = R"({"ShardIterator":")" + iterator + R"(")";
    if (limit > 0) body += R"(,"Limit":)" + std::to_string(limit);
    body += "}";
    return StreamsOk("GetRecords", body);
  }

  FakeClock clock_;
  TempDir dir_;
  std::unique_ptr<store::ItemStore> store_;
  std::unique_ptr<DynamoDbApi> api_;
};

// --- Protocol-level errors --------------------------------------------------

TEST_F(DynamoDbApiTest, UnknownOperations) {
  for (std::string_view target :
       {"DynamoDB_20120810.Nope", "DynamoDB_20120810.", "Foo.PutItem",
        "DynamoDBStreams_20120810.PutItem", "DynamoDB_20120810.GetRecords", ""}) {
    ApiResponse r = api_->Handle(target, "{}");
    EXPECT_EQ(400, r.http_status) << target;
    EXPECT_EQ("com.amazon.coral.service#UnknownOperationException",
              Str(ParseJson(r.body), "__type"))
        << target;
  }
  EXPECT_EQ("Keystone does not implement the operation DynamoDB_20120810.CreateBackup",
            Str(ParseJson(api_->Handle("DynamoDB_20120810.CreateBackup", "{}").body), "message"));
}

TEST_F(DynamoDbApiTest, MalformedJsonIsSerializationExceptionAndWritesNothing) {
  CreateTable("users");
  for (std::string_view body :
       {R"({"TableName":"users","Item":{"pk":{"S":"a"}})",
        R"({"TableName":"users","Item":{"pk":{"S":"a"}}} trailing)", R"(["TableName"])",
        R"("users")", "nul", R"({"TableName":"users","Item":{"pk":{"S":"a"},"n":{"N":5}}})",
        R"({"TableName":"users","Item":{"pk":{"S":"a"},"x":[]}})",
        R"({"TableName":7,"Item":{"pk":{"S":"a"}}})", R"({"TableName":"users","Item":[]})",
        R"({"TableName":"users","Item":{"pk":{"S":"a"}},"ReturnValues":1})"}) {
    ApiResponse r = Call("PutItem", body);
    EXPECT_EQ(400, r.http_status) << body;
    rapidjson::Document error = ParseJson(r.body);
    EXPECT_EQ("com.amazon.coral.service#SerializationException", Str(error, "__type")) << body;
    EXPECT_TRUE(Has(error, "Message")) << r.body;
  }
  EXPECT_EQ(0u, CountItems("users"));
}

TEST_F(DynamoDbApiTest, EmptyBodyIsAnEmptyRequest) {
  rapidjson::Document d = Ok("ListTables", "");
  EXPECT_EQ(0u, Size(d, "TableNames"));
  std::string message = Fails("DescribeTable", "  ", "ValidationException");
  EXPECT_EQ(
      "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: "
      "Member must not be null",
      message);
}

TEST_F(DynamoDbApiTest, UnknownRequestMembersAreIgnored) {
  CreateTable("users");
  Ok("PutItem", R"({"TableName":"users","Item":{"pk":{"S":"a"}},"SomeFutureMember":{"x":[1]}})");
  EXPECT_EQ(1u, CountItems("users"));
}

// --- Tables -------------------------------------------------------------------

TEST_F(DynamoDbApiTest, CreateTableDescribesTheTable) {
  rapidjson::Document d = Ok("CreateTable", R"({
    "TableName": "orders",
    "KeySchema": [{"AttributeName": "customer", "KeyType": "HASH"},
                  {"AttributeName": "order", "KeyType": "RANGE"}],
    "AttributeDefinitions": [{"AttributeName": "order", "AttributeType": "N"},
                             {"AttributeName": "customer", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
    "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"},
    "Tags": [{"Key": "team", "Value": "x"}]})");
  EXPECT_EQ("orders", Str(d, "TableDescription.TableName"));
  EXPECT_EQ("ACTIVE", Str(d, "TableDescription.TableStatus"));
  EXPECT_EQ("customer", Str(d, "TableDescription.KeySchema.0.AttributeName"));
  EXPECT_EQ("HASH", Str(d, "TableDescription.KeySchema.0.KeyType"));
  EXPECT_EQ("order", Str(d, "TableDescription.KeySchema.1.AttributeName"));
  EXPECT_EQ("RANGE", Str(d, "TableDescription.KeySchema.1.KeyType"));
  EXPECT_EQ("S", Str(d, "TableDescription.AttributeDefinitions.0.AttributeType"));
  EXPECT_EQ("N", Str(d, "TableDescription.AttributeDefinitions.1.AttributeType"));
  EXPECT_EQ("arn:aws:dynamodb:eu-west-1:123456789012:table/orders",
            Str(d, "TableDescription.TableArn"));
  EXPECT_DOUBLE_EQ(kStartMs / 1000.0, At(d, "TableDescription.CreationDateTime")->GetDouble());
  EXPECT_EQ(0, Int(d, "TableDescription.ItemCount"));
  EXPECT_EQ(0, Int(d, "TableDescription.TableSizeBytes"));
  EXPECT_EQ("PAY_PER_REQUEST", Str(d, "TableDescription.BillingModeSummary.BillingMode"));
  EXPECT_TRUE(At(d, "TableDescription.StreamSpecification.StreamEnabled")->GetBool());
  EXPECT_EQ("NEW_IMAGE", Str(d, "TableDescription.StreamSpecification.StreamViewType"));
  EXPECT_EQ("2023-11-14T22:13:20.123", Str(d, "TableDescription.LatestStreamLabel"));
  std::string arn = Str(d, "TableDescription.LatestStreamArn");
  EXPECT_EQ("arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2023-11-14T22:13:20.123",
            arn);
  EXPECT_GE(arn.size(), 37u);
  EXPECT_EQ(36u, Str(d, "TableDescription.TableId").size());

  rapidjson::Document described = Ok("DescribeTable", R"({"TableName":"orders"})");
  EXPECT_EQ("orders", Str(described, "Table.TableName"));
  EXPECT_EQ(arn, Str(described, "Table.LatestStreamArn"));
}

TEST_F(DynamoDbApiTest, CreateTableWithoutStreamHasNoStreamArn) {
  CreateTable("plain");
  rapidjson::Document d = Ok("DescribeTable", R"({"TableName":"plain"})");
  EXPECT_FALSE(Has(d, "Table.StreamSpecification"));
  EXPECT_FALSE(Has(d, "Table.LatestStreamArn"));
  // Neither BillingMode nor ProvisionedThroughput: on demand.
  EXPECT_EQ("PAY_PER_REQUEST", Str(d, "Table.BillingModeSummary.BillingMode"));
}

TEST_F(DynamoDbApiTest, ProvisionedThroughputIsEchoed) {
  Ok("CreateTable", R"({"TableName":"prov","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
     "AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"B"}],
     "ProvisionedThroughput":{"ReadCapacityUnits":5,"WriteCapacityUnits":7}})");
  rapidjson::Document d = Ok("DescribeTable", R"({"TableName":"prov"})");
  EXPECT_EQ("PROVISIONED", Str(d, "Table.BillingModeSummary.BillingMode"));
  EXPECT_EQ(5, Int(d, "Table.ProvisionedThroughput.ReadCapacityUnits"));
  EXPECT_EQ(7, Int(d, "Table.ProvisionedThroughput.WriteCapacityUnits"));
  EXPECT_EQ("B", Str(d, "Table.AttributeDefinitions.0.AttributeType"));

  clock_.AdvanceMs(5000);
  d = Ok("UpdateTable", R"({"TableName":"prov","BillingMode":"PAY_PER_REQUEST"})");
  EXPECT_EQ("PAY_PER_REQUEST", Str(d, "TableDescription.BillingModeSummary.BillingMode"));
  EXPECT_DOUBLE_EQ(
      (kStartMs + 5000) / 1000.0,
      At(d, "TableDescription.BillingModeSummary.LastUpdateToPayPerRequestDateTime")->GetDouble());
  EXPECT_EQ(0, Int(d, "TableDescription.ProvisionedThroughput.ReadCapacityUnits"));
  Fails("UpdateTable", R"({"TableName":"prov","BillingMode":"PROVISIONED"})",
        "ValidationException");
  d = Ok("UpdateTable", R"({"TableName":"prov","BillingMode":"PROVISIONED",
          "ProvisionedThroughput":{"ReadCapacityUnits":2,"WriteCapacityUnits":3}})");
  EXPECT_EQ("PROVISIONED", Str(d, "TableDescription.BillingModeSummary.BillingMode"));
  EXPECT_EQ(3, Int(d, "TableDescription.ProvisionedThroughput.WriteCapacityUnits"));
}

TEST_F(DynamoDbApiTest, BillingIsKeptByTheStore) {
  Ok("CreateTable", R"({"TableName":"prov","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
     "AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],
     "BillingMode":"PROVISIONED",
     "ProvisionedThroughput":{"ReadCapacityUnits":5,"WriteCapacityUnits":7}})");
  CreateTable("ondemand");
  clock_.AdvanceMs(3000);
  Ok("UpdateTable", R"({"TableName":"ondemand","BillingMode":"PROVISIONED",
     "ProvisionedThroughput":{"ReadCapacityUnits":1,"WriteCapacityUnits":2}})");
  auto prov = store_->DescribeTable("prov");
  ASSERT_TRUE(prov.ok());
  EXPECT_EQ((store::BillingConfig{store::BillingMode::kProvisioned, 5, 7}), prov->schema.billing);

  // A new API over the reopened store (as after a restart) reports the same.
  Reopen();
  rapidjson::Document d = Ok("DescribeTable", R"({"TableName":"prov"})");
  EXPECT_EQ("PROVISIONED", Str(d, "Table.BillingModeSummary.BillingMode"));
  EXPECT_EQ(5, Int(d, "Table.ProvisionedThroughput.ReadCapacityUnits"));
  EXPECT_EQ(7, Int(d, "Table.ProvisionedThroughput.WriteCapacityUnits"));
  d = Ok("DescribeTable", R"({"TableName":"ondemand"})");
  EXPECT_EQ("PROVISIONED", Str(d, "Table.BillingModeSummary.BillingMode"));
  EXPECT_EQ(2, Int(d, "Table.ProvisionedThroughput.WriteCapacityUnits"));

  clock_.AdvanceMs(4000);
  d = Ok("UpdateTable", R"({"TableName":"ondemand","BillingMode":"PAY_PER_REQUEST"})");
  Reopen();
  d = Ok("DescribeTable", R"({"TableName":"ondemand"})");
  EXPECT_EQ("PAY_PER_REQUEST", Str(d, "Table.BillingModeSummary.BillingMode"));
  EXPECT_EQ(0, Int(d, "Table.ProvisionedThroughput.ReadCapacityUnits"));
  EXPECT_DOUBLE_EQ(
      (kStartMs + 7000) / 1000.0,
      At(d, "Table.BillingModeSummary.LastUpdateToPayPerRequestDateTime")->GetDouble());
  // DeleteTable's response describes the billing the table had.
  d = Ok("DeleteTable", R"({"TableName":"prov"})");
  EXPECT_EQ("PROVISIONED", Str(d, "TableDescription.BillingModeSummary.BillingMode"));
}

TEST_F(DynamoDbApiTest, CreateTableErrors) {
  CreateTable("users");
  EXPECT_EQ("Table already exists: users",
            Fails("CreateTable", R"({"TableName":"users","KeySchema":[{"AttributeName":"pk",
                  "KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"pk",
                  "AttributeType":"S"}]})",
                  "ResourceInUseException"));
  auto create = [](std::string_view rest) {
    return R"({"TableName":"tbl",)" + std::string(rest) + "}";
  };
  const std::string key = R"("KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}])";
  const std::string defs = R"("AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}])";
  struct Case {
    std::string body;
    std::string message;
  };
  const Case cases[] = {
      {R"({"TableName":"ab",)" + key + "," + defs + "}",
       "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: "
       "Member must have length greater than or equal to 3"},
      {R"({"TableName":"a b c",)" + key + "," + defs + "}",
       "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"},
      {create(defs), "Value null at 'keySchema' failed to satisfy constraint"},
      {create(key), "Value null at 'attributeDefinitions'"},
      {create(R"("KeySchema":[{"AttributeName":"pk","KeyType":"RANGE"}],)" + defs),
       "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"},
      {create(R"("KeySchema":[{"AttributeName":"pk","KeyType":"PRIMARY"}],)" + defs),
       "Member must satisfy enum value set: [HASH, RANGE]"},
      {create(key + R"(,"AttributeDefinitions":[{"AttributeName":"other","AttributeType":"S"}])"),
       "Some index key attributes are not defined in AttributeDefinitions"},
      {create(key + R"(,"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},)" +
              R"({"AttributeName":"x","AttributeType":"S"}])"),
       "Number of attributes in KeySchema does not exactly match"},
      {create(key + R"(,"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"BOOL"}])"),
       "Member must satisfy enum value set: [B, N, S]"},
      {create(key + "," + defs + R"(,"StreamSpecification":{"StreamEnabled":true})"),
       "StreamViewType is required"},
      {create(key + "," + defs + R"(,"GlobalSecondaryIndexes":[{"IndexName":"i"}])"),
       "Value 'i' at 'globalSecondaryIndexes.1.member.indexName' failed to satisfy constraint: "
       "Member must have length greater than or equal to 3"},
      {create(key + "," + defs + R"(,"BillingMode":"PAY_PER_REQUEST","ProvisionedThroughput":)" +
              R"({"ReadCapacityUnits":1,"WriteCapacityUnits":1})"),
       "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified"},
      {create(key + "," + defs + R"(,"BillingMode":"PROVISIONED")"),
       "ReadCapacityUnits and WriteCapacityUnits must both be specified"},
  };
  for (const Case& c : cases) {
    std::string message = Fails("CreateTable", c.body, "ValidationException");
    EXPECT_NE(std::string::npos, message.find(c.message)) << c.body << " -> " << message;
  }
  rapidjson::Document list = Ok("ListTables", "{}");
  EXPECT_EQ(1u, Size(list, "TableNames"));
}

TEST_F(DynamoDbApiTest, DescribeAndDeleteMissingTable) {
  EXPECT_EQ("Requested resource not found: Table: nothere not found",
            Fails("DescribeTable", R"({"TableName":"nothere"})", "ResourceNotFoundException"));
  Fails("DeleteTable", R"({"TableName":"nothere"})", "ResourceNotFoundException");
  Fails("PutItem", R"({"TableName":"nothere","Item":{"pk":{"S":"a"}}})",
        "ResourceNotFoundException");
}

TEST_F(DynamoDbApiTest, DescribeTableCountsItems) {
  CreateTable("users");
  Put("users", R"({"pk":{"S":"a"},"v":{"S":"0123456789"}})");
  Put("users", R"({"pk":{"S":"b"}})");
  rapidjson::Document d = Ok("DescribeTable", R"({"TableName":"users"})");
  EXPECT_EQ(2, Int(d, "Table.ItemCount"));
  EXPECT_GT(Int(d, "Table.TableSizeBytes"), 10);
}

TEST_F(DynamoDbApiTest, DeleteTable) {
  CreateTable("users");
  Put("users", R"({"pk":{"S":"a"}})");
  rapidjson::Document d = Ok("DeleteTable", R"({"TableName":"users"})");
  EXPECT_EQ("DELETING", Str(d, "TableDescription.TableStatus"));
  EXPECT_EQ("users", Str(d, "TableDescription.TableName"));
  Fails("DescribeTable", R"({"TableName":"users"})", "ResourceNotFoundException");
  Fails("DeleteTable", R"({"TableName":"users"})", "ResourceNotFoundException");
  CreateTable("users");  // the name is free again
  EXPECT_EQ(0u, CountItems("users"));
}

TEST_F(DynamoDbApiTest, ListTablesPages) {
  for (std::string name : {"delta", "alpha", "echo", "charlie", "bravo"}) CreateTable(name);
  rapidjson::Document all = Ok("ListTables", "{}");
  ASSERT_EQ(5u, Size(all, "TableNames"));
  EXPECT_EQ("alpha", Str(all, "TableNames.0"));
  EXPECT_EQ("echo", Str(all, "TableNames.4"));
  EXPECT_FALSE(Has(all, "LastEvaluatedTableName"));

  std::vector<std::string> seen;
  std::string start;
  for (int page = 0; page < 5; ++page) {
    std::string body = R"({"Limit":2)";
    if (!start.empty()) body += R"(,"ExclusiveStartTableName":")" + start + R"(")";
    rapidjson::Document d = Ok("ListTables", body + "}");
    for (size_t i = 0; i < Size(d, "TableNames"); ++i) {
      seen.push_back(Str(d, "TableNames." + std::to_string(i)));
    }
    if (!Has(d, "LastEvaluatedTableName")) break;
    start = Str(d, "LastEvaluatedTableName");
  }
  EXPECT_EQ((std::vector<std::string>{"alpha", "bravo", "charlie", "delta", "echo"}), seen);
  Fails("ListTables", R"({"Limit":0})", "ValidationException");
  Fails("ListTables", R"({"Limit":101})", "ValidationException");
  Fails("ListTables", R"({"Limit":"2"})", "SerializationException");
}

TEST_F(DynamoDbApiTest, UpdateTableStreams) {
  CreateTable("users");
  std::string message = Fails("UpdateTable", R"({"TableName":"users","StreamSpecification":
                              {"StreamEnabled":false}})",
                              "ValidationException");
  EXPECT_EQ("Table has no stream to disable: TableName: users", message);
  Fails("UpdateTable", R"({"TableName":"users","StreamSpecification":{"StreamEnabled":true}})",
        "ValidationException");

  rapidjson::Document d = Ok("UpdateTable", R"({"TableName":"users","StreamSpecification":
                             {"StreamEnabled":true,"StreamViewType":"KEYS_ONLY"}})");
  EXPECT_EQ("KEYS_ONLY", Str(d, "TableDescription.StreamSpecification.StreamViewType"));
  std::string arn = Str(d, "TableDescription.LatestStreamArn");
  EXPECT_NE(std::string::npos, arn.find("table/users/stream/"));

  EXPECT_EQ("Table already has an enabled stream: TableName: users",
            Fails("UpdateTable", R"({"TableName":"users","StreamSpecification":
                  {"StreamEnabled":true,"StreamViewType":"NEW_IMAGE"}})",
                  "ValidationException"));
  Fails("UpdateTable", R"({"TableName":"users","StreamSpecification":
        {"StreamEnabled":false,"StreamViewType":"NEW_IMAGE"}})",
        "ValidationException");

  d = Ok("UpdateTable", R"({"TableName":"users","StreamSpecification":{"StreamEnabled":false}})");
  EXPECT_FALSE(Has(d, "TableDescription.StreamSpecification"));
  EXPECT_EQ(arn, Str(d, "TableDescription.LatestStreamArn"));  // lingers, as in DynamoDB

  clock_.AdvanceMs(1000);
  d = Ok("UpdateTable", R"({"TableName":"users","StreamSpecification":
         {"StreamEnabled":true,"StreamViewType":"NEW_AND_OLD_IMAGES"}})");
  EXPECT_NE(arn, Str(d, "TableDescription.LatestStreamArn"));  // a new stream
  EXPECT_EQ("NEW_AND_OLD_IMAGES", Str(d, "TableDescription.StreamSpecification.StreamViewType"));

  EXPECT_NE(std::string::npos,
            Fails("UpdateTable", R"({"TableName":"users"})", "ValidationException")
                .find("At least one of"));
  Fails("UpdateTable", R"({"TableName":"missing","BillingMode":"PAY_PER_REQUEST"})",
        "ResourceNotFoundException");
}

// --- Items --------------------------------------------------------------------

TEST_F(DynamoDbApiTest, PutAndGetEveryType) {
  CreateTable("users");
  const std::string item =
      R"({"b":{"B":"3q2+7w=="},"bool":{"BOOL":true},"bs":{"BS":["AA==","AQ=="]},)"
      R"("l":{"L":[{"S":"x"},{"N":"2"}]},"m":{"M":{"k":{"NULL":true}}},"n":{"N":"3.25"},)"
      R"("ns":{"NS":["1","2"]},"pk":{"S":"u1"},"s":{"S":""},"ss":{"SS":["p","q"]}})";
  rapidjson::Document put = Ok("PutItem", R"({"TableName":"users","Item":)" + item + "}");
  EXPECT_EQ(0u, Size(put, ""));
  ApiResponse got = Call("GetItem", R"({"TableName":"users","Key":{"pk":{"S":"u1"}}})");
  ASSERT_EQ(200, got.http_status) << got.body;
  EXPECT_EQ(R"({"Item":)" + item + "}", got.body);

  rapidjson::Document projected =
      Ok("GetItem",
         R"({"TableName":"users","Key":{"pk":{"S":"u1"}},"ProjectionExpression":"#n, m.k",
          "ExpressionAttributeNames":{"#n":"n"},"ConsistentRead":true})");
  EXPECT_EQ(2u, Size(projected, "Item"));
  EXPECT_EQ("3.25", Str(projected, "Item.n.N"));
  EXPECT_TRUE(At(projected, "Item.m.M.k.NULL")->GetBool());

  rapidjson::Document missing = Ok("GetItem", R"({"TableName":"users","Key":{"pk":{"S":"no"}}})");
  EXPECT_FALSE(Has(missing, "Item"));
}

TEST_F(DynamoDbApiTest, PutItemReturnValuesAndConditions) {
  CreateTable("users");
  rapidjson::Document first =
      Ok("PutItem", R"({"TableName":"users","Item":{"pk":{"S":"a"},"v":{"N":"1"}},
                    "ReturnValues":"ALL_OLD"})");
  EXPECT_FALSE(Has(first, "Attributes"));
  rapidjson::Document second =
      Ok("PutItem", R"({"TableName":"users","Item":{"pk":{"S":"a"},"v":{"N":"2"}},
                    "ReturnValues":"ALL_OLD"})");
  EXPECT_EQ("1", Str(second, "Attributes.v.N"));

  ApiResponse failed = Call("PutItem", R"({"TableName":"users","Item":{"pk":{"S":"a"},
      "v":{"N":"3"}},"ConditionExpression":"attribute_not_exists(pk) "
})");
  EXPECT_EQ(400, failed.http_status);
  EXPECT_EQ("com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
            Str(ParseJson(failed.body), "__type"));
  EXPECT_EQ("The conditional request failed", ErrorMessage(failed));

  Ok("PutItem", R"({"TableName":"users","Item":{"pk":{"S":"a"},"v":{"N":"4"}},
     "ConditionExpression":"v = :two","ExpressionAttributeValues":{":two":{"N":"2"}}})");
  rapidjson::Document now = Ok("GetItem", R"({"TableName":"users","Key":{"pk":{"S":"a"}}})");
  EXPECT_EQ("4", Str(now, "Item.v.N"));
}

TEST_F(DynamoDbApiTest, ReturnValuesOnConditionCheckFailureReturnsTheStoredItem) {
  CreateTable("users");
  Put("users", R"j({"pk":{"S":"a"},"v":{"N":"1"},"tags":{"SS":["x","y"]}})j");

  ApiResponse put = Call("PutItem", R"j({"TableName":"users","Item":{"pk":{"S":"a"}},
      "ConditionExpression":"attribute_not_exists(pk)",
      "ReturnValuesOnConditionCheckFailure":"ALL_OLD"
})j");
  EXPECT_EQ(400, put.http_status);
  rapidjson::Document error = ParseJson(put.body);
  EXPECT_EQ("com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
            Str(error, "__type"));
  EXPECT_EQ("The conditional request failed", ErrorMessage(put));
  EXPECT_EQ("1", Str(error, "Item.v.N"));
  EXPECT_EQ("x", Str(error, "Item.tags.SS.0"));

  ApiResponse update = Call("UpdateItem", R"j({"TableName":"users","Key":{"pk":{"S":"a"}},
      "UpdateExpression":"SET v = :two","ConditionExpression":"v = :zero",
      "ExpressionAttributeValues":{":two":{"N":"2"},":zero":{"N":"0"}},
      "ReturnValuesOnConditionCheckFailure":"ALL_OLD"})j");
  EXPECT_EQ(400, update.http_status);
  EXPECT_EQ("a", Str(ParseJson(update.body), "Item.pk.S"));

  // NONE, the default, and a missing item: no Item member.
  ApiResponse none = Call("DeleteItem", R"j({"TableName":"users","Key":{"pk":{"S":"a"}},
      "ConditionExpression":"v = :zero","ExpressionAttributeValues":{":zero":{"N":"0"}},
      "ReturnValuesOnConditionCheckFailure":"NONE"})j");
  EXPECT_EQ(400, none.http_status);
  EXPECT_FALSE(Has(ParseJson(none.body), "Item"));
  ApiResponse missing = Call("DeleteItem", R"j({"TableName":"users","Key":{"pk":{"S":"b"}},
      "ConditionExpression":"attribute_exists(pk)",
      "ReturnValuesOnConditionCheckFailure":"ALL_OLD"
  })j");
  EXPECT_EQ(400, missing.http_status);
  EXPECT_FALSE(Has(ParseJson(missing.body), "Item"));

  // A bad value is a validation error naming the member, with nothing done.
  std::string message = Fails("PutItem", R"j({"TableName":"users","Item":{"pk":{"S":"c"}},
        "ReturnValuesOnConditionCheckFailure":"ALL_NEW"})j",
                              "ValidationException");
  EXPECT_NE(std::string::npos, message.find("returnValuesOnConditionCheckFailure")) << message;
  EXPECT_EQ(1u, CountItems("users"));
  rapidjson::Document now = Ok("GetItem", R"j({"TableName":"users","Key":{"pk":{"S":"a"}}})j");
  EXPECT_EQ("1", Str(now, "Item.v.N"));

  // In a transaction, the failed action's reason carries the item.
  ApiResponse cancelled = Call("TransactWriteItems", R"j({"TransactItems":[
      {"Put":{"TableName":"users","Item":{"pk":{"S":"c"}},
              "ReturnValuesOnConditionCheckFailure":"ALL_OLD"}},
      {"ConditionCheck":{"TableName":"users","Key":{"pk":{"S":"a"}},
                         "ConditionExpression":"v = :two",
                         "ExpressionAttributeValues":{":two":{"N":"2"}},
                         "ReturnValuesOnConditionCheckFailure":"ALL_OLD"}}]})j");
  EXPECT_EQ(400, cancelled.http_status);
  rapidjson::Document reasons = ParseJson(cancelled.body);
  EXPECT_FALSE(Has(reasons, "CancellationReasons.0.Item"));
  EXPECT_EQ("ConditionalCheckFailed", Str(reasons, "CancellationReasons.1.Code"));
  EXPECT_EQ("1", Str(reasons, "CancellationReasons.1.Item.v.N"));
  EXPECT_EQ(1u, CountItems("users"));
}

TEST_F(DynamoDbApiTest, ItemValidationErrors) {
  CreateTable("users", /*sort=*/true);
  struct Case {
    std::string op;
    std::string body;
    std::string message;
  };
  const Case cases[] = {
      {"PutItem", R"({"TableName":"users","Item":{"sk":{"N":"1"}}})", "Missing the key pk"},
      {"PutItem", R"({"TableName":"users","Item":{"pk":{"N":"1"},"sk":{"N":"1"}}})",
       "Type mismatch for key pk"},
      {"PutItem", R"({"TableName":"users","Item":{"pk":{"S":"a"},"sk":{"N":"1"},"x":{"NS":[]}}})",
       "may not be empty"},
      {"PutItem", R"({"TableName":"users"})", "Value null at 'item'"},
      // An empty expression is an error, not "no condition".
      {"PutItem", R"({"TableName":"users","Item":{"pk":{"S":"a"},"sk":{"N":"1"}},
                     "ConditionExpression":""})",
       "Invalid ConditionExpression: The expression can not be empty;"},
      {"UpdateItem", R"({"TableName":"users","Key":{"pk":{"S":"a"},"sk":{"N":"1"}},
                        "UpdateExpression":""})",
       "Invalid UpdateExpression: The expression can not be empty;"},
      {"GetItem", R"({"TableName":"users","Key":{"pk":{"S":"a"},"sk":{"N":"1"}},
                     "ProjectionExpression":""})",
       "Invalid ProjectionExpression: The expression can not be empty;"},
      {"Scan", R"({"TableName":"users","FilterExpression":""})",
       "Invalid FilterExpression: The expression can not be empty;"},
      {"Query", R"({"TableName":"users","KeyConditionExpression":"pk = :p",
                   "FilterExpression":"sk > :s",
                   "ExpressionAttributeValues":{":p":{"S":"a"},":s":{"N":"0"}}})",
       "Filter Expression can only contain non-primary key attributes: Primary key attribute: "
       "sk"},
      {"PutItem",
       R"({"TableName":"users","Item":{"pk":{"S":"a"},"sk":{"N":"1"},"x":{"SS":["a","a"]}}})",
       "Input collection [a, a] contains duplicates."},
      {"PutItem", R"({"TableName":"users","Item":{"pk":{"S":"a"},"sk":{"N":"1"},"":{"S":"x"}}})",
       "An attribute name may not be empty"},
      {"UpdateItem", R"({"TableName":"users","Key":{"pk":{"S":"a"},"sk":{"N":"1"}},
                        "UpdateExpression":"SET #e = :v","ExpressionAttributeNames":{"#e":""},
                        "ExpressionAttributeValues":{":v":{"S":"x"}}})",
       "ExpressionAttributeNames contains invalid value: Empty attribute name for key #e"},
      {"PutItem", R"({"TableName":"users","Item":{"pk":{"S":"a"},"sk":{"N":"1"}},
                     "Expected":{"pk":{"Exists":false,"Value":{"S":"a"}}}})",
       "Value cannot be used when Exists is false for Attribute: pk"},
      {"PutItem", R"({"TableName":"users","Item":{"pk":{"S":"a"},"sk":{"N":"1"}},
                     "ReturnValues":"EVERYTHING"})",
       "Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]"},
      {"PutItem", R"({"TableName":"users","Item":{"pk":{"S":"a"},"sk":{"N":"1"}},
                     "ReturnValues":"ALL_NEW"})",
       "ReturnValues can only be ALL_OLD or NONE"},
      {"PutItem", R"({"TableName":"users","Item":{"pk":{"S":"a"},"sk":{"N":"1"}},
                     "ConditionExpression":"attribute_exists(pk) ","ExpressionAttributeValues":{}})",
       "ExpressionAttributeValues must not be empty"},
      {"PutItem", R"({"TableName":"users","Item":{"pk":{"S":"a"},"sk":{"N":"1"}},
                     "ConditionalOperator":"AND"})",
       "ConditionalOperator cannot be used without Filter or Expected"},
      {"GetItem", R"({"TableName":"users","Key":{"pk":{"S":"a"}}})",
       "The provided key element does not match the schema"},
      {"GetItem", R"({"TableName":"users","Key":{"pk":{"S":"a"},"sk":{"N":"1"}},
                     "AttributesToGet":["pk"],"ProjectionExpression":"pk"})",
       "Can not use both expression and non-expression parameters in the same request: "
       "Non-expression parameters: {AttributesToGet} Expression parameters: "
       "{ProjectionExpression}"},
      {"UpdateItem", R"({"TableName":"users","Key":{"pk":{"S":"a"},"sk":{"N":"1"}},
                        "AttributeUpdates":{"v":{"Action":"PUT","Value":{"S":"x"}}},
                        "UpdateExpression":"SET v = :v","ExpressionAttributeValues":{":v":{"S":"x"}}})",
       "Non-expression parameters: {AttributeUpdates} Expression parameters: {UpdateExpression}"},
      {"UpdateItem", R"({"TableName":"users","Key":{"pk":{"S":"a"},"sk":{"N":"1"}},
                        "UpdateExpression":"SET v = :v"})",
       ":v"},
      {"DeleteItem", R"({"TableName":"users","Key":{"pk":{"S":"a"},"sk":{"N":"1"}},
                        "Expected":{"v":{"ComparisonOperator":"EQ"}}})",
       "Value or AttributeValueList must be used with ComparisonOperator: EQ for Attribute: v"},
      {"PutItem", R"({"TableName":"users","Item":{"pk":{"S":"a"},"sk":{"N":"1"}},
                     "ReturnConsumedCapacity":"ALL"})",
       "Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"},
  };
  for (const Case& c : cases) {
    std::string message = Fails(c.op, c.body, "ValidationException");
    EXPECT_NE(std::string::npos, message.find(c.message)) << c.body << " -> " << message;
  }
  EXPECT_EQ(0u, CountItems("users"));
}

TEST_F(DynamoDbApiTest, UpdateItem) {
  CreateTable("users");
  rapidjson::Document d = Ok("UpdateItem", R"({"TableName":"users","Key":{"pk":{"S":"a"}},
      "UpdateExpression":"SET #c = :one, tags = :tags","ExpressionAttributeNames":{"#c":"count"},
      "ExpressionAttributeValues":{":one":{"N":"1"},":tags":{"SS":["x"]}},
      "ReturnValues":"ALL_NEW"})");
  EXPECT_EQ("a", Str(d, "Attributes.pk.S"));
  EXPECT_EQ("1", Str(d, "Attributes.count.N"));

  d = Ok("UpdateItem", R"({"TableName":"users","Key":{"pk":{"S":"a"}},
      "UpdateExpression":"ADD #c :five","ExpressionAttributeNames":{"#c":"count"},
      "ExpressionAttributeValues":{":five":{"N":"5"}},"ReturnValues":"UPDATED_NEW"})");
  EXPECT_EQ(1u, Size(d, "Attributes"));
  EXPECT_EQ("6", Str(d, "Attributes.count.N"));

  d = Ok("UpdateItem", R"({"TableName":"users","Key":{"pk":{"S":"a"}},
      "UpdateExpression":"REMOVE tags","ReturnValues":"UPDATED_OLD"})");
  EXPECT_EQ("x", Str(d, "Attributes.tags.SS.0"));

  Fails("UpdateItem", R"({"TableName":"users","Key":{"pk":{"S":"a"}},
        "UpdateExpression":"SET v = :v","ConditionExpression":"#c > :big",
        "ExpressionAttributeNames":{"#c":"count"},
        "ExpressionAttributeValues":{":v":{"S":"x"},":big":{"N":"100"}}})",
        "ConditionalCheckFailedException");
  d = Ok("UpdateItem", R"({"TableName":"users","Key":{"pk":{"S":"a"}}})");
  EXPECT_EQ(0u, Size(d, ""));
}

TEST_F(DynamoDbApiTest, DeleteItem) {
  CreateTable("users");
  Put("users", R"({"pk":{"S":"a"},"v":{"S":"x"}})");
  Fails("DeleteItem", R"({"TableName":"users","Key":{"pk":{"S":"a"}},
        "ConditionExpression":"v = :y","ExpressionAttributeValues":{":y":{"S":"y"}}})",
        "ConditionalCheckFailedException");
  rapidjson::Document d =
      Ok("DeleteItem", R"({"TableName":"users","Key":{"pk":{"S":"a"}},"ReturnValues":"ALL_OLD"})");
  EXPECT_EQ("x", Str(d, "Attributes.v.S"));
  d = Ok("DeleteItem", R"({"TableName":"users","Key":{"pk":{"S":"a"}},"ReturnValues":"ALL_OLD"})");
  EXPECT_FALSE(Has(d, "Attributes"));
  EXPECT_EQ(0u, CountItems("users"));
}

class DynamoDbApiQueryTest : public DynamoDbApiTest {
 protected:
  void SetUp() override {
    DynamoDbApiTest::SetUp();
    CreateTable("events", /*sort=*/true);
    for (int i = 1; i <= 5; ++i) {
      Put("events", R"({"pk":{"S":"u1"},"sk":{"N":")" + std::to_string(i) + R"("},"kind":{"S":")" +
                        (i % 2 == 0 ? "even" : "odd") + R"("}})");
    }
    Put("events", R"({"pk":{"S":"u2"},"sk":{"N":"1"}})");
  }

  std::vector<std::string> SortKeys(const rapidjson::Value& d) {
    std::vector<std::string> keys;
    for (size_t i = 0; i < Size(d, "Items"); ++i) {
      keys.push_back(Str(d, "Items." + std::to_string(i) + ".sk.N"));
    }
    return keys;
  }
};

TEST_F(DynamoDbApiQueryTest, QueryRangesAndOrder) {
  rapidjson::Document d = Ok("Query", R"({"TableName":"events",
      "KeyConditionExpression":"pk = :p AND sk BETWEEN :lo AND :hi",
      "ExpressionAttributeValues":{":p":{"S":"u1"},":lo":{"N":"2"},":hi":{"N":"4"}}})");
  EXPECT_EQ((std::vector<std::string>{"2", "3", "4"}), SortKeys(d));
  EXPECT_EQ(3, Int(d, "Count"));
  EXPECT_EQ(3, Int(d, "ScannedCount"));
  EXPECT_FALSE(Has(d, "LastEvaluatedKey"));

  d = Ok("Query", R"({"TableName":"events","KeyConditionExpression":"pk = :p",
      "ExpressionAttributeValues":{":p":{"S":"u1"}},"ScanIndexForward":false})");
  EXPECT_EQ((std::vector<std::string>{"5", "4", "3", "2", "1"}), SortKeys(d));
}

TEST_F(DynamoDbApiQueryTest, QueryPagesWithLastEvaluatedKey) {
  std::vector<std::string> all;
  std::string start;
  for (int page = 0; page < 10; ++page) {
    std::string body = R"({"TableName":"events","KeyConditionExpression":"pk = :p",
        "ExpressionAttributeValues":{":p":{"S":"u1"}},"Limit":2)";
    if (!start.empty()) body += R"(,"ExclusiveStartKey":)" + start;
    ApiResponse r = Call("Query", body + "}");
    ASSERT_EQ(200, r.http_status) << r.body;
    rapidjson::Document d = ParseJson(r.body);
    for (const std::string& k : SortKeys(d)) all.push_back(k);
    if (!Has(d, "LastEvaluatedKey")) break;
    EXPECT_EQ("u1", Str(d, "LastEvaluatedKey.pk.S"));
    // Re-serialise the key as the client would send it back.
    size_t at = r.body.find("\"LastEvaluatedKey\":");
    start = r.body.substr(at + 19, r.body.size() - at - 19 - 1);
  }
  EXPECT_EQ((std::vector<std::string>{"1", "2", "3", "4", "5"}), all);
}

TEST_F(DynamoDbApiQueryTest, QueryFilterSelectAndErrors) {
  rapidjson::Document d = Ok("Query", R"({"TableName":"events","KeyConditionExpression":"pk = :p",
      "FilterExpression":"kind = :k",
      "ExpressionAttributeValues":{":p":{"S":"u1"},":k":{"S":"even"}}})");
  EXPECT_EQ(2, Int(d, "Count"));
  EXPECT_EQ(5, Int(d, "ScannedCount"));

  d = Ok("Query", R"({"TableName":"events","KeyConditionExpression":"pk = :p",
      "ExpressionAttributeValues":{":p":{"S":"u1"}},"Select":"COUNT"})");
  EXPECT_FALSE(Has(d, "Items"));
  EXPECT_EQ(5, Int(d, "Count"));

  d = Ok("Query", R"({"TableName":"events","KeyConditionExpression":"pk = :p",
      "ExpressionAttributeValues":{":p":{"S":"u1"}},"Select":"SPECIFIC_ATTRIBUTES",
      "ProjectionExpression":"kind"})");
  EXPECT_EQ(1u, Size(d, "Items.0"));

  Fails("Query", R"({"TableName":"events","KeyConditionExpression":"pk = :p",
        "ExpressionAttributeValues":{":p":{"S":"u1"}},"Select":"COUNT",
        "ProjectionExpression":"kind"})",
        "ValidationException");
  Fails("Query", R"({"TableName":"events","KeyConditionExpression":"pk = :p",
        "ExpressionAttributeValues":{":p":{"S":"u1"}},"Select":"EVERYTHING"})",
        "ValidationException");
  Fails("Query", R"({"TableName":"events","IndexName":"byKind","KeyConditionExpression":"pk = :p",
        "ExpressionAttributeValues":{":p":{"S":"u1"}}})",
        "ValidationException");
  EXPECT_NE(std::string::npos, Fails("Query", R"({"TableName":"events","KeyConditions":{"pk":{
                  "AttributeValueList":[{"S":"u1"}],"ComparisonOperator":"EQ"}},
                  "KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{":p":{"S":"u1"}}})",
                                     "ValidationException")
                                   .find("Non-expression parameters: {KeyConditions}"));
  Fails("Query", R"({"TableName":"events","KeyConditionExpression":"pk = :p",
        "ExpressionAttributeValues":{":p":{"S":"u1"}},"Limit":0})",
        "ValidationException");
  Fails("Query", R"({"TableName":"events","KeyConditionExpression":"pk = :p",
        "ExpressionAttributeValues":{":p":{"S":"u1"}},"ScanIndexForward":"no"})",
        "SerializationException");
  Fails("Query", R"({"TableName":"events","KeyConditionExpression":"sk = :p",
        "ExpressionAttributeValues":{":p":{"N":"1"}}})",
        "ValidationException");
  Fails("Query", R"({"TableName":"nothere","KeyConditionExpression":"pk = :p",
        "ExpressionAttributeValues":{":p":{"S":"u1"}}})",
        "ResourceNotFoundException");
}

TEST_F(DynamoDbApiQueryTest, ScanAndParallelScan) {
  rapidjson::Document d = Ok("Scan", R"({"TableName":"events"})");
  EXPECT_EQ(6, Int(d, "Count"));
  EXPECT_EQ(6, Int(d, "ScannedCount"));

  d = Ok("Scan", R"({"TableName":"events","Limit":4})");
  EXPECT_EQ(4, Int(d, "Count"));
  EXPECT_TRUE(Has(d, "LastEvaluatedKey"));

  d = Ok("Scan", R"({"TableName":"events","FilterExpression":"kind = :k",
      "ExpressionAttributeValues":{":k":{"S":"odd"}},"Select":"COUNT"})");
  EXPECT_EQ(3, Int(d, "Count"));
  EXPECT_EQ(6, Int(d, "ScannedCount"));

  std::multiset<std::string> keys;
  for (int segment = 0; segment < 3; ++segment) {
    rapidjson::Document part = Ok("Scan", R"({"TableName":"events","Segment":)" +
                                              std::to_string(segment) + R"(,"TotalSegments":3})");
    for (size_t i = 0; i < Size(part, "Items"); ++i) {
      std::string prefix = "Items." + std::to_string(i);
      keys.insert(Str(part, prefix + ".pk.S") + "/" + Str(part, prefix + ".sk.N"));
    }
  }
  EXPECT_EQ(6u, keys.size());
  EXPECT_EQ(6u, std::set<std::string>(keys.begin(), keys.end()).size());

  Fails("Scan", R"({"TableName":"events","Segment":1})", "ValidationException");
  Fails("Scan", R"({"TableName":"events","TotalSegments":2})", "ValidationException");
  Fails("Scan", R"({"TableName":"events","Segment":2,"TotalSegments":2})", "ValidationException");
  Fails("Scan", R"({"TableName":"events","Segment":0,"TotalSegments":0})", "ValidationException");
  Fails("Scan", R"({"TableName":"events","ScanFilter":{},"ConditionalOperator":"OR"})",
        "ValidationException");
}

// --- Legacy parameters ---------------------------------------------------------

// Items with every shape the legacy comparisons treat differently: strings,
// numbers, sets, lists, binary, NULL, and attributes that are missing.
class DynamoDbApiLegacyTest : public DynamoDbApiTest {
 protected:
  void SetUp() override {
    DynamoDbApiTest::SetUp();
    CreateTable("things", /*sort=*/true);
    Put("things", R"({"pk":{"S":"p"},"sk":{"N":"1"},"s":{"S":"apple"},"n":{"N":"5"},
        "ss":{"SS":["a","b"]},"l":{"L":[{"S":"x"},{"N":"1"}]},"b":{"B":"AAE="}})");
    Put("things", R"({"pk":{"S":"p"},"sk":{"N":"2"},"s":{"S":"banana"},"n":{"N":"10"},
        "ss":{"SS":["c"]}})");
    Put("things", R"({"pk":{"S":"p"},"sk":{"N":"3"},"s":{"S":"cherry"},"n":{"N":"7.5"}})");
    Put("things", R"({"pk":{"S":"p"},"sk":{"N":"4"},"other":{"BOOL":true}})");
    Put("things", R"({"pk":{"S":"p"},"sk":{"N":"5"},"s":{"S":"apricot"},"n":{"N":"-1"},
        "nul":{"NULL":true}})");
  }

  // The sort keys of the items a Scan with `members` (JSON members after
  // TableName) returns, in order.
  std::vector<std::string> ScanKeys(const std::string& members) {
    rapidjson::Document d = Ok("Scan", R"({"TableName":"things",)" + members + "}");
    std::vector<std::string> keys;
    for (size_t i = 0; i < Size(d, "Items"); ++i) {
      keys.push_back(Str(d, "Items." + std::to_string(i) + ".sk.N"));
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  using Keys = std::vector<std::string>;
};

TEST_F(DynamoDbApiLegacyTest, ScanFilterComparisons) {
  struct Case {
    std::string condition;  // one ScanFilter entry
    DynamoDbApiLegacyTest::Keys expected;
  };
  const std::vector<Case> cases = {
      {R"("s":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"apple"}]})", {"1"}},
      // A missing attribute is not equal to anything, so NE matches it.
      {R"("s":{"ComparisonOperator":"NE","AttributeValueList":[{"S":"apple"}]})",
       {"2", "3", "4", "5"}},
      {R"("ss":{"ComparisonOperator":"EQ","AttributeValueList":[{"SS":["b","a"]}]})", {"1"}},
      {R"("n":{"ComparisonOperator":"LT","AttributeValueList":[{"N":"7.5"}]})", {"1", "5"}},
      {R"("n":{"ComparisonOperator":"LE","AttributeValueList":[{"N":"7.5"}]})", {"1", "3", "5"}},
      {R"("n":{"ComparisonOperator":"GT","AttributeValueList":[{"N":"5"}]})", {"2", "3"}},
      {R"("n":{"ComparisonOperator":"GE","AttributeValueList":[{"N":"5"}]})", {"1", "2", "3"}},
      // Comparisons across types are false.
      {R"("n":{"ComparisonOperator":"GE","AttributeValueList":[{"S":"0"}]})", {}},
      {R"("s":{"ComparisonOperator":"LT","AttributeValueList":[{"S":"b"}]})", {"1", "5"}},
      {R"("s":{"ComparisonOperator":"NOT_NULL"})", {"1", "2", "3", "5"}},
      {R"("s":{"ComparisonOperator":"NULL"})", {"4"}},
      // An attribute of type NULL exists.
      {R"("nul":{"ComparisonOperator":"NOT_NULL"})", {"5"}},
      {R"("s":{"ComparisonOperator":"CONTAINS","AttributeValueList":[{"S":"an"}]})", {"2"}},
      {R"("ss":{"ComparisonOperator":"CONTAINS","AttributeValueList":[{"S":"c"}]})", {"2"}},
      {R"("l":{"ComparisonOperator":"CONTAINS","AttributeValueList":[{"N":"1"}]})", {"1"}},
      {R"("b":{"ComparisonOperator":"CONTAINS","AttributeValueList":[{"B":"AQ=="}]})", {"1"}},
      {R"("ss":{"ComparisonOperator":"NOT_CONTAINS","AttributeValueList":[{"S":"a"}]})",
       {"2", "3", "4", "5"}},
      {R"("s":{"ComparisonOperator":"BEGINS_WITH","AttributeValueList":[{"S":"ap"}]})", {"1", "5"}},
      {R"("b":{"ComparisonOperator":"BEGINS_WITH","AttributeValueList":[{"B":"AA=="}]})", {"1"}},
      {R"("s":{"ComparisonOperator":"IN","AttributeValueList":[{"S":"cherry"},{"S":"apple"},
          {"S":"kiwi"}]})",
       {"1", "3"}},
      {R"("n":{"ComparisonOperator":"BETWEEN","AttributeValueList":[{"N":"5"},{"N":"7.5"}]})",
       {"1", "3"}},
      {R"("s":{"ComparisonOperator":"BETWEEN","AttributeValueList":[{"S":"apricot"},
          {"S":"banana"}]})",
       {"2", "5"}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.expected, ScanKeys(R"("ScanFilter":{)" + c.condition + "}")) << c.condition;
  }
  // Several conditions: all of them by default and with AND, any with OR.
  const std::string two =
      R"("n":{"ComparisonOperator":"GT","AttributeValueList":[{"N":"6"}]},
         "s":{"ComparisonOperator":"BEGINS_WITH","AttributeValueList":[{"S":"a"}]})";
  EXPECT_EQ(Keys{}, ScanKeys(R"("ScanFilter":{)" + two + "}"));
  EXPECT_EQ(Keys{}, ScanKeys(R"("ConditionalOperator":"AND","ScanFilter":{)" + two + "}"));
  EXPECT_EQ((Keys{"1", "2", "3", "5"}),
            ScanKeys(R"("ConditionalOperator":"OR","ScanFilter":{)" + two + "}"));
  // An empty filter filters nothing.
  EXPECT_EQ((Keys{"1", "2", "3", "4", "5"}), ScanKeys(R"("ScanFilter":{})"));
}

TEST_F(DynamoDbApiLegacyTest, ScanAttributesToGetAndCount) {
  rapidjson::Document d = Ok("Scan", R"({"TableName":"things","AttributesToGet":["s","missing"],
      "ScanFilter":{"n":{"ComparisonOperator":"GT","AttributeValueList":[{"N":"6"}]}}})");
  ASSERT_EQ(2u, Size(d, "Items"));
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(1u, Size(d, "Items." + std::to_string(i)));  // only "s"
  }
  EXPECT_EQ(5, Int(d, "ScannedCount"));
  d = Ok("Scan", R"({"TableName":"things","Select":"SPECIFIC_ATTRIBUTES",
      "AttributesToGet":["n.x"]})");
  EXPECT_EQ(0u, Size(d, "Items.0"));  // a name with a dot is one attribute's name, not a path
  d = Ok("Scan", R"({"TableName":"things","Select":"COUNT",
      "ScanFilter":{"s":{"ComparisonOperator":"NULL"}}})");
  EXPECT_EQ(1, Int(d, "Count"));
  EXPECT_FALSE(Has(d, "Items"));
  EXPECT_EQ("Cannot specify the AttributesToGet when choosing to get ALL_ATTRIBUTES",
            Fails("Scan", R"({"TableName":"things","Select":"ALL_ATTRIBUTES",
                  "AttributesToGet":["s"]})",
                  "ValidationException"));
}

TEST_F(DynamoDbApiLegacyTest, QueryKeyConditionsAndQueryFilter) {
  Put("things", R"({"pk":{"S":"q"},"sk":{"N":"3"},"s":{"S":"other partition"}})");
  auto query_keys = [&](const std::string& members) {
    rapidjson::Document d = Ok("Query", R"({"TableName":"things",)" + members + "}");
    Keys keys;
    for (size_t i = 0; i < Size(d, "Items"); ++i) {
      keys.push_back(Str(d, "Items." + std::to_string(i) + ".sk.N"));
    }
    return keys;
  };
  const std::string p = R"("pk":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"p"}]})";
  EXPECT_EQ((Keys{"1", "2", "3", "4", "5"}), query_keys(R"("KeyConditions":{)" + p + "}"));
  EXPECT_EQ((Keys{"4", "3", "2"}),
            query_keys(R"("ScanIndexForward":false,"KeyConditions":{)" + p +
                       R"(,"sk":{"ComparisonOperator":"BETWEEN","AttributeValueList":[{"N":"2"},
                       {"N":"4"}]}})"));
  EXPECT_EQ((Keys{"4", "5"}),
            query_keys(R"("KeyConditions":{)" + p +
                       R"(,"sk":{"ComparisonOperator":"GE","AttributeValueList":[{"N":"4"}]}})"));
  EXPECT_EQ((Keys{"1"}),
            query_keys(R"("KeyConditions":{)" + p +
                       R"(,"sk":{"ComparisonOperator":"LT","AttributeValueList":[{"N":"2"}]}})"));
  // QueryFilter, ConditionalOperator and AttributesToGet with it.
  rapidjson::Document d = Ok("Query", R"({"TableName":"things","KeyConditions":{)" + p +
                                          R"(},"ConditionalOperator":"OR","QueryFilter":{
      "s":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"cherry"}]},
      "other":{"ComparisonOperator":"NOT_NULL"}},"AttributesToGet":["sk","s"]})");
  ASSERT_EQ(2, Int(d, "Count"));
  EXPECT_EQ(5, Int(d, "ScannedCount"));
  EXPECT_EQ("3", Str(d, "Items.0.sk.N"));
  EXPECT_EQ("cherry", Str(d, "Items.0.s.S"));
  EXPECT_EQ("4", Str(d, "Items.1.sk.N"));
  EXPECT_EQ(1u, Size(d, "Items.1"));
  // DynamoDB lets KeyConditions come with a FilterExpression; the request's
  // own placeholders may look like the translation's.
  d = Ok("Query", R"({"TableName":"things","KeyConditions":{)" + p +
                      R"(},"FilterExpression":"#L0 = :L0","ExpressionAttributeNames":{"#L0":"s"},
      "ExpressionAttributeValues":{":L0":{"S":"banana"}}})");
  ASSERT_EQ(1, Int(d, "Count"));
  EXPECT_EQ("2", Str(d, "Items.0.sk.N"));

  EXPECT_EQ("QueryFilter can only contain non-primary key attributes: Primary key attribute: sk",
            Fails("Query", R"({"TableName":"things","KeyConditions":{)" + p + R"(},
                  "QueryFilter":{"sk":{"ComparisonOperator":"NOT_NULL"}}})",
                  "ValidationException"));
  EXPECT_EQ("Attempted conditional constraint is not an indexable operation",
            Fails("Query", R"({"TableName":"things","KeyConditions":{)" + p + R"(,
                  "sk":{"ComparisonOperator":"NE","AttributeValueList":[{"N":"1"}]}}})",
                  "ValidationException"));
  EXPECT_EQ("Query key condition not supported",
            Fails("Query", R"({"TableName":"things","KeyConditions":{"pk":{
                  "ComparisonOperator":"BEGINS_WITH","AttributeValueList":[{"S":"p"}]}}})",
                  "ValidationException"));
  EXPECT_EQ("Query condition missed key schema element: pk",
            Fails("Query", R"({"TableName":"things","KeyConditions":{"sk":{
                  "ComparisonOperator":"EQ","AttributeValueList":[{"N":"1"}]}}})",
                  "ValidationException"));
  EXPECT_EQ("Conditions can be of length 1 or 2 only",
            Fails("Query", R"({"TableName":"things","KeyConditions":{}})", "ValidationException"));
}

TEST_F(DynamoDbApiLegacyTest, ExpectedGuardsWrites) {
  // Put if absent.
  const std::string absent = R"("Expected":{"pk":{"Exists":false}})";
  Ok("PutItem",
     R"({"TableName":"things","Item":{"pk":{"S":"new"},"sk":{"N":"1"}},)" + absent + "}");
  Fails("PutItem",
        R"({"TableName":"things","Item":{"pk":{"S":"new"},"sk":{"N":"1"}},)" + absent + "}",
        "ConditionalCheckFailedException");
  EXPECT_EQ(
      "Can not use both expression and non-expression parameters in the same request: "
      "Non-expression parameters: {Expected} Expression parameters: {UpdateExpression}",
      Fails("UpdateItem", R"({"TableName":"things","Key":{"pk":{"S":"p"},"sk":{"N":"1"}},
                  "UpdateExpression":"SET s = :v","ExpressionAttributeValues":{":v":{"S":"x"}},
                  "Expected":{"n":{"Value":{"N":"5"}}}})",
            "ValidationException"));
  // Value (Exists true or left out) is equality.
  const std::string key = R"("Key":{"pk":{"S":"p"},"sk":{"N":"1"}})";
  for (std::string_view exists : {"", R"("Exists":true,)"}) {
    Fails("UpdateItem",
          R"({"TableName":"things",)" + key +
              R"(,"AttributeUpdates":{"s":{"Value":{"S":"x"}}},"Expected":{"n":{)" +
              std::string(exists) + R"("Value":{"N":"6"}}}})",
          "ConditionalCheckFailedException");
    Ok("UpdateItem", R"({"TableName":"things",)" + key +
                         R"(,"AttributeUpdates":{"s":{"Value":{"S":"x"}}},"Expected":{"n":{)" +
                         std::string(exists) + R"("Value":{"N":"5"}}}})");
  }
  // ComparisonOperator forms, with Value standing for a one-element list, and
  // OR.
  Fails("DeleteItem", R"({"TableName":"things",)" + key + R"(,"Expected":{
        "n":{"ComparisonOperator":"GT","Value":{"N":"5"}}}})",
        "ConditionalCheckFailedException");
  Fails("DeleteItem", R"({"TableName":"things",)" + key + R"(,"Expected":{
        "n":{"ComparisonOperator":"GT","AttributeValueList":[{"N":"5"}]},
        "s":{"ComparisonOperator":"NULL"}}})",
        "ConditionalCheckFailedException");
  rapidjson::Document d =
      Ok("DeleteItem", R"({"TableName":"things",)" + key + R"(,"ConditionalOperator":"OR",
          "Expected":{"n":{"ComparisonOperator":"GT","AttributeValueList":[{"N":"5"}]},
          "ss":{"ComparisonOperator":"CONTAINS","AttributeValueList":[{"S":"b"}]}},
          "ReturnValues":"ALL_OLD"})");
  EXPECT_EQ("x", Str(d, "Attributes.s.S"));
  EXPECT_EQ(5u, CountItems("things"));  // 5 + "new" - the deleted one
}

TEST_F(DynamoDbApiLegacyTest, AttributeUpdatesActions) {
  const std::string key = R"("TableName":"things","Key":{"pk":{"S":"p"},"sk":{"N":"1"}})";
  rapidjson::Document d = Ok("UpdateItem", "{" + key + R"(,"AttributeUpdates":{
      "s":{"Value":{"S":"avocado"}},
      "n":{"Action":"ADD","Value":{"N":"2.5"}},
      "ss":{"Action":"DELETE","Value":{"SS":["a","zz"]}},
      "l":{"Action":"ADD","Value":{"L":[{"S":"y"}]}},
      "fresh":{"Action":"ADD","Value":{"L":[{"N":"9"}]}},
      "tags":{"Action":"ADD","Value":{"SS":["t"]}},
      "b":{"Action":"DELETE"},
      "never":{"Action":"DELETE"}},
      "ReturnValues":"ALL_NEW"})");
  EXPECT_EQ("avocado", Str(d, "Attributes.s.S"));
  EXPECT_EQ("7.5", Str(d, "Attributes.n.N"));
  ASSERT_EQ(1u, Size(d, "Attributes.ss.SS"));
  EXPECT_EQ("b", Str(d, "Attributes.ss.SS.0"));
  ASSERT_EQ(3u, Size(d, "Attributes.l.L"));
  EXPECT_EQ("y", Str(d, "Attributes.l.L.2.S"));
  ASSERT_EQ(1u, Size(d, "Attributes.fresh.L"));
  EXPECT_EQ("t", Str(d, "Attributes.tags.SS.0"));
  EXPECT_FALSE(Has(d, "Attributes.b"));
  EXPECT_FALSE(Has(d, "Attributes.never"));
  // On an item that does not exist, PUT and ADD make it.
  d = Ok("UpdateItem", R"({"TableName":"things","Key":{"pk":{"S":"n"},"sk":{"N":"1"}},
      "AttributeUpdates":{"count":{"Action":"ADD","Value":{"N":"1"}}},"ReturnValues":"ALL_NEW"})");
  EXPECT_EQ("1", Str(d, "Attributes.count.N"));
  EXPECT_EQ("n", Str(d, "Attributes.pk.S"));
  // An empty AttributeUpdates changes nothing.
  d = Ok("UpdateItem", "{" + key + R"(,"AttributeUpdates":{},"ReturnValues":"ALL_NEW"})");
  EXPECT_EQ("avocado", Str(d, "Attributes.s.S"));

  struct Case {
    std::string updates;
    std::string message;
  };
  const std::vector<Case> errors = {
      {R"("s":{"Action":"PUT"})",
       "One or more parameter values were invalid: Only DELETE action "
       "is allowed when no attribute value is specified"},
      {R"("s":{"Action":"DELETE","Value":{"S":"x"}})",
       "One or more parameter values were invalid: DELETE action with value is not supported "
       "for the type S"},
      {R"("s":{"Action":"ADD","Value":{"S":"x"}})",
       "One or more parameter values were invalid: ADD action is not supported for the type S"},
      {R"("s":{"Action":"REPLACE","Value":{"S":"x"}})",
       "1 validation error detected: Value 'REPLACE' at 'attributeUpdates.s.member.action' "
       "failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]"},
      {R"("sk":{"Value":{"N":"2"}})",
       "Cannot update attribute sk. This attribute is part of the key"},
  };
  for (const Case& c : errors) {
    std::string message =
        Fails("UpdateItem", "{" + key + R"(,"AttributeUpdates":{)" + c.updates + "}}",
              "ValidationException");
    EXPECT_NE(std::string::npos, message.find(c.message)) << c.updates << " -> " << message;
  }
  d = Ok("GetItem", "{" + key + "}");
  EXPECT_EQ("avocado", Str(d, "Item.s.S"));  // nothing written by the errors
}

TEST_F(DynamoDbApiLegacyTest, AttributesToGetOnGetItemAndBatchGetItem) {
  rapidjson::Document d = Ok("GetItem", R"({"TableName":"things",
      "Key":{"pk":{"S":"p"},"sk":{"N":"1"}},"AttributesToGet":["s","n"]})");
  EXPECT_EQ(2u, Size(d, "Item"));
  EXPECT_EQ("apple", Str(d, "Item.s.S"));
  d = Ok("BatchGetItem", R"({"RequestItems":{"things":{"Keys":[{"pk":{"S":"p"},"sk":{"N":"2"}}],
      "AttributesToGet":["ss"]}}})");
  ASSERT_EQ(1u, Size(d, "Responses.things"));
  EXPECT_EQ(1u, Size(d, "Responses.things.0"));
  EXPECT_EQ("c", Str(d, "Responses.things.0.ss.SS.0"));
  EXPECT_EQ("One or more parameter values were invalid: Duplicate value in attribute name: s",
            Fails("GetItem", R"({"TableName":"things","Key":{"pk":{"S":"p"},"sk":{"N":"1"}},
                  "AttributesToGet":["s","s"]})",
                  "ValidationException"));
}

TEST_F(DynamoDbApiLegacyTest, ConditionErrors) {
  struct Case {
    std::string op;
    std::string members;  // after TableName
    std::string message;
  };
  const std::string item = R"("Item":{"pk":{"S":"p"},"sk":{"N":"9"}},)";
  const std::string invalid = "One or more parameter values were invalid: ";
  const std::string expected_invalid = "1 validation error detected: " + invalid;
  const std::vector<Case> cases = {
      {"PutItem", item + R"("Expected":{"a":{"Exists":true}})",
       expected_invalid + "Value must be provided when Exists is true for Attribute: a"},
      {"PutItem", item + R"("Expected":{"a":{}})",
       expected_invalid + "Value must be provided when Exists is null for Attribute: a"},
      {"PutItem", item + R"("Expected":{"a":{"Exists":false,"Value":{"S":"x"}}})",
       expected_invalid + "Value cannot be used when Exists is false for Attribute: a"},
      {"PutItem", item + R"("Expected":{"a":{"Exists":true,"ComparisonOperator":"EQ",
          "Value":{"S":"x"}}})",
       expected_invalid + "Exists and ComparisonOperator cannot be used together for Attribute: a"},
      {"PutItem", item + R"("Expected":{"a":{"Value":{"S":"x"},"AttributeValueList":[]}})",
       expected_invalid + "Value and AttributeValueList cannot be used together for Attribute: a"},
      {"PutItem", item + R"("Expected":{"a":{"AttributeValueList":[{"S":"x"}]}})",
       expected_invalid + "AttributeValueList can only be used with a ComparisonOperator for "
                          "Attribute: a"},
      {"PutItem", item + R"("Expected":{"a":{"ComparisonOperator":"GT"}})",
       expected_invalid + "Value or AttributeValueList must be used with ComparisonOperator: GT "
                          "for Attribute: a"},
      {"PutItem", item + R"("Expected":{"a":{"ComparisonOperator":"NULL","Value":{"S":"x"}}})",
       invalid + "Invalid number of argument(s) for the NULL ComparisonOperator"},
      {"PutItem", item + R"("Expected":{"a":{"Value":{"S":"x"}}},"ConditionalOperator":"OR")",
       "ConditionalOperator can only be used when Filter or Expected has two or more elements"},
      {"PutItem", item + R"("Expected":{"a":{"Value":{"S":"x"}},"b":{"Value":{"S":"x"}}},
          "ConditionalOperator":"XOR")",
       "Member must satisfy enum value set: [AND, OR]"},
      {"Scan", R"("ScanFilter":{"a":{"ComparisonOperator":"BETWEEN",
          "AttributeValueList":[{"N":"1"}]}})",
       invalid + "Invalid number of argument(s) for the BETWEEN ComparisonOperator"},
      {"Scan", R"("ScanFilter":{"a":{"ComparisonOperator":"BETWEEN",
          "AttributeValueList":[{"N":"2"},{"N":"10"}]}})",
       ""},
      {"Scan", R"("ScanFilter":{"a":{"ComparisonOperator":"BETWEEN",
          "AttributeValueList":[{"N":"10"},{"N":"2"}]}})",
       "The BETWEEN condition was provided a range where the lower bound is greater than the "
       "upper bound"},
      {"Scan", R"("ScanFilter":{"a":{"ComparisonOperator":"IN",
          "AttributeValueList":[{"N":"1"},{"S":"1"}]}})",
       invalid + "AttributeValues inside AttributeValueList must be of same type"},
      {"Scan", R"("ScanFilter":{"a":{"ComparisonOperator":"LT",
          "AttributeValueList":[{"SS":["1"]}]}})",
       invalid + "ComparisonOperator LT is not valid for SS AttributeValue type"},
      {"Scan", R"("ScanFilter":{"a":{"ComparisonOperator":"BEGINS_WITH",
          "AttributeValueList":[{"N":"1"}]}})",
       invalid + "ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type"},
      {"Scan", R"("ScanFilter":{"a":{"ComparisonOperator":"LIKE",
          "AttributeValueList":[{"N":"1"}]}})",
       "Value 'LIKE' at 'scanFilter.a.member.comparisonOperator' failed to satisfy constraint: "
       "Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, "
       "NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"},
      {"Scan", R"("ScanFilter":{"a":{"AttributeValueList":[{"N":"1"}]}})",
       "Value null at 'scanFilter.a.member.comparisonOperator' failed to satisfy constraint: "
       "Member must not be null"},
      {"Scan", R"("ScanFilter":{"a":{"ComparisonOperator":"EQ",
          "AttributeValueList":[{"SS":[]}]}})",
       "empty"},
      {"Scan", R"("ConditionalOperator":"AND")",
       "ConditionalOperator cannot be used without Filter or Expected"},
      {"Scan", R"("ScanFilter":{"s":{"ComparisonOperator":"NULL"}},"FilterExpression":"n > :n",
          "ExpressionAttributeValues":{":n":{"N":"1"}})",
       "Can not use both expression and non-expression parameters in the same request: "
       "Non-expression parameters: {ScanFilter} Expression parameters: {FilterExpression}"},
      {"Scan", R"("AttributesToGet":[])",
       "Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length "
       "greater than or equal to 1"},
      {"Scan", R"("AttributesToGet":["s"],"ExpressionAttributeNames":{"#s":"s"})",
       "ExpressionAttributeNames can only be specified when using expressions"},
      {"Scan", R"("ScanFilter":{"s":{"ComparisonOperator":"NULL"}},
          "ExpressionAttributeValues":{":n":{"N":"1"}})",
       "ExpressionAttributeValues can only be specified when using expressions: "
       "FilterExpression is null"},
      {"Query", R"("KeyConditions":{"pk":{"ComparisonOperator":"EQ",
          "AttributeValueList":[{"S":"p"}]}},"ExpressionAttributeValues":{":n":{"N":"1"}})",
       "ExpressionAttributeValues can only be specified when using expressions: "
       "FilterExpression and KeyConditionExpression are null"},
  };
  for (const Case& c : cases) {
    const std::string body = R"({"TableName":"things",)" + c.members + "}";
    if (c.message.empty()) {
      Ok(c.op, body);
      continue;
    }
    std::string message = Fails(c.op, body, "ValidationException");
    EXPECT_NE(std::string::npos, message.find(c.message)) << body << " -> " << message;
  }
  EXPECT_EQ(5u, CountItems("things"));  // nothing written
  // A member of the wrong JSON type is a SerializationException.
  Fails("Scan", R"({"TableName":"things","ScanFilter":{"a":"EQ"}})", "SerializationException");
  Fails("PutItem", R"({"TableName":"things",)" + item + R"("Expected":[]})",
        "SerializationException");
  Fails("GetItem", R"({"TableName":"things","Key":{"pk":{"S":"p"},"sk":{"N":"1"}},
        "AttributesToGet":[1]})",
        "SerializationException");
}

// --- Secondary indexes --------------------------------------------------------

// A KeySchema list: `hash`, then `range` when given.
std::string KeySchemaJson(std::string_view hash, std::string_view range = "") {
  std::string out = R"([{"AttributeName":")" + std::string(hash) + R"(","KeyType":"HASH"})";
  if (!range.empty()) {
    out += R"(,{"AttributeName":")" + std::string(range) + R"(","KeyType":"RANGE"})";
  }
  return out + "]";
}

// An AttributeDefinitions list of {name, type} pairs.
std::string DefinitionsJson(
    std::initializer_list<std::pair<std::string_view, std::string_view>> attributes) {
  std::string out = "[";
  for (const auto& [name, type] : attributes) {
    if (out.size() > 1) out += ",";
    out += R"({"AttributeName":")" + std::string(name) + R"(","AttributeType":")" +
           std::string(type) + R"("})";
  }
  return out + "]";
}

// The attribute names of the map at `path` of `root`, sorted.
std::vector<std::string> AttributeNames(const rapidjson::Value& root, std::string_view path) {
  std::vector<std::string> names;
  const rapidjson::Value* item = At(root, path);
  if (item == nullptr || !item->IsObject()) {
    ADD_FAILURE() << "no map at " << path;
    return names;
  }
  for (const auto& m : item->GetObject()) names.emplace_back(m.name.GetString());
  std::sort(names.begin(), names.end());
  return names;
}

// Table "scores" (user S, game S) with three global indexes (KEYS_ONLY,
// INCLUDE, ALL) and a local one, and items some of which lack an index's
// key attributes (so are absent from it: sparse indexes).
class DynamoDbApiIndexTest : public DynamoDbApiTest {
 protected:
  static std::string CreateScoresBody() {
    return R"({"TableName":"scores","BillingMode":"PAY_PER_REQUEST","KeySchema":)" +
           KeySchemaJson("user", "game") + R"(,"AttributeDefinitions":)" +
           DefinitionsJson({{"user", "S"}, {"game", "S"}, {"score", "N"}, {"tier", "S"}}) +
           R"(,"GlobalSecondaryIndexes":[)" + R"({"IndexName":"by-tier","KeySchema":)" +
           KeySchemaJson("tier", "score") + R"(,"Projection":{"ProjectionType":"KEYS_ONLY"}},)" +
           R"({"IndexName":"by-game","KeySchema":)" + KeySchemaJson("game", "score") +
           R"(,"Projection":{"ProjectionType":"INCLUDE","NonKeyAttributes":["note"]},)" +
           R"("OnDemandThroughput":{"MaxReadRequestUnits":10}},)" +
           R"({"IndexName":"everything","KeySchema":)" + KeySchemaJson("tier") +
           R"(,"Projection":{"ProjectionType":"ALL"}}],)" +
           R"("LocalSecondaryIndexes":[{"IndexName":"by-user-score","KeySchema":)" +
           KeySchemaJson("user", "score") + R"(,"Projection":{"ProjectionType":"KEYS_ONLY"}}]})";
  }

  void PutScores() {
    Put("scores", R"({"user":{"S":"u1"},"game":{"S":"chess"},"score":{"N":"30"},)"
                  R"("tier":{"S":"gold"},"note":{"S":"n1"},"extra":{"S":"x"}})");
    Put("scores", R"({"user":{"S":"u2"},"game":{"S":"chess"},"score":{"N":"10"},)"
                  R"("tier":{"S":"gold"},"note":{"S":"n2"},"extra":{"S":"x"}})");
    Put("scores", R"({"user":{"S":"u3"},"game":{"S":"chess"},"score":{"N":"20"},)"
                  R"("tier":{"S":"silver"},"note":{"S":"n3"}})");
    Put("scores", R"({"user":{"S":"u4"},"game":{"S":"chess"},"score":{"N":"10"},)"
                  R"("tier":{"S":"gold"}})");
    // No tier: in neither by-tier nor everything.
    Put("scores", R"({"user":{"S":"u1"},"game":{"S":"go"},"score":{"N":"5"},"note":{"S":"n5"}})");
    // No score: in everything only.
    Put("scores", R"({"user":{"S":"u5"},"game":{"S":"go"},"tier":{"S":"gold"}})");
  }

  // "user/game" of each item of a Query or Scan answer, in order.
  std::vector<std::string> ItemKeys(const rapidjson::Value& d) {
    std::vector<std::string> keys;
    for (size_t i = 0; i < Size(d, "Items"); ++i) {
      std::string item = "Items." + std::to_string(i);
      keys.push_back(Str(d, item + ".user.S") + "/" + Str(d, item + ".game.S"));
    }
    return keys;
  }

  // Every page of `op` (Query or Scan) with `body` (without its closing
  // brace), following LastEvaluatedKey; each page's key must have exactly
  // `key_attributes`.
  std::vector<std::string> AllPages(std::string_view op, const std::string& body,
                                    const std::vector<std::string>& key_attributes) {
    std::vector<std::string> all;
    std::string start;
    for (int page = 0; page < 20; ++page) {
      std::string request = body;
      if (!start.empty()) request += R"(,"ExclusiveStartKey":)" + start;
      ApiResponse r = Call(op, request + "}");
      EXPECT_EQ(200, r.http_status) << request << " -> " << r.body;
      if (r.http_status != 200) break;
      rapidjson::Document d = ParseJson(r.body);
      for (const std::string& key : ItemKeys(d)) all.push_back(key);
      if (!Has(d, "LastEvaluatedKey")) return all;
      EXPECT_EQ(key_attributes, AttributeNames(d, "LastEvaluatedKey")) << r.body;
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
      At(d, "LastEvaluatedKey")->Accept(writer);
      start = buffer.GetString();
    }
    ADD_FAILURE() << "no last page";
    return all;
  }

  const std::string gold_ = R"("ExpressionAttributeValues":{":l":{"S":"gold"}})";
};

TEST_F(DynamoDbApiIndexTest, CreateTableDescribesEachIndex) {
  rapidjson::Document d = Ok("CreateTable", CreateScoresBody());
  // Index key attributes are defined once each, after the table's keys.
  ASSERT_EQ(4u, Size(d, "TableDescription.AttributeDefinitions"));
  std::vector<std::string> defined;
  for (size_t i = 0; i < 4; ++i) {
    std::string at = "TableDescription.AttributeDefinitions." + std::to_string(i);
    defined.push_back(Str(d, at + ".AttributeName") + ":" + Str(d, at + ".AttributeType"));
  }
  EXPECT_EQ((std::vector<std::string>{"user:S", "game:S", "score:N", "tier:S"}), defined);

  const std::string arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/scores";
  ASSERT_EQ(3u, Size(d, "TableDescription.GlobalSecondaryIndexes"));
  const std::string keys_only = "TableDescription.GlobalSecondaryIndexes.0.";
  EXPECT_EQ("by-tier", Str(d, keys_only + "IndexName"));
  EXPECT_EQ("tier", Str(d, keys_only + "KeySchema.0.AttributeName"));
  EXPECT_EQ("HASH", Str(d, keys_only + "KeySchema.0.KeyType"));
  EXPECT_EQ("score", Str(d, keys_only + "KeySchema.1.AttributeName"));
  EXPECT_EQ("RANGE", Str(d, keys_only + "KeySchema.1.KeyType"));
  EXPECT_EQ("KEYS_ONLY", Str(d, keys_only + "Projection.ProjectionType"));
  EXPECT_FALSE(Has(d, keys_only + "Projection.NonKeyAttributes"));
  EXPECT_EQ("ACTIVE", Str(d, keys_only + "IndexStatus"));
  EXPECT_FALSE(Has(d, keys_only + "Backfilling"));
  EXPECT_EQ(0, Int(d, keys_only + "ProvisionedThroughput.ReadCapacityUnits"));
  EXPECT_EQ(0, Int(d, keys_only + "ProvisionedThroughput.WriteCapacityUnits"));
  EXPECT_EQ(0, Int(d, keys_only + "ProvisionedThroughput.NumberOfDecreasesToday"));
  EXPECT_EQ(0, Int(d, keys_only + "IndexSizeBytes"));
  EXPECT_EQ(0, Int(d, keys_only + "ItemCount"));
  EXPECT_EQ(arn + "/index/by-tier", Str(d, keys_only + "IndexArn"));

  const std::string include = "TableDescription.GlobalSecondaryIndexes.1.";
  EXPECT_EQ("by-game", Str(d, include + "IndexName"));
  EXPECT_EQ("INCLUDE", Str(d, include + "Projection.ProjectionType"));
  ASSERT_EQ(1u, Size(d, include + "Projection.NonKeyAttributes"));
  EXPECT_EQ("note", Str(d, include + "Projection.NonKeyAttributes.0"));
  EXPECT_EQ(arn + "/index/by-game", Str(d, include + "IndexArn"));

  const std::string all = "TableDescription.GlobalSecondaryIndexes.2.";
  EXPECT_EQ("everything", Str(d, all + "IndexName"));
  EXPECT_EQ(1u, Size(d, all + "KeySchema"));
  EXPECT_EQ("ALL", Str(d, all + "Projection.ProjectionType"));
  EXPECT_FALSE(Has(d, all + "Projection.NonKeyAttributes"));

  ASSERT_EQ(1u, Size(d, "TableDescription.LocalSecondaryIndexes"));
  const std::string local = "TableDescription.LocalSecondaryIndexes.0.";
  EXPECT_EQ("by-user-score", Str(d, local + "IndexName"));
  EXPECT_EQ("user", Str(d, local + "KeySchema.0.AttributeName"));
  EXPECT_EQ("score", Str(d, local + "KeySchema.1.AttributeName"));
  EXPECT_EQ("KEYS_ONLY", Str(d, local + "Projection.ProjectionType"));
  EXPECT_EQ(0, Int(d, local + "ItemCount"));
  EXPECT_EQ(0, Int(d, local + "IndexSizeBytes"));
  EXPECT_EQ(arn + "/index/by-user-score", Str(d, local + "IndexArn"));
  // DynamoDB's LocalSecondaryIndexDescription has neither.
  EXPECT_FALSE(Has(d, local + "IndexStatus"));
  EXPECT_FALSE(Has(d, local + "ProvisionedThroughput"));

  // Each index counts the items that have all of its key attributes.
  PutScores();
  d = Ok("DescribeTable", R"({"TableName":"scores"})");
  EXPECT_EQ(6, Int(d, "Table.ItemCount"));
  EXPECT_EQ(4, Int(d, "Table.GlobalSecondaryIndexes.0.ItemCount"));  // by-tier
  EXPECT_EQ(5, Int(d, "Table.GlobalSecondaryIndexes.1.ItemCount"));  // by-game
  EXPECT_EQ(5, Int(d, "Table.GlobalSecondaryIndexes.2.ItemCount"));  // everything
  EXPECT_EQ(5, Int(d, "Table.LocalSecondaryIndexes.0.ItemCount"));
  // A projection holds less than the whole item.
  EXPECT_GT(Int(d, "Table.GlobalSecondaryIndexes.0.IndexSizeBytes"), 0);
  EXPECT_LT(Int(d, "Table.GlobalSecondaryIndexes.0.IndexSizeBytes"),
            Int(d, "Table.GlobalSecondaryIndexes.2.IndexSizeBytes"));

  // The indexes are kept with the table across a restart.
  Reopen();
  rapidjson::Document again = Ok("DescribeTable", R"({"TableName":"scores"})");
  EXPECT_EQ(3u, Size(again, "Table.GlobalSecondaryIndexes"));
  EXPECT_EQ(4, Int(again, "Table.GlobalSecondaryIndexes.0.ItemCount"));
  EXPECT_EQ(1u, Size(again, "Table.LocalSecondaryIndexes"));

  // A table without indexes has neither member.
  CreateTable("plain");
  d = Ok("DescribeTable", R"({"TableName":"plain"})");
  EXPECT_FALSE(Has(d, "Table.GlobalSecondaryIndexes"));
  EXPECT_FALSE(Has(d, "Table.LocalSecondaryIndexes"));
}

TEST_F(DynamoDbApiIndexTest, GlobalIndexThroughputFollowsTheBillingMode) {
  const std::string table = R"({"TableName":"prov","KeySchema":)" + KeySchemaJson("pk") +
                            R"(,"AttributeDefinitions":)" +
                            DefinitionsJson({{"pk", "S"}, {"g", "S"}});
  const std::string index = R"("IndexName":"by-g","KeySchema":)" + KeySchemaJson("g") +
                            R"(,"Projection":{"ProjectionType":"ALL"})";
  rapidjson::Document d =
      Ok("CreateTable", table + R"(,"ProvisionedThroughput":{"ReadCapacityUnits":1,)" +
                            R"("WriteCapacityUnits":1},"GlobalSecondaryIndexes":[{)" + index +
                            R"(,"ProvisionedThroughput":{"ReadCapacityUnits":3,)" +
                            R"("WriteCapacityUnits":4}}]})");
  EXPECT_EQ(3, Int(d,
                   "TableDescription.GlobalSecondaryIndexes.0.ProvisionedThroughput."
                   "ReadCapacityUnits"));
  EXPECT_EQ(4, Int(d,
                   "TableDescription.GlobalSecondaryIndexes.0.ProvisionedThroughput."
                   "WriteCapacityUnits"));

  EXPECT_EQ(
      "One or more parameter values were invalid: ProvisionedThroughput must be specified for "
      "index: by-g, with read and write capacity units of at least 1",
      Fails("CreateTable",
            R"({"TableName":"prov2","KeySchema":)" + KeySchemaJson("pk") +
                R"(,"AttributeDefinitions":)" + DefinitionsJson({{"pk", "S"}, {"g", "S"}}) +
                R"(,"ProvisionedThroughput":{"ReadCapacityUnits":1,"WriteCapacityUnits":1},)" +
                R"("GlobalSecondaryIndexes":[{)" + index + "}]}",
            "ValidationException"));
  EXPECT_EQ(
      "One or more parameter values were invalid: ProvisionedThroughput should not be specified "
      "for index: by-g when BillingMode is PAY_PER_REQUEST",
      Fails("CreateTable",
            R"({"TableName":"ppr","BillingMode":"PAY_PER_REQUEST","KeySchema":)" +
                KeySchemaJson("pk") + R"(,"AttributeDefinitions":)" +
                DefinitionsJson({{"pk", "S"}, {"g", "S"}}) + R"(,"GlobalSecondaryIndexes":[{)" +
                index + R"(,"ProvisionedThroughput":{"ReadCapacityUnits":1,)" +
                R"("WriteCapacityUnits":1}}]})",
            "ValidationException"));
  EXPECT_EQ(
      "1 validation error detected: Value '0' at "
      "'globalSecondaryIndexes.1.member.provisionedThroughput.writeCapacityUnits' failed to "
      "satisfy constraint: Member must have value greater than or equal to 1",
      Fails("CreateTable",
            R"({"TableName":"zero","KeySchema":)" + KeySchemaJson("pk") +
                R"(,"AttributeDefinitions":)" + DefinitionsJson({{"pk", "S"}, {"g", "S"}}) +
                R"(,"ProvisionedThroughput":{"ReadCapacityUnits":1,"WriteCapacityUnits":1},)" +
                R"("GlobalSecondaryIndexes":[{)" + index +
                R"(,"ProvisionedThroughput":{"ReadCapacityUnits":1,"WriteCapacityUnits":0}}]})",
            "ValidationException"));
  EXPECT_EQ(1u, Size(Ok("ListTables", "{}"), "TableNames"));
}

TEST_F(DynamoDbApiIndexTest, CreateTableIndexErrors) {
  const std::string table_keys = R"("KeySchema":)" + KeySchemaJson("pk", "sk");
  auto create = [&](const std::string& definitions, const std::string& rest) {
    return R"({"TableName":"tbl",)" + table_keys + R"(,"AttributeDefinitions":)" + definitions +
           "," + rest + "}";
  };
  const std::string defs = DefinitionsJson({{"pk", "S"}, {"sk", "N"}, {"g", "S"}});
  auto gsi = [](const std::string& body) { return R"("GlobalSecondaryIndexes":[)" + body + "]"; };
  auto lsi = [](const std::string& body) { return R"("LocalSecondaryIndexes":[)" + body + "]"; };
  const std::string by_g = R"({"IndexName":"by-g","KeySchema":)" + KeySchemaJson("g") +
                           R"(,"Projection":{"ProjectionType":"ALL"}})";
  struct Case {
    std::string body;
    std::string message;
  };
  const Case cases[] = {
      {create(DefinitionsJson({{"pk", "S"}, {"sk", "N"}}), gsi(by_g)),
       "One or more parameter values were invalid: Some index key attributes are not defined in "
       "AttributeDefinitions. Keys: [g], AttributeDefinitions: [pk, sk]"},
      {create(DefinitionsJson({{"pk", "S"}, {"sk", "N"}, {"g", "S"}, {"x", "S"}}), gsi(by_g)),
       "One or more parameter values were invalid: Some AttributeDefinitions are not used. "
       "AttributeDefinitions: [pk, sk, g, x], keys used: [pk, sk, g]"},
      {create(defs, gsi("")),
       "One or more parameter values were invalid: List of GlobalSecondaryIndexes is empty"},
      {create(defs, gsi(by_g) + "," + lsi("")),
       "One or more parameter values were invalid: List of LocalSecondaryIndexes is empty"},
      {create(defs, gsi(by_g + "," + by_g)),
       "One or more parameter values were invalid: Duplicate index name: by-g"},
      // A local and a global index share one name space.
      {create(defs, gsi(by_g) + "," +
                        lsi(R"({"IndexName":"by-g","KeySchema":)" + KeySchemaJson("pk", "g") +
                            R"(,"Projection":{"ProjectionType":"ALL"}})")),
       "One or more parameter values were invalid: Duplicate index name: by-g"},
      {R"({"TableName":"tbl","KeySchema":)" + KeySchemaJson("pk") + R"(,"AttributeDefinitions":)" +
           DefinitionsJson({{"pk", "S"}, {"g", "S"}}) + "," +
           lsi(R"({"IndexName":"by-g","KeySchema":)" + KeySchemaJson("pk", "g") +
               R"(,"Projection":{"ProjectionType":"ALL"}})") +
           "}",
       "One or more parameter values were invalid: Table KeySchema does not have a range key, "
       "which is required when specifying a LocalSecondaryIndex"},
      {create(defs, lsi(R"({"IndexName":"by-g","KeySchema":)" + KeySchemaJson("g", "sk") +
                        R"(,"Projection":{"ProjectionType":"ALL"}})")),
       "Index KeySchema does not have the same leading hash key as table KeySchema for index: "
       "by-g"},
      {create(defs, gsi(R"({"IndexName":"by-g","KeySchema":)" + KeySchemaJson("g") + "}")),
       "1 validation error detected: Value null at 'globalSecondaryIndexes.1.member.projection' "
       "failed to satisfy constraint: Member must not be null"},
      {create(defs, gsi(R"({"IndexName":"by-g","KeySchema":)" + KeySchemaJson("g") +
                        R"(,"Projection":{}})")),
       "One or more parameter values were invalid: Unknown ProjectionType: null"},
      {create(defs, gsi(R"({"IndexName":"by-g","KeySchema":)" + KeySchemaJson("g") +
                        R"(,"Projection":{"ProjectionType":"SOME"}})")),
       "Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]"},
      {create(defs, gsi(R"({"IndexName":"by-g","KeySchema":)" + KeySchemaJson("g") +
                        R"(,"Projection":{"ProjectionType":"INCLUDE"}})")),
       "One or more parameter values were invalid: ProjectionType is INCLUDE, but "
       "NonKeyAttributes is not specified"},
      {create(defs,
              gsi(R"({"IndexName":"by-g","KeySchema":)" + KeySchemaJson("g") +
                  R"(,"Projection":{"ProjectionType":"KEYS_ONLY","NonKeyAttributes":["a"]}})")),
       "One or more parameter values were invalid: ProjectionType is KEYS_ONLY, but "
       "NonKeyAttributes is specified"},
      {create(defs, gsi(R"({"IndexName":"by-g","KeySchema":)" + KeySchemaJson("g") +
                        R"(,"Projection":{"ProjectionType":"INCLUDE","NonKeyAttributes":[]}})")),
       "Value '[]' at 'globalSecondaryIndexes.1.member.projection.nonKeyAttributes' failed to "
       "satisfy constraint: Member must have length greater than or equal to 1"},
      {create(defs, gsi(R"({"IndexName":"by g","KeySchema":)" + KeySchemaJson("g") +
                        R"(,"Projection":{"ProjectionType":"ALL"}})")),
       "Value 'by g' at 'globalSecondaryIndexes.1.member.indexName' failed to satisfy "
       "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"},
      {create(defs, gsi(R"({"IndexName":"by-g","KeySchema":[{"AttributeName":"g",)"
                        R"("KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}})")),
       "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"},
      {create(defs, gsi(R"({"IndexName":"by-g","KeySchema":)" + KeySchemaJson("g", "g") +
                        R"(,"Projection":{"ProjectionType":"ALL"}})")),
       "Both the Hash Key and the Range Key element in the KeySchema have the same name"},
      {create(defs, gsi(R"({"IndexName":"by-g","Projection":{"ProjectionType":"ALL"}})")),
       "Value null at 'globalSecondaryIndexes.1.member.keySchema'"},
  };
  for (const Case& c : cases) {
    std::string message = Fails("CreateTable", c.body, "ValidationException");
    EXPECT_NE(std::string::npos, message.find(c.message)) << c.body << " -> " << message;
  }
  Fails("CreateTable", create(defs, R"("GlobalSecondaryIndexes":{})"), "SerializationException");
  EXPECT_EQ(0u, Size(Ok("ListTables", "{}"), "TableNames"));
}

TEST_F(DynamoDbApiIndexTest, QueryReadsAnIndexInIndexOrderWithItsProjection) {
  Ok("CreateTable", CreateScoresBody());
  PutScores();
  // KEYS_ONLY: the table's and the index's keys; equal index keys in table
  // key order; items without tier (u1/go) or score (u5/go) are not there.
  const std::string by_tier = R"({"TableName":"scores","IndexName":"by-tier",)"
                              R"("KeyConditionExpression":"tier = :l",)" +
                              gold_;
  rapidjson::Document d = Ok("Query", by_tier + "}");
  EXPECT_EQ((std::vector<std::string>{"u2/chess", "u4/chess", "u1/chess"}), ItemKeys(d));
  EXPECT_EQ((std::vector<std::string>{"game", "score", "tier", "user"}),
            AttributeNames(d, "Items.2"));
  EXPECT_EQ(3, Int(d, "Count"));
  EXPECT_EQ(3, Int(d, "ScannedCount"));
  EXPECT_FALSE(Has(d, "LastEvaluatedKey"));
  // ALL_PROJECTED_ATTRIBUTES is the default for an index.
  d = Ok("Query", by_tier + R"(,"Select":"ALL_PROJECTED_ATTRIBUTES"})");
  EXPECT_EQ(4u, Size(d, "Items.0"));
  d = Ok("Query", by_tier + R"(,"ScanIndexForward":false})");
  ASSERT_EQ(3u, Size(d, "Items"));
  EXPECT_EQ("30", Str(d, "Items.0.score.N"));
  EXPECT_EQ("10", Str(d, "Items.2.score.N"));

  // Pages of one: each LastEvaluatedKey holds the table's and the index's
  // keys, and the pages together are the whole answer, in order.
  EXPECT_EQ((std::vector<std::string>{"u2/chess", "u4/chess", "u1/chess"}),
            AllPages("Query", by_tier + R"(,"Limit":1)", {"game", "score", "tier", "user"}));

  // INCLUDE: keys and the listed attributes; a key condition on the index's
  // sort key.
  d = Ok("Query", R"({"TableName":"scores","IndexName":"by-game",)"
                  R"("KeyConditionExpression":"game = :g AND score BETWEEN :lo AND :hi",)"
                  R"("ExpressionAttributeValues":{":g":{"S":"chess"},":lo":{"N":"15"},)"
                  R"(":hi":{"N":"30"}}})");
  EXPECT_EQ((std::vector<std::string>{"u3/chess", "u1/chess"}), ItemKeys(d));
  EXPECT_EQ((std::vector<std::string>{"game", "note", "score", "user"}),
            AttributeNames(d, "Items.1"));

  // ALL, without a sort key: whole items, in table key order.
  d = Ok("Query", R"({"TableName":"scores","IndexName":"everything",)"
                  R"("KeyConditionExpression":"tier = :l","Select":"ALL_ATTRIBUTES",)" +
                      gold_ + "}");
  EXPECT_EQ((std::vector<std::string>{"u1/chess", "u2/chess", "u4/chess", "u5/go"}), ItemKeys(d));
  EXPECT_EQ("x", Str(d, "Items.0.extra.S"));

  // A local index: ConsistentRead is allowed, and ALL_ATTRIBUTES reads whole
  // items through a KEYS_ONLY projection.
  const std::string by_user = R"({"TableName":"scores","IndexName":"by-user-score",)"
                              R"("KeyConditionExpression":"#u = :u","ConsistentRead":true,)"
                              R"("ExpressionAttributeNames":{"#u":"user"},)"
                              R"("ExpressionAttributeValues":{":u":{"S":"u1"}})";
  d = Ok("Query", by_user + "}");
  EXPECT_EQ((std::vector<std::string>{"u1/go", "u1/chess"}), ItemKeys(d));
  EXPECT_EQ((std::vector<std::string>{"game", "score", "user"}), AttributeNames(d, "Items.1"));
  d = Ok("Query", by_user + R"(,"Select":"ALL_ATTRIBUTES"})");
  EXPECT_EQ("x", Str(d, "Items.1.extra.S"));
  EXPECT_EQ("n5", Str(d, "Items.0.note.S"));
}

TEST_F(DynamoDbApiIndexTest, IndexReadErrors) {
  Ok("CreateTable", CreateScoresBody());
  PutScores();
  const std::string by_tier = R"({"TableName":"scores","IndexName":"by-tier",)"
                              R"("KeyConditionExpression":"tier = :l",)" +
                              gold_;
  EXPECT_EQ("Consistent reads are not supported on global secondary indexes",
            Fails("Query", by_tier + R"(,"ConsistentRead":true})", "ValidationException"));
  EXPECT_EQ("Consistent reads are not supported on global secondary indexes",
            Fails("Scan",
                  R"({"TableName":"scores","IndexName":"everything",)"
                  R"("ConsistentRead":true})",
                  "ValidationException"));
  // A KEYS_ONLY global index cannot give whole items (a local one can).
  std::string message =
      Fails("Query", by_tier + R"(,"Select":"ALL_ATTRIBUTES"})", "ValidationException");
  EXPECT_NE(std::string::npos, message.find("ALL_ATTRIBUTES")) << message;
  Fails("Scan", R"({"TableName":"scores","IndexName":"by-game","Select":"ALL_ATTRIBUTES"})",
        "ValidationException");
  EXPECT_EQ(
      "One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is allowed "
      "only when querying a secondary index",
      Fails("Query",
            R"({"TableName":"scores","KeyConditionExpression":"#u = :u",)"
            R"("ExpressionAttributeNames":{"#u":"user"},"Select":"ALL_PROJECTED_ATTRIBUTES",)"
            R"("ExpressionAttributeValues":{":u":{"S":"u1"}}})",
            "ValidationException"));
  Fails("Scan", R"({"TableName":"scores","Select":"ALL_PROJECTED_ATTRIBUTES"})",
        "ValidationException");
  EXPECT_EQ("Cannot specify the ProjectionExpression when choosing to get ALL_PROJECTED_ATTRIBUTES",
            Fails("Query",
                  by_tier + R"(,"Select":"ALL_PROJECTED_ATTRIBUTES",)" +
                      R"("ProjectionExpression":"score"})",
                  "ValidationException"));
  for (std::string_view op : {"Query", "Scan"}) {
    // With and without ConsistentRead (which makes the API look the index up
    // itself) the answer is the same.
    for (std::string_view consistent : {"false", "true"}) {
      EXPECT_EQ("The table does not have the specified index: nope",
                Fails(op,
                      R"({"TableName":"scores","IndexName":"nope","ConsistentRead":)" +
                          std::string(consistent) + R"(,")" +
                          (op == "Query" ? "KeyConditionExpression" : "FilterExpression") +
                          R"(":"tier = :l",)" + gold_ + "}",
                      "ValidationException"));
    }
  }
  EXPECT_NE(std::string::npos, Fails("Query",
                                     R"({"TableName":"scores","IndexName":"ab",)"
                                     R"("KeyConditionExpression":"tier = :l",)" +
                                         gold_ + "}",
                                     "ValidationException")
                                   .find("Value 'ab' at 'indexName' failed to satisfy constraint"));
  Fails("Query",
        R"({"TableName":"nothere","IndexName":"by-tier","ConsistentRead":true,)"
        R"("KeyConditionExpression":"tier = :l",)" +
            gold_ + "}",
        "ResourceNotFoundException");

  // A write whose index key attribute has the wrong type is refused whole.
  Fails("PutItem",
        R"({"TableName":"scores","Item":{"user":{"S":"u9"},"game":{"S":"go"},)"
        R"("tier":{"N":"1"}}})",
        "ValidationException");
  EXPECT_EQ(0u, Size(Ok("GetItem", R"({"TableName":"scores","Key":{"user":{"S":"u9"},)"
                                   R"("game":{"S":"go"}}})"),
                     ""));
}

TEST_F(DynamoDbApiIndexTest, ScanReadsOnlyTheIndexedItems) {
  Ok("CreateTable", CreateScoresBody());
  PutScores();
  rapidjson::Document d = Ok("Scan", R"({"TableName":"scores","IndexName":"by-tier"})");
  EXPECT_EQ(4, Int(d, "Count"));
  std::vector<std::string> keys = ItemKeys(d);
  EXPECT_EQ((std::multiset<std::string>{"u1/chess", "u2/chess", "u3/chess", "u4/chess"}),
            std::multiset<std::string>(keys.begin(), keys.end()));
  EXPECT_EQ(4u, Size(d, "Items.0"));  // KEYS_ONLY

  std::vector<std::string> paged =
      AllPages("Scan", R"({"TableName":"scores","IndexName":"everything","Limit":2)",
               {"game", "tier", "user"});
  EXPECT_EQ((std::multiset<std::string>{"u1/chess", "u2/chess", "u3/chess", "u4/chess", "u5/go"}),
            std::multiset<std::string>(paged.begin(), paged.end()));

  d = Ok("Scan", R"({"TableName":"scores","IndexName":"by-game","Select":"COUNT"})");
  EXPECT_EQ(5, Int(d, "Count"));
  EXPECT_FALSE(Has(d, "Items"));
  d = Ok("Scan", R"({"TableName":"scores","IndexName":"by-game","FilterExpression":"note = :n",)"
                 R"("ExpressionAttributeValues":{":n":{"S":"n3"}}})");
  EXPECT_EQ((std::vector<std::string>{"u3/chess"}), ItemKeys(d));
  EXPECT_EQ(5, Int(d, "ScannedCount"));
}

// ReturnConsumedCapacity: an index read is charged to the index, and INDEXES
// names it under its kind.
TEST_F(DynamoDbApiIndexTest, IndexReadsAreChargedToTheIndex) {
  Ok("CreateTable", CreateScoresBody());
  PutScores();
  rapidjson::Document d =
      Ok("Query", R"({"TableName":"scores","IndexName":"by-tier","ReturnConsumedCapacity":)"
                  R"("INDEXES","KeyConditionExpression":"tier = :l",)" +
                      gold_ + "}");
  EXPECT_EQ("scores", Str(d, "ConsumedCapacity.TableName"));
  EXPECT_EQ(0.5, Number(d, "ConsumedCapacity.CapacityUnits"));
  EXPECT_EQ(0.5, Number(d, "ConsumedCapacity.ReadCapacityUnits"));
  EXPECT_EQ(0.0, Number(d, "ConsumedCapacity.Table.CapacityUnits"));
  EXPECT_EQ(0.5, Number(d, "ConsumedCapacity.GlobalSecondaryIndexes.by-tier.CapacityUnits"));
  EXPECT_EQ(0.5, Number(d, "ConsumedCapacity.GlobalSecondaryIndexes.by-tier.ReadCapacityUnits"));
  EXPECT_FALSE(Has(d, "ConsumedCapacity.LocalSecondaryIndexes"));

  d = Ok("Query", R"({"TableName":"scores","IndexName":"by-user-score","ConsistentRead":true,)"
                  R"("ReturnConsumedCapacity":"INDEXES","KeyConditionExpression":"#u = :u",)"
                  R"("ExpressionAttributeNames":{"#u":"user"},)"
                  R"("ExpressionAttributeValues":{":u":{"S":"u1"}}})");
  EXPECT_EQ(1.0, Number(d, "ConsumedCapacity.CapacityUnits"));
  EXPECT_EQ(1.0, Number(d, "ConsumedCapacity.LocalSecondaryIndexes.by-user-score.CapacityUnits"));
  EXPECT_FALSE(Has(d, "ConsumedCapacity.GlobalSecondaryIndexes"));

  // TOTAL: the sum only.
  d = Ok("Scan", R"({"TableName":"scores","IndexName":"everything",)"
                 R"("ReturnConsumedCapacity":"TOTAL"})");
  EXPECT_EQ(0.5, Number(d, "ConsumedCapacity.CapacityUnits"));
  EXPECT_FALSE(Has(d, "ConsumedCapacity.Table"));
  EXPECT_FALSE(Has(d, "ConsumedCapacity.GlobalSecondaryIndexes"));
}

// ReturnConsumedCapacity of writes: each index entry a write changes is
// charged to its index, as DynamoDB charges it (a put or delete of the entry
// one unit per KB, a move two); an entry left as it was costs nothing.
TEST_F(DynamoDbApiIndexTest, IndexWritesAreChargedToTheirIndexes) {
  Ok("CreateTable", CreateScoresBody());
  const std::string key = R"("Key":{"user":{"S":"u9"},"game":{"S":"chess"}})";
  auto gsi = [](const rapidjson::Value& d, const std::string& index) {
    return Number(d, "ConsumedCapacity.GlobalSecondaryIndexes." + index + ".CapacityUnits");
  };
  // A new item in all four indexes.
  rapidjson::Document d =
      Ok("PutItem", R"({"TableName":"scores","ReturnConsumedCapacity":"INDEXES","Item":{)"
                    R"("user":{"S":"u9"},"game":{"S":"chess"},"score":{"N":"40"},)"
                    R"("tier":{"S":"gold"},"note":{"S":"n"}}})");
  EXPECT_EQ(5.0, Number(d, "ConsumedCapacity.CapacityUnits"));
  EXPECT_EQ(5.0, Number(d, "ConsumedCapacity.WriteCapacityUnits"));
  EXPECT_EQ(1.0, Number(d, "ConsumedCapacity.Table.CapacityUnits"));
  EXPECT_EQ(1.0, gsi(d, "by-tier"));
  EXPECT_EQ(1.0, gsi(d, "by-game"));
  EXPECT_EQ(1.0, gsi(d, "everything"));
  EXPECT_EQ(1.0, Number(d, "ConsumedCapacity.LocalSecondaryIndexes.by-user-score.CapacityUnits"));
  // An attribute only the ALL index projects.
  d = Ok("UpdateItem", R"({"TableName":"scores","ReturnConsumedCapacity":"INDEXES",)" + key +
                           R"(,"UpdateExpression":"SET extra = :x",)"
                           R"("ExpressionAttributeValues":{":x":{"S":"x"}}})");
  EXPECT_EQ(2.0, Number(d, "ConsumedCapacity.CapacityUnits"));
  EXPECT_EQ(1.0, gsi(d, "everything"));
  EXPECT_FALSE(Has(d, "ConsumedCapacity.GlobalSecondaryIndexes.by-tier"));
  EXPECT_FALSE(Has(d, "ConsumedCapacity.LocalSecondaryIndexes"));
  // A key attribute of three indexes: their entries move (two writes each).
  d = Ok("UpdateItem", R"({"TableName":"scores","ReturnConsumedCapacity":"INDEXES",)" + key +
                           R"(,"UpdateExpression":"SET score = :s",)"
                           R"("ExpressionAttributeValues":{":s":{"N":"50"}}})");
  EXPECT_EQ(8.0, Number(d, "ConsumedCapacity.CapacityUnits"));
  EXPECT_EQ(2.0, gsi(d, "by-tier"));
  EXPECT_EQ(2.0, gsi(d, "by-game"));
  EXPECT_EQ(1.0, gsi(d, "everything"));
  EXPECT_EQ(2.0, Number(d, "ConsumedCapacity.LocalSecondaryIndexes.by-user-score.CapacityUnits"));
  // TOTAL: the same sum, without the parts.
  d = Ok("DeleteItem", R"({"TableName":"scores","ReturnConsumedCapacity":"TOTAL",)" + key + "}");
  EXPECT_EQ(5.0, Number(d, "ConsumedCapacity.CapacityUnits"));
  EXPECT_FALSE(Has(d, "ConsumedCapacity.GlobalSecondaryIndexes"));

  // Batches per item; transactions double.
  d = Ok("BatchWriteItem", R"({"ReturnConsumedCapacity":"INDEXES","RequestItems":{"scores":[)"
                           R"({"PutRequest":{"Item":{"user":{"S":"u7"},"game":{"S":"go"}}}},)"
                           R"({"PutRequest":{"Item":{"user":{"S":"u6"},"game":{"S":"go"},)"
                           R"("tier":{"S":"gold"}}}}]}})");
  EXPECT_EQ(3.0, Number(d, "ConsumedCapacity.0.CapacityUnits"));
  EXPECT_EQ(1.0, Number(d, "ConsumedCapacity.0.GlobalSecondaryIndexes.everything.CapacityUnits"));
  d = Ok("TransactWriteItems",
         R"({"ReturnConsumedCapacity":"INDEXES","TransactItems":[{"Put":{"TableName":"scores",)"
         R"("Item":{"user":{"S":"u8"},"game":{"S":"go"},"tier":{"S":"silver"}}}}]})");
  EXPECT_EQ(4.0, Number(d, "ConsumedCapacity.0.CapacityUnits"));
  EXPECT_EQ(2.0, Number(d, "ConsumedCapacity.0.Table.CapacityUnits"));
  EXPECT_EQ(2.0, Number(d, "ConsumedCapacity.0.GlobalSecondaryIndexes.everything.CapacityUnits"));
}

// ReturnItemCollectionMetrics=SIZE: for a table with local indexes, the
// collection (partition key value) each write touched, with its size in GB.
TEST_F(DynamoDbApiIndexTest, ItemCollectionMetricsForTablesWithLocalIndexes) {
  Ok("CreateTable", CreateScoresBody());
  CreateTable("users");  // no local index
  rapidjson::Document d =
      Ok("PutItem", R"({"TableName":"scores","ReturnItemCollectionMetrics":"SIZE","Item":{)"
                    R"("user":{"S":"u9"},"game":{"S":"chess"},"score":{"N":"40"}}})");
  EXPECT_EQ(1u, Size(d, "ItemCollectionMetrics.ItemCollectionKey"));
  EXPECT_EQ("u9", Str(d, "ItemCollectionMetrics.ItemCollectionKey.user.S"));
  ASSERT_EQ(2u, Size(d, "ItemCollectionMetrics.SizeEstimateRangeGB"));
  EXPECT_EQ(0.0, Number(d, "ItemCollectionMetrics.SizeEstimateRangeGB.0"));
  EXPECT_EQ(1.0, Number(d, "ItemCollectionMetrics.SizeEstimateRangeGB.1"));
  d = Ok("UpdateItem", R"({"TableName":"scores","ReturnItemCollectionMetrics":"SIZE",)"
                       R"("ReturnValues":"ALL_NEW","UpdateExpression":"SET score = :s",)"
                       R"("ExpressionAttributeValues":{":s":{"N":"41"}},)"
                       R"("Key":{"user":{"S":"u9"},"game":{"S":"chess"}}})");
  EXPECT_EQ("41", Str(d, "Attributes.score.N"));
  EXPECT_EQ("u9", Str(d, "ItemCollectionMetrics.ItemCollectionKey.user.S"));
  d = Ok("DeleteItem", R"({"TableName":"scores","ReturnItemCollectionMetrics":"SIZE",)"
                       R"("Key":{"user":{"S":"u9"},"game":{"S":"chess"}}})");
  EXPECT_EQ("u9", Str(d, "ItemCollectionMetrics.ItemCollectionKey.user.S"));
  // NONE, or a table without local indexes: none.
  d = Ok("PutItem", R"({"TableName":"scores","ReturnItemCollectionMetrics":"NONE","Item":{)"
                    R"("user":{"S":"u9"},"game":{"S":"go"}}})");
  EXPECT_FALSE(Has(d, "ItemCollectionMetrics"));
  d = Ok("PutItem", R"({"TableName":"users","ReturnItemCollectionMetrics":"SIZE",)"
                    R"("Item":{"pk":{"S":"a"}}})");
  EXPECT_FALSE(Has(d, "ItemCollectionMetrics"));

  // Batches and transactions: per table, one entry per collection.
  d = Ok("BatchWriteItem", R"({"ReturnItemCollectionMetrics":"SIZE","RequestItems":{"scores":[)"
                           R"({"PutRequest":{"Item":{"user":{"S":"u7"},"game":{"S":"go"}}}},)"
                           R"({"PutRequest":{"Item":{"user":{"S":"u7"},"game":{"S":"chess"}}}},)"
                           R"({"DeleteRequest":{"Key":{"user":{"S":"u9"},"game":{"S":"go"}}}}],)"
                           R"("users":[{"PutRequest":{"Item":{"pk":{"S":"b"}}}}]}})");
  ASSERT_EQ(1u, Size(d, "ItemCollectionMetrics"));  // users has no local index
  ASSERT_EQ(2u, Size(d, "ItemCollectionMetrics.scores"));
  EXPECT_EQ("u7", Str(d, "ItemCollectionMetrics.scores.0.ItemCollectionKey.user.S"));
  EXPECT_EQ("u9", Str(d, "ItemCollectionMetrics.scores.1.ItemCollectionKey.user.S"));
  EXPECT_EQ(0u, Size(d, "UnprocessedItems"));
  d = Ok("TransactWriteItems",
         R"({"ReturnItemCollectionMetrics":"SIZE","TransactItems":[{"Put":{"TableName":"scores",)"
         R"("Item":{"user":{"S":"u8"},"game":{"S":"go"}}}},{"ConditionCheck":{)"
         R"("TableName":"scores","Key":{"user":{"S":"u7"},"game":{"S":"go"}},)"
         R"js("ConditionExpression":"attribute_exists(game)"}}]})js");
  ASSERT_EQ(1u, Size(d, "ItemCollectionMetrics.scores"));
  EXPECT_EQ("u8", Str(d, "ItemCollectionMetrics.scores.0.ItemCollectionKey.user.S"));
  EXPECT_EQ(1.0, Number(d, "ItemCollectionMetrics.scores.0.SizeEstimateRangeGB.1"));
}

// A store whose map cannot grow past 3 MiB, so that filling an index of a
// few MB of items runs out of room part-way and the index stays CREATING.
class DynamoDbApiSmallMapTest : public DynamoDbApiTest {
 protected:
  void SetUp() override {
    store::StoreOptions options;
    options.path = dir_.Sub("small");
    options.sync = false;
    options.clock = &clock_;
    options.initial_map_size = 1 << 20;
    options.max_map_size = 3 << 20;
    auto store = store::ItemStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    api_ = std::make_unique<DynamoDbApi>(*store_, DynamoDbApiOptions{});
  }
};

TEST_F(DynamoDbApiSmallMapTest, AGlobalIndexThatDoesNotFitStaysCreatingAndUnreadable) {
  CreateTable("orders");
  const std::string padding(4000, 'x');
  for (int i = 0; i < 400; ++i) {
    Put("orders", R"({"pk":{"S":"o)" + std::to_string(i) + R"("},"status":{"S":"s)" +
                      std::to_string(i % 3) + R"("},"pad":{"S":")" + padding + R"("}})");
  }
  // UpdateTable answers at once, the index CREATING; its fill then runs out
  // of map and leaves it so (until a restart with more room finishes it).
  rapidjson::Document updated =
      Ok("UpdateTable", R"({"TableName":"orders","AttributeDefinitions":)"
                        R"([{"AttributeName":"status","AttributeType":"S"}],)"
                        R"("GlobalSecondaryIndexUpdates":[{"Create":{"IndexName":"by-status",)"
                        R"("KeySchema":[{"AttributeName":"status","KeyType":"HASH"}],)"
                        R"("Projection":{"ProjectionType":"ALL"}}}]})");
  EXPECT_EQ("CREATING", Str(updated, "TableDescription.GlobalSecondaryIndexes.0.IndexStatus"));
  rapidjson::Document d = Ok("DescribeTable", R"({"TableName":"orders"})");
  const std::string index = "Table.GlobalSecondaryIndexes.0.";
  EXPECT_EQ("by-status", Str(d, index + "IndexName"));
  EXPECT_EQ("CREATING", Str(d, index + "IndexStatus"));
  ASSERT_TRUE(Has(d, index + "Backfilling"));
  EXPECT_TRUE(At(d, index + "Backfilling")->GetBool());
  ApiResponse query = Call(
      "Query", R"({"TableName":"orders","IndexName":"by-status",)"
               R"("KeyConditionExpression":"#s = :s","ExpressionAttributeNames":{"#s":"status"},)"
               R"("ExpressionAttributeValues":{":s":{"S":"s1"}}})");
  EXPECT_EQ(400, query.http_status);
  EXPECT_EQ("ValidationException", ErrorName(query));
  EXPECT_EQ("Cannot read from backfilling global secondary index: by-status", ErrorMessage(query));
}

TEST_F(DynamoDbApiIndexTest, UpdateTableCreatesUpdatesAndDeletesGlobalIndexes) {
  CreateTable("orders", /*sort=*/true);
  Put("orders", R"({"pk":{"S":"a"},"sk":{"N":"1"},"status":{"S":"open"}})");
  Put("orders", R"({"pk":{"S":"a"},"sk":{"N":"2"},"status":{"S":"closed"}})");
  Put("orders", R"({"pk":{"S":"b"},"sk":{"N":"1"},"status":{"S":"open"}})");
  Put("orders", R"({"pk":{"S":"b"},"sk":{"N":"2"}})");
  // The index's sort key is the table's: its type is known, so only the new
  // attribute needs a definition.
  const std::string create_by_status = R"({"Create":{"IndexName":"by-status","KeySchema":)" +
                                       KeySchemaJson("status", "sk") +
                                       R"(,"Projection":{"ProjectionType":"ALL"}}})";
  rapidjson::Document d =
      Ok("UpdateTable", R"({"TableName":"orders","AttributeDefinitions":)" +
                            DefinitionsJson({{"status", "S"}}) +
                            R"(,"GlobalSecondaryIndexUpdates":[)" + create_by_status + "]}");
  // UpdateTable answers at once with the index CREATING, as DynamoDB; it
  // turns ACTIVE once it holds the items that were there.
  const std::string index = "TableDescription.GlobalSecondaryIndexes.0.";
  EXPECT_EQ("by-status", Str(d, index + "IndexName"));
  EXPECT_EQ("CREATING", Str(d, index + "IndexStatus"));
  EXPECT_TRUE(At(d, index + "Backfilling")->GetBool());
  EXPECT_EQ(3u, Size(d, "TableDescription.AttributeDefinitions"));
  EXPECT_EQ("status", Str(d, "TableDescription.AttributeDefinitions.2.AttributeName"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  rapidjson::Document described = Ok("DescribeTable", R"({"TableName":"orders"})");
  while (Str(described, "Table.GlobalSecondaryIndexes.0.IndexStatus") != "ACTIVE" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    described = Ok("DescribeTable", R"({"TableName":"orders"})");
  }
  EXPECT_EQ("ACTIVE", Str(described, "Table.GlobalSecondaryIndexes.0.IndexStatus"));
  EXPECT_FALSE(Has(described, "Table.GlobalSecondaryIndexes.0.Backfilling"));
  EXPECT_EQ(3, Int(described, "Table.GlobalSecondaryIndexes.0.ItemCount"));

  const std::string open_orders = R"({"TableName":"orders","IndexName":"by-status",)"
                                  R"("KeyConditionExpression":"#s = :s",)"
                                  R"("ExpressionAttributeNames":{"#s":"status"},)"
                                  R"("ExpressionAttributeValues":{":s":{"S":"open"}}})";
  auto open_keys = [&]() {
    std::vector<std::string> keys;
    rapidjson::Document q = Ok("Query", open_orders);
    for (size_t i = 0; i < Size(q, "Items"); ++i) {
      keys.push_back(Str(q, "Items." + std::to_string(i) + ".pk.S") + "/" +
                     Str(q, "Items." + std::to_string(i) + ".sk.N"));
    }
    return keys;
  };
  EXPECT_EQ((std::vector<std::string>{"a/1", "b/1"}), open_keys());
  // Writes after the build keep it up to date.
  Put("orders", R"({"pk":{"S":"c"},"sk":{"N":"0"},"status":{"S":"open"}})");
  Put("orders", R"({"pk":{"S":"a"},"sk":{"N":"1"},"status":{"S":"closed"}})");
  EXPECT_EQ((std::vector<std::string>{"c/0", "b/1"}), open_keys());

  auto update = [](const std::string& rest) { return R"({"TableName":"orders",)" + rest + "}"; };
  auto index_updates = [&](const std::string& list) {
    return update(R"("GlobalSecondaryIndexUpdates":[)" + list + "]");
  };
  const std::string create_by_region = R"({"Create":{"IndexName":"by-region","KeySchema":)" +
                                       KeySchemaJson("region") +
                                       R"(,"Projection":{"ProjectionType":"KEYS_ONLY"}}})";
  const std::string region_defs =
      R"("AttributeDefinitions":)" + DefinitionsJson({{"region", "S"}}) + ",";
  struct Case {
    std::string body;
    std::string error;
    std::string message;
  };
  const Case cases[] = {
      {update(region_defs + R"("GlobalSecondaryIndexUpdates":[)" + create_by_region + "," +
              R"({"Create":{"IndexName":"by-x","KeySchema":)" + KeySchemaJson("region") +
              R"(,"Projection":{"ProjectionType":"ALL"}}}])"),
       "ValidationException",
       "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously "
       "per table"},
      {update(region_defs + R"("GlobalSecondaryIndexUpdates":[)" + create_by_region +
              R"(,{"Delete":{"IndexName":"by-status"}}])"),
       "ValidationException", "Subscriber limit exceeded"},
      {index_updates(R"({"Delete":{"IndexName":"by-status"}},)"
                     R"({"Update":{"IndexName":"by-status","ProvisionedThroughput":)"
                     R"({"ReadCapacityUnits":1,"WriteCapacityUnits":1}}})"),
       "ValidationException",
       "One or more parameter values were invalid: Only one global secondary index update per "
       "index is allowed simultaneously. Index: by-status"},
      {index_updates(create_by_region), "ValidationException",
       "One or more parameter values were invalid: Some index key attributes are not defined in "
       "AttributeDefinitions. Keys: [region], AttributeDefinitions: []"},
      {update(R"("AttributeDefinitions":)" + DefinitionsJson({{"region", "S"}, {"other", "S"}}) +
              R"(,"GlobalSecondaryIndexUpdates":[)" + create_by_region + "]"),
       "ValidationException",
       "One or more parameter values were invalid: Some AttributeDefinitions are not used. "
       "AttributeDefinitions: [region, other], keys used: [pk, sk, status, region]"},
      // A key attribute keeps its type.
      {update(R"("AttributeDefinitions":)" + DefinitionsJson({{"region", "S"}, {"sk", "S"}}) +
              R"(,"GlobalSecondaryIndexUpdates":[)" + create_by_region + "]"),
       "ValidationException", "AttributeDefinitions gives attribute sk the type S"},
      {index_updates("{}"), "ValidationException",
       "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, "
       "GlobalSecondaryIndexUpdate.Delete must not be null"},
      {index_updates(R"({"Update":{"IndexName":"by-status"}})"), "ValidationException",
       "Value null at 'globalSecondaryIndexUpdates.1.member.update.provisionedThroughput'"},
      // An on-demand table's index takes no capacity units.
      {index_updates(R"({"Update":{"IndexName":"by-status","ProvisionedThroughput":)"
                     R"({"ReadCapacityUnits":1,"WriteCapacityUnits":1}}})"),
       "ValidationException", "ProvisionedThroughput should not be specified for index"},
      {index_updates(R"({"Delete":{"IndexName":"nope"}})"), "ResourceNotFoundException", "nope"},
      {update(R"("BillingMode":"PROVISIONED","ProvisionedThroughput":{"ReadCapacityUnits":1,)"
              R"("WriteCapacityUnits":1})"),
       "ValidationException", "by-status"},
  };
  for (const Case& c : cases) {
    std::string message = Fails("UpdateTable", c.body, c.error);
    EXPECT_NE(std::string::npos, message.find(c.message)) << c.body << " -> " << message;
  }
  d = Ok("DescribeTable", R"({"TableName":"orders"})");
  EXPECT_EQ(1u, Size(d, "Table.GlobalSecondaryIndexes"));
  EXPECT_EQ("PAY_PER_REQUEST", Str(d, "Table.BillingModeSummary.BillingMode"));

  // To PROVISIONED with the index's units in the same call, then new units,
  // then back to on demand, which zeroes them.
  d = Ok("UpdateTable",
         update(R"("BillingMode":"PROVISIONED","ProvisionedThroughput":{"ReadCapacityUnits":1,)"
                R"("WriteCapacityUnits":1},"GlobalSecondaryIndexUpdates":[{"Update":{)"
                R"("IndexName":"by-status","ProvisionedThroughput":{"ReadCapacityUnits":2,)"
                R"("WriteCapacityUnits":3}}}])"));
  EXPECT_EQ(2, Int(d, index + "ProvisionedThroughput.ReadCapacityUnits"));
  EXPECT_EQ(3, Int(d, index + "ProvisionedThroughput.WriteCapacityUnits"));
  d = Ok("UpdateTable", index_updates(R"({"Update":{"IndexName":"by-status",)"
                                      R"("ProvisionedThroughput":{"ReadCapacityUnits":5,)"
                                      R"("WriteCapacityUnits":6}}})"));
  EXPECT_EQ(5, Int(d, index + "ProvisionedThroughput.ReadCapacityUnits"));
  EXPECT_EQ(6, Int(d, index + "ProvisionedThroughput.WriteCapacityUnits"));
  Fails("UpdateTable",
        index_updates(R"({"Update":{"IndexName":"nope","ProvisionedThroughput":)"
                      R"({"ReadCapacityUnits":5,"WriteCapacityUnits":6}}})"),
        "ResourceNotFoundException");
  // A new index of a provisioned table needs its units.
  Fails("UpdateTable",
        update(region_defs + R"("GlobalSecondaryIndexUpdates":[)" + create_by_region + "]"),
        "ValidationException");
  d = Ok("UpdateTable", update(R"("BillingMode":"PAY_PER_REQUEST")"));
  EXPECT_EQ(0, Int(d, index + "ProvisionedThroughput.ReadCapacityUnits"));
  EXPECT_EQ(0, Int(d, index + "ProvisionedThroughput.WriteCapacityUnits"));

  // After a restart the index is still there and up to date.
  Reopen();
  EXPECT_EQ((std::vector<std::string>{"c/0", "b/1"}), open_keys());

  d = Ok("UpdateTable", index_updates(R"({"Delete":{"IndexName":"by-status"}})"));
  EXPECT_FALSE(Has(d, "TableDescription.GlobalSecondaryIndexes"));
  EXPECT_EQ(2u, Size(d, "TableDescription.AttributeDefinitions"));
  EXPECT_EQ("The table does not have the specified index: by-status",
            Fails("Query", open_orders, "ValidationException"));
  EXPECT_EQ(5u, CountItems("orders"));  // the table's items stay
}

TEST_F(DynamoDbApiTest, BatchWriteItem) {
  CreateTable("users");
  CreateTable("other");
  Put("users", R"({"pk":{"S":"gone"}})");
  rapidjson::Document d = Ok("BatchWriteItem", R"({"RequestItems":{
      "users":[{"PutRequest":{"Item":{"pk":{"S":"a"}}}},{"PutRequest":{"Item":{"pk":{"S":"b"}}}},
               {"DeleteRequest":{"Key":{"pk":{"S":"gone"}}}}],
      "other":[{"PutRequest":{"Item":{"pk":{"S":"c"}}}}]}})");
  EXPECT_TRUE(Has(d, "UnprocessedItems"));
  EXPECT_EQ(0u, Size(d, "UnprocessedItems"));
  EXPECT_EQ(2u, CountItems("users"));
  EXPECT_EQ(1u, CountItems("other"));

  // Invalid batches write nothing at all.
  Fails("BatchWriteItem", R"({"RequestItems":{"users":[{"PutRequest":{"Item":{"pk":{"S":"x"}}},
        "DeleteRequest":{"Key":{"pk":{"S":"a"}}}}]}})",
        "ValidationException");
  Fails("BatchWriteItem", R"({"RequestItems":{"users":[{"PutRequest":{"Item":{"pk":{"S":"x"}}}},
        {"PutRequest":{"Item":{"nokey":{"S":"y"}}}}]}})",
        "ValidationException");
  Fails("BatchWriteItem", R"({"RequestItems":{"users":[{"PutRequest":{"Item":{"pk":{"S":"x"}}}}],
        "missing":[{"PutRequest":{"Item":{"pk":{"S":"x"}}}}]}})",
        "ResourceNotFoundException");
  std::string many = R"({"RequestItems":{"users":[)";
  for (int i = 0; i < 26; ++i) {
    many += (i > 0 ? "," : "") + std::string(R"({"PutRequest":{"Item":{"pk":{"S":"k)") +
            std::to_string(i) + R"("}}}})";
  }
  Fails("BatchWriteItem", many + "]}}", "ValidationException");
  Fails("BatchWriteItem", "{}", "ValidationException");
  Fails("BatchWriteItem", R"({"RequestItems":{"users":{}}})", "SerializationException");
  EXPECT_EQ(2u, CountItems("users"));
}

TEST_F(DynamoDbApiTest, BatchGetItem) {
  CreateTable("users");
  CreateTable("other");
  Put("users", R"({"pk":{"S":"a"},"v":{"N":"1"}})");
  Put("users", R"({"pk":{"S":"b"},"v":{"N":"2"}})");
  Put("other", R"({"pk":{"S":"c"}})");
  rapidjson::Document d = Ok("BatchGetItem", R"({"RequestItems":{
      "users":{"Keys":[{"pk":{"S":"a"}},{"pk":{"S":"b"}},{"pk":{"S":"zz"}}],
               "ProjectionExpression":"#v","ExpressionAttributeNames":{"#v":"v"}},
      "other":{"Keys":[{"pk":{"S":"c"}}],"ConsistentRead":true}}})");
  EXPECT_EQ(2u, Size(d, "Responses.users"));
  EXPECT_EQ(1u, Size(d, "Responses.users.0"));  // projected to v
  EXPECT_EQ(1u, Size(d, "Responses.other"));
  EXPECT_EQ("c", Str(d, "Responses.other.0.pk.S"));
  EXPECT_TRUE(Has(d, "UnprocessedKeys"));
  EXPECT_EQ(0u, Size(d, "UnprocessedKeys"));

  EXPECT_EQ("Provided list of item keys contains duplicates",
            Fails("BatchGetItem", R"({"RequestItems":{"users":{"Keys":[{"pk":{"S":"a"}},
                  {"pk":{"S":"a"}}]}}})",
                  "ValidationException"));
  Fails("BatchGetItem", R"({"RequestItems":{"users":{"Keys":[{"pk":{"S":"a"}}],
        "AttributesToGet":["v"],"ProjectionExpression":"v"}}})",
        "ValidationException");
  Fails("BatchGetItem", R"({"RequestItems":{"users":{"Keys":[]}}})", "ValidationException");
  Fails("BatchGetItem", R"({"RequestItems":{"nothere":{"Keys":[{"pk":{"S":"a"}}]}}})",
        "ResourceNotFoundException");
}

// DynamoDB's capacity accounting: reads per 4 KB (half when eventually
// consistent), writes per 1 KB, at least one unit each, transactions double.
TEST_F(DynamoDbApiTest, ReturnConsumedCapacityChargesAsDynamoDb) {
  CreateTable("users");
  CreateTable("other");
  // 2 + 1 + 4 + 5000 = 5007 bytes: 2 read units, 5 write units.
  const std::string big = R"({"pk":{"S":"b"},"blob":{"S":")" + std::string(5000, 'x') + R"("}})";
  rapidjson::Document d = Ok("PutItem", R"({"TableName":"users","ReturnConsumedCapacity":"TOTAL",
                                           "Item":)" +
                                            big + "}");
  EXPECT_EQ("users", Str(d, "ConsumedCapacity.TableName"));
  EXPECT_EQ(5.0, Number(d, "ConsumedCapacity.CapacityUnits"));
  EXPECT_EQ(5.0, Number(d, "ConsumedCapacity.WriteCapacityUnits"));
  EXPECT_FALSE(Has(d, "ConsumedCapacity.Table"));
  EXPECT_FALSE(Has(d, "Attributes"));
  // Without ReturnConsumedCapacity (or with NONE) there is none.
  EXPECT_FALSE(
      Has(Ok("PutItem", R"({"TableName":"users","Item":{"pk":{"S":"s"}}})"), "ConsumedCapacity"));
  EXPECT_FALSE(Has(Ok("GetItem", R"({"TableName":"users","ReturnConsumedCapacity":"NONE",
                                     "Key":{"pk":{"S":"s"}}})"),
                   "ConsumedCapacity"));

  // A write is charged by the larger of the item before and after.
  d = Ok("PutItem", R"({"TableName":"users","ReturnConsumedCapacity":"INDEXES",
                        "ReturnValues":"ALL_OLD","Item":{"pk":{"S":"b"}}})");
  EXPECT_EQ(5.0, Number(d, "ConsumedCapacity.CapacityUnits"));
  EXPECT_EQ(5.0, Number(d, "ConsumedCapacity.Table.CapacityUnits"));
  EXPECT_EQ(5.0, Number(d, "ConsumedCapacity.Table.WriteCapacityUnits"));
  EXPECT_EQ(5000u, Str(d, "Attributes.blob.S").size());
  d = Ok("UpdateItem", R"({"TableName":"users","ReturnConsumedCapacity":"TOTAL",
                           "Key":{"pk":{"S":"b"}},"UpdateExpression":"SET #b = :b",
                           "ExpressionAttributeNames":{"#b":"blob"},
                           "ExpressionAttributeValues":{":b":{"S":")" +
                           std::string(5000, 'y') + R"("}}})");
  EXPECT_EQ(5.0, Number(d, "ConsumedCapacity.CapacityUnits"));
  d = Ok("UpdateItem", R"({"TableName":"users","ReturnConsumedCapacity":"TOTAL",
                           "Key":{"pk":{"S":"small"}},"UpdateExpression":"SET n = :one",
                           "ExpressionAttributeValues":{":one":{"N":"1"}}})");
  EXPECT_EQ(1.0, Number(d, "ConsumedCapacity.CapacityUnits"));

  // Reads: eventually consistent by default; the whole item counts whatever
  // the projection; an absent item costs the minimum.
  d = Ok("GetItem", R"({"TableName":"users","ReturnConsumedCapacity":"TOTAL",
                        "Key":{"pk":{"S":"b"}},"ProjectionExpression":"pk"})");
  EXPECT_EQ(1.0, Number(d, "ConsumedCapacity.CapacityUnits"));
  EXPECT_EQ(1.0, Number(d, "ConsumedCapacity.ReadCapacityUnits"));
  EXPECT_EQ(1u, Size(d, "Item"));
  d = Ok("GetItem", R"({"TableName":"users","ReturnConsumedCapacity":"TOTAL",
                        "ConsistentRead":true,"Key":{"pk":{"S":"b"}}})");
  EXPECT_EQ(2.0, Number(d, "ConsumedCapacity.CapacityUnits"));
  d = Ok("GetItem", R"({"TableName":"users","ReturnConsumedCapacity":"INDEXES",
                        "Key":{"pk":{"S":"absent"}}})");
  EXPECT_FALSE(Has(d, "Item"));
  EXPECT_EQ(0.5, Number(d, "ConsumedCapacity.CapacityUnits"));
  EXPECT_EQ(0.5, Number(d, "ConsumedCapacity.Table.ReadCapacityUnits"));

  // Query and Scan: what the page read, rounded up once, filtered out or not.
  d = Ok("Scan", R"json({"TableName":"users","ReturnConsumedCapacity":"TOTAL",
                         "FilterExpression":"attribute_exists(nothing)"})json");
  EXPECT_EQ(0, Int(d, "Count"));
  EXPECT_EQ(3, Int(d, "ScannedCount"));
  EXPECT_EQ(1.0, Number(d, "ConsumedCapacity.CapacityUnits"));  // 5007 + 3 + 10 bytes
  d = Ok("Query", R"({"TableName":"users","ReturnConsumedCapacity":"TOTAL","ConsistentRead":true,
                      "KeyConditionExpression":"pk = :b",
                      "ExpressionAttributeValues":{":b":{"S":"b"}},"Select":"COUNT"})");
  EXPECT_EQ(2.0, Number(d, "ConsumedCapacity.CapacityUnits"));

  // Batches: one entry per table, each item rounded up on its own.
  Put("other", R"({"pk":{"S":"o"}})");
  d = Ok("BatchGetItem", R"({"ReturnConsumedCapacity":"TOTAL","RequestItems":{
      "users":{"Keys":[{"pk":{"S":"b"}},{"pk":{"S":"small"}},{"pk":{"S":"absent"}}]},
      "other":{"Keys":[{"pk":{"S":"o"}}],"ConsistentRead":true}}})");
  ASSERT_EQ(2u, Size(d, "ConsumedCapacity"));
  EXPECT_EQ("other", Str(d, "ConsumedCapacity.0.TableName"));
  EXPECT_EQ(1.0, Number(d, "ConsumedCapacity.0.CapacityUnits"));
  EXPECT_EQ("users", Str(d, "ConsumedCapacity.1.TableName"));
  EXPECT_EQ(2.0, Number(d, "ConsumedCapacity.1.CapacityUnits"));  // 1 + 0.5 + 0.5
  d = Ok("BatchWriteItem", R"({"ReturnConsumedCapacity":"INDEXES","RequestItems":{
      "users":[{"DeleteRequest":{"Key":{"pk":{"S":"b"}}}},
               {"PutRequest":{"Item":{"pk":{"S":"new"}}}}],
      "other":[{"PutRequest":{"Item":{"pk":{"S":"o2"}}}}]}})");
  EXPECT_EQ(0u, Size(d, "UnprocessedItems"));
  ASSERT_EQ(2u, Size(d, "ConsumedCapacity"));
  EXPECT_EQ(1.0, Number(d, "ConsumedCapacity.0.CapacityUnits"));
  EXPECT_EQ(6.0, Number(d, "ConsumedCapacity.1.CapacityUnits"));
  EXPECT_EQ(6.0, Number(d, "ConsumedCapacity.1.Table.WriteCapacityUnits"));

  // Transactions cost double.
  d = Ok("TransactWriteItems", R"json({"ReturnConsumedCapacity":"TOTAL","TransactItems":[
      {"ConditionCheck":{"TableName":"users","Key":{"pk":{"S":"new"}},
                         "ConditionExpression":"attribute_exists(pk)"}},
      {"Put":{"TableName":"users","Item":)json" +
                                   big + R"json(}},
      {"Delete":{"TableName":"other","Key":{"pk":{"S":"o2"}}}}]})json");
  ASSERT_EQ(2u, Size(d, "ConsumedCapacity"));
  EXPECT_EQ(2.0, Number(d, "ConsumedCapacity.0.CapacityUnits"));
  EXPECT_EQ(12.0, Number(d, "ConsumedCapacity.1.CapacityUnits"));  // 2 * (1 + 5)
  d = Ok("TransactGetItems", R"({"ReturnConsumedCapacity":"TOTAL","TransactItems":[
      {"Get":{"TableName":"users","Key":{"pk":{"S":"b"}}}},
      {"Get":{"TableName":"users","Key":{"pk":{"S":"absent"}}}}]})");
  ASSERT_EQ(1u, Size(d, "ConsumedCapacity"));
  EXPECT_EQ(6.0, Number(d, "ConsumedCapacity.0.CapacityUnits"));  // 2 * (2 + 1)
  EXPECT_EQ(6.0, Number(d, "ConsumedCapacity.0.ReadCapacityUnits"));

  // A bad value is refused as DynamoDB does; a failed write has an error only.
  Fails("GetItem", R"({"TableName":"users","ReturnConsumedCapacity":"ALL",
                       "Key":{"pk":{"S":"b"}}})",
        "ValidationException");
  Fails("PutItem", R"json({"TableName":"users","ReturnConsumedCapacity":"TOTAL",
                   "Item":{"pk":{"S":"b"}},"ConditionExpression":"attribute_not_exists(pk)"})json",
        "ConditionalCheckFailedException");
}

TEST_F(DynamoDbApiTest, TransactWriteItems) {
  CreateTable("users");
  CreateTable("audit");
  Put("users", R"({"pk":{"S":"a"},"n":{"N":"1"}})");
  Put("users", R"({"pk":{"S":"old"}})");
  rapidjson::Document d = Ok("TransactWriteItems", R"({"TransactItems":[
      {"ConditionCheck":{"TableName":"users","Key":{"pk":{"S":"a"}},
                         "ConditionExpression":"attribute_exists(pk) "
}
},
      {"Put":{"TableName":"audit","Item":{"pk":{"S":"log1"}}}},
      {"Update":{"TableName":"users","Key":{"pk":{"S":"b"}},"UpdateExpression":"SET n = :n",
                 "ExpressionAttributeValues":{":n":{"N":"7"}}}},
      {"Delete":{"TableName":"users","Key":{"pk":{"S":"old"}}}}],
      "ClientRequestToken":"token-1"
})");
  EXPECT_EQ(0u, Size(d, ""));
  EXPECT_EQ(2u, CountItems("users"));
  EXPECT_EQ(1u, CountItems("audit"));

  ApiResponse cancelled = Call("TransactWriteItems", R"({"TransactItems":[
      {"Put":{"TableName":"audit","Item":{"pk":{"S":"log2"}}}},
      {"ConditionCheck":{"TableName":"users","Key":{"pk":{"S":"a"}},
                         "ConditionExpression":"n = :two",
                         "ExpressionAttributeValues":{":two":{"N":"2"}}}}]})");
  EXPECT_EQ(400, cancelled.http_status);
  rapidjson::Document error = ParseJson(cancelled.body);
  EXPECT_EQ("com.amazonaws.dynamodb.v20120810#TransactionCanceledException", Str(error, "__type"));
  ASSERT_EQ(2u, Size(error, "CancellationReasons"));
  EXPECT_EQ("None", Str(error, "CancellationReasons.0.Code"));
  EXPECT_FALSE(Has(error, "CancellationReasons.0.Message"));
  EXPECT_EQ("ConditionalCheckFailed", Str(error, "CancellationReasons.1.Code"));
  EXPECT_EQ("The conditional request failed", Str(error, "CancellationReasons.1.Message"));
  EXPECT_EQ(
      "Transaction cancelled, please refer cancellation reasons for specific reasons [None, "
      "ConditionalCheckFailed]",
      Str(error, "Message"));
  EXPECT_EQ(1u, CountItems("audit"));  // the Put was not applied

  Fails("TransactWriteItems", R"({"TransactItems":[{"Put":{"TableName":"audit",
        "Item":{"pk":{"S":"x"}}},"Delete":{"TableName":"audit","Key":{"pk":{"S":"x"}}}}]})",
        "ValidationException");
  Fails("TransactWriteItems", R"({"TransactItems":[{"ConditionCheck":{"TableName":"audit",
        "Key":{"pk":{"S":"x"}}}}]})",
        "ValidationException");
  Fails("TransactWriteItems", R"({"TransactItems":[]})", "ValidationException");
  Fails("TransactWriteItems", R"({"TransactItems":[
        {"Put":{"TableName":"audit","Item":{"pk":{"S":"x"}}}},
        {"Delete":{"TableName":"audit","Key":{"pk":{"S":"x"}}}}]})",
        "ValidationException");
  EXPECT_EQ(1u, CountItems("audit"));
}

TEST_F(DynamoDbApiTest, TransactWriteItemsReasonsFollowTheActions) {
  CreateTable("users");
  CreateTable("audit");
  Put("users", R"({"pk":{"S":"a"},"n":{"N":"1"}})");
  // Three actions, the second one's condition false.
  ApiResponse cancelled = Call("TransactWriteItems", R"({"TransactItems":[
      {"Put":{"TableName":"audit","Item":{"pk":{"S":"log"}}}},
      {"ConditionCheck":{"TableName":"users","Key":{"pk":{"S":"a"}},
                         "ConditionExpression":"n = :two",
                         "ExpressionAttributeValues":{":two":{"N":"2"}}}},
      {"Update":{"TableName":"users","Key":{"pk":{"S":"b"}},"UpdateExpression":"SET n = :n",
                 "ExpressionAttributeValues":{":n":{"N":"7"}}}}]})");
  EXPECT_EQ(400, cancelled.http_status);
  rapidjson::Document error = ParseJson(cancelled.body);
  EXPECT_EQ("TransactionCanceledException", ErrorName(cancelled));
  ASSERT_EQ(3u, Size(error, "CancellationReasons"));
  EXPECT_EQ("None", Str(error, "CancellationReasons.0.Code"));
  EXPECT_FALSE(Has(error, "CancellationReasons.0.Message"));
  EXPECT_EQ("ConditionalCheckFailed", Str(error, "CancellationReasons.1.Code"));
  EXPECT_EQ("The conditional request failed", Str(error, "CancellationReasons.1.Message"));
  EXPECT_EQ("None", Str(error, "CancellationReasons.2.Code"));
  EXPECT_FALSE(Has(error, "CancellationReasons.2.Message"));
  EXPECT_EQ(
      "Transaction cancelled, please refer cancellation reasons for specific reasons [None, "
      "ConditionalCheckFailed, None]",
      Str(error, "Message"));
  EXPECT_EQ(0u, CountItems("audit"));
  EXPECT_EQ(1u, CountItems("users"));

  // An update that would change the key: ValidationError, with the store's
  // reason as its Message.
  cancelled = Call("TransactWriteItems", R"({"TransactItems":[
      {"Put":{"TableName":"audit","Item":{"pk":{"S":"log"}}}},
      {"Update":{"TableName":"users","Key":{"pk":{"S":"a"}},"UpdateExpression":"SET pk = :b",
                 "ExpressionAttributeValues":{":b":{"S":"b"}}}}]})");
  error = ParseJson(cancelled.body);
  ASSERT_EQ(2u, Size(error, "CancellationReasons"));
  EXPECT_EQ("None", Str(error, "CancellationReasons.0.Code"));
  EXPECT_EQ("ValidationError", Str(error, "CancellationReasons.1.Code"));
  EXPECT_NE(std::string::npos,
            Str(error, "CancellationReasons.1.Message").find("Cannot update attribute pk"))
      << cancelled.body;
  EXPECT_EQ(0u, CountItems("audit"));
}

TEST(DynamoDbApiErrorTest, CancellationReasonsComeFromTheStoresDataNotItsMessage) {
  using Code = store::CancellationReason::Code;
  // A message that names other reasons than the data: the data wins and the
  // message is passed on verbatim.
  Status status(StatusCode::kTransactionCanceled, "cancelled [ConditionalCheckFailed, None]");
  ApiResponse r = ErrorResponse(status, {{Code::kNone, ""},
                                         {Code::kValidationError, "bad item"},
                                         {Code::kConditionalCheckFailed, "condition false"}});
  EXPECT_EQ(400, r.http_status);
  EXPECT_EQ("TransactionCanceledException", ErrorName(r));
  rapidjson::Document error = ParseJson(r.body);
  ASSERT_EQ(3u, Size(error, "CancellationReasons"));
  EXPECT_EQ("None", Str(error, "CancellationReasons.0.Code"));
  EXPECT_FALSE(Has(error, "CancellationReasons.0.Message"));
  EXPECT_EQ("ValidationError", Str(error, "CancellationReasons.1.Code"));
  EXPECT_EQ("bad item", Str(error, "CancellationReasons.1.Message"));
  EXPECT_EQ("ConditionalCheckFailed", Str(error, "CancellationReasons.2.Code"));
  EXPECT_EQ("condition false", Str(error, "CancellationReasons.2.Message"));
  EXPECT_EQ("cancelled [ConditionalCheckFailed, None]", Str(error, "Message"));

  // A message in the store's form but no reasons as data: none are made up.
  r = ErrorResponse(Status(StatusCode::kTransactionCanceled,
                           "Transaction cancelled, please refer cancellation reasons for "
                           "specific reasons [None, ConditionalCheckFailed]"));
  error = ParseJson(r.body);
  EXPECT_EQ(0u, Size(error, "CancellationReasons"));

  // Other errors have no CancellationReasons, whatever is passed.
  r = ErrorResponse(InvalidArgument("nope"), {{Code::kConditionalCheckFailed, "x"}});
  EXPECT_EQ("ValidationException", ErrorName(r));
  EXPECT_FALSE(Has(ParseJson(r.body), "CancellationReasons"));
}

// --- Streams ------------------------------------------------------------------

TEST_F(DynamoDbApiTest, ListStreams) {
  CreateTable("alpha", false, "KEYS_ONLY");
  CreateTable("bravo", false, "NEW_IMAGE");
  CreateTable("nostream");
  rapidjson::Document d = StreamsOk("ListStreams", "{}");
  ASSERT_EQ(2u, Size(d, "Streams"));
  EXPECT_EQ("alpha", Str(d, "Streams.0.TableName"));
  EXPECT_EQ(StreamArnOf("alpha"), Str(d, "Streams.0.StreamArn"));
  EXPECT_EQ("2023-11-14T22:13:20.123", Str(d, "Streams.0.StreamLabel"));
  EXPECT_EQ("bravo", Str(d, "Streams.1.TableName"));

  d = StreamsOk("ListStreams", R"({"TableName":"bravo"})");
  ASSERT_EQ(1u, Size(d, "Streams"));
  EXPECT_EQ("bravo", Str(d, "Streams.0.TableName"));

  d = StreamsOk("ListStreams", R"({"Limit":1})");
  ASSERT_EQ(1u, Size(d, "Streams"));
  std::string last = Str(d, "LastEvaluatedStreamArn");
  EXPECT_EQ(StreamArnOf("alpha"), last);
  d = StreamsOk("ListStreams", R"({"Limit":1,"ExclusiveStartStreamArn":")" + last + R"("})");
  ASSERT_EQ(1u, Size(d, "Streams"));
  EXPECT_EQ("bravo", Str(d, "Streams.0.TableName"));
  EXPECT_FALSE(Has(d, "LastEvaluatedStreamArn"));
}

TEST_F(DynamoDbApiTest, DescribeStream) {
  CreateTable("events", true, "NEW_AND_OLD_IMAGES");
  Put("events", R"({"pk":{"S":"a"},"sk":{"N":"1"}})");
  std::string arn = StreamArnOf("events");
  rapidjson::Document d = StreamsOk("DescribeStream", R"({"StreamArn":")" + arn + R"("})");
  EXPECT_EQ(arn, Str(d, "StreamDescription.StreamArn"));
  EXPECT_EQ("2023-11-14T22:13:20.123", Str(d, "StreamDescription.StreamLabel"));
  EXPECT_EQ("ENABLED", Str(d, "StreamDescription.StreamStatus"));
  EXPECT_EQ("NEW_AND_OLD_IMAGES", Str(d, "StreamDescription.StreamViewType"));
  EXPECT_EQ("events", Str(d, "StreamDescription.TableName"));
  EXPECT_EQ("pk", Str(d, "StreamDescription.KeySchema.0.AttributeName"));
  EXPECT_EQ("RANGE", Str(d, "StreamDescription.KeySchema.1.KeyType"));
  ASSERT_EQ(1u, Size(d, "StreamDescription.Shards"));
  std::string shard = Str(d, "StreamDescription.Shards.0.ShardId");
  EXPECT_GE(shard.size(), 28u);
  EXPECT_LE(shard.size(), 65u);
  EXPECT_EQ(0u, shard.rfind("shardId-", 0));
  std::string start =
      Str(d, "StreamDescription.Shards.0.SequenceNumberRange.StartingSequenceNumber");
  EXPECT_EQ(21u, start.size());
  EXPECT_TRUE(AllDigits(start));
  EXPECT_FALSE(Has(d, "StreamDescription.Shards.0.SequenceNumberRange.EndingSequenceNumber"));

  d = StreamsOk("DescribeStream",
                R"({"StreamArn":")" + arn + R"(","ExclusiveStartShardId":")" + shard + R"("})");
  EXPECT_EQ(0u, Size(d, "StreamDescription.Shards"));

  Ok("UpdateTable", R"({"TableName":"events","StreamSpecification":{"StreamEnabled":false}})");
  d = StreamsOk("DescribeStream", R"({"StreamArn":")" + arn + R"("})");
  EXPECT_EQ("DISABLED", Str(d, "StreamDescription.StreamStatus"));
  std::string end = Str(d, "StreamDescription.Shards.0.SequenceNumberRange.EndingSequenceNumber");
  EXPECT_EQ(21u, end.size());
  EXPECT_GE(end, start);

  Fails("DescribeStream",
        R"({"StreamArn":"arn:aws:dynamodb:eu-west-1:123456789012:table/events/stream/)"
        R"(2020-01-01T00:00:00.000"})",
        "ResourceNotFoundException", true);
  Fails("DescribeStream",
        R"({"StreamArn":"arn:aws:dynamodb:us-east-1:123456789012:table/events/stream/)"
        R"(2023-11-14T22:13:20.123"})",
        "ResourceNotFoundException", true);
  Fails("DescribeStream", R"({"StreamArn":"arn:aws:dynamodb:short"})", "ValidationException", true);
  Fails("DescribeStream", "{}", "ValidationException", true);
}

struct ViewCase {
  std::string view_type;
  bool new_image;
  bool old_image;
};

class DynamoDbApiStreamViewTest : public DynamoDbApiTest,
                                  public ::testing::WithParamInterface<ViewCase> {};

TEST_P(DynamoDbApiStreamViewTest, InsertModifyRemove) {
  const ViewCase& view = GetParam();
  CreateTable("events", true, view.view_type);
  Put("events", R"({"pk":{"S":"a"},"sk":{"N":"1"},"v":{"S":"first"}})");
  clock_.AdvanceMs(2000);
  Ok("UpdateItem", R"({"TableName":"events","Key":{"pk":{"S":"a"},"sk":{"N":"1"}},
     "UpdateExpression":"SET v = :v","ExpressionAttributeValues":{":v":{"S":"second"}}})");
  Ok("DeleteItem", R"({"TableName":"events","Key":{"pk":{"S":"a"},"sk":{"N":"1"}}})");

  rapidjson::Document d = Records(Iterator("events", "TRIM_HORIZON"));
  ASSERT_EQ(3u, Size(d, "Records"));
  const char* names[] = {"INSERT", "MODIFY", "REMOVE"};
  const char* new_values[] = {"first", "second", nullptr};
  const char* old_values[] = {nullptr, "first", "second"};
  std::set<std::string> ids;
  std::string previous_sequence;
  for (int i = 0; i < 3; ++i) {
    std::string r = "Records." + std::to_string(i);
    EXPECT_EQ(names[i], Str(d, r + ".eventName"));
    EXPECT_EQ("1.1", Str(d, r + ".eventVersion"));
    EXPECT_EQ("aws:dynamodb", Str(d, r + ".eventSource"));
    EXPECT_EQ("eu-west-1", Str(d, r + ".awsRegion"));
    ids.insert(Str(d, r + ".eventID"));
    EXPECT_EQ(2u, Size(d, r + ".dynamodb.Keys"));
    EXPECT_EQ("a", Str(d, r + ".dynamodb.Keys.pk.S"));
    EXPECT_EQ("1", Str(d, r + ".dynamodb.Keys.sk.N"));
    EXPECT_EQ(view.view_type, Str(d, r + ".dynamodb.StreamViewType"));
    EXPECT_GE(Int(d, r + ".dynamodb.SizeBytes"), 1);
    EXPECT_EQ((i == 0 ? kStartMs : kStartMs + 2000) / 1000,
              Int(d, r + ".dynamodb.ApproximateCreationDateTime"));
    std::string sequence = Str(d, r + ".dynamodb.SequenceNumber");
    EXPECT_GE(sequence.size(), 21u);
    EXPECT_LE(sequence.size(), 40u);
    EXPECT_TRUE(AllDigits(sequence));
    EXPECT_GT(sequence, previous_sequence);
    previous_sequence = sequence;
    bool want_new = view.new_image && new_values[i] != nullptr;
    bool want_old = view.old_image && old_values[i] != nullptr;
    EXPECT_EQ(want_new, Has(d, r + ".dynamodb.NewImage")) << r;
    EXPECT_EQ(want_old, Has(d, r + ".dynamodb.OldImage")) << r;
    if (want_new) {
      EXPECT_EQ(new_values[i], Str(d, r + ".dynamodb.NewImage.v.S"));
    }
    if (want_old) {
      EXPECT_EQ(old_values[i], Str(d, r + ".dynamodb.OldImage.v.S"));
    }
  }
  EXPECT_EQ(3u, ids.size());
  EXPECT_TRUE(Has(d, "NextShardIterator"));  // the stream is open
}

INSTANTIATE_TEST_SUITE_P(All, DynamoDbApiStreamViewTest,
                         ::testing::Values(ViewCase{"KEYS_ONLY", false, false},
                                           ViewCase{"NEW_IMAGE", true, false},
                                           ViewCase{"OLD_IMAGE", false, true},
                                           ViewCase{"NEW_AND_OLD_IMAGES", true, true}),
                         [](const auto& info) { return info.param.view_type; });

TEST_F(DynamoDbApiTest, ShardIteratorTypesAndPaging) {
  CreateTable("events", false, "KEYS_ONLY");
  for (int i = 0; i < 5; ++i) Put("events", R"({"pk":{"S":"k)" + std::to_string(i) + R"("}})");
  std::string latest = Iterator("events", "LATEST");

  // TRIM_HORIZON, two at a time.
  std::vector<std::string> sequences;
  std::string it = Iterator("events", "TRIM_HORIZON");
  for (int call = 0; call < 5 && !it.empty(); ++call) {
    rapidjson::Document d = Records(it, 2);
    EXPECT_LE(Size(d, "Records"), 2u);
    for (size_t i = 0; i < Size(d, "Records"); ++i) {
      sequences.push_back(Str(d, "Records." + std::to_string(i) + ".dynamodb.SequenceNumber"));
    }
    it = Has(d, "NextShardIterator") ? Str(d, "NextShardIterator") : "";
    if (Size(d, "Records") == 0) break;
  }
  ASSERT_EQ(5u, sequences.size());

  // AT and AFTER a sequence number.
  rapidjson::Document at = Records(Iterator("events", "AT_SEQUENCE_NUMBER", sequences[2]));
  ASSERT_EQ(3u, Size(at, "Records"));
  EXPECT_EQ(sequences[2], Str(at, "Records.0.dynamodb.SequenceNumber"));
  rapidjson::Document after = Records(Iterator("events", "AFTER_SEQUENCE_NUMBER", sequences[2]));
  ASSERT_EQ(2u, Size(after, "Records"));
  EXPECT_EQ(sequences[3], Str(after, "Records.0.dynamodb.SequenceNumber"));

  // LATEST saw none of the earlier records, only what came after it.
  rapidjson::Document none = Records(latest);
  EXPECT_EQ(0u, Size(none, "Records"));
  Put("events", R"({"pk":{"S":"new"}})");
  rapidjson::Document fresh = Records(Str(none, "NextShardIterator"));
  ASSERT_EQ(1u, Size(fresh, "Records"));
  EXPECT_EQ("new", Str(fresh, "Records.0.dynamodb.Keys.pk.S"));
}

TEST_F(DynamoDbApiTest, ShardIteratorErrors) {
  CreateTable("events", false, "KEYS_ONLY");
  Put("events", R"({"pk":{"S":"a"}})");
  std::string arn = StreamArnOf("events");
  std::string shard = ShardIdOf(arn);
  auto body = [&](std::string_view rest) {
    return R"({"StreamArn":")" + arn + R"(",)" + std::string(rest) + "}";
  };
  Fails("GetShardIterator",
        body(R"("ShardId":")" + shard + R"(","ShardIteratorType":"AT_SEQUENCE_NUMBER")"),
        "ValidationException", true);
  EXPECT_NE(std::string::npos,
            Fails("GetShardIterator",
                  body(R"("ShardId":")" + shard +
                       R"(","ShardIteratorType":"AT_SEQUENCE_NUMBER","SequenceNumber":"12345")"),
                  "ValidationException", true)
                .find("Member must have length greater than or equal to 21"));
  Fails("GetShardIterator", body(R"("ShardId":")" + shard + R"(","ShardIteratorType":"SOMEWHERE")"),
        "ValidationException", true);
  Fails("GetShardIterator", body(R"("ShardId":"shard-1","ShardIteratorType":"LATEST")"),
        "ValidationException", true);
  Fails("GetShardIterator",
        body(R"("ShardId":"shardId-00000000000000000000-99999999","ShardIteratorType":"LATEST")"),
        "ResourceNotFoundException", true);
  Fails("GetShardIterator",
        body(R"("ShardId":")" + shard +
             R"(","ShardIteratorType":"LATEST","SequenceNumber":"000000000000000000001")"),
        "ValidationException", true);

  Fails("GetRecords", R"({"ShardIterator":"bm90IGFuIGl0ZXJhdG9y"})", "ValidationException", true);
  Fails("GetRecords", R"({"ShardIterator":"!!"})", "ValidationException", true);
  Fails("GetRecords", R"({"ShardIterator":""})", "ValidationException", true);
  std::string it = Iterator("events", "TRIM_HORIZON");
  Fails("GetRecords", R"({"ShardIterator":")" + it + R"(","Limit":1001})", "ValidationException",
        true);
  Fails("GetRecords", R"({"ShardIterator":")" + it + R"(","Limit":0})", "ValidationException",
        true);
  rapidjson::Document d =
      StreamsOk("GetRecords", R"({"ShardIterator":")" + it + R"(","Limit":1000})");
  EXPECT_EQ(1u, Size(d, "Records"));
}

TEST_F(DynamoDbApiTest, TrimmedStreamIsTrimmedDataAccessException) {
  store::TableSchema schema;
  schema.name = "small";
  schema.partition_key = {"pk", AttributeType::kS};
  schema.stream = {true, store::StreamViewType::kKeysOnly, /*buffer_size=*/2};
  ASSERT_TRUE(store_->CreateTable(schema).ok());
  Put("small", R"({"pk":{"S":"k0"}})");
  std::string early = Iterator("small", "AT_SEQUENCE_NUMBER", std::string(20, '0') + "1");
  std::string horizon = Iterator("small", "TRIM_HORIZON");
  for (int i = 1; i < 5; ++i) Put("small", R"({"pk":{"S":"k)" + std::to_string(i) + R"("}})");

  std::string message = Fails("GetRecords", R"({"ShardIterator":")" + early + R"("})",
                              "TrimmedDataAccessException", true);
  EXPECT_FALSE(message.empty());
  Fails("GetShardIterator",
        R"({"StreamArn":")" + StreamArnOf("small") + R"(","ShardId":")" +
            ShardIdOf(StreamArnOf("small")) +
            R"(","ShardIteratorType":"AT_SEQUENCE_NUMBER","SequenceNumber":")" +
            std::string(20, '0') + R"(1"})",
        "TrimmedDataAccessException", true);

  // A TRIM_HORIZON iterator follows the horizon: it reads what is retained.
  rapidjson::Document d = Records(horizon);
  ASSERT_EQ(2u, Size(d, "Records"));
  EXPECT_EQ("k3", Str(d, "Records.0.dynamodb.Keys.pk.S"));
  EXPECT_EQ("k4", Str(d, "Records.1.dynamodb.Keys.pk.S"));
}

TEST_F(DynamoDbApiTest, ClosedStreamsEndAndHideTruncate) {
  CreateTable("events", false, "NEW_IMAGE");
  Put("events", R"({"pk":{"S":"a"}})");
  std::string arn = StreamArnOf("events");
  std::string shard = ShardIdOf(arn);
  Ok("DeleteTable", R"({"TableName":"events"})");

  // The deleted table's stream stays readable, DISABLED, without its TRUNCATE.
  rapidjson::Document listed = StreamsOk("ListStreams", "{}");
  ASSERT_EQ(1u, Size(listed, "Streams"));
  EXPECT_EQ(arn, Str(listed, "Streams.0.StreamArn"));
  rapidjson::Document described = StreamsOk("DescribeStream", R"({"StreamArn":")" + arn + R"("})");
  EXPECT_EQ("DISABLED", Str(described, "StreamDescription.StreamStatus"));
  EXPECT_TRUE(
      Has(described, "StreamDescription.Shards.0.SequenceNumberRange.EndingSequenceNumber"));

  rapidjson::Document it =
      StreamsOk("GetShardIterator", R"({"StreamArn":")" + arn + R"(","ShardId":")" + shard +
                                        R"(","ShardIteratorType":"TRIM_HORIZON"})");
  rapidjson::Document d = Records(Str(it, "ShardIterator"));
  ASSERT_EQ(1u, Size(d, "Records"));
  EXPECT_EQ("INSERT", Str(d, "Records.0.eventName"));
  EXPECT_FALSE(Has(d, "NextShardIterator"));  // closed and read to the end
}

// Shard iterators expire 15 minutes after they were handed out, as DynamoDB
// Streams' do; each NextShardIterator is a fresh one.
TEST_F(DynamoDbApiTest, ShardIteratorsExpireAfterFifteenMinutes) {
  CreateTable("events", false, "KEYS_ONLY");
  Put("events", R"({"pk":{"S":"a"}})");
  std::string first = Iterator("events", "TRIM_HORIZON");
  clock_.AdvanceMs(kShardIteratorLifetimeMs);  // still valid at exactly 15 min
  rapidjson::Document d = Records(first);
  ASSERT_EQ(1u, Size(d, "Records"));
  std::string next = Str(d, "NextShardIterator");
  clock_.AdvanceMs(1);
  std::string message = Fails("GetRecords", R"({"ShardIterator":")" + first + R"("})",
                              "ExpiredIteratorException", true);
  EXPECT_NE(std::string::npos, message.find("valid for 15 minutes")) << message;
  // The one GetRecords returned counts from then.
  Put("events", R"({"pk":{"S":"b"}})");
  d = Records(next);
  ASSERT_EQ(1u, Size(d, "Records"));
  EXPECT_EQ("b", Str(d, "Records.0.dynamodb.Keys.pk.S"));

  // An iterator of the first format (handed out before iterators expired,
  // "ks1/<table>/<label>/<after>/<h|p>") still reads, and never expires.
  auto decoded = Base64Decode(first);
  ASSERT_TRUE(decoded.ok());
  ASSERT_EQ(0u, decoded->rfind("ks2/", 0)) << *decoded;
  std::string old_format = "ks1/" + decoded->substr(4, decoded->rfind('/') - 4);
  d = Records(Base64Encode(old_format));
  EXPECT_EQ(2u, Size(d, "Records")) << old_format;
}

// Time to Live: UpdateTimeToLive and DescribeTimeToLive as DynamoDB's, and a
// TTL deletion read through GetRecords with the service's userIdentity.
TEST_F(DynamoDbApiTest, TimeToLiveIsSetDescribedAndMarksItsDeletions) {
  CreateTable("events", false, "NEW_AND_OLD_IMAGES");
  rapidjson::Document d = Ok("DescribeTimeToLive", R"({"TableName":"events"})");
  EXPECT_EQ("DISABLED", Str(d, "TimeToLiveDescription.TimeToLiveStatus"));
  EXPECT_FALSE(d["TimeToLiveDescription"].HasMember("AttributeName"));

  // Bad requests change nothing.
  Fails("UpdateTimeToLive", R"({"TableName":"events"})", "ValidationException");
  Fails("UpdateTimeToLive", R"({"TableName":"events","TimeToLiveSpecification":{
        "AttributeName":"exp"}})",
        "ValidationException");
  Fails("UpdateTimeToLive", R"({"TableName":"events","TimeToLiveSpecification":{
        "Enabled":true}})",
        "ValidationException");
  Fails("UpdateTimeToLive", R"({"TableName":"events","TimeToLiveSpecification":{
        "Enabled":true,"AttributeName":""}})",
        "ValidationException");
  Fails("UpdateTimeToLive", R"({"TableName":"events","TimeToLiveSpecification":{
        "Enabled":"yes","AttributeName":"exp"}})",
        "SerializationException");
  Fails("UpdateTimeToLive", R"({"TableName":"nosuch","TimeToLiveSpecification":{
        "Enabled":true,"AttributeName":"exp"}})",
        "ResourceNotFoundException");
  Fails("DescribeTimeToLive", R"({"TableName":"nosuch"})", "ResourceNotFoundException");
  std::string message = Fails("UpdateTimeToLive", R"({"TableName":"events",
      "TimeToLiveSpecification":{"Enabled":false,"AttributeName":"exp"}})",
                              "ValidationException");
  EXPECT_EQ("TimeToLive is already disabled", message);

  d = Ok("UpdateTimeToLive", R"({"TableName":"events","TimeToLiveSpecification":{
        "Enabled":true,"AttributeName":"exp"}})");
  EXPECT_TRUE(d["TimeToLiveSpecification"]["Enabled"].GetBool());
  EXPECT_EQ("exp", Str(d, "TimeToLiveSpecification.AttributeName"));
  d = Ok("DescribeTimeToLive", R"({"TableName":"events"})");
  EXPECT_EQ("ENABLED", Str(d, "TimeToLiveDescription.TimeToLiveStatus"));
  EXPECT_EQ("exp", Str(d, "TimeToLiveDescription.AttributeName"));
  message = Fails("UpdateTimeToLive", R"({"TableName":"events","TimeToLiveSpecification":{
        "Enabled":true,"AttributeName":"other"}})",
                  "ValidationException");
  EXPECT_EQ("TimeToLive is already enabled", message);
  message = Fails("UpdateTimeToLive", R"({"TableName":"events","TimeToLiveSpecification":{
        "Enabled":false,"AttributeName":"other"}})",
                  "ValidationException");
  EXPECT_NE(std::string::npos, message.find("current AttributeName is exp")) << message;

  const int64_t now_s = clock_.NowMs() / 1000;
  Put("events", R"({"pk":{"S":"old"},"exp":{"N":")" + std::to_string(now_s - 1) + R"("}})");
  Put("events", R"({"pk":{"S":"new"},"exp":{"N":")" + std::to_string(now_s + 60) + R"("}})");
  auto expired = store_->ExpireItems("events", now_s, std::nullopt, 100);
  ASSERT_TRUE(expired.ok()) << expired.status().ToString();
  EXPECT_EQ(1u, expired->expired);
  d = Records(Iterator("events", "TRIM_HORIZON"));
  ASSERT_EQ(3u, Size(d, "Records"));
  EXPECT_EQ("REMOVE", Str(d, "Records.2.eventName"));
  EXPECT_EQ("old", Str(d, "Records.2.dynamodb.Keys.pk.S"));
  EXPECT_EQ("Service", Str(d, "Records.2.userIdentity.Type"));
  EXPECT_EQ("dynamodb.amazonaws.com", Str(d, "Records.2.userIdentity.PrincipalId"));
  EXPECT_FALSE(d["Records"][0].HasMember("userIdentity"));

  // Kept across a restart; disabled by naming the attribute in use.
  Reopen();
  d = Ok("DescribeTimeToLive", R"({"TableName":"events"})");
  EXPECT_EQ("ENABLED", Str(d, "TimeToLiveDescription.TimeToLiveStatus"));
  d = Ok("UpdateTimeToLive", R"({"TableName":"events","TimeToLiveSpecification":{
        "Enabled":false,"AttributeName":"exp"}})");
  EXPECT_FALSE(d["TimeToLiveSpecification"]["Enabled"].GetBool());
  d = Ok("DescribeTimeToLive", R"({"TableName":"events"})");
  EXPECT_EQ("DISABLED", Str(d, "TimeToLiveDescription.TimeToLiveStatus"));
}

// Tags: set at CreateTable or by TagResource, removed by UntagResource, listed
// by ListTagsOfResource (sorted by key), kept across a restart, at most 50.
TEST_F(DynamoDbApiTest, TagsAreKeptWithTheTable) {
  Ok("CreateTable", R"({"TableName":"tagged","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
      "AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],
      "Tags":[{"Key":"team","Value":"cdc"},{"Key":"env","Value":""}]})");
  const std::string arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/tagged";
  auto list = [&] {
    rapidjson::Document d = Ok("ListTagsOfResource", R"({"ResourceArn":")" + arn + R"("})");
    std::vector<std::pair<std::string, std::string>> tags;
    for (const auto& t : d["Tags"].GetArray()) {
      tags.emplace_back(t["Key"].GetString(), t["Value"].GetString());
    }
    return tags;
  };
  using Tags = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ((Tags{{"env", ""}, {"team", "cdc"}}), list());

  Ok("TagResource",
     R"({"ResourceArn":")" + arn +
         R"(","Tags":[{"Key":"team","Value":"streams"},{"Key":"owner","Value":"a"}]})");
  EXPECT_EQ((Tags{{"env", ""}, {"owner", "a"}, {"team", "streams"}}), list());
  Ok("UntagResource", R"({"ResourceArn":")" + arn + R"(","TagKeys":["env","absent"]})");
  EXPECT_EQ((Tags{{"owner", "a"}, {"team", "streams"}}), list());
  Reopen();
  EXPECT_EQ((Tags{{"owner", "a"}, {"team", "streams"}}), list());

  // Errors change nothing.
  Fails("TagResource", R"({"ResourceArn":")" + arn + R"("})", "ValidationException");
  Fails("UntagResource", R"({"ResourceArn":")" + arn + R"("})", "ValidationException");
  Fails("TagResource", R"({"ResourceArn":")" + arn + R"(","Tags":[{"Key":"","Value":"x"}]})",
        "ValidationException");
  Fails("TagResource",
        R"({"ResourceArn":")" + arn + R"(","Tags":[{"Key":")" + std::string(129, 'k') +
            R"(","Value":"x"}]})",
        "ValidationException");
  Fails("TagResource",
        R"({"ResourceArn":")" + arn + R"(","Tags":[{"Key":"a","Value":")" + std::string(257, 'v') +
            R"("}]})",
        "ValidationException");
  Fails("TagResource", R"({"ResourceArn":")" + arn + R"(","Tags":[{"Key":"a"}]})",
        "ValidationException");
  std::string message = Fails("TagResource",
                              R"({"ResourceArn":")" + arn +
                                  R"(","Tags":[{"Key":"a","Value":"1"},{"Key":"a","Value":"2"}]})",
                              "ValidationException");
  EXPECT_NE(std::string::npos, message.find("Duplicate")) << message;
  std::string many;
  for (int i = 0; i < 49; ++i) {
    many += std::string(many.empty() ? "" : ",") + R"({"Key":"k)" + std::to_string(i) +
            R"(","Value":"v"})";
  }
  // 2 + 49 would be 51.
  message = Fails("TagResource", R"({"ResourceArn":")" + arn + R"(","Tags":[)" + many + "]}",
                  "ValidationException");
  EXPECT_NE(std::string::npos, message.find("at most 50 tags")) << message;
  EXPECT_EQ((Tags{{"owner", "a"}, {"team", "streams"}}), list());
  Fails("ListTagsOfResource", R"({"ResourceArn":"table/tagged"})", "ValidationException");
  Fails("ListTagsOfResource",
        R"({"ResourceArn":"arn:aws:dynamodb:eu-west-1:123456789012:table/x/stream/y"})",
        "ValidationException");
  Fails("ListTagsOfResource",
        R"({"ResourceArn":"arn:aws:dynamodb:us-east-1:123456789012:table/tagged"})",
        "ResourceNotFoundException");
  Fails("ListTagsOfResource",
        R"({"ResourceArn":"arn:aws:dynamodb:eu-west-1:123456789012:table/nosuch"})",
        "ResourceNotFoundException");

  rapidjson::Document d = Ok("DescribeContinuousBackups", R"({"TableName":"tagged"})");
  EXPECT_EQ("DISABLED", Str(d, "ContinuousBackupsDescription.ContinuousBackupsStatus"));
  EXPECT_EQ("DISABLED", Str(d,
                            "ContinuousBackupsDescription.PointInTimeRecoveryDescription."
                            "PointInTimeRecoveryStatus"));
  Fails("DescribeContinuousBackups", R"({"TableName":"nosuch"})", "ResourceNotFoundException");

  // No backups to list; DynamoDB's default quotas.
  d = Ok("ListBackups", R"({"TableName":"tagged","BackupType":"ALL","Limit":10})");
  EXPECT_EQ(0u, Size(d, "BackupSummaries"));
  Fails("ListBackups", R"({"BackupType":"SOME"})", "ValidationException");
  d = Ok("DescribeLimits", "{}");
  EXPECT_EQ(40000, Int(d, "TableMaxWriteCapacityUnits"));
  EXPECT_EQ(80000, Int(d, "AccountMaxReadCapacityUnits"));
}

// Re-enabling a stream starts a new one; the one it replaces stays readable,
// closed, for 24 hours after it was disabled (as DynamoDB Streams'), also
// across a restart.
TEST_F(DynamoDbApiTest, ReplacedStreamStaysReadableForADay) {
  CreateTable("events", false, "KEYS_ONLY");
  Put("events", R"({"pk":{"S":"before-1"}})");
  Put("events", R"({"pk":{"S":"before-2"}})");
  Ok("UpdateTable", R"({"TableName":"events","StreamSpecification":{"StreamEnabled":false}})");
  std::string old_arn = StreamArnOf("events");
  clock_.AdvanceMs(1000);
  Ok("UpdateTable", R"({"TableName":"events","StreamSpecification":
     {"StreamEnabled":true,"StreamViewType":"NEW_IMAGE"}})");
  Put("events", R"({"pk":{"S":"after"}})");
  std::string new_arn = StreamArnOf("events");
  ASSERT_NE(old_arn, new_arn);

  // The new stream holds only its own records.
  rapidjson::Document d = Records(Iterator("events", "TRIM_HORIZON"));
  ASSERT_EQ(1u, Size(d, "Records"));
  EXPECT_EQ("after", Str(d, "Records.0.dynamodb.Keys.pk.S"));
  EXPECT_EQ("NEW_IMAGE", Str(d, "Records.0.dynamodb.StreamViewType"));
  d = StreamsOk("DescribeStream", R"({"StreamArn":")" + new_arn + R"("})");
  EXPECT_EQ(Str(d, "StreamDescription.Shards.0.SequenceNumberRange.StartingSequenceNumber"),
            Str(Records(Iterator("events", "TRIM_HORIZON")), "Records.0.dynamodb.SequenceNumber"));

  auto read_old_stream = [&] {
    rapidjson::Document described =
        StreamsOk("DescribeStream", R"({"StreamArn":")" + old_arn + R"("})");
    EXPECT_EQ("DISABLED", Str(described, "StreamDescription.StreamStatus"));
    EXPECT_EQ("KEYS_ONLY", Str(described, "StreamDescription.StreamViewType"));
    EXPECT_TRUE(
        Has(described, "StreamDescription.Shards.0.SequenceNumberRange.EndingSequenceNumber"));
    rapidjson::Document it = StreamsOk(
        "GetShardIterator", R"({"StreamArn":")" + old_arn + R"(","ShardId":")" +
                                ShardIdOf(old_arn) + R"(","ShardIteratorType":"TRIM_HORIZON"})");
    rapidjson::Document records = Records(Str(it, "ShardIterator"));
    EXPECT_EQ(2u, Size(records, "Records"));
    EXPECT_EQ("before-1", Str(records, "Records.0.dynamodb.Keys.pk.S"));
    EXPECT_EQ("before-2", Str(records, "Records.1.dynamodb.Keys.pk.S"));
    EXPECT_FALSE(Has(records, "Records.0.dynamodb.NewImage"));
    EXPECT_FALSE(Has(records, "NextShardIterator"));  // closed, read to its end
    rapidjson::Document listed = StreamsOk("ListStreams", R"({"TableName":"events"})");
    ASSERT_EQ(2u, Size(listed, "Streams"));
    EXPECT_EQ(new_arn, Str(listed, "Streams.0.StreamArn"));
    EXPECT_EQ(old_arn, Str(listed, "Streams.1.StreamArn"));
  };
  read_old_stream();
  Reopen();
  read_old_stream();

  // A day after it was disabled, it is gone.
  clock_.AdvanceMs(store::kReplacedStreamReadableMs);
  Fails("DescribeStream", R"({"StreamArn":")" + old_arn + R"("})", "ResourceNotFoundException",
        true);
  EXPECT_EQ(1u, Size(StreamsOk("ListStreams", R"({"TableName":"events"})"), "Streams"));
  EXPECT_EQ(1u, Size(Records(Iterator("events", "TRIM_HORIZON")), "Records"));
}

// HandleAsync: reads answer inline; item writes are queued and report on the
// store's writer thread with a builder the caller runs; requests that do not
// parse answer inline.
TEST_F(DynamoDbApiTest, HandleAsyncQueuesItemWritesAndAnswersTheRestInline) {
  CreateTable("users");
  struct Done {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<ResponseBuilder> builders;
    std::vector<std::thread::id> threads;
    AsyncDone Callback() {
      return [this](ResponseBuilder b) {
        std::lock_guard<std::mutex> lock(mu);
        builders.push_back(std::move(b));
        threads.push_back(std::this_thread::get_id());
        cv.notify_all();
      };
    }
    ApiResponse Wait(size_t i) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return builders.size() > i; });
      return builders[i]();
    }
  } done;
  const std::string put_target = "DynamoDB_20120810.PutItem";
  auto queued = api_->HandleAsync(put_target,
                                  R"({"TableName":"users","Item":{"pk":{"S":"a"},"n":{"N":"1"}}})",
                                  done.Callback());
  EXPECT_FALSE(queued.has_value());
  ApiResponse put = done.Wait(0);
  EXPECT_EQ(200, put.http_status) << put.body;
  EXPECT_EQ("{}", put.body);
  EXPECT_NE(std::this_thread::get_id(), done.threads[0]);

  // A conditional write that fails reports the error through the builder.
  queued = api_->HandleAsync(put_target,
                             R"({"TableName":"users","Item":{"pk":{"S":"a"}},)"
                             R"x("ConditionExpression":"attribute_not_exists(pk)"})x",
                             done.Callback());
  EXPECT_FALSE(queued.has_value());
  ApiResponse failed = done.Wait(1);
  EXPECT_EQ(400, failed.http_status);
  EXPECT_NE(std::string::npos, failed.body.find("ConditionalCheckFailedException")) << failed.body;

  auto bad = [](ResponseBuilder) { ADD_FAILURE() << "inline answers never call done"; };
  auto get = api_->HandleAsync("DynamoDB_20120810.GetItem",
                               R"({"TableName":"users","Key":{"pk":{"S":"a"}}})", bad);
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(R"({"Item":{"n":{"N":"1"},"pk":{"S":"a"}}})", get->body);
  auto malformed = api_->HandleAsync(put_target, "{not json", bad);
  ASSERT_TRUE(malformed.has_value());
  EXPECT_EQ(400, malformed->http_status);
  EXPECT_NE(std::string::npos, malformed->body.find("SerializationException"));

  // The other writes go the same way.
  for (std::string_view body :
       {R"({"TableName":"users","Key":{"pk":{"S":"a"}},"UpdateExpression":"SET n = :v",)"
        R"("ExpressionAttributeValues":{":v":{"N":"2"}}})"}) {
    EXPECT_FALSE(
        api_->HandleAsync("DynamoDB_20120810.UpdateItem", body, done.Callback()).has_value());
  }
  EXPECT_EQ(200, done.Wait(2).http_status);
  EXPECT_FALSE(api_->HandleAsync("DynamoDB_20120810.BatchWriteItem",
                                 R"({"RequestItems":{"users":[{"PutRequest":{"Item":)"
                                 R"({"pk":{"S":"b"}}}}]}})",
                                 done.Callback())
                   .has_value());
  EXPECT_EQ(R"({"UnprocessedItems":{}})", done.Wait(3).body);
  EXPECT_FALSE(api_->HandleAsync("DynamoDB_20120810.TransactWriteItems",
                                 R"({"TransactItems":[{"Delete":{"TableName":"users",)"
                                 R"("Key":{"pk":{"S":"b"}}}}]})",
                                 done.Callback())
                   .has_value());
  EXPECT_EQ("{}", done.Wait(4).body);
  EXPECT_FALSE(api_->HandleAsync("DynamoDB_20120810.DeleteItem",
                                 R"({"TableName":"users","Key":{"pk":{"S":"a"}},)"
                                 R"("ReturnValues":"ALL_OLD"})",
                                 done.Callback())
                   .has_value());
  EXPECT_EQ(R"({"Attributes":{"n":{"N":"2"},"pk":{"S":"a"}}})", done.Wait(5).body);

  EXPECT_TRUE(DynamoDbApi::WaitsForCommit("DynamoDB_20120810.CreateTable"));
  EXPECT_TRUE(DynamoDbApi::WaitsForCommit("DynamoDB_20120810.DeleteTable"));
  EXPECT_FALSE(DynamoDbApi::WaitsForCommit("DynamoDB_20120810.PutItem"));
  EXPECT_FALSE(DynamoDbApi::WaitsForCommit("DynamoDBStreams_20120810.GetRecords"));
}

// PartiQL's ExecuteStatement: each statement does what its JSON equivalent
// does (the same items, the same stream records), with PartiQL's answers:
// Items, NextToken for a SELECT's next page, DuplicateItemException for an
// INSERT whose key exists.
// A well-formed request nested a million levels deep (2 MB) is refused while
// it is parsed. It used to crash the server: rapidjson copies and writes
// values recursively, and ExecuteStatement copied such a parameter. Requests
// as deep as valid ones get (DynamoDB's 32 levels: an attribute holding 31
// levels of maps, in a transaction) still work.
TEST_F(DynamoDbApiTest, AbsurdlyDeepRequestsAreRefusedNotCrashed) {
  CreateTable("deep");
  const int kLevels = 1'000'000;
  std::string arrays = std::string(kLevels, '[') + std::string(kLevels, ']');
  std::string objects;
  for (int i = 0; i < kLevels; ++i) objects += R"({"a":)";
  objects += "1" + std::string(kLevels, '}');
  const std::string kNesting = "Nesting Levels have exceeded supported limits";
  EXPECT_EQ(kNesting,
            Fails("ExecuteStatement",
                  R"({"Statement":"SELECT * FROM deep WHERE pk = ?","Parameters":[{"L":)" + arrays +
                      "}]}",
                  "ValidationException"));
  EXPECT_EQ(
      kNesting,
      Fails("PutItem", R"({"TableName":"deep","Item":{"pk":{"S":"a"},"x":{"L":)" + arrays + "}}}",
            "ValidationException"));
  // Even in a member the API ignores.
  EXPECT_EQ(
      kNesting,
      Fails("GetItem", R"({"TableName":"deep","Key":{"pk":{"S":"a"}},"Unknown":)" + objects + "}",
            "ValidationException"));
  EXPECT_EQ(kNesting, Fails("BatchExecuteStatement",
                            R"({"Statements":[{"Statement":"SELECT * FROM deep WHERE pk = ?",)"
                            R"("Parameters":)" +
                                arrays + "}]}",
                            "ValidationException"));

  std::string value = R"({"S":"leaf"})";
  for (int i = 0; i < 31; ++i) value = R"({"M":{"m":)" + value + "}}";
  Ok("TransactWriteItems", R"({"TransactItems":[{"Put":{"TableName":"deep","Item":)"
                           R"({"pk":{"S":"deepest"},"v":)" +
                               value + "}}}]}");
  rapidjson::Document got =
      Ok("ExecuteStatement", R"({"Statement":"SELECT * FROM deep WHERE pk = 'deepest'"})");
  ASSERT_EQ(1u, got["Items"].Size());
  const rapidjson::Value* v = &got["Items"][0]["v"];
  for (int i = 0; i < 31; ++i) v = &(*v)["M"]["m"];
  EXPECT_STREQ("leaf", (*v)["S"].GetString());
}

TEST_F(DynamoDbApiTest, ExecuteStatementReadsAndWritesItems) {
  CreateTable("music", true, "NEW_AND_OLD_IMAGES");
  auto exec = [&](const std::string& statement, const std::string& extra = "") {
    rapidjson::Document statement_json;
    statement_json.SetString(statement.c_str(), statement_json.GetAllocator());
    rapidjson::StringBuffer quoted;
    rapidjson::Writer<rapidjson::StringBuffer> w(quoted);
    statement_json.Accept(w);
    return R"({"Statement":)" + std::string(quoted.GetString()) + extra + "}";
  };
  rapidjson::Document d = Ok("ExecuteStatement", exec("INSERT INTO music VALUE {'pk': 'a', "
                                                      "'sk': 1, 'plays': 10, 'tags': <<'x'>>}"));
  EXPECT_EQ(0u, Size(d, "Items"));
  for (int sk = 2; sk <= 5; ++sk) {
    Ok("ExecuteStatement",
       exec("INSERT INTO music VALUE ?", R"(,"Parameters":[{"M":{"pk":{"S":"a"},"sk":{"N":")" +
                                             std::to_string(sk) + R"("},"plays":{"N":"0"}}}])"));
  }
  Ok("ExecuteStatement", exec("INSERT INTO music VALUE {'pk': 'b', 'sk': 1}"));
  EXPECT_EQ("Duplicate primary key exists in table",
            Fails("ExecuteStatement", exec("INSERT INTO music VALUE {'pk': 'a', 'sk': 1}"),
                  "DuplicateItemException"));
  EXPECT_EQ(6u, CountItems("music"));

  // A Query by the partition key, in pages.
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    std::string extra = R"(,"Limit":2)";
    if (!token.empty()) extra += R"(,"NextToken":")" + token + R"(")";
    d = Ok("ExecuteStatement", exec("SELECT sk FROM music WHERE pk = 'a' AND sk > 1", extra));
    for (rapidjson::SizeType i = 0; i < d["Items"].Size(); ++i) {
      EXPECT_EQ(1u, d["Items"][i].MemberCount());
      seen.push_back(d["Items"][i]["sk"]["N"].GetString());
    }
    token = Has(d, "NextToken") ? Str(d, "NextToken") : "";
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ((std::vector<std::string>{"2", "3", "4", "5"}), seen);
  EXPECT_GE(pages, 2);
  // A Scan with a filter, parameters and a nested path.
  d = Ok("ExecuteStatement",
         exec("SELECT * FROM music WHERE plays >= ? OR pk = 'b'", R"(,"Parameters":[{"N":"5"}])"));
  EXPECT_EQ(2u, Size(d, "Items"));

  // UPDATE changes an existing item only; DELETE removes one.
  Ok("ExecuteStatement", exec("UPDATE music SET plays = plays + 1 REMOVE tags "
                              "WHERE pk = 'a' AND sk = 1 AND plays = 10"));
  d = Ok("GetItem", R"({"TableName":"music","Key":{"pk":{"S":"a"},"sk":{"N":"1"}}})");
  EXPECT_EQ("11", Str(d, "Item.plays.N"));
  EXPECT_FALSE(Has(d, "Item.tags"));
  Fails("ExecuteStatement",
        exec("UPDATE music SET plays = 0 WHERE pk = 'a' AND sk = 1 AND plays = 10"),
        "ConditionalCheckFailedException");
  Fails("ExecuteStatement", exec("UPDATE music SET plays = 0 WHERE pk = 'zz' AND sk = 1"),
        "ConditionalCheckFailedException");
  ApiResponse failed =
      Call("ExecuteStatement",
           exec("UPDATE music SET plays = 0 WHERE pk = 'a' AND sk = 1 AND plays = 10",
                R"(,"ReturnValuesOnConditionCheckFailure":"ALL_OLD")"));
  EXPECT_EQ("ConditionalCheckFailedException", ErrorName(failed));
  EXPECT_EQ("11", Str(ParseJson(failed.body), "Item.plays.N"));
  EXPECT_EQ(6u, CountItems("music"));
  d = Ok("ExecuteStatement", exec("UPDATE music SET plays = 12 WHERE pk = 'a' AND sk = 1 "
                                  "RETURNING MODIFIED OLD *"));
  EXPECT_EQ(1u, Size(d, "Items"));
  EXPECT_EQ(1u, Size(d, "Items.0"));
  EXPECT_EQ("11", Str(d, "Items.0.plays.N"));
  d = Ok("ExecuteStatement", exec("SELECT sk FROM music WHERE pk = 'a' ORDER BY sk DESC"));
  EXPECT_EQ("5", Str(d, "Items.0.sk.N"));
  EXPECT_EQ("1", Str(d, "Items.4.sk.N"));
  d = Ok("ExecuteStatement",
         exec("DELETE FROM music WHERE pk = 'b' AND sk = 1 RETURNING ALL OLD *"));
  EXPECT_EQ("b", Str(d, "Items.0.pk.S"));
  EXPECT_EQ(5u, CountItems("music"));

  // The stream saw every write, as for the JSON operations.
  d = Records(Iterator("music", "TRIM_HORIZON"));
  std::vector<std::string> events;
  for (rapidjson::SizeType i = 0; i < d["Records"].Size(); ++i) {
    events.push_back(d["Records"][i]["eventName"].GetString());
  }
  EXPECT_EQ((std::vector<std::string>{"INSERT", "INSERT", "INSERT", "INSERT", "INSERT", "INSERT",
                                      "MODIFY", "MODIFY", "REMOVE"}),
            events);

  // Errors.
  Fails("ExecuteStatement", exec("SELECT * FROM nosuch"), "ResourceNotFoundException");
  EXPECT_EQ("Invalid NextToken",
            Fails("ExecuteStatement", exec("SELECT * FROM music", R"(,"NextToken":"!!")"),
                  "ValidationException"));
  EXPECT_EQ("Limit applies only to SELECT statements",
            Fails("ExecuteStatement",
                  exec("DELETE FROM music WHERE pk = 'a' AND sk = 2", R"(,"Limit":1)"),
                  "ValidationException"));
  Fails("ExecuteStatement", exec("SELECT * FROM music WHERE pk = 'a'", R"(,"Parameters":[])"),
        "ValidationException");
  Fails("ExecuteStatement", exec(std::string(8193, ' ')), "ValidationException");
  Fails("ExecuteStatement", "{}", "ValidationException");
  Fails("ExecuteStatement", R"({"Statement":5})", "SerializationException");
  EXPECT_EQ(5u, CountItems("music"));
}

// BatchExecuteStatement: each statement answers for itself, in order;
// ExecuteTransaction: all of its statements or none (TransactWriteItems and
// TransactGetItems underneath).
TEST_F(DynamoDbApiTest, BatchAndTransactionStatements) {
  CreateTable("stmts");
  rapidjson::Document doc;
  doc = Ok("BatchExecuteStatement", R"({"Statements":[
      {"Statement":"INSERT INTO stmts VALUE {'pk':'a','v':1}"},
      {"Statement":"INSERT INTO stmts VALUE {'pk':'b','v':2}"},
      {"Statement":"INSERT INTO stmts VALUE {'pk':'a'}"},
      {"Statement":"UPDATE stmts SET v = 9 WHERE pk = 'b' AND v = 5",
       "ReturnValuesOnConditionCheckFailure":"ALL_OLD"},
      {"Statement":"DELETE FROM nosuch WHERE pk = 'b'"},
      {"Statement":"UPDATE stmts SET v = 9 WHERE pk = ?"}]})");
  ASSERT_EQ(6u, Size(doc, "Responses"));
  EXPECT_EQ("stmts", Str(doc, "Responses.0.TableName"));
  EXPECT_FALSE(Has(doc, "Responses.0.Error"));
  EXPECT_FALSE(Has(doc, "Responses.1.Error"));
  EXPECT_EQ("DuplicateItem", Str(doc, "Responses.2.Error.Code"));
  EXPECT_EQ("ConditionalCheckFailed", Str(doc, "Responses.3.Error.Code"));
  EXPECT_EQ("2", Str(doc, "Responses.3.Error.Item.v.N"));
  EXPECT_EQ("ResourceNotFound", Str(doc, "Responses.4.Error.Code"));
  EXPECT_EQ("ValidationError", Str(doc, "Responses.5.Error.Code"));
  EXPECT_EQ("Number of parameters in request and statement don't match.",
            Str(doc, "Responses.5.Error.Message"));
  EXPECT_EQ(2u, CountItems("stmts"));

  doc = Ok("BatchExecuteStatement", R"({"Statements":[
      {"Statement":"SELECT * FROM stmts WHERE pk = 'a'"},
      {"Statement":"SELECT v FROM stmts WHERE pk = ?","Parameters":[{"S":"b"}],
       "ConsistentRead":true},
      {"Statement":"SELECT * FROM stmts WHERE pk = 'none'"},
      {"Statement":"SELECT * FROM stmts WHERE v = 1"}]})");
  EXPECT_EQ("a", Str(doc, "Responses.0.Item.pk.S"));
  EXPECT_EQ(1u, Size(doc, "Responses.1.Item"));
  EXPECT_EQ("2", Str(doc, "Responses.1.Item.v.N"));
  EXPECT_FALSE(Has(doc, "Responses.2.Item"));
  EXPECT_FALSE(Has(doc, "Responses.2.Error"));
  EXPECT_EQ("ValidationError", Str(doc, "Responses.3.Error.Code"));
  Fails("BatchExecuteStatement", R"({"Statements":[
      {"Statement":"SELECT * FROM stmts WHERE pk = 'a'"},
      {"Statement":"DELETE FROM stmts WHERE pk = 'a'"}]})",
        "ValidationException");
  Fails("BatchExecuteStatement", R"({"Statements":[]})", "ValidationException");
  Fails("BatchExecuteStatement", "{}", "ValidationException");
  Fails("BatchExecuteStatement", R"({"Statements":[{"Statement":7}]})", "SerializationException");

  // A transaction applies all of its writes...
  Ok("ExecuteTransaction", R"({"TransactStatements":[
      {"Statement":"INSERT INTO stmts VALUE {'pk':'c','v':3}"},
      {"Statement":"UPDATE stmts SET v = v + 1 WHERE pk = 'a'"},
      {"Statement":"DELETE FROM stmts WHERE pk = 'b'"}]})");
  // ... or none of them: an INSERT of an existing key cancels it.
  ApiResponse cancelled = Call("ExecuteTransaction", R"({"TransactStatements":[
      {"Statement":"UPDATE stmts SET v = 100 WHERE pk = 'a'"},
      {"Statement":"INSERT INTO stmts VALUE {'pk':'c'}"}]})");
  EXPECT_EQ("TransactionCanceledException", ErrorName(cancelled));
  rapidjson::Document reasons = ParseJson(cancelled.body);
  EXPECT_EQ("None", Str(reasons, "CancellationReasons.0.Code"));
  EXPECT_EQ("DuplicateItem", Str(reasons, "CancellationReasons.1.Code"));
  EXPECT_NE(std::string::npos, ErrorMessage(cancelled).find("[None, DuplicateItem]"));
  doc = Ok("ExecuteTransaction", R"({"TransactStatements":[
      {"Statement":"SELECT * FROM stmts WHERE pk = 'a'"},
      {"Statement":"SELECT pk FROM stmts WHERE pk = 'b'"},
      {"Statement":"SELECT v FROM stmts WHERE pk = 'c'"}]})");
  EXPECT_EQ("2", Str(doc, "Responses.0.Item.v.N"));  // 1 + 1, not 100
  EXPECT_FALSE(Has(doc, "Responses.1.Item"));        // deleted
  EXPECT_EQ("3", Str(doc, "Responses.2.Item.v.N"));
  Fails("ExecuteTransaction", R"({"TransactStatements":[
      {"Statement":"SELECT * FROM stmts WHERE pk = 'a'"},
      {"Statement":"DELETE FROM stmts WHERE pk = 'a'"}]})",
        "ValidationException");
  // EXISTS conditions a transaction's writes on another item.
  cancelled = Call("ExecuteTransaction", R"j({"TransactStatements":[
      {"Statement":"EXISTS(SELECT * FROM stmts WHERE pk = 'a' AND v = 99)"},
      {"Statement":"UPDATE stmts SET v = 100 WHERE pk = 'c'"}]})j");
  EXPECT_EQ("TransactionCanceledException", ErrorName(cancelled));
  EXPECT_EQ("ConditionalCheckFailed", Str(ParseJson(cancelled.body), "CancellationReasons.0.Code"));
  Ok("ExecuteTransaction", R"j({"TransactStatements":[
      {"Statement":"EXISTS(SELECT * FROM stmts WHERE pk = 'a' AND v = 2)"},
      {"Statement":"UPDATE stmts SET v = 4 WHERE pk = 'c'"}]})j");
  doc = Ok("GetItem", R"({"TableName":"stmts","Key":{"pk":{"S":"c"}}})");
  EXPECT_EQ("4", Str(doc, "Item.v.N"));
  EXPECT_EQ(
      "EXISTS is a condition of ExecuteTransaction only",
      Fails("ExecuteStatement", R"j({"Statement":"EXISTS(SELECT * FROM stmts WHERE pk = 'a')"})j",
            "ValidationException"));
  doc = Ok("BatchExecuteStatement",
           R"j({"Statements":[{"Statement":"EXISTS(SELECT * FROM stmts WHERE pk = 'a')"}]})j");
  EXPECT_EQ("ValidationError", Str(doc, "Responses.0.Error.Code"));
  EXPECT_EQ("2", Str(Ok("GetItem", R"({"TableName":"stmts","Key":{"pk":{"S":"a"}}})"), "Item.v.N"));
  Fails("ExecuteTransaction",
        R"({"TransactStatements":[{"Statement":"SELECT * FROM stmts WHERE v = 2"}]})",
        "ValidationException");
  Fails("ExecuteTransaction", R"({"TransactStatements":[{"Statement":"DELETE FROM stmts"}]})",
        "ValidationException");
  EXPECT_EQ("RETURNING applies only to ExecuteStatement",
            Fails("ExecuteTransaction", R"({"TransactStatements":[{"Statement":
                  "DELETE FROM stmts WHERE pk = 'a' RETURNING ALL OLD *"}]})",
                  "ValidationException"));
  doc = Ok("BatchExecuteStatement", R"({"Statements":[{"Statement":
           "UPDATE stmts SET v = 0 WHERE pk = 'a' RETURNING ALL NEW *"}]})");
  EXPECT_EQ("RETURNING applies only to ExecuteStatement", Str(doc, "Responses.0.Error.Message"));
  EXPECT_EQ(2u, CountItems("stmts"));
}

}  // namespace
}  // namespace keystone::daemon
