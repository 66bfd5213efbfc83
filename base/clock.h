#pragma once

// Time, injected so that tests control it. SystemClock is the real one;
// FakeClock moves only when told. Both are thread-safe.

#include <atomic>
#include <cstdint>

namespace keystone {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (wall time, for record timestamps).
  virtual int64_t NowMs() const = 0;
  // Monotonic nanoseconds, for measuring intervals; unrelated to wall time.
  virtual int64_t MonotonicNs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
  int64_t MonotonicNs() const override;
  // A process-wide instance; never destroyed.
  static SystemClock* Default();
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_ms_(start_ms) {}
  int64_t NowMs() const override { return now_ms_.load(); }
  int64_t MonotonicNs() const override { return now_ms_.load() * 1'000'000; }
  void AdvanceMs(int64_t ms) { now_ms_ += ms; }
  void SetMs(int64_t ms) { now_ms_ = ms; }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace keystone
