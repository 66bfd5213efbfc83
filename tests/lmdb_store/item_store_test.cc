#include "lmdb_store/item_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <thread>

#include "base/clock.h"
#include "lmdb_store/lmdb_env.h"
#include "lmdb_store/varint.h"
#include "tests/lmdb_store/store_test_util.h"

namespace keystone::store {
namespace {

using testing::AV;
using testing::EventsSchema;
using testing::Key;
using testing::OpenStore;
using testing::UsersSchema;

class ItemStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(dir_.path());
    ASSERT_NE(nullptr, store_);
    ASSERT_TRUE(store_->CreateTable(UsersSchema()).ok());
    ASSERT_TRUE(store_->CreateTable(EventsSchema()).ok());
  }

  Item MustGet(const std::string& table, Item key) {
    auto item = store_->Get(table, std::move(key));
    EXPECT_TRUE(item.ok()) << item.status().ToString();
    EXPECT_TRUE(item.ok() && item->has_value());
    return item.ok() && item->has_value() ? **item : Item{};
  }

  keystone::testing::TempDir dir_;
  std::unique_ptr<ItemStore> store_;
};

TEST_F(ItemStoreTest, TableLifecycle) {
  EXPECT_EQ(StatusCode::kAlreadyExists, store_->CreateTable(UsersSchema()).code());
  auto names = store_->ListTables();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ((std::vector<std::string>{"events", "users"}), *names);
  auto described = store_->DescribeTable("events");
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(EventsSchema(), described->schema);

  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "a").Build()).ok());
  auto deleted = store_->DeleteTable("users");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(1u, deleted->item_count);
  EXPECT_EQ(StatusCode::kNotFound, store_->DescribeTable("users").status().code());
  EXPECT_EQ(StatusCode::kNotFound, store_->Put("users", Key("a")).status().code());
  // Recreated, the table is empty.
  ASSERT_TRUE(store_->CreateTable(UsersSchema()).ok());
  auto item = store_->Get("users", Key("a"));
  ASSERT_TRUE(item.ok());
  EXPECT_FALSE(item->has_value());
}

TEST_F(ItemStoreTest, InvalidSchemasAreRejected) {
  TableSchema short_name = UsersSchema();
  short_name.name = "ab";
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->CreateTable(short_name).code());
  TableSchema bad_type = UsersSchema();
  bad_type.name = "bad";
  bad_type.partition_key.type = AttributeType::kBool;
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->CreateTable(bad_type).code());
}

