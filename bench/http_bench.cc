// http_bench: PutItem and GetItem throughput and latency over HTTP keep-alive
// against DynamoDB-compatible endpoints, with the same generator for each, so
// that keystoned can be compared with a baseline (dynalite) in one run.
//
//   http_bench --target keystone=127.0.0.1:8000 --target dynalite=127.0.0.1:4567
//              [--connections 64] [--seconds 5] [--warmup-seconds 1]
//              [--item-bytes 200] [--keys 100000] [--threads 1] [--baseline NAME]
//              [--server-pid NAME=PID ...] [--rounds 1]
//
// For each target, in turn: create table "http_bench" (pk S), then a PutItem
// phase (keys k0..k<keys-1> in turn, each item ~item-bytes of JSON) and a
// GetItem phase (random keys among those written). Each of the `connections`
// keeps one request outstanding (closed loop); latency is from the first
// byte sent to the last byte of the answer. The generator is epoll-driven and
// reports its own CPU use, so that it can be seen not to be the bottleneck.
// Ends with RESULT lines: per target and phase ops/s, p50 and p99 in ms, and
// for every other target its throughput ratio to the baseline (the last
// target unless --baseline names one):
// RESULT <phase>_throughput_ratio_<target>_vs_<baseline> <ratio> x.
// With --rounds N, every target is measured N times, the targets taking
// turns, and the RESULT lines give the medians (the ratios: the median of the
// per-round ratios, each between measurements minutes apart at most): on a
// machine whose speed drifts, one round can flatter or wrong any target.
// With --server-pid, it also reports the CPU the target's server process
// used in each measured window, per operation: on a shared, noisy machine
// that figure moves far less from run to run than the rates do, so it is the
// one to compare when changing the server's code.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Target {
  std::string name;
  std::string host;
  int port = 0;
  int server_pid = 0;  // 0: unknown (no server CPU figures)
};

