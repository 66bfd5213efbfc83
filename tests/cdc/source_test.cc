// Source: position advance on contiguous acks (out of order, failures,
// restarts), no loss and no reorder per key across crashes at every step,
// backpressure, batching, heartbeats, gap policies, controls, status.

#include "cdc/source.h"

#include <gtest/gtest.h>

#include <map>
#include <numeric>
#include <random>
#include <set>

#include "tests/cdc/cdc_test_util.h"

namespace keystone::cdc {
namespace {

using store::StreamViewType;
using testing::AV;
using testing::CreateTableWithLateStream;
using testing::Drain;
using testing::FakeSink;
using testing::Header;
using testing::Item;
using testing::ItemBuilder;
using testing::Key;
using testing::Op;
using testing::PollUntil;
using testing::SeqHeader;
using testing::TestOptions;
using testing::TestRuntime;
using testing::TestStore;
using testing::Users;

Item User(const std::string& pk, int64_t v) { return ItemBuilder().S("pk", pk).N("v", v).Build(); }

// A store with table users and `n` puts (sequences 1..n, keys u0..u{n-1}).
void Fill(TestStore& store, int n, StreamViewType view = StreamViewType::kNewAndOldImages) {
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users(view)).ok());
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(store->Put("users", User("u" + std::to_string(i), 0)).ok());
}

SourceOptions StreamOnly(std::string name = "src") {
  SourceOptions o = TestOptions(std::move(name));
  o.snapshot = SnapshotMode::kNever;
  return o;
}

std::vector<uint64_t> Sequences(const std::vector<EncodedEvent>& events) {
  std::vector<uint64_t> out;
  for (const EncodedEvent& e : events) out.push_back(e.sequence);
  return out;
}

// --- the STYLE.md example ----------------------------------------------------

TEST(SourceTest, PositionAdvancesOnlyAfterAck) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  ASSERT_TRUE(store->Put("users", ItemBuilder().S("pk", "user#1").S("name", "Alice").Build()).ok());
  FakeSink sink;  // records events; the test decides when they are acked
  Source source(*store, sink, SourceOptions{.table = "users"});

  ASSERT_TRUE(source.PollOnce().ok());
  ASSERT_EQ(1u, sink.pending().size());
  EXPECT_EQ("r", Op(sink.pending()[0]));      // the initial snapshot
  EXPECT_EQ(0u, source.position().sequence);  // not acknowledged yet
  sink.AckAll();
  EXPECT_EQ(1u, source.position().sequence);
  EXPECT_FALSE(source.position().snapshot.active);
  EXPECT_EQ("users", source.name());  // an empty name defaults to the table
  EXPECT_EQ(std::vector<std::string>{"keystone.users"}, sink.topics());
}

// --- acks and the position ---------------------------------------------------

TEST(SourceTest, DeliveryLatencyIsObservedOncePerChangeWhenAllItsEventsAreAcked) {
  TestStore store;
  Fill(store, 1);                                       // 1: insert
  ASSERT_TRUE(store->Delete("users", Key("u0")).ok());  // 2: delete + tombstone
  FakeSink sink;
  Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  auto pending = sink.pending();
  ASSERT_EQ(3u, pending.size());
  const LatencyHistogram& h = source.stats().delivery_latency;
  store.clock.AdvanceMs(7);  // the changes were committed 7 ms ago
  sink.Ack(pending[0].token);
  EXPECT_EQ(1u, h.count.load());
  sink.Ack(pending[1].token);  // the delete, but not yet its tombstone
  EXPECT_EQ(1u, h.count.load());
  store.clock.AdvanceMs(5);
  sink.Ack(pending[2].token);
  EXPECT_EQ(2u, h.count.load());
  // From the commit's time as the store recorded it (this process's
  // commits), in microseconds.
  EXPECT_EQ(7000u + 12000u, h.sum_us.load());
  // Buckets (upper bounds ..., 6, 7, ..., 10, 12.5 ms, ...): 7 ms in "<= 7",
  // 12 ms in "<= 12.5".
  EXPECT_EQ(1u, h.buckets[9].load());
  EXPECT_EQ(1u, h.buckets[13].load());
}

TEST(SourceTest, OutOfOrderAcksAdvanceToTheHighestContiguousSequence) {
  TestStore store;
  Fill(store, 6);
  FakeSink sink;
  Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  auto pending = sink.pending();
  ASSERT_EQ(6u, pending.size());
  EXPECT_EQ((std::vector<uint64_t>{1, 2, 3, 4, 5, 6}), Sequences(pending));
  auto token = [&](uint64_t seq) { return pending[seq - 1].token; };

  sink.Ack(token(3));
  sink.Ack(token(5));
  EXPECT_EQ(0u, source.position().sequence);
  sink.Ack(token(1));
  EXPECT_EQ(1u, source.position().sequence);
  sink.Ack(token(2));
  EXPECT_EQ(3u, source.position().sequence);  // 3 was already acked
  sink.Ack(token(6));
  EXPECT_EQ(3u, source.position().sequence);
  sink.Ack(token(4));
  EXPECT_EQ(6u, source.position().sequence);

  // Stored at the next step; caught up, the position moves to the head.
  ASSERT_TRUE(source.PollOnce().ok());
  auto stored = LoadCdcPosition(*store, "src");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(6u, (*stored)->sequence);
  EXPECT_EQ(6u, source.stats().events_acked.load());
}

TEST(SourceTest, ADeleteAndItsTombstoneAreOneUnit) {
  TestStore store;
  Fill(store, 1);
  ASSERT_TRUE(store->Delete("users", Key("u0")).ok());
  FakeSink sink;
  Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  auto pending = sink.pending();
  ASSERT_EQ(3u, pending.size());
  EXPECT_EQ("d", Op(pending[1]));
  EXPECT_FALSE(pending[2].value.has_value());  // tombstone
  sink.Ack(pending[0].token);
  sink.Ack(pending[2].token);
  EXPECT_EQ(1u, source.position().sequence);  // the delete is not acked yet
  sink.Ack(pending[1].token);
  EXPECT_EQ(2u, source.position().sequence);
}