TEST_F(ItemStoreTest, PutGetDelete) {
  Item alice = ItemBuilder().S("pk", "u1").S("name", "Alice").N("age", 30).Build();
  ASSERT_TRUE(store_->Put("users", alice).ok());
  EXPECT_EQ(alice, MustGet("users", Key("u1")));

  PutItemRequest overwrite{"users", ItemBuilder().S("pk", "u1").S("name", "Alicia").Build()};
  overwrite.return_values = ReturnValues::kAllOld;
  auto put = store_->PutItem(overwrite);
  ASSERT_TRUE(put.ok());
  ASSERT_TRUE(put->attributes.has_value());
  EXPECT_EQ(alice, *put->attributes);

  DeleteItemRequest del{"users", Key("u1")};
  del.return_values = ReturnValues::kAllOld;
  auto deleted = store_->DeleteItem(del);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(AV::S("Alicia"), deleted->attributes->at("name"));
  auto gone = store_->Get("users", Key("u1"));
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

TEST_F(ItemStoreTest, ConditionalWrites) {
  PutItemRequest create{"users", ItemBuilder().S("pk", "u1").N("v", 1).Build()};
  create.condition_expression = "attribute_not_exists(pk)";
  ASSERT_TRUE(store_->PutItem(create).ok());
  auto again = store_->PutItem(create);
  EXPECT_EQ(StatusCode::kConditionFailed, again.status().code());
  EXPECT_EQ("The conditional request failed", again.status().message());

  UpdateItemRequest bump{"users", Key("u1"), "SET v = v + :one", "v = :expected"};
  bump.expression.values = {{":one", AV::N(1)}, {":expected", AV::N(1)}};
  ASSERT_TRUE(store_->UpdateItem(bump).ok());
  EXPECT_EQ(StatusCode::kConditionFailed, store_->UpdateItem(bump).status().code());
  EXPECT_EQ(AV::N(2), MustGet("users", Key("u1")).at("v"));

  DeleteItemRequest del{"users", Key("u1"), "v > :limit"};
  del.expression.values = {{":limit", AV::N(5)}};
  EXPECT_EQ(StatusCode::kConditionFailed, store_->DeleteItem(del).status().code());
  EXPECT_EQ(AV::N(2), MustGet("users", Key("u1")).at("v"));
}

TEST_F(ItemStoreTest, FailedConditionHandsTheItemItWasEvaluatedAgainstToTheHook) {
  // The hook records every call: how many and the last item.
  int calls = 0;
  std::optional<Item> seen;
  ConditionFailureHook hook = [&](const std::optional<Item>& item) {
    ++calls;
    seen = item;
  };

  // No item: the condition saw none, and the hook says so.
  UpdateItemRequest must_exist{"users", Key("u1"), "SET v = :one", "attribute_exists(pk)"};
  must_exist.expression.values = {{":one", AV::N(1)}};
  must_exist.on_condition_failure = hook;
  EXPECT_EQ(StatusCode::kConditionFailed, store_->UpdateItem(must_exist).status().code());
  EXPECT_EQ(1, calls);
  EXPECT_FALSE(seen.has_value());

  Item stored = ItemBuilder().S("pk", "u1").N("v", 7).S("name", "Ann").Build();
  PutItemRequest create{"users", stored, "attribute_not_exists(pk)"};
  create.on_condition_failure = hook;
  ASSERT_TRUE(store_->PutItem(create).ok());
  EXPECT_EQ(1, calls);  // a condition that holds does not call it

  create.item = ItemBuilder().S("pk", "u1").N("v", 8).Build();
  EXPECT_EQ(StatusCode::kConditionFailed, store_->PutItem(create).status().code());
  EXPECT_EQ(2, calls);
  EXPECT_EQ(stored, seen);

  DeleteItemRequest del{"users", Key("u1"), "v > :limit"};
  del.expression.values = {{":limit", AV::N(10)}};
  del.on_condition_failure = hook;
  seen.reset();
  EXPECT_EQ(StatusCode::kConditionFailed, store_->DeleteItem(del).status().code());
  EXPECT_EQ(3, calls);
  EXPECT_EQ(stored, seen);

  // The asynchronous form calls it before reporting the failure.
  seen.reset();
  std::promise<StatusCode> outcome;
  UpdateItemRequest bump{"users", Key("u1"), "SET v = :one", "v = :zero"};
  bump.expression.values = {{":one", AV::N(1)}, {":zero", AV::N(0)}};
  std::optional<Item> seen_async;
  bump.on_condition_failure = [&](const std::optional<Item>& item) { seen_async = item; };
  store_->UpdateItemAsync(bump, [&](Result<WriteResult> result) {
    EXPECT_EQ(stored, seen_async);
    outcome.set_value(result.status().code());
  });
  EXPECT_EQ(StatusCode::kConditionFailed, outcome.get_future().get());
  EXPECT_EQ(stored, MustGet("users", Key("u1")));  // nothing written
}

TEST_F(ItemStoreTest, UpdateReturnValues) {
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "u1").N("a", 1).N("b", 2).Build()).ok());
  UpdateItemRequest req{"users", Key("u1"), "SET a = :x"};
  req.expression.values = {{":x", AV::N(10)}};

  req.return_values = ReturnValues::kUpdatedOld;
  auto r = store_->UpdateItem(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((Item{{"a", AV::N(1)}}), *r->attributes);

  req.expression.values = {{":x", AV::N(11)}};
  req.return_values = ReturnValues::kUpdatedNew;
  r = store_->UpdateItem(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((Item{{"a", AV::N(11)}}), *r->attributes);

  req.return_values = ReturnValues::kAllNew;
  req.expression.values = {{":x", AV::N(12)}};
  r = store_->UpdateItem(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((ItemBuilder().S("pk", "u1").N("a", 12).N("b", 2).Build()), *r->attributes);

  req.return_values = ReturnValues::kAllOld;
  req.expression.values = {{":x", AV::N(13)}};
  r = store_->UpdateItem(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(AV::N(12), r->attributes->at("a"));
}

TEST_F(ItemStoreTest, UpdateCreatesMissingItemAndProtectsKeys) {
  auto created = store_->Update("users", Key("new"), "SET n = :n", {{":n", AV::N(5)}});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ((ItemBuilder().S("pk", "new").N("n", 5).Build()), MustGet("users", Key("new")));

  auto key_change = store_->Update("users", Key("new"), "SET pk = :v", {{":v", AV::S("x")}});
  EXPECT_EQ(StatusCode::kInvalidArgument, key_change.status().code());
  EXPECT_NE(std::string::npos, key_change.status().message().find("part of the key"));
}

TEST_F(ItemStoreTest, KeyValidation) {
  EXPECT_EQ(StatusCode::kInvalidArgument,
            store_->Put("users", ItemBuilder().S("name", "x").Build()).status().code());
  auto wrong_type = store_->Put("users", ItemBuilder().N("pk", 1).Build());
  EXPECT_EQ(
      "One or more parameter values were invalid: Type mismatch for key pk expected: S "
      "actual: N",
      wrong_type.status().message());
  auto empty = store_->Put("users", ItemBuilder().S("pk", "").Build());
  EXPECT_EQ(StatusCode::kInvalidArgument, empty.status().code());
  // A key parameter with an extra attribute does not match the schema.
  auto extra = store_->Get("users", ItemBuilder().S("pk", "a").S("x", "y").Build());
  EXPECT_EQ("The provided key element does not match the schema", extra.status().message());
  auto missing_sort = store_->Get("events", Key("a"));
  EXPECT_EQ(StatusCode::kInvalidArgument, missing_sort.status().code());
  EXPECT_EQ(StatusCode::kNotFound, store_->Put("nope", Key("a")).status().code());
}

TEST_F(ItemStoreTest, SizeLimits) {
  std::string big_pk(2049, 'k');
  auto pk = store_->Put("users", ItemBuilder().S("pk", big_pk).Build());
  EXPECT_NE(std::string::npos, pk.status().message().find("2048 bytes"));
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", std::string(2048, 'k')).Build()).ok());

  auto sk = store_->Put("events", ItemBuilder().S("pk", "a").Set("sk", AV::N(1)).Build());
  ASSERT_TRUE(sk.ok());
  TableSchema bin_sort = EventsSchema();
  bin_sort.name = "binsort";
  bin_sort.sort_key->type = AttributeType::kB;
  ASSERT_TRUE(store_->CreateTable(bin_sort).ok());
  auto big_sk =
      store_->Put("binsort", ItemBuilder().S("pk", "a").B("sk", std::string(1025, 'x')).Build());
  EXPECT_NE(std::string::npos, big_sk.status().message().find("1024 bytes"));

  // 400 KB items: the limit counts names and values.
  std::string payload(400 * 1024, 'x');
  auto too_big = store_->Put("users", ItemBuilder().S("pk", "big").S("d", payload).Build());
  EXPECT_EQ("Item size has exceeded the maximum allowed size", too_big.status().message());
  auto fits = store_->Put(
      "users", ItemBuilder().S("pk", "big").S("d", std::string(400 * 1024 - 10, 'x')).Build());
  EXPECT_TRUE(fits.ok()) << fits.status().ToString();

  // An update that would grow the item past the limit writes nothing.
  auto grow = store_->Update("users", Key("big"), "SET e = :e", {{":e", AV::S(payload)}});
  EXPECT_EQ(StatusCode::kInvalidArgument, grow.status().code());
  EXPECT_EQ(0u, MustGet("users", Key("big")).count("e"));
}

class QueryTest : public ItemStoreTest {
 protected:
  void SetUp() override {
    ItemStoreTest::SetUp();
    for (int i = -5; i < 15; ++i) {
      ASSERT_TRUE(
          store_->Put("events", ItemBuilder().S("pk", "a").N("sk", i).N("v", i * i).Build()).ok());
    }
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(store_->Put("events", ItemBuilder().S("pk", "b").N("sk", i).Build()).ok());
    }
  }

  std::vector<int64_t> SortKeys(const QueryResult& r) {
    std::vector<int64_t> out;
    for (const Item& item : r.items) {
      int64_t v = 0;
      EXPECT_TRUE(item.at("sk").n().ToInt64(&v));
      out.push_back(v);
    }
    return out;
  }

  Result<QueryResult> Run(std::string condition, std::map<std::string, AV> values,
                          bool forward = true, size_t limit = 0) {
    QueryRequest q;
    q.table = "events";
    q.key_condition_expression = std::move(condition);
    q.expression.values = std::move(values);
    q.scan_forward = forward;
    q.limit = limit;
    return store_->Query(q);
  }
};

TEST_F(QueryTest, SortKeyConditions) {
  auto all = Run("pk = :p", {{":p", AV::S("a")}});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(20u, all->items.size());
  EXPECT_EQ(-5, SortKeys(*all).front());  // numeric order, negatives first

  auto lt = Run("pk = :p AND sk < :v", {{":p", AV::S("a")}, {":v", AV::N(-3)}});
  EXPECT_EQ((std::vector<int64_t>{-5, -4}), SortKeys(*lt));
  auto le = Run("pk = :p AND sk <= :v", {{":p", AV::S("a")}, {":v", AV::N(-3)}});
  EXPECT_EQ((std::vector<int64_t>{-5, -4, -3}), SortKeys(*le));
  auto gt = Run("pk = :p AND sk > :v", {{":p", AV::S("a")}, {":v", AV::N(12)}});
  EXPECT_EQ((std::vector<int64_t>{13, 14}), SortKeys(*gt));
  auto ge = Run("pk = :p AND sk >= :v", {{":p", AV::S("a")}, {":v", AV::N(12)}});
  EXPECT_EQ((std::vector<int64_t>{12, 13, 14}), SortKeys(*ge));
  auto eq = Run("pk = :p AND sk = :v", {{":p", AV::S("a")}, {":v", AV::N(7)}});
  EXPECT_EQ((std::vector<int64_t>{7}), SortKeys(*eq));
  auto between = Run("pk = :p AND sk BETWEEN :lo AND :hi",
                     {{":p", AV::S("a")}, {":lo", AV::N(-1)}, {":hi", AV::N(1)}});
  EXPECT_EQ((std::vector<int64_t>{-1, 0, 1}), SortKeys(*between));
  auto other = Run("pk = :p", {{":p", AV::S("b")}});
  EXPECT_EQ((std::vector<int64_t>{0, 1, 2}), SortKeys(*other));
  auto none = Run("pk = :p", {{":p", AV::S("zzz")}});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());
}

TEST_F(QueryTest, BackwardAndPaged) {
  auto back = Run("pk = :p AND sk BETWEEN :lo AND :hi",
                  {{":p", AV::S("a")}, {":lo", AV::N(0)}, {":hi", AV::N(3)}}, false);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ((std::vector<int64_t>{3, 2, 1, 0}), SortKeys(*back));
  auto back_all = Run("pk = :p", {{":p", AV::S("a")}}, false);
  EXPECT_EQ(14, SortKeys(*back_all).front());
  EXPECT_EQ(20u, back_all->items.size());
  auto back_lt = Run("pk = :p AND sk < :v", {{":p", AV::S("a")}, {":v", AV::N(0)}}, false);
  EXPECT_EQ((std::vector<int64_t>{-1, -2, -3, -4, -5}), SortKeys(*back_lt));

  for (bool forward : {true, false}) {
    std::vector<int64_t> seen;
    std::optional<Item> start;
    int pages = 0;
    do {
      QueryRequest q;
      q.table = "events";
      q.key_condition_expression = "pk = :p";
      q.expression.values = {{":p", AV::S("a")}};
      q.scan_forward = forward;
      q.limit = 6;
      q.exclusive_start_key = start;
      auto page = store_->Query(q);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      for (int64_t v : SortKeys(*page)) seen.push_back(v);
      start = page->last_evaluated_key;
      ++pages;
    } while (start && pages < 10);
    EXPECT_EQ(4, pages);
    ASSERT_EQ(20u, seen.size());
    EXPECT_EQ(forward ? -5 : 14, seen.front());
    EXPECT_EQ(forward ? 14 : -5, seen.back());
  }
}

TEST_F(QueryTest, FilterProjectionAndBeginsWith) {
  QueryRequest q;
  q.table = "events";
  q.key_condition_expression = "pk = :p";
  q.filter_expression = "v > :min";
  q.projection_expression = "sk";
  q.expression.values = {{":p", AV::S("a")}, {":min", AV::N(100)}};
  auto r = store_->Query(q);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(20u, r->scanned_count);
  EXPECT_EQ((std::vector<int64_t>{11, 12, 13, 14}), SortKeys(*r));
  EXPECT_EQ(1u, r->items[0].size());  // projected to sk only

  TableSchema files;
  files.name = "files";
  files.partition_key = {"pk", AttributeType::kS};
  files.sort_key = KeyAttribute{"path", AttributeType::kS};
  ASSERT_TRUE(store_->CreateTable(files).ok());
  for (const std::string& path :
       std::vector<std::string>{"a", "a/b", "a/c", "ab", "b", std::string("a\0x", 3)}) {
    ASSERT_TRUE(store_->Put("files", ItemBuilder().S("pk", "u").S("path", path).Build()).ok());
  }
  QueryRequest prefix;
  prefix.table = "files";
  prefix.key_condition_expression = "pk = :p AND begins_with(#path, :prefix)";
  prefix.expression.names = {{"#path", "path"}};
  prefix.expression.values = {{":p", AV::S("u")}, {":prefix", AV::S("a/")}};
  auto matched = store_->Query(prefix);
  ASSERT_TRUE(matched.ok()) << matched.status().ToString();
  ASSERT_EQ(2u, matched->items.size());
  EXPECT_EQ(AV::S("a/b"), matched->items[0].at("path"));
  EXPECT_EQ(AV::S("a/c"), matched->items[1].at("path"));
}

TEST_F(QueryTest, InvalidQueries) {
  auto wrong_type = Run("pk = :p", {{":p", AV::N(1)}});
  EXPECT_EQ(StatusCode::kInvalidArgument, wrong_type.status().code());
  auto unused = Run("pk = :p", {{":p", AV::S("a")}, {":unused", AV::S("x")}});
  EXPECT_EQ(StatusCode::kInvalidArgument, unused.status().code());
  auto no_pk = Run("sk = :v", {{":v", AV::N(1)}});
  EXPECT_EQ(StatusCode::kInvalidArgument, no_pk.status().code());
  QueryRequest foreign_start;
  foreign_start.table = "events";
  foreign_start.key_condition_expression = "pk = :p";
  foreign_start.expression.values = {{":p", AV::S("a")}};
  foreign_start.exclusive_start_key = Key("b", 1);
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->Query(foreign_start).status().code());
  auto bad_between = Run("pk = :p AND sk BETWEEN :hi AND :lo",
                         {{":p", AV::S("a")}, {":lo", AV::N(-1)}, {":hi", AV::N(1)}});
  EXPECT_EQ(StatusCode::kInvalidArgument, bad_between.status().code());
}

