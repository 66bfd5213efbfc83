#include "kafka_sink/event_position.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace keystone::kafka {
namespace {

std::vector<HeaderView> Headers(
    std::initializer_list<std::pair<std::string_view, std::optional<std::string_view>>> list) {
  std::vector<HeaderView> out;
  for (const auto& [name, value] : list) out.push_back(HeaderView{name, value});
  return out;
}

TEST(EventPositionTest, ParsesSequenceAlone) {
  auto pos = ParsePosition(Headers({{"keystone.op", "c"}, {"keystone.seq", "42"}}));
  ASSERT_TRUE(pos.has_value());
  EXPECT_EQ(42u, pos->sequence);
  EXPECT_EQ(0u, pos->sub_index);
  EXPECT_FALSE(pos->snapshot);
}

TEST(EventPositionTest, ParsesSubIndexAndSnapshotOrdinal) {
  auto pos = ParsePosition(Headers({{"keystone.seq", "7"}, {"keystone.sub", "1"}}));
  ASSERT_TRUE(pos.has_value());
  EXPECT_EQ((EventPosition{.sequence = 7, .sub_index = 1}), *pos);

  pos = ParsePosition(Headers({{"keystone.snap", "120"}, {"keystone.seq", "9"}}));
  ASSERT_TRUE(pos.has_value());
  EXPECT_EQ((EventPosition{.sequence = 9, .snapshot = true, .snapshot_ordinal = 120}), *pos);

  pos = ParsePosition(Headers({{"keystone.seq", "18446744073709551615"}}));
  ASSERT_TRUE(pos.has_value());
  EXPECT_EQ(18446744073709551615ull, pos->sequence);
}

TEST(EventPositionTest, RejectsMissingZeroAndMalformed) {
  EXPECT_FALSE(ParsePosition({}).has_value());
  EXPECT_FALSE(ParsePosition(Headers({{"keystone.op", "h"}})).has_value());
  EXPECT_FALSE(ParsePosition(Headers({{"keystone.seq", std::nullopt}})).has_value());
  for (std::string_view bad : {"", "0", "-1", "+1", "01", "1a", " 1", "1.0", "0x10",
                               "18446744073709551616", "99999999999999999999"}) {
    EXPECT_FALSE(ParsePosition(Headers({{"keystone.seq", bad}})).has_value()) << bad;
  }
  // A malformed companion header makes the message untrusted.
  EXPECT_FALSE(ParsePosition(Headers({{"keystone.seq", "5"}, {"keystone.sub", "x"}})));
  EXPECT_FALSE(ParsePosition(Headers({{"keystone.seq", "5"}, {"keystone.sub", "4294967296"}})));
  EXPECT_FALSE(ParsePosition(Headers({{"keystone.seq", "5"}, {"keystone.snap", std::nullopt}})));
  // Header names are case-sensitive.
  EXPECT_FALSE(ParsePosition(Headers({{"Keystone.Seq", "5"}})).has_value());
}

TEST(EventPositionTest, LastOccurrenceOfARepeatedHeaderWins) {
  auto pos = ParsePosition(Headers({{"keystone.seq", "5"}, {"keystone.seq", "6"}}));
  ASSERT_TRUE(pos.has_value());
  EXPECT_EQ(6u, pos->sequence);
}

TEST(EventPositionTest, OrderFollowsTheSourceOutputOrder) {
  EventPosition stream5{.sequence = 5};
  EventPosition stream5_tomb{.sequence = 5, .sub_index = 1};
  EventPosition stream6{.sequence = 6};
  EventPosition snap5_0{.sequence = 5, .snapshot = true, .snapshot_ordinal = 0};
  EventPosition snap5_9{.sequence = 5, .snapshot = true, .snapshot_ordinal = 9};
  EventPosition snap4_999{.sequence = 4, .snapshot = true, .snapshot_ordinal = 999};
  EXPECT_LT(stream5, stream5_tomb);
  EXPECT_LT(stream5_tomb, stream6);
  // A snapshot at S comes before the stream that resumes after S.
  EXPECT_LT(snap5_0, snap5_9);
  EXPECT_LT(snap5_9, stream5);
  EXPECT_LT(snap4_999, snap5_0);
  EXPECT_LE(stream5, stream5);
  EXPECT_EQ(stream5, (EventPosition{.sequence = 5}));
}

TEST(EventPositionTest, PositionOfEvent) {
  cdc::EncodedEvent e;
  EXPECT_FALSE(PositionOf(e).has_value());  // sequence 0: a heartbeat
  e.sequence = 3;
  e.sub_index = 1;
  EXPECT_EQ((EventPosition{.sequence = 3, .sub_index = 1}), *PositionOf(e));
  e.snapshot = true;
  e.snapshot_ordinal = 17;
  EXPECT_EQ(
      (EventPosition{.sequence = 3, .snapshot = true, .snapshot_ordinal = 17, .sub_index = 1}),
      *PositionOf(e));
}

TEST(EventPositionTest, AddPositionHeadersRoundTrips) {
  cdc::EncodedEvent e;
  e.sequence = 12;
  e.sub_index = 1;
  e.headers = {{"keystone.op", "d"}};
  AddPositionHeaders(e);
  std::vector<HeaderView> views;
  for (const auto& [n, v] : e.headers) views.push_back({n, v});
  EXPECT_EQ(PositionOf(e), ParsePosition(views));
  EXPECT_EQ(3u, e.headers.size());

  // Headers the source set are kept, not repeated.
  cdc::EncodedEvent s;
  s.sequence = 9;
  s.snapshot = true;
  s.snapshot_ordinal = 0;
  s.headers = {{"keystone.seq", "9"}};
  AddPositionHeaders(s);
  ASSERT_EQ(2u, s.headers.size());
  EXPECT_EQ("keystone.snap", s.headers[1].first);
  EXPECT_EQ("0", s.headers[1].second);

  // Heartbeats carry no position.
  cdc::EncodedEvent h;
  AddPositionHeaders(h);
  EXPECT_TRUE(h.headers.empty());
}

TEST(EventPositionTest, ToString) {
  EXPECT_EQ("seq 4", (EventPosition{.sequence = 4}).ToString());
  EXPECT_EQ("seq 4 sub 1", (EventPosition{.sequence = 4, .sub_index = 1}).ToString());
  EXPECT_EQ("seq 4 snapshot 2",
            (EventPosition{.sequence = 4, .snapshot = true, .snapshot_ordinal = 2}).ToString());
}

}  // namespace
}  // namespace keystone::kafka
