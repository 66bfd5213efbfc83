#include "config/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>

#include "kafka_sink/kafka_options.h"
#include "tests/testing/temp_dir.h"

namespace keystone::config {
namespace {

using cdc::SourceOptions;
using daemon::DaemonOptions;
using store::AttributeType;
using store::AttributeValue;
using store::StreamViewType;
using store::TableSchema;

// An environment of fixed variables, so that tests need not setenv.
EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Result<DaemonOptions> Parse(const std::string& yaml,
                            const std::map<std::string, std::string>& env = {}) {
  return ParseConfig(yaml, "keystoned.yaml", FakeEnv(env));
}

// StoreOptions has no operator==; compare what config sets and what it
// leaves at StoreOptions' defaults.
void ExpectStoreEq(const store::StoreOptions& want, const store::StoreOptions& got) {
  EXPECT_EQ(want.path, got.path);
  EXPECT_EQ(want.sync, got.sync);
  EXPECT_EQ(want.initial_map_size, got.initial_map_size);
  EXPECT_EQ(want.max_map_size, got.max_map_size);
  EXPECT_EQ(want.max_batch_writes, got.max_batch_writes);
  EXPECT_EQ(want.pin_max_records, got.pin_max_records);
  EXPECT_EQ(want.pin_max_bytes, got.pin_max_bytes);
  EXPECT_EQ(want.max_readers, got.max_readers);
  EXPECT_EQ(want.clock, got.clock);
}

void ExpectOptionsEq(const DaemonOptions& want, const DaemonOptions& got) {
  ExpectStoreEq(want.store, got.store);
  EXPECT_EQ(want.http, got.http);
  EXPECT_EQ(want.metrics, got.metrics);
  EXPECT_EQ(want.auth, got.auth);
  EXPECT_EQ(want.logging, got.logging);
  EXPECT_EQ(want.tables, got.tables);
  EXPECT_EQ(want.kafka, got.kafka);
  ASSERT_EQ(want.sources.size(), got.sources.size());
  for (size_t i = 0; i < want.sources.size(); ++i) {
    EXPECT_EQ(want.sources[i], got.sources[i]) << "sources[" << i << "]";
  }
}

TableSchema UsersTable() {
  TableSchema t;
  t.name = "users";
  t.partition_key = {"pk", AttributeType::kS};
  t.sort_key = store::KeyAttribute{"sk", AttributeType::kS};
  t.stream = {true, StreamViewType::kNewAndOldImages, 1000};
  return t;
}

// The "Fixed names" config shape of ARCHITECTURE.md, verbatim.
constexpr char kArchitectureExample[] = R"(data_dir: ./data                 # LMDB environment
sync: full                       # full | nosync
http:    { listen: 127.0.0.1:8000 }
metrics: { listen: 127.0.0.1:9464 }
tables:
  - name: users
    partition_key: { name: pk, type: S }
    sort_key:      { name: sk, type: S }          # optional
    stream: { enabled: true, view_type: NEW_AND_OLD_IMAGES, buffer_size: 1000 }
kafka:
  bootstrap_servers: embedded    # or "host:port,host:port"
  properties: { compression.type: lz4 }           # passed to librdkafka
sources:
  - name: users-to-kafka
    table: users
    topic: "keystone.{table}"
    format: debezium             # debezium | dynamodb
    batch_size: 500
    batch_timeout_ms: 50
)";

DaemonOptions ArchitectureExampleOptions() {
  DaemonOptions want;
  want.store.path = "./data";
  want.store.sync = true;
  want.http.listen = "127.0.0.1:8000";
  want.metrics.listen = "127.0.0.1:9464";
  want.tables = {UsersTable()};
  want.kafka.bootstrap_servers = "embedded";
  want.kafka.properties = {{"compression.type", "lz4"}};
  SourceOptions source;
  source.name = "users-to-kafka";
  source.table = "users";
  source.topic = "keystone.{table}";
  source.format = cdc::EventFormat::kDebezium;
  source.batch_size = 500;
  source.batch_timeout_ms = 50;
  want.sources = {source};
  return want;
}

TEST(ConfigTest, ArchitectureExampleParses) {
  Result<DaemonOptions> got = Parse(kArchitectureExample);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ExpectOptionsEq(ArchitectureExampleOptions(), *got);
}

TEST(ConfigTest, DeployConfigParses) {
  Result<DaemonOptions> got =
      LoadConfigFile(std::string(KEYSTONE_SOURCE_DIR) + "/deploy/keystoned.yaml", FakeEnv({}));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  // The deployed default is the architecture's example.
  ExpectOptionsEq(ArchitectureExampleOptions(), *got);
}

TEST(ConfigTest, EmptyDocumentGivesDefaults) {
  for (const char* text : {"", "# only a comment\n", "~\n", "---\n"}) {
    Result<DaemonOptions> got = Parse(text);
    ASSERT_TRUE(got.ok()) << text << ": " << got.status().ToString();
    ExpectOptionsEq(DaemonOptions{}, *got);
  }
}

TEST(ConfigTest, DefaultsAreTheDocumentedOnes) {
  Result<DaemonOptions> got = Parse(R"(
tables:
  - name: items
    partition_key: {name: id, type: N}
sources:
  - name: items-out
    table: items
)");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  const DaemonOptions& o = *got;
  EXPECT_EQ("./data", o.store.path);
  EXPECT_TRUE(o.store.sync);
  EXPECT_EQ(64ull << 20, o.store.initial_map_size);
  EXPECT_EQ(0u, o.store.max_map_size);
  EXPECT_EQ(10'000'000u, o.store.pin_max_records);
  EXPECT_EQ(4ull << 30, o.store.pin_max_bytes);
  EXPECT_EQ("127.0.0.1:8000", o.http.listen);
  EXPECT_EQ(16u << 20, o.http.max_body_bytes);
  EXPECT_EQ(8u, o.http.worker_threads);
  EXPECT_EQ(512u, o.http.max_connections);
  EXPECT_EQ(30000u, o.http.request_timeout_ms);
  EXPECT_EQ(60000u, o.http.request_read_timeout_ms);
  EXPECT_FALSE(o.http.tls.has_value());
  EXPECT_EQ("127.0.0.1:9464", o.metrics.listen);
  EXPECT_TRUE(o.metrics.enabled);
  EXPECT_TRUE(o.auth.access_keys.empty());
  EXPECT_EQ("us-east-1", o.auth.region);
  EXPECT_EQ(LogLevel::kInfo, o.logging.level);
  EXPECT_EQ(daemon::LogFormat::kText, o.logging.format);
  EXPECT_EQ(30000u, o.health.stall_timeout_ms);
  EXPECT_EQ(30000u, o.shutdown_timeout_ms);
  EXPECT_EQ("embedded", o.kafka.bootstrap_servers);
  EXPECT_EQ("keystone", o.kafka.client_id);
  EXPECT_EQ(1, o.kafka.embedded_brokers);

  ASSERT_EQ(1u, o.tables.size());
  const TableSchema& t = o.tables[0];
  EXPECT_EQ((store::KeyAttribute{"id", AttributeType::kN}), t.partition_key);
  EXPECT_FALSE(t.sort_key.has_value());
  EXPECT_TRUE(t.stream.enabled);
  EXPECT_EQ(StreamViewType::kNewAndOldImages, t.stream.view_type);
  EXPECT_EQ(1000u, t.stream.buffer_size);

  ASSERT_EQ(1u, o.sources.size());
  const SourceOptions& s = o.sources[0];
  EXPECT_EQ("keystone.{table}", s.topic);
  EXPECT_EQ(cdc::EventFormat::kDebezium, s.format);
  EXPECT_FALSE(s.view_type.has_value());
  EXPECT_TRUE(s.include_before);
  EXPECT_EQ(500u, s.batch_size);
  EXPECT_EQ(0u, s.batch_timeout_ms);
  EXPECT_EQ(10000u, s.max_in_flight_records);
  EXPECT_EQ(64u << 20, s.max_in_flight_bytes);
  EXPECT_TRUE(s.tombstones);
  EXPECT_FALSE(s.debezium_schema);
  EXPECT_EQ(cdc::SnapshotMode::kInitial, s.snapshot);
  EXPECT_EQ(1000u, s.snapshot_chunk_size);
  EXPECT_EQ(cdc::GapPolicy::kFail, s.on_gap);
  EXPECT_EQ(cdc::DeliveryMode::kAtLeastOnce, s.delivery);
  EXPECT_EQ(cdc::PermanentErrorPolicy::kFail, s.on_permanent_error);
  EXPECT_EQ("", s.dead_letter_topic);
  EXPECT_EQ(cdc::OversizePolicy::kFail, s.oversize);
  EXPECT_EQ(0u, s.heartbeat_interval_ms);
  EXPECT_EQ(4u, s.filters.event_types.size());
  EXPECT_TRUE(s.transforms.empty());
  EXPECT_FALSE(s.skip_noop_updates);
  EXPECT_FALSE(s.aggregate.has_value());
}

// Every key set to something other than its default.
constexpr char kFullConfig[] = R"(
data_dir: /var/lib/keystone
sync: nosync
map_size: {initial: 128MiB, max: 2GiB}
stream_retention: {pin_max_records: 5000, pin_max_bytes: 1 GiB}
http:
  listen: "[::1]:8443"
  max_body_bytes: 1048576
  worker_threads: 4
  max_connections: 64
  request_timeout_ms: 1500
  request_read_timeout_ms: 2500
  keep_alive_max_count: 0
  tls: {cert_file: /etc/keystone/cert.pem, key_file: /etc/keystone/key.pem}
metrics: {listen: "0.0.0.0:9999", enabled: false}
auth:
  access_keys:
    - {access_key_id: AKIDEXAMPLE, secret_access_key: "wJalr$$XUtn"}
    - {access_key_id: AKID2, secret_access_key: other-secret}
  region: eu-west-1
logging: {level: debug, format: json}
health: {stall_timeout_ms: 4000}
shutdown_timeout_ms: 5000
tables:
  - name: orders
    partition_key: {name: customer, type: S}
    sort_key: {name: order_id, type: N}
    stream: {enabled: true, view_type: NEW_AND_OLD_IMAGES, buffer_size: 50000}
    ttl: {attribute: expires_at}
    indexes:
      - name: by_status
        partition_key: {name: status, type: S}
        sort_key: {name: placed_at, type: N}
        projection: INCLUDE
        non_key_attributes: [amount, currency]
      - {name: by_placed, kind: local, sort_key: {name: placed_at, type: N}, projection: KEYS_ONLY}
  - name: blobs
    partition_key: {name: hash, type: B}
    stream: {enabled: false, view_type: KEYS_ONLY, buffer_size: 7}
kafka:
  bootstrap_servers: "kafka-1:9092,kafka-2:9092"
  properties:
    compression.type: zstd
    linger.ms: 5
    sasl.password: hunter2
    ssl.key.password: keypass
  embedded_brokers: 3
  client_id: keystone-prod
  topic_creation: {create_topics: false, partitions: 12, replication_factor: 3}
sources:
  - name: orders-debezium
    table: orders
    topic: "cdc.{source}.{table}"
    format: dynamodb
    view_type: NEW_IMAGE
    include_before: false
    batch_size: 1000
    batch_timeout_ms: 0
    max_in_flight_records: 20000
    max_in_flight_bytes: 128MiB
    tombstones: false
    debezium_schema: true
    snapshot: when_needed
    snapshot_chunk_size: 250
    on_gap: resnapshot
    delivery: exactly_once
    on_permanent_error: dead_letter
    dead_letter_topic: "dlq.{source}"
    oversize: key_only
    heartbeat_interval_ms: 10000
    filters:
      event_types: [INSERT, MODIFY]
      key_prefix: "customer#"
      key_glob: "customer#*"
      condition: "#s = :active AND amount > :min"
      names: {"#s": status}
      values:
        ":active": {S: active}
        ":min": {N: "10.50"}
        ":tags": {SS: [b, a]}
        ":blob": {B: "AAEC"}
        ":nested": {M: {flag: {BOOL: true}, none: {NULL: true}, list: {L: [{N: "1"}, {S: x}]}}}
        ":nums": {NS: ["1", "2"]}
        ":bins": {BS: ["AA==", "AQ=="]}
    transforms:
      - {type: keep, attributes: [customer, order_id, amount, email, note]}
      - {type: drop, attributes: [note]}
      - {type: rename, from: amount, to: total}
      - {type: mask, attributes: [email]}
      - {type: mask, attributes: [phone], value: "xxx"}
      - {type: hash, attributes: [customer]}
      - {type: add_field, name: origin, value: keystone}
      - {type: add_header, name: x-source, value: "{source}"}
    skip_noop_updates: true
    aggregate: {window_seconds: 300, functions: [count, sum, max], attribute: total, group_by: customer}
  - name: blobs-snapshot
    table: blobs
    snapshot: initial_only
)";

