// Watches the policy file for hot reload (DESIGN.md §6 "Egress"). The
// directory is watched, not the file: a Kubernetes ConfigMap volume
// replaces its content by creating a new timestamped directory and
// renaming the `..data` symlink over the old one, so the file's own inode
// never changes and an inotify watch on it would never fire (nor survive
// an editor's write-and-rename).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <string>

#include "error.h"

namespace openshell::egress {

class PolicyWatch {
 public:
  // `changed` runs on the loop, kSettle after the last event in the
  // directory (a swap is several events).
  static constexpr std::chrono::milliseconds kSettle{200};

  PolicyWatch(boost::asio::io_context& io, std::string file, std::function<void()> changed);
  Result<void> start();
  void stop();

 private:
  void wait();

  std::string file_;
  std::function<void()> changed_;
  boost::asio::posix::stream_descriptor inotify_;
  boost::asio::steady_timer settle_;
};

}  // namespace openshell::egress
