#include "lmdb_store/key_codec.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "base/check.h"

namespace keystone::store {
namespace {

constexpr uint8_t kNegative = 0x01;
constexpr uint8_t kZero = 0x02;
constexpr uint8_t kPositive = 0x03;
constexpr int kExponentBias = -Number::kMinExponent;  // maps [-129, 126] to [0, 255]
static_assert(Number::kMaxExponent + kExponentBias == 255);

void AppendNumber(const Number& n, std::string* out) {
  if (n.is_zero()) {
    out->push_back(static_cast<char>(kZero));
    return;
  }
  const std::string& digits = n.digits();
  // Bytes after the class byte are XORed with `flip`: inverting a negative
  // number's magnitude encoding reverses its order.
  const uint8_t flip = n.negative() ? 0xFF : 0x00;
  out->reserve(out->size() + 3 + (digits.size() + 1) / 2);
  out->push_back(static_cast<char>(n.negative() ? kNegative : kPositive));
  out->push_back(static_cast<char>(static_cast<uint8_t>(n.exponent() + kExponentBias) ^ flip));
  for (size_t i = 0; i < digits.size(); i += 2) {
    const int hi = digits[i] - '0';
    const int lo = i + 1 < digits.size() ? digits[i + 1] - '0' : 0;
    out->push_back(static_cast<char>(static_cast<uint8_t>(1 + hi * 10 + lo) ^ flip));
  }
  // 0x00 sorts below every digit byte, so a digit string that is a prefix of
  // another (a smaller magnitude) sorts first.
  out->push_back(static_cast<char>(flip));
}

Status Corrupt(std::string_view what) {
  return Internal("corrupt key encoding: " + std::string(what));
}

Result<AttributeValue> DecodeNumber(std::string_view* in) {
  std::string_view data = *in;
  if (data.empty()) return Corrupt("number is empty");
  const uint8_t cls = static_cast<uint8_t>(data[0]);
  data.remove_prefix(1);
  if (cls == kZero) {
    *in = data;
    return AttributeValue::N(Number());
  }
  if (cls != kNegative && cls != kPositive) return Corrupt("bad number class byte");
  const uint8_t flip = cls == kNegative ? 0xFF : 0x00;
  if (data.empty()) return Corrupt("number has no exponent");
  const int exponent = (static_cast<uint8_t>(data[0]) ^ flip) - kExponentBias;
  data.remove_prefix(1);
  // Text "-0.<digits>E<exponent>" re-validated by Number::Parse.
  char text[8 + Number::kMaxDigits + 8];
  size_t len = 0;
  if (cls == kNegative) text[len++] = '-';
  text[len++] = '0';
  text[len++] = '.';
  const size_t digits_start = len;
  bool terminated = false;
  while (!data.empty()) {
    const uint8_t b = static_cast<uint8_t>(data[0]) ^ flip;
    data.remove_prefix(1);
    if (b == 0) {
      terminated = true;
      break;
    }
    if (b > 100) return Corrupt("bad number digit byte");
    if (len - digits_start >= static_cast<size_t>(Number::kMaxDigits)) {
      return Corrupt("number has too many digits");
    }
    text[len++] = static_cast<char>('0' + (b - 1) / 10);
    text[len++] = static_cast<char>('0' + (b - 1) % 10);
  }
  if (!terminated) return Corrupt("number is not terminated");
  if (len == digits_start) return Corrupt("number has no digits");
  // The encoder pads an odd digit count with one '0'; normalised digits never
  // end in 0, so strip it and require a canonical digit string.
  if (text[len - 1] == '0') --len;
  if (text[digits_start] == '0' || text[len - 1] == '0') return Corrupt("number not normalised");
  text[len++] = 'E';
  const std::string exp = std::to_string(exponent);
  std::memcpy(text + len, exp.data(), exp.size());
  len += exp.size();
  Result<Number> n = Number::Parse(std::string_view(text, len));
  if (!n.ok()) return Corrupt("number out of range: " + n.status().message());
  *in = data;
  return AttributeValue::N(std::move(n).value());
}

Result<std::string> DecodeBytes(std::string_view* in) {
  std::string_view data = *in;
  std::string out;
  while (true) {
    const void* zero = std::memchr(data.data(), 0, data.size());
    if (zero == nullptr) return Corrupt("string is not terminated");
    const size_t pos = static_cast<size_t>(static_cast<const char*>(zero) - data.data());
    out.append(data.data(), pos);
    if (pos + 1 >= data.size()) return Corrupt("string is not terminated");
    const uint8_t next = static_cast<uint8_t>(data[pos + 1]);
    data.remove_prefix(pos + 2);
    if (next == 0x01) break;
    if (next != 0xFF) return Corrupt("bad escape in string");
    out.push_back('\0');
  }
  *in = data;
  return out;
}

}  // namespace

void AppendOrderedPrefix(std::string_view raw_prefix, std::string* out) {
  out->reserve(out->size() + raw_prefix.size() + 2);
  while (true) {
    const void* zero = std::memchr(raw_prefix.data(), 0, raw_prefix.size());
    if (zero == nullptr) break;
    const size_t pos = static_cast<size_t>(static_cast<const char*>(zero) - raw_prefix.data());
    out->append(raw_prefix.data(), pos);
    out->push_back('\0');
    out->push_back('\xff');
    raw_prefix.remove_prefix(pos + 1);
  }
  out->append(raw_prefix);
}

void AppendOrderedKey(const AttributeValue& value, std::string* out) {
  switch (value.type()) {
    case AttributeType::kS:
      AppendOrderedPrefix(value.s(), out);
      break;
    case AttributeType::kB:
      AppendOrderedPrefix(value.b(), out);
      break;
    case AttributeType::kN:
      AppendNumber(value.n(), out);
      return;
    default:
      KS_CHECK(false && "key values are S, N or B");
  }
  out->push_back('\0');
  out->push_back('\x01');
}

Result<AttributeValue> DecodeOrderedKey(AttributeType type, std::string_view* in) {
  switch (type) {
    case AttributeType::kS: {
      KS_ASSIGN_OR_RETURN(std::string s, DecodeBytes(in));
      return AttributeValue::S(std::move(s));
    }
    case AttributeType::kB: {
      KS_ASSIGN_OR_RETURN(std::string b, DecodeBytes(in));
      return AttributeValue::B(std::move(b));
    }
    case AttributeType::kN:
      return DecodeNumber(in);
    default:
      return Internal("key attribute type " + std::string(AttributeTypeName(type)) +
                      " is not S, N or B");
  }
}

}  // namespace keystone::store
