// KafkaEventSink::Create's validation of options and librdkafka properties,
// and the mapping from a source's options. No broker is needed: Create builds
// the producer, which connects in the background to a port nobody answers.

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>

#include "base/log.h"
#include "cdc/source_options.h"
#include "kafka_sink/kafka_event_sink.h"
#include "kafka_sink/source_sink_options.h"

namespace keystone::kafka {
namespace {

KafkaSinkOptions Base() {
  KafkaSinkOptions o;
  o.bootstrap_servers = "127.0.0.1:9";  // discard port: nothing answers
  return o;
}

Status CreateWith(const std::string& name, const std::string& value) {
  KafkaSinkOptions o = Base();
  o.properties[name] = value;
  return KafkaEventSink::Create(o).status();
}

TEST(KafkaSinkOptionsTest, AcceptsDefaultsAndOrdinaryProperties) {
  EXPECT_TRUE(KafkaEventSink::Create(Base()).ok());
  KafkaSinkOptions o = Base();
  o.properties = {{"compression.type", "lz4"},    {"linger.ms", "20"},
                  {"batch.num.messages", "5000"}, {"acks", "all"},
                  {"enable.idempotence", "true"}, {"security.protocol", "plaintext"}};
  auto sink = KafkaEventSink::Create(o);
  EXPECT_TRUE(sink.ok()) << sink.status().ToString();
}

TEST(KafkaSinkOptionsTest, UnknownPropertyIsNamed) {
  Status s = CreateWith("no.such.property", "1");
  EXPECT_EQ(StatusCode::kInvalidArgument, s.code());
  EXPECT_NE(std::string::npos, s.message().find("'no.such.property'")) << s.message();
  EXPECT_NE(std::string::npos, s.message().find("unknown")) << s.message();
}

TEST(KafkaSinkOptionsTest, InvalidValueIsNamed) {
  Status s = CreateWith("linger.ms", "soon");
  EXPECT_EQ(StatusCode::kInvalidArgument, s.code());
  EXPECT_NE(std::string::npos, s.message().find("'linger.ms'")) << s.message();
  s = CreateWith("compression.type", "zip");
  EXPECT_NE(std::string::npos, s.message().find("'compression.type'")) << s.message();
}

// Collects log lines (from any thread) while it lives.
class LogCapture {
 public:
  LogCapture() {
    SetLogSink([this](LogLevel, std::string_view, std::string_view m) {
      std::lock_guard<std::mutex> lock(mu_);
      text_ += m;
      text_ += '\n';
    });
  }
  ~LogCapture() { SetLogSink(nullptr); }
  std::string text() {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }

