#include "daemon/dynamodb_legacy.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "base/check.h"
#include "daemon/dynamodb_json_internal.h"
#include "daemon/dynamodb_request.h"

namespace keystone::daemon {

using rapidjson::Value;
using store::AttributeType;
using store::AttributeValue;

namespace {

constexpr std::string_view kInvalid = "One or more parameter values were invalid: ";

// ---------------------------------------------------------------------------
// Which parameters each operation has

struct OperationParameters {
  // Expression parameters, then the legacy ones, each in the order DynamoDB
  // lists them in its "Can not use both ..." message.
  std::vector<std::string_view> expressions;
  std::vector<std::string_view> legacy;
  // The expressions that take ExpressionAttributeValues (not
  // ProjectionExpression), for "ExpressionAttributeValues can only be
  // specified when using expressions: ... is null".
  std::vector<std::string_view> value_expressions;
};

const OperationParameters& ParametersOf(LegacyOperation operation) {
  static const std::array<OperationParameters, 7> kParameters = {{
      // kGetItem
      {{"ProjectionExpression"}, {"AttributesToGet"}, {}},
      // kPutItem
      {{"ConditionExpression"}, {"Expected", "ConditionalOperator"}, {"ConditionExpression"}},
      // kUpdateItem
      {{"UpdateExpression", "ConditionExpression"},
       {"AttributeUpdates", "Expected", "ConditionalOperator"},
       {"UpdateExpression", "ConditionExpression"}},
      // kDeleteItem
      {{"ConditionExpression"}, {"Expected", "ConditionalOperator"}, {"ConditionExpression"}},
      // kQuery
      {{"ProjectionExpression", "FilterExpression", "KeyConditionExpression"},
       {"AttributesToGet", "QueryFilter", "ConditionalOperator", "KeyConditions"},
       {"FilterExpression", "KeyConditionExpression"}},
      // kScan
      {{"ProjectionExpression", "FilterExpression"},
       {"AttributesToGet", "ScanFilter", "ConditionalOperator"},
       {"FilterExpression"}},
      // kBatchGet
      {{"ProjectionExpression"}, {"AttributesToGet"}, {}},
  }};
  return kParameters[static_cast<size_t>(operation)];
}

std::string JoinNames(const std::vector<std::string_view>& names, std::string_view separator) {
  std::string out;
  for (std::string_view name : names) {
    if (!out.empty()) out += separator;
    out += name;
  }
  return out;
}

// DynamoDB's checks that tie the two forms together.
Status CheckFormsNotMixed(const Value& request, const OperationParameters& parameters) {
  std::vector<std::string_view> expressions, legacy;
  for (std::string_view name : parameters.expressions) {
    if (Member(request, name) != nullptr) expressions.push_back(name);
  }
  for (std::string_view name : parameters.legacy) {
    if (Member(request, name) != nullptr) legacy.push_back(name);
  }
  // KeyConditions may come with a FilterExpression or a ProjectionExpression;
  // only KeyConditionExpression excludes it.
  if (Member(request, "KeyConditionExpression") == nullptr) {
    legacy.erase(std::remove(legacy.begin(), legacy.end(), "KeyConditions"), legacy.end());
  }
  if (!expressions.empty() && !legacy.empty()) {
    return InvalidArgument(
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {" +
        JoinNames(legacy, ", ") + "} Expression parameters: {" + JoinNames(expressions, ", ") +
        "}");
  }
  if (expressions.empty() && Member(request, "ExpressionAttributeNames") != nullptr) {
    return InvalidArgument("ExpressionAttributeNames can only be specified when using expressions");
  }
  const std::vector<std::string_view>& with_values = parameters.value_expressions;
  if (!with_values.empty() && Member(request, "ExpressionAttributeValues") != nullptr &&
      std::none_of(with_values.begin(), with_values.end(),
                   [&](std::string_view name) { return Member(request, name) != nullptr; })) {
    return InvalidArgument(
        "ExpressionAttributeValues can only be specified when using "
        "expressions: " +
        JoinNames(with_values, " and ") + (with_values.size() > 1 ? " are null" : " is null"));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Placeholders

// Hands out the placeholders of the translated expressions: "#L0"... for
// attribute names (one per name), ":L0"... for values. When the request has
// placeholders of its own that start the same way, the prefixes grow ("#L_")
// until none does, so the two sets never collide.
class Placeholders {
 public:
  explicit Placeholders(const Value& request)
      : name_prefix_(FreePrefix(request, "ExpressionAttributeNames", "#L")),
        value_prefix_(FreePrefix(request, "ExpressionAttributeValues", ":L")) {}

  std::string Name(const std::string& attribute) {
    auto [it, inserted] = name_of_.try_emplace(attribute);
    if (inserted) {
      it->second = name_prefix_ + std::to_string(name_of_.size() - 1);
      inputs_.names.emplace(it->second, attribute);
    }
    return it->second;
  }

  std::string Value(AttributeValue value) {
    std::string placeholder = value_prefix_ + std::to_string(inputs_.values.size());
    inputs_.values.emplace(placeholder, std::move(value));
    return placeholder;
  }

  store::ExpressionInputs Take() && { return std::move(inputs_); }

 private:
  static std::string FreePrefix(const rapidjson::Value& request, std::string_view member,
                                std::string prefix) {
    const rapidjson::Value* own = Member(request, member);
    if (own == nullptr || !own->IsObject()) return prefix;
    for (bool clash = true; clash;) {
      clash = false;
      for (const auto& m : own->GetObject()) {
        if (JsonStringView(m.name).substr(0, prefix.size()) == prefix) {
          clash = true;
          prefix += '_';
          break;
        }
      }
    }
    return prefix;
  }

  std::string name_prefix_;
  std::string value_prefix_;
  std::map<std::string, std::string> name_of_;  // attribute -> its placeholder
  store::ExpressionInputs inputs_;
};

// ---------------------------------------------------------------------------
// Conditions

enum class Comparison {
  kEq,
  kNe,
  kLe,
  kLt,
  kGe,
  kGt,
  kNotNull,
  kNull,
  kContains,
  kNotContains,
  kBeginsWith,
  kIn,
  kBetween
};

struct ComparisonInfo {
  std::string_view name;
  Comparison comparison;
  size_t min_values, max_values;
  // The AttributeValue types its arguments may have; empty: any.
  std::vector<AttributeType> argument_types;
  // The expression's operator, for the comparisons that are one ("=", ...).
  std::string_view expression_operator = {};
};

const std::vector<ComparisonInfo>& Comparisons() {
  using T = AttributeType;
  static const std::vector<ComparisonInfo> kComparisons = {
      // EQ and NE compare attributes of any type, lists and maps too, but
      // with a scalar or a set argument only (as DynamoDB documents).
      {"EQ", Comparison::kEq, 1, 1, {T::kS, T::kN, T::kB, T::kSS, T::kNS, T::kBS}, "="},
      {"NE", Comparison::kNe, 1, 1, {T::kS, T::kN, T::kB, T::kSS, T::kNS, T::kBS}, "<>"},
      {"LE", Comparison::kLe, 1, 1, {T::kS, T::kN, T::kB}, "<="},
      {"LT", Comparison::kLt, 1, 1, {T::kS, T::kN, T::kB}, "<"},
      {"GE", Comparison::kGe, 1, 1, {T::kS, T::kN, T::kB}, ">="},
      {"GT", Comparison::kGt, 1, 1, {T::kS, T::kN, T::kB}, ">"},
      {"NOT_NULL", Comparison::kNotNull, 0, 0, {}},
      {"NULL", Comparison::kNull, 0, 0, {}},
      {"CONTAINS", Comparison::kContains, 1, 1, {T::kS, T::kN, T::kB}},
      {"NOT_CONTAINS", Comparison::kNotContains, 1, 1, {T::kS, T::kN, T::kB}},
      {"BEGINS_WITH", Comparison::kBeginsWith, 1, 1, {T::kS, T::kB}},
      {"IN", Comparison::kIn, 1, SIZE_MAX, {T::kS, T::kN, T::kB}},
      {"BETWEEN", Comparison::kBetween, 2, 2, {T::kS, T::kN, T::kB}},
  };
  return kComparisons;
}

const ComparisonInfo& InfoOf(Comparison comparison) {
  for (const ComparisonInfo& info : Comparisons()) {
    if (info.comparison == comparison) return info;
  }
  KS_CHECK(false);
  return Comparisons().front();
}

// The comparison named `name`; a ConstraintError at `path` listing the enum
// as DynamoDB does when there is none.
Result<const ComparisonInfo*> ComparisonNamed(const std::string& name, std::string_view path) {
  for (const ComparisonInfo& info : Comparisons()) {
    if (info.name == name) return &info;
  }
  return CheckEnum(name, path,
                   {"IN", "NULL", "BETWEEN", "LT", "NOT_CONTAINS", "EQ", "GT", "NOT_NULL", "NE",
                    "LE", "BEGINS_WITH", "GE", "CONTAINS"});
}

// One condition on one top-level attribute.
struct LegacyCondition {
  std::string attribute;
  const ComparisonInfo* comparison = nullptr;
  std::vector<AttributeValue> values;
};

// Orders two scalars (S, N or B) of one type as DynamoDB does.
int CompareScalars(const AttributeValue& a, const AttributeValue& b) {
  if (a.is(AttributeType::kN)) return a.n().Compare(b.n());
  const std::string& x = a.is(AttributeType::kS) ? a.s() : a.b();
  const std::string& y = b.is(AttributeType::kS) ? b.s() : b.b();
  int order = x.compare(y);
  return order < 0 ? -1 : (order > 0 ? 1 : 0);
}

// The checks every condition's arguments get, whichever parameter holds it.
Status CheckArguments(const LegacyCondition& condition) {
  const ComparisonInfo& info = *condition.comparison;
  const std::vector<AttributeValue>& values = condition.values;
  if (values.size() < info.min_values || values.size() > info.max_values) {
    return InvalidArgument(std::string(kInvalid) + "Invalid number of argument(s) for the " +
                           std::string(info.name) + " ComparisonOperator");
  }
  for (const AttributeValue& v : values) {
    if (v.type() != values[0].type()) {
      return InvalidArgument(std::string(kInvalid) +
                             "AttributeValues inside AttributeValueList must be of same type");
    }
  }
  const std::vector<AttributeType>& allowed = info.argument_types;
  for (const AttributeValue& v : values) {
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), v.type()) == allowed.end()) {
      return InvalidArgument(std::string(kInvalid) + "ComparisonOperator " +
                             std::string(info.name) + " is not valid for " +
                             std::string(store::AttributeTypeName(v.type())) +
                             " AttributeValue type");
    }
  }
  if (info.comparison == Comparison::kBetween && CompareScalars(values[0], values[1]) > 0) {
    return InvalidArgument(
        "The BETWEEN condition was provided a range where the lower bound is greater than the "
        "upper bound");
  }
  return Status::Ok();
}

// The AttributeValueList member of a condition at `path`.
Result<std::vector<AttributeValue>> AttributeValueList(const Value& entry, std::string_view path) {
  std::vector<AttributeValue> values;
  KS_ASSIGN_OR_RETURN(const Value* list, OptArray(entry, "AttributeValueList"));
  if (list == nullptr) return values;
  for (const Value& element : list->GetArray()) {
    KS_ASSIGN_OR_RETURN(AttributeValue v, JsonToAttributeValue(element));
    KS_RETURN_IF_ERROR(store::ValidateValue(v, path));
    values.push_back(std::move(v));
  }
  return values;
}

// A condition of QueryFilter, ScanFilter or KeyConditions ({ComparisonOperator,
// AttributeValueList}); `parameter` is the member's name, for paths.
Result<LegacyCondition> FilterCondition(std::string attribute, const Value& entry,
                                        std::string_view parameter) {
  if (!entry.IsObject()) return WrongJsonType(entry, JsonKind::kStructure);
  const std::string path = LowerFirst(parameter) + "." + attribute + ".member";
  LegacyCondition condition;
  KS_ASSIGN_OR_RETURN(std::string op,
                      ReqString(entry, "ComparisonOperator", path + ".comparisonOperator"));
  KS_ASSIGN_OR_RETURN(condition.comparison, ComparisonNamed(op, path + ".comparisonOperator"));
  KS_ASSIGN_OR_RETURN(condition.values, AttributeValueList(entry, attribute));
  KS_RETURN_IF_ERROR(CheckArguments(condition));
  condition.attribute = std::move(attribute);
  return condition;
}

// An entry of Expected: {Value, Exists} or {ComparisonOperator,
// AttributeValueList} (DynamoDB also takes Value in place of a one-element
// list). Its own checks come first, in DynamoDB's order.
Result<LegacyCondition> ExpectedCondition(std::string attribute, const Value& entry) {
  if (!entry.IsObject()) return WrongJsonType(entry, JsonKind::kStructure);
  const std::string path = "expected." + attribute + ".member";
  const std::string invalid = "1 validation error detected: " + std::string(kInvalid);
  const std::string for_attribute = " for Attribute: " + attribute;
  KS_ASSIGN_OR_RETURN(std::optional<std::string> op, OptString(entry, "ComparisonOperator"));
  KS_ASSIGN_OR_RETURN(std::optional<bool> exists, OptBool(entry, "Exists"));
  KS_ASSIGN_OR_RETURN(const Value* list, OptArray(entry, "AttributeValueList"));
  const Value* value_json = Member(entry, "Value");
  std::optional<AttributeValue> value;
  if (value_json != nullptr) {
    KS_ASSIGN_OR_RETURN(value, JsonToAttributeValue(*value_json));
    KS_RETURN_IF_ERROR(store::ValidateValue(*value, attribute));
  }
  if (list != nullptr && value) {
    return InvalidArgument(invalid + "Value and AttributeValueList cannot be used together" +
                           for_attribute);
  }
  LegacyCondition condition;
  if (op) {
    KS_ASSIGN_OR_RETURN(condition.comparison, ComparisonNamed(*op, path + ".comparisonOperator"));
    if (exists) {
      return InvalidArgument(invalid + "Exists and ComparisonOperator cannot be used together" +
                             for_attribute);
    }
    const Comparison c = condition.comparison->comparison;
    if (c != Comparison::kNull && c != Comparison::kNotNull && list == nullptr && !value) {
      return InvalidArgument(invalid +
                             "Value or AttributeValueList must be used with "
                             "ComparisonOperator: " +
                             *op + for_attribute);
    }
    if (value) {
      condition.values.push_back(std::move(*value));
    } else {
      KS_ASSIGN_OR_RETURN(condition.values, AttributeValueList(entry, attribute));
    }
    KS_RETURN_IF_ERROR(CheckArguments(condition));
  } else if (list != nullptr) {
    return InvalidArgument(invalid +
                           "AttributeValueList can only be used with a "
                           "ComparisonOperator" +
                           for_attribute);
  } else if (exists.value_or(true)) {
    if (!value) {
      return InvalidArgument(invalid + "Value must be provided when Exists is " +
                             (exists ? "true" : "null") + for_attribute);
    }
    condition.comparison = &InfoOf(Comparison::kEq);
    condition.values.push_back(std::move(*value));
  } else {
    if (value) {
      return InvalidArgument(invalid + "Value cannot be used when Exists is false" + for_attribute);
    }
    condition.comparison = &InfoOf(Comparison::kNull);
  }
  condition.attribute = std::move(attribute);
  return condition;
}

// The expression DynamoDB documents as the condition's equivalent.
std::string ConditionText(LegacyCondition condition, Placeholders& placeholders) {
  const std::string name = placeholders.Name(condition.attribute);
  std::vector<std::string> v;
  for (AttributeValue& value : condition.values) v.push_back(placeholders.Value(std::move(value)));
  if (!condition.comparison->expression_operator.empty()) {
    return name + " " + std::string(condition.comparison->expression_operator) + " " + v[0];
  }
  switch (condition.comparison->comparison) {
    case Comparison::kNotNull:
      return "attribute_exists(" + name + ")";
    case Comparison::kNull:
      return "attribute_not_exists(" + name + ")";
    case Comparison::kContains:
      return "contains(" + name + ", " + v[0] + ")";
    case Comparison::kNotContains:
      return "NOT contains(" + name + ", " + v[0] + ")";
    case Comparison::kBeginsWith:
      return "begins_with(" + name + ", " + v[0] + ")";
    case Comparison::kIn: {
      std::string text = name + " IN (";
      for (size_t i = 0; i < v.size(); ++i) text += (i == 0 ? "" : ", ") + v[i];
      return text + ")";
    }
    case Comparison::kBetween:
      return name + " BETWEEN " + v[0] + " AND " + v[1];
    default:  // the comparison operators, above
      break;
  }
  return "";
}

// The conditions of Expected, QueryFilter or ScanFilter (`parameter`; null
// when absent), joined by `conjunction` (" AND " or " OR ").
Result<std::optional<std::string>> ConditionsText(const Value& request, std::string_view parameter,
                                                  std::string_view conjunction,
                                                  Placeholders& placeholders) {
  KS_ASSIGN_OR_RETURN(const Value* map, OptMap(request, parameter));
  if (map == nullptr) return std::optional<std::string>();
  std::vector<LegacyCondition> conditions;
  for (const auto& m : map->GetObject()) {
    std::string attribute(JsonStringView(m.name));
    if (m.value.IsNull()) continue;
    if (parameter == "Expected") {
      KS_ASSIGN_OR_RETURN(LegacyCondition c, ExpectedCondition(std::move(attribute), m.value));
      conditions.push_back(std::move(c));
    } else {
      KS_ASSIGN_OR_RETURN(LegacyCondition c,
                          FilterCondition(std::move(attribute), m.value, parameter));
      conditions.push_back(std::move(c));
    }
  }
  if (conditions.empty()) return std::optional<std::string>();  // {}: no condition
  std::string text;
  for (LegacyCondition& c : conditions) {
    if (!text.empty()) text += conjunction;
    std::string term = ConditionText(std::move(c), placeholders);
    text += conditions.size() > 1 ? "(" + term + ")" : term;
  }
  return std::optional<std::string>(std::move(text));
}

// Expected, QueryFilter or ScanFilter (`parameter`) with ConditionalOperator,
// which DynamoDB takes only beside two or more conditions.
Result<std::optional<std::string>> ConditionParameter(const Value& request,
                                                      std::string_view parameter,
                                                      Placeholders& placeholders) {
  KS_ASSIGN_OR_RETURN(std::optional<std::string> op, OptString(request, "ConditionalOperator"));
  if (op) KS_RETURN_IF_ERROR(CheckEnum(*op, "conditionalOperator", {"AND", "OR"}));
  KS_ASSIGN_OR_RETURN(const Value* map, OptMap(request, parameter));
  if (op) {
    if (map == nullptr || map->MemberCount() == 0) {
      return InvalidArgument("ConditionalOperator cannot be used without Filter or Expected");
    }
    if (map->MemberCount() < 2) {
      return InvalidArgument(
          "ConditionalOperator can only be used when Filter or Expected has two or more "
          "elements");
    }
  }
  return ConditionsText(request, parameter, op == "OR" ? " OR " : " AND ", placeholders);
}

// KeyConditions: one or two conditions, on the key attributes (the store
// checks which), with the operators a key can be read by.
Result<std::optional<std::string>> KeyConditionsText(const Value& request,
                                                     Placeholders& placeholders) {
  KS_ASSIGN_OR_RETURN(const Value* map, OptMap(request, "KeyConditions"));
  if (map == nullptr) return std::optional<std::string>();
  std::string text;
  size_t count = 0;
  for (const auto& m : map->GetObject()) {
    if (m.value.IsNull()) continue;
    KS_ASSIGN_OR_RETURN(LegacyCondition c, FilterCondition(std::string(JsonStringView(m.name)),
                                                           m.value, "KeyConditions"));
    switch (c.comparison->comparison) {
      case Comparison::kEq:
      case Comparison::kLe:
      case Comparison::kLt:
      case Comparison::kGe:
      case Comparison::kGt:
      case Comparison::kBeginsWith:
      case Comparison::kBetween:
        break;
      default:
        return InvalidArgument("Attempted conditional constraint is not an indexable operation");
    }
    if (!text.empty()) text += " AND ";
    text += ConditionText(std::move(c), placeholders);
    ++count;
  }
  if (count != 1 && count != 2) return InvalidArgument("Conditions can be of length 1 or 2 only");
  return std::optional<std::string>(std::move(text));
}

// ---------------------------------------------------------------------------
// AttributesToGet and AttributeUpdates

Result<std::optional<std::string>> AttributesToGetText(const Value& request,
                                                       Placeholders& placeholders) {
  KS_ASSIGN_OR_RETURN(const Value* list, OptArray(request, "AttributesToGet"));
  if (list == nullptr) return std::optional<std::string>();
  if (list->Empty()) {
    return ConstraintError("[]", "attributesToGet",
                           "Member must have length greater than or equal to 1");
  }
  std::set<std::string_view> seen;
  std::string text;
  for (const Value& element : list->GetArray()) {
    if (!element.IsString()) return WrongJsonType(element, JsonKind::kString);
    std::string_view name = JsonStringView(element);
    if (!seen.insert(name).second) {
      return InvalidArgument(std::string(kInvalid) +
                             "Duplicate value in attribute name: " + std::string(name));
    }
    if (!text.empty()) text += ", ";
    text += placeholders.Name(std::string(name));
  }
  return std::optional<std::string>(std::move(text));
}

Result<std::optional<std::string>> AttributeUpdatesText(const Value& request,
                                                        Placeholders& placeholders) {
  KS_ASSIGN_OR_RETURN(const Value* map, OptMap(request, "AttributeUpdates"));
  if (map == nullptr) return std::optional<std::string>();
  std::vector<std::string> set, remove, add, del;
  for (const auto& m : map->GetObject()) {
    if (m.value.IsNull()) continue;
    if (!m.value.IsObject()) return WrongJsonType(m.value, JsonKind::kStructure);
    std::string attribute(JsonStringView(m.name));
    KS_ASSIGN_OR_RETURN(std::optional<std::string> action, OptString(m.value, "Action"));
    if (action) {
      KS_RETURN_IF_ERROR(CheckEnum(*action, "attributeUpdates." + attribute + ".member.action",
                                   {"ADD", "PUT", "DELETE"}));
    }
    const std::string act = action.value_or("PUT");
    const Value* value_json = Member(m.value, "Value");
    if (value_json == nullptr) {
      if (act != "DELETE") {
        return InvalidArgument(std::string(kInvalid) +
                               "Only DELETE action is allowed when no attribute value is "
                               "specified");
      }
      remove.push_back(placeholders.Name(attribute));
      continue;
    }
    KS_ASSIGN_OR_RETURN(AttributeValue value, JsonToAttributeValue(*value_json));
    KS_RETURN_IF_ERROR(store::ValidateValue(value, attribute));
    const AttributeType type = value.type();
    const bool is_set =
        type == AttributeType::kSS || type == AttributeType::kNS || type == AttributeType::kBS;
    const std::string type_name(store::AttributeTypeName(type));
    const std::string name = placeholders.Name(attribute);
    if (act == "PUT") {
      set.push_back(name + " = " + placeholders.Value(std::move(value)));
    } else if (act == "DELETE") {
      if (!is_set) {
        return InvalidArgument(std::string(kInvalid) +
                               "DELETE action with value is not supported for the type " +
                               type_name);
      }
      del.push_back(name + " " + placeholders.Value(std::move(value)));
    } else if (type == AttributeType::kL) {
      // ADD appends to a list (or makes one); expressions spell that out.
      std::string empty = placeholders.Value(AttributeValue::L({}));
      set.push_back(name + " = list_append(if_not_exists(" + name + ", " + empty + "), " +
                    placeholders.Value(std::move(value)) + ")");
    } else {
      if (!is_set && type != AttributeType::kN) {
        return InvalidArgument(std::string(kInvalid) + "ADD action is not supported for the type " +
                               type_name);
      }
      add.push_back(name + " " + placeholders.Value(std::move(value)));
    }
  }
  std::string text;
  auto clause = [&text](std::string_view keyword, const std::vector<std::string>& actions) {
    if (actions.empty()) return;
    if (!text.empty()) text += ' ';
    text += keyword;
    text += ' ';
    for (size_t i = 0; i < actions.size(); ++i) text += (i == 0 ? "" : ", ") + actions[i];
  };
  clause("SET", set);
  clause("REMOVE", remove);
  clause("ADD", add);
  clause("DELETE", del);
  // {}: no change; the update only makes sure the item exists, as DynamoDB.
  if (text.empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(text));
}

}  // namespace

void LegacyExpressions::MergeInto(store::ExpressionInputs* request_inputs) && {
  request_inputs->names.merge(inputs.names);
  request_inputs->values.merge(inputs.values);
}

Result<LegacyExpressions> TranslateLegacyParameters(const Value& request,
                                                    LegacyOperation operation) {
  const OperationParameters& parameters = ParametersOf(operation);
  if (!request.IsObject()) return LegacyExpressions();
  // The common request has neither legacy parameters nor expression
  // attributes: one pass over its few members tells, before any lookup.
  bool relevant = false;
  for (const auto& m : request.GetObject()) {
    std::string_view name = JsonStringView(m.name);
    relevant = relevant || name == "ExpressionAttributeNames" ||
               name == "ExpressionAttributeValues" ||
               std::find(parameters.legacy.begin(), parameters.legacy.end(), name) !=
                   parameters.legacy.end();
  }
  if (!relevant) return LegacyExpressions();
  KS_RETURN_IF_ERROR(CheckFormsNotMixed(request, parameters));
  LegacyExpressions out;
  bool any = false;
  for (std::string_view name : parameters.legacy) any = any || Member(request, name) != nullptr;
  if (!any) return out;
  Placeholders placeholders(request);
  KS_ASSIGN_OR_RETURN(out.projection, AttributesToGetText(request, placeholders));
  if (operation == LegacyOperation::kUpdateItem) {
    KS_ASSIGN_OR_RETURN(out.update, AttributeUpdatesText(request, placeholders));
  }
  if (operation == LegacyOperation::kPutItem || operation == LegacyOperation::kUpdateItem ||
      operation == LegacyOperation::kDeleteItem) {
    KS_ASSIGN_OR_RETURN(out.condition, ConditionParameter(request, "Expected", placeholders));
  }
  if (operation == LegacyOperation::kQuery) {
    KS_ASSIGN_OR_RETURN(out.key_condition, KeyConditionsText(request, placeholders));
    KS_ASSIGN_OR_RETURN(out.filter, ConditionParameter(request, "QueryFilter", placeholders));
  }
  if (operation == LegacyOperation::kScan) {
    KS_ASSIGN_OR_RETURN(out.filter, ConditionParameter(request, "ScanFilter", placeholders));
  }
  out.inputs = std::move(placeholders).Take();
  return out;
}

}  // namespace keystone::daemon
