// Integration tests of the real keystoned binary: each test starts it on free
// loopback ports with a generated config in its own temp dir, waits for its
// READY=1 on a NOTIFY_SOCKET the test owns, and drives it with Debian's aws
// CLI, /usr/bin/python3 + boto3 (tests/daemon/py), the keystone CLI and raw
// HTTP.

#include "tests/testing/keystoned.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

#ifndef KEYSTONED_BIN
#error "KEYSTONED_BIN must name the keystoned binary"
#endif
#ifndef KEYSTONE_CLI_BIN
#error "KEYSTONE_CLI_BIN must name the keystone binary"
#endif
#ifndef KEYSTONE_SOURCE_DIR
#error "KEYSTONE_SOURCE_DIR must name the source tree"
#endif

namespace keystone::testing {
namespace {

// How many times `needle` occurs in `haystack`.
size_t CountOf(const std::string& haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

const std::string kPython = "/usr/bin/python3";
const std::string kAws = "/usr/bin/aws";
const std::string kPyDir = std::string(KEYSTONE_SOURCE_DIR) + "/tests/daemon/py/";

// Environment for AWS clients: dummy credentials, no user config.
std::map<std::string, std::string> AwsEnv(const std::string& key = "dummy",
                                          const std::string& secret = "dummy") {
  return {{"AWS_ACCESS_KEY_ID", key},
          {"AWS_SECRET_ACCESS_KEY", secret},
          {"AWS_DEFAULT_REGION", "us-east-1"},
          {"AWS_CONFIG_FILE", "/dev/null"},
          {"AWS_SHARED_CREDENTIALS_FILE", "/dev/null"},
          {"AWS_PAGER", ""},
          {"AWS_SESSION_TOKEN", ""},
          {"AWS_PROFILE", ""}};
}

const char kUsersTable[] = R"(tables:
  - name: users
    partition_key: {name: pk, type: S}
    sort_key: {name: sk, type: N}
    stream: {enabled: true, view_type: NEW_AND_OLD_IMAGES}
)";

// Lines of `text` that contain `needle`.
int CountLines(const std::string& text, const std::string& needle) {
  int n = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (text.substr(start, end - start).find(needle) != std::string::npos) ++n;
    start = end + 1;
  }
  return n;
}

// ---------------------------------------------------------------------------
// Command line.

TEST(KeystonedCommandLineTest, CheckConfigExitCodesAndMessages) {
  TempDir dir;
  std::string good = dir.Sub("good.yaml");
  WriteFile(good, kUsersTable);
  auto ok = RunCommand({KEYSTONED_BIN, "--check-config", good});
  EXPECT_EQ(0, ok.exit_code) << ok.err;
  EXPECT_EQ(good + ": configuration is valid\n", ok.out);
  EXPECT_EQ("", ok.err);

  auto deploy = RunCommand({KEYSTONED_BIN, "--check-config",
                            std::string(KEYSTONE_SOURCE_DIR) + "/deploy/keystoned.yaml"});
  EXPECT_EQ(0, deploy.exit_code) << deploy.err;

  struct Case {
    std::string yaml, message;
  };
  for (const Case& c : std::vector<Case>{
           {"http: {worker_threads: 0}\n",
            ":1:24: http.worker_threads: must be an integer in [1, 1024]"},
           {"sync: full\nhtpp: {}\n", ":2:1: unknown key 'htpp'"},
           {"sources:\n  - name: s\n    table: missing\n", "sources[0].table"},
           {"tables:\n  - name: tbl\n", ":2:5: tables[0]: missing required key 'partition_key'"},
           // kafka.properties are checked by librdkafka before anything starts.
           {"kafka:\n  properties:\n    compresion.type: lz4\n",
            ":3:5: kafka.properties: unknown property 'compresion.type'"},
       }) {
    std::string bad = dir.Sub("bad.yaml");
    WriteFile(bad, c.yaml);
    auto r = RunCommand({KEYSTONED_BIN, "--check-config", bad});
    EXPECT_EQ(1, r.exit_code) << c.yaml;
    EXPECT_EQ(0u, r.err.find("keystoned: " + bad)) << r.err;
    EXPECT_NE(std::string::npos, r.err.find(c.message)) << r.err;
    EXPECT_EQ(1, CountLines(r.err, "")) << "one line: " << r.err;
  }
  auto missing = RunCommand({KEYSTONED_BIN, "--check-config", dir.Sub("nope.yaml")});
  EXPECT_EQ(1, missing.exit_code);
  EXPECT_EQ("keystoned: cannot read config file " + dir.Sub("nope.yaml") +
                ": No such file or directory\n",
            missing.err);
  // Running with a bad config fails the same way, before anything starts.
  auto run = RunCommand({KEYSTONED_BIN, "--config", dir.Sub("nope.yaml")});
  EXPECT_EQ(1, run.exit_code);
  EXPECT_NE(std::string::npos, run.err.find("cannot read config file"));

  auto help = RunCommand({KEYSTONED_BIN, "--help"});
  EXPECT_EQ(0, help.exit_code);
  for (const char* flag :
       {"--config", "--check-config", "--print-config", "--log-format", "--version"}) {
    EXPECT_NE(std::string::npos, help.out.find(flag)) << flag;
  }
  auto version = RunCommand({KEYSTONED_BIN, "--version"});
  EXPECT_EQ(0, version.exit_code);
  EXPECT_EQ(0u, version.out.find("keystoned 0."));
  auto usage = RunCommand({KEYSTONED_BIN, "--log-format", "xml"});
  EXPECT_EQ(2, usage.exit_code);
}

TEST(KeystonedCommandLineTest, PrintConfigMasksSecrets) {
  TempDir dir;
  std::string path = dir.Sub("k.yaml");
  WriteFile(path, std::string(kUsersTable) + R"(auth:
  access_keys:
    - {access_key_id: AKIDPRINT, secret_access_key: "${PRINT_SECRET}"}
kafka:
  bootstrap_servers: "broker:9092"
  properties: {sasl.password: kafka-pass-123, compression.type: lz4}
)");
  auto r = RunCommand({KEYSTONED_BIN, "--config", path, "--print-config", "--log-format", "json"},
                      {{"PRINT_SECRET", "very-secret-value"}});
  ASSERT_EQ(0, r.exit_code) << r.err;
  EXPECT_EQ(std::string::npos, r.out.find("very-secret-value")) << r.out;
  EXPECT_EQ(std::string::npos, r.out.find("kafka-pass-123")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("AKIDPRINT"));
  EXPECT_EQ(2, CountLines(r.out, "\"****\""));
  EXPECT_NE(std::string::npos, r.out.find("compression.type: lz4"));
  EXPECT_NE(std::string::npos, r.out.find("worker_threads: 8"));  // defaults shown
  EXPECT_NE(std::string::npos, r.out.find("format: json"));       // the override applies
  // The printed config parses back.
  std::string printed = dir.Sub("printed.yaml");
  WriteFile(printed, r.out);
  auto check = RunCommand({KEYSTONED_BIN, "--check-config", printed});
  EXPECT_EQ(0, check.exit_code) << check.err;
}

// ---------------------------------------------------------------------------
// Lifecycle.

TEST(KeystonedLifecycleTest, NotifiesReadyWatchdogAndStopping) {
  TempDir dir;
  Keystoned k(dir, "k", kUsersTable);
  ASSERT_TRUE(k.Start({}, {{"WATCHDOG_USEC", "200000"}})) << k.log();
  // WATCHDOG=1 every 100 ms while healthy.
  auto start = steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(k.notify().WaitFor("WATCHDOG=1", seconds(5))) << i;
  }
  EXPECT_LT(steady_clock::now() - start, seconds(3));
  k.process().Signal(SIGTERM);
  EXPECT_TRUE(k.notify().WaitFor("STOPPING=1", seconds(10)));
  EXPECT_EQ(0, k.process().Wait(seconds(40)));
  std::string log = k.log();
  EXPECT_NE(std::string::npos, log.find("systemd watchdog every 100 ms")) << log;
  EXPECT_NE(std::string::npos, log.find("SIGTERM: stopping"));
  EXPECT_NE(std::string::npos, log.find("store closed"));
}

