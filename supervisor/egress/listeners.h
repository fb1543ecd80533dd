// The egress listening sockets, created inside the sandbox's network
// namespace by the supervisor (setns there and straight back, on its one
// thread, as loopback.cc does for direct-tcpip): a socket stays in the
// namespace it was created in (network_namespaces(7)), so the supervisor
// serves them on its loop while every other socket it opens, upstream
// connections included, stays in the pod's namespace.
//
// All of them are made at start-up, while the supervisor still holds
// CAP_SYS_ADMIN (setns) and CAP_NET_BIND_SERVICE (ports under 1024 in a
// namespace owned by the pod's user namespace). Later, only a reloaded
// policy naming a new port needs them again (a capture listener); without
// them that port is reported and served through the proxy only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "error.h"
#include "unique_fd.h"

namespace openshell::egress {

inline constexpr uint16_t kProxyPort = 3128;
inline constexpr uint16_t kDnsPort = 53;

struct ListenSpec {
  enum class Kind { kTcp, kUdp } kind = Kind::kTcp;
  std::string address;  // "127.0.0.1", "::1", "0.0.0.0"
  uint16_t port = 0;
};

struct Listener {
  ListenSpec spec;
  UniqueFd fd;  // bound; listening for kTcp
};

// Enters `netns` (an open /proc/<pid>/ns/net), creates and binds every
// socket, returns to the supervisor's namespace. An IPv6 spec where the
// sandbox network has no IPv6 (disabled there or in the kernel) is skipped
// and named in `skipped`; any other failure fails the whole call.
Result<std::vector<Listener>> create_listeners(int netns, const std::vector<ListenSpec>& specs,
                                               std::vector<std::string>& skipped);

// A NETLINK_SOCK_DIAG socket of the sandbox's network (caller.h asks it
// which socket a client connection is).
Result<UniqueFd> create_diag_socket(int netns);

// The proxy's and the DNS server's sockets, on 127.0.0.1 and ::1.
std::vector<ListenSpec> proxy_and_dns_specs();
// A capture listener: every local IPv4 address (127.1.x.y included) on
// `port`.
ListenSpec capture_spec(uint16_t port);

std::string describe(const ListenSpec& spec);

}  // namespace openshell::egress
