#include "daemon/http_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/log.h"
#include "base/thread_name.h"
#include "base/wake_batch.h"
#include "daemon/dynamodb_json.h"
#include "daemon/sigv4.h"

namespace keystone::daemon {
namespace {

constexpr std::string_view kJsonType = "application/x-amz-json-1.0";
constexpr std::string_view kComponent = "http";
// Longest request line (414 beyond) and header block (431 beyond), as
// httplib's defaults were.
constexpr size_t kMaxRequestLine = 8192;
constexpr size_t kMaxHead = 64 * 1024;
// While a request is being processed, further (pipelined) input is left in
// the socket buffer once this much is queued.
constexpr size_t kMaxQueuedInput = 256 * 1024;
// Pipelined requests are not taken up while this much of the answers is
// still unsent: a client that sends but never reads holds bounded memory
// (and is cut off after the I/O timeout).
constexpr size_t kMaxQueuedOutput = 1024 * 1024;

using Clock = std::chrono::steady_clock;

// 52 characters of [A-Z0-9], as DynamoDB's request ids. A per-thread
// splitmix64 stream: unique enough for log correlation, and far cheaper than
// mt19937_64 with a modulo per character.
std::string RequestId() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local uint64_t state = std::random_device{}() ^
                                (static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                reinterpret_cast<uintptr_t>(&state);
  std::string id(52, 'A');
  size_t i = 0;
  while (i < id.size()) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    // 12 base-36 digits fit in 64 bits (36^12 < 2^64).
    for (int d = 0; d < 12 && i < id.size(); ++d, ++i) {
      id[i] = kAlphabet[z % 36];
      z /= 36;
    }
  }
  return id;
}

std::string ErrorBody(std::string_view type, std::string_view message) {
  return "{\"__type\":" + JsonQuoted(type) + ",\"message\":" + JsonQuoted(message) + "}";
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

std::string_view Reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return status < 300 ? "OK" : status < 500 ? "Bad Request" : "Internal Server Error";
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Whether the comma-separated header value holds `token` (case-insensitive).
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view part = value.substr(0, comma);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (EqualsIgnoreCase(part, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding of a query component, '+' as a space (as httplib did).
std::string DecodeQueryPart(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 &&
               HexDigit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string key = DecodeQueryPart(pair.substr(0, eq));
      std::string value =
          eq == std::string_view::npos ? std::string() : DecodeQueryPart(pair.substr(eq + 1));
      params.emplace(std::move(key), std::move(value));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return params;
}

// "/sources/NAME/ACTION" with NAME of [A-Za-z0-9._-]+ and ACTION of [a-z]+.
bool IsSourceActionPath(std::string_view path) {
  constexpr std::string_view kPrefix = "/sources/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return false;
  path.remove_prefix(kPrefix.size());
  size_t slash = path.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == path.size()) return false;
  for (char c : path.substr(0, slash)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  for (char c : path.substr(slash + 1)) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

Status CheckReadable(const std::string& path, std::string_view what) {
  std::ifstream in(path);
  if (!in) {
    return InvalidArgument("cannot read TLS " + std::string(what) + " file " + path + ": " +
                           std::strerror(errno));
  }
  return Status::Ok();
}

timeval ToTimeval(int64_t ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

std::string PeerAddress(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

// Runs the requests that would block an event loop (table operations, which
// wait for a commit, and admin requests) on a few threads of their own. Every
// queued job runs, also during shutdown.
class BlockingPool {
 public:
  explicit BlockingPool(size_t threads) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~BlockingPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutdown_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  // `job` gets how long it waited in the queue.
  void Submit(std::function<void(Clock::duration)> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back({Clock::now(), std::move(job)});
    }
    cv_.notify_one();
  }

 private:
  struct Job {
    Clock::time_point queued;
    std::function<void(Clock::duration)> fn;
  };
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return !jobs_.empty() || shutdown_; });
      if (jobs_.empty()) return;
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job.fn(Clock::now() - job.queued);
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;   // guarded by mu_
  bool shutdown_ = false;  // guarded by mu_
  std::vector<std::thread> threads_;
};

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};

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
  class Loop;
  class Conn;

  Impl(const HttpServerOptions& options, DynamoDbApi& api, RequestObserver* observer,
       std::function<bool()> ready);
  ~Impl() { Stop(); }

  Status Start();
  void Stop();

  const std::string& address() const { return address_; }
  int port() const { return port_; }
  bool tls() const { return tls_; }
  bool healthy() const { return running_ && !stopping_; }
  Status Health() const;

  // Connection accounting against http.max_connections: at the cap every
  // loop stops accepting (new clients wait in the kernel's accept queue)
  // until a connection closes. Each loop switches its own listener, told
  // through its task queue: a listener is never touched from another thread.
  void OnConnectionOpened();
  void OnConnectionClosed();
  bool AtConnectionCap() const { return connections_.load() >= options_.http.max_connections; }

  const HttpServerOptions options_;
  DynamoDbApi& api_;
  RequestObserver* const observer_;
  const std::function<bool()> ready_;
  std::unique_ptr<SigV4Verifier> verifier_;
  std::string health_body_;
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ssl_ctx_;
  std::unique_ptr<BlockingPool> blocking_;
  std::vector<std::unique_ptr<Loop>> loops_;

  std::atomic<size_t> connections_{0};

  std::mutex stop_mu_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  std::string address_;
  int port_ = 0;
  bool tls_ = false;
};

// One event loop thread: its share of the connections (those it accepted on
// the shared listening socket), and a queue through which other threads (the
// store's writer, the blocking pool, Stop()) hand it work.
class HttpServer::Impl::Loop {
 public:
  Loop(Impl* server, event_base* base) : server_(server), base_(base) {
    wake_ = event_new(base_, -1, 0, &Loop::OnWake, this);
    reap_ = event_new(base_, -1, 0, &Loop::OnReap, this);
    timeval io = ToTimeval(server->options_.io_timeout_ms);
    timeval idle = ToTimeval(server->options_.keep_alive_timeout_ms);
    io_timeout_ = *event_base_init_common_timeout(base_, &io);
    idle_timeout_ = *event_base_init_common_timeout(base_, &idle);
    // The heartbeat: a loop that stops running callbacks (stuck in one)
    // stops stamping it, and Health() says so.
    last_beat_ns_.store(NowNs());
    beat_ = event_new(base_, -1, EV_PERSIST, &Loop::OnBeat, this);
    int64_t beat_ms = std::clamp<int64_t>(server->options_.stall_timeout_ms / 4, 10, 1000);
    timeval beat = ToTimeval(beat_ms);
    event_add(beat_, &beat);
  }
  ~Loop();

  // Accepts on `fd` (owned from here).
  Status Listen(evutil_socket_t fd);
  void Run() {
    thread_ = std::thread([this] {
      SetThreadName("http");
      event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY);
    });
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  // Runs `task` on the loop thread; from any thread.
  void Post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
      if (wake_pending_) return;
      wake_pending_ = true;
    }
    // The queued task keeps this loop running (its connection waits for it),
    // so a deferred wake finds the loop alive.
    if (!WakeBatch::Defer(&Loop::Wake, this)) Wake(this);
  }
  void RequestStop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_requested_ = true;
      if (wake_pending_) return;
      wake_pending_ = true;
    }
    event_active(wake_, EV_READ, 0);
  }
  // Accepts while below max_connections and not stopping. Loop thread.
  void UpdateAccepting() {
    bool on = !stopping_ && !server_->AtConnectionCap();
    if (listener_ == nullptr || on == accepting_) return;
    accepting_ = on;
    if (on) {
      evconnlistener_enable(listener_);
    } else {
      evconnlistener_disable(listener_);
    }
  }
  // Deletes `conn` once the current callback has returned, so that code
  // still running on it up the stack stays safe. Loop thread.
  void Bury(Conn* conn) {
    graveyard_.push_back(conn);
    event_active(reap_, EV_READ, 0);
  }

  Impl* server() const { return server_; }
  event_base* base() const { return base_; }
  bool stopping() const { return stopping_; }
  const timeval* io_timeout() const { return &io_timeout_; }
  const timeval* idle_timeout() const { return &idle_timeout_; }
  // When the loop last ran its heartbeat (steady clock, ns); any thread.
  int64_t last_beat_ns() const { return last_beat_ns_.load(std::memory_order_relaxed); }
  static int64_t NowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
  }

 private:
  static void OnBeat(evutil_socket_t, short, void* arg) {
    auto* loop = static_cast<Loop*>(arg);
    loop->last_beat_ns_.store(NowNs(), std::memory_order_relaxed);
  }
  static void OnWake(evutil_socket_t, short, void* arg);
  static void Wake(void* loop) { event_active(static_cast<Loop*>(loop)->wake_, EV_READ, 0); }
  static void OnReap(evutil_socket_t, short, void* arg);
  static void OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len, void* arg);
  static void OnAcceptError(evconnlistener* listener, void* arg);
  void BeginStop();
  void MaybeExit() {
    if (stopping_ && conns_.empty() && graveyard_.empty()) event_base_loopbreak(base_);
  }

  Impl* const server_;
  event_base* const base_;
  event* wake_ = nullptr;
  event* reap_ = nullptr;
  event* beat_ = nullptr;
  std::atomic<int64_t> last_beat_ns_{0};
  evconnlistener* listener_ = nullptr;  // loop thread (before Run(): the starter)
  bool accepting_ = true;
  timeval io_timeout_;
  timeval idle_timeout_;
  std::thread thread_;

  std::mutex mu_;
  std::vector<std::function<void()>> tasks_;  // guarded by mu_
  bool wake_pending_ = false;                 // guarded by mu_
  bool stop_requested_ = false;               // guarded by mu_

  // Loop thread only.
  std::unordered_set<Conn*> conns_;
  std::vector<Conn*> graveyard_;
  bool stopping_ = false;
};

