#include "resolver.h"

#include <ares.h>
#include <netinet/in.h>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <map>

namespace openshell::egress {

struct Resolver::Impl {
  // One socket c-ares opened, watched for the directions it asked for. The
  // descriptor never closes the fd: c-ares owns it.
  struct Watched {
    explicit Watched(boost::asio::io_context& io, int fd) : descriptor(io, fd) {}
    boost::asio::posix::stream_descriptor descriptor;
    bool want_read = false, want_write = false;
    bool reading = false, writing = false;
  };

  struct Request {
    Impl* impl;
    Callback callback;
  };

  explicit Impl(boost::asio::io_context& context) : io(context), timer(context) {}

  ~Impl() {
    destroying = true;
    if (channel != nullptr) ares_destroy(channel);  // pending requests end, unanswered
    for (auto& [fd, watched] : sockets) watched->descriptor.release();
  }

  static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<Impl*>(data);
    if (!readable && !writable) {
      auto it = self->sockets.find(fd);
      if (it != self->sockets.end()) {
        it->second->descriptor.release();  // cancels the waits, leaves the fd to c-ares
        self->sockets.erase(it);
      }
      return;
    }
    auto& watched = self->sockets[fd];
    if (!watched) watched = std::make_unique<Watched>(self->io, fd);
    watched->want_read = readable != 0;
    watched->want_write = writable != 0;
    self->arm(fd);
  }

  void arm(int fd) {
    auto it = sockets.find(fd);
    if (it == sockets.end()) return;
    Watched& w = *it->second;
    if (w.want_read && !w.reading) {
      w.reading = true;
      w.descriptor.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                              [this, fd, &w](const boost::system::error_code& ec) {
                                if (ec == boost::asio::error::operation_aborted) return;
                                w.reading = false;
                                ares_process_fd(channel, fd, ARES_SOCKET_BAD);
                                arm(fd);
                                schedule_timeout();
                              });
    }
    if (w.want_write && !w.writing) {
      w.writing = true;
      w.descriptor.async_wait(boost::asio::posix::stream_descriptor::wait_write,
                              [this, fd, &w](const boost::system::error_code& ec) {
                                if (ec == boost::asio::error::operation_aborted) return;
                                w.writing = false;
                                ares_process_fd(channel, ARES_SOCKET_BAD, fd);
                                arm(fd);
                                schedule_timeout();
                              });
    }
  }

  // c-ares retries and gives up by time; it says when it next needs to run.
  void schedule_timeout() {
    timeval tv{};
    if (ares_timeout(channel, nullptr, &tv) == nullptr) {
      timer.cancel();
      return;
    }
    timer.expires_after(std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec));
    timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      schedule_timeout();
    });
  }

  static void on_result(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
    std::unique_ptr<Request> request(static_cast<Request*>(arg));
    if (request->impl->destroying) {
      if (result != nullptr) ares_freeaddrinfo(result);
      return;
    }
    Result<Addresses> out = Addresses{};
    if (status != ARES_SUCCESS) {
      out = fail(std::string("resolve: ") + ares_strerror(status));
    } else {
      for (auto* node = result->nodes; node != nullptr; node = node->ai_next) {
        policy::net::IpAddress address;
        if (node->ai_family == AF_INET) {
          const auto* in = reinterpret_cast<const sockaddr_in*>(node->ai_addr);
          std::memcpy(address.bytes.data(), &in->sin_addr, 4);
        } else if (node->ai_family == AF_INET6) {
          const auto* in6 = reinterpret_cast<const sockaddr_in6*>(node->ai_addr);
          address.v6 = true;
          std::memcpy(address.bytes.data(), &in6->sin6_addr, 16);
        } else {
          continue;
        }
        out->push_back(address);
      }
      if (out->empty()) out = fail("resolve: no addresses");
    }
    if (result != nullptr) ares_freeaddrinfo(result);
    // Never inside ares_process_fd: the callback may start another lookup.
    boost::asio::post(request->impl->io,
                      [callback = std::move(request->callback), out = std::move(out)]() mutable {
                        callback(std::move(out));
                      });
  }

  boost::asio::io_context& io;
  boost::asio::steady_timer timer;
  ares_channel channel = nullptr;
  std::map<int, std::unique_ptr<Watched>> sockets;
  bool destroying = false;
};

Resolver::Resolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Resolver::~Resolver() = default;

Result<std::unique_ptr<Resolver>> Resolver::create(boost::asio::io_context& io) {
  static const int library = ares_library_init(ARES_LIB_INIT_ALL);
  if (library != ARES_SUCCESS) return fail(std::string("c-ares: ") + ares_strerror(library));
  auto impl = std::make_unique<Impl>(io);
  ares_options options{};
  options.sock_state_cb = &Impl::on_socket_state;
  options.sock_state_cb_data = impl.get();
  int status = ares_init_options(&impl->channel, &options, ARES_OPT_SOCK_STATE_CB);
  if (status != ARES_SUCCESS) return fail(std::string("c-ares init: ") + ares_strerror(status));
  return std::unique_ptr<Resolver>(new Resolver(std::move(impl)));
}

void Resolver::resolve(const std::string& host, Callback callback) {
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  // No sorting: it probes each address with a UDP connect; the proxy tries
  // them in the order the server gave.
  hints.ai_flags = ARES_AI_NOSORT;
  auto* request = new Impl::Request{impl_.get(), std::move(callback)};
  ares_getaddrinfo(impl_->channel, host.c_str(), nullptr, &hints, &Impl::on_result, request);
  impl_->schedule_timeout();
}

}  // namespace openshell::egress
