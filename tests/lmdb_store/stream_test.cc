// The change stream: every write appends one record in its own transaction,
// with the images its table's view type asks for; retention keeps the buffer
// size unless a reader position pins more.

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "lmdb_store/item_store.h"
#include "lmdb_store/stream_record.h"
#include "tests/lmdb_store/store_test_util.h"

namespace keystone::store {
namespace {

using testing::AV;
using testing::Key;
using testing::OpenStore;
using testing::UsersSchema;

std::vector<StreamRecord> ReadAll(ItemStore& store, const std::string& table, uint64_t after = 0) {
  auto batch = store.ReadStream(table, after, 100000);
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  return batch.ok() ? batch->records : std::vector<StreamRecord>{};
}

struct ViewCase {
  StreamViewType view;
  bool has_old;
  bool has_new;
};

class StreamViewTest : public ::testing::TestWithParam<ViewCase> {};

TEST_P(StreamViewTest, InsertModifyRemoveCarryTheImagesOfTheViewType) {
  const ViewCase& c = GetParam();
  keystone::testing::TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store->CreateTable(UsersSchema(c.view)).ok());

  Item v1 = ItemBuilder().S("pk", "user#1").S("name", "Alice").Build();
  Item v2 = ItemBuilder().S("pk", "user#1").S("name", "Alice").N("age", 30).Build();
  ASSERT_TRUE(store->Put("users", v1).ok());
  ASSERT_TRUE(store->Update("users", Key("user#1"), "SET age = :a", {{":a", AV::N(30)}}).ok());
  ASSERT_TRUE(store->Delete("users", Key("user#1")).ok());

  auto records = ReadAll(*store, "users");
  ASSERT_EQ(3u, records.size());
  EXPECT_EQ(StreamEventType::kInsert, records[0].type);
  EXPECT_EQ(StreamEventType::kModify, records[1].type);
  EXPECT_EQ(StreamEventType::kRemove, records[2].type);
  for (const StreamRecord& r : records) {
    EXPECT_EQ("users", r.table);
    EXPECT_EQ(c.view, r.view_type);
    EXPECT_EQ(Key("user#1"), r.keys);
    EXPECT_GT(r.timestamp_ms, 0);
    EXPECT_GT(r.size_bytes, 0u);
  }
  // INSERT: no old image; new image when the view has one.
  EXPECT_FALSE(records[0].old_image.has_value());
  EXPECT_EQ(c.has_new, records[0].new_image.has_value());
  if (c.has_new) {
    EXPECT_EQ(v1, *records[0].new_image);
  }
  // MODIFY: both as the view says.
  EXPECT_EQ(c.has_old, records[1].old_image.has_value());
  EXPECT_EQ(c.has_new, records[1].new_image.has_value());
  if (c.has_old) {
    EXPECT_EQ(v1, *records[1].old_image);
  }
  if (c.has_new) {
    EXPECT_EQ(v2, *records[1].new_image);
  }
  // REMOVE: old image only.
  EXPECT_EQ(c.has_old, records[2].old_image.has_value());
  EXPECT_FALSE(records[2].new_image.has_value());
  if (c.has_old) {
    EXPECT_EQ(v2, *records[2].old_image);
  }
}

INSTANTIATE_TEST_SUITE_P(AllViews, StreamViewTest,
                         ::testing::Values(ViewCase{StreamViewType::kKeysOnly, false, false},
                                           ViewCase{StreamViewType::kNewImage, false, true},
                                           ViewCase{StreamViewType::kOldImage, true, false},
                                           ViewCase{StreamViewType::kNewAndOldImages, true, true}));

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(dir_.path());
    ASSERT_NE(nullptr, store_);
    ASSERT_TRUE(store_->CreateTable(UsersSchema()).ok());
  }
  keystone::testing::TempDir dir_;
  std::unique_ptr<ItemStore> store_;
};