// One client connection, owned by its loop and used on that loop's thread
// only. It reads requests, answers them one at a time in order (pipelined
// requests wait in the input buffer), and lives on while an operation it
// started is still running even if the socket is gone, because that
// operation will report back to it.
class HttpServer::Impl::Conn {
 public:
  Conn(Loop* loop, evutil_socket_t fd, const sockaddr* addr, int addr_len);
  ~Conn();
  // Starts serving; false when the transport could not be set up (the
  // connection is already destroyed).
  bool Start();
  bool idle() const { return state_ == State::kIdle && in_.empty() && PendingOutput() == 0; }
  // Stop(): idle connections close now, busy ones after their answer.
  void OnStop() {
    if (state_ == State::kLingering || destroyed_) return;
    if (idle()) {
      Destroy();
    } else {
      close_after_response_ = true;
    }
  }
  // Closes the socket. The object goes once no operation of it runs (at
  // once, or when the running one reports).
  void Destroy();

 private:
  enum class State {
    kIdle,        // waiting for the first byte of a request
    kReading,     // a request is arriving
    kProcessing,  // an operation runs; its answer will come
    kLingering,   // answered and closing: write side shut, input discarded
  };

  struct Request {
    std::string method;
    std::string target;  // path and query
    std::string amz_target;
    int minor_version = 1;
    bool keep_alive = true;
    bool chunked = false;
    bool has_length = false;
    bool expect_continue = false;
    uint64_t content_length = 0;
    std::vector<std::pair<std::string, std::string>> headers;  // only for SigV4
    std::string body;
    Clock::time_point start;
    void Clear() {
      method.clear();
      target.clear();
      amz_target.clear();
      minor_version = 1;
      keep_alive = true;
      chunked = false;
      has_length = false;
      expect_continue = false;
      content_length = 0;
      headers.clear();
      body.clear();
    }
  };

  // Plain sockets: own read and write events (recv() straight into in_, one
  // syscall per request instead of bufferevent's ioctl + readv).
  static void OnReadable(evutil_socket_t, short, void* arg);
  static void OnWritable(evutil_socket_t, short what, void* arg);
  // TLS: an OpenSSL bufferevent.
  static void OnTlsRead(bufferevent* bev, void* arg);
  static void OnTlsWrite(bufferevent* bev, void* arg);
  static void OnTlsEvent(bufferevent* bev, short what, void* arg);
  static void OnTimer(evutil_socket_t, short, void* arg);

  size_t PendingOutput() const {
    if (bev_ != nullptr) return evbuffer_get_length(bufferevent_get_output(bev_));
    return wbuf_.size() - woff_;
  }
  // Takes what the transport has into in_; false when the connection failed
  // or ended (destroyed, or peer_eof_ set while an operation runs).
  bool Fill();
  // Acts on new input according to the state.
  void OnInput();
  void PauseReading();
  void ResumeReading();
  void OnDrained();
  void Advance();
  // Parsing: true when a whole request is in req_ (then in_ holds what
  // follows from pos_); false when more input is needed or the request was
  // rejected (then the rejection was sent).
  bool ParseHead();
  bool ParseBody();
  bool ParseChunked();
  void Reject(int status, std::string_view type, std::string_view message);

