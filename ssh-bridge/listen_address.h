// Listener addresses: "0.0.0.0:2222", "[::]:2222", "off", and Unix socket
// paths ("/run/openshell/ssh.sock", "@abstract-name").
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "error.h"
#include "unique_fd.h"

namespace openshell::ssh {

// nullopt for "off"; an error for anything that is not ADDRESS:PORT.
Result<std::optional<boost::asio::ip::tcp::endpoint>> parse_tcp_listen(std::string_view text);

// Prepares the socket path: "@name" maps to the abstract namespace; a file
// path gets its directory created (or tightened) to 0700 and a stale socket
// removed. The socket is chmod 0600 by make_unix_listener after bind.
Result<boost::asio::local::stream_protocol::endpoint> parse_unix_listen(std::string_view text);

// The IPv4 wildcard on the same port when `endpoint` is the IPv6 wildcard
// and `open_error` says the kernel has no IPv6 (EAFNOSUPPORT: ipv6.disable=1
// or no IPv6 module); nullopt otherwise. "[::]:P" is the default listener.
std::optional<boost::asio::ip::tcp::endpoint> fallback_to_ipv4(
    const boost::asio::ip::tcp::endpoint& endpoint, const boost::system::error_code& open_error);

// "127.0.0.1:22", "[::1]:22".
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace openshell::ssh
