#include "lmdb_store/item_store.h"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "base/check.h"
#include "base/log.h"
#include "base/thread_name.h"
#include "base/wake_batch.h"
#include "lmdb_store/expression.h"
#include "lmdb_store/item_codec.h"
#include "lmdb_store/key_codec.h"
#include "lmdb_store/lmdb_env.h"
#include "lmdb_store/varint.h"

namespace keystone::store {
namespace {

using Db = LmdbEnv::Db;
using Txn = LmdbEnv::Txn;

constexpr std::string_view kMetaSequence = "sequence";
constexpr std::string_view kMetaNextTableId = "next_table_id";
// Bumped (8 bytes, big-endian) by every transaction that adds a table name to
// the catalog or removes one, so that a reader can tell from one lookup in
// its own snapshot whether a table's ids and keys it decoded earlier still
// hold (ItemStoreImpl::LoadTableKeys). Absent in stores older than it: 0.
constexpr std::string_view kMetaCatalogVersion = "catalog_version";
constexpr std::string_view kMetaFormat = "format";
constexpr std::string_view kFormatVersion = "keystone-store-1";

// ---------------------------------------------------------------------------
// Small binary encoding helpers for the catalog and positions.

void PutString(std::string_view s, std::string* out) { PutLengthPrefixed(s, out); }

bool GetString(std::string_view* in, std::string* s) {
  std::string_view view;
  if (!GetLengthPrefixed(in, &view)) return false;
  s->assign(view);
  return true;
}

// ---------------------------------------------------------------------------
// TableState: a table's schema and counters, stored under its id in kTables.
// The name index (kCatalog) maps live table names to ids; a deleted table's
// state stays (exists = false) while its stream still holds records.

// A secondary index's storage state. Its entries live in kItems under their
// own id (allocated from kMetaNextTableId as table ids are): see IndexEntryKey.
struct IndexState {
  uint32_t id = 0;
  uint64_t item_count = 0;
  uint64_t item_bytes = 0;  // ItemSizeBytes of the projections stored
  // Being filled from the table (ItemStoreImpl::BackfillIndex); writes keep
  // it up to date meanwhile, but its counters lag until the fill ends.
  bool backfilling = false;
};

struct TableState {
  uint32_t id = 0;
  TableSchema schema;
  // One per schema.indexes entry, in the same order.
  std::vector<IndexState> index_states;
  bool exists = true;
  int64_t created_ms = 0;
  int64_t stream_label_ms = 0;
  uint64_t item_count = 0;
  uint64_t item_bytes = 0;
  uint64_t stream_count = 0;
  uint64_t stream_bytes = 0;
  uint64_t oldest_sequence = 0;
  uint64_t latest_sequence = 0;
  uint64_t trimmed_through = 0;
  uint64_t label_start_sequence = 0;
  // The stream was enabled when the table was created and never disabled
  // since: its records (if none were trimmed) are the table's whole history.
  bool stream_since_creation = false;
  // The store's head sequence when the table was created (0 for tables
  // stored before this was kept).
  uint64_t created_sequence = 0;
  // When schema.billing.mode last changed (created_ms for tables stored
  // before billing was kept).
  int64_t billing_changed_ms = 0;
  // When the stream was last disabled (0: never, or stored before this was
  // kept), and the streams that enabling it again replaced, newest first.
  int64_t stream_disabled_ms = 0;
  std::vector<ReplacedStream> replaced_streams;
};

// Items a write of an index fill reads (see ItemStoreImpl::FinishBackfill):
// few enough that writes of clients wait little behind one.
constexpr size_t kBackfillItemsPerWrite = 256;

// Replaced streams kept per table at most (older ones are dropped early).
constexpr size_t kMaxReplacedStreams = 16;

constexpr uint8_t kTableStateFormat = 1;

std::string EncodeTableState(const TableState& t) {
  std::string out;
  out.push_back(static_cast<char>(kTableStateFormat));
  PutVarint(t.id, &out);
  PutString(t.schema.name, &out);
  PutString(t.schema.partition_key.name, &out);
  out.push_back(static_cast<char>(t.schema.partition_key.type));
  out.push_back(t.schema.sort_key ? 1 : 0);
  if (t.schema.sort_key) {
    PutString(t.schema.sort_key->name, &out);
    out.push_back(static_cast<char>(t.schema.sort_key->type));
  }
  out.push_back(t.schema.stream.enabled ? 1 : 0);
  out.push_back(static_cast<char>(t.schema.stream.view_type));
  PutVarint(t.schema.stream.buffer_size, &out);
  out.push_back(t.exists ? 1 : 0);
  for (uint64_t v : {static_cast<uint64_t>(t.created_ms), static_cast<uint64_t>(t.stream_label_ms),
                     t.item_count, t.item_bytes, t.stream_count, t.stream_bytes, t.oldest_sequence,
                     t.latest_sequence, t.trimmed_through, t.label_start_sequence}) {
    PutVarint(v, &out);
  }
  // Optional trailing fields (entries written before they existed end here).
  out.push_back(t.stream_since_creation ? 1 : 0);
  PutVarint(t.created_sequence, &out);
  // Billing, added after created_sequence; entries without it are
  // PAY_PER_REQUEST since creation.
  out.push_back(static_cast<char>(t.schema.billing.mode));
  PutVarint(t.schema.billing.read_capacity_units, &out);
  PutVarint(t.schema.billing.write_capacity_units, &out);
  PutVarint(static_cast<uint64_t>(t.billing_changed_ms), &out);
  // Replaced streams, added after billing.
  PutVarint(static_cast<uint64_t>(t.stream_disabled_ms), &out);
  PutVarint(t.replaced_streams.size(), &out);
  for (const ReplacedStream& r : t.replaced_streams) {
    PutVarint(static_cast<uint64_t>(r.label_ms), &out);
    PutVarint(r.start_sequence, &out);
    PutVarint(r.end_sequence, &out);
    out.push_back(static_cast<char>(r.view_type));
    PutVarint(static_cast<uint64_t>(r.disabled_ms), &out);
  }
  // Time to Live, added after replaced streams; entries without it have it
  // disabled.
  out.push_back(t.schema.ttl.enabled ? 1 : 0);
  PutString(t.schema.ttl.attribute_name, &out);
  // Tags, added after Time to Live.
  PutVarint(t.schema.tags.size(), &out);
  for (const auto& [key, value] : t.schema.tags) {
    PutString(key, &out);
    PutString(value, &out);
  }
  // Secondary indexes, added after tags.
  PutVarint(t.schema.indexes.size(), &out);
  for (size_t i = 0; i < t.schema.indexes.size(); ++i) {
    const SecondaryIndex& index = t.schema.indexes[i];
    const IndexState& state = t.index_states[i];
    PutString(index.name, &out);
    out.push_back(index.global ? 1 : 0);
    PutString(index.partition_key.name, &out);
    out.push_back(static_cast<char>(index.partition_key.type));
    out.push_back(index.sort_key ? 1 : 0);
    if (index.sort_key) {
      PutString(index.sort_key->name, &out);
      out.push_back(static_cast<char>(index.sort_key->type));
    }
    out.push_back(static_cast<char>(index.projection.type));
    PutVarint(index.projection.non_key_attributes.size(), &out);
    for (const std::string& name : index.projection.non_key_attributes) PutString(name, &out);
    PutVarint(index.read_capacity_units, &out);
    PutVarint(index.write_capacity_units, &out);
    PutVarint(state.id, &out);
    PutVarint(state.item_count, &out);
    PutVarint(state.item_bytes, &out);
    out.push_back(state.backfilling ? 1 : 0);
  }
  return out;
}

Status DecodeTableState(std::string_view in, TableState* t) {
  auto corrupt = [] { return Internal("corrupt table entry in the store catalog"); };
  if (in.empty() || static_cast<uint8_t>(in[0]) != kTableStateFormat) return corrupt();
  in.remove_prefix(1);
  uint64_t v = 0;
  if (!GetVarint(&in, &v)) return corrupt();
  t->id = static_cast<uint32_t>(v);
  if (!GetString(&in, &t->schema.name) || !GetString(&in, &t->schema.partition_key.name) ||
      in.size() < 2) {
    return corrupt();
  }
  t->schema.partition_key.type = static_cast<AttributeType>(in[0]);
  bool has_sort = in[1] != 0;
  in.remove_prefix(2);
  t->schema.sort_key.reset();
  if (has_sort) {
    KeyAttribute sort;
    if (!GetString(&in, &sort.name) || in.empty()) return corrupt();
    sort.type = static_cast<AttributeType>(in[0]);
    in.remove_prefix(1);
    t->schema.sort_key = sort;
  }
  if (in.size() < 2) return corrupt();
  t->schema.stream.enabled = in[0] != 0;
  t->schema.stream.view_type = static_cast<StreamViewType>(in[1]);
  in.remove_prefix(2);
  if (!GetVarint(&in, &t->schema.stream.buffer_size) || in.empty()) return corrupt();
  t->exists = in[0] != 0;
  in.remove_prefix(1);
  uint64_t fields[10];
  for (uint64_t& f : fields) {
    if (!GetVarint(&in, &f)) return corrupt();
  }
  t->created_ms = static_cast<int64_t>(fields[0]);
  t->stream_label_ms = static_cast<int64_t>(fields[1]);
  t->item_count = fields[2];
  t->item_bytes = fields[3];
  t->stream_count = fields[4];
  t->stream_bytes = fields[5];
  t->oldest_sequence = fields[6];
  t->latest_sequence = fields[7];
  t->trimmed_through = fields[8];
  t->label_start_sequence = fields[9];
  t->stream_since_creation = false;
  if (!in.empty()) {
    t->stream_since_creation = in[0] != 0;
    in.remove_prefix(1);
  }
  t->created_sequence = 0;
  if (!in.empty() && !GetVarint(&in, &t->created_sequence)) return corrupt();
  t->schema.billing = BillingConfig{};
  t->billing_changed_ms = t->created_ms;
  if (!in.empty()) {
    auto mode = static_cast<BillingMode>(in[0]);
    if (mode != BillingMode::kPayPerRequest && mode != BillingMode::kProvisioned) {
      return corrupt();
    }
    in.remove_prefix(1);
    uint64_t changed_ms = 0;
    if (!GetVarint(&in, &t->schema.billing.read_capacity_units) ||
        !GetVarint(&in, &t->schema.billing.write_capacity_units) || !GetVarint(&in, &changed_ms)) {
      return corrupt();
    }
    t->schema.billing.mode = mode;
    t->billing_changed_ms = static_cast<int64_t>(changed_ms);
  }
  t->stream_disabled_ms = 0;
  t->replaced_streams.clear();
  if (!in.empty()) {
    uint64_t disabled_ms = 0, count = 0;
    if (!GetVarint(&in, &disabled_ms) || !GetVarint(&in, &count) || count > kMaxReplacedStreams) {
      return corrupt();
    }
    t->stream_disabled_ms = static_cast<int64_t>(disabled_ms);
    for (uint64_t i = 0; i < count; ++i) {
      ReplacedStream r;
      uint64_t label = 0, disabled = 0;
      if (!GetVarint(&in, &label) || !GetVarint(&in, &r.start_sequence) ||
          !GetVarint(&in, &r.end_sequence) || in.empty()) {
        return corrupt();
      }
      r.view_type = static_cast<StreamViewType>(in[0]);
      in.remove_prefix(1);
      if (!GetVarint(&in, &disabled)) return corrupt();
      r.label_ms = static_cast<int64_t>(label);
      r.disabled_ms = static_cast<int64_t>(disabled);
      t->replaced_streams.push_back(r);
    }
  }
  t->schema.ttl = TimeToLiveConfig{};
  if (!in.empty()) {
    t->schema.ttl.enabled = in[0] != 0;
    in.remove_prefix(1);
    if (!GetString(&in, &t->schema.ttl.attribute_name)) return corrupt();
  }
  t->schema.tags.clear();
  if (!in.empty()) {
    uint64_t count = 0;
    if (!GetVarint(&in, &count) || count > kMaxTableTags) return corrupt();
    for (uint64_t i = 0; i < count; ++i) {
      std::string key, value;
      if (!GetString(&in, &key) || !GetString(&in, &value)) return corrupt();
      t->schema.tags.emplace(std::move(key), std::move(value));
    }
  }
  t->schema.indexes.clear();
  t->index_states.clear();
  if (!in.empty()) {
    uint64_t count = 0;
    if (!GetVarint(&in, &count) || count > kMaxGlobalIndexes + kMaxLocalIndexes) return corrupt();
    auto get_key = [&](KeyAttribute* key) {
      if (!GetString(&in, &key->name) || in.empty()) return false;
      key->type = static_cast<AttributeType>(in[0]);
      in.remove_prefix(1);
      return true;
    };
    for (uint64_t i = 0; i < count; ++i) {
      SecondaryIndex index;
      IndexState state;
      if (!GetString(&in, &index.name) || in.empty()) return corrupt();
      index.global = in[0] != 0;
      in.remove_prefix(1);
      if (!get_key(&index.partition_key) || in.empty()) return corrupt();
      bool has_sort = in[0] != 0;
      in.remove_prefix(1);
      if (has_sort) {
        KeyAttribute sort;
        if (!get_key(&sort)) return corrupt();
        index.sort_key = std::move(sort);
      }
      if (in.empty()) return corrupt();
      index.projection.type = static_cast<ProjectionType>(in[0]);
      in.remove_prefix(1);
      uint64_t names = 0;
      if (!GetVarint(&in, &names) || names > kMaxIndexNonKeyAttributes) return corrupt();
      for (uint64_t n = 0; n < names; ++n) {
        std::string name;
        if (!GetString(&in, &name)) return corrupt();
        index.projection.non_key_attributes.push_back(std::move(name));
      }
      uint64_t id = 0;
      if (!GetVarint(&in, &index.read_capacity_units) ||
          !GetVarint(&in, &index.write_capacity_units) || !GetVarint(&in, &id) || id > UINT32_MAX ||
          !GetVarint(&in, &state.item_count) || !GetVarint(&in, &state.item_bytes) || in.empty()) {
        return corrupt();
      }
      state.id = static_cast<uint32_t>(id);
      state.backfilling = in[0] != 0;
      in.remove_prefix(1);
      t->schema.indexes.push_back(std::move(index));
      t->index_states.push_back(state);
    }
  }
  return Status::Ok();
}

// Whether a replaced stream can still be read at `now_ms`.
bool StillReadable(const TableState& t, const ReplacedStream& r, int64_t now_ms) {
  return now_ms - r.disabled_ms < kReplacedStreamReadableMs && r.end_sequence > t.trimmed_through;
}

std::string TableIdKey(uint32_t id) {
  std::string key;
  AppendBigEndian32(id, &key);
  return key;
}

std::string StreamKey(uint32_t table_id, uint64_t sequence) {
  std::string key;
  key.reserve(12);
  AppendBigEndian32(table_id, &key);
  AppendBigEndian64(sequence, &key);
  return key;
}

constexpr uint8_t kPositionFormat = 1;

std::string EncodePosition(const ReaderPosition& p) {
  std::string out;
  out.push_back(static_cast<char>(kPositionFormat));
  PutString(p.table, &out);
  PutVarint(p.sequence, &out);
  out.push_back(p.pins ? 1 : 0);
  PutVarint(static_cast<uint64_t>(p.updated_ms), &out);
  PutString(p.payload, &out);
  return out;
}

Status DecodePosition(std::string_view name, std::string_view in, ReaderPosition* p) {
  auto corrupt = [&] { return Internal("corrupt reader position " + std::string(name)); };
  if (in.empty() || static_cast<uint8_t>(in[0]) != kPositionFormat) return corrupt();
  in.remove_prefix(1);
  p->name = std::string(name);
  uint64_t updated = 0;
  if (!GetString(&in, &p->table) || !GetVarint(&in, &p->sequence) || in.empty()) return corrupt();
  p->pins = in[0] != 0;
  in.remove_prefix(1);
  if (!GetVarint(&in, &updated) || !GetString(&in, &p->payload)) return corrupt();
  p->updated_ms = static_cast<int64_t>(updated);
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Keys.

Status ValidateKeyValue(const KeyAttribute& key_attr, const AttributeValue* value, bool is_sort,
                        bool in_item) {
  if (value == nullptr) {
    if (in_item) {
      return InvalidArgument("One or more parameter values were invalid: Missing the key " +
                             key_attr.name + " in the item");
    }
    return InvalidArgument("The provided key element does not match the schema");
  }
  if (value->type() != key_attr.type) {
    return InvalidArgument("One or more parameter values were invalid: Type mismatch for key " +
                           key_attr.name +
                           " expected: " + std::string(AttributeTypeName(key_attr.type)) +
                           " actual: " + std::string(AttributeTypeName(value->type())));
  }
  size_t size = 0;
  if (value->is(AttributeType::kS)) size = value->s().size();
  if (value->is(AttributeType::kB)) size = value->b().size();
  if ((value->is(AttributeType::kS) || value->is(AttributeType::kB)) && size == 0) {
    return InvalidArgument(
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        "cannot contain an empty " +
        std::string(value->is(AttributeType::kS) ? "string" : "binary") +
        " value. Key: " + key_attr.name);
  }
  if (value->is(AttributeType::kN)) size = value->SizeBytes();
  if (!is_sort && size > kMaxPartitionKeyBytes) {
    return InvalidArgument(
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum "
        "size limit of 2048 bytes");
  }
  if (is_sort && size > kMaxSortKeyBytes) {
    return InvalidArgument(
        "One or more parameter values were invalid: Aggregated size of all range keys has "
        "exceeded the size limit of 1024 bytes");
  }
  return Status::Ok();
}

// The LMDB key of the item with these key attributes. `exact`: `item` must
// hold only the key attributes (a Key parameter), else it is a whole item.
Result<std::string> EncodeStorageKey(const TableState& t, const Item& item, bool exact) {
  const TableSchema& schema = t.schema;
  auto pk = item.find(schema.partition_key.name);
  KS_RETURN_IF_ERROR(ValidateKeyValue(schema.partition_key,
                                      pk == item.end() ? nullptr : &pk->second, false, !exact));
  const AttributeValue* sk_value = nullptr;
  if (schema.sort_key) {
    auto sk = item.find(schema.sort_key->name);
    sk_value = sk == item.end() ? nullptr : &sk->second;
    KS_RETURN_IF_ERROR(ValidateKeyValue(*schema.sort_key, sk_value, true, !exact));
  }
  if (exact && item.size() != (schema.sort_key ? 2u : 1u)) {
    return InvalidArgument("The provided key element does not match the schema");
  }
  std::string key;
  key.reserve(32);
  AppendBigEndian32(t.id, &key);
  AppendOrderedKey(pk->second, &key);
  if (sk_value != nullptr) AppendOrderedKey(*sk_value, &key);
  return key;
}

// ---------------------------------------------------------------------------
// Stored item keys. LMDB keys are at most 511 bytes, but DynamoDB keys reach
// 2048 + 1024 bytes. A full key (table id + ordered pk + ordered sk) of up to
// kMaxDirectKey bytes is stored as it is. A longer one is stored as its first
// kCutKey bytes followed by a 64-bit hash (kTruncatedKey bytes in all), and
// its value starts with the full key. Every stored key sharing those first
// kCutKey bytes forms a contiguous "group" whose members ItemCursor reorders
// by full key, so that ranges are still read in exact key order.

constexpr size_t kMaxDirectKey = 499;
constexpr size_t kCutKey = 492;
constexpr size_t kTruncatedKey = kCutKey + 8;

uint64_t HashKey(std::string_view key) {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a, 64 bits
  for (char c : key) hash = (hash ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return hash;
}

std::string StoredKey(std::string_view full_key) {
  if (full_key.size() <= kMaxDirectKey) return std::string(full_key);
  std::string stored(full_key.substr(0, kCutKey));
  AppendBigEndian64(HashKey(full_key), &stored);
  return stored;
}

bool IsTruncated(std::string_view stored_key) { return stored_key.size() == kTruncatedKey; }

// Splits a stored entry into its full key and item bytes.
Status SplitStoredEntry(std::string_view stored_key, std::string_view value,
                        std::string_view* full_key, std::string_view* item_bytes) {
  if (!IsTruncated(stored_key)) {
    *full_key = stored_key;
    *item_bytes = value;
    return Status::Ok();
  }
  uint64_t length = 0;
  if (!GetVarint(&value, &length) || length > value.size()) {
    return Internal("corrupt item entry: truncated full key");
  }
  *full_key = value.substr(0, length);
  *item_bytes = value.substr(length);
  return Status::Ok();
}

// The value to store for `item_bytes` under `full_key`.
void EncodeStoredValue(std::string_view full_key, std::string_view item_bytes, std::string* out) {
  out->clear();
  if (full_key.size() > kMaxDirectKey) {
    PutVarint(full_key.size(), out);
    out->append(full_key);
  }
  out->append(item_bytes);
}

// The 8-byte big-endian counter `key` of kMeta in `txn`'s snapshot (0 when
// absent); kInternal naming `what` when it is not 8 bytes.
Result<uint64_t> ReadMetaCounter(const Txn& txn, std::string_view key, std::string_view what) {
  auto raw = txn.Get(Db::kMeta, key);
  if (!raw.ok()) {
    if (raw.status().code() == StatusCode::kNotFound) return uint64_t{0};
    return raw.status();
  }
  if (raw->size() != 8) return Internal("corrupt " + std::string(what));
  return ReadBigEndian64(*raw);
}

// kMetaCatalogVersion in `txn`'s snapshot (0 when never bumped).
Result<uint64_t> ReadCatalogVersion(const Txn& txn) {
  return ReadMetaCounter(txn, kMetaCatalogVersion, "catalog version");
}

// The item bytes stored under `full_key`, or nullopt when absent. A hash
// collision between two long keys (never seen in practice) is reported, not
// silently merged.
Result<std::optional<std::string_view>> GetItemBytes(const Txn& txn, std::string_view full_key) {
  std::string stored = StoredKey(full_key);
  auto raw = txn.Get(Db::kItems, stored);
  if (!raw.ok()) {
    if (raw.status().code() == StatusCode::kNotFound) return std::optional<std::string_view>();
    return raw.status();
  }
  std::string_view found_key, item_bytes;
  KS_RETURN_IF_ERROR(SplitStoredEntry(stored, *raw, &found_key, &item_bytes));
  if (found_key != full_key) {
    return Internal("two item keys of over " + std::to_string(kMaxDirectKey) +
                    " bytes share a stored key (hash collision); refusing to mix them");
  }
  return std::optional<std::string_view>(item_bytes);
}

// Walks the items database in exact full-key order, forward or backward,
// regrouping truncated keys (see above). Views stay valid until the next move.
class ItemCursor {
 public:
  ItemCursor(LmdbEnv* env, MDB_txn* txn, bool forward) : env_(env), forward_(forward) {
    rc_ = mdb_cursor_open(txn, env->dbi(Db::kItems), &cursor_);
  }
  ~ItemCursor() {
    if (cursor_ != nullptr) mdb_cursor_close(cursor_);
  }
  ItemCursor(const ItemCursor&) = delete;
  ItemCursor& operator=(const ItemCursor&) = delete;

  // Forward: the first entry with full key >= `target`. Backward: the last
  // with full key <= `target`.
  Status Seek(std::string_view target) {
    if (rc_ != 0) return env_->Error(rc_, "opening a cursor on items");
    std::string seek(target.size() <= kMaxDirectKey ? target : target.substr(0, kCutKey));
    MDB_val k = ToVal(seek), v;
    int rc = mdb_cursor_get(cursor_, &k, &v, MDB_SET_RANGE);
    if (!forward_) {
      if (rc == MDB_NOTFOUND) {
        rc = mdb_cursor_get(cursor_, &k, &v, MDB_LAST);
      } else if (rc == 0 && FromVal(k) > seek && !StartsWithCut(FromVal(k), seek)) {
        rc = mdb_cursor_get(cursor_, &k, &v, MDB_PREV);
      }
    }
    KS_RETURN_IF_ERROR(Land(rc, k, v));
    // Landing may be short of the target inside a group (or, for a long
    // target, before it): move on to the first entry on the right side.
    while (valid_ && (forward_ ? key_ < target : key_ > target)) KS_RETURN_IF_ERROR(Next());
    return Status::Ok();
  }

  bool valid() const { return valid_; }
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }
  size_t stored_bytes() const { return stored_bytes_; }

  Status Next() {
    if (!group_.empty()) {
      if (++group_pos_ < group_.size()) return SetFromGroup();
      group_.clear();
      // The LMDB cursor already sits past the group on our side.
      MDB_val k, v;
      int rc = after_group_rc_;
      if (rc == 0) rc = mdb_cursor_get(cursor_, &k, &v, MDB_GET_CURRENT);
      return Land(rc, k, v);
    }
    MDB_val k, v;
    int rc = mdb_cursor_get(cursor_, &k, &v, forward_ ? MDB_NEXT : MDB_PREV);
    return Land(rc, k, v);
  }

 private:
  static bool StartsWithCut(std::string_view key, std::string_view seek) {
    return seek.size() >= kCutKey && key.size() >= kCutKey &&
           key.substr(0, kCutKey) == seek.substr(0, kCutKey);
  }

  // Takes the entry the LMDB cursor is on (rc from the move that got there).
  Status Land(int rc, MDB_val k, MDB_val v) {
    valid_ = false;
    if (rc == MDB_NOTFOUND) return Status::Ok();
    if (rc != 0) return env_->Error(rc, "reading items");
    std::string_view stored = FromVal(k);
    if (stored.size() < kCutKey) {
      key_ = stored;
      value_ = FromVal(v);
      stored_bytes_ = v.mv_size;
      valid_ = true;
      return Status::Ok();
    }
    return LoadGroup(std::string(stored.substr(0, kCutKey)));
  }

  // Reads every entry whose stored key starts with `cut`, orders them by full
  // key, and leaves the LMDB cursor just past the group in our direction.
  Status LoadGroup(const std::string& cut) {
    group_.clear();
    MDB_val k = ToVal(cut), v;
    int rc = mdb_cursor_get(cursor_, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && FromVal(k).substr(0, kCutKey) == cut) {
      std::string_view full, item;
      KS_RETURN_IF_ERROR(SplitStoredEntry(FromVal(k), FromVal(v), &full, &item));
      group_.push_back({std::string(full), std::string(item), v.mv_size});
      rc = mdb_cursor_get(cursor_, &k, &v, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return env_->Error(rc, "reading items");
    if (forward_) {
      after_group_rc_ = rc;
    } else {
      // Back to the entry before the group.
      k = ToVal(cut);
      rc = mdb_cursor_get(cursor_, &k, &v, MDB_SET_RANGE);
      if (rc == 0) rc = mdb_cursor_get(cursor_, &k, &v, MDB_PREV);
      if (rc != 0 && rc != MDB_NOTFOUND) return env_->Error(rc, "reading items");
      after_group_rc_ = rc;
    }
    std::sort(group_.begin(), group_.end(),
              [](const GroupEntry& a, const GroupEntry& b) { return a.key < b.key; });
    if (!forward_) std::reverse(group_.begin(), group_.end());
    group_pos_ = 0;
    return SetFromGroup();
  }

  Status SetFromGroup() {
    key_ = group_[group_pos_].key;
    value_ = group_[group_pos_].value;
    stored_bytes_ = group_[group_pos_].stored_bytes;
    valid_ = true;
    return Status::Ok();
  }

  struct GroupEntry {
    std::string key;
    std::string value;
    size_t stored_bytes;
  };

  LmdbEnv* env_;
  MDB_cursor* cursor_ = nullptr;
  int rc_ = 0;
  bool forward_;
  bool valid_ = false;
  std::string_view key_, value_;
  size_t stored_bytes_ = 0;
  std::vector<GroupEntry> group_;
  size_t group_pos_ = 0;
  int after_group_rc_ = 0;
};

Item ExtractKey(const TableSchema& schema, const Item& item) {
  Item key;
  auto pk = item.find(schema.partition_key.name);
  if (pk != item.end()) key.emplace(pk->first, pk->second);
  if (schema.sort_key) {
    auto sk = item.find(schema.sort_key->name);
    if (sk != item.end()) key.emplace(sk->first, sk->second);
  }
  return key;
}

Result<Item> DecodeStorageKey(const TableState& t, std::string_view key) {
  key.remove_prefix(4);
  Item out;
  KS_ASSIGN_OR_RETURN(AttributeValue pk, DecodeOrderedKey(t.schema.partition_key.type, &key));
  out.emplace(t.schema.partition_key.name, std::move(pk));
  if (t.schema.sort_key) {
    KS_ASSIGN_OR_RETURN(AttributeValue sk, DecodeOrderedKey(t.schema.sort_key->type, &key));
    out.emplace(t.schema.sort_key->name, std::move(sk));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Secondary index entries. An item with every key attribute of an index has
// one entry in kItems under the index's id:
//   full key = index id (4 bytes) + ordered(index pk) [+ ordered(index sk)]
//              + the item's table key without the table id
// so that entries run in index key order, those with equal index keys in
// table key order, and no two items share an entry key. The value is the
// item's projection for the index (framed as EncodeStoredValue frames items).

// The index key values of `item`; false when it lacks one, or holds one of
// another type (an item stored before the index existed: DynamoDB leaves
// such items out of a new index too).
bool IndexKeyValues(const SecondaryIndex& index, const Item& item, const AttributeValue** pk,
                    const AttributeValue** sk) {
  auto p = item.find(index.partition_key.name);
  if (p == item.end() || !p->second.is(index.partition_key.type)) return false;
  *pk = &p->second;
  *sk = nullptr;
  if (index.sort_key) {
    auto k = item.find(index.sort_key->name);
    if (k == item.end() || !k->second.is(index.sort_key->type)) return false;
    *sk = &k->second;
  }
  return true;
}

// The index entry key of `item` (stored under table key `storage_key`), or
// nullopt when the index leaves the item out.
std::optional<std::string> IndexEntryKey(const SecondaryIndex& index, uint32_t index_id,
                                         const Item& item, std::string_view storage_key) {
  const AttributeValue* pk = nullptr;
  const AttributeValue* sk = nullptr;
  if (!IndexKeyValues(index, item, &pk, &sk)) return std::nullopt;
  std::string key;
  key.reserve(storage_key.size() + 32);
  AppendBigEndian32(index_id, &key);
  AppendOrderedKey(*pk, &key);
  if (sk != nullptr) AppendOrderedKey(*sk, &key);
  key.append(storage_key.substr(4));
  return key;
}

// What `index` holds of `item`: all of it, or its table and index keys plus
// the INCLUDE attributes it has.
Item ProjectForIndex(const TableSchema& schema, const SecondaryIndex& index, const Item& item) {
  if (index.projection.type == ProjectionType::kAll) return item;
  Item out;
  auto copy = [&](const std::string& name) {
    auto it = item.find(name);
    if (it != item.end()) out.emplace(it->first, it->second);
  };
  copy(schema.partition_key.name);
  if (schema.sort_key) copy(schema.sort_key->name);
  copy(index.partition_key.name);
  if (index.sort_key) copy(index.sort_key->name);
  for (const std::string& name : index.projection.non_key_attributes) copy(name);
  return out;
}

// kInvalidArgument, with DynamoDB's message, when `item` has an attribute
// that is an index key but cannot be one: of another type, an empty string
// or binary, or over the key size limits. Nothing is written then.
Status ValidateIndexKeys(const TableSchema& schema, const Item& item) {
  for (const SecondaryIndex& index : schema.indexes) {
    for (const KeyAttribute* key :
         {&index.partition_key, index.sort_key ? &*index.sort_key : nullptr}) {
      if (key == nullptr) continue;
      auto it = item.find(key->name);
      if (it == item.end()) continue;
      const AttributeValue& value = it->second;
      if (!value.is(key->type)) {
        return InvalidArgument(
            "One or more parameter values were invalid: Type mismatch for Index Key " + key->name +
            " Expected: " + std::string(AttributeTypeName(key->type)) + " Actual: " +
            std::string(AttributeTypeName(value.type())) + " IndexName: " + index.name);
      }
      if ((value.is(AttributeType::kS) && value.s().empty()) ||
          (value.is(AttributeType::kB) && value.b().empty())) {
        return InvalidArgument(
            "One or more parameter values are not valid. A value specified for a secondary index "
            "key is not supported. The AttributeValue for a key attribute cannot contain an "
            "empty " +
            std::string(value.is(AttributeType::kS) ? "string" : "binary") +
            " value. IndexName: " + index.name + ", IndexKey: " + key->name);
      }
      Status valid = ValidateKeyValue(*key, &value, key != &index.partition_key, true);
      if (!valid.ok()) return InvalidArgument(valid.message() + " IndexName: " + index.name);
    }
  }
  return Status::Ok();
}

// The key attributes (the table's and the index's) of the index entry at
// `full_key`, as LastEvaluatedKey holds them; *table_key (may be null)
// receives the table key of its item.
Result<Item> DecodeIndexEntryKey(const TableState& t, const SecondaryIndex& index,
                                 std::string_view full_key, std::string* table_key) {
  std::string_view rest = full_key.substr(4);
  Item out;
  KS_ASSIGN_OR_RETURN(AttributeValue pk, DecodeOrderedKey(index.partition_key.type, &rest));
  out.emplace(index.partition_key.name, std::move(pk));
  if (index.sort_key) {
    KS_ASSIGN_OR_RETURN(AttributeValue sk, DecodeOrderedKey(index.sort_key->type, &rest));
    out.emplace(index.sort_key->name, std::move(sk));
  }
  std::string table_full = TableIdKey(t.id);
  table_full.append(rest);
  KS_ASSIGN_OR_RETURN(Item table_keys, DecodeStorageKey(t, table_full));
  for (auto& [name, value] : table_keys) out.emplace(name, std::move(value));
  if (table_key != nullptr) *table_key = std::move(table_full);
  return out;
}

Status ValidateWholeItem(const Item& item) {
  KS_RETURN_IF_ERROR(ValidateItem(item));
  if (ItemSizeBytes(item) > kMaxItemBytes) {
    return InvalidArgument("Item size has exceeded the maximum allowed size");
  }
  return Status::Ok();
}

Status TableNotFound(const std::string& name) {
  return NotFound("Requested resource not found: Table: " + name + " not found");
}

// Parsed expressions of one write, built in the caller's thread so that the
// writer thread only evaluates.
struct ParsedWrite {
  std::optional<ConditionExpression> condition;
  std::optional<UpdateExpression> update;
};

Result<ParsedWrite> ParseWriteExpressions(const std::string& condition, const std::string& update,
                                          const ExpressionInputs& inputs) {
  ExpressionAttributes attrs(inputs.names, inputs.values);
  ParsedWrite parsed;
  if (!update.empty()) {
    KS_ASSIGN_OR_RETURN(parsed.update, UpdateExpression::Parse(update, attrs));
  }
  if (!condition.empty()) {
    KS_ASSIGN_OR_RETURN(parsed.condition, ConditionExpression::Parse(condition, attrs));
  }
  KS_RETURN_IF_ERROR(attrs.CheckAllUsed());
  return parsed;
}

// ---------------------------------------------------------------------------
// The writer: ops queued by callers, applied in batches by one thread.

class ItemStoreImpl;

// What a write op sees: the batch's transaction and table states.
class BatchContext {
 public:
  BatchContext(LmdbEnv* env, Txn* txn, Clock* clock) : env_(env), txn_(txn), clock_(clock) {}

  Txn& txn() { return *txn_; }
  int64_t now_ms() const { return now_ms_; }

  Status Begin();
  // The live table named `name`, loaded once per batch.
  Result<TableState*> Table(const std::string& name);
  TableState* AddTable(TableState state);
  void MarkDirty(TableState* t) { dirty_.insert(t->id); }
  // Notes that this batch adds a name to the catalog or removes one: Finish()
  // bumps kMetaCatalogVersion once.
  void MarkCatalogChanged() { catalog_changed_ = true; }

  // Reads the stored item at `storage_key` into *item; false when absent.
  Result<bool> ReadItem(std::string_view storage_key, Item* item);
  // The item at `storage_key` (nullopt when absent), once `condition` (if
  // any) holds for it; kConditionFailed otherwise, after handing the item to
  // `on_failure` (when set).
  Result<std::optional<Item>> ReadChecked(std::string_view storage_key,
                                          const std::optional<ConditionExpression>& condition,
                                          const ConditionFailureHook& on_failure);
  // Deletes every item of `t` and its index entries (counters too); returns
  // how many items.
  Result<uint64_t> DeleteAllItems(TableState* t);
  // Deletes every kItems entry under `id` (a table's or an index's); returns
  // how many.
  Result<uint64_t> DeleteIdRange(uint32_t id, const std::string& what);
  // Fills index `index_pos` of `t` from up to `max_items` items after
  // *after_key (the table key of the last item filled; empty: from the
  // start), adding the entries that are not there yet, and advances
  // *after_key. True once the table's end was reached.
  Result<bool> BackfillIndex(TableState* t, size_t index_pos, std::string* after_key,
                             size_t max_items);

  // What ApplyChange did: the stream record's sequence number (0: none) and
  // the DynamoDB sizes of the item before and after (0: absent).
  struct AppliedChange {
    uint64_t sequence = 0;
    uint64_t old_bytes = 0;
    uint64_t new_bytes = 0;
    std::vector<IndexWrite> index_writes;
  };
  // Writes `new_item` (or deletes when null) over `old_item` (null: absent)
  // and appends the stream record, marked expired_by_ttl when so asked (a
  // delete only). Nothing when they are equal.
  Result<AppliedChange> ApplyChange(TableState* t, const std::string& storage_key,
                                    const Item* old_item, const Item* new_item,
                                    bool expired_by_ttl = false);
  // Appends a kTruncate record (stream enabled only).
  Result<uint64_t> AppendTruncate(TableState* t);

  // ClientRequestToken bookkeeping, in kMeta: "txtoken/<token>" holds the
  // transaction's fingerprint (16 bytes) and when it succeeded (8, big-endian
  // ms); "txexpiry/<when><token>" orders them for expiry.
  // The fingerprint a successful transaction recorded for `token` within
  // kClientRequestTokenWindowMs, or nullopt.
  Result<std::optional<std::string>> RecentClientToken(const std::string& token);
  // Records `token` as succeeded now with `fingerprint`, after expiring (a
  // bounded number of) tokens past the window.
  Status RecordClientToken(const std::string& token, std::string_view fingerprint);

  // Writes back dirty tables and the sequence; trims streams.
  Status Finish(uint64_t pin_max_records, uint64_t pin_max_bytes);
  uint64_t sequence() const { return sequence_; }
  // The sequence before this batch's first record.
  uint64_t start_sequence() const { return start_sequence_; }
  uint32_t AllocateTableId();
  // Records dropped by retention in this batch (all, and past a pin cap).
  uint64_t trimmed() const { return trimmed_; }
  uint64_t force_trimmed() const { return force_trimmed_; }

  // Set when an LMDB call failed: the whole batch must be aborted.
  Status env_status;

 private:
  Result<uint64_t> Append(TableState* t, const EncodedStreamRecord& record);
  // Moves the entries of `t`'s indexes from `old_item` to `new_item` (either
  // may be null: absent), stored under table key `storage_key`; `writes`
  // receives the entries that changed. An entry whose key and projection
  // stay the same is left alone.
  Status UpdateIndexes(TableState* t, const std::string& storage_key, const Item* old_item,
                       const Item* new_item, std::vector<IndexWrite>* writes);
  Status Trim(TableState* t, uint64_t pin_max_records, uint64_t pin_max_bytes);
  Result<uint64_t> PinnedSequence(const std::string& table);

  LmdbEnv* env_;
  Txn* txn_;
  Clock* clock_;
  int64_t now_ms_ = 0;
  uint64_t sequence_ = 0;
  uint64_t start_sequence_ = 0;
  uint32_t next_table_id_ = 0;
  bool table_id_dirty_ = false;
  bool catalog_changed_ = false;
  std::unordered_map<std::string, uint32_t> ids_by_name_;
  std::unordered_map<uint32_t, TableState> tables_;
  std::set<uint32_t> dirty_;
  std::set<uint32_t> appended_;
  std::string scratch_;
  std::string value_scratch_;
  // Encodings of the change being applied (ApplyChange), reused across ops.
  std::string new_encoding_;
  std::string old_encoding_;
  std::string keys_encoding_;
  uint64_t trimmed_ = 0;
  uint64_t force_trimmed_ = 0;
};

using WriteFn = std::function<Status(BatchContext&)>;

// A queued write. Synchronous ones live on their caller's stack and are
// signalled through `cv`; asynchronous ones (on_done set) are owned by the
// queue and deleted by the writer once on_done ran.
struct PendingWrite {
  WriteFn fn;
  Status status;
  bool done = false;           // guarded by the store's queue_mu_
  std::condition_variable cv;  // signalled when done
  StatusCallback on_done;
};

// What a Query or Scan reads: the table, or one of its secondary indexes.
struct IndexRead {
  const SecondaryIndex* index = nullptr;  // null: the table
  uint32_t id = 0;                        // the table's or the index's
  const KeyAttribute* partition_key = nullptr;
  const KeyAttribute* sort_key = nullptr;  // null: none
  // Each entry's whole item is read from the table: a local index that does
  // not project everything, read by a filter or projection expression or by
  // Select ALL_ATTRIBUTES (as DynamoDB fetches them).
  bool fetch_items = false;
  // Without a projection expression, fetched items are returned whole
  // (Select ALL_ATTRIBUTES) rather than cut back to the index's projection.
  bool whole_items = false;
};

// The IndexRead of a Query or Scan of `t` naming index `index_name` (empty:
// the table), checked as DynamoDB checks it.
Result<IndexRead> ResolveIndexRead(const TableState& t, const std::string& index_name,
                                   bool select_all, bool has_filter, bool has_projection) {
  IndexRead read;
  if (index_name.empty()) {
    read.id = t.id;
    read.partition_key = &t.schema.partition_key;
    read.sort_key = t.schema.sort_key ? &*t.schema.sort_key : nullptr;
    return read;
  }
  for (size_t i = 0; i < t.schema.indexes.size(); ++i) {
    const SecondaryIndex& index = t.schema.indexes[i];
    if (index.name != index_name) continue;
    if (t.index_states[i].backfilling) {
      return InvalidArgument("Cannot read from backfilling global secondary index: " + index_name);
    }
    bool projects_all = index.projection.type == ProjectionType::kAll;
    if (select_all && index.global && !projects_all) {
      return InvalidArgument(
          "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not "
          "supported for global secondary index " +
          index_name + " because its projection type is not ALL");
    }
    read.index = &index;
    read.id = t.index_states[i].id;
    read.partition_key = &index.partition_key;
    read.sort_key = index.sort_key ? &*index.sort_key : nullptr;
    read.fetch_items =
        !index.global && !projects_all && (select_all || has_filter || has_projection);
    read.whole_items = select_all;
    return read;
  }
  return InvalidArgument("The table does not have the specified index: " + index_name);
}

// The full key a read of `read` resumes after, from an ExclusiveStartKey:
// the table's key attributes, and an index's too.
Result<std::string> EncodeStartKey(const TableState& t, const IndexRead& read, const Item& start) {
  if (read.index == nullptr) return EncodeStorageKey(t, start, true);
  auto invalid = [] {
    return InvalidArgument(
        "The provided starting key is invalid: it must hold exactly the table's and the index's "
        "key attributes");
  };
  KS_ASSIGN_OR_RETURN(std::string table_key, EncodeStorageKey(t, start, false));
  std::set<std::string_view> names = {t.schema.partition_key.name, read.partition_key->name};
  if (t.schema.sort_key) names.insert(t.schema.sort_key->name);
  if (read.sort_key != nullptr) names.insert(read.sort_key->name);
  if (start.size() != names.size()) return invalid();
  std::optional<std::string> key = IndexEntryKey(*read.index, read.id, start, table_key);
  if (!key) return invalid();
  return *std::move(key);
}

// The smallest string above every string that starts with `prefix` (empty
// when there is none: all bytes 0xff).
std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty() && static_cast<uint8_t>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(static_cast<uint8_t>(prefix.back()) + 1);
  return prefix;
}

class ItemStoreImpl final : public ItemStore {
 public:
  ItemStoreImpl(StoreOptions options, std::unique_ptr<LmdbEnv> env)
      : options_(std::move(options)), env_(std::move(env)) {
    clock_ = options_.clock != nullptr ? options_.clock : SystemClock::Default();
  }
  ~ItemStoreImpl() override;

  Status Start();

  Status CreateTable(const TableSchema& schema) override;
  Result<TableDescription> DeleteTable(const std::string& name) override;
  Result<TableDescription> DescribeTable(const std::string& name) override;
  Result<std::vector<std::string>> ListTables() override;
  Result<TableDescription> UpdateTable(const std::string& name, const TableUpdate& update) override;
  Result<uint64_t> TruncateTable(const std::string& name) override;

  Result<WriteResult> PutItem(const PutItemRequest& request) override;
  Result<WriteResult> UpdateItem(const UpdateItemRequest& request) override;
  Result<WriteResult> DeleteItem(const DeleteItemRequest& request) override;
  Result<ExpireResult> ExpireItems(const std::string& table, int64_t now_seconds,
                                   const std::optional<Item>& resume_after,
                                   size_t max_scanned) override;
  Result<std::optional<Item>> GetItem(const GetItemRequest& request, uint64_t* item_bytes) override;
  Result<bool> GetItemEncoded(const GetItemRequest& request, std::string* encoded) override;
  Result<QueryResult> Query(const QueryRequest& request) override;
  Result<QueryResult> Scan(const ScanRequest& request) override;
  Status BatchWrite(const std::vector<BatchWriteEntry>& entries) override;
  Result<BatchGetResult> BatchGet(const std::vector<BatchGetEntry>& entries) override;
  Result<std::vector<std::optional<Item>>> TransactGet(const std::vector<GetItemRequest>& gets,
                                                       std::vector<uint64_t>* item_bytes) override;
  Status TransactWrite(const std::vector<TransactWriteEntry>& entries,
                       std::vector<CancellationReason>* reasons,
                       const std::string& client_request_token) override;
  void PutItemAsync(PutItemRequest request, WriteCallback done) override;
  void UpdateItemAsync(UpdateItemRequest request, WriteCallback done) override;
  void DeleteItemAsync(DeleteItemRequest request, WriteCallback done) override;
  void BatchWriteAsync(std::vector<BatchWriteEntry> entries, BatchWriteCallback done) override;
  void TransactWriteAsync(std::vector<TransactWriteEntry> entries, std::string client_request_token,
                          TransactWriteSizesCallback done) override;
  // The conveniences of ItemStore, which the overrides above would hide.
  using ItemStore::BatchWriteAsync;
  using ItemStore::GetItem;
  using ItemStore::TransactGet;
  using ItemStore::TransactWrite;
  using ItemStore::TransactWriteAsync;

  Result<StreamBatch> ReadStream(const std::string& table, uint64_t after, size_t max) override;
  Result<StreamBatch> ReadTableHistory(const std::string& table, uint64_t after,
                                       size_t max) override;
  Status ReadTableHistoryEncoded(const std::string& table, uint64_t after, size_t max,
                                 EncodedStreamBatch* batch) override;
  Result<StreamInfo> GetStreamInfo(const std::string& table) override;
  Result<std::vector<StreamInfo>> ListStreams() override;
  Result<uint64_t> HeadSequence() override;
  uint64_t WaitForSequence(uint64_t after, std::chrono::milliseconds timeout) override;
  std::optional<int64_t> CommitTimeNs(uint64_t sequence) override;

  Status SavePosition(const ReaderPosition& position) override;
  void SavePositionAsync(ReaderPosition position, StatusCallback done) override;
  Result<std::optional<ReaderPosition>> LoadPosition(const std::string& name) override;
  Status DeletePosition(const std::string& name) override;
  Result<std::vector<ReaderPosition>> ListPositions() override;

  Result<SnapshotChunk> ReadSnapshotChunk(const std::string& table,
                                          const std::optional<Item>& after_key,
                                          size_t max) override;
  MapUsage GetMapUsage() override;
  const StoreStats& stats() const override { return stats_; }

 private:
  // Queues `fn` for the writer thread and waits until its batch committed.
  Status Write(WriteFn fn);
  // Queues `fn`; `done` gets its status on the writer thread once its batch
  // committed, or at once (kUnavailable) when the store is closing.
  void WriteAsync(WriteFn fn, StatusCallback done);
  template <typename Request, typename Check, typename Apply>
  void SubmitItemWrite(Request request, WriteCallback done, Check check, Apply apply);
  // The synchronous form: checks, queues and waits for the commit.
  template <typename Request, typename Check, typename Apply>
  Result<WriteResult> WriteItem(const Request& request, Check check, Apply apply);
  void WriterLoop();
  void RunBatch(std::vector<PendingWrite*>& batch);
  void PublishHead(uint64_t sequence);
  // Notes that this process's commit of records first..last just finished.
  void RecordCommitTime(uint64_t first, uint64_t last);
  // Fills index `index_id` of `table` (see BatchContext::BackfillIndex) in
  // writes of kBackfillItemsPerWrite items, then marks it readable. OK when
  // the table or index went away meanwhile; kUnavailable when the store
  // began closing first (the next Open finishes it).
  Status FinishBackfill(const std::string& table, uint32_t index_id);
  // Hands the fill of index `index_id` of `table` to the filler thread.
  void QueueFill(const std::string& table, uint32_t index_id);
  // The filler thread: runs queued fills one after another.
  void FillerLoop();
  // Blocks until the fill of `index_id` has ended; its outcome.
  Status WaitForFill(uint32_t index_id);

  // Read-side helpers, inside a read transaction.
  Result<TableState> LoadLiveTable(Txn& txn, const std::string& name);
  // The live table `name` with only id, schema.name / partition_key /
  // sort_key / indexes and index_states set (the rest default): what item
  // reads need (index counters in it are stale). Served from
  // table_keys_ while the snapshot's catalog version is the one the entry
  // was read at, so that most reads skip the two catalog lookups and the
  // state's decode. Thread-safe.
  Result<std::shared_ptr<const TableState>> LoadTableKeys(Txn& txn, const std::string& name);
  // The newest table state (live or deleted) named `name` that has a stream.
  Result<TableState> LoadStreamTable(Txn& txn, const std::string& name);
  Result<uint64_t> ReadHead(Txn& txn);
  // Calls `fn` with every table state (live and deleted), in id order.
  Status ForEachTableState(Txn& txn, const std::function<void(TableState&&)>& fn);
  // Calls add(sequence, stored value) for the records of `t` with sequence >
  // after, in order, until *count (incremented per record) reaches `max`;
  // the value is valid in `txn` only. kTrimmed when some were dropped by
  // retention.
  using StreamRecordFn = std::function<Status(uint64_t sequence, std::string_view value)>;
  Status ForEachStreamRecord(Txn& txn, const TableState& t, uint64_t after, size_t max,
                             size_t* count, const StreamRecordFn& add);
  // ReadTableHistory's walk: sets *head and calls `add` as above, across the
  // table name's incarnations.
  Status ForEachHistoryRecord(Txn& txn, const std::string& table, uint64_t after, size_t max,
                              uint64_t* head, const StreamRecordFn& add);
  Result<QueryResult> ReadRange(const TableState& t, std::string_view start_key,
                                std::string_view prefix, const std::string* lower, bool lower_inc,
                                const std::string* upper, bool upper_inc, bool forward,
                                const QueryRequest& q, const ConditionExpression* filter,
                                const ProjectionExpression* projection, const IndexRead& index,
                                Txn& txn);

  StoreOptions options_;
  std::unique_ptr<LmdbEnv> env_;
  Clock* clock_ = nullptr;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // the writer waits for work
  std::deque<PendingWrite*> queue_;
  // Writes in flight now (callers inside Write() and queued asynchronous
  // writes not yet reported), and the most seen since the last batch started:
  // how many writes a batch can expect. Guarded by queue_mu_.
  size_t writers_inside_ = 0;
  size_t peak_writers_ = 0;
  bool stopping_ = false;
  std::thread writer_;

  // Index fills, run one at a time on filler_ (started with the first), so
  // that UpdateTable returns while an index is CREATING, as DynamoDB's does.
  std::mutex fill_mu_;
  std::condition_variable fill_cv_;                     // work for the filler, or a fill ended
  std::deque<std::pair<std::string, uint32_t>> fills_;  // table, index id
  std::set<uint32_t> fills_pending_;                    // queued or running
  std::map<uint32_t, Status> fill_failures_;            // ended in error
  // Failed fills waiting to be tried again: index id -> when, and the delay
  // that led there (doubled for the next failure).
  struct FillRetry {
    std::string table;
    std::chrono::steady_clock::time_point due;
    std::chrono::milliseconds delay;
  };
  std::map<uint32_t, FillRetry> fill_retries_;
  bool fill_stopping_ = false;
  std::thread filler_;

  std::mutex head_mu_;
  std::condition_variable head_cv_;
  // This process's recent commits, for CommitTimeNs: a ring of the last
  // commit_times_.size() batches that appended stream records.
  struct CommitTime {
    uint64_t first = 0;
    uint64_t last = 0;
    int64_t ns = 0;
  };
  std::mutex commit_times_mu_;
  std::array<CommitTime, 4096> commit_times_;  // guarded by commit_times_mu_
  size_t commit_times_end_ = 0;                // batches recorded; guarded too
  // The first sequence of the oldest batch in commit_times_ (none below it is
  // there), read without the lock: a source catching up asks about records
  // older than the ring for every event. Only grows.
  std::atomic<uint64_t> commit_times_floor_{UINT64_MAX};
  std::atomic<uint64_t> head_{0};
  StoreStats stats_;

  // LoadTableKeys' cache. An entry is only ever used at the catalog version
  // it was read at (tables are added and removed only with a bump), so it
  // cannot be stale, whichever process changed the catalog.
  struct CachedTableKeys {
    uint64_t catalog_version = 0;
    std::shared_ptr<const TableState> keys;
  };
  static constexpr size_t kMaxCachedTableKeys = 4096;
  std::mutex table_keys_mu_;
  std::unordered_map<std::string, CachedTableKeys> table_keys_;  // guarded by table_keys_mu_
};

// ---------------------------------------------------------------------------
// BatchContext

Status BatchContext::Begin() {
  now_ms_ = clock_->NowMs();
  KS_ASSIGN_OR_RETURN(sequence_, ReadMetaCounter(*txn_, kMetaSequence, "sequence counter"));
  start_sequence_ = sequence_;
  auto next_id = txn_->Get(Db::kMeta, kMetaNextTableId);
  if (next_id.ok()) {
    if (next_id->size() != 4) return Internal("corrupt table id counter");
    next_table_id_ = ReadBigEndian32(*next_id);
  } else if (next_id.status().code() != StatusCode::kNotFound) {
    return next_id.status();
  } else {
    next_table_id_ = 1;
  }
  return Status::Ok();
}

uint32_t BatchContext::AllocateTableId() {
  table_id_dirty_ = true;
  return next_table_id_++;
}

Result<TableState*> BatchContext::Table(const std::string& name) {
  auto cached = ids_by_name_.find(name);
  if (cached != ids_by_name_.end()) {
    TableState& t = tables_[cached->second];
    if (!t.exists) return TableNotFound(name);
    return &t;
  }
  auto id = txn_->Get(Db::kCatalog, name);
  if (!id.ok()) {
    if (id.status().code() == StatusCode::kNotFound) return TableNotFound(name);
    env_status = id.status();
    return id.status();
  }
  uint32_t table_id = ReadBigEndian32(*id);
  auto found = tables_.find(table_id);
  if (found == tables_.end()) {
    auto raw = txn_->Get(Db::kTables, TableIdKey(table_id));
    if (!raw.ok()) {
      env_status = raw.status();
      return raw.status();
    }
    TableState state;
    Status s = DecodeTableState(*raw, &state);
    if (!s.ok()) {
      env_status = s;
      return s;
    }
    found = tables_.emplace(table_id, std::move(state)).first;
  }
  ids_by_name_[name] = table_id;
  return &found->second;
}

TableState* BatchContext::AddTable(TableState state) {
  uint32_t id = state.id;
  ids_by_name_[state.schema.name] = id;
  dirty_.insert(id);
  return &(tables_[id] = std::move(state));
}

constexpr std::string_view kClientTokenPrefix = "txtoken/";
constexpr std::string_view kClientTokenExpiryPrefix = "txexpiry/";
constexpr size_t kClientTokenFingerprintBytes = 16;
// Expired tokens removed per recorded one: more than one, so that expiry
// keeps up with any rate of new tokens.
constexpr int kClientTokensExpiredPerRecord = 16;

Result<std::optional<std::string>> BatchContext::RecentClientToken(const std::string& token) {
  auto found = txn_->Get(Db::kMeta, std::string(kClientTokenPrefix) + token);
  if (!found.ok()) {
    if (found.status().code() == StatusCode::kNotFound) return std::optional<std::string>();
    env_status = found.status();
    return found.status();
  }
  if (found->size() != kClientTokenFingerprintBytes + 8) {
    env_status = Internal("corrupt client request token record for '" + token + "'");
    return env_status;
  }
  int64_t at = static_cast<int64_t>(ReadBigEndian64(found->substr(kClientTokenFingerprintBytes)));
  if (now_ms_ - at >= kClientRequestTokenWindowMs) return std::optional<std::string>();
  return std::optional<std::string>(std::string(found->substr(0, kClientTokenFingerprintBytes)));
}

Status BatchContext::RecordClientToken(const std::string& token, std::string_view fingerprint) {
  auto fail = [&](Status s) {
    env_status = s;
    return s;
  };
  // Expire the oldest tokens past the window.
  std::vector<std::pair<std::string, std::string>> expired;  // expiry key, token key
  {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn_->get(), env_->dbi(Db::kMeta), &cursor);
    if (rc != 0) return fail(env_->Error(rc, "expiring client request tokens"));
    MDB_val k{kClientTokenExpiryPrefix.size(), const_cast<char*>(kClientTokenExpiryPrefix.data())};
    MDB_val v;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && static_cast<int>(expired.size()) < kClientTokensExpiredPerRecord) {
      std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
      if (!key.starts_with(kClientTokenExpiryPrefix) ||
          key.size() < kClientTokenExpiryPrefix.size() + 8) {
        break;
      }
      auto at = static_cast<int64_t>(ReadBigEndian64(key.substr(kClientTokenExpiryPrefix.size())));
      if (now_ms_ - at < kClientRequestTokenWindowMs) break;
      expired.emplace_back(std::string(key),
                           std::string(kClientTokenPrefix) +
                               std::string(key.substr(kClientTokenExpiryPrefix.size() + 8)));
      rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cursor);
    if (rc != 0 && rc != MDB_NOTFOUND) {
      return fail(env_->Error(rc, "expiring client request tokens"));
    }
  }
  for (const auto& [expiry_key, token_key] : expired) {
    Status s = txn_->Delete(Db::kMeta, expiry_key);
    if (!s.ok()) return fail(s);
    // The token may have been recorded again since; then its record stays.
    auto record = txn_->Get(Db::kMeta, token_key);
    if (record.ok() && record->size() == kClientTokenFingerprintBytes + 8 &&
        record->substr(kClientTokenFingerprintBytes) ==
            std::string_view(expiry_key).substr(kClientTokenExpiryPrefix.size(), 8)) {
      s = txn_->Delete(Db::kMeta, token_key);
      if (!s.ok()) return fail(s);
    }
  }

  std::string token_key = std::string(kClientTokenPrefix) + token;
  auto stale = txn_->Get(Db::kMeta, token_key);
  if (stale.ok() && stale->size() == kClientTokenFingerprintBytes + 8) {
    std::string old_expiry = std::string(kClientTokenExpiryPrefix) +
                             std::string(stale->substr(kClientTokenFingerprintBytes)) + token;
    Status s = txn_->Delete(Db::kMeta, old_expiry);
    if (!s.ok() && s.code() != StatusCode::kNotFound) return fail(s);
  }
  std::string when;
  AppendBigEndian64(static_cast<uint64_t>(now_ms_), &when);
  Status s = txn_->Put(Db::kMeta, token_key, std::string(fingerprint) + when);
  if (!s.ok()) return fail(s);
  s = txn_->Put(Db::kMeta, std::string(kClientTokenExpiryPrefix) + when + token, "");
  if (!s.ok()) return fail(s);
  return Status::Ok();
}

Result<bool> BatchContext::ReadItem(std::string_view full_key, Item* item) {
  auto bytes = GetItemBytes(*txn_, full_key);
  if (!bytes.ok()) {
    env_status = bytes.status();
    return bytes.status();
  }
  if (!bytes->has_value()) return false;
  auto decoded = DecodeItem(**bytes);
  if (!decoded.ok()) {
    env_status = decoded.status();
    return decoded.status();
  }
  *item = std::move(decoded).value();
  return true;
}

Result<std::optional<Item>> BatchContext::ReadChecked(
    std::string_view storage_key, const std::optional<ConditionExpression>& condition,
    const ConditionFailureHook& on_failure) {
  std::optional<Item> item;
  Item loaded;
  KS_ASSIGN_OR_RETURN(bool exists, ReadItem(storage_key, &loaded));
  if (exists) item = std::move(loaded);
  if (condition && !condition->Evaluate(item ? &*item : nullptr)) {
    if (on_failure) on_failure(item);
    return ConditionFailed("The conditional request failed");
  }
  return item;
}

Result<uint64_t> BatchContext::DeleteAllItems(TableState* t) {
  for (size_t i = 0; i < t->index_states.size(); ++i) {
    IndexState& state = t->index_states[i];
    KS_RETURN_IF_ERROR(DeleteIdRange(state.id, "deleting the entries of index " +
                                                   t->schema.indexes[i].name + " of " +
                                                   t->schema.name)
                           .status());
    state.item_count = 0;
    state.item_bytes = 0;
  }
  KS_ASSIGN_OR_RETURN(uint64_t removed,
                      DeleteIdRange(t->id, "deleting the items of " + t->schema.name));
  t->item_count = 0;
  t->item_bytes = 0;
  dirty_.insert(t->id);
  return removed;
}

Result<uint64_t> BatchContext::DeleteIdRange(uint32_t id, const std::string& what) {
  uint64_t removed = 0;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn_->get(), env_->dbi(Db::kItems), &cursor);
  if (rc != 0) return env_status = env_->Error(rc, what);
  std::string prefix = TableIdKey(id);
  MDB_val k = ToVal(prefix), v;
  rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && FromVal(k).substr(0, 4) == prefix) {
    rc = mdb_cursor_del(cursor, 0);
    if (rc != 0) break;
    ++removed;
    // After a delete the cursor stands on the next entry (EINVAL/NOTFOUND at
    // the end of the database).
    rc = mdb_cursor_get(cursor, &k, &v, MDB_GET_CURRENT);
  }
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND && rc != EINVAL) return env_status = env_->Error(rc, what);
  return removed;
}

Status BatchContext::UpdateIndexes(TableState* t, const std::string& storage_key,
                                   const Item* old_item, const Item* new_item,
                                   std::vector<IndexWrite>* writes) {
  for (size_t i = 0; i < t->schema.indexes.size(); ++i) {
    const SecondaryIndex& index = t->schema.indexes[i];
    IndexState& state = t->index_states[i];
    const bool whole_items = index.projection.type == ProjectionType::kAll;
    std::optional<std::string> old_key, new_key;
    if (old_item != nullptr) old_key = IndexEntryKey(index, state.id, *old_item, storage_key);
    if (new_item != nullptr) new_key = IndexEntryKey(index, state.id, *new_item, storage_key);
    if (!old_key && !new_key) continue;
    IndexWrite write;
    bool present = false;  // the old item's entry is in the index
    std::optional<Item> old_projection;
    if (old_key) {
      // While the index is being filled, the old item's entry may not be
      // there yet; the counters must count only what is.
      present = true;
      if (state.backfilling) {
        auto found = GetItemBytes(*txn_, *old_key);
        if (!found.ok()) return env_status = found.status();
        present = found->has_value();
      }
      if (present && !whole_items) old_projection = ProjectForIndex(t->schema, index, *old_item);
      if (present) {
        write.old_bytes = whole_items ? ItemSizeBytes(*old_item) : ItemSizeBytes(*old_projection);
      }
    }
    const bool same_key = present && new_key && *new_key == *old_key;
    std::optional<Item> new_projection;
    if (new_key) {
      if (!whole_items) new_projection = ProjectForIndex(t->schema, index, *new_item);
      // Same key and projection: the entry stays as it is (an ALL entry
      // always changes, since the item did).
      if (same_key && !whole_items && *new_projection == *old_projection) continue;
      write.new_bytes = whole_items ? ItemSizeBytes(*new_item) : ItemSizeBytes(*new_projection);
    }
    if (present) {
      if (state.item_count > 0) --state.item_count;
      state.item_bytes -= std::min(state.item_bytes, write.old_bytes);
      if (!same_key) {
        Status s = txn_->Delete(Db::kItems, StoredKey(*old_key));
        if (!s.ok() && s.code() != StatusCode::kNotFound) return env_status = s;
      }
    }
    if (new_key) {
      std::string_view encoding = new_encoding_;  // ALL: the item as just stored
      std::string projected_encoding;
      if (!whole_items) {
        EncodeItem(*new_projection, &projected_encoding);
        encoding = projected_encoding;
      }
      EncodeStoredValue(*new_key, encoding, &value_scratch_);
      Status s = txn_->Put(Db::kItems, StoredKey(*new_key), value_scratch_);
      if (!s.ok()) return env_status = s;
      ++state.item_count;
      state.item_bytes += write.new_bytes;
    }
    if (!present && !new_key) continue;  // an old entry the fill has not reached: none
    write.index = index.name;
    write.global = index.global;
    write.moved = present && new_key && !same_key;
    writes->push_back(std::move(write));
  }
  return Status::Ok();
}

Result<bool> BatchContext::BackfillIndex(TableState* t, size_t index_pos, std::string* after_key,
                                         size_t max_items) {
  const SecondaryIndex& index = t->schema.indexes[index_pos];
  IndexState& state = t->index_states[index_pos];
  std::string prefix = TableIdKey(t->id);
  ItemCursor cursor(env_, txn_->get(), /*forward=*/true);
  KS_RETURN_IF_ERROR(cursor.Seek(after_key->empty() ? prefix : *after_key));
  std::vector<std::pair<std::string, Item>> found;  // table key, item
  bool more = false;                                // items remain after `found`
  // Collected first: writing to kItems while a cursor walks it would move it.
  for (bool first = true;; first = false) {
    if (!first) KS_RETURN_IF_ERROR(cursor.Next());
    if (!cursor.valid() || cursor.key().substr(0, 4) != prefix) break;
    if (!after_key->empty() && cursor.key() == *after_key) continue;
    if (found.size() == max_items) {
      more = true;
      break;
    }
    KS_ASSIGN_OR_RETURN(Item item, DecodeItem(cursor.value()));
    found.emplace_back(std::string(cursor.key()), std::move(item));
  }
  std::string encoding;
  for (const auto& [storage_key, item] : found) {
    std::optional<std::string> key = IndexEntryKey(index, state.id, item, storage_key);
    if (!key) continue;
    auto existing = GetItemBytes(*txn_, *key);
    if (!existing.ok()) return env_status = existing.status();
    if (existing->has_value()) continue;  // a write since the fill began made it
    Item projected = ProjectForIndex(t->schema, index, item);
    encoding.clear();
    EncodeItem(projected, &encoding);
    EncodeStoredValue(*key, encoding, &value_scratch_);
    Status s = txn_->Put(Db::kItems, StoredKey(*key), value_scratch_);
    if (!s.ok()) return env_status = s;
    ++state.item_count;
    state.item_bytes += ItemSizeBytes(projected);
  }
  if (!found.empty()) *after_key = found.back().first;
  dirty_.insert(t->id);
  return !more;
}

Result<BatchContext::AppliedChange> BatchContext::ApplyChange(TableState* t,
                                                              const std::string& storage_key,
                                                              const Item* old_item,
                                                              const Item* new_item,
                                                              bool expired_by_ttl) {
  AppliedChange change;
  if (old_item != nullptr) change.old_bytes = ItemSizeBytes(*old_item);
  if (new_item != nullptr) change.new_bytes = ItemSizeBytes(*new_item);
  if (old_item == nullptr && new_item == nullptr) return change;
  if (old_item != nullptr && new_item != nullptr && *old_item == *new_item) return change;
  if (new_item != nullptr) {
    new_encoding_.clear();
    EncodeItem(*new_item, &new_encoding_);
    EncodeStoredValue(storage_key, new_encoding_, &value_scratch_);
    Status s = txn_->Put(Db::kItems, StoredKey(storage_key), value_scratch_);
    if (!s.ok()) {
      env_status = s;
      return s;
    }
    t->item_bytes += change.new_bytes;
  } else {
    Status s = txn_->Delete(Db::kItems, StoredKey(storage_key));
    if (!s.ok()) {
      env_status = s;
      return s;
    }
  }
  t->item_bytes -= std::min(t->item_bytes, change.old_bytes);
  if (old_item == nullptr) ++t->item_count;
  if (new_item == nullptr && t->item_count > 0) --t->item_count;
  dirty_.insert(t->id);
  if (!t->schema.indexes.empty()) {
    KS_RETURN_IF_ERROR(UpdateIndexes(t, storage_key, old_item, new_item, &change.index_writes));
  }
  if (!t->schema.stream.enabled) return change;

  // The record is assembled from encodings (the new item's is the one just
  // stored), not from copies of the Items.
  EncodedStreamRecord record;
  record.type = old_item == nullptr   ? StreamEventType::kInsert
                : new_item == nullptr ? StreamEventType::kRemove
                                      : StreamEventType::kModify;
  record.view_type = t->schema.stream.view_type;
  record.timestamp_ms = now_ms_;
  record.expired_by_ttl = expired_by_ttl && new_item == nullptr;
  Item keys = ExtractKey(t->schema, new_item != nullptr ? *new_item : *old_item);
  keys_encoding_.clear();
  EncodeItem(keys, &keys_encoding_);
  record.keys = keys_encoding_;
  size_t size = ItemSizeBytes(keys);
  StreamViewType view = record.view_type;
  if (old_item != nullptr &&
      (view == StreamViewType::kOldImage || view == StreamViewType::kNewAndOldImages)) {
    old_encoding_.clear();
    EncodeItem(*old_item, &old_encoding_);
    record.old_image = old_encoding_;
    size += change.old_bytes;
  }
  if (new_item != nullptr &&
      (view == StreamViewType::kNewImage || view == StreamViewType::kNewAndOldImages)) {
    record.new_image = new_encoding_;
    size += change.new_bytes;
  }
  record.size_bytes = size;
  KS_ASSIGN_OR_RETURN(change.sequence, Append(t, record));
  return change;
}

Result<uint64_t> BatchContext::AppendTruncate(TableState* t) {
  if (!t->schema.stream.enabled) return uint64_t{0};
  EncodedStreamRecord record;
  record.type = StreamEventType::kTruncate;
  record.view_type = t->schema.stream.view_type;
  record.timestamp_ms = now_ms_;
  keys_encoding_.clear();
  EncodeItem(Item{}, &keys_encoding_);  // no keys
  record.keys = keys_encoding_;
  return Append(t, record);
}

Result<uint64_t> BatchContext::Append(TableState* t, const EncodedStreamRecord& record) {
  uint64_t sequence = ++sequence_;
  scratch_.clear();
  EncodeStreamRecord(record, &scratch_);
  Status s = txn_->Put(Db::kStream, StreamKey(t->id, sequence), scratch_);
  if (!s.ok()) {
    env_status = s;
    return s;
  }
  ++t->stream_count;
  t->stream_bytes += scratch_.size();
  if (t->oldest_sequence == 0) t->oldest_sequence = sequence;
  t->latest_sequence = sequence;
  dirty_.insert(t->id);
  appended_.insert(t->id);
  return sequence;
}

Result<uint64_t> BatchContext::PinnedSequence(const std::string& table) {
  // Positions are few (one per CDC source); a scan of them is cheap and runs
  // only when a stream is over its buffer size.
  uint64_t pinned = UINT64_MAX;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn_->get(), env_->dbi(Db::kPositions), &cursor);
  if (rc != 0) return env_->Error(rc, "opening a cursor on positions");
  MDB_val k, v;
  rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
  while (rc == 0) {
    ReaderPosition position;
    Status s = DecodePosition(FromVal(k), FromVal(v), &position);
    if (!s.ok()) {
      mdb_cursor_close(cursor);
      return s;
    }
    if (position.pins && position.table == table) pinned = std::min(pinned, position.sequence);
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) return env_->Error(rc, "reading positions");
  return pinned;
}

