#pragma once

// CdcPosition: how far a CDC source got, stored in the ItemStore as a
// ReaderPosition (so that it pins the stream against retention) with the
// snapshot state in the position's opaque payload. Value types and free
// functions; the functions are as thread-safe as the ItemStore they use.
//
// Meaning. Every stream record of the table with sequence <= `sequence` is
// reflected in acknowledged events (or was filtered out). While a snapshot
// runs, `sequence` stays where the stream stood when the snapshot began (0 for
// a first snapshot) and `snapshot` says how far the snapshot got:
// `last_key` is the last item (in key order) whose snapshot read was
// acknowledged, and every stream record up to `snapshot.stream_sequence` for a
// key at or before last_key is published too. Items after last_key are still
// to be read; the chunks that read them will reflect every change to them up
// to the chunk's sequence, so their stream records up to there are not
// published. When the snapshot completes, `sequence` becomes the sequence the
// last chunk was read at.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "lmdb_store/attribute_value.h"
#include "lmdb_store/item_store.h"

namespace keystone::cdc {

// Why a snapshot runs.
enum class SnapshotReason : uint8_t {
  kInitial = 1,    // first start without a position (snapshot: initial, ...)
  kGap = 2,        // the position fell behind the retained stream
  kTriggered = 3,  // asked for at runtime
};
std::string_view SnapshotReasonName(SnapshotReason reason);

struct SnapshotProgress {
  bool active = false;
  SnapshotReason reason = SnapshotReason::kInitial;
  // The last item handled, as its key attributes; nullopt before the first.
  std::optional<store::Item> last_key;
  // Stream sequence at which the chunk holding last_key was read.
  uint64_t chunk_sequence = 0;
  // The snapshot's stream cursor (see the file comment); >= chunk_sequence.
  uint64_t stream_sequence = 0;
  // How far chunks were read (stored before their items are sent): the last
  // key of the newest chunk read, or the whole table (read_to_end). Items up
  // to here may have reached the destination even if not acknowledged; after
  // a crash, the resumed snapshot publishes the deletes of such keys that its
  // own chunks can no longer show.
  std::optional<store::Item> high_water_key;
  bool read_to_end = false;
  // Items handled so far (the next item's snapshot ordinal).
  uint64_t items = 0;
  int64_t started_ms = 0;
  friend bool operator==(const SnapshotProgress&, const SnapshotProgress&) = default;
};

struct CdcPosition {
  std::string source;
  std::string table;
  // Last stream sequence number fully handled (see the file comment).
  uint64_t sequence = 0;
  SnapshotProgress snapshot;
  // When the position was last stored (set by the store), ms since the epoch.
  int64_t updated_ms = 0;
  friend bool operator==(const CdcPosition&, const CdcPosition&) = default;
};

// "cdc:<source>": the ReaderPosition name a source's position is stored under.
std::string PositionName(std::string_view source);

// The payload format (version byte first; stable on disk).
std::string EncodePositionPayload(const SnapshotProgress& snapshot);
// kInternal when `payload` is not a valid encoding.
Status DecodePositionPayload(std::string_view payload, SnapshotProgress* snapshot);

// Conversions to and from the stored form. `pins`: whether the stored
// position holds back retention (false for tables without a stream).
store::ReaderPosition ToReaderPosition(const CdcPosition& position, bool pins = true);
// kInternal for a corrupt payload, kInvalidArgument when `stored` is not a CDC
// position (its name lacks the "cdc:" prefix).
Result<CdcPosition> FromReaderPosition(const store::ReaderPosition& stored);

// The stored position of `source`; nullopt when it has none. Errors are the
// store's (kIoError) or kInternal for a corrupt payload.
Result<std::optional<CdcPosition>> LoadCdcPosition(store::ItemStore& store,
                                                   std::string_view source);
// Stores `position` atomically (replacing the previous one) and durably as the
// store's options say.
Status SaveCdcPosition(store::ItemStore& store, const CdcPosition& position, bool pins = true);
// The same, queued: `done` gets the status on the store's writer thread.
void SaveCdcPositionAsync(store::ItemStore& store, const CdcPosition& position, bool pins,
                          std::function<void(Status)> done);
// Removes the stored position; OK when there is none.
Status DeleteCdcPosition(store::ItemStore& store, std::string_view source);

}  // namespace keystone::cdc
