#include "resolver.h"

#include <ares.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <set>

#include "answer_cache.h"
#include "unique_fd.h"

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
    std::string host;
    HostsStamp asked_under;
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
    Impl& self = *request->impl;
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
      if (out->empty()) {
        out = fail("resolve: no addresses");
      } else {
        self.remember(request->host, *out, answer_ttl(*result), request->asked_under);
      }
    }
    if (result != nullptr) ares_freeaddrinfo(result);
    // Never inside ares_process_fd: the callback may start another lookup.
    boost::asio::post(self.io, [callback = std::move(request->callback),
                                out = std::move(out)]() mutable { callback(std::move(out)); });
  }

  // The smallest TTL of the answer's records (addresses and CNAMEs); 0
  // when any has none, as c-ares gives for the hosts file.
  static int answer_ttl(const ares_addrinfo& result) {
    int ttl = std::numeric_limits<int>::max();
    for (auto* node = result.nodes; node != nullptr; node = node->ai_next) {
      ttl = std::min(ttl, node->ai_ttl);
    }
    for (auto* cname = result.cnames; cname != nullptr; cname = cname->next) {
      ttl = std::min(ttl, cname->ttl);
    }
    return std::max(ttl, 0);
  }

  // Whether c-ares took `addresses` for `host` from the hosts file: it
  // reads the file first and the file gives that name exactly these
  // addresses. Asked only when an answer has no TTL.
  bool answered_from_hosts_file(const std::string& host, const Addresses& addresses) {
    if (!hosts_first) return false;
    std::string text;
    {
      UniqueFd fd(::open(hosts_path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) return false;
      char buffer[16384];
      ssize_t n;
      while ((n = ::read(fd.get(), buffer, sizeof buffer)) > 0) {
        text.append(buffer, static_cast<size_t>(n));
        if (text.size() > (16u << 20)) return false;
      }
      if (n < 0) return false;
    }
    auto listed = hosts_file_addresses(text, host);
    if (listed.empty()) return false;
    auto key = [](const policy::net::IpAddress& a) { return std::pair(a.v6, a.bytes); };
    std::set<std::pair<bool, std::array<uint8_t, 16>>> from_file, answered;
    for (const auto& a : listed) from_file.insert(key(a));
    for (const auto& a : addresses) answered.insert(key(a));
    return from_file == answered;
  }

  void remember(const std::string& host, const Addresses& addresses, int ttl,
                const HostsStamp& asked_under) {
    HostsStamp now = stamp_hosts_file(hosts_path);
    cache.observe_hosts(now);
    auto keep = std::chrono::seconds(ttl);
    // A record with TTL 0 must not be reused; the hosts file's answers have
    // no TTL and hold until the file changes, once it is settled.
    if (ttl == 0 && hosts_file_settled(now, ::time(nullptr)) &&
        answered_from_hosts_file(host, addresses)) {
      keep = AnswerCache::kMaxTtl;
    }
    cache.store(host, addresses, keep, AnswerCache::Clock::now(), asked_under);
  }

  boost::asio::io_context& io;
  boost::asio::steady_timer timer;
  ares_channel channel = nullptr;
  AnswerCache cache;
  std::string hosts_path = hosts_file_path();
  bool hosts_first = false;  // c-ares' lookup order begins with the file
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
  // The order c-ares found in nsswitch.conf, host.conf or svc.conf ("fb":
  // the hosts file, then DNS).
  ares_options saved{};
  int saved_mask = 0;
  if (ares_save_options(impl->channel, &saved, &saved_mask) == ARES_SUCCESS) {
    impl->hosts_first = saved.lookups != nullptr && saved.lookups[0] == 'f';
    ares_destroy_options(&saved);
  }
  return std::unique_ptr<Resolver>(new Resolver(std::move(impl)));
}

void Resolver::resolve(const std::string& host, Callback callback) {
  HostsStamp stamp = stamp_hosts_file(impl_->hosts_path);
  impl_->cache.observe_hosts(stamp);
  if (auto cached = impl_->cache.find(host, AnswerCache::Clock::now())) {
    boost::asio::post(impl_->io, [callback = std::move(callback),
                                  out = Result<Addresses>(std::move(*cached))]() mutable {
      callback(std::move(out));
    });
    return;
  }
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  // No sorting: it probes each address with a UDP connect; the proxy tries
  // them in the order the server gave.
  hints.ai_flags = ARES_AI_NOSORT;
  auto* request = new Impl::Request{impl_.get(), std::move(callback), host, stamp};
  ares_getaddrinfo(impl_->channel, host.c_str(), nullptr, &hints, &Impl::on_result, request);
  impl_->schedule_timeout();
}

}  // namespace openshell::egress
