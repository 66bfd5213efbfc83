#pragma once

// A cdc::EventSink for benchmarks that measure Keystone without a broker:
// it acknowledges every event at the next Poll and keeps only the tokens and
// counts. Subclasses see each event in Capture (e.g. to record it).
// Single-threaded, as EventSink.

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "cdc/event_sink.h"

namespace keystone::bench {

class AckingSink : public cdc::EventSink {
 public:
  Status Start(cdc::DeliveryListener* listener, const std::vector<std::string>&) override {
    listener_ = listener;
    return Status::Ok();
  }
  Status Send(const cdc::EncodedEvent& event) override {
    Capture(event);
    bytes_ += event.ByteSize();
    ++events_;
    tokens_.push_back(event.token);
    return Status::Ok();
  }
  void Poll(std::chrono::milliseconds) override {
    while (!tokens_.empty()) {
      uint64_t t = tokens_.front();
      tokens_.pop_front();
      listener_->OnDelivered(t, Status::Ok());
    }
  }
  Status Flush(std::chrono::milliseconds timeout) override {
    Poll(timeout);
    return Status::Ok();
  }
  size_t InFlight() const override { return tokens_.size(); }
  uint64_t events() const { return events_; }
  uint64_t bytes() const { return bytes_; }

 protected:
  virtual void Capture(const cdc::EncodedEvent&) {}

 private:
  cdc::DeliveryListener* listener_ = nullptr;
  std::deque<uint64_t> tokens_;
  uint64_t events_ = 0, bytes_ = 0;
};

}  // namespace keystone::bench
