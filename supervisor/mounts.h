// The sandbox's filesystem view, built by the sandbox init in its own mount
// namespace from the policy's mount plan, then entered with pivot_root.
#pragma once

#include <string>
#include <vector>

#include "error.h"
#include "sandbox-policy/plan.h"

namespace openshell {

// Applies the plan and pivots into it. `skipped` receives the ops whose
// source or target does not exist in the image (logged by the caller).
Result<void> build_mount_view(const policy::MountPlan& plan, std::vector<std::string>& skipped);

}  // namespace openshell