// One round of reports (OnDeliveredBatch), out of order, over entries of one
// and of two events (a delete and its tombstone), and with a report for an
// event no longer in flight.
TEST(SourceTest, ARoundOfReportsFindsEachEventsEntry) {
  TestStore store;
  Fill(store, 4);
  for (const char* pk : {"u1", "u3"}) ASSERT_TRUE(store->Delete("users", Key(pk)).ok());
  ASSERT_TRUE(store->Put("users", ItemBuilder().S("pk", "u9").Build()).ok());
  FakeSink sink;
  Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  auto pending = sink.pending();
  // 4 inserts, 2 deletes with their tombstones, 1 insert.
  ASSERT_EQ(9u, pending.size());
  EXPECT_EQ((std::vector<uint64_t>{1, 2, 3, 4, 5, 5, 6, 6, 7}), Sequences(pending));
  auto token = [&](size_t i) { return pending[i].token; };

  // The last insert, the second delete's tombstone, the first delete's event.
  ASSERT_TRUE(sink.AckRound({token(8), token(7), token(4)}));
  EXPECT_EQ(0u, source.position().sequence);
  // The inserts before the deletes, newest first: up to the first delete,
  // which waits for its tombstone.
  ASSERT_TRUE(sink.AckRound({token(3), token(2), token(1), token(0)}));
  EXPECT_EQ(4u, source.position().sequence);
  ASSERT_TRUE(sink.AckRound({token(5)}));
  EXPECT_EQ(5u, source.position().sequence);
  ASSERT_TRUE(sink.AckRound({token(6)}));
  EXPECT_EQ(7u, source.position().sequence);
  EXPECT_EQ(9u, source.stats().events_acked.load());
}

TEST(SourceTest, FilteredRecordsAdvanceThePosition) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  for (const char* pk : {"user#1", "org#1", "org#2", "user#2", "org#3"}) {
    ASSERT_TRUE(store->Put("users", ItemBuilder().S("pk", pk).Build()).ok());
  }
  SourceOptions o = StreamOnly();
  o.filters.key_prefix = "user#";
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  auto pending = sink.pending();
  ASSERT_EQ(2u, pending.size());
  EXPECT_EQ(1u, pending[0].sequence);
  EXPECT_EQ(4u, pending[1].sequence);
  sink.Ack(pending[0].token);
  EXPECT_EQ(3u, source.position().sequence);  // 2 and 3 were filtered out
  sink.Ack(pending[1].token);
  EXPECT_EQ(5u, source.position().sequence);
  EXPECT_EQ(3u, source.stats().events_filtered.load());

  // Nothing but filtered records: the position moves without any event.
  ASSERT_TRUE(store->Put("users", ItemBuilder().S("pk", "org#9").Build()).ok());
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(0u, sink.InFlight());
  EXPECT_EQ(6u, source.position().sequence);
}

TEST(SourceTest, PermanentFailureStopsTheSourceLoudlyAndResumeReplays) {
  TestStore store;
  Fill(store, 3);
  FakeSink sink;
  Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  auto pending = sink.pending();
  sink.Ack(pending[0].token);
  sink.Fail(pending[1].token, InvalidArgument("message too large"));
  sink.Ack(pending[2].token);
  Status s = source.PollOnce();
  EXPECT_EQ(StatusCode::kInvalidArgument, s.code());
  EXPECT_NE(std::string::npos, s.message().find("message too large")) << s.ToString();
  SourceStatus status = source.GetStatus();
  EXPECT_EQ(SourceState::kFailed, status.state);
  EXPECT_NE(std::string::npos, status.error.find("sequence 2")) << status.error;
  EXPECT_EQ(1u, status.events_failed);
  EXPECT_EQ(1u, source.position().sequence);  // not past the failed event

  // A failed source sends nothing more.
  ASSERT_TRUE(store->Put("users", User("late", 1)).ok());
  EXPECT_FALSE(source.PollOnce().ok());
  EXPECT_EQ(3u, sink.sent().size());

  ASSERT_TRUE(source.Resume().ok());
  ASSERT_TRUE(source.PollOnce().ok());
  // Replayed from after the position: 2, 3 and the new record 4.
  EXPECT_EQ((std::vector<uint64_t>{2, 3, 4}), Sequences(sink.pending()));
  sink.AckAll();
  EXPECT_EQ(4u, source.position().sequence);
  EXPECT_EQ(SourceState::kStreaming, source.GetStatus().state);
}

TEST(SourceTest, SinkResetRewindsToThePositionAndResends) {
  TestStore store;
  Fill(store, 4);
  FakeSink sink;
  Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  auto first = sink.pending();
  sink.Ack(first[0].token);
  sink.Ack(first[2].token);         // acked but after a gap in acks
  EXPECT_EQ(2u, sink.ResetSink());  // 2 and 4 lost
  EXPECT_EQ(1u, source.position().sequence);
  ASSERT_TRUE(source.PollOnce().ok());
  // Everything after the position again, in order (3 is repeated: at least once).
  auto again = sink.pending();
  EXPECT_EQ((std::vector<uint64_t>{2, 3, 4}), Sequences(again));
  EXPECT_GT(again[0].token, first[3].token);  // tokens keep increasing
  EXPECT_EQ(1u, source.stats().rewinds.load());
  sink.AckAll();
  EXPECT_EQ(4u, source.position().sequence);
}

TEST(SourceTest, RestartResumesFromTheStoredPosition) {
  TestStore store;
  Fill(store, 5);
  {
    FakeSink sink;
    Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
    ASSERT_TRUE(source.PollOnce().ok());
    sink.AckFirst(3);
    ASSERT_TRUE(source.PollOnce().ok());  // stores position 3
    sink.AckAll();                        // acked, never stored: the "crash" repeats 4, 5
  }
  auto stored = LoadCdcPosition(*store, "src");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(3u, (*stored)->sequence);
  FakeSink sink;
  Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ((std::vector<uint64_t>{4, 5}), Sequences(sink.pending()));
  EXPECT_EQ(3u, source.position().sequence);
}

TEST(SourceTest, PositionIsStoredAtTheConfiguredInterval) {
  TestStore store;
  Fill(store, 2);
  SourceRuntime runtime = TestRuntime(&store.clock);
  runtime.position_save_interval_ms = 1000;
  FakeSink sink;
  Source source(*store, sink, StreamOnly(), runtime);
  ASSERT_TRUE(source.PollOnce().ok());
  uint64_t saves = source.stats().position_saves.load();  // the start position
  sink.AckAll();
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(saves, source.stats().position_saves.load());
  EXPECT_EQ(0u, (*LoadCdcPosition(*store, "src"))->sequence);
  store.clock.AdvanceMs(1000);
  ASSERT_TRUE(source.PollOnce().ok());
  // Queued to the store's writer, not waited for: counted at a step after
  // it committed.
  ASSERT_TRUE(testing::PollUntil(
      source, [&] { return source.stats().position_saves.load() == saves + 1; }));
  EXPECT_EQ(2u, (*LoadCdcPosition(*store, "src"))->sequence);
  EXPECT_EQ(2u, source.GetStatus().saved_sequence);
}

// --- crash at every step -----------------------------------------------------

