#include "check.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>

#include "landlock.h"
#include "sandbox-policy/network_report.h"
#include "sandbox-policy/report.h"
#include "sandbox.h"
#include "self_restrict.h"
#include "sandbox_plan.h"

namespace openshell {
namespace {

void line(const char* layer, const std::string& state) {
  std::printf("%-14s %s\n", layer, state.c_str());
}

// Starts a probe in the sandbox: fork, every restriction, exit 0.
Result<void> probe_process(Sandbox& sandbox, boost::asio::io_context& io) {
  sandbox.attach(io);
  std::optional<Result<void>> outcome;
  std::vector<UniqueFd> fds;
  for (int i = 0; i < 3; ++i) fds.emplace_back(::open("/dev/null", O_RDWR | O_CLOEXEC));
  control::SpawnRequest request;
  request.set_probe_only(true);
  request.set_cwd("/");
  SpawnCallbacks callbacks;
  callbacks.failed = [&](const Error& e) { outcome = std::unexpected(e); };
  callbacks.exited = [&](int status) {
    if (status == 0) {
      outcome.emplace();
    } else {
      outcome.emplace(fail("probe wait status " + std::to_string(status)));
    }
  };
  sandbox.spawn(std::move(request), std::move(fds), std::move(callbacks));
  while (!outcome && io.run_one() > 0) {
  }
  if (!outcome) return fail("the sandbox ended before the probe reported");
  return *outcome;
}

}  // namespace

int run_check(const Config& config) {
  auto loaded = load_sandbox_plan(config);
  if (!loaded) {
    std::fprintf(stderr, "openshell-supervisor: %s\n", loaded.error().message().c_str());
    return 2;
  }
  const auto& plan = loaded->plan;
  std::printf("policy         %s\n", loaded->origin.c_str());

  SandboxSpec spec;
  spec.plan = &plan;
  // Declared before the sandbox so that it outlives it: the sandbox's
  // control descriptor, once attached, is an I/O object of this context.
  boost::asio::io_context io;
  auto sandbox = Sandbox::create(spec);
  bool ok = true;
  if (!sandbox) {
    std::string why = sandbox.error().message();
    for (const char* layer : {"user-ns", "mount-ns", "pid-ns", "ipc/uts-ns", "network"}) {
      line(layer, "unavailable (" + why + ")");
    }
    line("capabilities", "unavailable (no sandbox)");
    line("no_new_privs", "unavailable (no sandbox)");
    line("landlock", "unavailable (no sandbox; kernel ABI " + std::to_string(landlock_abi()) + ")");
    line("seccomp", "unavailable (no sandbox)");
    ok = false;
  } else {
    auto probe = probe_process(**sandbox, io);
    std::string per_process = probe ? "enforced" : "unavailable (" + probe.error().message() + ")";
    const auto& ns = plan.user_namespace;
    line("user-ns", "enforced (uid " + std::to_string(ns.process_uid) + ", gid " +
                        std::to_string(ns.process_gid) +
                        (ns.root_in_sandbox ? ", root inside" : "") + ", setgroups " +
                        (ns.deny_setgroups ? "denied" : "allowed") + ")");
    line("mount-ns", "enforced (" + std::to_string(plan.mount_plan.ops.size()) +
                         " mounts from an empty root, fresh /proc)");
    std::string devices;
    for (const auto& node : plan.fs_tree.nodes) {
      if (node.source == policy::FsSource::kDevice) devices += (devices.empty() ? "" : " ") + node.path;
    }
    line("devices", devices.empty() ? "standard only" : "passed through: " + devices);
    for (const auto& node : plan.fs_tree.nodes) {
      if (node.path == "/proc" && node.access == policy::FsAccess::kReadOnlyWriteFiles) {
        line("proc", "files writable (Landlock write_file) for GPU thread names");
      }
    }
    line("pid-ns", "enforced");
    line("ipc/uts-ns", "enforced");
    line("network", plan.network_mode != policy::NetworkMode::kPod
                        ? "enforced (" + std::string(policy::to_string(plan.network_mode)) +
                              ": own namespace, loopback only)"
                        : "pod (shared with the pod's network, see NOT ENFORCED below)");
    line("capabilities",
         probe ? (plan.keep_capabilities == 0 ? "enforced (every set empty, securebits locked)"
                                              : "degraded (policy keeps some)")
               : per_process);
    line("no_new_privs", per_process);
    const auto& ready = (*sandbox)->ready();
    std::string landlock = "ABI " + std::to_string(ready.landlock_abi);
    if (!ready.landlock_enforced) {
      // best_effort lets `run` go on without it; `check` still fails, so a
      // readiness gate or CI sees that the policy's Landlock layer is off.
      line("landlock", "unavailable (" + landlock + ", best_effort)");
      ok = false;
    } else {
      bool dropped = false;
      for (const auto& note : ready.notes) dropped |= note.starts_with("landlock right");
      line("landlock", (dropped ? "degraded (" : "enforced (") + landlock + ")");
    }
    line("seccomp", probe ? "enforced (" + std::to_string(plan.seccomp.entries.size()) + " rules)"
                          : per_process);
    ok = ok && probe.has_value();
    // The supervisor's own restriction after start-up (self_restrict.h).
    auto restricted = check_supervisor_restriction(plan);
    line("supervisor", restricted ? "enforced after start-up (" + *restricted + ")"
                                  : "unavailable (" + restricted.error().message() + ")");
    ok = ok && restricted.has_value();
  }
  // The whole network layer: mode, proxy and DNS addresses, every rule and
  // endpoint with how this build enforces it (L4, L4 only, denied for lack
  // of L7), as validate-policy prints it.
  for (const auto& text : policy::describe_network(plan.network_mode, plan.network_policies))
    std::printf("%s\n", text.c_str());
  for (const auto& text : policy::format_unenforced(plan.unenforced))
    std::printf("%s\n", text.c_str());
  // Something the policy asks for that this build does not enforce
  // (network_policies without egress control) fails the check too.
  if (!plan.unenforced.empty()) ok = false;
  std::printf("result         %s\n", ok ? "every layer the policy asks for is enforced"
                                          : "NOT every layer the policy asks for is enforced");
  return ok ? 0 : 1;
}

int run_validate_policy(const Config& config) {
  std::vector<std::string> unresolved;
  auto loaded = load_sandbox_plan_from(config, config.argument, &unresolved);
  if (!loaded) {
    std::fprintf(stderr, "openshell-supervisor: %s\n", loaded.error().message().c_str());
    return 2;
  }
  for (const auto& text : policy::describe_plan(loaded->plan)) std::printf("%s\n", text.c_str());
  // Valid in structure; names this machine lacks may well be the image's,
  // so they do not fail the check, but they are said on stderr and stdout.
  for (const auto& line : unresolved) {
    std::printf("unresolved: %s (not checked: pass --root IMAGE_ROOT to check against the image)\n",
                line.c_str());
    std::fprintf(stderr, "openshell-supervisor: unresolved: %s\n", line.c_str());
  }
  return 0;
}

}  // namespace openshell
