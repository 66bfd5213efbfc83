// cdc_kafka_bench: catch-up of the whole publishing pipeline, as keystoned
// runs it in-process (cdc::Source reading the stream + KafkaEventSink), against
// a raw librdkafka producer sending the same encoded messages with the same
// settings to the same cluster, in the same run.
//
//   1. Fill: N records (~200-byte items, half inserts, half updates; stream
//      view NEW_AND_OLD_IMAGES) written to an ItemStore in nosync mode.
//   2. Capture (not timed): a Source with a sink that acknowledges at once
//      writes the encoded events (key, value, headers) to a file: the exact
//      messages the pipeline sends.
//   3. Raw: a tight librdkafka produce loop (bench/kafka_bench_util) sends the
//      captured messages, read back from the file, to topic raw.users.
//   4. Pipeline: a fresh Source (position 0, no snapshot) on its own thread
//      with a KafkaEventSink publishes the stream to keystone.users; timed
//      until its position reaches the stream's head, i.e. until every event is
//      acknowledged by the cluster (acks=all).
// Phases 3 and 4 alternate for --rounds rounds (3 by default), so that both
// see the same drift of a shared machine; the figures are each one's median
// round, and the ratio is of the medians.
// Each phase's CPU time (this process's user + system time, so without the
// mock cluster's) is also printed per event: it varies far less than
// throughput on a shared machine, and the difference is what the pipeline
// adds to a raw producer.
// Cluster: keystone-mock-kafka, 3 brokers, topics of 6 partitions with 3
// replicas, lz4. Resident memory (VmRSS, and RssAnon: RSS without the LMDB
// map's file pages) is read before the first pipeline round, sampled during
// every one and read after the last.
//
// Usage: cdc_kafka_bench [--records N] [--rounds R] [--dir PATH]
//                        [--batch-size N] [--max-in-flight N]
//   --batch-size, --max-in-flight: the source's batch_size and
//   max_in_flight_records instead of their defaults (500, 10000).

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "bench/acking_sink.h"
#include "bench/bench_items.h"
#include "bench/kafka_bench_util.h"
#include "cdc/event_sink.h"
#include "cdc/source.h"
#include "kafka_sink/kafka_event_sink.h"
#include "lmdb_store/item_store.h"

using namespace keystone;
using SteadyClock = bench::Clock;
using bench::Seconds;
using store::Item;
using store::ItemBuilder;

namespace {

constexpr int kPartitions = 6;

double MiB(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

// CPU time (user + system) this process has used, in microseconds; the mock
// cluster runs in its own process, so this is the producing side's alone.
double ProcessCpuMicros() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto micros = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + t.tv_usec; };
  return micros(usage.ru_utime) + micros(usage.ru_stime);
}

uint64_t RssAnonBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssAnon:", 0) == 0) {
      return std::strtoull(line.c_str() + 8, nullptr, 10) * 1024;
    }
  }
  return 0;
}

void PutString(std::FILE* f, const std::string& s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  std::fwrite(&n, sizeof(n), 1, f);
  std::fwrite(s.data(), 1, s.size(), f);
}

bool GetString(std::FILE* f, std::string* s) {
  uint32_t n = 0;
  if (std::fread(&n, sizeof(n), 1, f) != 1) return false;
  s->resize(n);
  return n == 0 || std::fread(s->data(), 1, n, f) == n;
}

// Writes every event to a file; acknowledges it at the next Poll.
class CaptureSink : public bench::AckingSink {
 public:
  explicit CaptureSink(std::FILE* out) : out_(out) {}

 protected:
  void Capture(const cdc::EncodedEvent& event) override {
    PutString(out_, event.key.value_or(""));
    PutString(out_, event.value.value_or(""));
    uint32_t h = static_cast<uint32_t>(event.headers.size());
    std::fwrite(&h, sizeof(h), 1, out_);
    for (const auto& [name, value] : event.headers) {
      PutString(out_, name);
      PutString(out_, value);
    }
  }

 private:
  std::FILE* out_;
};

// The source's settings other than its defaults (--batch-size,
// --max-in-flight); 0 keeps the default.
struct SourceTuning {
  uint32_t batch_size = 0;
  uint64_t max_in_flight_records = 0;
};

