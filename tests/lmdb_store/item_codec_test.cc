#include "lmdb_store/item_codec.h"

#include <gtest/gtest.h>

#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace keystone::store {

// Readable values in gtest failure messages.
void PrintTo(const AttributeValue& v, std::ostream* os) { *os << v.DebugString(); }

namespace {

using AV = AttributeValue;

Number Num(std::string_view text) { return *Number::Parse(text); }

std::string EncodeToString(const Item& item) {
  std::string out;
  EncodeItem(item, &out);
  return out;
}

AV Nested(int levels) {
  AV v = AV::N(int64_t{1});
  for (int i = 1; i < levels; ++i) v = i % 2 ? AV::M({{"k", v}}) : AV::L({v});
  return v;
}

// One attribute of every type, nested containers, empty strings and a big
// binary with every byte value.
Item EveryType() {
  std::string big;
  for (int i = 0; i < 300000; ++i) big.push_back(static_cast<char>(i * 7));
  return ItemBuilder()
      .S("s", "hello \xc3\xa9")
      .S("empty_s", "")
      .N("n", "-12.345E-7")
      .N("zero", 0)
      .N("max", "9.9999999999999999999999999999999999999E+125")
      .N("min", "-1E-130")
      .N("odd", "123")
      .B("b", std::string("\0\x01\xff", 3))
      .B("empty_b", "")
      .B("big", big)
      .Bool("t", true)
      .Bool("f", false)
      .Null("null")
      .Set("m",
           AV::M({{"a", AV::S("x")},
                  {"", AV::L({})},
                  {"inner", AV::M({{"l", AV::L({AV::N(int64_t{1}), AV::Null(), AV::M({})})}})}}))
      .Set("empty_m", AV::M({}))
      .Set("l", AV::L({AV::S(""), AV::SS({"z", "a"}), AV::L({AV::Bool(true)})}))
      .Set("ss", AV::SS({"b", "a", "c"}))
      .Set("ns", AV::NS({Num("1"), Num("-2.5"), Num("1E+100"), Num("0")}))
      .Set("bs", AV::BS({std::string("\0", 1), "\xff", "x"}))
      .Set("deep", Nested(33))
      .Build();
}

// A typical ~200-byte item for the speed check.
Item TypicalItem(int i) {
  return ItemBuilder()
      .S("pk", "user#" + std::to_string(i))
      .S("sk", "profile")
      .S("name", "Alice Example")
      .S("email", "alice@example.com")
      .N("age", 30 + i % 50)
      .N("balance", "1234.56")
      .Bool("admin", false)
      .Set("tags", AV::SS({"red", "green", "blue"}))
      .Set("address", AV::M({{"street", AV::S("1 Main St")},
                             {"city", AV::S("Springfield")},
                             {"zip", AV::S("12345")}}))
      .Build();
}

// Records what a ValueVisitor is shown, one token per call.
class TraceVisitor : public ValueVisitor {
 public:
  std::string trace;

  void OnString(std::string_view s) override { Add("S", s); }
  void OnBinary(std::string_view b) override { Add("B", b); }
  void OnNumber(std::string_view text) override { Add("N", text); }
  void OnBool(bool b) override { Add("BOOL", b ? "1" : "0"); }
  void OnNull() override { Add("NULL", ""); }
  void OnBeginMap(size_t count) override { Add("{", std::to_string(count)); }
  void OnName(std::string_view name) override { Add("name", name); }
  void OnEndMap() override { Add("}", ""); }
  void OnBeginList(AttributeType type, size_t count) override {
    Add("[" + std::string(AttributeTypeName(type)), std::to_string(count));
  }
  void OnEndList() override { Add("]", ""); }

