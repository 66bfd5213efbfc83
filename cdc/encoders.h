#pragma once

// Encoders: turn a ChangeEvent into the messages a source publishes, in one of
// two envelopes.
//
// debezium: key = JSON object of the item's key attributes ({"pk":"user#1"});
//   value = {"before":...,"after":...,"source":{"version","connector":
//   "keystone","name","ts_ms","snapshot","db","table","seq"},"op","ts_ms"}.
//   Attributes are plain JSON: numbers keep their exact decimal text as JSON
//   numbers, B as base64, sets as arrays, M and L nested. "before"/"after" are
//   the old/new image when the event carries it, else null. source.ts_ms is
//   when the change was written (snapshot: when the chunk was read), the outer
//   ts_ms when it was encoded; source.snapshot is "true" for snapshot reads,
//   "last" for the snapshot's last item, "false" otherwise. With
//   debezium_schema, key and value take the JSON converter's
//   {"schema":...,"payload":...} form with a schema derived per message from
//   the attributes present (S string, N int64 when integral else double, B
//   bytes, BOOL boolean, M struct, L/SS/NS/BS arrays; a list whose elements
//   differ in schema is sent as a JSON string named io.debezium.data.Json).
//   A REMOVE is followed by a tombstone (same key, null value) when tombstones
//   are on. A truncate has a null key and null images (op "t").
//
// dynamodb: the DynamoDB Streams record as GetRecords returns it: {"eventID",
//   "eventName","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion",
//   "dynamodb":{"ApproximateCreationDateTime" (epoch seconds),"Keys",
//   "NewImage","OldImage","SequenceNumber" (21-digit zero-padded),"SizeBytes",
//   "StreamViewType"}} with typed attribute values. The message key is the same
//   plain JSON key as debezium's (so both formats partition alike). Snapshot
//   reads are INSERT records whose eventID carries the snapshot ordinal;
//   truncates are eventName "TRUNCATE" with empty Keys (not part of DynamoDB
//   Streams; filter TRUNCATE out for strict consumers). Tombstones as above.
//
// Every event carries the headers of event_sink.h: keystone.seq, keystone.op,
// keystone.table, keystone.source, then the event's extra headers.
//
// Thread safety: an Encoder reuses internal buffers; use one per thread.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cdc/change_event.h"
#include "cdc/event_sink.h"
#include "cdc/source_options.h"
#include "lmdb_store/attribute_value.h"
#include "lmdb_store/stream_record.h"

namespace keystone::cdc {

namespace internal {
// What the envelopes are written from (defined in encoders.cc).
struct EnvelopeImage;
struct Envelope;
}  // namespace internal

// Keystone's version, as debezium's source.version reports it.
std::string_view KeystoneVersion();

struct EncoderOptions {
  EventFormat format = EventFormat::kDebezium;
  bool debezium_schema = false;
  bool tombstones = true;
  // Source name (debezium source.name, header keystone.source).
  std::string source;
  std::string table;
  // The topic every event goes to (already expanded).
  std::string topic;
  // debezium source.db.
  std::string db = "keystone";
  // dynamodb awsRegion.
  std::string region = "us-east-1";
};

class Encoder {
 public:
  explicit Encoder(EncoderOptions options);
  ~Encoder();
  Encoder(Encoder&&) noexcept;
  Encoder& operator=(Encoder&&) noexcept;

  // Appends the messages of `change` to *out: one, or two when a tombstone
  // follows a REMOVE (sub_index 1). `now_ms` is the envelope's ts_ms. Tokens
  // are left 0 for the caller to assign.
  void Encode(const ChangeEvent& change, int64_t now_ms, std::vector<EncodedEvent>* out);

  // A heartbeat (op "h"): key {"source":NAME}, value {"source","table","seq":
  // head_sequence,"ts_ms"}; header keystone.seq = head_sequence. Its
  // EncodedEvent::sequence is 0 (it comes from no record).
  EncodedEvent Heartbeat(uint64_t head_sequence, int64_t now_ms);

  // A gap marker (op "g"): records after `after` through `through` were
  // dropped by retention before the source published them. Key as a
  // heartbeat's; value {"source","table","op":"g","gap":{"after","through"},
  // "ts_ms"}; sequence and header keystone.seq = `through`.
  EncodedEvent GapMarker(uint64_t after, uint64_t through, int64_t now_ms);

  // As Encode for the change of `record`, a stream record left encoded, with
  // what `view` (NarrowedView) keeps of its images. The envelope is written
  // straight from the stored encoding, without building Items (except for
  // the debezium schema, and a dynamodb record missing an image it has,
  // which decode it). kInternal when the record is corrupt; nothing is
  // appended then.
  Status EncodeRecord(const store::EncodedStreamRecord& record, const PublishedView& view,
                      int64_t now_ms, std::vector<EncodedEvent>* out);

  // The message key of an item (plain JSON object of `keys`, or the
  // schema+payload form).
  std::string KeyJson(const store::Item& keys);

  // Takes back an event the caller is done with, so that a later Encode
  // reuses its strings' memory (a source hands each event back once the
  // sink took it). Keeps at most kMaxSpare.
  void Recycle(EncodedEvent&& event);
  static constexpr size_t kMaxSpare = 1024;
  // Moves the kept events to the end of *out (for another encoder's Recycle).
  void TakeSpares(std::vector<EncodedEvent>* out);

  const EncoderOptions& options() const { return options_; }

 private:
  using Image = internal::EnvelopeImage;
  using Envelope = internal::Envelope;
  Status KeyJsonOf(const Image& keys, std::string* out);
  Status DebeziumValue(const Envelope& change, int64_t now_ms, std::string* out);
  Status DynamoDbValue(const Envelope& change, std::string* out);
  // Appends the Debezium `source` block of `change`.
  void AppendSourceBlock(const Envelope& change, std::string* out) const;
  // Appends the event (and tombstone) of `change`; kInternal only from a
  // corrupt encoded image.
  Status EncodeEnvelope(const Envelope& change, int64_t now_ms, std::vector<EncodedEvent>* out);
  // SetStandardHeaders with this encoder's table and source.
  void SetHeaders(uint64_t sequence, char op, EncodedEvent* event) const;
  // A recycled event with its fields reset (its strings keep their memory),
  // or a new one.
  EncodedEvent Reuse();

  // Reused JSON buffers (defined in the .cc: rapidjson stays private).
  struct Scratch;
  std::unique_ptr<Scratch> scratch_;
  EncoderOptions options_;
  std::vector<EncodedEvent> spare_;
  std::string envelope_name_;
  // The debezium source block's constant text before ts_ms and after
  // snapshot (through "seq":).
  std::string source_head_;
  std::string source_tail_;
  std::string key_schema_name_;
};

// Makes `event`'s headers keystone.seq, keystone.op, keystone.table and
// keystone.source, dropping any others (overwritten in place, so that a
// reused event keeps its strings' memory).
void SetStandardHeaders(uint64_t sequence, char op, std::string_view table, std::string_view source,
                        EncodedEvent* event);

// Standard base64 with padding.
std::string Base64Encode(std::string_view bytes);

// "%021u": DynamoDB Streams' SequenceNumber text.
std::string SequenceNumberText(uint64_t sequence);

}  // namespace keystone::cdc
