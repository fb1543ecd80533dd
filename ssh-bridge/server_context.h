// State shared by the listeners and every connection of one Bridge.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>

#include "bridge.h"
#include "handles.h"
#include "keys.h"

namespace openshell::ssh {

class Connection;

struct ServerContext {
  ServerContext(boost::asio::io_context& io_context, BridgeConfig cfg, BridgeServices svc)
      : io(io_context), config(std::move(cfg)), services(svc) {}

  boost::asio::io_context& io;
  BridgeConfig config;
  BridgeServices services;
  AuthorizedKeys keys;
  std::string host_public_key;
  std::string host_fingerprint;
  BindPtr bind;

  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections;
  // Oldest first: the admission policy drops from the front.
  std::list<std::uint64_t> unauthenticated;
  std::size_t authenticated = 0;
  std::uint64_t next_id = 1;
  // The supervisor is shutting down: no new connection, no new process.
  bool shutting_down = false;

  void admit(int fd, std::string peer);
  // Closes an unauthenticated connection to make room, audited.
  void drop(std::list<std::uint64_t>::iterator victim, std::string_view why);
  void authenticated_now(std::uint64_t id);
  // Called by a connection once it is closed; the object is released later.
  void forget(std::uint64_t id, bool was_authenticated);
};

}  // namespace openshell::ssh
