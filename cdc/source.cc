#include "cdc/source.h"

#include <algorithm>
#include <utility>

#include "base/check.h"
#include "base/log.h"
#include "base/thread_name.h"

namespace keystone::cdc {

using store::Item;
using store::StreamRecord;

namespace {

constexpr std::string_view kLog = "cdc";

}  // namespace

uint64_t Source::StreamOf(const Cursor& cursor) {
  return cursor.snapshot.active ? cursor.snapshot.stream_sequence : cursor.sequence;
}

void Source::SetStream(Cursor* cursor, uint64_t sequence) {
  if (cursor->snapshot.active) {
    cursor->snapshot.stream_sequence = sequence;
  } else {
    cursor->sequence = sequence;
  }
}

std::string_view SourceStateName(SourceState state) {
  switch (state) {
    case SourceState::kStarting:
      return "STARTING";
    case SourceState::kSnapshotting:
      return "SNAPSHOTTING";
    case SourceState::kStreaming:
      return "STREAMING";
    case SourceState::kPaused:
      return "PAUSED";
    case SourceState::kFailed:
      return "FAILED";
    case SourceState::kDone:
      return "DONE";
    case SourceState::kStopped:
      return "STOPPED";
  }
  return "UNKNOWN";
}

// ---------------------------------------------------------------------------
// Read-ahead.

// A thread that reads and encodes the batches after a position for the
// source thread (FillDirectBatch), up to kDepth batches ahead, with an
// encoder of its own, while the source thread sends the earlier ones. It
// goes on from batch to batch while each is full; a partial batch (caught
// up), an error, or a record the decoding path must handle ends the run, and
// the source reads inline again. Slots: the worker owns a kFilling slot; the
// source thread owns the front kDone slot until Pop.
class Source::ReadAhead {
 public:
  static constexpr size_t kDepth = 3;

  ReadAhead(store::ItemStore& store, const SourceOptions& options, uint64_t max_message_bytes,
            EncoderOptions encoder, Clock* clock)
      : store_(store),
        options_(options),
        max_message_bytes_(max_message_bytes),
        clock_(clock),
        encoder_(std::move(encoder)),
        thread_([this](std::stop_token stop) { Loop(stop); }) {}

  ~ReadAhead() {
    thread_.request_stop();
    thread_.join();
  }

  // Whether a run is on or left a batch to take.
  bool running() {
    std::lock_guard<std::mutex> lock(mu_);
    return running_ || slots_[front_].state == State::kDone;
  }

  // Starts a run after sequence `after` (dropping what an earlier one read),
  // `want` records a batch; the worker's encoder reuses the spares of
  // `spares`.
  void Start(uint64_t after, size_t want, Encoder& spares) {
    std::lock_guard<std::mutex> lock(mu_);
    DropLocked();
    spares.TakeSpares(&spares_);
    next_after_ = after;
    want_ = want;
    running_ = true;
    cv_.notify_all();
  }

  // Ends the run and drops what it read.
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    DropLocked();
  }

  // The front batch once ready, waiting up to `timeout` for it; nullptr when
  // it is not (or no run is on).
  DirectBatch* Front(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return slots_[front_].state == State::kDone || !running_; });
    return slots_[front_].state == State::kDone ? &slots_[front_].batch : nullptr;
  }

  // Done with the front batch; the spares of `spares` go to the worker.
  void Pop(Encoder& spares) {
    std::lock_guard<std::mutex> lock(mu_);
    slots_[front_].state = State::kFree;
    front_ = (front_ + 1) % kDepth;
    spares.TakeSpares(&spares_);
    cv_.notify_all();
  }

 private:
  enum class State { kFree, kFilling, kDone };
  struct Slot {
    State state = State::kFree;
    DirectBatch batch;
  };

  // Ends the run and frees the done slots; the slot being filled (always
  // slots_[fill_]) is freed by the worker, which sees the generation change.
  void DropLocked() {
    ++generation_;
    running_ = false;
    for (Slot& slot : slots_) {
      if (slot.state == State::kDone) slot.state = State::kFree;
    }
    if (slots_[fill_].state == State::kFilling) fill_ = (fill_ + 1) % kDepth;
    front_ = fill_;
  }

  void Loop(std::stop_token stop) {
    SetThreadName("read:" + options_.name);
    std::stop_callback wake(stop, [this] {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] {
        return stop.stop_requested() || (running_ && slots_[fill_].state == State::kFree);
      });
      if (stop.stop_requested()) return;
      Slot& slot = slots_[fill_];
      slot.state = State::kFilling;
      const uint64_t generation = generation_;
      slot.batch.after = next_after_;
      slot.batch.want = want_;
      // Swapped, not moved, so that both vectors keep their capacity.
      recycling_.swap(spares_);
      lock.unlock();
      for (EncodedEvent& spare : recycling_) encoder_.Recycle(std::move(spare));
      recycling_.clear();
      slot.batch.now_ms = clock_->NowMs();
      FillDirectBatch(store_, encoder_, options_, max_message_bytes_, &slot.batch);
      lock.lock();
      if (generation != generation_) {
        slot.state = State::kFree;  // a Start or Stop came meanwhile
        continue;
      }
      slot.state = State::kDone;
      fill_ = (fill_ + 1) % kDepth;
      const DirectBatch& b = slot.batch;
      bool full = b.status.ok() && b.error.ok() && b.read.records.size() == b.want &&
                  std::none_of(b.results.begin(), b.results.end(),
                               [](const auto& r) { return r.kind == DirectBatch::Kind::kDecode; });
      if (full) {
        next_after_ = b.read.records.back().sequence;
      } else {
        running_ = false;
      }
      cv_.notify_all();
    }
  }

  store::ItemStore& store_;
  const SourceOptions& options_;
  const uint64_t max_message_bytes_;
  Clock* clock_;
  Encoder encoder_;  // the worker's
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_ (a slot's batch: see the class comment).
  Slot slots_[kDepth];
  size_t front_ = 0;  // the next batch for the source thread
  size_t fill_ = 0;   // the slot the worker fills next, or fills now
  bool running_ = false;
  uint64_t generation_ = 0;
  uint64_t next_after_ = 0;
  size_t want_ = 0;
  std::vector<EncodedEvent> spares_;
  // The worker's: the spares it takes from spares_ and hands to its encoder.
  std::vector<EncodedEvent> recycling_;
  std::jthread thread_;
};

Source::Source(store::ItemStore& store, EventSink& sink, SourceOptions options,
               SourceRuntime runtime)
    : store_(store),
      sink_(sink),
      options_(std::move(options)),
      runtime_(std::move(runtime)),
      clock_(runtime_.clock != nullptr ? runtime_.clock : SystemClock::Default()) {
  if (options_.name.empty()) options_.name = options_.table;
  topic_ = ExpandTopic(options_.topic, options_.table, options_.name);
  status_.name = options_.name;
  status_.table = options_.table;
  status_.topic = topic_;
  status_.position.source = options_.name;
  status_.position.table = options_.table;
}

Source::~Source() { Stop(); }

// ---------------------------------------------------------------------------
// Threads and controls.

Status Source::Start() {
  if (thread_.joinable()) return FailedPrecondition("source " + options_.name + " already runs");
  thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
  return Status::Ok();
}

void Source::Stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  command_cv_.notify_all();
  thread_.join();
}

Status Source::Enqueue(Command command) {
  {
    std::lock_guard<std::mutex> lock(command_mu_);
    commands_.push_back(command);
  }
  command_cv_.notify_all();
  return Status::Ok();
}

