#include "daemon/daemon.h"

#include <mutex>
#include <thread>

#include "base/clock.h"
#include "base/log.h"
#include "daemon/dynamodb_api.h"
#include "daemon/http_server.h"
#include "daemon/logging.h"
#include "daemon/metrics.h"
#include "daemon/source_manager.h"
#include "daemon/ttl_sweeper.h"

#ifndef KEYSTONE_VERSION
#define KEYSTONE_VERSION "0.0.0"
#endif

namespace keystone::daemon {
namespace {

constexpr std::string_view kComponent = "keystoned";

std::string DescribeKey(const store::KeyAttribute& key) {
  return key.name + " (" + std::string(store::AttributeTypeName(key.type)) + ")";
}

std::string DescribeKeys(const store::TableSchema& schema) {
  std::string out = "partition key " + DescribeKey(schema.partition_key);
  out += schema.sort_key ? ", sort key " + DescribeKey(*schema.sort_key) : ", no sort key";
  return out;
}

std::string DescribeStream(const store::StreamConfig& stream) {
  if (!stream.enabled) return "disabled";
  return std::string(store::StreamViewTypeName(stream.view_type)) + ", buffer_size " +
         std::to_string(stream.buffer_size);
}

std::string DescribeTtl(const store::TimeToLiveConfig& ttl) {
  return ttl.enabled ? "on attribute '" + ttl.attribute_name + "'" : "disabled";
}

bool SameStream(const store::StreamConfig& a, const store::StreamConfig& b) {
  if (a.enabled != b.enabled) return false;
  return !a.enabled || (a.view_type == b.view_type && a.buffer_size == b.buffer_size);
}

std::string AdminError(std::string_view type, std::string_view message) {
  std::string out = "{\"__type\":\"";
  out += type;
  out += "\",\"message\":";
  std::string escaped;
  for (char c : message) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
  return out + "\"" + escaped + "\"}";
}

AdminResponse FromStatus(const Status& s) {
  if (s.ok()) return {200, "{\"ok\":true}"};
  switch (s.code()) {
    case StatusCode::kNotFound:
      return {404, AdminError("NotFound", s.message())};
    case StatusCode::kInvalidArgument:
      return {400, AdminError("InvalidArgument", s.message())};
    case StatusCode::kFailedPrecondition:
      return {409, AdminError("FailedPrecondition", s.message())};
    default:
      return {500, AdminError("Internal", s.message())};
  }
}

// GET /sources; POST /sources/NAME/{pause,resume,reset,snapshot,position}.
AdminResponse HandleAdmin(SourceManager& sources, const AdminRequest& r) {
  if (r.method == "GET" && r.path == "/sources") {
    return {200, SourceStatusesJson(sources.Statuses())};
  }
  std::string_view rest = r.path;
  constexpr std::string_view kPrefix = "/sources/";
  size_t slash = rest.rfind('/');
  if (r.method != "POST" || rest.substr(0, kPrefix.size()) != kPrefix || slash < kPrefix.size()) {
    return {404, AdminError("NotFound", "no admin route " + r.method + " " + r.path)};
  }
  std::string name(rest.substr(kPrefix.size(), slash - kPrefix.size()));
  std::string_view action = rest.substr(slash + 1);
  SourceControl control = SourceControl::kPause;
  uint64_t sequence = 0;
  if (action == "pause") {
    control = SourceControl::kPause;
  } else if (action == "resume") {
    control = SourceControl::kResume;
  } else if (action == "reset") {
    control = SourceControl::kReset;
  } else if (action == "snapshot") {
    control = SourceControl::kSnapshot;
  } else if (action == "position") {
    control = SourceControl::kSetPosition;
    auto it = r.params.find("sequence");
    if (it == r.params.end() || it->second.empty() ||
        it->second.find_first_not_of("0123456789") != std::string::npos || it->second.size() > 19) {
      return {400, AdminError("InvalidArgument",
                              "position needs ?sequence=N with N a non-negative integer")};
    }
    sequence = std::stoull(it->second);
  } else {
    return {404, AdminError("NotFound", "unknown source action '" + std::string(action) +
                                            "' (pause, resume, reset, snapshot, position)")};
  }
  return FromStatus(sources.Control(name, control, sequence));
}

// Whether two indexes hold the same entries (capacity units aside).
bool SameIndexDefinition(const store::SecondaryIndex& a, const store::SecondaryIndex& b) {
  return a.global == b.global && a.partition_key == b.partition_key && a.sort_key == b.sort_key &&
         a.projection == b.projection;
}

std::string DescribeIndex(const store::SecondaryIndex& index) {
  std::string out = "'" + index.name + "' (" + (index.global ? "global" : "local") +
                    ", partition key " + DescribeKey(index.partition_key);
  out += index.sort_key ? ", sort key " + DescribeKey(*index.sort_key) : ", no sort key";
  out += ", projection " + std::string(store::ProjectionTypeName(index.projection.type));
  for (const std::string& name : index.projection.non_key_attributes) out += " " + name;
  return out + ")";
}

}  // namespace

Result<std::vector<std::string>> ReconcileTables(store::ItemStore& store,
                                                 const std::vector<store::TableSchema>& tables) {
  std::vector<std::string> changes;
  for (const store::TableSchema& want : tables) {
    Result<store::TableDescription> have = store.DescribeTable(want.name);
    if (have.status().code() == StatusCode::kNotFound) {
      Status created = store.CreateTable(want);
      if (!created.ok()) return created.WithContext("creating table '" + want.name + "'");
      std::string indexes;
      for (const store::SecondaryIndex& index : want.indexes) {
        indexes += "; index " + DescribeIndex(index);
      }
      changes.push_back("created table '" + want.name + "' (" + DescribeKeys(want) + "; stream " +
                        DescribeStream(want.stream) + indexes + ")");
      continue;
    }
    if (!have.ok()) return have.status().WithContext("describing table '" + want.name + "'");
    const store::TableSchema& got = have->schema;
    if (got.partition_key != want.partition_key || got.sort_key != want.sort_key) {
      return FailedPrecondition("table '" + want.name + "' exists with " + DescribeKeys(got) +
                                " but the config asks for " + DescribeKeys(want) +
                                "; change the config or delete the table");
    }
    if (!SameStream(got.stream, want.stream)) {
      Result<store::TableDescription> updated = store.UpdateStream(want.name, want.stream);
      if (!updated.ok()) {
        return updated.status().WithContext("updating the stream of table '" + want.name + "'");
      }
      changes.push_back("table '" + want.name + "': stream changed from " +
                        DescribeStream(got.stream) + " to " + DescribeStream(want.stream));
    }
    // Indexes the config lists are created when missing (global ones: a
    // local index exists only from the table's creation); indexes the table
    // has besides (made through the API, say) are left alone.
    for (const store::SecondaryIndex& index : want.indexes) {
      const store::SecondaryIndex* have_index = store::FindIndex(got, index.name);
      if (have_index != nullptr) {
        if (!SameIndexDefinition(*have_index, index)) {
          return FailedPrecondition("table '" + want.name + "' has index '" + index.name + "' as " +
                                    DescribeIndex(*have_index) + " but the config asks for " +
                                    DescribeIndex(index) +
                                    "; change the config or delete the index");
        }
        continue;
      }
      if (!index.global) {
        return FailedPrecondition("table '" + want.name + "' has no local index '" + index.name +
                                  "', and local indexes can only be made with their table; "
                                  "change the config or recreate the table");
      }
      store::TableUpdate update;
      update.create_index = index;
      Result<store::TableDescription> updated = store.UpdateTable(want.name, update);
      if (!updated.ok()) {
        return updated.status().WithContext("creating index '" + index.name + "' of table '" +
                                            want.name + "'");
      }
      changes.push_back("table '" + want.name + "': created index " + DescribeIndex(index));
    }
    if (got.ttl != want.ttl) {
      store::TableUpdate update;
      update.ttl = want.ttl;
      Result<store::TableDescription> updated = store.UpdateTable(want.name, update);
      if (!updated.ok()) {
        return updated.status().WithContext("updating the Time to Live of table '" + want.name +
                                            "'");
      }
      changes.push_back("table '" + want.name + "': Time to Live changed from " +
                        DescribeTtl(got.ttl) + " to " + DescribeTtl(want.ttl));
    }
  }
  return changes;
}

std::vector<std::string> SectionsNeedingRestart(const DaemonOptions& a, const DaemonOptions& b) {
  std::vector<std::string> out;
  if (a.store.path != b.store.path) out.push_back("data_dir");
  if (a.store.sync != b.store.sync) out.push_back("sync");
  if (a.store.initial_map_size != b.store.initial_map_size ||
      a.store.max_map_size != b.store.max_map_size) {
    out.push_back("map_size");
  }
  if (a.store.pin_max_records != b.store.pin_max_records ||
      a.store.pin_max_bytes != b.store.pin_max_bytes) {
    out.push_back("stream_retention");
  }
  if (!(a.http == b.http)) out.push_back("http");
  if (!(a.metrics == b.metrics)) out.push_back("metrics");
  if (!(a.auth == b.auth)) out.push_back("auth");
  if (!(a.kafka == b.kafka)) out.push_back("kafka");
  if (!(a.health == b.health)) out.push_back("health");
  return out;
}

class Daemon::Impl {
 public:
  explicit Impl(DaemonOptions options) : options_(std::move(options)) {}

