// The one entry point from a validated Policy to a SandboxPlan.
#pragma once

#include "model.h"
#include "plan.h"
#include "policy_error.h"

namespace openshell::policy {

// Resolves the identity, builds the filesystem tree and from it the mount
// and Landlock plans, the seccomp program, capabilities, rlimits, the user
// namespace mapping, the base environment and the enforcement report.
// Pure apart from reading <image_root>/etc/passwd and etc/group and calling
// inputs.path_probe. Errors carry the policy key (or the environment
// variable) at fault; no file position.
PolicyResult<SandboxPlan> compile(const Policy& policy, const CompileInputs& inputs);

}  // namespace openshell::policy
