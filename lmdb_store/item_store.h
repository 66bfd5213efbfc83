#pragma once

// ItemStore: DynamoDB-style tables in one LMDB environment, with a persistent
// change stream. Every successful item write appends its StreamRecord in the
// same LMDB write transaction (invariant 1 of ARCHITECTURE.md), with a global
// sequence number that is strictly increasing, never reused and survives
// restarts.
//
// Thread safety: every method may be called from any thread at once. Writes
// from all threads are queued to one writer thread that applies them in
// batches, one LMDB transaction per batch (group commit), each synced to disk
// unless StoreOptions::sync is false; a write returns once its batch is
// durable. The ...Async writes queue the same way but return at once and
// report on the writer thread (see WriteCallback), so that an event loop can
// keep many writes in flight without a thread per write; writes queued by one
// thread are applied and reported in the order they were queued. Reads run in their own LMDB read
// transactions (MVCC snapshots) and never wait for the writer. Several processes may open the same
// directory: LMDB serialises their write transactions, so all writes share one sequence order.
//
// Errors: kInvalidArgument (DynamoDB's ValidationException: the message names
// what is wrong; nothing was written), kNotFound (no such table),
// kAlreadyExists, kConditionFailed, kTransactionCanceled, kTrimmed (stream read
// before the oldest retained record), kResourceExhausted (the map reached
// StoreOptions::max_map_size), kIoError (LMDB or the disk failed).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "lmdb_store/attribute_value.h"
#include "lmdb_store/schema.h"
#include "lmdb_store/stream_record.h"