  ~Impl() { Stop(); }

  Status Start() {
    options_.store.clock = SystemClock::Default();
    auto store = store::ItemStore::Open(options_.store);
    if (!store.ok())
      return store.status().WithContext("opening the store at " + options_.store.path);
    store_ = std::move(store).value();
    LogInfo(kComponent, "store open at " + options_.store.path +
                            (options_.store.sync ? " (sync: full)" : " (sync: nosync)"));

    KS_ASSIGN_OR_RETURN(std::vector<std::string> changes,
                        ReconcileTables(*store_, options_.tables));
    for (const std::string& c : changes) LogInfo(kComponent, c);

    // Sources start once the store is open and before the daemon reports
    // ready; they stop before it closes.
    SourceManagerOptions source_options;
    source_options.kafka = options_.kafka;
    source_options.sources = options_.sources;
    source_options.region = options_.auth.region;
    auto sources = SourceManager::Start(*store_, std::move(source_options));
    if (!sources.ok()) return sources.status();
    sources_ = std::move(sources).value();

    DynamoDbApiOptions api_options;
    api_options.region = options_.auth.region;
    api_ = std::make_unique<DynamoDbApi>(*store_, api_options);

    MetricsServerOptions metrics_options;
    metrics_options.metrics = options_.metrics;
    metrics_options.version = KEYSTONE_VERSION;
    metrics_options.max_map_size = options_.store.max_map_size;
    auto metrics = Metrics::Start(metrics_options, store_.get());
    if (!metrics.ok()) return metrics.status();
    metrics_ = std::move(metrics).value();
    SourceManager* manager = sources_.get();
    metrics_->AddCollector(
        [manager](std::vector<MetricFamilyData>& out) { manager->Collect(out); });

    // Time to Live deletions: store writes like any other, so they run while
    // the sources do and stop before them.
    TtlSweeperOptions ttl_options;
    ttl_options.clock = options_.store.clock;
    ttl_sweeper_ = std::make_unique<TtlSweeper>(*store_, ttl_options);
    TtlSweeper* sweeper = ttl_sweeper_.get();
    metrics_->AddCollector([sweeper](std::vector<MetricFamilyData>& out) {
      out.push_back({"keystone_ttl_expired_items_total",
                     "Items deleted because their Time to Live passed",
                     MetricKind::kCounter,
                     {{{}, static_cast<double>(sweeper->expired_total())}}});
      out.push_back({"keystone_ttl_errors_total",
                     "Time to Live passes over a table that failed on a store error (logged)",
                     MetricKind::kCounter,
                     {{{}, static_cast<double>(sweeper->errors_total())}}});
    });

    HttpServerOptions http_options;
    http_options.http = options_.http;
    http_options.auth = options_.auth;
    http_options.admin = [manager](const AdminRequest& r) { return HandleAdmin(*manager, r); };
    http_options.stall_timeout_ms = options_.health.stall_timeout_ms;
    http_options.health_check = [this] { return StoreWriterHealth(); };
    auto http = HttpServer::Start(http_options, *api_, metrics_.get(),
                                  [this] { return !stopping_ && store_ != nullptr; });
    if (!http.ok()) return http.status();
    http_ = std::move(http).value();

    LogInfo(kComponent,
            "DynamoDB API listening on " + http_->url() +
                (options_.auth.access_keys.empty()
                     ? " (no access keys configured: any signature is accepted)"
                     : " (SigV4 required, " + std::to_string(options_.auth.access_keys.size()) +
                           " access key(s), region " + options_.auth.region + ")"));
    if (!metrics_->address().empty()) {
      LogInfo(kComponent, "metrics on http://" + metrics_->address() + "/metrics");
    } else {
      LogInfo(kComponent, "metrics exposition disabled");
    }
    return Status::Ok();
  }

