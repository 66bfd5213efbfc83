#include "lmdb_store/key_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace keystone::store {

// Readable values in gtest failure messages.
void PrintTo(const AttributeValue& v, std::ostream* os) { *os << v.DebugString(); }

namespace {

using AV = AttributeValue;

std::string Encode(const AV& v) {
  std::string out;
  AppendOrderedKey(v, &out);
  return out;
}

std::string Prefix(std::string_view raw) {
  std::string out;
  AppendOrderedPrefix(raw, &out);
  return out;
}

// DynamoDB's order for key values of one type.
int CompareValues(const AV& a, const AV& b) {
  if (a.is(AttributeType::kN)) return a.n().Compare(b.n());
  const std::string& x = a.is(AttributeType::kS) ? a.s() : a.b();
  const std::string& y = b.is(AttributeType::kS) ? b.s() : b.b();
  return x.compare(y);  // char_traits<char>::compare is memcmp: unsigned bytes
}

int Sign(int x) { return x < 0 ? -1 : (x > 0 ? 1 : 0); }

std::string RandomBytes(std::mt19937_64& rng, size_t max_len) {
  // Skewed towards the interesting bytes 0x00, 0x01 and 0xFF.
  static constexpr char kAlphabet[] = {'\0', '\x01', '\xff', '\xfe', 'a', 'b', '\x7f', '\x80'};
  std::string s(rng() % (max_len + 1), '\0');
  for (char& c : s) {
    c = rng() % 2 ? kAlphabet[rng() % sizeof(kAlphabet)] : static_cast<char>(rng() % 256);
  }
  return s;
}

Number RandomNumber(std::mt19937_64& rng) {
  if (rng() % 20 == 0) return Number();
  const int n = 1 + static_cast<int>(rng() % Number::kMaxDigits);
  std::string text = rng() % 2 ? "-0." : "0.";
  for (int i = 0; i < n; ++i) {
    char d = static_cast<char>('0' + rng() % 10);
    if ((i == 0 || i == n - 1) && d == '0') d = '7';
    text.push_back(d);
  }
  // Mostly small exponents, so that many numbers collide on exponent and
  // differ in digits only; sometimes the whole range.
  const int span = Number::kMaxExponent - Number::kMinExponent + 1;
  const int exponent = rng() % 4 == 0 ? Number::kMinExponent + static_cast<int>(rng() % span)
                                      : static_cast<int>(rng() % 7) - 3;
  text += "E" + std::to_string(exponent);
  auto parsed = Number::Parse(text);
  EXPECT_TRUE(parsed.ok()) << text;
  return *parsed;
}

// Sorting by encoding gives the same order as sorting by value, and equal
// encodings mean equal values.
void ExpectOrderPreserved(const std::vector<AV>& values) {
  std::vector<std::pair<std::string, AV>> encoded;
  for (const auto& v : values) encoded.emplace_back(Encode(v), v);
  for (size_t i = 0; i < encoded.size(); ++i) {
    for (size_t j = 0; j < encoded.size(); ++j) {
      ASSERT_EQ(Sign(CompareValues(encoded[i].second, encoded[j].second)),
                Sign(encoded[i].first.compare(encoded[j].first)))
          << encoded[i].second.DebugString() << " vs " << encoded[j].second.DebugString();
    }
  }
}

void ExpectRoundTrip(const AV& v) {
  const std::string enc = Encode(v);
  // Trailing bytes are left in place for the next value.
  const std::string with_tail = enc + "tail";
  std::string_view in = with_tail;
  auto decoded = DecodeOrderedKey(v.type(), &in);
  ASSERT_TRUE(decoded.ok()) << v.DebugString() << ": " << decoded.status().ToString();
  EXPECT_EQ(v, *decoded);
  EXPECT_EQ("tail", in);
}

TEST(KeyCodecTest, NumbersInOrder) {
  const std::vector<std::string> ordered = {
      "-9.9999999999999999999999999999999999999E+125",
      "-1E+125",
      "-100",
      "-10.01",
      "-10",
      "-9.99",
      "-9.9",
      "-1.01",
      "-1",
      "-0.5",
      "-1E-129",
      "-9.9999999999999999999999999999999999999E-130",
      "-1E-130",
      "0",
      "1E-130",
      "1.0000000000000000000000000000000000001E-130",
      "0.5",
      "0.505",
      "0.51",
      "1",
      "1.0000000000000000000000000000000000001",
      "1.01",
      "1.1",
      "1.5",
      "9.99",
      "10",
      "10.5",
      "99",
      "99.5",
      "100",
      "12345678901234567890123456789012345678",
      "1E+125",
      "9.99E+125",
      "9.9999999999999999999999999999999999999E+125",
  };
  std::vector<std::string> encodings;
  for (const auto& text : ordered) {
    encodings.push_back(Encode(AV::N(text)));
    ExpectRoundTrip(AV::N(text));
  }
  for (size_t i = 1; i < encodings.size(); ++i) {
    EXPECT_LT(encodings[i - 1], encodings[i]) << ordered[i - 1] << " < " << ordered[i];
  }
  // Equal values in different text encode identically.
  EXPECT_EQ(Encode(AV::N("1")), Encode(AV::N("1.000")));
  EXPECT_EQ(Encode(AV::N("0")), Encode(AV::N("-0.0")));
  EXPECT_EQ(std::string("\x02", 1), Encode(AV::N("0")));
}

TEST(KeyCodecTest, StringsAndBinariesInOrder) {
  const std::vector<std::string> ordered = {
      std::string(),
      std::string("\0", 1),
      std::string("\0\0", 2),
      std::string("\0\x01", 2),
      std::string("\0\xff", 2),
      std::string("\x01", 1),
      "a",
      std::string("a\0", 2),
      std::string("a\0\0", 3),
      std::string("a\0b", 3),
      std::string("a\x01", 2),
      "aa",
      "ab",
      "b",
      "\x7f",
      "\x80",
      "\xc3\xa9",  // é, UTF-8 bytes compare unsigned
      "\xff",
      std::string("\xff\0", 2),
      "\xff\xff",
  };
  for (auto make : {&AV::S, &AV::B}) {
    std::vector<std::string> encodings;
    for (const auto& raw : ordered) {
      const AV v = make(raw);
      encodings.push_back(Encode(v));
      ExpectRoundTrip(v);
    }
    for (size_t i = 1; i < encodings.size(); ++i) {
      EXPECT_LT(encodings[i - 1], encodings[i]) << i;
    }
  }
  EXPECT_EQ(std::string("a\0\xff\0\x01", 5), Encode(AV::S(std::string("a\0", 2))));
  EXPECT_EQ(std::string("\0\x01", 2), Encode(AV::B("")));
}

TEST(KeyCodecTest, RandomValuesKeepOrderAndRoundTrip) {
  std::mt19937_64 rng(20240601);
  std::vector<AV> numbers, strings, binaries;
  for (int i = 0; i < 400; ++i) {
    numbers.push_back(AV::N(RandomNumber(rng)));
    strings.push_back(AV::S(RandomBytes(rng, 6)));
    binaries.push_back(AV::B(RandomBytes(rng, 6)));
  }
  // Near neighbours: same digits, different exponent; extended digits.
  numbers.push_back(AV::N("123"));
  numbers.push_back(AV::N("12.3"));
  numbers.push_back(AV::N("1230"));
  numbers.push_back(AV::N("-123"));
  numbers.push_back(AV::N("-1231"));
  numbers.push_back(AV::N("-1230"));
  for (const auto* set : {&numbers, &strings, &binaries}) {
    for (const auto& v : *set) ExpectRoundTrip(v);
    ExpectOrderPreserved(*set);
  }
}

TEST(KeyCodecTest, PartitionAndSortKeyConcatenationOrders) {
  std::mt19937_64 rng(7);
  struct Key {
    AV pk, sk;
    std::string encoded;
  };
  std::vector<Key> keys;
  for (int i = 0; i < 600; ++i) {
    Key k{AV::S(RandomBytes(rng, 3)), AV::N(RandomNumber(rng)), {}};
    if (i % 3 == 0) k.sk = AV::N(static_cast<int64_t>(rng() % 5) - 2);
    AppendOrderedKey(k.pk, &k.encoded);
    AppendOrderedKey(k.sk, &k.encoded);
    keys.push_back(std::move(k));
  }
  std::vector<Key> by_value = keys;
  std::stable_sort(by_value.begin(), by_value.end(), [](const Key& a, const Key& b) {
    const int c = CompareValues(a.pk, b.pk);
    return c != 0 ? c < 0 : CompareValues(a.sk, b.sk) < 0;
  });
  std::vector<Key> by_encoding = keys;
  std::stable_sort(by_encoding.begin(), by_encoding.end(),
                   [](const Key& a, const Key& b) { return a.encoded < b.encoded; });
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(by_value[i].pk, by_encoding[i].pk) << i;
    EXPECT_EQ(0, CompareValues(by_value[i].sk, by_encoding[i].sk)) << i;
  }
  // The concatenation decodes back into its two parts.
  for (const auto& k : keys) {
    std::string_view in = k.encoded;
    auto pk = DecodeOrderedKey(AttributeType::kS, &in);
    auto sk = DecodeOrderedKey(AttributeType::kN, &in);
    ASSERT_TRUE(pk.ok() && sk.ok());
    EXPECT_EQ(k.pk, *pk);
    EXPECT_EQ(k.sk, *sk);
    EXPECT_TRUE(in.empty());
  }
  // B partition key with an S sort key: one partition is one contiguous range.
  std::vector<std::pair<std::string, std::string>> rows;  // encoded, raw pk
  for (const std::string& pk : std::vector<std::string>{"a", std::string("a\0", 2), "ab", ""}) {
    for (const std::string& sk : std::vector<std::string>{"", "\xff", "z", std::string("\0", 1)}) {
      std::string enc;
      AppendOrderedKey(AV::B(pk), &enc);
      AppendOrderedKey(AV::S(sk), &enc);
      rows.emplace_back(enc, pk);
    }
  }
  std::sort(rows.begin(), rows.end());
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_LE(rows[i - 1].second, rows[i].second);  // pks never interleave
  }
}

