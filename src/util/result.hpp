// Errors as values: Result<T> holds either a T or an Error.
// Expected failures (bad input, missing package, server down) travel as Result;
// exceptions are reserved for programming errors and are caught once in main.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace lb {

/// A failure a user can cause. `message` names the file/line/URL and what went wrong;
/// `hint` (optional) says what to do about it.
struct Error {
  std::string message;
  std::string hint;

  /// Prefix context, e.g. Error{"bad line"}.context("requirements.txt:3").
  Error context(const std::string& where) const& { return Error{where + ": " + message, hint}; }
  std::string to_string() const { return hint.empty() ? message : message + "\n  hint: " + hint; }
};

inline Error make_error(std::string message, std::string hint = {}) {
  return Error{std::move(message), std::move(hint)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error& error() {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

/// Result<void> spelled as Status.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : err_(std::move(error)), failed_(true) {}  // NOLINT
  static Status success() { return {}; }
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(failed_);
    return err_;
  }

 private:
  Error err_;
  bool failed_ = false;
};

}  // namespace lb

/// Propagate an error: LB_TRY(status_or_result_expression);
#define LB_TRY(expr)                                   \
  do {                                                 \
    auto&& lb_try_tmp_ = (expr);                       \
    if (!lb_try_tmp_.ok()) return lb_try_tmp_.error(); \
  } while (0)

#define LB_CONCAT_INNER_(a, b) a##b
#define LB_CONCAT_(a, b) LB_CONCAT_INNER_(a, b)
/// Declare `lhs` from a Result or return its error: LB_ASSIGN(auto x, parse(...));
#define LB_ASSIGN(lhs, expr) LB_ASSIGN_IMPL_(LB_CONCAT_(lb_res_, __LINE__), lhs, expr)
#define LB_ASSIGN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                    \
  if (!tmp.ok()) return tmp.error();    \
  lhs = std::move(tmp).value()
