#include "run.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstring>

#include "bridge.h"
#include "egress/egress.h"
#include "listen_address.h"
#include "log.h"
#include "loopback.h"
#include "main_process.h"
#include "pid1.h"
#include "sandbox-policy/environment.h"
#include "sandbox.h"
#include "sandbox_plan.h"
#include "self_restrict.h"
#include "session_launcher.h"
#include "startup_cpu.h"
#include "startup_error.h"
#include "terminal.h"
#include "userns.h"

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
             {"network", std::string(policy::to_string(plan.network_mode))},
             {"landlock_abi", ready.landlock_abi},
             {"landlock", ready.landlock_enforced ? "enforced" : "NOT ENFORCED"},
             {"seccomp_instructions", plan.seccomp.program.size()},
             {"capabilities_kept", plan.keep_capabilities}});
  if (!ready.landlock_enforced) {
    log::warn(
        "Landlock is not enforced: the kernel offers none (landlock.compatibility: best_effort)");
  }
  for (const auto& note : ready.notes) log::info("sandbox note", {{"note", note}});
  // Mode pod is said here too, once: its network.mode entry is the
  // "egress NOT ENFORCED" warning at every start.
  report_unenforced(plan);
}

// Each SSH session holds descriptors in the supervisor: its connection and
// its terminal or pipes. Container runtimes commonly start a container with
// a soft RLIMIT_NOFILE of 1024 under a much higher hard limit, which would
// end the bridge's accepting at a few hundred sessions. Only the supervisor
// raises it: the sandbox init was forked before, with the limit as given,
// and the agent and every session inherit that.
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t given = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    log::warn("descriptor limit not raised",
              {{"soft", static_cast<unsigned long>(given)}, {"error", std::strerror(errno)}});
    return;
  }
  log::info("descriptor limit raised for the supervisor",
            {{"from", static_cast<unsigned long>(given)},
             {"to", static_cast<unsigned long>(limit.rlim_max)}});
}

bool ssh_enabled(const Config& config) {
  return config.ssh_listen != "off" || !config.ssh_socket_path.empty();
}

// Checks the keys and addresses before anything starts: without a usable
// gateway key the bridge refuses to start, and so does the supervisor.
std::unique_ptr<ssh::Bridge> create_bridge(boost::asio::io_context& io, const Config& config,
                                           ssh::BridgeServices services) {
  ssh::BridgeConfig bridge_config;
  bridge_config.listen = config.ssh_listen;
  bridge_config.socket_path = config.ssh_socket_path;
  bridge_config.authorized_keys_file = config.ssh_authorized_keys_file;
  bridge_config.host_key_file = config.ssh_host_key_file;
  bridge_config.sandbox_id = config.sandbox_id;
  auto bridge = ssh::Bridge::create(io, bridge_config, services);
  if (!bridge) die_at(Stage::ssh, bridge.error().message());
  return std::move(*bridge);
}

UniqueFd sandbox_network(const policy::SandboxPlan& plan, const Sandbox& sandbox) {
  if (plan.network_mode == policy::NetworkMode::kPod) return UniqueFd();
  auto pid = proc_pid_of(sandbox.init_pid());
  if (!pid) die_at(Stage::sandbox, pid.error().message());
  std::string path = "/proc/" + std::to_string(*pid) + "/ns/net";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) die_at(Stage::sandbox, "open " + path + ": " + std::strerror(errno));
  return fd;
}

// Network mode proxy: the proxy, DNS and capture listeners in the
// sandbox's network, before any sandbox process runs (the main process's
// first connection finds them there).
std::unique_ptr<egress::Egress> start_egress(boost::asio::io_context& io, const LoadedPlan& loaded,
                                             const Sandbox& sandbox) {
  if (loaded.plan.network_mode != policy::NetworkMode::kProxy) return nullptr;
  auto relaxed = egress::parse_binary_identity(std::getenv("OPENSHELL_NETWORK_BINARY_IDENTITY"));
  if (!relaxed) die_at(Stage::input, relaxed.error().message());
  if (*relaxed) {
    log::warn("OPENSHELL_NETWORK_BINARY_IDENTITY=relaxed: network rules match any binary");
  }
  auto pid = proc_pid_of(sandbox.init_pid());
  if (!pid) die_at(Stage::sandbox, pid.error().message());
  egress::EgressSettings settings;
  settings.init_pid = *pid;
  settings.sandbox_netns = sandbox_network(loaded.plan, sandbox);
  settings.policy = loaded.policy;
  settings.policy_file = loaded.file;
  settings.relaxed_binaries = *relaxed;
  auto egress = egress::Egress::start(io, std::move(settings));
  if (!egress) die_at(Stage::sandbox, "egress proxy: " + egress.error().message());
  return std::move(*egress);
}

}  // namespace