 private:
  void Add(std::string_view what, std::string_view text) {
    trace.append(what);
    trace += ':';
    trace.append(text);
    trace += '\n';
  }
};

TEST(ItemCodecTest, RoundTripsEveryType) {
  const Item item = EveryType();
  const std::string encoded = EncodeToString(item);
  auto decoded = DecodeItem(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(item, *decoded);
  // Encoding is deterministic.
  EXPECT_EQ(encoded, EncodeToString(*decoded));
}

TEST(ItemCodecTest, RoundTripsEmptyItem) {
  const std::string encoded = EncodeToString(Item{});
  EXPECT_EQ(std::string("\x01\x00", 2), encoded);
  auto decoded = DecodeItem(encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->empty());
}

TEST(ItemCodecTest, EncodeAppends) {
  std::string out = "prefix";
  EncodeItem(ItemBuilder().S("a", "b").Build(), &out);
  ASSERT_EQ(0u, out.rfind("prefix", 0));
  auto decoded = DecodeItem(std::string_view(out).substr(6));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(ItemBuilder().S("a", "b").Build(), *decoded);
}

TEST(ItemCodecTest, ValuesRoundTripAndConsumeExactly) {
  const Item item = EveryType();
  std::string buffer;
  for (const auto& [name, value] : item) EncodeValue(value, &buffer);
  buffer += "tail";
  std::string_view in = buffer;
  for (const auto& [name, value] : item) {
    auto decoded = DecodeValue(&in);
    ASSERT_TRUE(decoded.ok()) << name << ": " << decoded.status().ToString();
    EXPECT_EQ(value, *decoded) << name;
  }
  EXPECT_EQ("tail", in);
}

TEST(ItemCodecTest, CompactLayout) {
  std::string out;
  EncodeValue(AV::S("ab"), &out);
  EXPECT_EQ(std::string("\x01\x02"
                        "ab",
                        4),
            out);
  out.clear();
  EncodeValue(AV::N("-12.3"), &out);  // 0.123 × 10^2: exponent 2 + 129
  EXPECT_EQ(std::string("\x02\x02\x83\x03\x12\x30", 6), out);
  out.clear();
  EncodeValue(AV::N("0"), &out);
  EXPECT_EQ(std::string("\x02\x00", 2), out);
  out.clear();
  EncodeValue(AV::Bool(true), &out);
  EXPECT_EQ(std::string("\x04\x01", 2), out);
  out.clear();
  EncodeValue(AV::S(std::string(200, 'x')), &out);
  EXPECT_EQ(std::string("\x01\xc8\x01", 3), out.substr(0, 3));  // two-byte varint
  // A typical item costs little more than its DynamoDB size.
  const Item typical = TypicalItem(1);
  EXPECT_LT(EncodeToString(typical).size(), ItemSizeBytes(typical) + 40);
}

TEST(ItemCodecTest, NestingLimit) {
  std::string ok;
  EncodeValue(Nested(kMaxDecodeDepth), &ok);
  std::string_view in = ok;
  EXPECT_TRUE(DecodeValue(&in).ok());

  std::string too_deep;
  EncodeValue(Nested(kMaxDecodeDepth + 1), &too_deep);
  in = too_deep;
  auto r = DecodeValue(&in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(StatusCode::kInternal, r.status().code());
  EXPECT_NE(std::string::npos, r.status().message().find("nesting too deep"));

  // Hand-made: 100000 nested list headers must not recurse 100000 times.
  std::string bomb;
  for (int i = 0; i < 100000; ++i) bomb += std::string("\x07\x01", 2);
  in = bomb;
  EXPECT_FALSE(DecodeValue(&in).ok());
}

TEST(ItemCodecTest, TruncationAtEveryOffsetIsAnError) {
  Item item = EveryType();
  item.erase("big");  // keep the quadratic loop fast
  const std::string encoded = EncodeToString(item);
  for (size_t len = 0; len < encoded.size(); ++len) {
    auto r = DecodeItem(std::string_view(encoded).substr(0, len));
    ASSERT_FALSE(r.ok()) << "decoded a prefix of length " << len;
    EXPECT_EQ(StatusCode::kInternal, r.status().code());
    EXPECT_NE(std::string::npos, r.status().message().find("corrupt item encoding")) << len;
  }
  std::string value;
  EncodeValue(item.at("m"), &value);
  for (size_t len = 0; len < value.size(); ++len) {
    std::string_view in = std::string_view(value).substr(0, len);
    const std::string_view before = in;
    ASSERT_FALSE(DecodeValue(&in).ok()) << len;
    EXPECT_EQ(before, in);  // nothing consumed on error
  }
}

TEST(ItemCodecTest, CorruptInputsAreRejected) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "truncated"},
      {std::string("\x02\x00", 2), "unknown item format version 2"},
      {std::string("\x01\x00x", 3), "trailing bytes"},
      {std::string("\x01\x01\x01"
                   "a\x0b",
                   5),
       "unknown type tag 11"},
      {std::string("\x01\x01\x01"
                   "a\x00",
                   5),
       "unknown type tag 0"},
      {std::string("\x01\x02\x01"
                   "b\x05\x01"
                   "a\x05",
                   8),
       "not ascending"},
      {std::string("\x01\x02\x01"
                   "a\x05\x01"
                   "a\x05",
                   8),
       "not ascending"},
      {std::string("\x01\x01\x01"
                   "a\x04\x02",
                   6),
       "bad boolean"},
      {std::string("\x01\x01\x01"
                   "a\x01\x05xy",
                   8),
       "length exceeds"},
      {std::string("\x01\x01\x01"
                   "a\x07\xff\xff\xff\x0f",
                   9),
       "count exceeds"},
      {std::string("\x01\x01\x01"
                   "a\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
                   16),
       "varint"},
      {std::string("\x01\x01\x01"
                   "a\x02\x03\x81\x01\x10",
                   9),
       "bad number sign"},
      {std::string("\x01\x01\x01"
                   "a\x02\x01\x81\x00",
                   8),
       "bad number digit count"},
      {std::string("\x01\x01\x01"
                   "a\x02\x01\x81\x27",
                   8),
       "bad number digit count"},
      {std::string("\x01\x01\x01"
                   "a\x02\x01\x81\x01\xa0",
                   9),
       "bad number digit"},
      {std::string("\x01\x01\x01"
                   "a\x02\x01\x81\x01\x11",
                   9),
       "bad number padding"},
      {std::string("\x01\x01\x01"
                   "a\x02\x01\x81\x02\x01",
                   9),
       "not normalised"},
      {std::string("\x01\x01\x01"
                   "a\x02\x01\x81\x02\x10",
                   9),
       "not normalised"},
      {std::string("\x01\x01\x01"
                   "a\x02\x01\x81\x03\x12",
                   9),
       "truncated number"},
      // SS {"b", "a"}, SS {"a", "a"}, NS {2, 1}: stored sets are sorted and unique.
      {std::string("\x01\x01\x01"
                   "a\x08\x02\x01"
                   "b\x01"
                   "a",
                   10),
       "set members not ascending and unique"},
      {std::string("\x01\x01\x01"
                   "a\x08\x02\x01"
                   "a\x01"
                   "a",
                   10),
       "set members not ascending and unique"},
      {std::string("\x01\x01\x01"
                   "a\x09\x02\x01\x82\x01\x20\x01\x82\x01\x10",
                   14),
       "set members not ascending and unique"},
  };
  for (const auto& [bytes, expected] : cases) {
    auto r = DecodeItem(bytes);
    ASSERT_FALSE(r.ok()) << expected;
    EXPECT_EQ(StatusCode::kInternal, r.status().code());
    EXPECT_NE(std::string::npos, r.status().message().find(expected))
        << expected << " vs " << r.status().message();
    TraceVisitor visitor;
    EXPECT_EQ(r.status().ToString(), VisitEncodedItem(bytes, visitor).ToString()) << expected;
  }
  // The control case for the hand-written bytes above: "a" = 0.1 × 10^1.
  auto ok =
      DecodeItem(std::string("\x01\x01\x01"
                             "a\x02\x01\x82\x01\x10",
                             9));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ItemBuilder().N("a", 1).Build(), *ok);
}

