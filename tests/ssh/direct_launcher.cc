#include "direct_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

extern char** environ;

namespace openshell::ssh::testing {

namespace asio = boost::asio;

DirectLauncher::DirectLauncher(asio::io_context& io, std::string shell, std::string self)
    : io_(io), sigchld_(io, SIGCHLD), shell_(std::move(shell)), self_(std::move(self)) {
  wait_for_children();
}

void DirectLauncher::wait_for_children() {
  sigchld_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    for (;;) {
      int status = 0;
      pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      auto it = running_.find(pid);
      if (it == running_.end()) continue;
      auto exited = std::move(it->second.exited);
      running_.erase(it);
      if (exited) exited(status);
    }
    wait_for_children();
  });
}

void DirectLauncher::launch(LaunchRequest request, LaunchCallbacks callbacks) {
  std::vector<std::string> args;
  std::string path;
  switch (request.kind) {
    case LaunchKind::login_shell:
      path = shell_;
      args = {"-sh"};
      break;
    case LaunchKind::command:
      path = shell_;
      args = {"sh", "-c", request.command};
      break;
    case LaunchKind::sftp_server:
      path = self_;
      args = {"ssh-test-server", "sftp-server"};
      break;
  }
  if (request.kind != LaunchKind::sftp_server && ::access(shell_.c_str(), X_OK) != 0) {
    asio::post(io_, [cb = std::move(callbacks.failed), shell = shell_] {
      cb(LaunchFailure::no_shell, Error{shell, ENOENT});
    });
    return;
  }
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                                  "SHELL=" + shell_};
  if (const char* home = ::getenv("HOME")) env.push_back(std::string("HOME=") + home);
  for (auto& [k, v] : request.environment) env.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  int status_pipe[2];
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) {
    asio::post(io_, [cb = std::move(callbacks.failed)] {
      cb(LaunchFailure::other, Error{"pipe", errno});
    });
    return;
  }
  int in = request.tty ? request.tty_slave.get() : request.stdin_fd.get();
  int out = request.tty ? request.tty_slave.get() : request.stdout_fd.get();
  int err = request.tty ? request.tty_slave.get() : request.stderr_fd.get();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    ::close(status_pipe[0]);
    ::setsid();
    if (request.tty) ::ioctl(in, TIOCSCTTY, 0);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::signal(SIGCHLD, SIG_DFL);
    ::execve(path.c_str(), argv.data(), envp.data());
    int e = errno;
    (void)!::write(status_pipe[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(status_pipe[1]);
  if (pid < 0) {
    ::close(status_pipe[0]);
    asio::post(io_, [cb = std::move(callbacks.failed)] {
      cb(LaunchFailure::other, Error{"fork", errno});
    });
    return;
  }
  // The exec happens within microseconds; a blocking read is fine in tests.
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(status_pipe[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  ::close(status_pipe[0]);
  if (n > 0) {
    ::waitpid(pid, nullptr, 0);
    asio::post(io_, [cb = std::move(callbacks.failed), path, exec_errno] {
      cb(LaunchFailure::other, Error{"exec " + path, exec_errno});
    });
    return;
  }
  auto started = std::move(callbacks.started);
  running_.emplace(pid, std::move(callbacks));
  if (start_delay_.count() == 0) {
    asio::post(io_,
               [started = std::move(started), pid] { started(static_cast<ProcessHandle>(pid)); });
    return;
  }
  auto timer = std::make_shared<asio::steady_timer>(io_, start_delay_);
  timer->async_wait([timer, started = std::move(started), pid](const boost::system::error_code&) {
    started(static_cast<ProcessHandle>(pid));
  });
}

void DirectLauncher::signal(ProcessHandle handle, int signo) {
  auto pid = static_cast<pid_t>(handle);
  if (running_.count(pid) == 0) return;
  ::kill(-pid, signo);
}

}  // namespace openshell::ssh::testing
