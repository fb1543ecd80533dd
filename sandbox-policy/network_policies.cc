// Load-time checks of `network_policies`, as OpenShell's validator makes
// them (host shape, ports, hostless endpoints, L7 consistency), plus the
// conversion to the model the decision reads. A policy that loads here
// means the same thing to this build as to OpenShell, or is refused.
#include <algorithm>
#include <map>
#include <set>

#include "network_decision.h"
#include "validate.h"

namespace openshell::policy {
namespace {

std::string indexed(const std::string& key, size_t i) {
  return key + "[" + std::to_string(i) + "]";
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

PolicyResult<void> one_of(const std::string& key, const std::string& value,
                          std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return {};
    if (*a) list += (list.empty() ? "" : ", ") + std::string(a);
  }
  return policy_error(key, "bad value '" + value + "' (expected one of: " + list + ")");
}

// An allow rule granting every request: {allow: {method: "*", path: "**"}}.
bool allows_everything(const proto::Value& rule) {
  if (!rule.has_struct_value()) return false;
  const auto& fields = rule.struct_value().fields();
  auto allow = fields.find("allow");
  if (fields.size() != 1 || allow == fields.end() || !allow->second.has_struct_value()) {
    return false;
  }
  const auto& a = allow->second.struct_value().fields();
  auto method = a.find("method");
  auto path = a.find("path");
  return a.size() == 2 && method != a.end() && path != a.end() &&
         method->second.string_value() == "*" &&
         (path->second.string_value() == "**" || path->second.string_value() == "/**");
}

// Ranges no allowed_ips entry may reach into: the checks at connect time
// would refuse those addresses anyway, and a policy that seems to grant
// them must not load as if it did.
PolicyResult<void> check_allowed_ip(const std::string& key, const std::string& text) {
  auto cidr = net::parse_cidr(text);
  if (!cidr) return policy_error(key, "'" + text + "' is not an IP address or CIDR");
  static const char* const kBlocked[] = {
      "0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "255.255.255.255/32",
      "::/128",    "::1/128",     "fe80::/10",      "ff00::/8",    "::ffff:0:0/96"};
  for (const char* b : kBlocked) {
    auto blocked = net::parse_cidr(b);
    if (blocked->network.v6 != cidr->network.v6) continue;
    if (net::cidr_contains(*cidr, blocked->network) ||
        net::cidr_contains(*blocked, cidr->network)) {
      return policy_error(key, "'" + text + "' overlaps " + b +
                                   " (loopback, link-local, unspecified, multicast, broadcast "
                                   "or v4-mapped), which is never reachable");
    }
  }
  return {};
}

PolicyResult<NetworkEndpoint> convert_endpoint(const proto::NetworkEndpoint& e,
                                               const std::string& ek) {
  NetworkEndpoint ep;
  ep.protocol = e.protocol();
  if (auto r = one_of(ek + ".protocol", ep.protocol,
                      {"", "tcp", "rest", "websocket", "graphql", "sql", "json-rpc", "mcp"});
      !r) {
    return std::unexpected(r.error());
  }
  bool tcp = ep.protocol == "tcp";
  bool l7 = !ep.protocol.empty() && !tcp;

  // Host.
  std::string host = lower(e.host());
  if (!host.empty() && host.back() == '.') {
    if (tcp) {
      return policy_error(ek + ".host", "a tcp endpoint's host is written without a trailing dot");
    }
    host.pop_back();
  }
  if (host.empty()) {
    if (tcp) return policy_error(ek + ".host", "missing: a tcp endpoint needs a DNS name");
    if (e.allowed_ips().empty()) {
      return policy_error(ek + ".host",
                          "missing: an endpoint needs a host, or allowed_ips for a hostless one");
    }
  } else {
    if (auto why = net::host_pattern_error(host)) return policy_error(ek + ".host", *why);
    auto literal = host.find('*') == std::string::npos ? net::parse_ip_literal(host) : std::nullopt;
    if (tcp && literal) {
      return policy_error(ek + ".host", "a tcp endpoint's host must be a DNS name, not an address");
    }
    // A never-reachable address (127.0.0.1, 0x7f.1, 169.254.169.254) loads,
    // as in OpenShell, and is refused on every connection by check_address
    // (ssrf_denied), which says why where the agent sees it.
    // An address is kept in one spelling: "0xa.1.2.3" is 10.1.2.3.
    if (literal) host = literal->to_string();
  }
  ep.host = host;

  // Ports: `ports`, when given, replaces `port` (OpenShell ignores `port`).
  if (e.port() > 65535) return policy_error(ek + ".port", "port must be in [1, 65535]");
  if (e.ports_size() > 0) {
    for (int j = 0; j < e.ports_size(); ++j) {
      if (e.ports(j) == 0 || e.ports(j) > 65535) {
        return policy_error(indexed(ek + ".ports", j), "port must be in [1, 65535]");
      }
      if (std::find(ep.ports.begin(), ep.ports.end(), e.ports(j)) == ep.ports.end()) {
        ep.ports.push_back(e.ports(j));
      }
    }
  } else if (e.port() != 0) {
    ep.ports.push_back(e.port());
  } else {
    return policy_error(ek + ".port", "missing: an endpoint needs `port` or `ports`");
  }

  // L7 keys: accepted, checked for consistency, enforced only as far as
  // L4 allows (network_decision.h classify_endpoint).
  ep.tls = e.tls();
  if (auto r = one_of(ek + ".tls", ep.tls, {"", "auto", "skip", "terminate", "passthrough"}); !r) {
    return std::unexpected(r.error());
  }
  ep.enforcement = e.enforcement();
  if (auto r = one_of(ek + ".enforcement", ep.enforcement, {"", "enforce", "audit"}); !r) {
    return std::unexpected(r.error());
  }
  ep.access = e.access();
  if (auto r = one_of(ek + ".access", ep.access, {"", "read-only", "read-write", "full"}); !r) {
    return std::unexpected(r.error());
  }
  ep.l7_rule_count = static_cast<size_t>(e.rules_size());
  ep.deny_rule_count = static_cast<size_t>(e.deny_rules_size());
  ep.path = e.path();
  ep.l7_rules_allow_all = std::any_of(e.rules().begin(), e.rules().end(), allows_everything);
  if (!ep.access.empty() && e.rules_size() > 0) {
    return policy_error(ek + ".rules", "`access` and `rules` exclude each other (" + ek +
                                           ".access is '" + ep.access + "')");
  }
  for (const char* key : {"rules", "access", "deny_rules", "path"}) {
    bool set = (std::string(key) == "rules" && e.rules_size() > 0) ||
               (std::string(key) == "access" && !ep.access.empty()) ||
               (std::string(key) == "deny_rules" && e.deny_rules_size() > 0) ||
               (std::string(key) == "path" && !ep.path.empty());
    if (set && !l7) {
      return policy_error(ek + "." + key, std::string("`") + key +
                                              "` needs an L7 `protocol` (rest, websocket, "
                                              "graphql, sql, json-rpc, mcp)");
    }
  }
  if (l7 && ep.protocol != "mcp" && ep.access.empty() && e.rules_size() == 0) {
    return policy_error(ek + ".protocol",
                        "protocol '" + ep.protocol + "' needs `rules` or `access` (" + ek + ")");
  }
  const std::pair<const char*, bool> options[] = {
      {"allow_encoded_slash", e.has_allow_encoded_slash()},
      {"websocket_credential_rewrite", e.has_websocket_credential_rewrite()},
      {"request_body_credential_rewrite", e.has_request_body_credential_rewrite()},
      {"allow_uninspected_credentials", e.has_allow_uninspected_credentials()},
      {"persisted_queries", e.has_persisted_queries()},
      {"graphql_persisted_queries", e.has_graphql_persisted_queries()},
      {"graphql_max_body_bytes", e.has_graphql_max_body_bytes()},
      {"credential_signing", !e.credential_signing().empty()},
      {"signing_service", !e.signing_service().empty()},
      {"signing_region", !e.signing_region().empty()},
      {"credential_binding", e.has_credential_binding()},
      {"json_rpc", e.has_json_rpc()},
      {"mcp", e.has_mcp()},
  };
  for (const auto& [name, set] : options) {
    if (set) ep.credential_options.push_back(name);
  }

  for (int i = 0; i < e.allowed_ips_size(); ++i) {
    if (auto r = check_allowed_ip(indexed(ek + ".allowed_ips", i), e.allowed_ips(i)); !r) {
      return std::unexpected(r.error());
    }
    ep.allowed_ips.push_back(e.allowed_ips(i));
  }
  return ep;
}

}  // namespace

PolicyResult<void> convert_network_policies(const proto::SandboxPolicy& m, Policy& out) {
  std::map<std::string, const proto::NetworkPolicyRule*> sorted;
  for (const auto& [key, rule] : m.network_policies()) sorted.emplace(key, &rule);
  for (const auto& [key, rule] : sorted) {
    std::string base = "network_policies." + key;
    NetworkPolicyRule r{key, rule->name().empty() ? key : rule->name(), {}, {}};
    for (int i = 0; i < rule->endpoints_size(); ++i) {
      auto ep = convert_endpoint(rule->endpoints(i), indexed(base + ".endpoints", i));
      if (!ep) return std::unexpected(ep.error());
      r.endpoints.push_back(std::move(*ep));
    }
    for (int i = 0; i < rule->binaries_size(); ++i) {
      std::string k = indexed(base + ".binaries", i) + ".path";
      const std::string& path = rule->binaries(i).path();
      if (path.empty()) return policy_error(k, "missing");
      if (path[0] != '/') return policy_error(k, "path must be absolute: '" + path + "'");
      r.binaries.push_back(path);
    }
    out.network_policies.push_back(std::move(r));
  }
  return {};
}

}  // namespace openshell::policy