Status BatchContext::Trim(TableState* t, uint64_t pin_max_records, uint64_t pin_max_bytes) {
  if (t->stream_count <= t->schema.stream.buffer_size) return Status::Ok();
  KS_ASSIGN_OR_RETURN(uint64_t pinned, PinnedSequence(t->schema.name));
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn_->get(), env_->dbi(Db::kStream), &cursor);
  if (rc != 0) return env_->Error(rc, "opening a cursor on the stream");
  Status status;
  uint64_t forced = 0;
  std::string seek = StreamKey(t->id, 0);
  while (t->stream_count > t->schema.stream.buffer_size) {
    MDB_val k = ToVal(seek), v;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    if (rc != 0 || k.mv_size != 12 || ReadBigEndian32(FromVal(k)) != t->id) {
      if (rc != 0 && rc != MDB_NOTFOUND) status = env_->Error(rc, "trimming the stream");
      break;
    }
    uint64_t sequence = ReadBigEndian64(FromVal(k).substr(4));
    bool over_cap = t->stream_count > pin_max_records || t->stream_bytes > pin_max_bytes;
    if (sequence > pinned) {
      if (!over_cap) break;  // a reader has not consumed it yet
      ++forced;
    }
    size_t size = v.mv_size;
    rc = mdb_cursor_del(cursor, 0);
    if (rc != 0) {
      status = env_->Error(rc, "trimming the stream");
      break;
    }
    --t->stream_count;
    ++trimmed_;
    t->stream_bytes -= std::min<uint64_t>(t->stream_bytes, size);
    t->trimmed_through = sequence;
    seek = StreamKey(t->id, sequence + 1);
  }
  if (status.ok()) {
    // The oldest record left, for GetStreamInfo.
    MDB_val k = ToVal(seek), v;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && k.mv_size == 12 && ReadBigEndian32(FromVal(k)) == t->id) {
      t->oldest_sequence = ReadBigEndian64(FromVal(k).substr(4));
    } else if (rc == 0 || rc == MDB_NOTFOUND) {
      t->oldest_sequence = 0;
    } else {
      status = env_->Error(rc, "trimming the stream");
    }
  }
  mdb_cursor_close(cursor);
  force_trimmed_ += forced;
  if (forced > 0) {
    LogWarn("store", "stream of table " + t->schema.name + " reached its pin cap; dropped " +
                         std::to_string(forced) +
                         " records a reader had not consumed (it will see a trimmed-stream gap)");
  }
  if (!status.ok()) env_status = status;
  return status;
}

