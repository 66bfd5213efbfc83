#include "daemon/source_manager.h"

#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "base/log.h"
#include "daemon/dynamodb_json.h"
#include "kafka_sink/embedded_broker.h"
#include "kafka_sink/kafka_event_sink.h"
#include "kafka_sink/source_sink_options.h"

namespace keystone::daemon {
namespace {

constexpr std::string_view kComponent = "sources";

constexpr cdc::SourceState kAllStates[] = {
    cdc::SourceState::kStarting, cdc::SourceState::kSnapshotting, cdc::SourceState::kStreaming,
    cdc::SourceState::kPaused,   cdc::SourceState::kFailed,       cdc::SourceState::kDone,
    cdc::SourceState::kStopped,
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void AppendJsonString(std::string& out, std::string_view s) { out += JsonQuoted(s); }

// One configured source: its sink and pipeline, or why they could not be
// built. The source is declared after the sink so that it is destroyed (and
// its thread stopped) first.
struct Entry {
  cdc::SourceOptions options;
  std::string topic;
  std::string create_error;
  std::unique_ptr<kafka::KafkaEventSink> sink;
  std::unique_ptr<cdc::Source> source;
};

}  // namespace

class SourceManager::Impl {
 public:
  Impl(store::ItemStore& store, SourceManagerOptions options)
      : store_(store), options_(std::move(options)) {}

  ~Impl() { Stop(); }

  Status Start() {
    if (options_.sources.empty()) return Status::Ok();
    KS_RETURN_IF_ERROR(EnsureKafka());
    std::vector<std::unique_ptr<Entry>> started;
    for (const cdc::SourceOptions& s : options_.sources) started.push_back(Launch(s));
    std::lock_guard<std::mutex> lock(mu_);
    entries_ = std::move(started);
    return Status::Ok();
  }

