#pragma once

// Helpers for CDC tests: a real ItemStore in a TempDir with a FakeClock.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>

#include "base/clock.h"
#include "cdc/event_sink.h"
#include "lmdb_store/item_store.h"
#include "tests/cdc/fake_sink.h"
#include "tests/lmdb_store/store_test_util.h"
#include "tests/testing/temp_dir.h"

namespace keystone::cdc::testing {

using store::AttributeValue;
using store::Item;
using store::ItemBuilder;
using store::testing::Key;
using AV = store::AttributeValue;

// A store in a temporary directory whose record timestamps come from `clock`.
struct TestStore {
  explicit TestStore(store::StoreOptions options = {}) : options_(std::move(options)) { Open(); }
  void Open() {
    store.reset();
    store::StoreOptions options = options_;
    options.clock = &clock;
    store = store::testing::OpenStore(dir.path(), options);
  }
  store::ItemStore& operator*() { return *store; }
  store::ItemStore* operator->() { return store.get(); }

  keystone::testing::TempDir dir;
  FakeClock clock{1'700'000'000'000};
  store::StoreOptions options_;
  std::unique_ptr<store::ItemStore> store;
};

inline store::TableSchema Users(
    store::StreamViewType view = store::StreamViewType::kNewAndOldImages,
    uint64_t buffer_size = 1'000'000) {
  return store::testing::UsersSchema(view, buffer_size);
}

inline std::string Op(const EncodedEvent& e) { return Header(e, kHeaderOp); }
inline uint64_t SeqHeader(const EncodedEvent& e) { return std::stoull(Header(e, kHeaderSequence)); }

inline rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  EXPECT_FALSE(doc.HasParseError()) << text;
  return doc;
}

}  // namespace keystone::cdc::testing