// Random writes, steps, out-of-order acks, sink resets and crashes (the Source
// destroyed with events unacknowledged). Checks, for every "epoch" (a source
// lifetime, or the part of one after a sink reset):
//   - no loss: the epoch sends, from the position it starts at, every record
//     after it, with no hole (sequence numbers contiguous over the table's
//     records);
//   - no reorder: per key, sequence numbers strictly increase;
//   - nothing stored is resent: each epoch starts after its start position,
//     which never moves back;
// and at the end the consumer's state per key (the acknowledged events folded
// in send order) equals the table.
TEST(SourceCrashTest, NoLossAndNoReorderPerKeyAcrossCrashesAtEveryStep) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    TestStore store;
    ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
    std::map<std::string, std::optional<int64_t>> truth;
    int64_t version = 0;
    auto write = [&] {
      std::string pk = "k" + std::to_string(rng() % 8);
      if (rng() % 4 == 0) {
        ASSERT_TRUE(store->Delete("users", Key(pk)).ok());
        truth[pk] = std::nullopt;
      } else {
        ASSERT_TRUE(store->Put("users", User(pk, ++version)).ok());
        truth[pk] = version;
      }
    };
    struct Epoch {
      uint64_t start = 0;
      std::vector<EncodedEvent> sent;
    };
    std::vector<Epoch> epochs;
    std::vector<EncodedEvent> delivered;  // acked, in send order per session
    uint64_t last_start = 0;
    for (int session = 0; session < 60; ++session) {
      auto stored = LoadCdcPosition(*store, "src");
      ASSERT_TRUE(stored.ok());
      uint64_t start = *stored ? (*stored)->sequence : 0;
      EXPECT_GE(start, last_start);
      last_start = start;
      SourceOptions o = StreamOnly();
      o.batch_size = 1 + rng() % 4;
      o.max_in_flight_records = 1 + rng() % 6;
      FakeSink sink;
      auto source = std::make_unique<Source>(*store, sink, o, TestRuntime(&store.clock));
      size_t epoch_begin = 0;
      epochs.push_back({start, {}});
      int steps = 1 + static_cast<int>(rng() % 6);
      for (int step = 0; step < steps; ++step) {
        for (int w = static_cast<int>(rng() % 4); w > 0; --w) write();
        ASSERT_TRUE(source->PollOnce().ok());
        std::vector<uint64_t> tokens = sink.PendingTokens();
        std::shuffle(tokens.begin(), tokens.end(), rng);
        tokens.resize(rng() % (tokens.size() + 1));
        for (uint64_t t : tokens) sink.Ack(t);
        if (rng() % 8 == 0) {
          // A sink reset: the rest of this session is a new epoch.
          sink.ResetSink();
          auto sent = sink.sent();
          epochs.back().sent.assign(sent.begin() + epoch_begin, sent.end());
          epoch_begin = sent.size();
          epochs.push_back({source->position().sequence, {}});
        }
      }
      auto sent = sink.sent();
      epochs.back().sent.assign(sent.begin() + epoch_begin, sent.end());
      for (const EncodedEvent& e : sink.acked()) delivered.push_back(e);
      source.reset();  // crash: unacknowledged events are lost with the sink
    }
    // A last, clean run to the end.
    {
      auto stored = LoadCdcPosition(*store, "src");
      FakeSink sink;
      Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
      epochs.push_back({(*stored)->sequence, {}});
      ASSERT_TRUE(Drain(source, sink, *store));
      epochs.back().sent = sink.sent();
      for (const EncodedEvent& e : sink.acked()) delivered.push_back(e);
    }

    auto all = store->ReadStream("users", 0, 1'000'000);
    ASSERT_TRUE(all.ok());
    std::vector<uint64_t> records;
    for (const auto& r : all->records) records.push_back(r.sequence);
    for (const Epoch& epoch : epochs) {
      std::vector<uint64_t> seqs;
      std::map<std::string, uint64_t> last_per_key;
      for (const EncodedEvent& e : epoch.sent) {
        EXPECT_GT(e.sequence, epoch.start);
        if (seqs.empty() || seqs.back() != e.sequence) seqs.push_back(e.sequence);
        uint64_t& last = last_per_key[*e.key];
        if (e.sub_index == 0) {
          EXPECT_GT(e.sequence, last) << "reordered key " << *e.key;
        }
        last = e.sequence;
      }
      // Contiguous over the table's records after the epoch's start.
      auto it = std::upper_bound(records.begin(), records.end(), epoch.start);
      std::vector<uint64_t> expected(it, it + std::min<size_t>(seqs.size(), records.end() - it));
      EXPECT_EQ(expected, seqs) << "epoch starting after " << epoch.start;
    }
    // The consumer's final state.
    std::map<std::string, std::optional<int64_t>> consumer;
    for (const EncodedEvent& e : delivered) {
      auto key = testing::ParseJson(*e.key);
      std::string pk = key["pk"].GetString();
      if (!e.value) continue;  // tombstone
      auto value = testing::ParseJson(*e.value);
      if (value["after"].IsNull()) {
        consumer[pk] = std::nullopt;
      } else {
        consumer[pk] = value["after"]["v"].GetInt64();
      }
    }
    EXPECT_EQ(truth, consumer);
  }
}

// --- backpressure and batching ------------------------------------------------

TEST(SourceTest, InFlightRecordsAreBounded) {
  TestStore store;
  Fill(store, 50);
  SourceOptions o = StreamOnly();
  o.max_in_flight_records = 7;
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(7u, sink.InFlight());
  EXPECT_EQ(7u, source.GetStatus().in_flight_records);
  EXPECT_EQ(7u, source.GetStatus().read_sequence);  // read no further
  sink.AckFirst(3);
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(7u, sink.InFlight());
  EXPECT_EQ(10u, sink.sent().size());
  ASSERT_TRUE(Drain(source, sink, *store));
  EXPECT_EQ(50u, sink.sent().size());
}

TEST(SourceTest, InFlightBytesAreBounded) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(store
                    ->Put("users", ItemBuilder()
                                       .S("pk", "u" + std::to_string(i))
                                       .S("pad", std::string(200, 'x'))
                                       .Build())
                    .ok());
  }
  SourceOptions o = StreamOnly();
  o.max_in_flight_bytes = 2000;
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(source.PollOnce().ok());
  size_t bytes = 0;
  for (const EncodedEvent& e : sink.pending()) bytes += e.ByteSize();
  // Processing stops once the bytes reach the cap: at most one event beyond it.
  EXPECT_LT(sink.InFlight(), 10u);
  EXPECT_GE(bytes, 2000u);
  EXPECT_LT(bytes, 2000u + sink.pending().back().ByteSize());
  EXPECT_EQ(bytes, source.GetStatus().in_flight_bytes);
  size_t before = sink.sent().size();
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(before, sink.sent().size());
  ASSERT_TRUE(Drain(source, sink, *store));
  EXPECT_EQ(40u, sink.sent().size());
}