  void Reload(const DaemonOptions& next_in) {
    DaemonOptions next = next_in;
    next.store.clock = options_.store.clock;
    if (!(next.logging == options_.logging)) {
      InstallLogging(next.logging);
      LogInfo(kComponent, "logging: level " + std::string(LogLevelName(next.logging.level)) +
                              ", format " + std::string(LogFormatName(next.logging.format)));
    }
    Result<std::vector<std::string>> changes = ReconcileTables(*store_, next.tables);
    if (changes.ok()) {
      for (const std::string& c : *changes) LogInfo(kComponent, c);
      if (changes->empty() && next.tables == options_.tables) {
        LogInfo(kComponent, "tables unchanged");
      }
    } else {
      LogError(kComponent, "reload: " + changes.status().message());
    }
    for (const store::TableSchema& old : options_.tables) {
      bool kept = false;
      for (const store::TableSchema& t : next.tables) kept = kept || t.name == old.name;
      if (!kept) {
        LogInfo(kComponent, "table '" + old.name +
                                "' is no longer in the config; it stays in the store "
                                "(DeleteTable removes it)");
      }
    }
    std::vector<std::string> restart = SectionsNeedingRestart(options_, next);
    if (!restart.empty()) {
      std::string list;
      for (const std::string& s : restart) list += (list.empty() ? "" : ", ") + s;
      LogWarn(kComponent, "changed config section(s) " + list +
                              " take effect after a restart; running with the previous values");
    }
    // Keep what runs: the sections needing a restart keep their old values.
    options_.tables = next.tables;
    options_.logging = next.logging;
    if (next.shutdown_timeout_ms != options_.shutdown_timeout_ms) {
      LogInfo(kComponent, "shutdown_timeout_ms: " + std::to_string(options_.shutdown_timeout_ms) +
                              " -> " + std::to_string(next.shutdown_timeout_ms));
      options_.shutdown_timeout_ms = next.shutdown_timeout_ms;
    }
    if (!(next.kafka == options_.kafka)) {
      LogWarn(kComponent,
              "the kafka section changed; sources keep the previous Kafka settings "
              "until a restart");
    }
    if (sources_) sources_->Reload(next.sources);
    options_.sources = next.sources;
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    // The metrics exposer takes a while to stop; stop it alongside the HTTP
    // drain. Both must be done before the store closes.
    std::thread metrics_stop([this] {
      if (metrics_) metrics_->Stop();
    });
    if (http_) {
      http_->Stop();
      LogInfo(kComponent, "HTTP listener stopped; in-flight requests finished");
    }
    metrics_stop.join();
    http_.reset();
    api_.reset();
    if (ttl_sweeper_) {
      ttl_sweeper_->Stop();
    }
    // No more writes can come: let the sources publish what they have,
    // within their flush bound, and store their positions.
    if (sources_) {
      sources_->Stop();
      sources_.reset();
    }
    if (store_) {
      store_.reset();
      LogInfo(kComponent, "store closed");
    }
    metrics_.reset();
    ttl_sweeper_.reset();
  }