TEST_F(QueryTest, ScanPagesAndSegments) {
  std::set<std::string> all;
  std::optional<Item> start;
  int pages = 0;
  do {
    ScanRequest s;
    s.table = "events";
    s.limit = 7;
    s.exclusive_start_key = start;
    auto page = store_->Scan(s);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const Item& item : page->items) all.insert(ItemDebugString(item));
    start = page->last_evaluated_key;
    ++pages;
  } while (start && pages < 20);
  EXPECT_EQ(23u, all.size());
  EXPECT_EQ(4, pages);

  std::set<std::string> segmented;
  for (uint32_t seg = 0; seg < 3; ++seg) {
    ScanRequest s;
    s.table = "events";
    s.segment = seg;
    s.total_segments = 3;
    auto page = store_->Scan(s);
    ASSERT_TRUE(page.ok());
    for (const Item& item : page->items)
      EXPECT_TRUE(segmented.insert(ItemDebugString(item)).second);
  }
  EXPECT_EQ(all, segmented);

  // Paged segments: each page's key leads on within its segment; a key of
  // another segment is refused rather than skipping part of this one.
  std::set<std::string> paged;
  std::optional<Item> foreign_key;
  for (uint32_t seg = 0; seg < 3; ++seg) {
    std::optional<Item> page_start;
    int pages_read = 0;
    do {
      ScanRequest s;
      s.table = "events";
      s.segment = seg;
      s.total_segments = 3;
      s.limit = 2;
      s.exclusive_start_key = page_start;
      auto page = store_->Scan(s);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      for (const Item& item : page->items) EXPECT_TRUE(paged.insert(ItemDebugString(item)).second);
      page_start = page->last_evaluated_key;
      if (seg == 0 && page_start) foreign_key = page_start;
    } while (page_start && ++pages_read < 30);
  }
  EXPECT_EQ(all, paged);
  ASSERT_TRUE(foreign_key.has_value());
  ScanRequest wrong_segment;
  wrong_segment.table = "events";
  wrong_segment.segment = 1;
  wrong_segment.total_segments = 3;
  wrong_segment.exclusive_start_key = foreign_key;
  auto refused = store_->Scan(wrong_segment);
  EXPECT_EQ(StatusCode::kInvalidArgument, refused.status().code());
  EXPECT_NE(std::string::npos, refused.status().message().find("does not map to the provided"));

  ScanRequest filtered;
  filtered.table = "events";
  filtered.filter_expression = "pk = :b";
  filtered.expression.values = {{":b", AV::S("b")}};
  auto r = store_->Scan(filtered);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(3u, r->items.size());
  EXPECT_EQ(23u, r->scanned_count);
}

// LMDB keys are at most 511 bytes; DynamoDB's reach 2048 + 1024. Long keys
// must still read back in exact order, by Get, Query (both directions, with
// ranges and pages) and Scan.
TEST_F(ItemStoreTest, LongKeysKeepExactOrder) {
  TableSchema wide;
  wide.name = "wide";
  wide.partition_key = {"pk", AttributeType::kS};
  wide.sort_key = KeyAttribute{"sk", AttributeType::kS};
  ASSERT_TRUE(store_->CreateTable(wide).ok());
  std::vector<std::string> pks = {"short", std::string(2048, 'p'), std::string(300, 'q')};
  std::vector<std::string> sks;
  std::string common(700, 's');
  for (int i = 0; i < 30; ++i) {
    // Long sort keys that share a 700-byte prefix and differ only at the end,
    // plus short ones, so that truncated and direct keys interleave.
    sks.push_back(common + std::to_string(100 + i));
    sks.push_back(std::string(1, static_cast<char>('a' + i % 26)) + std::to_string(i));
  }
  std::sort(sks.begin(), sks.end());
  sks.erase(std::unique(sks.begin(), sks.end()), sks.end());
  for (const std::string& pk : pks) {
    for (const std::string& sk : sks) {
      ASSERT_TRUE(store_->Put("wide", ItemBuilder().S("pk", pk).S("sk", sk).Build()).ok());
    }
  }
  for (const std::string& pk : pks) {
    auto item = store_->Get("wide", ItemBuilder().S("pk", pk).S("sk", sks[7]).Build());
    ASSERT_TRUE(item.ok() && item->has_value()) << item.status().ToString();
    for (bool forward : {true, false}) {
      std::vector<std::string> seen;
      std::optional<Item> start;
      int pages = 0;
      do {
        QueryRequest q;
        q.table = "wide";
        q.key_condition_expression = "pk = :p AND sk >= :lo";
        q.expression.values = {{":p", AV::S(pk)}, {":lo", AV::S(sks[3])}};
        q.scan_forward = forward;
        q.limit = 7;
        q.exclusive_start_key = start;
        auto page = store_->Query(q);
        ASSERT_TRUE(page.ok()) << page.status().ToString();
        for (const Item& it : page->items) seen.push_back(it.at("sk").s());
        start = page->last_evaluated_key;
      } while (start && ++pages < 100);
      std::vector<std::string> expected(sks.begin() + 3, sks.end());
      if (!forward) std::reverse(expected.begin(), expected.end());
      EXPECT_EQ(expected, seen) << "pk of " << pk.size() << " bytes, forward " << forward;
    }
  }
  ScanRequest scan;
  scan.table = "wide";
  auto all = store_->Scan(scan);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(pks.size() * sks.size(), all->items.size());
  ASSERT_TRUE(
      store_->Delete("wide", ItemBuilder().S("pk", pks[1]).S("sk", sks.back()).Build()).ok());
  EXPECT_FALSE(
      store_->Get("wide", ItemBuilder().S("pk", pks[1]).S("sk", sks.back()).Build())->has_value());
}

