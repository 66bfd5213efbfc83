#pragma once

// Coalesces cross-thread wake-ups. A thread that completes many operations in
// a row (the store's writer finishing a group commit of, say, 30 HTTP
// requests) would otherwise wake their event loop once per completion: the
// loop drains its queue after the first wake, so each later completion
// writes the loop's eventfd again and the loop returns from epoll again.
// While a WakeBatch is open on a thread, wakes requested on that thread are
// collected, one per target, and delivered when the outermost batch closes.

#include <utility>
#include <vector>

namespace keystone {

class WakeBatch {
 public:
  using WakeFn = void (*)(void* target);

  WakeBatch();
  // Delivers the collected wakes, in the order first requested, if this is
  // the outermost batch of the thread.
  ~WakeBatch();
  WakeBatch(const WakeBatch&) = delete;
  WakeBatch& operator=(const WakeBatch&) = delete;

  // When a batch is open on the calling thread, records `fn(target)` (once
  // per target) and returns true; otherwise returns false and the caller
  // wakes `target` itself. REQUIRES: `target` stays valid until the batch
  // closes (callers defer only wakes for work they just queued on it, which
  // keeps it alive).
  static bool Defer(WakeFn fn, void* target);

 private:
  WakeBatch* const outer_;
  std::vector<std::pair<WakeFn, void*>> wakes_;
};

}  // namespace keystone
