// End-to-end tests of keystoned's CDC sources: the real keystoned publishing
// to keystone-mock-kafka (librdkafka's mock cluster in its own process; it
// creates topics on first use with 4 partitions, since it has no
// CreateTopics) or to its embedded broker, written through the DynamoDB HTTP
// API (raw HTTP and the aws CLI), read back with independent consumers
// (python3-kafka via tests/kafka_sink/dump_topic.py, and kcat), controlled
// through the admin endpoints and the keystone CLI, and scraped for metrics
// (checked with promtool when it is installed).

#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/kafka_sink/kafka_test_util.h"
#include "tests/testing/keystoned.h"
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

using kafka::testing::ConsumedMessage;
using kafka::testing::ConsumeWithKcat;
using kafka::testing::ConsumeWithPython;
using kafka::testing::MockKafka;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

// Polls `done` every 50 ms until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& done, milliseconds timeout) {
  auto deadline = steady_clock::now() + timeout;
  while (steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return done();
}

// v[key], or null when v is not an object or has no such member.
const rapidjson::Value& At(const rapidjson::Value& v, const char* key) {
  static const rapidjson::Value kNull;
  return v.IsObject() && v.HasMember(key) ? v[key] : kNull;
}

// keystoned (tests/testing/keystoned.h) with what these tests ask of it:
// writes to table `users`, the sources' status, the metrics.
class KafkaKeystoned : public Keystoned {
 public:
  KafkaKeystoned(const TempDir& dir, std::string body) : Keystoned(dir, "k", std::move(body)) {}

  int Put(const std::string& pk, int v) {
    return Call("PutItem", R"({"TableName":"users","Item":{"pk":{"S":")" + pk + R"("},"v":{"N":")" +
                               std::to_string(v) + R"("}}})")
        .first;
  }
  int Delete(const std::string& pk) {
    return Call("DeleteItem", R"({"TableName":"users","Key":{"pk":{"S":")" + pk + R"("}}})").first;
  }

  // GET /sources parsed; an empty array when it cannot be read.
  rapidjson::Document Sources() {
    rapidjson::Document doc;
    httplib::Client c("127.0.0.1", port());
    auto r = c.Get("/sources");
    if (!r || r->status != 200 || doc.Parse(r->body.c_str()).HasParseError() || !doc.IsArray()) {
      doc.SetArray();
    }
    return doc;
  }
  // The status object of source `name` as a map of its fields (as text).
  std::map<std::string, std::string> Source(const std::string& name) {
    std::map<std::string, std::string> out;
    rapidjson::Document doc = Sources();
    for (const auto& s : doc.GetArray()) {
      if (!s.HasMember("name") || !s["name"].IsString() || s["name"].GetString() != name) continue;
      for (const auto& m : s.GetObject()) {
        if (m.value.IsString()) {
          out[m.name.GetString()] = m.value.GetString();
        } else if (m.value.IsBool()) {
          out[m.name.GetString()] = m.value.GetBool() ? "true" : "false";
        } else if (m.value.IsNumber()) {
          out[m.name.GetString()] = std::to_string(m.value.GetUint64());
        }
      }
    }
    return out;
  }
  // Waits until source `name` streams with nothing behind and nothing in
  // flight, and has read at least through `sequence`.
  bool WaitCaughtUp(const std::string& name, uint64_t sequence = 0) {
    return WaitUntil(
        [&] {
          auto s = Source(name);
          return s["state"] == "STREAMING" && s["lag_records"] == "0" &&
                 s["in_flight_records"] == "0" && std::stoull("0" + s["position"]) >= sequence;
        },
        seconds(60));
  }

  std::string Scrape() {
    httplib::Client c("127.0.0.1", metrics_port());
    auto r = c.Get("/metrics");
    return r ? r->body : "";
  }
};

std::string UsersTable() {
  return R"(tables:
  - name: users
    partition_key: {name: pk, type: S}
    stream: {enabled: true, view_type: NEW_AND_OLD_IMAGES}
)";
}

std::string Source(const std::string& name, const std::string& topic, const std::string& format) {
  return "  - name: " + name + "\n    table: users\n    topic: \"" + topic +
         "\"\n    format: " + format + "\n    batch_timeout_ms: 5\n";
}