TEST(SourceTest, AFullSinkIsRetriedWithoutLossOrReorder) {
  TestStore store;
  Fill(store, 10);
  FakeSink sink(FakeSink::Options{.capacity = 3});
  Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(3u, sink.InFlight());
  EXPECT_GT(sink.refusals(), 0u);
  ASSERT_TRUE(Drain(source, sink, *store));
  EXPECT_EQ((std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}), Sequences(sink.sent()));
  EXPECT_GT(source.stats().sink_full.load(), 0u);
}

// A sink that takes a few events per step while the source reads batches of
// 100: every event reaches it once, in order, over many refusals.
TEST(SourceTest, ASinkKeptFullOverManyBatchesGetsEveryEventOnceInOrder) {
  TestStore store;
  Fill(store, 1000);
  SourceOptions o = StreamOnly();
  o.batch_size = 100;
  FakeSink sink(FakeSink::Options{.capacity = 7});
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(Drain(source, sink, *store));
  std::vector<uint64_t> want(1000);
  std::iota(want.begin(), want.end(), 1);
  EXPECT_EQ(want, Sequences(sink.sent()));
  EXPECT_EQ(1000u, source.position().sequence);
}

TEST(SourceTest, BatchesWaitForBatchSizeOrTimeout) {
  TestStore store;
  Fill(store, 0);
  SourceOptions o = StreamOnly();
  o.batch_size = 3;
  o.batch_timeout_ms = 50;
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(store->Put("users", User("u" + std::to_string(i), 0)).ok());
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(3u, sink.sent().size());  // a full batch goes at once
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(3u, sink.sent().size());  // 2 wait for more or the timeout
  EXPECT_EQ(5u, source.GetStatus().in_flight_records);
  store.clock.AdvanceMs(49);
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(3u, sink.sent().size());
  store.clock.AdvanceMs(1);
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(5u, sink.sent().size());
}

// --- heartbeats ----------------------------------------------------------------

TEST(SourceTest, HeartbeatsWhenIdleCarryTheHeadSequence) {
  TestStore store;
  Fill(store, 2);
  ASSERT_TRUE(CreateTableWithLateStream(*store, store::testing::EventsSchema()).ok());
  SourceOptions o = StreamOnly();
  o.heartbeat_interval_ms = 1000;
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  store.clock.AdvanceMs(5000);
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(2u, sink.sent().size());  // not idle: events in flight, no heartbeat
  sink.AckAll();
  // Another table's write moves the head without giving this source a record.
  ASSERT_TRUE(store->Put("events", store::testing::Key("e", 1)).ok());
  ASSERT_TRUE(source.PollOnce().ok());
  ASSERT_EQ(3u, sink.sent().size());
  EncodedEvent h = sink.sent()[2];
  EXPECT_EQ("h", Op(h));
  EXPECT_EQ(3u, SeqHeader(h));
  EXPECT_EQ(0u, h.sequence);
  EXPECT_EQ(3u, source.position().sequence);
  sink.AckAll();
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(3u, sink.sent().size());  // the interval has not passed again
  store.clock.AdvanceMs(999);
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(3u, sink.sent().size());
  store.clock.AdvanceMs(1);
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(4u, sink.sent().size());
  EXPECT_EQ(2u, source.stats().heartbeats.load());
}

// --- pipeline options end to end ----------------------------------------------

TEST(SourceTest, FiltersTransformsAndNoopSkippingEndToEnd) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  SourceOptions o = StreamOnly();
  o.format = EventFormat::kDynamoDb;
  o.filters.event_types = {EventType::kInsert, EventType::kModify};
  o.filters.condition = "attribute_exists(email)";
  o.transforms = {
      TransformOptions{.type = TransformType::kHash, .attributes = {"email"}},
      TransformOptions{.type = TransformType::kDrop, .attributes = {"seen"}},
      TransformOptions{.type = TransformType::kAddHeader, .name = "team", .value = "x"}};
  o.skip_noop_updates = true;
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  ASSERT_TRUE(store->Put("users", ItemBuilder().S("pk", "a").S("email", "a@x").Build()).ok());
  ASSERT_TRUE(store->Put("users", ItemBuilder().S("pk", "b").Build()).ok());  // no email
  // Only `seen` changes, and transforms drop it: a no-op update.
  ASSERT_TRUE(
      store->Put("users", ItemBuilder().S("pk", "a").S("email", "a@x").N("seen", 1).Build()).ok());
  ASSERT_TRUE(store->Delete("users", Key("a")).ok());  // REMOVE not published
  ASSERT_TRUE(Drain(source, sink, *store));
  auto sent = sink.sent();
  ASSERT_EQ(1u, sent.size());
  auto doc = testing::ParseJson(*sent[0].value);
  EXPECT_EQ("INSERT", std::string(doc["eventName"].GetString()));
  EXPECT_EQ(Sha256Hex("a@x"), doc["dynamodb"]["NewImage"]["email"]["S"].GetString());
  EXPECT_EQ("x", Header(sent[0], "team"));
  EXPECT_EQ(3u, source.stats().events_filtered.load());
  EXPECT_EQ(4u, source.position().sequence);
}

TEST(SourceTest, ViewTypeIncludeBeforeAndTombstonesOptions) {
  TestStore store;
  Fill(store, 1);
  ASSERT_TRUE(store->Put("users", User("u0", 1)).ok());
  ASSERT_TRUE(store->Delete("users", Key("u0")).ok());
  SourceOptions o = StreamOnly();
  o.view_type = StreamViewType::kNewImage;
  o.tombstones = false;
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(Drain(source, sink, *store));
  auto sent = sink.sent();
  ASSERT_EQ(3u, sent.size());  // no tombstone
  auto u = testing::ParseJson(*sent[1].value);
  EXPECT_TRUE(u["before"].IsNull());
  EXPECT_EQ(1, u["after"]["v"].GetInt());
  auto d = testing::ParseJson(*sent[2].value);
  EXPECT_TRUE(d["before"].IsNull());

  SourceOptions no_before = StreamOnly("src2");
  no_before.include_before = false;
  FakeSink sink2;
  Source source2(*store, sink2, no_before, TestRuntime(&store.clock));
  ASSERT_TRUE(Drain(source2, sink2, *store));
  auto u2 = testing::ParseJson(*sink2.sent()[1].value);
  EXPECT_TRUE(u2["before"].IsNull());
  EXPECT_EQ(4u, sink2.sent().size());  // tombstone on by default
}

