// Resource limits of sandbox processes.
#pragma once

#include <string>
#include <vector>

#include "model.h"
#include "plan.h"
#include "policy_error.h"

namespace openshell::policy {

// Parses one `limits` entry: a decimal number or "unlimited".
PolicyResult<Rlimit> parse_limit(const std::string& name, const std::string& value);

// RLIMIT_CORE = 0 first (no core dumps of sandbox memory, which may hold
// secrets), then the policy's limits in RLIMIT order.
std::vector<RlimitPlan> build_rlimit_plan(const Policy& policy);

}  // namespace openshell::policy
