// HttpServer on a real store and DynamoDbApi, on a free loopback port, driven
// with httplib's client and raw sockets: the protocol headers, health
// endpoints, body limits, SigV4, slow clients, keep-alive, pipelining, many
// connections on one loop, the connection cap and shutdown.

#include "daemon/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/dynamodb_api.h"
#include "daemon/sigv4.h"
#include "lmdb_store/item_store.h"
#include "tests/testing/temp_dir.h"

namespace keystone::daemon {
namespace {

using std::chrono::steady_clock;
using testing::TempDir;

constexpr char kCreateTable[] =
    R"({"TableName":"tbl","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],)"
    R"("AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],)"
    R"("BillingMode":"PAY_PER_REQUEST"})";

class CountingObserver : public RequestObserver {
 public:
  void OnRequest(std::string_view operation, std::string_view outcome, double seconds) override {
    std::lock_guard<std::mutex> lock(mu_);
    counts_[std::string(operation) + "/" + std::string(outcome)]++;
    EXPECT_GE(seconds, 0);
  }
  int count(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_[key];
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> counts_;
};

// A connected loopback TCP socket, closed at scope exit.
class RawSocket {
 public:
  explicit RawSocket(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawSocket() {
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return connected_; }
  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }
  bool Send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads one HTTP response (headers and a Content-Length body); empty if the
  // peer closed or `timeout` passed first.
  std::string ReadResponse(std::chrono::milliseconds timeout) {
    auto deadline = steady_clock::now() + timeout;
    for (;;) {
      size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t length = 0;
        size_t cl = buffer_.find("Content-Length: ");
        if (cl != std::string::npos && cl < end) length = std::stoul(buffer_.substr(cl + 16));
        if (buffer_.size() >= end + 4 + length) {
          std::string response = buffer_.substr(0, end + 4 + length);
          buffer_.erase(0, end + 4 + length);
          return response;
        }
      }
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return "";
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }

  // Reads until the peer closes or `timeout` passes; returns what arrived and
  // sets *closed when the peer closed.
  std::string ReadUntilClosed(std::chrono::milliseconds timeout, bool* closed) {
    std::string out = std::move(buffer_);
    buffer_.clear();
    *closed = false;
    auto deadline = steady_clock::now() + timeout;
    while (steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now())
              .count());
      if (poll(&p, 1, std::max(left, 0)) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        *closed = true;
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  std::string buffer_;
  int fd_ = -1;
  bool connected_ = false;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions options;
    options.path = dir_.Sub("store");
    options.sync = false;
    auto store = store::ItemStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    api_ = std::make_unique<DynamoDbApi>(*store_);
  }

  void StartServer(HttpServerOptions options) {
    options.http.listen = "127.0.0.1:0";
    auto server = HttpServer::Start(options, *api_, &observer_, [this] { return ready_.load(); });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    ASSERT_GT(server_->port(), 0);
  }

  httplib::Client Client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(10, 0);
    return c;
  }

  httplib::Result Post(httplib::Client& c, const std::string& op, const std::string& body,
                       httplib::Headers extra = {}) {
    extra.emplace("X-Amz-Target", "DynamoDB_20120810." + op);
    return c.Post("/", extra, body, "application/x-amz-json-1.0");
  }

