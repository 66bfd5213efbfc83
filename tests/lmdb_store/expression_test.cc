#include "lmdb_store/expression.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lmdb_store/attribute_value.h"

namespace keystone::store {

// Readable values in gtest failure messages.
void PrintTo(const AttributeValue& v, std::ostream* os) { *os << v.DebugString(); }

namespace {

using AV = AttributeValue;

AV S(std::string s) { return AV::S(std::move(s)); }
AV N(int64_t n) { return AV::N(n); }
AV Nd(std::string_view text) { return AV::N(text); }
AV B(std::string b) { return AV::B(std::move(b)); }
AV L(AttributeList l) { return AV::L(std::move(l)); }
AV M(AttributeMap m) { return AV::M(std::move(m)); }
AV SS(std::vector<std::string> v) { return AV::SS(std::move(v)); }
AV NS(std::vector<int64_t> v) {
  std::vector<Number> numbers;
  for (int64_t n : v) numbers.push_back(Number::FromInt(n));
  return AV::NS(std::move(numbers));
}
AV BS(std::vector<std::string> v) { return AV::BS(std::move(v)); }

PathElement Name(std::string name) {
  PathElement element;
  element.name = std::move(name);
  return element;
}
PathElement Index(int64_t index) {
  PathElement element;
  element.index = index;
  element.is_index = true;
  return element;
}

// One item with every type, at the top level and nested.
Item SampleItem() {
  return Item{
      {"pk", S("user#1")},
      {"s", S("hello world")},
      {"blank", S("")},
      {"n", N(42)},
      {"neg", Nd("-1.5")},
      {"b", B(std::string("\x01\x02\x03", 3))},
      {"t", AV::Bool(true)},
      {"f", AV::Bool(false)},
      {"z", AV::Null()},
      {"ss", SS({"apple", "banana", "cherry"})},
      {"ns", NS({1, 2, 3})},
      {"bs", BS({"\x01", "\x02"})},
      {"l", L({S("x"), N(1), M({{"k", S("v")}}), L({N(7)})})},
      {"m", M({{"a", N(1)},
               {"b", M({{"c", S("deep")}})},
               {"nums", L({N(10), N(20), N(30)})},
               {"emptymap", M({})}})},
      {"utf", S("\xc3\xa9t\xc3\xa9")},  // "été": 5 bytes
  };
}

// Placeholder values shared by the condition tests (unused ones are fine:
// CheckAllUsed is tested on its own).
std::map<std::string, AV> Values() {
  return {
      {":s", S("hello world")},
      {":hello", S("hello")},
      {":world", S("world")},
      {":other", S("other")},
      {":a", S("a")},
      {":z", S("z")},
      {":apple", S("apple")},
      {":empty", S("")},
      {":deep", S("deep")},
      {":x", S("x")},
      {":v", S("v")},
      {":n", N(42)},
      {":n41", N(41)},
      {":n43", N(43)},
      {":n42dec", Nd("42.000")},
      {":zero", N(0)},
      {":one", N(1)},
      {":two", N(2)},
      {":three", N(3)},
      {":five", N(5)},
      {":seven", N(7)},
      {":ten", N(10)},
      {":eleven", N(11)},
      {":twenty", N(20)},
      {":o", N(1)},
      {":b", B(std::string("\x01\x02\x03", 3))},
      {":b12", B(std::string("\x01\x02", 2))},
      {":b2", B(std::string("\x02", 1))},
      {":b9", B(std::string("\x09", 1))},
      {":t", AV::Bool(true)},
      {":f", AV::Bool(false)},
      {":null", AV::Null()},
      {":ss", SS({"apple", "banana", "cherry"})},
      {":ss2", SS({"banana", "apple", "cherry"})},
      {":ns", NS({1, 2, 3})},
      {":bs", BS({"\x01", "\x02"})},
      {":l", L({S("x"), N(1), M({{"k", S("v")}}), L({N(7)})})},
      {":m", M({{"k", S("v")}})},
      {":lseven", L({N(7)})},
      {":S", S("S")},
      {":N", S("N")},
      {":B", S("B")},
      {":BOOL", S("BOOL")},
      {":NULL", S("NULL")},
      {":M", S("M")},
      {":L", S("L")},
      {":SS", S("SS")},
      {":NS", S("NS")},
      {":BS", S("BS")},
  };
}

std::map<std::string, std::string> Names() {
  return {{"#status", "status"}, {"#s", "s"},   {"#m", "m"}, {"#dot", "a.b"},
          {"#pk", "pk"},         {"#sk", "sk"}, {"#l", "l"}, {"#n", "n"}};
}

ExpressionAttributes Attrs() { return ExpressionAttributes(Names(), Values()); }

// Parses `text` as a condition with the shared placeholders; a failure to
// parse fails the test.
bool Eval(std::string_view text, const Item* item) {
  ExpressionAttributes attrs = Attrs();
  Result<ConditionExpression> condition = ConditionExpression::Parse(text, attrs);
  EXPECT_TRUE(condition.ok()) << text << ": " << condition.status().ToString();
  if (!condition.ok()) return false;
  return condition->Evaluate(item);
}

// The message of the error parsing `text` as `kind`, or "OK".
std::string ConditionError(std::string_view text, std::string_view kind = "ConditionExpression") {
  ExpressionAttributes attrs = Attrs();
  Result<ConditionExpression> condition = ConditionExpression::Parse(text, attrs, kind);
  if (condition.ok()) return "OK";
  EXPECT_EQ(StatusCode::kInvalidArgument, condition.status().code());
  return condition.status().message();
}

std::string UpdateParseError(std::string_view text) {
  ExpressionAttributes attrs = Attrs();
  Result<UpdateExpression> update = UpdateExpression::Parse(text, attrs);
  if (update.ok()) return "OK";
  EXPECT_EQ(StatusCode::kInvalidArgument, update.status().code());
  return update.status().message();
}

// Applies `text` to `*item`; the status of parsing or applying.
Status Update(std::string_view text, Item* item) {
  ExpressionAttributes attrs = Attrs();
  KS_ASSIGN_OR_RETURN(UpdateExpression update, UpdateExpression::Parse(text, attrs));
  return update.Apply(item);
}

std::string ProjectionError(std::string_view text) {
  ExpressionAttributes attrs = Attrs();
  Result<ProjectionExpression> projection = ProjectionExpression::Parse(text, attrs);
  if (projection.ok()) return "OK";
  return projection.status().message();
}

Item Project(std::string_view text, const Item& item) {
  ExpressionAttributes attrs = Attrs();
  Result<ProjectionExpression> projection = ProjectionExpression::Parse(text, attrs);
  EXPECT_TRUE(projection.ok()) << text << ": " << projection.status().ToString();
  if (!projection.ok()) return {};
  return projection->Apply(item);
}

std::string Repeat(std::string_view piece, int times, std::string_view separator) {
  std::string out;
  for (int i = 0; i < times; ++i) {
    if (i > 0) out += separator;
    out += piece;
  }
  return out;
}

struct EvalCase {
  const char* text;
  bool expected;
};

void ExpectEvaluations(const std::vector<EvalCase>& cases, const Item* item) {
  for (const EvalCase& c : cases) {
    EXPECT_EQ(c.expected, Eval(c.text, item)) << c.text;
  }
}

struct ErrorCase {
  const char* text;
  const char* message;
};

// --- Reserved words ------------------------------------------------------------

TEST(ReservedWordsTest, KnownWordsAnyCase) {
  for (const char* word : {"status",   "STATUS",  "Status", "size",    "name",
                           "NAME",     "abort",   "zone",   "ZONE",    "localtimestamp",
                           "flattern", "innter",  "loged",  "date",    "timestamp",
                           "value",    "values",  "key",    "data",    "count",
                           "type",     "and",     "or",     "not",     "between",
                           "in",       "set",     "add",    "delete",  "old",
                           "other",    "counter", "list",   "missing", "empty"}) {
    EXPECT_TRUE(IsReservedWord(word)) << word;
  }
  for (const char* word : {"", "a", "pk", "sk", "attribute_exists", "begins_with", "contains",
                           "list_append", "if_not_exists", "statuses", "stat", "zones", "aborts",
                           "abort_", "localtimestamps", "remove", "username", "id", "email"}) {
    EXPECT_FALSE(IsReservedWord(word)) << word;
  }
}

// --- Paths -------------------------------------------------------------------------

TEST(PathTest, PathToString) {
  AttributePath path = {Name("a"), Name("b"), Index(2), Name("c")};
  EXPECT_EQ("a.b[2].c", PathToString(path));
  EXPECT_EQ("x[0][1]", PathToString({Name("x"), Index(0), Index(1)}));
}

TEST(PathTest, FindPath) {
  const Item item = SampleItem();
  auto find = [&](std::string_view text) -> const AttributeValue* {
    ExpressionAttributes attrs = Attrs();
    Result<ProjectionExpression> projection = ProjectionExpression::Parse(text, attrs);
    EXPECT_TRUE(projection.ok()) << projection.status().ToString();
    if (!projection.ok()) return nullptr;
    return FindPath(item, projection->paths()[0]);
  };
  ASSERT_NE(nullptr, find("s"));
  EXPECT_EQ(S("hello world"), *find("s"));
  EXPECT_EQ(S("deep"), *find("m.b.c"));
  EXPECT_EQ(N(20), *find("m.nums[1]"));
  EXPECT_EQ(S("v"), *find("l[2].k"));
  EXPECT_EQ(N(7), *find("l[3][0]"));
  EXPECT_EQ(nullptr, find("absent"));
  EXPECT_EQ(nullptr, find("m.absent"));
  EXPECT_EQ(nullptr, find("m.nums[3]"));  // past the end
  EXPECT_EQ(nullptr, find("s.x"));        // not a map
  EXPECT_EQ(nullptr, find("s[0]"));       // not a list
  EXPECT_EQ(nullptr, find("m[0]"));       // a map is not a list
  EXPECT_EQ(nullptr, find("l.x"));        // a list is not a map
  EXPECT_EQ(nullptr, FindPath(item, {}));
}

TEST(PathTest, PlaceholderNamesAreLiteral) {
  Item item = {{"a.b", N(1)}, {"a", M({{"b", N(2)}})}};
  ExpressionAttributes attrs = Attrs();
  auto projection = ProjectionExpression::Parse("#dot", attrs);
  ASSERT_TRUE(projection.ok());
  ASSERT_EQ(1u, projection->paths().size());
  ASSERT_EQ(1u, projection->paths()[0].size());
  EXPECT_EQ("a.b", projection->paths()[0][0].name);
  EXPECT_EQ(N(1), *FindPath(item, projection->paths()[0]));
}

// --- Condition grammar ---------------------------------------------------------

TEST(ConditionParseTest, ValidExpressions) {
  for (const char* text : {
           "s = :s",
           "s <> :s",
           "n < :n",
           "n <= :n",
           "n > :n",
           "n >= :n",
           "n BETWEEN :one AND :ten",
           "n IN (:one, :two, :n)",
           "n IN (:n)",
           "attribute_exists(s)",
           "attribute_not_exists(s)",
           "attribute_type(s, :S)",
           "begins_with(s, :hello)",
           "contains(s, :hello)",
           "size(s) > :one",
           ":one < size(s)",
           "size(s) BETWEEN :one AND :twenty",
           "size(s) IN (:one, :two)",
           "n IN (size(s), :n)",
           "NOT s = :s",
           "NOT NOT s = :s",
           "NOT (s = :s)",
           "(s = :s)",
           "(s = :s) AND (n = :n)",
           "s = :s AND n = :n OR t = :t",
           "s = :s OR n = :n AND t = :t",
           "(s = :s OR n = :n) AND t = :t",
           "((s = :s OR n = :n) AND t = :t)",
           "m.b.c = :deep",
           "m.nums[0] = :ten",
           "l[2].k = :v",
           "l[3][0] = :seven",
           "#m.b.c = :deep",
           "#status = :s",
           "m.#s = :s",
           ":s = s",
           ":one = :one",
           "s = n",
           "s=:s AND n>=:n",
           "  s   =   :s  ",
           "s\t=\n:s",
           "a1_B = :s",
           "m . b . c = :deep",
           "m.nums [ 1 ] = :twenty",
           "attribute_exists (s)",
           "s = :s and n = :n or not t = :t",
           "s = :s AnD n = :n",
           "n between :one and :ten",
           "n iN (:n)",
       }) {
    EXPECT_EQ("OK", ConditionError(text)) << text;
  }
}

TEST(ConditionParseTest, SyntaxErrors) {
  const std::vector<ErrorCase> cases = {
      {"s =", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\""},
      {"s = ", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"= \""},
      {"s", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"s\""},
      {"s :s", "Invalid ConditionExpression: Syntax error; token: \":s\", near: \"s :s\""},
      {"= :s", "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"= :s\""},
      {"s = :s)", "Invalid ConditionExpression: Syntax error; token: \")\", near: \":s)\""},
      {"(s = :s", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \":s\""},
      {"s = :s AND", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"AND\""},
      {"s = :s OR OR n = :n",
       "Invalid ConditionExpression: Syntax error; token: \"OR\", near: \"OR OR n\""},
      {"s == :s", "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"== :s\""},
      {"s != :s", "Invalid ConditionExpression: Syntax error; token: \"!\", near: \"s !=\""},
      {"s = :s;", "Invalid ConditionExpression: Syntax error; token: \";\", near: \":s;\""},
      {"n BETWEEN :one",
       "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \":one\""},
      {"n BETWEEN :one OR :two",
       "Invalid ConditionExpression: Syntax error; token: \"OR\", near: \":one OR :two\""},
      {"n IN :one",
       "Invalid ConditionExpression: Syntax error; token: \":one\", near: \"IN :one\""},
      {"n IN ()", "Invalid ConditionExpression: Syntax error; token: \")\", near: \"()\""},
      {"n IN (:one,)", "Invalid ConditionExpression: Syntax error; token: \")\", near: \",)\""},
      {"attribute_exists()",
       "Invalid ConditionExpression: Syntax error; token: \")\", near: \"()\""},
      {"attribute_exists(s",
       "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"s\""},
      {"m. = :s", "Invalid ConditionExpression: Syntax error; token: \"=\", near: \". = :s\""},
      {"m.nums[] = :s", "Invalid ConditionExpression: Syntax error; token: \"]\", near: \"[] =\""},
      {"m.nums[-1] = :s", "Invalid ConditionExpression: Syntax error; token: \"-\", near: \"[-1\""},
      {"m.nums[:one] = :s",
       "Invalid ConditionExpression: Syntax error; token: \":one\", near: \"[:one]\""},
      {"m.nums[#n] = :s",
       "Invalid ConditionExpression: Syntax error; token: \"#n\", near: \"[#n]\""},
      {"m.nums[1 = :s",
       "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"1 = :s\""},
      {"[1] = :s", "Invalid ConditionExpression: Syntax error; token: \"[\", near: \"[1\""},
      {"_s = :s", "Invalid ConditionExpression: Syntax error; token: \"_\", near: \"_s\""},
      {"1s = :s", "Invalid ConditionExpression: Syntax error; token: \"1\", near: \"1s\""},
      {"s-x = :s", "Invalid ConditionExpression: Syntax error; token: \"-\", near: \"s-x\""},
      {"# = :s", "Invalid ConditionExpression: Syntax error; token: \"#\", near: \"# =\""},
      {"s = :", "Invalid ConditionExpression: Syntax error; token: \":\", near: \"= :\""},
      {"s = 'x'", "Invalid ConditionExpression: Syntax error; token: \"'\", near: \"= 'x\""},
      {"s = 5", "Invalid ConditionExpression: Syntax error; token: \"5\", near: \"= 5\""},
      {"s = \xc3\xa9",
       "Invalid ConditionExpression: Syntax error; token: \"\xc3\xa9\", near: \"= \xc3\xa9\""},
      {"AND = :s", "Invalid ConditionExpression: Syntax error; token: \"AND\", near: \"AND =\""},
      {"s = :s NOT n = :n",
       "Invalid ConditionExpression: Syntax error; token: \"NOT\", near: \":s NOT n\""},
      {"NOT", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"NOT\""},
      {"()", "Invalid ConditionExpression: Syntax error; token: \")\", near: \"()\""},
      // Operands in parentheses are not supported; whole conditions are.
      {"(s) = :s", "Invalid ConditionExpression: Syntax error; token: \")\", near: \"s) =\""},
  };
  for (const ErrorCase& c : cases) EXPECT_EQ(c.message, ConditionError(c.text)) << c.text;
}

TEST(ConditionParseTest, EmptyAndKindInMessages) {
  EXPECT_EQ("Invalid ConditionExpression: The expression can not be empty;", ConditionError(""));
  EXPECT_EQ("Invalid ConditionExpression: The expression can not be empty;",
            ConditionError(" \t\n"));
  EXPECT_EQ("Invalid FilterExpression: The expression can not be empty;",
            ConditionError("", "FilterExpression"));
  EXPECT_EQ("Invalid FilterExpression: Syntax error; token: \"<EOF>\", near: \"=\"",
            ConditionError("s =", "FilterExpression"));
}

TEST(ConditionParseTest, SemanticErrors) {
  const std::vector<ErrorCase> cases = {
      {"status = :s",
       "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: "
       "status"},
      {"Size = :s",
       "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Size"},
      {"m.name = :s",
       "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name"},
      {"attribute_exists(size)",
       "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: size"},
      {"#undefined = :s",
       "Invalid ConditionExpression: An expression attribute name used in the document path is "
       "not defined; attribute name: #undefined"},
      {"s = :undefined",
       "Invalid ConditionExpression: An expression attribute value used in expression is not "
       "defined; attribute value: :undefined"},
      {"foo(s)", "Invalid ConditionExpression: Invalid function name; function: foo"},
      {"foo(s) = :s", "Invalid ConditionExpression: Invalid function name; function: foo"},
      {"ATTRIBUTE_EXISTS(s)",
       "Invalid ConditionExpression: Invalid function name; function: ATTRIBUTE_EXISTS"},
      {"if_not_exists(s, :s) = :s",
       "Invalid ConditionExpression: Invalid function name; function: if_not_exists"},
      {"size(s)",
       "Invalid ConditionExpression: The function is not allowed to be used this way in an "
       "expression; function: size"},
      {"begins_with(s, :hello) = :t",
       "Invalid ConditionExpression: The function is not allowed to be used this way in an "
       "expression; function: begins_with"},
      {"attribute_exists(attribute_exists(s))",
       "Invalid ConditionExpression: The function is not allowed to be used this way in an "
       "expression; function: attribute_exists"},
      {"attribute_exists(s, n)",
       "Invalid ConditionExpression: Incorrect number of operands for operator or function; "
       "operator or function: attribute_exists, number of operands: 2"},
      {"begins_with(s)",
       "Invalid ConditionExpression: Incorrect number of operands for operator or function; "
       "operator or function: begins_with, number of operands: 1"},
      {"size(s, n) = :one",
       "Invalid ConditionExpression: Incorrect number of operands for operator or function; "
       "operator or function: size, number of operands: 2"},
      {"contains(s, :a, :z)",
       "Invalid ConditionExpression: Incorrect number of operands for operator or function; "
       "operator or function: contains, number of operands: 3"},
      {"attribute_exists(:s)",
       "Invalid ConditionExpression: Operator or function requires a document path; operator or "
       "function: attribute_exists"},
      {"attribute_not_exists(:s)",
       "Invalid ConditionExpression: Operator or function requires a document path; operator or "
       "function: attribute_not_exists"},
      {"attribute_type(:s, :S)",
       "Invalid ConditionExpression: Operator or function requires a document path; operator or "
       "function: attribute_type"},
      {"attribute_type(s, :one)",
       "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or "
       "function: attribute_type, operand type: N"},
      {"attribute_type(s, :hello)",
       "Invalid ConditionExpression: Invalid attribute type name found; type: hello, valid types: "
       "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}"},
      {"begins_with(s, :one)",
       "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or "
       "function: begins_with, operand type: N"},
      {"begins_with(s, :ss)",
       "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or "
       "function: begins_with, operand type: SS"},
      {"begins_with(size(s), :hello)",
       "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or "
       "function: begins_with, operand type: N"},
      {"size(:one) = :one",
       "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or "
       "function: size, operand type: N"},
      {"size(:t) = :one",
       "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or "
       "function: size, operand type: BOOL"},
      {"s = s",
       "Invalid ConditionExpression: The first operand must be distinct from the remaining "
       "operands for this operator or function; operator: =, first operand: [s]"},
      {"m.nums[1] < m.nums[1]",
       "Invalid ConditionExpression: The first operand must be distinct from the remaining "
       "operands for this operator or function; operator: <, first operand: [m, nums, [1]]"},
      {"s = #s",
       "Invalid ConditionExpression: The first operand must be distinct from the remaining "
       "operands for this operator or function; operator: =, first operand: [s]"},
      {"begins_with(s, s)",
       "Invalid ConditionExpression: The first operand must be distinct from the remaining "
       "operands for this operator or function; operator: begins_with, first operand: [s]"},
      {"n BETWEEN :ten AND :one",
       "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater "
       "than or equal to lower bound; lower bound operand: AttributeValue: {N:10}, upper bound "
       "operand: AttributeValue: {N:1}"},
      {"n BETWEEN :z AND :a",
       "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater "
       "than or equal to lower bound; lower bound operand: AttributeValue: {S:z}, upper bound "
       "operand: AttributeValue: {S:a}"},
      {"n BETWEEN :one AND :a",
       "Invalid ConditionExpression: The BETWEEN operator requires same data type for lower and "
       "upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: "
       "AttributeValue: {S:a}"},
      {"((s = :s))", "Invalid ConditionExpression: The expression has redundant parentheses;"},
      {"NOT ((s = :s)) AND n = :n",
       "Invalid ConditionExpression: The expression has redundant parentheses;"},
  };
  for (const ErrorCase& c : cases) EXPECT_EQ(c.message, ConditionError(c.text)) << c.text;
}

TEST(ConditionParseTest, SyntaxErrorsOutrankSemanticOnes) {
  EXPECT_EQ("Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"AND\"",
            ConditionError("status = :undefined AND"));
  // Among semantic problems a reserved word outranks an undefined value.
  EXPECT_EQ(
      "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status",
      ConditionError("s = :undefined AND status = :s"));
}

TEST(ConditionParseTest, EqualBetweenBoundsAreFine) {
  EXPECT_EQ("OK", ConditionError("n BETWEEN :one AND :one"));
  const Item item = {{"one", N(1)}};
  EXPECT_TRUE(Eval("one BETWEEN :one AND :one", &item));
}

// --- Condition limits ----------------------------------------------------------

TEST(ConditionLimitsTest, ExpressionSize) {
  // "s = :s OR s = :s ..." padded with spaces to exactly the limit.
  std::string at_limit = "s = :s";
  at_limit.append(kMaxExpressionBytes - at_limit.size(), ' ');
  ASSERT_EQ(4096u, at_limit.size());
  EXPECT_EQ("OK", ConditionError(at_limit));
  EXPECT_EQ(
      "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; "
      "expression size: 4097",
      ConditionError(at_limit + " "));
}

TEST(ConditionLimitsTest, OperatorCount) {
  // 150 comparisons and 149 ANDs: 299 operators; NOT makes 300.
  std::string text = "NOT " + Repeat("n = :n", 150, " AND ");
  EXPECT_EQ("OK", ConditionError(text));
  EXPECT_EQ(
      "Invalid ConditionExpression: The expression contains too many operators; operator "
      "count: 301",
      ConditionError(text + " AND n = :n"));
  // Functions, NOT, BETWEEN and IN count as well.
  EXPECT_EQ("OK", ConditionError(Repeat("NOT ", 99, "") + "attribute_exists(n)"));
  EXPECT_EQ(
      "Invalid ConditionExpression: The expression contains too many operators; operator "
      "count: 301",
      ConditionError(Repeat("size(s) BETWEEN :one AND :two", 100, " OR ") + " OR n IN (:one)"));
  EXPECT_EQ("OK", ConditionError("NOT " + Repeat("size(s) BETWEEN :one AND :two", 100, " OR ")));
  EXPECT_EQ(
      "Invalid ConditionExpression: The expression contains too many operators; operator "
      "count: 301",
      ConditionError(Repeat("n IN (:one)", 151, " OR ")));
  // The count stops at the first operator past the limit, as DynamoDB's does.
  EXPECT_EQ(
      "Invalid ConditionExpression: The expression contains too many operators; operator "
      "count: 301",
      ConditionError(Repeat("n = :n", 340, " AND ")));
}

TEST(ConditionLimitsTest, PathDepth) {
  std::string path32 = "a" + Repeat(".a", 31, "");
  std::string path33 = path32 + "[0]";
  EXPECT_EQ("OK", ConditionError("attribute_exists(" + path32 + ")"));
  EXPECT_EQ(
      "Invalid ConditionExpression: The document path has too many nesting levels; nesting "
      "levels: 33",
      ConditionError("attribute_exists(" + path33 + ")"));
  // A 32-deep item is reachable through a 32-step path.
  Item item;
  AV value = S("leaf");
  for (int i = 0; i < 31; ++i) value = M({{"a", value}});
  item.emplace("a", value);
  EXPECT_TRUE(Eval("attribute_exists(" + path32 + ")", &item));
  EXPECT_FALSE(Eval("attribute_exists(" + path32.substr(0, path32.size() - 2) + ".b)", &item));
}

TEST(ConditionLimitsTest, InOperands) {
  std::string hundred = "n IN (" + Repeat(":n", 100, ", ") + ")";
  EXPECT_EQ("OK", ConditionError(hundred));
  Item item = SampleItem();
  EXPECT_TRUE(Eval(hundred, &item));
  EXPECT_EQ(
      "Invalid ConditionExpression: The IN operator is provided with too many operands; number "
      "of operands: 101",
      ConditionError("n IN (" + Repeat(":n", 101, ", ") + ")"));
}

TEST(ConditionLimitsTest, NestingIsBounded) {
  // Parentheses with an operator each: DynamoDB-valid, and fine to 100 levels.
  std::string nested = Repeat("(n = :n AND ", 99, "") + "n = :n" + std::string(99, ')');
  EXPECT_EQ("OK", ConditionError(nested));
  Item item = SampleItem();
  EXPECT_TRUE(Eval(nested, &item));
  std::string deeper = Repeat("(n = :n AND ", 101, "") + "n = :n" + std::string(101, ')');
  EXPECT_EQ("Invalid ConditionExpression: The expression is nested too deeply; nesting levels: 101",
            ConditionError(deeper));
  // As deep as 4 KB allows: an error, not a stack overflow.
  EXPECT_EQ("Invalid ConditionExpression: The expression is nested too deeply; nesting levels: 101",
            ConditionError(std::string(2000, '(') + "n = :n" + std::string(2000, ')')));
  EXPECT_EQ("Invalid ConditionExpression: The expression is nested too deeply; nesting levels: 101",
            ConditionError(Repeat("NOT ", 1000, "") + "n = :n"));
  EXPECT_EQ("Invalid ConditionExpression: The expression is nested too deeply; nesting levels: 101",
            ConditionError(Repeat("size(", 500, "") + "s" + std::string(500, ')') + " = :n"));
}

// --- Condition evaluation ------------------------------------------------------

TEST(ConditionEvalTest, Comparisons) {
  const Item item = SampleItem();
  ExpectEvaluations(
      {
          {"s = :s", true},      {"s = :hello", false},   {"s <> :hello", true},
          {"s <> :s", false},    {"n = :n", true},        {"n = :n42dec", true},  // 42 == 42.000
          {"n < :n43", true},    {"n < :n", false},       {"n <= :n", true},
          {"n <= :n41", false},  {"n > :n41", true},      {"n > :n", false},
          {"n >= :n", true},     {"n >= :n43", false},    {"neg < :zero", true},
          {"s > :hello", true},  // "hello world" > "hello"
          {"s < :world", true},  {"s >= :s", true},       {"b = :b", true},
          {"b > :b12", true},  // a longer binary with the same prefix is greater
          {"b < :b2", true},     {"b >= :b9", false},     {"t = :t", true},
          {"t = :f", false},     {"f <> :t", true},       {"z = :null", true},
          {"ss = :ss", true},    {"ss = :ss2", true},  // sets are unordered
          {"ns = :ns", true},    {"bs = :bs", true},      {"l = :l", true},
          {"l[2] = :m", true},   {"m.b.c = :deep", true}, {":one < :two", true},
          {":one = :one", true}, {"m.a = l[1]", true},  // path against path
          {"n = blank", false},
      },
      &item);
}

TEST(ConditionEvalTest, DifferentTypesCompareFalse) {
  const Item item = SampleItem();
  ExpectEvaluations(
      {
          {"s = :n", false},
          {"n = :s", false},
          {"s < :n", false},
          {"s > :n", false},
          {"n < :s", false},
          {"n >= :s", false},
          {"b = :s", false},
          {"b < :s", false},
          {"ss = :ns", false},
          {"l = :m", false},
          {"z = :f", false},
          {"n BETWEEN :a AND :z", false},
          {"n IN (:s, :t, :null)", false},
          // <> is the negation of =, so different types are unequal.
          {"s <> :n", true},
          {"ss <> :ns", true},
      },
      &item);
}

TEST(ConditionEvalTest, OrderingOnlyForStringsNumbersBinaries) {
  const Item item = SampleItem();
  ExpectEvaluations(
      {
          {"t < :t", false},
          {"t <= :t", false},
          {"t >= :t", false},
          {"z <= :null", false},
          {"ss <= :ss", false},
          {"ss >= :ss", false},
          {"l >= :l", false},
          {"m.b >= :m", false},
      },
      &item);
}

TEST(ConditionEvalTest, MissingAttributes) {
  const Item item = SampleItem();
  ExpectEvaluations(
      {
          {"absent = :s", false},
          {"absent <> :s", true},
          {"absent < :n", false},
          {"absent >= :n", false},
          {"absent BETWEEN :one AND :ten", false},
          {"absent IN (:s, :n)", false},
          {"size(absent) = :zero", false},
          {"size(absent) <> :zero", true},
          {"begins_with(absent, :a)", false},
          {"contains(absent, :a)", false},
          {"attribute_type(absent, :S)", false},
          {"m.absent.deeper = :s", false},
          {"l[99] = :s", false},
          {"NOT absent = :s", true},
      },
      &item);
}

TEST(ConditionEvalTest, ItemThatDoesNotExist) {
  ExpectEvaluations(
      {
          {"attribute_not_exists(pk)", true},
          {"attribute_exists(pk)", false},
          {"pk = :s", false},
          {"pk <> :s", true},
          {"size(pk) > :zero", false},
          {"NOT attribute_exists(pk)", true},
          {":one = :one", true},
          {"contains(:s, :hello)", true},
      },
      nullptr);
}

TEST(ConditionEvalTest, BetweenAndIn) {
  Item item = SampleItem();
  ExpectEvaluations(
      {
          {"n BETWEEN :one AND :n", true},
          {"n BETWEEN :n AND :n", true},
          {"n BETWEEN :n43 AND :n43", false},
          {"n BETWEEN :one AND :ten", false},
          {"s BETWEEN :hello AND :world", true},
          {"s BETWEEN :a AND :apple", false},
          {"b BETWEEN :b12 AND :b9", true},
          {"size(s) BETWEEN :ten AND :twenty", true},  // 11 bytes
          {"n IN (:one, :n)", true},
          {"n IN (:one, :two)", false},
          {"n IN (:n42dec)", true},
          {"s IN (:hello, :s)", true},
          {"ss IN (:ss2)", true},
          {"l IN (:l)", true},
          {"m.nums[1] IN (:ten, :twenty)", true},
          {"n IN (m.a, :n)", true},
      },
      &item);
}

TEST(ConditionEvalTest, AttributeExistsAndType) {
  const Item item = SampleItem();
  ExpectEvaluations(
      {
          {"attribute_exists(s)", true},
          {"attribute_exists(z)", true},  // a NULL value exists
          {"attribute_exists(m.b.c)", true},
          {"attribute_exists(m.nums[2])", true},
          {"attribute_exists(m.nums[3])", false},
          {"attribute_exists(absent)", false},
          {"attribute_not_exists(absent)", true},
          {"attribute_not_exists(m.absent)", true},
          {"attribute_not_exists(s)", false},
          {"attribute_exists(#status)", false},
          {"attribute_type(s, :S)", true},
          {"attribute_type(n, :N)", true},
          {"attribute_type(b, :B)", true},
          {"attribute_type(t, :BOOL)", true},
          {"attribute_type(z, :NULL)", true},
          {"attribute_type(m, :M)", true},
          {"attribute_type(l, :L)", true},
          {"attribute_type(ss, :SS)", true},
          {"attribute_type(ns, :NS)", true},
          {"attribute_type(bs, :BS)", true},
          {"attribute_type(m.b, :M)", true},
          {"attribute_type(l[0], :S)", true},
          {"attribute_type(s, :N)", false},
          {"attribute_type(ss, :S)", false},
          {"attribute_type(ns, :L)", false},
      },
      &item);
}

TEST(ConditionEvalTest, BeginsWith) {
  const Item item = SampleItem();
  ExpectEvaluations(
      {
          {"begins_with(s, :hello)", true},
          {"begins_with(s, :s)", true},
          {"begins_with(s, :empty)", true},
          {"begins_with(s, :world)", false},
          {"begins_with(blank, :empty)", true},
          {"begins_with(blank, :a)", false},
          {"begins_with(b, :b12)", true},
          {"begins_with(b, :b)", true},
          {"begins_with(b, :b2)", false},
          {"begins_with(b, :hello)", false},  // binary vs string
          {"begins_with(s, :b12)", false},
          {"begins_with(n, :hello)", false},  // a number has no prefix
          {"begins_with(ss, :apple)", false},
          {"begins_with(l, :x)", false},
          {"begins_with(m.b.c, :deep)", true},
          {"begins_with(:s, :hello)", true},
      },
      &item);
}

TEST(ConditionEvalTest, Contains) {
  const Item item = SampleItem();
  ExpectEvaluations(
      {
          // Substring of a string or binary.
          {"contains(s, :hello)", true},
          {"contains(s, :world)", true},
          {"contains(s, :empty)", true},
          {"contains(s, :other)", false},
          {"contains(b, :b2)", true},
          {"contains(b, :b9)", false},
          {"contains(s, :n)", false},
          // Set membership; the element type must match the set.
          {"contains(ss, :apple)", true},
          {"contains(ss, :a)", false},
          {"contains(ns, :two)", true},
          {"contains(ns, :five)", false},
          {"contains(ns, :apple)", false},
          {"contains(bs, :b2)", true},
          {"contains(bs, :b9)", false},
          {"contains(ss, :ss)", false},  // a set is not an element
                                         // List elements by equality, any type.
          {"contains(l, :x)", true},
          {"contains(l, :one)", true},
          {"contains(l, :m)", true},
          {"contains(l, :lseven)", true},
          {"contains(l, :seven)", false},  // not searched recursively
          {"contains(l, :v)", false},
          // Other types contain nothing.
          {"contains(n, :n)", false},
          {"contains(m, :a)", false},
          {"contains(t, :t)", false},
          {"contains(m.nums, :twenty)", true},
      },
      &item);
}

TEST(ConditionEvalTest, Size) {
  const Item item = SampleItem();
  ExpectEvaluations(
      {
          {"size(s) = :eleven", true},
          {"size(blank) = :zero", true},
          {"size(utf) = :five", true},  // bytes, not characters
          {"size(b) = :three", true},
          {"size(ss) = :three", true},
          {"size(ns) = :three", true},
          {"size(bs) = :two", true},
          {"size(l) > :three", true},
          {"size(m) = :five", false},
          {"size(m) > :three", true},
          {"size(m.emptymap) = :zero", true},
          {"size(m.nums) = :three", true},
          {"size(l[3]) = :one", true},
          // No size for numbers, booleans and NULL: comparisons are false.
          {"size(n) = :two", false},
          {"size(n) >= :zero", false},
          {"size(t) = :one", false},
          {"size(z) = :zero", false},
          {"size(n) <> :zero", true},
          {"size(s) > size(b)", true},
          {"size(ss) = size(ns)", true},
          {"size(:s) = :eleven", true},
          {"size(:ss) = :three", true},
      },
      &item);
}

TEST(ConditionEvalTest, LogicAndPrecedence) {
  const Item item = SampleItem();
  // yes/no: attribute_exists of present/absent attributes.
  ExpectEvaluations(
      {
          {"attribute_exists(s) AND attribute_exists(n)", true},
          {"attribute_exists(s) AND attribute_exists(nope)", false},
          {"attribute_exists(nope) OR attribute_exists(n)", true},
          {"attribute_exists(nope) OR attribute_exists(nope2)", false},
          {"NOT attribute_exists(nope)", true},
          {"NOT attribute_exists(s)", false},
          // NOT binds tighter than AND: (NOT no) AND yes.
          {"NOT attribute_exists(nope) AND attribute_exists(s)", true},
          {"NOT attribute_exists(s) AND attribute_exists(nope)", false},
          {"NOT (attribute_exists(s) AND attribute_exists(nope))", true},
          // AND binds tighter than OR: yes OR (no AND no).
          {"attribute_exists(s) OR attribute_exists(nope) AND attribute_exists(nope)", true},
          {"(attribute_exists(s) OR attribute_exists(nope)) AND attribute_exists(nope)", false},
          // no AND no OR yes = (no AND no) OR yes.
          {"attribute_exists(nope) AND attribute_exists(nope) OR attribute_exists(s)", true},
          {"attribute_exists(nope) AND (attribute_exists(nope) OR attribute_exists(s))", false},
          // NOT over OR needs parentheses: (NOT yes) OR yes.
          {"NOT attribute_exists(s) OR attribute_exists(s)", true},
          {"NOT (attribute_exists(s) OR attribute_exists(s))", false},
          {"NOT NOT attribute_exists(s)", true},
          // Comparisons bind tighter than NOT.
          {"NOT n = :one", true},
          {"NOT n = :n AND s = :s", false},
          {"n = :n AND s = :s AND t = :t AND z = :null", true},
          {"n = :one OR s = :hello OR t = :f OR z = :null", true},
          {"n = :one OR s = :hello OR t = :f OR z <> :null", false},
      },
      &item);
}

TEST(ConditionEvalTest, ReservedNamesThroughPlaceholders) {
  Item item = {{"status", S("active")}, {"size", N(3)}, {"name", S("Alice")}};
  ExpressionAttributes attrs({{"#st", "status"}, {"#sz", "size"}, {"#nm", "name"}},
                             {{":active", S("active")}, {":three", N(3)}, {":al", S("Al")}});
  auto condition = ConditionExpression::Parse(
      "#st = :active AND #sz = :three AND begins_with(#nm, :al) AND size(#nm) = size(#nm)", attrs);
  // size(#nm) = size(#nm): functions are not paths, so the distinct check
  // does not apply.
  ASSERT_TRUE(condition.ok()) << condition.status().ToString();
  EXPECT_TRUE(condition->Evaluate(&item));
  EXPECT_TRUE(attrs.CheckAllUsed().ok());
}

TEST(ConditionEvalTest, ConcurrentEvaluation) {
  ExpressionAttributes attrs = Attrs();
  auto condition = ConditionExpression::Parse(
      "n BETWEEN :one AND :n AND contains(ss, :apple) AND size(s) = :eleven", attrs);
  ASSERT_TRUE(condition.ok());
  const Item item = SampleItem();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (!condition->Evaluate(&item)) failures++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(0, failures.load());
}

TEST(ConditionEvalTest, MovedExpressionStillEvaluates) {
  ExpressionAttributes attrs = Attrs();
  auto parsed = ConditionExpression::Parse("n = :n", attrs);
  ASSERT_TRUE(parsed.ok());
  ConditionExpression moved = std::move(parsed).value();
  ConditionExpression assigned = std::move(moved);
  const Item item = SampleItem();
  EXPECT_TRUE(assigned.Evaluate(&item));
}

// --- Placeholders ----------------------------------------------------------------

TEST(ExpressionAttributesTest, ResolveRecordsUse) {
  ExpressionAttributes attrs({{"#a", "alpha"}, {"#b", "beta"}}, {{":x", N(1)}, {":y", N(2)}});
  EXPECT_EQ("Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}",
            attrs.CheckAllUsed().message());
  ASSERT_TRUE(attrs.ResolveName("#a").ok());
  EXPECT_EQ("alpha", *attrs.ResolveName("#a"));
  EXPECT_EQ("Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}",
            attrs.CheckAllUsed().message());
  EXPECT_EQ(StatusCode::kInvalidArgument, attrs.CheckAllUsed().code());
  ASSERT_TRUE(attrs.ResolveName("#b").ok());
  EXPECT_EQ("Value provided in ExpressionAttributeValues unused in expressions: keys: {:x, :y}",
            attrs.CheckAllUsed().message());
  EXPECT_EQ(N(2), *attrs.ResolveValue(":y"));
  EXPECT_EQ("Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}",
            attrs.CheckAllUsed().message());
  ASSERT_TRUE(attrs.ResolveValue(":x").ok());
  EXPECT_TRUE(attrs.CheckAllUsed().ok());

  EXPECT_EQ(
      "An expression attribute name used in the document path is not defined; attribute name: "
      "#zz",
      attrs.ResolveName("#zz").status().message());
  EXPECT_EQ("An expression attribute value used in expression is not defined; attribute value: :zz",
            attrs.ResolveValue(":zz").status().message());
  EXPECT_TRUE(ExpressionAttributes().CheckAllUsed().ok());
}

TEST(ExpressionAttributesTest, SharedAcrossExpressionsOfOneRequest) {
  ExpressionAttributes attrs({{"#n", "n"}, {"#c", "count"}, {"#p", "pk"}},
                             {{":one", N(1)}, {":zero", N(0)}, {":unused", N(9)}});
  ASSERT_TRUE(UpdateExpression::Parse("SET #c = #c + :one", attrs).ok());
  EXPECT_EQ("Value provided in ExpressionAttributeNames unused in expressions: keys: {#n, #p}",
            attrs.CheckAllUsed().message());
  ASSERT_TRUE(ConditionExpression::Parse("attribute_exists(#p) AND #n > :zero", attrs).ok());
  EXPECT_EQ("Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}",
            attrs.CheckAllUsed().message());
  ASSERT_TRUE(ProjectionExpression::Parse("#n", attrs).ok());
  EXPECT_FALSE(attrs.CheckAllUsed().ok());
}

TEST(ExpressionAttributesTest, UndefinedPlaceholdersInEachExpressionKind) {
  ExpressionAttributes attrs;
  EXPECT_EQ(
      "Invalid UpdateExpression: An expression attribute value used in expression is not "
      "defined; attribute value: :v",
      UpdateExpression::Parse("SET a = :v", attrs).status().message());
  EXPECT_EQ(
      "Invalid UpdateExpression: An expression attribute name used in the document path is not "
      "defined; attribute name: #a",
      UpdateExpression::Parse("REMOVE #a", attrs).status().message());
  EXPECT_EQ(
      "Invalid ProjectionExpression: An expression attribute name used in the document path is "
      "not defined; attribute name: #a",
      ProjectionExpression::Parse("a, #a", attrs).status().message());
  EXPECT_EQ(
      "Invalid KeyConditionExpression: An expression attribute value used in expression is not "
      "defined; attribute value: :v",
      KeyCondition::Parse("pk = :v", attrs, "pk", "").status().message());
  EXPECT_EQ(
      "Invalid FilterExpression: An expression attribute name used in the document path is not "
      "defined; attribute name: #a",
      ConditionExpression::Parse("#a = #a", attrs, "FilterExpression").status().message());
}

// --- Update expressions: parsing -------------------------------------------------

TEST(UpdateParseTest, ValidExpressions) {
  for (const char* text : {
           "SET a = :one",
           "set a = :one",
           "sEt a = :one",
           "SET a = :one, b = :two",
           "SET a = b",
           "SET a = b + :one",
           "SET a = :one + b",
           "SET a = b - :one",
           "SET a = :one - :two",
           "SET a = if_not_exists(a, :one)",
           "SET a = if_not_exists(m.b, :one) + :one",
           "SET a = list_append(l, :l)",
           "SET a = list_append(:l, l)",
           "SET a = list_append(if_not_exists(l, :l), :l)",
           "SET a = (b + :one)",
           "SET a = (b) + :one",
           "SET a = (b)",
           "SET m.x.y[3] = :one",
           "SET #m.b = :one",
           "REMOVE a",
           "REMOVE a, b, m.x, l[0]",
           "ADD n :one",
           "ADD ss :ss, ns :ns",
           "ADD bs :bs",
           "DELETE ss :ss",
           "DELETE ss :ss, ns :ns, bs :bs",
           "SET a = :one REMOVE b ADD n :one DELETE ss :ss",
           "DELETE ss :ss ADD n :one REMOVE b SET a = :one",
           "remove b add n :one",
           "  SET   a=:one  ,b=:two   REMOVE c  ",
       }) {
    EXPECT_EQ("OK", UpdateParseError(text)) << text;
  }
}

TEST(UpdateParseTest, Errors) {
  const std::vector<ErrorCase> cases = {
      {"", "Invalid UpdateExpression: The expression can not be empty;"},
      {"   ", "Invalid UpdateExpression: The expression can not be empty;"},
      {"SET =", "Invalid UpdateExpression: Syntax error; token: \"=\", near: \"SET =\""},
      {"SET", "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"SET\""},
      {"SET a", "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"a\""},
      {"SET a =", "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"=\""},
      {"SET a = :one,", "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \",\""},
      {"SET a = :one, REMOVE b",
       "Invalid UpdateExpression: Syntax error; token: \"REMOVE\", near: \", REMOVE b\""},
      {"SET _123 = :one",
       "Invalid UpdateExpression: Syntax error; token: \"_\", near: \"SET _123\""},
      {"SET :one = :two",
       "Invalid UpdateExpression: Syntax error; token: \":one\", near: \"SET :one =\""},
      {"SET a = :one + :two + :three",
       "Invalid UpdateExpression: Syntax error; token: \"+\", near: \":two + :three\""},
      {"SET a = if_not_exists(a, :one + :two)",
       "Invalid UpdateExpression: Syntax error; token: \"+\", near: \":one + :two\""},
      {"SET a[:one] = :two",
       "Invalid UpdateExpression: Syntax error; token: \":one\", near: \"[:one]\""},
      {"SET a[#n] = :two", "Invalid UpdateExpression: Syntax error; token: \"#n\", near: \"[#n]\""},
      {"SET a == :one", "Invalid UpdateExpression: Syntax error; token: \"=\", near: \"== :one\""},
      {"HELLO a = :one",
       "Invalid UpdateExpression: Syntax error; token: \"HELLO\", near: \"HELLO a\""},
      {"a = :one", "Invalid UpdateExpression: Syntax error; token: \"a\", near: \"a =\""},
      {"REMOVE a = :one",
       "Invalid UpdateExpression: Syntax error; token: \"=\", near: \"a = :one\""},
      {"REMOVE", "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"REMOVE\""},
      {"ADD n", "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"n\""},
      {"ADD n m", "Invalid UpdateExpression: Syntax error; token: \"m\", near: \"n m\""},
      {"ADD n = :one", "Invalid UpdateExpression: Syntax error; token: \"=\", near: \"n = :one\""},
      {"DELETE ss ss2", "Invalid UpdateExpression: Syntax error; token: \"ss2\", near: \"ss ss2\""},
      {"SET set = :one",
       "Invalid UpdateExpression: Syntax error; token: \"set\", near: \"SET set =\""},
      {"SET a = :one SET b = :two",
       "Invalid UpdateExpression: The \"SET\" section can only be used once in an update "
       "expression;"},
      {"REMOVE a SET b = :one remove c",
       "Invalid UpdateExpression: The \"REMOVE\" section can only be used once in an update "
       "expression;"},
      {"SET status = :one",
       "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status"},
      {"SET a = size",
       "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: size"},
      {"REMOVE m.name",
       "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: name"},
      {"SET a = f(b, c)", "Invalid UpdateExpression: Invalid function name; function: f"},
      {"SET a = LIST_APPEND(:l, :l)",
       "Invalid UpdateExpression: Invalid function name; function: LIST_APPEND"},
      {"SET a = size(b)", "Invalid UpdateExpression: Invalid function name; function: size"},
      {"SET a = list_append(:l)",
       "Invalid UpdateExpression: Incorrect number of operands for operator or function; "
       "operator or function: list_append, number of operands: 1"},
      {"SET a = if_not_exists(a, :one, :two)",
       "Invalid UpdateExpression: Incorrect number of operands for operator or function; "
       "operator or function: if_not_exists, number of operands: 3"},
      {"SET a = if_not_exists(:one, :two)",
       "Invalid UpdateExpression: Operator or function requires a document path; operator or "
       "function: if_not_exists"},
      {"SET a = list_append(:l, :s)",
       "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or "
       "function: list_append, operand type: S"},
      {"SET a = list_append(list_append(:l, :l), :l)",
       "Invalid UpdateExpression: The function is not allowed to be used this way in an "
       "expression; function: list_append"},
      {"SET a = :s + :one",
       "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or "
       "function: +, operand type: S"},
      {"SET a = b - :l",
       "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or "
       "function: -, operand type: L"},
      {"ADD a :s",
       "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: "
       "ADD, operand type: STRING"},
      {"ADD a :l",
       "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: "
       "ADD, operand type: LIST"},
      {"ADD a :m",
       "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: "
       "ADD, operand type: MAP"},
      {"DELETE a :one",
       "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: "
       "DELETE, operand type: NUMBER"},
      {"DELETE a :b",
       "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: "
       "DELETE, operand type: BINARY"},
      {"DELETE a :t",
       "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: "
       "DELETE, operand type: BOOLEAN"},
      {"DELETE a :null",
       "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: "
       "DELETE, operand type: NULL"},
  };
  for (const ErrorCase& c : cases) EXPECT_EQ(c.message, UpdateParseError(c.text)) << c.text;
}

TEST(UpdateParseTest, OverlappingAndConflictingPaths) {
  const std::vector<ErrorCase> cases = {
      {"SET a = :one REMOVE a",
       "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
       "rewrite one of these paths; path one: [a], path two: [a]"},
      {"SET a = :one, a = :two",
       "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
       "rewrite one of these paths; path one: [a], path two: [a]"},
      {"SET #s = :one, s = :two",
       "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
       "rewrite one of these paths; path one: [s], path two: [s]"},
      {"SET a = :one, a.b = :two",
       "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
       "rewrite one of these paths; path one: [a], path two: [a, b]"},
      {"SET a.b.c = :one REMOVE a.b",
       "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
       "rewrite one of these paths; path one: [a, b, c], path two: [a, b]"},
      {"REMOVE a[1] ADD a[1][2] :one",
       "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
       "rewrite one of these paths; path one: [a, [1]], path two: [a, [1], [2]]"},
      {"ADD ss :ss DELETE ss :ss",
       "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
       "rewrite one of these paths; path one: [ss], path two: [ss]"},
      {"SET a.b = :one, a[1] = :two",
       "Invalid UpdateExpression: Two document paths conflict with each other; must remove or "
       "rewrite one of these paths; path one: [a, b], path two: [a, [1]]"},
      {"SET a.b.c = :one, a.b[2] = :two",
       "Invalid UpdateExpression: Two document paths conflict with each other; must remove or "
       "rewrite one of these paths; path one: [a, b, c], path two: [a, b, [2]]"},
  };
  for (const ErrorCase& c : cases) EXPECT_EQ(c.message, UpdateParseError(c.text)) << c.text;
  // Reading a path that is also written is fine; so are siblings.
  for (const char* text :
       {"SET a = a + :one", "REMOVE a SET b = a", "SET a.b = :one, a.c = :two",
        "SET a[1] = :one, a[2] = :two", "SET ab = :one, a = :two", "REMOVE l[0], l[1], l[2]"}) {
    EXPECT_EQ("OK", UpdateParseError(text)) << text;
  }
}

TEST(UpdateParseTest, UpdatedPaths) {
  ExpressionAttributes attrs = Attrs();
  auto update = UpdateExpression::Parse(
      "SET z = :one, a.b[2] = :two REMOVE #m.x ADD n :one DELETE ss :ss", attrs);
  ASSERT_TRUE(update.ok()) << update.status().ToString();
  std::vector<std::string> paths;
  for (const AttributePath& path : update->updated_paths()) paths.push_back(PathToString(path));
  EXPECT_EQ((std::vector<std::string>{"z", "a.b[2]", "m.x", "n", "ss"}), paths);
}

TEST(UpdateParseTest, Limits) {
  // 4 KB of text.
  std::string text = "SET a = :one";
  text.append(kMaxExpressionBytes - text.size(), ' ');
  EXPECT_EQ("OK", UpdateParseError(text));
  EXPECT_EQ(
      "Invalid UpdateExpression: Expression size has exceeded the maximum allowed size; "
      "expression size: 4097",
      UpdateParseError(text + " "));
  // 300 operators: each "+" counts, and so does each function.
  std::string set300 = "SET a=if_not_exists(b,:o)+:o";
  for (int i = 0; i < 298; ++i) {
    set300 += std::string(",x") + static_cast<char>('a' + i / 26) +
              static_cast<char>('a' + i % 26) + "=:o+:o";
  }
  ASSERT_LT(set300.size(), kMaxExpressionBytes);
  EXPECT_EQ("OK", UpdateParseError(set300));
  EXPECT_EQ(
      "Invalid UpdateExpression: The expression contains too many operators; operator count: 301",
      UpdateParseError(set300 + ",zz=:o-:o"));
  // Path depth 32.
  const std::string path32 = "a" + Repeat("[0]", 31, "");
  EXPECT_EQ("OK", UpdateParseError("SET " + path32 + " = :one"));
  EXPECT_EQ(
      "Invalid UpdateExpression: The document path has too many nesting levels; nesting levels: "
      "33",
      UpdateParseError("REMOVE " + path32 + ".b"));
  // Function nesting is bounded.
  EXPECT_EQ("Invalid UpdateExpression: The expression is nested too deeply; nesting levels: 101",
            UpdateParseError("SET a = " + Repeat("if_not_exists(a, ", 200, "") + ":one" +
                             std::string(200, ')')));
  EXPECT_EQ(
      "Invalid UpdateExpression: The expression is nested too deeply; nesting levels: 101",
      UpdateParseError("SET a = " + std::string(1000, '(') + ":one" + std::string(1000, ')')));
}

// --- Update expressions: applying ------------------------------------------------

TEST(UpdateApplyTest, SetTopLevelAndNested) {
  Item item = SampleItem();
  ASSERT_TRUE(Update("SET a = :one, m.b.c = :hello, m.x = :two, #m.#n = :three", &item).ok());
  EXPECT_EQ(N(1), item["a"]);
  EXPECT_EQ(S("hello"), *FindPath(item, {Name("m"), Name("b"), Name("c")}));
  EXPECT_EQ(N(2), item["m"].m().at("x"));
  EXPECT_EQ(N(3), item["m"].m().at("n"));
  EXPECT_EQ(N(1), item["m"].m().at("a"));  // siblings untouched
  // Replacing a value may change its type.
  ASSERT_TRUE(Update("SET m.b = :one, s = :l", &item).ok());
  EXPECT_EQ(N(1), item["m"].m().at("b"));
  EXPECT_EQ(Values()[":l"], item["s"]);
}

TEST(UpdateApplyTest, SetCopiesAndArithmetic) {
  Item item = SampleItem();
  ASSERT_TRUE(Update("SET c = s, d = m.nums[1], e = n + :one, f = :ten - n, g = n - n, "
                     "h = :one + :two, i = neg + :one",
                     &item)
                  .ok());
  EXPECT_EQ(S("hello world"), item["c"]);
  EXPECT_EQ(N(20), item["d"]);
  EXPECT_EQ(N(43), item["e"]);
  EXPECT_EQ(N(-32), item["f"]);
  EXPECT_EQ(N(0), item["g"]);
  EXPECT_EQ(N(3), item["h"]);
  EXPECT_EQ(Nd("-0.5"), item["i"]);
  // Exact decimal arithmetic, no floating point.
  Item money = {{"x", Nd("0.1")}};
  ExpressionAttributes attrs({}, {{":d", Nd("0.2")}});
  auto update = UpdateExpression::Parse("SET x = x + :d", attrs);
  ASSERT_TRUE(update.ok());
  ASSERT_TRUE(update->Apply(&money).ok());
  EXPECT_EQ(Nd("0.3"), money["x"]);
}

TEST(UpdateApplyTest, OperandsReadTheOriginalItem) {
  Item item = {{"a", N(1)}, {"b", N(2)}};
  // Swap: both right-hand sides see the item before the update.
  ASSERT_TRUE(Update("SET a = b, b = a", &item).ok());
  EXPECT_EQ(N(2), item["a"]);
  EXPECT_EQ(N(1), item["b"]);
  // x does not exist yet when y = x is evaluated.
  EXPECT_EQ("The provided expression refers to an attribute that does not exist in the item",
            Update("SET x = :one, y = x", &item).message());
  // REMOVE a, SET c = a: c gets the old a.
  ASSERT_TRUE(Update("REMOVE a SET c = a", &item).ok());
  EXPECT_EQ((Item{{"b", N(1)}, {"c", N(2)}}), item);
}

TEST(UpdateApplyTest, IfNotExists) {
  Item item = {{"a", N(5)}};
  ASSERT_TRUE(Update("SET a = if_not_exists(a, :one), b = if_not_exists(b, :two)", &item).ok());
  EXPECT_EQ(N(5), item["a"]);
  EXPECT_EQ(N(2), item["b"]);
  ASSERT_TRUE(Update("SET c = if_not_exists(absent, a), d = if_not_exists(a, :ten)", &item).ok());
  EXPECT_EQ(N(5), item["c"]);
  EXPECT_EQ(N(5), item["d"]);
  // The counter idiom.
  ASSERT_TRUE(Update("SET cnt = if_not_exists(cnt, :zero) + :one", &item).ok());
  ASSERT_TRUE(Update("SET cnt = if_not_exists(cnt, :zero) + :one", &item).ok());
  EXPECT_EQ(N(2), item["cnt"]);
  // The fallback must exist if it is a path.
  EXPECT_EQ("The provided expression refers to an attribute that does not exist in the item",
            Update("SET e = if_not_exists(absent, absent2)", &item).message());
}

TEST(UpdateApplyTest, ListAppendBothOrders) {
  Item item = {{"l", L({N(1), N(2)})}};
  ASSERT_TRUE(Update("SET l = list_append(l, :lseven)", &item).ok());
  EXPECT_EQ(L({N(1), N(2), N(7)}), item["l"]);
  ASSERT_TRUE(Update("SET l = list_append(:lseven, l)", &item).ok());
  EXPECT_EQ(L({N(7), N(1), N(2), N(7)}), item["l"]);
  ASSERT_TRUE(Update("SET k = list_append(l, l)", &item).ok());
  EXPECT_EQ(8u, item["k"].l().size());
  // Creating a list from nothing.
  ASSERT_TRUE(Update("SET n = list_append(if_not_exists(n, :lseven), :lseven)", &item).ok());
  EXPECT_EQ(L({N(7), N(7)}), item["n"]);
  // Both arguments must be lists.
  item["ss"] = SS({"a"});
  Item before = item;
  EXPECT_EQ("An operand in the update expression has an incorrect data type",
            Update("SET l = list_append(l, ss)", &item).message());
  EXPECT_EQ("The provided expression refers to an attribute that does not exist in the item",
            Update("SET l = list_append(absent, :lseven)", &item).message());
  item["s"] = S("text");
  before["s"] = S("text");
  EXPECT_EQ("An operand in the update expression has an incorrect data type",
            Update("SET l = list_append(:lseven, s)", &item).message());
  EXPECT_EQ(before, item);
}

TEST(UpdateApplyTest, ListIndexes) {
  Item item = {{"l", L({S("zero"), S("one"), S("two")})}};
  ASSERT_TRUE(Update("SET l[1] = :x", &item).ok());
  EXPECT_EQ(L({S("zero"), S("x"), S("two")}), item["l"]);
  // Past the end appends.
  ASSERT_TRUE(Update("SET l[7] = :v", &item).ok());
  EXPECT_EQ(L({S("zero"), S("x"), S("two"), S("v")}), item["l"]);
  // Several appends land in index order, whatever the expression order.
  ExpressionAttributes attrs(
      {}, {{":a1", S("a1")}, {":a2", S("a2")}, {":a3", S("a3")}, {":a4", S("a4")}});
  auto update =
      UpdateExpression::Parse("SET l[84] = :a1, l[37] = :a2, l[17] = :a3, l[50] = :a4", attrs);
  ASSERT_TRUE(update.ok());
  ASSERT_TRUE(update->Apply(&item).ok());
  EXPECT_EQ(L({S("zero"), S("x"), S("two"), S("v"), S("a3"), S("a2"), S("a4"), S("a1")}),
            item["l"]);
}

TEST(UpdateApplyTest, RemoveShiftsListElementsButIndexesMeanTheOriginal) {
  Item item = {{"a", L({N(2), N(3), N(4), N(5), N(6), N(7)})}};
  Item copy = item;
  ASSERT_TRUE(Update("REMOVE a[1] SET a[3] = :seven", &item).ok());
  EXPECT_EQ(L({N(2), N(4), N(7), N(6), N(7)}), item["a"]);
  ASSERT_TRUE(Update("SET a[3] = :seven REMOVE a[1]", &copy).ok());
  EXPECT_EQ(L({N(2), N(4), N(7), N(6), N(7)}), copy["a"]);

  Item list = {{"a", L({N(0), N(1), N(2), N(3), N(4)})}};
  ASSERT_TRUE(Update("REMOVE a[0], a[2], a[4]", &list).ok());
  EXPECT_EQ(L({N(1), N(3)}), list["a"]);
  // Past the end: nothing to remove.
  ASSERT_TRUE(Update("REMOVE a[17]", &list).ok());
  EXPECT_EQ(L({N(1), N(3)}), list["a"]);
  ASSERT_TRUE(Update("REMOVE a[0], a[1]", &list).ok());
  EXPECT_EQ(L({}), list["a"]);  // an empty list remains
}

TEST(UpdateApplyTest, RemoveNested) {
  Item item = {
      {"a", M({{"b", N(3)},
               {"c", L({S("hi"), M({{"x", M({{"y", L({N(3), N(5), N(7)})}})}, {"q", N(2)}})})}})}};
  ASSERT_TRUE(Update("REMOVE a.c[1].x.y[1], a.c[1].q", &item).ok());
  EXPECT_EQ(M({{"b", N(3)}, {"c", L({S("hi"), M({{"x", M({{"y", L({N(3), N(7)})}})}})})}}),
            item["a"]);
  ASSERT_TRUE(Update("REMOVE a.b", &item).ok());
  ASSERT_TRUE(Update("REMOVE a.c", &item).ok());
  EXPECT_EQ(M({}), item["a"]);  // an empty map remains
}

TEST(UpdateApplyTest, RemoveMissingPaths) {
  Item item = {{"pk", S("k")}, {"a", M({{"x", N(3)}})}, {"b", L({S("hi")})}, {"s", S("text")}};
  const Item before = item;
  // A missing last step is a no-op.
  ASSERT_TRUE(Update("REMOVE absent", &item).ok());
  ASSERT_TRUE(Update("REMOVE a.y", &item).ok());
  ASSERT_TRUE(Update("REMOVE b[7]", &item).ok());
  EXPECT_EQ(before, item);
  // A missing or mistyped parent is an error on an existing item.
  for (const char* text : {"REMOVE c.c", "REMOVE s.c", "REMOVE b.c", "REMOVE a[0]", "REMOVE s[0]",
                           "REMOVE c[0]", "REMOVE a.y.z"}) {
    EXPECT_EQ("The document path provided in the update expression is invalid for update",
              Update(text, &item).message())
        << text;
  }
  EXPECT_EQ(before, item);
  // ... but not on an item that does not exist yet.
  Item none;
  ASSERT_TRUE(Update("REMOVE x.y, z[0]", &none).ok());
  EXPECT_TRUE(none.empty());
}

TEST(UpdateApplyTest, SetInvalidPaths) {
  Item item = {{"pk", S("k")}, {"s", S("hello")}, {"b", L({S("hi")})}, {"m", M({})}};
  const Item before = item;
  for (const char* text : {"SET s.c = :one", "SET b.c = :one", "SET c.c = :one", "SET s[0] = :one",
                           "SET c[0] = :one", "SET m[0] = :one", "SET m.x.y = :one",
                           "SET b[0].x = :one", "SET b[5].x = :one", "ADD c.d :one"}) {
    EXPECT_EQ("The document path provided in the update expression is invalid for update",
              Update(text, &item).message())
        << text;
  }
  EXPECT_EQ(before, item);
  Item none;
  EXPECT_EQ("The document path provided in the update expression is invalid for update",
            Update("SET c.c = :one", &none).message());
  EXPECT_TRUE(none.empty());
}

TEST(UpdateApplyTest, MissingOperandAndWrongTypes) {
  Item item = SampleItem();
  const Item before = item;
  const std::vector<ErrorCase> cases = {
      {"SET a = absent",
       "The provided expression refers to an attribute that does not exist in the item"},
      {"SET a = m.absent",
       "The provided expression refers to an attribute that does not exist in the item"},
      {"SET a = absent + :one",
       "The provided expression refers to an attribute that does not exist in the item"},
      {"SET a = :one - l[10]",
       "The provided expression refers to an attribute that does not exist in the item"},
      {"SET a = s + :one", "An operand in the update expression has an incorrect data type"},
      {"SET a = :one - ss", "An operand in the update expression has an incorrect data type"},
      {"SET a = n + s", "An operand in the update expression has an incorrect data type"},
      {"ADD s :one", "An operand in the update expression has an incorrect data type"},
      {"ADD n :ss", "An operand in the update expression has an incorrect data type"},
      {"ADD ss :ns", "An operand in the update expression has an incorrect data type"},
      {"ADD l :ss", "An operand in the update expression has an incorrect data type"},
      {"DELETE ss :ns", "An operand in the update expression has an incorrect data type"},
      {"DELETE s :ss", "An operand in the update expression has an incorrect data type"},
      {"DELETE n :ns", "An operand in the update expression has an incorrect data type"},
  };
  for (const ErrorCase& c : cases) EXPECT_EQ(c.message, Update(c.text, &item).message()) << c.text;
  EXPECT_EQ(before, item);
}

TEST(UpdateApplyTest, AddNumbers) {
  Item item = {{"n", N(3)}, {"m", M({{"c", N(1)}})}, {"l", L({N(5)})}};
  ASSERT_TRUE(Update("ADD n :seven, m.c :one, l[0] :two", &item).ok());
  EXPECT_EQ(N(10), item["n"]);
  EXPECT_EQ(N(2), item["m"].m().at("c"));
  EXPECT_EQ(L({N(7)}), item["l"]);
  // A missing attribute starts from zero.
  ASSERT_TRUE(Update("ADD fresh :seven, m.d :one", &item).ok());
  EXPECT_EQ(N(7), item["fresh"]);
  EXPECT_EQ(N(1), item["m"].m().at("d"));
  Item none;
  ASSERT_TRUE(Update("ADD hits :one", &none).ok());
  EXPECT_EQ((Item{{"hits", N(1)}}), none);
}

TEST(UpdateApplyTest, AddAndDeleteEachSetType) {
  Item item = {{"ss", SS({"a", "b"})}, {"ns", NS({1, 2})}, {"bs", BS({"\x01"})}};
  ExpressionAttributes attrs({}, {{":ss", SS({"b", "c"})},
                                  {":ns", NS({2, 3})},
                                  {":bs", BS({"\x01", "\x02"})},
                                  {":ssa", SS({"a", "zz"})},
                                  {":ns12", NS({1, 2})},
                                  {":bs1", BS({"\x01"})}});
  auto add = UpdateExpression::Parse("ADD ss :ss, ns :ns, bs :bs, newset :ss", attrs);
  ASSERT_TRUE(add.ok()) << add.status().ToString();
  ASSERT_TRUE(add->Apply(&item).ok());
  EXPECT_EQ(SS({"a", "b", "c"}), item["ss"]);
  EXPECT_EQ(NS({1, 2, 3}), item["ns"]);
  EXPECT_EQ(BS({"\x01", "\x02"}), item["bs"]);
  EXPECT_EQ(SS({"b", "c"}), item["newset"]);

  auto remove = UpdateExpression::Parse("DELETE ss :ssa, ns :ns12, bs :bs1, absent :ssa", attrs);
  ASSERT_TRUE(remove.ok()) << remove.status().ToString();
  ASSERT_TRUE(remove->Apply(&item).ok());
  EXPECT_EQ(SS({"b", "c"}), item["ss"]);  // "zz" was never there: fine
  EXPECT_EQ(NS({3}), item["ns"]);
  EXPECT_EQ(BS({"\x02"}), item["bs"]);
  EXPECT_FALSE(item.contains("absent"));

  // Deleting every element removes the attribute: DynamoDB has no empty sets.
  auto empty = UpdateExpression::Parse("DELETE ns :ns, bs :bs", attrs);
  ASSERT_TRUE(empty.ok());
  ASSERT_TRUE(empty->Apply(&item).ok());
  EXPECT_FALSE(item.contains("ns"));
  EXPECT_FALSE(item.contains("bs"));
  EXPECT_EQ(SS({"b", "c"}), item["ss"]);
}

TEST(UpdateApplyTest, DeleteNestedSets) {
  Item item = {{"m", M({{"tags", SS({"a", "b"})}})}, {"l", L({SS({"a"}), SS({"a", "b"}), N(1)})}};
  ExpressionAttributes attrs({}, {{":a", SS({"a"})}, {":one", N(1)}});
  auto update = UpdateExpression::Parse("DELETE m.tags :a, l[0] :a, l[1] :a", attrs);
  ASSERT_TRUE(update.ok());
  ASSERT_TRUE(update->Apply(&item).ok());
  EXPECT_EQ(M({{"tags", SS({"b"})}}), item["m"]);
  // l[0] became empty and went; l[1] was reached by its original index.
  EXPECT_EQ(L({SS({"b"}), N(1)}), item["l"]);
}

TEST(UpdateApplyTest, NumberOverflowLeavesItemUnchanged) {
  Item item = {{"big", Nd("9.9999999999999999999999999999999999999E+125")}, {"a", N(1)}};
  const Item before = item;
  ExpressionAttributes attrs({}, {{":big", Nd("9.9999999999999999999999999999999999999E+125")},
                                  {":one", N(1)},
                                  {":tiny", Nd("1E-130")}});
  for (const char* text : {"SET a = big + :big", "ADD big :big", "SET a = :one, b = big + :big",
                           "SET a = :tiny + :big"}) {
    auto update = UpdateExpression::Parse(text, attrs);
    ASSERT_TRUE(update.ok()) << text;
    Status status = update->Apply(&item);
    EXPECT_EQ(StatusCode::kInvalidArgument, status.code()) << text;
    EXPECT_EQ(before, item) << text;
  }
}

TEST(UpdateApplyTest, FailureLeavesItemAndSharedValuesUnchanged) {
  Item item = SampleItem();
  const Item before = item;
  // The first actions succeed on the copy, the last one fails.
  EXPECT_EQ("The document path provided in the update expression is invalid for update",
            Update("SET m.b.c = :one, l[2].k = :two, m.nums[0] = :three ADD n :one, ss :ss "
                   "REMOVE m.a, s.x",
                   &item)
                .message());
  EXPECT_EQ(before, item);
  // A successful update does not reach copies made before it (copy-on-write).
  Item copy = item;
  ASSERT_TRUE(Update("SET m.b.c = :one, l[2].k = :two, m.nums[0] = :three REMOVE m.a", &item).ok());
  EXPECT_EQ(before, copy);
  EXPECT_NE(before, item);
  EXPECT_EQ(N(1), *FindPath(item, {Name("m"), Name("b"), Name("c")}));
}

TEST(UpdateApplyTest, EveryActionTogether) {
  Item item = {{"pk", S("k")},
               {"n", N(1)},
               {"stale", S("x")},
               {"tags", SS({"a", "b"})},
               {"l", L({N(1), N(2)})}};
  ExpressionAttributes attrs({{"#t", "tags"}}, {{":one", N(1)}, {":b", SS({"b"})}, {":v", S("v")}});
  auto update = UpdateExpression::Parse(
      "SET l[0] = n, fresh = :v REMOVE stale, l[1] ADD n :one DELETE #t :b", attrs);
  ASSERT_TRUE(update.ok()) << update.status().ToString();
  ASSERT_TRUE(update->Apply(&item).ok());
  EXPECT_EQ(
      (Item{{"pk", S("k")}, {"n", N(2)}, {"tags", SS({"a"})}, {"l", L({N(1)})}, {"fresh", S("v")}}),
      item);
  EXPECT_TRUE(attrs.CheckAllUsed().ok());
}

// --- Key conditions ----------------------------------------------------------------

struct KeyCase {
  const char* text;
  KeyCondition::SortOp op;
  AV value;
  AV value2;
};

TEST(KeyConditionTest, ValidForms) {
  const std::vector<KeyCase> cases = {
      {"pk = :pk", KeyCondition::SortOp::kNone, AV(), AV()},
      {":pk = pk", KeyCondition::SortOp::kNone, AV(), AV()},
      {"#pk = :pk", KeyCondition::SortOp::kNone, AV(), AV()},
      {"(pk = :pk)", KeyCondition::SortOp::kNone, AV(), AV()},
      {"pk = :pk AND sk = :a", KeyCondition::SortOp::kEq, S("a"), AV()},
      {"pk = :pk AND sk < :a", KeyCondition::SortOp::kLt, S("a"), AV()},
      {"pk = :pk AND sk <= :a", KeyCondition::SortOp::kLe, S("a"), AV()},
      {"pk = :pk AND sk > :a", KeyCondition::SortOp::kGt, S("a"), AV()},
      {"pk = :pk AND sk >= :a", KeyCondition::SortOp::kGe, S("a"), AV()},
      {"pk = :pk AND :a < sk", KeyCondition::SortOp::kGt, S("a"), AV()},
      {"pk = :pk AND :a >= sk", KeyCondition::SortOp::kLe, S("a"), AV()},
      {"pk = :pk AND sk BETWEEN :a AND :z", KeyCondition::SortOp::kBetween, S("a"), S("z")},
      {"pk = :pk AND begins_with(sk, :a)", KeyCondition::SortOp::kBeginsWith, S("a"), AV()},
      {"sk = :a AND pk = :pk", KeyCondition::SortOp::kEq, S("a"), AV()},
      {"begins_with(#sk, :a) and #pk = :pk", KeyCondition::SortOp::kBeginsWith, S("a"), AV()},
      {"(pk = :pk) AND (sk BETWEEN :a AND :z)", KeyCondition::SortOp::kBetween, S("a"), S("z")},
  };
  for (const KeyCase& c : cases) {
    ExpressionAttributes attrs({{"#pk", "pk"}, {"#sk", "sk"}},
                               {{":pk", S("user#1")}, {":a", S("a")}, {":z", S("z")}});
    Result<KeyCondition> key = KeyCondition::Parse(c.text, attrs, "pk", "sk");
    ASSERT_TRUE(key.ok()) << c.text << ": " << key.status().ToString();
    EXPECT_EQ("pk", key->partition_key_name) << c.text;
    EXPECT_EQ(S("user#1"), key->partition_value) << c.text;
    EXPECT_EQ(c.op, key->sort_op) << c.text;
    if (c.op != KeyCondition::SortOp::kNone) {
      EXPECT_EQ("sk", key->sort_key_name) << c.text;
      EXPECT_EQ(c.value, key->sort_value) << c.text;
      EXPECT_EQ(c.value2, key->sort_value2) << c.text;
    }
  }
}

TEST(KeyConditionTest, TableWithoutSortKey) {
  ExpressionAttributes attrs({}, {{":pk", N(5)}, {":a", S("a")}});
  auto key = KeyCondition::Parse("id = :pk", attrs, "id", "");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ("id", key->partition_key_name);
  EXPECT_EQ(N(5), key->partition_value);
  EXPECT_EQ(KeyCondition::SortOp::kNone, key->sort_op);
  EXPECT_EQ("Query key condition not supported",
            KeyCondition::Parse("id = :pk AND sk = :a", attrs, "id", "").status().message());
}

TEST(KeyConditionTest, InvalidForms) {
  const std::vector<ErrorCase> cases = {
      {"", "Invalid KeyConditionExpression: The expression can not be empty;"},
      {"pk = ", "Invalid KeyConditionExpression: Syntax error; token: \"<EOF>\", near: \"= \""},
      {"sk = :a", "Query condition missed key schema element: pk"},
      {"begins_with(sk, :a)", "Query condition missed key schema element: pk"},
      {"nonkey = :a", "Query condition missed key schema element: pk"},
      {"pk = :pk AND nonkey = :a", "Query condition missed key schema element: sk"},
      {"pk = :pk AND sk = :a AND nonkey = :a", "Query key condition not supported"},
      {"pk < :pk", "Query key condition not supported"},
      {"pk BETWEEN :a AND :z", "Query key condition not supported"},
      {"begins_with(pk, :a)", "Query key condition not supported"},
      {"pk = :pk AND sk = nonkey", "Query key condition not supported"},
      {"pk = sk", "Query key condition not supported"},
      {"pk = :pk AND size(sk) > :n", "Query key condition not supported"},
      {"pk = :pk AND sk.x = :a", "Query key condition not supported"},
      {"pk = :pk AND sk[0] = :a", "Query key condition not supported"},
      {"pk = :pk OR sk = :a", "Invalid operator used in KeyConditionExpression: OR"},
      {"NOT pk = :pk", "Invalid operator used in KeyConditionExpression: NOT"},
      {"pk <> :pk", "Invalid operator used in KeyConditionExpression: <>"},
      {"pk IN (:pk)", "Invalid operator used in KeyConditionExpression: IN"},
      {"pk = :pk AND attribute_exists(sk)",
       "Invalid operator used in KeyConditionExpression: attribute_exists"},
      {"pk = :pk AND attribute_not_exists(sk)",
       "Invalid operator used in KeyConditionExpression: attribute_not_exists"},
      {"pk = :pk AND contains(sk, :a)",
       "Invalid operator used in KeyConditionExpression: contains"},
      {"pk = :pk AND attribute_type(sk, :S)",
       "Invalid operator used in KeyConditionExpression: attribute_type"},
      {"pk = :pk AND pk = :pk", "KeyConditionExpressions must only contain one condition per key"},
      {"pk = :pk AND sk > :a AND sk < :z",
       "KeyConditionExpressions must only contain one condition per key"},
      {"pk = :pk AND begins_with(sk, :n)",
       "Invalid KeyConditionExpression: Incorrect operand type for operator or function; "
       "operator or function: begins_with, operand type: N"},
      {"pk = :pk AND sk BETWEEN :z AND :a",
       "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater "
       "than or equal to lower bound; lower bound operand: AttributeValue: {S:z}, upper bound "
       "operand: AttributeValue: {S:a}"},
      {"status = :pk",
       "Invalid KeyConditionExpression: Attribute name is a reserved keyword; reserved keyword: "
       "status"},
      {"pk = :pk AND sk = :undefined",
       "Invalid KeyConditionExpression: An expression attribute value used in expression is not "
       "defined; attribute value: :undefined"},
  };
  for (const ErrorCase& c : cases) {
    ExpressionAttributes attrs(
        {}, {{":pk", S("user#1")}, {":a", S("a")}, {":z", S("z")}, {":n", N(1)}, {":S", S("S")}});
    Result<KeyCondition> key = KeyCondition::Parse(c.text, attrs, "pk", "sk");
    ASSERT_FALSE(key.ok()) << c.text;
    EXPECT_EQ(StatusCode::kInvalidArgument, key.status().code()) << c.text;
    EXPECT_EQ(c.message, key.status().message()) << c.text;
  }
}

// --- Projections ---------------------------------------------------------------

TEST(ProjectionTest, TopLevelAndNested) {
  const Item item = SampleItem();
  EXPECT_EQ((Item{{"s", S("hello world")}, {"n", N(42)}}), Project("s, n", item));
  EXPECT_EQ((Item{{"s", S("hello world")}}), Project("s, absent", item));
  EXPECT_EQ((Item{}), Project("absent", item));
  EXPECT_EQ((Item{{"m", M({{"b", M({{"c", S("deep")}})}})}}), Project("m.b.c", item));
  EXPECT_EQ((Item{{"m", M({{"a", N(1)}, {"b", M({{"c", S("deep")}})}})}}),
            Project("m.b, m.a", item));
  EXPECT_EQ((Item{{"m", item.at("m")}}), Project("#m", item));
  EXPECT_EQ((Item{{"m", M({{"emptymap", M({})}})}}), Project("m.emptymap", item));
}

TEST(ProjectionTest, ListElementsKeepTheirRelativeOrder) {
  const Item item = SampleItem();
  EXPECT_EQ((Item{{"m", M({{"nums", L({N(20)})}})}}), Project("m.nums[1]", item));
  EXPECT_EQ((Item{{"m", M({{"nums", L({N(10), N(30)})}})}}), Project("m.nums[2], m.nums[0]", item));
  EXPECT_EQ((Item{{"m", M({{"nums", L({N(30)})}})}}), Project("m.nums[9], m.nums[2]", item));
  EXPECT_EQ((Item{{"l", L({M({{"k", S("v")}}), L({N(7)})})}}), Project("l[3][0], l[2].k", item));
  // a.b[1] returns {a: {b: [elem1]}}.
  Item doc = {{"a", M({{"b", L({S("e0"), S("e1"), S("e2")})}, {"c", N(1)}})}};
  EXPECT_EQ((Item{{"a", M({{"b", L({S("e1")})}})}}), Project("a.b[1]", doc));
}

TEST(ProjectionTest, StepsOfTheWrongTypeSelectNothing) {
  const Item item = SampleItem();
  EXPECT_EQ((Item{}), Project("s.x", item));
  EXPECT_EQ((Item{}), Project("s[0]", item));
  EXPECT_EQ((Item{}), Project("m[0]", item));
  EXPECT_EQ((Item{}), Project("l.k", item));
  EXPECT_EQ((Item{}), Project("m.absent.x, m.nums[5]", item));
}

TEST(ProjectionTest, Errors) {
  const std::vector<ErrorCase> cases = {
      {"", "Invalid ProjectionExpression: The expression can not be empty;"},
      {"a,", "Invalid ProjectionExpression: Syntax error; token: \"<EOF>\", near: \",\""},
      {",a", "Invalid ProjectionExpression: Syntax error; token: \",\", near: \",a\""},
      {"a b", "Invalid ProjectionExpression: Syntax error; token: \"b\", near: \"a b\""},
      {"a, :v", "Invalid ProjectionExpression: Syntax error; token: \":v\", near: \", :v\""},
      {"size(a)", "Invalid ProjectionExpression: Syntax error; token: \"(\", near: \"size(a\""},
      {"status",
       "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: "
       "status"},
      {"a.Name",
       "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: "
       "Name"},
      {"a, a",
       "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or "
       "rewrite one of these paths; path one: [a], path two: [a]"},
      {"a.b, a",
       "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or "
       "rewrite one of these paths; path one: [a, b], path two: [a]"},
      {"a.b, a[0]",
       "Invalid ProjectionExpression: Two document paths conflict with each other; must remove or "
       "rewrite one of these paths; path one: [a, b], path two: [a, [0]]"},
  };
  for (const ErrorCase& c : cases) EXPECT_EQ(c.message, ProjectionError(c.text)) << c.text;
  // Reserved words are fine through placeholders.
  EXPECT_EQ("OK", ProjectionError("#status, #s, m.#n"));
  std::string path32 = "a" + Repeat(".b", 31, "");
  EXPECT_EQ("OK", ProjectionError(path32));
  EXPECT_EQ(
      "Invalid ProjectionExpression: The document path has too many nesting levels; nesting "
      "levels: 33",
      ProjectionError(path32 + "[1]"));
  std::string big = Repeat("a", 2048, "") + "," + Repeat("b", 2047, "");
  ASSERT_EQ(4096u, big.size());
  EXPECT_EQ("OK", ProjectionError(big));
  EXPECT_EQ(
      "Invalid ProjectionExpression: Expression size has exceeded the maximum allowed size; "
      "expression size: 4097",
      ProjectionError(big + "b"));
}

TEST(ProjectionTest, ProjectPathsForReturnValues) {
  Item item = SampleItem();
  ExpressionAttributes attrs = Attrs();
  auto update = UpdateExpression::Parse("SET m.b.c = :one, m.nums[1] = :two ADD n :one", attrs);
  ASSERT_TRUE(update.ok());
  const Item old_values = ProjectPaths(item, update->updated_paths());
  ASSERT_TRUE(update->Apply(&item).ok());
  const Item new_values = ProjectPaths(item, update->updated_paths());
  EXPECT_EQ((Item{{"m", M({{"b", M({{"c", S("deep")}})}, {"nums", L({N(20)})}})}, {"n", N(42)}}),
            old_values);
  EXPECT_EQ((Item{{"m", M({{"b", M({{"c", N(1)}})}, {"nums", L({N(2)})}})}, {"n", N(43)}}),
            new_values);
  // Overlapping paths given directly: the shorter one wins.
  EXPECT_EQ((Item{{"m", item.at("m")}}), ProjectPaths(item, {{Name("m"), Name("a")}, {Name("m")}}));
}

// --- Robustness ----------------------------------------------------------------

// Runs every parser on `text` and every parsed expression on sample items;
// counts successful parses in `*parsed`.
void Exercise(const std::string& text, int* parsed) {
  static const Item item = SampleItem();
  ExpressionAttributes attrs = Attrs();
  if (auto condition = ConditionExpression::Parse(text, attrs); condition.ok()) {
    ++*parsed;
    condition->Evaluate(&item);
    condition->Evaluate(nullptr);
  }
  if (auto update = UpdateExpression::Parse(text, attrs); update.ok()) {
    ++*parsed;
    Item copy = item;
    update->Apply(&copy).IgnoreError();
    Item none;
    update->Apply(&none).IgnoreError();
    ProjectPaths(copy, update->updated_paths());
  }
  if (auto projection = ProjectionExpression::Parse(text, attrs); projection.ok()) {
    ++*parsed;
    projection->Apply(item);
  }
  if (KeyCondition::Parse(text, attrs, "pk", "sk").ok()) ++*parsed;
}

TEST(RobustnessTest, RandomTokensNeverCrash) {
  const std::vector<std::string> pieces = {"a",
                                           "b",
                                           "m",
                                           ".",
                                           "[",
                                           "]",
                                           "0",
                                           "7",
                                           "(",
                                           ")",
                                           ",",
                                           "=",
                                           "<>",
                                           "<",
                                           "<=",
                                           ">",
                                           ">=",
                                           "+",
                                           "-",
                                           "AND",
                                           "OR",
                                           "NOT",
                                           "IN",
                                           "BETWEEN",
                                           "SET",
                                           "REMOVE",
                                           "ADD",
                                           "DELETE",
                                           ":n",
                                           ":s",
                                           ":ss",
                                           ":l",
                                           "#m",
                                           "#undefined",
                                           ":undefined",
                                           "size",
                                           "contains",
                                           "begins_with",
                                           "attribute_exists",
                                           "attribute_type",
                                           "list_append",
                                           "if_not_exists",
                                           "status",
                                           " ",
                                           "\xc3",
                                           "\xff",
                                           "#",
                                           ":",
                                           "_",
                                           "99999999999999999999999"};
  std::mt19937 random(12345);
  int parsed = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const int length = static_cast<int>(random() % 24);
    for (int i = 0; i < length; ++i) {
      text += pieces[random() % pieces.size()];
      if (random() % 2) text += " ";
    }
    Exercise(text, &parsed);
  }
  EXPECT_GT(parsed, 0);
}

TEST(RobustnessTest, MutatedExpressionsNeverCrash) {
  const std::vector<std::string> seeds = {
      "n BETWEEN :one AND :n AND (contains(ss, :apple) OR NOT size(s) = :eleven)",
      "attribute_type(m.b, :M) AND begins_with(l[0], :x) AND n IN (:one, :n, m.a)",
      "SET m.b.c = if_not_exists(m.b.c, :one) + :two, l[5] = list_append(l, :l) REMOVE m.a, "
      "l[0] ADD n :one, ss :ss DELETE ns :ns",
      "SET #m.nums[1] = :ten - m.nums[0], a = (b + :one) REMOVE #s",
      "pk = :s AND begins_with(sk, :hello)",
      "s, m.b.c, l[2].k, m.nums[0], #m.nums[2]",
  };
  const std::string alphabet = "abmnsl.[]0179(),=<>+-:#_ \t\xc3\xff";
  std::mt19937 random(4242);
  int parsed = 0;
  for (int round = 0; round < 30000; ++round) {
    std::string text = seeds[random() % seeds.size()];
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const size_t at = random() % text.size();
      switch (random() % 4) {
        case 0:
          text.erase(at, 1 + random() % 6);
          break;
        case 1:
          text.insert(at, 1, alphabet[random() % alphabet.size()]);
          break;
        case 2:
          text[at] = alphabet[random() % alphabet.size()];
          break;
        case 3: {  // duplicate a slice, to grow nesting and lists
          const size_t length = std::min<size_t>(text.size() - at, 1 + random() % 20);
          text.insert(at, text.substr(at, length));
          break;
        }
      }
    }
    Exercise(text, &parsed);
  }
  // Some mutations keep the text valid: the evaluators really ran.
  EXPECT_GT(parsed, 1000);
}

TEST(RobustnessTest, HugeIndexesAndBinaryText) {
  const Item item = SampleItem();
  EXPECT_EQ("OK", ConditionError("l[9223372036854775807] = :n"));
  EXPECT_FALSE(Eval("l[9223372036854775807] = :n", &item));
  EXPECT_EQ(
      "Invalid ConditionExpression: Syntax error; token: \"9223372036854775808\", near: "
      "\"[9223372036854775808]\"",
      ConditionError("l[9223372036854775808] = :n"));
  Item copy = item;
  ASSERT_TRUE(Update("SET l[9223372036854775807] = :n", &copy).ok());
  EXPECT_EQ(N(42), copy["l"].l().back());
  ASSERT_TRUE(Update("REMOVE l[9223372036854775807]", &copy).ok());
  const std::string nul(1, '\0');
  EXPECT_EQ(
      "Invalid ConditionExpression: Syntax error; token: \"" + nul + "\", near: \":s" + nul + "\"",
      ConditionError("s = :s" + nul));
}

}  // namespace
}  // namespace keystone::store