struct Config {
  std::vector<Target> targets;
  int connections = 64;
  double seconds = 5;
  double warmup_seconds = 1;
  int item_bytes = 200;
  int keys = 100000;
  int threads = 1;
  int rounds = 1;
  std::string baseline;  // empty: the last target
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

int Connect(const Target& t) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(t.host.c_str(), std::to_string(t.port).c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}

// A request's head up to and including "Content-Length: ": the same for every
// request of one operation, so the hot loop builds it once.
std::string RequestHead(const Target& t, const std::string& op) {
  // A well-formed Authorization header: dynalite requires one; keystoned
  // without access keys accepts any.
  return "POST / HTTP/1.1\r\nHost: " + t.host + ":" + std::to_string(t.port) +
         "\r\nX-Amz-Target: DynamoDB_20120810." + op +
         "\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Date: 20240101T000000Z\r\n"
         "Authorization: AWS4-HMAC-SHA256 Credential=bench/20240101/us-east-1/dynamodb/"
         "aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature="
         "0000000000000000000000000000000000000000000000000000000000000000\r\n"
         "Content-Length: ";
}

// Replaces `out` with the request `head` + `body` (reusing its capacity).
void BuildRequest(const std::string& head, std::string_view body, std::string* out) {
  char length[24];
  int n = std::snprintf(length, sizeof(length), "%zu\r\n\r\n", body.size());
  out->assign(head);
  out->append(length, static_cast<size_t>(n));
  out->append(body);
}

std::string Request(const Target& t, const std::string& op, const std::string& body) {
  std::string r;
  BuildRequest(RequestHead(t, op), body, &r);
  return r;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// A parsed response at the start of `buf`: its total length (0 when
// incomplete), status, and whether the server will close the connection. The
// body is copied only for errors (it is printed) unless `want_body`: the
// generator should spend its CPU on requests, not on copies.
struct Parsed {
  size_t length = 0;
  int status = 0;
  bool close = false;
  std::string body;
};

Parsed ParseResponse(const std::string& buf, bool want_body = false) {
  Parsed p;
  size_t end = buf.find("\r\n\r\n");
  if (end == std::string::npos) return p;
  if (buf.size() > 12) p.status = std::atoi(buf.c_str() + 9);
  size_t content_length = 0;
  bool chunked = false;
  size_t line = buf.find("\r\n") + 2;
  while (line < end) {
    size_t eol = buf.find("\r\n", line);
    std::string_view h(buf.data() + line, eol - line);
    size_t colon = h.find(':');
    if (colon != std::string_view::npos) {
      std::string_view name = h.substr(0, colon), value = h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (IEquals(name, "content-length"))
        content_length = std::strtoull(value.data(), nullptr, 10);
      if (IEquals(name, "transfer-encoding") && IEquals(value, "chunked")) chunked = true;
      if (IEquals(name, "connection") && IEquals(value, "close")) p.close = true;
    }
    line = eol + 2;
  }
  size_t body_start = end + 4;
  if (!chunked) {
    if (buf.size() < body_start + content_length) return p;
    p.length = body_start + content_length;
    if (want_body || p.status != 200) p.body = buf.substr(body_start, content_length);
    return p;
  }
  size_t pos = body_start;
  for (;;) {
    size_t eol = buf.find("\r\n", pos);
    if (eol == std::string::npos) return p;
    size_t size = std::strtoull(buf.c_str() + pos, nullptr, 16);
    if (buf.size() < eol + 2 + size + 2) return p;
    p.body.append(buf, eol + 2, size);
    pos = eol + 2 + size + 2;
    if (size == 0) {
      p.length = pos;
      return p;
    }
  }
}

// One blocking request on a fresh connection (setup calls).
Parsed Call(const Target& t, const std::string& op, const std::string& body) {
  int fd = Connect(t);
  if (fd < 0) return {};
  std::string req = Request(t, op, body);
  size_t sent = 0;
  while (sent < req.size()) {
    ssize_t n = send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string buf;
  Parsed p;
  char tmp[65536];
  while (p.length == 0) {
    ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
    if (n <= 0) break;
    buf.append(tmp, static_cast<size_t>(n));
    p = ParseResponse(buf, true);
  }
  close(fd);
  return p;
}

enum class Phase { kPut, kGet };

struct Connection {
  int fd = -1;
  std::string out;
  size_t out_off = 0;
  // Whether the socket is registered for EPOLLOUT: only while a request
  // waits for room in the socket buffer, so that the usual request costs no
  // epoll_ctl.
  bool watching_out = false;
  std::string in;
  int64_t sent_ns = 0;
};

struct WorkerResult {
  std::vector<uint32_t> latencies_us;
  uint64_t errors = 0;
  uint64_t reconnects = 0;
  uint64_t sent = 0;
};

class Worker {
 public:
  Worker(const Config& cfg, const Target& t, Phase phase, int connections, int worker_id,
         std::atomic<uint64_t>* next_key, uint64_t written_keys)
      : cfg_(cfg),
        target_(t),
        phase_(phase),
        count_(connections),
        next_key_(next_key),
        written_keys_(std::max<uint64_t>(1, written_keys)),
        rng_(12345 + worker_id) {
    padding_ = std::string(static_cast<size_t>(std::max(0, cfg.item_bytes - 60)), 'x');
    head_ = RequestHead(t, phase == Phase::kPut ? "PutItem" : "GetItem");
  }

  // Runs until `end_ns`; samples completed after `measure_from_ns` count.
  WorkerResult Run(int64_t measure_from_ns, int64_t end_ns) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    std::vector<Connection> conns(static_cast<size_t>(count_));
    for (size_t i = 0; i < conns.size(); ++i) {
      if (!Open(ep, conns[i], i)) {
        std::fprintf(stderr, "http_bench: cannot connect to %s:%d\n", target_.host.c_str(),
                     target_.port);
        std::exit(1);
      }
      Send(ep, conns[i], i);
    }
    std::vector<epoll_event> events(conns.size());
    char buf[65536];
    while (NowNs() < end_ns) {
      int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 50);
      for (int e = 0; e < n; ++e) {
        size_t i = events[e].data.u64;
        Connection& c = conns[i];
        if (events[e].events & EPOLLOUT) Flush(ep, c, i);
        if (!(events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
        bool closed = false;
        for (;;) {
          ssize_t r = recv(c.fd, buf, sizeof(buf), 0);
          if (r > 0) {
            c.in.append(buf, static_cast<size_t>(r));
            if (static_cast<size_t>(r) < sizeof(buf)) break;
            continue;
          }
          if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          closed = true;
          break;
        }
        Parsed p = ParseResponse(c.in);
        if (p.length > 0) {
          int64_t now = NowNs();
          if (now >= measure_from_ns) {
            if (p.status == 200) {
              result_.latencies_us.push_back(
                  static_cast<uint32_t>(std::min<int64_t>((now - c.sent_ns) / 1000, UINT32_MAX)));
            } else {
              ++result_.errors;
              if (result_.errors <= 3) {
                std::fprintf(stderr, "http_bench: %s answered %d: %s\n", target_.name.c_str(),
                             p.status, p.body.substr(0, 200).c_str());
              }
            }
          }
          c.in.erase(0, p.length);
          if (p.close || closed) {
            Reopen(ep, c, i);
          }
          Send(ep, c, i);
        } else if (closed) {
          ++result_.errors;  // the answer never came
          Reopen(ep, c, i);
          Send(ep, c, i);
        }
      }
    }
    for (Connection& c : conns) close(c.fd);
    close(ep);
    return std::move(result_);
  }

 private:
  bool Open(int ep, Connection& c, size_t i) {
    c.fd = Connect(target_);
    if (c.fd < 0) return false;
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    c.in.clear();
    c.watching_out = false;
    return true;
  }

  void Reopen(int ep, Connection& c, size_t i) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    ++result_.reconnects;
    if (!Open(ep, c, i)) {
      std::fprintf(stderr, "http_bench: reconnect to %s failed\n", target_.name.c_str());
      std::exit(1);
    }
  }

  // The next request's body, in `body_`.
  void NextBody() {
    char key[32];
    body_.clear();
    if (phase_ == Phase::kPut) {
      uint64_t k =
          next_key_->fetch_add(1, std::memory_order_relaxed) % static_cast<uint64_t>(cfg_.keys);
      std::snprintf(key, sizeof(key), "k%08llu", static_cast<unsigned long long>(k));
      body_ += R"({"TableName":"http_bench","Item":{"pk":{"S":")";
      body_ += key;
      body_ += R"("},"n":{"N":")";
      body_ += std::to_string(rng_() % 1000000);
      body_ += R"("},"pad":{"S":")";
      body_ += padding_;
      body_ += R"("}}})";
      return;
    }
    uint64_t k = rng_() % written_keys_;
    std::snprintf(key, sizeof(key), "k%08llu", static_cast<unsigned long long>(k));
    body_ += R"({"TableName":"http_bench","Key":{"pk":{"S":")";
    body_ += key;
    body_ += R"("}}})";
  }

  void Send(int ep, Connection& c, size_t i) {
    NextBody();
    BuildRequest(head_, body_, &c.out);
    c.out_off = 0;
    c.sent_ns = NowNs();
    ++result_.sent;
    Flush(ep, c, i);
  }

  void Flush(int ep, Connection& c, size_t i) {
    while (c.out_off < c.out.size()) {
      ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        WatchOut(ep, c, i, true);
        return;
      }
      return;  // the read side reports the failure
    }
    WatchOut(ep, c, i, false);
  }

  void WatchOut(int ep, Connection& c, size_t i, bool watch) {
    if (c.watching_out == watch) return;
    epoll_event ev{};
    ev.events = watch ? EPOLLIN | EPOLLOUT : EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
    c.watching_out = watch;
  }

  const Config& cfg_;
  const Target& target_;
  Phase phase_;
  int count_;
  std::atomic<uint64_t>* next_key_;
  uint64_t written_keys_;
  std::mt19937_64 rng_;
  std::string padding_;
  std::string head_;  // RequestHead of this phase's operation
  std::string body_;  // NextBody's output, reused
  WorkerResult result_;
};

