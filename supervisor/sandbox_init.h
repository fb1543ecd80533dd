// The sandbox init: PID 1 of the sandbox's PID namespace, inside every
// namespace of the sandbox. Single-threaded; it starts processes on the
// supervisor's request, reaps everything in the sandbox and reports exits.
// When it dies the kernel kills the whole namespace (pid_namespaces(7)).
#pragma once

#include "restrict.h"
#include "unique_fd.h"

namespace openshell {

struct InitOptions {
  ProcessRestrictions restrictions;  // applied to every process it starts
};

// Runs in the child of clone(2); never returns. `control` is the init's end
// of the control socket.
[[noreturn]] void run_sandbox_init(UniqueFd control, const InitOptions& options);

}  // namespace openshell
