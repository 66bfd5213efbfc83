#pragma once

// DynamoDB JSON: the wire form of AttributeValue and Item in DynamoDB's HTTP
// API ({"S":"x"}, {"N":"1.5"}, {"B":"<base64>"}, {"BOOL":true}, {"NULL":true},
// {"M":{...}}, {"L":[...]}, {"SS":[...]}, {"NS":[...]}, {"BS":[...]}), and the
// strict base64 codec that B and BS use. Free functions of value types; safe to
// call from any thread.
//
// Errors. DynamoDB reports two kinds of bad input differently and so do these
// functions:
//   kFailedPrecondition: the JSON does not have the shape the API expects (not
//     JSON at all, a number where a string belongs, invalid base64). DynamoDB's
//     SerializationException; the message is Coral's ("Start of list found
//     where not expected", "class java.lang.Integer can not be converted to an
//     String").
//   kInvalidArgument: the shape is right but a value breaks a rule (no or two
//     type keys, NULL not true, a number that does not parse, a set with
//     duplicates, an empty set). DynamoDB's ValidationException, with its text.
// Unknown keys inside an AttributeValue and keys whose value is JSON null are
// ignored, as DynamoDB does.

#include <string>
#include <string_view>

#include "base/status.h"
#include "lmdb_store/attribute_value.h"

namespace keystone::daemon {

// Parses the JSON text of one AttributeValue ({"S":"x"}) and validates it as
// DynamoDB validates every value a client sends (store::ValidateValue).
Result<store::AttributeValue> AttributeValueFromJson(std::string_view json);
// Parses the JSON text of an item ({"name":{"S":"x"},...}) and validates it
// (store::ValidateItem).
Result<store::Item> ItemFromJson(std::string_view json);

// DynamoDB JSON text of a value or item: numbers as Number::ToString, binaries
// as base64, sets in their sorted order, map keys in byte order.
std::string AttributeValueToJson(const store::AttributeValue& value);
std::string ItemToJson(const store::Item& item);

// `s` as a JSON string literal, quotes included (rapidjson's escaping), for
// the few answers built without a writer (error bodies, /sources).
std::string JsonQuoted(std::string_view s);

// Standard base64 (RFC 4648 alphabet, '=' padding, no line breaks).
std::string Base64Encode(std::string_view bytes);
// Strict inverse of Base64Encode: kFailedPrecondition (SerializationException)
// when the length is not a multiple of 4, a character is outside the
// alphabet, padding is misplaced, or the bits after the last byte are not
// zero (so that every byte string has exactly one accepted encoding).
Result<std::string> Base64Decode(std::string_view text);

}  // namespace keystone::daemon
