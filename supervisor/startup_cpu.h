// Start-up on one CPU. Start-up is a chain of hand-offs between the
// supervisor, the sandbox init and the main process's child, each waiting
// on the other: the id maps, ready, the spawn, the exec. A hand-off to a
// process the scheduler placed on another, idle CPU waits for that CPU to
// wake: on a 2-vCPU VM 0.2-0.8 ms each time (tests/bench/startup_profile.sh),
// where on one CPU it is a context switch. So the supervisor runs its
// start-up on the CPU it is on, the init and the child inherit that, and
// each gives back the CPUs it was allowed once its part is done: the child
// just before exec (the main process and every later process never run
// pinned), the init after its first spawn, the supervisor once it has
// restricted itself, which it does on another CPU (step_aside). Only a
// matter of speed: a failure of either call leaves the affinity as the
// container gave it.
#pragma once

namespace openshell::startup_cpu {

// Remembers the CPUs this process may run on, then runs on the current one.
void pin();

// Back to the remembered CPUs, if pin() pinned. Writes no memory (the
// spawn child calls it while sharing the init's) and makes one syscall.
void release();

// The supervisor, once it has asked for the main process: onto the other
// remembered CPUs, leaving this one to the init and the child, which are
// still pinned to it. The supervisor's own work after the request (its
// restriction, about 0.3 ms) then runs beside the spawn instead of ahead
// of it. release() afterwards gives back the CPU it left.
void step_aside();

}  // namespace openshell::startup_cpu
