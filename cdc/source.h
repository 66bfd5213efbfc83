#pragma once

// Source: one CDC pipeline. It reads a table's change stream after its stored
// CdcPosition (taking a snapshot of the table first when its mode says so),
// filters, transforms and encodes each change, and hands the events in batches
// to an EventSink; as the sink acknowledges them it advances and stores the
// position. One Source per SourceOptions; several may read one table, each
// with its own position.
//
// Delivery guarantees (ARCHITECTURE.md invariants 3-7):
//   - The position advances only to the highest sequence number whose every
//     predecessor was acknowledged OK or filtered out (acks may come in any
//     order); a crash at any instant loses nothing and repeats at most the
//     unacknowledged tail.
//   - Events are sent in one total order: increasing (sequence, snapshot,
//     snapshot_ordinal, sub_index) with stream events before snapshot events
//     of equal sequence; so per key they follow the stream's order.
//   - Backpressure: at most max_in_flight_records events and (about)
//     max_in_flight_bytes bytes are encoded and unacknowledged at once; the
//     source reads nothing more until acks come, so memory does not grow with
//     the backlog.
//   - On kUnavailable from the sink (it was reset) the source discards what it
//     has in flight, rewinds to its position and sends again from there. Any
//     other delivery error, or a failed read, stops the source: state FAILED
//     with the reason (logged, counted, in the status); Resume retries.
//   - Gaps (retention dropped records the source had not handled) are always
//     logged, counted and shown; then on_gap applies: fail, resnapshot, or
//     skip (a gap marker event, op "g", and streaming continues after the
//     trimmed records). snapshot: when_needed resnapshots regardless of on_gap.
//
// Snapshots (initial, when_needed, initial_only; TriggerSnapshot on demand)
// read the table in key-ordered chunks, each in one short read transaction
// that also gives the stream sequence S_i it reflects. Between chunks the
// source replays the stream records after the previous chunk's sequence
// through S_i, publishing only those whose key is at or before the last key
// already snapshotted (the next chunks reflect the others). So for every key
// the events are: its snapshot read (the item as of the S_i of its chunk), or
// nothing if it did not exist then, followed by every change after S_i exactly
// once, in order. Progress (last key, chunk sequence, stream position) is part
// of the stored position: after a crash the snapshot resumes where its
// acknowledged events end. Sources with `aggregate` take no snapshots.
//
// Threads: Run (or PollOnce) drives the pipeline on one thread, the "source
// thread"; the sink is used only from it and reports deliveries on it. The
// control methods (Pause, Resume, Reset, SetPosition, TriggerSnapshot) and
// GetStatus, position and stats may be called from any thread: controls are
// queued and applied at the start of the next step. Start/Stop own a thread
// that runs Run.

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "cdc/aggregator.h"
#include "cdc/change_event.h"
#include "cdc/encoders.h"
#include "cdc/event_sink.h"
#include "cdc/filters.h"
#include "cdc/position.h"
#include "cdc/source_options.h"
#include "cdc/transforms.h"
#include "lmdb_store/item_store.h"