std::string KafkaSection(const std::string& bootstrap) {
  return "kafka:\n  bootstrap_servers: \"" + bootstrap + "\"\n";
}

rapidjson::Document Json(const std::optional<std::string>& text) {
  rapidjson::Document doc;
  if (!text || doc.Parse(text->c_str()).HasParseError()) doc.SetNull();
  return doc;
}

std::string Str(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "";
}

// The messages of `messages` grouped by key, in offset order (each key lives
// in one partition; the check below asserts it).
std::map<std::string, std::vector<const ConsumedMessage*>> ByKey(
    const std::vector<ConsumedMessage>& messages) {
  std::map<std::string, std::vector<const ConsumedMessage*>> out;
  std::map<std::string, int32_t> partition;
  for (const ConsumedMessage& m : messages) {
    std::string key = m.key.value_or("");
    auto [it, inserted] = partition.emplace(key, m.partition);
    EXPECT_EQ(it->second, m.partition) << "key " << key << " in two partitions";
    out[key].push_back(&m);
  }
  for (auto& [key, list] : out) {
    std::sort(list.begin(), list.end(), [](const ConsumedMessage* a, const ConsumedMessage* b) {
      return a->offset < b->offset;
    });
  }
  return out;
}

// Writes: for each of keys a..e, put v=1 then v=2; then delete a and b.
// Returns the expected per-key ops (debezium op letters).
std::map<std::string, std::string> WriteWorkload(KafkaKeystoned& k) {
  std::map<std::string, std::string> ops;
  for (const std::string pk : {"a", "b", "c", "d", "e"}) {
    EXPECT_EQ(200, k.Put(pk, 1));
    EXPECT_EQ(200, k.Put(pk, 2));
    ops[pk] = "cu";
  }
  for (const std::string pk : {"a", "b"}) {
    EXPECT_EQ(200, k.Delete(pk));
    ops[pk] += "dT";  // T: the tombstone
  }
  return ops;
}

// Checks a debezium topic against WriteWorkload's writes; returns the
// sequence numbers seen.
std::vector<uint64_t> CheckDebezium(const std::vector<ConsumedMessage>& messages,
                                    const std::map<std::string, std::string>& expected) {
  std::vector<uint64_t> seqs;
  auto by_key = ByKey(messages);
  EXPECT_EQ(expected.size(), by_key.size());
  for (const auto& [pk, ops] : expected) {
    std::string key = R"({"pk":")" + pk + R"("})";
    auto it = by_key.find(key);
    if (it == by_key.end()) {
      ADD_FAILURE() << "no message for key " << key;
      continue;
    }
    std::string got_ops;
    uint64_t last_seq = 0;
    for (const ConsumedMessage* m : it->second) {
      if (!m->value) {
        got_ops += 'T';
        continue;
      }
      rapidjson::Document v = Json(m->value);
      EXPECT_TRUE(v.IsObject()) << *m->value;
      if (!v.IsObject()) continue;
      std::string op = Str(v, "op");
      got_ops += op;
      const rapidjson::Value& source = At(v, "source");
      EXPECT_EQ("keystone", Str(source, "connector"));
      EXPECT_EQ("users", Str(source, "table"));
      uint64_t seq = At(source, "seq").IsUint64() ? At(source, "seq").GetUint64()
                                                  : std::stoull("0" + Str(source, "seq"));
      EXPECT_GT(seq, last_seq) << "per-key order broken for " << key;
      last_seq = seq;
      seqs.push_back(seq);
      EXPECT_EQ(std::to_string(seq), m->Header("keystone.seq").value_or(""));
      if (op == "c") {
        EXPECT_TRUE(At(v, "before").IsNull());
        EXPECT_EQ(1, At(At(v, "after"), "v").IsNumber() ? At(At(v, "after"), "v").GetInt() : -1);
      } else if (op == "u") {
        EXPECT_TRUE(At(v, "before").IsObject());
        EXPECT_TRUE(At(v, "after").IsObject());
        EXPECT_EQ(2, At(At(v, "after"), "v").IsNumber() ? At(At(v, "after"), "v").GetInt() : -1);
        EXPECT_EQ(1, At(At(v, "before"), "v").IsNumber() ? At(At(v, "before"), "v").GetInt() : -1);
      } else if (op == "d") {
        EXPECT_TRUE(At(v, "after").IsNull());
        EXPECT_EQ(2, At(At(v, "before"), "v").IsNumber() ? At(At(v, "before"), "v").GetInt() : -1);
      }
    }
    EXPECT_EQ(ops, got_ops) << "key " << key;
  }
  return seqs;
}

