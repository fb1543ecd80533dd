#include "connection.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/post.hpp>
#include <utility>

#include "channel.h"
#include "forward_channel.h"
#include "log.h"
#include "read_ahead.h"
#include "session_channel.h"

namespace openshell::ssh {

namespace asio = boost::asio;

namespace {

// OpenSSH's MaxSessions is 10; the gateway multiplexes more, but a bound is
// what matters.
constexpr std::size_t kMaxChannels = 64;

}  // namespace

Connection::Connection(ServerContext& context, std::uint64_t id, int fd, std::string peer)
    : context_(context),
      id_(id),
      session_(ssh_new()),
      socket_(context.io),
      auth_timer_(context.io) {
  who_.connection = id;
  who_.peer = std::move(peer);
  who_.sandbox_id = context.config.sandbox_id;
  boost::system::error_code ec;
  socket_.assign(fd, ec);
  if (ec) {
    ::close(fd);  // never owned by the loop
  } else {
    socket_.non_blocking(true, ec);
  }
  if (ec) setup_error_ = "socket setup: " + ec.message();
}

Connection::~Connection() {
  // teardown() normally ran; this covers a Bridge destroyed with the loop.
  if (!closed_) {
    closing_ = true;
    teardown();
  }
}

void Connection::start() {
  if (!setup_error_.empty() || !session_) {
    close(session_ ? setup_error_ : "out of memory");
    return;
  }
  ssh_session s = session_.get();
  // libssh gets its own descriptor for the socket. libssh closes the fd it
  // holds as soon as it sees EOF or an error, long before teardown(); had it
  // the loop's fd, the number could be reused by the next accept() and the
  // loop's later deregistration (epoll_ctl DEL by number) would silently
  // remove the NEW connection from the loop, which then stalls in key
  // exchange until its client gives up. The loop's fd stays open until
  // teardown(), so its number cannot be reused while the loop watches it.
  int libssh_fd = ::fcntl(socket_.native_handle(), F_DUPFD_CLOEXEC, 0);
  if (libssh_fd < 0) {
    close(std::string("accept: dup: ") + std::strerror(errno));
    return;
  }
  if (ssh_bind_accept_fd(context_.bind.get(), s, libssh_fd) != SSH_OK) {
    // Whether libssh took the fd depends on where it failed.
    if (ssh_get_fd(s) != libssh_fd) ::close(libssh_fd);
    close(std::string("accept: ") + ssh_get_error(context_.bind.get()));
    return;
  }
  started_ = true;
  read_ahead::enable(libssh_fd);
  ssh_set_blocking(s, 0);
  // RFC 4252 §5.2: the methods that can continue; only publickey is offered.
  ssh_set_auth_methods(s, SSH_AUTH_METHOD_PUBLICKEY);

  ssh_callbacks_init(&server_callbacks_);
  server_callbacks_.userdata = this;
  server_callbacks_.auth_pubkey_function = [](ssh_session, const char* user, ssh_key_struct* key,
                                              char state, void* userdata) {
    return static_cast<Connection*>(userdata)->on_auth_pubkey(user, key, state);
  };
  server_callbacks_.channel_open_request_session_function = [](ssh_session, void* userdata) {
    return static_cast<Connection*>(userdata)->on_open_session();
  };
  ssh_set_server_callbacks(s, &server_callbacks_);
  // Everything without a dedicated callback (other auth methods, other
  // channel types, global requests) arrives here and is refused and audited.
  ssh_set_message_callback(
      s,
      [](ssh_session, ssh_message message, void* userdata) {
        return static_cast<Connection*>(userdata)->on_message(message);
      },
      this);

  auth_timer_.expires_after(context_.config.auth_timeout);
  auth_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->authenticated_ || self->closing_) return;
    audit(self->who_, "auth_timeout", "not authenticated in time");
    self->close("authentication timeout");
  });
  service();
}

void Connection::close(std::string reason) {
  if (closing_) return;
  closing_ = true;
  close_reason_ = std::move(reason);
  asio::post(context_.io, [self = shared_from_this()] { self->teardown(); });
}

void Connection::teardown() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  auth_timer_.cancel();
  for (auto& channel : channels_) channel->abandon();
  channels_.clear();
  // The loop's own fd (libssh holds a duplicate, see start()).
  socket_.close(ignored);
  if (event_) {
    ssh_event_remove_session(event_.get(), session_.get());
    event_.reset();
  }
  if (authenticated_) {
    audit(who_, "session_close", close_reason_);
  } else {
    // A connection that never authenticated is still an event an operator
    // wants at the default level: scans, stalls and refused clients show
    // here with the reason and how far the handshake got.
    audit(who_, "preauth_close",
          close_reason_ + (kex_done_ ? " (after key exchange)" : " (during key exchange)"));
  }
  log::debug(
      "ssh connection closed",
      {{"peer", who_.peer}, {"reason", close_reason_}, {"connection", (unsigned long long)id_}});
  // Closes libssh's duplicate unless libssh already did (it then holds -1).
  if (started_) ssh_disconnect(session_.get());
  session_.reset();
  context_.forget(id_, authenticated_);
}

