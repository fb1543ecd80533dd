#include "run.h"

#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include "log.h"
#include "main_process.h"
#include "pid1.h"
#include "sandbox.h"
#include "startup_error.h"

namespace openshell {
namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

MainLaunch main_launch(const Config& config) {
  MainLaunch launch;
  launch.tty = config.main.tty;
  launch.argv = config.main.command;
  if (launch.argv.empty()) launch.argv = {"/bin/sh", "-l"};  // the login shell

  struct stat st {};
  launch.cwd =
      ::stat(config.workdir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) ? config.workdir : "/";

  // Every child starts from a cleared environment (DESIGN.md §4).
  std::map<std::string, std::string> env = {{"PATH", kDefaultPath}, {"HOME", launch.cwd}};
  if (launch.tty) {
    env["TERM"] = config.term.empty() ? "xterm-256color" : config.term;
  }
  for (const auto& [key, value] : config.user_environment) env[key] = value;
  for (const auto& [key, value] : env) launch.env.push_back(key + "=" + value);
  return launch;
}

Stage stage_of_spawn_failure(const Error& error) {
  if (error.what == "execve") return error.err == ENOENT ? Stage::exec_missing : Stage::exec_denied;
  return Stage::sandbox_setup;
}

}  // namespace

int run_supervisor(const Config& config) {
  // The sandbox init is a fork of this process: create it while the
  // supervisor is still single-threaded (fork(2) in a threaded process
  // copies only the calling thread).
  SandboxSpec spec;
  spec.clone_flags = CLONE_NEWPID;
  auto sandbox = Sandbox::create(spec);
  if (!sandbox) die_at(Stage::sandbox, sandbox.error().message());

  boost::asio::io_context io;
  Pid1 pid1(io, **sandbox, config.shutdown_grace);
  (*sandbox)->attach(io);
  pid1.reap();

  MainProcess main(io, **sandbox);
  pid1.set_main(&main);
  auto launch = main_launch(config);
  std::string command = launch.argv.front();
  main.start(
      std::move(launch),
      [&](const Error& error) {
        (*sandbox)->kill();
        die_at(stage_of_spawn_failure(error), "main process " + command + ": " + error.message());
      },
      [&](int status) { pid1.main_exited(status); });

  io.run();
  return pid1.exit_code();
}

}  // namespace openshell
