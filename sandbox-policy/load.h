// Reading a policy: YAML or JSON text -> proto (structural checks, with the
// position of every key) -> validated model (validate.h). Every error names
// the file, line, column and dotted key.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "model.h"
#include "policy_error.h"

namespace openshell::policy {

inline constexpr size_t kMaxPolicyFileBytes = 1 << 20;  // 1 MiB; a policy is a few KiB

// `file_name` is only used in error messages.
PolicyResult<Policy> load_policy_text(std::string_view text, const std::string& file_name);

// Reads at most kMaxPolicyFileBytes from `path` (a regular file) and loads it.
PolicyResult<Policy> load_policy_file(const std::string& path);

inline constexpr const char* kDefaultPolicyPath = "/etc/openshell/policy.yaml";

// Where the policy comes from (DESIGN.md §4): --policy, else
// OPENSHELL_POLICY_FILE, else kDefaultPolicyPath if it exists, else the
// built-in default_policy(workdir). An empty flag or variable counts as
// unset. A file named by the flag or the variable must exist; only the
// well-known path may be absent.
struct PolicyLocation {
  std::optional<std::string> flag_path;  // --policy
  std::optional<std::string> env_path;   // OPENSHELL_POLICY_FILE
  std::string default_path = kDefaultPolicyPath;
  std::string workdir = "/sandbox";  // for the built-in default
};

struct LoadedPolicy {
  Policy policy;
  std::string origin;  // the file loaded, or "built-in default"
};

PolicyResult<LoadedPolicy> find_and_load_policy(const PolicyLocation& location);

}  // namespace openshell::policy
