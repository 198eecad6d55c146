// Result<T>: a value or the std::error_code that explains why there is none.
// The error path of every syscall wrapper; nothing in the event loop throws.
#pragma once

#include <cerrno>
#include <system_error>
#include <utility>
#include <variant>

namespace socketd {

inline std::error_code errno_code(int err = errno) { return {err, std::system_category()}; }

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(std::error_code ec) : v_(ec) {}     // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  std::error_code error() const { return ok() ? std::error_code{} : std::get<1>(v_); }

 private:
  std::variant<T, std::error_code> v_;
};

}  // namespace socketd
