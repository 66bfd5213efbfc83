// Daemon wiring in-process: table reconciliation, reload, restart-needing
// sections, log line formats.

#include "daemon/daemon.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "daemon/logging.h"
#include "lmdb_store/item_store.h"
#include "tests/testing/temp_dir.h"

namespace keystone::daemon {
namespace {

using store::AttributeType;
using store::StreamViewType;
using store::TableSchema;
using testing::TempDir;

TableSchema Table(const std::string& name, bool sort_key = true) {
  TableSchema t;
  t.name = name;
  t.partition_key = {"pk", AttributeType::kS};
  if (sort_key) t.sort_key = store::KeyAttribute{"sk", AttributeType::kN};
  return t;
}

std::unique_ptr<store::ItemStore> OpenStore(const TempDir& dir) {
  store::StoreOptions o;
  o.path = dir.Sub("store");
  o.sync = false;
  auto s = store::ItemStore::Open(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

TEST(ReconcileTablesTest, CreatesMissingTablesOnce) {
  TempDir dir;
  auto store = OpenStore(dir);
  auto changes = ReconcileTables(*store, {Table("users"), Table("orders", false)});
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  ASSERT_EQ(2u, changes->size());
  EXPECT_EQ(
      "created table 'users' (partition key pk (S), sort key sk (N); stream NEW_AND_OLD_IMAGES, "
      "buffer_size 1000)",
      (*changes)[0]);
  auto again = ReconcileTables(*store, {Table("users"), Table("orders", false)});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  auto names = store->ListTables();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ((std::vector<std::string>{"orders", "users"}), *names);
}

TEST(ReconcileTablesTest, KeySchemaMismatchIsAClearError) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_TRUE(ReconcileTables(*store, {Table("users")}).ok());
  TableSchema other = Table("users", false);
  other.partition_key = {"id", AttributeType::kN};
  auto changes = ReconcileTables(*store, {other});
  ASSERT_FALSE(changes.ok());
  EXPECT_EQ(StatusCode::kFailedPrecondition, changes.status().code());
  EXPECT_EQ(
      "table 'users' exists with partition key pk (S), sort key sk (N) but the config asks for "
      "partition key id (N), no sort key; change the config or delete the table",
      changes.status().message());
}

store::SecondaryIndex GlobalIndex(const std::string& name, const std::string& key) {
  store::SecondaryIndex index;
  index.name = name;
  index.partition_key = {key, AttributeType::kS};
  return index;
}

TEST(ReconcileTablesTest, IndexesOfTheConfigAreCreatedAndOthersLeftAlone) {
  TempDir dir;
  auto store = OpenStore(dir);
  TableSchema users = Table("users");
  users.indexes = {GlobalIndex("by_email", "email")};
  auto changes = ReconcileTables(*store, {users});
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  ASSERT_EQ(1u, changes->size());
  EXPECT_EQ(
      "created table 'users' (partition key pk (S), sort key sk (N); stream NEW_AND_OLD_IMAGES, "
      "buffer_size 1000; index 'by_email' (global, partition key email (S), no sort key, "
      "projection ALL))",
      (*changes)[0]);
  ASSERT_TRUE(store
                  ->Put("users", store::ItemBuilder()
                                     .S("pk", "u1")
                                     .N("sk", 1)
                                     .S("email", "a@x")
                                     .S("team", "red")
                                     .Build())
                  .ok());
  // A global index the config adds later is created and filled.
  users.indexes.push_back(GlobalIndex("by_team", "team"));
  changes = ReconcileTables(*store, {users});
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  ASSERT_EQ(1u, changes->size());
  EXPECT_EQ(
      "table 'users': created index 'by_team' (global, partition key team (S), no sort key, "
      "projection ALL)",
      (*changes)[0]);
  // It fills in the background (keystoned does not wait for it to start).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  Result<store::TableDescription> described = store->DescribeTable("users");
  while (described.ok() && described->indexes.size() == 2 && described->indexes[1].backfilling &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    described = store->DescribeTable("users");
  }
  ASSERT_TRUE(described.ok());
  ASSERT_EQ(2u, described->indexes.size());
  EXPECT_FALSE(described->indexes[1].backfilling);
  EXPECT_EQ(1u, described->indexes[1].item_count);
  // An index the config does not list (made through the API) stays.
  changes = ReconcileTables(*store, {Table("users")});
  ASSERT_TRUE(changes.ok());
  EXPECT_TRUE(changes->empty());
  EXPECT_EQ(2u, store->DescribeTable("users")->schema.indexes.size());
  // A different definition under the same name is an error, as is a local
  // index the table was not made with.
  TableSchema changed = users;
  changed.indexes[0].projection.type = store::ProjectionType::kKeysOnly;
  changes = ReconcileTables(*store, {changed});
  ASSERT_FALSE(changes.ok());
  EXPECT_EQ(StatusCode::kFailedPrecondition, changes.status().code());
  EXPECT_EQ(
      "table 'users' has index 'by_email' as 'by_email' (global, partition key email (S), no sort "
      "key, projection ALL) but the config asks for 'by_email' (global, partition key email (S), "
      "no sort key, projection KEYS_ONLY); change the config or delete the index",
      changes.status().message());
  TableSchema local = Table("users");
  store::SecondaryIndex by_age;
  by_age.name = "by_age";
  by_age.global = false;
  by_age.partition_key = local.partition_key;
  by_age.sort_key = store::KeyAttribute{"age", AttributeType::kN};
  local.indexes = {by_age};
  changes = ReconcileTables(*store, {local});
  ASSERT_FALSE(changes.ok());
  EXPECT_NE(std::string::npos, changes.status().message().find("has no local index 'by_age'"));
}

TEST(ReconcileTablesTest, TimeToLiveDifferencesAreApplied) {
  TempDir dir;
  auto store = OpenStore(dir);
  TableSchema with_ttl = Table("users");
  with_ttl.ttl = {true, "expires"};
  ASSERT_TRUE(ReconcileTables(*store, {with_ttl}).ok());
  EXPECT_EQ(with_ttl.ttl, store->DescribeTable("users")->schema.ttl);
  auto same = ReconcileTables(*store, {with_ttl});
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->empty());

  TableSchema other = with_ttl;
  other.ttl.attribute_name = "gone_at";
  auto changes = ReconcileTables(*store, {other});
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(1u, changes->size());
  EXPECT_EQ(
      "table 'users': Time to Live changed from on attribute 'expires' to on attribute 'gone_at'",
      (*changes)[0]);
  changes = ReconcileTables(*store, {Table("users")});
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(1u, changes->size());
  EXPECT_EQ("table 'users': Time to Live changed from on attribute 'gone_at' to disabled",
            (*changes)[0]);
  EXPECT_FALSE(store->DescribeTable("users")->schema.ttl.enabled);
}

TEST(ReconcileTablesTest, StreamDifferencesAreApplied) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_TRUE(ReconcileTables(*store, {Table("users")}).ok());
  TableSchema keys_only = Table("users");
  keys_only.stream.view_type = StreamViewType::kKeysOnly;
  auto changes = ReconcileTables(*store, {keys_only});
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(1u, changes->size());
  EXPECT_EQ(
      "table 'users': stream changed from NEW_AND_OLD_IMAGES, buffer_size 1000 to KEYS_ONLY, "
      "buffer_size 1000",
      (*changes)[0]);
  auto d = store->DescribeTable("users");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(StreamViewType::kKeysOnly, d->schema.stream.view_type);

