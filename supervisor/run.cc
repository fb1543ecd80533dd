#include "run.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include "log.h"
#include "main_process.h"
#include "pid1.h"
#include "sandbox-policy/environment.h"
#include "sandbox.h"
#include "sandbox_plan.h"
#include "startup_error.h"

namespace openshell {
namespace {

MainLaunch main_launch(const Config& config, const policy::SandboxPlan& plan) {
  MainLaunch launch;
  launch.tty = config.main.tty;
  launch.argv = config.main.command;
  if (launch.argv.empty()) launch.argv = {plan.identity.shell, "-l"};  // the login shell
  launch.cwd = plan.workdir;
  // Every child starts from the plan's environment, never the supervisor's
  // (DESIGN.md §4).
  std::optional<std::string> term;
  if (launch.tty) term = config.term.empty() ? "xterm-256color" : config.term;
  launch.env = policy::compose_environment(plan.environment, term, {});
  return launch;
}

Stage stage_of_spawn_failure(const Error& error) {
  if (error.what == "execve") return error.err == ENOENT ? Stage::exec_missing : Stage::exec_denied;
  return Stage::sandbox_setup;
}

void log_enforcement(const LoadedPlan& loaded, const Sandbox& sandbox) {
  const auto& plan = loaded.plan;
  const auto& ready = sandbox.ready();
  log::info("sandbox ready",
            {{"policy", loaded.origin},
             {"uid", plan.user_namespace.process_uid},
             {"gid", plan.user_namespace.process_gid},
             {"user", plan.identity.user_name},
             {"network", plan.network_mode == policy::NetworkMode::kNone ? "none" : "pod"},
             {"landlock_abi", ready.landlock_abi},
             {"landlock", ready.landlock_enforced ? "enforced" : "NOT ENFORCED"},
             {"seccomp_instructions", plan.seccomp.program.size()},
             {"capabilities_kept", plan.keep_capabilities}});
  if (!ready.landlock_enforced) {
    log::warn(
        "Landlock is not enforced: the kernel offers none (landlock.compatibility: best_effort)");
  }
  for (const auto& note : ready.notes) log::info("sandbox note", {{"note", note}});
  report_unenforced(plan);
}

}  // namespace

int run_supervisor(const Config& config) {
  auto loaded = load_sandbox_plan(config);
  if (!loaded) die_at(Stage::input, loaded.error().message());

  // The sandbox init is a fork of this process: create it while the
  // supervisor is still single-threaded (fork(2) in a threaded process
  // copies only the calling thread).
  SandboxSpec spec;
  spec.plan = &loaded->plan;
  auto sandbox = Sandbox::create(spec);
  if (!sandbox) die_at(Stage::sandbox, sandbox.error().message());
  log_enforcement(*loaded, **sandbox);

  boost::asio::io_context io;
  Pid1 pid1(io, **sandbox, config.shutdown_grace);
  (*sandbox)->attach(io);
  pid1.reap();

  MainProcess main(io, **sandbox);
  pid1.set_main(&main);
  auto launch = main_launch(config, loaded->plan);
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
