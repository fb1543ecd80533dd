// Name resolution for the egress proxy (DESIGN.md §6 "Egress", where to):
// c-ares on the supervisor's Asio loop. A static binary cannot rely on
// glibc's NSS (getaddrinfo would dlopen modules that are not there), and a
// blocking lookup would stall every session on the loop.
//
// Reads the pod's /etc/resolv.conf once (at creation) and /etc/hosts
// (c-ares' "fb" order: file, then DNS) when it changed: answers are kept
// for their TTL, the hosts file's until the file changes (answer_cache.h).
// Queries go out from the supervisor's own network namespace, never the
// sandbox's.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "error.h"
#include "sandbox-policy/network_decision.h"

namespace openshell::egress {

class Resolver {
 public:
  using Addresses = std::vector<policy::net::IpAddress>;
  using Callback = std::function<void(Result<Addresses>)>;

  static Result<std::unique_ptr<Resolver>> create(boost::asio::io_context& io);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Every IPv4 and IPv6 address of `host`, in the order received; the
  // callback runs later on the loop, never inside this call.
  void resolve(const std::string& host, Callback callback);

 private:
  struct Impl;
  explicit Resolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace openshell::egress
