// The sandbox init: PID 1 of the sandbox's PID namespace, inside every
// namespace of the sandbox. It builds the filesystem view, enters the user
// namespace, then, single-threaded, starts processes on the supervisor's
// request, reaps everything in the sandbox and reports exits. When it dies
// the kernel kills the whole namespace (pid_namespaces(7)).
#pragma once

#include "sandbox-policy/plan.h"
#include "unique_fd.h"

namespace openshell {

// Runs in the child of clone(2); never returns. `control` is the init's end
// of the control socket. `plan` null: no sandbox layers beyond the PID
// namespace (only for tests of the process protocol).
[[noreturn]] void run_sandbox_init(UniqueFd control, const policy::SandboxPlan* plan);

}  // namespace openshell
