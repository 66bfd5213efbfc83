#include "lmdb_store/attribute_value.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace keystone::store {

// Readable values in gtest failure messages.
void PrintTo(const AttributeValue& v, std::ostream* os) { *os << v.DebugString(); }

namespace {

using AV = AttributeValue;

Number Num(std::string_view text) { return *Number::Parse(text); }

// A value nested `levels` deep: levels == 1 is a scalar.
AV Nested(int levels, bool use_list) {
  AV v = AV::S("leaf");
  for (int i = 1; i < levels; ++i) {
    v = use_list ? AV::L({v}) : AV::M({{"k", v}});
  }
  return v;
}

TEST(AttributeValueTest, TypeNamesRoundTrip) {
  const std::vector<std::pair<AttributeType, std::string>> all = {
      {AttributeType::kS, "S"},       {AttributeType::kN, "N"},       {AttributeType::kB, "B"},
      {AttributeType::kBool, "BOOL"}, {AttributeType::kNull, "NULL"}, {AttributeType::kM, "M"},
      {AttributeType::kL, "L"},       {AttributeType::kSS, "SS"},     {AttributeType::kNS, "NS"},
      {AttributeType::kBS, "BS"}};
  for (const auto& [type, name] : all) {
    EXPECT_EQ(name, AttributeTypeName(type));
    AttributeType parsed = AttributeType::kNull;
    ASSERT_TRUE(ParseAttributeTypeName(name, &parsed)) << name;
    EXPECT_EQ(type, parsed);
  }
  AttributeType unused = AttributeType::kS;
  EXPECT_FALSE(ParseAttributeTypeName("s", &unused));
  EXPECT_FALSE(ParseAttributeTypeName("", &unused));
  EXPECT_FALSE(ParseAttributeTypeName("STRING", &unused));
  EXPECT_EQ(AttributeType::kS, unused);
}

TEST(AttributeValueTest, FactoriesAndAccessors) {
  EXPECT_EQ(AttributeType::kNull, AV().type());
  EXPECT_TRUE(AV::Null().is(AttributeType::kNull));
  EXPECT_EQ("x", AV::S("x").s());
  EXPECT_EQ(Num("1.5"), AV::N("1.5").n());
  EXPECT_EQ(Num("-7"), AV::N(int64_t{-7}).n());
  EXPECT_EQ(Num("2"), AV::N(Num("2")).n());
  EXPECT_EQ(std::string("\0\1", 2), AV::B(std::string("\0\1", 2)).b());
  EXPECT_TRUE(AV::Bool(true).boolean());
  EXPECT_FALSE(AV::Bool(false).boolean());
  EXPECT_EQ(1u, AV::M({{"a", AV::S("b")}}).m().size());
  EXPECT_EQ(2u, AV::L({AV::S("a"), AV::N(int64_t{1})}).l().size());
  EXPECT_EQ(AttributeType::kS, AV::S("b").type());
  EXPECT_EQ(AttributeType::kB, AV::B("b").type());
}

TEST(AttributeValueTest, SetsAreSortedAndUnique) {
  EXPECT_EQ((std::vector<std::string>{"a", "b", "c"}), AV::SS({"c", "a", "b", "a", "c"}).ss());
  // Byte order is unsigned: 0xFF sorts after 'z', 0x00 first.
  const std::string ff("\xff", 1), zero("\0", 1);
  EXPECT_EQ((std::vector<std::string>{zero, "z", ff}), AV::BS({ff, "z", zero, ff}).bs());
  EXPECT_EQ((std::vector<std::string>{"A", "a", "\xc3\xa9"}), AV::SS({"\xc3\xa9", "a", "A"}).ss());
  // Numeric order, with equal values given in different text collapsing.
  const AV ns = AV::NS({Num("10"), Num("-1"), Num("9.5"), Num("1E1"), Num("0.0"), Num("-0")});
  EXPECT_EQ((std::vector<Number>{Num("-1"), Num("0"), Num("9.5"), Num("10")}), ns.ns());
}

TEST(AttributeValueTest, DeepEquality) {
  EXPECT_EQ(AV::S("a"), AV::S("a"));
  EXPECT_NE(AV::S("a"), AV::B("a"));  // same storage, different type
  EXPECT_NE(AV::S("a"), AV::S("b"));
  EXPECT_EQ(AV::N("1.0"), AV::N("10E-1"));
  EXPECT_NE(AV::N("1"), AV::N("-1"));
  EXPECT_EQ(AV(), AV::Null());
  EXPECT_NE(AV::Bool(true), AV::Bool(false));
  EXPECT_NE(AV::Null(), AV::Bool(false));
  EXPECT_NE(AV::SS({"a"}), AV::BS({"a"}));
  // Set equality does not depend on the order given.
  EXPECT_EQ(AV::SS({"a", "b", "c"}), AV::SS({"c", "b", "a", "b"}));
  EXPECT_EQ(AV::NS({Num("1"), Num("2")}), AV::NS({Num("2.0"), Num("1")}));
  EXPECT_NE(AV::NS({Num("1"), Num("2")}), AV::NS({Num("1")}));
  EXPECT_EQ(AV::BS({"x", "y"}), AV::BS({"y", "x"}));
  // Lists are ordered; maps are not.
  EXPECT_NE(AV::L({AV::S("a"), AV::S("b")}), AV::L({AV::S("b"), AV::S("a")}));
  const AV m1 = AV::M({{"a", AV::N(int64_t{1})}, {"b", AV::L({AV::M({{"c", AV::S("d")}})})}});
  const AV m2 = AV::M({{"b", AV::L({AV::M({{"c", AV::S("d")}})})}, {"a", AV::N("1.00")}});
  const AV m3 = AV::M({{"b", AV::L({AV::M({{"c", AV::S("e")}})})}, {"a", AV::N("1.00")}});
  EXPECT_EQ(m1, m2);
  EXPECT_NE(m1, m3);
  EXPECT_NE(AV::M({}), AV::L({}));
  EXPECT_EQ(AV::M({}), AV::M({}));
}

TEST(AttributeValueTest, CopyOnWriteIsolatesCopies) {
  AV original = AV::M({{"a", AV::S("1")}, {"inner", AV::M({{"x", AV::S("old")}})}});
  AV copy = original;
  EXPECT_EQ(&original.m(), &copy.m());  // shared until written

  copy.mutable_m()["a"] = AV::S("2");
  EXPECT_EQ("1", original.m().at("a").s());
  EXPECT_EQ("2", copy.m().at("a").s());

  // A nested write clones each shared level on the way down.
  copy.mutable_m()["inner"].mutable_m()["x"] = AV::S("new");
  EXPECT_EQ("old", original.m().at("inner").m().at("x").s());
  EXPECT_EQ("new", copy.m().at("inner").m().at("x").s());

  // The sole owner mutates in place.
  const AttributeMap* before = &original.m();
  original.mutable_m()["b"] = AV::Null();
  EXPECT_EQ(before, &original.m());
  EXPECT_EQ(0u, copy.m().count("b"));

  AV list = AV::L({AV::S("a")});
  AV list_copy = list;
  list_copy.mutable_l().push_back(AV::S("b"));
  list.mutable_l()[0] = AV::S("z");
  EXPECT_EQ(AV::L({AV::S("z")}), list);
  EXPECT_EQ(AV::L({AV::S("a"), AV::S("b")}), list_copy);

  // Copies made by containers (an Item copy) are isolated too.
  Item item = {{"doc", AV::M({{"k", AV::S("v")}})}};
  Item item_copy = item;
  item_copy["doc"].mutable_m()["k"] = AV::S("changed");
  EXPECT_EQ("v", item.at("doc").m().at("k").s());
}

TEST(AttributeValueTest, MovedFromContainerReadsEmpty) {
  AV m = AV::M({{"a", AV::S("b")}});
  AV taken = std::move(m);
  EXPECT_EQ(1u, taken.m().size());
  AV l = AV::L({AV::S("a")});
  AV taken_l = std::move(l);
  EXPECT_EQ(1u, taken_l.l().size());
}

TEST(AttributeValueTest, SizeBytes) {
  EXPECT_EQ(0u, AV::S("").SizeBytes());
  EXPECT_EQ(5u, AV::S("hello").SizeBytes());
  EXPECT_EQ(2u, AV::S("\xc3\xa9").SizeBytes());  // UTF-8 bytes, not characters
  EXPECT_EQ(3u, AV::B("abc").SizeBytes());
  EXPECT_EQ(2u, AV::N("1").SizeBytes());
  EXPECT_EQ(3u, AV::N("123").SizeBytes());
  EXPECT_EQ(1u, AV::Bool(true).SizeBytes());
  EXPECT_EQ(1u, AV::Null().SizeBytes());
  EXPECT_EQ(3u, AV::M({}).SizeBytes());
  EXPECT_EQ(3u, AV::L({}).SizeBytes());
  // 3 + ("ab" 2 + "xyz" 3 + 1) + ("c" 1 + BOOL 1 + 1)
  EXPECT_EQ(12u, AV::M({{"ab", AV::S("xyz")}, {"c", AV::Bool(true)}}).SizeBytes());
  // 3 + (3 + 1) + (N 2 + 1)
  EXPECT_EQ(10u, AV::L({AV::S("xyz"), AV::N("5")}).SizeBytes());
  // Nested: 3 + ("m" 1 + (3 + ("k" 1 + 1 + 1)) + 1) = 11
  EXPECT_EQ(11u, AV::M({{"m", AV::M({{"k", AV::S("v")}})}}).SizeBytes());
  EXPECT_EQ(6u, AV::SS({"ab", "cde", "f"}).SizeBytes());
  EXPECT_EQ(4u, AV::BS({"ab", "cd"}).SizeBytes());
  EXPECT_EQ(5u, AV::NS({Num("1"), Num("123")}).SizeBytes());

  const Item item = ItemBuilder().S("pk", "user#1").N("age", 30).Bool("ok", true).Build();
  // (2 + 6) + (3 + 2) + (2 + 1)
  EXPECT_EQ(16u, ItemSizeBytes(item));
  EXPECT_EQ(0u, ItemSizeBytes(Item{}));
}

TEST(AttributeValueTest, Depth) {
  EXPECT_EQ(1, AV::S("x").Depth());
  EXPECT_EQ(1, AV::SS({"x"}).Depth());
  EXPECT_EQ(1, AV::M({}).Depth());
  EXPECT_EQ(2, AV::M({{"a", AV::S("x")}}).Depth());
  EXPECT_EQ(3, AV::L({AV::S("x"), AV::L({AV::Null()})}).Depth());
  EXPECT_EQ(32, Nested(32, false).Depth());
  EXPECT_EQ(40, Nested(40, true).Depth());
}

TEST(AttributeValueTest, DebugString) {
  EXPECT_EQ(R"({"S":"x"})", AV::S("x").DebugString());
  EXPECT_EQ(R"({"S":"a\"b\\c\n\u0001"})", AV::S("a\"b\\c\n\x01").DebugString());
  EXPECT_EQ(R"({"N":"1500"})", AV::N("1.5E3").DebugString());
  EXPECT_EQ(R"({"B":""})", AV::B("").DebugString());
  EXPECT_EQ(R"({"B":"Zg=="})", AV::B("f").DebugString());
  EXPECT_EQ(R"({"B":"Zm8="})", AV::B("fo").DebugString());
  EXPECT_EQ(R"({"B":"Zm9v"})", AV::B("foo").DebugString());
  EXPECT_EQ(R"({"B":"Zm9vYmFy"})", AV::B("foobar").DebugString());
  EXPECT_EQ(R"({"B":"AP8="})", AV::B(std::string("\0\xff", 2)).DebugString());
  EXPECT_EQ(R"({"BOOL":true})", AV::Bool(true).DebugString());
  EXPECT_EQ(R"({"NULL":true})", AV::Null().DebugString());
  EXPECT_EQ(R"({"M":{"a":{"S":"1"},"b":{"L":[{"N":"2"},{"BOOL":false}]}}})",
            AV::M({{"b", AV::L({AV::N("2"), AV::Bool(false)})}, {"a", AV::S("1")}}).DebugString());
  EXPECT_EQ(R"({"L":[]})", AV::L({}).DebugString());
  EXPECT_EQ(R"({"SS":["a","b"]})", AV::SS({"b", "a"}).DebugString());
  EXPECT_EQ(R"({"NS":["-1","0.5"]})", AV::NS({Num("0.5"), Num("-1")}).DebugString());
  EXPECT_EQ(R"({"BS":["Zg==","Zm8="]})", AV::BS({"fo", "f"}).DebugString());
  EXPECT_EQ(R"({"age":{"N":"3"},"pk":{"S":"k"}})",
            ItemDebugString(ItemBuilder().S("pk", "k").N("age", 3).Build()));
  EXPECT_EQ("{}", ItemDebugString(Item{}));
}