  void Dispatch();
  void HandlePost();
  void HandleAdmin(std::string_view path, std::string_view query);
  // Runs `work` on the blocking pool and answers with its response from this
  // connection's loop; one that cannot start within http.request_timeout_ms
  // gets 503 ServiceUnavailable instead (and `work` never runs). `observe`:
  // count it as an API request (FinishApi).
  void RunBlocking(std::function<ApiResponse()> work, bool observe);
  void Finish(int status, std::string body, std::string_view content_type, bool amz_headers);
  void FinishApi(ApiResponse response);
  void Observe(std::string_view outcome, int status);
  // False when the connection failed (and was destroyed).
  bool Write(const std::string& data);
  void AfterResponse();
  void OnFlushed();
  void ArmTimer(const timeval* tv) {
    timer_at_read_deadline_ = false;
    evtimer_add(timer_, tv);
  }
  void DisarmTimer() { evtimer_del(timer_); }
  // A request's first byte is here: its whole must arrive by
  // http.request_read_timeout_ms from now.
  void BeginRequest();
  // Input arrived while reading a request: the timer fires after io_timeout
  // of no further progress, or at the request's read deadline if sooner.
  void ArmReadTimer();

  Loop* const loop_;
  Impl* const server_;
  evutil_socket_t fd_;
  sockaddr_storage peer_{};
  bufferevent* bev_ = nullptr;  // TLS
  event* read_ev_ = nullptr;    // plain
  event* write_ev_ = nullptr;   // plain, pending while wbuf_ holds output
  std::string wbuf_;            // plain: output the socket did not take yet
  size_t woff_ = 0;
  bool reading_paused_ = false;
  event* timer_ = nullptr;
  State state_ = State::kIdle;
  Clock::time_point read_deadline_;      // of the request being read (kReading)
  bool timer_at_read_deadline_ = false;  // armed for read_deadline_, not the io timeout
  std::string in_;                       // unparsed input
  size_t pos_ = 0;                       // parse position in in_
  // Chunked body decoding state.
  enum class ChunkState { kSize, kData, kDataEnd, kTrailer };
  ChunkState chunk_state_ = ChunkState::kSize;
  uint64_t chunk_left_ = 0;
  bool head_done_ = false;
  bool in_advance_ = false;
  bool continue_sent_ = false;
  Request req_;
  std::string out_;  // the response being built
  uint32_t served_ = 0;
  bool close_after_response_ = false;
  bool closing_ = false;  // the current response is the last one
  bool peer_eof_ = false;
  bool destroyed_ = false;  // socket closed; the object awaits deletion
};

// ---------------------------------------------------------------------------
// Impl

HttpServer::Impl::Impl(const HttpServerOptions& options, DynamoDbApi& api,
                       RequestObserver* observer, std::function<bool()> ready)
    : options_(options), api_(api), observer_(observer), ready_(std::move(ready)) {
  SigV4VerifierOptions v;
  for (const AccessKey& k : options.auth.access_keys) {
    v.keys.push_back({k.access_key_id, k.secret_access_key});
  }
  v.region = options.auth.region;
  v.clock = options.clock;
  verifier_ = std::make_unique<SigV4Verifier>(std::move(v));
  health_body_ = "healthy: dynamodb." + options.auth.region + ".amazonaws.com ";
}

Status HttpServer::Impl::Health() const {
  if (!running_ || stopping_) return Unavailable("stopping");
  int64_t now = Loop::NowNs();
  int64_t limit = options_.stall_timeout_ms * 1'000'000;
  for (size_t i = 0; i < loops_.size(); ++i) {
    int64_t silent = now - loops_[i]->last_beat_ns();
    if (silent > limit) {
      return Unavailable("HTTP event loop " + std::to_string(i) + " has not run for " +
                         std::to_string(silent / 1'000'000) + " ms (stuck in a request?)");
    }
  }
  if (options_.health_check) return options_.health_check();
  return Status::Ok();
}

Status HttpServer::Impl::Start() {
  static std::once_flag libevent_threads;
  std::call_once(libevent_threads, [] {
    evthread_use_pthreads();
    // A peer that resets its connection must not kill the process through a
    // write (libevent's and OpenSSL's writes do not pass MSG_NOSIGNAL).
    struct sigaction old {};
    if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
  });

  std::string host;
  int port = 0;
  KS_RETURN_IF_ERROR(ParseListenAddress(options_.http.listen, &host, &port));
  if (options_.http.tls) {
    const TlsOptions& t = *options_.http.tls;
    KS_RETURN_IF_ERROR(CheckReadable(t.cert_file, "certificate"));
    KS_RETURN_IF_ERROR(CheckReadable(t.key_file, "key"));
    ssl_ctx_.reset(SSL_CTX_new(TLS_server_method()));
    if (!ssl_ctx_ || SSL_CTX_use_certificate_chain_file(ssl_ctx_.get(), t.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ssl_ctx_.get(), t.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ssl_ctx_.get()) != 1) {
      ERR_clear_error();
      return InvalidArgument("cannot load TLS certificate " + t.cert_file + " with key " +
                             t.key_file);
    }
    SSL_CTX_set_min_proto_version(ssl_ctx_.get(), TLS1_2_VERSION);
    SSL_CTX_set_mode(ssl_ctx_.get(), SSL_MODE_RELEASE_BUFFERS);
    tls_ = true;
  }

  // Resolve and bind one listening socket; every loop accepts on it.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port_text = std::to_string(port);
  int gai = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found);
  if (gai != 0) {
    return IoError("cannot listen on " + options_.http.listen + ": " + gai_strerror(gai));
  }
  int fd = -1;
  int bind_errno = 0;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      bind_errno = errno;
      continue;
    }
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) break;
    bind_errno = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd < 0) {
    return IoError("cannot listen on " + options_.http.listen + ": " + std::strerror(bind_errno));
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  address_ = host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port_)
                                                 : host + ":" + std::to_string(port_);

  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  size_t loops = std::min<size_t>(options_.http.worker_threads, cores);
  blocking_ = std::make_unique<BlockingPool>(2);
  Status status;
  for (size_t i = 0; i < loops && status.ok(); ++i) {
    event_config* config = event_config_new();
    event_config_set_flag(config, EVENT_BASE_FLAG_NO_CACHE_TIME);
    event_base* base = event_base_new_with_config(config);
    event_config_free(config);
    if (base == nullptr) {
      status = Internal("cannot create an event loop");
      break;
    }
    loops_.push_back(std::make_unique<Loop>(this, base));
    // Each loop accepts on its own descriptor of the one socket, so that
    // each can close its own when it stops.
    int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) {
      status =
          IoError(std::string("cannot duplicate the listening socket: ") + std::strerror(errno));
      break;
    }
    status = loops_.back()->Listen(own);
  }
  close(fd);
  if (!status.ok()) {
    Stop();
    return status;
  }
  running_ = true;
  for (auto& loop : loops_) loop->Run();
  return Status::Ok();
}