std::vector<ConsumedMessage> MustConsume(const std::string& bootstrap, const std::string& topic) {
  auto got = ConsumeWithPython(bootstrap, topic, milliseconds(60000));
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  return got.ok() ? *got : std::vector<ConsumedMessage>{};
}

// ---------------------------------------------------------------------------

// The names of process `pid`'s threads (/proc/PID/task/*/comm).
std::multiset<std::string> ThreadNames(pid_t pid) {
  std::multiset<std::string> names;
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) names.insert(name);
  }
  return names;
}

TEST(KeystonedKafkaTest, TwoSourcesPublishEveryWriteOnceInOrderBothFormats) {
  TempDir dir;
  auto mock = MockKafka::Start(1, {});
  ASSERT_TRUE(mock.ok()) << mock.status().ToString();
  const std::string bootstrap = (*mock)->bootstrap();
  KafkaKeystoned k(dir, UsersTable() + KafkaSection(bootstrap) + "sources:\n" +
                            Source("users-debezium", "keystone.{table}", "debezium") +
                            Source("users-ddb", "ddb.{source}", "dynamodb"));
  ASSERT_TRUE(k.Start()) << k.log();
  // Each source's initial snapshot (of the empty table) runs once its
  // producer is connected, possibly after READY; a snapshot that ran after
  // the writes would publish their final state as op "r" instead of the
  // changes. Wait for it to finish.
  ASSERT_TRUE(k.WaitCaughtUp("users-debezium")) << k.log();
  ASSERT_TRUE(k.WaitCaughtUp("users-ddb")) << k.log();
  // Operators tell the threads apart in top -H and perf (15 bytes at most).
  std::multiset<std::string> threads = ThreadNames(k.process().pid());
  for (const char* name : {"store-writer", "metrics-poll", "src:users-debez", "src:users-ddb"}) {
    EXPECT_EQ(1u, threads.count(name)) << name;
  }
  EXPECT_LE(1u, threads.count("http"));  // one per HTTP worker thread

  std::map<std::string, std::string> expected = WriteWorkload(k);
  ASSERT_TRUE(k.WaitCaughtUp("users-debezium", 12)) << k.log();
  ASSERT_TRUE(k.WaitCaughtUp("users-ddb", 12)) << k.log();

  // Debezium, read by python3-kafka: 10 puts + 2 deletes + 2 tombstones.
  std::vector<ConsumedMessage> deb = MustConsume(bootstrap, "keystone.users");
  EXPECT_EQ(14u, deb.size());
  std::vector<uint64_t> seqs = CheckDebezium(deb, expected);
  std::sort(seqs.begin(), seqs.end());
  EXPECT_EQ(seqs.end(), std::adjacent_find(seqs.begin(), seqs.end())) << "a sequence repeats";
  EXPECT_EQ(12u, seqs.size());

  // The same topic read by kcat holds the same messages.
  auto kc = ConsumeWithKcat(bootstrap, "keystone.users", milliseconds(60000));
  ASSERT_TRUE(kc.ok()) << kc.status().ToString();
  ASSERT_EQ(deb.size(), kc->size());
  std::map<std::pair<int32_t, int64_t>, std::optional<std::string>> by_offset;
  for (const auto& m : deb) by_offset[{m.partition, m.offset}] = m.value;
  for (const auto& m : *kc) {
    EXPECT_EQ(by_offset[std::make_pair(m.partition, m.offset)], m.value);
  }

  // DynamoDB Streams format, its own topic, published independently.
  std::vector<ConsumedMessage> ddb = MustConsume(bootstrap, "ddb.users-ddb");
  EXPECT_EQ(14u, ddb.size());
  auto by_key = ByKey(ddb);
  std::map<std::string, std::string> names = {{"c", "INSERT"}, {"u", "MODIFY"}, {"d", "REMOVE"}};
  for (const auto& [pk, ops] : expected) {
    std::string key = R"({"pk":")" + pk + R"("})";
    std::vector<std::string> want, got;
    for (char op : ops) want.push_back(op == 'T' ? "tombstone" : names[std::string(1, op)]);
    for (const ConsumedMessage* m : by_key[key]) {
      if (!m->value) {
        got.push_back("tombstone");
        continue;
      }
      rapidjson::Document v = Json(m->value);
      ASSERT_TRUE(v.IsObject()) << *m->value;
      got.push_back(Str(v, "eventName"));
      ASSERT_TRUE(v.HasMember("dynamodb"));
      EXPECT_EQ(pk, Str(At(At(At(v, "dynamodb"), "Keys"), "pk"), "S"));
      EXPECT_EQ("NEW_AND_OLD_IMAGES", Str(At(v, "dynamodb"), "StreamViewType"));
      EXPECT_FALSE(Str(At(v, "dynamodb"), "SequenceNumber").empty());
    }
    EXPECT_EQ(want, got) << "key " << key;
  }

  // Status and metrics.
  auto s = k.Source("users-debezium");
  EXPECT_EQ("keystone.users", s["topic"]);
  EXPECT_EQ("14", s["events_acked"]);
  std::string metrics = k.Scrape();
  EXPECT_NE(std::string::npos,
            metrics.find("keystone_source_state{source=\"users-ddb\",table=\"users\",topic=\"ddb."
                         "users-ddb\",state=\"streaming\"} 1"))
      << metrics;
  for (const char* family :
       {"keystone_source_lag_records", "keystone_source_lag_seconds",
        "keystone_source_in_flight_events", "keystone_source_events_sent_total",
        "keystone_source_events_acked_total", "keystone_source_events_filtered_total",
        "keystone_source_events_failed_total", "keystone_source_gaps_total",
        "keystone_source_position_sequence", "keystone_kafka_queue_full_total",
        "keystone_kafka_events_dead_lettered_total", "keystone_kafka_events_reset_total"}) {
    EXPECT_NE(std::string::npos, metrics.find(std::string("\n") + family + "{")) << family;
  }
  // End-to-end latency: one observation per streamed change (the 14 events
  // include tombstones, which belong to their delete's change).
  const std::string count_prefix =
      "\nkeystone_source_delivery_latency_seconds_count{source=\"users-debezium\"";
  size_t at = metrics.find(count_prefix);
  ASSERT_NE(std::string::npos, at) << metrics;
  size_t space = metrics.find(' ', at + 1);
  ASSERT_NE(std::string::npos, space);
  double changes = std::strtod(metrics.c_str() + space + 1, nullptr);
  EXPECT_GT(changes, 0);
  EXPECT_LT(changes, 14);
  EXPECT_NE(
      std::string::npos,
      metrics.find("keystone_source_delivery_latency_seconds_bucket{source=\"users-debezium\"", 0))
      << metrics;
  EXPECT_EQ(0, k.Stop()) << k.log();
}

