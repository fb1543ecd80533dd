// Escape attempts against the real sandbox. Each test starts the real
// supervisor (PID 1 of a fresh PID namespace, see harness.h) with the probe
// (probe.cc) as the main process, and asserts the exact outcome the probe
// reports: the errno a denied call returns, or the signal that killed it.
// Positive tests show that an agent's ordinary work still works.
//
// Security suites never skip quietly: where this kernel lacks a feature a
// test needs, the test is skipped with the reason, and with
// OPENSHELL_TESTS_MUST_WORK=1 (tests/run-all.sh) it fails instead.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "harness.h"

namespace openshell::test {
namespace {

using namespace std::chrono_literals;

// The sandbox identity of every test policy (process.run_as_user).
constexpr uid_t kSandboxUid = 1000;
constexpr gid_t kSandboxGid = 1000;

// --- Kernel features ---------------------------------------------------------

bool must_work() {
  const char* value = std::getenv("OPENSHELL_TESTS_MUST_WORK");
  return value != nullptr && std::string(value) == "1";
}

// Skips with the reason, or fails where a missing feature must not pass.
#define REQUIRE_FEATURE(available, reason)                           \
  do {                                                               \
    if (!(available)) {                                              \
      if (must_work()) FAIL() << "needed but missing: " << (reason); \
      GTEST_SKIP() << "needed but missing: " << (reason);            \
    }                                                                \
  } while (0)

// landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) returns
// the ABI (landlock(7)); 444 is its number on every architecture.
int landlock_abi() {
  long abi = ::syscall(444, nullptr, 0, 1u);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

// Runs `attempt` in a forked child; true when it exits 0.
template <typename F>
bool works_in_child(F attempt) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(attempt() ? 0 : 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool user_namespaces_work() {
  return works_in_child([] { return ::unshare(CLONE_NEWUSER) == 0; });
}

// The i386 ABI is reachable only with CONFIG_IA32_EMULATION (and not
// disabled by ia32_emulation=0): otherwise int 0x80 raises SIGSEGV before
// seccomp sees anything.
bool ia32_emulation_works() {
  return works_in_child([] {
    long rc;
    asm volatile("int $0x80" : "=a"(rc) : "a"(20L) : "memory");  // getpid
    return rc == ::getpid();
  });
}

// --- The world the sandbox is built from ---------------------------------------

// The probe as built, and its copy under the world's base directory: the
// build tree may sit under /tmp, which the sandbox never sees.
std::string built_probe() {
  const char* path = std::getenv("ESCAPE_PROBE");
  if (path == nullptr) throw std::runtime_error("ESCAPE_PROBE is not set");
  return path;
}

std::string installed_probe;

std::string probe_binary() {
  return installed_probe.empty() ? built_probe() : installed_probe;
}

void must(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what + ": " + std::strerror(errno));
}

void copy_binary(const std::string& from, const std::string& to, uid_t owner, mode_t mode) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  must(::chown(to.c_str(), owner, owner) == 0, "chown " + to);
  // chmod after chown: chown(2) clears the set-user-ID bit.
  must(::chmod(to.c_str(), mode) == 0, "chmod " + to);
}

// Files and policies shared by every test. They live under /var/tmp, not
// /tmp: the sandbox's /tmp is a private tmpfs, so nothing under the host's
// /tmp is visible inside (sandbox-policy/fs_tree.cc).
struct World {
  std::string base;            // 0755, removed at the end
  std::string workdir;         // the sandbox's workdir, owned by the sandbox uid
  std::string readable;        // granted read-only by the policies: note = "visible"
  std::string unlisted;        // in no policy: secret = "outside the policy"
  std::string suid;            // granted read-only: setuid and file-capability copies
  std::string overlay;         // a mount point for the supervisor-only test
  std::string policy;          // pod network, hard Landlock, uid 1000
  std::string policy_none;     // the same with network.mode none
  std::string policy_root;     // the same with user_namespace.root_in_sandbox
  std::string policy_secrets;  // the same with /opt and /run readable
  std::string policy_best_effort;       // policy with landlock best_effort
  std::string policy_best_effort_none;  // the same with network.mode none

  void create() {
    base = "/var/tmp/openshell-escape-XXXXXX";
    must(::mkdtemp(base.data()) != nullptr, "mkdtemp");
    must(::chmod(base.c_str(), 0755) == 0, "chmod " + base);
    workdir = base + "/work";
    readable = base + "/readable";
    unlisted = base + "/unlisted";
    suid = base + "/suid";
    overlay = base + "/overlay";
    for (const auto& dir : {workdir, readable, unlisted, suid, overlay, base + "/bin"}) {
      must(::mkdir(dir.c_str(), 0755) == 0, "mkdir " + dir);
    }
    copy_binary(built_probe(), base + "/bin/probe", 0, 0755);
    installed_probe = base + "/bin/probe";
    must(::chown(workdir.c_str(), kSandboxUid, kSandboxGid) == 0, "chown " + workdir);
    write_file(readable + "/note", "visible", 0644);
    write_file(unlisted + "/secret", "outside the policy", 0644);
    copy_binary(probe_binary(), suid + "/probe-setuid-root", 0, 04755);
    copy_binary(probe_binary(), suid + "/probe-file-caps", 0, 0755);
    set_file_capability(suid + "/probe-file-caps", CAP_SYS_ADMIN);

    policy = write_policy("policy.yaml", "pod", false, {});
    policy_none = write_policy("policy-none.yaml", "none", false, {});
    policy_root = write_policy("policy-root.yaml", "pod", true, {});
    policy_secrets = write_policy("policy-secrets.yaml", "pod", false, {"/opt", "/run"});
    policy_best_effort = write_policy("policy-best-effort.yaml", "pod", false, {}, "best_effort");
    policy_best_effort_none =
        write_policy("policy-best-effort-none.yaml", "none", false, {}, "best_effort");
  }

  // security.capability, revision 2 (capabilities(7), "File capability
  // extended attribute versioning"): permitted and effective CAP.
  static void set_file_capability(const std::string& path, int cap) {
    vfs_cap_data data{};
    data.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
    data.data[cap / 32].permitted = 1u << (cap % 32);
    must(::setxattr(path.c_str(), "security.capability", &data, XATTR_CAPS_SZ_2, 0) == 0,
         "setxattr security.capability " + path);
  }

  std::string write_policy(const std::string& name, const std::string& network, bool root,
                           const std::vector<std::string>& extra_read_only,
                           const std::string& landlock = "hard_requirement") {
    std::string probe_dir = std::filesystem::path(probe_binary()).parent_path();
    std::ostringstream text;
    text << "version: 1\n"
         << "filesystem_policy:\n"
         << "  include_workdir: true\n"
         << "  read_only: [/usr, /proc, /dev/urandom, /etc, " << probe_dir << ", " << readable
         << ", " << suid;
    for (const auto& path : extra_read_only) text << ", " << path;
    text << "]\n"
         << "  read_write: [/tmp, /dev/null]\n"
         << "landlock: {compatibility: " << landlock << "}\n"
         << "network: {mode: " << network << "}\n"
         << "process: {run_as_user: \"" << kSandboxUid << "\", run_as_group: \"" << kSandboxGid
         << "\"}\n"
         << "user_namespace: {root_in_sandbox: " << (root ? "true" : "false") << "}\n";
    std::string path = base + "/" + name;
    write_file(path, text.str(), 0644);
    return path;
  }

