// Mount operations derived from the filesystem tree.
#pragma once

#include "plan.h"

namespace openshell::policy {

// kBindRoot first (read-only view of the image), then one op per tree node in
// path order, so a child's bind or mask lands on top of its parent's.
MountPlan build_mount_plan(const FsTree& tree);

const char* mount_kind_name(MountKind kind);

}  // namespace openshell::policy
