#include "daemon/dynamodb_json.h"

#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "daemon/dynamodb_json_internal.h"
#include "daemon/dynamodb_request.h"
#include "lmdb_store/item_codec.h"

namespace keystone::daemon {

using store::AttributeType;
using store::AttributeValue;
using store::Item;
using store::Number;

namespace {

// The Java class Coral names for a JSON number it could not convert.
std::string_view NumberClass(const rapidjson::Value& v) {
  if (v.IsInt()) {
    int i = v.GetInt();
    return i >= -32768 && i <= 32767 ? "java.lang.Short" : "java.lang.Integer";
  }
  if (v.IsInt64() || v.IsUint64()) return "java.lang.Long";
  return "java.lang.Double";
}

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeBase64Table() {
  std::array<int8_t, 256> table{};
  for (auto& t : table) t = -1;
  for (int i = 0; i < 64; ++i)
    table[static_cast<uint8_t>(kBase64Alphabet[i])] = static_cast<int8_t>(i);
  return table;
}
constexpr std::array<int8_t, 256> kBase64Table = MakeBase64Table();

// "[a, b, a]": the input collection as DynamoDB quotes it.
std::string CollectionText(const rapidjson::Value& array) {
  std::string out = "[";
  for (rapidjson::SizeType i = 0; i < array.Size(); ++i) {
    if (i > 0) out += ", ";
    out += JsonStringView(array[i]);
  }
  out += "]";
  return out;
}

Status DuplicatesError(const rapidjson::Value& array) {
  return InvalidArgument("One or more parameter values were invalid: Input collection " +
                         CollectionText(array) + " contains duplicates.");
}

Result<std::string> DecodeBlob(const rapidjson::Value& v) {
  if (!v.IsString()) return WrongJsonType(v, JsonKind::kBlob);
  return Base64Decode(JsonStringView(v));
}

// Every element of a set must be a JSON string.
Status CheckStringArray(const rapidjson::Value& array, JsonKind element_kind) {
  if (!array.IsArray()) return WrongJsonType(array, JsonKind::kList);
  for (const auto& element : array.GetArray()) {
    if (!element.IsString()) return WrongJsonType(element, element_kind);
  }
  return Status::Ok();
}

Result<AttributeValue> ConvertValue(const rapidjson::Value& value, int depth);

Result<AttributeValue> ConvertTyped(AttributeType type, const rapidjson::Value& v, int depth) {
  switch (type) {
    case AttributeType::kS:
      return AttributeValue::S(std::string(JsonStringView(v)));
    case AttributeType::kN: {
      KS_ASSIGN_OR_RETURN(Number n, Number::Parse(JsonStringView(v)));
      return AttributeValue::N(std::move(n));
    }
    case AttributeType::kB: {
      KS_ASSIGN_OR_RETURN(std::string bytes, DecodeBlob(v));
      return AttributeValue::B(std::move(bytes));
    }
    case AttributeType::kBool:
      return AttributeValue::Bool(v.GetBool());
    case AttributeType::kNull:
      if (!v.GetBool()) {
        return InvalidArgument(
            "One or more parameter values were invalid: Null attribute value types must have the "
            "value of true");
      }
      return AttributeValue::Null();
    case AttributeType::kM: {
      store::AttributeMap m;
      for (const auto& member : v.GetObject()) {
        if (member.value.IsNull()) continue;
        KS_ASSIGN_OR_RETURN(AttributeValue child, ConvertValue(member.value, depth + 1));
        m.insert_or_assign(std::string(JsonStringView(member.name)), std::move(child));
      }
      return AttributeValue::M(std::move(m));
    }
    case AttributeType::kL: {
      store::AttributeList l;
      l.reserve(v.Size());
      for (const auto& element : v.GetArray()) {
        KS_ASSIGN_OR_RETURN(AttributeValue child, ConvertValue(element, depth + 1));
        l.push_back(std::move(child));
      }
      return AttributeValue::L(std::move(l));
    }
    case AttributeType::kSS: {
      std::vector<std::string> ss;
      ss.reserve(v.Size());
      for (const auto& element : v.GetArray()) ss.emplace_back(JsonStringView(element));
      std::sort(ss.begin(), ss.end());
      if (std::adjacent_find(ss.begin(), ss.end()) != ss.end()) return DuplicatesError(v);
      return AttributeValue::SS(std::move(ss));
    }
    case AttributeType::kNS: {
      std::vector<Number> ns;
      ns.reserve(v.Size());
      for (const auto& element : v.GetArray()) {
        KS_ASSIGN_OR_RETURN(Number n, Number::Parse(JsonStringView(element)));
        ns.push_back(std::move(n));
      }
      std::sort(ns.begin(), ns.end());
      if (std::adjacent_find(ns.begin(), ns.end()) != ns.end()) return DuplicatesError(v);
      return AttributeValue::NS(std::move(ns));
    }
    case AttributeType::kBS: {
      std::vector<std::string> bs;
      bs.reserve(v.Size());
      for (const auto& element : v.GetArray()) {
        KS_ASSIGN_OR_RETURN(std::string bytes, DecodeBlob(element));
        bs.push_back(std::move(bytes));
      }
      std::sort(bs.begin(), bs.end());
      if (std::adjacent_find(bs.begin(), bs.end()) != bs.end()) return DuplicatesError(v);
      return AttributeValue::BS(std::move(bs));
    }
  }
  return Internal("unhandled attribute type");
}

// The JSON form a type key's value must have.
Status CheckTypedShape(AttributeType type, const rapidjson::Value& v) {
  switch (type) {
    case AttributeType::kS:
    case AttributeType::kN:
      return v.IsString() ? Status::Ok() : WrongJsonType(v, JsonKind::kString);
    case AttributeType::kB:
      return v.IsString() ? Status::Ok() : WrongJsonType(v, JsonKind::kBlob);
    case AttributeType::kBool:
    case AttributeType::kNull:
      return v.IsBool() ? Status::Ok() : WrongJsonType(v, JsonKind::kBoolean);
    case AttributeType::kM:
      return v.IsObject() ? Status::Ok() : WrongJsonType(v, JsonKind::kMap);
    case AttributeType::kL:
      return v.IsArray() ? Status::Ok() : WrongJsonType(v, JsonKind::kList);
    case AttributeType::kSS:
    case AttributeType::kNS:
      return CheckStringArray(v, JsonKind::kString);
    case AttributeType::kBS:
      return CheckStringArray(v, JsonKind::kBlob);
  }
  return Internal("unhandled attribute type");
}

Result<AttributeValue> ConvertValue(const rapidjson::Value& value, int depth) {
  if (!value.IsObject()) return WrongJsonType(value, JsonKind::kStructure);
  if (depth > kMaxJsonNesting) {
    return InvalidArgument("Nesting Levels have exceeded supported limits");
  }
  const rapidjson::Value* typed = nullptr;
  AttributeType type = AttributeType::kNull;
  int count = 0;
  for (const auto& member : value.GetObject()) {
    AttributeType t;
    // Unknown members and JSON nulls are ignored, as Coral ignores them.
    if (member.value.IsNull() || !store::ParseAttributeTypeName(JsonStringView(member.name), &t)) {
      continue;
    }
    KS_RETURN_IF_ERROR(CheckTypedShape(t, member.value));
    typed = &member.value;
    type = t;
    ++count;
  }
  if (count == 0) {
    return InvalidArgument(
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
  }
  if (count > 1) {
    return InvalidArgument(
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the "
        "supported datatypes");
  }
  return ConvertTyped(type, *typed, depth);
}

}  // namespace

Status WrongJsonType(const rapidjson::Value& value, JsonKind expected) {
  if (value.IsArray() && expected != JsonKind::kList) {
    return SerializationError("Start of list found where not expected");
  }
  if (value.IsObject() && expected != JsonKind::kStructure && expected != JsonKind::kMap) {
    return SerializationError("Start of structure or map found where not expected.");
  }
  std::string_view target;
  switch (expected) {
    case JsonKind::kString:
      target = "an String";
      break;
    case JsonKind::kBoolean:
      target = "an Boolean";
      break;
    case JsonKind::kInteger:
      target = "an Integer";
      break;
    case JsonKind::kBlob:
      target = "a Blob";
      break;
    case JsonKind::kStructure:
      return SerializationError("Expected null");
    case JsonKind::kList:
      if (value.IsObject()) {
        return SerializationError("Start of structure or map found where not expected.");
      }
      return SerializationError("Expected list or null");
    case JsonKind::kMap:
      if (value.IsArray()) return SerializationError("Start of list found where not expected");
      return SerializationError("Expected map or null");
  }
  if (value.IsString()) {
    if (expected == JsonKind::kBoolean) {
      std::string upper(JsonStringView(value));
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return SerializationError("'" + upper + "' can not be converted to an Boolean");
    }
    return SerializationError("class java.lang.String can not be converted to " +
                              std::string(target));
  }
  if (value.IsBool()) {
    return SerializationError("class java.lang.Boolean can not be converted to " +
                              std::string(target));
  }
  if (value.IsNumber()) {
    return SerializationError("class " + std::string(NumberClass(value)) +
                              " can not be converted to " + std::string(target));
  }
  return SerializationError("Unexpected JSON value where " + std::string(target) + " belongs");
}

namespace {

// Whether every byte of `text` is below 0x80, eight at a time.
bool IsAscii(std::string_view text) {
  const char* p = text.data();
  const char* end = p + text.size();
  uint64_t high_bits = 0;
  for (; end - p >= 8; p += 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    high_bits |= word;
  }
  for (; p < end; ++p) high_bits |= static_cast<unsigned char>(*p);
  return (high_bits & 0x8080808080808080ull) == 0;
}

// Passes a reader's events on to a document, and stops the reader (false)
// once arrays and objects nest deeper than kMaxRequestJsonDepth.
class DepthBoundedHandler {
 public:
  explicit DepthBoundedHandler(rapidjson::Document& doc) : doc_(doc) {}
  bool too_deep() const { return too_deep_; }

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return doc_.RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc_.String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc_.Key(s, n, copy); }
  bool StartObject() { return Enter() && doc_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return doc_.EndObject(members);
  }
  bool StartArray() { return Enter() && doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return doc_.EndArray(elements);
  }

