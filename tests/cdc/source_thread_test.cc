// Source on its own thread (Run): concurrent writers, controls and status
// calls from other threads, backpressure from a full sink, clean stop. These
// are the tests the TSan build exists for.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "cdc/source.h"
#include "tests/cdc/cdc_test_util.h"

namespace keystone::cdc {
namespace {

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

// Waits (yielding, never sleeping) until `done()`; false after `limit`.
bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

bool CaughtUp(Source& source, store::ItemStore& store) {
  auto info = store.GetStreamInfo("users");
  SourceStatus s = source.GetStatus();
  return info.ok() && !s.snapshot_running && s.in_flight_records == 0 &&
         s.position.sequence >= info->latest_sequence;
}

void Write(store::ItemStore& store, int writer, int n) {
  for (int i = 0; i < n; ++i) {
    std::string pk = "w" + std::to_string(writer) + "-" + std::to_string(i % 17);
    Status s = i % 5 == 4 ? store.Delete("users", Key(pk)).status()
                          : store.Put("users", User(pk, i)).status();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
}

TEST(SourceThreadTest, RunPublishesConcurrentWritesInOrderPerKey) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(store->Put("users", User("pre" + std::to_string(i), i)).ok());
  FakeSink sink(FakeSink::Options{.auto_ack = true});
  SourceOptions o = TestOptions();
  o.batch_size = 16;
  o.snapshot_chunk_size = 8;
  o.max_in_flight_records = 32;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(source.Start().ok());
  EXPECT_EQ(StatusCode::kFailedPrecondition, source.Start().code());
  std::atomic<bool> stop_reader{false};
  std::thread reader([&] {
    while (!stop_reader.load()) {
      SourceStatus s = source.GetStatus();
      EXPECT_LE(s.position.sequence, s.table_sequence + 1'000'000);
      EXPECT_LE(s.in_flight_records, 32u);
      (void)source.position();
      (void)source.stats().events_sent.load();
      std::this_thread::yield();
    }
  });
  std::thread w1(Write, std::ref(*store), 1, 400);
  std::thread w2(Write, std::ref(*store), 2, 400);
  w1.join();
  w2.join();
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(source, *store); }));
  stop_reader = true;
  reader.join();
  source.Stop();
  EXPECT_EQ(SourceState::kStopped, source.GetStatus().state);

  // Per key in sequence order; every record after the snapshot's last chunk
  // published (earlier ones are reflected by the chunks); the consumer's
  // final state is the table.
  auto sent = sink.sent();
  std::map<std::string, uint64_t> last;
  std::set<uint64_t> sequences;
  uint64_t snapshot_end = 0;
  std::map<std::string, std::optional<int64_t>> consumer;
  for (const EncodedEvent& e : sent) {
    if (e.snapshot) snapshot_end = std::max(snapshot_end, e.sequence);
    if (!e.value) continue;
    auto value = testing::ParseJson(*e.value);
    consumer[*e.key] = value["after"].IsNull()
                           ? std::nullopt
                           : std::optional<int64_t>(value["after"]["v"].GetInt64());
    if (e.snapshot) continue;
    EXPECT_GT(e.sequence, last[*e.key]) << *e.key;
    last[*e.key] = e.sequence;
    sequences.insert(e.sequence);
  }
  ASSERT_GT(snapshot_end, 0u);
  auto all = store->ReadStream("users", snapshot_end, 1'000'000);
  ASSERT_TRUE(all.ok());
  for (const auto& r : all->records) EXPECT_EQ(1u, sequences.count(r.sequence)) << r.sequence;
  std::map<std::string, std::optional<int64_t>> table;
  auto everything = store->ReadStream("users", 0, 1'000'000);
  for (const auto& r : everything->records) {
    std::string key = "{\"pk\":\"" + r.keys.at("pk").s() + "\"}";
    int64_t v = 0;
    if (r.new_image) r.new_image->at("v").n().ToInt64(&v);
    table[key] = r.new_image ? std::optional<int64_t>(v) : std::nullopt;
  }
  for (auto it = table.begin(); it != table.end();) {
    it = it->second ? std::next(it) : table.erase(it);
  }
  for (auto it = consumer.begin(); it != consumer.end();) {
    it = it->second ? std::next(it) : consumer.erase(it);
  }
  EXPECT_EQ(table, consumer);
  // The stored position is the acknowledged one.
  auto stored = LoadCdcPosition(*store, "src");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(source.position().sequence, (*stored)->sequence);
}

