#pragma once

// Number: DynamoDB's N type, an exact decimal. Up to 38 significant digits,
// magnitude 1E-130 to 9.9999999999999999999999999999999999999E+125 (or zero),
// never a double. Values are kept normalised: no leading or trailing zeros in
// the digit string, zero has one representation, "-0" is zero. Two Numbers
// are equal exactly when they denote the same value, so "1.0" == "1" ==
// "10E-1". Immutable value type; thread-compatible.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace keystone::store {

class Number {
 public:
  static constexpr int kMaxDigits = 38;
  // value = 0.d1 d2 ... dn × 10^exponent with d1 != 0 (scientific form with
  // the point before the first digit), so these bound `exponent`.
  static constexpr int kMinExponent = -129;  // 1E-130 = 0.1 × 10^-129
  static constexpr int kMaxExponent = 126;   // 9.99..E+125 = 0.99.. × 10^126

  // Zero.
  Number() = default;

  // Parses DynamoDB number text: optional sign, digits with an optional point,
  // optional exponent (e/E, optional sign, digits). Leading and trailing zeros
  // are allowed in the text and removed. kInvalidArgument names the problem:
  // not a number, more than 38 significant digits, magnitude out of range.
  static Result<Number> Parse(std::string_view text);

  // Exact conversion of an integer.
  static Number FromInt(int64_t value);

  // Canonical text, as DynamoDB returns numbers: plain notation without an
  // exponent ("123", "-0.005", "1200"), "0" for zero.
  std::string ToString() const;
  // ToString's text of the number with these parts (as Number's accessors
  // give them; `digits` empty for zero), written to `out`, which must hold
  // kMaxTextLength chars. Returns the length. For readers that format a
  // stored number without building a Number.
  static constexpr size_t kMaxTextLength = 1 + 2 + (-kMinExponent) + kMaxDigits;
  static size_t FormatText(bool negative, std::string_view digits, int exponent, char* out);

  bool is_zero() const { return digits_.empty(); }
  bool negative() const { return negative_; }
  // Significant digits without leading/trailing zeros; empty for zero.
  const std::string& digits() const { return digits_; }
  int exponent() const { return exponent_; }

  // Exact sum and difference. kInvalidArgument when the exact result needs
  // more than 38 significant digits or leaves the magnitude range (DynamoDB
  // rejects rather than rounds).
  Result<Number> Add(const Number& other) const;
  Result<Number> Subtract(const Number& other) const;
  Number Negated() const;

  // <0, 0, >0 as *this is less than, equal to, greater than `other`.
  int Compare(const Number& other) const;

  // If the value is an integer in int64 range, sets *out and returns true.
  bool ToInt64(int64_t* out) const;

  // Bytes this number counts for in DynamoDB's item size: roughly one byte per
  // two significant digits plus one.
  size_t SizeBytes() const;

  friend bool operator==(const Number& a, const Number& b) {
    return a.negative_ == b.negative_ && a.exponent_ == b.exponent_ && a.digits_ == b.digits_;
  }
  friend bool operator!=(const Number& a, const Number& b) { return !(a == b); }
  friend bool operator<(const Number& a, const Number& b) { return a.Compare(b) < 0; }

 private:
  // Builds a normalised number from a digit string (may have leading and
  // trailing zeros) and exponent, validating precision and range.
  static Result<Number> Normalise(bool negative, std::string digits, int64_t exponent);

  bool negative_ = false;
  std::string digits_;  // '1'..'9' first and last, or empty for zero
  int exponent_ = 0;
};

}  // namespace keystone::store