bool Connection::handshake_step() {
  int rc = ssh_handle_key_exchange(session_.get());
  if (rc == SSH_AGAIN) return true;
  if (rc != SSH_OK) {
    close(std::string("key exchange: ") + ssh_get_error(session_.get()));
    return false;
  }
  kex_done_ = true;
  event_.reset(ssh_event_new());
  if (!event_ || ssh_event_add_session(event_.get(), session_.get()) != SSH_OK) {
    close("event setup failed");
    return false;
  }
  return true;
}

namespace {
bool readable_now(ssh_session session, int fd) {
  if (read_ahead::pending(ssh_get_fd(session)) > 0) return true;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

// Acknowledges what was read at once instead of after the delayed-ACK
// timer (40 ms). In the handshake the client sends two messages with no
// reply between them (KEXINIT and, once ours arrives, KEX_ECDH_INIT), and
// OpenSSH's client keeps Nagle on for commands without a terminal: its
// second message waits for the ACK of the first, and a delayed ACK added
// 30-40 ms to about half of all `ssh host true`. The kernel leaves quick-ACK
// mode on its own, so it is asked for again after every read. Not a TCP
// socket (the Unix listener): the call fails and changes nothing.
void acknowledge_now(int fd) {
  int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
}
}  // namespace

void Connection::service() {
  if (closing_ || in_service_) return;
  in_service_ = true;
  bool more = false;
  for (int rounds = 0;; ++rounds) {
    bool idle = false;
    if (!kex_done_) {
      if (!handshake_step()) break;
      idle = !readable_now(session_.get(), socket_.native_handle());
    } else {
      // One poll(2) and at most one read per call; SSH_AGAIN: nothing ready.
      int rc = ssh_event_dopoll(event_.get(), 0);
      if (rc == SSH_ERROR) {
        close(std::string("protocol error: ") + ssh_get_error(session_.get()));
        break;
      }
      idle = rc == SSH_AGAIN;
    }
    if (closing_) break;
    if (ssh_get_status(session_.get()) & (SSH_CLOSED | SSH_CLOSED_ERROR)) {
      close("connection closed by peer");
      break;
    }
    // Channels are pumped once the socket has nothing more to read, not
    // after every packet: libssh takes 4 KiB per call, and a client's upload
    // then reaches the child in writes of up to 32 rounds' worth instead of
    // one per 32 KiB packet, each waking the reader.
    if (idle) {
      pump_channels();
      break;
    }
    // Fairness: one busy connection yields to the others now and then.
    if (rounds >= 32) {
      pump_channels();
      more = true;
      break;
    }
  }
  in_service_ = false;
  if (closing_) return;
  if (!authenticated_) acknowledge_now(socket_.native_handle());
  if (more) {
    asio::post(context_.io, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->service();
    });
  }
  arm();
}

void Connection::kick() {
  if (closing_ || in_service_) return;
  pump_channels();
  arm();
}

void Connection::pump_channels() {
  if (channels_.empty()) return;
  // A pump may add nothing but can finish channels: iterate a snapshot.
  auto snapshot = channels_;
  for (auto& channel : snapshot) {
    if (!channel->finished()) channel->pump();
  }
  std::erase_if(channels_, [](const std::shared_ptr<Channel>& c) { return c->finished(); });
}

void Connection::pump_final() {
  auto snapshot = channels_;
  for (auto& channel : snapshot) {
    if (!channel->finished()) channel->pump_final();
  }
}

void Connection::await_hangup(std::chrono::milliseconds timeout) {
  if (channels_.empty() || closed_) return;
  for (const auto& channel : channels_) {
    if (!channel->finished()) return;
  }
  pollfd p{socket_.native_handle(), POLLRDHUP, 0};
  ::poll(&p, 1, static_cast<int>(timeout.count()));
}

void Connection::arm() {
  if (closing_) return;
  if (!read_armed_) {
    read_armed_ = true;
    socket_.async_wait(asio::posix::stream_descriptor::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) {
                         self->read_armed_ = false;
                         if (!ec) self->service();
                       });
  }
  if (!write_armed_ && (ssh_get_poll_flags(session_.get()) & SSH_WRITE_PENDING)) {
    write_armed_ = true;
    socket_.async_wait(asio::posix::stream_descriptor::wait_write,
                       [self = shared_from_this()](const boost::system::error_code& ec) {
                         self->write_armed_ = false;
                         if (!ec) self->service();
                       });
  }
}

void Connection::auth_failure(std::string_view method, std::string_view why, bool counted) {
  if (counted) ++failures_;
  audit(who_, "auth_failure", std::string(method) + ": " + std::string(why));
  if (failures_ >= context_.config.max_auth_tries) {
    audit(who_, "auth_refused", "too many authentication failures");
    close("too many authentication failures");
  }
}

