// api_bench: the CPU that keystoned's DynamoDB API spends on one PutItem and
// one GetItem, without HTTP or the network: DynamoDbApi over an ItemStore in
// this process, the same requests as bench/http_bench sends (~200-byte items,
// table without a stream unless --stream says otherwise). On a shared machine the HTTP benchmark's
// rates move by a third between runs; this figure moves far less, so it is the one to compare when
// changing the request path (JSON, table lookup, item codec).
//
// Usage: api_bench [--seconds S] [--rounds N] [--keys K] [--dir PATH] [--sync]
//   --seconds  duration of each phase per round (default 2)
//   --rounds   rounds of both phases; medians reported (default 3)
//   --keys     distinct keys written and read (default 100000)
//   --dir      where the store lives (default: a temp dir)
//   --sync     durable commits (default: nosync, so that the figure is CPU)
//   --only P   run only phase P (put or get; get still writes its keys first),
//              for profiling one of them
//   --stream V the table has a stream of view type V (KEYS_ONLY, NEW_IMAGE,
//              OLD_IMAGE, NEW_AND_OLD_IMAGES): what every write then adds
//   --gsi N    the table has N (0-2) global secondary indexes on the items'
//              number attribute: KEYS_ONLY, then ALL (what each adds to a write)
//
// Puts go through HandleAsync with 64 in flight (as 64 connections would
// keep them), so that they share group commits as in keystoned; gets run
// inline on one thread, as on an event loop. Prints "RESULT api_<op>_cpu
// <us> us/op" (process CPU, all threads, per operation) and the rate.

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "daemon/dynamodb_api.h"
#include "lmdb_store/item_store.h"

using keystone::daemon::ApiResponse;
using keystone::daemon::DynamoDbApi;
using keystone::daemon::ResponseBuilder;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Flags {
  double seconds = 2;
  int rounds = 3;
  uint64_t keys = 100'000;
  std::string dir;
  bool sync = false;
  std::string only;         // "put", "get" or empty for both
  std::string stream_view;  // empty: no stream
  int global_indexes = 0;
};

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::string Key(uint64_t k) {
  char key[32];
  std::snprintf(key, sizeof(key), "k%08llu", static_cast<unsigned long long>(k));
  return key;
}

std::string PutBody(uint64_t k, uint64_t n) {
  return R"({"TableName":"http_bench","Item":{"pk":{"S":")" + Key(k) + R"("},"n":{"N":")" +
         std::to_string(n) + R"("},"pad":{"S":")" + std::string(150, 'x') + R"("}}})";
}

std::string GetBody(uint64_t k) {
  return R"({"TableName":"http_bench","Key":{"pk":{"S":")" + Key(k) + R"("}}})";
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "api_bench: %s\n", what.c_str());
  std::exit(1);
}

struct Phase {
  double ops_per_s = 0;
  double cpu_us_per_op = 0;
};

// Puts with `window` requests in flight until `seconds` pass.
Phase RunPuts(DynamoDbApi& api, const Flags& flags, uint64_t* next_key) {
  constexpr int kWindow = 64;
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  uint64_t done = 0;
  std::string error;
  std::mt19937_64 rng(7);
  const double cpu0 = ProcessCpuSeconds();
  const auto start = SteadyClock::now();
  const auto end = start + std::chrono::duration<double>(flags.seconds);
  uint64_t sent = 0;
  while (SteadyClock::now() < end) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < kWindow; });
      if (!error.empty()) Fail("PutItem: " + error);
      ++in_flight;
    }
    std::string body = PutBody((*next_key)++ % flags.keys, rng() % 1'000'000);
    auto finished = [&](ResponseBuilder build) {
      ApiResponse r = build();
      std::lock_guard lock(mu);
      if (r.http_status != 200 && error.empty()) error = r.body;
      --in_flight;
      ++done;
      cv.notify_one();
    };
    std::optional<ApiResponse> inline_answer =
        api.HandleAsync("DynamoDB_20120810.PutItem", body, finished);
    if (inline_answer) Fail("PutItem answered inline: " + inline_answer->body);
    ++sent;
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return in_flight == 0; });
    if (!error.empty()) Fail("PutItem: " + error);
  }
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  const double cpu = ProcessCpuSeconds() - cpu0;
  return {done / elapsed, cpu * 1e6 / std::max<uint64_t>(1, done)};
}