TEST(KeystonedKafkaTest, PauseResumeAndRestartResumeFromPosition) {
  TempDir dir;
  auto mock = MockKafka::Start(1, {});
  ASSERT_TRUE(mock.ok()) << mock.status().ToString();
  const std::string bootstrap = (*mock)->bootstrap();
  KafkaKeystoned k(dir, UsersTable() + KafkaSection(bootstrap) + "sources:\n" +
                            Source("users-to-kafka", "keystone.{table}", "debezium"));
  ASSERT_TRUE(k.Start()) << k.log();
  auto cli = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {KEYSTONE_CLI_BIN, "--endpoint", k.endpoint()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {}, seconds(30));
  };
  ASSERT_TRUE(k.WaitCaughtUp("users-to-kafka")) << k.log();  // the empty snapshot is done

  for (int i = 0; i < 3; ++i) ASSERT_EQ(200, k.Put("p" + std::to_string(i), 1));
  ASSERT_TRUE(k.WaitCaughtUp("users-to-kafka", 3)) << k.log();
  EXPECT_EQ(3u, MustConsume(bootstrap, "keystone.users").size());

  auto r = cli({"source", "pause", "users-to-kafka"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  ASSERT_TRUE(
      WaitUntil([&] { return k.Source("users-to-kafka")["state"] == "PAUSED"; }, seconds(30)));
  for (int i = 3; i < 6; ++i) ASSERT_EQ(200, k.Put("p" + std::to_string(i), 1));
  // The source sees the three new records and publishes none of them.
  ASSERT_TRUE(
      WaitUntil([&] { return k.Source("users-to-kafka")["lag_records"] == "3"; }, seconds(30)));
  EXPECT_EQ(3u, MustConsume(bootstrap, "keystone.users").size());
  r = cli({"sources"});
  EXPECT_EQ(0, r.exit_code) << r.err;
  EXPECT_NE(std::string::npos, r.out.find("users-to-kafka")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("PAUSED")) << r.out;

  r = cli({"source", "resume", "users-to-kafka"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  ASSERT_TRUE(k.WaitCaughtUp("users-to-kafka", 6)) << k.log();
  EXPECT_EQ(6u, MustConsume(bootstrap, "keystone.users").size());

  // Unknown sources and actions are clear errors.
  r = cli({"source", "pause", "nope"});
  EXPECT_EQ(1, r.exit_code);
  EXPECT_NE(std::string::npos, r.err.find("no source named 'nope'")) << r.err;
  httplib::Client admin("127.0.0.1", k.port());
  auto bad = admin.Post("/sources/users-to-kafka/position", "", "");
  ASSERT_TRUE(bad);
  EXPECT_EQ(400, bad->status);

  // Restart: the source continues after its stored position; no snapshot
  // (no op "r"), nothing lost, nothing repeated.
  ASSERT_EQ(0, k.Stop()) << k.log();
  ASSERT_TRUE(k.Start()) << k.log();
  ASSERT_EQ(200, k.Put("p6", 1));
  ASSERT_EQ(200, k.Put("p0", 2));
  ASSERT_TRUE(k.WaitCaughtUp("users-to-kafka", 8)) << k.log();
  std::vector<ConsumedMessage> all = MustConsume(bootstrap, "keystone.users");
  EXPECT_EQ(8u, all.size());
  std::set<std::string> seqs;
  for (const auto& m : all) {
    rapidjson::Document v = Json(m.value);
    EXPECT_NE("r", Str(v, "op")) << "re-snapshotted after a restart";
    EXPECT_TRUE(seqs.insert(m.Header("keystone.seq").value_or("")).second)
        << "repeated " << m.Header("keystone.seq").value_or("");
  }
  EXPECT_EQ(0, k.Stop()) << k.log();
}

TEST(KeystonedKafkaTest, SighupAddsRemovesAndRestartsSources) {
  TempDir dir;
  auto mock = MockKafka::Start(1, {});
  ASSERT_TRUE(mock.ok()) << mock.status().ToString();
  const std::string bootstrap = (*mock)->bootstrap();
  const std::string base = UsersTable() + KafkaSection(bootstrap) + "sources:\n";
  KafkaKeystoned k(dir, base + Source("one", "t.{source}", "debezium"));
  ASSERT_TRUE(k.Start()) << k.log();
  ASSERT_TRUE(k.WaitCaughtUp("one")) << k.log();
  ASSERT_EQ(200, k.Put("a", 1));
  ASSERT_TRUE(k.WaitCaughtUp("one", 1)) << k.log();

  k.set_body(base + Source("two", "t.{source}", "dynamodb"));
  k.WriteConfig();
  ASSERT_TRUE(k.process().Signal(SIGHUP));
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto doc = k.Sources();
        return doc.Size() == 1 && std::string(doc[0]["name"].GetString()) == "two";
      },
      seconds(30)))
      << k.log();
  // The new source snapshots the table (it has no position yet).
  ASSERT_TRUE(k.WaitCaughtUp("two", 1)) << k.log();
  EXPECT_EQ(1u, MustConsume(bootstrap, "t.two").size());
  std::string log = k.log();
  EXPECT_NE(std::string::npos, log.find("source 'one' removed")) << log;
  EXPECT_NE(std::string::npos, log.find("source 'two' added")) << log;

  // A changed source restarts from its stored position: no new snapshot,
  // nothing published twice, nothing lost; the log names what changed.
  ASSERT_EQ(200, k.Put("b", 1));
  ASSERT_TRUE(k.WaitCaughtUp("two", 2)) << k.log();
  k.set_body(base + Source("two", "t.{source}", "dynamodb") + "    batch_size: 7\n");
  k.WriteConfig();
  ASSERT_TRUE(k.process().Signal(SIGHUP));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return k.log().find(
                   "source 'two' changed (batch_size): restarting it from its stored "
                   "position") != std::string::npos;
      },
      seconds(30)))
      << k.log();
  ASSERT_EQ(200, k.Put("c", 1));
  ASSERT_TRUE(k.WaitCaughtUp("two", 3)) << k.log();
  std::vector<ConsumedMessage> two = MustConsume(bootstrap, "t.two");
  ASSERT_EQ(3u, two.size());
  // Keys may sit on different partitions: compare them as a set.
  std::multiset<std::string> pks;
  for (const ConsumedMessage& m : two) {
    rapidjson::Document key = Json(m.key);
    pks.insert(key.IsObject() && key.HasMember("pk") ? Str(key, "pk") : m.key.value_or("?"));
  }
  EXPECT_EQ((std::multiset<std::string>{"a", "b", "c"}), pks);
  EXPECT_EQ(0, k.Stop()) << k.log();
}

