#include "cdc/filters.h"

namespace keystone::cdc {

using store::AttributeType;
using store::AttributeValue;
using store::Item;

std::string KeyText(const AttributeValue& value) {
  switch (value.type()) {
    case AttributeType::kS:
      return value.s();
    case AttributeType::kN:
      return value.n().ToString();
    case AttributeType::kB:
      return value.b();
    default:
      return std::string();
  }
}

namespace {

// Parses the bracket expression starting at pattern[i] == '['. Returns the
// index just past the closing ']' and sets *matched, or npos when unterminated.
size_t MatchBracket(std::string_view pattern, size_t i, unsigned char c, bool* matched) {
  size_t j = i + 1;
  bool negate = false;
  if (j < pattern.size() && (pattern[j] == '!' || pattern[j] == '^')) {
    negate = true;
    ++j;
  }
  bool found = false;
  bool first = true;
  while (j < pattern.size() && (first || pattern[j] != ']')) {
    first = false;
    unsigned char lo = static_cast<unsigned char>(pattern[j]);
    if (lo == '\\' && j + 1 < pattern.size()) lo = static_cast<unsigned char>(pattern[++j]);
    ++j;
    unsigned char hi = lo;
    if (j + 1 < pattern.size() && pattern[j] == '-' && pattern[j + 1] != ']') {
      hi = static_cast<unsigned char>(pattern[j + 1]);
      if (hi == '\\' && j + 2 < pattern.size()) {
        hi = static_cast<unsigned char>(pattern[j + 2]);
        ++j;
      }
      j += 2;
    }
    if (c >= lo && c <= hi) found = true;
  }
  if (j >= pattern.size()) return std::string_view::npos;
  *matched = found != negate;
  return j + 1;
}

}  // namespace

Status ValidateGlob(std::string_view pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      if (i + 1 == pattern.size()) return InvalidArgument("glob ends with an escaping '\\'");
      ++i;
    } else if (pattern[i] == '[') {
      bool ignored;
      size_t end = MatchBracket(pattern, i, 0, &ignored);
      if (end == std::string_view::npos) return InvalidArgument("glob has an unterminated '['");
      i = end - 1;
    }
  }
  return Status::Ok();
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative matcher with single-star backtracking: linear in practice,
  // O(pattern × text) at worst, never exponential.
  size_t p = 0, t = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      char pc = pattern[p];
      if (pc == '*') {
        star_p = p++;
        star_t = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        bool matched = false;
        size_t end = MatchBracket(pattern, p, static_cast<unsigned char>(text[t]), &matched);
        if (end != std::string_view::npos && matched) {
          p = end;
          ++t;
          continue;
        }
        if (end == std::string_view::npos && text[t] == '[') {  // literal '['
          ++p;
          ++t;
          continue;
        }
      } else {
        if (pc == '\\' && p + 1 < pattern.size()) pc = pattern[p + 1];
        if (pc == text[t]) {
          p += pattern[p] == '\\' && p + 1 < pattern.size() ? 2 : 1;
          ++t;
          continue;
        }
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p + 1;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<EventFilter> EventFilter::Create(const FilterOptions& options,
                                        const store::TableSchema& schema) {
  EventFilter filter;
  for (EventType type : options.event_types) filter.types_[static_cast<int>(type)] = true;
  for (bool on : filter.types_) filter.passes_all_ = filter.passes_all_ && on;
  filter.partition_key_ = schema.partition_key.name;
  filter.key_prefix_ = options.key_prefix;
  if (!options.key_glob.empty()) {
    KS_RETURN_IF_ERROR(ValidateGlob(options.key_glob).WithContext("filters.key_glob"));
  }
  filter.key_glob_ = options.key_glob;
  if (!options.condition.empty()) {
    store::ExpressionAttributes attrs(options.names, options.values);
    auto parsed = store::ConditionExpression::Parse(options.condition, attrs);
    if (!parsed.ok()) return parsed.status().WithContext("filters.condition");
    KS_RETURN_IF_ERROR(attrs.CheckAllUsed().WithContext("filters.condition"));
    filter.condition_ = std::move(parsed).value();
  }
  filter.passes_all_ = filter.passes_all_ && filter.key_prefix_.empty() &&
                       filter.key_glob_.empty() && !filter.condition_;
  return filter;
}

bool EventFilter::Matches(const ChangeEvent& change) const {
  if (passes_all_) return true;
  if (!types_[static_cast<int>(EventTypeOf(change.op))]) return false;
  if (change.op == ChangeOp::kTruncate) return true;
  if (!key_prefix_.empty() || !key_glob_.empty()) {
    auto pk = change.keys.find(partition_key_);
    std::string text = pk == change.keys.end() ? std::string() : KeyText(pk->second);
    if (!key_prefix_.empty() && !std::string_view(text).starts_with(key_prefix_)) return false;
    if (!key_glob_.empty() && !GlobMatch(key_glob_, text)) return false;
  }
  if (condition_) {
    const std::optional<Item>& image =
        change.op == ChangeOp::kDelete ? change.old_image : change.new_image;
    if (!condition_->Evaluate(image ? &*image : &change.keys)) return false;
  }
  return true;
}

}  // namespace keystone::cdc