Status Source::Pause() { return Enqueue({CommandType::kPause}); }
Status Source::Resume() { return Enqueue({CommandType::kResume}); }
Status Source::Reset() { return Enqueue({CommandType::kReset}); }

Status Source::SetPosition(uint64_t sequence) {
  KS_ASSIGN_OR_RETURN(uint64_t head, store_.HeadSequence());
  if (sequence > head) {
    return InvalidArgument("position " + std::to_string(sequence) +
                           " is beyond the store's newest sequence number " + std::to_string(head));
  }
  return Enqueue({CommandType::kSetPosition, sequence});
}

Status Source::TriggerSnapshot() {
  if (options_.aggregate) {
    return FailedPrecondition("source " + options_.name +
                              " publishes aggregates; it takes no "
                              "snapshots");
  }
  return Enqueue({CommandType::kTriggerSnapshot});
}

void Source::ApplyCommands() {
  std::vector<Command> commands;
  {
    std::lock_guard<std::mutex> lock(command_mu_);
    commands.swap(commands_);
  }
  for (const Command& command : commands) {
    switch (command.type) {
      case CommandType::kPause:
        paused_ = true;
        LogInfo(kLog, "source " + options_.name + " paused");
        break;
      case CommandType::kResume:
        paused_ = false;
        if (failed_) {
          LogInfo(kLog, "source " + options_.name + " resumed after failure: " +
                            failure_.ToString() + "; replaying from its position");
          failed_ = false;
          failure_ = Status::Ok();
          if (initialized_) Rewind("resumed after a failure");
        } else {
          LogInfo(kLog, "source " + options_.name + " resumed");
        }
        break;
      case CommandType::kReset: {
        DiscardInFlight();
        Status s = DeleteCdcPosition(store_, options_.name);
        if (!s.ok()) {
          Fail(s.WithContext("resetting the position"));
          break;
        }
        LogWarn(kLog, "source " + options_.name + " reset: its position was deleted");
        failed_ = false;
        failure_ = Status::Ok();
        done_ = false;
        initialized_ = false;
        saved_valid_ = false;
        snapshot_request_.reset();
        break;
      }
      case CommandType::kSetPosition:
        DiscardInFlight();
        failed_ = false;
        failure_ = Status::Ok();
        snapshot_request_.reset();
        acked_ = Cursor{command.sequence, {}};
        read_ = acked_;
        LogWarn(kLog,
                "source " + options_.name + " position set to " + std::to_string(command.sequence));
        saved_valid_ = false;
        MaybeSave(true);
        PublishPosition();
        break;
      case CommandType::kTriggerSnapshot:
        if (failed_) {
          DiscardInFlight();
          read_ = acked_;
          failed_ = false;
          failure_ = Status::Ok();
        }
        snapshot_request_ = SnapshotReason::kTriggered;
        done_ = false;
        LogInfo(kLog, "source " + options_.name + ": snapshot requested");
        break;
    }
  }
}

// ---------------------------------------------------------------------------
// The loop.

Status Source::PollOnce() {
  Step();
  return failed_ ? failure_ : Status::Ok();
}

void Source::Run(std::stop_token stop) {
  SetThreadName("src:" + options_.name);
  read_ahead_enabled_ = runtime_.read_ahead;
  std::stop_callback wake(stop, [this] {
    std::lock_guard<std::mutex> lock(command_mu_);
    command_cv_.notify_all();
  });
  while (!stop.stop_requested()) {
    Outcome outcome = Step();
    if (outcome != Outcome::kContinue) Wait(outcome, stop);
  }
  Shutdown();
}

void Source::Wait(Outcome outcome, const std::stop_token& stop) {
  // Wait for the earliest timer the next step can act on; a deadline that is
  // due but blocked (e.g. a heartbeat while acks are outstanding) must not
  // shorten the wait, or the loop would spin.
  int64_t wait_ms = runtime_.idle_wait_ms;
  int64_t now = NowMs();
  auto until = [&](int64_t deadline) {
    wait_ms = std::min(wait_ms, std::max<int64_t>(1, deadline - now));
  };
  bool active = initialized_ && !failed_ && !done_ && !paused_;
  if (active && !pending_.empty() && !sink_full_ && batch_started_ms_ >= 0) {
    until(batch_started_ms_ + options_.batch_timeout_ms);
  }
  if (active && options_.heartbeat_interval_ms > 0 && caught_up_ && entries_.empty()) {
    until(last_activity_ms_ + options_.heartbeat_interval_ms);
  }
  if (active && aggregator_ && aggregator_->has_open_window() && caught_up_) {
    until(aggregator_->open_window_end_ms());
  }
  auto ms = std::chrono::milliseconds(wait_ms);
  switch (outcome) {
    case Outcome::kContinue:
      return;
    case Outcome::kWaitDeliveries:
      sink_.Poll(ms);
      return;
    case Outcome::kWaitReadAhead:
      // The next batch is a batch's encoding away; serve what acks there are
      // meanwhile.
      sink_.Poll(std::chrono::milliseconds(0));
      read_ahead_->Front(std::min(ms, std::chrono::milliseconds(1)));
      return;
    case Outcome::kWaitRecords: {
      const uint64_t head = std::max(head_seen_, StreamOf(read_));
      if (entries_.empty()) {
        store_.WaitForSequence(head, ms);
        return;
      }
      // Acks and new records both matter. A commit wakes the wait at once
      // (waiting on the sink instead kept new records until the next ack, up
      // to linger.ms); acks are served every millisecond.
      auto until = std::chrono::steady_clock::now() + ms;
      while (store_.WaitForSequence(head, std::chrono::milliseconds(1)) <= head) {
        sink_.Poll(std::chrono::milliseconds(0));
        if (entries_.empty() || std::chrono::steady_clock::now() >= until) return;
      }
      return;
    }
    case Outcome::kIdle: {
      if (sink_started_ && !entries_.empty()) {
        // Paused or failed with events outstanding: their acks still move
        // the position.
        sink_.Poll(ms);
        return;
      }
      std::unique_lock<std::mutex> lock(command_mu_);
      command_cv_.wait_for(lock, ms, [&] { return !commands_.empty() || stop.stop_requested(); });
      return;
    }
  }
}

void Source::Shutdown() {
  if (sink_started_) {
    if (!failed_ && !pending_.empty()) SendPending();
    Status flushed = sink_.Flush(std::chrono::milliseconds(runtime_.shutdown_flush_ms));
    if (!flushed.ok()) {
      LogWarn(kLog, "source " + options_.name + ": stopping with events unacknowledged (" +
                        flushed.ToString() + "); they will be sent again after restart");
    }
  }
  if (initialized_) MaybeSave(true);
  stopped_ = true;
  Publish();
}

Source::Outcome Source::Step() {
  ApplyCommands();
  if (!initialized_ && !failed_) {
    Status s = Initialize();
    if (s.code() == StatusCode::kUnavailable) {
      // Transient (e.g. the sink cannot connect yet): try again next step.
      LogWarn(kLog, "source " + options_.name + " cannot start yet: " + s.ToString());
    } else if (!s.ok()) {
      Fail(s);
    }
  }
  if (sink_started_) sink_.Poll(std::chrono::milliseconds(0));
  if (rewind_pending_ && !failed_) Rewind("the sink was reset (kUnavailable)");
  Outcome outcome = Outcome::kIdle;
  if (initialized_ && !failed_ && !done_ && !paused_) {
    // Retry what the sink refused; a partial batch waits for its timeout.
    if (sink_full_) SendPending();
    if (sink_full_) {
      outcome = Outcome::kWaitDeliveries;
    } else if (!failed_) {
      outcome = Work();
    }
    if (!failed_ && aggregator_ && aggregator_->has_open_window() && caught_up_) {
      if (auto window = aggregator_->CloseIfDue(NowMs())) {
        CloseWindow(std::move(*window), *window_cursor_);
        window_cursor_.reset();
        FlushBatch(true);
      }
    }
    if (!failed_) MaybeHeartbeat();
    if (!failed_) FlushBatch(false);
    if (sink_full_ && outcome == Outcome::kContinue) outcome = Outcome::kWaitDeliveries;
  }
  if (initialized_) {
    MaybeSave(false);
    RefreshLag();
  }
  Publish();
  return outcome;
}