DaemonOptions FullConfigOptions() {
  DaemonOptions o;
  o.store.path = "/var/lib/keystone";
  o.store.sync = false;
  o.store.initial_map_size = 128ull << 20;
  o.store.max_map_size = 2ull << 30;
  o.store.pin_max_records = 5000;
  o.store.pin_max_bytes = 1ull << 30;
  o.http.listen = "[::1]:8443";
  o.http.max_body_bytes = 1 << 20;
  o.http.worker_threads = 4;
  o.http.max_connections = 64;
  o.http.request_timeout_ms = 1500;
  o.http.request_read_timeout_ms = 2500;
  o.http.keep_alive_max_count = 0;
  o.http.tls = daemon::TlsOptions{"/etc/keystone/cert.pem", "/etc/keystone/key.pem"};
  o.metrics = {"0.0.0.0:9999", false};
  o.auth.access_keys = {{"AKIDEXAMPLE", "wJalr$XUtn"}, {"AKID2", "other-secret"}};
  o.auth.region = "eu-west-1";
  o.logging = {LogLevel::kDebug, daemon::LogFormat::kJson};
  o.health.stall_timeout_ms = 4000;
  o.shutdown_timeout_ms = 5000;

  TableSchema orders;
  orders.name = "orders";
  orders.partition_key = {"customer", AttributeType::kS};
  orders.sort_key = store::KeyAttribute{"order_id", AttributeType::kN};
  orders.stream = {true, StreamViewType::kNewAndOldImages, 50000};
  orders.ttl = {true, "expires_at"};
  store::SecondaryIndex by_status;
  by_status.name = "by_status";
  by_status.partition_key = {"status", AttributeType::kS};
  by_status.sort_key = store::KeyAttribute{"placed_at", AttributeType::kN};
  by_status.projection = {store::ProjectionType::kInclude, {"amount", "currency"}};
  store::SecondaryIndex by_placed;
  by_placed.name = "by_placed";
  by_placed.global = false;
  by_placed.partition_key = orders.partition_key;
  by_placed.sort_key = store::KeyAttribute{"placed_at", AttributeType::kN};
  by_placed.projection.type = store::ProjectionType::kKeysOnly;
  orders.indexes = {by_status, by_placed};
  TableSchema blobs;
  blobs.name = "blobs";
  blobs.partition_key = {"hash", AttributeType::kB};
  blobs.stream = {false, StreamViewType::kKeysOnly, 7};
  o.tables = {orders, blobs};

  o.kafka.bootstrap_servers = "kafka-1:9092,kafka-2:9092";
  o.kafka.properties = {{"compression.type", "zstd"},
                        {"linger.ms", "5"},
                        {"sasl.password", "hunter2"},
                        {"ssl.key.password", "keypass"}};
  o.kafka.embedded_brokers = 3;
  o.kafka.client_id = "keystone-prod";
  o.kafka.topic_creation = {false, 12, 3};

  SourceOptions s;
  s.name = "orders-debezium";
  s.table = "orders";
  s.topic = "cdc.{source}.{table}";
  s.format = cdc::EventFormat::kDynamoDb;
  s.view_type = StreamViewType::kNewImage;
  s.include_before = false;
  s.batch_size = 1000;
  s.batch_timeout_ms = 0;
  s.max_in_flight_records = 20000;
  s.max_in_flight_bytes = 128ull << 20;
  s.tombstones = false;
  s.debezium_schema = true;
  s.snapshot = cdc::SnapshotMode::kWhenNeeded;
  s.snapshot_chunk_size = 250;
  s.on_gap = cdc::GapPolicy::kResnapshot;
  s.delivery = cdc::DeliveryMode::kExactlyOnce;
  s.on_permanent_error = cdc::PermanentErrorPolicy::kDeadLetter;
  s.dead_letter_topic = "dlq.{source}";
  s.oversize = cdc::OversizePolicy::kKeyOnly;
  s.heartbeat_interval_ms = 10000;
  s.filters.event_types = {cdc::EventType::kInsert, cdc::EventType::kModify};
  s.filters.key_prefix = "customer#";
  s.filters.key_glob = "customer#*";
  s.filters.condition = "#s = :active AND amount > :min";
  s.filters.names = {{"#s", "status"}};
  s.filters.values = {
      {":active", AttributeValue::S("active")},
      {":min", AttributeValue::N("10.5")},
      {":tags", AttributeValue::SS({"a", "b"})},
      {":blob", AttributeValue::B(std::string("\x00\x01\x02", 3))},
      {":nested", AttributeValue::M({{"flag", AttributeValue::Bool(true)},
                                     {"none", AttributeValue::Null()},
                                     {"list", AttributeValue::L({AttributeValue::N(int64_t{1}),
                                                                 AttributeValue::S("x")})}})},
      {":nums", AttributeValue::NS({store::Number::FromInt(1), store::Number::FromInt(2)})},
      {":bins", AttributeValue::BS({std::string("\x00", 1), std::string("\x01", 1)})},
  };
  using cdc::TransformType;
  s.transforms = {
      {TransformType::kKeep, {"customer", "order_id", "amount", "email", "note"}, "", "", "", ""},
      {TransformType::kDrop, {"note"}, "", "", "", ""},
      {TransformType::kRename, {}, "amount", "total", "", ""},
      {TransformType::kMask, {"email"}, "", "", "", "****"},
      {TransformType::kMask, {"phone"}, "", "", "", "xxx"},
      {TransformType::kHash, {"customer"}, "", "", "", ""},
      {TransformType::kAddField, {}, "", "", "origin", "keystone"},
      {TransformType::kAddHeader, {}, "", "", "x-source", "{source}"},
  };
  s.skip_noop_updates = true;
  s.aggregate = cdc::AggregateOptions{
      300,
      {cdc::AggregateFunction::kCount, cdc::AggregateFunction::kSum, cdc::AggregateFunction::kMax},
      "total",
      "customer"};
  SourceOptions snapshot_only;
  snapshot_only.name = "blobs-snapshot";
  snapshot_only.table = "blobs";
  snapshot_only.snapshot = cdc::SnapshotMode::kInitialOnly;
  o.sources = {s, snapshot_only};
  return o;
}

