#include "daemon/metrics.h"

#include <netdb.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "base/log.h"
#include "base/thread_name.h"

namespace keystone::daemon {
namespace {

constexpr std::string_view kComponent = "metrics";

constexpr std::string_view kOperations[] = {
    "CreateTable",
    "DescribeTable",
    "UpdateTable",
    "DeleteTable",
    "ListTables",
    "PutItem",
    "GetItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchWriteItem",
    "BatchGetItem",
    "TransactWriteItems",
    "ListStreams",
    "DescribeStream",
    "GetShardIterator",
    "GetRecords",
    "unknown",
};

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *buckets;
}

// What the poller last read from the store.
struct StoreSnapshot {
  uint64_t head_sequence = 0;
  std::vector<store::TableDescription> tables;
  std::vector<store::StreamInfo> streams;
};

prometheus::MetricFamily ToPrometheus(const MetricFamilyData& data) {
  prometheus::MetricFamily family;
  family.name = data.name;
  family.help = data.help;
  switch (data.kind) {
    case MetricKind::kCounter:
      family.type = prometheus::MetricType::Counter;
      break;
    case MetricKind::kGauge:
      family.type = prometheus::MetricType::Gauge;
      break;
    case MetricKind::kHistogram:
      family.type = prometheus::MetricType::Histogram;
      break;
  }
  for (const MetricSample& s : data.samples) {
    prometheus::ClientMetric m;
    for (const auto& [name, value] : s.labels) m.label.push_back({name, value});
    switch (data.kind) {
      case MetricKind::kCounter:
        m.counter.value = s.value;
        break;
      case MetricKind::kGauge:
        m.gauge.value = s.value;
        break;
      case MetricKind::kHistogram:
        m.histogram.sample_count = s.count;
        m.histogram.sample_sum = s.value;
        for (const auto& [bound, cumulative] : s.buckets) {
          prometheus::ClientMetric::Bucket b;
          b.upper_bound = bound;
          b.cumulative_count = cumulative;
          m.histogram.bucket.push_back(b);
        }
        {
          prometheus::ClientMetric::Bucket inf;
          inf.upper_bound = std::numeric_limits<double>::infinity();
          inf.cumulative_count = s.count;
          m.histogram.bucket.push_back(inf);
        }
        break;
    }
    family.metric.push_back(std::move(m));
  }
  return family;
}

MetricFamilyData Single(std::string name, std::string help, MetricKind kind, double value) {
  return MetricFamilyData{std::move(name), std::move(help), kind, {MetricSample{{}, value}}};
}

}  // namespace

class Metrics::Impl : public prometheus::Collectable {
 public:
  Impl(const MetricsServerOptions& options, store::ItemStore* store)
      : options_(options), store_(store), registry_(std::make_shared<prometheus::Registry>()) {
    prometheus::BuildGauge()
        .Name("keystone_build_info")
        .Help("Keystone build; the value is always 1")
        .Register(*registry_)
        .Add({{"version", options.version}})
        .Set(1);
    requests_ = &prometheus::BuildCounter()
                     .Name("keystone_http_requests_total")
                     .Help("HTTP API requests answered, by operation and outcome")
                     .Register(*registry_);
    latency_ = &prometheus::BuildHistogram()
                    .Name("keystone_http_request_duration_seconds")
                    .Help("Time from the request's headers to its answer, by operation")
                    .Register(*registry_);
    for (std::string_view op : kOperations) {
      OpMetrics m;
      m.ok = &requests_->Add({{"operation", std::string(op)}, {"outcome", "ok"}});
      m.latency = &latency_->Add({{"operation", std::string(op)}}, LatencyBuckets());
      ops_.emplace_back(std::string(op), m);
    }
  }

