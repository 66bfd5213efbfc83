#pragma once

// Internal to cdc/ (not a public header: it includes rapidjson): JSON writing
// helpers shared by the encoders and the aggregator. Stateless functions;
// thread-compatible.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "base/status.h"
#include "lmdb_store/attribute_value.h"
#include "lmdb_store/item_codec.h"

namespace keystone::cdc::internal {

using JsonBuffer = rapidjson::StringBuffer;

// rapidjson's Writer, except that a string needing no escape (no control
// character, quote or backslash: nearly every attribute name and value) is
// copied whole rather than character by character, which made rapidjson's
// escaping loop a third of a source's encoding time.
class JsonWriter : public rapidjson::Writer<JsonBuffer> {
 public:
  using Base = rapidjson::Writer<JsonBuffer>;
  explicit JsonWriter(JsonBuffer& buffer) : Base(buffer) {}

  bool String(const char* s, rapidjson::SizeType n, bool copy = false) {
    if (NeedsEscape(s, n)) return Base::String(s, n, copy);
    Prefix(rapidjson::kStringType);
    char* out = os_->Push(n + 2);
    out[0] = '"';
    if (n > 0) std::memcpy(out + 1, s, n);
    out[n + 1] = '"';
    return EndValue(true);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy = false) { return String(s, n, copy); }
  // Writes `json` (one valid JSON value, not a string) verbatim; RawValue
  // copies it a character at a time.
  bool RawJson(std::string_view json) {
    Prefix(rapidjson::kObjectType);
    if (!json.empty()) std::memcpy(os_->Push(json.size()), json.data(), json.size());
    return EndValue(true);
  }

  // Whether `s` has a byte below 0x20, '"' or '\\'; eight bytes at a time
  // (the classic "has a byte less than / equal to" word tests, exact).
  static bool NeedsEscape(const char* s, size_t n) {
    constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t v;
      std::memcpy(&v, s + i, 8);
      uint64_t quote = v ^ (kOnes * '"'), backslash = v ^ (kOnes * '\\');
      uint64_t hits = ((v - kOnes * 0x20) & ~v) | ((quote - kOnes) & ~quote) |
                      ((backslash - kOnes) & ~backslash);
      if ((hits & kHighs) != 0) return true;
    }
    for (; i < n; ++i) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c == '"' || c == '\\') return true;
    }
    return false;
  }
};

inline void WriteString(std::string_view s, JsonWriter& w) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
inline void WriteKey(std::string_view s, JsonWriter& w) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
// Writes `text` (a valid JSON number) verbatim, keeping every digit.
inline void WriteNumberText(std::string_view text, JsonWriter& w) { w.RawJson(text); }

std::string Base64(std::string_view bytes);

// Appends `s` to *out as a JSON string, exactly as JsonWriter writes it.
void AppendJsonString(std::string_view s, std::string* out);

// Appends to a string through a cursor: one capacity check per piece and no
// size update per piece (std::string::append's cost when pieces are a few
// bytes, as JSON's punctuation is). The string holds slack while a TextOut
// writes to it; its size is right again once the TextOut is destroyed.
class TextOut {
 public:
  explicit TextOut(std::string* s) : s_(*s), used_(s->size()) { s_.resize(s_.capacity()); }
  ~TextOut() { s_.resize(used_); }
  TextOut(const TextOut&) = delete;
  TextOut& operator=(const TextOut&) = delete;

  void Put(char c) {
    Reserve(1);
    s_[used_++] = c;
  }
  void Append(std::string_view text) {
    Reserve(text.size());
    std::memcpy(s_.data() + used_, text.data(), text.size());
    used_ += text.size();
  }

 private:
  void Reserve(size_t more) {
    if (used_ + more > s_.size()) [[unlikely]]
      Grow(more);
  }
  [[gnu::noinline]] void Grow(size_t more) {
    s_.resize(std::max(2 * s_.size(), used_ + more + 64));
  }

  std::string& s_;
  size_t used_;
};

// Appends `s` to `out` as a JSON string, exactly as AppendJsonString does.
void AppendEscapedJsonString(std::string_view s, TextOut& out);  // the rare case
inline void AppendJsonString(std::string_view s, TextOut& out) {
  if (JsonWriter::NeedsEscape(s.data(), s.size())) [[unlikely]] {
    return AppendEscapedJsonString(s, out);
  }
  out.Put('"');
  out.Append(s);
  out.Put('"');
}

// Appends the JSON of the parts a store::ValueVisitor is shown, plain or typed
// (the forms below), to a string: plain text, without a rapidjson Writer's
// bookkeeping per value (which was most of a source's encoding time).
// `item_root`: the first map is an item (typed form: no {"M":...} around it)
// rather than a value.
class JsonAppender final : public store::ValueVisitor {
 public:
  // `out` must outlive the appender.
  JsonAppender(TextOut& out, bool typed, bool item_root)
      : out_(out), typed_(typed), item_root_(item_root) {}

