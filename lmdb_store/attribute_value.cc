#include "lmdb_store/attribute_value.h"

#include <algorithm>
#include <string>
#include <utility>

#include "base/check.h"

namespace keystone::store {
namespace {

// DynamoDB's limit on nesting of M and L: a value of Depth() 32 is accepted.
constexpr int kMaxNestingDepth = 32;

constexpr char kInvalidParameter[] = "One or more parameter values were invalid: ";

const AttributeMap& EmptyMap() {
  static const AttributeMap* const kEmpty = new AttributeMap();
  return *kEmpty;
}

const AttributeList& EmptyList() {
  static const AttributeList* const kEmpty = new AttributeList();
  return *kEmpty;
}

// Standard base64 with padding; DynamoDB JSON renders B and BS this way.
void AppendBase64(std::string_view in, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out->reserve(out->size() + (in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << 16) |
                       (static_cast<uint32_t>(static_cast<uint8_t>(in[i + 1])) << 8) |
                       static_cast<uint32_t>(static_cast<uint8_t>(in[i + 2]));
    out->push_back(kAlphabet[(v >> 18) & 63]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(kAlphabet[(v >> 6) & 63]);
    out->push_back(kAlphabet[v & 63]);
  }
  const size_t rest = in.size() - i;
  if (rest == 0) return;
  uint32_t v = static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << 16;
  if (rest == 2) v |= static_cast<uint32_t>(static_cast<uint8_t>(in[i + 1])) << 8;
  out->push_back(kAlphabet[(v >> 18) & 63]);
  out->push_back(kAlphabet[(v >> 12) & 63]);
  out->push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
  out->push_back('=');
}

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          *out += "\\u00";
          out->push_back(kHex[(c >> 4) & 0xF]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(c);  // UTF-8 passes through unchanged
        }
    }
  }
  out->push_back('"');
}

void AppendDebugString(const AttributeValue& v, std::string* out);

void AppendMapBody(const AttributeMap& m, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const auto& [name, value] : m) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(name, out);
    out->push_back(':');
    AppendDebugString(value, out);
  }
  out->push_back('}');
}

void AppendDebugString(const AttributeValue& v, std::string* out) {
  out->push_back('{');
  AppendJsonString(AttributeTypeName(v.type()), out);
  out->push_back(':');
  switch (v.type()) {
    case AttributeType::kS:
      AppendJsonString(v.s(), out);
      break;
    case AttributeType::kN:
      AppendJsonString(v.n().ToString(), out);
      break;
    case AttributeType::kB:
      out->push_back('"');
      AppendBase64(v.b(), out);
      out->push_back('"');
      break;
    case AttributeType::kBool:
      *out += v.boolean() ? "true" : "false";
      break;
    case AttributeType::kNull:
      *out += "true";
      break;
    case AttributeType::kM:
      AppendMapBody(v.m(), out);
      break;
    case AttributeType::kL: {
      out->push_back('[');
      bool first = true;
      for (const auto& e : v.l()) {
        if (!first) out->push_back(',');
        first = false;
        AppendDebugString(e, out);
      }
      out->push_back(']');
      break;
    }
    case AttributeType::kSS:
      out->push_back('[');
      for (size_t i = 0; i < v.ss().size(); ++i) {
        if (i > 0) out->push_back(',');
        AppendJsonString(v.ss()[i], out);
      }
      out->push_back(']');
      break;
    case AttributeType::kNS:
      out->push_back('[');
      for (size_t i = 0; i < v.ns().size(); ++i) {
        if (i > 0) out->push_back(',');
        AppendJsonString(v.ns()[i].ToString(), out);
      }
      out->push_back(']');
      break;
    case AttributeType::kBS:
      out->push_back('[');
      for (size_t i = 0; i < v.bs().size(); ++i) {
        if (i > 0) out->push_back(',');
        out->push_back('"');
        AppendBase64(v.bs()[i], out);
        out->push_back('"');
      }
      out->push_back(']');
      break;
  }
  out->push_back('}');
}