// Waits until `condition` holds, up to `timeout`.
bool WaitUntil(const std::function<bool()>& condition, milliseconds timeout) {
  auto deadline = steady_clock::now() + timeout;
  while (!condition()) {
    if (steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

TEST(KeystonedLifecycleTest, WatchdogStopsWhileTheStoreWriterIsStuck) {
  TempDir dir;
  Keystoned k(dir, "k", std::string(kUsersTable) + "health: {stall_timeout_ms: 500}\n");
  ASSERT_TRUE(k.Start({}, {{"WATCHDOG_USEC", "200000"}})) << k.log();
  ASSERT_TRUE(k.notify().WaitFor("WATCHDOG=1", seconds(5)));
  httplib::Client c("127.0.0.1", k.port());
  c.set_read_timeout(30, 0);
  ASSERT_EQ(200, c.Get("/healthz")->status);

  // Another process holds the store's LMDB write lock (as a long write
  // transaction of the store library would): keystoned's next write batch
  // cannot begin.
  std::string hold_log = dir.Sub("hold.log");
  ChildProcess holder({HOLD_LMDB_WRITE_LOCK_BIN, k.data_dir()}, {}, hold_log);
  ASSERT_TRUE(
      WaitUntil([&] { return ReadFile(hold_log).find("held") != std::string::npos; }, seconds(10)))
      << ReadFile(hold_log);
  std::atomic<int> put_status{0};
  std::thread writer([&] {
    httplib::Client w("127.0.0.1", k.port());
    w.set_read_timeout(60, 0);
    auto r = w.Post("/", {{"X-Amz-Target", "DynamoDB_20120810.PutItem"}},
                    R"({"TableName":"users","Item":{"pk":{"S":"stuck"},"sk":{"N":"1"}}})",
                    "application/x-amz-json-1.0");
    put_status = r ? r->status : -1;
  });

  // Past stall_timeout_ms keystoned says why it is unhealthy and stops the
  // keep-alive, so that systemd would restart it.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return k.log().find("unhealthy: the store writer has been on one write batch") !=
               std::string::npos;
      },
      seconds(10)))
      << k.log();
  EXPECT_TRUE(k.notify().WaitFor("STATUS=unhealthy: the store writer", seconds(5)));
  while (!k.notify().Receive(milliseconds(0)).empty()) {
  }
  auto silent_until = steady_clock::now() + seconds(1);  // five keep-alive periods
  while (steady_clock::now() < silent_until) {
    EXPECT_EQ(std::string::npos, k.notify().Receive(milliseconds(100)).find("WATCHDOG=1"));
  }
  auto health = c.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(503, health->status);
  EXPECT_EQ(0u, health->body.find("unhealthy: the store writer has been on one write batch for "))
      << health->body;
  EXPECT_EQ(503, c.Get("/readyz")->status);
  EXPECT_EQ(0, put_status.load());  // still waiting, not failed

  // The lock is released: the write completes, health and keep-alives resume.
  holder.Signal(SIGTERM);
  EXPECT_EQ(0, holder.Wait(seconds(10)));
  writer.join();
  EXPECT_EQ(200, put_status.load());
  EXPECT_TRUE(k.notify().WaitFor("WATCHDOG=1", seconds(5)));
  EXPECT_TRUE(k.notify().WaitFor("STATUS=serving", seconds(5)));
  EXPECT_EQ(200, c.Get("/healthz")->status);
  EXPECT_NE(std::string::npos, k.log().find("healthy again: watchdog keep-alive resumed"));
  k.process().Signal(SIGTERM);
  EXPECT_EQ(0, k.process().Wait(seconds(40)));
}

TEST(KeystonedLifecycleTest, SigintStopsCleanly) {
  TempDir dir;
  Keystoned k(dir, "k", kUsersTable);
  ASSERT_TRUE(k.Start()) << k.log();
  httplib::Client c("127.0.0.1", k.port());
  ASSERT_EQ(200, c.Post("/", {{"X-Amz-Target", "DynamoDB_20120810.PutItem"}},
                        R"({"TableName":"users","Item":{"pk":{"S":"a"},"sk":{"N":"1"}}})",
                        "application/x-amz-json-1.0")
                     ->status);
  k.process().Signal(SIGINT);
  EXPECT_TRUE(k.notify().WaitFor("STOPPING=1", seconds(10)));
  EXPECT_EQ(0, k.process().Wait(seconds(40)));
  std::string log = k.log();
  EXPECT_NE(std::string::npos, log.find("SIGINT: stopping")) << log;
  EXPECT_NE(std::string::npos, log.find("store closed")) << log;
  EXPECT_NE(std::string::npos, log.find("stopped")) << log;
}

