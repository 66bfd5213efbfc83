#include "tests/kafka_sink/kafka_test_util.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>
#include <thread>

#include "kafka_sink/event_position.h"

extern char** environ;

namespace keystone::kafka::testing {
namespace {

using Clock = std::chrono::steady_clock;

int MsLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1000));
}

std::optional<std::string> Unhex(std::string_view text) {
  if (text == "-") return std::nullopt;
  std::string out;
  for (size_t i = 1; i + 1 < text.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16));
  }
  return out;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace

// ---- Subprocess ----

Result<std::unique_ptr<Subprocess>> Subprocess::Spawn(const std::vector<std::string>& argv,
                                                      bool pipe_stdin, bool pipe_stdout) {
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<Subprocess> p(new Subprocess());
  int in[2] = {-1, -1}, out[2] = {-1, -1};
  if (pipe_stdin && pipe2(in, O_CLOEXEC) != 0) return IoError("pipe");
  if (pipe_stdout && pipe2(out, O_CLOEXEC) != 0) return IoError("pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (pipe_stdin) posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  if (pipe_stdout) posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int rc = posix_spawn(&p->pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (pipe_stdin) close(in[0]);
  if (pipe_stdout) close(out[1]);
  if (rc != 0) {
    if (pipe_stdin) close(in[1]);
    if (pipe_stdout) close(out[0]);
    return IoError("spawning " + argv[0] + ": " + std::strerror(rc));
  }
  p->stdin_fd_ = pipe_stdin ? in[1] : -1;
  p->stdout_fd_ = pipe_stdout ? out[0] : -1;
  return p;
}

Subprocess::~Subprocess() {
  CloseStdin();
  if (!Wait(milliseconds(10000)).ok()) {
    Kill(SIGKILL);
    Wait(milliseconds(10000)).IgnoreError();
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

Result<std::string> Subprocess::ReadLine(milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (Clock::now() >= deadline) return Unavailable("timed out reading from child");
    pollfd pfd{stdout_fd_, POLLIN, 0};
    int n = poll(&pfd, 1, std::max(1, MsLeft(deadline)));
    if (n <= 0) continue;
    char chunk[4096];
    ssize_t got = read(stdout_fd_, chunk, sizeof(chunk));
    if (got == 0) return IoError("child closed its output");
    if (got < 0) {
      if (errno == EINTR) continue;
      return IoError("read");
    }
    buffer_.append(chunk, static_cast<size_t>(got));
  }
}

Result<std::string> Subprocess::ReadAll(milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    if (Clock::now() >= deadline) return Unavailable("timed out reading from child");
    pollfd pfd{stdout_fd_, POLLIN, 0};
    int n = poll(&pfd, 1, std::max(1, MsLeft(deadline)));
    if (n <= 0) continue;
    char chunk[65536];
    ssize_t got = read(stdout_fd_, chunk, sizeof(chunk));
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      return IoError("read");
    }
    buffer_.append(chunk, static_cast<size_t>(got));
  }
  std::string all;
  all.swap(buffer_);
  return all;
}

Status Subprocess::WriteLine(const std::string& line) {
  std::string data = line + "\n";
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(stdin_fd_, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("writing to child");
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

void Subprocess::CloseStdin() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  stdin_fd_ = -1;
}

Result<int> Subprocess::Wait(milliseconds timeout) {
  if (exit_status_) return *exit_status_;
  Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return *exit_status_;
    }
    if (r < 0 && errno != EINTR) return IoError("waitpid");
    if (Clock::now() >= deadline) return Unavailable("child still running");
    // Polling a child's exit: there is no descriptor to wait on portably.
    std::this_thread::sleep_for(milliseconds(5));
  }
}

void Subprocess::Kill(int signal) {
  if (!exit_status_) kill(pid_, signal);
}

// ---- MockKafka ----

