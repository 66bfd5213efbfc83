#include "daemon/dynamodb_api.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <future>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "base/log.h"
#include "daemon/dynamodb_json.h"
#include "daemon/dynamodb_json_internal.h"
#include "daemon/dynamodb_legacy.h"
#include "daemon/dynamodb_request.h"
#include "daemon/partiql.h"
#include "lmdb_store/expression.h"

namespace keystone::daemon {

using rapidjson::Value;
using store::AttributeType;
using store::AttributeValue;
using store::ExpressionInputs;
using store::Item;
using store::ReturnValues;
using store::StreamEventType;
using store::StreamInfo;
using store::StreamViewType;
using store::TableDescription;

namespace {

constexpr std::string_view kDynamoDbPrefix = "DynamoDB_20120810.";
constexpr std::string_view kStreamsPrefix = "DynamoDBStreams_20120810.";
constexpr std::string_view kDynamoDbNamespace = "com.amazonaws.dynamodb.v20120810#";
constexpr int64_t kMaxStreamRecordsPerCall = 1000;

// ---------------------------------------------------------------------------
// Errors

struct ErrorShape {
  int http_status;
  std::string type;
};

ErrorShape ShapeOf(StatusCode code) {
  auto ns = [](std::string_view name) {
    return std::string(kDynamoDbNamespace) + std::string(name);
  };
  switch (code) {
    case StatusCode::kFailedPrecondition:
      return {400, "com.amazon.coral.service#SerializationException"};
    case StatusCode::kInvalidArgument:
      return {400, "com.amazon.coral.validate#ValidationException"};
    case StatusCode::kNotFound:
      return {400, ns("ResourceNotFoundException")};
    case StatusCode::kAlreadyExists:
      return {400, ns("ResourceInUseException")};
    case StatusCode::kConditionFailed:
      return {400, ns("ConditionalCheckFailedException")};
    case StatusCode::kTransactionCanceled:
      return {400, ns("TransactionCanceledException")};
    case StatusCode::kTrimmed:
      return {400, ns("TrimmedDataAccessException")};
    case StatusCode::kResourceExhausted:
      return {400, ns("ItemCollectionSizeLimitExceededException")};
    case StatusCode::kIdempotencyMismatch:
      return {400, ns("IdempotentParameterMismatchException")};
    case StatusCode::kExpired:
      return {400, ns("ExpiredIteratorException")};
    case StatusCode::kUnavailable:
    // The store could not write (a full disk, a file size limit, an I/O
    // error): not a bug, and nothing was written; the client may retry.
    case StatusCode::kIoError:
      return {503, ns("ServiceUnavailable")};
    case StatusCode::kOk:
    case StatusCode::kInternal:
      break;
  }
  return {500, ns("InternalServerError")};
}

}  // namespace

ApiResponse ErrorResponse(const Status& status,
                          const std::vector<store::CancellationReason>& reasons,
                          const std::optional<Item>& condition_failure_item) {
  ErrorShape shape = ShapeOf(status.code());
  if (shape.http_status == 500) {
    LogWarn("dynamodb_api", "request failed: " + status.ToString());
  }
  rapidjson::StringBuffer buffer;
  JsonWriter out(buffer);
  out.StartObject();
  WriteKey("__type", out);
  WriteString(shape.type, out);
  if (status.code() == StatusCode::kTransactionCanceled) {
    WriteKey("CancellationReasons", out);
    out.StartArray();
    for (const store::CancellationReason& reason : reasons) {
      out.StartObject();
      WriteKey("Code", out);
      WriteString(store::CancellationReasonCodeName(reason.code), out);
      if (!reason.message.empty()) {
        WriteKey("Message", out);
        WriteString(reason.message, out);
      }
      if (reason.item) {
        WriteKey("Item", out);
        WriteItem(*reason.item, out);
      }
      out.EndObject();
    }
    out.EndArray();
  }
  if (status.code() == StatusCode::kConditionFailed && condition_failure_item) {
    WriteKey("Item", out);
    WriteItem(*condition_failure_item, out);
  }
  // DynamoDB spells the member "Message" for these two and "message" for the
  // rest; SDKs read either.
  bool capital = status.code() == StatusCode::kTransactionCanceled ||
                 status.code() == StatusCode::kFailedPrecondition;
  WriteKey(capital ? "Message" : "message", out);
  WriteString(status.message(), out);
  out.EndObject();
  return ApiResponse{shape.http_status, std::string(buffer.GetString(), buffer.GetSize())};
}

namespace {

Status CheckTableName(const std::string& name, std::string_view path) {
  if (name.size() < 3) {
    return ConstraintError(name, path, "Member must have length greater than or equal to 3");
  }
  if (name.size() > 255) {
    return ConstraintError(name, path, "Member must have length less than or equal to 255");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) {
      return ConstraintError(name, path,
                             "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
    }
  }
  return Status::Ok();
}

// The "Tags" list of CreateTable and TagResource ([{"Key", "Value"}]), as a
// map; empty when absent. Duplicate keys are refused.
Result<std::map<std::string, std::string>> TagsMember(const Value& object) {
  std::map<std::string, std::string> tags;
  KS_ASSIGN_OR_RETURN(const Value* list, OptArray(object, "Tags"));
  if (list == nullptr) return tags;
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const Value& tag = (*list)[i];
    if (!tag.IsObject()) return WrongJsonType(tag, JsonKind::kStructure);
    const std::string path = "tags." + std::to_string(i + 1);
    KS_ASSIGN_OR_RETURN(std::string key, ReqString(tag, "Key", path + ".member.key"));
    KS_ASSIGN_OR_RETURN(std::string value, ReqString(tag, "Value", path + ".member.value"));
    if (key.empty() || key.size() > 128) {
      return ConstraintError(key, path + ".member.key",
                             key.empty() ? "Member must have length greater than or equal to 1"
                                         : "Member must have length less than or equal to 128");
    }
    if (value.size() > 256) {
      return ConstraintError(value, path + ".member.value",
                             "Member must have length less than or equal to 256");
    }
    if (!tags.emplace(key, value).second) {
      return InvalidArgument("Duplicate tag keys are not allowed: " + key);
    }
  }
  return tags;
}

Result<std::string> TableNameMember(const Value& object, std::string_view path = "tableName") {
  KS_ASSIGN_OR_RETURN(std::string name, ReqString(object, "TableName", path));
  KS_RETURN_IF_ERROR(CheckTableName(name, path));
  return name;
}

Result<std::optional<Item>> OptItem(const Value& object, std::string_view name) {
  const Value* v = Member(object, name);
  if (v == nullptr) return std::optional<Item>();
  KS_ASSIGN_OR_RETURN(Item item, JsonToItem(*v));
  return std::optional<Item>(std::move(item));
}

Result<Item> ReqItem(const Value& object, std::string_view name, std::string_view path) {
  KS_ASSIGN_OR_RETURN(std::optional<Item> item, OptItem(object, name));
  if (!item) return MissingMember(path);
  return *std::move(item);
}

// ExpressionAttributeNames and (when `with_values`) ExpressionAttributeValues.
Result<ExpressionInputs> ExpressionInputsOf(const Value& object, bool with_values) {
  ExpressionInputs inputs;
  KS_ASSIGN_OR_RETURN(const Value* names, OptMap(object, "ExpressionAttributeNames"));
  if (names != nullptr) {
    if (names->MemberCount() == 0) {
      return InvalidArgument("ExpressionAttributeNames must not be empty");
    }
    for (const auto& m : names->GetObject()) {
      if (m.value.IsNull()) continue;
      if (!m.value.IsString()) return WrongJsonType(m.value, JsonKind::kString);
      if (m.value.GetStringLength() == 0) {
        return InvalidArgument(
            "ExpressionAttributeNames contains invalid value: Empty attribute name for key " +
            std::string(JsonStringView(m.name)));
      }
      inputs.names.insert_or_assign(std::string(JsonStringView(m.name)),
                                    std::string(JsonStringView(m.value)));
    }
  }
  if (!with_values) return inputs;
  KS_ASSIGN_OR_RETURN(const Value* values, OptMap(object, "ExpressionAttributeValues"));
  if (values != nullptr) {
    if (values->MemberCount() == 0) {
      return InvalidArgument("ExpressionAttributeValues must not be empty");
    }
    for (const auto& m : values->GetObject()) {
      if (m.value.IsNull()) continue;
      std::string placeholder(JsonStringView(m.name));
      KS_ASSIGN_OR_RETURN(AttributeValue v, JsonToAttributeValue(m.value));
      KS_RETURN_IF_ERROR(store::ValidateValue(v, placeholder));
      inputs.values.insert_or_assign(std::move(placeholder), std::move(v));
    }
  }
  return inputs;
}

Result<ReturnValues> ReturnValuesOf(const Value& object) {
  KS_ASSIGN_OR_RETURN(std::optional<std::string> rv, OptString(object, "ReturnValues"));
  if (!rv || *rv == "NONE") return ReturnValues::kNone;
  if (*rv == "ALL_OLD") return ReturnValues::kAllOld;
  if (*rv == "UPDATED_OLD") return ReturnValues::kUpdatedOld;
  if (*rv == "ALL_NEW") return ReturnValues::kAllNew;
  if (*rv == "UPDATED_NEW") return ReturnValues::kUpdatedNew;
  return CheckEnum(*rv, "returnValues",
                   {"ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"});
}

// ReturnValuesOnConditionCheckFailure of a write or a transaction's action
// (`path` names it in errors): true for ALL_OLD.
Result<bool> ReturnOldOnConditionFailure(const Value& object, std::string_view path) {
  KS_ASSIGN_OR_RETURN(std::optional<std::string> on_failure,
                      OptString(object, "ReturnValuesOnConditionCheckFailure"));
  if (!on_failure) return false;
  KS_RETURN_IF_ERROR(CheckEnum(*on_failure, path, {"ALL_OLD", "NONE"}));
  return *on_failure == "ALL_OLD";
}

// What a request's ReturnConsumedCapacity asks to be told, and how its reads
// are charged (ConsistentRead: reads are always consistent here, but DynamoDB
// charges an eventually consistent read half).
struct CapacityRequest {
  enum class Detail { kNone, kTotal, kIndexes };
  Detail detail = Detail::kNone;
  bool consistent_read = false;
  // ReturnItemCollectionMetrics=SIZE (writes; see ItemCollectionMetricsOf).
  bool item_collection_metrics = false;
  bool wanted() const { return detail != Detail::kNone; }
};

// The members every item operation may carry: ReturnConsumedCapacity and
// ConsistentRead, and ReturnItemCollectionMetrics.
Result<CapacityRequest> CommonItemMembers(const Value& object) {
  CapacityRequest capacity;
  KS_ASSIGN_OR_RETURN(std::optional<std::string> detail,
                      OptString(object, "ReturnConsumedCapacity"));
  if (detail) {
    KS_RETURN_IF_ERROR(CheckEnum(*detail, "returnConsumedCapacity", {"INDEXES", "TOTAL", "NONE"}));
    if (*detail == "TOTAL") capacity.detail = CapacityRequest::Detail::kTotal;
    if (*detail == "INDEXES") capacity.detail = CapacityRequest::Detail::kIndexes;
  }
  KS_ASSIGN_OR_RETURN(std::optional<std::string> metrics,
                      OptString(object, "ReturnItemCollectionMetrics"));
  if (metrics) {
    KS_RETURN_IF_ERROR(CheckEnum(*metrics, "returnItemCollectionMetrics", {"SIZE", "NONE"}));
    capacity.item_collection_metrics = *metrics == "SIZE";
  }
  KS_ASSIGN_OR_RETURN(std::optional<bool> consistent, OptBool(object, "ConsistentRead"));
  capacity.consistent_read = consistent.value_or(false);
  return capacity;
}

Status CheckIgnoredMembers(const Value& object) { return CommonItemMembers(object).status(); }

// DynamoDB's capacity units: a read of up to 4 KB is one unit (half when
// eventually consistent), a write of up to 1 KB one unit; every read or write
// costs at least one, an absent item included. Transactions cost double.
double ReadUnits(uint64_t bytes, bool consistent) {
  double units = static_cast<double>(std::max<uint64_t>(1, (bytes + 4095) / 4096));
  return consistent ? units : units / 2;
}
double WriteUnits(uint64_t bytes) {
  return static_cast<double>(std::max<uint64_t>(1, (bytes + 1023) / 1024));
}

// The capacity an operation consumed, per table, reported as DynamoDB's
// ConsumedCapacity: {"TableName", "CapacityUnits", "ReadCapacityUnits" or
// "WriteCapacityUnits"}, and with INDEXES the part of it charged to the table
// itself under "Table" and to each secondary index read under
// "GlobalSecondaryIndexes" or "LocalSecondaryIndexes" {name: units}.
class ConsumedCapacity {
 public:
  void AddRead(const std::string& table, double units) { tables_[table].table.read += units; }
  void AddWrite(const std::string& table, double units) { tables_[table].table.write += units; }
  // A read of the secondary index `index` of `table` (a global one when
  // `global`), which DynamoDB charges to the index rather than the table.
  void AddIndexRead(const std::string& table, const std::string& index, bool global, double units) {
    Usage& usage = tables_[table];
    (global ? usage.global_indexes : usage.local_indexes)[index].read += units;
  }
  // One item write to `table`: `item_bytes` (the larger size of the item
  // before and after) charged to the table, and each index entry it changed
  // charged to its index as DynamoDB charges: a put or a delete of the entry
  // by its size, a rewrite in place by the new size, a move (the index key
  // changed) as a delete and a put. `factor`: 2 in a transaction.
  void AddItemWrite(const std::string& table, uint64_t item_bytes,
                    const std::vector<store::IndexWrite>& index_writes, double factor = 1) {
    Usage& usage = tables_[table];
    usage.table.write += factor * WriteUnits(item_bytes);
    for (const store::IndexWrite& w : index_writes) {
      double units = 0;
      if (w.old_bytes > 0 && (w.new_bytes == 0 || w.moved)) units += WriteUnits(w.old_bytes);
      if (w.new_bytes > 0) units += WriteUnits(w.new_bytes);
      (w.global ? usage.global_indexes : usage.local_indexes)[w.index].write += factor * units;
    }
  }
  // "ConsumedCapacity": {...} of a one-table operation (its only table).
  void WriteOne(CapacityRequest::Detail detail, JsonWriter& out) const {
    WriteKey("ConsumedCapacity", out);
    if (tables_.empty()) {
      out.StartObject();
      out.EndObject();
    } else {
      WriteTable(tables_.begin()->first, tables_.begin()->second, detail, out);
    }
  }
  // "ConsumedCapacity": [...] of an operation on several tables.
  void WriteList(CapacityRequest::Detail detail, JsonWriter& out) const {
    WriteKey("ConsumedCapacity", out);
    out.StartArray();
    for (const auto& [table, usage] : tables_) WriteTable(table, usage, detail, out);
    out.EndArray();
  }

 private:
  struct Units {
    double read = 0;
    double write = 0;
  };
  struct Usage {
    Units table;
    std::map<std::string, Units> global_indexes;
    std::map<std::string, Units> local_indexes;
  };
  static void WriteUnitsOf(const Units& units, JsonWriter& out) {
    WriteKey("CapacityUnits", out);
    out.Double(units.read + units.write);
    if (units.read > 0) {
      WriteKey("ReadCapacityUnits", out);
      out.Double(units.read);
    }
    if (units.write > 0) {
      WriteKey("WriteCapacityUnits", out);
      out.Double(units.write);
    }
  }
  static void WriteIndexes(std::string_view member, const std::map<std::string, Units>& indexes,
                           JsonWriter& out) {
    if (indexes.empty()) return;
    WriteKey(member, out);
    out.StartObject();
    for (const auto& [name, units] : indexes) {
      WriteKey(name, out);
      out.StartObject();
      WriteUnitsOf(units, out);
      out.EndObject();
    }
    out.EndObject();
  }
  static void WriteTable(const std::string& table, const Usage& usage,
                         CapacityRequest::Detail detail, JsonWriter& out) {
    Units total = usage.table;
    for (const auto* indexes : {&usage.global_indexes, &usage.local_indexes}) {
      for (const auto& [name, units] : *indexes) {
        total.read += units.read;
        total.write += units.write;
      }
    }
    out.StartObject();
    WriteKey("TableName", out);
    WriteString(table, out);
    WriteUnitsOf(total, out);
    if (detail == CapacityRequest::Detail::kIndexes) {
      WriteKey("Table", out);
      out.StartObject();
      WriteUnitsOf(usage.table, out);
      out.EndObject();
      WriteIndexes("GlobalSecondaryIndexes", usage.global_indexes, out);
      WriteIndexes("LocalSecondaryIndexes", usage.local_indexes, out);
    }
    out.EndObject();
  }

