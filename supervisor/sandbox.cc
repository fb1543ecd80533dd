#include "sandbox.h"

#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <csignal>

#include "control_channel.h"
#include "log.h"
#include "userns.h"

namespace openshell {
namespace {

constexpr int kReadyTimeoutMs = 30'000;

// Flags by name in logs and errors (STYLE 13).
std::string clone_flag_names(int flags) {
  static const std::pair<int, const char*> names[] = {
      {CLONE_NEWPID, "CLONE_NEWPID"}, {CLONE_NEWNS, "CLONE_NEWNS"},
      {CLONE_NEWIPC, "CLONE_NEWIPC"}, {CLONE_NEWUTS, "CLONE_NEWUTS"},
      {CLONE_NEWNET, "CLONE_NEWNET"}, {CLONE_NEWUSER, "CLONE_NEWUSER"}};
  std::string out;
  for (const auto& [bit, name] : names) {
    if ((flags & bit) == 0) continue;
    if (!out.empty()) out += "|";
    out += name;
  }
  return out;
}

int clone_flags_for(const policy::SandboxPlan* plan) {
  int flags = CLONE_NEWPID;
  if (plan == nullptr) return flags;
  // The user namespace is entered later by the init itself (sandbox_init.cc).
  flags |= CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
  // `none` and `proxy`: a network namespace of its own, loopback only;
  // `pod` shares the supervisor's.
  if (plan->network_mode != policy::NetworkMode::kPod) flags |= CLONE_NEWNET;
  return flags;
}

// Waits for the init's reports until Ready, writing its id maps when it
// asks, or returns why it could not build the sandbox.
Result<SandboxReady> wait_ready(int fd, pid_t pid, const policy::SandboxPlan* plan) {
  while (true) {
    pollfd p{fd, POLLIN, 0};
    int n;
    do {
      n = ::poll(&p, 1, kReadyTimeoutMs);
    } while (n < 0 && errno == EINTR);
    if (n == 0) return fail("sandbox init did not report ready within 30 s");
    control::FromInit report;
    std::vector<UniqueFd> fds;
    auto got = control::receive_message(fd, report, fds, /*nonblocking=*/false);
    if (!got) return std::unexpected(got.error());
    if (*got == control::Received::closed) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      return fail("sandbox init exited before it was ready (wait status " + std::to_string(status) +
                  ")");
    }
    if (report.has_setup_failed()) {
      const auto& f = report.setup_failed();
      std::string what = f.stage();
      if (!f.detail().empty()) what += ": " + f.detail();
      // The init's own user namespace is part of creating the sandbox
      // (stage sandbox); everything else it reports is building the
      // sandbox inside namespaces that exist (stage sandbox-setup).
      bool namespaces = f.stage().starts_with("unshare(") || f.stage() == "setgroups(0)";
      return fail(namespaces ? what : std::string(kSetupFailurePrefix) + what, f.err());
    }
    if (report.has_userns_created() && plan != nullptr) {
      if (auto mapped = write_id_maps(pid, plan->user_namespace); !mapped) {
        return std::unexpected(mapped.error());
      }
      control::ToInit go;
      go.mutable_id_maps_written();
      if (auto sent = control::send_message(fd, go); !sent) return std::unexpected(sent.error());
      continue;
    }
    if (!report.has_ready()) return fail("sandbox init: unexpected report before ready");
    SandboxReady ready;
    ready.landlock_abi = report.ready().landlock_abi();
    ready.landlock_enforced = report.ready().landlock_enforced();
    ready.notes.assign(report.ready().notes().begin(), report.ready().notes().end());
    return ready;
  }
}

}  // namespace

Result<std::unique_ptr<Sandbox>> Sandbox::create(const SandboxSpec& spec) {
  auto channel = control::make_channel();
  if (!channel) return std::unexpected(channel.error());
  auto& [ours, theirs] = *channel;

  // clone(2) without CLONE_VM behaves as fork(2) but enters the new
  // namespaces; in the child it returns 0.
  int flags = clone_flags_for(spec.plan);
  long pid = ::syscall(SYS_clone, static_cast<unsigned long>(flags | SIGCHLD), nullptr, nullptr,
                       nullptr, 0L);
  if (pid < 0) return fail_errno("clone(" + clone_flag_names(flags) + ")");
  if (pid == 0) {
    ours.reset();
    // Keep the control socket and stdio; close every other inherited fd
    // (the supervisor's secrets and sockets must not reach the sandbox).
    int control = theirs.release();
    if (control != 3) {
      if (::dup3(control, 3, O_CLOEXEC) < 0) _exit(1);
      ::close(control);
    }
    ::syscall(SYS_close_range, 4U, ~0U, 0);
    run_sandbox_init(UniqueFd(3), spec.plan);
  }
  theirs.reset();
  auto ready = wait_ready(ours.get(), static_cast<pid_t>(pid), spec.plan);
  if (!ready) {
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
    return std::unexpected(ready.error());
  }
  auto sandbox = std::unique_ptr<Sandbox>(new Sandbox(static_cast<pid_t>(pid), std::move(ours)));
  sandbox->ready_ = std::move(*ready);
  return sandbox;
}

Sandbox::~Sandbox() {
  kill();
}

void Sandbox::attach(boost::asio::io_context& io) {
  control_.emplace(io, control_fd_.release());
  wait_readable();
}

void Sandbox::wait_readable() {
  control_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [this](const boost::system::error_code& ec) {
                         if (ec) return;
                         read_reports();
                       });
}