TEST(KeystonedLifecycleTest, ShutdownPastTheDeadlineExitsWithStatusOne) {
  TempDir dir;
  Keystoned k(
      dir, "k",
      std::string(kUsersTable) + "shutdown_timeout_ms: 1000\nhealth: {stall_timeout_ms: 200}\n");
  ASSERT_TRUE(k.Start()) << k.log();
  httplib::Client c("127.0.0.1", k.port());
  auto put = [&](httplib::Client& client, const std::string& pk) {
    auto r =
        client.Post("/", {{"X-Amz-Target", "DynamoDB_20120810.PutItem"}},
                    R"({"TableName":"users","Item":{"pk":{"S":")" + pk + R"("},"sk":{"N":"1"}}})",
                    "application/x-amz-json-1.0");
    return r ? r->status : -1;
  };
  ASSERT_EQ(200, put(c, "before"));

  // A write that cannot finish (another process holds the LMDB write lock)
  // keeps the shutdown from completing: keystoned gives up after 1 s.
  std::string hold_log = dir.Sub("hold.log");
  ChildProcess holder({HOLD_LMDB_WRITE_LOCK_BIN, k.data_dir()}, {}, hold_log);
  ASSERT_TRUE(
      WaitUntil([&] { return ReadFile(hold_log).find("held") != std::string::npos; }, seconds(10)));
  std::atomic<int> stuck_status{0};
  std::thread writer([&] {
    httplib::Client w("127.0.0.1", k.port());
    w.set_read_timeout(60, 0);
    stuck_status = put(w, "stuck");
  });
  // The write reached the store's writer: it is on a batch that cannot end.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto h = c.Get("/healthz");
        return h && h->body.find("store writer") != std::string::npos;
      },
      seconds(10)));
  auto start = steady_clock::now();
  k.process().Signal(SIGTERM);
  EXPECT_EQ(1, k.process().Wait(seconds(30)));
  EXPECT_LT(steady_clock::now() - start, seconds(10));
  writer.join();
  EXPECT_NE(200, stuck_status.load());  // never acknowledged
  EXPECT_NE(std::string::npos,
            k.log().find("shutdown took longer than shutdown_timeout_ms (1000 ms); exiting now"))
      << k.log();

  // The store is intact: the acknowledged write is there after a restart.
  holder.Signal(SIGTERM);
  EXPECT_EQ(0, holder.Wait(seconds(10)));
  ASSERT_TRUE(k.Start()) << k.log();
  httplib::Client again("127.0.0.1", k.port());
  auto got = again.Post("/", {{"X-Amz-Target", "DynamoDB_20120810.GetItem"}},
                        R"({"TableName":"users","Key":{"pk":{"S":"before"},"sk":{"N":"1"}}})",
                        "application/x-amz-json-1.0");
  ASSERT_TRUE(got);
  EXPECT_NE(std::string::npos, got->body.find(R"("before")")) << got->body;
  k.process().Signal(SIGTERM);
  EXPECT_EQ(0, k.process().Wait(seconds(40))) << k.log();
}

// PutItem of item k<i> (sort key 1) with a 4,000-byte attribute.
std::pair<int, std::string> PutLargeItem(Keystoned& k, int i) {
  static const std::string payload(4000, 'x');
  return k.Call("PutItem", R"({"TableName":"users","Item":{"pk":{"S":"k)" + std::to_string(i) +
                               R"("},"sk":{"N":"1"},"v":{"S":")" + payload + R"("}}})");
}

// Puts large items k0, k1, ... until one is refused (at most 10,000): how
// many were acknowledged, and the refusal (status, body).
std::pair<int, std::pair<int, std::string>> PutUntilRefused(Keystoned& k) {
  for (int i = 0; i < 10000; ++i) {
    auto r = PutLargeItem(k, i);
    if (r.first != 200) return {i, r};
  }
  return {10000, {200, ""}};
}

TEST(KeystonedLifecycleTest, FullDiskFailsWritesClearlyAndLosesNothing) {
  TempDir dir;
  Keystoned k(dir, "k", kUsersTable, "full");
  // The data file cannot grow past 6 MiB (a file size limit fails writes with
  // EFBIG, as a full disk fails them with ENOSPC).
  k.set_command_prefix({"prlimit", "--fsize=" + std::to_string(6 << 20), "--"});
  ASSERT_TRUE(k.Start()) << k.log();
  auto put = [&](int i) { return PutLargeItem(k, i); };
  auto [acked, failed] = PutUntilRefused(k);
  ASSERT_GT(acked, 100);
  EXPECT_EQ(503, failed.first) << failed.second;
  EXPECT_NE(std::string::npos, failed.second.find("ServiceUnavailable")) << failed.second;
  EXPECT_NE(std::string::npos, failed.second.find("File too large")) << failed.second;
  // Still serving: reads work, further writes fail the same clear way.
  auto again = put(acked);
  EXPECT_EQ(503, again.first) << again.second;
  auto got = k.Call("GetItem", R"({"TableName":"users","Key":{"pk":{"S":"k0"},"sk":{"N":"1"}}})");
  EXPECT_EQ(200, got.first);
  EXPECT_NE(std::string::npos, got.second.find(std::string(100, 'x')));
  EXPECT_EQ(0, k.Stop()) << k.log();

  // Without the limit: every acknowledged write is there, and writes work.
  k.set_command_prefix({});
  ASSERT_TRUE(k.Start()) << k.log();
  for (int i = 0; i < acked; ++i) {
    auto r = k.Call("GetItem", R"({"TableName":"users","Key":{"pk":{"S":"k)" + std::to_string(i) +
                                   R"("},"sk":{"N":"1"}}})");
    ASSERT_EQ(200, r.first);
    ASSERT_NE(std::string::npos, r.second.find(R"("Item")")) << "lost k" << i;
  }
  EXPECT_EQ(200, put(acked).first);
  EXPECT_EQ(0, k.Stop()) << k.log();
}

