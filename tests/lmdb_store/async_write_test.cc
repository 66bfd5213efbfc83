// ItemStore's asynchronous writes: results and errors reach the callback
// (inline for rejected requests, on the writer thread otherwise), in the order
// the writes were queued, sharing group commits, and a store closed with writes
// queued applies and reports them all.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "lmdb_store/item_store.h"
#include "tests/lmdb_store/store_test_util.h"

namespace keystone::store {
namespace {

using testing::Key;
using testing::OpenStore;
using testing::UsersSchema;

// Collects callback outcomes and lets the test wait for a count of them.
class Outcomes {
 public:
  WriteCallback Write() {
    return [this](Result<WriteResult> r) {
      std::lock_guard<std::mutex> lock(mu_);
      threads_.push_back(std::this_thread::get_id());
      codes_.push_back(r.ok() ? StatusCode::kOk : r.status().code());
      sequences_.push_back(r.ok() ? r->sequence : 0);
      attributes_.push_back(r.ok() ? r->attributes : std::nullopt);
      cv_.notify_all();
    };
  }
  StatusCallback Plain() {
    return [this](Status s) {
      std::lock_guard<std::mutex> lock(mu_);
      threads_.push_back(std::this_thread::get_id());
      codes_.push_back(s.code());
      sequences_.push_back(0);
      attributes_.push_back(std::nullopt);
      cv_.notify_all();
    };
  }
  void WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return codes_.size() >= n; });
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return codes_.size();
  }
  StatusCode code(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return codes_.at(i);
  }
  uint64_t sequence(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return sequences_.at(i);
  }
  std::optional<Item> attributes(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return attributes_.at(i);
  }
  std::thread::id thread(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_.at(i);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<StatusCode> codes_;
  std::vector<uint64_t> sequences_;
  std::vector<std::optional<Item>> attributes_;
  std::vector<std::thread::id> threads_;
};

// Holds the writer thread inside a completion callback until released, so
// that a test can queue writes behind it deterministically.
class WriterGate {
 public:
  WriteCallback Hold() {
    return [this](Result<WriteResult>) {
      std::unique_lock<std::mutex> lock(mu_);
      held_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    };
  }
  void WaitHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return held_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  bool released_ = false;
};

PutItemRequest Put(std::string pk, int64_t n) {
  PutItemRequest r;
  r.table = "users";
  r.item = ItemBuilder().S("pk", std::move(pk)).N("n", n).Build();
  return r;
}

class AsyncWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(dir_.path());
    ASSERT_NE(nullptr, store_);
    ASSERT_TRUE(store_->CreateTable(UsersSchema()).ok());
  }

  keystone::testing::TempDir dir_;
  std::unique_ptr<ItemStore> store_;
};

TEST_F(AsyncWriteTest, PutUpdateDeleteReportTheirResults) {
  Outcomes out;
  store_->PutItemAsync(Put("a", 1), out.Write());
  UpdateItemRequest update;
  update.table = "users";
  update.key = Key("a");
  update.update_expression = "SET n = n + :one";
  update.expression.values[":one"] = AttributeValue::N("1");
  update.return_values = ReturnValues::kUpdatedNew;
  store_->UpdateItemAsync(update, out.Write());
  DeleteItemRequest del;
  del.table = "users";
  del.key = Key("a");
  del.return_values = ReturnValues::kAllOld;
  store_->DeleteItemAsync(del, out.Write());
  out.WaitFor(3);

  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(StatusCode::kOk, out.code(i)) << i;
    EXPECT_NE(std::this_thread::get_id(), out.thread(i)) << "reported on the writer thread";
  }
  EXPECT_LT(0u, out.sequence(0));
  EXPECT_LT(out.sequence(0), out.sequence(1));
  EXPECT_LT(out.sequence(1), out.sequence(2));
  EXPECT_EQ(ItemBuilder().N("n", 2).Build(), out.attributes(1));
  EXPECT_EQ(ItemBuilder().S("pk", "a").N("n", 2).Build(), out.attributes(2));
  auto gone = store_->Get("users", Key("a"));
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

