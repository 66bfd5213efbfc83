#include "daemon/dynamodb_request.h"

#include <cmath>

#include "daemon/dynamodb_json_internal.h"

namespace keystone::daemon {

using rapidjson::Value;

Status SerializationError(std::string message) {
  return Status(StatusCode::kFailedPrecondition, std::move(message));
}

// "1 validation error detected: Value 'x' at 'path' failed to satisfy
// constraint: ...", DynamoDB's form for a member that breaks its model.
Status ConstraintError(std::optional<std::string_view> value, std::string_view path,
                       std::string_view constraint) {
  std::string shown = value ? "'" + std::string(*value) + "'" : "null";
  return InvalidArgument("1 validation error detected: Value " + shown + " at '" +
                         std::string(path) +
                         "' failed to satisfy constraint: " + std::string(constraint));
}

Status MissingMember(std::string_view path) {
  return ConstraintError(std::nullopt, path, "Member must not be null");
}

std::string LowerFirst(std::string_view name) {
  std::string out(name);
  if (!out.empty() && out[0] >= 'A' && out[0] <= 'Z')
    out[0] = static_cast<char>(out[0] - 'A' + 'a');
  return out;
}

const Value* Member(const Value& object, std::string_view name) {
  auto it = object.FindMember(
      Value(rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size()))));
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

Result<std::optional<std::string>> OptString(const Value& object, std::string_view name) {
  const Value* v = Member(object, name);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->IsString()) return WrongJsonType(*v, JsonKind::kString);
  return std::optional<std::string>(std::string(JsonStringView(*v)));
}

// An expression member (ConditionExpression, ...): absent is none, but an
// empty string is an error, as DynamoDB says, not "no condition".
Result<std::optional<std::string>> OptExpression(const Value& object, std::string_view name) {
  KS_ASSIGN_OR_RETURN(std::optional<std::string> s, OptString(object, name));
  if (s && s->empty()) {
    return InvalidArgument("Invalid " + std::string(name) + ": The expression can not be empty;");
  }
  return s;
}

Result<std::string> ReqString(const Value& object, std::string_view name, std::string_view path) {
  KS_ASSIGN_OR_RETURN(std::optional<std::string> s, OptString(object, name));
  if (!s) return MissingMember(path);
  return *std::move(s);
}

Result<std::optional<bool>> OptBool(const Value& object, std::string_view name) {
  const Value* v = Member(object, name);
  if (v == nullptr) return std::optional<bool>();
  if (!v->IsBool()) return WrongJsonType(*v, JsonKind::kBoolean);
  return std::optional<bool>(v->GetBool());
}

// Integers as Coral reads them: JSON numbers, fractions truncated.
Result<std::optional<int64_t>> OptInt(const Value& object, std::string_view name) {
  const Value* v = Member(object, name);
  if (v == nullptr) return std::optional<int64_t>();
  if (!v->IsNumber()) return WrongJsonType(*v, JsonKind::kInteger);
  if (v->IsInt64()) return std::optional<int64_t>(v->GetInt64());
  double d = std::floor(v->GetDouble());
  if (!(d >= -9.2e18 && d <= 9.2e18)) {
    return SerializationError("Numeric value (" + std::to_string(d) + ") out of range of long");
  }
  return std::optional<int64_t>(static_cast<int64_t>(d));
}

// An integer member that must lie in [min, max] when present.
Result<std::optional<int64_t>> OptIntInRange(const Value& object, std::string_view name,
                                             int64_t min, int64_t max) {
  KS_ASSIGN_OR_RETURN(std::optional<int64_t> v, OptInt(object, name));
  if (v && *v < min) {
    return ConstraintError(
        std::to_string(*v), LowerFirst(name),
        "Member must have value greater than or equal to " + std::to_string(min));
  }
  if (v && *v > max) {
    return ConstraintError(std::to_string(*v), LowerFirst(name),
                           "Member must have value less than or equal to " + std::to_string(max));
  }
  return v;
}

Result<const Value*> OptObject(const Value& object, std::string_view name) {
  const Value* v = Member(object, name);
  if (v != nullptr && !v->IsObject()) return WrongJsonType(*v, JsonKind::kStructure);
  return v;
}

Result<const Value*> OptMap(const Value& object, std::string_view name) {
  const Value* v = Member(object, name);
  if (v != nullptr && !v->IsObject()) return WrongJsonType(*v, JsonKind::kMap);
  return v;
}

Result<const Value*> OptArray(const Value& object, std::string_view name) {
  const Value* v = Member(object, name);
  if (v != nullptr && !v->IsArray()) return WrongJsonType(*v, JsonKind::kList);
  return v;
}

// One of `allowed` (listed in the message as DynamoDB lists the enum).
Status CheckEnum(const std::string& value, std::string_view path,
                 std::initializer_list<std::string_view> allowed) {
  for (std::string_view a : allowed) {
    if (value == a) return Status::Ok();
  }
  std::string set = "[";
  bool first = true;
  for (std::string_view a : allowed) {
    if (!first) set += ", ";
    first = false;
    set += a;
  }
  return ConstraintError(value, path, "Member must satisfy enum value set: " + set + "]");
}

}  // namespace keystone::daemon
