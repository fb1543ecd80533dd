#include "capabilities.h"

#include <cap-ng.h>

#include <cctype>

namespace openshell::policy {

uint64_t all_capabilities_mask(int last_cap) {
  if (last_cap < 0) return 0;
  if (last_cap >= 63) return ~0ull;
  return (1ull << (last_cap + 1)) - 1;
}

PolicyResult<int> capability_from_name(const std::string& key, const std::string& name) {
  std::string n;
  for (char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n.starts_with("cap_")) n = n.substr(4);
  int cap = n.empty() ? -1 : capng_name_to_capability(n.c_str());
  if (cap < 0 || cap > 63) return policy_error(key, "unknown capability '" + name + "'");
  return cap;
}

std::string capability_name(int cap) {
  const char* name = capng_capability_to_name(static_cast<unsigned>(cap));
  if (name == nullptr || std::string(name) == "unknown") return "cap_" + std::to_string(cap);
  return std::string("cap_") + name;
}

uint64_t capability_mask(const std::vector<int>& caps) {
  uint64_t mask = 0;
  for (int cap : caps) {
    if (cap >= 0 && cap < 64) mask |= 1ull << cap;
  }
  return mask;
}

}  // namespace openshell::policy