std::vector<std::string> SortedUnique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());  // std::string compares as unsigned bytes
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// Validates `value` found at nesting `level` (1 for an attribute) and at
// `*path`; `path` is extended and restored while descending so that the
// message can name where the problem is without building paths up front.
Status ValidateAt(const AttributeValue& value, int level, std::string* path) {
  if (level > kMaxNestingDepth) {
    return InvalidArgument("Nesting Levels have exceeded supported limits; attribute: " + *path);
  }
  auto invalid = [&](std::string_view what) {
    return InvalidArgument(std::string(kInvalidParameter) + std::string(what) +
                           "; attribute: " + *path);
  };
  switch (value.type()) {
    case AttributeType::kSS:
      if (value.ss().empty()) return invalid("An string set  may not be empty");
      if (value.ss().front().empty()) {
        return invalid("An string set may not have a empty string as a member");
      }
      break;
    case AttributeType::kNS:
      if (value.ns().empty()) return invalid("An number set  may not be empty");
      break;
    case AttributeType::kBS:
      if (value.bs().empty()) return invalid("An binary set  may not be empty");
      if (value.bs().front().empty()) {
        return invalid("An binary set may not have a empty binary as a member");
      }
      break;
    case AttributeType::kM: {
      const size_t base = path->size();
      for (const auto& [name, child] : value.m()) {
        path->push_back('.');
        path->append(name);
        Status s = ValidateAt(child, level + 1, path);
        if (!s.ok()) return s;
        path->resize(base);
      }
      break;
    }
    case AttributeType::kL: {
      const size_t base = path->size();
      const AttributeList& list = value.l();
      for (size_t i = 0; i < list.size(); ++i) {
        path->push_back('[');
        path->append(std::to_string(i));
        path->push_back(']');
        Status s = ValidateAt(list[i], level + 1, path);
        if (!s.ok()) return s;
        path->resize(base);
      }
      break;
    }
    default:
      break;
  }
  return Status::Ok();
}

}  // namespace

std::string_view AttributeTypeName(AttributeType type) {
  switch (type) {
    case AttributeType::kS:
      return "S";
    case AttributeType::kN:
      return "N";
    case AttributeType::kB:
      return "B";
    case AttributeType::kBool:
      return "BOOL";
    case AttributeType::kNull:
      return "NULL";
    case AttributeType::kM:
      return "M";
    case AttributeType::kL:
      return "L";
    case AttributeType::kSS:
      return "SS";
    case AttributeType::kNS:
      return "NS";
    case AttributeType::kBS:
      return "BS";
  }
  return "?";
}

bool ParseAttributeTypeName(std::string_view name, AttributeType* out) {
  static constexpr AttributeType kAll[] = {
      AttributeType::kS,    AttributeType::kN, AttributeType::kB, AttributeType::kBool,
      AttributeType::kNull, AttributeType::kM, AttributeType::kL, AttributeType::kSS,
      AttributeType::kNS,   AttributeType::kBS};
  for (AttributeType t : kAll) {
    if (AttributeTypeName(t) == name) {
      *out = t;
      return true;
    }
  }
  return false;
}

AttributeValue AttributeValue::S(std::string s) {
  AttributeValue v;
  v.type_ = AttributeType::kS;
  v.storage_ = std::move(s);
  return v;
}

AttributeValue AttributeValue::N(Number n) {
  AttributeValue v;
  v.type_ = AttributeType::kN;
  v.storage_ = std::move(n);
  return v;
}

AttributeValue AttributeValue::N(std::string_view text) {
  Result<Number> n = Number::Parse(text);
  KS_CHECK(n.ok());
  return N(std::move(n).value());
}

AttributeValue AttributeValue::N(int64_t n) { return N(Number::FromInt(n)); }

AttributeValue AttributeValue::B(std::string bytes) {
  AttributeValue v;
  v.type_ = AttributeType::kB;
  v.storage_ = std::move(bytes);
  return v;
}

AttributeValue AttributeValue::Bool(bool b) {
  AttributeValue v;
  v.type_ = AttributeType::kBool;
  v.storage_ = b;
  return v;
}

