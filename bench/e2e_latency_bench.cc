// e2e_latency_bench: write-to-Kafka latency of keystoned at a steady load.
//
// Starts keystone-mock-kafka (3 brokers, keystone.users with 6 partitions, 3
// replicas) and keystoned (sync: full, the table `users` published by a
// debezium at_least_once source), then for --seconds issues PutItem at
// --rate writes/s (open loop: --threads writers over HTTP keep-alive, each
// paced to its share; tests/e2e's Writers) while an independent consumer
// (python3-kafka, tests/e2e/follow_topic.py) reads the topic as it is
// produced.
//
// What is measured, per write: T_ack = when the writer got the HTTP 200
// (steady_clock), T_seen = when the consumer's poll returned the event with
// that key and version (time.monotonic_ns: the same CLOCK_MONOTONIC). The
// latency T_seen - T_ack therefore covers: keystoned's source noticing the
// commit, encoding, batching (batch_timeout_ms), the producer's linger,
// the produce round trip with acks=all (the delivery report) AND the
// consumer's fetch (fetch.max.wait 5 ms) and Python's decoding: an upper
// bound of "acknowledged to delivery report". It can be negative when the
// event reached Kafka before the HTTP answer reached the writer.
// keystoned's VmRSS is sampled every 50 ms during the run.
//
// Usage: e2e_latency_bench [--rate 5000] [--seconds 20] [--threads 16]

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/kafka_bench_util.h"
#include "tests/e2e/e2e_util.h"
#include "tests/kafka_sink/kafka_test_util.h"
#include "tests/testing/keystoned.h"
#include "tests/testing/temp_dir.h"

using namespace keystone;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  double rate = 5000, run_seconds = 20;
  int threads = 16;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rate" && i + 1 < argc) {
      rate = std::atof(argv[++i]);
    } else if (a == "--seconds" && i + 1 < argc) {
      run_seconds = std::atof(argv[++i]);
    } else if (a == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: e2e_latency_bench [--rate N] [--seconds S] [--threads N]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  keystone::testing::TempDir dir;
  auto kafka = kafka::testing::MockKafka::Start(3, {"keystone.users:6:3"});
  if (!kafka.ok()) {
    std::fprintf(stderr, "mock cluster: %s\n", kafka.status().ToString().c_str());
    return 1;
  }
  const std::string bootstrap = (*kafka)->bootstrap();
  keystone::testing::Keystoned keystoned(dir, "ks", e2e::PipelineConfig(bootstrap, "at_least_once"),
                                         "full");
  if (!keystoned.Start()) {
    std::fprintf(stderr, "keystoned did not start:\n%s\n", keystoned.log().c_str());
    return 1;
  }
  auto follower = e2e::TopicFollower::Start(bootstrap, "keystone.users");
  if (!follower.ok()) {
    std::fprintf(stderr, "follower: %s\n", follower.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "keystoned (sync: full) -> 3-broker mock cluster at %s; %.0f writes/s for %.0f s, "
      "%d writers\n",
      bootstrap.c_str(), rate, run_seconds, threads);
  std::fflush(stdout);

  uint64_t rss_start = bench::RssBytes(keystoned.process().pid());
  uint64_t rss_peak = 0, rss_min = 0, rss_end = 0;
  std::vector<e2e::Write> acked;
  double achieved = 0;
  {
    bench::RssSampler rss(keystoned.process().pid());
    auto start = bench::Clock::now();
    e2e::Writers writers(keystoned.port(), threads, 1000, rate);
    std::this_thread::sleep_for(std::chrono::duration<double>(run_seconds));
    writers.Stop();
    achieved =
        static_cast<double>(writers.acked_count()) / bench::Seconds(bench::Clock::now() - start);
    acked = writers.acked();
    rss_peak = rss.peak();
    rss_min = rss.min();
    rss_end = rss.last();
  }
  // Wait until the consumer has seen every acknowledged write.
  e2e::WaitFor(
      [&] {
        return (*follower)->count() >= acked.size() &&
               e2e::SourceCaughtUp(keystoned.port(), "users-to-kafka");
      },
      seconds(60), milliseconds(200));
  auto messages = (*follower)->Finish(seconds(60));
  if (!messages.ok()) {
    std::fprintf(stderr, "follower: %s\n", messages.status().ToString().c_str());
    return 1;
  }
  std::map<std::pair<std::string, int64_t>, int64_t> seen;
  for (const e2e::Event& e : e2e::Decode(*messages, "users-to-kafka")) {
    seen.emplace(std::make_pair(e.key, e.version), e.received_ns);  // first sighting
  }
  std::vector<double> latency_ms;
  size_t missing = 0, negative = 0;
  for (const e2e::Write& w : acked) {
    auto it = seen.find({w.key, w.version});
    if (it == seen.end()) {
      ++missing;
      continue;
    }
    double ms = static_cast<double>(it->second - w.acked_ns) / 1e6;
    if (ms < 0) ++negative;
    latency_ms.push_back(ms);
  }
  std::sort(latency_ms.begin(), latency_ms.end());
  std::printf(
      "%zu writes acknowledged (%.0f/s achieved), %zu seen by the consumer, %zu missing, "
      "%zu seen before their HTTP answer arrived\n",
      acked.size(), achieved, latency_ms.size(), missing, negative);
  std::printf("keystoned VmRSS (MiB): start %.1f, during min %.1f / max %.1f, end %.1f\n",
              rss_start / 1048576.0, rss_min / 1048576.0, rss_peak / 1048576.0,
              rss_end / 1048576.0);
  int stopped = keystoned.Stop();
  std::printf("RESULT e2e_write_rate %.0f writes/s\n", achieved);
  std::printf("RESULT e2e_ack_to_consumer_p50 %.2f ms\n", Percentile(latency_ms, 0.50));
  std::printf("RESULT e2e_ack_to_consumer_p99 %.2f ms\n", Percentile(latency_ms, 0.99));
  std::printf("RESULT e2e_ack_to_consumer_max %.2f ms\n",
              latency_ms.empty() ? 0 : latency_ms.back());
  std::printf("RESULT e2e_missing_writes %zu writes\n", missing);
  std::printf("RESULT e2e_keystoned_rss_start %.1f MiB\n", rss_start / 1048576.0);
  std::printf("RESULT e2e_keystoned_rss_peak %.1f MiB\n", rss_peak / 1048576.0);
  std::printf("RESULT e2e_keystoned_rss_end %.1f MiB\n", rss_end / 1048576.0);
  return missing == 0 && stopped == 0 ? 0 : 1;
}
