// Who is calling (DESIGN.md §6 "Egress"): the process inside the sandbox
// that owns the client end of a connection accepted by the proxy or a
// capture listener, and its executable and ancestors' executables.
//
// 1. The client socket: its inode, asked of the sandbox network's
//    sock_diag (NETLINK_SOCK_DIAG, an exact 4-tuple lookup, made with a
//    netlink socket opened in that namespace at start-up), or else found in
//    the sandbox's /proc/<init>/net/tcp{,6} as the line whose local address
//    is the accepted socket's peer and whose remote address is the
//    listener's. The table costs ~2 ms a read however few its lines (the
//    kernel walks the whole host's hash), the lookup microseconds.
// 2. Its owner: the sandbox process holding "socket:[inode]" among its
//    fds (/proc/<pid>/fd, listed and readlink'ed, never stat'ed). Every
//    holder is found: all of the sandbox's processes are looked at. They
//    are the init's descendants (every orphan is re-parented to the init):
//    listed at once in the sandbox's own procfs (opened at start, before
//    any sandbox process ran; the sandbox cannot mount), a process there
//    that did not descend from the init (one entered from outside) left
//    out; or, without it, walked through the supervisor's
//    /proc/<pid>/task/<tid>/children.
// 3. Its binary: /proc/<pid>/exe, then the parents' up to the init, at most
//    64. readlink there gives the path inside the sandbox's mount
//    namespace, the namespace policy paths are written for.
// Owners with different executable chains (a socket passed or inherited):
// refused, the caller is ambiguous.
//
// Privileges: listing /proc/<pid>/fd of a sandbox process (mode 0500,
// owned by the sandbox uid) needs CAP_DAC_READ_SEARCH (or
// CAP_DAC_OVERRIDE) in the pod for the supervisor's whole life. exe and
// stat pass the ptrace access check without CAP_SYS_PTRACE: the sandbox's
// user namespace is owned by the supervisor's uid.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"
#include "unique_fd.h"

namespace openshell::egress {

// An address and port as /proc/net/tcp prints them, v4 or v6.
struct SocketAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 in the first four
  uint16_t port = 0;

  bool operator==(const SocketAddress&) const = default;
};

// The inode of the socket in a /proc/net/tcp or tcp6 text whose local
// address is `local` and remote address is `remote`; nullopt if none. Pure:
// the table's text is the input.
std::optional<uint64_t> find_socket_inode(std::string_view proc_net_tcp, const SocketAddress& local,
                                          const SocketAddress& remote);

// One /proc/net/tcp address field, "0100007F:0C38" (the words of the
// address are printed in host byte order).
std::optional<SocketAddress> parse_proc_net_address(std::string_view field, bool v6);

struct CallerIdentity {
  // The owner: as the sandbox sees it when the sandbox's procfs is used,
  // else as the supervisor sees it.
  pid_t pid = 0;
  std::vector<std::string> exe_chain;  // its exe, then its ancestors'
};

// The inode of the TCP socket local -> remote, by sock_diag on `diag` (a
// NETLINK_SOCK_DIAG socket of the namespace to ask); nullopt if none.
std::optional<uint64_t> diag_socket_inode(int diag, const SocketAddress& local,
                                          const SocketAddress& remote);

// Finds and identifies the owner of the client end of a connection to
// `listener` from `peer` in the sandbox whose init is `init_pid` (as the
// supervisor sees it). `diag`: a sock_diag socket in the sandbox's
// network, or -1 for the /proc table. `sandbox_proc`: from
// open_sandbox_proc, or -1 for the walk of the supervisor's /proc.
Result<CallerIdentity> identify_caller(pid_t init_pid, const SocketAddress& peer,
                                       const SocketAddress& listener, int diag = -1,
                                       int sandbox_proc = -1);

// The procfs mounted at /proc in the sandbox (`sandbox_root`: the init's
// /proc/<pid>/root), checked to be a procfs of the init's PID namespace.
// Open it before any sandbox process runs.
Result<UniqueFd> open_sandbox_proc(int sandbox_root, pid_t init_pid);

}  // namespace openshell::egress