void HttpServer::Impl::Stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  stopping_ = true;
  for (auto& loop : loops_) loop->RequestStop();
  for (auto& loop : loops_) loop->Join();
  loops_.clear();
  // Every connection is gone, so nothing waits for the pool any more.
  blocking_.reset();
  running_ = false;
}

// Every crossing of the cap, either way, asks every loop to look again; the
// last look of each loop sees the final count.
void HttpServer::Impl::OnConnectionOpened() {
  size_t now = connections_.fetch_add(1) + 1;
  if (now != options_.http.max_connections) return;
  for (auto& loop : loops_) loop->Post([l = loop.get()] { l->UpdateAccepting(); });
}

void HttpServer::Impl::OnConnectionClosed() {
  size_t now = connections_.fetch_sub(1) - 1;
  if (now + 1 != options_.http.max_connections) return;
  for (auto& loop : loops_) loop->Post([l = loop.get()] { l->UpdateAccepting(); });
}

// ---------------------------------------------------------------------------
// Loop

HttpServer::Impl::Loop::~Loop() {
  if (listener_ != nullptr) evconnlistener_free(listener_);
  // Only reached after the thread ended (or never ran); a connection left
  // here has no operation running.
  for (Conn* c : conns_) delete c;
  event_free(wake_);
  event_free(reap_);
  event_free(beat_);
  event_base_free(base_);
}

Status HttpServer::Impl::Loop::Listen(evutil_socket_t fd) {
  evutil_make_socket_nonblocking(fd);
  listener_ = evconnlistener_new(base_, &Loop::OnAccept, this, LEV_OPT_CLOSE_ON_FREE, -1, fd);
  if (listener_ == nullptr) {
    close(fd);
    return IoError("cannot accept on " + server_->options_.http.listen);
  }
  evconnlistener_set_error_cb(listener_, &Loop::OnAcceptError);
  return Status::Ok();
}

void HttpServer::Impl::Loop::OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len,
                                      void* arg) {
  auto* self = static_cast<Loop*>(arg);
  if (self->stopping_) {
    close(fd);
    return;
  }
  int yes = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  auto* conn = new Conn(self, fd, addr, len);
  self->conns_.insert(conn);
  self->server_->OnConnectionOpened();
  if (self->server_->AtConnectionCap()) self->UpdateAccepting();
  conn->Start();
}

void HttpServer::Impl::Loop::OnReap(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Loop*>(arg);
  std::vector<Conn*> dead;
  dead.swap(self->graveyard_);
  for (Conn* c : dead) {
    self->conns_.erase(c);
    delete c;
    self->server_->OnConnectionClosed();
  }
  self->MaybeExit();
}

void HttpServer::Impl::Loop::OnAcceptError(evconnlistener*, void*) {
  // Out of descriptors (EMFILE) and the like: the listener retries on the
  // next readiness; say so once per failure.
  int err = EVUTIL_SOCKET_ERROR();
  LogWarn(kComponent, std::string("accept failed: ") + evutil_socket_error_to_string(err));
}

void HttpServer::Impl::Loop::OnWake(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Loop*>(arg);
  std::vector<std::function<void()>> tasks;
  bool stop = false;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    tasks.swap(self->tasks_);
    self->wake_pending_ = false;
    stop = self->stop_requested_;
  }
  for (auto& task : tasks) task();
  if (stop && !self->stopping_) self->BeginStop();
  self->MaybeExit();
}

void HttpServer::Impl::Loop::BeginStop() {
  stopping_ = true;
  if (listener_ != nullptr) evconnlistener_free(listener_);
  listener_ = nullptr;
  std::vector<Conn*> conns(conns_.begin(), conns_.end());
  for (Conn* c : conns) c->OnStop();
}

// ---------------------------------------------------------------------------
// Conn

HttpServer::Impl::Conn::Conn(Loop* loop, evutil_socket_t fd, const sockaddr* addr, int addr_len)
    : loop_(loop), server_(loop->server()), fd_(fd) {
  if (addr != nullptr && addr_len > 0 && static_cast<size_t>(addr_len) <= sizeof(peer_)) {
    std::memcpy(&peer_, addr, static_cast<size_t>(addr_len));
  }
  timer_ = evtimer_new(loop_->base(), &Conn::OnTimer, this);
}

HttpServer::Impl::Conn::~Conn() {
  if (bev_ != nullptr) bufferevent_free(bev_);
  if (read_ev_ != nullptr) {
    event_free(read_ev_);
    event_free(write_ev_);
    close(fd_);
  }
  event_free(timer_);
}

bool HttpServer::Impl::Conn::Start() {
  if (server_->tls_) {
    SSL* ssl = SSL_new(server_->ssl_ctx_.get());
    if (ssl != nullptr) {
      bev_ = bufferevent_openssl_socket_new(loop_->base(), fd_, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE);
      if (bev_ == nullptr) SSL_free(ssl);
    }
    if (bev_ == nullptr) {
      LogWarn(kComponent, "cannot set up a TLS connection from " + PeerAddress(peer_));
      close(fd_);
      Destroy();
      return false;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev_, 1);
    bufferevent_setcb(bev_, &Conn::OnTlsRead, &Conn::OnTlsWrite, &Conn::OnTlsEvent, this);
    timeval io = ToTimeval(server_->options_.io_timeout_ms);
    bufferevent_set_timeouts(bev_, nullptr, &io);
    bufferevent_enable(bev_, EV_READ | EV_WRITE);
  } else {
    evutil_make_socket_nonblocking(fd_);
    read_ev_ = event_new(loop_->base(), fd_, EV_READ | EV_PERSIST, &Conn::OnReadable, this);
    write_ev_ = event_new(loop_->base(), fd_, EV_WRITE | EV_PERSIST, &Conn::OnWritable, this);
    event_add(read_ev_, nullptr);
  }
  ArmTimer(loop_->idle_timeout());
  return true;
}

