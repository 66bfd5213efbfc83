// The delivery check of the end-to-end tests (ExpectDelivered) on synthetic
// topics: it accepts what at-least-once and exactly-once allow and reports
// every kind of violation, so that the crash and fault tests can fail.

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace keystone::e2e {
namespace {

// Events for (key, version, seq) triples on one partition, offsets in order.
std::vector<Event> Partition(int32_t partition,
                             const std::vector<std::tuple<std::string, int64_t, uint64_t>>& list) {
  std::vector<Event> out;
  int64_t offset = 0;
  for (const auto& [key, version, seq] : list) {
    Event e;
    e.partition = partition;
    e.offset = offset++;
    e.key = key;
    e.version = version;
    e.seq = seq;
    out.push_back(e);
  }
  return out;
}

std::vector<Write> Acked(const std::vector<std::pair<std::string, int64_t>>& list) {
  std::vector<Write> out;
  for (const auto& [key, version] : list) out.push_back({key, version, 0});
  return out;
}

TEST(DeliveryCheckTest, AcceptsInOrderDelivery) {
  auto events = Partition(0, {{"a", 1, 1}, {"b", 2, 2}, {"a", 3, 3}});
  ExpectDelivered(events, Acked({{"a", 1}, {"b", 2}, {"a", 3}}), true);
  ExpectDelivered(events, Acked({{"a", 1}, {"b", 2}, {"a", 3}}), false);
}

TEST(DeliveryCheckTest, AtLeastOnceAcceptsReplayedTails) {
  // A crash after seq 3 was stored as position 1: 2 and 3 come again, then 4.
  // Then another crash during the next replay.
  auto events = Partition(0, {{"a", 1, 1},
                              {"b", 2, 2},
                              {"a", 3, 3},
                              {"b", 2, 2},
                              {"a", 3, 3},
                              {"b", 4, 4},
                              {"a", 3, 3},
                              {"b", 4, 4},
                              {"a", 5, 5}});
  ExpectDelivered(events, Acked({{"a", 1}, {"b", 2}, {"a", 3}, {"b", 4}, {"a", 5}}), false);
}

TEST(DeliveryCheckTest, ReportsAMissingWrite) {
  auto events = Partition(0, {{"a", 1, 1}, {"a", 3, 3}});
  EXPECT_NONFATAL_FAILURE(ExpectDelivered(events, Acked({{"a", 1}, {"b", 2}}), false),
                          "acknowledged write b v2 is not in the topic");
}

TEST(DeliveryCheckTest, ReportsRepeatsInExactlyOnce) {
  auto events = Partition(0, {{"a", 1, 1}, {"b", 2, 2}, {"b", 2, 2}});
  EXPECT_NONFATAL_FAILURE(ExpectDelivered(events, Acked({{"a", 1}}), true),
                          "repeated in exactly-once mode");
}

TEST(DeliveryCheckTest, ReportsSequenceGapsInExactlyOnce) {
  auto events = Partition(0, {{"a", 1, 1}, {"b", 2, 3}});
  EXPECT_NONFATAL_FAILURE(ExpectDelivered(events, Acked({{"a", 1}}), true),
                          "sequence numbers missing");
}

TEST(DeliveryCheckTest, ReportsOutOfOrder) {
  auto events = Partition(0, {{"a", 1, 2}, {"b", 2, 1}});
  EXPECT_NONFATAL_FAILURE(ExpectDelivered(events, Acked({}), false),
                          "sequence number out of order");
}

TEST(DeliveryCheckTest, ReportsAReplayThatSkipsPartOfTheTail) {
  auto events = Partition(0, {{"a", 1, 1}, {"b", 2, 2}, {"a", 3, 3}, {"a", 1, 1}, {"a", 3, 3}});
  EXPECT_NONFATAL_FAILURE(ExpectDelivered(events, Acked({}), false),
                          "replay skips part of the tail");
}

TEST(DeliveryCheckTest, ReportsAReplayCutShort) {
  auto events = Partition(0, {{"a", 1, 1}, {"b", 2, 2}, {"a", 3, 3}, {"b", 2, 2}, {"b", 4, 4}});
  EXPECT_NONFATAL_FAILURE(ExpectDelivered(events, Acked({}), false),
                          "replay ended before the partition's tail");
}

TEST(DeliveryCheckTest, ReportsAKeyInTwoPartitions) {
  auto events = Partition(0, {{"a", 1, 1}});
  auto more = Partition(1, {{"a", 2, 2}});
  events.insert(events.end(), more.begin(), more.end());
  EXPECT_NONFATAL_FAILURE(ExpectDelivered(events, Acked({}), false), "key in two partitions");
}

TEST(DeliveryCheckTest, ReportsVersionsGoingBackForAKey) {
  auto events = Partition(0, {{"a", 5, 1}, {"a", 4, 2}});
  EXPECT_NONFATAL_FAILURE(ExpectDelivered(events, Acked({}), false),
                          "version not increasing for its key");
}

}  // namespace
}  // namespace keystone::e2e
