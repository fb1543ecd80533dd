#include "forward_channel.h"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>

#include "connection.h"
#include "log.h"

namespace openshell::ssh {

namespace asio = boost::asio;

std::vector<asio::ip::tcp::endpoint> loopback_endpoints(std::string_view host, int port) {
  std::vector<asio::ip::tcp::endpoint> out;
  if (port <= 0 || port > 65535) return out;
  auto p = static_cast<unsigned short>(port);
  std::string lower(host);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "localhost") {
    out.emplace_back(asio::ip::address_v4::loopback(), p);
    out.emplace_back(asio::ip::address_v6::loopback(), p);
    return out;
  }
  boost::system::error_code ec;
  auto address = asio::ip::make_address(lower, ec);
  if (ec) return out;
  // Only the plain spellings: a v4-mapped ::ffff:127.0.0.1 or a scoped v6
  // address is refused rather than interpreted.
  if (address.is_v4() && (address.to_v4().to_uint() >> 24) == 127) out.emplace_back(address, p);
  if (address.is_v6() && address.to_v6() == asio::ip::address_v6::loopback()) {
    out.emplace_back(address, p);
  }
  return out;
}

std::shared_ptr<ForwardChannel> ForwardChannel::create(Connection& connection, ssh_channel channel,
                                                       std::vector<asio::ip::tcp::endpoint> targets,
                                                       std::string target_text) {
  auto self = std::make_shared<ForwardChannel>(connection, channel, std::move(targets),
                                               std::move(target_text));
  self->callbacks_.channel_data_function = [](ssh_session, ssh_channel, void* data, uint32_t len,
                                              int is_stderr, void* userdata) -> int {
    auto* me = static_cast<ForwardChannel*>(userdata);
    if (is_stderr || me->failed_ || me->client_closed_) return static_cast<int>(len);
    return static_cast<int>(me->take(me->to_socket_, data, len, me->backlog_));
  };
  self->callbacks_.channel_eof_function = [](ssh_session, ssh_channel, void* userdata) {
    static_cast<ForwardChannel*>(userdata)->client_eof_ = true;
  };
  self->callbacks_.channel_close_function = [](ssh_session, ssh_channel, void* userdata) {
    static_cast<ForwardChannel*>(userdata)->client_closed_ = true;
  };
  self->install_callbacks();
  self->connect_next();
  return self;
}

ForwardChannel::ForwardChannel(Connection& connection, ssh_channel channel,
                               std::vector<asio::ip::tcp::endpoint> targets,
                               std::string target_text)
    : Channel(connection, channel),
      targets_(std::move(targets)),
      target_text_(std::move(target_text)) {}

void ForwardChannel::connect_next() {
  auto endpoint = targets_.at(next_target_++);
  connection_.context().services.connector->connect(
      endpoint, [weak = weak_from_this()](Result<UniqueFd> result) {
        auto base = weak.lock();
        if (!base) return;  // the channel is gone; the fd closes here
        auto* self = static_cast<ForwardChannel*>(base.get());
        if (!self->connecting_) return;
        if (!result) {
          if (self->next_target_ < self->targets_.size()) {
            self->connect_next();
            return;
          }
          // The channel was confirmed before connecting (libssh cannot defer
          // the reply), so the failure is a prompt close plus the audit.
          audit(self->connection_.who(), "forward_failed",
                self->target_text_ + ": " + result.error().message());
          self->failed_ = true;
        } else {
          self->socket_ =
              std::make_unique<LoopFd>(self->connection_.context().io, std::move(*result));
        }
        self->connecting_ = false;
        self->kick();
      });
}

void ForwardChannel::pump() {
  if (finished_) return;
  if (client_closed_ || failed_) {
    socket_.reset();
    close_channel();
    return;
  }
  if (connecting_) return;
  if (feed(*socket_, to_socket_, backlog_) == Feed::broken) {
    socket_.reset();
    close_channel();
    return;
  }
  if (client_eof_ && to_socket_.empty() && backlog_ == 0 && !write_shut_ && socket_->is_open()) {
    // Half-close: the server sees EOF and can still answer.
    ::shutdown(socket_->get(), SHUT_WR);
    write_shut_ = true;
  }
  if (!socket_eof_ && drain(*socket_, false) == Drain::eof) {
    socket_eof_ = true;
    send_eof();
  }
  if (socket_eof_ && client_eof_ && to_socket_.empty() && backlog_ == 0) {
    socket_.reset();
    close_channel();
  }
}

void ForwardChannel::abandon() {
  socket_.reset();
  finished_ = true;
}

}  // namespace openshell::ssh