  TableSchema off = Table("users");
  off.stream.enabled = false;
  changes = ReconcileTables(*store, {off});
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(1u, changes->size());
  EXPECT_NE(std::string::npos, (*changes)[0].find("to disabled"));
  // A disabled stream's other settings do not matter.
  off.stream.view_type = StreamViewType::kNewImage;
  changes = ReconcileTables(*store, {off});
  ASSERT_TRUE(changes.ok());
  EXPECT_TRUE(changes->empty());
}

TEST(SectionsNeedingRestartTest, ListsChangedSections) {
  DaemonOptions a;
  DaemonOptions b = a;
  EXPECT_TRUE(SectionsNeedingRestart(a, b).empty());
  b.http.listen = "127.0.0.1:9000";
  b.auth.access_keys = {{"AKID", "secret"}};
  b.store.sync = false;
  b.tables.push_back(Table("users"));  // applied, not listed
  b.logging.level = LogLevel::kDebug;  // applied, not listed
  EXPECT_EQ((std::vector<std::string>{"sync", "http", "auth"}), SectionsNeedingRestart(a, b));
}

TEST(LoggingTest, TextAndJsonLines) {
  // 2024-01-02T03:04:05.678Z
  int64_t t = 1704164645678;
  EXPECT_EQ("2024-01-02T03:04:05.678Z info http: listening on x",
            FormatLogLine(LogFormat::kText, t, LogLevel::kInfo, "http", "listening on x"));
  EXPECT_EQ("2024-01-02T03:04:05.678Z warn store: two\\nlines",
            FormatLogLine(LogFormat::kText, t, LogLevel::kWarn, "store", "two\nlines"));
  EXPECT_EQ(
      R"({"time":"2024-01-02T03:04:05.678Z","level":"error","component":"cdc","message":"say \"hi\"\\ \n\u0001"})",
      FormatLogLine(LogFormat::kJson, t, LogLevel::kError, "cdc", "say \"hi\"\\ \n\x01"));
}

