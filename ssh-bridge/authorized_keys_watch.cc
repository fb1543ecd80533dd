#include "authorized_keys_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "log.h"
#include "unique_fd.h"

namespace openshell::ssh {

namespace asio = boost::asio;

namespace {

// A Secret update is several renames in a row: read once they settle.
constexpr std::chrono::milliseconds kSettle{200};

constexpr uint32_t kEvents = IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
                             IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;

std::string directory_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

struct AuthorizedKeysWatch::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, std::string file, OnChange callback)
      : path(std::move(file)), on_change(std::move(callback)), sd(io), settle(io) {}

  std::string path;
  OnChange on_change;
  asio::posix::stream_descriptor sd;
  asio::steady_timer settle;
  // The fingerprints in force, to log only real changes.
  std::string current;
  bool stopped = false;

  void wait();
  void reload();
};

void AuthorizedKeysWatch::Impl::wait() {
  sd.async_wait(asio::posix::stream_descriptor::wait_read,
                [weak = weak_from_this()](const boost::system::error_code& ec) {
                  auto self = weak.lock();
                  if (!self || self->stopped || ec) return;
                  // Drain: what changed does not matter, the file is re-read.
                  alignas(inotify_event) char buf[4096];
                  while (::read(self->sd.native_handle(), buf, sizeof buf) > 0) {
                  }
                  self->settle.expires_after(kSettle);
                  self->settle.async_wait([weak](const boost::system::error_code& timer_ec) {
                    auto again = weak.lock();
                    if (again && !again->stopped && !timer_ec) again->reload();
                  });
                  self->wait();
                });
}

void AuthorizedKeysWatch::Impl::reload() {
  auto keys = load_authorized_keys(path);
  if (!keys) {
    log::error("ssh authorized keys not reloaded: keeping the last good keys",
               {{"file", path}, {"error", keys.error().message()}});
    return;
  }
  std::string now;
  for (const auto& key : keys->keys) now += key.fingerprint + " ";
  if (now == current) return;
  current = now;
  for (const auto& skipped : keys->skipped) {
    log::warn("ssh authorized key ignored", {{"file", path}, {"why", skipped}});
  }
  log::warn("ssh authorized keys reloaded",
            {{"file", path}, {"keys", keys->keys.size()}, {"fingerprints", now}});
  on_change(std::move(*keys));
}

Result<std::unique_ptr<AuthorizedKeysWatch>> AuthorizedKeysWatch::start(asio::io_context& io,
                                                                        std::string path,
                                                                        OnChange on_change) {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) return fail_errno("inotify_init1");
  std::string dir = directory_of(path);
  if (::inotify_add_watch(fd.get(), dir.c_str(), kEvents) < 0) {
    return fail_errno("inotify watch " + dir);
  }
  auto impl = std::make_shared<Impl>(io, std::move(path), std::move(on_change));
  // The keys the bridge started with count as the current ones.
  if (auto keys = load_authorized_keys(impl->path)) {
    for (const auto& key : keys->keys) impl->current += key.fingerprint + " ";
  }
  impl->sd.assign(fd.release());
  impl->wait();
  return std::unique_ptr<AuthorizedKeysWatch>(new AuthorizedKeysWatch(std::move(impl)));
}

AuthorizedKeysWatch::AuthorizedKeysWatch(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

AuthorizedKeysWatch::~AuthorizedKeysWatch() {
  impl_->stopped = true;
  boost::system::error_code ignored;
  impl_->settle.cancel();
  impl_->sd.close(ignored);
}

}  // namespace openshell::ssh
