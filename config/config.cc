#include "config/config.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "base/enum_names.h"
#include "lmdb_store/number.h"

namespace keystone::config {
namespace {

using cdc::AggregateOptions;
using cdc::FilterOptions;
using cdc::SourceOptions;
using cdc::TransformOptions;
using cdc::TransformType;
using daemon::DaemonOptions;
using store::AttributeType;
using store::AttributeValue;
using store::StreamViewType;
using store::TableSchema;

constexpr uint64_t kKiB = 1ull << 10;
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kTiB = 1ull << 40;

// StoreOptions::max_map_size == 0 stands for this.
constexpr uint64_t kDefaultMaxMapSize = kTiB;
constexpr size_t kMaxTopicLength = 249;  // Kafka's limit

constexpr EnumName<bool> kSyncNames[] = {{true, "full"}, {false, "nosync"}};
constexpr EnumName<StreamViewType> kViewTypeNames[] = {
    {StreamViewType::kKeysOnly, "KEYS_ONLY"},
    {StreamViewType::kNewImage, "NEW_IMAGE"},
    {StreamViewType::kOldImage, "OLD_IMAGE"},
    {StreamViewType::kNewAndOldImages, "NEW_AND_OLD_IMAGES"},
};
constexpr EnumName<AttributeType> kKeyTypeNames[] = {
    {AttributeType::kS, "S"},
    {AttributeType::kN, "N"},
    {AttributeType::kB, "B"},
};
constexpr EnumName<bool> kIndexKindNames[] = {{true, "global"}, {false, "local"}};
constexpr EnumName<store::ProjectionType> kProjectionNames[] = {
    {store::ProjectionType::kAll, "ALL"},
    {store::ProjectionType::kKeysOnly, "KEYS_ONLY"},
    {store::ProjectionType::kInclude, "INCLUDE"},
};
constexpr EnumName<AttributeType> kValueTypeNames[] = {
    {AttributeType::kS, "S"},       {AttributeType::kN, "N"},       {AttributeType::kB, "B"},
    {AttributeType::kBool, "BOOL"}, {AttributeType::kNull, "NULL"}, {AttributeType::kM, "M"},
    {AttributeType::kL, "L"},       {AttributeType::kSS, "SS"},     {AttributeType::kNS, "NS"},
    {AttributeType::kBS, "BS"},
};

using KeyList = std::vector<std::string_view>;

const KeyList kTopKeys = {
    "data_dir", "sync",  "map_size", "stream_retention", "http",
    "metrics",  "auth",  "logging",  "health",           "shutdown_timeout_ms",
    "tables",   "kafka", "sources"};
const KeyList kMapSizeKeys = {"initial", "max"};
const KeyList kRetentionKeys = {"pin_max_records", "pin_max_bytes"};
const KeyList kHttpKeys = {"listen",
                           "max_body_bytes",
                           "worker_threads",
                           "max_connections",
                           "request_timeout_ms",
                           "request_read_timeout_ms",
                           "keep_alive_max_count",
                           "tls"};
const KeyList kTlsKeys = {"cert_file", "key_file"};
const KeyList kMetricsKeys = {"listen", "enabled"};
const KeyList kAuthKeys = {"access_keys", "region"};
const KeyList kAccessKeyKeys = {"access_key_id", "secret_access_key"};
const KeyList kLoggingKeys = {"level", "format"};
const KeyList kHealthKeys = {"stall_timeout_ms"};
const KeyList kTableKeys = {"name", "partition_key", "sort_key", "stream", "ttl", "indexes"};
const KeyList kIndexKeys = {"name",     "kind",       "partition_key",
                            "sort_key", "projection", "non_key_attributes"};
const KeyList kKeyAttributeKeys = {"name", "type"};
const KeyList kStreamKeys = {"enabled", "view_type", "buffer_size"};
const KeyList kTtlKeys = {"enabled", "attribute"};
const KeyList kKafkaKeys = {"bootstrap_servers", "properties", "embedded_brokers", "client_id",
                            "topic_creation"};
const KeyList kTopicCreationKeys = {"create_topics", "partitions", "replication_factor"};
const KeyList kSourceKeys = {"name",
                             "table",
                             "topic",
                             "format",
                             "view_type",
                             "include_before",
                             "batch_size",
                             "batch_timeout_ms",
                             "max_in_flight_records",
                             "max_in_flight_bytes",
                             "tombstones",
                             "debezium_schema",
                             "snapshot",
                             "snapshot_chunk_size",
                             "on_gap",
                             "delivery",
                             "on_permanent_error",
                             "dead_letter_topic",
                             "oversize",
                             "heartbeat_interval_ms",
                             "filters",
                             "transforms",
                             "skip_noop_updates",
                             "aggregate"};
const KeyList kFilterKeys = {"event_types", "key_prefix", "key_glob",
                             "condition",   "names",      "values"};
const KeyList kAggregateKeys = {"window_seconds", "functions", "attribute", "group_by"};

// The keys a transform of `type` takes.
KeyList TransformKeys(TransformType type) {
  switch (type) {
    case TransformType::kKeep:
    case TransformType::kDrop:
    case TransformType::kHash:
      return {"type", "attributes"};
    case TransformType::kMask:
      return {"type", "attributes", "value"};
    case TransformType::kRename:
      return {"type", "from", "to"};
    case TransformType::kAddField:
    case TransformType::kAddHeader:
      return {"type", "name", "value"};
  }
  return {"type"};
}

std::string Join(const KeyList& keys) {
  std::string out;
  for (std::string_view k : keys) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

std::string ChildPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

std::string IndexPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

// "64MiB" when `bytes` is a whole number of a binary unit, else the integer.
std::string FormatSize(uint64_t bytes) {
  if (bytes == 0) return "0";
  for (auto [unit, name] : {std::pair{kTiB, "TiB"}, std::pair{kGiB, "GiB"}, std::pair{kMiB, "MiB"},
                            std::pair{kKiB, "KiB"}}) {
    if (bytes % unit == 0) return std::to_string(bytes / unit) + name;
  }
  return std::to_string(bytes);
}

bool AllOf(std::string_view s, bool (*pred)(char)) {
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool IsNameChar(char c) { return IsAlnum(c) || c == '.' || c == '_' || c == '-'; }
bool IsRegionChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }
bool IsHostChar(char c) { return IsAlnum(c) || c == '.' || c == '-' || c == '_'; }
bool IsIpv6Char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
         c == '.';
}

bool IsVariableName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return AllOf(name, [](char c) { return IsAlnum(c) || c == '_'; });
}

// "host:port" with a port in [1, 65535]; host a name, IPv4 or [IPv6].
bool IsListenAddress(std::string_view s) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = s.substr(0, colon);
  std::string_view port = s.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    std::string_view inner = host.substr(1, host.size() - 2);
    if (inner.empty() || !AllOf(inner, IsIpv6Char)) return false;
  } else if (host.empty() || !AllOf(host, IsHostChar)) {
    return false;
  }
  if (port.empty() || port.size() > 5) return false;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc() && end == port.data() + port.size() && value >= 1 && value <= 65535;
}

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kBase64Alphabet[(n >> shift) & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    uint32_t n = uint8_t(in[i]) << 16;
    if (rest == 2) n |= uint8_t(in[i + 1]) << 8;
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Standard alphabet with padding; false on anything else.
bool Base64Decode(std::string_view in, std::string* out) {
  out->clear();
  if (in.size() % 4 != 0) return false;
  for (size_t i = 0; i < in.size(); i += 4) {
    uint32_t n = 0;
    int pad = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = in[i + j];
      if (c == '=') {
        // Padding only in the last two places of the last quantum.
        if (i + 4 != in.size() || j < 2) return false;
        ++pad;
        n <<= 6;
        continue;
      }
      if (pad > 0) return false;
      size_t pos = kBase64Alphabet.find(c);
      if (pos == std::string_view::npos) return false;
      n = (n << 6) | static_cast<uint32_t>(pos);
    }
    out->push_back(static_cast<char>((n >> 16) & 0xff));
    if (pad < 2) out->push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out->push_back(static_cast<char>(n & 0xff));
  }
  return true;
}

// A YAML node with where it sits: the mark errors point at (the key's when
// the value is empty, as yaml-cpp marks empty values at the next token) and
// its key path.
struct Value {
  YAML::Node node;
  YAML::Mark mark;
  std::string path;
};

struct Entry {
  std::string key;
  YAML::Mark key_mark;
  Value value;
};

// The entries of one mapping, already checked against the keys it allows.
class Fields {
 public:
  Fields(Value self, std::vector<Entry> entries)
      : self_(std::move(self)), entries_(std::move(entries)) {}
  const Value& self() const { return self_; }
  // The value of `key`, or null when the mapping lacks it.
  const Value* Find(std::string_view key) const {
    for (const Entry& e : entries_) {
      if (e.key == key) return &e.value;
    }
    return nullptr;
  }

 private:
  Value self_;
  std::vector<Entry> entries_;
};

class ConfigParser {
 public:
  ConfigParser(std::string_view file_name, const EnvLookup& env,
               const PropertyCheck& check_kafka_property)
      : file_(file_name), env_(env), check_kafka_property_(check_kafka_property) {}