Status Source::Initialize() {
  if (options_.table.empty()) return InvalidArgument("source " + options_.name + " names no table");
  auto description = store_.DescribeTable(options_.table);
  if (!description.ok()) {
    return description.status().WithContext("source " + options_.name + ": table " +
                                            options_.table);
  }
  schema_ = description->schema;
  auto info = store_.GetStreamInfo(options_.table);
  if (!info.ok() && info.status().code() != StatusCode::kNotFound) return info.status();
  // A table whose stream was never enabled has stream info but no stream.
  has_stream_ = info.ok() && (info->enabled || info->stream_label_ms != 0);
  if (has_stream_ && !info->enabled) {
    LogWarn(kLog, "source " + options_.name + ": the stream of table " + options_.table +
                      " is disabled; only records already in it will be published, and a "
                      "snapshot cannot see changes made meanwhile");
  }
  table_view_ = has_stream_ ? info->view_type : store::StreamViewType::kNewAndOldImages;
  if (!has_stream_ && options_.snapshot != SnapshotMode::kInitialOnly) {
    return FailedPrecondition("source " + options_.name + ": table " + options_.table +
                              " has no stream (enable it, or use snapshot: initial_only)");
  }
  if (options_.aggregate && options_.snapshot == SnapshotMode::kInitialOnly) {
    return InvalidArgument("source " + options_.name +
                           ": aggregate sources take no snapshots; snapshot: initial_only "
                           "would publish nothing");
  }
  auto filter = EventFilter::Create(options_.filters, schema_);
  if (!filter.ok()) return filter.status().WithContext("source " + options_.name);
  filter_ = std::move(filter).value();
  auto transforms = TransformChain::Create(options_.transforms, schema_);
  if (!transforms.ok()) return transforms.status().WithContext("source " + options_.name);
  transforms_ = std::move(transforms).value();
  EncoderOptions encoder;
  encoder.format = options_.format;
  encoder.debezium_schema = options_.debezium_schema;
  encoder.tombstones = options_.tombstones;
  encoder.source = options_.name;
  encoder.table = options_.table;
  encoder.topic = topic_;
  encoder.db = runtime_.db;
  encoder.region = runtime_.region;
  encoder_.emplace(std::move(encoder));
  if (options_.aggregate) {
    aggregator_.emplace(*options_.aggregate);
  } else {
    aggregator_.reset();
  }
  direct_ = filter_->PassesAll() && transforms_.empty() && !aggregator_;
  if (!sink_started_) {
    Status s = sink_.Start(this, {topic_});
    if (!s.ok()) return s.WithContext("source " + options_.name + ": starting the sink");
    sink_started_ = true;
  }

  KS_ASSIGN_OR_RETURN(std::optional<CdcPosition> stored, LoadCdcPosition(store_, options_.name));
  if (stored && stored->table != options_.table) {
    return FailedPrecondition("source " + options_.name +
                              ": its stored position belongs to table " + stored->table + ", not " +
                              options_.table + " (reset the source to start over)");
  }
  high_water_key_.reset();
  read_to_end_ = false;
  high_water_dirty_ = false;
  if (stored) {
    high_water_key_ = stored->snapshot.high_water_key;
    read_to_end_ = stored->snapshot.read_to_end;
    stored->snapshot.high_water_key.reset();
    stored->snapshot.read_to_end = false;
    acked_ = Cursor{stored->sequence, stored->snapshot};
    saved_ = acked_;
    saved_valid_ = true;
    LogInfo(kLog,
            "source " + options_.name + " resumes after sequence " +
                std::to_string(acked_.sequence) +
                (acked_.snapshot.active ? " (snapshot in progress, " +
                                              std::to_string(acked_.snapshot.items) + " items done)"
                                        : ""));
  } else {
    acked_ = Cursor{};
    SnapshotMode mode = options_.aggregate ? SnapshotMode::kNever : options_.snapshot;
    // A stream that holds the table's whole history replays every change,
    // not only each item's final state: a snapshot would add nothing and
    // fold the versions written while it runs.
    bool whole_history = has_stream_ && info->holds_whole_history &&
                         (mode == SnapshotMode::kInitial || mode == SnapshotMode::kWhenNeeded);
    if (whole_history) {
      LogInfo(kLog, "source " + options_.name + ": the stream of table " + options_.table +
                        " holds its whole history; streaming from its start, no snapshot");
    }
    if (mode == SnapshotMode::kNever || whole_history) {
      // Stream only, from the oldest retained record of this incarnation of
      // the table (not a deleted predecessor's).
      acked_.sequence = has_stream_ ? std::max(info->trimmed_through, info->created_sequence) : 0;
      saved_valid_ = false;
      MaybeSave(true);
    } else {
      snapshot_request_ = SnapshotReason::kInitial;
    }
  }
  read_ = acked_;
  SetRecovery();
  last_activity_ms_ = NowMs();
  last_save_ms_ = NowMs();
  initialized_ = true;
  PublishPosition();
  return Status::Ok();
}

Source::Outcome Source::Work() {
  if (snapshot_request_) {
    if (!entries_.empty()) {
      FlushBatch(true);
      return Outcome::kWaitDeliveries;
    }
    Status s = BeginSnapshot(*snapshot_request_);
    if (!s.ok()) {
      Fail(s);
      return Outcome::kIdle;
    }
  }
  if (read_.snapshot.active) return SnapshotWork();
  if (options_.snapshot == SnapshotMode::kInitialOnly) {
    // The snapshot is complete: done once every event of it is acknowledged.
    if (!entries_.empty()) {
      FlushBatch(true);
      return Outcome::kWaitDeliveries;
    }
    if (!done_) {
      done_ = true;
      MaybeSave(true);
      LogInfo(kLog, "source " + options_.name + ": initial_only snapshot complete; done");
    }
    return Outcome::kIdle;
  }
  return StreamWork();
}

size_t Source::Budget() const {
  if (in_flight_records_ >= options_.max_in_flight_records ||
      in_flight_bytes_ >= options_.max_in_flight_bytes) {
    return 0;
  }
  return static_cast<size_t>(options_.max_in_flight_records - in_flight_records_);
}