int run_supervisor(const Config& config) {
  // The SSH socket's directory must exist before the policy is compiled, so
  // that a supervisor-only location (/run/openshell) is masked in the
  // sandbox rather than showing through once the bridge creates it.
  if (!config.ssh_socket_path.empty()) {
    if (auto socket = ssh::parse_unix_listen(config.ssh_socket_path); !socket) {
      die_at(Stage::ssh, socket.error().message());
    }
  }
  auto loaded = load_sandbox_plan(config);
  if (!loaded) die_at(Stage::input, loaded.error().message());

  // No thread exists before the sandbox init is forked: the io_context
  // starts none (BOOST_ASIO_DISABLE_THREADS).
  boost::asio::io_context io;
  std::optional<SessionLauncher> launcher;
  std::optional<LoopbackConnector> connector;
  std::unique_ptr<ssh::Bridge> bridge;

  // The sandbox init is a fork of this process: create it while the
  // supervisor is still single-threaded (fork(2) in a threaded process
  // copies only the calling thread).
  SandboxSpec spec;
  spec.plan = &loaded->plan;
  startup_cpu::pin();
  auto sandbox = Sandbox::create(spec);
  if (!sandbox) {
    die_at(is_setup_failure(sandbox.error()) ? Stage::sandbox_setup : Stage::sandbox,
           sandbox.error().message());
  }
  log_enforcement(*loaded, **sandbox);
  raise_descriptor_limit();
  // Terminals come from the sandbox's private devpts (supervisor/mounts.cc).
  // A terminal from the pod's /dev/ptmx would have no name inside.
  {
    auto pid = proc_pid_of((*sandbox)->init_pid());
    if (!pid) die_at(Stage::sandbox, pid.error().message());
    auto ptmx = set_pty_multiplexer("/proc/" + std::to_string(*pid) + "/root/dev/pts/ptmx");
    if (!ptmx) die_at(Stage::sandbox, ptmx.error().message());
  }

  Pid1 pid1(io, **sandbox, config.shutdown_grace);
  (*sandbox)->attach(io);
  pid1.reap();

  auto egress = start_egress(io, *loaded, **sandbox);

  MainProcess main(io, **sandbox);
  pid1.set_main(&main);
  // The bridge comes up before the main process starts: a bad key file
  // ends the run with nothing of the agent started.
  if (ssh_enabled(config)) {
    launcher.emplace(**sandbox, loaded->plan, own_binary());
    connector.emplace(io, sandbox_network(loaded->plan, **sandbox));
    bridge = create_bridge(io, config, {&*launcher, &main, &*connector});
    if (auto started = bridge->start(); !started) die_at(Stage::ssh, started.error().message());
    pid1.on_shutdown([&bridge] { bridge->begin_shutdown(); });
  }
  auto launch = main_launch(config, loaded->plan);
  std::string command = launch.argv.front();
  main.start(
      std::move(launch),
      [&](const Error& error) {
        (*sandbox)->kill();
        die_at(stage_of_spawn_failure(error), "main process " + command + ": " + error.message());
      },
      [&](int status) { pid1.main_exited(status); });
  startup_cpu::step_aside();

  // Start-up is over: the sandbox, listeners and sockets exist. From here
  // the supervisor keeps only what it still needs (self_restrict.h).
  if (auto restricted = restrict_supervisor_after_startup(loaded->plan); !restricted) {
    (*sandbox)->kill();
    die_at(Stage::event_loop, restricted.error().message());
  }
  startup_cpu::release();

  io.run();
  // Sessions end while the sandbox and the main process they refer to
  // still exist (the bridge was created before them).
  // Within what is left of the grace period (at least a moment when the
  // main process ended on its own), libssh's last queued output is written.
  if (bridge) bridge->stop(std::max(pid1.grace_left(), std::chrono::milliseconds(500)));
  if (egress) egress->stop();
  return pid1.exit_code();
}

}  // namespace openshell
