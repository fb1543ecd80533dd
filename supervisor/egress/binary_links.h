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

// Resolves each glob-free binary path of the rules inside the view whose
// root directory is `root_fd` (an O_PATH descriptor of /proc/<init>/root
// opened at start-up, before the supervisor drops the access that path
// needs), component by component (absolute targets restart at that root,
// never the supervisor's). Paths that are not links, or do not exist, are
// left out; a lookup that fails otherwise is logged as an error.
std::vector<std::pair<std::string, std::string>> binary_symlink_targets(
    int root_fd, const policy::Policy& policy);

std::string resolve_in_root(int root_fd, const std::string& path);
// The same under a root directory named by path (for tests).
std::string resolve_in_root(const std::string& root, const std::string& path);

}  // namespace openshell::egress
