// Secondary indexes of the item store: schema rules, maintenance by every
// kind of write, reads (Query and Scan of an index, pagination, projections,
// local-index fetches), UpdateTable's create and delete with the fill, and
// persistence.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lmdb_store/item_store.h"
#include "tests/lmdb_store/store_test_util.h"

namespace keystone::store {
namespace {

using testing::AV;
using testing::OpenStore;

// orders: pk order_id (S). Index by_customer: customer (S) + amount (N),
// KEYS_ONLY by default.
TableSchema OrdersSchema(ProjectionType projection = ProjectionType::kKeysOnly,
                         std::vector<std::string> include = {}) {
  TableSchema schema;
  schema.name = "orders";
  schema.partition_key = {"order_id", AttributeType::kS};
  schema.stream = {true, StreamViewType::kNewAndOldImages, kDefaultStreamBufferSize};
  SecondaryIndex index;
  index.name = "by_customer";
  index.partition_key = {"customer", AttributeType::kS};
  index.sort_key = KeyAttribute{"amount", AttributeType::kN};
  index.projection.type = projection;
  index.projection.non_key_attributes = std::move(include);
  schema.indexes.push_back(index);
  return schema;
}

Item Order(const std::string& id, const std::string& customer, int64_t amount,
           const std::string& note = "n") {
  return ItemBuilder()
      .S("order_id", id)
      .S("customer", customer)
      .N("amount", amount)
      .S("note", note)
      .N("qty", 1)
      .Build();
}

QueryRequest IndexQuery(const std::string& customer, const std::string& sort_condition = "",
                        std::map<std::string, AttributeValue> values = {}) {
  QueryRequest q;
  q.table = "orders";
  q.index_name = "by_customer";
  q.key_condition_expression = "customer = :c";
  if (!sort_condition.empty()) q.key_condition_expression += " AND " + sort_condition;
  q.expression.values = std::move(values);
  q.expression.values[":c"] = AV::S(customer);
  return q;
}

std::vector<std::string> Ids(const std::vector<Item>& items) {
  std::vector<std::string> ids;
  for (const Item& item : items) ids.push_back(item.at("order_id").s());
  return ids;
}

class IndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(dir_.path());
    ASSERT_NE(nullptr, store_);
  }

  std::vector<std::string> QueryIds(const QueryRequest& q) {
    auto result = store_->Query(q);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? Ids(result->items) : std::vector<std::string>{};
  }

  IndexDescription Describe(const std::string& table, const std::string& index) {
    auto d = store_->DescribeTable(table);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    if (d.ok()) {
      for (const IndexDescription& i : d->indexes) {
        if (i.name == index) return i;
      }
    }
    ADD_FAILURE() << "no index " << index;
    return {};
  }

  keystone::testing::TempDir dir_;
  std::unique_ptr<ItemStore> store_;
};

TEST(IndexSchemaTest, DynamoDbRulesAreEnforced) {
  struct Case {
    std::string what;
    std::function<void(TableSchema&)> change;
    std::string message_part;
  };
  auto lsi = [](TableSchema& s) {
    SecondaryIndex index;
    index.name = "local";
    index.global = false;
    index.partition_key = s.partition_key;
    index.sort_key = KeyAttribute{"other", AttributeType::kS};
    s.indexes.push_back(index);
  };
  std::vector<Case> cases = {
      {"short name", [](TableSchema& s) { s.indexes[0].name = "ab"; }, "at least 3 characters"},
      {"bad name", [](TableSchema& s) { s.indexes[0].name = "by customer"; }, "may contain only"},
      {"duplicate", [](TableSchema& s) { s.indexes.push_back(s.indexes[0]); },
       "Duplicate index name: by_customer"},
      {"same key twice",
       [](TableSchema& s) {
         s.indexes[0].sort_key = KeyAttribute{"customer", AttributeType::kS};
       },
       "must have different names"},
      {"key type conflicts with the table's",
       [](TableSchema& s) {
         s.indexes[0].partition_key = {"order_id", AttributeType::kN};
       },
       "attribute order_id is of type S"},
      {"key of a bad type",
       [](TableSchema& s) { s.indexes[0].sort_key->type = AttributeType::kBool; },
       "must be of type S, N or B"},
      {"INCLUDE without attributes",
       [](TableSchema& s) { s.indexes[0].projection.type = ProjectionType::kInclude; },
       "ProjectionType is INCLUDE, but NonKeyAttributes is not specified"},
      {"KEYS_ONLY with attributes",
       [](TableSchema& s) { s.indexes[0].projection.non_key_attributes = {"note"}; },
       "ProjectionType is KEYS_ONLY, but NonKeyAttributes is specified"},
      {"units on an on-demand table", [](TableSchema& s) { s.indexes[0].read_capacity_units = 5; },
       "ProvisionedThroughput should not be specified for index: by_customer"},
      {"no units on a provisioned table",
       [](TableSchema& s) {
         s.billing = {BillingMode::kProvisioned, 5, 5};
       },
       "ProvisionedThroughput must be specified for index: by_customer"},
      {"21 global indexes",
       [](TableSchema& s) {
         for (int i = 0; i < 20; ++i) {
           SecondaryIndex more = s.indexes[0];
           more.name = "index" + std::to_string(i);
           s.indexes.push_back(more);
         }
       },
       "GlobalSecondaryIndex count exceeds the per-table limit of 20"},
      {"101 INCLUDE attributes",
       [](TableSchema& s) {
         s.indexes[0].projection.type = ProjectionType::kInclude;
         for (int i = 0; i < 101; ++i) {
           s.indexes[0].projection.non_key_attributes.push_back("a" + std::to_string(i));
         }
       },
       "exceeds limit of 100, provided: 101"},
      {"local index on a table without a sort key", lsi, "does not have a range key"},
      {"local index with another partition key",
       [&](TableSchema& s) {
         s.sort_key = KeyAttribute{"at", AttributeType::kN};
         lsi(s);
         s.indexes.back().partition_key = {"customer", AttributeType::kS};
       },
       "does not have the same leading hash key"},
      {"local index without a sort key",
       [&](TableSchema& s) {
         s.sort_key = KeyAttribute{"at", AttributeType::kN};
         lsi(s);
         s.indexes.back().sort_key.reset();
       },
       "must have a range key"},
      {"6 local indexes",
       [&](TableSchema& s) {
         s.sort_key = KeyAttribute{"at", AttributeType::kN};
         for (int i = 0; i < 6; ++i) {
           lsi(s);
           s.indexes.back().name = "local" + std::to_string(i);
         }
       },
       "Number of LocalSecondaryIndexes exceeds per-table limit of 5"},
  };
  ASSERT_TRUE(ValidateTableSchema(OrdersSchema()).ok());
  for (const Case& c : cases) {
    TableSchema schema = OrdersSchema();
    c.change(schema);
    Status status = ValidateTableSchema(schema);
    EXPECT_EQ(StatusCode::kInvalidArgument, status.code()) << c.what;
    EXPECT_NE(std::string::npos, status.message().find(c.message_part))
        << c.what << ": " << status.message();
  }
  // A valid local index, and a provisioned table whose global index has units.
  TableSchema with_lsi = OrdersSchema();
  with_lsi.sort_key = KeyAttribute{"at", AttributeType::kN};
  lsi(with_lsi);
  EXPECT_TRUE(ValidateTableSchema(with_lsi).ok());
  TableSchema provisioned = OrdersSchema();
  provisioned.billing = {BillingMode::kProvisioned, 5, 5};
  provisioned.indexes[0].read_capacity_units = 2;
  provisioned.indexes[0].write_capacity_units = 3;
  EXPECT_TRUE(ValidateTableSchema(provisioned).ok());
}