  TempDir dir_;
  std::unique_ptr<store::ItemStore> store_;
  std::unique_ptr<DynamoDbApi> api_;
  CountingObserver observer_;
  std::atomic<bool> ready_{true};
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, ServesTheApiWithDynamoDbHeaders) {
  StartServer({});
  EXPECT_EQ("127.0.0.1:" + std::to_string(server_->port()), server_->address());
  EXPECT_EQ("http://" + server_->address(), server_->url());
  auto c = Client();
  auto created = Post(c, "CreateTable", kCreateTable);
  ASSERT_TRUE(created) << httplib::to_string(created.error());
  EXPECT_EQ(200, created->status) << created->body;
  auto put = Post(c, "PutItem", R"({"TableName":"tbl","Item":{"pk":{"S":"a"},"n":{"N":"1"}}})");
  ASSERT_TRUE(put);
  EXPECT_EQ(200, put->status) << put->body;
  auto get = Post(c, "GetItem", R"({"TableName":"tbl","Key":{"pk":{"S":"a"}}})");
  ASSERT_TRUE(get);
  EXPECT_EQ(200, get->status);
  EXPECT_EQ(R"({"Item":{"n":{"N":"1"},"pk":{"S":"a"}}})", get->body);
  EXPECT_EQ("application/x-amz-json-1.0", get->get_header_value("Content-Type"));
  EXPECT_EQ(52u, get->get_header_value("x-amzn-RequestId").size());
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(get->body.data()),
                    static_cast<uInt>(get->body.size()));
  EXPECT_EQ(std::to_string(crc), get->get_header_value("x-amz-crc32"));
  EXPECT_NE(put->get_header_value("x-amzn-RequestId"), get->get_header_value("x-amzn-RequestId"));

  auto bad = Post(c, "PutItem", R"({"TableName":"tbl","Item":{"pk":{"N":"x"}}})");
  ASSERT_TRUE(bad);
  EXPECT_EQ(400, bad->status);
  EXPECT_NE(std::string::npos, bad->body.find("ValidationException")) << bad->body;
  EXPECT_FALSE(bad->get_header_value("x-amz-crc32").empty());

  httplib::Headers h = {{"X-Amz-Target", "DynamoDB_20120810.Frobnicate"}};
  auto unknown = c.Post("/", h, "{}", "application/x-amz-json-1.0");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(400, unknown->status);
  EXPECT_NE(std::string::npos, unknown->body.find("UnknownOperationException"));

  EXPECT_EQ(1, observer_.count("PutItem/ok"));
  EXPECT_EQ(1, observer_.count("GetItem/ok"));
  EXPECT_EQ(1, observer_.count("PutItem/ValidationException"));
  EXPECT_EQ(1, observer_.count("Frobnicate/UnknownOperationException"));
}

TEST_F(HttpServerTest, HealthEndpoints) {
  StartServer({});
  auto c = Client();
  auto root = c.Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(200, root->status);
  EXPECT_EQ("healthy: dynamodb.us-east-1.amazonaws.com ", root->body);
  auto live = c.Get("/healthz");
  ASSERT_TRUE(live);
  EXPECT_EQ(200, live->status);
  auto ready = c.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(200, ready->status);
  ready_ = false;
  auto not_ready = c.Get("/readyz");
  ASSERT_TRUE(not_ready);
  EXPECT_EQ(503, not_ready->status);
  auto missing = c.Get("/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(404, missing->status);
}

TEST_F(HttpServerTest, OversizeBodiesGet413AndWriteNothing) {
  HttpServerOptions options;
  options.http.max_body_bytes = 4096;
  StartServer(options);
  auto c = Client();
  ASSERT_EQ(200, Post(c, "CreateTable", kCreateTable)->status);
  std::string big = R"({"TableName":"tbl","Item":{"pk":{"S":"big"},"v":{"S":")" +
                    std::string(8000, 'x') + R"("}}})";
  auto r = Post(c, "PutItem", big);
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(413, r->status);
  EXPECT_NE(std::string::npos, r->body.find("\"__type\":\"com.amazon.coral.service#"
                                            "RequestEntityTooLarge\""))
      << r->body;
  EXPECT_EQ(1, observer_.count("PutItem/RequestEntityTooLarge"));

  // The same with a chunked body (no Content-Length), which only the server's
  // own reader can bound.
  RawSocket s(server_->port());
  ASSERT_TRUE(s.connected());
  std::string request =
      "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\n"
      "Content-Type: application/x-amz-json-1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
  char size_line[32];
  std::snprintf(size_line, sizeof(size_line), "%zx\r\n", big.size());
  request += size_line + big + "\r\n0\r\n\r\n";
  ASSERT_TRUE(s.Send(request));
  bool closed = false;
  std::string answer = s.ReadUntilClosed(std::chrono::seconds(5), &closed);
  EXPECT_NE(std::string::npos, answer.find("HTTP/1.1 413")) << answer;
  EXPECT_TRUE(closed);

  auto get = Post(c, "GetItem", R"({"TableName":"tbl","Key":{"pk":{"S":"big"}}})");
  ASSERT_TRUE(get);
  EXPECT_EQ("{}", get->body);
}

