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

// Sets are stored sorted and without repeats (AttributeValue keeps them so);
// anything else is corruption, not an order to repair.
constexpr std::string_view kUnorderedSet = "set members not ascending and unique";

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

  // A number's parts, checked: *ndigits digits ('1'..'9' first and last)
  // into `digits` (room for Number::kMaxDigits); 0 digits for zero.
  Status NumberParts(bool* negative, int* exponent, char* digits, size_t* ndigits) {
    uint8_t sign = 0;
    KS_RETURN_IF_ERROR(Byte(&sign));
    *negative = false;
    *exponent = 0;
    *ndigits = 0;
    if (sign == kNumberZero) return Status::Ok();
    if (sign != kNumberPositive && sign != kNumberNegative) return Error("bad number sign");
    uint8_t biased_exponent = 0, count = 0;
    KS_RETURN_IF_ERROR(Byte(&biased_exponent));
    KS_RETURN_IF_ERROR(Byte(&count));
    if (count == 0 || count > Number::kMaxDigits) return Error("bad number digit count");
    const size_t nbytes = (count + 1u) / 2;
    if (nbytes > remaining()) return Error("truncated number");
    for (size_t i = 0; i < count; ++i) {
      const uint8_t b = static_cast<uint8_t>(p_[i / 2]);
      const int d = i % 2 == 0 ? b >> 4 : b & 0x0F;
      if (d > 9) return Error("bad number digit");
      digits[i] = static_cast<char>('0' + d);
    }
    if (count % 2 == 1 && (static_cast<uint8_t>(p_[nbytes - 1]) & 0x0F) != 0) {
      return Error("bad number padding");
    }
    if (digits[0] == '0' || digits[count - 1] == '0') return Error("number not normalised");
    p_ += nbytes;
    *negative = sign == kNumberNegative;
    *exponent = int{biased_exponent} - kExponentBias;
    *ndigits = count;
    return Status::Ok();
  }

  Status NumberValue(Number* out) {
    bool negative = false;
    int exponent = 0;
    char digits[Number::kMaxDigits];
    size_t ndigits = 0;
    KS_RETURN_IF_ERROR(NumberParts(&negative, &exponent, digits, &ndigits));
    if (ndigits == 0) {
      *out = Number();
      return Status::Ok();
    }
    // Rebuilt as "-0.<digits>E<exponent>" and re-validated by Number::Parse,
    // which keeps Number's invariants in one place.
    char text[3 + Number::kMaxDigits + 6];
    size_t len = 0;
    if (negative) text[len++] = '-';
    text[len++] = '0';
    text[len++] = '.';
    std::memcpy(text + len, digits, ndigits);
    len += ndigits;
    text[len++] = 'E';
    auto [end, ec] = std::to_chars(text + len, text + sizeof(text), exponent);
    if (ec != std::errc()) return Error("number exponent");
    Result<Number> n = Number::Parse(std::string_view(text, static_cast<size_t>(end - text)));
    if (!n.ok()) return Error("invalid number: " + n.status().message());
    *out = std::move(n).value();
    return Status::Ok();
  }

  Status VisitNumber(ValueVisitor& visitor) {
    bool negative = false;
    int exponent = 0;
    char digits[Number::kMaxDigits];
    size_t ndigits = 0;
    KS_RETURN_IF_ERROR(NumberParts(&negative, &exponent, digits, &ndigits));
    char text[Number::kMaxTextLength];
    size_t len = Number::FormatText(negative, std::string_view(digits, ndigits), exponent, text);
    visitor.OnNumber(std::string_view(text, len));
    return Status::Ok();
  }

  // As MapBody and Value, reporting to a visitor instead of building values.
  Status VisitMapBody(int depth, ValueVisitor& visitor) {
    size_t count = 0;
    KS_RETURN_IF_ERROR(Count(2, &count));
    visitor.OnBeginMap(count);
    std::string_view previous;
    for (size_t i = 0; i < count; ++i) {
      std::string_view name;
      KS_RETURN_IF_ERROR(Bytes(&name));
      if (i > 0 && !(previous < name)) return Error("map names not ascending and unique");
      previous = name;
      visitor.OnName(name);
      KS_RETURN_IF_ERROR(VisitValue(depth, visitor));
    }
    visitor.OnEndMap();
    return Status::Ok();
  }

  Status VisitValue(int depth, ValueVisitor& visitor) {
    if (depth > kMaxDecodeDepth) return Error("nesting too deep");
    uint8_t tag = 0;
    KS_RETURN_IF_ERROR(Byte(&tag));
    const auto type = static_cast<AttributeType>(tag);
    switch (type) {
      case AttributeType::kS:
      case AttributeType::kB: {
        std::string_view s;
        KS_RETURN_IF_ERROR(Bytes(&s));
        if (type == AttributeType::kS) {
          visitor.OnString(s);
        } else {
          visitor.OnBinary(s);
        }
        return Status::Ok();
      }
      case AttributeType::kN:
        return VisitNumber(visitor);
      case AttributeType::kBool: {
        uint8_t b = 0;
        KS_RETURN_IF_ERROR(Byte(&b));
        if (b > 1) return Error("bad boolean");
        visitor.OnBool(b == 1);
        return Status::Ok();
      }
      case AttributeType::kNull:
        visitor.OnNull();
        return Status::Ok();
      case AttributeType::kM:
        return VisitMapBody(depth + 1, visitor);
      case AttributeType::kL:
      case AttributeType::kSS:
      case AttributeType::kBS:
      case AttributeType::kNS: {
        size_t count = 0;
        KS_RETURN_IF_ERROR(Count(1, &count));
        visitor.OnBeginList(type, count);
        std::string_view previous;
        Number previous_number;
        for (size_t i = 0; i < count; ++i) {
          if (type == AttributeType::kL) {
            KS_RETURN_IF_ERROR(VisitValue(depth + 1, visitor));
          } else if (type == AttributeType::kNS) {
            // Built as a Number (sets of numbers are rare) for the order check.
            Number n;
            KS_RETURN_IF_ERROR(NumberValue(&n));
            if (i > 0 && !(previous_number < n)) return Error(kUnorderedSet);
            char text[Number::kMaxTextLength];
            visitor.OnNumber(std::string_view(
                text, Number::FormatText(n.negative(), n.digits(), n.exponent(), text)));
            previous_number = std::move(n);
          } else {
            std::string_view s;
            KS_RETURN_IF_ERROR(Bytes(&s));
            if (i > 0 && !(previous < s)) return Error(kUnorderedSet);
            previous = s;
            if (type == AttributeType::kSS) {
              visitor.OnString(s);
            } else {
              visitor.OnBinary(s);
            }
          }
        }
        visitor.OnEndList();
        return Status::Ok();
      }
    }
    --p_;  // report the offset of the tag itself
    return Error("unknown type tag " + std::to_string(tag));
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
          if (!set.empty() && !(set.back() < s)) return Error(kUnorderedSet);
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
        for (size_t i = 0; i < count; ++i) {
          KS_RETURN_IF_ERROR(NumberValue(&set[i]));
          if (i > 0 && !(set[i - 1] < set[i])) return Error(kUnorderedSet);
        }
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

namespace {

Status ReadItemVersion(Reader& reader) {
  uint8_t version = 0;
  KS_RETURN_IF_ERROR(reader.Byte(&version));
  if (version != kItemFormatVersion) {
    return Corrupt("unknown item format version " + std::to_string(version), 0);
  }
  return Status::Ok();
}

}  // namespace

Status VisitEncodedItem(std::string_view data, ValueVisitor& visitor) {
  Reader reader(data);
  KS_RETURN_IF_ERROR(ReadItemVersion(reader));
  KS_RETURN_IF_ERROR(reader.VisitMapBody(1, visitor));
  if (reader.remaining() != 0) return reader.Error("trailing bytes after item");
  return Status::Ok();
}

namespace {

void VisitNumberValue(const Number& n, ValueVisitor& visitor) {
  char text[Number::kMaxTextLength];
  visitor.OnNumber(
      std::string_view(text, Number::FormatText(n.negative(), n.digits(), n.exponent(), text)));
}

}  // namespace

void VisitItem(const Item& item, ValueVisitor& visitor) {
  visitor.OnBeginMap(item.size());
  for (const auto& [name, value] : item) {
    visitor.OnName(name);
    VisitValue(value, visitor);
  }
  visitor.OnEndMap();
}

void VisitValue(const AttributeValue& value, ValueVisitor& visitor) {
  switch (value.type()) {
    case AttributeType::kS:
      visitor.OnString(value.s());
      return;
    case AttributeType::kB:
      visitor.OnBinary(value.b());
      return;
    case AttributeType::kN:
      VisitNumberValue(value.n(), visitor);
      return;
    case AttributeType::kBool:
      visitor.OnBool(value.boolean());
      return;
    case AttributeType::kNull:
      visitor.OnNull();
      return;
    case AttributeType::kM:
      VisitItem(value.m(), visitor);
      return;
    case AttributeType::kL:
      visitor.OnBeginList(AttributeType::kL, value.l().size());
      for (const AttributeValue& child : value.l()) VisitValue(child, visitor);
      visitor.OnEndList();
      return;
    case AttributeType::kSS:
      visitor.OnBeginList(AttributeType::kSS, value.ss().size());
      for (const std::string& s : value.ss()) visitor.OnString(s);
      visitor.OnEndList();
      return;
    case AttributeType::kNS:
      visitor.OnBeginList(AttributeType::kNS, value.ns().size());
      for (const Number& n : value.ns()) VisitNumberValue(n, visitor);
      visitor.OnEndList();
      return;
    case AttributeType::kBS:
      visitor.OnBeginList(AttributeType::kBS, value.bs().size());
      for (const std::string& b : value.bs()) visitor.OnBinary(b);
      visitor.OnEndList();
      return;
  }
}

Result<Item> DecodeItem(std::string_view data) {
  Reader reader(data);
  KS_RETURN_IF_ERROR(ReadItemVersion(reader));
  Item item;
  KS_RETURN_IF_ERROR(reader.MapBody(1, &item));
  if (reader.remaining() != 0) return reader.Error("trailing bytes after item");
  return item;
}

}  // namespace keystone::store
