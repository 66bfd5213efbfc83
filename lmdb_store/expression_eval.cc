// Evaluation of parsed expressions: conditions against an item (without
// copying it), update actions on a copy of an item, projections, and the
// ExpressionAttributes bookkeeping.

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lmdb_store/expression.h"
#include "lmdb_store/expression_ast.h"

namespace keystone::store {
namespace {

using Node = ConditionExpression::Node;

constexpr char kMissingAttribute[] =
    "The provided expression refers to an attribute that does not exist in the item";
constexpr std::string_view kIncorrectDataType = kUpdateOperandTypeError;
constexpr char kInvalidPathForUpdate[] =
    "The document path provided in the update expression is invalid for update";

// --- Conditions --------------------------------------------------------------

// The value of `operand` for `item` (null: the item does not exist), or null
// when it has none. Points into the item or the expression; size() results go
// to `*scratch`.
const AttributeValue* Resolve(const ConditionOperand& operand, const Item* item,
                              AttributeValue* scratch) {
  switch (operand.kind) {
    case ConditionOperand::Kind::kValue:
      return &operand.value;
    case ConditionOperand::Kind::kPath:
      return item == nullptr ? nullptr : FindPath(*item, operand.path);
    case ConditionOperand::Kind::kSize: {
      const AttributeValue* value = item == nullptr ? nullptr : FindPath(*item, operand.path);
      int64_t size = 0;
      if (value == nullptr || !ValueSize(*value, &size)) return nullptr;
      *scratch = AttributeValue::N(size);
      return scratch;
    }
  }
  return nullptr;
}

bool IsOrdered(AttributeType type) {
  return type == AttributeType::kS || type == AttributeType::kN || type == AttributeType::kB;
}

// <0, 0, >0; both of the same ordered type. Strings and binaries compare as
// unsigned bytes (UTF-8 byte order is code point order), as DynamoDB does.
int CompareOrdered(const AttributeValue& a, const AttributeValue& b) {
  switch (a.type()) {
    case AttributeType::kS:
      return a.s().compare(b.s());
    case AttributeType::kB:
      return a.b().compare(b.b());
    case AttributeType::kN:
      return a.n().Compare(b.n());
    default:
      return 0;
  }
}

bool EvaluateCompare(CompareOp op, const AttributeValue* lhs, const AttributeValue* rhs) {
  // A missing value equals nothing, so it is "not equal" to everything.
  if (op == CompareOp::kNe) return lhs == nullptr || rhs == nullptr || *lhs != *rhs;
  if (lhs == nullptr || rhs == nullptr) return false;
  if (op == CompareOp::kEq) return *lhs == *rhs;
  // Ordering applies to S, N and B of one type; anything else is false.
  if (lhs->type() != rhs->type() || !IsOrdered(lhs->type())) return false;
  const int order = CompareOrdered(*lhs, *rhs);
  switch (op) {
    case CompareOp::kLt:
      return order < 0;
    case CompareOp::kLe:
      return order <= 0;
    case CompareOp::kGt:
      return order > 0;
    case CompareOp::kGe:
      return order >= 0;
    default:
      return false;
  }
}

bool EvaluateBetween(const AttributeValue* value, const AttributeValue* lower,
                     const AttributeValue* upper) {
  if (value == nullptr || lower == nullptr || upper == nullptr) return false;
  const AttributeType type = value->type();
  if (!IsOrdered(type) || lower->type() != type || upper->type() != type) return false;
  return CompareOrdered(*value, *lower) >= 0 && CompareOrdered(*value, *upper) <= 0;
}

bool BeginsWith(const AttributeValue* value, const AttributeValue* prefix) {
  if (value == nullptr || prefix == nullptr || value->type() != prefix->type()) return false;
  if (value->is(AttributeType::kS)) return std::string_view(value->s()).starts_with(prefix->s());
  if (value->is(AttributeType::kB)) return std::string_view(value->b()).starts_with(prefix->b());
  return false;
}

bool Contains(const AttributeValue* haystack, const AttributeValue* needle) {
  if (haystack == nullptr || needle == nullptr) return false;
  switch (haystack->type()) {
    case AttributeType::kS:
      return needle->is(AttributeType::kS) && haystack->s().find(needle->s()) != std::string::npos;
    case AttributeType::kB:
      return needle->is(AttributeType::kB) && haystack->b().find(needle->b()) != std::string::npos;
    // Sets are sorted, so membership is a binary search; the element type
    // must match the set's.
    case AttributeType::kSS:
      return needle->is(AttributeType::kS) &&
             std::binary_search(haystack->ss().begin(), haystack->ss().end(), needle->s());
    case AttributeType::kNS:
      return needle->is(AttributeType::kN) &&
             std::binary_search(haystack->ns().begin(), haystack->ns().end(), needle->n());
    case AttributeType::kBS:
      return needle->is(AttributeType::kB) &&
             std::binary_search(haystack->bs().begin(), haystack->bs().end(), needle->b());
    case AttributeType::kL: {
      const AttributeList& list = haystack->l();
      return std::find(list.begin(), list.end(), *needle) != list.end();
    }
    default:
      return false;
  }
}

bool EvaluateNode(const Node& node, const Item* item) {
  AttributeValue scratch[2];
  auto operand = [&](size_t i, size_t slot = 0) {
    return Resolve(node.operands[i], item, &scratch[slot]);
  };
  switch (node.kind) {
    case Node::Kind::kAnd:
      return std::all_of(node.children.begin(), node.children.end(),
                         [item](const Node& child) { return EvaluateNode(child, item); });
    case Node::Kind::kOr:
      return std::any_of(node.children.begin(), node.children.end(),
                         [item](const Node& child) { return EvaluateNode(child, item); });
    case Node::Kind::kNot:
      return !EvaluateNode(node.children[0], item);
    case Node::Kind::kCompare:
      return EvaluateCompare(node.op, operand(0, 0), operand(1, 1));
    case Node::Kind::kBetween: {
      // At most two operands are size(): a third one needs its own scratch.
      AttributeValue upper_scratch;
      const AttributeValue* upper = Resolve(node.operands[2], item, &upper_scratch);
      return EvaluateBetween(operand(0, 0), operand(1, 1), upper);
    }
    case Node::Kind::kIn: {
      const AttributeValue* value = operand(0, 0);
      if (value == nullptr) return false;
      for (size_t i = 1; i < node.operands.size(); ++i) {
        const AttributeValue* candidate = operand(i, 1);
        if (candidate != nullptr && *candidate == *value) return true;
      }
      return false;
    }
    case Node::Kind::kExists:
      return operand(0) != nullptr;
    case Node::Kind::kNotExists:
      return operand(0) == nullptr;
    case Node::Kind::kType: {
      const AttributeValue* value = operand(0);
      return value != nullptr && value->type() == node.type;
    }
    case Node::Kind::kBeginsWith:
      return BeginsWith(operand(0, 0), operand(1, 1));
    case Node::Kind::kContains:
      return Contains(operand(0, 0), operand(1, 1));
  }
  return false;
}

// --- Updates -----------------------------------------------------------------

// The value of a SET operand, read from the item as it was before the update.
Result<AttributeValue> EvaluateUpdateOperand(const UpdateOperand& operand, const Item& item) {
  switch (operand.kind) {
    case UpdateOperand::Kind::kValue:
      return operand.value;
    case UpdateOperand::Kind::kPath: {
      const AttributeValue* value = FindPath(item, operand.path);
      if (value == nullptr) return InvalidArgument(kMissingAttribute);
      return *value;
    }
    case UpdateOperand::Kind::kIfNotExists: {
      const AttributeValue* value = FindPath(item, operand.args[0].path);
      if (value != nullptr) return *value;
      return EvaluateUpdateOperand(operand.args[1], item);
    }
    case UpdateOperand::Kind::kListAppend: {
      KS_ASSIGN_OR_RETURN(AttributeValue head, EvaluateUpdateOperand(operand.args[0], item));
      KS_ASSIGN_OR_RETURN(AttributeValue tail, EvaluateUpdateOperand(operand.args[1], item));
      if (!head.is(AttributeType::kL) || !tail.is(AttributeType::kL)) {
        return InvalidArgument(std::string(kIncorrectDataType));
      }
      AttributeList list;
      list.reserve(head.l().size() + tail.l().size());
      list.insert(list.end(), head.l().begin(), head.l().end());
      list.insert(list.end(), tail.l().begin(), tail.l().end());
      return AttributeValue::L(std::move(list));
    }
    case UpdateOperand::Kind::kPlus:
    case UpdateOperand::Kind::kMinus: {
      KS_ASSIGN_OR_RETURN(AttributeValue lhs, EvaluateUpdateOperand(operand.args[0], item));
      KS_ASSIGN_OR_RETURN(AttributeValue rhs, EvaluateUpdateOperand(operand.args[1], item));
      if (!lhs.is(AttributeType::kN) || !rhs.is(AttributeType::kN)) {
        return InvalidArgument(std::string(kIncorrectDataType));
      }
      Result<Number> result = operand.kind == UpdateOperand::Kind::kPlus
                                  ? lhs.n().Add(rhs.n())
                                  : lhs.n().Subtract(rhs.n());
      if (!result.ok()) return result.status();
      return AttributeValue::N(std::move(result).value());
    }
  }
  return InvalidArgument(std::string(kIncorrectDataType));
}

// The value at the first `length` steps of `path`, for writing (maps and lists
// on the way are unshared first); null when a step is missing or of the wrong
// type.
AttributeValue* FindMutable(Item* item, const AttributePath& path, size_t length) {
  auto top = item->find(path[0].name);
  if (top == item->end()) return nullptr;
  AttributeValue* current = &top->second;
  for (size_t i = 1; i < length; ++i) {
    const PathElement& step = path[i];
    if (step.is_index) {
      if (!current->is(AttributeType::kL)) return nullptr;
      AttributeList& list = current->mutable_l();
      if (step.index < 0 || static_cast<uint64_t>(step.index) >= list.size()) return nullptr;
      current = &list[static_cast<size_t>(step.index)];
    } else {
      if (!current->is(AttributeType::kM)) return nullptr;
      AttributeMap& map = current->mutable_m();
      auto found = map.find(step.name);
      if (found == map.end()) return nullptr;
      current = &found->second;
    }
  }
  return current;
}

// The map or list that holds the last step of `path` (a map for a name, a list
// for an index), or null. Requires path.size() >= 2.
AttributeValue* FindParent(Item* item, const AttributePath& path) {
  AttributeValue* parent = FindMutable(item, path, path.size() - 1);
  if (parent == nullptr) return nullptr;
  const AttributeType wanted = path.back().is_index ? AttributeType::kL : AttributeType::kM;
  return parent->is(wanted) ? parent : nullptr;
}

// Writes `value` at `path`; an index past the end of a list appends.
Status SetPath(Item* item, const AttributePath& path, AttributeValue value) {
  if (path.size() == 1) {
    item->insert_or_assign(path[0].name, std::move(value));
    return Status::Ok();
  }
  AttributeValue* parent = FindParent(item, path);
  if (parent == nullptr) return InvalidArgument(kInvalidPathForUpdate);
  const PathElement& last = path.back();
  if (last.is_index) {
    AttributeList& list = parent->mutable_l();
    if (static_cast<uint64_t>(last.index) < list.size()) {
      list[static_cast<size_t>(last.index)] = std::move(value);
    } else {
      list.push_back(std::move(value));
    }
  } else {
    parent->mutable_m().insert_or_assign(last.name, std::move(value));
  }
  return Status::Ok();
}

// Removes `path`; a missing last step is a no-op. A missing or mistyped parent
// is an error, as in DynamoDB, except on an item that does not exist yet.
Status RemovePath(Item* item, const AttributePath& path, bool item_exists) {
  if (path.size() == 1) {
    item->erase(path[0].name);
    return Status::Ok();
  }
  AttributeValue* parent = FindParent(item, path);
  if (parent == nullptr) {
    return item_exists ? InvalidArgument(kInvalidPathForUpdate) : Status::Ok();
  }
  const PathElement& last = path.back();
  if (last.is_index) {
    AttributeList& list = parent->mutable_l();
    if (static_cast<uint64_t>(last.index) < list.size()) {
      list.erase(list.begin() + static_cast<std::ptrdiff_t>(last.index));
    }
  } else {
    parent->mutable_m().erase(last.name);
  }
  return Status::Ok();
}

template <typename T>
std::vector<T> SetUnion(const std::vector<T>& a, const std::vector<T>& b) {
  std::vector<T> out;
  out.reserve(a.size() + b.size());
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

template <typename T>
std::vector<T> SetDifference(const std::vector<T>& a, const std::vector<T>& b) {
  std::vector<T> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

// ADD: numbers add, sets unite, a missing attribute is created.
Status AddAt(Item* item, const AttributePath& path, const AttributeValue& operand) {
  AttributeValue* current = FindMutable(item, path, path.size());
  if (current == nullptr) return SetPath(item, path, operand);
  if (current->type() != operand.type()) return InvalidArgument(std::string(kIncorrectDataType));
  switch (operand.type()) {
    case AttributeType::kN: {
      KS_ASSIGN_OR_RETURN(Number sum, current->n().Add(operand.n()));
      *current = AttributeValue::N(std::move(sum));
      return Status::Ok();
    }
    case AttributeType::kSS:
      *current = AttributeValue::SS(SetUnion(current->ss(), operand.ss()));
      return Status::Ok();
    case AttributeType::kNS:
      *current = AttributeValue::NS(SetUnion(current->ns(), operand.ns()));
      return Status::Ok();
    case AttributeType::kBS:
      *current = AttributeValue::BS(SetUnion(current->bs(), operand.bs()));
      return Status::Ok();
    default:
      return InvalidArgument(std::string(kIncorrectDataType));
  }
}

// DELETE: removes the operand's elements from a set of the same type. A set
// left empty is removed (DynamoDB has no empty sets): its path is appended to
// `*emptied` for the caller to remove with the REMOVE actions.
Status DeleteAt(Item* item, const AttributePath& path, const AttributeValue& operand,
                bool item_exists, std::vector<AttributePath>* emptied) {
  AttributeValue* current = FindMutable(item, path, path.size());
  if (current == nullptr) {
    if (path.size() > 1 && item_exists && FindParent(item, path) == nullptr) {
      return InvalidArgument(kInvalidPathForUpdate);
    }
    return Status::Ok();
  }
  if (current->type() != operand.type()) return InvalidArgument(std::string(kIncorrectDataType));
  bool empty = false;
  switch (operand.type()) {
    case AttributeType::kSS: {
      std::vector<std::string> rest = SetDifference(current->ss(), operand.ss());
      empty = rest.empty();
      if (!empty) *current = AttributeValue::SS(std::move(rest));
      break;
    }
    case AttributeType::kNS: {
      std::vector<Number> rest = SetDifference(current->ns(), operand.ns());
      empty = rest.empty();
      if (!empty) *current = AttributeValue::NS(std::move(rest));
      break;
    }
    case AttributeType::kBS: {
      std::vector<std::string> rest = SetDifference(current->bs(), operand.bs());
      empty = rest.empty();
      if (!empty) *current = AttributeValue::BS(std::move(rest));
      break;
    }
    default:
      return InvalidArgument(std::string(kIncorrectDataType));
  }
  if (empty) emptied->push_back(path);
  return Status::Ok();
}

// --- Projections -------------------------------------------------------------

using PathRefs = std::vector<const AttributePath*>;

// The part of `value` selected by paths[begin, end), which are sorted and
// share their first `depth` steps; nullopt when none of them reaches data.
std::optional<AttributeValue> Project(const AttributeValue& value, const PathRefs& paths,
                                      size_t begin, size_t end, size_t depth) {
  // Prefixes sort first: a path that ends here selects the whole value.
  if (paths[begin]->size() == depth) return value;
  const bool is_map = value.is(AttributeType::kM);
  if (!is_map && !value.is(AttributeType::kL)) return std::nullopt;
  AttributeMap map;
  AttributeList list;
  for (size_t i = begin; i < end;) {
    const PathElement& step = (*paths[i])[depth];
    size_t j = i + 1;
    while (j < end && (*paths[j])[depth] == step) ++j;
    const AttributeValue* child = nullptr;
    if (is_map && !step.is_index) {
      auto found = value.m().find(step.name);
      if (found != value.m().end()) child = &found->second;
    } else if (!is_map && step.is_index && step.index >= 0 &&
               static_cast<uint64_t>(step.index) < value.l().size()) {
      child = &value.l()[static_cast<size_t>(step.index)];
    }
    if (child != nullptr) {
      if (std::optional<AttributeValue> part = Project(*child, paths, i, j, depth + 1)) {
        if (is_map) {
          map.emplace(step.name, std::move(*part));
        } else {
          list.push_back(std::move(*part));
        }
      }
    }
    i = j;
  }
  if (is_map) {
    if (map.empty()) return std::nullopt;
    return AttributeValue::M(std::move(map));
  }
  if (list.empty()) return std::nullopt;
  return AttributeValue::L(std::move(list));
}

}  // namespace

bool ValueSize(const AttributeValue& value, int64_t* size) {
  switch (value.type()) {
    case AttributeType::kS:
      *size = static_cast<int64_t>(value.s().size());
      return true;
    case AttributeType::kB:
      *size = static_cast<int64_t>(value.b().size());
      return true;
    case AttributeType::kSS:
      *size = static_cast<int64_t>(value.ss().size());
      return true;
    case AttributeType::kNS:
      *size = static_cast<int64_t>(value.ns().size());
      return true;
    case AttributeType::kBS:
      *size = static_cast<int64_t>(value.bs().size());
      return true;
    case AttributeType::kM:
      *size = static_cast<int64_t>(value.m().size());
      return true;
    case AttributeType::kL:
      *size = static_cast<int64_t>(value.l().size());
      return true;
    default:
      return false;
  }
}

std::string PathToString(const AttributePath& path) {
  std::string out;
  for (const PathElement& step : path) {
    if (step.is_index) {
      out += "[" + std::to_string(step.index) + "]";
    } else {
      if (!out.empty()) out += ".";
      out += step.name;
    }
  }
  return out;
}

const AttributeValue* FindPath(const Item& item, const AttributePath& path) {
  if (path.empty() || path[0].is_index) return nullptr;
  auto top = item.find(path[0].name);
  if (top == item.end()) return nullptr;
  const AttributeValue* current = &top->second;
  for (size_t i = 1; i < path.size(); ++i) {
    const PathElement& step = path[i];
    if (step.is_index) {
      if (!current->is(AttributeType::kL)) return nullptr;
      const AttributeList& list = current->l();
      if (step.index < 0 || static_cast<uint64_t>(step.index) >= list.size()) return nullptr;
      current = &list[static_cast<size_t>(step.index)];
    } else {
      if (!current->is(AttributeType::kM)) return nullptr;
      const AttributeMap& map = current->m();
      auto found = map.find(step.name);
      if (found == map.end()) return nullptr;
      current = &found->second;
    }
  }
  return current;
}

// --- ExpressionAttributes ------------------------------------------------------

Result<std::string> ExpressionAttributes::ResolveName(std::string_view placeholder) const {
  auto found = names_.find(std::string(placeholder));
  if (found == names_.end()) {
    return InvalidArgument(
        "An expression attribute name used in the document path is not defined; attribute "
        "name: " +
        std::string(placeholder));
  }
  if (found->second.empty()) {
    return InvalidArgument(
        "ExpressionAttributeNames contains invalid value: Empty attribute name for key " +
        found->first);
  }
  used_names_.insert(found->first);
  return found->second;
}

Result<AttributeValue> ExpressionAttributes::ResolveValue(std::string_view placeholder) const {
  auto found = values_.find(std::string(placeholder));
  if (found == values_.end()) {
    return InvalidArgument(
        "An expression attribute value used in expression is not defined; attribute value: " +
        std::string(placeholder));
  }
  used_values_.insert(found->first);
  return found->second;
}

Status ExpressionAttributes::CheckAllUsed() const {
  auto unused = [](const auto& supplied, const std::set<std::string>& used) {
    std::string keys;
    for (const auto& [key, value] : supplied) {
      if (used.contains(key)) continue;
      if (!keys.empty()) keys += ", ";
      keys += key;
    }
    return keys;
  };
  if (std::string keys = unused(names_, used_names_); !keys.empty()) {
    return InvalidArgument(
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {" + keys + "}");
  }
  if (std::string keys = unused(values_, used_values_); !keys.empty()) {
    return InvalidArgument(
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {" + keys + "}");
  }
  return Status::Ok();
}

// --- ConditionExpression -------------------------------------------------------

bool ConditionExpression::Evaluate(const Item* item) const { return EvaluateNode(*root_, item); }

namespace {

// Recursion is bounded by kMaxExpressionNesting.
const std::string* FindTopLevelNameIn(const ConditionExpression::Node& node,
                                      const std::vector<std::string>& names) {
  for (const ConditionOperand& operand : node.operands) {
    if (operand.kind == ConditionOperand::Kind::kValue) continue;
    for (const std::string& name : names) {
      if (operand.path.front().name == name) return &name;
    }
  }
  for (const ConditionExpression::Node& child : node.children) {
    if (const std::string* found = FindTopLevelNameIn(child, names)) return found;
  }
  return nullptr;
}

}  // namespace

const std::string* ConditionExpression::FindTopLevelName(
    const std::vector<std::string>& names) const {
  return FindTopLevelNameIn(*root_, names);
}

// --- UpdateExpression ----------------------------------------------------------

const std::vector<AttributePath>& UpdateExpression::updated_paths() const {
  return actions_->paths;
}

Status UpdateExpression::Apply(Item* item) const {
  const Actions& actions = *actions_;
  // An item always has its key attributes; an empty one is an item that does
  // not exist yet.
  const bool item_exists = !item->empty();

  // Every operand reads the item as it was before the update.
  std::vector<AttributeValue> set_values;
  set_values.reserve(actions.sets.size());
  for (const UpdateAction& set : actions.sets) {
    KS_ASSIGN_OR_RETURN(AttributeValue value, EvaluateUpdateOperand(set.operand, *item));
    set_values.push_back(std::move(value));
  }

  // Work on a copy (cheap: nested maps and lists are shared until written) so
  // that a failing action leaves `*item` untouched. ADD and DELETE come first
  // and REMOVE last, highest index first, so that every list index means what
  // it meant in the original item.
  Item updated = *item;
  std::vector<AttributePath> emptied;
  for (const UpdateAction& action : actions.adds_and_deletes) {
    if (action.kind == UpdateAction::Kind::kAdd) {
      KS_RETURN_IF_ERROR(AddAt(&updated, action.path, action.operand.value));
    } else {
      KS_RETURN_IF_ERROR(
          DeleteAt(&updated, action.path, action.operand.value, item_exists, &emptied));
    }
  }
  for (size_t i = 0; i < actions.sets.size(); ++i) {
    KS_RETURN_IF_ERROR(SetPath(&updated, actions.sets[i].path, std::move(set_values[i])));
  }
  if (emptied.empty()) {
    for (const UpdateAction& action : actions.removes) {
      KS_RETURN_IF_ERROR(RemovePath(&updated, action.path, item_exists));
    }
  } else {
    std::vector<const AttributePath*> removes;
    for (const UpdateAction& action : actions.removes) removes.push_back(&action.path);
    for (const AttributePath& path : emptied) removes.push_back(&path);
    std::stable_sort(removes.begin(), removes.end(),
                     [](const auto* a, const auto* b) { return ComparePaths(*a, *b) > 0; });
    for (const AttributePath* path : removes) {
      KS_RETURN_IF_ERROR(RemovePath(&updated, *path, item_exists));
    }
  }
  *item = std::move(updated);
  return Status::Ok();
}

// --- Projections ---------------------------------------------------------------

Item ProjectPaths(const Item& item, const std::vector<AttributePath>& paths) {
  PathRefs sorted;
  sorted.reserve(paths.size());
  for (const AttributePath& path : paths) {
    if (!path.empty() && !path[0].is_index) sorted.push_back(&path);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return ComparePaths(*a, *b) < 0; });
  Item out;
  for (size_t i = 0; i < sorted.size();) {
    const std::string& name = (*sorted[i])[0].name;
    size_t j = i + 1;
    while (j < sorted.size() && (*sorted[j])[0].name == name) ++j;
    auto found = item.find(name);
    if (found != item.end()) {
      if (std::optional<AttributeValue> part = Project(found->second, sorted, i, j, 1)) {
        out.emplace(name, std::move(*part));
      }
    }
    i = j;
  }
  return out;
}

Item ProjectionExpression::Apply(const Item& item) const { return ProjectPaths(item, paths_); }

}  // namespace keystone::store
