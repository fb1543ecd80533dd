// The supervisor's own hardening, observed from outside: standard
// descriptors, the sandbox's death with the supervisor, signals sent during
// start-up, the supervisor's capabilities and seccomp filter, and stdio
// that the main process cannot share. Every test runs the real binary.
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "harness.h"

namespace openshell::test {
namespace {

using namespace std::chrono_literals;

// The sandbox's workdir: made by the test, not assumed on the machine.
class Workdir : public ::testing::Environment {
 public:
  void SetUp() override {
    path = "/var/tmp/openshell-hardening-XXXXXX";
    if (::mkdtemp(path.data()) == nullptr || ::chmod(path.c_str(), 0755) != 0) {
      throw std::runtime_error("mkdtemp " + path);
    }
  }
  void TearDown() override { remove_tree(path); }
  std::string path;
};
Workdir* const workdir =
    static_cast<Workdir*>(::testing::AddGlobalTestEnvironment(new Workdir));

Options sh(const std::string& script, std::map<std::string, std::string> env = {}) {
  env.try_emplace("OPENSHELL_WORKDIR", workdir->path);
  return supervisor({"--", "/bin/sh", "-c", script}, std::move(env));
}

std::string link_of(const std::string& path) {
  char buffer[4096];
  ssize_t n = ::readlink(path.c_str(), buffer, sizeof buffer);
  return n < 0 ? "" : std::string(buffer, static_cast<size_t>(n));
}

// A process that no longer runs: gone, or a zombie nobody reaped yet.
bool ended(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return true;
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

// One field of /proc/<pid>/status ("CapEff", "Seccomp", ...).
std::string status_field(pid_t pid, const std::string& name) {
  std::istringstream lines(read_file("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(name + ":")) {
      auto value = line.substr(name.size() + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  }
  return "<no " + name + ">";
}

// --- Standard descriptors --------------------------------------------------

// Started with fd 0 closed, the supervisor's first open would be the control
// socket to the sandbox init, which pipes mode then hands to the main
// process as its stdin; /dev/null must take the place instead.
TEST(StandardDescriptors, AClosedStdinIsDevNullNotTheControlSocket) {
  auto options = sh("readlink /proc/self/fd/0");
  options.before_exec = [] { return ::close(0) == 0; };
  auto result = run(options);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "/dev/null\n") << result.err;
}

// --- Parent death ----------------------------------------------------------

// The supervisor is not PID 1 here, so its death does not end the sandbox
// by PID-namespace teardown; the test also holds duplicates of every socket
// of the supervisor, so the init does not see its control socket close.
// Only the init's parent-death signal, re-armed after its credential
// change, can end the sandbox.
TEST(ParentDeath, KillingTheSupervisorEndsEveryProcessOfTheSandbox) {
  auto options = sh("echo started; exec sleep 1000");
  options.new_pid_namespace = false;
  Running supervisor(options);
  ASSERT_TRUE(supervisor.read_until("started", 20s)) << supervisor.out();

  std::vector<pid_t> sandbox;
  for (pid_t pid : descendants(supervisor.pid())) sandbox.push_back(pid);
  ASSERT_GE(sandbox.size(), 2u) << "the sandbox init and the main process";

  std::vector<int> held;
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, supervisor.pid(), 0));
  ASSERT_GE(pidfd, 0) << std::strerror(errno);
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(supervisor.pid()) + "/fd")) {
    if (!link_of(entry.path()).starts_with("socket:")) continue;
    int target = std::atoi(entry.path().filename().c_str());
    int fd = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, target, 0));
    if (fd >= 0) held.push_back(fd);
  }
  ::close(pidfd);
  ASSERT_FALSE(held.empty()) << "no socket of the supervisor could be held";

  supervisor.signal(SIGKILL);
  supervisor.wait(10s);
  std::this_thread::sleep_for(1s);
  std::vector<pid_t> alive;
  for (pid_t pid : sandbox) {
    if (!ended(pid)) alive.push_back(pid);
  }
  for (pid_t pid : alive) ::kill(pid, SIGKILL);  // leave nothing behind
  for (int fd : held) ::close(fd);
  EXPECT_TRUE(alive.empty()) << alive.size() << " sandbox processes outlived the supervisor by 1 s";
}

// --- Signals during start-up -----------------------------------------------

