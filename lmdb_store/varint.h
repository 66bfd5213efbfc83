#pragma once

// LEB128 varints and length-prefixed strings for lmdb_store's on-disk
// encodings (catalog, positions, stream records, items). Internal to
// lmdb_store/. Pure functions; thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

namespace keystone::store {

inline void PutVarint(uint64_t v, std::string* out) {
  char buf[10];  // one append: this is on every write's path
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

// Consumes a varint from the front of *in; false when truncated or longer
// than 10 bytes.
inline bool GetVarint(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    uint8_t byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    if (shift == 63 && byte > 1) return false;  // the tenth byte holds bit 63 only
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

inline void PutLengthPrefixed(std::string_view s, std::string* out) {
  PutVarint(s.size(), out);
  out->append(s);
}

// Consumes a length-prefixed string; false when truncated.
inline bool GetLengthPrefixed(std::string_view* in, std::string_view* s) {
  uint64_t n = 0;
  if (!GetVarint(in, &n) || n > in->size()) return false;
  *s = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

}  // namespace keystone::store