namespace keystone::cdc {

// Header on an event sent key-only because it was too large: its original
// size in bytes.
inline constexpr char kHeaderOversize[] = "keystone.oversize";

enum class SourceState {
  kStarting,      // not initialised yet
  kSnapshotting,  // a snapshot is running (or waiting for in-flight events to drain)
  kStreaming,
  kPaused,
  kFailed,   // stopped by an error; GetStatus().error says why
  kDone,     // initial_only: the snapshot is complete and acknowledged
  kStopped,  // Run returned
};
std::string_view SourceStateName(SourceState state);

// Time from a change's commit to Kafka's acknowledgement of every event of
// it: the end-to-end latency a consumer sees. The commit's time is when the
// store finished it, in microseconds, for the recent commits of this process
// (ItemStore::CommitTimeNs), else its record's timestamp (milliseconds).
// Fixed buckets (upper bounds in microseconds, then +Inf); lock-free.
struct LatencyHistogram {
  static constexpr std::array<int64_t, 25> kBoundsUs = {
      500,    1000,   1500,   2000,    2500,    3000,    4000,    5000,  6000,
      7000,   8000,   9000,   10000,   12500,   15000,   20000,   30000, 50000,
      100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
  std::array<std::atomic<uint64_t>, kBoundsUs.size() + 1> buckets{};  // not cumulative
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> sum_us{0};

  void Observe(int64_t us) {
    us = std::max<int64_t>(0, us);
    size_t i = 0;
    while (i < kBoundsUs.size() && us > kBoundsUs[i]) ++i;
    buckets[i].fetch_add(1, std::memory_order_relaxed);
    sum_us.fetch_add(static_cast<uint64_t>(us), std::memory_order_relaxed);
    count.fetch_add(1, std::memory_order_relaxed);
  }
};

// Counters and gauges of one source, for metrics (relaxed atomics; read from
// any thread). Counters only grow.
struct SourceStats {
  std::atomic<uint64_t> records_read{0};       // stream records read
  std::atomic<uint64_t> snapshot_items{0};     // items read by snapshots
  std::atomic<uint64_t> events_sent{0};        // events the sink accepted
  std::atomic<uint64_t> bytes_sent{0};         // their EncodedEvent::ByteSize
  std::atomic<uint64_t> events_acked{0};       // reported OK
  std::atomic<uint64_t> events_filtered{0};    // changes dropped by filters / as no-op updates
  std::atomic<uint64_t> events_failed{0};      // reported with a permanent error
  std::atomic<uint64_t> seam_skipped{0};       // stream records a snapshot chunk already reflected
  std::atomic<uint64_t> recovery_deletes{0};   // deletes published after a resumed snapshot
  std::atomic<uint64_t> oversize_key_only{0};  // events sent without images (too large)
  std::atomic<uint64_t> snapshots_started{0};
  std::atomic<uint64_t> snapshots_completed{0};
  std::atomic<uint64_t> gaps{0};
  std::atomic<uint64_t> rewinds{0};
  std::atomic<uint64_t> heartbeats{0};
  std::atomic<uint64_t> aggregate_windows{0};
  std::atomic<uint64_t> sink_full{0};  // Send refused with kUnavailable
  std::atomic<uint64_t> position_saves{0};
  std::atomic<uint64_t> position_save_failures{0};
  // Gauges.
  std::atomic<uint64_t> in_flight_records{0};
  std::atomic<uint64_t> in_flight_bytes{0};
  std::atomic<uint64_t> position_sequence{0};
  std::atomic<uint64_t> lag_records{0};
  std::atomic<int64_t> lag_ms{0};
  std::atomic<int> state{0};  // SourceState
  // Streamed changes only (not snapshot reads, heartbeats or aggregates).
  LatencyHistogram delivery_latency;
};

// A consistent snapshot of a source's state, for the API and health.
struct SourceStatus {
  std::string name;
  std::string table;
  std::string topic;
  SourceState state = SourceState::kStarting;
  // Why the source failed (state kFailed); "" otherwise.
  std::string error;
  // The last gap seen ("" if none).
  std::string last_gap;
  // The handled position (what a restart would resume from once stored).
  CdcPosition position;
  // The sequence number last stored.
  uint64_t saved_sequence = 0;
  // How far the source has read (>= position.sequence).
  uint64_t read_sequence = 0;
  // The newest record of the table's stream.
  uint64_t table_sequence = 0;
  // Sequence numbers between the position and the table's newest record (the
  // records behind when only this table is written), and the age of the
  // oldest unhandled record.
  uint64_t lag_records = 0;
  int64_t lag_ms = 0;
  uint64_t in_flight_records = 0;
  uint64_t in_flight_bytes = 0;
  bool paused = false;
  bool snapshot_running = false;
  uint64_t events_sent = 0;
  uint64_t events_acked = 0;
  uint64_t events_filtered = 0;
  uint64_t events_failed = 0;
  uint64_t gaps = 0;
  uint64_t rewinds = 0;
  uint64_t heartbeats = 0;
};

// What the daemon provides besides the options.
struct SourceRuntime {
  // Not owned; must outlive the source. nullptr: SystemClock::Default().
  Clock* clock = nullptr;
  // Least time between two stores of an advancing position; 0 stores after
  // every step that advanced it, before the step returns. A crash repeats at
  // most this much more. Otherwise a streaming source queues the store to
  // the store's writer and does not wait for it.
  int64_t position_save_interval_ms = 1000;
  // Longest Run waits before looking at controls and timers again.
  int64_t idle_wait_ms = 100;
  // Longest Run's shutdown waits for outstanding deliveries.
  int64_t shutdown_flush_ms = 5000;
  // Largest message the destination accepts (the producer's
  // message.max.bytes; EncodedEvent::ByteSize is compared with it). A larger
  // event follows SourceOptions::oversize: fail stops the source before
  // sending it; key_only sends it without images (as KEYS_ONLY would), with
  // header kHeaderOversize = its original size. 0: no limit.
  uint64_t max_message_bytes = 0;
  // debezium source.db and dynamodb awsRegion.
  std::string db = "keystone";
  std::string region = "us-east-1";
  // Run (not PollOnce), catching up on a source with no filters, transforms
  // or aggregates, reads and encodes the next batch of records on a second
  // thread while the source thread sends the previous one.
  bool read_ahead = true;
};

class Source final : private DeliveryListener {
 public:
  // `store` and `sink` must outlive the source. Nothing fallible happens here:
  // the first step loads the position, checks the options against the table
  // and starts the sink; a problem there fails the source (status FAILED).
  // An empty options.name is replaced by the table name.
  Source(store::ItemStore& store, EventSink& sink, SourceOptions options,
         SourceRuntime runtime = {});
  // Stops the thread Start created, if any (a graceful Stop). A source driven
  // by PollOnce is destroyed without storing anything more: the equivalent of
  // a crash.
  ~Source() override;

  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  // One step on the calling thread (the source thread): applies queued
  // controls, serves delivery reports (Poll(0)), then reads and sends at most
  // one batch (or snapshot chunk), closes due windows, sends a due heartbeat
  // and stores the position if due. Returns the error that failed the source
  // (then and on later calls while FAILED), else OK.
  Status PollOnce();

