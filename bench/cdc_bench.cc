// cdc_bench: how fast a CDC source turns changes into events.
//   1. Encoding: events/s on one core for each envelope (debezium, debezium
//      with schema, dynamodb), for updates of ~200-byte items carrying both
//      images (the largest common event) and for inserts.
//   2. Catch-up: a stream with N records (default 1M) already written, read
//      by one Source (on this thread) through a sink that acknowledges every
//      event at once; events/s, and resident memory before, at the peak and
//      after, read from /proc/self/statm. "anon" is resident minus shared
//      (file-backed) pages: LMDB's map shows up in resident memory as the
//      stream is read but is page cache, not the source's memory.
// Prints human-readable lines and, last, one "RESULT <name> <value> <unit>"
// line per headline figure.
//
// Usage: cdc_bench [--records N] [--encode-events N] [--dir PATH]

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "bench/acking_sink.h"
#include "bench/bench_items.h"
#include "cdc/encoders.h"
#include "cdc/source.h"
#include "lmdb_store/item_store.h"

using namespace keystone;
using namespace keystone::cdc;
using store::Item;
using store::ItemBuilder;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Flags {
  uint64_t records = 1'000'000;
  uint64_t encode_events = 300'000;
  std::string dir;
};

double Seconds(SteadyClock::time_point since) {
  return std::chrono::duration<double>(SteadyClock::now() - since).count();
}

struct Memory {
  double resident_mib = 0;
  double anon_mib = 0;
};

Memory ReadMemory() {
  Memory m;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return m;
  unsigned long size = 0, resident = 0, shared = 0;
  if (std::fscanf(f, "%lu %lu %lu", &size, &resident, &shared) == 3) {
    double page = static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
    m.resident_mib = static_cast<double>(resident) * page;
    m.anon_mib = static_cast<double>(resident - shared) * page;
  }
  std::fclose(f);
  return m;
}

// --- 1. encoding ------------------------------------------------------------

double EncodeRate(EventFormat format, bool schema, bool update, uint64_t events,
                  size_t* bytes_per_event) {
  EncoderOptions options;
  options.format = format;
  options.debezium_schema = schema;
  options.source = "bench";
  options.table = "users";
  options.topic = "keystone.users";
  Encoder encoder(options);
  // A pool of distinct changes, cycled, so that the work is realistic but the
  // building of items is not timed.
  std::vector<ChangeEvent> pool;
  for (uint64_t i = 0; i < 1024; ++i) {
    ChangeEvent e;
    e.op = update ? ChangeOp::kUpdate : ChangeOp::kCreate;
    e.sequence = 1'000'000 + i;
    e.timestamp_ms = 1'700'000'000'000 + static_cast<int64_t>(i);
    e.keys = ItemBuilder().S("pk", "user#" + std::to_string(i)).Build();
    e.new_image = bench::MakeItem(i, 2);
    if (update) e.old_image = bench::MakeItem(i, 1);
    pool.push_back(std::move(e));
  }
  std::vector<EncodedEvent> out;
  out.reserve(4);
  size_t bytes = 0;
  auto start = SteadyClock::now();
  for (uint64_t i = 0; i < events; ++i) {
    out.clear();
    encoder.Encode(pool[i % pool.size()], 1'700'000'000'999, &out);
    bytes += out[0].ByteSize();
  }
  double seconds = Seconds(start);
  *bytes_per_event = bytes / events;
  return static_cast<double>(events) / seconds;
}

