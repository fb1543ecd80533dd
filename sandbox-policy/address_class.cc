// IP literals and the classes of addresses a connection may reach
// (DESIGN.md §6 "Egress", OpenShell's SSRF rules). Spellings are
// canonicalised before anything is compared: a request for `0x7f.1` is a
// request for 127.0.0.1, whatever a client library would make of it.
#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "network_decision.h"

namespace openshell::policy::net {
namespace {

IpAddress v4(uint32_t value) {
  IpAddress a;
  a.bytes[0] = static_cast<uint8_t>(value >> 24);
  a.bytes[1] = static_cast<uint8_t>(value >> 16);
  a.bytes[2] = static_cast<uint8_t>(value >> 8);
  a.bytes[3] = static_cast<uint8_t>(value);
  return a;
}

// One part of an inet_aton(3) address: decimal, 0x hexadecimal, or octal
// with a leading 0. nullopt on anything else or above `max`.
std::optional<uint32_t> aton_part(std::string_view s, uint32_t max) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, base);
  if (ec != std::errc() || end != s.data() + s.size() || value > max) return std::nullopt;
  return static_cast<uint32_t>(value);
}

// inet_aton(3)'s forms: a, a.b (8.24 bits), a.b.c (8.8.16), a.b.c.d.
std::optional<IpAddress> parse_aton(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    parts.push_back(s.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() > 4) return std::nullopt;
  uint32_t value = 0;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    auto p = aton_part(parts[i], 0xff);
    if (!p) return std::nullopt;
    value |= *p << (24 - 8 * i);
  }
  uint32_t last_max = parts.size() == 1 ? 0xffffffffu : (0xffffffffu >> (8 * (parts.size() - 1)));
  auto last = aton_part(parts.back(), last_max);
  if (!last) return std::nullopt;
  return v4(value | *last);
}

std::optional<IpAddress> parse_v6(std::string_view s) {
  if (s.empty() || s.size() > 64 || s.find('%') != std::string_view::npos) return std::nullopt;
  std::string text(s);
  IpAddress a;
  a.v6 = true;
  if (inet_pton(AF_INET6, text.c_str(), a.bytes.data()) != 1) return std::nullopt;
  return a;
}

bool prefix_equal(const IpAddress& a, const IpAddress& net, unsigned prefix) {
  unsigned full = prefix / 8;
  for (unsigned i = 0; i < full; ++i) {
    if (a.bytes[i] != net.bytes[i]) return false;
  }
  unsigned rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (net.bytes[full] & mask);
}

// A table of ranges, parsed once.
std::vector<Cidr> ranges(std::initializer_list<std::string_view> texts) {
  std::vector<Cidr> out;
  for (std::string_view t : texts) out.push_back(*parse_cidr(t));
  return out;
}

bool in_any(const IpAddress& a, const std::vector<Cidr>& table) {
  return std::any_of(table.begin(), table.end(),
                     [&](const Cidr& c) { return cidr_contains(c, a); });
}

// Never reachable, whatever the policy says: the sandbox's own loopback
// (which is the pod's loopback seen from the supervisor: its SSH listener),
// link-local (cloud metadata), unspecified, multicast and broadcast.
bool always_blocked_v4(const IpAddress& a) {
  static const auto table =
      ranges({"0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "255.255.255.255/32"});
  return in_any(a, table);
}

// Internal: reachable only for an exact declared host or inside allowed_ips.
bool internal_v4(const IpAddress& a) {
  static const auto table =
      ranges({"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.0.0/24",
              "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4"});
  return in_any(a, table);
}

bool always_blocked_v6(const IpAddress& a) {
  static const auto table = ranges({"::/128", "::1/128", "fe80::/10", "ff00::/8", "::/96"});
  return in_any(a, table);
}

bool internal_v6(const IpAddress& a) {
  static const auto table = ranges({"fc00::/7", "fec0::/10", "2001:db8::/32", "100::/64"});
  return in_any(a, table);
}

bool is_control_plane_port(uint16_t port) {
  return port == 2379 || port == 2380 || port == 6443 || port == 10250 || port == 10255;
}

}  // namespace

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpAddress> parse_ip_literal(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return parse_v6(host.substr(1, host.size() - 2));
  }
  if (host.find(':') != std::string_view::npos) return parse_v6(host);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty()) return std::nullopt;
  return parse_aton(host);
}

