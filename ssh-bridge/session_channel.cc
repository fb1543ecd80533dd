#include "session_channel.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cstring>
#include <utility>

#include "connection.h"
#include "log.h"
#include "terminal.h"

namespace openshell::ssh {

namespace {

constexpr std::size_t kMaxEnvVars = 64;
constexpr std::size_t kMaxEnvName = 256;
constexpr std::size_t kMaxEnvValue = 32 * 1024;
constexpr std::size_t kMaxCommand = 256 * 1024;

// RFC 4254 §6.10 names signals without the "SIG" prefix.
struct SignalName {
  int number;
  const char* name;
};
constexpr SignalName kSignals[] = {
    {SIGABRT, "ABRT"}, {SIGALRM, "ALRM"}, {SIGFPE, "FPE"},   {SIGHUP, "HUP"},   {SIGILL, "ILL"},
    {SIGINT, "INT"},   {SIGKILL, "KILL"}, {SIGPIPE, "PIPE"}, {SIGQUIT, "QUIT"}, {SIGSEGV, "SEGV"},
    {SIGTERM, "TERM"}, {SIGUSR1, "USR1"}, {SIGUSR2, "USR2"},
};

const char* signal_name(int number) {
  for (const auto& s : kSignals) {
    if (s.number == number) return s.name;
  }
  return nullptr;
}

int signal_number(std::string_view name) {
  for (const auto& s : kSignals) {
    if (name == s.name) return s.number;
  }
  return 0;
}

}  // namespace

bool env_name_allowed(std::string_view name) {
  if (name.empty() || name.size() > kMaxEnvName) return false;
  if (name.starts_with("OPENSHELL_") || name.starts_with("LD_")) return false;
  for (char c : name) {
    bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return !(name[0] >= '0' && name[0] <= '9');
}

std::shared_ptr<SessionChannel> SessionChannel::create(Connection& connection,
                                                       ssh_channel channel) {
  auto self = std::make_shared<SessionChannel>(connection, channel);
  auto& cb = self->callbacks_;
  cb.channel_data_function = [](ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr,
                                void* userdata) -> int {
    auto* me = static_cast<SessionChannel*>(userdata);
    // Extended data from a client has no meaning here; drop it.
    if (is_stderr) return static_cast<int>(len);
    return me->on_data(data, len);
  };
  cb.channel_eof_function = [](ssh_session, ssh_channel, void* userdata) {
    static_cast<SessionChannel*>(userdata)->client_eof_ = true;
  };
  cb.channel_close_function = [](ssh_session, ssh_channel, void* userdata) {
    static_cast<SessionChannel*>(userdata)->client_closed_ = true;
  };
  cb.channel_signal_function = [](ssh_session, ssh_channel, const char* name, void* userdata) {
    static_cast<SessionChannel*>(userdata)->on_signal(name);
  };
  cb.channel_pty_request_function = [](ssh_session, ssh_channel, const char* term, int w, int h,
                                       int pxw, int pxh, void* userdata) {
    return static_cast<SessionChannel*>(userdata)->on_pty(term, w, h, pxw, pxh);
  };
  cb.channel_pty_window_change_function = [](ssh_session, ssh_channel, int w, int h, int pxw,
                                             int pxh, void* userdata) {
    return static_cast<SessionChannel*>(userdata)->on_window_change(w, h, pxw, pxh);
  };
  cb.channel_shell_request_function = [](ssh_session, ssh_channel, void* userdata) {
    return static_cast<SessionChannel*>(userdata)->launch(LaunchKind::login_shell, {});
  };
  cb.channel_exec_request_function = [](ssh_session, ssh_channel, const char* command,
                                        void* userdata) {
    return static_cast<SessionChannel*>(userdata)->on_exec(command);
  };
  cb.channel_env_request_function = [](ssh_session, ssh_channel, const char* name,
                                       const char* value, void* userdata) {
    return static_cast<SessionChannel*>(userdata)->on_env(name, value);
  };
  cb.channel_subsystem_request_function = [](ssh_session, ssh_channel, const char* name,
                                             void* userdata) {
    return static_cast<SessionChannel*>(userdata)->on_subsystem(name);
  };
  self->install_callbacks();
  return self;
}

SessionChannel::SessionChannel(Connection& connection, ssh_channel channel)
    : Channel(connection, channel) {}

SessionChannel::~SessionChannel() {
  stop_process();
}

void SessionChannel::refuse(std::string_view what) {
  audit(connection_.who(), "request_refused", what);
}

int SessionChannel::on_pty(const char* term, int columns, int rows, int px_width, int px_height) {
  if (mode_ != Mode::idle || pty_) {
    refuse("pty-req after the session started");
    return -1;
  }
  std::string_view t = term != nullptr ? term : "";
  if (t.size() > 256) {
    refuse("pty-req with an oversized TERM");
    return -1;
  }
  pty_ = true;
  term_ = t;
  on_window_change(columns, rows, px_width, px_height);
  // The encoded terminal modes (RFC 4254 §8) are not exposed by libssh
  // 0.10's server API; the pty starts with the kernel's defaults.
  return 0;
}

int SessionChannel::on_window_change(int columns, int rows, int px_width, int px_height) {
  auto clamp = [](int v) { return static_cast<unsigned short>(v < 0 ? 0 : v > 65535 ? 65535 : v); };
  size_.ws_col = clamp(columns);
  size_.ws_row = clamp(rows);
  size_.ws_xpixel = clamp(px_width);
  size_.ws_ypixel = clamp(px_height);
  // The kernel sends SIGWINCH to the terminal's foreground process group.
  if (master_ && master_->is_open()) ::ioctl(master_->get(), TIOCSWINSZ, &size_);
  if (attachment_) attachment_->resize(size_.ws_col, size_.ws_row);
  return 0;
}

int SessionChannel::on_env(const char* name, const char* value) {
  std::string_view n = name != nullptr ? name : "";
  std::string_view v = value != nullptr ? value : "";
  if (!env_name_allowed(n)) {
    refuse("env " + std::string(n.substr(0, 64)));
    return -1;
  }
  if (mode_ != Mode::idle || v.size() > kMaxEnvValue || environment_.size() >= kMaxEnvVars) {
    refuse("env " + std::string(n) + ": too late, too large or too many");
    return -1;
  }
  environment_.emplace_back(std::string(n), std::string(v));
  return 0;
}

int SessionChannel::on_exec(const char* command) {
  std::string_view c = command != nullptr ? command : "";
  if (c.size() > kMaxCommand) {
    refuse("exec command longer than 256 KiB");
    return -1;
  }
  return launch(LaunchKind::command, std::string(c));
}

int SessionChannel::on_subsystem(const char* name) {
  std::string_view n = name != nullptr ? name : "";
  if (n == "sftp") return launch(LaunchKind::sftp_server, {});
  if (n == "openshell-main") return attach_main();
  refuse("subsystem " + std::string(n.substr(0, 64)));
  return -1;
}

void SessionChannel::on_signal(const char* name) {
  std::string_view n = name != nullptr ? name : "";
  int number = signal_number(n);
  // A few queued signals cover any client; a flood before the start is refused.
  static constexpr std::size_t kMaxPendingSignals = 16;
  if (number == 0 || mode_ != Mode::process || exited_ ||
      (!started_ && pending_signals_.size() >= kMaxPendingSignals)) {
    refuse("signal " + std::string(n.substr(0, 32)));
    return;
  }
  audit(connection_.who(), "signal", n);
  if (started_) {
    connection_.context().services.launcher->signal(handle_, number);
  } else {
    pending_signals_.push_back(number);
  }
}

bool SessionChannel::begin(std::string_view what) {
  // RFC 4254 §6.5: only one of shell, exec or subsystem per channel.
  if (mode_ != Mode::idle) {
    refuse(std::string(what) + ": the channel already runs " + what_);
    return false;
  }
  what_ = what;
  audit(connection_.who(), "channel_request", what);
  return true;
}

namespace {

Result<std::pair<UniqueFd, UniqueFd>> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno("pipe2");
  return std::pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace

int SessionChannel::launch(LaunchKind kind, std::string command) {
  const char* what = kind == LaunchKind::login_shell ? "shell"
                     : kind == LaunchKind::command   ? "exec"
                                                     : "subsystem sftp";
  if (!begin(what)) return -1;
  auto* launcher = connection_.context().services.launcher;
  if (launcher == nullptr) {
    refuse(std::string(what) + ": no process launcher");
    return -1;
  }
  if (connection_.context().shutting_down) {
    refuse(std::string(what) + ": the sandbox is shutting down");
    return -1;
  }
  LaunchRequest request;
  request.kind = kind;
  request.command = std::move(command);
  request.environment = environment_;
  request.tty = pty_ && kind != LaunchKind::sftp_server;
  request.origin = connection_.who().peer + " connection " + std::to_string(connection_.id());
  if (request.tty) {
    // The sandbox's devpts (terminal.h): the session's `tty` has a name there.
    auto pty = open_pty();
    if (!pty) {
      log::error("ssh: cannot open a pty", {{"error", pty.error().message()}});
      return -1;
    }
    if (size_.ws_col != 0 || size_.ws_row != 0) set_window_size(pty->master.get(), size_);
    if (!term_.empty()) request.environment.insert(request.environment.begin(), {"TERM", term_});
    request.tty_slave = std::move(pty->slave);
    master_ = std::make_unique<LoopFd>(connection_.context().io, std::move(pty->master));
    drain_eagain_is_eof_ = false;
  } else {
    auto in = make_pipe();
    auto out = make_pipe();
    auto err = make_pipe();
    if (!in || !out || !err) {
      log::error("ssh: cannot create pipes", {{"error", "pipe2 failed"}});
      return -1;
    }
    request.stdin_fd = std::move(in->first);
    request.stdout_fd = std::move(out->second);
    request.stderr_fd = std::move(err->second);
    stdin_ = std::make_unique<LoopFd>(connection_.context().io, std::move(in->second));
    stdout_ = std::make_unique<LoopFd>(connection_.context().io, std::move(out->first));
    stderr_ = std::make_unique<LoopFd>(connection_.context().io, std::move(err->first));
  }
  mode_ = Mode::process;

  std::weak_ptr<Channel> weak = weak_from_this();
  LaunchCallbacks callbacks;
  callbacks.started = [weak, launcher](ProcessHandle handle) {
    auto base = weak.lock();
    if (!base) {
      // The client left before the process was up: it gets what a
      // disconnected terminal gets.
      launcher->signal(handle, SIGHUP);
      return;
    }
    auto* self = static_cast<SessionChannel*>(base.get());
    self->handle_ = handle;
    self->started_ = true;
    for (int signo : std::exchange(self->pending_signals_, {})) launcher->signal(handle, signo);
    if (self->finished_ || self->client_closed_) launcher->signal(handle, SIGHUP);
    self->kick();
  };
  callbacks.failed = [weak](LaunchFailure failure, const Error& error) {
    auto base = weak.lock();
    if (!base) return;
    auto* self = static_cast<SessionChannel*>(base.get());
    std::string message =
        failure == LaunchFailure::no_shell
            ? "openshell: this sandbox has no shell for its user: " + error.message() + "\r\n"
            : "openshell: cannot start " + self->what_ + ": " + error.message() + "\r\n";
    audit(self->connection_.who(), "launch_failed", error.message());
    if (ssh_channel_is_open(self->raw())) {
      ssh_channel_write_stderr(self->raw(), message.data(), static_cast<uint32_t>(message.size()));
    }
    // Like a shell that cannot find a command (127) or run it (126).
    self->exited_ = true;
    self->wait_status_ = (failure == LaunchFailure::no_shell ? 127 : 126) << 8;
    self->stdout_eof_ = self->stderr_eof_ = true;
    self->master_.reset();
    self->stdout_.reset();
    self->stderr_.reset();
    self->kick();
  };
  callbacks.exited = [weak](int status) {
    auto base = weak.lock();
    if (!base) return;
    auto* self = static_cast<SessionChannel*>(base.get());
    self->exited_ = true;
    self->wait_status_ = status;
    // A pty has no EOF while a background job holds the slave open: after
    // the exit, what is readable now is the rest of the output (sshd does
    // the same).
    self->drain_eagain_is_eof_ = self->master_ != nullptr;
    self->kick();
  };
  launcher->launch(std::move(request), std::move(callbacks));
  return 0;
}

int SessionChannel::attach_main() {
  if (!begin("subsystem openshell-main")) return -1;
  auto* main = connection_.context().services.main_attach;
  if (main == nullptr) {
    refuse("subsystem openshell-main: no main process to attach to");
    return -1;
  }
  std::weak_ptr<Channel> weak = weak_from_this();
  AttachCallbacks callbacks;
  auto& io = connection_.context().io;
  callbacks.output = [weak, &io](std::span<const char> data) {
    auto base = weak.lock();
    if (!base) return;
    auto* self = static_cast<SessionChannel*>(base.get());
    if (data.size() > self->from_main_.room()) {
      // Never make the main process wait for a slow client: drop the client.
      self->overrun_ = true;
    } else {
      self->from_main_.append(data.data(), data.size());
    }
    boost::asio::post(io, [weak] {
      if (auto b = weak.lock()) static_cast<SessionChannel*>(b.get())->kick();
    });
  };
  callbacks.ended = [weak, &io](int status) {
    auto base = weak.lock();
    if (!base) return;
    auto* self = static_cast<SessionChannel*>(base.get());
    self->main_ended_ = true;
    self->main_status_ = status;
    boost::asio::post(io, [weak] {
      if (auto b = weak.lock()) static_cast<SessionChannel*>(b.get())->kick();
    });
  };
  auto attached = main->attach(true, std::move(callbacks));
  if (!attached) {
    refuse("subsystem openshell-main: " + attached.error().message());
    return -1;
  }
  attachment_ = std::move(*attached);
  mode_ = Mode::attach;
  if (!attachment_->has_input()) {
    notice_ = "openshell: attached read-only: another client holds the input\r\n";
  } else if (pty_) {
    attachment_->resize(size_.ws_col, size_.ws_row);
  }
  return 0;
}

int SessionChannel::on_data(const void* data, uint32_t len) {
  if (mode_ == Mode::attach) {
    // Docker's detach keys: Ctrl-P Ctrl-Q ends the attachment, nothing else.
    const auto* bytes = static_cast<const char*>(data);
    std::string forward;
    forward.reserve(len + 1);
    for (uint32_t i = 0; i < len && !detach_; ++i) {
      char c = bytes[i];
      if (ctrl_p_) {
        ctrl_p_ = false;
        if (c == '\x11') {
          detach_ = true;
          break;
        }
        forward.push_back('\x10');
      }
      if (c == '\x10') {
        ctrl_p_ = true;
      } else {
        forward.push_back(c);
      }
    }
    if (attachment_ && attachment_->has_input() && !forward.empty()) {
      attachment_->write(forward);
    }
    return static_cast<int>(len);
  }
  if (mode_ != Mode::process || stdin_closed_) return static_cast<int>(len);  // nowhere to go
  return static_cast<int>(take(to_child_, data, len, backlog_));
}

void SessionChannel::pump() {
  if (finished_) return;
  if (client_closed_) {
    stop_process();
    close_channel();
    return;
  }
  if (mode_ == Mode::process) pump_process();
  if (mode_ == Mode::attach) pump_attach();
}

void SessionChannel::pump_process() {
  LoopFd* in = master_ ? master_.get() : stdin_.get();
  if (in != nullptr && !stdin_closed_) {
    if (feed(*in, to_child_, backlog_) == Feed::broken) {
      stdin_closed_ = true;
      backlog_ = 0;
      if (stdin_) stdin_->close();
    } else if (client_eof_ && stdin_ && to_child_.empty() && backlog_ == 0) {
      // RFC 4254 §5.3: the client sends no more; the child reads EOF. (A pty
      // has one fd for both directions, so it stays open, as with sshd.)
      stdin_->close();
      stdin_closed_ = true;
    }
  }
  if (master_) {
    if (!stdout_eof_ && drain(*master_, false) == Drain::eof) {
      stdout_eof_ = stderr_eof_ = true;
      master_.reset();
    }
  } else {
    if (!stdout_eof_ && stdout_ && drain(*stdout_, false) == Drain::eof) {
      stdout_eof_ = true;
      stdout_.reset();
    }
    if (!stderr_eof_ && stderr_ && drain(*stderr_, true) == Drain::eof) {
      stderr_eof_ = true;
      stderr_.reset();
    }
  }
  // Output first, then the status: everything the child wrote is queued in
  // libssh ahead of exit-status, so nothing is lost behind it.
  if (exited_ && stdout_eof_ && stderr_eof_) finish(wait_status_);
}

void SessionChannel::pump_attach() {
  ssh_channel ch = raw();
  if (!notice_.empty() && ssh_channel_window_size(ch) >= notice_.size()) {
    ssh_channel_write_stderr(ch, notice_.data(), static_cast<uint32_t>(notice_.size()));
    notice_.clear();
  }
  while (!from_main_.empty() && !write_waits()) {
    std::size_t n =
        std::min<std::size_t>({from_main_.size(), ssh_channel_window_size(ch), 64 * 1024});
    if (n == 0) break;
    int written = ssh_channel_write(ch, from_main_.front(), static_cast<uint32_t>(n));
    if (written <= 0) break;
    from_main_.consume(static_cast<std::size_t>(written));
  }
  if (overrun_) {
    static constexpr char kMessage[] = "\r\nopenshell: output overrun, detached\r\n";
    ssh_channel_write_stderr(ch, kMessage, sizeof kMessage - 1);
    attachment_.reset();
    finish(1 << 8);
  } else if (detach_) {
    attachment_.reset();
    static constexpr char kMessage[] = "\r\nopenshell: detached\r\n";
    ssh_channel_write_stderr(ch, kMessage, sizeof kMessage - 1);
    finish(0);
  } else if (main_ended_ && from_main_.empty()) {
    attachment_.reset();
    finish(main_status_);
  }
}

void SessionChannel::finish(int wait_status) {
  ssh_channel ch = raw();
  if (WIFSIGNALED(wait_status)) {
    const char* name = signal_name(WTERMSIG(wait_status));
    if (name != nullptr) {
      // RFC 4254 §6.10, what OpenSSH's client turns into "killed by signal".
      ssh_channel_request_send_exit_signal(ch, name, WCOREDUMP(wait_status) ? 1 : 0, "", "");
    } else {
      ssh_channel_request_send_exit_status(ch, 128 + WTERMSIG(wait_status));
    }
  } else {
    ssh_channel_request_send_exit_status(ch,
                                         WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 255);
  }
  close_channel();
  if (mode_ == Mode::process) {
    master_.reset();
    stdin_.reset();
    stdout_.reset();
    stderr_.reset();
  }
}

void SessionChannel::stop_process() {
  if (mode_ == Mode::process && started_ && !exited_) {
    // As sshd does when the client goes: the session's processes get SIGHUP.
    connection_.context().services.launcher->signal(handle_, SIGHUP);
    exited_ = true;  // signal once; the real status no longer matters
  }
  master_.reset();
  stdin_.reset();
  stdout_.reset();
  stderr_.reset();
  attachment_.reset();
}

void SessionChannel::abandon() {
  stop_process();
  finished_ = true;
}

}  // namespace openshell::ssh