TEST(KeystonedLifecycleTest, FullMapFailsWritesClearlyAndLosesNothing) {
  TempDir dir;
  Keystoned k(dir, "k", std::string(kUsersTable) + "map_size: {initial: 1MiB, max: 4MiB}\n");
  ASSERT_TRUE(k.Start()) << k.log();
  auto put = [&](int i) { return PutLargeItem(k, i); };
  auto [acked, failed] = PutUntilRefused(k);
  ASSERT_GT(acked, 100);
  EXPECT_EQ(400, failed.first) << failed.second;
  EXPECT_NE(std::string::npos, failed.second.find("ItemCollectionSizeLimitExceededException"))
      << failed.second;
  EXPECT_NE(std::string::npos, failed.second.find("max_map_size")) << failed.second;
  // Every acknowledged write is there; a restart with a larger map takes
  // writes again.
  for (int i = 0; i < acked; ++i) {
    auto r = k.Call("GetItem", R"({"TableName":"users","Key":{"pk":{"S":"k)" + std::to_string(i) +
                                   R"("},"sk":{"N":"1"}}})");
    ASSERT_NE(std::string::npos, r.second.find(R"("Item")")) << "lost k" << i;
  }
  EXPECT_EQ(0, k.Stop()) << k.log();
  k.set_body(std::string(kUsersTable) + "map_size: {initial: 1MiB, max: 64MiB}\n");
  ASSERT_TRUE(k.Start()) << k.log();
  EXPECT_EQ(200, put(acked).first);
  EXPECT_EQ(0, k.Stop()) << k.log();
}

TEST(KeystonedLifecycleTest, LogsListenAddressesAndJsonLines) {
  TempDir dir;
  // The sources section of the deploy config, run on the embedded broker
  // (keystoned_kafka_test.cc checks what it publishes).
  Keystoned k(dir, "k", std::string(kUsersTable) + R"(kafka: {bootstrap_servers: embedded}
sources:
  - name: users-to-kafka
    table: users
    topic: "keystone.{table}"
)");
  ASSERT_TRUE(k.Start({"--log-format", "json"})) << k.log();
  ASSERT_EQ(0, k.Stop());
  std::string log = k.log();
  int lines = 0;
  size_t start = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    std::string line = log.substr(start, end - start);
    start = end + 1;
    rapidjson::Document doc;
    doc.Parse(line.c_str());
    ASSERT_FALSE(doc.HasParseError()) << line;
    for (const char* key : {"time", "level", "component", "message"}) {
      ASSERT_TRUE(doc.HasMember(key) && doc[key].IsString()) << line;
    }
    ++lines;
  }
  EXPECT_GT(lines, 5);
  EXPECT_NE(std::string::npos,
            log.find("DynamoDB API listening on http://127.0.0.1:" + std::to_string(k.port())));
  EXPECT_NE(std::string::npos,
            log.find("metrics on http://127.0.0.1:" + std::to_string(k.metrics_port())));
  EXPECT_EQ(1, CountLines(log,
                          "embedded development Kafka broker (in-memory, for development only) "
                          "at 127.0.0.1:"));
  EXPECT_EQ(1, CountLines(log, "source 'users-to-kafka' started"));
  EXPECT_EQ(1, CountLines(log, "1 source(s) stopped; positions stored"));
}

TEST(KeystonedLifecycleTest, StartupFailuresAreOneClearLine) {
  TempDir dir;
  {
    Keystoned k(dir, "k", kUsersTable);
    ASSERT_TRUE(k.Start()) << k.log();
    // A second one on the same ports cannot listen.
    std::string clash = dir.Sub("clash.yaml");
    std::string config = k.Config();
    config.replace(config.find(k.data_dir()), k.data_dir().size(), dir.Sub("data-clash"));
    std::string metrics = "127.0.0.1:" + std::to_string(k.metrics_port());
    config.replace(config.find(metrics), metrics.size(), "127.0.0.1:" + std::to_string(FreePort()));
    WriteFile(clash, config);
    auto r = RunCommand({KEYSTONED_BIN, "--config", clash}, {}, seconds(30));
    EXPECT_EQ(1, r.exit_code);
    EXPECT_EQ(1, CountLines(r.err, " error ")) << r.err;
    EXPECT_NE(std::string::npos,
              r.err.find("cannot start: cannot listen on 127.0.0.1:" + std::to_string(k.port())))
        << r.err;
    ASSERT_EQ(0, k.Stop());
  }
  // The table exists with another key schema.
  Keystoned other(dir, "other", R"(tables:
  - name: users
    partition_key: {name: id, type: N}
)");
  other.set_data_dir(dir.Sub("data-k"));
  ASSERT_FALSE(other.Start());
  EXPECT_EQ(1, other.process().Wait(seconds(10)));
  EXPECT_NE(std::string::npos,
            other.log().find("cannot start: table 'users' exists with partition key pk (S), sort "
                             "key sk (N) but the config asks for partition key id (N), no sort "
                             "key; change the config or delete the table"))
      << other.log();

  // A different stream config is applied, and logged.
  Keystoned keys_only(dir, "keys", R"(tables:
  - name: users
    partition_key: {name: pk, type: S}
    sort_key: {name: sk, type: N}
    stream: {enabled: true, view_type: KEYS_ONLY}
)");
  keys_only.set_data_dir(dir.Sub("data-k"));
  ASSERT_TRUE(keys_only.Start()) << keys_only.log();
  EXPECT_NE(std::string::npos,
            keys_only.log().find("table 'users': stream changed from NEW_AND_OLD_IMAGES, "
                                 "buffer_size 1000 to KEYS_ONLY, buffer_size 1000"));
  auto d = keys_only.Call("DescribeTable", R"({"TableName":"users"})");
  EXPECT_NE(std::string::npos, d.second.find("\"StreamViewType\":\"KEYS_ONLY\"")) << d.second;
  EXPECT_EQ(0, keys_only.Stop());
}

