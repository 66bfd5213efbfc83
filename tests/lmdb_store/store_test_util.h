#pragma once

// Helpers for tests that use a real ItemStore in a temporary directory.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "lmdb_store/item_store.h"
#include "tests/testing/temp_dir.h"

namespace keystone::store::testing {

using AV = AttributeValue;

inline TableSchema UsersSchema(StreamViewType view = StreamViewType::kNewAndOldImages,
                               uint64_t buffer_size = kDefaultStreamBufferSize) {
  TableSchema schema;
  schema.name = "users";
  schema.partition_key = {"pk", AttributeType::kS};
  schema.stream = {true, view, buffer_size};
  return schema;
}

inline TableSchema EventsSchema() {
  TableSchema schema;
  schema.name = "events";
  schema.partition_key = {"pk", AttributeType::kS};
  schema.sort_key = KeyAttribute{"sk", AttributeType::kN};
  return schema;
}

inline std::unique_ptr<ItemStore> OpenStore(const std::string& path, StoreOptions options = {}) {
  options.path = path;
  options.sync = false;  // tests do not need fsync; the crash test checks durability
  auto store = ItemStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

inline Item Key(std::string pk) { return ItemBuilder().S("pk", std::move(pk)).Build(); }
inline Item Key(std::string pk, int64_t sk) {
  return ItemBuilder().S("pk", std::move(pk)).N("sk", sk).Build();
}

}  // namespace keystone::store::testing
