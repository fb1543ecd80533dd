// The supervisor as PID 1 of a fresh PID namespace: exit codes, stdio,
// terminals, signal forwarding, the grace period, reaping, logs and
// startup failures. Every test runs the real binary.
#include <boost/json/parse.hpp>
#include <boost/json/src.hpp>  // Boost.JSON compiled here, its one translation unit
#include <gtest/gtest.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fcntl.h>

#include <csignal>
#include <cstddef>
#include <iterator>
#include <filesystem>
#include <sstream>
#include <vector>

#include "harness.h"

namespace openshell::test {
namespace {

using namespace std::chrono_literals;

Options sh(const std::string& script, std::map<std::string, std::string> env = {}) {
  return supervisor({"--", "/bin/sh", "-c", script}, std::move(env));
}

TEST(ExitCode, IsTheMainProcessExitCode) {
  auto result = run(sh("exit 7"));
  EXPECT_EQ(result.exit_code, 7) << result.err;
  EXPECT_EQ(run(sh("true")).exit_code, 0);
}

TEST(ExitCode, IsOneHundredTwentyEightPlusTheSignalThatKilledTheMainProcess) {
  auto result = run(sh("kill -TERM $$"));
  EXPECT_TRUE(WIFEXITED(result.wait_status)) << "the supervisor itself must exit, not die";
  EXPECT_EQ(result.exit_code, 128 + SIGTERM) << result.err;
  EXPECT_EQ(run(sh("kill -KILL $$")).exit_code, 128 + SIGKILL);
}

TEST(Stdio, PipesModePassesStdoutStderrAndStdinThroughUnchanged) {
  auto options = sh("printf 'out\\001\\377'; printf 'err-text' >&2; cat");
  options.stdin_data = "from-stdin";
  auto result = run(options);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, std::string("out\001\377from-stdin"));
  EXPECT_EQ(result.err, "err-text") << "nothing of the supervisor's own may appear at warn level";
}

TEST(Stdio, TtyModeGivesTheMainProcessATerminal) {
  auto result = run(supervisor(
      {}, {{"OPENSHELL_MAIN_PROCESS_SPEC",
            R"({"version":1,"command":["/bin/sh","-c",)"
            R"("test -t 0 && test -t 1 && test -t 2 && echo is-a-tty; tty"],"tty":true})"}}));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("is-a-tty"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("/dev/pts/"), std::string::npos) << result.out;
}

TEST(Stdio, TtyModeRelaysInputToTheTerminal) {
  auto options = supervisor(
      {}, {{"OPENSHELL_MAIN_PROCESS_SPEC",
            R"({"version":1,"command":["/bin/sh","-c","read line; echo got:$line"],"tty":true})"}});
  options.stdin_data = "hello\n";
  auto result = run(options);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("got:hello"), std::string::npos) << result.out;
}

TEST(MainProcessSpec, Base64UrlFormIsAccepted) {
  // {"version":1,"command":["/bin/sh","-c","exit 5"]}
  auto result = run(supervisor(
      {}, {{"OPENSHELL_MAIN_PROCESS_SPEC",
            "base64url:eyJ2ZXJzaW9uIjoxLCJjb21tYW5kIjpbIi9iaW4vc2giLCItYyIsImV4aXQgNSJdfQ"}}));
  EXPECT_EQ(result.exit_code, 5) << result.err;
}

TEST(MainProcessSpec, TrailingArgvOverridesTheSpec) {
  auto result = run(
      supervisor({"--", "/bin/sh", "-c", "exit 9"},
                 {{"OPENSHELL_MAIN_PROCESS_SPEC", R"({"version":1,"command":["/bin/false"]})"}}));
  EXPECT_EQ(result.exit_code, 9) << result.err;
}

struct BadSpec {
  const char* spec;
  const char* message;
};

class BadMainProcessSpec : public ::testing::TestWithParam<BadSpec> {};

TEST_P(BadMainProcessSpec, ExitsTwoWithAMessageBeforeAnythingStarts) {
  std::string marker = make_temp_dir() + "/started";
  auto result = run(supervisor({}, {{"OPENSHELL_MAIN_PROCESS_SPEC", GetParam().spec}}));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("OPENSHELL_MAIN_PROCESS_SPEC"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(GetParam().message), std::string::npos) << result.err;
  EXPECT_EQ(result.out, "");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadMainProcessSpec,
    ::testing::Values(BadSpec{"{not json", "invalid JSON"},
                      BadSpec{R"({"version":2,"command":["/bin/true"]})", "unsupported version 2"},
                      BadSpec{R"({"version":1,"command":[]})", "non-empty"},
                      BadSpec{R"({"command":["/bin/true"]})", "unsupported version 0"},
                      BadSpec{R"({"version":1,"command":["/bin/true"],"ttty":true})",
                              "invalid JSON"},
                      BadSpec{"base64url:!!!", "invalid character"},
                      BadSpec{"base64url:eyJ2ZXJzaW9uIjoxfQ==", "padding"}));