TEST_F(IndexTest, WritesKeepAGlobalIndexAndItIsSparse) {
  ASSERT_TRUE(store_->CreateTable(OrdersSchema()).ok());
  ASSERT_TRUE(store_->Put("orders", Order("o1", "alice", 30)).ok());
  ASSERT_TRUE(store_->Put("orders", Order("o2", "alice", 10)).ok());
  ASSERT_TRUE(store_->Put("orders", Order("o3", "bob", 20)).ok());
  // No customer: not in the index.
  ASSERT_TRUE(store_->Put("orders", ItemBuilder().S("order_id", "o4").N("amount", 5).Build()).ok());

  EXPECT_EQ((std::vector<std::string>{"o2", "o1"}), QueryIds(IndexQuery("alice")));
  EXPECT_EQ((std::vector<std::string>{"o3"}), QueryIds(IndexQuery("bob")));
  // KEYS_ONLY: the table's and the index's keys, nothing else.
  auto result = store_->Query(IndexQuery("bob"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(ItemBuilder().S("order_id", "o3").S("customer", "bob").N("amount", 20).Build(),
            result->items.at(0));
  EXPECT_EQ(3u, Describe("orders", "by_customer").item_count);

  // An update that moves the item to another customer moves its entry.
  ASSERT_TRUE(store_
                  ->Update("orders", ItemBuilder().S("order_id", "o1").Build(), "SET customer = :c",
                           {{":c", AV::S("bob")}})
                  .ok());
  EXPECT_EQ((std::vector<std::string>{"o2"}), QueryIds(IndexQuery("alice")));
  EXPECT_EQ((std::vector<std::string>{"o3", "o1"}), QueryIds(IndexQuery("bob")));
  // One that removes an index key takes it out; one that adds it puts it in.
  ASSERT_TRUE(
      store_->Update("orders", ItemBuilder().S("order_id", "o3").Build(), "REMOVE amount").ok());
  ASSERT_TRUE(store_
                  ->Update("orders", ItemBuilder().S("order_id", "o4").Build(), "SET customer = :c",
                           {{":c", AV::S("alice")}})
                  .ok());
  EXPECT_EQ((std::vector<std::string>{"o4", "o2"}), QueryIds(IndexQuery("alice")));
  EXPECT_EQ((std::vector<std::string>{"o1"}), QueryIds(IndexQuery("bob")));
  // Deletes, a batch and a transaction.
  ASSERT_TRUE(store_->Delete("orders", ItemBuilder().S("order_id", "o2").Build()).ok());
  ASSERT_TRUE(store_
                  ->BatchWrite({{"orders", true, Order("o5", "carol", 7)},
                                {"orders", false, ItemBuilder().S("order_id", "o4").Build()}})
                  .ok());
  TransactWriteEntry put;
  put.kind = TransactWriteEntry::Kind::kPut;
  put.table = "orders";
  put.item = Order("o6", "carol", 3);
  ASSERT_TRUE(store_->TransactWrite({put}).ok());
  EXPECT_EQ((std::vector<std::string>{}), QueryIds(IndexQuery("alice")));
  EXPECT_EQ((std::vector<std::string>{"o6", "o5"}), QueryIds(IndexQuery("carol")));

  IndexDescription index = Describe("orders", "by_customer");
  EXPECT_EQ(3u, index.item_count);  // o1, o5, o6
  EXPECT_FALSE(index.backfilling);
  uint64_t expected_bytes = 0;
  for (std::string id : {"o1", "o5", "o6"}) {
    auto item = store_->Get("orders", ItemBuilder().S("order_id", id).Build());
    ASSERT_TRUE(item.ok() && item->has_value());
    expected_bytes += ItemSizeBytes(ItemBuilder()
                                        .S("order_id", id)
                                        .S("customer", (*item)->at("customer").s())
                                        .Set("amount", (*item)->at("amount"))
                                        .Build());
  }
  EXPECT_EQ(expected_bytes, index.size_bytes);
  // Index changes add no stream records: one per item write only.
  auto info = store_->GetStreamInfo("orders");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(11u, info->record_count);
}

TEST_F(IndexTest, SortKeyConditionsMatchABruteForceFilter) {
  ASSERT_TRUE(store_->CreateTable(OrdersSchema(ProjectionType::kAll)).ok());
  // Several orders share a amount, so entries with equal index keys exist.
  std::vector<Item> orders;
  for (int i = 0; i < 40; ++i) {
    Item order = Order("o" + std::to_string(100 + i), i % 3 == 0 ? "bob" : "alice", (i * 7) % 10);
    orders.push_back(order);
    ASSERT_TRUE(store_->Put("orders", order).ok());
  }
  struct Case {
    std::string condition;
    std::function<bool(int64_t)> keep;
  };
  std::vector<Case> cases = {
      {"amount = :a", [](int64_t t) { return t == 4; }},
      {"amount < :a", [](int64_t t) { return t < 4; }},
      {"amount <= :a", [](int64_t t) { return t <= 4; }},
      {"amount > :a", [](int64_t t) { return t > 4; }},
      {"amount >= :a", [](int64_t t) { return t >= 4; }},
      {"amount BETWEEN :a AND :b", [](int64_t t) { return t >= 4 && t <= 7; }},
  };
  for (const Case& c : cases) {
    for (bool forward : {true, false}) {
      // Expected: alice's orders in (amount, order_id) order.
      std::vector<std::pair<int64_t, std::string>> keyed;
      for (const Item& order : orders) {
        int64_t amount = std::stoll(order.at("amount").n().ToString());
        if (order.at("customer").s() == "alice" && c.keep(amount)) {
          keyed.emplace_back(amount, order.at("order_id").s());
        }
      }
      std::sort(keyed.begin(), keyed.end());
      if (!forward) std::reverse(keyed.begin(), keyed.end());
      std::vector<std::string> expected;
      for (const auto& [amount, id] : keyed) expected.push_back(id);
      QueryRequest q = IndexQuery("alice", c.condition, {{":a", AV::N(4)}});
      if (c.condition.find(":b") != std::string::npos) q.expression.values[":b"] = AV::N(7);
      q.scan_forward = forward;
      EXPECT_EQ(expected, QueryIds(q)) << c.condition << (forward ? " forward" : " backward");
      // The same, a page of 2 at a time through last_evaluated_key.
      std::vector<std::string> paged;
      q.limit = 2;
      for (int pages = 0; pages < 50; ++pages) {
        auto page = store_->Query(q);
        ASSERT_TRUE(page.ok()) << page.status().ToString();
        for (const std::string& id : Ids(page->items)) paged.push_back(id);
        if (!page->last_evaluated_key) break;
        // The table's and the index's keys.
        EXPECT_EQ(3u, page->last_evaluated_key->size());
        q.exclusive_start_key = page->last_evaluated_key;
      }
      EXPECT_EQ(expected, paged) << c.condition << " paged";
    }
  }
}

TEST_F(IndexTest, LongIndexKeysKeepTheirOrder) {
  // Index keys long enough that entry keys pass LMDB's key size and are
  // stored cut with a hash (see item_store.cc): entries sharing a long
  // partition key must still come back in sort key order, and pages must
  // resume where they stopped.
  ASSERT_TRUE(store_->CreateTable(OrdersSchema(ProjectionType::kAll)).ok());
  const std::string long_customer(1500, 'c');
  std::vector<std::string> expected;
  for (int i = 0; i < 30; ++i) {
    std::string id = std::string(600, 'o') + std::to_string(100 + i);
    ASSERT_TRUE(store_->Put("orders", Order(id, long_customer, (i * 11) % 30)).ok());
  }
  std::vector<std::pair<int64_t, std::string>> keyed;
  for (int i = 0; i < 30; ++i) {
    keyed.emplace_back((i * 11) % 30, std::string(600, 'o') + std::to_string(100 + i));
  }
  std::sort(keyed.begin(), keyed.end());
  for (const auto& [amount, id] : keyed) expected.push_back(id);
  QueryRequest q = IndexQuery(long_customer, "amount >= :a", {{":a", AV::N(0)}});
  EXPECT_EQ(expected, QueryIds(q));
  std::vector<std::string> paged;
  q.limit = 4;
  for (int pages = 0; pages < 20; ++pages) {
    auto page = store_->Query(q);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const std::string& id : Ids(page->items)) paged.push_back(id);
    if (!page->last_evaluated_key) break;
    q.exclusive_start_key = page->last_evaluated_key;
  }
  EXPECT_EQ(expected, paged);
  q.scan_forward = false;
  q.limit = 0;
  q.exclusive_start_key.reset();
  std::reverse(expected.begin(), expected.end());
  EXPECT_EQ(expected, QueryIds(q));
}

TEST_F(IndexTest, ProjectionsIncludeAndAll) {
  TableSchema schema = OrdersSchema(ProjectionType::kInclude, {"note"});
  SecondaryIndex all = schema.indexes[0];
  all.name = "by_customer_all";
  all.projection = {};
  schema.indexes.push_back(all);
  ASSERT_TRUE(store_->CreateTable(schema).ok());
  ASSERT_TRUE(store_->Put("orders", Order("o1", "alice", 30, "gift")).ok());
  auto included = store_->Query(IndexQuery("alice"));
  ASSERT_TRUE(included.ok());
  EXPECT_EQ(ItemBuilder()
                .S("order_id", "o1")
                .S("customer", "alice")
                .N("amount", 30)
                .S("note", "gift")
                .Build(),
            included->items.at(0));
  QueryRequest q = IndexQuery("alice");
  q.index_name = "by_customer_all";
  auto whole = store_->Query(q);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(Order("o1", "alice", 30, "gift"), whole->items.at(0));
  // ALL_ATTRIBUTES on a global index that does not project everything.
  QueryRequest select_all = IndexQuery("alice");
  select_all.select_all_attributes = true;
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->Query(select_all).status().code());
  q.select_all_attributes = true;
  EXPECT_TRUE(store_->Query(q).ok());
}

