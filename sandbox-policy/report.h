// What a policy asks that this build does not enforce. Printed by `check`
// and at startup; never silently accepted (DESIGN.md §5).
#pragma once

#include <string>
#include <vector>

#include "model.h"
#include "plan.h"

namespace openshell::policy {

std::vector<Unenforced> unenforced_features(const Policy& policy);

// One line per entry: "NOT ENFORCED network_policies.github_api: ...".
std::vector<std::string> format_unenforced(const std::vector<Unenforced>& items);

// The plan in human-readable lines, for `check`, `validate-policy` and the
// startup log: identity, id maps, mounts, Landlock rules, seccomp entries,
// capabilities, rlimits, network, environment NAMES (values may be
// secrets), then the unenforced list and the notes.
std::vector<std::string> describe_plan(const SandboxPlan& plan);

}  // namespace openshell::policy
