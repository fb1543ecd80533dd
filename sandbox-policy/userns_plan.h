// The user namespace mapping for an identity.
#pragma once

#include "plan.h"

namespace openshell::policy {

// root_in_sandbox = false: processes run as the identity's uid/gid inside,
// mapped to the same ids outside (plus each supplementary gid to itself).
// root_in_sandbox = true: processes run as 0 inside, mapped to the identity's
// uid/gid outside. Inside 0 is never mapped to outside 0. Either way the
// sandbox init runs under an id of its own (65533 unless the identity uses
// it), mapped to itself, that no sandbox process has.
UserNamespacePlan build_userns_plan(const Identity& identity, bool root_in_sandbox);

}  // namespace openshell::policy