TEST(Environment, ProcessesStartFromTheContractNotTheSupervisorEnvironment) {
  auto result = run(sh("env | sort", {{"SUPERVISOR_SECRET", "leak"},
                                      {"OPENSHELL_SANDBOX_ID", "sb-7"},
                                      {"OPENSHELL_USER_ENVIRONMENT", R"({"AGENT_MODE":"fast"})"}}));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.find("SUPERVISOR_SECRET"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("OPENSHELL_"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("AGENT_MODE=fast\n"), std::string::npos) << result.out;
  for (const char* name : {"HOME=", "USER=", "SHELL=", "PATH="}) {
    EXPECT_NE(result.out.find(std::string("\n") + name), std::string::npos) << name << result.out;
  }
}

TEST(Startup, BadEnvironmentNamesTheVariable) {
  auto result = run(sh("true", {{"OPENSHELL_SANDBOX_UID", "1000"}}));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("OPENSHELL_SANDBOX_GID"), std::string::npos) << result.err;

  result = run(sh("true", {{"OPENSHELL_SHUTDOWN_GRACE_SECS", "soon"}}));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("OPENSHELL_SHUTDOWN_GRACE_SECS=soon"), std::string::npos) << result.err;
}

TEST(Startup, MissingMainProcessExitsWithTheExecStageCode) {
  auto result = run(supervisor({"--", "/nonexistent/agent"}));
  EXPECT_EQ(result.exit_code, 127);
  EXPECT_NE(result.err.find("/nonexistent/agent"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("No such file"), std::string::npos) << result.err;
}

TEST(Startup, AMainProcessThatIsNotExecutableExitsWith126) {
  std::string path = test_workdir() + "/not-executable";
  write_file(path, "#!/bin/sh\necho ran\n", 0644);
  auto result = run(supervisor({"--", path}));
  EXPECT_EQ(result.exit_code, 126) << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("\"stage\":\"exec\""), std::string::npos) << result.err;
  ::unlink(path.c_str());
}

// A seccomp filter on the supervisor itself refuses new namespaces, as a
// container runtime's default profile may: the sandbox cannot be created.
bool refuse_namespaces() {
  constexpr uint32_t kNamespaces = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET |
                                   CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 1, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, kNamespaces, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(std::size(filter)), filter};
  return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) == 0;
}

TEST(Startup, NamespacesThatCannotBeCreatedExitWith4) {
  auto options = sh("echo must-not-run");
  options.before_exec = refuse_namespaces;
  auto result = run(options);
  EXPECT_EQ(result.exit_code, 4) << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("\"stage\":\"sandbox\""), std::string::npos) << result.err;
}

// A filter on the supervisor that refuses one system call with EPERM and
// allows everything else; when `flag` is non-zero only calls whose argument
// `arg` has that bit set are refused.
bool refuse_syscall(int nr, int arg = 0, uint32_t flag = 0) {
  std::vector<sock_filter> filter = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0,
               static_cast<uint8_t>(flag == 0 ? 1 : 3)),
  };
  if (flag != 0) {
    filter.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                              static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * arg)));
    filter.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, flag, 0, 1));
  }
  filter.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
  filter.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  sock_fprog program{static_cast<unsigned short>(filter.size()), filter.data()};
  return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) == 0;
}

// The namespaces exist, but the view cannot be built: pivot_root is refused
// (the sandbox init inherits the filter). Stage sandbox-setup, not sandbox.
TEST(Startup, AViewThatCannotBeBuiltExitsWith5) {
  auto options = sh("echo must-not-run");
  options.before_exec = [] { return refuse_syscall(SYS_pivot_root); };
  auto result = run(options);
  EXPECT_EQ(result.exit_code, 5) << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("\"stage\":\"sandbox-setup\""), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("pivot_root"), std::string::npos) << result.err;
}