Status BatchContext::Finish(uint64_t pin_max_records, uint64_t pin_max_bytes) {
  for (uint32_t id : appended_) {
    KS_RETURN_IF_ERROR(Trim(&tables_[id], pin_max_records, pin_max_bytes));
  }
  for (uint32_t id : dirty_) {
    KS_RETURN_IF_ERROR(txn_->Put(Db::kTables, TableIdKey(id), EncodeTableState(tables_[id])));
  }
  if (sequence_ != start_sequence_) {
    std::string value;
    AppendBigEndian64(sequence_, &value);
    KS_RETURN_IF_ERROR(txn_->Put(Db::kMeta, kMetaSequence, value));
  }
  if (table_id_dirty_) {
    std::string value;
    AppendBigEndian32(next_table_id_, &value);
    KS_RETURN_IF_ERROR(txn_->Put(Db::kMeta, kMetaNextTableId, value));
  }
  if (catalog_changed_) {
    KS_ASSIGN_OR_RETURN(uint64_t version, ReadCatalogVersion(*txn_));
    std::string value;
    AppendBigEndian64(version + 1, &value);
    KS_RETURN_IF_ERROR(txn_->Put(Db::kMeta, kMetaCatalogVersion, value));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// ItemStoreImpl: lifecycle and the writer.

ItemStoreImpl::~ItemStoreImpl() {
  {
    // First the filler: its writes need the writer. A fill cut short here
    // is finished by the next Open.
    std::lock_guard<std::mutex> lock(fill_mu_);
    fill_stopping_ = true;
  }
  fill_cv_.notify_all();
  if (filler_.joinable()) filler_.join();
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

Status ItemStoreImpl::Start() {
  // Stamp a new store with its format; refuse one written by something else.
  {
    KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginWrite());
    auto format = txn.Get(Db::kMeta, kMetaFormat);
    if (format.ok()) {
      if (*format != kFormatVersion) {
        return FailedPrecondition("store " + options_.path + " has format '" +
                                  std::string(*format) + "', this build reads '" +
                                  std::string(kFormatVersion) + "'");
      }
      txn.Abort();
    } else if (format.status().code() == StatusCode::kNotFound) {
      KS_RETURN_IF_ERROR(txn.Put(Db::kMeta, kMetaFormat, kFormatVersion));
      KS_RETURN_IF_ERROR(txn.Commit());
    } else {
      return format.status();
    }
  }
  KS_ASSIGN_OR_RETURN(uint64_t head, HeadSequence());
  head_ = head;
  writer_ = std::thread([this] { WriterLoop(); });
  // Index fills that a crash or a failed write cut short are finished now
  // (entries already there are kept), before the store is handed out.
  std::vector<std::pair<std::string, uint32_t>> unfinished;
  {
    KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
    KS_RETURN_IF_ERROR(ForEachTableState(txn, [&](TableState&& t) {
      if (!t.exists) return;
      for (const IndexState& state : t.index_states) {
        if (state.backfilling) unfinished.emplace_back(t.schema.name, state.id);
      }
    }));
  }
  for (const auto& [table, index_id] : unfinished) {
    LogInfo("store", "resuming the fill of a new index of table " + table);
    QueueFill(table, index_id);
  }
  return Status::Ok();
}

void ItemStoreImpl::QueueFill(const std::string& table, uint32_t index_id) {
  std::lock_guard<std::mutex> lock(fill_mu_);
  if (fill_stopping_) {
    fill_failures_[index_id] = Unavailable("the store is closing");
    return;
  }
  if (!fills_pending_.insert(index_id).second) return;  // queued already
  fills_.emplace_back(table, index_id);
  fill_failures_.erase(index_id);
  if (!filler_.joinable()) filler_ = std::thread([this] { FillerLoop(); });
  fill_cv_.notify_all();
}

void ItemStoreImpl::FillerLoop() {
  SetThreadName("store-filler");
  using std::chrono::steady_clock;
  std::unique_lock<std::mutex> lock(fill_mu_);
  for (;;) {
    auto ready = [&] { return fill_stopping_ || !fills_.empty(); };
    if (fill_retries_.empty()) {
      fill_cv_.wait(lock, ready);
    } else {
      steady_clock::time_point next = steady_clock::time_point::max();
      for (const auto& [id, retry] : fill_retries_) next = std::min(next, retry.due);
      fill_cv_.wait_until(lock, next, ready);
    }
    if (fill_stopping_) break;
    // Failed fills whose delay has passed go back in the queue.
    const steady_clock::time_point now = steady_clock::now();
    for (const auto& [id, retry] : fill_retries_) {
      if (retry.due <= now && fills_pending_.insert(id).second) {
        fills_.emplace_back(retry.table, id);
      }
    }
    if (fills_.empty()) continue;
    auto [table, index_id] = fills_.front();
    fills_.pop_front();
    lock.unlock();
    Status status = FinishBackfill(table, index_id);
    lock.lock();
    fills_pending_.erase(index_id);
    auto retry = fill_retries_.find(index_id);
    if (status.ok() || status.code() == StatusCode::kUnavailable) {
      if (retry != fill_retries_.end()) fill_retries_.erase(retry);
      if (!status.ok()) fill_failures_[index_id] = status;
    } else {
      // The index stays CREATING (unreadable); waiters learn of the failure
      // now, and the fill is tried again later (entries already there stay).
      fill_failures_[index_id] = status;
      stats_.index_fill_failures.fetch_add(1, std::memory_order_relaxed);
      std::chrono::milliseconds delay(options_.index_fill_retry_ms);
      if (retry != fill_retries_.end()) {
        delay =
            std::min<std::chrono::milliseconds>(retry->second.delay * 2, std::chrono::minutes(1));
      }
      fill_retries_[index_id] = FillRetry{table, steady_clock::now() + delay, delay};
      LogWarn("store", "filling a new index of table " + table + " failed: " + status.ToString() +
                           "; it stays CREATING and the fill is tried again in " +
                           std::to_string(delay.count()) + " ms");
    }
    fill_cv_.notify_all();
  }
  // Whoever still waits learns that the fill did not end.
  for (uint32_t id : fills_pending_) fill_failures_[id] = Unavailable("the store is closing");
  fills_pending_.clear();
  fill_cv_.notify_all();
}

Status ItemStoreImpl::WaitForFill(uint32_t index_id) {
  std::unique_lock<std::mutex> lock(fill_mu_);
  fill_cv_.wait(lock, [&] { return fills_pending_.count(index_id) == 0; });
  auto failed = fill_failures_.find(index_id);
  return failed == fill_failures_.end() ? Status::Ok() : failed->second;
}

Status ItemStoreImpl::Write(WriteFn fn) {
  PendingWrite pending;
  pending.fn = std::move(fn);
  std::unique_lock<std::mutex> lock(queue_mu_);
  if (stopping_) return Unavailable("the store is closing");
  queue_.push_back(&pending);
  ++writers_inside_;
  peak_writers_ = std::max(peak_writers_, writers_inside_);
  queue_cv_.notify_one();
  pending.cv.wait(lock, [&] { return pending.done; });
  --writers_inside_;
  return pending.status;
}

void ItemStoreImpl::WriteAsync(WriteFn fn, StatusCallback done) {
  auto pending = std::make_unique<PendingWrite>();
  pending->fn = std::move(fn);
  pending->on_done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (!stopping_) {
      queue_.push_back(pending.release());
      ++writers_inside_;
      peak_writers_ = std::max(peak_writers_, writers_inside_);
      queue_cv_.notify_one();
      return;
    }
  }
  pending->on_done(Unavailable("the store is closing"));
}

void ItemStoreImpl::WriterLoop() {
  SetThreadName("store-writer");
  std::vector<PendingWrite*> batch;
  std::vector<std::unique_ptr<PendingWrite>> completions;
  size_t expected_writers = 1;
  int64_t last_commit_ns = 0;
  bool waits_fill_batches = true;
  uint32_t batches_since_wait = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      // Group commit: when N callers were writing during the last batch, the
      // ones it just released may come back within microseconds (callers in
      // this process). Waiting for them, at most a quarter of a commit, lets
      // each batch carry every active writer instead of alternating half
      // batches. Callers that take longer to come back (HTTP clients: a
      // response and a new request each way) miss such a wait, and it would
      // only delay every batch; so after a wait that did not fill the batch
      // the writer stops waiting, and tries again every kWaitProbeBatches.
      constexpr uint32_t kWaitProbeBatches = 8;
      size_t target = std::min(expected_writers, options_.max_batch_writes);
      if (queue_.size() < target && last_commit_ns > 0 &&
          (waits_fill_batches || ++batches_since_wait >= kWaitProbeBatches)) {
        batches_since_wait = 0;
        auto wait = std::chrono::nanoseconds(std::min<int64_t>(last_commit_ns / 4, 500'000));
        waits_fill_batches =
            queue_cv_.wait_for(lock, wait, [&] { return stopping_ || queue_.size() >= target; });
      }
      while (!queue_.empty() && batch.size() < options_.max_batch_writes) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
      peak_writers_ = writers_inside_;
    }
    int64_t start = clock_->MonotonicNs();
    stats_.batch_started_ns.store(start, std::memory_order_relaxed);
    RunBatch(batch);
    last_commit_ns = clock_->MonotonicNs() - start;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      // Notified under the lock: a caller may return and destroy its
      // PendingWrite as soon as it sees `done`, so synchronous entries are
      // not touched after this.
      for (PendingWrite* w : batch) {
        if (w->on_done) {
          --writers_inside_;
          completions.emplace_back(w);
        } else {
          w->done = true;
          w->cv.notify_one();
        }
      }
      expected_writers = peak_writers_;
    }
    // Asynchronous completions run outside the lock, in queue order, so that
    // they may queue further writes. Their wakes of event loops are coalesced:
    // one per loop for the whole batch rather than one per write.
    {
      WakeBatch wakes;
      for (std::unique_ptr<PendingWrite>& w : completions) w->on_done(std::move(w->status));
    }
    // Completions count as the batch: one that blocks stops every write too.
    stats_.batch_started_ns.store(0, std::memory_order_relaxed);
    completions.clear();
    batch.clear();
  }
}