  Result<DaemonOptions> Parse(std::string_view text) {
    try {
      return ParseDocument(text);
    } catch (const YAML::DeepRecursion& e) {
      // yaml-cpp bounds its recursion (and so the stack it uses) but says
      // only "bad file".
      return Error(e.mark, "",
                   "nests deeper than " + std::to_string(e.depth() - 1) +
                       " levels (the YAML parser's limit)");
    } catch (const YAML::Exception& e) {
      return Error(e.mark, "", e.msg);
    }
  }

 private:
  // --- errors -------------------------------------------------------------

  Status Error(const YAML::Mark& mark, std::string_view path, std::string_view message) const {
    std::string out = file_;
    if (!mark.is_null()) {
      out += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    }
    out += ": ";
    if (!path.empty()) {
      out += path;
      out += ": ";
    }
    out += message;
    return InvalidArgument(std::move(out));
  }
  Status Error(const Value& v, std::string_view message) const {
    return Error(v.mark, v.path, message);
  }

  // --- structure ----------------------------------------------------------

  // The entries of mapping `v` (empty when `v` is empty), with duplicate keys
  // rejected. Entry values are not checked.
  Result<std::vector<Entry>> Entries(const Value& v) const {
    std::vector<Entry> entries;
    if (v.node.IsNull()) return entries;
    if (!v.node.IsMap()) return Error(v, "must be a mapping");
    for (auto it = v.node.begin(); it != v.node.end(); ++it) {
      // Copies: the iterator's pair is a temporary (nodes are handles).
      YAML::Node key = it->first;
      if (!key.IsScalar()) return Error(key.Mark(), v.path, "keys must be strings");
      for (const Entry& e : entries) {
        if (e.key == key.Scalar()) {
          return Error(key.Mark(), v.path,
                       "duplicate key '" + key.Scalar() + "' (first at line " +
                           std::to_string(e.key_mark.line + 1) + ")");
        }
      }
      YAML::Node value = it->second;
      entries.push_back(Entry{key.Scalar(), key.Mark(),
                              Value{value, value.IsNull() ? key.Mark() : value.Mark(),
                                    ChildPath(v.path, key.Scalar())}});
    }
    return entries;
  }

  // Mapping `v` with keys only from `allowed`.
  Result<Fields> Mapping(const Value& v, const KeyList& allowed) const {
    KS_ASSIGN_OR_RETURN(std::vector<Entry> entries, Entries(v));
    for (const Entry& e : entries) {
      bool known = false;
      for (std::string_view k : allowed) known = known || k == e.key;
      if (!known) {
        return Error(e.key_mark, v.path,
                     "unknown key '" + e.key + "' (expected one of: " + Join(allowed) + ")");
      }
    }
    return Fields(v, std::move(entries));
  }

  Result<Value> Require(const Fields& f, std::string_view key) const {
    if (const Value* v = f.Find(key)) return *v;
    return Error(f.self(), "missing required key '" + std::string(key) + "'");
  }

  // The items of list `v` (empty when `v` is empty).
  Result<std::vector<Value>> Sequence(const Value& v) const {
    std::vector<Value> items;
    if (v.node.IsNull()) return items;
    if (!v.node.IsSequence()) return Error(v, "must be a list");
    size_t i = 0;
    for (auto it = v.node.begin(); it != v.node.end(); ++it, ++i) {
      YAML::Node item = *it;
      items.push_back(Value{item, item.IsNull() ? v.mark : item.Mark(), IndexPath(v.path, i)});
    }
    return items;
  }

  // --- scalars ------------------------------------------------------------

  // Replaces ${VAR}, ${VAR:-default} and $$ in `in`.
  Status Substitute(const Value& v, std::string_view in, std::string* out) const {
    static constexpr std::string_view kForms = "(expected ${VAR} or ${VAR:-default})";
    out->clear();
    size_t i = 0;
    while (i < in.size()) {
      if (in[i] != '$') {
        out->push_back(in[i++]);
        continue;
      }
      if (i + 1 < in.size() && in[i + 1] == '$') {
        out->push_back('$');
        i += 2;
        continue;
      }
      if (i + 1 >= in.size() || in[i + 1] != '{') {
        return Error(v, "a '$' must start ${VAR} or ${VAR:-default}; write $$ for a literal '$'");
      }
      size_t close = in.find('}', i + 2);
      if (close == std::string_view::npos) {
        return Error(v, "unterminated '${' " + std::string(kForms));
      }
      std::string_view body = in.substr(i + 2, close - i - 2);
      std::string_view name = body;
      std::optional<std::string_view> fallback;
      if (size_t sep = body.find(":-"); sep != std::string_view::npos) {
        name = body.substr(0, sep);
        fallback = body.substr(sep + 2);
      }
      if (!IsVariableName(name)) {
        return Error(v, "invalid variable name '" + std::string(name) + "' " + std::string(kForms) +
                            ", VAR of [A-Za-z0-9_] not starting with a digit");
      }
      std::optional<std::string> value;
      if (env_) value = env_(std::string(name));
      if (fallback && (!value || value->empty())) value = std::string(*fallback);
      if (!value) {
        return Error(v, "environment variable '" + std::string(name) + "' is not set (write ${" +
                            std::string(name) + ":-default} for a default)");
      }
      *out += *value;
      i = close + 1;
    }
    return Status::Ok();
  }

  // The substituted text of scalar `v`; `expected` is the error otherwise.
  Status Text(const Value& v, std::string_view expected, std::string* out) const {
    if (!v.node.IsScalar()) return Error(v, expected);
    return Substitute(v, v.node.Scalar(), out);
  }

  Status String(const Value& v, std::string* out) const { return Text(v, "must be a string", out); }

  Status NonEmptyString(const Value& v, std::string* out) const {
    static constexpr std::string_view kExpected = "must be a non-empty string";
    KS_RETURN_IF_ERROR(Text(v, kExpected, out));
    if (out->empty()) return Error(v, kExpected);
    return Status::Ok();
  }

  Status Bool(const Value& v, bool* out) const {
    static constexpr std::string_view kExpected = "must be true or false";
    std::string text;
    KS_RETURN_IF_ERROR(Text(v, kExpected, &text));
    if (text == "true" || text == "True" || text == "TRUE") {
      *out = true;
    } else if (text == "false" || text == "False" || text == "FALSE") {
      *out = false;
    } else {
      return Error(v, kExpected);
    }
    return Status::Ok();
  }

