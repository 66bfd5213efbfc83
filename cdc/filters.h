#pragma once

// EventFilter: which changes a source publishes (the seed's EventFilter). A
// change must pass every configured filter:
//   - event_types: its kind (a snapshot read counts as INSERT);
//   - key_prefix / key_glob: the partition key's value as text (S as is, N as
//     its canonical decimal text, B as its raw bytes) starts with the prefix /
//     matches the glob (`*` any run, `?` one byte, `[abc]`, `[a-z]`, `[!x]` or
//     `[^x]`, `\` escapes the next character);
//   - condition: a DynamoDB ConditionExpression evaluated on the new image, or
//     the old image for REMOVE; when the record does not carry that image (its
//     view type lacks it) it is evaluated on the key attributes alone.
// Filters look at the change as stored, before the source's view narrowing
// and before transforms. Key and condition filters do not apply to TRUNCATE
// (it has no key or image); only event_types does. Filtered changes still
// advance the source's position (the source's business).
//
// Immutable after Create; Matches may be called from several threads.

#include <string>
#include <string_view>

#include "base/status.h"
#include "cdc/change_event.h"
#include "cdc/source_options.h"
#include "lmdb_store/expression.h"
#include "lmdb_store/schema.h"

namespace keystone::cdc {

class EventFilter {
 public:
  // kInvalidArgument when the condition does not parse or uses an undefined
  // (or leaves unused a defined) #name / :value, or a glob is malformed
  // (unterminated `[`); the message names the filter.
  static Result<EventFilter> Create(const FilterOptions& options, const store::TableSchema& schema);

  // True when `change` passes every filter.
  bool Matches(const ChangeEvent& change) const;

  // True when the filter lets everything through (no filter configured beyond
  // all event types).
  bool PassesAll() const { return passes_all_; }

 private:
  EventFilter() = default;

  bool types_[4] = {false, false, false, false};
  std::string partition_key_;
  std::string key_prefix_;
  std::string key_glob_;
  std::optional<store::ConditionExpression> condition_;
  bool passes_all_ = true;
};

// The text a key filter sees for a key value (see the file comment); "" for
// other types.
std::string KeyText(const store::AttributeValue& value);

// Glob matching as described in the file comment, over bytes.
bool GlobMatch(std::string_view pattern, std::string_view text);
// kInvalidArgument when `pattern` has an unterminated `[` or ends in `\`.
Status ValidateGlob(std::string_view pattern);

}  // namespace keystone::cdc
