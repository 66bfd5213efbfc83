// kafka_bench: catch-up throughput of KafkaEventSink against a raw librdkafka
// producer, in the same run, to the same cluster: a 3-broker librdkafka mock
// cluster (keystone-mock-kafka in its own process), topics of 6 partitions,
// lz4, idempotent, acks=all. Both send the same N encoded events (~200-byte
// values, a JSON key over 100k items, the four Keystone headers), built on
// the fly so that neither holds the backlog in memory. The sink is driven as
// a CDC source drives it (batches of 500 Sends while under its in-flight
// window, then Poll; count delivery reports); the raw producer is a tight
// produce loop that polls every 500 messages. Resident memory (VmRSS) is
// sampled during every phase; freed memory is handed back to the system
// (malloc_trim) between phases so that each phase's peak is its own.
//
// Prints human-readable lines and, last, one "RESULT <name> <value> <unit>"
// line per headline figure.
//
// Usage: kafka_bench [--events N] [--rounds N] [--window N]
//   --events   events per phase (default 1000000)
//   --rounds   alternating rounds of raw and sink; medians reported (default 3)
//   --window   the sink's in-flight window, as a source's
//              max_in_flight_records (default 10000, its default)

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "bench/kafka_bench_util.h"
#include "cdc/event_sink.h"
#include "kafka_sink/kafka_event_sink.h"

using namespace keystone;
using bench::Clock;
using bench::MockProcess;
using bench::PhaseResult;
using bench::RssBytes;
using bench::RssSampler;
using bench::Seconds;