TEST_F(ItemStoreTest, BatchWriteAndGet) {
  std::vector<BatchWriteEntry> writes;
  for (int i = 0; i < 25; ++i) {
    writes.push_back(
        {"users", true, ItemBuilder().S("pk", "u" + std::to_string(i)).N("i", i).Build()});
  }
  ASSERT_TRUE(store_->BatchWrite(writes).ok());
  writes.push_back({"users", true, Key("one-too-many")});
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->BatchWrite(writes).code());

  std::vector<BatchWriteEntry> dup = {{"users", true, Key("d")}, {"users", false, Key("d")}};
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->BatchWrite(dup).code());
  // An invalid entry fails the whole batch before anything is written.
  std::vector<BatchWriteEntry> bad = {{"users", true, Key("ok")},
                                      {"users", true, ItemBuilder().N("pk", 1).Build()}};
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->BatchWrite(bad).code());
  EXPECT_FALSE(store_->Get("users", Key("ok"))->has_value());

  BatchGetEntry get{"users", {Key("u1"), Key("u2"), Key("missing")}, "i"};
  auto got = store_->BatchGet({get});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(2u, got->responses["users"].size());
  EXPECT_EQ(1u, got->responses["users"][0].size());

  BatchGetEntry too_many{"users", {}};
  for (int i = 0; i < 101; ++i) too_many.keys.push_back(Key("k" + std::to_string(i)));
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->BatchGet({too_many}).status().code());
}

TEST_F(ItemStoreTest, TransactWriteIsAllOrNothing) {
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "acct1").N("balance", 100).Build()).ok());
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "acct2").N("balance", 0).Build()).ok());

  auto transfer = [&](int amount) {
    TransactWriteEntry debit;
    debit.kind = TransactWriteEntry::Kind::kUpdate;
    debit.table = "users";
    debit.item = Key("acct1");
    debit.update_expression = "SET balance = balance - :a";
    debit.condition_expression = "balance >= :a";
    debit.expression.values = {{":a", AV::N(amount)}};
    TransactWriteEntry credit = debit;
    credit.item = Key("acct2");
    credit.update_expression = "SET balance = balance + :a";
    credit.condition_expression = "";
    TransactWriteEntry audit;
    audit.kind = TransactWriteEntry::Kind::kPut;
    audit.table = "events";
    audit.item = ItemBuilder().S("pk", "audit").N("sk", amount).Build();
    return store_->TransactWrite({debit, credit, audit});
  };
  ASSERT_TRUE(transfer(60).ok());
  EXPECT_EQ(AV::N(40), MustGet("users", Key("acct1")).at("balance"));
  EXPECT_EQ(AV::N(60), MustGet("users", Key("acct2")).at("balance"));

  Status failed = transfer(50);
  EXPECT_EQ(StatusCode::kTransactionCanceled, failed.code());
  EXPECT_EQ(
      "Transaction cancelled, please refer cancellation reasons for specific reasons "
      "[ConditionalCheckFailed, None, None]",
      failed.message());
  EXPECT_EQ(AV::N(40), MustGet("users", Key("acct1")).at("balance"));
  EXPECT_EQ(AV::N(60), MustGet("users", Key("acct2")).at("balance"));
  EXPECT_FALSE(store_->Get("events", Key("audit", 50))->has_value());

  TransactWriteEntry check;
  check.kind = TransactWriteEntry::Kind::kConditionCheck;
  check.table = "users";
  check.item = Key("acct1");
  check.condition_expression = "attribute_exists(pk)";
  TransactWriteEntry same = check;
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->TransactWrite({check, same}).code());
}

// A transaction of three actions whose second one's condition is false.
std::vector<TransactWriteEntry> SecondConditionFails() {
  TransactWriteEntry put;
  put.kind = TransactWriteEntry::Kind::kPut;
  put.table = "users";
  put.item = ItemBuilder().S("pk", "new").Build();
  TransactWriteEntry check;
  check.kind = TransactWriteEntry::Kind::kConditionCheck;
  check.table = "users";
  check.item = Key("acct");
  check.condition_expression = "balance > :big";
  check.expression.values = {{":big", AV::N(1000)}};
  TransactWriteEntry update;
  update.kind = TransactWriteEntry::Kind::kUpdate;
  update.table = "events";
  update.item = Key("audit", 1);
  update.update_expression = "SET n = :one";
  update.expression.values = {{":one", AV::N(1)}};
  return {put, check, update};
}

TEST_F(ItemStoreTest, TransactWriteReportsOneReasonPerActionAsData) {
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "acct").N("balance", 10).Build()).ok());
  using Code = CancellationReason::Code;

  // Stale contents are replaced, not appended to.
  std::vector<CancellationReason> reasons(5, {Code::kValidationError, "stale"});
  Status failed = store_->TransactWrite(SecondConditionFails(), &reasons);
  EXPECT_EQ(StatusCode::kTransactionCanceled, failed.code());
  ASSERT_EQ(3u, reasons.size());
  EXPECT_EQ((CancellationReason{Code::kNone, "", std::nullopt}), reasons[0]);
  EXPECT_EQ((CancellationReason{Code::kConditionalCheckFailed, "The conditional request failed",
                                std::nullopt}),
            reasons[1]);
  EXPECT_EQ((CancellationReason{Code::kNone, "", std::nullopt}), reasons[2]);
  // The message is unchanged, for clients that show it.
  EXPECT_EQ(
      "Transaction cancelled, please refer cancellation reasons for specific reasons "
      "[None, ConditionalCheckFailed, None]",
      failed.message());
  EXPECT_FALSE(store_->Get("users", Key("new"))->has_value());
  EXPECT_FALSE(store_->Get("events", Key("audit", 1))->has_value());

  // An update that would change a key cancels with ValidationError and says
  // why.
  std::vector<TransactWriteEntry> rekey = SecondConditionFails();
  rekey[1].kind = TransactWriteEntry::Kind::kUpdate;
  rekey[1].condition_expression.clear();
  rekey[1].update_expression = "SET pk = :other";
  rekey[1].expression.values = {{":other", AV::S("other")}};
  EXPECT_EQ(StatusCode::kTransactionCanceled, store_->TransactWrite(rekey, &reasons).code());
  ASSERT_EQ(3u, reasons.size());
  EXPECT_EQ(Code::kNone, reasons[0].code);
  EXPECT_EQ(Code::kValidationError, reasons[1].code);
  EXPECT_NE(std::string::npos, reasons[1].message.find("Cannot update attribute pk"))
      << reasons[1].message;
  EXPECT_EQ(Code::kNone, reasons[2].code);

  // Outcomes other than a cancellation carry no reasons.
  std::vector<TransactWriteEntry> duplicate = SecondConditionFails();
  duplicate[2] = duplicate[0];
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->TransactWrite(duplicate, &reasons).code());
  EXPECT_TRUE(reasons.empty());
  std::vector<TransactWriteEntry> passes = SecondConditionFails();
  passes[1].expression.values[":big"] = AV::N(5);
  reasons.resize(2);
  ASSERT_TRUE(store_->TransactWrite(passes, &reasons).ok());
  EXPECT_TRUE(reasons.empty());
  EXPECT_TRUE(store_->Get("users", Key("new"))->has_value());
}

TEST_F(ItemStoreTest, TransactWriteReasonCarriesTheItemWhenAsked) {
  Item acct = ItemBuilder().S("pk", "acct").N("balance", 10).Build();
  ASSERT_TRUE(store_->Put("users", acct).ok());
  using Code = CancellationReason::Code;
  std::vector<TransactWriteEntry> entries = SecondConditionFails();
  std::vector<CancellationReason> reasons;

  // Not asked: no item.
  ASSERT_EQ(StatusCode::kTransactionCanceled, store_->TransactWrite(entries, &reasons).code());
  ASSERT_EQ(3u, reasons.size());
  EXPECT_FALSE(reasons[1].item.has_value());

  // Asked on every action: only the failed one carries its item.
  for (TransactWriteEntry& e : entries) e.return_old_on_condition_failure = true;
  ASSERT_EQ(StatusCode::kTransactionCanceled, store_->TransactWrite(entries, &reasons).code());
  ASSERT_EQ(3u, reasons.size());
  EXPECT_EQ(Code::kConditionalCheckFailed, reasons[1].code);
  EXPECT_EQ(acct, reasons[1].item);
  EXPECT_FALSE(reasons[0].item.has_value());
  EXPECT_FALSE(reasons[2].item.has_value());

  // A condition on a missing item: the reason says there was none.
  entries[1].item = Key("nobody");
  entries[1].condition_expression = "attribute_exists(pk)";
  entries[1].expression.values.clear();
  ASSERT_EQ(StatusCode::kTransactionCanceled, store_->TransactWrite(entries, &reasons).code());
  EXPECT_EQ(Code::kConditionalCheckFailed, reasons[1].code);
  EXPECT_FALSE(reasons[1].item.has_value());
}