TEST(ConfigTest, EveryKeyParses) {
  Result<DaemonOptions> got = Parse(kFullConfig);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ExpectOptionsEq(FullConfigOptions(), *got);
}

TEST(ConfigTest, SizesTakeUnits) {
  const std::pair<const char*, uint64_t> cases[] = {
      {"1048576", 1ull << 20},    {"1MiB", 1ull << 20},        {"64 MiB", 64ull << 20},
      {"1GiB", 1ull << 30},       {"2TiB", 2ull << 40},        {"2048KiB", 2ull << 20},
      {"2000000B", 2'000'000},    {"5MB", 5'000'000},          {"3GB", 3'000'000'000},
      {"1TB", 1'000'000'000'000}, {"\"${SIZE}\"", 3ull << 20}, {"16TiB", 16ull << 40},
  };
  for (const auto& [text, bytes] : cases) {
    Result<DaemonOptions> got =
        Parse(std::string("map_size: {max: 16TiB, initial: ") + text + "}\n", {{"SIZE", "3MiB"}});
    ASSERT_TRUE(got.ok()) << text << ": " << got.status().ToString();
    EXPECT_EQ(bytes, got->store.initial_map_size) << text;
  }
  for (const char* bad : {"1.5GiB", "-1MiB", "1 gib", "1MiBs", "MiB", "17TiB", "0x100000",
                          "99999999999999999999", "1048575"}) {
    Result<DaemonOptions> got =
        Parse(std::string("map_size: {max: 16TiB, initial: ") + bad + "}\n");
    EXPECT_FALSE(got.ok()) << bad;
  }
}

TEST(ConfigTest, ListenAddresses) {
  for (const char* good : {"127.0.0.1:1", "0.0.0.0:65535", "localhost:8000", "[::]:80",
                           "[::1]:9464", "my-host.example.com:9"}) {
    Result<DaemonOptions> got = Parse(std::string("http: {listen: \"") + good + "\"}\n");
    ASSERT_TRUE(got.ok()) << good << ": " << got.status().ToString();
    EXPECT_EQ(good, got->http.listen);
  }
  // IPv6 zone ids ("%eth0") are not supported either.
  for (const char* bad :
       {"8000", ":8000", "localhost:", "localhost:0", "localhost:65536", "::1:80", "[::1]",
        "host name:80", "[]:80", "a:+80", "a:080000", "[fe80::1%eth0]:80"}) {
    EXPECT_FALSE(Parse(std::string("http: {listen: \"") + bad + "\"}\n").ok()) << bad;
  }
}

// --- errors ---------------------------------------------------------------

struct ErrorCase {
  const char* name;
  std::string yaml;
  std::string message;
};

std::ostream& operator<<(std::ostream& os, const ErrorCase& c) { return os << c.name; }

// Three lines, so that a source's first line is line 5.
const std::string kUsers =
    "tables:\n"
    "  - name: users\n"
    "    partition_key: {name: pk, type: S}\n";
const std::string kKeysOnlyUsers =
    "tables:\n"
    "  - name: users\n"
    "    partition_key: {name: pk, type: S}\n"
    "    stream: {view_type: KEYS_ONLY}\n";
// A source on kUsers; its next key is at line 7, column 5.
const std::string kSource = kUsers +
                            "sources:\n"
                            "  - name: s1\n"
                            "    table: users\n";

const char kSizeUnits[] = "(bytes, or a number with a unit B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)";

class ConfigErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrorTest, NamesFileLineColumnKeyAndExpectation) {
  const ErrorCase& c = GetParam();
  // With the check the daemon passes, so that kafka.properties rows are
  // checked by librdkafka itself (whose reasons name a property by its
  // canonical name: compression.codec for compression.type).
  Result<DaemonOptions> got = ParseConfig(
      c.yaml, "keystoned.yaml", FakeEnv({{"SET", "x"}, {"EMPTY", ""}}), kafka::CheckProperty);
  ASSERT_FALSE(got.ok()) << c.yaml;
  EXPECT_EQ(StatusCode::kInvalidArgument, got.status().code());
  EXPECT_EQ(c.message, got.status().message()) << c.yaml;
}

