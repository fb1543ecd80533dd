#include "supervisor_restriction.h"

#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>

#include "seccomp_bpf.h"
#include "seccomp_filter.h"

namespace openshell::policy {
namespace {

// Nothing the supervisor does after start-up needs these: the sandbox is
// built (mounts, namespaces, id maps), the listeners are bound, and every
// process it runs is started by the sandbox init. Each is a way to reach
// the kernel or the host from a compromised supervisor.
constexpr const char* kDenied[] = {
    // the mount family and the root
    "mount", "umount2", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    "mount_setattr", "pivot_root", "chroot",
    // kernel attack surface
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register",
    // the host itself
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "iopl", "ioperm",
    // other processes' memory and descriptors
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise",
    // new namespaces
    "unshare",
    // CVE-2014-3519: with CAP_DAC_READ_SEARCH, any inode by handle
    "open_by_handle_at", "name_to_handle_at",
    // kernel keyrings are not namespaced
    "keyctl", "add_key", "request_key"};

}  // namespace

PolicyResult<SupervisorRestriction> build_supervisor_restriction(bool separate_network) {
  SupervisorRestriction r;
  r.kept.push_back({CAP_KILL,
                    "signal the sandbox init, which runs under its own uid (shutdown, the "
                    "SIGKILL that ends the sandbox)"});
  r.kept.push_back({CAP_DAC_READ_SEARCH,
                    "read what start-up cannot open in advance: the egress proxy lists "
                    "/proc/<pid>/fd of sandbox processes (mode 0500, the sandbox uid) to name "
                    "a caller; reloaded keys and policy"});
  r.kept.push_back({CAP_NET_BIND_SERVICE,
                    "a capture listener under port 1024 that a reloaded policy names, in the "
                    "sandbox's network namespace"});
  if (separate_network) {
    r.kept.push_back({CAP_SYS_ADMIN,
                      "setns(CLONE_NEWNET) into the sandbox's network namespace and back, to "
                      "dial loopback there for direct-tcpip and to open listeners "
                      "(the seccomp filter allows setns for network namespaces only)"});
  }
  for (const auto& k : r.kept) r.keep_mask |= 1ull << k.cap;

  std::vector<SyscallRule> rules;
  auto add = [&](const char* name, std::vector<ArgTest> tests, std::string condition) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr < 0) {  // unknown, or libseccomp's number for another architecture's syscall
      r.seccomp.notes.push_back(std::string("'") + name + "' is not a syscall here; not filtered");
      return;
    }
    rules.push_back({nr, SECCOMP_RET_ERRNO | EPERM, std::move(tests)});
    r.seccomp.entries.push_back({name, "EPERM", std::move(condition)});
  };
  for (const char* name : kDenied) add(name, {}, "");
  add("clone", {{0, Compare::kNe, 0, kCloneNewNamespaces}}, "flags & CLONE_NEW*");
  // setns: network namespaces only, and only when the sandbox has one. An
  // nstype of 0 would accept any namespace the fd names, so it is refused.
  if (separate_network) {
    // Every nstype but CLONE_NEWNET, as a pair of ranges (below, above).
    add("setns", {{1, Compare::kLt, CLONE_NEWNET}}, "nstype != CLONE_NEWNET");
    add("setns", {{1, Compare::kGt, CLONE_NEWNET}}, "nstype != CLONE_NEWNET");
  } else {
    add("setns", {}, "");
  }
  // Any other architecture, and x32, kills the process, as in the sandbox.
  auto program = compile_seccomp_bpf(rules, {seccomp_arch_native(), {}, std::nullopt});
  if (!program) return std::unexpected(program.error());
  r.seccomp.program = std::move(*program);
  return r;
}

}  // namespace openshell::policy
