// What `check`, `validate-policy` and the startup log say about egress:
// the mode, where the proxy and DNS listen, and for every endpoint how this
// build enforces it (L4, L4 only although L7 fields are set, or denied for
// lack of L7).
#include "network_report.h"

#include "network_decision.h"

namespace openshell::policy {
namespace {

// Appends `item` to `out`, separated by `sep` when `out` is not empty.
void append(std::string& out, std::string_view sep, std::string_view item) {
  if (!out.empty()) out.append(sep);
  out.append(item);
}

std::string ports_text(const std::vector<uint32_t>& ports) {
  std::string out;
  for (uint32_t p : ports) append(out, ",", std::to_string(p));
  return out;
}

std::string endpoint_text(const NetworkEndpoint& e) {
  std::string host = e.host.empty() ? "(any host)" : e.host;
  if (e.host.find(':') != std::string::npos) host = "[" + host + "]";
  std::string out = host + ":" + ports_text(e.ports);
  if (!e.allowed_ips.empty()) {
    out += " allowed_ips";
    for (const std::string& ip : e.allowed_ips) out += " " + ip;
  }
  if (!e.protocol.empty()) out += " protocol " + e.protocol;
  if (!e.enforcement.empty()) out += " enforcement " + e.enforcement;
  if (!e.access.empty()) out += " access " + e.access;
  if (e.l7_rule_count) out += " rules " + std::to_string(e.l7_rule_count);
  if (e.deny_rule_count) out += " deny_rules " + std::to_string(e.deny_rule_count);
  return out;
}

// L7 settings that the endpoint names and this build does not apply.
std::string l7_fields(const NetworkEndpoint& e) {
  std::string out;
  auto add = [&](const std::string& f) { append(out, ", ", f); };
  if (!e.protocol.empty() && e.protocol != "tcp") add("protocol " + e.protocol);
  if (e.l7_rule_count) add("rules");
  if (e.deny_rule_count) add("deny_rules");
  if (!e.access.empty()) add("access " + e.access);
  if (!e.path.empty()) add("path");
  if (!e.tls.empty()) add("tls " + e.tls);
  for (const std::string& o : e.credential_options) add(o);
  return out;
}

// allowed_ips wider than /16 (IPv4) or /48 (IPv6) are legal but probably
// not meant (OpenShell warns too).
std::string broad_allowed_ips(const NetworkEndpoint& e) {
  std::string out;
  for (const std::string& text : e.allowed_ips) {
    auto c = net::parse_cidr(text);
    if (c && c->prefix < (c->network.v6 ? 48u : 16u)) append(out, ", ", text);
  }
  return out;
}

}  // namespace

std::vector<Unenforced> network_unenforced(NetworkMode mode,
                                           const std::vector<NetworkPolicyRule>& rules) {
  std::vector<Unenforced> out;
  if (mode == NetworkMode::kPod) {
    out.push_back({"network.mode",
                   "egress NOT ENFORCED: mode pod shares the pod's network; the sandbox reaches "
                   "everything the pod reaches (cloud metadata, the API server, other pods)"});
  }
  for (const NetworkPolicyRule& rule : rules) {
    std::string key = "network_policies." + rule.key;
    if (mode == NetworkMode::kPod) {
      out.push_back({key, std::to_string(rule.endpoints.size()) +
                              " endpoint(s) NOT enforced: network.mode is pod, the sandbox has "
                              "the pod's full network access"});
      continue;
    }
    if (mode == NetworkMode::kNone) {
      out.push_back({key, std::to_string(rule.endpoints.size()) +
                              " endpoint(s) not applied: network.mode is none, so the sandbox "
                              "has no network at all"});
      continue;
    }
    for (size_t i = 0; i < rule.endpoints.size(); ++i) {
      const NetworkEndpoint& e = rule.endpoints[i];
      std::string ek = key + ".endpoints[" + std::to_string(i) + "]";
      std::string fields = l7_fields(e);
      switch (net::classify_endpoint(e)) {
        case net::EndpointLayer::kL4:
        case net::EndpointLayer::kL7FullAccess:
          if (!e.credential_options.empty() || !e.tls.empty()) {
            out.push_back({ek, "L7/TLS settings (" + fields +
                                   ") need TLS interception, not built: enforced at L4 only"});
          }
          break;
        case net::EndpointLayer::kL7Audit:
          out.push_back({ek, "L7 settings (" + fields +
                                 ") need TLS interception, not built: enforcement is audit, so "
                                 "the endpoint is enforced at L4 only"});
          break;
        case net::EndpointLayer::kL7Required:
          out.push_back({ek, "L7 settings (" + fields +
                                 ") need TLS interception, not built: enforcement is enforce, "
                                 "so every connection through this endpoint is DENIED"});
          break;
      }
    }
  }
  return out;
}

std::vector<std::string> describe_network(NetworkMode mode,
                                          const std::vector<NetworkPolicyRule>& rules) {
  std::vector<std::string> lines;
  switch (mode) {
    case NetworkMode::kPod:
      // The warning itself is the network.mode entry of the unenforced
      // list, said once next to this line.
      lines.push_back("network: pod (the pod's network namespace, no egress control)");
      break;
    case NetworkMode::kNone:
      lines.push_back("network: none (own namespace, loopback only, no way out)");
      break;
    case NetworkMode::kProxy:
      lines.push_back(
          "network: proxy (own namespace, loopback only; egress only through the supervisor)");
      lines.push_back("network: proxy 127.0.0.1:3128 and [::1]:3128, DNS 127.0.0.1:53");
      if (rules.empty()) {
        lines.push_back("network: no network_policies: every connection is denied");
      }
      break;
  }
  const char* applied = mode == NetworkMode::kProxy ? "" : " (not applied in this mode)";
  for (const NetworkPolicyRule& rule : rules) {
    std::string binaries;
    for (const std::string& b : rule.binaries) append(binaries, ", ", b);
    lines.push_back(
        "network: rule " + rule.key + (rule.name != rule.key ? " (" + rule.name + ")" : "") +
        applied + ": binaries " +
        (binaries.empty() ? "none (matches nothing unless binary identity is relaxed)" : binaries));
    for (size_t i = 0; i < rule.endpoints.size(); ++i) {
      const NetworkEndpoint& e = rule.endpoints[i];
      std::string how = mode == NetworkMode::kProxy
                            ? std::string(net::to_string(net::classify_endpoint(e)))
                            : std::string("not applied");
      std::string line = "network:   " + rule.key + ".endpoints[" + std::to_string(i) + "] " +
                         endpoint_text(e) + ": " + how;
      if (e.host.empty())
        line += "; any host resolving inside allowed_ips";
      else if (e.host.find('*') != std::string::npos && e.allowed_ips.empty())
        line += "; public addresses only";
      if (std::string broad = broad_allowed_ips(e); !broad.empty()) {
        line += "; WARNING broad allowed_ips " + broad;
      }
      lines.push_back(line);
    }
  }
  return lines;
}

}  // namespace openshell::policy
