#include "loopback.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <memory>

namespace openshell {

LoopbackConnector::LoopbackConnector(boost::asio::io_context& io, UniqueFd sandbox_netns)
    : io_(io), sandbox_netns_(std::move(sandbox_netns)) {
  if (sandbox_netns_) own_netns_.reset(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
}

Result<UniqueFd> LoopbackConnector::make_socket(int family) {
  if (!sandbox_netns_) {
    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return fail_errno("socket");
    return fd;
  }
  if (!own_netns_) return fail("cannot return to the supervisor's network namespace");
  if (::setns(sandbox_netns_.get(), CLONE_NEWNET) != 0)
    return fail_errno("setns into the sandbox network");
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int saved = errno;
  // Back at once: everything else the supervisor does uses the pod network.
  if (::setns(own_netns_.get(), CLONE_NEWNET) != 0) std::abort();
  if (!fd) return fail("socket in the sandbox network", saved);
  return fd;
}

void LoopbackConnector::connect(const boost::asio::ip::tcp::endpoint& endpoint,
                                std::function<void(Result<UniqueFd>)> done) {
  auto fd = make_socket(endpoint.address().is_v6() ? AF_INET6 : AF_INET);
  if (!fd) {
    boost::asio::post(io_, [done, error = fd.error()] { done(std::unexpected(error)); });
    return;
  }
  int rc = ::connect(fd->get(), endpoint.data(), static_cast<socklen_t>(endpoint.size()));
  if (rc == 0 || errno != EINPROGRESS) {
    Result<UniqueFd> result = rc == 0 ? Result<UniqueFd>(std::move(*fd)) : fail_errno("connect");
    auto shared = std::make_shared<Result<UniqueFd>>(std::move(result));
    boost::asio::post(io_, [done, shared] { done(std::move(*shared)); });
    return;
  }
  // Wait for the connect to finish; the descriptor watches a dup so the
  // connected socket itself is handed over untouched.
  auto watcher = std::make_shared<boost::asio::posix::stream_descriptor>(io_, ::dup(fd->get()));
  auto socket = std::make_shared<UniqueFd>(std::move(*fd));
  watcher->async_wait(boost::asio::posix::stream_descriptor::wait_write,
                      [watcher, socket, done](const boost::system::error_code& ec) {
                        int error = 0;
                        socklen_t len = sizeof error;
                        if (ec) {
                          done(fail("connect: " + ec.message()));
                          return;
                        }
                        ::getsockopt(socket->get(), SOL_SOCKET, SO_ERROR, &error, &len);
                        if (error != 0) {
                          done(fail("connect", error));
                          return;
                        }
                        done(std::move(*socket));
                      });
}

}  // namespace openshell