void ItemStoreImpl::RunBatch(std::vector<PendingWrite*>& batch) {
  for (;;) {
    Status failure;
    uint64_t sequence = 0, start_sequence = 0;
    {
      auto txn = env_->BeginWrite();
      if (!txn.ok()) {
        failure = txn.status();
      } else {
        BatchContext ctx(env_.get(), &*txn, clock_);
        failure = ctx.Begin();
        for (size_t i = 0; failure.ok() && i < batch.size(); ++i) {
          batch[i]->status = batch[i]->fn(ctx);
          if (!ctx.env_status.ok()) failure = ctx.env_status;
        }
        if (failure.ok()) failure = ctx.Finish(options_.pin_max_records, options_.pin_max_bytes);
        if (failure.ok()) {
          int64_t commit_start = clock_->MonotonicNs();
          failure = txn->Commit();
          stats_.commit_nanos.fetch_add(clock_->MonotonicNs() - commit_start,
                                        std::memory_order_relaxed);
        }
        sequence = ctx.sequence();
        start_sequence = ctx.start_sequence();
        stats_.stream_records_trimmed.fetch_add(ctx.trimmed(), std::memory_order_relaxed);
        stats_.stream_records_force_trimmed.fetch_add(ctx.force_trimmed(),
                                                      std::memory_order_relaxed);
      }
    }
    if (failure.ok()) {
      stats_.write_batches.fetch_add(1, std::memory_order_relaxed);
      stats_.writes.fetch_add(batch.size(), std::memory_order_relaxed);
      if (sequence > start_sequence) RecordCommitTime(start_sequence + 1, sequence);
      PublishHead(sequence);
      return;
    }
    if (failure.code() == StatusCode::kResourceExhausted) {
      // The map is full: grow it (no transaction of ours is open now) and
      // apply the whole batch again; the ops are pure functions of the store.
      Status grown = env_->Grow();
      if (grown.ok()) {
        stats_.map_growths.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      failure = grown;
    }
    LogWarn("store", "write batch of " + std::to_string(batch.size()) +
                         " failed, nothing written: " + failure.ToString());
    for (PendingWrite* w : batch) w->status = failure;
    stats_.failed_batches.fetch_add(1, std::memory_order_relaxed);
    return;
  }
}

void ItemStoreImpl::RecordCommitTime(uint64_t first, uint64_t last) {
  int64_t now = clock_->MonotonicNs();
  std::lock_guard<std::mutex> lock(commit_times_mu_);
  commit_times_[commit_times_end_ % commit_times_.size()] = {first, last, now};
  ++commit_times_end_;
  size_t oldest = commit_times_end_ > commit_times_.size() ? commit_times_end_ : 0;
  commit_times_floor_.store(commit_times_[oldest % commit_times_.size()].first,
                            std::memory_order_relaxed);
}

std::optional<int64_t> ItemStoreImpl::CommitTimeNs(uint64_t sequence) {
  // A stale floor is lower than the current one: the search below decides.
  if (sequence < commit_times_floor_.load(std::memory_order_relaxed)) return std::nullopt;
  std::lock_guard<std::mutex> lock(commit_times_mu_);
  const size_t size = commit_times_.size();
  size_t begin = commit_times_end_ > size ? commit_times_end_ - size : 0;
  size_t end = commit_times_end_;
  // Batches are recorded in commit order, so their sequences ascend: the
  // first batch whose last record is at or after `sequence` holds it if any.
  while (begin < end) {
    size_t mid = begin + (end - begin) / 2;
    if (commit_times_[mid % size].last < sequence) {
      begin = mid + 1;
    } else {
      end = mid;
    }
  }
  if (begin == commit_times_end_) return std::nullopt;
  const CommitTime& t = commit_times_[begin % size];
  if (t.first > sequence) return std::nullopt;  // another process's record
  return t.ns;
}

void ItemStoreImpl::PublishHead(uint64_t sequence) {
  if (sequence <= head_.load()) return;
  {
    std::lock_guard<std::mutex> lock(head_mu_);
    head_ = sequence;
  }
  head_cv_.notify_all();
}

uint64_t ItemStoreImpl::WaitForSequence(uint64_t after, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Writes of other processes do not signal us; poll the stored head at this
  // interval (one read transaction, a few microseconds).
  constexpr auto kPoll = std::chrono::milliseconds(5);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(head_mu_);
      auto wake = std::min(deadline, std::chrono::steady_clock::now() + kPoll);
      head_cv_.wait_until(lock, wake, [&] { return head_.load() > after; });
      if (head_.load() > after) return head_.load();
    }
    auto stored = HeadSequence();
    if (stored.ok() && *stored > after) {
      PublishHead(*stored);
      return *stored;
    }
    if (std::chrono::steady_clock::now() >= deadline) return head_.load();
  }
}