namespace keystone::store {

struct StoreOptions {
  // Directory of the LMDB environment; created if missing.
  std::string path;
  // true: each commit is fsync'd before writes return (durable). false
  // ("nosync"): commits reach the OS page cache only; a machine crash may lose
  // the last commits, a process crash loses nothing.
  bool sync = true;
  // Initial LMDB map size; the map doubles (in steps of at most 1 GiB) when
  // full, up to max_map_size.
  uint64_t initial_map_size = 64ull << 20;
  // Upper bound for map growth; a write that needs more fails with
  // kResourceExhausted and the store stays usable. 0: 1 TiB.
  uint64_t max_map_size = 0;
  // Most writes applied in one group-commit transaction.
  size_t max_batch_writes = 1024;
  // A new global index's fill that fails (a full map or disk, an I/O error)
  // is tried again after this delay, doubled on every further failure up to
  // a minute, until it ends: freeing room lets it finish without a restart.
  uint64_t index_fill_retry_ms = 1000;
  // Records and bytes a table's stream may hold beyond buffer_size because a
  // reader position pins them; past either cap the oldest are dropped anyway
  // and that reader gets kTrimmed.
  uint64_t pin_max_records = 10'000'000;
  uint64_t pin_max_bytes = 4ull << 30;
  // Maximum concurrent read transactions across processes (LMDB readers).
  unsigned max_readers = 510;
  // Clock for record timestamps; not owned, must outlive the store.
  Clock* clock = nullptr;
};

enum class ReturnValues { kNone, kAllOld, kUpdatedOld, kAllNew, kUpdatedNew };

// See PutItemRequest::on_condition_failure.
using ConditionFailureHook = std::function<void(const std::optional<Item>&)>;

// ExpressionAttributeNames and ExpressionAttributeValues of a request.
struct ExpressionInputs {
  std::map<std::string, std::string> names;
  std::map<std::string, AttributeValue> values;
};

struct PutItemRequest {
  std::string table;
  Item item;
  std::string condition_expression;  // empty: unconditional
  ExpressionInputs expression;
  ReturnValues return_values = ReturnValues::kNone;  // kNone or kAllOld
  // DynamoDB's ReturnValuesOnConditionCheckFailure=ALL_OLD: when set and the
  // condition fails, it receives the item the condition was evaluated against
  // (nullopt when there was none), on the thread applying the write, before
  // the write reports kConditionFailed. It may run more than once for one
  // write (a batch is applied again after the map grew); the last call counts.
  ConditionFailureHook on_condition_failure;
};

struct UpdateItemRequest {
  std::string table;
  Item key;
  std::string update_expression;  // empty: only ensures the item exists
  std::string condition_expression;
  ExpressionInputs expression;
  ReturnValues return_values = ReturnValues::kNone;
  // As PutItemRequest::on_condition_failure.
  ConditionFailureHook on_condition_failure;
};

struct DeleteItemRequest {
  std::string table;
  Item key;
  std::string condition_expression;
  ExpressionInputs expression;
  ReturnValues return_values = ReturnValues::kNone;  // kNone or kAllOld
  // As PutItemRequest::on_condition_failure.
  ConditionFailureHook on_condition_failure;
  // Marks the REMOVE record as Time to Live's (StreamRecord::expired_by_ttl);
  // ExpireItems sets it, a client's delete does not.
  bool expired_by_ttl = false;
};

// A secondary index entry that a write changed, for DynamoDB's capacity
// accounting, which charges index writes to the index. The DynamoDB sizes
// (ItemSizeBytes of the projection) of the entry before and after, 0 where
// the item was or is not in the index; with both, the entry was rewritten in
// place, or `moved` when its index key changed (DynamoDB charges that as a
// delete and a put). An entry a write left as it was (no projected attribute
// changed) is not listed: DynamoDB charges nothing for it.
struct IndexWrite {
  std::string index;
  bool global = true;
  uint64_t old_bytes = 0;
  uint64_t new_bytes = 0;
  bool moved = false;
};

// What one item write of a batch or a transaction wrote, for capacity.
struct WrittenSize {
  // The larger DynamoDB size of the item before and after (a condition
  // check's: the item's).
  uint64_t item_bytes = 0;
  std::vector<IndexWrite> index_writes;
};

struct WriteResult {
  // What ReturnValues asked for; absent when there is nothing to return.
  std::optional<Item> attributes;
  // Sequence number of the stream record this write appended; 0 when it
  // appended none (stream disabled, or the write changed nothing).
  uint64_t sequence = 0;
  // DynamoDB sizes (ItemSizeBytes) of the item before and after the write, 0
  // where it was or is absent: what DynamoDB's capacity accounting charges by.
  uint64_t old_item_bytes = 0;
  uint64_t new_item_bytes = 0;
  // The secondary index entries the write changed.
  std::vector<IndexWrite> index_writes;
};

struct GetItemRequest {
  std::string table;
  Item key;
  std::string projection_expression;
  ExpressionInputs expression;  // names only
};

struct QueryRequest {
  std::string table;
  // Non-empty: query this secondary index of the table instead (the key
  // condition is on the index's keys; items come in index key order, those
  // with equal index keys in table key order). Items are the index's
  // projection unless select_all_attributes; a filter or projection
  // expression of a query on a local index that is not ALL sees the whole
  // item (read from the table, as DynamoDB). last_evaluated_key then holds
  // the table's and the index's key attributes.
  std::string index_name;
  // DynamoDB's Select=ALL_ATTRIBUTES on an index: whole items, read from the
  // table for a local index; kInvalidArgument for a global index whose
  // projection is not ALL (as DynamoDB). No effect on a table read.
  bool select_all_attributes = false;
  std::string key_condition_expression;
  std::string filter_expression;
  // How errors name the filter: DynamoDB says "Filter Expression", or
  // "QueryFilter" when the client sent the legacy parameter.
  std::string filter_parameter = "Filter Expression";
  std::string projection_expression;
  ExpressionInputs expression;
  bool scan_forward = true;
  // Most items evaluated (before the filter), 0 for no limit; a page also ends
  // at 1 MB of items read.
  size_t limit = 0;
  std::optional<Item> exclusive_start_key;
  // Fill QueryResult::scanned_bytes (a pass over each item read).
  bool measure_scanned_bytes = false;
};

struct ScanRequest {
  std::string table;
  // As QueryRequest::index_name and select_all_attributes: scans the index,
  // in index key order.
  std::string index_name;
  bool select_all_attributes = false;
  std::string filter_expression;
  std::string projection_expression;
  ExpressionInputs expression;
  size_t limit = 0;
  std::optional<Item> exclusive_start_key;
  // Fill QueryResult::scanned_bytes (a pass over each item read).
  bool measure_scanned_bytes = false;
  // Parallel scan: this call reads segment `segment` of `total_segments`.
  uint32_t segment = 0;
  uint32_t total_segments = 1;
};

struct QueryResult {
  std::vector<Item> items;
  // Items read before the filter, and (when the request asked to measure
  // it) the sum of their DynamoDB sizes (ItemSizeBytes, whatever the
  // projection).
  size_t scanned_count = 0;
  uint64_t scanned_bytes = 0;
  // Present when the page ended before the end of the range; pass it as the
  // next request's exclusive_start_key.
  std::optional<Item> last_evaluated_key;
};

// One put or delete of a BatchWriteItem.
struct BatchWriteEntry {
  std::string table;
  bool is_put = true;
  Item item;  // the item for a put, the key for a delete
};

struct BatchGetEntry {
  std::string table;
  std::vector<Item> keys;
  std::string projection_expression;
  ExpressionInputs expression;  // names only
};

struct BatchGetResult {
  // Table name -> the items found (missing keys are absent).
  std::map<std::string, std::vector<Item>> responses;
  // Table name -> for each key asked for, in request order, the DynamoDB size
  // (ItemSizeBytes) of its whole item; 0 when absent.
  std::map<std::string, std::vector<uint64_t>> item_bytes;
};

// How long a TransactWrite's client_request_token is remembered after the
// transaction succeeded (DynamoDB's idempotency window: 10 minutes).
inline constexpr int64_t kClientRequestTokenWindowMs = 10 * 60 * 1000;

// One action of a TransactWriteItems.
struct TransactWriteEntry {
  enum class Kind { kPut, kUpdate, kDelete, kConditionCheck };
  Kind kind = Kind::kPut;
  std::string table;
  Item item;                      // kPut: the item; otherwise the key
  std::string update_expression;  // kUpdate
  std::string condition_expression;
  ExpressionInputs expression;
  // ReturnValuesOnConditionCheckFailure=ALL_OLD: a failed condition's
  // CancellationReason carries the item it was evaluated against.
  bool return_old_on_condition_failure = false;
};

// Why a cancelled TransactWrite did not apply an action (DynamoDB's
// CancellationReason). A cancelled transaction has one reason per action, in
// request order; kNone marks the actions that would have succeeded.
struct CancellationReason {
  enum class Code : uint8_t {
    kNone = 0,
    // The action's condition expression was false for the item as stored.
    kConditionalCheckFailed,
    // The action would have made an invalid item (an update that changes a
    // key attribute or breaks the item limits).
    kValidationError,
  };
  Code code = Code::kNone;
  // What went wrong, for people; empty for kNone.
  std::string message;
  // kConditionalCheckFailed of an action with return_old_on_condition_failure:
  // the item as stored (absent when there was none).
  std::optional<Item> item;
  friend bool operator==(const CancellationReason&, const CancellationReason&) = default;
};

// DynamoDB's name of a code: "None", "ConditionalCheckFailed",
// "ValidationError".
std::string_view CancellationReasonCodeName(CancellationReason::Code code);

// A global index's capacity units, for UpdateTable (GlobalSecondaryIndexUpdates'
// Update).
struct IndexCapacity {
  uint64_t read_capacity_units = 0;
  uint64_t write_capacity_units = 0;
};

// What UpdateTable changes; absent members stay as they are.
struct TableUpdate {
  // Adds a global index (DynamoDB allows one per UpdateTable); the index is
  // filled from the table's items in the background (see
  // ItemStore::UpdateTable).
  std::optional<SecondaryIndex> create_index;
  // With create_index: return only once the index is filled (its outcome is
  // UpdateTable's), rather than at once with the index backfilling.
  bool wait_for_index_fill = false;
  // Removes the global index of this name with its entries.
  std::optional<std::string> delete_index;
  // New capacity units of global indexes, by name. With `billing` switching
  // to PAY_PER_REQUEST every global index's units become 0; switching to
  // PROVISIONED needs units here for every global index.
  std::map<std::string, IndexCapacity> index_capacity;
  std::optional<StreamConfig> stream;
  std::optional<BillingConfig> billing;
  std::optional<TimeToLiveConfig> ttl;
  // Tags to add or overwrite, then tag keys to remove (absent ones are
  // ignored); the result must keep ValidateTags' limits.
  std::map<std::string, std::string> set_tags;
  std::vector<std::string> remove_tags;
};

// What one ExpireItems call did.
struct ExpireResult {
  // Items read, and items deleted as expired.
  size_t scanned = 0;
  size_t expired = 0;
  // Where the next call continues; nullopt once the table's end was reached
  // (the next call starts over from its beginning).
  std::optional<Item> resume_after;
};

// A secondary index's state, for DescribeTable.
struct IndexDescription {
  std::string name;
  // Items in the index (those with all of its key attributes), and the sum of
  // their projections' DynamoDB sizes (ItemSizeBytes).
  uint64_t item_count = 0;
  uint64_t size_bytes = 0;
  // Being filled from the table's items (DynamoDB's IndexStatus CREATING,
  // Backfilling true); it cannot be read until this ends.
  bool backfilling = false;
};

struct TableDescription {
  TableSchema schema;
  // One per schema.indexes entry, in the same order.
  std::vector<IndexDescription> indexes;
  uint32_t table_id = 0;
  int64_t created_ms = 0;
  // When the stream was last enabled (it labels the stream ARN), 0 if never.
  int64_t stream_label_ms = 0;
  // When schema.billing.mode last changed; created_ms if it never did (also
  // for tables stored before billing was kept).
  int64_t billing_mode_changed_ms = 0;
  uint64_t item_count = 0;
  uint64_t size_bytes = 0;
};

// How long a stream that a re-enable replaced stays readable after it was
// disabled (DynamoDB Streams: 24 hours), while its records are retained.
inline constexpr int64_t kReplacedStreamReadableMs = 24 * 60 * 60 * 1000;

// An earlier stream of a table: one that was disabled and then replaced by
// enabling the stream again (which starts a new stream label). Its records
// are those with sequence in (start_sequence, end_sequence].
struct ReplacedStream {
  int64_t label_ms = 0;
  uint64_t start_sequence = 0;
  uint64_t end_sequence = 0;
  StreamViewType view_type = StreamViewType::kNewAndOldImages;
  // When it was disabled.
  int64_t disabled_ms = 0;
  friend bool operator==(const ReplacedStream&, const ReplacedStream&) = default;
};

// A table's stream as stored now.
struct StreamInfo {
  std::string table;
  uint32_t table_id = 0;
  // The table's key attributes (kept for deleted tables too).
  KeyAttribute partition_key;
  std::optional<KeyAttribute> sort_key;
  bool enabled = false;
  StreamViewType view_type = StreamViewType::kNewAndOldImages;
  int64_t stream_label_ms = 0;
  // The store's head sequence when the stream was last enabled: records with
  // a sequence above it belong to the current stream label, older ones to an
  // earlier enablement.
  uint64_t label_start_sequence = 0;
  uint64_t record_count = 0;
  uint64_t record_bytes = 0;
  // Sequence number of the oldest retained record; 0 when none is retained.
  uint64_t oldest_sequence = 0;
  // Sequence number of the newest record ever appended; 0 when none.
  uint64_t latest_sequence = 0;
  // Highest sequence number dropped by retention; a read after a smaller
  // number is kTrimmed.
  uint64_t trimmed_through = 0;
  // False after DeleteTable: the stream stays readable until its records are
  // trimmed or purged.
  bool table_exists = true;
  // The store's head sequence when the table was created: its records all
  // come after it (0 for tables stored before this was kept).
  uint64_t created_sequence = 0;
  // Earlier streams of this table, newest first, that are still readable:
  // replaced less than kReplacedStreamReadableMs ago and with records left
  // after trimmed_through.
  std::vector<ReplacedStream> replaced_streams;
  // The stream was enabled when the table was created, never disabled since,
  // and nothing of it was trimmed: reading it from the start replays every
  // change the table ever had (so a reader needs no snapshot).
  bool holds_whole_history = false;
};

struct StreamBatch {
  std::vector<StreamRecord> records;
  // The newest sequence number of the whole store when this batch was read
  // (records of other tables included); a reader that got fewer than it asked
  // for is caught up to here.
  uint64_t head_sequence = 0;
};

// A batch of stream records left encoded (see EncodedStreamRecord). The
// records' views point into `buffer`; reused across reads, both keep their
// capacity, so a reader that follows a stream allocates nothing per record.
struct EncodedStreamBatch {
  std::vector<EncodedStreamRecord> records;
  // As StreamBatch::head_sequence.
  uint64_t head_sequence = 0;
  std::string buffer;
};

// A named reader's position in a table's stream (a CDC source's CdcPosition
// is stored as one). It pins records after `sequence` against retention.
struct ReaderPosition {
  std::string name;
  std::string table;
  // Every record with sequence <= this was consumed.
  uint64_t sequence = 0;
  // Opaque state of the reader (snapshot progress, etc.), stored verbatim.
  std::string payload;
  // Whether this position holds back retention.
  bool pins = true;
  // Set by SavePosition.
  int64_t updated_ms = 0;
};

// Items read in key order from one read transaction, with the stream head
// that transaction saw: a consistent chunk for snapshots.
struct SnapshotChunk {
  std::vector<Item> items;
  // Every change with sequence <= this is reflected in `items`, none after.
  uint64_t sequence = 0;
  // Key to pass as `after_key` for the next chunk; absent at the end.
  std::optional<Item> last_key;
};

// Counters of the store, updated by the writer thread; read them from any
// thread (relaxed atomics). The daemon exports them as Prometheus metrics.
struct StoreStats {
  std::atomic<uint64_t> write_batches{0};   // committed group-commit transactions
  std::atomic<uint64_t> writes{0};          // writes in those batches (any outcome)
  std::atomic<uint64_t> failed_batches{0};  // batches aborted by an LMDB error
  std::atomic<uint64_t> commit_nanos{0};    // time spent in transaction commit (fsync)
  std::atomic<uint64_t> map_growths{0};     // times the map was grown
  std::atomic<uint64_t> stream_records_trimmed{0};
  std::atomic<uint64_t> stream_records_force_trimmed{0};  // past a pin cap
  // Attempts to fill a new global index that failed (each is tried again).
  std::atomic<uint64_t> index_fill_failures{0};
  // When the writer began the group commit it is on (StoreOptions::clock's
  // MonotonicNs), or 0 between batches. A batch that lasts long means the
  // writer is stuck: a hung disk, or another process holding LMDB's write
  // lock. Health checks compare it with the clock.
  std::atomic<int64_t> batch_started_ns{0};
};

// Receives the outcome of an asynchronous write, exactly once: on the
// calling thread before the ...Async call returns when the request is invalid
// (kInvalidArgument, nothing queued) or the store is closing (kUnavailable);
// otherwise on the store's writer thread once the write's batch is durable (or
// failed). It runs while the writer waits, so it must be quick and must not
// block; it must not call the synchronous writes of this store (they would
// wait for the thread running it), but may queue further ...Async writes.
using WriteCallback = std::function<void(Result<WriteResult>)>;
using StatusCallback = std::function<void(Status)>;
// As StatusCallback, with the transaction's cancellation reasons: one per
// action when the status is kTransactionCanceled, empty otherwise.
using TransactWriteCallback = std::function<void(Status, std::vector<CancellationReason>)>;
// As TransactWriteCallback, with what each action wrote when the status is
// ok, per action in order (WrittenSize). Empty otherwise, and for a retry
// that its ClientRequestToken made a no-op.
using TransactWriteSizesCallback =
    std::function<void(Status, std::vector<CancellationReason>, std::vector<WrittenSize>)>;
// As StatusCallback, with what each entry wrote when the status is ok, per
// entry in order (WrittenSize); empty otherwise.
using BatchWriteCallback = std::function<void(Status, std::vector<WrittenSize>)>;

class ItemStore {
 public:
  // Opens (creating if needed) the store at options.path. Fails with
  // kInvalidArgument for bad options, kIoError when LMDB cannot open it.
  [[nodiscard]] static Result<std::unique_ptr<ItemStore>> Open(const StoreOptions& options);