// --- 2. catch-up ------------------------------------------------------------

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--records") == 0) {
      flags.records = std::stoull(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--encode-events") == 0) {
      flags.encode_events = std::stoull(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--dir") == 0) {
      flags.dir = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: cdc_bench [--records N] [--encode-events N] [--dir PATH]\n");
      return 2;
    }
  }
  SetLogLevel(LogLevel::kWarn);

  // 1. Encoding.
  struct Case {
    const char* name;
    EventFormat format;
    bool schema;
  };
  const Case cases[] = {{"debezium", EventFormat::kDebezium, false},
                        {"debezium_schema", EventFormat::kDebezium, true},
                        {"dynamodb", EventFormat::kDynamoDb, false}};
  std::vector<std::pair<std::string, double>> results;
  size_t item_bytes = store::ItemSizeBytes(bench::MakeItem(123456, 1));
  std::printf("encoding, one core, items of %zu bytes (DynamoDB size)\n", item_bytes);
  for (const Case& c : cases) {
    size_t update_bytes = 0, insert_bytes = 0;
    double update = EncodeRate(c.format, c.schema, true, flags.encode_events, &update_bytes);
    double insert = EncodeRate(c.format, c.schema, false, flags.encode_events, &insert_bytes);
    std::printf(
        "  %-16s update (both images): %9.0f events/s (%zu bytes/event)   insert: %9.0f "
        "events/s (%zu bytes/event)\n",
        c.name, update, update_bytes, insert, insert_bytes);
    results.emplace_back(std::string("encode_") + c.name + "_update", update);
    results.emplace_back(std::string("encode_") + c.name + "_insert", insert);
  }

  // 2. Catch-up.
  std::string base =
      flags.dir.empty() ? std::filesystem::temp_directory_path().string() : flags.dir;
  std::string path = base + "/cdc_bench_store";
  std::filesystem::remove_all(path);
  store::StoreOptions options;
  options.path = path;
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
  schema.stream = {true, store::StreamViewType::kNewAndOldImages, flags.records + 1};
  if (!store->CreateTable(schema).ok()) return 1;
  auto fill_start = SteadyClock::now();
  if (!bench::FillUsers(*store, flags.records)) return 1;
  auto info = store->GetStreamInfo("users");
  std::printf("catch-up: %llu stream records written in %.1f s\n",
              static_cast<unsigned long long>(info->record_count), Seconds(fill_start));

  bench::AckingSink sink;
  SourceOptions source_options;
  source_options.name = "bench";
  source_options.table = "users";
  source_options.snapshot = SnapshotMode::kNever;
  source_options.batch_timeout_ms = 0;
  SourceRuntime runtime;
  runtime.position_save_interval_ms = 1000;
  Source source(*store, sink, source_options, runtime);
  Memory before = ReadMemory();
  Memory peak = before;
  auto start = SteadyClock::now();
  uint64_t steps = 0;
  while (source.position().sequence < info->latest_sequence) {
    Status s = source.PollOnce();
    if (!s.ok()) {
      std::fprintf(stderr, "source: %s\n", s.ToString().c_str());
      return 1;
    }
    if (++steps % 256 == 0) {
      Memory m = ReadMemory();
      peak.resident_mib = std::max(peak.resident_mib, m.resident_mib);
      peak.anon_mib = std::max(peak.anon_mib, m.anon_mib);
    }
  }
  double seconds = Seconds(start);
  Memory after = ReadMemory();
  peak.resident_mib = std::max(peak.resident_mib, after.resident_mib);
  peak.anon_mib = std::max(peak.anon_mib, after.anon_mib);
  double rate = static_cast<double>(source.stats().events_acked.load()) / seconds;
  std::printf(
      "catch-up: %llu events (%.0f MiB) acknowledged in %.2f s: %.0f events/s on one core\n",
      static_cast<unsigned long long>(source.stats().events_acked.load()),
      static_cast<double>(sink.bytes()) / (1024.0 * 1024.0), seconds, rate);
  std::printf("memory (MiB)     before   peak   after\n");
  std::printf("  resident      %7.1f %6.1f %7.1f\n", before.resident_mib, peak.resident_mib,
              after.resident_mib);
  std::printf("  anon          %7.1f %6.1f %7.1f   (resident minus LMDB's file pages)\n",
              before.anon_mib, peak.anon_mib, after.anon_mib);
  store.reset();
  std::filesystem::remove_all(path);

  for (const auto& [name, value] : results) {
    std::printf("RESULT %s %.0f events/s\n", name.c_str(), value);
  }
  std::printf("RESULT catchup_records %llu records\n",
              static_cast<unsigned long long>(info->record_count));
  std::printf("RESULT catchup_events_per_s %.0f events/s\n", rate);
  std::printf("RESULT catchup_seconds %.2f s\n", seconds);
  std::printf("RESULT catchup_rss_before %.1f MiB\n", before.resident_mib);
  std::printf("RESULT catchup_rss_after %.1f MiB\n", after.resident_mib);
  std::printf("RESULT catchup_anon_before %.1f MiB\n", before.anon_mib);
  std::printf("RESULT catchup_anon_peak %.1f MiB\n", peak.anon_mib);
  std::printf("RESULT catchup_anon_after %.1f MiB\n", after.anon_mib);
  std::printf("RESULT catchup_anon_growth %.1f MiB\n", peak.anon_mib - before.anon_mib);
  return 0;
}
