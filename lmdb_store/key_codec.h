#pragma once

// Order-preserving, self-delimiting encoding of key attribute values (S, N, B)
// into bytes, for LMDB keys compared with memcmp. For two values a and b of
// one type, memcmp order of their encodings is DynamoDB's order: S by UTF-8
// bytes and B by bytes (both unsigned), N numerically. Because an encoding
// carries its own end, a partition key encoding followed by a sort key
// encoding is unambiguous, and all items with one partition key are contiguous
// and ordered by sort key. Encodings of different types are not comparable.
// Stateless free functions; safe to call from any thread.
//
// Format (stable on disk; changing it requires a store migration):
//   S, B: each byte as is, except 0x00 written as 0x00 0xFF; then 0x00 0x01.
//   N:    one class byte, 0x01 negative, 0x02 zero, 0x03 positive. Zero ends
//         there. Otherwise the exponent (Number::exponent() + 129, one byte),
//         then the significant digits two per byte as 1 + (10 × d1 + d2) (an
//         odd last digit is paired with 0), then 0x00. For negatives every
//         byte after the class byte is inverted, so larger magnitudes sort
//         first and the terminator becomes 0xFF.

#include <string>
#include <string_view>

#include "base/status.h"
#include "lmdb_store/attribute_value.h"

namespace keystone::store {

// Appends the encoding of `value` to *out.
// REQUIRES: value is S, N or B (anything else is a bug: KS_CHECK).
void AppendOrderedKey(const AttributeValue& value, std::string* out);

// Decodes one value of `type` from the front of *in and advances *in past it.
// kInternal when the bytes are not a valid encoding (a corrupt store) or
// `type` is not S, N or B; *in is left unchanged on error.
Result<AttributeValue> DecodeOrderedKey(AttributeType type, std::string_view* in);

// Appends the escaped bytes of `raw_prefix` without the terminator: the
// encoding of every S or B value that starts with `raw_prefix` starts with
// these bytes, and no other value's encoding does. For begins_with on sort
// keys: seek to the prefix, scan while keys start with it.
void AppendOrderedPrefix(std::string_view raw_prefix, std::string* out);

}  // namespace keystone::store