  virtual ~ItemStore() = default;

  // Tables. CreateTable: kAlreadyExists if the name is taken. DeleteTable
  // removes every item, appends a kTruncate record when the stream is on, and
  // returns the description the table had.
  virtual Status CreateTable(const TableSchema& schema) = 0;
  virtual Result<TableDescription> DeleteTable(const std::string& name) = 0;
  virtual Result<TableDescription> DescribeTable(const std::string& name) = 0;
  virtual Result<std::vector<std::string>> ListTables() = 0;
  // Applies `update` in one transaction and returns the table's new
  // description. update.stream replaces the stream config (enable, disable,
  // view type, buffer); enabling a disabled stream starts a new stream label.
  // update.billing replaces the billing config; a change of mode stamps
  // billing_mode_changed_ms. kInvalidArgument (nothing changed) for a buffer
  // size of 0 or a billing config that breaks ValidateBillingConfig, or a
  // schema that would break ValidateIndexes; kNotFound (DynamoDB's
  // ResourceNotFoundException) for an index to delete or re-provision that
  // the table lacks. update.create_index: the index is added (marked
  // backfilling, so unreadable) in one transaction and UpdateTable returns
  // (unless update.wait_for_index_fill); a store thread then fills it in
  // transactions of a few hundred items each, so that other writes go on
  // meanwhile (each keeps the index up to date), and marks it done. A fill
  // that failed (a full map) or that a crash or close cut short is finished
  // by the next Open, in the background too.
  virtual Result<TableDescription> UpdateTable(const std::string& name,
                                               const TableUpdate& update) = 0;
  // UpdateTable of the stream config alone.
  Result<TableDescription> UpdateStream(const std::string& name, const StreamConfig& stream);
  // Removes every item of the table in one transaction and appends one
  // kTruncate record (no per-item records). Returns the number removed.
  virtual Result<uint64_t> TruncateTable(const std::string& name) = 0;

