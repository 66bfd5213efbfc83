#include "kafka_sink/event_position.h"

#include <limits>

namespace keystone::kafka {

std::string EventPosition::ToString() const {
  std::string out = "seq " + std::to_string(sequence);
  if (snapshot) out += " snapshot " + std::to_string(snapshot_ordinal);
  if (sub_index != 0) out += " sub " + std::to_string(sub_index);
  return out;
}

std::optional<uint64_t> ParseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

std::optional<EventPosition> PositionOf(const cdc::EncodedEvent& event) {
  if (event.sequence == 0) return std::nullopt;
  return EventPosition{.sequence = event.sequence,
                       .snapshot = event.snapshot,
                       .snapshot_ordinal = event.snapshot ? event.snapshot_ordinal : 0,
                       .sub_index = event.sub_index};
}

std::optional<EventPosition> ParsePosition(const std::vector<HeaderView>& headers) {
  const HeaderView* seq = nullptr;
  const HeaderView* sub = nullptr;
  const HeaderView* snap = nullptr;
  for (const HeaderView& h : headers) {
    if (h.name == cdc::kHeaderSequence) seq = &h;
    if (h.name == cdc::kHeaderSubIndex) sub = &h;
    if (h.name == cdc::kHeaderSnapshotOrdinal) snap = &h;
  }
  if (seq == nullptr || !seq->value) return std::nullopt;
  std::optional<uint64_t> sequence = ParseDecimal(*seq->value);
  if (!sequence || *sequence == 0) return std::nullopt;
  EventPosition pos{.sequence = *sequence};
  if (sub != nullptr) {
    std::optional<uint64_t> v = sub->value ? ParseDecimal(*sub->value) : std::nullopt;
    if (!v || *v > std::numeric_limits<uint32_t>::max()) return std::nullopt;
    pos.sub_index = static_cast<uint32_t>(*v);
  }
  if (snap != nullptr) {
    std::optional<uint64_t> v = snap->value ? ParseDecimal(*snap->value) : std::nullopt;
    if (!v) return std::nullopt;
    pos.snapshot = true;
    pos.snapshot_ordinal = *v;
  }
  return pos;
}

void AddPositionHeaders(cdc::EncodedEvent& event) {
  std::vector<std::pair<std::string, std::string>> missing;
  ForEachMissingPositionHeader(event, [&](std::string_view name, std::string_view value) {
    missing.emplace_back(name, value);
  });
  for (auto& header : missing) event.headers.push_back(std::move(header));
}

}  // namespace keystone::kafka