TEST(KeyCodecTest, PrefixMatchesExactlyTheValuesWithThatPrefix) {
  std::mt19937_64 rng(99);
  std::vector<std::string> raws = {"", "a", std::string("a\0", 2), "ab", "b", std::string("\0", 1)};
  for (int i = 0; i < 300; ++i) raws.push_back(RandomBytes(rng, 4));
  for (const auto& prefix : raws) {
    const std::string encoded_prefix = Prefix(prefix);
    for (const auto& raw : raws) {
      const bool has_prefix =
          raw.compare(0, prefix.size(), prefix) == 0 && raw.size() >= prefix.size();
      const std::string enc = Encode(AV::S(raw));
      EXPECT_EQ(has_prefix, enc.compare(0, encoded_prefix.size(), encoded_prefix) == 0 &&
                                enc.size() >= encoded_prefix.size());
    }
  }
  EXPECT_EQ(std::string("a\0\xff", 3), Prefix(std::string("a\0", 2)));
  EXPECT_EQ("", Prefix(""));
  std::string out = "x";
  AppendOrderedPrefix("yz", &out);
  EXPECT_EQ("xyz", out);  // appends
}

TEST(KeyCodecTest, MalformedInputIsInternalAndConsumesNothing) {
  struct Case {
    AttributeType type;
    std::string bytes;
  };
  const std::vector<Case> cases = {
      {AttributeType::kS, ""},
      {AttributeType::kS, "abc"},
      {AttributeType::kS, std::string("abc\0", 4)},
      {AttributeType::kS, std::string("a\0\x02", 3)},
      {AttributeType::kB, std::string("a\0\xff", 3)},
      {AttributeType::kN, ""},
      {AttributeType::kN, "\x04"},
      {AttributeType::kN, std::string("\x03", 1)},
      {AttributeType::kN, std::string("\x03\x81", 2)},            // no terminator
      {AttributeType::kN, std::string("\x03\x81\0", 3)},          // no digits
      {AttributeType::kN, std::string("\x03\x81\x66\0", 4)},      // digit byte 102
      {AttributeType::kN, std::string("\x03\x81\x01\x02\0", 5)},  // leading zero pair
      {AttributeType::kN, std::string("\x03\x81\x02\x01\0", 5)},  // trailing "00" pair
      {AttributeType::kN, std::string("\x03\x81") + std::string(20, '\x0c') + '\0'},  // 40 digits
      {AttributeType::kN, std::string("\x01\x7e\xfe", 3)},  // negative, unterminated
      {AttributeType::kBool, std::string("\x01", 1)},
      {AttributeType::kM, ""},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    std::string_view in = c.bytes;
    auto r = DecodeOrderedKey(c.type, &in);
    ASSERT_FALSE(r.ok()) << i;
    EXPECT_EQ(StatusCode::kInternal, r.status().code()) << i;
    EXPECT_EQ(c.bytes, in) << i;
  }
}

TEST(KeyCodecTest, DecodesHandWrittenEncodings) {
  // Positive, exponent byte 0xFF (126), digit pair "10": 0.1 × 10^126.
  const std::string bytes("\x03\xff\x0b\0", 4);
  std::string_view in = bytes;
  auto r = DecodeOrderedKey(AttributeType::kN, &in);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(AV::N("1E+125"), *r);
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(bytes, Encode(AV::N("1E+125")));
  // The same magnitude negated: every byte after the class inverted.
  EXPECT_EQ(std::string("\x01\x00\xf4\xff", 4), Encode(AV::N("-1E+125")));
}

TEST(KeyCodecTest, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 5000; ++i) {
    const std::string bytes = RandomBytes(rng, 24);
    for (AttributeType t : {AttributeType::kS, AttributeType::kN, AttributeType::kB}) {
      std::string_view in = bytes;
      auto r = DecodeOrderedKey(t, &in);
      if (r.ok()) {
        // Whatever decodes re-encodes to exactly the bytes consumed.
        EXPECT_EQ(bytes.substr(0, bytes.size() - in.size()), Encode(*r));
      }
    }
  }
}

}  // namespace
}  // namespace keystone::store
