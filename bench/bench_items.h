#pragma once

// The items the benchmarks write, and a fill of the store with them, shared
// so that every figure is measured on the same data.

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "lmdb_store/attribute_value.h"
#include "lmdb_store/item_store.h"

namespace keystone::bench {

// ~200-byte items (encoded): a key over 1M and a few typed attributes.
inline store::Item MakeItem(uint64_t key, uint64_t version) {
  return store::ItemBuilder()
      .S("pk", "user#" + std::to_string(key))
      .S("name", "Customer " + std::to_string(key))
      .S("email", "customer" + std::to_string(key) + "@example.com")
      .N("version", static_cast<int64_t>(version))
      .N("balance", "1234.56")
      .Bool("active", true)
      .S("address", "221B Baker Street, London NW1 6XE, United Kingdom")
      .S("notes", "regular customer since 2019, prefers email")
      .Build();
}

// Writes `records` changes to `table`: half inserts of new keys, half
// updates of earlier ones, in BatchWrites of 25 from 4 threads (so that group
// commit batches them). False (after printing why) when a write failed.
inline bool FillUsers(store::ItemStore& store, uint64_t records,
                      const std::string& table = "users") {
  constexpr int kWriters = 4;
  std::vector<std::thread> threads;
  std::atomic<bool> ok{true};
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::vector<store::BatchWriteEntry> batch;
      for (uint64_t i = w; i < records; i += kWriters) {
        uint64_t key = (i % 2 == 0) ? i : i / 2;
        batch.push_back({table, true, MakeItem(key, i)});
        if (batch.size() == 25 || i + kWriters >= records) {
          Status s = store.BatchWrite(batch);
          if (!s.ok()) {
            std::fprintf(stderr, "fill: %s\n", s.ToString().c_str());
            ok = false;
            return;
          }
          batch.clear();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return ok;
}

}  // namespace keystone::bench
