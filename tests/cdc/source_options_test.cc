// ChangedSettings names each differing SourceOptions field by its config key.

#include "cdc/source_options.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace keystone::cdc {
namespace {

TEST(ChangedSettingsTest, EqualOptionsChangeNothing) {
  SourceOptions a;
  a.name = "s";
  a.table = "users";
  EXPECT_TRUE(ChangedSettings(a, a).empty());
}

TEST(ChangedSettingsTest, EachFieldIsNamedByItsConfigKey) {
  struct Case {
    std::string key;
    std::function<void(SourceOptions&)> change;
  };
  const std::vector<Case> cases = {
      {"name", [](SourceOptions& o) { o.name = "other"; }},
      {"table", [](SourceOptions& o) { o.table = "other"; }},
      {"topic", [](SourceOptions& o) { o.topic = "t"; }},
      {"format", [](SourceOptions& o) { o.format = EventFormat::kDynamoDb; }},
      {"view_type", [](SourceOptions& o) { o.view_type = store::StreamViewType::kKeysOnly; }},
      {"include_before", [](SourceOptions& o) { o.include_before = false; }},
      {"batch_size", [](SourceOptions& o) { o.batch_size = 7; }},
      {"batch_timeout_ms", [](SourceOptions& o) { o.batch_timeout_ms = 7; }},
      {"max_in_flight_records", [](SourceOptions& o) { o.max_in_flight_records = 7; }},
      {"max_in_flight_bytes", [](SourceOptions& o) { o.max_in_flight_bytes = 7; }},
      {"tombstones", [](SourceOptions& o) { o.tombstones = false; }},
      {"debezium_schema", [](SourceOptions& o) { o.debezium_schema = true; }},
      {"snapshot", [](SourceOptions& o) { o.snapshot = SnapshotMode::kNever; }},
      {"snapshot_chunk_size", [](SourceOptions& o) { o.snapshot_chunk_size = 7; }},
      {"on_gap", [](SourceOptions& o) { o.on_gap = GapPolicy::kSkip; }},
      {"delivery", [](SourceOptions& o) { o.delivery = DeliveryMode::kExactlyOnce; }},
      {"on_permanent_error",
       [](SourceOptions& o) { o.on_permanent_error = PermanentErrorPolicy::kDeadLetter; }},
      {"dead_letter_topic", [](SourceOptions& o) { o.dead_letter_topic = "dlq"; }},
      {"oversize", [](SourceOptions& o) { o.oversize = OversizePolicy::kKeyOnly; }},
      {"heartbeat_interval_ms", [](SourceOptions& o) { o.heartbeat_interval_ms = 7; }},
      {"filters", [](SourceOptions& o) { o.filters.key_prefix = "u"; }},
      {"transforms", [](SourceOptions& o) { o.transforms.emplace_back(); }},
      {"skip_noop_updates", [](SourceOptions& o) { o.skip_noop_updates = true; }},
      {"aggregate", [](SourceOptions& o) { o.aggregate.emplace(); }},
  };
  for (const Case& c : cases) {
    SourceOptions before;
    SourceOptions after = before;
    c.change(after);
    ASSERT_FALSE(before == after) << c.key << ": the change must change something";
    EXPECT_EQ(std::vector<std::string_view>{c.key}, ChangedSettings(before, after)) << c.key;
  }
  // Several at once, in config order.
  SourceOptions before;
  SourceOptions after = before;
  after.batch_size = 9;
  after.topic = "t";
  EXPECT_EQ((std::vector<std::string_view>{"topic", "batch_size"}), ChangedSettings(before, after));
}

}  // namespace
}  // namespace keystone::cdc
