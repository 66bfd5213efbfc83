#pragma once

// AttributeValue and Item: DynamoDB's data model. An AttributeValue is exactly
// one of S (UTF-8 string), N (exact Number), B (bytes), BOOL, NULL, M (map of
// name to value), L (list), SS, NS, BS (sets: non-empty, no duplicates, kept
// sorted so that equal sets compare equal). An Item is a map of attribute name
// to value. Value types; thread-compatible.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"
#include "lmdb_store/number.h"

namespace keystone::store {

enum class AttributeType : uint8_t { kS = 1, kN, kB, kBool, kNull, kM, kL, kSS, kNS, kBS };

// "S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS".
std::string_view AttributeTypeName(AttributeType type);
// Inverse of AttributeTypeName; false when `name` is not a type name.
bool ParseAttributeTypeName(std::string_view name, AttributeType* out);

class AttributeValue;
using AttributeMap = std::map<std::string, AttributeValue, std::less<>>;
using AttributeList = std::vector<AttributeValue>;
using Item = AttributeMap;

class AttributeValue {
 public:
  // NULL.
  AttributeValue() = default;

  static AttributeValue S(std::string s);
  static AttributeValue N(Number n);
  // Parses `text` as a Number; KS_CHECKs that it is valid (for literals in code
  // and tests; parse client input with Number::Parse).
  static AttributeValue N(std::string_view text);
  static AttributeValue N(int64_t n);
  static AttributeValue B(std::string bytes);
  static AttributeValue Bool(bool b);
  static AttributeValue Null();
  static AttributeValue M(AttributeMap m);
  static AttributeValue L(AttributeList l);
  // Sets are sorted and de-duplicated here; emptiness is checked by Validate.
  static AttributeValue SS(std::vector<std::string> ss);
  static AttributeValue NS(std::vector<Number> ns);
  static AttributeValue BS(std::vector<std::string> bs);

  AttributeType type() const { return type_; }
  bool is(AttributeType t) const { return type_ == t; }

  // Accessors; calling one of the wrong type is a bug (KS_CHECK).
  //
  // Copies of an M or L value share their map/list until one is mutated:
  // mutable_m()/mutable_l() first clone it when it is shared (copy-on-write),
  // so a mutation never shows through another copy. Do not keep the returned
  // reference across a copy of this value: call mutable_m() again after it.
  const std::string& s() const;  // S
  const Number& n() const;       // N
  const std::string& b() const;  // B
  bool boolean() const;          // BOOL
  const AttributeMap& m() const;
  AttributeMap& mutable_m();
  const AttributeList& l() const;
  AttributeList& mutable_l();
  const std::vector<std::string>& ss() const;  // SS (sorted, unique)
  const std::vector<Number>& ns() const;       // NS (sorted, unique)
  const std::vector<std::string>& bs() const;  // BS (sorted, unique)

  // DynamoDB's size of this value in bytes (strings and binaries by length,
  // numbers by Number::SizeBytes, maps and lists with their per-element
  // overhead), as used for the 400 KB item limit.
  size_t SizeBytes() const;

  // Nesting depth: 1 for scalars and sets, 1 + deepest child for M and L.
  int Depth() const;

  // Human-readable rendering, for messages and tests: {"S":"x"} style JSON.
  std::string DebugString() const;

  friend bool operator==(const AttributeValue& a, const AttributeValue& b);
  friend bool operator!=(const AttributeValue& a, const AttributeValue& b) { return !(a == b); }

 private:
  using Storage = std::variant<std::monostate,                   // NULL
                               bool,                             // BOOL
                               std::string,                      // S, B
                               Number,                           // N
                               std::vector<std::string>,         // SS, BS
                               std::vector<Number>,              // NS
                               std::shared_ptr<AttributeMap>,    // M
                               std::shared_ptr<AttributeList>>;  // L

  AttributeType type_ = AttributeType::kNull;
  Storage storage_;
};

// DynamoDB's item size: sum over attributes of name length + value size.
size_t ItemSizeBytes(const Item& item);

// Checks what DynamoDB checks on every value a client sends: sets non-empty,
// no empty set elements... (empty strings are allowed except in keys and
// sets), nesting depth at most 32. The message names the attribute path.
Status ValidateValue(const AttributeValue& value, std::string_view path);
// ValidateValue of every attribute, and no attribute with an empty name.
Status ValidateItem(const Item& item);

std::string ItemDebugString(const Item& item);

// Builds items in code with little ceremony:
//   Item user = ItemBuilder().S("pk", "user#1").N("age", 30).Bool("admin", false).Build();
class ItemBuilder {
 public:
  ItemBuilder& S(std::string name, std::string value);
  ItemBuilder& N(std::string name, int64_t value);
  ItemBuilder& N(std::string name, std::string_view decimal_text);
  ItemBuilder& B(std::string name, std::string bytes);
  ItemBuilder& Bool(std::string name, bool value);
  ItemBuilder& Null(std::string name);
  ItemBuilder& Set(std::string name, AttributeValue value);
  Item Build() const& { return item_; }
  Item Build() && { return std::move(item_); }

 private:
  Item item_;
};

}  // namespace keystone::store
