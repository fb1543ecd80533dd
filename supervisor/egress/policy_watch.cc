#include "policy_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

namespace openshell::egress {

PolicyWatch::PolicyWatch(boost::asio::io_context& io, std::string file,
                         std::function<void()> changed)
    : file_(std::move(file)), changed_(std::move(changed)), inotify_(io), settle_(io) {}

Result<void> PolicyWatch::start() {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return fail_errno("inotify_init1");
  inotify_.assign(fd);
  auto slash = file_.rfind('/');
  std::string directory(".");
  if (slash == 0) directory.assign("/");
  if (slash != std::string::npos && slash > 0) directory.assign(file_, 0, slash);
  // Every way the file can change under its name: written in place, moved
  // in (rename, the ConfigMap's `..data` swap), created, removed.
  uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                  IN_ATTRIB | IN_MODIFY;
  if (::inotify_add_watch(fd, directory.c_str(), mask) < 0) {
    int saved = errno;
    std::string what("inotify_add_watch ");
    what.append(directory);
    return fail(std::move(what), saved);
  }
  wait();
  return {};
}

void PolicyWatch::stop() {
  boost::system::error_code ignored;
  settle_.cancel();
  inotify_.close(ignored);
}

void PolicyWatch::wait() {
  inotify_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [this](const boost::system::error_code& ec) {
                        if (ec) return;
                        // Any event in the directory counts: the names a
                        // swap touches (..data, ..data_tmp, the file) vary.
                        alignas(inotify_event) char buffer[4096];
                        while (::read(inotify_.native_handle(), buffer, sizeof buffer) > 0) {
                        }
                        settle_.expires_after(kSettle);
                        settle_.async_wait([this](const boost::system::error_code& error) {
                          if (!error) changed_();
                        });
                        wait();
                      });
}

}  // namespace openshell::egress