namespace {

struct Flags {
  uint64_t events = 1'000'000;
  int rounds = 3;
  uint64_t window = 10'000;
};

constexpr int kPartitions = 6;
constexpr uint64_t kItems = 100'000;
constexpr uint64_t kBatch = 500;  // a source's default batch_size

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Event i as a source would encode it: ~200-byte value.
void Encode(uint64_t i, std::string* key, std::string* value, std::string* seq) {
  uint64_t item = (i * 7919) % kItems;
  *key = "{\"pk\":\"user#" + std::to_string(item) + "\"}";
  *value = "{\"before\":null,\"after\":{\"pk\":\"user#" + std::to_string(item) +
           "\",\"name\":\"Customer " + std::to_string(item) +
           "\",\"email\":\"customer@example.com\",\"balance\":1234.56,\"active\":true},"
           "\"op\":\"u\",\"ts_ms\":1700000000000,\"source\":{\"table\":\"users\",\"seq\":" +
           std::to_string(i + 1) + "}}";
  *seq = std::to_string(i + 1);
}

PhaseResult RunRaw(const std::string& bootstrap, const std::string& topic, uint64_t events) {
  std::string seq;
  return bench::RunRawProducer(bootstrap, topic, events, [&](uint64_t i, bench::RawMessage* m) {
    Encode(i, &m->key, &m->value, &seq);
    m->headers = {{cdc::kHeaderSequence, seq},
                  {cdc::kHeaderOp, "u"},
                  {cdc::kHeaderTable, "users"},
                  {cdc::kHeaderSource, "bench"}};
  });
}

class CountingListener : public cdc::DeliveryListener {
 public:
  void OnDelivered(uint64_t, const Status& status) override {
    if (status.ok()) {
      ++ok;
    } else {
      ++failed;
      std::fprintf(stderr, "sink report: %s\n", status.ToString().c_str());
    }
  }
  uint64_t ok = 0;
  uint64_t failed = 0;
};

PhaseResult RunSink(const std::string& bootstrap, const std::string& topic, uint64_t events,
                    uint64_t window, kafka::SinkDelivery delivery) {
  kafka::KafkaSinkOptions o;
  o.bootstrap_servers = bootstrap;
  o.properties = {{"compression.type", "lz4"}};
  o.source_name = "bench";
  o.delivery = delivery;
  o.topic_creation.create_topics = false;
  auto created = kafka::KafkaEventSink::Create(o);
  if (!created.ok()) {
    std::fprintf(stderr, "sink: %s\n", created.status().ToString().c_str());
    std::exit(1);
  }
  std::unique_ptr<kafka::KafkaEventSink> sink = std::move(created).value();
  CountingListener listener;
  PhaseResult r;
  {
    RssSampler rss;
    Clock::time_point start = Clock::now();
    Status started = sink->Start(&listener, {topic});
    if (!started.ok()) {
      std::fprintf(stderr, "sink start: %s\n", started.ToString().c_str());
      std::exit(1);
    }
    std::string seq;
    uint64_t sent = 0;
    while (listener.ok + listener.failed < events) {
      uint64_t batch_end = std::min(events, sent + kBatch);
      while (sent < batch_end && sent - (listener.ok + listener.failed) < window) {
        // Encoded straight into the event, as a source would.
        cdc::EncodedEvent e;
        e.key.emplace();
        e.value.emplace();
        Encode(sent, &*e.key, &*e.value, &seq);
        e.token = sent + 1;
        e.topic = topic;
        e.sequence = sent + 1;
        e.headers = {{cdc::kHeaderSequence, seq},
                     {cdc::kHeaderOp, "u"},
                     {cdc::kHeaderTable, "users"},
                     {cdc::kHeaderSource, "bench"}};
        Status s = sink->Send(std::move(e));
        if (s.code() == StatusCode::kUnavailable) break;
        if (!s.ok()) {
          std::fprintf(stderr, "sink send: %s\n", s.ToString().c_str());
          std::exit(1);
        }
        ++sent;
      }
      bool blocked = sent < events && sent - (listener.ok + listener.failed) >= window;
      sink->Poll(std::chrono::milliseconds(sent < events && !blocked ? 0 : 5));
    }
    r.events_per_second = static_cast<double>(events) / Seconds(Clock::now() - start);
    r.peak_rss = rss.peak();
  }
  if (listener.failed > 0) std::exit(1);
  sink.reset();
  malloc_trim(0);
  r.rss_after = RssBytes();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--events" && i + 1 < argc) {
      flags.events = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--rounds" && i + 1 < argc) {
      flags.rounds = std::atoi(argv[++i]);
    } else if (a == "--window" && i + 1 < argc) {
      flags.window = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: kafka_bench [--events N] [--rounds N] [--window N]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  SetLogLevel(LogLevel::kError);

  MockProcess mock;
  std::vector<std::string> args = {KEYSTONE_MOCK_KAFKA, "--brokers", "3"};
  int topics = 2 * flags.rounds + 2;
  for (int t = 0; t < topics; ++t) {
    args.push_back("--topic");
    args.push_back("bench" + std::to_string(t) + ":" + std::to_string(kPartitions) + ":3");
  }
  if (!mock.Start(args)) {
    std::fprintf(stderr, "cannot start keystone-mock-kafka\n");
    return 1;
  }
  std::printf("mock cluster: 3 brokers at %s; %d partitions per topic, lz4, acks=all\n",
              mock.bootstrap.c_str(), kPartitions);
  std::printf("events per phase: %lu (~200-byte values), sink window %lu\n",
              (unsigned long)flags.events, (unsigned long)flags.window);

  uint64_t rss_start = RssBytes();
  std::vector<double> raw, sink;
  uint64_t sink_peak = 0, raw_peak = 0, sink_after = 0;
  int topic = 0;
  for (int round = 0; round < flags.rounds; ++round) {
    PhaseResult r = RunRaw(mock.bootstrap, "bench" + std::to_string(topic++), flags.events);
    raw.push_back(r.events_per_second);
    raw_peak = std::max(raw_peak, r.peak_rss);
    std::printf("round %d raw:  %9.0f events/s  peak RSS %6.1f MiB  after %6.1f MiB\n", round,
                r.events_per_second, r.peak_rss / 1048576.0, r.rss_after / 1048576.0);
    PhaseResult s = RunSink(mock.bootstrap, "bench" + std::to_string(topic++), flags.events,
                            flags.window, kafka::SinkDelivery::kAtLeastOnce);
    sink.push_back(s.events_per_second);
    sink_peak = std::max(sink_peak, s.peak_rss);
    sink_after = s.rss_after;
    std::printf("round %d sink: %9.0f events/s  peak RSS %6.1f MiB  after %6.1f MiB\n", round,
                s.events_per_second, s.peak_rss / 1048576.0, s.rss_after / 1048576.0);
    std::fflush(stdout);
  }
  // Exactly-once: the same path plus the tail read at start and a partition
  // lookup per event (nothing is skipped on an empty topic).
  PhaseResult eo = RunSink(mock.bootstrap, "bench" + std::to_string(topic++), flags.events,
                           flags.window, kafka::SinkDelivery::kExactlyOnce);
  std::printf("exactly-once sink: %9.0f events/s  peak RSS %6.1f MiB\n", eo.events_per_second,
              eo.peak_rss / 1048576.0);

  double raw_median = Median(raw), sink_median = Median(sink);
  std::printf("RESULT kafka_raw_catchup %.0f events/s\n", raw_median);
  std::printf("RESULT kafka_sink_catchup %.0f events/s\n", sink_median);
  std::printf("RESULT kafka_sink_vs_raw %.2f x\n", sink_median / raw_median);
  std::printf("RESULT kafka_sink_exactly_once_catchup %.0f events/s\n", eo.events_per_second);
  std::printf("RESULT kafka_rss_at_start %.1f MiB\n", rss_start / 1048576.0);
  std::printf("RESULT kafka_raw_peak_rss %.1f MiB\n", raw_peak / 1048576.0);
  std::printf("RESULT kafka_sink_peak_rss %.1f MiB\n", sink_peak / 1048576.0);
  std::printf("RESULT kafka_sink_rss_after_rounds %.1f MiB\n", sink_after / 1048576.0);
  return 0;
}
