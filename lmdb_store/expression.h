#pragma once

// DynamoDB expressions: ConditionExpression / FilterExpression, UpdateExpression,
// ProjectionExpression and KeyConditionExpression, with DynamoDB's grammar,
// semantics, reserved words, placeholders (#name, :value) and limits
// (expression text 4 KB, 300 operators, document path depth 32, IN with at most
// 100 operands). Parsing validates everything that can be known without an
// item; evaluation handles the item. Parsed expressions are immutable and may be
// evaluated from several threads at once.
//
// Error messages follow DynamoDB's wording, e.g.
//   "Invalid UpdateExpression: Syntax error; token: \"=\", near: \"SET =\""
//   "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: size"
//   "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}"
// All parse and apply failures are kInvalidArgument (a ValidationException).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "lmdb_store/attribute_value.h"

namespace keystone::store {

inline constexpr size_t kMaxExpressionBytes = 4096;
inline constexpr int kMaxExpressionOperators = 300;
inline constexpr int kMaxPathDepth = 32;
inline constexpr int kMaxInOperands = 100;
// UpdateExpression::Apply's message when an operand has a type its action
// cannot take (ADD to a string, a DELETE of the wrong set type, ...).
inline constexpr std::string_view kUpdateOperandTypeError =
    "An operand in the update expression has an incorrect data type";

// One step of a document path: an attribute or map key name, or a list index.
struct PathElement {
  std::string name;   // when !is_index
  int64_t index = 0;  // when is_index
  bool is_index = false;
  friend bool operator==(const PathElement&, const PathElement&) = default;
};
// a.b[2].c = {name a, name b, index 2, name c}. Never empty; the first element
// is always a name.
using AttributePath = std::vector<PathElement>;

// "a.b[2].c" (names are not re-escaped); for messages.
std::string PathToString(const AttributePath& path);

// The ExpressionAttributeNames / ExpressionAttributeValues of one request, and
// which of them the request's expressions used. A request may carry several
// expressions sharing these; after parsing all of them, CheckAllUsed() reports
// what DynamoDB reports for unused placeholders.
class ExpressionAttributes {
 public:
  ExpressionAttributes() = default;
  ExpressionAttributes(std::map<std::string, std::string> names,
                       std::map<std::string, AttributeValue> values)
      : names_(std::move(names)), values_(std::move(values)) {}

  const std::map<std::string, std::string>& names() const { return names_; }
  const std::map<std::string, AttributeValue>& values() const { return values_; }

  // Looks up "#n" / ":v" and records the use; kInvalidArgument names a missing
  // placeholder ("An expression attribute name used in the document path is not
  // defined; attribute name: #n", "An expression attribute value used in
  // expression is not defined; attribute value: :v").
  Result<std::string> ResolveName(std::string_view placeholder) const;
  Result<AttributeValue> ResolveValue(std::string_view placeholder) const;

  // kInvalidArgument when a name or value was supplied but no expression used
  // it, naming them as DynamoDB does.
  Status CheckAllUsed() const;

 private:
  std::map<std::string, std::string> names_;
  std::map<std::string, AttributeValue> values_;
  mutable std::set<std::string> used_names_;
  mutable std::set<std::string> used_values_;
};

// Finds the value at `path` in `item`; nullptr when any step is missing or of
// the wrong type.
const AttributeValue* FindPath(const Item& item, const AttributePath& path);

// A ConditionExpression or FilterExpression.
class ConditionExpression {
 public:
  // `kind` names the expression in messages: "ConditionExpression",
  // "FilterExpression".
  static Result<ConditionExpression> Parse(std::string_view text, const ExpressionAttributes& attrs,
                                           std::string_view kind = "ConditionExpression");

  // True when the condition holds for `item`; `item` null means the item does
  // not exist (attribute_not_exists(...) is true, comparisons are false).
  // Comparisons between different types are false, as in DynamoDB.
  bool Evaluate(const Item* item) const;

  // The first attribute named in `names` that some path of the expression
  // starts with, or nullptr (a Query's filter may not use key attributes).
  const std::string* FindTopLevelName(const std::vector<std::string>& names) const;

  ConditionExpression(ConditionExpression&&) noexcept;
  ConditionExpression& operator=(ConditionExpression&&) noexcept;
  ~ConditionExpression();

  struct Node;  // the parsed tree; opaque to callers

 private:
  explicit ConditionExpression(std::shared_ptr<const Node> root);
  std::shared_ptr<const Node> root_;
};

// An UpdateExpression: SET (with +, -, if_not_exists, list_append), REMOVE,
// ADD (numbers, sets), DELETE (sets), each clause at most once.
class UpdateExpression {
 public:
  static Result<UpdateExpression> Parse(std::string_view text, const ExpressionAttributes& attrs);

  // Applies every action to `item` in place, all operands evaluated against
  // the item as it was before the update (DynamoDB semantics). kInvalidArgument
  // for what DynamoDB rejects at run time: an operand path that does not exist
  // ("The provided expression refers to an attribute that does not exist in the
  // item"), arithmetic on non-numbers, ADD/DELETE type mismatch, setting a path
  // whose parent does not exist, number overflow. On error `item` is unchanged.
  Status Apply(Item* item) const;

  // The paths the expression sets, removes, adds to or deletes from, for
  // ReturnValues UPDATED_OLD / UPDATED_NEW.
  const std::vector<AttributePath>& updated_paths() const;

  UpdateExpression(UpdateExpression&&) noexcept;
  UpdateExpression& operator=(UpdateExpression&&) noexcept;
  ~UpdateExpression();

  struct Actions;  // opaque

 private:
  explicit UpdateExpression(std::shared_ptr<const Actions> actions);
  std::shared_ptr<const Actions> actions_;
};

// A ProjectionExpression: a comma-separated list of document paths.
class ProjectionExpression {
 public:
  static Result<ProjectionExpression> Parse(std::string_view text,
                                            const ExpressionAttributes& attrs);
  const std::vector<AttributePath>& paths() const { return paths_; }
  // The parts of `item` named by the paths (list elements selected by index
  // keep their relative order, as DynamoDB returns them).
  Item Apply(const Item& item) const;

 private:
  std::vector<AttributePath> paths_;
};

// The parts of `item` at `paths` (shared by projections and UPDATED_OLD/NEW).
Item ProjectPaths(const Item& item, const std::vector<AttributePath>& paths);

// A KeyConditionExpression: partition key equality, optionally AND one sort
// key condition (=, <, <=, >, >=, BETWEEN, begins_with).
struct KeyCondition {
  enum class SortOp { kNone, kEq, kLt, kLe, kGt, kGe, kBetween, kBeginsWith };
  std::string partition_key_name;
  AttributeValue partition_value;
  SortOp sort_op = SortOp::kNone;
  std::string sort_key_name;   // when sort_op != kNone
  AttributeValue sort_value;   // operand (lower bound for BETWEEN)
  AttributeValue sort_value2;  // upper bound for BETWEEN

  // Parses against the table's key names (`sort_key_name` empty when the table
  // has none). kInvalidArgument for anything but the forms above, conditions on
  // non-key attributes, or a missing partition key condition, with DynamoDB's
  // messages ("Query condition missed key schema element: pk").
  static Result<KeyCondition> Parse(std::string_view text, const ExpressionAttributes& attrs,
                                    std::string_view partition_key_name,
                                    std::string_view sort_key_name);
};

// True when `word` (any case) is one of DynamoDB's reserved words.
bool IsReservedWord(std::string_view word);

}  // namespace keystone::store
