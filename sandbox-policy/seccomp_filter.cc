// The seccomp deny list (DESIGN.md §6), compiled to classic BPF by
// seccomp_bpf.cc; libseccomp names the syscalls. Default action: allow.
// What is denied is what lets a process leave or weaken the sandbox, attack
// the kernel through rarely needed interfaces, or act on the host.
#include "seccomp_filter.h"

#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "seccomp_bpf.h"

namespace openshell::policy {
namespace {

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
  int err = EPERM;             // errno returned
  std::vector<ArgTest> tests;  // all must hold; empty: always
  std::string condition;       // the same, for humans
};

// An int argument equal to `v` (its low half: the kernel truncates).
ArgTest int_is(unsigned arg, uint64_t v) {
  return {arg, Compare::kEq, v, kLow32};
}

// A flags argument with any of `flags` set.
ArgTest any_flag(unsigned arg, uint64_t flags) {
  return {arg, Compare::kNe, 0, flags};
}

std::string hex(uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

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
  // One test for all the flags: (flags & any of them) != 0.
  rules.push_back({"clone",
                   EPERM,
                   {any_flag(0, kCloneNewNamespaces)},
                   "flags & CLONE_NEW* (" + hex(kCloneNewNamespaces) + ")"});
  rules.push_back({"unshare",
                   EPERM,
                   {any_flag(0, kCloneNewNamespaces | kCloneNewTime)},
                   "flags & CLONE_NEW* (" + hex(kCloneNewNamespaces | kCloneNewTime) + ")"});

  // Socket families: an allow-list. AF_UNIX, AF_INET, AF_INET6 and
  // AF_NETLINK with NETLINK_ROUTE, which `ip addr` and
  // getaddrinfo(AI_ADDRCONFIG) need (socket(2), netlink(7)). Raw link-layer,
  // VM and Bluetooth sockets and other netlink protocols are EPERM, as
  // OpenShell's list has them; every other family (AF_CAN, AF_TIPC, AF_RDS,
  // AF_KCM, AF_LLC, ...: each can make the kernel load a protocol module) is
  // EAFNOSUPPORT, what the kernel answers for a family it was built without,
  // so that programs probing for one take their usual fallback.
  rules.push_back({"socket", EPERM, {int_is(0, AF_PACKET)}, "domain == AF_PACKET"});
  rules.push_back({"socket", EPERM, {int_is(0, AF_VSOCK)}, "domain == AF_VSOCK"});
  rules.push_back({"socket", EPERM, {int_is(0, AF_BLUETOOTH)}, "domain == AF_BLUETOOTH"});
  rules.push_back({"socket",
                   EPERM,
                   {int_is(0, AF_NETLINK), {2, Compare::kNe, NETLINK_ROUTE}},
                   "domain == AF_NETLINK && protocol != NETLINK_ROUTE"});
  for (uint64_t family = 0; family < kAfMax; ++family) {
    if (family == AF_UNIX || family == AF_INET || family == AF_INET6 || family == AF_NETLINK ||
        family == AF_PACKET || family == AF_VSOCK || family == AF_BLUETOOTH) {
      continue;
    }
    rules.push_back(
        {"socket", EAFNOSUPPORT, {int_is(0, family)}, "domain == " + std::to_string(family)});
  }
  // Families newer than this list, and any domain with bits in the upper
  // half (the kernel reads an int; refusing them costs no real caller).
  rules.push_back(
      {"socket", EAFNOSUPPORT, {{0, Compare::kGe, kAfMax}}, "domain >= " + std::to_string(kAfMax)});

  // A second filter cannot loosen ours, but OpenShell forbids installing
  // one and so do we: a filter with SECCOMP_RET_USER_NOTIF or TRACE hands
  // syscall decisions to another process (seccomp(2)).
  rules.push_back(
      {"seccomp", EPERM, {int_is(0, SECCOMP_SET_MODE_FILTER)}, "op == SECCOMP_SET_MODE_FILTER"});
  rules.push_back({"prctl", EPERM, {int_is(0, PR_SET_SECCOMP)}, "option == PR_SET_SECCOMP"});

  // Injecting input into a terminal that a more privileged reader shares
  // (CVE-2017-5226 for TIOCSTI; TIOCLINUX can do the same on a VT).
  rules.push_back({"ioctl", EPERM, {int_is(1, TIOCSTI)}, "request == TIOCSTI"});
  rules.push_back({"ioctl", EPERM, {int_is(1, TIOCLINUX)}, "request == TIOCLINUX"});
  // A line discipline is kernel code chosen by the caller (n_gsm, n_hdlc,
  // slip: CVE-2023-6546, CVE-2017-2636); setting one loads its module.
  rules.push_back({"ioctl", EPERM, {int_is(1, TIOCSETD)}, "request == TIOCSETD"});

  // personality(2) values a process may set: Docker's list (PER_LINUX,
  // UNAME26, PER_LINUX32 and both, and the 0xffffffff query). Every other
  // value is refused, ADDR_NO_RANDOMIZE (0x0040000) above all: it turns off
  // ASLR for what the process execs next. The kernel takes an unsigned int.
  Rule persona{"personality", EPERM, {}, "persona not in {0, 0x8, 0x20000, 0x20008, 0xffffffff}"};
  for (uint64_t allowed : {0x0u, 0x8u, 0x20000u, 0x20008u, 0xffffffffu}) {
    persona.tests.push_back({0, Compare::kNe, allowed, kLow32});
  }
  rules.push_back(std::move(persona));
  return rules;
}

// Every syscall number above this is newer than the filter: the last one
// reviewed is futex_requeue (456, Linux 6.7). Newer ones (statmount 457,
// listmount 458, the lsm_* calls, open_tree_attr ...) get ENOSYS, as runc's
// default does for syscalls its profile does not know: libc treats that as
// "not on this kernel" and falls back.
constexpr uint32_t kNewestReviewedSyscall = 456;

// The syscalls with rules that processes make most, tested first: every
// call of theirs runs the filter, as the kernel's action cache cannot
// answer for a syscall whose verdict depends on an argument, or is a
// denial. Counted with strace -f -c over git status and log, python3 and
// node starting a child, grep -r and ls: ioctl 65 (isatty and terminal
// modes), clone 8 and clone3 6 (each fork tries clone3 first and takes
// ENOSYS), socket 4, prctl 0 (threads naming themselves).
std::vector<int> first_tested() {
  std::vector<int> nrs;
  for (const char* name : {"ioctl", "clone3", "clone", "socket", "prctl"}) {
    nrs.push_back(seccomp_syscall_resolve_name(name));
  }
  return nrs;
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

SeccompRules seccomp_rules(const Policy::Seccomp& policy) {
  auto listed = [](const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  std::vector<Rule> rules;
  for (Rule& r : builtin_rules()) {
    if (!listed(policy.unsafe_allow, r.syscall)) rules.push_back(std::move(r));
  }
  for (const std::string& name : policy.deny) rules.push_back(always(name.c_str()));

  // An unconditional rule decides its syscall alone (seccomp_bpf.h), so
  // the entries leave out the conditional rules it overrides.
  std::vector<std::string> unconditional;
  for (const Rule& r : rules) {
    if (r.tests.empty()) unconditional.push_back(r.syscall);
  }
  SeccompRules out;
  std::vector<std::string> done;  // unconditional rules already taken
  for (const Rule& r : rules) {
    if (r.tests.empty() ? listed(done, r.syscall) : listed(unconditional, r.syscall)) continue;
    if (r.tests.empty()) done.push_back(r.syscall);
    int nr = seccomp_syscall_resolve_name(r.syscall.c_str());
    if (nr == __NR_SCMP_ERROR) {
      out.notes.push_back("seccomp: '" + r.syscall + "' unknown to libseccomp; not filtered");
      continue;
    }
    if (nr < 0) {  // libseccomp's number for a syscall of another architecture
      out.notes.push_back("seccomp: '" + r.syscall + "' is not a syscall here; not filtered");
      continue;
    }
    if (static_cast<uint32_t>(nr) > kNewestReviewedSyscall) {
      out.notes.push_back("seccomp: '" + r.syscall + "' is newer than the filter: ENOSYS");
      continue;
    }
    out.rules.push_back({nr, SECCOMP_RET_ERRNO | static_cast<uint32_t>(r.err), r.tests});
    out.entries.push_back({r.syscall, errno_name(r.err), r.condition});
  }
  return out;
}

PolicyResult<SeccompPlan> build_seccomp_plan(const Policy::Seccomp& policy) {
  SeccompRules rules = seccomp_rules(policy);
  // Only the native architecture is in the filter. Any other one (i386 via
  // int 0x80 on x86_64), and x32 (nr | 0x40000000 under AUDIT_ARCH_X86_64),
  // kills the process: old ABIs bypass a native-only deny list (seccomp(2),
  // "Caveats").
  auto program = compile_seccomp_bpf(
      rules.rules, {seccomp_arch_native(), first_tested(), kNewestReviewedSyscall});
  if (!program) return std::unexpected(program.error());
  SeccompPlan plan;
  plan.program = std::move(*program);
  plan.entries = std::move(rules.entries);
  plan.notes = std::move(rules.notes);
  plan.entries.push_back({"(any syscall of a foreign ABI: i386, x32)", "KILL_PROCESS", ""});
  plan.entries.push_back({"(any syscall number above " + std::to_string(kNewestReviewedSyscall) +
                              ", newer than this filter: statmount, listmount, ...)",
                          "ENOSYS", ""});
  return plan;
}

}  // namespace openshell::policy
