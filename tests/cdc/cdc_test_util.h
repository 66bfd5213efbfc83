#pragma once

// Helpers for CDC tests: a real ItemStore in a TempDir with a FakeClock,
// source options and runtime suited to deterministic tests, and polling.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <functional>
#include <memory>
#include <string>

#include "base/clock.h"
#include "cdc/source.h"
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

// Creates the table with its stream (if `schema` has one) enabled just after
// creation rather than at it, so the stream does not hold the table's whole
// history and a source snapshots the table on first start: the path most
// tests here exercise. (With the stream on from creation a source streams
// from the start instead; see SourceTest.WholeHistory*.)
inline Status CreateTableWithLateStream(store::ItemStore& store, store::TableSchema schema) {
  store::StreamConfig stream = schema.stream;
  schema.stream.enabled = false;
  KS_RETURN_IF_ERROR(store.CreateTable(schema));
  if (!stream.enabled) return Status::Ok();
  return store.UpdateStream(schema.name, stream).status();
}

// Options for deterministic tests: partial batches go out at once.
inline SourceOptions TestOptions(std::string name = "src", std::string table = "users") {
  SourceOptions options;
  options.name = std::move(name);
  options.table = std::move(table);
  options.batch_timeout_ms = 0;
  return options;
}

// Positions are stored after every step that advances them.
inline SourceRuntime TestRuntime(Clock* clock) {
  SourceRuntime runtime;
  runtime.clock = clock;
  runtime.position_save_interval_ms = 0;
  runtime.idle_wait_ms = 20;
  return runtime;
}

// Calls PollOnce until `done()` or `max_steps` steps; true if done.
inline bool PollUntil(Source& source, const std::function<bool()>& done, int max_steps = 100000) {
  for (int i = 0; i < max_steps; ++i) {
    if (done()) return true;
    source.PollOnce().IgnoreError();
  }
  return done();
}

// Steps and acknowledges everything until the source has read and published
// all there is (nothing pending, position at the table's newest record).
inline bool Drain(Source& source, FakeSink& sink, store::ItemStore& store,
                  const std::string& table = "users", int max_steps = 100000) {
  for (int i = 0; i < max_steps; ++i) {
    source.PollOnce().IgnoreError();
    sink.AckAll();
    auto info = store.GetStreamInfo(table);
    SourceStatus status = source.GetStatus();
    if (status.state == SourceState::kFailed) return false;
    if (info.ok() && sink.InFlight() == 0 && status.in_flight_records == 0 &&
        !status.snapshot_running && source.position().sequence >= info->latest_sequence) {
      return true;
    }
  }
  return false;
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