void HttpServer::Impl::Conn::Destroy() {
  if (destroyed_) return;
  destroyed_ = true;
  if (bev_ != nullptr) bufferevent_free(bev_);
  bev_ = nullptr;
  if (read_ev_ != nullptr) {
    event_free(read_ev_);
    event_free(write_ev_);
    read_ev_ = write_ev_ = nullptr;
    close(fd_);
  }
  DisarmTimer();
  // A running operation will report back here: Finish() buries it then.
  if (state_ != State::kProcessing) loop_->Bury(this);
}

void HttpServer::Impl::Conn::OnReadable(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Conn*>(arg);
  if (self->Fill()) self->OnInput();
}

void HttpServer::Impl::Conn::OnTlsRead(bufferevent*, void* arg) {
  auto* self = static_cast<Conn*>(arg);
  if (self->Fill()) self->OnInput();
}

bool HttpServer::Impl::Conn::Fill() {
  if (destroyed_) return false;
  size_t before = in_.size();
  if (bev_ != nullptr) {
    evbuffer* input = bufferevent_get_input(bev_);
    size_t n = evbuffer_get_length(input);
    in_.resize(before + n);
    evbuffer_remove(input, in_.data() + before, n);
  } else {
    // Read until the socket is drained or a read comes back short (then it
    // most likely is; level-triggered epoll tells again if not).
    char chunk[16 * 1024];
    for (;;) {
      ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n > 0) {
        in_.append(chunk, static_cast<size_t>(n));
        if (static_cast<size_t>(n) < sizeof(chunk) || in_.size() - before >= kMaxQueuedInput) {
          break;
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 && errno == EINTR) continue;
      // End of input (or a reset). Parse what came before it first.
      if (in_.size() > before && state_ != State::kLingering && state_ != State::kProcessing) {
        OnInput();
        if (destroyed_) return false;
      }
      if (n == 0 && state_ == State::kProcessing) {
        // Half-closed by the client: still answer, then close.
        peer_eof_ = true;
        event_del(read_ev_);
        return false;
      }
      Destroy();
      return false;
    }
  }
  if (state_ == State::kLingering) {
    in_.clear();
    return false;
  }
  return in_.size() > before;
}

void HttpServer::Impl::Conn::BeginRequest() {
  state_ = State::kReading;
  req_.Clear();
  req_.start = Clock::now();
  read_deadline_ =
      req_.start + std::chrono::milliseconds(server_->options_.http.request_read_timeout_ms);
}

void HttpServer::Impl::Conn::ArmReadTimer() {
  // The common io timeout (cheap to re-arm) unless the deadline is nearer.
  auto left = std::chrono::ceil<std::chrono::milliseconds>(read_deadline_ - Clock::now());
  if (left.count() >= server_->options_.io_timeout_ms) {
    ArmTimer(loop_->io_timeout());
    return;
  }
  timeval tv = ToTimeval(std::max<int64_t>(0, left.count()));
  ArmTimer(&tv);
  timer_at_read_deadline_ = true;
}

void HttpServer::Impl::Conn::OnInput() {
  if (state_ == State::kIdle) BeginRequest();
  if (state_ == State::kReading) {
    ArmReadTimer();
    Advance();
  }
  // Input that cannot be taken up now (an operation runs, or answers wait
  // to be sent) waits; past a cap it waits in the socket.
  if (!destroyed_ && in_.size() >= kMaxQueuedInput &&
      (state_ == State::kProcessing || PendingOutput() >= kMaxQueuedOutput)) {
    PauseReading();
  }
}

// Answers went out: take up pipelined requests that waited for that.
void HttpServer::Impl::Conn::OnDrained() {
  if (state_ == State::kLingering) {
    OnFlushed();
    return;
  }
  if (state_ != State::kReading || in_advance_) return;
  Advance();
  if (!destroyed_ && (state_ == State::kIdle || state_ == State::kReading)) ResumeReading();
}

void HttpServer::Impl::Conn::PauseReading() {
  if (reading_paused_) return;
  reading_paused_ = true;
  if (bev_ != nullptr) {
    bufferevent_disable(bev_, EV_READ);
  } else {
    event_del(read_ev_);
  }
}

void HttpServer::Impl::Conn::ResumeReading() {
  if (!reading_paused_ || destroyed_) return;
  reading_paused_ = false;
  if (bev_ != nullptr) {
    bufferevent_enable(bev_, EV_READ);
  } else {
    event_add(read_ev_, nullptr);
  }
}

// Parses and dispatches as far as the input allows.
void HttpServer::Impl::Conn::Advance() {
  // Answers given inline come back through AfterResponse(), which leaves the
  // next pipelined request to this loop instead of recursing.
  in_advance_ = true;
  while (state_ == State::kReading && !destroyed_ && PendingOutput() < kMaxQueuedOutput) {
    if (!head_done_) {
      if (!ParseHead()) break;
      head_done_ = true;
    }
    if (!ParseBody()) break;
    in_.erase(0, pos_);
    pos_ = 0;
    head_done_ = false;
    state_ = State::kProcessing;
    DisarmTimer();
    Dispatch();
    // Dispatch may have answered inline and moved on to the next request.
  }
  in_advance_ = false;
}