TEST(KeystonedLifecycleTest, SighupAddsTablesAndReportsRestartSections) {
  TempDir dir;
  Keystoned k(dir, "k", kUsersTable);
  ASSERT_TRUE(k.Start()) << k.log();
  std::string config = ReadFile(k.config_path());
  config.replace(config.find("max_body_bytes"), 0, "worker_threads: 3\n  ");
  config += "  - name: orders\n    partition_key: {name: id, type: N}\n";
  WriteFile(k.config_path(), config);
  ASSERT_TRUE(k.process().Signal(SIGHUP));
  ASSERT_TRUE(k.notify().WaitFor("RELOADING=1", seconds(10)));
  ASSERT_TRUE(k.notify().WaitFor("READY=1", seconds(10)));
  auto tables = k.Call("ListTables", "{}");
  EXPECT_EQ(R"({"TableNames":["orders","users"]})", tables.second);
  std::string log = k.log();
  EXPECT_NE(std::string::npos, log.find("SIGHUP: reloading " + k.config_path()));
  EXPECT_NE(std::string::npos, log.find("created table 'orders' (partition key id (N)"));
  EXPECT_NE(std::string::npos,
            log.find("changed config section(s) http take effect after a restart"));

  // A broken config on reload changes nothing.
  WriteFile(k.config_path(), "sync: maybe\n");
  ASSERT_TRUE(k.process().Signal(SIGHUP));
  ASSERT_TRUE(k.notify().WaitFor("READY=1", seconds(10)));
  EXPECT_NE(std::string::npos,
            k.log().find("reload failed, keeping the running config: " + k.config_path() + ":1:7"));
  EXPECT_EQ(200, k.Call("ListTables", "{}").first);
  EXPECT_EQ(0, k.Stop());
}

TEST(KeystonedLifecycleTest, SigtermDuringLoadLosesNoAcknowledgedWrite) {
  TempDir dir;
  Keystoned k(dir, "k", kUsersTable, "full");
  ASSERT_TRUE(k.Start()) << k.log();
  int port = k.port();

  std::mutex mu;
  std::vector<std::string> acked;
  std::atomic<int> server_errors{0};
  std::atomic<bool> stop_writers{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&, w] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(30, 0);
      c.set_keep_alive(true);
      int failures = 0;
      for (int i = 0; !stop_writers && failures < 20; ++i) {
        std::string key = "w" + std::to_string(w) + "-" + std::to_string(i);
        auto r = c.Post("/", {{"X-Amz-Target", "DynamoDB_20120810.PutItem"}},
                        R"({"TableName":"users","Item":{"pk":{"S":")" + key +
                            R"("},"sk":{"N":"1"},"v":{"S":"payload"}}})",
                        "application/x-amz-json-1.0");
        if (!r) {
          ++failures;  // refused or reset: the server is going away
          continue;
        }
        if (r->status == 200) {
          std::lock_guard<std::mutex> lock(mu);
          acked.push_back(key);
        } else if (r->status >= 500) {
          ++server_errors;
        }
      }
    });
  }
  auto deadline = steady_clock::now() + seconds(30);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (acked.size() >= 400) break;
    }
    ASSERT_LT(steady_clock::now(), deadline) << "writes too slow";
    std::this_thread::sleep_for(milliseconds(5));
  }
  auto sigterm_at = steady_clock::now();
  ASSERT_TRUE(k.process().Signal(SIGTERM));
  EXPECT_EQ(0, k.process().Wait(seconds(40)));
  auto took = steady_clock::now() - sigterm_at;
  stop_writers = true;
  for (auto& t : writers) t.join();
  EXPECT_LT(took, seconds(20));
  EXPECT_EQ(0, server_errors.load());
  std::set<std::string> acked_keys(acked.begin(), acked.end());
  ASSERT_EQ(acked.size(), acked_keys.size());

  // Restart on the same data and read everything back.
  Keystoned again(dir, "again", kUsersTable, "full");
  again.set_data_dir(k.data_dir());
  ASSERT_TRUE(again.Start()) << again.log();
  std::set<std::string> stored;
  std::string start_key;
  for (int page = 0; page < 10000; ++page) {
    std::string body = R"({"TableName":"users","ProjectionExpression":"pk")";
    if (!start_key.empty()) body += ",\"ExclusiveStartKey\":" + start_key;
    auto r = again.Call("Scan", body + "}");
    ASSERT_EQ(200, r.first) << r.second;
    rapidjson::Document doc;
    doc.Parse(r.second.c_str());
    for (const auto& item : doc["Items"].GetArray()) stored.insert(item["pk"]["S"].GetString());
    if (!doc.HasMember("LastEvaluatedKey")) break;
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    doc["LastEvaluatedKey"].Accept(w);
    start_key = sb.GetString();
  }
  size_t missing = 0;
  for (const std::string& key : acked_keys) missing += stored.count(key) == 0;
  EXPECT_EQ(0u, missing) << "of " << acked_keys.size() << " acknowledged writes";
  std::printf("%zu acknowledged writes, %zu stored; SIGTERM to exit took %lld ms\n",
              acked_keys.size(), stored.size(),
              static_cast<long long>(std::chrono::duration_cast<milliseconds>(took).count()));
  EXPECT_GE(stored.size(), acked_keys.size());
  EXPECT_EQ(0, again.Stop());
}

