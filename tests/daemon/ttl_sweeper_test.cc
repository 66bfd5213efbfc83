#include "daemon/ttl_sweeper.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "base/clock.h"
#include "tests/lmdb_store/store_test_util.h"

namespace keystone::daemon {
namespace {

using store::ItemBuilder;
using namespace std::chrono_literals;

// Polls `done` until it holds or 30 s pass.
template <typename Condition>
bool Eventually(Condition done) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

class TtlSweeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::testing::OpenStore(dir_.path());
    ASSERT_NE(nullptr, store_);
    ASSERT_TRUE(store_->CreateTable(store::testing::UsersSchema()).ok());
    ASSERT_TRUE(store_->CreateTable(store::testing::EventsSchema()).ok());
  }

  size_t ItemCount(const std::string& table) {
    store::ScanRequest scan;
    scan.table = table;
    auto r = store_->Scan(scan);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->items.size() : 0;
  }

  keystone::testing::TempDir dir_;
  std::unique_ptr<store::ItemStore> store_;
  FakeClock clock_{1'800'000'000'000};
};

// Expired items go over successive passes, each reading a bounded part of
// the table; tables without TTL, and items not yet expired, are left alone;
// expiry follows the clock.
TEST_F(TtlSweeperTest, PassesWorkThroughTablesInBoundedSteps) {
  const int64_t now_s = clock_.NowMs() / 1000;
  for (int i = 0; i < 20; ++i) {
    std::string pk = "u" + std::to_string(i);
    // Even items expired, odd ones an hour ahead.
    int64_t expires = i % 2 == 0 ? now_s - 10 : now_s + 3600;
    ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", pk).N("exp", expires).Build()).ok());
    ASSERT_TRUE(
        store_->Put("events", ItemBuilder().S("pk", pk).N("sk", 1).N("exp", now_s - 10).Build())
            .ok());
  }
  store::TableUpdate enable;
  enable.ttl = store::TimeToLiveConfig{true, "exp"};
  ASSERT_TRUE(store_->UpdateTable("users", enable).ok());

  TtlSweeperOptions options;
  options.interval_ms = 1;
  options.scan_per_pass = 3;  // 20 items: 7 passes to read them all
  options.clock = &clock_;
  TtlSweeper sweeper(*store_, options);
  ASSERT_TRUE(Eventually([&] { return sweeper.expired_total() == 10; })) << sweeper.expired_total();
  EXPECT_EQ(10u, ItemCount("users"));
  EXPECT_EQ(20u, ItemCount("events"));  // TTL not enabled there

  clock_.AdvanceMs(3'600'000);
  ASSERT_TRUE(Eventually([&] { return sweeper.expired_total() == 20; })) << sweeper.expired_total();
  EXPECT_EQ(0u, ItemCount("users"));
  EXPECT_EQ(0u, sweeper.errors_total());

  // A table dropped while the sweeper runs is simply forgotten.
  ASSERT_TRUE(store_->DeleteTable("users").ok());
  ASSERT_TRUE(store_->UpdateTable("events", enable).ok());
  ASSERT_TRUE(Eventually([&] { return ItemCount("events") == 0; }));
  EXPECT_EQ(40u, sweeper.expired_total());
  EXPECT_EQ(0u, sweeper.errors_total());
  sweeper.Stop();
  sweeper.Stop();  // idempotent
}

}  // namespace
}  // namespace keystone::daemon
