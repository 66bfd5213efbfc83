#include "kafka_sink/kafka_event_sink.h"

#include <algorithm>
#include <deque>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/log.h"
#include "kafka_sink/event_position.h"
#include "kafka_sink/murmur2.h"
#include "kafka_sink/rdkafka_util.h"
#include "kafka_sink/tail_reader.h"

namespace keystone::kafka {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Properties the guarantees depend on, with the values `properties` may
// repeat. The first value is the one set.
struct FixedProperty {
  const char* name;
  std::vector<std::string> accepted;
};
const std::vector<FixedProperty>& FixedProperties() {
  static const std::vector<FixedProperty> kFixed = {
      {"enable.idempotence", {"true"}},
      {"acks", {"all", "-1"}},
      {"request.required.acks", {"all", "-1"}},
      {"partitioner", {"murmur2_random"}},
      {"message.timeout.ms", {"0"}},
      {"delivery.timeout.ms", {"0"}},
      {"enable.gapless.guarantee", {"true"}},
  };
  return kFixed;
}

const std::map<std::string, std::string>& DefaultProperties() {
  static const std::map<std::string, std::string> kDefaults = {
      {"linger.ms", "1"},
      {"batch.num.messages", "10000"},
      {"batch.size", "1000000"},
      {"queue.buffering.max.messages", "100000"},
      {"queue.buffering.max.kbytes", "65536"},
      {"socket.keepalive.enable", "true"},
  };
  return kDefaults;
}

enum class ErrorClass { kOversize, kPermanent, kOther };

// Errors that concern the event itself (or its topic), not the connection or
// the producer's state: retrying the same event cannot help.
ErrorClass Classify(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
      return ErrorClass::kOversize;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return ErrorClass::kPermanent;
    default:
      return ErrorClass::kOther;
  }
}

StatusCode CodeFor(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
      return StatusCode::kResourceExhausted;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return StatusCode::kNotFound;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
      return StatusCode::kFailedPrecondition;
    default:
      return StatusCode::kInvalidArgument;
  }
}

std::string Describe(const cdc::EncodedEvent& e) {
  std::string out = "event of topic '" + e.topic + "'";
  if (std::optional<EventPosition> pos = PositionOf(e)) out += " at " + pos->ToString();
  return out;
}

// Identifies an event across a resend by the source (tokens change).
std::string Identity(const cdc::EncodedEvent& e) {
  std::string id = e.topic;
  id += '\x1f';
  if (e.key) {
    id += 'k';
    id += *e.key;
  }
  id += '\x1f';
  id += std::to_string(e.sequence) + '.' + std::to_string(e.sub_index);
  if (e.snapshot) id += ".s" + std::to_string(e.snapshot_ordinal);
  return id;
}

constexpr size_t kMaxSuspects = 10000;

}  // namespace

struct KafkaEventSink::Impl {
  // One message handed to librdkafka and not yet reported. librdkafka copies
  // each message (RD_KAFKA_MSG_F_COPY), so an ordinary event costs the sink
  // only these few fields; the event itself is kept only where the sink may
  // need it again.
  struct Pending {
    enum class Kind { kMain, kDeadLetter, kKeyOnly };
    uint64_t token = 0;
    // The event's fields that are not part of its message (its key, value
    // and headers are librdkafka's).
    uint64_t sequence = 0;
    uint64_t snapshot_ordinal = 0;
    uint32_t sub_index = 0;
    bool snapshot = false;
    Kind kind = Kind::kMain;
    bool isolated = false;
    // Reported (or given up): waits only to leave the front of `pending`.
    bool done = false;
    // Set for a suspect sent alone, a policy's copy (dead letter, key only),
    // and a delivery that failed for a reason the policies handle (copied
    // from the report).
    std::unique_ptr<cdc::EncodedEvent> event;
    // The error that sent the event to the dead-letter topic.
    std::string error_text;
  };

