#include "bridge.h"

#include <libssh/callbacks.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>

#include "authorized_keys_watch.h"
#include "connection.h"
#include "listen_address.h"
#include "log.h"
#include "server_context.h"

namespace openshell::ssh {

namespace asio = boost::asio;

struct Bridge::Impl {
  Impl(asio::io_context& io, BridgeConfig config, BridgeServices services)
      : context(io, std::move(config), services) {}

  ServerContext context;
  std::optional<asio::ip::tcp::endpoint> tcp_endpoint;
  std::optional<asio::local::stream_protocol::endpoint> unix_endpoint;
  std::unique_ptr<asio::ip::tcp::acceptor> tcp;
  std::unique_ptr<asio::local::stream_protocol::acceptor> local;
  std::string unix_text;
  // After `context`: destroyed first, it writes context.keys.
  std::unique_ptr<AuthorizedKeysWatch> keys_watch;
  bool stopped = false;
  // Handlers still queued when the Bridge is gone must not touch it.
  std::shared_ptr<char> alive = std::make_shared<char>();

  void accept_tcp();
  void accept_unix();
  void accept_later(void (Impl::*again)());
};

void Bridge::Impl::accept_later(void (Impl::*again)()) {
  // One timer per wait, so the TCP and Unix listeners never cancel each other.
  auto timer = std::make_shared<asio::steady_timer>(context.io, std::chrono::milliseconds(100));
  timer->async_wait(
      [this, weak = std::weak_ptr<char>(alive), timer, again](const boost::system::error_code& ec) {
        if (!ec && !weak.expired() && !stopped) (this->*again)();
      });
}

namespace {

// "127.0.0.2:50122" -> "127.0.0.2", "[::1]:50122" -> "[::1]", "unix" -> "unix".
std::string source_of(const std::string& peer) {
  auto colon = peer.rfind(':');
  if (colon == std::string::npos || peer.ends_with(']')) return peer;
  return peer.substr(0, colon);
}

}  // namespace

void ServerContext::drop(std::list<std::uint64_t>::iterator victim, std::string_view why) {
  auto id = *victim;
  unauthenticated.erase(victim);
  auto c = connections.find(id);
  if (c != connections.end()) {
    audit(c->second->who(), "connection_dropped", why);
    c->second->close("dropped: " + std::string(why));
  }
}

void ServerContext::admit(int fd, std::string peer) {
  if (shutting_down) {
    ::close(fd);
    return;
  }
  // Admission of connections that have not authenticated yet, per source
  // address first, then in all. The victim within a source is its oldest
  // connection that has not finished key exchange, else its oldest: idle
  // floods cost the flooder, and a source's flood never costs another
  // source its way in.
  std::string source = source_of(peer);
  auto oldest_of = [&](const std::string& from) {
    auto victim = unauthenticated.end();
    for (auto it = unauthenticated.begin(); it != unauthenticated.end(); ++it) {
      auto c = connections.find(*it);
      if (c == connections.end() || source_of(c->second->who().peer) != from) continue;
      if (victim == unauthenticated.end()) victim = it;
      if (!c->second->key_exchange_done()) return it;
    }
    return victim;
  };
  std::map<std::string, std::size_t> per_source;
  for (auto id : unauthenticated) {
    auto c = connections.find(id);
    if (c != connections.end()) ++per_source[source_of(c->second->who().peer)];
  }
  while (per_source[source] >= config.max_unauthenticated_per_source) {
    auto victim = oldest_of(source);
    if (victim == unauthenticated.end()) break;
    drop(victim, "unauthenticated connection limit per source");
    --per_source[source];
  }
  while (unauthenticated.size() >= config.max_unauthenticated) {
    // The source holding the most; never one holding a single connection.
    std::string heaviest;
    std::size_t most = 0;
    for (const auto& [from, count] : per_source) {
      if (count > most) most = count, heaviest = from;
    }
    if (most < 2 || heaviest == source) {
      audit({0, peer, "", "", config.sandbox_id}, "connection_refused",
            "unauthenticated connection limit");
      ::close(fd);
      return;
    }
    auto victim = oldest_of(heaviest);
    if (victim == unauthenticated.end()) break;
    drop(victim, "unauthenticated connection limit");
    --per_source[heaviest];
  }
  std::uint64_t id = next_id++;
  auto connection = std::make_shared<Connection>(*this, id, fd, std::move(peer));
  connections.emplace(id, connection);
  unauthenticated.push_back(id);
  connection->start();
}

void ServerContext::authenticated_now(std::uint64_t id) {
  unauthenticated.remove(id);
  ++authenticated;
}

void ServerContext::forget(std::uint64_t id, bool was_authenticated) {
  unauthenticated.remove(id);
  if (was_authenticated && authenticated > 0) --authenticated;
  // Released after the current handler: the caller may still be on the stack.
  auto it = connections.find(id);
  if (it == connections.end()) return;
  auto keep = std::move(it->second);
  connections.erase(it);
  asio::post(io, [keep = std::move(keep)] {});
}

Result<std::unique_ptr<Bridge>> Bridge::create(asio::io_context& io, BridgeConfig config,
                                               BridgeServices services) {
  if (services.launcher == nullptr) return fail("ssh bridge: no process launcher");
  // A static link has no library constructor to rely on.
  if (ssh_init() != SSH_OK) return fail("ssh_init");
  // libssh's own diagnostics join the JSON log instead of raw stderr lines.
  ssh_set_log_callback([](int priority, const char* function, const char* buffer, void*) {
    log::debug("libssh", {{"priority", priority},
                          {"function", function ? function : ""},
                          {"text", buffer ? buffer : ""}});
  });
  ssh_set_log_level(log::enabled(log::Level::trace) ? SSH_LOG_PROTOCOL : SSH_LOG_WARNING);
  auto impl = std::make_unique<Impl>(io, std::move(config), services);
  auto& ctx = impl->context;

  auto tcp = parse_tcp_listen(ctx.config.listen);
  if (!tcp) return std::unexpected(tcp.error());
  impl->tcp_endpoint = *tcp;

  auto keys = load_authorized_keys(ctx.config.authorized_keys_file);
  if (!keys) {
    return fail("ssh bridge refuses to start without a gateway key: " + keys.error().message());
  }
  ctx.keys = std::move(*keys);
  for (const auto& skipped : ctx.keys.skipped) {
    log::warn("ssh authorized key ignored",
              {{"file", ctx.config.authorized_keys_file}, {"why", skipped}});
  }
  for (const auto& key : ctx.keys.keys) {
    log::info("ssh authorized key",
              {{"type", key.type}, {"fingerprint", key.fingerprint}, {"comment", key.comment}});
  }

  // Rotation: new connections see the keys of the file as it is now. Without
  // the watch a removed key would keep working, so it is not optional.
  auto watch = AuthorizedKeysWatch::start(ctx.io, ctx.config.authorized_keys_file,
                                          [&ctx](AuthorizedKeys now) { ctx.keys = std::move(now); });
  if (!watch) return fail("ssh authorized keys: " + watch.error().message());
  impl->keys_watch = std::move(*watch);

  auto host = load_or_generate_host_key(ctx.config.host_key_file);
  if (!host) return std::unexpected(host.error());
  ctx.host_public_key = host->public_line;
  ctx.host_fingerprint = host->fingerprint;
  log::warn("ssh host key", {{"fingerprint", host->fingerprint},
                             {"public_key", host->public_line},
                             {"generated", host->generated}});

  ctx.bind.reset(ssh_bind_new());
  if (!ctx.bind) return fail("ssh_bind_new");
  ssh_bind b = ctx.bind.get();
  // Never read /etc/ssh/libssh_server_config: the configuration is ours.
  bool no = false;
  ssh_bind_options_set(b, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no);
  // The bind takes the key; nothing else in the process keeps it.
  if (ssh_bind_options_set(b, SSH_BIND_OPTIONS_IMPORT_KEY, host->key.get()) != SSH_OK) {
    return fail(std::string("ssh host key: ") + ssh_get_error(b));
  }
  host->key.release();
  return std::unique_ptr<Bridge>(new Bridge(std::move(impl)));
}

Bridge::Bridge(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Bridge::~Bridge() {
  stop();
  // Connections still reference the context; end them before it goes.
  auto connections = std::move(impl_->context.connections);
  impl_->context.connections.clear();
  for (auto& [id, connection] : connections) connection->teardown();
  connections.clear();
}

Result<void> Bridge::start() {
  auto& io = impl_->context.io;
  // The Unix socket first: whoever sees the TCP port answer (a readiness
  // probe, a test) may rely on the socket being there, mode 0600, too.
  if (!impl_->context.config.socket_path.empty()) {
    auto endpoint = parse_unix_listen(impl_->context.config.socket_path);
    if (!endpoint) return std::unexpected(endpoint.error());
    boost::system::error_code ec;
    auto acceptor = std::make_unique<asio::local::stream_protocol::acceptor>(io);
    acceptor->open(asio::local::stream_protocol(), ec);
    if (!ec) acceptor->bind(*endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("ssh listen " + impl_->context.config.socket_path + ": " + ec.message());
    const std::string& path = impl_->context.config.socket_path;
    if (path.front() == '/' && ::chmod(path.c_str(), 0600) != 0) {
      return fail_errno("chmod 0600 " + path);
    }
    impl_->unix_text = "unix:" + path;
    impl_->local = std::move(acceptor);
    impl_->accept_unix();
  }
  if (impl_->tcp_endpoint) {
    boost::system::error_code ec;
    auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(io);
    acceptor->open(impl_->tcp_endpoint->protocol(), ec);
    if (auto v4 = fallback_to_ipv4(*impl_->tcp_endpoint, ec)) {
      log::warn("ssh listen: this kernel has no IPv6, listening on IPv4 only",
                {{"requested", endpoint_text(*impl_->tcp_endpoint)}, {"address", endpoint_text(*v4)}});
      impl_->tcp_endpoint = *v4;
      ec.clear();
      acceptor->open(v4->protocol(), ec);
    }
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && impl_->tcp_endpoint->address().is_v6()) {
      acceptor->set_option(asio::ip::v6_only(false), ec);
      ec.clear();
    }
    if (!ec) acceptor->bind(*impl_->tcp_endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return fail("ssh listen " + endpoint_text(*impl_->tcp_endpoint) + ": " + ec.message());
    }
    impl_->tcp = std::move(acceptor);
    impl_->accept_tcp();
  }
  for (const auto& where : listening()) log::warn("ssh listening", {{"address", where}});
  if (listening().empty()) log::warn("ssh bridge has no listener (listen=off, no socket path)");
  return {};
}

void Bridge::Impl::accept_tcp() {
  tcp->async_accept([this, weak = std::weak_ptr<char>(alive)](const boost::system::error_code& ec,
                                                              asio::ip::tcp::socket socket) {
    if (weak.expired() || ec == asio::error::operation_aborted || stopped) return;
    if (!ec) {
      boost::system::error_code peer_ec;
      auto peer = socket.remote_endpoint(peer_ec);
      socket.set_option(asio::ip::tcp::no_delay(true), peer_ec);
      std::string text = peer_ec ? "?" : endpoint_text(peer);
      context.admit(socket.release(), std::move(text));
    } else {
      log::error("ssh accept", {{"error", ec.message()}});
      accept_later(&Impl::accept_tcp);
      return;
    }
    accept_tcp();
  });
}

void Bridge::Impl::accept_unix() {
  local->async_accept(
      [this, weak = std::weak_ptr<char>(alive)](const boost::system::error_code& ec,
                                                asio::local::stream_protocol::socket socket) {
        if (weak.expired() || ec == asio::error::operation_aborted || stopped) return;
        if (!ec) {
          context.admit(socket.release(), "unix");
        } else {
          log::error("ssh accept", {{"error", ec.message()}});
          accept_later(&Impl::accept_unix);
          return;
        }
        accept_unix();
      });
}

void Bridge::begin_shutdown() {
  if (impl_->context.shutting_down) return;
  impl_->context.shutting_down = true;
  boost::system::error_code ignored;
  if (impl_->tcp) impl_->tcp->close(ignored);
  if (impl_->local) impl_->local->close(ignored);
  log::info("ssh bridge: no new connections or sessions (shutting down)",
            {{"connections", static_cast<unsigned long long>(impl_->context.connections.size())}});
}

void Bridge::stop(std::chrono::milliseconds flush) {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->context.shutting_down = true;
  boost::system::error_code ignored;
  if (impl_->tcp) impl_->tcp->close(ignored);
  if (impl_->local) impl_->local->close(ignored);
  std::vector<std::shared_ptr<Connection>> connections;
  for (auto& [id, connection] : impl_->context.connections) connections.push_back(connection);
  // The loop has stopped: what the sessions produced last (output still in
  // their pipes, exit-status, channel close) goes into libssh's buffers, and
  // is written out bounded in all by `flush` (ssh_blocking_flush polls the
  // socket).
  auto deadline = std::chrono::steady_clock::now() + flush;
  if (flush.count() > 0) {
    for (auto& connection : connections) {
      if (connection->authenticated() && connection->session() != nullptr) connection->pump_final();
    }
  }
  for (auto& connection : connections) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    if (connection->authenticated() && connection->session() != nullptr) {
      ssh_blocking_flush(connection->session(), static_cast<int>(left.count()));
    }
  }
  // OpenSSH's client exits once its last channel is closed, with the
  // exit-status it got; a DISCONNECT read in the same batch as the close
  // makes it exit 255 instead. A client whose channels were all closed
  // above gets what is left of `flush` to hang up first.
  for (auto& connection : connections) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    if (connection->authenticated()) connection->await_hangup(left);
  }
  // Synchronously: the caller may stop the loop right after, and every
  // session's processes must have had their SIGHUP by then.
  for (auto& connection : connections) {
    connection->close("server stopping");
    connection->teardown();
  }
}

std::vector<std::string> Bridge::listening() const {
  std::vector<std::string> out;
  if (impl_->tcp && impl_->tcp->is_open()) {
    boost::system::error_code ec;
    auto endpoint = impl_->tcp->local_endpoint(ec);
    if (!ec) out.push_back(endpoint_text(endpoint));
  }
  if (impl_->local && impl_->local->is_open()) out.push_back(impl_->unix_text);
  return out;
}

const std::string& Bridge::host_public_key() const {
  return impl_->context.host_public_key;
}
const std::string& Bridge::host_key_fingerprint() const {
  return impl_->context.host_fingerprint;
}

Bridge::Stats Bridge::stats() const {
  return {impl_->context.unauthenticated.size(), impl_->context.authenticated};
}

}  // namespace openshell::ssh
