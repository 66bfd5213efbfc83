// e2e_latency_bench: write-to-Kafka latency of keystoned at a steady load.
//
// Starts keystone-mock-kafka (3 brokers, keystone.users with 24 partitions,
// 3 replicas) and keystoned (sync: full, the table `users` published by a
// debezium at_least_once source), then for --seconds issues PutItem at
// --rate writes/s (open loop: --threads keep-alive connections on one epoll
// thread, a write every 1/rate s at millisecond resolution).
//
// The latency is keystoned's own: keystone_source_delivery_latency_seconds,
// from when the store finished a write's commit (the moment before its HTTP
// answer goes out) to the Kafka delivery report of its events (acks=all),
// in microseconds, scraped after the warm-up (2 s: the producer's and
// consumers' connections) and at the end, so that it covers the writes
// between. Quantiles are the upper bound of the bucket that holds them (0.5
// ms apart up to 3 ms, 1 ms up to 10 ms).
//
// Every acknowledged write is then checked with an independent consumer
// (python3-kafka, tests/e2e/follow_topic.py) reading the topic once the
// writes are done: none may be missing. Consumers reading during the run
// take the CPU (and the mock cluster's one thread) that the latency is
// measured on, on a small machine; a deployment's consumers are not on
// keystoned's machine. --consumer-timing runs a librdkafka consumer here
// during the run that stamps each event as it arrives: ack to consumer, an
// upper bound of ack to delivery report that includes the consumer's fetch.
// keystoned's VmRSS is sampled every 50 ms during the run.
//
// Usage: e2e_latency_bench [--rate 5000] [--seconds 20] [--threads 64]
//                          [--consumer-timing] [--kafka-property name=value]...

#include <arpa/inet.h>
#include <httplib.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/kafka_bench_util.h"
#include "tests/e2e/e2e_util.h"
#include "tests/kafka_sink/kafka_test_util.h"
#include "tests/testing/keystoned.h"
#include "tests/testing/temp_dir.h"

using namespace keystone;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// Partitions of keystone.users. The mock cluster keeps ~5 MiB a partition,
// and the topic must still hold the whole run when python3-kafka reads it
// after the writes (20 s at 5,000 writes/s is ~40 MiB).
constexpr int kPartitions = 24;

// A librdkafka consumer reading every partition of `topic` from the start
// on its own thread, stamping each event (key's pk, after.v) with the
// steady_clock time its poll returned it.
class LatencyConsumer {
 public:
  LatencyConsumer(const std::string& bootstrap, const std::string& topic, int partitions) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    for (auto [k, v] : std::initializer_list<std::pair<const char*, const char*>>{
             {"bootstrap.servers", bootstrap.c_str()},
             {"group.id", "e2e-latency-bench"},
             {"enable.auto.commit", "false"},
             {"fetch.wait.max.ms", "5"},
             {"fetch.error.backoff.ms", "1"}}) {
      if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        std::fprintf(stderr, "consumer config %s: %s\n", k, err);
        std::exit(1);
      }
    }
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk_ == nullptr) {
      std::fprintf(stderr, "consumer: %s\n", err);
      std::exit(1);
    }
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) {
      rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk_, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    thread_ = std::thread([this] { Run(); });
  }
  ~LatencyConsumer() {
    stop_ = true;
    thread_.join();
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }
  // (key, version) -> first time seen.
  std::map<std::pair<std::string, int64_t>, int64_t> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  void Run() {
    while (!stop_) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 5);
      if (m == nullptr) continue;
      int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        bench::Clock::now().time_since_epoch())
                        .count();
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->payload != nullptr) {
        rapidjson::Document doc;
        doc.Parse(static_cast<const char*>(m->payload), m->len);
        if (doc.IsObject() && doc.HasMember("after") && doc["after"].IsObject()) {
          const rapidjson::Value& after = doc["after"];
          if (after.HasMember("pk") && after["pk"].IsString() && after.HasMember("v")) {
            const rapidjson::Value& v = after["v"];
            int64_t version = v.IsInt64()    ? v.GetInt64()
                              : v.IsString() ? std::strtoll(v.GetString(), nullptr, 10)
                                             : -1;
            std::lock_guard<std::mutex> lock(mu_);
            seen_.emplace(std::make_pair(std::string(after["pk"].GetString()), version), now);
          }
        }
      }
      rd_kafka_message_destroy(m);
    }
  }

  rd_kafka_t* rk_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::map<std::pair<std::string, int64_t>, int64_t> seen_;
};