TEST_F(HttpServerTest, SigV4IsEnforcedWhenKeysAreConfigured) {
  HttpServerOptions options;
  options.auth.access_keys = {{"AKIDTEST", "right-secret"}};
  StartServer(options);

  auto send = [&](const SigV4Credentials* creds, const std::string& op, const std::string& body) {
    SigV4Request r;
    r.method = "POST";
    r.target = "/";
    r.body = body;
    r.headers = {{"Host", server_->address()},
                 {"Content-Type", "application/x-amz-json-1.0"},
                 {"X-Amz-Target", "DynamoDB_20120810." + op}};
    if (creds != nullptr) {
      SigV4Sign(r, *creds, "us-east-1", "dynamodb", SystemClock::Default()->NowMs());
    }
    httplib::Headers headers;
    for (const auto& [name, value] : r.headers) {
      if (name != "Content-Type") headers.emplace(name, value);
    }
    auto c = Client();
    auto res = c.Post("/", headers, body, "application/x-amz-json-1.0");
    EXPECT_TRUE(res);
    return res ? std::make_pair(res->status, res->body) : std::make_pair(0, std::string());
  };

  SigV4Credentials right{"AKIDTEST", "right-secret"};
  SigV4Credentials wrong_secret{"AKIDTEST", "wrong-secret"};
  SigV4Credentials unknown{"AKIDOTHER", "right-secret"};
  auto ok = send(&right, "CreateTable", kCreateTable);
  EXPECT_EQ(200, ok.first) << ok.second;
  auto bad = send(&wrong_secret, "ListTables", "{}");
  EXPECT_EQ(400, bad.first);
  EXPECT_NE(std::string::npos, bad.second.find("InvalidSignatureException")) << bad.second;
  auto who = send(&unknown, "ListTables", "{}");
  EXPECT_EQ(400, who.first);
  EXPECT_NE(std::string::npos, who.second.find("UnrecognizedClientException")) << who.second;
  EXPECT_NE(std::string::npos,
            who.second.find("The security token included in the request is invalid."));
  auto none = send(nullptr, "ListTables", "{}");
  EXPECT_EQ(400, none.first);
  EXPECT_NE(std::string::npos, none.second.find("MissingAuthenticationTokenException"));
  // A rejected write wrote nothing.
  auto put = send(&wrong_secret, "PutItem", R"({"TableName":"tbl","Item":{"pk":{"S":"a"}}})");
  EXPECT_EQ(400, put.first);
  auto get = send(&right, "GetItem", R"({"TableName":"tbl","Key":{"pk":{"S":"a"}}})");
  EXPECT_EQ(200, get.first);
  EXPECT_EQ("{}", get.second);
  EXPECT_EQ(1, observer_.count("ListTables/InvalidSignatureException"));
}

TEST_F(HttpServerTest, SlowClientsDoNotStallOthers) {
  HttpServerOptions options;
  options.http.worker_threads = 1;
  options.http.max_connections = 32;
  options.io_timeout_ms = 1000;
  options.keep_alive_timeout_ms = 1000;
  StartServer(options);
  // Eight clients that send half a request line and stop, and eight that
  // send headers promising a body that never comes.
  std::vector<std::unique_ptr<RawSocket>> slow;
  for (int i = 0; i < 8; ++i) {
    slow.push_back(std::make_unique<RawSocket>(server_->port()));
    ASSERT_TRUE(slow.back()->connected());
    ASSERT_TRUE(slow.back()->Send("POST / HT"));
    slow.push_back(std::make_unique<RawSocket>(server_->port()));
    ASSERT_TRUE(slow.back()->Send(
        "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n"
        "Content-Length: 100\r\n\r\n{"));
  }
  auto start = steady_clock::now();
  auto c = Client();
  for (int i = 0; i < 20; ++i) {
    auto r = Post(c, "ListTables", "{}");
    ASSERT_TRUE(r);
    EXPECT_EQ(200, r->status);
  }
  EXPECT_LT(steady_clock::now() - start, std::chrono::milliseconds(900));
  // The slow ones are cut off after the I/O timeout (and those that got a
  // 400 for their missing body, after the keep-alive timeout).
  for (auto& s : slow) {
    bool closed = false;
    s->ReadUntilClosed(std::chrono::seconds(5), &closed);
    EXPECT_TRUE(closed);
  }
}