struct PhaseResult {
  double ops_per_second = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  uint64_t completed = 0, errors = 0, reconnects = 0;
  double generator_cpu = 0;  // fraction of one core
  double server_cpu = -1;    // cores the server used in the measured window; -1 unknown
  double server_us_per_op = -1;
};

// CPU seconds (user + system, all threads) process `pid` has used, or -1.
double ProcessCpuSeconds(int pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return -1;
  char buf[4096];
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Fields after the command name (which may hold spaces), from field 3 on;
  // utime and stime are fields 14 and 15.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return -1;
  unsigned long long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
      2) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

PhaseResult RunPhase(const Config& cfg, const Target& t, Phase phase, uint64_t written_keys) {
  std::atomic<uint64_t> next_key{0};
  int64_t start = NowNs();
  int64_t measure_from = start + static_cast<int64_t>(cfg.warmup_seconds * 1e9);
  int64_t end = measure_from + static_cast<int64_t>(cfg.seconds * 1e9);
  double cpu_before = CpuSeconds();
  // The server's CPU over exactly the measured window, read by a thread of
  // its own so that the workers never pause for it.
  double server_cpu_start = -1, server_cpu_end = -1;
  std::thread server_cpu_reader;
  if (t.server_pid != 0) {
    server_cpu_reader = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::nanoseconds(measure_from - NowNs()));
      server_cpu_start = ProcessCpuSeconds(t.server_pid);
      std::this_thread::sleep_for(std::chrono::nanoseconds(end - NowNs()));
      server_cpu_end = ProcessCpuSeconds(t.server_pid);
    });
  }
  std::vector<WorkerResult> results(static_cast<size_t>(cfg.threads));
  std::vector<std::thread> threads;
  for (int w = 0; w < cfg.threads; ++w) {
    int conns = cfg.connections / cfg.threads + (w < cfg.connections % cfg.threads ? 1 : 0);
    threads.emplace_back([&, w, conns] {
      Worker worker(cfg, t, phase, conns, w, &next_key, written_keys);
      results[static_cast<size_t>(w)] = worker.Run(measure_from, end);
    });
  }
  for (auto& th : threads) th.join();
  if (server_cpu_reader.joinable()) server_cpu_reader.join();
  double cpu = CpuSeconds() - cpu_before;
  double wall = static_cast<double>(NowNs() - start) / 1e9;

  PhaseResult r;
  std::vector<uint32_t> all;
  for (auto& w : results) {
    all.insert(all.end(), w.latencies_us.begin(), w.latencies_us.end());
    r.errors += w.errors;
    r.reconnects += w.reconnects;
  }
  std::sort(all.begin(), all.end());
  r.completed = all.size();
  r.ops_per_second = static_cast<double>(all.size()) / cfg.seconds;
  auto pct = [&](double q) {
    if (all.empty()) return 0.0;
    size_t i = std::min(all.size() - 1, static_cast<size_t>(q * static_cast<double>(all.size())));
    return all[i] / 1000.0;
  };
  r.p50_ms = pct(0.50);
  r.p99_ms = pct(0.99);
  r.max_ms = all.empty() ? 0 : all.back() / 1000.0;
  r.generator_cpu = cpu / wall;
  if (server_cpu_start >= 0 && server_cpu_end >= 0 && !all.empty()) {
    r.server_cpu = (server_cpu_end - server_cpu_start) / cfg.seconds;
    r.server_us_per_op =
        (server_cpu_end - server_cpu_start) * 1e6 / static_cast<double>(all.size());
  }
  return r;
}

