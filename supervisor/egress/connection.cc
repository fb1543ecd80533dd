#include "connection.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>

#include "proxy_request.h"
#include "relay.h"

namespace openshell::egress {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
namespace net = policy::net;

// A client that connects and says nothing is dropped.
constexpr auto kHeadTimeout = std::chrono::seconds(30);
constexpr auto kDialTimeout = std::chrono::seconds(20);

SocketAddress socket_address(const tcp::endpoint& endpoint) {
  SocketAddress out;
  out.port = endpoint.port();
  if (endpoint.address().is_v6()) {
    out.v6 = true;
    auto bytes = endpoint.address().to_v6().to_bytes();
    std::memcpy(out.bytes.data(), bytes.data(), 16);
  } else {
    auto bytes = endpoint.address().to_v4().to_bytes();
    std::memcpy(out.bytes.data(), bytes.data(), 4);
  }
  return out;
}

tcp::endpoint to_endpoint(const net::IpAddress& address, uint16_t port) {
  if (address.v6) {
    asio::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), address.bytes.data(), 16);
    return {asio::ip::address_v6(bytes), port};
  }
  asio::ip::address_v4::bytes_type bytes;
  std::memcpy(bytes.data(), address.bytes.data(), 4);
  return {asio::ip::address_v4(bytes), port};
}

