#pragma once

// HttpServer: the DynamoDB-compatible HTTP(S) endpoint of keystoned.
//
//   POST /        X-Amz-Target names the operation; the JSON body goes to
//                 DynamoDbApi::Handle and its answer comes back with
//                 Content-Type application/x-amz-json-1.0, x-amzn-RequestId and
//                 x-amz-crc32 (the CRC32 of the body, which the SDKs check).
//   GET /         200 "healthy: dynamodb.<region>.amazonaws.com " (as DynamoDB).
//   GET /healthz  200 "ok" while Health() is OK, else 503 "unhealthy: why"
//                 (liveness: stopping, a stuck event loop, health_check).
//   GET /readyz   200 while `ready()` holds and Health() is OK, else 503
//                 (readiness).
//   GET /sources, POST /sources/NAME/ACTION[?query]
//                 admin requests, passed to HttpServerOptions::admin (404
//                 when it is unset); same auth as the API.
//
// Threads: a few event-loop threads (libevent), min(HttpOptions::worker_threads,
// the number of CPUs), accept on the one listening socket and each serves the
// connections it accepted, without a thread per connection or per request.
// Requests on a connection are answered one at a time and in order (HTTP/1.1
// pipelining works). Reads (GetItem, Query, Scan, BatchGetItem, Describe*,
// List*, the streams API) run inline on the loop thread. Item writes are
// queued to the store (DynamoDbApi::HandleAsync) and the loop serves other
// connections meanwhile; the store's writer hands the outcome back and the
// loop formats and sends the answer, so many queued writes share a group
// commit. Table operations (which wait for their commit) and admin requests
// run on a small pool of their own threads; one that cannot start within
// HttpOptions::request_timeout_ms gets 503.
//
// Limits: a client that stops sending mid-request, or stops reading its
// answer, is disconnected after io_timeout of no progress; an idle kept-alive
// connection is closed after keep_alive_timeout. At max_connections open
// connections the server stops accepting (new clients wait in the kernel's
// accept queue) until one closes. Request lines over 8 KiB get 414, header
// blocks over 64 KiB 431, bodies over max_body_bytes (by Content-Length or
// while a chunked body arrives) 413, each with a DynamoDB-style error body;
// after such an answer the connection is closed.
//
// Process-wide effects: the first Start() makes libevent use pthreads locking
// and ignores SIGPIPE when it is at its default (writes to a reset
// connection must not kill the process).
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

// Told about every answered request; called on the event-loop threads, so it
// must be thread-safe and quick (it delays every connection of that loop).
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
// Called on the server's blocking-request threads (never on an event loop);
// must be thread-safe.
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
  // An event loop that has not run for this long (one callback has held it)
  // makes Health() fail; loops stamp a heartbeat every
  // clamp(stall_timeout_ms / 4, 10, 1000) ms.
  int64_t stall_timeout_ms = 30'000;
  // The health of what the server depends on (the daemon passes its store
  // writer check), part of Health() and /healthz; unset: none. Called on
  // loop threads and the caller of Health(); must be quick and thread-safe.
  std::function<Status()> health_check;
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

  // Stops accepting connections, closes idle ones at once, lets requests in
  // progress (being read, or running, including queued store writes) finish
  // and answers them with Connection: close, and returns when every
  // connection is closed and every loop thread has ended: within about
  // io_timeout plus the longest operation. Idempotent.
  void Stop();

  // The bound address, "host:port" with the real port ("[::1]:8000" for
  // IPv6), and the scheme.
  const std::string& address() const;
  int port() const;
  bool tls() const;
  // "http://127.0.0.1:8000" or "https://...".
  std::string url() const;

  // Whether the server is running (false once Stop() began).
  bool healthy() const;
  // OK while running with every event loop alive (see stall_timeout_ms) and
  // health_check OK; otherwise kUnavailable saying what is wrong ("stopping",
  // "HTTP event loop 1 has not run for 31000 ms ..."). GET /healthz answers
  // 200 "ok" or 503 "unhealthy: <reason>"; /readyz is 503 unless healthy.
  Status Health() const;

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits "host:port" / "[v6]:port" into host (brackets removed) and port.
// kInvalidArgument when malformed.
Status ParseListenAddress(std::string_view listen, std::string* host, int* port);

}  // namespace keystone::daemon