TEST(SourceThreadTest, ControlsFromAnotherThread) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(store->Put("users", User("k" + std::to_string(i), i)).ok());
  FakeSink sink(FakeSink::Options{.auto_ack = true});
  Source source(*store, sink, TestOptions(), TestRuntime(&store.clock));
  ASSERT_TRUE(source.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(source, *store); }));
  EXPECT_EQ(20u, sink.sent_count());

  // Pause: new writes wait (the status shows the lag), then Resume.
  ASSERT_TRUE(source.Pause().ok());
  ASSERT_TRUE(WaitFor([&] { return source.GetStatus().state == SourceState::kPaused; }));
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(store->Put("users", User("p" + std::to_string(i), i)).ok());
  ASSERT_TRUE(WaitFor([&] { return source.GetStatus().lag_records == 5; }));
  EXPECT_EQ(20u, sink.sent_count());
  ASSERT_TRUE(source.Resume().ok());
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(source, *store); }));
  EXPECT_EQ(25u, sink.sent_count());

  // A snapshot on demand while writers run.
  std::thread writer(Write, std::ref(*store), 1, 200);
  ASSERT_TRUE(source.TriggerSnapshot().ok());
  writer.join();
  ASSERT_TRUE(WaitFor(
      [&] { return source.stats().snapshots_completed.load() == 2 && CaughtUp(source, *store); }));

  // Set the position back: records after it are sent again.
  uint64_t before = sink.sent_count();
  ASSERT_TRUE(source.SetPosition(20).ok());
  ASSERT_TRUE(WaitFor([&] { return sink.sent_count() > before && CaughtUp(source, *store); }));

  // Reset: the snapshot runs again from scratch.
  ASSERT_TRUE(source.Reset().ok());
  ASSERT_TRUE(WaitFor(
      [&] { return source.stats().snapshots_completed.load() == 3 && CaughtUp(source, *store); }));
  source.Stop();
  source.Stop();  // idempotent
}

TEST(SourceThreadTest, AFullSinkSlowsTheSourceWithoutLoss) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  Write(*store, 1, 300);  // a backlog: batches larger than the sink takes at once
  FakeSink sink(FakeSink::Options{.auto_ack = true, .capacity = 4});
  SourceOptions o = TestOptions();
  o.snapshot = SnapshotMode::kNever;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(source.Start().ok());
  std::thread writer(Write, std::ref(*store), 2, 300);
  writer.join();
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(source, *store); }));
  source.Stop();
  auto records = store->ReadStream("users", 0, 1'000'000);
  std::vector<uint64_t> want, got;
  for (const auto& r : records->records) want.push_back(r.sequence);
  for (const EncodedEvent& e : sink.sent()) {
    if (e.sub_index == 0) got.push_back(e.sequence);
  }
  EXPECT_EQ(want, got);  // all, in order
  EXPECT_GT(sink.refusals(), 0u);
  EXPECT_GT(source.stats().sink_full.load(), 0u);
}

TEST(SourceThreadTest, FailureAndResumeAcrossThreads) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  FakeSink sink(FakeSink::Options{.auto_ack = true});
  sink.set_send_error(InvalidArgument("rejected"));
  SourceOptions o = TestOptions();
  o.snapshot = SnapshotMode::kNever;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(source.Start().ok());
  ASSERT_TRUE(store->Put("users", User("a", 1)).ok());
  ASSERT_TRUE(WaitFor([&] { return source.GetStatus().state == SourceState::kFailed; }));
  EXPECT_NE(std::string::npos, source.GetStatus().error.find("rejected"));
  sink.set_send_error(Status::Ok());
  ASSERT_TRUE(source.Resume().ok());
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(source, *store); }));
  EXPECT_EQ(1u, sink.sent_count());
}

TEST(SourceThreadTest, DestroyingARunningSourceStopsIt) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  FakeSink sink(FakeSink::Options{.auto_ack = true});
  {
    Source source(*store, sink, TestOptions(), TestRuntime(&store.clock));
    ASSERT_TRUE(source.Start().ok());
    ASSERT_TRUE(store->Put("users", User("a", 1)).ok());
    ASSERT_TRUE(WaitFor([&] { return CaughtUp(source, *store); }));
  }
  auto stored = LoadCdcPosition(*store, "src");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(1u, (*stored)->sequence);
}

