// Metrics on a real store: the exposition text, scraped over HTTP from a free
// port, with store counters, polled table and stream gauges, request counters
// and latency histograms, and collectors added by other components.

#include "daemon/metrics.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <string>

#include "lmdb_store/item_store.h"
#include "tests/testing/temp_dir.h"

namespace keystone::daemon {
namespace {

using store::AttributeValue;
using testing::TempDir;

// The value of the sample line that starts with `prefix` ("name{labels} "),
// or -1 when there is none.
double SampleValue(const std::string& text, const std::string& prefix) {
  size_t at = 0;
  while ((at = text.find(prefix, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + prefix.size()));
    at += prefix.size();
  }
  return -1;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions options;
    options.path = dir_.Sub("store");
    options.sync = false;
    auto store = store::ItemStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    store::TableSchema users;
    users.name = "users";
    users.partition_key = {"pk", store::AttributeType::kS};
    ASSERT_TRUE(store_->CreateTable(users).ok());
    store::TableSchema plain = users;
    plain.name = "plain";
    plain.stream.enabled = false;
    ASSERT_TRUE(store_->CreateTable(plain).ok());
  }

  std::unique_ptr<Metrics> StartMetrics(bool enabled = true) {
    MetricsServerOptions options;
    options.metrics.listen = "127.0.0.1:0";
    options.metrics.enabled = enabled;
    options.poll_interval_ms = 3'600'000;  // the tests poll explicitly
    options.version = "9.8.7";
    auto m = Metrics::Start(options, store_.get());
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? std::move(m).value() : nullptr;
  }

  TempDir dir_;
  std::unique_ptr<store::ItemStore> store_;
};

TEST_F(MetricsTest, StoreCountersAndPolledGauges) {
  auto metrics = StartMetrics();
  ASSERT_NE(nullptr, metrics);
  double writes_before = static_cast<double>(store_->stats().writes.load());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->Put("users", {{"pk", AttributeValue::S("u" + std::to_string(i))}}).ok());
  }
  ASSERT_TRUE(store_->Put("plain", {{"pk", AttributeValue::S("p")}}).ok());
  // Counters are read at scrape time; gauges when the store is polled.
  std::string before = metrics->Scrape();
  EXPECT_EQ(writes_before + 6, SampleValue(before, "keystone_store_writes_total "));
  EXPECT_EQ(0, SampleValue(before, "keystone_table_items{table=\"users\"} "));
  metrics->PollStore();
  std::string text = metrics->Scrape();
  EXPECT_EQ(1, SampleValue(text, "keystone_build_info{version=\"9.8.7\"} "));
  EXPECT_GE(SampleValue(text, "keystone_store_write_batches_total "), 1);
  EXPECT_GE(SampleValue(text, "keystone_store_commit_seconds_total "), 0);
  EXPECT_EQ(0, SampleValue(text, "keystone_store_failed_batches_total "));
  EXPECT_GT(SampleValue(text, "keystone_store_map_size_bytes "), 0);
  EXPECT_GT(SampleValue(text, "keystone_store_map_used_bytes "), 0);
  EXPECT_EQ(5, SampleValue(text, "keystone_table_items{table=\"users\"} "));
  EXPECT_EQ(1, SampleValue(text, "keystone_table_items{table=\"plain\"} "));
  EXPECT_GT(SampleValue(text, "keystone_table_size_bytes{table=\"users\"} "), 0);
  EXPECT_EQ(5, SampleValue(text, "keystone_stream_records{table=\"users\"} "));
  EXPECT_GT(SampleValue(text, "keystone_stream_bytes{table=\"users\"} "), 0);
  EXPECT_EQ(1, SampleValue(text, "keystone_stream_oldest_sequence{table=\"users\"} "));
  EXPECT_EQ(5, SampleValue(text, "keystone_stream_latest_sequence{table=\"users\"} "));
  EXPECT_EQ(-1, SampleValue(text, "keystone_stream_records{table=\"plain\"} "));
  // Only the streamed table's writes have sequence numbers.
  EXPECT_EQ(5, SampleValue(text, "keystone_store_head_sequence "));
  EXPECT_NE(std::string::npos, text.find("# TYPE keystone_store_writes_total counter"));
  EXPECT_NE(std::string::npos, text.find("# TYPE keystone_table_items gauge"));
  EXPECT_EQ(0, SampleValue(text, "keystone_metrics_store_poll_failures_total "));
  EXPECT_EQ(0, SampleValue(text, "keystone_store_index_fill_failures_total "));
}