int Connection::on_auth_pubkey(const char* user, ssh_key key, char signature_state) {
  who_.user = user != nullptr ? user : "";
  who_.fingerprint = key != nullptr ? fingerprint(key) : "";
  if (closing_) return SSH_AUTH_DENIED;
  if (authenticated_) return SSH_AUTH_DENIED;  // RFC 4252 §5.1: already done
  const AuthorizedKey* match = key != nullptr ? context_.keys.find(key) : nullptr;
  if (match == nullptr) {
    auth_failure("publickey", "key not authorized", true);
    return SSH_AUTH_DENIED;
  }
  // RFC 4252 §7: a request without a signature only asks whether the key
  // would do (answered with PK_OK); it authenticates nothing.
  if (signature_state == SSH_PUBLICKEY_STATE_NONE) return SSH_AUTH_SUCCESS;
  if (signature_state != SSH_PUBLICKEY_STATE_VALID) {
    auth_failure("publickey", "signature does not verify", true);
    return SSH_AUTH_DENIED;
  }
  if (context_.authenticated >= context_.config.max_sessions) {
    auth_failure("publickey", "session limit reached", true);
    return SSH_AUTH_DENIED;
  }
  authenticated_ = true;
  auth_timer_.cancel();
  context_.authenticated_now(id_);
  audit(who_, "session_open", match->comment);
  return SSH_AUTH_SUCCESS;
}

ssh_channel Connection::on_open_session() {
  // libssh's packet filter already refuses channels before userauth (the
  // CVE-2018-10933 class of bug); this check does not rely on it.
  if (!authenticated_ || closing_) {
    audit(who_, "request_refused", "session channel before authentication");
    return nullptr;
  }
  if (channels_.size() >= kMaxChannels) {
    audit(who_, "request_refused", "too many channels");
    return nullptr;
  }
  ssh_channel raw = ssh_channel_new(session_.get());
  if (raw == nullptr) return nullptr;
  channels_.push_back(SessionChannel::create(*this, raw));
  return raw;
}

int Connection::on_message(ssh_message message) {
  int type = ssh_message_type(message);
  int subtype = ssh_message_subtype(message);
  switch (type) {
    case SSH_REQUEST_AUTH: {
      const char* user = ssh_message_auth_user(message);
      who_.user = user != nullptr ? user : "";
      switch (subtype) {
        case SSH_AUTH_METHOD_NONE:
          // Every client asks "none" first to learn the methods (RFC 4252
          // §5.2): the first is refused and not counted, as OpenSSH does
          // (auth2.c counts "none" after the first attempt); every later
          // one counts, or a client could ask forever.
          auth_failure("none", "method not allowed", ++none_requests_ > 1);
          break;
        case SSH_AUTH_METHOD_PASSWORD:
          auth_failure("password", "method not allowed", true);
          break;
        case SSH_AUTH_METHOD_INTERACTIVE:
          auth_failure("keyboard-interactive", "method not allowed", true);
          break;
        default:
          auth_failure("other", "method not allowed", true);
          break;
      }
      return 1;  // default reply: USERAUTH_FAILURE listing "publickey"
    }
    case SSH_REQUEST_SERVICE: {
      const char* service = ssh_message_service_service(message);
      if (service != nullptr && std::string_view(service) == "ssh-userauth") {
        ssh_message_service_reply_success(message);
        return 0;
      }
      audit(who_, "request_refused", std::string("service ") + (service ? service : "?"));
      close("unknown service requested");
      return 1;
    }
    case SSH_REQUEST_CHANNEL_OPEN:
      if (!authenticated_) {
        audit(who_, "request_refused", "channel open before authentication");
        return 1;
      }
      if (subtype == SSH_CHANNEL_DIRECT_TCPIP) return open_forward(message);
      audit(who_, "request_refused",
            "channel type " + std::to_string(subtype) + " (only session and direct-tcpip)");
      return 1;
    case SSH_REQUEST_CHANNEL:
      audit(who_, "request_refused", "channel request type " + std::to_string(subtype));
      return 1;
    case SSH_REQUEST_GLOBAL:
      audit(who_, "request_refused", "global request type " + std::to_string(subtype));
      return 1;
    default:
      audit(who_, "request_refused", "message type " + std::to_string(type));
      return 1;
  }
}

int Connection::open_forward(ssh_message message) {
  const char* host = ssh_message_channel_request_open_destination(message);
  int port = ssh_message_channel_request_open_destination_port(message);
  std::string target = std::string(host != nullptr ? host : "") + ":" + std::to_string(port);
  if (context_.services.connector == nullptr) {
    audit(who_, "request_refused", "direct-tcpip " + target + ": forwarding not available");
    return 1;
  }
  auto endpoints = loopback_endpoints(host != nullptr ? host : "", port);
  if (endpoints.empty()) {
    audit(who_, "request_refused", "direct-tcpip " + target + ": only loopback is allowed");
    return 1;
  }
  if (channels_.size() >= kMaxChannels) {
    audit(who_, "request_refused", "direct-tcpip " + target + ": too many channels");
    return 1;
  }
  ssh_channel raw = ssh_message_channel_request_open_reply_accept(message);
  if (raw == nullptr) return 1;
  audit(who_, "forward_open", target);
  channels_.push_back(ForwardChannel::create(*this, raw, std::move(endpoints), target));
  return 0;
}

}  // namespace openshell::ssh