INSTANTIATE_TEST_SUITE_P(
    Rows, ConfigErrorTest,
    ::testing::Values(
        // Syntax and document shape.
        ErrorCase{"SyntaxUnclosedFlowMap", "http: {listen: x\n",
                  "keystoned.yaml:2:1: end of map flow not found"},
        ErrorCase{"SyntaxIllegalMapValue", "http: listen: x\n",
                  "keystoned.yaml:1:13: illegal map value"},
        ErrorCase{"SyntaxUndefinedAlias", "http: *missing\n",
                  "keystoned.yaml:1:7: the referenced anchor is not defined"},
        ErrorCase{"TopLevelList", "- data_dir\n",
                  "keystoned.yaml:1:1: the top level must be a mapping"},
        ErrorCase{"TwoDocuments", "sync: full\n---\nsync: full\n",
                  "keystoned.yaml:2:1: only one YAML document is allowed"},
        // Keys.
        ErrorCase{"UnknownTopLevelKey", "data_dir: ./data\nsync: full\nhtpp: {}\n",
                  "keystoned.yaml:3:1: unknown key 'htpp' (expected one of: data_dir, sync, "
                  "map_size, stream_retention, http, metrics, auth, logging, health, "
                  "shutdown_timeout_ms, tables, kafka, "
                  "sources)"},
        ErrorCase{"UnknownNestedKey", "http:\n  lisen: 127.0.0.1:80\n",
                  "keystoned.yaml:2:3: http: unknown key 'lisen' (expected one of: listen, "
                  "max_body_bytes, worker_threads, max_connections, request_timeout_ms, "
                  "request_read_timeout_ms, keep_alive_max_count, tls)"},
        ErrorCase{"DuplicateKey", "sync: full\nsync: nosync\n",
                  "keystoned.yaml:2:1: duplicate key 'sync' (first at line 1)"},
        ErrorCase{"NonStringKey", "[a, b]: 1\n", "keystoned.yaml:1:1: keys must be strings"},
        ErrorCase{"SectionNotAMapping", "http: 8000\n",
                  "keystoned.yaml:1:7: http: must be a mapping"},
        // Scalars.
        ErrorCase{"BadEnum", "sync: maybe\n",
                  "keystoned.yaml:1:7: sync: must be one of: full, nosync"},
        ErrorCase{"EmptyString", "data_dir: ''\n",
                  "keystoned.yaml:1:11: data_dir: must be a non-empty string"},
        ErrorCase{"MissingValue", "data_dir:\n",
                  "keystoned.yaml:1:1: data_dir: must be a non-empty string"},
        ErrorCase{"ListForString", "data_dir: [a]\n",
                  "keystoned.yaml:1:11: data_dir: must be a non-empty string"},
        ErrorCase{"BadBool", "metrics: {enabled: yes}\n",
                  "keystoned.yaml:1:20: metrics.enabled: must be true or false"},
        ErrorCase{"IntegerOutOfRange", "http: {worker_threads: 0}\n",
                  "keystoned.yaml:1:24: http.worker_threads: must be an integer in [1, 1024]"},
        ErrorCase{"ConnectionsOutOfRange", "http: {max_connections: 0}\n",
                  "keystoned.yaml:1:25: http.max_connections: must be an integer in [1, 100000]"},
        ErrorCase{"NotAnInteger", "http: {worker_threads: eight}\n",
                  "keystoned.yaml:1:24: http.worker_threads: must be an integer in [1, 1024]"},
        ErrorCase{"StallTimeoutTooShort", "health: {stall_timeout_ms: 50}\n",
                  "keystoned.yaml:1:28: health.stall_timeout_ms: must be an integer in [100, "
                  "3600000]"},
        ErrorCase{"ShutdownTimeoutTooShort", "shutdown_timeout_ms: 10\n",
                  "keystoned.yaml:1:22: shutdown_timeout_ms: must be an integer in [1000, "
                  "3600000]"},
        ErrorCase{"HealthUnknownKey", "health: {stall: 1}\n",
                  "keystoned.yaml:1:10: health: unknown key 'stall' (expected one of: "
                  "stall_timeout_ms)"},
        ErrorCase{"ReadTimeoutZero", "http: {request_read_timeout_ms: 0}\n",
                  "keystoned.yaml:1:33: http.request_read_timeout_ms: must be an integer in [1, "
                  "3600000]"},
        ErrorCase{"FractionForInteger", "http: {request_timeout_ms: 1.5}\n",
                  "keystoned.yaml:1:28: http.request_timeout_ms: must be an integer in [1, "
                  "3600000]"},
        ErrorCase{"SizeTooSmall", "map_size: {initial: 1KiB}\n",
                  std::string("keystoned.yaml:1:21: map_size.initial: must be a size in [1MiB, "
                              "16TiB] ") +
                      kSizeUnits},
        ErrorCase{"SizeBadUnit", "http: {max_body_bytes: 2 kb}\n",
                  std::string("keystoned.yaml:1:24: http.max_body_bytes: must be a size in "
                              "[1KiB, 1GiB] ") +
                      kSizeUnits},
        ErrorCase{"SizeTooLarge", "http: {max_body_bytes: 2GiB}\n",
                  std::string("keystoned.yaml:1:24: http.max_body_bytes: must be a size in "
                              "[1KiB, 1GiB] ") +
                      kSizeUnits},
        ErrorCase{"MapMaxBelowInitial", "map_size: {initial: 1GiB, max: 512MiB}\n",
                  "keystoned.yaml:1:32: map_size.max: must be 0 (for 1TiB) or at least "
                  "map_size.initial (1GiB)"},
        ErrorCase{"MapInitialAboveDefaultMax", "map_size:\n  initial: 2TiB\n",
                  "keystoned.yaml:2:12: map_size.initial: must not exceed map_size.max (1TiB "
                  "when 0 or unset)"},
        ErrorCase{"PinRecordsZero", "stream_retention: {pin_max_records: 0}\n",
                  "keystoned.yaml:1:37: stream_retention.pin_max_records: must be an integer in "
                  "[1, 1000000000000]"},
        // Listen addresses.
        ErrorCase{"ListenWithoutPort", "http: {listen: localhost}\n",
                  "keystoned.yaml:1:16: http.listen: must be host:port with a port in [1, "
                  "65535]"},
        ErrorCase{"ListenPortTooLarge", "http: {listen: '127.0.0.1:70000'}\n",
                  "keystoned.yaml:1:16: http.listen: must be host:port with a port in [1, "
                  "65535]"},
        ErrorCase{"ListenPortZero", "metrics: {listen: '[::1]:0'}\n",
                  "keystoned.yaml:1:19: metrics.listen: must be host:port with a port in [1, "
                  "65535]"},
        ErrorCase{"ListenWithoutHost", "metrics:\n  listen: \":9464\"\n",
                  "keystoned.yaml:2:11: metrics.listen: must be host:port with a port in [1, "
                  "65535]"},
        // http, auth, logging.
        ErrorCase{"TlsWithoutKey", "http: {tls: {cert_file: a.pem}}\n",
                  "keystoned.yaml:1:13: http.tls: missing required key 'key_file'"},
        ErrorCase{"AccessKeyWithoutSecret", "auth: {access_keys: [{access_key_id: AK1}]}\n",
                  "keystoned.yaml:1:22: auth.access_keys[0]: missing required key "
                  "'secret_access_key'"},
        ErrorCase{"AccessKeyBadId",
                  "auth:\n  access_keys:\n    - {access_key_id: AK-1, "
                  "secret_access_key: s}\n",
                  "keystoned.yaml:3:23: auth.access_keys[0].access_key_id: must be 1 to 128 "
                  "characters of [A-Za-z0-9]"},
        ErrorCase{"DuplicateAccessKey",
                  "auth:\n  access_keys:\n    - {access_key_id: AK1, secret_access_key: s1}\n"
                  "    - {access_key_id: AK1, secret_access_key: s2}\n",
                  "keystoned.yaml:4:23: auth.access_keys[1].access_key_id: duplicate access key "
                  "id 'AK1' (also auth.access_keys[0])"},
        ErrorCase{"BadRegion", "auth: {region: US_EAST}\n",
                  "keystoned.yaml:1:16: auth.region: must be 1 to 64 characters of [a-z0-9-]"},
        ErrorCase{"BadLogLevel", "logging: {level: verbose}\n",
                  "keystoned.yaml:1:18: logging.level: must be one of: debug, info, warn, error"},
        ErrorCase{"BadLogFormat", "logging:\n  format: xml\n",
                  "keystoned.yaml:2:11: logging.format: must be one of: text, json"},
        // Tables.
        ErrorCase{"TablesNotAList", "tables: {name: users}\n",
                  "keystoned.yaml:1:9: tables: must be a list"},
        ErrorCase{"TableWithoutPartitionKey", "tables:\n  - name: users\n",
                  "keystoned.yaml:2:5: tables[0]: missing required key 'partition_key'"},
        ErrorCase{"TableNameTooShort",
                  "tables:\n  - name: ab\n    partition_key: {name: pk, type: S}\n",
                  "keystoned.yaml:2:11: tables[0].name: must be 3 to 255 characters of "
                  "[a-zA-Z0-9_.-]"},
        ErrorCase{"KeyTypeNotScalarType",
                  "tables:\n  - name: users\n    partition_key: {name: pk, type: M}\n",
                  "keystoned.yaml:3:37: tables[0].partition_key.type: must be one of: S, N, B"},
        ErrorCase{"KeyWithoutName", "tables:\n  - name: users\n    partition_key: {type: S}\n",
                  "keystoned.yaml:3:20: tables[0].partition_key: missing required key 'name'"},
        ErrorCase{"SortKeyNamedLikePartitionKey", kUsers + "    sort_key: {name: pk, type: N}\n",
                  "keystoned.yaml:4:22: tables[0].sort_key.name: must differ from the partition "
                  "key's name 'pk'"},
        ErrorCase{"DuplicateTable",
                  kUsers + "  - name: users\n    partition_key: {name: id, "
                           "type: N}\n",
                  "keystoned.yaml:4:11: tables[1].name: duplicate table name 'users' (also "
                  "tables[0])"},
        ErrorCase{"BadViewType", kUsers + "    stream: {view_type: ALL}\n",
                  "keystoned.yaml:4:25: tables[0].stream.view_type: must be one of: KEYS_ONLY, "
                  "NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES"},
        ErrorCase{"TtlWithoutAttribute", kUsers + "    ttl: {enabled: true}\n",
                  "keystoned.yaml:4:10: tables[0].ttl: missing required key 'attribute'"},
        ErrorCase{"TtlEmptyAttribute", kUsers + "    ttl: {attribute: ''}\n",
                  "keystoned.yaml:4:22: tables[0].ttl.attribute: must be a non-empty string"},
        ErrorCase{"TtlDisabledWithAttribute", kUsers + "    ttl: {enabled: false, attribute: e}\n",
                  "keystoned.yaml:4:38: tables[0].ttl.attribute: must be absent when enabled is "
                  "false"},
        ErrorCase{
            "TtlUnknownKey", kUsers + "    ttl: {attr: e}\n",
            "keystoned.yaml:4:11: tables[0].ttl: unknown key 'attr' (expected one of: enabled, "
            "attribute)"},
        ErrorCase{"IndexWithoutPartitionKey", kUsers + "    indexes:\n      - {name: by_x}\n",
                  "keystoned.yaml:5:9: tables[0].indexes[0]: missing required key "
                  "'partition_key'"},
        ErrorCase{"IndexBadKind",
                  kUsers + "    indexes:\n      - {name: by_x, kind: regional, partition_key: "
                           "{name: x, type: S}}\n",
                  "keystoned.yaml:5:28: tables[0].indexes[0].kind: must be one of: global, local"},
        ErrorCase{"IndexBadProjection",
                  kUsers + "    indexes:\n      - {name: by_x, partition_key: {name: x, type: S}, "
                           "projection: SOME}\n",
                  "keystoned.yaml:5:69: tables[0].indexes[0].projection: must be one of: ALL, "
                  "KEYS_ONLY, INCLUDE"},
        ErrorCase{"IndexIncludeWithoutAttributes",
                  kUsers + "    indexes:\n      - {name: by_x, partition_key: {name: x, type: S}, "
                           "projection: INCLUDE}\n",
                  "keystoned.yaml:5:9: tables[0].indexes[0]: missing required key "
                  "'non_key_attributes' (projection INCLUDE)"},
        ErrorCase{"IndexAttributesWithoutInclude",
                  kUsers + "    indexes:\n      - {name: by_x, partition_key: {name: x, type: S}, "
                           "non_key_attributes: [a]}\n",
                  "keystoned.yaml:5:77: tables[0].indexes[0].non_key_attributes: must be absent "
                  "unless projection is INCLUDE"},
        ErrorCase{"LocalIndexWithPartitionKey",
                  kUsers + "    indexes:\n      - {name: by_x, kind: local, partition_key: "
                           "{name: x, type: S}}\n",
                  "keystoned.yaml:5:50: tables[0].indexes[0].partition_key: must be absent: a "
                  "local index has the table's partition key"},
        ErrorCase{"LocalIndexOnTableWithoutSortKey",
                  kUsers + "    indexes:\n      - {name: by_x, kind: local, sort_key: {name: x, "
                           "type: S}}\n",
                  "keystoned.yaml:5:9: tables[0].indexes[0]: One or more parameter values were "
                  "invalid: Table KeySchema does not have a range key, which is required when "
                  "specifying a LocalSecondaryIndex"},
        ErrorCase{"IndexKeyTypeConflict",
                  kUsers + "    indexes:\n      - {name: by_x, partition_key: {name: pk, type: "
                           "N}}\n",
                  "keystoned.yaml:5:9: tables[0].indexes[0]: One or more parameter values were "
                  "invalid: attribute pk is of type S in one key schema and N in index by_x"},
        ErrorCase{"DuplicateIndex",
                  kUsers + "    indexes:\n      - {name: by_x, partition_key: {name: x, type: S}}"
                           "\n      - {name: by_x, partition_key: {name: y, type: S}}\n",
                  "keystoned.yaml:6:16: tables[0].indexes[1].name: duplicate index name 'by_x'"},
        ErrorCase{"BufferSizeZero", kUsers + "    stream: {buffer_size: 0}\n",
                  "keystoned.yaml:4:27: tables[0].stream.buffer_size: must be an integer in [1, "
                  "1000000000]"},
        // Kafka.
        ErrorCase{"BootstrapWithoutPort", "kafka: {bootstrap_servers: 'k1:9092,k2'}\n",
                  "keystoned.yaml:1:28: kafka.bootstrap_servers: must be 'embedded' or a "
                  "comma-separated list of host:port"},
        ErrorCase{"BootstrapInProperties", "kafka:\n  properties:\n    bootstrap.servers: k:1\n",
                  "keystoned.yaml:3:5: kafka.properties: set 'bootstrap.servers' through "
                  "kafka.bootstrap_servers, not properties"},
        ErrorCase{"PropertyNotScalar", "kafka:\n  properties:\n    compression.type: [lz4]\n",
                  "keystoned.yaml:3:23: kafka.properties.compression.type: must be a string"},
        ErrorCase{"PropertyUnknown", "kafka:\n  properties:\n    compresion.type: lz4\n",
                  "keystoned.yaml:3:5: kafka.properties: unknown property 'compresion.type' (No "
                  "such configuration property: \"compresion.type\")"},
        ErrorCase{"PropertyBadValue", "kafka:\n  properties:\n    compression.type: lz5\n",
                  "keystoned.yaml:3:23: kafka.properties.compression.type: invalid value: Invalid "
                  "value \"lz5\" for configuration property \"compression.codec\""},
        ErrorCase{
            "PropertyOutOfRange", "kafka:\n  properties:\n    linger.ms: -3\n",
            "keystoned.yaml:3:16: kafka.properties.linger.ms: invalid value: Configuration "
            "property \"queue.buffering.max.ms\" value -3 is outside allowed range 0..900000"},
        ErrorCase{"EmbeddedBrokersZero", "kafka: {embedded_brokers: 0}\n",
                  "keystoned.yaml:1:27: kafka.embedded_brokers: must be an integer in [1, 16]"},
        ErrorCase{"PartitionsZero", "kafka: {topic_creation: {partitions: 0}}\n",
                  "keystoned.yaml:1:38: kafka.topic_creation.partitions: must be -1 (the "
                  "broker's default) or an integer in [1, 100000]"},
        // Sources.
        ErrorCase{"SourceWithoutName", kUsers + "sources:\n  - table: users\n",
                  "keystoned.yaml:5:5: sources[0]: missing required key 'name'"},
        ErrorCase{"SourceWithoutTable", kUsers + "sources:\n  - name: s1\n",
                  "keystoned.yaml:5:5: sources[0]: missing required key 'table'"},
        ErrorCase{"SourceBadName",
                  kUsers + "sources:\n  - {name: 'users to kafka', table: "
                           "users}\n",
                  "keystoned.yaml:5:12: sources[0].name: must be 1 to 200 characters of "
                  "[a-zA-Z0-9._-]"},
        ErrorCase{"SourceUnknownTable", kUsers + "sources:\n  - name: s1\n    table: orders\n",
                  "keystoned.yaml:6:12: sources[0].table: unknown table 'orders' (configured "
                  "tables: users)"},
        ErrorCase{"SourceWithoutTables", "sources:\n  - name: s1\n    table: users\n",
                  "keystoned.yaml:3:12: sources[0].table: unknown table 'users' (no tables are "
                  "configured)"},
        ErrorCase{"DuplicateSource", kSource + "  - name: s1\n    table: users\n",
                  "keystoned.yaml:7:11: sources[1].name: duplicate source name 's1' (also "
                  "sources[0])"},
        ErrorCase{"UnknownSourceKey", kSource + "    batchsize: 10\n",
                  "keystoned.yaml:7:5: sources[0]: unknown key 'batchsize' (expected one of: "
                  "name, table, topic, format, view_type, include_before, batch_size, "
                  "batch_timeout_ms, max_in_flight_records, max_in_flight_bytes, tombstones, "
                  "debezium_schema, snapshot, snapshot_chunk_size, on_gap, delivery, "
                  "on_permanent_error, dead_letter_topic, oversize, heartbeat_interval_ms, "
                  "filters, transforms, skip_noop_updates, aggregate)"},
        ErrorCase{"BatchSizeTooLarge", kSource + "    batch_size: 100001\n",
                  "keystoned.yaml:7:17: sources[0].batch_size: must be an integer in [1, "
                  "100000]"},
        ErrorCase{"BatchTimeoutTooLarge", kSource + "    batch_timeout_ms: 60001\n",
                  "keystoned.yaml:7:23: sources[0].batch_timeout_ms: must be an integer in [0, "
                  "60000]"},
        ErrorCase{"InFlightBytesTooSmall", kSource + "    max_in_flight_bytes: 10KiB\n",
                  std::string("keystoned.yaml:7:26: sources[0].max_in_flight_bytes: must be a "
                              "size in [1MiB, 16GiB] ") +
                      kSizeUnits},
        ErrorCase{"BadFormat", kSource + "    format: avro\n",
                  "keystoned.yaml:7:13: sources[0].format: must be one of: debezium, dynamodb"},
        ErrorCase{"BadSnapshotMode", kSource + "    snapshot: always\n",
                  "keystoned.yaml:7:15: sources[0].snapshot: must be one of: initial, never, "
                  "when_needed, initial_only"},
        ErrorCase{"BadGapPolicy", kSource + "    on_gap: ignore\n",
                  "keystoned.yaml:7:13: sources[0].on_gap: must be one of: fail, resnapshot, "
                  "skip"},
        ErrorCase{"BadDelivery", kSource + "    delivery: at_most_once\n",
                  "keystoned.yaml:7:15: sources[0].delivery: must be one of: at_least_once, "
                  "exactly_once"},
        ErrorCase{"BadOversize", kSource + "    oversize: truncate\n",
                  "keystoned.yaml:7:15: sources[0].oversize: must be one of: fail, key_only"},
        ErrorCase{"ViewTypeWiderThanTable",
                  kKeysOnlyUsers + "sources:\n  - {name: s1, table: users, view_type: "
                                   "NEW_IMAGE}\n",
                  "keystoned.yaml:6:41: sources[0].view_type: NEW_IMAGE is wider than the "
                  "stream of table 'users' (KEYS_ONLY)"},
        ErrorCase{"ViewTypeOldOfNewImageTable",
                  kUsers + "    stream: {view_type: NEW_IMAGE}\nsources:\n  - {name: s1, "
                           "table: users, view_type: OLD_IMAGE}\n",
                  "keystoned.yaml:6:41: sources[0].view_type: OLD_IMAGE is wider than the "
                  "stream of table 'users' (NEW_IMAGE)"},
        ErrorCase{"SourceOnDisabledStream",
                  kUsers + "    stream: {enabled: false}\nsources:\n  - {name: s1, table: "
                           "users}\n",
                  "keystoned.yaml:6:23: sources[0].table: table 'users' has its stream "
                  "disabled (enable it, or use snapshot: initial_only)"},
        ErrorCase{"TopicUnknownPlaceholder", kSource + "    topic: keystone.{tabel}\n",
                  "keystoned.yaml:7:12: sources[0].topic: unknown placeholder '{tabel}' "
                  "(expected {table} or {source})"},
        ErrorCase{"TopicIllegalCharacter", kSource + "    topic: keystone/{table}\n",
                  "keystoned.yaml:7:12: sources[0].topic: must be a non-empty topic name of "
                  "a-z, A-Z, 0-9, '.', '_', '-' and the placeholders {table} and {source}"},
        ErrorCase{"TopicTooLong",
                  kSource + "    topic: " + std::string(241, 't') + ".{source}.{table}\n",
                  "keystoned.yaml:7:12: sources[0].topic: expands to a topic name of 250 "
                  "characters, more than Kafka's 249"},
        ErrorCase{"DeadLetterWithoutTopic", kSource + "    on_permanent_error: dead_letter\n",
                  "keystoned.yaml:5:5: sources[0]: missing required key 'dead_letter_topic' "
                  "(on_permanent_error is dead_letter)"},
        ErrorCase{"DeadLetterTopicWithoutPolicy", kSource + "    dead_letter_topic: dlq\n",
                  "keystoned.yaml:7:24: sources[0].dead_letter_topic: only allowed with "
                  "on_permanent_error: dead_letter"},
        ErrorCase{"BadEventType", kSource + "    filters: {event_types: [INSERT, UPDATE]}\n",
                  "keystoned.yaml:7:37: sources[0].filters.event_types[1]: must be one of: "
                  "INSERT, MODIFY, REMOVE, TRUNCATE"},
        ErrorCase{"NoEventTypes", kSource + "    filters: {event_types: []}\n",
                  "keystoned.yaml:7:28: sources[0].filters.event_types: must list at least one "
                  "of: INSERT, MODIFY, REMOVE, TRUNCATE"},
        ErrorCase{"RepeatedEventType", kSource + "    filters: {event_types: [REMOVE, REMOVE]}\n",
                  "keystoned.yaml:7:37: sources[0].filters.event_types[1]: 'REMOVE' is listed "
                  "twice"},
        ErrorCase{"ValuesWithoutCondition",
                  kSource + "    filters:\n      values: {':v': {S: x}}\n",
                  "keystoned.yaml:8:15: sources[0].filters.values: only allowed with a "
                  "condition"},
        ErrorCase{"ValueKeyWithoutColon",
                  kSource + "    filters:\n      condition: a = :v\n      values: {v: {S: x}}\n",
                  "keystoned.yaml:9:16: sources[0].filters.values: key 'v' must start with ':' "
                  "and name something"},
        ErrorCase{"ValueUntyped",
                  kSource + "    filters:\n      condition: a = :v\n      values: {':v': x}\n",
                  "keystoned.yaml:9:22: sources[0].filters.values.:v: must be a typed value "
                  "with one key of: S, N, B, BOOL, NULL, M, L, SS, NS, BS (as in {S: text} or "
                  "{N: \"1\"})"},
        ErrorCase{"ValueNotANumber",
                  kSource + "    filters:\n      condition: a = :v\n      values: {':v': {N: "
                            "ten}}\n",
                  "keystoned.yaml:9:26: sources[0].filters.values.:v.N: must be a number (A value "
                  "provided cannot be converted into a number)"},
        ErrorCase{"ValueBadBase64",
                  kSource + "    filters:\n      condition: a = :v\n      values: {':v': {B: "
                            "'abc'}}\n",
                  "keystoned.yaml:9:26: sources[0].filters.values.:v.B: must be base64 "
                  "(standard alphabet, padded)"},
        ErrorCase{"ValueEmptySet",
                  kSource + "    filters:\n      condition: a = :v\n      values: {':v': {SS: "
                            "[]}}\n",
                  "keystoned.yaml:9:27: sources[0].filters.values.:v.SS: must be a non-empty "
                  "list (sets are never empty)"},
        // A ',' outside brackets made yaml-cpp's LoadAll collect empty
        // documents until memory ran out (found by config_fuzz).
        ErrorCase{"SyntaxStrayComma", "[a],\n",
                  "keystoned.yaml:1:4: unexpected ',' (not the start of a YAML node)"},
        ErrorCase{"SyntaxOnlyComma", ",\n",
                  "keystoned.yaml:1:1: unexpected ',' (not the start of a YAML node)"},
        ErrorCase{"SyntaxNul", std::string("sync: full\n\0", 12),
                  "keystoned.yaml:2:1: control character 0x00 is not allowed (YAML is printable "
                  "text: only tab, line feed and carriage return)"},
        ErrorCase{"SyntaxControlCharacter", "sync: full\ndata_dir: a\x1b[0mb\n",
                  "keystoned.yaml:2:12: control character 0x1B is not allowed (YAML is printable "
                  "text: only tab, line feed and carriage return)"},
        // yaml-cpp stops at its recursion limit; the error says so.
        ErrorCase{"SyntaxTooDeep",
                  "tables: " + std::string(600, '[') + std::string(600, ']') + "\n",
                  "keystoned.yaml:1:1209: nests deeper than 499 levels (the YAML parser's limit)"},
        // A "billion laughs" of YAML aliases: seven lines that describe 10^6
        // values fail at once instead of taking all time and memory.
        ErrorCase{
            "FilterValueAliasBomb",
            kSource + "    filters:\n      condition: a = :v\n      values:\n"
                      "        ':a': &a {L: [{S: x}, {S: x}, {S: x}, {S: x}, {S: x}, {S: x}]}\n"
                      "        ':b': &b {L: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]}\n"
                      "        ':c': &c {L: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]}\n"
                      "        ':d': &d {L: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]}\n"
                      "        ':e': &e {L: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]}\n"
                      "        ':v': {L: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]}\n",
            "keystoned.yaml:10:15: sources[0].filters.values.:e.L[0].L[2].L[9].L[5]: makes the "
            "document's typed values more than 10000 in all (YAML aliases can repeat a value that "
            "many times)"},
        ErrorCase{"FilterValueTooDeep",
                  kSource + "    filters:\n      condition: a = :v\n      values: {':v': " +
                      [] {
                        std::string v;
                        for (int i = 0; i < 33; ++i) v += "{L: [";
                        v += "{S: x}";
                        for (int i = 0; i < 33; ++i) v += "]}";
                        return v;
                      }() +
                      "}\n",
                  "keystoned.yaml:9:182: sources[0].filters.values.:v" +
                      [] {
                        std::string path;
                        for (int i = 0; i < 32; ++i) path += ".L[0]";
                        return path;
                      }() +
                      ": nests deeper than 32 levels (DynamoDB's limit)"},
        ErrorCase{"TransformWithoutType", kSource + "    transforms:\n      - {attributes: [a]}\n",
                  "keystoned.yaml:8:9: sources[0].transforms[0]: missing required key 'type'"},
        ErrorCase{"TransformBadType", kSource + "    transforms:\n      - {type: encrypt}\n",
                  "keystoned.yaml:8:16: sources[0].transforms[0].type: must be one of: keep, "
                  "drop, rename, mask, hash, add_field, add_header"},
        ErrorCase{"TransformKeyOfOtherType",
                  kSource + "    transforms:\n      - {type: keep, from: a}\n",
                  "keystoned.yaml:8:22: sources[0].transforms[0]: unknown key 'from' (expected "
                  "one of: type, attributes)"},
        ErrorCase{"TransformWithoutAttributes", kSource + "    transforms:\n      - {type: mask}\n",
                  "keystoned.yaml:8:9: sources[0].transforms[0]: missing required key "
                  "'attributes'"},
        ErrorCase{"TransformEmptyAttributes",
                  kSource + "    transforms:\n      - {type: drop, attributes: []}\n",
                  "keystoned.yaml:8:34: sources[0].transforms[0].attributes: must be a "
                  "non-empty list of attribute names"},
        ErrorCase{"RenameToItself",
                  kSource + "    transforms:\n      - {type: rename, from: a, to: a}\n",
                  "keystoned.yaml:8:37: sources[0].transforms[0].to: must differ from 'from'"},
        ErrorCase{"AddHeaderWithoutValue",
                  kSource + "    transforms:\n      - {type: add_header, name: x-h}\n",
                  "keystoned.yaml:8:9: sources[0].transforms[0]: missing required key 'value'"},
        ErrorCase{"AggregateSumWithoutAttribute",
                  kSource + "    aggregate: {functions: [count, sum]}\n",
                  "keystoned.yaml:7:16: sources[0].aggregate: missing required key 'attribute' "
                  "(sum needs it)"},
        ErrorCase{"AggregateRepeatedFunction",
                  kSource + "    aggregate: {functions: [count, count]}\n",
                  "keystoned.yaml:7:36: sources[0].aggregate.functions[1]: 'count' is listed "
                  "twice"},
        ErrorCase{"AggregateWindowTooLong", kSource + "    aggregate: {window_seconds: 86401}\n",
                  "keystoned.yaml:7:33: sources[0].aggregate.window_seconds: must be an integer "
                  "in [1, 86400]"},
        // Environment substitution.
        ErrorCase{"UnsetVariable", "data_dir: ${DATA_DIR}\n",
                  "keystoned.yaml:1:11: data_dir: environment variable 'DATA_DIR' is not set "
                  "(write ${DATA_DIR:-default} for a default)"},
        ErrorCase{"LoneDollar", "data_dir: /srv/a$b\n",
                  "keystoned.yaml:1:11: data_dir: a '$' must start ${VAR} or ${VAR:-default}; "
                  "write $$ for a literal '$'"},
        ErrorCase{"TrailingDollar", "data_dir: /srv/a$\n",
                  "keystoned.yaml:1:11: data_dir: a '$' must start ${VAR} or ${VAR:-default}; "
                  "write $$ for a literal '$'"},
        ErrorCase{"UnterminatedVariable", "data_dir: ${DATA_DIR\n",
                  "keystoned.yaml:1:11: data_dir: unterminated '${' (expected ${VAR} or "
                  "${VAR:-default})"},
        ErrorCase{"BadVariableName", "data_dir: ${1DIR}\n",
                  "keystoned.yaml:1:11: data_dir: invalid variable name '1DIR' (expected ${VAR} "
                  "or ${VAR:-default}), VAR of [A-Za-z0-9_] not starting with a digit"},
        ErrorCase{"SubstitutedValueInvalid", "http: {worker_threads: \"${SET}\"}\n",
                  "keystoned.yaml:1:24: http.worker_threads: must be an integer in [1, 1024]"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return std::string(info.param.name); });

TEST(ConfigTest, ErrorsNeverEchoSecrets) {
  // A secret with a bad substitution: the message names the variable, not
  // the secret around it.
  Result<DaemonOptions> got =
      Parse("auth: {access_keys: [{access_key_id: AK, secret_access_key: \"topsecret${X\"}]}\n");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(std::string::npos, got.status().message().find("topsecret"));

  // A secret property librdkafka rejects: its reason quotes the value, which
  // the error must not.
  got = ParseConfig("kafka:\n  properties:\n    sasl.oauthbearer.method: topsecret\n",
                    "keystoned.yaml", FakeEnv({}), kafka::CheckProperty);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(std::string::npos, got.status().message().find("sasl.oauthbearer.method"))
      << got.status().message();
  EXPECT_EQ(std::string::npos, got.status().message().find("topsecret")) << got.status().message();
}

TEST(ConfigTest, KafkaPropertiesPassTheCheckTheDaemonUses) {
  Result<DaemonOptions> got =
      ParseConfig("kafka:\n  properties: {compression.type: zstd, linger.ms: 5, acks: all}\n",
                  "keystoned.yaml", FakeEnv({}), kafka::CheckProperty);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ("zstd", got->kafka.properties.at("compression.type"));
}

TEST(ConfigTest, LoadConfigFileReadsAndLabelsErrorsWithThePath) {
  testing::TempDir dir;
  std::string path = dir.Sub("keystoned.yaml");
  {
    std::ofstream out(path);
    out << "sync: nosync\nhttp: {worker_threads: 0}\n";
  }
  Result<DaemonOptions> got = LoadConfigFile(path, FakeEnv({}));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(path + ":2:24: http.worker_threads: must be an integer in [1, 1024]",
            got.status().message());

  {
    std::ofstream out(path);
    out << "sync: nosync\n";
  }
  got = LoadConfigFile(path);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_FALSE(got->store.sync);

  got = LoadConfigFile(dir.Sub("missing.yaml"));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(StatusCode::kIoError, got.status().code());
  EXPECT_EQ("cannot read config file " + dir.Sub("missing.yaml") + ": No such file or directory",
            got.status().message());
}

// --- environment substitution ----------------------------------------------

TEST(ConfigTest, EnvironmentSubstitution) {
  Result<DaemonOptions> got = Parse(R"(
data_dir: ${DATA_DIR}/keystone
http:
  listen: "${HOST:-127.0.0.1}:${HTTP_PORT:-8000}"
  worker_threads: ${THREADS}
metrics:
  listen: "${METRICS_HOST:-0.0.0.0}:${METRICS_PORT:-9464}"
  enabled: ${METRICS_ON:-true}
auth:
  region: ${REGION:-us-east-1}
kafka:
  properties:
    sasl.password: "${KAFKA_PASSWORD}"
    note: "costs $$5, not ${NOT_SET:-$$}6; literal $${HOME}"
    empty: "${EMPTY:-fallback}|${EMPTY}|${SET:-unused}"
)",
                                    {{"DATA_DIR", "/srv"},
                                     {"THREADS", "16"},
                                     {"METRICS_HOST", ""},
                                     {"REGION", "ap-south-1"},
                                     {"KAFKA_PASSWORD", "p@ss"},
                                     {"EMPTY", ""},
                                     {"SET", "value"}});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ("/srv/keystone", got->store.path);
  EXPECT_EQ("127.0.0.1:8000", got->http.listen);
  EXPECT_EQ(16u, got->http.worker_threads);
  // ":-" also replaces a variable that is set but empty.
  EXPECT_EQ("0.0.0.0:9464", got->metrics.listen);
  EXPECT_TRUE(got->metrics.enabled);
  EXPECT_EQ("ap-south-1", got->auth.region);
  EXPECT_EQ("p@ss", got->kafka.properties.at("sasl.password"));
  // Defaults are taken literally ("$$" inside one is two dollars).
  EXPECT_EQ("costs $5, not $$6; literal ${HOME}", got->kafka.properties.at("note"));
  EXPECT_EQ("fallback||value", got->kafka.properties.at("empty"));
}

