#include "cdc/source_options.h"

namespace keystone::cdc {

std::vector<std::string_view> ChangedSettings(const SourceOptions& before,
                                              const SourceOptions& after) {
  std::vector<std::string_view> changed;
  auto check = [&](std::string_view key, bool same) {
    if (!same) changed.push_back(key);
  };
  check("name", before.name == after.name);
  check("table", before.table == after.table);
  check("topic", before.topic == after.topic);
  check("format", before.format == after.format);
  check("view_type", before.view_type == after.view_type);
  check("include_before", before.include_before == after.include_before);
  check("batch_size", before.batch_size == after.batch_size);
  check("batch_timeout_ms", before.batch_timeout_ms == after.batch_timeout_ms);
  check("max_in_flight_records", before.max_in_flight_records == after.max_in_flight_records);
  check("max_in_flight_bytes", before.max_in_flight_bytes == after.max_in_flight_bytes);
  check("tombstones", before.tombstones == after.tombstones);
  check("debezium_schema", before.debezium_schema == after.debezium_schema);
  check("snapshot", before.snapshot == after.snapshot);
  check("snapshot_chunk_size", before.snapshot_chunk_size == after.snapshot_chunk_size);
  check("on_gap", before.on_gap == after.on_gap);
  check("delivery", before.delivery == after.delivery);
  check("on_permanent_error", before.on_permanent_error == after.on_permanent_error);
  check("dead_letter_topic", before.dead_letter_topic == after.dead_letter_topic);
  check("oversize", before.oversize == after.oversize);
  check("heartbeat_interval_ms", before.heartbeat_interval_ms == after.heartbeat_interval_ms);
  check("filters", before.filters == after.filters);
  check("transforms", before.transforms == after.transforms);
  check("skip_noop_updates", before.skip_noop_updates == after.skip_noop_updates);
  check("aggregate", before.aggregate == after.aggregate);
  return changed;
}

}  // namespace keystone::cdc
