// What the SSH bridge needs from the rest of the supervisor. The bridge never
// starts a process, opens a terminal of the main process or connects to a
// port itself: it asks through these interfaces, which the supervisor
// implements against the sandbox init (and the tests against plain fork/exec).
//
// Everything is asynchronous on the supervisor's single-threaded
// boost::asio::io_context. No call may block; callbacks are invoked from the
// io_context, never from inside the call that registered them.
#pragma once

#include <sys/types.h>

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "error.h"
#include "unique_fd.h"

namespace openshell::ssh {

// ---- Processes inside the sandbox (shell, exec, sftp) ----

enum class LaunchKind {
  login_shell,  // the sandbox user's login shell, interactive (`shell` request)
  command,      // `<user shell> -c <command>` (`exec` request)
  sftp_server,  // `openshell-supervisor sftp-server` on stdio (`sftp` subsystem)
};

struct LaunchRequest {
  LaunchKind kind = LaunchKind::login_shell;
  std::string command;  // for LaunchKind::command, passed verbatim to `-c`
  // Added to the sandbox's base environment, in order, later wins: TERM from
  // pty-req and the accepted `env` requests (never OPENSHELL_* or LD_*).
  std::vector<std::pair<std::string, std::string>> environment;
  bool tty = false;
  // tty: the pty slave (O_CLOEXEC); the child must become a session leader
  // with it as controlling terminal and on fds 0, 1 and 2.
  UniqueFd tty_slave;
  // pipes: the child's ends (O_CLOEXEC) for fds 0, 1 and 2. The child must
  // still be put in its own process group so `signal` reaches it all.
  UniqueFd stdin_fd, stdout_fd, stderr_fd;
  // For logs only: "<peer> channel <n>".
  std::string origin;
};

using ProcessHandle = std::uint64_t;

enum class LaunchFailure {
  no_shell,  // the image has no shell for the sandbox user (exec/shell impossible)
  other,     // anything else; Error says what
};

struct LaunchCallbacks {
  // Exactly one of started/failed is called, then exited (only after started).
  std::function<void(ProcessHandle)> started;
  std::function<void(LaunchFailure, const Error&)> failed;
  std::function<void(int wait_status)> exited;  // as from waitpid()
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;
  // The launcher takes the fds in `request`; the bridge keeps its own ends.
  virtual void launch(LaunchRequest request, LaunchCallbacks callbacks) = 0;
  // Delivers `signo` to the process group of a started process. A handle of
  // a process that has already exited is ignored.
  virtual void signal(ProcessHandle handle, int signo) = 0;
};

// ---- The main process's terminal (`openshell-main` subsystem) ----

struct AttachCallbacks {
  // First the replay (up to 1 MiB of recent output), then live output. The
  // implementation never waits for the bridge: the bridge buffers (bounded)
  // and drops a client that cannot keep up.
  std::function<void(std::span<const char>)> output;
  // The main process exited (wait status as from waitpid) or its terminal
  // closed; no more output will come.
  std::function<void(int wait_status)> ended;
};

// One attached client. Destroying it detaches; it never signals, blocks or
// otherwise touches the main process.
class Attachment {
 public:
  virtual ~Attachment() = default;
  // True when this client holds the single writer seat.
  virtual bool has_input() const = 0;
  // Input for the main process's terminal; ignored without the seat. Must not
  // block: the implementation may drop input beyond its own bound.
  virtual void write(std::span<const char> data) = 0;
  // Terminal size from pty-req/window-change; applied only for the writer.
  virtual void resize(std::uint32_t columns, std::uint32_t rows) = 0;
};

class MainAttach {
 public:
  virtual ~MainAttach() = default;
  // `want_input`: try to take the writer seat (granted when free).
  virtual Result<std::unique_ptr<Attachment>> attach(bool want_input,
                                                     AttachCallbacks callbacks) = 0;
};

// ---- Loopback connections inside the sandbox network (direct-tcpip) ----

class LoopbackConnector {
 public:
  virtual ~LoopbackConnector() = default;
  // `endpoint` is always a loopback address (127.0.0.0/8 or ::1); the bridge
  // has checked it. `done` receives a connected, non-blocking, O_CLOEXEC
  // stream socket or the reason it failed.
  virtual void connect(const boost::asio::ip::tcp::endpoint& endpoint,
                       std::function<void(Result<UniqueFd>)> done) = 0;
};

}  // namespace openshell::ssh
