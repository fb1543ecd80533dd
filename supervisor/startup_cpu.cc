#include "startup_cpu.h"

#include <sched.h>

namespace openshell::startup_cpu {
namespace {

cpu_set_t allowed;
bool pinned = false;

}  // namespace

void pin() {
  if (pinned || ::sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  int cpu = ::sched_getcpu();
  if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed) || CPU_COUNT(&allowed) < 2) {
    return;
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  pinned = ::sched_setaffinity(0, sizeof one, &one) == 0;
}

void step_aside() {
  // pin() pinned only with two or more CPUs, so another one exists.
  if (!pinned) return;
  int cpu = ::sched_getcpu();
  cpu_set_t others = allowed;
  if (cpu >= 0 && cpu < CPU_SETSIZE) CPU_CLR(cpu, &others);
  if (CPU_COUNT(&others) > 0) ::sched_setaffinity(0, sizeof others, &others);
}

void release() {
  if (pinned) ::sched_setaffinity(0, sizeof allowed, &allowed);
}

}  // namespace openshell::startup_cpu