  void destroy() {
    if (!base.empty()) remove_tree(base);
  }
};

World world;

class WorldEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { world.create(); }
  void TearDown() override { world.destroy(); }
};

const auto* const kWorldEnvironment = ::testing::AddGlobalTestEnvironment(new WorldEnvironment);

// --- Running the probe ----------------------------------------------------------

struct ProbeRun {
  std::string policy = world.policy;
  bool tty = false;
  std::string binary = probe_binary();
  std::function<bool()> before_exec;
  std::map<std::string, std::string> env;  // added to the supervisor's
};

struct Report {
  std::string result;  // "ok", "errno EPERM", "signal 31"
  std::string detail;
  RunResult run;

  // detail as KEY=VALUE words (the status and id_maps attempts).
  std::string field(const std::string& key) const {
    std::istringstream words(detail);
    std::string word;
    while (words >> word) {
      if (word.starts_with(key + "=")) return word.substr(key.size() + 1);
    }
    return "<no " + key + ">";
  }
};

std::ostream& operator<<(std::ostream& out, const Report& r) {
  return out << "result=" << r.result << " detail=" << r.detail << "\n--- stdout\n"
             << r.run.out << "\n--- stderr\n"
             << r.run.err;
}

// The probe's line for `attempt` in what a run printed.
Report parse_report(const std::string& attempt, RunResult run) {
  Report report;
  report.run = std::move(run);
  std::istringstream lines(report.run.out);
  std::string line, head = attempt + " result=";
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // a terminal's line ends
    if (!line.starts_with(head)) continue;
    auto detail = line.find(" detail=");
    report.result = line.substr(head.size(), detail - head.size());
    if (detail != std::string::npos) report.detail = line.substr(detail + 8);
  }
  if (report.result.empty()) report.result = "<no report>";
  return report;
}

// The probe as the main process of a sandbox.
Report probe(const std::string& attempt, std::vector<std::string> args = {},
             const ProbeRun& how = {}) {
  std::vector<std::string> command{how.binary, attempt};
  command.insert(command.end(), args.begin(), args.end());
  std::map<std::string, std::string> env = how.env;
  env["OPENSHELL_WORKDIR"] = world.workdir;
  Options options;
  if (how.tty) {
    std::string json = R"({"version":1,"tty":true,"command":[)";
    for (size_t i = 0; i < command.size(); ++i) json += (i ? ",\"" : "\"") + command[i] + "\"";
    env["OPENSHELL_MAIN_PROCESS_SPEC"] = json + "]}";
    options = supervisor({"--policy", how.policy}, env);
  } else {
    std::vector<std::string> argv{"--policy", how.policy, "--"};
    argv.insert(argv.end(), command.begin(), command.end());
    options = supervisor(argv, env);
  }
  options.before_exec = how.before_exec;
  return parse_report(attempt, run(options));
}

// The same binary with no sandbox at all, as the sandbox uid: what the
// attempt gains where nothing stops it. A control, so that a test cannot
// pass because its attempt could never have worked.
Report unsandboxed(const std::string& binary, const std::string& attempt,
                   std::vector<std::string> args = {}) {
  Options options;
  options.argv = {binary, attempt};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.new_pid_namespace = false;
  options.before_exec = [] {
    return ::setgroups(0, nullptr) == 0 &&
           ::setresgid(kSandboxGid, kSandboxGid, kSandboxGid) == 0 &&
           ::setresuid(kSandboxUid, kSandboxUid, kSandboxUid) == 0;
  };
  return parse_report(attempt, run(options));
}

// The probe ran (the supervisor exited with its exit code 0) and reported
// `expected`.
::testing::AssertionResult Reports(const Report& report, const std::string& expected) {
  if (report.run.exit_code == 0 && report.result == expected) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "expected " << expected << ", supervisor exit "
                                       << report.run.exit_code << ", " << report;
}

// Every escape test needs the sandbox itself.
class Escape : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_FEATURE(user_namespaces_work(), "user namespaces (unshare(CLONE_NEWUSER) fails)");
    REQUIRE_FEATURE(landlock_abi() >= 1, "Landlock (landlock_create_ruleset fails)");
  }
};

class Works : public Escape {};

// --- Processes outside the sandbox and the sandbox init -----------------------

// The sandbox's /proc is its own PID namespace's (proc(5)): the probe sees
// the sandbox init as PID 1 (named by PR_SET_NAME in sandbox_init.cc, parent
// 0: nothing above it is visible) and itself, never the supervisor.
TEST_F(Escape, OnlySandboxProcessesAreVisibleAndPidOneIsTheSandboxInit) {
  auto report = probe("proc_pids");
  ASSERT_TRUE(Reports(report, "ok"));
  std::istringstream entries(report.detail);
  std::string entry;
  std::map<std::string, std::string> comm_of;
  while (entries >> entry) {
    auto colon = entry.find(':');
    comm_of[entry.substr(0, colon)] = entry.substr(colon + 1);
  }
  EXPECT_EQ(comm_of["1"], "sandbox-init:0") << report;
  for (const auto& [pid, comm] : comm_of) {
    if (pid == "1") continue;
    EXPECT_EQ(comm, "probe:1") << "pid " << pid << " is not the probe: " << report;
  }
  EXPECT_EQ(comm_of.size(), 2u) << report;
}

// kill(-1) reaches every process the caller may signal except itself and
// init (kill(2)); in the sandbox there is none, so nothing outside is hit.
TEST_F(Escape, KillingEveryProcessReachesNothing) {
  auto report = probe("kill_everyone");
  EXPECT_TRUE(Reports(report, "errno ESRCH"));
}

// seccomp denies ptrace(2) outright with EPERM; the init is also
// non-dumpable (sandbox_init.cc).
TEST_F(Escape, PtraceOfTheSandboxInitIsDenied) {
  EXPECT_TRUE(Reports(probe("ptrace_init"), "errno EPERM"));
}

// A forked sibling has the same uid and Landlock domain and is dumpable:
// only the seccomp deny of ptrace stops the attach.
TEST_F(Escape, PtraceOfASiblingIsDenied) {
  EXPECT_TRUE(Reports(probe("ptrace_sibling"), "errno EPERM"));
}

TEST_F(Escape, ProcessVmReadvOfASiblingIsDenied) {
  EXPECT_TRUE(Reports(probe("process_vm_readv_sibling"), "errno EPERM"));
}

// /proc/PID/environ and mem need PTRACE_MODE_READ access to the target;
// mm_access() turns a refusal into EACCES (fs/proc/base.c). The init runs
// as the sandbox uid, in the sandbox's one Landlock domain (it restricts
// itself, sandbox_init.cc): what keeps the probe out is that the init is
// non-dumpable, which asks for CAP_SYS_PTRACE in the pod's user namespace
// (ptrace(2), "Ptrace access mode checking").
TEST_F(Escape, TheSandboxInitsEnvironmentCannotBeRead) {
  EXPECT_TRUE(Reports(probe("read_init_environ"), "errno EACCES"));
}

TEST_F(Escape, TheSandboxInitsMemoryCannotBeRead) {
  EXPECT_TRUE(Reports(probe("read_init_mem"), "errno EACCES"));
}

// The init's fds include the control socket to the supervisor.
TEST_F(Escape, TheSandboxInitsFileDescriptorsCannotBeListed) {
  EXPECT_TRUE(Reports(probe("list_init_fds"), "errno EACCES"));
}

// The init's fd 3 is its control socket to the supervisor. pidfd_getfd(2)
// needs PTRACE_MODE_ATTACH_REALCREDS over the target, refused with EPERM
// because the init is non-dumpable.
TEST_F(Escape, TheSandboxInitsControlSocketCannotBeTakenWithPidfdGetfd) {
  EXPECT_TRUE(Reports(probe("pidfd_getfd_init"), "errno EPERM"));
}

