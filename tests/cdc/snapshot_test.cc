// Snapshots: the seam between snapshot and stream is exact under concurrent
// writes; progress survives crashes; deleted tables; tables without a stream;
// triggered snapshots; the snapshot pins the stream it needs.
//
// "Exact" means, for every key K: let S_K be the stream sequence of the chunk
// whose key range holds K (the sequence of the first snapshot read of a key >=
// K; for keys after the last read, the sequence the final chunk was read at).
// Then the events for K are exactly:
//   - a snapshot read (op r) carrying K's state as of S_K, if K existed then;
//   - followed by one event per stream record of K with sequence > S_K, in
//     order, each carrying that record's new state;
// and nothing else: no change <= S_K is published, none after it is missed or
// repeated. (One source session, every event acknowledged.)

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "cdc/source.h"
#include "tests/cdc/cdc_test_util.h"

namespace keystone::cdc {
namespace {

using store::StreamEventType;
using store::StreamViewType;
using testing::CreateTableWithLateStream;
using testing::FakeSink;
using testing::Item;
using testing::ItemBuilder;
using testing::Key;
using testing::Op;
using testing::TestOptions;
using testing::TestRuntime;
using testing::TestStore;
using testing::Users;

Item User(const std::string& pk, int64_t v) { return ItemBuilder().S("pk", pk).N("v", v).Build(); }

struct KeyEvent {
  char op = 0;
  uint64_t sequence = 0;
  std::optional<int64_t> v;
  friend bool operator==(const KeyEvent&, const KeyEvent&) = default;
};

std::ostream& operator<<(std::ostream& os, const KeyEvent& e) {
  return os << e.op << "@" << e.sequence << "=" << (e.v ? std::to_string(*e.v) : "-");
}

// Debezium events per item key (tombstones and key-less events left out).
std::map<std::string, std::vector<KeyEvent>> EventsByKey(const std::vector<EncodedEvent>& events) {
  std::map<std::string, std::vector<KeyEvent>> out;
  for (const EncodedEvent& e : events) {
    if (!e.key || !e.value) continue;
    auto key = testing::ParseJson(*e.key);
    auto value = testing::ParseJson(*e.value);
    KeyEvent k;
    k.op = Op(e)[0];
    k.sequence = e.sequence;
    if (!value["after"].IsNull()) k.v = value["after"]["v"].GetInt64();
    out[key["pk"].GetString()].push_back(k);
  }
  return out;
}

// The stream's records per key, as the events they should become.
std::map<std::string, std::vector<KeyEvent>> RecordsByKey(store::ItemStore& store) {
  std::map<std::string, std::vector<KeyEvent>> out;
  auto all = store.ReadStream("users", 0, 10'000'000);
  EXPECT_TRUE(all.ok());
  for (const store::StreamRecord& r : all->records) {
    EXPECT_NE(StreamEventType::kTruncate, r.type);
    KeyEvent k;
    k.op = r.type == StreamEventType::kInsert   ? 'c'
           : r.type == StreamEventType::kModify ? 'u'
                                                : 'd';
    k.sequence = r.sequence;
    if (r.new_image) {
      int64_t v = 0;
      EXPECT_TRUE(r.new_image->at("v").n().ToInt64(&v));
      k.v = v;
    }
    out[r.keys.at("pk").s()].push_back(k);
  }
  return out;
}

// Checks the exactness property of the file comment. `snapshot_end` is the
// sequence the final chunk was read at. Returns the number of keys checked.
size_t CheckSeam(const std::vector<EncodedEvent>& events, store::ItemStore& store,
                 uint64_t snapshot_end) {
  auto by_key = EventsByKey(events);
  auto records = RecordsByKey(store);
  // Snapshot reads in key order (the keys are S: byte order is key order).
  std::map<std::string, uint64_t> reads;
  for (const auto& [k, list] : by_key) {
    for (const KeyEvent& e : list) {
      if (e.op == 'r') reads[k] = e.sequence;
    }
  }
  std::set<std::string> keys;
  for (const auto& [k, _] : by_key) keys.insert(k);
  for (const auto& [k, _] : records) keys.insert(k);
  for (const std::string& k : keys) {
    SCOPED_TRACE("key " + k);
    auto next = reads.lower_bound(k);
    uint64_t s = next == reads.end() ? snapshot_end : next->second;
    std::vector<KeyEvent> expected;
    std::optional<int64_t> state;
    for (const KeyEvent& r : records[k]) {
      if (r.sequence <= s) {
        state = r.v;
      } else {
        expected.push_back(r);
      }
    }
    if (state) expected.insert(expected.begin(), KeyEvent{'r', s, state});
    EXPECT_EQ(expected, by_key[k]);
  }
  return keys.size();
}

// Steps (acknowledging everything) until the snapshot is complete, calling
// `between(step)` before each of the first `writes` steps; then drains.
// Returns the sequence the final chunk was read at.
uint64_t RunToEnd(Source& source, FakeSink& sink, store::ItemStore& store, int writes,
                  const std::function<void(int)>& between) {
  uint64_t snapshot_end = 0;
  bool seen_active = false;
  for (int step = 0; step < 100000 && (snapshot_end == 0 || step < writes); ++step) {
    if (step < writes) between(step);
    EXPECT_TRUE(source.PollOnce().ok());
    sink.AckAll();
    CdcPosition p = source.position();
    seen_active = seen_active || p.snapshot.active;
    if (seen_active && !p.snapshot.active && snapshot_end == 0) snapshot_end = p.sequence;
  }
  EXPECT_TRUE(testing::Drain(source, sink, store));
  return snapshot_end;
}

SourceOptions Chunked(uint32_t chunk, std::string name = "src") {
  SourceOptions o = TestOptions(std::move(name));
  o.snapshot_chunk_size = chunk;
  return o;
}

// --- the seam, step by step ----------------------------------------------------

TEST(SnapshotTest, SeamIsExactAcrossChunksWithWritesBetweenThem) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(store->Put("users", User("k0" + std::to_string(i), 0)).ok());
  FakeSink sink;
  Source source(*store, sink, Chunked(3), TestRuntime(&store.clock));
  auto reads = [&] {
    size_t n = 0;
    for (const EncodedEvent& e : sink.sent()) n += Op(e) == "r";
    return n;
  };
  auto step_until_reads = [&](size_t n) {
    ASSERT_TRUE(testing::PollUntil(source, [&] {
      sink.AckAll();
      return reads() >= n;
    }));
  };
  step_until_reads(3);                                    // chunk [k00 k01 k02] read at sequence 10
  ASSERT_TRUE(store->Put("users", User("k01", 1)).ok());  // 11: before the last key: published
  ASSERT_TRUE(store->Put("users", User("k05", 1)).ok());  // 12: after it: the next chunk has it
  ASSERT_TRUE(store->Delete("users", Key("k08")).ok());   // 13: after it
  ASSERT_TRUE(store->Put("users", User("k10", 0)).ok());  // 14: after it (a new key)
  ASSERT_TRUE(store->Put("users", User("k015", 0)).ok());  // 15: a new key before it: published
  step_until_reads(6);                                     // [k03 k04 k05] at 15
  ASSERT_TRUE(store->Delete("users", Key("k04")).ok());    // 16: before the last key
  ASSERT_TRUE(store->Put("users", User("k07", 1)).ok());   // 17: after it
  ASSERT_TRUE(testing::Drain(source, sink, *store));       // [k06 k07 k09] at 17, [k10]
  ASSERT_TRUE(store->Put("users", User("k10", 1)).ok());   // 18: streamed
  ASSERT_TRUE(testing::Drain(source, sink, *store));

