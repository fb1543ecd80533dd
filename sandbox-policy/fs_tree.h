// The single filesystem tree from which both the mount plan and the Landlock
// rules are derived (STYLE 6), so the two cannot disagree.
#pragma once

#include <string>
#include <vector>

#include "model.h"
#include "plan.h"
#include "policy_error.h"

namespace openshell::policy {

// Paths only the supervisor may see; covered by an empty tmpfs and given no
// Landlock rule. /opt/openshell keeps the supervisor binary (read-only).
const std::vector<std::string>& supervisor_only_paths();

// True when `path` equals `ancestor` or lies below it ("/a" covers "/a/b",
// not "/ab").
bool path_is_within(const std::string& path, const std::string& ancestor);

// Policy paths, the workdir (when include_workdir), a fresh /proc
// (read-only), a writable /tmp, the masks and the supervisor binary.
// With inputs.path_probe set, missing or symlinked policy paths are dropped
// and a line is appended to `notes`. Errors: the workdir invalid, a policy
// path inside a supervisor-only path.
PolicyResult<FsTree> build_fs_tree(const Policy& policy, const CompileInputs& inputs,
                                   std::vector<std::string>& notes);

}  // namespace openshell::policy