TEST(ItemCodecTest, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(42);
  const std::string valid = EncodeToString(TypicalItem(7));
  int decoded_ok = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      // Pure noise, often with a valid version byte so decoding gets going.
      bytes.resize(rng() % 64);
      for (char& c : bytes) c = static_cast<char>(rng() % 256);
      if (!bytes.empty() && rng() % 2) bytes[0] = '\x01';
    } else {
      // A valid encoding with a few bytes flipped: the hard case.
      bytes = valid;
      for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) {
        bytes[rng() % bytes.size()] = static_cast<char>(rng() % 256);
      }
    }
    auto r = DecodeItem(bytes);
    if (r.ok()) {
      ++decoded_ok;
      // Whatever decodes is a well-formed item that re-encodes canonically.
      auto again = DecodeItem(EncodeToString(*r));
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(*r, *again);
    } else {
      EXPECT_EQ(StatusCode::kInternal, r.status().code());
    }
    std::string_view in = bytes;
    DecodeValue(&in).IgnoreError();
  }
  EXPECT_LT(decoded_ok, 20000);
}

TEST(ItemCodecTest, VisitingAnEncodingMatchesVisitingTheItem) {
  const Item item = EveryType();
  TraceVisitor from_bytes, from_item;
  ASSERT_TRUE(VisitEncodedItem(EncodeToString(item), from_bytes).ok());
  VisitItem(item, from_item);
  EXPECT_EQ(from_item.trace, from_bytes.trace);
  // Numbers come as Number::ToString's text, in full.
  for (const char* n : {"-12.345E-7", "9.9999999999999999999999999999999999999E+125", "-1E-130"}) {
    EXPECT_NE(std::string::npos, from_bytes.trace.find("N:" + Num(n).ToString() + "\n")) << n;
  }
  EXPECT_NE(std::string::npos, from_bytes.trace.find("name:zero\nN:0\n"));
  EXPECT_NE(std::string::npos, from_bytes.trace.find("name:ss\n[SS:3\nS:a\nS:b\nS:c\n]:\n"));
  EXPECT_EQ(0u, from_bytes.trace.rfind("{:" + std::to_string(item.size()) + "\n", 0));

  TraceVisitor empty;
  ASSERT_TRUE(VisitEncodedItem(EncodeToString(Item{}), empty).ok());
  EXPECT_EQ("{:0\n}:\n", empty.trace);
}

