// Crash loop: keystoned publishing the table `users` to a 3-broker
// keystone-mock-kafka, under sustained PutItem writes, is killed with SIGKILL
// at random moments and restarted, 20 to 25 times within about a minute. Then,
// once the source's lag (GET /sources) is 0, python3-kafka's view of the
// topic must hold every acknowledged write: at least once (repeats only as
// replayed tails) or exactly once, per the source's delivery mode, with
// per-key order.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "tests/e2e/e2e_util.h"
#include "tests/kafka_sink/kafka_test_util.h"
#include "tests/testing/keystoned.h"
#include "tests/testing/temp_dir.h"

namespace keystone::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr char kTopic[] = "keystone.users";
constexpr char kSource[] = "users-to-kafka";

class CrashLoopTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CrashLoopTest, EveryAcknowledgedWriteReachesKafka) {
  const std::string delivery = GetParam();
  const bool exactly_once = delivery == "exactly_once";
  testing::TempDir dir;
  auto kafka = kafka::testing::MockKafka::Start(3, {std::string(kTopic) + ":6:3"});
  ASSERT_TRUE(kafka.ok()) << kafka.status().ToString();
  const std::string bootstrap = (*kafka)->bootstrap();

  testing::Keystoned keystoned(dir, "ks", PipelineConfig(bootstrap, delivery), "full");
  keystoned.set_keep_ports(true);
  ASSERT_TRUE(keystoned.Start()) << keystoned.log();
  ASSERT_TRUE(SourceListed(keystoned.port(), kSource)) << keystoned.log();

  auto follower = TopicFollower::Start(bootstrap, kTopic);
  ASSERT_TRUE(follower.ok()) << follower.status().ToString();

  // The ports are kept across restarts, so the writers' endpoint stays.
  Writers writers(keystoned.port(), 4, 50, 1200);
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> run_ms(200, 2000);
  const auto loop_end = Clock::now() + seconds(70);
  int kills = 0;
  while (kills < 20 || (Clock::now() < loop_end && kills < 25)) {
    // Let writes and deliveries happen for a random while, then crash.
    size_t before = writers.acked_count();
    std::this_thread::sleep_for(milliseconds(run_ms(rng)));
    ASSERT_TRUE(keystoned.running()) << "keystoned exited on its own\n" << keystoned.log();
    keystoned.Kill();
    ++kills;
    ASSERT_TRUE(keystoned.Start()) << "restart " << kills << " failed\n" << keystoned.log();
    // Each cycle must make progress, or the loop proves nothing.
    ASSERT_TRUE(WaitFor([&] { return writers.acked_count() > before; }, seconds(20)))
        << "no write acknowledged after restart " << kills;
    ASSERT_LT(Clock::now(), loop_end + seconds(60)) << "crash loop too slow";
  }
  writers.Stop();
  const std::vector<Write> acked = writers.acked();
  std::printf("%d kills, %zu acknowledged writes, %llu failed attempts\n", kills, acked.size(),
              static_cast<unsigned long long>(writers.failures()));
  ASSERT_GT(acked.size(), 1000u);

  ASSERT_TRUE(WaitFor([&] { return SourceCaughtUp(keystoned.port(), kSource); }, seconds(60)))
      << "lag did not return to 0\n"
      << keystoned.log();
  // The follower may trail Kafka a little; wait until it has read everything
  // acknowledged (or give up and let the check name what is missing).
  WaitFor([&] { return HoldsAll(Decode((*follower)->messages(), kSource), acked); }, seconds(30),
          milliseconds(500));
  auto messages = (*follower)->Finish(seconds(60));
  ASSERT_TRUE(messages.ok()) << messages.status().ToString();
  ExpectDelivered(Decode(*messages, kSource), acked, exactly_once);
  EXPECT_EQ(keystoned.Stop(), 0) << keystoned.log();
}

INSTANTIATE_TEST_SUITE_P(Delivery, CrashLoopTest,
                         ::testing::Values("at_least_once", "exactly_once"));

}  // namespace
}  // namespace keystone::e2e
