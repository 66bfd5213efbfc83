#pragma once

// DynamoDB's legacy request parameters (the forms before expressions, 2014):
// AttributesToGet, Expected, KeyConditions, QueryFilter, ScanFilter,
// ConditionalOperator and AttributeUpdates. Older SDK code, object mappers
// (the Java SDK v1's DynamoDBMapper among them) and tools still send them,
// and DynamoDB still honours them; Keystone does so by translating each into
// the expression DynamoDB documents as its equivalent, so that one evaluator
// serves both forms and they cannot drift apart:
//
//   AttributesToGet [a, b]                    ProjectionExpression #a, #b
//   Expected {a: {Exists: false}}             attribute_not_exists(#a)
//   Expected {a: {Value: v}}                  #a = :v
//   {ComparisonOperator: OP, AttributeValueList: [...]}, by OP:
//     EQ NE LE LT GE GT                       #a = :v, <>, <=, <, >=, >
//     NULL / NOT_NULL                         attribute_not_exists(#a) / _exists
//     CONTAINS / NOT_CONTAINS                 contains(#a, :v) / NOT contains(...)
//     BEGINS_WITH  IN  BETWEEN                begins_with(#a, :v), #a IN (...),
//                                             #a BETWEEN :v1 AND :v2
//   several conditions                        joined by AND, or OR when
//                                             ConditionalOperator says so
//   AttributeUpdates {a: {Action, Value}}     PUT: SET #a = :v;
//                                             DELETE: REMOVE #a, or with a
//                                             set value DELETE #a :v;
//                                             ADD: ADD #a :v, or for a list
//                                             SET #a = list_append(
//                                               if_not_exists(#a, :empty), :v)
//
// Requests are checked as DynamoDB checks them, with its messages: the shape
// of every condition (Exists with Value, argument counts, argument types,
// BETWEEN bounds), ConditionalOperator only with two or more conditions, and
// no legacy parameter beside the expression parameter that replaces it
// ("Can not use both expression and non-expression parameters in the same
// request: ..."). Free functions; safe from any thread.

#include <rapidjson/document.h>

#include <optional>
#include <string>

#include "base/status.h"
#include "lmdb_store/item_store.h"

namespace keystone::daemon {

// The operation (or, for BatchGetItem, one table's entry of RequestItems)
// whose parameters are read: it decides which legacy parameters apply.
enum class LegacyOperation {
  kGetItem,
  kPutItem,
  kUpdateItem,
  kDeleteItem,
  kQuery,
  kScan,
  kBatchGet
};

// What a request's legacy parameters translate to. Each expression is set
// only when the request carried the parameter it replaces.
struct LegacyExpressions {
  std::optional<std::string> projection;     // AttributesToGet
  std::optional<std::string> condition;      // Expected (+ ConditionalOperator)
  std::optional<std::string> update;         // AttributeUpdates
  std::optional<std::string> key_condition;  // KeyConditions
  std::optional<std::string> filter;         // QueryFilter / ScanFilter (+ ConditionalOperator)
  // The placeholders the expressions above use. Their names never collide
  // with the request's own ExpressionAttributeNames/Values, which a Query may
  // carry beside KeyConditions (DynamoDB allows KeyConditions with a
  // FilterExpression), so the two sets can simply be merged (MergeInto).
  store::ExpressionInputs inputs;

  // Adds `inputs` to the request's own placeholders.
  void MergeInto(store::ExpressionInputs* request_inputs) &&;
};

// Checks the legacy parameters `request` carries for `operation` and
// translates them; an empty LegacyExpressions when there are none. Also makes
// DynamoDB's checks that tie the two forms together: legacy and expression
// parameters are not mixed, and ExpressionAttributeNames/Values come only
// with an expression. kInvalidArgument (ValidationException) or
// kFailedPrecondition (SerializationException, a member of the wrong JSON
// type) with DynamoDB's message otherwise.
Result<LegacyExpressions> TranslateLegacyParameters(const rapidjson::Value& request,
                                                    LegacyOperation operation);

}  // namespace keystone::daemon