// PutItem writers on one thread: `connections` keep-alive connections to
// 127.0.0.1:port, a request every 1/rate s (open loop: a write whose turn
// comes while every connection is busy waits for the first to free, and is
// counted late), each connection to its own keys ("c<conn>-<n>") with a
// global counter as version, so per key the versions grow with the stream
// order. One thread with epoll keeps the load generator's CPU small next to
// keystoned's on a shared machine (a thread per connection cost more CPU
// than keystoned itself).
class RateWriters {
 public:
  RateWriters(int port, int connections, double rate, int keys_per_connection)
      : port_(port), rate_(rate), keys_(keys_per_connection), conns_(connections) {
    thread_ = std::thread([this] { Run(); });
  }
  ~RateWriters() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // After Stop().
  const std::vector<e2e::Write>& acked() const { return acked_; }
  uint64_t errors() const { return errors_; }
  uint64_t late() const { return late_; }

 private:
  struct Conn {
    int fd = -1;
    std::string in;
    bool busy = false;
    e2e::Write write;
    int64_t n = 0;
  };

  static int64_t Now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               bench::Clock::now().time_since_epoch())
        .count();
  }

  int Connect() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 &&
        errno != EINPROGRESS) {
      std::perror("connect");
      std::exit(1);
    }
    return fd;
  }

  void Send(int ep, size_t i) {
    Conn& c = conns_[i];
    c.write.key = "c" + std::to_string(i) + "-" + std::to_string(c.n++ % keys_);
    c.write.version = next_version_++;
    std::string body = R"({"TableName":"users","Item":{"pk":{"S":")" + c.write.key +
                       R"("},"v":{"N":")" + std::to_string(c.write.version) + R"("},"pad":{"S":")" +
                       std::string(100, 'x') + R"("}}})";
    std::string request =
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\n"
        "Content-Type: application/x-amz-json-1.0\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    c.busy = true;
    // Small enough for the socket buffer of an idle connection.
    if (send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      std::perror("send");
      std::exit(1);
    }
    (void)ep;
  }

  void Reconnect(int ep, size_t i) {
    Conn& c = conns_[i];
    epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = Connect();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    c.in.clear();
  }

  // A complete response at the front of c.in: its status, and erases it;
  // -1 when incomplete. *close: the server closes the connection after it
  // (keep_alive_max_count), so no request may follow on it.
  static int TakeResponse(std::string& in, bool* close) {
    size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) return -1;
    size_t length = 0;
    size_t cl = in.find("Content-Length: ");
    if (cl != std::string::npos && cl < end)
      length = std::strtoull(in.c_str() + cl + 16, nullptr, 10);
    if (in.size() < end + 4 + length) return -1;
    int status = std::atoi(in.c_str() + 9);  // "HTTP/1.1 200"
    size_t connection = in.find("Connection: close");
    *close = connection != std::string::npos && connection < end;
    in.erase(0, end + 4 + length);
    return status;
  }

  void Run() {
    int ep = epoll_create1(0);
    std::vector<size_t> idle;
    for (size_t i = 0; i < conns_.size(); ++i) {
      conns_[i].fd = Connect();
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      epoll_ctl(ep, EPOLL_CTL_ADD, conns_[i].fd, &ev);
      idle.push_back(i);
    }
    const int64_t interval = static_cast<int64_t>(1e9 / rate_);
    int64_t next = Now();
    uint64_t owed = 0;  // writes whose turn came with no idle connection
    epoll_event events[64];
    char buf[16384];
    while (!stop_) {
      int64_t now = Now();
      while (next <= now) {
        if (idle.size() <= owed) ++late_;
        ++owed;
        next += interval;
      }
      while (owed > 0 && !idle.empty()) {
        Send(ep, idle.back());
        idle.pop_back();
        --owed;
      }
      // Sleep until the next send is due, or (writes owed) until an answer
      // frees a connection. Never a 0 timeout: that spun a core, and the
      // load generator's CPU is taken from what it measures. Writes whose
      // turn comes within the millisecond go out together when it ends, so
      // the load is steady at millisecond resolution.
      int n = epoll_wait(ep, events, 64, 1);
      for (int e = 0; e < n; ++e) {
        size_t i = events[e].data.u64;
        Conn& c = conns_[i];
        bool closed = false;
        for (;;) {
          ssize_t r = recv(c.fd, buf, sizeof(buf), 0);
          if (r > 0) {
            c.in.append(buf, static_cast<size_t>(r));
            continue;
          }
          closed = !(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
          break;
        }
        if (c.busy) {
          bool close_after = false;
          int status = TakeResponse(c.in, &close_after);
          // Closing: reconnect now rather than send the next write into it.
          closed |= close_after;
          if (status == 200) {
            c.write.acked_ns = Now();
            acked_.push_back(c.write);
          } else if (status > 0) {
            ++errors_;
          }
          if (status > 0) {
            c.busy = false;
            if (!closed) idle.push_back(i);
          }
        } else if (closed && !c.busy) {
          // Already back in `idle` (its answer came in an earlier event):
          // reconnect now, but list it once only, or two writes would
          // share it and their answers be taken for each other.
          closed = false;
          Reconnect(ep, i);
        }
        if (closed) {
          // The server closed it (keep_alive_max_count): reconnect; a write
          // left unanswered is an error, not recorded.
          if (c.busy) ++errors_;
          c.busy = false;
          Reconnect(ep, i);
          idle.push_back(i);
        }
      }
    }
    for (Conn& c : conns_) close(c.fd);
    close(ep);
  }

  int port_;
  double rate_;
  int keys_;
  std::vector<Conn> conns_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  int64_t next_version_ = 1;
  std::vector<e2e::Write> acked_;
  uint64_t errors_ = 0, late_ = 0;
};