  std::map<std::string, Usage> tables_;
};

// ---------------------------------------------------------------------------
// Response pieces

class JsonOut {
 public:
  JsonOut() : writer_(buffer_) {}
  JsonWriter& w() { return writer_; }
  std::string Take() { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  rapidjson::StringBuffer buffer_;
  JsonWriter writer_;
};

std::string EmptyObject() { return "{}"; }

std::string ZeroPad(uint64_t value, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*" PRIu64, width, value);
  return buf;
}

// Sequence numbers: our uint64 sequence, zero-padded to the 21 digits
// DynamoDB Streams' model requires at least.
std::string SequenceText(uint64_t sequence) { return ZeroPad(sequence, 21); }

// "2026-11-23T03:19:05.123" (UTC), DynamoDB's stream label form.
std::string StreamLabel(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

// A stream that re-enabling replaced, as a StreamInfo of its own: closed,
// with its label, view type and records, from the table's stream `current`.
StreamInfo AsReplacedStream(const StreamInfo& current, const store::ReplacedStream& replaced) {
  StreamInfo info = current;
  info.enabled = false;
  info.view_type = replaced.view_type;
  info.stream_label_ms = replaced.label_ms;
  info.label_start_sequence = replaced.start_sequence;
  info.latest_sequence = replaced.end_sequence;
  info.oldest_sequence = std::max(info.oldest_sequence, replaced.start_sequence + 1);
  info.holds_whole_history = false;
  info.replaced_streams.clear();
  return info;
}

std::string ShardId(const StreamInfo& info) {
  return "shardId-" + ZeroPad(static_cast<uint64_t>(info.stream_label_ms), 20) + "-" +
         ZeroPad(info.table_id, 8);
}

std::string_view KeyTypeName(AttributeType type) { return store::AttributeTypeName(type); }

// A table's or a global index's ProvisionedThroughput member (0 and 0 when
// on demand, as DynamoDB reports them).
void WriteProvisionedThroughput(uint64_t read_units, uint64_t write_units, JsonWriter& out) {
  WriteKey("ProvisionedThroughput", out);
  out.StartObject();
  WriteKey("NumberOfDecreasesToday", out);
  out.Int64(0);
  WriteKey("ReadCapacityUnits", out);
  out.Uint64(read_units);
  WriteKey("WriteCapacityUnits", out);
  out.Uint64(write_units);
  out.EndObject();
}

// A KeySchema list of a table or an index.
void WriteKeySchema(const store::KeyAttribute& partition_key,
                    const std::optional<store::KeyAttribute>& sort_key, JsonWriter& out) {
  out.StartArray();
  out.StartObject();
  WriteKey("AttributeName", out);
  WriteString(partition_key.name, out);
  WriteKey("KeyType", out);
  WriteString("HASH", out);
  out.EndObject();
  if (sort_key) {
    out.StartObject();
    WriteKey("AttributeName", out);
    WriteString(sort_key->name, out);
    WriteKey("KeyType", out);
    WriteString("RANGE", out);
    out.EndObject();
  }
  out.EndArray();
}

void WriteKeySchema(const store::TableSchema& schema, JsonWriter& out) {
  WriteKeySchema(schema.partition_key, schema.sort_key, out);
}

// An index's Projection: {"ProjectionType"}, with "NonKeyAttributes" for
// INCLUDE only.
void WriteProjection(const store::IndexProjection& projection, JsonWriter& out) {
  out.StartObject();
  WriteKey("ProjectionType", out);
  WriteString(store::ProjectionTypeName(projection.type), out);
  if (projection.type == store::ProjectionType::kInclude) {
    WriteKey("NonKeyAttributes", out);
    out.StartArray();
    for (const std::string& name : projection.non_key_attributes) WriteString(name, out);
    out.EndArray();
  }
  out.EndObject();
}

// Every key attribute of the table and its indexes, each name once, table
// keys first: DynamoDB's AttributeDefinitions.
std::vector<store::KeyAttribute> KeyAttributesOf(const store::TableSchema& schema) {
  std::vector<store::KeyAttribute> keys;
  auto add = [&keys](const store::KeyAttribute& key) {
    for (const store::KeyAttribute& k : keys) {
      if (k.name == key.name) return;
    }
    keys.push_back(key);
  };
  add(schema.partition_key);
  if (schema.sort_key) add(*schema.sort_key);
  for (const store::SecondaryIndex& index : schema.indexes) {
    add(index.partition_key);
    if (index.sort_key) add(*index.sort_key);
  }
  return keys;
}

// "a, b, c", as DynamoDB lists names in its messages.
std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

std::string EventName(StreamEventType type) {
  return std::string(store::StreamEventTypeName(type));
}

// ---------------------------------------------------------------------------
// Shard iterators: base64 of "ks2/<table>/<label ms>/<after>/<mode>/<issued
// ms>", where reading resumes with the records after sequence <after>, mode
// "h" (TRIM_HORIZON) moves <after> up to the stream's trim point at the first
// read, and <issued ms> dates it for expiry. The first format, "ks1/..."
// without <issued ms>, is still read (it does not expire).

struct ShardIterator {
  std::string table;
  int64_t label_ms = 0;
  uint64_t after = 0;
  bool horizon = false;
  // When it was handed out; 0 for iterators of the first format ("ks1",
  // before iterators expired), which do not expire.
  int64_t issued_ms = 0;
};

std::string EncodeIterator(const ShardIterator& it) {
  return Base64Encode("ks2/" + it.table + "/" + std::to_string(it.label_ms) + "/" +
                      std::to_string(it.after) + "/" + (it.horizon ? "h" : "p") + "/" +
                      std::to_string(it.issued_ms));
}

bool ParseUint64(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

Result<ShardIterator> DecodeIterator(std::string_view text) {
  Status invalid = InvalidArgument("Invalid ShardIterator");
  auto raw = Base64Decode(text);
  if (!raw.ok()) return invalid;
  std::string_view s = *raw;
  std::vector<std::string_view> parts;
  while (true) {
    size_t slash = s.find('/');
    parts.push_back(s.substr(0, slash));
    if (slash == std::string_view::npos) break;
    s.remove_prefix(slash + 1);
  }
  bool first_format = parts.size() == 5 && parts[0] == "ks1";
  bool second_format = parts.size() == 6 && parts[0] == "ks2";
  if ((!first_format && !second_format) || (parts[4] != "h" && parts[4] != "p")) {
    return invalid;
  }
  uint64_t issued = 0;
  if (second_format && (!ParseUint64(parts[5], &issued) ||
                        issued > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
    return invalid;
  }
  ShardIterator it;
  it.table = std::string(parts[1]);
  uint64_t label = 0;
  if (it.table.empty() || !ParseUint64(parts[2], &label) || !ParseUint64(parts[3], &it.after) ||
      label > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return invalid;
  }
  it.label_ms = static_cast<int64_t>(label);
  it.horizon = parts[4] == "h";
  it.issued_ms = static_cast<int64_t>(issued);
  return it;
}

// A ProvisionedThroughput member (of the table or of a global index, which
// `path` names in errors): both units, each at least 1.
Status ReadThroughput(const Value& throughput, std::string_view path, uint64_t* read_units,
                      uint64_t* write_units) {
  const std::string read_path = std::string(path) + ".readCapacityUnits";
  const std::string write_path = std::string(path) + ".writeCapacityUnits";
  KS_ASSIGN_OR_RETURN(std::optional<int64_t> rcu, OptInt(throughput, "ReadCapacityUnits"));
  KS_ASSIGN_OR_RETURN(std::optional<int64_t> wcu, OptInt(throughput, "WriteCapacityUnits"));
  if (!rcu) return MissingMember(read_path);
  if (!wcu) return MissingMember(write_path);
  if (*rcu < 1) {
    return ConstraintError(std::to_string(*rcu), read_path,
                           "Member must have value greater than or equal to 1");
  }
  if (*wcu < 1) {
    return ConstraintError(std::to_string(*wcu), write_path,
                           "Member must have value greater than or equal to 1");
  }
  *read_units = static_cast<uint64_t>(*rcu);
  *write_units = static_cast<uint64_t>(*wcu);
  return Status::Ok();
}

// BillingMode and ProvisionedThroughput of a CreateTable (`creating`, over a
// default *billing) or UpdateTable request (over the table's) applied to
// *billing; `*named` tells whether the request named either. Unlike DynamoDB,
// a CreateTable naming neither gets PAY_PER_REQUEST rather than an error.
Status ApplyBilling(const Value& request, bool creating, store::BillingConfig* billing,
                    bool* named) {
  KS_ASSIGN_OR_RETURN(std::optional<std::string> mode, OptString(request, "BillingMode"));
  KS_ASSIGN_OR_RETURN(const Value* throughput, OptObject(request, "ProvisionedThroughput"));
  *named = mode.has_value() || throughput != nullptr;
  if (mode) {
    KS_RETURN_IF_ERROR(CheckEnum(*mode, "billingMode", {"PROVISIONED", "PAY_PER_REQUEST"}));
  }
  bool was_ppr = creating || billing->mode == store::BillingMode::kPayPerRequest;
  bool ppr = mode ? *mode == "PAY_PER_REQUEST" : (creating ? throughput == nullptr : was_ppr);
  if (ppr && throughput != nullptr) {
    return InvalidArgument(
        "One or more parameter values were invalid: Neither ReadCapacityUnits nor "
        "WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST");
  }
  if (!ppr && was_ppr && throughput == nullptr) {
    return InvalidArgument(
        "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits "
        "must both be specified when BillingMode is PROVISIONED");
  }
  if (throughput != nullptr) {
    KS_RETURN_IF_ERROR(ReadThroughput(*throughput, "provisionedThroughput",
                                      &billing->read_capacity_units,
                                      &billing->write_capacity_units));
  }
  if (ppr) {
    billing->read_capacity_units = 0;
    billing->write_capacity_units = 0;
  }
  billing->mode = ppr ? store::BillingMode::kPayPerRequest : store::BillingMode::kProvisioned;
  return Status::Ok();
}

// The KeySchema member of a table or an index (`path` names it in errors):
// its attribute names, the HASH one first and then the RANGE one if any.
Result<std::vector<std::string>> KeySchemaMember(const Value& object, const std::string& path) {
  KS_ASSIGN_OR_RETURN(const Value* key_schema, OptArray(object, "KeySchema"));
  if (key_schema == nullptr) return MissingMember(path);
  if (key_schema->Empty()) {
    return ConstraintError("[]", path, "Member must have length greater than or equal to 1");
  }
  if (key_schema->Size() > 2) {
    return ConstraintError(std::nullopt, path, "Member must have length less than or equal to 2");
  }
  std::vector<std::pair<std::string, std::string>> keys;  // name, HASH/RANGE
  for (rapidjson::SizeType i = 0; i < key_schema->Size(); ++i) {
    const Value& element = (*key_schema)[i];
    std::string element_path = path + "." + std::to_string(i + 1) + ".member";
    if (!element.IsObject()) return WrongJsonType(element, JsonKind::kStructure);
    KS_ASSIGN_OR_RETURN(std::string attr,
                        ReqString(element, "AttributeName", element_path + ".attributeName"));
    KS_ASSIGN_OR_RETURN(std::string type, ReqString(element, "KeyType", element_path + ".keyType"));
    KS_RETURN_IF_ERROR(CheckEnum(type, element_path + ".keyType", {"HASH", "RANGE"}));
    keys.emplace_back(std::move(attr), std::move(type));
  }
  if (keys[0].second != "HASH") {
    return InvalidArgument("Invalid KeySchema: The first KeySchemaElement is not a HASH key type");
  }
  if (keys.size() == 2 && keys[1].second != "RANGE") {
    return InvalidArgument(
        "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type");
  }
  if (keys.size() == 2 && keys[0].first == keys[1].first) {
    return InvalidArgument(
        "Both the Hash Key and the Range Key element in the KeySchema have the same name");
  }
  std::vector<std::string> names;
  for (auto& [name, type] : keys) names.push_back(std::move(name));
  return names;
}

// An AttributeDefinitions member: each attribute's type, and the names in
// request order, which DynamoDB's messages list.
struct AttributeDefinitions {
  std::map<std::string, AttributeType> types;
  std::vector<std::string> names;
};

Result<AttributeDefinitions> AttributeDefinitionsMember(const Value& request, bool required) {
  AttributeDefinitions defined;
  KS_ASSIGN_OR_RETURN(const Value* definitions, OptArray(request, "AttributeDefinitions"));
  if (definitions == nullptr) {
    if (required) return MissingMember("attributeDefinitions");
    return defined;
  }
  for (rapidjson::SizeType i = 0; i < definitions->Size(); ++i) {
    const Value& element = (*definitions)[i];
    std::string path = "attributeDefinitions." + std::to_string(i + 1) + ".member";
    if (!element.IsObject()) return WrongJsonType(element, JsonKind::kStructure);
    KS_ASSIGN_OR_RETURN(std::string attr,
                        ReqString(element, "AttributeName", path + ".attributeName"));
    KS_ASSIGN_OR_RETURN(std::string type,
                        ReqString(element, "AttributeType", path + ".attributeType"));
    KS_RETURN_IF_ERROR(CheckEnum(type, path + ".attributeType", {"B", "N", "S"}));
    AttributeType parsed = AttributeType::kS;
    store::ParseAttributeTypeName(type, &parsed);
    if (!defined.types.emplace(attr, parsed).second) {
      return InvalidArgument("Cannot have two attributes with the same name: AttributeName: " +
                             attr);
    }
    defined.names.push_back(std::move(attr));
  }
  return defined;
}

Status UndefinedKeys(const std::vector<std::string>& keys, const AttributeDefinitions& defined) {
  return InvalidArgument(
      "One or more parameter values were invalid: Some index key attributes are not defined in "
      "AttributeDefinitions. Keys: [" +
      JoinNames(keys) + "], AttributeDefinitions: [" + JoinNames(defined.names) + "]");
}

// DynamoDB's limit on a Projection's NonKeyAttributes list (the store checks
// the limit over all indexes of the table).
constexpr size_t kMaxNonKeyAttributesPerIndex = 20;

// One element of CreateTable's GlobalSecondaryIndexes (`global`) or
// LocalSecondaryIndexes, or a GlobalSecondaryIndexUpdates Create, as
// written: key attributes by name only (AttributeDefinitions types them).
// Whether the index fits the table (ValidateIndexes) is the store's to say.
struct IndexMember {
  std::string name;
  std::vector<std::string> keys;  // HASH, then RANGE if any
  store::IndexProjection projection;
  bool global = true;
  uint64_t read_capacity_units = 0;
  uint64_t write_capacity_units = 0;
};

Result<IndexMember> IndexMemberOf(const Value& element, const std::string& path, bool global) {
  if (!element.IsObject()) return WrongJsonType(element, JsonKind::kStructure);
  IndexMember index;
  index.global = global;
  KS_ASSIGN_OR_RETURN(index.name, ReqString(element, "IndexName", path + ".indexName"));
  KS_RETURN_IF_ERROR(CheckTableName(index.name, path + ".indexName"));
  KS_ASSIGN_OR_RETURN(index.keys, KeySchemaMember(element, path + ".keySchema"));
  KS_ASSIGN_OR_RETURN(const Value* projection, OptObject(element, "Projection"));
  if (projection == nullptr) return MissingMember(path + ".projection");
  KS_ASSIGN_OR_RETURN(std::optional<std::string> type, OptString(*projection, "ProjectionType"));
  if (!type) {
    return InvalidArgument(
        "One or more parameter values were invalid: Unknown ProjectionType: null");
  }
  KS_RETURN_IF_ERROR(
      CheckEnum(*type, path + ".projection.projectionType", {"ALL", "INCLUDE", "KEYS_ONLY"}));
  store::ParseProjectionType(*type, &index.projection.type);
  KS_ASSIGN_OR_RETURN(const Value* non_key, OptArray(*projection, "NonKeyAttributes"));
  if (non_key != nullptr) {
    const std::string non_key_path = path + ".projection.nonKeyAttributes";
    if (non_key->Empty()) {
      return ConstraintError("[]", non_key_path,
                             "Member must have length greater than or equal to 1");
    }
    if (non_key->Size() > kMaxNonKeyAttributesPerIndex) {
      return ConstraintError(std::nullopt, non_key_path,
                             "Member must have length less than or equal to " +
                                 std::to_string(kMaxNonKeyAttributesPerIndex));
    }
    for (const Value& name : non_key->GetArray()) {
      if (!name.IsString()) return WrongJsonType(name, JsonKind::kString);
      index.projection.non_key_attributes.emplace_back(JsonStringView(name));
    }
  }
  if (global) {
    // OnDemandThroughput and WarmThroughput, which DynamoDB also takes here,
    // limit or pre-warm capacity that Keystone neither enforces nor needs.
    KS_ASSIGN_OR_RETURN(const Value* throughput, OptObject(element, "ProvisionedThroughput"));
    if (throughput != nullptr) {
      KS_RETURN_IF_ERROR(ReadThroughput(*throughput, path + ".provisionedThroughput",
                                        &index.read_capacity_units, &index.write_capacity_units));
    }
  }
  return index;
}

// `index` with its key attributes typed: by `defined`, or failing that by
// `existing` (the types of the keys a table already has, for an index
// UpdateTable creates). A key attribute typed by neither is DynamoDB's
// "not defined in AttributeDefinitions" error.
Result<store::SecondaryIndex> TypedIndex(const IndexMember& index,
                                         const AttributeDefinitions& defined,
                                         const std::map<std::string, AttributeType>& existing) {
  std::vector<store::KeyAttribute> keys;
  for (const std::string& name : index.keys) {
    auto it = defined.types.find(name);
    if (it != defined.types.end()) {
      keys.push_back({name, it->second});
      continue;
    }
    auto known = existing.find(name);
    if (known == existing.end()) return UndefinedKeys(index.keys, defined);
    keys.push_back({name, known->second});
  }
  store::SecondaryIndex typed;
  typed.name = index.name;
  typed.global = index.global;
  typed.partition_key = keys[0];
  if (keys.size() == 2) typed.sort_key = keys[1];
  typed.projection = index.projection;
  typed.read_capacity_units = index.read_capacity_units;
  typed.write_capacity_units = index.write_capacity_units;
  return typed;
}

// CreateTable's GlobalSecondaryIndexes (`global`) or LocalSecondaryIndexes,
// appended to *indexes; `*named` tells whether the request had the member.
Status IndexListMember(const Value& request, bool global, const AttributeDefinitions& defined,
                       std::vector<store::SecondaryIndex>* indexes, bool* named) {
  const std::string_view member = global ? "GlobalSecondaryIndexes" : "LocalSecondaryIndexes";
  KS_ASSIGN_OR_RETURN(const Value* list, OptArray(request, member));
  *named = list != nullptr;
  if (list == nullptr) return Status::Ok();
  if (list->Empty()) {
    return InvalidArgument("One or more parameter values were invalid: List of " +
                           std::string(member) + " is empty");
  }
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const std::string path = LowerFirst(member) + "." + std::to_string(i + 1) + ".member";
    KS_ASSIGN_OR_RETURN(IndexMember index, IndexMemberOf((*list)[i], path, global));
    KS_ASSIGN_OR_RETURN(store::SecondaryIndex typed, TypedIndex(index, defined, {}));
    indexes->push_back(std::move(typed));
  }
  return Status::Ok();
}

// UpdateTable's GlobalSecondaryIndexUpdates, with the AttributeDefinitions
// that type a new index's keys, as the index parts of *update to the table
// `current`; `*named` tells whether there was any index update. As in DynamoDB,
// one call creates or deletes at most one index (so that each change is
// one online build or drop) and touches each index once. A key attribute
// the table already has keeps its type, and need not be defined again.
Status IndexUpdatesMember(const Value& request, const store::TableSchema& current,
                          store::TableUpdate* update, bool* named) {
  KS_ASSIGN_OR_RETURN(AttributeDefinitions defined, AttributeDefinitionsMember(request, false));
  std::map<std::string, AttributeType> existing;
  for (const store::KeyAttribute& key : KeyAttributesOf(current)) existing[key.name] = key.type;
  for (const auto& [attr, type] : defined.types) {
    auto it = existing.find(attr);
    if (it != existing.end() && it->second != type) {
      return InvalidArgument(
          "One or more parameter values were invalid: AttributeDefinitions gives attribute " +
          attr + " the type " + std::string(KeyTypeName(type)) + ", but it is a key of type " +
          std::string(KeyTypeName(it->second)) + " already");
    }
  }

  KS_ASSIGN_OR_RETURN(const Value* list, OptArray(request, "GlobalSecondaryIndexUpdates"));
  *named = list != nullptr && !list->Empty();
  std::set<std::string> touched;
  size_t online_changes = 0;  // creates and deletes
  for (rapidjson::SizeType i = 0; list != nullptr && i < list->Size(); ++i) {
    const Value& element = (*list)[i];
    if (!element.IsObject()) return WrongJsonType(element, JsonKind::kStructure);
    const std::string path = "globalSecondaryIndexUpdates." + std::to_string(i + 1) + ".member";
    KS_ASSIGN_OR_RETURN(const Value* create, OptObject(element, "Create"));
    KS_ASSIGN_OR_RETURN(const Value* change, OptObject(element, "Update"));
    KS_ASSIGN_OR_RETURN(const Value* drop, OptObject(element, "Delete"));
    int actions = (create != nullptr) + (change != nullptr) + (drop != nullptr);
    if (actions != 1) {
      return InvalidArgument(
          std::string("One or more parameter values were invalid: ") +
          (actions == 0 ? "One of" : "Only one of") +
          " GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, "
          "GlobalSecondaryIndexUpdate.Delete " +
          (actions == 0 ? "must not be null" : "may be specified"));
    }
    std::string index_name;
    if (create != nullptr) {
      KS_ASSIGN_OR_RETURN(IndexMember index, IndexMemberOf(*create, path + ".create", true));
      KS_ASSIGN_OR_RETURN(store::SecondaryIndex typed, TypedIndex(index, defined, existing));
      index_name = typed.name;
      update->create_index = std::move(typed);
      ++online_changes;
    } else if (drop != nullptr) {
      KS_ASSIGN_OR_RETURN(index_name, ReqString(*drop, "IndexName", path + ".delete.indexName"));
      KS_RETURN_IF_ERROR(CheckTableName(index_name, path + ".delete.indexName"));
      update->delete_index = index_name;
      ++online_changes;
    } else {
      KS_ASSIGN_OR_RETURN(index_name, ReqString(*change, "IndexName", path + ".update.indexName"));
      KS_RETURN_IF_ERROR(CheckTableName(index_name, path + ".update.indexName"));
      KS_ASSIGN_OR_RETURN(const Value* throughput, OptObject(*change, "ProvisionedThroughput"));
      if (throughput == nullptr) return MissingMember(path + ".update.provisionedThroughput");
      store::IndexCapacity capacity;
      KS_RETURN_IF_ERROR(ReadThroughput(*throughput, path + ".update.provisionedThroughput",
                                        &capacity.read_capacity_units,
                                        &capacity.write_capacity_units));
      update->index_capacity[index_name] = capacity;
    }
    if (!touched.insert(index_name).second) {
      return InvalidArgument(
          "One or more parameter values were invalid: Only one global secondary index update "
          "per index is allowed simultaneously. Index: " +
          index_name);
    }
  }
  // DynamoDB answers this with LimitExceededException, which SDKs retry as
  // throttling; a ValidationException says at once that the request itself
  // must change.
  if (online_changes > 1) {
    return InvalidArgument(
        "Subscriber limit exceeded: Only 1 online index can be created or deleted "
        "simultaneously per table");
  }

  std::vector<std::string> used;
  for (const store::KeyAttribute& key : KeyAttributesOf(current)) used.push_back(key.name);
  if (update->create_index) {
    for (const store::KeyAttribute* key :
         {&update->create_index->partition_key,
          update->create_index->sort_key ? &*update->create_index->sort_key : nullptr}) {
      if (key != nullptr && existing.count(key->name) == 0) used.push_back(key->name);
    }
  }
  for (const std::string& attr : defined.names) {
    if (std::find(used.begin(), used.end(), attr) == used.end()) {
      return InvalidArgument(
          "One or more parameter values were invalid: Some AttributeDefinitions are not used. "
          "AttributeDefinitions: [" +
          JoinNames(defined.names) + "], keys used: [" + JoinNames(used) + "]");
    }
  }
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------------------

class DynamoDbApi::Impl {
 public:
  Impl(store::ItemStore& store, DynamoDbApiOptions options)
      : store_(store),
        options_(std::move(options)),
        clock_(options_.clock != nullptr ? options_.clock : SystemClock::Default()) {}

  std::optional<ApiResponse> HandleAsync(std::string_view target, std::string_view body,
                                         AsyncDone& done);

 private:
  // An operation that runs inline, or one that queues a store write and
  // reports through `done` (it returns an error only when the request does
  // not parse, and then never calls `done`).
  using Handler = Result<std::string> (Impl::*)(const Value&);
  using AsyncHandler = Status (Impl::*)(const Value&, AsyncDone&);
  struct Operation {
    std::string_view name;
    Handler handler;
    AsyncHandler async_handler = nullptr;
  };

  Result<std::string> CreateTable(const Value& request);
  Result<std::string> DescribeTable(const Value& request);
  Result<std::string> UpdateTable(const Value& request);
  Result<std::string> DeleteTable(const Value& request);
  Result<std::string> ListTables(const Value& request);
  Result<std::string> UpdateTimeToLive(const Value& request);
  Result<std::string> DescribeTimeToLive(const Value& request);
  Result<std::string> TagResource(const Value& request);
  Result<std::string> UntagResource(const Value& request);
  Result<std::string> ListTagsOfResource(const Value& request);
  Result<std::string> DescribeContinuousBackups(const Value& request);
  Result<std::string> ListBackups(const Value& request);
  Result<std::string> DescribeLimits(const Value& request);
  // The table a ResourceArn member names (one of TableArn's form, for this
  // region and account); ValidationException for another form,
  // ResourceNotFoundException for another region's or account's.
  Result<std::string> TableOfResourceArn(const Value& request);
  Status PutItem(const Value& request, AsyncDone& done);
  Result<std::string> GetItem(const Value& request);
  Status UpdateItem(const Value& request, AsyncDone& done);
  Status DeleteItem(const Value& request, AsyncDone& done);
  Status ExecuteStatement(const Value& request, AsyncDone& done);
  Status BatchExecuteStatement(const Value& request, AsyncDone& done);
  Status ExecuteTransaction(const Value& request, AsyncDone& done);
  // The table and index keys PartiQL's translation asks for.
  PartiqlKeyLookup PartiqlKeysOf();
  Result<std::string> Query(const Value& request);
  Result<std::string> Scan(const Value& request);
  Status BatchWriteItem(const Value& request, AsyncDone& done);
  Result<std::string> BatchGetItem(const Value& request);
  Result<std::string> TransactGetItems(const Value& request);
  Status TransactWriteItems(const Value& request, AsyncDone& done);
  Result<std::string> ListStreams(const Value& request);
  Result<std::string> DescribeStream(const Value& request);
  Result<std::string> GetShardIterator(const Value& request);
  Result<std::string> GetRecords(const Value& request);

  std::string TableArn(const std::string& table) const {
    return "arn:aws:dynamodb:" + options_.region + ":" + options_.account_id + ":table/" + table;
  }
  std::string StreamArn(const std::string& table, int64_t label_ms) const {
    return TableArn(table) + "/stream/" + StreamLabel(label_ms);
  }
  // The stream a StreamArn names, as stored now: the table's current stream
  // or a replaced one still readable (see StreamOfLabel); kNotFound when
  // there is no such stream.
  Result<StreamInfo> StreamOfArn(const std::string& arn);
  // The stream of `table` labelled `label_ms`: its current one, or one that
  // re-enabling the stream replaced, as a closed stream of its own records;
  // kNotFound when there is none.
  Result<StreamInfo> StreamOfLabel(const std::string& table, int64_t label_ms);

  void WriteTableDescription(const TableDescription& d, std::string_view status, JsonWriter& out);
  // "GlobalSecondaryIndexes" (`global`) or "LocalSecondaryIndexes": [...] of
  // a table description; nothing when the table has no index of that kind.
  void WriteIndexDescriptions(const TableDescription& d, bool global, JsonWriter& out);
  Result<std::string> TableDescriptionResponse(std::string_view member, const TableDescription& d,
                                               std::string_view status);
  // What a Query or Scan reads: a table, or one of its secondary indexes.
  struct ReadTarget {
    std::string table;
    std::string index;  // empty: the table
    // Known only when the request needs it (ConsistentRead, or a capacity
    // report, which names the index's kind); false otherwise.
    bool global_index = false;
  };
  // The target of a read of `index` (may be empty) of `table`, after
  // DynamoDB's check that a global index is never read with ConsistentRead.
  // The index's kind costs a look at the table's schema, so it is looked up
  // only when the request's ConsistentRead or capacity report needs it.
  Result<ReadTarget> ReadTargetOf(std::string table, std::string index,
                                  const CapacityRequest& capacity);
  // Whether `table`'s index `index` is a global one; ValidationException
  // when the table has no such index, as the store's read answers.
  Result<bool> IsGlobalIndex(const std::string& table, const std::string& index);
  Result<std::string> QueryResponse(const store::QueryResult& result, bool count_only,
                                    const ReadTarget& target, const CapacityRequest& capacity);
  void WriteStreamRecord(const store::StreamRecord& record, JsonWriter& out);

  store::ItemStore& store_;
  const DynamoDbApiOptions options_;
  Clock* const clock_;
};

std::optional<ApiResponse> DynamoDbApi::Impl::HandleAsync(std::string_view target,
                                                          std::string_view body, AsyncDone& done) {
  static constexpr Operation kDynamoDbOps[] = {
      {"CreateTable", &Impl::CreateTable},
      {"DescribeTable", &Impl::DescribeTable},
      {"UpdateTable", &Impl::UpdateTable},
      {"DeleteTable", &Impl::DeleteTable},
      {"ListTables", &Impl::ListTables},
      {"UpdateTimeToLive", &Impl::UpdateTimeToLive},
      {"DescribeTimeToLive", &Impl::DescribeTimeToLive},
      {"TagResource", &Impl::TagResource},
      {"UntagResource", &Impl::UntagResource},
      {"ListTagsOfResource", &Impl::ListTagsOfResource},
      {"DescribeContinuousBackups", &Impl::DescribeContinuousBackups},
      {"ListBackups", &Impl::ListBackups},
      {"DescribeLimits", &Impl::DescribeLimits},
      {"PutItem", nullptr, &Impl::PutItem},
      {"GetItem", &Impl::GetItem},
      {"UpdateItem", nullptr, &Impl::UpdateItem},
      {"DeleteItem", nullptr, &Impl::DeleteItem},
      {"Query", &Impl::Query},
      {"Scan", &Impl::Scan},
      {"BatchWriteItem", nullptr, &Impl::BatchWriteItem},
      {"BatchGetItem", &Impl::BatchGetItem},
      {"TransactWriteItems", nullptr, &Impl::TransactWriteItems},
      {"TransactGetItems", &Impl::TransactGetItems},
      {"ExecuteStatement", nullptr, &Impl::ExecuteStatement},
      {"BatchExecuteStatement", nullptr, &Impl::BatchExecuteStatement},
      {"ExecuteTransaction", nullptr, &Impl::ExecuteTransaction},
  };
  static constexpr Operation kStreamsOps[] = {
      {"ListStreams", &Impl::ListStreams},
      {"DescribeStream", &Impl::DescribeStream},
      {"GetShardIterator", &Impl::GetShardIterator},
      {"GetRecords", &Impl::GetRecords},
  };
  const Operation* operation = nullptr;
  auto find = [&](std::string_view prefix, const auto& ops) {
    if (target.substr(0, prefix.size()) != prefix) return;
    std::string_view name = target.substr(prefix.size());
    for (const Operation& op : ops) {
      if (op.name == name) operation = &op;
    }
  };
  find(kDynamoDbPrefix, kDynamoDbOps);
  find(kStreamsPrefix, kStreamsOps);
  if (operation == nullptr) {
    // DynamoDB's answer carries no message; saying which operation helps
    // whoever meets one Keystone does not implement (CreateBackup, ...).
    JsonOut out;
    out.w().StartObject();
    WriteKey("__type", out.w());
    WriteString("com.amazon.coral.service#UnknownOperationException", out.w());
    WriteKey("message", out.w());
    WriteString("Keystone does not implement the operation " +
                    (target.empty() ? std::string("(no X-Amz-Target)") : std::string(target)),
                out.w());
    out.w().EndObject();
    return ApiResponse{400, out.Take()};
  }

  // The request's values go to a buffer on this stack first, which holds a
  // typical item request, and only a larger request takes heap chunks: the
  // pool's default first chunk (64 KiB from the heap, freed again) cost more
  // than the parse itself.
  char value_buffer[8192];
  rapidjson::MemoryPoolAllocator<> values(value_buffer, sizeof(value_buffer));
  rapidjson::Document doc(&values);
  std::string_view text = body;
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\r' ||
                           text.front() == '\t')) {
    text.remove_prefix(1);
  }
  Status parsed = ParseJsonText(text.empty() ? std::string_view("{}") : body, &doc);
  if (!parsed.ok()) return ErrorResponse(parsed);
  if (!doc.IsObject()) return ErrorResponse(WrongJsonType(doc, JsonKind::kStructure));

  if (operation->async_handler != nullptr) {
    Status queued = (this->*operation->async_handler)(doc, done);
    if (!queued.ok()) return ErrorResponse(queued);
    return std::nullopt;
  }
  Result<std::string> result = (this->*operation->handler)(doc);
  if (!result.ok()) return ErrorResponse(result.status());
  return ApiResponse{200, std::move(result).value()};
}

namespace {

void ReportStatus(AsyncDone& done, Status status, std::string_view body) {
  done([status = std::move(status), body]() -> ApiResponse {
    if (!status.ok()) return ErrorResponse(status);
    return ApiResponse{200, std::string(body)};
  });
}

}  // namespace

// ---------------------------------------------------------------------------
// Tables

void DynamoDbApi::Impl::WriteTableDescription(const TableDescription& d, std::string_view status,
                                              JsonWriter& out) {
  const store::TableSchema& schema = d.schema;
  const store::BillingConfig& billing = schema.billing;
  const bool pay_per_request = billing.mode == store::BillingMode::kPayPerRequest;
  out.StartObject();
  WriteKey("AttributeDefinitions", out);
  out.StartArray();
  for (const store::KeyAttribute& key : KeyAttributesOf(schema)) {
    out.StartObject();
    WriteKey("AttributeName", out);
    WriteString(key.name, out);
    WriteKey("AttributeType", out);
    WriteString(KeyTypeName(key.type), out);
    out.EndObject();
  }
  out.EndArray();
  WriteKey("TableName", out);
  WriteString(schema.name, out);
  WriteKey("KeySchema", out);
  WriteKeySchema(schema, out);
  WriteKey("TableStatus", out);
  WriteString(status, out);
  WriteKey("CreationDateTime", out);
  out.Double(static_cast<double>(d.created_ms) / 1000.0);
  WriteProvisionedThroughput(billing.read_capacity_units, billing.write_capacity_units, out);
  WriteKey("TableSizeBytes", out);
  out.Uint64(d.size_bytes);
  WriteKey("ItemCount", out);
  out.Uint64(d.item_count);
  WriteKey("TableArn", out);
  WriteString(TableArn(schema.name), out);
  WriteKey("TableId", out);
  char id[64];
  std::snprintf(id, sizeof id, "%08" PRIx32 "-0000-4000-8000-%012" PRIx64, d.table_id,
                static_cast<uint64_t>(d.created_ms & 0xffffffffffff));
  WriteString(id, out);
  WriteKey("BillingModeSummary", out);
  out.StartObject();
  WriteKey("BillingMode", out);
  WriteString(store::BillingModeName(billing.mode), out);
  if (pay_per_request) {
    WriteKey("LastUpdateToPayPerRequestDateTime", out);
    out.Double(static_cast<double>(d.billing_mode_changed_ms) / 1000.0);
  }
  out.EndObject();
  WriteIndexDescriptions(d, /*global=*/true, out);
  WriteIndexDescriptions(d, /*global=*/false, out);
  if (schema.stream.enabled) {
    WriteKey("StreamSpecification", out);
    out.StartObject();
    WriteKey("StreamEnabled", out);
    out.Bool(true);
    WriteKey("StreamViewType", out);
    WriteString(store::StreamViewTypeName(schema.stream.view_type), out);
    out.EndObject();
  }
  if (d.stream_label_ms != 0) {
    WriteKey("LatestStreamLabel", out);
    WriteString(StreamLabel(d.stream_label_ms), out);
    WriteKey("LatestStreamArn", out);
    WriteString(StreamArn(schema.name, d.stream_label_ms), out);
  }
  WriteKey("DeletionProtectionEnabled", out);
  out.Bool(false);
  out.EndObject();
}

void DynamoDbApi::Impl::WriteIndexDescriptions(const TableDescription& d, bool global,
                                               JsonWriter& out) {
  const store::TableSchema& schema = d.schema;
  bool any = false;
  for (const store::SecondaryIndex& index : schema.indexes) any = any || index.global == global;
  if (!any) return;
  WriteKey(global ? "GlobalSecondaryIndexes" : "LocalSecondaryIndexes", out);
  out.StartArray();
  for (const store::SecondaryIndex& index : schema.indexes) {
    if (index.global != global) continue;
    store::IndexDescription state;
    for (const store::IndexDescription& described : d.indexes) {
      if (described.name == index.name) state = described;
    }
    out.StartObject();
    WriteKey("IndexName", out);
    WriteString(index.name, out);
    WriteKey("KeySchema", out);
    WriteKeySchema(index.partition_key, index.sort_key, out);
    WriteKey("Projection", out);
    WriteProjection(index.projection, out);
    if (global) {
      WriteKey("IndexStatus", out);
      WriteString(state.backfilling ? "CREATING" : "ACTIVE", out);
      if (state.backfilling) {
        WriteKey("Backfilling", out);
        out.Bool(true);
      }
      WriteProvisionedThroughput(index.read_capacity_units, index.write_capacity_units, out);
    }
    WriteKey("IndexSizeBytes", out);
    out.Uint64(state.size_bytes);
    WriteKey("ItemCount", out);
    out.Uint64(state.item_count);
    WriteKey("IndexArn", out);
    WriteString(TableArn(schema.name) + "/index/" + index.name, out);
    out.EndObject();
  }
  out.EndArray();
}

Result<std::string> DynamoDbApi::Impl::TableDescriptionResponse(std::string_view member,
                                                                const TableDescription& d,
                                                                std::string_view status) {
  JsonOut out;
  out.w().StartObject();
  WriteKey(member, out.w());
  WriteTableDescription(d, status, out.w());
  out.w().EndObject();
  return out.Take();
}

Result<std::string> DynamoDbApi::Impl::CreateTable(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::string name, TableNameMember(request));
  store::TableSchema schema;
  schema.name = name;

  KS_ASSIGN_OR_RETURN(std::vector<std::string> keys, KeySchemaMember(request, "keySchema"));
  KS_ASSIGN_OR_RETURN(AttributeDefinitions defined, AttributeDefinitionsMember(request, true));
  for (const std::string& key : keys) {
    if (defined.types.count(key) == 0) return UndefinedKeys(keys, defined);
  }
  schema.partition_key = {keys[0], defined.types[keys[0]]};
  if (keys.size() == 2) schema.sort_key = store::KeyAttribute{keys[1], defined.types[keys[1]]};

  bool has_local = false, has_global = false;
  KS_RETURN_IF_ERROR(IndexListMember(request, false, defined, &schema.indexes, &has_local));
  KS_RETURN_IF_ERROR(IndexListMember(request, true, defined, &schema.indexes, &has_global));
  if (!has_local && !has_global) {
    if (defined.types.size() != keys.size()) {
      return InvalidArgument(
          "One or more parameter values were invalid: Number of attributes in KeySchema does not "
          "exactly match number of attributes defined in AttributeDefinitions");
    }
  } else {
    std::vector<std::string> used;
    for (const store::KeyAttribute& key : KeyAttributesOf(schema)) used.push_back(key.name);
    if (defined.types.size() != used.size()) {
      return InvalidArgument(
          "One or more parameter values were invalid: Some AttributeDefinitions are not used. "
          "AttributeDefinitions: [" +
          JoinNames(defined.names) + "], keys used: [" + JoinNames(used) + "]");
    }
  }

  schema.stream.enabled = false;
  KS_ASSIGN_OR_RETURN(const Value* stream, OptObject(request, "StreamSpecification"));
  if (stream != nullptr) {
    KS_ASSIGN_OR_RETURN(std::optional<bool> enabled, OptBool(*stream, "StreamEnabled"));
    if (!enabled) return MissingMember("streamSpecification.streamEnabled");
    KS_ASSIGN_OR_RETURN(std::optional<std::string> view, OptString(*stream, "StreamViewType"));
    if (view) {
      KS_RETURN_IF_ERROR(CheckEnum(*view, "streamSpecification.streamViewType",
                                   {"NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"}));
    }
    if (*enabled) {
      if (!view) {
        return InvalidArgument(
            "One or more parameter values were invalid: StreamViewType is required when "
            "StreamEnabled is true");
      }
      schema.stream.enabled = true;
      store::ParseStreamViewType(*view, &schema.stream.view_type);
    }
  }

  bool billing_named = false;
  KS_RETURN_IF_ERROR(ApplyBilling(request, true, &schema.billing, &billing_named));
  KS_RETURN_IF_ERROR(CheckIgnoredMembers(request));
  KS_ASSIGN_OR_RETURN(schema.tags, TagsMember(request));

  KS_RETURN_IF_ERROR(store_.CreateTable(schema));
  KS_ASSIGN_OR_RETURN(TableDescription d, store_.DescribeTable(name));
  return TableDescriptionResponse("TableDescription", d, "ACTIVE");
}

Result<std::string> DynamoDbApi::Impl::DescribeTable(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::string name, TableNameMember(request));
  KS_ASSIGN_OR_RETURN(TableDescription d, store_.DescribeTable(name));
  return TableDescriptionResponse("Table", d, "ACTIVE");
}

Result<std::string> DynamoDbApi::Impl::UpdateTable(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::string name, TableNameMember(request));
  if (Member(request, "ReplicaUpdates") != nullptr) {
    return InvalidArgument("Keystone does not support ReplicaUpdates");
  }
  KS_ASSIGN_OR_RETURN(TableDescription current, store_.DescribeTable(name));