  // Steps until `stop` is requested, waiting (for new records, acks, timers or
  // controls) without spinning; then flushes the sink within
  // shutdown_flush_ms and stores the position. Call on the source thread.
  void Run(std::stop_token stop);

  // Run on a thread of the source's own; FailedPrecondition if already
  // started. Stop requests the stop and joins; idempotent.
  Status Start();
  void Stop();

  // Controls, from any thread; applied at the next step.
  // Pause: read and send nothing more (deliveries are still served).
  Status Pause();
  // Resume after Pause, or retry after a failure (replaying from the position).
  Status Resume();
  // Forget the position: the source starts over as on its first start
  // (snapshot per its mode). In-flight events are abandoned.
  Status Reset();
  // Continue after `sequence` (records <= it are treated as handled), without
  // a snapshot. kInvalidArgument if beyond the store's head sequence.
  Status SetPosition(uint64_t sequence);
  // Snapshot the table now (after in-flight events are acknowledged), then
  // stream on. kFailedPrecondition for aggregate sources.
  Status TriggerSnapshot();

  SourceStatus GetStatus() const;
  // The handled position (as in GetStatus()).
  CdcPosition position() const;
  const SourceStats& stats() const { return stats_; }
  const SourceOptions& options() const { return options_; }
  const std::string& name() const { return options_.name; }

 private:
  struct Cursor {
    uint64_t sequence = 0;
    SnapshotProgress snapshot;
  };
  // Events that must all be acknowledged before the position may move to
  // the cursor `after_sequence` + `after_snapshot`; one per record (or
  // snapshot item, heartbeat, gap marker, window). There is one per event in
  // flight, so the cursor's snapshot part, nearly always empty, is kept
  // apart.
  struct Entry {
    uint64_t first_token = 0;
    uint32_t count = 0;
    uint32_t remaining = 0;
    uint64_t bytes = 0;
    int64_t timestamp_ms = 0;
    uint64_t after_sequence = 0;
    // nullptr: SnapshotProgress{} (no snapshot running).
    std::unique_ptr<SnapshotProgress> after_snapshot;
    // A streamed change, and its record's sequence (its latency is observed
    // once all events are acked).
    bool change = false;
    uint64_t sequence = 0;
  };
  struct ChunkState {
    store::SnapshotChunk chunk;
    size_t next = 0;
    int64_t read_ms = 0;
    // OrderedKey of the last key snapshotted before this chunk; nullopt when
    // none (then no stream record is published during catch-up).
    std::optional<std::string> limit;
  };
  enum class Outcome { kContinue, kWaitRecords, kWaitDeliveries, kWaitReadAhead, kIdle };
  enum class CommandType { kPause, kResume, kReset, kSetPosition, kTriggerSnapshot };
  struct Command {
    CommandType type;
    uint64_t sequence = 0;
  };

  // Where reading continues: the snapshot's stream cursor during a snapshot.
  static uint64_t StreamOf(const Cursor& cursor);
  static void SetStream(Cursor* cursor, uint64_t sequence);

  void OnDelivered(uint64_t token, const Status& status) override;
  void OnDeliveredBatch(std::span<const std::pair<uint64_t, Status>> reports) override;
  // OnDelivered's work; acknowledgements are counted in `*acked`.
  void Deliver(uint64_t token, const Status& status, uint64_t* acked);
  // The entry holding event `token`; nullptr when none does.
  Entry* FindEntry(uint64_t token);

