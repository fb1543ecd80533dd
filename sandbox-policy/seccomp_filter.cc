// The seccomp deny list (DESIGN.md §6), compiled with libseccomp and exported
// as classic BPF. Default action: allow. What is denied is what lets a
// process leave or weaken the sandbox, attack the kernel through rarely
// needed interfaces, or act on the host.
#include "seccomp_filter.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace openshell::policy {
namespace {

// clone(2) namespace flags. CLONE_NEWTIME (0x80) shares its bit with the
// exit signal in clone(), so it is only checked for unshare(2).
constexpr uint64_t kCloneNewFlags[] = {CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                       CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET};
constexpr uint64_t kCloneNewTime = 0x00000080;  // CLONE_NEWTIME, linux/sched.h (5.6)

// 32-bit arguments (int, unsigned int) are compared on their low 32 bits
// only: the kernel truncates them, so a caller could otherwise set the upper
// half to slip past an equality test.
constexpr uint64_t kLow32 = 0xffffffffu;

struct Rule {
  std::string syscall;
  int err = EPERM;                  // errno returned
  std::vector<scmp_arg_cmp> conds;  // all must hold; empty: always
  std::string condition;            // the same, for humans
};

Rule always(const char* name, int err = EPERM) {
  return {name, err, {}, ""};
}

std::vector<Rule> builtin_rules() {
  std::vector<Rule> rules;
  // Unconditional: not needed by agents' tools, each a known escape or
  // kernel attack surface (OpenShell's list, Docker's default profile).
  for (const char* name : {"ptrace",
                           "process_vm_readv",
                           "process_vm_writev",  // read/alter other processes
                           "bpf",
                           "perf_event_open",
                           "userfaultfd",  // kernel attack surface
                           "mount",
                           "umount2",
                           "move_mount",
                           "open_tree",
                           "fsopen",
                           "fsconfig",
                           "fsmount",
                           "fspick",
                           "mount_setattr",
                           "pivot_root",
                           "chroot",  // reshape the mount view
                           "setns",   // join another namespace
                           "io_uring_setup",
                           "io_uring_enter",
                           "io_uring_register",  // bypasses seccomp checks
                           "memfd_create",
                           "memfd_secret",  // fileless executables
                           "kexec_load",
                           "kexec_file_load",
                           "init_module",
                           "finit_module",
                           "delete_module",
                           "keyctl",
                           "add_key",
                           "request_key",  // kernel keyrings are not namespaced
                           "open_by_handle_at",
                           "name_to_handle_at",  // CVE-2014-3519 ("shocker")
                           "acct",
                           "swapon",
                           "swapoff",
                           "reboot",
                           "settimeofday",
                           "clock_settime",
                           "clock_adjtime",
                           "adjtimex",
                           "quotactl",
                           "quotactl_fd",
                           "lookup_dcookie",
                           "vhangup",
                           "nfsservctl",
                           "iopl",
                           "ioperm",
                           "uselib"}) {
    rules.push_back(always(name));
  }
  // clone3 passes its flags in memory that seccomp cannot inspect; ENOSYS
  // makes glibc fall back to clone(2), whose flags are checked below
  // (glibc sysdeps/unix/sysv/linux/clone-internal.c).
  rules.push_back(always("clone3", ENOSYS));

  // New namespaces: a user namespace needs no privilege and gives a full
  // capability set over new mounts and network stacks (user_namespaces(7)).
  // Threads and fork (CLONE_VM, SIGCHLD, ...) stay allowed.
  auto hex = [](uint64_t v) {
    char buf[24];
    snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return std::string(buf);
  };
  for (uint64_t flag : kCloneNewFlags) {
    rules.push_back(
        {"clone", EPERM, {SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)}, "flags & " + hex(flag)});
  }
  for (uint64_t flag : kCloneNewFlags) {
    rules.push_back(
        {"unshare", EPERM, {SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)}, "flags & " + hex(flag)});
  }
  rules.push_back({"unshare",
                   EPERM,
                   {SCMP_A0(SCMP_CMP_MASKED_EQ, kCloneNewTime, kCloneNewTime)},
                   "flags & CLONE_NEWTIME"});

  // Raw link-layer, VM and Bluetooth sockets; netlink except routing, which
  // `ip addr` and getaddrinfo(AI_ADDRCONFIG) need (socket(2), netlink(7)).
  rules.push_back(
      {"socket", EPERM, {SCMP_A0(SCMP_CMP_MASKED_EQ, kLow32, AF_PACKET)}, "domain == AF_PACKET"});
  rules.push_back(
      {"socket", EPERM, {SCMP_A0(SCMP_CMP_MASKED_EQ, kLow32, AF_VSOCK)}, "domain == AF_VSOCK"});
  rules.push_back({"socket",
                   EPERM,
                   {SCMP_A0(SCMP_CMP_MASKED_EQ, kLow32, AF_BLUETOOTH)},
                   "domain == AF_BLUETOOTH"});
  rules.push_back(
      {"socket",
       EPERM,
       {SCMP_A0(SCMP_CMP_MASKED_EQ, kLow32, AF_NETLINK), SCMP_A2(SCMP_CMP_NE, NETLINK_ROUTE)},
       "domain == AF_NETLINK && protocol != NETLINK_ROUTE"});

  // A second filter cannot loosen ours, but OpenShell forbids installing
  // one and so do we: a filter with SECCOMP_RET_USER_NOTIF or TRACE hands
  // syscall decisions to another process (seccomp(2)).
  rules.push_back({"seccomp",
                   EPERM,
                   {SCMP_A0(SCMP_CMP_MASKED_EQ, kLow32, SECCOMP_SET_MODE_FILTER)},
                   "op == SECCOMP_SET_MODE_FILTER"});
  rules.push_back({"prctl",
                   EPERM,
                   {SCMP_A0(SCMP_CMP_MASKED_EQ, kLow32, PR_SET_SECCOMP)},
                   "option == PR_SET_SECCOMP"});

  // Injecting input into a terminal that a more privileged reader shares
  // (CVE-2017-5226 for TIOCSTI; TIOCLINUX can do the same on a VT).
  rules.push_back(
      {"ioctl", EPERM, {SCMP_A1(SCMP_CMP_MASKED_EQ, kLow32, TIOCSTI)}, "request == TIOCSTI"});
  rules.push_back(
      {"ioctl", EPERM, {SCMP_A1(SCMP_CMP_MASKED_EQ, kLow32, TIOCLINUX)}, "request == TIOCLINUX"});

  // personality(2) flags that turn off ASLR or map page zero. 0xffffffff is
  // the query and has bit 31 set, which no real persona does: the mask
  // includes bit 31 so the query still passes.
  for (auto [flag, text] :
       {std::pair<uint64_t, const char*>{ADDR_NO_RANDOMIZE, "persona & ADDR_NO_RANDOMIZE"},
        {MMAP_PAGE_ZERO, "persona & MMAP_PAGE_ZERO"},
        {READ_IMPLIES_EXEC, "persona & READ_IMPLIES_EXEC"}}) {
    rules.push_back(
        {"personality", EPERM, {SCMP_A0(SCMP_CMP_MASKED_EQ, flag | 0x80000000u, flag)}, text});
  }
  return rules;
}