TEST_F(StreamTest, PutOverAnExistingKeyIsModify) {
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "k").N("v", 1).Build()).ok());
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "k").N("v", 2).Build()).ok());
  auto records = ReadAll(*store_, "users");
  ASSERT_EQ(2u, records.size());
  EXPECT_EQ(StreamEventType::kModify, records[1].type);
  EXPECT_EQ(AV::N(1), records[1].old_image->at("v"));
  EXPECT_EQ(AV::N(2), records[1].new_image->at("v"));
}

TEST_F(StreamTest, WritesThatChangeNothingAppendNothing) {
  Item item = ItemBuilder().S("pk", "k").N("v", 1).Build();
  auto first = store_->Put("users", item);
  ASSERT_TRUE(first.ok());
  EXPECT_GT(first->sequence, 0u);
  auto same = store_->Put("users", item);  // identical put
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(0u, same->sequence);
  ASSERT_TRUE(store_->Delete("users", Key("missing")).ok());  // delete of a missing item
  ASSERT_TRUE(store_->Update("users", Key("k"), "SET v = :v", {{":v", AV::N(1)}}).ok());
  EXPECT_EQ(1u, ReadAll(*store_, "users").size());
}

TEST_F(StreamTest, ReadsAfterASequenceNumberInOrder) {
  std::vector<uint64_t> sequences;
  for (int i = 0; i < 10; ++i) {
    auto r = store_->Put("users", ItemBuilder().S("pk", "k" + std::to_string(i)).Build());
    ASSERT_TRUE(r.ok());
    sequences.push_back(r->sequence);
  }
  for (size_t i = 1; i < sequences.size(); ++i) EXPECT_EQ(sequences[i - 1] + 1, sequences[i]);
  auto batch = store_->ReadStream("users", sequences[4], 3);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(3u, batch->records.size());
  EXPECT_EQ(sequences[5], batch->records[0].sequence);
  EXPECT_EQ(sequences[7], batch->records[2].sequence);
  EXPECT_EQ(sequences.back(), batch->head_sequence);
  auto caught_up = store_->ReadStream("users", sequences.back(), 10);
  ASSERT_TRUE(caught_up.ok());
  EXPECT_TRUE(caught_up->records.empty());
}