  // Items.
  virtual Result<WriteResult> PutItem(const PutItemRequest& request) = 0;
  virtual Result<WriteResult> UpdateItem(const UpdateItemRequest& request) = 0;
  virtual Result<WriteResult> DeleteItem(const DeleteItemRequest& request) = 0;
  // Time to Live: reads up to `max_scanned` items of `table` in key order,
  // after `resume_after` (nullopt: from the start), and deletes each whose
  // TTL attribute (schema.ttl) is a Number of epoch seconds in
  // [now_seconds - kTimeToLiveMaxAgeSeconds, now_seconds], checked again at
  // the delete, so that an item updated meanwhile is kept. The deletes go in
  // write transactions of a few hundred (clients' writes are not held behind
  // a large expiry); each appends a REMOVE record marked expired_by_ttl. A
  // table whose TTL is disabled is left alone (nothing scanned). kNotFound
  // for an absent table.
  virtual Result<ExpireResult> ExpireItems(const std::string& table, int64_t now_seconds,
                                           const std::optional<Item>& resume_after,
                                           size_t max_scanned) = 0;
  // The item, or nullopt when absent. `item_bytes` (may be null) receives the
  // DynamoDB size (ItemSizeBytes) of the whole stored item, whatever the
  // projection, or 0 when absent.
  virtual Result<std::optional<Item>> GetItem(const GetItemRequest& request,
                                              uint64_t* item_bytes) = 0;
  Result<std::optional<Item>> GetItem(const GetItemRequest& request);
  // GetItem for a caller that translates the stored item itself (to JSON,
  // say) without an Item built: true with the item's encoding (item_codec.h,
  // read with VisitEncodedItem) in *encoded, or false when absent. The
  // request must have no projection and no expression names
  // (kInvalidArgument otherwise).
  virtual Result<bool> GetItemEncoded(const GetItemRequest& request, std::string* encoded) = 0;
  virtual Result<QueryResult> Query(const QueryRequest& request) = 0;
  virtual Result<QueryResult> Scan(const ScanRequest& request) = 0;
  // At most 25 entries, no two on one item; all applied in one transaction.
  virtual Status BatchWrite(const std::vector<BatchWriteEntry>& entries) = 0;
  // At most 100 keys in all.
  virtual Result<BatchGetResult> BatchGet(const std::vector<BatchGetEntry>& entries) = 0;
  // DynamoDB's TransactGetItems: 1 to 100 gets, no two of one item, all read
  // from one snapshot of the store (no write lands between them). One result
  // per get, in order: the (projected) item, or nullopt when it is absent.
  // `item_bytes` (may be null) receives one size per get as GetItem's.
  virtual Result<std::vector<std::optional<Item>>> TransactGet(
      const std::vector<GetItemRequest>& gets, std::vector<uint64_t>* item_bytes) = 0;
  Result<std::vector<std::optional<Item>>> TransactGet(const std::vector<GetItemRequest>& gets);
  // All or nothing: at most 100 actions, no two on one item. When a condition
  // fails or an update would make an invalid item: kTransactionCanceled,
  // message "Transaction cancelled, please refer cancellation reasons for
  // specific reasons [None, ConditionalCheckFailed, ...]" naming one reason
  // per action in order. `reasons` (may be null) receives the same reasons as
  // data, one per action in request order, when the status is
  // kTransactionCanceled; it is left empty for any other outcome. Read the
  // reasons from there, not from the message.
  //
  // `client_request_token` (DynamoDB's ClientRequestToken, 1-36 characters;
  // empty: none) makes retries safe: once a transaction with a token has
  // succeeded, the same token with the same actions within
  // kClientRequestTokenWindowMs succeeds again without applying anything, and
  // with different actions fails with kIdempotencyMismatch. Tokens are stored
  // with the data, so this holds across restarts and crashes. A transaction
  // that did not succeed leaves no token behind.
  virtual Status TransactWrite(const std::vector<TransactWriteEntry>& entries,
                               std::vector<CancellationReason>* reasons,
                               const std::string& client_request_token) = 0;
  Status TransactWrite(const std::vector<TransactWriteEntry>& entries,
                       std::vector<CancellationReason>* reasons);
  // TransactWrite without the reasons as data.
  Status TransactWrite(const std::vector<TransactWriteEntry>& entries);