void Sandbox::read_reports() {
  while (alive_) {
    control::FromInit report;
    std::vector<UniqueFd> fds;
    auto got = control::receive_message(fd(), report, fds, /*nonblocking=*/true);
    if (!got) {
      log::error("sandbox control channel failed", {{"cause", got.error().message()}});
      kill();
      return;
    }
    if (*got == control::Received::would_block) break;
    if (*got == control::Received::closed) return;  // the reaper reports the init's exit
    handle(report);
  }
  if (alive_) wait_readable();
}

void Sandbox::handle(const control::FromInit& report) {
  if (report.has_spawned()) {
    auto it = pending_.find(report.spawned().id());
    if (it == pending_.end()) return;
    auto callbacks = std::move(it->second);
    pending_.erase(it);
    running_[report.spawned().id()] = callbacks;
    if (callbacks.started) callbacks.started(report.spawned().pid());
  } else if (report.has_spawn_failed()) {
    auto it = pending_.find(report.spawn_failed().id());
    if (it == pending_.end()) return;
    auto callbacks = std::move(it->second);
    pending_.erase(it);
    if (callbacks.failed) {
      callbacks.failed(Error{report.spawn_failed().stage(), report.spawn_failed().err()});
    }
  } else if (report.has_exited()) {
    auto it = running_.find(report.exited().id());
    if (it == running_.end()) {
      it = pending_.find(report.exited().id());  // a probe: never "started"
      if (it == pending_.end()) return;
      auto callbacks = std::move(it->second);
      pending_.erase(it);
      if (callbacks.exited) callbacks.exited(report.exited().wait_status());
      return;
    }
    auto callbacks = std::move(it->second);
    running_.erase(it);
    if (callbacks.exited) callbacks.exited(report.exited().wait_status());
  } else if (report.has_setup_failed()) {
    log::error("sandbox init failed",
               {{"stage", report.setup_failed().stage()}, {"errno", report.setup_failed().err()}});
  }
}

uint64_t Sandbox::spawn(control::SpawnRequest request, std::vector<UniqueFd> fds,
                        SpawnCallbacks callbacks) {
  uint64_t id = next_id_++;
  request.set_id(id);
  control::ToInit message;
  *message.mutable_spawn() = std::move(request);
  std::vector<int> raw;
  for (const auto& fd : fds) raw.push_back(fd.get());

  Result<void> sent = alive_ ? send(message, raw) : fail("the sandbox has ended");
  if (!sent) {
    // Report asynchronously, like every other outcome.
    if (control_ && callbacks.failed) {
      boost::asio::post(control_->get_executor(),
                        [failed = callbacks.failed, error = sent.error()] { failed(error); });
    }
    return id;
  }
  pending_[id] = std::move(callbacks);
  return id;
}

void Sandbox::signal(uint64_t id, int signo, bool group) {
  if (!alive_) return;
  control::ToInit message;
  auto* request = message.mutable_signal();
  request->set_id(id);
  request->set_signo(signo);
  request->set_group(group);
  if (auto sent = send(message); !sent) {
    log::warn("signal not delivered", {{"signal", signo}, {"cause", sent.error().message()}});
  }
}

Result<void> Sandbox::send(const control::ToInit& message, std::span<const int> fds) {
  if (!control_) return control::send_message(fd(), message, fds);  // before the loop
  auto sent = outbox_.send(fd(), message, fds);
  if (!sent) {
    // Never run on with a request silently gone: the sandbox ends.
    log::error("sandbox control channel: request not delivered, ending the sandbox",
               {{"cause", sent.error().message()},
                {"queued", static_cast<unsigned long long>(outbox_.size())}});
    kill();
    return sent;
  }
  if (outbox_.waiting()) wait_writable();
  return {};
}

void Sandbox::wait_writable() {
  if (writing_ || !control_) return;
  writing_ = true;
  control_->async_wait(boost::asio::posix::stream_descriptor::wait_write,
                       [this](const boost::system::error_code& ec) {
                         writing_ = false;
                         if (ec || !alive_) return;
                         if (auto flushed = outbox_.flush(fd()); !flushed) {
                           log::error("sandbox control channel failed, ending the sandbox",
                                      {{"cause", flushed.error().message()}});
                           kill();
                           return;
                         }
                         if (outbox_.waiting()) wait_writable();
                       });
}

void Sandbox::signal_all(int signo) {
  // A spawn still pending is signalled too: the init reads requests in
  // order, so the signal reaches the process right after it starts.
  for (const auto& [id, callbacks] : pending_) signal(id, signo, /*group=*/true);
  for (const auto& [id, callbacks] : running_) signal(id, signo, /*group=*/true);
}

void Sandbox::kill() {
  if (alive_) ::kill(init_pid_, SIGKILL);
}

void Sandbox::init_exited(int wait_status) {
  alive_ = false;
  if (control_) control_->cancel();
  log::debug("sandbox init exited", {{"wait_status", wait_status}});
  auto pending = std::move(pending_);
  auto running = std::move(running_);
  for (auto& [id, callbacks] : pending) {
    if (callbacks.failed)
      callbacks.failed(Error{"the sandbox ended before the process started", 0});
  }
  for (auto& [id, callbacks] : running) {
    if (callbacks.exited) callbacks.exited(SIGKILL);  // a wait status: killed by SIGKILL
  }
}

}  // namespace openshell