  std::optional<store::StreamConfig> new_stream;
  KS_ASSIGN_OR_RETURN(const Value* stream, OptObject(request, "StreamSpecification"));
  if (stream != nullptr) {
    KS_ASSIGN_OR_RETURN(std::optional<bool> enabled, OptBool(*stream, "StreamEnabled"));
    if (!enabled) return MissingMember("streamSpecification.streamEnabled");
    KS_ASSIGN_OR_RETURN(std::optional<std::string> view, OptString(*stream, "StreamViewType"));
    if (view) {
      KS_RETURN_IF_ERROR(CheckEnum(*view, "streamSpecification.streamViewType",
                                   {"NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"}));
    }
    store::StreamConfig config = current.schema.stream;
    if (*enabled) {
      if (!view) {
        return InvalidArgument(
            "One or more parameter values were invalid: If stream is being enabled then "
            "UpdateViewType is required");
      }
      // DynamoDB never changes a live stream's view type in place, nor
      // "re-enables" one: a new stream needs a disable first.
      if (config.enabled) {
        return InvalidArgument("Table already has an enabled stream: TableName: " + name);
      }
      config.enabled = true;
      store::ParseStreamViewType(*view, &config.view_type);
    } else {
      if (view) {
        return InvalidArgument(
            "One or more parameter values were invalid: If stream is being disabled, then "
            "UpdateViewType must not be specified");
      }
      if (!config.enabled) {
        return InvalidArgument("Table has no stream to disable: TableName: " + name);
      }
      config.enabled = false;
    }
    new_stream = config;
  }