TEST_F(IndexTest, LocalIndexFetchesWhatItDoesNotProject) {
  TableSchema schema;
  schema.name = "events";
  schema.partition_key = {"device", AttributeType::kS};
  schema.sort_key = KeyAttribute{"at", AttributeType::kN};
  SecondaryIndex by_level;
  by_level.name = "by_level";
  by_level.global = false;
  by_level.partition_key = schema.partition_key;
  by_level.sort_key = KeyAttribute{"level", AttributeType::kS};
  by_level.projection.type = ProjectionType::kKeysOnly;
  schema.indexes.push_back(by_level);
  ASSERT_TRUE(store_->CreateTable(schema).ok());
  auto event = [](int64_t at, const std::string& level, const std::string& text) {
    return ItemBuilder().S("device", "d1").N("at", at).S("level", level).S("text", text).Build();
  };
  for (const Item& e : {event(1, "warn", "a"), event(2, "error", "b"), event(3, "warn", "c")}) {
    ASSERT_TRUE(store_->Put("events", e).ok());
  }
  QueryRequest q;
  q.table = "events";
  q.index_name = "by_level";
  q.key_condition_expression = "device = :d AND #l = :l";
  q.expression.names["#l"] = "level";
  q.expression.values[":d"] = AV::S("d1");
  q.expression.values[":l"] = AV::S("warn");
  auto projected = store_->Query(q);
  ASSERT_TRUE(projected.ok()) << projected.status().ToString();
  ASSERT_EQ(2u, projected->items.size());
  EXPECT_EQ(0u, projected->items[0].count("text"));
  // Select ALL_ATTRIBUTES on a local index reads the items from the table.
  q.select_all_attributes = true;
  auto whole = store_->Query(q);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ((std::vector<Item>{event(1, "warn", "a"), event(3, "warn", "c")}), whole->items);
  // A filter on an attribute the index does not project sees the whole item;
  // what comes back is still the projection.
  q.select_all_attributes = false;
  q.filter_expression = "#t = :t";
  q.expression.names["#t"] = "text";
  q.expression.values[":t"] = AV::S("c");
  auto filtered = store_->Query(q);
  ASSERT_TRUE(filtered.ok()) << filtered.status().ToString();
  ASSERT_EQ(1u, filtered->items.size());
  EXPECT_EQ(ItemBuilder().S("device", "d1").N("at", 3).S("level", "warn").Build(),
            filtered->items[0]);
  EXPECT_EQ(2u, filtered->scanned_count);
}

