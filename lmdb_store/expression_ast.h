#pragma once

// Private to lmdb_store: the parsed forms of DynamoDB expressions, built by
// expression_parser.cc and run by expression_eval.cc. Everything here is
// immutable once Parse returns, so parsed expressions may be shared between
// threads. Placeholders are already resolved: names to strings, :values to
// copies of their AttributeValues.

#include <cstdint>
#include <vector>

#include "lmdb_store/attribute_value.h"
#include "lmdb_store/expression.h"

namespace keystone::store {

// The deepest nesting of parentheses, NOT and function calls the parser
// accepts. DynamoDB bounds nesting only through its 300-operator limit; we
// bound it separately so that parsing, evaluating and destroying a tree never
// recurse deeper than this, whatever the input.
inline constexpr int kMaxExpressionNesting = 100;

// Orders paths element by element (names by bytes, indexes by value, a name
// before an index), so that paths sharing a prefix are adjacent.
int ComparePaths(const AttributePath& a, const AttributePath& b);

// What size() returns for `value`: bytes of S and B, elements of sets, M and
// L. False for the other types (size() of them is not a number).
bool ValueSize(const AttributeValue& value, int64_t* size);

// An operand of a condition: a document path, a value, or size(path). size()
// of a literal value is folded into a value when parsing.
struct ConditionOperand {
  enum class Kind : uint8_t { kPath, kValue, kSize };
  Kind kind = Kind::kValue;
  AttributePath path;    // kPath, kSize
  AttributeValue value;  // kValue
};

enum class CompareOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };

struct ConditionExpression::Node {
  enum class Kind : uint8_t {
    kAnd,         // children: 2 or more
    kOr,          // children: 2 or more
    kNot,         // children: 1
    kCompare,     // operands: lhs, rhs
    kBetween,     // operands: value, lower, upper
    kIn,          // operands: value, then 1 to 100 candidates
    kExists,      // attribute_exists: operands: path
    kNotExists,   // attribute_not_exists: operands: path
    kType,        // attribute_type: operands: path; `type`
    kBeginsWith,  // operands: 2
    kContains,    // operands: 2
  };
  Kind kind = Kind::kAnd;
  CompareOp op = CompareOp::kEq;              // kCompare
  AttributeType type = AttributeType::kNull;  // kType
  // Set while parsing when this node was written inside its own parentheses
  // (to report "((a = b))" as redundant); not used by evaluation.
  bool parenthesized = false;
  std::vector<Node> children;
  std::vector<ConditionOperand> operands;
};

// The right-hand side of a SET action, or the value of ADD / DELETE.
struct UpdateOperand {
  enum class Kind : uint8_t { kPath, kValue, kIfNotExists, kListAppend, kPlus, kMinus };
  Kind kind = Kind::kValue;
  AttributePath path;               // kPath
  AttributeValue value;             // kValue
  std::vector<UpdateOperand> args;  // 2 for the functions and for + / -
};

struct UpdateAction {
  enum class Kind : uint8_t { kSet, kRemove, kAdd, kDelete };
  Kind kind = Kind::kSet;
  AttributePath path;
  UpdateOperand operand;  // kSet, kAdd, kDelete
};

struct UpdateExpression::Actions {
  // SET actions in ComparePaths order: out-of-range list indexes append in
  // index order, as DynamoDB documents.
  std::vector<UpdateAction> sets;
  // ADD and DELETE actions; they never change list positions.
  std::vector<UpdateAction> adds_and_deletes;
  // REMOVE actions in reverse ComparePaths order, so that removing a list
  // element never shifts an element another action still has to reach: every
  // index refers to the list as it was before the update.
  std::vector<UpdateAction> removes;
  // Every action's path, in expression order.
  std::vector<AttributePath> paths;
};

}  // namespace keystone::store