TEST_F(ItemStoreTest, TransactWriteAsyncReportsTheSameReasons) {
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "acct").N("balance", 10).Build()).ok());
  std::promise<std::pair<Status, std::vector<CancellationReason>>> reported;
  store_->TransactWriteAsync(SecondConditionFails(),
                             [&](Status status, std::vector<CancellationReason> reasons) {
                               reported.set_value({std::move(status), std::move(reasons)});
                             });
  auto [status, reasons] = reported.get_future().get();
  EXPECT_EQ(StatusCode::kTransactionCanceled, status.code());
  ASSERT_EQ(3u, reasons.size());
  EXPECT_EQ(CancellationReason::Code::kNone, reasons[0].code);
  EXPECT_EQ(CancellationReason::Code::kConditionalCheckFailed, reasons[1].code);
  EXPECT_EQ(CancellationReason::Code::kNone, reasons[2].code);

  // Rejected before queueing (nothing to cancel): no reasons either.
  std::promise<std::pair<Status, std::vector<CancellationReason>>> rejected;
  store_->TransactWriteAsync({}, [&](Status s, std::vector<CancellationReason> r) {
    rejected.set_value({std::move(s), std::move(r)});
  });
  auto [rejected_status, rejected_reasons] = rejected.get_future().get();
  EXPECT_EQ(StatusCode::kInvalidArgument, rejected_status.code());
  EXPECT_TRUE(rejected_reasons.empty());
}

TEST_F(ItemStoreTest, ConcurrentWritersAreAllApplied) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = store_->Update("users", Key("counter"), "ADD n :one", {{":one", AV::N(1)}});
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        ASSERT_TRUE(
            store_
                ->Put("users",
                      ItemBuilder().S("pk", std::to_string(t) + "-" + std::to_string(i)).Build())
                .ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(AV::N(kThreads * kPerThread), MustGet("users", Key("counter")).at("n"));
  auto described = store_->DescribeTable("users");
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(uint64_t{kThreads * kPerThread + 1}, described->item_count);
}

TEST_F(ItemStoreTest, MapGrowsWhenFull) {
  keystone::testing::TempDir dir;
  StoreOptions options;
  options.initial_map_size = 1 << 20;
  auto store = OpenStore(dir.path(), options);
  ASSERT_TRUE(store->CreateTable(UsersSchema()).ok());
  std::string payload(100 * 1024, 'x');
  for (int i = 0; i < 100; ++i) {  // ~10 MB + stream records: several doublings
    auto r = store->Put("users", ItemBuilder().S("pk", std::to_string(i)).S("d", payload).Build());
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().ToString();
  }
  EXPECT_GT(store->GetMapUsage().map_size, uint64_t{8} << 20);
  auto item = store->Get("users", Key("99"));
  ASSERT_TRUE(item.ok() && item->has_value());
}

TEST_F(ItemStoreTest, MapAtMaximumFailsClearlyAndStaysUsable) {
  keystone::testing::TempDir dir;
  StoreOptions options;
  options.initial_map_size = 1 << 20;
  options.max_map_size = 2 << 20;
  auto store = OpenStore(dir.path(), options);
  ASSERT_TRUE(store->CreateTable(UsersSchema()).ok());
  std::string payload(100 * 1024, 'x');
  Status failure;
  int written = 0;
  for (int i = 0; i < 100 && failure.ok(); ++i) {
    auto r = store->Put("users", ItemBuilder().S("pk", std::to_string(i)).S("d", payload).Build());
    if (r.ok()) ++written;
    failure = r.status();
  }
  ASSERT_EQ(StatusCode::kResourceExhausted, failure.code());
  EXPECT_NE(std::string::npos, failure.message().find("max_map_size")) << failure.message();
  // Everything acknowledged is still there; small writes and reads still work.
  for (int i = 0; i < written; ++i) {
    auto item = store->Get("users", Key(std::to_string(i)));
    ASSERT_TRUE(item.ok() && item->has_value()) << i;
  }
  auto described = store->DescribeTable("users");
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(uint64_t(written), described->item_count);
}

TEST_F(ItemStoreTest, DataSurvivesReopen) {
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "persist").N("v", 1).Build()).ok());
  store_.reset();
  store_ = OpenStore(dir_.path());
  EXPECT_EQ(AV::N(1), MustGet("users", Key("persist")).at("v"));
}

// --- Time to Live --------------------------------------------------------------

TEST_F(ItemStoreTest, ExpireItemsDeletesOnlyExpiredItemsAsTtlRemovals) {
  constexpr int64_t kNow = 1'800'000'000;  // epoch seconds
  auto expire = [&](std::optional<Item> resume = std::nullopt, size_t max = 1000) {
    auto r = store_->ExpireItems("users", kNow, resume, max);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ExpireResult{};
  };
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "past").N("exp", kNow - 1).Build()).ok());
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "now").N("exp", kNow).Build()).ok());
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "soon").N("exp", kNow + 1).Build()).ok());
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "text").S("exp", "1").Build()).ok());
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "none").Build()).ok());
  ASSERT_TRUE(store_
                  ->Put("users", ItemBuilder()
                                     .S("pk", "ancient")
                                     .N("exp", kNow - kTimeToLiveMaxAgeSeconds - 1)
                                     .Build())
                  .ok());
  // Milliseconds taken for seconds: far in the future, never expired.
  ASSERT_TRUE(
      store_->Put("users", ItemBuilder().S("pk", "millis").N("exp", kNow * 1000).Build()).ok());

  // Disabled: nothing read, nothing deleted.
  ExpireResult disabled = expire();
  EXPECT_EQ(0u, disabled.scanned);
  EXPECT_EQ(0u, disabled.expired);

  TableUpdate bad;
  bad.ttl = TimeToLiveConfig{true, ""};
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->UpdateTable("users", bad).status().code());
  TableUpdate enable;
  enable.ttl = TimeToLiveConfig{true, "exp"};
  ASSERT_TRUE(store_->UpdateTable("users", enable).ok());
  uint64_t head_before = *store_->HeadSequence();

  // Two items a call: the round resumes where it stopped and ends at the
  // table's end.
  size_t expired = 0, calls = 0;
  std::optional<Item> resume;
  do {
    ExpireResult r = expire(resume, 2);
    EXPECT_LE(r.scanned, 2u);
    expired += r.expired;
    resume = r.resume_after;
    ASSERT_LT(++calls, 10u);
  } while (resume);
  EXPECT_EQ(2u, expired);
  EXPECT_EQ(4u, calls);  // 7 items, 2 a call
  for (const char* kept : {"soon", "text", "none", "ancient", "millis"}) {
    auto item = store_->Get("users", Key(kept));
    ASSERT_TRUE(item.ok());
    EXPECT_TRUE(item->has_value()) << kept;
  }
  for (const char* gone : {"past", "now"}) {
    auto item = store_->Get("users", Key(gone));
    ASSERT_TRUE(item.ok());
    EXPECT_FALSE(item->has_value()) << gone;
  }

  // Each deletion is a REMOVE with the old image, marked as TTL's; a
  // client's delete is not marked.
  ASSERT_TRUE(store_->Delete("users", Key("none")).ok());
  auto batch = store_->ReadStream("users", head_before, 100);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(3u, batch->records.size());
  for (size_t i = 0; i < 2; ++i) {
    const StreamRecord& r = batch->records[i];
    EXPECT_EQ(StreamEventType::kRemove, r.type);
    EXPECT_TRUE(r.expired_by_ttl);
    ASSERT_TRUE(r.old_image.has_value());
    EXPECT_TRUE(r.old_image->count("exp"));
  }
  EXPECT_FALSE(batch->records[2].expired_by_ttl);

  // A later round finds nothing more; the config survives a reopen.
  EXPECT_EQ(0u, expire().expired);
  store_.reset();
  store_ = OpenStore(dir_.path());
  auto described = store_->DescribeTable("users");
  ASSERT_TRUE(described.ok());
  EXPECT_EQ((TimeToLiveConfig{true, "exp"}), described->schema.ttl);
  auto later = store_->ExpireItems("users", kNow + 10, std::nullopt, 1000);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(1u, later->expired);  // "soon"
  EXPECT_EQ(StatusCode::kNotFound,
            store_->ExpireItems("nosuch", kNow, std::nullopt, 10).status().code());

  TableUpdate disable;
  disable.ttl = TimeToLiveConfig{};
  ASSERT_TRUE(store_->UpdateTable("users", disable).ok());
  EXPECT_EQ(TimeToLiveConfig{}, store_->DescribeTable("users")->schema.ttl);
}

