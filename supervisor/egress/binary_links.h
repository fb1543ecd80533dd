// Policy binary paths that are symlinks in the sandbox's view, resolved
// there (NetworkRules' symlink_targets): a rule naming /usr/bin/python3
// must match the process whose /proc/<pid>/exe says /usr/bin/python3.11,
// and /bin/bash one that says /usr/bin/bash (OpenShell issues #765, #770).
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "sandbox-policy/model.h"

namespace openshell::egress {

// Resolves each glob-free binary path of the rules inside the view rooted
// at /proc/<init_pid>/root, component by component (absolute targets
// restart at that root, never the supervisor's). Paths that are not links,
// or do not exist, are left out.
std::vector<std::pair<std::string, std::string>> binary_symlink_targets(
    pid_t init_pid, const policy::Policy& policy);

// The same under any root directory (for tests).
std::string resolve_in_root(const std::string& root, const std::string& path);

}  // namespace openshell::egress
