// Kafka faults under load: keystoned publishes the table `users` to a
// 3-broker keystone-mock-kafka while writers put items over HTTP and
// python3-kafka follows the topic; the cluster then suffers one fault (a
// broker down and back, partition leaders moved, injected retriable produce
// errors, a partition without leader for seconds). Writes keep flowing
// through the fault; afterwards the source's lag returns to 0 and the topic
// holds every acknowledged write, in per-key order, with no repeats beyond a
// replayed tail.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <ostream>
#include <string>

#include "tests/e2e/e2e_util.h"
#include "tests/kafka_sink/kafka_test_util.h"
#include "tests/testing/keystoned.h"
#include "tests/testing/temp_dir.h"

namespace keystone::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kTopic[] = "keystone.users";
constexpr char kSource[] = "users-to-kafka";
constexpr int kPartitions = 6;

struct Fault {
  std::string name;
  // kafka.properties for the run (YAML flow-map entries).
  std::string properties;
  // Starts the fault; `during` waits while writes go on; then ends it.
  std::function<void(kafka::testing::MockKafka&, const std::function<void()>& during)> apply;
};

void Command(kafka::testing::MockKafka& kafka, const std::string& line) {
  Status s = kafka.Command(line);
  ASSERT_TRUE(s.ok()) << line << ": " << s.ToString();
}

const Fault kFaults[] = {
    {"BrokerDownAndBack", "",
     [](kafka::testing::MockKafka& k, const std::function<void()>& during) {
       // Broker 1 leads a third of the partitions (the mock assigns leaders
       // round-robin); they have no reachable leader until it is back.
       Command(k, "down 1");
       during();
       Command(k, "up 1");
     }},
    // One request in flight, as for RetriableProduceErrors below: with five,
    // one run in ~5 under TSan put a key's events out of order (none lost or
    // repeated) after a leader move. We take it for the same mock shortcut
    // (no sequence-number checks, so a later pipelined batch can land before
    // an earlier failed one, which a real broker refuses); it was not traced
    // request by request.
    {"LeadersMoved", "max.in.flight.requests.per.connection: 1",
     [](kafka::testing::MockKafka& k, const std::function<void()>& during) {
       for (int p = 0; p < kPartitions; ++p) {
         Command(k, "leader " + std::string(kTopic) + " " + std::to_string(p) + " " +
                        std::to_string(1 + (p + 1) % 3));
       }
       during();
       for (int p = 0; p < kPartitions; ++p) {
         Command(k, "leader " + std::string(kTopic) + " " + std::to_string(p) + " " +
                        std::to_string(1 + (p + 2) % 3));
       }
     }},
    // librdkafka 2.0.2's mock cluster does not check idempotent sequence
    // numbers: when an injected error fails one of several pipelined
    // ProduceRequests it appends the later ones, where a real broker refuses
    // them (OUT_OF_ORDER_SEQUENCE_NUMBER). librdkafka, seeing a later batch
    // accepted, rightly takes the failed one as written, and the mock has
    // lost it (seen: one event in ~900 with the default 5 in flight). One
    // request in flight keeps the mock within the protocol, so the test
    // checks Keystone's retries and not the mock's shortcut.
    {"RetriableProduceErrors", "max.in.flight.requests.per.connection: 1",
     [](kafka::testing::MockKafka& k, const std::function<void()>& during) {
       // NOT_ENOUGH_REPLICAS (19) and REQUEST_TIMED_OUT (7): retriable.
       Command(k, "produce_errors 19 50");
       during();
       Command(k, "produce_errors 7 50");
       during();
     }},
    {"PartitionLeaderUnavailable", "",
     [](kafka::testing::MockKafka& k, const std::function<void()>& during) {
       Command(k, "unavailable " + std::string(kTopic) + " 0 3000 2");
       Command(k, "unavailable " + std::string(kTopic) + " 3 3000 3");
       during();
     }},
};

void PrintTo(const Fault& fault, std::ostream* os) { *os << fault.name; }

class KafkaFaultsTest : public ::testing::TestWithParam<Fault> {};

TEST_P(KafkaFaultsTest, NothingLostOrderKeptLagRecovers) {
  testing::TempDir dir;
  auto kafka = kafka::testing::MockKafka::Start(3, {std::string(kTopic) + ":6:3"});
  ASSERT_TRUE(kafka.ok()) << kafka.status().ToString();
  const std::string bootstrap = (*kafka)->bootstrap();
  testing::Keystoned keystoned(dir, "ks",
                               PipelineConfig(bootstrap, "at_least_once", GetParam().properties));
  ASSERT_TRUE(keystoned.Start()) << keystoned.log();
  ASSERT_TRUE(SourceListed(keystoned.port(), kSource)) << keystoned.log();
  auto follower = TopicFollower::Start(bootstrap, kTopic);
  ASSERT_TRUE(follower.ok()) << follower.status().ToString();

  Writers writers(keystoned.port(), 2, 100, 800);
  // Events flow end to end before the fault.
  ASSERT_TRUE(WaitFor([&] { return (*follower)->count() >= 100; }, seconds(30))) << keystoned.log();
  // During a fault, writes go on (300 more acknowledgements).
  auto during = [&] {
    size_t target = writers.acked_count() + 300;
    ASSERT_TRUE(WaitFor([&] { return writers.acked_count() >= target; }, seconds(30)))
        << "writes stalled during the fault";
  };
  GetParam().apply(**kafka, during);
  if (HasFatalFailure()) return;
  // And after it.
  size_t target = writers.acked_count() + 200;
  ASSERT_TRUE(WaitFor([&] { return writers.acked_count() >= target; }, seconds(30)));
  writers.Stop();
  const std::vector<Write> acked = writers.acked();

  ASSERT_TRUE(WaitFor([&] { return SourceCaughtUp(keystoned.port(), kSource); }, seconds(60)))
      << "lag did not return to 0\n"
      << keystoned.log();
  WaitFor([&] { return HoldsAll(Decode((*follower)->messages(), kSource), acked); }, seconds(30),
          milliseconds(500));
  auto messages = (*follower)->Finish(seconds(60));
  ASSERT_TRUE(messages.ok()) << messages.status().ToString();
  // Cross-check the follower with a fresh read of the whole topic.
  auto dumped = kafka::testing::ConsumeWithPython(bootstrap, kTopic);
  ASSERT_TRUE(dumped.ok()) << dumped.status().ToString();
  EXPECT_EQ(dumped->size(), messages->size()) << "the follower and a fresh read disagree";
  ExpectDelivered(Decode(*dumped, kSource), acked, /*exactly_once=*/false);
  EXPECT_EQ(keystoned.Stop(), 0) << keystoned.log();
}

INSTANTIATE_TEST_SUITE_P(Faults, KafkaFaultsTest, ::testing::ValuesIn(kFaults),
                         [](const ::testing::TestParamInfo<Fault>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace keystone::e2e