TEST_F(IndexTest, BadIndexKeyValuesAreRejectedAndNothingIsWritten) {
  ASSERT_TRUE(store_->CreateTable(OrdersSchema()).ok());
  ASSERT_TRUE(store_->Put("orders", Order("o1", "alice", 30)).ok());
  Item wrong_type = Order("o2", "alice", 1);
  wrong_type["amount"] = AV::S("thirty");
  auto put = store_->Put("orders", wrong_type);
  EXPECT_EQ(StatusCode::kInvalidArgument, put.status().code());
  EXPECT_NE(std::string::npos,
            put.status().message().find(
                "Type mismatch for Index Key amount Expected: N Actual: S IndexName: by_customer"))
      << put.status().message();
  Item empty = Order("o2", "", 1);
  auto empty_put = store_->Put("orders", empty);
  EXPECT_EQ(StatusCode::kInvalidArgument, empty_put.status().code());
  EXPECT_NE(std::string::npos, empty_put.status().message().find("IndexKey: customer"));
  auto update = store_->Update("orders", ItemBuilder().S("order_id", "o1").Build(),
                               "SET amount = :t", {{":t", AV::S("x")}});
  EXPECT_EQ(StatusCode::kInvalidArgument, update.status().code());
  EXPECT_EQ(StatusCode::kInvalidArgument,
            store_->BatchWrite({{"orders", true, Order("o3", "bob", 1)}, {"orders", true, empty}})
                .code());
  TransactWriteEntry bad_update;
  bad_update.kind = TransactWriteEntry::Kind::kUpdate;
  bad_update.table = "orders";
  bad_update.item = ItemBuilder().S("order_id", "o1").Build();
  bad_update.update_expression = "SET customer = :c";
  bad_update.expression.values[":c"] = AV::N(5);
  std::vector<CancellationReason> reasons;
  EXPECT_EQ(StatusCode::kTransactionCanceled, store_->TransactWrite({bad_update}, &reasons).code());
  ASSERT_EQ(1u, reasons.size());
  EXPECT_EQ(CancellationReason::Code::kValidationError, reasons[0].code);
  // Nothing of it was written.
  auto scan = store_->Scan(ScanRequest{.table = "orders"});
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ((std::vector<Item>{Order("o1", "alice", 30)}), scan->items);
  EXPECT_EQ((std::vector<std::string>{"o1"}), QueryIds(IndexQuery("alice")));
}