TEST_F(StreamTest, SequenceIsGlobalAcrossTablesAndSurvivesRestart) {
  TableSchema other = UsersSchema();
  other.name = "orders";
  ASSERT_TRUE(store_->CreateTable(other).ok());
  auto a = store_->Put("users", Key("a"));
  auto b = store_->Put("orders", Key("b"));
  auto c = store_->Put("users", Key("c"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_LT(a->sequence, b->sequence);
  EXPECT_LT(b->sequence, c->sequence);
  auto users = ReadAll(*store_, "users");
  ASSERT_EQ(2u, users.size());
  EXPECT_EQ(a->sequence, users[0].sequence);
  EXPECT_EQ(c->sequence, users[1].sequence);

  store_.reset();
  store_ = OpenStore(dir_.path());
  EXPECT_EQ(c->sequence, *store_->HeadSequence());
  auto d = store_->Put("orders", Key("d"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(c->sequence + 1, d->sequence);  // never reused
}

TEST_F(StreamTest, BufferOf1000KeepsTheLast1000Of1500Writes) {
  std::vector<uint64_t> sequences;
  for (int i = 0; i < 1500; ++i) {
    auto r = store_->Put("users", ItemBuilder().S("pk", "k" + std::to_string(i)).N("i", i).Build());
    ASSERT_TRUE(r.ok());
    sequences.push_back(r->sequence);
  }
  auto info = store_->GetStreamInfo("users");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(1000u, info->record_count);
  EXPECT_EQ(sequences[500], info->oldest_sequence);
  EXPECT_EQ(sequences[499], info->trimmed_through);
  auto records = ReadAll(*store_, "users", sequences[499]);
  ASSERT_EQ(1000u, records.size());
  EXPECT_EQ(sequences[500], records.front().sequence);
  EXPECT_EQ(AV::N(500), records.front().new_image->at("i"));
  EXPECT_EQ(sequences[1499], records.back().sequence);

  // Reading from before the oldest retained record is a distinct error that
  // names the oldest available sequence number, never a silent skip.
  auto trimmed = store_->ReadStream("users", 0, 10);
  ASSERT_EQ(StatusCode::kTrimmed, trimmed.status().code());
  EXPECT_NE(std::string::npos,
            trimmed.status().message().find("oldest available sequence number is " +
                                            std::to_string(sequences[500])))
      << trimmed.status().message();
}

TEST_F(StreamTest, ReaderPositionPinsUnconsumedRecordsUpToTheCap) {
  keystone::testing::TempDir dir;
  StoreOptions options;
  options.pin_max_records = 50;
  auto store = OpenStore(dir.path(), options);
  ASSERT_TRUE(store->CreateTable(UsersSchema(StreamViewType::kKeysOnly, 10)).ok());
  std::vector<uint64_t> seq;
  for (int i = 0; i < 5; ++i)
    seq.push_back(store->Put("users", Key("a" + std::to_string(i)))->sequence);
  ReaderPosition reader{"source-1", "users", seq[2]};
  ASSERT_TRUE(store->SavePosition(reader).ok());
  for (int i = 0; i < 30; ++i) store->Put("users", Key("b" + std::to_string(i))).IgnoreError();

  // The reader consumed through seq[2]: everything after stays.
  auto info = store->GetStreamInfo("users");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(seq[2], info->trimmed_through);
  EXPECT_EQ(32u, info->record_count);
  EXPECT_EQ(32u, ReadAll(*store, "users", seq[2]).size());

  // The reader advances: retention falls back to the buffer size.
  reader.sequence = *store->HeadSequence();
  ASSERT_TRUE(store->SavePosition(reader).ok());
  ASSERT_TRUE(store->Put("users", Key("c")).ok());
  EXPECT_EQ(10u, store->GetStreamInfo("users")->record_count);

  // A stalled reader pins at most pin_max_records.
  reader.sequence = *store->HeadSequence();
  ASSERT_TRUE(store->SavePosition(reader).ok());
  for (int i = 0; i < 100; ++i) store->Put("users", Key("d" + std::to_string(i))).IgnoreError();
  EXPECT_EQ(50u, store->GetStreamInfo("users")->record_count);
  EXPECT_EQ(StatusCode::kTrimmed, store->ReadStream("users", reader.sequence, 10).status().code());

  // A non-pinning position holds nothing back.
  ASSERT_TRUE(store->DeletePosition("source-1").ok());
  ReaderPosition observer{"observer", "users", 0, "", false};
  ASSERT_TRUE(store->SavePosition(observer).ok());
  ASSERT_TRUE(store->Put("users", Key("e")).ok());
  EXPECT_EQ(10u, store->GetStreamInfo("users")->record_count);
}

TEST_F(StreamTest, PositionsRoundTripAndPersist) {
  ReaderPosition p{"src", "users", 42, std::string("snap\0shot", 9)};
  ASSERT_TRUE(store_->SavePosition(p).ok());
  store_.reset();
  store_ = OpenStore(dir_.path());
  auto loaded = store_->LoadPosition("src");
  ASSERT_TRUE(loaded.ok());
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ(42u, (*loaded)->sequence);
  EXPECT_EQ("users", (*loaded)->table);
  EXPECT_EQ(p.payload, (*loaded)->payload);
  EXPECT_GT((*loaded)->updated_ms, 0);
  EXPECT_EQ(1u, store_->ListPositions()->size());
  EXPECT_FALSE(store_->LoadPosition("other")->has_value());
  ASSERT_TRUE(store_->DeletePosition("src").ok());
  EXPECT_EQ(StatusCode::kNotFound, store_->DeletePosition("src").code());
}

TEST_F(StreamTest, QueuedPositionSavesLandInOrder) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Status> results;
  auto record = [&](Status s) {
    std::lock_guard<std::mutex> lock(mu);
    results.push_back(std::move(s));
    cv.notify_all();
  };
  for (uint64_t sequence : {5, 6, 7}) {
    store_->SavePositionAsync(ReaderPosition{"src", "users", sequence, ""}, record);
  }
  // Mixed with a synchronous save: queue order decides what is stored.
  ASSERT_TRUE(store_->SavePosition(ReaderPosition{"src", "users", 8, ""}).ok());
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return results.size() == 3; });
  }
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(8u, (*store_->LoadPosition("src"))->sequence);
  // A bad name is refused at once, on the calling thread.
  Status refused;
  store_->SavePositionAsync(ReaderPosition{"", "users", 1, ""}, [&](Status s) { refused = s; });
  EXPECT_EQ(StatusCode::kInvalidArgument, refused.code());
}