  store::BillingConfig billing = current.schema.billing;
  bool billing_named = false;
  KS_RETURN_IF_ERROR(ApplyBilling(request, false, &billing, &billing_named));
  KS_RETURN_IF_ERROR(CheckIgnoredMembers(request));
  bool other_named = Member(request, "SSESpecification") != nullptr ||
                     Member(request, "TableClass") != nullptr ||
                     Member(request, "DeletionProtectionEnabled") != nullptr;
  store::TableUpdate update;
  bool indexes_named = false;
  KS_RETURN_IF_ERROR(IndexUpdatesMember(request, current.schema, &update, &indexes_named));
  if (!new_stream && !billing_named && !other_named && !indexes_named) {
    return InvalidArgument(
        "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
        "GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required");
  }

  TableDescription updated = current;
  // Stream, billing and indexes change in one store transaction (a new index
  // is then filled in transactions of its own before UpdateTable returns).
  update.stream = new_stream;
  if (billing_named) update.billing = billing;
  if (update.stream || update.billing || update.create_index || update.delete_index ||
      !update.index_capacity.empty()) {
    KS_ASSIGN_OR_RETURN(updated, store_.UpdateTable(name, update));
  }
  return TableDescriptionResponse("TableDescription", updated, "ACTIVE");
}

Result<std::string> DynamoDbApi::Impl::DeleteTable(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::string name, TableNameMember(request));
  KS_ASSIGN_OR_RETURN(TableDescription d, store_.DeleteTable(name));
  d.item_count = 0;
  d.size_bytes = 0;
  for (store::IndexDescription& index : d.indexes) {
    index.item_count = 0;
    index.size_bytes = 0;
  }
  return TableDescriptionResponse("TableDescription", d, "DELETING");
}

Result<std::string> DynamoDbApi::Impl::ListTables(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::optional<int64_t> limit, OptIntInRange(request, "Limit", 1, 100));
  KS_ASSIGN_OR_RETURN(std::optional<std::string> start,
                      OptString(request, "ExclusiveStartTableName"));
  if (start) KS_RETURN_IF_ERROR(CheckTableName(*start, "exclusiveStartTableName"));
  KS_ASSIGN_OR_RETURN(std::vector<std::string> names, store_.ListTables());
  std::sort(names.begin(), names.end());
  auto first = start ? std::upper_bound(names.begin(), names.end(), *start) : names.begin();
  size_t max = static_cast<size_t>(limit.value_or(100));
  JsonOut out;
  out.w().StartObject();
  WriteKey("TableNames", out.w());
  out.w().StartArray();
  size_t n = 0;
  auto it = first;
  for (; it != names.end() && n < max; ++it, ++n) WriteString(*it, out.w());
  out.w().EndArray();
  if (it != names.end() && n > 0) {
    WriteKey("LastEvaluatedTableName", out.w());
    WriteString(*(it - 1), out.w());
  }
  out.w().EndObject();
  return out.Take();
}

// Time to Live: the store deletes expired items (ItemStore::ExpireItems, run
// by the daemon's TTL sweeper); these set and show the attribute. Unlike
// DynamoDB, a change takes effect at once (no ENABLING/DISABLING states, no
// one-hour wait between changes).
Result<std::string> DynamoDbApi::Impl::UpdateTimeToLive(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::string name, TableNameMember(request));
  KS_ASSIGN_OR_RETURN(const Value* spec, OptObject(request, "TimeToLiveSpecification"));
  if (spec == nullptr) return MissingMember("timeToLiveSpecification");
  KS_ASSIGN_OR_RETURN(std::optional<bool> enabled, OptBool(*spec, "Enabled"));
  if (!enabled) return MissingMember("timeToLiveSpecification.enabled");
  KS_ASSIGN_OR_RETURN(std::string attribute,
                      ReqString(*spec, "AttributeName", "timeToLiveSpecification.attributeName"));
  if (attribute.empty() || attribute.size() > 255) {
    return ConstraintError(attribute, "timeToLiveSpecification.attributeName",
                           attribute.empty() ? "Member must have length greater than or equal to 1"
                                             : "Member must have length less than or equal to 255");
  }
  KS_ASSIGN_OR_RETURN(TableDescription current, store_.DescribeTable(name));
  const store::TimeToLiveConfig& ttl = current.schema.ttl;
  if (*enabled && ttl.enabled) return InvalidArgument("TimeToLive is already enabled");
  if (!*enabled) {
    if (!ttl.enabled) return InvalidArgument("TimeToLive is already disabled");
    if (ttl.attribute_name != attribute) {
      return InvalidArgument(
          "TimeToLive is active on a different AttributeName: current AttributeName is " +
          ttl.attribute_name);
    }
  }
  store::TableUpdate update;
  update.ttl = *enabled ? store::TimeToLiveConfig{true, attribute} : store::TimeToLiveConfig{};
  KS_RETURN_IF_ERROR(store_.UpdateTable(name, update).status());
  JsonOut out;
  out.w().StartObject();
  WriteKey("TimeToLiveSpecification", out.w());
  out.w().StartObject();
  WriteKey("Enabled", out.w());
  out.w().Bool(*enabled);
  WriteKey("AttributeName", out.w());
  WriteString(attribute, out.w());
  out.w().EndObject();
  out.w().EndObject();
  return out.Take();
}

Result<std::string> DynamoDbApi::Impl::DescribeTimeToLive(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::string name, TableNameMember(request));
  KS_ASSIGN_OR_RETURN(TableDescription d, store_.DescribeTable(name));
  JsonOut out;
  out.w().StartObject();
  WriteKey("TimeToLiveDescription", out.w());
  out.w().StartObject();
  WriteKey("TimeToLiveStatus", out.w());
  WriteString(d.schema.ttl.enabled ? "ENABLED" : "DISABLED", out.w());
  if (d.schema.ttl.enabled) {
    WriteKey("AttributeName", out.w());
    WriteString(d.schema.ttl.attribute_name, out.w());
  }
  out.w().EndObject();
  out.w().EndObject();
  return out.Take();
}

// Tags: kept with the table (TableSchema::tags), at most 50.
Result<std::string> DynamoDbApi::Impl::TableOfResourceArn(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::string arn, ReqString(request, "ResourceArn", "resourceArn"));
  if (arn.empty() || arn.size() > 1283) {
    return ConstraintError(arn, "resourceArn",
                           arn.empty() ? "Member must have length greater than or equal to 1"
                                       : "Member must have length less than or equal to 1283");
  }
  const std::string prefix = TableArn("");
  constexpr std::string_view kGeneric = "arn:aws:dynamodb:";
  size_t table_at = arn.find(":table/");
  if (arn.compare(0, kGeneric.size(), kGeneric) != 0 || table_at == std::string::npos ||
      arn.find('/', table_at + 7) != std::string::npos) {
    return InvalidArgument("Invalid TableArn: " + arn +
                           " (expected arn:aws:dynamodb:REGION:ACCOUNT:table/NAME)");
  }
  if (arn.compare(0, prefix.size(), prefix) != 0) {
    // "ResourcArn" is DynamoDB's own spelling in this message.
    return NotFound("Requested resource not found: ResourcArn: " + arn + " not found");
  }
  std::string name = arn.substr(prefix.size());
  KS_RETURN_IF_ERROR(CheckTableName(name, "resourceArn"));
  return name;
}

Result<std::string> DynamoDbApi::Impl::TagResource(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::string name, TableOfResourceArn(request));
  KS_ASSIGN_OR_RETURN(const Value* list, OptArray(request, "Tags"));
  if (list == nullptr) return MissingMember("tags");
  store::TableUpdate update;
  KS_ASSIGN_OR_RETURN(update.set_tags, TagsMember(request));
  KS_RETURN_IF_ERROR(store_.UpdateTable(name, update).status());
  return EmptyObject();
}

Result<std::string> DynamoDbApi::Impl::UntagResource(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::string name, TableOfResourceArn(request));
  KS_ASSIGN_OR_RETURN(const Value* keys, OptArray(request, "TagKeys"));
  if (keys == nullptr) return MissingMember("tagKeys");
  store::TableUpdate update;
  for (const Value& key : keys->GetArray()) {
    if (!key.IsString()) return WrongJsonType(key, JsonKind::kString);
    update.remove_tags.emplace_back(key.GetString(), key.GetStringLength());
  }
  KS_RETURN_IF_ERROR(store_.UpdateTable(name, update).status());
  return EmptyObject();
}

Result<std::string> DynamoDbApi::Impl::ListTagsOfResource(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::string name, TableOfResourceArn(request));
  KS_ASSIGN_OR_RETURN(TableDescription d, store_.DescribeTable(name));
  // At most 50 tags: one page, whatever NextToken says.
  JsonOut out;
  out.w().StartObject();
  WriteKey("Tags", out.w());
  out.w().StartArray();
  for (const auto& [key, value] : d.schema.tags) {
    out.w().StartObject();
    WriteKey("Key", out.w());
    WriteString(key, out.w());
    WriteKey("Value", out.w());
    WriteString(value, out.w());
    out.w().EndObject();
  }
  out.w().EndArray();
  out.w().EndObject();
  return out.Take();
}

// Keystone has no backups: both statuses are DISABLED (tools such as
// Terraform read this for every table).
Result<std::string> DynamoDbApi::Impl::DescribeContinuousBackups(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::string name, TableNameMember(request));
  KS_RETURN_IF_ERROR(store_.DescribeTable(name).status());
  return std::string(
      R"({"ContinuousBackupsDescription":{"ContinuousBackupsStatus":"DISABLED",)"
      R"("PointInTimeRecoveryDescription":{"PointInTimeRecoveryStatus":"DISABLED"}}})");
}

Result<std::string> DynamoDbApi::Impl::ListBackups(const Value& request) {
  // Keystone makes no backups (the data directory is the backup unit), so
  // the list is empty; tools that list them before other work go on.
  KS_ASSIGN_OR_RETURN(std::optional<std::string> table, OptString(request, "TableName"));
  if (table) KS_RETURN_IF_ERROR(CheckTableName(*table, "tableName"));
  KS_RETURN_IF_ERROR(OptIntInRange(request, "Limit", 1, 100).status());
  KS_ASSIGN_OR_RETURN(std::optional<std::string> type, OptString(request, "BackupType"));
  if (type)
    KS_RETURN_IF_ERROR(CheckEnum(*type, "backupType", {"USER", "SYSTEM", "AWS_BACKUP", "ALL"}));
  return std::string(R"({"BackupSummaries":[]})");
}

Result<std::string> DynamoDbApi::Impl::DescribeLimits(const Value&) {
  // Capacity is reported, never enforced; these are a new AWS account's
  // default quotas, so that tools that plan capacity against them behave as
  // they would there.
  return std::string(R"({"AccountMaxReadCapacityUnits":80000,"AccountMaxWriteCapacityUnits":80000,)"
                     R"("TableMaxReadCapacityUnits":40000,"TableMaxWriteCapacityUnits":40000})");
}

// ---------------------------------------------------------------------------
// Items