// With root_in_sandbox the probe runs as uid 0 inside, the uid of the init
// itself, so no uid check protects the init: its non-dumpable flag (which
// asks for CAP_SYS_PTRACE in the pod's user namespace, where the probe has
// none) must, with seccomp's deny of ptrace.
TEST_F(Escape, TheSandboxInitIsUnreachableFromRootInsideToo) {
  ProbeRun root{.policy = world.policy_root};
  EXPECT_TRUE(Reports(probe("read_init_environ", {}, root), "errno EACCES"));
  EXPECT_TRUE(Reports(probe("read_init_mem", {}, root), "errno EACCES"));
  EXPECT_TRUE(Reports(probe("list_init_fds", {}, root), "errno EACCES"));
  EXPECT_TRUE(Reports(probe("pidfd_getfd_init", {}, root), "errno EPERM"));
  EXPECT_TRUE(Reports(probe("ptrace_init", {}, root), "errno EPERM"));
}

// --- Signals ---------------------------------------------------------------------

// The init runs under an id of its own (userns_plan.cc), so kill(2) and
// pidfd_send_signal(2) from a sandbox process are refused with EPERM
// (kill(2): the sender's uid must match the target's). Even if they were
// allowed, the init of a PID namespace receives from inside only the
// signals it has a handler for (pid_namespaces(7)), and it has none. The
// supervisor's exit code 0 shows the init still reported the probe's exit.
TEST_F(Escape, TheSandboxInitSurvivesEverySignalFromInside) {
  for (const char* sig : {"KILL", "TERM", "INT", "HUP", "STOP", "SEGV"}) {
    auto report = probe("signal_init", {sig});
    EXPECT_TRUE(Reports(report, "errno EPERM")) << sig;
    EXPECT_EQ(report.detail, "init alive") << sig << ": " << report;
  }
  auto pidfd = probe("pidfd_signal_init", {"KILL"});
  EXPECT_TRUE(Reports(pidfd, "errno EPERM"));
  EXPECT_EQ(pidfd.detail, "init alive") << pidfd;
  EXPECT_TRUE(Reports(probe("signal_sibling"), "ok"));
}

// --- Landlock scopes (ABI 6): the supervisor is outside the sandbox's domain ---

// An abstract unix socket has no file to check permissions on; in network
// mode pod it is reachable from the sandbox unless Landlock's
// LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET refuses connect(2) with EPERM.
TEST_F(Escape, AbstractUnixSocketsOutsideTheSandboxAreRefused) {
  REQUIRE_FEATURE(landlock_abi() >= 6,
                  "Landlock ABI 6 (scopes); kernel has " + std::to_string(landlock_abi()));
  std::string name = "openshell-escape-" + std::to_string(::getpid());
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, name.data(), name.size());
  auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::listen(listener, 4), 0);

  EXPECT_TRUE(Reports(probe("abstract_connect", {name}), "errno EPERM"));
  // The same connect inside one sandbox process's domain works.
  EXPECT_TRUE(Reports(probe("abstract_within", {name + "-inside"}), "ok"));
  ::close(listener);
}

// --- Mounts and namespaces: the seccomp deny list ------------------------------------

TEST_F(Escape, MountIsDenied) {
  EXPECT_TRUE(Reports(probe("mount"), "errno EPERM"));
}

TEST_F(Escape, UmountIsDenied) {
  EXPECT_TRUE(Reports(probe("umount"), "errno EPERM"));
}

TEST_F(Escape, PivotRootIsDenied) {
  EXPECT_TRUE(Reports(probe("pivot_root"), "errno EPERM"));
}

TEST_F(Escape, ChrootIsDenied) {
  EXPECT_TRUE(Reports(probe("chroot"), "errno EPERM"));
}

// The new mount API (fsopen(2), open_tree(2)) reaches what mount(2) does.
TEST_F(Escape, TheNewMountApiIsDenied) {
  EXPECT_TRUE(Reports(probe("fsopen"), "errno EPERM"));
  EXPECT_TRUE(Reports(probe("open_tree"), "errno EPERM"));
}

// A new user namespace needs no privilege and would give a full capability
// set over new mounts and network stacks (user_namespaces(7)).
TEST_F(Escape, UnshareOfAUserNamespaceIsDenied) {
  EXPECT_TRUE(Reports(probe("unshare", {"user"}), "errno EPERM"));
}

TEST_F(Escape, CloneIntoAUserNamespaceIsDenied) {
  EXPECT_TRUE(Reports(probe("clone_user"), "errno EPERM"));
}

// Every other kind: CLONE_NEWTIME shares its bit with the exit signal in
// clone(2), so the filter checks it for unshare(2) only.
TEST_F(Escape, UnshareOfEveryOtherNamespaceIsDenied) {
  for (const char* ns : {"mnt", "net", "pid", "ipc", "uts", "cgroup", "time"}) {
    EXPECT_TRUE(Reports(probe("unshare", {ns}), "errno EPERM")) << ns;
  }
}

TEST_F(Escape, SetnsIntoEveryNamespaceIsDenied) {
  for (const char* ns : {"mnt", "net", "pid", "ipc", "uts", "user", "cgroup"}) {
    EXPECT_TRUE(Reports(probe("setns", {ns}), "errno EPERM")) << ns;
  }
}

// clone3(2) passes its flags in memory that seccomp cannot read, so it is
// refused with ENOSYS and glibc falls back to clone(2), whose flags are
// checked.
TEST_F(Escape, Clone3ReportsEnosys) {
  EXPECT_TRUE(Reports(probe("clone3"), "errno ENOSYS"));
}

// --- Kernel attack surface: the seccomp deny list ----------------------------------

TEST_F(Escape, BpfIsDenied) {
  EXPECT_TRUE(Reports(probe("bpf"), "errno EPERM"));
}

TEST_F(Escape, PerfEventOpenIsDenied) {
  EXPECT_TRUE(Reports(probe("perf_event_open"), "errno EPERM"));
}

TEST_F(Escape, UserfaultfdIsDenied) {
  EXPECT_TRUE(Reports(probe("userfaultfd"), "errno EPERM"));
}

TEST_F(Escape, IoUringSetupIsDenied) {
  EXPECT_TRUE(Reports(probe("io_uring_setup"), "errno EPERM"));
}

// A memfd is an executable that never touches a filesystem Landlock sees.
TEST_F(Escape, MemfdCreateIsDenied) {
  EXPECT_TRUE(Reports(probe("memfd_create"), "errno EPERM"));
}

// Kernel keyrings are not namespaced (keyrings(7)).
TEST_F(Escape, KeyctlAddKeyAndRequestKeyAreDenied) {
  EXPECT_TRUE(Reports(probe("keyctl"), "errno EPERM"));
  EXPECT_TRUE(Reports(probe("add_key"), "errno EPERM"));
  EXPECT_TRUE(Reports(probe("request_key"), "errno EPERM"));
}

// CVE-2014-3519 ("shocker"): a file handle opens any inode of a mounted
// filesystem, bypassing the mount view. name_to_handle_at(2) needs no
// privilege, so its EPERM can only be seccomp's.
TEST_F(Escape, FileHandlesAreDenied) {
  EXPECT_TRUE(Reports(probe("open_by_handle_at"), "errno EPERM"));
  EXPECT_TRUE(Reports(probe("name_to_handle_at"), "errno EPERM"));
}

TEST_F(Escape, KexecLoadIsDenied) {
  EXPECT_TRUE(Reports(probe("kexec_load"), "errno EPERM"));
}

TEST_F(Escape, ModuleCallsAreDenied) {
  EXPECT_TRUE(Reports(probe("init_module"), "errno EPERM"));
  EXPECT_TRUE(Reports(probe("finit_module"), "errno EPERM"));
  EXPECT_TRUE(Reports(probe("delete_module"), "errno EPERM"));
}

// personality(2) flags that turn off ASLR.
TEST_F(Escape, PersonalityCannotDisableAslr) {
  EXPECT_TRUE(Reports(probe("personality_no_aslr"), "errno EPERM"));
}