TEST(SourceTest, TruncateAndDeleteTableEmitOpT) {
  TestStore store;
  Fill(store, 3);
  FakeSink sink;
  Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
  ASSERT_TRUE(Drain(source, sink, *store));
  ASSERT_TRUE(store->TruncateTable("users").ok());
  ASSERT_TRUE(store->Put("users", User("after", 1)).ok());
  ASSERT_TRUE(store->DeleteTable("users").ok());
  ASSERT_TRUE(Drain(source, sink, *store));
  auto sent = sink.sent();
  ASSERT_EQ(6u, sent.size());
  EXPECT_EQ("t", Op(sent[3]));
  EXPECT_FALSE(sent[3].key.has_value());
  EXPECT_EQ("t", std::string(testing::ParseJson(*sent[3].value)["op"].GetString()));
  EXPECT_EQ("c", Op(sent[4]));
  EXPECT_EQ("t", Op(sent[5]));
  EXPECT_EQ(6u, source.position().sequence);
}

TEST(SourceTest, ATableRecreatedWhileBehindHasItsOldTailPublishedFirst) {
  TestStore store;
  Fill(store, 2);  // sequences 1, 2
  {
    FakeSink sink;
    Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
    ASSERT_TRUE(Drain(source, sink, *store));
    ASSERT_EQ(2u, source.position().sequence);
  }
  // While the source is stopped: a write, the deletion, a new table of the
  // same name, and a write to it.
  ASSERT_TRUE(store->Put("users", User("old", 1)).ok());  // 3
  ASSERT_TRUE(store->DeleteTable("users").ok());          // 4: TRUNCATE
  ASSERT_TRUE(store->CreateTable(Users()).ok());
  ASSERT_TRUE(store->Put("users", User("new", 1)).ok());  // 5

  FakeSink sink;
  Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
  ASSERT_TRUE(Drain(source, sink, *store));
  auto sent = sink.sent();
  ASSERT_EQ(3u, sent.size());
  EXPECT_EQ((std::vector<uint64_t>{3, 4, 5}), Sequences(sent));
  EXPECT_EQ("c", Op(sent[0]));
  EXPECT_EQ("t", Op(sent[1]));
  EXPECT_EQ("c", Op(sent[2]));
  EXPECT_EQ(5u, source.position().sequence);
}

TEST(SourceTest, ANewSourceStartsAtItsTablesIncarnation) {
  TestStore store;
  ASSERT_TRUE(store->CreateTable(Users()).ok());
  ASSERT_TRUE(store->Put("users", User("old", 1)).ok());  // 1
  ASSERT_TRUE(store->DeleteTable("users").ok());          // 2: TRUNCATE
  ASSERT_TRUE(store->CreateTable(Users()).ok());
  ASSERT_TRUE(store->Put("users", User("new", 1)).ok());  // 3
  for (SnapshotMode mode : {SnapshotMode::kNever, SnapshotMode::kInitial}) {
    FakeSink sink;
    SourceOptions options = TestOptions(std::string("src-") + std::string(SnapshotModeName(mode)));
    options.snapshot = mode;
    Source source(*store, sink, options, TestRuntime(&store.clock));
    ASSERT_TRUE(Drain(source, sink, *store));
    // The deleted table's records belong to another table.
    EXPECT_EQ((std::vector<uint64_t>{3}), Sequences(sink.sent())) << SnapshotModeName(mode);
  }
}

TEST(SourceTest, TwoSourcesOnOneTableKeepTheirOwnPositions) {
  TestStore store;
  Fill(store, 4);
  SourceOptions a = StreamOnly("a");
  a.topic = "{source}.{table}";
  SourceOptions b = StreamOnly("b");
  b.format = EventFormat::kDynamoDb;
  FakeSink sink_a, sink_b;
  Source source_a(*store, sink_a, a, TestRuntime(&store.clock));
  Source source_b(*store, sink_b, b, TestRuntime(&store.clock));
  ASSERT_TRUE(Drain(source_a, sink_a, *store));
  ASSERT_TRUE(source_b.PollOnce().ok());
  sink_b.AckFirst(1);
  ASSERT_TRUE(source_b.PollOnce().ok());
  EXPECT_EQ(4u, (*LoadCdcPosition(*store, "a"))->sequence);
  EXPECT_EQ(1u, (*LoadCdcPosition(*store, "b"))->sequence);
  EXPECT_EQ("a.users", sink_a.sent()[0].topic);
  EXPECT_EQ("keystone.users", sink_b.sent()[0].topic);
}

TEST(SourceTest, NeverStartsAtTheOldestRetainedRecord) {
  TestStore store(store::StoreOptions{});
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users(StreamViewType::kNewAndOldImages, 3)).ok());
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(store->Put("users", User("u" + std::to_string(i), 0)).ok());
  FakeSink sink;
  Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
  ASSERT_TRUE(Drain(source, sink, *store));
  EXPECT_EQ((std::vector<uint64_t>{8, 9, 10}), Sequences(sink.sent()));
  EXPECT_EQ(0u, source.stats().gaps.load());
}

// --- gaps --------------------------------------------------------------------------

// A store whose pin cap drops records a stored position still needs.
store::StoreOptions SmallPinCap() {
  store::StoreOptions o;
  o.pin_max_records = 5;
  return o;
}

// Source at position 2, then 20 more writes: records 3..17 are force-trimmed.
void MakeGap(TestStore& store, Source& source, FakeSink& sink) {
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users(StreamViewType::kNewAndOldImages, 2)).ok());
  ASSERT_TRUE(store->Put("users", User("a", 1)).ok());
  ASSERT_TRUE(store->Put("users", User("b", 1)).ok());
  ASSERT_TRUE(Drain(source, sink, *store));
  ASSERT_EQ(2u, source.position().sequence);
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(store->Put("users", User("k" + std::to_string(i), i)).ok());
  auto info = store->GetStreamInfo("users");
  ASSERT_GT(info->trimmed_through, 2u);
}

TEST(SourceGapTest, FailIsTheDefault) {
  TestStore store(SmallPinCap());
  FakeSink sink;
  Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
  MakeGap(store, source, sink);
  Status s = source.PollOnce();
  EXPECT_EQ(StatusCode::kTrimmed, s.code());
  SourceStatus status = source.GetStatus();
  EXPECT_EQ(SourceState::kFailed, status.state);
  EXPECT_EQ(1u, status.gaps);
  EXPECT_NE(std::string::npos, status.last_gap.find("after sequence 2")) << status.last_gap;
  EXPECT_EQ(2u, source.position().sequence);  // never skipped silently

  // The operator may move the position past the gap.
  uint64_t trimmed = store->GetStreamInfo("users")->trimmed_through;
  EXPECT_EQ(StatusCode::kInvalidArgument, source.SetPosition(1'000'000).code());
  ASSERT_TRUE(source.SetPosition(trimmed).ok());
  ASSERT_TRUE(Drain(source, sink, *store));
  EXPECT_EQ(trimmed + 1, sink.sent()[2].sequence);
}