namespace {

// Reads the members PutItem, UpdateItem and DeleteItem share into `write`:
// ConditionExpression (or the legacy Expected), for UpdateItem its
// UpdateExpression (or AttributeUpdates), the expression attributes,
// ReturnValues and ReturnValuesOnConditionCheckFailure, and checks the
// ignored ones. For ReturnValuesOnConditionCheckFailure=ALL_OLD it returns a
// place that write->on_condition_failure fills; nullptr (and no hook)
// otherwise.
template <typename ItemWriteRequest>
Result<std::shared_ptr<std::optional<Item>>> ReadConditionalWrite(const Value& request,
                                                                  LegacyOperation operation,
                                                                  ItemWriteRequest* write,
                                                                  CapacityRequest* capacity) {
  KS_ASSIGN_OR_RETURN(LegacyExpressions legacy, TranslateLegacyParameters(request, operation));
  KS_ASSIGN_OR_RETURN(std::optional<std::string> condition,
                      OptExpression(request, "ConditionExpression"));
  write->condition_expression = legacy.condition.value_or(condition.value_or(""));
  if constexpr (std::is_same_v<ItemWriteRequest, store::UpdateItemRequest>) {
    KS_ASSIGN_OR_RETURN(std::optional<std::string> update,
                        OptExpression(request, "UpdateExpression"));
    write->update_expression = legacy.update.value_or(update.value_or(""));
  }
  KS_ASSIGN_OR_RETURN(write->expression, ExpressionInputsOf(request, true));
  std::move(legacy).MergeInto(&write->expression);
  KS_ASSIGN_OR_RETURN(write->return_values, ReturnValuesOf(request));
  KS_ASSIGN_OR_RETURN(bool return_old,
                      ReturnOldOnConditionFailure(request, "returnValuesOnConditionCheckFailure"));
  KS_ASSIGN_OR_RETURN(*capacity, CommonItemMembers(request));
  if (!return_old) return std::shared_ptr<std::optional<Item>>();
  auto failed_item = std::make_shared<std::optional<Item>>();
  write->on_condition_failure = [failed_item](const std::optional<Item>& item) {
    *failed_item = item;
  };
  return failed_item;
}

// DynamoDB's ItemCollectionMetrics of one item collection: the items of a
// table that share a partition key value, with their entries in the table's
// local secondary indexes (DynamoDB limits such a collection to 10 GB;
// Keystone does not, but reports the size as DynamoDB does).
struct ItemCollectionMetrics {
  Item key;  // {partition key name: value}
  double lower_gb = 0, upper_gb = 1;
};

// ReturnItemCollectionMetrics=SIZE: the metrics of the collection holding
// `item` (an item or a key) in `table`, measured after the write by reading
// the collection; nullopt when the table has no local secondary index (as
// DynamoDB, which reports collections only for those). The estimate is the
// GB range the size falls in ([0, 1] below a GB).
Result<std::optional<ItemCollectionMetrics>> ItemCollectionMetricsOf(store::ItemStore& store,
                                                                     const std::string& table,
                                                                     const Item& item) {
  KS_ASSIGN_OR_RETURN(TableDescription d, store.DescribeTable(table));
  std::vector<std::string> reads = {""};  // the table, then each local index
  for (const store::SecondaryIndex& index : d.schema.indexes) {
    if (!index.global) reads.push_back(index.name);
  }
  const std::string& name = d.schema.partition_key.name;
  auto value = item.find(name);
  if (reads.size() == 1 || value == item.end()) return std::optional<ItemCollectionMetrics>();
  uint64_t bytes = 0;
  for (const std::string& index : reads) {
    store::QueryRequest query;
    query.table = table;
    query.index_name = index;
    query.key_condition_expression = "#k = :k";
    query.expression.names["#k"] = name;
    query.expression.values[":k"] = value->second;
    query.measure_scanned_bytes = true;
    for (;;) {
      KS_ASSIGN_OR_RETURN(store::QueryResult page, store.Query(query));
      bytes += page.scanned_bytes;
      if (!page.last_evaluated_key) break;
      query.exclusive_start_key = std::move(page.last_evaluated_key);
    }
  }
  ItemCollectionMetrics metrics;
  metrics.key[name] = value->second;
  metrics.lower_gb = std::floor(static_cast<double>(bytes) / (1 << 30));
  metrics.upper_gb = metrics.lower_gb + 1;
  return std::optional<ItemCollectionMetrics>(std::move(metrics));
}

void WriteItemCollectionMetrics(const ItemCollectionMetrics& metrics, JsonWriter& out) {
  out.StartObject();
  WriteKey("ItemCollectionKey", out);
  WriteItem(metrics.key, out);
  WriteKey("SizeEstimateRangeGB", out);
  out.StartArray();
  out.Double(metrics.lower_gb);
  out.Double(metrics.upper_gb);
  out.EndArray();
  out.EndObject();
}

// ItemCollectionMetrics of a batch or a transaction: per table, one entry
// per item collection its writes touched (tables without local indexes
// left out), as `{"table": [...]}`; nothing when there are none.
Status WriteBatchItemCollectionMetrics(store::ItemStore& store,
                                       const std::vector<std::pair<std::string, Item>>& written,
                                       JsonWriter& out) {
  std::map<std::string, std::vector<ItemCollectionMetrics>> by_table;
  for (const auto& [table, item] : written) {
    KS_ASSIGN_OR_RETURN(std::optional<ItemCollectionMetrics> metrics,
                        ItemCollectionMetricsOf(store, table, item));
    if (!metrics) continue;
    std::vector<ItemCollectionMetrics>& seen = by_table[table];
    if (std::none_of(seen.begin(), seen.end(),
                     [&](const ItemCollectionMetrics& m) { return m.key == metrics->key; })) {
      seen.push_back(std::move(*metrics));
    }
  }
  if (by_table.empty()) return Status::Ok();
  WriteKey("ItemCollectionMetrics", out);
  out.StartObject();
  for (const auto& [table, collections] : by_table) {
    WriteKey(table, out);
    out.StartArray();
    for (const ItemCollectionMetrics& m : collections) WriteItemCollectionMetrics(m, out);
    out.EndArray();
  }
  out.EndObject();
  return Status::Ok();
}

// What a single-item write's answer reports beside its Attributes.
struct WriteReport {
  std::string table;
  CapacityRequest capacity;
  // Filled by the write's on_condition_failure hook (may be null).
  std::shared_ptr<std::optional<Item>> failed_item;
  // An UpdateItem of the legacy AttributeUpdates, whose type errors DynamoDB
  // words in its own way.
  bool from_attribute_updates = false;
  // For ReturnItemCollectionMetrics=SIZE: the store, and the written item's
  // key (or the item).
  store::ItemStore* store = nullptr;
  Item key;
};

// A single-item write's answer: its Attributes, its ConsumedCapacity and its
// ItemCollectionMetrics as `report` asks.
Result<std::string> WriteResponse(const store::WriteResult& written, const WriteReport& report) {
  const CapacityRequest& capacity = report.capacity;
  std::optional<ItemCollectionMetrics> collection;
  if (capacity.item_collection_metrics) {
    KS_ASSIGN_OR_RETURN(collection,
                        ItemCollectionMetricsOf(*report.store, report.table, report.key));
  }
  if (!written.attributes && !capacity.wanted() && !collection) return EmptyObject();
  JsonOut out;
  out.w().StartObject();
  if (written.attributes) {
    WriteKey("Attributes", out.w());
    WriteItem(*written.attributes, out.w());
  }
  if (capacity.wanted()) {
    ConsumedCapacity consumed;
    consumed.AddItemWrite(report.table, std::max(written.old_item_bytes, written.new_item_bytes),
                          written.index_writes);
    consumed.WriteOne(capacity.detail, out.w());
  }
  if (collection) {
    WriteKey("ItemCollectionMetrics", out.w());
    WriteItemCollectionMetrics(*collection, out.w());
  }
  out.w().EndObject();
  return out.Take();
}

// A single-item write's WriteReport: the table's name is kept only when the
// answer needs it, `item` (the item or its key) only when the request asks
// for ItemCollectionMetrics.
WriteReport ReportOf(store::ItemStore& store, const std::string& table,
                     const CapacityRequest& capacity,
                     std::shared_ptr<std::optional<Item>> failed_item, const Item& item) {
  WriteReport report;
  report.store = &store;
  if (capacity.wanted() || capacity.item_collection_metrics) report.table = table;
  report.capacity = capacity;
  report.failed_item = std::move(failed_item);
  if (capacity.item_collection_metrics) report.key = item;
  return report;
}

// The store's callback for a single-item write: hands `done` a builder for
// its answer (WriteResponse), or for the error with the item the write's
// on_condition_failure hook got (report.failed_item).
store::WriteCallback ReportAttributes(AsyncDone done, WriteReport report) {
  return [done = std::move(done),
          report = std::move(report)](Result<store::WriteResult> result) mutable {
    if (!result.ok()) {
      std::optional<Item> item;
      if (report.failed_item != nullptr && result.status().code() == StatusCode::kConditionFailed) {
        item = std::move(*report.failed_item);
      }
      Status status = result.status();
      if (report.from_attribute_updates && status.message() == store::kUpdateOperandTypeError) {
        status = InvalidArgument("Type mismatch for attribute to update");
      }
      done([status = std::move(status), item = std::move(item)]() {
        return ErrorResponse(status, {}, item);
      });
      return;
    }
    done([written = std::move(*result), report = std::move(report)]() {
      Result<std::string> body = WriteResponse(written, report);
      if (!body.ok()) return ErrorResponse(body.status());
      return ApiResponse{200, *std::move(body)};
    });
  };
}

}  // namespace

Status DynamoDbApi::Impl::PutItem(const Value& request, AsyncDone& done) {
  store::PutItemRequest put;
  KS_ASSIGN_OR_RETURN(put.table, TableNameMember(request));
  KS_ASSIGN_OR_RETURN(put.item, ReqItem(request, "Item", "item"));
  CapacityRequest capacity;
  KS_ASSIGN_OR_RETURN(auto failed_item,
                      ReadConditionalWrite(request, LegacyOperation::kPutItem, &put, &capacity));
  WriteReport report = ReportOf(store_, put.table, capacity, std::move(failed_item), put.item);
  store_.PutItemAsync(std::move(put), ReportAttributes(done, std::move(report)));
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// PartiQL

namespace {

constexpr size_t kMaxStatementLength = 8192;
constexpr std::string_view kExistsAlone = "EXISTS is a condition of ExecuteTransaction only";

// A SELECT's answer from the Query or Scan that ran it: the items, and the
// page's end both as LastEvaluatedKey and as an opaque NextToken (the key's
// JSON in base64), which is what PartiQL clients pass back.
Result<std::string> StatementReadResponse(const std::string& read) {
  rapidjson::Document doc;
  KS_RETURN_IF_ERROR(ParseJsonText(read, &doc));
  rapidjson::StringBuffer buffer;
  JsonWriter out(buffer);
  out.StartObject();
  WriteKey("Items", out);
  if (doc.HasMember("Items")) {
    doc["Items"].Accept(out);
  } else {
    out.StartArray();
    out.EndArray();
  }
  if (doc.HasMember("LastEvaluatedKey")) {
    rapidjson::StringBuffer key;
    JsonWriter key_out(key);
    doc["LastEvaluatedKey"].Accept(key_out);
    WriteKey("NextToken", out);
    WriteString(Base64Encode(std::string_view(key.GetString(), key.GetSize())), out);
    WriteKey("LastEvaluatedKey", out);
    doc["LastEvaluatedKey"].Accept(out);
  }
  if (doc.HasMember("ConsumedCapacity")) {
    WriteKey("ConsumedCapacity", out);
    doc["ConsumedCapacity"].Accept(out);
  }
  out.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

// A write statement's answer from the write that ran it: no items (or, with
// RETURNING, the item's attributes as the one item), and the capacity report
// if one was asked for. An INSERT whose item exists is
// DuplicateItemException, as in DynamoDB.
ApiResponse StatementWriteResponse(ApiResponse written, bool insert) {
  if (written.http_status != 200) {
    if (insert && written.body.find("ConditionalCheckFailedException") != std::string::npos) {
      return ApiResponse{400, R"({"__type":")" + std::string(kDynamoDbNamespace) +
                                  R"(DuplicateItemException","message":)"
                                  R"("Duplicate primary key exists in table"})"};
    }
    return written;
  }
  rapidjson::Document doc;
  std::string body = R"({"Items":[]})";
  if (ParseJsonText(written.body, &doc).ok() && doc.IsObject() &&
      (doc.HasMember("ConsumedCapacity") || doc.HasMember("Attributes"))) {
    rapidjson::StringBuffer buffer;
    JsonWriter out(buffer);
    out.StartObject();
    WriteKey("Items", out);
    out.StartArray();
    if (doc.HasMember("Attributes")) doc["Attributes"].Accept(out);
    out.EndArray();
    if (doc.HasMember("ConsumedCapacity")) {
      WriteKey("ConsumedCapacity", out);
      doc["ConsumedCapacity"].Accept(out);
    }
    out.EndObject();
    body.assign(buffer.GetString(), buffer.GetSize());
  }
  return ApiResponse{200, std::move(body)};
}

}  // namespace

PartiqlKeyLookup DynamoDbApi::Impl::PartiqlKeysOf() {
  return [this](const std::string& table, const std::string& index) -> Result<PartiqlKeys> {
    KS_ASSIGN_OR_RETURN(TableDescription d, store_.DescribeTable(table));
    if (index.empty()) {
      return PartiqlKeys{d.schema.partition_key.name,
                         d.schema.sort_key ? d.schema.sort_key->name : std::string()};
    }
    for (const store::SecondaryIndex& i : d.schema.indexes) {
      if (i.name == index) {
        return PartiqlKeys{i.partition_key.name, i.sort_key ? i.sort_key->name : std::string()};
      }
    }
    return InvalidArgument("The table does not have the specified index: " + index);
  };
}

Status DynamoDbApi::Impl::ExecuteStatement(const Value& request, AsyncDone& done) {
  KS_ASSIGN_OR_RETURN(std::string statement, ReqString(request, "Statement", "statement"));
  if (statement.empty() || statement.size() > kMaxStatementLength) {
    return ConstraintError(statement, "statement",
                           "Member must have length less than or equal to 8192");
  }
  KS_ASSIGN_OR_RETURN(const Value* parameters, OptArray(request, "Parameters"));
  if (parameters != nullptr && parameters->Empty()) {
    return ConstraintError(std::nullopt, "parameters",
                           "Member must have length greater than or equal to 1");
  }
  KS_ASSIGN_OR_RETURN(PartiqlPlan plan, TranslatePartiql(statement, parameters, PartiqlKeysOf()));
  if (plan.kind == PartiqlPlan::Kind::kExists) return InvalidArgument(std::string(kExistsAlone));
  rapidjson::Document& translated = plan.request;
  auto& alloc = translated.GetAllocator();
  auto pass = [&](const char* name) {
    if (const Value* v = Member(request, name)) {
      translated.AddMember(Value(name, alloc), Value(*v, alloc), alloc);
    }
  };
  pass("ReturnConsumedCapacity");
  if (plan.kind == PartiqlPlan::Kind::kSelect) {
    pass("ConsistentRead");
    pass("Limit");
    KS_ASSIGN_OR_RETURN(std::optional<std::string> token, OptString(request, "NextToken"));
    if (token) {
      Result<std::string> key_json = Base64Decode(*token);
      rapidjson::Document key;
      if (!key_json.ok() || !ParseJsonText(*key_json, &key).ok() || !key.IsObject()) {
        return InvalidArgument("Invalid NextToken");
      }
      translated.AddMember("ExclusiveStartKey", Value(key, alloc), alloc);
    }
    Result<std::string> read = plan.operation == "Query" ? Query(translated) : Scan(translated);
    if (!read.ok()) return read.status();
    KS_ASSIGN_OR_RETURN(std::string body, StatementReadResponse(*read));
    done([body = std::move(body)] { return ApiResponse{200, body}; });
    return Status::Ok();
  }
  for (const char* refused : {"ConsistentRead", "Limit", "NextToken"}) {
    if (Member(request, refused) != nullptr) {
      return InvalidArgument(std::string(refused) + " applies only to SELECT statements");
    }
  }
  pass("ReturnValuesOnConditionCheckFailure");
  const bool insert = plan.kind == PartiqlPlan::Kind::kInsert;
  AsyncDone reshape = [done, insert](ResponseBuilder build) {
    done([build = std::move(build), insert] { return StatementWriteResponse(build(), insert); });
  };
  switch (plan.kind) {
    case PartiqlPlan::Kind::kInsert:
      return PutItem(translated, reshape);
    case PartiqlPlan::Kind::kUpdate:
      return UpdateItem(translated, reshape);
    default:
      return DeleteItem(translated, reshape);
  }
}

namespace {

// A batch's or transaction's list of statements: present, 1 to `max` long.
Result<const Value*> StatementList(const Value& request, std::string_view name, size_t max) {
  KS_ASSIGN_OR_RETURN(const Value* statements, OptArray(request, name));
  if (statements == nullptr) return MissingMember(LowerFirst(name));
  if (statements->Empty() || statements->Size() > max) {
    return ConstraintError(std::nullopt, LowerFirst(name),
                           "Member must have length less than or equal to " + std::to_string(max) +
                               " and greater than or equal to 1");
  }
  return statements;
}

// One statement of a batch or transaction: its Statement and Parameters
// (RETURNING refused: neither answers items for writes).
Result<PartiqlPlan> TranslateMember(const Value& entry, std::string_view path,
                                    const PartiqlKeyLookup& keys) {
  if (!entry.IsObject()) return SerializationError("Unexpected value type in payload");
  KS_ASSIGN_OR_RETURN(std::string statement, ReqString(entry, "Statement", path));
  if (statement.empty() || statement.size() > kMaxStatementLength) {
    return ConstraintError(statement, path, "Member must have length less than or equal to 8192");
  }
  KS_ASSIGN_OR_RETURN(const Value* parameters, OptArray(entry, "Parameters"));
  KS_ASSIGN_OR_RETURN(PartiqlPlan plan, TranslatePartiql(statement, parameters, keys));
  if (plan.request.IsObject() && plan.request.HasMember("ReturnValues")) {
    return InvalidArgument("RETURNING applies only to ExecuteStatement");
  }
  return plan;
}

// A BatchExecuteStatement entry's error: DynamoDB's BatchStatementErrorCode
// for the exception the statement met ("ConditionalCheckFailed" for
// ConditionalCheckFailedException), its message, and the item when
// ReturnValuesOnConditionCheckFailure asked for it.
void WriteBatchStatementError(const ApiResponse& failed, JsonWriter& out) {
  rapidjson::Document error;
  std::string type = "InternalServerError", message;
  if (ParseJsonText(failed.body, &error).ok() && error.IsObject()) {
    if (error.HasMember("__type") && error["__type"].IsString()) {
      std::string_view full = error["__type"].GetString();
      std::string_view name = full.substr(full.find('#') + 1);
      if (name == "ValidationException") {
        type = "ValidationError";
      } else if (name.size() > 9 && name.substr(name.size() - 9) == "Exception") {
        type = std::string(name.substr(0, name.size() - 9));
      }
    }
    for (const char* member : {"message", "Message"}) {
      if (error.HasMember(member) && error[member].IsString()) message = error[member].GetString();
    }
  }
  out.StartObject();
  WriteKey("Code", out);
  WriteString(type, out);
  WriteKey("Message", out);
  WriteString(message, out);
  if (error.IsObject() && error.HasMember("Item")) {
    WriteKey("Item", out);
    error["Item"].Accept(out);
  }
  out.EndObject();
}

constexpr std::string_view kMixedStatements =
    "Mixing reads (SELECT) and writes (INSERT, UPDATE, DELETE) in one request is not supported";

// What BatchExecuteStatement gathers while its statements run.
struct BatchStatements {
  std::mutex mu;
  std::vector<std::string> tables;
  std::vector<std::optional<ApiResponse>> done_inline;  // per statement
  std::vector<ResponseBuilder> queued;                  // per statement
  size_t remaining = 0;                                 // guarded by mu
  AsyncDone done;
  bool reads = false;
};

// BatchExecuteStatement's answer: one Responses entry per statement, in order.
ApiResponse BatchStatementResponse(BatchStatements& batch) {
  rapidjson::StringBuffer buffer;
  JsonWriter out(buffer);
  out.StartObject();
  WriteKey("Responses", out);
  out.StartArray();
  for (size_t i = 0; i < batch.tables.size(); ++i) {
    ApiResponse r = batch.done_inline[i] ? *batch.done_inline[i] : batch.queued[i]();
    out.StartObject();
    if (!batch.tables[i].empty()) {
      WriteKey("TableName", out);
      WriteString(batch.tables[i], out);
    }
    if (r.http_status != 200) {
      WriteKey("Error", out);
      WriteBatchStatementError(r, out);
    } else if (batch.reads) {
      rapidjson::Document read;
      if (ParseJsonText(r.body, &read).ok() && read.IsObject() && read.HasMember("Item")) {
        WriteKey("Item", out);
        read["Item"].Accept(out);
      }
    }
    out.EndObject();
  }
  out.EndArray();
  out.EndObject();
  return ApiResponse{200, std::string(buffer.GetString(), buffer.GetSize())};
}

}  // namespace

