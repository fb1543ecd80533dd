// direct-tcpip channels (RFC 4254 §7.2, `ssh -L`): a TCP connection to a
// loopback port inside the sandbox's network, nowhere else.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "channel.h"
#include "loop_fd.h"

namespace openshell::ssh {

// The endpoints `host`:`port` may reach: 127.0.0.0/8, ::1 and "localhost"
// (127.0.0.1 then ::1). Empty when the destination is not loopback: names
// are never resolved, so DNS cannot turn a name into an outside address.
std::vector<boost::asio::ip::tcp::endpoint> loopback_endpoints(std::string_view host, int port);

class ForwardChannel final : public Channel {
 public:
  static std::shared_ptr<ForwardChannel> create(Connection& connection, ssh_channel channel,
                                                std::vector<boost::asio::ip::tcp::endpoint> targets,
                                                std::string target_text);
  ForwardChannel(Connection& connection, ssh_channel channel,
                 std::vector<boost::asio::ip::tcp::endpoint> targets, std::string target_text);

  void pump() override;
  void abandon() override;

 private:
  void connect_next();

  std::vector<boost::asio::ip::tcp::endpoint> targets_;
  std::size_t next_target_ = 0;
  std::string target_text_;
  std::unique_ptr<LoopFd> socket_;
  ByteQueue to_socket_{256 * 1024};
  std::size_t backlog_ = 0;
  bool connecting_ = true;
  bool failed_ = false;
  bool client_eof_ = false;
  bool client_closed_ = false;
  bool socket_eof_ = false;
  bool write_shut_ = false;
};

}  // namespace openshell::ssh
