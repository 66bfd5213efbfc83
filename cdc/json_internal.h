#pragma once

// Internal to cdc/ (not a public header: it includes rapidjson): JSON writing
// helpers shared by the encoders and the aggregator. Stateless functions;
// thread-compatible.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

#include "lmdb_store/attribute_value.h"

namespace keystone::cdc::internal {

using JsonBuffer = rapidjson::StringBuffer;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

inline void WriteString(std::string_view s, JsonWriter& w) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
inline void WriteKey(std::string_view s, JsonWriter& w) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
// Writes `text` (a valid JSON number) verbatim, keeping every digit.
inline void WriteNumberText(std::string_view text, JsonWriter& w) {
  w.RawValue(text.data(), text.size(), rapidjson::kNumberType);
}

// Plain JSON (Debezium): S as a string, N as a JSON number with its exact
// decimal text, B as base64, BOOL, NULL as null, M as an object, L as an
// array, SS/NS/BS as arrays. With `connect_schema`, lists whose elements do
// not share one Kafka Connect schema are written as a string holding their
// JSON (the io.debezium.data.Json convention), as WriteConnectSchema declares.
void WritePlainValue(const store::AttributeValue& value, JsonWriter& w,
                     bool connect_schema = false);
void WritePlainItem(const store::Item& item, JsonWriter& w, bool connect_schema = false);

// DynamoDB JSON: {"S":"x"}, {"N":"1.5"}, {"B":"<base64>"}, ...
void WriteTypedValue(const store::AttributeValue& value, JsonWriter& w);
void WriteTypedItem(const store::Item& item, JsonWriter& w);

// The Kafka Connect schema of a value as WritePlainValue(connect_schema=true)
// writes it; `field` is the struct field name (empty for array items).
void WriteConnectSchema(const store::AttributeValue& value, std::string_view field, bool optional,
                        JsonWriter& w);
// {"type":"struct","fields":[...]} for an item; `name` empty for none.
void WriteItemConnectSchema(const store::Item& item, std::string_view field, bool optional,
                            std::string_view name, JsonWriter& w);

std::string Base64(std::string_view bytes);

}  // namespace keystone::cdc::internal