TEST(AttributeValueTest, ValidateAcceptsValidValues) {
  EXPECT_TRUE(ValidateValue(AV::S(""), "a").ok());  // empty strings are allowed
  EXPECT_TRUE(ValidateValue(AV::B(""), "a").ok());
  EXPECT_TRUE(ValidateValue(AV::SS({"x"}), "a").ok());
  EXPECT_TRUE(ValidateValue(AV::M({}), "a").ok());
  EXPECT_TRUE(ValidateValue(AV::L({}), "a").ok());
  EXPECT_TRUE(ValidateValue(AV::M({{"", AV::S("")}}), "a").ok());
  EXPECT_TRUE(ValidateValue(Nested(32, false), "a").ok());
  EXPECT_TRUE(ValidateValue(Nested(32, true), "a").ok());
  EXPECT_TRUE(ValidateItem(ItemBuilder().S("pk", "x").Set("d", Nested(32, false)).Build()).ok());
  EXPECT_TRUE(ValidateItem(Item{}).ok());
}

TEST(AttributeValueTest, ValidateRejectsWithPath) {
  struct Case {
    AV value;
    std::string message;
  };
  const std::string invalid = "One or more parameter values were invalid: ";
  const std::vector<Case> cases = {
      {AV::SS({}), invalid + "An string set  may not be empty; attribute: tags"},
      {AV::NS({}), invalid + "An number set  may not be empty; attribute: tags"},
      {AV::BS({}), invalid + "An binary set  may not be empty; attribute: tags"},
      {AV::SS({"a", ""}),
       invalid + "An string set may not have a empty string as a member; attribute: tags"},
      {AV::BS({""}),
       invalid + "An binary set may not have a empty binary as a member; attribute: tags"},
      {AV::M({{"a", AV::L({AV::S("ok"), AV::M({{"b", AV::SS({})}})})}}),
       invalid + "An string set  may not be empty; attribute: tags.a[1].b"},
      {AV::L({AV::Null(), AV::Null(), AV::NS({})}),
       invalid + "An number set  may not be empty; attribute: tags[2]"},
  };
  for (const auto& c : cases) {
    Status s = ValidateValue(c.value, "tags");
    EXPECT_EQ(StatusCode::kInvalidArgument, s.code()) << c.value.DebugString();
    EXPECT_EQ(c.message, s.message());
  }

  Status deep = ValidateValue(Nested(33, false), "doc");
  EXPECT_EQ(StatusCode::kInvalidArgument, deep.code());
  EXPECT_EQ(0u, deep.message().rfind("Nesting Levels have exceeded supported limits", 0))
      << deep.message();
  EXPECT_NE(std::string::npos, deep.message().find("doc.k.k"));
  EXPECT_FALSE(ValidateValue(Nested(33, true), "doc").ok());
  // Deeper values stop at the limit rather than walking everything.
  EXPECT_FALSE(ValidateValue(Nested(5000, true), "doc").ok());

  const Item item = ItemBuilder().S("pk", "x").Set("colors", AV::SS({})).Build();
  Status s = ValidateItem(item);
  EXPECT_EQ(StatusCode::kInvalidArgument, s.code());
  EXPECT_NE(std::string::npos, s.message().find("attribute: colors")) << s.message();
}