TEST(SourceGapTest, SkipEmitsAGapMarkerAndContinues) {
  TestStore store(SmallPinCap());
  SourceOptions o = StreamOnly();
  o.on_gap = GapPolicy::kSkip;
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  MakeGap(store, source, sink);
  uint64_t trimmed = store->GetStreamInfo("users")->trimmed_through;
  ASSERT_TRUE(Drain(source, sink, *store));
  auto sent = sink.sent();
  ASSERT_GT(sent.size(), 3u);
  const EncodedEvent& marker = sent[2];
  EXPECT_EQ("g", Op(marker));
  auto doc = testing::ParseJson(*marker.value);
  EXPECT_EQ(2u, doc["gap"]["after"].GetUint64());
  EXPECT_EQ(trimmed, doc["gap"]["through"].GetUint64());
  EXPECT_EQ(trimmed + 1, sent[3].sequence);
  EXPECT_EQ(22u, source.position().sequence);
  EXPECT_EQ(1u, source.stats().gaps.load());
  EXPECT_EQ(SourceState::kStreaming, source.GetStatus().state);
}

TEST(SourceGapTest, ResnapshotPublishesTheTableAgain) {
  TestStore store(SmallPinCap());
  SourceOptions o = StreamOnly();
  o.on_gap = GapPolicy::kResnapshot;
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  MakeGap(store, source, sink);
  ASSERT_TRUE(Drain(source, sink, *store));
  auto sent = sink.sent();
  ASSERT_EQ(2u + 22u, sent.size());  // a, b streamed; then all 22 items as reads
  std::set<std::string> keys;
  for (size_t i = 2; i < sent.size(); ++i) {
    EXPECT_EQ("r", Op(sent[i]));
    keys.insert(*sent[i].key);
  }
  EXPECT_EQ(22u, keys.size());
  EXPECT_EQ(1u, source.stats().gaps.load());
  EXPECT_EQ(1u, source.stats().snapshots_completed.load());
  // Streaming goes on after the snapshot.
  ASSERT_TRUE(store->Put("users", User("new", 1)).ok());
  ASSERT_TRUE(Drain(source, sink, *store));
  EXPECT_EQ("c", Op(sink.sent().back()));
}

TEST(SourceGapTest, WhenNeededResnapshotsWhateverOnGapSays) {
  TestStore store(SmallPinCap());
  SourceOptions o = TestOptions();
  o.snapshot = SnapshotMode::kWhenNeeded;
  o.on_gap = GapPolicy::kFail;
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  MakeGap(store, source, sink);
  ASSERT_TRUE(Drain(source, sink, *store));
  EXPECT_EQ(2u, source.stats().snapshots_completed.load());  // initial + after the gap
  EXPECT_EQ(SourceState::kStreaming, source.GetStatus().state);
}

// --- controls --------------------------------------------------------------------

TEST(SourceControlTest, PauseStopsSendingButServesAcks) {
  TestStore store;
  Fill(store, 3);
  FakeSink sink;
  Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  ASSERT_TRUE(source.Pause().ok());
  ASSERT_TRUE(store->Put("users", User("x", 1)).ok());
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(SourceState::kPaused, source.GetStatus().state);
  EXPECT_TRUE(source.GetStatus().paused);
  sink.AckAll();
  EXPECT_EQ(3u, source.position().sequence);
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(3u, sink.sent().size());
  EXPECT_EQ(1u, source.GetStatus().lag_records);
  ASSERT_TRUE(source.Resume().ok());
  ASSERT_TRUE(Drain(source, sink, *store));
  EXPECT_EQ(4u, sink.sent().size());
}

TEST(SourceControlTest, ResetStartsOverWithASnapshot) {
  TestStore store;
  Fill(store, 3);
  FakeSink sink;
  Source source(*store, sink, TestOptions(), TestRuntime(&store.clock));
  ASSERT_TRUE(Drain(source, sink, *store));
  EXPECT_EQ(3u, sink.sent().size());
  ASSERT_TRUE(source.Reset().ok());
  ASSERT_TRUE(Drain(source, sink, *store));
  auto sent = sink.sent();
  ASSERT_EQ(6u, sent.size());
  for (const EncodedEvent& e : sent) EXPECT_EQ("r", Op(e));
  EXPECT_EQ(1, sink.starts());  // the sink is started once
}

TEST(SourceControlTest, SetPositionSkipsAndTriggerSnapshotRepublishes) {
  TestStore store;
  Fill(store, 5);
  FakeSink sink;
  Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
  ASSERT_TRUE(source.SetPosition(3).ok());
  ASSERT_TRUE(Drain(source, sink, *store));
  EXPECT_EQ((std::vector<uint64_t>{4, 5}), Sequences(sink.sent()));

  ASSERT_TRUE(source.TriggerSnapshot().ok());
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(SourceState::kSnapshotting, source.GetStatus().state);
  ASSERT_TRUE(Drain(source, sink, *store));
  auto sent = sink.sent();
  ASSERT_EQ(7u, sent.size());
  for (size_t i = 2; i < 7; ++i) EXPECT_EQ("r", Op(sent[i]));
  EXPECT_EQ(SourceState::kStreaming, source.GetStatus().state);
  ASSERT_TRUE(store->Put("users", User("u9", 1)).ok());
  ASSERT_TRUE(Drain(source, sink, *store));
  EXPECT_EQ("c", Op(sink.sent().back()));
}

TEST(SourceControlTest, InitialOnlyFinishesAndStaysDone) {
  TestStore store;
  Fill(store, 4);
  SourceOptions o = TestOptions();
  o.snapshot = SnapshotMode::kInitialOnly;
  {
    FakeSink sink;
    Source source(*store, sink, o, TestRuntime(&store.clock));
    ASSERT_TRUE(source.PollOnce().ok());
    EXPECT_EQ(SourceState::kSnapshotting, source.GetStatus().state);
    sink.AckAll();
    ASSERT_TRUE(source.PollOnce().ok());
    EXPECT_EQ(SourceState::kDone, source.GetStatus().state);
    ASSERT_TRUE(store->Put("users", User("later", 1)).ok());
    ASSERT_TRUE(source.PollOnce().ok());
    EXPECT_EQ(4u, sink.sent().size());  // no streaming
  }
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(SourceState::kDone, source.GetStatus().state);
  EXPECT_EQ(0u, sink.sent().size());
}