Source::Outcome Source::StreamWork() {
  size_t budget = Budget();
  if (budget == 0) {
    FlushBatch(true);
    return Outcome::kWaitDeliveries;
  }
  if (direct_ && read_ahead_ && read_ahead_->running()) {
    DirectBatch* ahead = read_ahead_->Front(std::chrono::milliseconds(0));
    if (ahead == nullptr) return Outcome::kWaitReadAhead;
    // Read for where the source stands (no rewind, reset or new position
    // since): publish it; else the run is dropped and reading goes inline.
    if (ahead->after == read_.sequence && !read_.snapshot.active) {
      Outcome outcome = ApplyDirectBatch(*ahead);
      read_ahead_->Pop(*encoder_);
      // A batch not wholly published (the byte cap, a failure, the end of
      // the stream) ends the run: what follows is read from the position.
      if (outcome != Outcome::kContinue) read_ahead_->Stop();
      return outcome;
    }
    read_ahead_->Stop();
  }
  size_t batch = std::max<size_t>(1, options_.batch_size);
  size_t want = std::min(budget, batch > pending_.size() ? batch - pending_.size() : 1);
  if (direct_) {
    direct_batch_.after = read_.sequence;
    direct_batch_.want = want;
    // One envelope time (ts_ms) for the batch: the clock is read once.
    direct_batch_.now_ms = NowMs();
    FillDirectBatch(store_, *encoder_, options_, runtime_.max_message_bytes, &direct_batch_);
    Outcome outcome = ApplyDirectBatch(direct_batch_);
    MaybeReadAhead(outcome);
    return outcome;
  }
  // Across incarnations: a table deleted (and recreated) while the source is
  // behind still has its tail, down to the deletion's TRUNCATE, published.
  auto read = store_.ReadTableHistory(options_.table, read_.sequence, want);
  if (!read.ok()) {
    if (read.status().code() == StatusCode::kTrimmed) return HandleGap(read.status());
    Fail(read.status().WithContext("reading the stream of table " + options_.table));
    return Outcome::kIdle;
  }
  head_seen_ = std::max(head_seen_, read->head_sequence);
  size_t count = read->records.size();
  size_t processed = 0;
  // The byte cap stops processing mid-batch; the rest is read again later.
  for (; processed < count && in_flight_bytes_ < options_.max_in_flight_bytes && !failed_;
       ++processed) {
    ProcessRecord(std::move(read->records[processed]), nullptr);
  }
  stats_.records_read.fetch_add(processed, std::memory_order_relaxed);
  return AfterBatch(processed, count, want, read->head_sequence);
}

Source::Outcome Source::AfterBatch(size_t processed, size_t count, size_t want, uint64_t head) {
  if (failed_) return Outcome::kIdle;
  if (processed < count) {
    FlushBatch(true);
    return Outcome::kWaitDeliveries;
  }
  if (count < want) {
    // Caught up: no record of this table up to the head the read saw.
    caught_up_ = true;
    if (head > read_.sequence) {
      Cursor cursor = read_;
      cursor.sequence = head;
      AdvanceRead(cursor);
    }
    return Outcome::kWaitRecords;
  }
  caught_up_ = false;
  return Outcome::kContinue;
}

void Source::FillDirectBatch(store::ItemStore& store, Encoder& encoder,
                             const SourceOptions& options, uint64_t max_message_bytes,
                             DirectBatch* batch) {
  batch->results.clear();
  batch->events.clear();
  batch->error = Status::Ok();
  // Across incarnations, as ReadTableHistory.
  batch->status =
      store.ReadTableHistoryEncoded(options.table, batch->after, batch->want, &batch->read);
  if (!batch->status.ok()) return;
  for (const store::EncodedStreamRecord& record : batch->read.records) {
    PublishedView view =
        NarrowedView(record.view_type, record.new_image.has_value(), record.old_image.has_value(),
                     options.view_type, options.include_before);
    // Encodings are canonical: equal items have equal bytes (IsNoopUpdate).
    if (options.skip_noop_updates && record.type == store::StreamEventType::kModify &&
        view.old_image && view.new_image && *record.old_image == *record.new_image) {
      batch->results.push_back({DirectBatch::Kind::kFiltered, 0, 0});
      continue;
    }
    size_t first = batch->events.size();
    Status s = encoder.EncodeRecord(record, view, batch->now_ms, &batch->events);
    if (!s.ok()) {
      batch->error = s;
      return;
    }
    bool oversize = false;
    uint64_t bytes = 0;
    for (size_t i = first; i < batch->events.size(); ++i) {
      size_t size = batch->events[i].ByteSize();
      oversize |= max_message_bytes != 0 && size > max_message_bytes;
      bytes += size;
    }
    if (oversize) {
      // Rare: the oversize policy works on the decoded change.
      batch->events.resize(first);
      batch->results.push_back({DirectBatch::Kind::kDecode, 0, 0});
      continue;
    }
    batch->results.push_back(
        {DirectBatch::Kind::kEvents, static_cast<uint32_t>(batch->events.size() - first), bytes});
  }
}

Source::Outcome Source::ApplyDirectBatch(DirectBatch& batch) {
  if (!batch.status.ok()) {
    if (batch.status.code() == StatusCode::kTrimmed) return HandleGap(batch.status);
    Fail(batch.status.WithContext("reading the stream of table " + options_.table));
    return Outcome::kIdle;
  }
  const std::vector<store::EncodedStreamRecord>& records = batch.read.records;
  head_seen_ = std::max(head_seen_, batch.read.head_sequence);
  // No snapshot runs (StreamWork's precondition): the cursors are sequences.
  KS_CHECK(!read_.snapshot.active);
  const bool plain = read_.snapshot == SnapshotProgress{};
  size_t processed = 0, next_event = 0;
  // The caps stop processing mid-batch (a read-ahead batch was read without
  // looking at them); the rest is read again later.
  for (; processed < records.size() && in_flight_bytes_ < options_.max_in_flight_bytes &&
         in_flight_records_ < options_.max_in_flight_records && !failed_;
       ++processed) {
    const store::EncodedStreamRecord& record = records[processed];
    if (processed == batch.results.size()) {
      Fail(batch.error.WithContext("source " + options_.name));
      break;
    }
    const DirectBatch::Result& result = batch.results[processed];
    // (Copied only off the common path: a cursor holds a SnapshotProgress.)
    auto after_record = [&] {
      Cursor after = read_;
      SetStream(&after, record.sequence);
      return after;
    };
    switch (result.kind) {
      case DirectBatch::Kind::kFiltered:
        stats_.events_filtered.fetch_add(1, std::memory_order_relaxed);
        AdvanceRead(after_record());
        break;
      case DirectBatch::Kind::kDecode: {
        store::StreamRecord decoded;
        Status s = store::DecodeStreamRecord(record, &decoded);
        if (!s.ok()) {
          Fail(s.WithContext("source " + options_.name));
          break;
        }
        decoded.table = options_.table;
        ProcessRecord(std::move(decoded), nullptr);
        break;
      }
      case DirectBatch::Kind::kEvents: {
        std::span<EncodedEvent> events(batch.events.data() + next_event, result.events);
        next_event += result.events;
        if (plain) {
          TrackStreamed(events, record.sequence, record.timestamp_ms, result.bytes);
          read_.sequence = record.sequence;
        } else {
          Cursor after = after_record();
          Track(events, after, record.timestamp_ms);
          read_ = after;
        }
        if (!events.empty()) MarkChange(record.sequence);
        break;
      }
    }
  }
  stats_.records_read.fetch_add(processed, std::memory_order_relaxed);
  return AfterBatch(processed, records.size(), batch.want, batch.read.head_sequence);
}

void Source::MaybeReadAhead(Outcome outcome) {
  // A full batch was published: the stream likely holds more.
  if (!read_ahead_enabled_ || outcome != Outcome::kContinue || failed_) return;
  if (!read_ahead_) {
    read_ahead_ = std::make_unique<ReadAhead>(store_, options_, runtime_.max_message_bytes,
                                              encoder_->options(), clock_);
  }
  read_ahead_->Start(read_.sequence, std::max<uint32_t>(1, options_.batch_size), *encoder_);
}

