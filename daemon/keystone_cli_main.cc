// keystone: a small command-line client for a running keystoned. It speaks
// the same DynamoDB JSON protocol as the SDKs (requests signed with SigV4, so
// it also works when keystoned requires access keys).
//
//   keystone tables
//   keystone create-table users --pk pk:S --sk sk:S --stream NEW_AND_OLD_IMAGES
//   keystone create-table orders --pk id:S --gsi by_customer=customer:S,total:N
//   keystone put users '{"pk":{"S":"u1"},"sk":{"S":"a"},"n":{"N":"1"}}'
//   keystone put users '{"pk":"u1","sk":"a","n":1}' --simple
//   keystone get users '{"pk":"u1","sk":"a"}' --simple
//   keystone query users --key-condition 'pk = :p' --values '{":p":"u1"}' --simple
//   keystone query orders --index by_customer --key-condition 'customer = :c' --values ...
//   keystone scan users --limit 10
//   keystone stream users --after 41 --follow
//   keystone health
//   keystone sources                       # CDC sources: state, position, lag
//   keystone source pause|resume|reset|snapshot NAME
//   keystone source position NAME SEQUENCE
//
// Items print one per line as JSON (DynamoDB JSON, or plain JSON with
// --simple). Errors print "keystone: <ErrorType>: <message>" and exit 1.

#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "daemon/sigv4.h"

#ifndef KEYSTONE_VERSION
#define KEYSTONE_VERSION "0.0.0"
#endif