  Status Start(const std::shared_ptr<Impl>& self) {
    if (options_.metrics.enabled) {
      try {
        exposer_ = std::make_unique<prometheus::Exposer>(options_.metrics.listen, 2);
      } catch (const std::exception& e) {
        return IoError("cannot serve metrics on " + options_.metrics.listen + ": " + e.what());
      }
      exposer_->RegisterCollectable(registry_);
      exposer_->RegisterCollectable(std::weak_ptr<prometheus::Collectable>(self));
      std::vector<int> ports = exposer_->GetListeningPorts();
      std::string host = options_.metrics.listen.substr(0, options_.metrics.listen.rfind(':'));
      address_ = host + ":" + (ports.empty() ? std::string("?") : std::to_string(ports[0]));
    }
    if (store_ != nullptr) {
      PollStore();
      poller_ = std::thread([this] {
        SetThreadName("metrics-poll");
        PollLoop();
      });
    }
    return Status::Ok();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (poller_.joinable()) poller_.join();
    StopExposer();
  }

  // Stops the exposer. civetweb's listening thread sees the stop only when
  // its poll() returns, which takes up to a second when no client comes; a
  // connection of our own makes it return at once. One made before the stop
  // flag is set is merely served, so poke until the stop is done.
  void StopExposer() {
    if (!exposer_) return;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::thread stopper([&] {
      exposer_.reset();
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      cv.notify_all();
    });
    size_t colon = address_.rfind(':');
    std::string host = address_.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    std::string port = address_.substr(colon + 1);
    std::unique_lock<std::mutex> lock(mu);
    for (int attempt = 0; attempt < 200 && !done; ++attempt) {
      lock.unlock();
      PokeListener(host, port);
      lock.lock();
      cv.wait_for(lock, std::chrono::milliseconds(10), [&] { return done; });
    }
    lock.unlock();
    stopper.join();
  }