TEST_F(IndexTest, ReadsCheckTheIndex) {
  ASSERT_TRUE(store_->CreateTable(OrdersSchema()).ok());
  QueryRequest unknown = IndexQuery("alice");
  unknown.index_name = "nope";
  auto status = store_->Query(unknown).status();
  EXPECT_EQ(StatusCode::kInvalidArgument, status.code());
  EXPECT_EQ("The table does not have the specified index: nope", status.message());
  EXPECT_EQ(StatusCode::kInvalidArgument,
            store_->Scan(ScanRequest{.table = "orders", .index_name = "nope"}).status().code());
  // The key condition is on the index's keys, and a filter may not name them.
  QueryRequest table_key = IndexQuery("alice");
  table_key.key_condition_expression = "order_id = :c";
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->Query(table_key).status().code());
  QueryRequest filter_on_key = IndexQuery("alice");
  filter_on_key.filter_expression = "amount > :z";
  filter_on_key.expression.values[":z"] = AV::N(0);
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->Query(filter_on_key).status().code());
  // A start key must hold the table's and the index's keys.
  QueryRequest bad_start = IndexQuery("alice");
  bad_start.exclusive_start_key = ItemBuilder().S("order_id", "o1").Build();
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->Query(bad_start).status().code());
}

TEST_F(IndexTest, ScanOfAnIndexRunsInIndexOrderAndPages) {
  ASSERT_TRUE(store_->CreateTable(OrdersSchema()).ok());
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(
        store_->Put("orders", Order("o" + std::to_string(i), "c" + std::to_string(i % 4), i)).ok());
  }
  ASSERT_TRUE(store_->Put("orders", ItemBuilder().S("order_id", "loose").Build()).ok());
  std::vector<Item> all;
  ScanRequest scan{.table = "orders", .index_name = "by_customer"};
  scan.limit = 7;
  for (int pages = 0; pages < 20; ++pages) {
    auto page = store_->Scan(scan);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    all.insert(all.end(), page->items.begin(), page->items.end());
    if (!page->last_evaluated_key) break;
    scan.exclusive_start_key = page->last_evaluated_key;
  }
  ASSERT_EQ(30u, all.size());  // the item without index keys is not in it
  // Parallel segments together read the same entries.
  std::multiset<std::string> segmented;
  for (uint32_t segment = 0; segment < 3; ++segment) {
    ScanRequest part{.table = "orders", .index_name = "by_customer"};
    part.segment = segment;
    part.total_segments = 3;
    part.limit = 4;
    for (int pages = 0; pages < 40; ++pages) {
      auto page = store_->Scan(part);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      for (const std::string& id : Ids(page->items)) segmented.insert(id);
      if (!page->last_evaluated_key) break;
      part.exclusive_start_key = page->last_evaluated_key;
    }
  }
  std::multiset<std::string> expected;
  for (const std::string& id : Ids(all)) expected.insert(id);
  EXPECT_EQ(expected, segmented);
}

// Waits until no index of `table` is being filled (the store's filler thread
// finishes fills in the background); false after 30 s.
bool WaitUntilFilled(ItemStore& store, const std::string& table) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    auto d = store.DescribeTable(table);
    if (!d.ok()) return false;
    if (std::none_of(d->indexes.begin(), d->indexes.end(),
                     [](const IndexDescription& i) { return i.backfilling; })) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// The index's entries, read through the index, against what the table says
