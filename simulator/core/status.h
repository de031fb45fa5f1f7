// Status and StatusOr: the error type of every expected failure in echosim.
//
// Bad input, unknown names, infeasible plans and models that do not fit are
// returned as a Status whose message names the field (or line, or node) and,
// where there is a closed set, the valid choices. Invariant violations are
// ECHOSIM_CHECKed instead and abort with file:line.
#ifndef ECHOSIM_SIMULATOR_CORE_STATUS_H_
#define ECHOSIM_SIMULATOR_CORE_STATUS_H_

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace echosim {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the user gave something wrong: exit code 2 at the CLI
  kNotFound,         // a named thing (model, GPU, file) does not exist
  kFailedPrecondition,  // a valid request that cannot be carried out (e.g. plan infeasible)
  kInternal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "INVALID_ARGUMENT: message" style rendering for logs and tests.
  std::string ToString() const;
  // Returns a copy with `prefix: ` prepended to the message (adds context while propagating).
  Status WithContext(const std::string& prefix) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = Internal("StatusOr constructed from an OK status without a value");
  }
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

[[noreturn]] void CheckFailed(const char* file, int line, const char* expr, const std::string& msg);

}  // namespace echosim

#define ECHOSIM_CHECK(cond)                                        \
  do {                                                             \
    if (!(cond)) ::echosim::CheckFailed(__FILE__, __LINE__, #cond, ""); \
  } while (0)
#define ECHOSIM_CHECK_MSG(cond, msg)                                  \
  do {                                                                \
    if (!(cond)) ::echosim::CheckFailed(__FILE__, __LINE__, #cond, (msg)); \
  } while (0)

// Propagates a non-OK Status from an expression returning Status.
#define ECHOSIM_RETURN_IF_ERROR(expr)           \
  do {                                          \
    ::echosim::Status _st = (expr);             \
    if (!_st.ok()) return _st;                  \
  } while (0)

#define ECHOSIM_CONCAT_INNER(a, b) a##b
#define ECHOSIM_CONCAT(a, b) ECHOSIM_CONCAT_INNER(a, b)
// ECHOSIM_ASSIGN_OR_RETURN(auto x, Foo()); declares x from a StatusOr or returns its error.
#define ECHOSIM_ASSIGN_OR_RETURN(lhs, expr)                                   \
  auto ECHOSIM_CONCAT(_sor_, __LINE__) = (expr);                              \
  if (!ECHOSIM_CONCAT(_sor_, __LINE__).ok())                                  \
    return ECHOSIM_CONCAT(_sor_, __LINE__).status();                          \
  lhs = std::move(ECHOSIM_CONCAT(_sor_, __LINE__)).value()

#endif  // ECHOSIM_SIMULATOR_CORE_STATUS_H_