  // Asynchronous PutItem, UpdateItem, DeleteItem, BatchWrite and
  // TransactWrite: the same validation, effects and outcomes, reported to
  // `done` (see WriteCallback). The store may be destroyed with writes still
  // queued: the destructor applies them and runs their callbacks first.
  virtual void PutItemAsync(PutItemRequest request, WriteCallback done) = 0;
  virtual void UpdateItemAsync(UpdateItemRequest request, WriteCallback done) = 0;
  virtual void DeleteItemAsync(DeleteItemRequest request, WriteCallback done) = 0;
  virtual void BatchWriteAsync(std::vector<BatchWriteEntry> entries, BatchWriteCallback done) = 0;
  void BatchWriteAsync(std::vector<BatchWriteEntry> entries, StatusCallback done);
  // `done` gets the reasons as TransactWrite's `reasons`.
  virtual void TransactWriteAsync(std::vector<TransactWriteEntry> entries,
                                  std::string client_request_token,
                                  TransactWriteSizesCallback done) = 0;
  void TransactWriteAsync(std::vector<TransactWriteEntry> entries, std::string client_request_token,
                          TransactWriteCallback done);
  void TransactWriteAsync(std::vector<TransactWriteEntry> entries, TransactWriteCallback done);
  // TransactWriteAsync without the reasons as data.
  void TransactWriteAsync(std::vector<TransactWriteEntry> entries, StatusCallback done);