// ---------------------------------------------------------------------------
// Tables.

TableDescription Describe(const TableState& t) {
  TableDescription d;
  d.schema = t.schema;
  d.table_id = t.id;
  d.created_ms = t.created_ms;
  d.stream_label_ms = t.stream_label_ms;
  d.billing_mode_changed_ms = t.billing_changed_ms;
  d.item_count = t.item_count;
  d.size_bytes = t.item_bytes;
  for (size_t i = 0; i < t.schema.indexes.size(); ++i) {
    IndexDescription index;
    index.name = t.schema.indexes[i].name;
    index.item_count = t.index_states[i].item_count;
    index.size_bytes = t.index_states[i].item_bytes;
    index.backfilling = t.index_states[i].backfilling;
    d.indexes.push_back(std::move(index));
  }
  return d;
}

Status ItemStoreImpl::CreateTable(const TableSchema& schema) {
  KS_RETURN_IF_ERROR(ValidateTableSchema(schema));
  return Write([&](BatchContext& ctx) -> Status {
    auto existing = ctx.Table(schema.name);
    if (existing.ok()) {
      return AlreadyExists("Table already exists: " + schema.name);
    }
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
    TableState t;
    t.id = ctx.AllocateTableId();
    t.schema = schema;
    for (size_t i = 0; i < schema.indexes.size(); ++i) {
      t.index_states.push_back(IndexState{.id = ctx.AllocateTableId()});
    }
    t.created_ms = ctx.now_ms();
    t.stream_label_ms = schema.stream.enabled ? ctx.now_ms() : 0;
    t.label_start_sequence = ctx.sequence();
    t.stream_since_creation = schema.stream.enabled;
    t.created_sequence = ctx.sequence();
    t.billing_changed_ms = t.created_ms;
    std::string id_value = TableIdKey(t.id);
    Status s = ctx.txn().Put(Db::kCatalog, schema.name, id_value);
    if (!s.ok()) return ctx.env_status = s;
    ctx.MarkCatalogChanged();
    ctx.AddTable(std::move(t));
    return Status::Ok();
  });
}

Result<TableDescription> ItemStoreImpl::DeleteTable(const std::string& name) {
  TableDescription description;
  KS_RETURN_IF_ERROR(Write([&](BatchContext& ctx) -> Status {
    KS_ASSIGN_OR_RETURN(TableState * t, ctx.Table(name));
    description = Describe(*t);
    auto removed = ctx.DeleteAllItems(t);
    if (!removed.ok()) return removed.status();
    auto truncated = ctx.AppendTruncate(t);
    if (!truncated.ok()) return truncated.status();
    Status s = ctx.txn().Delete(Db::kCatalog, name);
    if (!s.ok()) return ctx.env_status = s;
    ctx.MarkCatalogChanged();
    t->exists = false;
    ctx.MarkDirty(t);
    return Status::Ok();
  }));
  return description;
}

Result<uint64_t> ItemStoreImpl::TruncateTable(const std::string& name) {
  uint64_t removed = 0;
  KS_RETURN_IF_ERROR(Write([&](BatchContext& ctx) -> Status {
    KS_ASSIGN_OR_RETURN(TableState * t, ctx.Table(name));
    KS_ASSIGN_OR_RETURN(removed, ctx.DeleteAllItems(t));
    auto truncated = ctx.AppendTruncate(t);
    return truncated.status();
  }));
  return removed;
}

Result<TableDescription> ItemStoreImpl::UpdateTable(const std::string& name,
                                                    const TableUpdate& update) {
  if (update.stream && update.stream->buffer_size == 0) {
    return InvalidArgument("stream buffer_size must be at least 1");
  }
  if (update.billing) KS_RETURN_IF_ERROR(ValidateBillingConfig(*update.billing));
  if (update.ttl) KS_RETURN_IF_ERROR(ValidateTimeToLiveConfig(*update.ttl));
  TableDescription description;
  std::optional<uint32_t> created_index_id;
  KS_RETURN_IF_ERROR(Write([&](BatchContext& ctx) -> Status {
    created_index_id.reset();
    KS_ASSIGN_OR_RETURN(TableState * t, ctx.Table(name));
    // Everything that can fail comes before the first change to *t: the
    // batch may write the table's state back for another write.
    std::map<std::string, std::string> tags = t->schema.tags;
    for (const auto& [key, value] : update.set_tags) tags[key] = value;
    for (const std::string& key : update.remove_tags) tags.erase(key);
    // Checked against the stored tags, so that concurrent updates cannot
    // together pass the limit.
    KS_RETURN_IF_ERROR(ValidateTags(tags));
    // The indexes as they will be, checked whole before anything changes.
    bool indexes_changed = update.create_index || update.delete_index ||
                           !update.index_capacity.empty() || update.billing;
    TableSchema next = t->schema;
    std::vector<IndexState> next_states = t->index_states;
    std::optional<IndexState> deleted;
    auto index_not_found = [&](const std::string& index) {
      return NotFound("Requested resource not found: Table: " + name +
                      " does not have the index: " + index);
    };
    auto position_of = [&](const std::string& index) -> std::optional<size_t> {
      for (size_t i = 0; i < next.indexes.size(); ++i) {
        if (next.indexes[i].name == index) return i;
      }
      return std::nullopt;
    };
    if (update.delete_index) {
      std::optional<size_t> pos = position_of(*update.delete_index);
      if (!pos) return index_not_found(*update.delete_index);
      if (!next.indexes[*pos].global) {
        return InvalidArgument("Local secondary index " + *update.delete_index +
                               " cannot be deleted; only global secondary indexes can");
      }
      deleted = next_states[*pos];
      next.indexes.erase(next.indexes.begin() + static_cast<std::ptrdiff_t>(*pos));
      next_states.erase(next_states.begin() + static_cast<std::ptrdiff_t>(*pos));
    }
    if (update.create_index) {
      if (!update.create_index->global) {
        return InvalidArgument(
            "Only global secondary indexes can be added to an existing table; local ones are "
            "created with the table");
      }
      if (position_of(update.create_index->name)) {
        return InvalidArgument(
            "One or more parameter values were invalid: Attempting to create an index which "
            "already exists: " +
            update.create_index->name);
      }
      next.indexes.push_back(*update.create_index);
      next_states.push_back(IndexState{.backfilling = true});
    }
    if (update.billing) {
      next.billing = *update.billing;
      if (update.billing->mode == BillingMode::kPayPerRequest) {
        for (SecondaryIndex& index : next.indexes) {
          index.read_capacity_units = 0;
          index.write_capacity_units = 0;
        }
      }
    }
    for (const auto& [index, capacity] : update.index_capacity) {
      std::optional<size_t> pos = position_of(index);
      if (!pos) return index_not_found(index);
      if (!next.indexes[*pos].global) {
        return InvalidArgument("Local secondary index " + index + " has no ProvisionedThroughput");
      }
      next.indexes[*pos].read_capacity_units = capacity.read_capacity_units;
      next.indexes[*pos].write_capacity_units = capacity.write_capacity_units;
    }
    if (indexes_changed) KS_RETURN_IF_ERROR(ValidateIndexes(next));
    // Changes from here on; only the store itself can fail below.
    if (deleted) {
      KS_RETURN_IF_ERROR(ctx.DeleteIdRange(deleted->id, "deleting the entries of index " +
                                                            *update.delete_index + " of " + name)
                             .status());
    }
    if (update.create_index) {
      next_states.back().id = ctx.AllocateTableId();
      created_index_id = next_states.back().id;
    }
    if (update.create_index || update.delete_index) ctx.MarkCatalogChanged();
    t->schema.indexes = std::move(next.indexes);
    t->index_states = std::move(next_states);
    if (update.stream) {
      const StreamConfig& stream = *update.stream;
      if (stream.enabled && !t->schema.stream.enabled) {
        if (t->stream_label_ms != 0) {
          // The disabled stream stays readable for a while, as DynamoDB's.
          ReplacedStream replaced;
          replaced.label_ms = t->stream_label_ms;
          replaced.start_sequence = t->label_start_sequence;
          replaced.end_sequence = t->latest_sequence;
          replaced.view_type = t->schema.stream.view_type;
          replaced.disabled_ms = t->stream_disabled_ms != 0 ? t->stream_disabled_ms : ctx.now_ms();
          std::erase_if(t->replaced_streams, [&](const ReplacedStream& r) {
            return !StillReadable(*t, r, ctx.now_ms());
          });
          if (StillReadable(*t, replaced, ctx.now_ms())) {
            t->replaced_streams.insert(t->replaced_streams.begin(), replaced);
          }
          if (t->replaced_streams.size() > kMaxReplacedStreams) {
            t->replaced_streams.resize(kMaxReplacedStreams);
          }
        }
        t->stream_label_ms = ctx.now_ms();
        t->label_start_sequence = ctx.sequence();
      }
      if (!stream.enabled && t->schema.stream.enabled) t->stream_disabled_ms = ctx.now_ms();
      if (!stream.enabled) t->stream_since_creation = false;
      t->schema.stream = stream;
    }
    if (update.billing) {
      if (update.billing->mode != t->schema.billing.mode) t->billing_changed_ms = ctx.now_ms();
      t->schema.billing = *update.billing;
    }
    if (update.ttl) t->schema.ttl = *update.ttl;
    t->schema.tags = std::move(tags);
    ctx.MarkDirty(t);
    description = Describe(*t);
    return Status::Ok();
  }));
  if (!created_index_id) return description;
  QueueFill(name, *created_index_id);
  if (!update.wait_for_index_fill) return description;
  KS_RETURN_IF_ERROR(WaitForFill(*created_index_id));
  return DescribeTable(name);
}

Status ItemStoreImpl::FinishBackfill(const std::string& table, uint32_t index_id) {
  std::string after;  // the table key the fill has reached
  for (bool done = false; !done;) {
    {
      std::lock_guard<std::mutex> lock(fill_mu_);
      if (fill_stopping_) return Unavailable("the store is closing");
    }
    std::string reached;
    KS_RETURN_IF_ERROR(Write([&](BatchContext& ctx) -> Status {
      // A batch may be applied again (after the map grew): start from
      // `after` each time, publish the progress only once committed.
      reached = after;
      done = true;
      auto t = ctx.Table(table);
      if (!t.ok()) {
        // Deleted meanwhile: nothing left to fill.
        return t.status().code() == StatusCode::kNotFound ? Status::Ok() : t.status();
      }
      TableState* state = *t;
      for (size_t i = 0; i < state->index_states.size(); ++i) {
        if (state->index_states[i].id != index_id) continue;
        KS_ASSIGN_OR_RETURN(done, ctx.BackfillIndex(state, i, &reached, kBackfillItemsPerWrite));
        if (done) {
          state->index_states[i].backfilling = false;
          // Readers' cached table keys say whether an index is readable.
          ctx.MarkCatalogChanged();
        }
        return Status::Ok();
      }
      return Status::Ok();  // the index was deleted meanwhile
    }));
    after = std::move(reached);
  }
  return Status::Ok();
}

Result<TableState> ItemStoreImpl::LoadLiveTable(Txn& txn, const std::string& name) {
  auto id = txn.Get(Db::kCatalog, name);
  if (!id.ok()) {
    if (id.status().code() == StatusCode::kNotFound) return TableNotFound(name);
    return id.status();
  }
  KS_ASSIGN_OR_RETURN(std::string_view raw, txn.Get(Db::kTables, *id));
  TableState t;
  KS_RETURN_IF_ERROR(DecodeTableState(raw, &t));
  return t;
}

Result<std::shared_ptr<const TableState>> ItemStoreImpl::LoadTableKeys(Txn& txn,
                                                                       const std::string& name) {
  KS_ASSIGN_OR_RETURN(uint64_t version, ReadCatalogVersion(txn));
  {
    std::lock_guard<std::mutex> lock(table_keys_mu_);
    auto cached = table_keys_.find(name);
    if (cached != table_keys_.end() && cached->second.catalog_version == version) {
      return cached->second.keys;
    }
  }
  KS_ASSIGN_OR_RETURN(TableState t, LoadLiveTable(txn, name));
  auto keys = std::make_shared<TableState>();
  keys->id = t.id;
  keys->schema.name = std::move(t.schema.name);
  keys->schema.partition_key = std::move(t.schema.partition_key);
  keys->schema.sort_key = std::move(t.schema.sort_key);
  keys->schema.indexes = std::move(t.schema.indexes);
  keys->index_states = std::move(t.index_states);
  std::lock_guard<std::mutex> lock(table_keys_mu_);
  // Bounded: a workload over more names than this starts over.
  if (table_keys_.size() >= kMaxCachedTableKeys && table_keys_.count(name) == 0) {
    table_keys_.clear();
  }
  table_keys_[name] = {version, keys};
  return std::shared_ptr<const TableState>(std::move(keys));
}

Result<TableState> ItemStoreImpl::LoadStreamTable(Txn& txn, const std::string& name) {
  auto live = LoadLiveTable(txn, name);
  if (live.ok() || live.status().code() != StatusCode::kNotFound) return live;
  // A deleted table keeps its stream: find the newest state with this name.
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), env_->dbi(Db::kTables), &cursor);
  if (rc != 0) return env_->Error(rc, "opening a cursor on tables");
  MDB_val k, v;
  std::optional<TableState> found;
  Status status;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV)) {
    TableState t;
    status = DecodeTableState(FromVal(v), &t);
    if (!status.ok()) break;
    if (t.schema.name == name) {
      found = std::move(t);
      break;
    }
  }
  mdb_cursor_close(cursor);
  KS_RETURN_IF_ERROR(status);
  if (!found)
    return NotFound("Requested resource not found: Stream for table " + name + " not found");
  return *std::move(found);
}

Result<TableDescription> ItemStoreImpl::DescribeTable(const std::string& name) {
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  KS_ASSIGN_OR_RETURN(TableState t, LoadLiveTable(txn, name));
  return Describe(t);
}

Result<std::vector<std::string>> ItemStoreImpl::ListTables() {
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  std::vector<std::string> names;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), env_->dbi(Db::kCatalog), &cursor);
  if (rc != 0) return env_->Error(rc, "listing tables");
  MDB_val k, v;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    names.emplace_back(FromVal(k));
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) return env_->Error(rc, "listing tables");
  return names;
}