 private:
  bool Enter() {
    if (++depth_ <= kMaxRequestJsonDepth) return true;
    too_deep_ = true;
    return false;
  }
  rapidjson::Document& doc_;
  int depth_ = 0;
  bool too_deep_ = false;
};

// Document::Populate's generator: parses `text` with `kFlags` into the
// document through a DepthBoundedHandler, keeping the reader's outcome.
template <unsigned kFlags>
struct BoundedParse {
  std::string_view text;
  rapidjson::ParseResult result;
  bool too_deep = false;
  bool operator()(rapidjson::Document& doc) {
    rapidjson::MemoryStream memory(text.data(), text.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(memory);
    DepthBoundedHandler handler(doc);
    rapidjson::Reader reader;
    result = reader.Parse<kFlags>(in, handler);
    too_deep = handler.too_deep();
    return !result.IsError();
  }
};

template <unsigned kFlags>
Status ParseBounded(std::string_view text, rapidjson::Document* doc) {
  BoundedParse<kFlags> parse{text};
  doc->Populate(parse);
  if (parse.too_deep) return InvalidArgument("Nesting Levels have exceeded supported limits");
  if (parse.result.IsError()) {
    doc->SetNull();
    return SerializationError("Malformed JSON at offset " + std::to_string(parse.result.Offset()) +
                              ": " + rapidjson::GetParseError_En(parse.result.Code()));
  }
  return Status::Ok();
}

}  // namespace

Status ParseJsonText(std::string_view text, rapidjson::Document* doc) {
  // Pure ASCII (nearly every request) is valid UTF-8 as it stands, and
  // rapidjson's \u escapes decode to valid UTF-8: only other input needs its
  // per-character check, which costs a fifth of parsing a typical item.
  constexpr unsigned kAsciiFlags = rapidjson::kParseIterativeFlag;
  constexpr unsigned kFlags = kAsciiFlags | rapidjson::kParseValidateEncodingFlag;
  if (IsAscii(text)) return ParseBounded<kAsciiFlags>(text, doc);
  return ParseBounded<kFlags>(text, doc);
}

Result<AttributeValue> JsonToAttributeValue(const rapidjson::Value& value) {
  return ConvertValue(value, 1);
}

Result<Item> JsonToItem(const rapidjson::Value& value) {
  if (!value.IsObject()) return WrongJsonType(value, JsonKind::kMap);
  Item item;
  for (const auto& member : value.GetObject()) {
    if (member.value.IsNull()) continue;
    KS_ASSIGN_OR_RETURN(AttributeValue v, ConvertValue(member.value, 1));
    item.insert_or_assign(std::string(JsonStringView(member.name)), std::move(v));
  }
  return item;
}

namespace {

// DynamoDB JSON of what a store::ValueVisitor is shown (an Item walked, or
// an item's encoding read, alike): every value in its {"T": ...} wrapper,
// except the members of SS, NS and BS (bare strings) and, when `bare_item`,
// the outermost map (an item: a bare object of attributes).
class JsonVisitor final : public store::ValueVisitor {
 public:
  JsonVisitor(JsonWriter& out, bool bare_item) : out_(out), bare_item_(bare_item) {}

