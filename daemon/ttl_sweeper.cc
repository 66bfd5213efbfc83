#include "daemon/ttl_sweeper.h"

#include <chrono>
#include <set>
#include <vector>

#include "base/log.h"
#include "base/thread_name.h"

namespace keystone::daemon {
namespace {
constexpr std::string_view kComponent = "ttl";
}  // namespace

TtlSweeper::TtlSweeper(store::ItemStore& store, TtlSweeperOptions options)
    : store_(store), options_(std::move(options)) {
  thread_ = std::thread([this] { Run(); });
}

TtlSweeper::~TtlSweeper() { Stop(); }

void TtlSweeper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void TtlSweeper::Run() {
  SetThreadName("ttl-sweeper");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    SweepOnce();
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms), [&] { return stopping_; });
  }
}

void TtlSweeper::SweepOnce() {
  Clock* clock = options_.clock != nullptr ? options_.clock : SystemClock::Default();
  Result<std::vector<std::string>> tables = store_.ListTables();
  if (!tables.ok()) {
    errors_total_.fetch_add(1, std::memory_order_relaxed);
    LogWarn(kComponent, "listing tables: " + tables.status().ToString());
    return;
  }
  // Forget where deleted tables' rounds stopped.
  std::set<std::string> live(tables->begin(), tables->end());
  std::erase_if(resume_, [&](const auto& entry) { return live.count(entry.first) == 0; });
  for (const std::string& table : *tables) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
    }
    std::optional<store::Item>& resume = resume_[table];
    Result<store::ExpireResult> r =
        store_.ExpireItems(table, clock->NowMs() / 1000, resume, options_.scan_per_pass);
    if (!r.ok()) {
      // A table deleted since the listing has nothing left to expire.
      if (r.status().code() == StatusCode::kNotFound) continue;
      errors_total_.fetch_add(1, std::memory_order_relaxed);
      LogWarn(kComponent, "expiring items of table '" + table + "': " + r.status().ToString());
      continue;
    }
    resume = std::move(r->resume_after);
    if (r->expired > 0) {
      expired_total_.fetch_add(r->expired, std::memory_order_relaxed);
      LogDebug(kComponent, "table '" + table + "': deleted " + std::to_string(r->expired) +
                               " expired item(s) of " + std::to_string(r->scanned) + " read");
    }
  }
}

}  // namespace keystone::daemon
