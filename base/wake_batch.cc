#include "base/wake_batch.h"

#include <algorithm>

namespace keystone {
namespace {

thread_local WakeBatch* open_batch = nullptr;

}  // namespace

WakeBatch::WakeBatch() : outer_(open_batch) {
  if (outer_ == nullptr) open_batch = this;
}

WakeBatch::~WakeBatch() {
  if (outer_ != nullptr) return;
  open_batch = nullptr;
  for (auto& [fn, target] : wakes_) fn(target);
}

bool WakeBatch::Defer(WakeFn fn, void* target) {
  WakeBatch* batch = open_batch;
  if (batch == nullptr) return false;
  // A batch wakes a handful of targets (one per event loop): a linear scan.
  auto same = [&](const std::pair<WakeFn, void*>& w) {
    return w.first == fn && w.second == target;
  };
  if (std::none_of(batch->wakes_.begin(), batch->wakes_.end(), same)) {
    batch->wakes_.emplace_back(fn, target);
  }
  return true;
}

}  // namespace keystone