  template <typename T>
  Status Int(const Value& v, int64_t min, int64_t max, T* out) const {
    std::string expected =
        "must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
    std::string text;
    KS_RETURN_IF_ERROR(Text(v, expected, &text));
    int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min ||
        value > max) {
      return Error(v, expected);
    }
    *out = static_cast<T>(value);
    return Status::Ok();
  }

  // An integer in [min, max], or -1 for "the broker's default".
  Status IntOrDefault(const Value& v, int64_t max, int* out) const {
    std::string expected =
        "must be -1 (the broker's default) or an integer in [1, " + std::to_string(max) + "]";
    std::string text;
    KS_RETURN_IF_ERROR(Text(v, expected, &text));
    int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
        (value != -1 && (value < 1 || value > max))) {
      return Error(v, expected);
    }
    *out = static_cast<int>(value);
    return Status::Ok();
  }

  Status Size(const Value& v, uint64_t min, uint64_t max, uint64_t* out) const {
    std::string expected = "must be a size in [" + FormatSize(min) + ", " + FormatSize(max) +
                           "] (bytes, or a number with a unit B, KiB, MiB, GiB, TiB, KB, MB, GB, "
                           "TB)";
    std::string text;
    KS_RETURN_IF_ERROR(Text(v, expected, &text));
    uint64_t number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (text.empty() || ec != std::errc()) return Error(v, expected);
    std::string_view unit(end, text.data() + text.size() - end);
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
        {"", 1},
        {"B", 1},
        {"KiB", kKiB},
        {"MiB", kMiB},
        {"GiB", kGiB},
        {"TiB", kTiB},
        {"KB", 1000},
        {"MB", 1000 * 1000},
        {"GB", 1000 * 1000 * 1000},
        {"TB", 1000ull * 1000 * 1000 * 1000}};
    uint64_t multiplier = 0;
    for (const auto& [name, factor] : kUnits) {
      if (unit == name) multiplier = factor;
    }
    if (multiplier == 0 || number > max / multiplier) return Error(v, expected);
    uint64_t bytes = number * multiplier;
    if (bytes < min) return Error(v, expected);
    *out = bytes;
    return Status::Ok();
  }

  template <typename E, size_t N>
  Status Enum(const Value& v, const EnumName<E> (&table)[N], E* out) const {
    std::string expected = "must be one of: " + JoinNames(table);
    std::string text;
    KS_RETURN_IF_ERROR(Text(v, expected, &text));
    if (!ParseName(table, text, out)) return Error(v, expected);
    return Status::Ok();
  }

  Status Listen(const Value& v, std::string* out) const {
    static constexpr std::string_view kExpected = "must be host:port with a port in [1, 65535]";
    KS_RETURN_IF_ERROR(Text(v, kExpected, out));
    if (!IsListenAddress(*out)) return Error(v, kExpected);
    return Status::Ok();
  }

  // 1 to `max_length` characters for which `pred` holds.
  Status Name(const Value& v, size_t min_length, size_t max_length, bool (*pred)(char),
              std::string_view charset, std::string* out) const {
    std::string expected = "must be " + std::to_string(min_length) + " to " +
                           std::to_string(max_length) + " characters of " + std::string(charset);
    KS_RETURN_IF_ERROR(Text(v, expected, out));
    if (out->size() < min_length || out->size() > max_length || !AllOf(*out, pred)) {
      return Error(v, expected);
    }
    return Status::Ok();
  }

  // A non-empty list of distinct non-empty strings.
  Status NameList(const Value& v, std::vector<std::string>* out) const {
    KS_ASSIGN_OR_RETURN(std::vector<Value> items, Sequence(v));
    if (items.empty()) return Error(v, "must be a non-empty list of attribute names");
    out->clear();
    for (const Value& item : items) {
      std::string name;
      KS_RETURN_IF_ERROR(NonEmptyString(item, &name));
      for (const std::string& seen : *out) {
        if (seen == name) return Error(item, "'" + name + "' is listed twice");
      }
      out->push_back(std::move(name));
    }
    return Status::Ok();
  }

  // A non-empty list of distinct names from `table`.
  template <typename E, size_t N>
  Status EnumList(const Value& v, const EnumName<E> (&table)[N], std::vector<E>* out) const {
    KS_ASSIGN_OR_RETURN(std::vector<Value> items, Sequence(v));
    if (items.empty()) return Error(v, "must list at least one of: " + JoinNames(table));
    out->clear();
    for (const Value& item : items) {
      E value{};
      KS_RETURN_IF_ERROR(Enum(item, table, &value));
      for (E seen : *out) {
        if (seen == value) {
          return Error(item, "'" + std::string(NameOf(table, value)) + "' is listed twice");
        }
      }
      out->push_back(value);
    }
    return Status::Ok();
  }

  // A Kafka topic template: legal topic characters and {table}/{source}.
  Status TopicTemplate(const Value& v, std::string* out) const {
    static constexpr std::string_view kExpected =
        "must be a non-empty topic name of a-z, A-Z, 0-9, '.', '_', '-' and the placeholders "
        "{table} and {source}";
    KS_RETURN_IF_ERROR(Text(v, kExpected, out));
    if (out->empty()) return Error(v, kExpected);
    std::string_view s = *out;
    for (size_t i = 0; i < s.size();) {
      if (s[i] == '{') {
        size_t close = s.find('}', i);
        if (close == std::string_view::npos) return Error(v, kExpected);
        std::string_view placeholder = s.substr(i, close - i + 1);
        if (placeholder != "{table}" && placeholder != "{source}") {
          return Error(v, "unknown placeholder '" + std::string(placeholder) +
                              "' (expected {table} or {source})");
        }
        i = close + 1;
      } else if (IsNameChar(s[i])) {
        ++i;
      } else {
        return Error(v, kExpected);
      }
    }
    return Status::Ok();
  }

  // {S: text}, {N: "1"}, {B: base64}, {BOOL: b}, {NULL: true}, {SS: [..]},
  // {NS: [..]}, {BS: [..]}, {L: [values]}, {M: {name: value}}.
  //
  // YAML aliases share one node between many places, so a few lines of
  // anchors and aliases can describe a value of a billion elements; the
  // typed values of a document are therefore bounded in number (all
  // together) and in depth (DynamoDB's 32 levels), and such a document is an
  // error instead of hours of work and all memory.
  Status TypedValue(const Value& v, AttributeValue* out, int depth = 1) const {
    if (typed_values_left_ == 0) {
      return Error(v, "makes the document's typed values more than " +
                          std::to_string(kMaxTypedValues) +
                          " in all (YAML aliases can repeat a value that many times)");
    }
    --typed_values_left_;
    if (depth > kMaxTypedValueDepth) {
      return Error(v, "nests deeper than " + std::to_string(kMaxTypedValueDepth) +
                          " levels (DynamoDB's limit)");
    }
    std::string expected = "must be a typed value with one key of: " + JoinNames(kValueTypeNames) +
                           " (as in {S: text} or {N: \"1\"})";
    if (!v.node.IsMap() || v.node.size() != 1) return Error(v, expected);
    YAML::Node key = v.node.begin()->first;
    YAML::Node value = v.node.begin()->second;
    // YAML reads a plain NULL key as null, not as the string "NULL".
    std::string type_name = key.IsNull() ? "NULL" : key.IsScalar() ? key.Scalar() : "";
    AttributeType type{};
    if (!ParseName(kValueTypeNames, type_name, &type)) return Error(key.Mark(), v.path, expected);
    const Value inner{value, value.IsNull() ? key.Mark() : value.Mark(),
                      ChildPath(v.path, type_name)};
    switch (type) {
      case AttributeType::kS: {
        std::string s;
        KS_RETURN_IF_ERROR(String(inner, &s));
        *out = AttributeValue::S(std::move(s));
        break;
      }
      case AttributeType::kN: {
        store::Number n;
        KS_RETURN_IF_ERROR(NumberValue(inner, &n));
        *out = AttributeValue::N(std::move(n));
        break;
      }
      case AttributeType::kB: {
        std::string b;
        KS_RETURN_IF_ERROR(Binary(inner, &b));
        *out = AttributeValue::B(std::move(b));
        break;
      }
      case AttributeType::kBool: {
        bool b = false;
        KS_RETURN_IF_ERROR(Bool(inner, &b));
        *out = AttributeValue::Bool(b);
        break;
      }
      case AttributeType::kNull: {
        bool b = false;
        KS_RETURN_IF_ERROR(Bool(inner, &b));
        if (!b) return Error(inner, "must be true");
        *out = AttributeValue::Null();
        break;
      }
      case AttributeType::kSS:
      case AttributeType::kNS:
      case AttributeType::kBS: {
        KS_ASSIGN_OR_RETURN(std::vector<Value> items, Sequence(inner));
        if (items.empty()) return Error(inner, "must be a non-empty list (sets are never empty)");
        std::vector<std::string> strings;
        std::vector<store::Number> numbers;
        for (const Value& item : items) {
          std::string s;
          if (type == AttributeType::kNS) {
            store::Number n;
            KS_RETURN_IF_ERROR(NumberValue(item, &n));
            numbers.push_back(std::move(n));
          } else if (type == AttributeType::kBS) {
            KS_RETURN_IF_ERROR(Binary(item, &s));
            if (s.empty()) return Error(item, "must not be empty (set members never are)");
            strings.push_back(std::move(s));
          } else {
            KS_RETURN_IF_ERROR(NonEmptyString(item, &s));
            strings.push_back(std::move(s));
          }
        }
        if (type == AttributeType::kSS) *out = AttributeValue::SS(std::move(strings));
        if (type == AttributeType::kBS) *out = AttributeValue::BS(std::move(strings));
        if (type == AttributeType::kNS) *out = AttributeValue::NS(std::move(numbers));
        break;
      }
      case AttributeType::kL: {
        KS_ASSIGN_OR_RETURN(std::vector<Value> items, Sequence(inner));
        store::AttributeList list;
        for (const Value& item : items) {
          AttributeValue element;
          KS_RETURN_IF_ERROR(TypedValue(item, &element, depth + 1));
          list.push_back(std::move(element));
        }
        *out = AttributeValue::L(std::move(list));
        break;
      }
      case AttributeType::kM: {
        KS_ASSIGN_OR_RETURN(std::vector<Entry> members, Entries(inner));
        store::AttributeMap map;
        for (const Entry& member : members) {
          AttributeValue element;
          KS_RETURN_IF_ERROR(TypedValue(member.value, &element, depth + 1));
          map.emplace(member.key, std::move(element));
        }
        *out = AttributeValue::M(std::move(map));
        break;
      }
    }
    Status valid = store::ValidateValue(*out, "");
    if (!valid.ok()) return Error(v, valid.message());
    return Status::Ok();
  }

  Status NumberValue(const Value& v, store::Number* out) const {
    static constexpr std::string_view kExpected = "must be a number";
    std::string text;
    KS_RETURN_IF_ERROR(Text(v, kExpected, &text));
    Result<store::Number> n = store::Number::Parse(text);
    if (!n.ok()) return Error(v, std::string(kExpected) + " (" + n.status().message() + ")");
    *out = std::move(n).value();
    return Status::Ok();
  }

  Status Binary(const Value& v, std::string* out) const {
    static constexpr std::string_view kExpected = "must be base64 (standard alphabet, padded)";
    std::string text;
    KS_RETURN_IF_ERROR(Text(v, kExpected, &text));
    if (!Base64Decode(text, out)) return Error(v, kExpected);
    return Status::Ok();
  }

  // --- sections -----------------------------------------------------------

  // YAML is printable text: tab, line feed and carriage return are its only
  // control characters. Refusing the others here names where they are, which
  // yaml-cpp's messages ("unknown escape character") do not.
  Status CheckPrintable(std::string_view text) const {
    YAML::Mark mark;
    mark.line = 0;
    mark.column = 0;
    for (char c : text) {
      auto byte = static_cast<unsigned char>(c);
      if ((byte < 0x20 && c != '\t' && c != '\n' && c != '\r') || byte == 0x7f) {
        char hex[8];
        std::snprintf(hex, sizeof(hex), "0x%02X", byte);
        return Error(mark, "",
                     std::string("control character ") + hex +
                         " is not allowed (YAML is printable text: only tab, line feed and "
                         "carriage return)");
      }
      if (c == '\n') {
        ++mark.line;
        mark.column = 0;
      } else {
        ++mark.column;
      }
    }
    return Status::Ok();
  }

  // Records where each document starts; ignores everything else.
  class DocumentStarts final : public YAML::EventHandler {
   public:
    std::vector<YAML::Mark> starts;
    void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  };

  // One document, or an error naming where the text stops being one.
  // YAML::LoadAll is not used: on a ',' outside brackets and braces (",", or
  // "[a],") yaml-cpp 0.7 yields empty documents at that place without end,
  // and LoadAll collects them until memory runs out. Reading documents one at
  // a time, a document that starts where the one before it did is that stuck
  // place. (YAML::Load then reads the text again: a config is small.)
  Status CheckOneDocument(std::string_view text) const {
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    DocumentStarts handler;
    while (handler.starts.size() < 3 && parser.HandleNextDocument(handler)) {
      size_t n = handler.starts.size();
      if (n >= 2 && handler.starts[n - 1].pos == handler.starts[n - 2].pos) {
        const YAML::Mark& at = handler.starts[n - 1];
        std::string found = static_cast<size_t>(at.pos) < text.size()
                                ? "'" + std::string(1, text[at.pos]) + "'"
                                : "the end of the text";
        return Error(at, "", "unexpected " + found + " (not the start of a YAML node)");
      }
    }
    if (handler.starts.size() > 1) {
      return Error(handler.starts[1], "", "only one YAML document is allowed");
    }
    return Status::Ok();
  }

  Result<DaemonOptions> ParseDocument(std::string_view text) {
    KS_RETURN_IF_ERROR(CheckPrintable(text));
    KS_RETURN_IF_ERROR(CheckOneDocument(text));
    YAML::Node doc = YAML::Load(std::string(text));
    DaemonOptions options;
    if (!doc.IsDefined() || doc.IsNull()) return options;
    Value root{doc, doc.Mark(), ""};
    if (!root.node.IsMap()) return Error(root, "the top level must be a mapping");
    KS_ASSIGN_OR_RETURN(Fields f, Mapping(root, kTopKeys));
    if (const Value* v = f.Find("data_dir")) {
      KS_RETURN_IF_ERROR(NonEmptyString(*v, &options.store.path));
    }
    if (const Value* v = f.Find("sync"))
      KS_RETURN_IF_ERROR(Enum(*v, kSyncNames, &options.store.sync));
    if (const Value* v = f.Find("map_size")) KS_RETURN_IF_ERROR(MapSize(*v, &options.store));
    if (const Value* v = f.Find("stream_retention")) {
      KS_RETURN_IF_ERROR(Retention(*v, &options.store));
    }
    if (const Value* v = f.Find("http")) KS_RETURN_IF_ERROR(Http(*v, &options.http));
    if (const Value* v = f.Find("metrics")) KS_RETURN_IF_ERROR(Metrics(*v, &options.metrics));
    if (const Value* v = f.Find("auth")) KS_RETURN_IF_ERROR(Auth(*v, &options.auth));
    if (const Value* v = f.Find("logging")) KS_RETURN_IF_ERROR(Logging(*v, &options.logging));
    if (const Value* v = f.Find("shutdown_timeout_ms")) {
      KS_RETURN_IF_ERROR(Int(*v, 1'000, 3'600'000, &options.shutdown_timeout_ms));
    }
    if (const Value* v = f.Find("health")) {
      KS_ASSIGN_OR_RETURN(Fields h, Mapping(*v, kHealthKeys));
      if (const Value* x = h.Find("stall_timeout_ms")) {
        KS_RETURN_IF_ERROR(Int(*x, 100, 3'600'000, &options.health.stall_timeout_ms));
      }
    }
    if (const Value* v = f.Find("tables")) KS_RETURN_IF_ERROR(Tables(*v, &options.tables));
    if (const Value* v = f.Find("kafka")) KS_RETURN_IF_ERROR(Kafka(*v, &options.kafka));
    if (const Value* v = f.Find("sources")) {
      KS_RETURN_IF_ERROR(Sources(*v, options.tables, &options.sources));
    }
    return options;
  }

  Status MapSize(const Value& v, store::StoreOptions* store) const {
    KS_ASSIGN_OR_RETURN(Fields f, Mapping(v, kMapSizeKeys));
    const Value* initial = f.Find("initial");
    const Value* max = f.Find("max");
    if (initial) KS_RETURN_IF_ERROR(Size(*initial, kMiB, 16 * kTiB, &store->initial_map_size));
    if (max) KS_RETURN_IF_ERROR(Size(*max, 0, 16 * kTiB, &store->max_map_size));
    if (store->max_map_size != 0 && store->max_map_size < store->initial_map_size) {
      return Error(*max, "must be 0 (for " + FormatSize(kDefaultMaxMapSize) +
                             ") or at least map_size.initial (" +
                             FormatSize(store->initial_map_size) + ")");
    }
    if (store->max_map_size == 0 && store->initial_map_size > kDefaultMaxMapSize) {
      return Error(*initial, "must not exceed map_size.max (" + FormatSize(kDefaultMaxMapSize) +
                                 " when 0 or unset)");
    }
    return Status::Ok();
  }

  Status Retention(const Value& v, store::StoreOptions* store) const {
    KS_ASSIGN_OR_RETURN(Fields f, Mapping(v, kRetentionKeys));
    if (const Value* r = f.Find("pin_max_records")) {
      KS_RETURN_IF_ERROR(Int(*r, 1, 1'000'000'000'000, &store->pin_max_records));
    }
    if (const Value* b = f.Find("pin_max_bytes")) {
      KS_RETURN_IF_ERROR(Size(*b, kMiB, 16 * kTiB, &store->pin_max_bytes));
    }
    return Status::Ok();
  }

  Status Http(const Value& v, daemon::HttpOptions* http) const {
    KS_ASSIGN_OR_RETURN(Fields f, Mapping(v, kHttpKeys));
    if (const Value* x = f.Find("listen")) KS_RETURN_IF_ERROR(Listen(*x, &http->listen));
    if (const Value* x = f.Find("max_body_bytes")) {
      KS_RETURN_IF_ERROR(Size(*x, kKiB, kGiB, &http->max_body_bytes));
    }
    if (const Value* x = f.Find("worker_threads")) {
      KS_RETURN_IF_ERROR(Int(*x, 1, 1024, &http->worker_threads));
    }
    if (const Value* x = f.Find("max_connections")) {
      KS_RETURN_IF_ERROR(Int(*x, 1, 100'000, &http->max_connections));
    }
    if (const Value* x = f.Find("request_timeout_ms")) {
      KS_RETURN_IF_ERROR(Int(*x, 1, 3'600'000, &http->request_timeout_ms));
    }
    if (const Value* x = f.Find("request_read_timeout_ms")) {
      KS_RETURN_IF_ERROR(Int(*x, 1, 3'600'000, &http->request_read_timeout_ms));
    }
    if (const Value* x = f.Find("keep_alive_max_count")) {
      KS_RETURN_IF_ERROR(Int(*x, 0, 1'000'000, &http->keep_alive_max_count));
    }
    if (const Value* x = f.Find("tls")) {
      KS_ASSIGN_OR_RETURN(Fields t, Mapping(*x, kTlsKeys));
      daemon::TlsOptions tls;
      KS_ASSIGN_OR_RETURN(Value cert, Require(t, "cert_file"));
      KS_RETURN_IF_ERROR(NonEmptyString(cert, &tls.cert_file));
      KS_ASSIGN_OR_RETURN(Value key, Require(t, "key_file"));
      KS_RETURN_IF_ERROR(NonEmptyString(key, &tls.key_file));
      http->tls = std::move(tls);
    }
    return Status::Ok();
  }

  Status Metrics(const Value& v, daemon::MetricsOptions* metrics) const {
    KS_ASSIGN_OR_RETURN(Fields f, Mapping(v, kMetricsKeys));
    if (const Value* x = f.Find("listen")) KS_RETURN_IF_ERROR(Listen(*x, &metrics->listen));
    if (const Value* x = f.Find("enabled")) KS_RETURN_IF_ERROR(Bool(*x, &metrics->enabled));
    return Status::Ok();
  }

  Status Auth(const Value& v, daemon::AuthOptions* auth) const {
    KS_ASSIGN_OR_RETURN(Fields f, Mapping(v, kAuthKeys));
    if (const Value* x = f.Find("access_keys")) {
      KS_ASSIGN_OR_RETURN(std::vector<Value> items, Sequence(*x));
      for (size_t i = 0; i < items.size(); ++i) {
        KS_ASSIGN_OR_RETURN(Fields k, Mapping(items[i], kAccessKeyKeys));
        daemon::AccessKey key;
        KS_ASSIGN_OR_RETURN(Value id, Require(k, "access_key_id"));
        KS_RETURN_IF_ERROR(Name(id, 1, 128, IsAlnum, "[A-Za-z0-9]", &key.access_key_id));
        for (size_t j = 0; j < auth->access_keys.size(); ++j) {
          if (auth->access_keys[j].access_key_id == key.access_key_id) {
            return Error(id, "duplicate access key id '" + key.access_key_id + "' (also " +
                                 IndexPath(x->path, j) + ")");
          }
        }
        KS_ASSIGN_OR_RETURN(Value secret, Require(k, "secret_access_key"));
        // Never echo the value: the message is the same for any content.
        KS_RETURN_IF_ERROR(NonEmptyString(secret, &key.secret_access_key));
        auth->access_keys.push_back(std::move(key));
      }
    }
    if (const Value* x = f.Find("region")) {
      KS_RETURN_IF_ERROR(Name(*x, 1, 64, IsRegionChar, "[a-z0-9-]", &auth->region));
    }
    return Status::Ok();
  }

  Status Logging(const Value& v, daemon::LoggingOptions* logging) const {
    KS_ASSIGN_OR_RETURN(Fields f, Mapping(v, kLoggingKeys));
    if (const Value* x = f.Find("level")) {
      KS_RETURN_IF_ERROR(Enum(*x, daemon::kLogLevelNames, &logging->level));
    }
    if (const Value* x = f.Find("format")) {
      KS_RETURN_IF_ERROR(Enum(*x, daemon::kLogFormatNames, &logging->format));
    }
    return Status::Ok();
  }

  Status KeyAttribute(const Value& v, store::KeyAttribute* key) const {
    KS_ASSIGN_OR_RETURN(Fields f, Mapping(v, kKeyAttributeKeys));
    KS_ASSIGN_OR_RETURN(Value name, Require(f, "name"));
    static constexpr std::string_view kNameExpected = "must be 1 to 255 bytes long";
    KS_RETURN_IF_ERROR(Text(name, kNameExpected, &key->name));
    if (key->name.empty() || key->name.size() > 255) return Error(name, kNameExpected);
    KS_ASSIGN_OR_RETURN(Value type, Require(f, "type"));
    return Enum(type, kKeyTypeNames, &key->type);
  }

  Status Tables(const Value& v, std::vector<TableSchema>* tables) const {
    KS_ASSIGN_OR_RETURN(std::vector<Value> items, Sequence(v));
    for (size_t i = 0; i < items.size(); ++i) {
      const Value& item = items[i];
      KS_ASSIGN_OR_RETURN(Fields f, Mapping(item, kTableKeys));
      TableSchema table;
      KS_ASSIGN_OR_RETURN(Value name, Require(f, "name"));
      KS_RETURN_IF_ERROR(Name(name, 3, 255, IsNameChar, "[a-zA-Z0-9_.-]", &table.name));
      for (size_t j = 0; j < tables->size(); ++j) {
        if ((*tables)[j].name == table.name) {
          return Error(name, "duplicate table name '" + table.name + "' (also " +
                                 IndexPath(v.path, j) + ")");
        }
      }
      KS_ASSIGN_OR_RETURN(Value pk, Require(f, "partition_key"));
      KS_RETURN_IF_ERROR(KeyAttribute(pk, &table.partition_key));
      if (const Value* sk = f.Find("sort_key")) {
        store::KeyAttribute key;
        KS_RETURN_IF_ERROR(KeyAttribute(*sk, &key));
        if (key.name == table.partition_key.name) {
          KS_ASSIGN_OR_RETURN(Fields skf, Mapping(*sk, kKeyAttributeKeys));
          return Error(*skf.Find("name"),
                       "must differ from the partition key's name '" + key.name + "'");
        }
        table.sort_key = std::move(key);
      }
      if (const Value* s = f.Find("stream")) {
        KS_ASSIGN_OR_RETURN(Fields sf, Mapping(*s, kStreamKeys));
        if (const Value* x = sf.Find("enabled"))
          KS_RETURN_IF_ERROR(Bool(*x, &table.stream.enabled));
        if (const Value* x = sf.Find("view_type")) {
          KS_RETURN_IF_ERROR(Enum(*x, kViewTypeNames, &table.stream.view_type));
        }
        if (const Value* x = sf.Find("buffer_size")) {
          KS_RETURN_IF_ERROR(Int(*x, 1, 1'000'000'000, &table.stream.buffer_size));
        }
      }
      if (const Value* t = f.Find("ttl")) {
        // {attribute: A} enables Time to Live on A; {enabled: false} disables.
        KS_ASSIGN_OR_RETURN(Fields tf, Mapping(*t, kTtlKeys));
        table.ttl.enabled = true;
        if (const Value* x = tf.Find("enabled")) KS_RETURN_IF_ERROR(Bool(*x, &table.ttl.enabled));
        const Value* attribute = tf.Find("attribute");
        if (table.ttl.enabled) {
          if (attribute == nullptr) return Error(*t, "missing required key 'attribute'");
          KS_RETURN_IF_ERROR(NonEmptyString(*attribute, &table.ttl.attribute_name));
          if (table.ttl.attribute_name.size() > 255) {
            return Error(*attribute, "must be at most 255 bytes");
          }
        } else if (attribute != nullptr) {
          return Error(*attribute, "must be absent when enabled is false");
        }
      }
      if (const Value* x = f.Find("indexes")) KS_RETURN_IF_ERROR(Indexes(*x, &table));
      // The store's own rules, in case they grow beyond what is checked above.
      Status valid = store::ValidateTableSchema(table);
      if (!valid.ok()) return Error(item, valid.message());
      tables->push_back(std::move(table));
    }
    return Status::Ok();
  }

  // A table's secondary indexes: name, kind (global, the default, or local),
  // keys, projection (ALL, the default, KEYS_ONLY or INCLUDE with
  // non_key_attributes). A local index's partition key is the table's, so it
  // names only a sort key.
  Status Indexes(const Value& v, TableSchema* table) const {
    KS_ASSIGN_OR_RETURN(std::vector<Value> items, Sequence(v));
    for (const Value& item : items) {
      KS_ASSIGN_OR_RETURN(Fields f, Mapping(item, kIndexKeys));
      store::SecondaryIndex index;
      KS_ASSIGN_OR_RETURN(Value name, Require(f, "name"));
      KS_RETURN_IF_ERROR(Name(name, 3, 255, IsNameChar, "[a-zA-Z0-9_.-]", &index.name));
      if (store::FindIndex(*table, index.name) != nullptr) {
        return Error(name, "duplicate index name '" + index.name + "'");
      }
      if (const Value* x = f.Find("kind"))
        KS_RETURN_IF_ERROR(Enum(*x, kIndexKindNames, &index.global));
      if (index.global) {
        KS_ASSIGN_OR_RETURN(Value pk, Require(f, "partition_key"));
        KS_RETURN_IF_ERROR(KeyAttribute(pk, &index.partition_key));
      } else {
        if (const Value* pk = f.Find("partition_key")) {
          return Error(*pk, "must be absent: a local index has the table's partition key");
        }
        index.partition_key = table->partition_key;
      }
      if (const Value* sk = f.Find("sort_key")) {
        store::KeyAttribute key;
        KS_RETURN_IF_ERROR(KeyAttribute(*sk, &key));
        index.sort_key = std::move(key);
      } else if (!index.global) {
        return Error(item, "missing required key 'sort_key' (a local index needs one)");
      }
      if (const Value* x = f.Find("projection")) {
        KS_RETURN_IF_ERROR(Enum(*x, kProjectionNames, &index.projection.type));
      }
      const Value* attributes = f.Find("non_key_attributes");
      if (index.projection.type == store::ProjectionType::kInclude) {
        if (attributes == nullptr) {
          return Error(item, "missing required key 'non_key_attributes' (projection INCLUDE)");
        }
        KS_ASSIGN_OR_RETURN(std::vector<Value> names, Sequence(*attributes));
        if (names.empty()) return Error(*attributes, "must list at least one attribute");
        for (const Value& n : names) {
          std::string attribute;
          KS_RETURN_IF_ERROR(NonEmptyString(n, &attribute));
          index.projection.non_key_attributes.push_back(std::move(attribute));
        }
      } else if (attributes != nullptr) {
        return Error(*attributes, "must be absent unless projection is INCLUDE");
      }
      table->indexes.push_back(std::move(index));
      // Checked per index, so that the error points at the one that breaks a rule.
      Status valid = store::ValidateIndexes(*table);
      if (!valid.ok()) return Error(item, valid.message());
    }
    return Status::Ok();
  }

  Status Kafka(const Value& v, kafka::KafkaOptions* k) const {
    KS_ASSIGN_OR_RETURN(Fields f, Mapping(v, kKafkaKeys));
    if (const Value* x = f.Find("bootstrap_servers")) {
      static constexpr std::string_view kExpected =
          "must be 'embedded' or a comma-separated list of host:port";
      KS_RETURN_IF_ERROR(Text(*x, kExpected, &k->bootstrap_servers));
      if (k->bootstrap_servers != kafka::kEmbeddedBootstrap) {
        std::string_view rest = k->bootstrap_servers;
        while (true) {
          size_t comma = rest.find(',');
          if (!IsListenAddress(rest.substr(0, comma))) return Error(*x, kExpected);
          if (comma == std::string_view::npos) break;
          rest.remove_prefix(comma + 1);
        }
      }
    }
    if (const Value* x = f.Find("properties")) {
      KS_ASSIGN_OR_RETURN(std::vector<Entry> entries, Entries(*x));
      for (const Entry& e : entries) {
        if (e.key.empty()) return Error(e.key_mark, x->path, "property names must not be empty");
        if (e.key == "bootstrap.servers" || e.key == "client.id") {
          std::string field = e.key == "client.id" ? "client_id" : "bootstrap_servers";
          return Error(e.key_mark, x->path,
                       "set '" + e.key + "' through kafka." + field + ", not properties");
        }
        // Values are passed to librdkafka as text, whatever YAML type they
        // look like (lz4, 5, true).
        std::string& value = k->properties[e.key];
        KS_RETURN_IF_ERROR(String(e.value, &value));
        if (check_kafka_property_) {
          Status checked = check_kafka_property_(e.key, value);
          if (checked.code() == StatusCode::kNotFound) {
            return Error(e.key_mark, x->path,
                         "unknown property '" + e.key + "' (" + checked.message() + ")");
          }
          if (!checked.ok()) return Error(e.value, "invalid value: " + checked.message());
        }
      }
    }
    if (const Value* x = f.Find("embedded_brokers")) {
      KS_RETURN_IF_ERROR(Int(*x, 1, 16, &k->embedded_brokers));
    }
    if (const Value* x = f.Find("client_id")) KS_RETURN_IF_ERROR(NonEmptyString(*x, &k->client_id));
    if (const Value* x = f.Find("topic_creation")) {
      KS_ASSIGN_OR_RETURN(Fields t, Mapping(*x, kTopicCreationKeys));
      if (const Value* y = t.Find("create_topics")) {
        KS_RETURN_IF_ERROR(Bool(*y, &k->topic_creation.create_topics));
      }
      if (const Value* y = t.Find("partitions")) {
        KS_RETURN_IF_ERROR(IntOrDefault(*y, 100'000, &k->topic_creation.partitions));
      }
      if (const Value* y = t.Find("replication_factor")) {
        KS_RETURN_IF_ERROR(IntOrDefault(*y, 32, &k->topic_creation.replication_factor));
      }
    }
    return Status::Ok();
  }

  Status Sources(const Value& v, const std::vector<TableSchema>& tables,
                 std::vector<SourceOptions>* sources) const {
    KS_ASSIGN_OR_RETURN(std::vector<Value> items, Sequence(v));
    for (size_t i = 0; i < items.size(); ++i) {
      SourceOptions source;
      KS_RETURN_IF_ERROR(Source(items[i], tables, &source));
      for (size_t j = 0; j < sources->size(); ++j) {
        if ((*sources)[j].name == source.name) {
          KS_ASSIGN_OR_RETURN(Fields f, Mapping(items[i], kSourceKeys));
          return Error(*f.Find("name"), "duplicate source name '" + source.name + "' (also " +
                                            IndexPath(v.path, j) + ")");
        }
      }
      sources->push_back(std::move(source));
    }
    return Status::Ok();
  }

  // Whether `tmpl` expands to a topic name within Kafka's length limit; `v`
  // is where it was given, null for the default topic (blamed on `table`).
  Status TopicLength(const Value* v, const Value& table, const SourceOptions& s,
                     const std::string& tmpl) const {
    size_t length = cdc::ExpandTopic(tmpl, s.table, s.name).size();
    if (length <= kMaxTopicLength) return Status::Ok();
    std::string message = "expands to a topic name of " + std::to_string(length) +
                          " characters, more than Kafka's " + std::to_string(kMaxTopicLength);
    if (v == nullptr) return Error(table, "the default topic " + tmpl + " " + message);
    return Error(*v, message);
  }

  // Whether a record of view type `table` carries everything `source` needs.
  static bool ViewCovers(StreamViewType table, StreamViewType source) {
    return table == source || source == StreamViewType::kKeysOnly ||
           table == StreamViewType::kNewAndOldImages;
  }

  Status Source(const Value& v, const std::vector<TableSchema>& tables, SourceOptions* s) const {
    KS_ASSIGN_OR_RETURN(Fields f, Mapping(v, kSourceKeys));
    KS_ASSIGN_OR_RETURN(Value name, Require(f, "name"));
    KS_RETURN_IF_ERROR(Name(name, 1, 200, IsNameChar, "[a-zA-Z0-9._-]", &s->name));
    KS_ASSIGN_OR_RETURN(Value table_value, Require(f, "table"));
    KS_RETURN_IF_ERROR(NonEmptyString(table_value, &s->table));
    const TableSchema* table = nullptr;
    for (const TableSchema& t : tables) {
      if (t.name == s->table) table = &t;
    }
    if (table == nullptr) {
      std::string known;
      for (const TableSchema& t : tables) known += (known.empty() ? "" : ", ") + t.name;
      return Error(
          table_value,
          "unknown table '" + s->table + "' (" +
              (known.empty() ? "no tables are configured" : "configured tables: " + known) + ")");
    }

    const Value* topic = f.Find("topic");
    if (topic) KS_RETURN_IF_ERROR(TopicTemplate(*topic, &s->topic));
    if (const Value* x = f.Find("format")) {
      KS_RETURN_IF_ERROR(Enum(*x, cdc::kEventFormatNames, &s->format));
    }
    if (const Value* x = f.Find("view_type")) {
      StreamViewType view{};
      KS_RETURN_IF_ERROR(Enum(*x, kViewTypeNames, &view));
      if (!ViewCovers(table->stream.view_type, view)) {
        return Error(*x, std::string(NameOf(kViewTypeNames, view)) +
                             " is wider than the stream of table '" + table->name + "' (" +
                             std::string(NameOf(kViewTypeNames, table->stream.view_type)) + ")");
      }
      s->view_type = view;
    }
    if (const Value* x = f.Find("include_before")) KS_RETURN_IF_ERROR(Bool(*x, &s->include_before));
    if (const Value* x = f.Find("batch_size"))
      KS_RETURN_IF_ERROR(Int(*x, 1, 100'000, &s->batch_size));
    if (const Value* x = f.Find("batch_timeout_ms")) {
      KS_RETURN_IF_ERROR(Int(*x, 0, 60'000, &s->batch_timeout_ms));
    }
    if (const Value* x = f.Find("max_in_flight_records")) {
      KS_RETURN_IF_ERROR(Int(*x, 1, 10'000'000, &s->max_in_flight_records));
    }
    if (const Value* x = f.Find("max_in_flight_bytes")) {
      KS_RETURN_IF_ERROR(Size(*x, kMiB, 16 * kGiB, &s->max_in_flight_bytes));
    }
    if (const Value* x = f.Find("tombstones")) KS_RETURN_IF_ERROR(Bool(*x, &s->tombstones));
    if (const Value* x = f.Find("debezium_schema")) {
      KS_RETURN_IF_ERROR(Bool(*x, &s->debezium_schema));
    }
    if (const Value* x = f.Find("snapshot")) {
      KS_RETURN_IF_ERROR(Enum(*x, cdc::kSnapshotModeNames, &s->snapshot));
    }
    if (!table->stream.enabled && s->snapshot != cdc::SnapshotMode::kInitialOnly) {
      return Error(table_value, "table '" + table->name +
                                    "' has its stream disabled (enable it, or use snapshot: "
                                    "initial_only)");
    }
    if (const Value* x = f.Find("snapshot_chunk_size")) {
      KS_RETURN_IF_ERROR(Int(*x, 1, 100'000, &s->snapshot_chunk_size));
    }
    if (const Value* x = f.Find("on_gap")) {
      KS_RETURN_IF_ERROR(Enum(*x, cdc::kGapPolicyNames, &s->on_gap));
    }
    if (const Value* x = f.Find("delivery")) {
      KS_RETURN_IF_ERROR(Enum(*x, cdc::kDeliveryModeNames, &s->delivery));
    }
    if (const Value* x = f.Find("on_permanent_error")) {
      KS_RETURN_IF_ERROR(Enum(*x, cdc::kPermanentErrorPolicyNames, &s->on_permanent_error));
    }
    const Value* dead_letter = f.Find("dead_letter_topic");
    if (s->on_permanent_error == cdc::PermanentErrorPolicy::kDeadLetter) {
      if (dead_letter == nullptr) {
        return Error(v,
                     "missing required key 'dead_letter_topic' (on_permanent_error is "
                     "dead_letter)");
      }
      KS_RETURN_IF_ERROR(TopicTemplate(*dead_letter, &s->dead_letter_topic));
    } else if (dead_letter != nullptr) {
      return Error(*dead_letter, "only allowed with on_permanent_error: dead_letter");
    }
    KS_RETURN_IF_ERROR(TopicLength(topic, table_value, *s, s->topic));
    if (dead_letter != nullptr) {
      KS_RETURN_IF_ERROR(TopicLength(dead_letter, table_value, *s, s->dead_letter_topic));
    }
    if (const Value* x = f.Find("oversize")) {
      KS_RETURN_IF_ERROR(Enum(*x, cdc::kOversizePolicyNames, &s->oversize));
    }
    if (const Value* x = f.Find("heartbeat_interval_ms")) {
      KS_RETURN_IF_ERROR(Int(*x, 0, 3'600'000, &s->heartbeat_interval_ms));
    }
    if (const Value* x = f.Find("filters")) KS_RETURN_IF_ERROR(Filters(*x, &s->filters));
    if (const Value* x = f.Find("transforms")) {
      KS_ASSIGN_OR_RETURN(std::vector<Value> items, Sequence(*x));
      for (const Value& item : items) {
        TransformOptions t;
        KS_RETURN_IF_ERROR(Transform(item, &t));
        s->transforms.push_back(std::move(t));
      }
    }
    if (const Value* x = f.Find("skip_noop_updates")) {
      KS_RETURN_IF_ERROR(Bool(*x, &s->skip_noop_updates));
    }
    if (const Value* x = f.Find("aggregate")) {
      AggregateOptions aggregate;
      KS_RETURN_IF_ERROR(Aggregate(*x, &aggregate));
      s->aggregate = std::move(aggregate);
    }
    return Status::Ok();
  }

  Status Filters(const Value& v, FilterOptions* filters) const {
    KS_ASSIGN_OR_RETURN(Fields f, Mapping(v, kFilterKeys));
    if (const Value* x = f.Find("event_types")) {
      KS_RETURN_IF_ERROR(EnumList(*x, cdc::kEventTypeNames, &filters->event_types));
    }
    if (const Value* x = f.Find("key_prefix")) KS_RETURN_IF_ERROR(String(*x, &filters->key_prefix));
    if (const Value* x = f.Find("key_glob")) KS_RETURN_IF_ERROR(String(*x, &filters->key_glob));
    if (const Value* x = f.Find("condition")) KS_RETURN_IF_ERROR(String(*x, &filters->condition));
    for (std::string_view key : {"names", "values"}) {
      const Value* x = f.Find(key);
      if (x == nullptr) continue;
      if (filters->condition.empty()) return Error(*x, "only allowed with a condition");
      KS_ASSIGN_OR_RETURN(std::vector<Entry> entries, Entries(*x));
      char sigil = key == "names" ? '#' : ':';
      for (const Entry& e : entries) {
        if (e.key.size() < 2 || e.key[0] != sigil) {
          return Error(e.key_mark, x->path,
                       "key '" + e.key + "' must start with '" + sigil + "' and name something");
        }
        if (key == "names") {
          KS_RETURN_IF_ERROR(NonEmptyString(e.value, &filters->names[e.key]));
        } else {
          AttributeValue value;
          KS_RETURN_IF_ERROR(TypedValue(e.value, &value));
          filters->values[e.key] = std::move(value);
        }
      }
    }
    return Status::Ok();
  }

  Status Transform(const Value& v, TransformOptions* t) const {
    static const KeyList kAllKeys = {"type", "attributes", "from", "to", "name", "value"};
    KS_ASSIGN_OR_RETURN(Fields any, Mapping(v, kAllKeys));
    KS_ASSIGN_OR_RETURN(Value type, Require(any, "type"));
    KS_RETURN_IF_ERROR(Enum(type, cdc::kTransformTypeNames, &t->type));
    KS_ASSIGN_OR_RETURN(Fields f, Mapping(v, TransformKeys(t->type)));
    switch (t->type) {
      case TransformType::kKeep:
      case TransformType::kDrop:
      case TransformType::kHash:
      case TransformType::kMask: {
        KS_ASSIGN_OR_RETURN(Value attributes, Require(f, "attributes"));
        KS_RETURN_IF_ERROR(NameList(attributes, &t->attributes));
        if (t->type == TransformType::kMask) {
          t->value = std::string(cdc::kDefaultMaskValue);
          if (const Value* x = f.Find("value")) KS_RETURN_IF_ERROR(String(*x, &t->value));
        }
        break;
      }
      case TransformType::kRename: {
        KS_ASSIGN_OR_RETURN(Value from, Require(f, "from"));
        KS_RETURN_IF_ERROR(NonEmptyString(from, &t->from));
        KS_ASSIGN_OR_RETURN(Value to, Require(f, "to"));
        KS_RETURN_IF_ERROR(NonEmptyString(to, &t->to));
        if (t->from == t->to) return Error(to, "must differ from 'from'");
        break;
      }
      case TransformType::kAddField:
      case TransformType::kAddHeader: {
        KS_ASSIGN_OR_RETURN(Value name, Require(f, "name"));
        KS_RETURN_IF_ERROR(NonEmptyString(name, &t->name));
        KS_ASSIGN_OR_RETURN(Value value, Require(f, "value"));
        KS_RETURN_IF_ERROR(String(value, &t->value));
        break;
      }
    }
    return Status::Ok();
  }

  Status Aggregate(const Value& v, AggregateOptions* a) const {
    KS_ASSIGN_OR_RETURN(Fields f, Mapping(v, kAggregateKeys));
    if (const Value* x = f.Find("window_seconds")) {
      KS_RETURN_IF_ERROR(Int(*x, 1, 86'400, &a->window_seconds));
    }
    if (const Value* x = f.Find("functions")) {
      KS_RETURN_IF_ERROR(EnumList(*x, cdc::kAggregateFunctionNames, &a->functions));
    }
    if (const Value* x = f.Find("attribute")) KS_RETURN_IF_ERROR(NonEmptyString(*x, &a->attribute));
    if (const Value* x = f.Find("group_by")) KS_RETURN_IF_ERROR(NonEmptyString(*x, &a->group_by));
    for (cdc::AggregateFunction fn : a->functions) {
      if (fn != cdc::AggregateFunction::kCount && a->attribute.empty()) {
        return Error(v, "missing required key 'attribute' (" +
                            std::string(cdc::AggregateFunctionName(fn)) + " needs it)");
      }
    }
    return Status::Ok();
  }

  std::string file_;
  const EnvLookup& env_;
  static constexpr size_t kMaxTypedValues = 10'000;
  static constexpr int kMaxTypedValueDepth = 32;
  mutable size_t typed_values_left_ = kMaxTypedValues;  // TypedValue's budget
  const PropertyCheck& check_kafka_property_;
};

// --- printing -------------------------------------------------------------

// A string scalar as ParseConfig reads it back: '$' doubled so that
// substitution leaves it alone.
std::string Escaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '$') out += '$';
  }
  return out;
}

void PutStr(YAML::Emitter& out, std::string_view key, std::string_view value) {
  out << YAML::Key << std::string(key) << YAML::Value << Escaped(value);
}

template <typename T>
void PutNum(YAML::Emitter& out, std::string_view key, T value) {
  out << YAML::Key << std::string(key) << YAML::Value << value;
}

void PutBool(YAML::Emitter& out, std::string_view key, bool value) {
  out << YAML::Key << std::string(key) << YAML::Value << (value ? "true" : "false");
}

void PutSize(YAML::Emitter& out, std::string_view key, uint64_t bytes) {
  out << YAML::Key << std::string(key) << YAML::Value << FormatSize(bytes);
}

template <typename E, size_t N>
void PutEnum(YAML::Emitter& out, std::string_view key, const EnumName<E> (&table)[N], E value) {
  out << YAML::Key << std::string(key) << YAML::Value << std::string(NameOf(table, value));
}

void EmitTypedValue(YAML::Emitter& out, const AttributeValue& v) {
  out << YAML::Flow << YAML::BeginMap << YAML::Key << std::string(NameOf(kValueTypeNames, v.type()))
      << YAML::Value;
  switch (v.type()) {
    case AttributeType::kS:
      out << Escaped(v.s());
      break;
    case AttributeType::kN:
      out << v.n().ToString();
      break;
    case AttributeType::kB:
      out << Base64Encode(v.b());
      break;
    case AttributeType::kBool:
      out << (v.boolean() ? "true" : "false");
      break;
    case AttributeType::kNull:
      out << "true";
      break;
    case AttributeType::kSS:
    case AttributeType::kBS:
      out << YAML::Flow << YAML::BeginSeq;
      for (const std::string& s : v.type() == AttributeType::kSS ? v.ss() : v.bs()) {
        out << (v.type() == AttributeType::kSS ? Escaped(s) : Base64Encode(s));
      }
      out << YAML::EndSeq;
      break;
    case AttributeType::kNS:
      out << YAML::Flow << YAML::BeginSeq;
      for (const store::Number& n : v.ns()) out << n.ToString();
      out << YAML::EndSeq;
      break;
    case AttributeType::kL:
      out << YAML::Flow << YAML::BeginSeq;
      for (const AttributeValue& e : v.l()) EmitTypedValue(out, e);
      out << YAML::EndSeq;
      break;
    case AttributeType::kM:
      out << YAML::Flow << YAML::BeginMap;
      for (const auto& [name, e] : v.m()) {
        out << YAML::Key << name << YAML::Value;
        EmitTypedValue(out, e);
      }
      out << YAML::EndMap;
      break;
  }
  out << YAML::EndMap;
}

void EmitKeyAttribute(YAML::Emitter& out, std::string_view key, const store::KeyAttribute& k) {
  out << YAML::Key << std::string(key) << YAML::Value << YAML::Flow << YAML::BeginMap;
  PutStr(out, "name", k.name);
  PutEnum(out, "type", kKeyTypeNames, k.type);
  out << YAML::EndMap;
}

void EmitStringList(YAML::Emitter& out, std::string_view key,
                    const std::vector<std::string>& list) {
  out << YAML::Key << std::string(key) << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const std::string& s : list) out << Escaped(s);
  out << YAML::EndSeq;
}

template <typename E, size_t N>
void EmitEnumList(YAML::Emitter& out, std::string_view key, const EnumName<E> (&table)[N],
                  const std::vector<E>& list) {
  out << YAML::Key << std::string(key) << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (E e : list) out << std::string(NameOf(table, e));
  out << YAML::EndSeq;
}

void EmitSource(YAML::Emitter& out, const SourceOptions& s) {
  out << YAML::BeginMap;
  PutStr(out, "name", s.name);
  PutStr(out, "table", s.table);
  PutStr(out, "topic", s.topic);
  PutEnum(out, "format", cdc::kEventFormatNames, s.format);
  if (s.view_type) PutEnum(out, "view_type", kViewTypeNames, *s.view_type);
  PutBool(out, "include_before", s.include_before);
  PutNum(out, "batch_size", s.batch_size);
  PutNum(out, "batch_timeout_ms", s.batch_timeout_ms);
  PutNum(out, "max_in_flight_records", s.max_in_flight_records);
  PutSize(out, "max_in_flight_bytes", s.max_in_flight_bytes);
  PutBool(out, "tombstones", s.tombstones);
  PutBool(out, "debezium_schema", s.debezium_schema);
  PutEnum(out, "snapshot", cdc::kSnapshotModeNames, s.snapshot);
  PutNum(out, "snapshot_chunk_size", s.snapshot_chunk_size);
  PutEnum(out, "on_gap", cdc::kGapPolicyNames, s.on_gap);
  PutEnum(out, "delivery", cdc::kDeliveryModeNames, s.delivery);
  PutEnum(out, "on_permanent_error", cdc::kPermanentErrorPolicyNames, s.on_permanent_error);
  if (s.on_permanent_error == cdc::PermanentErrorPolicy::kDeadLetter) {
    PutStr(out, "dead_letter_topic", s.dead_letter_topic);
  }
  PutEnum(out, "oversize", cdc::kOversizePolicyNames, s.oversize);
  PutNum(out, "heartbeat_interval_ms", s.heartbeat_interval_ms);

  out << YAML::Key << "filters" << YAML::Value << YAML::BeginMap;
  EmitEnumList(out, "event_types", cdc::kEventTypeNames, s.filters.event_types);
  PutStr(out, "key_prefix", s.filters.key_prefix);
  PutStr(out, "key_glob", s.filters.key_glob);
  PutStr(out, "condition", s.filters.condition);
  // names and values are only accepted together with a condition.
  if (!s.filters.condition.empty()) {
    out << YAML::Key << "names" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : s.filters.names) PutStr(out, k, v);
    out << YAML::EndMap;
    out << YAML::Key << "values" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : s.filters.values) {
      out << YAML::Key << k << YAML::Value;
      EmitTypedValue(out, v);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;

  out << YAML::Key << "transforms" << YAML::Value;
  if (s.transforms.empty()) out << YAML::Flow;
  out << YAML::BeginSeq;
  for (const TransformOptions& t : s.transforms) {
    out << YAML::Flow << YAML::BeginMap;
    PutEnum(out, "type", cdc::kTransformTypeNames, t.type);
    for (std::string_view key : TransformKeys(t.type)) {
      if (key == "attributes") EmitStringList(out, key, t.attributes);
      if (key == "from") PutStr(out, key, t.from);
      if (key == "to") PutStr(out, key, t.to);
      if (key == "name") PutStr(out, key, t.name);
      if (key == "value") PutStr(out, key, t.value);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  PutBool(out, "skip_noop_updates", s.skip_noop_updates);
  if (s.aggregate) {
    const AggregateOptions& a = *s.aggregate;
    out << YAML::Key << "aggregate" << YAML::Value << YAML::BeginMap;
    PutNum(out, "window_seconds", a.window_seconds);
    EmitEnumList(out, "functions", cdc::kAggregateFunctionNames, a.functions);
    if (!a.attribute.empty()) PutStr(out, "attribute", a.attribute);
    if (!a.group_by.empty()) PutStr(out, "group_by", a.group_by);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

}  // namespace

EnvLookup ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Result<DaemonOptions> ParseConfig(std::string_view yaml_text, std::string_view file_name) {
  return ParseConfig(yaml_text, file_name, ProcessEnvironment());
}

Result<DaemonOptions> ParseConfig(std::string_view yaml_text, std::string_view file_name,
                                  const EnvLookup& env, const PropertyCheck& check_kafka_property) {
  return ConfigParser(file_name, env, check_kafka_property).Parse(yaml_text);
}

Result<DaemonOptions> LoadConfigFile(const std::string& path) {
  return LoadConfigFile(path, ProcessEnvironment());
}

Result<DaemonOptions> LoadConfigFile(const std::string& path, const EnvLookup& env,
                                     const PropertyCheck& check_kafka_property) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return IoError("cannot read config file " + path + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return IoError("cannot read config file " + path + ": " + std::strerror(errno));
  return ParseConfig(text.str(), path, env, check_kafka_property);
}

std::string PrintConfig(const DaemonOptions& o) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  PutStr(out, "data_dir", o.store.path);
  PutEnum(out, "sync", kSyncNames, o.store.sync);
  out << YAML::Key << "map_size" << YAML::Value << YAML::BeginMap;
  PutSize(out, "initial", o.store.initial_map_size);
  PutSize(out, "max", o.store.max_map_size);
  out << YAML::EndMap;
  out << YAML::Key << "stream_retention" << YAML::Value << YAML::BeginMap;
  PutNum(out, "pin_max_records", o.store.pin_max_records);
  PutSize(out, "pin_max_bytes", o.store.pin_max_bytes);
  out << YAML::EndMap;

  out << YAML::Key << "http" << YAML::Value << YAML::BeginMap;
  PutStr(out, "listen", o.http.listen);
  PutSize(out, "max_body_bytes", o.http.max_body_bytes);
  PutNum(out, "worker_threads", o.http.worker_threads);
  PutNum(out, "max_connections", o.http.max_connections);
  PutNum(out, "request_timeout_ms", o.http.request_timeout_ms);
  PutNum(out, "request_read_timeout_ms", o.http.request_read_timeout_ms);
  PutNum(out, "keep_alive_max_count", o.http.keep_alive_max_count);
  if (o.http.tls) {
    out << YAML::Key << "tls" << YAML::Value << YAML::BeginMap;
    PutStr(out, "cert_file", o.http.tls->cert_file);
    PutStr(out, "key_file", o.http.tls->key_file);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;

  out << YAML::Key << "metrics" << YAML::Value << YAML::BeginMap;
  PutStr(out, "listen", o.metrics.listen);
  PutBool(out, "enabled", o.metrics.enabled);
  out << YAML::EndMap;

  out << YAML::Key << "auth" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "access_keys" << YAML::Value;
  if (o.auth.access_keys.empty()) out << YAML::Flow;
  out << YAML::BeginSeq;
  for (const daemon::AccessKey& key : o.auth.access_keys) {
    out << YAML::BeginMap;
    PutStr(out, "access_key_id", key.access_key_id);
    PutStr(out, "secret_access_key", kMaskedSecret);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  PutStr(out, "region", o.auth.region);
  out << YAML::EndMap;

  out << YAML::Key << "logging" << YAML::Value << YAML::BeginMap;
  PutEnum(out, "level", daemon::kLogLevelNames, o.logging.level);
  PutEnum(out, "format", daemon::kLogFormatNames, o.logging.format);
  out << YAML::EndMap;

  PutNum(out, "shutdown_timeout_ms", o.shutdown_timeout_ms);
  out << YAML::Key << "health" << YAML::Value << YAML::BeginMap;
  PutNum(out, "stall_timeout_ms", o.health.stall_timeout_ms);
  out << YAML::EndMap;

  out << YAML::Key << "tables" << YAML::Value;
  if (o.tables.empty()) out << YAML::Flow;
  out << YAML::BeginSeq;
  for (const TableSchema& t : o.tables) {
    out << YAML::BeginMap;
    PutStr(out, "name", t.name);
    EmitKeyAttribute(out, "partition_key", t.partition_key);
    if (t.sort_key) EmitKeyAttribute(out, "sort_key", *t.sort_key);
    out << YAML::Key << "stream" << YAML::Value << YAML::Flow << YAML::BeginMap;
    PutBool(out, "enabled", t.stream.enabled);
    PutEnum(out, "view_type", kViewTypeNames, t.stream.view_type);
    PutNum(out, "buffer_size", t.stream.buffer_size);
    out << YAML::EndMap;
    out << YAML::Key << "ttl" << YAML::Value << YAML::Flow << YAML::BeginMap;
    PutBool(out, "enabled", t.ttl.enabled);
    if (t.ttl.enabled) PutStr(out, "attribute", t.ttl.attribute_name);
    out << YAML::EndMap;
    if (!t.indexes.empty()) {
      out << YAML::Key << "indexes" << YAML::Value << YAML::BeginSeq;
      for (const store::SecondaryIndex& index : t.indexes) {
        out << YAML::BeginMap;
        PutStr(out, "name", index.name);
        PutEnum(out, "kind", kIndexKindNames, index.global);
        if (index.global) EmitKeyAttribute(out, "partition_key", index.partition_key);
        if (index.sort_key) EmitKeyAttribute(out, "sort_key", *index.sort_key);
        PutEnum(out, "projection", kProjectionNames, index.projection.type);
        if (index.projection.type == store::ProjectionType::kInclude) {
          EmitStringList(out, "non_key_attributes", index.projection.non_key_attributes);
        }
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;

  out << YAML::Key << "kafka" << YAML::Value << YAML::BeginMap;
  PutStr(out, "bootstrap_servers", o.kafka.bootstrap_servers);
  out << YAML::Key << "properties" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, value] : o.kafka.properties) {
    PutStr(out, name, kafka::IsSecretProperty(name) ? kMaskedSecret : std::string_view(value));
  }
  out << YAML::EndMap;
  PutNum(out, "embedded_brokers", o.kafka.embedded_brokers);
  PutStr(out, "client_id", o.kafka.client_id);
  out << YAML::Key << "topic_creation" << YAML::Value << YAML::BeginMap;
  PutBool(out, "create_topics", o.kafka.topic_creation.create_topics);
  PutNum(out, "partitions", o.kafka.topic_creation.partitions);
  PutNum(out, "replication_factor", o.kafka.topic_creation.replication_factor);
  out << YAML::EndMap;
  out << YAML::EndMap;

  out << YAML::Key << "sources" << YAML::Value;
  if (o.sources.empty()) out << YAML::Flow;
  out << YAML::BeginSeq;
  for (const SourceOptions& s : o.sources) EmitSource(out, s);
  out << YAML::EndSeq;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace keystone::config