// Time to Live set in the config: an expired item is deleted by keystoned's
// sweeper, and the delete reaches Kafka marked as TTL's in both formats
// (read back with python3-kafka); the metric counts it.
TEST(KeystonedKafkaTest, TimeToLiveDeletesReachKafkaMarkedInBothFormats) {
  TempDir dir;
  auto mock = MockKafka::Start(1, {});
  ASSERT_TRUE(mock.ok()) << mock.status().ToString();
  const std::string bootstrap = (*mock)->bootstrap();
  KafkaKeystoned k(dir, UsersTable() + "    ttl: {attribute: exp}\n" + KafkaSection(bootstrap) +
                            "sources:\n" + Source("users-debezium", "deb.{table}", "debezium") +
                            Source("users-ddb", "ddb.{table}", "dynamodb"));
  ASSERT_TRUE(k.Start()) << k.log();
  ASSERT_TRUE(k.WaitCaughtUp("users-debezium")) << k.log();
  ASSERT_TRUE(k.WaitCaughtUp("users-ddb")) << k.log();
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  for (const auto& [pk, exp] : {std::pair<std::string, int64_t>{"gone", now_s - 10},
                                std::pair<std::string, int64_t>{"kept", now_s + 3600}}) {
    ASSERT_EQ(200, k.Call("PutItem", R"({"TableName":"users","Item":{"pk":{"S":")" + pk +
                                         R"("},"exp":{"N":")" + std::to_string(exp) + R"("}}})")
                       .first);
  }
  // Two puts, then the sweeper's delete.
  ASSERT_TRUE(k.WaitCaughtUp("users-debezium", 3)) << k.log();
  ASSERT_TRUE(k.WaitCaughtUp("users-ddb", 3)) << k.log();

  // Order is kept per key only (the two keys may sit on different
  // partitions), so the operations are compared key by key.
  std::vector<ConsumedMessage> deb = MustConsume(bootstrap, "deb.users");
  std::map<std::string, std::vector<std::string>> deb_ops_by_pk;
  for (const ConsumedMessage& m : deb) {
    rapidjson::Document key = Json(m.key);
    std::vector<std::string>& deb_ops = deb_ops_by_pk[Str(key, "pk")];
    if (!m.value) {
      deb_ops.push_back("tombstone");
      continue;
    }
    rapidjson::Document v = Json(m.value);
    std::string op = Str(v, "op");
    deb_ops.push_back(op);
    const rapidjson::Value& source = At(v, "source");
    bool marked = source.IsObject() && source.HasMember("expired_by_ttl") &&
                  source["expired_by_ttl"].IsBool() && source["expired_by_ttl"].GetBool();
    EXPECT_EQ(op == "d", marked) << *m.value;
    if (op == "d") {
      EXPECT_EQ("gone", Str(At(v, "before"), "pk")) << *m.value;
    }
  }
  EXPECT_EQ((std::map<std::string, std::vector<std::string>>{{"gone", {"c", "d", "tombstone"}},
                                                             {"kept", {"c"}}}),
            deb_ops_by_pk);

  std::vector<ConsumedMessage> ddb = MustConsume(bootstrap, "ddb.users");
  size_t removes = 0;
  for (const ConsumedMessage& m : ddb) {
    if (!m.value) continue;
    rapidjson::Document v = Json(m.value);
    if (Str(v, "eventName") != "REMOVE") {
      EXPECT_FALSE(v.HasMember("userIdentity")) << *m.value;
      continue;
    }
    ++removes;
    const rapidjson::Value& identity = At(v, "userIdentity");
    EXPECT_EQ("Service", Str(identity, "type")) << *m.value;
    EXPECT_EQ("dynamodb.amazonaws.com", Str(identity, "principalId")) << *m.value;
  }
  EXPECT_EQ(1u, removes);
  EXPECT_NE(std::string::npos, k.Scrape().find("keystone_ttl_expired_items_total 1"));
  EXPECT_EQ(0, k.Stop()) << k.log();
}

