// The sandbox's second round of hardening, in the real sandbox: the probe
// (probe.cc, attempts at its end) runs as the main process and reports what
// the kernel answered; each test asserts the exact outcome, and where the
// attempt would work without the sandbox a control run shows it does.
//
//  - the sandbox init is not the agent: scheduling and resource calls on it
//    fail from inside (root inside too);
//  - seccomp round two: personality values, socket families, TIOCSETD and
//    TIOCLINUX, syscalls newer than the filter, pidfd_getfd and
//    process_madvise on a sibling.
#include <grp.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "harness.h"

namespace openshell::test {
namespace {

constexpr uid_t kSandboxUid = 1000;
constexpr gid_t kSandboxGid = 1000;

bool must_work() {
  const char* value = std::getenv("OPENSHELL_TESTS_MUST_WORK");
  return value != nullptr && std::string(value) == "1";
}

bool user_namespaces_work() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(::unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void must(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what + ": " + std::strerror(errno));
}

// A base directory under /var/tmp (the sandbox's /tmp is private), the
// probe copied into it, a workdir owned by the sandbox uid and two policies.
struct World {
  std::string base, workdir, probe, policy, policy_root, policy_keep;

  void create() {
    base = "/var/tmp/openshell-hardening-XXXXXX";
    must(::mkdtemp(base.data()) != nullptr, "mkdtemp");
    must(::chmod(base.c_str(), 0755) == 0, "chmod " + base);
    workdir = base + "/work";
    must(::mkdir(workdir.c_str(), 0755) == 0, "mkdir " + workdir);
    must(::chown(workdir.c_str(), kSandboxUid, kSandboxGid) == 0, "chown " + workdir);
    must(::mkdir((base + "/bin").c_str(), 0755) == 0, "mkdir bin");
    const char* built = std::getenv("ESCAPE_PROBE");
    if (built == nullptr) throw std::runtime_error("ESCAPE_PROBE is not set");
    probe = base + "/bin/probe";
    std::filesystem::copy_file(built, probe);
    must(::chmod(probe.c_str(), 0755) == 0, "chmod " + probe);
    policy = write_policy("policy.yaml", false);
    policy_root = write_policy("policy-root.yaml", true);
    policy_keep = write_policy("policy-keep.yaml", false,
                               "capabilities: {unsafe_keep: [CAP_NET_BIND_SERVICE]}\n");
  }

