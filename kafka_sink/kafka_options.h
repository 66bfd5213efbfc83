#pragma once

// KafkaOptions: how kafka_sink reaches Kafka. Plain values, filled by config/
// (which checks the ranges documented here) or by code and tests;
// thread-compatible. kafka_sink turns them into librdkafka configuration; the
// options never carry librdkafka types.

#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

#include "base/status.h"

namespace keystone::kafka {

inline constexpr std::string_view kEmbeddedBootstrap = "embedded";

// Topics kafka_sink creates (CreateTopics) before a source first publishes to
// them. Topics that exist are left as they are.
struct TopicCreationOptions {
  bool create_topics = true;
  // Partitions of a created topic, [1, 100000], or -1 for the broker's
  // default (num.partitions).
  int partitions = -1;
  // Replicas of a created topic, [1, 32], or -1 for the broker's default
  // (default.replication.factor).
  int replication_factor = -1;
  friend bool operator==(const TopicCreationOptions&, const TopicCreationOptions&) = default;
};

struct KafkaOptions {
  // "host:port,host:port", or "embedded": start the development broker
  // (librdkafka's mock cluster inside keystoned, kafka_sink/embedded_broker.h,
  // on free loopback ports; in-memory, for development only).
  std::string bootstrap_servers = std::string(kEmbeddedBootstrap);
  // Passed to librdkafka as they are (compression.type, security.protocol,
  // sasl.*, ...). Values whose names contain "password", "secret",
  // "sasl.oauthbearer" or "ssl.key" are secrets: never log them.
  // bootstrap.servers and client.id are set through the fields above.
  std::map<std::string, std::string> properties;
  // Brokers of the embedded cluster, [1, 16]; used only when embedded.
  int embedded_brokers = 1;
  // librdkafka client.id.
  std::string client_id = "keystone";
  TopicCreationOptions topic_creation;
  friend bool operator==(const KafkaOptions&, const KafkaOptions&) = default;
};

// Whether the value of librdkafka property `name` is a secret: its name
// contains "password", "secret", "sasl.oauthbearer" or "ssl.key" (any case).
inline bool IsSecretProperty(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  for (std::string_view marker : {"password", "secret", "sasl.oauthbearer", "ssl.key"}) {
    if (lower.find(marker) != std::string::npos) return true;
  }
  return false;
}

inline bool IsEmbedded(const KafkaOptions& options) {
  return options.bootstrap_servers == kEmbeddedBootstrap;
}

// Whether librdkafka accepts property `name` = `value` (checked on a fresh
// client configuration; no client is created, nothing is connected). OK, or
// kNotFound when librdkafka has no such property, or kInvalidArgument when it
// rejects the value; the message is librdkafka's reason, with a secret's value
// (IsSecretProperty) never in it. Values that are only inconsistent together
// (acks=1 with enable.idempotence) pass here and fail when the client starts.
// config/ gets this through config::PropertyCheck so that --check-config
// catches a typo with its file, line and column.
Status CheckProperty(const std::string& name, const std::string& value);

}  // namespace keystone::kafka