TEST(KeystonedKafkaTest, EmbeddedBrokerServesKcatAndMetricsPassPromtool) {
  TempDir dir;
  KafkaKeystoned k(dir, UsersTable() + "kafka:\n  bootstrap_servers: embedded\nsources:\n" +
                            Source("users-to-kafka", "keystone.{table}", "debezium"));
  ASSERT_TRUE(k.Start()) << k.log();
  ASSERT_TRUE(k.WaitCaughtUp("users-to-kafka")) << k.log();
  std::smatch match;
  std::string log = k.log();
  const std::regex re(
      "embedded development Kafka broker \\(in-memory, for development only\\) at "
      "([0-9.:,]+)");
  ASSERT_TRUE(std::regex_search(log, match, re)) << log;
  const std::string bootstrap = match[1];

  CommandResult put =
      RunCommand({"/usr/bin/aws", "dynamodb", "put-item", "--endpoint-url", k.endpoint(),
                  "--table-name", "users", "--item", R"({"pk":{"S":"alice"},"v":{"N":"1"}})"},
                 {{"AWS_ACCESS_KEY_ID", "dummy"},
                  {"AWS_SECRET_ACCESS_KEY", "dummy"},
                  {"AWS_DEFAULT_REGION", "us-east-1"},
                  {"AWS_CONFIG_FILE", "/dev/null"},
                  {"AWS_SHARED_CREDENTIALS_FILE", "/dev/null"},
                  {"AWS_PAGER", ""}},
                 seconds(60));
  ASSERT_EQ(0, put.exit_code) << put.err;
  ASSERT_TRUE(k.WaitCaughtUp("users-to-kafka", 1)) << k.log();
  auto got = ConsumeWithKcat(bootstrap, "keystone.users", milliseconds(60000));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(1u, got->size());
  rapidjson::Document v = Json((*got)[0].value);
  EXPECT_EQ("c", Str(v, "op"));
  EXPECT_EQ("alice", Str(At(v, "after"), "pk"));

  // promtool: the shipped alert rules, and a scrape of this keystoned.
  // A missing promtool is a set-up fault (deploy/install-deps.sh installs it),
  // never a reason to leave the rules unchecked.
  ASSERT_EQ(0, access("/usr/bin/promtool", X_OK))
      << "promtool is not installed (run deploy/install-deps.sh); alert rules unchecked";
  CommandResult rules =
      RunCommand({"/usr/bin/promtool", "check", "rules",
                  std::string(KEYSTONE_SOURCE_DIR) + "/deploy/prometheus/alerts.yml"});
  EXPECT_EQ(0, rules.exit_code) << rules.out << rules.err;
  std::string scrape = k.Scrape();
  EXPECT_NE(std::string::npos,
            scrape.find("keystone_stream_buffer_utilisation_ratio{table=\"users\"}"))
      << scrape;
  CommandResult metrics =
      RunCommand({"/usr/bin/promtool", "check", "metrics"}, {}, seconds(30), scrape);
  // promtool check metrics exits 1 for lint findings too; fail only on
  // parse errors, and show lint findings.
  EXPECT_EQ(std::string::npos, metrics.err.find("error while linting")) << metrics.err;
  EXPECT_EQ(std::string::npos, metrics.out.find("error while linting")) << metrics.out;
  EXPECT_EQ(0, k.Stop()) << k.log();
}

}  // namespace
}  // namespace keystone::testing
