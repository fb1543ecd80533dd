// One client connection from inside the sandbox, accepted by the proxy
// (127.0.0.1:3128, [::1]:3128) or by a capture listener (a synthetic
// 127.1.x.y address the sandbox's DNS handed out), taken through the same
// steps:
//   1. what is asked: the proxy reads and parses the request head
//      (proxy_request.h); a capture listener maps its local address back
//      to the name (synthetic_addresses.h) and takes its own port;
//   2. who asks: caller.h;
//   3. the decision: the current generation's NetworkRules::decide on the
//      canonical host (IP literals through parse_ip_literal);
//   4. where to: the resolver's addresses, every one through
//      check_address; only checked addresses are dialed, from the pod's
//      network namespace;
//   5. the relay (relay.h), registered so a reloaded policy can close it.
// Every decision is one audit record (audit.h).
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "audit.h"
#include "caller.h"
#include "resolver.h"
#include "sandbox-policy/network_decision.h"
#include "synthetic_addresses.h"

namespace openshell::egress {

class Relay;

// One compiled `network_policies`. Without rules everything is denied,
// for `deny_reason` (an invalid reloaded file).
struct Generation {
  uint64_t number = 0;
  std::shared_ptr<const policy::net::NetworkRules> rules;
  std::string deny_reason;
};

// An established relay and what allowed it, re-checked on every reload.
struct Tunnel {
  std::string host;  // as decided (canonical)
  uint16_t port = 0;
  policy::net::IpAddress address;  // dialed
  CallerIdentity caller;
  std::string via;
  std::shared_ptr<Relay> relay;
};

// What connections need from the runtime (egress.h).
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  virtual boost::asio::io_context& io() = 0;
  virtual const Generation& generation() const = 0;
  virtual pid_t init_pid() const = 0;
  virtual int diag_socket() const = 0;  // -1: none
  virtual int sandbox_proc() const = 0;  // the sandbox's procfs; -1: none
  virtual Resolver& resolver() = 0;
  virtual Audit& audit() = 0;
  virtual const SyntheticAddresses& synthetic() const = 0;
  virtual uint64_t add_tunnel(Tunnel tunnel) = 0;
  virtual void remove_tunnel(uint64_t id) = 0;
};

void serve_proxy_connection(ConnectionHost& host, boost::asio::ip::tcp::socket client);
void serve_capture_connection(ConnectionHost& host, boost::asio::ip::tcp::socket client,
                              uint16_t port);

// Denied under `generation`? (The reload check of an established tunnel.)
// Empty: still allowed; else why not.
std::string recheck(const Generation& generation, const Tunnel& tunnel);

}  // namespace openshell::egress