// RssAnon of `pid`, bytes; 0 if unreadable.
uint64_t AnonBytes(pid_t pid) {
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r");
  if (f == nullptr) return 0;
  char line[256];
  uint64_t kib = 0;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, "RssAnon:", 8) == 0) kib = std::strtoull(line + 8, nullptr, 10);
  }
  std::fclose(f);
  return kib * 1024;
}

// keystoned's delivery latency histogram (summed over its sources):
// cumulative count per bucket upper bound, in seconds.
struct LatencyBuckets {
  std::vector<std::pair<double, double>> cumulative;  // (le, count)

  // The difference from an earlier scrape.
  LatencyBuckets Since(const LatencyBuckets& earlier) const {
    LatencyBuckets d = *this;
    for (size_t i = 0; i < d.cumulative.size() && i < earlier.cumulative.size(); ++i) {
      d.cumulative[i].second -= earlier.cumulative[i].second;
    }
    return d;
  }
  double count() const { return cumulative.empty() ? 0 : cumulative.back().second; }
  // The upper bound (ms) of the bucket that holds quantile q; -1 if empty.
  double QuantileAtMostMs(double q) const {
    if (count() == 0) return -1;
    for (const auto& [le, c] : cumulative) {
      if (c >= q * count()) return le * 1000;
    }
    return -1;
  }
  // The upper bound (ms) of the highest non-empty bucket.
  double MaxAtMostMs() const {
    double previous = 0;
    for (const auto& [le, c] : cumulative) {
      if (c >= count()) return count() > previous ? le * 1000 : -1;
      previous = c;
    }
    return -1;
  }
};