TEST(ConfigTest, KeysAreNotSubstituted) {
  Result<DaemonOptions> got = Parse("${KEY}: x\n", {{"KEY", "data_dir"}});
  ASSERT_FALSE(got.ok());
  EXPECT_NE(std::string::npos, got.status().message().find("unknown key '${KEY}'"))
      << got.status().message();
}

TEST(ConfigTest, ProcessEnvironmentReadsTheRealEnvironment) {
  EnvLookup env = ProcessEnvironment();
  const char* path = std::getenv("PATH");
  ASSERT_NE(nullptr, path);
  EXPECT_EQ(std::optional<std::string>(path), env("PATH"));
  EXPECT_EQ(std::nullopt, env("KEYSTONE_CONFIG_TEST_SURELY_UNSET_VARIABLE"));
}

// --- printing ---------------------------------------------------------------

DaemonOptions WithSecretsMasked(DaemonOptions o) {
  for (daemon::AccessKey& key : o.auth.access_keys) key.secret_access_key = "****";
  for (auto& [name, value] : o.kafka.properties) {
    if (kafka::IsSecretProperty(name)) value = "****";
  }
  return o;
}

TEST(ConfigTest, PrintConfigMasksSecrets) {
  std::string printed = PrintConfig(FullConfigOptions());
  for (const char* secret : {"wJalr", "other-secret", "hunter2", "keypass"}) {
    EXPECT_EQ(std::string::npos, printed.find(secret)) << secret << " in\n" << printed;
  }
  EXPECT_NE(std::string::npos, printed.find("sasl.password: \"****\"")) << printed;
  EXPECT_NE(std::string::npos, printed.find("secret_access_key: \"****\"")) << printed;
  // Non-secrets are shown.
  EXPECT_NE(std::string::npos, printed.find("compression.type: zstd")) << printed;
  EXPECT_NE(std::string::npos, printed.find("access_key_id: AKIDEXAMPLE")) << printed;
}

