#include "kafka_sink/tail_reader.h"

#include <algorithm>
#include <memory>
#include <thread>
#include <utility>

#include "base/log.h"
#include "kafka_sink/rdkafka_util.h"

namespace keystone::kafka {
namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(TailReader::Deadline deadline, int cap_ms) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, cap_ms));
}

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};

std::optional<EventPosition> PositionOfMessage(const rd_kafka_message_t* msg) {
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  std::vector<HeaderView> views;
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  for (size_t i = 0;
       rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    HeaderView view{.name = name};
    if (value != nullptr) view.value = std::string_view(static_cast<const char*>(value), size);
    views.push_back(view);
  }
  return ParsePosition(views);
}

// One partition's search, walking back from the high watermark.
struct Search {
  int32_t partition = 0;
  int64_t low = 0;
  int64_t end = 0;  // exclusive end of the current window
  int64_t start = 0;
  int64_t window = 8;
  bool done = false;
  bool round_done = false;
  std::optional<EventPosition> best;
};

}  // namespace

TailReader::TailReader(std::string bootstrap_servers, std::string client_id,
                       std::map<std::string, std::string> properties)
    : bootstrap_servers_(std::move(bootstrap_servers)),
      client_id_(std::move(client_id)),
      properties_(std::move(properties)) {}

Result<int32_t> TailReader::PartitionCount(rd_kafka_t* producer, const std::string& topic,
                                           Deadline deadline) {
  TopicPtr rkt(rd_kafka_topic_new(producer, topic.c_str(), nullptr));
  if (!rkt) return InvalidArgument("bad topic name '" + topic + "'");
  std::string last_error = "no answer";
  while (true) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(producer, 0, rkt.get(), &md, std::max(100, RemainingMs(deadline, 5000)));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
      int32_t count = 0;
      if (md->topic_cnt == 1) {
        topic_err = md->topics[0].err;
        count = md->topics[0].partition_cnt;
      }
      rd_kafka_metadata_destroy(md);
      if (topic_err == RD_KAFKA_RESP_ERR_NO_ERROR && count > 0) return count;
      if (topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return 0;
      last_error = ErrorText(topic_err);
    } else {
      last_error = ErrorText(err);
    }
    if (Clock::now() >= deadline) {
      return Unavailable("reading the metadata of topic '" + topic + "': " + last_error);
    }
    // The topic may be being created (LEADER_NOT_AVAILABLE): ask again soon.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Result<TopicTails> TailReader::Read(const std::string& topic, int32_t partition_count,
                                    Deadline deadline, uint64_t* partitions_read) {
  TopicTails tails;
  tails.partition_count = partition_count;
  tails.last.resize(static_cast<size_t>(partition_count));
  if (partition_count == 0) return tails;

  ConfPtr conf(rd_kafka_conf_new());
  RouteLogs(conf.get());
  for (const auto& [name, value] : properties_) {
    if (IsProducerOnlyProperty(name)) continue;
    KS_RETURN_IF_ERROR(SetProperty(conf.get(), name, value));
  }
  // Never subscribes, so never joins the group; group.id is only needed for
  // assign(). Nothing is committed.
  const std::map<std::string, std::string> fixed = {
      {"bootstrap.servers", bootstrap_servers_},
      {"client.id", client_id_ + "-tail"},
      {"group.id", client_id_ + "-tail-reader"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"},
      {"auto.offset.reset", "earliest"},
      {"isolation.level", "read_uncommitted"},
      {"fetch.wait.max.ms", "50"},
  };
  KS_RETURN_IF_ERROR(SetProperties(conf.get(), fixed));
  KS_ASSIGN_OR_RETURN(HandlePtr consumer, NewClient(RD_KAFKA_CONSUMER, std::move(conf)));

  std::vector<Search> searches;
  for (int32_t p = 0; p < partition_count; ++p) {
    int64_t low = 0, high = 0;
    std::string last_error;
    while (true) {
      rd_kafka_resp_err_t err =
          rd_kafka_query_watermark_offsets(consumer.get(), topic.c_str(), p, &low, &high,
                                           std::max(100, RemainingMs(deadline, 5000)));
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      last_error = ErrorText(err);
      if (Clock::now() >= deadline) {
        return Unavailable("reading the offsets of " + topic + "/" + std::to_string(p) + ": " +
                           last_error);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Search s{.partition = p, .low = low, .end = high};
    s.done = high <= low;
    searches.push_back(s);
  }

  while (true) {
    std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter> assignment(
        rd_kafka_topic_partition_list_new(partition_count));
    int active = 0;
    for (Search& s : searches) {
      if (s.done) continue;
      s.start = std::max(s.low, s.end - s.window);
      s.round_done = false;
      rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), s.partition)->offset =
          s.start;
      ++active;
    }
    if (active == 0) break;
    rd_kafka_resp_err_t err = rd_kafka_assign(consumer.get(), assignment.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable("assigning " + topic + " partitions for reading: " + ErrorText(err));
    }
    int remaining = active;
    std::string last_error;
    while (remaining > 0) {
      if (Clock::now() >= deadline) {
        rd_kafka_assign(consumer.get(), nullptr);
        return Unavailable("reading the last messages of topic '" + topic + "' timed out" +
                           (last_error.empty() ? "" : ": " + last_error));
      }
      std::unique_ptr<rd_kafka_message_t, MessageDeleter> msg(
          rd_kafka_consumer_poll(consumer.get(), std::max(1, RemainingMs(deadline, 100))));
      if (!msg) continue;
      if (msg->rkt == nullptr || msg->partition < 0 || msg->partition >= partition_count) {
        if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) last_error = ErrorText(msg->err);
        continue;
      }
      Search& s = searches[static_cast<size_t>(msg->partition)];
      if (s.done || s.round_done) continue;
      if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        s.round_done = true;
        --remaining;
        continue;
      }
      if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        last_error = ErrorText(msg->err);
        continue;
      }
      if (std::optional<EventPosition> pos = PositionOfMessage(msg.get())) {
        if (!s.best || *s.best < *pos) s.best = pos;
      }
      if (msg->offset >= s.end - 1) {
        s.round_done = true;
        --remaining;
      }
    }
    rd_kafka_assign(consumer.get(), nullptr);
    for (Search& s : searches) {
      if (s.done) continue;
      if (s.best || s.start <= s.low) {
        s.done = true;
        continue;
      }
      // Nothing with a position in the window: look further back.
      s.end = s.start;
      s.window *= 4;
    }
  }
  for (const Search& s : searches) {
    tails.last[static_cast<size_t>(s.partition)] = s.best;
    ++*partitions_read;
  }
  return tails;
}

}  // namespace keystone::kafka
