// The README's library example, kept compiling and true.

#include <gtest/gtest.h>

#include "lmdb_store/item_store.h"
#include "tests/testing/temp_dir.h"

namespace keystone::store {
namespace {

TEST(ReadmeExampleTest, CreatePutUpdateReadStream) {
  keystone::testing::TempDir dir;
  auto store = ItemStore::Open({.path = dir.path()}).value();
  TableSchema users{.name = "users",
                    .partition_key = {"pk", AttributeType::kS},
                    .stream = {.enabled = true, .view_type = StreamViewType::kNewAndOldImages}};
  store->CreateTable(users).IgnoreError();
  store->Put("users", ItemBuilder().S("pk", "user#1").S("name", "Alice").N("age", 30).Build())
      .value();
  store
      ->Update("users", ItemBuilder().S("pk", "user#1").Build(), "SET age = age + :one",
               {{":one", AttributeValue::N(1)}})
      .value();
  std::vector<StreamEventType> types;
  StreamBatch batch = store->ReadStream("users", /*after=*/0, 100).value();
  for (const StreamRecord& r : batch.records) {
    types.push_back(r.type);
    if (r.type == StreamEventType::kModify) {
      EXPECT_EQ(AttributeValue::N(30), r.old_image->at("age"));
      EXPECT_EQ(AttributeValue::N(31), r.new_image->at("age"));
    }
  }
  EXPECT_EQ((std::vector<StreamEventType>{StreamEventType::kInsert, StreamEventType::kModify}),
            types);
}

}  // namespace
}  // namespace keystone::store