AttributeValue AttributeValue::Null() { return AttributeValue(); }

AttributeValue AttributeValue::M(AttributeMap m) {
  AttributeValue v;
  v.type_ = AttributeType::kM;
  v.storage_ = std::make_shared<AttributeMap>(std::move(m));
  return v;
}

AttributeValue AttributeValue::L(AttributeList l) {
  AttributeValue v;
  v.type_ = AttributeType::kL;
  v.storage_ = std::make_shared<AttributeList>(std::move(l));
  return v;
}

AttributeValue AttributeValue::SS(std::vector<std::string> ss) {
  AttributeValue v;
  v.type_ = AttributeType::kSS;
  v.storage_ = SortedUnique(std::move(ss));
  return v;
}

AttributeValue AttributeValue::NS(std::vector<Number> ns) {
  std::sort(ns.begin(), ns.end(),
            [](const Number& a, const Number& b) { return a.Compare(b) < 0; });
  // Normalised numbers are equal exactly when they compare equal.
  ns.erase(std::unique(ns.begin(), ns.end()), ns.end());
  AttributeValue v;
  v.type_ = AttributeType::kNS;
  v.storage_ = std::move(ns);
  return v;
}

AttributeValue AttributeValue::BS(std::vector<std::string> bs) {
  AttributeValue v;
  v.type_ = AttributeType::kBS;
  v.storage_ = SortedUnique(std::move(bs));
  return v;
}

const std::string& AttributeValue::s() const {
  KS_CHECK(type_ == AttributeType::kS);
  return std::get<std::string>(storage_);
}

const Number& AttributeValue::n() const {
  KS_CHECK(type_ == AttributeType::kN);
  return std::get<Number>(storage_);
}

const std::string& AttributeValue::b() const {
  KS_CHECK(type_ == AttributeType::kB);
  return std::get<std::string>(storage_);
}

bool AttributeValue::boolean() const {
  KS_CHECK(type_ == AttributeType::kBool);
  return std::get<bool>(storage_);
}

// A moved-from M or L holds a null pointer; it reads as empty.
const AttributeMap& AttributeValue::m() const {
  KS_CHECK(type_ == AttributeType::kM);
  const auto& p = std::get<std::shared_ptr<AttributeMap>>(storage_);
  return p ? *p : EmptyMap();
}

AttributeMap& AttributeValue::mutable_m() {
  KS_CHECK(type_ == AttributeType::kM);
  auto& p = std::get<std::shared_ptr<AttributeMap>>(storage_);
  // Copy-on-write: a copy of this value may share the map; clone before the
  // caller mutates so that the copy does not see the change.
  if (!p) {
    p = std::make_shared<AttributeMap>();
  } else if (p.use_count() != 1) {
    p = std::make_shared<AttributeMap>(*p);
  }
  return *p;
}

const AttributeList& AttributeValue::l() const {
  KS_CHECK(type_ == AttributeType::kL);
  const auto& p = std::get<std::shared_ptr<AttributeList>>(storage_);
  return p ? *p : EmptyList();
}

AttributeList& AttributeValue::mutable_l() {
  KS_CHECK(type_ == AttributeType::kL);
  auto& p = std::get<std::shared_ptr<AttributeList>>(storage_);
  if (!p) {
    p = std::make_shared<AttributeList>();
  } else if (p.use_count() != 1) {
    p = std::make_shared<AttributeList>(*p);
  }
  return *p;
}

const std::vector<std::string>& AttributeValue::ss() const {
  KS_CHECK(type_ == AttributeType::kSS);
  return std::get<std::vector<std::string>>(storage_);
}

const std::vector<Number>& AttributeValue::ns() const {
  KS_CHECK(type_ == AttributeType::kNS);
  return std::get<std::vector<Number>>(storage_);
}

const std::vector<std::string>& AttributeValue::bs() const {
  KS_CHECK(type_ == AttributeType::kBS);
  return std::get<std::vector<std::string>>(storage_);
}

