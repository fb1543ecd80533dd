#include "supervisor_restriction.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>

namespace openshell::policy {
namespace {

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

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

// clone(2) flags that make a namespace; threads and fork stay allowed.
constexpr uint64_t kCloneNewFlags[] = {CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                       CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET};

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

  std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return policy_error("supervisor seccomp", "seccomp_init failed");
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
      rc != 0) {
    return policy_error("supervisor seccomp", std::string("bad-arch action: ") + strerror(-rc));
  }
  auto add = [&](const char* name, unsigned count, const scmp_arg_cmp* conds,
                 std::string condition) -> PolicyResult<void> {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) {
      r.seccomp.notes.push_back(std::string("'") + name + "' unknown to libseccomp; not filtered");
      return {};
    }
    int rc = seccomp_rule_add_array(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, count, conds);
    if (rc != 0 && rc != -EEXIST) {
      return policy_error("supervisor seccomp",
                          std::string("rule for ") + name + ": " + strerror(-rc));
    }
    r.seccomp.entries.push_back({name, "EPERM", std::move(condition)});
    return {};
  };
  for (const char* name : kDenied) {
    if (auto added = add(name, 0, nullptr, ""); !added) return std::unexpected(added.error());
  }
  for (uint64_t flag : kCloneNewFlags) {
    scmp_arg_cmp cond = SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag);
    if (auto added = add("clone", 1, &cond, "flags & CLONE_NEW*"); !added) {
      return std::unexpected(added.error());
    }
  }
  // setns: network namespaces only, and only when the sandbox has one. An
  // nstype of 0 would accept any namespace the fd names, so it is refused.
  if (separate_network) {
    // Every nstype but CLONE_NEWNET, as a pair of ranges (below, above).
    scmp_arg_cmp below = SCMP_A1(SCMP_CMP_LT, CLONE_NEWNET);
    scmp_arg_cmp above = SCMP_A1(SCMP_CMP_GT, CLONE_NEWNET);
    if (auto added = add("setns", 1, &below, "nstype != CLONE_NEWNET"); !added) {
      return std::unexpected(added.error());
    }
    if (auto added = add("setns", 1, &above, "nstype != CLONE_NEWNET"); !added) {
      return std::unexpected(added.error());
    }
  } else if (auto added = add("setns", 0, nullptr, ""); !added) {
    return std::unexpected(added.error());
  }

  int fd = memfd_create("supervisor-seccomp", MFD_CLOEXEC);
  if (fd < 0) return policy_error("supervisor seccomp", std::string("memfd_create: ") + strerror(errno));
  std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { close(*f); });
  if (int rc = seccomp_export_bpf(ctx.get(), fd); rc != 0) {
    return policy_error("supervisor seccomp", std::string("export: ") + strerror(-rc));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size % sizeof(sock_filter) != 0) {
    return policy_error("supervisor seccomp", "exported BPF program has a bad size");
  }
  r.seccomp.program.resize(static_cast<size_t>(st.st_size) / sizeof(sock_filter));
  if (pread(fd, r.seccomp.program.data(), static_cast<size_t>(st.st_size), 0) != st.st_size) {
    return policy_error("supervisor seccomp", "short read of the exported BPF program");
  }
  return r;
}

}  // namespace openshell::policy
