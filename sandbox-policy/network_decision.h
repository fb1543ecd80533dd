// The egress decision (DESIGN.md §5, §6 "Egress"): OpenShell's L4 semantics
// for `network_policies`, and the address checks applied to every address a
// name resolves to. Pure functions of the policy and their inputs: the
// supervisor's egress proxy, DNS server and capture listeners call these and
// do the I/O.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model.h"

namespace openshell::policy::net {

// An IPv4 or IPv6 address in network byte order. IPv4 is kept as such (not
// v4-mapped); v4-mapped IPv6 literals are classified by their IPv4 part.
struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4: the first four

  bool operator==(const IpAddress&) const = default;
  std::string to_string() const;
};

// An IP literal as a host in a request: "10.0.0.1", "[::1]", "::1", and the
// spellings inet_aton accepts ("2130706433", "127.1", "0x7f.1", octal), with
// a trailing dot ignored. nullopt: not an IP literal (a name).
std::optional<IpAddress> parse_ip_literal(std::string_view host);

struct Cidr {
  IpAddress network;
  unsigned prefix = 0;
};
std::optional<Cidr> parse_cidr(std::string_view text);  // "10.0.0.0/8" or a single address

// Who is calling: the executable of the process that owns the socket, then
// its ancestors' up to (not including) the sandbox init; at most 64.
struct Caller {
  std::vector<std::string> exe_chain;
};

// What the matching rules permit about the addresses a host resolves to.
struct AddressGrant {
  bool private_allowed = false;    // some matching endpoint names this exact host
  std::vector<Cidr> allowed_ips;   // union of the matching endpoints' allowed_ips
};

struct Decision {
  bool allow = false;
  std::string rule_key;  // the smallest matching rule key; empty when denied
  // For a deny, why: "no rule has endpoint host:port", or "endpoint host:port
  // matched rule K but binary /usr/bin/x (ancestors: ...) is not one of its
  // binaries", or "endpoint requires L7 enforcement, not available".
  std::string reason;
  AddressGrant grant;
};

// The checked result of an address a name resolved to.
enum class AddressVerdict {
  kAllowed,
  kAlwaysBlocked,      // loopback, link-local, unspecified (and v4-mapped forms)
  kPrivateNotGranted,  // RFC 1918, 100.64/10, fc00::/7 ... without an exact host or allowed_ips
  kControlPlanePort,   // 2379, 2380, 6443, 10250, 10255 on a private address
};
std::string_view to_string(AddressVerdict verdict);

// One generation of compiled `network_policies`.
class NetworkRules {
 public:
  // `relaxed_binaries`: OPENSHELL_NETWORK_BINARY_IDENTITY=relaxed, binaries
  // are ignored. `symlink_targets`: for policy binary paths that are
  // symlinks in the sandbox's view, their targets (path -> target), so a
  // rule naming /usr/bin/python3 matches /usr/bin/python3.11.
  NetworkRules(const Policy& policy, bool relaxed_binaries,
               std::vector<std::pair<std::string, std::string>> symlink_targets = {});

  // L4 decision for host (a name, lower-cased by the callee, or an IP
  // literal) and port, for this caller.
  Decision decide(std::string_view host, uint16_t port, const Caller& caller) const;

  // Could some rule's endpoint match this name on any port, for any binary?
  // The DNS server answers such names with a synthetic address, others with
  // NXDOMAIN.
  bool could_match_host(std::string_view host) const;

  // Every port some rule names (for the capture listeners).
  std::vector<uint16_t> ports() const;

  bool empty() const;

 private:
  struct Impl;
  std::vector<NetworkPolicyRule> rules_;
  bool relaxed_binaries_ = false;
  std::vector<std::pair<std::string, std::string>> symlink_targets_;
};

AddressVerdict check_address(const AddressGrant& grant, const IpAddress& address, uint16_t port);

// Host glob matching, case-insensitive, split on '.': '*' is one label,
// '**' one or more.
bool host_matches(std::string_view pattern, std::string_view host);
// Path glob: '*' does not cross '/', '**' does.
bool binary_matches(std::string_view pattern, std::string_view path);

}  // namespace openshell::policy::net