// --- Sockets ------------------------------------------------------------------

TEST_F(Escape, PacketSocketsAreDenied) {
  EXPECT_TRUE(Reports(probe("socket_packet"), "errno EPERM"));
}

TEST_F(Escape, VsockSocketsAreDenied) {
  EXPECT_TRUE(Reports(probe("socket_vsock"), "errno EPERM"));
}

TEST_F(Escape, BluetoothSocketsAreDenied) {
  EXPECT_TRUE(Reports(probe("socket_bluetooth"), "errno EPERM"));
}

// netlink(7): only NETLINK_ROUTE, which `ip addr` and getaddrinfo need.
TEST_F(Escape, NetlinkAuditIsDeniedWhileNetlinkRouteWorks) {
  EXPECT_TRUE(Reports(probe("socket_netlink_audit"), "errno EPERM"));
  EXPECT_TRUE(Reports(probe("socket_netlink_route"), "ok"));
}

// --- Every denial discriminates -----------------------------------------------

// Where the same probe runs without any sandbox, as a control.
enum class Control {
  kUid1000,     // the sandbox uid, no sandbox
  kUsernsRoot,  // uid 1000 made root of a fresh user (and mount, net)
                // namespace: the namespaced capability exists there, so a
                // refusal inside the sandbox can only be the sandbox's
  kRoot,        // real root: the only control for calls that need a
                // capability of the initial namespace (CAP_BPF,
                // CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH)
};

bool become_userns_root() {
  if (::setgroups(0, nullptr) != 0 || ::setresgid(kSandboxGid, kSandboxGid, kSandboxGid) != 0 ||
      ::setresuid(kSandboxUid, kSandboxUid, kSandboxUid) != 0 ||
      // The uid change made /proc/self root's; the maps are written by us.
      ::prctl(PR_SET_DUMPABLE, 1) != 0 ||
      ::unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) != 0) {
    return false;
  }
  auto put = [](const char* path, const std::string& text) {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == (ssize_t)text.size();
    if (fd >= 0) ::close(fd);
    return ok;
  };
  return put("/proc/self/setgroups", "deny") &&
         put("/proc/self/uid_map", "0 " + std::to_string(kSandboxUid) + " 1\n") &&
         put("/proc/self/gid_map", "0 " + std::to_string(kSandboxGid) + " 1\n");
}

Report control_run(const std::string& attempt, const std::vector<std::string>& args,
                   Control control) {
  if (control == Control::kUid1000) return unsandboxed(probe_binary(), attempt, args);
  Options options;
  options.argv = {probe_binary(), attempt};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.new_pid_namespace = false;
  if (control == Control::kUsernsRoot) options.before_exec = become_userns_root;
  return parse_report(attempt, run(options));
}

struct Denial {
  std::vector<std::string> attempt;  // the probe's attempt and its arguments
  std::string sandboxed;             // what the sandbox answers
  Control control;
};

std::ostream& operator<<(std::ostream& out, const Denial& d) {
  for (const auto& word : d.attempt) out << word << ' ';
  return out << "-> " << d.sandboxed;
}

class Discriminates : public ::testing::TestWithParam<Denial> {
 protected:
  void SetUp() override {
    REQUIRE_FEATURE(user_namespaces_work(), "user namespaces (unshare(CLONE_NEWUSER) fails)");
    REQUIRE_FEATURE(landlock_abi() >= 1, "Landlock (landlock_create_ruleset fails)");
  }
};

// The sandbox's answer, and a control run without it that answers
// differently: a denial test whose attempt fails the same way with no
// sandbox at all proves nothing (a plain uid-1000 process gets EPERM from
// mount(2) too). The list is written here from the man pages, not taken from
// the filter's own tables.
TEST_P(Discriminates, TheSandboxRefusesWhatTheControlDoesNot) {
  const Denial& d = GetParam();
  std::vector<std::string> args(d.attempt.begin() + 1, d.attempt.end());
  Report control = control_run(d.attempt[0], args, d.control);
  ASSERT_NE(control.result, "<no report>")
      << "the control did not run (exit " << control.run.exit_code << "): " << control;
  EXPECT_NE(control.result, d.sandboxed)
      << "without the sandbox the attempt fails the same way: the test discriminates nothing; "
      << control;
  EXPECT_TRUE(Reports(probe(d.attempt[0], args), d.sandboxed));
}

INSTANTIATE_TEST_SUITE_P(
    Seccomp, Discriminates,
    ::testing::Values(
        // Namespaces and mounts: refused to uid 1000 by missing capabilities
        // anyway, so the control holds them in its own user namespace.
        Denial{{"mount"}, "errno EPERM", Control::kUsernsRoot},
        Denial{{"umount"}, "errno EPERM", Control::kUsernsRoot},
        Denial{{"pivot_root"}, "errno EPERM", Control::kUsernsRoot},
        Denial{{"chroot"}, "errno EPERM", Control::kUsernsRoot},
        Denial{{"fsopen"}, "errno EPERM", Control::kUsernsRoot},
        Denial{{"open_tree"}, "errno EPERM", Control::kUsernsRoot},
        Denial{{"unshare", "mnt"}, "errno EPERM", Control::kUsernsRoot},
        Denial{{"unshare", "net"}, "errno EPERM", Control::kUsernsRoot},
        Denial{{"unshare", "pid"}, "errno EPERM", Control::kUsernsRoot},
        Denial{{"unshare", "ipc"}, "errno EPERM", Control::kUsernsRoot},
        Denial{{"unshare", "uts"}, "errno EPERM", Control::kUsernsRoot},
        Denial{{"unshare", "cgroup"}, "errno EPERM", Control::kUsernsRoot},
        Denial{{"setns", "mnt"}, "errno EPERM", Control::kUsernsRoot},
        Denial{{"setns", "net"}, "errno EPERM", Control::kUsernsRoot},
        Denial{{"socket_packet"}, "errno EPERM", Control::kUsernsRoot},
        // Open to any unprivileged process.
        Denial{{"unshare", "user"}, "errno EPERM", Control::kUid1000},
        Denial{{"clone_user"}, "errno EPERM", Control::kUid1000},
        Denial{{"clone3"}, "errno ENOSYS", Control::kUid1000},
        Denial{{"perf_event_open"}, "errno EPERM", Control::kUid1000},
        Denial{{"io_uring_setup"}, "errno EPERM", Control::kUid1000},
        Denial{{"memfd_create"}, "errno EPERM", Control::kUid1000},
        Denial{{"keyctl"}, "errno EPERM", Control::kUid1000},
        Denial{{"add_key"}, "errno EPERM", Control::kUid1000},
        Denial{{"request_key"}, "errno EPERM", Control::kUid1000},
        Denial{{"name_to_handle_at"}, "errno EPERM", Control::kUid1000},
        Denial{{"personality_no_aslr"}, "errno EPERM", Control::kUid1000},
        Denial{{"socket_vsock"}, "errno EPERM", Control::kUid1000},
        Denial{{"socket_bluetooth"}, "errno EPERM", Control::kUid1000},
        Denial{{"socket_netlink_audit"}, "errno EPERM", Control::kUid1000},
        // Capabilities of the initial namespace only.
        Denial{{"bpf"}, "errno EPERM", Control::kRoot},
        Denial{{"userfaultfd"}, "errno EPERM", Control::kRoot},
        Denial{{"open_by_handle_at"}, "errno EPERM", Control::kRoot}));

// --- The Landlock ABI cap: every ABI from 1 to the kernel's ------------------------