LatencyBuckets ScrapeLatency(int metrics_port, std::string* body_out = nullptr) {
  LatencyBuckets h;
  httplib::Client client("127.0.0.1", metrics_port);
  auto r = client.Get("/metrics");
  if (!r || r->status != 200) return h;
  if (body_out != nullptr) *body_out = r->body;
  const std::string prefix = "keystone_source_delivery_latency_seconds_bucket{";
  size_t at = 0;
  while ((at = r->body.find(prefix, at)) != std::string::npos) {
    size_t le = r->body.find(",le=\"", at);
    size_t close = r->body.find('}', at);
    size_t eol = r->body.find('\n', at);
    if (le == std::string::npos || close == std::string::npos || le > close) break;
    std::string bound = r->body.substr(le + 5, r->body.find('"', le + 5) - le - 5);
    double value = std::strtod(r->body.c_str() + close + 1, nullptr);
    h.cumulative.emplace_back(bound == "+Inf" ? 1e9 : std::strtod(bound.c_str(), nullptr), value);
    at = eol == std::string::npos ? r->body.size() : eol;
  }
  return h;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  double rate = 5000, run_seconds = 20;
  int threads = 64;
  bool consumer_timing = false;
  std::string properties;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rate" && i + 1 < argc) {
      rate = std::atof(argv[++i]);
    } else if (a == "--seconds" && i + 1 < argc) {
      run_seconds = std::atof(argv[++i]);
    } else if (a == "--kafka-property" && i + 1 < argc) {
      // name=value, passed to keystoned's kafka.properties.
      std::string kv = argv[++i];
      size_t eq = kv.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "--kafka-property wants name=value\n");
        return 2;
      }
      properties +=
          (properties.empty() ? "" : ", ") + kv.substr(0, eq) + ": \"" + kv.substr(eq + 1) + "\"";
    } else if (a == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (a == "--consumer-timing") {
      consumer_timing = true;
    } else {
      std::fprintf(stderr,
                   "usage: e2e_latency_bench [--rate N] [--seconds S] [--threads N] "
                   "[--consumer-timing] [--kafka-property name=value]...\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  keystone::testing::TempDir dir;
  auto kafka =
      kafka::testing::MockKafka::Start(3, {"keystone.users:" + std::to_string(kPartitions) + ":3"});
  if (!kafka.ok()) {
    std::fprintf(stderr, "mock cluster: %s\n", kafka.status().ToString().c_str());
    return 1;
  }
  const std::string bootstrap = (*kafka)->bootstrap();
  keystone::testing::Keystoned keystoned(
      dir, "ks", e2e::PipelineConfig(bootstrap, "at_least_once", properties), "full");
  if (!keystoned.Start()) {
    std::fprintf(stderr, "keystoned did not start:\n%s\n", keystoned.log().c_str());
    return 1;
  }
  std::unique_ptr<LatencyConsumer> consumer;
  if (consumer_timing)
    consumer = std::make_unique<LatencyConsumer>(bootstrap, "keystone.users", kPartitions);
  std::printf(
      "keystoned (sync: full) -> 3-broker mock cluster at %s; %.0f writes/s for %.0f s, "
      "%d writers\n",
      bootstrap.c_str(), rate, run_seconds, threads);
  std::fflush(stdout);

  uint64_t rss_start = bench::RssBytes(keystoned.process().pid());
  uint64_t rss_peak = 0, rss_min = 0, rss_end = 0;
  std::vector<e2e::Write> acked;
  double achieved = 0;
  int64_t measure_from_ns = 0;
  uint64_t errors = 0, late = 0;
  std::vector<uint64_t> anon_series;
  LatencyBuckets warm, final_buckets;
  std::string metrics;
  {
    bench::RssSampler rss(keystoned.process().pid());
    auto start = bench::Clock::now();
    // The first seconds warm up the connections of keystoned's producer and
    // of the consumers; their writes count for completeness, not latency.
    measure_from_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          (start + std::chrono::seconds(2)).time_since_epoch())
                          .count();
    RateWriters writers(keystoned.port(), threads, rate, 1000);
    // keystoned's anonymous memory (heap, queues; not the LMDB map's file
    // pages) once a second: flat means no growth with the run's length.
    auto end = start + std::chrono::duration_cast<bench::Clock::duration>(
                           std::chrono::duration<double>(run_seconds));
    for (auto next = start + seconds(1); next < end; next += seconds(1)) {
      std::this_thread::sleep_until(next);
      anon_series.push_back(AnonBytes(keystoned.process().pid()));
      if (anon_series.size() == 2) warm = ScrapeLatency(keystoned.metrics_port());
    }
    std::this_thread::sleep_until(end);
    anon_series.push_back(AnonBytes(keystoned.process().pid()));
    writers.Stop();
    acked = writers.acked();
    achieved = static_cast<double>(acked.size()) / bench::Seconds(bench::Clock::now() - start);
    errors = writers.errors();
    late = writers.late();
    rss_peak = rss.peak();
    rss_min = rss.min();
    rss_end = rss.last();
  }
  // Every write of the run delivered, before the last scrape.
  e2e::WaitFor([&] { return e2e::SourceCaughtUp(keystoned.port(), "users-to-kafka"); }, seconds(60),
               milliseconds(100));
  final_buckets = ScrapeLatency(keystoned.metrics_port(), &metrics);
  auto follower = e2e::TopicFollower::Start(bootstrap, "keystone.users", /*background=*/true);
  if (!follower.ok()) {
    std::fprintf(stderr, "follower: %s\n", follower.status().ToString().c_str());
    return 1;
  }
  // Wait until the consumer has seen every acknowledged write.
  e2e::WaitFor([&] { return (*follower)->count() >= acked.size(); }, seconds(60),
               milliseconds(200));
  auto messages = (*follower)->Finish(seconds(60));
  if (!messages.ok()) {
    std::fprintf(stderr, "follower: %s\n", messages.status().ToString().c_str());
    return 1;
  }
  // Completeness from the independent consumer, timing from this process's.
  std::set<std::pair<std::string, int64_t>> in_topic;
  for (const e2e::Event& e : e2e::Decode(*messages, "users-to-kafka")) {
    in_topic.emplace(e.key, e.version);
  }
  if (consumer) {
    e2e::WaitFor([&] { return consumer->seen().size() >= in_topic.size(); }, seconds(30),
                 milliseconds(100));
  }
  const std::map<std::pair<std::string, int64_t>, int64_t> seen =
      consumer ? consumer->seen() : std::map<std::pair<std::string, int64_t>, int64_t>{};
  std::vector<double> latency_ms;
  size_t missing = 0, negative = 0, untimed = 0, follower_missed = 0;
  for (const e2e::Write& w : acked) {
    if (!in_topic.count({w.key, w.version})) {
      // The mock keeps ~5 MiB per partition: a python3-kafka follower that
      // falls behind can lose the oldest records before reading them. A
      // write neither consumer saw is lost; one only the timing consumer
      // saw is the follower's miss, reported apart.
      if (seen.count({w.key, w.version})) {
        ++follower_missed;
      } else {
        ++missing;
        if (missing <= 5) {
          std::fprintf(stderr, "missing from the topic: %s v%lld\n", w.key.c_str(),
                       static_cast<long long>(w.version));
        }
      }
      continue;
    }
    if (w.acked_ns < measure_from_ns || !consumer) continue;
    auto it = seen.find({w.key, w.version});
    if (it == seen.end()) {
      ++untimed;
      continue;
    }
    double ms = static_cast<double>(it->second - w.acked_ns) / 1e6;
    if (ms < 0) ++negative;
    latency_ms.push_back(ms);
  }
  std::sort(latency_ms.begin(), latency_ms.end());
  std::printf("%zu writes acknowledged (%.0f/s achieved), %zu missing from the topic\n",
              acked.size(), achieved, missing);
  if (consumer) {
    std::printf(
        "timing consumer: %zu writes timed, %zu seen before their HTTP answer arrived, %zu not "
        "seen; python3-kafka missed %zu writes it saw\n",
        latency_ms.size(), negative, untimed, follower_missed);
  }
  std::printf("keystoned VmRSS (MiB): start %.1f, during min %.1f / max %.1f, end %.1f\n",
              rss_start / 1048576.0, rss_min / 1048576.0, rss_peak / 1048576.0,
              rss_end / 1048576.0);
  std::printf("writer: %llu failed writes, %llu writes late (every connection busy)\n",
              static_cast<unsigned long long>(errors), static_cast<unsigned long long>(late));
  // The sink's error counters, to tell a broker's loss from Keystone's.
  for (const char* counter :
       {"keystone_kafka_broker_errors_total", "keystone_kafka_events_reset_total",
        "keystone_kafka_producer_recreations_total", "keystone_source_rewinds_total"}) {
    size_t line = metrics.find(std::string("\n") + counter + "{");
    if (line != std::string::npos) {
      std::printf("%s\n",
                  metrics.substr(line + 1, metrics.find('\n', line + 1) - line - 1).c_str());
    }
  }
  const LatencyBuckets measured = final_buckets.Since(warm);
  std::printf(
      "keystoned delivery latency (commit done -> delivery report), %.0f changes after "
      "the warm-up; cumulative share per bucket (ms):\n ",
      measured.count());
  for (const auto& [le, c] : measured.cumulative) {
    if (le > 0.1) break;
    std::printf(" <=%g:%.4f", le * 1000, measured.count() > 0 ? c / measured.count() : 0);
  }
  std::printf("\n");
  std::printf("keystoned RssAnon each second (MiB):");
  for (uint64_t a : anon_series) std::printf(" %.1f", a / 1048576.0);
  std::printf("\n");
  int stopped = keystoned.Stop();
  std::printf("RESULT e2e_write_rate %.0f writes/s\n", achieved);
  std::printf("RESULT e2e_delivery_latency_p50_at_most %.1f ms\n", measured.QuantileAtMostMs(0.5));
  std::printf("RESULT e2e_delivery_latency_p99_at_most %.1f ms\n", measured.QuantileAtMostMs(0.99));
  std::printf("RESULT e2e_delivery_latency_max_at_most %.1f ms\n", measured.MaxAtMostMs());
  if (consumer) {
    std::printf("RESULT e2e_ack_to_consumer_p50 %.2f ms\n", Percentile(latency_ms, 0.50));
    std::printf("RESULT e2e_ack_to_consumer_p99 %.2f ms\n", Percentile(latency_ms, 0.99));
    std::printf("RESULT e2e_ack_to_consumer_max %.2f ms\n",
                latency_ms.empty() ? 0 : latency_ms.back());
  }
  std::printf("RESULT e2e_missing_writes %zu writes\n", missing);
  std::printf("RESULT e2e_keystoned_rss_start %.1f MiB\n", rss_start / 1048576.0);
  std::printf("RESULT e2e_keystoned_rss_peak %.1f MiB\n", rss_peak / 1048576.0);
  std::printf("RESULT e2e_keystoned_rss_end %.1f MiB\n", rss_end / 1048576.0);
  if (anon_series.size() >= 2) {
    // Growth over the second half of the run (the first half includes the
    // producer's and the connections' warm-up).
    double half = anon_series[anon_series.size() / 2] / 1048576.0;
    double last = anon_series.back() / 1048576.0;
    std::printf("RESULT e2e_keystoned_anon_mid %.1f MiB\n", half);
    std::printf("RESULT e2e_keystoned_anon_end %.1f MiB\n", last);
    std::printf("RESULT e2e_keystoned_anon_growth_second_half %.1f MiB\n", last - half);
  }
  return missing == 0 && stopped == 0 ? 0 : 1;
}
