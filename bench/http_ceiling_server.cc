// http_ceiling_server: the cheapest HTTP/1.1 keep-alive server that
// http_bench can drive, as a yardstick for what the machine allows. It does
// no work: each complete request (headers plus Content-Length body) gets one
// fixed ~300-byte DynamoDB-shaped answer (it says "ACTIVE", so http_bench's
// table setup passes), written with one send. One epoll thread by default
// (on a 2-core machine shared with the generator, more threads only contend).
//
//   http_ceiling_server --port P [--threads N]
//
// Whatever rate http_bench reaches against it is an upper bound for any
// server on the same machine with the same generator: keystoned parses,
// looks up and encodes on top of the same recv and send. bench/http_bench.sh
// runs it beside keystoned and dynalite, so the bound and the ratio it allows
// are measured in the same run.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

std::string MakeAnswer() {
  std::string body =
      R"({"Table":{"TableName":"http_bench","TableStatus":"ACTIVE"},"Item":{"pk":{"S":"k00012345"},)"
      R"("n":{"N":"123456"},"pad":{"S":")" +
      std::string(200, 'x') + R"("}}})";
  return "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Length of the first complete request in `in`, or 0 while it is incomplete.
size_t CompleteRequestLength(std::string_view in) {
  size_t end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) return 0;
  size_t body = 0;
  std::string_view headers = in.substr(0, end);
  for (size_t pos = 0; pos < headers.size();) {
    size_t eol = headers.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = headers.size();
    std::string_view line = headers.substr(pos, eol - pos);
    constexpr std::string_view kLength = "content-length:";
    if (line.size() > kLength.size() &&
        strncasecmp(line.data(), kLength.data(), kLength.size()) == 0) {
      body = std::strtoul(std::string(line.substr(kLength.size())).c_str(), nullptr, 10);
    }
    pos = eol + 2;
  }
  size_t total = end + 4 + body;
  return in.size() >= total ? total : 0;
}

void Serve(int listener, const std::string& answer) {
  int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.fd = listener;
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  std::unordered_map<int, std::string> pending;  // partial requests by socket
  std::vector<epoll_event> events(256);
  std::vector<char> buf(1 << 16);
  for (;;) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        int conn = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
        if (conn < 0) continue;
        int one = 1;
        setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        epoll_event conn_ev{};
        conn_ev.events = EPOLLIN;
        conn_ev.data.fd = conn;
        epoll_ctl(ep, EPOLL_CTL_ADD, conn, &conn_ev);
        continue;
      }
      ssize_t got = recv(fd, buf.data(), buf.size(), 0);
      if (got <= 0) {
        pending.erase(fd);
        close(fd);
        continue;
      }
      std::string& in = pending[fd];
      in.append(buf.data(), static_cast<size_t>(got));
      size_t answers = 0;
      while (size_t length = CompleteRequestLength(in)) {
        in.erase(0, length);
        ++answers;
      }
      // The generator keeps one request outstanding per connection, so this
      // is one send of one answer; a small socket buffer never fills.
      for (size_t a = 0; a < answers; ++a) send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--port") {
      port = std::atoi(argv[i + 1]);
    } else if (flag == "--threads") {
      threads = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "http_ceiling_server: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (port <= 0 || port > 65535 || threads < 1) {
    std::fprintf(stderr, "usage: http_ceiling_server --port P [--threads N]\n");
    return 2;
  }
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener, 1024) != 0) {
    std::perror("http_ceiling_server: bind/listen");
    return 1;
  }
  const std::string answer = MakeAnswer();
  std::vector<std::thread> others;
  for (int t = 1; t < threads; ++t) others.emplace_back(Serve, listener, std::cref(answer));
  Serve(listener, answer);
}