// OPENSHELL_LANDLOCK_MAX_ABI=N makes the sandbox use ABI N on this kernel, as
// a kernel of that ABI would (README, "Kernels"): each cell checks what that
// ABI guarantees and what it does not.
class AtLandlockAbi : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    REQUIRE_FEATURE(user_namespaces_work(), "user namespaces (unshare(CLONE_NEWUSER) fails)");
  }
  ProbeRun at(const std::string& policy) const {
    return ProbeRun{.policy = policy, .env = {{"OPENSHELL_LANDLOCK_MAX_ABI",
                                               std::to_string(GetParam())}}};
  }
};

TEST_P(AtLandlockAbi, HardRequirementHoldsOrRefusesToStart) {
  const int abi = GetParam();
  auto report = probe("write", {"/proc/self/comm"}, at(world.policy));
  if (abi < 3) {
    // Without LANDLOCK_ACCESS_FS_TRUNCATE (ABI 3, Linux 6.2) a read-only
    // file could be truncated: a hard requirement refuses to start.
    EXPECT_NE(report.run.exit_code, 0) << report;
    EXPECT_EQ(report.result, "<no report>") << "the probe must not have run: " << report;
    EXPECT_NE(report.run.err.find("kernel Landlock ABI " + std::to_string(abi) +
                                  " cannot enforce"),
              std::string::npos)
        << report.run.err;
    return;
  }
  EXPECT_TRUE(Reports(report, "errno EACCES"));
}

TEST_P(AtLandlockAbi, BestEffortKeepsEveryRightTheAbiHasAndSaysWhatItDropped) {
  const int abi = GetParam();
  // ABI 1 rights hold at every ABI.
  EXPECT_TRUE(Reports(probe("write", {"/proc/self/comm"}, at(world.policy_best_effort)),
                      "errno EACCES"));
  // check with network mode none: pod mode is itself reported NOT ENFORCED.
  auto check = run(supervisor({"check", "--policy", world.policy_best_effort_none},
                              {{"OPENSHELL_WORKDIR", world.workdir},
                               {"OPENSHELL_LANDLOCK_MAX_ABI", std::to_string(abi)}}));
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("ABI " + std::to_string(abi) + ")"), std::string::npos) << check.out;
  // Each ABI up to 6 added rights or scopes this policy asks for (ABI 7
  // added only audit logging, landlock(7)): below 6 something is dropped.
  EXPECT_NE(check.out.find(abi < 6 ? "landlock       degraded" : "landlock       enforced"),
            std::string::npos)
      << check.out;
}

TEST_P(AtLandlockAbi, AbstractSocketsAreScopedFromAbiSix) {
  const int abi = GetParam();
  std::string name = "openshell-abi-" + std::to_string(::getpid()) + "-" + std::to_string(abi);
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, name.data(), name.size());
  auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  // Below ABI 6 the scope does not exist: the connection is made, which is
  // what a kernel older than 6.12 gives (README, "Kernels").
  EXPECT_TRUE(Reports(probe("abstract_connect", {name}, at(world.policy_best_effort)),
                      abi >= 6 ? "errno EPERM" : "ok"));
  ::close(listener);
}

INSTANTIATE_TEST_SUITE_P(Cap, AtLandlockAbi, ::testing::Range(1, landlock_abi() + 1),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return "Abi" + std::to_string(param.param);
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(AtLandlockAbi);

// `check` exits non-zero when a layer the policy requires cannot hold: here
// a hard Landlock requirement on ABI 2, where truncate is not enforceable.
TEST_F(Escape, CheckExitsNonZeroWhenALayerCannotHold) {
  REQUIRE_FEATURE(landlock_abi() >= 3, "Landlock ABI 3; kernel has " + std::to_string(landlock_abi()));
  auto held = run(supervisor({"check", "--policy", world.policy_none},
                             {{"OPENSHELL_WORKDIR", world.workdir},
                              {"OPENSHELL_LANDLOCK_MAX_ABI", "3"}}));
  EXPECT_EQ(held.exit_code, 0) << held.out << held.err;
  auto broken = run(supervisor({"check", "--policy", world.policy_none},
                               {{"OPENSHELL_WORKDIR", world.workdir},
                                {"OPENSHELL_LANDLOCK_MAX_ABI", "2"}}));
  EXPECT_EQ(broken.exit_code, 1) << broken.out << broken.err;
  EXPECT_NE(broken.out.find("kernel Landlock ABI 2 cannot enforce"), std::string::npos)
      << broken.out;
  EXPECT_EQ(broken.out.find("  enforced"), std::string::npos)
      << "no layer may claim to hold when the sandbox was refused: " << broken.out;
}

TEST_F(Escape, AnInvalidLandlockCapRefusesTheSandbox) {
  auto report = probe("write", {"/proc/self/comm"},
                      ProbeRun{.env = {{"OPENSHELL_LANDLOCK_MAX_ABI", "newest"}}});
  // An input error (exit 2) found with the other variables, before any
  // namespace exists; not a sandbox failure (4) half-way through start-up.
  EXPECT_EQ(report.run.exit_code, 2) << report;
  EXPECT_EQ(report.result, "<no report>") << report;
  EXPECT_NE(report.run.err.find("OPENSHELL_LANDLOCK_MAX_ABI=newest"), std::string::npos)
      << report.run.err;
}

// --- seccomp itself ------------------------------------------------------------

// A second filter could hand syscall decisions to another process
// (SECCOMP_RET_USER_NOTIF, seccomp(2)); both ways of installing one are
// refused, even an allow-everything filter.
TEST_F(Escape, ASecondSeccompFilterCannotBeInstalled) {
  EXPECT_TRUE(Reports(probe("seccomp_filter"), "errno EPERM"));
  EXPECT_TRUE(Reports(probe("prctl_seccomp"), "errno EPERM"));
}

// x32 syscalls (number | 0x40000000) would bypass a deny list written for
// x86_64 numbers: the filter kills the process (SECCOMP_RET_KILL_PROCESS
// raises SIGSYS, seccomp(2)). This kernel may not even have x32: the
// filter runs before the syscall table is consulted.
TEST_F(Escape, AnX32SyscallIsKilled) {
  EXPECT_TRUE(Reports(probe("x32_syscall"), "signal " + std::to_string(SIGSYS)));
}

// int 0x80 enters the i386 ABI (AUDIT_ARCH_I386), whose syscall numbers
// differ: the filter's bad-architecture action kills the process.
TEST_F(Escape, AnInt80I386SyscallIsKilled) {
  // A kernel without IA32 emulation has no i386 entry to filter: int 0x80
  // faults before seccomp runs. Nothing to escape through; said, not failed.
  if (!ia32_emulation_works()) GTEST_SKIP() << "kernel has no i386 entry (int 0x80 faults outside the sandbox)";
  EXPECT_TRUE(Reports(probe("int80_syscall"), "signal " + std::to_string(SIGSYS)));
}

// CVE-2017-5226: TIOCSTI pushes input into a terminal that a more
// privileged reader shares. The probe runs on the supervisor's terminal.
TEST_F(Escape, TiocstiOnTheTerminalIsDenied) {
  auto report = probe("tiocsti", {}, {.tty = true});
  EXPECT_TRUE(Reports(report, "errno EPERM"));
  EXPECT_EQ(report.detail, "stdin is a terminal") << report;
}

// --- Identity and capabilities ---------------------------------------------------

// capabilities(7), proc(5): every capability set empty, no_new_privs set,
// seccomp in filter mode (2) with one filter, the securebits set and
// locked so that nothing gives capabilities back (SECBIT_NOROOT: root
// gains none on exec; KEEP_CAPS and NO_SETUID_FIXUP locked off; ambient
// raise forbidden), no core files (RLIMIT_CORE 0, soft and hard).
TEST_F(Escape, EveryCapabilitySetIsEmptyAndNoNewPrivsAndSeccompAreOn) {
  auto report = probe("status");
  ASSERT_TRUE(Reports(report, "ok"));
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(report.field(set), "0000000000000000") << set << ": " << report;
  }
  EXPECT_EQ(report.field("NoNewPrivs"), "1") << report;
  EXPECT_EQ(report.field("Seccomp"), "2") << report;
  EXPECT_EQ(report.field("Seccomp_filters"), "1") << report;
  constexpr unsigned kLockedSecurebits =
      SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
      SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  EXPECT_EQ(report.field("securebits"), std::to_string(kLockedSecurebits)) << report;
  EXPECT_EQ(report.field("core"), "0,0") << report;
}

