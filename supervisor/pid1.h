// PID 1 duties: forward signals to the main process group (and on TERM/INT
// to every session), reap every orphan, escalate to SIGKILL after the grace
// period, and turn the main process's wait status into the exit code.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <optional>

#include "main_process.h"
#include "sandbox.h"

namespace openshell {

// 128 + signal for a signalled process, as shells report it.
int exit_code_of(int wait_status);

class Pid1 {
 public:
  Pid1(boost::asio::io_context& io, Sandbox& sandbox, std::chrono::seconds grace);

  // Reaps whatever is already waiting; call once before the loop runs.
  void reap();

  // The main process's end: records the exit code and ends the sandbox.
  void main_exited(int wait_status);
  void set_main(MainProcess* main) { main_ = main; }
  // Called once when shutdown begins (SIGTERM, SIGINT): the SSH bridge
  // stops taking connections and starting sessions.
  void on_shutdown(std::function<void()> hook) { on_shutdown_ = std::move(hook); }
  // What is left of the grace period (zero before shutdown and after it).
  std::chrono::milliseconds grace_left() const;

  // Stops the loop once the sandbox is gone; returns the exit code.
  int exit_code() const { return exit_code_.value_or(1); }

 private:
  void wait_signal();
  void on_signal(int signo);
  void begin_shutdown(int signo);
  void finish_if_done();

  boost::asio::io_context& io_;
  Sandbox& sandbox_;
  MainProcess* main_ = nullptr;
  std::chrono::seconds grace_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer grace_timer_;
  bool shutting_down_ = false;
  bool sandbox_gone_ = false;
  std::optional<int> exit_code_;
  std::function<void()> on_shutdown_;
  std::chrono::steady_clock::time_point grace_end_{};
};

}  // namespace openshell
