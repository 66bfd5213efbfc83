#include "bench/kafka_bench_util.h"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <malloc.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace keystone::bench {
namespace {

constexpr uint64_t kPollEvery = 500;  // a source's default batch_size

std::atomic<uint64_t> g_raw_delivered{0};
std::atomic<uint64_t> g_raw_failed{0};

void RawDeliveryReport(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
  if (msg->err) {
    g_raw_failed++;
  } else {
    g_raw_delivered++;
  }
}

}  // namespace

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

uint64_t RssBytes(pid_t pid) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/status")
                            : "/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

RssSampler::RssSampler(pid_t pid) : pid_(pid), thread_([this] { Run(); }) {}

RssSampler::~RssSampler() {
  stop_ = true;
  thread_.join();
}

void RssSampler::Run() {
  while (!stop_) {
    uint64_t now = RssBytes(pid_);
    if (now > 0) {
      if (now > peak_) peak_ = now;
      if (now < min_) min_ = now;
      last_ = now;
      samples_++;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

const std::vector<std::pair<std::string, std::string>> kProducerSettings = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"partitioner", "murmur2_random"},
    {"message.timeout.ms", "0"},
    {"enable.gapless.guarantee", "true"},
    {"linger.ms", "1"},
    {"batch.num.messages", "10000"},
    {"batch.size", "1000000"},
    {"queue.buffering.max.messages", "100000"},
    {"queue.buffering.max.kbytes", "65536"},
    {"compression.type", "lz4"},
};

ThreadCpu ThreadCpuByGroup() {
  static const double kMicrosPerTick = 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
  ThreadCpu cpu;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream in(task.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    // "tid (comm) state ...": comm may hold spaces; utime and stime are the
    // 12th and 13th fields after it.
    size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::string comm = stat.substr(open + 1, close - open - 1);
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    double ticks = 0;
    for (int i = 1; i <= 13 && rest >> field; ++i) {
      if (i >= 12) ticks += std::strtod(field.c_str(), nullptr);
    }
    std::string group = comm.rfind("src:", 0) == 0    ? "source"
                        : comm.rfind("read:", 0) == 0 ? "read-ahead"
                        : comm.rfind("rdk:", 0) == 0  ? "librdkafka"
                                                      : "other";
    cpu[group] += ticks * kMicrosPerTick;
  }
  return cpu;
}

ThreadCpu CpuSpent(const ThreadCpu& before, const ThreadCpu& after) {
  ThreadCpu spent;
  for (const auto& [group, micros] : after) {
    auto it = before.find(group);
    spent[group] = std::max(0.0, micros - (it == before.end() ? 0.0 : it->second));
  }
  return spent;
}

std::string DescribeCpuPerEvent(const ThreadCpu& spent, uint64_t events) {
  std::string out;
  char text[64];
  for (const char* group : {"source", "read-ahead", "other", "librdkafka"}) {
    auto it = spent.find(group);
    if (it == spent.end()) continue;
    std::snprintf(text, sizeof text, "%s%s %.2f", out.empty() ? "" : ", ", group,
                  it->second / static_cast<double>(events));
    out += text;
  }
  return out + " us/event";
}

PhaseResult RunRawProducer(const std::string& bootstrap, const std::string& topic, uint64_t events,
                           const std::function<void(uint64_t, RawMessage*)>& next) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
  for (const auto& [k, v] : kProducerSettings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof(errstr)) != 0) {
      std::fprintf(stderr, "raw: %s\n", errstr);
      std::exit(1);
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, RawDeliveryReport);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {
    std::fprintf(stderr, "raw: %s\n", errstr);
    std::exit(1);
  }
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  g_raw_delivered = 0;
  g_raw_failed = 0;
  PhaseResult r;
  {
    RssSampler rss;
    RawMessage m;
    ThreadCpu cpu_start = ThreadCpuByGroup();
    Clock::time_point start = Clock::now();
    bool have = false;
    for (uint64_t i = 0; i < events;) {
      if (!have) {
        m.headers.clear();
        next(i, &m);
        have = true;
      }
      rd_kafka_headers_t* h = rd_kafka_headers_new(m.headers.size());
      for (const auto& [name, value] : m.headers) {
        rd_kafka_header_add(h, name.c_str(), -1, value.data(), static_cast<ssize_t>(value.size()));
      }
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(m.key.data(), m.key.size()),
          RD_KAFKA_V_VALUE(m.value.data(), m.value.size()), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_headers_destroy(h);
        rd_kafka_poll(rk, 5);
        continue;
      }
      if (err) {
        std::fprintf(stderr, "raw produce: %s\n", rd_kafka_err2str(err));
        std::exit(1);
      }
      have = false;
      ++i;
      if (i % kPollEvery == 0) rd_kafka_poll(rk, 0);
    }
    while (g_raw_delivered + g_raw_failed < events) rd_kafka_poll(rk, 50);
    r.seconds = Seconds(Clock::now() - start);
    r.cpu = CpuSpent(cpu_start, ThreadCpuByGroup());
    r.events_per_second = static_cast<double>(events) / r.seconds;
    r.peak_rss = rss.peak();
  }
  if (g_raw_failed > 0) {
    std::fprintf(stderr, "raw: %lu failed deliveries\n", (unsigned long)g_raw_failed.load());
    std::exit(1);
  }
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  malloc_trim(0);
  r.rss_after = RssBytes();
  return r;
}

bool MockProcess::Start(const std::vector<std::string>& argv) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  stdin_fd = in[1];
  if (rc != 0) return false;
  char c;
  pollfd pfd{out[0], POLLIN, 0};
  while (poll(&pfd, 1, 20000) == 1 && read(out[0], &c, 1) == 1 && c != '\n') bootstrap += c;
  close(out[0]);
  return !bootstrap.empty();
}

MockProcess::~MockProcess() {
  if (stdin_fd >= 0) close(stdin_fd);
  if (pid > 0) waitpid(pid, nullptr, 0);
}

}  // namespace keystone::bench