// The sandbox uid is 1000 inside and outside; uid 0 outside is never mapped
// (user_namespaces(7): /proc/self/uid_map is "inside outside count").
TEST_F(Escape, TheSandboxIdentityIsNotRootOutside) {
  auto status = probe("status");
  ASSERT_TRUE(Reports(status, "ok"));
  EXPECT_EQ(status.field("Uid"), "1000,1000,1000,1000") << status;
  EXPECT_EQ(status.field("Gid"), "1000,1000,1000,1000") << status;
  auto maps = probe("id_maps");
  ASSERT_TRUE(Reports(maps, "ok"));
  // The second line is the sandbox init's own id (userns_plan.cc).
  EXPECT_EQ(maps.field("uid_map"), "1000,1000,1;65533,65533,1") << maps;
}

// root_in_sandbox: uid 0 inside is the sandbox uid outside, and as root it
// still holds no capability (SECBIT_NOROOT: an exec as uid 0 gains none).
TEST_F(Escape, RootInsideTheSandboxIsTheSandboxUidOutsideAndHoldsNoCapability) {
  auto maps = probe("id_maps", {}, {.policy = world.policy_root});
  ASSERT_TRUE(Reports(maps, "ok"));
  EXPECT_EQ(maps.field("uid_map"), "0,1000,1;65533,65533,1") << maps;
  auto status = probe("status", {}, {.policy = world.policy_root});
  ASSERT_TRUE(Reports(status, "ok"));
  EXPECT_EQ(status.field("Uid"), "0,0,0,0") << status;
  EXPECT_EQ(status.field("CapEff"), "0000000000000000") << status;
  EXPECT_EQ(status.field("CapPrm"), "0000000000000000") << status;
  EXPECT_EQ(status.field("CapBnd"), "0000000000000000") << status;
}

// uid 0 has no mapping in the sandbox's user namespace, so setuid(0) cannot
// even name it: EINVAL (setuid(2)).
TEST_F(Escape, SetuidToRootIsImpossible) {
  EXPECT_TRUE(Reports(probe("setuid_root"), "errno EINVAL"));
}

// capset(2) cannot add to the permitted set; the bounding set is empty.
TEST_F(Escape, RaisingCapSysAdminWithCapsetIsDenied) {
  EXPECT_TRUE(Reports(probe("capset_sys_admin"), "errno EPERM"));
}

// SECBIT_NO_CAP_AMBIENT_RAISE is set and locked (capabilities(7)).
TEST_F(Escape, RaisingAnAmbientCapabilityIsDenied) {
  EXPECT_TRUE(Reports(probe("ambient_raise"), "errno EPERM"));
}

// Changing securebits needs CAP_SETPCAP, and the bits are locked.
TEST_F(Escape, ClearingTheSecurebitsIsDenied) {
  EXPECT_TRUE(Reports(probe("set_securebits"), "errno EPERM"));
}

// A setuid-root copy of the probe, visible read-only inside. Outside, run
// by uid 1000, it becomes euid 0. Inside, root outside is not mapped, the
// view is mounted nosuid, and no_new_privs is set (execve(2)): the exec
// stays uid 1000 with nothing.
TEST_F(Escape, ASetuidRootBinaryGainsNothing) {
  std::string binary = world.suid + "/probe-setuid-root";
  auto outside = unsandboxed(binary, "status");
  ASSERT_TRUE(Reports(outside, "ok"));
  ASSERT_EQ(outside.field("euid"), "0") << "the control: outside, the setuid bit works";

  auto report = probe("status", {}, {.binary = binary});
  ASSERT_TRUE(Reports(report, "ok"));
  EXPECT_EQ(report.field("Uid"), "1000,1000,1000,1000") << report;
  EXPECT_EQ(report.field("euid"), "1000") << report;
  EXPECT_EQ(report.field("CapEff"), "0000000000000000") << report;
  EXPECT_EQ(report.field("CapPrm"), "0000000000000000") << report;
}

// A binary with CAP_SYS_ADMIN in its security.capability attribute.
// Outside, uid 1000 gains it on exec; inside, the bounding set is empty,
// the view is nosuid and no_new_privs is set (capabilities(7)).
TEST_F(Escape, AFileCapabilityBinaryGainsNothing) {
  std::string binary = world.suid + "/probe-file-caps";
  char sys_admin[17];
  std::snprintf(sys_admin, sizeof sys_admin, "%016llx", 1ULL << CAP_SYS_ADMIN);
  auto outside = unsandboxed(binary, "status");
  ASSERT_TRUE(Reports(outside, "ok"));
  ASSERT_EQ(outside.field("CapEff"), sys_admin) << "the control: outside, file caps work";

  auto report = probe("status", {}, {.binary = binary});
  ASSERT_TRUE(Reports(report, "ok"));
  EXPECT_EQ(report.field("CapEff"), "0000000000000000") << report;
  EXPECT_EQ(report.field("CapPrm"), "0000000000000000") << report;
}

// Nothing of the supervisor's is open in the sandbox: its sockets, the
// control channel and its files are closed before exec (close_range(2)).
TEST_F(Escape, NoFileDescriptorOfTheSupervisorReachesTheSandbox) {
  auto report = probe("own_fds");
  EXPECT_TRUE(Reports(report, "ok"));
  EXPECT_EQ(report.detail, "0 1 2");
}

// Every child of the supervisor starts from a cleared environment
// (DESIGN.md §4): the supervisor's variables never reach it, the user
// environment does, less its OPENSHELL_ keys.
TEST_F(Escape, TheSupervisorsEnvironmentDoesNotReachTheSandbox) {
  auto report = probe("environment", {},
                      {.env = {{"SUPERVISOR_ONLY_TOKEN", "s3cret-token"},
                               {"OPENSHELL_SSH_HOST_KEY_FILE", "/host-key"},
                               {"OPENSHELL_USER_ENVIRONMENT",
                                R"({"AGENT_VAR":"given","OPENSHELL_SMUGGLED":"no"})"}}});
  ASSERT_TRUE(Reports(report, "ok"));
  std::istringstream words(report.detail);
  std::string word;
  std::set<std::string> names;
  while (words >> word) names.insert(word.substr(0, word.find('=')));
  EXPECT_TRUE(names.contains("AGENT_VAR")) << report;
  EXPECT_FALSE(names.contains("SUPERVISOR_ONLY_TOKEN")) << report;
  for (const auto& name : names) EXPECT_FALSE(name.starts_with("OPENSHELL_")) << report;
  EXPECT_EQ(report.detail.find("s3cret-token"), std::string::npos) << report;
}

// --- Files ------------------------------------------------------------------

// Read-only paths are bound read-only into the view (mounts.cc) and granted
// read-only by Landlock. The mount answers first: opening for write, or
// creating, on a read-only mount fails with EROFS before any LSM hook runs
// (open(2), mkdir(2)); Landlock's EACCES shows where the mount is writable
// (LandlockRefusesWritesWhereTheMountAllowsThem).
TEST_F(Escape, WritingToEtcIsRefused) {
  EXPECT_TRUE(Reports(probe("write", {"/etc/passwd"}), "errno EROFS"));
  EXPECT_TRUE(Reports(probe("write", {"/etc/escape-new-file"}), "errno EROFS"));
}

