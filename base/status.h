#pragma once

// Status and Result<T>: how Keystone code reports failure. Nothing in our code
// throws across a module boundary; every fallible call returns one of these.
// Both are value types, cheap to move, and safe to use from any thread (they
// share nothing).

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace keystone {

enum class StatusCode {
  kOk = 0,
  // The caller's input is wrong (DynamoDB's ValidationException).
  kInvalidArgument,
  // A named thing (table, item, position) does not exist.
  kNotFound,
  // A named thing already exists (CreateTable of an existing table).
  kAlreadyExists,
  // A ConditionExpression evaluated to false; nothing was written.
  kConditionFailed,
  // A transactional write was cancelled; the message lists reasons per item.
  kTransactionCanceled,
  // A read asked for stream records older than the oldest retained one.
  kTrimmed,
  // A configured limit was reached (map size maximum, in-flight cap).
  kResourceExhausted,
  // The operation is valid but the object is in the wrong state for it.
  kFailedPrecondition,
  // The environment failed (disk, LMDB, socket).
  kIoError,
  // A transient condition; the same call may succeed later.
  kUnavailable,
  // A bug or an impossible state; reported instead of crashing when it can be.
  kInternal,
  // An idempotency token (ClientRequestToken) was reused with a different
  // request within its window; nothing was done.
  kIdempotencyMismatch,
  // A handle that is valid for a limited time (a stream iterator) was used
  // after that time; get a new one.
  kExpired,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // A copy whose message is "`context`: message", for adding where an error
  // happened as it travels up ("opening /var/lib/keystone: ...").
  Status WithContext(std::string_view context) const;

  // "INVALID_ARGUMENT: message" style, for logs and tests.
  std::string ToString() const;

  // Used by Result and the macros below; discards the value deliberately.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status ConditionFailed(std::string m) {
  return {StatusCode::kConditionFailed, std::move(m)};
}
inline Status TransactionCanceled(std::string m) {
  return {StatusCode::kTransactionCanceled, std::move(m)};
}
inline Status Trimmed(std::string m) { return {StatusCode::kTrimmed, std::move(m)}; }
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status IdempotencyMismatch(std::string m) {
  return {StatusCode::kIdempotencyMismatch, std::move(m)};
}
inline Status Expired(std::string m) { return {StatusCode::kExpired, std::move(m)}; }

// Either a T or a non-OK Status. Accessing value() of an error is a bug and
// aborts in debug builds.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(data_).ok() && "Result constructed from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(data_); }

  T& value() & {
    assert(ok());
    return std::get<T>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(data_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  void IgnoreError() const {}

 private:
  std::variant<T, Status> data_;
};

}  // namespace keystone

#define KS_CONCAT_INNER_(a, b) a##b
#define KS_CONCAT_(a, b) KS_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function when `expr` is not OK.
#define KS_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::keystone::Status ks_status_ = (expr);  \
    if (!ks_status_.ok()) return ks_status_; \
  } while (0)

// `lhs = value of expr`, or returns its Status from the enclosing function.
#define KS_ASSIGN_OR_RETURN(lhs, expr) \
  KS_ASSIGN_OR_RETURN_IMPL_(KS_CONCAT_(ks_result_, __LINE__), lhs, expr)
#define KS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