// A large expiry is split into transactions of a few hundred deletes, so that
// clients' writes are not held behind it.
TEST_F(ItemStoreTest, LargeExpiryIsSplitIntoBoundedTransactions) {
  constexpr int64_t kNow = 1'800'000'000;
  std::vector<BatchWriteEntry> entries;
  for (int i = 0; i < 600; ++i) {
    entries.push_back(
        {"users", true, ItemBuilder().S("pk", "k" + std::to_string(i)).N("exp", kNow - 1).Build()});
    if (entries.size() == kMaxBatchWriteItems) {
      ASSERT_TRUE(store_->BatchWrite(entries).ok());
      entries.clear();
    }
  }
  TableUpdate enable;
  enable.ttl = TimeToLiveConfig{true, "exp"};
  ASSERT_TRUE(store_->UpdateTable("users", enable).ok());
  uint64_t batches_before = store_->stats().write_batches.load();
  auto r = store_->ExpireItems("users", kNow, std::nullopt, 1000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(600u, r->scanned);
  EXPECT_EQ(600u, r->expired);
  EXPECT_FALSE(r->resume_after.has_value());
  EXPECT_EQ(3u, store_->stats().write_batches.load() - batches_before);  // 256 + 256 + 88
  EXPECT_EQ(0u, store_->DescribeTable("users")->item_count);
}

// --- Billing ------------------------------------------------------------------

constexpr int64_t kStartMs = 1'700'000'000'000;

// A store in its own directory on a fake clock starting at kStartMs;
// Open() (re)opens it.
class ItemStoreBillingTest : public ::testing::Test {
 protected:
  std::unique_ptr<ItemStore> Open() {
    StoreOptions options;
    options.clock = &clock;
    return OpenStore(dir.path(), options);
  }

  keystone::testing::TempDir dir;
  FakeClock clock{kStartMs};
};

TEST_F(ItemStoreBillingTest, BillingPersistsAcrossReopenAndUpdates) {
  auto store = Open();
  ASSERT_NE(nullptr, store);
  TableSchema schema = UsersSchema();
  schema.billing = {BillingMode::kProvisioned, 5, 7};
  ASSERT_TRUE(store->CreateTable(schema).ok());
  ASSERT_TRUE(store->CreateTable(EventsSchema()).ok());

  store.reset();
  store = Open();
  auto described = store->DescribeTable("users");
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  EXPECT_EQ(schema, described->schema);
  EXPECT_EQ(kStartMs, described->billing_mode_changed_ms);
  // The default is on demand.
  EXPECT_EQ(BillingConfig{}, store->DescribeTable("events")->schema.billing);
  EXPECT_EQ(BillingMode::kPayPerRequest, store->DescribeTable("events")->schema.billing.mode);

  // A change of mode is stamped; stream and billing change together.
  clock.AdvanceMs(5000);
  TableUpdate update;
  update.billing = BillingConfig{};
  update.stream = schema.stream;
  update.stream->enabled = false;
  auto updated = store->UpdateTable("users", update);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(BillingConfig{}, updated->schema.billing);
  EXPECT_FALSE(updated->schema.stream.enabled);
  EXPECT_EQ(kStartMs + 5000, updated->billing_mode_changed_ms);

  clock.AdvanceMs(5000);
  update = {};
  update.billing = BillingConfig{BillingMode::kProvisioned, 2, 3};
  ASSERT_TRUE(store->UpdateTable("users", update).ok());
  // New units in the same mode are no mode change; stream updates leave
  // billing alone.
  clock.AdvanceMs(5000);
  update.billing = BillingConfig{BillingMode::kProvisioned, 20, 30};
  ASSERT_TRUE(store->UpdateTable("users", update).ok());
  ASSERT_TRUE(store->UpdateStream("users", schema.stream).ok());

  store.reset();
  store = Open();
  described = store->DescribeTable("users");
  ASSERT_TRUE(described.ok());
  EXPECT_EQ((BillingConfig{BillingMode::kProvisioned, 20, 30}), described->schema.billing);
  EXPECT_EQ(kStartMs + 10000, described->billing_mode_changed_ms);
  EXPECT_TRUE(described->schema.stream.enabled);
}

TEST_F(ItemStoreBillingTest, UnitsThatDoNotFitTheModeAreRejected) {
  auto store = Open();
  ASSERT_NE(nullptr, store);
  TableSchema schema = UsersSchema();
  schema.billing = {BillingMode::kProvisioned, 0, 7};
  EXPECT_EQ(StatusCode::kInvalidArgument, store->CreateTable(schema).code());
  schema.billing = {BillingMode::kPayPerRequest, 1, 1};
  EXPECT_EQ(StatusCode::kInvalidArgument, store->CreateTable(schema).code());
  EXPECT_EQ(StatusCode::kNotFound, store->DescribeTable("users").status().code());

  schema.billing = {};
  ASSERT_TRUE(store->CreateTable(schema).ok());
  TableUpdate update;
  update.billing = BillingConfig{BillingMode::kProvisioned, 3, 0};
  update.stream = schema.stream;
  update.stream->enabled = false;
  EXPECT_EQ(StatusCode::kInvalidArgument, store->UpdateTable("users", update).status().code());
  auto described = store->DescribeTable("users");
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(schema, described->schema);  // nothing of the update was applied
}

// Overwrites `table`'s catalog entry with the encoding the store used before
// it kept billing (format 1, ending with created_sequence), built here byte
// by byte so that it does not depend on today's encoder.
void WriteEntryWithoutBilling(const std::string& path, const TableDescription& d,
                              const StreamInfo& s) {
  LmdbOptions lmdb;
  lmdb.path = path;
  lmdb.sync = false;
  auto env = LmdbEnv::Open(lmdb);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  auto txn = (*env)->BeginWrite();
  ASSERT_TRUE(txn.ok());
  auto id = txn->Get(LmdbEnv::kCatalog, d.schema.name);
  ASSERT_TRUE(id.ok());
  ASSERT_EQ(d.table_id, ReadBigEndian32(*id));
  std::string id_key(*id);
  std::string entry;
  entry.push_back(1);  // format
  PutVarint(d.table_id, &entry);
  PutLengthPrefixed(d.schema.name, &entry);
  PutLengthPrefixed(d.schema.partition_key.name, &entry);
  entry.push_back(static_cast<char>(d.schema.partition_key.type));
  entry.push_back(0);  // no sort key
  entry.push_back(1);  // stream enabled
  entry.push_back(static_cast<char>(d.schema.stream.view_type));
  PutVarint(d.schema.stream.buffer_size, &entry);
  entry.push_back(1);  // exists
  for (uint64_t v : {static_cast<uint64_t>(d.created_ms), static_cast<uint64_t>(d.stream_label_ms),
                     d.item_count, d.size_bytes, s.record_count, s.record_bytes, s.oldest_sequence,
                     s.latest_sequence, s.trimmed_through, s.label_start_sequence}) {
    PutVarint(v, &entry);
  }
  entry.push_back(1);  // stream since creation
  PutVarint(s.created_sequence, &entry);
  ASSERT_TRUE(txn->Put(LmdbEnv::kTables, id_key, entry).ok());
  ASSERT_TRUE(txn->Commit().ok());
}

TEST_F(ItemStoreBillingTest, TableStoredWithoutBillingLoadsAsPayPerRequest) {
  auto store = Open();
  ASSERT_NE(nullptr, store);
  TableSchema schema = UsersSchema();
  schema.billing = {BillingMode::kProvisioned, 5, 7};  // to see that it is not kept
  ASSERT_TRUE(store->CreateTable(schema).ok());
  ASSERT_TRUE(store->Put("users", ItemBuilder().S("pk", "old").N("v", 1).Build()).ok());
  auto before = store->DescribeTable("users");
  auto stream = store->GetStreamInfo("users");
  ASSERT_TRUE(before.ok() && stream.ok());
  store.reset();
  WriteEntryWithoutBilling(dir.path(), *before, *stream);
  if (HasFatalFailure()) return;

  clock.AdvanceMs(5000);
  store = Open();
  ASSERT_NE(nullptr, store);
  auto described = store->DescribeTable("users");
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  EXPECT_EQ(BillingConfig{}, described->schema.billing);
  EXPECT_EQ(kStartMs, described->billing_mode_changed_ms);  // since creation
  schema.billing = {};
  EXPECT_EQ(schema, described->schema);
  EXPECT_EQ(before->created_ms, described->created_ms);
  EXPECT_EQ(1u, described->item_count);
  // The rest of the entry reads as before: items, stream and its counters.
  EXPECT_EQ(ItemBuilder().S("pk", "old").N("v", 1).Build(), **store->Get("users", Key("old")));
  auto records = store->ReadStream("users", 0, 10);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  EXPECT_EQ(1u, records->records.size());
  EXPECT_TRUE(store->GetStreamInfo("users")->holds_whole_history);

  // Written again, the entry keeps billing from then on.
  TableUpdate update;
  update.billing = BillingConfig{BillingMode::kProvisioned, 1, 2};
  ASSERT_TRUE(store->UpdateTable("users", update).ok());
  store.reset();
  store = Open();
  described = store->DescribeTable("users");
  ASSERT_TRUE(described.ok());
  EXPECT_EQ((BillingConfig{BillingMode::kProvisioned, 1, 2}), described->schema.billing);
  EXPECT_EQ(kStartMs + 5000, described->billing_mode_changed_ms);
}

}  // namespace
TEST_F(ItemStoreTest, TransactGetReadsOneSnapshotInOrder) {
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "a").N("n", 1).S("x", "y").Build()).ok());
  ASSERT_TRUE(store_->Put("events", ItemBuilder().S("pk", "e").N("sk", 2).Build()).ok());
  std::vector<GetItemRequest> gets(3);
  gets[0] = {"events", ItemBuilder().S("pk", "e").N("sk", 2).Build(), "", {}};
  gets[1] = {"users", Key("missing"), "", {}};
  gets[2] = {"users", Key("a"), "n", {}};
  auto got = store_->TransactGet(gets);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(3u, got->size());
  EXPECT_TRUE((*got)[0].has_value());
  EXPECT_FALSE((*got)[1].has_value());
  ASSERT_TRUE((*got)[2].has_value());
  EXPECT_EQ((ItemBuilder().N("n", 1).Build()), *(*got)[2]);  // projected

  gets[1] = {"users", Key("a"), "", {}};
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->TransactGet(gets).status().code());
  EXPECT_EQ(StatusCode::kInvalidArgument, store_->TransactGet({}).status().code());
  EXPECT_EQ(StatusCode::kNotFound,
            store_->TransactGet({{"nope", Key("a"), "", {}}}).status().code());

  // A snapshot: while writers keep two items equal in one transaction, every
  // TransactGet sees them equal.
  auto pair_write = [&](int v) {
    std::vector<TransactWriteEntry> both(2);
    for (int i = 0; i < 2; ++i) {
      both[i].kind = TransactWriteEntry::Kind::kPut;
      both[i].table = "users";
      both[i].item = ItemBuilder().S("pk", i == 0 ? "p" : "q").N("v", v).Build();
    }
    return store_->TransactWrite(both);
  };
  ASSERT_TRUE(pair_write(0).ok());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int v = 1; !stop; ++v) ASSERT_TRUE(pair_write(v).ok());
  });
  for (int i = 0; i < 300; ++i) {
    auto pair = store_->TransactGet({{"users", Key("p"), "", {}}, {"users", Key("q"), "", {}}});
    ASSERT_TRUE(pair.ok());
    ASSERT_EQ((*pair)[0]->at("v"), (*pair)[1]->at("v")) << "read across a write";
  }
  stop = true;
  writer.join();
}

