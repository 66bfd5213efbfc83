#pragma once

// Reading DynamoDB API requests: the members of a parsed JSON request and the
// errors DynamoDB gives for bad ones, shared by the files of daemon/ that take
// requests apart (dynamodb_api.cc, dynamodb_legacy.cc). Not a public header:
// it exposes rapidjson. Same error convention as dynamodb_json.h
// (kFailedPrecondition: SerializationException, kInvalidArgument:
// ValidationException). Free functions; safe from any thread.

#include <rapidjson/document.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace keystone::daemon {

// Coral's SerializationException: the JSON has the wrong shape.
Status SerializationError(std::string message);

// "1 validation error detected: Value 'x' at 'path' failed to satisfy
// constraint: ...", DynamoDB's form for a member that breaks its model
// (`value` nullopt: shown as null).
Status ConstraintError(std::optional<std::string_view> value, std::string_view path,
                       std::string_view constraint);

// ConstraintError for a required member that is absent.
Status MissingMember(std::string_view path);

// "TableName" -> "tableName": the model's name of a member, as paths in
// ConstraintError use it.
std::string LowerFirst(std::string_view name);

// The members of a request object. A member that is absent or JSON null is
// absent (nullptr / nullopt); one of the wrong JSON type is a
// SerializationException naming the expected type.
const rapidjson::Value* Member(const rapidjson::Value& object, std::string_view name);
Result<std::optional<std::string>> OptString(const rapidjson::Value& object, std::string_view name);
// An expression member (ConditionExpression, ...): absent is none, but an
// empty string is an error, as DynamoDB says, not "no condition".
Result<std::optional<std::string>> OptExpression(const rapidjson::Value& object,
                                                 std::string_view name);
// A required string; `path` names it in the error when it is absent.
Result<std::string> ReqString(const rapidjson::Value& object, std::string_view name,
                              std::string_view path);
Result<std::optional<bool>> OptBool(const rapidjson::Value& object, std::string_view name);
// Integers as Coral reads them: JSON numbers, fractions truncated.
Result<std::optional<int64_t>> OptInt(const rapidjson::Value& object, std::string_view name);
// An integer member that must lie in [min, max] when present.
Result<std::optional<int64_t>> OptIntInRange(const rapidjson::Value& object, std::string_view name,
                                             int64_t min, int64_t max);
// A structure (fixed members), a map (any keys) and a list member.
Result<const rapidjson::Value*> OptObject(const rapidjson::Value& object, std::string_view name);
Result<const rapidjson::Value*> OptMap(const rapidjson::Value& object, std::string_view name);
Result<const rapidjson::Value*> OptArray(const rapidjson::Value& object, std::string_view name);

// Ok when `value` is one of `allowed`; otherwise ConstraintError at `path`
// listing the enum as DynamoDB lists it (`allowed` in that order).
Status CheckEnum(const std::string& value, std::string_view path,
                 std::initializer_list<std::string_view> allowed);

}  // namespace keystone::daemon
