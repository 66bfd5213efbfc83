// EventFilter: event types, key prefix, key glob, condition expressions.

#include "cdc/filters.h"

#include <gtest/gtest.h>

#include "tests/cdc/cdc_test_util.h"

namespace keystone::cdc {
namespace {

using store::AttributeType;
using store::Item;
using store::ItemBuilder;
using AV = store::AttributeValue;

store::TableSchema Schema(AttributeType pk_type = AttributeType::kS) {
  store::TableSchema schema;
  schema.name = "users";
  schema.partition_key = {"pk", pk_type};
  schema.sort_key = store::KeyAttribute{"sk", AttributeType::kN};
  return schema;
}

ChangeEvent Change(ChangeOp op, AV pk, std::optional<Item> old_image = std::nullopt,
                   std::optional<Item> new_image = std::nullopt) {
  ChangeEvent e;
  e.op = op;
  e.sequence = 1;
  if (op != ChangeOp::kTruncate) e.keys = {{"pk", pk}, {"sk", AV::N(1)}};
  e.old_image = std::move(old_image);
  e.new_image = std::move(new_image);
  return e;
}

EventFilter Make(const FilterOptions& options, const store::TableSchema& schema = Schema()) {
  auto filter = EventFilter::Create(options, schema);
  EXPECT_TRUE(filter.ok()) << filter.status().ToString();
  return std::move(filter).value();
}

TEST(FilterTest, DefaultPassesEverything) {
  EventFilter f = Make(FilterOptions{});
  EXPECT_TRUE(f.PassesAll());
  for (ChangeOp op : {ChangeOp::kCreate, ChangeOp::kUpdate, ChangeOp::kDelete, ChangeOp::kRead,
                      ChangeOp::kTruncate}) {
    EXPECT_TRUE(f.Matches(Change(op, AV::S("x"))));
  }
}

TEST(FilterTest, EventTypes) {
  FilterOptions o;
  o.event_types = {EventType::kModify, EventType::kTruncate};
  EventFilter f = Make(o);
  EXPECT_FALSE(f.PassesAll());
  EXPECT_FALSE(f.Matches(Change(ChangeOp::kCreate, AV::S("x"))));
  EXPECT_TRUE(f.Matches(Change(ChangeOp::kUpdate, AV::S("x"))));
  EXPECT_FALSE(f.Matches(Change(ChangeOp::kDelete, AV::S("x"))));
  EXPECT_TRUE(f.Matches(Change(ChangeOp::kTruncate, AV::S("x"))));
  // Snapshot reads count as INSERT.
  EXPECT_FALSE(f.Matches(Change(ChangeOp::kRead, AV::S("x"))));
  o.event_types = {EventType::kInsert};
  EXPECT_TRUE(Make(o).Matches(Change(ChangeOp::kRead, AV::S("x"))));
}

TEST(FilterTest, KeyPrefixOnStringNumberAndBinaryKeys) {
  FilterOptions o;
  o.key_prefix = "user#";
  EventFilter f = Make(o);
  EXPECT_TRUE(f.Matches(Change(ChangeOp::kCreate, AV::S("user#1"))));
  EXPECT_FALSE(f.Matches(Change(ChangeOp::kCreate, AV::S("order#1"))));
  EXPECT_FALSE(f.Matches(Change(ChangeOp::kCreate, AV::S("user"))));
  // Truncates have no key; the key filter does not apply to them.
  EXPECT_TRUE(f.Matches(Change(ChangeOp::kTruncate, AV::S(""))));

  o.key_prefix = "12";
  EventFilter n = Make(o, Schema(AttributeType::kN));
  EXPECT_TRUE(n.Matches(Change(ChangeOp::kCreate, AV::N("123.50"))));  // text "123.5"
  EXPECT_FALSE(n.Matches(Change(ChangeOp::kCreate, AV::N("-123"))));

  o.key_prefix = std::string("\x00\x01", 2);
  EventFilter b = Make(o, Schema(AttributeType::kB));
  EXPECT_TRUE(b.Matches(Change(ChangeOp::kCreate, AV::B(std::string("\x00\x01\x02", 3)))));
  EXPECT_FALSE(b.Matches(Change(ChangeOp::kCreate, AV::B(std::string("\x00\x02", 2)))));
}

TEST(FilterTest, GlobMatching) {
  EXPECT_TRUE(GlobMatch("user#*", "user#1"));
  EXPECT_TRUE(GlobMatch("user#*", "user#"));
  EXPECT_FALSE(GlobMatch("user#*", "user"));
  EXPECT_TRUE(GlobMatch("*#1", "order#1"));
  EXPECT_TRUE(GlobMatch("u?er", "user"));
  EXPECT_FALSE(GlobMatch("u?er", "uer"));
  EXPECT_TRUE(GlobMatch("[a-c]x", "bx"));
  EXPECT_FALSE(GlobMatch("[a-c]x", "dx"));
  EXPECT_TRUE(GlobMatch("[!a-c]x", "dx"));
  EXPECT_TRUE(GlobMatch("[^a-c]x", "dx"));
  EXPECT_FALSE(GlobMatch("[!a-c]x", "ax"));
  EXPECT_TRUE(GlobMatch("[]]", "]"));
  EXPECT_TRUE(GlobMatch("a\\*b", "a*b"));
  EXPECT_FALSE(GlobMatch("a\\*b", "axb"));
  EXPECT_TRUE(GlobMatch("*a*b*c*", "xxaxxbxxcxx"));
  EXPECT_FALSE(GlobMatch("*a*b*c*", "xxaxxcxxbxx"));
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_FALSE(GlobMatch("", "a"));
  EXPECT_TRUE(GlobMatch("*", ""));
  // No exponential blow-up on pathological patterns.
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));