bool HttpServer::Impl::Conn::ParseHead() {
  size_t end = in_.find("\r\n\r\n");
  if (end == std::string::npos) {
    size_t line_end = in_.find("\r\n");
    if ((line_end == std::string::npos ? in_.size() : line_end) > kMaxRequestLine) {
      Reject(414, "com.amazon.coral.service#SerializationException", "Request line too long");
    } else if (in_.size() > kMaxHead) {
      Reject(431, "com.amazon.coral.service#SerializationException", "Request headers too large");
    }
    return false;
  }
  std::string_view head(in_.data(), end + 2);
  size_t line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  if (line.size() > kMaxRequestLine) {
    Reject(414, "com.amazon.coral.service#SerializationException", "Request line too long");
    return false;
  }
  if (end + 4 > kMaxHead) {
    Reject(431, "com.amazon.coral.service#SerializationException", "Request headers too large");
    return false;
  }
  // METHOD SP TARGET SP HTTP/1.x
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  std::string_view version =
      sp2 == std::string_view::npos ? std::string_view() : line.substr(sp2 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || sp2 == sp1 + 1 || version.size() != 8 ||
      version.substr(0, 7) != "HTTP/1." || (version[7] != '0' && version[7] != '1')) {
    Reject(400, "com.amazon.coral.service#SerializationException", "Malformed request line");
    return false;
  }
  for (char c : line.substr(0, sp1)) {
    if (c < 'A' || c > 'Z') {
      Reject(400, "com.amazon.coral.service#SerializationException", "Malformed request line");
      return false;
    }
  }
  req_.method.assign(line.substr(0, sp1));
  req_.target.assign(line.substr(sp1 + 1, sp2 - sp1 - 1));
  req_.minor_version = version[7] - '0';
  req_.keep_alive = req_.minor_version == 1;
  const bool keep_headers = server_->verifier_->enabled();
  bool bad = false;
  std::string_view rest = head.substr(line_end + 2);
  while (!rest.empty()) {
    size_t eol = rest.find("\r\n");
    std::string_view h = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    size_t colon = h.find(':');
    if (colon == 0 || colon == std::string_view::npos || h.front() == ' ' || h.front() == '\t') {
      bad = true;
      break;
    }
    std::string_view name = h.substr(0, colon);
    if (name.back() == ' ' || name.back() == '\t') {
      bad = true;
      break;
    }
    std::string_view value = h.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    // Only the headers this server acts on are looked at; the first letter
    // picks the candidates without a case-folded copy of every name.
    switch (name[0] | 0x20) {
      case 'c':
        if (EqualsIgnoreCase(name, "content-length")) {
          uint64_t length = 0;
          if (value.empty() || value.size() > 18 || req_.has_length) bad = true;
          for (char c : value) {
            if (c < '0' || c > '9') bad = true;
            length = length * 10 + static_cast<uint64_t>(c - '0');
          }
          req_.has_length = true;
          req_.content_length = length;
        } else if (EqualsIgnoreCase(name, "connection")) {
          if (HasToken(value, "close")) req_.keep_alive = false;
          if (HasToken(value, "keep-alive")) req_.keep_alive = true;
        }
        break;
      case 't':
        if (EqualsIgnoreCase(name, "transfer-encoding")) {
          if (!EqualsIgnoreCase(value, "chunked")) {
            Reject(501, "com.amazon.coral.service#SerializationException",
                   "Unsupported Transfer-Encoding");
            return false;
          }
          req_.chunked = true;
        }
        break;
      case 'x':
        if (EqualsIgnoreCase(name, "x-amz-target")) req_.amz_target.assign(value);
        break;
      case 'e':
        if (EqualsIgnoreCase(name, "expect") && EqualsIgnoreCase(value, "100-continue")) {
          req_.expect_continue = true;
        }
        break;
      default:
        break;
    }
    if (bad) break;
    if (keep_headers) req_.headers.emplace_back(std::string(name), std::string(value));
  }
  if (bad || (req_.chunked && req_.has_length)) {
    Reject(400, "com.amazon.coral.service#SerializationException", "Malformed request headers");
    return false;
  }
  pos_ = end + 4;
  chunk_state_ = ChunkState::kSize;
  continue_sent_ = false;
  if (req_.has_length && req_.content_length > server_->options_.http.max_body_bytes) {
    Reject(413, "com.amazon.coral.service#RequestEntityTooLarge",
           "Request body exceeds the limit of " +
               std::to_string(server_->options_.http.max_body_bytes) + " bytes");
    return false;
  }
  return true;
}

bool HttpServer::Impl::Conn::ParseBody() {
  if (req_.chunked) {
    if (!ParseChunked()) {
      if (state_ == State::kReading && !destroyed_ && req_.expect_continue && !continue_sent_ &&
          req_.minor_version == 1) {
        continue_sent_ = true;
        Write("HTTP/1.1 100 Continue\r\n\r\n");
      }
      return false;
    }
    return true;
  }
  uint64_t length = req_.has_length ? req_.content_length : 0;
  if (in_.size() - pos_ < length) {
    if (req_.expect_continue && !continue_sent_ && req_.minor_version == 1) {
      continue_sent_ = true;
      Write("HTTP/1.1 100 Continue\r\n\r\n");
    }
    return false;
  }
  req_.body.assign(in_, pos_, length);
  pos_ += length;
  return true;
}

bool HttpServer::Impl::Conn::ParseChunked() {
  const uint64_t limit = server_->options_.http.max_body_bytes;
  for (;;) {
    switch (chunk_state_) {
      case ChunkState::kSize: {
        size_t eol = in_.find("\r\n", pos_);
        if (eol == std::string::npos) {
          if (in_.size() - pos_ > 1024) {
            Reject(400, "com.amazon.coral.service#SerializationException", "Bad chunk size");
          }
          return false;
        }
        std::string_view line(in_.data() + pos_, eol - pos_);
        line = line.substr(0, line.find(';'));  // extensions are ignored
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
        uint64_t size = 0;
        bool ok = !line.empty() && line.size() <= 15;
        for (char c : line) {
          int d = HexDigit(c);
          if (d < 0) ok = false;
          size = size * 16 + static_cast<uint64_t>(std::max(d, 0));
        }
        if (!ok) {
          Reject(400, "com.amazon.coral.service#SerializationException", "Bad chunk size");
          return false;
        }
        pos_ = eol + 2;
        if (req_.body.size() + size > limit) {
          Reject(413, "com.amazon.coral.service#RequestEntityTooLarge",
                 "Request body exceeds the limit of " + std::to_string(limit) + " bytes");
          return false;
        }
        chunk_left_ = size;
        chunk_state_ = size == 0 ? ChunkState::kTrailer : ChunkState::kData;
        break;
      }
      case ChunkState::kData: {
        size_t take = std::min<uint64_t>(chunk_left_, in_.size() - pos_);
        req_.body.append(in_, pos_, take);
        pos_ += take;
        chunk_left_ -= take;
        if (chunk_left_ > 0) return false;
        chunk_state_ = ChunkState::kDataEnd;
        break;
      }
      case ChunkState::kDataEnd:
        if (in_.size() - pos_ < 2) return false;
        if (in_.compare(pos_, 2, "\r\n") != 0) {
          Reject(400, "com.amazon.coral.service#SerializationException", "Bad chunk");
          return false;
        }
        pos_ += 2;
        chunk_state_ = ChunkState::kSize;
        break;
      case ChunkState::kTrailer: {
        size_t eol = in_.find("\r\n", pos_);
        if (eol == std::string::npos) {
          if (in_.size() - pos_ > kMaxHead) {
            Reject(431, "com.amazon.coral.service#SerializationException", "Trailer too large");
          }
          return false;
        }
        bool last = eol == pos_;
        pos_ = eol + 2;
        if (last) return true;
        break;
      }
    }
    // Free what the body took so that a long chunked body is not held twice.
    if (pos_ > 64 * 1024) {
      in_.erase(0, pos_);
      pos_ = 0;
    }
  }
}

