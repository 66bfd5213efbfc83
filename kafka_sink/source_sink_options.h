#pragma once

// The KafkaSinkOptions for one CDC source: how to reach Kafka (KafkaOptions,
// with the bootstrap address resolved — the embedded broker's address when
// KafkaOptions says "embedded") and what the source asks of delivery
// (cdc::SourceOptions: delivery, on_permanent_error, dead_letter_topic,
// oversize). Header-only, for the daemon, the one place that sees both option
// structs; kafka_sink's library does not depend on cdc::SourceOptions.
// Pure function; thread-safe.

#include <string>
#include <string_view>

#include "cdc/source_options.h"
#include "kafka_sink/kafka_options.h"
#include "kafka_sink/kafka_sink_options.h"

namespace keystone::kafka {

inline KafkaSinkOptions SinkOptionsForSource(const KafkaOptions& kafka,
                                             std::string_view bootstrap_servers,
                                             const cdc::SourceOptions& source) {
  KafkaSinkOptions o;
  o.bootstrap_servers = std::string(bootstrap_servers);
  o.properties = kafka.properties;
  o.client_id = kafka.client_id;
  o.source_name = source.name;
  o.topic_creation = kafka.topic_creation;
  // The embedded broker (librdkafka's mock cluster) has no CreateTopics; it
  // creates topics on first use.
  if (IsEmbedded(kafka)) o.topic_creation.create_topics = false;
  o.delivery = source.delivery == cdc::DeliveryMode::kExactlyOnce ? SinkDelivery::kExactlyOnce
                                                                  : SinkDelivery::kAtLeastOnce;
  if (source.on_permanent_error == cdc::PermanentErrorPolicy::kDeadLetter) {
    o.on_permanent_error = PermanentErrorAction::kDeadLetter;
    o.dead_letter_topic = cdc::ExpandTopic(source.dead_letter_topic, source.table, source.name);
  }
  o.oversize = source.oversize == cdc::OversizePolicy::kKeyOnly ? OversizeAction::kKeyOnly
                                                                : OversizeAction::kFail;
  return o;
}

}  // namespace keystone::kafka
