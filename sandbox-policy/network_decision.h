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
// True if `address` lies in `cidr`; an IPv4 CIDR also contains the
// v4-mapped IPv6 spelling of its addresses.
bool cidr_contains(const Cidr& cidr, const IpAddress& address);

// The IPv4 address inside a v4-mapped (::ffff:0:0/96) or NAT64
// (64:ff9b::/96) IPv6 address; an IPv4 address itself; else nullopt.
std::optional<IpAddress> embedded_v4(const IpAddress& address);

enum class AddressClass {
  kPublic,
  // 0.0.0.0/8, 127/8, 169.254/16, 224/4 multicast, 255.255.255.255; ::,
  // ::1, ::/96, fe80::/10, ff00::/8; and the v4-mapped/NAT64 forms.
  kAlwaysBlocked,
  // RFC 1918, 100.64/10, 192.0.0/24, TEST-NETs, 198.18/15, 240/4;
  // fc00::/7, fec0::/10, 2001:db8::/32, 100::/64.
  kInternal,
};
AddressClass classify(const IpAddress& address);

// Who is calling: the executable of the process that owns the socket, then
// its ancestors' up to (not including) the sandbox init; at most 64.
struct Caller {
  std::vector<std::string> exe_chain;
};

// What the matching rules permit about the addresses a host resolves to.
struct AddressGrant {
  bool private_allowed = false;   // some matching endpoint names this exact host
  std::vector<Cidr> allowed_ips;  // union of the matching endpoints' allowed_ips
  // Every matching endpoint has allowed_ips: an address must lie in one of
  // them, public or not (OpenShell: allowed_ips replace the public-only
  // check by an allow-list).
  bool allowed_ips_only = false;
};

struct Decision {
  bool allow = false;
  std::string rule_key;  // the smallest matching rule key; empty when denied
  // For a deny, why (also the `reason` of the 403 body):
  //   "endpoint H:P is not allowed by any policy"
  //   "endpoint H:P matched policy 'k' but binary '/usr/bin/x' (ancestors:
  //    [/bin/sh, ...]) is not one of its binaries"
  //   "endpoint H:P in policy 'k' requires L7 enforcement, not available"
  //   "network connections not allowed by policy (no network_policies)"
  //   "invalid host '...'"
  std::string reason;
  AddressGrant grant;
};

// The checked result of an address a name resolved to.
enum class AddressVerdict {
  kAllowed,
  kAlwaysBlocked,      // loopback, link-local, unspecified (and v4-mapped forms)
  kPrivateNotGranted,  // RFC 1918, 100.64/10, fc00::/7 ... without an exact host or allowed_ips
  kControlPlanePort,   // 2379, 2380, 6443, 10250, 10255 on a private address
  kNotInAllowedIps,    // grant.allowed_ips_only and no CIDR contains it
};
std::string_view to_string(AddressVerdict verdict);

// How this build enforces an endpoint. Only L4 (host, port, binary,
// address) is built; L7 needs TLS interception.
enum class EndpointLayer {
  kL4,            // no protocol, or protocol tcp
  kL7FullAccess,  // L7 protocol whose rules allow every request: L4 is all there is to check
  kL7Audit,       // L7 protocol, enforcement audit: L7 would only log, enforced at L4
  kL7Required,    // L7 protocol, enforcement enforce, narrower rules: DENIED
};
EndpointLayer classify_endpoint(const NetworkEndpoint& endpoint);
std::string_view to_string(EndpointLayer layer);

// Load-time check of a policy host pattern (OpenShell's rules); the
// pattern is lower case without a trailing dot. nullopt: valid.
std::optional<std::string> host_pattern_error(std::string_view pattern);

// A request host lower-cased with one trailing dot dropped; an IP literal
// in its canonical spelling. nullopt: neither a valid DNS name nor an IP
// literal (empty labels, characters outside letters, digits, '-' and '_',
// a numeric last label that is no IP literal, over 253 bytes).
std::optional<std::string> canonical_host(std::string_view host);

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
  // NXDOMAIN. Endpoints that can never allow (L7 required; no binaries
  // unless relaxed) do not count, nor do hostless endpoints: they would
  // make every name resolvable.
  bool could_match_host(std::string_view host) const;

  // Every port some rule names (for the capture listeners), sorted, unique;
  // endpoints that can never allow do not count.
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
