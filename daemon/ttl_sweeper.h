#pragma once

// TtlSweeper: Time to Live for keystoned. A thread of its own that, every
// interval, visits each table whose TTL is enabled and deletes the items
// whose expiry time has passed (store::ItemStore::ExpireItems), reading at
// most `scan_per_pass` items of a table per pass and continuing where the
// previous pass stopped, so that a large table costs a bounded amount of work
// per pass and is covered over successive passes. Each deletion is an
// ordinary store write with a REMOVE stream record marked expired_by_ttl, so
// CDC sources and the Streams API see it as DynamoDB Streams shows a TTL
// deletion. DynamoDB deletes expired items "within a few days"; here an item
// goes within a pass or, on a table larger than scan_per_pass, within the
// passes a full round takes.
//
// Thread safety: Stop and the accessors from any thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/status.h"
#include "lmdb_store/item_store.h"

namespace keystone::daemon {

struct TtlSweeperOptions {
  // Pause between passes.
  uint32_t interval_ms = 1000;
  // Items read per table per pass.
  size_t scan_per_pass = 10000;
  // Wall time (expiry is in epoch seconds); null: the system clock.
  Clock* clock = nullptr;
};

class TtlSweeper {
 public:
  // Starts the thread; `store` must outlive this object.
  TtlSweeper(store::ItemStore& store, TtlSweeperOptions options);
  ~TtlSweeper();
  TtlSweeper(const TtlSweeper&) = delete;
  TtlSweeper& operator=(const TtlSweeper&) = delete;

  // Stops the thread after the table it is on; idempotent.
  void Stop();

  // Items deleted as expired, and passes that hit a store error (logged).
  uint64_t expired_total() const { return expired_total_.load(std::memory_order_relaxed); }
  uint64_t errors_total() const { return errors_total_.load(std::memory_order_relaxed); }

 private:
  void Run();
  // One pass over every table (counted in expired_total / errors_total).
  void SweepOnce();

  store::ItemStore& store_;
  const TtlSweeperOptions options_;
  // Where the next pass continues, per table (the sweeper thread only).
  std::map<std::string, std::optional<store::Item>> resume_;
  std::atomic<uint64_t> expired_total_{0};
  std::atomic<uint64_t> errors_total_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace keystone::daemon