Result<std::unique_ptr<MockKafka>> MockKafka::Start(int brokers,
                                                    const std::vector<std::string>& topics) {
  std::vector<std::string> argv = {KEYSTONE_MOCK_KAFKA, "--brokers", std::to_string(brokers)};
  for (const std::string& t : topics) {
    argv.push_back("--topic");
    argv.push_back(t);
  }
  auto mock = std::make_unique<MockKafka>();
  KS_ASSIGN_OR_RETURN(mock->process_, Subprocess::Spawn(argv, true, true));
  KS_ASSIGN_OR_RETURN(mock->bootstrap_, mock->process_->ReadLine(milliseconds(20000)));
  if (mock->bootstrap_.find("127.0.0.1:") != 0) {
    return Internal("unexpected first line from keystone-mock-kafka: " + mock->bootstrap_);
  }
  return mock;
}

Status MockKafka::Command(const std::string& line) {
  KS_RETURN_IF_ERROR(process_->WriteLine(line));
  KS_ASSIGN_OR_RETURN(std::string reply, process_->ReadLine(milliseconds(10000)));
  if (reply == "OK") return Status::Ok();
  return Internal("mock command '" + line + "': " + reply);
}

// ---- consumers ----

std::optional<std::string> ConsumedMessage::Header(const std::string& name) const {
  std::optional<std::string> found;
  for (const auto& [n, v] : headers) {
    if (n == name) found = v;
  }
  return found;
}

Result<ConsumedMessage> ParseDumpLine(const std::string& line) {
  std::vector<std::string> f = Split(line, '\t');
  if ((f.size() != 6 && f.size() != 7) || f[0] != "M") return Internal("bad dump line: " + line);
  ConsumedMessage m;
  m.partition = std::stoi(f[1]);
  m.offset = std::stoll(f[2]);
  m.key = Unhex(f[3]);
  m.value = Unhex(f[4]);
  if (f[5] != "-") {
    for (const std::string& h : Split(f[5], ',')) {
      size_t eq = h.find('=');
      m.headers.emplace_back(h.substr(0, eq), Unhex(h.substr(eq + 1)).value_or(""));
    }
  }
  if (f.size() == 7) m.received_ns = std::stoll(f[6]);
  return m;
}

Result<std::vector<ConsumedMessage>> ConsumeWithPython(const std::string& bootstrap,
                                                       const std::string& topic,
                                                       milliseconds timeout) {
  KS_ASSIGN_OR_RETURN(auto child,
                      Subprocess::Spawn({KEYSTONE_PYTHON, KEYSTONE_DUMP_TOPIC_PY, bootstrap, topic,
                                         std::to_string(timeout.count() / 1000)},
                                        false, true));
  KS_ASSIGN_OR_RETURN(std::string out, child->ReadAll(timeout + milliseconds(10000)));
  KS_ASSIGN_OR_RETURN(int status, child->Wait(milliseconds(10000)));
  if (status != 0) return Internal("dump_topic.py exited with " + std::to_string(status));
  std::vector<ConsumedMessage> messages;
  bool ended = false;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("END ", 0) == 0) {
      ended = true;
      continue;
    }
    KS_ASSIGN_OR_RETURN(ConsumedMessage m, ParseDumpLine(line));
    messages.push_back(std::move(m));
  }
  if (!ended) return Internal("dump_topic.py output has no END line");
  return messages;
}

Result<std::vector<ConsumedMessage>> ConsumeWithKcat(const std::string& bootstrap,
                                                     const std::string& topic,
                                                     milliseconds timeout) {
  // %K / %S: key / value length, -1 for null.
  KS_ASSIGN_OR_RETURN(
      auto child, Subprocess::Spawn({KEYSTONE_KCAT, "-b", bootstrap, "-C", "-t", topic, "-o",
                                     "beginning", "-e", "-q", "-f", "%p\t%o\t%K\t%k\t%S\t%s\t%h\n"},
                                    false, true));
  auto out = child->ReadAll(timeout);
  if (!out.ok()) {
    child->Kill(SIGKILL);
    return out.status();
  }
  KS_ASSIGN_OR_RETURN(int status, child->Wait(milliseconds(10000)));
  if (status != 0) return Internal("kcat exited with " + std::to_string(status));
  std::vector<ConsumedMessage> messages;
  std::istringstream in(*out);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f = Split(line, '\t');
    if (f.size() != 7) return Internal("bad kcat line: " + line);
    ConsumedMessage m;
    m.partition = std::stoi(f[0]);
    m.offset = std::stoll(f[1]);
    if (f[2] != "-1") m.key = f[3];
    if (f[4] != "-1") m.value = f[5];
    if (!f[6].empty()) {
      for (const std::string& h : Split(f[6], ',')) {
        size_t eq = h.find('=');
        m.headers.emplace_back(h.substr(0, eq), eq == std::string::npos ? "" : h.substr(eq + 1));
      }
    }
    messages.push_back(std::move(m));
  }
  return messages;
}