  void OnString(std::string_view s) override {
    Open(AttributeType::kS);
    WriteString(s, out_);
    Close();
  }
  void OnBinary(std::string_view bytes) override {
    Open(AttributeType::kB);
    WriteString(Base64Encode(bytes), out_);
    Close();
  }
  void OnNumber(std::string_view text) override {
    Open(AttributeType::kN);
    WriteString(text, out_);
    Close();
  }
  void OnBool(bool b) override {
    Open(AttributeType::kBool);
    out_.Bool(b);
    Close();
  }
  void OnNull() override {
    Open(AttributeType::kNull);
    out_.Bool(true);
    Close();
  }
  void OnBeginMap(size_t) override {
    const bool item = bare_item_ && containers_.empty();
    if (!item) Open(AttributeType::kM);
    out_.StartObject();
    containers_.push_back(item ? Container::kItem : Container::kWrapped);
  }
  void OnName(std::string_view name) override { WriteKey(name, out_); }
  void OnEndMap() override {
    const Container map = containers_.back();
    containers_.pop_back();
    out_.EndObject();
    if (map == Container::kWrapped) out_.EndObject();
  }
  void OnBeginList(AttributeType type, size_t) override {
    Open(type);
    out_.StartArray();
    containers_.push_back(type == AttributeType::kL ? Container::kWrapped : Container::kSet);
  }
  void OnEndList() override {
    containers_.pop_back();
    out_.EndArray();
    out_.EndObject();
  }