Status Source::BeginSnapshot(SnapshotReason reason) {
  KS_CHECK(entries_.empty());
  KS_ASSIGN_OR_RETURN(uint64_t head, store_.HeadSequence());
  // With no key snapshotted yet, every record up to the head is reflected by
  // the chunks still to read (all read at or after the head): the snapshot's
  // stream cursor starts there. The position's sequence stays (and pins the
  // stream the catch-ups will need) until the snapshot completes.
  Cursor start;
  start.sequence = acked_.sequence;
  start.snapshot.active = true;
  start.snapshot.reason = reason;
  start.snapshot.stream_sequence = std::max(head, acked_.sequence);
  start.snapshot.chunk_sequence = start.snapshot.stream_sequence;
  start.snapshot.started_ms = NowMs();
  acked_ = start;
  read_ = start;
  chunk_.reset();
  snapshot_request_.reset();
  high_water_key_.reset();
  read_to_end_ = false;
  high_water_dirty_ = false;
  recovery_.reset();
  stats_.snapshots_started.fetch_add(1, std::memory_order_relaxed);
  LogInfo(kLog, "source " + options_.name + ": snapshot of table " + options_.table + " started (" +
                    std::string(SnapshotReasonName(reason)) + ") at sequence " +
                    std::to_string(start.snapshot.stream_sequence));
  MaybeSave(true);
  PublishPosition();
  return Status::Ok();
}

Source::Outcome Source::SnapshotWork() {
  if (!chunk_) {
    size_t budget = Budget();
    if (budget == 0) {
      FlushBatch(true);
      return Outcome::kWaitDeliveries;
    }
    size_t n = std::min<size_t>(std::max<uint32_t>(1, options_.snapshot_chunk_size), budget);
    auto chunk = store_.ReadSnapshotChunk(options_.table, read_.snapshot.last_key, n);
    ChunkState state;
    if (chunk.ok()) {
      state.chunk = std::move(chunk).value();
    } else if (chunk.status().code() == StatusCode::kNotFound && has_stream_) {
      // The table was deleted: no items remain. Catch up through its stream's
      // end (the truncate record included), then the snapshot is complete.
      auto info = store_.GetStreamInfo(options_.table);
      if (!info.ok()) {
        Fail(info.status().WithContext("snapshot of deleted table " + options_.table));
        return Outcome::kIdle;
      }
      state.chunk.sequence = std::max(info->latest_sequence, StreamOf(read_));
      LogWarn(kLog, "source " + options_.name + ": table " + options_.table +
                        " was deleted during its snapshot");
    } else {
      Fail(chunk.status().WithContext("snapshot of table " + options_.table));
      return Outcome::kIdle;
    }
    state.read_ms = NowMs();
    if (read_.snapshot.last_key) {
      state.limit = OrderedKey(*read_.snapshot.last_key, schema_);
      if (!state.limit) {
        Fail(Internal("source " + options_.name + ": the snapshot's last key " +
                      store::ItemDebugString(*read_.snapshot.last_key) +
                      " does not match the key schema of table " + options_.table));
        return Outcome::kIdle;
      }
    }
    chunk_ = std::move(state);
    // The chunk's items may reach the destination once sent: record how far
    // chunks were read before sending any (stored below).
    if (chunk_->chunk.last_key) {
      high_water_key_ = chunk_->chunk.last_key;
    } else {
      read_to_end_ = true;
    }
    high_water_dirty_ = true;
    if ((!chunk_->limit && !recovery_) || !has_stream_) {
      // Nothing snapshotted yet (or no stream): no record to catch up with.
      Cursor after = read_;
      SetStream(&after, std::max(StreamOf(read_), chunk_->chunk.sequence));
      AdvanceRead(after);
    }
  }

  if (StreamOf(read_) < chunk_->chunk.sequence) {
    // Catch up: the records after the previous chunk's sequence through this
    // chunk's, for keys already snapshotted.
    size_t budget = Budget();
    if (budget == 0) {
      FlushBatch(true);
      return Outcome::kWaitDeliveries;
    }
    size_t want = std::min<size_t>(std::max<uint32_t>(1, options_.batch_size), budget);
    auto read = store_.ReadStream(options_.table, StreamOf(read_), want);
    if (!read.ok()) {
      if (read.status().code() == StatusCode::kTrimmed) return HandleGap(read.status());
      Fail(read.status().WithContext("reading the stream of table " + options_.table));
      return Outcome::kIdle;
    }
    head_seen_ = std::max(head_seen_, read->head_sequence);
    size_t processed = 0;
    bool capped = false;
    for (StreamRecord& record : read->records) {
      if (record.sequence > chunk_->chunk.sequence) break;
      if (in_flight_bytes_ >= options_.max_in_flight_bytes) {
        capped = true;
        break;
      }
      ProcessRecord(std::move(record), &chunk_->limit);
      ++processed;
    }
    stats_.records_read.fetch_add(processed, std::memory_order_relaxed);
    if (capped) {
      FlushBatch(true);
      return Outcome::kWaitDeliveries;
    }
    if (processed < want) {
      // Every record through the chunk's sequence is handled.
      Cursor after = read_;
      SetStream(&after, chunk_->chunk.sequence);
      AdvanceRead(after);
    }
    return Outcome::kContinue;
  }

  if (high_water_dirty_) {
    if (!MaybeSave(true)) return Outcome::kWaitDeliveries;  // retried; nothing sent yet
    high_water_dirty_ = false;
  }
  std::vector<Item>& items = chunk_->chunk.items;
  const bool final_chunk = !chunk_->chunk.last_key.has_value();
  while (chunk_->next < items.size()) {
    if (Budget() == 0) {
      FlushBatch(true);
      return Outcome::kWaitDeliveries;
    }
    Item& item = items[chunk_->next];
    Item keys = KeyOf(item, schema_);
    uint64_t ordinal = read_.snapshot.items;
    bool last = final_chunk && chunk_->next + 1 == items.size();
    Cursor after = read_;
    after.snapshot.stream_sequence = chunk_->chunk.sequence;
    after.snapshot.last_key = keys;
    after.snapshot.chunk_sequence = chunk_->chunk.sequence;
    after.snapshot.items = ordinal + 1;
    ChangeEvent change =
        ChangeFromSnapshotItem(std::move(item), std::move(keys), table_view_,
                               chunk_->chunk.sequence, chunk_->read_ms, ordinal, last);
    stats_.snapshot_items.fetch_add(1, std::memory_order_relaxed);
    ++chunk_->next;
    Emit(std::move(change), after);
  }
  uint64_t chunk_sequence = chunk_->chunk.sequence;
  chunk_.reset();
  if (final_chunk) {
    Cursor done = read_;
    done.sequence = std::max(StreamOf(read_), chunk_sequence);
    done.snapshot = SnapshotProgress{};
    AdvanceRead(done);
    stats_.snapshots_completed.fetch_add(1, std::memory_order_relaxed);
    LogInfo(kLog, "source " + options_.name + ": snapshot of table " + options_.table +
                      " read; streaming after sequence " + std::to_string(done.sequence));
  }
  FlushBatch(true);
  return Outcome::kContinue;
}

