// A ProcessLauncher for tests: plain fork/exec on the host, no sandbox. It
// follows the contract the supervisor's launcher keeps (own process group,
// controlling tty, exec failure reported as data, exit via SIGCHLD on the
// loop), so the bridge is exercised exactly as in production.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <map>
#include <string>

#include "interfaces.h"

namespace openshell::ssh::testing {

class DirectLauncher final : public ProcessLauncher {
 public:
  // `shell` is what exec and shell run; a missing file is reported as
  // LaunchFailure::no_shell. `self` is this executable, run as `sftp-server`.
  DirectLauncher(boost::asio::io_context& io, std::string shell, std::string self);
  void launch(LaunchRequest request, LaunchCallbacks callbacks) override;
  void signal(ProcessHandle handle, int signo) override;
  // Reports each start this long after the exec, as a launcher that answers
  // on another channel may: the child's output can reach the bridge first.
  void set_start_delay(std::chrono::milliseconds delay) { start_delay_ = delay; }

 private:
  void wait_for_children();

  boost::asio::io_context& io_;
  boost::asio::signal_set sigchld_;
  std::string shell_;
  std::string self_;
  std::map<pid_t, LaunchCallbacks> running_;
  std::chrono::milliseconds start_delay_{0};
};

}  // namespace openshell::ssh::testing