// Answers a request that cannot be read further and closes the connection,
// since the rest of its bytes could be taken for a request.
void HttpServer::Impl::Conn::Reject(int status, std::string_view type, std::string_view message) {
  state_ = State::kProcessing;
  DisarmTimer();
  close_after_response_ = true;
  in_.clear();
  pos_ = 0;
  head_done_ = false;
  std::string body = ErrorBody(type, message);
  if (req_.method == "POST" && !req_.amz_target.empty()) Observe(OutcomeOf(status, body), status);
  Finish(status, std::move(body), kJsonType, true);
}

void HttpServer::Impl::Conn::Dispatch() {
  std::string_view target = req_.target;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  if (req_.method == "POST") {
    if (path == "/") return HandlePost();
    if (server_->options_.admin && IsSourceActionPath(path)) return HandleAdmin(path, query);
  } else if (req_.method == "GET") {
    if (path == "/") return Finish(200, server_->health_body_, "text/plain", false);
    if (path == "/healthz") {
      Status health = server_->Health();
      if (health.ok()) return Finish(200, "ok\n", "text/plain", false);
      return Finish(503, "unhealthy: " + health.message() + "\n", "text/plain", false);
    }
    if (path == "/readyz") {
      bool ready = server_->Health().ok() && (!server_->ready_ || server_->ready_());
      return Finish(ready ? 200 : 503, ready ? "ready\n" : "not ready\n", "text/plain", false);
    }
    if (server_->options_.admin && path == "/sources") return HandleAdmin(path, query);
  }
  std::string body = ErrorBody("com.amazon.coral.service#UnknownOperationException",
                               "No route for " + req_.method + " " + std::string(path));
  if (req_.method == "POST") Observe(OutcomeOf(404, body), 404);
  Finish(404, std::move(body), kJsonType, true);
}

void HttpServer::Impl::Conn::HandlePost() {
  if (server_->verifier_->enabled()) {
    SigV4Request sreq;
    sreq.method = req_.method;
    sreq.target = req_.target;
    sreq.headers = std::move(req_.headers);
    sreq.body = std::move(req_.body);
    SigV4Result auth = server_->verifier_->Verify(sreq);
    req_.body = std::move(sreq.body);
    if (!auth.ok()) {
      LogDebug(kComponent, "rejected request from " + PeerAddress(peer_) + ": " + auth.message);
      std::string body = ErrorBody(auth.ErrorType(), auth.message);
      Observe(OutcomeOf(400, body), 400);
      return Finish(400, std::move(body), kJsonType, true);
    }
  }
  Loop* loop = loop_;
  if (DynamoDbApi::WaitsForCommit(req_.amz_target)) {
    // Table operations wait for a commit: not on this thread.
    return RunBlocking([api = &server_->api_, target = req_.amz_target,
                        body = std::move(req_.body)] { return api->Handle(target, body); },
                       true);
  }
  std::optional<ApiResponse> response =
      server_->api_.HandleAsync(req_.amz_target, req_.body, [this, loop](ResponseBuilder build) {
        // On the store's writer thread: only hand the result over.
        loop->Post([this, build = std::move(build)] { FinishApi(build()); });
      });
  if (response) FinishApi(std::move(*response));
}

void HttpServer::Impl::Conn::HandleAdmin(std::string_view path, std::string_view query) {
  if (server_->verifier_->enabled()) {
    SigV4Request sreq;
    sreq.method = req_.method;
    sreq.target = req_.target;
    sreq.headers = std::move(req_.headers);
    sreq.body = req_.body;
    SigV4Result auth = server_->verifier_->Verify(sreq);
    if (!auth.ok()) {
      LogDebug(kComponent,
               "rejected admin request from " + PeerAddress(peer_) + ": " + auth.message);
      return Finish(403, ErrorBody(auth.ErrorType(), auth.message), kJsonType, true);
    }
  }
  AdminRequest areq;
  areq.method = req_.method;
  areq.path = std::string(path);
  areq.params = ParseQuery(query);
  RunBlocking(
      [admin = &server_->options_.admin, areq = std::move(areq)] {
        AdminResponse answer = (*admin)(areq);
        ApiResponse response;
        response.http_status = answer.status;
        response.body = std::move(answer.body);
        return response;
      },
      false);
}

void HttpServer::Impl::Conn::RunBlocking(std::function<ApiResponse()> work, bool observe) {
  Loop* loop = loop_;
  uint32_t timeout_ms = server_->options_.http.request_timeout_ms;
  server_->blocking_->Submit(
      [this, loop, timeout_ms, observe, work = std::move(work)](Clock::duration waited) {
        ApiResponse response;
        if (waited > std::chrono::milliseconds(timeout_ms)) {
          response.http_status = 503;
          response.body = ErrorBody("com.amazonaws.dynamodb.v20120810#ServiceUnavailable",
                                    "The server is busy; the request did not start within " +
                                        std::to_string(timeout_ms) + " ms");
        } else {
          response = work();
        }
        loop->Post([this, observe, response = std::move(response)]() mutable {
          if (observe) return FinishApi(std::move(response));
          Finish(response.http_status, std::move(response.body), kJsonType, true);
        });
      });
}

void HttpServer::Impl::Conn::FinishApi(ApiResponse response) {
  int status = response.http_status;
  Observe(OutcomeOf(status, response.body), status);
  Finish(status, std::move(response.body), kJsonType, true);
}

void HttpServer::Impl::Conn::Observe(std::string_view outcome, int status) {
  if (server_->observer_ == nullptr && !LogEnabled(LogLevel::kDebug)) return;
  std::string_view operation = OperationOf(req_.amz_target);
  double seconds = std::chrono::duration<double>(Clock::now() - req_.start).count();
  if (server_->observer_ != nullptr) server_->observer_->OnRequest(operation, outcome, seconds);
  if (LogEnabled(LogLevel::kDebug)) {
    char took[32];
    std::snprintf(took, sizeof(took), "%.3f ms", seconds * 1000);
    LogDebug(kComponent, PeerAddress(peer_) + " " + std::string(operation) + " " +
                             std::to_string(status) + " " + std::string(outcome) + " " + took);
  }
}