// --- read-ahead: a backlog of full batches is read and encoded on a second
// thread while the source thread sends ---------------------------------------

std::vector<uint64_t> StreamSequences(store::ItemStore& store) {
  std::vector<uint64_t> out;
  auto records = store.ReadStream("users", 0, 1'000'000);
  EXPECT_TRUE(records.ok());
  for (const auto& r : records->records) out.push_back(r.sequence);
  return out;
}

std::vector<uint64_t> SentSequences(const FakeSink& sink) {
  std::vector<uint64_t> out;
  for (const EncodedEvent& e : sink.sent()) {
    if (e.sub_index == 0) out.push_back(e.sequence);
  }
  return out;
}

TEST(SourceThreadTest, ReadAheadPublishesWhatInlineReadingPublishes) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  Write(*store, 1, 3000);  // puts and deletes: deletes add tombstones
  SourceOptions o = TestOptions("ahead");
  o.snapshot = SnapshotMode::kNever;
  o.batch_size = 25;
  FakeSink ahead_sink(FakeSink::Options{.auto_ack = true});
  {
    Source source(*store, ahead_sink, o, TestRuntime(&store.clock));
    ASSERT_TRUE(source.Start().ok());
    ASSERT_TRUE(WaitFor([&] { return CaughtUp(source, *store); }));
    EXPECT_EQ(StreamSequences(*store).size(), source.stats().records_read.load());
  }
  // The same source inline: PollOnce never reads ahead.
  o.name = "inline";
  FakeSink inline_sink(FakeSink::Options{.auto_ack = true});
  Source inline_source(*store, inline_sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(testing::PollUntil(inline_source, [&] { return CaughtUp(inline_source, *store); }));

  EXPECT_EQ(StreamSequences(*store), SentSequences(ahead_sink));
  std::vector<EncodedEvent> ahead = ahead_sink.sent(), inline_events = inline_sink.sent();
  ASSERT_EQ(inline_events.size(), ahead.size());
  for (size_t i = 0; i < ahead.size(); ++i) {
    EXPECT_EQ(inline_events[i].key, ahead[i].key) << i;
    std::string value = ahead[i].value.value_or("(null)");
    size_t name = value.find(R"("name":"ahead")");
    if (name != std::string::npos) value.replace(name, 14, R"("name":"inline")");
    EXPECT_EQ(inline_events[i].value.value_or("(null)"), value) << i;
    EXPECT_EQ(inline_events[i].sub_index, ahead[i].sub_index) << i;
    EXPECT_EQ(inline_events[i].headers.size(), ahead[i].headers.size()) << i;
  }
}

TEST(SourceThreadTest, ReadAheadIsDroppedWhenThePositionMoves) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  for (int i = 0; i < 4000; ++i) {
    ASSERT_TRUE(store->Put("users", User("k" + std::to_string(i), i)).ok());
  }
  const uint64_t head = *store->HeadSequence();
  const uint64_t first = StreamSequences(*store).front();
  // Slow enough (4 events at a time) that the position moves mid-run.
  FakeSink sink(FakeSink::Options{.auto_ack = true, .capacity = 4});
  SourceOptions o = TestOptions();
  o.snapshot = SnapshotMode::kNever;
  o.batch_size = 20;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(source.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return sink.sent_count() >= 2000; }));
  const uint64_t back_to = first + 999;
  ASSERT_TRUE(source.SetPosition(back_to).ok());
  ASSERT_TRUE(WaitFor([&] {
    SourceStatus s = source.GetStatus();
    return s.position.sequence == head && s.in_flight_records == 0 && sink.sent_count() > 2000;
  }));
  source.Stop();
  // Two runs, each contiguous: from the start up to where SetPosition took
  // effect, then from just after `back_to` to the head. A batch read ahead
  // for the old position and published after the move would break one.
  std::vector<uint64_t> sent = SentSequences(sink);
  size_t cut = 1;
  while (cut < sent.size() && sent[cut] == sent[cut - 1] + 1) ++cut;
  ASSERT_LT(cut, sent.size()) << "no second run";
  EXPECT_EQ(first, sent.front());
  EXPECT_EQ(back_to + 1, sent[cut]);
  for (size_t i = cut + 1; i < sent.size(); ++i) ASSERT_EQ(sent[i - 1] + 1, sent[i]) << i;
  EXPECT_EQ(head, sent.back());
}

}  // namespace
}  // namespace keystone::cdc
