#include "listeners.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>

namespace openshell::egress {
namespace {

constexpr int kBacklog = 1024;

Result<UniqueFd> make_one(const ListenSpec& spec) {
  bool v6 = spec.address.find(':') != std::string::npos;
  int type = spec.kind == ListenSpec::Kind::kTcp ? SOCK_STREAM : SOCK_DGRAM;
  UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return fail_errno("socket for " + describe(spec));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage storage{};
  socklen_t length;
  if (v6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(spec.port);
    ::inet_pton(AF_INET6, spec.address.c_str(), &in6->sin6_addr);
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    length = sizeof(sockaddr_in6);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(spec.port);
    ::inet_pton(AF_INET, spec.address.c_str(), &in->sin_addr);
    length = sizeof(sockaddr_in);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0)
    return fail_errno("bind " + describe(spec));
  if (spec.kind == ListenSpec::Kind::kTcp && ::listen(fd.get(), kBacklog) != 0)
    return fail_errno("listen " + describe(spec));
  return fd;
}

}  // namespace

std::string describe(const ListenSpec& spec) {
  bool v6 = spec.address.find(':') != std::string::npos;
  return std::string(spec.kind == ListenSpec::Kind::kTcp ? "tcp " : "udp ") +
         (v6 ? "[" + spec.address + "]" : spec.address) + ":" + std::to_string(spec.port);
}

std::vector<ListenSpec> proxy_and_dns_specs() {
  std::vector<ListenSpec> out;
  for (const char* address : {"127.0.0.1", "::1"}) {
    out.push_back({ListenSpec::Kind::kTcp, address, kProxyPort});
    out.push_back({ListenSpec::Kind::kUdp, address, kDnsPort});
    out.push_back({ListenSpec::Kind::kTcp, address, kDnsPort});
  }
  return out;
}

ListenSpec capture_spec(uint16_t port) {
  return {ListenSpec::Kind::kTcp, "0.0.0.0", port};
}

Result<UniqueFd> create_diag_socket(int netns) {
  UniqueFd own(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!own) return fail_errno("open /proc/self/ns/net");
  if (::setns(netns, CLONE_NEWNET) != 0) return fail_errno("setns into the sandbox network");
  UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  int saved = errno;
  if (::setns(own.get(), CLONE_NEWNET) != 0) std::abort();
  if (!fd) return fail("NETLINK_SOCK_DIAG socket in the sandbox network", saved);
  // The kernel answers at once; never stall the loop on a lost reply.
  timeval timeout{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

Result<std::vector<Listener>> create_listeners(int netns, const std::vector<ListenSpec>& specs,
                                               std::vector<std::string>& skipped) {
  UniqueFd own(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!own) return fail_errno("open /proc/self/ns/net");
  if (::setns(netns, CLONE_NEWNET) != 0) return fail_errno("setns into the sandbox network");
  std::vector<Listener> out;
  Result<void> status;
  for (const auto& spec : specs) {
    auto fd = make_one(spec);
    // No IPv6 in the sandbox network: disabled there (no ::1 on lo,
    // EADDRNOTAVAIL) or in the kernel (ipv6.disable=1, EAFNOSUPPORT). The
    // IPv4 sockets serve alone; an IPv4 failure still fails the call.
    bool v6 = spec.address.find(':') != std::string::npos;
    if (!fd && v6 && (fd.error().err == EADDRNOTAVAIL || fd.error().err == EAFNOSUPPORT)) {
      skipped.push_back(describe(spec) + ": " + fd.error().message());
      continue;
    }
    if (!fd) {
      status = std::unexpected(fd.error());
      break;
    }
    out.push_back({spec, std::move(*fd)});
  }
  // Back at once: everything else the supervisor does uses the pod network.
  // Staying in the sandbox's by mistake would dial upstream from inside it.
  if (::setns(own.get(), CLONE_NEWNET) != 0) std::abort();
  if (!status) return std::unexpected(status.error());
  return out;
}

}  // namespace openshell::egress
