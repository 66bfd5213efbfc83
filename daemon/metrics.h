#pragma once

// Metrics: keystoned's Prometheus exposition (prometheus-cpp; its headers stay
// in metrics.cc). Serves GET /metrics on MetricsOptions::listen with:
//
//   keystone_build_info{version}                         gauge, 1
//   keystone_http_requests_total{operation,outcome}      counter
//   keystone_http_request_duration_seconds{operation}    histogram
//   keystone_store_write_batches_total, _writes_total, _failed_batches_total,
//     _commit_seconds_total, _map_growths_total, _stream_records_trimmed_total,
//     _stream_records_force_trimmed_total                counters (StoreStats,
//                                                        read at scrape time)
//   keystone_store_map_size_bytes, _map_used_bytes, _map_max_bytes  gauges (at scrape)
//   keystone_store_head_sequence                         gauge (polled)
//   keystone_table_items{table}, keystone_table_size_bytes{table}    (polled)
//   keystone_stream_records{table}, _bytes{table}, _oldest_sequence{table},
//     _latest_sequence{table}, _trimmed_through_sequence{table}      (polled)
//   keystone_stream_buffer_utilisation_ratio{table}  records / buffer_size (polled)
//   keystone_metrics_store_poll_failures_total           counter
//
// "Polled" values come from a background thread that reads the store every
// poll_interval_ms (a failed poll is a warn log and a counter; the last good
// values stay). Other components (CDC sources) add their own families with
// AddCollector, which is called at every scrape.
//
// Thread safety: every method may be called from any thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "daemon/daemon_options.h"
#include "daemon/http_server.h"
#include "lmdb_store/item_store.h"

namespace keystone::daemon {

enum class MetricKind { kCounter, kGauge, kHistogram };

// One sample of a family: its labels (name, value) and value.
struct MetricSample {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;  // counters and gauges; a histogram's sum
  // Histograms: the count of observations, each bucket's upper bound and
  // cumulative count (+Inf implied by `count`).
  uint64_t count = 0;
  std::vector<std::pair<double, uint64_t>> buckets;
};

// A metric family as a collector reports it at scrape time. Names follow
// Prometheus conventions: keystone_ prefix, base units, counters end in
// _total.
struct MetricFamilyData {
  std::string name;
  std::string help;
  MetricKind kind = MetricKind::kGauge;
  std::vector<MetricSample> samples;
};

// Appends the collector's families to `out`; called on the scrape thread,
// must be thread-safe and must not block for long.
using MetricsCollector = std::function<void(std::vector<MetricFamilyData>& out)>;

struct MetricsServerOptions {
  MetricsOptions metrics;
  // How often table and stream gauges are read from the store.
  int64_t poll_interval_ms = 5000;
  std::string version = "0.0.0";
  // The store's map growth limit (StoreOptions::max_map_size; 0: 1 TiB),
  // exported as keystone_store_map_max_bytes.
  uint64_t max_map_size = 0;
};

class Metrics final : public RequestObserver {
 public:
  // Starts the exposer on metrics.listen (port 0: any free port) unless
  // metrics.enabled is false, and the store poller. `store` may be null (no
  // store metrics); if not, it must outlive this object. kIoError when the
  // address cannot be bound, kInvalidArgument when it is malformed.
  [[nodiscard]] static Result<std::unique_ptr<Metrics>> Start(const MetricsServerOptions& options,
                                                              store::ItemStore* store);
  ~Metrics() override;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Stops the exposer and the poller; idempotent. Call before the store
  // closes.
  void Stop();

  // Registers a collector; returns an id for RemoveCollector.
  int AddCollector(MetricsCollector collector);
  void RemoveCollector(int id);

  // RequestObserver. Operations outside the DynamoDB and Streams APIs are
  // counted as "unknown" so that labels stay bounded.
  void OnRequest(std::string_view operation, std::string_view outcome, double seconds) override;

  // Reads the store now (the poller does this every poll interval).
  void PollStore();

  // The exposition text, as GET /metrics serves it.
  std::string Scrape() const;

  // "host:port" being served, empty when disabled.
  const std::string& address() const;

 private:
  class Impl;
  explicit Metrics(std::shared_ptr<Impl> impl);
  // Shared because the exposer holds the collector through a weak_ptr.
  std::shared_ptr<Impl> impl_;
};

}  // namespace keystone::daemon