Source::Outcome Source::HandleGap(const Status& trimmed) {
  stats_.gaps.fetch_add(1, std::memory_order_relaxed);
  auto info = store_.GetStreamInfo(options_.table);
  if (!info.ok()) {
    Fail(info.status().WithContext("after a stream gap"));
    return Outcome::kIdle;
  }
  uint64_t after = StreamOf(read_);
  uint64_t through = std::max(info->trimmed_through, after);
  GapPolicy policy = options_.on_gap;
  if (options_.snapshot == SnapshotMode::kWhenNeeded) policy = GapPolicy::kResnapshot;
  if (aggregator_ && policy == GapPolicy::kResnapshot) policy = GapPolicy::kSkip;
  last_gap_ = "records after sequence " + std::to_string(after) + " through " +
              std::to_string(through) + " were trimmed before source " + options_.name +
              " published them; policy " + std::string(GapPolicyName(policy));
  LogError(kLog, "stream gap in table " + options_.table + ": " + last_gap_);
  switch (policy) {
    case GapPolicy::kFail:
      Fail(Trimmed("source " + options_.name + ": " + last_gap_ + " (" + trimmed.message() + ")"));
      return Outcome::kIdle;
    case GapPolicy::kResnapshot:
      chunk_.reset();
      snapshot_request_ = SnapshotReason::kGap;
      return Outcome::kContinue;
    case GapPolicy::kSkip: {
      if (aggregator_ && aggregator_->has_open_window()) {
        // Publish what was counted before the gap; the marker follows it.
        auto window = aggregator_->CloseIfDue(INT64_MAX);
        CloseWindow(std::move(*window), *window_cursor_);
        window_cursor_.reset();
      }
      Cursor next = read_;
      SetStream(&next, through);
      std::vector<EncodedEvent> events;
      events.push_back(encoder_->GapMarker(after, through, NowMs()));
      Track(events, next, NowMs());
      read_ = next;
      FlushBatch(true);
      return Outcome::kContinue;
    }
  }
  return Outcome::kIdle;
}

// ---------------------------------------------------------------------------
// The pipeline.

void Source::ProcessRecord(StreamRecord&& record, const std::optional<std::string>* limit) {
  Cursor after = read_;
  SetStream(&after, record.sequence);
  ChangeEvent change = ChangeFromRecord(std::move(record));
  if (limit != nullptr && change.op != ChangeOp::kTruncate) {
    // Snapshot catch-up: a key after the last one snapshotted is reflected by
    // a chunk still to come.
    std::optional<std::string> key = OrderedKey(change.keys, schema_);
    bool publish = limit->has_value() && key && *key <= **limit;
    if (!publish && key && change.op == ChangeOp::kDelete && InRecovery(*key)) {
      // The item may have reached the destination before a crash or rewind;
      // the chunk that reads it now cannot show that it is gone.
      publish = true;
      stats_.recovery_deletes.fetch_add(1, std::memory_order_relaxed);
    }
    if (!publish) {
      stats_.seam_skipped.fetch_add(1, std::memory_order_relaxed);
      AdvanceRead(after);
      return;
    }
  }
  Emit(std::move(change), after);
}

void Source::Emit(ChangeEvent&& change, const Cursor& after) {
  if (!filter_->Matches(change)) {
    stats_.events_filtered.fetch_add(1, std::memory_order_relaxed);
    AdvanceRead(after);
    return;
  }
  NarrowView(&change, options_.view_type, options_.include_before);
  transforms_.Apply(&change);
  if (options_.skip_noop_updates && IsNoopUpdate(change)) {
    stats_.events_filtered.fetch_add(1, std::memory_order_relaxed);
    AdvanceRead(after);
    return;
  }
  if (aggregator_) {
    if (change.op == ChangeOp::kTruncate) {
      stats_.events_filtered.fetch_add(1, std::memory_order_relaxed);
      AdvanceRead(after);
      return;
    }
    if (auto closed = aggregator_->Add(change)) {
      // The window closed before this change: it covers what was read before.
      CloseWindow(std::move(*closed), *window_cursor_);
    }
    window_cursor_ = after;
    read_ = after;
    return;
  }
  scratch_.clear();
  encoder_->Encode(change, NowMs(), &scratch_);
  if (!CheckSize(change)) return;  // failed: nothing tracked, the position stays
  bool tracked = !scratch_.empty();
  Track(scratch_, after, change.timestamp_ms);
  if (tracked) MarkChange(change.sequence);
  scratch_.clear();
  read_ = after;
}

bool Source::CheckSize(const ChangeEvent& change) {
  if (runtime_.max_message_bytes == 0) return true;
  size_t largest = 0;
  for (const EncodedEvent& e : scratch_) largest = std::max(largest, e.ByteSize());
  if (largest <= runtime_.max_message_bytes) return true;
  if (options_.oversize == OversizePolicy::kFail) {
    // The events before this one are fine: send them, so that the position
    // can reach the failing record.
    SendPending();
    Fail(ResourceExhausted("source " + options_.name + ": the event of sequence " +
                           std::to_string(change.sequence) + " is " + std::to_string(largest) +
                           " bytes, over the largest message the destination accepts (" +
                           std::to_string(runtime_.max_message_bytes) +
                           " bytes); oversize: key_only would send it without images"));
    return false;
  }
  ChangeEvent keys_only;
  keys_only.op = change.op;
  keys_only.sequence = change.sequence;
  keys_only.timestamp_ms = change.timestamp_ms;
  keys_only.view_type = store::StreamViewType::kKeysOnly;
  keys_only.keys = change.keys;
  keys_only.snapshot = change.snapshot;
  keys_only.snapshot_ordinal = change.snapshot_ordinal;
  keys_only.snapshot_last = change.snapshot_last;
  keys_only.headers = change.headers;
  keys_only.headers.emplace_back(kHeaderOversize, std::to_string(largest));
  scratch_.clear();
  encoder_->Encode(keys_only, NowMs(), &scratch_);
  stats_.oversize_key_only.fetch_add(1, std::memory_order_relaxed);
  LogWarn(kLog, "source " + options_.name + ": the event of sequence " +
                    std::to_string(change.sequence) + " (" + std::to_string(largest) +
                    " bytes) is sent without images: over max_message_bytes");
  return true;
}

void Source::CloseWindow(AggregateWindow&& window, const Cursor& after) {
  std::vector<EncodedEvent> events;
  EncodeWindow(window, *options_.aggregate, encoder_->options(), &events);
  stats_.aggregate_windows.fetch_add(1, std::memory_order_relaxed);
  Track(events, after, window.start_ms);
}

void Source::SetAfter(Entry* entry, const Cursor& after) {
  entry->after_sequence = after.sequence;
  if (after.snapshot == SnapshotProgress{}) {
    entry->after_snapshot.reset();
  } else if (entry->after_snapshot) {
    *entry->after_snapshot = after.snapshot;
  } else {
    entry->after_snapshot = std::make_unique<SnapshotProgress>(after.snapshot);
  }
}

Source::Entry& Source::AddEntry(std::span<EncodedEvent> events, int64_t timestamp_ms,
                                uint64_t bytes) {
  Entry& entry = entries_.emplace_back();
  entry.first_token = next_token_;
  entry.count = static_cast<uint32_t>(events.size());
  entry.remaining = entry.count;
  entry.timestamp_ms = timestamp_ms;
  entry.bytes = bytes;
  for (EncodedEvent& event : events) {
    event.token = next_token_++;
    pending_.push_back(std::move(event));
  }
  in_flight_records_ += entry.count;
  in_flight_bytes_ += entry.bytes;
  if (batch_started_ms_ < 0) batch_started_ms_ = NowMs();
  return entry;
}

void Source::Track(std::span<EncodedEvent> events, const Cursor& after, int64_t timestamp_ms) {
  if (events.empty()) {
    AdvanceRead(after);
    return;
  }
  uint64_t bytes = 0;
  for (const EncodedEvent& event : events) bytes += event.ByteSize();
  SetAfter(&AddEntry(events, timestamp_ms, bytes), after);
}