TEST_F(HttpServerTest, TrickledRequestGets408AtTheReadDeadline) {
  HttpServerOptions options;
  options.io_timeout_ms = 1000;
  options.http.request_read_timeout_ms = 1500;
  StartServer(options);
  auto c = Client();
  ASSERT_EQ(200, Post(c, "CreateTable", kCreateTable)->status);
  // A byte every 100 ms keeps the 1 s I/O timeout from ever firing; only the
  // whole-request deadline can end this.
  std::string body = R"({"TableName":"tbl","Item":{"pk":{"S":"trickled"}}})";
  std::string request =
      "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\n"
      "Content-Type: application/x-amz-json-1.0\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  RawSocket s(server_->port());
  auto start = steady_clock::now();
  std::string answer;
  size_t sent = 0;
  while (answer.empty() && sent < request.size() &&
         steady_clock::now() - start < std::chrono::seconds(20)) {
    if (!s.Send(request.substr(sent, 1))) break;
    ++sent;
    answer = s.ReadResponse(std::chrono::milliseconds(100));
  }
  auto took = steady_clock::now() - start;
  ASSERT_LT(sent, request.size()) << "the whole request went out before any answer";
  EXPECT_EQ(0u, answer.find("HTTP/1.1 408 Request Timeout")) << answer;
  EXPECT_NE(std::string::npos, answer.find("RequestTimeoutException")) << answer;
  EXPECT_NE(std::string::npos, answer.find("request_read_timeout_ms (1500 ms)")) << answer;
  EXPECT_GE(took, std::chrono::milliseconds(1500));
  bool closed = false;
  s.ReadUntilClosed(std::chrono::seconds(5), &closed);
  EXPECT_TRUE(closed);
  // Nothing was written, and the server serves others as before.
  auto get = Post(c, "GetItem", R"({"TableName":"tbl","Key":{"pk":{"S":"trickled"}}})");
  ASSERT_TRUE(get);
  EXPECT_EQ(200, get->status);
  EXPECT_EQ("{}", get->body);
}