  Outcome Step();
  void Wait(Outcome outcome, const std::stop_token& stop);
  void Shutdown();
  void ApplyCommands();
  Status Initialize();
  Outcome Work();
  Outcome StreamWork();
  // The end of StreamWork: `processed` of `count` records read (asking for
  // `want`) were handled; the read saw head sequence `head`.
  Outcome AfterBatch(size_t processed, size_t count, size_t want, uint64_t head);
  Outcome SnapshotWork();
  Status BeginSnapshot(SnapshotReason reason);
  Outcome HandleGap(const Status& trimmed);
  void ProcessRecord(store::StreamRecord&& record, const std::optional<std::string>* limit);
  // A batch of stream records read and encoded straight from their stored
  // encoding (direct_), on the source thread or the read-ahead thread.
  struct DirectBatch {
    enum class Kind : uint8_t {
      kEvents,    // `events` events of `events` (in order) are the record's
      kFiltered,  // a no-op update (skip_noop_updates)
      kDecode,    // needs the decoding path (an event over max_message_bytes)
    };
    struct Result {
      Kind kind = Kind::kEvents;
      uint32_t events = 0;
      // kEvents: their ByteSize summed, while the encoding thread has them
      // in cache.
      uint64_t bytes = 0;
    };
    // The request: up to `want` records after `after`; envelope time now_ms.
    uint64_t after = 0;
    size_t want = 0;
    int64_t now_ms = 0;
    // The read's status, the records, one result per record up to the first
    // that failed to encode (`error`), and the events in record order.
    Status status;
    store::EncodedStreamBatch read;
    std::vector<Result> results;
    Status error;
    std::vector<EncodedEvent> events;
    // Sent events handed to the encoding thread's encoder for reuse.
    std::vector<EncodedEvent> spares;
  };
  class ReadAhead;
  // Reads and encodes `batch` (a pure function of the store and options).
  static void FillDirectBatch(store::ItemStore& store, Encoder& encoder,
                              const SourceOptions& options, uint64_t max_message_bytes,
                              DirectBatch* batch);
  // Publishes what `batch` holds, as StreamWork does with the records it reads.
  Outcome ApplyDirectBatch(DirectBatch& batch);
  // After a full batch, starts reading the next one on the read-ahead thread.
  void MaybeReadAhead(Outcome outcome);
  void Emit(ChangeEvent&& change, const Cursor& after);
  // Applies SourceOptions::oversize to scratch_; false if the source failed.
  bool CheckSize(const ChangeEvent& change);
  // Moves `events` (may be empty) into pending_ as the events of one entry.
  void Track(std::span<EncodedEvent> events, const Cursor& after, int64_t timestamp_ms);
  // Track for a streamed record while no snapshot runs (read_'s snapshot
  // part is SnapshotProgress{}); `bytes` is the events' ByteSize.
  void TrackStreamed(std::span<EncodedEvent> events, uint64_t after_sequence, int64_t timestamp_ms,
                     uint64_t bytes);
  // Appends the entry of `events` (not empty) and moves them into pending_.
  Entry& AddEntry(std::span<EncodedEvent> events, int64_t timestamp_ms, uint64_t bytes);
  static void SetAfter(Entry* entry, const Cursor& after);
  void AdvanceRead(const Cursor& after);
  // The newest entry is the streamed change of record `sequence`.
  void MarkChange(uint64_t sequence) {
    entries_.back().change = true;
    entries_.back().sequence = sequence;
  }
  void ObserveLatency(const Entry& entry);
  void AdvanceAcked();
  void CloseWindow(AggregateWindow&& window, const Cursor& after);
  void MaybeHeartbeat();
  void FlushBatch(bool force);
  void SendPending();
  void DiscardInFlight();
  void Rewind(std::string_view why);
  void Fail(const Status& status);
  // Stores the position if it changed (and `force` or the interval passed);
  // false if storing failed.
  bool MaybeSave(bool force);
  // Takes the result of a queued save once it is done.
  void CollectSave();
  void SetRecovery();
  bool InRecovery(const std::string& ordered_key) const;
  void RefreshLag();
  void Publish();
  void PublishPosition();
  size_t Budget() const;
  SourceState CurrentState() const;
  CdcPosition PositionOf(const Cursor& cursor) const;
  Status Enqueue(Command command);
  int64_t NowMs() const { return clock_->NowMs(); }

