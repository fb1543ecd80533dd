#include "dns_server.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <list>
#include <vector>

#include "dns_message.h"
#include "log.h"

namespace openshell::egress {
namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

constexpr size_t kMaxTcpConnections = 32;
constexpr auto kTcpIdle = std::chrono::seconds(10);

// The family of a socket the init created, so Asio is told the truth.
int family_of(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return AF_UNSPEC;
  return address.ss_family;
}

const char* rcode_name(dns::Rcode rcode) {
  switch (rcode) {
    case dns::Rcode::kNoError: return "NOERROR";
    case dns::Rcode::kFormErr: return "FORMERR";
    case dns::Rcode::kServFail: return "SERVFAIL";
    case dns::Rcode::kNxDomain: return "NXDOMAIN";
    case dns::Rcode::kNotImp: return "NOTIMP";
    case dns::Rcode::kRefused: return "REFUSED";
  }
  return "?";
}

}  // namespace

struct DnsServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_context, SyntheticAddresses& addresses, HostFilter filter)
      : io(io_context), table(addresses), could_match(std::move(filter)) {}

  asio::io_context& io;
  SyntheticAddresses& table;
  HostFilter could_match;
  Counters counters;
  bool stopped = false;
  bool exhaustion_logged = false;

  struct UdpEndpoint {
    udp::socket socket;
    udp::endpoint peer;
    std::array<uint8_t, 4096> buffer{};
  };
  std::list<std::shared_ptr<UdpEndpoint>> udp_sockets;
  std::list<std::shared_ptr<tcp::acceptor>> acceptors;

  struct TcpConnection {
    explicit TcpConnection(asio::io_context& io_context) : socket(io_context), timer(io_context) {}
    tcp::socket socket;
    asio::steady_timer timer;
    std::array<uint8_t, 2> length{};
    std::vector<uint8_t> message;
    std::vector<uint8_t> reply;
  };
  std::list<std::shared_ptr<TcpConnection>> connections;

  std::expected<dns::Ipv4, dns::Rcode> lookup(std::string_view name) {
    if (!could_match || !could_match(name)) return std::unexpected(dns::Rcode::kNxDomain);
    auto address = table.assign(name);
    if (!address) {
      ++counters.exhausted;
      if (!exhaustion_logged) {
        log::warn("dns: synthetic address range exhausted, answering SERVFAIL",
                  {{"names", static_cast<unsigned long>(table.size())}});
        exhaustion_logged = true;
      }
      return std::unexpected(dns::Rcode::kServFail);
    }
    return *address;
  }

  std::optional<std::vector<uint8_t>> answer(std::span<const uint8_t> message) {
    ++counters.queries;
    auto reply = dns::respond(message, [this](std::string_view name) { return lookup(name); });
    if (!reply) {
      ++counters.dropped;
      return reply;
    }
    if (auto parsed = dns::parse_reply(*reply)) {
      if (parsed->rcode == dns::Rcode::kNxDomain) ++counters.nxdomain;
      if (!parsed->addresses.empty()) ++counters.answered;
      if (log::enabled(log::Level::debug)) {
        auto query = dns::parse(message);
        log::debug("dns query", {{"name", query ? query->question.name : std::string()},
                                 {"type", query ? static_cast<unsigned>(query->question.type) : 0u},
                                 {"rcode", rcode_name(parsed->rcode)}});
      }
    }
    return reply;
  }

  void receive(std::shared_ptr<UdpEndpoint> endpoint) {
    auto self = shared_from_this();
    endpoint->socket.async_receive_from(
        asio::buffer(endpoint->buffer), endpoint->peer,
        [self, endpoint](boost::system::error_code error, size_t size) {
          if (self->stopped || error == asio::error::operation_aborted) return;
          if (!error) {
            if (auto reply = self->answer(std::span(endpoint->buffer.data(), size))) {
              // Non-blocking send: a client that does not read loses its
              // reply, the server never waits for one.
              boost::system::error_code ignored;
              endpoint->socket.send_to(asio::buffer(*reply), endpoint->peer, 0, ignored);
            }
          }
          self->receive(endpoint);
        });
  }

  void accept(std::shared_ptr<tcp::acceptor> acceptor) {
    auto self = shared_from_this();
    auto connection = std::make_shared<TcpConnection>(io);
    acceptor->async_accept(connection->socket, [self, acceptor, connection](boost::system::error_code error) {
      if (self->stopped || error == asio::error::operation_aborted) return;
      if (!error) {
        if (self->connections.size() >= kMaxTcpConnections) {
          boost::system::error_code ignored;
          connection->socket.close(ignored);
        } else {
          self->connections.push_back(connection);
          self->read_length(connection);
        }
      }
      self->accept(acceptor);
    });
  }

  void close(const std::shared_ptr<TcpConnection>& connection) {
    boost::system::error_code ignored;
    connection->socket.close(ignored);
    connection->timer.cancel();
    connections.remove(connection);
  }

  void arm_idle_timer(const std::shared_ptr<TcpConnection>& connection) {
    auto self = shared_from_this();
    connection->timer.expires_after(kTcpIdle);
    connection->timer.async_wait([self, connection](boost::system::error_code error) {
      if (!error) self->close(connection);
    });
  }

  // RFC 1035 §4.2.2 / RFC 7766: two-byte length, then the message.
  void read_length(std::shared_ptr<TcpConnection> connection) {
    arm_idle_timer(connection);
    auto self = shared_from_this();
    asio::async_read(connection->socket, asio::buffer(connection->length),
                     [self, connection](boost::system::error_code error, size_t) {
                       if (self->stopped) return;
                       if (error) return self->close(connection);
                       const size_t size = connection->length[0] << 8 | connection->length[1];
                       connection->message.resize(size);
                       asio::async_read(connection->socket, asio::buffer(connection->message),
                                        [self, connection](boost::system::error_code read_error, size_t) {
                                          if (self->stopped) return;
                                          if (read_error) return self->close(connection);
                                          self->reply_tcp(connection);
                                        });
                     });
  }

  void reply_tcp(std::shared_ptr<TcpConnection> connection) {
    auto reply = answer(connection->message);
    if (!reply) return close(connection);  // nothing sensible to say: hang up
    connection->reply.clear();
    connection->reply.push_back(static_cast<uint8_t>(reply->size() >> 8));
    connection->reply.push_back(static_cast<uint8_t>(reply->size()));
    connection->reply.insert(connection->reply.end(), reply->begin(), reply->end());
    auto self = shared_from_this();
    asio::async_write(connection->socket, asio::buffer(connection->reply),
                      [self, connection](boost::system::error_code error, size_t) {
                        if (self->stopped) return;
                        if (error) return self->close(connection);
                        self->read_length(connection);
                      });
  }

  void stop() {
    stopped = true;
    boost::system::error_code ignored;
    for (auto& endpoint : udp_sockets) endpoint->socket.close(ignored);
    for (auto& acceptor : acceptors) acceptor->close(ignored);
    for (auto& connection : connections) {
      connection->socket.close(ignored);
      connection->timer.cancel();
    }
    udp_sockets.clear();
    acceptors.clear();
    connections.clear();
  }
};

