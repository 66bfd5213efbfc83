#include "lmdb_store/number.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>

namespace keystone::store {
namespace {

constexpr char kNotANumber[] = "A value provided cannot be converted into a number";
constexpr char kTooManyDigits[] = "Attempting to store more than 38 significant digits in a Number";
constexpr char kOverflow[] =
    "Number overflow. Attempting to store a number with magnitude larger than supported range";
constexpr char kUnderflow[] =
    "Number underflow. Attempting to store a number with magnitude smaller than supported range";

// An exponent in the text beyond this is out of range whatever the digits are
// (the mantissa of accepted text is bounded only by memory, so we keep enough
// headroom for any realistic length); saturating keeps the arithmetic in int64.
constexpr int64_t kExponentSaturation = int64_t{1} << 40;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Adds two equal-length digit strings (most significant first); the result has
// one more digit for the carry (possibly '0').
std::string AddDigits(const std::string& a, const std::string& b) {
  std::string out(a.size() + 1, '0');
  int carry = 0;
  for (size_t i = a.size(); i-- > 0;) {
    int d = (a[i] - '0') + (b[i] - '0') + carry;
    carry = d >= 10 ? 1 : 0;
    out[i + 1] = static_cast<char>('0' + (d - carry * 10));
  }
  out[0] = static_cast<char>('0' + carry);
  return out;
}

// a - b for equal-length digit strings with a >= b.
std::string SubtractDigits(const std::string& a, const std::string& b) {
  std::string out(a.size(), '0');
  int borrow = 0;
  for (size_t i = a.size(); i-- > 0;) {
    int d = (a[i] - '0') - (b[i] - '0') - borrow;
    borrow = d < 0 ? 1 : 0;
    out[i] = static_cast<char>('0' + d + borrow * 10);
  }
  return out;
}

}  // namespace

Result<Number> Number::Normalise(bool negative, std::string digits, int64_t exponent) {
  size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return Number();
  size_t last = digits.find_last_not_of('0');
  exponent -= static_cast<int64_t>(first);
  digits.resize(last + 1);  // in place: no copy on the decode path
  digits.erase(0, first);
  if (digits.size() > static_cast<size_t>(kMaxDigits)) return InvalidArgument(kTooManyDigits);
  if (exponent > kMaxExponent) return InvalidArgument(kOverflow);
  if (exponent < kMinExponent) return InvalidArgument(kUnderflow);
  Number n;
  n.negative_ = negative;
  n.digits_ = std::move(digits);
  n.exponent_ = static_cast<int>(exponent);
  return n;
}

Result<Number> Number::Parse(std::string_view text) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
    negative = text[i] == '-';
    ++i;
  }
  std::string digits;
  int64_t int_digits = 0;
  bool seen_point = false;
  bool any_digit = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (IsDigit(c)) {
      any_digit = true;
      // Leading zeros carry no information; dropping them here keeps `digits`
      // short for inputs like "000...0001".
      if (digits.empty() && c == '0') {
        if (!seen_point) continue;
        digits.push_back(c);  // a zero after the point shifts the value
        continue;
      }
      digits.push_back(c);
      if (!seen_point) ++int_digits;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!any_digit) return InvalidArgument(kNotANumber);
  int64_t exponent = 0;
  if (i < text.size()) {
    if (text[i] != 'e' && text[i] != 'E') return InvalidArgument(kNotANumber);
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
      exp_negative = text[i] == '-';
      ++i;
    }
    if (i == text.size()) return InvalidArgument(kNotANumber);
    for (; i < text.size(); ++i) {
      if (!IsDigit(text[i])) return InvalidArgument(kNotANumber);
      exponent = std::min(exponent * 10 + (text[i] - '0'), kExponentSaturation);
    }
    if (exp_negative) exponent = -exponent;
  }
  // Digits after the point that precede the first significant digit were kept
  // as zeros in `digits`; Normalise strips them and lowers the exponent.
  return Normalise(negative, std::move(digits), int_digits + exponent);
}

Number Number::FromInt(int64_t value) {
  Number n;
  if (value == 0) return n;
  n.negative_ = value < 0;
  // Two's complement magnitude without overflowing on INT64_MIN.
  uint64_t magnitude =
      n.negative_ ? ~static_cast<uint64_t>(value) + 1 : static_cast<uint64_t>(value);
  char buf[24] = {};
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), magnitude);
  (void)ec;
  n.exponent_ = static_cast<int>(end - buf);
  while (end[-1] == '0') --end;
  n.digits_.assign(buf, end);
  return n;
}