// ---- events ----

std::string KeyFor(int key_id) { return R"({"pk":"user#)" + std::to_string(key_id) + R"("})"; }

std::vector<cdc::EncodedEvent> MakeStream(const std::string& topic, uint64_t first_seq,
                                          size_t count, int keys, size_t value_bytes) {
  std::vector<cdc::EncodedEvent> out;
  for (size_t i = 0; i < count; ++i) {
    uint64_t seq = first_seq + i;
    int key_id = static_cast<int>(seq % static_cast<uint64_t>(keys));
    bool remove = seq % 7 == 0;
    cdc::EncodedEvent e;
    e.topic = topic;
    e.key = KeyFor(key_id);
    std::string value =
        R"({"seq":)" + std::to_string(seq) + R"(,"op":")" + (remove ? "d" : "u") + R"(","pad":")";
    value += std::string(value_bytes > value.size() + 2 ? value_bytes - value.size() - 2 : 0, 'x');
    value += "\"}";
    e.value = value;
    e.headers = {{cdc::kHeaderOp, remove ? "d" : "u"},
                 {cdc::kHeaderTable, "users"},
                 {cdc::kHeaderSource, "test"}};
    e.sequence = seq;
    out.push_back(e);
    if (remove) {
      cdc::EncodedEvent t = e;
      t.value.reset();
      t.sub_index = 1;
      out.push_back(t);
    }
  }
  return out;
}

// ---- SourceEmulator ----

SourceEmulator::SourceEmulator(std::vector<cdc::EncodedEvent> events, size_t max_in_flight)
    : events_(std::move(events)), max_in_flight_(max_in_flight), done_(events_.size(), false) {}

void SourceEmulator::OnDelivered(uint64_t token, const Status& status) {
  auto it = tokens_.find(token);
  if (it == tokens_.end()) {
    ADD_FAILURE() << "report for unknown or already reported token " << token;
    return;
  }
  size_t index = it->second;
  tokens_.erase(it);
  if (status.ok()) {
    ++ok_reports_;
    done_[index] = true;
  } else if (status.code() == StatusCode::kUnavailable) {
    ++unavailable_reports_;
    rewind_ = true;
  } else {
    failures_[index] = status;
    done_[index] = true;
  }
  while (position_ < done_.size() && done_[position_]) ++position_;
}

void SourceEmulator::SendSome(cdc::EventSink& sink, Status* error) {
  if (rewind_) {
    next_ = std::min(next_, position_);
    rewind_ = false;
  }
  while (next_ < events_.size() && tokens_.size() < max_in_flight_) {
    cdc::EncodedEvent e = events_[next_];
    e.token = next_token_++;
    tokens_[e.token] = next_;
    Status s = sink.Send(std::move(e));
    if (!s.ok()) {
      tokens_.erase(next_token_ - 1);
      if (s.code() != StatusCode::kUnavailable) *error = s;
      return;
    }
    ++next_;
  }
}

Status SourceEmulator::Run(cdc::EventSink& sink, milliseconds timeout,
                           const std::function<void()>& between) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (position_ < events_.size() || !tokens_.empty()) {
    Status error;
    SendSome(sink, &error);
    KS_RETURN_IF_ERROR(error);
    sink.Poll(milliseconds(20));
    if (between) between();
    if (Clock::now() > deadline) {
      return Unavailable("source emulator timed out at position " + std::to_string(position_) +
                         " of " + std::to_string(events_.size()) + ", " +
                         std::to_string(tokens_.size()) + " outstanding");
    }
  }
  return Status::Ok();
}