// they must be.
void ExpectIndexMatchesTable(ItemStore& store) {
  // Every page of a scan of the table or of the index.
  auto scan_all = [&](const std::string& index, std::multiset<std::string>* ids,
                      std::vector<Item>* items) {
    ScanRequest scan{.table = "orders", .index_name = index};
    for (;;) {
      auto page = store.Scan(scan);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      for (Item& item : page->items) {
        ids->insert(item.at("order_id").s());
        items->push_back(std::move(item));
      }
      if (!page->last_evaluated_key) break;
      scan.exclusive_start_key = page->last_evaluated_key;
    }
  };
  std::multiset<std::string> table_ids, indexed;
  std::vector<Item> table_items, index_items;
  scan_all("", &table_ids, &table_items);
  scan_all("by_customer", &indexed, &index_items);
  std::multiset<std::string> expected;
  for (const Item& item : table_items) {
    if (item.count("customer") && item.count("amount")) expected.insert(item.at("order_id").s());
  }
  EXPECT_EQ(expected, indexed);
  // Each entry holds the item's current values (its projection).
  std::map<std::string, Item> by_id;
  for (const Item& item : table_items) by_id[item.at("order_id").s()] = item;
  for (const Item& entry : index_items) {
    const Item& item = by_id[entry.at("order_id").s()];
    Item want = item;
    if (entry.count("note") == 0) {  // KEYS_ONLY
      want = ItemBuilder()
                 .Set("order_id", item.at("order_id"))
                 .Set("customer", item.at("customer"))
                 .Set("amount", item.at("amount"))
                 .Build();
    }
    EXPECT_EQ(want, entry);
  }
  auto d = store.DescribeTable("orders");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(1u, d->indexes.size());
  EXPECT_EQ(expected.size(), d->indexes[0].item_count);
}

TEST_F(IndexTest, UpdateTableFillsANewIndexWhileWritesGoOn) {
  TableSchema schema = OrdersSchema();
  SecondaryIndex index = schema.indexes[0];
  schema.indexes.clear();
  ASSERT_TRUE(store_->CreateTable(schema).ok());
  // More items than one fill write takes.
  for (int i = 0; i < 700; ++i) {
    Item order = i % 10 == 0 ? ItemBuilder().S("order_id", "o" + std::to_string(i)).Build()
                             : Order("o" + std::to_string(i), "c" + std::to_string(i % 7), i);
    ASSERT_TRUE(store_->Put("orders", order).ok());
  }
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      // Rewrites, moves and deletes of items the fill may or may not have
      // reached yet.
      std::string id = "o" + std::to_string((i * 37) % 900);
      if (i % 5 == 0) {
        (void)store_->Delete("orders", ItemBuilder().S("order_id", id).Build());
      } else {
        (void)store_->Put("orders", Order(id, "c" + std::to_string(i % 5), i));
      }
    }
  });
  TableUpdate update;
  update.create_index = index;
  update.wait_for_index_fill = true;
  auto updated = store_->UpdateTable("orders", update);
  stop = true;
  writer.join();
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  ASSERT_EQ(1u, updated->indexes.size());
  EXPECT_FALSE(updated->indexes[0].backfilling);
  ExpectIndexMatchesTable(*store_);

  // A second index of that name, or a local one, cannot be added.
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->UpdateTable("orders", update).status().code());
  TableUpdate local;
  local.create_index = index;
  local.create_index->name = "local";
  local.create_index->global = false;
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->UpdateTable("orders", local).status().code());

  // Deleted, the index cannot be read; created again, it is whole again.
  TableUpdate drop;
  drop.delete_index = "by_customer";
  auto dropped = store_->UpdateTable("orders", drop);
  ASSERT_TRUE(dropped.ok());
  EXPECT_TRUE(dropped->schema.indexes.empty());
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->Query(IndexQuery("c1")).status().code());
  EXPECT_EQ(StatusCode::kNotFound, store_->UpdateTable("orders", drop).status().code());
  ASSERT_TRUE(store_->UpdateTable("orders", update).ok());
  ExpectIndexMatchesTable(*store_);
}

TEST_F(IndexTest, UpdateTableReturnsWhileTheIndexFillsAndACloseCutsItShort) {
  TableSchema schema = OrdersSchema();
  SecondaryIndex index = schema.indexes[0];
  schema.indexes.clear();
  ASSERT_TRUE(store_->CreateTable(schema).ok());
  for (int i = 0; i < 3000; i += 25) {
    std::vector<BatchWriteEntry> batch;
    for (int j = i; j < i + 25; ++j) {
      batch.push_back(
          {"orders", true, Order("o" + std::to_string(j), "c" + std::to_string(j % 7), j)});
    }
    ASSERT_TRUE(store_->BatchWrite(batch).ok());
  }
  TableUpdate update;
  update.create_index = index;
  auto updated = store_->UpdateTable("orders", update);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  // As DynamoDB's: the index is there, CREATING, and cannot be read yet.
  ASSERT_EQ(1u, updated->indexes.size());
  EXPECT_TRUE(updated->indexes[0].backfilling);
  // Closed at once, most likely mid-fill; the next Open finishes the fill.
  store_.reset();
  store_ = OpenStore(dir_.path());
  ASSERT_NE(nullptr, store_);
  ASSERT_TRUE(WaitUntilFilled(*store_, "orders"));
  ExpectIndexMatchesTable(*store_);
}

TEST_F(IndexTest, CapacityAndBillingChanges) {
  TableSchema schema = OrdersSchema();
  schema.billing = {BillingMode::kProvisioned, 5, 5};
  schema.indexes[0].read_capacity_units = 1;
  schema.indexes[0].write_capacity_units = 2;
  ASSERT_TRUE(store_->CreateTable(schema).ok());
  TableUpdate capacity;
  capacity.index_capacity["by_customer"] = {7, 8};
  auto updated = store_->UpdateTable("orders", capacity);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(7u, updated->schema.indexes[0].read_capacity_units);
  EXPECT_EQ(8u, updated->schema.indexes[0].write_capacity_units);
  TableUpdate unknown;
  unknown.index_capacity["nope"] = {1, 1};
  EXPECT_EQ(StatusCode::kNotFound, store_->UpdateTable("orders", unknown).status().code());
  // On demand, the index has no units; back to provisioned, it needs some.
  TableUpdate on_demand;
  on_demand.billing = BillingConfig{};
  updated = store_->UpdateTable("orders", on_demand);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(0u, updated->schema.indexes[0].read_capacity_units);
  TableUpdate provisioned;
  provisioned.billing = BillingConfig{BillingMode::kProvisioned, 3, 3};
  EXPECT_EQ(StatusCode::kInvalidArgument,
            store_->UpdateTable("orders", provisioned).status().code());
  provisioned.index_capacity["by_customer"] = {4, 4};
  EXPECT_TRUE(store_->UpdateTable("orders", provisioned).ok());
}