  // A copy of the event `msg` carries (librdkafka's copy is freed after its
  // delivery report), for a policy that sends it again.
  static cdc::EncodedEvent EventOf(const rd_kafka_message_t* msg, const Pending& p) {
    cdc::EncodedEvent e;
    e.token = p.token;
    e.sequence = p.sequence;
    e.sub_index = p.sub_index;
    e.snapshot = p.snapshot;
    e.snapshot_ordinal = p.snapshot_ordinal;
    e.topic = rd_kafka_topic_name(msg->rkt);
    if (msg->key != nullptr) e.key.emplace(static_cast<const char*>(msg->key), msg->key_len);
    if (msg->payload != nullptr) e.value.emplace(static_cast<const char*>(msg->payload), msg->len);
    rd_kafka_headers_t* headers = nullptr;
    // Only a view: the message owns its headers.
    if (rd_kafka_message_headers(msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      for (size_t i = 0;
           rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        e.headers.emplace_back(name, std::string(static_cast<const char*>(value), size));
      }
    }
    return e;
  }

  struct Completion {
    Pending* pending;
    rd_kafka_resp_err_t err;
  };

  struct Suspect {
    rd_kafka_resp_err_t err;
    // Failed on its own: the policy applies when it is sent again.
    bool confirmed = false;
  };

  KafkaSinkOptions options;
  std::string client_id;
  KafkaSinkStats* stats = nullptr;
  TailReader tail_reader;

  cdc::DeliveryListener* listener = nullptr;
  bool started = false;
  std::vector<std::string> known_topics;

  HandlePtr producer;
  std::unordered_map<std::string, TopicPtr> topic_handles;  // of `producer`
  // The last handle used: a source publishes mostly to one topic.
  const std::string* last_topic_name = nullptr;
  rd_kafka_topic_t* last_topic = nullptr;

  // Accepted, in Send order, from the oldest unreported one; librdkafka's
  // opaque points at the element (a deque grown at the back and shrunk at
  // the front does not move its elements). `live` of them are not done.
  std::deque<Pending> pending;
  size_t live = 0;
  std::deque<Pending*> to_produce;  // copies (dead letter, key only) not yet produced
  std::vector<std::pair<uint64_t, Status>> reports;  // decided, not yet dispatched
  std::vector<Completion> completions;               // filled by the report callback
  std::vector<std::pair<uint64_t, Status>> reports_spare;
  std::vector<Completion> completions_spare;

  std::unordered_map<std::string, Suspect> suspects;
  bool isolating = false;

  bool fatal = false;
  bool needs_reset = false;
  std::string reset_reason;
  Clock::time_point recreate_at{};
  Clock::time_point last_reset{};
  milliseconds backoff{0};

  std::unordered_map<std::string, TopicTails> tails;
  bool tails_ready = true;
  Clock::time_point tails_retry_at{};

  Impl(KafkaSinkOptions o, std::string id)
      : options(std::move(o)),
        client_id(std::move(id)),
        tail_reader(options.bootstrap_servers, client_id, options.properties) {}

  ~Impl() { DestroyProducer(); }

  bool exactly_once() const { return options.delivery == SinkDelivery::kExactlyOnce; }

  // ---- producer lifecycle ----

  static void OnDeliveryReport(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    auto* p = static_cast<Pending*>(msg->_private);
    // What the policies need of a failed event, while librdkafka still has
    // it. Not for transient or unattributable failures (a reset's purge
    // reports every outstanding message with one).
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR && Classify(msg->err) != ErrorClass::kOther &&
        !p->event) {
      p->event = std::make_unique<cdc::EncodedEvent>(EventOf(msg, *p));
    }
    self->completions.push_back({p, msg->err});
  }

  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      self->fatal = true;
      return;
    }
    self->stats->broker_errors_total++;
    LogWarn("kafka", self->client_id + ": " +
                         rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)) + ": " + reason);
  }

  Result<ConfPtr> ProducerConf() {
    ConfPtr conf(rd_kafka_conf_new());
    RouteLogs(conf.get());
    KS_RETURN_IF_ERROR(SetProperties(conf.get(), DefaultProperties()));
    KS_RETURN_IF_ERROR(SetProperties(conf.get(), options.properties));
    for (const FixedProperty& f : FixedProperties()) {
      KS_RETURN_IF_ERROR(SetProperty(conf.get(), f.name, f.accepted.front()));
    }
    KS_RETURN_IF_ERROR(SetProperty(conf.get(), "bootstrap.servers", options.bootstrap_servers));
    KS_RETURN_IF_ERROR(SetProperty(conf.get(), "client.id", client_id));
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &Impl::OnDeliveryReport);
    rd_kafka_conf_set_error_cb(conf.get(), &Impl::OnError);
    rd_kafka_conf_set_opaque(conf.get(), this);
    return conf;
  }

  Status CreateProducer() {
    KS_ASSIGN_OR_RETURN(ConfPtr conf, ProducerConf());
    KS_ASSIGN_OR_RETURN(producer, NewClient(RD_KAFKA_PRODUCER, std::move(conf)));
    fatal = false;
    return Status::Ok();
  }

  void DestroyProducer() {
    if (!producer) return;
    // Nothing may linger: destroy would otherwise wait for queued messages.
    rd_kafka_purge(producer.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
                                       RD_KAFKA_PURGE_F_NON_BLOCKING);
    DropTopicHandles();
    producer.reset();
    completions.clear();
  }

  rd_kafka_topic_t* TopicHandle(const std::string& name) {
    if (last_topic != nullptr && *last_topic_name == name) return last_topic;
    auto it = topic_handles.find(name);
    if (it == topic_handles.end()) {
      rd_kafka_topic_t* rkt = rd_kafka_topic_new(producer.get(), name.c_str(), nullptr);
      if (rkt == nullptr) return nullptr;
      it = topic_handles.emplace(name, TopicPtr(rkt)).first;
    }
    last_topic_name = &it->first;
    last_topic = it->second.get();
    return last_topic;
  }

  void DropTopicHandles() {
    last_topic = nullptr;
    last_topic_name = nullptr;
    topic_handles.clear();
  }

  bool ProducerFatal() {
    if (!fatal && producer && rd_kafka_fatal_error(producer.get(), nullptr, 0) != 0) fatal = true;
    return fatal;
  }

  std::string FatalReason() {
    char buf[512] = {0};
    rd_kafka_resp_err_t err = rd_kafka_fatal_error(producer.get(), buf, sizeof(buf));
    return std::string(rd_kafka_err2name(err)) + ": " + buf;
  }

  bool ReadyToSend() const { return producer && tails_ready && !fatal && !needs_reset; }

  // ---- producing ----

  // Hands `e` to librdkafka as the message of `p`, with the position
  // headers it lacks. librdkafka copies key, value and headers.
  rd_kafka_resp_err_t Produce(Pending* p, const cdc::EncodedEvent& e) {
    rd_kafka_topic_t* rkt = TopicHandle(e.topic);
    if (rkt == nullptr) return RD_KAFKA_RESP_ERR__INVALID_ARG;
    rd_kafka_headers_t* headers = rd_kafka_headers_new(e.headers.size() + 3);
    auto add = [&](std::string_view name, std::string_view value) {
      rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                          static_cast<ssize_t>(value.size()));
    };
    for (const auto& [name, value] : e.headers) add(name, value);
    ForEachMissingPositionHeader(e, add);
    // (librdkafka's V_ macros cast their arguments unparenthesised.)
    const void* key = e.key ? e.key->data() : nullptr;
    size_t key_size = e.key ? e.key->size() : 0;
    void* value = e.value ? const_cast<char*>(e.value->data()) : nullptr;
    size_t value_size = e.value ? e.value->size() : 0;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer.get(), RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_size),
        RD_KAFKA_V_VALUE(value, value_size), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(p),
        RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(headers);
    return err;
  }

  void Report(uint64_t token, Status status) { reports.emplace_back(token, std::move(status)); }

  // The newest element of `pending` is now outstanding.
  void Accept() { ++live; }

  // `p` needs nothing more: frees what it holds, and the front of `pending`
  // as far as it is done.
  void Release(Pending* p) {
    p->done = true;
    p->event.reset();
    p->error_text.clear();
    --live;
    while (!pending.empty() && pending.front().done) pending.pop_front();
  }

  // Reports event `token` with a permanent error.
  void FailReport(uint64_t token, const cdc::EncodedEvent& e, Status status) {
    stats->events_failed_total++;
    LogError("kafka", client_id + ": " + Describe(e) + " failed: " + status.message());
    Report(token, std::move(status));
  }

  // Reports `p` (outstanding, holding its event) with a permanent error and
  // forgets it.
  void Fail(Pending* p, Status status) {
    FailReport(p->token, *p->event, std::move(status));
    Release(p);
  }

  static const char* CopyName(const Pending* p) {
    return p->kind == Pending::Kind::kDeadLetter ? "dead-letter copy of" : "key-only copy of";
  }

  // REQUIRES: p->event.
  Status PermanentStatus(const Pending* p, rd_kafka_resp_err_t err, std::string_view what) {
    return Status(CodeFor(err), std::string(what) + " " + Describe(*p->event) +
                                    " rejected by Kafka: " + ErrorText(err));
  }

  // Applies the sink's policy to a main event `p` (not held by librdkafka,
  // holding its event) that failed for good with `err`: turns its event into
  // the copy to produce (key only, or for the dead-letter topic) and returns
  // true, or returns false with the error to report in *failure.
  bool TransformForPolicy(Pending* p, rd_kafka_resp_err_t err, Status* failure) {
    cdc::EncodedEvent& e = *p->event;
    if (Classify(err) == ErrorClass::kOversize) {
      if (options.oversize == OversizeAction::kKeyOnly && e.value && !e.value->empty()) {
        size_t bytes = e.value->size();
        e.value = std::string();
        e.headers.emplace_back(kHeaderOversize, std::to_string(bytes));
        p->kind = Pending::Kind::kKeyOnly;
        LogWarn("kafka", client_id + ": " + Describe(e) + " is too large (" +
                             std::to_string(bytes) + " value bytes, " + ErrorText(err) +
                             "); publishing it key-only");
        return true;
      }
      *failure = PermanentStatus(p, err, "oversize");
      return false;
    }
    if (options.on_permanent_error == PermanentErrorAction::kDeadLetter) {
      std::string original_topic = e.topic;
      p->error_text = ErrorText(err);
      e.headers.emplace_back(kHeaderError, p->error_text);
      e.headers.emplace_back(kHeaderErrorCode, rd_kafka_err2name(err));
      e.headers.emplace_back(kHeaderOriginalTopic, original_topic);
      e.topic = options.dead_letter_topic;
      p->kind = Pending::Kind::kDeadLetter;
      LogWarn("kafka", client_id + ": event of topic '" + original_topic + "' rejected (" +
                           p->error_text + "); sending it to dead-letter topic '" +
                           options.dead_letter_topic + "'");
      return true;
    }
    *failure = PermanentStatus(p, err, "permanent failure:");
    return false;
  }

  // Produces the queued copies; stops at a full queue.
  void ProduceDeferred() {
    while (!to_produce.empty() && ReadyToSend()) {
      Pending* p = to_produce.front();
      rd_kafka_resp_err_t err = Produce(p, *p->event);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return;
      to_produce.pop_front();
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      if (err == RD_KAFKA_RESP_ERR__FATAL) {
        fatal = true;
        to_produce.push_front(p);
        return;
      }
      Fail(p, PermanentStatus(p, err, CopyName(p)));
    }
  }

  // ---- delivery reports ----

  void ProcessCompletions(bool resetting) {
    // Double-buffered so that both vectors keep their capacity.
    std::vector<Completion>& batch = completions_spare;
    batch.clear();
    batch.swap(completions);
    bool is_fatal = ProducerFatal();
    uint64_t acked = 0;  // counted once per round: the counter is shared with readers
    for (const Completion& c : batch) {
      Pending* p = c.pending;
      if (c.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        switch (p->kind) {
          case Pending::Kind::kMain:
            ++acked;
            break;
          case Pending::Kind::kDeadLetter:
            stats->events_dead_lettered_total++;
            break;
          case Pending::Kind::kKeyOnly:
            stats->events_key_only_total++;
            break;
        }
        if (p->isolated) {
          isolating = false;
          suspects.erase(Identity(*p->event));
        }
        Report(p->token, Status::Ok());
        Release(p);
        continue;
      }
      ErrorClass cls = Classify(c.err);
      if (cls != ErrorClass::kOther && p->kind != Pending::Kind::kMain) {
        // The policy's own copy was rejected for good (e.g. the dead-letter
        // topic is not writable): nothing left to absorb it. Reported even
        // when the producer is fatal, so that a resend cannot loop.
        Fail(p, PermanentStatus(p, c.err, CopyName(p)));
        continue;
      }
      if (cls != ErrorClass::kOther && is_fatal) {
        // A broker rejected a batch and the producer is fatal (gapless
        // guarantee): any event of the batch may be the cause. Remember it;
        // the reset reports it kUnavailable and a resend goes alone.
        if (suspects.size() >= kMaxSuspects) suspects.clear();
        Suspect& s = suspects[Identity(*p->event)];
        s.err = c.err;
        s.confirmed = p->isolated;
        if (p->isolated) isolating = false;
        continue;
      }
      if (cls != ErrorClass::kOther && !is_fatal && !resetting) {
        // Failed in librdkafka's queue, not in a broker's batch (e.g. an
        // unknown topic): this event alone. Its copy is produced next.
        Status failure;
        if (TransformForPolicy(p, c.err, &failure)) {
          to_produce.push_back(p);
        } else {
          Fail(p, std::move(failure));
        }
        continue;
      }
      // Fatal, purged, or a failure the sink cannot attribute to this event:
      // the event stays pending and the reset reports it kUnavailable.
      if (!is_fatal && !resetting && !needs_reset) {
        needs_reset = true;
        reset_reason = "delivery failed: " + ErrorText(c.err);
      }
    }
    stats->events_acked_total += acked;
  }

  // ---- reset ----

  void Reset(const std::string& reason) {
    stats->producer_recreations_total++;
    LogError("kafka", client_id + ": resetting the Kafka producer (" + reason + "); " +
                          std::to_string(live) +
                          " outstanding event(s) will be reported unavailable and sent again");
    if (producer) {
      // Requests already sent are answered (acked or failed) before the
      // producer goes, so that none lands after a tail read.
      rd_kafka_purge(producer.get(), RD_KAFKA_PURGE_F_QUEUE);
      Clock::time_point drain_until = Clock::now() + options.reset_drain_timeout;
      while (rd_kafka_outq_len(producer.get()) > 0 && Clock::now() < drain_until) {
        rd_kafka_poll(producer.get(), 50);
      }
      rd_kafka_purge(producer.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(producer.get(), 0);
      ProcessCompletions(/*resetting=*/true);
      DropTopicHandles();
      producer.reset();
      completions.clear();
    }
    std::vector<uint64_t> tokens;
    tokens.reserve(live);
    for (const Pending& p : pending) {
      if (!p.done) tokens.push_back(p.token);
    }
    std::sort(tokens.begin(), tokens.end());
    for (uint64_t token : tokens) {
      stats->events_reset_total++;
      Report(token, Unavailable("Kafka producer reset (" + reason +
                                "); send again from the source's position"));
    }
    pending.clear();
    live = 0;
    to_produce.clear();
    isolating = false;
    fatal = false;
    needs_reset = false;
    reset_reason.clear();
    tails.clear();
    tails_ready = !exactly_once();

    // Back off only when resets follow each other; a lone reset recreates
    // at once.
    Clock::time_point now = Clock::now();
    if (last_reset == Clock::time_point{} || now - last_reset > std::chrono::seconds(30)) {
      backoff = milliseconds(0);
    } else {
      backoff = backoff.count() == 0 ? options.recreate_backoff
                                     : std::min(backoff * 2, options.recreate_backoff_max);
    }
    last_reset = now;
    recreate_at = now + backoff;
  }

  // Resets when needed, recreates the producer when due, and in exactly-once
  // mode reads the tails before anything is sent.
  void Maintain() {
    if (producer && (ProducerFatal() || needs_reset)) {
      Reset(needs_reset ? reset_reason : "fatal error " + FatalReason());
    }
    Clock::time_point now = Clock::now();
    if (!producer && now >= recreate_at) {
      Status s = CreateProducer();
      if (!s.ok()) {
        LogError("kafka", client_id + ": cannot recreate the Kafka producer: " + s.ToString());
        recreate_at = now + options.recreate_backoff_max;
        return;
      }
      LogInfo("kafka", client_id + ": Kafka producer recreated");
    }
    if (producer && !tails_ready && now >= tails_retry_at) {
      Status s = ReadTails(known_topics);
      if (s.ok()) {
        tails_ready = true;
      } else {
        LogWarn("kafka",
                client_id + ": reading partition tails failed, will retry: " + s.ToString());
        tails_retry_at = Clock::now() + options.recreate_backoff_max / 10;
      }
    }
  }

  // ---- exactly-once ----

  Status ReadTopicTails(const std::string& topic, Clock::time_point deadline) {
    KS_ASSIGN_OR_RETURN(int32_t count, TailReader::PartitionCount(producer.get(), topic, deadline));
    uint64_t read = 0;
    KS_ASSIGN_OR_RETURN(TopicTails t, tail_reader.Read(topic, count, deadline, &read));
    stats->tail_reads_total += read;
    std::string summary;
    for (size_t i = 0; i < t.last.size(); ++i) {
      summary += " " + std::to_string(i) + ":" + (t.last[i] ? t.last[i]->ToString() : "-");
    }
    LogInfo("kafka", client_id + ": topic '" + topic + "' has " + std::to_string(count) +
                         " partition(s); last positions" + summary);
    tails[topic] = std::move(t);
    return Status::Ok();
  }

  Status ReadTails(const std::vector<std::string>& topics) {
    Clock::time_point deadline = Clock::now() + options.startup_timeout;
    for (const std::string& topic : topics) KS_RETURN_IF_ERROR(ReadTopicTails(topic, deadline));
    return Status::Ok();
  }

  // Whether the event's partition already holds it. Reads the topic's tails
  // first when unknown.
  Result<bool> AlreadyPresent(const cdc::EncodedEvent& e) {
    std::optional<EventPosition> pos = PositionOf(e);
    // Without a key the partition is random: never skipped.
    if (!pos || !e.key || e.key->empty()) return false;
    auto it = tails.find(e.topic);
    if (it == tails.end()) {
      KS_RETURN_IF_ERROR(ReadTopicTails(e.topic, Clock::now() + options.startup_timeout));
      known_topics.push_back(e.topic);
      it = tails.find(e.topic);
    }
    const TopicTails& t = it->second;
    if (t.partition_count == 0) return false;
    const std::optional<EventPosition>& last =
        t.last[static_cast<size_t>(PartitionForKey(*e.key, t.partition_count))];
    return last && *pos <= *last;
  }

  // ---- topic creation ----

  // The topics the cluster has, from a metadata request for all topics
  // (which, unlike one naming a topic, never auto-creates it). Empty when the
  // cluster does not answer within the creation timeout; then every topic is
  // asked for.
  std::set<std::string> ExistingTopics() {
    std::set<std::string> names;
    const rd_kafka_metadata_t* md = nullptr;
    int timeout_ms =
        static_cast<int>(std::min<int64_t>(options.topic_creation_timeout.count(), 600000));
    rd_kafka_resp_err_t err = rd_kafka_metadata(producer.get(), 1, nullptr, &md, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      LogWarn("kafka", client_id + ": cannot list the cluster's topics: " + rd_kafka_err2name(err));
      return names;
    }
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) names.insert(md->topics[i].topic);
    }
    rd_kafka_metadata_destroy(md);
    return names;
  }

  void CreateTopics(const std::vector<std::string>& topics) {
    std::vector<rd_kafka_NewTopic_t*> new_topics;
    std::set<std::string> existing = ExistingTopics();
    for (const std::string& topic : topics) {
      // Asking for existing topics costs a round trip to the controller
      // each start, and a broker without CreateTopics (the mock cluster)
      // holds the source for the whole creation timeout.
      if (existing.count(topic) != 0) continue;
      char errstr[256] = {0};
      rd_kafka_NewTopic_t* t =
          rd_kafka_NewTopic_new(topic.c_str(), options.topic_creation.partitions,
                                options.topic_creation.replication_factor, errstr, sizeof(errstr));
      if (t == nullptr) {
        stats->topic_creation_failures_total++;
        LogWarn("kafka", client_id + ": cannot create topic '" + topic + "': " + errstr);
        continue;
      }
      new_topics.push_back(t);
    }
    if (new_topics.empty()) return;
    rd_kafka_AdminOptions_t* admin_options =
        rd_kafka_AdminOptions_new(producer.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
    int timeout_ms =
        static_cast<int>(std::min<int64_t>(options.topic_creation_timeout.count(), 600000));
    char errstr[256] = {0};
    rd_kafka_AdminOptions_set_request_timeout(admin_options, timeout_ms, errstr, sizeof(errstr));
    rd_kafka_AdminOptions_set_operation_timeout(admin_options, timeout_ms, errstr, sizeof(errstr));
    rd_kafka_queue_t* queue = rd_kafka_queue_new(producer.get());
    rd_kafka_CreateTopics(producer.get(), new_topics.data(), new_topics.size(), admin_options,
                          queue);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, timeout_ms + 1000);
    const std::string fallback = "; publishing relies on the broker creating topics on first use";
    if (ev == nullptr) {
      stats->topic_creation_failures_total++;
      LogWarn("kafka", client_id + ": CreateTopics timed out" + fallback);
    } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      stats->topic_creation_failures_total++;
      LogWarn("kafka", client_id +
                           ": CreateTopics failed: " + rd_kafka_err2name(rd_kafka_event_error(ev)) +
                           ": " + rd_kafka_event_error_string(ev) + fallback);
    } else {
      const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(ev);
      size_t count = 0;
      const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
      for (size_t i = 0; i < count; ++i) {
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
        std::string name = rd_kafka_topic_result_name(results[i]);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          LogInfo("kafka", client_id + ": created topic '" + name + "'");
        } else if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          stats->topic_creation_failures_total++;
          const char* why = rd_kafka_topic_result_error_string(results[i]);
          LogWarn("kafka", client_id + ": creating topic '" + name + "' failed: " +
                               rd_kafka_err2name(err) + ": " + (why ? why : "") + fallback);
        }
      }
    }
    if (ev != nullptr) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(queue);
    rd_kafka_AdminOptions_destroy(admin_options);
    rd_kafka_NewTopic_destroy_array(new_topics.data(), new_topics.size());
  }

  // ---- dispatch ----

  void Dispatch() {
    while (!reports.empty()) {
      // Double-buffered (the listener may Send, which may add reports).
      std::vector<std::pair<uint64_t, Status>>& batch = reports_spare;
      batch.clear();
      batch.swap(reports);
      listener->OnDeliveredBatch(batch);
      batch.clear();
    }
  }

  // One round of Poll/Flush: maintenance, deferred copies, delivery reports
  // (waiting up to `wait` for the first), dispatch.
  void Step(milliseconds wait, bool flushing) {
    Maintain();
    ProduceDeferred();
    if (producer) {
      int wait_ms = reports.empty() ? static_cast<int>(wait.count()) : 0;
      if (flushing && rd_kafka_outq_len(producer.get()) > 0) {
        // flush sends what lingers at once and serves reports.
        rd_kafka_flush(producer.get(), wait_ms);
      } else {
        rd_kafka_poll(producer.get(), wait_ms);
      }
      ProcessCompletions(/*resetting=*/false);
      if (ProducerFatal() || needs_reset) Maintain();
    } else if (reports.empty()) {
      // Waiting for the recreation backoff.
      Clock::time_point until = std::min(Clock::now() + wait, recreate_at);
      std::this_thread::sleep_until(until);
    }
    Dispatch();
  }
};