TEST(KeystonedLifecycleTest, BillingModeAndThroughputSurviveRestarts) {
  TempDir dir;
  Keystoned k(dir, "k", "");
  ASSERT_TRUE(k.Start()) << k.log();
  // Calls `op` and sums up the billing of the table description at `member`
  // of its response: "PROVISIONED 5/7".
  auto billing = [&](const std::string& op, const std::string& body, const char* member) {
    auto r = k.Call(op, body);
    EXPECT_EQ(200, r.first) << op << " " << r.second;
    rapidjson::Document doc;
    doc.Parse(r.second.c_str());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember(member)) {
      ADD_FAILURE() << op << ": no " << member << " in " << r.second;
      return std::string();
    }
    const rapidjson::Value& t = doc[member];
    return std::string(t["BillingModeSummary"]["BillingMode"].GetString()) + " " +
           std::to_string(t["ProvisionedThroughput"]["ReadCapacityUnits"].GetInt64()) + "/" +
           std::to_string(t["ProvisionedThroughput"]["WriteCapacityUnits"].GetInt64());
  };
  auto restart = [&](bool kill) {
    if (kill) {
      k.Kill();
    } else {
      ASSERT_EQ(0, k.Stop());
    }
    ASSERT_TRUE(k.Start()) << k.log();
  };
  const std::string describe = R"({"TableName":"billed"})";
  const std::string create = R"({"TableName":"billed",
      "KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
      "AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],
      "BillingMode":"PROVISIONED",
      "ProvisionedThroughput":{"ReadCapacityUnits":5,"WriteCapacityUnits":7}})";
  const std::string on_demand = R"({"TableName":"billed","BillingMode":"PAY_PER_REQUEST"})";
  const std::string provisioned = R"({"TableName":"billed","BillingMode":"PROVISIONED",
      "ProvisionedThroughput":{"ReadCapacityUnits":2,"WriteCapacityUnits":3}})";

  EXPECT_EQ("PROVISIONED 5/7", billing("CreateTable", create, "TableDescription"));
  ASSERT_NO_FATAL_FAILURE(restart(false));
  EXPECT_EQ("PROVISIONED 5/7", billing("DescribeTable", describe, "Table"));

  EXPECT_EQ("PAY_PER_REQUEST 0/0", billing("UpdateTable", on_demand, "TableDescription"));
  ASSERT_NO_FATAL_FAILURE(restart(false));
  EXPECT_EQ("PAY_PER_REQUEST 0/0", billing("DescribeTable", describe, "Table"));

  EXPECT_EQ("PROVISIONED 2/3", billing("UpdateTable", provisioned, "TableDescription"));
  ASSERT_NO_FATAL_FAILURE(restart(true));  // a SIGKILL loses no acknowledged update either
  EXPECT_EQ("PROVISIONED 2/3", billing("DescribeTable", describe, "Table"));
  EXPECT_EQ(0, k.Stop());
}

// ---------------------------------------------------------------------------
// Clients.

CommandResult Python(const std::string& script, std::map<std::string, std::string> env) {
  for (auto& [k, v] : AwsEnv()) env.emplace(k, v);
  return RunCommand({kPython, kPyDir + script}, env, seconds(240));
}

TEST(KeystonedClientsTest, Boto3Api) {
  TempDir dir;
  Keystoned k(dir, "k", "");
  ASSERT_TRUE(k.Start()) << k.log();
  auto r = Python("boto3_api_test.py",
                  {{"KEYSTONE_ENDPOINT", k.endpoint()}, {"KEYSTONE_MAX_BODY", "65536"}});
  EXPECT_EQ(0, r.exit_code) << r.err << r.out;
  EXPECT_NE(std::string::npos, r.err.find("\nOK")) << r.err;
  EXPECT_EQ(0, k.Stop());
}

TEST(KeystonedClientsTest, SigV4AndTlsWithBoto3AndAwsCli) {
  TempDir dir;
  const std::string key = "AKIDKEYSTONETEST";
  const std::string secret = "s3cr3t/Value+With=Chars";
  std::string auth = "auth:\n  access_keys:\n    - {access_key_id: " + key +
                     ", secret_access_key: \"" + secret + "\"}\n";
  {
    Keystoned k(dir, "plain", auth);
    ASSERT_TRUE(k.Start()) << k.log();
    auto r = Python("boto3_auth_test.py", {{"KEYSTONE_ENDPOINT", k.endpoint()},
                                           {"KEYSTONE_ACCESS_KEY", key},
                                           {"KEYSTONE_SECRET_KEY", secret}});
    EXPECT_EQ(0, r.exit_code) << r.err << r.out;

    auto good = RunCommand({kAws, "dynamodb", "list-tables", "--endpoint-url", k.endpoint()},
                           AwsEnv(key, secret));
    EXPECT_EQ(0, good.exit_code) << good.err;
    EXPECT_NE(std::string::npos, good.out.find("TableNames"));
    auto bad = RunCommand({kAws, "dynamodb", "list-tables", "--endpoint-url", k.endpoint()},
                          AwsEnv(key, "wrong"));
    EXPECT_NE(0, bad.exit_code);
    EXPECT_NE(std::string::npos, bad.err.find("InvalidSignatureException")) << bad.err;
    auto cli = RunCommand({KEYSTONE_CLI_BIN, "--endpoint", k.endpoint(), "--access-key", key,
                           "--secret-key", secret, "tables"});
    EXPECT_EQ(0, cli.exit_code) << cli.err;
    auto cli_bad = RunCommand({KEYSTONE_CLI_BIN, "--endpoint", k.endpoint(), "--access-key",
                               "AKIDOTHER", "--secret-key", secret, "tables"});
    EXPECT_EQ(1, cli_bad.exit_code);
    EXPECT_NE(std::string::npos, cli_bad.err.find("UnrecognizedClientException"));
    EXPECT_EQ(0, k.Stop());
    EXPECT_EQ(std::string::npos, k.log().find(secret)) << "a secret was logged";
  }
  // TLS with a self-signed certificate for 127.0.0.1.
  std::string cert = dir.Sub("cert.pem"), keyfile = dir.Sub("key.pem");
  auto gen = RunCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                         keyfile, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                         "subjectAltName=IP:127.0.0.1"});
  ASSERT_EQ(0, gen.exit_code) << gen.err;
  Keystoned k(dir, "tls", auth, "nosync",
              "  tls: {cert_file: " + cert + ", key_file: " + keyfile + "}\n");
  k.set_tls(true);
  ASSERT_TRUE(k.Start()) << k.log();
  EXPECT_NE(std::string::npos, k.log().find("listening on https://127.0.0.1:"));
  auto r = Python("boto3_auth_test.py", {{"KEYSTONE_ENDPOINT", k.endpoint()},
                                         {"KEYSTONE_ACCESS_KEY", key},
                                         {"KEYSTONE_SECRET_KEY", secret},
                                         {"KEYSTONE_CA_FILE", cert}});
  EXPECT_EQ(0, r.exit_code) << r.err << r.out;
  auto health = RunCommand({KEYSTONE_CLI_BIN, "--endpoint", k.endpoint(), "--insecure", "health"});
  EXPECT_EQ(0, health.exit_code) << health.err;
  EXPECT_EQ(0, k.Stop());
}

