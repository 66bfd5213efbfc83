#include "kafka_sink/rdkafka_util.h"

#include <array>
#include <string>

#include "base/log.h"
#include "kafka_sink/kafka_options.h"

namespace keystone::kafka {
namespace {

// Replaces every occurrence of `secret` in `text` (librdkafka quotes rejected
// values in its messages).
std::string Redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  size_t at = 0;
  while ((at = text.find(secret, at)) != std::string::npos) {
    text.replace(at, secret.size(), "****");
    at += 4;
  }
  return text;
}

void LogCallback(const rd_kafka_t* rk, int level, const char* facility, const char* buf) {
  // syslog levels: 0-3 error, 4 warning, 5-6 notice/info, 7 debug.
  LogLevel ours = level <= 3   ? LogLevel::kError
                  : level == 4 ? LogLevel::kWarn
                  : level <= 6 ? LogLevel::kInfo
                               : LogLevel::kDebug;
  // Keystone sets enable.gapless.guarantee on purpose (librdkafka would warn
  // that it is experimental with every producer), and the embedded broker's
  // bookkeeping client has no bootstrap.servers by design.
  if (std::string_view(facility) == "CONFWARN") {
    std::string_view text = buf;
    if (text.find("enable.gapless.guarantee is experimental") != std::string_view::npos ||
        text.find("No `bootstrap.servers` configured") != std::string_view::npos) {
      ours = LogLevel::kDebug;
    }
  }
  if (!LogEnabled(ours)) return;
  std::string line = std::string(rd_kafka_name(rk)) + ": " + facility + ": " + buf;
  Log(ours, "kafka", line);
}

}  // namespace

std::string ErrorText(rd_kafka_resp_err_t err) {
  return std::string(rd_kafka_err2name(err)) + " (" + rd_kafka_err2str(err) + ")";
}

namespace {

// Sets `name` = `value` on `conf`: kNotFound when librdkafka has no such
// property, kInvalidArgument when it rejects the value, each with librdkafka's
// reason (a secret's value redacted).
Status ApplyProperty(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  std::array<char, 512> errstr{};
  rd_kafka_conf_res_t res =
      rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr.data(), errstr.size());
  if (res == RD_KAFKA_CONF_OK) return Status::Ok();
  std::string reason = errstr.data();
  // Some reasons end in a newline; errors here are one line.
  while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
  if (IsSecretProperty(name)) reason = Redact(reason, value) + " (secret value not shown)";
  if (res == RD_KAFKA_CONF_UNKNOWN) return NotFound(std::move(reason));
  return InvalidArgument(std::move(reason));
}

}  // namespace

Status SetProperty(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  Status status = ApplyProperty(conf, name, value);
  if (status.ok()) return status;
  if (status.code() == StatusCode::kNotFound) {
    return InvalidArgument("kafka property '" + name +
                           "' is unknown to librdkafka: " + status.message());
  }
  return InvalidArgument("kafka property '" + name + "' has an invalid value: " + status.message());
}

Status CheckProperty(const std::string& name, const std::string& value) {
  ConfPtr conf(rd_kafka_conf_new());
  return ApplyProperty(conf.get(), name, value);
}

Status SetProperties(rd_kafka_conf_t* conf, const std::map<std::string, std::string>& properties) {
  for (const auto& [name, value] : properties) KS_RETURN_IF_ERROR(SetProperty(conf, name, value));
  return Status::Ok();
}

void RouteLogs(rd_kafka_conf_t* conf) { rd_kafka_conf_set_log_cb(conf, LogCallback); }

bool IsProducerOnlyProperty(std::string_view name) {
  static constexpr std::string_view kPrefixes[] = {
      "compression.",
      "queue.buffering.",
      "linger.ms",
      "batch.",
      "acks",
      "request.required.acks",
      "enable.idempotence",
      "enable.gapless.",
      "message.timeout.ms",
      "delivery.timeout.ms",
      "retries",
      "message.send.max.retries",
      "partitioner",
      "max.in.flight",
      "transactional.id",
      "transaction.timeout.ms",
      "delivery.report.",
      "dr_",
      "sticky.partitioning",
      "request.timeout.ms",
      "compression.codec",
      "compression.level",
      "produce.",
      "queuing.strategy",
  };
  for (std::string_view prefix : kPrefixes) {
    if (name.starts_with(prefix)) return true;
  }
  return false;
}

Result<HandlePtr> NewClient(rd_kafka_type_t type, ConfPtr conf) {
  std::array<char, 512> errstr{};
  // rd_kafka_new takes ownership of the configuration only on success.
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr.data(), errstr.size());
  if (rk == nullptr) {
    return InvalidArgument(std::string("cannot create Kafka client: ") + errstr.data());
  }
  conf.release();
  return HandlePtr(rk);
}

}  // namespace keystone::kafka
