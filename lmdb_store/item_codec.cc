#include "lmdb_store/item_codec.h"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "lmdb_store/varint.h"

namespace keystone::store {
namespace {

constexpr uint8_t kItemFormatVersion = 1;
constexpr uint8_t kNumberZero = 0x00;
constexpr uint8_t kNumberPositive = 0x01;
constexpr uint8_t kNumberNegative = 0x02;
constexpr int kExponentBias = -Number::kMinExponent;  // maps [-129, 126] to [0, 255]
static_assert(Number::kMaxExponent + kExponentBias == 255);

// ---- encoding ---------------------------------------------------------------

// An upper bound of the encoded size, so that encoding reserves once.
size_t MaxEncodedSize(const AttributeValue& v) {
  constexpr size_t kVarint = 10;
  constexpr size_t kNumber = 3 + (Number::kMaxDigits + 1) / 2;
  switch (v.type()) {
    case AttributeType::kS:
      return 1 + kVarint + v.s().size();
    case AttributeType::kB:
      return 1 + kVarint + v.b().size();
    case AttributeType::kN:
      return 1 + kNumber;
    case AttributeType::kBool:
      return 2;
    case AttributeType::kNull:
      return 1;
    case AttributeType::kM: {
      size_t size = 1 + kVarint;
      for (const auto& [name, child] : v.m()) size += kVarint + name.size() + MaxEncodedSize(child);
      return size;
    }
    case AttributeType::kL: {
      size_t size = 1 + kVarint;
      for (const auto& child : v.l()) size += MaxEncodedSize(child);
      return size;
    }
    case AttributeType::kSS:
    case AttributeType::kBS: {
      const auto& set = v.is(AttributeType::kSS) ? v.ss() : v.bs();
      size_t size = 1 + kVarint;
      for (const auto& s : set) size += kVarint + s.size();
      return size;
    }
    case AttributeType::kNS:
      return 1 + kVarint + v.ns().size() * kNumber;
  }
  return 0;
}

void PutBytes(std::string_view s, std::string* out) { PutLengthPrefixed(s, out); }

void PutNumber(const Number& n, std::string* out) {
  if (n.is_zero()) {
    out->push_back(static_cast<char>(kNumberZero));
    return;
  }
  const std::string& digits = n.digits();
  char buf[3 + (Number::kMaxDigits + 1) / 2];
  size_t len = 0;
  buf[len++] = static_cast<char>(n.negative() ? kNumberNegative : kNumberPositive);
  buf[len++] = static_cast<char>(n.exponent() + kExponentBias);
  buf[len++] = static_cast<char>(digits.size());
  for (size_t i = 0; i < digits.size(); i += 2) {
    const int hi = digits[i] - '0';
    const int lo = i + 1 < digits.size() ? digits[i + 1] - '0' : 0;
    buf[len++] = static_cast<char>((hi << 4) | lo);
  }
  out->append(buf, len);
}

void PutValue(const AttributeValue& v, std::string* out) {
  out->push_back(static_cast<char>(v.type()));
  switch (v.type()) {
    case AttributeType::kS:
      PutBytes(v.s(), out);
      break;
    case AttributeType::kB:
      PutBytes(v.b(), out);
      break;
    case AttributeType::kN:
      PutNumber(v.n(), out);
      break;
    case AttributeType::kBool:
      out->push_back(v.boolean() ? '\x01' : '\x00');
      break;
    case AttributeType::kNull:
      break;
    case AttributeType::kM:
      PutVarint(v.m().size(), out);
      for (const auto& [name, child] : v.m()) {
        PutBytes(name, out);
        PutValue(child, out);
      }
      break;
    case AttributeType::kL:
      PutVarint(v.l().size(), out);
      for (const auto& child : v.l()) PutValue(child, out);
      break;
    case AttributeType::kSS:
    case AttributeType::kBS: {
      const auto& set = v.is(AttributeType::kSS) ? v.ss() : v.bs();
      PutVarint(set.size(), out);
      for (const auto& s : set) PutBytes(s, out);
      break;
    }
    case AttributeType::kNS:
      PutVarint(v.ns().size(), out);
      for (const auto& n : v.ns()) PutNumber(n, out);
      break;
  }
}

// ---- decoding ---------------------------------------------------------------

Status Corrupt(std::string_view what, size_t offset) {
  return Internal("corrupt item encoding at byte " + std::to_string(offset) + ": " +
                  std::string(what));
}

// Reads from [begin, end) and reports errors with their offset from `base`.
class Reader {
 public:
  explicit Reader(std::string_view data)
      : base_(data.data()), p_(data.data()), end_(p_ + data.size()) {}

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  size_t offset() const { return static_cast<size_t>(p_ - base_); }
  std::string_view rest() const { return std::string_view(p_, remaining()); }