TEST_F(MetricsTest, SecondaryIndexGauges) {
  store::TableSchema orders;
  orders.name = "orders";
  orders.partition_key = {"pk", store::AttributeType::kS};
  store::SecondaryIndex by_customer;
  by_customer.name = "by_customer";
  by_customer.partition_key = {"customer", store::AttributeType::kS};
  by_customer.projection.type = store::ProjectionType::kKeysOnly;
  orders.indexes.push_back(by_customer);
  ASSERT_TRUE(store_->CreateTable(orders).ok());
  for (int i = 0; i < 4; ++i) {
    store::Item item = {{"pk", AttributeValue::S("o" + std::to_string(i))}};
    // One item without the index's key: not in the (sparse) index.
    if (i > 0) item["customer"] = AttributeValue::S("c" + std::to_string(i % 2));
    ASSERT_TRUE(store_->Put("orders", item).ok());
  }
  auto metrics = StartMetrics();
  ASSERT_NE(nullptr, metrics);
  metrics->PollStore();
  std::string text = metrics->Scrape();
  const std::string labels = "{table=\"orders\",index=\"by_customer\"} ";
  EXPECT_EQ(3, SampleValue(text, "keystone_index_items" + labels)) << text;
  EXPECT_GT(SampleValue(text, "keystone_index_size_bytes" + labels), 0);
  EXPECT_EQ(0, SampleValue(text, "keystone_index_backfilling" + labels));
  EXPECT_NE(std::string::npos, text.find("# TYPE keystone_index_backfilling gauge"));
  // Tables without indexes add no samples.
  EXPECT_EQ(std::string::npos, text.find("keystone_index_items{table=\"users\""));
}

TEST_F(MetricsTest, RequestCountersAndLatencyOverHttp) {
  auto metrics = StartMetrics();
  ASSERT_NE(nullptr, metrics);
  metrics->OnRequest("PutItem", "ok", 0.002);
  metrics->OnRequest("PutItem", "ok", 0.004);
  metrics->OnRequest("PutItem", "ConditionalCheckFailedException", 0.001);
  metrics->OnRequest("Bogus", "UnknownOperationException", 0.0001);

  ASSERT_FALSE(metrics->address().empty());
  size_t colon = metrics->address().rfind(':');
  int port = std::stoi(metrics->address().substr(colon + 1));
  ASSERT_GT(port, 0);
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(200, res->status);
  const std::string& text = res->body;
  EXPECT_EQ(
      2, SampleValue(text, "keystone_http_requests_total{operation=\"PutItem\",outcome=\"ok\"} "))
      << text;
  EXPECT_EQ(1, SampleValue(text,
                           "keystone_http_requests_total{operation=\"PutItem\","
                           "outcome=\"ConditionalCheckFailedException\"} "));
  EXPECT_EQ(1, SampleValue(text,
                           "keystone_http_requests_total{operation=\"unknown\","
                           "outcome=\"UnknownOperationException\"} "));
  EXPECT_EQ(3, SampleValue(text,
                           "keystone_http_request_duration_seconds_count{operation=\""
                           "PutItem\"} "));
  EXPECT_EQ(1, SampleValue(text,
                           "keystone_http_request_duration_seconds_bucket{operation=\""
                           "PutItem\",le=\"0.001\"} "));
  EXPECT_EQ(2, SampleValue(text,
                           "keystone_http_request_duration_seconds_bucket{operation=\""
                           "PutItem\",le=\"0.0025\"} "));
  EXPECT_NE(std::string::npos, text.find("keystone_store_writes_total"));
}

TEST_F(MetricsTest, CollectorsAddFamiliesUntilRemoved) {
  auto metrics = StartMetrics(/*enabled=*/false);
  ASSERT_NE(nullptr, metrics);
  EXPECT_TRUE(metrics->address().empty());
  int id = metrics->AddCollector([](std::vector<MetricFamilyData>& out) {
    out.push_back({"keystone_source_events_published_total",
                   "Events published",
                   MetricKind::kCounter,
                   {{{{"source", "users-to-kafka"}}, 42}}});
  });
  std::string text = metrics->Scrape();
  EXPECT_EQ(42, SampleValue(text,
                            "keystone_source_events_published_total{source=\"users-to-"
                            "kafka\"} "));
  metrics->RemoveCollector(id);
  EXPECT_EQ(-1, SampleValue(metrics->Scrape(), "keystone_source_events_published_total{"));
}

TEST_F(MetricsTest, PollerRefreshesOnItsInterval) {
  MetricsServerOptions options;
  options.metrics.enabled = false;
  options.poll_interval_ms = 20;
  auto m = Metrics::Start(options, store_.get());
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(store_->Put("users", {{"pk", AttributeValue::S("x")}}).ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (SampleValue((*m)->Scrape(), "keystone_table_items{table=\"users\"} ") != 1) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::yield();
  }
  (*m)->Stop();
}

TEST_F(MetricsTest, BusyPortIsAnError) {
  auto first = StartMetrics();
  ASSERT_NE(nullptr, first);
  MetricsServerOptions options;
  options.metrics.listen = first->address();
  auto second = Metrics::Start(options, store_.get());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(StatusCode::kIoError, second.status().code());
  EXPECT_NE(std::string::npos, second.status().message().find(first->address()));
}

}  // namespace
}  // namespace keystone::daemon