// PID 1 of a PID namespace drops a signal from outside when its disposition
// is the default (pid_namespaces(7)); until the loop's handlers exist the
// supervisor keeps SIGTERM blocked so it stays pending. The test sends the
// signal as soon as the supervisor's image runs with SIGTERM blocked, long
// before the sandbox is built and the handlers installed; a supervisor that
// installs its handlers without ever having blocked SIGTERM fails here.
TEST(Signals, ATermSentRightAfterExecIsHonoured) {
  Running supervisor(sh("exec sleep 1000"));
  std::string binary = std::filesystem::canonical(supervisor_binary());
  std::string exe = "/proc/" + std::to_string(supervisor.pid()) + "/exe";
  auto has_term = [](const std::string& mask) {
    return !mask.empty() && (std::stoull(mask, nullptr, 16) >> (SIGTERM - 1)) & 1;
  };
  bool blocked = false, caught = false;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!blocked && !caught && std::chrono::steady_clock::now() < deadline) {
    if (link_of(exe) != binary) continue;
    blocked = has_term(status_field(supervisor.pid(), "SigBlk"));
    caught = has_term(status_field(supervisor.pid(), "SigCgt"));
  }
  ASSERT_TRUE(blocked) << (caught ? "the handlers were installed while SIGTERM was never blocked"
                                  : "the supervisor never ran");
  supervisor.signal(SIGTERM);
  auto result = supervisor.wait(20s);
  ASSERT_FALSE(result.timed_out) << "SIGTERM was lost: " << result.err;
  EXPECT_EQ(result.exit_code, 128 + SIGTERM) << result.err;
}

// An ignored signal stays ignored across execve (signal(7)), and the init's
// children inherit the supervisor's handlers until they reset them: a
// process in the sandbox must start with every disposition at its default
// and nothing blocked, whatever the supervisor's own parent left.
TEST(Signals, SandboxProcessesStartWithDefaultDispositions) {
  Options options = sh("exec grep -E '^Sig(Blk|Ign):' /proc/self/status");
  options.before_exec = [] {
    return ::signal(SIGHUP, SIG_IGN) != SIG_ERR && ::signal(SIGUSR2, SIG_IGN) != SIG_ERR;
  };
  auto result = run(options);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

// --- The supervisor restricts itself -----------------------------------------

// Waits until the supervisor has installed its own filter, then reads what
// it kept (proc(5): CapEff, CapBnd, NoNewPrivs, Seccomp of the supervisor,
// from outside).
void expect_restricted(const std::map<std::string, std::string>& env, const std::string& caps) {
  Running supervisor(sh("echo started; exec sleep 1000", env));
  ASSERT_TRUE(supervisor.read_until("started", 20s)) << supervisor.out();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (status_field(supervisor.pid(), "Seccomp") != "2" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(status_field(supervisor.pid(), "Seccomp"), "2") << "no seccomp filter";
  EXPECT_EQ(status_field(supervisor.pid(), "NoNewPrivs"), "1");
  EXPECT_EQ(status_field(supervisor.pid(), "CapEff"), caps);
  EXPECT_EQ(status_field(supervisor.pid(), "CapPrm"), caps);
  EXPECT_EQ(status_field(supervisor.pid(), "CapBnd"), caps);
  EXPECT_EQ(status_field(supervisor.pid(), "CapInh"), "0000000000000000");
  EXPECT_EQ(status_field(supervisor.pid(), "CapAmb"), "0000000000000000");
  supervisor.signal(SIGTERM);
  auto result = supervisor.wait(20s);
  EXPECT_EQ(result.exit_code, 128 + SIGTERM) << "still serves its PID-1 duties: " << result.err;
  EXPECT_NE(result.err.find("\"message\":\"supervisor restricted\""), std::string::npos)
      << "the start-up log says so: " << result.err;
}

std::string policy_with_network(const std::string& mode) {
  std::string policy = workdir->path + "/policy-" + mode + ".yaml";
  write_file(policy,
             "version: 1\n"
             "filesystem_policy: {include_workdir: true, read_only: [/usr, /etc, /bin, /lib, "
             "/lib64, /proc], read_write: [/tmp, /dev/null]}\n"
             "network: {mode: " + mode + "}\n");
  return policy;
}

// CAP_DAC_READ_SEARCH (bit 2), CAP_KILL (5), CAP_NET_BIND_SERVICE (10).
TEST(SelfRestriction, WithThePodsNetworkTheSupervisorKeepsThreeCapabilitiesAndAFilter) {
  expect_restricted(
      {{"OPENSHELL_LOG_LEVEL", "info"}, {"OPENSHELL_POLICY_FILE", policy_with_network("pod")}},
      "0000000000000424");
}

// A network namespace of its own (none, and proxy, the default) adds
// CAP_SYS_ADMIN (21) for setns there.
TEST(SelfRestriction, WithASeparateNetworkTheSupervisorAlsoKeepsSysAdmin) {
  expect_restricted(
      {{"OPENSHELL_LOG_LEVEL", "info"}, {"OPENSHELL_POLICY_FILE", policy_with_network("none")}},
      "0000000000200424");
  expect_restricted({{"OPENSHELL_LOG_LEVEL", "info"}}, "0000000000200424");
}

TEST(SelfRestriction, CheckReportsIt) {
  auto result = run(supervisor({"check"}, {{"OPENSHELL_WORKDIR", workdir->path}}));
  EXPECT_NE(result.out.find("supervisor     enforced after start-up (keeps "
                            "cap_kill,cap_dac_read_search,cap_net_bind_service,cap_sys_admin; "
                            "seccomp filter"),
            std::string::npos)
      << result.out << result.err;
}

// --- Stdio in pipes mode ------------------------------------------------------

int fd_flags(pid_t pid, int fd) {
  std::istringstream lines(read_file("/proc/" + std::to_string(pid) + "/fdinfo/" +
                                     std::to_string(fd)));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("flags:")) return static_cast<int>(std::stol(line.substr(6), nullptr, 8));
  }
  return -1;
}