TEST(AttributeValueTest, ItemBuilder) {
  const Item user = ItemBuilder()
                        .S("pk", "user#1")
                        .N("age", 30)
                        .N("score", "1.50")
                        .B("blob", "\x01\x02")
                        .Bool("admin", false)
                        .Null("nothing")
                        .Set("tags", AV::SS({"b", "a"}))
                        .Build();
  ASSERT_EQ(7u, user.size());
  EXPECT_EQ(AV::S("user#1"), user.at("pk"));
  EXPECT_EQ(AV::N("30"), user.at("age"));
  EXPECT_EQ(AV::N("1.5"), user.at("score"));
  EXPECT_EQ(AV::B("\x01\x02"), user.at("blob"));
  EXPECT_EQ(AV::Bool(false), user.at("admin"));
  EXPECT_EQ(AV::Null(), user.at("nothing"));
  EXPECT_EQ(AV::SS({"a", "b"}), user.at("tags"));

  // Setting a name twice keeps the last value; Build() on an lvalue copies.
  ItemBuilder builder;
  builder.S("a", "1").S("a", "2");
  const Item first = builder.Build();
  const Item second = builder.Build();
  EXPECT_EQ(first, second);
  EXPECT_EQ(AV::S("2"), first.at("a"));
}

}  // namespace
}  // namespace keystone::store