Phase RunGets(DynamoDbApi& api, const Flags& flags, uint64_t written) {
  std::mt19937_64 rng(11);
  uint64_t done = 0;
  const double cpu0 = ProcessCpuSeconds();
  const auto start = SteadyClock::now();
  const auto end = start + std::chrono::duration<double>(flags.seconds);
  std::string body;
  while (true) {
    if ((done & 255) == 0 && SteadyClock::now() >= end) break;
    body = GetBody(rng() % written);
    ApiResponse r = api.Handle("DynamoDB_20120810.GetItem", body);
    if (r.http_status != 200 || r.body.size() < 100) Fail("GetItem: " + r.body);
    ++done;
  }
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  const double cpu = ProcessCpuSeconds() - cpu0;
  return {done / elapsed, cpu * 1e6 / std::max<uint64_t>(1, done)};
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Fail(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--seconds") {
      flags.seconds = std::atof(value().c_str());
    } else if (arg == "--rounds") {
      flags.rounds = std::max(1, std::atoi(value().c_str()));
    } else if (arg == "--keys") {
      flags.keys = std::max<uint64_t>(1, std::strtoull(value().c_str(), nullptr, 10));
    } else if (arg == "--dir") {
      flags.dir = value();
    } else if (arg == "--sync") {
      flags.sync = true;
    } else if (arg == "--only") {
      flags.only = value();
      if (flags.only != "put" && flags.only != "get") Fail("--only takes put or get");
    } else if (arg == "--stream") {
      flags.stream_view = value();
    } else if (arg == "--gsi") {
      flags.global_indexes = std::atoi(value().c_str());
      if (flags.global_indexes < 0 || flags.global_indexes > 2) Fail("--gsi takes 0, 1 or 2");
    } else {
      Fail(
          "usage: api_bench [--seconds S] [--rounds N] [--keys K] [--dir PATH] [--sync] "
          "[--only put|get] [--stream VIEW_TYPE] [--gsi N]");
    }
  }
  std::string base =
      flags.dir.empty() ? std::filesystem::temp_directory_path().string() : flags.dir;
  const std::string path = base + "/api_bench_store";
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);

  keystone::store::StoreOptions options;
  options.path = path;
  options.sync = flags.sync;
  options.initial_map_size = 1ull << 30;
  auto store = keystone::store::ItemStore::Open(options);
  if (!store.ok()) Fail("open: " + store.status().ToString());
  {
    DynamoDbApi api(**store);
    std::string stream;
    if (!flags.stream_view.empty()) {
      stream = R"(,"StreamSpecification":{"StreamEnabled":true,"StreamViewType":")" +
               flags.stream_view + "\"}";
    }
    std::string indexes;
    std::string definitions = R"([{"AttributeName":"pk","AttributeType":"S"})";
    if (flags.global_indexes > 0) {
      definitions += R"(,{"AttributeName":"n","AttributeType":"N"})";
      indexes = R"(,"GlobalSecondaryIndexes":[{"IndexName":"by_n_keys",)"
                R"("KeySchema":[{"AttributeName":"n","KeyType":"HASH"}],)"
                R"("Projection":{"ProjectionType":"KEYS_ONLY"}})";
      if (flags.global_indexes > 1) {
        indexes += R"(,{"IndexName":"by_n_all","KeySchema":[{"AttributeName":"n",)"
                   R"("KeyType":"HASH"},{"AttributeName":"pk","KeyType":"RANGE"}],)"
                   R"("Projection":{"ProjectionType":"ALL"}})";
      }
      indexes += "]";
    }
    definitions += "]";
    ApiResponse created = api.Handle("DynamoDB_20120810.CreateTable",
                                     R"({"TableName":"http_bench","BillingMode":"PAY_PER_REQUEST",)"
                                     R"("KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],)"
                                     R"("AttributeDefinitions":)" +
                                         definitions + indexes + stream + "}");
    if (created.http_status != 200) Fail("CreateTable: " + created.body);

    std::vector<double> put_cpu, put_rate, get_cpu, get_rate;
    uint64_t next_key = 0;
    const bool puts_measured = flags.only != "get", gets_measured = flags.only != "put";
    if (!puts_measured) {
      Flags fill = flags;
      fill.seconds = 1;
      RunPuts(api, fill, &next_key);  // the keys the gets read
    }
    for (int round = 0; round < flags.rounds; ++round) {
      if (puts_measured) {
        Phase puts = RunPuts(api, flags, &next_key);
        std::printf("round %d: PutItem %.0f/s %.2f us/op\n", round + 1, puts.ops_per_s,
                    puts.cpu_us_per_op);
        put_cpu.push_back(puts.cpu_us_per_op);
        put_rate.push_back(puts.ops_per_s);
      }
      if (gets_measured) {
        Phase gets = RunGets(api, flags, std::min(next_key, flags.keys));
        std::printf("round %d: GetItem %.0f/s %.2f us/op\n", round + 1, gets.ops_per_s,
                    gets.cpu_us_per_op);
        get_cpu.push_back(gets.cpu_us_per_op);
        get_rate.push_back(gets.ops_per_s);
      }
    }
    if (puts_measured) {
      std::printf("RESULT api_put_cpu %.2f us/op\n", Median(put_cpu));
      std::printf("RESULT api_put_throughput %.0f ops/s\n", Median(put_rate));
    }
    if (gets_measured) {
      std::printf("RESULT api_get_cpu %.2f us/op\n", Median(get_cpu));
      std::printf("RESULT api_get_throughput %.0f ops/s\n", Median(get_rate));
    }
  }
  store->reset();
  std::filesystem::remove_all(path);
  return 0;
}
