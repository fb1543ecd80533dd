// The supervisor's handle on the sandbox: creates the sandbox init in its
// namespaces, then starts, signals and watches processes through it. Every
// process the supervisor runs in the sandbox (the main process, SSH shells,
// execs, sftp) goes through Sandbox::spawn.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control.pb.h"
#include "control_channel.h"
#include "error.h"
#include "sandbox_init.h"
#include "unique_fd.h"

namespace openshell {

struct SandboxSpec {
  // The compiled policy; null: only a PID namespace (tests of the process
  // protocol). Must outlive the Sandbox: the init is a fork that reads it.
  const policy::SandboxPlan* plan = nullptr;
};

// What the init reported once the sandbox was built.
struct SandboxReady {
  int landlock_abi = 0;
  bool landlock_enforced = false;
  std::vector<std::string> notes;
};

struct SpawnCallbacks {
  std::function<void(pid_t)> started;           // pid inside the sandbox
  std::function<void(const Error&)> failed;     // never started
  std::function<void(int wait_status)> exited;  // after started
};

// Sandbox::create's error when the namespaces exist but the sandbox init
// could not build the sandbox in them (its view, loopback, identity or
// Landlock): the start-up stage sandbox-setup rather than sandbox.
inline constexpr std::string_view kSetupFailurePrefix = "sandbox init setup: ";
inline bool is_setup_failure(const Error& error) {
  return error.what.starts_with(kSetupFailurePrefix);
}

class Sandbox {
 public:
  // Forks the sandbox init and waits until it reports ready. Call before any
  // thread exists: the init is a fork of this process.
  static Result<std::unique_ptr<Sandbox>> create(const SandboxSpec& spec);
  ~Sandbox();

  // Starts reading the init's reports on the loop.
  void attach(boost::asio::io_context& io);

  // Asynchronous: exactly one of started/failed is called, later exited.
  // The fds are sent to the init and closed here.
  uint64_t spawn(control::SpawnRequest request, std::vector<UniqueFd> fds,
                 SpawnCallbacks callbacks);
  void signal(uint64_t id, int signo, bool group);
  void signal_all(int signo);

  // SIGKILL to the init: the kernel then kills every process of the sandbox.
  void kill();
  pid_t init_pid() const { return init_pid_; }
  const SandboxReady& ready() const { return ready_; }
  bool alive() const { return alive_; }

  // Called by the reaper when the init's pid has been waited for. Every
  // process not yet reported gets exited(SIGKILL).
  void init_exited(int wait_status);

 private:
  Sandbox(pid_t pid, UniqueFd control) : init_pid_(pid), control_fd_(std::move(control)) {}
  int fd() { return control_ ? control_->native_handle() : control_fd_.get(); }
  void wait_readable();
  // Sends through the outbox; a message the socket cannot take yet waits
  // and is written when it can. Failure (a full queue) ends the sandbox.
  Result<void> send(const control::ToInit& message, std::span<const int> fds = {});
  void wait_writable();
  void read_reports();
  void handle(const control::FromInit& report);

  pid_t init_pid_;
  SandboxReady ready_;
  bool alive_ = true;
  UniqueFd control_fd_;  // until attach() hands it to control_
  std::optional<boost::asio::posix::stream_descriptor> control_;
  control::Outbox outbox_;
  bool writing_ = false;
  uint64_t next_id_ = 1;
  std::map<uint64_t, SpawnCallbacks> pending_;  // waiting for started/failed
  std::map<uint64_t, SpawnCallbacks> running_;  // waiting for exited
};

}  // namespace openshell
