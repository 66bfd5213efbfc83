#pragma once

// Private to kafka_sink/ (its .cc files only): librdkafka plumbing shared by
// the sink, the tail reader and the embedded broker — owning handles, setting
// properties with errors that name the property (never a secret's value), and
// librdkafka's log lines routed to Keystone's logging facade.
//
// This header includes librdkafka; no public header of kafka_sink may include
// it.

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace keystone::kafka {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct TopicDeleter {
  void operator()(rd_kafka_topic_t* rkt) const { rd_kafka_topic_destroy(rkt); }
};
using TopicPtr = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;

// "MSG_SIZE_TOO_LARGE (Broker: Message size too large)".
std::string ErrorText(rd_kafka_resp_err_t err);

// Sets `name` = `value` on `conf`. kInvalidArgument naming the property when
// librdkafka does not know it or rejects the value; a secret's value (see
// IsSecretProperty) never appears in the message.
Status SetProperty(rd_kafka_conf_t* conf, const std::string& name, const std::string& value);

// Sets every entry of `properties`, stopping at the first error.
Status SetProperties(rd_kafka_conf_t* conf, const std::map<std::string, std::string>& properties);

// Routes librdkafka's log lines (syslog levels) to keystone::Log under
// component `kafka`, and its error events to the same place when no error
// callback is installed.
void RouteLogs(rd_kafka_conf_t* conf);

// Whether `name` configures only producers (so a consumer created with the
// same properties should not receive it and warn about it).
bool IsProducerOnlyProperty(std::string_view name);

// A new client of `type` from `conf` (always consumed). kInvalidArgument with
// librdkafka's reason when the configuration is inconsistent.
Result<HandlePtr> NewClient(rd_kafka_type_t type, ConfPtr conf);

}  // namespace keystone::kafka