size_t Number::FormatText(bool negative, std::string_view digits, int exponent, char* out) {
  if (digits.empty()) {
    out[0] = '0';
    return 1;
  }
  char* p = out;
  const int n = static_cast<int>(digits.size());
  if (negative) *p++ = '-';
  if (exponent >= n) {
    p = std::copy(digits.begin(), digits.end(), p);
    p = std::fill_n(p, exponent - n, '0');
  } else if (exponent > 0) {
    p = std::copy_n(digits.begin(), exponent, p);
    *p++ = '.';
    p = std::copy(digits.begin() + exponent, digits.end(), p);
  } else {
    *p++ = '0';
    *p++ = '.';
    p = std::fill_n(p, -exponent, '0');
    p = std::copy(digits.begin(), digits.end(), p);
  }
  return static_cast<size_t>(p - out);
}

std::string Number::ToString() const {
  char text[kMaxTextLength];
  return std::string(text, FormatText(negative_, digits_, exponent_, text));
}

Number Number::Negated() const {
  Number n = *this;
  if (!n.is_zero()) n.negative_ = !n.negative_;
  return n;
}

Result<Number> Number::Add(const Number& other) const {
  if (other.is_zero()) return *this;
  if (is_zero()) return other;
  // Each operand is D × 10^(exponent - len(D)); align both on the lowest unit
  // and on the highest exponent so that they become equal-length integers.
  const int low_a = exponent_ - static_cast<int>(digits_.size());
  const int low_b = other.exponent_ - static_cast<int>(other.digits_.size());
  const int low = std::min(low_a, low_b);
  const int high = std::max(exponent_, other.exponent_);
  auto widen = [&](const Number& x) {
    std::string s(static_cast<size_t>(high - x.exponent_), '0');
    s += x.digits_;
    s.append(static_cast<size_t>(high - low) - s.size(), '0');
    return s;
  };
  const std::string a = widen(*this);
  const std::string b = widen(other);
  if (negative_ == other.negative_) {
    // One extra digit for the carry, so the value is 0.sum × 10^(high + 1).
    return Normalise(negative_, AddDigits(a, b), high + 1);
  }
  int cmp = a.compare(b);
  if (cmp == 0) return Number();
  if (cmp > 0) return Normalise(negative_, SubtractDigits(a, b), high);
  return Normalise(other.negative_, SubtractDigits(b, a), high);
}

Result<Number> Number::Subtract(const Number& other) const { return Add(other.Negated()); }

int Number::Compare(const Number& other) const {
  // Map each value to a sign class first: -1, 0, +1.
  const int sa = is_zero() ? 0 : (negative_ ? -1 : 1);
  const int sb = other.is_zero() ? 0 : (other.negative_ ? -1 : 1);
  if (sa != sb) return sa < sb ? -1 : 1;
  if (sa == 0) return 0;
  int magnitude = 0;
  if (exponent_ != other.exponent_) {
    magnitude = exponent_ < other.exponent_ ? -1 : 1;
  } else {
    // Same exponent: 0.d1d2... compare lexicographically, and a proper prefix
    // is the smaller value since the longer one has a non-zero tail.
    int c = digits_.compare(other.digits_);
    magnitude = c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return sa * magnitude;
}

bool Number::ToInt64(int64_t* out) const {
  if (is_zero()) {
    *out = 0;
    return true;
  }
  const int n = static_cast<int>(digits_.size());
  // Normalised digits end in a non-zero digit, so a fraction remains unless
  // the exponent covers every digit. 20 digits exceed int64 (1.8E19 > 2^63).
  if (exponent_ < n || exponent_ > 19) return false;
  uint64_t magnitude = 0;  // at most 19 digits: fits in uint64 without overflow
  for (char c : digits_) magnitude = magnitude * 10 + static_cast<uint64_t>(c - '0');
  for (int i = n; i < exponent_; ++i) magnitude *= 10;
  constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (negative_) {
    if (magnitude > kMaxPositive + 1) return false;
    *out = static_cast<int64_t>(~magnitude + 1);
  } else {
    if (magnitude > kMaxPositive) return false;
    *out = static_cast<int64_t>(magnitude);
  }
  return true;
}

size_t Number::SizeBytes() const { return (digits_.size() + 1) / 2 + 1; }

}  // namespace keystone::store