class DaemonTest : public ::testing::Test {
 protected:
  DaemonOptions Options() {
    DaemonOptions o;
    o.store.path = dir_.Sub("data");
    o.store.sync = false;
    o.http.listen = "127.0.0.1:0";
    o.metrics.listen = "127.0.0.1:0";
    o.tables = {Table("users")};
    return o;
  }
  TempDir dir_;
};

TEST_F(DaemonTest, StartsServesReloadsAndStops) {
  auto started = Daemon::Start(Options());
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<Daemon> d = std::move(started).value();
  EXPECT_TRUE(d->Healthy());
  ASSERT_EQ(0u, d->http_url().find("http://127.0.0.1:"));
  EXPECT_FALSE(d->metrics_address().empty());

  httplib::Client c(d->http_url());
  auto list = c.Post("/", {{"X-Amz-Target", "DynamoDB_20120810.ListTables"}}, "{}",
                     "application/x-amz-json-1.0");
  ASSERT_TRUE(list);
  EXPECT_EQ(R"({"TableNames":["users"]})", list->body);

  DaemonOptions next = Options();
  next.tables.push_back(Table("orders", false));
  next.http.worker_threads = 3;  // needs a restart: logged, not applied
  d->Reload(next);
  list = c.Post("/", {{"X-Amz-Target", "DynamoDB_20120810.ListTables"}}, "{}",
                "application/x-amz-json-1.0");
  ASSERT_TRUE(list);
  EXPECT_EQ(R"({"TableNames":["orders","users"]})", list->body);
  EXPECT_EQ(8u, d->options().http.worker_threads);
  EXPECT_EQ(2u, d->options().tables.size());

  d->Stop();
  EXPECT_FALSE(d->Healthy());
  d->Stop();  // idempotent
}

TEST_F(DaemonTest, StartupErrorsAreClear) {
  {
    auto d = Daemon::Start(Options());
    ASSERT_TRUE(d.ok());
  }
  DaemonOptions mismatch = Options();
  mismatch.tables[0].sort_key.reset();
  auto bad = Daemon::Start(mismatch);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string::npos, bad.status().message().find("table 'users' exists with"));

  auto first = Daemon::Start(Options());
  ASSERT_TRUE(first.ok());
  DaemonOptions busy = Options();
  busy.store.path = dir_.Sub("other");
  busy.http.listen = (*first)->http_url().substr(7);
  auto second = Daemon::Start(busy);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(std::string::npos, second.status().message().find("cannot listen on"));
}

}  // namespace
}  // namespace keystone::daemon
