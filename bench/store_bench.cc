// store_bench: write throughput of the item store with its change stream,
// against the raw-LMDB ceiling for the same bytes, and stream read latency
// against stream length. Prints human-readable lines and, last, one
// "RESULT <name> <value> <unit>" line per headline figure.
//
// Usage: store_bench [--seconds N] [--rounds N] [--stream-records N] [--dir PATH]
//                    [--stream-reads-only]
//   --seconds         duration of each write phase (default 2)
//   --rounds          alternating rounds of every phase; medians reported (default 3)
//   --stream-records  length of the long stream for the read test (default 10000000)
//   --dir             where to put the stores (default: a temp dir; use a real disk)

#include <lmdb.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_items.h"
#include "lmdb_store/item_codec.h"
#include "lmdb_store/item_store.h"
#include "lmdb_store/stream_record.h"

using namespace keystone::store;
using Clock = std::chrono::steady_clock;

namespace {

struct Flags {
  double seconds = 2;
  int rounds = 3;
  bool skip_writes = false;
  uint64_t stream_records = 10'000'000;
  std::string dir;
};

constexpr uint64_t kKeySpace = 1'000'000;

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string FreshDir(const Flags& flags, const std::string& name) {
  std::string base = flags.dir;
  if (base.empty()) base = std::filesystem::temp_directory_path().string();
  std::string path = base + "/store_bench_" + name;
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  return path;
}

double RunKeystone(const Flags& flags, int threads, bool sync, const std::string& name) {
  std::string path = FreshDir(flags, name);
  StoreOptions options;
  options.path = path;
  options.sync = sync;
  options.initial_map_size = 1ull << 30;
  auto store = ItemStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  TableSchema schema;
  schema.name = "users";
  schema.partition_key = {"pk", AttributeType::kS};
  schema.stream = {true, StreamViewType::kNewAndOldImages, 100000};
  if (!(*store)->CreateTable(schema).ok()) std::exit(1);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::vector<std::thread> workers;
  auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(t + 1);
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        auto r = (*store)->Put("users", keystone::bench::MakeItem(rng() % kKeySpace, n));
        if (!r.ok()) {
          std::fprintf(stderr, "put: %s\n", r.status().ToString().c_str());
          std::exit(1);
        }
        ++n;
      }
      done += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.seconds));
  stop = true;
  for (auto& w : workers) w.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const StoreStats& stats = (*store)->stats();
  std::printf("  [%s] %.2f writes per commit, %.0f us per commit\n", name.c_str(),
              double(stats.writes) / std::max<uint64_t>(1, stats.write_batches),
              stats.commit_nanos / 1000.0 / std::max<uint64_t>(1, stats.write_batches));
  store->reset();
  std::filesystem::remove_all(path);
  return done.load() / elapsed;
}