TEST(ItemCodecTest, VisitingRejectsWhatDecodingRejects) {
  Item item = EveryType();
  item.erase("big");
  const std::string encoded = EncodeToString(item);
  for (size_t len = 0; len < encoded.size(); ++len) {
    TraceVisitor visitor;
    std::string_view prefix = std::string_view(encoded).substr(0, len);
    Status visited = VisitEncodedItem(prefix, visitor);
    ASSERT_FALSE(visited.ok()) << len;
    EXPECT_EQ(DecodeItem(prefix).status().ToString(), visited.ToString()) << len;
  }
  std::mt19937_64 rng(7);
  const std::string valid = EncodeToString(TypicalItem(3));
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = valid;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) {
      bytes[rng() % bytes.size()] = static_cast<char>(rng() % 256);
    }
    TraceVisitor visitor;
    Status visited = VisitEncodedItem(bytes, visitor);
    Result<Item> decoded = DecodeItem(bytes);
    ASSERT_EQ(decoded.ok(), visited.ok()) << i << ": " << visited.ToString();
    if (visited.ok()) {
      ++accepted;
      TraceVisitor again;
      VisitItem(*decoded, again);
      EXPECT_EQ(again.trace, visitor.trace) << i;
    } else {
      EXPECT_EQ(decoded.status().ToString(), visited.ToString()) << i;
    }
  }
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, 20000);
}

}  // namespace
}  // namespace keystone::store
