#include "tests/e2e/e2e_util.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#ifndef KEYSTONE_PYTHON
#error "KEYSTONE_PYTHON must name the interpreter with python3-kafka"
#endif
#ifndef KEYSTONE_FOLLOW_TOPIC_PY
#error "KEYSTONE_FOLLOW_TOPIC_PY must name tests/e2e/follow_topic.py"
#endif

namespace keystone::e2e {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// The first object under `v` (depth first) with "name" == name and a numeric
// "lag_records".
const rapidjson::Value* FindSource(const rapidjson::Value& v, const std::string& name) {
  if (v.IsObject()) {
    auto n = v.FindMember("name");
    auto lag = v.FindMember("lag_records");
    if (n != v.MemberEnd() && n->value.IsString() && name == n->value.GetString() &&
        lag != v.MemberEnd() && lag->value.IsUint64()) {
      return &v;
    }
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      if (const rapidjson::Value* found = FindSource(it->value, name)) return found;
    }
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) {
      if (const rapidjson::Value* found = FindSource(e, name)) return found;
    }
  }
  return nullptr;
}

std::optional<int64_t> AsInt(const rapidjson::Value& v) {
  if (v.IsInt64()) return v.GetInt64();
  if (v.IsString()) return std::strtoll(v.GetString(), nullptr, 10);
  return std::nullopt;
}

}  // namespace

bool WaitFor(const std::function<bool()>& cond, milliseconds timeout, milliseconds poll) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(poll);
  }
  return cond();
}

std::string PipelineConfig(const std::string& bootstrap, const std::string& delivery,
                           const std::string& properties) {
  return R"(tables:
  - name: users
    partition_key: {name: pk, type: S}
    stream: {enabled: true, view_type: NEW_AND_OLD_IMAGES, buffer_size: 100000}
kafka:
  bootstrap_servers: ")" +
         bootstrap + R"("
  properties: {)" +
         properties + R"(}
sources:
  - name: users-to-kafka
    table: users
    topic: "keystone.{table}"
    format: debezium
    delivery: )" +
         delivery + "\n";
}

Writers::Writers(int port, int threads, int keys_per_thread, double rate, size_t pad_bytes)
    : port_(port),
      keys_per_thread_(keys_per_thread),
      per_thread_rate_(rate / threads),
      pad_(pad_bytes, 'x') {
  for (int t = 0; t < threads; ++t) threads_.emplace_back([this, t] { Run(t); });
}

Writers::~Writers() { Stop(); }

void Writers::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::vector<Write> Writers::acked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acked_;
}

size_t Writers::acked_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acked_.size();
}

void Writers::Run(int thread) {
  httplib::Client client("127.0.0.1", port_);
  client.set_keep_alive(true);
  // httplib sends the headers and the body in two writes: without
  // TCP_NODELAY the body waits for the server's delayed ACK (~40 ms), as no
  // SDK's HTTP client does.
  client.set_tcp_nodelay(true);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(5, 0);
  const httplib::Headers headers = {{"X-Amz-Target", "DynamoDB_20120810.PutItem"}};
  auto next = Clock::now();
  const auto interval = per_thread_rate_ > 0
                            ? std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(1.0 / per_thread_rate_))
                            : Clock::duration::zero();
  for (int64_t n = 0; !stop_; ++n) {
    if (interval > Clock::duration::zero()) {
      // Pacing, not waiting for a condition: the load is steady by design.
      std::this_thread::sleep_until(next);
      next += interval;
    }
    std::string key = "t" + std::to_string(thread) + "-" + std::to_string(n % keys_per_thread_);
    int64_t version = next_version_.fetch_add(1);
    std::string body = R"({"TableName":"users","Item":{"pk":{"S":")" + key + R"("},"v":{"N":")" +
                       std::to_string(version) + R"("},"pad":{"S":")" + pad_ + R"("}}})";
    auto r = client.Post("/", headers, body, "application/x-amz-json-1.0");
    if (r && r->status == 200) {
      int64_t now = NowNs();
      std::lock_guard<std::mutex> lock(mu_);
      acked_.push_back({std::move(key), version, now});
    } else {
      failures_.fetch_add(1);
      if (!r) {
        // keystoned is down (a crash test): back off briefly before retrying.
        std::this_thread::sleep_for(milliseconds(5));
        next = Clock::now();
      }
    }
  }
}

