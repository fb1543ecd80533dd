// Landlock at the highest ABI the kernel offers. The ruleset is created once
// in the sandbox init (after pivot_root, so rule paths are the sandbox's)
// and the init restricts itself with it; every process it starts inherits
// that one domain.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "sandbox-policy/plan.h"
#include "unique_fd.h"

namespace openshell {

// The Landlock ABI the sandbox uses: the kernel's (0 when Landlock is
// unavailable: disabled at boot, EOPNOTSUPP, or not built, ENOSYS), capped
// by OPENSHELL_LANDLOCK_MAX_ABI when that is set. An operator with nodes of
// several kernels sets the cap to the oldest node's ABI, so an agent gets
// the same enforcement wherever it is scheduled. An invalid cap counts as
// no Landlock (fail closed); landlock_max_abi() says why.
int landlock_abi();

// The kernel's own ABI, whatever the cap.
int landlock_kernel_abi();

// The cap from OPENSHELL_LANDLOCK_MAX_ABI: nullopt when unset; an error
// naming the variable when it is not an integer in [1, 99].
Result<std::optional<int>> landlock_max_abi();

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
