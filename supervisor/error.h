// Typed results for the supervisor side: an Error says what failed and why,
// with the errno when the kernel said no.
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>

namespace openshell {

struct Error {
  std::string what;  // "open /etc/openshell/policy.yaml"
  int err = 0;       // errno, 0 when not a system error

  std::string message() const { return err == 0 ? what : what + ": " + std::strerror(err); }
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string what, int err = 0) {
  return std::unexpected(Error{std::move(what), err});
}

// For the common "syscall failed" case: captures errno at the call.
inline std::unexpected<Error> fail_errno(std::string what) {
  int saved = errno;
  return std::unexpected(Error{std::move(what), saved});
}

}  // namespace openshell