TEST_F(IndexTest, IndexesOutliveAReopenAndGoWithTheirTable) {
  ASSERT_TRUE(store_->CreateTable(OrdersSchema()).ok());
  ASSERT_TRUE(store_->Put("orders", Order("o1", "alice", 30)).ok());
  store_.reset();
  store_ = OpenStore(dir_.path());
  ASSERT_NE(nullptr, store_);
  auto d = store_->DescribeTable("orders");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(OrdersSchema(), d->schema);
  EXPECT_EQ(1u, Describe("orders", "by_customer").item_count);
  EXPECT_EQ((std::vector<std::string>{"o1"}), QueryIds(IndexQuery("alice")));
  // Deleting the table deletes its index entries; a new table of that name
  // starts with an empty index.
  ASSERT_TRUE(store_->DeleteTable("orders").ok());
  ASSERT_TRUE(store_->CreateTable(OrdersSchema()).ok());
  EXPECT_EQ((std::vector<std::string>{}), QueryIds(IndexQuery("alice")));
  EXPECT_EQ(0u, Describe("orders", "by_customer").item_count);
  // So does TruncateTable.
  ASSERT_TRUE(store_->Put("orders", Order("o1", "alice", 30)).ok());
  ASSERT_TRUE(store_->TruncateTable("orders").ok());
  EXPECT_EQ((std::vector<std::string>{}), QueryIds(IndexQuery("alice")));
  EXPECT_EQ(0u, Describe("orders", "by_customer").item_count);
}

// What each write reports of the index entries it changed, for capacity,
// and that entries a write leaves as they were are not rewritten.
TEST_F(IndexTest, WritesReportTheIndexEntriesTheyChanged) {
  TableSchema schema = OrdersSchema(ProjectionType::kInclude, {"note"});
  ASSERT_TRUE(store_->CreateTable(schema).ok());
  auto writes_of = [](const Result<WriteResult>& r) {
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->index_writes : std::vector<IndexWrite>{};
  };
  const Item key = ItemBuilder().S("order_id", "o1").Build();
  const uint64_t entry_bytes =  // keys of the table and the index, plus note
      ItemSizeBytes(ItemBuilder()
                        .S("order_id", "o1")
                        .S("customer", "c1")
                        .N("amount", 5)
                        .S("note", "n")
                        .Build());

  // A new item in the index: a put of its entry.
  std::vector<IndexWrite> w = writes_of(store_->Put("orders", Order("o1", "c1", 5)));
  ASSERT_EQ(1u, w.size());
  EXPECT_EQ("by_customer", w[0].index);
  EXPECT_TRUE(w[0].global);
  EXPECT_EQ(0u, w[0].old_bytes);
  EXPECT_EQ(entry_bytes, w[0].new_bytes);
  EXPECT_FALSE(w[0].moved);
  // A change to an attribute the index does not project: nothing.
  EXPECT_TRUE(writes_of(store_->Update("orders", key, "SET qty = :q", {{":q", AV::N(2)}})).empty());
  // A projected attribute: the entry rewritten in place.
  w = writes_of(store_->Update("orders", key, "SET note = :n", {{":n", AV::S("longer")}}));
  ASSERT_EQ(1u, w.size());
  EXPECT_EQ(entry_bytes, w[0].old_bytes);
  EXPECT_EQ(entry_bytes + 5, w[0].new_bytes);
  EXPECT_FALSE(w[0].moved);
  // The index key: the entry moves.
  w = writes_of(store_->Update("orders", key, "SET amount = :a", {{":a", AV::N(7)}}));
  ASSERT_EQ(1u, w.size());
  EXPECT_GT(w[0].old_bytes, 0u);
  EXPECT_GT(w[0].new_bytes, 0u);
  EXPECT_TRUE(w[0].moved);
  // Out of the index (its key attribute removed), back in, then deleted.
  w = writes_of(store_->Update("orders", key, "REMOVE customer"));
  ASSERT_EQ(1u, w.size());
  EXPECT_GT(w[0].old_bytes, 0u);
  EXPECT_EQ(0u, w[0].new_bytes);
  EXPECT_TRUE(writes_of(store_->Update("orders", key, "SET qty = :q", {{":q", AV::N(3)}})).empty());
  w = writes_of(store_->Update("orders", key, "SET customer = :c", {{":c", AV::S("c2")}}));
  ASSERT_EQ(1u, w.size());
  EXPECT_EQ(0u, w[0].old_bytes);
  EXPECT_GT(w[0].new_bytes, 0u);
  w = writes_of(store_->Delete("orders", key));
  ASSERT_EQ(1u, w.size());
  EXPECT_GT(w[0].old_bytes, 0u);
  EXPECT_EQ(0u, w[0].new_bytes);
  ExpectIndexMatchesTable(*store_);
  EXPECT_EQ(0u, Describe("orders", "by_customer").item_count);

  // Batches and transactions report the same, per entry.
  std::promise<std::vector<WrittenSize>> batch;
  store_->BatchWriteAsync({{"orders", true, Order("o2", "c1", 1)},
                           {"orders", true, ItemBuilder().S("order_id", "o3").Build()}},
                          [&](Status s, std::vector<WrittenSize> written) {
                            EXPECT_TRUE(s.ok()) << s.ToString();
                            batch.set_value(std::move(written));
                          });
  std::vector<WrittenSize> written = batch.get_future().get();
  ASSERT_EQ(2u, written.size());
  EXPECT_EQ(1u, written[0].index_writes.size());
  EXPECT_TRUE(written[1].index_writes.empty());  // not in the (sparse) index
  std::vector<TransactWriteEntry> actions(1);
  actions[0].kind = TransactWriteEntry::Kind::kDelete;
  actions[0].table = "orders";
  actions[0].item = ItemBuilder().S("order_id", "o2").Build();
  std::promise<std::vector<WrittenSize>> transacted;
  store_->TransactWriteAsync(
      actions, "",
      [&](Status s, std::vector<CancellationReason>, std::vector<WrittenSize> written) {
        EXPECT_TRUE(s.ok()) << s.ToString();
        transacted.set_value(std::move(written));
      });
  written = transacted.get_future().get();
  ASSERT_EQ(1u, written.size());
  ASSERT_EQ(1u, written[0].index_writes.size());
  EXPECT_EQ(0u, written[0].index_writes[0].new_bytes);
  ExpectIndexMatchesTable(*store_);
}