// --- configuration and environment errors ------------------------------------

TEST(SourceErrorTest, ProblemsAtStartFailTheSourceWithTheReason) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  struct Case {
    SourceOptions options;
    StatusCode code;
    const char* words;
  };
  SourceOptions missing = TestOptions("m", "nope");
  SourceOptions bad_condition = TestOptions("c");
  bad_condition.filters.condition = "a >";
  SourceOptions mask_key = TestOptions("k");
  mask_key.transforms = {TransformOptions{.type = TransformType::kMask, .attributes = {"pk"}}};
  SourceOptions agg_only = TestOptions("a");
  agg_only.snapshot = SnapshotMode::kInitialOnly;
  agg_only.aggregate = AggregateOptions{};
  for (const Case& c : {Case{missing, StatusCode::kNotFound, "nope"},
                        Case{bad_condition, StatusCode::kInvalidArgument, "filters.condition"},
                        Case{mask_key, StatusCode::kInvalidArgument, "mask"},
                        Case{agg_only, StatusCode::kInvalidArgument, "initial_only"}}) {
    FakeSink sink;
    Source source(*store, sink, c.options, TestRuntime(&store.clock));
    Status s = source.PollOnce();
    EXPECT_EQ(c.code, s.code()) << s.ToString();
    EXPECT_NE(std::string::npos, s.message().find(c.words)) << s.ToString();
    EXPECT_EQ(SourceState::kFailed, source.GetStatus().state);
  }
}

TEST(SourceErrorTest, SinkStartAndSendErrors) {
  TestStore store;
  Fill(store, 1);
  {
    FakeSink sink(FakeSink::Options{.start_status = Unavailable("broker down")});
    Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
    EXPECT_TRUE(source.PollOnce().ok());  // transient: retried
    EXPECT_EQ(SourceState::kStarting, source.GetStatus().state);
  }
  {
    FakeSink sink(FakeSink::Options{.start_status = IoError("bad config")});
    Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
    EXPECT_EQ(StatusCode::kIoError, source.PollOnce().code());
  }
  {
    FakeSink sink;
    sink.set_send_error(FailedPrecondition("sink stopped"));
    Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
    EXPECT_EQ(StatusCode::kFailedPrecondition, source.PollOnce().code());
    EXPECT_EQ(SourceState::kFailed, source.GetStatus().state);
  }
}

TEST(SourceErrorTest, OversizeEventsFailTheSourceOrGoKeyOnly) {
  TestStore store;
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  ASSERT_TRUE(store->Put("users", User("small", 1)).ok());
  ASSERT_TRUE(
      store->Put("users", ItemBuilder().S("pk", "big").S("blob", std::string(5000, 'x')).Build())
          .ok());
  ASSERT_TRUE(store->Put("users", User("after", 1)).ok());
  SourceRuntime runtime = TestRuntime(&store.clock);
  runtime.max_message_bytes = 2000;
  {
    FakeSink sink;
    Source source(*store, sink, StreamOnly("fail"), runtime);
    Status s = source.PollOnce();
    EXPECT_EQ(StatusCode::kResourceExhausted, s.code());
    EXPECT_NE(std::string::npos, s.message().find("sequence 2")) << s.ToString();
    EXPECT_EQ(1u, sink.sent().size());  // nothing at or after the large event
    sink.AckAll();
    EXPECT_EQ(1u, source.position().sequence);
  }
  SourceOptions o = StreamOnly("keys");
  o.oversize = OversizePolicy::kKeyOnly;
  FakeSink sink;
  Source source(*store, sink, o, runtime);
  ASSERT_TRUE(Drain(source, sink, *store));
  auto sent = sink.sent();
  ASSERT_EQ(3u, sent.size());
  auto doc = testing::ParseJson(*sent[1].value);
  EXPECT_TRUE(doc["after"].IsNull());
  EXPECT_EQ(R"({"pk":"big"})", *sent[1].key);
  EXPECT_LT(std::stoul(Header(sent[1], kHeaderOversize)), 6000u);
  EXPECT_GT(std::stoul(Header(sent[1], kHeaderOversize)), 5000u);
  EXPECT_EQ("", Header(sent[2], kHeaderOversize));
  EXPECT_EQ(1u, source.stats().oversize_key_only.load());
}

// --- status --------------------------------------------------------------------