  void OnString(std::string_view s) override {
    Separate();
    if (typed_ && !InSet()) return Wrapped("S", [&] { AppendJsonString(s, out_); });
    AppendJsonString(s, out_);
  }
  void OnBinary(std::string_view bytes) override {
    Separate();
    if (typed_ && !InSet()) return Wrapped("B", [&] { AppendJsonString(Base64(bytes), out_); });
    AppendJsonString(Base64(bytes), out_);
  }
  void OnNumber(std::string_view text) override {
    Separate();
    if (!typed_) return (void)out_.Append(text);  // the exact decimal text, as a JSON number
    if (InSet()) return AppendJsonString(text, out_);
    Wrapped("N", [&] { AppendJsonString(text, out_); });
  }
  void OnBool(bool b) override {
    Separate();
    if (!typed_) return (void)out_.Append(b ? "true" : "false");
    Wrapped("BOOL", [&] { out_.Append(b ? "true" : "false"); });
  }
  void OnNull() override {
    Separate();
    if (!typed_) return (void)out_.Append("null");
    Wrapped("NULL", [&] { out_.Append("true"); });
  }
  void OnBeginMap(size_t) override {
    Separate();
    bool wrap = typed_ && !(item_root_ && depth_ == 0);
    if (wrap) out_.Append(R"({"M":)");
    out_.Put('{');
    Push(wrap ? kWrappedMap : kMap);
  }
  void OnName(std::string_view name) override {
    if (!TakeFirst()) out_.Put(',');
    AppendJsonString(name, out_);
    out_.Put(':');
  }
  void OnEndMap() override {
    out_.Put('}');
    if (Pop() == kWrappedMap) out_.Put('}');
  }
  void OnBeginList(store::AttributeType type, size_t) override {
    Separate();
    if (typed_) {
      out_.Append(R"({")");
      out_.Append(store::AttributeTypeName(type));
      out_.Append(R"(":)");
    }
    out_.Put('[');
    Push(type == store::AttributeType::kL ? kList : kSet);
  }
  void OnEndList() override {
    out_.Put(']');
    Pop();
    if (typed_) out_.Put('}');
  }

 private:
  enum Frame : uint8_t { kMap, kWrappedMap, kList, kSet };
  // Deeper than any item can be (the guards below only keep a bug from
  // writing out of bounds).
  static constexpr size_t kMaxFrames = 64;
  static_assert(kMaxFrames > store::kMaxDecodeDepth);

  Frame Top() const { return depth_ <= kMaxFrames ? frames_[depth_ - 1] : kMap; }
  bool InSet() const { return depth_ > 0 && Top() == kSet; }
  // Whether the innermost container has had no member yet (and now has).
  bool TakeFirst() {
    if (depth_ == 0 || depth_ > kMaxFrames) return false;
    bool first = first_[depth_ - 1];
    first_[depth_ - 1] = false;
    return first;
  }
  // A list member after the first is preceded by a comma (a map's by its
  // name, written with the comma).
  void Separate() {
    if (depth_ > 0 && Top() != kMap && Top() != kWrappedMap && !TakeFirst()) out_.Put(',');
  }
  void Push(Frame f) {
    if (depth_ < kMaxFrames) {
      frames_[depth_] = f;
      first_[depth_] = true;
    }
    ++depth_;
  }
  Frame Pop() {
    Frame f = Top();
    --depth_;
    return f;
  }
  template <typename Body>
  void Wrapped(std::string_view type, Body body) {
    out_.Append(R"({")");
    out_.Append(type);
    out_.Append(R"(":)");
    body();
    out_.Put('}');
  }

  TextOut& out_;
  bool typed_;
  bool item_root_;
  size_t depth_ = 0;
  Frame frames_[kMaxFrames];
  bool first_[kMaxFrames];
};

// Appends the JSON of an encoded item (store::EncodeItem's bytes), plain or
// typed, to *out. kInternal when the encoding is corrupt (*out then holds a
// partial text).
Status AppendEncodedItem(std::string_view encoded, bool typed, std::string* out);
// The same for an Item.
void AppendItem(const store::Item& item, bool typed, std::string* out);

// An encoded item (store::EncodeItem's bytes) as plain or typed JSON, one
// value of `w`. kInternal when the encoding is corrupt (then nothing is
// written).
Status WriteEncodedItem(std::string_view encoded, bool typed, JsonWriter& w);

// Plain JSON (Debezium): S as a string, N as a JSON number with its exact
// decimal text, B as base64, BOOL, NULL as null, M as an object, L as an
// array, SS/NS/BS as arrays. With `connect_schema`, lists whose elements do
// not share one Kafka Connect schema are written as a string holding their
// JSON (the io.debezium.data.Json convention), as WriteConnectSchema declares.
void WritePlainValue(const store::AttributeValue& value, JsonWriter& w,
                     bool connect_schema = false);
void WritePlainItem(const store::Item& item, JsonWriter& w, bool connect_schema = false);

// DynamoDB JSON: {"S":"x"}, {"N":"1.5"}, {"B":"<base64>"}, ...
void WriteTypedValue(const store::AttributeValue& value, JsonWriter& w);
void WriteTypedItem(const store::Item& item, JsonWriter& w);

// The Kafka Connect schema of a value as WritePlainValue(connect_schema=true)
// writes it; `field` is the struct field name (empty for array items).
void WriteConnectSchema(const store::AttributeValue& value, std::string_view field, bool optional,
                        JsonWriter& w);
// {"type":"struct","fields":[...]} for an item; `name` empty for none.
void WriteItemConnectSchema(const store::Item& item, std::string_view field, bool optional,
                            std::string_view name, JsonWriter& w);

}  // namespace keystone::cdc::internal
