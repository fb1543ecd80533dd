// direct-tcpip for the SSH bridge: a TCP connection to loopback inside the
// sandbox's network. In network mode `pod` that is the supervisor's own
// network; in mode `none` the socket is created inside the sandbox's
// network namespace (setns there and back on this thread; the socket stays
// bound to the namespace it was created in, network_namespaces(7)).
#pragma once

#include <boost/asio/io_context.hpp>

#include "interfaces.h"
#include "unique_fd.h"

namespace openshell {

class LoopbackConnector final : public ssh::LoopbackConnector {
 public:
  // `sandbox_netns`: the sandbox's /proc/<pid>/ns/net, or invalid to use
  // the supervisor's own network.
  LoopbackConnector(boost::asio::io_context& io, UniqueFd sandbox_netns);

  void connect(const boost::asio::ip::tcp::endpoint& endpoint,
               std::function<void(Result<UniqueFd>)> done) override;

 private:
  Result<UniqueFd> make_socket(int family);

  boost::asio::io_context& io_;
  UniqueFd own_netns_;
  UniqueFd sandbox_netns_;
};

}  // namespace openshell