Status SourceEmulator::RunUntil(cdc::EventSink& sink, const std::function<bool()>& done,
                                milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (!done()) {
    Status error;
    SendSome(sink, &error);
    KS_RETURN_IF_ERROR(error);
    sink.Poll(milliseconds(20));
    if (Clock::now() > deadline) return Unavailable("condition not reached in time");
  }
  return Status::Ok();
}

std::vector<cdc::EncodedEvent> Acked(const std::vector<cdc::EncodedEvent>& all,
                                     const SourceEmulator& source) {
  std::vector<cdc::EncodedEvent> out;
  for (size_t i = 0; i < all.size(); ++i) {
    if (source.acked(i)) out.push_back(all[i]);
  }
  return out;
}

// ---- checks ----

void ExpectTopicHolds(const std::vector<cdc::EncodedEvent>& expected,
                      const std::vector<ConsumedMessage>& got, bool exactly_once) {
  struct Seen {
    int count = 0;
    const ConsumedMessage* first = nullptr;
  };
  std::map<EventPosition, Seen> seen;
  std::map<std::string, int32_t> key_partition;
  std::vector<const ConsumedMessage*> ordered;
  for (const ConsumedMessage& m : got) ordered.push_back(&m);
  std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) {
    return std::tie(a->partition, a->offset) < std::tie(b->partition, b->offset);
  });
  std::map<std::string, std::vector<EventPosition>> per_key;
  for (const ConsumedMessage* m : ordered) {
    std::vector<HeaderView> views;
    for (const auto& [n, v] : m->headers) views.push_back({n, v});
    std::optional<EventPosition> pos = ParsePosition(views);
    if (!pos) {
      ADD_FAILURE() << "message without a position at " << m->partition << "/" << m->offset;
      continue;
    }
    Seen& s = seen[*pos];
    if (s.count++ == 0) s.first = m;
    std::string key = m->key.value_or("<null>");
    auto [it, inserted] = key_partition.emplace(key, m->partition);
    if (!inserted && it->second != m->partition) {
      ADD_FAILURE() << "key " << key << " in partitions " << it->second << " and " << m->partition;
    }
    per_key[key].push_back(*pos);
  }
  for (const auto& [key, positions] : per_key) {
    std::optional<EventPosition> max;
    std::set<EventPosition> before;
    for (const EventPosition& p : positions) {
      if (max && !(*max < p)) {
        if (exactly_once || !before.count(p)) {
          ADD_FAILURE() << "key " << key << ": " << p.ToString() << " after " << max->ToString();
          break;
        }
      }
      if (!max || *max < p) max = p;
      before.insert(p);
    }
  }
  size_t missing = 0, duplicated = 0;
  for (const cdc::EncodedEvent& e : expected) {
    auto it = seen.find(*PositionOf(e));
    if (it == seen.end()) {
      if (++missing <= 5) ADD_FAILURE() << "missing " << PositionOf(e)->ToString();
      continue;
    }
    const ConsumedMessage& m = *it->second.first;
    if (exactly_once && it->second.count != 1) {
      if (++duplicated <= 5) {
        ADD_FAILURE() << PositionOf(e)->ToString() << " present " << it->second.count << " times";
      }
    }
    EXPECT_EQ(e.key, m.key) << PositionOf(e)->ToString();
    EXPECT_EQ(e.value, m.value) << PositionOf(e)->ToString();
    for (const auto& [name, value] : e.headers) {
      EXPECT_EQ(value, m.Header(name).value_or("<absent>")) << name;
    }
    EXPECT_EQ(std::to_string(e.sequence), m.Header(cdc::kHeaderSequence).value_or("<absent>"));
  }
  EXPECT_EQ(0u, missing) << "of " << expected.size() << " expected events";
  EXPECT_EQ(0u, duplicated);
}

}  // namespace keystone::kafka::testing
