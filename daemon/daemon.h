#pragma once

// Daemon: keystoned's components wired together from a DaemonOptions — the
// store (with the configured tables), the DynamoDB API, the HTTP server and
// the metrics exposition — with start, reload and stop. Signals, systemd
// notification and the command line live in keystoned_main.cc.
//
// CDC sources (the `sources` and `kafka` sections) run in a SourceManager
// (source_manager.h): started after the store opens, before Start returns
// (so before READY=1), reloaded by Reload, stopped and flushed by Stop before
// the store closes. Their status and controls are served on the HTTP
// listener (GET /sources, POST /sources/NAME/ACTION) and their metrics with
// the others.
//
// Thread safety: Start, Reload and Stop from one thread (the main loop);
// Healthy() and the accessors from any.

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "daemon/daemon_options.h"
#include "lmdb_store/item_store.h"

namespace keystone::daemon {

// Makes the store's tables match `tables`: creates the missing ones and
// applies stream and Time to Live differences (the config is authoritative
// for the tables it names, also over UpdateTimeToLive calls). A table that
// exists with a different key schema is kFailedPrecondition naming the table,
// both schemas and what to do; no table after it is touched. Tables not in
// `tables` are left alone. Returns one line per change made, for the log.
Result<std::vector<std::string>> ReconcileTables(store::ItemStore& store,
                                                 const std::vector<store::TableSchema>& tables);

// The sections that differ between `before` and `after` and that take effect
// only after a restart ("http", "auth", "data_dir", "kafka", ...). Tables,
// sources and logging are applied by Reload and not listed.
std::vector<std::string> SectionsNeedingRestart(const DaemonOptions& before,
                                                const DaemonOptions& after);

class Daemon {
 public:
  // Opens the store, reconciles the tables, binds the HTTP and metrics
  // listeners. Errors name what failed ("opening the store at ./data: ...",
  // "cannot listen on 127.0.0.1:8000: Address already in use"); nothing is
  // left running then.
  [[nodiscard]] static Result<std::unique_ptr<Daemon>> Start(DaemonOptions options);

  // Stops (see Stop()).
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Applies what can change while running — tables (created, stream changes
  // applied), sources (added, removed, changed) and logging — and logs every other section that
  // changed as needing a restart. A reconciliation error is logged; the daemon keeps running with
  // what it has.
  void Reload(const DaemonOptions& next);

  // Stops accepting requests, finishes those in progress, stops metrics and
  // closes the store. Idempotent.
  void Stop();

  // OK while the store is open, the HTTP listener runs with every event loop
  // alive, and no store write batch has lasted past health.stall_timeout_ms;
  // otherwise kUnavailable saying which ("stopping", "the store writer has
  // been on one write batch for 31000 ms ..."). keystoned sends systemd's
  // WATCHDOG=1 only while it is OK; GET /healthz reports it.
  Status Health() const;
  bool Healthy() const;

  // The effective addresses: "http://127.0.0.1:8000" and "127.0.0.1:9464"
  // (empty when metrics are disabled).
  std::string http_url() const;
  std::string metrics_address() const;
  // The embedded Kafka broker's bootstrap address; "" when not embedded.
  std::string embedded_kafka() const;
  const DaemonOptions& options() const;

 private:
  class Impl;
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keystone::daemon