  Status Health() const {
    if (stopping_) return Unavailable("stopping");
    if (store_ == nullptr || !http_) return Unavailable("not started");
    return http_->Health();  // its loops, and StoreWriterHealth
  }

  // Unavailable when the store's writer has been on one group commit for
  // longer than health.stall_timeout_ms: every write waits behind it.
  Status StoreWriterHealth() const {
    int64_t started = store_->stats().batch_started_ns.load(std::memory_order_relaxed);
    if (started == 0) return Status::Ok();
    int64_t busy_ms = (options_.store.clock->MonotonicNs() - started) / 1'000'000;
    if (busy_ms <= static_cast<int64_t>(options_.health.stall_timeout_ms)) return Status::Ok();
    return Unavailable("the store writer has been on one write batch for " +
                       std::to_string(busy_ms) + " ms (a hung disk, or another process holding " +
                       "the LMDB write lock of " + options_.store.path + "?)");
  }

  std::string http_url() const { return http_ ? http_->url() : ""; }
  std::string metrics_address() const { return metrics_ ? metrics_->address() : ""; }
  std::string embedded_kafka() const { return sources_ ? sources_->embedded_bootstrap() : ""; }
  const DaemonOptions& options() const { return options_; }

 private:
  DaemonOptions options_;
  std::unique_ptr<store::ItemStore> store_;
  std::unique_ptr<SourceManager> sources_;
  std::unique_ptr<TtlSweeper> ttl_sweeper_;
  std::unique_ptr<DynamoDbApi> api_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<HttpServer> http_;
  std::mutex stop_mu_;
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};
};

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Daemon::~Daemon() { Stop(); }

Result<std::unique_ptr<Daemon>> Daemon::Start(DaemonOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  Status started = impl->Start();
  if (!started.ok()) {
    impl->Stop();
    return started;
  }
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

void Daemon::Reload(const DaemonOptions& next) { impl_->Reload(next); }
void Daemon::Stop() {
  if (impl_) impl_->Stop();
}
bool Daemon::Healthy() const { return impl_->Health().ok(); }
Status Daemon::Health() const { return impl_->Health(); }
std::string Daemon::http_url() const { return impl_->http_url(); }
std::string Daemon::metrics_address() const { return impl_->metrics_address(); }
std::string Daemon::embedded_kafka() const { return impl_->embedded_kafka(); }
const DaemonOptions& Daemon::options() const { return impl_->options(); }

}  // namespace keystone::daemon