std::string errno_name(int err) {
  switch (err) {
    case EPERM:
      return "EPERM";
    case ENOSYS:
      return "ENOSYS";
    default:
      return "errno " + std::to_string(err);
  }
}

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

}  // namespace

const std::vector<std::string>& default_denied_syscalls() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Rule& r : builtin_rules()) {
      if (std::find(out.begin(), out.end(), r.syscall) == out.end()) out.push_back(r.syscall);
    }
    return out;
  }();
  return names;
}

bool is_known_syscall(const std::string& name) {
  return seccomp_syscall_resolve_name(name.c_str()) != __NR_SCMP_ERROR;
}

PolicyResult<SeccompPlan> build_seccomp_plan(const Policy::Seccomp& policy) {
  SeccompPlan plan;
  std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return policy_error("seccomp", "seccomp_init failed");
  // Only the native architecture is in the filter. Any other one (i386 via
  // int 0x80 on x86_64) takes the bad-architecture action; libseccomp also
  // sends x32 syscalls (nr | 0x40000000 under AUDIT_ARCH_X86_64) there when
  // x32 is not in the filter. Old ABIs bypass a native-only deny list, so
  // the process is killed (seccomp(2), "Caveats").
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
      rc != 0) {
    return policy_error("seccomp", std::string("cannot set bad-arch action: ") + strerror(-rc));
  }

  // A binary search over syscall numbers instead of a linear list: every
  // syscall not decided by the kernel's action cache walks the filter, so
  // its length is the per-syscall cost (libseccomp 2.5, seccomp_attr_set(3)).
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2); rc != 0) {
    return policy_error("seccomp",
                        std::string("cannot select the binary-tree filter: ") + strerror(-rc));
  }

  std::vector<Rule> rules;
  for (Rule& r : builtin_rules()) {
    if (std::find(policy.unsafe_allow.begin(), policy.unsafe_allow.end(), r.syscall) ==
        policy.unsafe_allow.end()) {
      rules.push_back(std::move(r));
    }
  }
  for (const std::string& name : policy.deny) rules.push_back(always(name.c_str()));

  for (const Rule& r : rules) {
    int nr = seccomp_syscall_resolve_name(r.syscall.c_str());
    if (nr == __NR_SCMP_ERROR) {
      plan.notes.push_back("seccomp: '" + r.syscall + "' unknown to libseccomp; not filtered");
      continue;
    }
    int rc = seccomp_rule_add_array(ctx.get(), SCMP_ACT_ERRNO(r.err), nr,
                                    static_cast<unsigned>(r.conds.size()), r.conds.data());
    if (rc == -EEXIST) continue;  // an unconditional rule already covers it
    if (rc != 0) {
      return policy_error("seccomp", "cannot add rule for " + r.syscall + ": " + strerror(-rc));
    }
    plan.entries.push_back({r.syscall, errno_name(r.err), r.condition});
  }
  plan.entries.push_back({"(any syscall of a foreign ABI: i386, x32)", "KILL_PROCESS", ""});

  // Export through a memfd: libseccomp writes the program to an fd.
  int fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
  if (fd < 0) return policy_error("seccomp", std::string("memfd_create: ") + strerror(errno));
  std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { close(*f); });
  if (int rc = seccomp_export_bpf(ctx.get(), fd); rc != 0) {
    return policy_error("seccomp", std::string("seccomp_export_bpf: ") + strerror(-rc));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size % sizeof(sock_filter) != 0) {
    return policy_error("seccomp", "exported BPF program has a bad size");
  }
  plan.program.resize(static_cast<size_t>(st.st_size) / sizeof(sock_filter));
  ssize_t got = pread(fd, plan.program.data(), static_cast<size_t>(st.st_size), 0);
  if (got != st.st_size) return policy_error("seccomp", "short read of the exported BPF program");
  // BPF_MAXINSNS: the kernel refuses longer classic programs (filter.h).
  if (plan.program.size() > BPF_MAXINSNS) {
    return policy_error("seccomp", "BPF program of " + std::to_string(plan.program.size()) +
                                       " instructions exceeds BPF_MAXINSNS");
  }
  return plan;
}

}  // namespace openshell::policy