namespace keystone::cli {
namespace {

using rapidjson::Document;
using rapidjson::Value;

std::atomic<bool> g_interrupted{false};

struct Options {
  std::string endpoint = "http://127.0.0.1:8000";
  std::string region = "us-east-1";
  std::string access_key;
  std::string secret_key;
  int timeout_ms = 30000;
  bool insecure = false;
  bool simple = false;
};

// A failed call: the DynamoDB error type (after '#') and message.
struct CallError {
  std::string type;
  std::string message;
};

std::string ToJson(const Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<Document> ParseJson(const std::string& text, std::string* error) {
  Document doc;
  // Iterative: nesting depth costs heap, not stack.
  doc.Parse<rapidjson::kParseIterativeFlag>(text.c_str(), text.size());
  if (doc.HasParseError()) {
    *error = "invalid JSON at offset " + std::to_string(doc.GetErrorOffset());
    return std::nullopt;
  }
  return doc;
}

// SAX handler turning a plain JSON object into a DynamoDB JSON item: strings
// S, numbers N (their exact text), booleans BOOL, null NULL, arrays L,
// objects M.
class PlainToDynamo {
 public:
  explicit PlainToDynamo(rapidjson::Writer<rapidjson::StringBuffer>& w) : w_(w) {}
  bool Null() {
    Wrap("NULL");
    w_.Bool(true);
    return Unwrap();
  }
  bool Bool(bool b) {
    Wrap("BOOL");
    w_.Bool(b);
    return Unwrap();
  }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    Wrap("N");
    w_.String(s, n);
    return Unwrap();
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (stack_.empty()) return false;
    Wrap("S");
    w_.String(s, n);
    return Unwrap();
  }
  bool StartObject() {
    if (stack_.empty()) {
      stack_.push_back(false);
      return w_.StartObject();
    }
    Wrap("M");
    stack_.push_back(true);
    return w_.StartObject();
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) { return w_.Key(s, n); }
  bool EndObject(rapidjson::SizeType) { return End(/*object=*/true); }
  bool StartArray() {
    if (stack_.empty()) return false;  // the top level must be an object
    Wrap("L");
    stack_.push_back(true);
    return w_.StartArray();
  }
  bool EndArray(rapidjson::SizeType) { return End(/*object=*/false); }
  // Unused with kParseNumbersAsStringsFlag.
  bool Int(int) { return false; }
  bool Uint(unsigned) { return false; }
  bool Int64(int64_t) { return false; }
  bool Uint64(uint64_t) { return false; }
  bool Double(double) { return false; }

 private:
  void Wrap(const char* type) {
    w_.StartObject();
    w_.Key(type);
  }
  bool Unwrap() { return w_.EndObject(); }
  bool End(bool object) {
    bool wrapped = stack_.back();
    stack_.pop_back();
    if (object) {
      w_.EndObject();
    } else {
      w_.EndArray();
    }
    return wrapped ? w_.EndObject() : true;
  }

  rapidjson::Writer<rapidjson::StringBuffer>& w_;
  std::vector<bool> stack_;  // per open container: wrapped in a type object
};

// Plain JSON object text to DynamoDB JSON item text.
std::optional<std::string> PlainToDynamoJson(const std::string& text, std::string* error) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  PlainToDynamo handler(writer);
  rapidjson::Reader reader;
  rapidjson::StringStream in(text.c_str());
  // Iterative, so that a deeply nested argument cannot exhaust the stack (the
  // server refuses what nests too deep).
  constexpr unsigned kFlags =
      rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag;
  if (!reader.Parse<kFlags>(in, handler)) {
    *error = reader.HasParseError()
                 ? "invalid JSON at offset " + std::to_string(reader.GetErrorOffset())
                 : "an item, key or values argument must be a JSON object";
    return std::nullopt;
  }
  return std::string(buffer.GetString(), buffer.GetSize());
}

// DynamoDB JSON to plain JSON (N as a JSON number, B and BS as base64
// strings, sets as arrays).
Value FromAttribute(const Value& v, Document::AllocatorType& a) {
  if (!v.IsObject() || v.MemberCount() == 0) return Value(v, a);
  const auto& m = *v.MemberBegin();
  std::string type = m.name.GetString();
  const Value& x = m.value;
  if (type == "N" && x.IsString()) {
    Value n;
    n.SetString(x.GetString(), x.GetStringLength(), a);
    // Written raw below: mark by wrapping in a one-member object.
    Value raw(rapidjson::kObjectType);
    raw.AddMember("__number", n, a);
    return raw;
  }
  if (type == "NULL") return Value(rapidjson::kNullType);
  if (type == "M" && x.IsObject()) {
    Value out(rapidjson::kObjectType);
    for (const auto& e : x.GetObject()) {
      out.AddMember(Value(e.name, a), FromAttribute(e.value, a), a);
    }
    return out;
  }
  if (type == "L" && x.IsArray()) {
    Value out(rapidjson::kArrayType);
    for (const Value& e : x.GetArray()) out.PushBack(FromAttribute(e, a), a);
    return out;
  }
  if (type == "NS" && x.IsArray()) {
    Value out(rapidjson::kArrayType);
    for (const Value& e : x.GetArray()) {
      Value raw(rapidjson::kObjectType);
      raw.AddMember("__number", Value(e, a), a);
      out.PushBack(raw, a);
    }
    return out;
  }
  return Value(x, a);  // S, B, BOOL, SS, BS
}

// Writes plain JSON, numbers marked by FromAttribute unquoted.
void WritePlain(const Value& v, rapidjson::Writer<rapidjson::StringBuffer>& w) {
  if (v.IsObject() && v.MemberCount() == 1 && v.MemberBegin()->name == "__number") {
    const Value& n = v.MemberBegin()->value;
    w.RawValue(n.GetString(), n.GetStringLength(), rapidjson::kNumberType);
  } else if (v.IsObject()) {
    w.StartObject();
    for (const auto& m : v.GetObject()) {
      w.Key(m.name.GetString(), m.name.GetStringLength());
      WritePlain(m.value, w);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const Value& e : v.GetArray()) WritePlain(e, w);
    w.EndArray();
  } else {
    v.Accept(w);
  }
}

std::string ItemText(const Value& item, bool simple) {
  if (!simple) return ToJson(item);
  Document doc;
  Value plain(rapidjson::kObjectType);
  for (const auto& m : item.GetObject()) {
    plain.AddMember(Value(m.name, doc.GetAllocator()), FromAttribute(m.value, doc.GetAllocator()),
                    doc.GetAllocator());
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  WritePlain(plain, writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

class Client {
 public:
  explicit Client(const Options& o) : options_(o), http_(o.endpoint) {
    http_.set_connection_timeout(std::chrono::milliseconds(o.timeout_ms));
    http_.set_read_timeout(std::chrono::milliseconds(o.timeout_ms));
    http_.set_write_timeout(std::chrono::milliseconds(o.timeout_ms));
    http_.set_keep_alive(true);
    if (o.insecure) http_.enable_server_certificate_verification(false);
    std::string rest = o.endpoint.substr(o.endpoint.find("://") + 3);
    host_ = rest.substr(0, rest.find('/'));
  }

  // Calls `operation` ("DynamoDB_20120810.PutItem") with the JSON `body`.
  std::optional<Document> Call(const std::string& target, const std::string& body,
                               CallError* error) {
    daemon::SigV4Request r;
    r.method = "POST";
    r.target = "/";
    r.body = body;
    r.headers = {
        {"Host", host_}, {"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", target}};
    daemon::SigV4Sign(r, {options_.access_key, options_.secret_key}, options_.region, "dynamodb",
                      SystemClock::Default()->NowMs());
    httplib::Headers headers;
    for (const auto& [name, value] : r.headers) {
      if (name != "Content-Type" && name != "Host") headers.emplace(name, value);
    }
    auto res = http_.Post("/", headers, body, "application/x-amz-json-1.0");
    if (!res) {
      *error = {"ConnectionError",
                "cannot reach " + options_.endpoint + ": " + httplib::to_string(res.error())};
      return std::nullopt;
    }
    std::string parse_error;
    std::optional<Document> doc = ParseJson(res->body, &parse_error);
    if (res->status != 200) {
      error->type = "HTTP " + std::to_string(res->status);
      error->message = res->body;
      if (doc && doc->IsObject()) {
        if (doc->HasMember("__type") && (*doc)["__type"].IsString()) {
          std::string type = (*doc)["__type"].GetString();
          error->type = type.substr(type.rfind('#') + 1);
        }
        for (const char* key : {"message", "Message"}) {
          if (doc->HasMember(key) && (*doc)[key].IsString())
            error->message = (*doc)[key].GetString();
        }
      }
      return std::nullopt;
    }
    if (!doc) {
      *error = {"InvalidResponse", parse_error};
      return std::nullopt;
    }
    return doc;
  }

  httplib::Result Get(const std::string& path) { return http_.Get(path); }

  // An admin request (GET /sources, POST /sources/NAME/ACTION), signed as
  // API requests are. The JSON answer, or nullopt with `error` set.
  std::optional<std::string> Admin(const std::string& method, const std::string& target,
                                   CallError* error) {
    daemon::SigV4Request r;
    r.method = method;
    r.target = target;
    r.headers = {{"Host", host_}};
    daemon::SigV4Sign(r, {options_.access_key, options_.secret_key}, options_.region, "dynamodb",
                      SystemClock::Default()->NowMs());
    httplib::Headers headers;
    for (const auto& [name, value] : r.headers) {
      if (name != "Host") headers.emplace(name, value);
    }
    auto res = method == "GET" ? http_.Get(target, headers) : http_.Post(target, headers, "", "");
    if (!res) {
      *error = {"ConnectionError",
                "cannot reach " + options_.endpoint + ": " + httplib::to_string(res.error())};
      return std::nullopt;
    }
    if (res->status != 200) {
      error->type = "HTTP " + std::to_string(res->status);
      error->message = res->body;
      std::string parse_error;
      std::optional<Document> doc = ParseJson(res->body, &parse_error);
      if (doc && doc->IsObject()) {
        if (doc->HasMember("__type") && (*doc)["__type"].IsString()) {
          std::string type = (*doc)["__type"].GetString();
          error->type = type.substr(type.rfind('#') + 1);
        }
        if (doc->HasMember("message") && (*doc)["message"].IsString()) {
          error->message = (*doc)["message"].GetString();
        }
      }
      return std::nullopt;
    }
    return res->body;
  }

 private:
  Options options_;
  httplib::Client http_;
  std::string host_;
};

int Fail(const CallError& e) {
  std::fprintf(stderr, "keystone: %s: %s\n", e.type.c_str(), e.message.c_str());
  return 1;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "keystone: %s\n", message.c_str());
  return 1;
}

std::string Quote(const std::string& s) {
  Value v(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  return ToJson(v);
}

// Reads an item or key argument: DynamoDB JSON, or plain JSON when simple.
std::optional<std::string> ItemArgument(const std::string& text, bool simple, std::string* error) {
  if (simple) return PlainToDynamoJson(text, error);
  std::optional<Document> doc = ParseJson(text, error);
  if (!doc) return std::nullopt;
  if (!doc->IsObject()) {
    *error = "an item or key must be a JSON object";
    return std::nullopt;
  }
  return ToJson(*doc);
}

// Expression values: {":v": ...} in DynamoDB JSON, or plain when simple.
std::optional<std::string> ValuesArgument(const std::string& text, bool simple,
                                          std::string* error) {
  return ItemArgument(text, simple, error);
}

bool KeyAttribute(const std::string& spec, std::string* name, std::string* type) {
  size_t colon = spec.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *name = spec.substr(0, colon);
  *type = spec.substr(colon + 1);
  return *type == "S" || *type == "N" || *type == "B";
}

int PrintItems(Client& client, const std::string& op, std::string request_prefix, size_t limit,
               bool simple) {
  std::string start_key;
  size_t printed = 0;
  for (;;) {
    std::string body = request_prefix;
    if (!start_key.empty()) body += ",\"ExclusiveStartKey\":" + start_key;
    body += "}";
    CallError error;
    std::optional<Document> doc = client.Call("DynamoDB_20120810." + op, body, &error);
    if (!doc) return Fail(error);
    for (const Value& item : (*doc)["Items"].GetArray()) {
      if (limit != 0 && printed >= limit) return 0;
      std::printf("%s\n", ItemText(item, simple).c_str());
      ++printed;
    }
    if (!doc->HasMember("LastEvaluatedKey")) return 0;
    start_key = ToJson((*doc)["LastEvaluatedKey"]);
  }
}

std::string Sequence21(const std::string& digits) {
  std::string s = digits;
  while (s.size() < 21) s.insert(s.begin(), '0');
  return s;
}

}  // namespace
}  // namespace keystone::cli

int main(int argc, char** argv) {
  using namespace keystone::cli;
  Options o;
  if (const char* k = std::getenv("AWS_ACCESS_KEY_ID")) o.access_key = k;
  if (const char* s = std::getenv("AWS_SECRET_ACCESS_KEY")) o.secret_key = s;
  if (const char* r = std::getenv("AWS_DEFAULT_REGION")) o.region = r;
  if (const char* e = std::getenv("KEYSTONE_ENDPOINT")) o.endpoint = e;

  CLI::App app{"keystone: command-line client for keystoned (DynamoDB JSON over HTTP)"};
  app.require_subcommand(1);
  app.add_option("--endpoint", o.endpoint, "keystoned URL (env KEYSTONE_ENDPOINT)")
      ->capture_default_str();
  app.add_option("--region", o.region, "Region to sign for (env AWS_DEFAULT_REGION)")
      ->capture_default_str();
  app.add_option("--access-key", o.access_key, "Access key id (env AWS_ACCESS_KEY_ID)");
  app.add_option("--secret-key", o.secret_key, "Secret access key (env AWS_SECRET_ACCESS_KEY)");
  app.add_option("--timeout-ms", o.timeout_ms, "Per-request timeout")->capture_default_str();
  app.add_flag("--insecure", o.insecure, "Do not verify the server's TLS certificate");
  app.set_version_flag("--version", "keystone " KEYSTONE_VERSION);

  std::string table, item, key, key_condition, filter, values, names, pk, sk, stream_view;
  std::string condition, after, index;
  std::vector<std::string> global_indexes;
  size_t limit = 0;
  bool reverse = false, follow = false, latest = false;

  auto* tables = app.add_subcommand("tables", "List the tables");
  auto* describe = app.add_subcommand("describe", "Describe a table (DescribeTable JSON)");
  describe->add_option("table", table)->required();
  auto* create = app.add_subcommand("create-table", "Create a table");
  create->add_option("table", table)->required();
  create->add_option("--pk", pk, "Partition key NAME:TYPE (TYPE: S, N or B)")->required();
  create->add_option("--sk", sk, "Sort key NAME:TYPE");
  create->add_option("--gsi", global_indexes,
                     "Global secondary index NAME=PK:TYPE[,SK:TYPE], projecting ALL (repeatable)");
  create->add_option("--stream", stream_view,
                     "Stream view type: KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES "
                     "(default: no stream)");
  auto* drop = app.add_subcommand("delete-table", "Delete a table and its items");
  drop->add_option("table", table)->required();
  auto* put = app.add_subcommand("put", "Put an item");
  put->add_option("table", table)->required();
  put->add_option("item", item, "The item (DynamoDB JSON, or plain JSON with --simple)")
      ->required();
  put->add_option("--condition", condition, "ConditionExpression");
  put->add_option("--values", values, "ExpressionAttributeValues");
  auto* get = app.add_subcommand("get", "Get an item by key");
  get->add_option("table", table)->required();
  get->add_option("key", key, "The key (DynamoDB JSON, or plain JSON with --simple)")->required();
  auto* del = app.add_subcommand("delete", "Delete an item by key");
  del->add_option("table", table)->required();
  del->add_option("key", key)->required();
  del->add_option("--condition", condition, "ConditionExpression");
  del->add_option("--values", values, "ExpressionAttributeValues");
  auto* query = app.add_subcommand("query", "Query by key condition (all pages)");
  query->add_option("table", table)->required();
  query->add_option("--key-condition", key_condition, "KeyConditionExpression")->required();
  query->add_option("--filter", filter, "FilterExpression");
  query->add_option("--values", values, "ExpressionAttributeValues");
  query->add_option("--names", names, "ExpressionAttributeNames (JSON object)");
  query->add_option("--limit", limit, "Most items to print (0: all)");
  query->add_flag("--reverse", reverse, "Descending sort key order");
  query->add_option("--index", index, "Query this secondary index (IndexName)");
  auto* scan = app.add_subcommand("scan", "Scan a table (all pages)");
  scan->add_option("table", table)->required();
  scan->add_option("--filter", filter, "FilterExpression");
  scan->add_option("--values", values, "ExpressionAttributeValues");
  scan->add_option("--names", names, "ExpressionAttributeNames (JSON object)");
  scan->add_option("--limit", limit, "Most items to print (0: all)");
  scan->add_option("--index", index, "Scan this secondary index (IndexName)");
  auto* stream = app.add_subcommand("stream", "Print a table's stream records");
  stream->add_option("table", table)->required();
  stream->add_option("--after", after, "Start after this sequence number (default: oldest)");
  stream->add_flag("--latest", latest, "Start after the newest record");
  stream->add_flag("--follow", follow, "Keep waiting for new records (until Ctrl-C)");
  stream->add_option("--limit", limit, "Most records to print (0: all)");
  auto* health = app.add_subcommand("health", "Check that keystoned is up and ready");
  bool json = false;
  auto* sources = app.add_subcommand("sources", "Show the CDC sources' status");
  sources->add_flag("--json", json, "Print GET /sources' JSON as it is");
  std::string source_name, source_action;
  uint64_t sequence = 0;
  auto* source = app.add_subcommand("source", "Control a CDC source");
  source->require_subcommand(1);
  std::vector<CLI::App*> source_actions;
  for (const char* action : {"pause", "resume", "reset", "snapshot"}) {
    auto* sub = source->add_subcommand(action, std::string(action) + " the source");
    sub->add_option("name", source_name, "Source name")->required();
    source_actions.push_back(sub);
  }
  auto* position = source->add_subcommand(
      "position", "Continue after SEQUENCE (records up to it count as handled)");
  position->add_option("name", source_name, "Source name")->required();
  position->add_option("sequence", sequence, "Stream sequence number")->required();
  source_actions.push_back(position);
  for (auto* sub : {get, put, del, query, scan, stream}) {
    sub->add_flag("--simple", o.simple, "Items as plain JSON instead of DynamoDB JSON");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // Requests are always signed; keystoned without access keys accepts any.
  if (o.access_key.empty()) o.access_key = "keystone";
  if (o.secret_key.empty()) o.secret_key = "keystone";
  if (o.endpoint.find("://") == std::string::npos) o.endpoint = "http://" + o.endpoint;

  Client client(o);
  CallError error;
  std::string parse_error;
  const std::string ddb = "DynamoDB_20120810.";

  if (health->parsed()) {
    auto res = client.Get("/readyz");
    if (!res) return Fail("cannot reach " + o.endpoint + ": " + httplib::to_string(res.error()));
    std::printf("%s: %s", o.endpoint.c_str(), res->body.c_str());
    return res->status == 200 ? 0 : 1;
  }
  if (sources->parsed()) {
    auto body = client.Admin("GET", "/sources", &error);
    if (!body) return Fail(error);
    if (json) {
      std::printf("%s\n", body->c_str());
      return 0;
    }
    std::optional<Document> doc = ParseJson(*body, &parse_error);
    if (!doc || !doc->IsArray()) return Fail("unexpected answer: " + *body);
    std::printf("%-24s %-12s %12s %10s %10s %12s %12s  %s\n", "NAME", "STATE", "POSITION", "LAG",
                "IN_FLIGHT", "SENT", "ACKED", "TOPIC / ERROR");
    for (const auto& s : doc->GetArray()) {
      auto str = [&](const char* k) {
        return s.HasMember(k) && s[k].IsString() ? std::string(s[k].GetString()) : std::string();
      };
      auto num = [&](const char* k) {
        return s.HasMember(k) && s[k].IsNumber() ? s[k].GetDouble() : 0.0;
      };
      std::string tail = str("topic");
      if (!str("error").empty()) tail += " (" + str("error") + ")";
      std::printf("%-24s %-12s %12.0f %10.0f %10.0f %12.0f %12.0f  %s\n", str("name").c_str(),
                  str("state").c_str(), num("position"), num("lag_records"),
                  num("in_flight_records"), num("events_sent"), num("events_acked"), tail.c_str());
    }
    return 0;
  }
  for (auto* sub : source_actions) {
    if (!sub->parsed()) continue;
    std::string target = "/sources/" + source_name + "/" + sub->get_name();
    if (sub == position) target += "?sequence=" + std::to_string(sequence);
    auto body = client.Admin("POST", target, &error);
    if (!body) return Fail(error);
    std::printf("%s: %s\n", source_name.c_str(), sub->get_name().c_str());
    return 0;
  }
  if (tables->parsed()) {
    std::string start;
    for (;;) {
      std::string body =
          start.empty() ? "{}" : "{\"ExclusiveStartTableName\":" + Quote(start) + "}";
      auto doc = client.Call(ddb + "ListTables", body, &error);
      if (!doc) return Fail(error);
      for (const auto& name : (*doc)["TableNames"].GetArray())
        std::printf("%s\n", name.GetString());
      if (!doc->HasMember("LastEvaluatedTableName")) return 0;
      start = (*doc)["LastEvaluatedTableName"].GetString();
    }
  }
  if (describe->parsed() || drop->parsed()) {
    auto doc = client.Call(ddb + (describe->parsed() ? "DescribeTable" : "DeleteTable"),
                           "{\"TableName\":" + Quote(table) + "}", &error);
    if (!doc) return Fail(error);
    std::printf("%s\n", ToJson(*doc).c_str());
    return 0;
  }
  if (create->parsed()) {
    // Every key attribute once, with its type (AttributeDefinitions).
    std::map<std::string, std::string> definitions;
    auto define = [&](const std::string& spec, std::string* name) -> std::optional<std::string> {
      std::string type;
      if (!KeyAttribute(spec, name, &type)) {
        return "'" + spec + "' must be NAME:S, NAME:N or NAME:B";
      }
      auto [it, inserted] = definitions.emplace(*name, type);
      if (!inserted && it->second != type) {
        return "attribute " + *name + " is given as both " + it->second + " and " + type;
      }
      return std::nullopt;
    };
    auto key_schema = [](const std::string& hash, const std::string& range) {
      std::string out = "[{\"AttributeName\":" + Quote(hash) + ",\"KeyType\":\"HASH\"}";
      if (!range.empty()) out += ",{\"AttributeName\":" + Quote(range) + ",\"KeyType\":\"RANGE\"}";
      return out + "]";
    };
    std::string pk_name, sk_name;
    if (auto bad = define(pk, &pk_name)) return Fail("--pk: " + *bad);
    if (!sk.empty()) {
      if (auto bad = define(sk, &sk_name)) return Fail("--sk: " + *bad);
    }
    std::string indexes;
    for (const std::string& spec : global_indexes) {
      // NAME=PK:TYPE[,SK:TYPE]
      size_t equals = spec.find('=');
      if (equals == std::string::npos || equals == 0) {
        return Fail("--gsi '" + spec + "' must be NAME=PK:TYPE[,SK:TYPE]");
      }
      std::string keys = spec.substr(equals + 1);
      size_t comma = keys.find(',');
      std::string index_pk, index_sk;
      if (auto bad = define(keys.substr(0, comma), &index_pk)) return Fail("--gsi: " + *bad);
      if (comma != std::string::npos) {
        if (auto bad = define(keys.substr(comma + 1), &index_sk)) return Fail("--gsi: " + *bad);
      }
      indexes += std::string(indexes.empty() ? "" : ",") +
                 "{\"IndexName\":" + Quote(spec.substr(0, equals)) +
                 ",\"KeySchema\":" + key_schema(index_pk, index_sk) +
                 ",\"Projection\":{\"ProjectionType\":\"ALL\"}}";
    }
    std::string body =
        "{\"TableName\":" + Quote(table) +
        ",\"BillingMode\":\"PAY_PER_REQUEST\",\"KeySchema\":" + key_schema(pk_name, sk_name) +
        ",\"AttributeDefinitions\":[";
    bool first = true;
    for (const auto& [name, type] : definitions) {
      body += std::string(first ? "" : ",") + "{\"AttributeName\":" + Quote(name) +
              ",\"AttributeType\":" + Quote(type) + "}";
      first = false;
    }
    body += "]";
    if (!indexes.empty()) body += ",\"GlobalSecondaryIndexes\":[" + indexes + "]";
    if (!stream_view.empty()) {
      body += ",\"StreamSpecification\":{\"StreamEnabled\":true,\"StreamViewType\":" +
              Quote(stream_view) + "}";
    }
    body += "}";
    auto doc = client.Call(ddb + "CreateTable", body, &error);
    if (!doc) return Fail(error);
    std::printf("created table %s\n", table.c_str());
    return 0;
  }
  auto with_expressions = [&](std::string body) -> std::optional<std::string> {
    if (!values.empty()) {
      auto v = ValuesArgument(values, o.simple, &parse_error);
      if (!v) return std::nullopt;
      body += ",\"ExpressionAttributeValues\":" + *v;
    }
    if (!names.empty()) {
      auto n = ParseJson(names, &parse_error);
      if (!n) return std::nullopt;
      body += ",\"ExpressionAttributeNames\":" + ToJson(*n);
    }
    return body;
  };
  if (put->parsed() || get->parsed() || del->parsed()) {
    auto arg = ItemArgument(put->parsed() ? item : key, o.simple, &parse_error);
    if (!arg) return Fail(parse_error);
    std::string body =
        "{\"TableName\":" + Quote(table) + (put->parsed() ? ",\"Item\":" : ",\"Key\":") + *arg;
    if (!condition.empty()) body += ",\"ConditionExpression\":" + Quote(condition);
    auto full = with_expressions(body);
    if (!full) return Fail(parse_error);
    std::string op = put->parsed() ? "PutItem" : get->parsed() ? "GetItem" : "DeleteItem";
    if (del->parsed()) *full += ",\"ReturnValues\":\"ALL_OLD\"";
    auto doc = client.Call(ddb + op, *full + "}", &error);
    if (!doc) return Fail(error);
    const char* member = get->parsed() ? "Item" : "Attributes";
    if (doc->HasMember(member)) {
      std::printf("%s\n", ItemText((*doc)[member], o.simple).c_str());
    } else if (get->parsed()) {
      std::fprintf(stderr, "keystone: no item with that key\n");
      return 1;
    }
    return 0;
  }
  if (query->parsed() || scan->parsed()) {
    std::string body = "{\"TableName\":" + Quote(table);
    if (query->parsed()) {
      body += ",\"KeyConditionExpression\":" + Quote(key_condition);
      if (reverse) body += ",\"ScanIndexForward\":false";
    }
    if (!filter.empty()) body += ",\"FilterExpression\":" + Quote(filter);
    if (!index.empty()) body += ",\"IndexName\":" + Quote(index);
    auto full = with_expressions(body);
    if (!full) return Fail(parse_error);
    return PrintItems(client, query->parsed() ? "Query" : "Scan", *full, limit, o.simple);
  }
  if (stream->parsed()) {
    signal(SIGINT, [](int) { g_interrupted = true; });
    auto desc = client.Call(ddb + "DescribeTable", "{\"TableName\":" + Quote(table) + "}", &error);
    if (!desc) return Fail(error);
    const Value& t = (*desc)["Table"];
    if (!t.HasMember("LatestStreamArn")) return Fail("table " + table + " has no stream");
    std::string arn = t["LatestStreamArn"].GetString();
    const std::string streams = "DynamoDBStreams_20120810.";
    auto ds = client.Call(streams + "DescribeStream", "{\"StreamArn\":" + Quote(arn) + "}", &error);
    if (!ds) return Fail(error);
    std::string shard = (*ds)["StreamDescription"]["Shards"][0]["ShardId"].GetString();
    std::string request = "{\"StreamArn\":" + Quote(arn) + ",\"ShardId\":" + Quote(shard);
    if (!after.empty()) {
      request += ",\"ShardIteratorType\":\"AFTER_SEQUENCE_NUMBER\",\"SequenceNumber\":" +
                 Quote(Sequence21(after));
    } else {
      request +=
          latest ? ",\"ShardIteratorType\":\"LATEST\"" : ",\"ShardIteratorType\":\"TRIM_HORIZON\"";
    }
    auto it = client.Call(streams + "GetShardIterator", request + "}", &error);
    if (!it) return Fail(error);
    std::string iterator = (*it)["ShardIterator"].GetString();
    size_t printed = 0;
    auto idle_wait = std::chrono::milliseconds(50);
    while (!g_interrupted) {
      auto records = client.Call(streams + "GetRecords",
                                 "{\"ShardIterator\":" + Quote(iterator) + "}", &error);
      if (!records) return Fail(error);
      const Value& list = (*records)["Records"];
      for (const Value& r : list.GetArray()) {
        if (o.simple) {
          Document out;
          auto& a = out.GetAllocator();
          Value line(rapidjson::kObjectType);
          const Value& d = r["dynamodb"];
          line.AddMember("sequence", Value(d["SequenceNumber"], a), a);
          line.AddMember("event", Value(r["eventName"], a), a);
          std::string text = ToJson(line);
          text.pop_back();
          for (const char* member : {"Keys", "NewImage", "OldImage"}) {
            if (d.HasMember(member)) {
              text += ",\"" + std::string(member) + "\":" + ItemText(d[member], true);
            }
          }
          std::printf("%s}\n", text.c_str());
        } else {
          std::printf("%s\n", ToJson(r).c_str());
        }
        std::fflush(stdout);
        if (limit != 0 && ++printed >= limit) return 0;
      }
      if (!records->HasMember("NextShardIterator")) return 0;  // closed shard
      iterator = (*records)["NextShardIterator"].GetString();
      if (list.Empty()) {
        if (!follow) return 0;
        // Polling like the SDKs' stream readers, backing off while idle.
        std::this_thread::sleep_for(idle_wait);
        idle_wait = std::min(idle_wait * 2, std::chrono::milliseconds(1000));
      } else {
        idle_wait = std::chrono::milliseconds(50);
      }
    }
    return 0;
  }
  return Fail("no command");
}
