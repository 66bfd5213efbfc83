// Aggregator: tumbling windows by record time, closed by a later change or by
// the (fake) clock; count/sum/avg/min/max per event type and group; exact
// decimal sums; the encoded window events.

#include "cdc/aggregator.h"

#include <gtest/gtest.h>

#include "tests/cdc/cdc_test_util.h"

namespace keystone::cdc {
namespace {

using store::Item;
using store::ItemBuilder;
using store::Number;
using AV = store::AttributeValue;

constexpr int64_t kT0 = 1'700'000'080'000;  // 40 s into the window [..040'000, ..100'000)

ChangeEvent Order(ChangeOp op, uint64_t seq, int64_t ts, const char* amount,
                  const char* region = "eu") {
  ChangeEvent e;
  e.op = op;
  e.sequence = seq;
  e.timestamp_ms = ts;
  e.keys = ItemBuilder().S("pk", "o" + std::to_string(seq)).Build();
  ItemBuilder b;
  b.S("pk", "o" + std::to_string(seq)).S("region", region);
  if (amount != nullptr) b.N("amount", amount);
  if (op == ChangeOp::kDelete) {
    e.old_image = b.Build();
  } else {
    e.new_image = b.Build();
  }
  return e;
}

AggregateOptions AllFunctions(std::string group_by = "") {
  AggregateOptions o;
  o.window_seconds = 60;
  o.functions = {AggregateFunction::kCount, AggregateFunction::kSum, AggregateFunction::kAvg,
                 AggregateFunction::kMin, AggregateFunction::kMax};
  o.attribute = "amount";
  o.group_by = std::move(group_by);
  return o;
}

TEST(AverageTest, ExactDecimalDivision) {
  auto avg = [](const char* sum, uint64_t n) { return AverageText(*Number::Parse(sum), n); };
  EXPECT_EQ("2.5", avg("5", 2));
  EXPECT_EQ("0.33333333333333333", avg("1", 3));
  EXPECT_EQ("0.66666666666666667", avg("2", 3));  // rounded half away from zero
  EXPECT_EQ("-0.66666666666666667", avg("-2", 3));
  EXPECT_EQ("0", avg("0", 5));
  EXPECT_EQ("100000000000000000000", avg("1E+21", 10));
  EXPECT_EQ("0.0000001", avg("0.000001", 10));
  EXPECT_EQ("12345678901234568", avg("123456789012345678", 10));
  EXPECT_EQ("1", avg("0.99999999999999999999", 1));  // 20 nines round up
  EXPECT_EQ("3.1415926535897932", avg("3.14159265358979323846", 1));
  EXPECT_EQ("0.000000000000000001", avg("1", 1'000'000'000'000'000'000ull));
}

TEST(AggregatorTest, CountsSumsAndExtremesPerEventTypeInOneWindow) {
  Aggregator agg(AllFunctions());
  EXPECT_FALSE(agg.has_open_window());
  EXPECT_FALSE(agg.Add(Order(ChangeOp::kCreate, 1, kT0, "10.10")));
  EXPECT_TRUE(agg.has_open_window());
  EXPECT_EQ(1'700'000'100'000, agg.open_window_end_ms());
  EXPECT_FALSE(agg.Add(Order(ChangeOp::kCreate, 2, kT0 + 1000, "0.2")));
  EXPECT_FALSE(agg.Add(Order(ChangeOp::kCreate, 3, kT0 + 2000, nullptr)));  // no amount
  EXPECT_FALSE(agg.Add(Order(ChangeOp::kUpdate, 4, kT0 + 3000, "-5")));
  EXPECT_FALSE(agg.Add(Order(ChangeOp::kDelete, 5, kT0 + 4000, "99.999")));  // old image
  EXPECT_FALSE(agg.CloseIfDue(kT0 + 19'999));
  auto window = agg.CloseIfDue(kT0 + 20'000);
  ASSERT_TRUE(window.has_value());
  EXPECT_FALSE(agg.has_open_window());
  EXPECT_EQ(1'700'000'040'000, window->start_ms);
  EXPECT_EQ(1'700'000'100'000, window->end_ms);
  EXPECT_EQ(1u, window->first_sequence);
  EXPECT_EQ(5u, window->last_sequence);
  ASSERT_EQ(3u, window->groups.size());
  const AggregateGroup& inserts = window->groups[0];
  EXPECT_EQ(EventType::kInsert, inserts.event_type);
  EXPECT_EQ(3u, inserts.count);
  EXPECT_EQ(2u, inserts.numeric_count);
  EXPECT_EQ("10.3", inserts.sum.ToString());  // exact: not 10.299999...
  EXPECT_EQ("0.2", inserts.min->ToString());
  EXPECT_EQ("10.1", inserts.max->ToString());
  EXPECT_EQ(EventType::kModify, window->groups[1].event_type);
  EXPECT_EQ("-5", window->groups[1].sum.ToString());
  EXPECT_EQ(EventType::kRemove, window->groups[2].event_type);
  EXPECT_EQ("99.999", window->groups[2].max->ToString());
}

TEST(AggregatorTest, AChangeOfALaterWindowClosesTheOpenOne) {
  Aggregator agg(AllFunctions());
  EXPECT_FALSE(agg.Add(Order(ChangeOp::kCreate, 1, kT0, "1")));
  EXPECT_FALSE(agg.Add(Order(ChangeOp::kCreate, 2, kT0 + 19'999, "2")));
  auto closed = agg.Add(Order(ChangeOp::kCreate, 3, kT0 + 20'000, "4"));  // next window
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(2u, closed->groups[0].count);
  EXPECT_EQ(2u, closed->last_sequence);
  EXPECT_TRUE(agg.has_open_window());
  EXPECT_EQ(1'700'000'160'000, agg.open_window_end_ms());
  // A late change (timestamp before the open window) is counted in it.
  EXPECT_FALSE(agg.Add(Order(ChangeOp::kCreate, 4, kT0, "8")));
  auto next = agg.CloseIfDue(1'700'000'160'000);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(2u, next->groups[0].count);
  EXPECT_EQ("12", next->groups[0].sum.ToString());
  EXPECT_EQ(3u, next->first_sequence);
  EXPECT_EQ(4u, next->last_sequence);
}

TEST(AggregatorTest, GroupsByAttributeWithNullForMissing) {
  Aggregator agg(AllFunctions("region"));
  agg.Add(Order(ChangeOp::kCreate, 1, kT0, "1", "us")).reset();
  agg.Add(Order(ChangeOp::kCreate, 2, kT0, "2", "eu")).reset();
  agg.Add(Order(ChangeOp::kCreate, 3, kT0, "3", "us")).reset();
  ChangeEvent no_region;
  no_region.op = ChangeOp::kCreate;
  no_region.sequence = 4;
  no_region.timestamp_ms = kT0;
  no_region.new_image = ItemBuilder().S("pk", "x").N("amount", 5).Build();
  agg.Add(no_region).reset();
  auto w = agg.CloseIfDue(INT64_MAX);
  ASSERT_TRUE(w.has_value());
  ASSERT_EQ(3u, w->groups.size());
  EXPECT_FALSE(w->groups[0].group.has_value());  // null group first
  EXPECT_EQ("eu", *w->groups[1].group);
  EXPECT_EQ("us", *w->groups[2].group);
  EXPECT_EQ(2u, w->groups[2].count);
  EXPECT_EQ("4", w->groups[2].sum.ToString());
}

TEST(AggregatorTest, SumOverflowIsNullNotWrong) {
  Aggregator agg(AllFunctions());
  agg.Add(Order(ChangeOp::kCreate, 1, kT0, "9.9999999999999999999999999999999999999E+125")).reset();
  agg.Add(Order(ChangeOp::kCreate, 2, kT0, "9.9999999999999999999999999999999999999E+125")).reset();
  auto w = agg.CloseIfDue(INT64_MAX);
  EXPECT_TRUE(w->groups[0].sum_overflow);
  std::vector<EncodedEvent> events;
  EncoderOptions enc;
  enc.source = "s";
  enc.table = "orders";
  enc.topic = "t";
  EncodeWindow(*w, AllFunctions(), enc, &events);
  auto doc = testing::ParseJson(*events[0].value);
  EXPECT_TRUE(doc["sum"].IsNull());
  EXPECT_TRUE(doc["avg"].IsNull());
  EXPECT_TRUE(doc["max"].IsNumber());
}

TEST(AggregatorTest, EncodedWindowEvents) {
  Aggregator agg(AllFunctions("region"));
  agg.Add(Order(ChangeOp::kCreate, 11, kT0, "1.5", "eu")).reset();
  agg.Add(Order(ChangeOp::kCreate, 12, kT0, "2", "eu")).reset();
  agg.Add(Order(ChangeOp::kUpdate, 13, kT0, nullptr, "us")).reset();
  auto w = agg.CloseIfDue(INT64_MAX);
  std::vector<EncodedEvent> events;
  EncoderOptions enc;
  enc.source = "orders-agg";
  enc.table = "orders";
  enc.topic = "keystone.orders.agg";
  EncodeWindow(*w, AllFunctions("region"), enc, &events);
  ASSERT_EQ(2u, events.size());
  EXPECT_EQ("keystone.orders.agg", events[0].topic);
  EXPECT_EQ(R"({"window_start":1700000040000,"event_type":"INSERT","group":"eu"})", *events[0].key);
  EXPECT_EQ(R"({"source":"orders-agg","table":"orders","window_start":1700000040000,)"
            R"("window_end":1700000100000,"event_type":"INSERT","group_by":"region","group":"eu",)"
            R"("attribute":"amount","count":2,"sum":3.5,"avg":1.75,"min":1.5,"max":2,)"
            R"("first_seq":11,"last_seq":13})",
            *events[0].value);
  EXPECT_EQ(R"({"source":"orders-agg","table":"orders","window_start":1700000040000,)"
            R"("window_end":1700000100000,"event_type":"MODIFY","group_by":"region","group":"us",)"
            R"("attribute":"amount","count":1,"sum":0,"avg":null,"min":null,"max":null,)"
            R"("first_seq":11,"last_seq":13})",
            *events[1].value);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(13u, events[i].sequence);
    EXPECT_EQ(i, events[i].sub_index);
    EXPECT_EQ("a", testing::Op(events[i]));
    EXPECT_EQ("13", testing::Header(events[i], kHeaderSequence));
    EXPECT_EQ("orders-agg", testing::Header(events[i], kHeaderSource));
  }
}

TEST(AggregatorTest, CountOnlyWithoutAttribute) {
  AggregateOptions o;
  o.window_seconds = 1;
  o.functions = {AggregateFunction::kCount};
  Aggregator agg(o);
  for (uint64_t i = 1; i <= 5; ++i) agg.Add(Order(ChangeOp::kCreate, i, kT0 + 100, "1")).reset();
  auto w = agg.CloseIfDue(kT0 + 1000);
  std::vector<EncodedEvent> events;
  EncoderOptions enc;
  enc.source = "s";
  enc.table = "orders";
  EncodeWindow(*w, o, enc, &events);
  EXPECT_EQ(
      R"({"source":"s","table":"orders","window_start":1700000080000,"window_end":1700000081000,)"
      R"("event_type":"INSERT","group":null,"count":5,"first_seq":1,"last_seq":5})",
      *events[0].value);
}

}  // namespace
}  // namespace keystone::cdc