std::string ssrf_reason(net::AddressVerdict verdict, const net::IpAddress& address) {
  return std::string(net::to_string(verdict)) + " address " + address.to_string();
}

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ConnectionHost& host, tcp::socket client, std::string via, uint16_t capture_port)
      : host_(host),
        client_(std::move(client)),
        upstream_(host.io()),
        timer_(host.io()),
        via_(std::move(via)),
        capture_port_(capture_port) {}

  void start() {
    boost::system::error_code ec;
    auto peer = client_.remote_endpoint(ec);
    auto local = client_.local_endpoint(ec);
    if (ec) return;
    peer_ = peer;
    local_ = local;
    if (via_ == "capture") return start_capture();
    arm_timer(kHeadTimeout);
    read_head();
  }

 private:
  void arm_timer(std::chrono::seconds after) {
    timer_.expires_after(after);
    auto self = shared_from_this();
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (ec) return;
      boost::system::error_code ignored;
      self->client_.close(ignored);
      self->upstream_.close(ignored);
    });
  }

  // ---- 1. what is asked --------------------------------------------------

  void read_head() {
    size_t old = buffer_.size();
    buffer_.resize(old + 2048);
    auto self = shared_from_this();
    client_.async_read_some(asio::buffer(buffer_.data() + old, 2048),
                            [self, old](const boost::system::error_code& ec, size_t n) {
                              self->buffer_.resize(old + n);
                              if (ec) return self->end();
                              self->on_read();
                            });
  }

  void on_read() {
    auto end = find_head_end(buffer_);
    if (!end) {
      if (buffer_.size() > kMaxHeadBytes)
        return reply(rejection_response({431, "request header block over 8 KiB"}));
      return read_head();
    }
    auto parsed = parse_proxy_request(std::string_view(buffer_).substr(0, *end));
    if (!parsed) return reply(rejection_response(parsed.error()));
    request_ = std::move(*parsed);
    via_ = request_.kind == RequestKind::kConnect ? "connect" : "forward";
    leftover_ = buffer_.substr(*end);
    buffer_.clear();
    decide(request_.host, request_.port);
  }

  void start_capture() {
    auto address = local_.address();
    std::optional<std::string> name;
    if (address.is_v4()) {
      auto bytes = address.to_v4().to_bytes();
      SyntheticAddresses::Ipv4 ip{bytes[0], bytes[1], bytes[2], bytes[3]};
      if (SyntheticAddresses::in_synthetic_range(ip)) name = host_.synthetic().name_of(ip);
    }
    if (!name) {
      // Nothing maps this address to a name: a direct connection to some
      // local address on a captured port. There is no destination to ask
      // about; refuse without guessing.
      record_.host = address.to_string();
      record_.port = capture_port_;
      record_.via = via_;
      record_.generation = host_.generation().number;
      return deny_policy("the address " + address.to_string() +
                         " is not one the sandbox's DNS handed out");
    }
    decide(*name, capture_port_);
  }

  // ---- 2, 3. who asks, and the decision ------------------------------------

  void decide(std::string host, uint16_t port) {
    const Generation& generation = host_.generation();
    record_.via = via_;
    record_.port = port;
    record_.generation = generation.number;
    // "2130706433", "127.1", "0x7f.1" all name 127.0.0.1: the rules and the
    // address check see one spelling.
    auto canonical = net::canonical_host(host);
    if (!canonical) {
      record_.host = host;
      return deny_policy("not a valid host name or IP literal");
    }
    host = std::move(*canonical);
    if (auto literal = net::parse_ip_literal(host)) {
      literal_ = *literal;
      host = literal->to_string();
    }
    host_name_ = host;
    record_.host = host;

    auto caller = identify_caller(host_.init_pid(), socket_address(peer_), socket_address(local_),
                                  host_.diag_socket(), host_.sandbox_proc());
    if (!caller) return deny_policy("caller not identified: " + caller.error().message());
    caller_ = std::move(*caller);
    record_.pid = caller_.pid;
    record_.exe_chain = caller_.exe_chain;

    if (!generation.rules) return deny_policy(generation.deny_reason);
    net::Caller who{caller_.exe_chain};
    auto decision = generation.rules->decide(host, port, who);
    if (!decision.allow) return deny_policy(decision.reason);
    grant_ = decision.grant;
    record_.rule = decision.rule_key;
    record_.reason = decision.reason;

    if (literal_) return check_and_dial({*literal_});
    auto self = shared_from_this();
    host_.resolver().resolve(host, [self](Result<Resolver::Addresses> addresses) {
      if (!addresses) return self->deny_unreachable(addresses.error().message());
      self->check_and_dial(std::move(*addresses));
    });
  }

  // ---- 4. where to ------------------------------------------------------------

  void check_and_dial(const Resolver::Addresses& addresses) {
    if (!client_.is_open()) return end();
    // Every address must pass: a name that resolves to a public and an
    // internal address is refused whole, so a client cannot be steered
    // to the internal one by a connection failure (DNS rebinding).
    std::vector<tcp::endpoint> endpoints;
    for (const auto& address : addresses) {
      auto verdict = net::check_address(grant_, address, record_.port);
      if (verdict != net::AddressVerdict::kAllowed) {
        return deny_ssrf(address, ssrf_reason(verdict, address));
      }
      endpoints.push_back(to_endpoint(address, record_.port));
    }
    arm_timer(kDialTimeout);
    auto self = shared_from_this();
    asio::async_connect(upstream_, endpoints,
                        [self, addresses](const boost::system::error_code& ec,
                                          const tcp::endpoint& endpoint) {
                          if (ec) return self->deny_unreachable("connect: " + ec.message());
                          self->connected(endpoint);
                        });
  }

  // ---- 5. the relay -----------------------------------------------------------

  void connected(const tcp::endpoint& endpoint) {
    timer_.cancel();
    net::IpAddress dialed;
    if (endpoint.address().is_v6()) {
      dialed.v6 = true;
      auto bytes = endpoint.address().to_v6().to_bytes();
      std::memcpy(dialed.bytes.data(), bytes.data(), 16);
    } else {
      auto bytes = endpoint.address().to_v4().to_bytes();
      std::memcpy(dialed.bytes.data(), bytes.data(), 4);
    }
    record_.address = endpoint.address().to_string();
    Tunnel tunnel{host_name_, record_.port, dialed, caller_, via_, nullptr};
    // The policy may have been reloaded while resolving and dialing: the
    // tunnel must be allowed by the generation it will live under.
    const Generation& now = host_.generation();
    if (now.number != record_.generation) {
      record_.generation = now.number;
      if (auto why = recheck(now, tunnel); !why.empty()) return deny_policy(why);
    }
    record_.allow = true;
    record_.engine = "policy";
    host_.audit().record(record_);

    bool forward = via_ == "forward";
    auto relay = std::make_shared<Relay>(std::move(client_), std::move(upstream_), forward,
                                         request_.body);
    tunnel.relay = relay;
    uint64_t id = host_.add_tunnel(std::move(tunnel));
    ConnectionHost* host = &host_;
    std::string to_upstream = forward ? request_.upstream_head : std::string();
    std::string to_client = via_ == "connect" ? std::string(kConnectEstablished) : std::string();
    relay->start(std::move(to_upstream), leftover_, std::move(to_client),
                 [host, id] { host->remove_tunnel(id); });
  }

  // ---- refusals -------------------------------------------------------------

  std::string detail() const {
    std::string target = host_name_.find(':') != std::string::npos ? "[" + host_name_ + "]"
                                                                   : record_.host;
    std::string verb = via_ == "forward" ? request_.method : "CONNECT";
    return verb + " " + target + ":" + std::to_string(record_.port);
  }

  void deny_policy(const std::string& reason) {
    record_.allow = false;
    record_.engine = "policy";
    record_.reason = reason;
    host_.audit().record(record_);
    reply(denied_response("policy_denied", detail() + " not permitted by policy", reason));
  }

  void deny_ssrf(const net::IpAddress& address, const std::string& reason) {
    record_.allow = false;
    record_.engine = "ssrf";
    record_.address = address.to_string();
    record_.reason = reason;
    host_.audit().record(record_);
    reply(denied_response("ssrf_denied", detail() + " blocked: " + reason, reason));
  }

  void deny_unreachable(const std::string& reason) {
    // Allowed by policy, but nowhere to go: not a policy decision, logged
    // with the allow record's rule so the operator sees which one.
    record_.allow = false;
    record_.engine = "policy";
    record_.reason = "upstream unreachable: " + reason;
    host_.audit().record(record_);
    reply(bad_gateway_response(detail() + ": " + reason));
  }

  // A capture listener's client speaks its own protocol: it gets the
  // connection closed, never HTTP.
  void reply(std::string response) {
    timer_.cancel();
    if (via_ == "capture" || !client_.is_open()) return end();
    response_ = std::move(response);
    auto self = shared_from_this();
    asio::async_write(client_, asio::buffer(response_),
                      [self](const boost::system::error_code&, size_t) { self->end(); });
  }

  void end() {
    timer_.cancel();
    boost::system::error_code ignored;
    client_.shutdown(tcp::socket::shutdown_both, ignored);
    client_.close(ignored);
    upstream_.close(ignored);
  }

  ConnectionHost& host_;
  tcp::socket client_;
  tcp::socket upstream_;
  asio::steady_timer timer_;
  std::string via_;  // "connect", "forward", "capture" once known; "proxy" before
  uint16_t capture_port_;
  tcp::endpoint peer_, local_;
  std::string buffer_, leftover_, response_;
  ProxyRequest request_;
  std::string host_name_;
  std::optional<net::IpAddress> literal_;
  CallerIdentity caller_;
  net::AddressGrant grant_;
  AuditRecord record_;
};

}  // namespace

void serve_proxy_connection(ConnectionHost& host, tcp::socket client) {
  auto connection = std::make_shared<Connection>(host, std::move(client), "proxy", 0);
  connection->start();
}

void serve_capture_connection(ConnectionHost& host, tcp::socket client, uint16_t port) {
  auto connection = std::make_shared<Connection>(host, std::move(client), "capture", port);
  connection->start();
}

std::string recheck(const Generation& generation, const Tunnel& tunnel) {
  if (!generation.rules) return generation.deny_reason;
  auto decision =
      generation.rules->decide(tunnel.host, tunnel.port, net::Caller{tunnel.caller.exe_chain});
  if (!decision.allow) return decision.reason;
  auto verdict = net::check_address(decision.grant, tunnel.address, tunnel.port);
  if (verdict != net::AddressVerdict::kAllowed) return ssrf_reason(verdict, tunnel.address);
  return {};
}

}  // namespace openshell::egress
