#include "daemon/http_server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <zlib.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <semaphore>
#include <thread>
#include <vector>

#include "base/log.h"
#include "daemon/sigv4.h"

namespace keystone::daemon {
namespace {

constexpr std::string_view kJsonType = "application/x-amz-json-1.0";
constexpr std::string_view kComponent = "http";

// httplib's TaskQueue: one thread per connection, created as connections
// arrive, at most `max_threads`; further connections wait in the queue until a
// thread frees up. Every queued job runs (each owns a socket it must close),
// so shutdown() drains the queue before joining.
class ConnectionPool final : public httplib::TaskQueue {
 public:
  explicit ConnectionPool(size_t max_threads) : max_threads_(max_threads) {}
  ~ConnectionPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock<std::mutex> lock(mu_);
    jobs_.push_back(std::move(fn));
    if (jobs_.size() > idle_ && threads_.size() < max_threads_) {
      try {
        threads_.emplace_back([this] { Run(); });
      } catch (const std::system_error& e) {
        // Out of threads: the job waits for a running thread. A warn log;
        // the connection is served late, not dropped.
        LogWarn(kComponent, std::string("cannot start a connection thread: ") + e.what());
      }
    }
    cv_.notify_one();
  }

  void shutdown() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutdown_ = true;
      threads.swap(threads_);
    }
    cv_.notify_all();
    for (std::thread& t : threads) t.join();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [&] { return !jobs_.empty() || shutdown_; });
      --idle_;
      if (jobs_.empty()) return;  // shutting down and drained
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  const size_t max_threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  std::vector<std::thread> threads_;        // guarded by mu_
  size_t idle_ = 0;                         // guarded by mu_
  bool shutdown_ = false;                   // guarded by mu_
};

std::string RequestId() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string id(52, 'A');
  for (char& c : id) c = kAlphabet[rng() % 36];
  return id;
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

std::string ErrorBody(std::string_view type, std::string_view message) {
  return "{\"__type\":\"" + JsonEscape(type) + "\",\"message\":\"" + JsonEscape(message) + "\"}";
}

// "DynamoDB_20120810.PutItem" -> "PutItem".
std::string_view OperationOf(std::string_view target) {
  size_t dot = target.rfind('.');
  return dot == std::string_view::npos ? target : target.substr(dot + 1);
}

// "ok" for 2xx; otherwise the part of the body's "__type" after '#'.
std::string_view OutcomeOf(int status, std::string_view body) {
  if (status >= 200 && status < 300) return "ok";
  constexpr std::string_view kKey = "\"__type\":\"";
  size_t at = body.find(kKey);
  if (at == std::string_view::npos) return status >= 500 ? "InternalServerError" : "Error";
  std::string_view type = body.substr(at + kKey.size());
  type = type.substr(0, type.find('"'));
  size_t hash = type.rfind('#');
  return hash == std::string_view::npos ? type : type.substr(hash + 1);
}

Status CheckReadable(const std::string& path, std::string_view what) {
  std::ifstream in(path);
  if (!in) {
    return InvalidArgument("cannot read TLS " + std::string(what) + " file " + path + ": " +
                           std::strerror(errno));
  }
  return Status::Ok();
}

void SetTimeout(int64_t ms, const std::function<void(time_t, time_t)>& set) {
  set(static_cast<time_t>(ms / 1000), static_cast<time_t>((ms % 1000) * 1000));
}

}  // namespace

Status ParseListenAddress(std::string_view listen, std::string* host, int* port) {
  std::string_view host_part, port_part;
  if (!listen.empty() && listen.front() == '[') {
    size_t close = listen.find(']');
    if (close == std::string_view::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return InvalidArgument("listen address '" + std::string(listen) +
                             "' must be host:port or [ipv6]:port");
    }
    host_part = listen.substr(1, close - 1);
    port_part = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos || listen.find(':') != colon) {
      return InvalidArgument("listen address '" + std::string(listen) +
                             "' must be host:port or [ipv6]:port");
    }
    host_part = listen.substr(0, colon);
    port_part = listen.substr(colon + 1);
  }
  int value = 0;
  if (host_part.empty() || port_part.empty() || port_part.size() > 5) {
    return InvalidArgument("listen address '" + std::string(listen) + "' needs a host and a port");
  }
  for (char c : port_part) {
    if (c < '0' || c > '9') {
      return InvalidArgument("listen address '" + std::string(listen) + "': bad port");
    }
    value = value * 10 + (c - '0');
  }
  if (value > 65535) {
    return InvalidArgument("listen address '" + std::string(listen) + "': port out of range");
  }
  *host = std::string(host_part);
  *port = value;
  return Status::Ok();
}

