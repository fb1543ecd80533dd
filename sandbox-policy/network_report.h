// The network layer in words, for report.h: what is enforced at L4, what
// is L4 only although the policy asks for L7, what is denied for lack of
// L7, and that mode pod enforces no egress at all.
#pragma once

#include <string>
#include <vector>

#include "model.h"
#include "plan.h"

namespace openshell::policy {

// Entries for the unenforced list: mode pod (egress NOT ENFORCED, every
// rule unapplied), mode none (rules unapplied), mode proxy (per endpoint:
// L7 fields enforced at L4 only, or the endpoint denied).
std::vector<Unenforced> network_unenforced(NetworkMode mode,
                                           const std::vector<NetworkPolicyRule>& rules);

// "network: ..." lines: mode, proxy and DNS addresses, each rule with its
// binaries, each endpoint with how it is enforced.
std::vector<std::string> describe_network(NetworkMode mode,
                                          const std::vector<NetworkPolicyRule>& rules);

}  // namespace openshell::policy
