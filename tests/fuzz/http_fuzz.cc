// Fuzz target: keystoned's HTTP/1.1 server (daemon/http_server.h), whose
// request parser (request line, headers, Content-Length and chunked bodies,
// pipelining) is the first code any network client reaches.
//
// Input: the bytes a client sends on one connection, after which it closes
// its sending side. The server (one in-process HttpServer on 127.0.0.1, with
// a store and the JSON API behind it as in keystoned, no auth, 1 MiB bodies,
// an admin handler answering {}) serves every input in turn.
//
// Promises checked beyond not crashing: the server closes the connection
// within 10 s of the client's end of input (a bounded wait, whatever was
// sent); whatever it sent back is a sequence of HTTP/1.1 responses (status
// line, headers, a body of its Content-Length); none is a 500 (500 is for
// bugs).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/dynamodb_api.h"
#include "daemon/http_server.h"
#include "lmdb_store/item_store.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/testing/temp_dir.h"

namespace {

using keystone::fuzz::FuzzFail;
using namespace keystone::daemon;

class Server {
 public:
  Server() {
    keystone::store::StoreOptions store_options;
    store_options.path = dir_.Sub("store");
    store_options.sync = false;
    store_options.max_map_size = 256ull << 20;
    auto store = keystone::store::ItemStore::Open(store_options);
    if (!store.ok()) FuzzFail("opening the store", store.status().ToString());
    store_ = std::move(store).value();
    api_ = std::make_unique<DynamoDbApi>(*store_);
    HttpServerOptions options;
    options.http.listen = "127.0.0.1:0";
    options.http.max_body_bytes = 1 << 20;
    options.http.worker_threads = 2;
    options.io_timeout_ms = 5'000;
    options.admin = [](const AdminRequest&) { return AdminResponse{200, "{}"}; };
    auto server = HttpServer::Start(options, *api_, nullptr, [] { return true; });
    if (!server.ok()) FuzzFail("starting the server", server.status().ToString());
    server_ = std::move(server).value();
    ApiResponse created = api_->Handle(
        "DynamoDB_20120810.CreateTable",
        R"({"TableName":"items","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],)"
        R"("AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],)"
        R"("BillingMode":"PAY_PER_REQUEST"})");
    if (created.http_status != 200) FuzzFail("creating the table", created.body);
  }
  ~Server() {
    server_.reset();
    api_.reset();
    store_.reset();
  }
  int port() const { return server_->port(); }

 private:
  keystone::testing::TempDir dir_;  // first member: removed last
  std::unique_ptr<keystone::store::ItemStore> store_;
  std::unique_ptr<DynamoDbApi> api_;
  std::unique_ptr<HttpServer> server_;
};

// Sends `input`, closes the sending side and returns all that comes back
// until the server closes; fails the input when that takes over 10 s.
std::string Exchange(int port, std::string_view input) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) FuzzFail("socket", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    FuzzFail("connect", std::strerror(errno));
  }
  std::string received;
  char buffer[16384];
  size_t sent = 0;
  bool write_closed = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    if (sent == input.size() && !write_closed) {
      shutdown(fd, SHUT_WR);
      write_closed = true;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (write_closed ? 0 : POLLOUT)), 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) == 0) {
      FuzzFail("the server did not close the connection within 10 s of the end of input",
               std::string(input));
    }
    if (p.revents & POLLOUT) {
      ssize_t n = send(fd, input.data() + sent, input.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else {
        sent = input.size();  // the server closed or reset: stop sending
      }
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      received.append(buffer, static_cast<size_t>(n));
    }
  }
  close(fd);
  return received;
}

// Checks that `out` is a sequence of HTTP/1.1 responses and none is a 500.
void CheckResponses(std::string_view input, std::string_view out) {
  auto fail = [&](std::string_view what) {
    FuzzFail(what, "--- sent:\n" + std::string(input) + "\n--- received:\n" + std::string(out));
  };
  while (!out.empty()) {
    size_t head_end = out.find("\r\n\r\n");
    if (head_end == std::string_view::npos) fail("a response without the end of its headers");
    std::string_view head = out.substr(0, head_end);
    if (head.substr(0, 9) != "HTTP/1.1 " || head.size() < 12) fail("a malformed status line");
    if (head.substr(9, 3) == "500") fail("a 500 answer");
    size_t length = 0;
    size_t at = 0;
    bool has_length = false;
    while ((at = head.find("\r\n", at)) != std::string_view::npos) {
      at += 2;
      std::string_view line = head.substr(at, head.find("\r\n", at) - at);
      constexpr std::string_view kLength = "content-length:";
      if (line.size() > kLength.size() &&
          strncasecmp(line.data(), kLength.data(), kLength.size()) == 0) {
        length = std::strtoull(std::string(line.substr(kLength.size())).c_str(), nullptr, 10);
        has_length = true;
      }
    }
    if (!has_length) fail("a response without Content-Length");
    size_t end = head_end + 4 + length;
    if (end > out.size()) fail("a response body shorter than its Content-Length");
    out.remove_prefix(end);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Server server;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckResponses(input, Exchange(server.port(), input));
  return 0;
}
