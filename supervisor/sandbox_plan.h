// From configuration to the compiled sandbox plan: find and load the
// policy, compile it against this image and environment.
#pragma once

#include <string>

#include "config.h"
#include "error.h"
#include "sandbox-policy/plan.h"

namespace openshell {

struct LoadedPlan {
  policy::SandboxPlan plan;
  policy::Policy policy;  // as loaded: the egress runtime compiles its network rules
  std::string file;       // the policy file, empty for the built-in default
  std::string origin;  // the policy file, or "built-in default"
};

// Errors carry the policy's file, line, column and key (or the variable).
Result<LoadedPlan> load_sandbox_plan(const Config& config);
// `validate-policy FILE`: the same, for one file.
Result<LoadedPlan> load_sandbox_plan_from(const Config& config, const std::string& file);

// This binary's path, which is also its path inside the sandbox view.
std::string own_binary();

// Logs what the policy asks that this build does not enforce, loudly.
void report_unenforced(const policy::SandboxPlan& plan);

}  // namespace openshell