// ---------------------------------------------------------------------------
// Item writes. Each is split into a check on the caller's thread (validation
// and expression parsing, so that the writer only evaluates) and an apply
// step on the writer thread; the synchronous and the asynchronous forms share
// both.

std::optional<Item> SelectReturn(ReturnValues rv, const std::optional<Item>& old_item,
                                 const std::optional<Item>& new_item,
                                 const UpdateExpression* update) {
  switch (rv) {
    case ReturnValues::kNone:
      return std::nullopt;
    case ReturnValues::kAllOld:
      return old_item;
    case ReturnValues::kAllNew:
      return new_item;
    case ReturnValues::kUpdatedOld:
      if (!old_item || update == nullptr) return std::nullopt;
      return ProjectPaths(*old_item, update->updated_paths());
    case ReturnValues::kUpdatedNew:
      if (!new_item || update == nullptr) return std::nullopt;
      return ProjectPaths(*new_item, update->updated_paths());
  }
  return std::nullopt;
}

Status CheckPut(const PutItemRequest& request, ParsedWrite* parsed) {
  if (request.return_values != ReturnValues::kNone &&
      request.return_values != ReturnValues::kAllOld) {
    return InvalidArgument("ReturnValues can only be ALL_OLD or NONE");
  }
  KS_RETURN_IF_ERROR(ValidateWholeItem(request.item));
  KS_ASSIGN_OR_RETURN(*parsed,
                      ParseWriteExpressions(request.condition_expression, "", request.expression));
  return Status::Ok();
}

void RecordChange(const BatchContext::AppliedChange& change, WriteResult* result) {
  result->sequence = change.sequence;
  result->old_item_bytes = change.old_bytes;
  result->new_item_bytes = change.new_bytes;
  result->index_writes = change.index_writes;
}

Status ApplyPut(BatchContext& ctx, const PutItemRequest& request, const ParsedWrite& parsed,
                WriteResult* result) {
  KS_ASSIGN_OR_RETURN(TableState * t, ctx.Table(request.table));
  KS_ASSIGN_OR_RETURN(std::string key, EncodeStorageKey(*t, request.item, false));
  KS_RETURN_IF_ERROR(ValidateIndexKeys(t->schema, request.item));
  KS_ASSIGN_OR_RETURN(std::optional<Item> old_item,
                      ctx.ReadChecked(key, parsed.condition, request.on_condition_failure));
  KS_ASSIGN_OR_RETURN(auto change,
                      ctx.ApplyChange(t, key, old_item ? &*old_item : nullptr, &request.item));
  RecordChange(change, result);
  result->attributes =
      request.return_values == ReturnValues::kAllOld ? old_item : std::optional<Item>();
  return Status::Ok();
}

Status CheckUpdate(const UpdateItemRequest& request, ParsedWrite* parsed) {
  KS_ASSIGN_OR_RETURN(*parsed,
                      ParseWriteExpressions(request.condition_expression, request.update_expression,
                                            request.expression));
  return ValidateItem(request.key);
}

Status ApplyUpdate(BatchContext& ctx, const UpdateItemRequest& request, const ParsedWrite& parsed,
                   WriteResult* result) {
  KS_ASSIGN_OR_RETURN(TableState * t, ctx.Table(request.table));
  KS_ASSIGN_OR_RETURN(std::string key, EncodeStorageKey(*t, request.key, true));
  KS_ASSIGN_OR_RETURN(std::optional<Item> old_item,
                      ctx.ReadChecked(key, parsed.condition, request.on_condition_failure));
  Item new_item = old_item ? *old_item : request.key;
  if (parsed.update) {
    KS_RETURN_IF_ERROR(parsed.update->Apply(&new_item));
    for (const auto& [name, value] : request.key) {
      auto it = new_item.find(name);
      if (it == new_item.end() || it->second != value) {
        return InvalidArgument(
            "One or more parameter values were invalid: Cannot update "
            "attribute " +
            name + ". This attribute is part of the key");
      }
    }
    KS_RETURN_IF_ERROR(ValidateWholeItem(new_item));
    KS_RETURN_IF_ERROR(ValidateIndexKeys(t->schema, new_item));
  }
  KS_ASSIGN_OR_RETURN(auto change,
                      ctx.ApplyChange(t, key, old_item ? &*old_item : nullptr, &new_item));
  RecordChange(change, result);
  result->attributes = SelectReturn(request.return_values, old_item, new_item,
                                    parsed.update ? &*parsed.update : nullptr);
  return Status::Ok();
}

Status CheckDelete(const DeleteItemRequest& request, ParsedWrite* parsed) {
  if (request.return_values != ReturnValues::kNone &&
      request.return_values != ReturnValues::kAllOld) {
    return InvalidArgument("ReturnValues can only be ALL_OLD or NONE");
  }
  KS_ASSIGN_OR_RETURN(*parsed,
                      ParseWriteExpressions(request.condition_expression, "", request.expression));
  return ValidateItem(request.key);
}

Status ApplyDelete(BatchContext& ctx, const DeleteItemRequest& request, const ParsedWrite& parsed,
                   WriteResult* result) {
  KS_ASSIGN_OR_RETURN(TableState * t, ctx.Table(request.table));
  KS_ASSIGN_OR_RETURN(std::string key, EncodeStorageKey(*t, request.key, true));
  KS_ASSIGN_OR_RETURN(std::optional<Item> old_item,
                      ctx.ReadChecked(key, parsed.condition, request.on_condition_failure));
  KS_ASSIGN_OR_RETURN(auto change, ctx.ApplyChange(t, key, old_item ? &*old_item : nullptr, nullptr,
                                                   request.expired_by_ttl));
  RecordChange(change, result);
  result->attributes =
      request.return_values == ReturnValues::kAllOld ? old_item : std::optional<Item>();
  return Status::Ok();
}

// ExpireItems' deletes per write transaction.
constexpr size_t kExpireDeletesPerWrite = 256;

// The condition ExpireItems scans for and deletes under: the TTL attribute
// is a Number in [floor, now] (a comparison with a Number fails for any
// other type, and for an absent attribute).
constexpr std::string_view kExpiredCondition = "#ttl BETWEEN :floor AND :now";

ExpressionInputs ExpiredConditionInputs(const std::string& attribute, int64_t now_seconds) {
  ExpressionInputs inputs;
  inputs.names["#ttl"] = attribute;
  inputs.values[":now"] = AttributeValue::N(now_seconds);
  inputs.values[":floor"] = AttributeValue::N(now_seconds - kTimeToLiveMaxAgeSeconds);
  return inputs;
}

Status CheckBatchWrite(const std::vector<BatchWriteEntry>& entries) {
  if (entries.empty()) {
    return InvalidArgument(
        "1 validation error detected: Value at 'requestItems' failed to "
        "satisfy constraint: Member must have at least 1 item");
  }
  if (entries.size() > kMaxBatchWriteItems) {
    return InvalidArgument("Too many items requested for the BatchWriteItem call");
  }
  for (const BatchWriteEntry& e : entries) {
    KS_RETURN_IF_ERROR(e.is_put ? ValidateWholeItem(e.item) : ValidateItem(e.item));
  }
  return Status::Ok();
}

// `written` receives what each entry wrote (WrittenSize).
Status ApplyBatchWrite(BatchContext& ctx, const std::vector<BatchWriteEntry>& entries,
                       std::vector<WrittenSize>* written) {
  written->clear();
  // Validate every entry before writing any, so that the batch is all or
  // nothing with respect to validation errors.
  struct Prepared {
    TableState* table;
    std::string key;
  };
  std::vector<Prepared> prepared;
  std::set<std::pair<uint32_t, std::string>> seen;
  for (const BatchWriteEntry& e : entries) {
    KS_ASSIGN_OR_RETURN(TableState * t, ctx.Table(e.table));
    KS_ASSIGN_OR_RETURN(std::string key, EncodeStorageKey(*t, e.item, !e.is_put));
    if (e.is_put) KS_RETURN_IF_ERROR(ValidateIndexKeys(t->schema, e.item));
    if (!seen.emplace(t->id, key).second) {
      return InvalidArgument("Provided list of item keys contains duplicates");
    }
    prepared.push_back({t, std::move(key)});
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    Item old_item;
    KS_ASSIGN_OR_RETURN(bool exists, ctx.ReadItem(prepared[i].key, &old_item));
    const Item* new_item = entries[i].is_put ? &entries[i].item : nullptr;
    auto applied =
        ctx.ApplyChange(prepared[i].table, prepared[i].key, exists ? &old_item : nullptr, new_item);
    if (!applied.ok()) return applied.status();
    written->push_back(WrittenSize{std::max(applied->old_bytes, applied->new_bytes),
                                   std::move(applied->index_writes)});
  }
  return Status::Ok();
}

Status CheckTransactWrite(const std::vector<TransactWriteEntry>& entries,
                          const std::string& client_request_token,
                          std::vector<ParsedWrite>* parsed) {
  if (entries.empty() || entries.size() > kMaxTransactItems) {
    return InvalidArgument(
        "1 validation error detected: Value at 'transactItems' failed to "
        "satisfy constraint: Member must have length between 1 and 100");
  }
  if (client_request_token.size() > 36) {
    return InvalidArgument(
        "1 validation error detected: Value at 'clientRequestToken' failed to satisfy "
        "constraint: Member must have length less than or equal to 36");
  }
  parsed->reserve(entries.size());
  for (const TransactWriteEntry& e : entries) {
    if (e.kind == TransactWriteEntry::Kind::kConditionCheck && e.condition_expression.empty()) {
      return InvalidArgument("ConditionCheck requires a ConditionExpression");
    }
    if (e.kind == TransactWriteEntry::Kind::kUpdate && e.update_expression.empty()) {
      return InvalidArgument("Update requires an UpdateExpression");
    }
    KS_RETURN_IF_ERROR(e.kind == TransactWriteEntry::Kind::kPut ? ValidateWholeItem(e.item)
                                                                : ValidateItem(e.item));
    KS_ASSIGN_OR_RETURN(ParsedWrite p, ParseWriteExpressions(e.condition_expression,
                                                             e.update_expression, e.expression));
    parsed->push_back(std::move(p));
  }
  return Status::Ok();
}

// What makes two transactions "the same request" for a ClientRequestToken:
// a 128-bit hash of every action's kind, table, item or key, expressions,
// their names and values, and options (empty without a token).
std::string TransactFingerprint(const std::vector<TransactWriteEntry>& entries,
                                const std::string& client_request_token) {
  if (client_request_token.empty()) return "";
  std::string canonical;
  auto field = [&](std::string_view bytes) {
    AppendBigEndian64(bytes.size(), &canonical);
    canonical += bytes;
  };
  std::string encoded;
  for (const TransactWriteEntry& e : entries) {
    canonical += static_cast<char>(e.kind);
    canonical += static_cast<char>(e.return_old_on_condition_failure);
    field(e.table);
    encoded.clear();
    EncodeItem(e.item, &encoded);
    field(encoded);
    field(e.update_expression);
    field(e.condition_expression);
    AppendBigEndian64(e.expression.names.size(), &canonical);
    for (const auto& [name, value] : e.expression.names) {
      field(name);
      field(value);
    }
    encoded.clear();
    EncodeItem(Item(e.expression.values.begin(), e.expression.values.end()), &encoded);
    field(encoded);
  }
  XXH128_hash_t hash = XXH3_128bits(canonical.data(), canonical.size());
  std::string out;
  AppendBigEndian64(hash.high64, &out);
  AppendBigEndian64(hash.low64, &out);
  return out;
}

// Sets *reasons to one reason per action when the transaction is cancelled
// (kTransactionCanceled) and leaves it empty otherwise. It may run more than
// once for one transaction (a batch is applied again after the map grew), so
// it starts from an empty list each time. With a client_request_token, a
// repeat of a recent success applies nothing and succeeds, a different
// request under the same token is kIdempotencyMismatch, and a success records
// the token (`fingerprint`: TransactFingerprint) in the same transaction.
Status ApplyTransactWrite(BatchContext& ctx, const std::vector<TransactWriteEntry>& entries,
                          const std::vector<ParsedWrite>& parsed,
                          const std::string& client_request_token, const std::string& fingerprint,
                          std::vector<CancellationReason>* reasons,
                          std::vector<WrittenSize>* written) {
  reasons->clear();
  written->clear();
  if (!client_request_token.empty()) {
    KS_ASSIGN_OR_RETURN(std::optional<std::string> recorded,
                        ctx.RecentClientToken(client_request_token));
    if (recorded) {
      if (*recorded == fingerprint) return Status::Ok();  // a retry: done already
      return IdempotencyMismatch(
          "The request uses the same client token as a previous, but non-identical, request "
          "within the idempotency window (" +
          std::to_string(kClientRequestTokenWindowMs / 60000) + " minutes)");
    }
  }
  struct Prepared {
    TableState* table;
    std::string key;
    std::optional<Item> old_item;
    std::optional<Item> new_item;
  };
  std::vector<Prepared> prepared(entries.size());
  std::set<std::pair<uint32_t, std::string>> seen;
  // Phase 1: validate keys and evaluate every condition against the state
  // before the transaction.
  std::vector<CancellationReason> found(entries.size());
  bool cancelled = false;
  for (size_t i = 0; i < entries.size(); ++i) {
    const TransactWriteEntry& e = entries[i];
    KS_ASSIGN_OR_RETURN(prepared[i].table, ctx.Table(e.table));
    bool is_key = e.kind != TransactWriteEntry::Kind::kPut;
    KS_ASSIGN_OR_RETURN(prepared[i].key, EncodeStorageKey(*prepared[i].table, e.item, is_key));
    if (!is_key) KS_RETURN_IF_ERROR(ValidateIndexKeys(prepared[i].table->schema, e.item));
    if (!seen.emplace(prepared[i].table->id, prepared[i].key).second) {
      return InvalidArgument("Transaction request cannot include multiple operations on one item");
    }
    Item loaded;
    KS_ASSIGN_OR_RETURN(bool exists, ctx.ReadItem(prepared[i].key, &loaded));
    if (exists) prepared[i].old_item = std::move(loaded);
    const Item* old_ptr = prepared[i].old_item ? &*prepared[i].old_item : nullptr;
    if (parsed[i].condition && !parsed[i].condition->Evaluate(old_ptr)) {
      found[i] = {CancellationReason::Code::kConditionalCheckFailed,
                  "The conditional request failed", std::nullopt};
      if (e.return_old_on_condition_failure) found[i].item = prepared[i].old_item;
      cancelled = true;
      continue;
    }
    switch (e.kind) {
      case TransactWriteEntry::Kind::kPut:
        prepared[i].new_item = e.item;
        break;
      case TransactWriteEntry::Kind::kDelete:
        break;
      case TransactWriteEntry::Kind::kConditionCheck:
        prepared[i].new_item = prepared[i].old_item;
        break;
      case TransactWriteEntry::Kind::kUpdate: {
        Item updated = prepared[i].old_item ? *prepared[i].old_item : e.item;
        Status s = parsed[i].update->Apply(&updated);
        for (const auto& [name, value] : e.item) {
          auto it = updated.find(name);
          if (s.ok() && (it == updated.end() || it->second != value)) {
            s = InvalidArgument(
                "One or more parameter values were invalid: Cannot update "
                "attribute " +
                name + ". This attribute is part of the key");
          }
        }
        if (s.ok()) s = ValidateWholeItem(updated);
        if (s.ok()) s = ValidateIndexKeys(prepared[i].table->schema, updated);
        if (!s.ok()) {
          found[i] = {CancellationReason::Code::kValidationError, s.message(), std::nullopt};
          cancelled = true;
          continue;
        }
        prepared[i].new_item = std::move(updated);
        break;
      }
    }
  }
  if (cancelled) {
    // Clients show this message, so it still names the codes; programs get
    // them from *reasons.
    std::string message =
        "Transaction cancelled, please refer cancellation reasons for specific reasons [";
    for (size_t i = 0; i < found.size(); ++i) {
      if (i > 0) message += ", ";
      message += CancellationReasonCodeName(found[i].code);
    }
    *reasons = std::move(found);
    return TransactionCanceled(message + "]");
  }
  // Phase 2: apply. Nothing below fails for a client reason.
  std::vector<WrittenSize> sizes(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    Prepared& p = prepared[i];
    if (entries[i].kind == TransactWriteEntry::Kind::kConditionCheck) {
      sizes[i].item_bytes = p.old_item ? ItemSizeBytes(*p.old_item) : 0;
      continue;
    }
    auto applied = ctx.ApplyChange(p.table, p.key, p.old_item ? &*p.old_item : nullptr,
                                   p.new_item ? &*p.new_item : nullptr);
    if (!applied.ok()) return applied.status();
    sizes[i] = WrittenSize{std::max(applied->old_bytes, applied->new_bytes),
                           std::move(applied->index_writes)};
  }
  if (!client_request_token.empty()) {
    KS_RETURN_IF_ERROR(ctx.RecordClientToken(client_request_token, fingerprint));
  }
  *written = std::move(sizes);
  return Status::Ok();
}

template <typename Request, typename Check, typename Apply>
Result<WriteResult> ItemStoreImpl::WriteItem(const Request& request, Check check, Apply apply) {
  ParsedWrite parsed;
  KS_RETURN_IF_ERROR(check(request, &parsed));
  WriteResult result;
  KS_RETURN_IF_ERROR(
      Write([&](BatchContext& ctx) { return apply(ctx, request, parsed, &result); }));
  return result;
}

Result<WriteResult> ItemStoreImpl::PutItem(const PutItemRequest& request) {
  return WriteItem(request, CheckPut, ApplyPut);
}

Result<WriteResult> ItemStoreImpl::UpdateItem(const UpdateItemRequest& request) {
  return WriteItem(request, CheckUpdate, ApplyUpdate);
}

Result<WriteResult> ItemStoreImpl::DeleteItem(const DeleteItemRequest& request) {
  return WriteItem(request, CheckDelete, ApplyDelete);
}

Result<ExpireResult> ItemStoreImpl::ExpireItems(const std::string& table, int64_t now_seconds,
                                                const std::optional<Item>& resume_after,
                                                size_t max_scanned) {
  KS_ASSIGN_OR_RETURN(TableDescription description, DescribeTable(table));
  ExpireResult result;
  const TimeToLiveConfig& ttl = description.schema.ttl;
  if (!ttl.enabled) return result;
  ScanRequest scan;
  scan.table = table;
  scan.limit = std::max<size_t>(1, max_scanned);
  scan.exclusive_start_key = resume_after;
  scan.filter_expression = kExpiredCondition;
  scan.expression = ExpiredConditionInputs(ttl.attribute_name, now_seconds);
  KS_ASSIGN_OR_RETURN(QueryResult page, Scan(scan));
  result.scanned = page.scanned_count;
  result.resume_after = std::move(page.last_evaluated_key);
  if (page.items.empty()) return result;

  std::vector<DeleteItemRequest> deletes(page.items.size());
  std::vector<ParsedWrite> parsed(page.items.size());
  for (size_t i = 0; i < page.items.size(); ++i) {
    DeleteItemRequest& d = deletes[i];
    d.table = table;
    d.key = ExtractKey(description.schema, page.items[i]);
    d.condition_expression = kExpiredCondition;
    d.expression = scan.expression;
    d.expired_by_ttl = true;
    KS_RETURN_IF_ERROR(CheckDelete(d, &parsed[i]));
  }
  // In transactions of at most kExpireDeletesPerWrite deletes: a large
  // expiry shares the writer with clients' writes instead of holding it.
  for (size_t begin = 0; begin < deletes.size(); begin += kExpireDeletesPerWrite) {
    const size_t end = std::min(deletes.size(), begin + kExpireDeletesPerWrite);
    size_t expired = 0;
    bool table_changed = false;
    KS_RETURN_IF_ERROR(Write([&](BatchContext& ctx) -> Status {
      expired = 0;  // the batch runs again after a map growth
      // Deleted, re-created or its TTL changed since the scan: the scan's
      // verdicts no longer apply.
      Result<TableState*> t = ctx.Table(table);
      table_changed = !t.ok() || (*t)->id != description.table_id || (*t)->schema.ttl != ttl;
      if (!t.ok()) return t.status().code() == StatusCode::kNotFound ? Status::Ok() : t.status();
      if (table_changed) return Status::Ok();
      for (size_t i = begin; i < end; ++i) {
        WriteResult written;
        Status s = ApplyDelete(ctx, deletes[i], parsed[i], &written);
        if (s.ok()) {
          if (written.old_item_bytes > 0) ++expired;
          continue;
        }
        // Updated (or deleted) since the scan: no longer expired.
        if (s.code() == StatusCode::kConditionFailed) continue;
        return s;
      }
      return Status::Ok();
    }));
    result.expired += expired;
    if (table_changed) break;
  }
  return result;
}