class HttpServer::Impl {
 public:
  Impl(const HttpServerOptions& options, DynamoDbApi& api, RequestObserver* observer,
       std::function<bool()> ready)
      : options_(options),
        api_(api),
        observer_(observer),
        ready_(std::move(ready)),
        slots_(static_cast<std::ptrdiff_t>(options.http.worker_threads)) {
    SigV4VerifierOptions v;
    for (const AccessKey& k : options.auth.access_keys) {
      v.keys.push_back({k.access_key_id, k.secret_access_key});
    }
    v.region = options.auth.region;
    v.clock = options.clock;
    verifier_ = std::make_unique<SigV4Verifier>(std::move(v));
    health_body_ = "healthy: dynamodb." + options.auth.region + ".amazonaws.com ";
  }

  ~Impl() { Stop(); }

  Status Start() {
    std::string host;
    int port = 0;
    KS_RETURN_IF_ERROR(ParseListenAddress(options_.http.listen, &host, &port));
    if (options_.http.tls) {
      KS_RETURN_IF_ERROR(CheckReadable(options_.http.tls->cert_file, "certificate"));
      KS_RETURN_IF_ERROR(CheckReadable(options_.http.tls->key_file, "key"));
      server_ = std::make_unique<httplib::SSLServer>(options_.http.tls->cert_file.c_str(),
                                                     options_.http.tls->key_file.c_str());
      if (!server_->is_valid()) {
        return InvalidArgument("cannot load TLS certificate " + options_.http.tls->cert_file +
                               " with key " + options_.http.tls->key_file);
      }
      tls_ = true;
    } else {
      server_ = std::make_unique<httplib::Server>();
    }
    Configure();

    // httplib listens with a backlog of 5; raise it once bound so that many
    // clients connecting at once are not made to retry their SYNs.
    server_->set_socket_options([this](int fd) {
      int yes = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      listen_fd_ = fd;
    });
    bool bound = false;
    if (port == 0) {
      port = server_->bind_to_any_port(host);
      bound = port > 0;
    } else {
      bound = server_->bind_to_port(host, port);
    }
    if (!bound) {
      return IoError("cannot listen on " + options_.http.listen + ": " + std::strerror(errno));
    }
    if (listen_fd_ >= 0) ::listen(listen_fd_, SOMAXCONN);
    port_ = port;
    address_ = host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                                   : host + ":" + std::to_string(port);

    running_ = true;
    listener_ = std::thread([this] {
      server_->listen_after_bind();
      running_ = false;
    });
    // stop() only takes effect once the accept loop runs; wait for it.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_->is_running() && running_ && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!server_->is_running()) {
      Stop();
      return IoError("the HTTP listener on " + address_ + " did not start");
    }
    return Status::Ok();
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
    if (server_ && listener_.joinable()) {
      server_->stop();
      listener_.join();
    }
  }

  const std::string& address() const { return address_; }
  int port() const { return port_; }
  bool tls() const { return tls_; }
  bool healthy() const { return running_ && !stopping_; }

 private:
  void Configure() {
    httplib::Server& s = *server_;
    size_t max_connections = options_.http.max_connections;
    s.new_task_queue = [max_connections] { return new ConnectionPool(max_connections); };
    SetTimeout(options_.io_timeout_ms, [&](time_t sec, time_t usec) {
      s.set_read_timeout(sec, usec);
      s.set_write_timeout(sec, usec);
    });
    s.set_keep_alive_timeout(
        static_cast<time_t>(std::max<int64_t>(1, (options_.keep_alive_timeout_ms + 999) / 1000)));
    s.set_keep_alive_max_count(options_.http.keep_alive_max_count == 0
                                   ? std::numeric_limits<size_t>::max()
                                   : options_.http.keep_alive_max_count);
    s.set_payload_max_length(options_.http.max_body_bytes);
    s.set_tcp_nodelay(true);

    s.Get("/", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(health_body_, "text/plain");
    });
    s.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(healthy() ? "ok\n" : "stopping\n", "text/plain");
    });
    s.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      bool ready = healthy() && (!ready_ || ready_());
      res.status = ready ? 200 : 503;
      res.set_content(ready ? "ready\n" : "not ready\n", "text/plain");
    });
    s.Post("/", [this](const httplib::Request& req, httplib::Response& res,
                       const httplib::ContentReader& reader) { HandlePost(req, res, reader); });
    if (options_.admin) {
      auto admin = [this](const httplib::Request& req, httplib::Response& res) {
        HandleAdmin(req, res);
      };
      s.Get("/sources", admin);
      s.Post(R"(/sources/([A-Za-z0-9._-]+)/([a-z]+))", admin);
    }
    // Errors httplib produces itself (bad request line, headers too large, a
    // Content-Length over max_body_bytes, unknown path) get a DynamoDB-style
    // body and the protocol headers.
    s.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty() || res.content_length_ > 0) return;
      std::string type = "com.amazon.coral.service#SerializationException";
      std::string message = "HTTP status " + std::to_string(res.status);
      if (res.status == 404) {
        type = "com.amazon.coral.service#UnknownOperationException";
        message = "No route for " + req.method + " " + req.path;
      } else if (res.status == 413) {
        type = "com.amazon.coral.service#RequestEntityTooLarge";
        message = "Request body exceeds the limit of " +
                  std::to_string(options_.http.max_body_bytes) + " bytes";
      }
      Send(res, res.status, ErrorBody(type, message));
      if (observer_ != nullptr && req.method == "POST") {
        observer_->OnRequest(OperationOf(req.get_header_value("X-Amz-Target")),
                             OutcomeOf(res.status, res.body), 0);
      }
    });
    s.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "unknown exception";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          LogError(kComponent, "request failed with an exception: " + what);
          res.status = 500;
          res.set_content(
              ErrorBody("com.amazonaws.dynamodb.v20120810#InternalServerError", "internal error"),
              std::string(kJsonType));
        });
  }

  void Send(httplib::Response& res, int status, std::string body) {
    res.status = status;
    uLong crc =
        crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    res.set_header("x-amzn-RequestId", RequestId());
    res.set_header("x-amz-crc32", std::to_string(crc));
    res.set_header("Content-Type", std::string(kJsonType));
    res.body = std::move(body);
  }

  // Send, then close the connection: used when the request's body was not
  // read to its end, so that its rest is never taken for a request. httplib
  // closes a connection whose content provider fails; this one writes the
  // whole answer first.
  void SendAndClose(httplib::Response& res, int status, std::string body) {
    Send(res, status, std::move(body));
    auto shared = std::make_shared<std::string>(std::move(res.body));
    res.body.clear();
    res.set_header("Connection", "close");
    res.set_content_provider(shared->size(), std::string(kJsonType),
                             [shared](size_t offset, size_t length, httplib::DataSink& sink) {
                               sink.write(shared->data() + offset, length);
                               return false;
                             });
  }

  // Admin requests carry small or empty bodies (httplib reads them whole);
  // they need the same signature as API requests when access keys are set.
  void HandleAdmin(const httplib::Request& req, httplib::Response& res) {
    if (verifier_->enabled()) {
      SigV4Request sreq;
      sreq.method = req.method;
      sreq.target = req.target;
      sreq.headers.reserve(req.headers.size());
      for (const auto& [name, value] : req.headers) sreq.headers.emplace_back(name, value);
      sreq.body = req.body;
      SigV4Result auth = verifier_->Verify(sreq);
      if (!auth.ok()) {
        LogDebug(kComponent,
                 "rejected admin request from " + req.remote_addr + ": " + auth.message);
        Send(res, 403, ErrorBody(auth.ErrorType(), auth.message));
        return;
      }
    }
    AdminRequest areq;
    areq.method = req.method;
    areq.path = req.path;
    for (const auto& [name, value] : req.params) areq.params[name] = value;
    AdminResponse answer = options_.admin(areq);
    Send(res, answer.status, std::move(answer.body));
  }

  void HandlePost(const httplib::Request& req, httplib::Response& res,
                  const httplib::ContentReader& reader) {
    auto start = std::chrono::steady_clock::now();
    std::string target = req.get_header_value("X-Amz-Target");
    std::string_view operation = OperationOf(target);
    auto finish = [&](std::string_view outcome) {
      if (observer_ == nullptr) return;
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      observer_->OnRequest(operation, outcome, seconds);
    };

    std::string body;
    bool too_large = false;
    const uint64_t limit = options_.http.max_body_bytes;
    bool read = reader([&](const char* data, size_t size) {
      if (body.size() + size > limit) {
        too_large = true;
        return false;
      }
      body.append(data, size);
      return true;
    });
    if (!read) {
      // The rest of the body was not read: the connection cannot be reused.
      if (too_large || res.status == 413) {
        SendAndClose(
            res, 413,
            ErrorBody("com.amazon.coral.service#RequestEntityTooLarge",
                      "Request body exceeds the limit of " + std::to_string(limit) + " bytes"));
        finish("RequestEntityTooLarge");
      } else {
        SendAndClose(res, 400,
                     ErrorBody("com.amazon.coral.service#SerializationException",
                               "The request body could not be read"));
        finish("SerializationException");
      }
      return;
    }

    if (verifier_->enabled()) {
      SigV4Request sreq;
      sreq.method = req.method;
      sreq.target = req.target;
      sreq.headers.reserve(req.headers.size());
      for (const auto& [name, value] : req.headers) sreq.headers.emplace_back(name, value);
      sreq.body = body;
      SigV4Result auth = verifier_->Verify(sreq);
      if (!auth.ok()) {
        LogDebug(kComponent, "rejected request from " + req.remote_addr + ": " + auth.message);
        Send(res, 400, ErrorBody(auth.ErrorType(), auth.message));
        finish(OutcomeOf(400, res.body));
        return;
      }
    }

    if (!slots_.try_acquire_for(std::chrono::milliseconds(options_.http.request_timeout_ms))) {
      Send(res, 503,
           ErrorBody("com.amazonaws.dynamodb.v20120810#ServiceUnavailable",
                     "The server is busy; no worker became free within " +
                         std::to_string(options_.http.request_timeout_ms) + " ms"));
      finish("ServiceUnavailable");
      return;
    }
    ApiResponse response = api_.Handle(target, body);
    slots_.release();
    int status = response.http_status;
    Send(res, status, std::move(response.body));
    finish(OutcomeOf(status, res.body));
  }

  const HttpServerOptions options_;
  DynamoDbApi& api_;
  RequestObserver* const observer_;
  const std::function<bool()> ready_;
  std::unique_ptr<SigV4Verifier> verifier_;
  std::counting_semaphore<1024> slots_;
  std::string health_body_;

  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  std::mutex stop_mu_;
  std::atomic<int> listen_fd_{-1};
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  std::string address_;
  int port_ = 0;
  bool tls_ = false;
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      DynamoDbApi& api, RequestObserver* observer,
                                                      std::function<bool()> ready) {
  if (options.http.worker_threads < 1 || options.http.worker_threads > 1024) {
    return InvalidArgument("http.worker_threads must be in [1, 1024]");
  }
  if (options.http.max_connections < 1) {
    return InvalidArgument("http.max_connections must be at least 1");
  }
  auto impl = std::make_unique<Impl>(options, api, observer, std::move(ready));
  KS_RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Stop() {
  if (impl_) impl_->Stop();
}
const std::string& HttpServer::address() const { return impl_->address(); }
int HttpServer::port() const { return impl_->port(); }
bool HttpServer::tls() const { return impl_->tls(); }
std::string HttpServer::url() const { return (tls() ? "https://" : "http://") + address(); }
bool HttpServer::healthy() const { return impl_->healthy(); }

}  // namespace keystone::daemon
