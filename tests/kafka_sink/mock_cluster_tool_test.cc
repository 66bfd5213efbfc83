// keystone-mock-kafka as a program: arguments, the control channel, and how
// it exits.

#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "tests/kafka_sink/kafka_test_util.h"

namespace keystone::kafka {
namespace {

using std::chrono::milliseconds;
using testing::MockKafka;
using testing::Subprocess;

TEST(MockClusterToolTest, BadArgumentsExitWithStatus2) {
  for (std::vector<std::string> args : {std::vector<std::string>{"--brokers", "0"},
                                        {"--brokers", "x"},
                                        {"--topic", "nopartitions"},
                                        {"--topic", "t:0"},
                                        {"--bogus"}}) {
    args.insert(args.begin(), KEYSTONE_MOCK_KAFKA);
    auto child = Subprocess::Spawn(args, true, true);
    ASSERT_TRUE(child.ok());
    auto status = (*child)->Wait(milliseconds(10000));
    ASSERT_TRUE(status.ok());
    EXPECT_EQ(2, *status) << args[1];
  }
}

TEST(MockClusterToolTest, PrintsBootstrapAndAnswersCommands) {
  auto mock = MockKafka::Start(3, {"orders:5"});
  ASSERT_TRUE(mock.ok()) << mock.status().ToString();
  MockKafka& m = **mock;
  // Three brokers, three loopback addresses.
  EXPECT_EQ(2, std::count(m.bootstrap().begin(), m.bootstrap().end(), ','));
  EXPECT_TRUE(m.Command("ping").ok());
  EXPECT_TRUE(m.Command("down 2").ok());
  EXPECT_TRUE(m.Command("up 2").ok());
  EXPECT_TRUE(m.Command("leader orders 1 3").ok());
  EXPECT_TRUE(m.Command("produce_errors 6 2").ok());
  EXPECT_TRUE(m.Command("unavailable orders 0 10 2").ok());
  EXPECT_TRUE(m.Command("topic_error orders 0").ok());
  EXPECT_TRUE(m.Command("create_topic more 2 3").ok());
  EXPECT_TRUE(m.Command("rtt -1 0").ok());
  Status bad = m.Command("leader orders 1 9");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(std::string::npos, bad.message().find("ERR")) << bad.message();
  EXPECT_FALSE(m.Command("frobnicate").ok());
  EXPECT_FALSE(m.Command("down").ok());

  // kcat sees the topics made by --topic and create_topic.
  auto child = Subprocess::Spawn({KEYSTONE_KCAT, "-b", m.bootstrap(), "-L"}, false, true);
  ASSERT_TRUE(child.ok());
  auto listing = (*child)->ReadAll(milliseconds(30000));
  ASSERT_TRUE(listing.ok());
  EXPECT_NE(std::string::npos, listing->find("topic \"orders\" with 5 partitions")) << *listing;
  EXPECT_NE(std::string::npos, listing->find("topic \"more\" with 2 partitions")) << *listing;
  EXPECT_NE(std::string::npos, listing->find("3 brokers")) << *listing;

  EXPECT_TRUE(m.Command("quit").ok());
  auto status = m.process().Wait(milliseconds(10000));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(0, *status);
}

TEST(MockClusterToolTest, ExitsCleanlyOnEndOfInputAndOnSigterm) {
  auto a = MockKafka::Start(1, {});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  (*a)->process().CloseStdin();
  auto status = (*a)->process().Wait(milliseconds(10000));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(0, *status);

  auto b = MockKafka::Start(2, {});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  (*b)->process().Kill(SIGTERM);
  status = (*b)->process().Wait(milliseconds(10000));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(0, *status);
}

}  // namespace
}  // namespace keystone::kafka
