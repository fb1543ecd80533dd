#include "session_launcher.h"

#include <boost/asio/post.hpp>

#include "sandbox-policy/environment.h"

namespace openshell {

void SessionLauncher::launch(ssh::LaunchRequest request, ssh::LaunchCallbacks callbacks) {
  const std::string& shell = plan_.identity.shell;
  control::SpawnRequest spawn;
  bool needs_shell = request.kind != ssh::LaunchKind::sftp_server;
  switch (request.kind) {
    case ssh::LaunchKind::login_shell: {
      // A leading '-' in argv[0] asks for a login shell (sh(1), bash(1)).
      auto slash = shell.rfind('/');
      spawn.set_path(shell);
      std::string login_name(1, '-');
      login_name.append(shell, slash == std::string::npos ? 0 : slash + 1);
      spawn.add_argv(std::move(login_name));
      break;
    }
    case ssh::LaunchKind::command:
      spawn.add_argv(shell);
      spawn.add_argv("-c");
      spawn.add_argv(request.command);
      break;
    case ssh::LaunchKind::sftp_server:
      spawn.add_argv(supervisor_path_);
      spawn.add_argv("sftp-server");
      break;
  }
  spawn.set_cwd(plan_.workdir);
  std::optional<std::string> term;
  std::map<std::string, std::string> session;
  for (auto& [key, value] : request.environment) {
    if (key == "TERM") {
      term = value;
    } else {
      session[key] = value;  // compose_environment drops OPENSHELL_* and LD_*
    }
  }
  for (auto& entry : policy::compose_environment(plan_.environment, term, session)) {
    spawn.add_env(std::move(entry));
  }
  spawn.set_tty(request.tty);

  std::vector<UniqueFd> fds;
  if (request.tty) {
    fds.push_back(std::move(request.tty_slave));
  } else {
    fds.push_back(std::move(request.stdin_fd));
    fds.push_back(std::move(request.stdout_fd));
    fds.push_back(std::move(request.stderr_fd));
  }

  // The handle is the sandbox's process id, known only once spawn returns.
  auto handle = std::make_shared<ssh::ProcessHandle>(0);
  SpawnCallbacks spawn_callbacks;
  spawn_callbacks.started = [handle, started = callbacks.started](pid_t) { started(*handle); };
  spawn_callbacks.failed = [needs_shell, failed = callbacks.failed](const Error& error) {
    bool missing = error.what == "execve" && error.err == ENOENT;
    failed(needs_shell && missing ? ssh::LaunchFailure::no_shell : ssh::LaunchFailure::other,
           error);
  };
  spawn_callbacks.exited = std::move(callbacks.exited);
  *handle = sandbox_.spawn(std::move(spawn), std::move(fds), std::move(spawn_callbacks));
}

void SessionLauncher::signal(ssh::ProcessHandle handle, int signo) {
  sandbox_.signal(handle, signo, /*group=*/true);
}

}  // namespace openshell