void Source::TrackStreamed(std::span<EncodedEvent> events, uint64_t after_sequence,
                           int64_t timestamp_ms, uint64_t bytes) {
  if (events.empty()) {
    Cursor after = read_;
    after.sequence = after_sequence;
    AdvanceRead(after);
    return;
  }
  AddEntry(events, timestamp_ms, bytes).after_sequence = after_sequence;
}

void Source::AdvanceRead(const Cursor& after) {
  read_ = after;
  if (window_cursor_) {
    window_cursor_ = after;
  } else if (!entries_.empty()) {
    // Handled once the events before it are: ride on the last entry.
    SetAfter(&entries_.back(), after);
  } else {
    acked_ = after;
    PublishPosition();
  }
}

Source::Entry* Source::FindEntry(uint64_t token) {
  if (entries_.empty() || token < entries_.front().first_token) return nullptr;
  // While every entry holds one event (the common case), the entry of token
  // t is t - first's; otherwise it is at or before that index.
  size_t guess = std::min<uint64_t>(token - entries_.front().first_token, entries_.size() - 1);
  if (entries_[guess].first_token <= token) {
    Entry& e = entries_[guess];
    return token < e.first_token + e.count ? &e : nullptr;
  }
  auto end = entries_.begin() + static_cast<std::ptrdiff_t>(guess);
  auto it = std::upper_bound(entries_.begin(), end, token,
                             [](uint64_t t, const Entry& e) { return t < e.first_token; });
  Entry& e = *std::prev(it);  // it > begin: the front's first_token <= token
  return token < e.first_token + e.count ? &e : nullptr;
}

void Source::OnDelivered(uint64_t token, const Status& status) {
  delivery_clock_ = {};
  uint64_t acked = 0;
  Deliver(token, status, &acked);
  stats_.events_acked.fetch_add(acked, std::memory_order_relaxed);
}

void Source::OnDeliveredBatch(std::span<const std::pair<uint64_t, Status>> reports) {
  delivery_clock_ = {};
  uint64_t acked = 0;
  for (const auto& [token, status] : reports) Deliver(token, status, &acked);
  stats_.events_acked.fetch_add(acked, std::memory_order_relaxed);
}

void Source::Deliver(uint64_t token, const Status& status, uint64_t* acked) {
  if (token < stale_below_) return;  // abandoned by a rewind or reset
  Entry* entry = FindEntry(token);
  if (entry == nullptr) {
    LogWarn(kLog, "source " + options_.name + ": delivery report for unknown event " +
                      std::to_string(token) + " ignored");
    return;
  }
  if (status.ok()) {
    ++*acked;
    if (entry->remaining > 0 && --entry->remaining == 0) {
      if (entry->change) ObserveLatency(*entry);
      if (entry == &entries_.front()) AdvanceAcked();
    }
    return;
  }
  if (status.code() == StatusCode::kUnavailable) {
    rewind_pending_ = true;
    return;
  }
  stats_.events_failed.fetch_add(1, std::memory_order_relaxed);
  uint64_t sequence = entry->after_snapshot && entry->after_snapshot->active
                          ? entry->after_snapshot->stream_sequence
                          : entry->after_sequence;
  Fail(Status(status.code(), "source " + options_.name + ": event of sequence " +
                                 std::to_string(sequence) +
                                 " failed permanently: " + status.message()));
}

void Source::ObserveLatency(const Entry& entry) {
  std::optional<int64_t> committed = store_.CommitTimeNs(entry.sequence);
  if (committed) {
    if (!delivery_clock_.monotonic_ns) delivery_clock_.monotonic_ns = clock_->MonotonicNs();
    stats_.delivery_latency.Observe((*delivery_clock_.monotonic_ns - *committed) / 1000);
  } else {
    if (!delivery_clock_.wall_ms) delivery_clock_.wall_ms = NowMs();
    stats_.delivery_latency.Observe((*delivery_clock_.wall_ms - entry.timestamp_ms) * 1000);
  }
}

void Source::AdvanceAcked() {
  bool moved = false;
  while (!entries_.empty() && entries_.front().remaining == 0) {
    Entry& front = entries_.front();
    acked_.sequence = front.after_sequence;
    if (front.after_snapshot) {
      acked_.snapshot = std::move(*front.after_snapshot);
    } else if (!(acked_.snapshot == SnapshotProgress{})) {
      acked_.snapshot = SnapshotProgress{};
    }
    in_flight_records_ -= front.count;
    in_flight_bytes_ -= front.bytes;
    entries_.pop_front();
    moved = true;
  }
  if (moved) PublishPosition();
}

void Source::MaybeHeartbeat() {
  if (options_.heartbeat_interval_ms == 0 || !caught_up_ || !entries_.empty() ||
      !pending_.empty() || (aggregator_ && aggregator_->has_open_window()) ||
      read_.snapshot.active) {
    return;
  }
  int64_t now = NowMs();
  if (now - last_activity_ms_ < static_cast<int64_t>(options_.heartbeat_interval_ms)) return;
  std::vector<EncodedEvent> events;
  events.push_back(encoder_->Heartbeat(std::max(head_seen_, acked_.sequence), now));
  Track(events, acked_, now);
  stats_.heartbeats.fetch_add(1, std::memory_order_relaxed);
  SendPending();
}

void Source::FlushBatch(bool force) {
  if (pending_.empty()) return;
  bool due = force || options_.batch_timeout_ms == 0 ||
             pending_.size() >= std::max<uint32_t>(1, options_.batch_size) || Budget() == 0 ||
             NowMs() - batch_started_ms_ >= static_cast<int64_t>(options_.batch_timeout_ms);
  if (due) SendPending();
}

void Source::SendPending() {
  if (pending_.empty()) return;
  sink_full_ = false;
  uint64_t sent = 0, sent_bytes = 0;
  Status s;
  while (!pending_.empty()) {
    // On kUnavailable nothing is taken: the event stays here to be offered
    // again.
    EncodedEvent& event = pending_.front();
    size_t bytes = event.ByteSize();
    s = sink_.Send(event);
    if (!s.ok()) break;
    ++sent;
    sent_bytes += bytes;
    // The sink copied what it keeps: the next events reuse the memory.
    encoder_->Recycle(std::move(event));
    pending_.pop_front();
  }
  stats_.events_sent.fetch_add(sent, std::memory_order_relaxed);
  stats_.bytes_sent.fetch_add(sent_bytes, std::memory_order_relaxed);
  if (s.code() == StatusCode::kUnavailable) {
    stats_.sink_full.fetch_add(1, std::memory_order_relaxed);
    sink_full_ = true;
    return;
  }
  if (!s.ok()) {
    Fail(s.WithContext("source " + options_.name + ": the sink refused an event"));
    return;
  }
  batch_started_ms_ = -1;
  last_activity_ms_ = NowMs();
}

void Source::DiscardInFlight() {
  stale_below_ = next_token_;
  entries_.clear();
  pending_.clear();
  in_flight_records_ = 0;
  in_flight_bytes_ = 0;
  chunk_.reset();
  window_cursor_.reset();
  if (aggregator_) aggregator_->Reset();
  batch_started_ms_ = -1;
  rewind_pending_ = false;
  sink_full_ = false;
  caught_up_ = false;
}

void Source::Rewind(std::string_view why) {
  DiscardInFlight();
  read_ = acked_;
  SetRecovery();
  stats_.rewinds.fetch_add(1, std::memory_order_relaxed);
  LogWarn(kLog, "source " + options_.name + " rewinds to sequence " +
                    std::to_string(acked_.sequence) + ": " + std::string(why));
}

