// The supervisor restricts itself once the sandbox, its listeners and
// sockets exist: every capability but the few it still needs leaves every
// set (bounding included), no_new_privs, then its own seccomp filter
// (sandbox-policy/supervisor_restriction.h says what and why).
#pragma once

#include "error.h"
#include "sandbox-policy/supervisor_restriction.h"

namespace openshell {

// Fails closed: a step that fails is an error, and nothing is undone.
Result<void> restrict_supervisor(const policy::SupervisorRestriction& restriction);

// Builds the restriction for this sandbox, applies it and logs what the
// supervisor kept (each capability with its reason) and its filter.
Result<void> restrict_supervisor_after_startup(const policy::SandboxPlan& plan);

// For `check`: applies the restriction in a forked child (so this kernel is
// shown to accept it) and describes it: "keeps cap_kill,..., seccomp filter
// of N rules".
Result<std::string> check_supervisor_restriction(const policy::SandboxPlan& plan);

}  // namespace openshell