Status DynamoDbApi::Impl::BatchExecuteStatement(const Value& request, AsyncDone& done) {
  KS_ASSIGN_OR_RETURN(const Value* statements, StatementList(request, "Statements", 25));
  PartiqlKeyLookup keys = PartiqlKeysOf();
  auto batch = std::make_shared<BatchStatements>();
  const size_t n = statements->Size();
  std::vector<Result<PartiqlPlan>> plans;
  bool reads = false, writes = false;
  for (const Value& entry : statements->GetArray()) {
    plans.push_back(TranslateMember(entry, "statement", keys));
    if (plans.back().ok() && plans.back()->kind == PartiqlPlan::Kind::kExists) {
      plans.back() = InvalidArgument(std::string(kExistsAlone));
    }
    if (plans.back().ok()) {
      (plans.back()->kind == PartiqlPlan::Kind::kSelect ? reads : writes) = true;
    } else if (plans.back().status().code() == StatusCode::kFailedPrecondition) {
      return plans.back().status();  // the request's JSON itself is wrong
    }
  }
  if (reads && writes) return InvalidArgument(std::string(kMixedStatements));
  batch->reads = reads;
  batch->tables.resize(n);
  batch->done_inline.resize(n);
  batch->queued.resize(n);
  batch->remaining = n + 1;  // + 1: no answer before every statement started
  batch->done = done;
  auto finish_one = [batch](size_t i, std::optional<ApiResponse> inline_response,
                            ResponseBuilder queued) {
    bool last = false;
    {
      std::lock_guard<std::mutex> lock(batch->mu);
      if (i < batch->tables.size()) {
        batch->done_inline[i] = std::move(inline_response);
        batch->queued[i] = std::move(queued);
      }
      last = --batch->remaining == 0;
    }
    if (last) batch->done([batch] { return BatchStatementResponse(*batch); });
  };
  for (size_t i = 0; i < n; ++i) {
    const Value& entry = (*statements)[static_cast<rapidjson::SizeType>(i)];
    Result<PartiqlPlan>& plan = plans[i];
    if (!plan.ok()) {
      finish_one(i, ErrorResponse(plan.status()), nullptr);
      continue;
    }
    rapidjson::Document& translated =
        plan->kind == PartiqlPlan::Kind::kSelect ? plan->get_request : plan->request;
    batch->tables[i] = plan->request["TableName"].GetString();
    auto& alloc = translated.GetAllocator();
    if (plan->kind == PartiqlPlan::Kind::kSelect) {
      if (!translated.IsObject()) {
        finish_one(i,
                   ErrorResponse(InvalidArgument(
                       "A SELECT in a batch must name one item by equalities on its whole "
                       "primary key, and nothing else")),
                   nullptr);
        continue;
      }
      if (const Value* consistent = Member(entry, "ConsistentRead")) {
        translated.AddMember("ConsistentRead", Value(*consistent, alloc), alloc);
      }
      Result<std::string> read = GetItem(translated);
      finish_one(i, read.ok() ? ApiResponse{200, *read} : ErrorResponse(read.status()), nullptr);
      continue;
    }
    if (const Value* on_failure = Member(entry, "ReturnValuesOnConditionCheckFailure")) {
      translated.AddMember("ReturnValuesOnConditionCheckFailure", Value(*on_failure, alloc), alloc);
    }
    const bool insert = plan->kind == PartiqlPlan::Kind::kInsert;
    AsyncDone one = [finish_one, i, insert](ResponseBuilder build) {
      finish_one(i, std::nullopt, [build = std::move(build), insert] {
        return StatementWriteResponse(build(), insert);
      });
    };
    Status queued = plan->kind == PartiqlPlan::Kind::kInsert   ? PutItem(translated, one)
                    : plan->kind == PartiqlPlan::Kind::kUpdate ? UpdateItem(translated, one)
                                                               : DeleteItem(translated, one);
    if (!queued.ok()) finish_one(i, ErrorResponse(queued), nullptr);
  }
  finish_one(n, std::nullopt, nullptr);
  return Status::Ok();
}

Status DynamoDbApi::Impl::ExecuteTransaction(const Value& request, AsyncDone& done) {
  KS_ASSIGN_OR_RETURN(const Value* statements, StatementList(request, "TransactStatements", 100));
  PartiqlKeyLookup keys = PartiqlKeysOf();
  rapidjson::Document transaction;
  auto& alloc = transaction.GetAllocator();
  transaction.SetObject();
  Value items(rapidjson::kArrayType);
  std::vector<bool> inserts;
  bool reads = false, writes = false;
  for (const Value& entry : statements->GetArray()) {
    KS_ASSIGN_OR_RETURN(PartiqlPlan plan, TranslateMember(entry, "statement", keys));
    Value item(rapidjson::kObjectType);
    if (plan.kind == PartiqlPlan::Kind::kSelect) {
      if (!plan.get_request.IsObject()) {
        return InvalidArgument(
            "A SELECT in a transaction must name one item by equalities on its whole primary "
            "key, and nothing else");
      }
      reads = true;
      item.AddMember("Get", Value(plan.get_request, alloc), alloc);
    } else {
      writes = true;
      Value write(plan.request, alloc);
      if (const Value* on_failure = Member(entry, "ReturnValuesOnConditionCheckFailure")) {
        write.AddMember("ReturnValuesOnConditionCheckFailure", Value(*on_failure, alloc), alloc);
      }
      const char* kind = plan.kind == PartiqlPlan::Kind::kInsert   ? "Put"
                         : plan.kind == PartiqlPlan::Kind::kUpdate ? "Update"
                         : plan.kind == PartiqlPlan::Kind::kExists ? "ConditionCheck"
                                                                   : "Delete";
      item.AddMember(Value(kind, alloc), write, alloc);
    }
    inserts.push_back(plan.kind == PartiqlPlan::Kind::kInsert);
    items.PushBack(item, alloc);
  }
  if (reads && writes) return InvalidArgument(std::string(kMixedStatements));
  transaction.AddMember("TransactItems", items, alloc);
  for (const char* name : {"ReturnConsumedCapacity", "ClientRequestToken"}) {
    if (const Value* v = Member(request, name)) {
      if (reads && std::string_view(name) == "ClientRequestToken") continue;
      transaction.AddMember(Value(name, alloc), Value(*v, alloc), alloc);
    }
  }
  if (reads) {
    // TransactGetItems answers in ExecuteTransaction's shape: Responses with
    // each item (or none), and ConsumedCapacity if asked for.
    KS_ASSIGN_OR_RETURN(std::string body, TransactGetItems(transaction));
    done([body = std::move(body)] { return ApiResponse{200, body}; });
    return Status::Ok();
  }
  // An INSERT whose item exists cancels the transaction with reason
  // DuplicateItem, as in DynamoDB.
  AsyncDone reshape = [done, inserts = std::move(inserts)](ResponseBuilder build) {
    done([build = std::move(build), inserts] {
      ApiResponse r = build();
      if (r.http_status == 200 ||
          r.body.find("TransactionCanceledException") == std::string::npos) {
        return r;
      }
      rapidjson::Document error;
      if (!ParseJsonText(r.body, &error).ok() || !error.IsObject() ||
          !error.HasMember("CancellationReasons") || !error["CancellationReasons"].IsArray()) {
        return r;
      }
      Value& reasons = error["CancellationReasons"];
      std::string codes;
      for (rapidjson::SizeType i = 0; i < reasons.Size(); ++i) {
        Value& reason = reasons[i];
        if (!reason.IsObject() || !reason.HasMember("Code") || !reason["Code"].IsString()) {
          return r;
        }
        if (i < inserts.size() && inserts[i] && reason["Code"] == "ConditionalCheckFailed") {
          reason["Code"].SetString("DuplicateItem");
          if (reason.HasMember("Message")) {
            reason["Message"].SetString("Duplicate primary key exists in table");
          }
        }
        codes += std::string(i == 0 ? "" : ", ") + reason["Code"].GetString();
      }
      // The message lists the reasons' codes too.
      std::string message =
          "Transaction cancelled, please refer cancellation reasons for specific reasons [" +
          codes + "]";
      for (const char* member : {"message", "Message"}) {
        if (error.HasMember(member)) error[member].SetString(message.c_str(), error.GetAllocator());
      }
      rapidjson::StringBuffer buffer;
      JsonWriter out(buffer);
      error.Accept(out);
      r.body.assign(buffer.GetString(), buffer.GetSize());
      return r;
    });
  };
  return TransactWriteItems(transaction, reshape);
}

Result<std::string> DynamoDbApi::Impl::GetItem(const Value& request) {
  store::GetItemRequest get;
  KS_ASSIGN_OR_RETURN(get.table, TableNameMember(request));
  KS_ASSIGN_OR_RETURN(get.key, ReqItem(request, "Key", "key"));
  KS_ASSIGN_OR_RETURN(LegacyExpressions legacy,
                      TranslateLegacyParameters(request, LegacyOperation::kGetItem));
  KS_ASSIGN_OR_RETURN(std::optional<std::string> projection,
                      OptExpression(request, "ProjectionExpression"));
  get.projection_expression = legacy.projection.value_or(projection.value_or(""));
  KS_ASSIGN_OR_RETURN(get.expression, ExpressionInputsOf(request, false));
  std::move(legacy).MergeInto(&get.expression);
  KS_ASSIGN_OR_RETURN(CapacityRequest capacity, CommonItemMembers(request));
  if (get.projection_expression.empty() && get.expression.names.empty() && !capacity.wanted()) {
    // The common read: the stored encoding goes straight to JSON, without an
    // Item built and taken apart again.
    std::string encoded;
    KS_ASSIGN_OR_RETURN(bool found, store_.GetItemEncoded(get, &encoded));
    if (!found) return EmptyObject();
    JsonOut out;
    out.w().StartObject();
    WriteKey("Item", out.w());
    KS_RETURN_IF_ERROR(WriteEncodedItem(encoded, out.w()));
    out.w().EndObject();
    return out.Take();
  }
  uint64_t item_bytes = 0;
  KS_ASSIGN_OR_RETURN(std::optional<Item> item,
                      store_.GetItem(get, capacity.wanted() ? &item_bytes : nullptr));
  if (!item && !capacity.wanted()) return EmptyObject();
  JsonOut out;
  out.w().StartObject();
  if (item) {
    WriteKey("Item", out.w());
    WriteItem(*item, out.w());
  }
  if (capacity.wanted()) {
    ConsumedCapacity consumed;
    consumed.AddRead(get.table, ReadUnits(item_bytes, capacity.consistent_read));
    consumed.WriteOne(capacity.detail, out.w());
  }
  out.w().EndObject();
  return out.Take();
}

Status DynamoDbApi::Impl::UpdateItem(const Value& request, AsyncDone& done) {
  store::UpdateItemRequest update;
  KS_ASSIGN_OR_RETURN(update.table, TableNameMember(request));
  KS_ASSIGN_OR_RETURN(update.key, ReqItem(request, "Key", "key"));
  CapacityRequest capacity;
  KS_ASSIGN_OR_RETURN(auto failed_item, ReadConditionalWrite(request, LegacyOperation::kUpdateItem,
                                                             &update, &capacity));
  WriteReport report = ReportOf(store_, update.table, capacity, std::move(failed_item), update.key);
  report.from_attribute_updates = Member(request, "AttributeUpdates") != nullptr;
  store_.UpdateItemAsync(std::move(update), ReportAttributes(done, std::move(report)));
  return Status::Ok();
}

Status DynamoDbApi::Impl::DeleteItem(const Value& request, AsyncDone& done) {
  store::DeleteItemRequest del;
  KS_ASSIGN_OR_RETURN(del.table, TableNameMember(request));
  KS_ASSIGN_OR_RETURN(del.key, ReqItem(request, "Key", "key"));
  CapacityRequest capacity;
  KS_ASSIGN_OR_RETURN(auto failed_item,
                      ReadConditionalWrite(request, LegacyOperation::kDeleteItem, &del, &capacity));
  WriteReport report = ReportOf(store_, del.table, capacity, std::move(failed_item), del.key);
  store_.DeleteItemAsync(std::move(del), ReportAttributes(done, std::move(report)));
  return Status::Ok();
}

namespace {

// IndexName of a Query or Scan, checked as DynamoDB's model checks it; empty
// when absent (a read of the table).
Result<std::string> IndexNameMember(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::optional<std::string> index, OptString(request, "IndexName"));
  if (!index) return std::string();
  KS_RETURN_IF_ERROR(CheckTableName(*index, "indexName"));
  return *std::move(index);
}

// What a Query or Scan returns of each item, by its Select, its
// ProjectionExpression (`projection`, which may come from AttributesToGet:
// `projection_from_attributes_to_get`, and errors then name that) and
// whether it reads an index.
struct Selection {
  bool count_only = false;
  // Select=ALL_ATTRIBUTES on an index: whole items, not the index's
  // projection (the default there, ALL_PROJECTED_ATTRIBUTES).
  bool all_attributes = false;
};

Result<Selection> SelectionOf(const Value& request, const std::string& projection,
                              bool projection_from_attributes_to_get, bool on_index) {
  const std::string projection_parameter =
      projection_from_attributes_to_get ? "AttributesToGet" : "ProjectionExpression";
  KS_ASSIGN_OR_RETURN(std::optional<std::string> select, OptString(request, "Select"));
  Selection selection;
  if (!select) return selection;
  KS_RETURN_IF_ERROR(
      CheckEnum(*select, "select",
                {"SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES"}));
  if (*select == "ALL_PROJECTED_ATTRIBUTES" && !on_index) {
    return InvalidArgument(
        "One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is "
        "allowed only when querying a secondary index");
  }
  if (*select == "SPECIFIC_ATTRIBUTES") {
    if (projection.empty()) {
      return InvalidArgument(
          "One or more parameter values were invalid: Select type SPECIFIC_ATTRIBUTES requires a "
          "ProjectionExpression");
    }
  } else if (!projection.empty()) {
    // DynamoDB: with a ProjectionExpression, Select can only be
    // SPECIFIC_ATTRIBUTES.
    return InvalidArgument("Cannot specify the " + projection_parameter + " when choosing to get " +
                           (*select == "COUNT" ? std::string("only the Count") : *select));
  }
  selection.count_only = *select == "COUNT";
  selection.all_attributes = *select == "ALL_ATTRIBUTES" && on_index;
  return selection;
}

}  // namespace

Result<bool> DynamoDbApi::Impl::IsGlobalIndex(const std::string& table, const std::string& index) {
  KS_ASSIGN_OR_RETURN(TableDescription d, store_.DescribeTable(table));
  const store::SecondaryIndex* found = store::FindIndex(d.schema, index);
  if (found == nullptr) {
    return InvalidArgument("The table does not have the specified index: " + index);
  }
  return found->global;
}

Result<DynamoDbApi::Impl::ReadTarget> DynamoDbApi::Impl::ReadTargetOf(
    std::string table, std::string index, const CapacityRequest& capacity) {
  ReadTarget target{std::move(table), std::move(index), false};
  if (target.index.empty() || !(capacity.consistent_read || capacity.wanted())) return target;
  KS_ASSIGN_OR_RETURN(target.global_index, IsGlobalIndex(target.table, target.index));
  if (target.global_index && capacity.consistent_read) {
    return InvalidArgument("Consistent reads are not supported on global secondary indexes");
  }
  return target;
}

Result<std::string> DynamoDbApi::Impl::QueryResponse(const store::QueryResult& result,
                                                     bool count_only, const ReadTarget& target,
                                                     const CapacityRequest& capacity) {
  JsonOut out;
  out.w().StartObject();
  if (!count_only) {
    WriteKey("Items", out.w());
    out.w().StartArray();
    for (const Item& item : result.items) WriteItem(item, out.w());
    out.w().EndArray();
  }
  WriteKey("Count", out.w());
  out.w().Uint64(result.items.size());
  WriteKey("ScannedCount", out.w());
  out.w().Uint64(result.scanned_count);
  if (result.last_evaluated_key) {
    WriteKey("LastEvaluatedKey", out.w());
    WriteItem(*result.last_evaluated_key, out.w());
  }
  if (capacity.wanted()) {
    // A page is charged by the size of all it read, rounded up once.
    ConsumedCapacity consumed;
    double units = ReadUnits(result.scanned_bytes, capacity.consistent_read);
    if (target.index.empty()) {
      consumed.AddRead(target.table, units);
    } else {
      consumed.AddIndexRead(target.table, target.index, target.global_index, units);
    }
    consumed.WriteOne(capacity.detail, out.w());
  }
  out.w().EndObject();
  return out.Take();
}