size_t AttributeValue::SizeBytes() const {
  switch (type_) {
    case AttributeType::kS:
    case AttributeType::kB:
      return std::get<std::string>(storage_).size();
    case AttributeType::kN:
      return n().SizeBytes();
    case AttributeType::kBool:
    case AttributeType::kNull:
      return 1;
    case AttributeType::kM: {
      size_t size = 3;  // DynamoDB's fixed overhead per document
      for (const auto& [name, value] : m()) size += name.size() + value.SizeBytes() + 1;
      return size;
    }
    case AttributeType::kL: {
      size_t size = 3;
      for (const auto& value : l()) size += value.SizeBytes() + 1;
      return size;
    }
    case AttributeType::kSS:
    case AttributeType::kBS: {
      size_t size = 0;
      for (const auto& s : std::get<std::vector<std::string>>(storage_)) size += s.size();
      return size;
    }
    case AttributeType::kNS: {
      size_t size = 0;
      for (const auto& n : ns()) size += n.SizeBytes();
      return size;
    }
  }
  return 0;
}

int AttributeValue::Depth() const {
  int deepest = 0;
  if (type_ == AttributeType::kM) {
    for (const auto& [name, value] : m()) deepest = std::max(deepest, value.Depth());
  } else if (type_ == AttributeType::kL) {
    for (const auto& value : l()) deepest = std::max(deepest, value.Depth());
  }
  return 1 + deepest;
}

std::string AttributeValue::DebugString() const {
  std::string out;
  AppendDebugString(*this, &out);
  return out;
}

bool operator==(const AttributeValue& a, const AttributeValue& b) {
  if (a.type_ != b.type_) return false;
  switch (a.type_) {
    case AttributeType::kM: {
      const AttributeMap& ma = a.m();
      const AttributeMap& mb = b.m();
      return &ma == &mb || ma == mb;
    }
    case AttributeType::kL: {
      const AttributeList& la = a.l();
      const AttributeList& lb = b.l();
      return &la == &lb || la == lb;
    }
    default:
      // Scalars and sets (kept sorted and unique) compare by their storage.
      return a.storage_ == b.storage_;
  }
}

size_t ItemSizeBytes(const Item& item) {
  size_t size = 0;
  for (const auto& [name, value] : item) size += name.size() + value.SizeBytes();
  return size;
}

Status ValidateValue(const AttributeValue& value, std::string_view path) {
  std::string buffer(path);
  return ValidateAt(value, 1, &buffer);
}

Status ValidateItem(const Item& item) {
  std::string path;
  for (const auto& [name, value] : item) {
    if (name.empty()) {
      // An item's attributes are named; DynamoDB refuses an empty name too.
      return InvalidArgument(std::string(kInvalidParameter) + "An attribute name may not be empty");
    }
    path.assign(name);
    KS_RETURN_IF_ERROR(ValidateAt(value, 1, &path));
  }
  return Status::Ok();
}

std::string ItemDebugString(const Item& item) {
  std::string out;
  AppendMapBody(item, &out);
  return out;
}

ItemBuilder& ItemBuilder::S(std::string name, std::string value) {
  return Set(std::move(name), AttributeValue::S(std::move(value)));
}

ItemBuilder& ItemBuilder::N(std::string name, int64_t value) {
  return Set(std::move(name), AttributeValue::N(value));
}

ItemBuilder& ItemBuilder::N(std::string name, std::string_view decimal_text) {
  return Set(std::move(name), AttributeValue::N(decimal_text));
}

ItemBuilder& ItemBuilder::B(std::string name, std::string bytes) {
  return Set(std::move(name), AttributeValue::B(std::move(bytes)));
}

ItemBuilder& ItemBuilder::Bool(std::string name, bool value) {
  return Set(std::move(name), AttributeValue::Bool(value));
}

ItemBuilder& ItemBuilder::Null(std::string name) {
  return Set(std::move(name), AttributeValue::Null());
}

ItemBuilder& ItemBuilder::Set(std::string name, AttributeValue value) {
  item_.insert_or_assign(std::move(name), std::move(value));
  return *this;
}

}  // namespace keystone::store