TEST(ConfigTest, PrintConfigRoundTrips) {
  for (const DaemonOptions& options :
       {DaemonOptions{}, ArchitectureExampleOptions(), FullConfigOptions()}) {
    std::string printed = PrintConfig(options);
    Result<DaemonOptions> reparsed = Parse(printed);
    ASSERT_TRUE(reparsed.ok()) << reparsed.status().ToString() << "\n" << printed;
    ExpectOptionsEq(WithSecretsMasked(options), *reparsed);
    // Printing is stable: a second round prints the same text.
    EXPECT_EQ(printed, PrintConfig(*reparsed));
  }
}

TEST(ConfigTest, PrintConfigFillsInEveryDefault) {
  std::string printed = PrintConfig(ArchitectureExampleOptions());
  for (const char* line :
       {"initial: 64MiB", "pin_max_bytes: 4GiB", "max_body_bytes: 16MiB", "worker_threads: 8",
        "region: us-east-1", "level: info", "client_id: keystone", "max_in_flight_bytes: 64MiB",
        "snapshot: initial", "on_gap: fail", "delivery: at_least_once",
        "event_types: [INSERT, MODIFY, REMOVE, TRUNCATE]"}) {
    EXPECT_NE(std::string::npos, printed.find(line)) << line << " missing from\n" << printed;
  }
}