TEST_F(StreamTest, DisabledStreamAppendsNothingAndCanBeEnabled) {
  TableSchema quiet = UsersSchema();
  quiet.name = "quiet";
  quiet.stream.enabled = false;
  ASSERT_TRUE(store_->CreateTable(quiet).ok());
  auto r = store_->Put("quiet", Key("a"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(0u, r->sequence);
  uint64_t head_before_enable = *store_->HeadSequence();
  ASSERT_TRUE(store_->UpdateStream("quiet", StreamConfig{true, StreamViewType::kKeysOnly, 5}).ok());
  auto after = store_->Put("quiet", Key("b"));
  ASSERT_TRUE(after.ok());
  auto info = store_->GetStreamInfo("quiet");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(head_before_enable, info->label_start_sequence);
  EXPECT_GT(after->sequence, info->label_start_sequence);
  auto records = ReadAll(*store_, "quiet");
  ASSERT_EQ(1u, records.size());
  EXPECT_EQ(after->sequence, records[0].sequence);
  EXPECT_EQ(StreamViewType::kKeysOnly, records[0].view_type);
  EXPECT_FALSE(records[0].new_image.has_value());
}

TEST_F(StreamTest, WholeHistoryHoldsUntilDisabledOrTrimmedAndPersists) {
  // `users` (the fixture's) has had its stream since creation.
  ASSERT_TRUE(store_->Put("users", Key("a")).ok());
  EXPECT_TRUE(store_->GetStreamInfo("users")->holds_whole_history);
  ASSERT_TRUE(store_->TruncateTable("users").ok());  // recorded in the stream
  EXPECT_TRUE(store_->GetStreamInfo("users")->holds_whole_history);
  store_.reset();
  store_ = OpenStore(dir_.path());
  EXPECT_TRUE(store_->GetStreamInfo("users")->holds_whole_history);

  // Disabled once: writes meanwhile are not in it, even after re-enabling.
  StreamConfig stream = UsersSchema().stream;
  StreamConfig off = stream;
  off.enabled = false;
  ASSERT_TRUE(store_->UpdateStream("users", off).ok());
  ASSERT_TRUE(store_->UpdateStream("users", stream).ok());
  EXPECT_FALSE(store_->GetStreamInfo("users")->holds_whole_history);
  store_.reset();
  store_ = OpenStore(dir_.path());
  EXPECT_FALSE(store_->GetStreamInfo("users")->holds_whole_history);

  // Trimmed: the oldest changes are gone.
  TableSchema small = UsersSchema();
  small.name = "small";
  small.stream.buffer_size = 2;
  ASSERT_TRUE(store_->CreateTable(small).ok());
  ASSERT_TRUE(store_->Put("small", Key("a")).ok());
  ASSERT_TRUE(store_->Put("small", Key("b")).ok());
  EXPECT_TRUE(store_->GetStreamInfo("small")->holds_whole_history);
  ASSERT_TRUE(store_->Put("small", Key("c")).ok());
  EXPECT_FALSE(store_->GetStreamInfo("small")->holds_whole_history);

  // Created without a stream, enabled later: items may predate it.
  TableSchema late = UsersSchema();
  late.name = "late";
  late.stream.enabled = false;
  ASSERT_TRUE(store_->CreateTable(late).ok());
  ASSERT_TRUE(store_->UpdateStream("late", UsersSchema().stream).ok());
  EXPECT_FALSE(store_->GetStreamInfo("late")->holds_whole_history);
}

TEST_F(StreamTest, TableHistoryReadsADeletedTablesTailThenItsSuccessor) {
  ASSERT_TRUE(store_->Put("users", Key("a")).ok());
  uint64_t first = *store_->HeadSequence();
  ASSERT_TRUE(store_->Put("users", Key("b")).ok());
  ASSERT_TRUE(store_->DeleteTable("users").ok());  // appends a TRUNCATE
  uint64_t deleted = *store_->HeadSequence();
  ASSERT_TRUE(store_->CreateTable(UsersSchema()).ok());
  ASSERT_TRUE(store_->Put("users", Key("c")).ok());
  uint64_t last = *store_->HeadSequence();
  EXPECT_EQ(deleted, store_->GetStreamInfo("users")->created_sequence);

  // ReadStream serves the live table's stream only.
  auto live = store_->ReadStream("users", 0, 100);
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(1u, live->records.size());
  EXPECT_EQ(last, live->records[0].sequence);

  // The history: the old tail, its TRUNCATE, then the new table.
  auto history = store_->ReadTableHistory("users", first, 100);
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  ASSERT_EQ(3u, history->records.size());
  EXPECT_EQ(first + 1, history->records[0].sequence);
  EXPECT_EQ(deleted, history->records[1].sequence);
  EXPECT_EQ(StreamEventType::kTruncate, history->records[1].type);
  EXPECT_EQ(last, history->records[2].sequence);
  // Paged: `max` holds across the incarnations.
  auto page = store_->ReadTableHistory("users", first, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(2u, page->records.size());
  auto rest = store_->ReadTableHistory("users", page->records.back().sequence, 2);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(1u, rest->records.size());
  EXPECT_EQ(last, rest->records[0].sequence);
  // Past the end: nothing.
  EXPECT_TRUE(store_->ReadTableHistory("users", last, 10)->records.empty());
  EXPECT_EQ(StatusCode::kNotFound, store_->ReadTableHistory("nope", 0, 10).status().code());
}

// The records ReadTableHistoryEncoded gives, decoded.
std::vector<StreamRecord> Decoded(const EncodedStreamBatch& batch, const std::string& table) {
  std::vector<StreamRecord> out;
  for (const EncodedStreamRecord& encoded : batch.records) {
    StreamRecord& r = out.emplace_back();
    EXPECT_TRUE(DecodeStreamRecord(encoded, &r).ok());
    r.table = table;
  }
  return out;
}

void ExpectSameRecords(const std::vector<StreamRecord>& want,
                       const std::vector<StreamRecord>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i].sequence, got[i].sequence) << i;
    EXPECT_EQ(want[i].table, got[i].table) << i;
    EXPECT_EQ(want[i].type, got[i].type) << i;
    EXPECT_EQ(want[i].timestamp_ms, got[i].timestamp_ms) << i;
    EXPECT_EQ(want[i].view_type, got[i].view_type) << i;
    EXPECT_EQ(want[i].keys, got[i].keys) << i;
    EXPECT_EQ(want[i].old_image, got[i].old_image) << i;
    EXPECT_EQ(want[i].new_image, got[i].new_image) << i;
    EXPECT_EQ(want[i].size_bytes, got[i].size_bytes) << i;
  }
}