// ClientRequestToken: a transaction retried with its token applies once.
class ClientRequestTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Reopen();
    ASSERT_TRUE(store_->CreateTable(UsersSchema()).ok());
    ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "c").N("n", 0).Build()).ok());
  }
  void Reopen() {
    store_.reset();
    StoreOptions options;
    options.clock = &clock_;
    store_ = OpenStore(dir_.path(), options);
    ASSERT_NE(nullptr, store_);
  }
  // ADD n :by to item "c" (an update that is not idempotent by itself).
  static std::vector<TransactWriteEntry> Increment(int by) {
    TransactWriteEntry e;
    e.kind = TransactWriteEntry::Kind::kUpdate;
    e.table = "users";
    e.item = Key("c");
    e.update_expression = "ADD n :by";
    e.expression.values = {{":by", AV::N(by)}};
    return {e};
  }
  AttributeValue Counter() {
    auto item = store_->Get("users", Key("c"));
    EXPECT_TRUE(item.ok() && item->has_value());
    return item.ok() && item->has_value() ? (**item).at("n") : AV::N(-1);
  }
  size_t StreamRecords() {
    auto batch = store_->ReadStream("users", 0, 1000);
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    return batch.ok() ? batch->records.size() : 0;
  }

  keystone::testing::TempDir dir_;
  FakeClock clock_{1'700'000'000'000};
  std::unique_ptr<ItemStore> store_;
};

TEST_F(ClientRequestTokenTest, ARetryWithTheSameTokenAppliesOnce) {
  size_t records = StreamRecords();
  ASSERT_TRUE(store_->TransactWrite(Increment(1), nullptr, "token-1").ok());
  // The retry succeeds and changes nothing: no second increment, no record.
  ASSERT_TRUE(store_->TransactWrite(Increment(1), nullptr, "token-1").ok());
  EXPECT_EQ(AV::N(1), Counter());
  EXPECT_EQ(records + 1, StreamRecords());
  // Without a token, or with another, it applies.
  ASSERT_TRUE(store_->TransactWrite(Increment(1)).ok());
  ASSERT_TRUE(store_->TransactWrite(Increment(1), nullptr, "token-2").ok());
  EXPECT_EQ(AV::N(3), Counter());
  // Also through the asynchronous form, and after a restart (the token is
  // stored with the data).
  std::promise<Status> retried;
  store_->TransactWriteAsync(
      Increment(1), "token-2",
      [&](Status s, std::vector<CancellationReason>) { retried.set_value(std::move(s)); });
  EXPECT_TRUE(retried.get_future().get().ok());
  Reopen();
  ASSERT_TRUE(store_->TransactWrite(Increment(1), nullptr, "token-1").ok());
  EXPECT_EQ(AV::N(3), Counter());
}

TEST_F(ClientRequestTokenTest, TheSameTokenWithAnotherRequestIsAMismatch) {
  ASSERT_TRUE(store_->TransactWrite(Increment(1), nullptr, "t").ok());
  Status other = store_->TransactWrite(Increment(5), nullptr, "t");
  EXPECT_EQ(StatusCode::kIdempotencyMismatch, other.code()) << other.ToString();
  EXPECT_NE(std::string::npos, other.message().find("same client token")) << other.message();
  EXPECT_EQ(AV::N(1), Counter());
  // Past the window the token is forgotten: the same token applies again.
  clock_.AdvanceMs(kClientRequestTokenWindowMs);
  ASSERT_TRUE(store_->TransactWrite(Increment(5), nullptr, "t").ok());
  EXPECT_EQ(AV::N(6), Counter());
  ASSERT_TRUE(store_->TransactWrite(Increment(5), nullptr, "t").ok());
  EXPECT_EQ(AV::N(6), Counter());
}

TEST_F(ClientRequestTokenTest, ACancelledTransactionLeavesNoToken) {
  std::vector<TransactWriteEntry> guarded = Increment(1);
  guarded[0].condition_expression = "n = :want";
  guarded[0].expression.values[":want"] = AV::N(7);
  EXPECT_EQ(StatusCode::kTransactionCanceled, store_->TransactWrite(guarded, nullptr, "g").code());
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "c").N("n", 7).Build()).ok());
  // The same token and request now succeed: the failure recorded nothing.
  ASSERT_TRUE(store_->TransactWrite(guarded, nullptr, "g").ok());
  EXPECT_EQ(AV::N(8), Counter());
}