// --- helpers of the option headers -----------------------------------------

TEST(ConfigTest, SecretPropertyNames) {
  for (const char* name : {"sasl.password", "ssl.key.password", "ssl.keystore.password",
                           "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config",
                           "ssl.key.pem", "SASL.PASSWORD", "my.secret.thing"}) {
    EXPECT_TRUE(kafka::IsSecretProperty(name)) << name;
  }
  for (const char* name : {"compression.type", "sasl.username", "sasl.mechanism",
                           "security.protocol", "ssl.ca.location"}) {
    EXPECT_FALSE(kafka::IsSecretProperty(name)) << name;
  }
}

TEST(ConfigTest, ExpandTopic) {
  EXPECT_EQ("keystone.users", cdc::ExpandTopic("keystone.{table}", "users", "s1"));
  EXPECT_EQ("s1.users.s1", cdc::ExpandTopic("{source}.{table}.{source}", "users", "s1"));
  EXPECT_EQ("plain", cdc::ExpandTopic("plain", "users", "s1"));
}

template <typename E, size_t N>
void ExpectNamesRoundTrip(const EnumName<E> (&table)[N], std::string_view (*name)(E),
                          bool (*parse)(std::string_view, E*)) {
  for (const EnumName<E>& entry : table) {
    EXPECT_EQ(entry.name, name(entry.value));
    E parsed{};
    ASSERT_TRUE(parse(entry.name, &parsed)) << entry.name;
    EXPECT_EQ(entry.value, parsed);
  }
  E unused{};
  EXPECT_FALSE(parse("no-such-name", &unused));
}