TEST_F(HttpServerTest, HealthzReportsAStuckLoopAndTheHealthCheck) {
  // The health check blocks the loop that calls it for /healthz until
  // released (as a request stuck on a loop would); it fails while `failing`.
  std::mutex mu;
  std::condition_variable cv;
  bool block_next = false, blocked = false, released = false;
  std::atomic<bool> failing{false};
  HttpServerOptions options;
  options.stall_timeout_ms = 200;
  options.health_check = [&]() -> Status {
    std::unique_lock<std::mutex> lock(mu);
    if (block_next) {
      block_next = false;
      blocked = true;
      cv.notify_all();
      cv.wait(lock, [&] { return released; });
    }
    return failing ? Unavailable("the disk is on fire") : Status::Ok();
  };
  StartServer(options);
  EXPECT_TRUE(server_->Health().ok()) << server_->Health().ToString();

  failing = true;
  {
    auto c = Client();
    auto r = c.Get("/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(503, r->status);
    EXPECT_EQ("unhealthy: the disk is on fire\n", r->body);
    EXPECT_EQ(503, c.Get("/readyz")->status);
  }
  failing = false;

  {
    std::lock_guard<std::mutex> lock(mu);
    block_next = true;
  }
  RawSocket stuck(server_->port());
  ASSERT_TRUE(stuck.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return blocked; });
  }
  // Past stall_timeout_ms the loop's missing heartbeat shows.
  Status health;
  auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while ((health = server_->Health()).ok() && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(StatusCode::kUnavailable, health.code());
  EXPECT_NE(std::string::npos, health.message().find("has not run for")) << health.message();
  {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
    cv.notify_all();
  }
  EXPECT_EQ(0u, stuck.ReadResponse(std::chrono::seconds(5)).find("HTTP/1.1 200")) << "answered";
  deadline = steady_clock::now() + std::chrono::seconds(10);
  while (!server_->Health().ok() && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(server_->Health().ok()) << server_->Health().ToString();
}

TEST_F(HttpServerTest, RequestsThatCannotStartInTimeGet503AndDoNothing) {
  // Admin requests that block occupy the table-operation pool; what queues
  // behind them longer than request_timeout_ms is refused, not run late.
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0;
  bool released = false;
  HttpServerOptions options;
  options.http.request_timeout_ms = 100;
  options.admin = [&](const AdminRequest&) {
    std::unique_lock<std::mutex> lock(mu);
    ++inside;
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
    return AdminResponse{200, "[]"};
  };
  StartServer(options);
  std::vector<std::unique_ptr<RawSocket>> blockers;
  int pool_threads = 0;
  // Fill the pool: each blocker holds one of its threads until released.
  for (;;) {
    blockers.push_back(std::make_unique<RawSocket>(server_->port()));
    ASSERT_TRUE(blockers.back()->Send("GET /sources HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return inside > pool_threads; })) {
      break;  // this one queued: the pool is full
    }
    ++pool_threads;
    ASSERT_LT(pool_threads, 64);
  }
  ASSERT_GE(pool_threads, 1);
  // The last blocker has queued for 500 ms already; queue a CreateTable too
  // and let it wait past the timeout.
  RawSocket create(server_->port());
  std::string body = kCreateTable;
  ASSERT_TRUE(
      create.Send("POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.CreateTable\r\n"
                  "Content-Type: application/x-amz-json-1.0\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // > request_timeout_ms
  {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
    cv.notify_all();
  }
  std::string created = create.ReadResponse(std::chrono::seconds(10));
  EXPECT_EQ(0u, created.find("HTTP/1.1 503")) << created;
  EXPECT_NE(std::string::npos, created.find("ServiceUnavailable")) << created;
  EXPECT_NE(std::string::npos, created.find("did not start within 100 ms")) << created;
  std::string queued_admin = blockers.back()->ReadResponse(std::chrono::seconds(10));
  EXPECT_EQ(0u, queued_admin.find("HTTP/1.1 503")) << queued_admin;
  for (int i = 0; i < pool_threads; ++i) {
    EXPECT_EQ(0u, blockers[i]->ReadResponse(std::chrono::seconds(10)).find("HTTP/1.1 200"));
  }
  // The refused CreateTable did nothing; the same request now succeeds.
  auto c = Client();
  auto describe = Post(c, "DescribeTable", R"({"TableName":"tbl"})");
  ASSERT_TRUE(describe);
  EXPECT_EQ(400, describe->status);
  EXPECT_NE(std::string::npos, describe->body.find("ResourceNotFoundException"));
  EXPECT_EQ(200, Post(c, "CreateTable", kCreateTable)->status);
}

TEST_F(HttpServerTest, MalformedRequestsGetErrorsNotCrashes) {
  HttpServerOptions options;
  options.keep_alive_timeout_ms = 1000;
  StartServer(options);
  for (const std::string& junk : {std::string("GARBAGE\r\n\r\n"),
                                  std::string("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
                                  std::string("\x01\x02\x03\r\n\r\n"),
                                  "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n"}) {
    SCOPED_TRACE(junk.substr(0, 20));
    RawSocket s(server_->port());
    ASSERT_TRUE(s.Send(junk));
    bool closed = false;
    std::string answer = s.ReadUntilClosed(std::chrono::seconds(5), &closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(0u, answer.find("HTTP/1.1 4")) << answer;
  }
  auto c = Client();
  auto r = c.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(200, r->status);
}

TEST_F(HttpServerTest, KeepAliveUpToTheConfiguredCount) {
  HttpServerOptions options;
  options.http.keep_alive_max_count = 3;
  StartServer(options);
  RawSocket s(server_->port());
  std::string request =
      "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n"
      "Content-Type: application/x-amz-json-1.0\r\nContent-Length: 2\r\n\r\n{}";
  // Three requests on one connection get three answers, the last with
  // Connection: close, then the server closes.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(s.Send(request));
    std::string answer = s.ReadResponse(std::chrono::seconds(5));
    EXPECT_EQ(0u, answer.find("HTTP/1.1 200")) << i << ": " << answer;
    EXPECT_EQ(i == 2, answer.find("Connection: close") != std::string::npos) << i << ": " << answer;
  }
  bool closed = false;
  s.ReadUntilClosed(std::chrono::seconds(5), &closed);
  EXPECT_TRUE(closed);
}

TEST_F(HttpServerTest, StopFinishesInFlightRequestsAndIsBounded) {
  HttpServerOptions options;
  options.keep_alive_timeout_ms = 1000;
  options.io_timeout_ms = 1000;
  StartServer(options);
  auto c = Client();
  ASSERT_EQ(200, Post(c, "CreateTable", kCreateTable)->status);
  // Writers run until the server goes away; every write acknowledged with
  // 200 must be in the store afterwards.
  std::atomic<bool> done{false};
  std::mutex mu;
  std::vector<std::string> acked;
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      httplib::Client wc("127.0.0.1", server_->port());
      wc.set_read_timeout(5, 0);
      for (int i = 0; !done; ++i) {
        std::string key = std::to_string(w) + "-" + std::to_string(i);
        auto r = wc.Post("/", {{"X-Amz-Target", "DynamoDB_20120810.PutItem"}},
                         R"({"TableName":"tbl","Item":{"pk":{"S":")" + key + R"("}}})",
                         "application/x-amz-json-1.0");
        if (!r) {
          if (server_->healthy()) continue;
          return;
        }
        if (r->status == 200) {
          std::lock_guard<std::mutex> lock(mu);
          acked.push_back(key);
        }
      }
    });
  }
  // Wait for some acknowledged writes, then stop while they continue.
  auto deadline = steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (acked.size() >= 200) break;
    }
    ASSERT_LT(steady_clock::now(), deadline);
    std::this_thread::yield();
  }
  // An idle kept-alive connection too.
  auto idle = Client();
  ASSERT_TRUE(idle.Get("/healthz"));
  auto start = steady_clock::now();
  server_->Stop();
  auto took = steady_clock::now() - start;
  done = true;
  for (auto& t : writers) t.join();
  EXPECT_LT(took, std::chrono::milliseconds(2500));
  EXPECT_FALSE(server_->healthy());
  for (const std::string& key : acked) {
    auto item = store_->Get("tbl", {{"pk", store::AttributeValue::S(key)}});
    ASSERT_TRUE(item.ok());
    EXPECT_TRUE(item->has_value()) << key;
  }
  // The port is closed.
  RawSocket s(server_->port());
  EXPECT_FALSE(s.connected());
}

