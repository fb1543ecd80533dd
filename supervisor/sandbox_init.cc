#include "sandbox_init.h"

#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <map>

#include "control.pb.h"
#include "control_channel.h"
#include "spawn_child.h"

namespace openshell {
namespace {

class Init {
 public:
  Init(UniqueFd control, const InitOptions& options)
      : control_(std::move(control)), options_(options) {}

  [[noreturn]] void run() {
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (::sigprocmask(SIG_BLOCK, &chld, nullptr) != 0) die("sigprocmask", errno);
    signals_.reset(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signals_) die("signalfd", errno);

    control::FromInit ready;
    ready.mutable_ready();
    if (!control::send_message(control_.get(), ready)) _exit(1);

    while (true) {
      pollfd fds[2] = {{control_.get(), POLLIN, 0}, {signals_.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        die("poll", errno);
      }
      if (fds[1].revents & POLLIN) reap();
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) read_requests();
    }
  }

 private:
  // Before the first Ready the supervisor reports this as a setup failure;
  // later the supervisor sees the init exit and tears the sandbox down.
  [[noreturn]] void die(const char* stage, int err) {
    control::FromInit message;
    auto* failed = message.mutable_setup_failed();
    failed->set_stage(stage);
    failed->set_err(err);
    (void)control::send_message(control_.get(), message);
    _exit(1);
  }

  void read_requests() {
    while (true) {
      control::ToInit request;
      std::vector<UniqueFd> fds;
      auto got = control::receive_message(control_.get(), request, fds, /*nonblocking=*/true);
      // The supervisor is gone or talks nonsense: end the sandbox. Exiting
      // as PID 1 of the namespace kills every process in it.
      if (!got || *got == control::Received::closed) _exit(0);
      if (*got == control::Received::would_block) return;
      if (request.has_spawn()) {
        spawn(request.spawn(), fds);
      } else if (request.has_signal()) {
        signal(request.signal());
      }
    }
  }

  void spawn(const control::SpawnRequest& request, const std::vector<UniqueFd>& owned) {
    std::vector<int> fds;
    for (const auto& fd : owned) fds.push_back(fd.get());
    control::FromInit reply;
    auto prepared = prepare_spawn(request, fds);
    Result<pid_t> pid = prepared ? fork_and_exec(*prepared, &options_.restrictions)
                                 : std::unexpected(prepared.error());
    if (pid) {
      children_[*pid] = request.id();
      auto* spawned = reply.mutable_spawned();
      spawned->set_id(request.id());
      spawned->set_pid(*pid);
    } else {
      auto* failed = reply.mutable_spawn_failed();
      failed->set_id(request.id());
      failed->set_stage(pid.error().what);
      failed->set_err(pid.error().err);
    }
    if (!control::send_message(control_.get(), reply)) _exit(1);
  }

  void signal(const control::SignalRequest& request) {
    for (const auto& [pid, id] : children_) {
      if (id != request.id()) continue;
      // Each process leads its own session and group (setsid in the child).
      ::kill(request.group() ? -pid : pid, request.signo());
      return;
    }
  }

  // Every process in the namespace is re-parented here when its parent
  // dies, so waitpid(-1) reaps orphans too; only our own children are
  // reported.
  void reap() {
    signalfd_siginfo info;
    while (::read(signals_.get(), &info, sizeof info) == sizeof info) {
    }
    while (true) {
      int status = 0;
      pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) return;
      auto it = children_.find(pid);
      if (it == children_.end()) continue;
      control::FromInit message;
      auto* exited = message.mutable_exited();
      exited->set_id(it->second);
      exited->set_wait_status(status);
      children_.erase(it);
      if (!control::send_message(control_.get(), message)) _exit(1);
    }
  }

  UniqueFd control_;
  UniqueFd signals_;
  const InitOptions& options_;
  std::map<pid_t, uint64_t> children_;
};

}  // namespace

void run_sandbox_init(UniqueFd control, const InitOptions& options) {
  // Die with the supervisor even if the control socket were somehow kept
  // open elsewhere.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The init holds the compiled policy; nothing in the sandbox may attach to
  // it or read its memory (prctl(2): PR_SET_DUMPABLE also gates ptrace).
  ::prctl(PR_SET_DUMPABLE, 0);
  ::prctl(PR_SET_NAME, "sandbox-init");
  Init init(std::move(control), options);
  init.run();
}

}  // namespace openshell
