// The L4 decision over `network_policies` (OpenShell's rego, as behaviour):
// allowed only if ONE rule matches both the endpoint and the calling
// binary; rules OR together; nothing matches: denied. The rule reported is
// the smallest matching key, so logs do not depend on map order.
#include "network_decision.h"

#include <algorithm>

namespace openshell::policy::net {
namespace {

bool is_l4_protocol(const std::string& protocol) {
  return protocol.empty() || protocol == "tcp";
}

bool has(const std::vector<uint32_t>& ports, uint16_t port) {
  return std::find(ports.begin(), ports.end(), port) != ports.end();
}

bool is_exact_host(const NetworkEndpoint& e) {
  return !e.host.empty() && e.host.find('*') == std::string::npos;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string quoted_keys(const std::vector<std::string>& keys) {
  std::string out;
  for (const std::string& k : keys) out += (out.empty() ? "'" : ", '") + k + "'";
  return out;
}

}  // namespace

EndpointLayer classify_endpoint(const NetworkEndpoint& e) {
  if (is_l4_protocol(e.protocol)) return EndpointLayer::kL4;
  // OpenShell: anything but `enforce` is audit; L7 violations are only
  // logged, so what remains to enforce is L4.
  if (e.enforcement != "enforce") return EndpointLayer::kL7Audit;
  bool all_paths = e.path.empty() || e.path == "**" || e.path == "/**";
  bool allows_every_request = e.access == "full" || e.l7_rules_allow_all;
  if (allows_every_request && all_paths && e.deny_rule_count == 0) {
    return EndpointLayer::kL7FullAccess;
  }
  // Narrower L7 rules cannot be checked without TLS interception: letting
  // the connection through would grant more than the policy says.
  return EndpointLayer::kL7Required;
}

std::string_view to_string(EndpointLayer layer) {
  switch (layer) {
    case EndpointLayer::kL4:
      return "enforced at L4";
    case EndpointLayer::kL7FullAccess:
      return "enforced at L4 (L7 rules allow every request)";
    case EndpointLayer::kL7Audit:
      return "enforced at L4 only (enforcement audit; L7 not inspected)";
    case EndpointLayer::kL7Required:
      return "DENIED: requires L7 enforcement, not available";
  }
  return "DENIED";
}

NetworkRules::NetworkRules(const Policy& policy, bool relaxed_binaries,
                           std::vector<std::pair<std::string, std::string>> symlink_targets)
    : rules_(policy.network_policies),
      relaxed_binaries_(relaxed_binaries),
      symlink_targets_(std::move(symlink_targets)) {
  std::sort(rules_.begin(), rules_.end(),
            [](const NetworkPolicyRule& a, const NetworkPolicyRule& b) { return a.key < b.key; });
}

bool NetworkRules::empty() const {
  return rules_.empty();
}

// The rule's binaries against the caller's exe and ancestors; a policy
// path that is a symlink also matches by its target. Command lines never
// count: argv is the caller's to choose.
static bool binary_allowed(const NetworkPolicyRule& rule, const Caller& caller,
                           const std::vector<std::pair<std::string, std::string>>& targets) {
  for (const std::string& pattern : rule.binaries) {
    for (const std::string& exe : caller.exe_chain) {
      if (binary_matches(pattern, exe)) return true;
      for (const auto& [link, target] : targets) {
        if (link == pattern && target == exe) return true;
      }
    }
  }
  return false;
}

// `host` is canonical; `ip` is set when it is an IP literal.
static bool endpoint_matches(const NetworkEndpoint& e, const std::string& host,
                             const std::optional<IpAddress>& ip, uint16_t port) {
  if (!has(e.ports, port)) return false;
  if (e.host.empty()) {
    // Hostless: a name matches here and its addresses are held to
    // allowed_ips later; an address must lie in them now.
    if (!ip) return true;
    return std::any_of(e.allowed_ips.begin(), e.allowed_ips.end(), [&](const std::string& text) {
      auto c = parse_cidr(text);
      return c && cidr_contains(*c, *ip);
    });
  }
  if (ip) {
    auto declared = e.host.find('*') == std::string::npos ? parse_ip_literal(e.host) : std::nullopt;
    return declared && *declared == *ip;
  }
  return host_matches(e.host, host);
}

Decision NetworkRules::decide(std::string_view raw_host, uint16_t port,
                              const Caller& caller) const {
  Decision d;
  auto host = canonical_host(raw_host);
  if (!host) {
    // Quoted back printable only: the reason goes into logs and a 403 body.
    std::string shown(raw_host.substr(0, 255));
    for (char& c : shown) {
      if (c < 0x20 || c > 0x7e || c == '\'' || c == '"' || c == '\\') c = '?';
    }
    d.reason = "invalid host '" + shown + "'";
    return d;
  }
  std::string target = (host->find(':') == std::string::npos ? *host : "[" + *host + "]") + ":" +
                       std::to_string(port);
  if (rules_.empty()) {
    d.reason = "network connections not allowed by policy (no network_policies)";
    return d;
  }
  auto ip = parse_ip_literal(*host);
  std::vector<std::string> binary_mismatch, needs_l7;
  bool all_allowed_ips = true;
  for (const NetworkPolicyRule& rule : rules_) {
    std::optional<bool> binary_ok;  // looked up once, and only if an endpoint matches
    for (const NetworkEndpoint& e : rule.endpoints) {
      if (!endpoint_matches(e, *host, ip, port)) continue;
      if (classify_endpoint(e) == EndpointLayer::kL7Required) {
        needs_l7.push_back(rule.key);
        continue;
      }
      if (!binary_ok) {
        binary_ok = relaxed_binaries_ || binary_allowed(rule, caller, symlink_targets_);
      }
      if (!*binary_ok) {
        binary_mismatch.push_back(rule.key);
        continue;
      }
      if (!d.allow) d.rule_key = rule.key;  // rules_ is sorted: the first is the smallest
      d.allow = true;
      if (e.allowed_ips.empty()) {
        all_allowed_ips = false;
        if (is_exact_host(e)) d.grant.private_allowed = true;
      }
      for (const std::string& text : e.allowed_ips) {
        if (auto c = parse_cidr(text)) d.grant.allowed_ips.push_back(*c);
      }
    }
  }
  if (d.allow) {
    d.grant.allowed_ips_only = all_allowed_ips;
    return d;
  }
  auto unique = [](std::vector<std::string>& v) {
    v.erase(std::unique(v.begin(), v.end()), v.end());
  };
  unique(binary_mismatch);
  unique(needs_l7);
  if (!binary_mismatch.empty()) {
    std::vector<std::string> ancestors(
        caller.exe_chain.begin() + (caller.exe_chain.empty() ? 0 : 1), caller.exe_chain.end());
    std::string exe = caller.exe_chain.empty() ? "(unknown)" : caller.exe_chain.front();
    d.reason = "endpoint " + target + " matched policy " + quoted_keys(binary_mismatch) +
               " but binary '" + exe + "' (ancestors: [" + join(ancestors) +
               "]) is not one of its binaries";
  } else if (!needs_l7.empty()) {
    d.reason = "endpoint " + target + " in policy " + quoted_keys(needs_l7) +
               " requires L7 enforcement, not available";
  } else {
    d.reason = "endpoint " + target + " is not allowed by any policy";
  }
  return d;
}

bool NetworkRules::could_match_host(std::string_view raw_host) const {
  auto host = canonical_host(raw_host);
  if (!host) return false;
  auto ip = parse_ip_literal(*host);
  for (const NetworkPolicyRule& rule : rules_) {
    if (!relaxed_binaries_ && rule.binaries.empty()) continue;
    for (const NetworkEndpoint& e : rule.endpoints) {
      if (e.host.empty() || classify_endpoint(e) == EndpointLayer::kL7Required) continue;
      for (uint32_t port : e.ports) {
        if (endpoint_matches(e, *host, ip, static_cast<uint16_t>(port))) return true;
      }
    }
  }
  return false;
}

std::vector<uint16_t> NetworkRules::ports() const {
  std::vector<uint16_t> out;
  for (const NetworkPolicyRule& rule : rules_) {
    if (!relaxed_binaries_ && rule.binaries.empty()) continue;
    for (const NetworkEndpoint& e : rule.endpoints) {
      if (classify_endpoint(e) == EndpointLayer::kL7Required) continue;
      for (uint32_t port : e.ports) out.push_back(static_cast<uint16_t>(port));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace openshell::policy::net
