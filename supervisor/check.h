// `check`: builds a real sandbox from the policy, starts a probe process in
// it that applies every per-process restriction, and prints one line per
// layer: enforced, degraded (why) or unavailable (why). `validate-policy`:
// loads and compiles a policy, prints the plan, runs nothing.
#pragma once

#include "config.h"

namespace openshell {

int run_check(const Config& config);
int run_validate_policy(const Config& config);

}  // namespace openshell
