// What the supervisor keeps of itself once the sandbox, its listeners and
// sockets exist (DESIGN.md §2): the capabilities it still needs, each with
// the reason, and its own seccomp filter. Computed here, applied by
// supervisor/self_restrict.cc; a memory-safety bug in what parses
// untrusted input (libssh's pre-auth parser, the egress proxy) then holds
// no more than this.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plan.h"
#include "policy_error.h"

namespace openshell::policy {

struct KeptCapability {
  int cap = 0;
  std::string why;
};

struct SupervisorRestriction {
  std::vector<KeptCapability> kept;  // everything else leaves every set
  uint64_t keep_mask = 0;
  SeccompPlan seccomp;               // default allow, the entries denied
};

// `separate_network`: the sandbox has a network namespace of its own, which
// the supervisor enters (setns, CAP_SYS_ADMIN) to dial loopback inside for
// direct-tcpip and to open listeners there.
PolicyResult<SupervisorRestriction> build_supervisor_restriction(bool separate_network);

}  // namespace openshell::policy