Result<std::unique_ptr<TopicFollower>> TopicFollower::Start(const std::string& bootstrap,
                                                            const std::string& topic,
                                                            bool background) {
  std::unique_ptr<TopicFollower> f(new TopicFollower());
  std::vector<std::string> argv = {KEYSTONE_PYTHON, KEYSTONE_FOLLOW_TOPIC_PY, bootstrap, topic,
                                   "60"};
  if (background) argv.insert(argv.begin(), {"/usr/bin/nice", "-n", "19"});
  KS_ASSIGN_OR_RETURN(f->process_, kafka::testing::Subprocess::Spawn(argv, true, true));
  KS_ASSIGN_OR_RETURN(std::string ready, f->process_->ReadLine(milliseconds(60000)));
  if (ready != "READY") return Internal("follow_topic.py: unexpected first line: " + ready);
  f->reader_ = std::thread([p = f.get()] { p->Read(); });
  return f;
}

TopicFollower::~TopicFollower() {
  if (process_) process_->Kill(SIGKILL);
  if (reader_.joinable()) reader_.join();
}

void TopicFollower::Read() {
  while (true) {
    Result<std::string> line = process_->ReadLine(milliseconds(200));
    if (!line.ok()) {
      if (line.status().code() == StatusCode::kUnavailable) continue;
      std::lock_guard<std::mutex> lock(mu_);
      if (!ended_) error_ = "follow_topic.py ended without END";
      return;
    }
    if (line->rfind("END ", 0) == 0) {
      std::lock_guard<std::mutex> lock(mu_);
      ended_ = true;
      return;
    }
    Result<ConsumedMessage> m = kafka::testing::ParseDumpLine(*line);
    std::lock_guard<std::mutex> lock(mu_);
    if (!m.ok()) {
      error_ = m.status().ToString();
      return;
    }
    messages_.push_back(std::move(m).value());
  }
}

std::vector<ConsumedMessage> TopicFollower::messages() const {
  std::lock_guard<std::mutex> lock(mu_);
  return messages_;
}

size_t TopicFollower::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return messages_.size();
}

Result<std::vector<ConsumedMessage>> TopicFollower::Finish(milliseconds timeout) {
  KS_RETURN_IF_ERROR(process_->WriteLine("stop"));
  if (reader_.joinable()) reader_.join();
  KS_ASSIGN_OR_RETURN(int status, process_->Wait(timeout));
  std::lock_guard<std::mutex> lock(mu_);
  if (!error_.empty()) return Internal(error_);
  if (status != 0 || !ended_) {
    return Internal("follow_topic.py exited with " + std::to_string(status));
  }
  return messages_;
}

std::optional<uint64_t> SourceLag(int port, const std::string& name, int* status_code) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(5, 0);
  auto r = client.Get("/sources");
  if (status_code) *status_code = r ? r->status : 0;
  if (!r || r->status != 200) return std::nullopt;
  rapidjson::Document doc;
  doc.Parse(r->body.c_str());
  if (doc.HasParseError()) return std::nullopt;
  const rapidjson::Value* source = FindSource(doc, name);
  if (!source) return std::nullopt;
  return (*source)["lag_records"].GetUint64();
}

::testing::AssertionResult SourceListed(int port, const std::string& name, milliseconds timeout) {
  int code = 0;
  if (WaitFor([&] { return SourceLag(port, name, &code).has_value(); }, timeout)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "no status of source " << name << " in GET /sources (HTTP " << code << ")";
}

bool SourceCaughtUp(int port, const std::string& name) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(5, 0);
  auto r = client.Get("/sources");
  if (!r || r->status != 200) return false;
  rapidjson::Document doc;
  doc.Parse(r->body.c_str());
  if (doc.HasParseError()) return false;
  const rapidjson::Value* s = FindSource(doc, name);
  if (!s) return false;
  auto u64 = [&](const char* field) -> std::optional<uint64_t> {
    auto it = s->FindMember(field);
    if (it == s->MemberEnd() || !it->value.IsUint64()) return std::nullopt;
    return it->value.GetUint64();
  };
  auto state = s->FindMember("state");
  // lag_records is 0 too before the source has looked at its table.
  return state != s->MemberEnd() && state->value.IsString() &&
         std::string(state->value.GetString()) == "STREAMING" && u64("lag_records") == 0u &&
         u64("table_sequence") > 0u && u64("position") == u64("table_sequence");
}