Result<std::unique_ptr<KafkaEventSink>> KafkaEventSink::Create(KafkaSinkOptions options) {
  if (options.bootstrap_servers.empty() || options.bootstrap_servers == kEmbeddedBootstrap) {
    return InvalidArgument(
        "kafka sink: bootstrap_servers must be host:port list (start the embedded broker first)");
  }
  if (options.on_permanent_error == PermanentErrorAction::kDeadLetter &&
      options.dead_letter_topic.empty()) {
    return InvalidArgument("kafka sink: on_permanent_error dead_letter needs a dead_letter_topic");
  }
  for (const auto& [name, value] : options.properties) {
    if (name == "bootstrap.servers" || name == "client.id") {
      return InvalidArgument("kafka property '" + name +
                             "' is set through kafka.bootstrap_servers / kafka.client_id");
    }
    if (name == "transactional.id") {
      return InvalidArgument(
          "kafka property 'transactional.id' is not supported: Keystone's exactly-once mode "
          "(delivery: exactly_once) works without Kafka transactions");
    }
    for (const FixedProperty& f : FixedProperties()) {
      if (name != f.name) continue;
      if (std::find(f.accepted.begin(), f.accepted.end(), value) == f.accepted.end()) {
        return InvalidArgument("kafka property '" + name + "' is fixed to '" + f.accepted.front() +
                               "' by Keystone (no-loss and per-key order guarantees)");
      }
    }
  }
  std::string client_id = options.client_id;
  if (!options.source_name.empty()) client_id += "-" + options.source_name;
  auto impl = std::make_unique<Impl>(std::move(options), std::move(client_id));
  // Builds the producer now so that a bad property or an inconsistent
  // configuration fails here; it connects in the background.
  KS_RETURN_IF_ERROR(impl->CreateProducer());
  return std::unique_ptr<KafkaEventSink>(new KafkaEventSink(std::move(impl)));
}

