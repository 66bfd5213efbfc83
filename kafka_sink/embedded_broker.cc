#include "kafka_sink/embedded_broker.h"

// rdkafka_mock.h requires rdkafka.h first.
#include "kafka_sink/rdkafka_util.h"
// clang-format off
#include <librdkafka/rdkafka_mock.h>
// clang-format on

#include <string>
#include <utility>
#include <vector>

#include "base/log.h"

namespace keystone::kafka {

struct EmbeddedBroker::Impl {
  // The mock cluster needs a client instance for its bookkeeping; it is never
  // connected to anything. Destroyed after the cluster.
  HandlePtr handle;
  rd_kafka_mock_cluster_t* cluster = nullptr;

  ~Impl() {
    if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
  }
};

namespace {

Status MockResult(rd_kafka_resp_err_t err, std::string_view what) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  return InvalidArgument(std::string(what) + ": " + ErrorText(err));
}

}  // namespace

Result<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(int brokers) {
  if (brokers < 1 || brokers > 16) {
    return InvalidArgument("embedded broker count must be in [1, 16], not " +
                           std::to_string(brokers));
  }
  ConfPtr conf(rd_kafka_conf_new());
  RouteLogs(conf.get());
  KS_RETURN_IF_ERROR(SetProperty(conf.get(), "client.id", "keystone-embedded-broker"));
  auto impl = std::make_unique<Impl>();
  KS_ASSIGN_OR_RETURN(impl->handle, NewClient(RD_KAFKA_PRODUCER, std::move(conf)));
  impl->cluster = rd_kafka_mock_cluster_new(impl->handle.get(), brokers);
  if (impl->cluster == nullptr) {
    return IoError("cannot start the embedded Kafka broker (librdkafka mock cluster)");
  }
  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(impl->cluster);
  LogWarn("kafka", "embedded Kafka broker started at " + bootstrap + " (" +
                       std::to_string(brokers) +
                       " broker(s)): librdkafka mock cluster, IN-MEMORY, FOR DEVELOPMENT ONLY; "
                       "everything published to it is lost on exit");
  return std::unique_ptr<EmbeddedBroker>(
      new EmbeddedBroker(std::move(impl), std::move(bootstrap), brokers));
}

EmbeddedBroker::EmbeddedBroker(std::unique_ptr<Impl> impl, std::string bootstrap, int brokers)
    : impl_(std::move(impl)), bootstrap_servers_(std::move(bootstrap)), broker_count_(brokers) {}

EmbeddedBroker::~EmbeddedBroker() = default;

Status EmbeddedBroker::CreateTopic(const std::string& topic, int partitions,
                                   int replication_factor) {
  if (partitions < 1) return InvalidArgument("partitions must be at least 1");
  if (replication_factor < 1 || replication_factor > broker_count_) {
    return InvalidArgument("replication factor must be in [1, " + std::to_string(broker_count_) +
                           "]");
  }
  return MockResult(
      rd_kafka_mock_topic_create(impl_->cluster, topic.c_str(), partitions, replication_factor),
      "creating topic " + topic);
}

Status EmbeddedBroker::BrokerDown(int32_t id) {
  return MockResult(rd_kafka_mock_broker_set_down(impl_->cluster, id),
                    "broker " + std::to_string(id) + " down");
}

Status EmbeddedBroker::BrokerUp(int32_t id) {
  return MockResult(rd_kafka_mock_broker_set_up(impl_->cluster, id),
                    "broker " + std::to_string(id) + " up");
}

Status EmbeddedBroker::SetPartitionLeader(const std::string& topic, int32_t partition, int32_t id) {
  if (id != -1 && (id < 1 || id > broker_count_)) {
    return InvalidArgument("no broker " + std::to_string(id));
  }
  return MockResult(
      rd_kafka_mock_partition_set_leader(impl_->cluster, topic.c_str(), partition, id),
      "leader of " + topic + "/" + std::to_string(partition));
}

Status EmbeddedBroker::PushProduceErrors(int error_code, int count) {
  if (count < 1) return InvalidArgument("count must be at least 1");
  constexpr int16_t kProduceApiKey = 0;
  std::vector<rd_kafka_resp_err_t> errors(static_cast<size_t>(count),
                                          static_cast<rd_kafka_resp_err_t>(error_code));
  rd_kafka_mock_push_request_errors_array(impl_->cluster, kProduceApiKey, errors.size(),
                                          errors.data());
  return Status::Ok();
}

Status EmbeddedBroker::SetTopicError(const std::string& topic, int error_code) {
  rd_kafka_mock_topic_set_error(impl_->cluster, topic.c_str(),
                                static_cast<rd_kafka_resp_err_t>(error_code));
  return Status::Ok();
}

Status EmbeddedBroker::SetBrokerRtt(int32_t id, int rtt_ms) {
  return MockResult(rd_kafka_mock_broker_set_rtt(impl_->cluster, id, rtt_ms),
                    "rtt of broker " + std::to_string(id));
}

}  // namespace keystone::kafka
