// The egress runtime of network mode `proxy` (DESIGN.md §6 "Egress"): the
// proxy on 127.0.0.1:3128 and [::1]:3128, the DNS server on 53 (UDP and
// TCP), capture listeners on the ports the rules name, all listening
// inside the sandbox's network namespace and served on the supervisor's
// one Asio loop; upstream connections dialed from the pod's namespace. The
// policy file is watched: a changed `network_policies` becomes a new
// generation and tunnels it would deny are closed.
//
// Privileges the runtime still needs after start-up (the rest may go):
// - CAP_DAC_READ_SEARCH (or CAP_DAC_OVERRIDE): list /proc/<pid>/fd of
//   sandbox processes to find who owns a client socket (caller.h), on
//   every connection;
// - CAP_SYS_ADMIN and CAP_NET_BIND_SERVICE: only to add a capture listener
//   for a port that a reloaded policy names for the first time (setns into
//   the sandbox's network, bind under 1024). Without them the port is
//   reported and reachable through the proxy only.
// Nothing else: the listeners exist from start-up, and c-ares, the relays
// and inotify need no capability.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "error.h"
#include "sandbox-policy/model.h"
#include "unique_fd.h"

namespace openshell::egress {

struct EgressSettings {
  pid_t init_pid = 0;      // the sandbox init, as this process sees it
  UniqueFd sandbox_netns;  // its /proc/<pid>/ns/net
  policy::Policy policy;   // as loaded at start
  std::string policy_file;  // watched for reloads; empty: none (built-in default)
  bool relaxed_binaries = false;  // OPENSHELL_NETWORK_BINARY_IDENTITY=relaxed
};

class Egress {
 public:
  // Creates every listener and starts serving; fails (nothing half
  // started) when the proxy's listeners cannot be made.
  static Result<std::unique_ptr<Egress>> start(boost::asio::io_context& io,
                                               EgressSettings settings);
  ~Egress();

  // Closes the listeners and every tunnel; the loop can then end.
  void stop();

  // Reads the policy file again now (the watcher calls this).
  void reload();

 private:
  struct Impl;
  explicit Egress(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// OPENSHELL_NETWORK_BINARY_IDENTITY: "" or "strict" -> false, "relaxed" ->
// true, anything else an error naming the variable.
Result<bool> parse_binary_identity(const char* value);

}  // namespace openshell::egress