KafkaEventSink::KafkaEventSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->stats = &stats_;
}

KafkaEventSink::~KafkaEventSink() = default;

Status KafkaEventSink::Start(cdc::DeliveryListener* listener,
                             const std::vector<std::string>& topics) {
  Impl& s = *impl_;
  if (s.started) return FailedPrecondition("kafka sink already started");
  if (listener == nullptr) return InvalidArgument("kafka sink: listener must not be null");
  if (!s.producer) KS_RETURN_IF_ERROR(s.CreateProducer());
  s.listener = listener;
  s.known_topics = topics;
  if (s.options.topic_creation.create_topics) {
    std::vector<std::string> to_create = topics;
    if (!s.options.dead_letter_topic.empty()) to_create.push_back(s.options.dead_letter_topic);
    s.CreateTopics(to_create);
  }
  if (s.exactly_once()) {
    s.tails.clear();
    KS_RETURN_IF_ERROR(s.ReadTails(topics));
  }
  s.tails_ready = true;
  s.started = true;
  LogInfo("kafka", s.client_id + ": publishing to " + s.options.bootstrap_servers + " (" +
                       (s.exactly_once() ? "exactly-once" : "at-least-once") + ")");
  return Status::Ok();
}

Status KafkaEventSink::Send(const cdc::EncodedEvent& event) {
  Impl& s = *impl_;
  if (!s.started) return FailedPrecondition("kafka sink not started");
  if (!s.ReadyToSend()) {
    stats_.queue_full_total++;
    return Unavailable("kafka sink is resetting its producer; poll and send again");
  }
  if (s.isolating) {
    stats_.queue_full_total++;
    return Unavailable("kafka sink is sending a suspect event alone; poll and send again");
  }
  if (s.exactly_once()) {
    Result<bool> present = s.AlreadyPresent(event);
    if (!present.ok()) {
      return Unavailable("kafka sink cannot read what topic '" + event.topic +
                         "' holds: " + present.status().message());
    }
    if (*present) {
      stats_.events_sent_total++;
      stats_.events_skipped_total++;
      s.Report(event.token, Status::Ok());
      return Status::Ok();
    }
  }
  std::string identity;
  std::optional<rd_kafka_resp_err_t> confirmed;
  bool isolated = false;
  if (!s.suspects.empty()) {
    identity = Identity(event);
    auto it = s.suspects.find(identity);
    if (it != s.suspects.end()) {
      if (it->second.confirmed) {
        // It failed on its own before: the policy applies without sending it
        // to its topic again.
        confirmed = it->second.err;
      } else if (s.live > 0) {
        stats_.queue_full_total++;
        return Unavailable("kafka sink drains before sending a suspect event alone");
      } else {
        isolated = true;
      }
    }
  }
  // Taken back (pop_back) unless accepted; nothing else grows `pending` here.
  Impl::Pending* p = &s.pending.emplace_back();
  p->token = event.token;
  p->sequence = event.sequence;
  p->snapshot_ordinal = event.snapshot_ordinal;
  p->sub_index = event.sub_index;
  p->snapshot = event.snapshot;
  p->isolated = isolated;
  // A suspect's identity and description are needed when it is reported.
  if (isolated) p->event = std::make_unique<cdc::EncodedEvent>(event);
  rd_kafka_resp_err_t err = confirmed ? *confirmed : s.Produce(p, event);
  if (!confirmed) {
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      stats_.events_sent_total++;
      if (p->isolated) {
        s.isolating = true;
        stats_.isolated_sends_total++;
        LogWarn("kafka", s.client_id + ": sending suspect " + Describe(event) +
                             " alone to find whether it fails on its own");
      }
      s.Accept();
      return Status::Ok();
    }
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      s.pending.pop_back();
      stats_.queue_full_total++;
      return Unavailable("kafka producer queue is full; poll and send again");
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      s.pending.pop_back();
      s.fatal = true;
      stats_.queue_full_total++;
      return Unavailable("kafka producer failed fatally; poll and send again");
    }
  }
  // Failed for good before anything was queued (too large for
  // message.max.bytes, unknown partition, a confirmed culprit): the policy's
  // copy is produced now, so that it keeps its place in the key's order.
  if (!p->event) p->event = std::make_unique<cdc::EncodedEvent>(event);
  Status failure;
  if (Classify(err) == ErrorClass::kOther) {
    failure = Internal("producing " + Describe(event) + ": " + ErrorText(err));
  } else if (s.TransformForPolicy(p, err, &failure)) {
    rd_kafka_resp_err_t copy_err = s.Produce(p, *p->event);
    if (copy_err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (confirmed) s.suspects.erase(identity);
      stats_.events_sent_total++;
      s.Accept();
      return Status::Ok();
    }
    if (copy_err == RD_KAFKA_RESP_ERR__QUEUE_FULL || copy_err == RD_KAFKA_RESP_ERR__FATAL) {
      s.pending.pop_back();
      if (copy_err == RD_KAFKA_RESP_ERR__FATAL) s.fatal = true;
      stats_.queue_full_total++;
      return Unavailable("kafka producer cannot take the event now; poll and send again");
    }
    failure = s.PermanentStatus(p, copy_err, Impl::CopyName(p));
  }
  if (confirmed) s.suspects.erase(identity);
  stats_.events_sent_total++;
  s.FailReport(p->token, event, std::move(failure));
  s.pending.pop_back();
  return Status::Ok();
}

void KafkaEventSink::Poll(std::chrono::milliseconds timeout) {
  if (!impl_->started) return;
  impl_->Step(timeout, /*flushing=*/false);
}

Status KafkaEventSink::Flush(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (!s.started) return Status::Ok();
  Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    if (InFlight() == 0) return Status::Ok();
    Clock::time_point now = Clock::now();
    if (now >= deadline) {
      return Unavailable("kafka flush timed out with " + std::to_string(InFlight()) +
                         " event(s) outstanding");
    }
    auto left = std::chrono::duration_cast<milliseconds>(deadline - now);
    s.Step(std::min(left, milliseconds(100)), /*flushing=*/true);
  }
}

size_t KafkaEventSink::InFlight() const { return impl_->live + impl_->reports.size(); }

int32_t KafkaEventSink::PredictedPartition(const std::string& topic, const std::string& key) const {
  auto it = impl_->tails.find(topic);
  if (it == impl_->tails.end() || it->second.partition_count == 0) return -1;
  return PartitionForKey(key, it->second.partition_count);
}

}  // namespace keystone::kafka