  std::vector<std::string> got;
  for (const EncodedEvent& e : sink.sent()) {
    std::string pk = testing::ParseJson(*e.key)["pk"].GetString();
    std::string v = "-";
    if (e.value && !testing::ParseJson(*e.value)["after"].IsNull()) {
      v = std::to_string(testing::ParseJson(*e.value)["after"]["v"].GetInt64());
    }
    got.push_back(Op(e) + " " + pk + " " + std::to_string(e.sequence) + " " +
                  (e.value ? v : "tombstone"));
  }
  std::vector<std::string> expected = {
      "r k00 10 0", "r k01 10 0",         "r k02 10 0",  // chunk 1
      "u k01 11 1", "c k015 15 0",                       // catch-up through 15, keys <= k02
      "r k03 15 0", "r k04 15 0",         "r k05 15 1",  // chunk 2 (k05 as of 15)
      "d k04 16 -", "d k04 16 tombstone",                // catch-up through 17, keys <= k05
      "r k06 17 0", "r k07 17 1",         "r k09 17 0",  // chunk 3 (k08 gone, k07 as of 17)
      "r k10 17 0",                                      // chunk 4, the last
      "u k10 18 1",                                      // streaming
  };
  EXPECT_EQ(expected, got);
  EXPECT_EQ(
      "last",
      std::string(testing::ParseJson(*sink.sent()[13].value)["source"]["snapshot"].GetString()));
  EXPECT_EQ(4u, source.stats().seam_skipped.load());     // 12, 13, 14 and 17 (k07 > k05)
  EXPECT_EQ(10u, source.stats().snapshot_items.load());  // k015 came by the stream
  CheckSeam(sink.sent(), *store, 17);
}

// --- the seam under a concurrent writer --------------------------------------

TEST(SnapshotTest, EveryItemsFinalStateExactlyOnceUnderConcurrentWrites) {
  for (uint32_t seed : {7u, 8u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    TestStore store;
    ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
    for (int i = 0; i < 150; ++i) {
      char pk[16];
      std::snprintf(pk, sizeof pk, "k%03d", i * 2);  // odd keys appear later
      ASSERT_TRUE(store->Put("users", User(pk, 0)).ok());
    }
    FakeSink sink;
    Source source(*store, sink, Chunked(4), TestRuntime(&store.clock));
    std::atomic<bool> snapshot_done{false};
    std::atomic<int> writes_during{0};
    // Each snapshot step waits until the writer wrote since the last one, so
    // that writes really interleave with the chunks (no sleeping).
    std::mutex mu;
    std::condition_variable cv;
    int writes = 0;
    std::thread writer([&] {
      std::mt19937 rng(seed);
      int64_t v = 0;
      int after = 0;
      while (after < 300) {
        char pk[16];
        std::snprintf(pk, sizeof pk, "k%03d", static_cast<int>(rng() % 320));
        Status s = rng() % 5 == 0 ? store->Delete("users", Key(pk)).status()
                                  : store->Put("users", User(pk, ++v)).status();
        ASSERT_TRUE(s.ok()) << s.ToString();
        {
          std::lock_guard<std::mutex> lock(mu);
          ++writes;
        }
        cv.notify_all();
        if (snapshot_done.load()) {
          ++after;
        } else {
          writes_during.fetch_add(1);
        }
      }
    });
    uint64_t snapshot_end = 0;
    bool seen_active = false;
    int seen = 0;
    for (int step = 0; step < 1'000'000 && snapshot_end == 0; ++step) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return writes > seen; });
        seen = writes;
      }
      ASSERT_TRUE(source.PollOnce().ok());
      sink.AckAll();
      CdcPosition p = source.position();
      seen_active = seen_active || p.snapshot.active;
      if (seen_active && !p.snapshot.active) snapshot_end = p.sequence;
    }
    snapshot_done = true;
    writer.join();
    ASSERT_TRUE(testing::Drain(source, sink, *store));
    // The writer really ran during the snapshot: chunks saw different heads.
    std::set<uint64_t> chunk_sequences;
    for (const EncodedEvent& e : sink.sent()) {
      if (e.snapshot) chunk_sequences.insert(e.sequence);
    }
    EXPECT_GT(chunk_sequences.size(), 3u);
    EXPECT_GT(writes_during.load(), 0);
    EXPECT_GT(CheckSeam(sink.sent(), *store, snapshot_end), 150u);
    // And the consumer's final state is the table.
    std::map<std::string, std::optional<int64_t>> consumer;
    for (const auto& [k, list] : EventsByKey(sink.sent())) consumer[k] = list.back().v;
    for (auto& [k, v] : consumer) {
      auto item = store->Get("users", Key(k));
      ASSERT_TRUE(item.ok());
      std::optional<int64_t> want;
      if (*item) {
        int64_t x = 0;
        (*item)->at("v").n().ToInt64(&x);
        want = x;
      }
      EXPECT_EQ(want, v) << k;
    }
  }
}