TEST(KeystonedClientsTest, AwsCliTablesItemsAndStreams) {
  TempDir dir;
  Keystoned k(dir, "k", "");
  ASSERT_TRUE(k.Start()) << k.log();
  auto aws = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {kAws};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--endpoint-url");
    argv.push_back(k.endpoint());
    argv.push_back("--output");
    argv.push_back("json");
    return RunCommand(argv, AwsEnv(), seconds(60));
  };
  auto r = aws({"dynamodb", "create-table", "--table-name", "cli", "--attribute-definitions",
                "AttributeName=pk,AttributeType=S", "AttributeName=sk,AttributeType=N",
                "--key-schema", "AttributeName=pk,KeyType=HASH", "AttributeName=sk,KeyType=RANGE",
                "--billing-mode", "PAY_PER_REQUEST", "--stream-specification",
                "StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  r = aws({"dynamodb", "wait", "table-exists", "--table-name", "cli"});
  ASSERT_EQ(0, r.exit_code) << r.err;

  // Items through the keystone CLI (quicker than one aws process each).
  for (int i = 0; i < 7; ++i) {
    auto put = RunCommand({KEYSTONE_CLI_BIN, "--endpoint", k.endpoint(), "put", "cli",
                           R"({"pk":"p","sk":)" + std::to_string(i) + R"(,"v":"x"})", "--simple"});
    ASSERT_EQ(0, put.exit_code) << put.err;
  }
  r = aws({"dynamodb", "put-item", "--table-name", "cli", "--item",
           R"({"pk":{"S":"p"},"sk":{"N":"3"},"v":{"S":"y"}})", "--condition-expression",
           "attribute_not_exists(pk)"});
  EXPECT_NE(0, r.exit_code);
  EXPECT_NE(std::string::npos, r.err.find("ConditionalCheckFailedException")) << r.err;
  r = aws({"dynamodb", "update-item", "--table-name", "cli", "--key",
           R"({"pk":{"S":"p"},"sk":{"N":"3"}})", "--update-expression", "SET v = :v",
           "--expression-attribute-values", R"({":v":{"S":"z"}})", "--return-values", "ALL_OLD"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  EXPECT_NE(std::string::npos, r.out.find(R"("S": "x")")) << r.out;
  // The CLI paginates for us: pages of 2 give all 7 items.
  r = aws({"dynamodb", "query", "--table-name", "cli", "--key-condition-expression", "pk = :p",
           "--expression-attribute-values", R"({":p":{"S":"p"}})", "--page-size", "2"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  EXPECT_NE(std::string::npos, r.out.find("\"Count\": 7")) << r.out;
  r = aws({"dynamodb", "scan", "--table-name", "cli", "--max-items", "3"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  EXPECT_NE(std::string::npos, r.out.find("NextToken")) << r.out;
  // The legacy parameters, as older scripts use them: --key-conditions with
  // --query-filter and --attributes-to-get.
  r = aws({"dynamodb", "query", "--table-name", "cli", "--key-conditions",
           R"({"pk":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"p"}]},)"
           R"("sk":{"ComparisonOperator":"BETWEEN","AttributeValueList":[{"N":"2"},{"N":"5"}]}})",
           "--query-filter",
           R"({"v":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"x"}]}})",
           "--attributes-to-get", "sk", "--page-size", "2"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  EXPECT_NE(std::string::npos, r.out.find("\"Count\": 3")) << r.out;  // 2, 4, 5; 3 is "z"
  EXPECT_EQ(std::string::npos, r.out.find("\"v\"")) << r.out;
  // PartiQL, as `aws dynamodb execute-statement` sends it.
  r = aws({"dynamodb", "execute-statement", "--statement",
           "SELECT sk FROM cli WHERE pk = ? AND sk BETWEEN 2 AND 5 AND v = 'x'", "--parameters",
           R"([{"S":"p"}])"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  EXPECT_NE(std::string::npos, r.out.find("\"Items\"")) << r.out;
  EXPECT_EQ(3u, CountOf(r.out, "\"sk\"")) << r.out;  // 2, 4, 5
  r = aws({"dynamodb", "execute-statement", "--statement", "SELECT * FROM cli WHERE"});
  EXPECT_NE(0, r.exit_code);
  EXPECT_NE(std::string::npos, r.err.find("Statement wasn't well formed")) << r.err;

  // A global index on v, filled from the items above, read with
  // --index-name (paged by the CLI): the six items still "x".
  r = aws({"dynamodb", "update-table", "--table-name", "cli", "--attribute-definitions",
           "AttributeName=v,AttributeType=S", "--global-secondary-index-updates",
           R"([{"Create":{"IndexName":"by-v","KeySchema":[{"AttributeName":"v","KeyType":"HASH"}],)"
           R"("Projection":{"ProjectionType":"KEYS_ONLY"}}}])"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  r = aws({"dynamodb", "query", "--table-name", "cli", "--index-name", "by-v",
           "--key-condition-expression", "v = :v", "--expression-attribute-values",
           R"({":v":{"S":"x"}})", "--page-size", "4"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  EXPECT_NE(std::string::npos, r.out.find("\"Count\": 6")) << r.out;

  r = aws({"dynamodbstreams", "list-streams", "--table-name", "cli"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  rapidjson::Document doc;
  doc.Parse(r.out.c_str());
  ASSERT_FALSE(doc.HasParseError()) << r.out;
  std::string arn = doc["Streams"][0]["StreamArn"].GetString();
  r = aws({"dynamodbstreams", "describe-stream", "--stream-arn", arn});
  ASSERT_EQ(0, r.exit_code) << r.err;
  doc.Parse(r.out.c_str());
  std::string shard = doc["StreamDescription"]["Shards"][0]["ShardId"].GetString();
  r = aws({"dynamodbstreams", "get-shard-iterator", "--stream-arn", arn, "--shard-id", shard,
           "--shard-iterator-type", "TRIM_HORIZON"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  doc.Parse(r.out.c_str());
  std::string iterator = doc["ShardIterator"].GetString();
  r = aws({"dynamodbstreams", "get-records", "--shard-iterator", iterator});
  ASSERT_EQ(0, r.exit_code) << r.err;
  doc.Parse(r.out.c_str());
  ASSERT_TRUE(doc["Records"].IsArray());
  ASSERT_EQ(8u, doc["Records"].Size());
  EXPECT_STREQ("INSERT", doc["Records"][0]["eventName"].GetString());
  EXPECT_STREQ("MODIFY", doc["Records"][7]["eventName"].GetString());

  // The keystone CLI reads the same stream.
  auto stream = RunCommand(
      {KEYSTONE_CLI_BIN, "--endpoint", k.endpoint(), "stream", "cli", "--simple", "--after", "7"});
  ASSERT_EQ(0, stream.exit_code) << stream.err;
  EXPECT_EQ(1, CountLines(stream.out, "\"event\":\"MODIFY\"")) << stream.out;
  EXPECT_EQ(1, CountLines(stream.out, "")) << stream.out;

  r = aws({"dynamodb", "delete-table", "--table-name", "cli"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  r = aws({"dynamodb", "wait", "table-not-exists", "--table-name", "cli"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  EXPECT_EQ(0, k.Stop());
}

TEST(KeystonedClientsTest, KeystoneCliAndMetrics) {
  TempDir dir;
  Keystoned k(dir, "k", "");
  ASSERT_TRUE(k.Start()) << k.log();
  auto cli = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {KEYSTONE_CLI_BIN, "--endpoint", k.endpoint()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {}, seconds(30));
  };
  EXPECT_EQ(0, cli({"health"}).exit_code);
  auto r = cli({"create-table", "things", "--pk", "id:S", "--sk", "n:N", "--stream", "NEW_IMAGE"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  EXPECT_EQ("things\n", cli({"tables"}).out);
  ASSERT_EQ(0, cli({"put", "things", R"({"id":"a","n":1,"price":1.50,"tags":["x",true,null]})",
                    "--simple"})
                   .exit_code);
  ASSERT_EQ(0, cli({"put", "things", R"({"id":{"S":"a"},"n":{"N":"2"}})"}).exit_code);
  r = cli({"get", "things", R"({"id":"a","n":1})", "--simple"});
  EXPECT_EQ(R"({"id":"a","n":1,"price":1.5,"tags":["x",true,null]})"
            "\n",
            r.out);
  r = cli({"get", "things", R"({"id":{"S":"a"},"n":{"N":"2"}})"});
  EXPECT_EQ(R"({"id":{"S":"a"},"n":{"N":"2"}})"
            "\n",
            r.out);
  r = cli({"query", "things", "--key-condition", "id = :i AND n > :n", "--values",
           R"({":i":"a",":n":1})", "--simple"});
  EXPECT_EQ(R"({"id":"a","n":2})"
            "\n",
            r.out);
  r = cli({"scan", "things", "--limit", "1"});
  EXPECT_EQ(1, CountLines(r.out, "\"id\""));
  r = cli({"stream", "things", "--simple"});
  EXPECT_EQ(2, CountLines(r.out, "\"event\":\"INSERT\"")) << r.out;
  r = cli({"delete", "things", R"({"id":"a","n":2})", "--simple"});
  EXPECT_EQ(0, r.exit_code);
  r = cli({"get", "things", R"({"id":"a","n":2})", "--simple"});
  EXPECT_EQ(1, r.exit_code);
  r = cli({"put", "things", R"({"id":{"N":"x"}})"});
  EXPECT_EQ(1, r.exit_code);
  EXPECT_EQ(0u, r.err.find("keystone: ValidationException: ")) << r.err;
  r = cli({"get", "nothing", R"({"id":"a"})", "--simple"});
  EXPECT_EQ(1, r.exit_code);
  EXPECT_NE(std::string::npos, r.err.find("ResourceNotFoundException"));
  r = RunCommand({KEYSTONE_CLI_BIN, "--endpoint", "http://127.0.0.1:1", "tables"});
  EXPECT_EQ(1, r.exit_code);
  EXPECT_NE(std::string::npos, r.err.find("cannot reach"));

  httplib::Client metrics("127.0.0.1", k.metrics_port());
  auto m = metrics.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(std::string::npos,
            m->body.find("keystone_http_requests_total{operation=\"PutItem\",outcome=\"ok\"} 2"))
      << m->body;
  EXPECT_NE(std::string::npos, m->body.find("keystone_http_requests_total{operation=\"PutItem\","
                                            "outcome=\"ValidationException\"} 1"));
  EXPECT_NE(std::string::npos, m->body.find("keystone_store_writes_total"));
  // A global index made by create-table --gsi, read by query and scan --index.
  r = cli({"create-table", "orders", "--pk", "id:S", "--gsi", "by_customer=customer:S,total:N"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  for (const char* order :
       {R"({"id":"o1","customer":"ann","total":30})", R"({"id":"o2","customer":"ann","total":10})",
        R"({"id":"o3","customer":"bob","total":20})", R"({"id":"o4"})"}) {
    ASSERT_EQ(0, cli({"put", "orders", order, "--simple"}).exit_code);
  }
  r = cli({"query", "orders", "--index", "by_customer", "--key-condition", "customer = :c",
           "--values", R"({":c":"ann"})", "--simple"});
  EXPECT_EQ(R"({"customer":"ann","id":"o2","total":10})"
            "\n"
            R"({"customer":"ann","id":"o1","total":30})"
            "\n",
            r.out)
      << r.err;
  r = cli({"scan", "orders", "--index", "by_customer"});
  EXPECT_EQ(3, CountLines(r.out, "\"id\"")) << r.out;
  r = cli({"create-table", "bad", "--pk", "id:S", "--gsi", "by_id=id:N"});
  EXPECT_EQ(1, r.exit_code);
  EXPECT_NE(std::string::npos, r.err.find("attribute id is given as both S and N")) << r.err;
  {
    // --follow prints new records as they come, until SIGINT.
    std::string follow_log = dir.Sub("follow.out");
    ChildProcess follow({KEYSTONE_CLI_BIN, "--endpoint", k.endpoint(), "stream", "things",
                         "--latest", "--follow", "--simple"},
                        {}, follow_log);
    auto deadline = steady_clock::now() + seconds(20);
    // Keep writing until the follower has picked up a write (it may start
    // reading after the first ones).
    for (int i = 10; ReadFile(follow_log).find("\"event\":\"INSERT\"") == std::string::npos; ++i) {
      ASSERT_LT(steady_clock::now(), deadline) << ReadFile(follow_log);
      ASSERT_EQ(0, cli({"put", "things", R"({"id":"f","n":)" + std::to_string(i) + "}", "--simple"})
                       .exit_code);
    }
    ASSERT_TRUE(follow.Signal(SIGINT));
    EXPECT_EQ(0, follow.Wait(seconds(10)));
  }
  EXPECT_EQ(0, k.Stop());
}

}  // namespace
}  // namespace keystone::testing