// The sandbox is built but the main process cannot be set up: the child's
// close_range(CLOSE_RANGE_CLOEXEC) before exec is refused.
TEST(Startup, AProcessThatCannotBeSetUpExitsWith5) {
  auto options = sh("echo must-not-run");
  options.before_exec = [] { return refuse_syscall(SYS_close_range, 2, CLOSE_RANGE_CLOEXEC); };
  auto result = run(options);
  EXPECT_EQ(result.exit_code, 5) << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("\"stage\":\"sandbox-setup\""), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("close_range"), std::string::npos) << result.err;
}

// Start-up ends with the supervisor restricting itself (self_restrict.h);
// the sandbox's own filter is loaded with prctl, the supervisor's with
// seccomp(2), so refusing seccomp(SECCOMP_SET_MODE_FILTER) fails only the
// supervisor's step (the policy compiler may still ask what the kernel offers).
TEST(Startup, ASupervisorThatCannotRestrictItselfExitsWith6) {
  auto options = sh("sleep 30");
  options.before_exec = [] { return refuse_syscall(SYS_seccomp, 0, SECCOMP_SET_MODE_FILTER); };
  auto result = run(options);
  EXPECT_EQ(result.exit_code, 6) << result.err;
  EXPECT_NE(result.err.find("\"stage\":\"event-loop\""), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("seccomp"), std::string::npos) << result.err;
}

// The policy's own keys, and the identity from the environment, reach the
// processes of a running sandbox (each against the default as control).
TEST(Policy, SeccompCapabilitiesLimitsAndEnvironmentKeysTakeEffect) {
  std::string dir = make_temp_dir();
  ::chmod(dir.c_str(), 0755);
  std::string policy = dir + "/policy.yaml";
  write_file(policy,
             "version: 1\n"
             "filesystem_policy: {include_workdir: true, read_only: [/usr, /proc, /etc],\n"
             "                    read_write: [/tmp, /dev/null]}\n"
             "capabilities: {unsafe_keep: [CAP_NET_BIND_SERVICE]}\n"
             "seccomp: {deny: [uname]}\n"
             "limits: {nofile: 123}\n"
             "environment: {POLICY_VAR: from-policy}\n");
  const std::string script =
      "echo nofile=$(ulimit -n); echo var=${POLICY_VAR:-unset}; grep CapBnd /proc/self/status; "
      "uname >/dev/null 2>&1 && echo uname=ok || echo uname=denied";
  auto with = run(supervisor({"--policy", policy, "--", "/bin/sh", "-c", script}));
  auto without = run(supervisor({"--", "/bin/sh", "-c", script}));
  remove_tree(dir);
  ASSERT_EQ(with.exit_code, 0) << with.err;
  ASSERT_EQ(without.exit_code, 0) << without.err;
  EXPECT_NE(with.out.find("nofile=123\n"), std::string::npos) << with.out;
  EXPECT_EQ(without.out.find("nofile=123\n"), std::string::npos) << without.out;
  EXPECT_NE(with.out.find("var=from-policy\n"), std::string::npos) << with.out;
  EXPECT_NE(without.out.find("var=unset\n"), std::string::npos) << without.out;
  // CAP_NET_BIND_SERVICE is bit 10.
  EXPECT_NE(with.out.find("CapBnd:\t0000000000000400\n"), std::string::npos) << with.out;
  EXPECT_NE(without.out.find("CapBnd:\t0000000000000000\n"), std::string::npos) << without.out;
  EXPECT_NE(with.out.find("uname=denied\n"), std::string::npos) << with.out;
  EXPECT_NE(without.out.find("uname=ok\n"), std::string::npos) << without.out;
}

TEST(Identity, SandboxUidAndGidFromTheEnvironmentTakeEffect) {
  auto result = run(sh("echo $(id -u):$(id -g)",
                       {{"OPENSHELL_SANDBOX_UID", "1234"}, {"OPENSHELL_SANDBOX_GID", "2345"}}));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "1234:2345\n");
  EXPECT_EQ(run(sh("echo $(id -u):$(id -g)")).out, "1000:1000\n");
}

