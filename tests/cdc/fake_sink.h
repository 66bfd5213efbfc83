#pragma once

// FakeSink: an EventSink for tests that records every event it accepts and
// lets the test decide when and how each one is reported: acknowledged, failed
// permanently, or lost by a sink reset (kUnavailable), in any order.
//
// Two ways to report:
//   - Direct (default): Ack/AckAll/Fail/ResetSink call the listener at once on
//     the calling thread. Use from the thread that calls Source::PollOnce (the
//     source thread), never while a Run loop owns the source.
//   - auto_ack: every accepted event is acknowledged at the next Poll or Flush
//     (on the source thread), for Run-driven tests and benchmarks.
// `capacity` makes Send refuse (kUnavailable, backpressure) while that many
// events are unreported. With record_events off only counts are kept (for
// benchmarks that send millions).
//
// Thread-safe: the test may inspect it while a source thread sends.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "cdc/event_sink.h"

namespace keystone::cdc::testing {

class FakeSink : public EventSink {
 public:
  struct Options {
    bool auto_ack = false;
    size_t capacity = SIZE_MAX;
    bool record_events = true;
    // Status Start returns.
    Status start_status;
  };

  FakeSink() = default;
  explicit FakeSink(Options options) : options_(std::move(options)) {}

  Status Start(DeliveryListener* listener, const std::vector<std::string>& topics) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!options_.start_status.ok()) return options_.start_status;
    listener_ = listener;
    topics_ = topics;
    ++starts_;
    return Status::Ok();
  }

  Status Send(const EncodedEvent& event) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (listener_ == nullptr) return FailedPrecondition("FakeSink not started");
    if (!send_error_.ok()) return send_error_;
    if (pending_.size() >= options_.capacity) {
      ++refusals_;
      return Unavailable("FakeSink full");
    }
    ++sent_count_;
    sent_bytes_ += event.ByteSize();
    if (options_.record_events) sent_.push_back(event);
    pending_.push_back(event);
    cv_.notify_all();
    return Status::Ok();
  }

  void Poll(std::chrono::milliseconds timeout) override {
    if (options_.auto_ack) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (pending_.empty() && timeout.count() > 0) {
          cv_.wait_for(lock, timeout, [&] { return !pending_.empty(); });
        }
      }
      AckAll();
    }
  }

  Status Flush(std::chrono::milliseconds timeout) override {
    if (options_.auto_ack) AckAll();
    std::lock_guard<std::mutex> lock(mu_);
    ++flushes_;
    return pending_.empty() ? Status::Ok() : Unavailable("FakeSink: events unreported");
  }

  size_t InFlight() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return pending_.size();
  }

  // --- test controls -------------------------------------------------------

  // Unreported events, in the order sent.
  std::vector<EncodedEvent> pending() const {
    std::lock_guard<std::mutex> lock(mu_);
    return std::vector<EncodedEvent>(pending_.begin(), pending_.end());
  }
  // Every event accepted, in the order sent.
  std::vector<EncodedEvent> sent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }
  // Events reported OK, in the order acknowledged.
  std::vector<EncodedEvent> acked() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  uint64_t sent_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_count_;
  }
  uint64_t acked_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_count_;
  }
  uint64_t refusals() const {
    std::lock_guard<std::mutex> lock(mu_);
    return refusals_;
  }
  int starts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return starts_;
  }
  std::vector<std::string> topics() const {
    std::lock_guard<std::mutex> lock(mu_);
    return topics_;
  }
  void set_capacity(size_t capacity) {
    std::lock_guard<std::mutex> lock(mu_);
    options_.capacity = capacity;
  }
  // Send fails with `status` (not kUnavailable: a refusal for good) until
  // cleared with OK.
  void set_send_error(Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    send_error_ = std::move(status);
  }

  // Reports `token` with `status` (OK = acknowledged). False if not pending.
  bool Report(uint64_t token, const Status& status) {
    DeliveryListener* listener = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = std::find_if(pending_.begin(), pending_.end(),
                             [&](const EncodedEvent& e) { return e.token == token; });
      if (it == pending_.end()) return false;
      if (status.ok()) {
        ++acked_count_;
        if (options_.record_events) acked_.push_back(*it);
      }
      pending_.erase(it);
      listener = listener_;
    }
    listener->OnDelivered(token, status);
    return true;
  }
  bool Ack(uint64_t token) { return Report(token, Status::Ok()); }
  // Acknowledges `tokens` (all pending) in that order in one round, as a real
  // sink's Poll does (DeliveryListener::OnDeliveredBatch). False if one is
  // not pending; then none is reported.
  bool AckRound(const std::vector<uint64_t>& tokens) {
    DeliveryListener* listener = nullptr;
    std::vector<std::pair<uint64_t, Status>> reports;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (uint64_t token : tokens) {
        if (std::none_of(pending_.begin(), pending_.end(),
                         [&](const EncodedEvent& e) { return e.token == token; })) {
          return false;
        }
      }
      for (uint64_t token : tokens) {
        auto it = std::find_if(pending_.begin(), pending_.end(),
                               [&](const EncodedEvent& e) { return e.token == token; });
        ++acked_count_;
        if (options_.record_events) acked_.push_back(*it);
        pending_.erase(it);
        reports.emplace_back(token, Status::Ok());
      }
      listener = listener_;
    }
    listener->OnDeliveredBatch(reports);
    return true;
  }
  bool Fail(uint64_t token, Status status) { return Report(token, status); }

  // Acknowledges every pending event, oldest first; returns how many.
  size_t AckAll() {
    std::vector<uint64_t> tokens = PendingTokens();
    for (uint64_t t : tokens) Ack(t);
    return tokens.size();
  }
  // Acknowledges the oldest `n` pending events.
  size_t AckFirst(size_t n) {
    std::vector<uint64_t> tokens = PendingTokens();
    tokens.resize(std::min(n, tokens.size()));
    for (uint64_t t : tokens) Ack(t);
    return tokens.size();
  }
  // A sink reset: every pending event is reported kUnavailable (lost).
  size_t ResetSink() {
    std::vector<uint64_t> tokens = PendingTokens();
    for (uint64_t t : tokens) Report(t, Unavailable("FakeSink reset"));
    return tokens.size();
  }
  // Forgets pending events without reporting them (as a crashed process's
  // sink would).
  void DropPending() {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.clear();
  }
  std::vector<uint64_t> PendingTokens() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<uint64_t> tokens;
    for (const EncodedEvent& e : pending_) tokens.push_back(e.token);
    return tokens;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Options options_;
  DeliveryListener* listener_ = nullptr;
  std::vector<std::string> topics_;
  std::deque<EncodedEvent> pending_;
  std::vector<EncodedEvent> sent_;
  std::vector<EncodedEvent> acked_;
  uint64_t sent_count_ = 0;
  uint64_t sent_bytes_ = 0;
  uint64_t acked_count_ = 0;
  uint64_t refusals_ = 0;
  int starts_ = 0;
  int flushes_ = 0;
  Status send_error_;
};

// The value of header `name` ("" if absent).
inline std::string Header(const EncodedEvent& event, std::string_view name) {
  for (const auto& [k, v] : event.headers) {
    if (k == name) return v;
  }
  return std::string();
}

}  // namespace keystone::cdc::testing