TEST(SourceStatusTest, StatusReportsPositionLagAndCounters) {
  TestStore store;
  Fill(store, 5);
  FakeSink sink;
  Source source(*store, sink, StreamOnly(), TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  store.clock.AdvanceMs(2500);
  sink.AckFirst(2);
  ASSERT_TRUE(source.PollOnce().ok());
  SourceStatus s = source.GetStatus();
  EXPECT_EQ("src", s.name);
  EXPECT_EQ("users", s.table);
  EXPECT_EQ("keystone.users", s.topic);
  EXPECT_EQ(SourceState::kStreaming, s.state);
  EXPECT_EQ(2u, s.position.sequence);
  EXPECT_EQ(2u, s.saved_sequence);
  EXPECT_EQ(5u, s.read_sequence);
  EXPECT_EQ(5u, s.table_sequence);
  EXPECT_EQ(3u, s.lag_records);
  EXPECT_EQ(2500, s.lag_ms);  // the oldest unacknowledged record was written 2.5 s ago
  EXPECT_EQ(3u, s.in_flight_records);
  EXPECT_EQ(5u, s.events_sent);
  EXPECT_EQ(2u, s.events_acked);
  EXPECT_EQ(5u, source.stats().records_read.load());
  EXPECT_EQ(static_cast<int>(SourceState::kStreaming), source.stats().state.load());
  sink.AckAll();
  ASSERT_TRUE(source.PollOnce().ok());
  s = source.GetStatus();
  EXPECT_EQ(0u, s.lag_records);
  EXPECT_EQ(0, s.lag_ms);
  EXPECT_EQ(0u, s.in_flight_records);
}

// --- aggregates ------------------------------------------------------------------

TEST(SourceAggregateTest, WindowsCloseOnTheClockAndHoldThePositionUntilAcked) {
  TestStore store;
  // Windows of 10 s; the fake clock starts 1'700'000'000'000 (a window start).
  ASSERT_TRUE(CreateTableWithLateStream(*store, Users()).ok());
  SourceOptions o = StreamOnly();
  o.aggregate = AggregateOptions{
      .window_seconds = 10,
      .functions = {AggregateFunction::kCount, AggregateFunction::kSum, AggregateFunction::kAvg},
      .attribute = "v",
      .group_by = ""};
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  for (int v : {1, 2, 4}) {
    ASSERT_TRUE(store->Put("users", User("u" + std::to_string(v), v)).ok());
    store.clock.AdvanceMs(1000);
  }
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ(0u, sink.sent().size());          // the window is open
  EXPECT_EQ(0u, source.position().sequence);  // its records are not handled yet
  store.clock.SetMs(1'700'000'010'000);
  ASSERT_TRUE(source.PollOnce().ok());
  ASSERT_EQ(1u, sink.sent().size());
  auto doc = testing::ParseJson(*sink.sent()[0].value);
  EXPECT_EQ(3, doc["count"].GetInt());
  EXPECT_EQ(7, doc["sum"].GetInt());
  EXPECT_EQ("2.3333333333333333", std::string(sink.sent()[0].value->substr(
                                      sink.sent()[0].value->find("\"avg\":") + 6, 18)));
  EXPECT_EQ("a", Op(sink.sent()[0]));
  EXPECT_EQ(0u, source.position().sequence);
  // A write in the next window, then a crash before the window's ack: the
  // replay rebuilds the same window (windows follow record time).
  ASSERT_TRUE(store->Put("users", User("u9", 9)).ok());
  ASSERT_TRUE(source.PollOnce().ok());
  std::string first_value = *sink.sent()[0].value;
  {
    FakeSink sink2;
    Source again(*store, sink2, o, TestRuntime(&store.clock));
    store.clock.SetMs(1'700'000'020'000);
    ASSERT_TRUE(again.PollOnce().ok());
    ASSERT_TRUE(again.PollOnce().ok());
    auto sent = sink2.sent();
    ASSERT_EQ(2u, sent.size());
    auto d1 = testing::ParseJson(*sent[0].value);
    auto d0 = testing::ParseJson(first_value);
    EXPECT_EQ(d0["window_start"].GetInt64(), d1["window_start"].GetInt64());
    EXPECT_EQ(d0["count"].GetInt(), d1["count"].GetInt());
    EXPECT_EQ(1, testing::ParseJson(*sent[1].value)["count"].GetInt());
    sink2.Ack(sent[0].token);
    EXPECT_EQ(3u, again.position().sequence);
    sink2.Ack(sent[1].token);
    EXPECT_EQ(4u, again.position().sequence);
  }
}

TEST(SourceAggregateTest, TriggerSnapshotIsRefused) {
  TestStore store;
  Fill(store, 1);
  SourceOptions o = StreamOnly();
  o.aggregate = AggregateOptions{};
  FakeSink sink;
  Source source(*store, sink, o, TestRuntime(&store.clock));
  EXPECT_EQ(StatusCode::kFailedPrecondition, source.TriggerSnapshot().code());
}

// --- initial snapshot or the whole stream ------------------------------------

// The ops of the events pending in the sink, each with its item's version.
std::vector<std::string> OpsAndVersions(const std::vector<EncodedEvent>& events) {
  std::vector<std::string> out;
  for (const EncodedEvent& e : events) {
    rapidjson::Document doc;
    doc.Parse(e.value.value_or("null").c_str());
    std::string v = "-";
    if (doc.IsObject() && doc.HasMember("after") && doc["after"].IsObject() &&
        doc["after"].HasMember("v")) {
      v = doc["after"]["v"].IsString() ? doc["after"]["v"].GetString()
                                       : std::to_string(doc["after"]["v"].GetInt64());
    }
    out.push_back(Op(e) + v);
  }
  return out;
}

TEST(SourceTest, WholeHistoryStreamsEveryVersionWithoutASnapshot) {
  TestStore store;
  // Stream on from creation: the stream holds every change the table had.
  ASSERT_TRUE(store->CreateTable(Users()).ok());
  ASSERT_TRUE(store->Put("users", User("a", 1)).ok());
  ASSERT_TRUE(store->Put("users", User("a", 2)).ok());
  ASSERT_TRUE(store->Put("users", User("b", 3)).ok());
  auto info = store->GetStreamInfo("users");
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->holds_whole_history);

  FakeSink sink;
  Source source(*store, sink, TestOptions(), TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  // Each version as a change of its own, not the final states as reads.
  EXPECT_EQ((std::vector<std::string>{"c1", "u2", "c3"}), OpsAndVersions(sink.pending()));
  EXPECT_EQ((std::vector<uint64_t>{1, 2, 3}), Sequences(sink.pending()));
  sink.AckAll();
  EXPECT_EQ(3u, source.position().sequence);
  EXPECT_FALSE(source.position().snapshot.active);
}

TEST(SourceTest, StreamDisabledOnceMeansASnapshot) {
  TestStore store;
  ASSERT_TRUE(store->CreateTable(Users()).ok());
  ASSERT_TRUE(store->Put("users", User("a", 1)).ok());
  store::StreamConfig off = Users().stream;
  off.enabled = false;
  ASSERT_TRUE(store->UpdateStream("users", off).ok());
  ASSERT_TRUE(store->Put("users", User("a", 2)).ok());  // not in the stream
  ASSERT_TRUE(store->UpdateStream("users", Users().stream).ok());
  auto info = store->GetStreamInfo("users");
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->holds_whole_history);

  FakeSink sink;
  Source source(*store, sink, TestOptions(), TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ((std::vector<std::string>{"r2"}), OpsAndVersions(sink.pending()));
}

TEST(SourceTest, TrimmedStreamMeansASnapshot) {
  TestStore store;
  ASSERT_TRUE(store->CreateTable(Users(StreamViewType::kNewAndOldImages, 2)).ok());
  for (int v = 1; v <= 4; ++v) ASSERT_TRUE(store->Put("users", User("a", v)).ok());
  auto info = store->GetStreamInfo("users");
  ASSERT_TRUE(info.ok());
  EXPECT_GT(info->trimmed_through, 0u);
  EXPECT_FALSE(info->holds_whole_history);

  FakeSink sink;
  Source source(*store, sink, TestOptions(), TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ((std::vector<std::string>{"r4"}), OpsAndVersions(sink.pending()));
}

TEST(SourceTest, InitialOnlySnapshotsEvenAWholeHistory) {
  TestStore store;
  ASSERT_TRUE(store->CreateTable(Users()).ok());
  ASSERT_TRUE(store->Put("users", User("a", 1)).ok());
  ASSERT_TRUE(store->Put("users", User("a", 2)).ok());
  FakeSink sink;
  SourceOptions options = TestOptions();
  options.snapshot = SnapshotMode::kInitialOnly;
  Source source(*store, sink, options, TestRuntime(&store.clock));
  ASSERT_TRUE(source.PollOnce().ok());
  EXPECT_EQ((std::vector<std::string>{"r2"}), OpsAndVersions(sink.pending()));
}

}  // namespace
}  // namespace keystone::cdc