TEST_F(Escape, WritingToUsrIsRefused) {
  EXPECT_TRUE(Reports(probe("write", {"/usr/bin/escape-new-file"}), "errno EROFS"));
  EXPECT_TRUE(Reports(probe("mkdir", {"/usr/escape-new-dir"}), "errno EROFS"));
}

// A directory the policy lists in filesystem_policy.read_only.
TEST_F(Escape, WritingToAReadOnlyPolicyPathIsRefused) {
  EXPECT_TRUE(Reports(probe("write", {world.readable + "/note"}), "errno EROFS"));
}

// The fresh /proc is mounted writable and /proc/self/comm is the process's
// own (proc(5)), but the policy grants /proc read-only: only Landlock
// refuses the write, with EACCES.
TEST_F(Escape, LandlockRefusesWritesWhereTheMountAllowsThem) {
  ASSERT_TRUE(Reports(unsandboxed(probe_binary(), "write", {"/proc/self/comm"}), "ok"))
      << "the control: outside, a process may rename itself";
  EXPECT_TRUE(Reports(probe("write", {"/proc/self/comm"}), "errno EACCES"));
}

// The view is built from an empty root (DESIGN.md §6.2): what the policy
// does not name does not exist in it, so the file is missing (ENOENT)
// before Landlock is asked (tests/escape/view_test.cc shows the same
// without Landlock).
TEST_F(Escape, LandlockRefusesReadsOutsideThePolicyWhereTheMountAllowsThem) {
  EXPECT_TRUE(Reports(probe("read", {world.unlisted + "/secret"}), "errno ENOENT"));
  EXPECT_TRUE(Reports(probe("list", {world.unlisted}), "errno ENOENT"));
  // Control: the same kind of file under a granted path is read.
  auto granted = probe("read", {world.readable + "/note"});
  EXPECT_TRUE(Reports(granted, "ok"));
  EXPECT_EQ(granted.detail, "visible");
}

// Supervisor-only paths (DESIGN.md §6) are covered by an empty tmpfs. The
// test puts secrets there, in a private mount namespace of its own (an
// overlay over /etc, a tmpfs over /opt and /run, so the machine's own
// directories are untouched), and grants /opt and /run read-only so that
// only the mask, not Landlock, hides them.
bool plant_supervisor_secrets() {
  auto put = [](const std::string& path, const char* content) {
    for (size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1)) {
      ::mkdir(path.substr(0, at).c_str(), 0755);
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    bool ok = ::write(fd, content, std::strlen(content)) > 0;
    ::close(fd);
    return ok;
  };
  std::string upper = world.overlay + "/upper", work = world.overlay + "/work";
  std::string overlay = "lowerdir=/etc,upperdir=" + upper + ",workdir=" + work;
  return ::unshare(CLONE_NEWNS) == 0 &&
         ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
         ::mount("tmpfs", world.overlay.c_str(), "tmpfs", 0, "mode=0755") == 0 &&
         ::mkdir(upper.c_str(), 0755) == 0 && ::mkdir(work.c_str(), 0755) == 0 &&
         ::mount("overlay", "/etc", "overlay", 0, overlay.c_str()) == 0 &&
         ::mount("tmpfs", "/opt", "tmpfs", 0, "mode=0755") == 0 &&
         ::mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") == 0 &&
         put("/etc/openshell/ssh/host-key", "etc-secret") &&
         put("/opt/openshell/config", "opt-secret") &&
         put("/run/openshell/control", "run-secret") &&
         put("/run/secrets/kubernetes.io/serviceaccount/token", "sa-token") &&
         put("/run/visible", "run-visible");
}

TEST_F(Escape, SupervisorOnlyPathsAreEmptyInside) {
  ProbeRun how{.policy = world.policy_secrets, .before_exec = plant_supervisor_secrets};
  for (const char* secret :
       {"/etc/openshell/ssh/host-key", "/opt/openshell/config", "/run/openshell/control",
        "/run/secrets/kubernetes.io/serviceaccount/token",
        "/var/run/secrets/kubernetes.io/serviceaccount/token"}) {
    EXPECT_TRUE(Reports(probe("read", {secret}, how), "errno ENOENT")) << secret;
  }
  for (const char* dir :
       {"/etc/openshell", "/opt/openshell", "/run/openshell", "/run/secrets/kubernetes.io"}) {
    auto listing = probe("list", {dir}, how);
    EXPECT_TRUE(Reports(listing, "ok")) << dir;
    EXPECT_EQ(listing.detail, "") << dir << ": " << listing;
  }
  // Control: beside the masks, the planted tree is visible.
  auto visible = probe("read", {"/run/visible"}, how);
  EXPECT_TRUE(Reports(visible, "ok"));
  EXPECT_EQ(visible.detail, "run-visible");
}

// --- The supervisor's SSH sockets -------------------------------------------------

// A gateway key for the SSH bridge (it refuses to start without one): the
// authorized_keys file, made once.
std::string authorized_keys() {
  static const std::string path = [] {
    std::string dir = world.base + "/ssh";
    must(::mkdir(dir.c_str(), 0700) == 0, "mkdir " + dir);
    std::string command = "ssh-keygen -q -t ed25519 -N '' -f " + dir + "/gateway";
    must(std::system(command.c_str()) == 0, command);
    std::filesystem::copy_file(dir + "/gateway.pub", dir + "/authorized_keys");
    return dir + "/authorized_keys";
  }();
  return path;
}

std::map<std::string, std::string> ssh_socket_only(const std::string& socket) {
  return {{"OPENSHELL_SSH_LISTEN", "off"},
          {"OPENSHELL_SSH_SOCKET_PATH", socket},
          {"OPENSHELL_SSH_AUTHORIZED_KEYS_FILE", authorized_keys()}};
}

// The bridge listens before the main process starts (run.cc), so a refusal
// other than ECONNREFUSED is Landlock's abstract-socket scope: the
// supervisor is outside the sandbox's domain.
TEST_F(Escape, TheSupervisorsAbstractSshSocketIsRefused) {
  REQUIRE_FEATURE(landlock_abi() >= 6,
                  "Landlock ABI 6 (scopes); kernel has " + std::to_string(landlock_abi()));
  REQUIRE_FEATURE(::access("/usr/bin/ssh-keygen", X_OK) == 0, "ssh-keygen (openssh-client)");
  std::string name = "openshell-escape-ssh-" + std::to_string(::getpid());
  auto report = probe("abstract_connect", {name}, {.env = ssh_socket_only("@" + name)});
  EXPECT_TRUE(Reports(report, "errno EPERM"));
  EXPECT_NE(report.run.err.find("unix:@" + name), std::string::npos)
      << "the bridge must have listened: " << report;
}

// /run/openshell is supervisor-only (DESIGN.md §6: an empty tmpfs over it
// inside). Here it does not exist until the bridge makes it for its
// socket; /run is a fresh tmpfs in a private mount namespace, granted
// read-only by the policy, so that only the mask can hide the directory.
TEST_F(Escape, TheSupervisorsSshSocketDirectoryIsMaskedInside) {
  REQUIRE_FEATURE(::access("/usr/bin/ssh-keygen", X_OK) == 0, "ssh-keygen (openssh-client)");
  auto fresh_run = [] {
    return ::unshare(CLONE_NEWNS) == 0 &&
           ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
           ::mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") == 0;
  };
  auto listing = probe("list", {"/run/openshell"},
                       {.policy = world.policy_secrets,
                        .before_exec = fresh_run,
                        .env = ssh_socket_only("/run/openshell/ssh.sock")});
  ASSERT_NE(listing.run.err.find("unix:/run/openshell/ssh.sock"), std::string::npos)
      << "the bridge must have listened: " << listing;
  EXPECT_TRUE(Reports(listing, "ok"));
  EXPECT_EQ(listing.detail, "") << listing;
}