  void Reload(const std::vector<cdc::SourceOptions>& next) {
    if (stopped_) return;
    if (!next.empty()) {
      Status kafka = EnsureKafka();
      if (!kafka.ok()) {
        LogError(kComponent, "reload: sources not changed: " + kafka.message());
        return;
      }
    }
    std::map<std::string, const cdc::SourceOptions*> wanted;
    for (const cdc::SourceOptions& s : next) wanted[s.name] = &s;

    std::vector<std::unique_ptr<Entry>> to_stop;
    std::map<std::string, std::unique_ptr<Entry>> kept;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& e : entries_) {
        auto it = wanted.find(e->options.name);
        if (it == wanted.end()) {
          LogInfo(kComponent, "source '" + e->options.name +
                                  "' removed from the config: stopping it (its stored position "
                                  "stays and keeps pinning the stream of table '" +
                                  e->options.table + "')");
          to_stop.push_back(std::move(e));
        } else if (!(*it->second == e->options)) {
          std::string settings;
          for (std::string_view key : cdc::ChangedSettings(e->options, *it->second)) {
            settings += (settings.empty() ? "" : ", ") + std::string(key);
          }
          if (settings.empty()) settings = "settings";
          LogInfo(kComponent, "source '" + e->options.name + "' changed (" + settings +
                                  "): restarting it from its stored position");
          to_stop.push_back(std::move(e));
        } else {
          kept[e->options.name] = std::move(e);
        }
      }
      entries_.clear();
    }
    StopAll(to_stop);
    std::vector<std::unique_ptr<Entry>> next_entries;
    bool changed = !to_stop.empty();
    for (const cdc::SourceOptions& s : next) {
      auto it = kept.find(s.name);
      if (it != kept.end()) {
        next_entries.push_back(std::move(it->second));
        continue;
      }
      bool restarted = false;
      for (const auto& e : to_stop) restarted = restarted || e->options.name == s.name;
      if (!restarted) LogInfo(kComponent, "source '" + s.name + "' added: starting it");
      changed = true;
      next_entries.push_back(Launch(s));
    }
    to_stop.clear();
    if (!changed) LogInfo(kComponent, "sources unchanged");
    std::lock_guard<std::mutex> lock(mu_);
    entries_ = std::move(next_entries);
  }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    std::vector<std::unique_ptr<Entry>> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      all = std::move(entries_);
      entries_.clear();
    }
    if (!all.empty()) {
      StopAll(all);
      LogInfo(kComponent, std::to_string(all.size()) + " source(s) stopped; positions stored");
    }
    all.clear();
    std::unique_ptr<kafka::EmbeddedBroker> broker;
    {
      std::lock_guard<std::mutex> lock(mu_);
      broker = std::move(broker_);
    }
    if (broker) {
      broker.reset();
      LogInfo(kComponent, "embedded development Kafka broker stopped (its topics are gone)");
    }
  }

  std::vector<cdc::SourceStatus> Statuses() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<cdc::SourceStatus> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) out.push_back(StatusOf(*e));
    return out;
  }

  Status Control(std::string_view name, SourceControl control, uint64_t sequence) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& e : entries_) {
      if (e->options.name != name) continue;
      if (!e->source) {
        return FailedPrecondition("source '" + std::string(name) +
                                  "' is not running: " + e->create_error);
      }
      Status s;
      switch (control) {
        case SourceControl::kPause:
          s = e->source->Pause();
          break;
        case SourceControl::kResume:
          s = e->source->Resume();
          break;
        case SourceControl::kReset:
          s = e->source->Reset();
          break;
        case SourceControl::kSnapshot:
          s = e->source->TriggerSnapshot();
          break;
        case SourceControl::kSetPosition:
          s = e->source->SetPosition(sequence);
          break;
      }
      if (s.ok()) {
        static constexpr std::string_view kNames[] = {"pause", "resume", "reset", "snapshot",
                                                      "position"};
        LogInfo(kComponent,
                "source '" + std::string(name) +
                    "': " + std::string(kNames[static_cast<int>(control)]) +
                    (control == SourceControl::kSetPosition ? " " + std::to_string(sequence)
                                                            : std::string()) +
                    " requested through the admin API");
      }
      return s;
    }
    return NotFound("no source named '" + std::string(name) + "'");
  }

  void Collect(std::vector<MetricFamilyData>& out) const {
    struct Row {
      cdc::SourceStatus status;
      const cdc::SourceStats* stats;
      const kafka::KafkaSinkStats* sink;
    };
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Row> rows;
    for (const auto& e : entries_) {
      rows.push_back({StatusOf(*e), e->source ? &e->source->stats() : nullptr,
                      e->sink ? &e->sink->stats() : nullptr});
    }
    auto labels = [](const cdc::SourceStatus& s) {
      return std::vector<std::pair<std::string, std::string>>{
          {"source", s.name}, {"table", s.table}, {"topic", s.topic}};
    };
    auto family = [&](std::string name, std::string help, MetricKind kind, auto value) {
      MetricFamilyData f{std::move(name), std::move(help), kind, {}};
      for (const Row& r : rows) f.samples.push_back({labels(r.status), value(r)});
      out.push_back(std::move(f));
    };
    using K = MetricKind;
    family("keystone_source_lag_records",
           "Stream records between the source's position and its table's newest record", K::kGauge,
           [](const Row& r) { return static_cast<double>(r.status.lag_records); });
    family("keystone_source_lag_seconds", "Age of the oldest record the source has not handled",
           K::kGauge, [](const Row& r) { return static_cast<double>(r.status.lag_ms) / 1000.0; });
    family("keystone_source_in_flight_events", "Events sent and not yet acknowledged", K::kGauge,
           [](const Row& r) { return static_cast<double>(r.status.in_flight_records); });
    family("keystone_source_position_sequence",
           "Highest stream sequence the source has fully handled", K::kGauge,
           [](const Row& r) { return static_cast<double>(r.status.position.sequence); });
    family("keystone_source_events_sent_total", "Events the source handed to Kafka", K::kCounter,
           [](const Row& r) { return static_cast<double>(r.status.events_sent); });
    family("keystone_source_events_acked_total", "Events Kafka acknowledged", K::kCounter,
           [](const Row& r) { return static_cast<double>(r.status.events_acked); });
    family("keystone_source_events_filtered_total",
           "Changes dropped by the source's filters or as no-op updates", K::kCounter,
           [](const Row& r) { return static_cast<double>(r.status.events_filtered); });
    family("keystone_source_events_failed_total", "Events that failed permanently", K::kCounter,
           [](const Row& r) { return static_cast<double>(r.status.events_failed); });
    family("keystone_source_gaps_total",
           "Times retention had dropped records the source had not handled", K::kCounter,
           [](const Row& r) { return static_cast<double>(r.status.gaps); });
    family("keystone_source_rewinds_total",
           "Times the source rewound to its position after a sink reset", K::kCounter,
           [](const Row& r) { return static_cast<double>(r.status.rewinds); });

    MetricFamilyData latency{
        "keystone_source_delivery_latency_seconds",
        "From a change's commit to Kafka's acknowledgement of its events (streamed changes)",
        K::kHistogram,
        {}};
    for (const Row& r : rows) {
      if (r.stats == nullptr) continue;
      const cdc::LatencyHistogram& h = r.stats->delivery_latency;
      MetricSample sample{labels(r.status), 0, 0, {}};
      uint64_t cumulative = 0;
      for (size_t i = 0; i < cdc::LatencyHistogram::kBoundsUs.size(); ++i) {
        cumulative += h.buckets[i].load(std::memory_order_relaxed);
        sample.buckets.emplace_back(static_cast<double>(cdc::LatencyHistogram::kBoundsUs[i]) / 1e6,
                                    cumulative);
      }
      sample.count = cumulative + h.buckets.back().load(std::memory_order_relaxed);
      sample.value = static_cast<double>(h.sum_us.load(std::memory_order_relaxed)) / 1e6;
      latency.samples.push_back(std::move(sample));
    }
    out.push_back(std::move(latency));

    MetricFamilyData state{"keystone_source_state",
                           "1 for the source's current state, 0 for the others",
                           K::kGauge,
                           {}};
    for (const Row& r : rows) {
      for (cdc::SourceState st : kAllStates) {
        auto l = labels(r.status);
        l.emplace_back("state", Lower(cdc::SourceStateName(st)));
        state.samples.push_back({std::move(l), r.status.state == st ? 1.0 : 0.0});
      }
    }
    out.push_back(std::move(state));

    auto sink_family = [&](std::string name, std::string help,
                           const std::atomic<uint64_t> kafka::KafkaSinkStats::*field) {
      MetricFamilyData f{std::move(name), std::move(help), K::kCounter, {}};
      for (const Row& r : rows) {
        if (r.sink == nullptr) continue;
        f.samples.push_back({{{"source", r.status.name}, {"topic", r.status.topic}},
                             static_cast<double>((r.sink->*field).load())});
      }
      out.push_back(std::move(f));
    };
    using S = kafka::KafkaSinkStats;
    sink_family("keystone_kafka_events_sent_total", "Events accepted by the Kafka producer",
                &S::events_sent_total);
    sink_family("keystone_kafka_events_acked_total", "Events acknowledged by Kafka (acks=all)",
                &S::events_acked_total);
    sink_family("keystone_kafka_events_skipped_total",
                "Exactly-once: events found already in Kafka and not produced again",
                &S::events_skipped_total);
    sink_family("keystone_kafka_events_failed_total", "Events reported with a permanent error",
                &S::events_failed_total);
    sink_family("keystone_kafka_events_dead_lettered_total", "Events sent to the dead-letter topic",
                &S::events_dead_lettered_total);
    sink_family("keystone_kafka_events_key_only_total", "Oversize events sent with their key only",
                &S::events_key_only_total);
    sink_family("keystone_kafka_events_reset_total",
                "Events abandoned by a producer reset (sent again)", &S::events_reset_total);
    sink_family("keystone_kafka_queue_full_total",
                "Times the producer queue was full (backpressure)", &S::queue_full_total);
    sink_family("keystone_kafka_producer_recreations_total",
                "Producers recreated after a fatal error", &S::producer_recreations_total);
    sink_family("keystone_kafka_broker_errors_total", "Non-fatal client errors",
                &S::broker_errors_total);
    sink_family("keystone_kafka_topic_creation_failures_total", "Topic creations that failed",
                &S::topic_creation_failures_total);
  }

  std::string embedded_bootstrap() const {
    std::lock_guard<std::mutex> lock(mu_);
    return broker_ ? bootstrap_ : "";
  }

 private:
  // Resolves the bootstrap address, starting the embedded broker the first
  // time a source needs it.
  Status EnsureKafka() {
    if (!bootstrap_.empty()) return Status::Ok();
    if (!kafka::IsEmbedded(options_.kafka)) {
      bootstrap_ = options_.kafka.bootstrap_servers;
      return Status::Ok();
    }
    auto broker = kafka::EmbeddedBroker::Start(options_.kafka.embedded_brokers);
    if (!broker.ok()) {
      return broker.status().WithContext("starting the embedded development Kafka broker");
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      broker_ = std::move(broker).value();
      bootstrap_ = broker_->bootstrap_servers();
    }
    LogWarn(kComponent,
            "embedded development Kafka broker (in-memory, for development only) at " + bootstrap_);
    return Status::Ok();
  }

  std::unique_ptr<Entry> Launch(const cdc::SourceOptions& s) {
    auto e = std::make_unique<Entry>();
    e->options = s;
    e->topic = cdc::ExpandTopic(s.topic, s.table, s.name);
    auto sink =
        kafka::KafkaEventSink::Create(kafka::SinkOptionsForSource(options_.kafka, bootstrap_, s));
    if (!sink.ok()) {
      e->create_error = "cannot build its Kafka producer: " + sink.status().message();
      LogError(kComponent, "source '" + s.name + "' FAILED: " + e->create_error);
      return e;
    }
    e->sink = std::move(sink).value();
    cdc::SourceRuntime runtime;
    runtime.position_save_interval_ms = options_.position_save_interval_ms;
    runtime.shutdown_flush_ms = options_.shutdown_flush_ms;
    runtime.region = options_.region;
    e->source = std::make_unique<cdc::Source>(store_, *e->sink, s, runtime);
    Status started = e->source->Start();
    if (!started.ok()) {
      e->create_error = "cannot start: " + started.message();
      LogError(kComponent, "source '" + s.name + "' FAILED: " + e->create_error);
      e->source.reset();
      return e;
    }
    LogInfo(kComponent, "source '" + s.name + "' started: table '" + s.table + "' -> topic '" +
                            e->topic + "' (" + std::string(cdc::EventFormatName(s.format)) + ", " +
                            std::string(cdc::DeliveryModeName(s.delivery)) + ") on " + bootstrap_);
    return e;
  }

  // Stops the sources in parallel so that shutdown takes one flush bound,
  // not one per source.
  static void StopAll(std::vector<std::unique_ptr<Entry>>& entries) {
    std::vector<std::thread> threads;
    for (auto& e : entries) {
      if (!e->source) continue;
      cdc::Source* source = e->source.get();
      threads.emplace_back([source] { source->Stop(); });
    }
    for (std::thread& t : threads) t.join();
    for (auto& e : entries) {
      if (!e->source) continue;
      cdc::SourceStatus st = e->source->GetStatus();
      if (st.in_flight_records > 0) {
        LogWarn(kComponent, "source '" + e->options.name + "' stopped with " +
                                std::to_string(st.in_flight_records) +
                                " event(s) unacknowledged; they are sent again on restart");
      }
      e->source.reset();
      e->sink.reset();
    }
  }

  static cdc::SourceStatus StatusOf(const Entry& e) {
    if (e.source) return e.source->GetStatus();
    cdc::SourceStatus s;
    s.name = e.options.name;
    s.table = e.options.table;
    s.topic = e.topic;
    s.state = cdc::SourceState::kFailed;
    s.error = e.create_error;
    return s;
  }

  store::ItemStore& store_;
  const SourceManagerOptions options_;
  // Set once, on the main thread, under mu_ (embedded_bootstrap reads them).
  std::unique_ptr<kafka::EmbeddedBroker> broker_;
  std::string bootstrap_;
  bool stopped_ = false;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

