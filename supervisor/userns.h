// The user namespace. The sandbox init enters it after it has built the
// mount view (see sandbox_init.cc for why that order); the supervisor,
// privileged outside, writes the id maps; then the init takes the sandbox
// identity so that nothing inside runs as root outside.
#pragma once

#include <sys/types.h>

#include "error.h"
#include "sandbox-policy/plan.h"

namespace openshell {

// The pid of `pid` as the mounted /proc numbers it (they differ when the
// supervisor's PID namespace has no /proc of its own mounted).
Result<pid_t> proc_pid_of(pid_t pid);

// Parent side: setgroups ("deny" unless the identity needs supplementary
// groups), then gid_map, then uid_map of `pid`.
Result<void> write_id_maps(pid_t pid, const policy::UserNamespacePlan& plan);

// Init side, after the maps are written: become the sandbox identity while
// keeping the namespace's capabilities (the init still has to start
// processes), and stay non-dumpable.
Result<void> become_sandbox_identity(const policy::UserNamespacePlan& plan);

}  // namespace openshell
