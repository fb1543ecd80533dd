// The sandbox's DNS server: serves dns_message.h's answers on the UDP and
// TCP sockets the sandbox init created on 127.0.0.1:53 and [::1]:53 inside
// the sandbox's network namespace, on the supervisor's Asio loop. It never
// sends a query anywhere.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include "synthetic_addresses.h"
#include "unique_fd.h"

namespace openshell::egress {

class DnsServer {
 public:
  // Could some rule's endpoint match this host (lower-case, no trailing
  // dot)? Called per query, so a reloaded policy applies to the next one:
  // pass a function that reads the current generation.
  using HostFilter = std::function<bool(std::string_view host)>;

  // `table` outlives the server; the capture listeners read the same table.
  DnsServer(boost::asio::io_context& io, SyntheticAddresses& table, HostFilter could_match);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Serve a bound UDP socket (IPv4 or IPv6; the family is read from the fd).
  void serve_udp(UniqueFd socket);
  // Serve a bound, listening TCP socket: 2-byte length framing (RFC 1035
  // §4.2.2), several queries per connection, closed when idle.
  void serve_tcp(UniqueFd listener);

  // Closes every socket; pending handlers end.
  void stop();

  struct Counters {
    size_t queries = 0;
    size_t answered = 0;    // NOERROR with an address
    size_t nxdomain = 0;
    size_t dropped = 0;     // malformed beyond a reply, or a response
    size_t exhausted = 0;   // the synthetic range ran out
  };
  const Counters& counters() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace openshell::egress
