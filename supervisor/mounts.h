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

// What to add when mount(2) of a fresh procfs failed with `err`: inside a
// user namespace other than the host's, EPERM is the kernel refusing a
// proc mount that would reveal what the runtime masked in the container's
// /proc (mount_too_revealing in fs/namespace.c); the text names that cause
// and the pod setting that lifts it. Empty when there is nothing to add.
std::string proc_mount_hint(int err, bool in_child_user_namespace);

}  // namespace openshell