  Status Error(std::string_view what) const { return Corrupt(what, offset()); }

  Status Byte(uint8_t* out) {
    if (p_ == end_) return Error("truncated");
    *out = static_cast<uint8_t>(*p_++);
    return Status::Ok();
  }

  Status Varint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return Error("truncated varint");
      const uint8_t b = static_cast<uint8_t>(*p_++);
      // The tenth byte holds bit 63 only.
      if (shift == 63 && b > 1) return Error("varint overflow");
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        *out = v;
        return Status::Ok();
      }
    }
    return Error("varint too long");
  }

  // A count of elements that each take at least `min_bytes`, so that a corrupt
  // count cannot make us reserve more than the input could hold.
  Status Count(size_t min_bytes, size_t* out) {
    uint64_t n = 0;
    KS_RETURN_IF_ERROR(Varint(&n));
    if (n > remaining() / min_bytes) return Error("count exceeds the remaining input");
    *out = static_cast<size_t>(n);
    return Status::Ok();
  }

  Status Bytes(std::string_view* out) {
    uint64_t n = 0;
    KS_RETURN_IF_ERROR(Varint(&n));
    if (n > remaining()) return Error("length exceeds the remaining input");
    *out = std::string_view(p_, static_cast<size_t>(n));
    p_ += n;
    return Status::Ok();
  }

  Status NumberValue(Number* out) {
    uint8_t sign = 0;
    KS_RETURN_IF_ERROR(Byte(&sign));
    if (sign == kNumberZero) {
      *out = Number();
      return Status::Ok();
    }
    if (sign != kNumberPositive && sign != kNumberNegative) return Error("bad number sign");
    uint8_t biased_exponent = 0, ndigits = 0;
    KS_RETURN_IF_ERROR(Byte(&biased_exponent));
    KS_RETURN_IF_ERROR(Byte(&ndigits));
    if (ndigits == 0 || ndigits > Number::kMaxDigits) return Error("bad number digit count");
    const size_t nbytes = (ndigits + 1u) / 2;
    if (nbytes > remaining()) return Error("truncated number");
    // Rebuilt as "-0.<digits>E<exponent>" and re-validated by Number::Parse,
    // which keeps Number's invariants in one place.
    char text[3 + Number::kMaxDigits + 6];
    size_t len = 0;
    if (sign == kNumberNegative) text[len++] = '-';
    text[len++] = '0';
    text[len++] = '.';
    for (size_t i = 0; i < ndigits; ++i) {
      const uint8_t b = static_cast<uint8_t>(p_[i / 2]);
      const int d = i % 2 == 0 ? b >> 4 : b & 0x0F;
      if (d > 9) return Error("bad number digit");
      text[len++] = static_cast<char>('0' + d);
    }
    if (ndigits % 2 == 1 && (static_cast<uint8_t>(p_[nbytes - 1]) & 0x0F) != 0) {
      return Error("bad number padding");
    }
    if (text[len - ndigits] == '0' || text[len - 1] == '0') return Error("number not normalised");
    p_ += nbytes;
    text[len++] = 'E';
    auto [end, ec] =
        std::to_chars(text + len, text + sizeof(text), int{biased_exponent} - kExponentBias);
    if (ec != std::errc()) return Error("number exponent");
    Result<Number> n = Number::Parse(std::string_view(text, static_cast<size_t>(end - text)));
    if (!n.ok()) return Error("invalid number: " + n.status().message());
    *out = std::move(n).value();
    return Status::Ok();
  }

  // A map body (count, then ascending unique names with values) into *out.
  Status MapBody(int depth, AttributeMap* out) {
    size_t count = 0;
    KS_RETURN_IF_ERROR(Count(2, &count));  // name length + value tag at least
    for (size_t i = 0; i < count; ++i) {
      std::string_view name;
      KS_RETURN_IF_ERROR(Bytes(&name));
      if (!out->empty() && !(out->rbegin()->first < name)) {
        return Error("map names not ascending and unique");
      }
      AttributeValue value;
      KS_RETURN_IF_ERROR(Value(depth, &value));
      out->emplace_hint(out->end(), std::string(name), std::move(value));
    }
    return Status::Ok();
  }

  // A value whose Depth() may be at most kMaxDecodeDepth - depth + 1.
  Status Value(int depth, AttributeValue* out) {
    if (depth > kMaxDecodeDepth) return Error("nesting too deep");
    uint8_t tag = 0;
    KS_RETURN_IF_ERROR(Byte(&tag));
    switch (static_cast<AttributeType>(tag)) {
      case AttributeType::kS:
      case AttributeType::kB: {
        std::string_view s;
        KS_RETURN_IF_ERROR(Bytes(&s));
        *out = tag == static_cast<uint8_t>(AttributeType::kS) ? AttributeValue::S(std::string(s))
                                                              : AttributeValue::B(std::string(s));
        return Status::Ok();
      }
      case AttributeType::kN: {
        Number n;
        KS_RETURN_IF_ERROR(NumberValue(&n));
        *out = AttributeValue::N(std::move(n));
        return Status::Ok();
      }
      case AttributeType::kBool: {
        uint8_t b = 0;
        KS_RETURN_IF_ERROR(Byte(&b));
        if (b > 1) return Error("bad boolean");
        *out = AttributeValue::Bool(b == 1);
        return Status::Ok();
      }
      case AttributeType::kNull:
        *out = AttributeValue::Null();
        return Status::Ok();
      case AttributeType::kM: {
        AttributeMap m;
        KS_RETURN_IF_ERROR(MapBody(depth + 1, &m));
        *out = AttributeValue::M(std::move(m));
        return Status::Ok();
      }
      case AttributeType::kL: {
        size_t count = 0;
        KS_RETURN_IF_ERROR(Count(1, &count));
        AttributeList l(count);
        for (auto& child : l) KS_RETURN_IF_ERROR(Value(depth + 1, &child));
        *out = AttributeValue::L(std::move(l));
        return Status::Ok();
      }
      case AttributeType::kSS:
      case AttributeType::kBS: {
        size_t count = 0;
        KS_RETURN_IF_ERROR(Count(1, &count));
        std::vector<std::string> set;
        set.reserve(count);
        for (size_t i = 0; i < count; ++i) {
          std::string_view s;
          KS_RETURN_IF_ERROR(Bytes(&s));
          set.emplace_back(s);
        }
        *out = tag == static_cast<uint8_t>(AttributeType::kSS) ? AttributeValue::SS(std::move(set))
                                                               : AttributeValue::BS(std::move(set));
        return Status::Ok();
      }
      case AttributeType::kNS: {
        size_t count = 0;
        KS_RETURN_IF_ERROR(Count(1, &count));
        std::vector<Number> set(count);
        for (auto& n : set) KS_RETURN_IF_ERROR(NumberValue(&n));
        *out = AttributeValue::NS(std::move(set));
        return Status::Ok();
      }
    }
    --p_;  // report the offset of the tag itself
    return Error("unknown type tag " + std::to_string(tag));
  }

 private:
  const char* base_;
  const char* p_;
  const char* end_;
};

}  // namespace