TEST_F(AsyncWriteTest, InvalidRequestsAreRejectedInlineOthersOnTheWriter) {
  Outcomes out;
  PutItemRequest bad_return = Put("a", 1);
  bad_return.return_values = ReturnValues::kAllNew;
  store_->PutItemAsync(bad_return, out.Write());
  // Rejected before the call returned, on this thread.
  ASSERT_EQ(1u, out.size());
  EXPECT_EQ(std::this_thread::get_id(), out.thread(0));
  EXPECT_EQ(StatusCode::kInvalidArgument, out.code(0));

  PutItemRequest bad_expression = Put("a", 1);
  bad_expression.condition_expression = "attribute_not_exists(";
  store_->PutItemAsync(bad_expression, out.Write());
  ASSERT_EQ(2u, out.size());
  EXPECT_EQ(StatusCode::kInvalidArgument, out.code(1));

  ASSERT_TRUE(store_->Put("users", ItemBuilder().S("pk", "a").N("n", 1).Build()).ok());
  PutItemRequest exists = Put("a", 2);
  exists.condition_expression = "attribute_not_exists(pk)";
  store_->PutItemAsync(exists, out.Write());
  PutItemRequest missing_table = Put("b", 1);
  missing_table.table = "nothing";
  store_->PutItemAsync(missing_table, out.Write());
  store_->BatchWriteAsync(
      {{"users", true, ItemBuilder().S("pk", "c").Build()}, {"users", false, Key("c")}},
      out.Plain());
  TransactWriteEntry check;
  check.kind = TransactWriteEntry::Kind::kConditionCheck;
  check.table = "users";
  check.item = Key("a");
  check.condition_expression = "n = :two";
  check.expression.values[":two"] = AttributeValue::N("2");
  TransactWriteEntry put;
  put.kind = TransactWriteEntry::Kind::kPut;
  put.table = "users";
  put.item = ItemBuilder().S("pk", "d").Build();
  store_->TransactWriteAsync({check, put}, out.Plain());
  // Needs the table's key schema, so it is found out on the writer.
  PutItemRequest no_key;
  no_key.table = "users";
  no_key.item = ItemBuilder().S("name", "x").Build();
  store_->PutItemAsync(no_key, out.Write());
  out.WaitFor(7);

  for (size_t i = 2; i < 7; ++i) EXPECT_NE(std::this_thread::get_id(), out.thread(i)) << i;
  EXPECT_EQ(StatusCode::kInvalidArgument, out.code(6));
  EXPECT_EQ(StatusCode::kConditionFailed, out.code(2));
  EXPECT_EQ(StatusCode::kNotFound, out.code(3));
  EXPECT_EQ(StatusCode::kInvalidArgument, out.code(4));  // duplicate keys
  EXPECT_EQ(StatusCode::kTransactionCanceled, out.code(5));
  // Nothing of the failed writes is in the store; the item kept its value.
  EXPECT_EQ(ItemBuilder().S("pk", "a").N("n", 1).Build(), **store_->Get("users", Key("a")));
  for (const char* pk : {"b", "c", "d"}) {
    auto item = store_->Get("users", Key(pk));
    ASSERT_TRUE(item.ok());
    EXPECT_FALSE(item->has_value()) << pk;
  }
}

TEST_F(AsyncWriteTest, WritesApplyAndReportInQueueOrder) {
  Outcomes out;
  constexpr int kWrites = 500;
  for (int i = 0; i < kWrites; ++i) store_->PutItemAsync(Put("same", i), out.Write());
  out.WaitFor(kWrites);
  for (int i = 1; i < kWrites; ++i) {
    ASSERT_EQ(StatusCode::kOk, out.code(static_cast<size_t>(i)));
    ASSERT_LT(out.sequence(static_cast<size_t>(i - 1)), out.sequence(static_cast<size_t>(i)));
  }
  EXPECT_EQ(ItemBuilder().S("pk", "same").N("n", kWrites - 1).Build(),
            **store_->Get("users", Key("same")));
}

TEST_F(AsyncWriteTest, QueuedWritesShareOneCommit) {
  WriterGate gate;
  store_->PutItemAsync(Put("first", 0), gate.Hold());
  gate.WaitHeld();
  uint64_t batches = store_->stats().write_batches.load();
  Outcomes out;
  constexpr int kWrites = 100;
  for (int i = 0; i < kWrites; ++i) {
    store_->PutItemAsync(Put("k" + std::to_string(i), i), out.Write());
  }
  gate.Release();
  out.WaitFor(kWrites);
  // All were queued while the writer was held: one transaction took them.
  EXPECT_EQ(batches + 1, store_->stats().write_batches.load());
  for (int i = 0; i < kWrites; ++i) EXPECT_EQ(StatusCode::kOk, out.code(static_cast<size_t>(i)));
}

TEST_F(AsyncWriteTest, CallbacksMayQueueFurtherWrites) {
  Outcomes out;
  std::function<void(int)> chain = [&](int i) {
    store_->PutItemAsync(Put("chain", i), [&, i](Result<WriteResult> r) {
      out.Write()(std::move(r));
      if (i < 9) chain(i + 1);
    });
  };
  chain(0);
  out.WaitFor(10);
  EXPECT_EQ(ItemBuilder().S("pk", "chain").N("n", 9).Build(), **store_->Get("users", Key("chain")));
}

TEST_F(AsyncWriteTest, ClosingTheStoreAppliesAndReportsQueuedWrites) {
  WriterGate gate;
  store_->PutItemAsync(Put("first", 0), gate.Hold());
  gate.WaitHeld();
  Outcomes out;
  constexpr int kWrites = 50;
  for (int i = 0; i < kWrites; ++i) {
    store_->PutItemAsync(Put("p" + std::to_string(i), i), out.Write());
  }
  std::thread closer([&] { store_.reset(); });
  gate.Release();
  closer.join();
  // Every queued write was reported before the store went away...
  ASSERT_EQ(static_cast<size_t>(kWrites), out.size());
  for (int i = 0; i < kWrites; ++i) EXPECT_EQ(StatusCode::kOk, out.code(static_cast<size_t>(i)));
  // ... and is there after reopening.
  store_ = OpenStore(dir_.path());
  ASSERT_NE(nullptr, store_);
  for (int i = 0; i < kWrites; ++i) {
    auto item = store_->Get("users", Key("p" + std::to_string(i)));
    ASSERT_TRUE(item.ok());
    EXPECT_TRUE(item->has_value()) << i;
  }
}

