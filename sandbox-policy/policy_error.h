// The one error type of the policy library: where in which file, which key,
// and what is wrong with it.
#pragma once

#include <expected>
#include <string>

namespace openshell::policy {

struct PolicyError {
  std::string file;  // "policy.yaml"; empty when the value did not come from a file
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based; 0 when unknown
  std::string key;   // dotted path: "filesystem_policy.read_write[2]"; may be empty
  std::string message;

  // "policy.yaml:12:5: filesystem_policy.read_write[2]: path must be absolute"
  // Parts that are unknown are left out.
  std::string to_string() const;
};

template <typename T>
using PolicyResult = std::expected<T, PolicyError>;

inline std::unexpected<PolicyError> policy_error(std::string key, std::string message) {
  return std::unexpected(PolicyError{{}, 0, 0, std::move(key), std::move(message)});
}

}  // namespace openshell::policy