void Source::Fail(const Status& status) {
  if (failed_) return;
  failed_ = true;
  failure_ = status;
  LogError(kLog, "source " + options_.name + " FAILED: " + status.ToString());
}

// ---------------------------------------------------------------------------
// Position storage and status.

CdcPosition Source::PositionOf(const Cursor& cursor) const {
  CdcPosition position;
  position.source = options_.name;
  position.table = options_.table;
  position.sequence = cursor.sequence;
  position.snapshot = cursor.snapshot;
  if (cursor.snapshot.active) {
    position.snapshot.high_water_key = high_water_key_;
    position.snapshot.read_to_end = read_to_end_;
  }
  return position;
}

void Source::CollectSave() {
  if (!save_in_flight_ || !save_in_flight_->done.load(std::memory_order_acquire)) return;
  if (save_in_flight_->status.ok()) {
    saved_ = save_in_flight_->cursor;
    saved_valid_ = true;
    stats_.position_saves.fetch_add(1, std::memory_order_relaxed);
  } else {
    stats_.position_save_failures.fetch_add(1, std::memory_order_relaxed);
    LogWarn(kLog, "source " + options_.name +
                      ": storing the position failed: " + save_in_flight_->status.ToString());
  }
  save_in_flight_.reset();
}

bool Source::MaybeSave(bool force) {
  CollectSave();
  if (saved_valid_ && saved_.sequence == acked_.sequence && saved_.snapshot == acked_.snapshot &&
      !high_water_dirty_) {
    return true;
  }
  int64_t now = NowMs();
  if (!force && now - last_save_ms_ < runtime_.position_save_interval_ms) return true;
  // Before initialisation (SetPosition on a source not started yet) the
  // stream is assumed: a position that pins too much is harmless.
  const bool pins = initialized_ ? has_stream_ : true;
  if (!force && runtime_.position_save_interval_ms > 0 && !high_water_dirty_ &&
      !acked_.snapshot.active) {
    // A streaming source's periodic save only bounds what a crash repeats:
    // queued, it costs the source thread no commit (a commit's wait held
    // back deliveries and new records for milliseconds). One at a time.
    if (save_in_flight_) return true;
    auto save = std::make_shared<PendingSave>();
    save->cursor = acked_;
    save_in_flight_ = save;
    last_save_ms_ = now;
    SaveCdcPositionAsync(store_, PositionOf(acked_), pins, [save](Status status) {
      save->status = std::move(status);
      save->done.store(true, std::memory_order_release);
    });
    return true;
  }
  // Stored before it matters (a snapshot's progress, a stop): the caller
  // relies on it. A queued save still running is committed first.
  save_in_flight_.reset();
  Status s = SaveCdcPosition(store_, PositionOf(acked_), pins);
  last_save_ms_ = now;
  if (!s.ok()) {
    // Degraded, not failed: the next step tries again; a crash meanwhile
    // repeats more events, it loses none.
    stats_.position_save_failures.fetch_add(1, std::memory_order_relaxed);
    LogWarn(kLog, "source " + options_.name + ": storing the position failed: " + s.ToString());
    return false;
  }
  saved_ = acked_;
  saved_valid_ = true;
  stats_.position_saves.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void Source::SetRecovery() {
  recovery_.reset();
  if (!acked_.snapshot.active || (!high_water_key_ && !read_to_end_)) return;
  Recovery recovery;
  recovery.to_end = read_to_end_;
  if (high_water_key_) recovery.through = OrderedKey(*high_water_key_, schema_);
  recovery_ = recovery;
}

bool Source::InRecovery(const std::string& ordered_key) const {
  return recovery_ &&
         (recovery_->to_end || (recovery_->through && ordered_key <= *recovery_->through));
}

void Source::RefreshLag() {
  auto info = store_.GetStreamInfo(options_.table);
  if (!info.ok()) return;
  table_sequence_ = info->latest_sequence;
  uint64_t lag = table_sequence_ > acked_.sequence ? table_sequence_ - acked_.sequence : 0;
  stats_.lag_records.store(lag, std::memory_order_relaxed);
  int64_t oldest = -1;
  if (lag > 0) {
    if (!entries_.empty()) {
      oldest = entries_.front().timestamp_ms;
    } else {
      auto next = store_.ReadTableHistory(options_.table, acked_.sequence, 1);
      if (next.ok() && !next->records.empty()) oldest = next->records.front().timestamp_ms;
    }
  }
  lag_ms_ = oldest < 0 ? 0 : std::max<int64_t>(0, NowMs() - oldest);
  stats_.lag_ms.store(lag_ms_, std::memory_order_relaxed);
}

SourceState Source::CurrentState() const {
  if (stopped_) return SourceState::kStopped;
  if (failed_) return SourceState::kFailed;
  if (!initialized_) return SourceState::kStarting;
  if (done_) return SourceState::kDone;
  if (paused_) return SourceState::kPaused;
  if (snapshot_request_ || read_.snapshot.active || acked_.snapshot.active) {
    return SourceState::kSnapshotting;
  }
  return SourceState::kStreaming;
}

void Source::PublishPosition() {
  stats_.position_sequence.store(acked_.sequence, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(status_mu_);
  status_.position.sequence = acked_.sequence;
  status_.position.snapshot = acked_.snapshot;
}

void Source::Publish() {
  SourceState state = CurrentState();
  stats_.state.store(static_cast<int>(state), std::memory_order_relaxed);
  stats_.in_flight_records.store(in_flight_records_, std::memory_order_relaxed);
  stats_.in_flight_bytes.store(in_flight_bytes_, std::memory_order_relaxed);
  stats_.position_sequence.store(acked_.sequence, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(status_mu_);
  status_.state = state;
  status_.error = failed_ ? failure_.ToString() : std::string();
  status_.last_gap = last_gap_;
  status_.position.sequence = acked_.sequence;
  status_.position.snapshot = acked_.snapshot;
  status_.position.updated_ms = saved_valid_ ? last_save_ms_ : 0;
  status_.saved_sequence = saved_valid_ ? saved_.sequence : 0;
  status_.read_sequence = StreamOf(read_);
  status_.table_sequence = table_sequence_;
  status_.lag_records = stats_.lag_records.load(std::memory_order_relaxed);
  status_.lag_ms = lag_ms_;
  status_.in_flight_records = in_flight_records_;
  status_.in_flight_bytes = in_flight_bytes_;
  status_.paused = paused_;
  status_.snapshot_running =
      read_.snapshot.active || acked_.snapshot.active || snapshot_request_.has_value();
}

SourceStatus Source::GetStatus() const {
  SourceStatus status;
  {
    std::lock_guard<std::mutex> lock(status_mu_);
    status = status_;
  }
  status.events_sent = stats_.events_sent.load(std::memory_order_relaxed);
  status.events_acked = stats_.events_acked.load(std::memory_order_relaxed);
  status.events_filtered = stats_.events_filtered.load(std::memory_order_relaxed);
  status.events_failed = stats_.events_failed.load(std::memory_order_relaxed);
  status.gaps = stats_.gaps.load(std::memory_order_relaxed);
  status.rewinds = stats_.rewinds.load(std::memory_order_relaxed);
  status.heartbeats = stats_.heartbeats.load(std::memory_order_relaxed);
  return status;
}

CdcPosition Source::position() const {
  std::lock_guard<std::mutex> lock(status_mu_);
  return status_.position;
}

}  // namespace keystone::cdc