TEST_F(StreamTest, EncodedHistoryHoldsWhatTheDecodedHistoryHolds) {
  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "a").N("n", "1.5").Build()).ok());
  uint64_t first = *store_->HeadSequence();
  ASSERT_TRUE(
      store_->Put("users", ItemBuilder().S("pk", "a").Set("ss", AV::SS({"x"})).Build()).ok());
  ASSERT_TRUE(store_->Delete("users", Key("a")).ok());
  ASSERT_TRUE(store_->Put("users", Key("b")).ok());
  ASSERT_TRUE(store_->DeleteTable("users").ok());
  ASSERT_TRUE(store_->CreateTable(UsersSchema()).ok());
  ASSERT_TRUE(store_->Put("users", Key("c")).ok());
  uint64_t last = *store_->HeadSequence();

  // One batch reused for every read, as a source reuses it.
  EncodedStreamBatch batch;
  for (uint64_t after : {uint64_t{0}, first, last}) {
    for (size_t max : {1, 2, 100}) {
      auto want = store_->ReadTableHistory("users", after, max);
      ASSERT_TRUE(want.ok()) << want.status().ToString();
      ASSERT_TRUE(store_->ReadTableHistoryEncoded("users", after, max, &batch).ok());
      EXPECT_EQ(want->head_sequence, batch.head_sequence);
      ExpectSameRecords(want->records, Decoded(batch, "users"));
    }
  }
  ASSERT_TRUE(store_->ReadTableHistoryEncoded("users", 0, 100, &batch).ok());
  ASSERT_EQ(6u, batch.records.size());
  EXPECT_EQ(StreamEventType::kRemove, batch.records[2].type);
  EXPECT_FALSE(batch.records[2].new_image.has_value());
  EXPECT_TRUE(batch.records[2].old_image.has_value());
  EXPECT_EQ(StreamEventType::kTruncate, batch.records[4].type);
  EXPECT_EQ(StatusCode::kNotFound, store_->ReadTableHistoryEncoded("nope", 0, 10, &batch).code());
}