DnsServer::DnsServer(asio::io_context& io, SyntheticAddresses& table, HostFilter could_match)
    : impl_(std::make_shared<Impl>(io, table, std::move(could_match))) {}

DnsServer::~DnsServer() { impl_->stop(); }

void DnsServer::serve_udp(UniqueFd socket) {
  const int family = family_of(socket.get());
  auto endpoint = std::make_shared<Impl::UdpEndpoint>(Impl::UdpEndpoint{udp::socket(impl_->io), {}, {}});
  boost::system::error_code error;
  endpoint->socket.assign(family == AF_INET6 ? udp::v6() : udp::v4(), socket.get(), error);
  if (error) {
    log::error("dns: cannot serve UDP socket", {{"error", error.message()}});
    return;
  }
  socket.release();
  endpoint->socket.non_blocking(true, error);
  impl_->udp_sockets.push_back(endpoint);
  impl_->receive(endpoint);
}

void DnsServer::serve_tcp(UniqueFd listener) {
  const int family = family_of(listener.get());
  auto acceptor = std::make_shared<tcp::acceptor>(impl_->io);
  boost::system::error_code error;
  acceptor->assign(family == AF_INET6 ? tcp::v6() : tcp::v4(), listener.get(), error);
  if (error) {
    log::error("dns: cannot serve TCP socket", {{"error", error.message()}});
    return;
  }
  listener.release();
  impl_->acceptors.push_back(acceptor);
  impl_->accept(acceptor);
}

void DnsServer::stop() { impl_->stop(); }

const DnsServer::Counters& DnsServer::counters() const { return impl_->counters; }

}  // namespace openshell::egress