Status ItemStoreImpl::BatchWrite(const std::vector<BatchWriteEntry>& entries) {
  KS_RETURN_IF_ERROR(CheckBatchWrite(entries));
  std::vector<WrittenSize> written;
  return Write([&](BatchContext& ctx) { return ApplyBatchWrite(ctx, entries, &written); });
}

Status ItemStoreImpl::TransactWrite(const std::vector<TransactWriteEntry>& entries,
                                    std::vector<CancellationReason>* reasons,
                                    const std::string& client_request_token) {
  std::vector<CancellationReason> found;
  std::vector<ParsedWrite> parsed;
  Status status = CheckTransactWrite(entries, client_request_token, &parsed);
  if (status.ok()) {
    std::string fingerprint = TransactFingerprint(entries, client_request_token);
    std::vector<WrittenSize> written;
    status = Write([&](BatchContext& ctx) {
      return ApplyTransactWrite(ctx, entries, parsed, client_request_token, fingerprint, &found,
                                &written);
    });
  }
  // A batch that failed as a whole replaces the transaction's own status; its
  // reasons then describe nothing that happened.
  if (status.code() != StatusCode::kTransactionCanceled) found.clear();
  if (reasons != nullptr) *reasons = std::move(found);
  return status;
}

// The asynchronous forms move the request into one heap object that the
// queued write and its completion share; expressions are parsed after the
// move, so whatever they refer to in the request stays where it is.
template <typename Request, typename Check, typename Apply>
void ItemStoreImpl::SubmitItemWrite(Request request, WriteCallback done, Check check, Apply apply) {
  struct State {
    Request request;
    ParsedWrite parsed;
    WriteResult result;
    WriteCallback done;
  };
  auto state = std::make_shared<State>();
  state->request = std::move(request);
  Status checked = check(state->request, &state->parsed);
  if (!checked.ok()) {
    done(checked);
    return;
  }
  state->done = std::move(done);
  WriteAsync(
      [state, apply](BatchContext& ctx) {
        return apply(ctx, state->request, state->parsed, &state->result);
      },
      [state](Status status) {
        if (status.ok()) {
          state->done(std::move(state->result));
        } else {
          state->done(std::move(status));
        }
      });
}

void ItemStoreImpl::PutItemAsync(PutItemRequest request, WriteCallback done) {
  SubmitItemWrite(std::move(request), std::move(done), CheckPut, ApplyPut);
}

void ItemStoreImpl::UpdateItemAsync(UpdateItemRequest request, WriteCallback done) {
  SubmitItemWrite(std::move(request), std::move(done), CheckUpdate, ApplyUpdate);
}

void ItemStoreImpl::DeleteItemAsync(DeleteItemRequest request, WriteCallback done) {
  SubmitItemWrite(std::move(request), std::move(done), CheckDelete, ApplyDelete);
}

void ItemStoreImpl::BatchWriteAsync(std::vector<BatchWriteEntry> entries, BatchWriteCallback done) {
  Status checked = CheckBatchWrite(entries);
  if (!checked.ok()) {
    done(checked, {});
    return;
  }
  struct State {
    std::vector<BatchWriteEntry> entries;
    std::vector<WrittenSize> written;
    BatchWriteCallback done;
  };
  auto state = std::make_shared<State>();
  state->entries = std::move(entries);
  state->done = std::move(done);
  WriteAsync(
      [state](BatchContext& ctx) { return ApplyBatchWrite(ctx, state->entries, &state->written); },
      [state](Status status) {
        if (!status.ok()) state->written.clear();
        state->done(std::move(status), std::move(state->written));
      });
}

void ItemStoreImpl::TransactWriteAsync(std::vector<TransactWriteEntry> entries,
                                       std::string client_request_token,
                                       TransactWriteSizesCallback done) {
  struct State {
    std::vector<TransactWriteEntry> entries;
    std::string token;
    std::string fingerprint;
    std::vector<ParsedWrite> parsed;
    std::vector<CancellationReason> reasons;
    std::vector<WrittenSize> written;
    TransactWriteSizesCallback done;
  };
  auto state = std::make_shared<State>();
  state->entries = std::move(entries);
  state->token = std::move(client_request_token);
  Status checked = CheckTransactWrite(state->entries, state->token, &state->parsed);
  if (!checked.ok()) {
    done(checked, {}, {});
    return;
  }
  state->fingerprint = TransactFingerprint(state->entries, state->token);
  state->done = std::move(done);
  WriteAsync(
      [state](BatchContext& ctx) {
        return ApplyTransactWrite(ctx, state->entries, state->parsed, state->token,
                                  state->fingerprint, &state->reasons, &state->written);
      },
      [state](Status status) {
        // As in TransactWrite: only the transaction's own cancellation has
        // reasons.
        if (status.code() != StatusCode::kTransactionCanceled) state->reasons.clear();
        if (!status.ok()) state->written.clear();
        state->done(std::move(status), std::move(state->reasons), std::move(state->written));
      });
}

// ---------------------------------------------------------------------------
// Item reads.

Result<std::optional<Item>> ItemStoreImpl::GetItem(const GetItemRequest& request,
                                                   uint64_t* item_bytes) {
  if (item_bytes != nullptr) *item_bytes = 0;
  std::optional<ProjectionExpression> projection;
  ExpressionAttributes attrs(request.expression.names, request.expression.values);
  if (!request.projection_expression.empty()) {
    KS_ASSIGN_OR_RETURN(projection,
                        ProjectionExpression::Parse(request.projection_expression, attrs));
  }
  KS_RETURN_IF_ERROR(attrs.CheckAllUsed());
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  KS_ASSIGN_OR_RETURN(std::shared_ptr<const TableState> t, LoadTableKeys(txn, request.table));
  KS_ASSIGN_OR_RETURN(std::string key, EncodeStorageKey(*t, request.key, true));
  KS_ASSIGN_OR_RETURN(std::optional<std::string_view> bytes, GetItemBytes(txn, key));
  if (!bytes) return std::optional<Item>();
  KS_ASSIGN_OR_RETURN(Item item, DecodeItem(*bytes));
  if (item_bytes != nullptr) *item_bytes = ItemSizeBytes(item);
  if (projection) return std::optional<Item>(projection->Apply(item));
  return std::optional<Item>(std::move(item));
}

Result<bool> ItemStoreImpl::GetItemEncoded(const GetItemRequest& request, std::string* encoded) {
  if (!request.projection_expression.empty() || !request.expression.names.empty() ||
      !request.expression.values.empty()) {
    return InvalidArgument("GetItemEncoded takes no projection or expression attributes");
  }
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  KS_ASSIGN_OR_RETURN(std::shared_ptr<const TableState> t, LoadTableKeys(txn, request.table));
  KS_ASSIGN_OR_RETURN(std::string key, EncodeStorageKey(*t, request.key, true));
  KS_ASSIGN_OR_RETURN(std::optional<std::string_view> bytes, GetItemBytes(txn, key));
  if (!bytes) return false;
  encoded->assign(bytes->data(), bytes->size());
  return true;
}

Result<std::vector<std::optional<Item>>> ItemStoreImpl::TransactGet(
    const std::vector<GetItemRequest>& gets, std::vector<uint64_t>* item_bytes) {
  if (gets.empty() || gets.size() > kMaxTransactItems) {
    return InvalidArgument(
        "1 validation error detected: Value at 'transactItems' failed to "
        "satisfy constraint: Member must have length between 1 and 100");
  }
  std::vector<std::optional<ProjectionExpression>> projections(gets.size());
  for (size_t i = 0; i < gets.size(); ++i) {
    KS_RETURN_IF_ERROR(ValidateItem(gets[i].key));
    ExpressionAttributes attrs(gets[i].expression.names, gets[i].expression.values);
    if (!gets[i].projection_expression.empty()) {
      KS_ASSIGN_OR_RETURN(projections[i],
                          ProjectionExpression::Parse(gets[i].projection_expression, attrs));
    }
    KS_RETURN_IF_ERROR(attrs.CheckAllUsed());
  }
  // One read transaction: every get sees the same committed state.
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  std::map<std::string, TableState> tables;
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<std::optional<Item>> results(gets.size());
  std::vector<uint64_t> sizes(gets.size());
  for (size_t i = 0; i < gets.size(); ++i) {
    auto it = tables.find(gets[i].table);
    if (it == tables.end()) {
      KS_ASSIGN_OR_RETURN(TableState t, LoadLiveTable(txn, gets[i].table));
      it = tables.emplace(gets[i].table, std::move(t)).first;
    }
    KS_ASSIGN_OR_RETURN(std::string key, EncodeStorageKey(it->second, gets[i].key, true));
    if (!seen.emplace(gets[i].table, key).second) {
      return InvalidArgument("Transaction request cannot include multiple operations on one item");
    }
    KS_ASSIGN_OR_RETURN(std::optional<std::string_view> bytes, GetItemBytes(txn, key));
    if (!bytes) continue;
    KS_ASSIGN_OR_RETURN(Item item, DecodeItem(*bytes));
    sizes[i] = ItemSizeBytes(item);
    results[i] = projections[i] ? projections[i]->Apply(item) : std::move(item);
  }
  if (item_bytes != nullptr) *item_bytes = std::move(sizes);
  return results;
}

Result<BatchGetResult> ItemStoreImpl::BatchGet(const std::vector<BatchGetEntry>& entries) {
  size_t total = 0;
  for (const BatchGetEntry& e : entries) total += e.keys.size();
  if (total == 0) {
    return InvalidArgument(
        "1 validation error detected: Value at 'requestItems' failed to "
        "satisfy constraint: Member must have at least 1 item");
  }
  if (total > kMaxBatchGetKeys) {
    return InvalidArgument("Too many items requested for the BatchGetItem call");
  }
  BatchGetResult result;
  for (const BatchGetEntry& e : entries) {
    std::vector<Item>& found = result.responses[e.table];
    std::vector<uint64_t>& sizes = result.item_bytes[e.table];
    for (const Item& key : e.keys) {
      GetItemRequest get{e.table, key, e.projection_expression, e.expression};
      uint64_t size = 0;
      KS_ASSIGN_OR_RETURN(std::optional<Item> item, GetItem(get, &size));
      sizes.push_back(size);
      if (item) found.push_back(std::move(*item));
    }
  }
  return result;
}

// Reads the items of `t` whose full keys start with `prefix` and lie within
// [lower, upper] (each optional, inclusive or not), in key order or reverse,
// after `start_key` (exclusive) when non-empty. Ends a page at q.limit items
// read or 1 MB, setting last_evaluated_key.
Result<QueryResult> ItemStoreImpl::ReadRange(const TableState& t, std::string_view start_key,
                                             std::string_view prefix, const std::string* lower,
                                             bool lower_inc, const std::string* upper,
                                             bool upper_inc, bool forward, const QueryRequest& q,
                                             const ConditionExpression* filter,
                                             const ProjectionExpression* projection,
                                             const IndexRead& index, Txn& txn) {
  // -1: before the range, 0: inside, +1: after it.
  auto classify = [&](std::string_view key) {
    if (key.substr(0, prefix.size()) != prefix) return key < prefix ? -1 : 1;
    if (lower != nullptr) {
      int c = key.compare(*lower);
      if (c < 0 || (c == 0 && !lower_inc)) return -1;
    }
    if (upper != nullptr) {
      int c = key.compare(*upper);
      if (c > 0 || (c == 0 && !upper_inc)) return 1;
    }
    return 0;
  };
  std::string seek;
  if (!start_key.empty()) {
    seek = std::string(start_key);
  } else if (forward) {
    seek = lower != nullptr ? *lower : std::string(prefix);
  } else if (upper != nullptr) {
    seek = *upper;
  } else {
    seek = PrefixSuccessor(std::string(prefix));
  }
  ItemCursor cursor(env_.get(), txn.get(), forward);
  if (seek.empty()) seek.assign(4, '\xff');  // past every table
  KS_RETURN_IF_ERROR(cursor.Seek(seek));

  QueryResult result;
  size_t page_bytes = 0;
  std::string last_key;
  bool stopped_early = false;
  for (bool first = true;; first = false) {
    if (!first) {
      KS_RETURN_IF_ERROR(cursor.Next());
    }
    if (!cursor.valid()) break;
    std::string_view key = cursor.key();
    if (!start_key.empty() && key == start_key) continue;
    int where = classify(key);
    if (where != 0) {
      // Seeking lands at the near edge; anything on the far side ends it.
      if ((forward && where > 0) || (!forward && where < 0)) break;
      continue;
    }
    if ((q.limit > 0 && result.scanned_count >= q.limit) || page_bytes >= kMaxPageBytes) {
      stopped_early = true;
      break;
    }
    KS_ASSIGN_OR_RETURN(Item item, DecodeItem(cursor.value()));
    if (index.fetch_items) {
      std::string table_key;
      KS_RETURN_IF_ERROR(DecodeIndexEntryKey(t, *index.index, key, &table_key).status());
      KS_ASSIGN_OR_RETURN(std::optional<std::string_view> whole, GetItemBytes(txn, table_key));
      // Entries and items change in one transaction: this read's snapshot
      // has the item.
      if (!whole)
        return Internal("index " + index.index->name + " has an entry for a missing item");
      KS_ASSIGN_OR_RETURN(item, DecodeItem(*whole));
    }
    ++result.scanned_count;
    if (q.measure_scanned_bytes) result.scanned_bytes += ItemSizeBytes(item);
    page_bytes += cursor.stored_bytes();
    last_key.assign(key);
    if (filter == nullptr || filter->Evaluate(&item)) {
      if (projection != nullptr) {
        result.items.push_back(projection->Apply(item));
      } else if (index.fetch_items && !index.whole_items) {
        result.items.push_back(ProjectForIndex(t.schema, *index.index, item));
      } else {
        result.items.push_back(std::move(item));
      }
    }
  }
  if (stopped_early) {
    if (index.index != nullptr) {
      KS_ASSIGN_OR_RETURN(result.last_evaluated_key,
                          DecodeIndexEntryKey(t, *index.index, last_key, nullptr));
    } else {
      KS_ASSIGN_OR_RETURN(result.last_evaluated_key, DecodeStorageKey(t, last_key));
    }
  }
  return result;
}

Result<QueryResult> ItemStoreImpl::Query(const QueryRequest& request) {
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  KS_ASSIGN_OR_RETURN(std::shared_ptr<const TableState> keys, LoadTableKeys(txn, request.table));
  const TableState& t = *keys;
  ExpressionAttributes attrs(request.expression.names, request.expression.values);
  if (request.key_condition_expression.empty()) {
    return InvalidArgument(
        "Either the KeyConditions or KeyConditionExpression parameter must be "
        "specified in the request.");
  }
  KS_ASSIGN_OR_RETURN(
      IndexRead read,
      ResolveIndexRead(t, request.index_name, request.select_all_attributes,
                       !request.filter_expression.empty(), !request.projection_expression.empty()));
  const KeyAttribute& partition_key = *read.partition_key;
  KS_ASSIGN_OR_RETURN(
      KeyCondition cond,
      KeyCondition::Parse(request.key_condition_expression, attrs, partition_key.name,
                          read.sort_key ? read.sort_key->name : ""));
  std::optional<ConditionExpression> filter;
  if (!request.filter_expression.empty()) {
    KS_ASSIGN_OR_RETURN(
        filter, ConditionExpression::Parse(request.filter_expression, attrs, "FilterExpression"));
    // As DynamoDB: the queried key's attributes belong in the key condition.
    std::vector<std::string> keys = {partition_key.name};
    if (read.sort_key != nullptr) keys.push_back(read.sort_key->name);
    if (const std::string* key = filter->FindTopLevelName(keys)) {
      return InvalidArgument(request.filter_parameter +
                             " can only contain non-primary key attributes: Primary key "
                             "attribute: " +
                             *key);
    }
  }
  std::optional<ProjectionExpression> projection;
  if (!request.projection_expression.empty()) {
    KS_ASSIGN_OR_RETURN(projection,
                        ProjectionExpression::Parse(request.projection_expression, attrs));
  }
  KS_RETURN_IF_ERROR(attrs.CheckAllUsed());

  auto type_error = [](const KeyAttribute& key, const AttributeValue& v) {
    return InvalidArgument(
        "One or more parameter values were invalid: Condition parameter type "
        "does not match schema type for key " +
        key.name + ": expected " + std::string(AttributeTypeName(key.type)) + ", got " +
        std::string(AttributeTypeName(v.type())));
  };
  if (!cond.partition_value.is(partition_key.type)) {
    return type_error(partition_key, cond.partition_value);
  }
  KS_RETURN_IF_ERROR(ValidateKeyValue(partition_key, &cond.partition_value, false, false));
  std::string prefix;
  AppendBigEndian32(read.id, &prefix);
  AppendOrderedKey(cond.partition_value, &prefix);

  // Bounds on the sort key. An index entry's key goes on after its sort key
  // (with the table key), so "sort key = v" is every key that starts with
  // v's encoding: bounds are encodings (inclusive) or the successors of
  // encodings (exclusive), which also holds for table keys.
  std::string lower_key, upper_key;
  const std::string* lower = nullptr;
  const std::string* upper = nullptr;
  bool lower_inc = true, upper_inc = true;
  std::string begins_prefix = prefix;
  auto encoded = [&](const AttributeValue& v) {
    std::string key = prefix;
    AppendOrderedKey(v, &key);
    return key;
  };
  auto set_lower = [&](std::string key, bool inclusive) {
    lower_key = std::move(key);
    lower = &lower_key;
    lower_inc = inclusive;
  };
  auto set_upper = [&](std::string key, bool inclusive) {
    upper_key = std::move(key);
    upper = &upper_key;
    upper_inc = inclusive;
  };
  if (cond.sort_op != KeyCondition::SortOp::kNone) {
    const KeyAttribute& sk = *read.sort_key;
    if (!cond.sort_value.is(sk.type)) return type_error(sk, cond.sort_value);
    switch (cond.sort_op) {
      case KeyCondition::SortOp::kEq:
        begins_prefix = encoded(cond.sort_value);
        break;
      case KeyCondition::SortOp::kLt:
        set_upper(encoded(cond.sort_value), false);
        break;
      case KeyCondition::SortOp::kLe:
        set_upper(PrefixSuccessor(encoded(cond.sort_value)), false);
        break;
      case KeyCondition::SortOp::kGt:
        set_lower(PrefixSuccessor(encoded(cond.sort_value)), true);
        break;
      case KeyCondition::SortOp::kGe:
        set_lower(encoded(cond.sort_value), true);
        break;
      case KeyCondition::SortOp::kBetween:
        if (!cond.sort_value2.is(sk.type)) return type_error(sk, cond.sort_value2);
        if (cond.sort_value2.is(AttributeType::kN)
                ? cond.sort_value.n().Compare(cond.sort_value2.n()) > 0
                : (cond.sort_value.is(AttributeType::kS)
                       ? cond.sort_value.s() > cond.sort_value2.s()
                       : cond.sort_value.b() > cond.sort_value2.b())) {
          return InvalidArgument(
              "Invalid KeyConditionExpression: The BETWEEN operator requires "
              "upper bound to be greater than or equal to lower bound");
        }
        set_lower(encoded(cond.sort_value), true);
        set_upper(PrefixSuccessor(encoded(cond.sort_value2)), false);
        break;
      case KeyCondition::SortOp::kBeginsWith:
        if (sk.type == AttributeType::kN) {
          return InvalidArgument(
              "Invalid KeyConditionExpression: Incorrect operand type for "
              "operator or function; operator or function: begins_with, "
              "operand type: N");
        }
        AppendOrderedPrefix(
            cond.sort_value.is(AttributeType::kS) ? cond.sort_value.s() : cond.sort_value.b(),
            &begins_prefix);
        break;
      case KeyCondition::SortOp::kNone:
        break;
    }
  }
  std::string start;
  if (request.exclusive_start_key) {
    KS_ASSIGN_OR_RETURN(start, EncodeStartKey(t, read, *request.exclusive_start_key));
    if (start.compare(0, prefix.size(), prefix) != 0) {
      return InvalidArgument(
          "The provided starting key is invalid: The provided key element "
          "does not match the query's partition key");
    }
  }
  return ReadRange(t, start, begins_prefix, lower, lower_inc, upper, upper_inc,
                   request.scan_forward, request, filter ? &*filter : nullptr,
                   projection ? &*projection : nullptr, read, txn);
}

