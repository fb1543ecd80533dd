// Landlock at the highest ABI the kernel offers. The ruleset is created once
// in the sandbox init (after pivot_root, so rule paths are the sandbox's)
// and the init restricts itself with it; every process it starts inherits
// that one domain.
#pragma once

#include <string>
#include <vector>

#include "error.h"
#include "sandbox-policy/plan.h"
#include "unique_fd.h"

namespace openshell {

// The kernel's Landlock ABI version; 0 or less when Landlock is unavailable
// (disabled at boot: EOPNOTSUPP, not built: ENOSYS).
int landlock_abi();

struct LandlockRuleset {
  UniqueFd fd;  // invalid when nothing is enforced (best effort, no Landlock)
  int abi = 0;
  std::vector<std::string> dropped;  // rights this kernel does not know
  std::vector<std::string> skipped;  // rule paths missing from the view
};

// Fails when the plan is a hard requirement the kernel cannot meet.
Result<LandlockRuleset> create_landlock_ruleset(const policy::LandlockPlan& plan);

// landlock_restrict_self(2) with the ruleset.
bool landlock_restrict(int ruleset_fd);

}  // namespace openshell
