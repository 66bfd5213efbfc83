// PartiQL statements become the requests of the operations that do the same
// work: which operation, which key condition, filter, key and placeholders.
// What the statements then do to items is dynamodb_api_test's part.

#include "daemon/partiql.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

namespace keystone::daemon {
namespace {

// Table "t": pk (partition) and sk (sort); its index "byyear": year, sk.
// Table "h": partition key id only.
Result<PartiqlKeys> Keys(const std::string& table, const std::string& index) {
  if (table == "t" && index.empty()) return PartiqlKeys{"pk", "sk"};
  if (table == "t" && index == "byyear") return PartiqlKeys{"year", "sk"};
  if (table == "h" && index.empty()) return PartiqlKeys{"id", ""};
  return NotFound("no table " + table);
}

std::string Json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> out(buffer);
  v.Accept(out);
  return buffer.GetString();
}

std::string Member(const PartiqlPlan& plan, const char* name) {
  if (!plan.request.HasMember(name)) return "";
  const rapidjson::Value& v = plan.request[name];
  return v.IsString() ? v.GetString() : Json(v);
}

PartiqlPlan Plan(std::string_view statement, std::string_view parameters = "") {
  rapidjson::Document params;
  if (!parameters.empty()) params.Parse(parameters.data(), parameters.size());
  Result<PartiqlPlan> plan =
      TranslatePartiql(statement, parameters.empty() ? nullptr : &params, Keys);
  EXPECT_TRUE(plan.ok()) << statement << ": " << plan.status().ToString();
  if (!plan.ok()) return PartiqlPlan{};
  return std::move(plan).value();
}

Status Error(std::string_view statement, std::string_view parameters = "") {
  rapidjson::Document params;
  if (!parameters.empty()) params.Parse(parameters.data(), parameters.size());
  Result<PartiqlPlan> plan =
      TranslatePartiql(statement, parameters.empty() ? nullptr : &params, Keys);
  EXPECT_FALSE(plan.ok()) << statement << " was accepted as " << plan->operation;
  return plan.ok() ? Status::Ok() : plan.status();
}

TEST(PartiqlTest, SelectWithoutAPartitionKeyEqualityIsAScan) {
  PartiqlPlan all = Plan("SELECT * FROM t");
  EXPECT_EQ("Scan", all.operation);
  EXPECT_EQ(R"({"TableName":"t"})", Json(all.request));

  PartiqlPlan filtered = Plan("select a, b.c[2] from \"t\" where a > 5 or pk = 'x'");
  EXPECT_EQ("Scan", filtered.operation);
  EXPECT_EQ("#n0 > :v0 OR #n3 = :v1", Member(filtered, "FilterExpression"));
  EXPECT_EQ("#n0, #n1.#n2[2]", Member(filtered, "ProjectionExpression"));
  EXPECT_EQ(R"({"#n0":"a","#n1":"b","#n2":"c","#n3":"pk"})",
            Member(filtered, "ExpressionAttributeNames"));
  EXPECT_EQ(R"({":v0":{"N":"5"},":v1":{"S":"x"}})", Member(filtered, "ExpressionAttributeValues"));

  // A key condition on the partition key that is not an equality.
  EXPECT_EQ("Scan", Plan("SELECT * FROM t WHERE pk > 'a'").operation);
}

TEST(PartiqlTest, SelectWithAPartitionKeyEqualityIsAQuery) {
  PartiqlPlan q =
      Plan("SELECT * FROM t WHERE a = 1 AND pk = ? AND sk BETWEEN 1 AND 9", R"([{"S":"p"}])");
  EXPECT_EQ("Query", q.operation);
  EXPECT_EQ("#n1 = :v1 AND #n2 BETWEEN :v2 AND :v3", Member(q, "KeyConditionExpression"));
  EXPECT_EQ("#n0 = :v0", Member(q, "FilterExpression"));
  EXPECT_EQ(R"({":v0":{"N":"1"},":v1":{"S":"p"},":v2":{"N":"1"},":v3":{"N":"9"}})",
            Member(q, "ExpressionAttributeValues"));

  PartiqlPlan prefix = Plan("SELECT * FROM t WHERE pk = 'p' AND begins_with(sk, 'x')");
  EXPECT_EQ("Query", prefix.operation);
  EXPECT_EQ("#n0 = :v0 AND begins_with(#n1, :v1)", Member(prefix, "KeyConditionExpression"));
  EXPECT_EQ("", Member(prefix, "FilterExpression"));

  // An index: its own keys make the key condition.
  PartiqlPlan index = Plan("SELECT * FROM t.\"byyear\" WHERE \"year\" = 1999 AND sk < 3");
  EXPECT_EQ("Query", index.operation);
  EXPECT_EQ("byyear", Member(index, "IndexName"));
  EXPECT_EQ("#n0 = :v0 AND #n1 < :v1", Member(index, "KeyConditionExpression"));

  // ORDER BY the sort key: the Query's direction.
  PartiqlPlan backwards = Plan("SELECT * FROM t WHERE pk = 'p' ORDER BY sk DESC");
  EXPECT_EQ("Query", backwards.operation);
  EXPECT_EQ("false", Member(backwards, "ScanIndexForward"));
  EXPECT_EQ("", Member(Plan("SELECT * FROM t WHERE pk = 'p' ORDER BY sk ASC"), "ScanIndexForward"));

  // A second condition on a key cannot be a Query's filter: a Scan then.
  PartiqlPlan two = Plan("SELECT * FROM t WHERE pk = 'p' AND sk > 1 AND sk < 5");
  EXPECT_EQ("Scan", two.operation);
  EXPECT_EQ("#n0 = :v0 AND #n1 > :v1 AND #n1 < :v2", Member(two, "FilterExpression"));
  // So is a condition on the table's key in an index query.
  EXPECT_EQ("Scan", Plan("SELECT * FROM t.byyear WHERE \"year\" = 1 AND pk = 'x'").operation);
}

TEST(PartiqlTest, ConditionsTranslate) {
  PartiqlPlan p = Plan(
      "SELECT * FROM t WHERE NOT (a <> 1 AND b != 2) AND c IN [1, 2] AND d IN ('x') AND "
      "e IS MISSING AND f IS NOT MISSING AND g IS NULL AND h IS NOT NULL AND "
      "contains(i, 'z') AND size(j) >= 3 AND attribute_type(k, 'S')");
  EXPECT_EQ(
      "(NOT (#n0 <> :v0 AND #n1 <> :v1)) AND #n2 IN (:v2, :v3) AND #n3 IN (:v4) AND "
      "attribute_not_exists(#n4) AND attribute_exists(#n5) AND attribute_type(#n6, :v5) AND "
      "(NOT attribute_type(#n7, :v6)) AND contains(#n8, :v7) AND size(#n9) >= :v8 AND "
      "attribute_type(#n10, :v9)",
      Member(p, "FilterExpression"));
  EXPECT_EQ(R"({"S":"NULL"})", Json(p.request["ExpressionAttributeValues"][":v5"]));
}

TEST(PartiqlTest, LiteralsBecomeAttributeValues) {
  PartiqlPlan p = Plan(
      "INSERT INTO t VALUE {'pk': 'it''s', 'sk': -1.5e3, 'b': TRUE, 'f': false, 'n': NULL, "
      "'l': [1, 'two', [], {}], 'ss': <<'a', 'b'>>, 'ns': <<1, 2>>, 'p': ?}",
      R"([{"B":"AAE="}])");
  EXPECT_EQ("PutItem", p.operation);
  EXPECT_EQ(R"({"pk":{"S":"it's"},"sk":{"N":"-1.5e3"},"b":{"BOOL":true},"f":{"BOOL":false},)"
            R"("n":{"NULL":true},"l":{"L":[{"N":"1"},{"S":"two"},{"L":[]},{"M":{}}]},)"
            R"("ss":{"SS":["a","b"]},"ns":{"NS":["1","2"]},"p":{"B":"AAE="}})",
            Member(p, "Item"));
  EXPECT_EQ("attribute_not_exists(#n0)", Member(p, "ConditionExpression"));
  EXPECT_EQ(R"({"#n0":"pk"})", Member(p, "ExpressionAttributeNames"));
  EXPECT_EQ("", Member(p, "ExpressionAttributeValues"));

  PartiqlPlan whole = Plan("INSERT INTO h VALUE ?;", R"([{"M":{"id":{"S":"1"}}}])");
  EXPECT_EQ(R"({"id":{"S":"1"}})", Member(whole, "Item"));
}

TEST(PartiqlTest, UpdateAndDeleteNameTheKeyByEqualities) {
  PartiqlPlan u = Plan(
      "UPDATE t SET a = a + 1, b.c = list_append(b.c, [3]) SET d = 'x' REMOVE e, f[0] "
      "WHERE sk = 2 AND pk = 'p' AND a < 10");
  EXPECT_EQ("UpdateItem", u.operation);
  EXPECT_EQ(R"({"pk":{"S":"p"},"sk":{"N":"2"}})", Member(u, "Key"));
  EXPECT_EQ(
      "SET #n0 = #n0 + :v0, #n1.#n2 = list_append(#n1.#n2, :v1), #n3 = :v2 REMOVE #n4, #n5[0]",
      Member(u, "UpdateExpression"));
  EXPECT_EQ("attribute_exists(#n7) AND (#n0 < :v5)", Member(u, "ConditionExpression"));
  // The key's values and names are in Key, not among the placeholders.
  EXPECT_EQ(R"({":v0":{"N":"1"},":v1":{"L":[{"N":"3"}]},":v2":{"S":"x"},":v5":{"N":"10"}})",
            Member(u, "ExpressionAttributeValues"));
  EXPECT_EQ(R"({"#n0":"a","#n1":"b","#n2":"c","#n3":"d","#n4":"e","#n5":"f","#n7":"pk"})",
            Member(u, "ExpressionAttributeNames"));

  // set_add and set_delete are ADD and DELETE.
  EXPECT_EQ("SET #n1 = :v1 ADD #n0 :v0 DELETE #n2 :v2",
            Member(Plan("UPDATE h SET a = set_add(a, <<'x'>>) SET b = 1, c = set_delete(c, <<2>>) "
                        "WHERE id = 1"),
                   "UpdateExpression"));
  EXPECT_EQ("set_add takes the attribute being set and a set value: a = set_add(a, <<...>>)",
            Error("UPDATE h SET a = set_add(b, <<'x'>>) WHERE id = 1").message());

  // RETURNING is the write's ReturnValues.
  EXPECT_EQ("ALL_NEW",
            Member(Plan("UPDATE h SET a = 1 WHERE id = 1 RETURNING ALL NEW *"), "ReturnValues"));
  EXPECT_EQ("UPDATED_OLD", Member(Plan("UPDATE h SET a = 1 WHERE id = 1 returning modified old *"),
                                  "ReturnValues"));
  EXPECT_EQ("ALL_OLD",
            Member(Plan("DELETE FROM h WHERE id = 1 RETURNING ALL OLD *"), "ReturnValues"));

  // EXISTS: a ConditionCheck on the item, that it exists and meets the rest.
  PartiqlPlan check = Plan("EXISTS(SELECT * FROM t WHERE pk = 'p' AND sk = 1 AND a > 0)");
  EXPECT_EQ(PartiqlPlan::Kind::kExists, check.kind);
  EXPECT_EQ(R"({"TableName":"t","Key":{"pk":{"S":"p"},"sk":{"N":"1"}},)"
            R"j("ConditionExpression":"attribute_exists(#n0) AND (#n2 > :v2)",)j"
            R"("ExpressionAttributeNames":{"#n2":"a","#n0":"pk"},)"
            R"("ExpressionAttributeValues":{":v2":{"N":"0"}}})",
            Json(check.request));
  EXPECT_EQ("Where clause does not contain a mandatory equality on all key attributes",
            Error("EXISTS(SELECT * FROM t WHERE pk = 'p')").message());

  PartiqlPlan d = Plan("DELETE FROM h WHERE id = 7");
  EXPECT_EQ("DeleteItem", d.operation);
  EXPECT_EQ(R"({"TableName":"h","Key":{"id":{"N":"7"}}})", Json(d.request));

  EXPECT_EQ("Where clause does not contain a mandatory equality on all key attributes",
            Error("DELETE FROM t WHERE pk = 'p'").message());
  EXPECT_EQ("Where clause does not contain a mandatory equality on all key attributes",
            Error("UPDATE h SET a = 1 WHERE id = 1 OR id = 2").message());
  EXPECT_EQ("Where clause does not contain a mandatory equality on all key attributes",
            Error("UPDATE h SET a = 1 WHERE id > 1").message());
}

TEST(PartiqlTest, ASelectOfOneItemAlsoHasItsGetItem) {
  PartiqlPlan one = Plan("SELECT a FROM t WHERE sk = 1 AND pk = 'p'");
  EXPECT_EQ(R"({"TableName":"t","Key":{"pk":{"S":"p"},"sk":{"N":"1"}},)"
            R"("ProjectionExpression":"#n0","ExpressionAttributeNames":{"#n0":"a"}})",
            Json(one.get_request));
  // Anything beyond the key's equalities, or a part of the key missing, or an
  // index: no single item.
  EXPECT_TRUE(Plan("SELECT * FROM t WHERE pk = 'p'").get_request.IsNull());
  EXPECT_TRUE(Plan("SELECT * FROM t WHERE pk = 'p' AND sk = 1 AND a = 2").get_request.IsNull());
  EXPECT_TRUE(Plan("SELECT * FROM t.byyear WHERE \"year\" = 1 AND sk = 1").get_request.IsNull());
  EXPECT_TRUE(Plan("SELECT * FROM t").get_request.IsNull());
  EXPECT_TRUE(Plan("DELETE FROM h WHERE id = 1").get_request.IsNull());
}

TEST(PartiqlTest, BadStatementsAreValidationErrors) {
  const std::string kMalformed = "Statement wasn't well formed, can't be processed: ";
  struct Case {
    std::string statement, parameters, message;
  };
  const Case cases[] = {
      {"", "", kMalformed + "the statement is empty"},
      {"UPSERT INTO t VALUE {}", "",
       kMalformed + "a statement starts with SELECT, INSERT, "
                    "UPDATE or DELETE, not 'UPSERT'"},
      {"SELECT * FROM", "", kMalformed + "unexpected end of statement"},
      {"SELECT * t", "", kMalformed + "expected from, found 't'"},
      {"SELECT * FROM t WHERE a = 'x", "", kMalformed + "unterminated string literal"},
      {"SELECT * FROM \"t WHERE", "", kMalformed + "unterminated quoted name"},
      {"SELECT * FROM t WHERE a = 1 b", "", kMalformed + "unexpected token 'b'"},
      {"SELECT * FROM t WHERE a # 1", "", kMalformed + "unexpected character '#'"},
      {"SELECT * FROM t WHERE a = 12abc", "", kMalformed + "invalid number literal"},
      {"SELECT * FROM t WHERE a IS 3", "", kMalformed + "expected MISSING or NULL after IS"},
      {"SELECT * FROM t WHERE a[x] = 1", "", kMalformed + "a list index must be a number"},
      {"SELECT * FROM t WHERE a", "", kMalformed + "unexpected end of statement"},
      {"SELECT * FROM t WHERE upper(a) = 'X'", "", "Unsupported function: upper"},
      {"SELECT * FROM t WHERE a = ?", "",
       "Number of parameters in request and statement don't "
       "match."},
      {"SELECT * FROM t WHERE a = ?", R"([{"S":"x"},{"S":"y"}])",
       "Number of parameters in request and statement don't match."},
      {"SELECT * FROM t WHERE a = ?", R"([{"S":"x","N":"1"}])",
       "Parameter 1 must be an AttributeValue with exactly one member"},
      {"INSERT INTO t VALUE [1]", "", "INSERT's VALUE must be a map (an item)"},
      {"INSERT INTO t VALUE {'a': <<1, 'x'>>}", "", "A set's elements must all be of one type"},
      {"INSERT INTO t VALUE {'a': <<[1]>>}", "",
       "A set's elements must be strings, numbers or binaries"},
      {"INSERT INTO t VALUE {'a': 1, 'a': 2}", "",
       kMalformed + "the map literal has the key 'a' twice"},
      {"INSERT INTO t VALUE {a: 1}", "", kMalformed + "a map's keys are 'quoted strings'"},
      {"UPDATE t WHERE pk = 'p' AND sk = 1", "", kMalformed + "UPDATE needs SET or REMOVE"},
      {"DELETE FROM h WHERE id = 1 RETURNING ALL NEW *", "", "DELETE can return only ALL OLD *"},
      {"UPDATE h SET a = 1 WHERE id = 1 RETURNING SOME OLD *", "",
       kMalformed + "expected modified, found 'SOME'"},
      {"UPDATE h SET a = 1 WHERE id = 1 RETURNING ALL OLD", "",
       kMalformed + "expected '*' before the end of the statement"},
      {"SELECT * FROM t ORDER BY sk", "",
       "ORDER BY needs a WHERE that fixes the partition key by an equality (a query), and orders "
       "by the sort key"},
      {"SELECT * FROM t WHERE pk = 'p' ORDER BY a", "",
       "ORDER BY needs a WHERE that fixes the partition key by an equality (a query), and orders "
       "by the sort key"},
      {"SELECT * FROM t WHERE pk = 'p' ORDER sk", "", kMalformed + "expected by, found 'sk'"},
  };
  for (const Case& c : cases) {
    Status s = Error(c.statement, c.parameters);
    EXPECT_EQ(StatusCode::kInvalidArgument, s.code()) << c.statement;
    EXPECT_EQ(c.message, s.message()) << c.statement;
  }
  // Nesting is bounded (no statement can exhaust the stack).
  EXPECT_EQ(kMalformed + "nesting deeper than 32 levels",
            Error("INSERT INTO t VALUE {'a': " + std::string(40, '[') + std::string(40, ']') + "}")
                .message());
  EXPECT_EQ(
      kMalformed + "nesting deeper than 32 levels",
      Error("SELECT * FROM t WHERE " + std::string(2000, '(') + "a = 1" + std::string(2000, ')'))
          .message());
  std::string nots;
  for (int i = 0; i < 100; ++i) nots += "NOT ";
  EXPECT_EQ(kMalformed + "nesting deeper than 32 levels",
            Error("SELECT * FROM t WHERE " + nots + "a = 1").message());
  EXPECT_TRUE(Plan("INSERT INTO t VALUE {'a': " + std::string(20, '[') + std::string(20, ']') + "}")
                  .request.IsObject());
  // The lookup's errors pass through.
  EXPECT_EQ(StatusCode::kNotFound, Error("SELECT * FROM nosuch").code());
}

}  // namespace
}  // namespace keystone::daemon