std::vector<Event> Decode(const std::vector<ConsumedMessage>& messages, const std::string& source) {
  std::vector<Event> events;
  for (const ConsumedMessage& m : messages) {
    Event e;
    e.partition = m.partition;
    e.offset = m.offset;
    e.received_ns = m.received_ns;
    std::optional<std::string> seq = m.Header("keystone.seq");
    EXPECT_TRUE(seq.has_value()) << "no keystone.seq at " << m.partition << "/" << m.offset;
    EXPECT_TRUE(m.Header("keystone.op").has_value()) << m.partition << "/" << m.offset;
    EXPECT_EQ(m.Header("keystone.table").value_or(""), "users") << m.partition << "/" << m.offset;
    EXPECT_EQ(m.Header("keystone.source").value_or(""), source) << m.partition << "/" << m.offset;
    if (seq) e.seq = std::strtoull(seq->c_str(), nullptr, 10);
    rapidjson::Document doc;
    doc.Parse(m.value.value_or("null").c_str());
    const rapidjson::Value* payload = &doc;
    if (doc.IsObject() && doc.HasMember("payload")) payload = &doc["payload"];
    if (payload->IsObject() && payload->HasMember("after") && (*payload)["after"].IsObject()) {
      const rapidjson::Value& after = (*payload)["after"];
      if (after.HasMember("pk") && after["pk"].IsString()) e.key = after["pk"].GetString();
      if (after.HasMember("v")) e.version = AsInt(after["v"]).value_or(-1);
    }
    EXPECT_FALSE(e.key.empty()) << "no after.pk at " << m.partition << "/" << m.offset;
    EXPECT_GE(e.version, 0) << "no after.v at " << m.partition << "/" << m.offset;
    events.push_back(std::move(e));
  }
  return events;
}

bool HoldsAll(const std::vector<Event>& events, const std::vector<Write>& acked) {
  std::set<std::pair<std::string, int64_t>> have;
  for (const Event& e : events) have.emplace(e.key, e.version);
  for (const Write& w : acked) {
    if (!have.count({w.key, w.version})) return false;
  }
  return true;
}

void ExpectDelivered(const std::vector<Event>& all, const std::vector<Write>& acked,
                     bool exactly_once) {
  std::vector<Event> events = all;
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });

  // Every acknowledged write is there.
  std::set<std::pair<std::string, int64_t>> have;
  for (const Event& e : events) have.emplace(e.key, e.version);
  size_t missing = 0;
  for (const Write& w : acked) {
    if (!have.count({w.key, w.version})) {
      if (++missing <= 5)
        ADD_FAILURE() << "acknowledged write " << w.key << " v" << w.version
                      << " is not in the topic";
    }
  }
  if (missing > 5) {
    ADD_FAILURE() << missing << " of " << acked.size()
                  << " acknowledged writes are not in the topic";
  }

  // Each key in one partition; per partition, order with replays only as
  // contiguous runs over the partition's tail.
  std::map<std::string, int32_t> key_partition;
  std::map<std::string, int64_t> key_version;
  std::map<uint64_t, int> seq_count;
  size_t repeats = 0;
  int32_t partition = -1;
  std::vector<uint64_t> order;       // distinct seqs of the partition, in order
  std::map<uint64_t, size_t> index;  // seq -> position in order
  constexpr size_t kNoRun = SIZE_MAX;
  size_t run = kNoRun;  // the last message repeated order[*run]
  int order_failures = 0;
  auto fail = [&](const Event& e, const std::string& why) {
    if (++order_failures <= 5) {
      ADD_FAILURE() << why << " at " << e.partition << "/" << e.offset << " (seq " << e.seq
                    << ", key " << e.key << ", v" << e.version << ")";
    }
  };
  for (const Event& e : events) {
    if (e.partition != partition) {
      partition = e.partition;
      order.clear();
      index.clear();
      run = kNoRun;
    }
    auto [kp, inserted] = key_partition.emplace(e.key, e.partition);
    if (!inserted && kp->second != e.partition) fail(e, "key in two partitions");
    ++seq_count[e.seq];
    auto seen = index.find(e.seq);
    if (seen == index.end()) {
      if (!order.empty() && e.seq <= order.back()) fail(e, "sequence number out of order");
      if (run != kNoRun && run + 1 != order.size())
        fail(e, "replay ended before the partition's tail");
      run = kNoRun;
      index[e.seq] = order.size();
      order.push_back(e.seq);
      auto [kv, first] = key_version.emplace(e.key, e.version);
      if (!first) {
        if (e.version <= kv->second) fail(e, "version not increasing for its key");
        kv->second = e.version;
      }
    } else {
      ++repeats;
      if (exactly_once) fail(e, "repeated in exactly-once mode");
      // A run continues with the next of the tail, or a new replay starts
      // (another crash) at or before it.
      if (run != kNoRun && seen->second != run + 1 && seen->second > run) {
        fail(e, "replay skips part of the tail");
      }
      run = seen->second;
    }
  }
  if (order_failures > 5) ADD_FAILURE() << order_failures << " order violations in all";
  if (exactly_once) {
    if (!seq_count.empty()) {
      uint64_t first = seq_count.begin()->first, last = seq_count.rbegin()->first;
      EXPECT_EQ(seq_count.size(), last - first + 1)
          << "sequence numbers missing between " << first << " and " << last;
    }
  }
  std::printf(
      "checked %zu events (%zu distinct sequence numbers, %zu repeats) against %zu "
      "acknowledged writes\n",
      events.size(), seq_count.size(), repeats, acked.size());
}

}  // namespace keystone::e2e
