#pragma once

// HttpServer: the DynamoDB-compatible HTTP(S) endpoint of keystoned.
//
//   POST /        X-Amz-Target names the operation; the JSON body goes to
//                 DynamoDbApi::Handle and its answer comes back with
//                 Content-Type application/x-amz-json-1.0, x-amzn-RequestId and
//                 x-amz-crc32 (the CRC32 of the body, which the SDKs check).
//   GET /         200 "healthy: dynamodb.<region>.amazonaws.com " (as DynamoDB).
//   GET /healthz  200 while the server runs (liveness).
//   GET /readyz   200 while `ready()` holds and the server is not stopping,
//                 else 503 (readiness).
//   GET /sources, POST /sources/NAME/ACTION[?query]
//                 admin requests, passed to HttpServerOptions::admin (404
//                 when it is unset); same auth as the API.
//
// Threads: each connection is served by one I/O thread from a pool that grows
// to HttpOptions::max_connections; a request parsed there waits for one of
// HttpOptions::worker_threads execution slots (up to request_timeout_ms, then
// 503) and runs the operation. Reads and writes on a socket time out after
// HttpServerOptions::io_timeout and idle kept-alive connections are closed
// after keep_alive_timeout, so a slow or silent client holds one I/O thread for
// a bounded time and never a slot. Bodies over max_body_bytes get 413 and the
// connection is closed.
//
// Auth: with AuthOptions::access_keys set, every POST must carry a valid AWS
// SigV4 signature (sigv4.h) or gets DynamoDB's 400 error for it.
//
// Thread safety: Start() and Stop() from one thread; the accessors from any.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "daemon/daemon_options.h"
#include "daemon/dynamodb_api.h"

namespace keystone::daemon {

// Told about every answered request; called on the I/O threads, so it must
// be thread-safe and quick.
class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  // `operation`: the X-Amz-Target operation ("PutItem", "GetRecords"), or
  // what the target held when it is not one (the observer bounds its labels).
  // `outcome`: "ok", or the short error type ("ConditionalCheckFailedException",
  // "InvalidSignatureException", "RequestEntityTooLarge", "ServiceUnavailable").
  virtual void OnRequest(std::string_view operation, std::string_view outcome, double seconds) = 0;
};

// An admin request (GET /sources, POST /sources/NAME/ACTION) and its JSON
// answer.
struct AdminRequest {
  std::string method;                         // "GET" or "POST"
  std::string path;                           // "/sources" or "/sources/NAME/ACTION"
  std::map<std::string, std::string> params;  // the query string
};
struct AdminResponse {
  int status = 200;
  std::string body;  // JSON
};
// Called on the I/O threads; must be thread-safe.
using AdminHandler = std::function<AdminResponse(const AdminRequest&)>;

struct HttpServerOptions {
  HttpOptions http;
  AuthOptions auth;
  // Socket read/write timeout: a client that stops sending mid-request or
  // stops reading its response is disconnected after this.
  int64_t io_timeout_ms = 10'000;
  // An idle kept-alive connection is closed after this; also bounds how long
  // Stop() waits for idle connections.
  int64_t keep_alive_timeout_ms = 5'000;
  // Clock for SigV4's skew check; not owned; nullptr: the system clock.
  Clock* clock = nullptr;
  // Serves the admin endpoints; unset: they answer 404.
  AdminHandler admin;
};

class HttpServer {
 public:
  // Binds http.listen (port 0: any free port) and starts serving. `api` and
  // `observer` (may be null) are not owned and must outlive the server.
  // `ready` answers /readyz. kInvalidArgument for a bad listen address or TLS
  // files that do not load; kIoError when the address cannot be bound.
  [[nodiscard]] static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                                 DynamoDbApi& api,
                                                                 RequestObserver* observer,
                                                                 std::function<bool()> ready);

  // Stops (see Stop()).
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stops accepting connections, lets requests in progress finish and answers
  // them, closes connections as they go idle, and returns when every I/O
  // thread is done: within about io_timeout + keep_alive_timeout plus the
  // longest operation. Idempotent.
  void Stop();

  // The bound address, "host:port" with the real port ("[::1]:8000" for
  // IPv6), and the scheme.
  const std::string& address() const;
  int port() const;
  bool tls() const;
  // "http://127.0.0.1:8000" or "https://...".
  std::string url() const;

  // Whether the listener is running (false once Stop() began or if the
  // accept loop ended).
  bool healthy() const;

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits "host:port" / "[v6]:port" into host (brackets removed) and port.
// kInvalidArgument when malformed.
Status ParseListenAddress(std::string_view listen, std::string* host, int* port);

}  // namespace keystone::daemon
