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
#include <cstddef>
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

// One past the highest address family this list was written against
// (AF_MCTP = 45 is the last in Linux 6.18's linux/socket.h).
constexpr uint64_t kAfMax = 46;

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
                           "pidfd_getfd",        // take another process's descriptors
                           "process_madvise",    // act on another process's memory
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

  // Socket families: an allow-list. AF_UNIX, AF_INET, AF_INET6 and
  // AF_NETLINK with NETLINK_ROUTE, which `ip addr` and
  // getaddrinfo(AI_ADDRCONFIG) need (socket(2), netlink(7)). Raw link-layer,
  // VM and Bluetooth sockets and other netlink protocols are EPERM, as
  // OpenShell's list has them; every other family (AF_CAN, AF_TIPC, AF_RDS,
  // AF_KCM, AF_LLC, ...: each can make the kernel load a protocol module) is
  // EAFNOSUPPORT, what the kernel answers for a family it was built without,
  // so that programs probing for one take their usual fallback.
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
  for (uint64_t family = 0; family < kAfMax; ++family) {
    if (family == AF_UNIX || family == AF_INET || family == AF_INET6 || family == AF_NETLINK ||
        family == AF_PACKET || family == AF_VSOCK || family == AF_BLUETOOTH) {
      continue;
    }
    rules.push_back({"socket",
                     EAFNOSUPPORT,
                     {SCMP_A0(SCMP_CMP_MASKED_EQ, kLow32, family)},
                     "domain == " + std::to_string(family)});
  }
  // Families newer than this list, and any domain with bits in the upper
  // half (the kernel reads an int; refusing them costs no real caller).
  rules.push_back({"socket",
                   EAFNOSUPPORT,
                   {SCMP_A0(SCMP_CMP_GE, kAfMax)},
                   "domain >= " + std::to_string(kAfMax)});

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
  // A line discipline is kernel code chosen by the caller (n_gsm, n_hdlc,
  // slip: CVE-2023-6546, CVE-2017-2636); setting one loads its module.
  rules.push_back(
      {"ioctl", EPERM, {SCMP_A1(SCMP_CMP_MASKED_EQ, kLow32, TIOCSETD)}, "request == TIOCSETD"});

  return rules;
}

// personality(2) values a process may set: Docker's list (PER_LINUX,
// UNAME26, PER_LINUX32 and both, and the 0xffffffff query). Every other
// value is refused, ADDR_NO_RANDOMIZE (0x0040000) above all: it turns off
// ASLR for what the process execs next.
constexpr uint32_t kAllowedPersonas[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

// Every syscall number above this is newer than the filter: the last one
// reviewed is futex_requeue (456, Linux 6.7). Newer ones (statmount 457,
// listmount 458, the lsm_* calls, open_tree_attr ...) get ENOSYS, as runc's
// default does for syscalls its profile does not know: libc treats that as
// "not on this kernel" and falls back.
constexpr uint32_t kNewestReviewedSyscall = 456;
constexpr uint32_t kX32SyscallBit = 0x40000000;  // __X32_SYSCALL_BIT

// The first argument's low 32 bits inside struct seccomp_data (args at 16).
constexpr uint32_t kArg0Low = 16 + (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0 : 4);

// A few instructions run before libseccomp's program. It decides only
// the two rules libseccomp cannot express (a range of syscall numbers; an
// argument allow-list) and otherwise falls through to libseccomp's first
// instruction, so that program's own checks (architecture, x32) still
// decide everything else. Jumps are relative and only forward, so
// prepending keeps libseccomp's program intact.
std::vector<sock_filter> prelude(uint32_t native_arch, bool check_personality) {
  std::vector<sock_filter> p;
  auto stmt = [&](uint16_t code, uint32_t k) { p.push_back(BPF_STMT(code, k)); };
  // Jumps to "next" are patched once the prelude's length is known.
  std::vector<size_t> to_next;
  auto jump = [&](uint16_t code, uint32_t k, bool true_to_next, bool false_to_next) {
    p.push_back(BPF_JUMP(code, k, 0, 0));
    if (true_to_next || false_to_next) to_next.push_back(p.size() - 1);
    p.back().jt = true_to_next ? 0xff : 0;
    p.back().jf = false_to_next ? 0xff : 0;
  };
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  jump(BPF_JMP | BPF_JEQ | BPF_K, native_arch, false, true);  // foreign: libseccomp kills
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
  jump(BPF_JMP | BPF_JGE | BPF_K, kX32SyscallBit, true, false);  // x32: libseccomp kills
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, kNewestReviewedSyscall, 0, 1));
  stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  if (check_personality) {
    jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(SCMP_SYS(personality)), false, true);
    // The kernel takes persona as an unsigned int: the low half decides.
    stmt(BPF_LD | BPF_W | BPF_ABS, kArg0Low);
    for (uint32_t persona : kAllowedPersonas) jump(BPF_JMP | BPF_JEQ | BPF_K, persona, true, false);
    stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
  }
  for (size_t at : to_next) {
    size_t distance = p.size() - at - 1;  // to the instruction after the prelude
    if (p[at].jt == 0xff) p[at].jt = static_cast<uint8_t>(distance);
    if (p[at].jf == 0xff) p[at].jf = static_cast<uint8_t>(distance);
  }
  return p;
}

std::string errno_name(int err) {
  switch (err) {
    case EPERM:
      return "EPERM";
    case ENOSYS:
      return "ENOSYS";
    case EAFNOSUPPORT:
      return "EAFNOSUPPORT";
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
    out.push_back("personality");  // decided in the prelude
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
  bool check_personality =
      std::find(policy.unsafe_allow.begin(), policy.unsafe_allow.end(), "personality") ==
      policy.unsafe_allow.end();
  if (check_personality) {
    plan.entries.push_back(
        {"personality", "EPERM", "persona not in {0, 0x8, 0x20000, 0x20008, 0xffffffff}"});
  }
  plan.entries.push_back({"(any syscall number above " + std::to_string(kNewestReviewedSyscall) +
                              ", newer than this filter: statmount, listmount, ...)",
                          "ENOSYS", ""});

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
  plan.program = prelude(seccomp_arch_native(), check_personality);
  size_t head = plan.program.size();
  plan.program.resize(head + static_cast<size_t>(st.st_size) / sizeof(sock_filter));
  ssize_t got = pread(fd, plan.program.data() + head, static_cast<size_t>(st.st_size), 0);
  if (got != st.st_size) return policy_error("seccomp", "short read of the exported BPF program");
  // BPF_MAXINSNS: the kernel refuses longer classic programs (filter.h).
  if (plan.program.size() > BPF_MAXINSNS) {
    return policy_error("seccomp", "BPF program of " + std::to_string(plan.program.size()) +
                                       " instructions exceeds BPF_MAXINSNS");
  }
  return plan;
}

}  // namespace openshell::policy
