#pragma once

// Aggregator: windowed aggregates (the seed's WindowedStream). A source with
// `aggregate` options publishes, instead of one event per change, one event
// per group at the close of each tumbling window.
//
// Windows are aligned to the epoch: [k × size, (k + 1) × size) in ms, and a
// change belongs to the window of its record's timestamp (the write time), so
// that replaying the stream after a crash rebuilds the same windows. A window
// closes when a change of a later window arrives, or when the source, caught
// up with the stream, sees its (injected) clock pass the window's end. A late
// change (timestamp before the open window, e.g. from a writer whose clock
// lags) is counted in the open window.
//
// Groups: the change's event type, and the text of the `group_by` attribute
// when configured (absent attribute: group null). Per group: count (changes),
// and over the numeric values of `attribute` (N; others are ignored): sum
// (exact decimal; null if it overflows 38 digits), avg (sum / numeric values,
// 17 significant digits, half away from zero), min, max (null when no value).
// The attribute and group are read from the new image, or the old one for
// REMOVE, or the keys when the change carries no image.
//
// Thread-compatible: one per source, used from the source's thread.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cdc/change_event.h"
#include "cdc/encoders.h"
#include "cdc/event_sink.h"
#include "cdc/source_options.h"
#include "lmdb_store/number.h"

namespace keystone::cdc {

struct AggregateGroup {
  EventType event_type = EventType::kInsert;
  std::optional<std::string> group;
  uint64_t count = 0;
  // Values of the attribute that were numbers.
  uint64_t numeric_count = 0;
  store::Number sum;
  bool sum_overflow = false;
  std::optional<store::Number> min;
  std::optional<store::Number> max;
};

struct AggregateWindow {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  // Sequence numbers of the first and last change counted.
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  // Ordered by event type, then group (null first).
  std::vector<AggregateGroup> groups;
};

class Aggregator {
 public:
  explicit Aggregator(AggregateOptions options);

  // Counts `change` (not a truncate: those are not aggregated) in its window.
  // When that window starts after the open one, the open one is closed first
  // and returned.
  std::optional<AggregateWindow> Add(const ChangeEvent& change);

  // Closes and returns the open window when `now_ms` reached its end.
  std::optional<AggregateWindow> CloseIfDue(int64_t now_ms);

  bool has_open_window() const { return open_.has_value(); }
  // End of the open window. REQUIRES: has_open_window().
  int64_t open_window_end_ms() const { return open_->end_ms; }

  // Forgets the open window (the source replays its changes after a rewind).
  void Reset() { open_.reset(); }

  const AggregateOptions& options() const { return options_; }

 private:
  struct Open {
    int64_t start_ms = 0;
    int64_t end_ms = 0;
    uint64_t first_sequence = 0;
    uint64_t last_sequence = 0;
    std::map<std::pair<int, std::optional<std::string>>, AggregateGroup> groups;
  };
  AggregateWindow Finish();

  AggregateOptions options_;
  int64_t window_ms_;
  std::optional<Open> open_;
};

// The events of a closed window, one per group in group order, appended to
// *out: key {"window_start","event_type","group"}, value {"source","table",
// "window_start","window_end","event_type","group_by","group","attribute",
// "count","sum","avg","min","max","first_seq","last_seq"} with only the
// configured functions (and group_by/attribute only when configured); header
// keystone.op "a", keystone.seq and EncodedEvent::sequence the window's last
// sequence, sub_index the group's index. Tokens are left 0.
void EncodeWindow(const AggregateWindow& window, const AggregateOptions& options,
                  const EncoderOptions& encoder, std::vector<EncodedEvent>* out);

// sum / count as decimal text with at most 17 significant digits, rounded
// half away from zero. REQUIRES: count > 0.
std::string AverageText(const store::Number& sum, uint64_t count);

}  // namespace keystone::cdc