Result<std::string> DynamoDbApi::Impl::Query(const Value& request) {
  store::QueryRequest query;
  KS_ASSIGN_OR_RETURN(query.table, TableNameMember(request));
  KS_ASSIGN_OR_RETURN(query.index_name, IndexNameMember(request));
  KS_ASSIGN_OR_RETURN(LegacyExpressions legacy,
                      TranslateLegacyParameters(request, LegacyOperation::kQuery));
  KS_ASSIGN_OR_RETURN(std::optional<std::string> key_condition,
                      OptExpression(request, "KeyConditionExpression"));
  query.key_condition_expression = legacy.key_condition.value_or(key_condition.value_or(""));
  KS_ASSIGN_OR_RETURN(std::optional<std::string> filter,
                      OptExpression(request, "FilterExpression"));
  query.filter_expression = legacy.filter.value_or(filter.value_or(""));
  if (legacy.filter) query.filter_parameter = "QueryFilter";
  KS_ASSIGN_OR_RETURN(std::optional<std::string> projection,
                      OptExpression(request, "ProjectionExpression"));
  query.projection_expression = legacy.projection.value_or(projection.value_or(""));
  KS_ASSIGN_OR_RETURN(Selection selection,
                      SelectionOf(request, query.projection_expression,
                                  legacy.projection.has_value(), !query.index_name.empty()));
  query.select_all_attributes = selection.all_attributes;
  KS_ASSIGN_OR_RETURN(query.expression, ExpressionInputsOf(request, true));
  std::move(legacy).MergeInto(&query.expression);
  KS_ASSIGN_OR_RETURN(std::optional<bool> forward, OptBool(request, "ScanIndexForward"));
  query.scan_forward = forward.value_or(true);
  KS_ASSIGN_OR_RETURN(std::optional<int64_t> limit,
                      OptIntInRange(request, "Limit", 1, std::numeric_limits<int32_t>::max()));
  query.limit = static_cast<size_t>(limit.value_or(0));
  KS_ASSIGN_OR_RETURN(query.exclusive_start_key, OptItem(request, "ExclusiveStartKey"));
  KS_ASSIGN_OR_RETURN(CapacityRequest capacity, CommonItemMembers(request));
  KS_ASSIGN_OR_RETURN(ReadTarget target, ReadTargetOf(query.table, query.index_name, capacity));
  query.measure_scanned_bytes = capacity.wanted();
  KS_ASSIGN_OR_RETURN(store::QueryResult result, store_.Query(query));
  return QueryResponse(result, selection.count_only, target, capacity);
}

Result<std::string> DynamoDbApi::Impl::Scan(const Value& request) {
  store::ScanRequest scan;
  KS_ASSIGN_OR_RETURN(scan.table, TableNameMember(request));
  KS_ASSIGN_OR_RETURN(scan.index_name, IndexNameMember(request));
  KS_ASSIGN_OR_RETURN(LegacyExpressions legacy,
                      TranslateLegacyParameters(request, LegacyOperation::kScan));
  KS_ASSIGN_OR_RETURN(std::optional<std::string> filter,
                      OptExpression(request, "FilterExpression"));
  scan.filter_expression = legacy.filter.value_or(filter.value_or(""));
  KS_ASSIGN_OR_RETURN(std::optional<std::string> projection,
                      OptExpression(request, "ProjectionExpression"));
  scan.projection_expression = legacy.projection.value_or(projection.value_or(""));
  KS_ASSIGN_OR_RETURN(Selection selection,
                      SelectionOf(request, scan.projection_expression,
                                  legacy.projection.has_value(), !scan.index_name.empty()));
  scan.select_all_attributes = selection.all_attributes;
  KS_ASSIGN_OR_RETURN(scan.expression, ExpressionInputsOf(request, true));
  std::move(legacy).MergeInto(&scan.expression);
  KS_ASSIGN_OR_RETURN(std::optional<int64_t> limit,
                      OptIntInRange(request, "Limit", 1, std::numeric_limits<int32_t>::max()));
  scan.limit = static_cast<size_t>(limit.value_or(0));
  KS_ASSIGN_OR_RETURN(scan.exclusive_start_key, OptItem(request, "ExclusiveStartKey"));
  KS_ASSIGN_OR_RETURN(std::optional<int64_t> segment, OptIntInRange(request, "Segment", 0, 999999));
  KS_ASSIGN_OR_RETURN(std::optional<int64_t> total,
                      OptIntInRange(request, "TotalSegments", 1, 1000000));
  if (segment && !total) {
    return InvalidArgument(
        "The TotalSegments parameter is required but was not present in the request when "
        "Segment parameter is present");
  }
  if (total && !segment) {
    return InvalidArgument(
        "The Segment parameter is required but was not present in the request when parameter "
        "TotalSegments is present");
  }
  if (segment) {
    if (*segment >= *total) {
      return InvalidArgument(
          "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
          "Segment: " +
          std::to_string(*segment) + " is not less than TotalSegments: " + std::to_string(*total));
    }
    scan.segment = static_cast<uint32_t>(*segment);
    scan.total_segments = static_cast<uint32_t>(*total);
  }
  KS_ASSIGN_OR_RETURN(CapacityRequest capacity, CommonItemMembers(request));
  KS_ASSIGN_OR_RETURN(ReadTarget target, ReadTargetOf(scan.table, scan.index_name, capacity));
  scan.measure_scanned_bytes = capacity.wanted();
  KS_ASSIGN_OR_RETURN(store::QueryResult result, store_.Scan(scan));
  return QueryResponse(result, selection.count_only, target, capacity);
}

Status DynamoDbApi::Impl::BatchWriteItem(const Value& request, AsyncDone& done) {
  KS_ASSIGN_OR_RETURN(const Value* items, OptMap(request, "RequestItems"));
  if (items == nullptr) return MissingMember("requestItems");
  std::vector<store::BatchWriteEntry> entries;
  for (const auto& table : items->GetObject()) {
    std::string name(JsonStringView(table.name));
    KS_RETURN_IF_ERROR(CheckTableName(name, "requestItems.key"));
    if (table.value.IsNull()) continue;
    if (!table.value.IsArray()) return WrongJsonType(table.value, JsonKind::kList);
    if (table.value.Empty()) {
      return ConstraintError(std::nullopt, "requestItems." + name + ".member",
                             "Member must have length greater than or equal to 1");
    }
    for (const Value& write : table.value.GetArray()) {
      if (!write.IsObject()) return WrongJsonType(write, JsonKind::kStructure);
      KS_ASSIGN_OR_RETURN(const Value* put, OptObject(write, "PutRequest"));
      KS_ASSIGN_OR_RETURN(const Value* del, OptObject(write, "DeleteRequest"));
      if ((put == nullptr) == (del == nullptr)) {
        return InvalidArgument(
            "Supplied WriteRequest must contain exactly one of PutRequest or DeleteRequest");
      }
      store::BatchWriteEntry entry;
      entry.table = name;
      entry.is_put = put != nullptr;
      if (put != nullptr) {
        KS_ASSIGN_OR_RETURN(entry.item,
                            ReqItem(*put, "Item", "requestItems.member.putRequest.item"));
      } else {
        KS_ASSIGN_OR_RETURN(entry.item,
                            ReqItem(*del, "Key", "requestItems.member.deleteRequest.key"));
      }
      entries.push_back(std::move(entry));
    }
  }
  KS_ASSIGN_OR_RETURN(CapacityRequest capacity, CommonItemMembers(request));
  if (!capacity.wanted() && !capacity.item_collection_metrics) {
    store_.BatchWriteAsync(std::move(entries), [done](Status status) mutable {
      ReportStatus(done, std::move(status), "{\"UnprocessedItems\":{}}");
    });
    return Status::Ok();
  }
  std::vector<std::string> tables;
  std::vector<std::pair<std::string, Item>> collections;  // for ItemCollectionMetrics
  for (const store::BatchWriteEntry& entry : entries) {
    tables.push_back(entry.table);
    if (capacity.item_collection_metrics) collections.emplace_back(entry.table, entry.item);
  }
  store::ItemStore* store = &store_;
  store_.BatchWriteAsync(
      std::move(entries),
      [done, capacity, store, tables = std::move(tables), collections = std::move(collections)](
          Status status, std::vector<store::WrittenSize> written) mutable {
        done([status = std::move(status), written = std::move(written), capacity, store,
              tables = std::move(tables), collections = std::move(collections)]() -> ApiResponse {
          if (!status.ok()) return ErrorResponse(status);
          JsonOut out;
          out.w().StartObject();
          WriteKey("UnprocessedItems", out.w());
          out.w().StartObject();
          out.w().EndObject();
          if (capacity.wanted()) {
            ConsumedCapacity consumed;
            for (size_t i = 0; i < tables.size() && i < written.size(); ++i) {
              consumed.AddItemWrite(tables[i], written[i].item_bytes, written[i].index_writes);
            }
            consumed.WriteList(capacity.detail, out.w());
          }
          Status metrics = WriteBatchItemCollectionMetrics(*store, collections, out.w());
          if (!metrics.ok()) return ErrorResponse(metrics);
          out.w().EndObject();
          return ApiResponse{200, out.Take()};
        });
      });
  return Status::Ok();
}

Result<std::string> DynamoDbApi::Impl::BatchGetItem(const Value& request) {
  KS_ASSIGN_OR_RETURN(const Value* items, OptMap(request, "RequestItems"));
  if (items == nullptr) return MissingMember("requestItems");
  std::vector<store::BatchGetEntry> entries;
  std::map<std::string, bool> consistent_reads;
  for (const auto& table : items->GetObject()) {
    std::string name(JsonStringView(table.name));
    KS_RETURN_IF_ERROR(CheckTableName(name, "requestItems.key"));
    if (table.value.IsNull()) continue;
    if (!table.value.IsObject()) return WrongJsonType(table.value, JsonKind::kStructure);
    const Value& spec = table.value;
    KS_ASSIGN_OR_RETURN(LegacyExpressions legacy,
                        TranslateLegacyParameters(spec, LegacyOperation::kBatchGet));
    store::BatchGetEntry entry;
    entry.table = name;
    KS_ASSIGN_OR_RETURN(const Value* keys, OptArray(spec, "Keys"));
    if (keys == nullptr) return MissingMember("requestItems." + name + ".member.keys");
    if (keys->Empty()) {
      return ConstraintError("[]", "requestItems." + name + ".member.keys",
                             "Member must have length greater than or equal to 1");
    }
    for (const Value& key : keys->GetArray()) {
      KS_ASSIGN_OR_RETURN(Item k, JsonToItem(key));
      if (std::find(entry.keys.begin(), entry.keys.end(), k) != entry.keys.end()) {
        return InvalidArgument("Provided list of item keys contains duplicates");
      }
      entry.keys.push_back(std::move(k));
    }
    KS_ASSIGN_OR_RETURN(std::optional<std::string> projection,
                        OptExpression(spec, "ProjectionExpression"));
    entry.projection_expression = legacy.projection.value_or(projection.value_or(""));
    KS_ASSIGN_OR_RETURN(entry.expression, ExpressionInputsOf(spec, false));
    std::move(legacy).MergeInto(&entry.expression);
    KS_ASSIGN_OR_RETURN(std::optional<bool> consistent, OptBool(spec, "ConsistentRead"));
    consistent_reads[name] = consistent.value_or(false);
    entries.push_back(std::move(entry));
  }
  KS_ASSIGN_OR_RETURN(CapacityRequest capacity, CommonItemMembers(request));
  KS_ASSIGN_OR_RETURN(store::BatchGetResult result, store_.BatchGet(entries));
  JsonOut out;
  out.w().StartObject();
  WriteKey("Responses", out.w());
  out.w().StartObject();
  for (const auto& [table, found] : result.responses) {
    WriteKey(table, out.w());
    out.w().StartArray();
    for (const Item& item : found) WriteItem(item, out.w());
    out.w().EndArray();
  }
  out.w().EndObject();
  WriteKey("UnprocessedKeys", out.w());
  out.w().StartObject();
  out.w().EndObject();
  if (capacity.wanted()) {
    // Each item is charged on its own, rounded up (an absent one too).
    ConsumedCapacity consumed;
    for (const auto& [table, sizes] : result.item_bytes) {
      for (uint64_t size : sizes) {
        consumed.AddRead(table, ReadUnits(size, consistent_reads[table]));
      }
    }
    consumed.WriteList(capacity.detail, out.w());
  }
  out.w().EndObject();
  return out.Take();
}

Result<std::string> DynamoDbApi::Impl::TransactGetItems(const Value& request) {
  KS_ASSIGN_OR_RETURN(const Value* items, OptArray(request, "TransactItems"));
  if (items == nullptr) return MissingMember("transactItems");
  std::vector<store::GetItemRequest> gets;
  for (rapidjson::SizeType i = 0; i < items->Size(); ++i) {
    const Value& element = (*items)[i];
    if (!element.IsObject()) return WrongJsonType(element, JsonKind::kStructure);
    std::string path = "transactItems." + std::to_string(i + 1) + ".member.get";
    KS_ASSIGN_OR_RETURN(const Value* action, OptObject(element, "Get"));
    if (action == nullptr) return MissingMember(path);
    store::GetItemRequest get;
    KS_ASSIGN_OR_RETURN(get.table, TableNameMember(*action, path + ".tableName"));
    KS_ASSIGN_OR_RETURN(get.key, ReqItem(*action, "Key", path + ".key"));
    KS_ASSIGN_OR_RETURN(std::optional<std::string> projection,
                        OptExpression(*action, "ProjectionExpression"));
    get.projection_expression = projection.value_or("");
    KS_ASSIGN_OR_RETURN(get.expression, ExpressionInputsOf(*action, false));
    gets.push_back(std::move(get));
  }
  KS_ASSIGN_OR_RETURN(CapacityRequest capacity, CommonItemMembers(request));
  std::vector<uint64_t> item_bytes;
  KS_ASSIGN_OR_RETURN(std::vector<std::optional<Item>> found,
                      store_.TransactGet(gets, capacity.wanted() ? &item_bytes : nullptr));
  JsonOut out;
  out.w().StartObject();
  WriteKey("Responses", out.w());
  out.w().StartArray();
  for (const std::optional<Item>& item : found) {
    out.w().StartObject();
    if (item) {
      WriteKey("Item", out.w());
      WriteItem(*item, out.w());
    }
    out.w().EndObject();
  }
  out.w().EndArray();
  if (capacity.wanted()) {
    ConsumedCapacity consumed;
    for (size_t i = 0; i < gets.size() && i < item_bytes.size(); ++i) {
      consumed.AddRead(gets[i].table, 2 * ReadUnits(item_bytes[i], true));
    }
    consumed.WriteList(capacity.detail, out.w());
  }
  out.w().EndObject();
  return out.Take();
}

