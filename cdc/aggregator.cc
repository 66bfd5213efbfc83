#include "cdc/aggregator.h"

#include <algorithm>

#include "base/check.h"
#include "cdc/json_internal.h"

namespace keystone::cdc {

using internal::JsonBuffer;
using internal::JsonWriter;
using internal::WriteKey;
using internal::WriteString;
using store::AttributeType;
using store::AttributeValue;
using store::Item;
using store::Number;

std::string AverageText(const Number& sum, uint64_t count) {
  KS_CHECK(count > 0);
  if (sum.is_zero()) return "0";
  // sum = 0.D × 10^e; long division of the digits D by count, keeping 18
  // significant quotient digits (17 plus one to round with).
  const std::string& digits = sum.digits();
  const size_t length = digits.size();
  unsigned __int128 remainder = 0;
  std::string quotient;
  size_t used = 0;
  int extra = 0;
  size_t significant = 0;
  for (;;) {
    int d = 0;
    if (used < length) {
      d = digits[used++] - '0';
    } else {
      if (remainder == 0) break;
      ++extra;
    }
    remainder = remainder * 10 + static_cast<unsigned>(d);
    unsigned q = static_cast<unsigned>(remainder / count);
    remainder %= count;
    if (significant > 0 || q != 0) {
      quotient.push_back(static_cast<char>('0' + q));
      ++significant;
    }
    if (significant >= 18) break;
  }
  // quotient × 10^exponent is the (truncated) average.
  int64_t exponent = static_cast<int64_t>(sum.exponent()) - static_cast<int64_t>(used) - extra;
  if (quotient.size() > 17) {
    char next = quotient[17];
    quotient.resize(17);
    exponent += 1;
    if (next >= '5') {
      int i = 16;
      while (i >= 0 && quotient[i] == '9') quotient[i--] = '0';
      if (i >= 0) {
        ++quotient[i];
      } else {
        quotient.insert(quotient.begin(), '1');
      }
    }
  }
  if (quotient.empty()) return "0";
  std::string text = (sum.negative() ? "-" : "") + quotient + "E" + std::to_string(exponent);
  auto parsed = Number::Parse(text);
  // Only an average below DynamoDB's smallest magnitude fails to parse.
  return parsed.ok() ? parsed->ToString() : "0";
}

namespace {

const Item& ImageOf(const ChangeEvent& change) {
  const std::optional<Item>& image =
      change.op == ChangeOp::kDelete ? change.old_image : change.new_image;
  return image ? *image : change.keys;
}

std::string GroupText(const AttributeValue& value) {
  switch (value.type()) {
    case AttributeType::kS:
      return value.s();
    case AttributeType::kN:
      return value.n().ToString();
    case AttributeType::kB:
      return internal::Base64(value.b());
    case AttributeType::kBool:
      return value.boolean() ? "true" : "false";
    case AttributeType::kNull:
      return "null";
    default: {
      JsonBuffer buffer;
      JsonWriter w(buffer);
      internal::WriteTypedValue(value, w);
      return std::string(buffer.GetString(), buffer.GetSize());
    }
  }
}

}  // namespace

Aggregator::Aggregator(AggregateOptions options)
    : options_(std::move(options)),
      window_ms_(static_cast<int64_t>(std::max<uint32_t>(1, options_.window_seconds)) * 1000) {}

std::optional<AggregateWindow> Aggregator::Add(const ChangeEvent& change) {
  std::optional<AggregateWindow> closed;
  int64_t start = change.timestamp_ms - change.timestamp_ms % window_ms_;
  if (open_ && start > open_->start_ms) closed = Finish();
  if (!open_) {
    open_.emplace();
    open_->start_ms = start;
    open_->end_ms = start + window_ms_;
    open_->first_sequence = change.sequence;
  }
  open_->last_sequence = change.sequence;

  const Item& image = ImageOf(change);
  std::optional<std::string> group;
  if (!options_.group_by.empty()) {
    auto it = image.find(options_.group_by);
    if (it != image.end()) group = GroupText(it->second);
  }
  EventType type = EventTypeOf(change.op);
  AggregateGroup& g = open_->groups[{static_cast<int>(type), group}];
  if (g.count == 0) {
    g.event_type = type;
    g.group = group;
  }
  ++g.count;
  if (!options_.attribute.empty()) {
    auto it = image.find(options_.attribute);
    if (it != image.end() && it->second.is(AttributeType::kN)) {
      const Number& n = it->second.n();
      ++g.numeric_count;
      if (!g.sum_overflow) {
        auto sum = g.sum.Add(n);
        if (sum.ok()) {
          g.sum = std::move(sum).value();
        } else {
          g.sum_overflow = true;
        }
      }
      if (!g.min || n < *g.min) g.min = n;
      if (!g.max || *g.max < n) g.max = n;
    }
  }
  return closed;
}

std::optional<AggregateWindow> Aggregator::CloseIfDue(int64_t now_ms) {
  if (!open_ || now_ms < open_->end_ms) return std::nullopt;
  return Finish();
}

AggregateWindow Aggregator::Finish() {
  AggregateWindow window;
  window.start_ms = open_->start_ms;
  window.end_ms = open_->end_ms;
  window.first_sequence = open_->first_sequence;
  window.last_sequence = open_->last_sequence;
  for (auto& [key, group] : open_->groups) window.groups.push_back(std::move(group));
  open_.reset();
  return window;
}

void EncodeWindow(const AggregateWindow& window, const AggregateOptions& options,
                  const EncoderOptions& encoder, std::vector<EncodedEvent>* out) {
  for (size_t i = 0; i < window.groups.size(); ++i) {
    const AggregateGroup& g = window.groups[i];
    EncodedEvent& event = out->emplace_back();
    event.topic = encoder.topic;
    event.sequence = window.last_sequence;
    event.sub_index = static_cast<uint32_t>(i);
    std::string_view type = EventTypeName(g.event_type);
    {
      JsonBuffer buffer;
      JsonWriter w(buffer);
      w.StartObject();
      WriteKey("window_start", w);
      w.Int64(window.start_ms);
      WriteKey("event_type", w);
      WriteString(type, w);
      WriteKey("group", w);
      if (g.group) {
        WriteString(*g.group, w);
      } else {
        w.Null();
      }
      w.EndObject();
      event.key = std::string(buffer.GetString(), buffer.GetSize());
    }
    JsonBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    WriteKey("source", w);
    WriteString(encoder.source, w);
    WriteKey("table", w);
    WriteString(encoder.table, w);
    WriteKey("window_start", w);
    w.Int64(window.start_ms);
    WriteKey("window_end", w);
    w.Int64(window.end_ms);
    WriteKey("event_type", w);
    WriteString(type, w);
    if (!options.group_by.empty()) {
      WriteKey("group_by", w);
      WriteString(options.group_by, w);
    }
    WriteKey("group", w);
    if (g.group) {
      WriteString(*g.group, w);
    } else {
      w.Null();
    }
    if (!options.attribute.empty()) {
      WriteKey("attribute", w);
      WriteString(options.attribute, w);
    }
    for (AggregateFunction fn : options.functions) {
      WriteKey(AggregateFunctionName(fn), w);
      switch (fn) {
        case AggregateFunction::kCount:
          w.Uint64(g.count);
          break;
        case AggregateFunction::kSum:
          if (g.sum_overflow) {
            w.Null();
          } else {
            internal::WriteNumberText(g.sum.ToString(), w);
          }
          break;
        case AggregateFunction::kAvg:
          if (g.numeric_count == 0 || g.sum_overflow) {
            w.Null();
          } else {
            internal::WriteNumberText(AverageText(g.sum, g.numeric_count), w);
          }
          break;
        case AggregateFunction::kMin:
        case AggregateFunction::kMax: {
          const std::optional<Number>& v = fn == AggregateFunction::kMin ? g.min : g.max;
          if (v) {
            internal::WriteNumberText(v->ToString(), w);
          } else {
            w.Null();
          }
          break;
        }
      }
    }
    WriteKey("first_seq", w);
    w.Uint64(window.first_sequence);
    WriteKey("last_seq", w);
    w.Uint64(window.last_sequence);
    w.EndObject();
    event.value = std::string(buffer.GetString(), buffer.GetSize());
    SetStandardHeaders(window.last_sequence, 'a', encoder.table, encoder.source, &event);
  }
}

}  // namespace keystone::cdc
