// The main process (the agent): started in the sandbox once, its terminal
// relayed to the supervisor's stdin/stdout in TTY mode, or the supervisor's
// stdio handed to it unchanged in pipes mode. Its exit ends the sandbox.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "sandbox.h"
#include "terminal.h"

namespace openshell {

struct MainLaunch {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // KEY=VALUE, complete
  std::string cwd;
  bool tty = true;
};

class MainProcess {
 public:
  MainProcess(boost::asio::io_context& io, Sandbox& sandbox) : io_(io), sandbox_(sandbox) {}

  // Exactly one of on_failed / on_exit is called.
  void start(MainLaunch launch, std::function<void(const Error&)> on_failed,
             std::function<void(int wait_status)> on_exit);

  // To the main process's group (it leads its own session).
  void signal(int signo);
  // Copies the supervisor's terminal size to the main process's terminal.
  void sync_window_size();
  // Writes whatever output is still buffered; called once the process ended.
  void flush_output();

 private:
  void read_terminal();
  void read_input();
  void write_output();
  void output(const char* data, size_t size);

  boost::asio::io_context& io_;
  Sandbox& sandbox_;
  std::optional<uint64_t> id_;
  bool tty_ = false;

  // TTY mode only.
  std::optional<boost::asio::posix::stream_descriptor> master_;
  std::optional<boost::asio::posix::stream_descriptor> stdin_;   // dup of fd 0
  std::optional<boost::asio::posix::stream_descriptor> stdout_;  // dup of fd 1, if pollable
  std::optional<RawMode> raw_mode_;
  std::deque<std::string> pending_output_;
  size_t pending_bytes_ = 0;
  bool writing_ = false;
  bool reading_paused_ = false;
};

}  // namespace openshell