 private:
  std::mutex mu_;
  std::string text_;
};

TEST(KafkaSinkOptionsTest, SecretValuesNeverAppearInErrorsOrLogs) {
  auto capture = std::make_unique<LogCapture>();
  // A rejected property whose name makes it a secret: whatever librdkafka
  // says about it, the value is not repeated (SetProperty also redacts it
  // from librdkafka's reason).
  Status s = CreateWith("sasl.oauthbearer.method", "hunter2-secret");
  EXPECT_EQ(StatusCode::kInvalidArgument, s.code());
  EXPECT_NE(std::string::npos, s.message().find("'sasl.oauthbearer.method'")) << s.message();
  EXPECT_EQ(std::string::npos, s.message().find("hunter2")) << s.message();

  // A valid secret is accepted and not logged either.
  KafkaSinkOptions o = Base();
  o.properties = {{"sasl.username", "keystone"}, {"sasl.password", "hunter2-secret"}};
  {
    auto sink = KafkaEventSink::Create(o);
    EXPECT_TRUE(sink.ok()) << sink.status().ToString();
  }
  std::string logged = capture->text();
  capture.reset();
  EXPECT_EQ(std::string::npos, logged.find("hunter2")) << logged;
}

TEST(KafkaSinkOptionsTest, GuaranteePropertiesCannotBeWeakened) {
  for (auto [name, value] : {std::pair{"acks", "1"},
                             {"request.required.acks", "0"},
                             {"enable.idempotence", "false"},
                             {"message.timeout.ms", "30000"},
                             {"delivery.timeout.ms", "1000"},
                             {"partitioner", "consistent_random"},
                             {"enable.gapless.guarantee", "false"}}) {
    Status s = CreateWith(name, value);
    EXPECT_EQ(StatusCode::kInvalidArgument, s.code()) << name;
    EXPECT_NE(std::string::npos, s.message().find(std::string("'") + name + "' is fixed"))
        << s.message();
  }
  // Equal values are fine.
  EXPECT_TRUE(CreateWith("acks", "-1").ok());
  EXPECT_TRUE(CreateWith("partitioner", "murmur2_random").ok());
}

TEST(KafkaSinkOptionsTest, RejectsWhatTheSinkManagesItself) {
  Status s = CreateWith("transactional.id", "keystone-1");
  EXPECT_EQ(StatusCode::kInvalidArgument, s.code());
  EXPECT_NE(std::string::npos, s.message().find("transactional.id")) << s.message();
  EXPECT_EQ(StatusCode::kInvalidArgument, CreateWith("bootstrap.servers", "x:1").code());
  EXPECT_EQ(StatusCode::kInvalidArgument, CreateWith("client.id", "x").code());
  // librdkafka's own consistency check: idempotence allows at most 5.
  s = CreateWith("max.in.flight.requests.per.connection", "10");
  EXPECT_EQ(StatusCode::kInvalidArgument, s.code()) << s.ToString();

  KafkaSinkOptions o = Base();
  o.bootstrap_servers = "embedded";
  EXPECT_EQ(StatusCode::kInvalidArgument, KafkaEventSink::Create(o).status().code());
  o = Base();
  o.on_permanent_error = PermanentErrorAction::kDeadLetter;
  s = KafkaEventSink::Create(o).status();
  EXPECT_EQ(StatusCode::kInvalidArgument, s.code());
  EXPECT_NE(std::string::npos, s.message().find("dead_letter_topic")) << s.message();
}

TEST(KafkaSinkOptionsTest, SendBeforeStartIsAPreconditionError) {
  auto sink = KafkaEventSink::Create(Base());
  ASSERT_TRUE(sink.ok());
  cdc::EncodedEvent e;
  e.topic = "t";
  EXPECT_EQ(StatusCode::kFailedPrecondition, (*sink)->Send(e).code());
  EXPECT_EQ(0u, (*sink)->InFlight());
  EXPECT_TRUE((*sink)->Flush(std::chrono::milliseconds(10)).ok());
}

TEST(KafkaSinkOptionsTest, SinkOptionsForSource) {
  KafkaOptions kafka;
  kafka.bootstrap_servers = "broker1:9092,broker2:9092";
  kafka.properties = {{"compression.type", "zstd"}};
  kafka.client_id = "ks";
  kafka.topic_creation = {.create_topics = true, .partitions = 12, .replication_factor = 3};
  cdc::SourceOptions source;
  source.name = "users-to-kafka";
  source.table = "users";
  source.delivery = cdc::DeliveryMode::kExactlyOnce;
  source.on_permanent_error = cdc::PermanentErrorPolicy::kDeadLetter;
  source.dead_letter_topic = "dlq.{table}.{source}";
  source.oversize = cdc::OversizePolicy::kKeyOnly;

  KafkaSinkOptions o = SinkOptionsForSource(kafka, kafka.bootstrap_servers, source);
  EXPECT_EQ("broker1:9092,broker2:9092", o.bootstrap_servers);
  EXPECT_EQ(kafka.properties, o.properties);
  EXPECT_EQ("ks", o.client_id);
  EXPECT_EQ("users-to-kafka", o.source_name);
  EXPECT_EQ(kafka.topic_creation, o.topic_creation);
  EXPECT_EQ(SinkDelivery::kExactlyOnce, o.delivery);
  EXPECT_EQ(PermanentErrorAction::kDeadLetter, o.on_permanent_error);
  EXPECT_EQ("dlq.users.users-to-kafka", o.dead_letter_topic);
  EXPECT_EQ(OversizeAction::kKeyOnly, o.oversize);

  // Defaults, and the embedded broker (no CreateTopics) at its address.
  KafkaOptions embedded;
  cdc::SourceOptions plain;
  plain.name = "s";
  plain.table = "t";
  o = SinkOptionsForSource(embedded, "127.0.0.1:40000", plain);
  EXPECT_EQ("127.0.0.1:40000", o.bootstrap_servers);
  EXPECT_FALSE(o.topic_creation.create_topics);
  EXPECT_EQ(SinkDelivery::kAtLeastOnce, o.delivery);
  EXPECT_EQ(PermanentErrorAction::kFail, o.on_permanent_error);
  EXPECT_EQ("", o.dead_letter_topic);
  EXPECT_EQ(OversizeAction::kFail, o.oversize);
}

}  // namespace
}  // namespace keystone::kafka
