#pragma once

// TransformChain: the source's transform steps (the seed's StreamProcessor),
// applied in order to each change after filtering and view narrowing.
//
//   keep:       each image keeps only the listed attributes.
//   drop:       each image loses the listed attributes.
//   rename:     attribute `from` becomes `to` in each image and in the keys
//               (overwriting an existing `to`).
//   mask:       each listed attribute present in an image is replaced by the S
//               value `value`.
//   hash:       each listed attribute present in an image or the keys is
//               replaced by the S value of its SHA-256 in lowercase hex. Input
//               bytes: S as UTF-8, N as its canonical decimal text, B raw,
//               BOOL "true"/"false", NULL "null", others their DynamoDB JSON.
//               Hashing a key attribute keeps per-key partitioning (equal keys
//               hash alike) while keeping the value out of the message.
//   add_field:  each image gets attribute `name` = S `value` (overwriting).
//   add_header: every event gets the message header `name: value`.
//
// Attribute names are top-level names (no document paths). keep and drop
// never touch the keys (the message key and dynamodb Keys): an event's key
// always identifies its item. mask of a key attribute is rejected by Create:
// it would give every item the same key (use hash).
//
// Immutable after Create; Apply may be called from several threads.

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "cdc/change_event.h"
#include "cdc/source_options.h"
#include "lmdb_store/schema.h"

namespace keystone::cdc {

class TransformChain {
 public:
  TransformChain() = default;

  // kInvalidArgument for a mask of a key attribute or a step missing a field
  // it needs; the message names the step ("transforms[2] (mask): ...").
  static Result<TransformChain> Create(const std::vector<TransformOptions>& steps,
                                       const store::TableSchema& schema);

  // Applies every step to `change` (a truncate only gets headers).
  void Apply(ChangeEvent* change) const;

  bool empty() const { return steps_.empty(); }

 private:
  std::vector<TransformOptions> steps_;
};

// True for an update whose old and new images are both present and equal (a
// no-op after transforms; skip_noop_updates drops it).
bool IsNoopUpdate(const ChangeEvent& change);

// SHA-256 of `bytes` in lowercase hex (64 characters).
std::string Sha256Hex(std::string_view bytes);

}  // namespace keystone::cdc
