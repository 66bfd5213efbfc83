// Crash safety and multi-process writers, with real processes: a child
// writing in a loop is killed with SIGKILL at random moments; after reopening,
// every acknowledged write is present with its stream record, sequence
// numbers are gap-free, and everything decodes.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "base/check.h"
#include "lmdb_store/item_store.h"
#include "tests/lmdb_store/store_test_util.h"

#ifndef KEYSTONE_STORE_WRITER
#error "KEYSTONE_STORE_WRITER must name the store_writer binary"
#endif

namespace keystone::store {
namespace {

using testing::AV;
using testing::Key;

// A running store_writer with its stdout pipe.
class Writer {
 public:
  Writer(const std::string& path, const std::string& prefix, long start, long count, bool sync)
      : Writer({path, prefix, std::to_string(start), std::to_string(count), sync ? "1" : "0"}) {}
  // store_writer with these arguments.
  explicit Writer(const std::vector<std::string>& args) {
    int fds[2];
    KS_CHECK(pipe(fds) == 0);
    pid_ = fork();
    KS_CHECK(pid_ >= 0);
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv = {const_cast<char*>("store_writer")};
      for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      execv(KEYSTONE_STORE_WRITER, argv.data());
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
  }
  ~Writer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }

  // Reads acknowledgements until `deadline`, EOF, or the process exits.
  // Returns false at EOF.
  bool ReadUntil(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return true;
      pollfd p{fd_, POLLIN, 0};
      int ready = poll(&p, 1, static_cast<int>(left));
      if (ready <= 0) continue;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n <= 0) return false;
      pending_.append(buf, n);
      size_t nl;
      while ((nl = pending_.find('\n')) != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        long i = 0;
        unsigned long long seq = 0;
        if (std::sscanf(line.c_str(), "%ld %llu", &i, &seq) == 2) acked_[i] = seq;
      }
    }
  }

  // SIGKILL, then collect what was acknowledged before the kill.
  void Kill() {
    kill(pid_, SIGKILL);
    ReadUntil(std::chrono::steady_clock::now() + std::chrono::seconds(5));
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  int Wait() {
    ReadUntil(std::chrono::steady_clock::now() + std::chrono::minutes(2));
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  const std::map<long, uint64_t>& acked() const { return acked_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string pending_;
  std::map<long, uint64_t> acked_;
};

// Everything in the stream decodes and sequence numbers are gap-free; returns
// the records by sequence.
std::map<uint64_t, StreamRecord> CheckStream(ItemStore& store) {
  std::map<uint64_t, StreamRecord> by_seq;
  uint64_t after = 0;
  for (;;) {
    auto batch = store.ReadStream("users", after, 5000);
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok() || batch->records.empty()) break;
    for (StreamRecord& r : batch->records) {
      EXPECT_EQ(after + 1, r.sequence) << "gap in the stream";
      after = r.sequence;
      by_seq.emplace(r.sequence, std::move(r));
    }
  }
  EXPECT_EQ(after, *store.HeadSequence());
  return by_seq;
}

TEST(CrashTest, SigkillAtRandomMomentsLosesNoAcknowledgedWrite) {
  keystone::testing::TempDir dir;
  std::mt19937 rng(std::random_device{}());
  std::map<long, uint64_t> acked;
  long next = 0;
  constexpr int kRounds = 12;
  for (int round = 0; round < kRounds; ++round) {
    Writer writer(dir.path(), "w", next, 1'000'000, /*sync=*/true);
    // Let it write for a random moment, at least until its first ack so that
    // every round exercises a kill mid-stream.
    auto first_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (writer.acked().empty() && std::chrono::steady_clock::now() < first_deadline) {
      writer.ReadUntil(std::chrono::steady_clock::now() + std::chrono::milliseconds(5));
    }
    ASSERT_FALSE(writer.acked().empty()) << "writer made no progress in round " << round;
    writer.ReadUntil(std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(std::uniform_int_distribution<int>(1, 80)(rng)));
    writer.Kill();
    for (auto& [i, seq] : writer.acked()) acked[i] = seq;
    next = writer.acked().rbegin()->first + 1;
    // Writes after the last ack may have committed before the kill; start the
    // next round past them so keys stay unique per write.
    next += 1000;
  }

  auto store = testing::OpenStore(dir.path());
  ASSERT_NE(nullptr, store);
  auto stream = CheckStream(*store);
  for (auto& [i, seq] : acked) {
    auto item = store->Get("users", Key("w-" + std::to_string(i)));
    ASSERT_TRUE(item.ok() && item->has_value()) << "acknowledged write " << i << " is missing";
    EXPECT_EQ(AV::N(i), (**item).at("i"));
    auto record = stream.find(seq);
    ASSERT_NE(stream.end(), record) << "stream record " << seq << " of write " << i << " missing";
    EXPECT_EQ(StreamEventType::kInsert, record->second.type);
    EXPECT_EQ(Key("w-" + std::to_string(i)), record->second.keys);
  }
  // Every item in the table has its stream record and vice versa.
  auto described = store->DescribeTable("users");
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(stream.size(), described->item_count);
  EXPECT_GE(stream.size(), acked.size());
  // And the store still takes writes after all that.
  auto after = store->Put("users", Key("after-crashes"));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(stream.rbegin()->first + 1, after->sequence);
}

TEST(MultiProcessTest, TwoProcessesShareOneSequenceOrder) {
  keystone::testing::TempDir dir;
  constexpr long kWrites = 1500;
  Writer a(dir.path(), "a", 0, kWrites, /*sync=*/false);
  Writer b(dir.path(), "b", 0, kWrites, /*sync=*/false);
  EXPECT_EQ(0, a.Wait());
  EXPECT_EQ(0, b.Wait());
  ASSERT_EQ(size_t{kWrites}, a.acked().size());
  ASSERT_EQ(size_t{kWrites}, b.acked().size());

  auto store = testing::OpenStore(dir.path());
  ASSERT_NE(nullptr, store);
  auto stream = CheckStream(*store);
  EXPECT_EQ(size_t{2 * kWrites}, stream.size());
  for (const Writer* w : {&a, &b}) {
    uint64_t previous = 0;
    for (auto& [i, seq] : w->acked()) {
      EXPECT_GT(seq, previous) << "a process's own writes are in its order";
      previous = seq;
      ASSERT_TRUE(stream.count(seq));
    }
  }
  // The two processes' writes interleave in one order, each record once.
  std::set<uint64_t> all;
  for (const Writer* w : {&a, &b}) {
    for (auto& [i, seq] : w->acked()) EXPECT_TRUE(all.insert(seq).second);
  }
}

// Reads find their table from what they decoded earlier while the catalog
// is unchanged: a table that another process deleted and created again with
// another key is seen as it now is, never through its old id and key.
TEST(MultiProcessTest, ReadsSeeATableRecreatedByAnotherProcess) {
  keystone::testing::TempDir dir;
  auto store = testing::OpenStore(dir.path());
  ASSERT_NE(nullptr, store);
  TableSchema users;
  users.name = "users";
  users.partition_key = {"pk", AttributeType::kS};
  ASSERT_TRUE(store->CreateTable(users).ok());
  ASSERT_TRUE(store->Put("users", ItemBuilder().S("pk", "a").Build()).ok());
  // Read twice, so that the table's keys are cached.
  for (int i = 0; i < 2; ++i) {
    auto item = store->Get("users", Key("a"));
    ASSERT_TRUE(item.ok() && item->has_value()) << item.status().ToString();
  }

  Writer other({dir.path(), "recreate"});
  ASSERT_EQ(0, other.Wait());

  auto old_key = store->Get("users", Key("a"));
  EXPECT_EQ(StatusCode::kInvalidArgument, old_key.status().code()) << old_key.status().ToString();
  GetItemRequest by_id{"users", ItemBuilder().N("id", 7).Build()};
  auto item = store->GetItem(by_id);
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  ASSERT_TRUE(item->has_value());
  EXPECT_EQ(AV::S("recreate"), (*item)->at("by"));
  std::string encoded;
  auto found = store->GetItemEncoded(by_id, &encoded);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_TRUE(*found);
  QueryRequest query;
  query.table = "users";
  query.key_condition_expression = "id = :id";
  query.expression.values[":id"] = AV::N(7);
  auto queried = store->Query(query);
  ASSERT_TRUE(queried.ok()) << queried.status().ToString();
  EXPECT_EQ(1u, queried->items.size());
}

}  // namespace
}  // namespace keystone::store