TEST(Startup, DiagnosisGoesToTheTerminationLog) {
  // A private /dev holding only null and termination-log, as Kubernetes
  // provides the file.
  std::string dev = make_temp_dir();
  write_file(dev + "/termination-log", "");
  ASSERT_EQ(::mknod((dev + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  auto options =
      supervisor({}, {{"OPENSHELL_MAIN_PROCESS_SPEC", R"({"version":3,"command":["x"]})"}});
  options.before_exec = [dev] {
    return ::unshare(CLONE_NEWNS) == 0 &&
           ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
           ::mount(dev.c_str(), "/dev", nullptr, MS_BIND, nullptr) == 0;
  };
  auto result = run(options);
  EXPECT_EQ(result.exit_code, 2);
  std::string message = read_file(dev + "/termination-log");
  EXPECT_NE(message.find("input"), std::string::npos) << message;
  EXPECT_NE(message.find("unsupported version 3"), std::string::npos) << message;
  remove_tree(dev);
}

TEST(Logs, StderrIsOneJsonObjectPerLineAndStdoutOnlyTheMainProcess) {
  auto result = run(sh("echo only-this", {{"OPENSHELL_LOG_LEVEL", "debug"}}));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "only-this\n");
  std::istringstream lines(result.err);
  std::string line;
  int records = 0;
  while (std::getline(lines, line)) {
    boost::json::error_code ec;
    boost::json::value record = boost::json::parse(line, ec);
    ASSERT_TRUE(!ec && record.is_object()) << line;
    for (const char* key : {"time", "level", "message"}) {
      EXPECT_TRUE(record.as_object().contains(key)) << key << " missing in " << line;
    }
    ++records;
  }
  EXPECT_GE(records, 2) << "debug level logs the start and the exit of the main process";
}

TEST(Logs, LevelFiltersRecords) {
  auto result = run(sh("true", {{"OPENSHELL_LOG_LEVEL", "error"}}));
  EXPECT_EQ(result.err, "");
  result = run(sh("true", {{"OPENSHELL_LOG_LEVEL", "loud"}}));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("OPENSHELL_LOG_LEVEL=loud"), std::string::npos);
}

TEST(Signals, AreForwardedToTheMainProcessGroup) {
  // The trap runs in the main process; the child shell in the same group
  // proves delivery to the group, not just the leader.
  Running running(sh(R"(
      for s in HUP QUIT USR1 USR2 WINCH INT; do trap "echo main-$s" $s; done
      sh -c 'trap "" HUP QUIT USR2 WINCH; trap "echo child-USR1" USR1; echo child-ready; while :; do sleep 0.05; done' &
      echo ready
      while :; do sleep 0.05; done)"));
  ASSERT_TRUE(running.read_until("child-ready", 10s));
  ASSERT_TRUE(running.read_until("ready", 10s));
  for (auto [signo, name] : {std::pair{SIGHUP, "HUP"},
                             {SIGQUIT, "QUIT"},
                             {SIGUSR1, "USR1"},
                             {SIGUSR2, "USR2"},
                             {SIGWINCH, "WINCH"}}) {
    running.signal(signo);
    EXPECT_TRUE(running.read_until(std::string("main-") + name, 10s))
        << name << ": " << running.out();
  }
  EXPECT_TRUE(running.read_until("child-USR1", 10s)) << running.out();
  running.signal(SIGKILL);
}

TEST(Signals, TermLetsTheMainProcessExitOnItsOwn) {
  Running running(sh("trap 'echo bye; exit 42' TERM; echo ready; while :; do sleep 0.05; done"));
  ASSERT_TRUE(running.read_until("ready", 10s));
  running.signal(SIGTERM);
  auto result = running.wait(10s);
  EXPECT_EQ(result.exit_code, 42) << result.err;
  EXPECT_NE(result.out.find("bye"), std::string::npos);
}

TEST(Signals, AfterTheGracePeriodEverythingIsKilled) {
  auto options = sh("trap '' TERM INT; echo ready; while :; do sleep 0.05; done",
                    {{"OPENSHELL_SHUTDOWN_GRACE_SECS", "1"}});
  Running running(options);
  ASSERT_TRUE(running.read_until("ready", 10s));
  auto start = std::chrono::steady_clock::now();
  running.signal(SIGTERM);
  auto result = running.wait(8s);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result.timed_out) << "the supervisor must exit after the grace period";
  EXPECT_EQ(result.exit_code, 128 + SIGKILL);
  EXPECT_GE(elapsed, 900ms) << "the grace period was not honoured";
}

TEST(Reaping, AThousandOrphansLeaveNoZombie) {
  Running running(sh(R"(
      i=0
      while [ $i -lt 1000 ]; do (sh -c 'exit 0' &); i=$((i+1)); done
      echo spawned
      while :; do sleep 0.1; done)"));
  ASSERT_TRUE(running.read_until("spawned", 300s)) << running.out();
  int zombies = -1;
  for (int attempt = 0; attempt < 100; ++attempt) {
    zombies = count_zombies(descendants(running.pid()));
    if (zombies == 0) break;
    ::usleep(100'000);
  }
  EXPECT_EQ(zombies, 0);
  running.signal(SIGKILL);
}

TEST(Sandbox, MainProcessRunsInANewPidNamespaceUnderTheSandboxInit) {
  auto result = run(sh("echo $$; cat /proc/1/comm 2>/dev/null || true"));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out.substr(0, result.out.find('\n')), "2") << result.out;
}

// Every process on the machine (not only the test's descendants) whose
// command line holds `token`.
std::vector<pid_t> processes_with_argument(const std::string& token) {
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_file(entry.path().string() + "/cmdline");
    std::string stat = read_file(entry.path().string() + "/stat");
    auto close = stat.rfind(')');
    bool zombie = close != std::string::npos && stat.size() > close + 2 && stat[close + 2] == 'Z';
    if (!zombie && cmdline.find(token) != std::string::npos) found.push_back(std::stoi(name));
  }
  return found;
}

TEST(Teardown, NoProcessOfTheSandboxSurvivesTheMainProcess) {
  // Background processes that would outlive the main process if the sandbox
  // were not torn down; one even leaves the main process's group. The
  // supervisor runs in the test's own PID namespace, not as PID 1 of a new
  // one: were the supervisor PID 1, the kernel would kill everything of its
  // namespace when it exits, and a sandbox that was never torn down would go
  // unnoticed. Observed from here, outside every namespace of the sandbox.
  std::string token = std::to_string(40000 + ::getpid() % 20000);
  auto options = sh("sleep " + token + "1 & setsid sleep " + token + "2 & echo started");
  options.new_pid_namespace = false;
  auto result = run(options);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "started\n");
  auto survivors = processes_with_argument("sleep\0" + token);
  EXPECT_TRUE(survivors.empty()) << survivors.size() << " sandbox processes outlived the supervisor";
  for (pid_t pid : survivors) ::kill(pid, SIGKILL);
}

