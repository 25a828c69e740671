// Status and Result: errors as values across module boundaries (Abseil-style).
// A Status is cheap to copy when ok (no message). Result<T> holds either a T or a non-ok Status.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace hir {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // the caller's input is wrong: 400
  kNotFound,            // unknown model, version or path: 404
  kMethodNotAllowed,    // 405
  kPayloadTooLarge,     // body or header over a limit: 413
  kResourceExhausted,   // queue full, shed: 503 (or 429 where the caller decides)
  kUnavailable,         // target down, connection refused, not ready: 503
  kDeadlineExceeded,    // a wait ran past its deadline: 504
  kUnimplemented,       // 501
  kFailedPrecondition,  // 400
  kInternal,            // a bug or an unexpected failure: 500
};

std::string_view code_name(Code c);
// The HTTP status a Code maps to (Triton's mapping, see shared/protocol-v2.md §2.3).
int http_status(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  // `kind` must outlive every copy: a string literal (see kind()).
  Status(Code code, std::string message, std::string_view kind)
      : code_(code), message_(std::move(message)), kind_(kind) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // A short fixed phrase naming what failed, for failures that share a code yet must be told
  // apart by someone who may not read the message: the message may name what is the operator's
  // alone (a target's address), a kind never does, so it can go where the message cannot (a
  // router's answer to its client). The module that sets kinds documents them (net/client.h);
  // "" when none was given. Not in to_string(): the message says it all.
  std::string_view kind() const { return kind_; }
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string_view kind_;
};

// Text a client sent, quoted for an error message: 'text', cut after kQuoteMax bytes (at a
// character boundary, with the whole size said). Error messages go back in the answer and into
// the log line of every refused request; a 3 MB tensor name must not make a 3 MB line.
// clip() is the same without the quotes.
constexpr size_t kQuoteMax = 128;
std::string quote(std::string_view client_text);
std::string clip(std::string_view client_text);

inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) { return {Code::kDeadlineExceeded, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {Code::kUnimplemented, std::move(m)}; }

// Either a value or an error. Constructing from an ok Status is a bug (asserted).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace hir

// Early return of a non-ok Status from a function returning Status or Result<T>.
#define HIR_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::hir::Status hir_status_ = (expr);        \
    if (!hir_status_.ok()) return hir_status_; \
  } while (0)
