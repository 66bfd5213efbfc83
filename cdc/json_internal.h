#pragma once

// Internal to cdc/ (not a public header: it includes rapidjson): JSON writing
// helpers shared by the encoders and the aggregator. Stateless functions;
// thread-compatible.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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

 private:
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
inline void WriteNumberText(std::string_view text, JsonWriter& w) {
  w.RawValue(text.data(), text.size(), rapidjson::kNumberType);
}

std::string Base64(std::string_view bytes);

// Writes the parts a store::ValueVisitor is shown as JSON, plain or typed
// (the forms below). `item_root`: the first map is an item (typed form: no
// {"M":...} around it) rather than a value.
class JsonValueWriter final : public store::ValueVisitor {
 public:
  JsonValueWriter(JsonWriter& w, bool typed, bool item_root)
      : w_(w), typed_(typed), item_root_(item_root) {}

  void OnString(std::string_view s) override {
    if (typed_ && !InSet()) return Wrapped("S", [&] { WriteString(s, w_); });
    WriteString(s, w_);
  }
  void OnBinary(std::string_view bytes) override {
    if (typed_ && !InSet()) return Wrapped("B", [&] { WriteString(Base64(bytes), w_); });
    WriteString(Base64(bytes), w_);
  }
  void OnNumber(std::string_view text) override {
    if (!typed_) return WriteNumberText(text, w_);
    if (InSet()) return WriteString(text, w_);
    Wrapped("N", [&] { WriteString(text, w_); });
  }
  void OnBool(bool b) override {
    if (!typed_) return (void)w_.Bool(b);
    Wrapped("BOOL", [&] { w_.Bool(b); });
  }
  void OnNull() override {
    if (!typed_) return (void)w_.Null();
    Wrapped("NULL", [&] { w_.Bool(true); });
  }
  void OnBeginMap(size_t) override {
    bool wrap = typed_ && !(item_root_ && depth_ == 0);
    Push(wrap ? kWrappedMap : kMap);
    if (wrap) {
      w_.StartObject();
      WriteKey("M", w_);
    }
    w_.StartObject();
  }
  void OnName(std::string_view name) override { WriteKey(name, w_); }
  void OnEndMap() override {
    w_.EndObject();
    if (Pop() == kWrappedMap) w_.EndObject();
  }
  void OnBeginList(store::AttributeType type, size_t) override {
    Push(type == store::AttributeType::kL ? kList : kSet);
    if (typed_) {
      w_.StartObject();
      WriteKey(store::AttributeTypeName(type), w_);
    }
    w_.StartArray();
  }
  void OnEndList() override {
    w_.EndArray();
    Pop();
    if (typed_) w_.EndObject();
  }

 private:
  enum Frame : uint8_t { kMap, kWrappedMap, kList, kSet };

  bool InSet() const { return depth_ > 0 && frames_[depth_ - 1] == kSet; }
  void Push(Frame f) {
    // Deeper than any stored item; the frame is only needed for sets, whose
    // members are never containers.
    if (depth_ < sizeof(frames_)) frames_[depth_] = f;
    ++depth_;
  }
  Frame Pop() {
    --depth_;
    return depth_ < sizeof(frames_) ? frames_[depth_] : kMap;
  }
  template <typename Body>
  void Wrapped(std::string_view type, Body body) {
    w_.StartObject();
    WriteKey(type, w_);
    body();
    w_.EndObject();
  }

  JsonWriter& w_;
  bool typed_;
  bool item_root_;
  size_t depth_ = 0;
  Frame frames_[64];
};

// An encoded item (store::EncodeItem's bytes) as plain or typed JSON.
// kInternal when the encoding is corrupt (the output is then partial).
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