// Direct children of `parent` and how many of them are zombies.
std::pair<int, int> children_and_zombies(pid_t parent) {
  int children = 0, zombies = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = read_file(entry.path().string() + "/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != parent) continue;
    ++children;
    if (state == 'Z') ++zombies;
  }
  return {children, zombies};
}

TEST(Reaping, OrphansOfTheSupervisorsOwnNamespaceAreReaped) {
  // What `kubectl exec` starts runs in the supervisor's PID namespace, not
  // the sandbox's: its orphans are re-parented to the supervisor itself
  // (PID 1 there), which must reap them as any init does.
  Running running(sh("echo ready; exec sleep 600"));
  ASSERT_TRUE(running.read_until("ready", 10s)) << running.out();
  auto before = children_and_zombies(running.pid());
  // Each subshell exits at once and its background child is orphaned and
  // re-parented to the namespace's PID 1; the orphans wait on a FIFO, so
  // they are all alive when counted and all exit when the test says so.
  std::string dir = make_temp_dir();
  std::string fifo = dir + "/release";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto entered = run(Options{
      .argv = {"/usr/bin/nsenter", "-t", std::to_string(running.pid()), "-p", "--", "/bin/sh",
               "-c", "i=0; while [ $i -lt 50 ]; do (sh -c 'cat " + fifo +
                         " >/dev/null' &); i=$((i+1)); done"},
      .new_pid_namespace = false});
  ASSERT_EQ(entered.exit_code, 0) << entered.err;
  auto adopted = children_and_zombies(running.pid());
  EXPECT_EQ(adopted.first, before.first + 50) << "the orphans were not re-parented to the supervisor";
  // Opening the FIFO for writing releases every reader; closing it gives
  // them EOF: they exit and must be reaped.
  int release = ::open(fifo.c_str(), O_WRONLY);
  ASSERT_GE(release, 0);
  ::close(release);
  std::pair<int, int> now;
  for (int attempt = 0; attempt < 200; ++attempt) {
    now = children_and_zombies(running.pid());
    if (now.first <= before.first && now.second == 0) break;
    ::usleep(50'000);
  }
  remove_tree(dir);
  EXPECT_EQ(now.second, 0) << "orphans left as zombies under the supervisor";
  EXPECT_LE(now.first, before.first);
  running.signal(SIGKILL);
}

}  // namespace
}  // namespace openshell::test
