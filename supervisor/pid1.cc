#include "pid1.h"

#include <sys/wait.h>

#include <csignal>

#include "log.h"

namespace openshell {
namespace {

const char* signal_name(int signo) {
  switch (signo) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGHUP:
      return "SIGHUP";
    case SIGQUIT:
      return "SIGQUIT";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGUSR2:
      return "SIGUSR2";
    case SIGWINCH:
      return "SIGWINCH";
    case SIGCHLD:
      return "SIGCHLD";
    case SIGKILL:
      return "SIGKILL";
    default:
      return "signal";
  }
}

}  // namespace

int exit_code_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

Pid1::Pid1(boost::asio::io_context& io, Sandbox& sandbox, std::chrono::seconds grace)
    : io_(io),
      sandbox_(sandbox),
      grace_(grace),
      signals_(io, SIGCHLD, SIGTERM, SIGINT),
      grace_timer_(io) {
  for (int signo : {SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) signals_.add(signo);
  // main() blocked these before anything else; with the handlers in place a
  // signal that arrived during start-up is delivered now and handled once
  // the loop runs, instead of being dropped by the kernel.
  sigset_t held;
  sigemptyset(&held);
  for (int signo : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&held, signo);
  ::sigprocmask(SIG_UNBLOCK, &held, nullptr);
  // A write to a vanished peer must be an EPIPE, not the supervisor's death.
  std::signal(SIGPIPE, SIG_IGN);
  wait_signal();
}

void Pid1::wait_signal() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    on_signal(signo);
    wait_signal();
  });
}

void Pid1::on_signal(int signo) {
  switch (signo) {
    case SIGCHLD:
      reap();
      return;
    case SIGTERM:
    case SIGINT:
      begin_shutdown(signo);
      return;
    case SIGWINCH:
      if (main_) main_->sync_window_size();
      [[fallthrough]];
    default:
      log::debug("forwarding signal", {{"signal", signal_name(signo)}});
      if (main_) main_->signal(signo);
  }
}

void Pid1::begin_shutdown(int signo) {
  if (shutting_down_) return;
  shutting_down_ = true;
  log::info("shutting down", {{"signal", signal_name(signo)},
                              {"grace_seconds", static_cast<long long>(grace_.count())}});
  // The main process's group and every SSH session get the signal; whatever
  // is left when the grace period ends is killed with the whole sandbox.
  if (on_shutdown_) on_shutdown_();
  sandbox_.signal_all(signo);
  grace_end_ = std::chrono::steady_clock::now() + grace_;
  grace_timer_.expires_after(grace_);
  grace_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    log::warn("grace period over, killing the sandbox",
              {{"grace_seconds", static_cast<long long>(grace_.count())}});
    sandbox_.kill();
  });
}

std::chrono::milliseconds Pid1::grace_left() const {
  if (!shutting_down_) return std::chrono::milliseconds(0);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      grace_end_ - std::chrono::steady_clock::now());
  return left.count() > 0 ? left : std::chrono::milliseconds(0);
}

void Pid1::reap() {
  // PID 1 inherits every orphan of its namespace (pid_namespaces(7)).
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    if (pid == sandbox_.init_pid()) {
      sandbox_gone_ = true;
      sandbox_.init_exited(status);
    } else {
      log::trace("reaped", {{"pid", static_cast<int>(pid)}, {"wait_status", status}});
    }
  }
  finish_if_done();
}

void Pid1::main_exited(int wait_status) {
  exit_code_ = exit_code_of(wait_status);
  log::info("main process exited", {{"wait_status", wait_status}, {"exit_code", *exit_code_}});
  // The main process's end is the sandbox's end: no process of it survives.
  sandbox_.kill();
  finish_if_done();
}

void Pid1::finish_if_done() {
  if (!sandbox_gone_) return;
  if (!exit_code_) {
    // The init died first (killed from outside or crashed): the main
    // process went with it.
    log::error("the sandbox init exited before the main process");
    exit_code_ = 128 + SIGKILL;
  }
  grace_timer_.cancel();
  io_.stop();
}

}  // namespace openshell