cdc::SourceOptions PipelineSource(const std::string& name, const SourceTuning& tuning) {
  cdc::SourceOptions o;
  if (tuning.batch_size != 0) o.batch_size = tuning.batch_size;
  if (tuning.max_in_flight_records != 0) o.max_in_flight_records = tuning.max_in_flight_records;
  o.name = name;
  o.table = "users";
  o.topic = "keystone.{table}";
  o.snapshot = cdc::SnapshotMode::kNever;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t records = 1'000'000;
  int rounds = 3;
  std::string base = std::filesystem::temp_directory_path().string();
  SourceTuning tuning;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--records" && i + 1 < argc) {
      records = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--dir" && i + 1 < argc) {
      base = argv[++i];
    } else if (a == "--batch-size" && i + 1 < argc) {
      tuning.batch_size = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (a == "--max-in-flight" && i + 1 < argc) {
      tuning.max_in_flight_records = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr,
                   "usage: cdc_kafka_bench [--records N] [--rounds R] [--dir PATH] "
                   "[--batch-size N] [--max-in-flight N]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  SetLogLevel(LogLevel::kError);

  bench::MockProcess mock;
  if (!mock.Start({KEYSTONE_MOCK_KAFKA, "--brokers", "3", "--topic",
                   "raw.users:" + std::to_string(kPartitions) + ":3", "--topic",
                   "keystone.users:" + std::to_string(kPartitions) + ":3"})) {
    std::fprintf(stderr, "cannot start keystone-mock-kafka\n");
    return 1;
  }
  std::printf("mock cluster: 3 brokers at %s; %d partitions, 3 replicas, lz4, acks=all\n",
              mock.bootstrap.c_str(), kPartitions);

  // 1. Fill.
  std::string dir = base + "/cdc_kafka_bench." + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  store::StoreOptions options;
  options.path = dir + "/store";
  options.sync = false;
  options.initial_map_size = 1ull << 30;
  auto opened = store::ItemStore::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<store::ItemStore> store = std::move(opened).value();
  store::TableSchema schema;
  schema.name = "users";
  schema.partition_key = {"pk", store::AttributeType::kS};
  schema.stream = {true, store::StreamViewType::kNewAndOldImages, records + 1};
  if (!store->CreateTable(schema).ok()) return 1;
  auto fill_start = SteadyClock::now();
  if (!bench::FillUsers(*store, records)) return 1;
  auto info = store->GetStreamInfo("users");
  const uint64_t head = info->latest_sequence;
  std::printf("fill: %llu stream records in %.1f s (nosync)\n",
              static_cast<unsigned long long>(info->record_count),
              Seconds(SteadyClock::now() - fill_start));

  // 2. Capture the encoded events.
  std::string capture_path = dir + "/events.bin";
  uint64_t events = 0, event_bytes = 0;
  {
    std::FILE* out = std::fopen(capture_path.c_str(), "wb");
    if (out == nullptr) return 1;
    CaptureSink capture(out);
    cdc::Source source(*store, capture, PipelineSource("capture", tuning));
    while (source.position().sequence < head) {
      Status s = source.PollOnce();
      if (!s.ok()) {
        std::fprintf(stderr, "capture: %s\n", s.ToString().c_str());
        return 1;
      }
    }
    events = capture.events();
    event_bytes = capture.bytes();
    std::fclose(out);
  }
  std::printf("captured %llu encoded events, %.0f bytes each on average\n",
              static_cast<unsigned long long>(events),
              static_cast<double>(event_bytes) / static_cast<double>(events));

  // 3 and 4, alternating.
  std::vector<double> raw_rates, pipeline_rates;
  // CPU µs per event of this process (the producer side) in each phase.
  std::vector<double> raw_cpu, pipeline_cpu;
  uint64_t rss_before = 0, anon_before = 0, rss_peak = 0, anon_peak = 0, acked = 0;
  for (int round = 1; round <= rounds; ++round) {
    // 3. Raw producer, same messages.
    std::FILE* in = std::fopen(capture_path.c_str(), "rb");
    if (in == nullptr) return 1;
    const double raw_cpu_start = ProcessCpuMicros();
    bench::PhaseResult raw = bench::RunRawProducer(
        mock.bootstrap, "raw.users", events, [&](uint64_t, bench::RawMessage* m) {
          uint32_t h = 0;
          if (!GetString(in, &m->key) || !GetString(in, &m->value) ||
              std::fread(&h, sizeof(h), 1, in) != 1) {
            std::fprintf(stderr, "capture file truncated\n");
            std::exit(1);
          }
          m->headers.resize(h);
          for (auto& [name, value] : m->headers) {
            GetString(in, &name);
            GetString(in, &value);
          }
        });
    std::fclose(in);
    raw_rates.push_back(raw.events_per_second);
    raw_cpu.push_back((ProcessCpuMicros() - raw_cpu_start) / static_cast<double>(events));

    // 4. The pipeline, as keystoned runs it: the source on its own thread.
    malloc_trim(0);
    if (round == 1) {
      rss_before = bench::RssBytes();
      anon_before = RssAnonBytes();
    }
    kafka::KafkaSinkOptions sink_options;
    sink_options.bootstrap_servers = mock.bootstrap;
    sink_options.properties = {{"compression.type", "lz4"}};
    sink_options.source_name = "pipeline-" + std::to_string(round);
    sink_options.topic_creation.create_topics = false;
    auto created = kafka::KafkaEventSink::Create(sink_options);
    if (!created.ok()) {
      std::fprintf(stderr, "sink: %s\n", created.status().ToString().c_str());
      return 1;
    }
    std::unique_ptr<kafka::KafkaEventSink> sink = std::move(created).value();
    double pipeline_seconds = 0, pipeline_cpu_start = 0;
    bench::ThreadCpu pipeline_threads;
    {
      bench::RssSampler rss;
      cdc::Source source(*store, *sink, PipelineSource(sink_options.source_name, tuning));
      pipeline_cpu_start = ProcessCpuMicros();
      bench::ThreadCpu threads_start = bench::ThreadCpuByGroup();
      auto start = SteadyClock::now();
      if (!source.Start().ok()) return 1;
      while (source.position().sequence < head) {
        if (source.GetStatus().state == cdc::SourceState::kFailed) {
          std::fprintf(stderr, "pipeline: %s\n", source.GetStatus().error.c_str());
          return 1;
        }
        anon_peak = std::max(anon_peak, RssAnonBytes());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      pipeline_seconds = Seconds(SteadyClock::now() - start);
      pipeline_threads = bench::CpuSpent(threads_start, bench::ThreadCpuByGroup());
      pipeline_cpu.push_back((ProcessCpuMicros() - pipeline_cpu_start) /
                             static_cast<double>(events));
      acked = source.stats().events_acked.load();
      source.Stop();
      rss_peak = std::max(rss_peak, rss.peak());
    }
    sink.reset();
    pipeline_rates.push_back(static_cast<double>(events) / pipeline_seconds);
    std::printf(
        "round %d: raw producer %.0f events/s (%.2f s, %.2f CPU us/event, peak RSS %.1f MiB); "
        "pipeline %.0f events/s (%.2f s, %.2f CPU us/event, %llu acknowledged)\n",
        round, raw.events_per_second, raw.seconds, raw_cpu.back(), MiB(raw.peak_rss),
        pipeline_rates.back(), pipeline_seconds, pipeline_cpu.back(),
        static_cast<unsigned long long>(acked));
    std::printf("  CPU by thread: raw %s; pipeline %s\n",
                bench::DescribeCpuPerEvent(raw.cpu, events).c_str(),
                bench::DescribeCpuPerEvent(pipeline_threads, events).c_str());
    std::fflush(stdout);
  }
  std::filesystem::remove(capture_path);
  malloc_trim(0);
  uint64_t rss_after = bench::RssBytes(), anon_after = RssAnonBytes();
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double raw_rate = median(raw_rates), pipeline_rate = median(pipeline_rates);
  std::printf("medians of %d rounds: raw producer %.0f events/s, pipeline %.0f events/s\n", rounds,
              raw_rate, pipeline_rate);
  // The machine's drift moves throughput by tens of percent between rounds;
  // CPU per event moves far less, and shows the pipeline's own cost.
  const double raw_cpu_us = median(raw_cpu), pipeline_cpu_us = median(pipeline_cpu);
  std::printf(
      "producer-side CPU per event (medians): raw %.2f us, pipeline %.2f us (%+.2f us: reading "
      "the stream, encoding, tracking positions)\n",
      raw_cpu_us, pipeline_cpu_us, pipeline_cpu_us - raw_cpu_us);
  std::printf("memory (MiB)   before   peak   after\n");
  std::printf("  VmRSS       %7.1f %6.1f %7.1f\n", MiB(rss_before), MiB(rss_peak), MiB(rss_after));
  std::printf("  RssAnon     %7.1f %6.1f %7.1f   (without LMDB's file pages)\n", MiB(anon_before),
              MiB(anon_peak), MiB(anon_after));
  store.reset();
  std::filesystem::remove_all(dir);

  std::printf("RESULT cdc_kafka_events %llu events\n", static_cast<unsigned long long>(events));
  std::printf("RESULT cdc_kafka_raw_catchup %.0f events/s\n", raw_rate);
  std::printf("RESULT cdc_kafka_pipeline_catchup %.0f events/s\n", pipeline_rate);
  std::printf("RESULT cdc_kafka_pipeline_vs_raw %.2f x\n", pipeline_rate / raw_rate);
  std::printf("RESULT cdc_kafka_raw_cpu_per_event %.2f us\n", raw_cpu_us);
  std::printf("RESULT cdc_kafka_pipeline_cpu_per_event %.2f us\n", pipeline_cpu_us);
  std::printf("RESULT cdc_kafka_rss_before %.1f MiB\n", MiB(rss_before));
  std::printf("RESULT cdc_kafka_rss_peak %.1f MiB\n", MiB(rss_peak));
  std::printf("RESULT cdc_kafka_rss_after %.1f MiB\n", MiB(rss_after));
  std::printf("RESULT cdc_kafka_anon_before %.1f MiB\n", MiB(anon_before));
  std::printf("RESULT cdc_kafka_anon_peak %.1f MiB\n", MiB(anon_peak));
  std::printf("RESULT cdc_kafka_anon_after %.1f MiB\n", MiB(anon_after));
  return 0;
}
