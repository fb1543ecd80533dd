#include "self_restrict.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "log.h"
#include "sandbox-policy/capabilities.h"
#include "unique_fd.h"

namespace openshell {
namespace {

int last_capability() {
  UniqueFd fd(::open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC));
  char buffer[16] = {};
  if (!fd || ::read(fd.get(), buffer, sizeof buffer - 1) <= 0) return 63;
  return std::atoi(buffer);
}

}  // namespace

Result<void> restrict_supervisor(const policy::SupervisorRestriction& restriction) {
  const uint64_t keep = restriction.keep_mask;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct now[2] = {};
  if (::syscall(SYS_capget, &header, now) != 0) return fail_errno("capget");
  // What is kept can only be what the supervisor holds: never more.
  uint64_t held = now[0].permitted | (static_cast<uint64_t>(now[1].permitted) << 32);
  uint64_t target = keep & held;

  // The bounding set first: dropping from it needs CAP_SETPCAP, which the
  // capset below removes (capabilities(7)). The kernel's last capability
  // is read once: in the loop's condition it cost an open, a read and a
  // close per capability on the start-up path.
  const int last = last_capability();
  for (int cap = 0; cap <= last; ++cap) {
    if ((keep >> cap) & 1) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return fail_errno("PR_CAPBSET_DROP " + std::to_string(cap));
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    return fail_errno("PR_CAP_AMBIENT_CLEAR_ALL");
  }
  __user_cap_data_struct data[2] = {};
  for (int word = 0; word < 2; ++word) {
    auto bits = static_cast<uint32_t>(target >> (32 * word));
    data[word].effective = data[word].permitted = bits;
    data[word].inheritable = 0;
  }
  if (::syscall(SYS_capset, &header, data) != 0) return fail_errno("capset");
  if (::syscall(SYS_capget, &header, now) != 0) return fail_errno("capget");
  uint64_t effective = now[0].effective | (static_cast<uint64_t>(now[1].effective) << 32);
  uint64_t permitted = now[0].permitted | (static_cast<uint64_t>(now[1].permitted) << 32);
  if (effective != target || permitted != target) {
    return fail("capabilities not as set after capset");
  }

  // A filter may be installed without CAP_SYS_ADMIN only under
  // no_new_privs (seccomp(2)); the supervisor execs nothing after start-up.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail_errno("PR_SET_NO_NEW_PRIVS");
  const auto& program = restriction.seccomp.program;
  sock_fprog fprog{static_cast<unsigned short>(program.size()),
                   const_cast<sock_filter*>(program.data())};
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
    return fail_errno("seccomp(SECCOMP_SET_MODE_FILTER) on the supervisor");
  }
  return {};
}

namespace {

std::string kept_names(const policy::SupervisorRestriction& restriction) {
  std::string kept;
  for (const auto& k : restriction.kept) {
    if (!kept.empty()) kept.push_back(',');
    kept.append(policy::capability_name(k.cap));
  }
  return kept;
}

}  // namespace

Result<std::string> check_supervisor_restriction(const policy::SandboxPlan& plan) {
  auto restriction =
      policy::build_supervisor_restriction(plan.network_mode != policy::NetworkMode::kPod);
  if (!restriction) return fail(restriction.error().to_string());
  pid_t child = ::fork();
  if (child < 0) return fail_errno("fork");
  if (child == 0) ::_exit(restrict_supervisor(*restriction) ? 0 : 1);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail("the kernel refused the supervisor's restriction");
  }
  return "keeps " + kept_names(*restriction) + "; seccomp filter of " +
         std::to_string(restriction->seccomp.entries.size()) + " rules; no_new_privs";
}

Result<void> restrict_supervisor_after_startup(const policy::SandboxPlan& plan) {
  auto restriction =
      policy::build_supervisor_restriction(plan.network_mode != policy::NetworkMode::kPod);
  if (!restriction) return fail("supervisor restriction: " + restriction.error().to_string());
  if (auto applied = restrict_supervisor(*restriction); !applied) return applied;
  std::string kept = kept_names(*restriction);
  for (const auto& k : restriction->kept) {
    log::debug("supervisor keeps a capability",
               {{"capability", policy::capability_name(k.cap)}, {"why", k.why}});
  }
  log::info("supervisor restricted",
            {{"capabilities_kept", kept},
             {"seccomp", "filter of " + std::to_string(restriction->seccomp.entries.size()) +
                             " rules (mount family, bpf, perf_event_open, userfaultfd, kexec, "
                             "modules, new namespaces, ptrace)"},
             {"no_new_privs", true}});
  return {};
}

}  // namespace openshell
