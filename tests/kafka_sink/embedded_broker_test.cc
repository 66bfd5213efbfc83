// EmbeddedBroker: librdkafka's mock cluster inside the test process, reached
// by KafkaEventSink and read back by kcat (another process).

#include "kafka_sink/embedded_broker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kafka_sink/kafka_event_sink.h"
#include "tests/kafka_sink/kafka_test_util.h"

namespace keystone::kafka {
namespace {

using std::chrono::milliseconds;

TEST(EmbeddedBrokerTest, RejectsBadBrokerCounts) {
  EXPECT_EQ(StatusCode::kInvalidArgument, EmbeddedBroker::Start(0).status().code());
  EXPECT_EQ(StatusCode::kInvalidArgument, EmbeddedBroker::Start(17).status().code());
}

TEST(EmbeddedBrokerTest, ListensOnFreeLoopbackPortsOnePerBroker) {
  auto a = EmbeddedBroker::Start(3);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = EmbeddedBroker::Start(1);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<std::string> addresses;
  std::string list = (*a)->bootstrap_servers() + "," + (*b)->bootstrap_servers();
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    addresses.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  ASSERT_EQ(4u, addresses.size()) << list;
  for (size_t i = 0; i < addresses.size(); ++i) {
    EXPECT_EQ(0u, addresses[i].find("127.0.0.1:")) << addresses[i];
    for (size_t j = 0; j < i; ++j) EXPECT_NE(addresses[i], addresses[j]);
  }
  EXPECT_EQ(3, (*a)->broker_count());
}

TEST(EmbeddedBrokerTest, FaultControlsValidateTheirArguments) {
  auto broker = EmbeddedBroker::Start(2);
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  EmbeddedBroker& b = **broker;
  EXPECT_TRUE(b.CreateTopic("t", 3, 2).ok());
  EXPECT_EQ(StatusCode::kInvalidArgument, b.CreateTopic("u", 0).code());
  EXPECT_EQ(StatusCode::kInvalidArgument, b.CreateTopic("u", 1, 3).code());
  EXPECT_TRUE(b.SetPartitionLeader("t", 0, 2).ok());
  EXPECT_TRUE(b.SetPartitionLeader("t", 0, -1).ok());
  EXPECT_EQ(StatusCode::kInvalidArgument, b.SetPartitionLeader("t", 0, 5).code());
  EXPECT_TRUE(b.BrokerDown(2).ok());
  EXPECT_TRUE(b.BrokerUp(2).ok());
  EXPECT_EQ(StatusCode::kInvalidArgument, b.BrokerDown(9).code());
  EXPECT_TRUE(b.PushProduceErrors(6, 2).ok());
  EXPECT_EQ(StatusCode::kInvalidArgument, b.PushProduceErrors(6, 0).code());
  EXPECT_TRUE(b.SetTopicError("t", 0).ok());
  EXPECT_TRUE(b.SetBrokerRtt(-1, 0).ok());
}

TEST(EmbeddedBrokerTest, SinkPublishesAndKcatReads) {
  auto broker = EmbeddedBroker::Start(1);
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  ASSERT_TRUE((*broker)->CreateTopic("dev", 2).ok());
  KafkaSinkOptions o;
  o.bootstrap_servers = (*broker)->bootstrap_servers();
  o.topic_creation.create_topics = false;
  auto sink = KafkaEventSink::Create(o);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  std::vector<cdc::EncodedEvent> events = testing::MakeStream("dev", 1, 25, 4);
  testing::SourceEmulator source(events);
  ASSERT_TRUE((*sink)->Start(&source, {"dev"}).ok());
  ASSERT_TRUE(source.Run(**sink, milliseconds(60000)).ok());
  auto got = testing::ConsumeWithKcat((*broker)->bootstrap_servers(), "dev");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  testing::ExpectTopicHolds(events, *got, /*exactly_once=*/true);
}

}  // namespace
}  // namespace keystone::kafka