// --- crashes -------------------------------------------------------------------

// Crash after every number of acknowledged snapshot events, with a write
// between every two steps: the snapshot resumes after its last acknowledged
// item (never from the start), nothing is lost, and only the unstored tail is
// repeated.
TEST(SnapshotCrashTest, SnapshotResumesAfterACrashAtEveryPoint) {
  constexpr int kItems = 13;
  uint64_t recovery_deletes = 0;
  for (int crash_after = 0; crash_after <= kItems + 3; ++crash_after) {
    SCOPED_TRACE("crash after " + std::to_string(crash_after) + " acks");
    TestStore store;
    ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
    for (int i = 0; i < kItems; ++i) {
      ASSERT_TRUE(store->Put("users", User("k" + std::to_string(10 + i), 0)).ok());
    }
    std::mt19937 rng(crash_after);
    int64_t v = 100;
    auto write = [&] {
      std::string pk = "k" + std::to_string(10 + rng() % (kItems + 4));
      if (rng() % 4 == 0) {
        ASSERT_TRUE(store->Delete("users", Key(pk)).ok());
      } else {
        ASSERT_TRUE(store->Put("users", User(pk, ++v)).ok());
      }
    };
    std::vector<EncodedEvent> delivered;
    uint64_t stored_items = 0;
    std::optional<Item> stored_last_key;
    {
      FakeSink sink;
      Source source(*store, sink, Chunked(3), TestRuntime(&store.clock));
      int acked = 0;
      while (acked < crash_after) {
        write();
        ASSERT_TRUE(source.PollOnce().ok());
        if (sink.InFlight() == 0) break;
        acked += static_cast<int>(sink.AckFirst(1));
      }
      ASSERT_TRUE(source.PollOnce().ok());  // stores the position
      for (const EncodedEvent& e : sink.acked()) delivered.push_back(e);
      auto stored = LoadCdcPosition(*store, "src");
      ASSERT_TRUE(stored.ok() && stored->has_value());
      stored_items = (*stored)->snapshot.items;
      stored_last_key = (*stored)->snapshot.last_key;
      sink.AckFirst(2);  // acknowledged but never stored: repeated after the crash
      for (const EncodedEvent& e : sink.acked()) {
        if (delivered.empty() || e.token > delivered.back().token) delivered.push_back(e);
      }
    }  // crash
    FakeSink sink;
    Source source(*store, sink, Chunked(3), TestRuntime(&store.clock));
    ASSERT_TRUE(testing::Drain(source, sink, *store));
    recovery_deletes += source.stats().recovery_deletes.load();
    auto resent = sink.sent();
    // The first snapshot read after the restart continues the ordinals and
    // comes after the stored last key.
    for (const EncodedEvent& e : resent) {
      if (!e.snapshot) continue;
      EXPECT_EQ(stored_items, e.snapshot_ordinal);
      if (stored_last_key) {
        EXPECT_GT(testing::ParseJson(*e.key)["pk"].GetString(), stored_last_key->at("pk").s());
      }
      break;
    }
    // No item is read twice unless its first read was not stored.
    std::map<std::string, int> reads;
    for (const EncodedEvent& e : delivered) {
      if (e.snapshot) ++reads[*e.key];
    }
    for (const EncodedEvent& e : resent) {
      if (e.snapshot) ++reads[*e.key];
    }
    for (const auto& [k, n] : reads) EXPECT_LE(n, 2) << k;
    // The consumer's final state is the table.
    std::map<std::string, int64_t> consumer;
    std::vector<EncodedEvent> all = delivered;
    all.insert(all.end(), resent.begin(), resent.end());
    for (const auto& [k, list] : EventsByKey(all)) {
      if (list.back().v) consumer[k] = *list.back().v;
    }
    std::map<std::string, int64_t> table;
    for (const auto& [k, list] : RecordsByKey(*store)) {
      if (list.back().v) table[k] = *list.back().v;
    }
    EXPECT_EQ(table, consumer);
  }
  EXPECT_GT(recovery_deletes, 0u);  // the case below happened in the loop
}