// The parallel-scan segment of the items with partition key `pk`: a hash of
// it, so that every item of one partition falls in one segment.
uint32_t ScanSegmentOf(const AttributeValue& pk, uint32_t total_segments) {
  std::string ordered;
  AppendOrderedKey(pk, &ordered);
  uint64_t hash = 1469598103934665603ull;  // FNV-1a
  for (char c : ordered) hash = (hash ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return static_cast<uint32_t>(hash % total_segments);
}

Result<QueryResult> ItemStoreImpl::Scan(const ScanRequest& request) {
  if (request.total_segments == 0 || request.total_segments > 1000000 ||
      request.segment >= request.total_segments) {
    return InvalidArgument(
        "Segment must be less than TotalSegments, and TotalSegments must be "
        "between 1 and 1000000");
  }
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  KS_ASSIGN_OR_RETURN(std::shared_ptr<const TableState> keys, LoadTableKeys(txn, request.table));
  const TableState& t = *keys;
  ExpressionAttributes attrs(request.expression.names, request.expression.values);
  KS_ASSIGN_OR_RETURN(
      IndexRead read,
      ResolveIndexRead(t, request.index_name, request.select_all_attributes,
                       !request.filter_expression.empty(), !request.projection_expression.empty()));
  std::optional<ConditionExpression> filter;
  if (!request.filter_expression.empty()) {
    KS_ASSIGN_OR_RETURN(
        filter, ConditionExpression::Parse(request.filter_expression, attrs, "FilterExpression"));
  }
  std::optional<ProjectionExpression> projection;
  if (!request.projection_expression.empty()) {
    KS_ASSIGN_OR_RETURN(projection,
                        ProjectionExpression::Parse(request.projection_expression, attrs));
  }
  KS_RETURN_IF_ERROR(attrs.CheckAllUsed());
  const std::string& segment_key = read.partition_key->name;
  std::string start;
  if (request.exclusive_start_key) {
    KS_ASSIGN_OR_RETURN(start, EncodeStartKey(t, read, *request.exclusive_start_key));
    // A key of another segment would silently skip part of this one.
    if (request.total_segments > 1 && ScanSegmentOf(request.exclusive_start_key->at(segment_key),
                                                    request.total_segments) != request.segment) {
      return InvalidArgument(
          "The provided Exclusive start key does not map to the provided Segment and "
          "TotalSegments values.");
    }
  }
  std::string prefix = TableIdKey(read.id);
  QueryRequest as_query;
  as_query.limit = request.limit;
  as_query.measure_scanned_bytes = request.measure_scanned_bytes;
  if (request.total_segments == 1) {
    return ReadRange(t, start, prefix, nullptr, true, nullptr, true, true, as_query,
                     filter ? &*filter : nullptr, projection ? &*projection : nullptr, read, txn);
  }
  // Parallel scan: reads the whole range and keeps this segment's items
  // (whole, when fetched, until the filter saw them); Limit and the 1 MB
  // page bound count this segment's items only.
  IndexRead chunk_read = read;
  chunk_read.whole_items = true;
  QueryResult result;
  std::string cursor_key = start;
  for (;;) {
    QueryRequest page = as_query;
    page.limit = 256;
    page.measure_scanned_bytes = false;  // this segment's items are measured below
    KS_ASSIGN_OR_RETURN(QueryResult chunk,
                        ReadRange(t, cursor_key, prefix, nullptr, true, nullptr, true, true, page,
                                  nullptr, nullptr, chunk_read, txn));
    for (Item& item : chunk.items) {
      if (read.index == nullptr) {
        KS_ASSIGN_OR_RETURN(cursor_key, EncodeStorageKey(t, ExtractKey(t.schema, item), true));
      } else {
        KS_ASSIGN_OR_RETURN(std::string table_key, EncodeStorageKey(t, item, false));
        cursor_key = IndexEntryKey(*read.index, read.id, item, table_key).value();
      }
      if (ScanSegmentOf(item.at(segment_key), request.total_segments) != request.segment) {
        continue;
      }
      ++result.scanned_count;
      result.scanned_bytes += ItemSizeBytes(item);
      if (!filter || filter->Evaluate(&item)) {
        if (projection) {
          result.items.push_back(projection->Apply(item));
        } else if (read.fetch_items && !read.whole_items) {
          result.items.push_back(ProjectForIndex(t.schema, *read.index, item));
        } else {
          result.items.push_back(std::move(item));
        }
      }
      if ((request.limit > 0 && result.scanned_count >= request.limit) ||
          result.scanned_bytes >= kMaxPageBytes) {
        if (read.index == nullptr) {
          result.last_evaluated_key = DecodeStorageKey(t, cursor_key).value();
        } else {
          KS_ASSIGN_OR_RETURN(result.last_evaluated_key,
                              DecodeIndexEntryKey(t, *read.index, cursor_key, nullptr));
        }
        return result;
      }
    }
    if (!chunk.last_evaluated_key) return result;
  }
}

// ---------------------------------------------------------------------------
// Stream reads.

Result<uint64_t> ItemStoreImpl::ReadHead(Txn& txn) {
  return ReadMetaCounter(txn, kMetaSequence, "sequence counter");
}

Result<uint64_t> ItemStoreImpl::HeadSequence() {
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  return ReadHead(txn);
}

StreamInfo InfoOf(const TableState& t, int64_t now_ms) {
  StreamInfo info;
  info.table = t.schema.name;
  info.table_id = t.id;
  info.partition_key = t.schema.partition_key;
  info.sort_key = t.schema.sort_key;
  info.enabled = t.schema.stream.enabled;
  info.view_type = t.schema.stream.view_type;
  info.stream_label_ms = t.stream_label_ms;
  info.label_start_sequence = t.label_start_sequence;
  info.created_sequence = t.created_sequence;
  info.holds_whole_history =
      t.stream_since_creation && t.schema.stream.enabled && t.trimmed_through == 0;
  info.record_count = t.stream_count;
  info.record_bytes = t.stream_bytes;
  info.oldest_sequence = t.stream_count > 0 ? t.oldest_sequence : 0;
  info.latest_sequence = t.latest_sequence;
  info.trimmed_through = t.trimmed_through;
  info.table_exists = t.exists;
  for (const ReplacedStream& r : t.replaced_streams) {
    if (StillReadable(t, r, now_ms)) info.replaced_streams.push_back(r);
  }
  return info;
}

Status ItemStoreImpl::ForEachStreamRecord(Txn& txn, const TableState& t, uint64_t after, size_t max,
                                          size_t* count, const StreamRecordFn& add) {
  if (after < t.trimmed_through) {
    uint64_t oldest = t.stream_count > 0 ? t.oldest_sequence : t.latest_sequence + 1;
    return Trimmed(
        "stream of table " + t.schema.name + " no longer holds records after sequence " +
        std::to_string(after) + "; records through " + std::to_string(t.trimmed_through) +
        " were trimmed; the oldest available sequence number is " + std::to_string(oldest));
  }
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), env_->dbi(Db::kStream), &cursor);
  if (rc != 0) return env_->Error(rc, "opening a cursor on the stream");
  std::string seek = StreamKey(t.id, after + 1);
  MDB_val k = ToVal(seek), v;
  Status status;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == 0 && *count < max;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    std::string_view key = FromVal(k);
    if (key.size() != 12 || ReadBigEndian32(key) != t.id) break;
    ++*count;
    status = add(ReadBigEndian64(key.substr(4)), FromVal(v));
    if (!status.ok()) break;
  }
  mdb_cursor_close(cursor);
  KS_RETURN_IF_ERROR(status);
  if (rc != 0 && rc != MDB_NOTFOUND) return env_->Error(rc, "reading the stream");
  return Status::Ok();
}

Result<StreamBatch> ItemStoreImpl::ReadStream(const std::string& table, uint64_t after,
                                              size_t max) {
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  KS_ASSIGN_OR_RETURN(TableState t, LoadStreamTable(txn, table));
  StreamBatch batch;
  KS_ASSIGN_OR_RETURN(batch.head_sequence, ReadHead(txn));
  batch.records.reserve(std::min<size_t>(max, 1024));
  size_t count = 0;
  KS_RETURN_IF_ERROR(ForEachStreamRecord(txn, t, after, max, &count,
                                         [&](uint64_t sequence, std::string_view value) {
                                           StreamRecord& record = batch.records.emplace_back();
                                           record.sequence = sequence;
                                           record.table = t.schema.name;
                                           return DecodeStreamRecord(value, &record);
                                         }));
  return batch;
}

Status ItemStoreImpl::ForEachHistoryRecord(Txn& txn, const std::string& table, uint64_t after,
                                           size_t max, uint64_t* head, const StreamRecordFn& add) {
  size_t count = 0;
  {
    // The common case, a reader within the newest incarnation, costs what
    // ReadStream does; only a reader behind it lists the others.
    KS_ASSIGN_OR_RETURN(TableState newest, LoadStreamTable(txn, table));
    if (after >= newest.created_sequence) {
      KS_ASSIGN_OR_RETURN(*head, ReadHead(txn));
      return ForEachStreamRecord(txn, newest, after, max, &count, add);
    }
  }
  // Every incarnation of the name that had a stream, oldest first: ids grow
  // with creation, and one is deleted before the next is created, so their
  // sequence numbers do not interleave.
  std::vector<TableState> incarnations;
  KS_RETURN_IF_ERROR(ForEachTableState(txn, [&](TableState&& t) {
    if (t.schema.name == table && t.stream_label_ms != 0) incarnations.push_back(std::move(t));
  }));
  if (incarnations.empty()) {
    return NotFound("Requested resource not found: Stream for table " + table + " not found");
  }
  KS_ASSIGN_OR_RETURN(*head, ReadHead(txn));
  for (const TableState& t : incarnations) {
    // Nothing of it after `after` (or a deleted table's stream already read).
    if (t.latest_sequence <= after && &t != &incarnations.back()) continue;
    KS_RETURN_IF_ERROR(ForEachStreamRecord(txn, t, after, max, &count, add));
    if (count >= max) break;
  }
  return Status::Ok();
}

Result<StreamBatch> ItemStoreImpl::ReadTableHistory(const std::string& table, uint64_t after,
                                                    size_t max) {
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  StreamBatch batch;
  batch.records.reserve(std::min<size_t>(max, 1024));
  KS_RETURN_IF_ERROR(ForEachHistoryRecord(txn, table, after, max, &batch.head_sequence,
                                          [&](uint64_t sequence, std::string_view value) {
                                            StreamRecord& record = batch.records.emplace_back();
                                            record.sequence = sequence;
                                            record.table = table;
                                            return DecodeStreamRecord(value, &record);
                                          }));
  return batch;
}

Status ItemStoreImpl::ReadTableHistoryEncoded(const std::string& table, uint64_t after, size_t max,
                                              EncodedStreamBatch* batch) {
  batch->records.clear();
  batch->buffer.clear();
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  size_t bytes = 0;
  KS_RETURN_IF_ERROR(ForEachHistoryRecord(
      txn, table, after, max, &batch->head_sequence,
      [&](uint64_t sequence, std::string_view value) {
        EncodedStreamRecord& record = batch->records.emplace_back();
        record.sequence = sequence;
        KS_RETURN_IF_ERROR(ParseStreamRecord(value, &record));
        bytes += record.keys.size() + (record.old_image ? record.old_image->size() : 0) +
                 (record.new_image ? record.new_image->size() : 0);
        return Status::Ok();
      }));
  // The views point into the map, valid only in this transaction: they move
  // to the buffer, reserved once so that appending never relocates it.
  batch->buffer.reserve(bytes);
  auto keep = [&](std::string_view v) {
    size_t at = batch->buffer.size();
    batch->buffer.append(v);
    return std::string_view(batch->buffer.data() + at, v.size());
  };
  for (EncodedStreamRecord& record : batch->records) {
    record.keys = keep(record.keys);
    if (record.old_image) record.old_image = keep(*record.old_image);
    if (record.new_image) record.new_image = keep(*record.new_image);
  }
  return Status::Ok();
}

Result<StreamInfo> ItemStoreImpl::GetStreamInfo(const std::string& table) {
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  KS_ASSIGN_OR_RETURN(TableState t, LoadStreamTable(txn, table));
  return InfoOf(t, clock_->NowMs());
}

Result<std::vector<StreamInfo>> ItemStoreImpl::ListStreams() {
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  std::vector<StreamInfo> streams;
  KS_RETURN_IF_ERROR(ForEachTableState(txn, [&](TableState&& t) {
    if (t.stream_label_ms != 0 && (t.exists || t.stream_count > 0)) {
      streams.push_back(InfoOf(t, clock_->NowMs()));
    }
  }));
  return streams;
}

Status ItemStoreImpl::ForEachTableState(Txn& txn, const std::function<void(TableState&&)>& fn) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), env_->dbi(Db::kTables), &cursor);
  if (rc != 0) return env_->Error(rc, "opening a cursor on tables");
  MDB_val k, v;
  Status status;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    TableState t;
    status = DecodeTableState(FromVal(v), &t);
    if (!status.ok()) break;
    fn(std::move(t));
  }
  mdb_cursor_close(cursor);
  KS_RETURN_IF_ERROR(status);
  if (rc != MDB_NOTFOUND) return env_->Error(rc, "listing tables");
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Positions.

namespace {

Status CheckPositionName(const ReaderPosition& position) {
  if (position.name.empty() || position.name.size() > 255) {
    return InvalidArgument("position name must be 1 to 255 bytes long");
  }
  return Status::Ok();
}

Status PutPosition(BatchContext& ctx, const ReaderPosition& position) {
  ReaderPosition stored = position;
  stored.updated_ms = ctx.now_ms();
  Status s = ctx.txn().Put(Db::kPositions, position.name, EncodePosition(stored));
  if (!s.ok()) ctx.env_status = s;
  return s;
}

}  // namespace

Status ItemStoreImpl::SavePosition(const ReaderPosition& position) {
  KS_RETURN_IF_ERROR(CheckPositionName(position));
  return Write([&](BatchContext& ctx) { return PutPosition(ctx, position); });
}

void ItemStoreImpl::SavePositionAsync(ReaderPosition position, StatusCallback done) {
  Status valid = CheckPositionName(position);
  if (!valid.ok()) {
    done(std::move(valid));
    return;
  }
  WriteAsync(
      [position = std::move(position)](BatchContext& ctx) { return PutPosition(ctx, position); },
      std::move(done));
}

Result<std::optional<ReaderPosition>> ItemStoreImpl::LoadPosition(const std::string& name) {
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  auto raw = txn.Get(Db::kPositions, name);
  if (!raw.ok()) {
    if (raw.status().code() == StatusCode::kNotFound) return std::optional<ReaderPosition>();
    return raw.status();
  }
  ReaderPosition position;
  KS_RETURN_IF_ERROR(DecodePosition(name, *raw, &position));
  return std::optional<ReaderPosition>(std::move(position));
}

Status ItemStoreImpl::DeletePosition(const std::string& name) {
  return Write([&](BatchContext& ctx) -> Status {
    Status s = ctx.txn().Delete(Db::kPositions, name);
    if (s.code() == StatusCode::kNotFound) return NotFound("no position named " + name);
    if (!s.ok()) ctx.env_status = s;
    return s;
  });
}

Result<std::vector<ReaderPosition>> ItemStoreImpl::ListPositions() {
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  std::vector<ReaderPosition> positions;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), env_->dbi(Db::kPositions), &cursor);
  if (rc != 0) return env_->Error(rc, "listing positions");
  MDB_val k, v;
  Status status;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    status = DecodePosition(FromVal(k), FromVal(v), &positions.emplace_back());
    if (!status.ok()) break;
  }
  mdb_cursor_close(cursor);
  KS_RETURN_IF_ERROR(status);
  if (rc != MDB_NOTFOUND) return env_->Error(rc, "listing positions");
  return positions;
}

Result<SnapshotChunk> ItemStoreImpl::ReadSnapshotChunk(const std::string& table,
                                                       const std::optional<Item>& after_key,
                                                       size_t max) {
  if (max == 0) return InvalidArgument("snapshot chunk size must be at least 1");
  KS_ASSIGN_OR_RETURN(Txn txn, env_->BeginRead());
  KS_ASSIGN_OR_RETURN(TableState t, LoadLiveTable(txn, table));
  SnapshotChunk chunk;
  KS_ASSIGN_OR_RETURN(chunk.sequence, ReadHead(txn));
  std::string start;
  if (after_key) {
    KS_ASSIGN_OR_RETURN(start, EncodeStorageKey(t, *after_key, true));
  }
  QueryRequest page;
  page.limit = max;
  KS_ASSIGN_OR_RETURN(QueryResult result,
                      ReadRange(t, start, TableIdKey(t.id), nullptr, true, nullptr, true, true,
                                page, nullptr, nullptr, IndexRead{}, txn));
  chunk.items = std::move(result.items);
  chunk.last_key = std::move(result.last_evaluated_key);
  return chunk;
}

ItemStore::MapUsage ItemStoreImpl::GetMapUsage() {
  return MapUsage{env_->map_size(), env_->used_bytes()};
}

}  // namespace

// ---------------------------------------------------------------------------

Result<std::unique_ptr<ItemStore>> ItemStore::Open(const StoreOptions& options) {
  if (options.path.empty()) return InvalidArgument("StoreOptions.path is empty");
  if (options.max_batch_writes == 0) return InvalidArgument("max_batch_writes must be at least 1");
  LmdbOptions lmdb;
  lmdb.path = options.path;
  lmdb.sync = options.sync;
  lmdb.initial_map_size = std::max<uint64_t>(options.initial_map_size, 1ull << 20);
  lmdb.max_map_size = options.max_map_size == 0 ? (1ull << 40) : options.max_map_size;
  if (lmdb.max_map_size < lmdb.initial_map_size) {
    return InvalidArgument("max_map_size (" + std::to_string(lmdb.max_map_size) +
                           ") is below initial_map_size (" + std::to_string(lmdb.initial_map_size) +
                           ")");
  }
  lmdb.max_readers = options.max_readers;
  KS_ASSIGN_OR_RETURN(std::unique_ptr<LmdbEnv> env, LmdbEnv::Open(lmdb));
  auto store = std::make_unique<ItemStoreImpl>(options, std::move(env));
  KS_RETURN_IF_ERROR(store->Start());
  return std::unique_ptr<ItemStore>(std::move(store));
}

std::string_view CancellationReasonCodeName(CancellationReason::Code code) {
  switch (code) {
    case CancellationReason::Code::kNone:
      return "None";
    case CancellationReason::Code::kConditionalCheckFailed:
      return "ConditionalCheckFailed";
    case CancellationReason::Code::kValidationError:
      return "ValidationError";
  }
  return "None";
}

Result<TableDescription> ItemStore::UpdateStream(const std::string& name,
                                                 const StreamConfig& stream) {
  TableUpdate update;
  update.stream = stream;
  return UpdateTable(name, update);
}

Status ItemStore::TransactWrite(const std::vector<TransactWriteEntry>& entries,
                                std::vector<CancellationReason>* reasons) {
  return TransactWrite(entries, reasons, "");
}

Status ItemStore::TransactWrite(const std::vector<TransactWriteEntry>& entries) {
  return TransactWrite(entries, nullptr, "");
}

void ItemStore::TransactWriteAsync(std::vector<TransactWriteEntry> entries,
                                   std::string client_request_token, TransactWriteCallback done) {
  TransactWriteAsync(
      std::move(entries), std::move(client_request_token),
      [done = std::move(done)](Status status, std::vector<CancellationReason> reasons,
                               std::vector<WrittenSize>) {
        done(std::move(status), std::move(reasons));
      });
}

void ItemStore::TransactWriteAsync(std::vector<TransactWriteEntry> entries,
                                   TransactWriteCallback done) {
  TransactWriteAsync(std::move(entries), "", std::move(done));
}

void ItemStore::BatchWriteAsync(std::vector<BatchWriteEntry> entries, StatusCallback done) {
  BatchWriteAsync(std::move(entries),
                  [done = std::move(done)](Status status, std::vector<WrittenSize>) {
                    done(std::move(status));
                  });
}

Result<std::optional<Item>> ItemStore::GetItem(const GetItemRequest& request) {
  return GetItem(request, nullptr);
}

Result<std::vector<std::optional<Item>>> ItemStore::TransactGet(
    const std::vector<GetItemRequest>& gets) {
  return TransactGet(gets, nullptr);
}

void ItemStore::TransactWriteAsync(std::vector<TransactWriteEntry> entries, StatusCallback done) {
  TransactWriteAsync(std::move(entries), "",
                     [done = std::move(done)](Status status, std::vector<CancellationReason>) {
                       done(std::move(status));
                     });
}

Result<WriteResult> ItemStore::Put(const std::string& table, Item item) {
  PutItemRequest request;
  request.table = table;
  request.item = std::move(item);
  return PutItem(request);
}

Result<std::optional<Item>> ItemStore::Get(const std::string& table, Item key) {
  GetItemRequest request;
  request.table = table;
  request.key = std::move(key);
  return GetItem(request);
}

Result<WriteResult> ItemStore::Delete(const std::string& table, Item key) {
  DeleteItemRequest request;
  request.table = table;
  request.key = std::move(key);
  return DeleteItem(request);
}

Result<WriteResult> ItemStore::Update(const std::string& table, Item key,
                                      std::string update_expression,
                                      std::map<std::string, AttributeValue> values) {
  UpdateItemRequest request;
  request.table = table;
  request.key = std::move(key);
  request.update_expression = std::move(update_expression);
  request.expression.values = std::move(values);
  return UpdateItem(request);
}

}  // namespace keystone::store