TEST_F(AsyncWriteTest, SynchronousAndAsynchronousWritersShareTheQueue) {
  Outcomes out;
  constexpr int kEach = 200;
  std::thread sync_writer([&] {
    for (int i = 0; i < kEach; ++i) {
      ASSERT_TRUE(
          store_->Put("users", ItemBuilder().S("pk", "s" + std::to_string(i)).Build()).ok());
    }
  });
  for (int i = 0; i < kEach; ++i)
    store_->PutItemAsync(Put("a" + std::to_string(i), i), out.Write());
  sync_writer.join();
  out.WaitFor(kEach);
  for (int i = 0; i < kEach; ++i) {
    EXPECT_TRUE((*store_->Get("users", Key("s" + std::to_string(i)))).has_value());
    EXPECT_TRUE((*store_->Get("users", Key("a" + std::to_string(i)))).has_value());
  }
}

TEST(AsyncWriteGrowthTest, EveryAcknowledgedWriteIsInTheStreamAcrossMapGrowth) {
  keystone::testing::TempDir dir;
  StoreOptions options;
  options.initial_map_size = 1ull << 20;  // grows many times below
  options.sync = false;
  auto store = OpenStore(dir.path(), options);
  ASSERT_NE(nullptr, store);
  TableSchema schema = UsersSchema();
  schema.stream.buffer_size = 1'000'000;
  ASSERT_TRUE(store->CreateTable(schema).ok());
  constexpr int kWrites = 20000;
  // A reader following the stream as a CDC source does: after a read that
  // returned fewer records than asked, it is caught up to the head the read
  // saw.
  std::atomic<bool> stop_reading{false};
  std::set<uint64_t> followed;
  std::thread reader([&] {
    uint64_t after = 0;
    while (true) {
      bool last = stop_reading.load();
      auto batch = store->ReadTableHistory("users", after, 100);
      ASSERT_TRUE(batch.ok()) << batch.status().ToString();
      for (const StreamRecord& r : batch->records) followed.insert(r.sequence);
      if (!batch->records.empty()) after = batch->records.back().sequence;
      if (batch->records.size() < 100) {
        after = std::max(after, batch->head_sequence);
        if (last) return;
        store->WaitForSequence(after, std::chrono::milliseconds(5));
      }
    }
  });
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> acked;
  int answered = 0;
  for (int i = 0; i < kWrites; ++i) {
    PutItemRequest r = Put("k" + std::to_string(i), i);
    r.item.emplace("pad", AttributeValue::S(std::string(200, 'x')));
    store->PutItemAsync(std::move(r), [&](Result<WriteResult> result) {
      std::lock_guard<std::mutex> lock(mu);
      if (result.ok()) acked.push_back(result->sequence);
      ++answered;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return answered == kWrites; });
  }
  stop_reading = true;
  reader.join();
  EXPECT_GT(store->stats().map_growths.load(), 2u);
  ASSERT_EQ(static_cast<size_t>(kWrites), acked.size());
  std::set<uint64_t> in_stream;
  for (uint64_t after = 0;;) {
    auto batch = store->ReadStream("users", after, 1000);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (batch->records.empty()) break;
    for (const StreamRecord& r : batch->records) in_stream.insert(r.sequence);
    after = batch->records.back().sequence;
  }
  size_t missing = 0, not_followed = 0;
  for (uint64_t seq : acked) {
    missing += in_stream.count(seq) == 0;
    not_followed += followed.count(seq) == 0;
  }
  EXPECT_EQ(0u, missing);
  EXPECT_EQ(0u, not_followed) << "the following reader skipped records";
  std::set<uint64_t> distinct(acked.begin(), acked.end());
  EXPECT_EQ(acked.size(), distinct.size()) << "two writes acknowledged with one sequence number";
}

TEST_F(AsyncWriteTest, BatchStartedMarksAWriterThatIsStuck) {
  // Between batches the mark reads 0. A write's caller may see its outcome a
  // moment before the writer clears the mark, so wait for it.
  auto writer_idle = [&] {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (store_->stats().batch_started_ns.load() != 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    return store_->stats().batch_started_ns.load() == 0;
  };
  EXPECT_TRUE(writer_idle());
  WriterGate gate;
  int64_t before = SystemClock::Default()->MonotonicNs();
  store_->PutItemAsync(Put("first", 0), gate.Hold());
  gate.WaitHeld();
  // Held inside a completion: the writer is on that batch until released.
  int64_t started = store_->stats().batch_started_ns.load();
  EXPECT_GE(started, before);
  EXPECT_LE(started, SystemClock::Default()->MonotonicNs());
  gate.Release();
  Outcomes out;
  store_->PutItemAsync(Put("second", 1), out.Write());
  out.WaitFor(1);
  EXPECT_TRUE(writer_idle());
}

}  // namespace
}  // namespace keystone::store