  store::ItemStore& store_;
  EventSink& sink_;
  SourceOptions options_;
  SourceRuntime runtime_;
  Clock* clock_;
  std::string topic_;
  SourceStats stats_;

  // Source-thread state.
  bool initialized_ = false;
  bool sink_started_ = false;
  bool failed_ = false;
  bool done_ = false;
  bool stopped_ = false;
  bool paused_ = false;
  Status failure_;
  std::string last_gap_;
  store::TableSchema schema_;
  bool has_stream_ = false;
  store::StreamViewType table_view_ = store::StreamViewType::kNewAndOldImages;
  std::optional<EventFilter> filter_;
  // Streamed records go from their stored encoding straight to the encoder:
  // no filter, transform or aggregate looks at their images.
  bool direct_ = false;
  DirectBatch direct_batch_;
  // Set by Run when runtime_.read_ahead; the thread starts with the first
  // full batch.
  bool read_ahead_enabled_ = false;
  std::unique_ptr<ReadAhead> read_ahead_;
  TransformChain transforms_;
  std::optional<Encoder> encoder_;
  std::optional<Aggregator> aggregator_;
  // Records counted in the open aggregate window (and those after them) are
  // handled only once the window is published: their cursor waits here.
  std::optional<Cursor> window_cursor_;
  Cursor acked_;
  Cursor read_;
  Cursor saved_;
  bool saved_valid_ = false;
  // A periodic save queued to the store's writer, whose callback (on the
  // writer thread) fills it; the source thread reads it once `done`.
  struct PendingSave {
    Cursor cursor;
    Status status;
    std::atomic<bool> done{false};
  };
  std::shared_ptr<PendingSave> save_in_flight_;
  int64_t last_save_ms_ = 0;
  std::deque<Entry> entries_;
  // The clocks as read once per round of delivery reports (on first need).
  struct DeliveryClock {
    std::optional<int64_t> monotonic_ns;
    std::optional<int64_t> wall_ms;
  };
  DeliveryClock delivery_clock_;
  // Events tracked but not yet accepted by the sink, oldest first: a vector
  // consumed from the front (a deque allocated a block per three events).
  class PendingEvents {
   public:
    bool empty() const { return head_ == events_.size(); }
    size_t size() const { return events_.size() - head_; }
    EncodedEvent& front() { return events_[head_]; }
    void push_back(EncodedEvent&& event) {
      // The queue empties whenever the sink takes all it holds, and new
      // events are tracked only then (a refusal stops reading until the rest
      // is taken): it is reused from the start. Should a path track events
      // while some wait, taken ones are dropped once they are most of it.
      if (head_ >= 64 && head_ * 2 >= events_.size()) {
        events_.erase(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
      }
      events_.push_back(std::move(event));
    }
    void pop_front() {
      if (++head_ == events_.size()) clear();
    }
    void clear() {
      events_.clear();
      head_ = 0;
    }

   private:
    std::vector<EncodedEvent> events_;
    size_t head_ = 0;
  };
  PendingEvents pending_;
  uint64_t next_token_ = 1;
  uint64_t stale_below_ = 0;
  uint64_t in_flight_records_ = 0;
  uint64_t in_flight_bytes_ = 0;
  int64_t batch_started_ms_ = -1;
  int64_t last_activity_ms_ = 0;
  bool rewind_pending_ = false;
  bool sink_full_ = false;
  bool caught_up_ = false;
  uint64_t head_seen_ = 0;
  uint64_t table_sequence_ = 0;
  int64_t lag_ms_ = 0;
  std::optional<SnapshotReason> snapshot_request_;
  // How far the running snapshot's chunks were read (SnapshotProgress's high
  // water), stored with every position while it runs; dirty until stored.
  std::optional<store::Item> high_water_key_;
  bool read_to_end_ = false;
  bool high_water_dirty_ = false;
  // After a restart or rewind in a snapshot: keys after the acknowledged last
  // key up to the high water may have reached the destination, so their
  // deletes are published. nullopt when not recovering.
  struct Recovery {
    bool to_end = false;
    std::optional<std::string> through;  // OrderedKey of the high water key
  };
  std::optional<Recovery> recovery_;
  std::optional<ChunkState> chunk_;
  std::vector<EncodedEvent> scratch_;

  // Controls from other threads.
  std::mutex command_mu_;
  std::condition_variable command_cv_;
  std::vector<Command> commands_;

  // What GetStatus and position() return.
  mutable std::mutex status_mu_;
  SourceStatus status_;

  std::jthread thread_;
};

}  // namespace keystone::cdc
