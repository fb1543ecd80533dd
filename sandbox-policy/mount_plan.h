// Mount operations derived from the filesystem tree.
#pragma once

#include "plan.h"

namespace openshell::policy {

// kRootTmpfs first (an empty root), then one op per tree node in path order,
// so a child's bind or mask lands on top of its parent's (a bind below /tmp
// on the fresh /tmp); the runtime's /proc masks follow the /proc mount.
MountPlan build_mount_plan(const FsTree& tree);

const char* mount_kind_name(MountKind kind);

}  // namespace openshell::policy