// Orders of ~4 KB each: 400 of them (~1.6 MB) and an ALL index of them do
// not fit in a 3 MiB map.
constexpr int kBigOrders = 400;

// Opens a store of its own at `path` (LMDB keeps the map size a store was
// last opened with) whose map cannot grow past 3 MiB, fills it with
// kBigOrders orders, then asks for an ALL index of them, waiting for its
// fill, which runs out of room: UpdateTable says kResourceExhausted and the
// index stays CREATING, unreadable.
void StartAFillThatDoesNotFit(std::unique_ptr<ItemStore>& store, const std::string& path,
                              StoreOptions options) {
  store.reset();
  options.initial_map_size = 1 << 20;
  options.max_map_size = 3 << 20;
  store = OpenStore(path, options);
  ASSERT_NE(nullptr, store);
  TableSchema schema = OrdersSchema(ProjectionType::kAll);
  SecondaryIndex index = schema.indexes[0];
  schema.indexes.clear();
  schema.stream.enabled = false;
  ASSERT_TRUE(store->CreateTable(schema).ok());
  for (int i = 0; i < kBigOrders; ++i) {
    Item order =
        Order("o" + std::to_string(i), "c" + std::to_string(i % 9), i, std::string(4000, 'x'));
    ASSERT_TRUE(store->Put("orders", order).ok());
  }
  TableUpdate update;
  update.create_index = index;
  update.wait_for_index_fill = true;
  auto updated = store->UpdateTable("orders", update);
  ASSERT_EQ(StatusCode::kResourceExhausted, updated.status().code()) << updated.status().ToString();
  auto d = store->DescribeTable("orders");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(1u, d->indexes.size());
  EXPECT_TRUE(d->indexes[0].backfilling);
  EXPECT_EQ("Cannot read from backfilling global secondary index: by_customer",
            store->Query(IndexQuery("c1")).status().message());
}

TEST_F(IndexTest, AFillThatRanOutOfMapIsFinishedByTheNextOpen) {
  const std::string path = dir_.path() + "/small";
  ASSERT_NO_FATAL_FAILURE(StartAFillThatDoesNotFit(store_, path, StoreOptions()));
  store_.reset();
  store_ = OpenStore(path);  // room to grow; the fill resumes in the background
  ASSERT_NE(nullptr, store_);
  ASSERT_TRUE(WaitUntilFilled(*store_, "orders"));
  ExpectIndexMatchesTable(*store_);
}

TEST_F(IndexTest, AFailedFillIsTriedAgainAndFinishesOnceThereIsRoom) {
  StoreOptions options;
  options.index_fill_retry_ms = 20;
  ASSERT_NO_FATAL_FAILURE(StartAFillThatDoesNotFit(store_, dir_.path() + "/small", options));
  // The retries keep failing while there is no room...
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (store_->stats().index_fill_failures.load() < 3 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(store_->stats().index_fill_failures.load(), 3u);
  EXPECT_TRUE(Describe("orders", "by_customer").backfilling);
  // ...and one after deletes made room finishes the fill, with no restart.
  for (int i = 0; i < kBigOrders; i += 4) {
    for (int j = i; j < i + 3; ++j) {
      ASSERT_TRUE(
          store_->Delete("orders", {{"order_id", AttributeValue::S("o" + std::to_string(j))}})
              .ok());
    }
  }
  ASSERT_TRUE(WaitUntilFilled(*store_, "orders"));
  ExpectIndexMatchesTable(*store_);
  EXPECT_EQ(static_cast<uint64_t>(kBigOrders / 4), Describe("orders", "by_customer").item_count);
}

}  // namespace
}  // namespace keystone::store