TEST_F(StreamTest, EncodedHistoryReportsTrimmedRecords) {
  auto small = UsersSchema(StreamViewType::kNewAndOldImages, 10);
  small.name = "small";
  ASSERT_TRUE(store_->CreateTable(small).ok());
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(store_->Put("small", Key("k" + std::to_string(i))).ok());
  }
  EncodedStreamBatch batch;
  Status s = store_->ReadTableHistoryEncoded("small", 0, 10, &batch);
  EXPECT_EQ(StatusCode::kTrimmed, s.code());
  EXPECT_EQ(store_->ReadTableHistory("small", 0, 10).status().ToString(), s.ToString());
}

TEST(StreamCommitTimeTest, RecentCommitsOfThisProcessHaveTheirTime) {
  keystone::testing::TempDir dir;
  FakeClock clock(1'700'000'000'000);
  StoreOptions options;
  options.clock = &clock;
  auto store = OpenStore(dir.path(), options);
  ASSERT_TRUE(store->CreateTable(UsersSchema()).ok());
  uint64_t first = store->Put("users", Key("a"))->sequence;
  clock.AdvanceMs(3);
  uint64_t second = store->Put("users", Key("b"))->sequence;
  EXPECT_EQ(1'700'000'000'000 * 1'000'000, store->CommitTimeNs(first));
  EXPECT_EQ(1'700'000'000'003 * 1'000'000, store->CommitTimeNs(second));
  EXPECT_EQ(std::nullopt, store->CommitTimeNs(second + 1));  // not written yet
  // One batch of several records: each has the batch's time.
  clock.AdvanceMs(1);
  std::vector<BatchWriteEntry> batch;
  for (const char* k : {"c", "d", "e"}) batch.push_back({"users", true, Key(k)});
  ASSERT_TRUE(store->BatchWrite(batch).ok());
  EXPECT_EQ(1'700'000'000'004 * 1'000'000, store->CommitTimeNs(second + 2));
  // The last few thousand batches only.
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(store->Put("users", ItemBuilder().S("pk", "g").N("i", i).Build()).ok());
  }
  EXPECT_EQ(std::nullopt, store->CommitTimeNs(first));
  uint64_t last = *store->HeadSequence();
  EXPECT_TRUE(store->CommitTimeNs(last).has_value());
  // One record per batch: the ring's 4096 batches reach back to last - 4095.
  EXPECT_TRUE(store->CommitTimeNs(last - 4095).has_value());
  EXPECT_EQ(std::nullopt, store->CommitTimeNs(last - 4096));
  // Records of an earlier opening (as another process's) have no time here.
  store.reset();
  store = OpenStore(dir.path(), options);
  EXPECT_EQ(std::nullopt, store->CommitTimeNs(last));
}

