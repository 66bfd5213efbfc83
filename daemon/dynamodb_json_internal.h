#pragma once

// rapidjson-level pieces of dynamodb_json, shared by the files of daemon/ that
// parse and write DynamoDB requests. Not a public header: it exposes rapidjson,
// which stays out of our public headers. Same error convention as
// dynamodb_json.h (kFailedPrecondition: SerializationException,
// kInvalidArgument: ValidationException). Thread-compatible.

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

#include "base/status.h"
#include "lmdb_store/attribute_value.h"

namespace keystone::daemon {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Deeper M/L nesting is refused outright (DynamoDB allows 32 levels).
inline constexpr int kMaxJsonNesting = 64;

// What a request member must be, for Coral's messages on a mismatch.
enum class JsonKind { kString, kBoolean, kInteger, kStructure, kList, kMap, kBlob };

// Coral's SerializationException (kFailedPrecondition) for `value` found
// where a `expected` belongs.
Status WrongJsonType(const rapidjson::Value& value, JsonKind expected);

// Arrays and objects nested deeper than this anywhere in a request are refused
// while it is parsed: no valid request comes near (an attribute value of
// kMaxJsonNesting levels takes two JSON levels each, the request around it a
// few more), and rapidjson copies and writes values recursively, so a
// request of a million '[' (2 MB) would otherwise exhaust a thread's stack
// wherever a value is copied.
inline constexpr int kMaxRequestJsonDepth = 2 * kMaxJsonNesting + 32;

// Parses `text` into *doc (iteratively, so deep nesting cannot exhaust the
// stack; invalid UTF-8 is rejected). kFailedPrecondition when it is not one
// well-formed JSON value; kInvalidArgument ("Nesting Levels have exceeded
// supported limits", as DynamoDB says) when it nests deeper than
// kMaxRequestJsonDepth.
Status ParseJsonText(std::string_view text, rapidjson::Document* doc);

// Converts one AttributeValue / an item (a map of them). Checks what the JSON
// form decides (one type key, NULL true, numbers parse, no set duplicates) and
// stops descending past kMaxJsonNesting levels, but leaves to
// store::ValidateValue the rules it checks on the built value (empty sets,
// the 32-level nesting limit, with the attribute's path).
Result<store::AttributeValue> JsonToAttributeValue(const rapidjson::Value& value);
Result<store::Item> JsonToItem(const rapidjson::Value& value);

void WriteAttributeValue(const store::AttributeValue& value, JsonWriter& out);
void WriteItem(const store::Item& item, JsonWriter& out);
// Writes the item whose store encoding (item_codec.h) is `encoded` exactly as
// WriteItem writes the Item it decodes to, without building that Item.
// kInternal (the decoder's message) when `encoded` is not a valid encoding;
// `out` then holds a partial document and must be discarded.
Status WriteEncodedItem(std::string_view encoded, JsonWriter& out);

inline void WriteString(std::string_view s, JsonWriter& out) {
  out.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
inline void WriteKey(std::string_view s, JsonWriter& out) {
  out.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
inline std::string_view JsonStringView(const rapidjson::Value& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

}  // namespace keystone::daemon