std::optional<Cidr> parse_cidr(std::string_view text) {
  size_t slash = text.find('/');
  std::string address(text.substr(0, slash));
  IpAddress a;
  // Strict spellings only: in a policy, "10/8" must not silently mean
  // 0.0.0.10/8 as inet_aton would have it.
  if (inet_pton(AF_INET, address.c_str(), a.bytes.data()) != 1) {
    a.v6 = true;
    if (inet_pton(AF_INET6, address.c_str(), a.bytes.data()) != 1) return std::nullopt;
  }
  unsigned max = a.v6 ? 128 : 32;
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() || prefix > max) {
      return std::nullopt;
    }
  }
  // Host bits are cleared: 10.1.2.3/8 is 10.0.0.0/8.
  for (unsigned bit = prefix; bit < max; ++bit) {
    a.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return Cidr{a, prefix};
}

std::optional<IpAddress> embedded_v4(const IpAddress& address) {
  if (!address.v6) return address;
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  // 64:ff9b::/96, NAT64's well-known prefix: a NAT64 gateway dials the
  // IPv4 address in the last four bytes.
  static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::equal(mapped, mapped + 12, address.bytes.begin()) ||
      std::equal(nat64, nat64 + 12, address.bytes.begin())) {
    IpAddress a;
    std::copy(address.bytes.begin() + 12, address.bytes.end(), a.bytes.begin());
    return a;
  }
  return std::nullopt;
}

bool cidr_contains(const Cidr& cidr, const IpAddress& address) {
  // An IPv4 CIDR also contains the v4-mapped spelling of its addresses.
  IpAddress a = address;
  if (!cidr.network.v6 && address.v6) {
    auto inner = embedded_v4(address);
    if (!inner) return false;
    a = *inner;
  }
  if (a.v6 != cidr.network.v6) return false;
  return prefix_equal(a, cidr.network, cidr.prefix);
}

AddressClass classify(const IpAddress& address) {
  if (auto inner = embedded_v4(address)) {
    if (always_blocked_v4(*inner)) return AddressClass::kAlwaysBlocked;
    return internal_v4(*inner) ? AddressClass::kInternal : AddressClass::kPublic;
  }
  if (always_blocked_v6(address)) return AddressClass::kAlwaysBlocked;
  return internal_v6(address) ? AddressClass::kInternal : AddressClass::kPublic;
}

AddressVerdict check_address(const AddressGrant& grant, const IpAddress& address, uint16_t port) {
  AddressClass cls = classify(address);
  if (cls == AddressClass::kAlwaysBlocked) return AddressVerdict::kAlwaysBlocked;
  bool listed = std::any_of(grant.allowed_ips.begin(), grant.allowed_ips.end(),
                            [&](const Cidr& c) { return cidr_contains(c, address); });
  if (grant.allowed_ips_only && !listed) return AddressVerdict::kNotInAllowedIps;
  if (cls == AddressClass::kInternal) {
    if (!grant.private_allowed && !listed) return AddressVerdict::kPrivateNotGranted;
    if (is_control_plane_port(port)) return AddressVerdict::kControlPlanePort;
  }
  return AddressVerdict::kAllowed;
}

std::string_view to_string(AddressVerdict verdict) {
  switch (verdict) {
    case AddressVerdict::kAllowed:
      return "allowed";
    case AddressVerdict::kAlwaysBlocked:
      return "internal address (loopback, link-local, unspecified, multicast or broadcast)";
    case AddressVerdict::kPrivateNotGranted:
      return "internal address (private range) not granted by an exact host or allowed_ips";
    case AddressVerdict::kControlPlanePort:
      return "control-plane port on an internal address";
    case AddressVerdict::kNotInAllowedIps:
      return "allowed_ips check failed";
  }
  return "denied";
}

}  // namespace openshell::policy::net
