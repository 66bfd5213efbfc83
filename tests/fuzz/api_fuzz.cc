// Fuzz target: the DynamoDB and DynamoDB Streams JSON API (DynamoDbApi) on a
// real store, as keystoned's HTTP server calls it.
//
// Input: the operation on the first line ("PutItem", or a whole target such
// as "DynamoDBStreams_20120810.GetRecords"), then the request body.
//
// State: a store (nosync, in a temporary directory, map capped at 256 MiB)
// with tables "items" (key pk, stream NEW_AND_OLD_IMAGES), "events" (keys pk and sk,
// a global index "by_g" on g, a local index "by_n" on n) and a few items in
// each. Inputs change it as requests would; every kInputsPerStore inputs the
// store is thrown away and made again, so a failing input replays against
// nearly the same state it met.
//
// Promises checked beyond not crashing: every answer is HTTP 200 or 400 (500
// is for bugs; the store's map and disk are far from full here); every
// answer is a JSON object; every 400 names its error in __type.

#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "daemon/dynamodb_api.h"
#include "lmdb_store/item_store.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/testing/temp_dir.h"

namespace {

using keystone::daemon::ApiResponse;
using keystone::daemon::DynamoDbApi;
using keystone::fuzz::FuzzFail;

constexpr int kInputsPerStore = 500;

class Fixture {
 public:
  Fixture() { Open(); }
  ~Fixture() { Close(); }

  ApiResponse Handle(std::string_view target, std::string_view body) {
    if (++inputs_ > kInputsPerStore) {
      Close();
      Open();
      inputs_ = 1;
    }
    return api_->Handle(target, body);
  }

 private:
  void Open() {
    std::error_code ec;
    std::filesystem::remove_all(dir_.Sub("store"), ec);
    keystone::store::StoreOptions options;
    options.path = dir_.Sub("store");
    options.sync = false;
    options.max_map_size = 256ull << 20;
    options.clock = &clock_;
    auto store = keystone::store::ItemStore::Open(options);
    if (!store.ok()) FuzzFail("opening the store", store.status().ToString());
    store_ = std::move(store).value();
    keystone::daemon::DynamoDbApiOptions api_options;
    api_options.clock = &clock_;
    api_ = std::make_unique<DynamoDbApi>(*store_, api_options);
    Setup("CreateTable",
          R"({"TableName":"items","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],)"
          R"("AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],)"
          R"("BillingMode":"PAY_PER_REQUEST","StreamSpecification":)"
          R"({"StreamEnabled":true,"StreamViewType":"NEW_AND_OLD_IMAGES"}})");
    Setup("CreateTable",
          R"({"TableName":"events","BillingMode":"PAY_PER_REQUEST",)"
          R"("KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},)"
          R"({"AttributeName":"sk","KeyType":"RANGE"}],)"
          R"("AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},)"
          R"({"AttributeName":"sk","AttributeType":"N"},{"AttributeName":"g","AttributeType":"S"},)"
          R"({"AttributeName":"n","AttributeType":"N"}],)"
          R"("GlobalSecondaryIndexes":[{"IndexName":"by_g","KeySchema":)"
          R"([{"AttributeName":"g","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],)"
          R"("Projection":{"ProjectionType":"ALL"}}],)"
          R"("LocalSecondaryIndexes":[{"IndexName":"by_n","KeySchema":)"
          R"([{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"n","KeyType":"RANGE"}],)"
          R"("Projection":{"ProjectionType":"KEYS_ONLY"}}]})");
    for (int i = 0; i < 3; ++i) {
      std::string n = std::to_string(i);
      Setup("PutItem",
            R"({"TableName":"items","Item":{"pk":{"S":"k)" + n + R"("},"s":{"S":"v"},"n":{"N":")" +
                n + R"("},"l":{"L":[{"S":"a"},{"M":{"x":{"N":"1"}}}]},"ss":{"SS":["a","b"]}}})");
      Setup("PutItem", R"({"TableName":"events","Item":{"pk":{"S":"p"},"sk":{"N":")" + n +
                           R"("},"g":{"S":"g)" + n + R"("},"n":{"N":")" + n + R"("}}})");
    }
  }

  void Setup(std::string_view operation, const std::string& body) {
    ApiResponse r = api_->Handle("DynamoDB_20120810." + std::string(operation), body);
    if (r.http_status != 200) FuzzFail("setting up the fixture failed", r.body);
  }

  void Close() {
    api_.reset();
    store_.reset();
  }

  keystone::testing::TempDir dir_;  // first member: removed last
  keystone::FakeClock clock_;
  std::unique_ptr<keystone::store::ItemStore> store_;
  std::unique_ptr<DynamoDbApi> api_;
  int inputs_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Destroyed at exit, which removes the temporary directory.
  static Fixture fixture;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  std::string_view operation = input.substr(0, newline);
  std::string_view body = newline == std::string_view::npos ? "" : input.substr(newline + 1);
  std::string target(operation);
  if (operation.find('.') == std::string_view::npos) target = "DynamoDB_20120810." + target;

  ApiResponse response = fixture.Handle(target, body);
  if (response.http_status != 200 && response.http_status != 400) {
    FuzzFail("an answer other than 200 or 400 (HTTP " + std::to_string(response.http_status) + ")",
             std::string(input) + "\n=> " + response.body);
  }
  rapidjson::Document answer;
  answer.Parse(response.body.c_str(), response.body.size());
  if (answer.HasParseError() || !answer.IsObject()) {
    FuzzFail("an answer that is not a JSON object", std::string(input) + "\n=> " + response.body);
  }
  if (response.http_status == 400 &&
      (!answer.HasMember("__type") || !answer["__type"].IsString())) {
    FuzzFail("an error without __type", std::string(input) + "\n=> " + response.body);
  }
  return 0;
}