// The main process sets O_NONBLOCK on its stdout and stderr. Had it the
// supervisor's open file descriptions, the flag would be the supervisor's
// too (fcntl(2): file status flags belong to the description), and its
// own writes would fail with EAGAIN when the reader is slow.
TEST(Stdio, TheMainProcessCannotMakeTheSupervisorsOutputNonBlocking) {
  Running supervisor(sh("python3 -c 'import fcntl, os\n"
                        "for fd in (1, 2):\n"
                        "    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | "
                        "os.O_NONBLOCK)\n"
                        "print(\"nonblocking\", flush=True)' && exec sleep 1000"));
  ASSERT_TRUE(supervisor.read_until("nonblocking", 20s)) << supervisor.out();
  for (int fd : {1, 2}) {
    int flags = fd_flags(supervisor.pid(), fd);
    ASSERT_GE(flags, 0);
    EXPECT_EQ(flags & O_NONBLOCK, 0) << "the supervisor's fd " << fd << " became non-blocking";
  }
  supervisor.signal(SIGTERM);
  supervisor.wait(20s);
}

// Through the relay, output arrives unchanged, every byte, in order.
TEST(Stdio, PipesModeRelaysLargeOutputByteForByte) {
  std::string expected;
  for (int i = 1; i <= 200000; ++i) expected += std::to_string(i) + "\n";
  auto result = run(sh("seq 1 200000; printf 'e\\001\\377' >&2"));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.size(), expected.size());
  EXPECT_TRUE(result.out == expected) << "stdout differs";
  EXPECT_EQ(result.err, std::string("e\001\377"));
}

// --- TTY mode leaves the caller's terminal as found ---------------------------

// The caller's terminal is a pty here; the supervisor gets the test's own
// open file description of its slave as stdin and stdout, so whatever
// flags or modes it leaves behind the test sees.
TEST(Stdio, TtyModeLeavesTheCallersTerminalAsFound) {
  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(slave, 0);
  termios before{};
  ASSERT_EQ(::tcgetattr(slave, &before), 0);
  int flags_before = ::fcntl(slave, F_GETFL);

  auto options = sh("", {{"OPENSHELL_MAIN_PROCESS_SPEC",
                          R"({"version":1,"command":["/bin/sh","-c","sleep 0.3; echo done"],)"
                          R"("tty":true})"}});
  options.argv.resize(1);  // the spec, not a trailing command
  options.before_exec = [slave] { return ::dup2(slave, 0) == 0 && ::dup2(slave, 1) == 1; };
  Running supervisor(options);
  // Keep the terminal's output flowing while the supervisor runs.
  std::string seen;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (seen.find("done") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char buffer[4096];
      ssize_t n = ::read(master, buffer, sizeof buffer);
      if (n > 0) seen.append(buffer, static_cast<size_t>(n));
    }
  }
  auto result = supervisor.wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(seen.find("done"), std::string::npos) << seen;

  int flags_after = ::fcntl(slave, F_GETFL);
  EXPECT_EQ(flags_after & O_NONBLOCK, flags_before & O_NONBLOCK) << "left O_NONBLOCK";
  termios after{};
  ASSERT_EQ(::tcgetattr(slave, &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag) << "terminal modes not restored";
  EXPECT_EQ(after.c_iflag, before.c_iflag);
  EXPECT_EQ(after.c_oflag, before.c_oflag);
  ::close(slave);
  ::close(master);
}

}  // namespace
}  // namespace openshell::test