 private:
  enum class Container { kItem, kWrapped, kSet };

  bool InSet() const { return !containers_.empty() && containers_.back() == Container::kSet; }
  void Open(AttributeType type) {
    if (InSet()) return;
    out_.StartObject();
    WriteKey(store::AttributeTypeName(type), out_);
  }
  void Close() {
    if (!InSet()) out_.EndObject();
  }

  JsonWriter& out_;
  const bool bare_item_;
  std::vector<Container> containers_;
};

}  // namespace

void WriteAttributeValue(const AttributeValue& value, JsonWriter& out) {
  JsonVisitor visitor(out, /*bare_item=*/false);
  store::VisitValue(value, visitor);
}

void WriteItem(const Item& item, JsonWriter& out) {
  JsonVisitor visitor(out, /*bare_item=*/true);
  store::VisitItem(item, visitor);
}

Status WriteEncodedItem(std::string_view encoded, JsonWriter& out) {
  JsonVisitor visitor(out, /*bare_item=*/true);
  return store::VisitEncodedItem(encoded, visitor);
}

Result<AttributeValue> AttributeValueFromJson(std::string_view json) {
  rapidjson::Document doc;
  KS_RETURN_IF_ERROR(ParseJsonText(json, &doc));
  KS_ASSIGN_OR_RETURN(AttributeValue value, JsonToAttributeValue(doc));
  KS_RETURN_IF_ERROR(store::ValidateValue(value, "value"));
  return value;
}

Result<Item> ItemFromJson(std::string_view json) {
  rapidjson::Document doc;
  KS_RETURN_IF_ERROR(ParseJsonText(json, &doc));
  KS_ASSIGN_OR_RETURN(Item item, JsonToItem(doc));
  KS_RETURN_IF_ERROR(store::ValidateItem(item));
  return item;
}

std::string AttributeValueToJson(const AttributeValue& value) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  WriteAttributeValue(value, writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string ItemToJson(const Item& item) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  WriteItem(item, writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16 |
                 static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8 |
                 static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(kBase64Alphabet[(n >> 6) & 63]);
    out.push_back(kBase64Alphabet[n & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8;
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return SerializationError("'" + std::string(text) +
                              "' can not be converted to a Blob: " + std::string(why));
  };
  if (text.size() % 4 != 0) {
    return invalid("Base64 encoded length is expected a multiple of 4 bytes but found: " +
                   std::to_string(text.size()));
  }
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  const size_t data_chars = text.size() - padding;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < data_chars; ++i) {
    int8_t d = kBase64Table[static_cast<uint8_t>(text[i])];
    if (d < 0) {
      return invalid(std::string("Invalid Base64 character: '") + text[i] + "'");
    }
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Bits left over must be zero: "QQ==" is the only encoding of "A".
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return invalid("Invalid last non-pad Base64 character detected");
  }
  return out;
}

std::string JsonQuoted(std::string_view s) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace keystone::daemon