SourceManager::SourceManager(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SourceManager::~SourceManager() { Stop(); }

Result<std::unique_ptr<SourceManager>> SourceManager::Start(store::ItemStore& store,
                                                            SourceManagerOptions options) {
  auto impl = std::make_unique<Impl>(store, std::move(options));
  KS_RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<SourceManager>(new SourceManager(std::move(impl)));
}

void SourceManager::Reload(const std::vector<cdc::SourceOptions>& sources) {
  impl_->Reload(sources);
}
void SourceManager::Stop() {
  if (impl_) impl_->Stop();
}
std::vector<cdc::SourceStatus> SourceManager::Statuses() const { return impl_->Statuses(); }
Status SourceManager::Control(std::string_view name, SourceControl control, uint64_t sequence) {
  return impl_->Control(name, control, sequence);
}
void SourceManager::Collect(std::vector<MetricFamilyData>& out) const { impl_->Collect(out); }
std::string SourceManager::embedded_bootstrap() const { return impl_->embedded_bootstrap(); }

std::string SourceStatusesJson(const std::vector<cdc::SourceStatus>& statuses) {
  std::string out = "[";
  for (const cdc::SourceStatus& s : statuses) {
    if (out.size() > 1) out += ',';
    auto field = [&](std::string_view name) {
      if (out.back() != '{') out += ',';
      AppendJsonString(out, name);
      out += ':';
    };
    auto num = [&](std::string_view name, auto v) {
      field(name);
      out += std::to_string(v);
    };
    auto str = [&](std::string_view name, std::string_view v) {
      field(name);
      AppendJsonString(out, v);
    };
    out += '{';
    str("name", s.name);
    str("table", s.table);
    str("topic", s.topic);
    str("state", cdc::SourceStateName(s.state));
    str("error", s.error);
    str("last_gap", s.last_gap);
    num("position", s.position.sequence);
    field("snapshot_active");
    out += s.position.snapshot.active ? "true" : "false";
    num("saved_sequence", s.saved_sequence);
    num("read_sequence", s.read_sequence);
    num("table_sequence", s.table_sequence);
    num("lag_records", s.lag_records);
    num("lag_ms", s.lag_ms);
    num("in_flight_records", s.in_flight_records);
    num("in_flight_bytes", s.in_flight_bytes);
    field("paused");
    out += s.paused ? "true" : "false";
    num("events_sent", s.events_sent);
    num("events_acked", s.events_acked);
    num("events_filtered", s.events_filtered);
    num("events_failed", s.events_failed);
    num("gaps", s.gaps);
    num("rewinds", s.rewinds);
    num("heartbeats", s.heartbeats);
    out += '}';
  }
  out += "]";
  return out;
}

}  // namespace keystone::daemon
