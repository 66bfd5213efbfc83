#pragma once

// Name tables for enums that appear in configuration and messages: one
// constexpr array of {value, name} per enum gives both directions and the list
// of accepted names. Header-only, constexpr data; thread-safe.
//
//   inline constexpr EnumName<Format> kFormatNames[] = {{Format::kA, "a"}, {Format::kB, "b"}};
//   std::string_view FormatName(Format f) { return NameOf(kFormatNames, f); }
//   bool ParseFormat(std::string_view s, Format* out) { return ParseName(kFormatNames, s, out); }

#include <cstddef>
#include <string>
#include <string_view>

namespace keystone {

template <typename E>
struct EnumName {
  E value;
  std::string_view name;
};

// The name of `value`; "" when the table lacks it (a bug in the table).
template <typename E, size_t N>
constexpr std::string_view NameOf(const EnumName<E> (&table)[N], E value) {
  for (const EnumName<E>& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return {};
}

// Sets *out and returns true when `name` is in the table (exact match).
template <typename E, size_t N>
constexpr bool ParseName(const EnumName<E> (&table)[N], std::string_view name, E* out) {
  for (const EnumName<E>& entry : table) {
    if (entry.name == name) {
      *out = entry.value;
      return true;
    }
  }
  return false;
}

// "a, b, c": the accepted names, for error messages.
template <typename E, size_t N>
std::string JoinNames(const EnumName<E> (&table)[N]) {
  std::string out;
  for (const EnumName<E>& entry : table) {
    if (!out.empty()) out += ", ";
    out += entry.name;
  }
  return out;
}

}  // namespace keystone