TEST_F(StreamTest, TruncateAndDeleteTableAppendATruncateRecord) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store_->Put("users", Key(std::to_string(i))).ok());
  auto removed = store_->TruncateTable("users");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(5u, *removed);
  auto records = ReadAll(*store_, "users");
  ASSERT_EQ(6u, records.size());
  EXPECT_EQ(StreamEventType::kTruncate, records.back().type);
  EXPECT_EQ(0u, store_->DescribeTable("users")->item_count);

  ASSERT_TRUE(store_->Put("users", Key("x")).ok());
  ASSERT_TRUE(store_->DeleteTable("users").ok());
  // The deleted table's stream stays readable.
  records = ReadAll(*store_, "users");
  ASSERT_EQ(8u, records.size());
  EXPECT_EQ(StreamEventType::kTruncate, records.back().type);
  auto info = store_->GetStreamInfo("users");
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->table_exists);
}

TEST_F(StreamTest, WaitForSequenceWakesOnWrite) {
  uint64_t head = *store_->HeadSequence();
  std::thread writer([&] { ASSERT_TRUE(store_->Put("users", Key("wake")).ok()); });
  uint64_t seen = store_->WaitForSequence(head, std::chrono::seconds(10));
  writer.join();
  EXPECT_EQ(head + 1, seen);
  // Times out without writes.
  EXPECT_EQ(head + 1, store_->WaitForSequence(head + 1, std::chrono::milliseconds(20)));
}

TEST_F(StreamTest, ConcurrentWritersGetGapFreeSequences) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ASSERT_TRUE(store_->Put("users", Key(std::to_string(t) + "/" + std::to_string(i))).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  auto records = ReadAll(*store_, "users");
  ASSERT_EQ(1000u, records.size());  // buffer is exactly 1000
  for (size_t i = 1; i < records.size(); ++i) {
    EXPECT_EQ(records[i - 1].sequence + 1, records[i].sequence);
  }
}

// The writer encodes records from the encodings it already has; that must give
// the bytes the Item form gives, and decode to the same record.
TEST(StreamRecordEncodingTest, RecordsEncodeAlikeFromItemsAndFromEncodings) {
  StreamRecord modify;
  modify.type = StreamEventType::kModify;
  modify.view_type = StreamViewType::kNewAndOldImages;
  modify.timestamp_ms = 1'700'000'000'123;
  modify.keys = Key("user#1");
  modify.old_image = ItemBuilder().S("pk", "user#1").S("name", "Alice").Build();
  modify.new_image = ItemBuilder().S("pk", "user#1").S("name", "Alice").N("age", 30).Build();
  modify.size_bytes = 61;
  StreamRecord expired;
  expired.type = StreamEventType::kRemove;
  expired.view_type = StreamViewType::kOldImage;
  expired.timestamp_ms = 5;
  expired.keys = Key("user#2");
  expired.old_image = ItemBuilder().S("pk", "user#2").N("ttl", 1).Build();
  expired.size_bytes = 20;
  expired.expired_by_ttl = true;
  StreamRecord truncate;
  truncate.type = StreamEventType::kTruncate;
  truncate.view_type = StreamViewType::kKeysOnly;
  truncate.timestamp_ms = 7;

  for (const StreamRecord& record : {modify, expired, truncate}) {
    std::string from_items;
    EncodeStreamRecord(record, &from_items);
    EncodedStreamRecord encoded;
    ASSERT_TRUE(ParseStreamRecord(from_items, &encoded).ok());
    std::string from_encodings;
    EncodeStreamRecord(encoded, &from_encodings);
    EXPECT_EQ(from_items, from_encodings) << StreamEventTypeName(record.type);

    StreamRecord back;
    ASSERT_TRUE(DecodeStreamRecord(from_encodings, &back).ok());
    EXPECT_EQ(record.type, back.type);
    EXPECT_EQ(record.view_type, back.view_type);
    EXPECT_EQ(record.timestamp_ms, back.timestamp_ms);
    EXPECT_EQ(record.keys, back.keys);
    EXPECT_EQ(record.old_image, back.old_image);
    EXPECT_EQ(record.new_image, back.new_image);
    EXPECT_EQ(record.size_bytes, back.size_bytes);
    EXPECT_EQ(record.expired_by_ttl, back.expired_by_ttl);
  }
}

}  // namespace
}  // namespace keystone::store