  std::string write_policy(const std::string& name, bool root, const std::string& extra = "") {
    std::ostringstream text;
    text << "version: 1\n"
         << "filesystem_policy:\n"
         << "  include_workdir: true\n"
         << "  read_only: [/usr, /proc, /etc, " << base << "/bin]\n"
         << "  read_write: [/tmp, /dev/null]\n"
         << "landlock: {compatibility: hard_requirement}\n"
         << "network: {mode: pod}\n"
         << "process: {run_as_user: \"" << kSandboxUid << "\", run_as_group: \"" << kSandboxGid
         << "\"}\n"
         << "user_namespace: {root_in_sandbox: " << (root ? "true" : "false") << "}\n"
         << extra;
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
const auto* const kWorld = ::testing::AddGlobalTestEnvironment(new WorldEnvironment);

struct Report {
  std::string result = "<no report>";
  std::string detail;
  RunResult run;

  // detail as KEY=VALUE words (the status attempt).
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
  return out << "result=" << r.result << "\n--- stdout\n" << r.run.out << "\n--- stderr\n"
             << r.run.err;
}

Report parse(const std::string& attempt, RunResult run) {
  Report report;
  report.run = std::move(run);
  std::istringstream lines(report.run.out);
  std::string line, head = attempt + " result=";
  while (std::getline(lines, line)) {
    if (!line.starts_with(head)) continue;
    auto detail = line.find(" detail=");
    report.result = line.substr(head.size(), detail - head.size());
    if (detail != std::string::npos) report.detail = line.substr(detail + 8);
  }
  return report;
}

// The probe as the main process of the sandbox. With `then`, a second
// attempt runs after the first in the same sandbox (through the shell):
// what the first did to the sandbox init shows in the second.
Report probe(const std::string& attempt, std::vector<std::string> args = {},
             const std::string& policy = world.policy) {
  std::vector<std::string> argv{"--policy", policy, "--", world.probe, attempt};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse(attempt, run(supervisor(argv, {{"OPENSHELL_WORKDIR", world.workdir}})));
}

// The same attempt with no sandbox, as the sandbox uid: the control.
Report unsandboxed(const std::string& attempt, std::vector<std::string> args = {}) {
  Options options;
  options.argv = {world.probe, attempt};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.new_pid_namespace = false;
  options.before_exec = [] {
    return ::setgroups(0, nullptr) == 0 &&
           ::setresgid(kSandboxGid, kSandboxGid, kSandboxGid) == 0 &&
           ::setresuid(kSandboxUid, kSandboxUid, kSandboxUid) == 0;
  };
  return parse(attempt, run(options));
}

::testing::AssertionResult Reports(const Report& report, const std::string& expected) {
  if (report.run.exit_code == 0 && report.result == expected) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected " << expected << ", supervisor exit "
                                       << report.run.exit_code << ", " << report;
}

class Hardening : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!user_namespaces_work()) {
      if (must_work()) FAIL() << "needed but missing: user namespaces";
      GTEST_SKIP() << "needed but missing: user namespaces";
    }
  }
};

// --- The sandbox init is not the agent -------------------------------------

// Each call would work on a process of the caller's own uid; the init runs
// under an id no sandbox process has (sandbox-policy/userns_plan.cc).
class InitCalls : public Hardening, public ::testing::WithParamInterface<const char*> {};

TEST_P(InitCalls, FromTheAgentFail) {
  EXPECT_TRUE(Reports(probe("on_init", {GetParam()}), "errno EPERM"));
}

TEST_P(InitCalls, FromRootInsideFail) {
  EXPECT_TRUE(Reports(probe("on_init", {GetParam()}, world.policy_root), "errno EPERM"));
}

INSTANTIATE_TEST_SUITE_P(Init, InitCalls,
                         ::testing::Values("prlimit", "setpriority", "sched_setscheduler",
                                           "sched_setaffinity", "sched_setattr", "ioprio_set"));

// --- seccomp, round two ------------------------------------------------------

TEST_F(Hardening, PersonalityTakesOnlyDockersValues) {
  EXPECT_TRUE(Reports(probe("personality_value", {"0x80040000"}), "errno EPERM"));
  EXPECT_TRUE(Reports(probe("personality_value", {"0x0040000"}), "errno EPERM"));
  EXPECT_TRUE(Reports(probe("personality_value", {"0xffffffff"}), "ok"));
  EXPECT_TRUE(Reports(probe("personality_value", {"0x8"}), "ok"));
  EXPECT_TRUE(Reports(unsandboxed("personality_value", {"0x80040000"}), "ok"))
      << "control: without the sandbox the persona is accepted";
}

TEST_F(Hardening, SocketFamiliesOutsideTheAllowListAreNotSupported) {
  // AF_CAN 29, AF_TIPC 30, AF_RDS 21, AF_KCM 41, AF_LLC 26, AF_ALG 38.
  for (const char* family : {"29", "30", "21", "41", "26", "38"}) {
    EXPECT_TRUE(Reports(probe("socket_family", {family, "5" /* SOCK_SEQPACKET */, "0"}),
                        "errno EAFNOSUPPORT"))
        << "family " << family;
  }
  // The control: AF_XDP (44), which this kernel has. Without the sandbox
  // the family's own code answers (EPERM without CAP_NET_RAW, or
  // ESOCKTNOSUPPORT for the type); in the sandbox the filter answers
  // before the family is looked up.
  EXPECT_TRUE(Reports(probe("socket_family", {"44", "2" /* SOCK_DGRAM */, "0"}),
                      "errno EAFNOSUPPORT"));
  Report control = unsandboxed("socket_family", {"44", "2", "0"});
  if (control.result == "errno EAFNOSUPPORT") {
    if (must_work()) FAIL() << "this kernel has no AF_XDP: the control shows nothing";
    GTEST_SKIP() << "this kernel has no AF_XDP: the control cannot show the filter decided";
  }
  EXPECT_TRUE(control.result == "errno EPERM" || control.result == "errno ESOCKTNOSUPPORT")
      << control;
  EXPECT_TRUE(Reports(probe("socket_family", {"2" /* AF_INET */, "1", "0"}), "ok"));
  EXPECT_TRUE(Reports(probe("socket_family", {"10" /* AF_INET6 */, "2", "0"}), "ok"));
  EXPECT_TRUE(Reports(probe("socket_family", {"1" /* AF_UNIX */, "1", "0"}), "ok"));
  EXPECT_TRUE(Reports(probe("socket_family", {"16" /* AF_NETLINK */, "3", "0"}), "ok"));
}

TEST_F(Hardening, LineDisciplineAndVirtualConsoleIoctlsAreDenied) {
  EXPECT_TRUE(Reports(probe("ioctl_stdin", {"TIOCSETD"}), "errno EPERM"));
  EXPECT_TRUE(Reports(probe("ioctl_stdin", {"TIOCLINUX"}), "errno EPERM"));
  // Stdin is a pipe here: without the filter the kernel says ENOTTY.
  EXPECT_TRUE(Reports(unsandboxed("ioctl_stdin", {"TIOCSETD"}), "errno ENOTTY"));
}

// statmount (457, Linux 6.8) is newer than the filter.
TEST_F(Hardening, SyscallsNewerThanTheFilterReturnEnosys) {
  EXPECT_TRUE(Reports(probe("raw_syscall", {"457"}), "errno ENOSYS"));
  EXPECT_TRUE(Reports(probe("raw_syscall", {"458"}), "errno ENOSYS"));
  Report control = unsandboxed("raw_syscall", {"457"});
  if (control.result == "errno ENOSYS") {
    if (must_work()) FAIL() << "this kernel has no statmount: the test shows nothing";
    GTEST_SKIP() << "this kernel has no statmount (Linux < 6.8): the control cannot show it";
  }
  EXPECT_NE(control.result, "errno ENOSYS") << control;
}

TEST_F(Hardening, ASiblingsDescriptorsCannotBeTaken) {
  EXPECT_TRUE(Reports(probe("pidfd_getfd_sibling"), "errno EPERM"));
  EXPECT_TRUE(Reports(unsandboxed("pidfd_getfd_sibling"), "ok")) << "control";
}

// The probe passes an invalid flag: the kernel answers EINVAL before any
// permission check (mm/madvise.c), so EPERM can only be the filter's.
TEST_F(Hardening, MemoryAdviceOnASiblingIsDenied) {
  EXPECT_TRUE(Reports(probe("process_madvise_sibling"), "errno EPERM"));
  EXPECT_TRUE(Reports(unsandboxed("process_madvise_sibling"), "errno EINVAL")) << "control";
}

// --- Start-up on one CPU -------------------------------------------------------

// The supervisor runs its start-up pinned to one CPU and the init and the
// child inherit that (supervisor/startup_cpu.h); the main process and the
// init must end with every CPU the supervisor was given.
TEST_F(Hardening, TheMainProcessAndTheInitGetEveryCpuBack) {
  cpu_set_t given;
  ASSERT_EQ(::sched_getaffinity(0, sizeof given, &given), 0);
  if (CPU_COUNT(&given) < 2) GTEST_SKIP() << "one CPU: the start-up has nothing to pin";
  // The supervisor inherits this test's CPUs; the kernel prints them alike.
  std::string status = read_file("/proc/self/status");
  auto at = status.find("\nCpus_allowed_list:\t");
  ASSERT_NE(at, std::string::npos) << status;
  at += std::string("\nCpus_allowed_list:\t").size();
  std::string expected = status.substr(at, status.find('\n', at) - at);
  auto report = probe("cpus");
  ASSERT_TRUE(Reports(report, "ok"));
  EXPECT_EQ(report.field("self"), expected) << report;
  EXPECT_EQ(report.field("init"), expected) << report;
}

// --- capabilities.unsafe_keep -------------------------------------------------

// The probe is an ordinary binary exec'd by a non-root uid: a kept
// capability reaches it only through the ambient set (capabilities(7)).
TEST_F(Hardening, KeptCapabilitiesSurviveExecve) {
  constexpr const char* kNetBindService = "0000000000000400";  // bit 10
  auto report = probe("status", {}, world.policy_keep);
  ASSERT_TRUE(Reports(report, "ok"));
  EXPECT_EQ(report.field("CapAmb"), kNetBindService) << report;
  EXPECT_EQ(report.field("CapEff"), kNetBindService) << report;
  EXPECT_EQ(report.field("CapPrm"), kNetBindService) << report;
  EXPECT_EQ(report.field("CapBnd"), kNetBindService) << report;
  // Without the key nothing is kept.
  auto plain = probe("status");
  ASSERT_TRUE(Reports(plain, "ok"));
  EXPECT_EQ(plain.field("CapAmb"), "0000000000000000") << plain;
  EXPECT_EQ(plain.field("CapEff"), "0000000000000000") << plain;
}

}  // namespace
}  // namespace openshell::test
