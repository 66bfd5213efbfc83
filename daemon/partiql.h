#pragma once

// PartiQL for DynamoDB (ExecuteStatement): the four statements DynamoDB
// accepts, each translated into the request of the operation that does the
// same work, so that PartiQL shares the expression evaluator, the checks and
// the capacity reports of the JSON API instead of keeping a second engine:
//
//   SELECT * | path, ... FROM t[."index"] [WHERE c] [ORDER BY sort-key [ASC|DESC]]
//       Query when c ANDs an equality on the (index's) partition key at its
//       top level: that equality, and one sort-key condition (=, <, <=, >,
//       >=, BETWEEN, begins_with) if there is one, make the
//       KeyConditionExpression and the rest the FilterExpression; otherwise
//       (or when the rest still names a key attribute) a Scan filtered by c.
//       ORDER BY needs the Query; DESC reads it backwards.
//   INSERT INTO t VALUE {'a': v, ...}
//       PutItem conditioned on attribute_not_exists(partition key); an item
//       already there is DuplicateItemException (the caller maps it).
//   UPDATE t SET p = e [, | SET p = e ...] [REMOVE p, ...] WHERE c
//          [RETURNING ALL|MODIFIED OLD|NEW *]
//       UpdateItem on the key c fixes by equalities, conditioned on the item
//       existing and on the rest of c; RETURNING is its ReturnValues.
//   DELETE FROM t WHERE c [RETURNING ALL OLD *]
//       DeleteItem on the key c fixes, conditioned on the rest of c.
//   EXISTS(SELECT * FROM t WHERE c)
//       (ExecuteTransaction only) a ConditionCheck that the item c fixes
//       exists and meets the rest of c.
//
// In WHERE: comparisons (=, <>, !=, <, <=, >, >=), AND, OR, NOT, parentheses,
// BETWEEN, IN [..] or IN (..), IS [NOT] MISSING, and the functions
// begins_with, contains, attribute_type, size, attribute_exists and
// attribute_not_exists. Values: 'strings' ('' for a quote), numbers, TRUE,
// FALSE, NULL, [lists], {'maps': ...}, <<sets>> of strings or numbers, and ?
// for the request's Parameters, in order. Paths: names (bare, or "quoted"
// for any name), .member, [index]. Keywords are case-insensitive. SET takes
// a value, a path, a function (list_append, if_not_exists), or a + or - of
// two of those; `a = set_add(a, <<...>>)` and `set_delete` are the update
// expression's ADD and DELETE of set members.
//
// Errors are ValidationException (kInvalidArgument) with DynamoDB's wording
// where it has one ("Statement wasn't well formed, can't be processed: ...",
// "Where clause does not contain a mandatory equality on all key
// attributes", "Number of parameters in request and statement don't
// match."). Not a public header: it exposes rapidjson. Free function; safe
// from any thread.

#include <rapidjson/document.h>

#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace keystone::daemon {

// The key attribute names of a table, or of one of its indexes.
struct PartiqlKeys {
  std::string partition;
  std::string sort;  // empty: no sort key
};
// Looks up the keys of `table` (`index` empty) or of its index `index`; its
// errors (no such table or index) are passed on.
using PartiqlKeyLookup =
    std::function<Result<PartiqlKeys>(const std::string& table, const std::string& index)>;

struct PartiqlPlan {
  enum class Kind { kSelect, kInsert, kUpdate, kDelete, kExists };
  Kind kind = Kind::kSelect;
  // The operation whose request `request` is: Query, Scan, PutItem,
  // UpdateItem, DeleteItem, or for EXISTS a TransactWriteItems
  // ConditionCheck.
  std::string operation;
  rapidjson::Document request;
  // A SELECT of one item, whose WHERE is nothing but equalities on the
  // table's whole primary key: the GetItem request that reads it (TableName,
  // Key, ProjectionExpression, ExpressionAttributeNames), as batches and
  // transactions need; JSON null for any other statement.
  rapidjson::Document get_request;
};

// Translates `statement` with `parameters` (a JSON array of AttributeValues,
// or nullptr for none).
Result<PartiqlPlan> TranslatePartiql(std::string_view statement, const rapidjson::Value* parameters,
                                     const PartiqlKeyLookup& keys);

}  // namespace keystone::daemon