// The case the crash loop above found: an item's snapshot read reached the
// destination but was not stored, the item was deleted, and the source
// restarted. The resumed chunk no longer has the item; without the stored
// high water its delete (older than that chunk) would be skipped and the
// consumer would keep the item forever.
TEST(SnapshotCrashTest, DeletesOfItemsSentBeforeACrashArePublished) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  for (int i = 1; i <= 6; ++i)
    ASSERT_TRUE(store->Put("users", User("k" + std::to_string(i), 0)).ok());
  {
    FakeSink sink;
    Source source(*store, sink, Chunked(3), TestRuntime(&store.clock));
    ASSERT_TRUE(source.PollOnce().ok());  // [k1 k2 k3] sent
    sink.AckFirst(1);
    ASSERT_TRUE(source.PollOnce().ok());  // stores last_key k1
    sink.AckAll();                        // k2, k3 delivered; never stored
    auto stored = LoadCdcPosition(*store, "src");
    ASSERT_EQ("k1", (*stored)->snapshot.last_key->at("pk").s());
    ASSERT_EQ("k3", (*stored)->snapshot.high_water_key->at("pk").s());
  }                                                     // crash
  ASSERT_TRUE(store->Delete("users", Key("k2")).ok());  // sequence 7
  ASSERT_TRUE(
      store->Put("users", User("k5", 1)).ok());  // 8: after the high water, the chunk has it
  FakeSink sink;
  Source source(*store, sink, Chunked(3), TestRuntime(&store.clock));
  ASSERT_TRUE(testing::Drain(source, sink, *store));
  std::vector<std::string> got;
  for (const EncodedEvent& e : sink.sent()) {
    got.push_back(Op(e) + " " + testing::ParseJson(*e.key)["pk"].GetString() +
                  (e.value ? "" : " tombstone"));
  }
  std::vector<std::string> expected = {"d k2", "d k2 tombstone", "r k3", "r k4", "r k5", "r k6"};
  EXPECT_EQ(expected, got);
  EXPECT_EQ(1u, source.stats().recovery_deletes.load());
}

