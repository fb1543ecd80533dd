// The capability set sandbox processes keep (none by default).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy_error.h"

namespace openshell::policy {

// Bits 0..last_cap set. Pass the running kernel's
// /proc/sys/kernel/cap_last_cap; it may know more than our headers.
uint64_t all_capabilities_mask(int last_cap);

// "CAP_NET_BIND_SERVICE", "net_bind_service" -> 10.
PolicyResult<int> capability_from_name(const std::string& key, const std::string& name);

// 10 -> "cap_net_bind_service"; unknown numbers -> "cap_<n>".
std::string capability_name(int cap);

// Mask of the given capability numbers.
uint64_t capability_mask(const std::vector<int>& caps);

}  // namespace openshell::policy
