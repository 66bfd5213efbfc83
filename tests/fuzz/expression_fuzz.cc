// Fuzz target: DynamoDB's expression language (lmdb_store/expression.h).
//
// Input: one byte choosing the kind of expression, then its text:
//   'c' ConditionExpression, parsed and evaluated on a fixed item and on none
//   'u' UpdateExpression, parsed and applied to a copy of that item
//   'p' ProjectionExpression, parsed and applied to it
//   'k' KeyConditionExpression, for partition key "pk" and sort key "sk"
// Any other first byte is ignored. Every expression sees the same
// placeholders (#a #b #c #pk #sk; :s :n :n2 :b :t :null :l :m :ss :ns :bs) of
// every type.
//
// Promises checked beyond not crashing (ASan and UBSan in the fuzzing
// build): an expression that parses and evaluates or applies does so the
// same way twice (they are pure functions of the item); an update that fails
// leaves the item as it was (the store relies on it to write nothing).

#include <string>
#include <string_view>

#include "lmdb_store/attribute_value.h"
#include "lmdb_store/expression.h"
#include "lmdb_store/number.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

using keystone::Status;
using keystone::fuzz::FuzzFail;
using namespace keystone::store;

AttributeValue Num(std::string_view text) { return AttributeValue::N(text); }

const Item& FixedItem() {
  static const Item* item = [] {
    AttributeMap inner{{"z", AttributeValue::S("deep")}, {"n", Num("-7")}};
    AttributeMap map{
        {"x", Num("1")}, {"y", AttributeValue::M(inner)}, {"s", AttributeValue::S("")}};
    AttributeList list{AttributeValue::S("a"), Num("2.5"), AttributeValue::M(map),
                       AttributeValue::L({AttributeValue::Null()})};
    auto* built = new Item(ItemBuilder()
                               .S("pk", "key")
                               .N("sk", 42)
                               .S("s", "hello")
                               .N("n", "3.14")
                               .B("b", std::string("\x00\xff", 2))
                               .Bool("t", true)
                               .Null("null")
                               .Set("l", AttributeValue::L(list))
                               .Set("m", AttributeValue::M(map))
                               .Set("ss", AttributeValue::SS({"a", "b"}))
                               .Set("ns", AttributeValue::NS({Number::Parse("1").value(),
                                                              Number::Parse("1e10").value()}))
                               .Set("bs", AttributeValue::BS({"x", "y"}))
                               .Build());
    return built;
  }();
  return *item;
}

ExpressionAttributes Placeholders() {
  AttributeMap map{{"k", AttributeValue::S("v")}};
  return ExpressionAttributes({{"#a", "s"}, {"#b", "m"}, {"#c", "l"}, {"#pk", "pk"}, {"#sk", "sk"}},
                              {{":s", AttributeValue::S("hello")},
                               {":n", Num("1")},
                               {":n2", Num("99999999999999999999999999999999999999")},
                               {":b", AttributeValue::B("x")},
                               {":t", AttributeValue::Bool(false)},
                               {":null", AttributeValue::Null()},
                               {":l", AttributeValue::L({Num("1"), AttributeValue::S("two")})},
                               {":m", AttributeValue::M(map)},
                               {":ss", AttributeValue::SS({"a", "c"})},
                               {":ns", AttributeValue::NS({Number::Parse("5").value()})},
                               {":bs", AttributeValue::BS({"z"})}});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  ExpressionAttributes attrs = Placeholders();
  const Item& item = FixedItem();
  switch (data[0]) {
    case 'c': {
      auto condition = ConditionExpression::Parse(text, attrs);
      if (!condition.ok()) break;
      bool on_item = condition->Evaluate(&item);
      bool on_none = condition->Evaluate(nullptr);
      if (condition->Evaluate(&item) != on_item || condition->Evaluate(nullptr) != on_none) {
        FuzzFail("a condition evaluated differently twice", text);
      }
      (void)attrs.CheckAllUsed();
      break;
    }
    case 'u': {
      auto update = UpdateExpression::Parse(text, attrs);
      if (!update.ok()) break;
      Item first = item;
      Status applied = update->Apply(&first);
      if (!applied.ok() && first != item) FuzzFail("a failed update changed the item", text);
      Item second = item;
      Status again = update->Apply(&second);
      if (again.ok() != applied.ok() || second != first) {
        FuzzFail("an update applied differently twice", text);
      }
      break;
    }
    case 'p': {
      auto projection = ProjectionExpression::Parse(text, attrs);
      if (!projection.ok()) break;
      Item projected = projection->Apply(item);
      if (projected.size() > item.size()) FuzzFail("a projection added attributes", text);
      break;
    }
    case 'k': {
      (void)KeyCondition::Parse(text, attrs, "pk", "sk");
      break;
    }
    default:
      break;
  }
  return 0;
}
