#include "report.h"

namespace openshell::policy {

std::vector<Unenforced> unenforced_features(const Policy& policy) {
  std::vector<Unenforced> out;
  for (const NetworkPolicyRule& rule : policy.network_policies) {
    size_t l7 = 0;
    for (const NetworkEndpoint& e : rule.endpoints) l7 += e.l7_rule_count;
    std::string message = "egress control is not implemented in this build: " +
                          std::to_string(rule.endpoints.size()) + " endpoint(s)";
    if (!rule.binaries.empty()) {
      message += ", " + std::to_string(rule.binaries.size()) + " binary restriction(s)";
    }
    if (l7 > 0) message += ", " + std::to_string(l7) + " L7 rule(s)";
    message += policy.network_mode == NetworkMode::kPod
                   ? " NOT enforced; the sandbox has the pod's full network access"
                   : " NOT enforced; network.mode is none, so the sandbox has no network at all";
    out.push_back({"network_policies." + rule.key, std::move(message)});
  }
  return out;
}

std::vector<std::string> format_unenforced(const std::vector<Unenforced>& items) {
  std::vector<std::string> lines;
  for (const Unenforced& u : items) lines.push_back("NOT ENFORCED " + u.key + ": " + u.message);
  return lines;
}

}  // namespace openshell::policy