  // Opens and closes a TCP connection to host:port (best effort).
  static void PokeListener(const std::string& host, const std::string& port) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return;
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
      int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      int rc = connect(fd, a->ai_addr, a->ai_addrlen);
      close(fd);
      if (rc == 0 || errno == EINPROGRESS) break;
    }
    freeaddrinfo(found);
  }

  int AddCollector(MetricsCollector collector) {
    std::lock_guard<std::mutex> lock(mu_);
    int id = next_collector_id_++;
    collectors_.emplace(id, std::move(collector));
    return id;
  }

  void RemoveCollector(int id) {
    std::lock_guard<std::mutex> lock(mu_);
    collectors_.erase(id);
  }

  void OnRequest(std::string_view operation, std::string_view outcome, double seconds) {
    // A scan of the ~20 names (mostly told apart by length) costs less per
    // request than hashing a string built from the view; "unknown" is last.
    auto it = std::find_if(ops_.begin(), ops_.end() - 1,
                           [&](const auto& op) { return op.first == operation; });
    it->second.latency->Observe(seconds);
    if (outcome == "ok") {
      it->second.ok->Increment();
    } else {
      requests_->Add({{"operation", it->first}, {"outcome", std::string(outcome)}}).Increment();
    }
  }

  void PollStore() {
    if (store_ == nullptr) return;
    Status status = PollOnce();
    if (!status.ok()) {
      poll_failures_.fetch_add(1, std::memory_order_relaxed);
      LogWarn(kComponent, "reading store metrics failed: " + status.ToString());
    }
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<MetricFamilyData> data;
    if (store_ != nullptr) CollectStore(data);
    std::vector<MetricsCollector> collectors;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, c] : collectors_) collectors.push_back(c);
    }
    for (const MetricsCollector& c : collectors) c(data);
    std::vector<prometheus::MetricFamily> out;
    out.reserve(data.size());
    for (const MetricFamilyData& d : data) out.push_back(ToPrometheus(d));
    return out;
  }

  std::string Scrape() const {
    std::vector<prometheus::MetricFamily> families = registry_->Collect();
    std::vector<prometheus::MetricFamily> mine = Collect();
    families.insert(families.end(), mine.begin(), mine.end());
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, families);
    return out.str();
  }

  const std::string& address() const { return address_; }

 private:
  struct OpMetrics {
    prometheus::Counter* ok = nullptr;
    prometheus::Histogram* latency = nullptr;
  };

  Status PollOnce() {
    StoreSnapshot snap;
    KS_ASSIGN_OR_RETURN(snap.head_sequence, store_->HeadSequence());
    KS_ASSIGN_OR_RETURN(std::vector<std::string> names, store_->ListTables());
    for (const std::string& name : names) {
      Result<store::TableDescription> d = store_->DescribeTable(name);
      if (d.status().code() == StatusCode::kNotFound) continue;  // deleted meanwhile
      if (!d.ok()) return d.status().WithContext("describing table " + name);
      snap.tables.push_back(*std::move(d));
    }
    KS_ASSIGN_OR_RETURN(snap.streams, store_->ListStreams());
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = std::move(snap);
    return Status::Ok();
  }

  void PollLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_interval_ms),
                   [&] { return stop_; });
      if (stop_) break;
      lock.unlock();
      PollStore();
      lock.lock();
    }
  }

  void CollectStore(std::vector<MetricFamilyData>& out) const {
    const store::StoreStats& s = store_->stats();
    auto counter = [&](std::string name, std::string help, double v) {
      out.push_back(Single(std::move(name), std::move(help), MetricKind::kCounter, v));
    };
    auto gauge = [&](std::string name, std::string help, double v) {
      out.push_back(Single(std::move(name), std::move(help), MetricKind::kGauge, v));
    };
    auto load = [](const std::atomic<uint64_t>& a) {
      return static_cast<double>(a.load(std::memory_order_relaxed));
    };
    counter("keystone_store_write_batches_total", "Group-commit transactions committed",
            load(s.write_batches));
    counter("keystone_store_writes_total", "Writes applied in committed batches, any outcome",
            load(s.writes));
    counter("keystone_store_failed_batches_total", "Write batches aborted by an LMDB error",
            load(s.failed_batches));
    counter("keystone_store_commit_seconds_total", "Time spent committing (and syncing) batches",
            load(s.commit_nanos) / 1e9);
    counter("keystone_store_map_growths_total", "Times the LMDB map was grown",
            load(s.map_growths));
    counter("keystone_store_stream_records_trimmed_total", "Stream records dropped by retention",
            load(s.stream_records_trimmed));
    counter("keystone_store_stream_records_force_trimmed_total",
            "Stream records dropped past a reader's pin cap", load(s.stream_records_force_trimmed));
    counter("keystone_store_index_fill_failures_total",
            "Attempts to fill a new global index that failed (each is tried again)",
            load(s.index_fill_failures));
    counter("keystone_metrics_store_poll_failures_total",
            "Failed reads of table and stream gauges from the store",
            static_cast<double>(poll_failures_.load(std::memory_order_relaxed)));
    store::ItemStore::MapUsage usage = store_->GetMapUsage();
    gauge("keystone_store_map_size_bytes", "Current LMDB map size",
          static_cast<double>(usage.map_size));
    gauge("keystone_store_map_used_bytes", "Bytes of the LMDB map in use",
          static_cast<double>(usage.used_bytes));
    gauge("keystone_store_map_max_bytes", "Limit of the LMDB map's growth (map_size.max)",
          static_cast<double>(options_.max_map_size == 0 ? (1ull << 40) : options_.max_map_size));

    std::lock_guard<std::mutex> lock(mu_);
    gauge("keystone_store_head_sequence", "Newest sequence number of the store",
          static_cast<double>(snapshot_.head_sequence));
    auto labelled_gauge = [&](std::string name, std::string help) {
      out.push_back(MetricFamilyData{std::move(name), std::move(help), MetricKind::kGauge, {}});
      return &out.back();
    };
    MetricFamilyData* items = labelled_gauge("keystone_table_items", "Items in the table");
    for (const auto& t : snapshot_.tables) {
      items->samples.push_back({{{"table", t.schema.name}}, static_cast<double>(t.item_count)});
    }
    MetricFamilyData* size =
        labelled_gauge("keystone_table_size_bytes", "Bytes of the table's items");
    for (const auto& t : snapshot_.tables) {
      size->samples.push_back({{{"table", t.schema.name}}, static_cast<double>(t.size_bytes)});
    }
    struct IndexGauge {
      const char* name;
      const char* help;
      double (*value)(const store::IndexDescription&);
    };
    static constexpr IndexGauge kIndexGauges[] = {
        {"keystone_index_items", "Items in the secondary index",
         [](const store::IndexDescription& i) { return static_cast<double>(i.item_count); }},
        {"keystone_index_size_bytes", "Bytes of the secondary index's entries",
         [](const store::IndexDescription& i) { return static_cast<double>(i.size_bytes); }},
        {"keystone_index_backfilling",
         "1 while a new global index is being filled from its table (unreadable until done)",
         [](const store::IndexDescription& i) { return i.backfilling ? 1.0 : 0.0; }},
    };
    for (const IndexGauge& g : kIndexGauges) {
      MetricFamilyData* f = labelled_gauge(g.name, g.help);
      for (const auto& t : snapshot_.tables) {
        for (const store::IndexDescription& index : t.indexes) {
          f->samples.push_back({{{"table", t.schema.name}, {"index", index.name}}, g.value(index)});
        }
      }
    }
    struct StreamGauge {
      const char* name;
      const char* help;
      uint64_t store::StreamInfo::*field;
    };
    static constexpr StreamGauge kStreamGauges[] = {
        {"keystone_stream_records", "Records retained in the table's stream",
         &store::StreamInfo::record_count},
        {"keystone_stream_bytes", "Bytes of the records retained in the table's stream",
         &store::StreamInfo::record_bytes},
        {"keystone_stream_oldest_sequence", "Sequence number of the oldest retained record",
         &store::StreamInfo::oldest_sequence},
        {"keystone_stream_latest_sequence", "Sequence number of the newest record",
         &store::StreamInfo::latest_sequence},
        {"keystone_stream_trimmed_through_sequence", "Highest sequence number dropped by retention",
         &store::StreamInfo::trimmed_through},
    };
    for (const StreamGauge& g : kStreamGauges) {
      MetricFamilyData* f = labelled_gauge(g.name, g.help);
      for (const auto& info : snapshot_.streams) {
        f->samples.push_back({{{"table", info.table}}, static_cast<double>(info.*(g.field))});
      }
    }
    // Records held against the configured buffer_size: near 1 means the
    // retention (and the pins of lagging sources) is about to trim or the
    // hard cap is close.
    MetricFamilyData* util =
        labelled_gauge("keystone_stream_buffer_utilisation_ratio",
                       "Records retained in the table's stream divided by its buffer_size");
    for (const auto& t : snapshot_.tables) {
      if (!t.schema.stream.enabled || t.schema.stream.buffer_size == 0) continue;
      for (const auto& info : snapshot_.streams) {
        if (info.table != t.schema.name) continue;
        util->samples.push_back({{{"table", info.table}},
                                 static_cast<double>(info.record_count) /
                                     static_cast<double>(t.schema.stream.buffer_size)});
      }
    }
  }

  const MetricsServerOptions options_;
  store::ItemStore* const store_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  prometheus::Family<prometheus::Histogram>* latency_ = nullptr;
  // In kOperations' order, "unknown" last; fixed after construction.
  std::vector<std::pair<std::string, OpMetrics>> ops_;
  std::atomic<uint64_t> poll_failures_{0};

  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string address_;
  std::thread poller_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                           // guarded by mu_
  StoreSnapshot snapshot_;                      // guarded by mu_
  std::map<int, MetricsCollector> collectors_;  // guarded by mu_
  int next_collector_id_ = 1;                   // guarded by mu_
};

Metrics::Metrics(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Metrics::~Metrics() { Stop(); }

Result<std::unique_ptr<Metrics>> Metrics::Start(const MetricsServerOptions& options,
                                                store::ItemStore* store) {
  if (options.poll_interval_ms < 1) return InvalidArgument("poll_interval_ms must be positive");
  auto impl = std::make_shared<Impl>(options, store);
  KS_RETURN_IF_ERROR(impl->Start(impl));
  return std::unique_ptr<Metrics>(new Metrics(std::move(impl)));
}

void Metrics::Stop() { impl_->Stop(); }
int Metrics::AddCollector(MetricsCollector collector) {
  return impl_->AddCollector(std::move(collector));
}
void Metrics::RemoveCollector(int id) { impl_->RemoveCollector(id); }
void Metrics::OnRequest(std::string_view operation, std::string_view outcome, double seconds) {
  impl_->OnRequest(operation, outcome, seconds);
}
void Metrics::PollStore() { impl_->PollStore(); }
std::string Metrics::Scrape() const { return impl_->Scrape(); }
const std::string& Metrics::address() const { return impl_->address(); }

}  // namespace keystone::daemon