std::string RawPost(const std::string& op, const std::string& body, bool close = false) {
  return "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810." + op +
         "\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: " +
         std::to_string(body.size()) + (close ? "\r\nConnection: close" : "") + "\r\n\r\n" + body;
}

std::string BodyOf(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

TEST_F(HttpServerTest, OneLoopServesManyConnectionsWithWritesInFlight) {
  HttpServerOptions options;
  options.http.worker_threads = 1;  // one event loop for all of them
  StartServer(options);
  auto c = Client();
  ASSERT_EQ(200, Post(c, "CreateTable", kCreateTable)->status);
  constexpr int kConnections = 100;
  std::vector<std::unique_ptr<RawSocket>> sockets;
  for (int i = 0; i < kConnections; ++i) {
    sockets.push_back(std::make_unique<RawSocket>(server_->port()));
    ASSERT_TRUE(sockets.back()->connected());
  }
  // Every connection has a write outstanding before any answer is read.
  for (int i = 0; i < kConnections; ++i) {
    ASSERT_TRUE(sockets[i]->Send(RawPost("PutItem", R"({"TableName":"tbl","Item":{"pk":{"S":"k)" +
                                                        std::to_string(i) + R"("},"n":{"N":")" +
                                                        std::to_string(i) + R"("}}})")));
  }
  for (int i = 0; i < kConnections; ++i) {
    std::string answer = sockets[i]->ReadResponse(std::chrono::seconds(10));
    EXPECT_EQ(0u, answer.find("HTTP/1.1 200")) << i << ": " << answer;
  }
  // Reads on the same connections see them.
  for (int i = 0; i < kConnections; ++i) {
    ASSERT_TRUE(sockets[i]->Send(RawPost(
        "GetItem", R"({"TableName":"tbl","Key":{"pk":{"S":"k)" + std::to_string(i) + R"("}}})")));
    std::string answer = sockets[i]->ReadResponse(std::chrono::seconds(10));
    EXPECT_EQ(R"({"Item":{"n":{"N":")" + std::to_string(i) + R"("},"pk":{"S":"k)" +
                  std::to_string(i) + R"("}}})",
              BodyOf(answer));
  }
  EXPECT_EQ(kConnections, observer_.count("PutItem/ok"));
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer({});
  auto c = Client();
  ASSERT_EQ(200, Post(c, "CreateTable", kCreateTable)->status);
  // Writes and reads of one item in one send: each read sees the write
  // before it, so requests ran one at a time in order.
  std::string batch;
  for (int i = 0; i < 10; ++i) {
    batch += RawPost("PutItem", R"({"TableName":"tbl","Item":{"pk":{"S":"p"},"n":{"N":")" +
                                    std::to_string(i) + R"("}}})");
    batch += RawPost("GetItem", R"({"TableName":"tbl","Key":{"pk":{"S":"p"}}})");
  }
  batch += "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  RawSocket s(server_->port());
  ASSERT_TRUE(s.Send(batch));
  for (int i = 0; i < 10; ++i) {
    std::string put = s.ReadResponse(std::chrono::seconds(10));
    EXPECT_EQ("{}", BodyOf(put)) << put;
    std::string get = s.ReadResponse(std::chrono::seconds(10));
    EXPECT_EQ(R"({"Item":{"n":{"N":")" + std::to_string(i) + R"("},"pk":{"S":"p"}}})", BodyOf(get));
  }
  EXPECT_EQ("ok\n", BodyOf(s.ReadResponse(std::chrono::seconds(10))));
}

