#pragma once

// DaemonOptions: everything keystoned is configured with, one struct per
// component. config/ fills it from keystoned.yaml (checking every range
// documented here); daemon/ hands each component only its own part. Plain
// values; thread-compatible.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/enum_names.h"
#include "base/log.h"
#include "cdc/source_options.h"
#include "kafka_sink/kafka_options.h"
#include "lmdb_store/item_store.h"
#include "lmdb_store/schema.h"

namespace keystone::daemon {

// Serve HTTPS instead of HTTP. Both files are PEM; read at start.
struct TlsOptions {
  std::string cert_file;
  std::string key_file;
  friend bool operator==(const TlsOptions&, const TlsOptions&) = default;
};

// The DynamoDB-compatible API.
struct HttpOptions {
  // "host:port", port in [1, 65535]; host a name, an IPv4 address or a
  // bracketed IPv6 address ("[::1]:8000").
  std::string listen = "127.0.0.1:8000";
  // Largest request body accepted (413 beyond), [1KiB, 1GiB].
  uint64_t max_body_bytes = 16ull << 20;
  // Most event-loop threads serving connections, [1, 1024]; the server runs
  // min(this, number of CPUs) of them. Each serves its connections' reads
  // inline and queues their writes to the store, so the requests in flight
  // are bounded by the connections (one each), not by this.
  uint32_t worker_threads = 8;
  // Connections open at once, [1, 100000] (idle keep-alive ones included,
  // until they time out); at the cap further clients wait in the kernel's
  // accept queue. A connection costs a few KiB, not a thread.
  uint32_t max_connections = 512;
  // A table operation (CreateTable, UpdateTable, DeleteTable) or admin
  // request, which runs on a small pool of its own, fails with 503 when it
  // cannot start within this, [1, 3600000] ms. An operation that has started
  // runs to its end (a store write cannot be abandoned half-way).
  uint32_t request_timeout_ms = 30000;
  // A request (line, headers and body) must arrive whole within this from
  // its first byte, [1, 3600000] ms, or it gets 408 and the connection is
  // closed: a client that trickles bytes cannot hold a connection forever.
  // (Separately, a client that sends nothing for 10 s mid-request is cut off.)
  uint32_t request_read_timeout_ms = 60000;
  // Requests served on one kept-alive connection before it is closed,
  // [0, 1000000]; 0 = no limit.
  uint32_t keep_alive_max_count = 1000;
  std::optional<TlsOptions> tls;
  friend bool operator==(const HttpOptions&, const HttpOptions&) = default;
};

// Prometheus exposition at http://listen/metrics.
struct MetricsOptions {
  std::string listen = "127.0.0.1:9464";
  bool enabled = true;
  friend bool operator==(const MetricsOptions&, const MetricsOptions&) = default;
};

struct AccessKey {
  // 1-128 characters of [A-Za-z0-9].
  std::string access_key_id;
  // A secret: never logged; PrintConfig masks it.
  std::string secret_access_key;
  friend bool operator==(const AccessKey&, const AccessKey&) = default;
};

// SigV4 request authentication for the HTTP API.
struct AuthOptions {
  // Accepted keys (distinct ids); empty = any signature is accepted (local
  // development), requests must still be signed for the SDKs' sake.
  std::vector<AccessKey> access_keys;
  // The region requests must be signed for.
  std::string region = "us-east-1";
  friend bool operator==(const AuthOptions&, const AuthOptions&) = default;
};

inline constexpr EnumName<LogLevel> kLogLevelNames[] = {
    {LogLevel::kDebug, "debug"},
    {LogLevel::kInfo, "info"},
    {LogLevel::kWarn, "warn"},
    {LogLevel::kError, "error"},
};
inline bool ParseLogLevel(std::string_view s, LogLevel* out) {
  return ParseName(kLogLevelNames, s, out);
}

// text: "2024-01-01T00:00:00.000Z info store: message". json: one object a
// line with time, level, component and message.
enum class LogFormat { kText, kJson };
inline constexpr EnumName<LogFormat> kLogFormatNames[] = {
    {LogFormat::kText, "text"},
    {LogFormat::kJson, "json"},
};
inline std::string_view LogFormatName(LogFormat v) { return NameOf(kLogFormatNames, v); }
inline bool ParseLogFormat(std::string_view s, LogFormat* out) {
  return ParseName(kLogFormatNames, s, out);
}

struct LoggingOptions {
  LogLevel level = LogLevel::kInfo;
  LogFormat format = LogFormat::kText;
  friend bool operator==(const LoggingOptions&, const LoggingOptions&) = default;
};

// What makes keystoned unhealthy (GET /healthz 503, no systemd WATCHDOG=1,
// so that systemd restarts it): an HTTP event loop that has not run, or a
// store write batch (group commit) that has not finished, for longer than
// stall_timeout_ms, [100, 3600000].
struct HealthOptions {
  uint32_t stall_timeout_ms = 30'000;
  friend bool operator==(const HealthOptions&, const HealthOptions&) = default;
};

struct DaemonOptions {
  // path = data_dir (default ./data); sync, map sizes and the stream
  // retention pin caps come from the config, the rest keep StoreOptions'
  // defaults. clock stays null here; the daemon sets it.
  store::StoreOptions store{.path = "./data"};
  HttpOptions http;
  MetricsOptions metrics;
  AuthOptions auth;
  LoggingOptions logging;
  HealthOptions health;
  // SIGTERM/SIGINT: when stopping (finishing in-flight requests, flushing the
  // sources, closing the store) takes longer than this, [1000, 3600000] ms,
  // keystoned exits at once with status 1. Acknowledged writes are durable
  // either way. Keep it below systemd's TimeoutStopSec. Applied on reload.
  uint32_t shutdown_timeout_ms = 30'000;
  // Created at start when missing (distinct names).
  std::vector<store::TableSchema> tables;
  kafka::KafkaOptions kafka;
  // Distinct names, each on a table of `tables`.
  std::vector<cdc::SourceOptions> sources;
};

}  // namespace keystone::daemon