  // Conveniences for code: unconditional put, get by key, delete by key.
  Result<WriteResult> Put(const std::string& table, Item item);
  Result<std::optional<Item>> Get(const std::string& table, Item key);
  Result<WriteResult> Delete(const std::string& table, Item key);
  // Update with an expression and its :values (no #names).
  Result<WriteResult> Update(const std::string& table, Item key, std::string update_expression,
                             std::map<std::string, AttributeValue> values = {});

  // Stream. Up to `max` records of `table` with sequence > `after`, oldest
  // first; fewer (or none) when caught up. kTrimmed when records after `after`
  // were dropped by retention: the message names the oldest available
  // sequence, also in GetStreamInfo(). kNotFound when the table never had a
  // stream.
  virtual Result<StreamBatch> ReadStream(const std::string& table, uint64_t after, size_t max) = 0;
  // As ReadStream, across every incarnation of the table name: when the
  // table was deleted (and perhaps created again) after `after`, the deleted
  // table's remaining records come first (ending with the TRUNCATE record of
  // its deletion), then its successor's, in sequence order. What a reader
  // that follows a table by name (a CDC source) must see; ReadStream serves
  // one stream (the DynamoDB Streams API's). kTrimmed as ReadStream, for the
  // incarnation whose records are missing.
  virtual Result<StreamBatch> ReadTableHistory(const std::string& table, uint64_t after,
                                               size_t max) = 0;
  // As ReadTableHistory, with keys and images left encoded, into *batch
  // (whose contents are replaced; unspecified after an error). For readers
  // that translate records (VisitItem) rather than inspect them.
  virtual Status ReadTableHistoryEncoded(const std::string& table, uint64_t after, size_t max,
                                         EncodedStreamBatch* batch) = 0;
  virtual Result<StreamInfo> GetStreamInfo(const std::string& table) = 0;
  // Every table with a stream (including deleted tables whose stream remains).
  virtual Result<std::vector<StreamInfo>> ListStreams() = 0;
  // The newest sequence number of the store (0 when nothing was ever written).
  virtual Result<uint64_t> HeadSequence() = 0;
  // Blocks until the store's head sequence exceeds `after` or `timeout`
  // passes; returns the head seen. Writes of this process wake it at once,
  // those of other processes within a few milliseconds (it polls cheaply).
  virtual uint64_t WaitForSequence(uint64_t after, std::chrono::milliseconds timeout) = 0;
  // When this process's commit of stream record `sequence` became durable
  // (StoreOptions::clock's MonotonicNs), for records of its last few
  // thousand write batches; nullopt for older records and for those of
  // other processes. What a reader measures delivery latency from.
  virtual std::optional<int64_t> CommitTimeNs(uint64_t sequence) = 0;

  // Reader positions, stored atomically in the same environment.
  virtual Status SavePosition(const ReaderPosition& position) = 0;
  // SavePosition queued like the ...Async writes: `done` gets its status on
  // the writer thread once committed (kInvalidArgument on the calling thread
  // for a bad name). Positions saved one after the other are stored in that
  // order, whichever way each was saved.
  virtual void SavePositionAsync(ReaderPosition position, StatusCallback done) = 0;
  virtual Result<std::optional<ReaderPosition>> LoadPosition(const std::string& name) = 0;
  virtual Status DeletePosition(const std::string& name) = 0;
  virtual Result<std::vector<ReaderPosition>> ListPositions() = 0;

  // Up to `max` items of `table` after `after_key` (from the start when
  // absent), in key order, read in one short read transaction.
  virtual Result<SnapshotChunk> ReadSnapshotChunk(const std::string& table,
                                                  const std::optional<Item>& after_key,
                                                  size_t max) = 0;

  // Current LMDB map size and the bytes in use, for metrics.
  struct MapUsage {
    uint64_t map_size = 0;
    uint64_t used_bytes = 0;
  };
  virtual MapUsage GetMapUsage() = 0;

  virtual const StoreStats& stats() const = 0;
};

}  // namespace keystone::store