TEST_F(HttpServerTest, LongPipelinesWithAWriteInFlightAreAllAnswered) {
  HttpServerOptions options;
  options.http.keep_alive_max_count = 0;  // no limit
  StartServer(options);
  auto c = Client();
  ASSERT_EQ(200, Post(c, "CreateTable", kCreateTable)->status);
  // A write, then more pipelined reads than the server buffers while the
  // write runs or while its answers wait to be read: input and output both
  // back up and must resume.
  constexpr int kGets = 6000;
  std::string batch =
      RawPost("PutItem", R"({"TableName":"tbl","Item":{"pk":{"S":"p"},"n":{"N":"7"}}})");
  for (int i = 0; i < kGets; ++i) {
    batch += RawPost("GetItem", R"({"TableName":"tbl","Key":{"pk":{"S":"p"}}})");
  }
  RawSocket s(server_->port());
  std::thread sender([&] { EXPECT_TRUE(s.Send(batch)); });
  EXPECT_EQ("{}", BodyOf(s.ReadResponse(std::chrono::seconds(10))));
  int answered = 0;
  for (int i = 0; i < kGets; ++i) {
    std::string get = s.ReadResponse(std::chrono::seconds(10));
    if (BodyOf(get) != R"({"Item":{"n":{"N":"7"},"pk":{"S":"p"}}})") break;
    ++answered;
  }
  sender.join();
  EXPECT_EQ(kGets, answered);
}

TEST_F(HttpServerTest, HalfClosedClientsGetTheirAnswer) {
  StartServer({});
  RawSocket s(server_->port());
  ASSERT_TRUE(s.Send(RawPost("ListTables", "{}")));
  s.ShutdownWrite();
  bool closed = false;
  std::string answer = s.ReadUntilClosed(std::chrono::seconds(10), &closed);
  EXPECT_EQ(0u, answer.find("HTTP/1.1 200")) << answer;
  EXPECT_TRUE(closed);
}

