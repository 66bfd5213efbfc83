#include "base/wake_batch.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace keystone {
namespace {

// A wake target that records each wake it receives in a shared log.
struct Target {
  std::string name;
  std::vector<std::string>* log;
};

void RecordWake(void* target) {
  auto* t = static_cast<Target*>(target);
  t->log->push_back(t->name);
}

TEST(WakeBatchTest, WithoutABatchTheCallerWakesItself) {
  std::vector<std::string> log;
  Target a{"a", &log};
  EXPECT_FALSE(WakeBatch::Defer(&RecordWake, &a));
  EXPECT_TRUE(log.empty());
}

TEST(WakeBatchTest, EachTargetIsWokenOnceWhenTheBatchCloses) {
  std::vector<std::string> log;
  Target a{"a", &log}, b{"b", &log};
  {
    WakeBatch batch;
    EXPECT_TRUE(WakeBatch::Defer(&RecordWake, &a));
    EXPECT_TRUE(WakeBatch::Defer(&RecordWake, &b));
    EXPECT_TRUE(WakeBatch::Defer(&RecordWake, &a));
    EXPECT_TRUE(log.empty()) << "woken before the batch closed";
  }
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b"}));
  // Closed: wakes are the caller's again.
  EXPECT_FALSE(WakeBatch::Defer(&RecordWake, &a));
}

TEST(WakeBatchTest, OnlyTheOutermostBatchDelivers) {
  std::vector<std::string> log;
  Target a{"a", &log}, b{"b", &log};
  {
    WakeBatch outer;
    {
      WakeBatch inner;
      EXPECT_TRUE(WakeBatch::Defer(&RecordWake, &a));
    }
    EXPECT_TRUE(log.empty()) << "the inner batch delivered";
    EXPECT_TRUE(WakeBatch::Defer(&RecordWake, &b));
    EXPECT_TRUE(WakeBatch::Defer(&RecordWake, &a));
  }
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b"}));
}

TEST(WakeBatchTest, ABatchCoversOnlyItsOwnThread) {
  std::vector<std::string> log;
  Target a{"a", &log};
  WakeBatch batch;
  bool deferred_elsewhere = true;
  std::thread other([&] { deferred_elsewhere = WakeBatch::Defer(&RecordWake, &a); });
  other.join();
  EXPECT_FALSE(deferred_elsewhere);
}

}  // namespace
}  // namespace keystone