// --- other snapshot cases ------------------------------------------------------

TEST(SnapshotTest, TriggeredSnapshotMidStreamIsExact) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(store->Put("users", User("k" + std::to_string(10 + i), 0)).ok());
  SourceOptions o = Chunked(4);
  o.snapshot = SnapshotMode::kNever;
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(testing::Drain(source, sink, *store));
  size_t streamed = sink.sent().size();
  ASSERT_TRUE(source.TriggerSnapshot().ok());
  int64_t v = 0;
  uint64_t snapshot_end = RunToEnd(source, sink, *store, 12, [&](int step) {
    ASSERT_TRUE(store->Put("users", User("k" + std::to_string(10 + (step * 7) % 25), ++v)).ok());
  });
  ASSERT_GT(snapshot_end, 20u);
  std::vector<EncodedEvent> sent = sink.sent();
  std::vector<EncodedEvent> after(sent.begin() + streamed, sent.end());
  CheckSeam(after, *store, snapshot_end);
  EXPECT_EQ(1u, source.stats().snapshots_completed.load());
}

TEST(SnapshotTest, TheSnapshotPinsTheStreamItNeeds) {
  // A tiny stream buffer: without the pin, the writes during the snapshot
  // would be trimmed before the catch-ups read them.
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users(StreamViewType::kNewAndOldImages, 2)).ok());
  for (int i = 0; i < 12; ++i)
    ASSERT_TRUE(store->Put("users", User("k" + std::to_string(10 + i), 0)).ok());
  FakeSink sink;
  Source source(*store, sink, Chunked(2), TestRuntime(&store.clock));
  int64_t v = 0;
  uint64_t snapshot_end = RunToEnd(source, sink, *store, 10, [&](int step) {
    ASSERT_TRUE(store->Put("users", User("k" + std::to_string(10 + step % 3), ++v)).ok());
  });
  EXPECT_EQ(0u, source.stats().gaps.load());
  // The records before the first chunk were trimmed; check keys from there.
  auto by_key = EventsByKey(sink.sent());
  EXPECT_EQ(12u, by_key.size());
  for (int i = 0; i < 3; ++i) {
    const auto& list = by_key["k" + std::to_string(10 + i)];
    ASSERT_FALSE(list.empty());
    EXPECT_EQ('r', list.front().op);
  }
  EXPECT_GT(source.stats().seam_skipped.load() + source.stats().events_sent.load(), 12u);
  EXPECT_GT(snapshot_end, 12u);
}