// --- The agent's work still works -------------------------------------------------

TEST_F(Works, WritingInTheWorkdirAndTmp) {
  EXPECT_TRUE(Reports(probe("write", {world.workdir + "/agent-file"}), "ok"));
  EXPECT_EQ(read_file(world.workdir + "/agent-file"), "escape\n");
  std::filesystem::remove(world.workdir + "/agent-file");
  EXPECT_TRUE(Reports(probe("write", {"/tmp/agent-file"}), "ok"));
  EXPECT_TRUE(Reports(probe("mkdir", {world.workdir + "/agent-dir"}), "ok"));
  std::filesystem::remove(world.workdir + "/agent-dir");
}

Options shell(const std::string& script, const std::string& policy = world.policy) {
  return supervisor({"--policy", policy, "--", "/bin/sh", "-c", script},
                    {{"OPENSHELL_WORKDIR", world.workdir}});
}

TEST_F(Works, AShellPipeline) {
  auto result = run(shell("seq 1 1000 | sort -rn | head -1"));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "1000\n") << result.err;
}

TEST_F(Works, Python) {
  REQUIRE_FEATURE(::access("/usr/bin/python3", X_OK) == 0, "/usr/bin/python3 (python3 package)");
  auto result = run(shell(
      "/usr/bin/python3 -c 'import os, json, subprocess; "
      "open(\"py.txt\", \"w\").write(\"x\"); "
      "print(json.dumps({\"uid\": os.getuid(), \"cwd\": os.getcwd(), "
      "\"echo\": subprocess.run([\"echo\", \"hi\"], capture_output=True, text=True).stdout}))'"));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "{\"uid\": 1000, \"cwd\": \"" + world.workdir + "\", \"echo\": \"hi\\n\"}\n")
      << result.err;
  std::filesystem::remove(world.workdir + "/py.txt");
}

TEST_F(Works, ForkingTwoHundredChildren) {
  auto report = probe("fork_many", {"200"});
  EXPECT_TRUE(Reports(report, "ok"));
  EXPECT_EQ(report.detail, "200 of 200");
}

// Network mode pod shares the pod's network namespace: a TCP listener and
// client on loopback inside the sandbox.
TEST_F(Works, ATcpSocketOnLoopbackInPodMode) {
  auto report = probe("tcp_loopback");
  EXPECT_TRUE(Reports(report, "ok"));
  EXPECT_NE(report.detail.find("got ping"), std::string::npos) << report;
}

// Network mode none: a new network namespace whose only interface is lo,
// up (supervisor/network.cc), with no route anywhere else.
TEST_F(Works, NetworkModeNoneHasOnlyLoopbackUpAndNoRouteOut) {
  auto interfaces = probe("interfaces", {}, {.policy = world.policy_none});
  EXPECT_TRUE(Reports(interfaces, "ok"));
  EXPECT_EQ(interfaces.detail, "lo:up");
  EXPECT_TRUE(Reports(probe("route_out", {}, {.policy = world.policy_none}), "errno ENETUNREACH"));
  auto loopback = probe("tcp_loopback", {}, {.policy = world.policy_none});
  EXPECT_TRUE(Reports(loopback, "ok"));
}

// --- Teardown, check ------------------------------------------------------------

// pid of every process whose command line (NUL-separated, as the kernel
// keeps it) satisfies `matches`.
std::set<pid_t> processes_where(const std::function<bool(const std::string&)>& matches) {
  std::set<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    pid_t pid = static_cast<pid_t>(std::atoi(entry.path().filename().c_str()));
    if (pid > 0 && matches(read_file(entry.path() / "cmdline"))) out.insert(pid);
  }
  return out;
}

// pid of every process whose command line contains `token`.
std::set<pid_t> processes_with(const std::string& token) {
  return processes_where(
      [&](const std::string& cmdline) { return cmdline.find(token) != std::string::npos; });
}

// A process's start time (field 22 of /proc/<pid>/stat); empty once it is
// gone. With the pid it names one process: a reused pid starts later.
std::string start_time_of(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
  }
  return field;
}

// When the main process exits, the supervisor kills the sandbox init, and
// the kernel kills every process of its PID namespace (pid_namespaces(7)),
// even ones that left the main process's session and process group. The
// supervisor runs here in the test's PID namespace, not a fresh one, so
// that nothing but the sandbox's own teardown can end them.
TEST_F(Works, NoProcessOfTheSandboxSurvivesTheMainProcess) {
  // The token is in the sleeps' command lines, not in the script's.
  std::string suffix = "." + std::to_string(::getpid());
  std::string token = "86399" + suffix;
  auto options = shell("n=$((86000 + 399)); sleep $n" + suffix + " & sleep $n" + suffix +
                       " & (setsid sleep $n" + suffix +
                       " &); echo ready; while [ ! -e go ]; do sleep 0.05; done");
  options.new_pid_namespace = false;
  Running supervisor(options);
  ASSERT_TRUE(supervisor.read_until("ready", 20s));
  // Give the detached sleep its moment to exec (a loaded machine can take
  // seconds).
  // Only `sleep TOKEN` itself counts: on its way there the detached one is
  // briefly `setsid sleep TOKEN`, which names the token too.
  std::string argv = std::string("sleep") + '\0' + token + '\0';
  auto sleeps = [&] {
    return processes_where([&](const std::string& cmdline) { return cmdline == argv; });
  };
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (sleeps().size() < 3 && std::chrono::steady_clock::now() < deadline) ::usleep(20'000);
  // Each process with its start time: a pid the kernel hands out again
  // later is another process, not a survivor.
  std::map<pid_t, std::string> sandbox;
  for (pid_t pid : descendants(supervisor.pid())) sandbox[pid] = start_time_of(pid);
  ASSERT_EQ(sleeps().size(), 3u);
  EXPECT_GE(std::ranges::count_if(sandbox, [](const auto& p) { return !p.second.empty(); }), 5)
      << "init, shell, three sleeps";

  write_file(world.workdir + "/go", "");
  auto result = supervisor.wait(20s);
  std::filesystem::remove(world.workdir + "/go");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(processes_with(token).empty());
  for (const auto& [pid, started] : sandbox) {
    if (started.empty()) continue;  // ended before it was read
    EXPECT_NE(start_time_of(pid), started)
        << "survived: pid " << pid << " " << read_file("/proc/" + std::to_string(pid) + "/comm");
  }
}

// One line per layer, each "enforced" with network mode none and Landlock
// as a hard requirement (DESIGN.md §6, `check`).
TEST_F(Works, CheckReportsEveryLayerEnforced) {
  auto result = run(
      supervisor({"check", "--policy", world.policy_none}, {{"OPENSHELL_WORKDIR", world.workdir}}));
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  std::map<std::string, std::string> layers;
  std::istringstream lines(result.out);
  std::string line;
  while (std::getline(lines, line)) {
    auto space = line.find(' ');
    if (space == std::string::npos) continue;
    layers[line.substr(0, space)] = line.substr(line.find_first_not_of(' ', space));
  }
  for (const char* layer : {"user-ns", "mount-ns", "pid-ns", "ipc/uts-ns", "network",
                            "capabilities", "no_new_privs", "landlock", "seccomp"}) {
    EXPECT_TRUE(layers[layer].starts_with("enforced")) << layer << ": " << result.out;
  }
  EXPECT_NE(layers["landlock"].find("ABI " + std::to_string(landlock_abi())), std::string::npos)
      << result.out;
}

}  // namespace
}  // namespace openshell::test