TEST_F(ClientRequestTokenTest, TokensAreValidatedAndExpire) {
  EXPECT_EQ(StatusCode::kInvalidArgument,
            store_->TransactWrite(Increment(1), nullptr, std::string(37, 't')).code());
  // Many tokens, then the window passes: each new token expires old ones, and
  // an expired token can be used again.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(store_->TransactWrite(Increment(1), nullptr, "many-" + std::to_string(i)).ok());
  }
  EXPECT_EQ(AV::N(100), Counter());
  clock_.AdvanceMs(kClientRequestTokenWindowMs + 1);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(store_->TransactWrite(Increment(1), nullptr, "many-" + std::to_string(i)).ok());
  }
  EXPECT_EQ(AV::N(200), Counter());
  // ...and the renewed ones hold again.
  ASSERT_TRUE(store_->TransactWrite(Increment(1), nullptr, "many-0").ok());
  EXPECT_EQ(AV::N(200), Counter());
  // Once all are past the window, ten new tokens clear the hundred old ones
  // from the store (each removes up to 16 expired).
  clock_.AdvanceMs(kClientRequestTokenWindowMs + 1);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store_->TransactWrite(Increment(1), nullptr, "new-" + std::to_string(i)).ok());
  }
  store_.reset();
  LmdbOptions lmdb;
  lmdb.path = dir_.path();
  auto env = LmdbEnv::Open(lmdb);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  auto txn = (*env)->BeginRead();
  ASSERT_TRUE(txn.ok());
  MDB_cursor* cursor = nullptr;
  ASSERT_EQ(0, mdb_cursor_open(txn->get(), (*env)->dbi(LmdbEnv::kMeta), &cursor));
  int tokens = 0, expiries = 0;
  MDB_val k, v;
  for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
    if (key.starts_with("txtoken/")) ++tokens;
    if (key.starts_with("txexpiry/")) ++expiries;
  }
  mdb_cursor_close(cursor);
  EXPECT_EQ(10, tokens);
  EXPECT_EQ(10, expiries);
}

// The sizes DynamoDB's capacity accounting charges by: whole items
// (ItemSizeBytes), before and after a write, whatever a read projects.
TEST_F(ItemStoreTest, OperationsReportTheItemSizesTheyTouched) {
  Item big = ItemBuilder().S("pk", "a").S("body_text", std::string(3000, 'x')).Build();
  const uint64_t big_bytes = ItemSizeBytes(big);
  auto put = store_->Put("users", big);
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(0u, put->old_item_bytes);
  EXPECT_EQ(big_bytes, put->new_item_bytes);
  auto updated = store_->Update("users", Key("a"), "REMOVE body_text");
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(big_bytes, updated->old_item_bytes);
  EXPECT_EQ(ItemSizeBytes(Key("a")), updated->new_item_bytes);
  ASSERT_TRUE(store_->Put("users", big).ok());

  uint64_t read_bytes = 1;
  auto got = store_->GetItem({"users", Key("a"), "pk", {}}, &read_bytes);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(1u, (*got)->size());  // projected, yet charged whole
  EXPECT_EQ(big_bytes, read_bytes);
  ASSERT_TRUE(store_->GetItem({"users", Key("absent"), "", {}}, &read_bytes).ok());
  EXPECT_EQ(0u, read_bytes);

  ASSERT_TRUE(store_->Put("users", Key("b")).ok());
  ScanRequest scan;
  scan.table = "users";
  scan.filter_expression = "attribute_exists(nothing)";
  scan.measure_scanned_bytes = true;
  auto scanned = store_->Scan(scan);
  ASSERT_TRUE(scanned.ok());
  EXPECT_TRUE(scanned->items.empty());
  EXPECT_EQ(big_bytes + ItemSizeBytes(Key("b")), scanned->scanned_bytes);

  auto batch = store_->BatchGet({{"users", {Key("b"), Key("absent"), Key("a")}, "", {}}});
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ((std::vector<uint64_t>{ItemSizeBytes(Key("b")), 0, big_bytes}),
            batch->item_bytes.at("users"));
  std::vector<uint64_t> transact_bytes;
  ASSERT_TRUE(
      store_
          ->TransactGet({{"users", Key("a"), "", {}}, {"users", Key("c"), "", {}}}, &transact_bytes)
          .ok());
  EXPECT_EQ((std::vector<uint64_t>{big_bytes, 0}), transact_bytes);

  // The item sizes of what a batch or a transaction wrote (a table without
  // indexes: no index writes).
  auto item_sizes = [](const std::vector<WrittenSize>& written) {
    std::vector<uint64_t> sizes;
    for (const WrittenSize& w : written) {
      EXPECT_TRUE(w.index_writes.empty());
      sizes.push_back(w.item_bytes);
    }
    return sizes;
  };
  std::promise<std::vector<uint64_t>> written;
  store_->BatchWriteAsync({{"users", false, Key("a")}, {"users", true, Key("c")}},
                          [&](Status s, std::vector<WrittenSize> sizes) {
                            EXPECT_TRUE(s.ok()) << s.ToString();
                            written.set_value(item_sizes(sizes));
                          });
  EXPECT_EQ((std::vector<uint64_t>{big_bytes, ItemSizeBytes(Key("c"))}),
            written.get_future().get());

  std::vector<TransactWriteEntry> actions(2);
  actions[0].kind = TransactWriteEntry::Kind::kConditionCheck;
  actions[0].table = "users";
  actions[0].item = Key("b");
  actions[0].condition_expression = "attribute_exists(pk)";
  actions[1].kind = TransactWriteEntry::Kind::kPut;
  actions[1].table = "users";
  actions[1].item = big;
  std::promise<std::vector<uint64_t>> transacted;
  store_->TransactWriteAsync(
      actions, "", [&](Status s, std::vector<CancellationReason>, std::vector<WrittenSize> sizes) {
        EXPECT_TRUE(s.ok()) << s.ToString();
        transacted.set_value(item_sizes(sizes));
      });
  EXPECT_EQ((std::vector<uint64_t>{ItemSizeBytes(Key("b")), big_bytes}),
            transacted.get_future().get());
}

// A parallel scan's page ends at 1 MB read, as a plain scan's does.
TEST_F(ItemStoreTest, ParallelScanPagesEndAtOneMegabyte) {
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(store_
                    ->Put("users", ItemBuilder()
                                       .S("pk", "k" + std::to_string(i))
                                       .S("body_text", std::string(100 * 1024, 'x'))
                                       .Build())
                    .ok());
  }
  size_t seen = 0;
  for (uint32_t seg = 0; seg < 2; ++seg) {
    std::optional<Item> start;
    int pages = 0;
    do {
      ScanRequest s;
      s.table = "users";
      s.segment = seg;
      s.total_segments = 2;
      s.exclusive_start_key = start;
      auto page = store_->Scan(s);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      EXPECT_LE(page->items.size(), 11u);  // 1 MB of 100 KB items, the last one past it
      seen += page->items.size();
      start = page->last_evaluated_key;
      ++pages;
    } while (start && pages < 20);
    EXPECT_GE(pages, 2);  // ~2 MB per segment
  }
  EXPECT_EQ(40u, seen);
}

TEST_F(ItemStoreTest, EmptyAttributeNamesAreRefused) {
  Item unnamed = Key("a");
  unnamed[""] = AttributeValue::S("x");
  auto put = store_->Put("users", unnamed);
  EXPECT_EQ(StatusCode::kInvalidArgument, put.status().code());
  EXPECT_NE(std::string::npos, put.status().message().find("attribute name may not be empty"));
  UpdateItemRequest update;
  update.table = "users";
  update.key = Key("a");
  update.update_expression = "SET #e = :v";
  update.expression.names["#e"] = "";
  update.expression.values[":v"] = AttributeValue::S("x");
  auto updated = store_->UpdateItem(update);
  EXPECT_EQ(StatusCode::kInvalidArgument, updated.status().code());
  EXPECT_NE(std::string::npos, updated.status().message().find("Empty attribute name for key #e"));
  auto got = store_->Get("users", Key("a"));
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
}

}  // namespace keystone::store
