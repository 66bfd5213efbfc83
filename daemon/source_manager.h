#pragma once

// SourceManager: runs keystoned's CDC sources. For each configured source it
// builds a KafkaEventSink (kafka_sink/) and a cdc::Source over the shared
// ItemStore and runs the source on a thread of its own (cdc::Source::Start,
// i.e. Source::Run with a stop token). When kafka.bootstrap_servers is
// "embedded" it first starts one EmbeddedBroker in this process (in-memory,
// for development only) and every sink publishes to it.
//
// Failure isolation: a source that fails (a permanent delivery error, a gap
// with on_gap: fail, a sink that cannot be built) is logged as an error and
// shows state FAILED in Statuses() and the metrics; the other sources and the
// daemon keep running. Resume retries it.
//
// Lifetime: Start after the store is open and before the daemon reports
// ready; Stop (or the destructor) before the store closes. Stop asks every
// source to stop at once; each flushes its sink within
// SourceManagerOptions::shutdown_flush_ms and stores its position.
//
// Thread safety: Start, Reload and Stop from one thread (the daemon's main
// loop); Statuses, Control, Collect and embedded_bootstrap from any thread.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "cdc/source.h"
#include "cdc/source_options.h"
#include "daemon/metrics.h"
#include "kafka_sink/kafka_options.h"
#include "lmdb_store/item_store.h"

namespace keystone::daemon {

struct SourceManagerOptions {
  kafka::KafkaOptions kafka;
  std::vector<cdc::SourceOptions> sources;
  // Longest a stopping source waits for outstanding Kafka acknowledgements.
  int64_t shutdown_flush_ms = 5000;
  // Least time between two stores of an advancing position.
  int64_t position_save_interval_ms = 1000;
  // debezium source.db / dynamodb awsRegion.
  std::string region = "us-east-1";
};

// A runtime control of one source (the admin API).
enum class SourceControl { kPause, kResume, kReset, kSnapshot, kSetPosition };

class SourceManager {
 public:
  // Starts the embedded broker when asked for (kIoError if it cannot start)
  // and every source. `store` must outlive the manager. A source whose sink
  // cannot be built does not fail Start: it shows FAILED with the reason.
  [[nodiscard]] static Result<std::unique_ptr<SourceManager>> Start(store::ItemStore& store,
                                                                    SourceManagerOptions options);

  // Stops (see Stop()).
  ~SourceManager();
  SourceManager(const SourceManager&) = delete;
  SourceManager& operator=(const SourceManager&) = delete;

  // Applies a new list of sources: added ones start, removed ones stop,
  // changed ones restart (from their stored positions); logs each change.
  // The kafka options are those given to Start (a change needs a restart).
  void Reload(const std::vector<cdc::SourceOptions>& sources);

  // Stops every source (in parallel, each flushing within the bound), then
  // the embedded broker. Idempotent.
  void Stop();

  // The status of every source, in configuration order.
  std::vector<cdc::SourceStatus> Statuses() const;

  // Applies `control` to source `name` (`sequence` for kSetPosition).
  // kNotFound for an unknown source; kFailedPrecondition when the source is
  // not running (its sink could not be built); else the source's answer.
  Status Control(std::string_view name, SourceControl control, uint64_t sequence = 0);

  // Appends the keystone_source_* and keystone_kafka_* families.
  void Collect(std::vector<MetricFamilyData>& out) const;

  // The embedded broker's bootstrap address; "" when Kafka is external.
  std::string embedded_bootstrap() const;

 private:
  class Impl;
  explicit SourceManager(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The JSON array GET /sources returns for `statuses`.
std::string SourceStatusesJson(const std::vector<cdc::SourceStatus>& statuses);

}  // namespace keystone::daemon
