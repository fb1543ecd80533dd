// Reading a policy: YAML or JSON text -> proto (structural checks, with the
// position of every key) -> validated model (validate.h). Every error names
// the file, line, column and dotted key.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "model.h"
#include "policy_error.h"

namespace openshell::policy {

inline constexpr size_t kMaxPolicyFileBytes = 1 << 20;  // 1 MiB; a policy is a few KiB

// `file_name` is only used in error messages.
PolicyResult<Policy> load_policy_text(std::string_view text, const std::string& file_name);

// Reads at most kMaxPolicyFileBytes from `path` and loads it.
PolicyResult<Policy> load_policy_file(const std::string& path);

}  // namespace openshell::policy
