#include "sandbox_init.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "control.pb.h"
#include "control_channel.h"
#include "landlock.h"
#include "mounts.h"
#include "network.h"
#include "restrict.h"
#include "spawn_child.h"
#include "startup_cpu.h"
#include "userns.h"

namespace openshell {
namespace {

// Without a plan the init never asks (build() does): its children reset
// every signal.
sigset_t all_signals() {
  sigset_t all;
  sigfillset(&all);
  return all;
}

class Init {
 public:
  Init(UniqueFd control, const policy::SandboxPlan* plan)
      : control_(std::move(control)), plan_(plan) {}

  [[noreturn]] void run() {
    control::FromInit ready;
    if (plan_ != nullptr) build(*ready.mutable_ready());

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (::sigprocmask(SIG_BLOCK, &chld, nullptr) != 0) die("sigprocmask", errno);
    signals_.reset(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signals_) die("signalfd", errno);

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
  // The sandbox, in this order:
  //  1. network (modes none and proxy: this namespace's loopback up);
  //  2. the mount view, while still privileged in the pod's user namespace:
  //     a fresh /proc is refused to a less privileged user namespace when
  //     the pod's /proc has masked paths (mount_too_revealing in
  //     fs/namespace.c), and the view's mounts are then owned by a
  //     namespace the sandbox has no capability in, so nothing inside can
  //     unmount or remount them;
  //  3. the user namespace: the supervisor writes the id maps, the init
  //     takes the sandbox identity (never root outside);
  //  4. the Landlock ruleset, opened on the sandbox's own paths.
  void build(control::Ready& ready) {
    if (plan_->network_mode != policy::NetworkMode::kPod) {
      if (auto up = bring_up_loopback(); !up) die("network", up.error().err, up.error().what);
    }
    std::vector<std::string> skipped;
    if (auto view = build_mount_view(plan_->mount_plan, skipped); !view) {
      die("mounts", view.error().err, view.error().what);
    }
    for (auto& s : skipped) ready.add_notes("mount skipped: " + s);

    // The pod's root may carry supplementary groups (0, disk, ...); once
    // setgroups is denied in the new namespace they could never be dropped
    // and would follow every sandbox process (user_namespaces(7)).
    if (::setgroups(0, nullptr) != 0) die("setgroups(0)", errno, "");
    if (::unshare(CLONE_NEWUSER) != 0) die("unshare(CLONE_NEWUSER)", errno, "");
    control::FromInit created;
    created.mutable_userns_created();
    if (!control::send_message(control_.get(), created)) _exit(1);
    // While the supervisor writes the id maps: the work every child would
    // otherwise repeat. The init holds every capability in its new user
    // namespace now, and changes no signal disposition after this (SIGCHLD
    // comes through a signalfd).
    restrictions_.keep_capabilities = plan_->keep_capabilities;
    restrictions_.last_capability = last_capability();
    narrow_bounding_set(restrictions_);
    altered_signals_ = altered_signal_dispositions();
    control::ToInit go;
    std::vector<UniqueFd> no_fds;
    auto got = control::receive_message(control_.get(), go, no_fds, /*nonblocking=*/false);
    if (!got || *got != control::Received::message || !go.has_id_maps_written()) _exit(1);
    if (auto id = become_sandbox_identity(plan_->user_namespace); !id) {
      die("identity", id.error().err, id.error().what);
    }
    // The credential change cleared the parent-death signal (commit_creds
    // in kernel/cred.c resets pdeath_signal when the euid changes): set it
    // again, so a supervisor killed with SIGKILL takes the sandbox with it
    // even while something else holds its end of the control socket.
    // A supervisor that died before this line closed the socket, which
    // the loop below sees as the end.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die("PR_SET_PDEATHSIG", errno, "");

    auto ruleset = create_landlock_ruleset(plan_->landlock);
    if (!ruleset) die("landlock", ruleset.error().err, ruleset.error().what);
    ready.set_landlock_abi(ruleset->abi);
    ready.set_landlock_enforced(ruleset->fd.valid());
    for (auto& d : ruleset->dropped) ready.add_notes("landlock right unknown to this kernel: " + d);
    for (auto& s : ruleset->skipped) ready.add_notes("landlock rule skipped (missing): " + s);
    // One Landlock domain for the whole sandbox: the init restricts itself
    // and every process inherits the domain. Per-process domains would be
    // siblings, and the signal scope (ABI 6) would then forbid an SSH shell
    // to signal the agent. The init may do this without no_new_privs: it
    // holds CAP_SYS_ADMIN in its user namespace (landlock(7)).
    if (ruleset->fd && !landlock_restrict(ruleset->fd.get()))
      die("landlock_restrict_self", errno, "");

    const auto& ns = plan_->user_namespace;
    restrictions_.sandboxed = true;
    restrictions_.uid = ns.process_uid;
    restrictions_.gid = ns.process_gid;
    restrictions_.set_groups = !ns.deny_setgroups;
    restrictions_.groups.assign(ns.process_groups.begin(), ns.process_groups.end());
    restrictions_.rlimits = plan_->rlimits;
    restrictions_.seccomp_program = plan_->seccomp.program;
  }

  static int last_capability() {
    UniqueFd fd(::open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC));
    char buffer[16] = {};
    if (!fd || ::read(fd.get(), buffer, sizeof buffer - 1) <= 0) return 63;  // drop every bit
    return std::atoi(buffer);
  }

  // Before the first Ready the supervisor reports this as a setup failure;
  // later the supervisor sees the init exit and tears the sandbox down.
  [[noreturn]] void die(const char* stage, int err, const std::string& detail = "") {
    control::FromInit message;
    auto* failed = message.mutable_setup_failed();
    failed->set_stage(stage);
    failed->set_err(err);
    failed->set_detail(detail);
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
    Result<pid_t> pid =
        prepared ? fork_and_exec(*prepared, &restrictions_, &altered_signals_)
                 : std::unexpected(prepared.error());
    if (pid && request.probe_only()) {
      int status = 0;
      while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
      }
      auto* exited = reply.mutable_exited();
      exited->set_id(request.id());
      exited->set_wait_status(status);
    } else if (pid) {
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
    if (!cpus_released_) {
      startup_cpu::release();  // start-up is over for the init
      cpus_released_ = true;
    }
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
  const policy::SandboxPlan* plan_;
  ProcessRestrictions restrictions_;
  sigset_t altered_signals_ = all_signals();
  std::map<pid_t, uint64_t> children_;
  bool cpus_released_ = false;
};

}  // namespace

void run_sandbox_init(UniqueFd control, const policy::SandboxPlan* plan) {
  // Die with the supervisor even if the control socket were somehow kept
  // open elsewhere.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The init holds the compiled policy; nothing in the sandbox may attach to
  // it or read its memory (prctl(2): PR_SET_DUMPABLE also gates ptrace).
  ::prctl(PR_SET_DUMPABLE, 0);
  ::prctl(PR_SET_NAME, "sandbox-init");
  Init init(std::move(control), plan);
  init.run();
}

}  // namespace openshell