// Sends the answer to the current request (state kProcessing) and moves on.
void HttpServer::Impl::Conn::Finish(int status, std::string body, std::string_view content_type,
                                    bool amz_headers) {
  if (destroyed_) {
    // The socket went away while the operation ran.
    state_ = State::kIdle;
    loop_->Bury(this);
    return;
  }
  ++served_;
  uint32_t max_count = server_->options_.http.keep_alive_max_count;
  closing_ = close_after_response_ || !req_.keep_alive || loop_->stopping() || peer_eof_ ||
             (max_count != 0 && served_ >= max_count);
  out_.clear();
  out_.reserve(256 + body.size());
  out_ += "HTTP/1.1 ";
  out_ += std::to_string(status);
  out_ += ' ';
  out_ += Reason(status);
  out_ += "\r\nContent-Type: ";
  out_ += content_type;
  out_ += "\r\nContent-Length: ";
  out_ += std::to_string(body.size());
  if (amz_headers) {
    uLong crc =
        crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    out_ += "\r\nx-amzn-RequestId: ";
    out_ += RequestId();
    out_ += "\r\nx-amz-crc32: ";
    out_ += std::to_string(crc);
  }
  if (closing_) {
    out_ += "\r\nConnection: close";
  } else if (req_.minor_version == 0) {
    out_ += "\r\nConnection: keep-alive";
  }
  out_ += "\r\n\r\n";
  out_ += body;
  if (!Write(out_)) return;
  AfterResponse();
}

bool HttpServer::Impl::Conn::Write(const std::string& data) {
  if (bev_ != nullptr) {
    bufferevent_write(bev_, data.data(), data.size());
    return true;
  }
  size_t done = 0;
  // With nothing queued the socket takes the answer directly: no write event
  // to register and remove for every response.
  if (woff_ == wbuf_.size()) {
    wbuf_.clear();
    woff_ = 0;
    ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      done = static_cast<size_t>(n);
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      state_ = State::kIdle;
      Destroy();
      return false;
    }
    if (done == data.size()) return true;
    // The write timeout: no progress for io_timeout closes the connection.
    event_add(write_ev_, loop_->io_timeout());
  }
  wbuf_.append(data, done, std::string::npos);
  return true;
}

void HttpServer::Impl::Conn::OnWritable(evutil_socket_t, short what, void* arg) {
  auto* self = static_cast<Conn*>(arg);
  if ((what & EV_TIMEOUT) != 0) {
    self->Destroy();
    return;
  }
  const std::string& buf = self->wbuf_;
  while (self->woff_ < buf.size()) {
    ssize_t n = send(self->fd_, buf.data() + self->woff_, buf.size() - self->woff_, MSG_NOSIGNAL);
    if (n > 0) {
      self->woff_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      event_add(self->write_ev_, self->loop_->io_timeout());  // progress: re-arm
      return;
    }
    self->Destroy();
    return;
  }
  self->wbuf_.clear();
  self->woff_ = 0;
  if (self->wbuf_.capacity() > 64 * 1024) self->wbuf_.shrink_to_fit();
  event_del(self->write_ev_);
  self->OnDrained();
}

void HttpServer::Impl::Conn::AfterResponse() {
  req_.body.clear();
  if (req_.body.capacity() > 64 * 1024) req_.body.shrink_to_fit();
  if (closing_) {
    state_ = State::kLingering;
    in_.clear();
    pos_ = 0;
    ResumeReading();
    if (PendingOutput() == 0) OnFlushed();
    return;
  }
  state_ = State::kIdle;
  ArmTimer(loop_->idle_timeout());
  // Pipelined requests that arrived meanwhile.
  if (!in_.empty()) {
    BeginRequest();
    ArmReadTimer();
  }
  if (in_advance_) return;
  if (state_ == State::kReading) Advance();
  if (destroyed_ || state_ == State::kProcessing || state_ == State::kLingering) return;
  // Idle, or a pipelined request is incomplete: either way, read on.
  ResumeReading();
  // TLS input left in the bufferevent while this request ran.
  if (bev_ != nullptr && evbuffer_get_length(bufferevent_get_input(bev_)) > 0 && Fill()) OnInput();
}

void HttpServer::Impl::Conn::OnTlsWrite(bufferevent*, void* arg) {
  static_cast<Conn*>(arg)->OnDrained();
}

// The last answer is out: shut the write side and read the client's rest
// until it closes, so that unread request bytes do not make the kernel reset
// the connection (which can destroy the answer before the client reads it).
void HttpServer::Impl::Conn::OnFlushed() {
  if (bev_ != nullptr || peer_eof_ || loop_->stopping()) {
    Destroy();
    return;
  }
  shutdown(fd_, SHUT_WR);
  ArmTimer(loop_->io_timeout());
}

void HttpServer::Impl::Conn::OnTlsEvent(bufferevent*, short what, void* arg) {
  auto* self = static_cast<Conn*>(arg);
  if ((what & BEV_EVENT_CONNECTED) != 0) return;  // handshake done
  if ((what & BEV_EVENT_EOF) != 0 && self->state_ == State::kProcessing) {
    // Half-closed by the client: still answer, then close.
    self->peer_eof_ = true;
    return;
  }
  // Otherwise whatever arrived was parsed already: an incomplete request is
  // abandoned with its connection.
  self->Destroy();
}

void HttpServer::Impl::Conn::OnTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Conn*>(arg);
  if (self->state_ == State::kIdle && self->PendingOutput() > 0) {
    // Still writing the last answer: the write timeout governs.
    self->ArmTimer(self->loop_->idle_timeout());
    return;
  }
  if (self->state_ == State::kReading &&
      (self->timer_at_read_deadline_ || Clock::now() >= self->read_deadline_)) {
    if (Clock::now() < self->read_deadline_) {
      // libevent schedules from the loop's cached time, which can lag the
      // clock by a callback's run: the timer fired early, not the deadline.
      self->ArmReadTimer();
      return;
    }
    // A client that trickles its request (a byte every few seconds re-arms
    // the io timeout) still cannot hold the connection past the deadline.
    self->Reject(408, "com.amazon.coral.service#RequestTimeoutException",
                 "the request did not arrive within http.request_read_timeout_ms (" +
                     std::to_string(self->server_->options_.http.request_read_timeout_ms) + " ms)");
    return;
  }
  self->Destroy();
}

// ---------------------------------------------------------------------------

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
Status HttpServer::Health() const { return impl_->Health(); }

}  // namespace keystone::daemon
