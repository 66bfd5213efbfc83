#pragma once

// DynamoDbApi: DynamoDB's and DynamoDB Streams' JSON API (protocol
// "application/x-amz-json-1.0", operation named by the X-Amz-Target header)
// served from an ItemStore, so that `aws dynamodb ...`, `aws dynamodbstreams
// ...` and boto3 work unchanged. It knows nothing of HTTP: the server hands it
// the target and the body and sends back what it returns.
//
// Operations (target prefix "DynamoDB_20120810."): CreateTable, DescribeTable,
// UpdateTable, DeleteTable, ListTables, PutItem, GetItem, UpdateItem,
// DeleteItem, Query, Scan, BatchWriteItem, BatchGetItem, TransactWriteItems,
// TransactGetItems.
// ("DynamoDBStreams_20120810."): ListStreams, DescribeStream,
// GetShardIterator, GetRecords. Anything else is UnknownOperationException.
//
// Errors are HTTP 400 with {"__type":"<namespace>#<Exception>","message":...}
// (TransactionCanceledException and SerializationException use "Message", as
// DynamoDB does), 500 InternalServerError for store I/O failures and bugs, 503
// for a store that is closing. Store status codes map as:
//   kInvalidArgument     ValidationException
//   kNotFound            ResourceNotFoundException
//   kAlreadyExists       ResourceInUseException
//   kConditionFailed     ConditionalCheckFailedException
//   kTransactionCanceled TransactionCanceledException (+ CancellationReasons)
//   kTrimmed             TrimmedDataAccessException
//   kResourceExhausted   ItemCollectionSizeLimitExceededException (400): the
//                        store's map reached its configured maximum; like
//                        DynamoDB's storage limit it is not worth retrying
//                        until an operator acts, and SDKs do not retry it.
//   kIdempotencyMismatch IdempotentParameterMismatchException
//   kExpired             ExpiredIteratorException
//   kUnavailable,        503 ServiceUnavailable (SDKs retry it): the store
//   kIoError             could not write (a full disk...); nothing was written
//   kInternal            500 InternalServerError
// Request JSON that is malformed or has a member of the wrong JSON type is
// SerializationException and nothing is written. Unknown request members are
// ignored (as DynamoDB ignores them); legacy parameters (Expected,
// AttributesToGet, KeyConditions, QueryFilter, ScanFilter, AttributeUpdates,
// ConditionalOperator) are a ValidationException pointing to expressions.
//
// Secondary indexes. CreateTable's GlobalSecondaryIndexes and
// LocalSecondaryIndexes, and UpdateTable's GlobalSecondaryIndexUpdates, become
// the indexes of the table's schema, which the store keeps in the same
// transactions as the table; Query and Scan read one with IndexName. As in
// DynamoDB, ConsistentRead on a global index is a ValidationException (though
// its reads are consistent here), and one UpdateTable creates or deletes at
// most one index; UpdateTable returns at once with a new index CREATING
// (Backfilling) while the store fills it, then it turns ACTIVE. Unlike
// DynamoDB, asking for two such changes is a ValidationException rather than
// LimitExceededException (which SDKs retry as throttling).
//
// Streams. Each table has one stream and that stream one shard; its ARN is
// arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>, the label
// being the ISO 8601 time the stream was last enabled. Sequence numbers are
// the store's global sequence numbers, zero-padded to 21 digits. Shard
// iterators are opaque strings encoding the table, the stream label and the
// position; they do not expire. Records of an earlier enabling of the same
// table's stream are not shown under the current label.
//
// Synchronous and asynchronous use: Handle() runs an operation to its end on
// the calling thread. HandleAsync() never waits for an item write; it queues
// the write to the store and reports when it is durable, so that an event loop
// thread can serve many clients while their writes share group commits.
//
// Thread safety: Handle() and HandleAsync() may be called from any number of
// threads at once.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "lmdb_store/item_store.h"

namespace keystone::daemon {

struct DynamoDbApiOptions {
  // Region and account that ARNs name and stream records carry (awsRegion).
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  // Times shard iterators (which expire after kShardIteratorLifetimeMs);
  // null: the system clock. Not owned; must outlive the API.
  Clock* clock = nullptr;
};

// How long a shard iterator stays usable after GetShardIterator or
// GetRecords returned it (DynamoDB Streams: 15 minutes); GetRecords with an
// older one is ExpiredIteratorException.
inline constexpr int64_t kShardIteratorLifetimeMs = 15 * 60 * 1000;

struct ApiResponse {
  int http_status = 200;
  std::string body;
  std::string content_type = "application/x-amz-json-1.0";
};

// Builds the response of an operation whose store work is done. Run it once,
// on any thread: an event loop runs it on its own thread, so that the JSON is
// formatted there and not on the store's writer thread.
using ResponseBuilder = std::function<ApiResponse()>;
// Receives the outcome of an operation HandleAsync() queued.
using AsyncDone = std::function<void(ResponseBuilder)>;

// The error response for `status` (not ok), mapped as listed above. For
// kTransactionCanceled, CancellationReasons lists `reasons` (the store's, one
// per action in request order) with each one's Message and Item when it has
// them; the text of status.message() only becomes the response's Message and
// is never parsed. For kConditionFailed, `condition_failure_item` (when
// present) becomes the response's Item (ReturnValuesOnConditionCheckFailure).
ApiResponse ErrorResponse(const Status& status,
                          const std::vector<store::CancellationReason>& reasons = {},
                          const std::optional<store::Item>& condition_failure_item = std::nullopt);

class DynamoDbApi {
 public:
  // `store` is not owned and must outlive this object.
  DynamoDbApi(store::ItemStore& store, DynamoDbApiOptions options = {});
  ~DynamoDbApi();
  DynamoDbApi(const DynamoDbApi&) = delete;
  DynamoDbApi& operator=(const DynamoDbApi&) = delete;

  // Runs the operation `target` (the X-Amz-Target header value, e.g.
  // "DynamoDB_20120810.PutItem") on the JSON request `body` and returns the
  // response to send. Never fails otherwise: every error is a response.
  ApiResponse Handle(std::string_view target, std::string_view body);

  // Like Handle(), but never waits for an item write. PutItem, UpdateItem,
  // DeleteItem, BatchWriteItem and TransactWriteItems whose request parses
  // are queued to the store (ItemStore's ...Async writes): HandleAsync returns
  // nullopt and `done` is called exactly once, on the store's writer thread
  // when the write is durable or failed, or on the calling thread before
  // HandleAsync returns when the store rejects the request at once
  // (validation, closing). `done` must be quick and must not block; it
  // typically hands the builder to the caller's thread. Every other
  // operation, and item writes whose request does not parse, run inline:
  // HandleAsync returns their response and never calls `done`.
  std::optional<ApiResponse> HandleAsync(std::string_view target, std::string_view body,
                                         AsyncDone done);

  // True for the operations HandleAsync() runs inline although they wait for
  // a store commit (CreateTable, UpdateTable, DeleteTable); a caller that
  // must not block runs these on another thread.
  static bool WaitsForCommit(std::string_view target);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keystone::daemon
