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

}  // namespace openshell::policy