bool Setup(const Target& t) {
  // Wait for the server, then (re)create the table.
  auto deadline = Clock::now() + std::chrono::seconds(60);
  for (;;) {
    Parsed p = Call(t, "ListTables", "{}");
    if (p.status == 200) break;
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "http_bench: %s is not answering\n", t.name.c_str());
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Call(t, "DeleteTable", R"({"TableName":"http_bench"})");
  for (int i = 0; i < 600; ++i) {
    Parsed p = Call(t, "CreateTable",
                    R"({"TableName":"http_bench","BillingMode":"PAY_PER_REQUEST",)"
                    R"("KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],)"
                    R"("AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}]})");
    if (p.status == 200) break;
    // A table still being deleted (dynalite deletes asynchronously).
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (int i = 0; i < 600; ++i) {
    Parsed p = Call(t, "DescribeTable", R"({"TableName":"http_bench"})");
    if (p.status == 200 && p.body.find("\"ACTIVE\"") != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::fprintf(stderr, "http_bench: table on %s never became ACTIVE\n", t.name.c_str());
  return false;
}

void Usage() {
  std::fprintf(stderr,
               "usage: http_bench --target NAME=HOST:PORT [--target ...] [--connections N] "
               "[--seconds S] [--warmup-seconds S] [--item-bytes B] [--keys K] [--threads T] "
               "[--baseline NAME] [--server-pid NAME=PID ...] [--rounds N]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  std::vector<std::pair<std::string, int>> server_pids;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (a == "--target") {
      std::string v = next();
      size_t eq = v.find('='), colon = v.rfind(':');
      if (eq == std::string::npos || colon == std::string::npos || colon < eq) Usage();
      cfg.targets.push_back(
          {v.substr(0, eq), v.substr(eq + 1, colon - eq - 1), std::atoi(v.c_str() + colon + 1)});
    } else if (a == "--connections") {
      cfg.connections = std::atoi(next().c_str());
    } else if (a == "--seconds") {
      cfg.seconds = std::atof(next().c_str());
    } else if (a == "--warmup-seconds") {
      cfg.warmup_seconds = std::atof(next().c_str());
    } else if (a == "--item-bytes") {
      cfg.item_bytes = std::atoi(next().c_str());
    } else if (a == "--keys") {
      cfg.keys = std::atoi(next().c_str());
    } else if (a == "--baseline") {
      cfg.baseline = next();
    } else if (a == "--server-pid") {
      std::string v = next();
      size_t eq = v.find('=');
      if (eq == std::string::npos) Usage();
      server_pids.emplace_back(v.substr(0, eq), std::atoi(v.c_str() + eq + 1));
    } else if (a == "--rounds") {
      cfg.rounds = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--threads") {
      cfg.threads = std::max(1, std::atoi(next().c_str()));
    } else {
      Usage();
    }
  }
  if (cfg.targets.empty() || cfg.connections < 1 || cfg.seconds <= 0) Usage();
  for (const auto& [name, pid] : server_pids) {
    auto t = std::find_if(cfg.targets.begin(), cfg.targets.end(),
                          [&](const Target& x) { return x.name == name; });
    if (t == cfg.targets.end() || pid <= 0) Usage();
    t->server_pid = pid;
  }

  std::printf(
      "http_bench: %d connections, %.1f s per phase after %.1f s warm-up, ~%d-byte items, "
      "%d generator thread(s)\n",
      cfg.connections, cfg.seconds, cfg.warmup_seconds, cfg.item_bytes, cfg.threads);
  // [round][target] = (put, get)
  std::vector<std::vector<std::pair<PhaseResult, PhaseResult>>> rounds;
  for (int round = 0; round < cfg.rounds; ++round) {
    if (cfg.rounds > 1) std::printf("round %d of %d\n", round + 1, cfg.rounds);
    std::vector<std::pair<PhaseResult, PhaseResult>>& results = rounds.emplace_back();
    for (const Target& t : cfg.targets) {
      if (!Setup(t)) return 1;
      // The machine's dirty pages (the nosync reference's, for one) are
      // written back now rather than while this target is measured.
      sync();
      PhaseResult put = RunPhase(cfg, t, Phase::kPut, 0);
      uint64_t written = std::min<uint64_t>(put.completed, static_cast<uint64_t>(cfg.keys));
      PhaseResult get = RunPhase(cfg, t, Phase::kGet, written);
      for (auto [name, r] : {std::pair<const char*, PhaseResult&>{"put", put}, {"get", get}}) {
        std::printf(
            "%-10s %s: %9.0f ops/s  p50 %7.3f ms  p99 %7.3f ms  max %8.3f ms  errors %llu"
            "  reconnects %llu  generator CPU %3.0f%% of a core\n",
            t.name.c_str(), name, r.ops_per_second, r.p50_ms, r.p99_ms, r.max_ms,
            static_cast<unsigned long long>(r.errors),
            static_cast<unsigned long long>(r.reconnects), r.generator_cpu * 100);
        if (r.server_cpu >= 0) {
          std::printf("%-10s %s: server CPU %.2f cores, %.1f us per operation\n", t.name.c_str(),
                      name, r.server_cpu, r.server_us_per_op);
        }
      }
      results.emplace_back(put, get);
    }
    for (const auto& [put, get] : results) {
      if (put.completed == 0 || get.completed == 0) return 1;
    }
  }

  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  };
  // The median over rounds of one figure of target i's put or get phase.
  auto over_rounds = [&](size_t i, bool get, double PhaseResult::*field) {
    std::vector<double> v;
    for (const auto& round : rounds) v.push_back((get ? round[i].second : round[i].first).*field);
    return median(v);
  };
  for (size_t i = 0; i < cfg.targets.size(); ++i) {
    const std::string& n = cfg.targets[i].name;
    for (bool get : {false, true}) {
      const char* phase = get ? "get" : "put";
      std::printf("RESULT %s_%s_throughput %.0f ops/s\n", n.c_str(), phase,
                  over_rounds(i, get, &PhaseResult::ops_per_second));
      std::printf("RESULT %s_%s_p50 %.3f ms\n", n.c_str(), phase,
                  over_rounds(i, get, &PhaseResult::p50_ms));
      std::printf("RESULT %s_%s_p99 %.3f ms\n", n.c_str(), phase,
                  over_rounds(i, get, &PhaseResult::p99_ms));
      if (over_rounds(i, get, &PhaseResult::server_us_per_op) >= 0) {
        std::printf("RESULT %s_%s_server_cpu %.1f us/op\n", n.c_str(), phase,
                    over_rounds(i, get, &PhaseResult::server_us_per_op));
      }
    }
  }
  size_t base = cfg.targets.size() - 1;
  for (size_t i = 0; i < cfg.targets.size(); ++i) {
    if (cfg.targets[i].name == cfg.baseline) base = i;
  }
  for (size_t i = 0; i < cfg.targets.size(); ++i) {
    if (i == base) continue;
    const std::string& a = cfg.targets[i].name;
    const std::string& b = cfg.targets[base].name;
    for (bool get : {false, true}) {
      std::vector<double> ratios;
      std::string each;
      for (const auto& round : rounds) {
        const PhaseResult& x = get ? round[i].second : round[i].first;
        const PhaseResult& y = get ? round[base].second : round[base].first;
        ratios.push_back(y.ops_per_second > 0 ? x.ops_per_second / y.ops_per_second : 0.0);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%s%.2f", each.empty() ? "" : " ", ratios.back());
        each += buf;
      }
      if (cfg.rounds > 1) {
        std::printf("%s/%s %s throughput ratio per round: %s\n", a.c_str(), b.c_str(),
                    get ? "get" : "put", each.c_str());
      }
      std::printf("RESULT %s_throughput_ratio_%s_vs_%s %.2f x\n", get ? "get" : "put", a.c_str(),
                  b.c_str(), median(ratios));
    }
  }
  return 0;
}