Status DynamoDbApi::Impl::TransactWriteItems(const Value& request, AsyncDone& done) {
  KS_ASSIGN_OR_RETURN(const Value* items, OptArray(request, "TransactItems"));
  if (items == nullptr) return MissingMember("transactItems");
  // SDKs send a fresh token per call and the same one on its retries, which
  // the store then applies once (ItemStore::TransactWrite).
  KS_ASSIGN_OR_RETURN(std::optional<std::string> token, OptString(request, "ClientRequestToken"));
  if (token && (token->empty() || token->size() > 36)) {
    return InvalidArgument(
        "1 validation error detected: Value at 'clientRequestToken' failed to satisfy "
        "constraint: Member must have length between 1 and 36");
  }
  std::vector<store::TransactWriteEntry> entries;
  for (rapidjson::SizeType i = 0; i < items->Size(); ++i) {
    const Value& element = (*items)[i];
    if (!element.IsObject()) return WrongJsonType(element, JsonKind::kStructure);
    using Kind = store::TransactWriteEntry::Kind;
    struct Action {
      std::string_view member;
      Kind kind;
    };
    static constexpr Action kActions[] = {{"ConditionCheck", Kind::kConditionCheck},
                                          {"Put", Kind::kPut},
                                          {"Delete", Kind::kDelete},
                                          {"Update", Kind::kUpdate}};
    const Value* action = nullptr;
    Kind kind = Kind::kPut;
    int count = 0;
    for (const Action& a : kActions) {
      KS_ASSIGN_OR_RETURN(const Value* v, OptObject(element, a.member));
      if (v != nullptr) {
        action = v;
        kind = a.kind;
        ++count;
      }
    }
    if (count != 1) {
      return InvalidArgument("TransactItems can only contain one of Check, Put, Update or Delete");
    }
    std::string path = "transactItems." + std::to_string(i + 1) + ".member";
    store::TransactWriteEntry entry;
    entry.kind = kind;
    KS_ASSIGN_OR_RETURN(entry.table, TableNameMember(*action, path + ".tableName"));
    if (kind == Kind::kPut) {
      KS_ASSIGN_OR_RETURN(entry.item, ReqItem(*action, "Item", path + ".put.item"));
    } else {
      KS_ASSIGN_OR_RETURN(entry.item, ReqItem(*action, "Key", path + ".key"));
    }
    if (kind == Kind::kUpdate) {
      KS_ASSIGN_OR_RETURN(std::optional<std::string> update,
                          OptExpression(*action, "UpdateExpression"));
      if (!update) return MissingMember(path + ".update.updateExpression");
      entry.update_expression = std::move(*update);
    }
    KS_ASSIGN_OR_RETURN(std::optional<std::string> condition,
                        OptExpression(*action, "ConditionExpression"));
    if (kind == Kind::kConditionCheck && !condition) {
      return MissingMember(path + ".conditionCheck.conditionExpression");
    }
    entry.condition_expression = condition.value_or("");
    KS_ASSIGN_OR_RETURN(entry.expression, ExpressionInputsOf(*action, true));
    KS_ASSIGN_OR_RETURN(
        entry.return_old_on_condition_failure,
        ReturnOldOnConditionFailure(*action, path + ".returnValuesOnConditionCheckFailure"));
    entries.push_back(std::move(entry));
  }
  KS_ASSIGN_OR_RETURN(CapacityRequest capacity, CommonItemMembers(request));
  std::vector<std::string> tables;
  std::vector<std::pair<std::string, Item>> collections;  // for ItemCollectionMetrics
  for (const store::TransactWriteEntry& entry : entries) {
    if (capacity.wanted()) tables.push_back(entry.table);
    if (capacity.item_collection_metrics &&
        entry.kind != store::TransactWriteEntry::Kind::kConditionCheck) {
      collections.emplace_back(entry.table, entry.item);
    }
  }
  store::ItemStore* store = &store_;
  store_.TransactWriteAsync(
      std::move(entries), token.value_or(""),
      [done, capacity, store, tables = std::move(tables), collections = std::move(collections)](
          Status status, std::vector<store::CancellationReason> reasons,
          std::vector<store::WrittenSize> written) mutable {
        done([status = std::move(status), reasons = std::move(reasons),
              written = std::move(written), capacity, store, tables = std::move(tables),
              collections = std::move(collections)]() -> ApiResponse {
          if (!status.ok()) return ErrorResponse(status, reasons);
          if (!capacity.wanted() && collections.empty()) return ApiResponse{200, "{}"};
          JsonOut out;
          out.w().StartObject();
          if (capacity.wanted()) {
            ConsumedCapacity consumed;
            for (size_t i = 0; i < tables.size(); ++i) {
              if (written.empty()) {
                // A retry its ClientRequestToken made a no-op: DynamoDB
                // charges it as reading the items.
                consumed.AddRead(tables[i], ReadUnits(0, true));
              } else {
                consumed.AddItemWrite(tables[i], written[i].item_bytes, written[i].index_writes, 2);
              }
            }
            consumed.WriteList(capacity.detail, out.w());
          }
          Status metrics = WriteBatchItemCollectionMetrics(*store, collections, out.w());
          if (!metrics.ok()) return ErrorResponse(metrics);
          out.w().EndObject();
          return ApiResponse{200, out.Take()};
        });
      });
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Streams

Result<StreamInfo> DynamoDbApi::Impl::StreamOfArn(const std::string& arn) {
  Status not_found = NotFound("Requested resource not found: Stream: " + arn + " not found");
  std::string prefix = TableArn("");
  constexpr std::string_view kStreamPart = "/stream/";
  if (arn.compare(0, prefix.size(), prefix) != 0) return not_found;
  size_t stream_at = arn.find(kStreamPart, prefix.size());
  if (stream_at == std::string::npos) return not_found;
  std::string table = arn.substr(prefix.size(), stream_at - prefix.size());
  std::string label = arn.substr(stream_at + kStreamPart.size());
  if (!CheckTableName(table, "streamArn").ok()) return not_found;
  auto info = store_.GetStreamInfo(table);
  if (!info.ok()) {
    if (info.status().code() == StatusCode::kNotFound) return not_found;
    return info.status();
  }
  if (info->stream_label_ms != 0 && StreamLabel(info->stream_label_ms) == label) return info;
  for (const store::ReplacedStream& replaced : info->replaced_streams) {
    if (StreamLabel(replaced.label_ms) == label) return AsReplacedStream(*info, replaced);
  }
  return not_found;
}

Result<StreamInfo> DynamoDbApi::Impl::StreamOfLabel(const std::string& table, int64_t label_ms) {
  auto info = store_.GetStreamInfo(table);
  if (!info.ok() && info.status().code() != StatusCode::kNotFound) return info.status();
  if (info.ok()) {
    if (info->stream_label_ms != 0 && info->stream_label_ms == label_ms) return info;
    for (const store::ReplacedStream& replaced : info->replaced_streams) {
      if (replaced.label_ms == label_ms) return AsReplacedStream(*info, replaced);
    }
  }
  return NotFound("Requested resource not found: Stream: " + StreamArn(table, label_ms) +
                  " not found");
}

namespace {

Status CheckStreamArn(const std::string& arn, std::string_view path) {
  if (arn.size() < 37) {
    return ConstraintError(arn, path, "Member must have length greater than or equal to 37");
  }
  if (arn.size() > 1024) {
    return ConstraintError(arn, path, "Member must have length less than or equal to 1024");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> DynamoDbApi::Impl::ListStreams(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::optional<std::string> table, OptString(request, "TableName"));
  if (table) KS_RETURN_IF_ERROR(CheckTableName(*table, "tableName"));
  KS_ASSIGN_OR_RETURN(std::optional<int64_t> limit, OptIntInRange(request, "Limit", 1, 100));
  KS_ASSIGN_OR_RETURN(std::optional<std::string> start,
                      OptString(request, "ExclusiveStartStreamArn"));
  if (start) KS_RETURN_IF_ERROR(CheckStreamArn(*start, "exclusiveStartStreamArn"));
  KS_ASSIGN_OR_RETURN(std::vector<StreamInfo> current, store_.ListStreams());
  // Each table's current stream, then those it replaced, newest first.
  std::vector<StreamInfo> streams;
  for (const StreamInfo& info : current) {
    if (table && info.table != *table) continue;
    streams.push_back(info);
    for (const store::ReplacedStream& replaced : info.replaced_streams) {
      streams.push_back(AsReplacedStream(info, replaced));
    }
  }
  std::vector<std::pair<std::string, const StreamInfo*>> listed;  // ARN, stream
  for (const StreamInfo& info : streams) {
    listed.emplace_back(StreamArn(info.table, info.stream_label_ms), &info);
  }
  size_t first = 0;
  if (start) {
    for (size_t i = 0; i < listed.size(); ++i) {
      if (listed[i].first == *start) first = i + 1;
    }
  }
  size_t max = static_cast<size_t>(limit.value_or(100));
  JsonOut out;
  out.w().StartObject();
  WriteKey("Streams", out.w());
  out.w().StartArray();
  size_t i = first;
  for (; i < listed.size() && i - first < max; ++i) {
    out.w().StartObject();
    WriteKey("StreamArn", out.w());
    WriteString(listed[i].first, out.w());
    WriteKey("TableName", out.w());
    WriteString(listed[i].second->table, out.w());
    WriteKey("StreamLabel", out.w());
    WriteString(StreamLabel(listed[i].second->stream_label_ms), out.w());
    out.w().EndObject();
  }
  out.w().EndArray();
  if (i < listed.size() && i > first) {
    WriteKey("LastEvaluatedStreamArn", out.w());
    WriteString(listed[i - 1].first, out.w());
  }
  out.w().EndObject();
  return out.Take();
}

Result<std::string> DynamoDbApi::Impl::DescribeStream(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::string arn, ReqString(request, "StreamArn", "streamArn"));
  KS_RETURN_IF_ERROR(CheckStreamArn(arn, "streamArn"));
  KS_ASSIGN_OR_RETURN(std::optional<int64_t> limit, OptIntInRange(request, "Limit", 1, 100));
  (void)limit;  // one shard fits any limit
  KS_ASSIGN_OR_RETURN(std::optional<std::string> start_shard,
                      OptString(request, "ExclusiveStartShardId"));
  KS_ASSIGN_OR_RETURN(StreamInfo info, StreamOfArn(arn));
  std::optional<TableDescription> table;
  if (info.table_exists) {
    auto d = store_.DescribeTable(info.table);
    if (d.ok() && d->table_id == info.table_id) table = *std::move(d);
  }
  bool enabled = info.enabled && info.table_exists;
  std::string shard_id = ShardId(info);

  JsonOut out;
  JsonWriter& w = out.w();
  w.StartObject();
  WriteKey("StreamDescription", w);
  w.StartObject();
  WriteKey("StreamArn", w);
  WriteString(arn, w);
  WriteKey("StreamLabel", w);
  WriteString(StreamLabel(info.stream_label_ms), w);
  WriteKey("StreamStatus", w);
  WriteString(enabled ? "ENABLED" : "DISABLED", w);
  WriteKey("StreamViewType", w);
  WriteString(store::StreamViewTypeName(info.view_type), w);
  WriteKey("CreationRequestDateTime", w);
  w.Double(static_cast<double>(info.stream_label_ms) / 1000.0);
  WriteKey("TableName", w);
  WriteString(info.table, w);
  if (table) {
    WriteKey("KeySchema", w);
    WriteKeySchema(table->schema, w);
  }
  WriteKey("Shards", w);
  w.StartArray();
  if (!start_shard || *start_shard != shard_id) {
    // The stream's own records start after its label's start; older ones
    // belong to a stream it replaced.
    uint64_t starting =
        std::max(info.oldest_sequence != 0 ? info.oldest_sequence : info.trimmed_through + 1,
                 info.label_start_sequence + 1);
    w.StartObject();
    WriteKey("ShardId", w);
    WriteString(shard_id, w);
    WriteKey("SequenceNumberRange", w);
    w.StartObject();
    WriteKey("StartingSequenceNumber", w);
    WriteString(SequenceText(starting), w);
    if (!enabled) {
      WriteKey("EndingSequenceNumber", w);
      WriteString(SequenceText(std::max(starting, info.latest_sequence)), w);
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return out.Take();
}

namespace {

Result<uint64_t> SequenceMember(const Value& request, std::string_view path) {
  KS_ASSIGN_OR_RETURN(std::optional<std::string> text, OptString(request, "SequenceNumber"));
  if (!text) return MissingMember(path);
  if (text->size() < 21) {
    return ConstraintError(*text, path, "Member must have length greater than or equal to 21");
  }
  if (text->size() > 40) {
    return ConstraintError(*text, path, "Member must have length less than or equal to 40");
  }
  // Leading zeros beyond what uint64 needs are padding.
  std::string_view digits = *text;
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  uint64_t sequence = 0;
  if (!ParseUint64(digits, &sequence)) {
    return InvalidArgument("Invalid SequenceNumber: " + *text);
  }
  return sequence;
}

}  // namespace

Result<std::string> DynamoDbApi::Impl::GetShardIterator(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::string arn, ReqString(request, "StreamArn", "streamArn"));
  KS_RETURN_IF_ERROR(CheckStreamArn(arn, "streamArn"));
  KS_ASSIGN_OR_RETURN(std::string shard, ReqString(request, "ShardId", "shardId"));
  if (shard.size() < 28) {
    return ConstraintError(shard, "shardId", "Member must have length greater than or equal to 28");
  }
  if (shard.size() > 65) {
    return ConstraintError(shard, "shardId", "Member must have length less than or equal to 65");
  }
  KS_ASSIGN_OR_RETURN(std::string type,
                      ReqString(request, "ShardIteratorType", "shardIteratorType"));
  KS_RETURN_IF_ERROR(
      CheckEnum(type, "shardIteratorType",
                {"TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"}));
  bool by_sequence = type == "AT_SEQUENCE_NUMBER" || type == "AFTER_SEQUENCE_NUMBER";
  std::optional<uint64_t> sequence;
  if (by_sequence) {
    KS_ASSIGN_OR_RETURN(sequence, SequenceMember(request, "sequenceNumber"));
  } else if (Member(request, "SequenceNumber") != nullptr) {
    return InvalidArgument("Sequence number must not be specified for iterator type " + type);
  }
  KS_ASSIGN_OR_RETURN(StreamInfo info, StreamOfArn(arn));
  if (shard != ShardId(info)) {
    return NotFound("Requested resource not found: Shard does not exist");
  }
  ShardIterator it;
  it.table = info.table;
  it.label_ms = info.stream_label_ms;
  it.issued_ms = clock_->NowMs();
  if (type == "TRIM_HORIZON") {
    it.after = info.trimmed_through;
    it.horizon = true;
  } else if (type == "LATEST") {
    it.after = info.latest_sequence;
  } else {
    it.after = type == "AT_SEQUENCE_NUMBER" ? (*sequence == 0 ? 0 : *sequence - 1) : *sequence;
    if (it.after < info.trimmed_through) {
      return Trimmed("The sequence number " + SequenceText(*sequence) +
                     " is beyond the trim horizon of the stream; the oldest available sequence "
                     "number is " +
                     SequenceText(info.trimmed_through + 1));
    }
  }
  JsonOut out;
  out.w().StartObject();
  WriteKey("ShardIterator", out.w());
  WriteString(EncodeIterator(it), out.w());
  out.w().EndObject();
  return out.Take();
}

void DynamoDbApi::Impl::WriteStreamRecord(const store::StreamRecord& record, JsonWriter& w) {
  w.StartObject();
  WriteKey("eventID", w);
  char id[40];
  std::snprintf(id, sizeof id, "%032" PRIx64, record.sequence);
  WriteString(id, w);
  WriteKey("eventName", w);
  WriteString(EventName(record.type), w);
  WriteKey("eventVersion", w);
  WriteString("1.1", w);
  WriteKey("eventSource", w);
  WriteString("aws:dynamodb", w);
  WriteKey("awsRegion", w);
  WriteString(options_.region, w);
  WriteKey("dynamodb", w);
  w.StartObject();
  WriteKey("ApproximateCreationDateTime", w);
  w.Int64(record.timestamp_ms / 1000);
  WriteKey("Keys", w);
  WriteItem(record.keys, w);
  if (record.new_image) {
    WriteKey("NewImage", w);
    WriteItem(*record.new_image, w);
  }
  if (record.old_image) {
    WriteKey("OldImage", w);
    WriteItem(*record.old_image, w);
  }
  WriteKey("SequenceNumber", w);
  WriteString(SequenceText(record.sequence), w);
  WriteKey("SizeBytes", w);
  w.Uint64(std::max<uint64_t>(1, record.size_bytes));
  WriteKey("StreamViewType", w);
  WriteString(store::StreamViewTypeName(record.view_type), w);
  w.EndObject();
  if (record.expired_by_ttl) {
    // As DynamoDB Streams' API marks a Time to Live deletion (its model's
    // Identity shape; Lambda events spell the members in camel case).
    WriteKey("userIdentity", w);
    w.StartObject();
    WriteKey("PrincipalId", w);
    WriteString("dynamodb.amazonaws.com", w);
    WriteKey("Type", w);
    WriteString("Service", w);
    w.EndObject();
  }
  w.EndObject();
}

Result<std::string> DynamoDbApi::Impl::GetRecords(const Value& request) {
  KS_ASSIGN_OR_RETURN(std::string text, ReqString(request, "ShardIterator", "shardIterator"));
  if (text.empty() || text.size() > 2048) {
    return ConstraintError(text, "shardIterator",
                           text.empty() ? "Member must have length greater than or equal to 1"
                                        : "Member must have length less than or equal to 2048");
  }
  KS_ASSIGN_OR_RETURN(std::optional<int64_t> limit,
                      OptIntInRange(request, "Limit", 1, kMaxStreamRecordsPerCall));
  KS_ASSIGN_OR_RETURN(ShardIterator it, DecodeIterator(text));
  const int64_t now_ms = clock_->NowMs();
  if (it.issued_ms != 0 && now_ms - it.issued_ms > kShardIteratorLifetimeMs) {
    return Expired(
        "Iterator expired: a shard iterator is valid for 15 minutes after it was "
        "returned; this one was returned " +
        std::to_string((now_ms - it.issued_ms) / 1000) +
        " s ago. Get a new one with GetShardIterator.");
  }
  KS_ASSIGN_OR_RETURN(StreamInfo stream, StreamOfLabel(it.table, it.label_ms));
  const StreamInfo* info = &stream;
  uint64_t after = it.horizon ? std::max(it.after, info->trimmed_through) : it.after;
  KS_ASSIGN_OR_RETURN(
      store::StreamBatch batch,
      store_.ReadStream(it.table, after,
                        static_cast<size_t>(limit.value_or(kMaxStreamRecordsPerCall))));
  JsonOut out;
  JsonWriter& w = out.w();
  w.StartObject();
  WriteKey("Records", w);
  w.StartArray();
  for (const store::StreamRecord& record : batch.records) {
    // Records past the stream's end belong to the stream that replaced it
    // (or arrived after `info` was read: the next call gets them).
    if (record.sequence > info->latest_sequence) break;
    after = record.sequence;
    // TRUNCATE is Keystone's own event, not DynamoDB Streams'; records older
    // than the label belong to an earlier stream of this table.
    if (record.type == StreamEventType::kTruncate) continue;
    if (record.sequence <= info->label_start_sequence) continue;
    WriteStreamRecord(record, w);
  }
  w.EndArray();
  // A disabled stream (or a deleted table's) is a closed shard: once read to
  // its end there is no next iterator.
  bool closed = !info->enabled || !info->table_exists;
  if (!(closed && after >= info->latest_sequence)) {
    ShardIterator next = it;
    next.after = after;
    next.horizon = false;
    next.issued_ms = now_ms;
    WriteKey("NextShardIterator", w);
    WriteString(EncodeIterator(next), w);
  }
  w.EndObject();
  return out.Take();
}

// ---------------------------------------------------------------------------

DynamoDbApi::DynamoDbApi(store::ItemStore& store, DynamoDbApiOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {}

DynamoDbApi::~DynamoDbApi() = default;

ApiResponse DynamoDbApi::Handle(std::string_view target, std::string_view body) {
  // One code path for both forms: wait here for what HandleAsync queued.
  std::promise<ResponseBuilder> queued;
  AsyncDone done = [&queued](ResponseBuilder builder) { queued.set_value(std::move(builder)); };
  std::optional<ApiResponse> inline_response = impl_->HandleAsync(target, body, done);
  if (inline_response) return std::move(*inline_response);
  return queued.get_future().get()();
}

std::optional<ApiResponse> DynamoDbApi::HandleAsync(std::string_view target, std::string_view body,
                                                    AsyncDone done) {
  return impl_->HandleAsync(target, body, done);
}

bool DynamoDbApi::WaitsForCommit(std::string_view target) {
  if (target.substr(0, kDynamoDbPrefix.size()) != kDynamoDbPrefix) return false;
  std::string_view name = target.substr(kDynamoDbPrefix.size());
  return name == "CreateTable" || name == "UpdateTable" || name == "DeleteTable" ||
         name == "UpdateTimeToLive" || name == "TagResource" || name == "UntagResource";
}

}  // namespace keystone::daemon
