// "session" channels (RFC 4254 §6): pty-req, env, window-change, shell,
// exec, subsystem (sftp, openshell-main), signal, and on the way back
// exit-status or exit-signal, EOF and close, in that order.
#pragma once

#include <sys/ioctl.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "channel.h"
#include "interfaces.h"
#include "loop_fd.h"

namespace openshell::ssh {

// RFC 4254 §6.4 lets the server refuse variables. OPENSHELL_* configure the
// supervisor and LD_* steer the dynamic loader of whatever runs next; both
// are refused, as is any name that is not a plain identifier.
bool env_name_allowed(std::string_view name);

class SessionChannel final : public Channel {
 public:
  static std::shared_ptr<SessionChannel> create(Connection& connection, ssh_channel channel);
  SessionChannel(Connection& connection, ssh_channel channel);
  ~SessionChannel() override;

  void pump() override;
  void abandon() override;

 private:
  enum class Mode { idle, process, attach };

  int on_pty(const char* term, int columns, int rows, int px_width, int px_height);
  int on_window_change(int columns, int rows, int px_width, int px_height);
  int on_env(const char* name, const char* value);
  int on_exec(const char* command);
  int on_subsystem(const char* name);
  void on_signal(const char* name);
  int on_data(const void* data, uint32_t len);

  bool begin(std::string_view what);
  int launch(LaunchKind kind, std::string command);
  int attach_main();
  void refuse(std::string_view what);
  void pump_process();
  void pump_attach();
  void finish(int wait_status);
  void stop_process();

  Mode mode_ = Mode::idle;
  std::string what_;  // "exec", "shell", "subsystem sftp", for logs

  bool pty_ = false;
  std::string term_;
  winsize size_{};
  std::vector<std::pair<std::string, std::string>> environment_;

  // process mode
  std::unique_ptr<LoopFd> master_;  // pty: both directions
  std::unique_ptr<LoopFd> stdin_, stdout_, stderr_;
  ByteQueue to_child_{256 * 1024};
  std::size_t backlog_ = 0;
  ProcessHandle handle_ = 0;
  bool started_ = false;
  bool exited_ = false;
  // Signals the client sent after the process's first output but before its
  // launcher reported the start (the sandbox init reports on its own socket,
  // so output can come first); delivered in order once the start is known.
  std::vector<int> pending_signals_;
  int wait_status_ = 0;
  bool stdin_closed_ = false;
  bool stdout_eof_ = false;
  bool stderr_eof_ = false;

  // attach mode
  std::unique_ptr<Attachment> attachment_;
  ByteQueue from_main_{4 * 1024 * 1024};
  std::string notice_;
  bool main_ended_ = false;
  int main_status_ = 0;
  bool ctrl_p_ = false;
  bool detach_ = false;
  bool overrun_ = false;

  bool client_eof_ = false;
  bool client_closed_ = false;
};

}  // namespace openshell::ssh
