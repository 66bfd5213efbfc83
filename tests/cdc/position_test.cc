// CdcPosition: the payload codec and storage through ItemStore positions.

#include "cdc/position.h"

#include <gtest/gtest.h>

#include "tests/cdc/cdc_test_util.h"

namespace keystone::cdc {
namespace {

using testing::Key;
using testing::TestStore;
using testing::Users;

CdcPosition SnapshotPosition() {
  CdcPosition p;
  p.source = "users-to-kafka";
  p.table = "users";
  p.sequence = 1234567000000ull;
  p.snapshot.active = true;
  p.snapshot.reason = SnapshotReason::kGap;
  p.snapshot.last_key = store::ItemBuilder().S("pk", "user#42").N("sk", "-1.5").Build();
  p.snapshot.chunk_sequence = 1234567890000ull;
  p.snapshot.stream_sequence = 1234567890100ull;
  p.snapshot.items = 77;
  p.snapshot.high_water_key = store::ItemBuilder().S("pk", "user#99").N("sk", 3).Build();
  p.snapshot.started_ms = 1'700'000'000'123;
  return p;
}

TEST(PositionTest, PayloadRoundTripsWithAndWithoutSnapshot) {
  SnapshotProgress to_end = SnapshotPosition().snapshot;
  to_end.high_water_key.reset();
  to_end.read_to_end = true;
  for (const SnapshotProgress& in : {SnapshotProgress{}, SnapshotPosition().snapshot, to_end}) {
    SnapshotProgress out;
    out.items = 999;  // overwritten
    ASSERT_TRUE(DecodePositionPayload(EncodePositionPayload(in), &out).ok());
    EXPECT_EQ(in, out);
  }
}

TEST(PositionTest, CorruptPayloadsAreInternalErrors) {
  std::string good = EncodePositionPayload(SnapshotPosition().snapshot);
  SnapshotProgress out;
  // Every truncation of a valid payload is rejected.
  for (size_t n = 0; n < good.size(); ++n) {
    Status s = DecodePositionPayload(good.substr(0, n), &out);
    EXPECT_EQ(StatusCode::kInternal, s.code()) << n;
  }
  std::string bad_version = good;
  bad_version[0] = 9;
  EXPECT_EQ(StatusCode::kInternal, DecodePositionPayload(bad_version, &out).code());
  std::string bad_reason = good;
  bad_reason[2] = 0;
  EXPECT_EQ(StatusCode::kInternal, DecodePositionPayload(bad_reason, &out).code());
  std::string trailing = EncodePositionPayload(SnapshotProgress{}) + "x";
  EXPECT_EQ(StatusCode::kInternal, DecodePositionPayload(trailing, &out).code());
}

TEST(PositionTest, ReaderPositionConversion) {
  CdcPosition p = SnapshotPosition();
  store::ReaderPosition stored = ToReaderPosition(p, false);
  EXPECT_EQ("cdc:users-to-kafka", stored.name);
  EXPECT_EQ("users", stored.table);
  EXPECT_EQ(p.sequence, stored.sequence);
  EXPECT_FALSE(stored.pins);
  auto back = FromReaderPosition(stored);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(p, *back);

  stored.name = "someone-else";
  EXPECT_EQ(StatusCode::kInvalidArgument, FromReaderPosition(stored).status().code());
}

TEST(PositionTest, SaveLoadDeleteThroughTheStore) {
  TestStore store;
  ASSERT_TRUE(store->CreateTable(Users()).ok());
  auto none = LoadCdcPosition(*store, "users-to-kafka");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  store.clock.SetMs(1'700'000'555'000);
  CdcPosition p = SnapshotPosition();
  ASSERT_TRUE(SaveCdcPosition(*store, p).ok());
  auto loaded = LoadCdcPosition(*store, "users-to-kafka");
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ(1'700'000'555'000, (*loaded)->updated_ms);
  (*loaded)->updated_ms = 0;
  EXPECT_EQ(p, **loaded);

  // Survives reopening the store.
  store.Open();
  loaded = LoadCdcPosition(*store, "users-to-kafka");
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ(p.snapshot, (*loaded)->snapshot);

  ASSERT_TRUE(DeleteCdcPosition(*store, "users-to-kafka").ok());
  EXPECT_FALSE(LoadCdcPosition(*store, "users-to-kafka")->has_value());
  EXPECT_TRUE(DeleteCdcPosition(*store, "users-to-kafka").ok());  // absent is fine
}

TEST(PositionTest, StoredPositionPinsTheStream) {
  TestStore store;
  ASSERT_TRUE(store->CreateTable(Users(store::StreamViewType::kNewAndOldImages, 2)).ok());
  CdcPosition p;
  p.source = "s";
  p.table = "users";
  p.sequence = 0;
  ASSERT_TRUE(SaveCdcPosition(*store, p).ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->Put("users", Key("u" + std::to_string(i))).ok());
  auto read = store->ReadStream("users", 0, 100);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(10u, read->records.size());  // nothing trimmed past the pin
}

}  // namespace
}  // namespace keystone::cdc
