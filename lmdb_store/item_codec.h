#pragma once

// Compact binary serialization of items and attribute values, as stored in
// LMDB (item values, stream record images). Encoding appends to a caller's
// buffer so that one buffer can be reused across writes; decoding validates
// everything against the remaining input and bounds nesting, so arbitrary
// bytes (a corrupt or truncated store) give kInternal, never a crash. Stateless
// free functions; safe to call from any thread.
//
// Format (stable on disk; readers check the version byte):
//   item   := version:u8 (= 1) count:varint (name:bytes value)*   names ascending
//   bytes  := length:varint byte*
//   value  := tag:u8 (AttributeType) payload
//     S, B    bytes                     BOOL  u8 0 or 1          NULL  (nothing)
//     N       number                    SS, BS  count:varint bytes*
//     M       count:varint (name:bytes value)*   names ascending
//     L       count:varint value*       NS    count:varint number*
//   number := 0x00 for zero, or sign:u8 (0x01 positive, 0x02 negative)
//             exponent:u8 (Number::exponent() + 129) ndigits:u8 (1..38)
//             packed BCD digits, two per byte, high nibble first, odd tail 0
//   varint := unsigned LEB128, at most 10 bytes

#include <string>
#include <string_view>

#include "base/status.h"
#include "lmdb_store/attribute_value.h"

namespace keystone::store {

// Deepest value nesting DecodeValue accepts (Depth() of the value): one more
// than DynamoDB's 32, so that nothing the store validated is ever unreadable.
inline constexpr int kMaxDecodeDepth = 33;

// Appends the encoding of `item` to *out.
void EncodeItem(const Item& item, std::string* out);

// Decodes a whole buffer written by EncodeItem. kInternal, with a message
// saying what is wrong, when `data` is truncated, has trailing bytes, an
// unknown version or is otherwise not a valid encoding.
Result<Item> DecodeItem(std::string_view data);

// Receives the parts of an item in order (attribute names ascending), as
// VisitEncodedItem reads them from an encoding or VisitItem walks an Item, so
// that one translator (to JSON, say) serves both, and an encoded item needs
// no Item built. Views are valid only during the call.
//   the item, M:      OnBeginMap(count), then per attribute OnName and its
//                     value, then OnEndMap
//   L, SS, NS, BS:    OnBeginList(type, count), the members, OnEndList
//   S / B / N:        OnString / OnBinary / OnNumber (Number::ToString's text)
class ValueVisitor {
 public:
  virtual ~ValueVisitor() = default;
  virtual void OnString(std::string_view s) = 0;
  virtual void OnBinary(std::string_view bytes) = 0;
  virtual void OnNumber(std::string_view text) = 0;
  virtual void OnBool(bool b) = 0;
  virtual void OnNull() = 0;
  virtual void OnBeginMap(size_t count) = 0;
  virtual void OnName(std::string_view name) = 0;
  virtual void OnEndMap() = 0;
  virtual void OnBeginList(AttributeType type, size_t count) = 0;
  virtual void OnEndList() = 0;
};

// Walks a whole buffer written by EncodeItem, checking it as DecodeItem does.
// On invalid input returns DecodeItem's error, after the calls for the parts
// before the fault.
Status VisitEncodedItem(std::string_view data, ValueVisitor& visitor);
// The same calls for an Item, and for one value.
void VisitItem(const Item& item, ValueVisitor& visitor);
void VisitValue(const AttributeValue& value, ValueVisitor& visitor);

// Appends the encoding of one value (no version byte) to *out.
void EncodeValue(const AttributeValue& value, std::string* out);

// Decodes one value from the front of *in and advances *in past it. kInternal
// on invalid input, or nesting deeper than kMaxDecodeDepth; *in is left
// unchanged on error.
Result<AttributeValue> DecodeValue(std::string_view* in);

}  // namespace keystone::store