void EncodeValue(const AttributeValue& value, std::string* out) {
  out->reserve(out->size() + MaxEncodedSize(value));
  PutValue(value, out);
}

Result<AttributeValue> DecodeValue(std::string_view* in) {
  Reader reader(*in);
  AttributeValue value;
  KS_RETURN_IF_ERROR(reader.Value(1, &value));
  *in = reader.rest();
  return value;
}

void EncodeItem(const Item& item, std::string* out) {
  size_t size = 1 + 10;
  for (const auto& [name, value] : item) size += 10 + name.size() + MaxEncodedSize(value);
  out->reserve(out->size() + size);
  out->push_back(static_cast<char>(kItemFormatVersion));
  PutVarint(item.size(), out);
  for (const auto& [name, value] : item) {
    PutBytes(name, out);
    PutValue(value, out);
  }
}

Result<Item> DecodeItem(std::string_view data) {
  Reader reader(data);
  uint8_t version = 0;
  KS_RETURN_IF_ERROR(reader.Byte(&version));
  if (version != kItemFormatVersion) {
    return Corrupt("unknown item format version " + std::to_string(version), 0);
  }
  Item item;
  KS_RETURN_IF_ERROR(reader.MapBody(1, &item));
  if (reader.remaining() != 0) return reader.Error("trailing bytes after item");
  return item;
}

}  // namespace keystone::store