TEST_F(HttpServerTest, AClientGoneBeforeItsWriteCommitsDoesNotLoseIt) {
  StartServer({});
  auto c = Client();
  ASSERT_EQ(200, Post(c, "CreateTable", kCreateTable)->status);
  for (int i = 0; i < 20; ++i) {
    RawSocket s(server_->port());
    ASSERT_TRUE(s.Send(RawPost("PutItem", R"({"TableName":"tbl","Item":{"pk":{"S":"gone)" +
                                              std::to_string(i) + R"("}}})")));
  }  // closed at once, likely while the write is queued
  // The server keeps serving, and each write was applied (the request was
  // whole); wait for the last one.
  for (int i = 0; i < 20; ++i) {
    std::string body =
        R"({"TableName":"tbl","Key":{"pk":{"S":"gone)" + std::to_string(i) + R"("}}})";
    for (;;) {
      auto r = Post(c, "GetItem", body);
      ASSERT_TRUE(r);
      if (r->body != "{}") break;
      std::this_thread::yield();
    }
  }
  // Each was reported to the observer too (after its commit, so wait).
  auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (observer_.count("PutItem/ok") < 20 && steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(20, observer_.count("PutItem/ok"));
}

TEST_F(HttpServerTest, ExpectContinueGetsAnInterimAnswer) {
  StartServer({});
  RawSocket s(server_->port());
  ASSERT_TRUE(
      s.Send("POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n"
             "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
  std::string interim = s.ReadResponse(std::chrono::seconds(10));
  EXPECT_EQ("HTTP/1.1 100 Continue\r\n\r\n", interim);
  ASSERT_TRUE(s.Send("{}"));
  std::string answer = s.ReadResponse(std::chrono::seconds(10));
  EXPECT_EQ(0u, answer.find("HTTP/1.1 200")) << answer;
  EXPECT_EQ(R"({"TableNames":[]})", BodyOf(answer));
}

TEST_F(HttpServerTest, ConnectionsBeyondTheCapWaitForOneToClose) {
  HttpServerOptions options;
  options.http.max_connections = 2;
  StartServer(options);
  auto first = std::make_unique<RawSocket>(server_->port());
  RawSocket second(server_->port());
  // Both are accepted and served.
  ASSERT_TRUE(first->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(second.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ("ok\n", BodyOf(first->ReadResponse(std::chrono::seconds(10))));
  EXPECT_EQ("ok\n", BodyOf(second.ReadResponse(std::chrono::seconds(10))));
  // A third connects (the kernel queues it) but is not served while two are
  // open...
  RawSocket third(server_->port());
  ASSERT_TRUE(third.connected());
  ASSERT_TRUE(third.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ("", third.ReadResponse(std::chrono::milliseconds(200)));
  // ... and is once one closes.
  first.reset();
  EXPECT_EQ("ok\n", BodyOf(third.ReadResponse(std::chrono::seconds(10))));
}

TEST_F(HttpServerTest, BadListenAddressesAndBusyPorts) {
  HttpServerOptions options;
  options.http.listen = "nonsense";
  EXPECT_EQ(StatusCode::kInvalidArgument,
            HttpServer::Start(options, *api_, nullptr, nullptr).status().code());
  StartServer({});
  HttpServerOptions taken;
  taken.http.listen = server_->address();
  auto second = HttpServer::Start(taken, *api_, nullptr, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(StatusCode::kIoError, second.status().code());
  EXPECT_NE(std::string::npos, second.status().message().find(server_->address()));
  HttpServerOptions tls;
  tls.http.listen = "127.0.0.1:0";
  tls.http.tls = TlsOptions{dir_.Sub("missing.pem"), dir_.Sub("missing.key")};
  auto bad_tls = HttpServer::Start(tls, *api_, nullptr, nullptr);
  ASSERT_FALSE(bad_tls.ok());
  EXPECT_NE(std::string::npos, bad_tls.status().message().find("missing.pem"));
}

TEST(ParseListenAddressTest, Forms) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(ParseListenAddress("127.0.0.1:8000", &host, &port).ok());
  EXPECT_EQ("127.0.0.1", host);
  EXPECT_EQ(8000, port);
  ASSERT_TRUE(ParseListenAddress("[::1]:0", &host, &port).ok());
  EXPECT_EQ("::1", host);
  EXPECT_EQ(0, port);
  ASSERT_TRUE(ParseListenAddress("localhost:65535", &host, &port).ok());
  for (const char* bad :
       {"", "8000", ":8000", "host:", "host:65536", "::1:80", "[::1]80", "host:8a"}) {
    EXPECT_FALSE(ParseListenAddress(bad, &host, &port).ok()) << bad;
  }
}

}  // namespace
}  // namespace keystone::daemon