TEST(SnapshotTest, FiltersApplyToSnapshotReads) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(store->Put("users", User("k" + std::to_string(i), i)).ok());
  SourceOptions o = Chunked(3);
  o.filters.condition = "v >= :five";
  o.filters.values = {{":five", testing::AV::N(5)}};
  o.transforms = {TransformOptions{.type = TransformType::kAddField, .name = "src", .value = "s"}};
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(testing::Drain(source, sink, *store));
  auto sent = sink.sent();
  ASSERT_EQ(5u, sent.size());
  for (const EncodedEvent& e : sent) {
    auto doc = testing::ParseJson(*e.value);
    EXPECT_GE(doc["after"]["v"].GetInt(), 5);
    EXPECT_EQ("s", std::string(doc["after"]["src"].GetString()));
  }
  EXPECT_EQ(5u, source.stats().events_filtered.load());
  EXPECT_EQ(10u, source.position().sequence);
}

TEST(SnapshotTest, TableDeletedDuringTheSnapshot) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  for (int i = 0; i < 6; ++i)
    ASSERT_TRUE(store->Put("users", User("k" + std::to_string(i), 0)).ok());
  FakeSink sink;
  Source source(*store, sink, Chunked(2), TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  sink.AckAll();
  ASSERT_TRUE(store->DeleteTable("users").ok());  // sequence 7: the truncate record
  ASSERT_TRUE(testing::Drain(source, sink, *store));
  auto sent = sink.sent();
  ASSERT_EQ(3u, sent.size());
  EXPECT_EQ("r", Op(sent[0]));
  EXPECT_EQ("r", Op(sent[1]));
  EXPECT_EQ("t", Op(sent[2]));
  EXPECT_EQ(7u, source.position().sequence);
  EXPECT_EQ(SourceState::kStreaming, source.GetStatus().state);
}

TEST(SnapshotTest, InitialOnlyWorksWithoutAStream) {
  TestStore store;
  store::TableSchema schema = Users();
  schema.stream.enabled = false;
  ASSERT_TRUE(CreateTableWithLateStream(*store, schema).ok());
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(store->Put("users", User("k" + std::to_string(i), i)).ok());
  SourceOptions o = Chunked(2);
  o.snapshot = SnapshotMode::kInitialOnly;
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(testing::PollUntil(source, [&] {
    sink.AckAll();
    return source.GetStatus().state == SourceState::kDone;
  }));
  EXPECT_EQ(5u, sink.sent().size());
  auto stored = store->LoadPosition(PositionName("src"));
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_FALSE((*stored)->pins);

  // Without initial_only a stream is required.
  FakeSink sink2;
  Source streaming(*store, sink2, TestOptions("s2"), TestRuntime(&store.clock));
  EXPECT_EQ(StatusCode::kFailedPrecondition, streaming.PollOnce().code());
}

TEST(SnapshotTest, ViewTypesApplyToSnapshotReads) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users(StreamViewType::kKeysOnly)).ok());
  ASSERT_TRUE(store->Put("users", User("k1", 1)).ok());
  SourceOptions o = TestOptions();
  o.format = EventFormat::kDynamoDb;
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(testing::Drain(source, sink, *store));
  auto doc = testing::ParseJson(*sink.sent()[0].value);
  EXPECT_EQ("INSERT", std::string(doc["eventName"].GetString()));
  EXPECT_FALSE(doc["dynamodb"].HasMember("NewImage"));
  EXPECT_EQ("KEYS_ONLY", std::string(doc["dynamodb"]["StreamViewType"].GetString()));
}

}  // namespace
}  // namespace keystone::cdc
