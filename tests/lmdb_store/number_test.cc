#include "lmdb_store/number.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace keystone::store {
namespace {

Number N(std::string_view text) {
  auto n = Number::Parse(text);
  EXPECT_TRUE(n.ok()) << text << ": " << n.status().ToString();
  return n.ok() ? *n : Number();
}

const std::string k38Nines(38, '9');

TEST(NumberTest, ParsesValidText) {
  struct Case {
    std::string text;
    std::string canonical;
  };
  const std::vector<Case> cases = {
      {"0", "0"},
      {"-0", "0"},
      {"+0", "0"},
      {"0.000", "0"},
      {"000", "0"},
      {"0e999999999999999999999", "0"},
      {"-0.0e-5", "0"},
      {"1", "1"},
      {"+7", "7"},
      {"-1", "-1"},
      {"123", "123"},
      {"1200", "1200"},
      {"-0012.3400e+2", "-1234"},
      {".5", "0.5"},
      {"5.", "5"},
      {"-.5", "-0.5"},
      {"0.005", "0.005"},
      {"-0.005", "-0.005"},
      {"1E+3", "1000"},
      {"1e3", "1000"},
      {"1.5E-3", "0.0015"},
      {"12.34", "12.34"},
      {"1234.5e-2", "12.345"},
      {"00000000000000000000000000000000000000000000000001", "1"},
      {"1.00000000000000000000000000000000000000000000000000", "1"},
      {"1E-130", "0." + std::string(129, '0') + "1"},
      {"9.9999999999999999999999999999999999999E+125", k38Nines + std::string(88, '0')},
      {k38Nines, k38Nines},
      {"0." + k38Nines, "0." + k38Nines},
      {"10E-1", "1"},
      {"100e-2", "1"},
  };
  for (const auto& c : cases) {
    auto n = Number::Parse(c.text);
    ASSERT_TRUE(n.ok()) << c.text << ": " << n.status().ToString();
    EXPECT_EQ(c.canonical, n->ToString()) << c.text;
    // The canonical text parses back to the same value.
    EXPECT_EQ(*n, N(n->ToString())) << c.text;
  }
}

TEST(NumberTest, RejectsMalformedText) {
  const std::vector<std::string> cases = {
      "",
      "abc",
      "1e",
      "1e+",
      "--1",
      "-",
      "+",
      ".",
      "-.",
      "e5",
      ".e1",
      "NaN",
      "nan",
      "Infinity",
      "-Infinity",
      "inf",
      " 1",
      "1 ",
      "1 2",
      "0x10",
      "0X1F",
      "1.2.3",
      "1e5.5",
      "1e--5",
      "1-",
      "1,000",
      "1_000",
      "١",
      std::string("1\0", 2),
      "++1",
      "1ee5",
      "1e5e5",
  };
  for (const auto& text : cases) {
    auto n = Number::Parse(text);
    ASSERT_FALSE(n.ok()) << "accepted '" << text << "'";
    EXPECT_EQ(StatusCode::kInvalidArgument, n.status().code());
    EXPECT_EQ("A value provided cannot be converted into a number", n.status().message());
  }
}

TEST(NumberTest, EnforcesPrecisionAndRange) {
  struct Case {
    std::string text;
    std::string message_prefix;
  };
  const std::string precision = "Attempting to store more than 38 significant digits in a Number";
  const std::string overflow = "Number overflow.";
  const std::string underflow = "Number underflow.";
  const std::vector<Case> cases = {
      {std::string(39, '9'), precision},
      {"1." + std::string(37, '0') + "1", precision},
      {"0." + std::string(39, '1'), precision},
      {"1E+126", overflow},
      {"-1E+126", overflow},
      {"10E+125", overflow},
      {"1e999999999999999999999999", overflow},
      {"9.99999999999999999999999999999999999999E+125", precision},
      {"1E-131", underflow},
      {"-0.1E-130", underflow},
      {"1e-999999999999999999999999", underflow},
  };
  for (const auto& c : cases) {
    auto n = Number::Parse(c.text);
    ASSERT_FALSE(n.ok()) << c.text;
    EXPECT_EQ(StatusCode::kInvalidArgument, n.status().code());
    EXPECT_EQ(0u, n.status().message().rfind(c.message_prefix, 0))
        << c.text << ": " << n.status().message();
  }
  // Trailing and leading zeros do not count as significant digits.
  EXPECT_TRUE(Number::Parse(k38Nines + "000000").ok());
  EXPECT_TRUE(Number::Parse("0.000000" + k38Nines).ok());
  EXPECT_TRUE(Number::Parse("1E+125").ok());
  EXPECT_TRUE(Number::Parse("-1E-130").ok());
}

TEST(NumberTest, NormalisedRepresentationIsUnique) {
  const std::vector<std::vector<std::string>> groups = {
      {"1", "1.0", "10E-1", "0.1e1", "+1", "001.000", "100e-2"},
      {"0", "-0", "0.0", "0e10", "-0.000e-99"},
      {"-1234", "-0012.3400e+2", "-1.234E3"},
      {"0.5", ".5", "5e-1", "50E-2"},
  };
  for (const auto& group : groups) {
    const Number first = N(group[0]);
    for (const auto& text : group) {
      const Number n = N(text);
      EXPECT_EQ(first, n) << group[0] << " vs " << text;
      EXPECT_EQ(0, first.Compare(n));
      EXPECT_EQ(first.digits(), n.digits());
      EXPECT_EQ(first.exponent(), n.exponent());
      EXPECT_EQ(first.negative(), n.negative());
    }
  }
  const Number zero = N("-0");
  EXPECT_TRUE(zero.is_zero());
  EXPECT_FALSE(zero.negative());
  EXPECT_EQ(Number(), zero);
  EXPECT_EQ("1234", N("-12.34e2").digits());
  EXPECT_EQ(4, N("-12.34e2").exponent());
}

TEST(NumberTest, Accessors) {
  const Number n = N("0.00120");
  EXPECT_EQ("12", n.digits());
  EXPECT_EQ(-2, n.exponent());
  EXPECT_FALSE(n.negative());
  EXPECT_TRUE(N("-3").negative());
  EXPECT_TRUE(N("0").digits().empty());
}

TEST(NumberTest, AddAndSubtract) {
  struct Case {
    std::string a, b, sum;
    std::string difference;  // empty: Subtract must fail
  };
  const std::vector<Case> cases = {
      {"1", "2", "3", "-1"},
      {"0", "0", "0", "0"},
      {"0", "5", "5", "-5"},
      {"5", "0", "5", "5"},
      {"-5", "0", "-5", "-5"},
      {"9", "1", "10", "8"},             // carry into a new digit
      {"999", "1", "1000", "998"},       // carry chain
      {"0.999", "0.001", "1", "0.998"},  // carry across the point
      {"1", "-1", "0", "2"},             // cancellation to zero
      {"-1", "1", "0", "-2"},
      {"1.5", "-1.5", "0", "3"},
      {"3", "-5", "-2", "8"},  // sign change
      {"-3", "5", "2", "-8"},
      {"-3", "-5", "-8", "2"},
      {"1000", "0.001", "1000.001", "999.999"},  // different exponents
      {"1E+10", "1E-10", "10000000000.0000000001", "9999999999.9999999999"},
      {"100", "-99.99", "0.01", "199.99"},  // heavy cancellation
      {"0.1", "0.2", "0.3", "-0.1"},
      {"1.0001", "-1", "0.0001", "2.0001"},
      {"123456789", "987654321", "1111111110", "-864197532"},
      {k38Nines, "-" + k38Nines, "0", ""},  // the difference needs 39 digits
      {"1E+125", "1E+125", "2" + std::string(125, '0'), "0"},
      {"1E-130", "1E-130", "0." + std::string(129, '0') + "2", "0"},
  };
  for (const auto& c : cases) {
    const Number a = N(c.a), b = N(c.b);
    auto sum = a.Add(b);
    ASSERT_TRUE(sum.ok()) << c.a << " + " << c.b << ": " << sum.status().ToString();
    EXPECT_EQ(c.sum, sum->ToString()) << c.a << " + " << c.b;
    auto commuted = b.Add(a);
    ASSERT_TRUE(commuted.ok());
    EXPECT_EQ(*sum, *commuted);
    auto diff = a.Subtract(b);
    if (c.difference.empty()) {  // not representable
      EXPECT_FALSE(diff.ok()) << c.a << " - " << c.b;
      continue;
    }
    ASSERT_TRUE(diff.ok()) << c.a << " - " << c.b << ": " << diff.status().ToString();
    EXPECT_EQ(c.difference, diff->ToString()) << c.a << " - " << c.b;
  }
}

TEST(NumberTest, ArithmeticRejectsWhatCannotBeStored) {
  // 38 nines + 1 = 1E38: one significant digit, fine.
  auto ok = N(k38Nines).Add(N("1"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ("1" + std::string(38, '0'), ok->ToString());
  struct Case {
    std::string a, b, message_prefix;
  };
  const std::vector<Case> cases = {
      // 39 significant digits.
      {k38Nines, "0.1", "Attempting to store more than 38 significant digits"},
      {"1E+20", "1E-20", "Attempting to store more than 38 significant digits"},
      {"1" + std::string(37, '0'), "0.5", "Attempting to store more than 38 significant digits"},
      {"9.9999999999999999999999999999999999999E+125", "1E+88", "Number overflow."},
      {"-9.9999999999999999999999999999999999999E+125", "-1E+88", "Number overflow."},
  };
  for (const auto& c : cases) {
    auto r = N(c.a).Add(N(c.b));
    ASSERT_FALSE(r.ok()) << c.a << " + " << c.b << " = " << r->ToString();
    EXPECT_EQ(StatusCode::kInvalidArgument, r.status().code());
    EXPECT_EQ(0u, r.status().message().rfind(c.message_prefix, 0)) << r.status().message();
  }
  // Underflow: the difference of two in-range values below 1E-130 cannot
  // happen with aligned digits, but precision can: 1E-100 - 1E-130 needs 31
  // digits (fine), 1E-80 - 1E-130 needs 51 (rejected).
  EXPECT_TRUE(N("1E-100").Subtract(N("1E-130")).ok());
  EXPECT_FALSE(N("1E-80").Subtract(N("1E-130")).ok());
}

TEST(NumberTest, CompareAcrossSignsAndExponents) {
  // Strictly increasing.
  const std::vector<std::string> ordered = {
      "-9.9999999999999999999999999999999999999E+125",
      "-1E+125",
      "-100",
      "-10",
      "-9.99",
      "-9.9",
      "-1.5",
      "-1",
      "-0.5",
      "-0.05",
      "-1E-130",
      "0",
      "1E-130",
      "2E-130",
      "0.05",
      "0.5",
      "0.51",
      "1",
      "1.0000000000000000000000000000000000001",
      "1.5",
      "9.99",
      "10",
      "10.5",
      "100",
      "1E+125",
      "9.9999999999999999999999999999999999999E+125",
  };
  for (size_t i = 0; i < ordered.size(); ++i) {
    for (size_t j = 0; j < ordered.size(); ++j) {
      const int expected = i < j ? -1 : (i > j ? 1 : 0);
      const int got = N(ordered[i]).Compare(N(ordered[j]));
      EXPECT_EQ(expected, got < 0 ? -1 : (got > 0 ? 1 : 0)) << ordered[i] << " vs " << ordered[j];
      EXPECT_EQ(i < j, N(ordered[i]) < N(ordered[j]));
      EXPECT_EQ(i == j, N(ordered[i]) == N(ordered[j]));
      EXPECT_EQ(i != j, N(ordered[i]) != N(ordered[j]));
    }
  }
}

TEST(NumberTest, Negated) {
  EXPECT_EQ(N("-1.5"), N("1.5").Negated());
  EXPECT_EQ(N("1.5"), N("-1.5").Negated());
  EXPECT_EQ(Number(), Number().Negated());
  EXPECT_FALSE(Number().Negated().negative());
}

TEST(NumberTest, ToInt64) {
  struct Case {
    std::string text;
    bool ok;
    int64_t value;
  };
  const std::vector<Case> cases = {
      {"0", true, 0},
      {"1", true, 1},
      {"-1", true, -1},
      {"1200", true, 1200},
      {"12.0", true, 12},
      {"1E+18", true, 1000000000000000000},
      {"9223372036854775807", true, std::numeric_limits<int64_t>::max()},
      {"-9223372036854775808", true, std::numeric_limits<int64_t>::min()},
      {"9223372036854775808", false, 0},
      {"-9223372036854775809", false, 0},
      {"1E+19", false, 0},
      {"99999999999999999999", false, 0},
      {"1E+100", false, 0},
      {"1.5", false, 0},
      {"0.5", false, 0},
      {"-1E-130", false, 0},
  };
  for (const auto& c : cases) {
    int64_t out = 42;
    EXPECT_EQ(c.ok, N(c.text).ToInt64(&out)) << c.text;
    if (c.ok) {
      EXPECT_EQ(c.value, out) << c.text;
    }
  }
}

TEST(NumberTest, FromInt) {
  const std::vector<int64_t> values = {0,
                                       1,
                                       -1,
                                       10,
                                       -10,
                                       1200,
                                       123456789,
                                       1000000000000000000,
                                       std::numeric_limits<int64_t>::max(),
                                       std::numeric_limits<int64_t>::min(),
                                       std::numeric_limits<int64_t>::min() + 1};
  for (int64_t v : values) {
    const Number n = Number::FromInt(v);
    EXPECT_EQ(std::to_string(v), n.ToString());
    EXPECT_EQ(N(std::to_string(v)), n) << v;
    int64_t back = 0;
    ASSERT_TRUE(n.ToInt64(&back));
    EXPECT_EQ(v, back);
  }
  EXPECT_EQ("1", Number::FromInt(1000).digits());
  EXPECT_EQ(4, Number::FromInt(1000).exponent());
}

TEST(NumberTest, SizeBytes) {
  EXPECT_EQ(1u, Number().SizeBytes());
  EXPECT_EQ(2u, N("1").SizeBytes());
  EXPECT_EQ(2u, N("12").SizeBytes());
  EXPECT_EQ(3u, N("123").SizeBytes());
  EXPECT_EQ(2u, N("1000000").SizeBytes());  // trailing zeros are free
  EXPECT_EQ(2u, N("0.0001").SizeBytes());   // so are leading ones
  EXPECT_EQ(20u, N(k38Nines).SizeBytes());
}

}  // namespace
}  // namespace keystone::store
