// From configuration to the compiled sandbox plan: find and load the
// policy, compile it against this image and environment.
#pragma once

#include <string>
#include <vector>

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
// For `run`: creates a missing workdir (0755, owned by the sandbox user;
// logged) and checks that the sandbox user can enter it and every directory
// above it. True when it was created. The error names the path and the uid.
Result<bool> prepare_workdir(const policy::SandboxPlan& plan);
// `validate-policy FILE`: the same, for one file.
// With config.image_root, users, groups and paths are those of that
// unpacked image; a name it lacks is an error. With `unresolved` given and
// no root, a name this machine lacks is appended there instead (the machine
// is not the image) and the policy is compiled without it.
Result<LoadedPlan> load_sandbox_plan_from(const Config& config, const std::string& file,
                                          std::vector<std::string>* unresolved = nullptr);

// Character devices to pass through to the sandbox (GPUs): /dev/nvidia*,
// /dev/nvidia-caps/*, /dev/dri/*.
std::vector<std::string> passthrough_devices();

// This binary's path, which is also its path inside the sandbox view.
std::string own_binary();

// Logs what the policy asks that this build does not enforce, loudly.
void report_unenforced(const policy::SandboxPlan& plan);

}  // namespace openshell