  EXPECT_TRUE(ValidateGlob("a[bc]*").ok());
  EXPECT_EQ(StatusCode::kInvalidArgument, ValidateGlob("a[bc").code());
  EXPECT_EQ(StatusCode::kInvalidArgument, ValidateGlob("a\\").code());
}

TEST(FilterTest, KeyGlob) {
  FilterOptions o;
  o.key_glob = "user#[0-4]*";
  EventFilter f = Make(o);
  EXPECT_TRUE(f.Matches(Change(ChangeOp::kUpdate, AV::S("user#42"))));
  EXPECT_FALSE(f.Matches(Change(ChangeOp::kUpdate, AV::S("user#52"))));
  o.key_glob = "[oops";
  auto bad = EventFilter::Create(o, Schema());
  EXPECT_EQ(StatusCode::kInvalidArgument, bad.status().code());
  EXPECT_NE(std::string::npos, bad.status().message().find("key_glob"));
}

TEST(FilterTest, ConditionOnNewImageOldImageForRemoveOrKeys) {
  FilterOptions o;
  o.condition = "#s = :active AND age >= :min";
  o.names = {{"#s", "status"}};
  o.values = {{":active", AV::S("active")}, {":min", AV::N(18)}};
  EventFilter f = Make(o);
  Item adult = ItemBuilder().S("pk", "a").N("sk", 1).S("status", "active").N("age", 30).Build();
  Item minor = ItemBuilder().S("pk", "a").N("sk", 1).S("status", "active").N("age", 12).Build();
  EXPECT_TRUE(f.Matches(Change(ChangeOp::kCreate, AV::S("a"), std::nullopt, adult)));
  EXPECT_FALSE(f.Matches(Change(ChangeOp::kCreate, AV::S("a"), std::nullopt, minor)));
  // MODIFY looks at the new image.
  EXPECT_TRUE(f.Matches(Change(ChangeOp::kUpdate, AV::S("a"), minor, adult)));
  EXPECT_FALSE(f.Matches(Change(ChangeOp::kUpdate, AV::S("a"), adult, minor)));
  // REMOVE looks at the old image.
  EXPECT_TRUE(f.Matches(Change(ChangeOp::kDelete, AV::S("a"), adult, std::nullopt)));
  EXPECT_FALSE(f.Matches(Change(ChangeOp::kDelete, AV::S("a"), minor, std::nullopt)));
  // Without the image (KEYS_ONLY stream) only the keys are there.
  EXPECT_FALSE(f.Matches(Change(ChangeOp::kCreate, AV::S("a"))));
  FilterOptions on_keys;
  on_keys.condition = "begins_with(pk, :p)";
  on_keys.values = {{":p", AV::S("a")}};
  EXPECT_TRUE(Make(on_keys).Matches(Change(ChangeOp::kCreate, AV::S("abc"))));
  EXPECT_FALSE(Make(on_keys).Matches(Change(ChangeOp::kCreate, AV::S("xbc"))));
  // Truncates pass the condition (nothing to evaluate it on).
  EXPECT_TRUE(f.Matches(Change(ChangeOp::kTruncate, AV::S(""))));
}

TEST(FilterTest, AllFiltersMustPass) {
  FilterOptions o;
  o.event_types = {EventType::kInsert};
  o.key_prefix = "user#";
  o.condition = "attribute_exists(email)";
  EventFilter f = Make(o);
  Item with_email = ItemBuilder().S("pk", "user#1").N("sk", 1).S("email", "x@y").Build();
  EXPECT_TRUE(f.Matches(Change(ChangeOp::kCreate, AV::S("user#1"), std::nullopt, with_email)));
  EXPECT_FALSE(f.Matches(Change(ChangeOp::kUpdate, AV::S("user#1"), with_email, with_email)));
  EXPECT_FALSE(f.Matches(Change(ChangeOp::kCreate, AV::S("org#1"), std::nullopt, with_email)));
  EXPECT_FALSE(f.Matches(Change(ChangeOp::kCreate, AV::S("user#1"), std::nullopt,
                                ItemBuilder().S("pk", "user#1").N("sk", 1).Build())));
}

TEST(FilterTest, BadConditionsAreRejected) {
  FilterOptions o;
  o.condition = "age >";
  auto parse_error = EventFilter::Create(o, Schema());
  EXPECT_EQ(StatusCode::kInvalidArgument, parse_error.status().code());
  EXPECT_NE(std::string::npos, parse_error.status().message().find("filters.condition"));
  o.condition = "age > :missing";
  EXPECT_EQ(StatusCode::kInvalidArgument, EventFilter::Create(o, Schema()).status().code());
  o.condition = "age > :a";
  o.values = {{":a", AV::N(1)}, {":unused", AV::N(2)}};
  EXPECT_EQ(StatusCode::kInvalidArgument, EventFilter::Create(o, Schema()).status().code());
}

TEST(FilterTest, KeyText) {
  EXPECT_EQ("abc", KeyText(AV::S("abc")));
  EXPECT_EQ("1200", KeyText(AV::N("1.2E3")));
  EXPECT_EQ(std::string("\x00\xff", 2), KeyText(AV::B(std::string("\x00\xff", 2))));
  EXPECT_EQ("", KeyText(AV::Bool(true)));
}

}  // namespace
}  // namespace keystone::cdc