TEST(ConfigTest, EnumNamesRoundTrip) {
  ExpectNamesRoundTrip(cdc::kEventFormatNames, cdc::EventFormatName, cdc::ParseEventFormat);
  ExpectNamesRoundTrip(cdc::kSnapshotModeNames, cdc::SnapshotModeName, cdc::ParseSnapshotMode);
  ExpectNamesRoundTrip(cdc::kGapPolicyNames, cdc::GapPolicyName, cdc::ParseGapPolicy);
  ExpectNamesRoundTrip(cdc::kDeliveryModeNames, cdc::DeliveryModeName, cdc::ParseDeliveryMode);
  ExpectNamesRoundTrip(cdc::kPermanentErrorPolicyNames, cdc::PermanentErrorPolicyName,
                       cdc::ParsePermanentErrorPolicy);
  ExpectNamesRoundTrip(cdc::kOversizePolicyNames, cdc::OversizePolicyName,
                       cdc::ParseOversizePolicy);
  ExpectNamesRoundTrip(cdc::kEventTypeNames, cdc::EventTypeName, cdc::ParseEventType);
  ExpectNamesRoundTrip(cdc::kTransformTypeNames, cdc::TransformTypeName, cdc::ParseTransformType);
  ExpectNamesRoundTrip(cdc::kAggregateFunctionNames, cdc::AggregateFunctionName,
                       cdc::ParseAggregateFunction);
  ExpectNamesRoundTrip(daemon::kLogFormatNames, daemon::LogFormatName, daemon::ParseLogFormat);
  ExpectNamesRoundTrip(daemon::kLogLevelNames, LogLevelName, daemon::ParseLogLevel);
}

}  // namespace
}  // namespace keystone::config