// The raw-LMDB ceiling: the same bytes (encoded item under its key, a stream
// record of the same size under a sequence key, a counter update) written
// with plain LMDB calls, `batch` writes per transaction — the batch that
// `batch` synchronous writers can form at most.
double RunRaw(const Flags& flags, int batch, bool sync, const std::string& name) {
  std::string path = FreshDir(flags, name);
  MDB_env* env = nullptr;
  mdb_env_create(&env);
  mdb_env_set_maxdbs(env, 4);
  mdb_env_set_mapsize(env, 1ull << 30);
  if (mdb_env_open(env, path.c_str(), MDB_NOTLS | (sync ? 0 : MDB_NOSYNC), 0644) != 0) {
    std::fprintf(stderr, "raw open failed\n");
    std::exit(1);
  }
  MDB_txn* txn;
  MDB_dbi items, stream, meta;
  mdb_txn_begin(env, nullptr, 0, &txn);
  mdb_dbi_open(txn, "items", MDB_CREATE, &items);
  mdb_dbi_open(txn, "stream", MDB_CREATE, &stream);
  mdb_dbi_open(txn, "meta", MDB_CREATE, &meta);
  mdb_txn_commit(txn);

  std::mt19937_64 rng(7);
  uint64_t seq = 0, done = 0;
  std::string value, record;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(flags.seconds);
  while (Clock::now() < deadline) {
    mdb_txn_begin(env, nullptr, 0, &txn);
    for (int i = 0; i < batch; ++i) {
      uint64_t k = rng() % kKeySpace;
      std::string key = "\x00\x00\x00\x01user#" + std::to_string(k);
      value.clear();
      EncodeItem(keystone::bench::MakeItem(k, done), &value);
      // A stream record holds the keys and both images: about twice the item.
      record.assign(value);
      record.append(value);
      MDB_val kv{key.size(), key.data()}, vv{value.size(), value.data()};
      MDB_val old;
      mdb_get(txn, items, &kv, &old);  // the old image is read, as a real write must
      mdb_put(txn, items, &kv, &vv, 0);
      ++seq;
      char skey[12];
      std::memset(skey, 0, 4);
      for (int b = 0; b < 8; ++b) skey[4 + b] = static_cast<char>(seq >> (56 - 8 * b));
      MDB_val sk{12, skey}, sv{record.size(), record.data()};
      mdb_put(txn, stream, &sk, &sv, MDB_APPEND);
      ++done;
    }
    MDB_val mk{3, const_cast<char*>("seq")}, mv{8, &seq};
    mdb_put(txn, meta, &mk, &mv, 0);
    if (mdb_txn_commit(txn) != 0) {
      std::fprintf(stderr, "raw commit failed\n");
      std::exit(1);
    }
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  mdb_env_close(env);
  std::filesystem::remove_all(path);
  return done / elapsed;
}

// Median microseconds to read 1000 stream records after a random sequence
// number in a stream retaining `records` records.
double StreamReadMicros(const Flags& flags, uint64_t records, const std::string& name,
                        double* warm) {
  std::string path = FreshDir(flags, name);
  StoreOptions options;
  options.path = path;
  options.sync = false;
  options.initial_map_size = 1ull << 30;
  auto store = ItemStore::Open(options);
  if (!store.ok()) std::exit(1);
  TableSchema schema;
  schema.name = "events";
  schema.partition_key = {"pk", AttributeType::kS};
  schema.stream = {true, StreamViewType::kKeysOnly, records};
  if (!(*store)->CreateTable(schema).ok()) std::exit(1);
  auto fill_start = Clock::now();
  std::vector<BatchWriteEntry> batch;
  for (uint64_t i = 0; i < records; i += batch.size()) {
    batch.clear();
    for (uint64_t j = i; j < std::min(records, i + 25); ++j) {
      batch.push_back({"events", true, ItemBuilder().S("pk", "e" + std::to_string(j)).Build()});
    }
    if (!(*store)->BatchWrite(batch).ok()) std::exit(1);
  }
  std::printf("  filled a stream of %llu records in %.1f s\n",
              static_cast<unsigned long long>(records),
              std::chrono::duration<double>(Clock::now() - fill_start).count());
  uint64_t head = *(*store)->HeadSequence();
  std::mt19937_64 rng(3);
  // Median of many reads at random places: robust to a busy machine, and
  // each read also pays for reaching a cold part of the stream.
  constexpr int kReads = 1000;
  std::vector<double> micros;
  std::vector<double> warm_micros;
  for (int i = 0; i < kReads; ++i) {
    uint64_t after = head - records + rng() % (records > 1000 ? records - 1000 : 1);
    // The first read of a place pays for faulting its pages of the map in;
    // the second shows the cost of the read itself.
    for (std::vector<double>* sink : {&micros, &warm_micros}) {
      auto start = Clock::now();
      auto read = (*store)->ReadStream("events", after, 1000);
      sink->push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      if (!read.ok() || read->records.size() != std::min<uint64_t>(1000, head - after)) {
        std::fprintf(stderr, "stream read failed\n");
        std::exit(1);
      }
    }
  }
  *warm = Median(warm_micros);
  store->reset();
  std::filesystem::remove_all(path);
  return Median(micros);
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--stream-reads-only") flags.skip_writes = true;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--seconds") flags.seconds = std::atof(argv[i + 1]);
    if (flag == "--stream-records") flags.stream_records = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--dir") flags.dir = argv[i + 1];
    if (flag == "--rounds") flags.rounds = std::max(1, std::atoi(argv[i + 1]));
  }
  std::printf(
      "store_bench: ~200-byte items, random keys over 1M, NEW_AND_OLD_IMAGES stream, %.0f s "
      "per phase, median of %d rounds, %u cores\n",
      flags.seconds, flags.rounds, std::thread::hardware_concurrency());

  // fsync latency on shared disks drifts by 10x over minutes, so each
  // keystone figure and its raw ceiling are measured in alternation, round
  // after round, and the medians compared.
  std::vector<double> kd1, kd4, kn1, kn4, rd1, rd4, rn1, rn4;
  for (int round = 0; round < (flags.skip_writes ? 0 : flags.rounds); ++round) {
    kd1.push_back(RunKeystone(flags, 1, true, "ks_d1"));
    rd1.push_back(RunRaw(flags, 1, true, "raw_d1"));
    kd4.push_back(RunKeystone(flags, 4, true, "ks_d4"));
    rd4.push_back(RunRaw(flags, 4, true, "raw_d4"));
    kn1.push_back(RunKeystone(flags, 1, false, "ks_n1"));
    rn1.push_back(RunRaw(flags, 1, false, "raw_n1"));
    kn4.push_back(RunKeystone(flags, 4, false, "ks_n4"));
    rn4.push_back(RunRaw(flags, 4, false, "raw_n4"));
  }
  double ks_durable_1 = Median(kd1), ks_durable_4 = Median(kd4);
  double ks_nosync_1 = Median(kn1), ks_nosync_4 = Median(kn4);
  double raw_durable_1 = Median(rd1), raw_durable_4 = Median(rd4);
  double raw_nosync_1 = Median(rn1), raw_nosync_4 = Median(rn4);
  if (!flags.skip_writes) {
    std::printf("  keystone durable: 1 writer %.0f/s, 4 writers %.0f/s\n", ks_durable_1,
                ks_durable_4);
    std::printf("  keystone nosync:  1 writer %.0f/s, 4 writers %.0f/s\n", ks_nosync_1,
                ks_nosync_4);
    std::printf("  raw LMDB durable: batch 1 %.0f/s, batch 4 %.0f/s\n", raw_durable_1,
                raw_durable_4);
    std::printf("  raw LMDB nosync:  batch 1 %.0f/s, batch 4 %.0f/s\n", raw_nosync_1, raw_nosync_4);
  }
  double warm_short = 0, warm_long = 0;
  double read_short = StreamReadMicros(flags, 1000, "read_1k", &warm_short);
  double read_long = StreamReadMicros(flags, flags.stream_records, "read_long", &warm_long);
  std::printf("  read 1000 records after a sequence: %.0f us with 1k retained, %.0f us with %llu\n",
              read_short, read_long, static_cast<unsigned long long>(flags.stream_records));

  if (!flags.skip_writes) {
    std::printf("RESULT store_durable_writes_1thread %.0f writes/s\n", ks_durable_1);
    std::printf("RESULT store_durable_writes_4threads %.0f writes/s\n", ks_durable_4);
    std::printf("RESULT store_nosync_writes_1thread %.0f writes/s\n", ks_nosync_1);
    std::printf("RESULT store_nosync_writes_4threads %.0f writes/s\n", ks_nosync_4);
    std::printf("RESULT raw_lmdb_durable_batch1 %.0f writes/s\n", raw_durable_1);
    std::printf("RESULT raw_lmdb_durable_batch4 %.0f writes/s\n", raw_durable_4);
    std::printf("RESULT raw_lmdb_nosync_batch1 %.0f writes/s\n", raw_nosync_1);
    std::printf("RESULT raw_lmdb_nosync_batch4 %.0f writes/s\n", raw_nosync_4);
    std::printf("RESULT durable_4threads_vs_raw %.2f x\n", ks_durable_4 / raw_durable_4);
    std::printf("RESULT durable_1thread_vs_raw %.2f x\n", ks_durable_1 / raw_durable_1);
    std::printf("RESULT nosync_4threads_vs_raw %.2f x\n", ks_nosync_4 / raw_nosync_4);
  }
  std::printf("RESULT stream_read_1000_after_seq_1k_retained %.0f us\n", read_short);
  std::printf("RESULT stream_read_1000_after_seq_long_retained %.0f us\n", read_long);
  std::printf("RESULT stream_read_long_vs_short %.2f x\n", read_long / read_short);
  std::printf("RESULT stream_read_warm_1000_after_seq_1k_retained %.0f us\n", warm_short);
  std::printf("RESULT stream_read_warm_1000_after_seq_long_retained %.0f us\n", warm_long);
  std::printf("RESULT stream_read_warm_long_vs_short %.2f x\n", warm_long / warm_short);
  return 0;
}
